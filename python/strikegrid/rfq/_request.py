"""``Request``: what the taker sends to dealers."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import InputError
from ..package import Package
from ._valuation import LegTable

__all__ = ["SIDES", "Request"]

#: Request sides: the taker buys the package as described (pays the dealers' ask), sells it
#: (hits their bid), or asks for a two-way price without disclosing a side.
SIDES = ("buy", "sell", "two-way")


@dataclass(frozen=True)
class Request:
    """A request for quote for a whole package.

    Attributes:
        package: any :class:`~strikegrid.Package` (options and underlying legs; a buy-write is
            ``strategies.covered_call``). Prices are per unit: ``sum(qty * price)`` over the
            legs, option legs at their premium and underlying legs at their price per share
            (so a buy-write's net price is about ``spot - call``); positive = the buyer pays.
        size: number of packages (> 0); every money figure scales by ``multiplier * size``.
        side: "buy" (the taker takes the legs as described), "sell" (the opposite legs) or
            "two-way" (side undisclosed).
        ttl: seconds the request stays open; answers arriving later are ignored.
    """

    package: Package
    size: float
    side: str = "two-way"
    ttl: float = 5.0
    _table: LegTable = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.package, Package):
            raise InputError(
                f"package: must be a strikegrid Package, got {type(self.package).__name__}",
                arg="package",
            )
        size = _positive(self.size, "size")
        side = self.side.lower() if isinstance(self.side, str) else self.side
        if side not in SIDES:
            raise InputError(f"side: must be one of {SIDES}, got {self.side!r}", arg="side")
        object.__setattr__(self, "size", size)
        object.__setattr__(self, "side", side)
        object.__setattr__(self, "ttl", _positive(self.ttl, "ttl"))
        object.__setattr__(self, "_table", LegTable(self.package))

    @property
    def multiplier(self) -> float:
        return self.package.multiplier


def _positive(x: Any, name: str) -> float:
    if isinstance(x, bool):
        raise InputError(f"{name}: must be a positive number, got {x!r}", arg=name)
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise InputError(f"{name}: must be a positive number, got {x!r}", arg=name) from None
    if not (math.isfinite(v) and v > 0.0):
        raise InputError(f"{name}: must be a positive finite number, got {x!r}", arg=name)
    return v

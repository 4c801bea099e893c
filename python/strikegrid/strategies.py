"""Builders of common option strategies: each returns a :class:`~strikegrid.Package`.

Quantities count contracts (``qty=1`` by default, positive); the builder decides which legs are
bought and sold. Where shares are involved (covered call, collar) the underlying leg's quantity
counts contracts' worth of shares (``qty=1`` = ``multiplier`` shares) and ``price`` is their
entry price per share. Expiries are year fractions or date-likes, as for :class:`Leg`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .exceptions import InputError
from .package import Leg, Package, _expiry_key, _is_number

__all__ = [
    "bear_call_spread",
    "bull_put_spread",
    "calendar",
    "cash_secured_put",
    "collar",
    "covered_call",
    "diagonal",
    "iron_condor",
    "roll",
    "short_strangle",
    "straddle",
]


def _qty(qty: float) -> float:
    q = float(qty)
    if not q > 0:
        raise InputError(f"qty: must be a positive number of contracts, got {qty!r}", arg="qty")
    return q


def _side(side: str) -> float:
    if side == "long":
        return 1.0
    if side == "short":
        return -1.0
    raise InputError(f"side: must be 'long' or 'short', got {side!r}", arg="side")


def _ordered(names: tuple[str, ...], values: tuple[float, ...], strict: bool = True) -> None:
    for (a, x), (b, y) in zip(zip(names, values), zip(names[1:], values[1:])):
        if (x >= y) if strict else (x > y):
            rel = "below" if strict else "at or below"
            raise InputError(f"{a}: must be {rel} {b} ({x:g} vs {y:g})", arg=a)


def covered_call(
    strike: float,
    expiry: Any,
    *,
    price: float,
    qty: float = 1,
    multiplier: float = 100.0,
) -> Package:
    """Long ``qty`` contracts' worth of shares at ``price``, short ``qty`` calls at ``strike``."""
    q = _qty(qty)
    legs = [Leg.underlying(q, price=price), Leg.call(strike, expiry, -q)]
    return Package(legs, multiplier, "covered_call")


def cash_secured_put(
    strike: float, expiry: Any, *, qty: float = 1, multiplier: float = 100.0
) -> Package:
    """Short ``qty`` puts at ``strike`` (the cash to buy the shares held as collateral)."""
    return Package([Leg.put(strike, expiry, -_qty(qty))], multiplier, "cash_secured_put")


def bull_put_spread(
    short_strike: float,
    long_strike: float,
    expiry: Any,
    *,
    qty: float = 1,
    multiplier: float = 100.0,
) -> Package:
    """Credit put spread: short the higher-strike put, long the lower-strike put."""
    _ordered(("long_strike", "short_strike"), (long_strike, short_strike))
    q = _qty(qty)
    legs = [Leg.put(short_strike, expiry, -q), Leg.put(long_strike, expiry, q)]
    return Package(legs, multiplier, "bull_put_spread")


def bear_call_spread(
    short_strike: float,
    long_strike: float,
    expiry: Any,
    *,
    qty: float = 1,
    multiplier: float = 100.0,
) -> Package:
    """Credit call spread: short the lower-strike call, long the higher-strike call."""
    _ordered(("short_strike", "long_strike"), (short_strike, long_strike))
    q = _qty(qty)
    legs = [Leg.call(short_strike, expiry, -q), Leg.call(long_strike, expiry, q)]
    return Package(legs, multiplier, "bear_call_spread")


def iron_condor(
    put_long: float,
    put_short: float,
    call_short: float,
    call_long: float,
    expiry: Any,
    *,
    qty: float = 1,
    multiplier: float = 100.0,
) -> Package:
    """Bull put spread plus bear call spread: long ``put_long`` < short ``put_short`` <=
    short ``call_short`` < long ``call_long`` (equal short strikes make an iron butterfly)."""
    _ordered(("put_long", "put_short"), (put_long, put_short))
    _ordered(("put_short", "call_short"), (put_short, call_short), strict=False)
    _ordered(("call_short", "call_long"), (call_short, call_long))
    q = _qty(qty)
    legs = [
        Leg.put(put_long, expiry, q),
        Leg.put(put_short, expiry, -q),
        Leg.call(call_short, expiry, -q),
        Leg.call(call_long, expiry, q),
    ]
    return Package(legs, multiplier, "iron_condor")


def collar(
    put_strike: float,
    call_strike: float,
    expiry: Any,
    *,
    price: float,
    qty: float = 1,
    multiplier: float = 100.0,
) -> Package:
    """Long shares at ``price``, long a put at ``put_strike``, short a call at ``call_strike``."""
    _ordered(("put_strike", "call_strike"), (put_strike, call_strike), strict=False)
    q = _qty(qty)
    legs = [
        Leg.underlying(q, price=price),
        Leg.put(put_strike, expiry, q),
        Leg.call(call_strike, expiry, -q),
    ]
    return Package(legs, multiplier, "collar")


def short_strangle(
    put_strike: float,
    call_strike: float,
    expiry: Any,
    *,
    qty: float = 1,
    multiplier: float = 100.0,
) -> Package:
    """Short a put at ``put_strike`` and a call at ``call_strike`` (put_strike <= call_strike)."""
    _ordered(("put_strike", "call_strike"), (put_strike, call_strike), strict=False)
    q = _qty(qty)
    legs = [Leg.put(put_strike, expiry, -q), Leg.call(call_strike, expiry, -q)]
    return Package(legs, multiplier, "short_strangle")


def straddle(
    strike: float,
    expiry: Any,
    *,
    qty: float = 1,
    side: str = "long",
    multiplier: float = 100.0,
) -> Package:
    """A call and a put at the same strike, bought (``side="long"``) or sold (``"short"``)."""
    q = _qty(qty) * _side(side)
    legs = [Leg.put(strike, expiry, q), Leg.call(strike, expiry, q)]
    return Package(legs, multiplier, f"{side}_straddle")


def _check_near_far(near: Any, far: Any) -> None:
    if _expiry_key(near) == _expiry_key(far):
        raise InputError("far_expiry: must differ from near_expiry", arg="far_expiry")
    if _is_number(near) and _is_number(far) and float(near) > float(far):
        raise InputError("near_expiry: must come before far_expiry", arg="near_expiry")


def calendar(
    strike: float,
    near_expiry: Any,
    far_expiry: Any,
    *,
    kind: str = "call",
    qty: float = 1,
    side: str = "long",
    multiplier: float = 100.0,
) -> Package:
    """Long calendar: sell the near expiry, buy the far one, same strike and kind (``side=
    "short"`` reverses both legs)."""
    return diagonal(
        strike,
        strike,
        near_expiry,
        far_expiry,
        kind=kind,
        qty=qty,
        side=side,
        multiplier=multiplier,
        name="calendar",
    )


def diagonal(
    near_strike: float,
    far_strike: float,
    near_expiry: Any,
    far_expiry: Any,
    *,
    kind: str = "call",
    qty: float = 1,
    side: str = "long",
    multiplier: float = 100.0,
    name: str = "diagonal",
) -> Package:
    """Long diagonal: sell ``kind`` at ``near_strike`` / ``near_expiry``, buy it at
    ``far_strike`` / ``far_expiry`` (``side="short"`` reverses both legs)."""
    if kind not in ("call", "put"):
        raise InputError(f"kind: must be 'call' or 'put', got {kind!r}", arg="kind")
    _check_near_far(near_expiry, far_expiry)
    q = _qty(qty) * _side(side)
    legs = [
        Leg(kind, near_strike, near_expiry, -q),
        Leg(kind, far_strike, far_expiry, q),
    ]
    return Package(legs, multiplier, name)


def roll(
    position: Package,
    to_expiry: Any = None,
    to_strike: float | Mapping[float, float] | None = None,
) -> Package:
    """The package that rolls ``position``: it closes every option leg (the opposite quantity)
    and opens the same legs at ``to_expiry`` and/or ``to_strike``. Underlying legs stay put.

    Args:
        position: the package held.
        to_expiry: the new expiry of every option leg (None keeps each leg's).
        to_strike: the new strike: a number when every option leg has the same strike, or a
            mapping from old strike to new (strikes not in it are kept); None keeps them.
    """
    opts = position.option_legs
    if not opts:
        raise InputError("position: has no option leg to roll", arg="position")
    if to_expiry is None and to_strike is None:
        raise InputError("roll: give to_expiry and/or to_strike", arg="to_expiry")
    strikes = {leg.strike for leg in opts}
    mapping: Mapping[float, float] | None
    if to_strike is None:
        mapping = None
    elif isinstance(to_strike, Mapping):
        mapping = {float(k): float(v) for k, v in to_strike.items()}
    else:
        if len(strikes) != 1:
            raise InputError(
                "to_strike: the position has several strikes; give a mapping old -> new",
                arg="to_strike",
            )
        mapping = {float(next(iter(strikes))): float(to_strike)}  # type: ignore[arg-type]
    closing = [leg.with_qty(-leg.qty) for leg in opts]
    opening = []
    for leg in opts:
        k = leg.strike if mapping is None else mapping.get(float(leg.strike), leg.strike)  # type: ignore[arg-type]
        t = leg.expiry if to_expiry is None else to_expiry
        opening.append(Leg(leg.kind, k, t, leg.qty, leg.exercise, symbol=leg.symbol))
    name = f"roll_{position.name}" if position.name else "roll"
    return Package(closing + opening, position.multiplier, name)

"""Dealer side: a firm two-way package price from the surface, risk charges and inventory."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from ..exceptions import InputError
from ._request import Request
from ._valuation import Marks, allocate, marks

__all__ = ["Charges", "Dealer", "DealerParams", "Inventory", "Quote"]


@dataclass(frozen=True)
class DealerParams:
    """How a dealer prices risk (per-unit amounts are per share, like option premiums).

    Half-spread, per unit: ``max(min_half_spread, size_factor * (vega + gamma + pin) + costs)``

    * vega: ``vol_uncertainty * |net vega| + smile_uncertainty * sum |qty * leg vega|`` (how far
      the dealer's vol mark may be off, for the whole smile and per strike/expiry);
    * gamma: ``0.5 * S^2 * hedge_interval * |sum qty * gamma * vol^2|``, the expected gamma
      P&L given up between delta re-hedges;
    * pin: the same per leg, gross, ``pin_multiple`` times, for legs expiring within
      ``pin_window`` years (near expiry the strikes' gammas stop offsetting);
    * size_factor: ``1 + size_impact * sqrt(size / typical_size)``;
    * costs: ``cost_per_contract * option contracts / multiplier + cost_per_share * shares``
      per unit (clearing, exchange and hedge costs).

    Inventory skew moves the centre: the dealer marks vol down by ``skew_vol`` and the spot
    down by ``skew_spot * S`` when long its full ``vega_limit`` / ``delta_limit`` (up when
    short; in proportion in between, capped at the limit), i.e. ``skew = vega * dvol +
    delta * dS``; the skew is capped at ``max_skew`` half-spreads so the quote still brackets
    fair value. Prices are rounded away from the centre to ``tick``, then held inside the
    package's no-arbitrage bounds.

    Declines: ``size > max_size``, trade vega ``|vega per vol point * multiplier * size| >
    max_vega``, more than ``max_legs`` legs; in an auction, also with probability
    ``decline_prob`` (drawn from the auction's seeded generator).

    Timing (auctions): the answer arrives ``latency_min + Exp(latency_mean)`` seconds after the
    request and stays firm for ``quote_ttl`` seconds.
    """

    vol_uncertainty: float = 0.004
    smile_uncertainty: float = 0.0005
    hedge_interval: float = 0.25 / 365.0
    pin_window: float = 7.0 / 365.0
    pin_multiple: float = 1.0
    typical_size: float = 100.0
    size_impact: float = 0.25
    cost_per_contract: float = 0.30
    cost_per_share: float = 0.002
    min_half_spread: float = 0.025
    tick: float = 0.01
    skew_vol: float = 0.005
    skew_spot: float = 0.002
    vega_limit: float = 50_000.0
    delta_limit: float = 5_000_000.0
    max_skew: float = 0.8
    max_size: float = math.inf
    max_vega: float = math.inf
    max_legs: int = 8
    decline_prob: float = 0.0
    latency_min: float = 0.05
    latency_mean: float = 0.25
    quote_ttl: float = 5.0

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v) or v < 0:
                raise InputError(f"{f.name}: must be a number >= 0, got {v!r}", arg=f.name)
        for name in ("typical_size", "vega_limit", "delta_limit", "quote_ttl"):
            if not getattr(self, name) > 0:
                raise InputError(f"{name}: must be positive", arg=name)
        if self.decline_prob > 1 or self.max_skew > 1:
            raise InputError("decline_prob and max_skew: must be within [0, 1]", arg="max_skew")


@dataclass(frozen=True)
class Inventory:
    """A dealer's existing book: money vega per vol point and money delta (+ = long)."""

    vega_1pt: float = 0.0
    delta: float = 0.0

    def __post_init__(self) -> None:
        for name in ("vega_1pt", "delta"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise InputError(f"{name}: must be a finite number, got {v!r}", arg=name)


@dataclass(frozen=True)
class Charges:
    """The pieces of a quote's half-spread and its inventory skew, per unit."""

    vega: float
    gamma: float
    pin: float
    size_factor: float
    costs: float
    skew: float


@dataclass(frozen=True)
class Quote:
    """A dealer's answer: a firm two-way price per unit, or a decline.

    ``bid`` is what the dealer pays for the package as described, ``ask`` what it sells it
    for (None when declined). ``leg_bid``/``leg_ask`` are per-leg prices with
    ``sum(qty * leg price) == price``. ``fair`` is the surface value the dealer started from.
    """

    dealer: str
    bid: float | None
    ask: float | None
    fair: float
    half_spread: float
    charges: Charges | None
    leg_bid: tuple[float, ...]
    leg_ask: tuple[float, ...]
    ttl: float
    multiplier: float
    size: float
    declined: str | None = None

    @property
    def quoted(self) -> bool:
        return self.declined is None

    def price(self, side: str) -> float | None:
        """The price a taker gets when it buys (the ask) or sells (the bid), per unit."""
        if side == "buy":
            return self.ask
        if side == "sell":
            return self.bid
        raise InputError(f"side: must be 'buy' or 'sell', got {side!r}", arg="side")

    def per_package(self, side: str) -> float | None:
        p = self.price(side)
        return None if p is None else p * self.multiplier

    def total(self, side: str) -> float | None:
        p = self.price(side)
        return None if p is None else p * self.multiplier * self.size


class Dealer:
    """A market maker quoting packages off a fitted surface.

    Args:
        surface: the dealer's :class:`~strikegrid.Surface` (fair values, greeks, the spot).
        params: :class:`DealerParams` (defaults when None).
        name: the dealer's name (auction ties are broken by it after response time).
        inventory: the dealer's existing :class:`Inventory`.
    """

    def __init__(
        self,
        surface: Any,
        params: DealerParams | None = None,
        *,
        name: str = "dealer",
        inventory: Inventory | None = None,
    ) -> None:
        self.surface = surface
        self.params = DealerParams() if params is None else params
        self.name = str(name)
        self.inventory = Inventory() if inventory is None else inventory
        if not isinstance(self.params, DealerParams):
            raise InputError("params: must be a DealerParams", arg="params")
        if not isinstance(self.inventory, Inventory):
            raise InputError("inventory: must be an Inventory", arg="inventory")

    def __repr__(self) -> str:
        return f"Dealer({self.name!r}, inventory={self.inventory})"

    def quote(self, request: Request) -> Quote:
        """A firm two-way price for ``request`` (values the legs, then :meth:`quote_marks`)."""
        if not isinstance(request, Request):
            raise InputError("request: must be an rfq.Request", arg="request")
        return self.quote_marks(request, marks(self.surface, request._table))

    def quote_marks(self, request: Request, m: Marks) -> Quote:
        """Quote from marks already computed on this dealer's surface (auctions share them)."""
        p = self.params
        size = request.size
        mult = m.multiplier
        reason = self._decline(request, m)
        if reason is not None:
            return Quote(
                self.name, None, None, m.fair, 0.0, None, (), (), p.quote_ttl, mult, size, reason
            )
        spot = m.spot
        vega = p.vol_uncertainty * abs(m.vega) + p.smile_uncertainty * m.vega_gross
        half_gamma = 0.5 * spot * spot * p.hedge_interval
        gamma = half_gamma * abs(m.gamma_var)
        pin = 0.0
        if p.pin_multiple > 0.0 and m.t_min <= p.pin_window:
            for q, t, g, s in zip(m.qty, m.t, m.leg_gamma, m.vol):
                if 0.0 < t <= p.pin_window:
                    pin += abs(q * g) * s * s
            pin *= p.pin_multiple * half_gamma
        size_factor = 1.0 + p.size_impact * math.sqrt(size / p.typical_size)
        costs = p.cost_per_contract * m.n_contracts / mult + p.cost_per_share * m.n_shares
        half = max(p.min_half_spread, size_factor * (vega + gamma + pin) + costs)
        inv = self.inventory
        dvol = -p.skew_vol * _clip(inv.vega_1pt / p.vega_limit)
        dspot = -p.skew_spot * spot * _clip(inv.delta / p.delta_limit)
        cap = p.max_skew * half
        skew = min(max(m.vega * dvol + m.delta * dspot, -cap), cap)
        centre = m.fair + skew
        bid = _inside(_round(centre - half, p.tick, down=True), m.lower, m.upper)
        ask = _inside(_round(centre + half, p.tick, down=False), m.lower, m.upper)
        charges = Charges(vega, gamma, pin, size_factor, costs, skew)
        return Quote(
            self.name,
            bid,
            ask,
            m.fair,
            half,
            charges,
            allocate(bid, m),
            allocate(ask, m),
            p.quote_ttl,
            mult,
            size,
        )

    def _decline(self, request: Request, m: Marks) -> str | None:
        p = self.params
        if request.size > p.max_size:
            return f"size {request.size:g} above the dealer's max {p.max_size:g}"
        if len(m.qty) > p.max_legs:
            return f"{len(m.qty)} legs, more than the dealer's {p.max_legs}"
        trade_vega = abs(m.vega) / 100.0 * m.multiplier * request.size
        if trade_vega > p.max_vega:
            return (
                f"trade vega {trade_vega:,.0f} per vol point above the dealer's {p.max_vega:,.0f}"
            )
        return None


def _clip(x: float) -> float:
    return min(max(x, -1.0), 1.0)


def _round(x: float, tick: float, *, down: bool) -> float:
    """Round away from the centre to a multiple of ``tick`` (no rounding when 0); the 1e-9
    keeps prices already on the grid where they are."""
    if tick <= 0.0:
        return x
    n = math.floor(x / tick + 1e-9) if down else math.ceil(x / tick - 1e-9)
    return round(n * tick, 10)


def _inside(x: float, lo: float, hi: float) -> float:
    return min(max(x, lo), hi)

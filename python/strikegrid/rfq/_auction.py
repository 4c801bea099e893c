"""Taker side: a multi-dealer auction, all-or-none at one price, against the screen."""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from ..chain import as_chain
from ..exceptions import InputError
from ._dealer import Dealer, DealerParams, Inventory, Quote
from ._request import Request
from ._valuation import _T_TOL, LegTable, Marks, marks, years

__all__ = [
    "AuctionResult",
    "Fees",
    "Improvement",
    "Response",
    "Screen",
    "ScreenLeg",
    "ScreenModel",
    "panel",
    "run_auction",
]

#: Response statuses, in the order they rank after the valid quotes.
STATUSES = ("won", "valid", "expired", "late", "declined")

Seed = int | np.random.Generator | None


@dataclass(frozen=True)
class Fees:
    """Execution fees in money.

    Legging on the screen pays ``per_contract`` on every option contract of every leg and
    ``per_share`` on every share of an underlying leg; the block pays one fee for the whole
    package, ``block_fixed + block_per_package * size``.
    """

    per_contract: float = 0.65
    per_share: float = 0.005
    block_per_package: float = 0.65
    block_fixed: float = 0.0


@dataclass(frozen=True)
class ScreenModel:
    """How much the screen shows and what trading through it costs.

    Depth at the touch per leg: the chain's ``bid_size``/``ask_size`` columns when it has
    them; otherwise (the bundled chains show no sizes) ``max(depth_floor, depth_share *
    open_interest)`` contracts. The first ``depth`` contracts fill at the bid/ask; the rest
    (``excess = contracts - depth``) pay a square-root impact, so the average fill is the touch
    worsened by ``impact * half-spread * (excess / contracts) * sqrt(excess / depth)``
    (bids never below 0). Underlying legs fill at the chain's spot (no stock quote in the
    chain; the fees still apply).
    """

    depth_share: float = 0.01
    depth_floor: float = 10.0
    impact: float = 1.0


@dataclass(frozen=True)
class ScreenLeg:
    """One leg legged on the screen, per unit; ``bid``/``ask`` NaN-free (the spot for an
    underlying leg)."""

    kind: str
    strike: float | None
    qty: float
    bid: float
    ask: float
    depth: float
    contracts: float
    touch: float
    slippage: float
    fill: float


@dataclass(frozen=True)
class Screen:
    """Legging into the screen for the execution side: per unit in package terms
    (``sum(qty * leg price)``), fees in money for the whole size."""

    touch: float
    price: float
    slippage: float
    fees: float
    legs: tuple[ScreenLeg, ...]


@dataclass(frozen=True)
class Improvement:
    """What the block saved the taker (+ = better than the alternative).

    ``vs_mid``/``vs_screen`` are per unit (price only), ``*_package`` per package (times the
    multiplier), ``*_total`` in money for the whole size; ``fee_saving = screen fees - block
    fee``; ``vs_screen_total`` includes it.
    """

    vs_mid: float
    vs_mid_package: float
    vs_mid_total: float
    vs_screen: float
    vs_screen_package: float
    vs_screen_price_total: float
    fee_saving: float
    vs_screen_total: float
    block_fee: float


@dataclass(frozen=True)
class Response:
    """One dealer's answer in an auction, with its simulated timing (seconds after the
    request) and what became of it: "won", "valid" (firm, not best), "expired" (its
    time-to-live ran out before the decision), "late" (after the request's TTL), "declined"."""

    rank: int
    quote: Quote
    received: float
    expires: float
    status: str

    @property
    def dealer(self) -> str:
        return self.quote.dealer


@dataclass(frozen=True)
class AuctionResult:
    """The outcome of :func:`run_auction`.

    ``responses`` are ranked: valid quotes best first (ties: earlier response, then dealer
    name, then position in the dealer list), then the others by response time. ``price`` is
    the single price per unit the whole ``request.size`` filled at (``filled`` is the size or
    0: never partial). ``started`` is the request's time (the chain's quote time, ISO) and
    ``decided`` the decision's offset from it in seconds.
    """

    request: Request
    side: str | None
    responses: tuple[Response, ...]
    winner: str | None
    price: float | None
    filled: float
    fair: float
    mid: float | None
    best_bid: float | None
    best_ask: float | None
    screen: Screen | None
    improvement: Improvement | None
    fees: Fees
    screen_model: ScreenModel
    seed: int | None
    started: str
    decided: float
    note: str

    @property
    def price_per_package(self) -> float | None:
        return None if self.price is None else self.price * self.request.multiplier

    @property
    def total(self) -> float | None:
        """Money paid (+) or received (-) for the package as described, whole size."""
        if self.price is None:
            return None
        return self.price * self.request.multiplier * self.filled

    def timestamp(self, seconds: float) -> str:
        """ISO time ``seconds`` after the request."""
        return (datetime.fromisoformat(self.started) + timedelta(seconds=seconds)).isoformat()


def run_auction(
    request: Request,
    dealers: Sequence[Dealer],
    *,
    chain: Any = None,
    seed: Seed = None,
    side: str | None = None,
    fees: Fees | None = None,
    screen_model: ScreenModel | None = None,
    decision_delay: float = 0.5,
) -> AuctionResult:
    """Send ``request`` to ``dealers``, collect their firm quotes and take the best in full.

    Timing comes from a clock driven by ``seed`` (an int, a numpy Generator, or None for fresh
    entropy): each dealer answers after ``latency_min + Exp(latency_mean)`` seconds and may
    decline at random with its ``decline_prob``. The taker waits until every dealer answered
    or the request's TTL ran out, then decides ``decision_delay`` seconds later; quotes whose
    own TTL ended before that are expired, answers after the request's TTL are late. The best
    remaining quote (lowest ask to buy, highest bid to sell) fills the whole size at its one
    price; ties go to the earlier response, then the dealer name, then the list position.

    ``side`` executes a two-way request ("buy"/"sell"; for a one-sided request it must match
    or be None); a two-way request without it reports the best bid and offer and fills
    nothing. ``chain`` (default: the first dealer's surface chain; a one-snapshot frame is read
    with ``Chain.from_frame``) gives the mid and the screen to compare with. Dealers sharing a
    surface share one valuation of the legs.

    Raises InputError for bad input (legs off a dealer's surface, no dealers, an unknown side)
    before anything is quoted.
    """
    if not isinstance(request, Request):
        raise InputError("request: must be an rfq.Request", arg="request")
    if chain is not None:
        chain = as_chain(chain)
    dealers = list(dealers)
    if not dealers:
        raise InputError("dealers: an auction needs at least one dealer", arg="dealers")
    for i, d in enumerate(dealers):
        if not isinstance(d, Dealer):
            raise InputError(f"dealers: item {i} is not a Dealer", arg="dealers", index=i)
    exec_side = _execution_side(request, side)
    fees = Fees() if fees is None else fees
    screen_model = ScreenModel() if screen_model is None else screen_model
    if not (math.isfinite(decision_delay) and decision_delay >= 0):
        raise InputError("decision_delay: must be >= 0 seconds", arg="decision_delay")
    table = request._table
    shared: dict[int, Marks] = {}
    for d in dealers:
        if id(d.surface) not in shared:
            shared[id(d.surface)] = marks(d.surface, table)
    chain = dealers[0].surface.chain if chain is None else chain

    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    draws = rng.random((len(dealers), 2)).tolist()
    quotes: list[Quote] = []
    received: list[float] = []
    for d, (u_lat, u_dec) in zip(dealers, draws):
        p = d.params
        received.append(p.latency_min - p.latency_mean * math.log1p(-u_lat))
        m = shared[id(d.surface)]
        if u_dec < p.decline_prob:
            quotes.append(
                Quote(
                    d.name,
                    None,
                    None,
                    m.fair,
                    0.0,
                    None,
                    (),
                    (),
                    p.quote_ttl,
                    m.multiplier,
                    request.size,
                    "no appetite (random decline)",
                )
            )
        else:
            quotes.append(d.quote_marks(request, m))
    on_time = [r for r in received if r <= request.ttl]
    waited = max(on_time) if len(on_time) == len(received) else request.ttl
    decided = waited + decision_delay

    status = []
    for q, r in zip(quotes, received):
        if not q.quoted:
            status.append("declined")
        elif r > request.ttl:
            status.append("late")
        elif r + q.ttl < decided:
            status.append("expired")
        else:
            status.append("valid")
    valid = [i for i, s in enumerate(status) if s == "valid"]

    def key(i: int) -> tuple[float, float, str, int]:
        q = quotes[i]
        assert q.bid is not None and q.ask is not None
        if exec_side == "buy":
            px = q.ask
        elif exec_side == "sell":
            px = -q.bid
        else:
            px = q.ask - q.bid
        return (px, received[i], q.dealer, i)

    ranked = sorted(valid, key=key)
    rest = sorted(
        (i for i, s in enumerate(status) if s != "valid"),
        key=lambda i: (received[i], quotes[i].dealer, i),
    )
    winner_i = ranked[0] if ranked and exec_side is not None else None
    responses = tuple(
        Response(
            rank + 1,
            quotes[i],
            received[i],
            received[i] + quotes[i].ttl,
            "won" if i == winner_i else status[i],
        )
        for rank, i in enumerate(ranked + rest)
    )
    bids = [quotes[i].bid for i in valid]
    asks = [quotes[i].ask for i in valid]
    best_bid = max(b for b in bids if b is not None) if valid else None
    best_ask = min(a for a in asks if a is not None) if valid else None

    fair = shared[id(dealers[0].surface)].fair
    notes = []
    mid = None
    screen = None
    rows, why = _chain_rows(chain, request.package, table)
    if rows is None:
        notes.append(f"no screen comparison: {why}")
    else:
        mid = _mid(chain, rows, table)
        if exec_side is not None:
            screen = legging(chain, request, exec_side, rows, fees, screen_model)
    price: float | None = None
    improvement = None
    winner = None
    filled = 0.0
    if exec_side is None:
        notes.insert(0, "two-way request without a side: best bid and offer, nothing filled")
    elif winner_i is None:
        notes.insert(0, "no valid quote: nothing filled")
    else:
        winner = quotes[winner_i].dealer
        price = quotes[winner_i].price(exec_side)
        filled = request.size
        assert price is not None
        if mid is not None and screen is not None:
            improvement = _improvement(request, exec_side, price, mid, screen, fees)
    return AuctionResult(
        request=request,
        side=exec_side,
        responses=responses,
        winner=winner,
        price=price,
        filled=filled,
        fair=fair,
        mid=mid,
        best_bid=best_bid,
        best_ask=best_ask,
        screen=screen,
        improvement=improvement,
        fees=fees,
        screen_model=screen_model,
        seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        started=chain.quote_time.isoformat(),
        decided=decided,
        note="; ".join(notes),
    )


def _execution_side(request: Request, side: str | None) -> str | None:
    if side is not None:
        if side not in ("buy", "sell"):
            raise InputError(f"side: must be 'buy', 'sell' or None, got {side!r}", arg="side")
        if request.side != "two-way" and side != request.side:
            raise InputError(
                f"side: the request is to {request.side}; cannot execute it as {side}",
                arg="side",
            )
        return side
    return None if request.side == "two-way" else request.side


# ------------------------------------------------------------------------ the screen
_ROWS: weakref.WeakKeyDictionary[Any, dict[tuple[float, float, float], int]] = (
    weakref.WeakKeyDictionary()
)


def _row_index(chain: Any) -> dict[tuple[float, float, float], int]:
    """(kind, strike, t) -> first row of the chain with it (built once per chain)."""
    idx = _ROWS.get(chain)
    if idx is None:
        idx = {}
        for i, key in enumerate(zip(chain.kind.tolist(), chain.strike.tolist(), chain.t.tolist())):
            idx.setdefault(key, i)
        _ROWS[chain] = idx
    return idx


def _chain_rows(chain: Any, package: Any, table: LegTable) -> tuple[list[int] | None, str]:
    """Rows of the option legs in the chain (each with a bid and an ask), or why not."""
    idx = _row_index(chain)
    rows = []
    bid, ask = chain.bid, chain.ask
    legs = package.legs
    for j, i in enumerate(table.opt_rows):
        leg = legs[i]
        t = years(chain, leg.expiry)
        kind = 1.0 if table.is_call[j] else -1.0
        k = float(table.strike[j])
        row = idx.get((kind, k, t))
        if row is None:
            hit = np.flatnonzero(
                (chain.kind == kind)
                & (np.abs(chain.strike - k) <= 1e-9 * max(k, 1.0))
                & (np.abs(chain.t - t) <= _T_TOL)
            )
            if hit.size == 0:
                return None, f"leg {i} ({leg.kind} {k:g}, {leg.expiry!r}) is not listed"
            row = int(hit[0])
        b, a = float(bid[row]), float(ask[row])
        if not (math.isfinite(b) and math.isfinite(a) and 0.0 <= b <= a):
            return None, f"leg {i} ({leg.kind} {k:g}) has no two-sided quote"
        rows.append(row)
    return rows, ""


def _mid(chain: Any, rows: list[int], table: LegTable) -> float:
    spot = float(chain.spot)
    total = 0.0
    j = 0
    for q, opt in zip(table.qty, table.is_option):
        if opt:
            total += q * 0.5 * (float(chain.bid[rows[j]]) + float(chain.ask[rows[j]]))
            j += 1
        else:
            total += q * spot
    return total


def _depth(chain: Any, row: int, buy: bool, model: ScreenModel) -> float:
    col = "ask_size" if buy else "bid_size"
    if col in chain.extra_columns:
        try:
            shown = float(chain.column(col)[row])
        except (TypeError, ValueError):
            shown = math.nan
        if math.isfinite(shown) and shown > 0:
            return shown
    oi = float(chain.open_interest[row])
    return max(model.depth_floor, model.depth_share * oi if math.isfinite(oi) else 0.0)


def legging(
    chain: Any,
    request: Request,
    side: str,
    rows: list[int],
    fees: Fees,
    model: ScreenModel,
) -> Screen:
    """Cross every leg on the screen for ``side`` (see :class:`ScreenModel`)."""
    table = request._table
    s = 1.0 if side == "buy" else -1.0
    spot = float(chain.spot)
    size = request.size
    legs = []
    touch_total = price_total = 0.0
    j = 0
    for leg, q in zip(request.package.legs, table.qty):
        if not leg.is_option:
            legs.append(
                ScreenLeg(leg.kind, None, q, spot, spot, math.inf, abs(q) * size, spot, 0.0, spot)
            )
            touch_total += q * spot
            price_total += q * spot
            continue
        row = rows[j]
        j += 1
        bid, ask = float(chain.bid[row]), float(chain.ask[row])
        buy = q * s > 0
        contracts = abs(q) * size
        depth = _depth(chain, row, buy, model)
        excess = max(contracts - depth, 0.0)
        slip = model.impact * 0.5 * (ask - bid) * (excess / contracts) * math.sqrt(excess / depth)
        touch = ask if buy else bid
        fill = touch + slip if buy else max(touch - slip, 0.0)
        legs.append(
            ScreenLeg(
                leg.kind, leg.strike, q, bid, ask, depth, contracts, touch, fill - touch, fill
            )
        )
        touch_total += q * touch
        price_total += q * fill
    screen_fees = (
        fees.per_contract * table.n_contracts * size
        + fees.per_share * table.n_shares * request.multiplier * size
    )
    return Screen(touch_total, price_total, price_total - touch_total, screen_fees, tuple(legs))


def block_fee(fees: Fees, size: float) -> float:
    return fees.block_fixed + fees.block_per_package * size


def _improvement(
    request: Request, side: str, price: float, mid: float, screen: Screen, fees: Fees
) -> Improvement:
    s = 1.0 if side == "buy" else -1.0
    mult = request.multiplier
    scale = mult * request.size
    vs_mid = s * (mid - price)
    vs_screen = s * (screen.price - price)
    fee = block_fee(fees, request.size)
    saving = screen.fees - fee
    return Improvement(
        vs_mid=vs_mid,
        vs_mid_package=vs_mid * mult,
        vs_mid_total=vs_mid * scale,
        vs_screen=vs_screen,
        vs_screen_package=vs_screen * mult,
        vs_screen_price_total=vs_screen * scale,
        fee_saving=saving,
        vs_screen_total=vs_screen * scale + saving,
        block_fee=fee,
    )


# ------------------------------------------------------------------------ a dealer panel
def panel(surface: Any, n: int = 5) -> list[Dealer]:
    """``n`` simulated dealers on ``surface`` named "A", "B", ... (then "D27", ...) with
    different, deterministic parameters: vol uncertainty 0.3-0.45 vol points, typical sizes
    50/100/200, inventories from short to long vega and delta, one in four declining 10% of
    requests at random, every sixth capped at 50 packages, every seventh slow (answers after
    about 3 s on average) and every fifth holding its quote for only 0.4 s."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InputError(f"n: must be a positive integer, got {n!r}", arg="n")
    out = []
    for i in range(n):
        name = chr(ord("A") + i) if i < 26 else f"D{i + 1}"
        params = DealerParams(
            vol_uncertainty=0.003 + 0.0005 * (i % 4),
            typical_size=(100.0, 50.0, 200.0)[i % 3],
            decline_prob=0.1 if i % 4 == 3 else 0.0,
            max_size=50.0 if i % 6 == 5 else math.inf,
            latency_mean=3.0 if i % 7 == 6 else 0.15 * (1 + i % 3),
            quote_ttl=0.4 if i % 5 == 4 else 5.0,
        )
        inventory = Inventory(vega_1pt=((i % 5) - 2) * 15_000.0, delta=((i % 3) - 1) * 2e6)
        out.append(Dealer(surface, params, name=name, inventory=inventory))
    return out

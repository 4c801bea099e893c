"""RFQ package quoting and block trades: dealer quotes, auctions, screen comparison, logs, CLI."""

from __future__ import annotations

import dataclasses
import doctest
import io
import itertools
import json
import math
import types
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

import strikegrid as sg
from strikegrid import rfq
from strikegrid import strategies as st
from strikegrid.cli import main
from strikegrid.exceptions import InputError
from strikegrid.rfq import _valuation

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "option_chains"
EXP = "2011-02-18"
NEAR = "2011-01-07"  # 4 days out: inside the default pin window
FAR = "2011-03-18"


@pytest.fixture(scope="module")
def chain() -> sg.Chain:
    return sg.Chain.sample()


@pytest.fixture(scope="module")
def surface(chain: sg.Chain) -> sg.Surface:
    return sg.Surface.fit(chain, rate=0.0015)


def _condor() -> sg.Package:
    return st.iron_condor(1150, 1200, 1325, 1375, EXP)


def _packages(spot: float) -> list[sg.Package]:
    return [
        _condor(),
        st.bull_put_spread(1250, 1200, EXP),
        st.bear_call_spread(1300, 1350, FAR),
        st.short_strangle(1200, 1350, EXP),
        st.straddle(1275, NEAR),
        st.covered_call(1300, EXP, price=spot),
        st.collar(1200, 1325, EXP, price=spot),
        st.calendar(1275, EXP, FAR),
        st.cash_secured_put(1225, EXP),
    ]


def _legs_sum(m: rfq.Quote, side: str, pkg: sg.Package) -> float:
    prices = m.leg_ask if side == "ask" else m.leg_bid
    return sum(leg.qty * p for leg, p in zip(pkg.legs, prices))


# ----------------------------------------------------------------------------- dealer quotes


def test_quotes_bracket_fair_value_and_legs_sum(surface: sg.Surface) -> None:
    dealer = rfq.Dealer(surface, name="A")
    for pkg in _packages(surface.chain.spot):
        q = dealer.quote(rfq.Request(pkg, 25, "two-way"))
        assert q.quoted and q.bid is not None and q.ask is not None
        assert q.bid < q.fair < q.ask, pkg.name
        assert _legs_sum(q, "bid", pkg) == pytest.approx(q.bid, abs=1e-9)
        assert _legs_sum(q, "ask", pkg) == pytest.approx(q.ask, abs=1e-9)
        # underlying legs trade at the spot; option legs at non-negative premiums
        for leg, b, a in zip(pkg.legs, q.leg_bid, q.leg_ask):
            if leg.is_option:
                assert b >= 0.0 and a >= 0.0
            else:
                assert b == a == surface.chain.spot
        # prices sit on the dealer's tick unless held at a bound
        m = rfq.marks(surface, rfq.Request(pkg, 1)._table)
        for px in (q.bid, q.ask):
            on_tick = abs(px / 0.01 - round(px / 0.01)) < 1e-6
            assert on_tick or px in (m.lower, m.upper)


def test_underlying_only_package(surface: sg.Surface) -> None:
    spot = surface.chain.spot
    pkg = sg.Package([sg.Leg.underlying(2)])
    q = rfq.Dealer(surface).quote(rfq.Request(pkg, 10))
    assert q.bid is not None and q.ask is not None
    assert q.bid < q.fair == 2 * spot < q.ask
    assert q.leg_bid[0] * 2 == pytest.approx(q.bid) and q.leg_ask[0] * 2 == pytest.approx(q.ask)


def test_fair_value_matches_package_value(surface: sg.Surface) -> None:
    spot = surface.chain.spot
    for pkg in _packages(spot):
        m = rfq.marks(surface, rfq.Request(pkg, 1)._table)
        v = pkg.value(surface)
        # RFQ prices underlying legs at the spot per share; Package.value marks them against
        # their entry price.
        entry = sum(leg.qty * (leg.price or spot) for leg in pkg.underlying_legs)
        assert m.fair == pytest.approx(v.per_unit + entry, rel=1e-12, abs=1e-12)
        assert m.vega == pytest.approx(v.greeks["vega"], rel=1e-12, abs=1e-12)
        assert m.delta == pytest.approx(v.greeks["delta"], rel=1e-12, abs=1e-12)
        assert m.gamma == pytest.approx(v.greeks["gamma"], rel=1e-12, abs=1e-15)


def test_marks_are_the_package_kernels_leg_values(surface: sg.Surface) -> None:
    legs = [sg.Leg.call(k, EXP, qty=(-1) ** i) for i, k in enumerate(range(1150, 1400, 25))]
    table = rfq.Request(sg.Package(legs), 5)._table
    m = rfq.marks(surface, table)
    t = surface.chain.year_fraction(EXP)
    ks = np.array([float(leg.strike) for leg in legs])
    out = sg.package.value_packages(
        surface, np.ones((len(ks), 1)), ks[:, None], t, np.ones((len(ks), 1)), per_leg=True
    )
    assert m.price == pytest.approx(out["leg_price"][:, 0].tolist(), rel=1e-15)
    assert m.vol == pytest.approx(out["leg_vol"][:, 0].tolist(), rel=1e-15)


def test_american_leg_is_worth_at_least_the_european(surface: sg.Surface) -> None:
    eu = rfq.marks(surface, rfq.Request(sg.Package([sg.Leg.put(1300, FAR)]), 1)._table)
    am_leg = sg.Leg.put(1300, FAR, exercise="american")
    am = rfq.marks(surface, rfq.Request(sg.Package([am_leg]), 1)._table)
    assert am.fair >= eu.fair
    assert am.lower >= max(1300 - surface.chain.spot, 0.0)
    q = rfq.Dealer(surface).quote(rfq.Request(sg.Package([am_leg]), 10))
    assert q.bid is not None and q.ask is not None and q.bid < am.fair < q.ask


def test_quotes_widen_with_size(surface: sg.Surface) -> None:
    dealer = rfq.Dealer(surface)
    halves, widths = [], []
    for size in (1, 10, 100, 1_000, 10_000):
        q = dealer.quote(rfq.Request(_condor(), size))
        assert q.bid is not None and q.ask is not None and q.charges is not None
        assert q.charges.size_factor == pytest.approx(1 + 0.25 * math.sqrt(size / 100))
        halves.append(q.half_spread)
        widths.append(q.ask - q.bid)
    assert all(a < b for a, b in itertools.pairwise(halves))
    assert all(a <= b for a, b in itertools.pairwise(widths)) and widths[-1] > widths[0]


def test_quotes_widen_with_risk(surface: sg.Surface) -> None:
    req = rfq.Request(_condor(), 50)
    base = rfq.Dealer(surface).quote(req)
    unsure = rfq.Dealer(surface, rfq.DealerParams(vol_uncertainty=0.02)).quote(req)
    assert unsure.half_spread > base.half_spread
    assert unsure.charges is not None and base.charges is not None
    assert unsure.charges.vega > base.charges.vega
    # more vega at risk (a straddle vs a condor) costs more
    straddle = rfq.Dealer(surface).quote(rfq.Request(st.straddle(1275, EXP), 50))
    assert straddle.half_spread > base.half_spread
    # near expiry: gamma and pin charges; the same straddle further out has no pin charge
    near = rfq.Dealer(surface).quote(rfq.Request(st.straddle(1275, NEAR), 50))
    far = rfq.Dealer(surface).quote(rfq.Request(st.straddle(1275, FAR), 50))
    assert near.charges is not None and far.charges is not None
    assert near.charges.pin > 0.0 and far.charges.pin == 0.0
    assert near.charges.gamma > far.charges.gamma
    # per-contract costs
    costly = rfq.Dealer(surface, rfq.DealerParams(cost_per_contract=5.0)).quote(req)
    assert costly.charges is not None
    assert costly.charges.costs == pytest.approx(5.0 * 4 / 100 + 0.0)
    assert costly.half_spread > base.half_spread


def test_half_spread_is_the_documented_sum(surface: sg.Surface) -> None:
    p = rfq.DealerParams(min_half_spread=0.0)
    req = rfq.Request(st.straddle(1275, NEAR), 80)
    q = rfq.Dealer(surface, p).quote(req)
    m = rfq.marks(surface, req._table)
    c = q.charges
    assert c is not None
    vega = p.vol_uncertainty * abs(m.vega) + p.smile_uncertainty * m.vega_gross
    half_gamma = 0.5 * m.spot**2 * p.hedge_interval
    pin = sum(abs(q_ * g) * s * s for q_, g, s in zip(m.qty, m.leg_gamma, m.vol)) * half_gamma
    size = 1 + p.size_impact * math.sqrt(80 / p.typical_size)
    costs = p.cost_per_contract * 2 / 100
    assert c.vega == pytest.approx(vega)
    assert c.gamma == pytest.approx(half_gamma * abs(m.gamma_var))
    assert c.pin == pytest.approx(pin)
    assert q.half_spread == pytest.approx(size * (vega + c.gamma + pin) + costs)


def _mid_price(q: rfq.Quote) -> float:
    assert q.bid is not None and q.ask is not None
    return 0.5 * (q.bid + q.ask)


def test_inventory_skew_sign(surface: sg.Surface) -> None:
    # No rounding, so the skew shows exactly.
    p = rfq.DealerParams(tick=0.0)

    def quote(pkg: sg.Package, vega: float = 0.0, delta: float = 0.0) -> rfq.Quote:
        inv = rfq.Inventory(vega_1pt=vega, delta=delta)
        return rfq.Dealer(surface, p, inventory=inv).quote(rfq.Request(pkg, 20))

    long_vega_pkg = st.straddle(1275, EXP)  # adds vega to whoever buys it
    flat = quote(long_vega_pkg)
    longv = quote(long_vega_pkg, vega=25_000)
    shortv = quote(long_vega_pkg, vega=-25_000)
    for q in (flat, longv, shortv):
        assert q.bid is not None and q.ask is not None
    # a dealer long vega bids less for more vega and offers it cheaper: both sides lower
    assert longv.bid < flat.bid and longv.ask < flat.ask  # type: ignore[operator]
    assert shortv.bid > flat.bid and shortv.ask > flat.ask  # type: ignore[operator]
    assert longv.half_spread == flat.half_spread  # the skew moves the centre only
    # ... and pays up for a package that sheds vega (a short strangle)
    short_vega_pkg = st.short_strangle(1200, 1350, EXP)
    assert _mid_price(quote(short_vega_pkg, vega=25_000)) > _mid_price(quote(short_vega_pkg))
    # the skew is vega times the vol mark shift
    m = rfq.marks(surface, rfq.Request(long_vega_pkg, 20)._table)
    assert longv.charges is not None
    assert longv.charges.skew == pytest.approx(m.vega * -p.skew_vol * 0.5)
    # delta: a dealer long delta marks the spot down
    call = sg.Package([sg.Leg.call(1275, EXP)])
    assert _mid_price(quote(call, delta=2e6)) < _mid_price(quote(call))
    assert _mid_price(quote(call, delta=-2e6)) > _mid_price(quote(call))


def test_skew_never_unbrackets_fair_value(surface: sg.Surface) -> None:
    huge = rfq.Inventory(vega_1pt=1e9, delta=-1e12)
    for pkg in _packages(surface.chain.spot):
        q = rfq.Dealer(surface, inventory=huge).quote(rfq.Request(pkg, 5))
        assert q.bid is not None and q.ask is not None and q.charges is not None
        assert q.bid <= q.fair <= q.ask
        assert abs(q.charges.skew) <= 0.8 * q.half_spread + 1e-12


def test_dealer_declines(surface: sg.Surface) -> None:
    req = rfq.Request(_condor(), 100)
    small = rfq.Dealer(surface, rfq.DealerParams(max_size=50)).quote(req)
    assert not small.quoted and small.bid is None and "size" in (small.declined or "")
    vega = rfq.Dealer(surface, rfq.DealerParams(max_vega=100.0)).quote(req)
    assert not vega.quoted and "vega" in (vega.declined or "")
    legs = rfq.Dealer(surface, rfq.DealerParams(max_legs=2)).quote(req)
    assert not legs.quoted and "legs" in (legs.declined or "")


# ----------------------------------------------------------------------- no-arbitrage bounds


def test_envelope_bounds_closed_forms() -> None:
    f = 100.0
    kinks = _valuation.payoff_kinks
    bounds = _valuation.envelope_bounds
    assert bounds(kinks([90.0], [True], [1.0]), f) == pytest.approx((10.0, 100.0))
    assert bounds(kinks([110.0], [False], [1.0]), f) == pytest.approx((10.0, 110.0))
    # call spread 90/120: [0, width * F / K2] (all mass at 0 and 120)
    assert bounds(kinks([90.0, 120.0], [True, True], [1.0, -1.0]), f) == pytest.approx(
        (0.0, 30.0 * 100.0 / 120.0)
    )
    # short iron condor 80/90/110/125: within [-wider wing, 0]
    lo, hi = bounds(
        kinks([80.0, 90.0, 110.0, 125.0], [False, False, True, True], [1.0, -1.0, -1.0, 1.0]), f
    )
    assert hi == pytest.approx(0.0) and -15.0 <= lo < 0.0


@settings(max_examples=60, deadline=None)
@given(
    strikes=hs.lists(hs.floats(1.0, 300.0), min_size=1, max_size=4),
    calls=hs.lists(hs.booleans(), min_size=4, max_size=4),
    qty=hs.lists(hs.sampled_from([-2.0, -1.0, 1.0, 3.0]), min_size=4, max_size=4),
    forward=hs.floats(20.0, 250.0),
)
def test_envelope_bounds_contain_every_two_point_distribution(
    strikes: list[float], calls: list[bool], qty: list[float], forward: float
) -> None:
    n = len(strikes)
    kinks = _valuation.payoff_kinks(strikes, calls[:n], qty[:n])
    lo, hi = _valuation.envelope_bounds(kinks, forward)
    k = np.array(strikes)[None, :]
    c = np.array(calls[:n])[None, :]
    q = np.array(qty[:n])

    def payoff(x: np.ndarray) -> np.ndarray:
        xx = x[:, None]
        return np.asarray(np.maximum(np.where(c, xx - k, k - xx), 0.0) @ q)

    xs = np.array(kinks[0])
    assert np.allclose(payoff(xs), kinks[1])
    a = np.concatenate([np.linspace(0.0, forward, 41), xs[xs <= forward]])
    b = np.concatenate([np.linspace(forward, 40 * forward, 81), xs[xs >= forward], [1e7]])
    aa, bb = np.meshgrid(a, b)
    aa, bb = aa.ravel(), bb.ravel()
    w = np.where(bb > aa, (bb - forward) / np.where(bb > aa, bb - aa, 1.0), 1.0)
    e = w * payoff(aa) + (1 - w) * payoff(bb)
    scale = 1.0 + float(np.abs(q).sum()) * (forward + max(strikes))
    assert e.min() >= lo - 1e-9 * scale and e.max() <= hi + 1e-9 * scale
    # the bounds are attained (or approached, for mass escaping to infinity)
    assert e.min() == pytest.approx(lo, abs=1e-4 * scale)
    assert e.max() == pytest.approx(hi, abs=1e-4 * scale)


_EXPIRIES = [NEAR, "2011-01-21", EXP, FAR, "2011-06-17", "2011-12-16"]
_PARAMS = hs.builds(
    rfq.DealerParams,
    vol_uncertainty=hs.floats(0.0, 0.2),
    smile_uncertainty=hs.floats(0.0, 0.05),
    min_half_spread=hs.floats(0.0, 80.0),
    size_impact=hs.floats(0.0, 3.0),
    tick=hs.sampled_from([0.0, 0.01, 0.05, 0.25]),
    max_skew=hs.floats(0.0, 1.0),
)
_INVENTORY = hs.builds(rfq.Inventory, vega_1pt=hs.floats(-1e6, 1e6), delta=hs.floats(-1e8, 1e8))


def _check_quote(
    surface: sg.Surface,
    pkg: sg.Package,
    size: float,
    params: rfq.DealerParams,
    inv: rfq.Inventory,
    lo: float,
    hi: float,
) -> None:
    req = rfq.Request(pkg, size)
    q = rfq.Dealer(surface, params, inventory=inv).quote(req)
    m = rfq.marks(surface, req._table)
    assert q.bid is not None and q.ask is not None
    tol = 1e-9 * (1.0 + abs(lo) + abs(hi))
    assert lo - tol <= m.lower <= q.bid <= q.fair <= q.ask <= m.upper <= hi + tol
    for side, px in (("bid", q.bid), ("ask", q.ask)):
        assert _legs_sum(q, side, pkg) == pytest.approx(px, abs=1e-9 * (1 + abs(px)))
        prices = q.leg_bid if side == "bid" else q.leg_ask
        for i, p in enumerate(prices):
            assert m.lo[i] - 1e-9 <= p <= m.hi[i] + 1e-9


@settings(max_examples=80, deadline=None)
@given(
    kind=hs.sampled_from(["call", "put"]),
    k1=hs.integers(160, 340).map(lambda i: 5.0 * i),
    width=hs.integers(1, 40).map(lambda i: 5.0 * i),
    expiry=hs.sampled_from(_EXPIRIES),
    sign=hs.sampled_from([1.0, -1.0]),
    size=hs.floats(1.0, 5000.0),
    params=_PARAMS,
    inv=_INVENTORY,
)
def test_verticals_stay_within_zero_and_width(
    surface: sg.Surface,
    kind: str,
    k1: float,
    width: float,
    expiry: str,
    sign: float,
    size: float,
    params: rfq.DealerParams,
    inv: rfq.Inventory,
) -> None:
    k2 = k1 + width
    # the debit vertical: long the strike nearer the money's side that costs more
    long_k, short_k = (k1, k2) if kind == "call" else (k2, k1)
    pkg = sg.Package([sg.Leg(kind, long_k, expiry, sign), sg.Leg(kind, short_k, expiry, -sign)])
    lo, hi = (0.0, width) if sign > 0 else (-width, 0.0)
    _check_quote(surface, pkg, size, params, inv, lo, hi)


@settings(max_examples=60, deadline=None)
@given(
    center=hs.integers(230, 280).map(lambda i: 5.0 * i),
    gaps=hs.lists(hs.integers(1, 30).map(lambda i: 5.0 * i), min_size=3, max_size=3),
    expiry=hs.sampled_from(_EXPIRIES),
    short=hs.booleans(),
    size=hs.floats(1.0, 5000.0),
    params=_PARAMS,
    inv=_INVENTORY,
)
def test_condors_stay_within_zero_and_wider_wing(
    surface: sg.Surface,
    center: float,
    gaps: list[float],
    expiry: str,
    short: bool,
    size: float,
    params: rfq.DealerParams,
    inv: rfq.Inventory,
) -> None:
    pl = center - gaps[0] - gaps[1]
    ps, cs = center - gaps[1], center
    cl = center + gaps[2]
    pkg = st.iron_condor(pl, ps, cs, cl, expiry)
    wing = max(ps - pl, cl - cs)
    if not short:
        pkg = sg.Package([leg.with_qty(-leg.qty) for leg in pkg.legs])
    lo, hi = (-wing, 0.0) if short else (0.0, wing)
    _check_quote(surface, pkg, size, params, inv, lo, hi)


@settings(max_examples=50, deadline=None)
@given(
    put_k=hs.integers(200, 260).map(lambda i: 5.0 * i),
    gap=hs.integers(0, 40).map(lambda i: 5.0 * i),
    expiry=hs.sampled_from(_EXPIRIES),
    short=hs.booleans(),
    size=hs.floats(1.0, 5000.0),
    params=_PARAMS,
    inv=_INVENTORY,
)
def test_strangles_stay_within_their_bounds(
    surface: sg.Surface,
    put_k: float,
    gap: float,
    expiry: str,
    short: bool,
    size: float,
    params: rfq.DealerParams,
    inv: rfq.Inventory,
) -> None:
    pkg = st.short_strangle(put_k, put_k + gap, expiry)
    if not short:
        pkg = sg.Package([leg.with_qty(-leg.qty) for leg in pkg.legs])
    # a strangle is worth at most the forward plus the put strike, at least nothing
    cap = surface.chain.spot * 1.1 + put_k
    lo, hi = (-cap, 0.0) if short else (0.0, cap)
    _check_quote(surface, pkg, size, params, inv, lo, hi)


# ----------------------------------------------------------------------------- auctions


def _dealer(surface: sg.Surface, name: str, **kw: float) -> rfq.Dealer:
    return rfq.Dealer(surface, rfq.DealerParams(**kw), name=name)  # type: ignore[arg-type]


def test_auction_skips_expired_declined_and_late_quotes(surface: sg.Surface) -> None:
    req = rfq.Request(_condor(), 100, "buy", ttl=2.0)
    tight = dict(vol_uncertainty=0.0, smile_uncertainty=0.0, min_half_spread=0.01)
    dealers = [
        _dealer(surface, "expiring", quote_ttl=0.01, latency_mean=0.0, **tight),
        _dealer(surface, "declining", max_size=10, latency_mean=0.0, **tight),
        _dealer(surface, "late", latency_min=3.0, latency_mean=0.0, **tight),
        _dealer(surface, "random", decline_prob=1.0, latency_mean=0.0, **tight),
        _dealer(surface, "normal", latency_min=0.2, latency_mean=0.0),
    ]
    res = rfq.run_auction(req, dealers, seed=1)
    status = {r.dealer: r.status for r in res.responses}
    assert status == {
        "expiring": "expired",
        "declining": "declined",
        "late": "late",
        "random": "declined",
        "normal": "won",
    }
    # the expired and late quotes were better; the winner is the only valid one
    best = {r.dealer: r.quote.ask for r in res.responses}
    assert best["expiring"] < best["normal"] and best["late"] < best["normal"]  # type: ignore[operator]
    assert res.winner == "normal" and res.price == best["normal"]
    assert res.filled == req.size
    # the taker waited for the TTL (one dealer never answered in time), then decided
    assert res.decided == pytest.approx(2.0 + 0.5)


def test_no_valid_quote_fills_nothing(surface: sg.Surface) -> None:
    req = rfq.Request(_condor(), 100, "sell")
    res = rfq.run_auction(req, [_dealer(surface, "X", max_size=1)], seed=3)
    assert res.winner is None and res.price is None and res.filled == 0.0
    assert res.improvement is None and "no valid quote" in res.note
    assert [r.status for r in res.responses] == ["declined"]


@settings(max_examples=40, deadline=None)
@given(
    seed=hs.integers(0, 2**32 - 1),
    n=hs.integers(1, 12),
    side=hs.sampled_from(["buy", "sell"]),
    size=hs.sampled_from([1.0, 30.0, 100.0, 400.0]),
    ttl=hs.floats(0.1, 6.0),
)
def test_auction_invariants(
    surface: sg.Surface, seed: int, n: int, side: str, size: float, ttl: float
) -> None:
    req = rfq.Request(_condor(), size, side, ttl=ttl)
    res = rfq.run_auction(req, rfq.panel(surface, n), seed=seed)
    assert [r.rank for r in res.responses] == list(range(1, n + 1))
    assert res.filled in (0.0, size)  # all or none
    valid = [r for r in res.responses if r.status in ("won", "valid")]
    for r in res.responses:
        if r.status in ("won", "valid"):
            assert r.quote.quoted and r.received <= ttl and r.expires >= res.decided
        elif r.status == "expired":
            assert r.quote.quoted and r.received <= ttl and r.expires < res.decided
        elif r.status == "late":
            assert r.received > ttl
        else:
            assert r.status == "declined" and not r.quote.quoted
    won = [r for r in res.responses if r.status == "won"]
    if not valid:
        assert not won and res.winner is None and res.filled == 0.0
        return
    assert len(won) == 1 and won[0] is res.responses[0]
    assert res.winner == won[0].dealer and res.price == won[0].quote.price(side)
    prices = [r.quote.price(side) for r in valid]
    best = min(prices) if side == "buy" else max(prices)  # type: ignore[type-var]
    assert res.price == best
    assert res.total == pytest.approx(res.price * 100.0 * size)  # type: ignore[operator]


def test_tie_breaks_by_response_time_then_name(surface: sg.Surface) -> None:
    req = rfq.Request(_condor(), 10, "buy")
    same = dict(latency_mean=0.0)
    slow_a = _dealer(surface, "A", latency_min=0.3, **same)
    fast_b = _dealer(surface, "B", latency_min=0.1, **same)
    res = rfq.run_auction(req, [slow_a, fast_b], seed=0)
    assert res.responses[0].quote.ask == res.responses[1].quote.ask
    assert res.winner == "B"  # same price: the earlier answer
    b, a, c = (_dealer(surface, x, latency_min=0.1, **same) for x in "BAC")
    res = rfq.run_auction(req, [b, c, a], seed=0)
    assert [r.dealer for r in res.responses] == ["A", "B", "C"]  # then the name
    assert res.winner == "A"


def test_auction_is_deterministic_with_a_seed(surface: sg.Surface) -> None:
    req = rfq.Request(_condor(), 100, "buy")
    dealers = rfq.panel(surface, 8)
    one = rfq.run_auction(req, dealers, seed=11)
    assert one == rfq.run_auction(req, dealers, seed=11)
    assert one == rfq.run_auction(req, rfq.panel(surface, 8), seed=11)
    gen = rfq.run_auction(req, dealers, seed=np.random.default_rng(11))
    assert dataclasses.replace(gen, seed=11) == one
    other = rfq.run_auction(req, dealers, seed=12)
    assert [r.received for r in other.responses] != [r.received for r in one.responses]


def test_shared_marks_equal_standalone_quotes(surface: sg.Surface) -> None:
    req = rfq.Request(_condor(), 100, "buy")
    dealers = rfq.panel(surface, 6)
    res = rfq.run_auction(req, dealers, seed=5)
    by_name = {r.dealer: r.quote for r in res.responses}
    for d in dealers:
        alone = d.quote(req)
        if by_name[d.name].declined != "no appetite (random decline)":
            assert by_name[d.name] == alone


def test_two_way_request(surface: sg.Surface) -> None:
    req = rfq.Request(_condor(), 50)
    dealers = rfq.panel(surface, 5)
    res = rfq.run_auction(req, dealers, seed=2)
    assert res.side is None and res.winner is None and res.filled == 0.0
    valid = [r.quote for r in res.responses if r.status == "valid"]
    assert res.best_bid == max(q.bid for q in valid)  # type: ignore[type-var]
    assert res.best_ask == min(q.ask for q in valid)  # type: ignore[type-var]
    sold = rfq.run_auction(req, dealers, seed=2, side="sell")
    assert sold.side == "sell" and sold.price == sold.best_bid and sold.filled == 50.0


def test_improvement_rederives_from_responses_and_chain(
    surface: sg.Surface, chain: sg.Chain
) -> None:
    fees = rfq.Fees(per_contract=0.5, per_share=0.01, block_per_package=1.0, block_fixed=20.0)
    model = rfq.ScreenModel(depth_share=0.02, depth_floor=15.0, impact=0.8)
    for pkg, side in [
        (_condor(), "buy"),
        (_condor(), "sell"),
        (st.covered_call(1300, EXP, price=chain.spot), "buy"),
    ]:
        size = 150.0
        req = rfq.Request(pkg, size, side)
        res = rfq.run_auction(req, rfq.panel(surface, 7), seed=9, fees=fees, screen_model=model)
        assert res.improvement is not None and res.screen is not None and res.price is not None
        # winning price from the raw responses
        valid = [r.quote for r in res.responses if r.status in ("won", "valid")]
        prices = [q.ask if side == "buy" else q.bid for q in valid]
        price = min(prices) if side == "buy" else max(prices)  # type: ignore[type-var]
        assert res.price == price
        # mid and the screen from the chain's quotes (Package.quote for the option legs)
        pq = pkg.quote(chain)
        stock = sum(leg.qty * chain.spot for leg in pkg.underlying_legs)
        entry = sum(
            leg.qty * (chain.spot - (leg.price or chain.spot)) for leg in pkg.underlying_legs
        )
        mid = pq.mid - entry + stock
        assert res.mid == pytest.approx(mid, abs=1e-12)
        s = 1.0 if side == "buy" else -1.0
        legs = pq.legs
        screen = stock
        for leg in pkg.option_legs:
            row = legs[(legs.kind == leg.kind) & (legs.strike == leg.strike)].iloc[0]
            buy = leg.qty * s > 0
            touch = row.ask if buy else row.bid
            j = np.flatnonzero(
                (chain.kind == (1 if leg.kind == "call" else -1))
                & (chain.strike == leg.strike)
                & (chain.t == row.t)
            )[0]
            depth = max(15.0, 0.02 * chain.open_interest[j])
            n = abs(leg.qty) * size
            excess = max(n - depth, 0.0)
            slip = 0.8 * 0.5 * (row.ask - row.bid) * excess / n * math.sqrt(excess / depth)
            fill = touch + slip if buy else max(touch - slip, 0.0)
            screen += leg.qty * fill
        assert res.screen.price == pytest.approx(screen, abs=1e-12)
        n_contracts = sum(abs(leg.qty) for leg in pkg.option_legs)
        n_shares = sum(abs(leg.qty) for leg in pkg.underlying_legs) * 100
        screen_fees = 0.5 * n_contracts * size + 0.01 * n_shares * size
        block = 20.0 + 1.0 * size
        imp = res.improvement
        assert imp.vs_mid == pytest.approx(s * (mid - price))
        assert imp.vs_mid_package == pytest.approx(s * (mid - price) * 100)
        assert imp.vs_mid_total == pytest.approx(s * (mid - price) * 100 * size)
        assert imp.vs_screen_package == pytest.approx(s * (screen - price) * 100)
        assert imp.vs_screen == pytest.approx(s * (screen - price))
        assert imp.fee_saving == pytest.approx(screen_fees - block)
        assert imp.vs_screen_total == pytest.approx(
            s * (screen - price) * 100 * size + screen_fees - block
        )


def test_unlisted_leg_has_no_screen_comparison(surface: sg.Surface) -> None:
    pkg = sg.Package([sg.Leg.put(1212.5, EXP, qty=-1), sg.Leg.put(1150, EXP)])
    res = rfq.run_auction(rfq.Request(pkg, 10, "sell"), rfq.panel(surface, 3), seed=1)
    assert res.filled == 10.0 and res.screen is None and res.improvement is None
    assert "not listed" in res.note


# ----------------------------------------------------------------------------- bad input


def test_bad_requests_raise_input_error(surface: sg.Surface) -> None:
    pkg = _condor()
    with pytest.raises(InputError):
        rfq.Request(sg.Package([]), 10)
    with pytest.raises(InputError, match="package"):
        rfq.Request([sg.Leg.call(1300, EXP)], 10)  # type: ignore[arg-type]
    for size in (0, -5, math.nan, math.inf, True, "ten"):
        with pytest.raises(InputError, match="size"):
            rfq.Request(pkg, size)  # type: ignore[arg-type]
    for side in ("hold", "", None):
        with pytest.raises(InputError, match="side"):
            rfq.Request(pkg, 10, side)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="ttl"):
        rfq.Request(pkg, 10, ttl=0)
    with pytest.raises(InputError):
        rfq.DealerParams(vol_uncertainty=-0.1)
    with pytest.raises(InputError):
        rfq.Inventory(vega_1pt=math.nan)


@pytest.mark.parametrize(
    "leg",
    [
        sg.Leg.call(1300, "2015-01-16"),  # after the last fitted expiry
        sg.Leg.call(1300, 5.0),
        sg.Leg.put(1200, "2010-12-17"),  # expired
        sg.Leg.put(1200, 0.0),
    ],
)
def test_legs_off_the_surface_raise_and_nothing_executes(
    surface: sg.Surface, leg: sg.Leg, tmp_path: Path
) -> None:
    req = rfq.Request(sg.Package([sg.Leg.call(1300, EXP), leg]), 10, "buy")
    with pytest.raises(InputError, match="legs"):
        rfq.Dealer(surface).quote(req)
    with pytest.raises(InputError, match="legs"):
        rfq.run_auction(req, rfq.panel(surface, 3), seed=1)
    log = tmp_path / "log.jsonl"
    args = ["quote", "--leg", "1 call 1300 2011-02-18", "--size", "10", "--log", str(log)]
    expiry = leg.expiry if isinstance(leg.expiry, str) else repr(leg.expiry)
    rc = main([*args, "--leg", f"1 {leg.kind} {leg.strike} {expiry}"])
    assert rc == 2 and not log.exists()


def test_auction_argument_errors(surface: sg.Surface) -> None:
    req = rfq.Request(_condor(), 10, "buy")
    with pytest.raises(InputError, match="dealers"):
        rfq.run_auction(req, [], seed=1)
    with pytest.raises(InputError, match="dealers"):
        rfq.run_auction(req, ["A"], seed=1)  # type: ignore[list-item]
    with pytest.raises(InputError, match="side"):
        rfq.run_auction(req, rfq.panel(surface, 2), seed=1, side="sell")
    with pytest.raises(InputError, match="side"):
        rfq.run_auction(rfq.Request(_condor(), 10), rfq.panel(surface, 2), side="short")


def test_coin_settled_chains_are_refused() -> None:
    path = DATA / "deribit_2026-01-02T1626Z" / "btc_20260102T1626.csv"
    if not path.is_file():
        pytest.skip("shared data folder not present")
    btc = sg.Chain.read_csv(path)
    pkg = sg.Package([sg.Leg.call(100_000, "2026-01-30")], multiplier=1)
    fake = types.SimpleNamespace(chain=btc)  # refused before the surface is used
    with pytest.raises(InputError, match="cash-priced"):
        rfq.Dealer(fake).quote(rfq.Request(pkg, 5))


# ----------------------------------------------------------------------------- the log


def test_log_round_trip(surface: sg.Surface, chain: sg.Chain, tmp_path: Path) -> None:
    buy_write = sg.Package(
        [sg.Leg.underlying(1, price=chain.spot), sg.Leg.call(1300, date(2011, 2, 18), qty=-1)],
        name="buy_write",
    )
    results = [
        rfq.run_auction(rfq.Request(_condor(), 100, "buy"), rfq.panel(surface, 10), seed=7),
        rfq.run_auction(rfq.Request(buy_write, 20, "buy"), rfq.panel(surface, 4), seed=8),
        rfq.run_auction(rfq.Request(_condor(), 30), rfq.panel(surface, 3), seed=9),
        rfq.run_auction(
            rfq.Request(st.calendar(1275, np.datetime64("2011-02-18"), 0.45), 5, "sell"),
            rfq.panel(surface, 2),
            seed=None,
        ),
    ]
    path = tmp_path / "auctions.jsonl"
    rfq.write_log(results, path)
    back = rfq.read_log(path)
    assert back == results
    assert isinstance(back[1].request.package.legs[1].expiry, date)
    # one record per line: request, responses in rank order, decision; times on the clock
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x["event"] for x in lines[:12]] == ["request"] + ["response"] * 10 + ["decision"]
    assert lines[0]["time"] == "2011-01-03T16:15:00-05:00"
    assert lines[11]["t"] == results[0].decided
    assert [x["rank"] for x in lines[1:11]] == list(range(1, 11))
    buf = io.StringIO()
    rfq.write_log(results[0], buf)
    buf.seek(0)
    assert rfq.read_log(buf) == results[:1]


def test_read_log_rejects_garbage(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"event": "decision"}\n')
    with pytest.raises(InputError, match="line 1"):
        rfq.read_log(path)
    path.write_text("not json\n")
    with pytest.raises(InputError, match="line 1"):
        rfq.read_log(path)


# ----------------------------------------------------------------------------- CLI


def test_cli_quote_strategy(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    log = tmp_path / "q.jsonl"
    rc = main(
        ["quote", "--strategy", "iron_condor", "--expiry", EXP, "--size", "100", "--log", str(log)]
    )
    out = capsys.readouterr().out
    assert rc == 0
    assert "RFQ buy 100 x iron_condor" in out and "decision at" in out and "vs legging" in out
    for name in "ABCDE":
        assert f" {name} " in out
    (res,) = rfq.read_log(log)
    assert res.filled == 100.0 and res.winner is not None and f"from {res.winner} " in out


def test_cli_quote_legs_and_strikes(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(
        [
            "quote",
            "--leg",
            "-1 put 1200 2011-02-18",
            "--leg",
            "1 put 1150 2011-02-18",
            "--size",
            "50",
            "--side",
            "sell",
            "--dealers",
            "3",
            "--seed",
            "1",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0 and "RFQ sell 50 x custom" in out and "-1 put 1200" in out
    rc = main(
        [
            "quote",
            "--strategy",
            "bull_put_spread",
            "--expiry",
            EXP,
            "--strikes",
            "1250,1200",
            "--side",
            "two-way",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0 and "-1 put 1250" in out and "+1 put 1200" in out
    assert "best bid" in out and "nothing filled" in out
    for name in ("covered_call", "collar", "straddle", "short_strangle", "cash_secured_put"):
        assert main(["quote", "--strategy", name, "--dealers", "2"]) == 0
    assert main(["quote", "--strategy", "calendar", "--expiry", EXP, "--far-expiry", FAR]) == 0
    capsys.readouterr()


@pytest.mark.parametrize(
    "args",
    [
        ["--strategy", "iron_condor", "--size", "0"],
        ["--strategy", "iron_condor", "--size", "-3"],
        ["--strategy", "iron_condor", "--side", "hold"],
        ["--strategy", "iron_condor", "--expiry", "2011-02-19"],
        ["--strategy", "iron_condor", "--strikes", "1,2"],
        ["--strategy", "calendar", "--expiry", EXP],
        ["--leg", "one put 1200 2011-02-18"],
        ["--leg", "-1 put 1200"],
        ["--leg", "-1 spread 1200 2011-02-18"],
        ["--strategy", "iron_condor", "--leg", "-1 put 1200 2011-02-18"],
        [],
        ["--strategy", "iron_condor", "--chain", "/nonexistent/chain.csv"],
    ],
)
def test_cli_quote_errors_cleanly(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quote", *args]) == 2
    captured = capsys.readouterr()
    assert "strikegrid quote: error:" in captured.err and "Traceback" not in captured.err


def test_cli_quote_argparse_errors(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["--strategy", "butterfly"], ["--size", "many"]):
        with pytest.raises(SystemExit) as e:
            main(["quote", *args])
        assert e.value.code != 0
    assert "invalid" in capsys.readouterr().err


def test_module_doctest() -> None:
    failures, tried = doctest.testmod(rfq, verbose=False)
    assert tried > 0 and failures == 0

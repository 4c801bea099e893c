"""Multi-leg packages: legs, expiry analytics, builders, valuation, quotes, collateral."""

from __future__ import annotations

import math

import numpy as np
import pytest

import strikegrid as sg
from strikegrid import strategies as st
from strikegrid.exceptions import InputError

T = 0.25
M = 100.0


@pytest.fixture(scope="module")
def chain() -> sg.Chain:
    return sg.Chain.sample()


@pytest.fixture(scope="module")
def surface(chain: sg.Chain) -> sg.Surface:
    return sg.Surface.fit(chain)


def _sampled(pkg: sg.Package, premium: float) -> tuple[np.ndarray, np.ndarray]:
    s = np.linspace(0.0, 4000.0, 400_001)
    return s, np.asarray(pkg.payoff(s, premium))


def _check_against_sampling(pkg: sg.Package, premium: float) -> None:
    s, pnl = _sampled(pkg, premium)
    if math.isfinite(pkg.max_profit(premium)):
        assert pkg.max_profit(premium) == pytest.approx(pnl.max(), abs=1e-6)
    if math.isfinite(pkg.max_loss(premium)):
        assert pkg.max_loss(premium) == pytest.approx(-pnl.min(), abs=1e-6)
    be = pkg.breakevens(premium)
    assert np.allclose(pkg.payoff(be, premium), 0.0, atol=1e-7)
    # every sign change on the grid lies within one grid step of a breakeven
    sign = np.sign(pnl)
    changes = s[:-1][sign[:-1] * sign[1:] < 0]
    for x in changes:
        assert np.min(np.abs(be - x)) <= 0.011


# ----------------------------------------------------------------------------- legs


def test_leg_constructors() -> None:
    c = sg.Leg.call(100, 0.5, qty=-2)
    assert (c.kind, c.strike, c.expiry, c.qty) == ("call", 100.0, 0.5, -2.0)
    p = sg.Leg.put(90.0, "2024-03-15")
    assert p.kind == "put" and p.qty == 1.0 and p.expiry == "2024-03-15"
    u = sg.Leg.underlying(3, price=50.0)
    assert u.kind == "underlying" and u.strike is None and u.price == 50.0
    with pytest.raises(AttributeError):
        c.qty = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    "make",
    [
        lambda: sg.Leg.call(100, T, qty=0),
        lambda: sg.Leg.put(-1, T),
        lambda: sg.Leg.put(0, T),
        lambda: sg.Leg.call(float("nan"), T),
        lambda: sg.Leg.call(float("inf"), T),
        lambda: sg.Leg.call(100, -0.1),
        lambda: sg.Leg.call(100, T, qty=float("nan")),
        lambda: sg.Leg.call(100, T, exercise="bermudan"),
        lambda: sg.Leg("straddle", 100, T, 1),
        lambda: sg.Leg.underlying(0),
        lambda: sg.Leg.underlying(1, price=-5),
        lambda: sg.Package([]),
        lambda: sg.Package([sg.Leg.call(100, T)], multiplier=0),
        lambda: sg.Package(["call"]),  # type: ignore[list-item]
        lambda: st.bull_put_spread(90, 100, T),
        lambda: st.bear_call_spread(110, 100, T),
        lambda: st.iron_condor(90, 95, 94, 110, T),
        lambda: st.straddle(100, T, side="sideways"),
        lambda: st.cash_secured_put(100, T, qty=-1),
        lambda: st.calendar(100, 0.5, 0.25),
    ],
)
def test_bad_input(make: object) -> None:
    with pytest.raises(InputError):
        make()  # type: ignore[operator]


def test_multi_expiry_analytics_refused() -> None:
    pkg = st.calendar(100, 0.1, 0.3)
    with pytest.raises(InputError, match="one expiry"):
        pkg.breakevens()


def test_underlying_needs_price_for_payoff() -> None:
    pkg = sg.Package([sg.Leg.underlying(1), sg.Leg.call(110, T, -1)])
    with pytest.raises(InputError, match="entry price"):
        pkg.payoff(100.0)


# ----------------------------------------------------------------- builders / analytics


def test_bull_put_spread() -> None:
    k1, k2, c = 90.0, 100.0, 3.0
    pkg = st.bull_put_spread(k2, k1, T)
    assert np.allclose(pkg.breakevens(-c), [k2 - c])
    assert pkg.max_profit(-c) == pytest.approx(c * M)
    assert pkg.max_loss(-c) == pytest.approx((k2 - k1 - c) * M)
    assert pkg.collateral(-c) == pytest.approx((k2 - k1 - c) * M)
    _check_against_sampling(pkg, -c)


def test_bear_call_spread() -> None:
    k1, k2, c = 100.0, 110.0, 4.0
    pkg = st.bear_call_spread(k1, k2, T, qty=2)
    assert np.allclose(pkg.breakevens(-c), [k1 + c / 2])
    assert pkg.max_profit(-c) == pytest.approx(c * M)
    assert pkg.max_loss(-c) == pytest.approx((2 * (k2 - k1) - c) * M)
    assert pkg.collateral(-c) == pytest.approx((2 * (k2 - k1) - c) * M)
    _check_against_sampling(pkg, -c)


def test_iron_condor() -> None:
    c = 2.5
    pkg = st.iron_condor(80, 90, 110, 125, T)
    assert np.allclose(pkg.breakevens(-c), [90 - c, 110 + c])
    assert pkg.max_profit(-c) == pytest.approx(c * M)
    assert pkg.max_loss(-c) == pytest.approx((15 - c) * M)
    assert pkg.collateral(-c) == pytest.approx((15 - c) * M)
    _check_against_sampling(pkg, -c)


def test_covered_call() -> None:
    s0, k, c = 100.0, 105.0, 2.0
    pkg = st.covered_call(k, T, price=s0)
    assert np.allclose(pkg.breakevens(-c), [s0 - c])
    assert pkg.max_profit(-c) == pytest.approx((k - s0 + c) * M)
    assert pkg.max_loss(-c) == pytest.approx((s0 - c) * M)
    assert pkg.collateral(-c) == pytest.approx(s0 * M)
    _check_against_sampling(pkg, -c)


def test_cash_secured_put() -> None:
    k, c = 100.0, 3.0
    pkg = st.cash_secured_put(k, T, qty=3)
    assert np.allclose(pkg.breakevens(-3 * c), [k - c])
    assert pkg.max_profit(-3 * c) == pytest.approx(3 * c * M)
    assert pkg.max_loss(-3 * c) == pytest.approx(3 * (k - c) * M)
    assert pkg.collateral(-3 * c) == pytest.approx(3 * k * M)
    r = pkg.return_on_capital(-3 * c, days=30)
    assert r.roc == pytest.approx(c / k)
    assert r.annualised == pytest.approx(c / k * 365 / 30)
    _check_against_sampling(pkg, -3 * c)


def test_collar() -> None:
    s0, kp, kc, d = 100.0, 95.0, 110.0, 0.5
    pkg = st.collar(kp, kc, T, price=s0)
    assert np.allclose(pkg.breakevens(d), [s0 + d])
    assert pkg.max_profit(d) == pytest.approx((kc - s0 - d) * M)
    assert pkg.max_loss(d) == pytest.approx((s0 - kp + d) * M)
    _check_against_sampling(pkg, d)


def test_short_strangle() -> None:
    c = 4.0
    pkg = st.short_strangle(90, 110, T)
    assert np.allclose(pkg.breakevens(-c), [90 - c, 110 + c])
    assert pkg.max_profit(-c) == pytest.approx(c * M)
    assert pkg.max_loss(-c) == math.inf
    assert pkg.collateral(-c) == math.inf
    _check_against_sampling(pkg, -c)


@pytest.mark.parametrize("side", ["long", "short"])
def test_straddle(side: str) -> None:
    d = 8.0 if side == "long" else -8.0
    pkg = st.straddle(100, T, side=side)
    assert np.allclose(pkg.breakevens(d), [92.0, 108.0])
    if side == "long":
        assert pkg.max_profit(d) == math.inf
        assert pkg.max_loss(d) == pytest.approx(8.0 * M)
        assert pkg.collateral(d) == pytest.approx(8.0 * M)
    else:
        assert pkg.max_profit(d) == pytest.approx(8.0 * M)
        assert pkg.max_loss(d) == math.inf
    _check_against_sampling(pkg, d)


def test_payoff_per_unit_and_shape() -> None:
    pkg = st.bull_put_spread(100, 90, T)
    s = np.array([[80.0, 95.0], [100.0, 120.0]])
    out = pkg.payoff(s, -3.0, per_unit=True)
    assert out.shape == (2, 2)
    assert np.allclose(out, [[-7.0, -2.0], [3.0, 3.0]])
    assert pkg.payoff(95.0, -3.0) == pytest.approx(-200.0)


def test_breakevens_flat_zero_and_none() -> None:
    # Long call bought for nothing: P&L is zero on the whole [0, K] segment.
    pkg = sg.Package([sg.Leg.call(100, T)])
    assert np.allclose(pkg.breakevens(), [0.0, 100.0])
    # A bull put spread with a credit larger than its width never loses: no breakeven.
    assert st.bull_put_spread(100, 90, T).breakevens(-12.0).size == 0


# -------------------------------------------------------------------- valuation


def _expiry(chain: sg.Chain, i: int = 3) -> float:
    return float(np.unique(chain.t)[i])


def test_value_is_sum_of_legs(surface: sg.Surface, chain: sg.Chain) -> None:
    t = _expiry(chain)
    s = chain.spot
    pkg = st.iron_condor(0.85 * s, 0.95 * s, 1.05 * s, 1.15 * s, t)
    v = pkg.value(surface)
    total = 0.0
    delta = 0.0
    for leg in pkg:
        lv = sg.Package([leg]).value(surface)
        total += lv.per_unit
        delta += lv.greeks["delta"]
    assert v.per_unit == pytest.approx(total, rel=1e-12)
    assert v.value == pytest.approx(total * M)
    assert v.greeks["delta"] == pytest.approx(delta, rel=1e-9, abs=1e-12)
    assert float(np.sum(v.legs["value"])) == pytest.approx(v.value)
    assert v.per_unit < 0  # a credit


def test_value_matches_black76(surface: sg.Surface, chain: sg.Chain) -> None:
    t = _expiry(chain)
    k = round(chain.spot / 5) * 5
    v = sg.Package([sg.Leg.put(k, t, qty=-2)]).value(surface)
    f = surface.forward(t)
    df = surface.discount(t)
    vol = surface.vol(k, t)
    r = -math.log(df) / t
    ref = sg.greeks("put", f, k, t, vol, r, 0.0, model="black76")
    assert v.per_unit == pytest.approx(-2 * ref["price"], rel=1e-12)
    assert v.greeks["vega"] == pytest.approx(-2 * ref["vega"], rel=1e-12)
    assert v.greeks["delta"] == pytest.approx(-2 * ref["delta"] * f / chain.spot, rel=1e-12)
    assert v.dollar["vega_1pt"] == pytest.approx(-2 * ref["vega"] / 100 * M, rel=1e-12)
    assert v.dollar["theta_day"] == pytest.approx(-2 * ref["theta"] / 365 * M, rel=1e-12)
    assert v.dollar["delta"] == pytest.approx(v.greeks["delta"] * chain.spot * M)
    assert v.dollar["gamma_1pct"] == pytest.approx(v.greeks["gamma"] * chain.spot**2 * 0.01 * M)


def test_value_with_underlying(surface: sg.Surface, chain: sg.Chain) -> None:
    t = _expiry(chain)
    s = chain.spot
    pkg = st.covered_call(round(1.05 * s), t, price=s)
    v = pkg.value(surface)
    call = sg.Package([sg.Leg.call(round(1.05 * s), t, -1)]).value(surface)
    assert v.per_unit == pytest.approx(call.per_unit)
    assert v.greeks["delta"] == pytest.approx(1.0 + call.greeks["delta"])


def test_value_with_dates(surface: sg.Surface, chain: sg.Chain) -> None:
    day = np.unique(chain.expiry_date)[3]
    t = chain.year_fraction(str(day))
    k = round(chain.spot / 5) * 5
    a = sg.Package([sg.Leg.call(k, str(day))]).value(surface)
    b = sg.Package([sg.Leg.call(k, t)]).value(surface)
    assert a.per_unit == pytest.approx(b.per_unit)


def test_roll_nets_difference(surface: sg.Surface, chain: sg.Chain) -> None:
    t1, t2 = _expiry(chain, 2), _expiry(chain, 4)
    s = chain.spot
    old = st.bull_put_spread(0.95 * s, 0.9 * s, t1)
    new = st.bull_put_spread(0.93 * s, 0.9 * s, t2)
    r = st.roll(old, to_expiry=t2, to_strike={0.95 * s: 0.93 * s})
    assert len(r) == 4
    assert r.value(surface).per_unit == pytest.approx(
        new.value(surface).per_unit - old.value(surface).per_unit, rel=1e-10
    )
    single = st.roll(st.cash_secured_put(s, t1), to_strike=0.97 * s)
    assert {leg.strike for leg in single} == {s, 0.97 * s}
    with pytest.raises(InputError):
        st.roll(old, to_strike=100.0)
    with pytest.raises(InputError):
        st.roll(old)


def test_pop(surface: sg.Surface, chain: sg.Chain) -> None:
    t = _expiry(chain)
    s = chain.spot
    pkg = st.bull_put_spread(0.95 * s, 0.9 * s, t)
    credit = pkg.value(surface).per_unit
    pop = pkg.pop(surface, credit)
    be = pkg.breakevens(credit)
    assert be.size == 1
    assert pop == pytest.approx(1.0 - surface.prob_below(be[0], t))
    assert 0.5 < pop < 1.0


# ----------------------------------------------------------------------- quotes


def _listed(chain: sg.Chain) -> tuple[float, list[float]]:
    t = _expiry(chain)
    rows = (chain.t == t) & np.isfinite(chain.bid) & np.isfinite(chain.ask) & (chain.bid > 0)
    puts = np.unique(chain.strike[rows & (chain.kind < 0)])
    calls = np.unique(chain.strike[rows & (chain.kind > 0)])
    both = np.intersect1d(puts, calls)
    near = both[np.argsort(np.abs(both - chain.spot))[:4]]
    return t, sorted(float(x) for x in near)


def test_quote_mid_and_natural(chain: sg.Chain) -> None:
    t, ks = _listed(chain)
    pkg = st.iron_condor(ks[0], ks[1], ks[2], ks[3], t)
    q = pkg.quote(chain)
    exp_mid = 0.0
    exp_nat = 0.0
    for leg in pkg:
        row = np.flatnonzero(
            (chain.t == t)
            & (chain.strike == leg.strike)
            & (chain.kind == (1.0 if leg.kind == "call" else -1.0))
        )[0]
        bid, ask = chain.bid[row], chain.ask[row]
        exp_mid += leg.qty * 0.5 * (bid + ask)
        exp_nat += leg.qty * (ask if leg.qty > 0 else bid)
    assert q.mid == pytest.approx(exp_mid)
    assert q.natural == pytest.approx(exp_nat)
    assert q.spread_cost == pytest.approx(exp_nat - exp_mid)
    assert q.spread_cost >= 0
    assert q.natural_value == pytest.approx(exp_nat * M)


def test_quote_unlisted_leg(chain: sg.Chain) -> None:
    t, ks = _listed(chain)
    pkg = sg.Package([sg.Leg.call(ks[0] + 0.123, t)])
    with pytest.raises(InputError, match="not listed"):
        pkg.quote(chain)


def test_collateral_rules() -> None:
    assert st.calendar(100, 0.1, 0.3).collateral(2.0) == math.inf
    long_cal = sg.Package([sg.Leg.call(100, 0.1), sg.Leg.call(100, 0.3)])
    assert long_cal.collateral(5.0) == pytest.approx(500.0)
    naked = sg.Package([sg.Leg.call(100, T, -1)])
    assert naked.collateral(-3.0) == math.inf
    with pytest.raises(InputError):
        naked.return_on_capital(-3.0, 30)


def test_american_leg_worth_at_least_european(surface: sg.Surface, chain: sg.Chain) -> None:
    t = _expiry(chain)
    k = float(round(chain.spot))
    am = sg.Package([sg.Leg.put(k, t, exercise="american")]).value(surface)
    eu = sg.Package([sg.Leg.put(k, t)]).value(surface)
    assert am.per_unit >= eu.per_unit - 1e-9
    assert am.greeks["delta"] < 0


def test_probability_of_profit_agrees_with_monte_carlo():
    # Sample S_T from the surface's own distribution (inverting prob_below on a fine grid) and
    # count profitable outcomes: the exact pop must agree within sampling error.
    chain = sg.Chain.sample()
    surface = sg.Surface.fit(chain)
    pkg = sg.strategies.iron_condor(1150, 1200, 1325, 1375, "2011-02-18")
    premium = pkg.quote(chain).mid
    t = chain.year_fraction("2011-02-18")
    f = float(surface.forward(t))
    grid = np.linspace(0.4 * f, 1.8 * f, 20001)
    cdf = np.maximum.accumulate(np.asarray(surface.prob_below(grid, t)))
    rng = np.random.default_rng(7)
    u = rng.uniform(cdf[0], cdf[-1], 400_000)
    s_t = np.interp(u, cdf, grid)
    profit = np.asarray(pkg.payoff(s_t, premium)) > 0
    mc = profit.mean() * (cdf[-1] - cdf[0])
    se = np.sqrt(mc * (1 - mc) / u.size)
    exact = pkg.pop(surface, premium=premium)
    assert abs(exact - mc) < 4 * se + 2e-3


def test_plot_draws_payoff_and_value(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    surface = sg.Surface.fit(sg.Chain.sample())
    pkg = sg.strategies.bull_put_spread(1200, 1150, "2011-02-18")
    fig = pkg.plot(surface)
    out = tmp_path / "package.png"
    fig.savefig(out)
    assert out.stat().st_size > 10_000


def test_touch_probability_matches_the_reflection_principle_and_monte_carlo():
    from strikegrid.package import touch_probability

    vol, t, spot = 0.25, 0.5, 100.0
    # Zero drift (rate - div = vol^2/2): twice the terminal probability beyond the barrier.
    r0 = 0.5 * vol * vol
    for h in (90.0, 110.0):
        z = -abs(math.log(h / spot)) / (vol * math.sqrt(t))
        assert touch_probability(spot, h, t, vol, r0) == pytest.approx(2 * sg.norm_cdf(z))
    assert touch_probability(spot, spot, t, vol) == 1.0
    # With drift: Monte Carlo with a Brownian-bridge crossing correction.
    rate, div, h = 0.08, 0.0, 90.0
    rng = np.random.default_rng(3)
    n, steps = 20_000, 250
    dt = t / steps
    mu = rate - div - 0.5 * vol * vol
    b = math.log(h / spot)
    x = np.zeros(n)
    hit = np.zeros(n, dtype=bool)
    for _ in range(steps):
        nxt = x + mu * dt + vol * math.sqrt(dt) * rng.standard_normal(n)
        cross = np.exp(-2 * (x - b) * (nxt - b) / (vol * vol * dt))
        cross = np.where((x > b) & (nxt > b), cross, 1.0)
        hit |= rng.random(n) < cross
        x = nxt
    se = math.sqrt(hit.mean() * (1 - hit.mean()) / n)
    assert touch_probability(spot, h, t, vol, rate, div) == pytest.approx(hit.mean(), abs=4 * se)


def test_prob_touch_of_the_short_strikes():
    surface = sg.Surface.fit(sg.Chain.sample())
    pkg = sg.strategies.iron_condor(1150, 1200, 1325, 1375, "2011-02-18")
    touch = pkg.prob_touch(surface)
    assert set(touch) == {1200.0, 1325.0}
    assert all(0.0 < p < 1.0 for p in touch.values())

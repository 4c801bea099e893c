"""Batch package valuation (the Rust kernel behind screens and risk runs), the real-world
measure, calendars/diagonals at the first expiry, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

import strikegrid as sg
from strikegrid import strategies as st
from strikegrid.exceptions import InputError
from strikegrid.package import pack, value_packages

EXPIRY = "2011-02-18"


@pytest.fixture(scope="module")
def chain() -> sg.Chain:
    return sg.Chain.sample()


@pytest.fixture(scope="module")
def surface(chain: sg.Chain) -> sg.Surface:
    return sg.Surface.fit(chain)


def _packages() -> list[sg.Package]:
    e, e2 = EXPIRY, "2011-03-18"
    return [
        st.iron_condor(1150, 1200, 1325, 1375, e),
        st.bull_put_spread(1250, 1200, e2),
        st.bear_call_spread(1300, 1350, e),
        st.covered_call(1300, e, price=1270.0),
        st.cash_secured_put(1225, e2),
        st.short_strangle(1200, 1325, e),
        st.straddle(1275, e, side="long"),
        st.collar(1225, 1325, e, price=1250.0),
    ]


def test_batch_agrees_with_package_methods(surface: sg.Surface, chain: sg.Chain) -> None:
    pkgs = _packages()
    premium = np.array([p.value(surface).per_unit * 0.9 for p in pkgs])
    # Underlying legs' entry price is part of the package; the option premium is separate.
    opt_premium = premium - np.array(
        [
            sum(leg.qty * (chain.spot - (leg.price or chain.spot)) for leg in p.underlying_legs)
            for p in pkgs
        ]
    )
    a = pack(pkgs, chain)
    out = value_packages(
        surface,
        a["kind"],
        a["strike"],
        a["expiry"],
        a["qty"],
        under_qty=a["under_qty"],
        under_cost=a["under_cost"],
        premium=opt_premium,
        multiplier=a["multiplier"],
    )
    for i, p in enumerate(pkgs):
        v = p.value(surface)
        assert out["value"][i] == pytest.approx(v.value, rel=1e-12, abs=1e-9)
        for g in ("delta", "gamma", "vega", "theta", "rho"):
            assert out[g][i] == pytest.approx(v.greeks[g], rel=1e-12, abs=1e-12)
        assert out["dollar_delta"][i] == pytest.approx(v.dollar["delta"], rel=1e-12, abs=1e-9)
        assert out["vega_1pt"][i] == pytest.approx(v.dollar["vega_1pt"], rel=1e-12, abs=1e-9)
        assert out["pop"][i] == pytest.approx(p.pop(surface, opt_premium[i]), abs=1e-14)
        assert out["max_profit"][i] == pytest.approx(p.max_profit(opt_premium[i]))
        assert out["max_loss"][i] == pytest.approx(p.max_loss(opt_premium[i]))
        be = out["breakevens"][i]
        assert np.allclose(be[np.isfinite(be)], p.breakevens(opt_premium[i]))
        assert 0.0 <= out["pop"][i] <= 1.0


def test_per_leg_outputs_sum_to_the_package(surface: sg.Surface, chain: sg.Chain) -> None:
    a = pack(_packages()[:3], chain)
    out = value_packages(surface, a["kind"], a["strike"], a["expiry"], a["qty"], per_leg=True)
    qty = a["qty"]
    used = qty != 0
    assert np.all(np.isnan(out["leg_price"][~used]))
    leg_sum = np.nansum(out["leg_price"] * qty, axis=1)
    assert np.allclose(leg_sum, out["per_unit"], rtol=1e-13, atol=1e-12)
    want_vol = np.asarray(surface.vol(a["strike"][used], a["expiry"][used]))
    assert np.allclose(out["leg_vol"][used], want_vol, rtol=1e-13)


def test_expected_pnl_risk_neutral_is_the_carried_value(surface: sg.Surface) -> None:
    pkg = st.iron_condor(1150, 1200, 1325, 1375, EXPIRY)
    t = surface.chain.year_fraction(EXPIRY)
    credit = -1.5
    want = (pkg.value(surface).per_unit / float(surface.discount(t)) - credit) * 100.0
    assert pkg.expected_pnl(surface, credit) == pytest.approx(want, rel=1e-12)


def test_real_world_pop_and_expected_pnl_agree_with_monte_carlo(surface: sg.Surface) -> None:
    chain = surface.chain
    pkg = st.bull_put_spread(1250, 1200, EXPIRY)
    t = chain.year_fraction(EXPIRY)
    credit = -pkg.value(surface).per_unit
    drift, vol = 0.10, 0.18
    rng = np.random.default_rng(11)
    n = 400_000
    s_t = chain.spot * np.exp(
        (drift - 0.5 * vol * vol) * t + vol * math.sqrt(t) * rng.standard_normal(n)
    )
    pnl = np.asarray(pkg.payoff(s_t, -credit))
    pop = pkg.pop(surface, -credit, real_world=(drift, vol))
    se = math.sqrt(pop * (1 - pop) / n)
    assert pop == pytest.approx((pnl > 0).mean(), abs=4 * se)
    e = pkg.expected_pnl(surface, -credit, real_world=(drift, vol))
    assert e == pytest.approx(pnl.mean(), abs=4 * pnl.std() / math.sqrt(n))
    # A bullish drift raises a bull put spread's chance of profit over the risk-neutral one.
    assert pop > pkg.pop(surface, -credit, real_world=(0.0, vol))
    with pytest.raises(InputError, match="real_world"):
        pkg.pop(surface, -credit, real_world=(0.1, -0.2))


def test_calendar_at_the_first_expiry(surface: sg.Surface, chain: sg.Chain) -> None:
    cal = st.calendar(1275, EXPIRY, "2011-03-18", kind="call")
    debit = cal.value(surface).per_unit
    t1 = chain.year_fraction(EXPIRY)
    res = cal.first_expiry_analytics(surface, debit)
    assert res["t1"] == pytest.approx(t1)
    be = res["breakevens"]
    assert be.size == 2 and be[0] < 1275 < be[1]
    assert np.allclose(cal.pnl_at_first_expiry(surface, be, debit), 0.0, atol=1e-6)
    # A long calendar loses about its debit far from the strike (more deep in the money,
    # where the European far call trades below intrinsic), and earns most near the strike.
    assert res["max_loss"] >= 0.9 * debit * 100
    assert res["max_profit"] > 0
    grid = np.linspace(1000, 1600, 6001)
    pnl = np.asarray(cal.pnl_at_first_expiry(surface, grid, debit))
    assert abs(grid[np.argmax(pnl)] - 1275) < 15
    # The probability of profit is the surface's mass between the breakevens at T1.
    want = float(surface.prob_below(be[1], t1)) - float(surface.prob_below(be[0], t1))
    assert res["pop"] == pytest.approx(want, abs=1e-9)
    assert cal.pop(surface, debit) == pytest.approx(want, abs=1e-9)
    # With the spot at the forward and nothing else moving, P&L at T1 is the far call's
    # forward value plus the short call's intrinsic, minus the debit.
    f1 = float(surface.forward(t1))
    assert cal.pnl_at_first_expiry(surface, f1, debit) > -debit * 100


def test_diagonal_first_expiry_value_uses_forward_variance(surface: sg.Surface) -> None:
    chain = surface.chain
    dia = st.diagonal(1300, 1325, EXPIRY, "2011-03-18", kind="call")
    t1, t2 = chain.year_fraction(EXPIRY), chain.year_fraction("2011-03-18")
    s = 1280.0
    w = float(surface.vol(1325, t2)) ** 2 * t2 - float(surface.vol(1325, t1)) ** 2 * t1
    fwd = s * float(surface.forward(t2)) / float(surface.forward(t1))
    rate = -math.log(float(surface.discount(t2)) / float(surface.discount(t1))) / (t2 - t1)
    far = sg.price("call", fwd, 1325, t2 - t1, math.sqrt(w / (t2 - t1)), rate, model="black76")
    near = max(s - 1300, 0.0)
    want = (far - near) * 100
    assert dia.pnl_at_first_expiry(surface, s) == pytest.approx(want, rel=1e-12)


def test_bad_input(surface: sg.Surface, chain: sg.Chain) -> None:
    with pytest.raises(InputError, match="beyond the surface"):
        st.bull_put_spread(1250, 1200, 5.0).value(surface)
    with pytest.raises(InputError, match="one underlying"):
        sg.Package([sg.Leg.call(1300, 0.1, symbol="SPX"), sg.Leg.put(1200, 0.1, symbol="NDX")])
    with pytest.raises(InputError, match="NDX"):
        sg.Package([sg.Leg.call(1300, 0.1, -1, symbol="NDX")]).value(surface)
    with pytest.raises(InputError, match="zero"):
        sg.Leg.call(1300, 0.1, 0)
    with pytest.raises(InputError, match="strike"):
        sg.Leg.put(-5, 0.1)
    k = np.array([[1.0, 2.0]])
    with pytest.raises(InputError, match=r"kind.*\(0, 1\)"):
        value_packages(surface, k, [[1200.0, 1300.0]], [[0.1, 0.1]], [[1.0, -1.0]])
    with pytest.raises(InputError, match="premium"):
        value_packages(surface, [[1.0]], [[1200.0]], [[0.1]], [[1.0]], premium=[np.nan])
    with pytest.raises(InputError, match="expired"):
        st.bull_put_spread(1250, 1200, "2010-12-17").value(surface)


@settings(max_examples=60, deadline=None)
@given(
    legs=hs.lists(
        hs.tuples(
            hs.sampled_from(["call", "put"]),
            hs.integers(40, 56).map(lambda x: 25.0 * x),
            hs.integers(-2, 2).filter(lambda q: q != 0),
        ),
        min_size=1,
        max_size=4,
    ),
    premium=hs.floats(-40, 40),
)
def test_pop_sums_profitable_mass(surface: sg.Surface, legs, premium) -> None:
    """PoP equals the surface probability of the profitable region found by dense sampling."""
    t = surface.chain.year_fraction(EXPIRY)
    pkg = sg.Package([sg.Leg(k, s, EXPIRY, q) for k, s, q in legs])
    grid = np.linspace(300.0, 3000.0, 54_001)
    pnl = np.asarray(pkg.payoff(grid, premium, per_unit=True))
    cdf = np.asarray(surface.prob_below(grid, t))
    mid_cdf = np.diff(cdf)
    win = (pnl[:-1] > 1e-9) & (pnl[1:] > 1e-9)
    approx = float(mid_cdf[win].sum())
    # Beyond the grid: the tails' mass where the payoff there is positive.
    approx += float(cdf[0]) * (pkg.payoff(1.0, premium) > 1e-9)
    approx += (1 - float(cdf[-1])) * (pkg.payoff(1e5, premium) > 1e-9)
    exact = pkg.pop(surface, premium)
    assert exact == pytest.approx(approx, abs=5e-3)


def test_leg_values_are_the_kernels_per_leg_outputs(surface: sg.Surface) -> None:
    from strikegrid import _core

    t = surface.chain.year_fraction(EXPIRY)
    ks = np.array([1150.0, 1250.0, 1350.0])
    kinds = np.array([-1.0, 1.0, 1.0])
    vals = _core.leg_values(*surface.kernel_market(), kinds.tolist(), ks.tolist(), [t] * 3)
    out = value_packages(surface, kinds[:, None], ks[:, None], t, np.ones((3, 1)), per_leg=True)
    names = ("vol", "price", "delta", "gamma", "vega", "theta", "rho", "forward", "discount")
    for row, name in zip(vals, names):
        assert np.array_equal(row, out[f"leg_{name}"][:, 0]), name
    assert np.allclose(vals[7], surface.forward(t), rtol=1e-14)
    assert np.allclose(vals[8], surface.discount(t), rtol=1e-14)
    with pytest.raises(InputError, match="beyond"):
        _core.leg_values(*surface.kernel_market(), [1.0], [1200.0], [9.0])


def test_quotes_and_auctions_take_frames(chain: sg.Chain, surface: sg.Surface) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.read_csv(sg.sample.sample_chain_path())
    pkg = st.iron_condor(1150, 1200, 1325, 1375, EXPIRY)
    assert pkg.quote(frame)[:6] == pytest.approx(pkg.quote(chain)[:6])
    request = sg.rfq.Request(pkg, 10)
    dealers = sg.rfq.panel(surface, 3)
    a = sg.rfq.run_auction(request, dealers, chain=frame, seed=3)
    b = sg.rfq.run_auction(request, dealers, chain=chain, seed=3)
    assert a.price == b.price

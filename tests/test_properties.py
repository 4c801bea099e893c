"""Property-based tests (hypothesis) for European prices and greeks of all four models.

Inputs are drawn over wide ranges: spot 1e-2..1e4, strike/spot 0.2..5, expiry 1e-4..30 years,
vol 1e-3..3, rate -0.05..0.2, div 0..0.1 (bsm only).  The Bachelier vol is a normal vol in price
units, drawn as (that relative vol) * |forward|, and its forwards and strikes may be negative.

The runs are derandomised so that CI is reproducible; set STRIKEGRID_THOROUGH=1 for a longer,
randomised search.
"""

from __future__ import annotations

import math
import os
from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import strikegrid as sg

EPS = float(np.finfo(np.float64).eps)
MODELS = ("bsm", "black76", "bachelier", "inverse")
# The documented order of the outputs (checked against a literal list in test_api.py).
GREEKS = sg.GREEKS

THOROUGH = os.environ.get("STRIKEGRID_THOROUGH") == "1"


def _settings(n: int) -> settings:
    return settings(
        max_examples=10 * n if THOROUGH else n,
        deadline=None,
        database=None,
        derandomize=not THOROUGH,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


class Mkt(NamedTuple):
    model: str
    kind: str
    spot: float
    strike: float
    expiry: float
    vol: float
    rate: float
    div: float

    @property
    def phi(self) -> int:
        return 1 if self.kind == "call" else -1

    def args(self) -> tuple[float, ...]:
        return (self.spot, self.strike, self.expiry, self.vol, self.rate, self.div)

    def __repr__(self) -> str:  # compact and copy-pasteable in failure reports
        return (
            f"sg.price({self.kind!r}, {self.spot!r}, {self.strike!r}, {self.expiry!r}, "
            f"{self.vol!r}, {self.rate!r}, {self.div!r}, model={self.model!r})"
        )


def _logfloat(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(math.log(lo), math.log(hi)).map(lambda x: min(max(math.exp(x), lo), hi))


@st.composite
def markets(
    draw: st.DrawFn,
    model: str | None = None,
    kind: str | None = None,
    zero_rates: bool = False,
    expiry: float | None = None,
    away_from_atm: bool = False,
) -> Mkt:
    model = draw(st.sampled_from(MODELS)) if model is None else model
    kind = draw(st.sampled_from(["call", "put"])) if kind is None else kind
    spot = draw(_logfloat(1e-2, 1e4))
    if away_from_atm:
        ratio = draw(st.one_of(_logfloat(0.2, 0.95), _logfloat(1.05, 5.0)))
    else:
        ratio = draw(_logfloat(0.2, 5.0))
    t = draw(_logfloat(1e-4, 30.0)) if expiry is None else expiry
    vol = draw(_logfloat(1e-3, 3.0))
    rate = 0.0 if zero_rates else draw(st.floats(-0.05, 0.2))
    div = draw(st.floats(0.0, 0.1)) if (model == "bsm" and not zero_rates) else 0.0
    strike = spot * ratio
    if model == "bachelier":
        vol = vol * spot
        if draw(st.booleans()):  # negative forward, strike on either side of zero
            spot, strike = -spot, spot * (ratio - 2.0)
    return Mkt(model, kind, spot, strike, t, vol, rate, div)


# ------------------------------------------------------------------------------ helpers


def _price(m: Mkt, kind: object | None = None, **over: object) -> np.ndarray:
    a = dict(zip(("spot", "strike", "expiry", "vol", "rate", "div"), m.args()))
    a.update(over)
    return np.asarray(
        sg.price(
            m.kind if kind is None else kind,
            a["spot"],
            a["strike"],
            a["expiry"],
            a["vol"],
            a["rate"],
            a["div"],
            model=m.model,
        ),
        dtype=float,
    )


def _forward(m: Mkt) -> float:
    if m.model == "bsm":
        return m.spot * math.exp((m.rate - m.div) * m.expiry)
    return m.spot


def _scale(m: Mkt) -> float:
    """Natural size of premiums for this market (sum of the magnitudes of the two legs)."""
    dr = math.exp(-m.rate * m.expiry)
    if m.model == "bsm":
        return m.spot * math.exp(-m.div * m.expiry) + m.strike * dr
    if m.model == "black76":
        return dr * (m.spot + m.strike)
    if m.model == "bachelier":
        return dr * (abs(m.spot) + abs(m.strike) + m.vol * math.sqrt(m.expiry))
    return dr * (1.0 + m.strike / m.spot)


def _disc_intrinsic(m: Mkt, phi: int) -> float:
    """Discounted intrinsic value of the forward: the zero-vol value and a lower bound."""
    dr = math.exp(-m.rate * m.expiry)
    if m.model == "bsm":
        return max(phi * (m.spot * math.exp(-m.div * m.expiry) - m.strike * dr), 0.0)
    if m.model == "inverse":
        return dr * max(phi * (1.0 - m.strike / m.spot), 0.0)
    return dr * max(phi * (m.spot - m.strike), 0.0)


# ------------------------------------------------------------------------------ parity, bounds


@_settings(400)
@given(markets())
def test_put_call_parity(m: Mkt) -> None:
    c = float(_price(m, "call"))
    p = float(_price(m, "put"))
    dr = math.exp(-m.rate * m.expiry)
    if m.model == "bsm":
        fwd = m.spot * math.exp(-m.div * m.expiry) - m.strike * dr
    elif m.model == "inverse":
        fwd = dr * (1.0 - m.strike / m.spot)
    else:
        fwd = dr * (m.spot - m.strike)
    assert abs((c - p) - fwd) <= 1e-12 * _scale(m), (m, c, p, fwd)


@_settings(400)
@given(markets())
def test_price_bounds(m: Mkt) -> None:
    v = float(_price(m))
    slack = 1e-12 * _scale(m)
    dr = math.exp(-m.rate * m.expiry)
    lower = _disc_intrinsic(m, m.phi)
    if m.model == "bsm":
        upper = m.spot * math.exp(-m.div * m.expiry) if m.phi > 0 else m.strike * dr
    elif m.model == "black76":
        upper = dr * (m.spot if m.phi > 0 else m.strike)
    elif m.model == "inverse":
        upper = dr * (1.0 if m.phi > 0 else m.strike / m.spot)
    else:  # normal model: time value is largest at the money, where it is sigma sqrt(T) n(0)
        upper = lower + dr * m.vol * math.sqrt(m.expiry) / math.sqrt(2.0 * math.pi)
    assert v >= 0.0, (m, v)
    assert lower - slack <= v <= upper + slack, (m, v, lower, upper)


@_settings(150)
@given(markets(model="bachelier"))
def test_bachelier_reflection(m: Mkt) -> None:
    """Normal model: a call on (F, K) is worth the put on (-F, -K)."""
    c = float(_price(m, "call"))
    p = float(_price(m, "put", spot=-m.spot, strike=-m.strike))
    assert abs(c - p) <= 1e-13 * _scale(m), (m, c, p)


@_settings(150)
@given(markets(model="inverse"))
def test_inverse_is_black76_over_forward(m: Mkt) -> None:
    inv = float(_price(m))
    b76 = float(sg.price(m.kind, *m.args(), model="black76"))
    assert abs(inv * m.spot - b76) <= 1e-13 * _scale(m) * m.spot, (m, inv, b76)


@_settings(150)
@given(markets(model="bsm"))
def test_bsm_equals_black76_on_the_forward(m: Mkt) -> None:
    v = float(_price(m))
    fwd = _forward(m)
    b76 = float(sg.price(m.kind, fwd, m.strike, m.expiry, m.vol, m.rate, model="black76"))
    assert abs(v - b76) <= 1e-12 * _scale(m), (m, v, b76)


# ------------------------------------------------------------------------------ monotonicity

STRIKE_STEPS = np.array([0.5, 0.7, 0.9, 0.97, 1.0, 1.03, 1.1, 1.4, 2.0])
VOL_STEPS = np.array([0.25, 0.5, 0.8, 0.95, 1.0, 1.05, 1.25, 2.0, 4.0])
EXPIRY_STEPS = np.array([0.01, 0.1, 0.5, 0.9, 1.0, 1.1, 2.0])


@_settings(300)
@given(markets())
def test_monotone_in_strike(m: Mkt) -> None:
    if m.model == "bachelier":
        strikes = m.strike + abs(m.spot) * (STRIKE_STEPS - 1.0)
    else:
        strikes = m.strike * STRIKE_STEPS
    slack = 1e-13 * _scale(m._replace(strike=float(strikes[-1])))
    c = _price(m, "call", strike=strikes)
    p = _price(m, "put", strike=strikes)
    assert np.all(np.diff(c) <= slack), (m, strikes, c)
    assert np.all(np.diff(p) >= -slack), (m, strikes, p)


@_settings(300)
@given(markets())
def test_monotone_in_vol(m: Mkt) -> None:
    vols = m.vol * VOL_STEPS
    v = _price(m, vol=vols)
    assert np.all(np.diff(v) >= -1e-13 * _scale(m)), (m, vols, v)


@_settings(300)
@given(markets(zero_rates=True))
def test_monotone_in_expiry_without_carry(m: Mkt) -> None:
    ts = m.expiry * EXPIRY_STEPS
    v = _price(m, expiry=ts)
    assert np.all(np.diff(v) >= -1e-13 * _scale(m)), (m, ts, v)


# ------------------------------------------------------------------------------ greeks vs FD
#
# Each greek is compared with a fourth-order central difference of sg.price (a nested pair of
# them for the mixed greeks).  Steps are a small fraction of the distance over which the price
# changes appreciably in that input ("L" below: e.g. S sigma sqrt(T) / (1 + |d|) for the spot),
# so truncation error is ~1e-10 relative; rounding error is bounded by (sum of |stencil
# coefficients|) * (price rounding error) / step**order and allowed for explicitly.

D1 = (np.array([-2.0, -1.0, 1.0, 2.0]), np.array([1.0, -8.0, 8.0, -1.0]) / 12.0)
D2 = (np.array([-2.0, -1.0, 0.0, 1.0, 2.0]), np.array([-1.0, 16.0, -30.0, 16.0, -1.0]) / 12.0)
D1_FWD = (np.array([0.0, 1.0, 2.0, 3.0, 4.0]), np.array([-25.0, 48.0, -36.0, 16.0, -3.0]) / 12.0)

IDX = {"spot": 0, "strike": 1, "expiry": 2, "vol": 3, "rate": 4, "div": 5}

# greek -> (sign, inputs differentiated)
FD_SPEC: dict[str, tuple[int, tuple[str, ...]]] = {
    "price": (1, ()),
    "delta": (1, ("spot",)),
    "gamma": (1, ("spot", "spot")),
    "vega": (1, ("vol",)),
    "theta": (-1, ("expiry",)),
    "rho": (1, ("rate",)),
    "epsilon": (1, ("div",)),
    "vanna": (1, ("spot", "vol")),
    "volga": (1, ("vol", "vol")),
    "charm": (-1, ("spot", "expiry")),
    "dual_delta": (1, ("strike",)),
    "dual_gamma": (1, ("strike", "strike")),
}


def _natural_lengths(m: Mkt) -> dict[str, float]:
    sq = math.sqrt(m.expiry)
    s = m.vol * sq
    if m.model == "bachelier":
        d = abs(m.spot - m.strike) / s
        lx = s / (1.0 + d)
        return {
            "spot": lx,
            "strike": lx,
            "vol": m.vol / (1.0 + d) ** 2,
            "expiry": m.expiry / ((1.0 + d) ** 2 + abs(m.rate) * m.expiry),
            "rate": min(1.0, 1.0 / m.expiry),
            "div": 1.0,
        }
    d = abs(math.log(_forward(m) / m.strike)) / s + s
    carry = (m.rate - m.div) if m.model == "bsm" else 0.0
    # in bsm a rate move shifts d by T * dr / s as well as discounting
    lr = min(1.0, 1.0 / m.expiry, s / (m.expiry * (1.0 + d)) if m.model == "bsm" else 1.0)
    return {
        "spot": m.spot * s / (1.0 + d),
        "strike": m.strike * s / (1.0 + d),
        "vol": m.vol / (1.0 + d) ** 2,
        "expiry": m.expiry
        / (
            (1.0 + d) ** 2
            + (1.0 + d) * abs(carry) * m.expiry / s
            + (abs(m.rate) + abs(m.div)) * m.expiry
        ),
        "rate": lr,
        "div": lr,
    }


def _stencil(m: Mkt, name: str, h: float, first_order: bool):
    if first_order and name == "div" and m.div < 2.5 * h:
        return D1_FWD  # keep the dividend yield non-negative
    return D1 if first_order else D2


def _fd_greeks(m: Mkt) -> tuple[dict[str, float], dict[str, float]]:
    """Finite-difference greeks from one vectorised sg.price call, with error allowances."""
    lengths = _natural_lengths(m)
    base = np.array(m.args(), dtype=float)
    points: list[np.ndarray] = [base.copy()]
    plan: dict[str, tuple[list[tuple[int, float]], float, float]] = {}

    def add(offsets: list[tuple[dict[int, float], float]]) -> list[tuple[int, float]]:
        out = []
        for shift, coef in offsets:
            p = base.copy()
            for j, dx in shift.items():
                p[j] += dx
            points.append(p)
            out.append((len(points) - 1, coef))
        return out

    for greek, (_sign, wrt) in FD_SPEC.items():
        if greek == "price" or (greek == "epsilon" and m.model != "bsm"):
            continue
        if len(wrt) == 1 or wrt[0] == wrt[1]:
            name = wrt[0]
            first = len(wrt) == 1
            h = (1e-3 if first else 1e-2) * lengths[name]
            nodes, coefs = _stencil(m, name, h, first)
            terms = add([({IDX[name]: k * h}, c) for k, c in zip(nodes, coefs)])
            order = 1 if first else 2
            plan[greek] = (terms, h**order, lengths[name] ** order)
        else:
            a, b = wrt
            ha, hb = 1e-2 * lengths[a], 1e-2 * lengths[b]
            nodes, coefs = D1
            offs = []
            for ka, ca in zip(nodes, coefs):
                for kb, cb in zip(nodes, coefs):
                    offs.append(({IDX[a]: ka * ha, IDX[b]: kb * hb}, ca * cb))
            plan[greek] = (add(offs), ha * hb, lengths[a] * lengths[b])

    pts = np.array(points)
    vals = np.asarray(sg.price(m.kind, *(pts[:, j] for j in range(6)), model=m.model), dtype=float)
    assert np.all(np.isfinite(vals)), (m, "non-finite price near", pts[~np.isfinite(vals)])

    price_err = 8 * EPS * _scale(m)  # absolute rounding error allowed in one price
    value = float(vals[0])
    time_value = max(value - _disc_intrinsic(m, m.phi), 0.0) + 1e-300
    fd: dict[str, float] = {"price": value}
    allow: dict[str, float] = {"price": 4 * price_err}
    for greek, (terms, denom, length_pow) in plan.items():
        sign = FD_SPEC[greek][0]
        fd[greek] = sign * sum(c * vals[i] for i, c in terms) / denom
        rounding = sum(abs(c) for _, c in terms) * price_err / denom
        truncation = 1e-7 * (time_value + 1e-3 * value) / length_pow
        allow[greek] = 10 * rounding + truncation
    if m.model != "bsm":
        fd["epsilon"], allow["epsilon"] = 0.0, 0.0
    return fd, allow


@pytest.mark.parametrize("model", MODELS)
@_settings(150)
@given(data=st.data())
def test_greeks_match_finite_differences(model: str, data: st.DataObject) -> None:
    m = data.draw(markets(model=model), label="market")
    names = list(GREEKS) + (["delta_pa"] if model == "inverse" else [])
    g = sg.greeks(m.kind, *m.args(), model=model, which=names)
    fd, allow = _fd_greeks(m)
    if model == "inverse":
        fd["delta_pa"] = m.spot * fd["delta"]
        allow["delta_pa"] = m.spot * allow["delta"]
    bad = []
    for name in names:
        got = float(np.asarray(g[name]))
        tol = 1e-6 * abs(got) + allow[name]
        if not abs(got - fd[name]) <= tol:
            bad.append(
                f"{name}: sg={got!r} fd={fd[name]!r} diff={abs(got - fd[name]):.3e} tol={tol:.3e}"
            )
    assert not bad, f"{m}\n" + "\n".join(bad)


# ------------------------------------------------------------------------------ limits


def _expiry_zero_expected(m: Mkt) -> dict[str, float]:
    """Exact T -> 0+ limits off the money (raw partials of the limiting value)."""
    phi, s, k = m.phi, m.spot, m.strike
    itm = phi * (s - k) > 0
    if m.model == "inverse":
        if not itm:
            return dict.fromkeys((*GREEKS, "delta_pa"), 0.0)
        return {
            "price": phi * (1.0 - k / s),
            "delta": phi * k / s**2,
            "gamma": -2.0 * phi * k / s**3,
            "vega": 0.0,
            "theta": m.rate * phi * (1.0 - k / s),
            "rho": 0.0,
            "epsilon": 0.0,
            "vanna": 0.0,
            "volga": 0.0,
            "charm": phi * m.rate * k / s**2,
            "dual_delta": -phi / s,
            "dual_gamma": 0.0,
            "delta_pa": phi * k / s,
        }
    if not itm:
        return dict.fromkeys(GREEKS, 0.0)
    if m.model == "bsm":
        theta, charm = phi * (m.div * s - m.rate * k), phi * m.div
    else:
        theta, charm = m.rate * phi * (s - k), phi * m.rate
    return {
        "price": phi * (s - k),
        "delta": float(phi),
        "gamma": 0.0,
        "vega": 0.0,
        "theta": theta,
        "rho": 0.0,
        "epsilon": 0.0,
        "vanna": 0.0,
        "volga": 0.0,
        "charm": charm,
        "dual_delta": float(-phi),
        "dual_gamma": 0.0,
    }


def _greeks_at(m: Mkt) -> dict[str, float]:
    names = list(GREEKS) + (["delta_pa"] if m.model == "inverse" else [])
    g = sg.greeks(m.kind, *m.args(), model=m.model, which=names)
    return {n: float(np.asarray(g[n])) for n in names}


@_settings(300)
@given(markets(expiry=0.0, away_from_atm=True))
def test_expiry_zero_intrinsic_and_first_order_limits(m: Mkt) -> None:
    got = _greeks_at(m)
    exp = _expiry_zero_expected(m)
    assert all(math.isfinite(v) for v in got.values()), (m, got)
    assert float(_price(m)) == pytest.approx(exp["price"], rel=1e-14, abs=1e-300), m
    for n in ("price", "delta", "gamma", "vega") + (("delta_pa",) if m.model == "inverse" else ()):
        assert got[n] == pytest.approx(exp[n], rel=1e-13, abs=1e-300), (m, n, got[n], exp[n])


@_settings(300)
@given(markets(expiry=0.0, away_from_atm=True))
def test_expiry_zero_other_limits(m: Mkt) -> None:
    """theta, rho, charm, ... at T = 0 equal their T -> 0+ limits (finite, often 0)."""
    got = _greeks_at(m)
    exp = _expiry_zero_expected(m)
    bad = {
        n: (got[n], exp[n])
        for n in got
        if not got[n] == pytest.approx(exp[n], rel=1e-12, abs=1e-300)
    }
    assert not bad, (m, bad)


@_settings(200)
@given(markets(away_from_atm=True))
def test_zero_vol_is_discounted_forward_intrinsic(m: Mkt) -> None:
    fwd = _forward(m)
    if m.model == "bachelier":
        if abs(fwd - m.strike) < 1e-6 * abs(fwd):
            return
    elif abs(math.log(fwd / m.strike)) < 1e-6:
        return
    m0 = m._replace(vol=0.0)
    v = float(_price(m0))
    assert v == pytest.approx(_disc_intrinsic(m0, m.phi), rel=1e-12, abs=1e-14 * _scale(m)), m0
    got = _greeks_at(m0)
    assert all(math.isfinite(x) for x in got.values()), (m0, got)
    assert got["gamma"] == 0.0 or m.model == "inverse", (m0, got)
    assert got["vega"] == 0.0, (m0, got)

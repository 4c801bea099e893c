"""sg.implied_vol: round trips to 1e-12, statuses, NaN outside the no-arbitrage bounds.

Resolvability criterion (when a round trip must hold): the premium's elasticity to vol,
``d ln V / d ln vol = vega * vol / V``, is at least 1e-2, so that a relative change of 1e-12 in
vol moves the premium by 1e-14 relative (about 45 ulps, room for the few ulps of rounding a
computed premium carries); and the premium is a normal double (> 1e-300). Below that, the
premium no longer determines vol to 1e-12 in double precision.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import strikegrid as sg

RESOLVABLE = 1e-2


def _resolvable(
    kind: str, s: float, k: float, t: float, v: float, r: float, q: float, model: str
) -> bool:
    g = sg.greeks(kind, s, k, t, v, r, q, model=model, which=["price", "vega"])
    p, vega = g["price"], g["vega"]
    assert isinstance(p, float) and isinstance(vega, float)
    return p > 1e-300 and vega * v / p >= RESOLVABLE


@settings(max_examples=600, deadline=None, derandomize=True, database=None)
@given(
    model=st.sampled_from(["bsm", "black76", "inverse"]),
    kind=st.sampled_from(["call", "put"]),
    vol=st.floats(0.001, 5.0),
    t=st.floats(1.0 / 8760.0, 30.0),
    m=st.floats(-8.0, 8.0),
    r=st.floats(-0.02, 0.1),
    q=st.floats(0.0, 0.08),
)
def test_lognormal_round_trip(
    model: str, kind: str, vol: float, t: float, m: float, r: float, q: float
) -> None:
    q = q if model == "bsm" else 0.0
    spot = 100.0
    k = spot * math.exp(-m * vol * math.sqrt(t))  # |ln(F/K)| up to 8 vol sqrt(T)
    if not _resolvable(kind, spot, k, t, vol, r, q, model):
        return
    p = sg.price(kind, spot, k, t, vol, r, q, model=model)
    got, status = sg.implied_vol(p, kind, spot, k, t, r, q, model=model, return_status=True)
    assert status == 0
    assert abs(got - vol) <= 1e-12 * vol, (got, vol, p)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(
    kind=st.sampled_from(["call", "put"]),
    vol=st.floats(1e-4, 2.0),
    t=st.floats(1.0 / 8760.0, 30.0),
    m=st.floats(-8.0, 8.0),
    fwd=st.floats(-0.05, 0.2),
)
def test_bachelier_round_trip(kind: str, vol: float, t: float, m: float, fwd: float) -> None:
    k = fwd + m * vol * math.sqrt(t)
    if not _resolvable(kind, fwd, k, t, vol, 0.01, 0.0, "bachelier"):
        return
    p = sg.price(kind, fwd, k, t, vol, 0.01, model="bachelier")
    got = sg.implied_vol(p, kind, fwd, k, t, 0.01, model="bachelier")
    assert abs(got - vol) <= 1e-12 * vol, (got, vol, p)


def test_arrays_broadcast_and_match_scalars() -> None:
    rng = np.random.default_rng(5)
    n = 50_000
    s = rng.uniform(80, 120, n)
    k = rng.uniform(50, 150, n)
    t = rng.uniform(0.02, 2, n)
    v = rng.uniform(0.05, 0.8, n)
    kind = rng.random(n) < 0.5
    p = sg.price(kind, s, k, t, v, 0.03, 0.01)
    got = sg.implied_vol(p, kind, s, k, t, 0.03, 0.01)
    vega = sg.greeks(kind, s, k, t, v, 0.03, 0.01, which="vega")["vega"]
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = (np.asarray(p) > 1e-300) & (np.asarray(vega) * v / np.asarray(p) >= RESOLVABLE)
    assert np.all(np.abs(got[ok] - v[ok]) <= 1e-12 * v[ok])
    assert not np.isnan(got[ok]).any()
    for i in range(0, n, 5000):
        one = sg.implied_vol(float(p[i]), bool(kind[i]), s[i], k[i], t[i], 0.03, 0.01)
        assert one == got[i] or (math.isnan(one) and math.isnan(got[i]))
    grid = sg.implied_vol(10.0, "call", 100.0, np.array([[90.0], [100.0]]), np.array([0.5, 1.0]))
    assert grid.shape == (2, 2)


def test_no_volatility_gives_nan_and_a_reason() -> None:
    # Call, F = 100, K = 90, no discounting: intrinsic 10, upper bound 100.
    prem = np.array([9.0, 10.0, 12.0, 100.0, 150.0, np.nan])
    vol, status = sg.implied_vol(
        prem, "c", 100.0, 90.0, 1.0, model="black76", return_status=True, errors="nan"
    )
    assert np.isnan(vol[0]) and status[0] == 1
    assert vol[1] == 0.0 and status[1] == 0
    assert vol[2] > 0 and status[2] == 0
    assert np.isnan(vol[3]) and status[3] == 2
    assert np.isnan(vol[4]) and status[4] == 2
    assert np.isnan(vol[5]) and status[5] == 3
    assert set(sg.IV_STATUS) == {0, 1, 2, 3, 4, 5}
    # Expiry 0: intrinsic premium fits every vol; anything else none.
    v0, s0 = sg.implied_vol(10.0, "c", 100.0, 90.0, 0.0, model="black76", return_status=True)
    assert math.isnan(v0) and s0 == 4


def test_invalid_inputs_raise_or_nan() -> None:
    with pytest.raises(ValueError, match=r"expiry.*index 1"):
        sg.implied_vol(5.0, "call", 100.0, 100.0, np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="premium"):
        sg.implied_vol(np.array([5.0, np.nan]), "call", 100.0, 100.0, 1.0)
    out = sg.implied_vol(5.0, "call", 100.0, 100.0, np.array([1.0, -1.0]), errors="nan")
    assert not math.isnan(out[0]) and math.isnan(out[1])


def test_tiny_premiums_are_inverted() -> None:
    # Normalised premiums near 1e-250 still invert.
    for k, t, v in [(150.0, 0.0145, 0.1), (300.0, 0.05, 0.2)]:
        p = sg.price("call", 100.0, k, t, v, model="black76")
        assert 0.0 < p < 1e-120
        got = sg.implied_vol(p, "call", 100.0, k, t, model="black76")
        assert abs(got - v) <= 1e-12 * v


def test_inverse_model_takes_coin_premiums() -> None:
    p = sg.price("put", 94_000.0, 80_000.0, 0.25, 0.6, model="inverse")
    assert sg.implied_vol(p, "put", 94_000.0, 80_000.0, 0.25, model="inverse") == pytest.approx(
        0.6, rel=1e-13
    )

"""European prices and greeks against published figures and an independent mpmath reference.

1. Published values: E. G. Haug, "Option Pricing Formulas" (McGraw-Hill, 1998; the same examples
   appear in "The Complete Guide to Option Pricing Formulas", 2nd ed., 2007), as tabulated with
   their tolerances in QuantLib's test-suite/europeanoption.cpp (testValues, testGreekValues).
   Only the published numbers are used here.
2. ``tests/reference.py`` (mpmath, 50 digits) on a grid over all four models, calls and puts,
   ITM / ATM / OTM, short and long expiries, and deep out-of-the-money prices to full relative
   accuracy; the normal CDF/PDF in both tails.

Tolerances.  Where a quantity is ill-conditioned (deep OTM, short expiry) no float64 algorithm
can do better than ``eps * kappa``, kappa being the sensitivity of the result to relative
perturbations of the inputs (``reference.condition``).  Each check therefore allows a fixed
relative error (1e-12 for prices, 1e-10 for greeks) plus a small multiple of ``eps * kappa``;
for well-conditioned inputs that extra term is negligible.
"""

from __future__ import annotations

import math
import os
import sys
from functools import cache

import numpy as np
import pytest

import strikegrid as sg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference as ref

EPS = float(np.finfo(np.float64).eps)
TINY = 1e-300  # below this a float64 result may legitimately underflow

# ---------------------------------------------------------------------------------------------
# 1. Published values (Haug), copied from the tables in QuantLib test-suite/europeanoption.cpp.
#    QuantLib builds the expiry as round(t * 360) days on Actual/360, which reproduces every t
#    below exactly.  For each row: kind, strike, spot, q, r, t, vol, value, tolerance.
# ---------------------------------------------------------------------------------------------

HAUG_VALUES = [
    # Haug pp. 2-8
    ("call", 65.00, 60.00, 0.00, 0.08, 0.25, 0.30, 2.1334, 1.0e-4),
    ("put", 95.00, 100.00, 0.05, 0.10, 0.50, 0.20, 2.4648, 1.0e-4),
    ("put", 19.00, 19.00, 0.10, 0.10, 0.75, 0.28, 1.7011, 1.0e-4),
    ("call", 19.00, 19.00, 0.10, 0.10, 0.75, 0.28, 1.7011, 1.0e-4),
    ("call", 1.60, 1.56, 0.08, 0.06, 0.50, 0.12, 0.0291, 1.0e-4),
    ("put", 70.00, 75.00, 0.05, 0.10, 0.50, 0.35, 4.0870, 1.0e-4),
    # Haug p. 24
    ("call", 100.00, 90.00, 0.10, 0.10, 0.10, 0.15, 0.0205, 1.0e-4),
    ("call", 100.00, 100.00, 0.10, 0.10, 0.10, 0.15, 1.8734, 1.0e-4),
    ("call", 100.00, 110.00, 0.10, 0.10, 0.10, 0.15, 9.9413, 1.0e-4),
    ("call", 100.00, 90.00, 0.10, 0.10, 0.10, 0.25, 0.3150, 1.0e-4),
    ("call", 100.00, 100.00, 0.10, 0.10, 0.10, 0.25, 3.1217, 1.0e-4),
    ("call", 100.00, 110.00, 0.10, 0.10, 0.10, 0.25, 10.3556, 1.0e-4),
    ("call", 100.00, 90.00, 0.10, 0.10, 0.10, 0.35, 0.9474, 1.0e-4),
    ("call", 100.00, 100.00, 0.10, 0.10, 0.10, 0.35, 4.3693, 1.0e-4),
    ("call", 100.00, 110.00, 0.10, 0.10, 0.10, 0.35, 11.1381, 1.0e-4),
    ("call", 100.00, 90.00, 0.10, 0.10, 0.50, 0.15, 0.8069, 1.0e-4),
    ("call", 100.00, 100.00, 0.10, 0.10, 0.50, 0.15, 4.0232, 1.0e-4),
    ("call", 100.00, 110.00, 0.10, 0.10, 0.50, 0.15, 10.5769, 1.0e-4),
    ("call", 100.00, 90.00, 0.10, 0.10, 0.50, 0.25, 2.7026, 1.0e-4),
    ("call", 100.00, 100.00, 0.10, 0.10, 0.50, 0.25, 6.6997, 1.0e-4),
    ("call", 100.00, 110.00, 0.10, 0.10, 0.50, 0.25, 12.7857, 1.0e-4),
    ("call", 100.00, 90.00, 0.10, 0.10, 0.50, 0.35, 4.9329, 1.0e-4),
    ("call", 100.00, 100.00, 0.10, 0.10, 0.50, 0.35, 9.3679, 1.0e-4),
    ("call", 100.00, 110.00, 0.10, 0.10, 0.50, 0.35, 15.3086, 1.0e-4),
    ("put", 100.00, 90.00, 0.10, 0.10, 0.10, 0.15, 9.9210, 1.0e-4),
    ("put", 100.00, 100.00, 0.10, 0.10, 0.10, 0.15, 1.8734, 1.0e-4),
    ("put", 100.00, 110.00, 0.10, 0.10, 0.10, 0.15, 0.0408, 1.0e-4),
    ("put", 100.00, 90.00, 0.10, 0.10, 0.10, 0.25, 10.2155, 1.0e-4),
    ("put", 100.00, 100.00, 0.10, 0.10, 0.10, 0.25, 3.1217, 1.0e-4),
    ("put", 100.00, 110.00, 0.10, 0.10, 0.10, 0.25, 0.4551, 1.0e-4),
    ("put", 100.00, 90.00, 0.10, 0.10, 0.10, 0.35, 10.8479, 1.0e-4),
    ("put", 100.00, 100.00, 0.10, 0.10, 0.10, 0.35, 4.3693, 1.0e-4),
    ("put", 100.00, 110.00, 0.10, 0.10, 0.10, 0.35, 1.2376, 1.0e-4),
    ("put", 100.00, 90.00, 0.10, 0.10, 0.50, 0.15, 10.3192, 1.0e-4),
    ("put", 100.00, 100.00, 0.10, 0.10, 0.50, 0.15, 4.0232, 1.0e-4),
    ("put", 100.00, 110.00, 0.10, 0.10, 0.50, 0.15, 1.0646, 1.0e-4),
    ("put", 100.00, 90.00, 0.10, 0.10, 0.50, 0.25, 12.2149, 1.0e-4),
    ("put", 100.00, 100.00, 0.10, 0.10, 0.50, 0.25, 6.6997, 1.0e-4),
    ("put", 100.00, 110.00, 0.10, 0.10, 0.50, 0.25, 3.2734, 1.0e-4),
    ("put", 100.00, 90.00, 0.10, 0.10, 0.50, 0.35, 14.4452, 1.0e-4),
    ("put", 100.00, 100.00, 0.10, 0.10, 0.50, 0.35, 9.3679, 1.0e-4),
    ("put", 100.00, 110.00, 0.10, 0.10, 0.50, 0.35, 5.7963, 1.0e-4),
    # Haug p. 27
    ("call", 40.00, 42.00, 0.08, 0.04, 0.75, 0.35, 5.0975, 1.0e-4),
]

# Haug pp. 11-16 (QuantLib testGreekValues; tolerance 1e-4 for every figure).
# greek, kind, strike, spot, q, r, t, vol, value.  "theta_per_day" is theta / 365 and
# "elasticity" is delta * spot / price.  QuantLib's dividendRho is dV/dq, i.e. our epsilon.
HAUG_GREEKS = [
    ("delta", "call", 100.00, 105.00, 0.10, 0.10, 0.5, 0.36, 0.5946),
    ("delta", "put", 100.00, 105.00, 0.10, 0.10, 0.5, 0.36, -0.3566),
    ("elasticity", "put", 100.00, 105.00, 0.10, 0.10, 0.5, 0.36, -4.8775),
    ("gamma", "call", 60.00, 55.00, 0.00, 0.10, 0.75, 0.30, 0.0278),
    ("gamma", "put", 60.00, 55.00, 0.00, 0.10, 0.75, 0.30, 0.0278),
    ("vega", "call", 60.00, 55.00, 0.00, 0.10, 0.75, 0.30, 18.9358),
    ("vega", "put", 60.00, 55.00, 0.00, 0.10, 0.75, 0.30, 18.9358),
    ("theta", "put", 405.00, 430.00, 0.05, 0.07, 1.0 / 12.0, 0.20, -31.1924),
    ("theta_per_day", "put", 405.00, 430.00, 0.05, 0.07, 1.0 / 12.0, 0.20, -0.0855),
    ("rho", "call", 75.00, 72.00, 0.00, 0.09, 1.0, 0.19, 38.7325),
    ("epsilon", "put", 490.00, 500.00, 0.05, 0.08, 0.25, 0.15, 42.2254),
]
HAUG_GREEK_TOL = 1.0e-4


def _row_id(row: tuple) -> str:
    return "-".join(str(x) for x in row[:-1])


@pytest.mark.parametrize("row", HAUG_VALUES, ids=_row_id)
def test_haug_bsm_values(row: tuple) -> None:
    kind, strike, spot, q, r, t, vol, expected, tol = row
    got = sg.price(kind, spot, strike, t, vol, r, q)
    assert abs(got - expected) <= tol, (row, got)


def test_haug_bsm_values_vectorised() -> None:
    """The whole table in one call (arrays of kinds and inputs) gives the same answers."""
    cols = list(zip(*HAUG_VALUES))
    kinds = np.array(cols[0], dtype=object)
    strike, spot, q, r, t, vol, expected, tol = (np.array(c, dtype=float) for c in cols[1:])
    got = sg.price(kinds, spot, strike, t, vol, r, q)
    assert got.shape == expected.shape
    bad = np.flatnonzero(~(np.abs(got - expected) <= tol))
    assert bad.size == 0, [(HAUG_VALUES[i], got[i]) for i in bad]


@pytest.mark.parametrize("row", HAUG_GREEKS, ids=lambda row: f"{row[0]}-{row[1]}")
def test_haug_bsm_greeks(row: tuple) -> None:
    greek, kind, strike, spot, q, r, t, vol, expected = row
    g = sg.greeks(kind, spot, strike, t, vol, r, q)
    if greek == "elasticity":
        got = g["delta"] * spot / g["price"]
    elif greek == "theta_per_day":
        got = g["theta"] / 365.0
    else:
        got = g[greek]
    assert abs(got - expected) <= HAUG_GREEK_TOL, (row, got)


@pytest.mark.parametrize("kind", ["call", "put"])
def test_haug_black76_example(kind: str) -> None:
    """Haug's Black-76 futures-option example: F = X = 19, T = 0.75, r = 0.10, sigma = 0.28
    gives c = p = 1.7011 (the same figure as the q = r rows of HAUG_VALUES above).  The coin
    premium of the inverse model is the Black-76 value divided by F."""
    got = sg.price(kind, 19.0, 19.0, 0.75, 0.28, 0.10, model="black76")
    assert abs(got - 1.7011) <= 1.0e-4
    inv = sg.price(kind, 19.0, 19.0, 0.75, 0.28, 0.10, model="inverse")
    assert abs(inv - 1.7011 / 19.0) <= 1.0e-4 / 19.0


@pytest.mark.parametrize("rate", [0.0, 0.05])
def test_bachelier_atm_closed_form(rate: float) -> None:
    """At the money the normal-model premium is exp(-rT) sigma sqrt(T) / sqrt(2 pi)."""
    for f, vol, t in [(100.0, 8.0, 0.5), (0.01, 0.007, 2.0), (-0.003, 0.004, 10.0)]:
        expected = math.exp(-rate * t) * vol * math.sqrt(t) / math.sqrt(2.0 * math.pi)
        for kind in ("call", "put"):
            got = sg.price(kind, f, f, t, vol, rate, model="bachelier")
            assert got == pytest.approx(expected, rel=1e-14), (kind, f, vol, t)


# ---------------------------------------------------------------------------------------------
# 2a. The reference itself: every analytic greek agrees with mpmath.diff of the reference price.
# ---------------------------------------------------------------------------------------------

SELF_CHECK_POINTS = [
    ("bsm", (105.0, 100.0, 0.5, 0.36, 0.10, 0.03)),
    ("bsm", (90.0, 130.0, 2.0, 0.25, -0.02, 0.05)),
    ("black76", (105.0, 100.0, 0.5, 0.36, 0.07, 0.0)),
    ("black76", (2.5, 1.0, 0.02, 1.5, 0.2, 0.0)),
    ("bachelier", (-0.5, 0.3, 1.5, 0.8, 0.04, 0.0)),
    ("bachelier", (100.0, 97.0, 0.1, 12.0, -0.01, 0.0)),
    ("inverse", (30000.0, 35000.0, 0.25, 0.7, 0.05, 0.0)),
    ("inverse", (30000.0, 25000.0, 0.05, 0.5, -0.01, 0.0)),
]


@pytest.mark.parametrize("kind", ["call", "put"])
@pytest.mark.parametrize(("model", "args"), SELF_CHECK_POINTS)
def test_reference_greeks_match_mpmath_diff(model: str, args: tuple, kind: str) -> None:
    for name, (analytic, numeric) in ref.self_check(kind, *args, model=model).items():
        scale = max(abs(float(analytic)), 1e-30)
        assert abs(float(analytic - numeric)) <= 1e-25 * scale, (model, kind, name)


# ---------------------------------------------------------------------------------------------
# 2b. strikegrid against the reference on a grid.
# ---------------------------------------------------------------------------------------------

RATIOS = (0.5, 0.9, 1.0, 1.1, 2.0)  # strike / forward-ish: ITM, ATM, OTM for both kinds
EXPIRIES = (1.0 / 365.0, 0.1, 1.0, 10.0)
VOLS = (0.05, 0.3, 1.0)  # relative vols; the Bachelier normal vol is this times |F|
RATES = ((0.03, 0.01), (-0.01, 0.04), (0.12, 0.0))  # (rate, div); div is dropped off bsm
UNDERLYINGS = {"bsm": 100.0, "black76": 1.35, "bachelier": 0.025, "inverse": 42000.0}


def _grid(model: str) -> list[tuple]:
    rows = []
    i = 0
    u = UNDERLYINGS[model]
    for kind in ("call", "put"):
        for ratio in RATIOS:
            for t in EXPIRIES:
                for vol in VOLS:
                    r, q = RATES[i % len(RATES)]
                    i += 1
                    if model != "bsm":
                        q = 0.0
                    spot, strike = u, u * ratio
                    if model == "bachelier":
                        vol = vol * u
                        if i % 2:  # negative forwards and strikes are legal here
                            spot, strike = -spot, -strike + 0.5 * u
                    rows.append((kind, spot, strike, t, vol, r, q))
    return rows


@cache
def _reference_table(model: str) -> tuple[list[tuple], dict, dict]:
    rows = _grid(model)
    names = list(ref.GREEK_NAMES) + (["delta_pa"] if model == "inverse" else [])
    vals = {n: np.empty(len(rows)) for n in names}
    conds = {n: np.empty(len(rows)) for n in names}
    for j, row in enumerate(rows):
        g = ref.greeks(*row, model=model)
        c = ref.condition(*row, model=model)
        for n in names:
            vals[n][j] = float(g[n])
            conds[n][j] = float(c[n])
    return rows, vals, conds


def _call_sg_on_rows(model: str, rows: list[tuple], which: list[str]) -> dict[str, np.ndarray]:
    cols = list(zip(*rows))
    kinds = np.array(cols[0])
    nums = [np.array(c, dtype=float) for c in cols[1:]]
    return sg.greeks(kinds, *nums, model=model, which=which)


def _report(
    model: str,
    name: str,
    rows: list[tuple],
    idx: np.ndarray,
    got: np.ndarray,
    exp: np.ndarray,
    tol: np.ndarray,
) -> str:
    lines = [f"{model} {name}: {idx.size} of {len(rows)} outside tolerance"]
    for i in idx[:8]:
        lines.append(
            f"  (kind, spot, strike, expiry, vol, rate, div)={rows[i]} expected={exp[i]!r} "
            f"got={got[i]!r} err={abs(got[i] - exp[i]):.3e} tol={tol[i]:.3e}"
        )
    return "\n".join(lines)


@pytest.mark.parametrize("model", ref.MODELS)
def test_grid_against_reference(model: str) -> None:
    rows, vals, conds = _reference_table(model)
    names = list(vals)
    got = _call_sg_on_rows(model, rows, names)
    failures = []
    for n in names:
        g = np.asarray(got[n], dtype=float)
        e = vals[n]
        if n == "price":
            tol = 1e-12 * np.abs(e) + 16 * EPS * conds[n] + TINY
        else:
            tol = 1e-10 * np.abs(e) + 64 * EPS * conds[n] + TINY
        bad = np.flatnonzero(~(np.abs(g - e) <= tol))
        if bad.size:
            failures.append(_report(model, n, rows, bad, g, e, tol))
    assert not failures, "\n".join(failures)


# Deep out-of-the-money options: values from ~1e-200 up, where naive formulas lose every digit
# to cancellation.  kind, spot (forward), strike, expiry, vol, rate, div.
DEEP_OTM = {
    "bsm": [
        ("call", 100.0, 2000.0, 0.25, 0.2, 0.05, 0.02),
        ("put", 100.0, 5.0, 0.25, 0.2, 0.05, 0.02),
        ("call", 100.0, 130.0, 0.01, 0.1, 0.03, 0.0),
        ("call", 100.0, 300.0, 1.0, 0.05, 0.0, 0.0),
        ("put", 100.0, 30.0, 2.0, 0.1, 0.02, 0.0),
        ("put", 100.0, 98.5, 0.0001, 0.05, 0.01, 0.03),
        ("call", 100.0, 100.3, 0.0001, 0.01, 0.0, 0.0),
        ("call", 100.0, 10000.0, 30.0, 0.05, 0.0, 0.1),
    ],
    "black76": [
        ("call", 50.0, 1000.0, 0.5, 0.25, 0.01, 0.0),
        ("put", 50.0, 1.5, 0.5, 0.25, 0.01, 0.0),
        ("call", 1.0, 1.25, 0.02, 0.15, 0.0, 0.0),
        ("put", 80.0, 60.0, 0.003, 0.2, 0.05, 0.0),
    ],
    "bachelier": [
        ("call", 100.0, 400.0, 1.0, 10.0, 0.02, 0.0),
        ("put", 0.01, -0.05, 0.5, 0.005, 0.0, 0.0),
        ("call", -1.0, 1.0, 2.0, 0.1, 0.03, 0.0),
        ("put", 3.0, 2.0, 0.01, 0.4, -0.01, 0.0),
    ],
    "inverse": [
        ("call", 30000.0, 90000.0, 0.1, 0.5, 0.0, 0.0),
        ("put", 30000.0, 8000.0, 0.02, 0.6, 0.05, 0.0),
        ("call", 30000.0, 60000.0, 0.01, 0.4, 0.05, 0.0),
        ("put", 2500.0, 1800.0, 0.002, 0.8, 0.0, 0.0),
    ],
}


@pytest.mark.parametrize("model", ref.MODELS)
def test_deep_otm_relative_accuracy(model: str) -> None:
    rows = DEEP_OTM[model]
    cols = list(zip(*rows))
    got = np.asarray(
        sg.price(np.array(cols[0]), *(np.array(c, dtype=float) for c in cols[1:]), model=model),
        dtype=float,
    )
    failures = []
    for row, g in zip(rows, got):
        e = ref.price(*row, model=model)
        assert 1e-250 < e < 1e-5, ("test data is meant to be deep OTM", row, e)
        kappa = float(ref.condition(*row, model=model)["price"] / e)
        rel = float(abs(g - e) / e) if np.isfinite(g) else math.inf
        tol = 1e-12 + 16 * EPS * kappa
        if not rel <= tol:
            failures.append(
                f"{row}: expected {float(e)!r} got {g!r} rel err {rel:.3e} "
                f"(tol {tol:.3e}, condition {kappa:.3g})"
            )
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------------------------------------
# 2c. Normal distribution, both tails.
# ---------------------------------------------------------------------------------------------

NORM_X = np.concatenate(
    [
        np.linspace(-37.0, 37.0, 149),
        [
            -36.99,
            -30.5,
            -20.25,
            -10.1,
            -8.3,
            -5.7,
            -1.1,
            -1e-3,
            -1e-9,
            0.0,
            1e-9,
            1e-3,
            0.7,
            1.3,
            3.9,
            7.5,
            8.6,
            9.9,
        ],
    ]
)


def _eval_unary(fn, x: np.ndarray) -> np.ndarray:
    try:
        out = np.asarray(fn(x), dtype=float)
        if out.shape == x.shape:
            return out
    except TypeError:
        pass
    return np.array([float(fn(float(v))) for v in x])


@pytest.mark.parametrize("name", ["norm_cdf", "norm_pdf"])
def test_normal_distribution_accuracy(name: str) -> None:
    fn = getattr(sg, name, None)
    if fn is None:
        pytest.skip(f"strikegrid does not expose sg.{name} (optional helper)")
    got = _eval_unary(fn, NORM_X)
    refn = ref.norm_cdf if name == "norm_cdf" else ref.norm_pdf
    failures = []
    for x, g in zip(NORM_X, got):
        e = float(refn(x))
        # relative condition number of both functions at x is about x^2 in the tails
        tol = 1e-14 + 4 * EPS * x * x
        rel = abs(g - e) / e
        if not rel <= tol:
            failures.append(f"{name}({x!r}): expected {e!r} got {g!r} rel err {rel:.3e}")
    assert not failures, "\n".join(failures)


def test_normal_cdf_symmetry() -> None:
    fn = getattr(sg, "norm_cdf", None)
    if fn is None:
        pytest.skip("strikegrid does not expose sg.norm_cdf (optional helper)")
    x = np.linspace(0.0, 37.0, 75)
    lo = _eval_unary(fn, -x)
    hi = _eval_unary(fn, x)
    assert np.all(np.abs(lo + hi - 1.0) <= 2 * EPS)
    assert np.all(np.diff(hi) >= 0) and np.all(np.diff(lo) <= 0)

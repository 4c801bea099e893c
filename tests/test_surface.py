"""Surfaces fitted to the real snapshots in ../shared/data: fit quality, no static arbitrage,
parity-consistent forwards, and the evaluation API."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import strikegrid as sg
from strikegrid.exceptions import InputError

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "option_chains"
SPX = sorted((DATA / "spx_ivolatility_2011-01").glob("spx_*.csv"))
CRYPTO = sorted((DATA / "deribit_2026-01-02T1626Z").glob("*_2026*.csv"))
CHAINS = SPX + CRYPTO

pytestmark = pytest.mark.skipif(not CHAINS, reason="../shared/data not present")


@pytest.fixture(scope="module", params=CHAINS, ids=lambda p: p.stem)
def fitted(request: pytest.FixtureRequest) -> tuple[sg.Chain, sg.Surface]:
    chain = sg.Chain.read_csv(request.param)
    return chain, sg.Surface.fit(chain)


def _delta_band(chain: sg.Chain, surface: sg.Surface) -> np.ndarray:
    """Quotes with both sides and |Black delta on the forward| in [0.05, 0.95]."""
    mid = surface.quote_vols["mid"]
    f = np.asarray(surface.forward(chain.t))
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = mid * np.sqrt(np.maximum(chain.t, 0.0))
        d1 = np.log(f / chain.strike) / sd + 0.5 * sd
    delta = np.where(chain.kind > 0, sg.norm_cdf(d1), sg.norm_cdf(d1) - 1.0)
    both = np.isfinite(surface.quote_vols["bid"]) & np.isfinite(surface.quote_vols["ask"])
    fitted_t = np.isin(chain.t, [s.t for s in surface.slices])
    return both & fitted_t & (np.abs(delta) >= 0.05) & (np.abs(delta) <= 0.95)


def test_fitted_mid_lies_inside_the_quoted_vol_interval(fitted):
    chain, surface = fitted
    band = _delta_band(chain, surface)
    assert band.sum() > 50
    vol = np.asarray(surface.vol(chain.strike[band], chain.t[band]))
    bid, ask = surface.quote_vols["bid"][band], surface.quote_vols["ask"][band]
    inside = (vol >= bid - 1e-9) & (vol <= ask + 1e-9)
    share = inside.mean()
    print(f"\n{chain.underlying}: {100 * share:.1f}% of {band.sum()} quotes inside bid/ask vols")
    print(surface.report())
    assert share >= 0.90


def test_no_static_arbitrage(fitted):
    _, surface = fitted
    report = surface.report()
    assert report.butterfly_ok and report.calendar_ok, str(report)
    # Independently: total variance non-decreasing in time on a grid, densities >= 0.
    k = np.linspace(-1.0, 1.0, 201)
    ts = np.array([s.t for s in surface.slices])
    w = np.stack([surface.total_variance(k, t) for t in ts])
    assert np.all(np.diff(w, axis=0) >= -1e-9)
    for s in surface.slices:
        assert np.min(sg._core.svi_g(s.params, k)) >= -1e-9


def test_forwards_agree_with_parity_within_spreads(fitted):
    _, surface = fitted
    for s in surface.slices:
        if s.parity.pairs >= 3:
            assert s.parity.worst_residual_in_spreads <= 1.0, s


def test_evaluation_api(fitted):
    _, surface = fitted
    t = np.array([s.t for s in surface.slices])
    strikes = np.linspace(0.7, 1.3, 50)[:, None] * np.asarray(surface.forward(t))[None, :]
    vols = np.asarray(surface.vol(strikes, t[None, :]))
    assert vols.shape == strikes.shape and np.all(np.isfinite(vols)) and np.all(vols > 0)
    # Probabilities: within [0, 1], increasing in strike, near 1/2 at the forward.
    p = np.asarray(surface.prob_below(strikes, t[None, :]))
    assert np.all(np.diff(p, axis=0) >= -1e-9)
    assert np.all((p >= 0) & (p <= 1))
    df = np.asarray(surface.discount(t))
    assert np.all((df > 0.5) & (df <= 1.5))
    assert isinstance(surface.vol(float(surface.forward(t[0])), float(t[0])), float)
    assert "Surface" in str(surface.report())


def test_prob_below_matches_the_density_of_call_prices():
    chain = sg.Chain.read_csv(SPX[0])
    surface = sg.Surface.fit(chain)
    s = surface.slices[len(surface.slices) // 2]
    f = s.forward
    k = np.linspace(0.8 * f, 1.2 * f, 81)
    vol = np.asarray(surface.vol(k, s.t))
    undiscounted = np.asarray(sg.price("put", f, k, s.t, vol, model="black76"))
    # Breeden–Litzenberger: P(S_T < K) = d(undiscounted put)/dK.
    fd = np.gradient(undiscounted, k)
    p = np.asarray(surface.prob_below(k, s.t))
    assert np.max(np.abs(p[2:-2] - fd[2:-2])) < 2e-3


def test_ssvi_fits_and_is_arbitrage_free():
    chain = sg.Chain.read_csv(SPX[0])
    surface = sg.Surface.fit(chain, model="ssvi")
    report = surface.report()
    assert report.butterfly_ok and report.calendar_ok, str(report)


def test_bad_model_is_refused():
    chain = sg.Chain.read_csv(SPX[0])
    with pytest.raises(InputError, match="model"):
        sg.Surface.fit(chain, model="sabr")


def test_plot_draws_quotes_and_smiles(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    chain = sg.Chain.read_csv(SPX[0])
    fig = sg.Surface.fit(chain).plot(expiries=4)
    out = tmp_path / "surface.png"
    fig.savefig(out)
    assert out.stat().st_size > 10_000


def test_american_chain_is_de_americanised_by_the_engine():
    # A synthetic American chain on a dividend payer: quotes from the ALO engine at a known
    # skewed smile, half a vol point wide. The surface fitted through the American engine
    # recovers the smile near the money.
    spot, rate, div = 100.0, 0.04, 0.02
    expiries = np.array([0.25, 0.5, 1.0])
    strikes = np.arange(70.0, 131.0, 2.5)
    k, t = np.meshgrid(strikes, expiries)
    k, t = k.ravel(), t.ravel()
    fwd = spot * np.exp((rate - div) * t)
    true_vol = 0.25 - 0.15 * np.log(k / fwd)
    rows = []
    for kind in ("call", "put"):
        mid = sg.price(kind, spot, k, t, true_vol, rate, div, exercise="american")
        half = (
            0.5
            * np.asarray(
                sg.greeks(kind, spot, k, t, true_vol, rate, div, exercise="american", which="vega")[
                    "vega"
                ]
            )
            * 0.005
        )
        rows.append((np.full(k.size, kind), k, t, mid - half, mid + half))
    kinds = np.concatenate([r[0] for r in rows])
    chain = sg.Chain.from_arrays(
        underlying="XYZ",
        quote_time="2026-01-05T16:00:00Z",
        expiry=np.concatenate([r[2] for r in rows]),
        strike=np.concatenate([r[1] for r in rows]),
        kind=kinds,
        bid=np.maximum(np.concatenate([r[3] for r in rows]), 0.01),
        ask=np.concatenate([r[4] for r in rows]),
        underlying_price=spot,
        exercise_style="american",
    )
    surface = sg.Surface.fit(chain, rate=rate)
    near = (k > 85) & (k < 115)
    fitted = np.asarray(surface.vol(k[near], t[near]))
    assert np.max(np.abs(fitted - true_vol[near])) < 0.01

"""pytest-benchmark suites for European prices and greeks (issue 2).

Not part of the default test run (``testpaths = ["tests"]``); run them explicitly::

    python -m pytest benches/test_bench_european.py --benchmark-only
    python -m pytest benches/test_bench_european.py --benchmark-only --benchmark-group-by=group

Every batch is 1,000,000 options (seeded, 50/50 calls and puts, spot around 100, strikes
50..150, expiries 0.02..2 years, vols 0.05..0.8). Groups:

* ``price-1m``: ``sg.price`` for each model (bsm, black76, bachelier, inverse);
* ``greeks-1m``: ``sg.greeks`` with all 12 outputs, the six the peers offer, and delta alone
  (the cost should follow ``which``);
* ``scalar``: one option through the scalar fast path;
* ``grid-2d``: a strike x expiry grid from broadcasting (n, 1) against (1, m);
* ``layout-1m``: contiguous vs strided vs transposed (non-contiguous) inputs of the same values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

if TYPE_CHECKING:
    from pytest_benchmark.fixture import BenchmarkFixture

sg = pytest.importorskip("strikegrid")
pytest.importorskip("pytest_benchmark")

N = 1_000_000
SEED = 20240611
RATE = 0.03
DIV = 0.01
#: The outputs every peer in benches/peers.py offers.
SIX = ["price", "delta", "gamma", "vega", "theta", "rho"]

Batch = dict[str, np.ndarray]


def _batch(n: int, seed: int) -> Batch:
    """Seeded random options, the same distribution as benches/peers.py."""
    rng = np.random.default_rng(seed)
    return {
        "kind": rng.random(n) < 0.5,
        "spot": 100.0 * np.exp(rng.normal(0.0, 0.1, n)),
        "strike": rng.uniform(50.0, 150.0, n),
        "expiry": rng.uniform(0.02, 2.0, n),
        "vol": rng.uniform(0.05, 0.8, n),
    }


@pytest.fixture(scope="module")
def batch() -> Batch:
    """1M mixed calls and puts, contiguous float64 (bool kinds, True = call)."""
    return _batch(N, SEED)


def _model_args(b: Batch, model: str) -> tuple[Any, ...]:
    """Positional arguments of sg.price/sg.greeks for ``model`` on batch ``b``.

    The forward models take the forward as ``spot`` and need ``div = 0``; Bachelier's vol is a
    normal vol in price units, so the lognormal vols are scaled by the forward.
    """
    vol = b["vol"] * b["spot"] if model == "bachelier" else b["vol"]
    div = DIV if model == "bsm" else 0.0
    return (b["kind"], b["spot"], b["strike"], b["expiry"], vol, RATE, div)


@pytest.mark.benchmark(group="price-1m")
@pytest.mark.parametrize("model", ["bsm", "black76", "bachelier", "inverse"])
def test_price_1m(benchmark: BenchmarkFixture, batch: Batch, model: str) -> None:
    """sg.price on 1M options, one model per case."""
    args = _model_args(batch, model)
    out = benchmark(sg.price, *args, model=model)
    assert out.shape == (N,)
    assert np.isfinite(out).all()


@pytest.mark.benchmark(group="greeks-1m")
@pytest.mark.parametrize(
    "which",
    [None, SIX, ["delta"]],
    ids=["all12", "price+5", "delta"],
)
def test_greeks_1m(benchmark: BenchmarkFixture, batch: Batch, which: list[str] | None) -> None:
    """sg.greeks (bsm) on 1M options: all 12 outputs, the six of the peers, delta alone."""
    args = _model_args(batch, "bsm")
    out = benchmark(sg.greeks, *args, model="bsm", which=which)
    assert len(out) == (12 if which is None else len(which))
    assert all(v.shape == (N,) for v in out.values())


@pytest.mark.benchmark(group="greeks-1m-models")
@pytest.mark.parametrize("model", ["black76", "bachelier", "inverse"])
def test_greeks_all_1m_forward_models(
    benchmark: BenchmarkFixture, batch: Batch, model: str
) -> None:
    """sg.greeks with all outputs for the forward models."""
    args = _model_args(batch, model)
    out = benchmark(sg.greeks, *args, model=model)
    assert len(out) == 12


@pytest.mark.benchmark(group="scalar")
def test_price_scalar(benchmark: BenchmarkFixture) -> None:
    """One option, scalar fast path: sg.price("call", 100, 105, 0.5, 0.2, 0.03, 0.01)."""
    out = benchmark(sg.price, "call", 100.0, 105.0, 0.5, 0.2, 0.03, 0.01)
    assert isinstance(out, float)


@pytest.mark.benchmark(group="scalar")
def test_greeks_scalar_all(benchmark: BenchmarkFixture) -> None:
    """One option, all 12 greeks, scalar fast path."""
    out = benchmark(sg.greeks, "put", 100.0, 105.0, 0.5, 0.2, 0.03, 0.01)
    assert len(out) == 12
    assert all(isinstance(v, float) for v in out.values())


@pytest.mark.benchmark(group="scalar")
def test_price_one_element_array(benchmark: BenchmarkFixture) -> None:
    """One option passed as 1-element arrays: the fixed cost of the array path."""
    one = np.array([100.0])
    out = benchmark(sg.price, "call", one, 105.0, 0.5, 0.2, 0.03, 0.01)
    assert out.shape == (1,)


@pytest.mark.benchmark(group="grid-2d")
@pytest.mark.parametrize("shape", [(1000, 1000), (200, 50)], ids=["1000x1000", "200x50"])
def test_price_grid_2d(benchmark: BenchmarkFixture, shape: tuple[int, int]) -> None:
    """Strike x expiry grid: strikes (n, 1) broadcast against expiries (1, m), scalar rest."""
    n, m = shape
    strikes = np.linspace(50.0, 150.0, n).reshape(n, 1)
    expiries = np.linspace(0.02, 2.0, m).reshape(1, m)
    out = benchmark(sg.price, "call", 100.0, strikes, expiries, 0.2, RATE, DIV)
    assert out.shape == shape


@pytest.mark.benchmark(group="grid-2d")
def test_greeks_grid_2d(benchmark: BenchmarkFixture) -> None:
    """Delta and gamma on a 1000 x 1000 strike x expiry grid (puts)."""
    strikes = np.linspace(50.0, 150.0, 1000).reshape(-1, 1)
    expiries = np.linspace(0.02, 2.0, 1000).reshape(1, -1)
    out = benchmark(
        sg.greeks, "put", 100.0, strikes, expiries, 0.2, RATE, DIV, which=["delta", "gamma"]
    )
    assert out["delta"].shape == (1000, 1000)


def _layout(b: Batch, layout: str) -> Batch:
    """The same 1M values laid out contiguously, every other element, or transposed."""
    if layout == "contiguous":
        return b
    if layout == "stride2":  # views into 2M buffers: element stride 16 bytes
        out = {}
        for key, values in b.items():
            wide = np.empty(2 * values.size, dtype=values.dtype)
            wide[::2] = values
            out[key] = wide[::2]
        return out
    if layout == "transposed":  # (1000, 1000) Fortran-ordered views
        return {key: values.reshape(1000, 1000).T for key, values in b.items()}
    raise ValueError(layout)


@pytest.mark.benchmark(group="layout-1m")
@pytest.mark.parametrize("layout", ["contiguous", "stride2", "transposed"])
def test_price_layout_1m(benchmark: BenchmarkFixture, batch: Batch, layout: str) -> None:
    """sg.price (bsm) on 1M options whose inputs are non-contiguous views."""
    b = _layout(batch, layout)
    if layout != "contiguous":
        assert not b["spot"].flags.c_contiguous
    args = _model_args(b, "bsm")
    out = benchmark(sg.price, *args)
    expected = _layout({"price": sg.price(*_model_args(batch, "bsm"))}, layout)["price"]
    np.testing.assert_array_equal(out, expected)


@pytest.mark.benchmark(group="layout-1m")
@pytest.mark.parametrize("layout", ["contiguous", "stride2"])
def test_greeks_layout_1m(benchmark: BenchmarkFixture, batch: Batch, layout: str) -> None:
    """sg.greeks (bsm, the six peer outputs) on contiguous vs strided inputs."""
    args = _model_args(_layout(batch, layout), "bsm")
    out = benchmark(sg.greeks, *args, which=SIX)
    assert out["price"].shape == (N,)

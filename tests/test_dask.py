"""strikegrid.dask: block-wise kernels on dask arrays (lazy, chunk-aligned, identical to the
in-memory kernels, GIL-free threads, cheap tasks) and chain-level jobs over a dask.dataframe of
snapshots on a distributed LocalCluster (identical to strikegrid.batch and to the in-memory
objects; a failing snapshot is reported by name and the others are kept)."""

from __future__ import annotations

import pickle
import shutil
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import strikegrid as sg
from strikegrid import batch
from strikegrid.exceptions import InputError

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
pd = pytest.importorskip("pandas")

import strikegrid.dask as sgd  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "option_chains"
FILES = sorted(DATA.glob("*/*_20*.csv"))
needs_data = pytest.mark.skipif(not FILES, reason="../shared/data not present")


@pytest.fixture(scope="module")
def client() -> Any:
    """A LocalCluster of two in-process workers (threads: the kernels release the GIL)."""
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=2, processes=False, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


# ------------------------------------------------------------------------------ arrays

RNG = np.random.default_rng(20110103)
N = 5_003


def _inputs(model: str) -> dict[str, np.ndarray]:
    kind = RNG.choice(np.array(["call", "put", "C", "p"], dtype=object), N)
    spot = RNG.uniform(50, 150, N)
    strike = RNG.uniform(40, 160, N)
    if model == "bachelier":
        spot, strike = spot - 100.0, strike - 100.0
    expiry = RNG.uniform(0.0, 3.0, N)
    expiry[::97] = 0.0
    vol = RNG.uniform(0.01, 1.2, N) * (30.0 if model == "bachelier" else 1.0)
    rate = RNG.uniform(-0.01, 0.08, N)
    div = RNG.uniform(0.0, 0.05, N) if model == "bsm" else np.zeros(N)
    return {
        "kind": kind,
        "spot": spot,
        "strike": strike,
        "expiry": expiry,
        "vol": vol,
        "rate": rate,
        "div": div,
    }


def _chunked(x: dict[str, np.ndarray], chunks: Any) -> dict[str, Any]:
    return {k: da.from_array(v, chunks=chunks) for k, v in x.items()}


@pytest.mark.parametrize("model", ["bsm", "black76", "bachelier", "inverse"])
@pytest.mark.parametrize("chunks", [(1000,), ((1, 2, 3, 4997),), (N,)])
def test_price_greeks_implied_identical_to_in_memory(model: str, chunks: Any) -> None:
    x = _inputs(model)
    dx = _chunked(x, chunks)
    ref = sg.price(**x, model=model)
    got = sgd.price(**dx, model=model)
    assert got.chunks == dx["strike"].chunks
    np.testing.assert_array_equal(got.compute(), ref, strict=True)  # bit for bit, NaN where NaN

    ref_g = sg.greeks(**x, model=model)
    got_g = sgd.greeks(**dx, model=model)
    assert list(got_g) == list(ref_g)
    computed = dask.compute(*got_g.values())
    for name, arr in zip(got_g, computed):
        np.testing.assert_array_equal(arr, ref_g[name], err_msg=name, strict=True)

    args = {k: v for k, v in x.items() if k != "vol"}
    dargs = {k: v for k, v in dx.items() if k != "vol"}
    ref_v, ref_s = sg.implied_vol(ref, **args, model=model, return_status=True)
    v, s = sgd.implied_vol(
        da.from_array(ref, chunks=chunks), **dargs, model=model, return_status=True
    )
    v_c, s_c = dask.compute(v, s)
    np.testing.assert_array_equal(v_c, ref_v, strict=True)
    assert s_c.dtype == np.uint8
    np.testing.assert_array_equal(s_c, ref_s, strict=True)
    np.testing.assert_array_equal(
        sgd.implied_vol(da.from_array(ref, chunks=chunks), **dargs, model=model).compute(),
        ref_v,
        strict=True,
    )


def test_grid_broadcasts_without_materialising() -> None:
    strikes = np.linspace(50, 150, 2001)[:, None]
    expiries = np.linspace(1 / 365, 2, 500)[None, :]
    ref = sg.price("put", 100.0, strikes, expiries, 0.25, 0.03)
    k = da.from_array(strikes, chunks=(300, 1))
    t = da.from_array(expiries, chunks=(1, 128))
    grid = sgd.price("put", 100.0, k, t, 0.25, 0.03)
    assert grid.shape == (2001, 500)
    assert grid.chunks == (k.chunks[0], t.chunks[1])
    np.testing.assert_array_equal(grid.compute(), ref, strict=True)
    # numpy inputs only: chunked by `chunks`, one kernel call per block
    grid2 = sgd.price("put", 100.0, strikes, expiries, 0.25, 0.03, chunks=(500, 250))
    assert grid2.chunks == ((500, 500, 500, 500, 1), (250, 250))
    np.testing.assert_array_equal(grid2.compute(), ref, strict=True)
    # numpy mixed with dask: the numpy argument follows the dask chunks
    mixed = sgd.price("put", 100.0, k, expiries, 0.25, 0.03)
    np.testing.assert_array_equal(mixed.compute(), ref, strict=True)
    # scalars only: a 0-d array
    assert sgd.price("call", 100.0, 100.0, 1.0, 0.2).compute() == sg.price(
        "call", 100.0, 100.0, 1.0, 0.2
    )


def test_lazy_until_computed() -> None:
    calls = []

    def spy(block: np.ndarray) -> np.ndarray:
        calls.append(block.shape)
        return block

    strikes = da.from_array(np.linspace(80, 120, 1000), chunks=250).map_blocks(
        spy, dtype=float, meta=np.empty(0)
    )
    out = sgd.greeks("call", 100.0, strikes, 0.5, 0.2)
    out["delta"] + out["gamma"]
    assert calls == []  # nothing ran yet
    dask.compute(out["delta"], out["gamma"], scheduler="sync")
    assert len(calls) == 4  # one kernel call per block, shared by both outputs


def test_american_and_errors_nan() -> None:
    x = _inputs("bsm")
    sel = slice(0, 300)
    small = {k: v[sel] for k, v in x.items()}
    small["vol"] = small["vol"].copy()
    small["vol"][7] = -1.0
    ref = sg.price(**small, exercise="american", method="fast", errors="nan")
    got = sgd.price(
        **_chunked(small, 64), exercise="american", method="fast", errors="nan"
    ).compute()
    np.testing.assert_array_equal(got, ref, strict=True)
    assert np.isnan(got[7])


def test_bad_element_reports_its_index_in_the_whole_array() -> None:
    strikes = np.linspace(50, 150, 1001)[:, None].copy()
    strikes[537, 0] = -1.0
    expiries = np.linspace(0.1, 2, 30)[None, :]
    with pytest.raises(InputError) as memory:
        sg.price("put", 100.0, strikes, expiries, 0.25)
    lazy = sgd.price("put", 100.0, da.from_array(strikes, chunks=(100, 1)), expiries, 0.25)
    with pytest.raises(InputError) as blockwise:
        lazy.compute()
    assert blockwise.value.index == memory.value.index == (537, 0)
    assert str(blockwise.value) == str(memory.value)
    assert blockwise.value.arg == "strike"
    flat = np.linspace(50, 150, 100)
    flat[77] = np.nan
    with pytest.raises(InputError, match=r"at index 77\b") as e1:
        sgd.price("call", 100.0, da.from_array(flat, chunks=30), 1.0, 0.2).compute()
    assert e1.value.index == 77


def test_options_are_checked_when_called() -> None:
    with pytest.raises(InputError, match="model"):
        sgd.price("call", 100.0, da.ones(10), 1.0, 0.2, model="nope")
    with pytest.raises(InputError, match="which"):
        sgd.greeks("call", 100.0, da.ones(10), 1.0, 0.2, which=["delta", "speed"])
    with pytest.raises(InputError, match="errors"):
        sgd.implied_vol(1.0, "call", 100.0, da.ones(10), 1.0, errors="ignore")


def test_many_threads_at_once() -> None:
    """The kernels release the GIL: blocks from many threads give the same numbers."""
    x = _inputs("bsm")
    ref = sg.greeks(**x, which=["price", "delta", "vega"])
    dx = _chunked(x, 200)
    got = sgd.greeks(**dx, which=["price", "delta", "vega"])
    out = dask.compute(*got.values(), scheduler="threads", num_workers=8)
    for name, arr in zip(got, out):
        np.testing.assert_array_equal(arr, ref[name], strict=True)
    # and plain Python threads calling the kernels directly
    results: list[np.ndarray] = []

    def work() -> None:
        results.append(sg.price(**x))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        np.testing.assert_array_equal(r, sg.price(**x), strict=True)


def test_tasks_are_cheap_to_serialise() -> None:
    cloudpickle = pytest.importorskip("cloudpickle")
    assert len(pickle.dumps(sgd.price_block)) < 100  # a reference, not a closure
    k = da.from_array(np.linspace(50, 150, 100_000), chunks=10_000)
    out = sgd.greeks(["call", "put"][0], 100.0, k, 0.5, 0.2, model="bsm", which=["delta"])
    graph = dict(out["delta"].__dask_graph__())
    kernel_tasks = [v for key, v in graph.items() if "greeks_block" in str(key)]
    assert len(kernel_tasks) == 10
    sizes = [len(cloudpickle.dumps(t)) for t in kernel_tasks]
    assert max(sizes) < 1_000, sizes  # the block's key, a function reference, the options


def test_on_a_local_cluster(client: Any) -> None:
    x = _inputs("black76")
    dx = _chunked(x, 700)
    ref = sg.greeks(**x, model="black76")
    got = sgd.greeks(**dx, model="black76")
    futures = client.compute(list(got.values()))
    for name, arr in zip(got, client.gather(futures)):
        np.testing.assert_array_equal(arr, ref[name], strict=True)


# ------------------------------------------------------------------------------ snapshots


@pytest.fixture(scope="module")
def snapshots() -> Any:
    if not FILES:
        pytest.skip("../shared/data not present")
    return sgd.read_snapshots([str(p) for p in FILES])


@pytest.fixture(scope="module")
def chains() -> dict[str, sg.Chain]:
    """The same snapshots read in memory, in key order."""
    loaded = [sg.Chain.read_csv(p) for p in FILES]
    return dict(sorted((batch.snapshot_key(c), c) for c in loaded))


#: Three of the snapshots (BTC, ETH and the first SPX day), for the slower checks.
SMALL = FILES[:3]


@pytest.fixture(scope="module")
def small() -> Any:
    if not FILES:
        pytest.skip("../shared/data not present")
    return sgd.read_snapshots([str(p) for p in SMALL])


@pytest.fixture(scope="module")
def small_chains() -> dict[str, sg.Chain]:
    loaded = [sg.Chain.read_csv(p) for p in SMALL]
    return dict(sorted((batch.snapshot_key(c), c) for c in loaded))


@needs_data
def test_read_snapshots_one_partition_per_snapshot(snapshots: Any, chains: Any) -> None:
    assert snapshots.npartitions == len(FILES) == 7
    assert list(snapshots.divisions[:-1]) == list(chains)
    assert snapshots.index.name == "snapshot"
    for i, (key, chain) in enumerate(chains.items()):
        part = snapshots.get_partition(i).compute()
        assert set(part.index) == {key}
        again = batch.chain_of(part)
        assert again.underlying == chain.underlying and again.quote_time == chain.quote_time
        for name in ("strike", "kind", "bid", "ask", "t", "expiry", "underlying_price", "usable"):
            np.testing.assert_array_equal(getattr(again, name), getattr(chain, name), name)
        assert (again.spot, again.multiplier) == (chain.spot, chain.multiplier)


@needs_data
def test_fit_on_cluster_identical_to_memory(snapshots: Any, chains: Any, client: Any) -> None:
    got = sgd.fit(snapshots, client=client, surfaces=True)
    assert got.ok and got.snapshots == list(chains)
    ref = batch.fit(chains)
    pd.testing.assert_frame_equal(got.frame, ref.frame)
    # and equal to Surface.fit on each chain directly
    for key, chain in chains.items():
        surface = sg.Surface.fit(chain)
        rows = got.frame[(got.frame["snapshot"] == key) & (got.frame["skipped"] == "")]
        params = rows[["a", "b", "rho", "m", "sigma"]].to_numpy()
        np.testing.assert_array_equal(params, np.array([s.params for s in surface.slices]))
        np.testing.assert_array_equal(rows["forward"], [s.forward for s in surface.slices])
        np.testing.assert_array_equal(
            got.surfaces[key].vol(chain.strike, chain.t), surface.vol(chain.strike, chain.t)
        )


@needs_data
def test_imply_and_screen_on_cluster_identical(
    snapshots: Any, chains: Any, small: Any, small_chains: Any, client: Any
) -> None:
    got = sgd.imply(snapshots, client=client)
    ref = batch.imply(chains)
    pd.testing.assert_frame_equal(got.frame, ref.frame)
    for key, chain in chains.items():
        rows = got.frame[got.frame["snapshot"] == key]
        qv = sg.surface.quote_vols(chain)
        np.testing.assert_array_equal(rows["mid_vol"], qv["mid"])
        np.testing.assert_array_equal(rows["bid_vol"], qv["bid"])
        np.testing.assert_array_equal(rows["forward"], qv["forward"])
    options = {"dte": (20, 60), "delta": (0.1, 0.3), "width": (5, 100_000), "top": 5}
    got_s = sgd.screen(small, "bull_put_spread", client=client, **options)
    ref_s = batch.screen(small_chains, "bull_put_spread", **options)
    assert got_s.snapshots == list(small_chains)
    pd.testing.assert_frame_equal(got_s.frame, ref_s.frame)
    one = got_s.frame[got_s.frame["snapshot"] == next(iter(small_chains))]
    one = one.reset_index(drop=True)
    direct = sg.screen(next(iter(small_chains.values())), "bull_put_spread", **options)
    pd.testing.assert_frame_equal(one.drop(columns="snapshot"), direct, check_dtype=False)


@needs_data
def test_failing_snapshots_are_named_and_others_kept(
    tmp_path: Path, chains: Any, client: Any
) -> None:
    files = [tmp_path / p.name for p in FILES]
    for src, dst in zip(FILES, files):
        shutil.copy(src, dst)
    # one snapshot whose data is bad (an unknown kind) ...
    bad = tmp_path / "spx_2011-01-05.csv"
    text = bad.read_text().splitlines()
    text[5] = text[5].replace(",call,", ",cal,").replace(",put,", ",pt,")
    bad.write_text("\n".join(text) + "\n")
    frame = sgd.read_snapshots(str(tmp_path / "*.csv"))
    # ... and one that cannot be read when its partition runs
    (tmp_path / "spx_2011-01-07.csv").unlink()
    for run in (
        lambda: sgd.imply(frame, client=client),
        lambda: sgd.imply(frame, client=client, progress=True),  # Dask's bar sees failures
        lambda: sgd.imply(frame, workers=2),  # no cluster: a local thread pool
    ):
        result = run()
        assert set(result.errors) == {"2011-01-05T21:15:00Z SPX", "2011-01-07T21:15:00Z SPX"}
        e5 = result.errors["2011-01-05T21:15:00Z SPX"]
        assert e5.error == "InputError" and "kind" in e5.message and "Traceback" in e5.traceback
        e7 = result.errors["2011-01-07T21:15:00Z SPX"]
        assert e7.error in ("FileNotFoundError", "OSError")
        assert "2011-01-07T21:15:00Z SPX" in str(e7)
        good = [k for k in chains if k not in result.errors]
        assert result.snapshots == good
        ref = batch.imply({k: chains[k] for k in good})
        pd.testing.assert_frame_equal(result.frame, ref.frame)
        with pytest.raises(batch.SnapshotError, match="1 more failed"):
            result.raise_errors()


def test_read_snapshots_bad_paths(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no file matches"):
        sgd.read_snapshots(str(tmp_path / "*.csv"))
    with pytest.raises(InputError, match="cannot read"):
        sgd.read_snapshots([str(tmp_path / "missing.csv")])
    (tmp_path / "empty.csv").write_text("underlying,quote_time\n")
    with pytest.raises(InputError, match="no rows"):
        sgd.read_snapshots([str(tmp_path / "empty.csv")])
    with pytest.raises(InputError, match="snapshots"):
        sgd.fit({"a": 1})


@needs_data
def test_by_snapshot_from_any_frame(small_chains: Any, client: Any) -> None:
    rows = pd.concat([c.to_frame(derived=False) for c in small_chains.values()], ignore_index=True)
    ref = batch.imply(rows)
    for frame in (rows, dd.from_pandas(rows, npartitions=2)):
        parted = sgd.by_snapshot(frame)
        assert parted.npartitions == len(small_chains)
        assert list(parted.divisions[:-1]) == list(small_chains)
        got = sgd.imply(parted, client=client)
        pd.testing.assert_frame_equal(got.frame, ref.frame)  # rows in their order, too
    pl = pytest.importorskip("polars")
    got_pl = sgd.fit(pl.from_pandas(rows), client=client, output="polars")
    assert isinstance(got_pl.frame, pl.DataFrame)
    ref_fit = batch.fit(pl.from_pandas(rows))
    assert isinstance(ref_fit.frame, pl.DataFrame)
    assert got_pl.frame.equals(ref_fit.frame)


@needs_data
def test_snapshot_split_over_partitions_is_refused(small_chains: Any, client: Any) -> None:
    rows = pd.concat([c.to_frame(derived=False) for c in small_chains.values()])
    frame = dd.from_pandas(rows.reset_index(drop=True), npartitions=4)  # cuts snapshots
    result = sgd.imply(frame, client=client)
    assert result.errors
    assert all("several partitions" in e.message for e in result.errors.values())
    assert not set(result.snapshots) & set(result.errors)


@needs_data
def test_progress_and_interrupt_on_cluster(
    small: Any, client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[tuple[int, int | None, str]] = []
    sgd.imply(small, client=client, progress=lambda d, t, k: seen.append((d, t, k)))
    assert [(d, t) for d, t, _ in seen] == [(i, 3) for i in range(1, 4)]
    assert {k for _, _, k in seen} == set(small.divisions)
    sgd.imply(small, client=client, progress=True)  # Dask's own progress bar
    assert "100% Completed" in capsys.readouterr().out

    def stop(done: int, total: int | None, key: str) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(batch.Interrupted) as info:
        sgd.fit(small, client=client, progress=stop)
    partial = info.value.result
    assert 2 <= len(partial.snapshots) <= 3
    assert isinstance(info.value, KeyboardInterrupt)
    # the cluster is still usable afterwards
    assert sgd.imply(small, client=client).ok


@needs_data
def test_interrupt_local_threads(small: Any) -> None:
    def stop(done: int, total: int | None, key: str) -> None:
        if done == 1:
            raise KeyboardInterrupt

    with pytest.raises(batch.Interrupted) as info:
        sgd.fit(small, workers=1, progress=stop)
    assert 1 <= len(info.value.result.snapshots) < 3


@pytest.fixture
def sigint() -> Any:
    """Python's own SIGINT handler for the test (a CI job started in the background inherits
    SIGINT ignored, and a simulated Ctrl-C would then do nothing)."""
    import signal

    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_interrupt_array_compute(sigint: Any) -> None:
    """Ctrl-C during a block-wise compute stops it promptly; the scheduler stays usable.

    A simulated Ctrl-C that lands while the main thread runs a finaliser is swallowed there by
    Python (an "unraisable" exception, ignored here), so the interrupt is retried a few times:
    the point is that one that does land stops the compute at once."""
    import _thread
    import time

    # 100 M prices (over a second even on a quiet machine), interrupted after 0.1 s.
    k = da.linspace(50, 150, 25_000, chunks=250)[:, None]
    total = sgd.price("put", 100.0, k, np.linspace(0.01, 2, 4_000)[None, :], 0.25).sum()
    elapsed = None
    for _ in range(5):
        timer = threading.Timer(0.1, _thread.interrupt_main)
        start = time.perf_counter()
        timer.start()
        try:
            total.compute(scheduler="threads")
        except KeyboardInterrupt:
            elapsed = time.perf_counter() - start
            break
        finally:
            timer.cancel()
    assert elapsed is not None and elapsed < 5.0
    small = sgd.price("put", 100.0, k[:100], 1.0, 0.25).sum().compute()
    assert np.isfinite(small)


@pytest.fixture(scope="module")
def process_client() -> Any:
    """Two worker processes: tasks and results really are serialised."""
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def test_worker_processes(process_client: Any) -> None:
    x = _inputs("inverse")
    ref = sg.price(**x, model="inverse")
    got = process_client.compute(sgd.price(**_chunked(x, 1500), model="inverse")).result()
    np.testing.assert_array_equal(got, ref)
    if FILES:
        frame = sgd.read_snapshots([str(p) for p in SMALL])
        result = sgd.fit(frame, client=process_client, surfaces=True)
        pd.testing.assert_frame_equal(result.frame, batch.fit(sorted(SMALL, key=_key)).frame)
        assert set(result.surfaces) == set(result.snapshots)


def _key(path: Path) -> str:
    return batch.snapshot_key(sg.Chain.read_csv(path))

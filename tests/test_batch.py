"""strikegrid.batch: many snapshots in one process (every input form, results in the caller's
frame type, per-snapshot failures kept apart), progress bars and clean interruption."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import strikegrid as sg
from strikegrid import batch
from strikegrid.exceptions import InputError
from strikegrid.progress import ProgressBar, progress_reporter

pd = pytest.importorskip("pandas")

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "option_chains"
FILES = sorted(DATA.glob("*/*_20*.csv"))[:3]  # BTC, ETH and the first SPX day
needs_data = pytest.mark.skipif(not FILES, reason="../shared/data not present")


@pytest.fixture(scope="module")
def sample() -> sg.Chain:
    return sg.Chain.sample()


@pytest.fixture(scope="module")
def chains() -> list[sg.Chain]:
    if not FILES:
        pytest.skip("../shared/data not present")
    return [sg.Chain.read_csv(p) for p in FILES]


def test_snapshot_keys(sample: sg.Chain) -> None:
    assert batch.snapshot_key(sample) == "2011-01-03T21:15:00Z SPX"
    frame = sample.to_frame(derived=False)
    keys = batch.snapshot_keys(frame)
    assert set(keys) == {"2011-01-03T21:15:00Z SPX"}
    naive = pd.DataFrame({"quote_time": ["2026-01-02T16:26:24"], "underlying": [" BTC"]})
    assert batch.snapshot_keys(naive).tolist() == ["2026-01-02T16:26:24Z BTC"]


def test_fit_equals_surface_fit(sample: sg.Chain) -> None:
    result = batch.fit([sample], surfaces=True)
    assert result.ok and result.snapshots == ["2011-01-03T21:15:00Z SPX"]
    surface = sg.Surface.fit(sample)
    fitted = result.frame[result.frame["skipped"] == ""]
    np.testing.assert_array_equal(
        fitted[["a", "b", "rho", "m", "sigma"]].to_numpy(), [s.params for s in surface.slices]
    )
    np.testing.assert_array_equal(fitted["t"], [s.t for s in surface.slices])
    skipped = result.frame[result.frame["skipped"] != ""]
    assert len(skipped) == len(surface.report().skipped)
    assert skipped["a"].isna().all()
    assert list(result.frame["t"]) == sorted(result.frame["t"])
    np.testing.assert_array_equal(
        result.surfaces["2011-01-03T21:15:00Z SPX"].vol(1250.0, 0.5), surface.vol(1250.0, 0.5)
    )
    ssvi = batch.fit({"x": sample}, model="ssvi")
    assert set(ssvi.frame["model"]) == {"ssvi"} and ssvi.snapshots == ["x"]


def test_imply_equals_quote_vols(sample: sg.Chain) -> None:
    result = batch.imply(sample)
    vols = sg.surface.quote_vols(sample)
    np.testing.assert_array_equal(result.frame["mid_vol"], vols["mid"])
    np.testing.assert_array_equal(result.frame["forward"], vols["forward"])
    np.testing.assert_array_equal(result.frame["strike"], sample.strike)
    assert len(result.frame) == len(sample)


@needs_data
def test_every_input_form_gives_the_same_frame(chains: list[sg.Chain]) -> None:
    ref = batch.imply(chains)
    assert ref.snapshots == [batch.snapshot_key(c) for c in chains]
    rows = pd.concat([c.to_frame(derived=False) for c in chains], ignore_index=True)
    forms: list[Any] = [
        [str(p) for p in FILES],
        {batch.snapshot_key(c): c for c in chains},
        {batch.snapshot_key(c): c.to_frame(derived=False) for c in chains},
        rows,
        rows.assign(snapshot=batch.snapshot_keys(rows)),
        (c for c in chains),  # a generator: no total, still works
    ]
    for form in forms:
        got = batch.imply(form)
        pd.testing.assert_frame_equal(got.frame, ref.frame)
    pl = pytest.importorskip("polars")
    pa = pytest.importorskip("pyarrow")
    as_polars = batch.imply(pl.from_pandas(rows))
    assert isinstance(as_polars.frame, pl.DataFrame)
    assert as_polars.frame.height == len(ref.frame)
    as_arrow = batch.imply(pa.Table.from_pandas(rows, preserve_index=False))
    assert isinstance(as_arrow.frame, pa.Table)
    pd.testing.assert_frame_equal(
        batch.imply(pl.from_pandas(rows), output="pandas").frame, ref.frame
    )
    assert set(batch.split(rows)) == set(ref.snapshots)


@needs_data
def test_screen_batch(chains: list[sg.Chain]) -> None:
    options = {"dte": (20, 60), "delta": (0.1, 0.3), "top": 3}
    result = batch.screen(chains, "bull_put_spread", **options)
    assert result.ok
    for chain in chains:
        key = batch.snapshot_key(chain)
        mine = result.frame[result.frame["snapshot"] == key].drop(columns="snapshot")
        direct = sg.screen(chain, "bull_put_spread", **options)
        pd.testing.assert_frame_equal(mine.reset_index(drop=True), direct, check_dtype=False)
    with pytest.raises(InputError, match="surface"):
        batch.screen(chains, "bull_put_spread", surface=None)
    with pytest.raises(InputError, match="strategy"):
        batch.screen(chains, "butterfly")


def test_failures_are_reported_and_others_kept(sample: sg.Chain, tmp_path: Path) -> None:
    broken = sample.to_frame(derived=False)
    broken.loc[3, "kind"] = "straddle"
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    result = batch.fit(
        {"good": sample, "bad kind": broken, "missing": tmp_path / "nope.csv", "empty": empty}
    )
    assert result.snapshots == ["good"]
    assert list(result.errors) == ["bad kind", "missing", "empty"]
    err = result.errors["bad kind"]
    assert err.error == "InputError" and "kind" in err.message and "at index 3" in err.message
    assert err.snapshot == "bad kind" and "Traceback" in err.traceback
    assert str(err).startswith("bad kind: InputError: ")
    assert "cannot read" in result.errors["missing"].message
    assert not result.ok
    assert "3 failed" in repr(result)
    with pytest.raises(batch.SnapshotError, match="2 more failed"):
        result.raise_errors()
    # paths without a name are named by the path until they are read
    by_path = batch.imply([tmp_path / "nope.csv", sample])
    assert list(by_path.errors) == [str(tmp_path / "nope.csv")]
    assert by_path.snapshots == ["2011-01-03T21:15:00Z SPX"]
    # every snapshot failing still gives a frame (with just the key column)
    none = batch.imply({"a": broken})
    assert list(none.frame.columns) == ["snapshot"] and len(none.frame) == 0


def test_bad_arguments() -> None:
    with pytest.raises(InputError, match="model"):
        batch.fit([], model="heston")
    with pytest.raises(InputError, match="output"):
        batch.imply([], output="excel")
    with pytest.raises(InputError, match="snapshots"):
        batch.imply(3.14)
    assert len(batch.imply([]).frame) == 0


def test_progress_reporters(sample: sg.Chain, capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[tuple[int, int | None, str]] = []
    batch.imply([sample, sample], progress=lambda d, t, k: seen.append((d, t, k)))
    assert seen == [(1, 2, "2011-01-03T21:15:00Z SPX"), (2, 2, "2011-01-03T21:15:00Z SPX")]
    batch.imply(sample, progress=True)
    err = capsys.readouterr().err
    assert "imply  1/1 [========================] 100%" in err and err.endswith("\n")
    batch.imply(sample, progress=False)
    batch.imply(sample)  # None: no bar when stderr is not a terminal
    assert capsys.readouterr().err == ""
    with pytest.raises(TypeError, match="progress"):
        progress_reporter("yes", 3)


def test_progress_bar_text() -> None:
    stream = io.StringIO()
    bar = ProgressBar(4, "fit", stream=stream, width=8)
    assert bar.line().startswith("fit  0/4 [>       ]   0%")
    bar.update("a")
    bar.update("b", failed=True)
    line = bar.line("b")
    assert line.startswith("fit  2/4 [====>   ]  50%") and "1 failed" in line and line.endswith("b")
    bar.close("interrupted")
    assert stream.getvalue().endswith("interrupted\n")
    unknown = ProgressBar(None, stream=io.StringIO())
    unknown.update()
    assert unknown.line().startswith("1 done")


@pytest.fixture
def sigint() -> Any:
    """Python's own SIGINT handler for the test (a CI job started in the background inherits
    SIGINT ignored, and a simulated Ctrl-C would then do nothing)."""
    import signal

    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


def test_ctrl_c_stops_between_snapshots(sample: sg.Chain, sigint: Any) -> None:
    import _thread

    def interrupt(done: int, total: int | None, key: str) -> None:
        if done == 2:
            _thread.interrupt_main()  # a real SIGINT-style KeyboardInterrupt

    with pytest.raises(batch.Interrupted) as info:
        batch.imply([sample] * 5, progress=interrupt)
    partial = info.value.result
    assert isinstance(info.value, KeyboardInterrupt)
    assert 2 <= len(partial.snapshots) <= 3
    assert len(partial.frame) == len(sample) * len(partial.snapshots)
    assert "interrupted after" in str(info.value)

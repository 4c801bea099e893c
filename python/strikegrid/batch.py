"""Chain-level work over many snapshots in one process: ``strikegrid.batch``.

:func:`imply`, :func:`fit` and :func:`screen` run one job over many chain snapshots (days of
end-of-day chains, several underlyings) and gather the results in one frame with a
``snapshot`` column. :mod:`strikegrid.dask` runs the same three jobs on a Dask cluster with the
same per-snapshot code, so both give identical frames.

Snapshots can be given as

* a pandas or polars DataFrame or a pyarrow Table of many snapshots in the normalised chain
  schema (the rows of several CSV files concatenated): rows are grouped by a ``snapshot``
  column, or by quote time and underlying when there is none (:func:`snapshot_keys`);
* a mapping from a name to a :class:`~strikegrid.Chain` (or a one-snapshot frame);
* an iterable of :class:`~strikegrid.Chain` objects, one-snapshot frames or CSV paths (a path
  is read when its turn comes, so a file that cannot be read is reported like any other
  failure).

Failures do not stop a batch: a snapshot whose job raises is recorded in
:attr:`BatchResult.errors` (which snapshot, the exception's type and message, the traceback)
and the others go on. Long batches show a progress bar (``progress=``, see
:mod:`strikegrid.progress`). Ctrl-C stops a batch between two snapshots and raises
:class:`Interrupted`, a ``KeyboardInterrupt`` that carries the snapshots finished so far.

Results come in the caller's frame type: polars for polars input, pyarrow for pyarrow input,
pandas otherwise, or as ``output=`` says.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from dataclasses import dataclass, field
from datetime import timezone
from typing import Any

import numpy as np
import numpy.typing as npt

from .chain import CORE_COLUMNS, REQUIRED_COLUMNS, Chain
from .exceptions import InputError, StrikegridError
from .frames import frame_kind, make_frame, to_pandas
from .progress import progress_reporter

__all__ = [
    "KEY",
    "BatchResult",
    "Interrupted",
    "SnapshotError",
    "fit",
    "imply",
    "screen",
    "snapshot_key",
    "snapshot_keys",
    "split",
]

#: Name of the snapshot key column.
KEY = "snapshot"
#: The chain-level jobs and what each returns per snapshot.
JOBS = ("imply", "fit", "screen")


# ------------------------------------------------------------------------------ keys


def snapshot_key(chain: Chain) -> str:
    """A snapshot's name: its quote time in UTC and its underlying,
    ``"2011-01-03T21:15:00Z SPX"`` (sorts by time, then underlying)."""
    t = chain.quote_time.astimezone(timezone.utc)
    return f"{t.strftime('%Y-%m-%dT%H:%M:%SZ')} {chain.underlying}"


def snapshot_keys(frame: Any) -> Any:
    """The :func:`snapshot_key` of every row of a pandas frame with ``quote_time`` and
    ``underlying`` columns, as a pandas Series (each distinct pair is converted once)."""
    pd = __import__("pandas")
    for name in ("quote_time", "underlying"):
        if name not in frame.columns:
            raise InputError(
                f"frame: needs a {KEY!r} column or {name!r} to name snapshots", arg=name
            )
    pairs = pd.MultiIndex.from_arrays(
        [frame["quote_time"].astype(str).to_numpy(), frame["underlying"].astype(str).to_numpy()]
    )
    codes, uniques = pairs.factorize()
    qt = pd.to_datetime(pd.Index(uniques.get_level_values(0)), utc=True, format="ISO8601")
    names = [u.strip() for u in uniques.get_level_values(1)]
    keys = np.array(
        [f"{t.strftime('%Y-%m-%dT%H:%M:%SZ')} {u}" for t, u in zip(qt, names)], dtype=object
    )
    return pd.Series(keys[codes], index=frame.index, dtype=object)


def chain_of(rows: Any) -> Chain:
    """The :class:`~strikegrid.Chain` of one snapshot's rows (a pandas frame, with or without a
    ``snapshot`` column or index). Extra columns that are empty in every row (other sources'
    columns in a frame of mixed snapshots) are left out."""
    df = rows.reset_index() if rows.index.name == KEY else rows
    keep = [
        c
        for c in df.columns
        if c != KEY and (c in CORE_COLUMNS or c in REQUIRED_COLUMNS or df[c].notna().any())
    ]
    return Chain.from_frame(df[keep])


def split(frame: Any) -> dict[str, Chain]:
    """A frame of many snapshots (pandas, polars or pyarrow) as ``{snapshot: Chain}``, in
    order of first appearance. Rows are grouped by the ``snapshot`` column, else by
    :func:`snapshot_keys`."""
    return {key: chain_of(rows) for key, rows in _groups(frame)}


def _groups(frame: Any) -> Iterator[tuple[str, Any]]:
    df = to_pandas(frame)
    if df.index.name == KEY:
        df = df.reset_index()
    keys = df[KEY] if KEY in df.columns else snapshot_keys(df)
    for key, rows in df.groupby(keys.to_numpy(), sort=False):
        yield str(key), rows


# ------------------------------------------------------------------------------ results


class SnapshotError(StrikegridError):
    """One snapshot's job failed: which snapshot, and why.

    Attributes:
        snapshot: the snapshot's key (or the file or partition it came from, when it could not
            be read).
        error: the exception's type name (``"InputError"``).
        message: the exception's message.
        traceback: the formatted traceback, where the job ran.
    """

    def __init__(self, snapshot: str, error: str, message: str, traceback: str = "") -> None:
        super().__init__(f"{snapshot}: {error}: {message}")
        self.snapshot = snapshot
        self.error = error
        self.message = message
        self.traceback = traceback

    @classmethod
    def from_exception(cls, snapshot: str, exc: BaseException) -> SnapshotError:
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return cls(snapshot, type(exc).__name__, str(exc), tb)

    def __reduce__(self) -> tuple[Any, ...]:
        return (SnapshotError, (self.snapshot, self.error, self.message, self.traceback))


@dataclass
class BatchResult:
    """What a batch job returns.

    Attributes:
        job: "imply", "fit" or "screen".
        frame: the rows of every snapshot that succeeded, in the order the snapshots were
            given, with the ``snapshot`` column first (pandas, polars or pyarrow).
        snapshots: the keys of the snapshots that succeeded, in that order.
        errors: snapshot key -> :class:`SnapshotError` for each one that failed.
        surfaces: snapshot key -> fitted :class:`~strikegrid.Surface` (``fit`` with
            ``surfaces=True`` only; empty otherwise).
        seconds: wall time of the batch.
    """

    job: str
    frame: Any
    snapshots: list[str]
    errors: dict[str, SnapshotError] = field(default_factory=dict)
    surfaces: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no snapshot failed."""
        return not self.errors

    def raise_errors(self) -> None:
        """Raise the first failure (its message counts the others), if any."""
        if self.errors:
            first = next(iter(self.errors.values()))
            more = len(self.errors) - 1
            if more:
                raise SnapshotError(
                    first.snapshot,
                    first.error,
                    f"{first.message} (and {more} more failed snapshot(s))",
                    first.traceback,
                )
            raise first

    def __repr__(self) -> str:
        failed = f", {len(self.errors)} failed" if self.errors else ""
        return (
            f"BatchResult({self.job}: {len(self.snapshots)} snapshots{failed}, "
            f"{_rows(self.frame)} rows, {self.seconds:.2f}s)"
        )


def _rows(frame: Any) -> int:
    return int(frame.num_rows) if frame_kind(frame) == "pyarrow" else len(frame)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped a batch; :attr:`result` holds the snapshots finished before it (a
    :class:`BatchResult`). Being a ``KeyboardInterrupt``, it ends a script as Ctrl-C does
    unless caught."""

    def __init__(self, result: BatchResult) -> None:
        super().__init__(
            f"interrupted after {len(result.snapshots) + len(result.errors)} snapshot(s)"
        )
        self.result = result


# ------------------------------------------------------------------------------ jobs


Columns = dict[str, npt.NDArray[Any]]


def _imply_one(chain: Chain, key: str, rate: float = 0.0) -> tuple[Columns, Any]:
    from .surface import quote_vols

    qv = quote_vols(chain, rate)
    n = len(chain)
    cols: Columns = {
        KEY: np.full(n, key, dtype=object),
        "underlying": np.full(n, chain.underlying, dtype=object),
        "expiry": np.asarray(chain.expiry_date, dtype="datetime64[D]"),
        "settlement": np.asarray(chain.expiry, dtype="datetime64[ms]"),
        "t": np.asarray(chain.t, dtype=np.float64),
        "kind": np.where(chain.kind > 0, "call", "put").astype(object),
        "strike": np.asarray(chain.strike, dtype=np.float64),
        "bid": np.asarray(chain.bid, dtype=np.float64),
        "ask": np.asarray(chain.ask, dtype=np.float64),
        "mid": np.asarray(chain.mid, dtype=np.float64),
        "usable": np.asarray(chain.usable, dtype=bool),
        "forward": qv["forward"],
        "discount": qv["discount"],
        "bid_vol": qv["bid"],
        "ask_vol": qv["ask"],
        "mid_vol": qv["mid"],
        "iv_source": np.asarray(chain.iv_source, dtype=np.float64),
    }
    return cols, None


_FIT_FLOATS = (
    "t",
    "forward",
    "discount",
    "a",
    "b",
    "rho",
    "m",
    "sigma",
    "quotes",
    "rmse_vol",
    "inside_share",
    "min_g",
    "calendar_dip",
)


def _fit_one(
    chain: Chain,
    key: str,
    model: str = "svi",
    rate: float = 0.0,
    min_quotes: int | None = None,
    surfaces: bool = False,
) -> tuple[Columns, Any]:
    from .surface import MIN_QUOTES, Surface

    surface = Surface.fit(
        chain, model, rate=rate, min_quotes=MIN_QUOTES if min_quotes is None else min_quotes
    )
    settle = {float(t): x for t, x in zip(chain.expiries.t, chain.expiries.time)}
    rows: list[dict[str, Any]] = []
    for s in surface.slices:
        a, b, rho, m, sigma = s.params
        rows.append(
            {
                "t": s.t,
                "settlement": settle.get(s.t, np.datetime64("NaT")),
                "forward": s.forward,
                "discount": s.discount,
                "parity": s.parity.method,
                "a": a,
                "b": b,
                "rho": rho,
                "m": m,
                "sigma": sigma,
                "quotes": float(s.quotes),
                "rmse_vol": s.rmse_vol,
                "inside_share": s.inside_share,
                "min_g": s.min_g,
                "repaired": s.repaired,
                "calendar_dip": s.calendar_dip,
                "skipped": "",
            }
        )
    for t, why in surface.report().skipped:
        row: dict[str, Any] = dict.fromkeys(_FIT_FLOATS, np.nan)
        row.update(
            t=t,
            settlement=settle.get(float(t), np.datetime64("NaT")),
            parity="",
            repaired=False,
            skipped=why,
        )
        rows.append(row)
    rows.sort(key=lambda r: r["t"])
    n = len(rows)
    cols: Columns = {
        KEY: np.full(n, key, dtype=object),
        "underlying": np.full(n, chain.underlying, dtype=object),
        "model": np.full(n, model, dtype=object),
        "settlement": np.array([r["settlement"] for r in rows], dtype="datetime64[ms]"),
    }
    for name in ("t", "forward", "discount", "parity", "a", "b", "rho", "m", "sigma"):
        cols[name] = np.array(
            [r[name] for r in rows], dtype=object if name == "parity" else np.float64
        )
    cols["quotes"] = np.array([r["quotes"] for r in rows], dtype=np.float64)
    for name in ("rmse_vol", "inside_share", "min_g", "calendar_dip"):
        cols[name] = np.array([r[name] for r in rows], dtype=np.float64)
    cols["repaired"] = np.array([r["repaired"] for r in rows], dtype=bool)
    cols["skipped"] = np.array([r["skipped"] for r in rows], dtype=object)
    return cols, (surface if surfaces else None)


def _screen_one(
    chain: Chain, key: str, strategy: str = "", options: Mapping[str, Any] | None = None
) -> tuple[Columns, Any]:
    from .screening import screen as _screen

    result = _screen(chain, strategy, frame=None, **dict(options or {}))
    rec = result.records
    cols: Columns = {KEY: np.full(len(rec), key, dtype=object)}
    for name in rec.dtype.names or ():
        col = np.asarray(rec[name])
        cols[name] = col.astype(object) if col.dtype.kind == "U" else col
    return cols, None


_JOBS: dict[str, Callable[..., tuple[Columns, Any]]] = {
    "imply": _imply_one,
    "fit": _fit_one,
    "screen": _screen_one,
}


@dataclass
class Outcome:
    """One snapshot's result: its columns (and surface), or its error."""

    key: str
    columns: Columns | None = None
    surface: Any = None
    error: SnapshotError | None = None


def _source_chain(source: Any) -> Chain:
    if isinstance(source, Chain):
        return source
    if isinstance(source, (str, os.PathLike)):
        return Chain.read_csv(source)
    if frame_kind(source) == "pandas":
        return chain_of(source)
    return Chain.from_frame(source)


def run_one(job: str, key: str, source: Any, options: Mapping[str, Any]) -> Outcome:
    """Run one job on one snapshot, catching its failure: the unit that both this module and
    :mod:`strikegrid.dask` run. ``source``: a Chain, a one-snapshot frame, or a CSV path;
    ``key``: the snapshot's name ("" to take :func:`snapshot_key` of the chain)."""
    label = key or (os.fspath(source) if isinstance(source, (str, os.PathLike)) else "")
    try:
        chain = _source_chain(source)
        if not key:
            key = label = snapshot_key(chain)
        columns, surface = _JOBS[job](chain, key, **options)
        return Outcome(key, columns, surface)
    except Exception as e:  # one snapshot's failure must not stop the others
        label = label or "?"
        return Outcome(label, error=SnapshotError.from_exception(label, e))


def assemble(
    job: str, outcomes: Iterable[Outcome], output: str, seconds: float = 0.0
) -> BatchResult:
    """The :class:`BatchResult` of per-snapshot outcomes, in their order."""
    done = list(outcomes)
    ok = [o for o in done if o.error is None and o.columns is not None]
    if ok:
        names = list(ok[0].columns or {})
        cols = {n: np.concatenate([np.asarray((o.columns or {})[n]) for o in ok]) for n in names}
    else:
        cols = {KEY: np.zeros(0, dtype=object)}
    return BatchResult(
        job=job,
        frame=make_frame(cols, output),
        snapshots=[o.key for o in ok],
        errors={o.key: o.error for o in done if o.error is not None},
        surfaces={o.key: o.surface for o in ok if o.surface is not None},
        seconds=seconds,
    )


def _items(snapshots: Any) -> tuple[Iterable[tuple[str, Any]], int | None, str | None]:
    """(key, source) pairs, their number when known, and the input's frame type."""
    kind = frame_kind(snapshots)
    if kind == "dask":
        raise InputError(
            "snapshots: a dask DataFrame runs on Dask: use strikegrid.dask.imply / fit / screen",
            arg="snapshots",
        )
    if kind is not None:
        groups = list(_groups(snapshots))
        return groups, len(groups), kind
    if isinstance(snapshots, (Chain, str, os.PathLike)):
        return [("", snapshots)], 1, None
    if isinstance(snapshots, Mapping):
        pairs = [(str(k), v) for k, v in snapshots.items()]
        kinds = {frame_kind(v) for v in snapshots.values()}
        return pairs, len(pairs), kinds.pop() if len(kinds) == 1 else None
    if isinstance(snapshots, Iterable):
        total = len(snapshots) if isinstance(snapshots, Sized) else None
        return (("", x) for x in snapshots), total, None
    raise InputError(
        "snapshots: expected a frame of snapshots, a mapping of chains, or an iterable of "
        f"chains, frames or paths; got {type(snapshots).__name__}",
        arg="snapshots",
    )


def output_kind(output: str | None, kind: str | None) -> str:
    """The frame type of a result: ``output`` when given, else the input's type (pandas for
    anything that is not a polars or pyarrow frame)."""
    if output is None:
        return kind if kind in ("polars", "pyarrow") else "pandas"
    if output not in ("pandas", "polars", "pyarrow"):
        raise InputError(
            f"output: must be 'pandas', 'polars' or 'pyarrow', got {output!r}", arg="output"
        )
    return output


def _run(
    job: str, snapshots: Any, options: dict[str, Any], progress: Any, output: str | None
) -> BatchResult:
    items, total, kind = _items(snapshots)
    out = output_kind(output, kind)
    bar = progress_reporter(progress, total, job)
    outcomes: list[Outcome] = []
    start = time.perf_counter()
    try:
        for key, source in items:
            outcome = run_one(job, key, source, options)
            outcomes.append(outcome)
            bar.update(outcome.key, failed=outcome.error is not None)
    except KeyboardInterrupt:
        bar.close("interrupted")
        partial = assemble(job, outcomes, out, time.perf_counter() - start)
        raise Interrupted(partial) from None
    bar.close()
    return assemble(job, outcomes, out, time.perf_counter() - start)


# ------------------------------------------------------------------------------ public


def imply(
    snapshots: Any, *, rate: float = 0.0, progress: Any = None, output: str | None = None
) -> BatchResult:
    """Implied vols of every quote of every snapshot, as :func:`strikegrid.surface.quote_vols`
    gives them (parity forward and discount per expiry, bid/ask/mid vols).

    Args:
        snapshots: the snapshots (module docs).
        rate: the rate used where parity cannot pin a discount factor down.
        progress: ``None``, ``True``, ``False`` or a callable (:mod:`strikegrid.progress`).
        output: "pandas", "polars" or "pyarrow" (default: the input's frame type).

    Returns:
        A :class:`BatchResult` whose frame has one row per quote: ``snapshot``,
        ``underlying``, ``expiry`` (listed date), ``settlement`` (instant, UTC), ``t``,
        ``kind``, ``strike``, ``bid``, ``ask``, ``mid``, ``usable``, ``forward``,
        ``discount``, ``bid_vol``, ``ask_vol``, ``mid_vol``, ``iv_source``.
    """
    return _run("imply", snapshots, {"rate": float(rate)}, progress, output)


def fit(
    snapshots: Any,
    *,
    model: str = "svi",
    rate: float = 0.0,
    min_quotes: int | None = None,
    surfaces: bool = False,
    progress: Any = None,
    output: str | None = None,
) -> BatchResult:
    """A :meth:`Surface.fit <strikegrid.Surface.fit>` of every snapshot.

    Args:
        snapshots: the snapshots (module docs).
        model, rate, min_quotes: as for :meth:`strikegrid.Surface.fit`.
        surfaces: also keep each fitted :class:`~strikegrid.Surface` in
            :attr:`BatchResult.surfaces`.
        progress, output: as for :func:`imply`.

    Returns:
        A :class:`BatchResult` whose frame has one row per expiry: ``snapshot``,
        ``underlying``, ``model``, ``settlement``, ``t``, ``forward``, ``discount``,
        ``parity`` (how the forward was found), the raw SVI parameters ``a``, ``b``, ``rho``,
        ``m``, ``sigma`` (for SSVI the slice's SVI form), ``quotes``, ``rmse_vol``,
        ``inside_share``, ``min_g``, ``repaired``, ``calendar_dip`` (as in
        :class:`~strikegrid.surface.SliceFit`), and ``skipped`` (why an expiry got no smile;
        its other columns are NaN; ``""`` for fitted expiries).
    """
    if model not in ("svi", "ssvi"):
        raise InputError(f"model: must be 'svi' or 'ssvi', got {model!r}", arg="model")
    options = {"model": model, "rate": float(rate), "min_quotes": min_quotes, "surfaces": surfaces}
    return _run("fit", snapshots, options, progress, output)


def screen(
    snapshots: Any,
    strategy: str,
    *,
    progress: Any = None,
    output: str | None = None,
    **options: Any,
) -> BatchResult:
    """:func:`strikegrid.screen` on every snapshot (each with its own fitted surface).

    Args:
        snapshots: the snapshots (module docs).
        strategy: as for :func:`strikegrid.screen`.
        progress, output: as for :func:`imply`.
        options: :func:`strikegrid.screen`'s filters and ranking (``dte``, ``delta``,
            ``width``, ``min_pop``, ``rank_by``, ``top``, ``per_expiry``...), applied to each
            snapshot; ``surface`` and ``frame`` are not taken.

    Returns:
        A :class:`BatchResult` whose frame holds each snapshot's kept candidates (best first
        within a snapshot) after a ``snapshot`` column.
    """
    from .screening import STRATEGIES

    if strategy not in STRATEGIES:
        raise InputError(f"strategy: must be one of {STRATEGIES}, got {strategy!r}", arg="strategy")
    for name in ("surface", "frame"):
        if name in options:
            raise InputError(f"{name}: not taken by a batch screen", arg=name)
    return _run("screen", snapshots, {"strategy": strategy, "options": options}, progress, output)

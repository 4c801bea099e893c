"""Scaling out on Dask: ``strikegrid.dask`` (the optional extra ``strikegrid[dask]``).

Two layers, both on Dask's own collections and schedulers (nothing home-made):

**Arrays.** :func:`price`, :func:`greeks` and :func:`implied_vol` take the arguments of
:func:`strikegrid.price`, :func:`strikegrid.greeks` and :func:`strikegrid.implied_vol`, where any
argument may be a ``dask.array`` (numpy arrays and scalars mix in), and return ``dask.array``
results: lazy, one kernel call per block, chunked like the inputs (broadcast like numpy; a
size-1 dimension is never materialised). Each block is computed by the in-memory kernel, so the
values are identical to the in-memory call's, bit for bit. The kernels release the GIL, so the
threaded scheduler and multi-threaded workers run blocks in parallel; what a task carries to a
worker is a reference to a module-level function, the block and a few options (bytes, not a
closure). A bad element raises the in-memory kernel's :class:`~strikegrid.InputError`, with the
index of the element in the whole array.

**Snapshots.** :func:`imply`, :func:`fit` and :func:`screen` run the jobs of
:mod:`strikegrid.batch` over a ``dask.dataframe`` of many chain snapshots, one partition per
snapshot (:func:`read_snapshots` builds one from CSV files, :func:`by_snapshot` from any
frame), on a ``dask.distributed`` cluster (``client=``, or the current client) or, without one,
on a local thread pool. Each snapshot runs the same code as :mod:`strikegrid.batch`, so the
frames are identical. A snapshot that fails (bad data, a file that cannot be read, a worker
lost) is reported in :attr:`~strikegrid.batch.BatchResult.errors` by name, with the exception
and traceback; the other snapshots' results are kept. Progress is Dask's own progress bar on a
cluster (the dashboard at ``client.dashboard_link`` shows the tasks), a terminal bar without one
(``progress=``, :mod:`strikegrid.progress`); Ctrl-C cancels the outstanding tasks and raises
:class:`~strikegrid.batch.Interrupted` with the finished snapshots.
"""

from __future__ import annotations

import csv
import glob
import os
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from datetime import timezone
from typing import Any

import numpy as np
import numpy.typing as npt

try:
    import dask as _dask
    import dask.array as _da
    import dask.dataframe as _dd
except ImportError as e:  # pragma: no cover - the optional extra is missing
    raise ImportError(
        "strikegrid.dask needs dask: pip install 'strikegrid[dask]'"
        " (dask[array,dataframe] and distributed)"
    ) from e

from . import batch
from .batch import KEY, BatchResult, Interrupted, Outcome, SnapshotError, run_one
from .chain import CORE_COLUMNS, _instant
from .exceptions import InputError
from .frames import frame_kind, to_pandas
from .implied import implied_vol as _implied_vol
from .pricing import GREEKS, _which
from .pricing import greeks as _greeks
from .pricing import price as _price
from .progress import progress_reporter

# dask is untyped: its modules as Any (mypy --strict would flag every call).
dask: Any = _dask
da: Any = _da
dd: Any = _dd

__all__ = [
    "by_snapshot",
    "fit",
    "greeks",
    "implied_vol",
    "imply",
    "price",
    "read_snapshots",
    "screen",
]

#: Kernel arguments in order.
_PRICE_ARGS = ("kind", "spot", "strike", "expiry", "vol", "rate", "div")
_IV_ARGS = ("premium", "kind", "spot", "strike", "expiry", "rate", "div")


# ------------------------------------------------------------------------------ arrays


def _shifted(error: InputError, block_info: Any) -> InputError:
    """The block's InputError with its index moved from the block to the whole array."""
    info = (block_info or {}).get(None) or {}
    location = info.get("array-location")
    if error.index is None or not location:
        return error
    local = (error.index,) if isinstance(error.index, int) else tuple(error.index)
    glob_index = tuple(i + start for i, (start, _) in zip(local, location))
    new: int | tuple[int, ...] = glob_index[0] if isinstance(error.index, int) else glob_index
    message = str(error)
    old_text = f"at index {error.index}"
    if old_text in message:
        head, _, tail = message.rpartition(old_text)
        message = f"{head}at index {new}{tail}"
    return InputError(message, arg=error.arg, index=new)


def _arguments(
    names: Sequence[str], blocks: Sequence[Any], consts: dict[str, Any]
) -> dict[str, Any]:
    args = dict(consts)
    args.update(zip(names, blocks))
    return args


def price_block(
    *blocks: Any,
    names: Sequence[str],
    consts: dict[str, Any],
    options: dict[str, Any],
    block_info: Any = None,
) -> npt.NDArray[np.float64]:
    """One block of :func:`price`: the in-memory kernel on the block's arguments."""
    try:
        out = _price(**_arguments(names, blocks, consts), **options)
    except InputError as e:
        raise _shifted(e, block_info) from None
    return np.asarray(out, dtype=np.float64)


def greeks_block(
    *blocks: Any,
    names: Sequence[str],
    consts: dict[str, Any],
    options: dict[str, Any],
    which: Sequence[str],
    block_info: Any = None,
) -> npt.NDArray[np.float64]:
    """One block of :func:`greeks`: the outputs stacked on a last axis, in ``which`` order."""
    try:
        out = _greeks(**_arguments(names, blocks, consts), which=list(which), **options)
    except InputError as e:
        raise _shifted(e, block_info) from None
    return np.stack([np.asarray(out[w], dtype=np.float64) for w in which], axis=-1)


def implied_block(
    *blocks: Any,
    names: Sequence[str],
    consts: dict[str, Any],
    options: dict[str, Any],
    status: bool,
    block_info: Any = None,
) -> npt.NDArray[np.float64]:
    """One block of :func:`implied_vol` (with ``status``: vol and status code stacked)."""
    try:
        result: Any = _implied_vol(
            **_arguments(names, blocks, consts), return_status=True, **options
        )
    except InputError as e:
        raise _shifted(e, block_info) from None
    vol, code = result
    vol = np.asarray(vol, dtype=np.float64)
    if not status:
        return vol
    return np.stack([vol, np.asarray(code, dtype=np.float64)], axis=-1)


def _split(
    values: dict[str, Any], chunks: Any
) -> tuple[list[str], list[Any], dict[str, Any], tuple[tuple[int, ...], ...]]:
    """Array arguments as dask arrays with unified chunks (numpy ones chunked like the
    result), scalars apart, and the result's chunks (a size-1 axis broadcasts)."""
    arrays: dict[str, Any] = {}
    consts: dict[str, Any] = {}
    for name, v in values.items():
        if isinstance(v, da.Array):
            arrays[name] = v
        elif np.ndim(v) == 0 and not isinstance(v, np.ndarray):
            consts[name] = v
        else:
            arrays[name] = np.asarray(v)
    if not arrays:  # all scalars: a 0-d result
        first = next(iter(values))
        arrays[first] = np.asarray(consts.pop(first))
    ndim = max(a.ndim for a in arrays.values())
    if not any(isinstance(a, da.Array) for a in arrays.values()):
        shape = np.broadcast_shapes(*(a.shape for a in arrays.values()))
        out_chunks = da.core.normalize_chunks(chunks, shape, dtype=np.float64)
        for name, a in arrays.items():
            own = out_chunks[ndim - a.ndim :]
            per_dim = tuple((1,) if n == 1 else c for n, c in zip(a.shape, own))
            arrays[name] = da.from_array(a, chunks=per_dim)
    else:
        for name, a in arrays.items():
            if not isinstance(a, da.Array):
                arrays[name] = da.from_array(a, chunks=a.shape or ())
    names = list(arrays)
    index = tuple(range(ndim))
    pairs: list[Any] = []
    for n in names:
        pairs += [arrays[n], index[ndim - arrays[n].ndim :]]
    unified, aligned = da.core.unify_chunks(*pairs)
    result_chunks = tuple(unified.get(i, (1,)) for i in index)
    return names, list(aligned), consts, result_chunks


def _float_meta(ndim: int) -> npt.NDArray[np.float64]:
    return np.empty((0,) * ndim, dtype=np.float64)


def price(
    kind: Any,
    spot: Any,
    strike: Any,
    expiry: Any,
    vol: Any,
    rate: Any = 0.0,
    div: Any = 0.0,
    *,
    chunks: Any = "auto",
    **options: Any,
) -> Any:
    """:func:`strikegrid.price` block-wise: a lazy ``dask.array`` of premiums.

    Args:
        kind, spot, strike, expiry, vol, rate, div: as for :func:`strikegrid.price`; each may
            be a dask array, a numpy array or a scalar; they broadcast like numpy.
        chunks: block sizes when no argument is a dask array (numpy arrays are then split
            with ``dask.array``'s ``chunks`` rules, ``"auto"`` by default); ignored otherwise
            (the dask arguments' chunks are used).
        options: :func:`strikegrid.price`'s keywords (``model``, ``exercise``, ``method``,
            ``steps``, ``dividends``, ``errors``), checked now.

    Returns:
        A float64 dask array of the broadcast shape, chunked like the inputs.
    """
    values = dict(zip(_PRICE_ARGS, (kind, spot, strike, expiry, vol, rate, div)))
    _price("call", 1.0, 1.0, 1.0, 0.2, **options)
    names, arrays, consts, out = _split(values, chunks)
    return da.map_blocks(
        price_block,
        *arrays,
        names=names,
        consts=consts,
        options=options,
        dtype=np.float64,
        chunks=out,
        meta=_float_meta(len(out)),
    )


def greeks(
    kind: Any,
    spot: Any,
    strike: Any,
    expiry: Any,
    vol: Any,
    rate: Any = 0.0,
    div: Any = 0.0,
    *,
    which: str | Iterable[str] | None = None,
    chunks: Any = "auto",
    **options: Any,
) -> dict[str, Any]:
    """:func:`strikegrid.greeks` block-wise: a dict from name to lazy ``dask.array``.

    The outputs asked for (``which``, as for :func:`strikegrid.greeks`; all twelve when None)
    are computed by one kernel call per block; compute several together
    (``dask.compute(*result.values())``) to run it once. Other arguments: as for
    :func:`price`.
    """
    names_out = list(GREEKS) if which is None else list(_which(which)[1])
    values = dict(zip(_PRICE_ARGS, (kind, spot, strike, expiry, vol, rate, div)))
    _greeks("call", 1.0, 1.0, 1.0, 0.2, which=names_out, **options)
    names, arrays, consts, out = _split(values, chunks)
    stacked = da.map_blocks(
        greeks_block,
        *arrays,
        names=names,
        consts=consts,
        options=options,
        which=names_out,
        dtype=np.float64,
        new_axis=len(out),
        chunks=(*out, (len(names_out),)),
        meta=_float_meta(len(out) + 1),
    )
    return {name: stacked[..., i] for i, name in enumerate(names_out)}


def implied_vol(
    premium: Any,
    kind: Any,
    spot: Any,
    strike: Any,
    expiry: Any,
    rate: Any = 0.0,
    div: Any = 0.0,
    *,
    return_status: bool = False,
    chunks: Any = "auto",
    **options: Any,
) -> Any:
    """:func:`strikegrid.implied_vol` block-wise: a lazy ``dask.array`` of vols, or
    ``(vol, status)`` dask arrays with ``return_status=True`` (status uint8, as
    :data:`strikegrid.IV_STATUS`). Other arguments: as for :func:`price`."""
    values = dict(zip(_IV_ARGS, (premium, kind, spot, strike, expiry, rate, div)))
    _implied_vol(1.0, "call", 1.0, 1.0, 1.0, **options)
    names, arrays, consts, out = _split(values, chunks)
    common: dict[str, Any] = {"names": names, "consts": consts, "options": options}
    if not return_status:
        return da.map_blocks(
            implied_block,
            *arrays,
            **common,
            status=False,
            dtype=np.float64,
            chunks=out,
            meta=_float_meta(len(out)),
        )
    stacked = da.map_blocks(
        implied_block,
        *arrays,
        **common,
        status=True,
        dtype=np.float64,
        new_axis=len(out),
        chunks=(*out, (2,)),
        meta=_float_meta(len(out) + 1),
    )
    return stacked[..., 0], stacked[..., 1].astype(np.uint8)


# ------------------------------------------------------------------------------ snapshots


def _paths(paths: Any) -> list[str]:
    if isinstance(paths, (str, os.PathLike)):
        text = os.fspath(paths)
        found = sorted(glob.glob(text)) if glob.has_magic(text) else [text]
    else:
        found = [os.fspath(p) for p in paths]
    if not found:
        raise InputError(f"paths: no file matches {paths!r}", arg="paths")
    return found


def _key_of_text(quote_time: str, underlying: str) -> str:
    """:func:`strikegrid.batch.snapshot_key` from a row's quote time and underlying text."""
    t = _instant(quote_time, "quote_time", 0).astimezone(timezone.utc)
    return f"{t.strftime('%Y-%m-%dT%H:%M:%SZ')} {underlying.strip()}"


def _peek(path: str, rows: int) -> tuple[str, Any]:
    """The snapshot key of a CSV file (from its first row) and a sample of its rows."""
    pd = __import__("pandas")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            first = next(csv.DictReader(f), None)
    except OSError as e:
        raise InputError(f"paths: cannot read {path!r}: {e}", arg="paths") from e
    if first is None:
        raise InputError(f"paths: {path!r} has no rows", arg="paths")
    for name in ("quote_time", "underlying"):
        if name not in first:
            raise InputError(f"paths: {path!r} has no {name!r} column", arg="paths")
    key = _key_of_text(first["quote_time"], first["underlying"])
    sample = pd.read_csv(path, nrows=rows, **_csv_options())
    return key, sample


def _csv_options() -> dict[str, Any]:
    """pandas.read_csv options that parse numbers exactly as Python's float() does (pandas 3
    always does; pandas 2 needs the round-trip parser)."""
    pd = __import__("pandas")
    major = int(pd.__version__.split(".")[0])
    return {} if major >= 3 else {"float_precision": "round_trip"}


def _numeric(series: Any) -> bool:
    return bool(series.dtype.kind in "fiub" or series.isna().all())


def read_snapshot_file(
    path: str, key: str, *, columns: Sequence[str], floats: Sequence[str]
) -> Any:
    """One partition of :func:`read_snapshots`: a CSV file as a pandas frame indexed by
    ``snapshot``, with the union of the files' columns (floats as float64, the rest as
    objects; a column the file lacks is empty)."""
    pd = __import__("pandas")
    df = pd.read_csv(path, **_csv_options())
    keys = batch.snapshot_keys(df)
    others = sorted(set(keys.tolist()) - {key})
    if others:
        raise InputError(
            f"{path}: holds several snapshots ({key}, {', '.join(others[:3])}); one file must "
            "hold one (see strikegrid.dask.by_snapshot for frames of many)",
            arg="paths",
        )
    numeric = set(floats)
    data: dict[str, npt.NDArray[Any]] = {}
    for c in columns:
        if c in df.columns:
            data[c] = (
                pd.to_numeric(df[c]).to_numpy(dtype=np.float64)
                if c in numeric
                else df[c].to_numpy().astype(object)
            )
        else:
            data[c] = np.full(len(df), np.nan, dtype=np.float64 if c in numeric else object)
    index = pd.Index(np.full(len(df), key, dtype=object), name=KEY)
    return pd.DataFrame(data, index=index, copy=False)


def read_snapshots(paths: Any, *, sample_rows: int = 200) -> Any:
    """A ``dask.dataframe`` of chain snapshots from normalised CSV files, one partition per
    file, indexed by the snapshot key (:func:`strikegrid.batch.snapshot_key`) with known
    divisions, in key order.

    Args:
        paths: a glob pattern or a list of paths; each file holds one snapshot (one underlying
            at one quote time), as in ``shared/data/option_chains``.
        sample_rows: rows read from each file now to settle the columns and their types
            (files of different sources have different extra columns: the frame has them
            all, empty where a file lacks one).

    Files are read lazily, when a partition is computed; only each file's first rows are read
    here. Two files of one snapshot raise :class:`~strikegrid.InputError`.
    """
    pd = __import__("pandas")
    found = _paths(paths)
    keyed: list[tuple[str, str]] = []
    columns: list[str] = []
    numeric: dict[str, bool] = {}
    for p in found:
        key, sample = _peek(p, sample_rows)
        keyed.append((key, p))
        for c in sample.columns:
            if c not in columns:
                columns.append(c)
            numeric[c] = numeric.get(c, True) and _numeric(sample[c])
    keyed.sort()
    keys = [k for k, _ in keyed]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise InputError(f"paths: several files hold snapshot {dup[0]!r}", arg="paths")
    order = [c for c in CORE_COLUMNS if c in columns] + [
        c for c in columns if c not in CORE_COLUMNS
    ]
    floats = [c for c in order if numeric[c] and c not in _TEXT_COLUMNS]
    meta = pd.DataFrame(
        {c: np.zeros(0, dtype=np.float64 if c in floats else object) for c in order},
        index=pd.Index(np.zeros(0, dtype=object), name=KEY),
    )
    return dd.from_map(
        read_snapshot_file,
        [p for _, p in keyed],
        [k for k, _ in keyed],
        columns=order,
        floats=floats,
        meta=meta,
        divisions=(*keys, keys[-1]),
        label="read-snapshots",
        enforce_metadata=False,
    )


#: Schema columns that stay text even when a file's sample looks numeric or empty.
_TEXT_COLUMNS = frozenset(
    {
        "underlying",
        "quote_time",
        "expiry",
        "kind",
        "price_unit",
        "contract",
        "exercise_style",
        "settlement",
        "expiry_time",
        "iv_interpolated",
    }
)


def _identity(part: Any) -> Any:
    return part


def _order_rows(part: Any, partition_info: Any = None) -> Any:
    number = (partition_info or {}).get("number", 0)
    return part.assign(_sg_order=np.arange(len(part), dtype=np.int64) + (int(number) << 40))


def _restore_order(part: Any) -> Any:
    return part.sort_values("_sg_order", kind="stable").drop(columns="_sg_order")


def _empty_text() -> Any:
    pd = __import__("pandas")
    return pd.Series(np.zeros(0, dtype=object), dtype=object)


def _with_key(part: Any) -> Any:
    if KEY in part.columns or part.index.name == KEY:
        return part
    return part.assign(**{KEY: batch.snapshot_keys(part).to_numpy()})


def by_snapshot(frame: Any) -> Any:
    """A frame of many snapshots as a ``dask.dataframe`` with one partition per snapshot,
    indexed by the snapshot key (known divisions, key order; rows keep their order within a
    snapshot).

    ``frame``: a pandas or polars DataFrame or pyarrow Table (split here, the pieces go into
    the graph), or a dask DataFrame (shuffled: its snapshot keys are computed once). Rows are
    grouped by the ``snapshot`` column, or by quote time and underlying
    (:func:`strikegrid.batch.snapshot_keys`).
    """
    kind = frame_kind(frame)
    if kind is None:
        raise InputError(
            f"frame: expected a pandas, polars or dask DataFrame or a pyarrow Table, got "
            f"{type(frame).__name__}",
            arg="frame",
        )
    if kind != "dask":
        pd = __import__("pandas")
        df = _with_key(to_pandas(frame))
        if df.index.name == KEY:
            df = df.reset_index()
        parts = sorted(
            (str(k), g.set_index(KEY)) for k, g in df.groupby(df[KEY].to_numpy(), sort=False)
        )
        if not parts:
            raise InputError("frame: no rows", arg="frame")
        keys = [k for k, _ in parts]
        meta = parts[0][1].iloc[:0]
        del pd
        return dd.from_map(_identity, [g for _, g in parts], meta=meta, divisions=(*keys, keys[-1]))
    ddf = frame
    if ddf.index.name == KEY:
        ddf = ddf.reset_index()
    if KEY not in ddf.columns:
        ddf = ddf.map_partitions(_with_key, meta=ddf._meta.assign(**{KEY: _empty_text()}))
    ddf = ddf.map_partitions(
        _order_rows, meta=ddf._meta.assign(_sg_order=np.zeros(0, dtype=np.int64))
    )
    keys = sorted(str(k) for k in ddf[KEY].unique().compute().tolist())
    if not keys:
        raise InputError("frame: no rows", arg="frame")
    out = ddf.set_index(KEY, divisions=(*keys, keys[-1]))
    return out.map_partitions(_restore_order, meta=out._meta.drop(columns="_sg_order"))


def run_partition(part: Any, job: str, options: dict[str, Any]) -> list[Outcome]:
    """One partition's snapshots through :func:`strikegrid.batch.run_one` (the task each
    partition runs)."""
    return [run_one(job, key, rows, options) for key, rows in batch._groups(part)]


def _as_snapshot_frame(snapshots: Any) -> Any:
    kind = frame_kind(snapshots)
    if kind == "dask":
        return snapshots
    if kind is not None:
        return by_snapshot(snapshots)
    if isinstance(snapshots, (str, os.PathLike)) or (
        isinstance(snapshots, Iterable) and not isinstance(snapshots, dict)
    ):
        return read_snapshots(snapshots)
    raise InputError(
        "snapshots: expected a dask DataFrame of snapshots, a frame to split, or CSV paths; got "
        f"{type(snapshots).__name__}",
        arg="snapshots",
    )


def _labels(ddf: Any) -> list[str]:
    """What to call each partition in an error: its snapshot key when the frame has one
    partition per snapshot (known divisions on the snapshot index, the last one repeated, as
    :func:`read_snapshots` and :func:`by_snapshot` make them), else ``partition i``."""
    n = ddf.npartitions
    divisions = ddf.divisions
    one_each = (
        ddf.index.name == KEY
        and ddf.known_divisions
        and len(divisions) == n + 1
        and divisions[-1] == divisions[-2]
        and len(set(divisions)) == n
    )
    if one_each:
        return [str(divisions[i]) for i in range(n)]
    return [f"partition {i}" for i in range(n)]


def _default_client() -> Any:
    try:
        distributed: Any = __import__("distributed")
    except ImportError:  # pragma: no cover - distributed is part of the extra
        return None
    try:
        return distributed.get_client()
    except ValueError:
        return None


def _finish(
    job: str,
    results: list[list[Outcome] | None],
    output: str,
    start: float,
) -> BatchResult:
    outcomes = [o for r in results if r is not None for o in r]
    seen: dict[str, int] = {}
    for o in outcomes:
        seen[o.key] = seen.get(o.key, 0) + 1
    split_keys = {k for k, n in seen.items() if n > 1}
    kept = [o for o in outcomes if o.key not in split_keys]
    for key in sorted(split_keys):
        kept.append(
            Outcome(
                key,
                error=SnapshotError(
                    key,
                    "InputError",
                    "the snapshot's rows are spread over several partitions; repartition "
                    "with strikegrid.dask.by_snapshot",
                ),
            )
        )
    return batch.assemble(job, kept, output, time.perf_counter() - start)


def _failed(label: str, exc: BaseException, tb: str = "") -> list[Outcome]:
    return [Outcome(label, error=SnapshotError(label, type(exc).__name__, str(exc), tb))]


def _on_cluster(
    client: Any,
    tasks: list[Any],
    labels: list[str],
    progress: Any,
    job: str,
    results: list[list[Outcome] | None],
) -> None:
    """Compute the partition tasks as futures on ``client``, filling ``results`` as they
    finish (a failed future becomes that partition's error)."""
    distributed: Any = __import__("distributed")
    as_completed, dask_progress = distributed.as_completed, distributed.progress

    futures = client.compute(tasks)
    index = {f.key: i for i, f in enumerate(futures)}
    try:
        if progress is True or (progress is None and _tty()):
            dask_progress(futures)
        reporter = progress_reporter(progress if callable(progress) else False, len(futures), job)
        for fut in as_completed(futures):
            i = index[fut.key]
            if fut.status == "error":
                exc = fut.exception()
                tb = "".join(__import__("traceback").format_tb(fut.traceback()))
                results[i] = _failed(labels[i], exc, tb)
            else:
                results[i] = fut.result()
            reporter.update(labels[i], failed=fut.status == "error")
    except KeyboardInterrupt:
        client.cancel(futures)
        for i, fut in enumerate(futures):
            if results[i] is None and fut.status == "finished":
                results[i] = fut.result()
        raise


def _tty() -> bool:
    import sys

    isatty = getattr(sys.stdout, "isatty", None)
    return bool(isatty and isatty())


def _compute_one(task: Any) -> Any:
    (value,) = dask.compute(task, scheduler="sync")
    return value


def _on_threads(
    tasks: list[Any],
    labels: list[str],
    progress: Any,
    job: str,
    workers: int | None,
    results: list[list[Outcome] | None],
) -> None:
    """Compute each partition task with the synchronous scheduler on a pool of threads,
    filling ``results`` (the kernels release the GIL)."""
    reporter = progress_reporter(progress, len(tasks), job)
    pool = ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1)
    pending: dict[Future[Any], int] = {pool.submit(_compute_one, t): i for i, t in enumerate(tasks)}
    try:
        while pending:
            done, _ = wait_futures(list(pending), timeout=0.2, return_when=FIRST_COMPLETED)
            for fut in done:
                i = pending.pop(fut)
                exc = fut.exception()
                if exc is not None:
                    tb = "".join(__import__("traceback").format_tb(exc.__traceback__))
                    results[i] = _failed(labels[i], exc, tb)
                else:
                    results[i] = fut.result()
                reporter.update(labels[i], failed=exc is not None)
    except KeyboardInterrupt:
        reporter.close("interrupted")
        pool.shutdown(wait=True, cancel_futures=True)
        for fut, i in pending.items():
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                results[i] = fut.result()
        raise
    reporter.close()
    pool.shutdown(wait=True)


def _run(
    job: str,
    snapshots: Any,
    options: dict[str, Any],
    client: Any,
    progress: Any,
    output: str | None,
    workers: int | None,
) -> BatchResult:
    start = time.perf_counter()
    out = batch.output_kind(output, None)
    ddf = _as_snapshot_frame(snapshots)
    labels = _labels(ddf)
    tasks = [
        dask.delayed(run_partition, pure=True)(part, job, options) for part in ddf.to_delayed()
    ]
    client = client if client is not None else _default_client()
    results: list[list[Outcome] | None] = [None] * len(tasks)
    try:
        if client is not None:
            _on_cluster(client, tasks, labels, progress, job, results)
        else:
            _on_threads(tasks, labels, progress, job, workers, results)
    except KeyboardInterrupt:
        raise Interrupted(_finish(job, results, out, start)) from None
    return _finish(job, results, out, start)


def imply(
    snapshots: Any,
    *,
    rate: float = 0.0,
    client: Any = None,
    progress: Any = None,
    output: str | None = None,
    workers: int | None = None,
) -> BatchResult:
    """:func:`strikegrid.batch.imply` on Dask: every snapshot's quotes implied, one task per
    partition.

    Args:
        snapshots: a dask DataFrame with one partition per snapshot (:func:`read_snapshots`,
            :func:`by_snapshot`; a partition may hold several whole snapshots), a pandas /
            polars / pyarrow frame of many snapshots (split by :func:`by_snapshot`), or CSV
            paths / a glob pattern (:func:`read_snapshots`).
        rate: as for :func:`strikegrid.batch.imply`.
        client: a ``distributed.Client``; None: the current client if there is one, else a
            local thread pool of ``workers`` threads (default: one per core).
        progress: Dask's progress bar on a cluster (``True``; ``None``: when standard output
            is a terminal), or a callable ``f(done, total, snapshot)`` called as partitions
            finish; without a cluster, as in :mod:`strikegrid.progress`.
        output: "pandas" (default), "polars" or "pyarrow".

    Returns:
        The :class:`~strikegrid.batch.BatchResult` (snapshots in key order), equal to
        :func:`strikegrid.batch.imply` over the same snapshots in that order.
    """
    return _run("imply", snapshots, {"rate": float(rate)}, client, progress, output, workers)


def fit(
    snapshots: Any,
    *,
    model: str = "svi",
    rate: float = 0.0,
    min_quotes: int | None = None,
    surfaces: bool = False,
    client: Any = None,
    progress: Any = None,
    output: str | None = None,
    workers: int | None = None,
) -> BatchResult:
    """:func:`strikegrid.batch.fit` on Dask (arguments as there and in :func:`imply`). With
    ``surfaces=True`` the fitted surfaces come back from the workers too (each holds its
    chain: mind the memory for many snapshots)."""
    if model not in ("svi", "ssvi"):
        raise InputError(f"model: must be 'svi' or 'ssvi', got {model!r}", arg="model")
    options = {"model": model, "rate": float(rate), "min_quotes": min_quotes, "surfaces": surfaces}
    return _run("fit", snapshots, options, client, progress, output, workers)


def screen(
    snapshots: Any,
    strategy: str,
    *,
    client: Any = None,
    progress: Any = None,
    output: str | None = None,
    workers: int | None = None,
    **options: Any,
) -> BatchResult:
    """:func:`strikegrid.batch.screen` on Dask (arguments as there and in :func:`imply`)."""
    from .screening import STRATEGIES

    if strategy not in STRATEGIES:
        raise InputError(f"strategy: must be one of {STRATEGIES}, got {strategy!r}", arg="strategy")
    for name in ("surface", "frame"):
        if name in options:
            raise InputError(f"{name}: not taken by a batch screen", arg=name)
    job_options = {"strategy": strategy, "options": options}
    return _run("screen", snapshots, job_options, client, progress, output, workers)

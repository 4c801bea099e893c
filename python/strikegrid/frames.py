"""Data frames in and out: ``strikegrid.frames``.

The kernels (:func:`strikegrid.price`, :func:`~strikegrid.greeks`,
:func:`~strikegrid.implied_vol`) take numpy arrays and anything numpy can read without copying:
pandas and polars Series, pyarrow arrays. The functions here take a whole *frame* of options
instead (a pandas or polars DataFrame, a pyarrow Table, or a dask DataFrame, lazily, one
partition at a time) and return the same kind of frame with the results as new columns:

>>> import pandas as pd
>>> import strikegrid.frames as sgf
>>> df = pd.DataFrame({"kind": ["call", "put"], "strike": [95.0, 105.0], "vol": [0.2, 0.25]})
>>> sgf.price(df, spot=100.0, expiry=0.5)["price"].round(4).tolist()
[8.3532, 9.9917]

How arguments are read, for every function here: a string that names a column of the frame is
that column; any other value (a number, a kind such as ``"call"``, an array with one entry per
row) is used as it is and broadcast to every row. Left out, an argument is the column of its own
name (``kind``, ``spot``, ``strike``, ``expiry``, ``vol``, ``premium``), and ``rate`` / ``div``
are that column when the frame has one, else 0.

Copies: numeric columns without missing values are handed to the kernels as they are (pandas
and polars float64 columns, single-chunk pyarrow columns: no copy); other columns are converted
once. The input frame is never modified: pandas results are a new frame sharing the input's
columns, polars and pyarrow results add columns to a new frame/table the same way.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt

from .exceptions import InputError
from .implied import implied_vol as _implied_vol
from .pricing import GREEKS
from .pricing import greeks as _greeks
from .pricing import price as _price

__all__ = [
    "FRAME_KINDS",
    "column",
    "frame_kind",
    "greeks",
    "implied_vol",
    "make_frame",
    "price",
    "to_pandas",
]

#: The frame types this module reads and writes, by the name ``output=`` takes.
FRAME_KINDS = ("pandas", "polars", "pyarrow", "dask")


def frame_kind(obj: Any) -> str | None:
    """``"pandas"``, ``"polars"``, ``"pyarrow"`` or ``"dask"`` for a data frame (or table) of
    that library, ``None`` for anything else."""
    module = type(obj).__module__.split(".")[0]
    if module in ("dask", "dask_expr") and hasattr(obj, "map_partitions"):
        return "dask"
    if module == "pandas" and hasattr(obj, "columns") and hasattr(obj, "iloc"):
        return "pandas"
    if module == "polars" and hasattr(obj, "get_column"):
        return "polars"
    if module == "pyarrow" and hasattr(obj, "column_names") and hasattr(obj, "num_rows"):
        return "pyarrow"
    return None


def _names(frame: Any, kind: str) -> list[str]:
    if kind == "pyarrow":
        return list(frame.column_names)
    return [str(c) for c in frame.columns]


def column(frame: Any, name: str) -> npt.NDArray[Any]:
    """One column of a pandas / polars frame or pyarrow table as a numpy array, without a copy
    where the library allows it (numeric columns without missing values)."""
    kind = frame_kind(frame)
    if kind == "pandas":
        return np.asarray(frame[name].to_numpy())
    if kind == "polars":
        return np.asarray(frame.get_column(name).to_numpy())
    if kind == "pyarrow":
        col = frame.column(name)
        if col.num_chunks == 1:
            return np.asarray(col.chunk(0).to_numpy(zero_copy_only=False))
        return np.asarray(col.to_numpy())
    raise InputError(
        f"frame: expected a pandas or polars DataFrame or a pyarrow Table, got "
        f"{type(frame).__name__}",
        arg="frame",
    )


def make_frame(columns: Mapping[str, Any], output: str = "pandas") -> Any:
    """A ``"pandas"``, ``"polars"`` or ``"pyarrow"`` frame from a mapping of 1-D numpy columns
    (numeric columns are passed on without a copy where the library allows)."""
    if output == "pandas":
        pd = importlib.import_module("pandas")
        return pd.DataFrame(dict(columns))
    if output == "polars":
        pl = importlib.import_module("polars")
        return pl.DataFrame(
            {
                k: (v.tolist() if isinstance(v, np.ndarray) and v.dtype == object else v)
                for k, v in columns.items()
            }
        )
    if output == "pyarrow":
        pa = importlib.import_module("pyarrow")
        return pa.table({k: _arrow_array(pa, v) for k, v in columns.items()})
    raise InputError(
        f"output: must be 'pandas', 'polars' or 'pyarrow', got {output!r}", arg="output"
    )


def _arrow_array(pa: Any, values: Any) -> Any:
    arr = np.asarray(values)
    if arr.dtype == object:
        return pa.array(arr.tolist())
    return pa.array(arr)


def to_pandas(frame: Any) -> Any:
    """A pandas DataFrame of a pandas / polars frame or pyarrow table (pandas as it is)."""
    kind = frame_kind(frame)
    if kind == "pandas":
        return frame
    if kind == "polars":
        return frame.to_pandas()
    if kind == "pyarrow":
        return frame.to_pandas()
    raise InputError(
        f"frame: expected a pandas or polars DataFrame or a pyarrow Table, got "
        f"{type(frame).__name__}",
        arg="frame",
    )


def convert(frame: Any, output: str) -> Any:
    """A pandas frame as ``output`` ("pandas", "polars" or "pyarrow")."""
    if output == "pandas":
        return frame
    if output == "polars":
        pl = importlib.import_module("polars")
        return pl.from_pandas(frame)
    if output == "pyarrow":
        pa = importlib.import_module("pyarrow")
        return pa.Table.from_pandas(frame, preserve_index=False)
    raise InputError(
        f"output: must be 'pandas', 'polars' or 'pyarrow', got {output!r}", arg="output"
    )


def _with_columns(frame: Any, kind: str, new: Mapping[str, npt.NDArray[Any]]) -> Any:
    """``frame`` plus the ``new`` columns (replacing same-named ones), as the same type."""
    if kind == "pandas":
        return frame.assign(**{k: np.asarray(v) for k, v in new.items()})
    if kind == "polars":
        pl = importlib.import_module("polars")
        return frame.with_columns([pl.Series(k, np.asarray(v)) for k, v in new.items()])
    pa = importlib.import_module("pyarrow")
    table = frame
    for k, v in new.items():
        arr = _arrow_array(pa, v)
        if k in table.column_names:
            table = table.set_column(table.column_names.index(k), k, arr)
        else:
            table = table.append_column(k, arr)
    return table


#: Marks an argument that was left out (a plain string, so dask can tokenise a spec).
_ABSENT = "\x00absent"


def _resolve(
    names: Iterable[str], spec: Mapping[str, Any], optional: Iterable[str]
) -> dict[str, Any]:
    """Each argument as ``("column", name)`` or ``("value", value)``."""
    cols = set(names)
    opt = set(optional)
    out: dict[str, Any] = {}
    for arg, value in spec.items():
        if isinstance(value, str) and value == _ABSENT:
            if arg in cols:
                out[arg] = ("column", arg)
            elif arg in opt:
                out[arg] = ("value", 0.0)
            else:
                raise InputError(
                    f"{arg}: the frame has no {arg!r} column; pass {arg}= a column name or a value",
                    arg=arg,
                )
        elif isinstance(value, str) and value in cols:
            out[arg] = ("column", value)
        elif isinstance(value, str) and arg != "kind":
            raise InputError(f"{arg}: the frame has no column {value!r}", arg=arg)
        else:
            out[arg] = ("value", value)
    return out


def _frame_apply(
    frame: Any,
    compute: Callable[[dict[str, Any]], dict[str, Any]],
    spec: Mapping[str, Any],
    optional: Iterable[str],
    out_names: Mapping[str, Any],
) -> Any:
    kind = frame_kind(frame)
    if kind is None:
        raise InputError(
            "frame: expected a pandas, polars or dask DataFrame or a pyarrow Table, got "
            f"{type(frame).__name__}",
            arg="frame",
        )
    resolved = _resolve(_names(frame, kind), spec, optional)
    if kind == "dask":
        meta = frame._meta.assign(
            **{name: np.zeros(0, dtype=dtype) for name, dtype in out_names.items()}
        )
        return frame.map_partitions(_apply, compute, resolved, meta=meta)
    return _apply(frame, compute, resolved)


def _apply(
    frame: Any, compute: Callable[[dict[str, Any]], dict[str, Any]], resolved: dict[str, Any]
) -> Any:
    kind = frame_kind(frame)
    assert kind is not None and kind != "dask"
    args = {arg: (column(frame, v) if how == "column" else v) for arg, (how, v) in resolved.items()}
    n = frame.num_rows if kind == "pyarrow" else len(frame)
    results = compute(args)
    new = {name: np.broadcast_to(np.asarray(v), (n,)) for name, v in results.items()}
    return _with_columns(frame, kind, new)


# Module-level functions (bound with functools.partial): dask ships them to workers by
# reference and tokenises them deterministically.
def _price_op(args: dict[str, Any], *, options: dict[str, Any], out: str) -> dict[str, Any]:
    return {out: _price(**args, **options)}


def _greeks_op(
    args: dict[str, Any], *, options: dict[str, Any], names: dict[str, str]
) -> dict[str, Any]:
    g = _greeks(**args, which=list(names), **options)
    return {names[k]: v for k, v in g.items()}


def _implied_op(
    args: dict[str, Any], *, options: dict[str, Any], out: str, status: str | None
) -> dict[str, Any]:
    if status is None:
        return {out: _implied_vol(**args, **options)}
    result: Any = _implied_vol(**args, return_status=True, **options)
    vol, code = result
    return {out: vol, status: np.asarray(code, dtype=np.uint8)}


def _spec(**kwargs: Any) -> dict[str, Any]:
    return {k: (_ABSENT if v is None else v) for k, v in kwargs.items()}


def price(
    frame: Any,
    *,
    kind: Any = None,
    spot: Any = None,
    strike: Any = None,
    expiry: Any = None,
    vol: Any = None,
    rate: Any = None,
    div: Any = None,
    out: str = "price",
    **options: Any,
) -> Any:
    """The premium of every row of ``frame`` as a new column ``out`` (see the module docs for
    how arguments name columns). ``options`` are :func:`strikegrid.price`'s keywords
    (``model``, ``exercise``, ``method``, ``errors``...). Returns the frame's own type; a dask
    DataFrame gives a lazy dask DataFrame."""
    spec = _spec(kind=kind, spot=spot, strike=strike, expiry=expiry, vol=vol, rate=rate, div=div)
    return _frame_apply(
        frame,
        partial(_price_op, options=options, out=out),
        spec,
        ("rate", "div"),
        {out: np.float64},
    )


def greeks(
    frame: Any,
    *,
    kind: Any = None,
    spot: Any = None,
    strike: Any = None,
    expiry: Any = None,
    vol: Any = None,
    rate: Any = None,
    div: Any = None,
    which: str | Iterable[str] | None = None,
    prefix: str = "",
    **options: Any,
) -> Any:
    """Premium and greeks of every row as new columns named ``prefix + name`` (``which``: as
    for :func:`strikegrid.greeks`; None for all twelve). Returns the frame's own type."""
    chosen = list(GREEKS) if which is None else ([which] if isinstance(which, str) else which)
    names = {str(g): f"{prefix}{g}" for g in chosen}
    spec = _spec(kind=kind, spot=spot, strike=strike, expiry=expiry, vol=vol, rate=rate, div=div)
    op = partial(_greeks_op, options=options, names=names)
    outs = {name: np.float64 for name in names.values()}
    return _frame_apply(frame, op, spec, ("rate", "div"), outs)


def implied_vol(
    frame: Any,
    *,
    premium: Any = None,
    kind: Any = None,
    spot: Any = None,
    strike: Any = None,
    expiry: Any = None,
    rate: Any = None,
    div: Any = None,
    out: str = "iv",
    status: str | None = None,
    **options: Any,
) -> Any:
    """Implied vol of every row's ``premium`` as a new column ``out``; with ``status=`` a name,
    the :data:`strikegrid.IV_STATUS` codes too (uint8). ``options``: as for
    :func:`strikegrid.implied_vol`. Returns the frame's own type."""
    spec = _spec(
        premium=premium, kind=kind, spot=spot, strike=strike, expiry=expiry, rate=rate, div=div
    )
    outs: dict[str, Any] = {out: np.float64}
    if status is not None:
        outs[status] = np.uint8
    return _frame_apply(
        frame,
        partial(_implied_op, options=options, out=out, status=status),
        spec,
        ("rate", "div"),
        outs,
    )

"""Argument normalisation shared by the public kernels: kinds, numbers, options.

Everything here works on whole arrays (no per-element Python loops): numbers become float64
arrays without copying when they already are, kinds become +1.0 (call) / -1.0 (put) with NaN for
an unknown kind, which the core reports (or turns into NaN with ``errors="nan"``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .exceptions import InputError

FloatArray = npt.NDArray[np.float64]

_KIND_WORDS: dict[str, float] = {"call": 1.0, "c": 1.0, "put": -1.0, "p": -1.0}
#: String kind spellings in their common cases, for the scalar fast path.
KIND_SCALARS: dict[Any, float] = {}
for _w, _v in _KIND_WORDS.items():
    for _s in {_w, _w.upper(), _w.capitalize()}:
        KIND_SCALARS[_s] = _v

_KIND_HELP = "'call'/'put'/'c'/'p' (any case), True/False (True = call) or +1/-1"


def _format_index(index: tuple[int, ...]) -> int | tuple[int, ...]:
    return index[0] if len(index) == 1 else index


def model_name(model: Any) -> str:
    """The model argument, which must be a string (the extension checks the name)."""
    if not isinstance(model, str):
        raise TypeError(f"model: must be a string such as 'bsm', got {model!r}")
    return model


def errors_flag(errors: str) -> bool:
    """``True`` for ``errors="nan"``, ``False`` for ``"raise"``."""
    if errors == "raise":
        return False
    if errors == "nan":
        return True
    raise InputError(f"errors: must be 'raise' or 'nan', got {errors!r}", arg="errors")


def check_exercise(exercise: str, method: str | None) -> None:
    """Only European exercise with the analytic engine exists in this version."""
    if exercise != "european":
        if isinstance(exercise, str) and exercise.lower() == "european":
            pass
        elif isinstance(exercise, str) and exercise.lower() == "american":
            raise InputError(
                "exercise: 'american' has no pricing engine in this version of strikegrid; "
                "only 'european' is available",
                arg="exercise",
            )
        else:
            raise InputError(
                f"exercise: must be 'european' or 'american', got {exercise!r}", arg="exercise"
            )
    if method is not None and method != "analytic":
        raise InputError(
            f"method: European options have one engine, 'analytic' (or None), got {method!r}",
            arg="method",
        )


def scalar_kind(kind: Any, nan: bool) -> float | None:
    """+1.0/-1.0 for a scalar kind, NaN for an invalid one with ``errors="nan"``, ``None`` when
    ``kind`` is not a Python scalar (the caller takes the array path)."""
    t = type(kind)
    if t is str:
        phi = KIND_SCALARS.get(kind)
        if phi is None:
            phi = _KIND_WORDS.get(kind.strip().lower())
        if phi is not None:
            return phi
    elif t is bool:
        return 1.0 if kind else -1.0
    elif t is int or t is float:
        if kind == 1:
            return 1.0
        if kind == -1:
            return -1.0
    else:
        return None
    if nan:
        return float("nan")
    raise InputError(f"kind: must be {_KIND_HELP}, got {kind!r}", arg="kind")


def kind_array(kind: Any, nan: bool) -> npt.NDArray[Any]:
    """Kinds in any accepted form as a float64 array of +1/-1 (NaN where unknown), or the bool
    array itself (True = call), which the extension reads without a float copy."""
    phi = scalar_kind(kind, nan)
    if phi is not None:
        return np.asarray(phi, dtype=np.float64)
    arr = np.asarray(kind)
    if arr.dtype == np.bool_:
        return arr
    if arr.dtype.kind in "iuf":
        # Core validation rejects anything but +1/-1 with the index.
        return arr.astype(np.float64, copy=False)
    if arr.dtype.kind in "OUS":
        # Object arrays (pandas string columns) and bytes are compared as text.
        text = arr if arr.dtype.kind == "U" else arr.astype(str)
        low = np.char.lower(np.char.strip(text))
        out = np.where(
            (low == "call") | (low == "c"),
            1.0,
            np.where((low == "put") | (low == "p"), -1.0, np.nan),
        )
        bad = np.isnan(out)
        if not nan and bad.any():
            first = np.unravel_index(int(np.flatnonzero(bad)[0]), bad.shape)
            idx = _format_index(tuple(int(i) for i in first))
            raise InputError(
                f"kind: must be {_KIND_HELP}, got {arr[first]!r} at index {idx}",
                arg="kind",
                index=idx,
            )
        return out
    raise InputError(f"kind: must be {_KIND_HELP}, got an array of dtype {arr.dtype}", arg="kind")


def float_array(x: Any, name: str) -> FloatArray:
    """A number or array of numbers as float64, without copying float64 input."""
    if isinstance(x, np.ndarray):
        if x.dtype == np.float64:
            return x
        if x.dtype.kind in "fiu":
            return x.astype(np.float64)
        raise TypeError(f"{name}: expected numbers, got an array of dtype {x.dtype}")
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name}: expected a number or an array of numbers, got {x!r}")
    try:
        arr = np.asarray(x, dtype=np.float64)
    except OverflowError:
        raise InputError(f"{name}: too large for a float64, got {x!r}", arg=name) from None
    except (TypeError, ValueError):
        raise TypeError(
            f"{name}: expected a number or an array of numbers, got {type(x).__name__}"
        ) from None
    return arr

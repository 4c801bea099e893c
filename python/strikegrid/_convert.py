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


def finite_number(x: Any, name: str, *, bool_ok: bool = True) -> float:
    """One finite number (a Python or numpy scalar), else InputError naming ``name``; with
    ``bool_ok=False`` True/False are refused too (settings where a flag is a mistake)."""
    if not bool_ok and isinstance(x, bool):
        raise InputError(f"{name}: must be a number, got {x!r}", arg=name)
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise InputError(f"{name}: must be a number, got {x!r}", arg=name) from None
    if not np.isfinite(v):
        raise InputError(f"{name}: must be finite, got {x!r}", arg=name)
    return v


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


def exercise_name(exercise: Any) -> str:
    """``"european"`` or ``"american"`` (any case); anything else is an InputError."""
    if isinstance(exercise, str):
        low = exercise.lower()
        if low in ("european", "american"):
            return low
    raise InputError(
        f"exercise: must be 'european' or 'american', got {exercise!r}", arg="exercise"
    )


def check_exercise(exercise: Any, method: Any, steps: Any = None, dividends: Any = None) -> str:
    """The exercise style, after checking that the European-only arguments fit it."""
    style = exercise_name(exercise)
    if style == "european":
        if method is not None and method != "analytic":
            raise InputError(
                f"method: European options have one engine, 'analytic' (or None), got {method!r}",
                arg="method",
            )
        for name, value in (("steps", steps), ("dividends", dividends)):
            if value is not None:
                raise InputError(
                    f"{name}: only American options (exercise='american', "
                    "method='lattice') take it",
                    arg=name,
                )
    elif method is not None and not isinstance(method, str):
        raise InputError(f"method: must be a string or None, got {method!r}", arg="method")
    return style


def steps_value(steps: Any) -> int | None:
    """The lattice step count as an int (or None)."""
    if steps is None:
        return None
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)):
        raise InputError(f"steps: must be an integer, got {steps!r}", arg="steps")
    if steps < 3 or steps > 100_000:
        raise InputError(f"steps: must be between 3 and 100000, got {steps}", arg="steps")
    return int(steps)


def dividend_schedule(dividends: Any) -> tuple[list[float], list[float]]:
    """A discrete cash dividend schedule as (ex-dates in years, amounts).

    Accepts ``None``, a sequence of ``(time, amount)`` pairs, an ``(n, 2)`` array, or a
    mapping ``{time: amount}``.
    """
    if dividends is None:
        return [], []
    if isinstance(dividends, dict):
        pairs = list(dividends.items())
    else:
        pairs = list(dividends)
    try:
        arr = np.asarray(pairs, dtype=np.float64).reshape(-1, 2) if pairs else None
    except (TypeError, ValueError):
        raise InputError(
            "dividends: expected (ex-date in years, cash amount) pairs", arg="dividends"
        ) from None
    if arr is None:
        return [], []
    return arr[:, 0].tolist(), arr[:, 1].tolist()


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

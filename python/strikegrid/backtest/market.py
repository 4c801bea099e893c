"""Daily market history for model-priced back-tests: ``Market``.

A :class:`Market` is one underlying's daily closes (and opens where known) plus what the model
pricer needs on the same dates: an implied-volatility series (VIX for the S&P 500, DVOL for
BTC), a short rate and a dividend yield. Every series is checked when it is built: dates
strictly increasing, prices finite and positive, no gap between consecutive dates longer than
``max_gap_days`` calendar days; a violation raises :class:`~strikegrid.InputError` naming the
series and the date.

Secondary series (vol, rate) are aligned *as of* each trading date: the latest observation at
or before it, refused when older than ``max_stale_days`` (the VIX misses four S&P 500 trading
days in 1991-1999 and has rows on some exchange holidays; both are handled by this rule).

Units: vol as a decimal (``vol_unit="percent"`` divides by 100: VIX 20.5 -> 0.205); rates
continuously compounded decimals. ``rate_unit="discount_pct"`` reads a Treasury-bill rate on
the discount basis in percent (FRED DTB3): a 91-day bill's price is ``P = 1 - d * 91/360``
and the continuously compounded rate ``r = -ln(P) / (91/365)`` (the discount-yield
definition of the Treasury's bill quotes; 91 days for the 13-week bill).
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Union

import numpy as np
import numpy.typing as npt

from ..exceptions import InputError

__all__ = ["Market", "read_series"]

FloatArray = npt.NDArray[np.float64]
DateArray = npt.NDArray[np.datetime64]
PathLike = Union[str, "os.PathLike[str]"]

#: Days of the 13-week Treasury bill behind DTB3.
_BILL_DAYS = 91.0


def _day(x: Any, name: str) -> np.datetime64:
    try:
        return np.datetime64(x if not isinstance(x, date) else x.isoformat(), "D")
    except (TypeError, ValueError):
        raise InputError(f"{name}: not a date: {x!r}", arg=name) from None


def _dates(values: Any, name: str) -> DateArray:
    try:
        return np.asarray(values, dtype="datetime64[D]")
    except (TypeError, ValueError) as e:
        raise InputError(f"{name}: dates must be ISO dates or datetime64: {e}", arg=name) from None


def _check_dates(d: DateArray, name: str, max_gap_days: float | None) -> None:
    if d.ndim != 1 or d.size == 0:
        raise InputError(f"{name}: needs at least one date", arg=name)
    if np.isnat(d).any():
        i = int(np.flatnonzero(np.isnat(d))[0])
        raise InputError(f"{name}: missing date at row {i}", arg=name, index=i)
    step = np.diff(d).astype(np.int64)
    bad = np.flatnonzero(step <= 0)
    if bad.size:
        i = int(bad[0]) + 1
        what = "repeats" if step[bad[0]] == 0 else "goes back from"
        raise InputError(
            f"{name}: dates out of order: {d[i]} {what} {d[i - 1]} (row {i})", arg=name, index=i
        )
    if max_gap_days is not None:
        gaps = np.flatnonzero(step > max_gap_days)
        if gaps.size:
            i = int(gaps[0]) + 1
            raise InputError(
                f"{name}: gap of {int(step[gaps[0]])} days in the data between {d[i - 1]} "
                f"and {d[i]} (more than {max_gap_days:g}; pass max_gap_days= to allow it)",
                arg=name,
                index=i,
            )


def _check_positive(d: DateArray, x: FloatArray, name: str) -> None:
    bad = np.flatnonzero(~(np.isfinite(x) & (x > 0)))
    if bad.size:
        i = int(bad[0])
        raise InputError(
            f"{name}: price must be finite and positive, got {x[i]!r} on {d[i]}",
            arg=name,
            index=i,
        )


def _asof(
    dates: DateArray,
    src_dates: DateArray,
    src: FloatArray,
    name: str,
    max_stale_days: float,
) -> FloatArray:
    """``src`` at or before each of ``dates``; an InputError when none is recent enough."""
    pos = np.searchsorted(src_dates, dates, side="right") - 1
    if (pos < 0).any():
        i = int(np.flatnonzero(pos < 0)[0])
        raise InputError(f"{name}: no value on or before {dates[i]}", arg=name, index=i)
    age = (dates - src_dates[pos]).astype(np.int64)
    stale = np.flatnonzero(age > max_stale_days)
    if stale.size:
        i = int(stale[0])
        raise InputError(
            f"{name}: no value within {max_stale_days:g} days before {dates[i]} (last on "
            f"{src_dates[pos[i]]})",
            arg=name,
            index=i,
        )
    return np.asarray(src[pos], dtype=np.float64)


@lru_cache(maxsize=16)
def _read_csv_cached(
    path: str, mtime: float
) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = [r for r in csv.reader(f) if r]
    if not rows:
        raise InputError(f"{path}: empty file", arg="path")
    return tuple(h.strip().lower() for h in rows[0]), tuple(tuple(r) for r in rows[1:])


def read_series(
    path: PathLike, columns: Sequence[str] = ("close",)
) -> tuple[DateArray, dict[str, FloatArray]]:
    """Reads a daily CSV with a ``date`` column (ISO dates) and the named numeric columns
    (empty cells become NaN). Returns ``(dates, {column: values})`` in file order, unchecked."""
    p = os.fspath(path)
    try:
        header, rows = _read_csv_cached(p, os.path.getmtime(p))
    except OSError as e:
        raise InputError(f"{p}: cannot read: {e.strerror or e}", arg="path") from None
    if "date" not in header:
        raise InputError(f"{p}: no 'date' column (header: {', '.join(header)})", arg="path")
    idx = {c: header.index(c) for c in header}
    out: dict[str, FloatArray] = {}
    for c in columns:
        if c not in idx:
            raise InputError(f"{p}: no {c!r} column (header: {', '.join(header)})", arg="path")
        j = idx[c]
        vals = np.empty(len(rows), dtype=np.float64)
        for i, r in enumerate(rows):
            cell = r[j].strip() if j < len(r) else ""
            try:
                vals[i] = float(cell) if cell and cell != "." else math.nan
            except ValueError:
                raise InputError(
                    f"{p}: row {i + 1}: {c} is not a number: {cell!r}", arg="path", index=i
                ) from None
        out[c] = vals
    j = idx["date"]
    try:
        d = np.array([r[j].strip() for r in rows], dtype="datetime64[D]")
    except ValueError as e:
        raise InputError(f"{p}: a date is not ISO (YYYY-MM-DD): {e}", arg="path") from None
    return d, out


def _window(d: DateArray, start: Any, end: Any) -> npt.NDArray[np.bool_]:
    keep = np.ones(d.size, dtype=bool)
    if start is not None:
        keep &= d >= _day(start, "start")
    if end is not None:
        keep &= d <= _day(end, "end")
    return keep


def _rate_decimal(values: FloatArray, unit: str) -> FloatArray:
    if unit == "decimal":
        return values
    if unit == "pct":
        return values / 100.0
    if unit == "discount_pct":
        price = 1.0 - values / 100.0 * _BILL_DAYS / 360.0
        return np.asarray(-np.log(price) / (_BILL_DAYS / 365.0), dtype=np.float64)
    raise InputError(
        f"rate_unit: must be 'decimal', 'pct' or 'discount_pct', got {unit!r}", arg="rate_unit"
    )


def _vol_decimal(values: FloatArray, unit: str) -> FloatArray:
    if unit == "decimal":
        return values
    if unit == "percent":
        return values / 100.0
    raise InputError(f"vol_unit: must be 'percent' or 'decimal', got {unit!r}", arg="vol_unit")


@dataclass(frozen=True, eq=False)
class Market:
    """Daily history of one underlying (see the module docs for checks and units).

    Attributes:
        name: the underlying's name ("SPX", "BTC").
        dates: trading dates, ``datetime64[D]``, strictly increasing.
        close: closing prices (positive).
        open: opening prices, NaN where unknown (settlement at the open then uses the close of
            the day before, the last known level).
        vol: implied vol series as a decimal on the same dates, or None (a model pricer then
            needs a constant vol or a term structure).
        rate: continuously compounded short rate on the same dates (a constant is broadcast).
        div: continuous dividend yield (constant).
        sources: where each series came from (for the result's description).
    """

    name: str
    dates: DateArray
    close: FloatArray
    open: FloatArray
    vol: FloatArray | None
    rate: FloatArray
    div: float = 0.0
    sources: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.dates.size
        for nm in ("close", "open", "rate"):
            a = getattr(self, nm)
            if a.shape != (n,):
                raise InputError(f"{nm}: has shape {a.shape}, dates has {n}", arg=nm)
        if self.vol is not None:
            if self.vol.shape != (n,):
                raise InputError(f"vol: has shape {self.vol.shape}, dates has {n}", arg="vol")
            bad = np.flatnonzero(~(np.isfinite(self.vol) & (self.vol >= 0)))
            if bad.size:
                i = int(bad[0])
                raise InputError(
                    f"vol: must be finite and >= 0, got {self.vol[i]!r} on {self.dates[i]}",
                    arg="vol",
                    index=i,
                )
        bad = np.flatnonzero(~np.isfinite(self.rate))
        if bad.size:
            i = int(bad[0])
            raise InputError(f"rate: not finite on {self.dates[i]}", arg="rate", index=i)
        if not math.isfinite(self.div):
            raise InputError(f"div: must be finite, got {self.div}", arg="div")

    def __len__(self) -> int:
        return int(self.dates.size)

    def __repr__(self) -> str:
        return (
            f"Market({self.name}, {self.dates[0]}..{self.dates[-1]}, {len(self)} days, "
            f"vol={'series' if self.vol is not None else 'none'}, div={self.div:g})"
        )

    @classmethod
    def from_arrays(
        cls,
        dates: Any,
        close: Any,
        *,
        open: Any = None,
        vol: Any = None,
        rate: Any = 0.0,
        div: float = 0.0,
        name: str = "",
        max_gap_days: float | None = 7,
    ) -> Market:
        """A market from arrays on one set of dates (vol as a decimal, rate continuously
        compounded). Checks the dates and prices (module docs)."""
        d = _dates(dates, "dates")
        c = np.asarray(close, dtype=np.float64)
        if c.shape != d.shape:
            raise InputError(f"close: has shape {c.shape}, dates has {d.shape}", arg="close")
        _check_dates(d, "dates", max_gap_days)
        _check_positive(d, c, "close")
        o = (
            np.full(d.size, np.nan)
            if open is None
            else np.asarray(np.broadcast_to(np.asarray(open, dtype=np.float64), d.shape))
        )
        known = np.isfinite(o)
        if known.any():
            _check_positive(d[known], o[known], "open")
        v = None if vol is None else np.array(np.broadcast_to(np.asarray(vol, float), d.shape))
        r = np.array(np.broadcast_to(np.asarray(rate, dtype=np.float64), d.shape))
        return cls(name, d, c, o.copy(), v, r, float(div), {"prices": "arrays"})

    @classmethod
    def from_csv(
        cls,
        prices: PathLike,
        *,
        vol: PathLike | float | None = None,
        vol_unit: str = "percent",
        rate: PathLike | float = 0.0,
        rate_unit: str = "discount_pct",
        div: float = 0.0,
        start: Any = None,
        end: Any = None,
        name: str | None = None,
        max_gap_days: float | None = 7,
        max_stale_days: float = 7,
    ) -> Market:
        """A market from daily CSV files in the ``price_history`` layout (``date`` plus
        ``close``, optionally ``open``).

        Args:
            prices: the underlying's CSV.
            vol: an implied-vol CSV (its ``close``, e.g. VIX or DVOL), a constant, or None.
            vol_unit: "percent" (VIX, DVOL) or "decimal".
            rate: a rate CSV (its ``close``) or a constant (in ``rate_unit``).
            rate_unit: "discount_pct" (T-bill discount basis in percent, FRED DTB3), "pct"
                (continuously compounded percent) or "decimal".
            div: continuous dividend yield.
            start, end: the window (inclusive) checked and kept.
            name: the underlying's name (default: the file's stem).
            max_gap_days: longest allowed gap between consecutive prices (calendar days;
                default 7: the 2001-09-11 closure is 7 days; None turns the check off).
            max_stale_days: oldest allowed as-of value of the vol and rate series.
        """
        path = os.fspath(prices)
        d_all, cols = read_series(path, ("close",))
        header, _ = _read_csv_cached(path, os.path.getmtime(path))
        opens = read_series(path, ("open",))[1]["open"] if "open" in header else None
        keep = _window(d_all, start, end)
        if not keep.any():
            raise InputError(
                f"{path}: no prices between {start or 'the start'} and {end or 'the end'}",
                arg="start",
            )
        d = d_all[keep]
        c = cols["close"][keep]
        label = Path(path).name
        _check_dates(d, label, max_gap_days)
        _check_positive(d, c, label)
        o = opens[keep] if opens is not None else np.full(d.size, np.nan)
        o = np.where(np.isfinite(o) & (o > 0), o, np.nan)
        sources = {"prices": label}
        v: FloatArray | None
        if vol is None:
            v = None
        elif isinstance(vol, (int, float)):
            v = np.full(d.size, float(vol))
            sources["vol"] = f"constant {float(vol):g}"
        else:
            vd, vc = read_series(vol, ("close",))
            ok = np.isfinite(vc["close"])
            vlabel = Path(os.fspath(vol)).name
            _check_dates(vd, vlabel, None)
            v = _vol_decimal(_asof(d, vd[ok], vc["close"][ok], vlabel, max_stale_days), vol_unit)
            sources["vol"] = vlabel
        if isinstance(rate, (int, float)):
            r = _rate_decimal(np.full(d.size, float(rate)), rate_unit)
            sources["rate"] = f"constant {float(rate):g} ({rate_unit})"
        else:
            rd, rc = read_series(rate, ("close",))
            ok = np.isfinite(rc["close"])
            rlabel = Path(os.fspath(rate)).name
            _check_dates(rd, rlabel, None)
            r = _rate_decimal(_asof(d, rd[ok], rc["close"][ok], rlabel, max_stale_days), rate_unit)
            sources["rate"] = f"{rlabel} ({rate_unit})"
        sources["div"] = f"constant {div:g}"
        return cls(name or Path(path).stem, d, c, o, v, r, float(div), sources)

    def window(self, start: Any = None, end: Any = None) -> Market:
        """The same market between ``start`` and ``end`` (inclusive)."""
        keep = _window(self.dates, start, end)
        if not keep.any():
            raise InputError(f"window: no dates between {start} and {end}", arg="start")
        return Market(
            self.name,
            self.dates[keep],
            self.close[keep],
            self.open[keep],
            None if self.vol is None else self.vol[keep],
            self.rate[keep],
            self.div,
            dict(self.sources),
        )

    def with_(self, **changes: Any) -> Market:
        """A copy with some attributes replaced (``div=``, ``vol=`` ...), checked again."""
        sources = dict(self.sources)
        if "div" in changes:
            sources["div"] = f"constant {float(changes['div']):g}"
        return replace(self, **{"sources": sources, **changes})

    @property
    def periods_per_year(self) -> float:
        """Observations per year of this calendar (about 252 for an exchange, 365 for
        crypto), for annualising volatility."""
        if self.dates.size < 2:
            return 252.0
        span = float((self.dates[-1] - self.dates[0]).astype(np.int64)) / 365.25
        return (self.dates.size - 1) / span if span > 0 else 252.0

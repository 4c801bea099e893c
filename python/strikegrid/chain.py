"""Option-chain snapshots: ``sg.Chain``.

A :class:`Chain` is one underlying's option quotes at one quote time, in the normalised schema of
``shared/data/option_chains/README.md``. It is built from a CSV file (:meth:`Chain.read_csv`, the
csv module and numpy only), a pandas or polars data frame or a pyarrow table
(:meth:`Chain.from_frame`), plain arrays (:meth:`Chain.from_arrays`) or the embedded sample
(:meth:`Chain.sample`). pandas, polars and pyarrow are optional and imported only when used.

Settlement instants (the rule behind :attr:`Chain.expiry` and :attr:`Chain.t`), per row, first
match wins:

1. an ``expiry_time`` column (ISO-8601 instant; naive means UTC), as Deribit files carry
   (08:00 UTC);
2. an ``expiry`` value that carries a time of day (an aware datetime, or a naive one that is not
   midnight, taken as UTC) is the instant itself; a float ``expiry`` is a year fraction from the
   quote time (ACT/365);
3. a ``settlement`` column: ``AM`` settles at the open, 09:30 New York time, of the expiry date
   (SPX monthlies, whose vendor expiry date is the Friday of the opening settlement), ``PM`` and
   ``physical`` at the close, 16:00 New York time (SPXW, SPXPM; equity options);
4. otherwise by the price unit: coin-priced (inverse) chains settle at 08:00 UTC on the expiry
   date (Deribit), USD chains at 16:00 New York time (the US listed-options close), any other
   unit at 16:00 in the quote time's UTC offset.

New York time follows the US daylight-saving rule (since 2007: second Sunday of March to first
Sunday of November; 1987-2006: first Sunday of April to last Sunday of October), computed here
so that no time-zone database is needed. ``t`` is ACT/365: seconds from the quote time to the
settlement instant divided by 365 * 86400.
"""

from __future__ import annotations

import csv
import importlib
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from ._convert import kind_array
from .exceptions import InputError

__all__ = ["Chain", "ChainReport", "Expiries", "ExpirySlice", "Finding", "as_chain"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
TimeArray = npt.NDArray[np.datetime64]

#: The schema's core columns, in file order.
CORE_COLUMNS = (
    "underlying",
    "quote_time",
    "expiry",
    "strike",
    "kind",
    "bid",
    "ask",
    "last",
    "volume",
    "open_interest",
    "iv_source",
    "underlying_price",
    "price_unit",
    "contract",
    "exercise_style",
)
#: Columns a CSV file or data frame must have (the others default to empty).
REQUIRED_COLUMNS = (
    "underlying",
    "quote_time",
    "expiry",
    "strike",
    "kind",
    "bid",
    "ask",
    "underlying_price",
    "price_unit",
)
_NUMERIC_CORE = ("strike", "bid", "ask", "last", "volume", "open_interest", "iv_source")
#: Columns ``to_frame`` adds from the chain's own computations.
DERIVED_COLUMNS = ("expiry_time", "t", "mid", "spread", "usable")
#: Price units that are cash: premiums in any other unit are taken as coin (inverse options).
CASH_UNITS = frozenset({"USD", "USDC", "USDT", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "HKD"})

_YEAR_SECONDS = 365.0 * 86400.0
_UTC = timezone.utc
_EPOCH = datetime(1970, 1, 1, tzinfo=_UTC)


# ------------------------------------------------------------------------------ time helpers


def _nth_sunday(year: int, month: int, n: int) -> date:
    """The n-th Sunday of a month (n = -1: the last one)."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(6 - first.weekday()) % 7 + 7 * (n - 1))
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    last = nxt - timedelta(days=1)
    return last - timedelta(days=(last.weekday() + 1) % 7)


def new_york_offset(day: date) -> timezone:
    """New York's UTC offset on a day (EDT -4 h inside US daylight saving time, else EST -5 h).

    The switch happens at 02:00 local time; settlement times (09:30, 16:00) never fall near it,
    so the day decides.
    """
    if day.year >= 2007:
        start, end = _nth_sunday(day.year, 3, 2), _nth_sunday(day.year, 11, 1)
    else:
        start, end = _nth_sunday(day.year, 4, 1), _nth_sunday(day.year, 10, -1)
    hours = -4 if start <= day < end else -5
    return timezone(timedelta(hours=hours))


def _new_york(day: date, hour: int, minute: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=new_york_offset(day))


def _missing(v: Any) -> bool:
    """None, NaN, NaT or empty text."""
    if v is None:
        return True
    if isinstance(v, np.datetime64):
        return bool(np.isnat(v))
    if isinstance(v, float):
        return math.isnan(v)
    if isinstance(v, str):
        return v.strip() in ("", "NaT", "nan", "NaN", "None")
    return False


def _parse_time(v: Any, name: str, index: int) -> date | datetime | float:
    """A date (no time of day), an aware datetime, or a float year fraction (``expiry`` only).

    Naive datetimes are UTC; a naive midnight is a date.
    """
    if isinstance(v, np.datetime64):
        v = str(v.astype("datetime64[us]"))
    elif hasattr(v, "to_pydatetime") and not isinstance(v, np.ndarray):
        v = v.to_pydatetime()  # pandas Timestamp
    out: date | datetime
    if isinstance(v, datetime):
        out = v
    elif isinstance(v, date):
        return v
    elif isinstance(v, str):
        s = v.strip()
        if s.endswith(("Z", "z")):
            s = s[:-1] + "+00:00"
        try:
            if len(s) == 10:
                return date.fromisoformat(s)
            out = datetime.fromisoformat(s)
        except ValueError:
            raise InputError(
                f"{name}: not an ISO-8601 date or time, got {v!r} at row {index}",
                arg=name,
                index=index,
            ) from None
    elif isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
        return float(v)
    else:
        raise InputError(
            f"{name}: expected a date or time, got {type(v).__name__} at row {index}",
            arg=name,
            index=index,
        )
    if out.tzinfo is None:
        if out.time() == datetime.min.time():
            return out.date()
        out = out.replace(tzinfo=_UTC)
    return out


def _instant(v: Any, name: str, index: int) -> datetime:
    """An aware datetime (a bare date is midnight UTC)."""
    p = _parse_time(v, name, index)
    if isinstance(p, datetime):
        return p
    if isinstance(p, date):
        return datetime(p.year, p.month, p.day, tzinfo=_UTC)
    raise InputError(f"{name}: expected a date or time, got {v!r} at row {index}", arg=name)


def _to_datetime64(d: datetime) -> np.datetime64:
    return np.datetime64(int((d - _EPOCH).total_seconds() // 1), "s")


def _iso_utc(seconds: TimeArray) -> npt.NDArray[np.object_]:
    text = np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s")
    return np.array([s + "Z" for s in text.tolist()], dtype=object)


# ------------------------------------------------------------------------------ column helpers


def _column_values(values: Any) -> npt.NDArray[Any]:
    """A 1-D numpy array of any column (always a new array: the input is never shared)."""
    arr = np.array(values, copy=True)
    if arr.ndim != 1:
        raise InputError(f"columns must be 1-D arrays, got {arr.ndim} dimension(s)")
    return arr


def _floats(values: npt.NDArray[Any], name: str) -> FloatArray:
    """Numbers as float64; empty text, None and NaN are NaN. Bad text names the row."""
    if values.dtype.kind in "fiub":
        return values.astype(np.float64)
    if values.dtype.kind == "U":
        stripped = np.char.strip(values)
        try:
            return np.where(stripped == "", "nan", stripped).astype(np.float64)
        except ValueError:
            pass  # locate the bad element below
    out = np.empty(values.shape[0], dtype=np.float64)
    for i, v in enumerate(values.tolist()):
        if _missing(v):
            out[i] = np.nan
            continue
        try:
            out[i] = float(v)
        except (TypeError, ValueError):
            raise InputError(
                f"{name}: expected a number, got {v!r} at row {i}", arg=name, index=i
            ) from None
    return out


def _texts(values: npt.NDArray[Any]) -> npt.NDArray[np.object_]:
    """Text as an object array of str ('' where missing)."""
    return np.array(["" if _missing(v) else str(v).strip() for v in values.tolist()], dtype=object)


def _flags(values: npt.NDArray[Any], name: str) -> BoolArray:
    """A yes/no flag column ('True', '1', '*', 'yes'; empty or missing is False)."""
    if values.dtype.kind == "b":
        return values.astype(bool)
    if values.dtype.kind in "iuf":
        return np.asarray(np.nan_to_num(values.astype(np.float64)) != 0.0, dtype=np.bool_)
    out = np.zeros(values.shape[0], dtype=bool)
    for i, v in enumerate(values.tolist()):
        if _missing(v):
            continue
        if isinstance(v, (bool, np.bool_)):
            out[i] = bool(v)
            continue
        s = str(v).strip().lower()
        if s in ("true", "1", "1.0", "*", "yes", "y", "t"):
            out[i] = True
        elif s not in ("false", "0", "0.0", "no", "n", "f"):
            raise InputError(f"{name}: expected a flag, got {v!r} at row {i}", arg=name, index=i)
    return out


def _only_value(values: npt.NDArray[np.object_], name: str) -> str:
    """The single non-empty text value of a column; InputError when mixed or empty."""
    uniq = sorted(set(values.tolist()))
    if "" in uniq:
        i = int(np.flatnonzero(values == "")[0])
        raise InputError(f"{name}: missing at row {i}", arg=name, index=i)
    if len(uniq) != 1:
        shown = ", ".join(repr(u) for u in uniq[:5])
        raise InputError(f"{name}: one chain holds one {name}, got {len(uniq)} ({shown})", arg=name)
    return str(uniq[0])


def _csv_values(strings: Sequence[str]) -> npt.NDArray[Any]:
    """A CSV extra column: float64 when every non-empty cell is a number, else the text."""
    arr = np.array(strings, dtype=str)
    stripped = np.char.strip(arr)
    try:
        return np.where(stripped == "", "nan", stripped).astype(np.float64)
    except ValueError:
        return np.array(list(strings), dtype=object)


def _frame_columns(frame: Any) -> dict[str, npt.NDArray[Any]]:
    """Columns of a pandas / polars data frame, a pyarrow table or a mapping, as numpy arrays."""
    module = type(frame).__module__.split(".")[0]
    if module == "pandas" and hasattr(frame, "columns"):
        names = [str(c) for c in frame.columns]
        if len(set(names)) != len(names):
            raise InputError("frame: column names must be unique")
        return {str(c): _column_values(frame[c].to_numpy()) for c in frame.columns}
    if module == "polars" and hasattr(frame, "get_column"):
        return {c: _column_values(frame.get_column(c).to_numpy()) for c in frame.columns}
    if module == "pyarrow" and hasattr(frame, "column_names"):
        return {c: _column_values(frame.column(c).to_numpy()) for c in frame.column_names}
    if isinstance(frame, Mapping):
        return {str(k): _column_values(v) for k, v in frame.items()}
    raise InputError(
        "frame: expected a pandas or polars DataFrame, a pyarrow Table or a mapping of "
        f"columns, got {type(frame).__name__}",
        arg="frame",
    )


# ------------------------------------------------------------------------------ report


@dataclass(frozen=True)
class Finding:
    """One validation finding: which rows, and whether the fit policy excludes them."""

    name: str
    description: str
    rows: IntArray
    excludes: bool

    @property
    def count(self) -> int:
        """Number of rows with this finding."""
        return int(self.rows.shape[0])


# name, description, excluded from the fit; in the order reasons are attributed
_FINDINGS: tuple[tuple[str, str, bool], ...] = (
    ("nonpositive_strike", "strike <= 0 or missing", True),
    ("negative_price", "bid or ask < 0", True),
    ("both_missing", "no bid and no ask", True),
    ("missing_bid", "no bid (ask present)", True),
    ("missing_ask", "no ask (bid present)", True),
    ("zero_bid", "bid == 0 (iVolatility: no bid)", True),
    ("crossed", "bid > ask", True),
    ("duplicate", "same expiry/strike/kind as an earlier row", True),
    ("expired", "t <= 0 (settled at or before the quote time)", True),
    ("outside_bounds", "mid above the no-arbitrage bound", True),
    ("zero_ask", "ask == 0", False),
    ("locked", "bid == ask > 0", False),
    ("unpaired", "no call/put partner at this expiry and strike", False),
    ("no_activity", "quoted, but volume == 0 and open interest == 0", False),
    ("no_underlying_price", "underlying_price missing", False),
    ("iv_interpolated", "vendor IV interpolated, not solved from this quote", False),
)


class ChainReport:
    """Validation findings of a :class:`Chain`; ``str()`` gives a short table.

    Attributes:
        n_rows: rows in the chain.
        n_usable: rows that enter a fit (``chain.usable``).
        usable: the boolean fit mask.
        findings: name -> :class:`Finding` (row indices, count, whether it excludes rows).
        reason: per row, the first excluding finding's name ('' for usable rows).
        not_usable_by: name -> number of rows whose first excluding finding it is; the values
            add up to ``n_rows - n_usable``.
    """

    def __init__(self, chain: Chain, masks: Mapping[str, BoolArray]) -> None:
        self.underlying = chain.underlying
        self.quote_time = chain.quote_time
        self.price_unit = chain.price_unit
        self.n_rows = len(chain)
        self.n_expiries = len(chain.expiries.t)
        self.findings: dict[str, Finding] = {
            name: Finding(name, text, _frozen(np.flatnonzero(masks[name]).astype(np.int64)), excl)
            for name, text, excl in _FINDINGS
        }
        reason = np.full(self.n_rows, "", dtype=object)
        for name, _, excl in reversed(_FINDINGS):
            if excl:
                reason[masks[name]] = name
        self.reason: npt.NDArray[np.object_] = _frozen(reason)
        self.usable: BoolArray = chain.usable
        self.n_usable = int(self.usable.sum())
        self.not_usable_by: dict[str, int] = {
            name: int((reason == name).sum()) for name, _, excl in _FINDINGS if excl
        }

    @property
    def counts(self) -> dict[str, int]:
        """Finding name -> number of rows."""
        return {name: f.count for name, f in self.findings.items()}

    def rows(self, name: str) -> IntArray:
        """Row indices of one finding."""
        return self[name].rows

    def __getitem__(self, name: str) -> Finding:
        try:
            return self.findings[name]
        except KeyError:
            raise KeyError(f"no finding {name!r}; findings: {', '.join(self.findings)}") from None

    def __repr__(self) -> str:
        found = ", ".join(f"{k}={v}" for k, v in self.counts.items() if v)
        tail = f", {found})" if found else ")"
        return f"ChainReport({self.underlying}, {self.n_rows} rows, {self.n_usable} usable{tail}"

    def __str__(self) -> str:
        pct = 100.0 * self.n_usable / self.n_rows if self.n_rows else 0.0
        lines = [
            f"{self.underlying} chain at {self.quote_time.isoformat()}: {self.n_rows} rows, "
            f"{self.n_expiries} expiries, premiums in {self.price_unit}",
            f"usable for fitting: {self.n_usable} of {self.n_rows} rows ({pct:.1f}%); "
            f"not usable: {self.n_rows - self.n_usable}",
            "",
            f"{'finding':<20}{'rows':>7}  {'fit':<8}{'not usable':>10}  meaning",
        ]
        lines.append("-" * len(lines[-1]) + "-" * 30)
        for name, f in self.findings.items():
            first = str(self.not_usable_by[name]) if f.excludes else "-"
            policy = "exclude" if f.excludes else "keep"
            lines.append(f"{name:<20}{f.count:>7}  {policy:<8}{first:>10}  {f.description}")
        lines.append("")
        lines.append(
            "'not usable' counts each excluded row once, under its first reason in table order."
        )
        return "\n".join(lines)


# ------------------------------------------------------------------------------ views


class Expiries(NamedTuple):
    """Sorted unique settlement instants (datetime64[s], UTC) and their year fractions."""

    time: TimeArray
    t: FloatArray


class ExpirySlice:
    """The rows of one expiry of a chain (a view: row indices into the parent chain)."""

    def __init__(self, chain: Chain, expiry: np.datetime64, t: float, rows: IntArray) -> None:
        self.chain = chain
        self.expiry = expiry
        self.t = t
        rows.setflags(write=False)
        self.rows = rows

    def __len__(self) -> int:
        return int(self.rows.shape[0])

    def __repr__(self) -> str:
        return f"ExpirySlice({self.expiry}Z, t={self.t:.6f}, {len(self)} rows)"

    def _take(self, values: npt.NDArray[Any]) -> npt.NDArray[Any]:
        return values[self.rows]

    @property
    def strike(self) -> FloatArray:
        return self._take(self.chain.strike)

    @property
    def kind(self) -> FloatArray:
        return self._take(self.chain.kind)

    @property
    def bid(self) -> FloatArray:
        return self._take(self.chain.bid)

    @property
    def ask(self) -> FloatArray:
        return self._take(self.chain.ask)

    @property
    def mid(self) -> FloatArray:
        return self._take(self.chain.mid)

    @property
    def underlying_price(self) -> FloatArray:
        return self._take(self.chain.underlying_price)

    @property
    def usable(self) -> BoolArray:
        return self._take(self.chain.usable)


# ------------------------------------------------------------------------------ the chain


def _frozen(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
    a.setflags(write=False)
    return a


class Chain:
    """A normalised snapshot of one underlying's option chain at one time (immutable).

    Build one with :meth:`read_csv`, :meth:`from_frame`, :meth:`from_arrays` or :meth:`sample`.
    The settlement-time rule behind :attr:`expiry` and :attr:`t` is in the module docstring.

    Per-row attributes (read-only numpy arrays in input order): ``strike``, ``kind`` (+1.0 call,
    -1.0 put), ``bid``, ``ask`` (in ``price_unit``; NaN where a side is missing, zeros kept),
    ``last``, ``expiry`` (settlement instant, datetime64[s] UTC), ``t`` (years, ACT/365),
    ``underlying_price`` (USD; the forward or future for Deribit), ``volume``,
    ``open_interest``, ``iv_source`` (vendor IV, decimal), ``contract``.

    Scalars: ``underlying``, ``quote_time`` (aware datetime), ``price_unit``, ``is_inverse``
    (premiums in coin), ``exercise_style``, ``multiplier`` (100 for cash-priced chains, 1 for
    coin-priced ones, unless given), ``spot`` (median ``index_price`` if present, else median
    ``underlying_close``, else median ``underlying_price``, unless given).

    Fit policy (:attr:`usable`): a row enters a fit when it has both a bid and an ask, bid > 0,
    ask >= bid, strike > 0, is the first of its expiry/strike/kind (later duplicates are
    dropped from the fit, the first is kept), t > 0, and its mid is within the no-arbitrage
    upper bound (cash premiums: call <= underlying_price, put <= strike; coin premiums: call
    <= 1, put <= strike / underlying_price). Locked quotes, missing pairs, zero activity and
    vendor-interpolated IVs are reported but do not exclude a row. :meth:`report` lists every
    finding with its rows; nothing is dropped from the chain itself.

    ``len(chain)`` is the number of rows; iterating over a chain gives one
    :class:`ExpirySlice` (row indices) per expiry, as do :meth:`slices` and :meth:`slice`.

    >>> import strikegrid as sg
    >>> chain = sg.Chain.sample()
    >>> len(chain), chain.underlying, chain.multiplier
    (1936, 'SPX', 100.0)
    >>> monthly = chain.slice("2011-01-21")  # AM-settled: 09:30 New York time
    >>> str(monthly.expiry), round(monthly.t * 365, 4)
    ('2011-01-21T14:30:00', 17.7188)
    """

    def __init__(
        self,
        columns: Mapping[str, Any],
        *,
        multiplier: float | None = None,
        spot: float | None = None,
    ) -> None:
        """Build from a mapping of column name -> 1-D array (the schema of the module docs).

        The public constructors are :meth:`read_csv`, :meth:`from_frame`, :meth:`from_arrays`.
        """
        raw = {str(k): _column_values(v) for k, v in columns.items()}
        missing = [c for c in REQUIRED_COLUMNS if c not in raw]
        if missing:
            raise InputError(
                f"chain: missing required column(s): {', '.join(missing)}", arg=missing[0]
            )
        sizes = {k: v.shape[0] for k, v in raw.items()}
        n = sizes["strike"]
        bad = [k for k, s in sizes.items() if s != n]
        if bad:
            raise InputError(
                f"{bad[0]}: has {sizes[bad[0]]} rows, strike has {n}; columns must match",
                arg=bad[0],
            )
        if n == 0:
            raise InputError("chain: no rows", arg="strike")

        # scalars: one underlying, one quote time, one unit, one exercise style
        self._underlying = _only_value(_texts(raw["underlying"]), "underlying")
        self._price_unit = _only_value(_texts(raw["price_unit"]), "price_unit").upper()
        if "exercise_style" in raw:
            style = _texts(raw["exercise_style"])
            style[style == ""] = "european"
            self._exercise_style = _only_value(style, "exercise_style").lower()
        else:
            self._exercise_style = "european"
        if self._exercise_style not in ("european", "american"):
            raise InputError(
                f"exercise_style: must be 'european' or 'american', got {self._exercise_style!r}",
                arg="exercise_style",
            )
        self._quote_time = self._parse_quote_time(raw["quote_time"])
        self._is_inverse = self._price_unit not in CASH_UNITS

        cols: dict[str, npt.NDArray[Any]] = {}
        for name in _NUMERIC_CORE:
            cols[name] = (
                _floats(raw[name], name) if name in raw else np.full(n, np.nan, dtype=np.float64)
            )
        cols["underlying_price"] = _floats(raw["underlying_price"], "underlying_price")
        cols["kind"] = np.asarray(kind_array(raw["kind"], False), dtype=np.float64)
        if cols["kind"].shape != (n,):
            cols["kind"] = np.broadcast_to(cols["kind"], (n,)).copy()
        cols["contract"] = _texts(raw["contract"]) if "contract" in raw else np.full(n, "", object)
        self._extra: dict[str, npt.NDArray[Any]] = {
            k: v for k, v in raw.items() if k not in CORE_COLUMNS
        }
        self._extra_names = tuple(k for k in raw if k not in CORE_COLUMNS)

        settle, label = self._settlements(raw)
        cols["expiry"] = settle
        self._label = _frozen(label)  # listed expiry date, datetime64[D]
        cols["t"] = self._t_of(settle)
        self._cols = {k: _frozen(v) for k, v in cols.items()}
        for v in self._extra.values():
            _frozen(v)

        self._iv_interpolated = _frozen(
            _flags(raw["iv_interpolated"], "iv_interpolated")
            if "iv_interpolated" in raw
            else np.zeros(n, dtype=bool)
        )
        self._multiplier = float(
            multiplier if multiplier is not None else (1.0 if self._is_inverse else 100.0)
        )
        self._spot = float(spot) if spot is not None else self._default_spot()

        bid, ask = self.bid, self.ask
        both = np.isfinite(bid) & np.isfinite(ask)
        valid = both & (bid >= 0.0) & (ask >= bid)
        self._mid = _frozen(np.where(valid, 0.5 * (bid + ask), np.nan))
        self._spread = _frozen(np.where(both, ask - bid, np.nan))
        self._masks = self._findings()
        excluded = np.zeros(n, dtype=bool)
        for name, _, excl in _FINDINGS:
            if excl:
                excluded |= self._masks[name]
        self._usable = _frozen(~excluded)
        times = np.unique(settle)
        self._expiries = Expiries(
            _frozen(times), _frozen(np.asarray(self._t_of(times), dtype=np.float64))
        )

    # ---------------------------------------------------------------- constructors

    @classmethod
    def read_csv(
        cls,
        path: str | os.PathLike[str],
        *,
        multiplier: float | None = None,
        spot: float | None = None,
    ) -> Chain:
        """Read a normalised chain CSV (one underlying at one quote time).

        Needs only the csv module and numpy. Extra columns are kept: as float64 when every
        non-empty cell is a number, else as text.
        """
        try:
            with open(path, newline="", encoding="utf-8-sig") as f:
                reader = csv.reader(f)
                header = next(reader, None)
                if header is None:
                    raise InputError(f"path: {os.fspath(path)!r} is empty", arg="path")
                header = [h.strip() for h in header]
                rows = list(reader)
        except OSError as e:
            raise InputError(f"path: cannot read {os.fspath(path)!r}: {e}", arg="path") from e
        rows = [r for r in rows if r]  # a trailing blank line is not a row
        for i, r in enumerate(rows):
            if len(r) != len(header):
                raise InputError(
                    f"path: row {i} has {len(r)} fields, the header has {len(header)}",
                    arg="path",
                    index=i,
                )
        if len(set(header)) != len(header):
            raise InputError("path: column names in the header must be unique", arg="path")
        data = list(zip(*rows)) if rows else [() for _ in header]
        raw: dict[str, npt.NDArray[Any]] = {}
        for name, cells in zip(header, data):
            if name in _NUMERIC_CORE or name == "underlying_price":
                raw[name] = np.array(cells, dtype=str)
            elif name in CORE_COLUMNS or name in ("settlement", "expiry_time", "iv_interpolated"):
                raw[name] = np.array(cells, dtype=object)
            else:
                raw[name] = _csv_values(cells)
        return cls(raw, multiplier=multiplier, spot=spot)

    @classmethod
    def from_frame(
        cls, frame: Any, *, multiplier: float | None = None, spot: float | None = None
    ) -> Chain:
        """From a pandas DataFrame, a polars DataFrame, a pyarrow Table (or a mapping of
        columns), with the CSV schema's columns; extra columns are kept. The frame is copied,
        never modified."""
        return cls(_frame_columns(frame), multiplier=multiplier, spot=spot)

    @classmethod
    def from_arrays(
        cls,
        *,
        underlying: str,
        quote_time: Any,
        expiry: Any,
        strike: Any,
        kind: Any,
        bid: Any,
        ask: Any,
        underlying_price: Any,
        price_unit: str = "USD",
        volume: Any = None,
        open_interest: Any = None,
        iv_source: Any = None,
        last: Any = None,
        contract: Any = None,
        exercise_style: str = "european",
        settlement: Any = None,
        expiry_time: Any = None,
        iv_interpolated: Any = None,
        extra: Mapping[str, Any] | None = None,
        multiplier: float | None = None,
        spot: float | None = None,
    ) -> Chain:
        """From arrays (one entry per row) and scalars (broadcast to every row).

        Args:
            underlying: the underlying's name ("SPX", "BTC").
            quote_time: an aware datetime or ISO-8601 string (naive means UTC).
            expiry: per row (or one value): ISO date strings, dates, datetimes or datetime64
                (a date is settled by the module's rule; a time of day is the instant), or
                floats = year fractions from ``quote_time``.
            strike, bid, ask: numbers (NaN = side missing); bid/ask in ``price_unit``.
            kind: "call"/"put"/"c"/"p", bools (True = call) or +1/-1.
            underlying_price: the underlying (or forward) per row, in USD.
            price_unit: "USD" or the coin ("BTC") for inverse options.
            volume, open_interest, iv_source, last, contract: optional per-row data.
            exercise_style: "european" or "american".
            settlement: optional "AM"/"PM" per row (US index options).
            expiry_time: optional settlement instants per row (overrides the rule).
            iv_interpolated: optional vendor flags per row.
            extra: further columns, kept as they are.
            multiplier, spot: override the defaults (see the class docstring).
        """
        n = int(np.size(strike))
        if np.ndim(strike) != 1:
            raise InputError("strike: must be a 1-D array", arg="strike")

        def per_row(v: Any) -> npt.NDArray[Any]:
            if np.ndim(v) == 0:
                if isinstance(v, (str, date)):
                    return np.full(n, v, dtype=object)
                return np.full(n, v)
            return np.asarray(v)

        cols: dict[str, Any] = {
            "underlying": per_row(underlying),
            "quote_time": per_row(quote_time),
            "expiry": per_row(expiry),
            "strike": strike,
            "kind": per_row(kind),
            "bid": per_row(bid),
            "ask": per_row(ask),
            "underlying_price": per_row(underlying_price),
            "price_unit": per_row(price_unit),
            "exercise_style": per_row(exercise_style),
        }
        optional = {
            "volume": volume,
            "open_interest": open_interest,
            "iv_source": iv_source,
            "last": last,
            "contract": contract,
            "settlement": settlement,
            "expiry_time": expiry_time,
            "iv_interpolated": iv_interpolated,
        }
        cols.update({k: per_row(v) for k, v in optional.items() if v is not None})
        for k, v in (extra or {}).items():
            if k in cols:
                raise InputError(f"extra: column {k!r} is already an argument", arg="extra")
            cols[k] = v
        return cls(cols, multiplier=multiplier, spot=spot)

    @classmethod
    def sample(cls) -> Chain:
        """The embedded sample: the complete SPX chain at the close of 2011-01-03."""
        from .sample import sample_chain_path

        return cls.read_csv(sample_chain_path())

    # ---------------------------------------------------------------- construction helpers

    @staticmethod
    def _parse_quote_time(values: npt.NDArray[Any]) -> datetime:
        seen: dict[Any, datetime] = {}
        items = list(values) if values.dtype.kind == "M" else values.tolist()
        for i, v in enumerate(items):
            key = v if not isinstance(v, float) else repr(v)
            if key in seen:
                continue
            if _missing(v):
                raise InputError(f"quote_time: missing at row {i}", arg="quote_time", index=i)
            seen[key] = _instant(v, "quote_time", i)
        instants = sorted(set(seen.values()))
        if len(instants) != 1:
            shown = ", ".join(x.isoformat() for x in instants[:3])
            raise InputError(
                f"quote_time: one chain holds one quote time, got {len(instants)} ({shown}...)",
                arg="quote_time",
            )
        return next(iter(seen.values()))

    def _settlement_of(
        self, expiry: date | datetime | float, settlement: str, expiry_time: datetime | None
    ) -> tuple[datetime, date]:
        """(settlement instant, listed expiry date) by the module's rule."""
        if expiry_time is not None:
            if isinstance(expiry, date) and not isinstance(expiry, datetime):
                return expiry_time, expiry
            return expiry_time, expiry_time.date()
        if isinstance(expiry, float):
            at = self._quote_time + timedelta(seconds=expiry * _YEAR_SECONDS)
            return at, at.astimezone(_UTC).date()
        if isinstance(expiry, datetime):
            return expiry, expiry.date()
        return self.settlement_rule(expiry, settlement), expiry

    def settlement_rule(self, day: date, settlement: str = "") -> datetime:
        """The settlement instant of an expiry date with an optional AM/PM tag (module docs)."""
        tag = settlement.strip().upper()
        if tag == "AM":
            return _new_york(day, 9, 30)
        if tag in ("PM", "PHYSICAL"):
            return _new_york(day, 16, 0)
        if self._is_inverse:
            return datetime(day.year, day.month, day.day, 8, 0, tzinfo=_UTC)
        if self._price_unit == "USD":
            return _new_york(day, 16, 0)
        tz = self._quote_time.tzinfo or _UTC
        return datetime(day.year, day.month, day.day, 16, 0, tzinfo=tz)

    def _settlements(self, raw: Mapping[str, npt.NDArray[Any]]) -> tuple[TimeArray, Any]:
        expiry = raw["expiry"]
        n = expiry.shape[0]
        tags = _texts(raw["settlement"]) if "settlement" in raw else np.full(n, "", object)
        times = raw.get("expiry_time")
        exp_list = expiry.tolist() if expiry.dtype.kind != "M" else list(expiry)
        time_list = (
            [None] * n
            if times is None
            else (times.tolist() if times.dtype.kind != "M" else list(times))
        )
        cache: dict[Any, tuple[np.datetime64, np.datetime64]] = {}
        settle = np.empty(n, dtype="datetime64[s]")
        label = np.empty(n, dtype="datetime64[D]")
        for i in range(n):
            e, tag, et = exp_list[i], tags[i], time_list[i]
            key = (
                repr(e) if isinstance(e, float) else e,
                tag,
                repr(et) if isinstance(et, float) else et,
            )
            hit = cache.get(key)
            if hit is None:
                if _missing(e):
                    raise InputError(f"expiry: missing at row {i}", arg="expiry", index=i)
                parsed = _parse_time(e, "expiry", i)
                inst = None
                if not _missing(et):
                    inst = _instant(et, "expiry_time", i)
                at, listed = self._settlement_of(parsed, tag, inst)
                hit = (_to_datetime64(at), np.datetime64(listed.isoformat(), "D"))
                cache[key] = hit
            settle[i], label[i] = hit
        return settle, label

    def _default_spot(self) -> float:
        for name in ("index_price", "underlying_close"):
            col = self._extra.get(name)
            if col is not None and col.dtype.kind == "f" and np.isfinite(col).any():
                return float(np.nanmedian(col))
        up = self.underlying_price
        return float(np.nanmedian(up)) if np.isfinite(up).any() else math.nan

    def _t_of(self, instant: Any) -> Any:
        """Years from the quote time to datetime64[s] instant(s)."""
        quote = (self._quote_time - _EPOCH).total_seconds()
        seconds = np.asarray(instant, dtype="datetime64[s]").astype(np.int64) - quote
        return seconds / _YEAR_SECONDS

    def _findings(self) -> dict[str, BoolArray]:
        bid, ask, strike, t = self.bid, self.ask, self.strike, self.t
        has_bid, has_ask = np.isfinite(bid), np.isfinite(ask)
        n = len(self)
        m: dict[str, BoolArray] = {}
        m["nonpositive_strike"] = ~(strike > 0.0)
        m["negative_price"] = (has_bid & (bid < 0.0)) | (has_ask & (ask < 0.0))
        m["both_missing"] = ~has_bid & ~has_ask
        m["missing_bid"] = ~has_bid & has_ask
        m["missing_ask"] = has_bid & ~has_ask
        m["zero_bid"] = has_bid & (bid == 0.0)
        m["crossed"] = has_bid & has_ask & (bid > ask)
        m["zero_ask"] = has_ask & (ask == 0.0)
        m["locked"] = has_bid & has_ask & (bid == ask) & (bid > 0.0)

        exp_s = self.expiry.astype(np.int64).astype(np.float64)
        keys = np.stack([exp_s, strike, self.kind], axis=1)
        _, first = np.unique(keys, axis=0, return_index=True)
        dup = np.ones(n, dtype=bool)
        dup[first] = False
        m["duplicate"] = dup
        m["expired"] = ~(t > 0.0)

        pairs, group = np.unique(np.stack([exp_s, strike], axis=1), axis=0, return_inverse=True)
        group = group.reshape(-1)
        calls = np.bincount(group, weights=(self.kind > 0).astype(float), minlength=len(pairs))
        puts = np.bincount(group, weights=(self.kind < 0).astype(float), minlength=len(pairs))
        m["unpaired"] = (calls[group] == 0) | (puts[group] == 0)

        up, mid = self.underlying_price, self._mid
        if self._is_inverse:
            with np.errstate(divide="ignore", invalid="ignore"):
                bound = np.where(self.kind > 0, 1.0, strike / up)
        else:
            bound = np.where(self.kind > 0, up, strike)
        m["outside_bounds"] = np.isfinite(mid) & np.isfinite(bound) & (mid > bound)

        vol, oi = self.volume, self.open_interest
        quoted = (has_bid & (bid > 0.0)) | (has_ask & (ask > 0.0))
        m["no_activity"] = quoted & (vol == 0.0) & (oi == 0.0)
        m["no_underlying_price"] = ~np.isfinite(up)
        m["iv_interpolated"] = self._iv_interpolated.copy()
        return m

    # ---------------------------------------------------------------- scalars

    @property
    def underlying(self) -> str:
        """The underlying's name."""
        return self._underlying

    @property
    def quote_time(self) -> datetime:
        """The quote time (timezone-aware, in the offset the source gave)."""
        return self._quote_time

    @property
    def price_unit(self) -> str:
        """Unit of bid/ask/last: 'USD', or the coin for inverse options."""
        return self._price_unit

    @property
    def is_inverse(self) -> bool:
        """True when premiums are in the coin (price_unit is not a cash currency)."""
        return self._is_inverse

    @property
    def exercise_style(self) -> str:
        """'european' or 'american'."""
        return self._exercise_style

    @property
    def multiplier(self) -> float:
        """Contract multiplier: 100 for cash-priced chains, 1 for coin-priced (unless given)."""
        return self._multiplier

    @property
    def spot(self) -> float:
        """Spot of the underlying in USD (see the class docstring for the source)."""
        return self._spot

    # ---------------------------------------------------------------- per-row arrays

    @property
    def strike(self) -> FloatArray:
        return self._cols["strike"]

    @property
    def kind(self) -> FloatArray:
        """+1.0 for calls, -1.0 for puts."""
        return self._cols["kind"]

    @property
    def bid(self) -> FloatArray:
        """Best bid in price_unit (NaN = no bid; zeros kept and reported)."""
        return self._cols["bid"]

    @property
    def ask(self) -> FloatArray:
        """Best ask in price_unit (NaN = no ask)."""
        return self._cols["ask"]

    @property
    def last(self) -> FloatArray:
        return self._cols["last"]

    @property
    def volume(self) -> FloatArray:
        return self._cols["volume"]

    @property
    def open_interest(self) -> FloatArray:
        return self._cols["open_interest"]

    @property
    def iv_source(self) -> FloatArray:
        """The source's implied vol (decimal), NaN where none."""
        return self._cols["iv_source"]

    @property
    def underlying_price(self) -> FloatArray:
        """Underlying (or its forward/future) per row, USD."""
        return self._cols["underlying_price"]

    @property
    def contract(self) -> npt.NDArray[np.object_]:
        return self._cols["contract"]

    @property
    def expiry(self) -> TimeArray:
        """Settlement instant per row, datetime64[s] in UTC."""
        return self._cols["expiry"]

    @property
    def expiry_date(self) -> TimeArray:
        """The listed expiry date per row (datetime64[D])."""
        return self._label

    @property
    def t(self) -> FloatArray:
        """Years from the quote time to settlement, ACT/365."""
        return self._cols["t"]

    @property
    def iv_interpolated(self) -> BoolArray:
        """Vendor flag: IV interpolated from neighbours (False where the source has no flag)."""
        return self._iv_interpolated

    @property
    def mid(self) -> FloatArray:
        """(bid + ask) / 2 where both sides are present, >= 0 and ask >= bid, else NaN."""
        return self._mid

    @property
    def spread(self) -> FloatArray:
        """ask - bid where both sides are present, else NaN (negative when crossed)."""
        return self._spread

    @property
    def usable(self) -> BoolArray:
        """The fit mask (policy in the class docstring)."""
        return self._usable

    @property
    def extra_columns(self) -> tuple[str, ...]:
        """Names of the source's extra columns, in input order."""
        return self._extra_names

    def column(self, name: str) -> npt.NDArray[Any]:
        """Any column by name: a core column (normalised) or an extra one (as given)."""
        if name in self._cols:
            return self._cols[name]
        if name in self._extra:
            return self._extra[name]
        raise KeyError(f"no column {name!r}")

    # ---------------------------------------------------------------- expiries

    @property
    def expiries(self) -> Expiries:
        """Sorted unique settlement instants (datetime64[s], UTC) and their t."""
        return self._expiries

    def __len__(self) -> int:
        return int(self.strike.shape[0])

    def _slice_at(self, instant: np.datetime64) -> ExpirySlice:
        rows = np.flatnonzero(self.expiry == instant).astype(np.int64)
        return ExpirySlice(self, instant, float(self._t_of(instant)), rows)

    def slices(self) -> list[ExpirySlice]:
        """One :class:`ExpirySlice` per expiry, in settlement order."""
        return [self._slice_at(x) for x in self._expiries.time]

    def __iter__(self) -> Iterator[ExpirySlice]:
        """Iterates over expiries (not rows): one :class:`ExpirySlice` each."""
        return iter(self.slices())

    def slice(self, expiry: Any) -> ExpirySlice:
        """The rows of one expiry.

        ``expiry``: a float (year fraction; matches an expiry within one minute), a date or
        ISO date string (the listed expiry date; must name a single settlement time), or a
        datetime / datetime64 / ISO time (the settlement instant).
        """
        times = self._expiries.time
        if isinstance(expiry, (float, int, np.floating, np.integer)) and not isinstance(
            expiry, bool
        ):
            diff = np.abs(self._expiries.t - float(expiry))
            j = int(np.argmin(diff))
            if diff[j] * _YEAR_SECONDS <= 60.0:
                return self._slice_at(times[j])
            raise InputError(
                f"expiry: no expiry at t={float(expiry):.6f}; nearest is "
                f"t={self._expiries.t[j]:.6f} ({times[j]}Z)",
                arg="expiry",
            )
        p = _parse_time(expiry, "expiry", 0)
        if isinstance(p, datetime):
            x = _to_datetime64(p)
            if x in times:
                return self._slice_at(x)
            raise InputError(f"expiry: no settlement at {x}Z in this chain", arg="expiry")
        if isinstance(p, date):
            day = np.datetime64(p.isoformat(), "D")
            found = np.unique(self.expiry[self._label == day])
            if len(found) == 1:
                return self._slice_at(found[0])
            if len(found) > 1:
                raise InputError(
                    f"expiry: {p} has {len(found)} settlement times "
                    f"({', '.join(str(f) + 'Z' for f in found)}); pass one of them",
                    arg="expiry",
                )
            listed = ", ".join(str(d) for d in np.unique(self._label))
            raise InputError(f"expiry: no expiry on {p}; listed: {listed}", arg="expiry")
        raise InputError(f"expiry: cannot use {expiry!r}", arg="expiry")

    def year_fraction(self, expiry: Any) -> float:
        """Years (ACT/365) from the quote time to an expiry's settlement, per DESIGN.md.

        A float is returned as it is; a date is settled like this chain's listing of that
        date when it has exactly one, else by the default rule (module docs); a datetime or
        ISO time is the instant itself (naive = UTC).
        """
        if isinstance(expiry, (float, int, np.floating, np.integer)) and not isinstance(
            expiry, bool
        ):
            return float(expiry)
        p = _parse_time(expiry, "expiry", 0)
        if isinstance(p, datetime):
            return (p - self._quote_time).total_seconds() / _YEAR_SECONDS
        if isinstance(p, date):
            day = np.datetime64(p.isoformat(), "D")
            found = np.unique(self.expiry[self._label == day])
            if len(found) == 1:
                return float(self._t_of(found[0]))
            return (self.settlement_rule(p) - self._quote_time).total_seconds() / _YEAR_SECONDS
        raise InputError(f"expiry: cannot use {expiry!r}", arg="expiry")

    # ---------------------------------------------------------------- output

    def report(self) -> ChainReport:
        """Validation findings (row indices per finding) and the fit policy's outcome."""
        return ChainReport(self, self._masks)

    def _frame_dict(self, derived: bool) -> dict[str, npt.NDArray[Any]]:
        n = len(self)
        out: dict[str, npt.NDArray[Any]] = {
            "underlying": np.full(n, self._underlying, dtype=object),
            "quote_time": np.full(n, self._quote_time.isoformat(), dtype=object),
            "expiry": np.datetime_as_string(self._label).astype(object),
            "strike": self.strike.copy(),
            "kind": np.where(self.kind > 0, "call", "put").astype(object),
            "bid": self.bid.copy(),
            "ask": self.ask.copy(),
            "last": self.last.copy(),
            "volume": self.volume.copy(),
            "open_interest": self.open_interest.copy(),
            "iv_source": self.iv_source.copy(),
            "underlying_price": self.underlying_price.copy(),
            "price_unit": np.full(n, self._price_unit, dtype=object),
            "contract": self.contract.copy(),
            "exercise_style": np.full(n, self._exercise_style, dtype=object),
        }
        for k in self._extra_names:
            out[k] = self._extra[k].copy()
        if derived:
            out["expiry_time"] = _iso_utc(self.expiry)
            out["t"] = self.t.copy()
            out["mid"] = self.mid.copy()
            out["spread"] = self.spread.copy()
            out["usable"] = self.usable.copy()
        return out

    def to_frame(self, output: str = "pandas", *, derived: bool = True) -> Any:
        """The chain as a data frame: the schema columns (times as ISO text, kind as
        'call'/'put'), the extra columns, and with ``derived=True`` the chain's ``expiry_time``
        (settlement instant, ISO UTC), ``t``, ``mid``, ``spread`` and ``usable`` (these replace
        extra columns of the same names). ``output``: "pandas", "polars" or "pyarrow"."""
        data = self._frame_dict(derived)
        if output == "pandas":
            pd = importlib.import_module("pandas")
            return pd.DataFrame(data)
        if output == "polars":
            pl = importlib.import_module("polars")
            return pl.DataFrame(
                {k: (v.tolist() if v.dtype == object else v) for k, v in data.items()}
            )
        if output == "pyarrow":
            pa = importlib.import_module("pyarrow")
            return pa.table({k: (v.tolist() if v.dtype == object else v) for k, v in data.items()})
        raise InputError(
            f"output: must be 'pandas', 'polars' or 'pyarrow', got {output!r}", arg="output"
        )

    def __repr__(self) -> str:
        return (
            f"Chain({self._underlying}, {self._quote_time.isoformat()}, {len(self)} rows, "
            f"{len(self._expiries.t)} expiries, {self._price_unit})"
        )


def as_chain(chain: Any) -> Chain:
    """A :class:`Chain` as it is; a pandas or polars DataFrame, a pyarrow Table or a mapping of
    columns (one snapshot, the CSV schema) through :meth:`Chain.from_frame`."""
    if isinstance(chain, Chain):
        return chain
    module = type(chain).__module__.split(".")[0]
    if module in ("pandas", "polars", "pyarrow") or isinstance(chain, Mapping):
        return Chain.from_frame(chain)
    raise InputError(
        "chain: expected a Chain, a pandas or polars DataFrame, a pyarrow Table or a mapping of "
        f"columns, got {type(chain).__name__}",
        arg="chain",
    )

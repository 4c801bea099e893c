"""Portfolio risk for an income book: ``sg.Book``.

A :class:`Book` holds positions — a :class:`~strikegrid.Package` bought or sold ``quantity``
times at a net premium on an entry date — on one or several underlyings, each valued against
its own :class:`~strikegrid.Surface` (a mapping ``symbol -> Surface``).

Conventions:

* ``quantity`` is the number of packages held (positive; the legs' signs say what is bought
  and sold). ``entry_price`` is the net premium per unit paid for the option legs (+ debit,
  - credit), as :meth:`Package.payoff` takes it; underlying legs carry their own entry
  ``price``. Money amounts are per unit × ``multiplier`` × ``quantity``.
* Valuation time is each surface's quote time. Option legs are Black-76 on the surface
  forward with the surface vol (the batch kernel of :func:`~strikegrid.package.value_packages`;
  American legs are valued as European).
* Money greeks: ``dollar_delta`` (delta × S: a 1% move makes 1% of it), ``gamma_1pct``
  (gamma × S² × 1%: the change of the dollar delta for a 1% move), ``vega_1pt`` (per vol
  point), ``theta_day`` (per calendar day). Theta here is the decay with the *spot* held (and
  each option's implied vol, rate and carry), the days axis of the scenario engine:
  ``theta_F - b S delta`` per option, ``theta_F`` the Black-76 theta at a fixed forward that
  :meth:`Package.value` reports and ``b = ln(F/S)/T`` the option's carry rate.
* Expiry buckets (:data:`BUCKETS`): days to expiry (ACT/365) in ``(0, 7]``, ``(7, 30]``,
  ``(30, 60]``, ``(60, 90]`` and beyond 90, labelled ``0-7d``, ``8-30d``, ``31-60d``,
  ``61-90d``, ``>90d``; greeks are bucketed per option leg, and underlying legs (shares) go
  to their own row ``shares``.
* Income view per position: ``premium`` collected (``-entry_price``, negative for a debit),
  ``at_risk`` (the premium still at risk: today's value of the short options, what buying them
  back costs), ``capital`` tied up (:meth:`Package.collateral` at the entry price; ``inf``
  where it is not defined, e.g. naked calls) and the annualised ``yield``, ``premium /
  capital × 365 / term`` with ``term`` the days from entry to the last option expiry
  (ACT/365). Aggregate yields are capital-weighted over positions of finite capital.
* Scenario P&L is against today's value (not the entry price); see :meth:`Book.scenarios`.

Results are pandas data frames when pandas is installed, else dicts of numpy arrays.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import json
import math
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from . import _core
from ._convert import finite_number as _finite
from .chain import Chain
from .exceptions import InputError
from .package import (
    _SIGN,
    Leg,
    Package,
    _frame,
    _is_number,
    _years,
    value_packages,
)
from .strategies import roll as _roll
from .surface import Surface

__all__ = [
    "BUCKETS",
    "STRESSES",
    "Book",
    "BookRisk",
    "Position",
    "Scenarios",
    "Stress",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

#: Upper edges (days to expiry, inclusive) of the expiry buckets; the last bucket is open.
BUCKETS: tuple[int, ...] = (7, 30, 60, 90)
#: Most option legs per package in the batch kernels.
_MAX_LEGS = 8
#: Book file format tag.
_FORMAT = "strikegrid-book"
_VERSION = 1
_YEAR_DAYS = 365.0
#: Two expiries closer than this (years) are the same expiry.
_T_TOL = 1e-6


class Stress(NamedTuple):
    """A named stress: relative spot shock, additive vol shock, calendar days forward."""

    spot: float
    vol: float
    days: float


#: The named stresses of :meth:`Book.stress` (spot shock, vol shock in decimals, days):
#: a crash (-20%, +15 vol points), a correction (-10%, +8 points), a rally (+10%, -5
#: points), a vol spike (+10 points) and a vol crush (-5 points) at today's date, and one
#: week of decay with nothing else moving.
STRESSES: dict[str, Stress] = {
    "crash -20% vol +15pts": Stress(-0.20, 0.15, 0.0),
    "correction -10% vol +8pts": Stress(-0.10, 0.08, 0.0),
    "rally +10% vol -5pts": Stress(0.10, -0.05, 0.0),
    "vol spike +10pts": Stress(0.0, 0.10, 0.0),
    "vol crush -5pts": Stress(0.0, -0.05, 0.0),
    "1-week decay": Stress(0.0, 0.0, 7.0),
}


def _entry_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, np.datetime64):
        return date.fromisoformat(str(value.astype("datetime64[D]")))
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            pass
    raise InputError(
        f"entry_date: expected a date or an ISO date string, got {value!r}", arg="entry_date"
    )


@dataclass(frozen=True)
class Position:
    """One position of a :class:`Book`.

    Attributes:
        id: the position's name in the book (unique).
        package: what is held.
        quantity: number of packages (positive).
        entry_price: net premium per unit paid for the option legs (+ debit, - credit).
        entry_date: the trade date.
        symbol: the underlying (a key of the book's surfaces).
        tag: a free label ("income", "hedge", ...).
    """

    id: str
    package: Package
    quantity: float
    entry_price: float
    entry_date: date
    symbol: str
    tag: str | None = None

    @property
    def weight(self) -> float:
        """Money per unit of the package: ``quantity × multiplier``."""
        return self.quantity * self.package.multiplier


# ---------------------------------------------------------------------------- packing


@dataclass
class _Packed:
    """The positions of one underlying as the batch kernels take them."""

    rows: IntArray  # index of each position in the book
    kind: FloatArray
    strike: FloatArray
    expiry: FloatArray
    qty: FloatArray
    under_qty: FloatArray
    under_cost: FloatArray
    weight: FloatArray
    entry: FloatArray


def _value(surface: Surface, pk: _Packed, per_leg: bool = False) -> dict[str, FloatArray]:
    """The batch kernel on packed positions, per unit (the weights carry the money)."""
    return value_packages(
        surface,
        pk.kind,
        pk.strike,
        pk.expiry,
        pk.qty,
        under_qty=pk.under_qty,
        under_cost=pk.under_cost,
        premium=pk.entry,
        multiplier=1.0,
        per_leg=per_leg,
    )


def _pack(
    positions: Sequence[Position],
    rows: Sequence[int],
    surface: Surface,
    years: dict[Any, float] | None = None,
) -> _Packed:
    """Leg arrays of ``positions``; a position whose expiry the surface cannot reach raises.
    ``years`` caches year fractions of expiries (keyed by chain and expiry) across calls."""
    chain = surface.chain
    last = float(surface.kernel_market()[1][-1])
    n = len(positions)
    legs = max([1, *(len(p.package.option_legs) for p in positions)])
    if legs > _MAX_LEGS:
        raise InputError(f"positions: at most {_MAX_LEGS} option legs each", arg="positions")
    kind = np.ones((n, legs))
    strike = np.ones((n, legs))
    expiry = np.ones((n, legs))
    qty = np.zeros((n, legs))
    under_qty = np.zeros(n)
    under_cost = np.zeros(n)
    years = {} if years is None else years
    spot = float(chain.spot)
    for i, pos in enumerate(positions):
        for j, leg in enumerate(pos.package.option_legs):
            key = (id(chain), leg.expiry if _is_number(leg.expiry) else str(leg.expiry))
            t = years.get(key)
            if t is None:
                t = years[key] = _years(leg.expiry, chain)
            if t <= 0.0:
                raise InputError(
                    f"position {pos.id!r} ({pos.symbol}): its {leg.kind} {leg.strike:g} "
                    f"expiring {leg.expiry} has expired at the quote time {chain.quote_time}; "
                    "remove it from the book",
                    arg="expiry",
                )
            if t > last * (1.0 + 1e-9):
                raise InputError(
                    f"position {pos.id!r} ({pos.symbol}): its {leg.kind} {leg.strike:g} "
                    f"expiring {leg.expiry} ({t * _YEAR_DAYS:.0f} days) is beyond the "
                    f"{pos.symbol} surface's last expiry ({last * _YEAR_DAYS:.0f} days)",
                    arg="expiry",
                )
            kind[i, j] = _SIGN[leg.kind]
            strike[i, j] = float(leg.strike)  # type: ignore[arg-type]
            expiry[i, j] = t
            qty[i, j] = leg.qty
        for leg in pos.package.underlying_legs:
            under_qty[i] += leg.qty
            under_cost[i] += leg.qty * (spot if leg.price is None else float(leg.price))
    return _Packed(
        np.asarray(rows, dtype=np.intp),
        kind,
        strike,
        expiry,
        qty,
        under_qty,
        under_cost,
        np.array([p.weight for p in positions], dtype=np.float64),
        np.array([p.entry_price for p in positions], dtype=np.float64),
    )


def _revalue(
    surface: Surface,
    packed: _Packed,
    spot: Any,
    vol: Any,
    days: Any,
    *,
    group: npt.NDArray[np.uint32] | None = None,
    n_groups: int = 1,
    dynamics: str = "sticky_strike",
) -> FloatArray:
    """The kernel's values (n_spot, n_vol, n_days, n_groups), money."""
    s0, ts, log_f, log_df, params = surface.kernel_market()
    n = packed.weight.size
    grp = np.zeros(n, dtype=np.uint32) if group is None else group
    axes = [
        np.ascontiguousarray(np.atleast_1d(np.asarray(a, dtype=np.float64)))
        for a in (spot, vol, days)
    ]
    for name, a in zip(("spot", "vol", "days"), axes):
        if a.ndim != 1:
            raise InputError(f"{name}: expected a scalar or a 1-D array of shocks", arg=name)
    return _core.scenario_values(
        s0,
        ts,
        log_f,
        log_df,
        params,
        packed.kind,
        packed.strike,
        packed.expiry,
        packed.qty,
        packed.under_qty,
        packed.under_cost,
        packed.weight,
        np.ascontiguousarray(grp, dtype=np.uint32),
        n_groups,
        axes[0],
        axes[1],
        axes[2],
        dynamics,
    )


def _bucket_labels(edges: Sequence[int]) -> list[str]:
    labels = [f"0-{edges[0]}d"]
    labels += [f"{a + 1}-{b}d" for a, b in itertools.pairwise(edges)]
    return [*labels, f">{edges[-1]}d"]


# ---------------------------------------------------------------------------- results


class BookRisk(NamedTuple):
    """What :meth:`Book.risk` returns (frames, or dicts of arrays without pandas).

    Attributes:
        positions: one row per position: value, P&L since entry, money greeks, probability
            of profit at the entry price, days to the first expiry, income columns.
        by_underlying: sums per underlying (yield capital-weighted).
        by_bucket: money greeks per expiry bucket (per option leg; shares in ``shares``).
        total: the whole book, one row.
    """

    positions: Any
    by_underlying: Any
    by_bucket: Any
    total: Any


_SUMMED = (
    "value",
    "pnl",
    "dollar_delta",
    "gamma_1pct",
    "vega_1pt",
    "theta_day",
    "premium",
    "at_risk",
    "capital",
)


@dataclass
class Scenarios:
    """Scenario P&L of a book (money, against today's value).

    Attributes:
        spot: relative spot shocks (n_spot,).
        vol: additive vol shocks (n_vol,), decimals (0.05 = 5 vol points).
        days: calendar days forward (n_days,).
        pnl: per underlying, an array (n_spot, n_vol, n_days).
        total: the book's P&L (n_spot, n_vol, n_days), the sum over underlyings.
        base: today's value per underlying (money).
        dynamics: "sticky_strike" or "sticky_moneyness".
    """

    spot: FloatArray
    vol: FloatArray
    days: FloatArray
    pnl: dict[str, FloatArray]
    total: FloatArray
    base: dict[str, float]
    dynamics: str = "sticky_strike"
    _order: list[str] = field(default_factory=list, repr=False)

    def frame(self) -> Any:
        """Long format: one row per scenario, columns ``spot, vol, days``, one per underlying
        and ``total``."""
        s, v, d = np.meshgrid(self.spot, self.vol, self.days, indexing="ij")
        cols: dict[str, Any] = {"spot": s.ravel(), "vol": v.ravel(), "days": d.ravel()}
        for name in self._order or sorted(self.pnl):
            cols[name] = self.pnl[name].ravel()
        cols["total"] = self.total.ravel()
        return _frame(cols)

    def worst(self, n: int = 10) -> Any:
        """The ``n`` scenarios with the largest total loss, worst first (same columns as
        :meth:`frame`)."""
        if n < 1:
            raise InputError(f"n: must be at least 1, got {n}", arg="n")
        s, v, d = np.meshgrid(self.spot, self.vol, self.days, indexing="ij")
        flat = self.total.ravel()
        order = np.argsort(flat, kind="stable")[:n]
        cols: dict[str, Any] = {
            "spot": s.ravel()[order],
            "vol": v.ravel()[order],
            "days": d.ravel()[order],
        }
        for name in self._order or sorted(self.pnl):
            cols[name] = self.pnl[name].ravel()[order]
        cols["total"] = flat[order]
        return _frame(cols)

    def plot(self, days: float | None = None, underlying: str | None = None, ax: Any = None) -> Any:
        """Heat map of the P&L over spot shock × vol shock on the day nearest ``days`` (the
        first day by default), for one underlying or the whole book (matplotlib, optional
        extra). Returns the figure."""
        try:
            plt = importlib.import_module("matplotlib.pyplot")
            colors = importlib.import_module("matplotlib.colors")
        except ImportError as e:  # pragma: no cover - optional extra
            raise ImportError(
                "Scenarios.plot() needs matplotlib: pip install strikegrid[plot]"
            ) from e
        k = 0 if days is None else int(np.argmin(np.abs(self.days - float(days))))
        if underlying is None:
            grid, label = self.total, "book"
        elif underlying in self.pnl:
            grid, label = self.pnl[underlying], underlying
        else:
            raise InputError(
                f"underlying: {underlying!r} is not in the book ({sorted(self.pnl)})",
                arg="underlying",
            )
        z = grid[:, :, k].T  # rows: vol shocks, columns: spot shocks
        if ax is None:
            fig, ax = plt.subplots(figsize=(8, 5))
        else:
            fig = ax.figure
        lo, hi = float(np.min(z)), float(np.max(z))
        norm = colors.TwoSlopeNorm(vcenter=0.0, vmin=min(lo, -1e-9), vmax=max(hi, 1e-9))
        extent = (
            100 * self.spot[0],
            100 * self.spot[-1],
            100 * self.vol[0],
            100 * self.vol[-1],
        )
        im = ax.imshow(z, origin="lower", aspect="auto", extent=extent, cmap="RdYlGn", norm=norm)
        fig.colorbar(im, ax=ax, label="P&L")
        ax.set_xlabel("spot shock (%)")
        ax.set_ylabel("vol shock (vol points)")
        ax.set_title(f"{label} P&L, {self.days[k]:g} days forward ({self.dynamics})")
        return fig


# ---------------------------------------------------------------------------- the book


class Book:
    """A book of positions on one or several underlyings.

    Args:
        positions: initial :class:`Position` objects.
        surfaces: ``symbol -> Surface`` (a single Surface is keyed by its chain's
            underlying). Methods take ``surfaces=`` to use others for one call.
        sources: ``symbol -> {"chain": path or "sample", "rate": float}``: where
            :meth:`load` finds each underlying's chain (saved with the book).
        name: a label.
    """

    def __init__(
        self,
        positions: Iterable[Position] = (),
        surfaces: Mapping[str, Surface] | Surface | None = None,
        *,
        sources: Mapping[str, Mapping[str, Any]] | None = None,
        name: str | None = None,
    ) -> None:
        self.name = name
        self.surfaces: dict[str, Surface] = self._surface_map(surfaces) or {}
        self.sources: dict[str, dict[str, Any]] = {
            str(k): dict(v) for k, v in (sources or {}).items()
        }
        self._positions: list[Position] = []
        self._ids: set[str] = set()
        self._counts: dict[str, int] = {}  # positions per underlying, in order of appearance
        self._years: dict[Any, float] = {}
        # Package.collateral per position (one Python step each): kept across adds.
        self._capital: dict[Position, float] = {}
        self._base_dir: str | None = None
        self._next = 1
        self._cache: dict[Any, Any] = {}
        for p in positions:
            self._append(p)

    # ------------------------------------------------------------------ contents
    @staticmethod
    def _surface_map(surfaces: Mapping[str, Surface] | Surface | None) -> dict[str, Surface] | None:
        if surfaces is None:
            return None
        if isinstance(surfaces, Surface):
            return {str(surfaces.chain.underlying): surfaces}
        return {str(k): v for k, v in surfaces.items()}

    @property
    def positions(self) -> tuple[Position, ...]:
        return tuple(self._positions)

    @property
    def symbols(self) -> list[str]:
        """Underlyings with positions, in order of first appearance."""
        return list(self._counts)

    def __len__(self) -> int:
        return len(self._positions)

    def __iter__(self) -> Iterator[Position]:
        return iter(self._positions)

    def __getitem__(self, id: str) -> Position:
        for p in self._positions:
            if p.id == id:
                return p
        raise KeyError(id)

    def __repr__(self) -> str:
        label = f"{self.name!r}, " if self.name else ""
        return f"Book({label}{len(self)} positions on {self.symbols})"

    def _known(self) -> set[str]:
        return set(self.surfaces) | set(self.sources)

    def _append(self, pos: Position) -> None:
        if pos.id in self._ids:
            raise InputError(f"id: the book already has a position {pos.id!r}", arg="id")
        if pos.package.symbol is not None and pos.package.symbol != pos.symbol:
            raise InputError(
                f"symbol: the package is on {pos.package.symbol!r}, not {pos.symbol!r}",
                arg="symbol",
            )
        known = self._known()
        if known and pos.symbol not in known:
            raise InputError(
                f"symbol: unknown underlying {pos.symbol!r}; the book has {sorted(known)}",
                arg="symbol",
            )
        surface = self.surfaces.get(pos.symbol)
        if surface is not None:
            # Raises for an expiry the surface cannot reach.
            _pack([pos], [0], surface, self._years)
        self._positions.append(pos)
        self._ids.add(pos.id)
        self._counts[pos.symbol] = self._counts.get(pos.symbol, 0) + 1
        self._cache.clear()

    def add(
        self,
        package: Package,
        quantity: float = 1.0,
        entry_price: float = 0.0,
        entry_date: Any = None,
        *,
        symbol: str | None = None,
        tag: str | None = None,
        id: str | None = None,
    ) -> Position:
        """Adds a position and returns it.

        Args:
            package: what is held.
            quantity: number of packages (positive).
            entry_price: net premium per unit paid for the option legs (+ debit, - credit).
            entry_date: trade date (date, datetime or ISO string); default: the quote date
                of the underlying's surface.
            symbol: the underlying; default the legs' symbol, else the book's only one.
            tag: a free label.
            id: the position's name (default ``p1``, ``p2``, ...).

        Raises :class:`InputError` for an unknown underlying, an option expiry beyond the
        underlying's surface (or already past), or a bad quantity / price / date.
        """
        if not isinstance(package, Package):
            raise InputError(f"package: expected a Package, got {package!r}", arg="package")
        q = _finite(quantity, "quantity")
        if q <= 0:
            raise InputError(
                f"quantity: must be positive (the legs carry the signs), got {q}", arg="quantity"
            )
        price = _finite(entry_price, "entry_price")
        sym = symbol if symbol is not None else package.symbol
        if sym is None:
            known = self._known() | set(self.symbols)
            if len(known) != 1:
                raise InputError(
                    "symbol: give the underlying (the legs name none and the book has "
                    f"{sorted(known) or 'none'})",
                    arg="symbol",
                )
            sym = known.pop()
        if entry_date is None:
            surface = self.surfaces.get(str(sym))
            if surface is None:
                raise InputError("entry_date: give the trade date", arg="entry_date")
            day = surface.chain.quote_time.date()
        else:
            day = _entry_date(entry_date)
        if id is None:
            while f"p{self._next}" in self._ids:
                self._next += 1
            id = f"p{self._next}"
        pos = Position(str(id), package, q, price, day, str(sym), tag)
        self._append(pos)
        return pos

    def remove(self, id: str) -> Position:
        """Removes the position ``id`` and returns it."""
        for i, p in enumerate(self._positions):
            if p.id == id:
                del self._positions[i]
                self._ids.discard(id)
                self._capital.pop(p, None)
                self._counts[p.symbol] -= 1
                if not self._counts[p.symbol]:
                    del self._counts[p.symbol]
                self._cache.clear()
                return p
        raise InputError(f"id: no position {id!r} in the book", arg="id")

    # ------------------------------------------------------------------ files
    def to_dict(self, directory: str | None = None) -> dict[str, Any]:
        """The book as JSON-ready data (chain paths relative to ``directory`` when given)."""
        sources: dict[str, Any] = {}
        for sym, src in self.sources.items():
            out = dict(src)
            chain = out.get("chain")
            if isinstance(chain, str) and chain != "sample" and self._base_dir is not None:
                full = os.path.join(self._base_dir, chain)
                out["chain"] = os.path.relpath(full, directory) if directory else full
            sources[sym] = out
        return {
            "format": _FORMAT,
            "version": _VERSION,
            "name": self.name,
            "underlyings": sources,
            "positions": [_position_json(p) for p in self._positions],
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes the book as JSON, atomically: to a temporary file beside ``path`` that then
        replaces it, so a failure leaves the file on disk as it was."""
        target = os.path.abspath(os.fspath(path))
        directory = os.path.dirname(target)
        # Everything that can fail on the data fails here, before the disk is touched.
        text = json.dumps(self.to_dict(directory), indent=2, allow_nan=False)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=directory
        )
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        if self._base_dir is None or self._base_dir != directory:
            # Relative chain paths were rewritten for the new directory.
            self.sources = {k: dict(v) for k, v in self.to_dict(directory)["underlyings"].items()}
            self._base_dir = directory

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        surfaces: Mapping[str, Surface] | Surface | None = None,
        *,
        fit: bool = True,
    ) -> Book:
        """Reads a book written by :meth:`save` (or by hand; see ``examples`` in the package's
        ``data`` folder). Each underlying's surface is taken from ``surfaces`` when given,
        else fitted (``fit=True``) to the chain the file names: ``"sample"`` (the embedded
        SPX chain) or a normalised chain CSV, relative to the book file. A file that cannot be
        read or parsed raises :class:`InputError` naming the problem."""
        p = os.fspath(path)
        try:
            with open(p, encoding="utf-8") as f:
                raw = f.read()
        except OSError as e:
            raise InputError(f"book: cannot read {p!r}: {e}", arg="book") from e
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as e:
            raise InputError(
                f"book: {p!r} is not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})",
                arg="book",
            ) from None
        base = os.path.dirname(os.path.abspath(p))
        return cls._from_dict(data, base, cls._surface_map(surfaces), fit, p)

    @classmethod
    def _from_dict(
        cls,
        data: Any,
        base: str,
        surfaces: dict[str, Surface] | None,
        fit: bool,
        where: str,
    ) -> Book:
        def bad(loc: str, msg: str) -> InputError:
            return InputError(f"book: {where!r}: {loc}: {msg}", arg="book")

        if not isinstance(data, dict):
            raise bad("top level", "expected a JSON object")
        if data.get("format", _FORMAT) != _FORMAT:
            raise bad("format", f"expected {_FORMAT!r}, got {data.get('format')!r}")
        if data.get("version", _VERSION) != _VERSION:
            raise bad("version", f"version {data.get('version')!r} is not supported")
        sources = data.get("underlyings", {})
        if not isinstance(sources, dict):
            raise bad("underlyings", "expected an object symbol -> {chain, rate}")
        found = dict(surfaces or {})
        for sym, src in sources.items():
            if not isinstance(src, dict):
                raise bad(f"underlyings.{sym}", "expected an object {chain, rate}")
            if sym in found or not fit:
                continue
            chain_ref = src.get("chain")
            if not isinstance(chain_ref, str):
                raise bad(f"underlyings.{sym}.chain", "expected 'sample' or a CSV path")
            try:
                rate = float(src.get("rate", 0.0))
            except (TypeError, ValueError):
                raise bad(f"underlyings.{sym}.rate", f"not a number: {src.get('rate')!r}") from None
            try:
                chain = (
                    Chain.sample()
                    if chain_ref == "sample"
                    else Chain.read_csv(os.path.join(base, chain_ref))
                )
                if chain.underlying != sym:
                    raise bad(f"underlyings.{sym}.chain", f"the chain is on {chain.underlying!r}")
                found[sym] = Surface.fit(chain, rate=rate)
            except InputError as e:
                if str(e).startswith("book:"):
                    raise
                raise bad(f"underlyings.{sym}", str(e)) from None
        book = cls(surfaces=found, sources=sources, name=data.get("name"))
        book._base_dir = base
        items = data.get("positions", [])
        if not isinstance(items, list):
            raise bad("positions", "expected a list")
        for i, item in enumerate(items):
            try:
                pos = _position_from_json(item)
                book._append(pos)
            except InputError as e:
                raise bad(f"positions[{i}]", str(e)) from None
            except (TypeError, ValueError, KeyError, AttributeError) as e:
                raise bad(f"positions[{i}]", f"malformed ({type(e).__name__}: {e})") from None
        book._next = len(book) + 1
        return book

    # ------------------------------------------------------------------ valuation
    def _surfaces(self, surfaces: Mapping[str, Surface] | Surface | None) -> dict[str, Surface]:
        given = self._surface_map(surfaces)
        return self.surfaces if given is None else {**self.surfaces, **given}

    def _groups(
        self, surfaces: Mapping[str, Surface] | Surface | None
    ) -> list[tuple[str, Surface, _Packed]]:
        """Per underlying with positions: its surface and packed positions (cached)."""
        surf = self._surfaces(surfaces)
        out = []
        for sym in self.symbols:
            s = surf.get(sym)
            if s is None:
                raise InputError(
                    f"surfaces: no surface for the underlying {sym!r} (have {sorted(surf)})",
                    arg="surfaces",
                )
            key = ("pack", sym, id(s))
            packed = self._cache.get(key)
            if packed is None:
                rows = [i for i, p in enumerate(self._positions) if p.symbol == sym]
                packed = _pack([self._positions[i] for i in rows], rows, s, self._years)
                self._cache[key] = packed
            out.append((sym, s, packed))
        return out

    def _valuation(self, surfaces: Mapping[str, Surface] | Surface | None) -> dict[str, Any]:
        """Per position and per leg arrays (book order), money."""
        groups = self._groups(surfaces)
        key = ("value", tuple((sym, id(s)) for sym, s, _ in groups))
        hit = self._cache.get(key)
        if hit is not None:
            return dict(hit)
        n = len(self._positions)
        cols = {
            name: np.full(n, np.nan)
            for name in (
                "mark",
                "value",
                "pnl",
                "dollar_delta",
                "gamma_1pct",
                "vega_1pt",
                "theta_day",
                "pop",
                "dte",
                "premium",
                "at_risk",
                "capital",
                "term",
                "yield",
            )
        }
        leg_rows: list[dict[str, FloatArray]] = []
        for _sym, surface, pk in groups:
            s0 = float(surface.chain.spot)
            out = _value(surface, pk, per_leg=True)
            w = pk.weight
            active = pk.qty != 0.0
            t = np.where(active, pk.expiry, 1.0)
            carry = (np.log(np.asarray(surface.forward(t), dtype=np.float64)) - math.log(s0)) / t
            leg_delta = np.where(active, out["leg_delta"], 0.0)
            # Spot-held theta: theta_F - b S delta, per option leg.
            leg_theta = np.where(active, out["leg_theta"] - carry * s0 * leg_delta, 0.0)
            theta = (pk.qty * leg_theta).sum(axis=1)
            r = pk.rows
            cols["mark"][r] = out["per_unit"]
            cols["value"][r] = out["per_unit"] * w
            cols["pnl"][r] = (out["per_unit"] - pk.entry) * w
            cols["dollar_delta"][r] = out["delta"] * s0 * w
            cols["gamma_1pct"][r] = out["gamma"] * s0 * s0 * 0.01 * w
            cols["vega_1pt"][r] = out["vega"] / 100.0 * w
            cols["theta_day"][r] = theta / _YEAR_DAYS * w
            cols["pop"][r] = out["pop"]
            first = np.where(active, pk.expiry, np.inf).min(axis=1)
            last = np.where(active, pk.expiry, -np.inf).max(axis=1)
            cols["dte"][r] = np.where(np.isfinite(first), first * _YEAR_DAYS, np.nan)
            short = active & (pk.qty < 0)
            price = np.where(active, out["leg_price"], 0.0)
            cols["premium"][r] = -pk.entry * w
            cols["at_risk"][r] = np.where(short, -pk.qty * price, 0.0).sum(axis=1) * w
            quote = surface.chain.quote_time
            for k, row in enumerate(r):
                pos = self._positions[row]
                cap = self._capital.get(pos)
                if cap is None:
                    cap = self._capital[pos] = pos.package.collateral(pos.entry_price)
                cols["capital"][row] = cap * pos.quantity
                start = datetime.combine(pos.entry_date, quote.timetz())
                held = (quote - start) / timedelta(days=1)
                if np.isfinite(last[k]):
                    cols["term"][row] = held + last[k] * _YEAR_DAYS
            # Per option leg, for the buckets; shares as legs of no expiry.
            m = active
            wl = np.broadcast_to(w[:, None], pk.qty.shape)
            leg_rows.append(
                {
                    "dte": pk.expiry[m] * _YEAR_DAYS,
                    "dollar_delta": (pk.qty * leg_delta * s0 * wl)[m],
                    "gamma_1pct": (pk.qty * out["leg_gamma"] * s0 * s0 * 0.01 * wl)[m],
                    "vega_1pt": (pk.qty * out["leg_vega"] / 100.0 * wl)[m],
                    "theta_day": (pk.qty * leg_theta / _YEAR_DAYS * wl)[m],
                }
            )
            shares = pk.under_qty != 0.0
            leg_rows.append(
                {
                    "dte": np.full(int(shares.sum()), np.nan),
                    "dollar_delta": (pk.under_qty * s0 * w)[shares],
                    "gamma_1pct": np.zeros(int(shares.sum())),
                    "vega_1pt": np.zeros(int(shares.sum())),
                    "theta_day": np.zeros(int(shares.sum())),
                }
            )
        capital, term = cols["capital"], cols["term"]
        ok = np.isfinite(capital) & (capital > 0) & np.isfinite(term) & (term > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            cols["yield"] = np.where(ok, cols["premium"] / capital * _YEAR_DAYS / term, np.nan)
        legs = {
            k: np.concatenate([x[k] for x in leg_rows]) if leg_rows else np.zeros(0)
            for k in ("dte", "dollar_delta", "gamma_1pct", "vega_1pt", "theta_day")
        }
        result = {"positions": cols, "legs": legs}
        self._cache[key] = result
        return dict(result)

    def risk(
        self,
        surfaces: Mapping[str, Surface] | Surface | None = None,
        *,
        buckets: Sequence[int] = BUCKETS,
    ) -> BookRisk:
        """Money greeks, P&L since entry and the income view per position, per underlying,
        per expiry bucket and for the whole book (conventions in the module docs).

        ``buckets``: increasing upper edges in days (inclusive) of the expiry buckets.
        """
        edges = [int(b) for b in buckets]
        if not edges or any(b <= 0 for b in edges) or edges != sorted(set(edges)):
            raise InputError(
                f"buckets: expected increasing positive day counts, got {list(buckets)}",
                arg="buckets",
            )
        val = self._valuation(surfaces)
        cols = val["positions"]
        pos = self._positions
        positions: dict[str, Any] = {
            "id": [p.id for p in pos],
            "symbol": [p.symbol for p in pos],
            "tag": [p.tag or "" for p in pos],
            "package": [p.package.name or "" for p in pos],
            "quantity": np.array([p.quantity for p in pos], dtype=np.float64),
            "entry_date": [p.entry_date.isoformat() for p in pos],
            "entry_price": np.array([p.entry_price for p in pos], dtype=np.float64),
            "mark": cols["mark"],
            "value": cols["value"],
            "pnl": cols["pnl"],
            "dollar_delta": cols["dollar_delta"],
            "gamma_1pct": cols["gamma_1pct"],
            "vega_1pt": cols["vega_1pt"],
            "theta_day": cols["theta_day"],
            "dte": cols["dte"],
            "pop": cols["pop"],
            "premium": cols["premium"],
            "at_risk": cols["at_risk"],
            "capital": cols["capital"],
            "yield": cols["yield"],
        }
        symbols = self.symbols
        by_sym: dict[str, Any] = {"underlying": symbols}
        sym_arr = np.array([p.symbol for p in pos], dtype=object)
        for name in _SUMMED:
            by_sym[name] = np.array([cols[name][sym_arr == s].sum() for s in symbols])
        by_sym["yield"] = np.array([_capital_weighted(cols, sym_arr == s) for s in symbols])
        total: dict[str, Any] = {"positions": [len(pos)]}
        for name in _SUMMED:
            total[name] = [float(cols[name].sum())]
        total["yield"] = [_capital_weighted(cols, np.ones(len(pos), dtype=bool))]
        legs = val["legs"]
        labels = _bucket_labels(edges)
        dte = legs["dte"]
        idx = np.searchsorted(np.asarray(edges, dtype=np.float64), dte, side="left")
        idx = np.where(np.isnan(dte), len(labels), idx)
        names = ("dollar_delta", "gamma_1pct", "vega_1pt", "theta_day")
        by_bucket: dict[str, Any] = {
            "bucket": [*labels, "shares"],
            "legs": np.bincount(idx, minlength=len(labels) + 1),
        }
        for g in names:
            by_bucket[g] = np.bincount(idx, weights=legs[g], minlength=len(labels) + 1)
        return BookRisk(_frame(positions), _frame(by_sym), _frame(by_bucket), _frame(total))

    def pnl(self, surfaces: Mapping[str, Surface] | Surface | None = None) -> Any:
        """P&L since entry per position: ``entry_price``, ``mark`` (per unit, today) and
        ``pnl`` (money: ``(mark - entry_price) × multiplier × quantity``; the mark includes the
        underlying legs' ``qty × (S - price)``)."""
        cols = self._valuation(surfaces)["positions"]
        return _frame(
            {
                "id": [p.id for p in self._positions],
                "symbol": [p.symbol for p in self._positions],
                "entry_date": [p.entry_date.isoformat() for p in self._positions],
                "entry_price": np.array([p.entry_price for p in self._positions]),
                "mark": cols["mark"],
                "pnl": cols["pnl"],
            }
        )

    def income(self, surfaces: Mapping[str, Surface] | Surface | None = None) -> Any:
        """The income view per underlying and for the book (last row, ``total``): premium
        collected, premium still at risk, capital tied up and the annualised yield."""
        cols = self._valuation(surfaces)["positions"]
        sym_arr = np.array([p.symbol for p in self._positions], dtype=object)
        keys = [*self.symbols, "total"]
        masks = [sym_arr == s for s in self.symbols] + [np.ones(len(sym_arr), dtype=bool)]
        out: dict[str, Any] = {"underlying": keys}
        for name in ("premium", "at_risk", "capital"):
            out[name] = np.array([cols[name][m].sum() for m in masks])
        out["yield"] = np.array([_capital_weighted(cols, m) for m in masks])
        return _frame(out)

    # ------------------------------------------------------------------ scenarios
    def scenarios(
        self,
        surfaces: Mapping[str, Surface] | Surface | None = None,
        *,
        spot: Any = None,
        vol: Any = None,
        days: Any = None,
        dynamics: str = "sticky_strike",
    ) -> Scenarios:
        """Full revaluation of the book over a grid of spot shocks × vol shocks × days forward
        (the Rust scenario kernel, across all cores), P&L against today's value.

        Args:
            spot: relative spot shocks, each > -1 (default ``linspace(-0.2, 0.2, 41)``).
            vol: additive vol shocks in decimals (default ``linspace(-0.10, 0.10, 21)``, i.e.
                ±10 vol points).
            days: calendar days forward (default ``range(10)``).
            dynamics: ``"sticky_strike"`` (each option keeps today's vol at its strike) or
                ``"sticky_moneyness"`` (the vol at ``K / (1 + s)``: the smile moves with the
                spot).

        Dynamics of each scenario: the spot and every forward scale by ``1 + s``; the vol
        shock is added to each option's vol (floored at 0); ``d`` days forward shorten each
        option's expiry by ``d/365`` with its zero rate, carry rate and implied vol held (so
        the forward is ``S' e^{b (T - d/365)}``); options expiring within the horizon pay
        their intrinsic value at the shocked spot; underlying legs move with the spot (no
        dividends credited). A zero shock reproduces today's value.
        """
        s_axis = (
            np.linspace(-0.2, 0.2, 41)
            if spot is None
            else np.atleast_1d(np.asarray(spot, dtype=np.float64))
        )
        v_axis = (
            np.linspace(-0.10, 0.10, 21)
            if vol is None
            else np.atleast_1d(np.asarray(vol, dtype=np.float64))
        )
        d_axis = (
            np.arange(10.0) if days is None else np.atleast_1d(np.asarray(days, dtype=np.float64))
        )
        shape = (s_axis.size, v_axis.size, d_axis.size)
        pnl: dict[str, FloatArray] = {}
        base: dict[str, float] = {}
        total = np.zeros(shape)
        for sym, surface, pk in self._groups(surfaces):
            today = float(_revalue(surface, pk, 0.0, 0.0, 0.0, dynamics=dynamics)[0, 0, 0, 0])
            vals = _revalue(surface, pk, s_axis, v_axis, d_axis, dynamics=dynamics)[..., 0]
            pnl[sym] = vals - today
            base[sym] = today
            total += pnl[sym]
        return Scenarios(s_axis, v_axis, d_axis, pnl, total, base, dynamics, list(pnl))

    def stress(
        self,
        stresses: Mapping[str, Any] | None = None,
        surfaces: Mapping[str, Surface] | Surface | None = None,
        *,
        by: str = "underlying",
        dynamics: str = "sticky_strike",
    ) -> Any:
        """P&L of named stresses (:data:`STRESSES` by default; or ``name -> (spot, vol,
        days)``), with the dynamics of :meth:`scenarios`.

        ``by="underlying"``: one row per stress with its shocks, the P&L per underlying and
        the total. ``by="position"``: one row per position, one column per stress.
        """
        if by not in ("underlying", "position"):
            raise InputError(f"by: must be 'underlying' or 'position', got {by!r}", arg="by")
        items = dict(STRESSES if stresses is None else stresses)
        named: dict[str, Stress] = {}
        for name, spec in items.items():
            try:
                s, v, d = (float(x) for x in spec)
            except (TypeError, ValueError):
                raise InputError(
                    f"stresses: {name!r} must be (spot shock, vol shock, days), got {spec!r}",
                    arg="stresses",
                ) from None
            named[str(name)] = Stress(s, v, d)
        n = len(self._positions)
        per_pos = {name: np.zeros(n) for name in named}
        groups = self._groups(surfaces)
        for _sym, surface, pk in groups:
            k = pk.weight.size
            grp = np.arange(k, dtype=np.uint32)
            today = _revalue(surface, pk, 0.0, 0.0, 0.0, group=grp, n_groups=k, dynamics=dynamics)
            for name, st in named.items():
                shocked = _revalue(
                    surface, pk, st.spot, st.vol, st.days, group=grp, n_groups=k, dynamics=dynamics
                )
                per_pos[name][pk.rows] = (shocked - today)[0, 0, 0]
        if by == "position":
            cols: dict[str, Any] = {
                "id": [p.id for p in self._positions],
                "symbol": [p.symbol for p in self._positions],
            }
            cols.update(per_pos)
            return _frame(cols)
        sym_arr = np.array([p.symbol for p in self._positions], dtype=object)
        out: dict[str, Any] = {
            "stress": list(named),
            "spot": np.array([s.spot for s in named.values()]),
            "vol": np.array([s.vol for s in named.values()]),
            "days": np.array([s.days for s in named.values()]),
        }
        for sym, _, _ in groups:
            out[sym] = np.array([per_pos[name][sym_arr == sym].sum() for name in named])
        out["total"] = np.array([per_pos[name].sum() for name in named])
        return _frame(out)

    # ------------------------------------------------------------------ rolls
    def rolls(
        self,
        surfaces: Mapping[str, Surface] | Surface | None = None,
        *,
        delta: float = 0.5,
        dte: float = 7.0,
        expiries: int = 3,
        strikes: int = 2,
        credit_only: bool = False,
        price: str = "mid",
        rank: Sequence[str] = ("credit", "pop", "cushion"),
    ) -> Any:
        """Roll candidates for positions whose short options are tested or near expiry.

        A short option is *tested* when its delta is ``|delta| >=`` the threshold (0.5: the
        short strike is at or in the money) and *near expiry* when its days to expiry are at
        most ``dte``. For each such position (single-expiry positions; calendars and
        diagonals are skipped), the candidates close every option leg and reopen it at each
        of the next ``expiries`` listed expiries that the surface reaches (out in time), at the
        same strikes and — when one side is tested — with that side's legs moved ``1 ..
        strikes`` listed strikes away from the spot (down for puts, up for calls; spreads keep
        their width; every new strike must be listed with a two-sided quote). Built with
        :func:`strategies.roll`.

        Each candidate is valued with the chain's quotes (``price="mid"`` or ``"natural"``:
        sell at the bid, buy at the ask; coin premiums of inverse chains times the expiry's
        future price) for the net credit, and on the surface for the rolled
        position at its new cost basis (entry price plus the roll's net premium): probability
        of profit, breakevens and the ``cushion``, the distance from the spot to the nearest
        breakeven relative to the spot (positive when the position would make money at
        expiry with the spot where it is). ``credit_only=True`` drops rolls for a net debit.

        Ranked within each position by ``rank`` (lexicographic, each descending): by default
        net credit, then PoP, then cushion. Returns one row per candidate (a candidate with a
        leg that the chain does not quote two-sided, now or at the new expiry, is left out).
        """
        if price not in ("mid", "natural"):
            raise InputError(f"price: must be 'mid' or 'natural', got {price!r}", arg="price")
        keys = {"credit": "net_credit", "pop": "new_pop", "cushion": "cushion"}
        for r in rank:
            if r not in keys:
                raise InputError(f"rank: unknown key {r!r}; use {sorted(keys)}", arg="rank")
        thr = _finite(delta, "delta")
        max_dte = _finite(dte, "dte")
        surf = self._surfaces(surfaces)
        flagged = self._flagged(surf, thr, max_dte)
        rows: list[dict[str, Any]] = []
        new_packages: list[tuple[Position, Package, float, Surface]] = []
        for pos, reason, leg, leg_delta, leg_dte in flagged:
            surface = surf[pos.symbol]
            for cand, meta in _roll_candidates(pos, leg, reason, surface, expiries, strikes):
                half = len(cand.legs) // 2
                closing, opening = cand.legs[:half], cand.legs[half:]
                try:
                    net = _cash_quote(closing, surface.chain, price) + _cash_quote(
                        opening, surface.chain, price
                    )
                except InputError:
                    continue  # a leg is not listed with a two-sided quote
                new_pkg = Package(
                    [*pos.package.underlying_legs, *opening],
                    pos.package.multiplier,
                    pos.package.name,
                )
                new_entry = pos.entry_price + net
                rows.append(
                    {
                        "id": pos.id,
                        "symbol": pos.symbol,
                        "tag": pos.tag or "",
                        "reason": reason,
                        "leg": f"short {leg.kind} {leg.strike:g}",
                        "delta": leg_delta,
                        "dte": leg_dte,
                        "new_expiry": meta["expiry"],
                        "new_dte": meta["dte"],
                        "new_strike": meta["strike"],
                        "net_credit": -net * pos.weight,
                        "credit_per_unit": -net,
                        "new_entry_price": new_entry,
                    }
                )
                new_packages.append((pos, new_pkg, new_entry, surface))
        if rows:
            self._value_rolls(rows, new_packages)
        if credit_only:
            rows = [r for r in rows if r["net_credit"] > 0]
        # Rank within each position: lexicographic on the chosen keys, each descending.
        order = sorted(
            range(len(rows)),
            key=lambda i: (
                rows[i]["id"],
                *(-_nan_low(rows[i][keys[r]]) for r in rank),
            ),
        )
        ranked = [rows[i] for i in order]
        counter: dict[str, int] = {}
        for row in ranked:
            counter[row["id"]] = counter.get(row["id"], 0) + 1
            row["rank"] = counter[row["id"]]
        names = [
            "id",
            "symbol",
            "tag",
            "reason",
            "leg",
            "delta",
            "dte",
            "rank",
            "new_expiry",
            "new_dte",
            "new_strike",
            "net_credit",
            "credit_per_unit",
            "new_entry_price",
            "new_pop",
            "old_pop",
            "breakevens",
            "cushion",
        ]
        cols: dict[str, Any] = {n: [r.get(n) for r in ranked] for n in names}
        for n in names:
            if n == "rank":
                cols[n] = np.array(cols[n], dtype=np.int64)
            elif n not in ("id", "symbol", "tag", "reason", "leg", "new_expiry", "breakevens"):
                cols[n] = np.array(cols[n], dtype=np.float64)
        return _frame(cols)

    def _flagged(
        self, surf: dict[str, Surface], thr: float, max_dte: float
    ) -> list[tuple[Position, str, Leg, float, float]]:
        """Positions with a tested or near-expiry short option: (position, reason, the most
        tested short leg, its delta, its days to expiry)."""
        out = []
        for _sym, surface, pk in self._groups(surf):
            res = value_packages(
                surface, pk.kind, pk.strike, pk.expiry, pk.qty, multiplier=1.0, per_leg=True
            )
            for k, row in enumerate(pk.rows):
                pos = self._positions[row]
                opts = pos.package.option_legs
                best: tuple[float, int] | None = None
                reasons: set[str] = set()
                for j, leg in enumerate(opts):
                    if leg.qty >= 0:
                        continue
                    d = float(res["leg_delta"][k, j])
                    days = float(pk.expiry[k, j]) * _YEAR_DAYS
                    tested, near = abs(d) >= thr, days <= max_dte
                    if tested:
                        reasons.add("tested")
                    if near:
                        reasons.add("expiry")
                    if (tested or near) and (best is None or abs(d) > best[0]):
                        best = (abs(d), j)
                if best is None or not pos.package.single_expiry:
                    continue
                j = best[1]
                reason = "+".join(sorted(reasons, key=["tested", "expiry"].index))
                out.append(
                    (
                        pos,
                        reason,
                        opts[j],
                        float(res["leg_delta"][k, j]),
                        float(pk.expiry[k, j]) * _YEAR_DAYS,
                    )
                )
        return out

    def _value_rolls(
        self,
        rows: list[dict[str, Any]],
        new: list[tuple[Position, Package, float, Surface]],
    ) -> None:
        """New PoP, breakevens and cushion of each rolled position; the old PoP."""
        by_surface: dict[int, list[int]] = {}
        for i, (_, _, _, s) in enumerate(new):
            by_surface.setdefault(id(s), []).append(i)
        for idx in by_surface.values():
            surface = new[idx[0]][3]
            positions = [
                Position(f"r{i}", new[i][1], 1.0, new[i][2], new[i][0].entry_date, new[i][0].symbol)
                for i in idx
            ]
            pk = _pack(positions, list(range(len(idx))), surface)
            out = _value(surface, pk)
            s0 = float(surface.chain.spot)
            old = {p.id: p for p, _, _, _ in (new[i] for i in idx)}
            old_pop = self._old_pop(list(old.values()), surface)
            for k, i in enumerate(idx):
                be = out["breakevens"][k]
                be = be[np.isfinite(be)]
                pkg, entry = new[i][1], new[i][2]
                rows[i]["new_pop"] = float(out["pop"][k])
                rows[i]["old_pop"] = old_pop[new[i][0].id]
                rows[i]["breakevens"] = " ".join(f"{b:.2f}" for b in be)
                if be.size:
                    dist = float(np.min(np.abs(be - s0))) / s0
                    sign = 1.0 if float(pkg.payoff(s0, entry, per_unit=True)) > 0 else -1.0
                    rows[i]["cushion"] = sign * dist
                else:
                    rows[i]["cushion"] = math.inf if pkg.payoff(s0, entry) > 0 else -math.inf

    @staticmethod
    def _old_pop(positions: list[Position], surface: Surface) -> dict[str, float]:
        pk = _pack(positions, list(range(len(positions))), surface)
        out = _value(surface, pk)
        return {p.id: float(out["pop"][k]) for k, p in enumerate(positions)}


def _cash_quote(legs: Sequence[Leg], chain: Chain, price: str) -> float:
    """Net premium per unit (+ debit) of single-expiry option legs from the chain's quotes,
    mid or natural, in cash: coin premiums (inverse chains) times the expiry's underlying
    (future) price, as Deribit quotes them."""
    q = Package(legs).quote(chain)
    net = float(q.mid if price == "mid" else q.natural)
    if chain.is_inverse:
        t = _years(legs[0].expiry, chain)
        rows = np.abs(np.asarray(chain.t) - t) <= _T_TOL
        net *= float(np.nanmedian(np.asarray(chain.underlying_price)[rows]))
    return net


def _nan_low(x: Any) -> float:
    v = float(x) if x is not None else math.nan
    return -math.inf if math.isnan(v) else v


def _capital_weighted(cols: dict[str, FloatArray], mask: npt.NDArray[np.bool_]) -> float:
    y, cap = cols["yield"][mask], cols["capital"][mask]
    ok = np.isfinite(y) & np.isfinite(cap) & (cap > 0)
    if not ok.any():
        return math.nan
    return float(np.sum(y[ok] * cap[ok]) / np.sum(cap[ok]))


def _roll_candidates(
    pos: Position, leg: Leg, reason: str, surface: Surface, expiries: int, strikes: int
) -> Iterator[tuple[Package, dict[str, Any]]]:
    """Roll packages (closing + opening legs) out to the next listed expiries, at the same
    strikes and, for a tested side, shifted away from the spot by listed strikes."""
    chain = surface.chain
    t_now = _years(leg.expiry, chain)
    last = float(surface.kernel_market()[1][-1])
    listed_t = np.asarray(chain.expiries.t, dtype=np.float64)
    listed = chain.expiries.time
    later = [i for i in range(len(listed_t)) if t_now + _T_TOL < listed_t[i] <= last * (1 + 1e-9)]
    opts = pos.package.option_legs
    side = [g for g in opts if g.kind == leg.kind]
    other = {float(g.strike) for g in opts if g.kind != leg.kind}  # type: ignore[arg-type]
    direction = -1.0 if leg.kind == "put" else 1.0
    shift_ok = "tested" in reason and not (other & {float(g.strike) for g in side})  # type: ignore[arg-type]
    for i in later[: max(int(expiries), 0)]:
        t_new = float(listed_t[i])
        label = str(np.datetime_as_string(chain.expiry_date[chain.expiry == listed[i]][0]))
        rows = (chain.expiry == listed[i]) & (chain.kind == _SIGN[leg.kind])
        rows &= np.isfinite(chain.bid) & np.isfinite(chain.ask)
        avail = np.unique(np.asarray(chain.strike, dtype=np.float64)[rows])
        k0 = float(leg.strike)  # type: ignore[arg-type]
        targets = [k0]
        if shift_ok and strikes > 0:
            beyond = avail[avail < k0 - 1e-9][::-1] if direction < 0 else avail[avail > k0 + 1e-9]
            targets += [float(x) for x in beyond[: int(strikes)]]
        for k_new in targets:
            shift = k_new - k0
            mapping = {float(g.strike): float(g.strike) + shift for g in side}  # type: ignore[arg-type]
            if any(np.min(np.abs(avail - v), initial=np.inf) > 1e-9 * v for v in mapping.values()):
                continue
            cand = _roll(pos.package, to_expiry=t_new, to_strike=mapping if shift else None)
            yield cand, {"expiry": label, "dte": t_new * _YEAR_DAYS, "strike": k_new}


# ---------------------------------------------------------------------------- JSON


def _expiry_json(x: Any) -> Any:
    if x is None or _is_number(x):
        return None if x is None else float(x)
    if isinstance(x, (date, datetime)):
        return x.isoformat()
    if isinstance(x, np.datetime64):
        return str(x)
    if isinstance(x, str):
        return x
    raise InputError(f"expiry: cannot save {x!r} in a book file", arg="expiry")


def _position_json(p: Position) -> dict[str, Any]:
    legs = []
    for leg in p.package.legs:
        item: dict[str, Any] = {"kind": leg.kind, "qty": leg.qty}
        if leg.is_option:
            item["strike"] = leg.strike
            item["expiry"] = _expiry_json(leg.expiry)
            if leg.exercise != "european":
                item["exercise"] = leg.exercise
        elif leg.price is not None:
            item["price"] = leg.price
        if leg.symbol is not None:
            item["symbol"] = leg.symbol
        legs.append(item)
    return {
        "id": p.id,
        "symbol": p.symbol,
        "tag": p.tag,
        "quantity": p.quantity,
        "entry_price": p.entry_price,
        "entry_date": p.entry_date.isoformat(),
        "package": {"name": p.package.name, "multiplier": p.package.multiplier, "legs": legs},
    }


def _position_from_json(item: Any) -> Position:
    if not isinstance(item, dict):
        raise InputError("expected an object")
    missing = [
        k
        for k in ("id", "symbol", "quantity", "entry_price", "entry_date", "package")
        if k not in item
    ]
    if missing:
        raise InputError(f"missing {', '.join(missing)}")
    pkg = item["package"]
    if not isinstance(pkg, dict) or not isinstance(pkg.get("legs"), list):
        raise InputError("package: expected an object with a list of legs")
    legs = []
    for j, raw in enumerate(pkg["legs"]):
        if not isinstance(raw, dict):
            raise InputError(f"package.legs[{j}]: expected an object")
        try:
            legs.append(
                Leg(
                    raw["kind"],
                    raw.get("strike"),
                    raw.get("expiry"),
                    raw["qty"],
                    raw.get("exercise", "european"),
                    raw.get("price"),
                    raw.get("symbol"),
                )
            )
        except KeyError as e:
            raise InputError(f"package.legs[{j}]: missing {e.args[0]}") from None
        except InputError as e:
            raise InputError(f"package.legs[{j}]: {e}") from None
    package = Package(legs, pkg.get("multiplier", 100.0), pkg.get("name"))
    q = _finite(item["quantity"], "quantity")
    if q <= 0:
        raise InputError(f"quantity: must be positive, got {q}")
    tag = item.get("tag")
    return Position(
        str(item["id"]),
        package,
        q,
        _finite(item["entry_price"], "entry_price"),
        _entry_date(item["entry_date"]),
        str(item["symbol"]),
        None if tag is None else str(tag),
    )

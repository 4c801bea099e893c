"""Exhaustive strategy screening over a whole chain: ``sg.screen``.

Every candidate of the strategy is generated and evaluated in Rust
(``strikegrid._core.screen_chain``, with the same leg valuation, expiry analytics and
probability of profit as :func:`strikegrid.package.value_packages`): each strike for covered
calls and cash-secured puts, every (short, long) pair for verticals, every short put below a
short call for strangles, every put spread x call spread with the short put below the short call
for iron condors. Nothing is sampled and there is no Python loop per candidate.

Units of the result: credits per unit (per share, positive when received); money amounts per
package (times the contract multiplier): ``max_profit``, ``max_loss``, ``collateral``,
``expected_pnl``, ``spread_cost`` (what crossing the spread costs against the mid), ``delta``
(dollar delta), ``gamma`` (delta change in money for a 1% move), ``theta`` (per calendar day),
``vega`` (per vol point). ``roc`` is max profit over collateral and ``annualised_return`` its
ACT/365 annualisation ``roc * 365 / dte``. ``pop`` and ``expected_pnl`` use the surface's
smile-consistent risk-neutral distribution, or a lognormal with ``real_world=(drift, vol)``.
Collateral follows :meth:`Package.collateral`: shares at spot for covered calls, strike for
cash-secured puts, max loss for spreads and condors, ``inf`` (not defined) for strangles.

Coin-settled (inverse) chains are screened in currency units: each premium is multiplied by the
row's underlying price, so credits, payoffs and collateral share one unit.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _core
from .chain import Chain, as_chain
from .exceptions import InputError
from .package import Leg, Package

__all__ = ["STRATEGIES", "ScreenResult", "screen", "to_package"]

STRATEGIES = (
    "covered_call",
    "cash_secured_put",
    "bull_put_spread",
    "bear_call_spread",
    "iron_condor",
    "short_strangle",
)
#: Metrics ranked smallest first unless ``ascending`` says otherwise.
_ASCENDING = {"max_loss", "collateral", "spread_cost", "max_rel_spread", "dte", "width"}
_LEG_COLUMNS = ("long_put", "short_put", "short_call", "long_call")
_INF = math.inf


def _range(value: Any, name: str) -> tuple[float, float]:
    if value is None:
        return -_INF, _INF
    if isinstance(value, str):
        lo_s, sep, hi_s = value.partition(":")
        if not sep:
            raise InputError(f"{name}: expected LO:HI, got {value!r}", arg=name)
        lo = float(lo_s) if lo_s.strip() else -_INF
        hi = float(hi_s) if hi_s.strip() else _INF
    else:
        try:
            lo, hi = (float(x) for x in value)
        except (TypeError, ValueError):
            raise InputError(f"{name}: expected (lo, hi), got {value!r}", arg=name) from None
    if math.isnan(lo) or math.isnan(hi) or lo > hi:
        raise InputError(f"{name}: empty range {value!r}", arg=name)
    return lo, hi


def _abs_range(value: Any) -> tuple[float, float]:
    lo, hi = _range(value, "delta")
    if value is None:
        return lo, hi
    a, b = abs(lo), abs(hi)
    if lo < 0 < hi:
        return 0.0, max(a, b)
    return min(a, b), max(a, b)


def _bound(value: Any, name: str, default: float) -> float:
    if value is None:
        return default
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name}: must be a number, got {value!r}", arg=name) from None
    if math.isnan(v):
        raise InputError(f"{name}: must not be NaN", arg=name)
    return v


@dataclass
class ScreenResult:
    """The candidates kept by :func:`screen` as a numpy record array, with the scan's counts.

    Attributes:
        records: one row per kept candidate, best first (see the module doc for the columns).
        strategy: the strategy screened.
        generated: candidates generated and evaluated (every structurally valid combination).
        passed: candidates that passed every filter.
    """

    records: np.recarray[Any, Any]
    strategy: str
    generated: int
    passed: int

    def __len__(self) -> int:
        return len(self.records)

    def frame(self, kind: str | None = "pandas") -> Any:
        """The records as a ``"pandas"``, ``"polars"`` or ``"pyarrow"`` data frame (``None``:
        the record array)."""
        if kind is None or kind == "numpy":
            return self.records
        if kind == "pyarrow":
            from .frames import make_frame

            names = self.records.dtype.names or ()
            return make_frame({n: np.asarray(self.records[n]) for n in names}, "pyarrow")
        if kind not in ("pandas", "polars"):
            raise InputError(
                f"frame: must be 'pandas', 'polars', 'pyarrow' or None, got {kind!r}", arg="frame"
            )
        try:
            mod = importlib.import_module(kind)
        except ImportError as e:
            raise ImportError(f"{kind} is not installed: pip install strikegrid[frames]") from e
        columns = {name: self.records[name] for name in self.records.dtype.names or ()}
        if kind == "pandas":
            df = mod.DataFrame(columns)
            df.attrs.update(strategy=self.strategy, generated=self.generated, passed=self.passed)
            return df
        return mod.DataFrame(columns)

    def package(self, i: int) -> Package:
        """Row ``i`` as a :class:`Package`."""
        return to_package(self.records[i])


def screen(
    chain: Any,
    strategy: str,
    *,
    surface: Any = None,
    dte: Any = None,
    delta: Any = None,
    width: Any = None,
    min_credit: float | None = None,
    min_pop: float | None = None,
    min_open_interest: float | None = None,
    min_volume: float | None = None,
    max_spread: float | None = None,
    rank_by: str = "annualised_return",
    ascending: bool | None = None,
    top: int | None = 20,
    per_expiry: bool = False,
    fill: str = "mid",
    real_world: Any = None,
    frame: str | None = "auto",
    output: str | None = "auto",
) -> Any:
    """Screens every candidate of ``strategy`` in ``chain`` and returns the best.

    Args:
        chain: the snapshot: a :class:`Chain`, or a pandas / polars frame or pyarrow table of
            one snapshot (read with :meth:`Chain.from_frame`).
        strategy: one of ``covered_call``, ``cash_secured_put``, ``bull_put_spread``,
            ``bear_call_spread``, ``iron_condor``, ``short_strangle``.
        surface: the fitted :class:`Surface` (fitted here from ``chain`` when None).
        dte: days-to-expiry range ``(lo, hi)`` or ``"lo:hi"``.
        delta: range of the short legs' delta; on ``|delta|`` (``(-0.30, -0.15)`` and
            ``(0.15, 0.30)`` are the same filter, applied to every short leg).
        width: range of every spread's width (verticals, condor wings), in strike units.
        min_credit: least credit per unit at the ``fill`` price.
        min_pop: least probability of profit.
        min_open_interest, min_volume: least open interest / volume of every leg (unknown
            counts as 0).
        max_spread: largest relative bid/ask width ``(ask - bid) / mid`` of every leg.
        rank_by: any result column (see the module doc), e.g. ``annualised_return``, ``pop``,
            ``credit_mid``, ``expected_pnl``, ``max_loss``.
        ascending: rank smallest first (default: True for max_loss, collateral, spread_cost,
            max_rel_spread, dte, width; False otherwise).
        top: how many to keep (overall, or per expiry with ``per_expiry``); None keeps all.
        per_expiry: keep the best ``top`` of each expiry.
        fill: ``"mid"`` or ``"natural"``: the credit the analytics (max profit/loss,
            breakevens, PoP, returns) assume.
        real_world: ``(drift, vol)`` for the probability of profit and expected P&L under a
            lognormal real-world distribution instead of the surface's.
        frame: ``"pandas"``, ``"polars"``, ``"pyarrow"`` or None for the
            :class:`ScreenResult` itself; ``"auto"`` (the default): the type of a frame passed
            as ``chain``, pandas for a :class:`Chain`.
        output: the same choice under the name the rest of the library uses for tabular
            results (``output="polars"``); give one of ``frame`` / ``output``.

    Returns:
        A data frame (best first) or, with ``frame=None``, a :class:`ScreenResult`.
    """
    if output != "auto":
        if frame != "auto":
            raise InputError("give one of frame= and output=, not both", arg="output")
        frame = output
    if frame == "auto":
        from .frames import frame_kind

        frame = frame_kind(chain) or "pandas"
    chain = as_chain(chain)
    if strategy not in STRATEGIES:
        raise InputError(f"strategy: must be one of {STRATEGIES}, got {strategy!r}", arg="strategy")
    if fill not in ("mid", "natural"):
        raise InputError(f"fill: must be 'mid' or 'natural', got {fill!r}", arg="fill")
    if top is not None and (not isinstance(top, (int, np.integer)) or top < 1):
        raise InputError(f"top: must be a positive integer or None, got {top!r}", arg="top")
    if surface is None:
        from .surface import Surface

        surface = Surface.fit(chain)
    from .package import _real_world

    rw = _real_world(real_world)
    spot, ts, log_f, log_df, params = surface.kernel_market()
    d_lo, d_hi = _range(dte, "dte")
    a_lo, a_hi = _abs_range(delta)
    w_lo, w_hi = _range(width, "width")
    filters = [
        d_lo,
        d_hi,
        a_lo,
        a_hi,
        w_lo,
        w_hi,
        _bound(min_credit, "min_credit", -_INF),
        _bound(min_pop, "min_pop", -_INF),
        _bound(min_open_interest, "min_open_interest", -_INF),
        _bound(min_volume, "min_volume", -_INF),
        _bound(max_spread, "max_spread", _INF),
    ]
    asc = rank_by in _ASCENDING if ascending is None else bool(ascending)
    bid = np.asarray(chain.bid, dtype=np.float64)
    ask = np.asarray(chain.ask, dtype=np.float64)
    if chain.is_inverse:
        under = np.asarray(chain.underlying_price, dtype=np.float64)
        bid, ask = bid * under, ask * under
    f64 = np.float64
    raw = _core.screen_chain(
        float(spot),
        ts,
        log_f,
        log_df,
        params,
        np.ascontiguousarray(chain.kind, dtype=f64),
        np.ascontiguousarray(chain.strike, dtype=f64),
        np.ascontiguousarray(chain.t, dtype=f64),
        np.ascontiguousarray(bid),
        np.ascontiguousarray(ask),
        np.ascontiguousarray(chain.volume, dtype=f64),
        np.ascontiguousarray(chain.open_interest, dtype=f64),
        strategy,
        filters,
        rank_by,
        asc,
        2**62 if top is None else int(top),
        per_expiry,
        fill == "natural",
        rw,
        float(chain.multiplier),
    )
    result = ScreenResult(
        _records(chain, strategy, raw), strategy, int(raw["generated"]), int(raw["passed"])
    )
    return result if frame is None else result.frame(frame)


def _records(chain: Chain, strategy: str, raw: dict[str, Any]) -> np.recarray[Any, Any]:
    rows = np.asarray(raw["rows"], dtype=np.int64)
    metrics = np.asarray(raw["metrics"], dtype=np.float64)
    names: list[str] = list(raw["names"])
    n = rows.shape[0]
    first = np.where(rows[:, 1] >= 0, rows[:, 1], rows[:, 2]) if n else np.zeros(0, np.int64)
    strikes = np.asarray(chain.strike, dtype=np.float64)
    expiry_date = np.asarray(chain.expiry_date)[first].astype("datetime64[D]")
    # Millisecond resolution: what pandas, polars and pyarrow all take as a timestamp.
    expiry = np.asarray(chain.expiry)[first].astype("datetime64[ms]")
    fields: list[tuple[str, Any]] = [
        ("strategy", "U16"),
        ("underlying", "U16"),
        ("expiry", "datetime64[D]"),
        ("settlement", "datetime64[ms]"),
        ("t", "f8"),
    ]
    fields += [(c, "f8") for c in _LEG_COLUMNS]
    fields += [("spot", "f8"), ("multiplier", "f8")]
    fields += [(m, "f8") for m in names]
    fields += [(f"{c}_row", "i8") for c in _LEG_COLUMNS]
    out = np.recarray(n, dtype=fields)
    out["strategy"] = strategy
    out["underlying"] = str(chain.underlying)
    out["expiry"] = expiry_date
    out["settlement"] = expiry
    out["t"] = np.asarray(chain.t, dtype=np.float64)[first]
    for j, c in enumerate(_LEG_COLUMNS):
        r = rows[:, j]
        out[c] = np.where(r >= 0, strikes[np.maximum(r, 0)], np.nan)
        out[f"{c}_row"] = r
    out["spot"] = float(chain.spot)
    out["multiplier"] = float(chain.multiplier)
    for j, m in enumerate(names):
        out[m] = metrics[:, j]
    return out


def _field(row: Any, name: str) -> Any:
    try:
        return row[name]
    except (KeyError, IndexError, ValueError) as e:
        raise InputError(f"row: no {name!r} column (not a screen row?)", arg="row") from e


def to_package(row: Any) -> Package:
    """A screen row (a record, a pandas row, or a mapping such as a polars row dict) as a
    :class:`Package`: the legs with the row's strikes and settlement time, the multiplier,
    and for covered calls one contract's worth of shares bought at the row's ``spot``."""
    strategy = str(_field(row, "strategy"))
    if strategy not in STRATEGIES:
        raise InputError(f"row: unknown strategy {strategy!r}", arg="row")
    settlement = np.datetime64(_field(row, "settlement"), "s")
    symbol = str(_field(row, "underlying")) or None
    legs: list[Leg] = []
    for col, kind, qty in (
        ("long_put", "put", 1.0),
        ("short_put", "put", -1.0),
        ("short_call", "call", -1.0),
        ("long_call", "call", 1.0),
    ):
        k = float(_field(row, col))
        if math.isfinite(k):
            legs.append(Leg(kind, k, settlement, qty, symbol=symbol))
    if strategy == "covered_call":
        legs.insert(0, Leg.underlying(1.0, float(_field(row, "spot")), symbol=symbol))
    return Package(legs, float(_field(row, "multiplier")), strategy)


FloatArray = npt.NDArray[np.float64]

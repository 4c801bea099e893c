"""Back-test results: equity curves, the event ledger, trades, statistics, frames and a plot.

Statistics (``stats()``), for the account and for each program apart:

* ``annualised_return``: ``(final / initial) ^ (1 / years) - 1``, years ACT/365.25 between the
  first and the last date;
* ``annualised_vol``: standard deviation of daily log returns times ``sqrt(periods per year)``
  (about 252 for an exchange calendar, 365 for crypto);
* ``max_drawdown``: the largest fall from a running peak of the daily equity, as a fraction;
* ``worst_month`` / ``best_month``: calendar-month returns from month-end equity;
* ``premium``: the net option premium collected (money, at the fills: credits received when
  opening positions, less what their bought legs cost) by positions opened in the window;
  ``premium_yield``: premium per year over the average equity (annualised yield on capital);
* ``trades``, ``win_rate`` (closed positions with a positive options P&L after fees),
  ``assignments`` (expiries with a short option in the money), ``fees``.

Frames are pandas by default, polars with ``output="polars"``; both are imported only when a
frame is asked for (dicts of numpy arrays without pandas); matplotlib only by
:meth:`BacktestResult.plot`.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..exceptions import InputError

__all__ = ["BacktestResult", "SleeveResult", "compare", "equity_stats"]

FloatArray = npt.NDArray[np.float64]
DateArray = npt.NDArray[np.datetime64]


def _frame(columns: dict[str, Any], output: str = "pandas") -> Any:
    """A pandas (default) or polars data frame of the columns; a dict of numpy arrays when
    pandas is not installed."""
    if output == "polars":
        pl = importlib.import_module("polars")
        return pl.DataFrame(
            {
                k: (list(v) if np.asarray(v).dtype == object else np.asarray(v))
                for k, v in columns.items()
            }
        )
    if output != "pandas":
        raise InputError(f"output: must be 'pandas' or 'polars', got {output!r}", arg="output")
    try:
        pd = importlib.import_module("pandas")
    except ImportError:  # pragma: no cover - pandas is optional
        return {k: np.asarray(v) for k, v in columns.items()}
    return pd.DataFrame(columns)


def _month_ends(dates: DateArray) -> npt.NDArray[np.int64]:
    months = dates.astype("datetime64[M]")
    last = np.flatnonzero(months[1:] != months[:-1])
    return np.append(last, dates.size - 1).astype(np.int64)


def equity_stats(
    dates: DateArray, equity: FloatArray, periods_per_year: float = 252.0
) -> dict[str, Any]:
    """Return, risk and drawdown statistics of a daily equity (or index level) series."""
    eq = np.asarray(equity, dtype=np.float64)
    if eq.size < 2 or not (eq[0] > 0):
        raise InputError("equity: needs two or more values starting positive", arg="equity")
    years = float((dates[-1] - dates[0]).astype("timedelta64[D]").astype(np.int64)) / 365.25
    with np.errstate(divide="ignore", invalid="ignore"):
        lr = np.diff(np.log(np.maximum(eq, 1e-300)))
    growth = eq[-1] / eq[0]
    ann = growth ** (1.0 / years) - 1.0 if years > 0 and growth > 0 else math.nan
    vol = float(np.std(lr, ddof=1) * math.sqrt(periods_per_year)) if lr.size > 1 else math.nan
    peak = np.maximum.accumulate(eq)
    dd = 1.0 - eq / peak
    me = _month_ends(dates)
    m_eq = np.concatenate([[eq[0]], eq[me]])
    monthly = m_eq[1:] / m_eq[:-1] - 1.0
    return {
        "years": years,
        "total_return": float(growth - 1.0),
        "annualised_return": float(ann),
        "annualised_vol": vol,
        "return_over_vol": float(ann / vol) if vol and vol > 0 else math.nan,
        "max_drawdown": float(dd.max()),
        "max_drawdown_date": str(dates[int(np.argmax(dd))]),
        "worst_month": float(monthly.min()) if monthly.size else math.nan,
        "best_month": float(monthly.max()) if monthly.size else math.nan,
    }


def compare(
    dates: DateArray,
    equity: FloatArray,
    bench_dates: DateArray,
    bench: FloatArray,
    periods_per_year: float = 252.0,
) -> dict[str, Any]:
    """A series against a benchmark on their common dates: each one's annualised return, vol
    and drawdown, the tracking difference (annualised return minus the benchmark's), the
    tracking error (annualised standard deviation of the daily return differences) and the
    correlation of daily and of monthly returns."""
    common, ia, ib = np.intersect1d(dates, bench_dates, return_indices=True)
    if common.size < 3:
        raise InputError("benchmark: fewer than 3 dates in common", arg="benchmark")
    a = np.asarray(equity, dtype=np.float64)[ia]
    b = np.asarray(bench, dtype=np.float64)[ib]
    sa = equity_stats(common, a, periods_per_year)
    sb = equity_stats(common, b, periods_per_year)
    ra, rb = np.diff(np.log(a)), np.diff(np.log(b))
    me = _month_ends(common)
    ma = np.diff(np.log(np.concatenate([[a[0]], a[me]])))
    mb = np.diff(np.log(np.concatenate([[b[0]], b[me]])))
    return {
        "start": str(common[0]),
        "end": str(common[-1]),
        "days": int(common.size),
        "annualised_return": sa["annualised_return"],
        "benchmark_annualised_return": sb["annualised_return"],
        "tracking_difference": sa["annualised_return"] - sb["annualised_return"],
        "tracking_error": float(np.std(ra - rb, ddof=1) * math.sqrt(periods_per_year)),
        "annualised_vol": sa["annualised_vol"],
        "benchmark_annualised_vol": sb["annualised_vol"],
        "max_drawdown": sa["max_drawdown"],
        "benchmark_max_drawdown": sb["max_drawdown"],
        "daily_correlation": float(np.corrcoef(ra, rb)[0, 1]),
        "monthly_correlation": float(np.corrcoef(ma, mb)[0, 1]) if ma.size > 2 else math.nan,
    }


@dataclass(frozen=True, eq=False)
class SleeveResult:
    """One program's part of a back-test (its own cash, shares, options and P&L)."""

    program: Any
    weight: float
    pricing: str
    underlying: str
    daily: dict[str, FloatArray]
    ledger: list[dict[str, Any]]
    trades: list[dict[str, Any]]
    premium: float
    assignments: int
    stale_marks: int
    periods_per_year: float

    @property
    def name(self) -> str:
        return str(self.program.name)

    @property
    def equity(self) -> FloatArray:
        return np.asarray(self.daily["equity"], dtype=np.float64)


#: The daily money columns (the engine records these, then spot and contracts); a stack of
#: programs sums them.
MONEY_COLUMNS = (
    "cash",
    "stock",
    "options",
    "equity",
    "pnl_underlying",
    "pnl_options",
    "interest",
    "dividends",
    "fees",
)


class BacktestResult:
    """What :func:`strikegrid.backtest.backtest` returns.

    Attributes:
        name: the program's or stack's name.
        dates: the trading dates (``datetime64[D]``).
        capital: the starting capital.
        programs: one :class:`SleeveResult` per program (``result["name"]`` too).
        daily: the account's daily ``cash``, ``stock``, ``options`` (marked option value,
            signed), ``equity`` and its attribution ``pnl_underlying``, ``pnl_options``,
            ``interest``, ``dividends``, ``fees`` (summed over programs).
        pricing: how each program was priced (model and its assumptions, or chain quotes).
    """

    def __init__(
        self, name: str, dates: DateArray, capital: float, programs: Sequence[SleeveResult]
    ) -> None:
        self.name = name
        self.dates = dates
        self.capital = capital
        self.programs = tuple(programs)
        self.daily = {k: np.sum([p.daily[k] for p in self.programs], axis=0) for k in MONEY_COLUMNS}
        self.pricing = {p.name: p.pricing for p in self.programs}

    def __getitem__(self, name: str) -> SleeveResult:
        for p in self.programs:
            if p.name == name:
                return p
        raise KeyError(name)

    def __repr__(self) -> str:
        s = self.stats()
        return (
            f"BacktestResult({self.name}, {self.dates[0]}..{self.dates[-1]}, "
            f"annualised {s['annualised_return']:.2%}, vol {s['annualised_vol']:.2%}, "
            f"max drawdown {s['max_drawdown']:.2%})"
        )

    @property
    def equity(self) -> FloatArray:
        """The account's daily equity."""
        return np.asarray(self.daily["equity"], dtype=np.float64)

    @property
    def periods_per_year(self) -> float:
        return max(p.periods_per_year for p in self.programs)

    def _window(self, start: Any, end: Any) -> npt.NDArray[np.bool_]:
        keep = np.ones(self.dates.size, dtype=bool)
        if start is not None:
            keep &= self.dates >= np.datetime64(str(start), "D")
        if end is not None:
            keep &= self.dates <= np.datetime64(str(end), "D")
        if keep.sum() < 2:
            raise InputError(f"start/end: fewer than two dates in {start}..{end}", arg="start")
        return keep

    def _stats_of(
        self,
        keep: npt.NDArray[np.bool_],
        equity: FloatArray,
        trades: list[dict[str, Any]],
        fees: float,
        ppy: float,
    ) -> dict[str, Any]:
        dates = self.dates[keep]
        eq = np.asarray(equity)[keep]
        # a stack's sleeve may hold nothing before its market opens: start where it is live
        live = eq > 0
        first = int(np.argmax(live)) if live.any() else 0
        dates, eq = dates[first:], eq[first:]
        lo, hi = dates[0], dates[-1]
        s: dict[str, Any] = {
            "start": str(lo),
            "end": str(hi),
            "initial": float(eq[0]),
            "final": float(eq[-1]),
        }
        s.update(equity_stats(dates, eq, ppy))
        # flows inside the window: positions opened in it, premium pro rata to the days
        closed = [t for t in trades if t["exit_reason"] != "open" and lo <= t["entry_date"] <= hi]
        wins = sum(1 for t in closed if t["pnl"] > 0)
        years = s["years"]
        avg_eq = float(np.mean(eq))
        in_window = [t for t in trades if lo <= t["entry_date"] <= hi]
        prem = float(sum(t["premium"] for t in in_window))
        s.update(
            {
                "premium": prem,
                "premium_yield": prem / years / avg_eq if years > 0 and avg_eq > 0 else math.nan,
                "trades": len(closed),
                "win_rate": wins / len(closed) if closed else math.nan,
                "assignments": sum(1 for t in in_window if t["assigned"]),
                "fees": fees,
            }
        )
        return s

    def stats(
        self, program: str | None = None, *, start: Any = None, end: Any = None
    ) -> dict[str, Any]:
        """Statistics of the account, or of one program (module docs), optionally over a
        window of dates."""
        keep = self._window(start, end)
        if program is not None:
            p = self[program]
            return {
                "program": p.name,
                **self._stats_of(
                    keep,
                    p.equity,
                    p.trades,
                    float(np.sum(p.daily["fees"][keep])),
                    p.periods_per_year,
                ),
                "pricing": p.pricing,
            }
        trades = [t for p in self.programs for t in p.trades]
        return {
            "program": self.name if len(self.programs) > 1 else self.programs[0].name,
            **self._stats_of(
                keep,
                self.equity,
                trades,
                float(np.sum(self.daily["fees"][keep])),
                self.periods_per_year,
            ),
            "pricing": "; ".join(f"{k}: {v}" for k, v in self.pricing.items()),
        }

    # ------------------------------------------------------------------ frames
    def daily_frame(self, output: str = "pandas") -> Any:
        """Daily account columns (and each program's equity as ``equity:<name>``), indexed by
        date (pandas; a ``date`` column for polars)."""
        cols: dict[str, Any] = {"date": self.dates}
        cols.update({k: v for k, v in self.daily.items()})
        if len(self.programs) > 1:
            for p in self.programs:
                cols[f"equity:{p.name}"] = p.equity
        else:
            cols["spot"] = self.programs[0].daily["spot"]
            cols["contracts"] = self.programs[0].daily["contracts"]
        peak = np.maximum.accumulate(self.equity)
        cols["drawdown"] = 1.0 - self.equity / peak
        df = _frame(cols, output)
        if output == "pandas" and hasattr(df, "set_index"):
            df = df.set_index("date")
        return df

    def ledger_frame(self, output: str = "pandas") -> Any:
        """Every event (open, roll, close, take profit, stop, expiry, assignment, skip) with its
        price per unit (credit when opening, debit when closing), cash flow and fees."""
        rows = sorted(
            (r for p in self.programs for r in p.ledger),
            key=lambda r: (r["date"], r["program"]),
        )
        keys = (
            "date",
            "program",
            "trade",
            "action",
            "expiry",
            "legs",
            "contracts",
            "price",
            "mid",
            "cash_flow",
            "fees",
            "underlying",
        )
        return _frame({k: [r.get(k, math.nan) for r in rows] for k in keys}, output)

    def trades_frame(self, output: str = "pandas") -> Any:
        """One row per position: entry and exit, strikes, credit, exit cost, premium, fees,
        P&L (options only, money), exit reason, assignment, the position it rolled from."""
        rows = sorted((t for p in self.programs for t in p.trades), key=lambda r: r["entry_date"])
        if not rows:
            return _frame({}, output)
        return _frame({k: [r[k] for r in rows] for k in rows[0]}, output)

    def stats_frame(self, output: str = "pandas") -> Any:
        """Statistics per program and for the account (one row each)."""
        rows = [self.stats(p.name) for p in self.programs]
        if len(self.programs) > 1:
            rows.append({**self.stats(), "program": f"{self.name} (account)"})
        return _frame({k: [r[k] for r in rows] for k in rows[0]}, output)

    def frames(self, output: str = "pandas") -> dict[str, Any]:
        """All frames: ``daily``, ``ledger``, ``trades``, ``stats`` (``output``: "pandas" or
        "polars")."""
        return {
            "daily": self.daily_frame(output),
            "ledger": self.ledger_frame(output),
            "trades": self.trades_frame(output),
            "stats": self.stats_frame(output),
        }

    # ------------------------------------------------------------------ picture
    def plot(self, ax: Any = None, benchmark: Any = None) -> Any:
        """Equity curve(s) and drawdown (matplotlib, the ``plot`` extra). ``benchmark``: an
        optional ``(dates, levels, label)`` rescaled to the starting capital."""
        try:
            plt = importlib.import_module("matplotlib.pyplot")
        except ImportError:  # pragma: no cover - matplotlib is optional
            raise InputError(
                "plot: matplotlib is not installed (pip install strikegrid[plot])", arg="plot"
            ) from None
        if ax is None:
            fig, (ax_eq, ax_dd) = plt.subplots(
                2, 1, figsize=(9, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
            )
        else:
            ax_eq, ax_dd = ax
            fig = ax_eq.figure
        x = self.dates.astype("datetime64[D]").astype(object)
        ax_eq.plot(x, self.equity, label=f"{self.name} (account)", lw=1.4)
        if len(self.programs) > 1:
            for p in self.programs:
                ax_eq.plot(x, p.equity, label=p.name, lw=0.9)
        if benchmark is not None:
            bd, bv, label = benchmark
            bd = np.asarray(bd, dtype="datetime64[D]")
            bv = np.asarray(bv, dtype=np.float64)
            keep = (bd >= self.dates[0]) & (bd <= self.dates[-1])
            if keep.any():
                scale = self.equity[0] / bv[keep][0]
                ax_eq.plot(bd[keep].astype(object), bv[keep] * scale, label=label, lw=0.9)
        ax_eq.set_ylabel("equity")
        ax_eq.set_title(f"{self.name}: equity and drawdown")
        ax_eq.legend(loc="upper left", fontsize=8)
        peak = np.maximum.accumulate(self.equity)
        ax_dd.fill_between(x, -(1.0 - self.equity / peak), 0.0, color="tab:red", alpha=0.4)
        ax_dd.set_ylabel("drawdown")
        return fig

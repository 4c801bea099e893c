"""Reproductions of the Cboe BXM (buy-write) and PUT (put-write) index rules on the S&P 500
history, and a BTC covered call priced off Deribit's DVOL.

Rules (Cboe methodology documents: "Description of the CBOE S&P 500 BuyWrite Index (BXM)",
Cboe, 2010, after Whaley, "Risk and Return of the CBOE BuyWrite Monthly Index", Journal of
Derivatives 10(2), 2002; "Methodology of the CBOE S&P 500 PutWrite Index (PUT)", Cboe, 2014):

* **Roll date**: the monthly SPX expiry, the third Friday (the Thursday before when that Friday
  is a holiday). The expiring option is held to expiry and settles at the Special Opening
  Quotation (SET) of the S&P 500 on the roll date; the new one-month option is sold the same
  day at the volume-weighted average price of 11:30-12:00 ET.
* **BXM**: long the S&P 500 *total return* (dividends reinvested), short one call on all of
  it; the strike is the closest listed strike at or above the last S&P 500 value before 11:00
  ET (the index's daily return is ``(S + D - C) / (S' - C') - 1``: the call premium is
  reinvested, shares and calls stay one-for-one).
* **PUT**: short one-month SPX puts, strike the closest listed strike at or below the
  reference level, fully collateralised: the Treasury-bill account (1- and 3-month bills,
  premium added) must grow to ``N x K`` by expiry, which sets the number of puts ``N``.

What the data allows, and the proxies used (``Program.settle_at``/``trade_at``): the SET is
modelled by the roll date's **open** (Yahoo's S&P 500 open is the first index print of the day,
computed mostly from the previous close's constituents, so it is a rough proxy of the SET,
which uses each stock's own opening trade); the 11:00 reference level and the 11:30-12:00
VWAP by the **midday** level, the mean of the roll date's open and close; listed strikes every
5 points; the T-bill rate is DTB3 (3-month; there is no 1-month series here), converted from
the discount basis (see :mod:`.market`). Premiums are **model prices**, not real fills:
Black-Scholes-Merton at ``0.85 x VIX`` (the 30-day ATM/VIX ratio measured on the 2011 SPX
chains in ``shared/data``, see :mod:`.pricing`) with the SPX skew ``-1.3``, and zero bid-ask
cost (the VWAP is a traded price, close to mid for the most liquid SPX options).

Dividends: BXM is a total-return index, but no S&P 500 dividend series is in the data. The
reproduction credits a constant continuous yield of 1.9% a year (the S&P 500's trailing
dividend yield averaged about 1.8-2.0% over 2002-2023 per S&P Dow Jones Indices' published
yields; it ranged from about 1.1% in 2000 to 3.2% at the March 2009 low), and reports the
figures with no dividends as well so that its effect is explicit.

The BTC program sells a one-month call on BTC each Deribit monthly expiry (last Friday, 08:00
UTC) at the 0.25 delta (by default), strikes every 1000 USD, on a BTC holding with the premium
reinvested (a coin-margined covered call: coins held, calls written on them). Deribit's
options are coin-settled: the premium is quoted in BTC and an in-the-money call pays
``(F - K) / F`` BTC per contract (one contract = 1 BTC). Priced with the ``inverse`` model on a
forward equal to spot (the futures basis is not in the data) at ``0.95 x DVOL`` with skew
-0.1 (calibrated on the Deribit snapshot of 2026-01-02); the account is valued in USD, where a
coin amount is worth ``coins x F``, so the USD figures equal those of a USD-settled option and
the BTC figures are the USD equity over the BTC price. Settlement at 08:00 UTC is proxied by
the UTC day's open (the previous day's close in this daily data).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import InputError
from .calendar import third_friday
from .engine import backtest
from .market import Market, read_series
from .pricing import ModelPricing
from .program import Costs, Entry, Program, Sizing, StrikeRule, Strikes
from .results import BacktestResult, compare, equity_stats

__all__ = [
    "BTC_SKEW",
    "DVOL_ATM_RATIO",
    "SPX_DIV_YIELD",
    "SPX_SKEW",
    "VIX_ATM_RATIO",
    "Reproduction",
    "btc_covered_call",
    "btc_market",
    "bxm_program",
    "data_dir",
    "put_program",
    "reproduce_bxm",
    "reproduce_put",
    "spx_market",
    "spx_pricing",
]

#: 30-day ATM implied vol over VIX, 2011-01-03..07 SPX chains (see :mod:`.pricing`).
VIX_ATM_RATIO = 0.85
#: SPX skew, ``d(vol/atm) / d(ln(K/F)/sqrt(T))``, same chains.
SPX_SKEW = -1.3
#: Assumed S&P 500 dividend yield (continuous), 2002-2023 average (module docs).
SPX_DIV_YIELD = 0.019
#: 30-day ATM implied vol over DVOL, Deribit BTC snapshot of 2026-01-02.
DVOL_ATM_RATIO = 0.95
#: BTC skew, same snapshot.
BTC_SKEW = -0.1

_PH = "price_history"


def data_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """The shared data folder (holding ``price_history/``): ``path`` when given, else the
    ``STRIKEGRID_DATA`` environment variable, else ``../shared/data`` from the working
    directory or from the source checkout. An InputError when none exists."""
    cands: list[Path] = []
    if path is not None:
        cands.append(Path(os.fspath(path)))
    elif os.environ.get("STRIKEGRID_DATA"):
        cands.append(Path(os.environ["STRIKEGRID_DATA"]))
    else:
        here = Path(__file__).resolve()
        cands += [Path.cwd() / ".." / "shared" / "data", Path.cwd() / "shared" / "data"]
        cands += [p / ".." / "shared" / "data" for p in here.parents[:5]]
    for c in cands:
        if (c / _PH).is_dir():
            return c.resolve()
    raise InputError(
        "data: no price_history folder found (looked in "
        f"{', '.join(str(c) for c in cands)}); pass data= or set STRIKEGRID_DATA",
        arg="data",
    )


def spx_market(
    data: Any = None, start: Any = None, end: Any = None, div: float = SPX_DIV_YIELD
) -> Market:
    """S&P 500 closes and opens, VIX (vol series), DTB3 (rate) and a dividend yield."""
    d = data_dir(data) / _PH
    return Market.from_csv(
        d / "spx_daily.csv",
        vol=d / "vix_daily.csv",
        vol_unit="percent",
        rate=d / "dtb3_daily.csv",
        rate_unit="discount_pct",
        div=div,
        start=start,
        end=end,
        name="SPX",
    )


def spx_pricing(vol_scale: float = VIX_ATM_RATIO, skew: float = SPX_SKEW) -> ModelPricing:
    """BSM on the VIX series times ``vol_scale`` with the SPX skew."""
    return ModelPricing("bsm", "series", vol_scale, skew)


def bxm_program(**changes: Any) -> Program:
    """The BXM rules as a :class:`Program` (module docs); keyword arguments replace fields."""
    p = Program(
        "covered_call",
        name="BXM reproduction",
        entry=Entry("monthly", dte=30, on="expiry"),
        strikes=Strikes(call=StrikeRule("atm", round="up"), increment=5.0),
        sizing=Sizing("collateral", reinvest_premium=True),
        costs=Costs(),
        multiplier=100.0,
        settlement="cash",
        settle_at="open",
        trade_at="midday",
    )
    return p.with_(**changes) if changes else p


def put_program(**changes: Any) -> Program:
    """The PUT rules as a :class:`Program` (module docs)."""
    p = Program(
        "cash_secured_put",
        name="PUT reproduction",
        entry=Entry("monthly", dte=30, on="expiry"),
        strikes=Strikes(put=StrikeRule("atm", round="down"), increment=5.0),
        sizing=Sizing("collateral", reinvest_premium=True, accrue_interest=True),
        costs=Costs(),
        multiplier=100.0,
        settlement="cash",
        settle_at="open",
        trade_at="midday",
    )
    return p.with_(**changes) if changes else p


def _roll_on_or_before(day: np.datetime64) -> np.datetime64:
    d = day.astype(object)
    tf = third_friday(d.year, d.month)
    if tf > d:
        prev = d.replace(day=1) - timedelta(days=1)
        tf = third_friday(prev.year, prev.month)
    return np.datetime64(tf.isoformat(), "D")


@dataclass(frozen=True, eq=False)
class Reproduction:
    """A reproduction's result, its statistics and (where a benchmark exists) the comparison.

    Attributes:
        name: what was reproduced.
        result: the main back-test.
        stats: its statistics over the comparison window.
        comparison: against the official index (BXM), or None.
        benchmark_stats: the official index's statistics on the same window, or None.
        variants: label -> comparison (or statistics) of the sensitivity runs.
        assumptions: the assumptions in words.
        benchmark: what ``comparison`` and ``benchmark_stats`` are about.
    """

    name: str
    result: BacktestResult
    stats: dict[str, Any]
    comparison: dict[str, Any] | None
    benchmark_stats: dict[str, Any] | None
    variants: dict[str, dict[str, Any]]
    assumptions: str
    benchmark: str = "official BXM"

    def table(self) -> str:
        """A readable summary."""
        s = self.stats
        lines = [
            f"{self.name}  {s['start']}..{s['end']}",
            *(f"  {k}: {v}" for k, v in self.result.pricing.items()),
            f"  assumptions: {self.assumptions}",
            f"  reproduction: annualised return {s['annualised_return']:.2%}, vol "
            f"{s['annualised_vol']:.2%}, max drawdown {s['max_drawdown']:.2%}, premium yield "
            f"{s['premium_yield']:.2%}/yr, win rate {s['win_rate']:.0%}, assignments "
            f"{s['assignments']}",
        ]
        b = self.benchmark_stats
        if b is not None and self.comparison is not None:
            c = self.comparison
            lines.append(
                f"  {self.benchmark}: annualised return {b['annualised_return']:.2%}, vol "
                f"{b['annualised_vol']:.2%}, max drawdown {b['max_drawdown']:.2%}"
            )
            lines.append(
                f"  difference vs {self.benchmark}: {c['tracking_difference']:+.2%}/yr "
                f"annualised (tracking difference), tracking error "
                f"{c['tracking_error']:.2%}, correlation daily {c['daily_correlation']:.3f} "
                f"monthly {c['monthly_correlation']:.3f}"
            )
        for label, v in self.variants.items():
            td = v.get("tracking_difference")
            extra = f", difference {td:+.2%}/yr" if td is not None else ""
            lines.append(
                f"  variant {label}: annualised {v['annualised_return']:.2%}, vol "
                f"{v['annualised_vol']:.2%}, max drawdown {v['max_drawdown']:.2%}{extra}"
            )
        return "\n".join(lines)


def _bxm_series(data: Any) -> tuple[Any, Any]:
    d, cols = read_series(data_dir(data) / _PH / "bxm_daily.csv", ("close",))
    return d, cols["close"]


def reproduce_bxm(
    data: Any = None,
    start: Any = "2002-03-22",
    end: Any = None,
    *,
    vol_scale: float = VIX_ATM_RATIO,
    skew: float = SPX_SKEW,
    div: float = SPX_DIV_YIELD,
    variants: bool = True,
) -> Reproduction:
    """The BXM rules on the S&P 500 history against the official BXM (from 2002-03-22, the
    start of Cboe's free file, to the end of the S&P 500 data, 2023-12-28, by default).

    The back-test starts on the roll date before ``start`` (so a call is on from the first
    compared day); statistics and the comparison use the dates both series have. Variants:
    raw VIX (``vol_scale=1``), no dividends, settlement at the close instead of the open.
    """
    first = _roll_on_or_before(np.datetime64(str(start), "D"))
    market = spx_market(data, start=first, end=end, div=div)
    bd, bv = _bxm_series(data)
    res = backtest(bxm_program(), market, pricing=spx_pricing(vol_scale, skew))
    cmp_ = compare(res.dates, res.equity, bd, bv)
    lo = np.datetime64(cmp_["start"], "D")
    stats = res.stats(start=cmp_["start"], end=cmp_["end"])
    bk = (bd >= lo) & (bd <= np.datetime64(cmp_["end"], "D"))
    bstats = equity_stats(bd[bk], bv[bk])
    var: dict[str, dict[str, Any]] = {}
    if variants:
        runs = {
            "raw VIX (vol_scale 1.0)": (bxm_program(), market, spx_pricing(1.0, skew)),
            "no dividends": (bxm_program(), market.with_(div=0.0), spx_pricing(vol_scale, skew)),
            "settle at the close": (
                bxm_program(settle_at="close", trade_at="close"),
                market,
                spx_pricing(vol_scale, skew),
            ),
        }
        for label, (prog, mk, pr) in runs.items():
            r = backtest(prog, mk, pricing=pr)
            var[label] = compare(r.dates, r.equity, bd, bv)
        # the ATM/VIX ratio at which the model's premiums earn what BXM's fills earned:
        # secant steps on the tracking difference from the two runs above
        s0, f0 = vol_scale, cmp_["tracking_difference"]
        c1 = var["raw VIX (vol_scale 1.0)"]
        s1, f1 = 1.0, c1["tracking_difference"]
        for _ in range(3):
            if f1 == f0:
                break
            s0, f0, s1 = s1, f1, s1 - f1 * (s1 - s0) / (f1 - f0)
            r = backtest(bxm_program(), market, pricing=spx_pricing(s1, skew))
            c1 = compare(r.dates, r.equity, bd, bv)
            f1 = c1["tracking_difference"]
            if abs(f1) < 2e-4:
                break
        var[f"vol_scale fitted to BXM ({s1:.3f})"] = c1
    return Reproduction(
        "Cboe BXM reproduction",
        res,
        stats,
        cmp_,
        bstats,
        var,
        f"premiums model-priced (BSM, {vol_scale:g} x VIX, skew {skew:g}), dividend yield "
        f"{div:.1%}, SET = roll-date open, VWAP = midday, 5-point strikes, no costs",
    )


def reproduce_put(
    data: Any = None,
    start: Any = "2002-03-22",
    end: Any = None,
    *,
    vol_scale: float = VIX_ATM_RATIO,
    skew: float = SPX_SKEW,
    variants: bool = True,
) -> Reproduction:
    """The PUT rules on the S&P 500 history (no official PUT history is in the data: judged on
    its rules and figures; the official BXM's figures on the same window are given for
    context in ``benchmark_stats``, and the comparison against BXM in ``comparison``)."""
    first = _roll_on_or_before(np.datetime64(str(start), "D"))
    market = spx_market(data, start=first, end=end, div=0.0)
    res = backtest(put_program(), market, pricing=spx_pricing(vol_scale, skew))
    bd, bv = _bxm_series(data)
    cmp_ = compare(res.dates, res.equity, bd, bv)
    lo = np.datetime64(cmp_["start"], "D")
    stats = res.stats(start=cmp_["start"], end=cmp_["end"])
    bk = (bd >= lo) & (bd <= np.datetime64(cmp_["end"], "D"))
    var: dict[str, dict[str, Any]] = {}
    if variants:
        r = backtest(put_program(), market, pricing=spx_pricing(1.0, skew))
        var["raw VIX (vol_scale 1.0)"] = compare(r.dates, r.equity, bd, bv)
    return Reproduction(
        "Cboe PUT reproduction (vs official BXM for context)",
        res,
        stats,
        cmp_,
        equity_stats(bd[bk], bv[bk]),
        var,
        f"premiums model-priced (BSM, {vol_scale:g} x VIX, skew {skew:g}), T-bills at DTB3 "
        "(3-month) for all collateral, SET = roll-date open, VWAP = midday, 5-point strikes",
        "official BXM (context: no PUT history in the data)",
    )


def btc_market(data: Any = None, start: Any = "2021-03-24", end: Any = "2026-04-06") -> Market:
    """BTC-USD daily closes (Bitstamp, end of UTC day) with DVOL as the vol series, no rate,
    no yield; every calendar day (gaps of more than a day refused). DVOL's data runs
    2021-03-24..2026-04-06, the default window."""
    d = data_dir(data) / _PH
    return Market.from_csv(
        d / "btc_usd_daily.csv",
        vol=d / "btc_dvol_daily.csv",
        vol_unit="percent",
        rate=0.0,
        rate_unit="decimal",
        div=0.0,
        start=start,
        end=end,
        name="BTC",
        max_gap_days=1,
        max_stale_days=1,
    )


def btc_program(call: StrikeRule | None = None, **changes: Any) -> Program:
    """A coin-margined BTC covered call on Deribit's monthly cycle (module docs)."""
    p = Program(
        "covered_call",
        name="BTC covered call",
        entry=Entry("last_friday", dte=30, on="expiry"),
        strikes=Strikes(call=call or StrikeRule("delta", 0.25, round="up"), increment=1000.0),
        sizing=Sizing("collateral", reinvest_premium=True),
        costs=Costs(),
        multiplier=1.0,
        settlement="cash",
        settle_at="open",
        trade_at="open",
    )
    return p.with_(**changes) if changes else p


def btc_covered_call(
    data: Any = None,
    start: Any = "2021-03-24",
    end: Any = "2026-04-06",
    *,
    call: StrikeRule | None = None,
    vol_scale: float = DVOL_ATM_RATIO,
    skew: float = BTC_SKEW,
    variants: bool = True,
) -> Reproduction:
    """The BTC covered call on DVOL (module docs), against holding BTC (``comparison``: the
    program vs buy-and-hold in USD). ``stats`` adds ``btc_start`` / ``btc_end``: the holding
    measured in coins."""
    market = btc_market(data, start=start, end=end)
    res = backtest(
        btc_program(call), market, pricing=ModelPricing("inverse", "series", vol_scale, skew)
    )
    cmp_ = compare(res.dates, res.equity, market.dates, market.close, 365.0)
    stats = res.stats()
    stats["btc_start"] = float(res.equity[0] / market.close[0])
    stats["btc_end"] = float(res.equity[-1] / market.close[-1])
    var: dict[str, dict[str, Any]] = {}
    if variants:
        r = backtest(
            btc_program(call), market, pricing=ModelPricing("inverse", "series", 1.0, skew)
        )
        var["raw DVOL (vol_scale 1.0)"] = compare(
            r.dates, r.equity, market.dates, market.close, 365.0
        )
        r = backtest(
            btc_program(StrikeRule("moneyness", 1.10, round="up")),
            market,
            pricing=ModelPricing("inverse", "series", vol_scale, skew),
        )
        var["10% out of the money"] = compare(r.dates, r.equity, market.dates, market.close, 365.0)
    return Reproduction(
        "BTC covered call on DVOL (vs holding BTC)",
        res,
        stats,
        cmp_,
        equity_stats(market.dates, market.close, 365.0),
        var,
        f"coin-settled calls (inverse model on F = spot), {vol_scale:g} x DVOL, skew {skew:g}, "
        "Deribit last-Friday monthlies at 0.25 delta, 1000 USD strikes, settlement at the UTC "
        "open, no costs",
        "holding BTC",
    )

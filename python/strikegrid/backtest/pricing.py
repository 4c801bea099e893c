"""How options are priced along a back-test: a model on the underlying's history
(:class:`ModelPricing`) or real quotes (:class:`ChainSeries`).

Model pricing
-------------
Every option is priced with the library's own European kernels (:func:`strikegrid.price`):
``bsm`` (spot, short rate ``r``, dividend yield ``q``), ``black76`` on the forward
``F = S e^((r - q) T)`` (the same numbers), or ``inverse`` (coin-settled options as Deribit
lists them: the premium in coin is the Black-76 value over ``F``; the back-test's accounts are
in the quote currency, so a coin premium is booked at ``coin x F``, which is the Black-76 value
again; see ``indices.btc_covered_call`` for the units).

The at-the-money vol ``atm(T)`` on each date is one of

* a constant (``vol=0.18``),
* the market's vol series (``vol="series"``: VIX for the S&P 500, DVOL for BTC; both are 30-day
  model-free implied-variance indices, so the series is used flat across maturities), or
* a term structure ``{days: vol}`` interpolated linearly in total variance ``vol^2 T`` (flat
  vol beyond its ends),

times ``vol_scale``. A variance index sits above the at-the-money vol because it integrates the
skew: on the five SPX chains of 2011-01-03..07 in ``shared/data`` the 30-day ATM vol was 0.84-0.85
of the VIX, on the Deribit BTC snapshot of 2026-01-02 the 30-day ATM vol was 0.95 of DVOL;
those are the scales the index reproductions use (and report against 1.0).

Skew (documented assumption): a straight line in log-moneyness scaled by the square root of
time, ``vol(K, T) = atm(T) * clip(1 + skew * ln(K / F) / sqrt(T), 0.5, 3)``. Equity skews
flatten roughly like ``1/sqrt(T)`` across maturities, and so did the 2011 SPX chains: a least-
squares fit of near-the-money (|ln K/F| < 8%) out-of-the-money vendor IVs gave ``skew`` of
-0.9 to -1.4 at 2 weeks to 2.5 months (-1.3 is the SPX default of the reproductions); the
Deribit snapshot gave -0.04 to -0.14 at 2-12 weeks (-0.1 for BTC). ``skew = 0`` prices every
strike at the ATM vol.

Time: ACT/365 from the trade or mark time to the settlement time. US sessions: open 09:30, close
16:00, "midday" 12:00 New York time, AM settlement at 09:30, PM at 16:00. Markets that trade on
weekends (crypto) use the UTC day: open 00:00, close 24:00, settlement 08:00 UTC (Deribit).

Model fills: no quotes exist, so an assumed bid-ask width ``max(costs.spread * mid,
costs.min_spread)`` stands in for the spread the fill rule crosses.

Chain pricing
-------------
:class:`ChainSeries` is a date-ordered series of :class:`~strikegrid.Chain` snapshots of one
underlying. Entries choose among the listed expiries of the snapshot (those on the program's
cycle) and its listed strikes with a two-sided quote; fills are at mid / natural / a fraction
of the quoted spread; marks are the quoted mids (a contract missing from a later snapshot keeps
its last mark, counted in ``stale_marks``); deltas come from the vendor IV (or the IV implied by
the mid). An option settles at the underlying level of a ``settlement`` market on its expiry
date when one is given, else at the spot of the first snapshot on or after the expiry.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from .._convert import finite_number as _num
from ..exceptions import InputError
from ..pricing import greeks, price
from .calendar import expiries as cycle_expiries
from .calendar import last_friday, third_friday
from .market import Market

__all__ = ["ChainSeries", "ModelPricing"]

FloatArray = npt.NDArray[np.float64]
DateArray = npt.NDArray[np.datetime64]

_SKEW_CLIP = (0.5, 3.0)
#: Shortest time used to scale the skew (one day), so that ``ln(K/F)/sqrt(T)`` stays finite.
_T_SKEW_FLOOR = 1.0 / 365.0

#: Session hours (local exchange time, or UTC for markets that trade every day).
_US_HOURS = {"open": 9.5, "midday": 12.0, "close": 16.0}
_UTC_HOURS = {"open": 0.0, "midday": 12.0, "close": 24.0}


VolInput = float | str | Mapping[float, float]


@dataclass(frozen=True)
class ModelPricing:
    """Model-priced options (module docs).

    Attributes:
        model: "bsm", "black76" or "inverse".
        vol: a constant vol, ``"series"`` (the market's vol series), or a term structure
            ``{days to expiry: vol}``.
        vol_scale: multiplier on the vol input (ATM vol over a variance index: 0.85 for VIX,
            0.95 for DVOL by the calibration in the module docs; 1.0 = the input as is).
        skew: the slope of ``vol(K)/atm - 1`` in ``ln(K/F)/sqrt(T)`` (negative: puts dearer).
    """

    model: str = "bsm"
    vol: VolInput = "series"
    vol_scale: float = 1.0
    skew: float = 0.0

    def __post_init__(self) -> None:
        if self.model not in ("bsm", "black76", "inverse"):
            raise InputError(
                f"pricing.model: must be 'bsm', 'black76' or 'inverse', got {self.model!r}",
                arg="pricing.model",
            )
        if _num(self.vol_scale, "pricing.vol_scale") <= 0:
            raise InputError("pricing.vol_scale: must be positive", arg="pricing.vol_scale")
        _num(self.skew, "pricing.skew")
        v = self.vol
        if isinstance(v, str):
            if v != "series":
                raise InputError(
                    f"pricing.vol: a number, 'series' or a {{days: vol}} table, got {v!r}",
                    arg="pricing.vol",
                )
        elif isinstance(v, Mapping):
            if not v:
                raise InputError("pricing.vol: the term structure is empty", arg="pricing.vol")
            items = sorted((_num(k, "pricing.vol"), _num(x, "pricing.vol")) for k, x in v.items())
            if any(d <= 0 or x < 0 for d, x in items):
                raise InputError(
                    "pricing.vol: term-structure days must be positive and vols >= 0",
                    arg="pricing.vol",
                )
            object.__setattr__(self, "vol", dict(items))
        elif _num(v, "pricing.vol") < 0:
            raise InputError("pricing.vol: must be >= 0", arg="pricing.vol")

    def describe(self, market: Market | None = None) -> str:
        v = self.vol
        if isinstance(v, str):
            src = (market.sources.get("vol", "vol series") if market else "vol series") + " (flat)"
        elif isinstance(v, Mapping):
            src = "term structure " + ", ".join(f"{d:g}d {x:.1%}" for d, x in v.items())
        else:
            src = f"constant {float(v):.1%}"
        return (
            f"model-priced ({self.model}): ATM vol = {src} x {self.vol_scale:g}, "
            f"skew {self.skew:g} per ln(K/F)/sqrt(T)"
        )


class _ModelPricer:
    """The model pricer over one market (engine-facing)."""

    kind = "model"

    def __init__(self, market: Market, spec: ModelPricing) -> None:
        if isinstance(spec.vol, str) and market.vol is None:
            raise InputError(
                f"pricing.vol: 'series' needs a vol series in the market {market.name!r}",
                arg="pricing.vol",
            )
        self.market = market
        self.spec = spec
        self.name = market.name
        self.dates = market.dates
        self.close = market.close
        self.open = market.open
        self.rate = market.rate
        self.div = market.div
        weekday = (self.dates.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
        self.hours = _UTC_HOURS if bool((weekday >= 5).any()) else _US_HOURS
        self._expiry_cache: dict[str, DateArray] = {}
        self.stale_marks = 0
        self._ts: tuple[FloatArray, FloatArray] | None = None
        if isinstance(spec.vol, Mapping):
            days = np.array(list(spec.vol.keys()), dtype=np.float64)
            vols = np.array(list(spec.vol.values()), dtype=np.float64)
            self._ts = (days / 365.0, vols * vols * days / 365.0)

    def describe(self) -> str:
        return self.spec.describe(self.market)

    # ------------------------------------------------------------------ calendar
    def expiries(self, i: int, cycle: str) -> DateArray:
        """Expiries of ``cycle`` after date ``i``."""
        ex = self.cycle_days(cycle)
        return np.asarray(ex[ex > self.dates[i]], dtype="datetime64[D]")

    def cycle_days(self, cycle: str) -> DateArray:
        """Every expiry date of ``cycle`` on this calendar (the cycle's roll dates)."""
        if cycle not in self._expiry_cache:
            self._expiry_cache[cycle] = cycle_expiries(cycle, self.dates)
        return np.asarray(self._expiry_cache[cycle], dtype="datetime64[D]")

    def strikes(self, i: int, expiry: np.datetime64, kind: float) -> FloatArray | None:
        return None

    def level(self, i: int, at: str) -> float:
        """The underlying at ``at`` ("open", "close", "midday") of date ``i``; a missing open
        is the previous close."""
        c = float(self.close[i])
        if at == "close":
            return c
        o = float(self.open[i])
        if not math.isfinite(o):
            o = float(self.close[i - 1]) if i > 0 else c
        return o if at == "open" else 0.5 * (o + c)

    def years(self, i: Any, expiry: np.datetime64, at: str, settle_at: str) -> Any:
        days = (expiry - self.dates[i]).astype(np.int64).astype(np.float64)
        settle_h = self.hours["open"] if settle_at == "open" else self.hours["close"]
        if self.hours is _UTC_HOURS and settle_at == "open":
            settle_h = 8.0  # Deribit settles at 08:00 UTC
        t = (days + (settle_h - self.hours[at]) / 24.0) / 365.0
        return np.maximum(t, 0.0)

    # ------------------------------------------------------------------ vols and prices
    def _atm(self, i: Any, t: Any) -> Any:
        v = self.spec.vol
        if isinstance(v, str):
            atm = self.market.vol[i] if self.market.vol is not None else 0.0
        elif self._ts is not None:
            ts, tv = self._ts
            tt = np.maximum(np.asarray(t, dtype=np.float64), 1e-12)
            w = np.interp(tt, ts, tv)
            # flat vol beyond the ends: total variance proportional to T there
            w = np.where(tt < ts[0], tv[0] / ts[0] * tt, w)
            w = np.where(tt > ts[-1], tv[-1] / ts[-1] * tt, w)
            atm = np.sqrt(w / tt)
        elif isinstance(v, (int, float)):
            atm = float(v)
        else:  # pragma: no cover - a term structure always has its table
            raise InputError("pricing.vol: not usable", arg="pricing.vol")
        return np.asarray(atm, dtype=np.float64) * self.spec.vol_scale

    def _vol(self, i: Any, strike: Any, t: Any, fwd: Any) -> Any:
        atm = self._atm(i, t)
        if self.spec.skew == 0.0:
            return np.broadcast_to(atm, np.broadcast(atm, strike, t).shape)
        z = np.log(strike / fwd) / np.sqrt(np.maximum(t, _T_SKEW_FLOOR))
        return atm * np.clip(1.0 + self.spec.skew * z, *_SKEW_CLIP)

    def _value(
        self, i: Any, kind: Any, spot: Any, strike: Any, t: Any, with_delta: bool
    ) -> tuple[FloatArray, FloatArray | None]:
        r = self.rate[i]
        q = self.div
        fwd = spot * np.exp((r - q) * t)
        vol = self._vol(i, strike, t, fwd)
        m = self.spec.model
        if m == "bsm":
            args: tuple[Any, ...] = (kind, spot, strike, t, vol, r, q)
            model = "bsm"
        else:
            # black76 and inverse: both valued in the quote currency on the forward
            args = (kind, fwd, strike, t, vol, r, 0.0)
            model = "black76"
        if with_delta:
            g = greeks(*args, model=model, which=("price", "delta"))
            return np.asarray(g["price"], dtype=np.float64), np.asarray(g["delta"], np.float64)
        return np.asarray(price(*args, model=model), dtype=np.float64), None

    def settle_level(self, i: int, expiry: np.datetime64, settle_at: str) -> float:
        """The settlement level of an option expiring on ``expiry``, settled on date ``i``
        (the first trading date on or after it): the open or close of that date, or the close
        before when the expiry date is not a trading date."""
        if self.dates[i] == expiry:
            return self.level(i, settle_at)
        return float(self.close[i - 1]) if i > 0 else float(self.close[i])

    def coin_value(self, usd: float, i: int, spot: float, t: float) -> float:
        """A USD premium in coin (inverse model): over the forward."""
        fwd = spot * math.exp((float(self.rate[i]) - self.div) * t)
        return usd / fwd

    def quote(
        self,
        i: int,
        kind: FloatArray,
        strike: FloatArray,
        expiry: np.datetime64,
        spot: float,
        at: str,
        settle_at: str,
        costs: Any,
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(mid, half spread, delta) per leg at ``at`` of date ``i``."""
        t = float(self.years(i, expiry, at, settle_at))
        mid, delta = self._value(i, kind, spot, strike, t, True)
        assert delta is not None
        half = 0.5 * np.maximum(costs.spread * mid, costs.min_spread)
        return mid, half, delta

    def marks(
        self,
        i0: int,
        i1: int,
        kind: FloatArray,
        strike: FloatArray,
        expiry: np.datetime64,
        settle_at: str,
    ) -> FloatArray:
        """Mid values at the closes of dates ``i0 .. i1`` (rows) per leg (columns)."""
        idx = np.arange(i0, i1 + 1)
        t = self.years(idx, expiry, "close", settle_at)[:, None]
        spot = self.close[idx][:, None]
        ii = idx[:, None]
        out, _ = self._value(ii, kind[None, :], spot, strike[None, :], t, False)
        return np.asarray(out, dtype=np.float64).reshape(idx.size, kind.size)

    def target_strike(
        self,
        i: int,
        expiry: np.datetime64,
        kind: float,
        rule: Any,
        spot: float,
        at: str,
        settle_at: str,
        increment: float,
    ) -> float:
        """The continuous strike a rule aims at (before rounding to listed strikes)."""
        if rule.by == "moneyness":
            return float(rule.value * spot)
        if rule.by == "atm":
            return float(spot)
        target = abs(rule.value) * (1.0 if kind > 0 else -1.0)
        t = float(self.years(i, expiry, at, settle_at))
        if increment > 0:
            lo = max(math.floor(0.2 * spot / increment), 1)
            hi = math.ceil(3.0 * spot / increment)
            grid = np.arange(lo, hi + 1, dtype=np.float64) * increment
        else:
            grid = spot * np.exp(np.linspace(-1.6, 1.1, 4001))
        _, delta = self._value(i, kind, spot, grid, t, True)
        assert delta is not None
        j = int(np.nanargmin(np.abs(delta - target)))
        return float(grid[j])


# ------------------------------------------------------------------------- chain series


def _on_cycle(day: np.datetime64, cycle: str) -> bool:
    d = day.astype(object)
    if cycle == "weekly":
        return d.weekday() in (3, 4)  # Friday, or Thursday before a Friday holiday
    nominal = third_friday(d.year, d.month) if cycle == "monthly" else last_friday(d.year, d.month)
    return bool(d == nominal or d == nominal - timedelta(days=1))


@dataclass(frozen=True, eq=False)
class ChainSeries:
    """A date-ordered series of chain snapshots of one underlying (module docs).

    Args:
        chains: the snapshots, strictly increasing in quote time (else an InputError naming
            the first snapshot out of order).
        rate: continuously compounded rate for interest on cash (a constant).
        settlement: a :class:`Market` of the underlying's daily levels used to settle expiring
            options (optional).
        settlement_style: keep only rows whose ``settlement`` column equals it ("AM" for the
            standard SPX monthlies), when the chains have that column.
    """

    chains: Sequence[Any]
    rate: float = 0.0
    settlement: Market | None = None
    settlement_style: str | None = None

    def __post_init__(self) -> None:
        chains = tuple(self.chains)
        if not chains:
            raise InputError("chains: the series is empty", arg="chains")
        und = {c.underlying for c in chains}
        if len(und) > 1:
            raise InputError(
                f"chains: one underlying per series, got {', '.join(sorted(und))}", arg="chains"
            )
        times = [c.quote_time for c in chains]
        for j in range(1, len(times)):
            if times[j] <= times[j - 1]:
                raise InputError(
                    f"chains: snapshot {j} ({times[j].isoformat()}) is not after snapshot "
                    f"{j - 1} ({times[j - 1].isoformat()}); the series must be in time order",
                    arg="chains",
                    index=j,
                )
        days = np.array([t.date().isoformat() for t in times], dtype="datetime64[D]")
        if (np.diff(days).astype(np.int64) <= 0).any():
            j = int(np.flatnonzero(np.diff(days).astype(np.int64) <= 0)[0]) + 1
            raise InputError(
                f"chains: two snapshots on {days[j]}; one per day", arg="chains", index=j
            )
        object.__setattr__(self, "chains", chains)
        _num(self.rate, "rate")

    def describe(self) -> str:
        c0, c1 = self.chains[0], self.chains[-1]
        return (
            f"chain-priced: {len(self.chains)} {c0.underlying} snapshots "
            f"{c0.quote_time.date()}..{c1.quote_time.date()}, fills from quotes"
        )


class _ChainPricer:
    """The chain pricer (engine-facing)."""

    kind = "chain"

    def __init__(self, series: ChainSeries) -> None:
        self.series = series
        chains = series.chains
        self.name = chains[0].underlying
        self.dates = np.array(
            [c.quote_time.date().isoformat() for c in chains], dtype="datetime64[D]"
        )
        self.close = np.array([c.spot for c in chains], dtype=np.float64)
        self.open = np.full(len(chains), np.nan)
        self.rate = np.full(len(chains), float(series.rate))
        self.div = 0.0
        self.stale_marks = 0
        self._rows: list[dict[tuple[Any, float, float], int]] = []
        self._strikes: list[dict[tuple[Any, float], FloatArray]] = []
        for c in chains:
            keep = np.isfinite(c.mid) & (c.bid > 0) & c.usable
            if series.settlement_style is not None and "settlement" in c.extra_columns:
                keep &= c.column("settlement") == series.settlement_style
            rows: dict[tuple[Any, float, float], int] = {}
            exp = c.expiry_date
            for j in np.flatnonzero(keep):
                key = (exp[j], float(c.kind[j]), float(c.strike[j]))
                rows.setdefault(key, int(j))
            strikes: dict[tuple[Any, float], list[float]] = {}
            for e, k, s in rows:
                strikes.setdefault((e, k), []).append(s)
            self._rows.append(rows)
            self._strikes.append({key: np.unique(v) for key, v in strikes.items()})

    def describe(self) -> str:
        return self.series.describe()

    def expiries(self, i: int, cycle: str) -> DateArray:
        listed = np.unique(np.array([k[0] for k in self._strikes[i]], dtype="datetime64[D]"))
        listed = listed[listed > self.dates[i]]
        return np.array([d for d in listed if _on_cycle(d, cycle)], dtype="datetime64[D]")

    def cycle_days(self, cycle: str) -> DateArray:
        """The snapshot dates that are expiry dates of ``cycle``."""
        return np.array([d for d in self.dates if _on_cycle(d, cycle)], dtype="datetime64[D]")

    def strikes(self, i: int, expiry: np.datetime64, kind: float) -> FloatArray | None:
        return self._strikes[i].get((expiry, float(kind)), np.empty(0))

    def level(self, i: int, at: str) -> float:
        return float(self.close[i])

    def settle_level(self, i: int, expiry: np.datetime64, settle_at: str) -> float:
        mk = self.series.settlement
        if mk is not None:
            j = int(np.searchsorted(mk.dates, expiry, side="right")) - 1
            if j >= 0 and mk.dates[j] == expiry:
                if settle_at == "open" and math.isfinite(float(mk.open[j])):
                    return float(mk.open[j])
                return float(mk.close[j])
        return float(self.close[i])

    def _row(self, i: int, expiry: np.datetime64, kind: float, strike: float) -> int | None:
        return self._rows[i].get((expiry, float(kind), float(strike)))

    def quote(
        self,
        i: int,
        kind: FloatArray,
        strike: FloatArray,
        expiry: np.datetime64,
        spot: float,
        at: str,
        settle_at: str,
        costs: Any,
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        c = self.series.chains[i]
        mid = np.empty(kind.size)
        half = np.empty(kind.size)
        delta = np.empty(kind.size)
        for j, (k, s) in enumerate(zip(kind, strike)):
            row = self._row(i, expiry, k, s)
            if row is None:
                name = "call" if k > 0 else "put"
                raise InputError(
                    f"chains: no two-sided quote for the {expiry} {s:g} {name} on {self.dates[i]}",
                    arg="chains",
                    index=i,
                )
            mid[j] = c.mid[row]
            half[j] = 0.5 * c.spread[row]
            delta[j] = self._delta(i, row)
        return mid, half, delta

    def _delta(self, i: int, row: int) -> float:
        c = self.series.chains[i]
        t = float(c.t[row])
        iv = float(c.iv_source[row])
        if not (math.isfinite(iv) and iv > 0):
            from ..implied import implied_vol

            solved = implied_vol(
                float(c.mid[row]),
                float(c.kind[row]),
                c.spot,
                float(c.strike[row]),
                t,
                self.series.rate,
            )
            iv = float(np.asarray(solved))
        if not math.isfinite(iv):
            return math.nan
        g = greeks(
            float(c.kind[row]),
            c.spot,
            float(c.strike[row]),
            t,
            iv,
            self.series.rate,
            which=("delta",),
        )
        return float(g["delta"])

    def marks(
        self,
        i0: int,
        i1: int,
        kind: FloatArray,
        strike: FloatArray,
        expiry: np.datetime64,
        settle_at: str,
    ) -> FloatArray:
        out = np.empty((i1 - i0 + 1, kind.size))
        for r, i in enumerate(range(i0, i1 + 1)):
            c = self.series.chains[i]
            for j, (k, s) in enumerate(zip(kind, strike)):
                row = self._row(i, expiry, k, s)
                if row is None:
                    if r == 0:
                        raise InputError(
                            f"chains: no quote for the {expiry} {s:g} on {self.dates[i]}",
                            arg="chains",
                            index=i,
                        )
                    out[r, j] = out[r - 1, j]
                    self.stale_marks += 1
                else:
                    out[r, j] = c.mid[row]
        return out

    def target_strike(
        self,
        i: int,
        expiry: np.datetime64,
        kind: float,
        rule: Any,
        spot: float,
        at: str,
        settle_at: str,
        increment: float,
    ) -> float:
        if rule.by == "moneyness":
            return float(rule.value * spot)
        if rule.by == "atm":
            return float(spot)
        listed = self.strikes(i, expiry, kind)
        if listed is None or listed.size == 0:
            raise InputError(
                f"chains: no quoted {'calls' if kind > 0 else 'puts'} for {expiry} on "
                f"{self.dates[i]}",
                arg="chains",
                index=i,
            )
        target = abs(rule.value) * (1.0 if kind > 0 else -1.0)
        rows = [self._row(i, expiry, kind, s) for s in listed]
        deltas = np.array([self._delta(i, r) if r is not None else math.nan for r in rows])
        j = int(np.nanargmin(np.abs(deltas - target)))
        return float(listed[j])

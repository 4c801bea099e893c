"""The back-test event loop: ``backtest(program, market)``.

The loop walks the trading dates (the union of every program's calendar in a stack). On each
date, for each program ("sleeve" of the account):

1. carry: cash earns the short rate over the calendar days since the last date
   (``cash * (e^(r dt) - 1)``, ACT/365, the rate of the previous date); shares earn the dividend
   yield into cash (``shares * S * (e^(q dt) - 1)``);
2. settlement: an option whose expiry is today settles at the program's settlement level (the
   open for AM-settled index options, the close otherwise); cash settlement pays the intrinsic
   value; physical settlement books the same intrinsic value and moves the shares at that level
   (``settlement="physical"``), so the P&L is identical and the share count changes;
3. exits at the close: stop loss, take profit, roll when tested, roll at N days to expiry (in
   that order of precedence), checked on the mid marks, filled by the cost rule;
4. entries on the entry days (at the program's trade level), sized on the account's equity at
   that moment (``weight x`` the whole account for stacks: shared capital);
5. marks: open options at the close (model or quotes), the equity and its attribution.

Accounting (tested at every step): ``equity = cash + shares * S + sum(qty * multiplier *
mark)``, and the day's change in equity equals ``underlying P&L + options P&L + interest +
dividends - fees``, each computed from its own flows: the underlying's from the share count
and prices (and shares traded at other levels), the options' from premium received and paid,
settlement and the change of the marks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ..exceptions import InputError
from .market import Market
from .pricing import ChainSeries, ModelPricing, _ChainPricer, _ModelPricer
from .program import Program, Stack
from .results import MONEY_COLUMNS, BacktestResult, SleeveResult

__all__ = ["backtest"]

FloatArray = npt.NDArray[np.float64]
DateArray = npt.NDArray[np.datetime64]

_DAY = np.timedelta64(1, "D")


@dataclass
class _Position:
    """An open option position (all legs share one expiry)."""

    id: int
    kind: FloatArray
    strike: FloatArray
    qty: FloatArray  # per package (short = -1)
    expiry: np.datetime64
    contracts: float
    i0: int  # entry date index (own calendar)
    entry_date: np.datetime64
    entry_spot: float
    credit: float  # net credit per unit at the fill (+ received)
    credit_mid: float
    fees: float  # money paid so far
    cash_in: float  # net premium cash received at the open (money; negative for a debit)
    value: FloatArray  # option value (money, signed) at the closes i0 .. i0 + len - 1
    liability: FloatArray  # cost to close per unit at mid, same dates
    settle_index: int | None
    trigger: tuple[int, str] | None = None
    rolled_from: int | None = None
    note: str = ""


@dataclass
class _Sleeve:
    program: Program
    pricer: Any
    weight: float
    own: npt.NDArray[np.int64]  # union index -> own index (-1 where the market is closed)
    cash: float = 0.0
    shares: float = 0.0
    spot: float = math.nan  # last close seen
    rate: float = 0.0
    pos: _Position | None = None
    next_id: int = 1
    exited_today: bool = False
    entry_day: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    ledger: list[dict[str, Any]] = field(default_factory=list)
    trades: list[dict[str, Any]] = field(default_factory=list)
    rec: dict[str, FloatArray] = field(default_factory=dict)
    premium: float = 0.0
    assignments: int = 0
    # per-day flows (reset each day)
    f_opt: float = 0.0
    f_stock: float = 0.0
    f_fees: float = 0.0
    f_int: float = 0.0
    f_div: float = 0.0
    _value_now: float = 0.0  # the open position's marked value (money, signed)


#: Daily record columns: the money columns (summed when programs are stacked), then the
#: spot and the open contracts.
_COLUMNS = (*MONEY_COLUMNS, "spot", "contracts")


def _legs(
    prog: Program,
    pricer: Any,
    i: int,
    expiry: np.datetime64,
    spot: float,
    at: str,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Kinds, strikes and per-package quantities of a new position."""
    st = prog.strikes
    inc = float(st.increment)
    s = prog.strategy

    def pick(kind: float, rule: Any) -> float:
        k = pricer.target_strike(i, expiry, kind, rule, spot, at, prog.settle_at, inc)
        return _round_strike(pricer, i, expiry, kind, k, rule.round, inc)

    def wing(kind: float, short: float) -> float:
        w = st.width if st.width is not None else float(st.width_pct or 0.0) * spot
        target = short - w if kind < 0 else short + w
        k = _round_strike(pricer, i, expiry, kind, target, "down" if kind < 0 else "up", inc)
        if (kind < 0 and k >= short) or (kind > 0 and k <= short):
            # the wing rounded onto the short strike: one listed strike further out
            k = _round_strike(
                pricer,
                i,
                expiry,
                kind,
                short - 1e-9 if kind < 0 else short + 1e-9,
                "down" if kind < 0 else "up",
                inc,
                strict=True,
            )
        return k

    kinds: list[float] = []
    strikes: list[float] = []
    qty: list[float] = []

    def add(kind: float, strike: float, q: float) -> None:
        kinds.append(kind)
        strikes.append(strike)
        qty.append(q)

    if s in ("cash_secured_put", "bull_put_spread", "iron_condor"):
        assert st.put is not None
        kp = pick(-1.0, st.put)
        add(-1.0, kp, -1.0)
        if s != "cash_secured_put":
            add(-1.0, wing(-1.0, kp), 1.0)
    if s in ("covered_call", "bear_call_spread", "iron_condor", "collar"):
        assert st.call is not None
        kc = pick(1.0, st.call)
        add(1.0, kc, -1.0)
        if s in ("bear_call_spread", "iron_condor"):
            add(1.0, wing(1.0, kc), 1.0)
    if s == "collar":
        assert st.put is not None
        add(-1.0, pick(-1.0, st.put), 1.0)
    if s == "iron_condor" and strikes[0] > strikes[2]:
        raise InputError(
            f"strikes: the condor's short put {strikes[0]:g} is above its short call "
            f"{strikes[2]:g} on {pricer.dates[i]}; choose further out-of-the-money rules",
            arg="strikes",
        )
    return np.array(kinds), np.array(strikes), np.array(qty)


def _round_strike(
    pricer: Any,
    i: int,
    expiry: np.datetime64,
    kind: float,
    k: float,
    how: str,
    inc: float,
    strict: bool = False,
) -> float:
    listed = pricer.strikes(i, expiry, kind)
    if listed is not None:
        if listed.size == 0:
            raise InputError(
                f"chains: no quoted {'calls' if kind > 0 else 'puts'} for {expiry} on "
                f"{pricer.dates[i]}",
                arg="chains",
                index=i,
            )
        if how == "up":
            ok = listed > k if strict else listed >= k - 1e-9
            return float(listed[ok][0]) if ok.any() else float(listed[-1])
        if how == "down":
            ok = listed < k if strict else listed <= k + 1e-9
            return float(listed[ok][-1]) if ok.any() else float(listed[0])
        return float(listed[int(np.argmin(np.abs(listed - k)))])
    if inc <= 0:
        return k
    u = k / inc
    if how == "up":
        n = math.floor(u + 1.0) if strict else math.ceil(u - 1e-9)
    elif how == "down":
        n = math.ceil(u - 1.0) if strict else math.floor(u + 1e-9)
    else:
        n = round(u)
    return max(n, 1) * inc


def _choose_expiry(prog: Program, pricer: Any, i: int, after: Any = None) -> Any:
    cand = pricer.expiries(i, prog.entry.expiries)
    if after is not None:
        cand = cand[cand > after]
    if cand.size == 0:
        return None
    dte = (cand - pricer.dates[i]).astype(np.int64).astype(np.float64)
    ok = dte >= prog.entry.min_dte
    if not ok.any():
        return None
    cand, dte = cand[ok], dte[ok]
    # closest to the target; ties go to the later expiry
    score = np.abs(dte - prog.entry.dte) - 1e-6 * dte
    return cand[int(np.argmin(score))]


class _Run:
    """One back-test run over a stack."""

    def __init__(
        self, stack: Stack, pricers: Sequence[Any], capital: float, start: Any, end: Any
    ) -> None:
        self.stack = stack
        self.capital = capital
        dates = np.unique(np.concatenate([p.dates for p in pricers]))
        if start is not None:
            dates = dates[dates >= np.datetime64(str(start), "D")]
        if end is not None:
            dates = dates[dates <= np.datetime64(str(end), "D")]
        if dates.size == 0:
            raise InputError(f"start/end: no trading dates between {start} and {end}", "start")
        self.dates = dates
        # years from the previous date (ACT/365), as Python floats for the daily loop
        self.dt: list[float] = [0.0, *(np.diff(dates).astype(np.int64) / 365.0).tolist()]
        self.sleeves: list[_Sleeve] = []
        for prog, pricer, w in zip(stack.programs, pricers, stack.weights or ()):
            pos = np.searchsorted(pricer.dates, dates)
            inside = pos < pricer.dates.size
            own = np.full(dates.size, -1, dtype=np.int64)
            hit = inside.copy()
            hit[inside] = pricer.dates[pos[inside]] == dates[inside]
            own[hit] = pos[hit]
            sl = _Sleeve(prog, pricer, float(w), own)
            sl.cash = capital * float(w) / float(sum(stack.weights or (1.0,)))
            if prog.entry.on == "expiry":
                sl.entry_day = np.isin(pricer.dates, pricer.cycle_days(prog.entry.expiries))
            else:
                sl.entry_day = np.ones(pricer.dates.size, dtype=bool)
            sl.rec = {c: np.zeros(dates.size) for c in _COLUMNS}
            self.sleeves.append(sl)

    # ------------------------------------------------------------------ helpers
    def _sleeve_equity(self, sl: _Sleeve, spot: float) -> float:
        return sl.cash + sl.shares * spot + (sl._value_now if sl.pos is not None else 0.0)

    def _log(self, sl: _Sleeve, u: int, action: str, pos: _Position, **kw: Any) -> None:
        row: dict[str, Any] = {
            "date": self.dates[u],
            "program": sl.program.name,
            "trade": pos.id,
            "action": action,
            "expiry": pos.expiry,
            "legs": _describe_legs(pos),
            "contracts": pos.contracts,
        }
        row.update(kw)
        sl.ledger.append(row)

    # ------------------------------------------------------------------ phases
    def carry(self, sl: _Sleeve, u: int) -> None:
        sl.f_opt = sl.f_stock = sl.f_fees = sl.f_int = sl.f_div = 0.0
        sl.exited_today = False
        if u == 0:
            return
        dt = self.dt[u]
        interest = sl.cash * math.expm1(sl.rate * dt)
        sl.cash += interest
        sl.f_int = interest
        if sl.shares != 0.0 and sl.pricer.div != 0.0 and math.isfinite(sl.spot):
            d = sl.shares * sl.spot * math.expm1(sl.pricer.div * dt)
            sl.cash += d
            sl.f_div = d

    def settle(self, sl: _Sleeve, u: int, j: int) -> None:
        pos = sl.pos
        if pos is None or pos.settle_index != j:
            return
        prog = sl.program
        level = sl.pricer.settle_level(j, pos.expiry, prog.settle_at)
        intrinsic = np.maximum(pos.kind * (level - pos.strike), 0.0)
        n = pos.contracts * prog.multiplier
        flow = float(n * np.sum(pos.qty * intrinsic))
        sl.cash += flow
        sl.f_opt += flow
        itm_short = bool(np.any((pos.qty < 0) & (intrinsic > 0)))
        if itm_short:
            sl.assignments += 1
        if prog.settlement == "physical":
            # shares change hands at the strike; with the intrinsic booked above this is a
            # trade of the shares at the settlement level
            delta_sh = float(n * np.sum(np.where(intrinsic > 0, pos.qty * np.sign(pos.kind), 0.0)))
            if delta_sh != 0.0:
                cost = delta_sh * level
                sl.cash -= cost
                sl.f_stock += cost
                sl.shares += delta_sh
        action = "assigned" if itm_short else "expired"
        self._log(
            sl,
            u,
            action,
            pos,
            price=float(-np.sum(pos.qty * intrinsic)),
            mid=math.nan,
            cash_flow=flow,
            fees=0.0,
            underlying=level,
        )
        self._finish(sl, u, pos, action, level, flow, exit_cost=float(-np.sum(pos.qty * intrinsic)))
        sl.pos = None

    def _finish(
        self,
        sl: _Sleeve,
        u: int,
        pos: _Position,
        reason: str,
        level: float,
        exit_flow: float,
        exit_cost: float,
    ) -> None:
        pnl = pos.cash_in + exit_flow - pos.fees
        put_k = pos.strike[(pos.kind < 0) & (pos.qty < 0)]
        call_k = pos.strike[(pos.kind > 0) & (pos.qty < 0)]
        sl.trades.append(
            {
                "program": sl.program.name,
                "trade": pos.id,
                "entry_date": pos.entry_date,
                "exit_date": self.dates[u] if reason != "open" else np.datetime64("NaT", "D"),
                "expiry": pos.expiry,
                "legs": _describe_legs(pos),
                "short_put": float(put_k[0]) if put_k.size else math.nan,
                "short_call": float(call_k[0]) if call_k.size else math.nan,
                "contracts": pos.contracts,
                "entry_underlying": pos.entry_spot,
                "exit_underlying": level,
                "credit": pos.credit,
                "exit_cost": exit_cost,
                "premium": pos.cash_in,
                "fees": pos.fees,
                "pnl": pnl,
                "exit_reason": reason,
                "assigned": reason == "assigned",
                "rolled_from": pos.rolled_from if pos.rolled_from is not None else -1,
            }
        )

    def _trigger(self, sl: _Sleeve, pos: _Position, start: int) -> tuple[int, str] | None:
        """The first exit trigger at or after own index ``start`` (never the entry day)."""
        ex = sl.program.exit
        if ex.holds_to_expiry:
            return None
        n = pos.value.size
        k0 = max(start - pos.i0, 1)
        if k0 >= n:
            return None
        liab = pos.liability[k0:]
        idx = np.arange(pos.i0 + k0, pos.i0 + n)
        checks: list[tuple[str, npt.NDArray[np.bool_]]] = []
        credit = pos.credit
        if ex.stop_loss is not None and credit > 0:
            checks.append(("stop_loss", liab >= (1.0 + ex.stop_loss) * credit))
        if ex.take_profit is not None and credit > 0:
            checks.append(("take_profit", liab <= (1.0 - ex.take_profit) * credit + 1e-12))
        if ex.roll_when_tested:
            s = sl.pricer.close[idx]
            hit = np.zeros(idx.size, dtype=bool)
            for k, kind, q in zip(pos.strike, pos.kind, pos.qty):
                if q < 0:
                    hit |= (s <= k) if kind < 0 else (s >= k)
            checks.append(("rolled_tested", hit))
        if ex.roll_at_dte is not None:
            dte = (pos.expiry - sl.pricer.dates[idx]).astype(np.int64)
            checks.append(("rolled_dte", dte <= ex.roll_at_dte))
        best: tuple[int, str] | None = None
        for name, hit in checks:
            if hit.any():
                k = int(np.argmax(hit))
                if best is None or k < best[0]:
                    best = (k, name)
        return None if best is None else (pos.i0 + k0 + best[0], best[1])

    def _quote_fill(
        self,
        sl: _Sleeve,
        j: int,
        kind: FloatArray,
        strike: FloatArray,
        qty: FloatArray,
        expiry: Any,
        spot: float,
        at: str,
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(mid, fill price, delta) per leg for trading ``qty`` (+ buy, - sell)."""
        prog = sl.program
        mid, half, delta = sl.pricer.quote(
            j, kind, strike, expiry, spot, at, prog.settle_at, prog.costs
        )
        fill = mid + np.sign(qty) * prog.costs.fill * half
        return mid, np.maximum(fill, 0.0), delta

    def close_position(self, sl: _Sleeve, u: int, j: int, reason: str) -> float:
        """Closes the open position at the close of own date ``j``; returns the cost to close
        per unit (debit)."""
        pos = sl.pos
        assert pos is not None
        prog = sl.program
        spot = float(sl.pricer.close[j])
        mid, fill, _ = self._quote_fill(
            sl, j, pos.kind, pos.strike, -pos.qty, pos.expiry, spot, "close"
        )
        n = pos.contracts * prog.multiplier
        flow = float(n * np.sum(pos.qty * fill))  # buying back shorts: negative
        fee = prog.costs.per_contract * pos.contracts * float(np.sum(np.abs(pos.qty)))
        sl.cash += flow - fee
        sl.f_opt += flow
        sl.f_fees += fee
        pos.fees += fee
        cost = float(-np.sum(pos.qty * fill))
        self._log(
            sl,
            u,
            reason,
            pos,
            price=cost,
            mid=float(-np.sum(pos.qty * mid)),
            cash_flow=flow,
            fees=fee,
            underlying=spot,
        )
        self._finish(sl, u, pos, reason, spot, flow, cost)
        sl.pos = None
        sl.exited_today = True
        return cost

    def open_position(
        self,
        sl: _Sleeve,
        u: int,
        j: int,
        at: str,
        rolled_from: _Position | None = None,
        dry_run: bool = False,
        expiry_after: Any = None,
    ) -> float | None:
        """Opens a position on own date ``j`` at level ``at``; returns its credit per unit
        (``dry_run``: only that, nothing traded). None when no position can be opened."""
        prog = sl.program
        pricer = sl.pricer
        expiry = _choose_expiry(prog, pricer, j, expiry_after)
        if expiry is None:
            return None
        spot = pricer.level(j, at)
        kind, strike, qty = _legs(prog, pricer, j, expiry, spot, at)
        mid, fill, _ = self._quote_fill(sl, j, kind, strike, qty, expiry, spot, at)
        credit = float(-np.sum(qty * fill))
        if dry_run:
            return credit
        m = prog.multiplier
        fee_unit = prog.costs.per_contract * float(np.sum(np.abs(qty)))
        # capital this program commits: its weight of the whole account (shared capital)
        own_eq = self._sleeve_equity(sl, spot)
        others = sum(
            self._sleeve_equity(s, s.spot)
            for s in self.sleeves
            if s is not sl and math.isfinite(s.spot)
        )
        total_w = float(sum(self.stack.weights or (1.0,)))
        base = (own_eq + others) * sl.weight / total_w * prog.sizing.fraction
        contracts = self._size(sl, j, expiry, kind, strike, qty, spot, credit, fee_unit, at, base)
        if not contracts > 0:
            self._log_skip(sl, u, expiry, "no capital for a position")
            return None
        n = contracts * m
        premium = n * credit
        fee = contracts * fee_unit
        sl.cash += premium - fee
        sl.f_opt += premium
        sl.f_fees += fee
        sl.premium += premium
        # the shares the strategy holds (covered call, collar): one per option unit
        target = n if prog.strategy in ("covered_call", "collar") else 0.0
        trade = target - sl.shares
        if trade != 0.0:
            sl.cash -= trade * spot
            sl.f_stock += trade * spot
            sl.shares = target
        settle = int(np.searchsorted(pricer.dates, expiry, side="left"))
        settle_index = settle if settle < pricer.dates.size else None
        last = (settle_index - 1) if settle_index is not None else pricer.dates.size - 1
        marks = pricer.marks(j, last, kind, strike, expiry, prog.settle_at)
        pos = _Position(
            id=sl.next_id,
            kind=kind,
            strike=strike,
            qty=qty,
            expiry=expiry,
            contracts=contracts,
            i0=j,
            entry_date=pricer.dates[j],
            entry_spot=spot,
            credit=credit,
            credit_mid=float(-np.sum(qty * mid)),
            fees=fee,
            cash_in=premium,
            value=n * (marks @ qty),
            liability=-(marks @ qty),
            settle_index=settle_index,
            rolled_from=rolled_from.id if rolled_from is not None else None,
        )
        sl.next_id += 1
        pos.trigger = self._trigger(sl, pos, j + 1)
        sl.pos = pos
        self._log(
            sl,
            u,
            "open" if rolled_from is None else "roll_open",
            pos,
            price=credit,
            mid=pos.credit_mid,
            cash_flow=premium,
            fees=fee,
            underlying=spot,
        )
        return credit

    def _size(
        self,
        sl: _Sleeve,
        j: int,
        expiry: Any,
        kind: FloatArray,
        strike: FloatArray,
        qty: FloatArray,
        spot: float,
        credit: float,
        fee_unit: float,
        at: str,
        base: float,
    ) -> float:
        prog = sl.program
        sz = prog.sizing
        m = prog.multiplier
        if sz.mode == "contracts":
            n = float(sz.contracts or 0.0)
        elif sz.mode == "notional":
            n = base / (m * spot)
        else:
            s = prog.strategy
            if s in ("covered_call", "collar"):
                req = spot
            elif s == "cash_secured_put":
                req = float(np.sum(np.where(qty < 0, strike, 0.0)))
            else:
                widths = []
                for side in (-1.0, 1.0):
                    ks = strike[kind == side]
                    if ks.size == 2:
                        widths.append(float(abs(ks[0] - ks[1])))
                req = max(widths)
            g = 1.0
            if sz.accrue_interest:
                t = float(np.asarray(sl.pricer.years(j, expiry, at, prog.settle_at)))
                g = math.exp(float(sl.pricer.rate[j]) * t)
            c = (credit - fee_unit / m) if sz.reinvest_premium else 0.0
            denom = m * (req - c * g)
            n = base * g / denom if denom > 0 else 0.0
        if sz.whole:
            n = math.floor(n + 1e-9)
        return max(n, 0.0)

    def _log_skip(self, sl: _Sleeve, u: int, expiry: Any, why: str) -> None:
        sl.ledger.append(
            {
                "date": self.dates[u],
                "program": sl.program.name,
                "trade": -1,
                "action": "skipped",
                "expiry": expiry,
                "legs": why,
                "contracts": 0.0,
            }
        )

    def manage(self, sl: _Sleeve, u: int, j: int) -> None:
        """Exit triggers of the open position at today's close, then the roll."""
        pos = sl.pos
        while pos is not None and pos.trigger is not None and pos.trigger[0] == j:
            reason = pos.trigger[1]
            if reason in ("take_profit", "stop_loss"):
                self.close_position(sl, u, j, reason)
                return
            # a roll: close and open the next expiry at the close, if it pays a credit when
            # the program asks for one
            if sl.program.exit.roll_for_credit:
                new_credit = self.open_position(
                    sl, u, j, "close", dry_run=True, expiry_after=pos.expiry
                )
                _, fill, _ = self._quote_fill(
                    sl,
                    j,
                    pos.kind,
                    pos.strike,
                    -pos.qty,
                    pos.expiry,
                    float(sl.pricer.close[j]),
                    "close",
                )
                cost = float(-np.sum(pos.qty * fill))
                if new_credit is None or new_credit <= cost:
                    pos.trigger = self._trigger(sl, pos, j + 1)
                    continue
            self.close_position(sl, u, j, reason)
            self.open_position(sl, u, j, "close", rolled_from=pos, expiry_after=pos.expiry)
            return

    def enter(self, sl: _Sleeve, u: int, j: int) -> None:
        if sl.pos is not None or sl.exited_today:
            return
        if not sl.entry_day[j]:
            return
        self.open_position(sl, u, j, sl.program.trade_at)

    def record(self, sl: _Sleeve, u: int, j: int, prev: dict[str, float]) -> None:
        if j >= 0:
            spot = float(sl.pricer.close[j])
        else:
            spot = sl.spot
        pos = sl.pos
        if pos is not None and j >= 0:
            k = j - pos.i0
            sl._value_now = float(pos.value[min(k, pos.value.size - 1)])
        opt = sl._value_now if pos is not None else 0.0
        stock = sl.shares * spot if math.isfinite(spot) else 0.0
        r = sl.rec
        r["cash"][u] = sl.cash
        r["stock"][u] = stock
        r["options"][u] = opt
        r["equity"][u] = sl.cash + stock + opt
        # attribution from the day's flows
        r["pnl_underlying"][u] = stock - prev["stock"] - sl.f_stock
        r["pnl_options"][u] = opt - prev["options"] + sl.f_opt
        r["interest"][u] = sl.f_int
        r["dividends"][u] = sl.f_div
        r["fees"][u] = sl.f_fees
        r["spot"][u] = spot
        r["contracts"][u] = pos.contracts if pos is not None else 0.0
        if j >= 0:
            sl.spot = spot
            sl.rate = float(sl.pricer.rate[j])

    def run(self) -> list[_Sleeve]:
        for u in range(self.dates.size):
            prevs = []
            for sl in self.sleeves:
                prevs.append(
                    {
                        "stock": sl.rec["stock"][u - 1] if u else 0.0,
                        "options": sl.rec["options"][u - 1] if u else 0.0,
                    }
                )
                self.carry(sl, u)
                j = int(sl.own[u])
                if j >= 0:
                    if not math.isfinite(sl.spot):
                        sl.spot = float(sl.pricer.close[j])
                        sl.rate = float(sl.pricer.rate[j])
                    self.settle(sl, u, j)
                    if sl.pos is not None:
                        k = j - sl.pos.i0
                        sl._value_now = float(sl.pos.value[min(k, sl.pos.value.size - 1)])
            for sl in self.sleeves:
                j = int(sl.own[u])
                if j >= 0:
                    self.manage(sl, u, j)
                    self.enter(sl, u, j)
            for sl, prev in zip(self.sleeves, prevs):
                self.record(sl, u, int(sl.own[u]), prev)
        # positions still open at the end: marked, reported as open
        for sl in self.sleeves:
            pos = sl.pos
            if pos is not None:
                n = pos.contracts * sl.program.multiplier
                value = sl._value_now
                self._finish(sl, self.dates.size - 1, pos, "open", sl.spot, value, -value / n)
        return self.sleeves


def _describe_legs(pos: _Position) -> str:
    parts = []
    for k, s, q in zip(pos.kind, pos.strike, pos.qty):
        side = "-" if q < 0 else "+"
        parts.append(f"{side}{abs(q):g} {s:g}{'C' if k > 0 else 'P'}")
    return " ".join(parts)


def _pricer(market: Any, pricing: Any) -> Any:
    if isinstance(market, ChainSeries):
        if pricing is not None:
            raise InputError(
                "pricing: a chain series is priced from its quotes; leave pricing=None",
                arg="pricing",
            )
        return _ChainPricer(market)
    if isinstance(market, Market):
        spec = pricing if pricing is not None else ModelPricing()
        if not isinstance(spec, ModelPricing):
            raise InputError(f"pricing: expected a ModelPricing, got {spec!r}", arg="pricing")
        return _ModelPricer(market, spec)
    raise InputError(
        f"market: expected a Market or a ChainSeries, got {type(market).__name__}", arg="market"
    )


def _per_program(x: Any, n: int, name: str, names: Sequence[str]) -> list[Any]:
    if isinstance(x, Mapping):
        missing = [nm for nm in names if nm not in x]
        if missing:
            raise InputError(f"{name}: no entry for program {missing[0]!r}", arg=name)
        return [x[nm] for nm in names]
    if isinstance(x, (list, tuple)):
        if len(x) != n:
            raise InputError(f"{name}: {len(x)} given for {n} programs", arg=name)
        return list(x)
    return [x] * n


def backtest(
    program: Program | Stack | Sequence[Program],
    market: Any,
    *,
    pricing: Any = None,
    capital: float = 1_000_000.0,
    start: Any = None,
    end: Any = None,
    weights: Sequence[float] | None = None,
) -> BacktestResult:
    """Runs a program (or a stack of programs on one account) over history.

    Args:
        program: a :class:`Program`, a :class:`Stack`, or a list of programs (a stack with
            ``weights``, equal by default).
        market: a :class:`Market` (model-priced) or a :class:`ChainSeries` (priced from real
            quotes); for a stack, one shared by all, a list (one per program) or a mapping
            program name -> market.
        pricing: a :class:`ModelPricing` for model-priced markets (default: ``ModelPricing()``,
            the market's vol series, no skew), shared, listed or mapped like ``market``; None
            for chain series.
        capital: starting capital of the account (the quote currency of the markets).
        start, end: the window (dates, inclusive).
        weights: stack weights when ``program`` is a list.

    Returns:
        A :class:`BacktestResult`: daily equity and its attribution, the event ledger, the
        trades, statistics, frames and a plot; ``result.pricing`` says how each program was
        priced.
    """
    if isinstance(program, Program):
        stack = Stack((program,), (1.0,), program.name)
    elif isinstance(program, Stack):
        stack = program
    elif isinstance(program, (list, tuple)) and all(isinstance(p, Program) for p in program):
        stack = Stack(tuple(program), None if weights is None else tuple(weights))
    else:
        raise InputError(
            f"program: expected a Program, a Stack or a list of programs, got {program!r}",
            arg="program",
        )
    cap = float(capital)
    if not (math.isfinite(cap) and cap > 0):
        raise InputError(f"capital: must be positive, got {capital!r}", arg="capital")
    n = len(stack.programs)
    names = [p.name for p in stack.programs]
    markets = _per_program(market, n, "market", names)
    pricings = _per_program(pricing, n, "pricing", names)
    pricers = [_pricer(m, p) for m, p in zip(markets, pricings)]
    run = _Run(stack, pricers, cap, start, end)
    sleeves = run.run()
    results = [
        SleeveResult(
            program=sl.program,
            weight=sl.weight,
            pricing=sl.pricer.describe(),
            underlying=sl.pricer.name,
            daily=sl.rec,
            ledger=sl.ledger,
            trades=sl.trades,
            premium=sl.premium,
            assignments=sl.assignments,
            stale_marks=sl.pricer.stale_marks,
            periods_per_year=_periods_per_year(sl.pricer.dates),
        )
        for sl in sleeves
    ]
    return BacktestResult(stack.name, run.dates, cap, results)


def _periods_per_year(dates: DateArray) -> float:
    if dates.size < 2:
        return 252.0
    span = float((dates[-1] - dates[0]) / _DAY) / 365.25
    return (dates.size - 1) / span if span > 0 else 252.0

"""Back-tests (``sg.backtest``): accounting at every step, the flat zero-vol path, calendars and
the Cboe BXM / PUT rules on hand-checked dates, chain-priced mode, stacking, Monte Carlo
convergence and seeds, results and plot, the CLI, and bad input.

Real price history is read from ``../shared/data/price_history`` (short windows); those tests
skip cleanly when it is absent.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pytest

import strikegrid as sg
from strikegrid import InputError
from strikegrid.backtest import (
    ChainSeries,
    Costs,
    Entry,
    Exit,
    Market,
    ModelPricing,
    Program,
    Sizing,
    Stack,
    StrikeRule,
    Strikes,
)
from strikegrid.backtest import calendar as cal
from strikegrid.backtest import indices as ix
from strikegrid.cli import main

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
PH = DATA / "price_history"
CHAINS = DATA / "option_chains" / "spx_ivolatility_2011-01"
needs_history = pytest.mark.skipif(
    not (PH / "spx_daily.csv").exists(), reason="shared price history not present"
)
needs_chains = pytest.mark.skipif(
    not (CHAINS / "spx_2011-01-03.csv").exists(), reason="shared SPX chains not present"
)
CAPITAL = 1_000_000.0


# ------------------------------------------------------------------------------ helpers


def weekdays(start: str, n: int) -> np.ndarray:
    d = np.arange(np.datetime64(start, "D"), np.datetime64(start, "D") + 2 * n)
    d = d[((d.astype(np.int64) + 3) % 7) < 5]
    return d[:n]


def synthetic(
    n: int = 320,
    seed: int = 1,
    vol: float = 0.22,
    rate: float = 0.02,
    div: float = 0.015,
    start: str = "2021-01-04",
    every_day: bool = False,
) -> Market:
    """A random daily path with opens, a moving vol series and a rate."""
    rng = np.random.default_rng(seed)
    if every_day:
        dates = np.arange(np.datetime64(start, "D"), np.datetime64(start, "D") + n)
        dt = 1 / 365
    else:
        dates = weekdays(start, n)
        dt = 1 / 252
    steps = rng.normal(-0.5 * vol * vol * dt, vol * math.sqrt(dt), n)
    close = 3000.0 * np.exp(np.cumsum(steps))
    opens = np.r_[3000.0, close[:-1]] * np.exp(rng.normal(0, 0.003, n))
    vols = 0.18 + 0.06 * np.sin(np.arange(n) / 40.0) ** 2
    return Market.from_arrays(dates, close, open=opens, vol=vols, rate=rate, div=div, name="SYN")


def flat_market(n: int = 130, level: float = 100.0) -> Market:
    dates = weekdays("2021-01-04", n)
    return Market.from_arrays(dates, np.full(n, level), vol=0.2, rate=0.0, div=0.0, name="FLAT")


def check_books(res: sg.backtest.BacktestResult, capital: float = CAPITAL) -> None:
    """Balance sheet and P&L attribution agree at every step, for each program and the
    account; ledger and trades reconcile with the daily flows."""
    parts = [(p.daily, p.equity[0] - _first_change(p.daily)) for p in res.programs]
    parts.append((res.daily, capital))
    for d, start in parts:
        tol = 1e-7 * capital
        np.testing.assert_allclose(
            d["equity"], d["cash"] + d["stock"] + d["options"], rtol=0, atol=tol
        )
        change = np.diff(d["equity"], prepend=start)
        pnl = d["pnl_underlying"] + d["pnl_options"] + d["interest"] + d["dividends"] - d["fees"]
        np.testing.assert_allclose(change, pnl, rtol=0, atol=tol)
    led = res.ledger_frame()
    flows = float(np.nansum(led["cash_flow"]))
    np.testing.assert_allclose(
        res.daily["pnl_options"].sum(), flows + res.daily["options"][-1], atol=1e-6 * capital
    )
    np.testing.assert_allclose(float(np.nansum(led["fees"])), res.daily["fees"].sum(), atol=1e-6)
    trades = res.trades_frame()
    if len(trades):
        np.testing.assert_allclose(
            trades["pnl"].sum(),
            res.daily["pnl_options"].sum() - res.daily["fees"].sum(),
            atol=1e-6 * capital,
        )


def _first_change(d: dict[str, np.ndarray]) -> float:
    return float(
        d["pnl_underlying"][0]
        + d["pnl_options"][0]
        + d["interest"][0]
        + d["dividends"][0]
        - d["fees"][0]
    )


COSTS = Costs(per_contract=0.65, fill=0.5, spread=0.04, min_spread=0.05)

PROGRAMS = {
    "covered_call": Program(
        "covered_call",
        strikes=Strikes(call=StrikeRule("delta", 0.3), increment=5),
        costs=COSTS,
        settle_at="open",
        trade_at="midday",
    ),
    "put_write_cboe": Program(
        "put_write",
        strikes=Strikes(put=StrikeRule("atm", round="down"), increment=5),
        sizing=Sizing(accrue_interest=True),
        settle_at="open",
        trade_at="midday",
    ),
    "bull_put_tp_sl": Program(
        "bull_put_spread",
        entry=Entry(dte=45, on="flat"),
        strikes=Strikes(put=StrikeRule("delta", -0.25), width=100, increment=5),
        exit=Exit(take_profit=0.5, stop_loss=1.5),
        sizing=Sizing(fraction=0.3, whole=True),
        costs=COSTS,
    ),
    "bear_call_roll_credit": Program(
        "bear_call_spread",
        entry=Entry("weekly", dte=21),
        strikes=Strikes(call=StrikeRule("moneyness", 1.03), width_pct=0.03, increment=5),
        exit=Exit(roll_at_dte=7, roll_for_credit=True),
        sizing=Sizing("notional", fraction=0.5),
        costs=COSTS,
    ),
    "condor_tested": Program(
        "iron_condor",
        entry=Entry(dte=30, on="flat"),
        strikes=Strikes(
            put=StrikeRule("delta", -0.2), call=StrikeRule("delta", 0.2), width=50, increment=5
        ),
        exit=Exit(roll_when_tested=True, take_profit=0.8),
        sizing=Sizing(fraction=0.25),
        costs=COSTS,
    ),
    "collar": Program(
        "collar",
        strikes=Strikes(
            put=StrikeRule("moneyness", 0.95), call=StrikeRule("moneyness", 1.05), increment=5
        ),
        costs=COSTS,
    ),
    "physical_put_flat": Program(
        "cash_secured_put",
        entry=Entry(dte=20, on="flat"),
        strikes=Strikes(put=StrikeRule("moneyness", 1.0)),
        sizing=Sizing("contracts", contracts=2.0),
        settlement="physical",
        settle_at="open",
        costs=COSTS,
    ),
}


# ------------------------------------------------------------------------------ accounting


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_books_balance_at_every_step(name: str) -> None:
    res = sg.backtest(PROGRAMS[name], synthetic(seed=3), pricing=ModelPricing(skew=-1.3))
    check_books(res)
    trades = res.trades_frame()
    assert len(trades) >= 5
    assert res.stats()["trades"] == int((trades["exit_reason"] != "open").sum())
    # every expiry is a listed one of the program's cycle
    cycle = PROGRAMS[name].entry.expiries
    for e in trades["expiry"]:
        d = np.datetime64(e, "D").astype(object)
        if cycle == "monthly":
            assert cal.third_friday(d.year, d.month) - d in (date.resolution * 0, date.resolution)
        else:
            assert d.weekday() in (3, 4)


def test_rules_fire() -> None:
    """Take profit, stop loss, rolls (tested and at DTE) and physical assignment all happen
    on the synthetic path, and roll trades chain to the position they replace."""
    m = synthetic(seed=3)
    reasons = set()
    for name in ("bull_put_tp_sl", "bear_call_roll_credit", "condor_tested", "physical_put_flat"):
        t = sg.backtest(PROGRAMS[name], m, pricing=ModelPricing(skew=-1.3)).trades_frame()
        reasons |= set(t["exit_reason"])
        rolled = t[t["rolled_from"] >= 0]
        for _, row in rolled.iterrows():
            prev = t[t["trade"] == row["rolled_from"]].iloc[0]
            assert prev["exit_reason"].startswith("rolled")
            assert prev["exit_date"] == row["entry_date"]
    assert {"take_profit", "stop_loss", "rolled_tested", "rolled_dte", "assigned"} <= reasons


def test_physical_assignment_moves_shares() -> None:
    res = sg.backtest(PROGRAMS["physical_put_flat"], synthetic(seed=3))
    t = res.trades_frame()
    first = t[t["assigned"]].iloc[0]
    i = int(np.flatnonzero(res.dates == np.datetime64(first["exit_date"]))[0])
    # 2 contracts x 100 shares received at the strike at the open, sold again at the close
    # by the same day's new entry: the shares' P&L is theirs from the open to the close
    m = synthetic(seed=3)
    assert res.daily["pnl_underlying"][i] == pytest.approx(200 * (m.close[i] - m.open[i]))
    assert first["exit_underlying"] == pytest.approx(m.open[i])
    check_books(res)


def test_roll_for_credit_only_rolls_for_a_credit() -> None:
    res = sg.backtest(PROGRAMS["bear_call_roll_credit"], synthetic(seed=3))
    led = res.ledger_frame()
    closes = led[led["action"] == "rolled_dte"]
    assert len(closes)
    for _, row in closes.iterrows():
        new = led[(led["date"] == row["date"]) & (led["action"] == "roll_open")].iloc[0]
        assert new["price"] > row["price"]


def test_zero_vol_flat_path_earns_its_premia_minus_costs() -> None:
    m = flat_market()
    progs = [
        Program("cash_secured_put", strikes=Strikes(put=StrikeRule("atm"), increment=5)),
        Program(
            "covered_call",
            strikes=Strikes(call=StrikeRule("atm", round="up"), increment=5),
            costs=Costs(per_contract=1.0, fill="natural", spread=0.05),
        ),
        Program(
            "iron_condor",
            strikes=Strikes(
                put=StrikeRule("moneyness", 0.95),
                call=StrikeRule("moneyness", 1.05),
                width=5,
                increment=1,
            ),
            sizing=Sizing(whole=True),
            costs=Costs(per_contract=0.5, fill=0.3, spread=0.1, min_spread=0.01),
        ),
        Program(
            "bull_put_spread",
            entry=Entry(dte=30, on="flat"),
            strikes=Strikes(put=StrikeRule("delta", -0.3), width_pct=0.05),
            exit=Exit(take_profit=0.5),
            costs=Costs(per_contract=0.65),
        ),
    ]
    for prog in progs:
        res = sg.backtest(prog, m, pricing=ModelPricing(vol=0.2))
        t = res.trades_frame()
        assert len(t) >= 4
        premia = float(t["premium"].sum())
        assert premia > 0
        gained = res.equity[-1] - CAPITAL
        open_pnl = float(t[t["exit_reason"] == "open"]["pnl"].sum())
        closed = t[t["exit_reason"] != "open"]
        if prog.exit.holds_to_expiry:
            # nothing ever pays out: every closed position keeps its whole credit
            assert (closed["exit_cost"] == 0).all()
            want = float(closed["premium"].sum() - closed["fees"].sum()) + open_pnl
            assert gained == pytest.approx(want, rel=1e-12, abs=1e-6)
        else:
            # early exits buy back at the (decayed) model price: the P&L is what was kept
            kept = closed["premium"] - closed["contracts"] * 100 * closed["exit_cost"]
            want = float(kept.sum() - closed["fees"].sum()) + open_pnl
            assert gained == pytest.approx(want, rel=1e-12, abs=1e-6)
        assert res.daily["pnl_underlying"].sum() == pytest.approx(0.0, abs=1e-6)
        check_books(res)


# ------------------------------------------------------------------------------ calendars


GOOD_FRIDAY_EXPIRIES = {
    "2003-04-18": "2003-04-17",
    "2008-03-21": "2008-03-20",
    "2014-04-18": "2014-04-17",
    "2019-04-19": "2019-04-18",
    "2022-04-15": "2022-04-14",
}


def test_third_and_last_fridays() -> None:
    assert cal.third_friday(2024, 1) == date(2024, 1, 19)
    assert cal.third_friday(2020, 7) == date(2020, 7, 17)
    assert cal.third_friday(2015, 5) == date(2015, 5, 15)  # the 1st is a Friday
    assert cal.last_friday(2021, 12) == date(2021, 12, 31)
    assert cal.last_friday(2026, 1) == date(2026, 1, 30)
    assert cal.last_friday(2024, 2) == date(2024, 2, 23)


def test_holiday_shift_on_a_synthetic_calendar() -> None:
    days = weekdays("2019-01-01", 400)
    days = days[days != np.datetime64("2019-04-19")]
    ex = cal.expiries("monthly", days)
    assert np.datetime64("2019-04-18") in ex and np.datetime64("2019-04-19") not in ex
    assert np.datetime64("2019-05-17") in ex
    assert np.datetime64("2021-01-15") in ex  # beyond the calendar: nominal dates


@needs_history
def test_good_friday_expiries_on_the_spx_calendar() -> None:
    d, _ = sg.backtest.read_series(PH / "spx_daily.csv")
    ex = set(cal.expiries("monthly", d[d >= np.datetime64("2000-01-01")]).tolist())
    for nominal, shifted in GOOD_FRIDAY_EXPIRIES.items():
        assert date.fromisoformat(shifted) in ex
        assert date.fromisoformat(nominal) not in ex


def _ohlc(day: str) -> tuple[float, float, float]:
    import csv

    with open(PH / "spx_daily.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row["date"] == day:
                return float(row["open"]), float(row["close"]), 0.0
    raise KeyError(day)


@needs_history
def test_bxm_and_put_roll_dates_and_strikes() -> None:
    m = ix.spx_market(start="2019-01-18", end="2019-07-31")
    pricing = ix.spx_pricing()
    rolls = [
        "2019-01-18",
        "2019-02-15",
        "2019-03-15",
        "2019-04-18",  # Good Friday 2019-04-19
        "2019-05-17",
        "2019-06-21",
        "2019-07-19",
        "2019-08-16",
    ]
    for prog, rounding in ((ix.bxm_program(), math.ceil), (ix.put_program(), math.floor)):
        res = sg.backtest(prog, m, pricing=pricing)
        check_books(res)
        led = res.ledger_frame()
        opens = led[led["action"] == "open"]
        assert [str(d)[:10] for d in opens["date"]] == rolls[:7]
        for _, row in opens.iterrows():
            day = str(row["date"])[:10]
            o, c, _ = _ohlc(day)
            midday = 0.5 * (o + c)
            strike = float(row["legs"].split()[1][:-1])
            assert strike == rounding(midday / 5) * 5  # BXM: at or above; PUT: at or below
            assert row["underlying"] == pytest.approx(midday)
            # the option expires on the next roll date
            assert str(row["expiry"])[:10] == rolls[rolls.index(day) + 1]
        # expiring options settle at the roll date's open (the SET proxy)
        for _, row in led[led["action"].isin(["expired", "assigned"])].iterrows():
            assert row["underlying"] == pytest.approx(_ohlc(str(row["date"])[:10])[0])


@needs_history
def test_put_index_collateral_rule() -> None:
    """N puts with the T-bills (premium included) growing to N K by expiry."""
    m = ix.spx_market(start="2020-01-17", end="2020-03-31")
    res = sg.backtest(ix.put_program(), m, pricing=ix.spx_pricing())
    led = res.ledger_frame()
    first = led[led["action"] == "open"].iloc[0]
    n = first["contracts"] * 100
    strike = float(first["legs"].split()[1][:-1])
    t = (np.datetime64("2020-02-21") - np.datetime64("2020-01-17")).astype(int)
    t_years = (t + (9.5 - 12.0) / 24) / 365
    r = float(m.rate[0])
    cash = CAPITAL + first["cash_flow"]
    assert cash * math.exp(r * t_years) == pytest.approx(n * strike, rel=1e-12)


@needs_history
def test_bxm_reproduction_tracks_the_official_index() -> None:
    rep = ix.reproduce_bxm(start="2019-01-02", end="2021-12-31", variants=False)
    c = rep.comparison
    assert c is not None
    assert c["daily_correlation"] > 0.95
    assert abs(c["tracking_difference"]) < 0.05
    assert c["tracking_error"] < 0.06
    assert rep.stats["max_drawdown"] == pytest.approx(c["max_drawdown"])
    assert "BXM" in rep.table()
    check_books(rep.result)


@needs_history
def test_put_reproduction_figures() -> None:
    rep = ix.reproduce_put(start="2019-01-02", end="2020-12-31", variants=False)
    s = rep.stats
    assert 0 < s["annualised_vol"] < 0.4
    assert 0.05 < s["max_drawdown"] < 0.5
    assert s["premium"] > 0 and s["trades"] >= 20
    check_books(rep.result)


@needs_history
def test_btc_covered_call_on_dvol() -> None:
    rep = ix.btc_covered_call(start="2022-01-01", end="2022-12-31", variants=False)
    res = rep.result
    check_books(res)
    t = res.trades_frame()
    assert len(t) >= 11
    for _, row in t.iterrows():
        d = np.datetime64(row["expiry"], "D").astype(object)
        assert d == cal.last_friday(d.year, d.month)
        assert row["short_call"] % 1000 == 0 and row["short_call"] > row["entry_underlying"]
    assert rep.stats["btc_end"] > 0
    assert "inverse" in res.pricing["BTC covered call"]


# ------------------------------------------------------------------------------ pricing


def test_model_skew_and_term_structure() -> None:
    m = synthetic(n=60)
    spec = ModelPricing(vol={30: 0.2, 90: 0.25}, vol_scale=1.1, skew=-1.3)
    pr = sg.backtest.pricing._ModelPricer(m, spec)
    t = np.array([10 / 365, 30 / 365, 60 / 365, 200 / 365])
    atm = pr._atm(0, t)
    w30, w90 = 0.04 * 30 / 365, 0.0625 * 90 / 365
    w60 = w30 + (w90 - w30) * 0.5
    want = np.array([0.2, 0.2, math.sqrt(w60 / (60 / 365)), 0.25]) * 1.1
    np.testing.assert_allclose(atm, want, rtol=1e-12)
    k = np.array([2500.0, 3000.0, 3600.0])
    fwd, tt = 3000.0, 30 / 365
    got = pr._vol(0, k, tt, fwd)
    expect = 0.22 * np.clip(1 - 1.3 * np.log(k / fwd) / math.sqrt(tt), 0.5, 3.0)
    np.testing.assert_allclose(got, expect, rtol=1e-12)
    # inverse: the quote-currency value is coin premium x forward, i.e. Black-76
    inv = sg.backtest.pricing._ModelPricer(m, ModelPricing("inverse", 0.5))
    bsm = sg.backtest.pricing._ModelPricer(m, ModelPricing("bsm", 0.5))
    kind = np.array([1.0, -1.0])
    strikes = np.array([3300.0, 2800.0])
    a = inv.quote(5, kind, strikes, np.datetime64("2021-03-19"), 3000.0, "close", "close", Costs())
    b = bsm.quote(5, kind, strikes, np.datetime64("2021-03-19"), 3000.0, "close", "close", Costs())
    np.testing.assert_allclose(a[0], b[0], rtol=1e-9)
    coin = sg.price(
        kind, 3000.0 * math.exp((0.02 - 0.015) * 0.0), strikes, 1.0, 0.5, model="inverse"
    )
    assert np.all(np.asarray(coin) < 1)


def test_delta_strike_rule_picks_the_closest_listed_strike() -> None:
    m = synthetic(n=60)
    spec = ModelPricing(skew=-1.3)
    pr = sg.backtest.pricing._ModelPricer(m, spec)
    expiry = np.datetime64("2021-02-19")
    spot = float(m.close[3])
    k = pr.target_strike(3, expiry, -1.0, StrikeRule("delta", -0.3), spot, "close", "close", 5.0)
    assert k % 5 == 0
    grid = np.arange(k - 50, k + 55, 5.0)
    t = float(pr.years(3, expiry, "close", "close"))
    fwd = spot * math.exp((m.rate[3] - m.div) * t)
    vol = pr._vol(3, grid, t, fwd)
    d = np.asarray(sg.greeks("put", spot, grid, t, vol, m.rate[3], m.div, which="delta")["delta"])
    assert grid[np.argmin(np.abs(d + 0.3))] == k


# ------------------------------------------------------------------------------ chains


def synthetic_chains(m: Market, days: int = 12) -> ChainSeries:
    """Model-priced chains with a 4%-wide market, monthly expiries, 5-point strikes."""
    chains = []
    expiries = cal.expiries("monthly", m.dates)
    for i in range(days):
        day = m.dates[i]
        s = float(m.close[i])
        ex = expiries[expiries > day][:2]
        k = np.arange(round(s * 0.8 / 5) * 5, s * 1.2, 5.0)
        kk, ee, cp = np.meshgrid(k, np.arange(ex.size), np.array([1.0, -1.0]), indexing="ij")
        kk, ee, cp = kk.ravel(), ee.ravel(), cp.ravel()
        t = ((ex[ee] - day).astype(np.int64) - 6.5 / 24) / 365
        mid = np.asarray(sg.price(cp, s, kk, t, 0.2, 0.01))
        chains.append(
            sg.Chain.from_arrays(
                underlying="SYN",
                quote_time=f"{day}T16:00:00-05:00",
                expiry=np.array([str(x) for x in ex[ee]], dtype=object),
                strike=kk,
                kind=cp,
                bid=mid * 0.98,
                ask=mid * 1.02 + 0.05,
                underlying_price=s,
                iv_source=np.full(kk.size, 0.2),
                settlement="AM",
            )
        )
    return ChainSeries(chains, rate=0.01, settlement=m)


def test_chain_priced_fills_marks_and_books() -> None:
    m = synthetic(n=40, seed=5)
    series = synthetic_chains(m)
    prog = Program(
        "bull_put_spread",
        entry=Entry(dte=30, on="flat"),
        strikes=Strikes(put=StrikeRule("delta", -0.3), width=50),
        costs=Costs(per_contract=0.5, fill="natural"),
        settle_at="open",
    )
    res = sg.backtest(prog, series)
    check_books(res)
    assert "chain-priced" in res.pricing[prog.name]
    led = res.ledger_frame()
    op = led[led["action"] == "open"].iloc[0]
    c0 = series.chains[0]
    legs = op["legs"].split()
    ks = float(legs[1][:-1]), float(legs[3][:-1])
    ex = np.datetime64(op["expiry"], "D")
    row = [
        int(np.flatnonzero((c0.strike == k) & (c0.kind < 0) & (c0.expiry_date == ex))[0])
        for k in ks
    ]
    # natural: sell the short at its bid, buy the wing at its ask
    assert op["price"] == pytest.approx(c0.bid[row[0]] - c0.ask[row[1]])
    # day 1 mark = -(mid_short - mid_wing) per unit, times contracts x 100
    c1 = series.chains[1]
    r1 = [
        int(np.flatnonzero((c1.strike == k) & (c1.kind < 0) & (c1.expiry_date == ex))[0])
        for k in ks
    ]
    value = -(c1.mid[r1[0]] - c1.mid[r1[1]]) * op["contracts"] * 100
    assert res.daily["options"][1] == pytest.approx(value)


@needs_chains
def test_real_spx_chains() -> None:
    chains = [sg.Chain.read_csv(CHAINS / f"spx_2011-01-0{d}.csv") for d in range(3, 8)]
    series = ChainSeries(chains, rate=0.0015, settlement_style="AM")
    prog = Program(
        "cash_secured_put",
        entry=Entry(dte=45, on="flat"),
        strikes=Strikes(put=StrikeRule("delta", -0.25)),
        costs=Costs(fill="mid"),
    )
    res = sg.backtest(prog, series)
    check_books(res)
    t = res.trades_frame()
    assert str(t["expiry"][0])[:10] == "2011-02-18"
    k = t["short_put"][0]
    c = chains[0]
    row = np.flatnonzero(
        (c.strike == k)
        & (c.kind < 0)
        & (c.expiry_date == np.datetime64("2011-02-18"))
        & (c.column("settlement") == "AM")
    )[0]
    assert t["credit"][0] == pytest.approx(c.mid[row])
    assert (
        abs(
            float(
                sg.greeks("put", c.spot, k, c.t[row], c.iv_source[row], 0.0015, which="delta")[
                    "delta"
                ]
            )
            + 0.25
        )
        < 0.03
    )
    # out of order: named
    with pytest.raises(InputError, match="snapshot 1"):
        ChainSeries([chains[1], chains[0]])


def test_chain_series_out_of_order_and_mixed() -> None:
    series = synthetic_chains(synthetic(n=10, seed=2), days=3)
    ch = list(series.chains)
    with pytest.raises(InputError, match=r"snapshot 2 \(2021-01-05"):
        ChainSeries([ch[0], ch[2], ch[1]])
    with pytest.raises(InputError, match=r"two snapshots on 2021-01-04|not after"):
        ChainSeries([ch[0], ch[0]])
    with pytest.raises(InputError, match="pricing"):
        sg.backtest(PROGRAMS["collar"], series, pricing=ModelPricing())


# ------------------------------------------------------------------------------ stacking


def test_stack_shares_capital_and_reports_apart() -> None:
    spx = synthetic(seed=7)
    btc = synthetic(seed=8, every_day=True, vol=0.6, rate=0.0, div=0.0)
    a = PROGRAMS["put_write_cboe"].with_(name="puts")
    b = Program(
        "covered_call",
        name="btc calls",
        entry=Entry("last_friday"),
        strikes=Strikes(call=StrikeRule("delta", 0.25, round="up"), increment=100),
        multiplier=1.0,
        settle_at="open",
        trade_at="open",
    )
    stack = Stack((a, b), (0.6, 0.4), "two streams")
    res = sg.backtest(stack, [spx, btc], pricing=ModelPricing())
    check_books(res)
    assert res.dates.size > spx.dates.size  # the union of both calendars
    np.testing.assert_allclose(res.equity, res["puts"].equity + res["btc calls"].equity)
    assert res["puts"].equity[0] == pytest.approx(0.6 * CAPITAL)
    # shared capital: the put sleeve's later positions are sized on the whole account
    alone = sg.backtest(a, spx, pricing=ModelPricing(), capital=0.6 * CAPITAL)
    n_stack = res["puts"].trades[-1]["contracts"]
    n_alone = alone.programs[0].trades[-1]["contracts"]
    assert n_stack != pytest.approx(n_alone, rel=1e-6)
    frame = res.stats_frame()
    assert list(frame["program"]) == ["puts", "btc calls", "two streams (account)"]
    daily = res.daily_frame()
    assert {"equity:puts", "equity:btc calls", "drawdown"} <= set(daily.columns)


# ------------------------------------------------------------------------------ results


def test_frames_stats_and_plot() -> None:
    import matplotlib

    matplotlib.use("Agg")
    res = sg.backtest(PROGRAMS["covered_call"], synthetic(), pricing=ModelPricing())
    s = res.stats()
    for key in (
        "annualised_return",
        "annualised_vol",
        "max_drawdown",
        "premium",
        "premium_yield",
        "win_rate",
        "worst_month",
        "assignments",
        "trades",
        "pricing",
    ):
        assert key in s
    assert "model-priced" in s["pricing"]
    assert 0 <= s["win_rate"] <= 1 and 0 <= s["max_drawdown"] < 1
    eq = res.equity
    assert s["max_drawdown"] == pytest.approx(float(np.max(1 - eq / np.maximum.accumulate(eq))))
    frames = res.frames()
    assert set(frames) == {"daily", "ledger", "trades", "stats"}
    assert len(frames["daily"]) == res.dates.size
    assert {"open", "expired"} & set(frames["ledger"]["action"])
    pl_frames = res.frames("polars")
    assert pl_frames["trades"].height == len(frames["trades"])
    assert pl_frames["daily"]["equity"].to_list() == list(frames["daily"]["equity"])
    w = res.stats(start=str(res.dates[100]))
    assert w["start"] == str(res.dates[100]) and w["trades"] < s["trades"]
    fig = res.plot(benchmark=(res.dates, res.programs[0].daily["spot"], "underlying"))
    assert len(fig.axes) == 2
    import matplotlib.pyplot as plt

    plt.close(fig)
    assert "BacktestResult" in repr(res)


# ------------------------------------------------------------------------------ Monte Carlo


def test_mc_gbm_moments_converge_and_seeds_reproduce() -> None:
    mu, vol = 0.08, 0.3
    mean, var = 100 * math.exp(mu), 100**2 * math.exp(2 * mu) * (math.exp(vol**2) - 1)
    errs = []
    for paths in (2_000, 128_000):
        s = sg.backtest.simulate(
            "gbm", paths=paths, years=1.0, steps_per_year=4, drift=mu, vol=vol, seed=42
        )
        st = s[:, -1]
        se = st.std(ddof=1) / math.sqrt(paths)
        assert abs(st.mean() - mean) < 4 * se
        errs.append((abs(st.mean() - mean), abs(st.var(ddof=1) / var - 1), se))
    assert errs[1][2] < errs[0][2] / 7
    assert errs[1][1] < 0.02
    a = sg.backtest.simulate("heston", paths=50, years=0.1, seed=7)
    b = sg.backtest.simulate("heston", paths=50, years=0.1, seed=7)
    c = sg.backtest.simulate("heston", paths=50, years=0.1, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # a path does not depend on how many others are simulated
    np.testing.assert_array_equal(
        sg.backtest.simulate("heston", paths=10, years=0.1, seed=7), a[:10]
    )


def _put_write_growth(m: float, mu: float, vol: float, r: float, t: float) -> float:
    p = float(sg.price("put", 1.0, m, t, vol, r))
    e_put = math.exp(mu * t) * float(sg.price("put", 1.0, m, t, vol, mu))
    g = math.exp(r * t)
    n = g / (m - p * g)
    return (1 + n * p) * g - n * e_put


def test_mc_put_write_converges_to_the_closed_form() -> None:
    mu, vol, r = 0.09, 0.2, 0.03
    prog = Program("cash_secured_put", strikes=Strikes(put=StrikeRule("moneyness", 0.97)))
    exact = _put_write_growth(0.97, mu, vol, r, 21 / 252) ** 6
    errs = []
    for paths in (1_000, 16_000):
        res = sg.backtest.monte_carlo(
            prog, paths=paths, years=0.5, drift=mu, vol=vol, rate=r, seed=3
        )
        s = res.summary()
        assert abs(s["mean_final_equity"] - exact) < 4 * s["se_final_equity"]
        errs.append(s["se_final_equity"])
    assert errs[1] < errs[0] / 3
    again = sg.backtest.monte_carlo(prog, paths=1_000, years=0.5, drift=mu, vol=vol, rate=r, seed=3)
    first = sg.backtest.monte_carlo(
        prog, paths=1_000, years=0.5, drift=mu, vol=vol, rate=r, seed=3, keep_paths=True
    )
    np.testing.assert_array_equal(again.final_equity, first.final_equity)
    assert first.equity is not None and first.equity.shape == (1_000, 127)
    np.testing.assert_array_equal(first.equity[:, -1], first.final_equity)


def test_mc_covered_call_heston_and_flat_path() -> None:
    prog = Program(
        "covered_call",
        strikes=Strikes(call=StrikeRule("delta", 0.3), increment=1),
        costs=Costs(per_contract=2.0, fill="natural", spread=0.04),
    )
    flat = sg.backtest.monte_carlo(
        prog, paths=3, years=0.25, drift=0.0, vol=0.0, pricing_vol=0.2, rate=0.0
    )
    np.testing.assert_allclose(flat.final_equity, 1 + flat.premium - flat.fees, rtol=0, atol=1e-13)
    assert (flat.trades == 3).all() and (flat.assigned == 0).all()
    h = sg.backtest.monte_carlo(
        prog, model="heston", paths=2_000, years=0.5, seed=1, heston={"rho": -0.5}
    )
    s = h.summary()
    assert 0 < s["mean_max_drawdown"] < 0.5
    assert s["premium_per_year"] > 0
    assert "Heston" in h.description
    assert len(h.to_frame()) == 2_000


def test_mc_bad_input() -> None:
    condor = PROGRAMS["condor_tested"]
    with pytest.raises(InputError, match="cash_secured_put and covered_call"):
        sg.backtest.monte_carlo(condor)
    with pytest.raises(InputError, match="exit"):
        sg.backtest.monte_carlo(PROGRAMS["covered_call"].with_(exit=Exit(roll_at_dte=5)))
    with pytest.raises(InputError, match="heston: unknown parameter 'sigma'"):
        sg.backtest.monte_carlo(PROGRAMS["covered_call"], model="heston", heston={"sigma": 1})
    with pytest.raises(InputError, match="rho"):
        sg.backtest.simulate("heston", heston={"rho": 2.0})
    with pytest.raises(InputError, match="seed"):
        sg.backtest.simulate(seed=-1)
    with pytest.raises(InputError, match="vol"):
        sg.backtest.simulate(vol=-0.1)
    with pytest.raises(InputError, match="model"):
        sg.backtest.simulate("sabr")
    with pytest.raises(InputError, match="paths: 1,000,000,000 paths"):
        sg.backtest.simulate(paths=10**9)
    with pytest.raises(InputError, match="paths"):
        sg.backtest.monte_carlo(PROGRAMS["covered_call"], paths=10**9, keep_paths=True)


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("build", "rule"),
    [
        (lambda: Exit(roll_for_credit=True), "exit.roll_for_credit"),
        (lambda: Exit(take_profit=1.5), "exit.take_profit"),
        (lambda: Exit(stop_loss=-1), "exit.stop_loss"),
        (lambda: Strikes(width=10, width_pct=0.1), "strikes.width"),
        (lambda: Entry(dte=10, min_dte=20), "entry.min_dte"),
        (lambda: Entry(expiries="daily"), "entry.expiries"),
        (lambda: Sizing("contracts"), "sizing.contracts"),
        (lambda: Sizing("notional", contracts=3), "sizing.contracts"),
        (lambda: Costs(fill=1.5), "costs.fill"),
        (lambda: Costs(fill="best"), "costs.fill"),
        (
            lambda: Program("covered_call", strikes=Strikes(put=StrikeRule(), call=StrikeRule())),
            "strikes.put",
        ),
        (lambda: Program("cash_secured_put"), "strikes.put"),
        (
            lambda: Program("bull_put_spread", strikes=Strikes(put=StrikeRule())),
            "strikes.width",
        ),
        (
            lambda: Program("cash_secured_put", strikes=Strikes(put=StrikeRule(), width=5)),
            "strikes.width",
        ),
        (
            lambda: Program(
                "collar",
                strikes=Strikes(put=StrikeRule(value=0.9), call=StrikeRule(value=1.1)),
                exit=Exit(take_profit=0.5),
            ),
            "exit.take_profit",
        ),
        (
            lambda: Program(
                "cash_secured_put",
                strikes=Strikes(put=StrikeRule()),
                entry=Entry(dte=30),
                exit=Exit(roll_at_dte=30),
            ),
            "exit.roll_at_dte",
        ),
        (
            lambda: Program("covered_call", strikes=Strikes(call=StrikeRule("delta", -0.3))),
            "strikes.call",
        ),
        (lambda: Program("strangle"), "strategy"),
        (lambda: Stack((PROGRAMS["collar"], PROGRAMS["collar"])), "programs"),
    ],
)
def test_conflicting_rules_name_the_rule(build: Callable[[], object], rule: str) -> None:
    with pytest.raises(InputError) as e:
        build()
    assert e.value.arg == rule
    assert rule.split(".")[-1] in str(e.value)


def test_bad_market_data_names_the_date() -> None:
    d = weekdays("2021-01-04", 30)
    c = np.linspace(100, 110, 30)
    gap = np.concatenate([d[:10], d[15:]])
    with pytest.raises(InputError, match=r"gap of 10 days .* 2021-01-15 and 2021-01-25"):
        Market.from_arrays(gap, c[:25])
    bad = c.copy()
    bad[7] = 0.0
    with pytest.raises(InputError, match="2021-01-13"):
        Market.from_arrays(d, bad)
    bad[7] = np.nan
    with pytest.raises(InputError, match=r"finite and positive.*2021-01-13"):
        Market.from_arrays(d, bad)
    rev = d.copy()
    rev[[3, 4]] = rev[[4, 3]]
    with pytest.raises(InputError, match="out of order: 2021-01-07 goes back from 2021-01-08"):
        Market.from_arrays(rev, c)
    dup = d.copy()
    dup[4] = dup[3]
    with pytest.raises(InputError, match="repeats"):
        Market.from_arrays(dup, c)
    with pytest.raises(InputError, match=r"vol: must be finite and >= 0.*2021-01-05"):
        Market.from_arrays(d, c, vol=np.r_[0.2, -0.1, np.full(28, 0.2)])


def test_csv_market_checks(tmp_path: Path) -> None:
    prices = tmp_path / "p.csv"
    vol = tmp_path / "v.csv"
    d = weekdays("2021-01-04", 40)
    prices.write_text(
        "date,open,close\n" + "".join(f"{x},{100 + i},{100.5 + i}\n" for i, x in enumerate(d))
    )
    vol.write_text("date,close\n" + "".join(f"{x},20\n" for x in d[:20]))
    with pytest.raises(
        InputError, match=r"v.csv: no value within 7 days before 2021-02-08 \(last on 2021-01-29\)"
    ):
        Market.from_csv(prices, vol=vol)
    m = Market.from_csv(prices, vol=vol, end=str(d[19]), rate=5.0, rate_unit="discount_pct")
    assert m.vol is not None and m.vol[0] == pytest.approx(0.2)
    # DTB3 5% discount basis -> continuously compounded
    assert m.rate[0] == pytest.approx(-math.log(1 - 0.05 * 91 / 360) / (91 / 365))
    assert m.open[3] == 103
    with pytest.raises(InputError, match="cannot read"):
        Market.from_csv(tmp_path / "missing.csv")
    with pytest.raises(InputError, match="no prices between"):
        Market.from_csv(prices, start="2030-01-01")
    with pytest.raises(InputError, match=r"pricing.vol: 'series' needs a vol series"):
        sg.backtest(PROGRAMS["collar"], Market.from_csv(prices), pricing=ModelPricing())


@needs_history
def test_real_data_gap_is_refused() -> None:
    # the 1933 bank holiday closed the exchange for 12 days
    with pytest.raises(InputError, match="1933-03-03 and 1933-03-15"):
        Market.from_csv(PH / "spx_daily.csv", start="1933-01-01", end="1933-12-31")


# ------------------------------------------------------------------------------ TOML and CLI


def _write_data(tmp: Path) -> None:
    m = synthetic(n=260, seed=11)
    (tmp / "prices.csv").write_text(
        "date,open,close\n"
        + "".join(f"{d},{o:.4f},{c:.4f}\n" for d, o, c in zip(m.dates, m.open, m.close))
    )
    (tmp / "vix.csv").write_text(
        "date,close\n" + "".join(f"{d},{v * 100:.3f}\n" for d, v in zip(m.dates, m.vol))
    )


PROGRAM_TOML = """
name = "test put-write"
strategy = "put_write"
capital = 500000
settle_at = "open"

[market]
prices = "prices.csv"
vol = "vix.csv"
rate = 2.0
rate_unit = "pct"
div = 0.01

[pricing]
vol_scale = 0.9
skew = -1.0

[entry]
dte = 30

[strikes]
increment = 5
put = { by = "delta", value = -0.3 }

[exit]
{exit}

[costs]
per_contract = 0.65
fill = "natural"
spread = 0.03
"""


def test_toml_program_and_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write_data(tmp_path)
    path = tmp_path / "prog.toml"
    path.write_text(PROGRAM_TOML.replace("{exit}", "take_profit = 0.5"))
    spec = sg.backtest.load(path)
    prog = spec.stack.programs[0]
    assert prog.strategy == "cash_secured_put" and prog.exit.take_profit == 0.5
    assert prog.strikes.put == StrikeRule("delta", -0.3)
    assert spec.capital == 500000 and Path(spec.markets[0]["prices"]).is_absolute()
    assert main(["backtest", str(path), "--trades", "3"]) == 0
    out = capsys.readouterr().out
    assert "annualised_return" in out and "model-priced (bsm)" in out and "take_profit" in out
    assert (
        main(
            [
                "backtest",
                str(path),
                "--output",
                "json",
                "--out",
                str(tmp_path / "o"),
                "--plot",
                str(tmp_path / "eq.png"),
            ]
        )
        == 0
    )
    doc = json.loads(capsys.readouterr().out)
    assert doc["stats"][0]["initial"] == pytest.approx(500000, rel=0.01)
    assert (tmp_path / "o" / "trades.csv").exists() and (tmp_path / "eq.png").stat().st_size
    # the same program from Python gives the same figures
    m = Market.from_csv(
        tmp_path / "prices.csv", vol=tmp_path / "vix.csv", rate=2.0, rate_unit="pct", div=0.01
    )
    res = sg.backtest(prog, m, pricing=ModelPricing(vol_scale=0.9, skew=-1.0), capital=500000)
    assert doc["stats"][0]["final"] == pytest.approx(res.equity[-1])


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write_data(tmp_path)
    assert main(["backtest", str(tmp_path / "nope.toml")]) == 2
    assert "neither a file nor an example" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text(PROGRAM_TOML.replace("{exit}", "roll_for_credit = true"))
    assert main(["backtest", str(bad)]) == 2
    assert "exit.roll_for_credit" in capsys.readouterr().err
    bad.write_text(PROGRAM_TOML.replace("{exit}", "take_profits = 0.5"))
    assert main(["backtest", str(bad)]) == 2
    assert "exit: unknown key(s) take_profits" in capsys.readouterr().err
    bad.write_text("strategy = [")
    assert main(["backtest", str(bad)]) == 2
    assert "not valid TOML" in capsys.readouterr().err
    bad.write_text(PROGRAM_TOML.replace("{exit}", "").replace("prices.csv", "absent.csv"))
    assert main(["backtest", str(bad), "--data-dir", str(tmp_path)]) == 2
    assert "absent.csv not found" in capsys.readouterr().err
    assert main(["backtest", "--examples"]) == 0
    listed = capsys.readouterr().out
    for name in ("spx_putwrite", "spx_condor", "btc_covered_call", "income_stack"):
        assert name in listed


@needs_history
def test_shipped_examples_run(capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("spx_putwrite", "income_stack"):
        args = [
            "backtest",
            name,
            "--data-dir",
            str(DATA),
            "--start",
            "2022-01-01",
            "--end",
            "2022-12-31",
            "--trades",
            "0",
        ]
        assert main(args) == 0
    out = capsys.readouterr().out
    assert "income stack (account)" in out


def test_program_describe_and_replace() -> None:
    p = PROGRAMS["bull_put_tp_sl"]
    text = p.describe()
    assert "take profit 50%" in text and "wings 100" in text
    q = replace(p, name="other")
    assert q.name == "other" and q.strikes == p.strikes

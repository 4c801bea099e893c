"""Back-test timings and the index reproductions' figures.

    python benches/backtest.py [--repeat R] [--paths N] [--data DIR] [--skip-reproductions]

1. A 20-year daily model-priced back-test of one program (the Cboe PUT rules on the S&P 500,
   2003-12-19..2023-12-28, 5,040 days, BSM at 0.85 x VIX with the SPX skew): best and median
   of R runs (target: well under a second). Also the BXM rules and a managed condor.
2. 10,000 Monte Carlo paths of a one-year monthly put-write (252 daily steps, marked every
   day), GBM and Heston, in Rust across paths (target: a few seconds).
3. The BXM reproduction against the official BXM (2002-03-22..2023-12-28) with its sensitivity
   variants, the PUT reproduction, and the BTC covered call on DVOL (2021-03-24..2026-04-06).

The price history is read from ``../shared/data`` (``--data`` or ``STRIKEGRID_DATA``
elsewhere); parts 1 and 3 are skipped without it. Timings on shared machines drift by tens of
percent between runs; compare figures of one run.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import strikegrid as sg
from strikegrid import InputError
from strikegrid.backtest import Costs, Entry, Exit, Program, Sizing, StrikeRule, Strikes
from strikegrid.backtest import indices as ix


def _time(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    out = fn()  # warm-up (file cache, first-call set-up)
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        runs.append(time.perf_counter() - t)
    return min(runs), statistics.median(runs), out


def _pct(x: float) -> str:
    return f"{x:+.2%}" if x < 0 else f"{x:.2%}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per case")
    ap.add_argument("--paths", type=int, default=10_000, help="Monte Carlo paths")
    ap.add_argument("--data", help="shared data folder (holding price_history/)")
    ap.add_argument("--skip-reproductions", action="store_true")
    args = ap.parse_args()
    print(
        f"strikegrid {sg.__version__} on {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )
    try:
        data = ix.data_dir(args.data)
    except InputError as e:
        data = None
        print(f"price history not found ({e}); history parts skipped")

    if data is not None:
        print("\n1. 20-year daily model-priced back-tests (S&P 500 2003-12-19..2023-12-28)")
        t0 = time.perf_counter()
        market = ix.spx_market(data, start="2003-12-19", end="2023-12-28")
        print(f"   market load and checks (SPX, VIX, DTB3): {time.perf_counter() - t0:.3f} s")
        pricing = ix.spx_pricing()
        condor = Program(
            "iron_condor",
            name="condor 16d, TP 50%, stop 2x, roll 14 DTE",
            entry=Entry(dte=45, on="flat"),
            strikes=Strikes(
                put=StrikeRule("delta", -0.16),
                call=StrikeRule("delta", 0.16),
                width=100,
                increment=5,
            ),
            exit=Exit(take_profit=0.5, stop_loss=2.0, roll_at_dte=14),
            sizing=Sizing(fraction=0.25, whole=True),
            costs=Costs(per_contract=0.65, fill="natural", spread=0.03, min_spread=0.1),
        )
        for prog in (ix.put_program(), ix.bxm_program(), condor):
            best, med, res = _time(
                lambda p=prog: sg.backtest(p, market, pricing=pricing), args.repeat
            )
            s = res.stats()
            print(
                f"   {prog.name:<42} {market.dates.size} days: best {best * 1e3:7.1f} ms, "
                f"median {med * 1e3:7.1f} ms  ({s['trades']} trades; annualised "
                f"{_pct(s['annualised_return'])}, vol {s['annualised_vol']:.2%}, max drawdown "
                f"{s['max_drawdown']:.2%})"
            )

    print(f"\n2. Monte Carlo: {args.paths:,} paths of a one-year monthly put-write (252 steps)")
    prog = Program(
        "cash_secured_put", strikes=Strikes(put=StrikeRule("atm", round="down"), increment=5)
    )
    for model in ("gbm", "heston"):
        for keep in (False, True):
            best, med, mc = _time(
                lambda m=model, k=keep: sg.backtest.monte_carlo(
                    prog,
                    model=m,
                    paths=args.paths,
                    years=1.0,
                    spot=4000.0,
                    drift=0.07,
                    vol=0.2,
                    rate=0.03,
                    seed=1,
                    keep_paths=k,
                ),
                args.repeat,
            )
            s = mc.summary()
            print(
                f"   {model:<6} {'keeping equity paths' if keep else 'outcomes only':<21} "
                f"best {best:6.3f} s, median {med:6.3f} s  (mean annualised "
                f"{s['mean_annualised_return']:.2%} +- {1.96 * s['se_final_equity']:.2%}, "
                f"P(loss) {s['prob_loss']:.1%}, mean max drawdown {s['mean_max_drawdown']:.1%})"
            )

    if data is None or args.skip_reproductions:
        return
    print("\n3. Index reproductions (model-priced; see strikegrid.backtest.indices)")
    t0 = time.perf_counter()
    bxm = ix.reproduce_bxm(data)
    print(bxm.table())
    put = ix.reproduce_put(data)
    print(put.table())
    btc = ix.btc_covered_call(data)
    print(btc.table())
    print(
        f"  BTC holding measured in coins: {btc.stats['btc_start']:.3f} BTC -> "
        f"{btc.stats['btc_end']:.3f} BTC"
    )
    print(f"   (all three with variants: {time.perf_counter() - t0:.2f} s)")


if __name__ == "__main__":
    main()

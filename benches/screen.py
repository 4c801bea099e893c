"""Exhaustive strategy screening against optionlab, one run.

strikegrid: every bull put spread, bear call spread and iron condor of a full real chain (every
expiry, filters off) screened with ``sg.screen`` (each candidate valued, its exact breakevens,
max profit/loss, collateral, returns, expected P&L and greeks computed, ranked, top 20 kept);
the probability of profit is computed for every candidate when ranking by it. Reported:
candidates per second.

optionlab (``pip install strikegrid[bench]``): the same strategies evaluated one by one with
``optionlab.run_strategy`` (mid premiums of the chain, the surface's ATM vol of the expiry),
on a seeded sample of the candidates; reported: strategies per second. The ratio is per
candidate, both measured here in the same run.

    .venv/bin/python benches/screen.py [--chain PATH] [--sample 200]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import strikegrid as sg

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "option_chains"


def optionlab_rate(chain: sg.Chain, surface: sg.Surface, records: np.recarray, n: int) -> float:
    import optionlab

    rng = np.random.default_rng(0)
    picks = records[rng.choice(len(records), size=min(n, len(records)), replace=False)]
    spot = float(chain.spot)
    mid = {
        (float(t), float(k), float(c)): float(m)
        for t, k, c, m in zip(chain.t, chain.strike, chain.kind, chain.mid)
    }
    legs_of = (
        ("long_put", "put", "buy", -1.0),
        ("short_put", "put", "sell", -1.0),
        ("short_call", "call", "sell", 1.0),
        ("long_call", "call", "buy", 1.0),
    )
    inputs = []
    for r in picks:
        strategy = []
        for col, kind, action, sign in legs_of:
            k = float(r[col])
            if np.isfinite(k):
                premium = mid[(float(r["t"]), k, sign)]
                strategy.append(
                    {"type": kind, "strike": k, "premium": premium, "n": 100, "action": action}
                )
        vol = float(surface.vol(float(surface.forward(r["t"])), float(r["t"])))
        inputs.append(
            {
                "stock_price": spot,
                "volatility": vol,
                "interest_rate": 0.0015,
                "min_stock": 0.5 * spot,
                "max_stock": 1.5 * spot,
                "strategy": strategy,
                "days_to_target_date": max(round(float(r["dte"])), 1),
            }
        )
    start = time.perf_counter()
    for x in inputs:
        optionlab.run_strategy(x)
    return len(inputs) / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--chain", type=Path, default=DATA / "spx_ivolatility_2011-01" / "spx_2011-01-03.csv"
    )
    ap.add_argument("--sample", type=int, default=200, help="optionlab strategies timed per kind")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    chain = sg.Chain.read_csv(args.chain)
    surface = sg.Surface.fit(chain)
    print(
        f"strikegrid {sg.__version__} ({sg.simd_level()}), chain {args.chain.name}: "
        f"{len(chain)} quotes, {len(np.unique(chain.t))} expiries"
    )
    try:
        import optionlab  # noqa: F401

        have_ol = True
    except ImportError:
        have_ol = False
        print("optionlab not installed (pip install strikegrid[bench]): strikegrid only")
    for strategy in ("bull_put_spread", "bear_call_spread", "iron_condor"):
        for rank in ("annualised_return", "pop"):
            best = np.inf
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                res = sg.screen(chain, strategy, surface=surface, rank_by=rank, frame=None)
                best = min(best, time.perf_counter() - t0)
            rate = res.generated / best
            line = (
                f"{strategy:17s} rank {rank:17s}: {res.generated:>11,} candidates in "
                f"{best * 1e3:8.1f} ms = {rate / 1e6:6.2f} M/s"
            )
            if have_ol and rank == "annualised_return":
                sample = sg.screen(
                    chain, strategy, surface=surface, top=5000, rank_by="credit_mid", frame=None
                )
                ol = optionlab_rate(chain, surface, sample.records, args.sample)
                line += f"; optionlab {ol:7.1f}/s -> {rate / ol:9,.0f}x per candidate"
            print(line)


if __name__ == "__main__":
    main()

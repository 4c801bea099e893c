"""RFQ timings: one four-leg package quote and a 10-dealer auction, from Python.

    python benches/rfq.py [--number N] [--repeat R]

Prints the best and the median of R repeats of N calls each, in microseconds per call, for the
whole operations (``Dealer.quote`` including the surface evaluation; ``run_auction`` with 10
dealers including the screen comparison) and for their parts, so the time can be attributed.
Targets (issue 8): a quote well under 100 µs, an auction well under 1 ms. Timings on shared
machines drift by tens of percent between runs; compare figures of one run.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import timeit
from collections.abc import Callable
from typing import Any

import numpy as np

import strikegrid as sg
from strikegrid import rfq
from strikegrid.rfq import _auction, _valuation

EXPIRY = "2011-02-18"


def _time(fn: Callable[[], Any], number: int, repeat: int) -> tuple[float, float]:
    runs = [t / number * 1e6 for t in timeit.repeat(fn, number=number, repeat=repeat)]
    return min(runs), statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--number", type=int, default=2000, help="calls per repeat")
    ap.add_argument("--repeat", type=int, default=7, help="repeats")
    args = ap.parse_args()
    n, r = args.number, args.repeat

    chain = sg.Chain.sample()
    surface = sg.Surface.fit(chain, rate=0.0015)
    condor = sg.strategies.iron_condor(1150, 1200, 1325, 1375, EXPIRY)
    t = chain.year_fraction(EXPIRY)
    condor_t = sg.strategies.iron_condor(1150, 1200, 1325, 1375, t)
    request = rfq.Request(condor, 100, "buy")
    request_t = rfq.Request(condor_t, 100, "buy")
    dealer = rfq.Dealer(surface, name="A")
    dealers = rfq.panel(surface, 10)
    marks = rfq.marks(surface, request._table)
    table = request._table
    ts = np.full(4, t)
    fwd = np.asarray(surface.forward(ts))
    df = np.asarray(surface.discount(ts))
    vol = np.asarray(surface.vol(table.strike, ts))
    rate = -np.log(df) / ts
    which = ["price", "delta", "gamma", "vega"]
    columns = (table.is_call, fwd, table.strike, ts, vol, rate)
    scalars = list(zip(*(c.tolist() for c in columns)))
    fwd0 = float(fwd[0])

    def envelope(f: float) -> Any:
        return _valuation.envelope_bounds(table.kinks, f)

    rows, _ = _auction._chain_rows(chain, condor, table)
    assert rows is not None
    fees, model = rfq.Fees(), rfq.ScreenModel()

    def greeks_scalar() -> Any:
        return [sg.greeks(*a, 0.0, model="black76", which=which) for a in scalars]

    def leg_values() -> Any:
        return _valuation.leg_marks(surface, ts, table.strike, table.is_call, table.american)

    def surface_calls() -> Any:
        return surface.forward(ts), surface.discount(ts), surface.vol(table.strike, ts)

    few = max(n // 10, 1)
    cases: list[tuple[str, Callable[[], Any], int]] = [
        ("quote: Dealer.quote, 4-leg condor, date expiries", lambda: dealer.quote(request), n),
        ("quote: the same, year-fraction expiries", lambda: dealer.quote(request_t), n),
        ("  valuation: rfq.marks (surface, greeks, bounds)", lambda: rfq.marks(surface, table), n),
        ("    leg values: package kernel (leg_marks, 4 legs)", leg_values, n),
        ("    for comparison: surface.forward + discount + vol", surface_calls, n),
        ("    for comparison: sg.greeks scalar fast path x 4", greeks_scalar, n),
        ("    no-arbitrage bounds (envelope at the forward)", lambda: envelope(fwd0), n),
        (
            "  pricing: Dealer.quote_marks (charges, legs)",
            lambda: dealer.quote_marks(request, marks),
            n,
        ),
        (
            "auction: run_auction, 10 dealers, seed=7",
            lambda: rfq.run_auction(request, dealers, seed=7),
            few,
        ),
        ("  np.random.default_rng(seed)", lambda: np.random.default_rng(7), n),
        (
            "  screen legging (4 legs)",
            lambda: _auction.legging(chain, request, "buy", rows, fees, model),
            n,
        ),
        ("rfq.Request(...) construction", lambda: rfq.Request(condor, 100, "buy"), n),
        ("for comparison: Package.value(surface)", lambda: condor.value(surface), few),
    ]
    cpus = os.cpu_count()
    print(
        f"strikegrid {sg.__version__}, Python {platform.python_version()}, numpy {np.__version__}"
    )
    print(f"{cpus} CPUs; best and median of {r} repeats, microseconds per call")
    # Let the CPU settle on a clock speed before the first timing.
    end = timeit.default_timer() + 0.5
    while timeit.default_timer() < end:
        dealer.quote(request)
    for label, fn, number in cases:
        fn()  # warm caches (expiry year fractions, chain row index)
        best, med = _time(fn, number, r)
        print(f"{label:<56} {best:9.1f} {med:9.1f}")


if __name__ == "__main__":
    main()

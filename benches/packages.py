"""Batch package valuation against a fitted surface, next to the European kernels (one run).

1,000,000 four-leg packages (iron condors with random centre, wing width and expiry on the
embedded SPX sample surface) valued with ``strikegrid.package.value_packages``: fair value,
delta/gamma/vega/theta/rho, probability of profit (smile-consistent), expected P&L, max
profit/loss and breakevens. In the same run: pricing the 4,000,000 legs as European options
(``sg.price``, Black-76, vols given) and their price + five greeks (``sg.greeks``), and
evaluating the surface vol at the 4,000,000 legs. Best of ``--repeat``.

Two orders of the same packages: grouped by expiry (as a screen produces them) and shuffled.

    .venv/bin/python benches/packages.py
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import strikegrid as sg
from strikegrid import _core
from strikegrid.package import value_packages

SIX = ["price", "delta", "gamma", "vega", "theta", "rho"]


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def condors(surface: sg.Surface, n: int, grouped: bool, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    spot = surface.chain.spot
    t = rng.choice(surface.kernel_market()[1], n)
    if grouped:
        t = np.sort(t)
    centre = spot * rng.uniform(0.85, 1.05, n)
    width = spot * rng.uniform(0.01, 0.05, n)
    strike = np.stack([centre - 2 * width, centre - width, centre + width, centre + 2 * width], 1)
    return {
        "kind": np.ascontiguousarray(np.broadcast_to([-1.0, -1.0, 1.0, 1.0], (n, 4))),
        "strike": np.ascontiguousarray(strike),
        "expiry": np.ascontiguousarray(np.repeat(t[:, None], 4, 1)),
        "qty": np.ascontiguousarray(np.broadcast_to([1.0, -1.0, -1.0, 1.0], (n, 4))),
        "premium": -0.3 * width,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    chain = sg.Chain.sample()
    surface = sg.Surface.fit(chain, rate=0.0015)
    ts = surface.kernel_market()[1]
    n = args.n
    print(
        f"strikegrid {sg.__version__}, simd {sg.simd_level()}; {n:,} four-leg packages, "
        f"surface of {len(ts)} SVI slices (SPX sample)"
    )
    for grouped in (True, False):
        run(surface, condors(surface, n, grouped), grouped, args.repeat)


def run(surface: sg.Surface, b: dict[str, np.ndarray], grouped: bool, repeat: int) -> None:
    spot, ts, log_f, log_df, params = surface.kernel_market()
    n = b["premium"].size
    z = np.zeros(n)
    kind, strike, expiry, qty = b["kind"], b["strike"], b["expiry"], b["qty"]
    fwd = np.exp(np.interp(expiry, ts, log_f))
    vol = np.asarray(surface.vol(strike, expiry))
    rate = 0.0015
    legs = kind.size
    cases = {
        "kernel": lambda: _core.package_value(
            spot, ts, log_f, log_df, params, kind, strike, expiry, qty, z, z, b["premium"]
        ),
        "wrapped": lambda: value_packages(surface, kind, strike, expiry, qty, premium=b["premium"]),
        "prices": lambda: sg.price(kind, fwd, strike, expiry, vol, rate, model="black76"),
        "greeks": lambda: sg.greeks(
            kind, fwd, strike, expiry, vol, rate, model="black76", which=SIX
        ),
        "vols": lambda: surface.vol(strike, expiry),
    }
    t = {name: best(fn, repeat) for name, fn in cases.items()}
    t_k = t["kernel"]
    print(f"\n{'grouped by expiry' if grouped else 'shuffled expiries'}:")
    print(f"  packages, kernel          {t_k * 1e3:8.1f} ms  {n / t_k / 1e6:6.2f} M packages/s")
    print(f"  packages, value_packages  {t['wrapped'] * 1e3:8.1f} ms  (with money greeks)")
    for name, label in (("prices", "European prices"), ("greeks", "price+5 greeks ")):
        ratio = t_k / t[name]
        print(f"  {legs:,} {label}  {t[name] * 1e3:8.1f} ms  -> packages / this {ratio:5.1f}x")
    print(f"  {legs:,} surface vols     {t['vols'] * 1e3:8.1f} ms")


if __name__ == "__main__":
    main()

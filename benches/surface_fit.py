"""Chain to surface timings on the real snapshots in ../shared/data (one run, best of 5).

For every chain: load the CSV (``sg.Chain.read_csv``), then imply forwards and vols and fit the
surface (``sg.Surface.fit``), and evaluate the surface on a 1,000 x 100 strike/expiry grid next to
the European pricing kernel on the same grid, so the two are compared in one run.

    .venv/bin/python benches/surface_fit.py
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import strikegrid as sg

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "option_chains"


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--model", default="svi", choices=["svi", "ssvi"])
    args = ap.parse_args()
    paths = sorted(DATA.glob("*/*.csv"))
    if not paths:
        raise SystemExit(f"no chains under {DATA}")
    print(f"strikegrid {sg.__version__}, simd {sg.simd_level()}, model {args.model}")
    header = (
        f"{'chain':<26} {'quotes':>6} {'expiries':>8} {'load ms':>8} {'fit ms':>8} "
        f"{'grid vol ms':>11} {'grid price ms':>13} {'in b/a':>7}"
    )
    print(header)
    print("-" * len(header))
    for path in paths:
        chain = sg.Chain.read_csv(path)
        load = best(lambda p=path: sg.Chain.read_csv(p), args.repeat)
        fit = best(lambda c=chain: sg.Surface.fit(c, model=args.model), args.repeat)
        surface = sg.Surface.fit(chain, model=args.model)
        ts = np.array([s.t for s in surface.slices])
        f = float(surface.forward(ts[len(ts) // 2]))
        strikes = np.linspace(0.6 * f, 1.4 * f, 1000)[:, None]
        expiries = np.linspace(ts[0], ts[-1], 100)[None, :]
        grid = (surface, strikes, expiries)
        grid_vol = best(lambda g=grid: g[0].vol(g[1], g[2]), args.repeat)
        vols = np.asarray(surface.vol(strikes, expiries))
        priced = (f, strikes, expiries, vols)
        grid_price = best(
            lambda a=priced: sg.price("call", a[0], a[1], a[2], a[3], model="black76"),
            args.repeat,
        )
        inside = np.mean([s.inside_share for s in surface.slices])
        print(
            f"{path.stem:<26} {len(chain):>6} {len(surface.slices):>8} {1e3 * load:>8.1f} "
            f"{1e3 * fit:>8.1f} {1e3 * grid_vol:>11.2f} {1e3 * grid_price:>13.2f} "
            f"{100 * inside:>6.1f}%"
        )


if __name__ == "__main__":
    main()

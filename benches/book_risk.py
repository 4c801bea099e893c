"""Scenario revaluation of a 10,000-position income book, Rust kernel vs. numpy (one run).

The book (seeded): iron condors, verticals (bull put and bear call spreads), covered calls
and cash-secured puts in equal numbers on the embedded SPX sample surface, strikes on the
listed 5-point grid around the spot, expiries among the surface's slices up to a year,
quantities 1-10. Grid: 41 spot shocks (-20%..+20%) x 21 vol shocks (-10..+10 points) x 10
days = 8,610 scenarios, sticky strike.

Timed in the same run: the kernel (``strikegrid._core.scenario_values`` on the packed
arrays, across all cores), ``Book.scenarios`` end to end (warm: packing cached), and a
vectorised numpy implementation written here (Black-76 with ``scipy.special.ndtr`` over the
same legs and grid, one spot shock at a time, legs x vols x days broadcast); both must agree.

    .venv/bin/python benches/book_risk.py [--positions 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np
from scipy.special import ndtr

import strikegrid as sg
from strikegrid import _core
from strikegrid import strategies as st
from strikegrid.book import Book


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def build_book(surface: sg.Surface, n: int, seed: int = 7) -> Book:
    rng = np.random.default_rng(seed)
    spot = surface.chain.spot
    ts = surface.kernel_market()[1]
    ts = ts[ts <= 1.0]
    book = Book(surfaces={"SPX": surface})

    def k(x: float) -> float:
        return float(5 * round(x / 5))

    for i in range(n):
        t = float(rng.choice(ts))
        q = float(rng.integers(1, 11))
        w = k(spot * rng.uniform(0.02, 0.06))
        kind = i % 4
        if kind == 0:
            c = spot * rng.uniform(0.95, 1.05)
            pkg = st.iron_condor(k(c - 2 * w), k(c - w), k(c + w), k(c + 2 * w), t)
            entry = -0.3 * w
        elif kind == 1:
            if rng.random() < 0.5:
                ks = k(spot * rng.uniform(0.85, 1.0))
                pkg = st.bull_put_spread(ks, ks - w, t)
            else:
                ks = k(spot * rng.uniform(1.0, 1.15))
                pkg = st.bear_call_spread(ks, ks + w, t)
            entry = -0.3 * w
        elif kind == 2:
            pkg = st.covered_call(k(spot * rng.uniform(1.0, 1.1)), t, price=spot)
            entry = -0.02 * spot
        else:
            pkg = st.cash_secured_put(k(spot * rng.uniform(0.85, 1.0)), t)
            entry = -0.02 * spot
        book.add(pkg, q, entry, "2011-01-03", id=f"p{i}")
    return book


def numpy_grid(
    surface: sg.Surface, pk: object, spot_s: np.ndarray, vol_s: np.ndarray, days: np.ndarray
) -> np.ndarray:
    """The book's value (n_spot, n_vol, n_days) by vectorised numpy: the kernel's dynamics
    (forward F (1+s) e^{-b d/365}, rate and vol held, expired legs at intrinsic on the
    shocked spot) written out again."""
    s0 = surface.chain.spot
    active = pk.qty != 0.0  # type: ignore[attr-defined]
    kind = pk.kind[active]  # type: ignore[attr-defined]
    strike = pk.strike[active]  # type: ignore[attr-defined]
    t = pk.expiry[active]  # type: ignore[attr-defined]
    coef = (pk.qty * pk.weight[:, None])[active]  # type: ignore[attr-defined]
    fwd = np.asarray(surface.forward(t))
    rate = -np.log(np.asarray(surface.discount(t))) / t
    vol = np.asarray(surface.vol(strike, t))
    carry = np.log(fwd / s0) / t
    a = float(np.sum(pk.under_qty * pk.weight))  # type: ignore[attr-defined]
    c = -float(np.sum(pk.under_cost * pk.weight))  # type: ignore[attr-defined]
    dt = days[None, None, :] / 365.0
    tau = t[:, None, None] - dt  # legs x 1 x days
    alive = tau > 0
    tau_c = np.where(alive, tau, 1.0)
    disc = np.exp(-rate[:, None, None] * tau_c)
    sig = np.maximum(vol[:, None] + vol_s[None, :], 0.0)[:, :, None]  # legs x vols x 1
    sd = np.maximum(sig * np.sqrt(tau_c), 1e-300)
    phi = kind[:, None, None]
    k3 = strike[:, None, None]
    out = np.empty((spot_s.size, vol_s.size, days.size))
    for i, s in enumerate(spot_s):
        f = (1 + s) * fwd[:, None, None] * np.exp(-carry[:, None, None] * dt)
        d1 = np.log(f / k3) / sd + 0.5 * sd
        d2 = d1 - sd
        px = phi * disc * (f * ndtr(phi * d1) - k3 * ndtr(phi * d2))
        intrinsic = np.maximum(phi * ((1 + s) * s0 - k3), 0.0)
        px = np.where(alive, px, intrinsic)
        out[i] = np.tensordot(coef, px, axes=(0, 0)) + a * s0 * (1 + s) + c
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--positions", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    surface = sg.Surface.fit(sg.Chain.sample(), rate=0.0015)
    t0 = time.perf_counter()
    book = build_book(surface, args.positions)
    t_build = time.perf_counter() - t0
    spot_s = np.linspace(-0.2, 0.2, 41)
    vol_s = np.linspace(-0.10, 0.10, 21)
    days = np.arange(10.0)
    n_scen = spot_s.size * vol_s.size * days.size
    t0 = time.perf_counter()
    ((_, _, pk),) = book._groups(None)
    t_pack = time.perf_counter() - t0
    legs = int(np.count_nonzero(pk.qty))
    s0, ts, log_f, log_df, params = surface.kernel_market()
    group = np.zeros(pk.weight.size, dtype=np.uint32)

    def kernel() -> np.ndarray:
        return _core.scenario_values(
            s0, ts, log_f, log_df, params, pk.kind, pk.strike, pk.expiry, pk.qty,
            pk.under_qty, pk.under_cost, pk.weight, group, 1, spot_s, vol_s, days,
        )[..., 0]  # fmt: skip

    print(
        f"strikegrid {sg.__version__}, simd {sg.simd_level()}, {os.cpu_count()} CPUs "
        f"(RAYON_NUM_THREADS={os.environ.get('RAYON_NUM_THREADS', 'unset')})"
    )
    print(
        f"book: {len(book):,} positions, {legs:,} option legs; grid {spot_s.size} spot x "
        f"{vol_s.size} vol x {days.size} days = {n_scen:,} scenarios "
        f"= {legs * n_scen / 1e6:,.0f} M option valuations"
    )
    print(f"  building the book (10k add calls)  {t_build:8.2f} s;  packing {t_pack:6.2f} s")
    values = kernel()
    t_kernel = best(kernel, args.repeat)
    t_book = best(lambda: book.scenarios(spot=spot_s, vol=vol_s, days=days), args.repeat)
    t0 = time.perf_counter()
    ref = numpy_grid(surface, pk, spot_s, vol_s, days)
    t_numpy = time.perf_counter() - t0
    scale = float(np.max(np.abs(values)))
    err = float(np.max(np.abs(values - ref)))
    rate = legs * n_scen / t_kernel / 1e6
    print(f"  Rust kernel (best of {args.repeat})  {t_kernel:8.3f} s  ({rate:,.0f} M options/s)")
    print(f"  Book.scenarios (warm)       {t_book:8.3f} s")
    print(f"  numpy + scipy.special.ndtr  {t_numpy:8.3f} s  (one run)")
    print(f"  ratio numpy / kernel        {t_numpy / t_kernel:8.1f}x")
    print(f"  agreement: max |diff| {err:.3g} on values up to {scale:.3g} (rel {err / scale:.1e})")
    assert err <= 1e-9 * scale, "kernel and numpy disagree"


if __name__ == "__main__":
    main()

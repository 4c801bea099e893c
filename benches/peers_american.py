#!/usr/bin/env python3
"""American options: strikegrid's engines against QuantLib's, one run on the same machine.

Every engine prices the same seeded book of American options (``--n``, 2,000 by default):
calls and puts 50/50, strike 100, spot U(70, 130), expiry from 1 week to 3 years (log-uniform
in whole days), vol U(0.05, 1.0), rate U(0, 0.10), dividend yield U(0, 0.08).

* strikegrid: ``sg.price(kind, spot, strike, expiry, vol, rate, div, exercise="american",
  method=M)`` called once on the whole arrays, for M in "fast", "accurate" (the default),
  "high_precision", "baw", "bjerksund_stensland" and "lattice" (``steps=801``);
* QuantLib-Python, in a Python loop over the options as its users write it (quotes, flat
  term structures, process, instrument and engine built for each option, then ``NPV()``):
  ``QdFpAmericanEngine`` with its fast, accurate and high-precision schemes,
  ``BaroneAdesiWhaleyApproximationEngine``, ``BjerksundStenslandApproximationEngine`` and
  ``BinomialVanillaEngine(process, "lr", 801)``. The two slow ones run on a subset
  (``--hp-n``, ``--lattice-n``), their rate and error measured there.

Expiries are whole days on an Actual/365 (Fixed) clock: QuantLib gets ``today + days`` and
strikegrid ``days / 365``, so both price the same contract. The reference is strikegrid's
converged preset, ``method="high_precision"`` (about 5e-8 on a spot-100 scale; the Rust tests
check it against a finer ALO scheme and a lattice); every engine is reported as options per
second (best of a few timed passes after a warm-up; building the book and the reference is not
timed) and as its max abs error against that reference.

Usage::

    python benches/peers_american.py [--n 2000] [--quick] [--seed 20241124] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))

from peers import _error_text, fmt_sci  # noqa: E402  (the sibling script)

#: Business terms of the book.
STRIKE = 100.0
SPOT_RANGE = (70.0, 130.0)
EXPIRY_DAYS = (7, 3 * 365)
VOL_RANGE = (0.05, 1.0)
RATE_RANGE = (0.0, 0.10)
DIV_RANGE = (0.0, 0.08)
DAYS_PER_YEAR = 365.0
LATTICE_STEPS = 801
#: Options each Python loop prices once before it is timed (imports, caches).
LOOP_WARMUP = 20
#: Options whose QuantLib object construction alone is timed (the NPV left out).
SETUP_PROBE_N = 500
#: The reference method and what is known of its accuracy.
REFERENCE_METHOD = "high_precision"
REFERENCE_NOTE = (
    "strikegrid's converged ALO preset, sg.price(..., exercise='american',"
    " method='high_precision'): accurate to about 5e-8 on a spot-100 scale (the Rust tests"
    " check it against a finer ALO scheme and a Leisen-Reimer lattice)"
)
#: strikegrid method and the QuantLib engine it is compared with, like for like.
PAIRS: tuple[tuple[str, str], ...] = (
    ("strikegrid accurate", "QuantLib QdFp accurate"),
    ("strikegrid fast", "QuantLib QdFp fast"),
    ("strikegrid baw", "QuantLib BAW"),
    ("strikegrid bjerksund_stensland", "QuantLib BjS"),
    ("strikegrid high_precision", "QuantLib QdFp high_precision"),
    ("strikegrid lattice", "QuantLib binomial LR"),
)
#: The pairs the summary headline is about (the others are printed too).
HEADLINE_PAIRS = 4


# ------------------------------------------------------------------------------------------
# the book
# ------------------------------------------------------------------------------------------


@dataclass
class Book:
    """A batch of American options; ``expiry`` is exactly ``days / 365``."""

    is_call: np.ndarray
    spot: np.ndarray
    days: np.ndarray
    vol: np.ndarray
    rate: np.ndarray
    div: np.ndarray
    strike: float = STRIKE
    expiry: np.ndarray = field(init=False)

    ARRAYS = ("is_call", "spot", "days", "vol", "rate", "div")

    def __post_init__(self) -> None:
        """Expiry in years on the Actual/365 (Fixed) clock QuantLib is given."""
        self.expiry = self.days.astype(np.float64) / DAYS_PER_YEAR

    @property
    def n(self) -> int:
        """Number of options."""
        return int(self.spot.size)

    def head(self, m: int) -> Book:
        """The first ``m`` options (the book is random, so this is a random sample)."""
        return Book(**{k: getattr(self, k)[:m] for k in self.ARRAYS}, strike=self.strike)


def make_book(n: int, seed: int) -> Book:
    """Seeded random book over the ranges above."""
    rng = np.random.default_rng(seed)
    lo, hi = EXPIRY_DAYS
    days = np.rint(np.exp(rng.uniform(math.log(lo), math.log(hi), n))).astype(np.int64)
    return Book(
        is_call=rng.random(n) < 0.5,
        spot=rng.uniform(*SPOT_RANGE, n),
        days=np.clip(days, lo, hi),
        vol=rng.uniform(*VOL_RANGE, n),
        rate=rng.uniform(*RATE_RANGE, n),
        div=rng.uniform(*DIV_RANGE, n),
    )


# ------------------------------------------------------------------------------------------
# engines
# ------------------------------------------------------------------------------------------


@dataclass
class Engine:
    """One way of pricing the book: vectorised over it, or a Python loop over a subset."""

    name: str
    library: str
    mode: str  # "vector" or "loop"
    size: int
    price: Callable[[Book], np.ndarray] | None = None
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None


def _dist_version(dist: str, module: Any = None) -> str:
    """Installed version of a distribution (or the module's ``__version__``)."""
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:
        return str(getattr(module, "__version__", "?"))


def strikegrid_engines(sg: Any, book: Book, steps: int) -> list[Engine]:
    """strikegrid's American methods, each one vectorised call on the whole book."""
    engines = []
    for method in ("fast", "accurate", "high_precision", "baw", "bjerksund_stensland", "lattice"):
        extra: dict[str, Any] = {"steps": steps} if method == "lattice" else {}

        def price(x: Book, method: str = method, extra: dict[str, Any] = extra) -> np.ndarray:
            return sg.price(
                x.is_call,
                x.spot,
                x.strike,
                x.expiry,
                x.vol,
                x.rate,
                x.div,
                exercise="american",
                method=method,
                **extra,
            )

        engine = Engine(f"strikegrid {method}", "strikegrid", "vector", book.n, price)
        if method == "accurate":
            engine.notes.append("the default method (method=None)")
        if method == REFERENCE_METHOD:
            engine.notes.append("the reference itself: its error is 0 by construction")
        if method == "lattice":
            engine.notes.append(f"Leisen-Reimer, steps={steps}")
        engines.append(engine)
    return engines


def quantlib_engines(book: Book, args: argparse.Namespace) -> list[Engine]:
    """QuantLib's American engines, each in a Python loop that builds everything per option."""
    names = (
        ("QuantLib QdFp fast", book.n),
        ("QuantLib QdFp accurate", book.n),
        ("QuantLib QdFp high_precision", min(args.hp_n, book.n)),
        ("QuantLib BAW", book.n),
        ("QuantLib BjS", book.n),
        ("QuantLib binomial LR", min(args.lattice_n, book.n)),
    )
    try:
        import QuantLib as ql
    except Exception as exc:
        reason = f"not importable ({_error_text(exc)})"
        return [Engine(name, "QuantLib", "loop", 0, skipped=reason) for name, _ in names]

    today = ql.Date(2, ql.January, 2025)
    ql.Settings.instance().evaluationDate = today  # once, outside every timed loop
    steps = args.steps
    qdfp = ql.QdFpAmericanEngine
    schemes = {
        "fast": qdfp.fastScheme(),
        "accurate": qdfp.accurateScheme(),
        "high_precision": qdfp.highPrecisionScheme(),
    }
    factories: dict[str, Callable[[Any], Any]] = {
        "QuantLib QdFp fast": lambda p: qdfp(p, schemes["fast"]),
        "QuantLib QdFp accurate": lambda p: qdfp(p, schemes["accurate"]),
        "QuantLib QdFp high_precision": lambda p: qdfp(p, schemes["high_precision"]),
        "QuantLib BAW": ql.BaroneAdesiWhaleyApproximationEngine,
        "QuantLib BjS": ql.BjerksundStenslandApproximationEngine,
        "QuantLib binomial LR": lambda p: ql.BinomialVanillaEngine(p, "lr", steps),
    }
    notes = {
        "QuantLib QdFp fast": ["QdFpAmericanEngine(process, QdFpAmericanEngine.fastScheme())"],
        "QuantLib QdFp accurate": [
            "QdFpAmericanEngine(process, QdFpAmericanEngine.accurateScheme())"
        ],
        "QuantLib QdFp high_precision": [
            "QdFpAmericanEngine(process, QdFpAmericanEngine.highPrecisionScheme())"
        ],
        "QuantLib BAW": ["BaroneAdesiWhaleyApproximationEngine(process)"],
        "QuantLib BjS": [
            "BjerksundStenslandApproximationEngine(process): QuantLib implements the 1993"
            " approximation (flat boundary); strikegrid's is the 2002 two-step one"
        ],
        "QuantLib binomial LR": [f'BinomialVanillaEngine(process, "lr", {steps})'],
    }
    dc = ql.Actual365Fixed()
    calendar = ql.NullCalendar()
    continuous = ql.Continuous
    call, put = ql.Option.Call, ql.Option.Put

    def build(
        c: bool, s: float, d: int, v: float, r: float, q: float, k: float, make: Callable | None
    ) -> Any:
        """One option with its own quotes, handles, flat curves, process and engine (if any)."""
        spot = ql.QuoteHandle(ql.SimpleQuote(s))
        rates = ql.YieldTermStructureHandle(ql.FlatForward(today, r, dc, continuous))
        divs = ql.YieldTermStructureHandle(ql.FlatForward(today, q, dc, continuous))
        vols = ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, calendar, v, dc))
        process = ql.BlackScholesMertonProcess(spot, divs, rates, vols)
        option = ql.VanillaOption(
            ql.PlainVanillaPayoff(call if c else put, k), ql.AmericanExercise(today, today + d)
        )
        if make is not None:
            option.setPricingEngine(make(process))
        return option

    def columns(x: Book) -> tuple[list[Any], ...]:
        return (
            x.is_call.tolist(),
            x.spot.tolist(),
            x.days.tolist(),
            x.vol.tolist(),
            x.rate.tolist(),
            x.div.tolist(),
        )

    def loop(make: Callable[[Any], Any]) -> Callable[[Book], np.ndarray]:
        def price(x: Book) -> np.ndarray:
            k = x.strike
            out = []
            for c, s, d, v, r, q in zip(*columns(x)):
                try:
                    out.append(build(c, s, d, v, r, q, k, make).NPV())
                except RuntimeError:  # a QuantLib error: counted as NaN
                    out.append(math.nan)
            return np.array(out, dtype=np.float64)

        return price

    version = _dist_version("QuantLib", ql)
    engines = []
    for name, size in names:
        engine = Engine(name, f"QuantLib {version}", "loop", size, loop(factories[name]))
        engine.notes += notes[name]
        if size < book.n:
            engine.notes.append(f"slow: timed on the first {size:,} options of the book")
        engines.append(engine)

    # How much of a QuantLib loop is object construction alone (reported, never subtracted);
    # the engine is left out, its construction cost differs from engine to engine.
    probe = book.head(min(SETUP_PROBE_N, book.n))
    best = math.inf
    for _ in range(max(args.loop_repeat, 1) + 1):  # the first pass is a warm-up
        t0 = time.perf_counter()
        for c, s, d, v, r, q in zip(*columns(probe)):
            build(c, s, d, v, r, q, probe.strike, None)
        best = min(best, time.perf_counter() - t0)
    setup_us = best / max(probe.n, 1) * 1e6
    engines[0].notes.append(
        f"all QuantLib loops: building one option's quotes, handles, curves, process and"
        f" instrument alone (no engine, no NPV) takes {setup_us:.1f} us (best pass over"
        f" {probe.n:,} options); it is inside every QuantLib timing, as in user code"
    )
    return engines


# ------------------------------------------------------------------------------------------
# timing and errors
# ------------------------------------------------------------------------------------------


@dataclass
class Run:
    """What was measured for one engine."""

    name: str
    library: str
    mode: str
    size: int
    notes: list[str]
    skipped: str | None = None
    error: str | None = None
    seconds: float | None = None
    prices: np.ndarray | None = None


def measure(engine: Engine, book: Book, repeat: int, loop_repeat: int) -> Run:
    """Warm up, then the best wall time of the timed passes, and the prices of the last one.

    Vectorised: one warm-up call on the whole book, best of ``repeat`` calls. Loops: one pass
    over the first LOOP_WARMUP options, then best of ``loop_repeat`` passes over the first
    ``engine.size``.
    """
    run = Run(engine.name, engine.library, engine.mode, engine.size, engine.notes)
    run.skipped = engine.skipped
    if engine.skipped or engine.price is None:
        run.skipped = run.skipped or "nothing to run"
        return run
    sub = book.head(engine.size)
    vector = engine.mode == "vector"
    try:
        engine.price(sub if vector else sub.head(LOOP_WARMUP))
        best = math.inf
        out: Any = None
        for _ in range(max(repeat if vector else loop_repeat, 1)):
            t0 = time.perf_counter()
            out = engine.price(sub)
            best = min(best, time.perf_counter() - t0)
        prices = np.asarray(out, dtype=np.float64).ravel()
        if prices.shape != (sub.n,):
            raise ValueError(f"returned shape {prices.shape}, expected ({sub.n},)")
        run.seconds = best
        run.prices = prices
    except Exception as exc:
        run.error = _error_text(exc)
    return run


def error_stats(prices: np.ndarray, ref: np.ndarray, floor: np.ndarray, book: Book) -> dict:
    """Max and mean abs error against the reference, NaNs, and the worst option.

    ``floor`` is max(European, intrinsic): an engine that returns it everywhere, while the
    reference is above it somewhere, prices no early exercise (a stub).
    """
    err = np.abs(prices - ref)
    finite = np.isfinite(err)
    stats: dict[str, Any] = {
        "nan": int((~finite).sum()),
        "max_abs": float(err[finite].max()) if finite.any() else None,
        "mean_abs": float(err[finite].mean()) if finite.any() else None,
        "no_early_exercise": bool(
            np.max(ref - floor, initial=0.0) > 1e-6
            and np.max(np.abs(prices - floor), initial=0.0) < 1e-12
        ),
        "worst": None,
    }
    if finite.any() and stats["max_abs"]:
        i = int(np.argmax(np.where(finite, err, -np.inf)))
        stats["worst"] = {
            "index": i,
            "kind": "call" if book.is_call[i] else "put",
            "spot": float(book.spot[i]),
            "days": int(book.days[i]),
            "vol": float(book.vol[i]),
            "rate": float(book.rate[i]),
            "div": float(book.div[i]),
            "reference": float(ref[i]),
            "price": float(prices[i]),
        }
    return stats


def build_report(
    runs: list[Run],
    book: Book,
    ref: np.ndarray,
    european: np.ndarray,
    machine: dict[str, Any],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Throughput, errors and the like-for-like ratios, JSON-able."""
    phi = np.where(book.is_call, 1.0, -1.0)
    floor = np.maximum(european, np.maximum(phi * (book.spot - book.strike), 0.0))
    rows = []
    for run in runs:
        if run.skipped:
            continue
        rate = run.size / run.seconds if run.seconds else None
        row: dict[str, Any] = {
            "engine": run.name,
            "library": run.library,
            "mode": run.mode,
            "options": run.size,
            "seconds": run.seconds,
            "options_per_s": rate,
            "us_per_option": 1e6 / rate if rate else None,
            "error": run.error,
        }
        if run.prices is not None:
            m = run.size
            row.update(error_stats(run.prices, ref[:m], floor[:m], book.head(m)))
        rows.append(row)
    by_name = {row["engine"]: row for row in rows}
    prices = {run.name: run.prices for run in runs if run.prices is not None}
    ratios = []
    for sg_name, ql_name in PAIRS:
        a, b = by_name.get(sg_name), by_name.get(ql_name)
        ok = a and b and a.get("options_per_s") and b.get("options_per_s")
        # strikegrid's error on the options QuantLib priced (its subset for the slow engines)
        sg_err = None
        if b and sg_name in prices and ql_name in prices:
            m = b["options"]
            sg_err = float(np.nanmax(np.abs(prices[sg_name][:m] - ref[:m])))
        ratios.append(
            {
                "strikegrid": sg_name,
                "quantlib": ql_name,
                "speedup": a["options_per_s"] / b["options_per_s"] if ok else None,
                "strikegrid_max_abs_same_options": sg_err,
                "quantlib_max_abs": b.get("max_abs") if b else None,
                "quantlib_options": b["options"] if b else None,
            }
        )
    return {
        "meta": {
            "n": book.n,
            "calls": int(book.is_call.sum()),
            "seed": args.seed,
            "strike": book.strike,
            "spot": SPOT_RANGE,
            "expiry_days": EXPIRY_DAYS,
            "vol": VOL_RANGE,
            "rate": RATE_RANGE,
            "div": DIV_RANGE,
            "steps": args.steps,
            "repeat": args.repeat,
            "loop_repeat": args.loop_repeat,
            "loop_warmup": LOOP_WARMUP,
            "reference": REFERENCE_NOTE,
            "early_exercise_premium_max": float(np.max(ref - european)),
            **machine,
        },
        "rows": rows,
        "ratios": ratios,
        "skipped": {r.name: r.skipped for r in runs if r.skipped},
        "notes": {r.name: r.notes for r in runs if r.notes},
    }


# ------------------------------------------------------------------------------------------
# report
# ------------------------------------------------------------------------------------------


def fmt_rate(x: float | None) -> str:
    """Options per second, with a unit that keeps a few significant digits."""
    if x is None:
        return "-"
    if x >= 1e6:
        return f"{x / 1e6:7.2f} M/s"
    if x >= 1e3:
        return f"{x / 1e3:7.1f} k/s"
    return f"{x:7.1f}  /s"


def fmt_us(x: float | None) -> str:
    """Microseconds per option."""
    if x is None:
        return "-"
    return f"{x:10.3f}" if x < 10 else f"{x:10.1f}"


def machine_info(sg: Any) -> dict[str, Any]:
    """What the numbers depend on: CPUs, SIMD level, versions."""
    cpu_model = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
        "simd_level": sg.simd_level(),
        "strikegrid": getattr(sg, "__version__", "?"),
        "RAYON_NUM_THREADS": os.environ.get("RAYON_NUM_THREADS"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
    }


def print_report(report: dict[str, Any]) -> None:
    """Details per engine, notes, the table and the like-for-like ratios."""
    meta = report["meta"]
    print()
    print(f"reference: {meta['reference']}")
    print(
        f"  largest early-exercise premium in the book (reference - European):"
        f" {meta['early_exercise_premium_max']:.4g}"
    )
    print()
    for row in report["rows"]:
        print(f"[{row['engine']}] {row['library']}, {row['options']:,} options ({row['mode']})")
        if row["error"]:
            print(f"  error: {row['error']}")
            continue
        w = row.get("worst")
        if w:
            print(
                f"  worst: {w['kind']} S={w['spot']:.4f} T={w['days']}d vol={w['vol']:.4f}"
                f" r={w['rate']:.4f} q={w['div']:.4f}: {w['price']!r} vs reference"
                f" {w['reference']!r}"
            )
        if row.get("no_early_exercise"):
            print(
                "  its prices are max(European, intrinsic) everywhere: no early-exercise"
                " premium (a stub in this build?)"
            )
    print()
    print("notes:")
    for name, notes in report["notes"].items():
        for note in notes:
            print(f"  {name}: {note}")
    for name, reason in report["skipped"].items():
        print(f"  {name}: skipped ({reason})")
    print()
    rayon = meta["RAYON_NUM_THREADS"]
    print(
        f"machine: {meta['cpu_count']} CPUs ({meta['cpu_model']}), strikegrid"
        f" {meta['strikegrid']} simd_level={meta['simd_level']!r}, RAYON_NUM_THREADS="
        f"{rayon or 'unset (all CPUs)'}; Python {meta['python']}, numpy {meta['numpy']};"
        f" {meta['platform']}"
    )
    print(
        f"summary: American, {meta['n']:,} options ({meta['calls']:,} calls), strike"
        f" {meta['strike']:g}, spot {meta['spot'][0]:g}-{meta['spot'][1]:g}, expiry"
        f" {meta['expiry_days'][0]}-{meta['expiry_days'][1]} days (Actual/365), vol"
        f" {meta['vol'][0]:g}-{meta['vol'][1]:g}, rate {meta['rate'][0]:g}-{meta['rate'][1]:g},"
        f" div {meta['div'][0]:g}-{meta['div'][1]:g}, seed {meta['seed']};"
        f" strikegrid: one vectorised call, best of {meta['repeat']} after 1 warm-up;"
        f" QuantLib: Python loop, best of {meta['loop_repeat']} after a"
        f" {meta['loop_warmup']}-option warm-up; errors: max |price - reference|, reference ="
        " strikegrid high_precision (~5e-8)"
    )
    head = (
        f"{'engine':<30} {'options':>8} {'options/s':>12} {'us/option':>10}"
        f" {'max abs err':>12} {'mean abs err':>12} {'NaN':>5}"
    )
    print(head)
    print("-" * len(head))
    for row in report["rows"]:
        name = row["engine"]
        if row["error"]:
            print(f"{name:<30} {row['options']:>8,} error: {row['error']}")
            continue
        flag = "  (= max(European, intrinsic))" if row.get("no_early_exercise") else ""
        if name == f"strikegrid {REFERENCE_METHOD}":
            flag = "  (reference)"
        print(
            f"{name:<30} {row['options']:>8,} {fmt_rate(row['options_per_s']):>12}"
            f" {fmt_us(row['us_per_option']):>10} {fmt_sci(row.get('max_abs')):>12}"
            f" {fmt_sci(row.get('mean_abs')):>12} {row.get('nan', 0):>5}{flag}"
        )
    for name, reason in report["skipped"].items():
        print(f"{name:<30} skipped ({reason})")
    print()
    print(
        "throughput of strikegrid over QuantLib, like for like (options/s ratio), and the max"
        " abs errors of the two on the same options:"
    )
    for i, r in enumerate(report["ratios"]):
        if i == HEADLINE_PAIRS:
            print("  also:")
        speed = "-" if r["speedup"] is None else f"{r['speedup']:8.1f}x"
        subset = ""
        if r["quantlib_options"] is not None and r["quantlib_options"] < meta["n"]:
            subset = f", both on the {r['quantlib_options']:,} options QuantLib priced"
        print(
            f"  {r['strikegrid']:<30} / {r['quantlib']:<28} {speed:>9}"
            f"   (max abs err {fmt_sci(r['strikegrid_max_abs_same_options']).strip()}"
            f" vs {fmt_sci(r['quantlib_max_abs']).strip()}{subset})"
        )


# ------------------------------------------------------------------------------------------
# main
# ------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line; ``--quick`` shrinks every count that was not given."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=None, help="options in the book (2,000; quick: 40)")
    p.add_argument("--quick", action="store_true", help="a tiny smoke run")
    p.add_argument("--seed", type=int, default=20241124, help="random seed of the book")
    p.add_argument("--repeat", type=int, default=None, help="timed strikegrid calls (5; quick: 1)")
    p.add_argument(
        "--loop-repeat", type=int, default=None, help="timed QuantLib loop passes (3; quick: 1)"
    )
    p.add_argument(
        "--hp-n",
        type=int,
        default=None,
        help="options for QuantLib's high-precision QdFp scheme (100; quick: 10)",
    )
    p.add_argument(
        "--lattice-n",
        type=int,
        default=None,
        help="options for QuantLib's binomial engine (200; quick: 10)",
    )
    p.add_argument(
        "--steps", type=int, default=LATTICE_STEPS, help="lattice steps, both libraries (801)"
    )
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="write results here")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="set RAYON_NUM_THREADS before strikegrid is imported",
    )
    args = p.parse_args(argv)
    defaults = {"n": 2000, "repeat": 5, "loop_repeat": 3, "hp_n": 100, "lattice_n": 200}
    quick = {"n": 40, "repeat": 1, "loop_repeat": 1, "hp_n": 10, "lattice_n": 10}
    for key, value in (quick if args.quick else defaults).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    for key in ("n", "repeat", "loop_repeat", "hp_n", "lattice_n"):
        if getattr(args, key) < 1:
            p.error(f"--{key.replace('_', '-')} must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Build the book and the reference, time every engine, print the report."""
    args = parse_args(argv)
    if args.threads:
        os.environ["RAYON_NUM_THREADS"] = str(args.threads)
    try:
        import strikegrid as sg

        sg.price("put", 100.0, 100.0, 1.0, 0.2, 0.05, 0.0, exercise="american")
    except Exception as exc:
        print(
            f"strikegrid with exercise='american' is needed (the reference): {_error_text(exc)};"
            " rebuild it into this venv: pip install -e .",
            file=sys.stderr,
        )
        return 2

    book = make_book(args.n, args.seed)
    machine = machine_info(sg)
    print(
        f"strikegrid American peer comparison: {book.n:,} options"
        f" ({int(book.is_call.sum()):,} calls), seed {args.seed};"
        f" {machine['cpu_count']} CPUs, simd_level={machine['simd_level']!r}"
    )
    # Not timed: the reference, and the European prices (to spot engines that ignore exercise).
    common = (book.is_call, book.spot, book.strike, book.expiry, book.vol, book.rate, book.div)
    ref = np.asarray(sg.price(*common, exercise="american", method=REFERENCE_METHOD), np.float64)
    european = np.asarray(sg.price(*common), np.float64)
    if not np.isfinite(ref).all():
        print(f"warning: {int((~np.isfinite(ref)).sum())} reference prices are not finite")

    engines = strikegrid_engines(sg, book, args.steps) + quantlib_engines(book, args)
    runs = []
    for engine in engines:
        if not engine.skipped:
            print(f"  timing {engine.name} ({engine.size:,} options) ...", flush=True)
        runs.append(measure(engine, book, args.repeat, args.loop_repeat))

    report = build_report(runs, book, ref, european, machine, args)
    print_report(report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Peer comparison for implied volatility: strikegrid against other solvers, one run.

Every implementation inverts the same seeded batch of European Black-Scholes-Merton premiums
(``--n`` quotes, 1,000,000 by default: spot around 100, strikes 50..150, expiries 0.02..2
years, true vols 0.05..0.8, rate 0.03, dividend yield 0.01, calls and puts 50/50). The
premiums are ``strikegrid.price`` of the true vols, so the error of a solver is
``|vol_hat - vol_true|``.

* strikegrid: ``sg.implied_vol(premium, kind, spot, strike, expiry, rate, div, model="bsm")``;
* pyvolr (Rust/PyO3): ``pyvolr.bs.implied_vol`` (Let's Be Rational), vectorised;
* py_vollib_vectorized (numba): ``vectorized_implied_volatility(model='black_scholes_merton')``;
* py_lets_be_rational: ``implied_volatility_from_a_transformed_rational_guess`` on the Black
  form of each quote, in a Python loop over the first ``--loop-n`` quotes (20,000);
* QuantLib: ``blackFormulaImpliedStdDev`` in a Python loop over the first ``--loop-n`` quotes;
* scipy: ``brentq`` on a plain BSM formula (``scipy.special.ndtr``) over the first
  ``--brentq-n`` quotes (2,000).

py_vollib_vectorized and py_lets_be_rational only run on old interpreters (see
``benches/requirements-peers.txt``), so by default they are driven in worker subprocesses of
the Python 3.9 virtualenv (``--pvv-python``, default ``<repo>/.venv-pvv/bin/python``), like
``benches/peers.py`` does. Loops are timed on their subsample and reported as quotes per second
(scaled: the rate measured on the subsample). Vectorised calls: one warm-up, best of
``--repeat``.

Errors are taken over the quotes whose premium pins the vol down to ``--tol`` (1e-12): premium
a normal float and ``vega > (2**-53 / tol) * premium``, i.e. half an ulp of the premium moves
the vol by less than ``tol``. Failures (NaN or non-finite results) are counted on all quotes
and on that subset. A peer that is missing or fails is reported as skipped and the run goes on.

Usage::

    python benches/peers_iv.py [--n 1000000] [--repeat 3] [--seed 20240611] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))

from peers import (  # noqa: E402  (the sibling script, importable once its folder is on the path)
    DIV,
    RATE,
    _error_text,
    fmt_rate,
    fmt_ratio,
    fmt_sci,
    fmt_time,
    make_inputs,
    np_bsm_greeks,
    pvv_python,
)

PVV = "py_vollib_vectorized"
LBR = "py_lets_be_rational"
QL = "QuantLib"
BRENTQ = "scipy brentq"
#: Implementations that run in the Python 3.9 worker by default.
WORKER_IMPLS: tuple[str, ...] = (PVV, LBR)
#: Unit roundoff of float64: half an ulp of a premium, relative.
UNIT_ROUNDOFF = 2.0**-53
#: The looser conditioning floors the errors are also reported on (vega > floor * premium).
LADDER: tuple[float, ...] = (1e-10, 1e-8, 1e-6)
#: Quotes each loop runs once before it is timed (imports, JIT compilation, caches).
LOOP_WARMUP = 200
BRENTQ_BRACKET = (1e-6, 10.0)
BRENTQ_XTOL = 1e-15


# ------------------------------------------------------------------------------------------
# quotes
# ------------------------------------------------------------------------------------------


@dataclass
class Quotes:
    """A batch of quotes: option terms, the true vol, its premium and the premium's vega."""

    is_call: np.ndarray
    spot: np.ndarray
    strike: np.ndarray
    expiry: np.ndarray
    vol: np.ndarray
    premium: np.ndarray
    vega: np.ndarray
    rate: float = RATE
    div: float = DIV
    sign: np.ndarray = field(init=False)
    flags: np.ndarray = field(init=False)

    ARRAYS = ("is_call", "spot", "strike", "expiry", "vol", "premium", "vega")

    def __post_init__(self) -> None:
        """Derive the +1/-1 (int8) and 'c'/'p' encodings of the kinds."""
        self.sign = np.where(self.is_call, 1, -1).astype(np.int8)
        self.flags = np.where(self.is_call, "c", "p")

    @property
    def n(self) -> int:
        """Number of quotes."""
        return int(self.spot.size)

    def head(self, m: int) -> Quotes:
        """The first ``m`` quotes (views; the batch is random, so this is a random sample)."""
        return Quotes(
            **{k: getattr(self, k)[:m] for k in self.ARRAYS}, rate=self.rate, div=self.div
        )

    def save(self, path: Path) -> None:
        """Write the batch to an ``.npz`` file (for the worker subprocesses)."""
        arrays = {k: getattr(self, k) for k in self.ARRAYS}
        np.savez(path, rate=np.float64(self.rate), div=np.float64(self.div), **arrays)

    @classmethod
    def load(cls, path: Path) -> Quotes:
        """Read a batch written by :meth:`save`."""
        with np.load(path) as z:
            arrays = {k: z[k] for k in cls.ARRAYS}
            return cls(**arrays, rate=float(z["rate"]), div=float(z["div"]))


def make_quotes(n: int, seed: int) -> tuple[Quotes, str]:
    """The batch of ``benches/peers.py`` (same seed, same terms) priced at its true vols.

    Premiums and vegas come from strikegrid; the numpy + scipy closed form stands in when
    strikegrid cannot be imported (the second item says which priced them).
    """
    inp = make_inputs(n, seed)
    args = (inp.spot, inp.strike, inp.expiry, inp.vol, inp.rate, inp.div)
    try:
        import strikegrid as sg

        premium = np.asarray(sg.price(inp.is_call, *args, model="bsm"), dtype=np.float64)
        vega = sg.greeks(inp.is_call, *args, model="bsm", which=["vega"])["vega"]
        source = f"strikegrid {sg.__version__} sg.price / sg.greeks(which=['vega'])"
    except Exception as exc:
        print(f"note: strikegrid unavailable ({_error_text(exc)}); premiums from numpy+scipy")
        out = np_bsm_greeks(inp.sign.astype(np.float64), *args)
        premium, vega = out["price"], out["vega"]
        source = "numpy+scipy closed form (strikegrid not importable)"
    quotes = Quotes(
        is_call=inp.is_call,
        spot=inp.spot,
        strike=inp.strike,
        expiry=inp.expiry,
        vol=inp.vol,
        premium=np.ascontiguousarray(premium, dtype=np.float64),
        vega=np.ascontiguousarray(vega, dtype=np.float64),
        rate=inp.rate,
        div=inp.div,
    )
    return quotes, source


def invertible(q: Quotes, ratio: float) -> np.ndarray:
    """Quotes whose premium determines the vol: a normal float and vega > ratio * premium."""
    return (q.premium > np.finfo(np.float64).tiny) & (q.vega > ratio * q.premium)


# ------------------------------------------------------------------------------------------
# the solvers
# ------------------------------------------------------------------------------------------


@dataclass
class Solver:
    """One implementation: ``solve(quotes) -> vols`` (float64, NaN where it failed).

    ``mode`` is "vector" (one call on the whole batch) or "loop" (a Python loop, timed on the
    first ``size`` quotes).
    """

    name: str
    mode: str = "vector"
    size: int = 0
    version: str = ""
    solve: Callable[[Quotes], np.ndarray] | None = None
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None


def _dist_version(dist: str, module: Any = None) -> str:
    """Installed version of a distribution (or the module's ``__version__``)."""
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:
        return str(getattr(module, "__version__", "?"))


def build_strikegrid(q: Quotes, args: argparse.Namespace) -> Solver:
    """strikegrid's vectorised implied vol, kinds as a bool array (True = call)."""
    solver = Solver("strikegrid", size=q.n)
    try:
        import strikegrid as sg
    except Exception as exc:
        solver.skipped = f"import failed ({_error_text(exc)})"
        return solver
    solver.version = str(getattr(sg, "__version__", "?"))
    implied_vol = getattr(sg, "implied_vol", None)
    if implied_vol is None:
        solver.skipped = f"strikegrid {solver.version} has no implied_vol yet"
        return solver

    def solve(x: Quotes) -> np.ndarray:
        return implied_vol(
            x.premium, x.is_call, x.spot, x.strike, x.expiry, x.rate, x.div, model="bsm"
        )

    solver.solve = solve
    simd = getattr(sg, "simd_level", None)
    if callable(simd):
        solver.notes.append(f"simd_level() = {simd()}")
    solver.notes.append("kinds as a bool array; scalar rate and div")
    return solver


def build_pyvolr(q: Quotes, args: argparse.Namespace) -> Solver:
    """pyvolr.bs.implied_vol(price, flag, S, K, T, r, q, on_error='ignore')."""
    solver = Solver("pyvolr", size=q.n)
    try:
        import pyvolr
        from pyvolr import bs
    except Exception as exc:
        solver.skipped = f"not importable ({_error_text(exc)})"
        return solver
    solver.version = _dist_version("pyvolr", pyvolr)

    def solve(x: Quotes) -> np.ndarray:
        return bs.implied_vol(
            x.premium, x.sign, x.spot, x.strike, x.expiry, x.rate, x.div, on_error="ignore"
        )

    solver.solve = solve
    solver.notes += [
        "bs.implied_vol (Jaeckel's Let's Be Rational in Rust); on_error='ignore' (NaN, no"
        " warning) for unsolvable quotes",
        "kinds as an int8 +1/-1 array; batches run on rayon's thread pool (all cores)",
    ]
    return solver


def build_pvv(q: Quotes, args: argparse.Namespace) -> Solver:
    """py_vollib_vectorized.vectorized_implied_volatility(model='black_scholes_merton')."""
    solver = Solver(PVV, size=q.n)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numba deprecation chatter on import
            import py_vollib_vectorized as pvv
    except Exception as exc:
        solver.skipped = f"not importable ({_error_text(exc)})"
        return solver
    solver.version = _dist_version("py_vollib_vectorized", pvv)

    def solve(x: Quotes) -> np.ndarray:
        return pvv.vectorized_implied_volatility(
            x.premium,
            x.spot,
            x.strike,
            x.expiry,
            x.rate,
            x.flags,
            q=x.div,
            model="black_scholes_merton",
            return_as="numpy",
            on_error="ignore",
        )

    try:  # compiles the numba kernels; fails on interpreters numba can no longer type it on
        solve(q.head(4))
    except Exception as exc:
        solver.skipped = (
            f"failed on Python {platform.python_version()} ({_error_text(exc)}); it needs"
            " Python 3.9 (numba <= 0.58) or 3.10 with numba <= 0.55: use --pvv-python"
        )
        return solver
    solver.solve = solve
    solver.notes += [
        "vectorized_implied_volatility(..., q=div, model='black_scholes_merton',"
        " return_as='numpy', on_error='ignore'): Let's Be Rational compiled with numba,"
        " single-threaded; it NaNs quotes below intrinsic or above the maximum itself",
        "kinds as a 'c'/'p' string array (its API turns them into floats in a Python loop,"
        " inside the timed call)",
    ]
    return solver


def build_lbr(q: Quotes, args: argparse.Namespace) -> Solver:
    """py_lets_be_rational in a Python loop, on the Black (forward, undiscounted) form."""
    solver = Solver(LBR, mode="loop", size=min(args.loop_n, q.n))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import py_lets_be_rational as lbr
            from py_lets_be_rational import exceptions as lbr_exc
    except Exception as exc:
        solver.skipped = f"not importable ({_error_text(exc)})"
        return solver
    solver.version = _dist_version("py_lets_be_rational", lbr)
    solve_one = lbr.implied_volatility_from_a_transformed_rational_guess
    caught = (lbr_exc.BelowIntrinsicException, lbr_exc.AboveMaximumException, ZeroDivisionError)
    sentinel = sys.float_info.max  # +-DBL_MAX: its "above maximum" / "below intrinsic" values

    def solve(x: Quotes) -> np.ndarray:
        forward = (x.spot * np.exp((x.rate - x.div) * x.expiry)).tolist()
        undiscounted = (x.premium * np.exp(x.rate * x.expiry)).tolist()
        theta = x.sign.astype(np.float64).tolist()
        out = []
        for p, f, k, t, th in zip(
            undiscounted, forward, x.strike.tolist(), x.expiry.tolist(), theta
        ):
            try:
                v = solve_one(p, f, k, t, th)
            except caught:
                v = math.nan
            out.append(math.nan if abs(v) >= sentinel else v)
        return np.array(out, dtype=np.float64)

    solver.solve = solve
    numba = "numba-compiled inner functions" if _has_numba() else "pure Python (no numba)"
    solver.notes += [
        "implied_volatility_from_a_transformed_rational_guess(price * exp(r t),"
        " S exp((r - q) t), K, t, +1 call / -1 put) per quote in a Python loop; the"
        f" vectorised BSM-to-Black conversion is inside the timed region; {numba}",
        "BelowIntrinsic/AboveMaximum exceptions and its +-DBL_MAX signal values count as NaN",
    ]
    return solver


def _has_numba() -> bool:
    """Whether numba is importable here (py_lets_be_rational then JIT-compiles its kernels)."""
    try:
        import numba  # noqa: F401
    except Exception:
        return False
    return True


def build_quantlib(q: Quotes, args: argparse.Namespace) -> Solver:
    """QuantLib's blackFormulaImpliedStdDev in a Python loop, stdDev / sqrt(t) = vol."""
    solver = Solver(QL, mode="loop", size=min(args.loop_n, q.n))
    try:
        import QuantLib as ql
    except Exception as exc:
        solver.skipped = f"not importable ({_error_text(exc)})"
        return solver
    solver.version = _dist_version("QuantLib", ql)
    call, put = ql.Option.Call, ql.Option.Put
    implied_std_dev = ql.blackFormulaImpliedStdDev
    guess = ql.nullDouble()  # QuantLib's own approximation starts the solver
    accuracy = args.ql_accuracy
    max_iter = args.ql_max_iterations

    def solve(x: Quotes) -> np.ndarray:
        forward = (x.spot * np.exp((x.rate - x.div) * x.expiry)).tolist()
        discount = np.exp(-x.rate * x.expiry).tolist()
        sqrt_t = np.sqrt(x.expiry).tolist()
        out = []
        for c, k, f, p, d, st in zip(
            x.is_call.tolist(), x.strike.tolist(), forward, x.premium.tolist(), discount, sqrt_t
        ):
            try:
                sd = implied_std_dev(call if c else put, k, f, p, d, 0.0, guess, accuracy, max_iter)
            except RuntimeError:
                out.append(math.nan)
                continue
            out.append(sd / st)
        return np.array(out, dtype=np.float64)

    solver.solve = solve
    solver.notes += [
        f"blackFormulaImpliedStdDev(type, K, F = S exp((r - q) t), premium, discount"
        f" exp(-r t), displacement 0, guess Null (its approximation), accuracy {accuracy:g},"
        f" maxIterations {max_iter}) per quote in a Python loop; vol = stdDev / sqrt(t)",
        f"accuracy is the solver's tolerance on the std-dev (vol * sqrt(t)), not on the vol:"
        f" {accuracy:g} / sqrt(t) in vol terms; QuantLib errors (RuntimeError) count as NaN",
    ]
    return solver


def build_brentq(q: Quotes, args: argparse.Namespace) -> Solver:
    """scipy.optimize.brentq on price(vol) - premium, one quote at a time."""
    solver = Solver(BRENTQ, mode="loop", size=min(args.brentq_n, q.n))
    try:
        import scipy
        from scipy.optimize import brentq
        from scipy.special import ndtr
    except Exception as exc:
        solver.skipped = f"not importable ({_error_text(exc)})"
        return solver
    solver.version = f"scipy {scipy.__version__}"
    lo, hi = BRENTQ_BRACKET
    exp, log, sqrt = math.exp, math.log, math.sqrt

    def solve(x: Quotes) -> np.ndarray:
        r, d = x.rate, x.div
        out = []
        for s, spot, k, t, p in zip(
            x.sign.tolist(),
            x.spot.tolist(),
            x.strike.tolist(),
            x.expiry.tolist(),
            x.premium.tolist(),
        ):
            # the plain closed form; only what does not depend on vol is hoisted
            spot_disc, strike_disc = spot * exp(-d * t), k * exp(-r * t)
            drift, sqrt_t = log(spot / k) + (r - d) * t, sqrt(t)

            def f(
                vol: float,
                s: float = s,
                p: float = p,
                t: float = t,
                sqrt_t: float = sqrt_t,
                drift: float = drift,
                spot_disc: float = spot_disc,
                strike_disc: float = strike_disc,
            ) -> float:
                sd = vol * sqrt_t
                d1 = (drift + 0.5 * vol * vol * t) / sd
                d2 = d1 - sd
                return s * (spot_disc * ndtr(s * d1) - strike_disc * ndtr(s * d2)) - p

            try:
                out.append(brentq(f, lo, hi, xtol=BRENTQ_XTOL))
            except (ValueError, RuntimeError):  # no sign change on the bracket / no convergence
                out.append(math.nan)
        return np.array(out, dtype=np.float64)

    solver.solve = solve
    solver.notes += [
        f"brentq(price(vol) - premium, {lo:g}, {hi:g}, xtol={BRENTQ_XTOL:g}, rtol=4 eps"
        " (its minimum), maxiter=100) per quote; price = the BSM closed form on Python floats"
        " with scipy.special.ndtr (the vol-free terms computed once per quote)",
        "no sign change on the bracket (premium outside the bracket's prices) or no"
        " convergence count as NaN",
    ]
    return solver


BUILDERS: dict[str, Callable[[Quotes, argparse.Namespace], Solver]] = {
    "strikegrid": build_strikegrid,
    "pyvolr": build_pyvolr,
    PVV: build_pvv,
    LBR: build_lbr,
    QL: build_quantlib,
    BRENTQ: build_brentq,
}


# ------------------------------------------------------------------------------------------
# timing
# ------------------------------------------------------------------------------------------


@dataclass
class Run:
    """What was measured for one implementation."""

    name: str
    mode: str
    size: int
    version: str = ""
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None
    error: str | None = None
    seconds: float | None = None
    vols: np.ndarray | None = None


def measure(solver: Solver, q: Quotes, repeat: int, loop_repeat: int) -> Run:
    """Warm up, then the best wall time of the timed calls, and the vols of the last one.

    Vectorised: one warm-up call on the whole batch, best of ``repeat``. Loops: one warm-up
    pass over the first LOOP_WARMUP quotes, then best of ``loop_repeat`` passes over the
    first ``solver.size`` quotes.
    """
    run = Run(solver.name, solver.mode, solver.size, solver.version, solver.notes)
    run.skipped = solver.skipped
    if solver.skipped or solver.solve is None:
        run.skipped = run.skipped or "nothing to run"
        return run
    sub = q.head(solver.size)
    times = repeat if solver.mode == "vector" else loop_repeat
    try:
        solver.solve(sub if solver.mode == "vector" else sub.head(LOOP_WARMUP))
        best = math.inf
        out: Any = None
        for _ in range(max(times, 1)):
            t0 = time.perf_counter()
            out = solver.solve(sub)
            best = min(best, time.perf_counter() - t0)
        run.seconds = best
        vols = np.asarray(out, dtype=np.float64).ravel()
        if vols.shape != (sub.n,):
            raise ValueError(f"returned shape {vols.shape}, expected ({sub.n},)")
        run.vols = vols
    except Exception as exc:
        run.error = _error_text(exc)
    return run


def run_in_worker(python: str, name: str, quotes_path: Path, args: argparse.Namespace) -> Run:
    """Run one implementation under another interpreter (worker mode of this script)."""
    io_dir = Path(tempfile.mkdtemp(prefix="work-", dir=quotes_path.parent))
    cmd = [python, str(Path(__file__).resolve()), "--worker", name, "--io", str(io_dir)]
    cmd += ["--quotes", str(quotes_path), "--repeat", str(args.repeat)]
    cmd += ["--loop-repeat", str(args.loop_repeat), "--loop-n", str(args.loop_n)]
    cmd += ["--brentq-n", str(args.brentq_n), "--ql-accuracy", repr(args.ql_accuracy)]
    cmd += ["--ql-max-iterations", str(args.ql_max_iterations)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError as exc:
        return Run(name, "", 0, skipped=f"worker {python} not runnable ({exc})")
    result = io_dir / "result.json"
    if proc.returncode != 0 or not result.exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return Run(name, "", 0, skipped=f"worker {python} failed (rc {proc.returncode}): {tail[0]}")
    meta = json.loads(result.read_text())
    vols_path = io_dir / "vols.npy"
    run = Run(
        meta["name"],
        meta["mode"],
        meta["size"],
        meta["version"],
        meta["notes"],
        meta["skipped"],
        meta["error"],
        meta["seconds"],
        np.load(vols_path) if vols_path.exists() else None,
    )
    run.notes = [
        *run.notes,
        f"run in a worker subprocess: {python} (Python {meta['python']},"
        f" numpy {meta['numpy']}, numba {meta['numba']})",
    ]
    return run


def worker_main(args: argparse.Namespace) -> int:
    """Worker mode: measure one implementation on the saved quotes, write result.json."""
    builder = BUILDERS.get(args.worker)
    if builder is None:
        print(f"unknown worker {args.worker!r}", file=sys.stderr)
        return 2
    q = Quotes.load(args.quotes)
    run = measure(builder(q, args), q, args.repeat, args.loop_repeat)
    if run.vols is not None:
        np.save(args.io / "vols.npy", run.vols)
    try:
        import numba

        numba_version = numba.__version__
    except Exception:
        numba_version = "n/a"
    meta = {f.name: getattr(run, f.name) for f in fields(run) if f.name != "vols"}
    meta.update(python=platform.python_version(), numpy=np.__version__, numba=numba_version)
    (args.io / "result.json").write_text(json.dumps(meta))
    return 0


# ------------------------------------------------------------------------------------------
# errors and report
# ------------------------------------------------------------------------------------------


def _max_at(values: np.ndarray, mask: np.ndarray) -> tuple[float | None, int | None]:
    """Largest finite value under ``mask`` and its index (None when there is none)."""
    use = mask & np.isfinite(values)
    if not use.any():
        return None, None
    i = int(np.argmax(np.where(use, values, -np.inf)))
    return float(values[i]), i


def error_stats(run: Run, q: Quotes, ratio: float, bad: float) -> dict[str, Any]:
    """Max abs/rel error on the invertible quotes, failures on all and on those quotes.

    ``wrong`` counts the invertible quotes with a finite result more than ``bad`` off.
    """
    assert run.vols is not None
    sub = q.head(run.vols.size)
    ok = invertible(sub, ratio)
    failed = ~np.isfinite(run.vols)
    err = np.abs(run.vols - sub.vol)
    max_abs, i_abs = _max_at(err, ok)
    max_rel, i_rel = _max_at(err / sub.vol, ok)
    ladder = {}
    for floor in LADDER:
        m = invertible(sub, floor)
        worst, _ = _max_at(err, m)
        ladder[f"{floor:g}"] = {"quotes": int(m.sum()), "max_abs": worst}
    worst_quote = None
    if i_abs is not None:
        worst_quote = {
            "index": i_abs,
            "kind": "call" if sub.is_call[i_abs] else "put",
            "spot": float(sub.spot[i_abs]),
            "strike": float(sub.strike[i_abs]),
            "expiry": float(sub.expiry[i_abs]),
            "vol": float(sub.vol[i_abs]),
            "premium": float(sub.premium[i_abs]),
            "vega_over_premium": float(sub.vega[i_abs] / sub.premium[i_abs]),
            "vol_hat": float(run.vols[i_abs]),
        }
    return {
        "quotes": sub.n,
        "invertible": int(ok.sum()),
        "max_abs": max_abs,
        "max_rel": max_rel,
        "worst_rel_index": i_rel,
        "nan_all": int(failed.sum()),
        "nan_invertible": int((failed & ok).sum()),
        "wrong": int((ok & ~failed & (err > bad)).sum()),
        "zeros": int(np.count_nonzero(run.vols == 0.0)),
        "zeros_invertible": int(np.count_nonzero(ok & (run.vols == 0.0))),
        "ladder": ladder,
        "worst": worst_quote,
    }


def build_report(
    runs: list[Run], q: Quotes, source: str, args: argparse.Namespace
) -> dict[str, Any]:
    """Throughput, strikegrid's speed-up and the error statistics, JSON-able."""
    ratio = UNIT_ROUNDOFF / args.tol
    sg = next((r for r in runs if r.name == "strikegrid" and r.seconds), None)
    sg_rate = sg.size / sg.seconds if sg and sg.seconds else None
    rows = []
    for run in runs:
        if run.skipped:
            continue
        rate = run.size / run.seconds if run.seconds else None
        row: dict[str, Any] = {
            "impl": run.name,
            "version": run.version,
            "mode": run.mode,
            "quotes_timed": run.size,
            "seconds": run.seconds,
            "quotes_per_s": rate,
            "scaled": run.mode == "loop",
            "seconds_for_n": q.n / rate if rate else None,
            "sg_speedup": sg_rate / rate if sg_rate and rate else None,
            "error": run.error,
        }
        if run.vols is not None:
            row.update(error_stats(run, q, ratio, args.bad_err))
        rows.append(row)
    all_ok = invertible(q, ratio)
    return {
        "meta": {
            "n": q.n,
            "calls": int(q.is_call.sum()),
            "repeat": args.repeat,
            "loop_repeat": args.loop_repeat,
            "loop_warmup": LOOP_WARMUP,
            "seed": args.seed,
            "rate": q.rate,
            "div": q.div,
            "premiums": source,
            "tol": args.tol,
            "vega_ratio": ratio,
            "bad_err": args.bad_err,
            "invertible": int(all_ok.sum()),
            "zero_or_subnormal_premiums": int((q.premium <= np.finfo(np.float64).tiny).sum()),
            "ql_accuracy": args.ql_accuracy,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "RAYON_NUM_THREADS": os.environ.get("RAYON_NUM_THREADS"),
        },
        "rows": rows,
        "skipped": {r.name: r.skipped for r in runs if r.skipped},
        "notes": {r.name: r.notes for r in runs if r.notes},
    }


def _count(x: int | None) -> str:
    """An integer with thousands separators."""
    return "-" if x is None else f"{x:,}"


def print_report(report: dict[str, Any]) -> None:
    """Details per implementation, notes, and the summary table."""
    meta = report["meta"]
    print()
    print(
        f"errors on the quotes whose premium pins the vol to {meta['tol']:g}: premium a normal"
        f" float and vega > {meta['vega_ratio']:.3g} * premium (2**-53 / tol):"
        f" {meta['invertible']:,} of {meta['n']:,}"
        f" ({meta['zero_or_subnormal_premiums']:,} premiums are zero or subnormal)"
    )
    print(f"premiums: {meta['premiums']}")
    print()
    for row in report["rows"]:
        scaled = " (loop, rate on the subsample)" if row["scaled"] else ""
        head = f"[{row['impl']}] {row['version']}, {row['quotes_timed']:,} quotes{scaled}"
        print(head)
        if row["error"]:
            print(f"  error: {row['error']}")
            continue
        print(
            f"  {fmt_rate(row['quotes_per_s']).strip()}, best {fmt_time(row['seconds']).strip()}"
            f" (for {meta['n']:,}: {fmt_time(row['seconds_for_n']).strip()}),"
            f" strikegrid speed-up {fmt_ratio(row['sg_speedup']).strip()}"
        )
        if row.get("max_abs") is not None or "nan_all" in row:
            print(
                f"  max abs err {fmt_sci(row.get('max_abs')).strip()},"
                f" max rel err {fmt_sci(row.get('max_rel')).strip()}"
                f" on {row['invertible']:,} invertible quotes;"
                f" NaN/failed {row['nan_all']:,} of {row['quotes']:,}"
                f" ({row['nan_invertible']:,} of them invertible);"
                f" off by more than {meta['bad_err']:g}: {row['wrong']:,}"
            )
            ladder = ", ".join(
                f"vega > {k} * premium ({v['quotes']:,}): {fmt_sci(v['max_abs']).strip()}"
                for k, v in row["ladder"].items()
            )
            print(f"  max abs err on looser subsets: {ladder}")
            if row["zeros"]:
                print(
                    f"  results of exactly 0.0 (not NaN): {row['zeros']:,}"
                    f" ({row['zeros_invertible']:,} of them invertible)"
                )
            w = row["worst"]
            if w:
                print(
                    f"  worst: {w['kind']} S={w['spot']:.4g} K={w['strike']:.4g}"
                    f" t={w['expiry']:.4g} vol={w['vol']:.6g} premium={w['premium']:.6g}"
                    f" vega/premium={w['vega_over_premium']:.3g} -> {w['vol_hat']!r}"
                )
    print()
    print("notes:")
    for name, notes in report["notes"].items():
        for note in notes:
            print(f"  {name}: {note}")
    for name, reason in report["skipped"].items():
        print(f"  {name}: skipped ({reason})")
    print()
    print(
        f"summary: implied vol, {meta['n']:,} BSM quotes ({meta['calls']:,} calls), seed"
        f" {meta['seed']}; vectorised: best of {meta['repeat']} after 1 warm-up; loops*: best"
        f" of {meta['loop_repeat']} over a subsample after a {meta['loop_warmup']}-quote"
        f" warm-up, quotes/s scaled from the subsample; errors |vol_hat - vol| on the"
        f" invertible quotes (vega > {meta['vega_ratio']:.3g} * premium), err>: how many of"
        f" them are off by more than that; NaN/failed on all the quotes timed and on the"
        f" invertible ones; Python {meta['python']}, {meta['cpu_count']} CPUs"
    )
    bad = f"err>{meta['bad_err']:g}"
    head = (
        f"{'impl':<22} {'quotes':>10} {'quotes/s':>12} {'sg speed-up':>12}"
        f" {'max abs err':>12} {'max rel err':>12} {'invertible':>11} {bad:>10}"
        f" {'NaN (all)':>10} {'NaN (inv.)':>10}"
    )
    print(head)
    print("-" * len(head))
    for row in report["rows"]:
        name = row["impl"] + ("*" if row["scaled"] else "")
        if row["error"]:
            print(f"{name:<22} {row['quotes_timed']:>10,} error: {row['error']}")
            continue
        print(
            f"{name:<22} {row['quotes_timed']:>10,} {fmt_rate(row['quotes_per_s']):>12}"
            f" {fmt_ratio(row['sg_speedup']):>12} {fmt_sci(row.get('max_abs')):>12}"
            f" {fmt_sci(row.get('max_rel')):>12} {_count(row.get('invertible')):>11}"
            f" {_count(row.get('wrong')):>10} {_count(row.get('nan_all')):>10}"
            f" {_count(row.get('nan_invertible')):>10}"
        )
    for name, reason in report["skipped"].items():
        print(f"{name:<22} skipped ({reason})")


# ------------------------------------------------------------------------------------------
# main
# ------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=1_000_000, help="quotes in the batch (1,000,000)")
    p.add_argument("--repeat", type=int, default=3, help="timed vectorised calls (3)")
    p.add_argument("--seed", type=int, default=20240611, help="random seed of the batch")
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="write results here")
    p.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="NAME",
        help=f"skip an implementation (repeatable): {', '.join(BUILDERS)}",
    )
    p.add_argument(
        "--pvv-python",
        default=None,
        metavar="PYTHON",
        help="interpreter of a venv with py_vollib_vectorized and py_lets_be_rational (default:"
        " $STRIKEGRID_PVV_PYTHON, else <repo>/.venv-pvv/bin/python if present, else"
        " in-process); '-' = in-process",
    )
    p.add_argument(
        "--loop-n",
        type=int,
        default=20_000,
        help="quotes for the py_lets_be_rational and QuantLib loops (20,000)",
    )
    p.add_argument("--brentq-n", type=int, default=2_000, help="quotes for the brentq loop (2,000)")
    p.add_argument("--loop-repeat", type=int, default=1, help="timed passes of each loop (1)")
    p.add_argument(
        "--tol", type=float, default=1e-12, help="vol accuracy the error subset must allow (1e-12)"
    )
    p.add_argument(
        "--bad-err",
        type=float,
        default=1e-10,
        help="count invertible quotes whose vol is off by more than this (1e-10)",
    )
    p.add_argument(
        "--ql-accuracy",
        type=float,
        default=1e-12,
        help="QuantLib solver accuracy, on the std-dev (1e-12)",
    )
    p.add_argument(
        "--ql-max-iterations", type=int, default=100, help="QuantLib solver evaluations (100)"
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="set RAYON_NUM_THREADS before anything runs (pyvolr, strikegrid)",
    )
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--io", type=Path, default=None, help=argparse.SUPPRESS)
    p.add_argument("--quotes", type=Path, default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print the report."""
    args = parse_args(argv)
    if args.threads:
        os.environ["RAYON_NUM_THREADS"] = str(args.threads)
    if args.worker:
        return worker_main(args)
    unknown = set(args.skip) - set(BUILDERS)
    if unknown:
        print(f"unknown --skip {sorted(unknown)}; names: {', '.join(BUILDERS)}", file=sys.stderr)
        return 2

    q, source = make_quotes(args.n, args.seed)
    print(
        f"strikegrid implied-vol peer comparison: {q.n:,} quotes ({int(q.is_call.sum()):,}"
        f" calls), seed {args.seed}, rate {q.rate}, div {q.div}; {os.cpu_count()} CPUs"
    )
    python = pvv_python(args.pvv_python)
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="sg-peers-iv-") as tmp:
        quotes_path: Path | None = None
        for name, builder in BUILDERS.items():
            if name in args.skip:
                runs.append(Run(name, "", 0, skipped="--skip"))
                continue
            if python and name in WORKER_IMPLS:
                print(f"  timing {name} (worker {python}) ...", flush=True)
                if quotes_path is None:
                    quotes_path = Path(tmp) / "quotes.npz"
                    q.save(quotes_path)
                runs.append(run_in_worker(python, name, quotes_path, args))
            else:
                print(f"  timing {name} ...", flush=True)
                runs.append(measure(builder(q, args), q, args.repeat, args.loop_repeat))

    report = build_report(runs, q, source, args)
    print_report(report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

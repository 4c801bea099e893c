#!/usr/bin/env python3
"""Peer comparison: strikegrid against other vectorised Black-Scholes-Merton implementations.

One run times, on the same seeded batch of mixed European calls and puts (spot around 100,
strikes 50..150, expiries 0.02..2 years, vols 0.05..0.8, rate 0.03, dividend yield 0.01):

* ``price``: the premium alone;
* ``greeks``: premium plus delta, gamma, vega, theta and rho;
* ``scalar``: one option, ``sg.price("call", 100.0, 105.0, 0.5, 0.2, 0.03, 0.01)``, in
  microseconds;

for these implementations:

* strikegrid (``sg.price`` / ``sg.greeks(which=[...])``);
* numpy + scipy: the closed forms written out below with ``scipy.special.ndtr``;
* pyvolr (Rust/PyO3, ``pyvolr.bs``);
* py_vollib_vectorized (numba). It only runs on old interpreters (see
  ``benches/requirements-peers.txt``), so by default it is driven in a worker subprocess of a
  Python 3.9 virtualenv (``--pvv-python``, default ``<repo>/.venv-pvv/bin/python`` when it
  exists); the timing code is the same in both processes.

Each vectorised task is run once to warm up, then ``--repeat`` times; the best time is reported
as options per second. The in-process implementations are timed in rounds, one call of each
per round, so that every implementation's calls spread over the same stretch of wall time: on a
shared machine a burst of load from elsewhere then slows a call of each rather than all the
calls of whichever happened to be timed at that moment (strikegrid's seven calls last 60 ms,
numpy's half a second). In each round every timed call directly follows an untimed call of the
same implementation: on this project's 2-core virtual machine a core that sat idle for some
tens of milliseconds runs the next few milliseconds markedly slower (measured four times: a
1M-option strikegrid price call after a 70 ms pause took a median 12.5-13.8 ms against 7.4-10.1
back to back), which a call of 7 ms feels and one of 65 ms hardly does, so without
it the best of a few calls measured the machine waking up as much as the code. ``--cold``
times each call straight after the other implementations' calls instead (as before this
option existed). py_vollib_vectorized, in its own interpreter, is timed after them; with only
itself in the rounds its calls follow each other anyway.
Outputs are converted to strikegrid's raw conventions (vega per 1.00 of vol, theta = -dV/dT per
year, rho per 1.00 of rate) and compared with strikegrid's: max absolute and max relative
difference. A peer that is missing or fails is reported as skipped with the
reason, and the run goes on.

Usage::

    python benches/peers.py [--n 1000000] [--repeat 5] [--seed 20240611] [--json PATH]
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
import timeit
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

RATE = 0.03
DIV = 0.01
GREEK_KEYS: tuple[str, ...] = ("price", "delta", "gamma", "vega", "theta", "rho")
TASKS: tuple[str, ...] = ("price", "greeks")
TASK_TITLES = {
    "price": "price only",
    "greeks": "price + delta, gamma, vega, theta, rho",
}
#: spot, strike, expiry, vol, rate, div of the single-option timing.
SCALAR_CASE = (100.0, 105.0, 0.5, 0.2, 0.03, 0.01)
#: Relative differences are only taken where max(|a|, |b|) exceeds this.
REL_FLOOR = 1e-8
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
PVV = "py_vollib_vectorized"
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PVV_PYTHON = REPO_ROOT / ".venv-pvv" / "bin" / "python"

Outputs = dict[str, np.ndarray]


# ------------------------------------------------------------------------------------------
# inputs
# ------------------------------------------------------------------------------------------


@dataclass
class Inputs:
    """One batch of options; ``sign`` and ``flags`` are the same kinds in other encodings."""

    is_call: np.ndarray
    spot: np.ndarray
    strike: np.ndarray
    expiry: np.ndarray
    vol: np.ndarray
    rate: float = RATE
    div: float = DIV
    sign: np.ndarray = field(init=False)
    flags: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        """Derive the +1/-1 (int8) and 'c'/'p' encodings of the kinds."""
        self.sign = np.where(self.is_call, 1, -1).astype(np.int8)
        self.flags = np.where(self.is_call, "c", "p")

    @property
    def n(self) -> int:
        """Number of options."""
        return int(self.spot.size)

    def save(self, path: Path) -> None:
        """Write the batch to an ``.npz`` file (for the worker subprocess)."""
        np.savez(
            path,
            is_call=self.is_call,
            spot=self.spot,
            strike=self.strike,
            expiry=self.expiry,
            vol=self.vol,
            rate=np.float64(self.rate),
            div=np.float64(self.div),
        )

    @classmethod
    def load(cls, path: Path) -> Inputs:
        """Read a batch written by :meth:`save`."""
        with np.load(path) as z:
            return cls(
                is_call=z["is_call"],
                spot=z["spot"],
                strike=z["strike"],
                expiry=z["expiry"],
                vol=z["vol"],
                rate=float(z["rate"]),
                div=float(z["div"]),
            )


def make_inputs(n: int, seed: int) -> Inputs:
    """Seeded random batch: 50/50 calls and puts over a wide range of moneyness and expiry."""
    rng = np.random.default_rng(seed)
    return Inputs(
        is_call=rng.random(n) < 0.5,
        spot=100.0 * np.exp(rng.normal(0.0, 0.1, n)),
        strike=rng.uniform(50.0, 150.0, n),
        expiry=rng.uniform(0.02, 2.0, n),
        vol=rng.uniform(0.05, 0.8, n),
    )


# ------------------------------------------------------------------------------------------
# the numpy + scipy baseline
# ------------------------------------------------------------------------------------------


def np_bsm_price(
    sign: Any, spot: Any, strike: Any, expiry: Any, vol: Any, rate: Any, div: Any
) -> Any:
    """Black-Scholes-Merton premium, vectorised numpy; ``sign`` is +1 (call) or -1 (put)."""
    from scipy.special import ndtr

    sd = vol * np.sqrt(expiry)
    d1 = (np.log(spot / strike) + (rate - div + 0.5 * vol * vol) * expiry) / sd
    d2 = d1 - sd
    spot_disc = spot * np.exp(-div * expiry)
    strike_disc = strike * np.exp(-rate * expiry)
    return sign * (spot_disc * ndtr(sign * d1) - strike_disc * ndtr(sign * d2))


def np_bsm_greeks(
    sign: Any,
    spot: Any,
    strike: Any,
    expiry: Any,
    vol: Any,
    rate: Any,
    div: Any,
    epsilon: bool = False,
) -> Outputs:
    """Premium and raw greeks sharing d1/d2: vega per 1.00 vol, theta -dV/dT per year, rho."""
    from scipy.special import ndtr

    sqrt_t = np.sqrt(expiry)
    sd = vol * sqrt_t
    d1 = (np.log(spot / strike) + (rate - div + 0.5 * vol * vol) * expiry) / sd
    d2 = d1 - sd
    q_disc = np.exp(-div * expiry)
    spot_disc = spot * q_disc
    strike_disc = strike * np.exp(-rate * expiry)
    n1 = ndtr(sign * d1)
    n2 = ndtr(sign * d2)
    pdf1 = np.exp(-0.5 * d1 * d1) * INV_SQRT_2PI
    sn1 = spot_disc * n1
    kn2 = strike_disc * n2
    out = {
        "price": sign * (sn1 - kn2),
        "delta": sign * q_disc * n1,
        "gamma": q_disc * pdf1 / (spot * sd),
        "vega": spot_disc * pdf1 * sqrt_t,
        "theta": -0.5 * spot_disc * pdf1 * vol / sqrt_t + sign * (div * sn1 - rate * kn2),
        "rho": sign * expiry * kn2,
    }
    if epsilon:
        out["epsilon"] = -sign * expiry * sn1
    return out


# ------------------------------------------------------------------------------------------
# implementations
# ------------------------------------------------------------------------------------------


@dataclass
class Impl:
    """An implementation under test: callables that run each task on the whole batch.

    ``price``/``greeks`` return the library's own output; ``to_price``/``to_greeks`` turn it into
    float64 arrays in strikegrid's conventions (run outside the timed region). ``alt_refs``
    maps an output name to the strikegrid outputs to sum for a second comparison (a peer whose
    quantity of that name is defined differently).
    """

    name: str
    version: str = ""
    price: Callable[[], Any] | None = None
    greeks: Callable[[], Any] | None = None
    scalar: Callable[[], Any] | None = None
    to_price: Callable[[Any], np.ndarray] = np.asarray
    to_greeks: Callable[[Any], Outputs] = dict
    notes: list[str] = field(default_factory=list)
    alt_refs: dict[str, tuple[str, ...]] = field(default_factory=dict)
    skipped: str | None = None


def _error_text(exc: BaseException) -> str:
    """First line of an exception, prefixed with its type, kept short."""
    lines = str(exc).strip().splitlines()
    first = lines[0] if lines else ""
    for line in lines:  # numba puts the useful part further down
        if "recursion" in line or "No module" in line:
            first = line.strip()
            break
    text = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def build_strikegrid(inp: Inputs) -> Impl:
    """strikegrid, with the first kind encoding it accepts (bool array per DESIGN)."""
    try:
        import strikegrid as sg
    except Exception as exc:
        return Impl("strikegrid", skipped=f"import failed ({_error_text(exc)})")
    impl = Impl("strikegrid", version=str(getattr(sg, "__version__", "?")))
    s = slice(0, 8)
    kind = None
    for label, candidate in (("bool array", inp.is_call), ("+1/-1 int8 array", inp.sign)):
        try:
            sg.price(candidate[s], inp.spot[s], inp.strike[s], inp.expiry[s], inp.vol[s], RATE)
        except Exception as exc:
            impl.notes.append(f"kind as {label} rejected: {_error_text(exc)}")
            continue
        kind = candidate
        impl.notes.append(f"kind passed as a {label}")
        break
    if kind is None:
        impl.skipped = "no kind encoding accepted: " + "; ".join(impl.notes)
        return impl
    simd = getattr(sg, "simd_level", None)
    if callable(simd):
        try:
            impl.notes.append(f"simd_level() = {simd()}")
        except Exception as exc:  # informational only
            impl.notes.append(f"simd_level() failed: {_error_text(exc)}")
    args = (kind, inp.spot, inp.strike, inp.expiry, inp.vol, inp.rate, inp.div)
    which = list(GREEK_KEYS)
    impl.price = lambda: sg.price(*args, model="bsm")
    impl.greeks = lambda: sg.greeks(*args, model="bsm", which=which)
    # Every peer's one-option call passes its arguments one by one, as users write it (a
    # `*SCALAR_CASE` unpacking costs about 0.05 us of the timed call).
    spot, strike, expiry, vol, rate, div = SCALAR_CASE
    impl.scalar = lambda: sg.price("call", spot, strike, expiry, vol, rate, div)
    impl.to_greeks = lambda out: {k: np.asarray(out[k], dtype=np.float64) for k in GREEK_KEYS}
    return impl


def strikegrid_reference(inp: Inputs) -> tuple[str, Outputs]:
    """Outputs every peer is compared against: strikegrid's, or the numpy baseline's if absent.

    Includes ``epsilon`` (for peers whose "rho" bumps rate and dividend yield together).
    """
    try:
        import strikegrid as sg

        ref = sg.greeks(
            inp.is_call,
            inp.spot,
            inp.strike,
            inp.expiry,
            inp.vol,
            inp.rate,
            inp.div,
            model="bsm",
            which=[*GREEK_KEYS, "epsilon"],
        )
        return "strikegrid", {k: np.asarray(v, dtype=np.float64) for k, v in ref.items()}
    except Exception as exc:
        print(f"note: strikegrid reference unavailable ({_error_text(exc)}); using numpy+scipy")
    sign = inp.sign.astype(np.float64)
    ref = np_bsm_greeks(
        sign, inp.spot, inp.strike, inp.expiry, inp.vol, inp.rate, inp.div, epsilon=True
    )
    return "numpy+scipy", ref


def build_numpy(inp: Inputs) -> Impl:
    """The closed forms above, vectorised numpy with scipy.special.ndtr."""
    try:
        import scipy
        import scipy.special
    except Exception as exc:
        return Impl("numpy+scipy", skipped=f"scipy import failed ({_error_text(exc)})")
    impl = Impl("numpy+scipy", version=f"numpy {np.__version__}, scipy {scipy.__version__}")
    sign = inp.sign.astype(np.float64)
    args = (sign, inp.spot, inp.strike, inp.expiry, inp.vol, inp.rate, inp.div)
    impl.price = lambda: np_bsm_price(*args)
    impl.greeks = lambda: np_bsm_greeks(*args)
    spot, strike, expiry, vol, rate, div = SCALAR_CASE
    impl.scalar = lambda: np_bsm_price(1.0, spot, strike, expiry, vol, rate, div)
    impl.notes.append("single-threaded numpy; kinds as a float +1/-1 array; outputs already raw")
    return impl


def build_pyvolr(inp: Inputs) -> Impl:
    """pyvolr.bs: price(flag, S, K, T, r, sigma, q) and greeks(...) (five greeks, no price)."""
    try:
        import pyvolr
        from pyvolr import bs
    except Exception as exc:
        return Impl("pyvolr", skipped=f"not importable ({_error_text(exc)})")
    impl = Impl("pyvolr", version=str(getattr(pyvolr, "__version__", "?")))
    # note pyvolr's argument order: r before sigma, q last.
    args = (inp.sign, inp.spot, inp.strike, inp.expiry, inp.rate, inp.vol, inp.div)
    spot, strike, expiry, vol, rate, div = SCALAR_CASE

    def both() -> tuple[Any, Any]:
        return bs.price(*args), bs.greeks(*args)

    def to_greeks(out: tuple[Any, Any]) -> Outputs:
        price, g = out
        res = {"price": np.asarray(price, dtype=np.float64)}
        res.update({k: np.asarray(g[k], dtype=np.float64) for k in GREEK_KEYS[1:]})
        return res

    impl.price = lambda: bs.price(*args)
    impl.greeks = both
    impl.scalar = lambda: bs.price("c", spot, strike, expiry, rate, vol, div)
    impl.to_greeks = to_greeks
    impl.notes += [
        "greeks task = bs.price + bs.greeks (bs.greeks returns delta, gamma, theta, vega, rho"
        " without the premium)",
        "units already raw (vega per 1.00 vol, theta per year, rho per 1.00): no conversion",
        "kinds as an int8 +1/-1 array; batches run on rayon's thread pool (all cores)",
    ]
    return impl


def build_pvv(inp: Inputs) -> Impl:
    """py_vollib_vectorized: vectorized_black_scholes_merton and get_all_greeks (numba)."""
    try:
        import py_vollib_vectorized as pvv
    except Exception as exc:
        return Impl(PVV, skipped=f"not importable ({_error_text(exc)})")
    try:
        from importlib.metadata import version

        ver = version("py_vollib_vectorized")
    except Exception:
        ver = str(getattr(pvv, "__version__", "?"))
    impl = Impl(PVV, version=ver)
    args = (inp.flags, inp.spot, inp.strike, inp.expiry, inp.rate, inp.vol, inp.div)
    spot, strike, expiry, vol, rate, div = SCALAR_CASE

    def price_fn(a: tuple[Any, ...] = args) -> Any:
        return pvv.vectorized_black_scholes_merton(*a, return_as="numpy")

    def greeks_fn(a: tuple[Any, ...] = args) -> tuple[Any, Any]:
        g = pvv.get_all_greeks(*a, model="black_scholes_merton", return_as="dict")
        return price_fn(a), g

    def to_greeks(out: tuple[Any, Any]) -> Outputs:
        price, g = out
        return {
            "price": np.asarray(price, dtype=np.float64),
            "delta": np.asarray(g["delta"], dtype=np.float64),
            "gamma": np.asarray(g["gamma"], dtype=np.float64),
            "vega": 100.0 * np.asarray(g["vega"], dtype=np.float64),
            "theta": 365.0 * np.asarray(g["theta"], dtype=np.float64),
            "rho": 100.0 * np.asarray(g["rho"], dtype=np.float64),
        }

    probe = tuple(a[:4] if isinstance(a, np.ndarray) else a for a in args)
    try:  # compiles the numba kernels; fails on interpreters numba can no longer type it on
        to_greeks(greeks_fn(probe))
    except Exception as exc:
        impl.skipped = (
            f"numba compile failed on Python {platform.python_version()} ({_error_text(exc)});"
            " it needs Python 3.9 (numba <= 0.58) or 3.10 with numba <= 0.55: use --pvv-python"
        )
        return impl
    impl.price = price_fn
    impl.greeks = greeks_fn
    impl.scalar = lambda: pvv.vectorized_black_scholes_merton(
        "c", spot, strike, expiry, rate, vol, div, return_as="numpy"
    )
    impl.to_greeks = to_greeks
    impl.alt_refs = {"rho": ("rho", "epsilon")}
    impl.notes += [
        "greeks task = vectorized_black_scholes_merton + get_all_greeks(model="
        "'black_scholes_merton'); its greeks are finite differences, so part of the"
        " difference is bump error",
        "converted: vega x100 (its vega = (V(vol+0.01) - V(vol-0.01))/2, per vol point);"
        " theta x365 (its theta = V(T - 1/365) - V(T), one calendar day, forward difference);"
        " rho x100 (per rate point); delta (central dS = 0.01) and gamma as given",
        "its rho bumps rate AND dividend yield by 0.01 together (carry r - q held fixed),"
        " i.e. rho + epsilon (= -T*V): also compared with strikegrid's rho + epsilon",
        "kinds as a 'c'/'p' string array (its API turns them into floats in a Python loop,"
        " inside the timed call); single-threaded numba",
    ]
    return impl


# ------------------------------------------------------------------------------------------
# timing
# ------------------------------------------------------------------------------------------


@dataclass
class Measured:
    """Best time of one task and its outputs in strikegrid's conventions."""

    seconds: float | None = None
    outputs: Outputs | None = None
    error: str | None = None


@dataclass
class ImplRun:
    """Everything measured for one implementation."""

    name: str
    version: str
    notes: list[str]
    alt_refs: dict[str, tuple[str, ...]]
    skipped: str | None = None
    tasks: dict[str, Measured] = field(default_factory=dict)
    scalar_us: float | None = None
    scalar_error: str | None = None


def scalar_times_us(fns: dict[str, Callable[[], Any]], repeat: int) -> dict[str, float | str]:
    """Best per-call time in microseconds of each single-option call (timeit loops autoranged to
    0.2 s each, best of >= 5 rounds, the calls interleaved round by round as the vectorised
    tasks are); a call that raises gets its error text instead."""
    timers: dict[str, tuple[timeit.Timer, int]] = {}
    result: dict[str, float | str] = {}
    for name, fn in fns.items():
        try:
            timer = timeit.Timer(fn)
            timers[name] = (timer, timer.autorange()[0])
        except Exception as exc:
            result[name] = _error_text(exc)
    best = dict.fromkeys(timers, math.inf)
    for _ in range(max(repeat, 5)):
        for name, (timer, number) in timers.items():
            best[name] = min(best[name], timer.timeit(number) / number * 1e6)
    result.update(best)
    return result


def _task_job(impl: Impl, task: str) -> tuple[Callable[[], Any] | None, Callable[[Any], Outputs]]:
    """The call of ``impl`` for ``task`` (None if not offered) and the conversion of its output."""
    if task == "price":
        return impl.price, lambda out: {"price": np.asarray(impl.to_price(out), np.float64)}
    return impl.greeks, impl.to_greeks


def measure(impl: Impl, repeat: int) -> ImplRun:
    """Time every task ``impl`` offers and convert its outputs (conversion is not timed)."""
    return measure_interleaved([impl], repeat)[0]


def measure_interleaved(impls: list[Impl], repeat: int, cold: bool = False) -> list[ImplRun]:
    """Time the tasks of several implementations in rounds of one timed call each.

    Per task: one warm-up call of each implementation, then ``repeat`` rounds in which each
    calls once untimed and at once again timed (only the timed call with ``cold`` or a single
    implementation, whose calls follow each other anyway); an implementation's best timed
    call is its time. An implementation that raises is dropped from that task with the error.
    Outputs are converted after the rounds.
    """
    warm_each = not cold and len(impls) > 1
    runs = [ImplRun(i.name, i.version, i.notes, i.alt_refs, i.skipped) for i in impls]
    live = [(impl, run) for impl, run in zip(impls, runs) if not impl.skipped]
    for task in TASKS:
        entrants: list[tuple[ImplRun, Callable[[], Any], Callable[[Any], Outputs]]] = []
        for impl, run in live:
            fn, convert = _task_job(impl, task)
            if fn is None:
                run.tasks[task] = Measured(error="not offered")
            else:
                entrants.append((run, fn, convert))
        best: dict[str, float] = {}
        last: dict[str, Any] = {}
        failed: dict[str, str] = {}
        for round_no in range(max(repeat, 1) + 1):  # round 0 is the warm-up
            for run, fn, _ in entrants:
                if run.name in failed:
                    continue
                try:
                    if warm_each and round_no > 0:
                        fn()
                    t0 = time.perf_counter()
                    out = fn()
                    seconds = time.perf_counter() - t0
                except Exception as exc:
                    failed[run.name] = _error_text(exc)
                    last.pop(run.name, None)
                    continue
                last[run.name] = out
                if round_no > 0:
                    best[run.name] = min(best.get(run.name, math.inf), seconds)
        for run, _, convert in entrants:
            if run.name in failed:
                run.tasks[task] = Measured(error=failed[run.name])
                continue
            try:
                run.tasks[task] = Measured(seconds=best[run.name], outputs=convert(last[run.name]))
            except Exception as exc:
                run.tasks[task] = Measured(error=_error_text(exc))
        last.clear()
    scalars = scalar_times_us(
        {impl.name: impl.scalar for impl, _ in live if impl.scalar is not None}, repeat
    )
    for impl, run in live:
        value = scalars.get(impl.name)
        if isinstance(value, str):
            run.scalar_error = value
        else:
            run.scalar_us = value
    return runs


def measure_in_subprocess(python: str, inp: Inputs, repeat: int) -> ImplRun:
    """Run :func:`build_pvv` + :func:`measure` under another interpreter (worker mode)."""
    with tempfile.TemporaryDirectory(prefix="sg-peers-") as tmp:
        io_dir = Path(tmp)
        inp.save(io_dir / "inputs.npz")
        cmd = [python, str(Path(__file__).resolve()), "--worker", PVV, "--io", str(io_dir)]
        cmd += ["--repeat", str(repeat)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        except OSError as exc:
            return ImplRun(PVV, "", [], {}, skipped=f"worker {python} not runnable ({exc})")
        result_path = io_dir / "result.json"
        if proc.returncode != 0 or not result_path.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            return ImplRun(
                PVV, "", [], {}, skipped=f"worker {python} failed (rc {proc.returncode}): {tail[0]}"
            )
        meta = json.loads(result_path.read_text())
        run = ImplRun(
            meta["name"],
            meta["version"],
            meta["notes"],
            {k: tuple(v) for k, v in meta["alt_refs"].items()},
            meta["skipped"],
            scalar_us=meta["scalar_us"],
            scalar_error=meta["scalar_error"],
        )
        arrays: dict[str, np.ndarray] = {}
        if (io_dir / "outputs.npz").exists():
            with np.load(io_dir / "outputs.npz") as z:
                arrays = {k: z[k] for k in z.files}
        for task, info in meta["tasks"].items():
            outs = {k: arrays[f"{task}.{k}"] for k in info["keys"]}
            run.tasks[task] = Measured(info["seconds"], outs or None, info["error"])
        run.notes = [
            *run.notes,
            f"run in a worker subprocess: {python} (Python {meta['python']},"
            f" numpy {meta['numpy']}, numba {meta['numba']})",
        ]
        return run


def worker_main(name: str, io_dir: Path, repeat: int) -> int:
    """Worker mode: measure one peer on the saved batch and write result.json/outputs.npz."""
    if name != PVV:
        print(f"unknown worker {name!r}", file=sys.stderr)
        return 2
    inp = Inputs.load(io_dir / "inputs.npz")
    run = measure(build_pvv(inp), repeat)
    arrays: dict[str, np.ndarray] = {}
    tasks: dict[str, Any] = {}
    for task, m in run.tasks.items():
        keys = list(m.outputs) if m.outputs else []
        for k in keys:
            arrays[f"{task}.{k}"] = m.outputs[k]  # type: ignore[index]
        tasks[task] = {"seconds": m.seconds, "error": m.error, "keys": keys}
    np.savez(io_dir / "outputs.npz", **arrays)
    try:
        import numba

        numba_version = numba.__version__
    except Exception:
        numba_version = "n/a"
    meta = {
        "name": run.name,
        "version": run.version,
        "notes": run.notes,
        "alt_refs": {k: list(v) for k, v in run.alt_refs.items()},
        "skipped": run.skipped,
        "scalar_us": run.scalar_us,
        "scalar_error": run.scalar_error,
        "tasks": tasks,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba_version,
    }
    (io_dir / "result.json").write_text(json.dumps(meta))
    return 0


# ------------------------------------------------------------------------------------------
# comparison and report
# ------------------------------------------------------------------------------------------


def diff_stats(a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    """Max absolute, max and median relative (|a-b| / max(|a|,|b|), above REL_FLOOR) diffs.

    The median separates a convention mismatch (median near 1) from the error of a peer's
    finite-difference bumps on tiny values (large max, small median).
    """
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        return {"error": f"shape {a.shape} vs {b.shape}"}
    nan_mismatch = int(np.count_nonzero(np.isnan(a) != np.isnan(b)))
    d = np.abs(a - b)
    finite = np.isfinite(d)
    if not finite.any():
        return {"error": "no finite pairs"}
    d = np.where(finite, d, 0.0)
    scale = np.maximum(np.abs(a), np.abs(b))
    rel = np.where(finite & (scale > REL_FLOOR), d / np.where(scale > 0, scale, 1.0), 0.0)
    i_rel = int(np.argmax(rel))
    return {
        "max_abs": float(d.max()),
        "max_rel": float(rel[i_rel]),
        "median_rel": float(np.median(rel)),
        "worst_rel_index": i_rel,
        "nan_mismatch": nan_mismatch,
    }


def compare(run: ImplRun, task: str, ref: Outputs, ref_name: str) -> list[dict[str, Any]]:
    """Per-output differences of one task against the reference (plus alternative refs)."""
    m = run.tasks.get(task)
    if m is None or m.outputs is None or run.name == ref_name:
        return []
    rows = []
    for key, values in m.outputs.items():
        if key in ref:
            rows.append({"output": key, "against": key, **diff_stats(values, ref[key])})
        alt = run.alt_refs.get(key)
        if alt and all(k in ref for k in alt):
            total = sum(ref[k] for k in alt)
            row = {"output": key, "against": "+".join(alt), **diff_stats(values, total)}
            rows.append(row)
    return rows


def headline(rows: list[dict[str, Any]], alt_refs: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """Worst differences over outputs, using the alternative reference where one is given."""
    use = [
        r
        for r in rows
        if "error" not in r
        and (r["output"] not in alt_refs or r["against"] == "+".join(alt_refs[r["output"]]))
    ]
    if not use:
        return {}
    worst_abs = max(use, key=lambda r: r["max_abs"])
    worst_rel = max(use, key=lambda r: r["max_rel"])
    return {
        "max_abs": worst_abs["max_abs"],
        "max_abs_output": worst_abs["output"],
        "max_rel": worst_rel["max_rel"],
        "max_rel_output": worst_rel["output"],
    }


def fmt_rate(x: float | None) -> str:
    """Options per second, engineering-ish."""
    if x is None:
        return "-"
    if x >= 1e6:
        return f"{x / 1e6:8.1f} M/s"
    return f"{x / 1e3:8.1f} k/s"


def fmt_time(seconds: float | None) -> str:
    """A wall time in ms or s."""
    if seconds is None:
        return "-"
    if seconds < 0.01:
        return f"{seconds * 1e3:8.3f} ms"
    return f"{seconds * 1e3:8.1f} ms" if seconds < 10 else f"{seconds:8.2f} s "


def fmt_ratio(x: float | None) -> str:
    """strikegrid speed-up over a peer."""
    return "-" if x is None else f"{x:7.1f}x"


def fmt_sci(x: float | None) -> str:
    """A difference in scientific notation."""
    return "-" if x is None else f"{x:9.1e}"


def build_report(
    runs: list[ImplRun], ref_name: str, ref: Outputs, inp: Inputs, args: argparse.Namespace
) -> dict[str, Any]:
    """Collect timings, ratios and differences into one JSON-able dict."""
    sg = next((r for r in runs if r.name == "strikegrid" and not r.skipped), None)
    report: dict[str, Any] = {
        "meta": {
            "n": inp.n,
            "repeat": args.repeat,
            "cold": bool(args.cold),
            "seed": args.seed,
            "rate": inp.rate,
            "div": inp.div,
            "reference": ref_name,
            "rel_floor": REL_FLOOR,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "RAYON_NUM_THREADS": os.environ.get("RAYON_NUM_THREADS"),
        },
        "tasks": {},
        "scalar": [],
        "skipped": {r.name: r.skipped for r in runs if r.skipped},
        "notes": {r.name: r.notes for r in runs},
    }
    for task in TASKS:
        sg_m = sg.tasks.get(task) if sg else None
        sg_rate = inp.n / sg_m.seconds if sg_m and sg_m.seconds else None
        rows = []
        for run in runs:
            if run.skipped:
                continue
            m = run.tasks.get(task, Measured(error="not run"))
            rate = inp.n / m.seconds if m.seconds else None
            diffs = compare(run, task, ref, ref_name)
            rows.append(
                {
                    "impl": run.name,
                    "version": run.version,
                    "seconds": m.seconds,
                    "options_per_s": rate,
                    "sg_speedup": sg_rate / rate if sg_rate and rate else None,
                    "error": m.error,
                    "diffs": diffs,
                    **headline(diffs, run.alt_refs),
                }
            )
        report["tasks"][task] = rows
    sg_us = sg.scalar_us if sg else None
    for run in runs:
        if run.skipped:
            continue
        us = run.scalar_us
        report["scalar"].append(
            {
                "impl": run.name,
                "us": us,
                "sg_speedup": us / sg_us if us and sg_us else None,
                "error": run.scalar_error,
            }
        )
    return report


def print_report(report: dict[str, Any]) -> None:
    """Human-readable sections per task, notes, and the compact summary table."""
    meta = report["meta"]
    n = meta["n"]
    print()
    for task in TASKS:
        print(f"[{task}] {TASK_TITLES[task]}: {n:,} options, best of {meta['repeat']}")
        for row in report["tasks"][task]:
            if row["error"]:
                print(f"  {row['impl']:<22} error: {row['error']}")
                continue
            print(
                f"  {row['impl']:<22} {fmt_rate(row['options_per_s'])}"
                f"  {fmt_time(row['seconds'])}  sg speed-up {fmt_ratio(row['sg_speedup'])}"
            )
            for d in row["diffs"]:
                label = (
                    d["output"]
                    if d["against"] == d["output"]
                    else (f"{d['output']} vs {d['against']}")
                )
                if "error" in d:
                    print(f"      {label:<22} {d['error']}")
                    continue
                nan = f"  NaN mismatches {d['nan_mismatch']}" if d["nan_mismatch"] else ""
                print(
                    f"      {label:<22} max abs {d['max_abs']:9.2e}"
                    f"  max rel {d['max_rel']:9.2e} (at i={d['worst_rel_index']})"
                    f"  median rel {d['median_rel']:8.1e}{nan}"
                )
        print()
    print(f'[scalar] sg.price("call", {", ".join(str(x) for x in SCALAR_CASE)}), one option')
    for row in report["scalar"]:
        if row["us"] is None:
            print(f"  {row['impl']:<22} error: {row['error']}")
        else:
            speedup = fmt_ratio(row["sg_speedup"])
            print(f"  {row['impl']:<22} {row['us']:9.2f} us  sg speed-up {speedup}")
    print()
    print("notes:")
    for name, notes in report["notes"].items():
        for note in notes:
            print(f"  {name}: {note}")
    for name, reason in report["skipped"].items():
        print(f"  {name}: skipped ({reason})")
    print()
    timing = (
        "each timed call right after the other implementations' calls"
        if meta.get("cold")
        else "each timed call right after an untimed one of the same implementation"
    )
    print(
        f"summary: n={n:,}, best of {meta['repeat']} after 1 warm-up (in-process implementations"
        f" interleaved round by round, {timing}), seed {meta['seed']};"
        f" Python {meta['python']}, numpy {meta['numpy']}, {meta['cpu_count']} CPUs;"
        f" diffs vs {meta['reference']}, rel = |a-b|/max(|a|,|b|) where > {meta['rel_floor']:g}"
    )
    head = (
        f"{'task':<7} {'impl':<22} {'options/s':>12} {'best time':>11} {'sg speed-up':>12}"
        f" {'max abs diff':>13} {'max rel diff':>13}  worst (abs/rel)"
    )
    print(head)
    print("-" * len(head))
    for task in TASKS:
        for row in report["tasks"][task]:
            if row["error"]:
                print(f"{task:<7} {row['impl']:<22} error: {row['error']}")
                continue
            worst = ""
            if "max_rel_output" in row:
                worst = f"{row['max_abs_output']}/{row['max_rel_output']}"
            ref_mark = row["impl"] == meta["reference"]
            print(
                f"{task:<7} {row['impl']:<22} {fmt_rate(row['options_per_s']):>12}"
                f" {fmt_time(row['seconds']):>11} {fmt_ratio(row['sg_speedup']):>12}"
                f" {'(reference)' if ref_mark else fmt_sci(row.get('max_abs')):>13}"
                f" {'' if ref_mark else fmt_sci(row.get('max_rel')):>13}  {worst}"
            )
    for row in report["scalar"]:
        us = "-" if row["us"] is None else f"{row['us']:.2f} us/call"
        print(f"{'scalar':<7} {row['impl']:<22} {us:>24} {fmt_ratio(row['sg_speedup']):>12}")
    for name, reason in report["skipped"].items():
        print(f"{'-':<7} {name:<22} skipped ({reason})")


# ------------------------------------------------------------------------------------------
# main
# ------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=1_000_000, help="options per batch (1,000,000)")
    p.add_argument("--repeat", type=int, default=5, help="timed runs after the warm-up (5)")
    p.add_argument("--seed", type=int, default=20240611, help="random seed of the batch")
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="write results here")
    p.add_argument(
        "--pvv-python",
        default=None,
        metavar="PYTHON",
        help="interpreter of a venv with py_vollib_vectorized (default: $STRIKEGRID_PVV_PYTHON,"
        " else <repo>/.venv-pvv/bin/python if present, else in-process); '-' = in-process",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="set RAYON_NUM_THREADS before anything runs (pyvolr, and strikegrid if it uses rayon)",
    )
    p.add_argument(
        "--cold",
        action="store_true",
        help="time each call right after the other implementations' calls, without an untimed"
        " call of the same implementation just before it",
    )
    p.add_argument("--skip", action="append", default=[], help="skip an implementation by name")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--io", type=Path, default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def pvv_python(arg: str | None) -> str | None:
    """The interpreter to run py_vollib_vectorized under, or None for in-process."""
    if arg == "-":
        return None
    if arg:
        return arg
    env = os.environ.get("STRIKEGRID_PVV_PYTHON")
    if env:
        return env
    return str(DEFAULT_PVV_PYTHON) if DEFAULT_PVV_PYTHON.exists() else None


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print the report."""
    args = parse_args(argv)
    if args.threads:
        os.environ["RAYON_NUM_THREADS"] = str(args.threads)
    if args.worker:
        return worker_main(args.worker, args.io, args.repeat)

    inp = make_inputs(args.n, args.seed)
    print(
        f"strikegrid peer comparison: {inp.n:,} options ({int(inp.is_call.sum()):,} calls),"
        f" seed {args.seed}, rate {inp.rate}, div {inp.div}; best of {args.repeat}"
        f" after 1 warm-up; {os.cpu_count()} CPUs"
    )
    skip = set(args.skip)
    runs: list[ImplRun] = []
    builders: list[tuple[str, Callable[[Inputs], Impl]]] = [
        ("strikegrid", build_strikegrid),
        ("numpy+scipy", build_numpy),
        ("pyvolr", build_pyvolr),
    ]
    impls = [
        builder(inp) if name not in skip else Impl(name, skipped="--skip")
        for name, builder in builders
    ]
    names = ", ".join(i.name for i in impls if not i.skipped)
    print(f"  timing {names}, interleaved ...", flush=True)
    runs.extend(measure_interleaved(impls, args.repeat, cold=args.cold))
    if PVV in skip:
        runs.append(ImplRun(PVV, "", [], {}, skipped="--skip"))
    else:
        python = pvv_python(args.pvv_python)
        where = f"worker {python}" if python else "in-process"
        print(f"  timing {PVV} ({where}) ...", flush=True)
        if python:
            runs.append(measure_in_subprocess(python, inp, args.repeat))
        else:
            runs.append(measure(build_pvv(inp), args.repeat))

    ref_name, ref = strikegrid_reference(inp)
    report = build_report(runs, ref_name, ref, inp, args)
    print_report(report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

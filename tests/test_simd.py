"""The kernels give the same numbers whichever instruction set runs them.

The extension picks AVX-512, AVX2+FMA or plain SSE2 code at run time; ``STRIKEGRID_SIMD``
caps the choice. These tests run the same grid in a subprocess restricted to the portable
path and compare with this process (which uses the widest path the CPU has), so on an AVX-512
machine they check that path too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import strikegrid as sg

_SCRIPT = r"""
import json, sys
import numpy as np
import strikegrid as sg
rng = np.random.default_rng(11)
n = 5000
out = {"isa": sg.simd_level()}
for model in ["bsm", "black76", "bachelier", "inverse"]:
    s = rng.uniform(50, 150, n)
    k = s * rng.uniform(0.3, 3.0, n)
    t = rng.uniform(0.0, 5.0, n)
    v = rng.uniform(0.01, 1.5, n) * (s if model == "bachelier" else 1.0)
    q = rng.uniform(0, 0.05, n) if model == "bsm" else 0.0
    kind = rng.random(n) < 0.5
    g = sg.greeks(kind, s, k, t, v, 0.03, q, model=model)
    out[model] = {name: np.asarray(a).tolist() for name, a in g.items()}
json.dump(out, sys.stdout)
"""


def _run(level: str | None) -> dict[str, object]:
    env = dict(os.environ)
    env.pop("STRIKEGRID_SIMD", None)
    if level is not None:
        env["STRIKEGRID_SIMD"] = level
    res = subprocess.run(
        [sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(res.stdout)  # type: ignore[no-any-return]


def test_simd_level_is_reported() -> None:
    assert sg.simd_level() in {"generic", "avx2", "avx512"}


def test_widest_path_matches_portable_path() -> None:
    wide = _run(None)
    portable = _run("generic")
    assert portable["isa"] == "generic"
    if wide["isa"] == "generic":
        pytest.skip("this CPU has no wider SIMD path than the portable one")
    for model in ["bsm", "black76", "bachelier", "inverse"]:
        for name, values in wide[model].items():  # type: ignore[attr-defined]
            a = np.asarray(values)
            b = np.asarray(portable[model][name])  # type: ignore[index]
            # FMA changes roundings only: a few ulps of the larger magnitudes involved.
            scale = np.maximum(np.abs(a), np.abs(b))
            floor = 1e-300 + 1e-13 * np.max(scale)
            bad = np.abs(a - b) > 1e-12 * scale + floor
            assert not bad.any(), (
                f"{model} {name}: {int(bad.sum())} values differ, e.g. {a[bad][:3]} vs {b[bad][:3]}"
            )


def test_runs_on_a_cpu_without_avx() -> None:
    """The extension must not contain AVX instructions outside the run-time dispatch (a wheel
    built for the build machine's CPU dies with 'illegal instruction' elsewhere). Emulate a
    Nehalem (SSE4.2, no AVX) with qemu-user when it is installed."""
    import shutil

    qemu = shutil.which("qemu-x86_64")
    if qemu is None:
        pytest.skip("qemu-user is not installed (.ci/run installs it)")
    code = (
        "import numpy as np, strikegrid as sg\n"
        "x = np.linspace(50, 150, 20000)\n"
        "g = sg.greeks('put', 100.0, x, 0.5, 0.3, 0.02)\n"
        "print(sg.simd_level(), repr(float(g['price'].sum())), repr(float(g['vega'].sum())))\n"
    )
    res = subprocess.run(
        [qemu, "-cpu", "Nehalem", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    level, price_sum, vega_sum = res.stdout.split()
    assert level == "generic"
    x = np.linspace(50, 150, 20000)
    g = sg.greeks("put", 100.0, x, 0.5, 0.3, 0.02)
    assert float(price_sum) == pytest.approx(float(np.sum(g["price"])), rel=1e-12)
    assert float(vega_sum) == pytest.approx(float(np.sum(g["vega"])), rel=1e-12)

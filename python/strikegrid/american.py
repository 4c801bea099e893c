"""American exercise: engines, the exercise boundary and the early-exercise premium.

``sg.price``, ``sg.greeks`` and ``sg.implied_vol`` take ``exercise="american"`` for the
``bsm`` and ``black76`` models (a futures option is the ``bsm`` case with carry 0), with
``method=`` choosing the engine:

* ``None`` or ``"accurate"``: Andersen, Lake & Offengenden (2016), "High-performance American
  option pricing": the exercise boundary solved on Chebyshev nodes by a fixed-point iteration
  (Anderson-accelerated), the premium from the early-exercise integral. The default.
* ``"fast"``: the same with fewer nodes and quadrature points.
* ``"high_precision"``: the same with many more (for references and risk checks).
* ``"baw"``: Barone-Adesi & Whaley (1987) quadratic approximation.
* ``"bjerksund_stensland"``: Bjerksund & Stensland (2002), two-step boundary.
* ``"bjerksund_stensland_1993"``: their 1993 flat-boundary version (QuantLib's engine).
* ``"lattice"``: Leisen & Reimer (1996) binomial tree with ``steps`` (default 801) and optional
  discrete cash ``dividends`` (escrowed-dividend model: the tree carries the spot less the
  present value of the dividends still to come; exercise decisions use the full spot).

Worst absolute errors of the ALO presets at spot-100 scale over 2,268 puts and calls (spot
85–115, strike 100, expiry 1 week to 5 years, vol 5%–100%, rate 1%–10%, dividend yield 0–8%)
against a converged reference (``rust/core/tests/american.rs``, which also shows the reference
converged and matching an extrapolated lattice): fast 2e-4, accurate 4e-6, high_precision 5e-8.

Greeks: delta, gamma and theta are analytic for ALO (derivatives of the early-exercise
integral with the boundary fixed, which does not depend on the spot; theta from the
Black–Scholes equation), tree greeks for the lattice, central differences for BAW and
Bjerksund–Stensland. Vega, rho, epsilon, vanna, volga and charm are central differences of the
engine's own prices with the boundary re-solved at each bump; dual_delta and dual_gamma follow
from homogeneity in (spot, strike) (finite differences with cash dividends).

Limits: expiry 0 gives the intrinsic value; vol 0 the best deterministic exercise value. A put
with ``div < rate < 0`` (a call with ``rate < div < 0``) has two exercise boundaries, which the
ALO engine does not model: it returns NaN there (the lattice handles it).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from . import _core
from ._convert import float_array, model_name, scalar_kind
from .exceptions import InputError
from .pricing import price

__all__ = ["early_exercise_premium", "exercise_boundary"]


def exercise_boundary(
    kind: Any,
    spot: float,
    strike: float,
    expiry: float,
    vol: float,
    rate: float = 0.0,
    div: float = 0.0,
    *,
    times: Any = None,
    model: str = "bsm",
    method: str | None = None,
) -> npt.NDArray[np.float64]:
    """The early-exercise boundary of one American option (ALO presets only).

    Args:
        kind, spot, strike, expiry, vol, rate, div, model: one option, as for
            :func:`strikegrid.price` (scalars).
        times: times to expiry in years, each in ``[0, expiry]`` (others give NaN); default 11
            points from 0 to ``expiry``.
        method: None, "fast", "accurate" or "high_precision".

    Returns:
        The critical spot at each time to expiry: the put is exercised at or below it, the call
        at or above it (0 for a put and +inf for a call that is never exercised early).
    """
    phi = scalar_kind(kind, nan=False)
    if phi is None:
        raise InputError("kind: exercise_boundary takes one option (a scalar kind)", arg="kind")
    taus = np.linspace(0.0, float(expiry), 11) if times is None else float_array(times, "times")
    return _core.exercise_boundary(
        model_name(model),
        method,
        phi,
        float(spot),
        float(strike),
        float(expiry),
        float(vol),
        float(rate),
        float(div),
        np.asarray(taus, dtype=np.float64),
    )


def early_exercise_premium(
    kind: Any,
    spot: Any,
    strike: Any,
    expiry: Any,
    vol: Any,
    rate: Any = 0.0,
    div: Any = 0.0,
    *,
    model: str = "bsm",
    method: str | None = None,
    errors: str = "raise",
) -> npt.NDArray[np.float64] | float:
    """American minus European premium (broadcasting like :func:`strikegrid.price`): what the
    right to exercise early is worth, a direct gauge of assignment risk on a short option."""
    american = price(
        kind,
        spot,
        strike,
        expiry,
        vol,
        rate,
        div,
        model=model,
        exercise="american",
        method=method,
        errors=errors,
    )
    european = price(kind, spot, strike, expiry, vol, rate, div, model=model, errors=errors)
    return american - european

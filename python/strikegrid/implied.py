"""Implied volatility: ``sg.implied_vol``, the inverse of :func:`strikegrid.price`.

Lognormal models (``bsm``, ``black76``, ``inverse``) use P. Jäckel's "Let's Be Rational" (2015)
structure: the quote is reduced to an out-of-the-money normalised call, the total volatility is
guessed from one of four branches and refined by third-order Householder steps; ``bachelier``
uses Jäckel's "Implied Normal Volatility" (2017). A premium with no implied volatility gives
NaN, never a made-up number; ``return_status=True`` says why per element:

====  ==============================================================================
code  meaning
====  ==============================================================================
0     ok (0.0 when the premium equals the intrinsic value)
1     premium below the (discounted) intrinsic value
2     premium at or above the no-arbitrage upper bound (discounted forward for calls,
      discounted strike for puts)
3     invalid input (NaN/infinite values, negative expiry, non-positive spot/strike for
      the lognormal models, unknown kind, a dividend yield with a forward model)
4     expiry 0 with a premium equal to the intrinsic value: every volatility fits
5     American premium equal to the exercise value: the option is exercised at once
      under every volatility up to some level, so none is implied
====  ==============================================================================
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from . import _core
from ._convert import (
    check_exercise,
    dividend_schedule,
    errors_flag,
    float_array,
    kind_array,
    model_name,
    steps_value,
)

__all__ = ["IV_STATUS", "implied_vol"]

#: Status codes of :func:`implied_vol` and their meanings.
IV_STATUS: dict[int, str] = dict(_core.IV_STATUS)

VolResult = npt.NDArray[np.float64] | float


def implied_vol(
    premium: Any,
    kind: Any,
    spot: Any,
    strike: Any,
    expiry: Any,
    rate: Any = 0.0,
    div: Any = 0.0,
    *,
    model: str = "bsm",
    exercise: str = "european",
    method: str | None = None,
    steps: int | None = None,
    dividends: Any = None,
    errors: str = "raise",
    return_status: bool = False,
) -> VolResult | tuple[VolResult, npt.NDArray[np.uint8] | int]:
    """Implied volatilities of option premiums (the inverse of :func:`strikegrid.price`).

    Args:
        premium: the option premium (coins for ``model="inverse"``).
        kind, spot, strike, expiry, rate, div, model, exercise, method, steps, dividends: as
            for :func:`strikegrid.price`. ``bachelier`` gives the implied normal vol. American
            premiums (``exercise="american"``) are inverted with the chosen engine: the vol is
            bracketed from the European implied vol (an upper bound) and found by Brent's
            method to 1e-12 relative in premium; status 1 also covers a premium below the
            engine's zero-vol value, status 2 one at or above the spot (calls) or strike
            (puts).
        errors: "raise" (invalid inputs raise :class:`~strikegrid.exceptions.InputError`
            naming the argument and index) or "nan" (NaN and status 3 there). Premiums
            outside the no-arbitrage bounds are never an error: they give NaN and a status.
        return_status: also return the status codes (see the module docstring and
            ``strikegrid.IV_STATUS``).

    Returns:
        The volatility (float64 of the broadcast shape, a float for scalar inputs), or
        ``(vol, status)`` with ``return_status=True``.
    """
    style = check_exercise(exercise, method, steps, dividends)
    nan = errors_flag(errors)
    prem = float_array(premium, "premium")
    kinds = kind_array(kind, nan)
    s, k, t = (
        float_array(spot, "spot"),
        float_array(strike, "strike"),
        float_array(expiry, "expiry"),
    )
    r, q = float_array(rate, "rate"), float_array(div, "div")
    if style == "american":
        times, amounts = dividend_schedule(dividends)
        vols, status = _core.american_implied_vol_arrays(
            model_name(model),
            method,
            steps_value(steps),
            times,
            amounts,
            prem,
            kinds,
            s,
            k,
            t,
            r,
            q,
            nan,
        )
    else:
        vols, status = _core.implied_vol_arrays(model_name(model), prem, kinds, s, k, t, r, q, nan)
    if vols.ndim == 0:
        if return_status:
            return float(vols), int(status)
        return float(vols)
    return (vols, status) if return_status else vols

"""European prices and greeks: ``sg.price`` and ``sg.greeks``.

Both broadcast like numpy ufuncs over scalars and arrays of any shape and stride, return float64
arrays of the broadcast shape (a Python ``float`` when every input is a scalar) and never modify
their inputs. A call with scalar numbers and a string/bool kind skips numpy entirely.

Models (``model=``):

* ``"bsm"``: Black–Scholes–Merton on a spot with continuous dividend yield ``div``.
* ``"black76"``: Black (1976) on a forward or futures price passed as ``spot``; ``div`` must be 0.
* ``"bachelier"``: normal model on the forward; ``vol`` is the normal vol in price units per
  sqrt-year; forward and strike may be zero or negative.
* ``"inverse"``: coin-settled option on a future (BTC/ETH options as Deribit lists them). The call
  pays ``max(F_T - K, 0) / F_T`` coins; the premium is in coins and equals the Black-76 value
  divided by ``F``. ``spot`` is the future's price in USD, ``strike`` in USD.

Greeks are raw partial derivatives of the premium in the premium's own unit (coins for
``inverse``): delta ``dV/dS``, gamma ``d2V/dS2``, vega ``dV/dvol`` (per 1.00 of vol), theta
``-dV/dT`` per year, rho ``dV/drate``, epsilon ``dV/ddiv`` (0 for the forward models), vanna
``d2V/dS dvol``, volga ``d2V/dvol2``, charm ``-d2V/dS dT`` per year, dual_delta ``dV/dK``,
dual_gamma ``d2V/dK2``; S is the spot for ``bsm`` and the forward for the other models. For
``inverse`` only, ``which=["delta_pa"]`` gives the premium-adjusted delta ``F dV/dF`` that crypto
venues display: the coins of future that hedge one option (call: ``e^(-rT) (K/F) N(d2)``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy.typing as npt

from . import _core
from ._convert import (
    FloatArray,
    check_exercise,
    dividend_schedule,
    errors_flag,
    float_array,
    kind_array,
    model_name,
    steps_value,
)
from .exceptions import InputError

__all__ = ["GREEKS", "greeks", "norm_cdf", "norm_pdf", "price"]

#: ``sg.price`` and ``sg.greeks`` are the extension's functions: they answer a call with plain
#: Python scalars directly (a fraction of a microsecond) and pass anything else to
#: ``_price_general`` / ``_greeks_general`` below, which take the same arguments.
price = _core.price
greeks = _core.greeks

#: The outputs ``greeks(which=None)`` returns, in order.
GREEKS: tuple[str, ...] = tuple(_core.GREEK_NAMES[:12])
_BITS: dict[str, int] = {name: 1 << i for i, name in enumerate(_core.GREEK_NAMES)}
_PRICE_MASK = _BITS["price"]
_ALL_MASK = sum(_BITS[g] for g in GREEKS)

ArrayOrFloat = FloatArray | float


def _which(which: str | Iterable[str] | None) -> tuple[int, tuple[str, ...]]:
    if which is None:
        return _ALL_MASK, GREEKS
    names = (which,) if isinstance(which, str) else tuple(which)
    if not names:
        raise InputError("which: asks for no output", arg="which")
    mask = 0
    for name in names:
        bit = _BITS.get(name) if isinstance(name, str) else None
        if bit is None:
            raise InputError(
                f"which: unknown output {name!r}; expected some of {', '.join(GREEKS)}"
                " (and 'delta_pa' for model='inverse')",
                arg="which",
            )
        mask |= bit
    return mask, tuple(dict.fromkeys(names))


def _arrays(
    kind: Any,
    spot: Any,
    strike: Any,
    expiry: Any,
    vol: Any,
    rate: Any,
    div: Any,
    nan: bool,
) -> tuple[
    npt.NDArray[Any], FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray
]:
    return (
        kind_array(kind, nan),
        float_array(spot, "spot"),
        float_array(strike, "strike"),
        float_array(expiry, "expiry"),
        float_array(vol, "vol"),
        float_array(rate, "rate"),
        float_array(div, "div"),
    )


def _price_general(
    kind: Any,
    spot: Any,
    strike: Any,
    expiry: Any,
    vol: Any,
    rate: Any = 0.0,
    div: Any = 0.0,
    *,
    model: str = "bsm",
    exercise: str = "european",
    method: str | None = None,
    steps: int | None = None,
    dividends: Any = None,
    errors: str = "raise",
) -> ArrayOrFloat:
    """Option premiums (``sg.price``; plain scalar calls are answered in Rust before this).

    Args:
        kind: "call"/"put"/"c"/"p" (any case), True/False (True = call) or +1/-1; a scalar or an
            array of them (object arrays from pandas included).
        spot: spot price (``bsm``) or forward/futures price (other models).
        strike: strike price.
        expiry: time to expiry in years (>= 0; 0 gives the intrinsic value).
        vol: volatility as a decimal (lognormal models) or normal vol in price units per
            sqrt-year (``bachelier``); >= 0.
        rate: continuously compounded rate that discounts the premium.
        div: continuous dividend yield (``bsm`` only; 0 for the forward models).
        model: "bsm", "black76", "bachelier" or "inverse".
        exercise: "european" or "american" (models ``bsm`` and ``black76``; see
            :mod:`strikegrid.american`).
        method: European: None or "analytic". American: None (= "accurate"), "fast",
            "accurate", "high_precision" (Andersen–Lake–Offengenden presets), "baw",
            "bjerksund_stensland" or "lattice" (Leisen–Reimer).
        steps: lattice steps (``method="lattice"`` only; default 801, odd).
        dividends: discrete cash dividends for the lattice: ``(ex-date in years, amount)``
            pairs, applied to every option of the call (``model="bsm"`` only).
        errors: "raise" (an :class:`~strikegrid.exceptions.InputError` naming the argument and
            the first offending index) or "nan" (NaN in the offending elements only).

    Returns:
        The premium (coins for ``inverse``), float64 of the broadcast shape, or a float when
        every input is a scalar.
    """
    style = check_exercise(exercise, method, steps, dividends)
    nan = errors_flag(errors)
    args = _arrays(kind, spot, strike, expiry, vol, rate, div, nan)
    if style == "american":
        (out,) = _core.american_arrays(
            model_name(model),
            method,
            steps_value(steps),
            *dividend_schedule(dividends),
            _PRICE_MASK,
            *args,
            nan,
        )
    else:
        (out,) = _core.evaluate_arrays(model_name(model), _PRICE_MASK, *args, nan)
    return out if out.ndim else float(out)


def _greeks_general(
    kind: Any,
    spot: Any,
    strike: Any,
    expiry: Any,
    vol: Any,
    rate: Any = 0.0,
    div: Any = 0.0,
    *,
    model: str = "bsm",
    exercise: str = "european",
    method: str | None = None,
    steps: int | None = None,
    dividends: Any = None,
    which: str | Iterable[str] | None = None,
    errors: str = "raise",
) -> dict[str, ArrayOrFloat]:
    """Premium and greeks (``sg.greeks``), raw partial derivatives (see the module docstring).

    Arguments are those of :func:`price`, plus ``which``: None for all of
    ``price delta gamma vega theta rho epsilon vanna volga charm dual_delta dual_gamma``, or a
    name or list of names to compute only those (the cost follows what is asked). American
    greeks: see :mod:`strikegrid.american` for which are analytic and which are finite
    differences of the engine's own prices.

    Returns:
        A dict from name to float64 array of the broadcast shape (floats for scalar inputs), in
        the order asked.
    """
    if which is None:
        mask, names = _ALL_MASK, GREEKS
    else:
        mask, names = _which(which)
    style = check_exercise(exercise, method, steps, dividends)
    nan = errors_flag(errors)
    args = _arrays(kind, spot, strike, expiry, vol, rate, div, nan)
    if style == "american":
        outs = _core.american_arrays(
            model_name(model),
            method,
            steps_value(steps),
            *dividend_schedule(dividends),
            mask,
            *args,
            nan,
        )
    else:
        outs = _core.evaluate_arrays(model_name(model), mask, *args, nan)
    canonical = [g for g in _core.GREEK_NAMES if mask & _BITS[g]]
    by_name: dict[str, ArrayOrFloat] = {
        g: (o if o.ndim else float(o)) for g, o in zip(canonical, outs)
    }
    return {n: by_name[n] for n in names}


def norm_cdf(x: Any) -> ArrayOrFloat:
    """Standard normal CDF, accurate to a few ulps in both tails (see README, Accuracy)."""
    arr = float_array(x, "x")
    out = _core.norm_cdf(arr)
    return out if out.ndim else float(out)


def norm_pdf(x: Any) -> ArrayOrFloat:
    """Standard normal density."""
    arr = float_array(x, "x")
    out = _core.norm_pdf(arr)
    return out if out.ndim else float(out)

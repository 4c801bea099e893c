"""Odd inputs never crash the interpreter or leak a panic: every failure is a ValueError
(including strikegrid.InputError) or a TypeError, and errors="nan" never raises for
per-element problems."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import strikegrid as sg

ODD_VALUES: list[object] = [
    0.0,
    -1.0,
    float("nan"),
    float("inf"),
    10**400,
    True,
    None,
    "x",
    "100",
    b"c",
    np.array([]),
    np.zeros((0, 3)),
    np.ones((3, 2)).T,
    np.ones(5)[::-2],
    np.array([1, 2], dtype=np.int8),
    np.array([1 + 1j]),
    np.array(["a"]),
    np.array([None, 1.0], dtype=object),
    np.ones((1,) * 40),
    {"a": 1},
    np.datetime64("2020-01-01"),
    np.array([1e308, -1e308]),
    np.array([5e-324]),
]
ODD_KINDS: list[object] = ["x", 0, 2.0, None, np.array([1, -1, 3]), np.ones((1,) * 33, bool)]


@pytest.mark.parametrize("model", ["bsm", "black76", "bachelier", "inverse"])
@pytest.mark.parametrize("position", range(5))
def test_odd_numbers_raise_cleanly(model: str, position: int) -> None:
    for value, func in itertools.product(ODD_VALUES, (sg.price, sg.greeks)):
        args: list[object] = [100.0, 100.0, 1.0, 0.2, 0.01]
        args[position] = value
        try:
            func("call", *args[:4], rate=args[4], model=model)
        except (ValueError, TypeError):
            pass


@pytest.mark.parametrize("kind", ODD_KINDS)
def test_odd_kinds_raise_cleanly(kind: object) -> None:
    for func in (sg.price, sg.greeks):
        with pytest.raises((ValueError, TypeError)):
            func(kind, 100.0, 100.0, 1.0, 0.2)


def test_too_many_dimensions_is_an_input_error() -> None:
    with pytest.raises(ValueError, match="at most 32 dimensions"):
        sg.price("call", np.ones((1,) * 33), 100.0, 1.0, 0.2)


def test_huge_python_int_is_an_input_error() -> None:
    with pytest.raises(ValueError, match="spot: too large"):
        sg.price("call", 10**400, 100.0, 1.0, 0.2)


def test_nan_policy_never_raises_for_element_problems() -> None:
    bad = np.array([100.0, -1.0, np.nan, np.inf, 0.0])
    for model in ["bsm", "black76", "inverse"]:
        out = sg.greeks("call", bad, 100.0, 1.0, 0.2, model=model, errors="nan")
        for values in out.values():
            arr = np.asarray(values)
            assert np.isfinite(arr[0]) and np.isnan(arr[1:]).all()


def test_extreme_valid_inputs_give_finite_greeks() -> None:
    # Subnormal spots and strikes, discount factors that underflow (r T or q T = 800), huge
    # prices: valid options whose greeks are all representable, so none may be inf or NaN,
    # and delta stays within its bounds.
    spot = np.array([1e-310, 100.0, 100.0, 100.0, 100.0, 1e300, 1.0, 2e-300])
    strike = np.array([103.0, 1e-310, 103.0, 103.0, 103.0, 1.0, 1e300, 1.9e-300])
    expiry = np.array([0.9, 0.9, 100.0, 100.0, 100.0, 0.9, 0.9, 0.5])
    rate = np.array([0.03, 0.03, 8.0, 0.03, 8.0, 0.03, 0.03, 0.03])
    div = np.array([0.01, 0.01, 0.01, 8.0, 8.0, 0.01, 0.01, 0.01])
    for model in ["bsm", "black76"]:
        for kind in ["call", "put"]:
            q = div if model == "bsm" else 0.0
            out = sg.greeks(kind, spot, strike, expiry, 0.3, rate, q, model=model)
            for name, values in out.items():
                assert np.isfinite(values).all(), (model, kind, name, values)
            assert (np.abs(out["delta"]) <= 1.0).all()


def test_valid_options_with_inputs_near_the_largest_double_are_priced() -> None:
    # The kernels' cheap validity count sums the inputs, so these overflow it; the exact check
    # that follows must find them valid: same values as one by one, no error, no NaN.
    spot = np.array([1e308, 100.0, 1.5e308, 100.0])
    strike = np.array([1.5e308, 100.0, 1e308, 100.0])
    rate = np.array([0.03, 1e308, 0.0, -0.0])
    for model in ["bsm", "black76", "inverse", "bachelier"]:
        for errors in ["raise", "nan"]:
            out = sg.price("call", spot, strike, 1.0, 0.2, rate, model=model, errors=errors)
            one = [
                sg.price("call", s, k, 1.0, 0.2, r, model=model)
                for s, k, r in zip(spot, strike, rate)
            ]
            np.testing.assert_array_equal(out, one)
            assert not np.isnan(out).any(), (model, out)

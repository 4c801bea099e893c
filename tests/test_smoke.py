"""Smoke tests of the public entry points (the full suites live beside this file)."""

import math

import numpy as np
import pytest

import strikegrid as sg


def test_scalar_call_matches_textbook_value() -> None:
    # BSM, S=K=100, T=1, vol=20%, r=q=0: 7.965567455405804 (closed form).
    assert sg.price("call", 100.0, 100.0, 1.0, 0.2) == pytest.approx(7.965567455405804, rel=1e-14)


def test_array_and_scalar_paths_agree() -> None:
    strikes = np.linspace(50.0, 150.0, 11)
    arr = sg.price("put", 100.0, strikes, 0.5, 0.3, 0.02, 0.01)
    assert isinstance(arr, np.ndarray) and arr.shape == (11,)
    for k, v in zip(strikes, arr):
        assert sg.price("put", 100.0, float(k), 0.5, 0.3, 0.02, 0.01) == v


def test_bad_vol_names_argument_and_index() -> None:
    with pytest.raises(ValueError, match=r"vol.*index 2"):
        sg.price("call", 100.0, 100.0, 1.0, np.array([0.2, 0.3, -0.1]))
    out = sg.price("call", 100.0, 100.0, 1.0, np.array([0.2, 0.3, -0.1]), errors="nan")
    assert math.isnan(out[2]) and not np.isnan(out[:2]).any()

"""The public calling contract of sg.price / sg.greeks (DESIGN.md, "Conventions").

Broadcasting and return types, every accepted spelling of ``kind``, ``which=``, and bad input:
``errors="raise"`` gives a ValueError naming the argument and the first offending index,
``errors="nan"`` puts NaN in that element only.  strikegrid may raise its own
``strikegrid.exceptions.InputError`` (a ValueError subclass); the tests only rely on ValueError.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import strikegrid as sg

GREEKS = (
    "price",
    "delta",
    "gamma",
    "vega",
    "theta",
    "rho",
    "epsilon",
    "vanna",
    "volga",
    "charm",
    "dual_delta",
    "dual_gamma",
)
MODELS = ("bsm", "black76", "bachelier", "inverse")

# a well-behaved point per model: spot (or forward), strike, expiry, vol, rate, div
BASE = {
    "bsm": (100.0, 105.0, 0.5, 0.25, 0.03, 0.01),
    "black76": (80.0, 75.0, 0.75, 0.3, 0.02, 0.0),
    "bachelier": (0.02, 0.015, 2.0, 0.008, 0.01, 0.0),
    "inverse": (42000.0, 45000.0, 0.1, 0.6, 0.0, 0.0),
}


def _scalar(kind: object, model: str = "bsm", **over: float) -> float:
    s, k, t, v, r, q = BASE[model]
    a = {"spot": s, "strike": k, "expiry": t, "vol": v, "rate": r, "div": q}
    a.update(over)
    return sg.price(
        kind, a["spot"], a["strike"], a["expiry"], a["vol"], a["rate"], a["div"], model=model
    )


# ------------------------------------------------------------------------------ return types


@pytest.mark.parametrize("model", MODELS)
def test_scalars_give_python_float(model: str) -> None:
    v = _scalar("call", model)
    assert isinstance(v, float) and not isinstance(v, np.ndarray)
    assert math.isfinite(v) and v > 0
    g = sg.greeks("put", *BASE[model], model=model)
    for name in GREEKS:
        assert isinstance(g[name], float), (name, type(g[name]))


def test_python_ints_are_accepted() -> None:
    assert sg.price("call", 100, 100, 1, 0.2) == sg.price("call", 100.0, 100.0, 1.0, 0.2)


def test_rate_and_div_default_to_zero() -> None:
    assert sg.price("call", 100.0, 95.0, 0.5, 0.2) == sg.price(
        "call", 100.0, 95.0, 0.5, 0.2, 0.0, 0.0
    )


def test_model_and_options_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        sg.price("call", 100.0, 100.0, 1.0, 0.2, 0.0, 0.0, "bsm")  # type: ignore[misc]


def test_explicit_defaults_are_accepted() -> None:
    a = sg.price("call", 100.0, 100.0, 1.0, 0.2)
    b = sg.price(
        "call",
        100.0,
        100.0,
        1.0,
        0.2,
        model="bsm",
        exercise="european",
        method=None,
        errors="raise",
    )
    assert a == b


# ------------------------------------------------------------------------------ broadcasting


def _loop(kind, spot, strike, expiry, vol, rate=0.0, div=0.0, *, model="bsm", name="price"):
    """Element-by-element scalar calls over the broadcast shape (the specification)."""
    arrs = np.broadcast_arrays(
        np.asarray(kind),
        *(np.asarray(x, dtype=float) for x in (spot, strike, expiry, vol, rate, div)),
    )
    out = np.empty(arrs[0].shape)
    for idx in np.ndindex(out.shape):
        k = arrs[0][idx].item()
        args = [float(a[idx]) for a in arrs[1:]]
        if name == "price":
            out[idx] = sg.price(k, *args, model=model)
        else:
            out[idx] = sg.greeks(k, *args, model=model, which=[name])[name]
    return out


def test_shape_3() -> None:
    strikes = np.array([90.0, 100.0, 110.0])
    v = sg.price("call", 100.0, strikes, 0.5, 0.2, 0.01)
    assert isinstance(v, np.ndarray) and v.shape == (3,) and v.dtype == np.float64
    np.testing.assert_allclose(v, _loop("call", 100.0, strikes, 0.5, 0.2, 0.01), rtol=1e-14)
    assert v[0] > v[1] > v[2]


def test_shape_2x3() -> None:
    spots = np.array([[90.0, 100.0, 110.0], [95.0, 105.0, 115.0]])
    vols = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])
    v = sg.price("put", spots, 100.0, 1.0, vols, 0.02, 0.01)
    assert v.shape == (2, 3) and v.dtype == np.float64
    np.testing.assert_allclose(v, _loop("put", spots, 100.0, 1.0, vols, 0.02, 0.01), rtol=1e-14)


@pytest.mark.parametrize("model", MODELS)
def test_strike_by_expiry_grid(model: str) -> None:
    s, k, _, v, r, q = BASE[model]
    strikes = (k * np.array([0.8, 0.9, 1.0, 1.1, 1.2, 1.3]))[:, None]  # (6, 1)
    expiries = np.array([[0.02, 0.25, 1.0, 3.0]])  # (1, 4)
    p = sg.price("call", s, strikes, expiries, v, r, q, model=model)
    assert p.shape == (6, 4)
    np.testing.assert_allclose(
        p, _loop("call", s, strikes, expiries, v, r, q, model=model), rtol=1e-14
    )
    g = sg.greeks("put", s, strikes, expiries, v, r, q, model=model)
    for name in GREEKS:
        assert np.shape(g[name]) == (6, 4), name
    np.testing.assert_allclose(
        g["vega"], _loop("put", s, strikes, expiries, v, r, q, model=model, name="vega"), rtol=1e-14
    )


def test_kind_broadcasts_with_other_inputs() -> None:
    kinds = np.array([["call"], ["put"]])  # (2, 1)
    strikes = np.array([90.0, 100.0, 110.0])  # (3,)
    v = sg.price(kinds, 100.0, strikes, 1.0, 0.2)
    assert v.shape == (2, 3)
    np.testing.assert_array_equal(v[0], sg.price("call", 100.0, strikes, 1.0, 0.2))
    np.testing.assert_array_equal(v[1], sg.price("put", 100.0, strikes, 1.0, 0.2))


def test_greeks_broadcast_shape() -> None:
    g = sg.greeks("call", np.array([[90.0], [100.0]]), np.array([95.0, 100.0, 105.0]), 1.0, 0.2)
    assert set(g) >= set(GREEKS)
    for name in GREEKS:
        assert np.shape(g[name]) == (2, 3)
        assert np.asarray(g[name]).dtype == np.float64


def test_non_contiguous_inputs_match_contiguous() -> None:
    rng = np.random.default_rng(7)
    big_s = rng.uniform(50.0, 150.0, size=(8, 10))
    big_v = rng.uniform(0.05, 0.8, size=(10, 8))
    big_t = rng.uniform(0.01, 3.0, size=40)
    cases = [
        (big_s[::2, ::3], big_v.T[::2, ::3], big_t[1:21:5]),  # strided
        (big_s[::-1, ::-1][:4, :4], big_v.T[:4, :4], big_t[::-10][:4]),  # negative strides
        (np.asfortranarray(big_s[:4, :4]), big_v[:4, :4].T, big_t[:4]),  # F order/transposed
    ]
    for s, v, t in cases:
        s_c, v_c, t_c = (np.ascontiguousarray(x) for x in (s, v, t))
        got = sg.price("call", s, 100.0, t, v, 0.01, 0.02)
        exp = sg.price("call", s_c, 100.0, t_c, v_c, 0.01, 0.02)
        np.testing.assert_array_equal(got, exp)
        g = sg.greeks("put", s, 100.0, t, v, 0.01, 0.02)
        g_c = sg.greeks("put", s_c, 100.0, t_c, v_c, 0.01, 0.02)
        for name in GREEKS:
            np.testing.assert_array_equal(g[name], g_c[name])


def test_zero_stride_broadcast_view_input() -> None:
    s = np.broadcast_to(np.array([100.0]), (5,))  # a read-only view with stride 0
    v = sg.price("call", s, np.linspace(80.0, 120.0, 5), 1.0, 0.2)
    np.testing.assert_array_equal(v, sg.price("call", 100.0, np.linspace(80.0, 120.0, 5), 1.0, 0.2))


def test_inputs_are_not_mutated() -> None:
    kinds = np.array(["call", "put", "C", "p"], dtype=object)
    arrays = [
        np.array([90.0, 100.0, 110.0, 120.0]),
        np.array([100.0, 100.0, 95.0, 130.0]),
        np.array([0.5, 1.0, 0.0, 2.0]),
        np.array([0.2, 0.3, 0.4, 0.5]),
        np.array([0.01, 0.02, 0.03, -0.01]),
        np.array([0.0, 0.01, 0.02, 0.03]),
    ]
    copies = [a.copy() for a in arrays]
    kinds_copy = kinds.copy()
    sg.price(kinds, *arrays)
    sg.greeks(kinds, *arrays)
    bad = [a.copy() for a in arrays]
    bad[3][1] = -1.0
    bad_copy = [a.copy() for a in bad]
    sg.price(kinds, *bad, errors="nan")
    for a, c in zip(arrays + bad, copies + bad_copy):
        np.testing.assert_array_equal(a, c)
    assert list(kinds) == list(kinds_copy)


def test_float32_and_integer_inputs() -> None:
    s32 = np.array([90.5, 100.25, 110.75], dtype=np.float32)
    k_int = np.array([95, 100, 105], dtype=np.int64)
    t_int32 = np.array([1, 2, 3], dtype=np.int32)
    v32 = np.float32(0.25)
    got = sg.price("call", s32, k_int, t_int32, v32)
    assert got.dtype == np.float64 and got.shape == (3,)
    exp = sg.price(
        "call",
        s32.astype(np.float64),
        k_int.astype(np.float64),
        t_int32.astype(np.float64),
        float(v32),
    )
    np.testing.assert_array_equal(got, exp)
    g = sg.greeks("put", s32, k_int, t_int32, v32)
    for name in GREEKS:
        assert np.asarray(g[name]).dtype == np.float64


def test_list_inputs_are_array_like() -> None:
    np.testing.assert_array_equal(
        sg.price("call", [90.0, 100.0], 100.0, 1.0, 0.2),
        sg.price("call", np.array([90.0, 100.0]), 100.0, 1.0, 0.2),
    )


def test_empty_arrays() -> None:
    v = sg.price("call", np.array([]), 100.0, 1.0, 0.2)
    assert isinstance(v, np.ndarray) and v.shape == (0,)


# ------------------------------------------------------------------------------ kind


CALL = sg.price("call", 100.0, 105.0, 0.5, 0.25, 0.03, 0.01)
PUT = sg.price("put", 100.0, 105.0, 0.5, 0.25, 0.03, 0.01)


@pytest.mark.parametrize("kind", ["call", "CALL", "Call", "c", "C", 1, np.int64(1)])
def test_call_spellings(kind: object) -> None:
    assert _scalar(kind) == CALL


@pytest.mark.parametrize("kind", ["put", "PUT", "Put", "p", "P", -1, np.int32(-1)])
def test_put_spellings(kind: object) -> None:
    assert _scalar(kind) == PUT


def test_calls_and_puts_differ() -> None:
    assert CALL != PUT


@pytest.mark.parametrize(
    "kinds",
    [
        np.array(["call", "PUT", "c", "P"]),
        np.array(["call", "PUT", "c", "P"], dtype=object),  # what a pandas column gives
        np.array([True, False, True, False]),
        np.array([1, -1, 1, -1]),
        np.array([1, -1, 1, -1], dtype=np.int8),
        ["Call", "put", "C", "p"],
    ],
    ids=["unicode", "object", "bool", "int64", "int8", "list"],
)
def test_kind_arrays(kinds: object) -> None:
    got = sg.price(kinds, 100.0, 105.0, 0.5, 0.25, 0.03, 0.01)
    np.testing.assert_array_equal(got, [CALL, PUT, CALL, PUT])
    g = sg.greeks(kinds, 100.0, 105.0, 0.5, 0.25, 0.03, 0.01, which=["delta"])
    assert g["delta"][0] > 0 > g["delta"][1]


@pytest.mark.parametrize("n", [1, 3, 191, 193, 255, 257, 20_003])
def test_bool_kinds_equal_float_kinds(n: int) -> None:
    # Bool kinds are converted tile by tile (192 options; with AVX2 where available): every
    # length, and a strided view, must give exactly the +1/-1 result.
    rng = np.random.default_rng(n)
    is_call = rng.random(2 * n) < 0.5
    strike = rng.uniform(50, 150, n)
    want = sg.price(np.where(is_call[:n], 1.0, -1.0), 100.0, strike, 0.5, 0.25, 0.03, 0.01)
    np.testing.assert_array_equal(sg.price(is_call[:n], 100.0, strike, 0.5, 0.25, 0.03, 0.01), want)
    strided = sg.price(is_call[::2], 100.0, strike, 0.5, 0.25, 0.03, 0.01)
    np.testing.assert_array_equal(
        strided, sg.price(np.where(is_call[::2], 1.0, -1.0), 100.0, strike, 0.5, 0.25, 0.03, 0.01)
    )


def test_kind_from_pandas_series() -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"kind": ["call", "put", "C"], "strike": [100.0, 100.0, 110.0]})
    got = sg.price(df["kind"].to_numpy(), 100.0, df["strike"].to_numpy(), 1.0, 0.2)
    np.testing.assert_array_equal(
        got,
        [
            sg.price("call", 100.0, 100.0, 1.0, 0.2),
            sg.price("put", 100.0, 100.0, 1.0, 0.2),
            sg.price("call", 100.0, 110.0, 1.0, 0.2),
        ],
    )
    got_series = sg.price(df["kind"], 100.0, df["strike"], 1.0, 0.2)
    np.testing.assert_array_equal(np.asarray(got_series), got)


# ------------------------------------------------------------------------------ which=


def test_which_returns_exactly_the_requested_keys() -> None:
    full = sg.greeks("call", 100.0, np.array([90.0, 110.0]), 1.0, 0.2, 0.01, 0.02)
    assert set(full) >= set(GREEKS)
    for which in (["delta"], ["vega", "price"], ("charm", "dual_gamma", "theta"), list(GREEKS)):
        got = sg.greeks("call", 100.0, np.array([90.0, 110.0]), 1.0, 0.2, 0.01, 0.02, which=which)
        assert set(got) == set(which)
        for name in which:
            np.testing.assert_array_equal(got[name], full[name])


def test_which_none_gives_all_greeks() -> None:
    for model in MODELS:
        g = sg.greeks("call", *BASE[model], model=model)
        assert set(g) >= set(GREEKS), model
        assert g["price"] == _scalar("call", model)


def test_inverse_delta_pa() -> None:
    f, k, t, v, r, _ = BASE["inverse"]
    g = sg.greeks(["call", "put"], f, k, t, v, r, model="inverse", which=["delta", "delta_pa"])
    np.testing.assert_allclose(g["delta_pa"], f * np.asarray(g["delta"]), rtol=1e-13)


def test_which_unknown_name_raises() -> None:
    with pytest.raises(ValueError, match="not_a_greek"):
        sg.greeks("call", 100.0, 100.0, 1.0, 0.2, which=["delta", "not_a_greek"])


# ------------------------------------------------------------------------------ bad input

# (argument, model, bad value).  The bad value goes in element 2 of a length-4 array.
PER_ELEMENT_CASES = [
    ("vol", "bsm", -0.1),
    ("vol", "bachelier", -0.001),
    ("vol", "inverse", -0.5),
    ("expiry", "bsm", -0.25),
    ("expiry", "black76", -1e-9),
    ("spot", "bsm", 0.0),
    ("spot", "bsm", -100.0),
    ("spot", "black76", 0.0),
    ("spot", "inverse", -1.0),
    ("strike", "bsm", 0.0),
    ("strike", "black76", -5.0),
    ("strike", "inverse", 0.0),
    ("spot", "bsm", math.nan),
    ("strike", "bachelier", math.nan),
    ("expiry", "inverse", math.nan),
    ("vol", "black76", math.nan),
    ("rate", "bsm", math.nan),
    ("div", "bsm", math.nan),
]
ARGS = ("spot", "strike", "expiry", "vol", "rate", "div")


def _arrays_with_bad(arg: str, model: str, bad: float) -> list[np.ndarray]:
    out = [np.full(4, x, dtype=float) for x in BASE[model]]
    out[ARGS.index(arg)][2] = bad
    return out


@pytest.mark.parametrize(
    ("arg", "model", "bad"),
    PER_ELEMENT_CASES,
    ids=[f"{a}-{m}-{b}" for a, m, b in PER_ELEMENT_CASES],
)
def test_bad_element_raises_naming_argument_and_index(arg: str, model: str, bad: float) -> None:
    arrays = _arrays_with_bad(arg, model, bad)
    with pytest.raises(ValueError, match=rf"(?s)(?=.*\b{arg}\b)(?=.*\bindex 2\b)"):
        sg.price("call", *arrays, model=model)
    with pytest.raises(ValueError, match=rf"(?s)(?=.*\b{arg}\b)(?=.*\bindex 2\b)"):
        sg.greeks("put", *arrays, model=model)


@pytest.mark.parametrize(
    ("arg", "model", "bad"),
    PER_ELEMENT_CASES,
    ids=[f"{a}-{m}-{b}" for a, m, b in PER_ELEMENT_CASES],
)
def test_bad_element_is_nan_with_errors_nan(arg: str, model: str, bad: float) -> None:
    arrays = _arrays_with_bad(arg, model, bad)
    good = sg.price("call", *BASE[model], model=model)
    v = sg.price("call", *arrays, model=model, errors="nan")
    assert v.shape == (4,)
    assert np.isnan(v[2])
    np.testing.assert_allclose(v[[0, 1, 3]], [good, good, good], rtol=1e-14)
    g = sg.greeks("put", *arrays, model=model, errors="nan")
    good_g = sg.greeks("put", *BASE[model], model=model)
    for name in GREEKS:
        assert np.isnan(g[name][2]), name
        np.testing.assert_allclose(
            np.asarray(g[name])[[0, 1, 3]], [good_g[name]] * 3, rtol=1e-14, atol=1e-300
        )


def test_first_offending_index_is_reported() -> None:
    vols = np.array([0.2, 0.2, 0.2, -0.1, -0.3])
    times = np.array([1.0, 1.0, 1.0, 1.0, -1.0])
    with pytest.raises(ValueError, match=r"(?s)(?=.*\bvol\b)(?=.*\bindex 3\b)"):
        sg.price("call", 100.0, 100.0, times, vols)


def test_scalar_bad_input() -> None:
    with pytest.raises(ValueError, match="vol"):
        sg.price("call", 100.0, 100.0, 1.0, -0.2)
    with pytest.raises(ValueError, match="expiry"):
        sg.price("call", 100.0, 100.0, -1.0, 0.2)
    v = sg.price("call", 100.0, 100.0, 1.0, -0.2, errors="nan")
    assert isinstance(v, float) and math.isnan(v)


def test_bachelier_accepts_negative_forward_and_strike() -> None:
    v = sg.price(
        ["call", "put"], -0.005, np.array([-0.01, 0.0]), 1.0, 0.006, 0.01, model="bachelier"
    )
    assert np.all(np.isfinite(v)) and np.all(v > 0)


def test_negative_rate_is_allowed() -> None:
    v = sg.price("call", 100.0, 100.0, 1.0, 0.2, -0.02, 0.0)
    assert math.isfinite(v) and v > 0


@pytest.mark.parametrize("bad_kind", ["straddle", "", "calls", 0, 2])
def test_unknown_kind_scalar(bad_kind: object) -> None:
    with pytest.raises(ValueError, match="kind"):
        sg.price(bad_kind, 100.0, 100.0, 1.0, 0.2)


@pytest.mark.parametrize(
    "kinds",
    [
        np.array(["call", "put", "straddle", "c"]),
        np.array(["call", "put", "x", "c"], dtype=object),
        np.array([1, -1, 0, 1]),
    ],
    ids=["unicode", "object", "int"],
)
def test_unknown_kind_in_array(kinds: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"(?s)(?=.*\bkind\b)(?=.*\bindex 2\b)"):
        sg.price(kinds, 100.0, 100.0, 1.0, 0.2)
    v = sg.price(kinds, 100.0, 100.0, 1.0, 0.2, errors="nan")
    assert np.isnan(v[2]) and not np.isnan(v[[0, 1, 3]]).any()
    np.testing.assert_allclose(
        v[[0, 1, 3]],
        [
            sg.price("call", 100.0, 100.0, 1.0, 0.2),
            sg.price("put", 100.0, 100.0, 1.0, 0.2),
            sg.price("call", 100.0, 100.0, 1.0, 0.2),
        ],
        rtol=1e-14,
    )


@pytest.mark.parametrize("errors", ["raise", "nan"])
def test_unknown_model(errors: str) -> None:
    with pytest.raises(ValueError, match="model"):
        sg.price("call", 100.0, 100.0, 1.0, 0.2, model="heston_typo", errors=errors)
    with pytest.raises(ValueError, match="model"):
        sg.greeks("call", 100.0, 100.0, 1.0, 0.2, model="heston_typo", errors=errors)


def test_unknown_errors_mode() -> None:
    with pytest.raises(ValueError, match="errors"):
        sg.price("call", 100.0, 100.0, 1.0, 0.2, errors="ignore")


def test_unknown_exercise() -> None:
    with pytest.raises(ValueError, match="exercise"):
        sg.price("call", 100.0, 100.0, 1.0, 0.2, exercise="bermudan-ish")


def test_shape_mismatch() -> None:
    with pytest.raises(ValueError):
        sg.price("call", 100.0, np.array([90.0, 100.0, 110.0]), np.array([0.5, 1.0]), 0.2)
    with pytest.raises(ValueError):
        sg.greeks(np.array(["call", "put"]), np.ones(3) * 100.0, 100.0, 1.0, 0.2)


@pytest.mark.parametrize(
    "bad", ["abc", np.array(["a", "b"]), None, {"x": 1}], ids=["str", "str-array", "None", "dict"]
)
def test_wrong_dtype_names_the_argument(bad: object) -> None:
    with pytest.raises((TypeError, ValueError), match="spot"):
        sg.price("call", bad, 100.0, 1.0, 0.2)
    with pytest.raises((TypeError, ValueError), match="vol"):
        sg.price("call", 100.0, 100.0, 1.0, bad)


@pytest.mark.parametrize("model", ["black76", "bachelier", "inverse"])
def test_div_must_be_zero_for_forward_models(model: str) -> None:
    s, k, t, v, r, _ = BASE[model]
    with pytest.raises(ValueError, match="div"):
        sg.price("call", s, k, t, v, r, 0.01, model=model)
    with pytest.raises(ValueError, match="div"):
        sg.greeks("call", s, k, t, v, r, np.array([0.0, 0.02]), model=model)
    assert sg.price("call", s, k, t, v, r, 0.0, model=model) == _scalar("call", model)


def test_input_error_is_a_value_error() -> None:
    exc = pytest.importorskip("strikegrid.exceptions")
    if not hasattr(exc, "InputError"):
        pytest.skip("strikegrid.exceptions has no InputError")
    assert issubclass(exc.InputError, ValueError)
    with pytest.raises(exc.InputError):
        sg.price("call", 100.0, 100.0, 1.0, -0.2)


def test_greek_names_are_the_documented_ones() -> None:
    assert sg.GREEKS == GREEKS
    assert tuple(sg.greeks("call", 100.0, 100.0, 1.0, 0.2)) == GREEKS

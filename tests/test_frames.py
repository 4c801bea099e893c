"""Data frames in and out: strikegrid.frames over pandas / polars / pyarrow / dask frames,
frames accepted where a chain is taken, results in the caller's frame type, no copies of
numeric columns."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import strikegrid as sg
import strikegrid.frames as sgf
from strikegrid.exceptions import InputError

pd = pytest.importorskip("pandas")
pl = pytest.importorskip("polars")
pa = pytest.importorskip("pyarrow")

RNG = np.random.default_rng(7)
N = 1_000


@pytest.fixture(scope="module")
def options() -> Any:
    return pd.DataFrame(
        {
            "kind": RNG.choice(["call", "put"], N),
            "spot": RNG.uniform(80, 120, N),
            "strike": RNG.uniform(70, 130, N),
            "expiry": RNG.uniform(0.01, 2.0, N),
            "vol": RNG.uniform(0.05, 0.8, N),
            "rate": RNG.uniform(0.0, 0.05, N),
        }
    )


def _as(kind: str, df: Any) -> Any:
    if kind == "pandas":
        return df
    if kind == "polars":
        return pl.from_pandas(df)
    return pa.Table.from_pandas(df, preserve_index=False)


def _col(frame: Any, name: str) -> np.ndarray:
    return sgf.column(frame, name)


@pytest.mark.parametrize("kind", ["pandas", "polars", "pyarrow"])
def test_price_greeks_implied_in_the_callers_frame_type(kind: str, options: Any) -> None:
    frame = _as(kind, options)
    ref = sg.price(
        options["kind"].to_numpy(),
        options["spot"].to_numpy(),
        options["strike"].to_numpy(),
        options["expiry"].to_numpy(),
        options["vol"].to_numpy(),
        options["rate"].to_numpy(),
    )
    priced = sgf.price(frame)
    assert type(priced) is type(frame)
    assert sgf.frame_kind(priced) == kind
    np.testing.assert_array_equal(_col(priced, "price"), ref)
    # the input is not modified
    assert "price" not in (frame.column_names if kind == "pyarrow" else list(frame.columns))

    g = sgf.greeks(frame, which=["delta", "vega"], prefix="g_")
    ref_g = sg.greeks(
        options["kind"].to_numpy(),
        options["spot"].to_numpy(),
        options["strike"].to_numpy(),
        options["expiry"].to_numpy(),
        options["vol"].to_numpy(),
        options["rate"].to_numpy(),
        which=["delta", "vega"],
    )
    np.testing.assert_array_equal(_col(g, "g_delta"), ref_g["delta"])
    np.testing.assert_array_equal(_col(g, "g_vega"), ref_g["vega"])

    iv = sgf.implied_vol(priced, premium="price", status="why")
    ref_iv, ref_status = sg.implied_vol(
        ref,
        options["kind"].to_numpy(),
        options["spot"].to_numpy(),
        options["strike"].to_numpy(),
        options["expiry"].to_numpy(),
        options["rate"].to_numpy(),
        return_status=True,
    )
    np.testing.assert_array_equal(_col(iv, "iv"), ref_iv)
    np.testing.assert_array_equal(_col(iv, "why"), ref_status)
    assert _col(iv, "why").dtype == np.uint8
    assert sgf.frame_kind(iv) == kind


def test_columns_and_values(options: Any) -> None:
    df = options.rename(columns={"vol": "sigma"})
    out = sgf.price(df, vol="sigma", div=0.01, model="bsm", out="premium")
    ref = sg.price(
        df["kind"].to_numpy(),
        df["spot"].to_numpy(),
        df["strike"].to_numpy(),
        df["expiry"].to_numpy(),
        df["sigma"].to_numpy(),
        df["rate"].to_numpy(),
        0.01,
    )
    np.testing.assert_array_equal(out["premium"], ref)
    # a kind value for every row, rate defaults to 0 without a rate column
    calls = sgf.price(df.drop(columns="rate"), kind="call", vol="sigma")
    np.testing.assert_array_equal(
        calls["price"],
        sg.price("call", df["spot"], df["strike"], df["expiry"], df["sigma"]),
    )
    with pytest.raises(InputError, match="no 'vol' column"):
        sgf.price(df)
    with pytest.raises(InputError, match="no column 'volatility'"):
        sgf.price(df, vol="volatility")
    with pytest.raises(InputError, match="frame"):
        sgf.price({"kind": ["call"]})


def test_numeric_columns_are_not_copied(options: Any) -> None:
    col = sgf.column(options, "strike")
    assert np.shares_memory(col, options["strike"].to_numpy())
    pframe = pl.from_pandas(options)
    assert np.shares_memory(sgf.column(pframe, "strike"), pframe.get_column("strike").to_numpy())
    table = pa.Table.from_pandas(options, preserve_index=False)
    arrow = sgf.column(table, "strike")
    assert not arrow.flags.owndata  # a view of the arrow buffer
    # the kernels take Series / arrow arrays directly
    for strikes in (options["strike"], pframe.get_column("strike"), table.column("strike")):
        np.testing.assert_array_equal(
            sg.price("call", 100.0, strikes, 0.5, 0.2),
            sg.price("call", 100.0, options["strike"].to_numpy(), 0.5, 0.2),
        )


def test_dask_dataframe_is_lazy_and_equal(options: Any) -> None:
    dd = pytest.importorskip("dask.dataframe")
    ddf = dd.from_pandas(options, npartitions=4)
    out = sgf.greeks(ddf, which="delta")
    assert sgf.frame_kind(out) == "dask"
    assert list(out.columns) == [*options.columns, "delta"]
    computed = out.compute()
    # (dask stores the text column as arrow strings: compare values, not string dtypes)
    pd.testing.assert_frame_equal(computed, sgf.greeks(options, which="delta"), check_dtype=False)
    iv = sgf.implied_vol(sgf.price(ddf), premium="price", status="st").compute()
    assert iv["st"].dtype == np.uint8


def test_make_frame_and_to_pandas() -> None:
    cols = {"a": np.arange(3.0), "b": np.array(["x", "y", "z"], dtype=object)}
    for kind in ("pandas", "polars", "pyarrow"):
        frame = sgf.make_frame(cols, kind)
        assert sgf.frame_kind(frame) == kind
        back = sgf.to_pandas(frame)
        assert back["a"].tolist() == [0.0, 1.0, 2.0] and back["b"].tolist() == ["x", "y", "z"]
    with pytest.raises(InputError, match="output"):
        sgf.make_frame(cols, "excel")


# ------------------------------------------------------------------------------ chains


@pytest.fixture(scope="module")
def chain() -> sg.Chain:
    return sg.Chain.sample()


@pytest.mark.parametrize("kind", ["pandas", "polars", "pyarrow"])
def test_chain_frames_everywhere(kind: str, chain: sg.Chain) -> None:
    frame = chain.to_frame(kind, derived=False)
    assert sgf.frame_kind(frame) == kind
    again = sg.Chain.from_frame(frame)
    np.testing.assert_array_equal(again.t, chain.t)
    surface = sg.Surface.fit(frame)  # a frame where a chain is taken
    ref = sg.Surface.fit(chain)
    np.testing.assert_array_equal(
        surface.vol(chain.strike, chain.t), ref.vol(chain.strike, chain.t)
    )
    screened = sg.screen(frame, "cash_secured_put", surface=ref, dte=(20, 60), top=5)
    assert sgf.frame_kind(screened) == kind  # the caller's type back
    direct = sg.screen(chain, "cash_secured_put", surface=ref, dte=(20, 60), top=5)
    np.testing.assert_array_equal(sgf.column(screened, "short_put"), direct["short_put"])
    vols = sg.surface.quote_vols(frame)
    np.testing.assert_array_equal(vols["mid"], ref.quote_vols["mid"])


def test_quote_vols_is_the_fits_first_steps(chain: sg.Chain) -> None:
    vols = sg.surface.quote_vols(chain)
    surface = sg.Surface.fit(chain)
    for name in ("bid", "ask", "mid"):
        np.testing.assert_array_equal(vols[name], surface.quote_vols[name])
    fitted = np.isin(chain.t, [s.t for s in surface.slices])
    np.testing.assert_allclose(
        vols["forward"][fitted], np.asarray(surface.forward(chain.t[fitted])), rtol=1e-12
    )
    assert set(vols) == {"forward", "discount", "bid", "ask", "mid"}


def test_screen_output_choices(chain: sg.Chain) -> None:
    kw = {"dte": (20, 60), "top": 3}
    assert isinstance(sg.screen(chain, "cash_secured_put", **kw), pd.DataFrame)
    assert isinstance(sg.screen(chain, "cash_secured_put", frame="pyarrow", **kw), pa.Table)
    pframe = chain.to_frame("polars", derived=False)
    assert isinstance(sg.screen(pframe, "cash_secured_put", frame="pandas", **kw), pd.DataFrame)
    with pytest.raises(InputError, match="chain"):
        sg.screen(42, "cash_secured_put")

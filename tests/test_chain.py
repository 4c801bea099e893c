"""sg.Chain on the real snapshots of ../shared/data/option_chains (SPX EOD, Deribit BTC/ETH).

Row counts and quote problems are checked against the files themselves (read here with the csv
module, independently of the package) and their sanity_checks.json.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import strikegrid as sg
from strikegrid.chain import Chain, ChainReport, new_york_offset

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "option_chains"
SPX_DIR = DATA / "spx_ivolatility_2011-01"
DERIBIT_DIR = DATA / "deribit_2026-01-02T1626Z"
SPX_DAYS = ("2011-01-03", "2011-01-04", "2011-01-05", "2011-01-06", "2011-01-07")
SPX_FILES = {d: SPX_DIR / f"spx_{d}.csv" for d in SPX_DAYS}
COIN_FILES = {
    "BTC": DERIBIT_DIR / "btc_20260102T1626.csv",
    "ETH": DERIBIT_DIR / "eth_20260102T1626.csv",
}
ALL_FILES = {**{f"spx_{d}": p for d, p in SPX_FILES.items()}, **COIN_FILES}

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="shared data folder not present")

YEAR_HOURS = 365.0 * 24.0


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _num(s: str) -> float:
    return float(s) if s else float("nan")


def _sanity(path: Path) -> dict[str, Any]:
    checks = json.loads((path.parent / "sanity_checks.json").read_text())
    coin, _, stamp = path.stem.partition("_")
    key = path.stem if coin == "spx" else f"{coin.upper()}_{stamp}"
    return checks[key]  # type: ignore[no-any-return]


@pytest.fixture(scope="module", params=sorted(ALL_FILES))
def loaded(request: pytest.FixtureRequest) -> tuple[Path, Chain]:
    path = ALL_FILES[request.param]
    return path, Chain.read_csv(path)


# ------------------------------------------------------------------------------ parsing


def test_rows_kinds_strikes_match_the_file(loaded: tuple[Path, Chain]) -> None:
    path, chain = loaded
    rows = _rows(path)
    assert len(chain) == len(rows) == _sanity(path)["rows"]
    np.testing.assert_array_equal(chain.strike, [float(r["strike"]) for r in rows])
    np.testing.assert_array_equal(chain.kind, [1.0 if r["kind"] == "call" else -1.0 for r in rows])
    np.testing.assert_array_equal(chain.bid, [_num(r["bid"]) for r in rows])
    np.testing.assert_array_equal(chain.ask, [_num(r["ask"]) for r in rows])
    np.testing.assert_array_equal(chain.volume, [_num(r["volume"]) for r in rows])
    np.testing.assert_array_equal(chain.open_interest, [_num(r["open_interest"]) for r in rows])
    np.testing.assert_array_equal(chain.iv_source, [_num(r["iv_source"]) for r in rows])
    np.testing.assert_array_equal(
        chain.underlying_price, [_num(r["underlying_price"]) for r in rows]
    )
    assert list(chain.contract) == [r["contract"] for r in rows]
    assert chain.underlying == rows[0]["underlying"]
    assert chain.exercise_style == "european"
    for name in ("strike", "kind", "bid", "ask", "t", "mid", "usable", "expiry"):
        arr = getattr(chain, name)
        assert arr.shape == (len(rows),) and not arr.flags.writeable, name


def test_expiries_and_t(loaded: tuple[Path, Chain]) -> None:
    path, chain = loaded
    rows = _rows(path)
    assert chain.expiry.dtype == np.dtype("datetime64[s]")
    times, t = chain.expiries
    assert len(times) == _sanity(path)["expiries"] == len(np.unique(chain.expiry))
    assert np.all(np.diff(times.astype(np.int64)) > 0)
    # t is increasing with the settlement instant and matches each row
    assert np.all(np.diff(t) > 0)
    for x, tx in zip(times, t):
        assert np.all(chain.t[chain.expiry == x] == tx)
    # settlement falls on the listed expiry date (UTC date; 21:00 UTC at the latest)
    listed = np.array([r["expiry"] for r in rows], dtype="datetime64[D]")
    np.testing.assert_array_equal(chain.expiry.astype("datetime64[D]"), listed)
    np.testing.assert_array_equal(chain.expiry_date, listed)
    # rows settled after the quote time have t > 0; the year fraction is ACT/365
    quote = np.datetime64(chain.quote_time.astimezone(timezone.utc).replace(tzinfo=None), "us")
    secs = (chain.expiry.astype("datetime64[us]") - quote).astype(np.float64) / 1e6
    np.testing.assert_allclose(chain.t, secs / (365 * 86400.0), rtol=0, atol=1e-12)
    assert chain.t.max() < 3.1


def test_spx_settlement_times() -> None:
    chain = Chain.read_csv(SPX_FILES["2011-01-03"])
    assert chain.quote_time == datetime(2011, 1, 3, 16, 15, tzinfo=timezone(-timedelta(hours=5)))
    # AM monthly 2011-01-21: settles at the 09:30 ET open, 18 days minus 6 h 45 min after the
    # 16:15 ET quote
    am = chain.slice("2011-01-21")
    assert am.expiry == np.datetime64("2011-01-21T14:30:00")
    assert am.t == pytest.approx((18 * 24 - 6.75) / YEAR_HOURS, abs=1e-12)
    # SPXW PM weekly 2011-01-07: settles at 16:00 ET, 4 days minus 15 minutes after the quote
    pm = chain.slice(date(2011, 1, 7))
    assert pm.t == pytest.approx((4 * 24 - 0.25) / YEAR_HOURS, abs=1e-12)
    # summer expiries are in EDT (UTC-4): 09:30 EDT = 13:30 UTC, 16:00 EDT = 20:00 UTC
    assert chain.slice("2011-06-17").expiry == np.datetime64("2011-06-17T13:30:00")
    assert chain.slice("2011-06-30").expiry == np.datetime64("2011-06-30T20:00:00")
    settlement = chain.column("settlement")
    am_rows = settlement == "AM"
    assert am_rows.any() and (~am_rows).any()
    local = chain.expiry[am_rows].astype("datetime64[m]") - chain.expiry_date[am_rows]
    assert set(local.astype(np.int64).tolist()) <= {13 * 60 + 30, 14 * 60 + 30}


def test_deribit_settlement_and_units() -> None:
    for coin, path in COIN_FILES.items():
        chain = Chain.read_csv(path)
        assert chain.underlying == coin and chain.price_unit == coin
        assert chain.is_inverse and chain.multiplier == 1.0
        assert chain.quote_time == datetime(2026, 1, 2, 16, 26, 24, 692316, tzinfo=timezone.utc)
        hours = (chain.expiry - chain.expiry.astype("datetime64[D]")).astype(np.int64) / 3600
        assert np.all(hours == 8.0)
        first = chain.slice("2026-01-03")
        expected = (datetime(2026, 1, 3, 8, tzinfo=timezone.utc) - chain.quote_time) / timedelta(
            days=365
        )
        assert first.t == pytest.approx(expected, abs=1e-12)
        index = np.array([float(r["index_price"]) for r in _rows(path)])
        assert chain.spot == pytest.approx(float(np.median(index)))
        assert np.all(chain.t > 0)


def test_spx_scalars() -> None:
    chain = Chain.read_csv(SPX_FILES["2011-01-05"])
    assert chain.price_unit == "USD" and not chain.is_inverse
    assert chain.multiplier == 100.0
    assert chain.spot == 1276.56
    assert isinstance(chain.quote_time, datetime) and chain.quote_time.tzinfo is not None


def test_sample_is_the_2011_01_03_chain() -> None:
    sample = sg.Chain.sample()
    chain = Chain.read_csv(SPX_FILES["2011-01-03"])
    assert len(sample) == len(chain) == 1936
    for name in ("strike", "kind", "bid", "ask", "t", "expiry", "usable"):
        np.testing.assert_array_equal(getattr(sample, name), getattr(chain, name))


def test_new_york_offset_matches_the_tz_database() -> None:
    zoneinfo = pytest.importorskip("zoneinfo")
    try:
        ny = zoneinfo.ZoneInfo("America/New_York")
    except zoneinfo.ZoneInfoNotFoundError:
        pytest.skip("no time-zone database")
    day = date(1995, 1, 1)
    while day < date(2031, 1, 1):
        at = datetime(day.year, day.month, day.day, 12, tzinfo=ny)
        assert new_york_offset(day).utcoffset(None) == at.utcoffset(), day
        day += timedelta(days=3)


# ------------------------------------------------------------------------------ report


def test_report_counts_match_the_files(loaded: tuple[Path, Chain]) -> None:
    path, chain = loaded
    rows = _rows(path)
    checks = _sanity(path)
    report = chain.report()
    assert isinstance(report, ChainReport)
    counts = report.counts
    bid = np.array([_num(r["bid"]) for r in rows])
    ask = np.array([_num(r["ask"]) for r in rows])
    assert counts["zero_bid"] == checks["zero_bid"] == int((bid == 0).sum())
    assert counts["zero_ask"] == checks["zero_ask"]
    assert counts["missing_bid"] == checks["missing_bid"]
    assert counts["missing_ask"] == checks["missing_ask"]
    assert counts["crossed"] == checks["crossed(bid>ask)"] == 0
    assert counts["locked"] == checks["locked(bid==ask>0)"] == 0
    assert counts["duplicate"] == checks["dup_expiry_strike_kind"] == 0
    assert counts["nonpositive_strike"] == counts["negative_price"] == 0
    assert counts["both_missing"] == 0
    flagged = checks["iv_interpolated_flag"]
    assert counts["iv_interpolated"] == (flagged or 0)
    np.testing.assert_array_equal(report.rows("zero_bid"), np.flatnonzero(bid == 0))
    np.testing.assert_array_equal(
        report.rows("missing_bid"), np.flatnonzero(np.isnan(bid) & ~np.isnan(ask))
    )
    assert sum(report.not_usable_by.values()) == report.n_rows - report.n_usable
    assert report.n_usable == int(chain.usable.sum())


def test_expired_rows_on_the_expiry_day() -> None:
    # 2011-01-07: the SPXW weekly settled at 16:00 ET, the snapshot is 16:15 ET
    chain = Chain.read_csv(SPX_FILES["2011-01-07"])
    report = chain.report()
    rows = _rows(SPX_FILES["2011-01-07"])
    same_day = np.array([r["expiry"] == "2011-01-07" for r in rows])
    np.testing.assert_array_equal(report.rows("expired"), np.flatnonzero(same_day))
    assert np.all(chain.t[same_day] == pytest.approx(-0.25 / YEAR_HOURS))
    assert not chain.usable[same_day].any()
    for day in SPX_DAYS[:-1]:
        assert Chain.read_csv(SPX_FILES[day]).report().counts["expired"] == 0


def test_usable_excludes_exactly_the_reported_problems(loaded: tuple[Path, Chain]) -> None:
    _, chain = loaded
    report = chain.report()
    excluded = np.zeros(len(chain), dtype=bool)
    for finding in report.findings.values():
        if finding.excludes:
            excluded[finding.rows] = True
    np.testing.assert_array_equal(chain.usable, ~excluded)
    np.testing.assert_array_equal(report.reason == "", chain.usable)
    # the policy, restated from the raw arrays
    bid, ask = chain.bid, chain.ask
    with np.errstate(invalid="ignore"):
        policy = (
            np.isfinite(bid)
            & np.isfinite(ask)
            & (bid > 0)
            & (ask >= bid)
            & (chain.t > 0)
            & (chain.strike > 0)
        )
    np.testing.assert_array_equal(chain.usable, policy)  # no duplicates or bound breaches here
    assert np.all(np.isfinite(chain.mid[chain.usable]))


def test_report_str_is_a_readable_table(loaded: tuple[Path, Chain]) -> None:
    _, chain = loaded
    report = chain.report()
    text = str(report)
    lines = text.splitlines()
    assert lines[0].startswith(f"{chain.underlying} chain at ")
    assert f"usable for fitting: {report.n_usable} of {len(chain)} rows" in text
    for name, finding in report.findings.items():
        (line,) = [ln for ln in lines if ln.startswith(name + " ")]
        assert str(finding.count) in line.split()
    assert max(len(ln) for ln in lines) <= 100
    assert "ChainReport(" in repr(report)


def test_mid_and_spread(loaded: tuple[Path, Chain]) -> None:
    _, chain = loaded
    both = np.isfinite(chain.bid) & np.isfinite(chain.ask)
    np.testing.assert_array_equal(np.isfinite(chain.mid), both)  # no crossed quotes in the files
    np.testing.assert_allclose(chain.mid[both], (chain.bid[both] + chain.ask[both]) / 2)
    np.testing.assert_allclose(chain.spread[both], chain.ask[both] - chain.bid[both])
    assert np.all(np.isnan(chain.spread[~both]))


def test_slices_cover_every_row_once(loaded: tuple[Path, Chain]) -> None:
    _, chain = loaded
    slices = list(chain)
    assert len(slices) == len(chain.expiries.t)
    rows = np.concatenate([s.rows for s in slices])
    assert sorted(rows.tolist()) == list(range(len(chain)))
    for s in slices:
        assert np.all(chain.expiry[s.rows] == s.expiry)
        np.testing.assert_array_equal(s.strike, chain.strike[s.rows])
        assert chain.slice(s.t).expiry == s.expiry
        assert chain.slice(s.expiry).rows.tolist() == s.rows.tolist()
        assert chain.year_fraction(s.expiry) == pytest.approx(s.t, abs=1e-12)


# ------------------------------------------------------------------------------ synthetic chains


def _small(**over: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "underlying": "XYZ",
        "quote_time": "2024-03-01T16:00:00-05:00",
        "expiry": ["2024-03-15"] * 8,
        "strike": [90.0, 90.0, 100.0, 100.0, 110.0, 110.0, 100.0, 120.0],
        "kind": ["call", "put", "call", "put", "call", "put", "call", "put"],
        "bid": [10.5, 0.2, 2.0, 2.5, 3.0, 9.0, 2.1, 0.0],
        "ask": [11.0, 0.3, 2.0, 2.9, 2.0, np.nan, 2.2, 0.1],
        "underlying_price": 100.0,
        "volume": [1, 0, 5, 5, 0, 0, 3, 0],
        "open_interest": [10, 0, 5, 5, 0, 0, 3, 0],
    }
    args.update(over)
    return args


def test_findings_on_a_small_chain() -> None:
    chain = Chain.from_arrays(**_small())
    r = chain.report()
    assert r.rows("locked").tolist() == [2]
    assert r.rows("crossed").tolist() == [4]
    assert r.rows("missing_ask").tolist() == [5]
    assert r.rows("duplicate").tolist() == [6]
    assert r.rows("zero_bid").tolist() == [7]
    assert r.rows("unpaired").tolist() == [7]
    assert r.rows("no_activity").tolist() == [1, 4, 5, 7]
    assert chain.usable.tolist() == [True, True, True, True, False, False, False, False]
    assert np.isnan(chain.mid[4]) and chain.mid[2] == 2.0
    assert r.not_usable_by["crossed"] == 1 and r.n_usable == 4
    # USD expiry without an AM/PM tag settles at 16:00 New York time (EDT after 10 March)
    assert chain.expiry[0] == np.datetime64("2024-03-15T20:00:00")
    assert chain.t[0] == pytest.approx((14 * 24 - 1) / YEAR_HOURS)


def test_no_arbitrage_bounds() -> None:
    usd = Chain.from_arrays(
        **_small(
            expiry="2024-06-21",
            strike=[90.0, 90.0],
            kind=["call", "put"],
            bid=[100.5, 95.0],
            ask=[101.0, 96.0],
            volume=None,
            open_interest=None,
        )
    )
    assert usd.report().rows("outside_bounds").tolist() == [0, 1]
    assert not usd.usable.any()
    coin = Chain.from_arrays(
        underlying="BTC",
        quote_time="2026-01-02T16:00:00Z",
        expiry="2026-03-27",
        strike=[50000.0, 50000.0, 120000.0, 120000.0],
        kind=["call", "put", "call", "put"],
        bid=[0.45, 0.0001, 1.01, 0.40],
        ask=[0.46, 0.0002, 1.02, 0.41],
        underlying_price=90000.0,
        price_unit="BTC",
    )
    assert coin.is_inverse and coin.multiplier == 1.0
    # call premium above 1 coin; put premium 0.405 > K/F? 120000/90000 = 1.33: fine
    assert coin.report().rows("outside_bounds").tolist() == [2]
    assert coin.expiry[0] == np.datetime64("2026-03-27T08:00:00")


def test_float_expiries_are_year_fractions() -> None:
    chain = Chain.from_arrays(
        underlying="XYZ",
        quote_time=datetime(2024, 1, 2, 12, tzinfo=timezone.utc),
        expiry=[0.5, 0.5, 1.0],
        strike=[100.0, 100.0, 100.0],
        kind=[1, -1, True],
        bid=[5.0, 4.0, 7.0],
        ask=[5.5, 4.5, 7.5],
        underlying_price=100.0,
    )
    assert chain.t.tolist() == pytest.approx([0.5, 0.5, 1.0], abs=1e-9)
    assert chain.kind.tolist() == [1.0, -1.0, 1.0]
    assert len(chain.slice(0.5)) == 2
    assert chain.year_fraction(0.25) == 0.25
    assert chain.year_fraction("2024-01-03T12:00:00Z") == pytest.approx(1 / 365)
    with pytest.raises(sg.InputError, match="expiry"):
        chain.slice(0.75)


def test_slice_of_an_ambiguous_date_names_the_instants() -> None:
    chain = Chain.from_arrays(
        **_small(
            expiry="2024-03-15",
            strike=[100.0, 100.0],
            kind=["call", "call"],
            bid=[1.0, 1.1],
            ask=[1.2, 1.3],
            volume=None,
            open_interest=None,
            settlement=["AM", "PM"],
        )
    )
    assert chain.report().counts["duplicate"] == 0  # different settlement instants
    with pytest.raises(sg.InputError, match="2 settlement times"):
        chain.slice("2024-03-15")
    assert len(chain.slice("2024-03-15T13:30:00Z")) == 1
    with pytest.raises(sg.InputError, match="no expiry on"):
        chain.slice("2024-03-22")


# ------------------------------------------------------------------------------ frames


def _frame_chains(path: Path) -> dict[str, Chain]:
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    pa = pytest.importorskip("pyarrow")
    pcsv = pytest.importorskip("pyarrow.csv")
    pdf = pd.read_csv(path)
    return {
        "pandas": Chain.from_frame(pdf),
        "polars": Chain.from_frame(pl.read_csv(path)),
        "pyarrow": Chain.from_frame(pcsv.read_csv(path)),
        "pyarrow-from-pandas": Chain.from_frame(pa.Table.from_pandas(pdf)),
    }


ARRAYS = (
    "strike",
    "kind",
    "bid",
    "ask",
    "last",
    "volume",
    "open_interest",
    "iv_source",
    "underlying_price",
    "expiry",
    "expiry_date",
    "t",
    "mid",
    "spread",
    "usable",
    "iv_interpolated",
)


def _assert_same(a: Chain, b: Chain) -> None:
    assert len(a) == len(b)
    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert list(a.contract) == list(b.contract)
    for name in ("underlying", "quote_time", "price_unit", "is_inverse", "multiplier", "spot"):
        assert getattr(a, name) == getattr(b, name), name
    assert a.report().counts == b.report().counts


@pytest.mark.parametrize("name", ["spx_2011-01-03", "spx_2011-01-07", "BTC", "ETH"])
def test_frames_give_identical_arrays(name: str) -> None:
    path = ALL_FILES[name]
    chain = Chain.read_csv(path)
    for lib, other in _frame_chains(path).items():
        try:
            _assert_same(chain, other)
        except AssertionError as e:
            raise AssertionError(f"{lib}: {e}") from e


@pytest.mark.parametrize("name", ["spx_2011-01-06", "ETH"])
@pytest.mark.parametrize("output", ["pandas", "polars"])
def test_to_frame_round_trip(name: str, output: str) -> None:
    pytest.importorskip(output)
    chain = Chain.read_csv(ALL_FILES[name])
    frame = chain.to_frame(output)
    assert frame.shape[0] == len(chain)
    assert list(frame.columns)[:15] == list(sg.chain.CORE_COLUMNS)
    for col in ("t", "mid", "usable", "expiry_time"):
        assert col in frame.columns
    again = Chain.from_frame(frame)
    _assert_same(chain, again)
    bare = Chain.from_frame(chain.to_frame(output, derived=False))
    _assert_same(chain, bare)
    assert set(chain.extra_columns) <= set(frame.columns)


def test_input_frame_is_not_mutated() -> None:
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    path = SPX_FILES["2011-01-04"]
    pdf = pd.read_csv(path)
    before = pdf.copy(deep=True)
    chain = Chain.from_frame(pdf)
    pd.testing.assert_frame_equal(pdf, before)
    assert list(pdf.columns) == list(before.columns)
    # the chain shares no memory with the frame
    pdf.loc[0, "bid"] = 12345.0
    assert chain.bid[0] != 12345.0
    with pytest.raises(ValueError):
        chain.bid[0] = 1.0
    plf = pl.read_csv(path)
    snapshot = plf.clone()
    Chain.from_frame(plf)
    assert plf.equals(snapshot)


def test_from_arrays_does_not_mutate_inputs() -> None:
    args = _small()
    bid = np.array(args["bid"])
    kept = bid.copy()
    args["bid"] = bid
    chain = Chain.from_arrays(**args)
    np.testing.assert_array_equal(bid, kept)
    bid[0] = -1.0
    assert chain.bid[0] == 10.5


# ------------------------------------------------------------------------------ bad input


def _write(tmp_path: Path, rows: list[dict[str, str]], drop: tuple[str, ...] = ()) -> Path:
    fields = [k for k in rows[0] if k not in drop]
    out = tmp_path / "chain.csv"
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return out


@pytest.mark.parametrize("column", ["strike", "kind", "bid", "quote_time", "underlying_price"])
def test_missing_column_is_named(tmp_path: Path, column: str) -> None:
    rows = _rows(SPX_FILES["2011-01-03"])[:20]
    path = _write(tmp_path, rows, drop=(column,))
    with pytest.raises(sg.InputError, match=f"missing required column.*{column}") as e:
        Chain.read_csv(path)
    assert e.value.arg == column


def test_frame_missing_columns_are_all_named() -> None:
    pd = pytest.importorskip("pandas")
    df = pd.read_csv(SPX_FILES["2011-01-03"]).drop(columns=["ask", "price_unit"])
    with pytest.raises(sg.InputError, match="ask, price_unit"):
        Chain.from_frame(df)


def test_mixed_underlyings_or_quote_times_raise(tmp_path: Path) -> None:
    spx = _rows(SPX_FILES["2011-01-03"])[:10]
    other = _rows(SPX_FILES["2011-01-04"])[:10]
    with pytest.raises(sg.InputError, match="quote_time") as e:
        Chain.read_csv(_write(tmp_path, spx + other))
    assert e.value.arg == "quote_time"
    btc = _rows(COIN_FILES["BTC"])[:5]
    eth = _rows(COIN_FILES["ETH"])[:5]
    with pytest.raises(sg.InputError, match="underlying") as e:
        Chain.read_csv(_write(tmp_path, btc + eth))
    assert e.value.arg == "underlying"
    # the same instant written in two offsets is one quote time
    same = [dict(r) for r in spx]
    same[3]["quote_time"] = "2011-01-03T21:15:00Z"
    assert len(Chain.read_csv(_write(tmp_path, same))) == 10


@pytest.mark.parametrize(
    ("column", "value", "pattern"),
    [
        ("strike", "abc", "strike: expected a number, got 'abc' at row 4"),
        ("kind", "straddle", "kind"),
        ("expiry", "21/01/2011", "expiry: not an ISO-8601 date"),
        ("expiry", "", "expiry: missing at row 4"),
        ("bid", "1,5", "bid"),
        ("price_unit", "", "price_unit: missing at row 4"),
        ("exercise_style", "bermudan", "exercise_style"),
    ],
)
def test_bad_cells_name_the_column(tmp_path: Path, column: str, value: str, pattern: str) -> None:
    rows = _rows(SPX_FILES["2011-01-03"])[:10]
    rows[4][column] = value
    with pytest.raises(sg.InputError, match=pattern) as e:
        Chain.read_csv(_write(tmp_path, rows))
    assert e.value.arg == column


def test_other_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(sg.InputError, match="path"):
        Chain.read_csv(tmp_path / "nope.csv")
    header_only = tmp_path / "empty.csv"
    header_only.write_text(",".join(sg.chain.CORE_COLUMNS) + "\n")
    with pytest.raises(sg.InputError, match="no rows"):
        Chain.read_csv(header_only)
    with pytest.raises(sg.InputError, match="frame"):
        Chain.from_frame([1, 2, 3])
    with pytest.raises(sg.InputError, match="ask: has 3 rows"):
        Chain.from_arrays(**_small(ask=[1.0, 2.0, 3.0]))
    chain = Chain.from_arrays(**_small())
    with pytest.raises(sg.InputError, match="output"):
        chain.to_frame("excel")
    with pytest.raises(KeyError):
        chain.report()["nonsense"]
    assert issubclass(sg.InputError, ValueError)


def test_chain_is_immutable() -> None:
    chain = Chain.from_arrays(**_small())
    with pytest.raises(AttributeError):
        chain.strike = np.zeros(8)  # type: ignore[misc]
    for name in ARRAYS:
        assert not getattr(chain, name).flags.writeable, name


def test_works_without_the_optional_frame_libraries() -> None:
    code = (
        "import sys\n"
        "for m in ('pandas', 'polars', 'pyarrow'):\n"
        "    sys.modules[m] = None\n"
        "import strikegrid as sg\n"
        f"c = sg.Chain.read_csv({str(SPX_FILES['2011-01-03'])!r})\n"
        "assert len(c) == 1936 and len(sg.Chain.sample()) == 1936\n"
        "print(c.report().n_usable)\n"
        "try:\n"
        "    c.to_frame()\n"
        "except ImportError:\n"
        "    print('no pandas')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == [str(Chain.read_csv(SPX_FILES["2011-01-03"]).usable.sum()), "no", "pandas"]


@pytest.mark.parametrize("name", ["spx_2011-01-05", "BTC"])
def test_frames_with_parsed_datetimes(name: str) -> None:
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    path = ALL_FILES[name]
    chain = Chain.read_csv(path)
    df = pd.read_csv(path)
    for col in ("quote_time", "expiry", "expiry_time"):
        if col in df.columns:
            df[col] = pd.to_datetime(df[col])
    _assert_same(chain, Chain.from_frame(df))
    _assert_same(chain, Chain.from_frame(pl.read_csv(path, try_parse_dates=True)))

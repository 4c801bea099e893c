"""sg.Book: money greeks against the positions and against finite differences of the scenario
engine, the zero shock, covered call vs. synthetic short put, stresses, rolls, files, the
command line and bad input."""

from __future__ import annotations

import importlib
import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import strikegrid as sg
from strikegrid import book as book_mod
from strikegrid import cli
from strikegrid import strategies as st
from strikegrid.book import STRESSES, Book
from strikegrid.exceptions import InputError

EXAMPLE = Path(book_mod.__file__).parent / "data" / "example_book.json"
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "option_chains"
BTC = DATA / "deribit_2026-01-02T1626Z" / "btc_20260102T1626.csv"
RATE = 0.0015


def _col(frame: Any, name: str) -> np.ndarray:
    return np.asarray(frame[name])


@pytest.fixture(scope="module")
def surface() -> sg.Surface:
    return sg.Surface.fit(sg.Chain.sample(), rate=RATE)


def _book(surface: sg.Surface) -> Book:
    b = Book(surfaces={"SPX": surface}, name="test")
    b.add(st.iron_condor(1150, 1200, 1325, 1375, "2011-02-18"), 2, -8.5, "2010-12-15")
    b.add(st.covered_call(1250, "2011-01-21", price=1200.0), 3, -12.0, "2010-12-01", tag="cc")
    b.add(st.cash_secured_put(1280, "2011-01-21"), 1, -20.0, "2010-12-20")
    b.add(st.bull_put_spread(1250, 1200, "2011-01-07"), 5, -3.0, "2010-12-28")
    b.add(st.calendar(1275, "2011-01-21", "2011-03-18", kind="put"), 1, 14.0, "2010-12-28")
    return b


@pytest.fixture(scope="module")
def book(surface: sg.Surface) -> Book:
    return _book(surface)


# ----------------------------------------------------------------------------- greeks


def test_book_greeks_are_the_sum_of_the_positions(book: Book, surface: sg.Surface) -> None:
    r = book.risk()
    spot = surface.chain.spot
    for k, pos in enumerate(book):
        v = pos.package.value(surface)
        q = pos.quantity
        row = {g: _col(r.positions, g)[k] for g in ("dollar_delta", "gamma_1pct", "vega_1pt")}
        assert row["dollar_delta"] == pytest.approx(v.dollar["delta"] * q, rel=1e-10)
        assert row["gamma_1pct"] == pytest.approx(v.dollar["gamma_1pct"] * q, rel=1e-10)
        assert row["vega_1pt"] == pytest.approx(v.dollar["vega_1pt"] * q, rel=1e-10)
        # Theta with the spot held: each leg's forward-held theta less b S delta.
        legs = v.legs
        opt = np.asarray(legs["kind"]) != "underlying"
        t, fwd = np.asarray(legs["t"])[opt], np.asarray(legs["forward"])[opt]
        carry = np.log(fwd / spot) / t
        th = np.sum(np.asarray(legs["theta"])[opt] - carry * spot * np.asarray(legs["delta"])[opt])
        want = th / 365.0 * pos.package.multiplier * q
        assert _col(r.positions, "theta_day")[k] == pytest.approx(want, rel=1e-10)
        assert _col(r.positions, "value")[k] == pytest.approx(v.value * q, rel=1e-12)
    for name in ("value", "pnl", "dollar_delta", "gamma_1pct", "vega_1pt", "theta_day"):
        total = float(_col(r.total, name)[0])
        assert total == pytest.approx(_col(r.positions, name).sum(), rel=1e-12)
        assert total == pytest.approx(_col(r.by_underlying, name).sum(), rel=1e-12)
        if name not in ("value", "pnl"):
            assert total == pytest.approx(_col(r.by_bucket, name).sum(), rel=1e-10)
    buckets = list(_col(r.by_bucket, "bucket"))
    assert buckets == ["0-7d", "8-30d", "31-60d", "61-90d", ">90d", "shares"]
    # Legs: condor 4 (46d), covered call 1 + shares, put 1 (18d), spread 2 (4d), calendar 2.
    assert list(_col(r.by_bucket, "legs")) == [2, 3, 4, 1, 0, 1]
    shares = _col(r.by_bucket, "dollar_delta")[-1]
    assert shares == pytest.approx(3 * 100 * spot)


def test_pnl_and_income(book: Book, surface: sg.Surface) -> None:
    r = book.risk()
    cc = book.positions[1]
    k = 1
    mark = cc.package.value(surface).per_unit
    assert _col(r.positions, "pnl")[k] == pytest.approx((mark + 12.0) * 300, rel=1e-12)
    assert _col(book.pnl(), "pnl")[k] == _col(r.positions, "pnl")[k]
    # Premium collected, premium at risk (the short call's value), capital (the shares).
    assert _col(r.positions, "premium")[k] == pytest.approx(3600.0)
    legs = cc.package.value(surface).legs
    short_value = float(np.asarray(legs["price"])[np.asarray(legs["kind"]) == "call"][0])
    assert _col(r.positions, "at_risk")[k] == pytest.approx(short_value * 300, rel=1e-12)
    assert _col(r.positions, "capital")[k] == pytest.approx(3 * 1200 * 100)
    # ACT/365 from the entry (2010-12-01) to the 2011-01-21 AM settlement.
    term = 33.0 + 17.71875
    y = 3600.0 / 360000.0 * 365.0 / term
    assert _col(r.positions, "yield")[k] == pytest.approx(y, rel=1e-3)
    # The calendar's collateral is not defined by cash-account rules: out of the yield.
    assert math.isinf(_col(r.positions, "capital")[4])
    assert math.isnan(_col(r.positions, "yield")[4])
    inc = book.income()
    assert list(_col(inc, "underlying")) == ["SPX", "total"]
    assert _col(inc, "premium")[1] == pytest.approx(_col(r.positions, "premium").sum())


# ----------------------------------------------------------------------------- scenarios


def test_zero_shock_reproduces_todays_value(book: Book) -> None:
    sc = book.scenarios(spot=[-0.1, 0.0, 0.1], vol=[0.0, 0.05], days=[0, 3])
    assert sc.total[1, 0, 0] == 0.0
    assert sc.base["SPX"] == pytest.approx(float(_col(book.risk().total, "value")[0]), rel=1e-12)
    assert sc.total.shape == (3, 2, 2)
    np.testing.assert_array_equal(sc.total, sc.pnl["SPX"])


def test_greeks_agree_with_finite_differences_of_the_scenarios(book: Book) -> None:
    total = book.risk().total
    h, hg, hv, d = 1e-6, 1e-4, 1e-5, 1e-3
    s = book.scenarios(spot=[-hg, -h, 0.0, h, hg], vol=[-hv, 0.0, hv], days=[0.0, d, 2 * d])
    p = s.total
    delta = (p[3, 1, 0] - p[1, 1, 0]) / (2 * h)
    gamma = 0.01 * (p[4, 1, 0] - 2 * p[2, 1, 0] + p[0, 1, 0]) / hg**2
    vega = (p[2, 2, 0] - p[2, 0, 0]) / (2 * hv) / 100
    # One-sided in days (>= 0), Richardson-extrapolated.
    theta = (4 * p[2, 1, 1] - p[2, 1, 2] / 2) / (3 * d)
    assert delta == pytest.approx(float(_col(total, "dollar_delta")[0]), rel=1e-6)
    assert gamma == pytest.approx(float(_col(total, "gamma_1pct")[0]), rel=1e-4)
    assert vega == pytest.approx(float(_col(total, "vega_1pt")[0]), rel=1e-6)
    assert theta == pytest.approx(float(_col(total, "theta_day")[0]), rel=1e-4)


def test_covered_call_equals_synthetic_short_put_plus_bond(surface: sg.Surface) -> None:
    """Put-call parity on the scenario grid: long stock + short call = short put + a bond paying
    K at expiry + (stock - discounted forward), whatever the vol shock."""
    chain = surface.chain
    s0, k, expiry = chain.spot, 1275.0, "2011-02-18"
    cc = Book(surfaces={"SPX": surface})
    cc.add(st.covered_call(k, expiry, price=s0), 1, 0.0, "2011-01-03")
    sp = Book(surfaces={"SPX": surface})
    sp.add(st.cash_secured_put(k, expiry), 1, 0.0, "2011-01-03")
    grid: dict[str, Any] = {
        "spot": np.linspace(-0.2, 0.2, 9),
        "vol": np.linspace(-0.1, 0.1, 5),
        "days": [0.0, 5.0, 30.0, 50.0],
    }
    diff = cc.scenarios(**grid).total - sp.scenarios(**grid).total
    t = chain.year_fraction(expiry)
    f, df = float(surface.forward(t)), float(surface.discount(t))
    r, b = -math.log(df) / t, math.log(f / s0) / t
    sh = grid["spot"][:, None, None]
    dt = np.asarray(grid["days"])[None, None, :] / 365.0
    tau = t - dt
    # Legs expired inside the horizon: stock - call + put = K exactly.
    alive = tau > 0
    fwd = np.where(alive, (1 + sh) * f * np.exp(-b * dt), (1 + sh) * s0)
    disc = np.where(alive, np.exp(-r * np.maximum(tau, 0.0)), 1.0)
    want = ((1 + sh) * s0 - s0) - disc * (fwd - k) + df * (f - k)
    want = np.broadcast_to(want, diff.shape) * 100
    np.testing.assert_allclose(diff, want, rtol=1e-9, atol=1e-7)
    # Independent of the vol shock; linear in the spot shock at today's date.
    np.testing.assert_allclose(diff, diff[:, :1, :] + 0 * diff, rtol=0, atol=1e-7)
    lin = diff[:, 0, 0]
    np.testing.assert_allclose(np.diff(lin, 2), 0.0, atol=1e-7)


def test_scenario_frames_worst_and_dynamics(book: Book) -> None:
    sc = book.scenarios()
    assert sc.total.shape == (41, 21, 10)
    frame = sc.frame()
    assert len(frame) == 8610
    assert list(frame.columns) == ["spot", "vol", "days", "SPX", "total"]
    worst = sc.worst(5)
    assert np.all(np.diff(_col(worst, "total")) >= 0)
    assert _col(worst, "total")[0] == sc.total.min()
    sm = book.scenarios(dynamics="sticky_moneyness")
    np.testing.assert_array_equal(sm.total[20, :, 0], sc.total[20, :, 0])
    assert not np.allclose(sm.total[0], sc.total[0])
    with pytest.raises(InputError, match="dynamics"):
        book.scenarios(dynamics="sticky_delta")
    with pytest.raises(InputError, match="spot"):
        book.scenarios(spot=[-1.5])


def test_stresses_match_the_grid(book: Book) -> None:
    table = book.stress()
    assert list(_col(table, "stress")) == list(STRESSES)
    for name, stress in STRESSES.items():
        grid = book.scenarios(spot=[stress.spot], vol=[stress.vol], days=[stress.days])
        i = list(STRESSES).index(name)
        assert _col(table, "total")[i] == pytest.approx(grid.total[0, 0, 0], rel=1e-10)
    crash = _col(table, "total")[0]
    assert crash < 0  # a short-put-heavy book loses in a crash
    per = book.stress(by="position")
    np.testing.assert_allclose(_col(per, "1-week decay").sum(), _col(table, "total")[-1])
    custom = book.stress({"flat": (0.0, 0.0, 0.0)})
    assert _col(custom, "total")[0] == 0.0


def test_heat_map(book: Book) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    fig = book.scenarios(days=[0, 5]).plot(days=5)
    assert fig.axes[0].get_title().startswith("book P&L, 5 days")
    matplotlib.pyplot.close(fig)


def test_without_pandas_results_are_dicts_of_arrays(
    book: Book, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.import_module

    def no_pandas(name: str, *a: Any) -> Any:
        if name == "pandas":
            raise ImportError(name)
        return real(name, *a)

    monkeypatch.setattr(book_mod.importlib, "import_module", no_pandas)
    r = Book(book.positions, book.surfaces).risk()
    assert isinstance(r.total, dict)
    assert isinstance(r.positions["pnl"], np.ndarray)


# ----------------------------------------------------------------------------- rolls


def test_rolls(book: Book, surface: sg.Surface) -> None:
    table = book.rolls()
    ids = set(_col(table, "id"))
    # The covered call (1250 call, spot 1272) and the 1280 put are tested; the weekly
    # spread is near expiry; the condor is neither.
    assert ids == {"p2", "p3", "p4"}
    assert "expiry" in set(_col(table, "reason")[_col(table, "id") == "p4"])
    for pid in ids:
        rows = _col(table, "id") == pid
        credits = _col(table, "net_credit")[rows]
        assert list(_col(table, "rank")[rows]) == list(range(1, rows.sum() + 1))
        assert np.all(np.diff(credits) <= 0)  # ranked by net credit first
    # One candidate rebuilt by hand: the covered call rolled to March at 1260.
    rows = (_col(table, "id") == "p2") & (_col(table, "new_strike") == 1260.0)
    rows &= _col(table, "new_expiry") == "2011-03-18"
    i = int(np.flatnonzero(rows)[0])
    pos = book["p2"]
    t_new = surface.chain.year_fraction("2011-03-18")
    roll = st.roll(pos.package, to_expiry=t_new, to_strike=1260.0)
    mid = roll.quote(surface.chain).mid
    assert _col(table, "net_credit")[i] == pytest.approx(-mid * 300)
    rolled = sg.Package([pos.package.legs[0], *roll.legs[1:]], 100)
    entry = -12.0 + mid
    assert _col(table, "new_pop")[i] == pytest.approx(rolled.pop(surface, entry), abs=1e-12)
    be = rolled.breakevens(entry)
    assert _col(table, "breakevens")[i] == " ".join(f"{x:.2f}" for x in be)
    # Strikes move away from the spot: calls up, puts down.
    assert np.all(_col(table, "new_strike")[_col(table, "id") == "p2"] >= 1250)
    assert np.all(_col(table, "new_strike")[_col(table, "id") == "p3"] <= 1280)
    credit = book.rolls(credit_only=True, price="natural")
    assert np.all(_col(credit, "net_credit") > 0)
    natural = book.rolls(price="natural")
    assert _col(natural, "net_credit").sum() < _col(table, "net_credit").sum()
    with pytest.raises(InputError, match="price"):
        book.rolls(price="last")


# ----------------------------------------------------------------------------- files


def test_save_and_load_round_trip(book: Book, surface: sg.Surface, tmp_path: Path) -> None:
    path = tmp_path / "book.json"
    b = Book(book.positions, {"SPX": surface}, sources={"SPX": {"chain": "sample", "rate": RATE}})
    b.save(path)
    again = Book.load(path)
    assert [p.id for p in again] == [p.id for p in book]
    assert again.positions[1].package == book.positions[1].package
    assert again.positions[1].entry_date == book.positions[1].entry_date
    assert again.positions[1].tag == "cc"
    np.testing.assert_allclose(
        _col(again.risk().positions, "pnl"), _col(book.risk().positions, "pnl"), rtol=1e-12
    )
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
    # Remove and add.
    gone = again.remove("p3")
    assert gone.id == "p3" and len(again) == 4
    again.add(gone.package, 2, -19.0, "2010-12-21", id="csp2")
    assert again["csp2"].quantity == 2
    with pytest.raises(InputError, match="already"):
        again.add(gone.package, 1, -19.0, "2010-12-21", id="csp2")
    with pytest.raises(InputError, match="no position"):
        again.remove("nope")


def test_a_failed_save_leaves_the_file_intact(
    book: Book, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "book.json"
    book.save(path)
    before = path.read_bytes()
    extra = Book(book.positions, book.surfaces)
    extra.add(st.cash_secured_put(1200, "2011-02-18"), 1, -9.0, "2011-01-03")

    def broken(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(book_mod.os, "fsync", broken)
    with pytest.raises(OSError, match="disk full"):
        extra.save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["book.json"]


def test_corrupt_book_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    text = EXAMPLE.read_text()
    bad.write_text(text[: len(text) // 2])
    with pytest.raises(InputError, match="not valid JSON"):
        Book.load(bad)
    assert bad.read_text() == text[: len(text) // 2]
    data = json.loads(text)
    del data["positions"][1]["package"]["legs"][1]["strike"]
    bad.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"positions\[1\].*legs\[1\].*strike"):
        Book.load(bad)
    data = json.loads(text)
    data["positions"][0]["quantity"] = "lots"
    bad.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"positions\[0\].*quantity"):
        Book.load(bad)
    data = json.loads(text)
    data["positions"][2]["symbol"] = "NDX"
    bad.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"positions\[2\].*unknown underlying 'NDX'"):
        Book.load(bad)
    data = json.loads(text)
    data["positions"][3]["package"]["legs"][0]["expiry"] = "2015-01-16"
    bad.write_text(json.dumps(data))
    before = bad.read_bytes()
    with pytest.raises(InputError, match=r"positions\[3\].*beyond the SPX surface"):
        Book.load(bad)
    assert bad.read_bytes() == before
    with pytest.raises(InputError, match="cannot read"):
        Book.load(tmp_path / "missing.json")


# ----------------------------------------------------------------------------- bad input


def test_unknown_underlying_and_unreachable_expiry(book: Book, surface: sg.Surface) -> None:
    b = Book(book.positions, {"SPX": surface})
    with pytest.raises(InputError, match="unknown underlying 'QQQ'"):
        b.add(st.cash_secured_put(300, "2011-02-18"), 1, -5.0, "2011-01-03", symbol="QQQ")
    with pytest.raises(InputError, match="beyond the SPX surface's last expiry"):
        b.add(st.cash_secured_put(1200, "2014-06-20"), 1, -50.0, "2011-01-03")
    with pytest.raises(InputError, match="quantity"):
        b.add(st.cash_secured_put(1200, "2011-02-18"), 0, -5.0, "2011-01-03")
    assert len(b) == len(book)
    # A book whose underlying has no surface.
    orphan = Book(book.positions)
    with pytest.raises(InputError, match="no surface for the underlying 'SPX'"):
        orphan.risk()
    with pytest.raises(InputError, match="no surface"):
        orphan.scenarios(spot=[0.0], vol=[0.0], days=[0])
    assert orphan.risk(surfaces=surface).total is not None


@pytest.mark.skipif(not BTC.is_file(), reason="shared data folder not present")
def test_two_underlyings(book: Book, surface: sg.Surface, tmp_path: Path) -> None:
    btc = sg.Surface.fit(sg.Chain.read_csv(BTC))
    b = Book(book.positions, {"SPX": surface, "BTC": btc})
    put = sg.Package([sg.Leg.put(80000, "2026-01-30", -1, symbol="BTC")], 1, "csp")
    b.add(put, 2, -1500.0, "2026-01-02", id="btc-put")
    r = b.risk()
    assert list(_col(r.by_underlying, "underlying")) == ["SPX", "BTC"]
    assert _col(r.total, "dollar_delta")[0] == pytest.approx(
        _col(r.by_underlying, "dollar_delta").sum()
    )
    sc = b.scenarios(spot=[-0.1, 0.0], vol=[0.0], days=[0, 2])
    np.testing.assert_allclose(sc.total, sc.pnl["SPX"] + sc.pnl["BTC"])
    assert sc.pnl["BTC"][0, 0, 0] < 0
    # Files: a chain CSV beside the book, found again after a save to another folder.
    shutil.copy(BTC, tmp_path / "btc.csv")
    data = b.to_dict()
    data["underlyings"] = {"SPX": {"chain": "sample", "rate": RATE}, "BTC": {"chain": "btc.csv"}}
    (tmp_path / "two.json").write_text(json.dumps(data))
    again = Book.load(tmp_path / "two.json")
    assert again.symbols == ["SPX", "BTC"]
    assert _col(again.risk().total, "value")[0] == pytest.approx(_col(r.total, "value")[0])
    (tmp_path / "sub").mkdir()
    again.save(tmp_path / "sub" / "two.json")
    saved = json.loads((tmp_path / "sub" / "two.json").read_text())
    assert saved["underlyings"]["BTC"]["chain"] == os.path.join("..", "btc.csv")
    assert len(Book.load(tmp_path / "sub" / "two.json")) == len(again)


# ----------------------------------------------------------------------------- CLI


def test_cli_risk_and_rolls(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["risk", str(EXAMPLE), "--worst", "3"]) == 0
    out = capsys.readouterr().out
    for text in ("By expiry bucket", "Income", "Worst 3 of 8,610 scenarios", "crash -20%"):
        assert text in out
    assert cli.main(["rolls", str(EXAMPLE), "--credit-only", "--top", "1"]) == 0
    out = capsys.readouterr().out
    assert "cc-jan" in out and "csp-jan" in out


def test_cli_bad_book_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "book.json"
    bad.write_text("{ not json")
    assert cli.main(["risk", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "error" in err and "not valid JSON" in err
    assert bad.read_text() == "{ not json"
    assert cli.main(["rolls", str(tmp_path / "none.json")]) == 2

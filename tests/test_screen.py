"""Strategy screening: rows agree with sg.Package, nothing inside the filters is missed,
sensible results on every real snapshot, the command line."""

from __future__ import annotations

import io
import json
import math
from contextlib import redirect_stderr, redirect_stdout
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

import strikegrid as sg
from strikegrid.cli import main
from strikegrid.exceptions import InputError
from strikegrid.screening import STRATEGIES, to_package

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "option_chains"


@pytest.fixture(scope="module")
def chain() -> sg.Chain:
    return sg.Chain.sample()


@pytest.fixture(scope="module")
def surface(chain: sg.Chain) -> sg.Surface:
    return sg.Surface.fit(chain)


FILTERS = {
    "covered_call": {"dte": (10, 80), "delta": (0.15, 0.45)},
    "cash_secured_put": {"dte": (10, 80), "delta": (-0.35, -0.1)},
    "bull_put_spread": {"dte": (10, 80), "delta": (0.1, 0.35), "width": (10, 50)},
    "bear_call_spread": {"dte": (10, 80), "delta": (0.1, 0.35), "width": (10, 50)},
    "iron_condor": {"dte": (30, 60), "delta": (0.1, 0.25), "width": (20, 40)},
    "short_strangle": {"dte": (10, 80), "delta": (0.1, 0.3)},
}


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_rows_agree_with_the_package(strategy: str, chain: sg.Chain, surface: sg.Surface) -> None:
    for fill in ("mid", "natural"):
        res = sg.screen(
            chain, strategy, surface=surface, top=6, fill=fill, frame=None, **FILTERS[strategy]
        )
        assert len(res) == 6
        for row in res.records:
            pkg = to_package(row)
            assert pkg == sg.Package.from_row(row)
            q = pkg.quote(chain)
            assert row.credit_mid == pytest.approx(-q.mid, abs=1e-12)
            assert row.credit_natural == pytest.approx(-q.natural, abs=1e-12)
            assert row.spread_cost == pytest.approx(q.spread_cost_value, abs=1e-9)
            premium = -(row.credit_mid if fill == "mid" else row.credit_natural)
            assert row.max_profit == pytest.approx(pkg.max_profit(premium), rel=1e-12)
            mloss = pkg.max_loss(premium)
            assert row.max_loss == pytest.approx(mloss, rel=1e-12)
            be = pkg.breakevens(premium)
            assert row.breakeven_lo == pytest.approx(be[0], rel=1e-12)
            assert row.breakeven_hi == pytest.approx(be[-1], rel=1e-12)
            assert row.pop == pytest.approx(pkg.pop(surface, premium), abs=1e-13)
            assert row.expected_pnl == pytest.approx(
                pkg.expected_pnl(surface, premium), rel=1e-11, abs=1e-9
            )
            assert row.collateral == pytest.approx(pkg.collateral(premium), rel=1e-12)
            if math.isfinite(row.collateral):
                roc = pkg.return_on_capital(premium, row.dte)
                assert row.roc == pytest.approx(roc.roc, rel=1e-12)
                assert row.annualised_return == pytest.approx(roc.annualised, rel=1e-12)
            v = pkg.value(surface)
            assert row.delta == pytest.approx(v.dollar["delta"], rel=1e-10, abs=1e-6)
            assert row.gamma == pytest.approx(v.dollar["gamma_1pct"], rel=1e-10, abs=1e-9)
            assert row.theta == pytest.approx(v.dollar["theta_day"], rel=1e-10, abs=1e-9)
            assert row.vega == pytest.approx(v.dollar["vega_1pt"], rel=1e-10, abs=1e-9)


def test_ranking_is_sorted_and_per_expiry(chain: sg.Chain, surface: sg.Surface) -> None:
    res = sg.screen(chain, "bull_put_spread", surface=surface, top=15, frame=None)
    ann = res.records.annualised_return
    assert np.all(np.diff(ann) <= 0)
    low = sg.screen(
        chain, "bull_put_spread", surface=surface, top=15, rank_by="max_loss", frame=None
    )
    assert np.all(np.diff(low.records.max_loss) >= 0)
    per = sg.screen(chain, "cash_secured_put", surface=surface, top=3, per_expiry=True, frame=None)
    counts = {str(e): int(n) for e, n in zip(*np.unique(per.records.expiry, return_counts=True))}
    assert set(counts.values()) == {3}
    assert len(counts) == len(np.unique(chain.t))


def _brute_force_verticals(
    chain: sg.Chain, surface: sg.Surface, t: float, width: tuple[float, float], delta: tuple
) -> set[tuple[float, float]]:
    """Every bull put spread of one expiry inside the filters, by plain Python."""
    rows = (
        (chain.t == t)
        & (chain.kind < 0)
        & np.isfinite(chain.bid)
        & np.isfinite(chain.ask)
        & (chain.ask >= chain.bid)
        & (chain.ask > 0)
        & (chain.bid >= 0)
    )
    strikes = np.unique(chain.strike[rows])
    fwd = float(surface.forward(t))
    vols = np.asarray(surface.vol(strikes, t))
    r = -math.log(float(surface.discount(t))) / t
    deltas = np.asarray(
        sg.greeks("put", fwd, strikes, t, vols, r, model="black76", which=["delta"])["delta"]
    ) * (fwd / chain.spot)
    ok_short = {k for k, d in zip(strikes, deltas) if delta[0] <= abs(d) <= delta[1]}
    return {
        (float(hi), float(lo))
        for lo, hi in combinations(strikes, 2)
        if hi in ok_short and width[0] <= hi - lo <= width[1]
    }


def test_no_candidate_inside_the_filters_is_missed(chain: sg.Chain, surface: sg.Surface) -> None:
    t = float(np.unique(chain.t)[1])
    dte = t * 365
    width, delta = (5.0, 30.0), (0.05, 0.4)
    want = _brute_force_verticals(chain, surface, t, width, delta)
    res = sg.screen(
        chain,
        "bull_put_spread",
        surface=surface,
        dte=(dte - 0.01, dte + 0.01),
        width=width,
        delta=delta,
        top=None,
        frame=None,
    )
    got = {(float(r.short_put), float(r.long_put)) for r in res.records}
    assert got == want
    assert res.generated == res.passed == len(want)
    # The probability filter keeps exactly the rows at or above it.
    cut = float(np.median(res.records.pop))
    kept = sg.screen(
        chain,
        "bull_put_spread",
        surface=surface,
        dte=(dte - 0.01, dte + 0.01),
        width=width,
        delta=delta,
        min_pop=cut,
        top=None,
        frame=None,
    )
    assert {(float(r.short_put), float(r.long_put)) for r in kept.records} == {
        (float(r.short_put), float(r.long_put)) for r in res.records if r.pop >= cut
    }


def test_condor_count_is_exhaustive(chain: sg.Chain, surface: sg.Surface) -> None:
    t = float(np.unique(chain.t)[0])
    dte = t * 365
    res = sg.screen(
        chain, "iron_condor", surface=surface, dte=(dte - 0.01, dte + 0.01), top=3, frame=None
    )
    rows = (chain.t == t) & np.isfinite(chain.bid) & np.isfinite(chain.ask)
    rows &= (chain.ask >= chain.bid) & (chain.ask > 0) & (chain.bid >= 0)
    puts = np.unique(chain.strike[rows & (chain.kind < 0)])
    calls = np.unique(chain.strike[rows & (chain.kind > 0)])
    want = 0
    for sp_i, sp in enumerate(puts):
        above = calls[calls > sp]
        n = len(above)
        want += sp_i * n * (n - 1) // 2
    assert res.generated == want


def test_frames_and_records(chain: sg.Chain, surface: sg.Surface) -> None:
    pd_df = sg.screen(chain, "bear_call_spread", surface=surface, top=4)
    assert list(pd_df["strategy"].unique()) == ["bear_call_spread"]
    assert pd_df.attrs["generated"] >= 4
    pkg = sg.Package.from_row(pd_df.iloc[0])
    assert len(pkg) == 2
    pl = pytest.importorskip("polars")
    pl_df = sg.screen(chain, "bear_call_spread", surface=surface, top=4, frame="polars")
    assert isinstance(pl_df, pl.DataFrame)
    assert sg.Package.from_row(pl_df.row(0, named=True)) == pkg
    rec = sg.screen(chain, "bear_call_spread", surface=surface, top=4, frame=None)
    assert rec.package(0) == pkg


def test_real_world_measure(chain: sg.Chain, surface: sg.Surface) -> None:
    rn = sg.screen(chain, "cash_secured_put", surface=surface, top=5, frame=None, dte=(30, 60))
    rw = sg.screen(
        chain,
        "cash_secured_put",
        surface=surface,
        top=5,
        frame=None,
        dte=(30, 60),
        real_world=(0.12, 0.15),
    )
    for a, b in zip(rn.records, rw.records):
        pkg = to_package(b)
        assert b.pop == pytest.approx(pkg.pop(surface, -b.credit_mid, real_world=(0.12, 0.15)))
        assert b.pop > a.pop  # a strong drift makes short puts safer


@pytest.mark.parametrize("path", sorted(DATA.glob("*/*.csv")), ids=lambda p: p.stem)
def test_real_snapshots_give_sensible_results(path: Path) -> None:
    chain = sg.Chain.read_csv(path)
    surface = sg.Surface.fit(chain)
    for strategy in STRATEGIES:
        # Wings up to 8% of spot keep the condor scan of the widest chains short.
        res = sg.screen(
            chain,
            strategy,
            surface=surface,
            top=30,
            frame=None,
            min_credit=0.0,
            dte=(1, 120),
            width=(0, 0.08 * chain.spot),
        )
        r = res.records
        if len(r) == 0:
            continue
        assert np.all(r.collateral >= 0)
        assert np.all((r.pop >= 0) & (r.pop <= 1))
        fin = np.isfinite(r.roc)
        assert np.allclose(r.annualised_return[fin], r.roc[fin] * 365 / r.dte[fin])
        assert np.all(r.credit_natural <= r.credit_mid + 1e-12)
        assert np.all(r.max_rel_spread >= 0)
        if strategy in ("bull_put_spread", "bear_call_spread", "iron_condor"):
            assert np.all(r.max_loss <= r.width * r.multiplier + 1e-9)
            assert np.all(r.max_profit >= 0)


def test_bad_input(chain: sg.Chain, surface: sg.Surface) -> None:
    with pytest.raises(InputError, match="strategy"):
        sg.screen(chain, "butterfly", surface=surface)
    with pytest.raises(InputError, match="dte"):
        sg.screen(chain, "cash_secured_put", surface=surface, dte=(60, 20))
    with pytest.raises(InputError, match="top"):
        sg.screen(chain, "cash_secured_put", surface=surface, top=0)
    with pytest.raises(InputError, match="metric"):
        sg.screen(chain, "cash_secured_put", surface=surface, rank_by="happiness")
    with pytest.raises(InputError, match="fill"):
        sg.screen(chain, "cash_secured_put", surface=surface, fill="best")
    with pytest.raises(InputError, match="row"):
        sg.Package.from_row({"strategy": "covered_call"})


def _cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as e:  # argparse
            code = int(e.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_cli_screen_table_and_machine_outputs(tmp_path: Path) -> None:
    code, out, _ = _cli(
        "screen", "--strategy", "cash_secured_put", "--dte", "20:60", "--delta", "-0.30:-0.15",
        "--top", "5",
    )  # fmt: skip
    assert code == 0
    assert "cash_secured_put" in out and "candidates evaluated" in out
    assert len([line for line in out.splitlines() if line.startswith("2011-")]) == 5
    code, out, _ = _cli(
        "screen", "--strategy", "iron_condor", "--top", "3", "--dte", "20:60", "--output", "json"
    )
    rows = json.loads(out)
    assert code == 0 and len(rows) == 3 and rows[0]["strategy"] == "iron_condor"
    code, out, _ = _cli("screen", "--strategy", "bull_put_spread", "--top", "2", "--output", "csv")
    assert code == 0 and out.splitlines()[0].startswith("strategy,")
    pytest.importorskip("pyarrow")
    target = tmp_path / "s.parquet"
    code, out, _ = _cli(
        "screen", "--strategy", "bull_put_spread", "--output", "parquet", "--out", str(target)
    )
    assert code == 0 and target.stat().st_size > 0


def test_cli_errors(tmp_path: Path) -> None:
    code, _, err = _cli("screen", str(tmp_path / "missing.csv"), "--strategy", "iron_condor")
    assert code == 2 and "cannot read" in err
    code, _, err = _cli("screen", "--strategy", "nope")
    assert code == 2 and "invalid choice" in err
    code, _, err = _cli("screen", "--strategy", "iron_condor", "--dte", "60:20")
    assert code == 2 and "dte" in err
    code, out, _ = _cli("--help")
    assert code == 0 and "screen" in out and "demo" in out

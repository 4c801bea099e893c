"""``strikegrid backtest PROGRAM.toml``: run a program (or a stack) file on its market data.

``PROGRAM`` is a TOML file (see :func:`strikegrid.backtest.load`) or the name of a shipped
example (``strikegrid backtest --examples`` lists them). Relative data paths are resolved
against ``--data-dir``, else ``STRIKEGRID_DATA``, else ``market.root`` / the file's folder,
else the ``../shared/data`` folder next to the working directory or the checkout.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..chain import Chain
from ..exceptions import InputError
from .engine import backtest
from .market import Market
from .pricing import ChainSeries, ModelPricing
from .program import Spec, load

__all__ = ["add_parser", "run"]

_EXAMPLE_PREFIX = "backtest_"

_MARKET_KEYS = {
    "name",
    "prices",
    "vol",
    "vol_unit",
    "rate",
    "rate_unit",
    "div",
    "max_gap_days",
    "max_stale_days",
    "chains",
    "settlement_style",
}


def examples() -> dict[str, Path]:
    """Shipped example programs: name -> path."""
    root = Path(str(resources.files("strikegrid") / "data"))
    return {
        p.stem[len(_EXAMPLE_PREFIX) :]: p for p in sorted(root.glob(f"{_EXAMPLE_PREFIX}*.toml"))
    }


def add_parser(sub: Any) -> None:
    """Registers ``backtest`` on the subparsers of the ``strikegrid`` command."""
    p = sub.add_parser(
        "backtest",
        help="back-test an option-income program (TOML) on price history",
        description="Runs a program or stack file and prints its statistics, pricing "
        "assumptions and last trades. PROGRAM: a TOML file or a shipped example's name.",
    )
    p.add_argument("program", nargs="?", help="program file (TOML) or example name")
    p.add_argument("--examples", action="store_true", help="list the shipped examples")
    p.add_argument("--data-dir", help="folder the program's relative data paths start from")
    p.add_argument("--start", help="first date (overrides the file)")
    p.add_argument("--end", help="last date (overrides the file)")
    p.add_argument("--capital", type=float, help="starting capital (overrides the file)")
    p.add_argument("--trades", type=int, default=10, help="how many last trades to show")
    p.add_argument(
        "--output", choices=("table", "json"), default="table", help="table (default) or json"
    )
    p.add_argument("--out", help="folder to write daily.csv, trades.csv, ledger.csv into")
    p.add_argument("--plot", help="write the equity/drawdown picture to this file (PNG)")


def _fallback_root(path: str) -> str:
    """A data path that does not exist as given, tried under the default data folder."""
    if os.path.exists(path) or os.environ.get("STRIKEGRID_DATA"):
        return path
    from .indices import data_dir

    try:
        root = data_dir()
    except InputError:
        return path
    parts = Path(path).parts
    # keep the tail from "price_history" / "option_chains" on
    for anchor in ("price_history", "option_chains"):
        if anchor in parts:
            cand = root.joinpath(*parts[parts.index(anchor) :])
            if cand.exists():
                return str(cand)
    return path


def _market(table: dict[str, Any], where: str, use_fallback: bool, start: Any, end: Any) -> Any:
    unknown = sorted(set(table) - _MARKET_KEYS)
    if unknown:
        raise InputError(
            f"{where}: unknown key(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(_MARKET_KEYS))}",
            arg=f"{where}.{unknown[0]}",
        )

    def fix(p: Any) -> Any:
        return _fallback_root(p) if use_fallback and isinstance(p, str) else p

    if "chains" in table:
        pattern = fix(table["chains"]) if isinstance(table["chains"], str) else None
        files = sorted(glob.glob(pattern)) if pattern else [fix(x) for x in table["chains"]]
        if not files:
            raise InputError(f"{where}.chains: no file matches {table['chains']!r}", "chains")
        return ChainSeries(
            [Chain.read_csv(f) for f in files],
            rate=float(table.get("rate", 0.0)) if not isinstance(table.get("rate"), str) else 0.0,
            settlement_style=table.get("settlement_style"),
        )
    if "prices" not in table:
        raise InputError(f"{where}: needs prices (a CSV path) or chains", arg=f"{where}.prices")
    prices = fix(table["prices"])
    if not os.path.exists(prices):
        raise InputError(
            f"{where}.prices: {prices} not found (pass --data-dir or set STRIKEGRID_DATA)",
            arg=f"{where}.prices",
        )
    kw: dict[str, Any] = {
        k: table[k]
        for k in ("vol_unit", "rate_unit", "div", "max_gap_days", "max_stale_days", "name")
        if k in table
    }
    for k in ("vol", "rate"):
        if k in table:
            kw[k] = fix(table[k])
    return Market.from_csv(prices, start=start, end=end, **kw)


def _pricing(table: dict[str, Any], market: Any) -> Any:
    if isinstance(market, ChainSeries):
        if table:
            raise InputError(
                "pricing: a chain-priced market takes no [pricing] table", arg="pricing"
            )
        return None
    known = {"model", "vol", "vol_scale", "skew"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise InputError(
            f"pricing: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}",
            arg=f"pricing.{unknown[0]}",
        )
    vol = table.get("vol", "series")
    if isinstance(vol, dict):
        vol = {float(k): float(v) for k, v in vol.items()}
    return ModelPricing(
        table.get("model", "bsm"), vol, table.get("vol_scale", 1.0), table.get("skew", 0.0)
    )


def _resolve_program(arg: str | None) -> Path:
    if arg is None:
        raise InputError("PROGRAM: give a program file or an example name", arg="program")
    p = Path(arg)
    if p.exists():
        return p
    ex = examples()
    if arg in ex:
        return ex[arg]
    raise InputError(
        f"PROGRAM: {arg} is neither a file nor an example ({', '.join(ex) or 'none shipped'})",
        arg="program",
    )


def _jsonable(v: Any) -> Any:
    if isinstance(v, (np.floating, float)):
        return None if not math.isfinite(float(v)) else float(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, np.datetime64):
        return str(v)
    return v


def _fmt(v: Any, key: str) -> str:
    if isinstance(v, str):
        return v
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    pct = (
        "return",
        "vol",
        "drawdown",
        "month",
        "yield",
        "win_rate",
    )
    if any(p in key for p in pct) and "date" not in key:
        return f"{v:.2%}"
    if key in ("trades", "assignments"):
        return f"{int(v)}"
    if key == "years":
        return f"{v:.2f}"
    return f"{v:,.2f}"


_SHOWN = (
    "start",
    "end",
    "years",
    "initial",
    "final",
    "annualised_return",
    "annualised_vol",
    "max_drawdown",
    "worst_month",
    "premium",
    "premium_yield",
    "trades",
    "win_rate",
    "assignments",
    "fees",
)


def run(args: argparse.Namespace, out: Any = None) -> int:
    """Runs ``strikegrid backtest``; returns the exit status."""
    out = out or sys.stdout
    if args.examples:
        for name, path in examples().items():
            out.write(f"{name}\t{path}\n")
        return 0
    path = _resolve_program(args.program)
    spec: Spec = load(path, data_dir=args.data_dir)
    use_fallback = args.data_dir is None
    start = args.start or spec.start
    end = args.end or spec.end
    markets = [
        _market(
            t,
            f"programs[{i}].market" if len(spec.markets) > 1 else "market",
            use_fallback,
            start,
            end,
        )
        for i, t in enumerate(spec.markets)
    ]
    pricings = [_pricing(t, m) for t, m in zip(spec.pricings, markets)]
    res = backtest(
        spec.stack,
        markets,
        pricing=pricings,
        capital=args.capital if args.capital is not None else spec.capital,
        start=start,
        end=end,
    )
    rows = [res.stats(p.name) for p in res.programs]
    if len(res.programs) > 1:
        rows.append({**res.stats(), "program": f"{res.name} (account)"})
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        for name, frame in (
            ("daily", res.daily_frame()),
            ("trades", res.trades_frame()),
            ("ledger", res.ledger_frame()),
        ):
            frame.to_csv(os.path.join(args.out, f"{name}.csv"))
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        res.plot().savefig(args.plot, dpi=110)
    if args.output == "json":
        json.dump(
            {
                "program": str(path),
                "stats": [{k: _jsonable(v) for k, v in r.items()} for r in rows],
                "trades": [
                    {k: _jsonable(v) for k, v in t.items()} for p in res.programs for t in p.trades
                ][-args.trades :]
                if args.trades > 0
                else [],
            },
            out,
            indent=1,
        )
        out.write("\n")
        return 0
    out.write(f"{res.name}: {path}\n")
    for p in res.programs:
        out.write(f"  {p.name}: {p.program.describe()}\n    {p.pricing}\n")
    width = max(len(r["program"]) for r in rows)
    out.write(f"{'':<20}" + "".join(f"{r['program']:>{width + 2}}" for r in rows) + "\n")
    for key in _SHOWN:
        out.write(f"{key:<20}" + "".join(f"{_fmt(r[key], key):>{width + 2}}" for r in rows) + "\n")
    if args.trades > 0:
        trades = sorted((t for p in res.programs for t in p.trades), key=lambda t: t["entry_date"])[
            -args.trades :
        ]
        out.write(f"last {len(trades)} trades (P&L: options, after fees):\n")
        for t in trades:
            out.write(
                f"  {t['program']:<18} {t['entry_date']} -> {t['exit_date']!s:<10} "
                f"{t['legs']:<34} x{t['contracts']:<10.3f} credit {t['credit']:>9.2f}  "
                f"P&L {t['pnl']:>13,.2f}  {t['exit_reason']}\n"
            )
    if args.out:
        out.write(f"wrote daily.csv, trades.csv, ledger.csv to {args.out}\n")
    if args.plot:
        out.write(f"wrote {args.plot}\n")
    return 0

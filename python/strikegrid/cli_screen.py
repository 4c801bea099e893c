"""``strikegrid screen``: the strategy screener on the command line."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from typing import Any

import numpy as np

from .chain import Chain
from .exceptions import InputError
from .screening import STRATEGIES, screen

#: Columns of the readable table (name, header, format).
_TABLE = (
    ("expiry", "expiry", "{}"),
    ("dte", "dte", "{:.0f}"),
    ("long_put", "lp", "{:g}"),
    ("short_put", "sp", "{:g}"),
    ("short_call", "sc", "{:g}"),
    ("long_call", "lc", "{:g}"),
    ("credit_mid", "credit", "{:.2f}"),
    ("credit_natural", "natural", "{:.2f}"),
    ("max_profit", "max_profit", "{:,.0f}"),
    ("max_loss", "max_loss", "{:,.0f}"),
    ("collateral", "collateral", "{:,.0f}"),
    ("annualised_return", "ann.ret", "{:.1%}"),
    ("pop", "pop", "{:.1%}"),
    ("short_put_delta", "d_put", "{:.2f}"),
    ("short_call_delta", "d_call", "{:.2f}"),
    ("theta", "theta/d", "{:.2f}"),
    ("min_open_interest", "min_oi", "{:.0f}"),
)


def add_parser(sub: Any) -> None:
    """Registers ``screen`` on the subparsers of the ``strikegrid`` command."""
    p = sub.add_parser(
        "screen",
        help="screen a chain for an income strategy (embedded SPX sample by default)",
        description="Every candidate of the strategy in the chain is evaluated; the best are "
        "printed. Ranges are LO:HI (either side may be empty).",
    )
    p.add_argument("chain", nargs="?", help="normalised chain CSV (default: embedded sample)")
    p.add_argument("--strategy", required=True, choices=STRATEGIES)
    p.add_argument("--dte", help="days to expiry, e.g. 20:60")
    p.add_argument("--delta", help="short-leg delta range, on |delta|, e.g. -0.30:-0.15")
    p.add_argument("--width", help="spread width range in strike units, e.g. 10:50")
    p.add_argument("--min-credit", type=float, help="least credit per share at the fill")
    p.add_argument("--min-pop", type=float, help="least probability of profit (0..1)")
    p.add_argument("--min-oi", type=float, help="least open interest of every leg")
    p.add_argument("--min-volume", type=float, help="least volume of every leg")
    p.add_argument("--max-spread", type=float, help="largest (ask-bid)/mid of every leg")
    p.add_argument("--rank-by", default="annualised_return", help="result column to rank by")
    p.add_argument("--ascending", action="store_true", help="rank smallest first")
    p.add_argument("--top", type=int, default=20, help="how many to show (default 20)")
    p.add_argument("--per-expiry", action="store_true", help="top N of each expiry")
    p.add_argument("--fill", choices=("mid", "natural"), default="mid")
    p.add_argument("--rate", type=float, default=0.0, help="rate where parity cannot fix it")
    p.add_argument(
        "--output",
        choices=("table", "csv", "json", "parquet"),
        default="table",
        help="table (readable, default), or csv/json to stdout, parquet to --out",
    )
    p.add_argument("--out", help="file to write (required for parquet)")


def _records(res: Any) -> tuple[list[str], list[dict[str, Any]]]:
    names = [n for n in res.records.dtype.names if not n.endswith("_row")]
    rows = []
    for r in res.records:
        row: dict[str, Any] = {}
        for n in names:
            v = r[n]
            if isinstance(v, np.datetime64):
                row[n] = str(v)
            elif isinstance(v, (np.floating, float)):
                row[n] = None if not math.isfinite(float(v)) else float(v)
            else:
                row[n] = v.item() if hasattr(v, "item") else v
        rows.append(row)
    return names, rows


def _write_csv(f: Any, names: list[str], rows: list[dict[str, Any]]) -> None:
    import csv

    w = csv.DictWriter(f, names)
    w.writeheader()
    w.writerows(rows)


def run(args: argparse.Namespace, out: Any = None) -> int:
    """Runs ``strikegrid screen``; returns the exit status."""
    out = out or sys.stdout
    from .surface import Surface

    chain = Chain.read_csv(args.chain) if args.chain else Chain.sample()
    if args.output == "parquet" and not args.out:
        raise InputError("--output parquet needs --out FILE", arg="out")
    start = time.perf_counter()
    surface = Surface.fit(chain, rate=args.rate)
    fitted = time.perf_counter()
    res = screen(
        chain,
        args.strategy,
        surface=surface,
        dte=args.dte,
        delta=args.delta,
        width=args.width,
        min_credit=args.min_credit,
        min_pop=args.min_pop,
        min_open_interest=args.min_oi,
        min_volume=args.min_volume,
        max_spread=args.max_spread,
        rank_by=args.rank_by,
        ascending=True if args.ascending else None,
        top=args.top,
        per_expiry=args.per_expiry,
        fill=args.fill,
        frame=None,
    )
    done = time.perf_counter()
    if args.output == "parquet":
        res.frame("pandas").drop(
            columns=[c for c in res.records.dtype.names if c.endswith("_row")]
        ).to_parquet(args.out)
        out.write(f"wrote {len(res)} rows to {args.out}\n")
        return 0
    names, rows = _records(res)
    if args.output == "json":
        json.dump(rows, out, indent=1)
        out.write("\n")
        return 0
    if args.output == "csv":
        if args.out is None:
            _write_csv(out, names, rows)
        else:
            with open(args.out, "w", newline="", encoding="utf-8") as f:
                _write_csv(f, names, rows)
        return 0
    stamp = chain.quote_time.strftime("%Y-%m-%d %H:%M")
    out.write(
        f"{chain.underlying} {args.strategy} screen of the chain at {stamp} "
        f"(spot {chain.spot:g}, multiplier {chain.multiplier:g}): "
        f"{res.generated:,} candidates evaluated in {(done - fitted) * 1e3:.1f} ms "
        f"(surface fit {(fitted - start) * 1e3:.0f} ms), {res.passed:,} pass the filters\n"
    )
    if not rows:
        out.write("no candidate passes the filters\n")
        return 0
    # Columns with at least one value (a put screen has no call strikes).
    used = [c for c in _TABLE if any(r.get(c[0]) is not None for r in rows)]
    cells = [[c[1] for c in used]]
    cells += [["-" if r[c[0]] is None else c[2].format(r[c[0]]) for c in used] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(used))]
    for j, row in enumerate(cells):
        out.write("  ".join(v.rjust(w) for v, w in zip(row, widths)) + "\n")
        if j == 0:
            out.write("  ".join("-" * w for w in widths) + "\n")
    out.write(
        "credits per share at mid / natural; money columns per package; pop under the "
        "surface's risk-neutral distribution\n"
    )
    return 0

"""The ``strikegrid risk BOOK`` and ``strikegrid rolls BOOK`` commands (see :mod:`strikegrid.book`).

A book file is JSON (``Book.save`` writes it): its underlyings name their chains (``"sample"``
for the embedded SPX chain, or a normalised chain CSV relative to the file) and the rate used
to fit each surface; see ``strikegrid/data/example_book.json``.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .book import Book
from .exceptions import InputError

#: The subcommands this module adds.
COMMANDS = ("risk", "rolls")

Writer = Callable[[str], None]


def add_parser(sub: Any) -> None:
    """Adds ``risk`` and ``rolls`` to the ``strikegrid`` subparsers."""
    risk = sub.add_parser(
        "risk", help="a book's greeks, P&L, income view, worst scenarios and stresses"
    )
    risk.add_argument("book", help="book file (JSON)")
    risk.add_argument("--worst", type=int, default=5, help="worst scenarios to list (5)")
    risk.add_argument("--days", type=int, default=10, help="days axis of the grid: 0..N-1 (10)")
    risk.add_argument(
        "--dynamics",
        choices=("sticky_strike", "sticky_moneyness"),
        default="sticky_strike",
        help="how the smile moves with the spot in the scenarios",
    )
    rolls = sub.add_parser("rolls", help="roll candidates for tested or expiring short options")
    rolls.add_argument("book", help="book file (JSON)")
    rolls.add_argument("--delta", type=float, default=0.5, help="tested at |delta| >= (0.5)")
    rolls.add_argument("--dte", type=float, default=7.0, help="near expiry at days <= (7)")
    rolls.add_argument("--expiries", type=int, default=3, help="later expiries to try (3)")
    rolls.add_argument("--strikes", type=int, default=2, help="strikes to move a tested side (2)")
    rolls.add_argument("--credit-only", action="store_true", help="drop rolls for a net debit")
    rolls.add_argument("--price", choices=("mid", "natural"), default="mid")
    rolls.add_argument("--top", type=int, default=3, help="candidates per position (3)")


def run(args: argparse.Namespace, out: Writer | None = None) -> int:
    """Runs ``args.command`` (one of :data:`COMMANDS`); a bad book file or argument prints the
    error to stderr and returns 2."""
    write: Writer = out or _stdout
    try:
        book = Book.load(args.book)
        if args.command == "risk":
            return _risk(book, args, write)
        return _rolls(book, args, write)
    except InputError as e:
        sys.stderr.write(f"strikegrid {args.command}: error: {e}\n")
        return 2


def _stdout(line: str) -> None:
    sys.stdout.write(line + "\n")


def _columns(frame: Any) -> dict[str, list[Any]]:
    if isinstance(frame, dict):
        return {k: list(np.asarray(v).tolist()) for k, v in frame.items()}
    return {str(c): list(frame[c]) for c in frame.columns}


def _money(x: Any) -> str:
    v = float(x)
    if math.isnan(v):
        return "-"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:,.0f}"


def _pct(x: Any) -> str:
    v = float(x)
    return "-" if not math.isfinite(v) else f"{100 * v:.1f}%"


def _num(digits: int) -> Callable[[Any], str]:
    def fmt(x: Any) -> str:
        v = float(x)
        return "-" if math.isnan(v) else f"{v:.{digits}f}"

    return fmt


def _text(x: Any) -> str:
    return str(x)


def _table(
    write: Writer, frame: Any, spec: Sequence[tuple[str, str, Callable[[Any], str]]]
) -> None:
    """Writes the columns of ``spec`` (column, header, formatter), right-aligned."""
    cols = _columns(frame)
    cells = [[fmt(v) for v in cols[name]] for name, _, fmt in spec]
    widths = [
        max([len(head), *(len(c) for c in column)]) for (_, head, _), column in zip(spec, cells)
    ]
    write("  ".join(h.rjust(w) for (_, h, _), w in zip(spec, widths)))
    for i in range(len(cells[0]) if cells else 0):
        write("  ".join(column[i].rjust(w) for column, w in zip(cells, widths)))


_GREEKS: list[tuple[str, str, Callable[[Any], str]]] = [
    ("dollar_delta", "$delta", _money),
    ("gamma_1pct", "gamma/1%", _money),
    ("vega_1pt", "vega/pt", _money),
    ("theta_day", "theta/day", _money),
]


def _risk(book: Book, args: argparse.Namespace, write: Writer) -> int:
    label = f"Book {book.name!r}" if book.name else "Book"
    write(f"{label}: {len(book)} positions on {', '.join(book.symbols) or 'nothing'}")
    for sym in book.symbols:
        s = book.surfaces[sym]
        write(f"  {sym}: spot {s.chain.spot:,.2f} at {s.chain.quote_time.isoformat()}")
    if not len(book):
        return 0
    r = book.risk()
    write("")
    write(
        "Money greeks ($delta: per 100% move; gamma/1%: change of $delta for a 1% move; "
        "vega per vol point; theta per day, spot held)"
    )
    write("")
    write("Positions")
    _table(
        write,
        r.positions,
        [
            ("id", "id", _text),
            ("package", "package", _text),
            ("quantity", "qty", _num(0)),
            ("entry_price", "entry", _num(2)),
            ("mark", "mark", _num(2)),
            ("pnl", "P&L", _money),
            ("dte", "dte", _num(1)),
            ("pop", "PoP", _pct),
            *_GREEKS,
        ],
    )
    write("")
    write("By underlying")
    _table(
        write,
        r.by_underlying,
        [
            ("underlying", "underlying", _text),
            ("value", "value", _money),
            ("pnl", "P&L", _money),
            *_GREEKS,
        ],
    )
    write("")
    write("By expiry bucket (days to expiry, per option leg; shares apart)")
    _table(write, r.by_bucket, [("bucket", "bucket", _text), ("legs", "legs", _num(0)), *_GREEKS])
    write("")
    write("Total")
    _table(
        write,
        r.total,
        [
            ("positions", "positions", _num(0)),
            ("value", "value", _money),
            ("pnl", "P&L", _money),
            *_GREEKS,
        ],
    )
    write("")
    write("Income (premium collected, premium at risk = value of the shorts, capital tied up)")
    _table(
        write,
        book.income(),
        [
            ("underlying", "underlying", _text),
            ("premium", "premium", _money),
            ("at_risk", "at risk", _money),
            ("capital", "capital", _money),
            ("yield", "yield/yr", _pct),
        ],
    )
    days = max(int(args.days), 1)
    sc = book.scenarios(days=range(days), dynamics=args.dynamics)
    write("")
    write(
        f"Worst {args.worst} of {sc.total.size:,} scenarios (spot -20%..+20% x vol -10..+10 pts "
        f"x 0..{days - 1} days, {args.dynamics}; P&L against today)"
    )
    _table(
        write,
        sc.worst(max(int(args.worst), 1)),
        [
            ("spot", "spot", _pct),
            ("vol", "vol", lambda v: f"{100 * float(v):+.0f}pt"),
            ("days", "days", _num(0)),
            ("total", "P&L", _money),
        ],
    )
    write("")
    write("Stresses")
    _table(
        write,
        book.stress(dynamics=args.dynamics),
        [("stress", "stress", _text), ("total", "P&L", _money)],
    )
    return 0


def _rolls(book: Book, args: argparse.Namespace, write: Writer) -> int:
    table = book.rolls(
        delta=args.delta,
        dte=args.dte,
        expiries=args.expiries,
        strikes=args.strikes,
        credit_only=args.credit_only,
        price=args.price,
    )
    cols = _columns(table)
    keep = [i for i, r in enumerate(cols["rank"]) if int(r) <= max(int(args.top), 1)]
    shown = {k: [v[i] for i in keep] for k, v in cols.items()}
    write(
        f"Roll candidates (short |delta| >= {args.delta:g} or <= {args.dte:g} days; "
        f"{args.price} prices{'; credits only' if args.credit_only else ''}; "
        f"top {args.top} per position by net credit, PoP, cushion)"
    )
    if not keep:
        write("none")
        return 0
    _table(
        write,
        shown,
        [
            ("id", "id", _text),
            ("reason", "reason", _text),
            ("leg", "leg", _text),
            ("delta", "delta", _num(2)),
            ("dte", "dte", _num(1)),
            ("rank", "#", _num(0)),
            ("new_expiry", "to expiry", _text),
            ("new_strike", "strike", _num(0)),
            ("net_credit", "credit", _money),
            ("new_pop", "PoP", _pct),
            ("breakevens", "breakevens", _text),
            ("cushion", "cushion", _pct),
        ],
    )
    return 0

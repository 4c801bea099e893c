"""``strikegrid quote``: an RFQ auction on a chain from the command line."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import strategies
from ..chain import Chain
from ..exceptions import InputError
from ..package import Leg, Package
from ..surface import Surface
from ._auction import AuctionResult, panel, run_auction
from ._log import write_log
from ._request import SIDES, Request

__all__ = ["add_parser", "run"]

#: Rate for the embedded sample (the CLI demo's): 3-month T-bill at the start of 2011.
SAMPLE_RATE = 0.0015

# Default strikes: standard deviations of log-moneyness, z = ln(K/F) / (vol sqrt(t)), in the
# builder's argument order; each is snapped to a listed strike.
_TARGETS: dict[str, tuple[float, ...]] = {
    "covered_call": (0.5,),
    "cash_secured_put": (-0.5,),
    "bull_put_spread": (-0.5, -1.0),
    "bear_call_spread": (0.5, 1.0),
    "iron_condor": (-1.0, -0.5, 0.5, 1.0),
    "collar": (-0.5, 0.5),
    "short_strangle": (-0.75, 0.75),
    "straddle": (0.0,),
    "calendar": (0.0,),
    "diagonal": (0.5, 0.75),
}


def add_parser(sub: Any) -> None:
    """Register the ``quote`` subcommand on an argparse subparsers object."""
    p = sub.add_parser(
        "quote",
        help="RFQ a package to simulated dealers and take the best quote in full",
        description=(
            "Request quotes for a package from simulated dealers on a fitted surface, run the "
            "auction (seeded clock, all-or-none at one price) and compare the fill with the "
            "mid and with legging into the screen. Prices are per share; + = the buyer pays."
        ),
    )
    what = p.add_argument_group("the package (one of --strategy or --leg)")
    what.add_argument("--strategy", choices=sorted(_TARGETS), help="a strategies builder")
    what.add_argument(
        "--expiry",
        help="expiry date of the strategy (default: the listed expiry nearest 45 days)",
    )
    what.add_argument("--far-expiry", help="far expiry (calendar, diagonal)")
    what.add_argument(
        "--strikes",
        help="comma-separated strikes in the builder's order (default: picked around the "
        "forward and snapped to listed strikes)",
    )
    what.add_argument(
        "--leg",
        action="append",
        metavar='"QTY KIND STRIKE EXPIRY"',
        help='one leg, repeatable: e.g. "-1 put 1200 2011-02-18" or "1 underlying"; '
        "QTY signed (+ bought), KIND call/put/underlying, EXPIRY a date or years",
    )
    p.add_argument("--size", type=float, default=10.0, help="packages (default 10)")
    p.add_argument(
        "--side",
        default="buy",
        help="buy, sell, or two-way (quotes only, nothing filled); default buy",
    )
    p.add_argument("--dealers", type=int, default=5, help="simulated dealers (default 5)")
    p.add_argument("--seed", type=int, default=7, help="seed of the auction clock (default 7)")
    p.add_argument("--ttl", type=float, default=5.0, help="request time-to-live, s (default 5)")
    p.add_argument("--chain", help="chain CSV (default: the embedded SPX sample)")
    p.add_argument("--rate", type=float, help="fallback rate of the surface fit")
    p.add_argument("--multiplier", type=float, help="contract multiplier (default: the chain's)")
    p.add_argument("--log", help="write the auction log (JSON lines) here")


def run(args: argparse.Namespace, out: Callable[[str], None] | None = None) -> int:
    """Run ``strikegrid quote``; bad input prints a message on stderr and returns 2."""
    write = out or _stdout
    try:
        return _run(args, write)
    except (InputError, OSError) as e:
        sys.stderr.write(f"strikegrid quote: error: {e}\n")
        return 2


def _stdout(line: str) -> None:
    sys.stdout.write(line + "\n")


def _run(args: argparse.Namespace, out: Callable[[str], None]) -> int:
    if (args.strategy is None) == (args.leg is None):
        raise InputError("give either --strategy or --leg (repeatable), not both", arg="leg")
    if args.side not in SIDES:
        raise InputError(f"--side: must be one of {', '.join(SIDES)}", arg="side")
    if args.dealers < 1:
        raise InputError("--dealers: must be at least 1", arg="dealers")
    chain = Chain.sample() if args.chain is None else Chain.read_csv(args.chain)
    rate = args.rate if args.rate is not None else (SAMPLE_RATE if args.chain is None else 0.0)
    surface = Surface.fit(chain, rate=rate)
    mult = chain.multiplier if args.multiplier is None else args.multiplier
    if args.leg is not None:
        package = Package([_parse_leg(text, chain) for text in args.leg], mult, "custom")
    else:
        package = _strategy(args, chain, surface, mult)
    request = Request(package, args.size, args.side, args.ttl)
    dealers = panel(surface, args.dealers)
    result = run_auction(request, dealers, seed=args.seed)
    _print(result, out)
    if args.log:
        write_log(result, args.log)
        out(f"log: {args.log}")
    return 0


def _parse_leg(text: str, chain: Chain) -> Leg:
    parts = text.split()
    try:
        qty = float(parts[0])
        kind = {"c": "call", "p": "put", "stock": "underlying"}.get(
            parts[1].lower(), parts[1].lower()
        )
        if kind == "underlying":
            if len(parts) > 3:
                raise IndexError
            return Leg.underlying(qty, float(parts[2]) if len(parts) == 3 else None)
        if len(parts) != 4:
            raise IndexError
        strike = float(parts[2])
        expiry: Any = parts[3]
        try:
            expiry = float(expiry)
        except ValueError:
            pass
        return Leg(kind, strike, expiry, qty)
    except (IndexError, ValueError):
        raise InputError(
            f'--leg: cannot read {text!r}; expected "QTY KIND STRIKE EXPIRY", e.g. '
            '"-1 put 1200 2011-02-18", or "QTY underlying [PRICE]"',
            arg="leg",
        ) from None


def _default_expiry(chain: Chain) -> str:
    labels = np.unique(chain.expiry_date)
    days = np.array([chain.year_fraction(str(d)) * 365.0 for d in labels])
    return str(labels[int(np.argmin(np.abs(days - 45.0)))])


def _strategy(args: argparse.Namespace, chain: Chain, surface: Surface, mult: float) -> Package:
    name = args.strategy
    expiry = args.expiry or _default_expiry(chain)
    two = name in ("calendar", "diagonal")
    if two and not args.far_expiry:
        raise InputError(f"--far-expiry: needed by {name}", arg="far_expiry")
    if args.strikes:
        try:
            strikes = [float(x) for x in args.strikes.split(",")]
        except ValueError:
            raise InputError(f"--strikes: not numbers: {args.strikes!r}", arg="strikes") from None
        if len(strikes) != len(_TARGETS[name]):
            raise InputError(
                f"--strikes: {name} takes {len(_TARGETS[name])} strike(s)", arg="strikes"
            )
    else:
        strikes = _pick_strikes(chain, surface, expiry, _TARGETS[name])
    build = getattr(strategies, name)
    if name in ("covered_call", "collar"):
        return build(*strikes, expiry, price=chain.spot, multiplier=mult)  # type: ignore[no-any-return]
    if two:
        return build(*strikes, expiry, args.far_expiry, multiplier=mult)  # type: ignore[no-any-return]
    return build(*strikes, expiry, multiplier=mult)  # type: ignore[no-any-return]


def _pick_strikes(
    chain: Chain, surface: Surface, expiry: str, targets: tuple[float, ...]
) -> list[float]:
    """Listed strikes (both kinds offered) nearest ``F exp(z vol sqrt(t))`` for each target,
    strictly ordered like the targets."""
    rows = chain.slice(expiry)
    offered = np.isfinite(rows.ask) & (rows.ask > 0)
    calls = set(rows.strike[offered & (rows.kind > 0)].tolist())
    puts = set(rows.strike[offered & (rows.kind < 0)].tolist())
    listed = np.array(sorted(calls & puts))
    if listed.size < len(set(targets)):
        raise InputError(f"--expiry: too few listed strikes on {expiry}", arg="expiry")
    t = rows.t
    fwd = float(surface.forward(t))
    sd = float(surface.vol(fwd, t)) * math.sqrt(t)
    chosen: dict[float, float] = {}
    last = -math.inf
    for z in sorted(set(targets)):
        cand = listed[listed > last]
        if cand.size == 0:
            raise InputError(f"--expiry: too few listed strikes on {expiry}", arg="expiry")
        k = float(cand[np.argmin(np.abs(cand - fwd * math.exp(z * sd)))])
        chosen[z] = last = k
    return [chosen[z] for z in targets]


def _money(x: float) -> str:
    return f"{x:,.2f}"


def _print(res: AuctionResult, out: Callable[[str], None]) -> None:
    req = res.request
    pkg = req.package
    m = pkg.multiplier
    legs = ", ".join(
        f"{leg.qty:+g} {leg.kind}" + ("" if leg.strike is None else f" {leg.strike:g} {leg.expiry}")
        for leg in pkg.legs
    )
    out(
        f"RFQ {req.side} {req.size:g} x {pkg.name or 'package'} [{legs}], multiplier {m:g}, "
        f"TTL {req.ttl:g} s, sent {res.started}"
    )
    line = f"fair {res.fair:.4f} per share ({_money(res.fair * m)} per package)"
    if res.mid is not None:
        line += f"; screen mid {res.mid:.4f}"
    if res.screen is not None:
        line += (
            f", legging {res.screen.touch:.4f} at the touch, {res.screen.price:.4f} with slippage"
        )
    out(line)
    out(
        f"{'rank':>4} {'dealer':<7}{'status':<9}{'recv s':>7}{'exp s':>7}{'bid':>10}{'ask':>10}"
        f"{'half':>8}{'vega':>7}{'gamma':>7}{'pin':>7}{'size x':>7}{'costs':>7}{'skew':>8}"
    )
    for r in res.responses:
        q = r.quote
        head = f"{r.rank:>4} {q.dealer:<7}{r.status:<9}{r.received:>7.3f}{r.expires:>7.3f}"
        if q.charges is None or q.bid is None or q.ask is None:
            out(f"{head}  declined: {q.declined}")
            continue
        c = q.charges
        out(
            f"{head}{q.bid:>10.2f}{q.ask:>10.2f}{q.half_spread:>8.3f}{c.vega:>7.3f}"
            f"{c.gamma:>7.3f}{c.pin:>7.3f}{c.size_factor:>7.3f}{c.costs:>7.3f}{c.skew:>8.3f}"
        )
    if res.best_bid is not None and res.best_ask is not None:
        out(f"best bid {res.best_bid:.2f}, best offer {res.best_ask:.2f}")
    if res.winner is None or res.price is None or res.total is None:
        out(f"decision at {res.decided:.3f} s: {res.note}")
        return
    word = "pays" if res.price >= 0 else "receives"
    out(
        f"decision at {res.decided:.3f} s: {res.side} {res.filled:g} from {res.winner} at "
        f"{res.price:.2f} per share; the taker {word} {_money(abs(res.price) * m)} per package, "
        f"{_money(abs(res.total))} in total"
    )
    imp = res.improvement
    if imp is not None and res.screen is not None:
        out(
            f"vs mid: {imp.vs_mid:+.4f} per share, {_money(imp.vs_mid_package)} per package, "
            f"{_money(imp.vs_mid_total)} in total (+ = better than mid)"
        )
        out(
            f"vs legging: {imp.vs_screen:+.4f} per share, {_money(imp.vs_screen_package)} per "
            f"package ({_money(imp.vs_screen_price_total)} in total), "
            f"fees {_money(res.screen.fees)} on the screen vs {_money(imp.block_fee)} block "
            f"({_money(imp.fee_saving)} saved): {_money(imp.vs_screen_total)} better in total"
        )
    if res.note:
        out(f"note: {res.note}")

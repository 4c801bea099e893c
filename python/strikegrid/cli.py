"""The ``strikegrid`` command line: ``demo``, ``screen``, ``quote``, ``risk``, ``rolls``,
``backtest`` (``strikegrid --help`` lists all)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import numpy as np

from . import _core, book_cli, cli_screen, greeks, price
from .backtest import _cli as backtest_cli
from .chain import Chain
from .exceptions import InputError
from .rfq import _cli as rfq_cli
from .sample import SAMPLE_CHAIN, load_sample_chain
from .surface import Surface

#: 3-month US T-bill yield at the start of January 2011 (about 0.15%), continuously compounded.
SAMPLE_RATE = 0.0015


def _demo(out: _Writer) -> int:
    chain = load_sample_chain()
    spot = float(chain["underlying_price"][0])
    out(f"strikegrid {_core.__version__} demo — kernels use SIMD level '{_core.simd_level()}'")
    out(f"Embedded sample: {SAMPLE_CHAIN}, SPX close {spot:.2f}, {len(chain['strike'])} quotes")
    out(
        "Black-76 on the vendor's forward for each expiry, vendor IVs, rate "
        f"{SAMPLE_RATE:.2%}; theta per day, vega per vol point"
    )
    expiries = ["2011-01-21", "2011-02-18", "2011-03-18"]
    strikes = np.arange(1200.0, 1351.0, 25.0)
    sel = (
        np.isin(chain["expiry"], expiries)
        & np.isin(chain["strike"], strikes)
        & (chain["settlement"] == "AM")
        & np.isfinite(chain["iv_source"].astype(float))
    )
    idx = np.flatnonzero(sel)
    t = chain["t"][idx].astype(float)
    fwd = chain["forward_price_source"][idx].astype(float)
    k = chain["strike"][idx].astype(float)
    iv = chain["iv_source"][idx].astype(float)
    kind = chain["kind"][idx]
    g = {
        name: np.asarray(v)
        for name, v in greeks(kind, fwd, k, t, iv, SAMPLE_RATE, model="black76").items()
    }
    header = (
        f"{'expiry':<11}{'strike':>8} {'kind':<5}{'bid':>9}{'ask':>9}{'model':>9}"
        f"{'iv':>8}{'delta':>8}{'gamma':>9}{'vega/pt':>9}{'theta/d':>9}"
    )
    out(header)
    out("-" * len(header))
    order = np.lexsort((kind, k, chain["expiry"][idx]))
    for j in order:
        i = idx[j]
        out(
            f"{chain['expiry'][i]:<11}{k[j]:>8.0f} {kind[j]:<5}{chain['bid'][i]:>9.2f}"
            f"{chain['ask'][i]:>9.2f}{g['price'][j]:>9.2f}{iv[j]:>8.2%}{g['delta'][j]:>8.3f}"
            f"{g['gamma'][j]:>9.5f}{g['vega'][j] / 100:>9.3f}{g['theta'][j] / 365:>9.3f}"
        )
    # A large grid, to show throughput: every strike 500..2000 x 200 expiries x call/put.
    ks = np.linspace(500.0, 2000.0, 2500)[:, None, None]
    ts = np.linspace(1 / 365, 3.0, 200)[None, :, None]
    kinds = np.array([True, False])[None, None, :]
    price(kinds, spot, ks, ts, 0.2, SAMPLE_RATE, 0.018)  # warm-up
    start = time.perf_counter()
    grid = price(kinds, spot, ks, ts, 0.2, SAMPLE_RATE, 0.018)
    elapsed = time.perf_counter() - start
    n = np.size(grid)
    out(
        f"\nBSM grid {ks.shape[0]} strikes x {ts.shape[1]} expiries x 2 kinds = {n:,} prices "
        f"in {elapsed * 1e3:.1f} ms ({n / elapsed / 1e6:.0f} M options/s)"
    )
    # From the raw quotes: validation, parity forwards, implied vols, an arbitrage-checked
    # SVI surface, and the early-exercise view of an American put on the same level.
    raw = Chain.sample()
    rep = raw.report()
    surface = Surface.fit(raw, rate=SAMPLE_RATE)
    out(f"\nChain.sample(): {rep.n_usable} of {len(raw)} quotes usable for fitting")
    out(str(surface.report()))
    t_q = 0.25
    strikes_q = np.array([1150.0, 1250.0, 1350.0])
    vols_q = np.asarray(surface.vol(strikes_q, t_q))
    probs = np.asarray(surface.prob_below(strikes_q, t_q))
    for kq, vq, pq in zip(strikes_q, vols_q, probs):
        out(f"3-month strike {kq:.0f}: surface vol {vq:.2%}, P(SPX < strike) = {pq:.1%}")
    am = float(
        price("put", spot, 1250.0, t_q, float(vols_q[1]), SAMPLE_RATE, 0.018, exercise="american")
    )
    eu = float(price("put", spot, 1250.0, t_q, float(vols_q[1]), SAMPLE_RATE, 0.018))
    out(
        f"American 1250 put, 3 months: {am:.3f} (European {eu:.3f}, early-exercise premium "
        f"{am - eu:.3f})"
    )
    return 0


class _Writer:
    def __call__(self, line: str) -> None:
        sys.stdout.write(line + "\n")


#: Options whose value is a LO:HI range that may start with a minus sign.
_RANGE_OPTIONS = ("--dte", "--delta", "--width")


def _join_negative_ranges(argv: Sequence[str]) -> list[str]:
    """``--delta -0.30:-0.15`` as ``--delta=-0.30:-0.15`` (argparse would read the value as an
    option)."""
    out: list[str] = []
    items = list(argv)
    i = 0
    while i < len(items):
        a = items[i]
        nxt = items[i + 1] if i + 1 < len(items) else ""
        if a in _RANGE_OPTIONS and nxt[:1] == "-" and nxt[1:2] in ".0123456789:":
            out.append(f"{a}={nxt}")
            i += 2
            continue
        out.append(a)
        i += 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``strikegrid`` command."""
    parser = argparse.ArgumentParser(prog="strikegrid", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="price the embedded SPX sample chain and a large grid")
    cli_screen.add_parser(sub)
    rfq_cli.add_parser(sub)
    book_cli.add_parser(sub)
    backtest_cli.add_parser(sub)
    args = parser.parse_args(_join_negative_ranges(sys.argv[1:] if argv is None else argv))
    try:
        if args.command == "demo":
            return _demo(_Writer())
        if args.command == "screen":
            return cli_screen.run(args)
        if args.command == "quote":
            return rfq_cli.run(args)
        if args.command in book_cli.COMMANDS:
            return book_cli.run(args)
        if args.command == "backtest":
            return backtest_cli.run(args)
    except (InputError, OSError) as e:
        sys.stderr.write(f"strikegrid {args.command}: error: {e}\n")
        return 2
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    raise SystemExit(main())

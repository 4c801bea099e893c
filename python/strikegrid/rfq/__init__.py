"""Request-for-quote package quoting and block trades: ``sg.rfq``.

A taker sends a :class:`Request` for a whole package and size; :class:`Dealer` objects answer
with firm two-way package prices built from a fitted surface; :func:`run_auction` collects the
answers on a seeded simulated clock, fills the whole size at the best single price and compares
it with the mid and with legging into the screen. :func:`write_log` / :func:`read_log` keep the
auction as JSON lines.

>>> import strikegrid as sg
>>> surface = sg.Surface.fit(sg.Chain.sample())
>>> pkg = sg.strategies.iron_condor(1150, 1200, 1325, 1375, "2011-02-18")
>>> request = sg.rfq.Request(pkg, size=100, side="buy")
>>> quote = sg.rfq.Dealer(surface, name="A").quote(request)
>>> quote.bid < quote.fair < quote.ask
True
>>> result = sg.rfq.run_auction(request, sg.rfq.panel(surface, 5), seed=7)
>>> result.filled
100.0

Rules (details in the classes' docstrings):

* Prices are per unit (per share, like premiums): ``sum(qty * leg price)``, underlying legs at
  their price per share; per package ``* multiplier``, total ``* multiplier * size``.
* Dealer half-spread: vega × vol uncertainty (net, plus a smaller per-strike charge on gross
  vega), expected gamma P&L over one hedging interval, gross gamma of legs near expiry (pin),
  a size factor ``1 + size_impact sqrt(size / typical_size)``, per-contract and per-share
  costs (:class:`DealerParams`). Inventory skews the centre (a dealer long vega marks vol down,
  so it bids and offers less for packages that add vega). Quotes stay inside the package's
  model-free no-arbitrage bounds and bracket fair value.
* Auction: all-or-none at one price; ties go to the earlier response, then the dealer name.
* Screen: each leg crossed at the chain's bid/ask with square-root impact beyond the shown
  depth (open interest as the proxy when the chain has no sizes); per-contract fees per leg
  against one block fee (:class:`ScreenModel`, :class:`Fees`).
"""

from __future__ import annotations

from ._auction import (
    AuctionResult,
    Fees,
    Improvement,
    Response,
    Screen,
    ScreenLeg,
    ScreenModel,
    panel,
    run_auction,
)
from ._dealer import Charges, Dealer, DealerParams, Inventory, Quote
from ._log import read_log, write_log
from ._request import SIDES, Request
from ._valuation import Marks, marks

__all__ = [
    "SIDES",
    "AuctionResult",
    "Charges",
    "Dealer",
    "DealerParams",
    "Fees",
    "Improvement",
    "Inventory",
    "Marks",
    "Quote",
    "Request",
    "Response",
    "Screen",
    "ScreenLeg",
    "ScreenModel",
    "marks",
    "panel",
    "read_log",
    "run_auction",
    "write_log",
]

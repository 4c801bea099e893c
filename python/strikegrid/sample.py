"""The embedded sample chain: SPX options at the close of 2011-01-03 (see ``data/README.md``).

Loaded with the standard library and numpy only, so the demo needs nothing else.
"""

from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = ["SAMPLE_CHAIN", "load_sample_chain", "sample_chain_path"]

#: File name of the embedded chain.
SAMPLE_CHAIN = "spx_2011-01-03.csv"

_NUMERIC = ("strike", "bid", "ask", "iv_source", "underlying_price", "forward_price_source")


def sample_chain_path() -> Path:
    """Path of the embedded sample chain CSV."""
    return Path(str(resources.files("strikegrid") / "data" / SAMPLE_CHAIN))


def _settlement_time(expiry: str, settlement: str, tz: timezone) -> datetime:
    """SPX AM-settled options settle at the open (09:30 ET) of the expiry day, PM-settled ones
    at the close (16:15 ET for the vendor's timestamps)."""
    day = datetime.fromisoformat(expiry).replace(tzinfo=tz)
    if settlement == "AM":
        return day + timedelta(hours=9, minutes=30)
    return day + timedelta(hours=16, minutes=15)


def load_sample_chain() -> dict[str, npt.NDArray[np.generic]]:
    """The sample chain as a dict of column arrays, plus ``t`` (years to settlement, ACT/365
    from the quote time) and ``is_call`` (bool)."""
    with open(sample_chain_path(), newline="") as f:
        rows = list(csv.DictReader(f))
    cols: dict[str, npt.NDArray[np.generic]] = {}
    for name in _NUMERIC:
        cols[name] = np.array([float(r[name]) if r[name] else np.nan for r in rows])
    for name in ("expiry", "kind", "settlement", "contract", "quote_time"):
        cols[name] = np.array([r[name] for r in rows])
    quote = datetime.fromisoformat(rows[0]["quote_time"])
    tz = quote.tzinfo if isinstance(quote.tzinfo, timezone) else timezone.utc
    seconds = np.array(
        [(_settlement_time(r["expiry"], r["settlement"], tz) - quote).total_seconds() for r in rows]
    )
    cols["t"] = seconds / (365.0 * 86400.0)
    cols["is_call"] = cols["kind"] == "call"
    return cols

"""strikegrid: option prices, greeks and implied vols over large grids, with a Rust core.

>>> import strikegrid as sg
>>> round(sg.price("call", 100.0, 100.0, 1.0, 0.2), 6)
7.965567
"""

from __future__ import annotations

from . import american, backtest, batch, exceptions, frames, rfq, strategies
from ._core import __version__, simd_level
from .american import early_exercise_premium, exercise_boundary
from .book import Book
from .chain import Chain
from .exceptions import InputError, StrikegridError
from .implied import IV_STATUS, implied_vol
from .package import Leg, Package
from .pricing import GREEKS, greeks, norm_cdf, norm_pdf, price
from .screening import screen
from .surface import Surface

__all__ = [
    "GREEKS",
    "IV_STATUS",
    "Book",
    "Chain",
    "InputError",
    "Leg",
    "Package",
    "StrikegridError",
    "Surface",
    "__version__",
    "american",
    "backtest",
    "batch",
    "early_exercise_premium",
    "exceptions",
    "exercise_boundary",
    "frames",
    "greeks",
    "implied_vol",
    "norm_cdf",
    "norm_pdf",
    "price",
    "rfq",
    "screen",
    "simd_level",
    "strategies",
]

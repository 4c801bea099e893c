"""Rule-based back-tests of option-income programs: ``sg.backtest``.

>>> import strikegrid as sg
>>> prog = sg.backtest.Program(
...     "cash_secured_put",
...     strikes=sg.backtest.Strikes(put=sg.backtest.StrikeRule("delta", -0.3), increment=5),
... )
>>> pricing = sg.backtest.ModelPricing(skew=-1.3)
>>> result = sg.backtest(prog, market, pricing=pricing)  # doctest: +SKIP
>>> result.stats()["annualised_return"]  # doctest: +SKIP

The module itself is callable: ``sg.backtest(program, market, ...)`` is
:func:`strikegrid.backtest.run` (typed code may prefer calling ``run``).

* :mod:`.program`: the declarative :class:`Program` (strategy, entry, strikes, exit, sizing,
  costs), :class:`Stack` and TOML loading (:func:`load`);
* :mod:`.market`: :class:`Market`, the daily history a model prices on;
* :mod:`.pricing`: :class:`ModelPricing` (vol input and skew, the library's kernels) and
  :class:`ChainSeries` (real quotes);
* :mod:`.engine`: the event loop and its accounting;
* :mod:`.results`: equity, ledger, trades, statistics, frames, plot;
* :mod:`.indices`: the Cboe BXM and PUT reproductions and a BTC covered call on DVOL;
* :mod:`.montecarlo`: the same programs over simulated GBM / Heston paths, in Rust.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from . import calendar, indices, market, montecarlo, pricing, program, results
from .engine import backtest as run
from .market import Market, read_series
from .montecarlo import MonteCarloResult, monte_carlo, simulate
from .pricing import ChainSeries, ModelPricing
from .program import (
    STRATEGIES,
    Costs,
    Entry,
    Exit,
    Program,
    Sizing,
    Stack,
    StrikeRule,
    Strikes,
    load,
)
from .results import BacktestResult, compare, equity_stats

__all__ = [
    "STRATEGIES",
    "BacktestResult",
    "ChainSeries",
    "Costs",
    "Entry",
    "Exit",
    "Market",
    "ModelPricing",
    "MonteCarloResult",
    "Program",
    "Sizing",
    "Stack",
    "StrikeRule",
    "Strikes",
    "calendar",
    "compare",
    "equity_stats",
    "indices",
    "load",
    "market",
    "monte_carlo",
    "montecarlo",
    "pricing",
    "program",
    "read_series",
    "results",
    "run",
    "simulate",
]


class _CallableModule(types.ModuleType):
    """Lets ``sg.backtest(program, market, ...)`` call :func:`run`."""

    def __call__(self, *args: Any, **kwargs: Any) -> BacktestResult:
        return run(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

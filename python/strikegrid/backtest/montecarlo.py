"""Monte Carlo mode: a monthly put-write or covered-call program over many simulated paths
(geometric Brownian motion or Heston), run in Rust across paths (``strikegrid_core::paths``).

Each path has its own Xoshiro256++ generator seeded by SplitMix64 from ``(seed, path)``, so a
seed reproduces the same numbers on any machine and with any number of threads. GBM is
simulated exactly; Heston with the full-truncation Euler scheme of Lord, Koekkoek & van Dijk
(2010). The program sells one option every ``period`` steps and holds it to expiry, settling in
cash against the path: put-write fully collateralised as the Cboe PUT index does
(``(C + N P) e^(rT) = N K``), covered call with the premium reinvested as the BXM does
(``units = equity / (S - C)``). Options are priced with Black-Scholes-Merton at the pricing
vol: a constant, or the path's own instantaneous vol (``sqrt(v)`` under Heston) times
``vol_scale``. Strikes by moneyness or delta (a delta is turned into a moneyness at the
program's tenor and the pricing vol at the start, which under constant vol is exact at every
roll), rounded to ``strikes.increment``: puts down, calls up (the Cboe rules).

Times are in years with ``steps_per_year`` steps (252: trading days); each option lives
``period`` steps, by default the program's ``entry.dte`` calendar days in trading days (30 days:
21 steps).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import _core
from .._convert import finite_number as _num
from ..exceptions import InputError
from .program import Program

__all__ = ["MonteCarloResult", "monte_carlo", "simulate"]

FloatArray = npt.NDArray[np.float64]

#: Heston parameters used when none are given: v0 = theta = 0.04 (20% vol), kappa 2, xi 0.5,
#: rho -0.7 (a typical equity-index calibration's order of magnitude).
HESTON_DEFAULTS = {"v0": 0.04, "kappa": 2.0, "theta": 0.04, "xi": 0.5, "rho": -0.7}


def _count(x: Any, name: str, low: int = 1) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or int(x) < low:
        raise InputError(f"{name}: must be an integer >= {low}, got {x!r}", arg=name)
    return int(x)


def _seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**64:
        raise InputError(f"seed: must be an integer in [0, 2**64), got {seed!r}", arg="seed")
    return int(seed)


def _dynamics(model: str, vol: float, heston: dict[str, float] | None) -> dict[str, float]:
    if model == "gbm":
        if heston:
            raise InputError("heston: parameters given for model='gbm'", arg="heston")
        return {"vol": _num(vol, "vol")}
    if model == "heston":
        p = dict(HESTON_DEFAULTS)
        for k, v in (heston or {}).items():
            if k not in p:
                raise InputError(
                    f"heston: unknown parameter {k!r}; expected {', '.join(p)}", arg="heston"
                )
            p[k] = _num(v, f"heston.{k}")
        return p
    raise InputError(f"model: must be 'gbm' or 'heston', got {model!r}", arg="model")


def simulate(
    model: str = "gbm",
    *,
    paths: int = 10_000,
    years: float = 1.0,
    steps_per_year: int = 252,
    substeps: int = 1,
    spot: float = 100.0,
    drift: float = 0.0,
    vol: float = 0.2,
    div: float = 0.0,
    heston: dict[str, float] | None = None,
    seed: int = 0,
    variance: bool = False,
) -> Any:
    """Simulated paths of the underlying: an array (paths, steps + 1), or ``(spot, variance)``
    with ``variance=True``. ``drift`` is the expected total return (the price drifts at
    ``drift - div``); ``heston``: ``v0``, ``kappa``, ``theta``, ``xi``, ``rho``
    (:data:`HESTON_DEFAULTS` fill the rest)."""
    dyn = _dynamics(model, vol, heston)
    steps = _steps(years, steps_per_year)
    _check_size(_count(paths, "paths"), (steps + 1) * (2 if variance else 1))
    s, v = _core.simulate_paths(
        model,
        _num(spot, "spot"),
        _num(div, "div"),
        steps,
        1.0 / _count(steps_per_year, "steps_per_year"),
        _count(substeps, "substeps"),
        _count(paths, "paths"),
        _seed(seed),
        _num(drift, "drift"),
        variance=variance,
        **dyn,
    )
    return (s, v) if variance else s


#: Most values one call may produce (paths x points kept), about 4 GB of float64.
_MAX_VALUES = 500_000_000


def _steps(years: Any, steps_per_year: Any) -> int:
    y = _num(years, "years")
    n = _count(steps_per_year, "steps_per_year")
    steps = round(y * n)
    if steps < 1:
        raise InputError(f"years: too short for one step, got {years!r}", arg="years")
    return steps


def _check_size(paths: int, points: int) -> None:
    if paths * points > _MAX_VALUES:
        raise InputError(
            f"paths: {paths:,} paths of {points:,} points is more than {_MAX_VALUES:,} values; "
            "use fewer paths or steps (or keep_paths=False)",
            arg="paths",
        )


@dataclass(frozen=True, eq=False)
class MonteCarloResult:
    """Per-path outcomes of a program (the account starts at 1.0 on each path).

    Attributes:
        final_equity, premium, fees, assigned, max_drawdown, trades: (paths,) arrays.
        equity: (paths, steps + 1) marked equity, when kept.
        years: the horizon.
        description: the program, the dynamics and the pricing, in words.
    """

    final_equity: FloatArray
    premium: FloatArray
    fees: FloatArray
    assigned: FloatArray
    max_drawdown: FloatArray
    trades: FloatArray
    equity: FloatArray | None
    years: float
    description: str

    @property
    def paths(self) -> int:
        return int(self.final_equity.size)

    def summary(self) -> dict[str, float]:
        """The distribution of outcomes: mean / median / 5% / 95% annualised return, the
        probability of a loss, mean and 95% drawdown, mean premium per year, assignments per
        path, and the standard error of the mean final equity."""
        fe = self.final_equity
        ann = np.where(fe > 0, np.power(np.maximum(fe, 1e-300), 1.0 / self.years) - 1.0, -1.0)
        n = fe.size
        return {
            "paths": float(n),
            "mean_final_equity": float(fe.mean()),
            "se_final_equity": float(fe.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan,
            "mean_annualised_return": float(ann.mean()),
            "median_annualised_return": float(np.median(ann)),
            "p05_annualised_return": float(np.quantile(ann, 0.05)),
            "p95_annualised_return": float(np.quantile(ann, 0.95)),
            "prob_loss": float(np.mean(fe < 1.0)),
            "mean_max_drawdown": float(self.max_drawdown.mean()),
            "p95_max_drawdown": float(np.quantile(self.max_drawdown, 0.95)),
            "premium_per_year": float(self.premium.mean() / self.years),
            "assignments_per_path": float(self.assigned.mean()),
        }

    def to_frame(self, output: str = "pandas") -> Any:
        """Per-path outcomes as a data frame (pandas, or polars with ``output="polars"``)."""
        from .results import _frame

        return _frame(
            {
                "final_equity": self.final_equity,
                "premium": self.premium,
                "fees": self.fees,
                "assigned": self.assigned,
                "max_drawdown": self.max_drawdown,
                "trades": self.trades,
            },
            output,
        )


def _moneyness(prog: Program, t: float, vol: float, rate: float, div: float) -> float:
    st = prog.strikes
    rule = st.put if prog.strategy == "cash_secured_put" else st.call
    assert rule is not None
    if rule.by == "moneyness":
        return float(rule.value)
    if rule.by == "atm":
        return 1.0
    # BSM delta -> strike: d1 = N^-1(|delta| e^(qT)) for calls, -N^-1(|delta| e^(qT)) for puts,
    # ln(S/K) = d1 vol sqrt(T) - (r - q + vol^2/2) T
    a = abs(rule.value) * math.exp(div * t)
    if not 0 < a < 1:
        raise InputError(f"strikes: delta {rule.value} is not reachable", arg="strikes")
    d1 = NormalDist().inv_cdf(a)
    if prog.strategy == "cash_secured_put":
        d1 = -d1
    sd = vol * math.sqrt(t)
    return math.exp(-(d1 * sd - (rate - div + 0.5 * vol * vol) * t))


def monte_carlo(
    program: Program,
    *,
    model: str = "gbm",
    paths: int = 10_000,
    years: float = 1.0,
    steps_per_year: int = 252,
    period: int | None = None,
    substeps: int = 1,
    spot: float = 100.0,
    drift: float = 0.07,
    vol: float = 0.2,
    div: float = 0.0,
    rate: float = 0.03,
    heston: dict[str, float] | None = None,
    pricing_vol: float | None = None,
    vol_scale: float = 1.0,
    seed: int = 0,
    keep_paths: bool = False,
) -> MonteCarloResult:
    """Runs a put-write (``cash_secured_put``) or ``covered_call`` program over simulated paths.

    Args:
        program: the program; its strike rule (moneyness, at the money, or delta), strike
            increment, fee per contract, fill and assumed spread are used; options are held to
            expiry and sized as the Cboe indices do (module docs).
        model: "gbm" or "heston" (``heston=`` parameters, :data:`HESTON_DEFAULTS` otherwise).
        paths, years, steps_per_year, period, substeps: the grid (``period``: steps per
            option, default ``entry.dte`` calendar days in steps of ``1 / steps_per_year``).
        spot, drift, vol, div: the underlying (``drift`` the expected total return; ``vol``
            for GBM).
        rate: the short rate (collateral interest and option pricing).
        pricing_vol: the vol options are priced at; None: ``vol * vol_scale`` under GBM and
            the path's own ``sqrt(v) * vol_scale`` under Heston.
        seed: reproduces the paths exactly (module docs).
        keep_paths: also return every path's marked equity (paths x steps + 1).
    """
    if not isinstance(program, Program):
        raise InputError(f"program: expected a Program, got {program!r}", arg="program")
    strategy = {"cash_secured_put": "put_write", "covered_call": "covered_call"}.get(
        program.strategy
    )
    if strategy is None:
        raise InputError(
            f"program: Monte Carlo mode runs cash_secured_put and covered_call programs, "
            f"not {program.strategy}",
            arg="program",
        )
    if not program.exit.holds_to_expiry:
        raise InputError(
            "program.exit: Monte Carlo mode holds options to expiry; drop the exit rules",
            arg="exit",
        )
    dyn = _dynamics(model, vol, heston)
    steps = _steps(years, steps_per_year)
    _check_size(_count(paths, "paths"), steps + 1 if keep_paths else 8)
    if period is None:
        period = max(round(program.entry.dte * _count(steps_per_year, "steps_per_year") / 365), 1)
    per = _count(period, "period")
    dt = 1.0 / _count(steps_per_year, "steps_per_year")
    r = _num(rate, "rate")
    q = _num(div, "div")
    scale = _num(vol_scale, "vol_scale")
    if pricing_vol is not None:
        pv = _num(pricing_vol, "pricing_vol")
        if pv < 0:
            raise InputError("pricing_vol: must be >= 0", arg="pricing_vol")
        start_vol = pv
    elif model == "gbm":
        pv = dyn["vol"] * scale
        start_vol = pv
    else:
        pv = -1.0  # the path's own vol
        start_vol = math.sqrt(dyn["v0"]) * scale
    m = _moneyness(program, per * dt, start_vol, r, q)
    costs = program.costs
    fee = costs.per_contract / program.multiplier
    slippage = float(costs.fill) * 0.5 * costs.spread
    out = _core.run_mc_program(
        strategy,
        model,
        _num(spot, "spot"),
        q,
        steps,
        dt,
        _count(substeps, "substeps"),
        _count(paths, "paths"),
        _seed(seed),
        _num(drift, "drift"),
        dyn.get("vol", 0.0),
        dyn.get("v0", 0.0),
        dyn.get("kappa", 0.0),
        dyn.get("theta", 0.0),
        dyn.get("xi", 0.0),
        dyn.get("rho", 0.0),
        m,
        float(program.strikes.increment),
        per,
        r,
        pv,
        scale,
        fee,
        slippage,
        keep_paths,
    )
    law = (
        f"GBM drift {drift:g} vol {dyn['vol']:g}"
        if model == "gbm"
        else "Heston " + ", ".join(f"{k} {v:g}" for k, v in dyn.items())
    )
    how = f"BSM at vol {pv:g}" if pv >= 0 else f"BSM at the path's sqrt(v) x {scale:g}"
    desc = (
        f"{program.strategy} moneyness {m:.4f} every {per} steps, {law}, rate {r:g}, "
        f"div {q:g}; {how}; seed {seed}"
    )
    return MonteCarloResult(
        out["final_equity"],
        out["premium"],
        out["fees"],
        out["assigned"],
        out["max_drawdown"],
        out["trades"],
        out.get("equity"),
        steps * dt,
        desc,
    )

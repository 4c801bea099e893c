"""Multi-leg option packages: ``sg.Leg`` and ``sg.Package``.

A :class:`Package` is a list of :class:`Leg` objects (calls, puts and the underlying, each with a
signed quantity: positive = bought, negative = sold) and a contract multiplier.

Units and conventions:

* Quantities count contracts. An underlying leg's ``qty`` counts *contracts' worth of shares*:
  ``Leg.underlying(1)`` is ``multiplier`` shares (100 for US equity options), so a covered call
  is ``Leg.underlying(1, price=S0)`` plus ``Leg.call(K, T, qty=-1)``.
* "Per unit" amounts are per share of underlying (the way option premiums are quoted); "per
  package" amounts are per unit times ``multiplier``.
* ``premium`` arguments are the net premium per unit paid for the option legs (positive for a
  debit, negative for a credit). The underlying legs' cost is their entry ``price``: an
  underlying leg contributes ``qty * (S - price)`` to the P&L.
* Expiries are year fractions from the chain's quote time (floats) or anything
  :meth:`Chain.year_fraction` accepts (dates, datetimes, ISO strings, numpy datetime64); the
  latter are resolved against the surface's / chain's quote time when valued or quoted.

Expiry analytics (:meth:`Package.payoff`, :meth:`~Package.breakevens`,
:meth:`~Package.max_profit`, :meth:`~Package.max_loss`, :meth:`~Package.pop`) need every option
leg to share one expiry: the payoff at that expiry is then piecewise linear in the underlying
with kinks at the strikes, and everything is computed exactly from the kinks and the slope
beyond the last one.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from .exceptions import InputError
from .pricing import greeks as _greeks
from .pricing import norm_cdf, price

__all__ = ["Leg", "Package", "PackageQuote", "PackageValue", "ReturnOnCapital"]

FloatArray = npt.NDArray[np.float64]

_KINDS = ("call", "put", "underlying")
_SIGN = {"call": 1.0, "put": -1.0}
#: Two listed expiries closer than this (years, about 30 seconds) are the same expiry.
_T_TOL = 1e-6


def _finite(x: Any, name: str) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise InputError(f"{name}: must be a number, got {x!r}", arg=name) from None
    if not math.isfinite(v):
        raise InputError(f"{name}: must be finite, got {x!r}", arg=name)
    return v


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def _expiry_key(expiry: Any) -> Any:
    """A comparable key for an expiry: floats as they are, date-likes as datetime64."""
    if _is_number(expiry):
        return float(expiry)
    try:
        return np.datetime64(expiry)
    except (TypeError, ValueError):
        return repr(expiry)


def _years(expiry: Any, chain: Any) -> float:
    if _is_number(expiry):
        return float(expiry)
    return float(chain.year_fraction(expiry))


@dataclass(frozen=True)
class Leg:
    """One leg of a package.

    Attributes:
        kind: "call", "put" or "underlying".
        strike: the strike (None for the underlying).
        expiry: a year fraction or a date-like (None for the underlying).
        qty: signed quantity in contracts (+ bought, - sold); never zero. For the underlying,
            contracts' worth of shares (``qty=1`` = ``multiplier`` shares).
        exercise: "european" or "american" (options only).
        price: entry price per share of an underlying leg (its cost basis); None when unknown.
    """

    kind: str
    strike: float | None
    expiry: Any
    qty: float
    exercise: str = "european"
    price: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise InputError(f"kind: must be one of {_KINDS}, got {self.kind!r}", arg="kind")
        qty = _finite(self.qty, "qty")
        if qty == 0.0:
            raise InputError("qty: must not be zero (+ bought, - sold)", arg="qty")
        object.__setattr__(self, "qty", qty)
        if self.exercise not in ("european", "american"):
            raise InputError(
                f"exercise: must be 'european' or 'american', got {self.exercise!r}",
                arg="exercise",
            )
        if self.kind == "underlying":
            if self.strike is not None or self.expiry is not None:
                raise InputError("an underlying leg has no strike or expiry", arg="strike")
            if self.price is not None:
                p = _finite(self.price, "price")
                if p <= 0.0:
                    raise InputError(f"price: must be positive, got {p}", arg="price")
                object.__setattr__(self, "price", p)
            return
        if self.strike is None:
            raise InputError("strike: an option leg needs a strike", arg="strike")
        k = _finite(self.strike, "strike")
        if k <= 0.0:
            raise InputError(f"strike: must be positive, got {k}", arg="strike")
        object.__setattr__(self, "strike", k)
        if self.expiry is None:
            raise InputError("expiry: an option leg needs an expiry", arg="expiry")
        if _is_number(self.expiry):
            t = _finite(self.expiry, "expiry")
            if t < 0.0:
                raise InputError(f"expiry: must be >= 0 years, got {t}", arg="expiry")
            object.__setattr__(self, "expiry", t)
        elif isinstance(self.expiry, bool):
            raise InputError("expiry: cannot be a bool", arg="expiry")
        if self.price is not None:
            raise InputError("price: only underlying legs carry an entry price", arg="price")

    @classmethod
    def call(cls, strike: float, expiry: Any, qty: float = 1, exercise: str = "european") -> Leg:
        """A call leg (``qty`` contracts; negative = sold)."""
        return cls("call", strike, expiry, qty, exercise)

    @classmethod
    def put(cls, strike: float, expiry: Any, qty: float = 1, exercise: str = "european") -> Leg:
        """A put leg (``qty`` contracts; negative = sold)."""
        return cls("put", strike, expiry, qty, exercise)

    @classmethod
    def underlying(cls, qty: float = 1, price: float | None = None) -> Leg:
        """The underlying: ``qty`` contracts' worth of shares bought at ``price`` per share."""
        return cls("underlying", None, None, qty, "european", price)

    @property
    def is_option(self) -> bool:
        return self.kind != "underlying"

    def with_qty(self, qty: float) -> Leg:
        return Leg(self.kind, self.strike, self.expiry, qty, self.exercise, self.price)


class PackageValue(NamedTuple):
    """What :meth:`Package.value` returns.

    Attributes:
        per_unit: fair value per unit (per share): net option premium plus the underlying legs'
            mark ``qty * (spot - price)`` (0 when the price is unknown).
        value: ``per_unit * multiplier``, the fair value of one package in money.
        legs: per-leg breakdown (a pandas DataFrame, or a dict of arrays without pandas).
        greeks: aggregated raw greeks per unit: ``delta`` and ``gamma`` with respect to spot,
            ``vega`` per 1.00 of vol, ``theta`` = -dV/dT per year, ``rho`` per 1.00 of rate.
        dollar: money greeks per package: ``delta`` (delta * S * multiplier), ``gamma_1pct``
            (gamma * S^2 * 0.01 * multiplier: the delta change in money for a 1% move),
            ``vega_1pt`` (per vol point), ``theta_day`` (per calendar day), ``rho_1pct``.
    """

    per_unit: float
    value: float
    legs: Any
    greeks: dict[str, float]
    dollar: dict[str, float]


class PackageQuote(NamedTuple):
    """What :meth:`Package.quote` returns; per unit amounts and per package (``*_value``).

    ``mid`` is the net premium at mid prices, ``natural`` the net premium when buying at the ask
    and selling at the bid (what crossing the spread costs), ``spread_cost = natural - mid``.
    Positive premiums are debits, negative ones credits.
    """

    mid: float
    natural: float
    spread_cost: float
    mid_value: float
    natural_value: float
    spread_cost_value: float
    legs: Any


class ReturnOnCapital(NamedTuple):
    """Best-case return on the collateral, simple and annualised (ACT/365)."""

    roc: float
    annualised: float


def _frame(columns: dict[str, Any]) -> Any:
    try:
        pd = importlib.import_module("pandas")
    except ImportError:  # pragma: no cover - pandas is optional
        return {k: np.asarray(v) for k, v in columns.items()}
    return pd.DataFrame(columns)


def touch_probability(
    spot: Any, barrier: Any, expiry: Any, vol: Any, rate: Any = 0.0, div: Any = 0.0
) -> Any:
    """Probability that a lognormal underlying touches ``barrier`` before ``expiry`` (first
    passage of Brownian motion with drift, by the reflection principle): with
    ``mu = rate - div - vol^2/2``, ``b = ln(barrier/spot)`` and ``s = vol sqrt(T)``,
    for a barrier below the spot
    ``P = N((b - mu T)/s) + (barrier/spot)^(2 mu/vol^2) N((b + mu T)/s)``, and the mirror image
    above. 1 when the barrier is at or through the spot. Vectorised; what traders read as "the
    chance the short strike is tested" (about twice the option's delta at zero drift)."""
    s0, h, t, v, r, q = (
        np.asarray(x, dtype=np.float64) for x in (spot, barrier, expiry, vol, rate, div)
    )
    mu = r - q - 0.5 * v * v
    sd = v * np.sqrt(t)
    b = np.log(h / s0)
    # Below the spot: down-crossing; above: up-crossing (mirror b and mu).
    sign = np.where(b < 0, 1.0, -1.0)
    bb, mm = sign * b, sign * mu
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        p = np.asarray(norm_cdf((bb - mm * t) / sd)) + np.exp(2.0 * mm * bb / (v * v)) * np.asarray(
            norm_cdf((bb + mm * t) / sd)
        )
    out = np.where(b == 0, 1.0, np.clip(p, 0.0, 1.0))
    return out if out.ndim else float(out)


class Package:
    """A multi-leg position: legs, a contract multiplier and an optional name."""

    legs: tuple[Leg, ...]
    multiplier: float
    name: str | None

    def __init__(
        self, legs: Iterable[Leg], multiplier: float = 100.0, name: str | None = None
    ) -> None:
        items = tuple(legs)
        if not items:
            raise InputError("legs: a package needs at least one leg", arg="legs")
        for i, leg in enumerate(items):
            if not isinstance(leg, Leg):
                raise InputError(f"legs: item {i} is not a Leg: {leg!r}", arg="legs", index=i)
        m = _finite(multiplier, "multiplier")
        if m <= 0.0:
            raise InputError(f"multiplier: must be positive, got {m}", arg="multiplier")
        self.legs = items
        self.multiplier = m
        self.name = name

    def __repr__(self) -> str:
        label = f"{self.name!r}, " if self.name else ""
        return f"Package({label}{list(self.legs)!r}, multiplier={self.multiplier:g})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Package):
            return NotImplemented
        return (self.legs, self.multiplier, self.name) == (other.legs, other.multiplier, other.name)

    def __hash__(self) -> int:
        return hash((self.legs, self.multiplier, self.name))

    def __iter__(self) -> Iterator[Leg]:
        return iter(self.legs)

    def __len__(self) -> int:
        return len(self.legs)

    # ------------------------------------------------------------------ helpers
    @property
    def option_legs(self) -> tuple[Leg, ...]:
        return tuple(leg for leg in self.legs if leg.is_option)

    @property
    def underlying_legs(self) -> tuple[Leg, ...]:
        return tuple(leg for leg in self.legs if not leg.is_option)

    @property
    def single_expiry(self) -> bool:
        """True when every option leg has the same expiry (the expiry analytics need this)."""
        keys = {_expiry_key(leg.expiry) for leg in self.option_legs}
        return len(keys) <= 1

    def _expiry_arrays(self) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """(sign, strike, qty) of the option legs and (qty * entry price) of the underlying."""
        if not self.single_expiry:
            raise InputError(
                "expiry analytics need every option leg to share one expiry; this package has "
                "several (value it against a surface instead)",
                arg="legs",
            )
        opts = self.option_legs
        sign = np.array([_SIGN[leg.kind] for leg in opts], dtype=np.float64)
        strike = np.array([leg.strike for leg in opts], dtype=np.float64)
        qty = np.array([leg.qty for leg in opts], dtype=np.float64)
        unders = self.underlying_legs
        for leg in unders:
            if leg.price is None:
                raise InputError(
                    "price: the expiry P&L of an underlying leg needs its entry price "
                    "(Leg.underlying(qty, price=...))",
                    arg="price",
                )
        uq = np.array([leg.qty for leg in unders], dtype=np.float64)
        up = np.array([leg.price for leg in unders], dtype=np.float64)
        return sign, strike, qty, np.array([uq.sum(), float(np.dot(uq, up))])

    def _unit_payoff(self, spot: Any, premium: float) -> FloatArray:
        sign, strike, qty, under = self._expiry_arrays()
        s = np.asarray(spot, dtype=np.float64)
        intrinsic = np.maximum(sign * (s[..., None] - strike), 0.0)
        out: FloatArray = intrinsic @ qty + under[0] * s - under[1] - premium
        return out

    def _kinks(self, premium: float) -> tuple[FloatArray, FloatArray, float]:
        """Points 0 and the strikes (sorted), the unit P&L there, and the slope beyond."""
        sign, strike, qty, under = self._expiry_arrays()
        x = np.unique(np.concatenate([[0.0], strike]))
        y = self._unit_payoff(x, premium)
        slope = float(qty[sign > 0].sum() + under[0])
        return x, y, slope

    # ------------------------------------------------------------ expiry analytics
    def payoff(self, spot: Any, premium: float = 0.0, *, per_unit: bool = False) -> Any:
        """P&L at expiry of one package (money; per share with ``per_unit=True``).

        Args:
            spot: underlying price(s) at expiry, any shape.
            premium: net premium per unit paid for the option legs (+ debit, - credit).
        """
        p = _finite(premium, "premium")
        out = self._unit_payoff(spot, p)
        if not per_unit:
            out = out * self.multiplier
        return out if out.ndim else float(out)

    def breakevens(self, premium: float = 0.0) -> FloatArray:
        """Underlying prices at expiry where the P&L is zero, sorted (exact: the roots of the
        piecewise-linear payoff). Where the P&L is zero on a whole segment, its ends are given.
        """
        x, y, slope = self._kinks(_finite(premium, "premium"))
        tol = 1e-12 * max(1.0, float(np.max(np.abs(y))), float(np.max(x)))
        zero = np.abs(y) <= tol
        y = np.where(zero, 0.0, y)
        roots = [x[zero]]
        y0, y1 = y[:-1], y[1:]
        cross = y0 * y1 < 0
        roots.append(x[:-1][cross] - y0[cross] * (x[1:] - x[:-1])[cross] / (y1 - y0)[cross])
        if y[-1] != 0.0 and slope != 0.0 and -y[-1] / slope > 0:
            roots.append(np.array([x[-1] - y[-1] / slope]))
        return np.unique(np.concatenate(roots))

    def max_profit(self, premium: float = 0.0) -> float:
        """Largest P&L at expiry of one package (money); ``inf`` when unbounded."""
        _x, y, slope = self._kinks(_finite(premium, "premium"))
        if slope > 0:
            return math.inf
        return float(np.max(y)) * self.multiplier

    def max_loss(self, premium: float = 0.0) -> float:
        """Largest loss at expiry of one package, as a positive amount of money (``-min P&L``);
        ``inf`` when unbounded (the underlying can rise without limit)."""
        _x, y, slope = self._kinks(_finite(premium, "premium"))
        if slope < 0:
            return math.inf
        return -float(np.min(y)) * self.multiplier

    def prob_touch(self, surface: Any) -> dict[float, float]:
        """For each short option strike: the probability that the underlying touches it before
        its expiry (:func:`touch_probability` at the strike's surface vol, with the rate and
        carry implied by the surface's discount factor and forward)."""
        chain = surface.chain
        spot = float(chain.spot)
        out: dict[float, float] = {}
        for leg in self.option_legs:
            if leg.qty >= 0 or leg.strike is None:
                continue
            t = _years(leg.expiry, chain)
            r = -math.log(float(surface.discount(t))) / t
            q = r - math.log(float(surface.forward(t)) / spot) / t
            vol = float(surface.vol(leg.strike, t))
            out[float(leg.strike)] = float(touch_probability(spot, leg.strike, t, vol, r, q))
        return out

    def pop(self, surface: Any, premium: float = 0.0) -> float:
        """Risk-neutral probability that the P&L at expiry is positive, from the surface's
        smile-consistent distribution (:meth:`Surface.prob_below`)."""
        p = _finite(premium, "premium")
        opts = self.option_legs
        if not opts:
            raise InputError("pop: the package has no option leg to give an expiry", arg="legs")
        t = _years(opts[0].expiry, surface.chain)
        be = self.breakevens(p)
        edges = np.concatenate([[0.0], be, [np.inf]])
        lo, hi = edges[:-1], edges[1:]
        probe = np.where(np.isfinite(hi), 0.5 * (lo + hi), lo + 1.0 + lo)
        positive = self._unit_payoff(probe, p) > 0
        finite_be = be[be > 0]
        cdf = dict(zip(finite_be.tolist(), np.atleast_1d(surface.prob_below(finite_be, t))))
        cdf[0.0] = 0.0

        def at(e: float) -> float:
            return 1.0 if math.isinf(e) else float(cdf[e])

        total = sum(at(h) - at(lw) for lw, h, ok in zip(lo, hi, positive) if ok)
        return float(min(max(total, 0.0), 1.0))

    # ------------------------------------------------------------------ valuation
    def value(self, surface: Any) -> PackageValue:
        """Fair value and greeks against a fitted :class:`~strikegrid.Surface`.

        Option legs: Black-76 on ``F = surface.forward(t)`` with ``r = -ln(surface.discount(t))
        / t`` and ``vol = surface.vol(K, t)`` (European; ``exercise="american"`` legs are priced
        with the American engine on the forward). Delta and gamma are converted from the
        forward to the spot ``S = surface.chain.spot`` (``dF/dS = F/S``); theta holds the
        forward fixed. Underlying legs: value ``qty * (S - price)`` (0 without a price), delta
        ``qty``.
        """
        chain = surface.chain
        spot = float(chain.spot)
        opts = self.option_legs
        n = len(opts)
        t = np.array([_years(leg.expiry, chain) for leg in opts], dtype=np.float64)
        if np.any(t <= 0):
            raise InputError("expiry: a leg has expired (expiry <= quote time)", arg="expiry")
        k = np.array([leg.strike for leg in opts], dtype=np.float64)
        sign = np.array([_SIGN[leg.kind] for leg in opts], dtype=np.float64)
        qty = np.array([leg.qty for leg in opts], dtype=np.float64)
        names = ("price", "delta", "gamma", "vega", "theta", "rho")
        res = {g: np.zeros(n) for g in names}
        fwd = np.atleast_1d(np.asarray(surface.forward(t), dtype=np.float64)) if n else t
        df = np.atleast_1d(np.asarray(surface.discount(t), dtype=np.float64)) if n else t
        vol = np.atleast_1d(np.asarray(surface.vol(k, t), dtype=np.float64)) if n else t
        rate = -np.log(df) / t if n else t
        american = np.array([leg.exercise == "american" for leg in opts], dtype=bool)
        for style, rows in (("european", ~american), ("american", american)):
            if not rows.any():
                continue
            out = _greeks(
                sign[rows],
                fwd[rows],
                k[rows],
                t[rows],
                vol[rows],
                rate[rows],
                0.0,
                model="black76",
                exercise=style,
                which=list(names),
            )
            for g in names:
                res[g][rows] = np.asarray(out[g], dtype=np.float64)
        ratio = fwd / spot if n else t
        res["delta"] = res["delta"] * ratio
        res["gamma"] = res["gamma"] * ratio**2
        unders = self.underlying_legs
        u_qty = np.array([leg.qty for leg in unders], dtype=np.float64)
        u_px = np.array(
            [spot if leg.price is None else leg.price for leg in unders], dtype=np.float64
        )
        leg_value = np.concatenate([res["price"], spot - u_px])
        all_qty = np.concatenate([qty, u_qty])
        per_leg = {g: np.concatenate([res[g], np.zeros(len(unders))]) for g in names[1:]}
        per_leg["delta"][n:] = 1.0
        kinds = [leg.kind for leg in opts] + ["underlying"] * len(unders)
        columns: dict[str, Any] = {
            "kind": kinds,
            "strike": np.concatenate([k, np.full(len(unders), np.nan)]),
            "t": np.concatenate([t, np.full(len(unders), np.nan)]),
            "qty": all_qty,
            "forward": np.concatenate([fwd, np.full(len(unders), np.nan)]),
            "vol": np.concatenate([vol, np.full(len(unders), np.nan)]),
            "price": leg_value,
            "value": leg_value * all_qty * self.multiplier,
        }
        for g in names[1:]:
            columns[g] = per_leg[g] * all_qty
        per_unit = float(np.dot(all_qty, leg_value))
        agg = {g: float(np.dot(all_qty, per_leg[g])) for g in names[1:]}
        m = self.multiplier
        dollar = {
            "delta": agg["delta"] * spot * m,
            "gamma_1pct": agg["gamma"] * spot**2 * 0.01 * m,
            "vega_1pt": agg["vega"] / 100.0 * m,
            "theta_day": agg["theta"] / 365.0 * m,
            "rho_1pct": agg["rho"] / 100.0 * m,
        }
        return PackageValue(per_unit, per_unit * m, _frame(columns), agg, dollar)

    def expected_pnl(self, surface: Any, premium: float = 0.0) -> float:
        """Forward expected P&L of one package at expiry (money): fair value carried to
        expiry minus the premium paid; single-expiry packages with no underlying leg only."""
        if self.underlying_legs or not self.single_expiry:
            raise InputError("expected_pnl: single-expiry option packages only", arg="legs")
        v = self.value(surface)
        t = _years(self.option_legs[0].expiry, surface.chain)
        df = float(surface.discount(t))
        return (v.per_unit / df - _finite(premium, "premium")) * self.multiplier

    def quote(self, chain: Any) -> PackageQuote:
        """Net premium from a chain's quotes: mid, natural (buy at the ask, sell at the bid)
        and the cost of crossing the spread. Every option leg must be listed in the chain (same
        kind, strike and expiry), with a bid and an ask; else an InputError names the leg.
        Underlying legs are marked at ``chain.spot`` (``qty * (spot - price)``, 0 without a
        price) and cost no spread."""
        strikes = np.asarray(chain.strike, dtype=np.float64)
        kinds = np.asarray(chain.kind, dtype=np.float64)
        ts = np.asarray(chain.t, dtype=np.float64)
        bid_all = np.asarray(chain.bid, dtype=np.float64)
        ask_all = np.asarray(chain.ask, dtype=np.float64)
        rows = []
        for i, leg in enumerate(self.legs):
            if not leg.is_option:
                continue
            t = _years(leg.expiry, chain)
            k = float(leg.strike)  # type: ignore[arg-type]
            hit = np.flatnonzero(
                (kinds == _SIGN[leg.kind])
                & (np.abs(strikes - k) <= 1e-9 * max(k, 1.0))
                & (np.abs(ts - t) <= _T_TOL)
            )
            if hit.size == 0:
                raise InputError(
                    f"legs: leg {i} ({leg.kind} {k:g} expiring {leg.expiry!r}) is not listed "
                    "in the chain",
                    arg="legs",
                    index=i,
                )
            j = int(hit[0])
            if not (np.isfinite(bid_all[j]) and np.isfinite(ask_all[j])):
                raise InputError(
                    f"legs: leg {i} ({leg.kind} {k:g}) has no two-sided quote", arg="legs", index=i
                )
            rows.append(j)
        idx = np.array(rows, dtype=np.intp)
        opts = self.option_legs
        qty = np.array([leg.qty for leg in opts], dtype=np.float64)
        bid, ask = bid_all[idx], ask_all[idx]
        mid = 0.5 * (bid + ask)
        fill = np.where(qty > 0, ask, bid)
        spot = float(chain.spot)
        under = sum(
            leg.qty * (spot - (spot if leg.price is None else leg.price))
            for leg in self.underlying_legs
        )
        mid_net = float(np.dot(qty, mid)) + under
        nat_net = float(np.dot(qty, fill)) + under
        m = self.multiplier
        legs = _frame(
            {
                "kind": [leg.kind for leg in opts],
                "strike": np.array([leg.strike for leg in opts], dtype=np.float64),
                "t": ts[idx],
                "qty": qty,
                "bid": bid,
                "ask": ask,
                "mid": mid,
                "fill": fill,
            }
        )
        spread = nat_net - mid_net
        return PackageQuote(mid_net, nat_net, spread, mid_net * m, nat_net * m, spread * m, legs)

    # ------------------------------------------------------------------ capital
    def plot(self, surface: Any, premium: float | None = None, ax: Any = None) -> Any:
        """Payoff at expiry and value today across spot, breakevens marked (matplotlib,
        optional extra). ``premium`` (per unit, + paid) defaults to the surface's fair value;
        "today" revalues the option legs at each spot with the forward moved in proportion and
        each strike's surface vol held (sticky strike)."""
        try:
            import matplotlib.pyplot as plt
        except ImportError as e:  # pragma: no cover - optional extra
            raise ImportError(
                "package.plot() needs matplotlib: pip install strikegrid[plot]"
            ) from e
        chain = surface.chain
        spot0 = float(chain.spot)
        fair = self.value(surface)
        prem = float(fair.per_unit) if premium is None else float(premium)
        strikes = [float(leg.strike) for leg in self.option_legs if leg.strike is not None]
        lo = 0.7 * min([spot0, *strikes])
        hi = 1.3 * max([spot0, *strikes])
        spots = np.linspace(lo, hi, 401)
        at_expiry = np.asarray(self.payoff(spots, prem))
        today = np.zeros_like(spots)
        for leg in self.legs:
            if leg.kind == "underlying":
                entry = spot0 if leg.price is None else float(leg.price)
                today += leg.qty * (spots - entry)
                continue
            t = _years(leg.expiry, chain)
            f0 = float(surface.forward(t))
            df = float(surface.discount(t))
            vol = float(surface.vol(leg.strike, t))
            fwd = f0 * spots / spot0
            today += leg.qty * np.asarray(
                price(leg.kind, fwd, leg.strike, t, vol, -math.log(df) / t, model="black76")
            )
        today = (today - prem) * self.multiplier
        if ax is None:
            fig, ax = plt.subplots(figsize=(7, 4))
        else:
            fig = ax.figure
        ax.plot(spots, at_expiry, label="at expiry")
        ax.plot(spots, today, label="today", ls="--")
        for b in (
            self.breakevens(prem)
            if len({_years(g.expiry, chain) for g in self.option_legs}) == 1
            else []
        ):
            ax.axvline(b, color="0.5", lw=0.8)
        ax.axhline(0.0, color="k", lw=0.5)
        ax.axvline(spot0, color="C2", lw=0.8, label="spot")
        ax.set_xlabel("underlying at expiry")
        ax.set_ylabel("P&L per package")
        ax.set_title(self.name or "package")
        ax.legend()
        return fig

    def collateral(self, premium: float = 0.0) -> float:
        """Capital a broker holds for one package (money), by the usual cash-account rules:

        * naked short calls (P&L unbounded below as the underlying rises: short strangles,
          uncovered calls) or short underlying: not defined by these rules, ``inf`` (margin
          accounts use exchange formulas that are out of scope);
        * long underlying (covered call, collar): the shares' value, ``qty * price *
          multiplier`` (needs the legs' entry price), plus any net debit paid for options;
        * only short puts (cash-secured puts): ``strike * multiplier * |qty|`` summed, the
          credit not subtracted;
        * other defined-risk single-expiry packages (verticals, iron condors, butterflies,
          long options): the maximum loss, i.e. the widest spread width times the multiplier
          times the quantity minus the credit (or the debit paid);
        * multi-expiry packages: the net debit paid when every option leg is bought;
          otherwise (calendars and diagonals with short legs) ``inf``, not defined here.

        Args:
            premium: net premium per unit paid for the option legs (+ debit, - credit).
        """
        p = _finite(premium, "premium")
        m = self.multiplier
        opts = self.option_legs
        unders = self.underlying_legs
        if any(leg.qty < 0 for leg in unders):
            return math.inf
        if not self.single_expiry:
            if all(leg.qty > 0 for leg in opts) and not unders:
                return max(p, 0.0) * m
            return math.inf
        if unders:
            _x, _y, slope = self._kinks(p)
            if slope < 0:
                return math.inf
            shares = sum(leg.qty * float(leg.price or 0.0) for leg in unders)
            return shares * m + max(p, 0.0) * m
        if self.max_loss(p) == math.inf:
            return math.inf
        if all(leg.kind == "put" and leg.qty < 0 for leg in opts):
            return sum(-leg.qty * float(leg.strike or 0.0) for leg in opts) * m
        return max(self.max_loss(p), 0.0)

    def return_on_capital(self, premium: float, days: float) -> ReturnOnCapital:
        """Best-case return (max profit / collateral) and its simple annualisation
        ``roc * 365 / days`` (ACT/365)."""
        d = _finite(days, "days")
        if d <= 0:
            raise InputError(f"days: must be positive, got {d}", arg="days")
        cap = self.collateral(premium)
        if not (0 < cap < math.inf):
            raise InputError("collateral: not defined (or zero) for this package", arg="legs")
        roc = self.max_profit(premium) / cap
        return ReturnOnCapital(roc, roc * 365.0 / d)

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
import itertools
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from . import _core
from ._convert import finite_number as _finite
from .exceptions import InputError
from .pricing import greeks as _greeks
from .pricing import norm_cdf, price

__all__ = [
    "Leg",
    "Package",
    "PackageQuote",
    "PackageValue",
    "ReturnOnCapital",
    "pack",
    "touch_probability",
    "value_packages",
]

FloatArray = npt.NDArray[np.float64]

_KINDS = ("call", "put", "underlying")
_SIGN = {"call": 1.0, "put": -1.0}
#: Two listed expiries closer than this (years, about 30 seconds) are the same expiry.
_T_TOL = 1e-6
#: Tail mass left out of the spot range of the first-expiry analytics.
_TAIL = 1e-7
#: Most option legs per package in the batch kernels.
_MAX_LEGS = 8


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
        symbol: the underlying's name ("SPX", "BTC"), optional; a package refuses legs
            on different underlyings, and valuation refuses a surface / chain of another one.
    """

    kind: str
    strike: float | None
    expiry: Any
    qty: float
    exercise: str = "european"
    price: float | None = None
    symbol: str | None = None

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
    def call(
        cls,
        strike: float,
        expiry: Any,
        qty: float = 1,
        exercise: str = "european",
        *,
        symbol: str | None = None,
    ) -> Leg:
        """A call leg (``qty`` contracts; negative = sold)."""
        return cls("call", strike, expiry, qty, exercise, symbol=symbol)

    @classmethod
    def put(
        cls,
        strike: float,
        expiry: Any,
        qty: float = 1,
        exercise: str = "european",
        *,
        symbol: str | None = None,
    ) -> Leg:
        """A put leg (``qty`` contracts; negative = sold)."""
        return cls("put", strike, expiry, qty, exercise, symbol=symbol)

    @classmethod
    def underlying(
        cls, qty: float = 1, price: float | None = None, *, symbol: str | None = None
    ) -> Leg:
        """The underlying: ``qty`` contracts' worth of shares bought at ``price`` per share."""
        return cls("underlying", None, None, qty, "european", price, symbol)

    @property
    def is_option(self) -> bool:
        return self.kind != "underlying"

    def with_qty(self, qty: float) -> Leg:
        return replace(self, qty=qty)


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


def _real_world(real_world: Any) -> tuple[float, float] | None:
    if real_world is None:
        return None
    try:
        drift, vol = (float(x) for x in real_world)
    except (TypeError, ValueError):
        raise InputError(
            f"real_world: expected (drift, vol), got {real_world!r}", arg="real_world"
        ) from None
    if not (math.isfinite(drift) and math.isfinite(vol) and vol > 0):
        raise InputError(
            f"real_world: drift must be finite and vol positive, got {real_world!r}",
            arg="real_world",
        )
    return drift, vol


def _leg_matrix(x: Any, name: str, shape: tuple[int, ...] | None = None) -> FloatArray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1 and shape is None:
        a = a[:, None]
    if shape is not None:
        a = np.broadcast_to(a, shape)
    if a.ndim != 2:
        raise InputError(f"{name}: expected an (n, legs) array, got shape {a.shape}", arg=name)
    return np.ascontiguousarray(a)


def _package_vector(x: Any, name: str, n: int) -> FloatArray:
    a = np.asarray(0.0 if x is None else x, dtype=np.float64)
    if a.ndim > 1:
        raise InputError(f"{name}: expected a scalar or an (n,) array", arg=name)
    try:
        return np.ascontiguousarray(np.broadcast_to(a, (n,)))
    except ValueError:
        raise InputError(f"{name}: expected a scalar or an ({n},) array", arg=name) from None


def value_packages(
    surface: Any,
    kind: Any,
    strike: Any,
    expiry: Any,
    qty: Any,
    *,
    under_qty: Any = None,
    under_cost: Any = None,
    premium: Any = None,
    multiplier: float = 100.0,
    real_world: Any = None,
    per_leg: bool = False,
) -> dict[str, FloatArray]:
    """Values ``n`` packages of up to 8 option legs each at once, in Rust (no Python loop).

    Args:
        surface: a fitted :class:`~strikegrid.Surface` (its spot, forwards, discount factors
            and smiles).
        kind: (n, legs) +1 for a call, -1 for a put.
        strike, expiry, qty: (n, legs) strikes, expiries in years from the surface's quote
            time, and signed quantities (+ bought, - sold); ``qty == 0`` marks an empty slot.
            Each broadcasts to ``kind``'s shape.
        under_qty: (n,) underlying per package in contracts' worth of shares (default 0).
        under_cost: (n,) sum of quantity times entry price per share of the underlying legs.
        premium: (n,) net option premium paid per unit (+ debit, - credit) used by the
            probability of profit, expected P&L, breakevens and max profit/loss (default 0).
        multiplier: the contract multiplier (money amounts are per unit times it).
        real_world: ``(drift, vol)``: the probability of profit and expected P&L under a
            lognormal real-world distribution (``E[S_T] = S e^{drift T}``) instead of the
            surface's risk-neutral one.
        per_leg: also return the per-leg ``leg_vol``, ``leg_price``, ``leg_delta``,
            ``leg_gamma`` (spot), ``leg_vega``, ``leg_theta``, ``leg_rho``, ``leg_forward`` and
            ``leg_discount`` (n, legs), per contract unit (not times the quantity).

    Returns:
        A dict of arrays: ``per_unit`` (fair value per unit) and ``value`` (per package, money);
        raw greeks per unit ``delta``, ``gamma`` (spot), ``vega``, ``theta`` (per year), ``rho``;
        money greeks per package ``dollar_delta``, ``gamma_1pct``, ``vega_1pt``, ``theta_day``,
        ``rho_1pct``; for single-expiry packages (NaN otherwise) ``pop``, ``expected_pnl`` (money,
        at expiry, undiscounted), ``max_profit`` and ``max_loss`` (money, ``inf`` where
        unbounded) and ``breakevens`` (n, legs + 2), NaN-padded.

    Option legs are priced as in :meth:`Package.value` (Black-76 on the surface forward,
    European exercise). An expiry beyond the surface's last slice, a non-positive strike or
    expiry, or a kind other than +1/-1 in a used slot raises :class:`InputError` naming the
    (package, leg) index.
    """
    k = _leg_matrix(kind, "kind")
    shape = k.shape
    strike_m = _leg_matrix(strike, "strike", shape)
    expiry_m = _leg_matrix(expiry, "expiry", shape)
    qty_m = _leg_matrix(qty, "qty", shape)
    n = shape[0]
    uq = _package_vector(under_qty, "under_qty", n)
    uc = _package_vector(under_cost, "under_cost", n)
    prem = _package_vector(premium, "premium", n)
    m = _finite(multiplier, "multiplier")
    if m <= 0:
        raise InputError(f"multiplier: must be positive, got {m}", arg="multiplier")
    spot, ts, log_f, log_df, params = surface.kernel_market()
    raw: dict[str, FloatArray] = _core.package_value(
        spot,
        ts,
        log_f,
        log_df,
        params,
        k,
        strike_m,
        expiry_m,
        qty_m,
        uq,
        uc,
        prem,
        _real_world(real_world),
        per_leg,
    )
    out = dict(raw)
    out["per_unit"] = raw["value"]
    out["value"] = raw["value"] * m
    out["dollar_delta"] = raw["delta"] * spot * m
    out["gamma_1pct"] = raw["gamma"] * spot * spot * 0.01 * m
    out["vega_1pt"] = raw["vega"] / 100.0 * m
    out["theta_day"] = raw["theta"] / 365.0 * m
    out["rho_1pct"] = raw["rho"] / 100.0 * m
    for name in ("expected_pnl", "max_profit", "max_loss"):
        out[name] = raw[name] * m
    out["breakevens"] = raw["breakevens"]
    return out


def american_black76(
    sign: FloatArray,
    fwd: FloatArray,
    strike: FloatArray,
    t: FloatArray,
    vol: FloatArray,
    discount: FloatArray,
    which: Iterable[str],
) -> dict[str, FloatArray]:
    """Prices and greeks (with respect to the forward) of American options on the forward
    (Black-76 carry, the surface's discount factor as the rate): how package legs marked
    ``exercise="american"`` are valued wherever legs are valued."""
    names = list(which)
    out = _greeks(
        sign,
        fwd,
        strike,
        t,
        vol,
        -np.log(discount) / t,
        0.0,
        model="black76",
        exercise="american",
        which=names,
    )
    return {g: np.asarray(out[g], dtype=np.float64) for g in names}


def pack(packages: Iterable[Package], chain: Any = None) -> dict[str, Any]:
    """The arrays :func:`value_packages` takes, from a list of :class:`Package` objects
    (a convenience with one Python step per package; screens and risk runs build the arrays
    directly). Date-like expiries are resolved against ``chain``'s quote time. Returns
    ``kind, strike, expiry, qty`` (n, legs), ``under_qty, under_cost`` (n,) and
    ``multiplier`` (all packages must share one)."""
    items = list(packages)
    if not items:
        raise InputError("packages: nothing to pack", arg="packages")
    mults = {p.multiplier for p in items}
    if len(mults) != 1:
        raise InputError("packages: all packages must share one multiplier", arg="packages")
    legs = max(1, max(len(p.option_legs) for p in items))
    if legs > _MAX_LEGS:
        raise InputError(f"packages: at most {_MAX_LEGS} option legs each", arg="packages")
    n = len(items)
    arr = {name: np.zeros((n, legs)) for name in ("kind", "strike", "expiry", "qty")}
    arr["kind"][:] = 1.0
    arr["strike"][:] = 1.0
    arr["expiry"][:] = 1.0
    under_qty = np.zeros(n)
    under_cost = np.zeros(n)
    for i, p in enumerate(items):
        for j, leg in enumerate(p.option_legs):
            arr["kind"][i, j] = _SIGN[leg.kind]
            arr["strike"][i, j] = leg.strike
            arr["expiry"][i, j] = _years(leg.expiry, chain)
            arr["qty"][i, j] = leg.qty
        for leg in p.underlying_legs:
            if leg.price is None and chain is None:
                raise InputError(
                    "price: an underlying leg without an entry price needs a chain to be "
                    "marked at its spot",
                    arg="price",
                    index=i,
                )
            entry = float(chain.spot) if leg.price is None else leg.price
            under_qty[i] += leg.qty
            under_cost[i] += leg.qty * entry
    return {**arr, "under_qty": under_qty, "under_cost": under_cost, "multiplier": mults.pop()}


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
        names = {leg.symbol for leg in items if leg.symbol is not None}
        if len(names) > 1:
            raise InputError(
                f"legs: a package's legs must share one underlying, got {sorted(names)}",
                arg="legs",
            )
        self.legs = items
        self.multiplier = m
        self.name = name

    @classmethod
    def from_row(cls, row: Any) -> Package:
        """A row of :func:`strikegrid.screen` (record, pandas row or mapping) as a package."""
        from .screening import to_package

        return to_package(row)

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
    def symbol(self) -> str | None:
        """The legs' underlying name, when any leg gives one."""
        names = {leg.symbol for leg in self.legs if leg.symbol is not None}
        return names.pop() if names else None

    def _check_underlying(self, chain: Any) -> None:
        mine, theirs = self.symbol, getattr(chain, "underlying", None)
        if mine is not None and theirs is not None and str(mine) != str(theirs):
            raise InputError(
                f"legs: the package is on {mine!r} but the surface/chain is on {theirs!r}",
                arg="legs",
            )

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

    def _slope_beyond_strikes(self) -> float:
        """d(P&L)/d(spot) above the highest strike: long calls and shares count +1 each."""
        return sum(leg.qty for leg in self.legs if leg.kind in ("call", "underlying"))

    def _analytics(self, premium: float) -> tuple[float, float, FloatArray]:
        """Max profit, max loss (per unit) and breakevens from the Rust kernel."""
        sign, strike, qty, under = self._expiry_arrays()
        legs = max(1, sign.size)
        row = np.zeros((1, legs))
        k, kk, q = row + 1.0, row + 1.0, row.copy()
        k[0, : sign.size], kk[0, : sign.size], q[0, : sign.size] = sign, strike, qty
        mp, ml, roots = _core.package_analytics(
            k,
            kk,
            row + 1.0,
            q,
            np.array([under[0]]),
            np.array([under[1]]),
            np.array([premium]),
        )
        be = roots[0]
        return float(mp[0]), float(ml[0]), be[np.isfinite(be)]

    def breakevens(self, premium: float = 0.0) -> FloatArray:
        """Underlying prices at expiry where the P&L is zero, sorted (exact: the roots of the
        piecewise-linear payoff, from its kinks at 0 and the strikes and the slope beyond the
        last one). Where the P&L is zero on a whole segment, its ends are given.
        """
        return self._analytics(_finite(premium, "premium"))[2]

    def max_profit(self, premium: float = 0.0) -> float:
        """Largest P&L at expiry of one package (money); ``inf`` when unbounded."""
        return self._analytics(_finite(premium, "premium"))[0] * self.multiplier

    def max_loss(self, premium: float = 0.0) -> float:
        """Largest loss at expiry of one package (money, positive); ``inf`` when unbounded."""
        return self._analytics(_finite(premium, "premium"))[1] * self.multiplier

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

    def _batch(
        self, surface: Any, premium: float, real_world: Any = None, per_leg: bool = False
    ) -> dict[str, FloatArray]:
        chain = surface.chain
        self._check_underlying(chain)
        for leg in self.option_legs:
            if _years(leg.expiry, chain) <= 0:
                raise InputError("expiry: a leg has expired (expiry <= quote time)", arg="expiry")
        arrays = pack([self], chain)
        return value_packages(
            surface,
            arrays["kind"],
            arrays["strike"],
            arrays["expiry"],
            arrays["qty"],
            under_qty=arrays["under_qty"],
            under_cost=arrays["under_cost"],
            premium=premium,
            multiplier=self.multiplier,
            real_world=real_world,
            per_leg=per_leg,
        )

    def pop(self, surface: Any, premium: float = 0.0, *, real_world: Any = None) -> float:
        """Probability that the P&L at expiry is positive.

        Under the surface's smile-consistent risk-neutral distribution (the default:
        ``P(S_T < x) = N(-d2) + F phi(d1) sqrt(T) dvol/dK``), or with ``real_world=(drift,
        vol)`` under a lognormal with that annual drift and volatility. Exact for
        single-expiry packages (the mass between the breakevens); for calendars and diagonals,
        the P&L at the first expiry (:meth:`pnl_at_first_expiry`) is used.
        """
        p = _finite(premium, "premium")
        if not self.option_legs:
            raise InputError("pop: the package has no option leg to give an expiry", arg="legs")
        if self.single_expiry:
            return float(self._batch(surface, p, real_world)["pop"][0])
        return float(self.first_expiry_analytics(surface, p, real_world=real_world)["pop"])

    def expected_pnl(self, surface: Any, premium: float = 0.0, *, real_world: Any = None) -> float:
        """Expected P&L of one package at expiry (money, undiscounted): under the surface's
        risk-neutral distribution the fair value carried to expiry minus the premium paid;
        with ``real_world=(drift, vol)`` under that lognormal. Underlying legs count their
        price change only (dividends excluded). Single-expiry packages."""
        p = _finite(premium, "premium")
        if not self.option_legs or not self.single_expiry:
            raise InputError("expected_pnl: single-expiry option packages only", arg="legs")
        return float(self._batch(surface, p, real_world)["expected_pnl"][0])

    # -------------------------------------------------------- calendars, diagonals
    def pnl_at_first_expiry(self, surface: Any, spot: Any, premium: float = 0.0) -> Any:
        """P&L of one package (money) at the first option expiry ``T1`` with the underlying
        at ``spot`` (any shape): legs expiring then pay their intrinsic value; later legs are
        valued with Black-76 on the forward carried from ``spot`` (``F = spot F(T)/F(T1)``),
        the forward discount ``D(T)/D(T1)`` and the surface's forward implied variance at
        their strike, ``vol^2 = (w(K, T) - w(K, T1)) / (T - T1)`` with ``w = vol^2 t`` (sticky
        strike); underlying legs count ``qty * (spot - price)``."""
        p = _finite(premium, "premium")
        chain = surface.chain
        opts = self.option_legs
        if not opts:
            raise InputError("the package has no option leg", arg="legs")
        t1 = min(_years(leg.expiry, chain) for leg in opts)
        s = np.asarray(spot, dtype=np.float64)
        total = np.zeros_like(s)
        f1 = float(surface.forward(t1))
        d1 = float(surface.discount(t1))
        for leg in self.legs:
            if not leg.is_option:
                entry = float(chain.spot) if leg.price is None else float(leg.price)
                total = total + leg.qty * (s - entry)
                continue
            t = _years(leg.expiry, chain)
            k = float(leg.strike)  # type: ignore[arg-type]
            if t - t1 <= _T_TOL:
                total = total + leg.qty * np.maximum(_SIGN[leg.kind] * (s - k), 0.0)
                continue
            tau = t - t1
            w_var = float(surface.vol(k, t)) ** 2 * t - float(surface.vol(k, t1)) ** 2 * t1
            vol = math.sqrt(max(w_var, 1e-12) / tau)
            rate = -math.log(float(surface.discount(t)) / d1) / tau
            fwd = s * float(surface.forward(t)) / f1
            total = total + leg.qty * np.asarray(
                price(leg.kind, fwd, k, tau, vol, rate, model="black76"), dtype=np.float64
            )
        out = (total - p) * self.multiplier
        return out if out.ndim else float(out)

    def first_expiry_analytics(
        self, surface: Any, premium: float = 0.0, *, real_world: Any = None
    ) -> dict[str, Any]:
        """For calendars and diagonals (any package): breakevens, max profit / loss and the
        probability of profit of :meth:`pnl_at_first_expiry`. The P&L is smooth in the spot
        away from the first expiry's strikes, so its roots are bracketed on a dense grid (with
        the strikes as nodes) and refined by bisection. The grid spans the spots the
        surface gives any weight at ``T1``: between its 1e-7 and 1 - 1e-7 quantiles. Max
        profit/loss are the extremes on that range (numerical, not closed-form: a European
        far leg deep in the money can lose more than the debit when carry is negative).
        The probability uses the distribution at ``T1`` (the surface's, or the lognormal
        ``real_world=(drift, vol)``)."""
        p = _finite(premium, "premium")
        rw = _real_world(real_world)
        chain = surface.chain
        t1 = min(_years(leg.expiry, chain) for leg in self.option_legs)
        f1 = float(surface.forward(t1))
        strikes = [float(leg.strike) for leg in self.option_legs if leg.strike is not None]
        wide = np.geomspace(f1 / 20, 20 * f1, 4001)
        mass = np.asarray(surface.prob_below(wide, t1))
        inside = wide[(mass >= _TAIL) & (mass <= 1.0 - _TAIL)]
        lo, hi = (inside[0], inside[-1]) if inside.size > 1 else (wide[0], wide[-1])
        grid = np.unique(np.concatenate([np.geomspace(lo, hi, 4001), strikes]))
        grid = grid[(grid >= lo) & (grid <= hi)]
        pnl = np.asarray(self.pnl_at_first_expiry(surface, grid, p))

        def f(x: float) -> float:
            return float(self.pnl_at_first_expiry(surface, x, p))

        # Every bracketing grid cell at once, by bisection to a relative 1e-13.
        cells = np.flatnonzero(np.sign(pnl[:-1]) * np.sign(pnl[1:]) < 0)
        a, b = grid[cells], grid[cells + 1]
        fa = pnl[cells]
        for _ in range(50):
            mid = 0.5 * (a + b)
            fm = np.asarray(self.pnl_at_first_expiry(surface, mid, p))
            left = np.sign(fm) == np.sign(fa)
            a, fa = np.where(left, mid, a), np.where(left, fm, fa)
            b = np.where(left, b, mid)
        roots = [float(x) for x in 0.5 * (a + b)]
        roots += [float(x) for x in grid[pnl == 0.0]]
        be = np.unique(np.array(roots, dtype=np.float64))
        spot0 = float(chain.spot)

        def cdf(x: float) -> float:
            if rw is None:
                return float(surface.prob_below(x, t1))
            drift, vol = rw
            mu = (drift - 0.5 * vol * vol) * t1
            return float(norm_cdf((math.log(x / spot0) - mu) / (vol * math.sqrt(t1))))

        edges = np.concatenate([[grid[0]], be, [grid[-1]]])
        pop = 0.0
        for lo, hi in itertools.pairwise(edges):
            if hi > lo and f(0.5 * (lo + hi)) > 0:
                pop += (1.0 if hi == grid[-1] else cdf(hi)) - (0.0 if lo == grid[0] else cdf(lo))
        return {
            "t1": t1,
            "breakevens": be,
            "max_profit": float(pnl.max()),
            "max_loss": float(-pnl.min()),
            "pop": float(min(max(pop, 0.0), 1.0)),
        }

    # ------------------------------------------------------------------ valuation
    def value(self, surface: Any) -> PackageValue:
        """Fair value and greeks against a fitted :class:`~strikegrid.Surface`.

        Option legs: Black-76 on ``F = surface.forward(t)`` with ``r = -ln(surface.discount(t))
        / t`` and ``vol = surface.vol(K, t)`` (European, through the batch kernel of
        :func:`value_packages`; ``exercise="american"`` legs are priced with the American
        engine on the forward). Delta and gamma are converted from the forward to the spot
        ``S = surface.chain.spot`` (``dF/dS = F/S``); theta holds the forward fixed.
        Underlying legs: value ``qty * (S - price)`` (0 without a price), delta ``qty``.
        """
        chain = surface.chain
        self._check_underlying(chain)
        spot = float(chain.spot)
        opts = self.option_legs
        n = len(opts)
        names = ("price", "delta", "gamma", "vega", "theta", "rho")
        k = np.array([leg.strike for leg in opts], dtype=np.float64)
        t = np.array([_years(leg.expiry, chain) for leg in opts], dtype=np.float64)
        qty = np.array([leg.qty for leg in opts], dtype=np.float64)
        if n:
            b = self._batch(surface, 0.0, per_leg=True)
            res = {g: np.array(b[f"leg_{g}"][0, :n]) for g in names}
            vol = np.asarray(b["leg_vol"][0, :n])
            fwd = np.asarray(b["leg_forward"][0, :n])
            df = np.asarray(b["leg_discount"][0, :n])
        else:
            res = {g: np.zeros(0) for g in names}
            vol = fwd = df = np.zeros(0)
        american = np.array([leg.exercise == "american" for leg in opts], dtype=bool)
        if american.any():
            sign = np.array([_SIGN[leg.kind] for leg in opts], dtype=np.float64)
            rows = american
            out = american_black76(
                sign[rows], fwd[rows], k[rows], t[rows], vol[rows], df[rows], names
            )
            ratio = fwd[rows] / spot
            for g in names:
                v = out[g]
                v = v * ratio if g == "delta" else v * ratio**2 if g == "gamma" else v
                res[g][rows] = v
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

    def quote(self, chain: Any) -> PackageQuote:
        """Net premium from a chain's quotes: mid, natural (buy at the ask, sell at the bid)
        and the cost of crossing the spread. Every option leg must be listed in the chain (same
        kind, strike and expiry), with a bid and an ask; else an InputError names the leg.
        Underlying legs are marked at ``chain.spot`` (``qty * (spot - price)``, 0 without a
        price) and cost no spread. ``chain`` may also be a one-snapshot pandas / polars frame or
        pyarrow table (read with :meth:`Chain.from_frame`)."""
        from .chain import as_chain

        chain = as_chain(chain)
        self._check_underlying(chain)
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
            if self._slope_beyond_strikes() < 0:
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

"""One valuation of a request's legs against a surface, shared by every dealer quoting it.

:func:`leg_marks` is the only numerical step: the surface's forwards, discount factors, vols and
Black-76 prices and greeks of all option legs in one call of the batch package kernel
(``strikegrid._core.package_value``, the leg valuation ``Package.value``, ``value_packages`` and
the screener share), American legs through the American engine. Everything after it is scalar
arithmetic on the few legs of a package.

No-arbitrage bounds (per unit, option legs at their own prices, underlying legs at the spot):

* Single-expiry European option legs: the payoff ``f(S_T)`` is piecewise linear with kinks at
  the strikes. Over every distribution of ``S_T >= 0`` with mean the forward ``F``, the
  discounted expectation ranges between ``DF * conv f(F)`` and ``DF * conc f(F)``, the lower
  convex and upper concave envelopes of ``f`` at ``F`` (model-free: only the forward is used).
  They are found exactly from two-point distributions on the kinks, plus the limit where a
  vanishing mass escapes to infinity along the last slope. A vertical lands inside
  ``[0, DF * width]``, a condor inside its wings, a single call inside ``[DF (F-K)+, DF F]``.
* Otherwise (several expiries, American legs): the sum of per-leg bounds, long legs at their
  lower and short legs at their upper bound (European: ``[DF (±(F-K))+, DF F]`` for a call,
  ``DF K`` above for a put; American: at least intrinsic on the spot, at most the spot for a
  call and the strike for a put).

Underlying legs count at the spot inside a package with options (the dealer's charge goes to the
option legs); a package of underlying legs alone is bounded only by non-negative share prices.

The bounds assume non-negative rates: a fitted discount factor above 1 (parity-fit noise; the
sample chain has a few slices at 1.002-1.004) counts as 1, so a vertical stays within its width.
The surface's value can then exceed a bound by that noise; the dealers' fair value is held
inside the bounds.
"""

from __future__ import annotations

import math
import weakref
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import _core
from ..exceptions import InputError
from ..package import Package, american_black76

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_WHICH = ["price", "delta", "gamma", "vega"]
#: A leg may expire this many years (about 30 s) past the last fitted expiry.
_T_TOL = 1e-6

# Resolving a date-like expiry through Chain.year_fraction costs ~25 µs; a chain is immutable,
# so each expiry is resolved once per chain.
_YEARS: weakref.WeakKeyDictionary[Any, dict[Any, float]] = weakref.WeakKeyDictionary()


def years(chain: Any, expiry: Any) -> float:
    """Year fraction of ``expiry`` from ``chain``'s quote time (floats as they are)."""
    if isinstance(expiry, float):
        return expiry
    try:
        cache = _YEARS.get(chain)
        if cache is None:
            cache = _YEARS[chain] = {}
        t = cache.get(expiry)
        if t is None:
            t = cache[expiry] = float(chain.year_fraction(expiry))
        return t
    except TypeError:  # unhashable expiry
        return float(chain.year_fraction(expiry))


class LegTable:
    """The static arrays of a package's legs (built once per request)."""

    __slots__ = (
        "american",
        "any_american",
        "expiries",
        "is_call",
        "is_option",
        "kinks",
        "multiplier",
        "n_contracts",
        "n_shares",
        "opt_rows",
        "qty",
        "qty_opt",
        "single_expiry",
        "static",
        "stock_qty",
        "strike",
    )

    def __init__(self, package: Package) -> None:
        legs = package.legs
        self.multiplier = float(package.multiplier)
        self.qty = tuple(float(leg.qty) for leg in legs)
        self.is_option = tuple(leg.is_option for leg in legs)
        opts = [leg for leg in legs if leg.is_option]
        self.opt_rows = tuple(i for i, leg in enumerate(legs) if leg.is_option)
        self.strike: FloatArray = np.array([leg.strike for leg in opts], dtype=np.float64)
        self.is_call: BoolArray = np.array([leg.kind == "call" for leg in opts], dtype=bool)
        self.qty_opt: FloatArray = np.array([leg.qty for leg in opts], dtype=np.float64)
        self.american: BoolArray = np.array(
            [leg.exercise == "american" for leg in opts], dtype=bool
        )
        self.any_american = bool(self.american.any())
        self.expiries = tuple(leg.expiry for leg in opts)
        self.single_expiry = package.single_expiry
        self.n_contracts = float(sum(abs(leg.qty) for leg in opts))
        self.n_shares = float(sum(abs(leg.qty) for leg in legs if not leg.is_option))
        self.stock_qty = float(sum(leg.qty for leg in legs if not leg.is_option))
        # (row, strike, is_call, american) of each option leg, for the per-leg loop
        self.static = tuple(
            zip(self.opt_rows, self.strike.tolist(), self.is_call.tolist(), self.american.tolist())
        )
        self.kinks = payoff_kinks(
            self.strike.tolist(), self.is_call.tolist(), self.qty_opt.tolist()
        )


class Marks:
    """Per-unit marks of one request's legs against one surface (see the module docstring).

    Per leg, in package order: ``price`` (option premium, or the spot for an underlying leg),
    ``leg_delta`` (per unit of spot), ``leg_gamma`` (spot), ``leg_vega`` (per 1.00 of vol),
    ``vol``, ``t`` (0 for underlying legs), ``lo``/``hi`` (the leg's own no-arbitrage bounds).
    Package aggregates are per unit: ``model = sum(qty * price)``, ``fair`` (``model`` held
    inside ``[lower, upper]``, the package bounds), net ``delta``, ``gamma``, ``vega``, gross
    ``vega_gross`` and ``gamma_var = sum(qty * gamma * vol^2)``.
    """

    __slots__ = (
        "delta",
        "fair",
        "gamma",
        "gamma_var",
        "hi",
        "leg_delta",
        "leg_gamma",
        "leg_vega",
        "lo",
        "lower",
        "model",
        "multiplier",
        "n_contracts",
        "n_shares",
        "price",
        "qty",
        "share",
        "spot",
        "t",
        "t_min",
        "upper",
        "vega",
        "vega_gross",
        "vol",
        "weight",
    )

    spot: float
    multiplier: float
    qty: tuple[float, ...]
    price: list[float]
    leg_delta: list[float]
    leg_gamma: list[float]
    leg_vega: list[float]
    vol: list[float]
    t: list[float]
    lo: list[float]
    hi: list[float]
    weight: list[float]
    share: list[float]
    t_min: float
    model: float
    fair: float
    delta: float
    gamma: float
    vega: float
    vega_gross: float
    gamma_var: float
    lower: float
    upper: float
    n_contracts: float
    n_shares: float


LegValues = tuple[
    list[float], list[float], list[float], list[float], list[float], list[float], list[float]
]


def leg_marks(
    surface: Any, t: FloatArray, strike: FloatArray, is_call: BoolArray, american: BoolArray
) -> LegValues:
    """Forward, discount factor, vol and Black-76 price, delta, gamma and vega (delta and gamma
    with respect to the forward) of option legs; American legs through the American engine.

    The one numerical step of a quote: a batch kernel can replace it as it is.
    """
    # European legs: the package kernel's leg valuation (the same as Package.value,
    # value_packages and the screener).
    spot, ts, log_f, log_df, params = surface.kernel_market()
    kind = [1.0 if c else -1.0 for c in is_call.tolist()]
    vals = _core.leg_values(spot, ts, log_f, log_df, params, kind, strike.tolist(), t.tolist())
    vol, price, delta, gamma, vega, _theta, _rho, fwd, df = vals
    # The kernel's delta and gamma are with respect to the spot; these marks use the forward.
    to_fwd = spot / fwd
    delta = delta * to_fwd
    gamma = gamma * to_fwd * to_fwd
    if american.any():
        price, delta, gamma, vega = (x.copy() for x in (price, delta, gamma, vega))
        rows = american
        sign = np.where(is_call[rows], 1.0, -1.0)
        part = american_black76(sign, fwd[rows], strike[rows], t[rows], vol[rows], df[rows], _WHICH)
        for dst, name in zip((price, delta, gamma, vega), _WHICH):
            dst[rows] = part[name]
    return (
        fwd.tolist(),
        df.tolist(),
        vol.tolist(),
        price.tolist(),
        delta.tolist(),
        gamma.tolist(),
        vega.tolist(),
    )


def marks(surface: Any, table: LegTable) -> Marks:
    """Value a request's legs once: the marks every dealer on ``surface`` quotes from.

    Raises InputError for legs off the surface (expired, or expiring after its last fitted
    expiry) and for coin-settled chains (their premiums are in coins; not supported here).
    """
    chain = surface.chain
    if chain.is_inverse:
        raise InputError(
            "surface: RFQ quoting needs a cash-priced chain (coin-settled premiums are not "
            "supported)",
            arg="surface",
        )
    spot = float(chain.spot)
    qty = table.qty
    n_all = len(qty)
    price = [spot] * n_all
    ldelta = [1.0] * n_all
    lgamma = [0.0] * n_all
    lvega = [0.0] * n_all
    lvol = [0.0] * n_all
    lt = [0.0] * n_all
    lo = [0.0] * n_all
    hi = [math.inf] * n_all
    weight = [0.0] * n_all
    rows = table.opt_rows
    delta = gamma = vega = vega_gross = gamma_var = 0.0
    lower = upper = 0.0  # sums of per-leg bounds
    stock = table.stock_qty * spot
    delta = table.stock_qty
    t_min = math.inf
    if rows:
        t_list = [years(chain, e) for e in table.expiries]
        _check_on_surface(surface, t_list, table)
        t = np.array(t_list, dtype=np.float64)
        fl, dl, vl, pl, dlt, gml, vgl = leg_marks(
            surface, t, table.strike, table.is_call, table.american
        )
        t_min = min(t_list)
        for (i, k, call, am), f, d, v, p, dl_, gm, vg, tt in zip(
            table.static, fl, dl, vl, pl, dlt, gml, vgl, t_list
        ):
            q = qty[i]
            ratio = f / spot
            # Black-76 delta and gamma are per unit of forward; dF/dS = F/S.
            dl_ *= ratio
            gm *= ratio * ratio
            price[i], ldelta[i], lgamma[i], lvega[i], lvol[i], lt[i] = p, dl_, gm, vg, v, tt
            delta += q * dl_
            gamma += q * gm
            vega += q * vg
            vega_gross += abs(q * vg)
            gamma_var += q * gm * v * v
            weight[i] = abs(q) * vg
            # Bounds take a discount factor above 1 (parity-fit noise; the sample chain has a
            # few) as 1: they assume non-negative rates.
            d = min(d, 1.0)
            lo_i = d * max((f - k) if call else (k - f), 0.0)
            hi_i = d * (f if call else k)
            if am:
                lo_i = max(lo_i, (spot - k) if call else (k - spot), 0.0)
                hi_i = spot if call else k
            lo[i], hi[i] = lo_i, hi_i
            lower += q * (lo_i if q > 0 else hi_i)
            upper += q * (hi_i if q > 0 else lo_i)
        if table.single_expiry and not table.any_american:
            env_lo, env_hi = envelope_bounds(table.kinks, fl[0])
            d0 = min(dl[0], 1.0)
            lower, upper = d0 * env_lo, d0 * env_hi
        if not any(w > 0.0 for w in weight):  # vega-less legs (deep in or out of the money)
            for i in rows:
                weight[i] = abs(qty[i])
    else:
        # Only underlying legs: no option bounds; each share price only has to stay >= 0, and
        # the edge goes to the shares.
        weight = [abs(q) for q in qty]
        lower = sum(-math.inf for q in qty if q < 0) - stock
        upper = sum(math.inf for q in qty if q > 0) - stock
    m = Marks()
    m.spot, m.multiplier, m.qty = spot, table.multiplier, qty
    m.price, m.leg_delta, m.leg_gamma, m.leg_vega = price, ldelta, lgamma, lvega
    m.vol, m.t, m.lo, m.hi, m.weight = lvol, lt, lo, hi, weight
    m.model = model = sum([q * p for q, p in zip(qty, price)])
    m.delta, m.gamma, m.vega = delta, gamma, vega
    m.vega_gross, m.gamma_var = vega_gross, gamma_var
    m.lower, m.upper = lower + stock, upper + stock
    # The surface's value can only leave the bounds through a discount factor above 1 (or
    # round-off); the dealers' fair value stays inside them.
    m.fair = min(max(model, m.lower), m.upper)
    m.n_contracts, m.n_shares = table.n_contracts, table.n_shares
    total_w = sum(weight)
    m.share = [w / (total_w * q) for w, q in zip(weight, qty)]
    m.t_min = t_min
    return m


def _check_on_surface(surface: Any, t_list: list[float], table: LegTable) -> None:
    last = surface.slices[-1].t
    for j, tj in enumerate(t_list):
        i = table.opt_rows[j]
        if not tj > 0.0:
            raise InputError(
                f"legs: leg {i} has expired (expiry {table.expiries[j]!r}, t={tj:.6g})",
                arg="legs",
                index=i,
            )
        if tj > last + _T_TOL:
            raise InputError(
                f"legs: leg {i} expires after the surface's last expiry "
                f"(t={tj:.6g} > {last:.6g} years): not on the surface",
                arg="legs",
                index=i,
            )


def payoff_kinks(
    strikes: list[float], is_call: list[bool], qty: list[float]
) -> tuple[tuple[float, ...], tuple[float, ...], float]:
    """The option legs' expiry payoff per unit as kinks: points ``0`` and the strikes
    (sorted), the payoff there, and the slope beyond the last strike."""
    # Left of every strike the slope is -(put quantity); each strike adds its quantity.
    slope = -sum(q for c, q in zip(is_call, qty) if not c)
    y = sum(q * k for k, c, q in zip(strikes, is_call, qty) if not c)
    xs, ys = [0.0], [y]
    x = 0.0
    for k, q in sorted(zip(strikes, qty)):
        if k > x:
            y += slope * (k - x)
            x = k
            xs.append(x)
            ys.append(y)
        slope += q
    return tuple(xs), tuple(ys), slope


def envelope_bounds(
    kinks: tuple[tuple[float, ...], tuple[float, ...], float], forward: float
) -> tuple[float, float]:
    """Undiscounted model-free range of ``E[f(S_T)]`` over distributions of ``S_T >= 0`` with
    mean ``forward``, for the piecewise-linear payoff given by :func:`payoff_kinks` (see the
    module docstring): the extremes over two-point distributions on the kinks, and over a
    point mass whose partner escapes to infinity along the last slope."""
    xs, ys, slope = kinks
    above = [(x, y) for x, y in zip(xs, ys) if x >= forward]
    lo, hi = math.inf, -math.inf
    for xa, ya in zip(xs, ys):
        if xa > forward:
            break
        c = ya + (forward - xa) * slope
        if c < lo:
            lo = c
        if c > hi:
            hi = c
        for xb, yb in above:
            c = ya + (forward - xa) * (yb - ya) / (xb - xa) if xb > xa else ya
            if c < lo:
                lo = c
            if c > hi:
                hi = c
    return lo, hi


def allocate(package_price: float, m: Marks) -> tuple[float, ...]:
    """Per-leg prices that sum (``sum(qty * price)``) to ``package_price``.

    The edge over fair value is shared in proportion to each leg's weight (``|qty| * vega``),
    so the legs carrying the risk carry the charge; underlying legs stay at the spot unless the
    package has no option leg. A leg that would leave its own no-arbitrage range is held at the
    bound and the rest of the edge is shared among the others, by weight and then by quantity
    (the package bounds leave room for it).
    """
    edge = package_price - m.model
    # Common case first: the weighted shares fit inside every leg's bounds.
    moved = [p + edge * a for p, a in zip(m.price, m.share)]
    if all(lo <= x <= hi for lo, x, hi in zip(m.lo, moved, m.hi)):
        return tuple(moved)
    prices = list(m.price)
    qty, lo, hi = m.qty, m.lo, m.hi
    options = [i for i in range(len(qty)) if m.t[i] > 0.0]
    free = options or list(range(len(qty)))
    for weights in (m.weight, [abs(q) for q in qty]):
        active = [i for i in free if weights[i] > 0.0]
        while active and edge != 0.0:
            total = sum(weights[i] for i in active)
            step = {i: prices[i] + edge * weights[i] / (total * qty[i]) for i in active}
            out = [i for i in active if not lo[i] <= step[i] <= hi[i]]
            if not out:
                for i in active:
                    prices[i] = step[i]
                edge = 0.0
                break
            for i in out:
                bound = lo[i] if step[i] < lo[i] else hi[i]
                edge -= qty[i] * (bound - prices[i])
                prices[i] = bound
            active = [i for i in active if i not in out]
            free = [i for i in free if i not in out]
        if edge == 0.0:
            break
    if edge != 0.0:  # only float round-off can be left: the heaviest leg takes it
        i = max(range(len(qty)), key=lambda j: (m.weight[j], abs(qty[j]), -j))
        prices[i] += edge / qty[i]
    return tuple(prices)

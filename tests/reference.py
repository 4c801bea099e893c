"""Independent high-precision reference for European prices and greeks.

Written from the closed forms with mpmath at 50 significant digits; it shares no code with
strikegrid and is used only by the tests.  Every greek is a *raw* partial derivative, exactly as
DESIGN.md specifies:

    delta = dV/dS           gamma = d2V/dS2        vega  = dV/dsigma      theta = -dV/dT
    rho   = dV/dr           epsilon = dV/dq        vanna = d2V/dS dsigma  volga = d2V/dsigma2
    charm = -d2V/dS dT      dual_delta = dV/dK     dual_gamma = d2V/dK2

where S is the spot (``bsm``) or the forward / futures price (``black76``, ``bachelier``,
``inverse``).  For ``inverse`` (coin-settled option, premium in coin) V is the Black-76 value
divided by F and the greeks are partials of that coin premium; the extra ``delta_pa`` is the
premium-adjusted coin delta F * dV/dF that crypto venues display.

``self_check`` compares every analytic greek with mpmath's numerical differentiation of the
reference price; ``tests/test_reference.py`` runs it.
"""

from __future__ import annotations

from collections.abc import Callable

import mpmath
from mpmath import mp

DPS = 50

GREEK_NAMES: tuple[str, ...] = (
    "price",
    "delta",
    "gamma",
    "vega",
    "theta",
    "rho",
    "epsilon",
    "vanna",
    "volga",
    "charm",
    "dual_delta",
    "dual_gamma",
)
MODELS: tuple[str, ...] = ("bsm", "black76", "bachelier", "inverse")
INPUT_NAMES: tuple[str, ...] = ("spot", "strike", "expiry", "vol", "rate", "div")

Greeks = dict[str, mpmath.mpf]


def phi_of(kind: object) -> int:
    """+1 for a call, -1 for a put (accepts the same spellings strikegrid does)."""
    if isinstance(kind, bool):
        return 1 if kind else -1
    if isinstance(kind, str):
        k = kind.strip().lower()
        if k in ("call", "c"):
            return 1
        if k in ("put", "p"):
            return -1
        raise ValueError(f"unknown kind {kind!r}")
    if kind in (1, -1):
        return int(kind)  # type: ignore[call-overload]
    raise ValueError(f"unknown kind {kind!r}")


def _mpf(x: object) -> mpmath.mpf:
    # mpf(float) is exact, so the reference sees precisely the binary64 inputs strikegrid sees.
    return x if isinstance(x, mpmath.mpf) else mp.mpf(float(x))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- normal law


def norm_cdf(x: float) -> mpmath.mpf:
    with mp.workdps(DPS):
        return mp.ncdf(_mpf(x))


def norm_pdf(x: float) -> mpmath.mpf:
    with mp.workdps(DPS):
        return mp.npdf(_mpf(x))


# --------------------------------------------------------------------------- models
# All helpers below expect to run inside ``mp.workdps(DPS)`` with mpf arguments.


def _bsm(
    phi: int,
    s: mpmath.mpf,
    k: mpmath.mpf,
    t: mpmath.mpf,
    v: mpmath.mpf,
    r: mpmath.mpf,
    q: mpmath.mpf,
) -> Greeks:
    sq = mp.sqrt(t)
    sd = v * sq
    dq = mp.exp(-q * t)
    dr = mp.exp(-r * t)
    b = r - q
    d1 = (mp.log(s / k) + (b + v * v / 2) * t) / sd
    d2 = d1 - sd
    cn1 = mp.ncdf(phi * d1)
    cn2 = mp.ncdf(phi * d2)
    n1 = mp.npdf(d1)
    n2 = mp.npdf(d2)
    vega = s * dq * n1 * sq
    return {
        "price": phi * (s * dq * cn1 - k * dr * cn2),
        "delta": phi * dq * cn1,
        "gamma": dq * n1 / (s * sd),
        "vega": vega,
        "theta": -s * dq * n1 * v / (2 * sq) + phi * q * s * dq * cn1 - phi * r * k * dr * cn2,
        "rho": phi * k * t * dr * cn2,
        "epsilon": -phi * s * t * dq * cn1,
        "vanna": -dq * n1 * d2 / v,
        "volga": vega * d1 * d2 / v,
        # dd1/dT = (2 b T - d2 sigma sqrt(T)) / (2 T sigma sqrt(T))
        "charm": phi * q * dq * cn1 - dq * n1 * (2 * b * t - d2 * sd) / (2 * t * sd),
        "dual_delta": -phi * dr * cn2,
        "dual_gamma": dr * n2 / (k * sd),
    }


def _black76(
    phi: int, f: mpmath.mpf, k: mpmath.mpf, t: mpmath.mpf, v: mpmath.mpf, r: mpmath.mpf
) -> Greeks:
    sq = mp.sqrt(t)
    sd = v * sq
    dr = mp.exp(-r * t)
    d1 = (mp.log(f / k) + v * v * t / 2) / sd
    d2 = d1 - sd
    cn1 = mp.ncdf(phi * d1)
    cn2 = mp.ncdf(phi * d2)
    n1 = mp.npdf(d1)
    n2 = mp.npdf(d2)
    value = phi * dr * (f * cn1 - k * cn2)
    delta = phi * dr * cn1
    vega = f * dr * n1 * sq
    return {
        "price": value,
        "delta": delta,
        "gamma": dr * n1 / (f * sd),
        "vega": vega,
        "theta": r * value - f * dr * n1 * v / (2 * sq),
        "rho": -t * value,
        "epsilon": mp.zero,
        "vanna": -dr * n1 * d2 / v,
        "volga": vega * d1 * d2 / v,
        "charm": r * delta + dr * n1 * d2 / (2 * t),
        "dual_delta": -phi * dr * cn2,
        "dual_gamma": dr * n2 / (k * sd),
    }


def _bachelier(
    phi: int, f: mpmath.mpf, k: mpmath.mpf, t: mpmath.mpf, v: mpmath.mpf, r: mpmath.mpf
) -> Greeks:
    sq = mp.sqrt(t)
    sd = v * sq
    dr = mp.exp(-r * t)
    d = (f - k) / sd
    cn = mp.ncdf(phi * d)
    n = mp.npdf(d)
    value = dr * (phi * (f - k) * cn + sd * n)
    delta = phi * dr * cn
    return {
        "price": value,
        "delta": delta,
        "gamma": dr * n / sd,
        "vega": dr * sq * n,
        "theta": r * value - dr * n * v / (2 * sq),
        "rho": -t * value,
        "epsilon": mp.zero,
        "vanna": -dr * n * d / v,
        "volga": dr * sq * n * d * d / v,
        "charm": r * delta + dr * n * d / (2 * t),
        "dual_delta": -phi * dr * cn,
        "dual_gamma": dr * n / sd,
    }


def _inverse(
    phi: int, f: mpmath.mpf, k: mpmath.mpf, t: mpmath.mpf, v: mpmath.mpf, r: mpmath.mpf
) -> Greeks:
    # U(F, ...) = B(F, ...) / F with B the Black-76 value; quotient rule for the F-derivatives.
    b = _black76(phi, f, k, t, v, r)
    f2 = f * f
    f3 = f2 * f
    delta = b["delta"] / f - b["price"] / f2
    return {
        "price": b["price"] / f,
        "delta": delta,
        "gamma": b["gamma"] / f - 2 * b["delta"] / f2 + 2 * b["price"] / f3,
        "vega": b["vega"] / f,
        "theta": b["theta"] / f,
        "rho": b["rho"] / f,
        "epsilon": mp.zero,
        "vanna": b["vanna"] / f - b["vega"] / f2,
        "volga": b["volga"] / f,
        "charm": b["charm"] / f - b["theta"] / f2,
        "dual_delta": b["dual_delta"] / f,
        "dual_gamma": b["dual_gamma"] / f,
        "delta_pa": f * delta,
    }


def _greeks_mp(
    model: str,
    phi: int,
    s: mpmath.mpf,
    k: mpmath.mpf,
    t: mpmath.mpf,
    v: mpmath.mpf,
    r: mpmath.mpf,
    q: mpmath.mpf,
) -> Greeks:
    if not (t > 0 and v > 0):
        raise ValueError("the reference needs expiry > 0 and vol > 0")
    if model == "bsm":
        if not (s > 0 and k > 0):
            raise ValueError("bsm needs spot > 0 and strike > 0")
        return _bsm(phi, s, k, t, v, r, q)
    if q != 0:
        raise ValueError(f"{model} needs div == 0")
    if model == "bachelier":
        return _bachelier(phi, s, k, t, v, r)
    if not (s > 0 and k > 0):
        raise ValueError(f"{model} needs spot > 0 and strike > 0")
    if model == "black76":
        return _black76(phi, s, k, t, v, r)
    if model == "inverse":
        return _inverse(phi, s, k, t, v, r)
    raise ValueError(f"unknown model {model!r}")


# --------------------------------------------------------------------------- public helpers


def greeks(
    kind: object,
    spot: float,
    strike: float,
    expiry: float,
    vol: float,
    rate: float = 0.0,
    div: float = 0.0,
    *,
    model: str = "bsm",
) -> Greeks:
    """All greeks (plus ``delta_pa`` for ``inverse``) as 50-digit mpf values."""
    with mp.workdps(DPS):
        args = [_mpf(x) for x in (spot, strike, expiry, vol, rate, div)]
        return _greeks_mp(model, phi_of(kind), *args)


def price(
    kind: object,
    spot: float,
    strike: float,
    expiry: float,
    vol: float,
    rate: float = 0.0,
    div: float = 0.0,
    *,
    model: str = "bsm",
) -> mpmath.mpf:
    return greeks(kind, spot, strike, expiry, vol, rate, div, model=model)["price"]


def greeks_float(
    kind: object,
    spot: float,
    strike: float,
    expiry: float,
    vol: float,
    rate: float = 0.0,
    div: float = 0.0,
    *,
    model: str = "bsm",
) -> dict[str, float]:
    g = greeks(kind, spot, strike, expiry, vol, rate, div, model=model)
    return {name: float(val) for name, val in g.items()}


def condition(
    kind: object,
    spot: float,
    strike: float,
    expiry: float,
    vol: float,
    rate: float = 0.0,
    div: float = 0.0,
    *,
    model: str = "bsm",
) -> dict[str, mpmath.mpf]:
    """First-order sensitivity of every greek to relative input perturbations.

    ``condition(...)[g] = sum_i |x_i * dg/dx_i|`` over the six inputs x_i.  A backward-stable
    float64 algorithm (one that returns the exact greek of inputs each perturbed by a few ulps)
    has an absolute error of a few ``eps * condition``; the tests allow a small multiple of it on
    top of their relative tolerance.  Derivatives are one-sided differences at a relative step of
    1e-20, accurate to ~25 digits at the working precision, far more than a tolerance needs.
    """
    with mp.workdps(DPS):
        phi = phi_of(kind)
        base = [_mpf(x) for x in (spot, strike, expiry, vol, rate, div)]
        g0 = _greeks_mp(model, phi, *base)
        total = {name: mp.zero for name in g0}
        h = mp.mpf("1e-20")
        for i, xi in enumerate(base):
            if xi == 0 or (i == 5 and model != "bsm"):
                continue
            bumped = list(base)
            bumped[i] = xi * (1 + h)
            g1 = _greeks_mp(model, phi, *bumped)
            for name in g0:
                total[name] += abs((g1[name] - g0[name]) / h)
        return total


# --------------------------------------------------------------------------- self check


def _partial(
    fn: Callable[..., mpmath.mpf], base: list[mpmath.mpf], orders: dict[int, int]
) -> mpmath.mpf:
    """Numerical partial derivative of fn(*base) with mpmath.diff (orders: index -> order)."""
    idx = sorted(orders)

    def sub(*xs: mpmath.mpf) -> mpmath.mpf:
        args = list(base)
        for j, x in zip(idx, xs):
            args[j] = x
        return fn(*args)

    return mp.diff(sub, tuple(base[j] for j in idx), tuple(orders[j] for j in idx))


# greek name -> (sign, {input index: derivative order}); indices follow INPUT_NAMES.
DERIVATIVES: dict[str, tuple[int, dict[int, int]]] = {
    "delta": (1, {0: 1}),
    "gamma": (1, {0: 2}),
    "vega": (1, {3: 1}),
    "theta": (-1, {2: 1}),
    "rho": (1, {4: 1}),
    "epsilon": (1, {5: 1}),
    "vanna": (1, {0: 1, 3: 1}),
    "volga": (1, {3: 2}),
    "charm": (-1, {0: 1, 2: 1}),
    "dual_delta": (1, {1: 1}),
    "dual_gamma": (1, {1: 2}),
}


def self_check(
    kind: object,
    spot: float,
    strike: float,
    expiry: float,
    vol: float,
    rate: float = 0.0,
    div: float = 0.0,
    *,
    model: str = "bsm",
) -> dict[str, tuple[mpmath.mpf, mpmath.mpf]]:
    """Analytic greek vs mpmath.diff of the reference price, for every greek.

    Returns name -> (analytic, numerical).  ``delta_pa`` (inverse only) is checked as
    F * dV/dF.  ``epsilon`` of the forward models is dV/d(div) of a price that ignores div,
    i.e. it is checked to be exactly 0 by construction.
    """
    phi = phi_of(kind)
    with mp.workdps(DPS):
        base = [_mpf(x) for x in (spot, strike, expiry, vol, rate, div)]
        analytic = _greeks_mp(model, phi, *base)

        def value(
            s: mpmath.mpf, k: mpmath.mpf, t: mpmath.mpf, v: mpmath.mpf, r: mpmath.mpf, q: mpmath.mpf
        ) -> mpmath.mpf:
            if model != "bsm":
                q = mp.zero  # the forward models take no dividend yield
            return _greeks_mp(model, phi, s, k, t, v, r, q)["price"]

        out: dict[str, tuple[mpmath.mpf, mpmath.mpf]] = {}
        for name, (sign, orders) in DERIVATIVES.items():
            out[name] = (analytic[name], sign * _partial(value, base, orders))
        if "delta_pa" in analytic:
            out["delta_pa"] = (analytic["delta_pa"], base[0] * _partial(value, base, {0: 1}))
        return out

"""Forwards and discount factors implied by put–call parity, per expiry.

For European options ``C - P = DF (F - K)`` at every strike of one expiry, so the call-minus-put
mids of the pairs near the money lie on a line in K whose slope is ``-DF`` and whose intercept is
``DF F``. Fitting that line (rather than taking a given rate and dividend yield) captures
dividends, borrow and the funding rate the market actually prices. Coin-settled (inverse)
chains quote in coin, where parity reads ``C - P = DF_c (1 - K/F)``: the slope is ``-DF_c/F`` and
the intercept ``DF_c``.

The fit is weighted least squares with weights ``1/spread²`` (a pair's parity is only known to
within the sum of its two spreads), made robust by iteratively reweighted Huber weights, on the
pairs nearest the money (their parity is least affected by early exercise, stale far quotes and
tick sizes). With fewer than three usable pairs the given ``rate`` fixes the discount factor and
the forward comes from the pair nearest the money.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["ParityFit", "fit_parity"]

FloatArray = npt.NDArray[np.float64]

#: Pairs nearest the money used by the fit.
NEAR_PAIRS = 12
#: Huber threshold in units of a pair's half-spread-sum.
HUBER = 1.5
#: A fitted discount factor is kept when its rate is within this of the given rate.
RATE_BAND = 0.05


@dataclass(frozen=True)
class ParityFit:
    """The forward and discount factor of one expiry and how they were found."""

    forward: float
    discount: float
    pairs: int
    #: "parity" (forward and discount fitted), "rate" (discount from the given rate, forward
    #: fitted), or "none" (no pairs: the reference price).
    method: str
    #: Largest |parity residual| / (call spread + put spread) over the pairs used.
    worst_residual_in_spreads: float


def _pairs(
    strike: FloatArray,
    kind: FloatArray,
    bid: FloatArray,
    ask: FloatArray,
    usable: npt.NDArray[np.bool_],
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Strikes with a usable call and put: (K, call mid - put mid, call spread + put spread)."""
    calls = usable & (kind > 0)
    puts = usable & (kind < 0)
    kc, kp = strike[calls], strike[puts]
    common, ic, ip = np.intersect1d(kc, kp, return_indices=True)
    mid_c = 0.5 * (bid[calls] + ask[calls])[ic]
    mid_p = 0.5 * (bid[puts] + ask[puts])[ip]
    spread = (ask[calls] - bid[calls])[ic] + (ask[puts] - bid[puts])[ip]
    return common.astype(np.float64), mid_c - mid_p, spread


def fit_parity(
    strike: FloatArray,
    kind: FloatArray,
    bid: FloatArray,
    ask: FloatArray,
    usable: npt.NDArray[np.bool_],
    t: float,
    *,
    inverse: bool = False,
    rate: float = 0.0,
    reference: float | None = None,
) -> ParityFit:
    """Forward and discount factor of one expiry's quotes (arrays of that expiry only).

    Args:
        strike, kind, bid, ask: the expiry's quotes (kind +1 call / -1 put).
        usable: which quotes may enter (both sides present, not crossed, ...).
        t: years to settlement.
        inverse: premiums in coin (Deribit style).
        rate: fallback continuously compounded rate (coin rate for inverse chains).
        reference: a rough forward (e.g. the spot or the venue's underlying price) to pick the
            pairs near the money before the first fit.
    """
    k, diff, spread = _pairs(strike, kind, bid, ask, usable)
    df_rate = float(np.exp(-rate * t))
    if k.size == 0:
        f = float(reference) if reference is not None else float("nan")
        return ParityFit(f, df_rate, 0, "none", float("nan"))
    # Near the money: where the call and put mids cross.
    center = float(reference) if reference is not None else float(k[np.argmin(np.abs(diff))])
    order = np.argsort(np.abs(np.log(k / center)))
    near = order[: min(NEAR_PAIRS, k.size)]
    ks, ys, ss = k[near], diff[near], np.maximum(spread[near], 1e-12)
    if ks.size < 3 or np.ptp(ks) <= 0:
        j = int(np.argmin(np.abs(ys)))
        if inverse:
            # C - P = DF (1 - K/F)  =>  F = K / (1 - (C - P)/DF)
            f = float(ks[j] / (1.0 - ys[j] / df_rate))
        else:
            f = float(ks[j] + ys[j] / df_rate)
        return ParityFit(f, df_rate, int(ks.size), "rate", float("nan"))
    # Centred at the pair nearest the money, where the level is well determined; the slope
    # (the discount factor) needs strikes spread far apart relative to the spreads, which
    # short expiries rarely have.
    k0 = float(ks[0])

    def irls(design: FloatArray) -> FloatArray:
        w: FloatArray = np.asarray(1.0 / ss**2, dtype=np.float64)
        coef: FloatArray = np.zeros(design.shape[1])
        for _ in range(20):
            # Weighted normal equations (1 or 2 unknowns) solved in closed form, so no BLAS
            # thread pool is woken (its spinning threads would compete with the kernels' own).
            s0 = float(np.sum(w))
            y0 = float(np.sum(w * ys))
            if design.shape[1] == 1:
                x = design[:, 0]
                new = np.array([float(np.sum(w * x * ys)) / float(np.sum(w * x * x))])
            else:
                x = design[:, 1]
                s1, s2 = float(np.sum(w * x)), float(np.sum(w * x * x))
                y1 = float(np.sum(w * x * ys))
                det = s0 * s2 - s1 * s1
                new = np.array([(s2 * y0 - s1 * y1) / det, (s0 * y1 - s1 * y0) / det])
            fitted = design[:, 0] * new[0] + (design[:, 1] * new[1] if new.size > 1 else 0.0)
            resid = (ys - fitted) / (0.5 * ss)
            huber = np.where(np.abs(resid) <= HUBER, 1.0, HUBER / np.maximum(np.abs(resid), 1e-300))
            w = np.asarray(huber / ss**2, dtype=np.float64)
            done = np.allclose(new, coef, rtol=1e-12, atol=1e-14)
            coef = np.asarray(new, dtype=np.float64)
            if done:
                break
        return coef

    level, slope = irls(np.column_stack([np.ones_like(ks), ks - k0]))
    method = "parity"
    if inverse:
        # C - P = DF (1 - K/F): level = DF (1 - k0/F), slope = -DF/F.
        discount = float(level - slope * k0)
        forward = -discount / slope if slope < 0 else float("nan")
    else:
        # C - P = DF (F - K): level = DF (F - k0), slope = -DF.
        discount = -float(slope)
        forward = k0 + level / discount if discount > 0 else float("nan")
    implied_rate = -np.log(discount) / t if discount > 0 else float("inf")
    if not (np.isfinite(forward) and forward > 0 and abs(implied_rate - rate) <= RATE_BAND):
        # The slope is not determined well enough: keep the given rate's discount factor and
        # fit the level alone.
        discount = df_rate
        (level,) = irls(np.ones((ks.size, 1)) if not inverse else (1.0 - ks / ks[0])[:, None])
        if inverse:
            # C - P = DF (1 - K/F) with DF known: fit F directly from K/F = 1 - (C - P)/DF.
            ratio = 1.0 - ys / discount
            wts = 1.0 / ss**2
            forward = float(np.sum(wts * ks * ratio) / np.sum(wts * ratio * ratio))
        else:
            resid_level = ys + discount * (ks - k0)
            wts = 1.0 / ss**2
            level = float(np.sum(wts * resid_level) / np.sum(wts))
            forward = k0 + level / discount
        method = "rate"
    if inverse:
        fitted = discount * (1.0 - ks / forward)
    else:
        fitted = discount * (forward - ks)
    worst = float(np.max(np.abs(ys - fitted) / ss))
    return ParityFit(float(forward), float(discount), int(ks.size), method, worst)

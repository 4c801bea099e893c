"""Volatility surfaces fitted to option chains: ``sg.Surface``.

``Surface.fit(chain)`` goes from a raw snapshot to an arbitrage-checked surface:

1. Per expiry, the forward and discount factor from put–call parity on the usable pairs near the
   money (:mod:`strikegrid.forwards`), falling back to the given ``rate`` for the discount
   factor when the quotes cannot pin it down.
2. Implied vols of the bid, ask and mid of every quote, vectorised: Black-76 on the implied
   forward for European USD chains, the coin-settled model for inverse (Deribit) chains, and the
   American engine on the spot for American-style chains (de-Americanisation by the engine:
   the dividend yield is the one that makes the spot carry to the parity forward).
3. Per expiry, a raw SVI smile (Gatheral 2004) in total variance against log-moneyness
   ``k = ln(K/F)``, fitted to the out-of-the-money mid vols by the quasi-explicit method
   (Zeliade 2009) with weights 1/(vol spread)² (the quoted spread in vol terms, i.e. spread over
   vega), repaired where its density g(k) would go negative; or, with ``model="ssvi"``, one
   SSVI surface (Gatheral & Jacquier 2014) over all expiries, free of static arbitrage by
   construction.
4. Calendar: total variance must not decrease with expiry at any log-moneyness. The evaluated
   surface takes, at each log-moneyness, the running maximum of the slices' total variance over
   expiries, so it is calendar-monotone everywhere (a later smile that dips below an earlier
   one is floored there; the kink this makes only adds density, so it creates no butterfly
   arbitrage), and the report lists every slice that dipped within the quoted range.

Between expiries the total variance is interpolated linearly in time at constant
log-moneyness; before the first expiry it scales from 0 (w ∝ t), after the last it grows in
proportion to time (constant vol per log-moneyness). In strike each slice extends as SVI does:
linearly in total variance in the wings (Lee's moment bounds are respected by b(1 ± rho) <= 2,
which SVI fits with a non-negative density satisfy).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from . import _core
from .chain import as_chain
from .exceptions import InputError
from .forwards import ParityFit, fit_parity
from .implied import implied_vol
from .pricing import norm_cdf, norm_pdf

if TYPE_CHECKING:
    from .chain import Chain

__all__ = ["SliceFit", "Surface", "SurfaceReport", "quote_vols"]

FloatArray = npt.NDArray[np.float64]

#: Fewest out-of-the-money quotes an expiry needs to get its own smile.
MIN_QUOTES = 5
#: Floor of a quote's vol spread in the fit weights (0.1 vol point).
MIN_VOL_SPREAD = 1e-3
#: Out-of-the-money quotes with a smaller |delta| than this stay out of the smile fits.
MIN_DELTA = 0.02
#: Floor of a quote's vol spread in the fit weights, as a fraction of the slice's median.
SPREAD_FLOOR = 0.5
#: Tolerance of the calendar check in total variance.
CALENDAR_TOL = 1e-10


@dataclass(frozen=True)
class SliceFit:
    """One expiry's fit."""

    t: float
    expiry: np.datetime64 | None
    forward: float
    discount: float
    parity: ParityFit
    #: Raw SVI (a, b, rho, m, sigma) of the slice (for SSVI: the slice's own SVI form).
    params: tuple[float, float, float, float, float]
    quotes: int
    rmse_vol: float
    inside_share: float
    min_g: float
    repaired: bool
    #: Range of the quoted log-moneyness the slice was fitted to.
    k_range: tuple[float, float] = (0.0, 0.0)
    #: Largest dip of this slice's total variance below the previous slice's within their
    #: common quoted range (0: none); the surface uses the earlier slice's value there.
    calendar_dip: float = 0.0


@dataclass
class SurfaceReport:
    """What the fit did and how well it fits, per expiry."""

    model: str
    slices: list[SliceFit]
    skipped: list[tuple[float, str]] = field(default_factory=list)
    calendar_ok: bool = True
    butterfly_ok: bool = True

    def __str__(self) -> str:
        lines = [
            f"Surface ({self.model}): {len(self.slices)} expiries fitted, "
            f"{len(self.skipped)} skipped; butterfly {'ok' if self.butterfly_ok else 'VIOLATED'}, "
            f"calendar {'ok' if self.calendar_ok else 'VIOLATED'}",
            f"{'years':>8} {'forward':>12} {'discount':>9} {'fwd from':>8} {'quotes':>6} "
            f"{'rmse vp':>8} {'in b/a':>7} {'min g':>9} {'notes'}",
        ]
        for s in self.slices:
            notes = []
            if s.repaired:
                notes.append("butterfly repaired")
            if s.calendar_dip > 0:
                notes.append(f"dips {s.calendar_dip:.1e} below the previous expiry: floored")
            lines.append(
                f"{s.t:8.4f} {s.forward:12.4f} {s.discount:9.6f} {s.parity.method:>8} "
                f"{s.quotes:6d} {100 * s.rmse_vol:8.3f} {100 * s.inside_share:6.1f}% "
                f"{s.min_g:9.2e} {', '.join(notes)}"
            )
        for t, why in self.skipped:
            lines.append(f"{t:8.4f} skipped: {why}")
        return "\n".join(lines)


def _svi_w(params: tuple[float, float, float, float, float], k: FloatArray) -> FloatArray:
    a, b, rho, m, sigma = params
    x = k - m
    return a + b * (rho * x + np.sqrt(x * x + sigma * sigma))


class Surface:
    """An arbitrage-checked implied volatility surface with its forwards and discount factors.

    Build it with :meth:`fit`. Evaluation is vectorised: ``strike`` and ``expiry`` broadcast
    like numpy arrays; expiries are year fractions from the chain's quote time, or dates /
    datetimes / ISO strings / numpy datetime64 (ACT/365 from the quote time).
    """

    def __init__(
        self,
        chain: Chain,
        model: str,
        slices: list[SliceFit],
        report: SurfaceReport,
        quote_vols: dict[str, FloatArray],
    ) -> None:
        self.chain = chain
        self.model = model
        self._slices = slices
        self._report = report
        self._t = np.array([s.t for s in slices])
        self._log_f = np.log([s.forward for s in slices])
        self._log_df = np.log([s.discount for s in slices])
        self._params = [s.params for s in slices]
        self._param_array = np.array(self._params, dtype=np.float64).reshape(-1, 5)
        #: Implied vols of every chain row: "bid", "ask", "mid" (NaN where none).
        self.quote_vols = quote_vols

    # ------------------------------------------------------------------ fitting
    @classmethod
    def fit(
        cls,
        chain: Any,
        model: str = "svi",
        *,
        rate: float = 0.0,
        min_quotes: int = MIN_QUOTES,
    ) -> Surface:
        """Fit a surface to ``chain``.

        Args:
            chain: the snapshot: a :class:`~strikegrid.Chain`, or a pandas / polars frame or
                pyarrow table of one snapshot (read with :meth:`Chain.from_frame`).
            model: "svi" (one raw SVI smile per expiry) or "ssvi" (one global SSVI surface).
            rate: continuously compounded rate used where parity cannot pin the discount
                factor down (short expiries, too few pairs); the coin rate for inverse chains.
            min_quotes: fewest usable out-of-the-money quotes for an expiry to be fitted.
        """
        if model not in ("svi", "ssvi"):
            raise InputError(f"model: must be 'svi' or 'ssvi', got {model!r}", arg="model")
        chain = as_chain(chain)
        parities, fwd, disc = _parities(chain, rate)
        quote_vols = _quote_vols(chain, fwd, disc)
        if model == "svi":
            slices, skipped = _fit_svi_slices(chain, parities, quote_vols, fwd, min_quotes)
        else:
            slices, skipped = _fit_ssvi(chain, parities, quote_vols, fwd, min_quotes)
        if not slices:
            raise InputError("chain: no expiry has enough usable quotes to fit a smile")
        crossings = _calendar_violations(slices)
        slices = [
            replace(s, calendar_dip=dict(crossings).get(i, 0.0)) for i, s in enumerate(slices)
        ]
        report = SurfaceReport(model, slices, skipped)
        report.butterfly_ok = all(s.min_g >= -1e-9 for s in slices)
        # The evaluated surface takes the running maximum over expiries (see total_variance),
        # so it is calendar-monotone by construction; the report shows where that was needed.
        report.calendar_ok = True
        return cls(chain, model, slices, report, quote_vols)

    # --------------------------------------------------------------- evaluation
    def _times(self, expiry: Any) -> FloatArray:
        return _to_years(expiry, self.chain)

    def forward(self, expiry: Any) -> FloatArray | float:
        """Forward price at each expiry (ln F interpolated linearly in time, flat outside)."""
        t = self._times(expiry)
        out = np.exp(np.interp(t, self._t, self._log_f))
        return out if out.ndim else float(out)

    def discount(self, expiry: Any) -> FloatArray | float:
        """Discount factor at each expiry (the zero rate interpolated linearly in time, flat
        outside; 1 at time 0)."""
        t = self._times(expiry)
        zero = -self._log_df / self._t
        r = np.interp(t, self._t, zero)
        out = np.exp(-r * t)
        return out if out.ndim else float(out)

    def total_variance(self, k: Any, expiry: Any) -> FloatArray:
        """Total implied variance at log-moneyness ``k = ln(K/F(t))`` and each expiry.

        Each slice is raised to the running maximum of the earlier slices at the same k, so
        the surface is calendar-monotone everywhere (the smiles themselves where they already
        are; a kink where a later slice would dip only adds density, so no butterfly arbitrage
        is created). Between expiries: linear in time; before the first: w proportional to t;
        after the last: the last slice scaled by t / t_last.
        """
        k_arr = np.asarray(k, dtype=np.float64)
        t = self._times(expiry)
        k_arr, t = np.broadcast_arrays(k_arr, t)
        flat_k, flat_t = k_arr.ravel(), t.ravel()
        ts = self._t
        n = len(ts)
        env = np.empty((n, flat_k.size))
        for i, p in enumerate(self._params):
            env[i] = _svi_w(p, flat_k)
        np.maximum.accumulate(env, axis=0, out=env)
        j = np.searchsorted(ts, flat_t, side="right")
        lo = np.clip(j - 1, 0, n - 1)
        hi = np.clip(j, 0, n - 1)
        cols = np.arange(flat_k.size)
        w_lo, w_hi = env[lo, cols], env[hi, cols]
        t_lo, t_hi = ts[lo], ts[hi]
        with np.errstate(invalid="ignore", divide="ignore"):
            a = np.where(t_hi > t_lo, (flat_t - t_lo) / (t_hi - t_lo), 0.0)
            inside = w_lo + a * (w_hi - w_lo)
            before = w_hi * flat_t / ts[0]
            after = w_lo * flat_t / ts[-1]
        out = np.where(j == 0, before, np.where(j == n, after, inside))
        return out.reshape(k_arr.shape)

    def vol(self, strike: Any, expiry: Any) -> FloatArray | float:
        """Implied volatility at each strike and expiry (broadcast)."""
        k_in = np.asarray(strike, dtype=np.float64)
        t = self._times(expiry)
        out = _core.svi_surface_vol(self._t, self._log_f, self._param_array, k_in, t)
        return out if out.ndim else float(out)

    def prob_below(self, strike: Any, expiry: Any) -> FloatArray | float:
        """Risk-neutral probability that the underlying ends below ``strike`` at ``expiry``,
        consistent with the smile: the strike derivative of the undiscounted put,
        ``N(-d2) + F phi(d1) sqrt(T) dvol/dK`` (the skew term included, Breeden–Litzenberger)."""
        k_in = np.asarray(strike, dtype=np.float64)
        t = self._times(expiry)
        k_in, t = np.broadcast_arrays(k_in, t)
        f = np.exp(np.interp(t, self._t, self._log_f))
        sig = np.asarray(self.vol(k_in, t))
        h = 1e-4 * k_in
        dsig = (np.asarray(self.vol(k_in + h, t)) - np.asarray(self.vol(k_in - h, t))) / (2 * h)
        sd = sig * np.sqrt(t)
        d1 = np.log(f / k_in) / sd + 0.5 * sd
        d2 = d1 - sd
        out = np.asarray(norm_cdf(-d2)) + f * np.asarray(norm_pdf(d1)) * np.sqrt(t) * dsig
        out = np.clip(out, 0.0, 1.0)
        return out if out.ndim else float(out)

    def kernel_market(self) -> tuple[float, FloatArray, FloatArray, FloatArray, FloatArray]:
        """``(spot, expiries, ln forwards, ln discount factors, SVI params (n, 5))``: the
        surface as the Rust batch kernels take it (``strikegrid._core.package_value``)."""
        return (
            float(self.chain.spot),
            self._t,
            self._log_f,
            self._log_df,
            self._param_array,
        )

    def report(self) -> SurfaceReport:
        """The fit report (``print(surface.report())``)."""
        return self._report

    @property
    def slices(self) -> list[SliceFit]:
        """The fitted expiries."""
        return list(self._slices)

    def plot(self, ax: Any = None, expiries: int | None = None) -> Any:
        """Quoted bid/ask vols and the fitted smile per expiry (matplotlib, optional extra)."""
        try:
            import matplotlib.pyplot as plt
        except ImportError as e:  # pragma: no cover - optional extra
            raise ImportError(
                "surface.plot() needs matplotlib: pip install strikegrid[plot]"
            ) from e
        slices = self._slices if expiries is None else self._slices[:expiries]
        if ax is None:
            cols = min(4, len(slices))
            rows = -(-len(slices) // cols)
            fig, grid = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
            axes = list(grid.ravel())
        else:
            fig, axes = ax.figure, [ax] * len(slices)
        t_all = np.asarray(self.chain.t)
        for a, s in zip(axes, slices):
            rows = t_all == s.t
            k = np.log(self.chain.strike[rows] / s.forward)
            a.vlines(
                k, self.quote_vols["bid"][rows], self.quote_vols["ask"][rows], color="0.6", lw=1
            )
            grid = np.linspace(np.nanmin(k), np.nanmax(k), 200)
            a.plot(grid, np.sqrt(np.maximum(_svi_w(s.params, grid), 0) / s.t), color="C0")
            a.set_title(f"t = {s.t:.3f}")
            a.set_xlabel("ln(K/F)")
        return fig


# ---------------------------------------------------------------------- helpers
def _parities(chain: Chain, rate: float) -> tuple[dict[float, ParityFit], FloatArray, FloatArray]:
    """Step 1 of the fit: each expiry's parity fit, and its forward and discount per row."""
    n = len(chain.strike)
    usable = np.asarray(chain.usable, dtype=bool)
    t_all = np.asarray(chain.t, dtype=np.float64)
    fwd = np.full(n, np.nan)
    disc = np.full(n, np.nan)
    parities: dict[float, ParityFit] = {}
    ref = np.asarray(chain.underlying_price, dtype=np.float64)
    for t in np.unique(t_all[t_all > 0]):
        rows = t_all == t
        reference = float(np.nanmedian(ref[rows])) if np.any(np.isfinite(ref[rows])) else None
        p = fit_parity(
            chain.strike[rows],
            chain.kind[rows],
            chain.bid[rows],
            chain.ask[rows],
            usable[rows],
            float(t),
            inverse=bool(chain.is_inverse),
            rate=rate,
            reference=reference,
        )
        parities[float(t)] = p
        fwd[rows] = p.forward
        disc[rows] = p.discount
    return parities, fwd, disc


def quote_vols(chain: Any, rate: float = 0.0) -> dict[str, FloatArray]:
    """Implied vols of every quote of a chain, as :meth:`Surface.fit` computes them (steps 1
    and 2 of the module docs), without fitting a smile.

    Args:
        chain: a :class:`~strikegrid.Chain`, or a pandas / polars frame or pyarrow table of
            one snapshot (read with :meth:`Chain.from_frame`).
        rate: the rate used where parity cannot pin the discount factor down.

    Returns:
        Per chain row (float64 arrays in row order): ``forward`` and ``discount`` (the
        expiry's parity fit; NaN for expired rows), and the implied vols of the ``bid``,
        ``ask`` and ``mid`` (NaN where a side is missing or has no implied vol);
        ``Surface.fit(chain).quote_vols`` holds the same three vol arrays.
    """
    chain = as_chain(chain)
    _, fwd, disc = _parities(chain, rate)
    return {"forward": fwd, "discount": disc, **_quote_vols(chain, fwd, disc)}


def _to_years(expiry: Any, chain: Chain) -> FloatArray:
    """Year fractions from the chain's quote time (floats as they are; dates, datetimes, ISO
    strings and datetime64 by the chain's settlement rules, ACT/365)."""
    arr = np.asarray(expiry)
    if arr.dtype.kind in "fiub":
        return np.asarray(arr, dtype=np.float64)
    flat = [chain.year_fraction(x.item() if isinstance(x, np.generic) else x) for x in arr.ravel()]
    return np.asarray(flat, dtype=np.float64).reshape(arr.shape)


def _quote_vols(chain: Chain, fwd: FloatArray, disc: FloatArray) -> dict[str, FloatArray]:
    """Implied vols of bid, ask and mid of every row, NaN where there is none."""
    t = np.asarray(chain.t, dtype=np.float64)
    ok = np.isfinite(fwd) & (disc > 0) & (t > 0)
    tt = np.where(ok, t, 1.0)
    r = np.where(ok, -np.log(np.where(ok, disc, 1.0)) / tt, 0.0)
    f = np.where(ok, fwd, 1.0)
    out: dict[str, FloatArray] = {}
    bid = np.asarray(chain.bid, dtype=np.float64)
    ask = np.asarray(chain.ask, dtype=np.float64)
    prices = {"bid": bid, "ask": ask, "mid": 0.5 * (bid + ask)}
    american = str(getattr(chain, "exercise_style", "european")).lower() == "american"
    for name, prem in prices.items():
        valid = ok & np.isfinite(prem) & (prem > 0)
        p = np.where(valid, prem, 1.0)
        if chain.is_inverse:
            v = implied_vol(p, chain.kind, f, chain.strike, tt, r, model="inverse", errors="nan")
        elif american:
            s = float(chain.spot)
            q = r - np.log(f / s) / tt
            v = implied_vol(
                p, chain.kind, s, chain.strike, tt, r, q, exercise="american", errors="nan"
            )
        else:
            v = implied_vol(p, chain.kind, f, chain.strike, tt, r, model="black76", errors="nan")
        out[name] = np.where(valid, np.asarray(v, dtype=np.float64), np.nan)
    return out


def _otm_quotes(
    chain: Chain, rows: npt.NDArray[np.bool_], forward: float, vols: dict[str, FloatArray]
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Out-of-the-money usable quotes of one expiry: (k, mid vol, bid vol, ask vol)."""
    k_all = np.log(chain.strike / forward)
    otm = np.where(chain.kind > 0, chain.strike >= forward, chain.strike < forward)
    sel = rows & otm & np.asarray(chain.usable, dtype=bool) & np.isfinite(vols["mid"])
    # Far wings (|delta| below MIN_DELTA) carry stale, vendor-interpolated quotes that a
    # five-parameter smile cannot follow without giving up the money; SVI extrapolates there.
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = vols["mid"] * np.sqrt(np.maximum(chain.t, 0.0))
        d1 = -k_all / sd + 0.5 * sd
    otm_delta = np.where(chain.kind > 0, np.asarray(norm_cdf(d1)), np.asarray(norm_cdf(-d1)))
    sel &= otm_delta >= MIN_DELTA
    return k_all[sel], vols["mid"][sel], vols["bid"][sel], vols["ask"][sel]


def _weights(mid: FloatArray, bid: FloatArray, ask: FloatArray, t: float) -> FloatArray:
    """Least-squares weights in total variance from the vol spread: a residual of one
    half-spread in vol counts the same everywhere."""
    spread = np.where(np.isfinite(bid) & np.isfinite(ask), ask - bid, np.nan)
    spread = np.where(
        np.isfinite(spread), spread, np.nanmax(spread) if np.any(np.isfinite(spread)) else 0.05
    )
    # A few stale quotes with very tight spreads in the far wings must not outweigh the
    # money: floor each spread at a fraction of the slice's median spread.
    spread = np.maximum(spread, max(MIN_VOL_SPREAD, SPREAD_FLOOR * float(np.median(spread))))
    dw = 2.0 * mid * t * 0.5 * spread  # half-spread in total variance
    return np.asarray(1.0 / dw**2, dtype=np.float64)


def _slice_quality(
    params: tuple[float, float, float, float, float],
    k: FloatArray,
    mid: FloatArray,
    bid: FloatArray,
    ask: FloatArray,
    t: float,
) -> tuple[float, float]:
    fitted = np.sqrt(np.maximum(_svi_w(params, k), 0.0) / t)
    rmse = float(np.sqrt(np.mean((fitted - mid) ** 2)))
    both = np.isfinite(bid) & np.isfinite(ask)
    inside = (fitted >= bid - 1e-12) & (fitted <= ask + 1e-12)
    share = float(np.mean(inside[both])) if np.any(both) else float("nan")
    return rmse, share


def _fit_svi_slices(
    chain: Chain,
    parities: dict[float, ParityFit],
    vols: dict[str, FloatArray],
    fwd: FloatArray,
    min_quotes: int,
) -> tuple[list[SliceFit], list[tuple[float, str]]]:
    slices: list[SliceFit] = []
    skipped: list[tuple[float, str]] = []
    t_all = np.asarray(chain.t)
    expiry = np.asarray(chain.expiry)
    for t, par in sorted(parities.items()):
        rows = t_all == t
        if not np.isfinite(par.forward):
            skipped.append((t, "no forward"))
            continue
        k, mid, bid, ask = _otm_quotes(chain, rows, par.forward, vols)
        if k.size < min_quotes:
            skipped.append((t, f"{k.size} usable out-of-the-money quotes (< {min_quotes})"))
            continue
        w = mid * mid * t
        weights = _weights(mid, bid, ask, t)
        a, b, rho, m, sigma, _rmse_w, min_g, repaired = _core.svi_calibrate(
            np.ascontiguousarray(k),
            np.ascontiguousarray(w),
            np.ascontiguousarray(weights),
            float(t),
        )
        params = (a, b, rho, m, sigma)
        rmse, share = _slice_quality(params, k, mid, bid, ask, t)
        slices.append(
            SliceFit(
                t=float(t),
                expiry=expiry[rows][0] if expiry.size else None,
                forward=par.forward,
                discount=par.discount,
                parity=par,
                params=params,
                quotes=int(k.size),
                rmse_vol=rmse,
                inside_share=share,
                min_g=float(min_g),
                repaired=bool(repaired),
                k_range=(float(k.min()), float(k.max())),
            )
        )
    return slices, skipped


def _fit_ssvi(
    chain: Chain,
    parities: dict[float, ParityFit],
    vols: dict[str, FloatArray],
    fwd: FloatArray,
    min_quotes: int,
) -> tuple[list[SliceFit], list[tuple[float, str]]]:
    t_all = np.asarray(chain.t)
    expiry = np.asarray(chain.expiry)
    data = []
    skipped: list[tuple[float, str]] = []
    for t, par in sorted(parities.items()):
        rows = t_all == t
        k, mid, bid, ask = _otm_quotes(chain, rows, par.forward, vols)
        if not np.isfinite(par.forward) or k.size < min_quotes:
            skipped.append((t, f"{k.size} usable out-of-the-money quotes (< {min_quotes})"))
            continue
        w = mid * mid * t
        # ATM total variance: interpolate the quotes at k = 0.
        order = np.argsort(k)
        theta = float(np.interp(0.0, k[order], w[order]))
        data.append((t, par, rows, k, mid, bid, ask, w, _weights(mid, bid, ask, t), theta))
    if not data:
        return [], skipped
    rho, eta, gamma, _rmse, thetas = _core.ssvi_calibrate(
        [float(d[0]) for d in data],
        [float(d[9]) for d in data],
        [np.ascontiguousarray(d[3]) for d in data],
        [np.ascontiguousarray(d[7]) for d in data],
        [np.ascontiguousarray(d[8]) for d in data],
    )
    slices = []
    for d, theta in zip(data, np.asarray(thetas)):
        t, par, rows, k, mid, bid, ask = d[:7]
        phi = eta / (theta**gamma * (1.0 + theta) ** (1.0 - gamma))
        # SSVI slice as raw SVI (Gatheral & Jacquier 2014, Lemma 3.2 with the natural
        # parametrisation's Delta = 0, mu = 0, omega = theta).
        a = theta / 2.0 * (1.0 - rho * rho)
        b = theta * phi / 2.0
        m = -rho / phi
        sigma = np.sqrt(1.0 - rho * rho) / phi
        params = (float(a), float(b), float(rho), float(m), float(sigma))
        rmse, share = _slice_quality(params, k, mid, bid, ask, t)
        g = np.asarray(_core.svi_g(params, np.linspace(k.min() - 1, k.max() + 1, 401)))
        slices.append(
            SliceFit(
                t=float(t),
                expiry=expiry[rows][0] if expiry.size else None,
                forward=par.forward,
                discount=par.discount,
                parity=par,
                params=params,
                quotes=int(k.size),
                rmse_vol=rmse,
                inside_share=share,
                min_g=float(g.min()),
                repaired=False,
                k_range=(float(k.min()), float(k.max())),
            )
        )
    return slices, skipped


def _calendar_grid(earlier: SliceFit, later: SliceFit) -> FloatArray:
    """Log-moneyness where both slices are backed by quotes (their overlap); beyond the data
    the wings are extrapolation, not evidence of arbitrage in the quotes."""
    lo = max(earlier.k_range[0], later.k_range[0])
    hi = min(earlier.k_range[1], later.k_range[1])
    if hi <= lo:
        return np.array([0.0])
    return np.linspace(lo, hi, 401)


def _calendar_violations(slices: list[SliceFit]) -> list[tuple[int, float]]:
    bad = []
    for i in range(1, len(slices)):
        grid = _calendar_grid(slices[i - 1], slices[i])
        gap = float(np.max(_svi_w(slices[i - 1].params, grid) - _svi_w(slices[i].params, grid)))
        if gap > CALENDAR_TOL:
            bad.append((i, gap))
    return bad

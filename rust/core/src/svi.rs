//! Raw SVI smiles (Gatheral 2004): calibration and no-arbitrage checks.
//!
//! One expiry's smile in total implied variance `w(k) = sigma_impl^2 t` against log-moneyness
//! `k = ln(K/F)`:
//!
//! ```text
//! w(k) = a + b (rho (k - m) + sqrt((k - m)^2 + sigma^2))
//! ```
//!
//! Calibration is the quasi-explicit method of Zeliade Systems (2009, "Quasi-explicit
//! calibration of Gatheral's SVI model") and De Marco & Martini (2009): for fixed `(m, sigma)`
//! the fit is linear in `(a, d, c) = (a, rho b sigma, b sigma)` and is solved exactly on a
//! compact box; the outer 2-D problem over `(m, sigma)` is solved by Nelder–Mead. Butterfly
//! arbitrage is checked with Gatheral's density function `g` (Gatheral & Jacquier 2014,
//! "Arbitrage-free SVI volatility surfaces", eq. 2.1 / Lemma 2.2) and repaired when violated.
//!
//! ```
//! use strikegrid_core::svi::{calibrate, RawSvi};
//! let p = RawSvi { a: 0.04, b: 0.4, rho: -0.4, m: 0.1, sigma: 0.2 };
//! let k: Vec<f64> = (0..21).map(|i| -1.0 + 0.1 * i as f64).collect();
//! let w: Vec<f64> = k.iter().map(|&k| p.total_variance(k)).collect();
//! let fit = calibrate(&k, &w, &vec![1.0; k.len()], 1.0).unwrap();
//! assert!((fit.params.rho - p.rho).abs() < 1e-6);
//! assert!(fit.min_g >= 0.0 && !fit.repaired);
//! ```

use crate::error::{Error, Result};

/// Raw SVI parameters of one smile, in total variance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawSvi {
    /// Vertical level.
    pub a: f64,
    /// Slope scale of the wings (`b >= 0`).
    pub b: f64,
    /// Skew / rotation, `|rho| < 1`.
    pub rho: f64,
    /// Horizontal translation (log-moneyness of the vertex).
    pub m: f64,
    /// ATM curvature scale (`sigma > 0`).
    pub sigma: f64,
}

impl RawSvi {
    /// Total implied variance at log-moneyness `k`.
    #[inline]
    pub fn total_variance(&self, k: f64) -> f64 {
        let x = k - self.m;
        self.a + self.b * (self.rho * x + (x * x + self.sigma * self.sigma).sqrt())
    }

    /// `(w, dw/dk, d2w/dk2)` at `k`.
    #[inline]
    pub fn derivatives(&self, k: f64) -> (f64, f64, f64) {
        let x = k - self.m;
        let s2 = self.sigma * self.sigma;
        let r = (x * x + s2).sqrt();
        let w = self.a + self.b * (self.rho * x + r);
        let w1 = self.b * (self.rho + x / r);
        let w2 = self.b * s2 / (r * r * r);
        (w, w1, w2)
    }

    /// Gatheral's density function (Gatheral & Jacquier 2014, eq. 2.1):
    /// `g(k) = (1 - k w'/(2w))^2 - (w'^2/4)(1/w + 1/4) + w''/2`. The risk-neutral density of
    /// `k` is `g(k) / sqrt(2 pi w) exp(-d2^2/2)`, so the smile is free of butterfly arbitrage iff
    /// `g >= 0` (Lemma 2.2). `-inf` where `w <= 0` (no valid smile there).
    #[inline]
    pub fn g(&self, k: f64) -> f64 {
        let (w, w1, w2) = self.derivatives(k);
        density_factor(k, w, w1, w2)
    }

    /// Minimum of [`g`](Self::g) on `[k_lo, k_hi]` and where it is attained: a dense scan
    /// (401 points) then golden-section refinement around the best scan point.
    pub fn min_g(&self, k_lo: f64, k_hi: f64) -> (f64, f64) {
        min_on(|k| self.g(k), k_lo, k_hi, 401)
    }

    /// Whether the parameters define a valid smile: `b >= 0`, `|rho| < 1`, `sigma > 0`, all
    /// finite, and the minimum total variance `a + b sigma sqrt(1 - rho^2)` is `>= 0`.
    pub fn is_admissible(&self) -> bool {
        let finite = [self.a, self.b, self.rho, self.m, self.sigma]
            .iter()
            .all(|v| v.is_finite());
        finite
            && self.b >= 0.0
            && self.rho.abs() < 1.0
            && self.sigma > 0.0
            && self.a + self.b * self.sigma * (1.0 - self.rho * self.rho).sqrt() >= 0.0
    }

    /// Checks the parameter domain needed to evaluate the smile (finite, `b >= 0`, `|rho| < 1`,
    /// `sigma > 0`); the variance may still go negative (see [`is_admissible`](Self::is_admissible)).
    pub fn validate(&self) -> Result<()> {
        let checks: [(&'static str, f64, bool); 5] = [
            ("a", self.a, self.a.is_finite()),
            ("b", self.b, self.b.is_finite() && self.b >= 0.0),
            (
                "rho",
                self.rho,
                self.rho.is_finite() && self.rho.abs() < 1.0,
            ),
            ("m", self.m, self.m.is_finite()),
            (
                "sigma",
                self.sigma,
                self.sigma.is_finite() && self.sigma > 0.0,
            ),
        ];
        // Reported as `params` with the position in `(a, b, rho, m, sigma)`.
        for (index, (name, v, ok)) in checks.into_iter().enumerate() {
            if !ok {
                return Err(Error::InvalidInput {
                    arg: "params",
                    index,
                    reason: format!("SVI {name} out of its domain (got {v})"),
                });
            }
        }
        Ok(())
    }
}

/// Gatheral's `g` from `w` and its first two derivatives in `k`.
#[inline]
pub(crate) fn density_factor(k: f64, w: f64, w1: f64, w2: f64) -> f64 {
    if w <= 0.0 || w.is_nan() {
        return f64::NEG_INFINITY;
    }
    let u = 1.0 - k * w1 / (2.0 * w);
    u * u - 0.25 * w1 * w1 * (1.0 / w + 0.25) + 0.5 * w2
}

/// Minimum of `f` on `[lo, hi]`: a scan of `n` points, then golden-section search on the
/// bracket around the best one. Returns `(min value, argmin)`.
pub(crate) fn min_on(f: impl Fn(f64) -> f64, lo: f64, hi: f64, n: usize) -> (f64, f64) {
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    let n = n.max(3);
    let h = (hi - lo) / (n - 1) as f64;
    let mut best = (f64::INFINITY, lo);
    let mut best_i = 0;
    for i in 0..n {
        let k = if i == n - 1 { hi } else { lo + h * i as f64 };
        let v = f(k);
        if v < best.0 || (best.0.is_nan() && !v.is_nan()) || i == 0 {
            best = (v, k);
            best_i = i;
        }
    }
    if !best.0.is_finite() || h == 0.0 {
        return best;
    }
    let mut x0 = lo + h * best_i.saturating_sub(1) as f64;
    let mut x3 = (lo + h * (best_i + 1) as f64).min(hi);
    const INV_PHI: f64 = 0.618_033_988_749_894_8;
    let mut x1 = x3 - INV_PHI * (x3 - x0);
    let mut x2 = x0 + INV_PHI * (x3 - x0);
    let (mut f1, mut f2) = (f(x1), f(x2));
    for _ in 0..60 {
        if (x3 - x0).abs() <= 1e-12 * (1.0 + x1.abs()) {
            break;
        }
        if f1 < f2 {
            x3 = x2;
            x2 = x1;
            f2 = f1;
            x1 = x3 - INV_PHI * (x3 - x0);
            f1 = f(x1);
        } else {
            x0 = x1;
            x1 = x2;
            f1 = f2;
            x2 = x0 + INV_PHI * (x3 - x0);
            f2 = f(x2);
        }
    }
    for (v, x) in [(f1, x1), (f2, x2)] {
        if v < best.0 {
            best = (v, x);
        }
    }
    best
}

/// Writes `w(k[i])` into `out[i]`. Panics if the lengths differ.
pub fn total_variance_into(p: &RawSvi, k: &[f64], out: &mut [f64]) {
    assert_eq!(k.len(), out.len(), "k and out must have the same length");
    for (o, &k) in out.iter_mut().zip(k) {
        *o = p.total_variance(k);
    }
}

/// Writes Gatheral's `g(k[i])` into `out[i]`. Panics if the lengths differ.
pub fn g_into(p: &RawSvi, k: &[f64], out: &mut [f64]) {
    assert_eq!(k.len(), out.len(), "k and out must have the same length");
    for (o, &k) in out.iter_mut().zip(k) {
        *o = p.g(k);
    }
}

/// Result of [`calibrate`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SviFit {
    /// Fitted parameters (after the butterfly repair, if one was needed).
    pub params: RawSvi,
    /// Weighted RMSE in total variance, `sqrt(sum wt (w_fit - w)^2 / sum wt)`.
    pub rmse: f64,
    /// Minimum of `g` on `[k_min - 1, k_max + 1]` for the returned parameters.
    pub min_g: f64,
    /// Nelder–Mead iterations spent in total (all starts and the repair).
    pub iterations: usize,
    /// Whether the least-squares fit had butterfly arbitrage and was repaired.
    pub repaired: bool,
    /// Minimum of `g` of the plain least-squares fit (equal to `min_g` when not repaired).
    pub unrepaired_min_g: f64,
    /// Weighted RMSE of the plain least-squares fit (equal to `rmse` when not repaired).
    pub unrepaired_rmse: f64,
}

/// Fewest points with positive weight [`calibrate`] accepts (SVI has five parameters).
pub const MIN_POINTS: usize = 5;

/// Margin beyond the data, in log-moneyness, on which the fit is made free of butterfly
/// arbitrage.
pub const ARBITRAGE_MARGIN: f64 = 1.0;

/// Checks the finite/non-negative requirements shared by the calibrations. Returns the number
/// of points with positive weight.
pub(crate) fn check_slice(k: &[f64], w: &[f64], weights: &[f64], offset: usize) -> Result<usize> {
    if k.len() != w.len() || k.len() != weights.len() {
        return Err(Error::Shape(format!(
            "k, w and weights must have the same length, got {}, {} and {}",
            k.len(),
            w.len(),
            weights.len()
        )));
    }
    let mut positive = 0;
    for i in 0..k.len() {
        if !k[i].is_finite() {
            return Err(Error::InvalidInput {
                arg: "k",
                index: offset + i,
                reason: format!("log-moneyness must be finite, got {}", k[i]),
            });
        }
        if !(w[i].is_finite() && w[i] >= 0.0) {
            return Err(Error::InvalidInput {
                arg: "w",
                index: offset + i,
                reason: format!("total variance must be finite and >= 0, got {}", w[i]),
            });
        }
        if !(weights[i].is_finite() && weights[i] >= 0.0) {
            return Err(Error::InvalidInput {
                arg: "weights",
                index: offset + i,
                reason: format!("weight must be finite and >= 0, got {}", weights[i]),
            });
        }
        if weights[i] > 0.0 {
            positive += 1;
        }
    }
    Ok(positive)
}

/// Fits raw SVI to one smile by weighted least squares in total variance, then removes
/// butterfly arbitrage on `[k_min - 1, k_max + 1]` if the fit has any.
///
/// `k` is log-moneyness `ln(K/F)`, `w` total implied variance `sigma^2 t`, `weights` the
/// least-squares weights (zero drops a point), `t` the expiry in years (validated; the fit
/// itself is in total variance and does not depend on it).
///
/// The least-squares stage is quasi-explicit (Zeliade 2009; De Marco & Martini 2009): the inner
/// problem in `(a, d, c)` is solved exactly on `{0 <= c <= 4 sigma, |d| <= c, |d| <= 4 sigma - c,
/// 0 <= a <= max w}` (the bound `c + |d| <= 4 sigma` is Lee's moment bound
/// `b (1 + |rho|) <= 4`), the outer one over `(m, sigma)` by Nelder–Mead from several starts.
/// If `min g < 0`, the fit is re-solved in all five parameters with a penalty on negative `g`,
/// then, if still needed, `b` is shrunk (keeping `w(m)`) until `g >= 0` and the fit is polished
/// under the hard constraint `g >= 0`.
pub fn calibrate(k: &[f64], w: &[f64], weights: &[f64], t: f64) -> Result<SviFit> {
    let positive = check_slice(k, w, weights, 0)?;
    if !(t.is_finite() && t > 0.0) {
        return Err(Error::InvalidInput {
            arg: "t",
            index: 0,
            reason: format!("expiry must be finite and > 0, got {t}"),
        });
    }
    if positive < MIN_POINTS {
        return Err(Error::Shape(format!(
            "SVI calibration needs at least {MIN_POINTS} points with positive weight, got {positive}"
        )));
    }
    // Keep only the weighted points.
    let mut data: Vec<(f64, f64, f64)> = (0..k.len())
        .filter(|&i| weights[i] > 0.0)
        .map(|i| (k[i], w[i], weights[i]))
        .collect();
    data.sort_by(|x, y| x.0.total_cmp(&y.0));
    let kx: Vec<f64> = data.iter().map(|d| d.0).collect();
    let wx: Vec<f64> = data.iter().map(|d| d.1).collect();
    let wt: Vec<f64> = data.iter().map(|d| d.2).collect();
    let (k_min, k_max) = (kx[0], kx[kx.len() - 1]);
    let span = k_max - k_min;
    if span <= 0.0 {
        return Err(Error::InvalidInput {
            arg: "k",
            index: 0,
            reason: "all weighted log-moneyness values are equal".into(),
        });
    }
    let w_max = wx.iter().fold(0.0f64, |m, &v| m.max(v));
    if w_max <= 0.0 {
        return Err(Error::InvalidInput {
            arg: "w",
            index: 0,
            reason: "all weighted total variances are zero".into(),
        });
    }
    let sum_wt: f64 = wt.iter().sum();
    let sse_data: f64 = wx.iter().zip(&wt).map(|(w, c)| c * w * w).sum();

    let qe = QuasiExplicit {
        k: &kx,
        w: &wx,
        wt: &wt,
        a_max: w_max,
        sigma_lo: (1e-4 * span).max(1e-6),
        sigma_hi: 10.0 * span.max(0.1),
        m_lo: k_min - span,
        m_hi: k_max + span,
        sse_scale: sse_data.max(f64::MIN_POSITIVE),
    };
    let (m0, s0) = initial_guess(&kx, &wx, &qe);
    let mut iterations = 0;
    let mut best: Option<(f64, [f64; 2])> = None;
    let starts = [
        [m0, s0.ln()],
        [m0, (0.25 * s0).max(qe.sigma_lo).ln()],
        [m0, (4.0 * s0).min(qe.sigma_hi).ln()],
    ];
    // Loose searches from every start, then a tight one from the best (which also restarts
    // Nelder–Mead, a guard against a collapsed simplex).
    let loose = NmOptions {
        max_iter: 200,
        ftol_abs: 1e-12 * qe.sse_scale,
        ftol_rel: 1e-8,
        xtol: 1e-5,
    };
    let tight = NmOptions {
        max_iter: 400,
        ftol_abs: 1e-18 * qe.sse_scale,
        ftol_rel: 1e-13,
        xtol: 1e-11,
    };
    for x0 in starts {
        let step = [0.1 * span.max(1e-3), 0.5];
        let r = nelder_mead(|x| qe.objective(x), x0, step, &loose);
        iterations += r.iterations;
        if best.is_none_or(|b| r.fx < b.0) {
            best = Some((r.fx, r.x));
        }
    }
    let (fb, xb) = best.expect("at least one start");
    let r = nelder_mead(
        |x| qe.objective(x),
        xb,
        [0.02 * span.max(1e-3), 0.1],
        &tight,
    );
    iterations += r.iterations;
    let xb = if r.fx <= fb { r.x } else { xb };
    let (m, sigma) = qe.clamp(xb);
    let (inner, _) = qe.inner(m, sigma);
    let mut params = from_inner(inner, m, sigma);

    let lo = k_min - ARBITRAGE_MARGIN;
    let hi = k_max + ARBITRAGE_MARGIN;
    let sse = |p: &RawSvi| -> f64 {
        kx.iter()
            .zip(&wx)
            .zip(&wt)
            .map(|((&k, &w), &c)| {
                let e = p.total_variance(k) - w;
                c * e * e
            })
            .sum()
    };
    let rmse_of = |p: &RawSvi| (sse(p).max(0.0) / sum_wt).sqrt();
    // The box's `a >= 0` (Zeliade's domain) is stricter than admissibility
    // (`a + b sigma sqrt(1 - rho^2) >= 0`): when it binds, polish in all five parameters under
    // the exact admissibility constraint and Lee's bound.
    if inner[0] <= 1e-12 * w_max {
        let (q, its) = polish5(params, &|p| sse(p) / sum_wt, span, &|p| {
            p.is_admissible() && p.b * (1.0 + p.rho.abs()) <= 4.0
        });
        iterations += its;
        params = q;
    }
    let (g0, _) = params.min_g(lo, hi);
    let rmse0 = rmse_of(&params);
    if g0 >= 0.0 {
        return Ok(SviFit {
            params,
            rmse: rmse0,
            min_g: g0,
            iterations,
            repaired: false,
            unrepaired_min_g: g0,
            unrepaired_rmse: rmse0,
        });
    }

    let (repaired, extra) = repair(params, &sse, sum_wt, lo, hi, span);
    iterations += extra;
    let (g1, _) = repaired.min_g(lo, hi);
    Ok(SviFit {
        params: repaired,
        rmse: rmse_of(&repaired),
        min_g: g1,
        iterations,
        repaired: true,
        unrepaired_min_g: g0,
        unrepaired_rmse: rmse0,
    })
}

/// Raw parameters from the quasi-explicit variables `(a, d, c)` at `(m, sigma)`.
fn from_inner(x: [f64; 3], m: f64, sigma: f64) -> RawSvi {
    let [a, d, c] = x;
    let b = c.max(0.0) / sigma;
    let rho = if c > 0.0 {
        (d / c).clamp(-1.0 + 1e-12, 1.0 - 1e-12)
    } else {
        0.0
    };
    RawSvi {
        a,
        b,
        rho,
        m,
        sigma,
    }
}

/// Starting `(m, sigma)`: `m` at the smallest total variance, `sigma = b / w''` with `b` from
/// the wing slopes (`w'(+-inf) = b (rho +- 1)`) and `w''` from a parabola through the vertex
/// (`w''(m) = b / sigma` for raw SVI).
fn initial_guess(k: &[f64], w: &[f64], qe: &QuasiExplicit<'_>) -> (f64, f64) {
    let n = k.len();
    let span = k[n - 1] - k[0];
    let i = (0..n).min_by(|&x, &y| w[x].total_cmp(&w[y])).unwrap_or(0);
    let m0 = k[i];
    let slope = |i: usize, j: usize| {
        let dk = k[j] - k[i];
        if dk > 0.0 {
            (w[j] - w[i]) / dk
        } else {
            0.0
        }
    };
    let b0 = (0.5 * (slope(n - 2, n - 1) - slope(0, 1))).max(1e-4);
    let j = i.clamp(1, n - 2);
    let (k0, k1, k2) = (k[j - 1], k[j], k[j + 1]);
    let (w0, w1, w2) = (w[j - 1], w[j], w[j + 1]);
    let curv = if k2 > k0 && k1 > k0 && k2 > k1 {
        2.0 * ((w2 - w1) / (k2 - k1) - (w1 - w0) / (k1 - k0)) / (k2 - k0)
    } else {
        0.0
    };
    let s0 = if curv > 0.0 && (b0 / curv).is_finite() {
        b0 / curv
    } else {
        0.25 * span
    };
    (m0, s0.clamp(qe.sigma_lo, qe.sigma_hi))
}

/// The inner linear problem of the quasi-explicit method on one smile.
struct QuasiExplicit<'a> {
    k: &'a [f64],
    w: &'a [f64],
    wt: &'a [f64],
    a_max: f64,
    sigma_lo: f64,
    sigma_hi: f64,
    m_lo: f64,
    m_hi: f64,
    sse_scale: f64,
}

impl QuasiExplicit<'_> {
    /// `(m, sigma)` from the Nelder–Mead variables `(m, ln sigma)`, clamped to the search box.
    fn clamp(&self, x: [f64; 2]) -> (f64, f64) {
        let m = x[0].clamp(self.m_lo, self.m_hi);
        let s = x[1].exp().clamp(self.sigma_lo, self.sigma_hi);
        (m, s)
    }

    /// Outer objective: the inner minimum of the weighted SSE, with a growing penalty outside
    /// the `(m, sigma)` box so that the simplex comes back.
    fn objective(&self, x: [f64; 2]) -> f64 {
        if !(x[0].is_finite() && x[1].is_finite()) {
            return f64::INFINITY;
        }
        let (m, s) = self.clamp(x);
        let out = (x[0] - m).abs() + (x[1] - s.ln()).abs();
        let (_, sse) = self.inner(m, s);
        if out > 0.0 {
            sse + self.sse_scale * out * (1.0 + out)
        } else {
            sse
        }
    }

    /// Minimises the weighted SSE over `(a, d, c)` in the box at fixed `(m, sigma)`. Returns
    /// the minimiser and the SSE.
    fn inner(&self, m: f64, sigma: f64) -> ([f64; 3], f64) {
        // Normal equations of min sum wt (a + d y + c z - w)^2, y = (k - m)/sigma, z = sqrt(y^2+1).
        let inv = 1.0 / sigma;
        let mut h = [[0.0f64; 3]; 3];
        let mut g = [0.0f64; 3];
        let mut ww = 0.0;
        for i in 0..self.k.len() {
            let c = self.wt[i];
            let y = (self.k[i] - m) * inv;
            let z = (y * y + 1.0).sqrt();
            let v = self.w[i];
            let (cy, cz) = (c * y, c * z);
            h[0][0] += c;
            h[0][1] += cy;
            h[0][2] += cz;
            h[1][1] += cy * y;
            h[1][2] += cy * z;
            h[2][2] += cz * z;
            g[0] += c * v;
            g[1] += cy * v;
            g[2] += cz * v;
            ww += c * v * v;
        }
        h[1][0] = h[0][1];
        h[2][0] = h[0][2];
        h[2][1] = h[1][2];
        let q = Quadratic { h, g, c: ww };
        let tol = 1e-12 * self.a_max.max(sigma);
        let inside = |x: &[f64; 3]| {
            let [a, d, c] = *x;
            a >= -tol
                && a <= self.a_max + tol
                && d.abs() <= c + tol
                && d.abs() <= 4.0 * sigma - c + tol
        };
        if let Some(x) = solve3(&h, &g) {
            if inside(&x) {
                return (x, q.value(&x));
            }
        }
        // The optimum lies on the boundary of the prism [0, a_max] x diamond, the diamond in
        // (d, c) having vertices (0, 0), (2s, 2s), (0, 4s), (-2s, 2s). The objective is convex,
        // so the optimum is the best of the face minimisers that are feasible and the edge
        // minimisers (clamped to their segments, which covers the vertices).
        let s2 = 2.0 * sigma;
        let verts = [[0.0, 0.0], [s2, s2], [0.0, 2.0 * s2], [-s2, s2]];
        let mut best = ([0.0; 3], q.value(&[0.0; 3]));
        let mut keep = |x: [f64; 3]| {
            let f = q.value(&x);
            if f < best.1 {
                best = (x, f);
            }
        };
        for a in [0.0, self.a_max] {
            // Caps: a fixed, free (d, c).
            if let Some((d, c)) = q.plane_min([a, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]) {
                let x = [a, d, c];
                if inside(&x) {
                    keep(x);
                }
            }
            // Cap edges: a fixed, (d, c) on a diamond side.
            for i in 0..4 {
                let (p, e) = side(&verts, i);
                keep(q.line_min([a, p[0], p[1]], [0.0, e[0], e[1]], 0.0, 1.0));
            }
        }
        for i in 0..4 {
            // Side faces: free a, (d, c) on a diamond side.
            let (p, e) = side(&verts, i);
            if let Some((a, t)) = q.plane_min([0.0, p[0], p[1]], [1.0, 0.0, 0.0], [0.0, e[0], e[1]])
            {
                if (0.0..=self.a_max).contains(&a) && (0.0..=1.0).contains(&t) {
                    keep([a, p[0] + t * e[0], p[1] + t * e[1]]);
                }
            }
            // Vertical edges: (d, c) at a diamond vertex, a in [0, a_max].
            let v = verts[i];
            keep(q.line_min([0.0, v[0], v[1]], [1.0, 0.0, 0.0], 0.0, self.a_max));
        }
        best
    }
}

/// Start and direction of the `i`-th side of the diamond.
fn side(verts: &[[f64; 2]; 4], i: usize) -> ([f64; 2], [f64; 2]) {
    let p = verts[i];
    let q = verts[(i + 1) % 4];
    (p, [q[0] - p[0], q[1] - p[1]])
}

/// The least-squares objective `x' H x - 2 g' x + c` in `(a, d, c)`.
struct Quadratic {
    h: [[f64; 3]; 3],
    g: [f64; 3],
    c: f64,
}

impl Quadratic {
    fn hx(&self, x: &[f64; 3]) -> [f64; 3] {
        let h = &self.h;
        [
            h[0][0] * x[0] + h[0][1] * x[1] + h[0][2] * x[2],
            h[1][0] * x[0] + h[1][1] * x[1] + h[1][2] * x[2],
            h[2][0] * x[0] + h[2][1] * x[1] + h[2][2] * x[2],
        ]
    }

    fn value(&self, x: &[f64; 3]) -> f64 {
        let hx = self.hx(x);
        let mut v = self.c;
        for i in 0..3 {
            v += x[i] * (hx[i] - 2.0 * self.g[i]);
        }
        v.max(0.0)
    }

    /// Minimiser on the segment `p + t e`, `t` in `[lo, hi]`.
    fn line_min(&self, p: [f64; 3], e: [f64; 3], lo: f64, hi: f64) -> [f64; 3] {
        let hp = self.hx(&p);
        let he = self.hx(&e);
        let curv = dot(&e, &he);
        let slope = dot(
            &e,
            &[self.g[0] - hp[0], self.g[1] - hp[1], self.g[2] - hp[2]],
        );
        let t = if curv > 0.0 {
            (slope / curv).clamp(lo, hi)
        } else if slope > 0.0 {
            hi
        } else {
            lo
        };
        [p[0] + t * e[0], p[1] + t * e[1], p[2] + t * e[2]]
    }

    /// Unconstrained minimiser `(t1, t2)` on the plane `p + t1 e1 + t2 e2`; `None` if singular.
    fn plane_min(&self, p: [f64; 3], e1: [f64; 3], e2: [f64; 3]) -> Option<(f64, f64)> {
        let hp = self.hx(&p);
        let r = [self.g[0] - hp[0], self.g[1] - hp[1], self.g[2] - hp[2]];
        let (h1, h2) = (self.hx(&e1), self.hx(&e2));
        let (m11, m12, m22) = (dot(&e1, &h1), dot(&e1, &h2), dot(&e2, &h2));
        let (r1, r2) = (dot(&e1, &r), dot(&e2, &r));
        let det = m11 * m22 - m12 * m12;
        if det.is_nan() || det <= 1e-14 * m11 * m22 {
            return None;
        }
        Some(((r1 * m22 - r2 * m12) / det, (m11 * r2 - m12 * r1) / det))
    }
}

fn dot(x: &[f64; 3], y: &[f64; 3]) -> f64 {
    x[0] * y[0] + x[1] * y[1] + x[2] * y[2]
}

/// Solves the 3x3 symmetric system `H x = g` (Cramer's rule); `None` when (nearly) singular.
fn solve3(h: &[[f64; 3]; 3], g: &[f64; 3]) -> Option<[f64; 3]> {
    let c00 = h[1][1] * h[2][2] - h[1][2] * h[2][1];
    let c01 = h[1][2] * h[2][0] - h[1][0] * h[2][2];
    let c02 = h[1][0] * h[2][1] - h[1][1] * h[2][0];
    let det = h[0][0] * c00 + h[0][1] * c01 + h[0][2] * c02;
    if det.is_nan() || det.abs() <= 1e-14 * h[0][0] * h[1][1] * h[2][2] {
        return None;
    }
    let c11 = h[0][0] * h[2][2] - h[0][2] * h[2][0];
    let c12 = h[0][1] * h[2][0] - h[0][0] * h[2][1];
    let c22 = h[0][0] * h[1][1] - h[0][1] * h[1][0];
    let x = [
        (c00 * g[0] + c01 * g[1] + c02 * g[2]) / det,
        (c01 * g[0] + c11 * g[1] + c12 * g[2]) / det,
        (c02 * g[0] + c12 * g[1] + c22 * g[2]) / det,
    ];
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// Nelder–Mead in `(a, b, rho, m, ln sigma)` from `p` minimising `mse` over the points where
/// `valid` holds; returns `p` unchanged unless it improves.
fn polish5(
    p: RawSvi,
    mse: &dyn Fn(&RawSvi) -> f64,
    span: f64,
    valid: &dyn Fn(&RawSvi) -> bool,
) -> (RawSvi, usize) {
    let f = |x: [f64; 5]| {
        let q = to_params(x);
        if valid(&q) {
            mse(&q)
        } else {
            f64::INFINITY
        }
    };
    let x0 = from_params(&p);
    let f0 = f(x0);
    if !f0.is_finite() {
        return (p, 0);
    }
    let opts = NmOptions {
        max_iter: 1000,
        ftol_abs: 1e-18 * f0.max(1e-300),
        ftol_rel: 1e-12,
        xtol: 1e-11,
    };
    let r = nelder_mead(f, x0, simplex_step(&p, span), &opts);
    if r.fx < f0 {
        (to_params(r.x), r.iterations)
    } else {
        (p, r.iterations)
    }
}

fn to_params(x: [f64; 5]) -> RawSvi {
    RawSvi {
        a: x[0],
        b: x[1],
        rho: x[2],
        m: x[3],
        sigma: x[4].exp(),
    }
}

fn from_params(p: &RawSvi) -> [f64; 5] {
    [p.a, p.b, p.rho, p.m, p.sigma.ln()]
}

fn simplex_step(p: &RawSvi, span: f64) -> [f64; 5] {
    [
        0.1 * p.a.abs().max(1e-3),
        0.1 * p.b.max(1e-3),
        0.1,
        0.1 * p.sigma.max(0.01 * span),
        0.2,
    ]
}

/// Removes butterfly arbitrage from `p` on `[lo, hi]`: a penalised five-parameter re-fit, then
/// (if needed) shrinking `b` at fixed `w(m)` until `g >= 0`, then a polish under the hard
/// constraint. Returns the repaired parameters and the Nelder–Mead iterations spent.
fn repair(
    p: RawSvi,
    sse: &dyn Fn(&RawSvi) -> f64,
    sum_wt: f64,
    lo: f64,
    hi: f64,
    span: f64,
) -> (RawSvi, usize) {
    const GRID: usize = 121;
    let grid: Vec<f64> = (0..GRID)
        .map(|i| lo + (hi - lo) * i as f64 / (GRID - 1) as f64)
        .collect();
    let to_p = |x: [f64; 5]| RawSvi {
        a: x[0],
        b: x[1],
        rho: x[2],
        m: x[3],
        sigma: x[4].exp(),
    };
    let valid = |q: &RawSvi| q.is_admissible() && q.b * (1.0 + q.rho.abs()) <= 4.0;
    let mse = |q: &RawSvi| sse(q) / sum_wt;
    let mut iterations = 0;
    let mut x = [p.a, p.b, p.rho, p.m, p.sigma.ln()];
    let step = [
        0.1 * p.a.abs().max(1e-3),
        0.1 * p.b.max(1e-3),
        0.1,
        0.1 * p.sigma.max(0.01 * span),
        0.2,
    ];
    let mse0 = mse(&p).max(1e-12);
    let opts = NmOptions {
        max_iter: 600,
        ftol_abs: 1e-14 * mse0,
        ftol_rel: 1e-10,
        xtol: 1e-10,
    };
    // 1. Penalty on negative g over the grid, with an increasing weight.
    for mu in [1.0, 1e2, 1e4, 1e6] {
        let f = |x: [f64; 5]| {
            let q = to_p(x);
            if !valid(&q) {
                return f64::INFINITY;
            }
            let pen: f64 = grid
                .iter()
                .map(|&k| {
                    let g = q.g(k).max(-1e3);
                    if g < 0.0 {
                        g * g
                    } else {
                        0.0
                    }
                })
                .sum::<f64>()
                / GRID as f64;
            mse(&q) + mu * mse0 * pen
        };
        let r = nelder_mead(f, x, step, &opts);
        iterations += r.iterations;
        if r.fx.is_finite() {
            x = r.x;
        }
    }
    let mut q = to_p(x);
    if !valid(&q) {
        q = p;
    }
    // 2. Shrink b at fixed w(m) until g >= 0 (b -> 0 gives a flat smile, g = 1).
    let shrink = |q: &RawSvi, lam: f64| -> RawSvi {
        let level = q.a + q.b * q.sigma;
        RawSvi {
            a: q.a + (1.0 - lam) * q.b * q.sigma,
            b: lam * q.b,
            ..*q
        }
        .with_level_floor(level)
    };
    if q.min_g(lo, hi).0 < 0.0 {
        let (mut ok, mut bad) = (0.0, 1.0);
        for _ in 0..40 {
            let mid = 0.5 * (ok + bad);
            if shrink(&q, mid).min_g(lo, hi).0 >= 0.0 {
                ok = mid;
            } else {
                bad = mid;
            }
        }
        q = shrink(&q, ok);
    }
    // 3. Polish under the hard constraint g >= 0 (infinite objective outside).
    let hard = |x: [f64; 5]| {
        let c = to_p(x);
        if !valid(&c) || c.min_g(lo, hi).0 < 0.0 {
            return f64::INFINITY;
        }
        mse(&c)
    };
    let x0 = [q.a, q.b, q.rho, q.m, q.sigma.ln()];
    if hard(x0).is_finite() {
        let small = step.map(|s| 0.1 * s);
        let r = nelder_mead(hard, x0, small, &opts);
        iterations += r.iterations;
        if r.fx.is_finite() && r.fx <= hard(x0) {
            q = to_p(r.x);
        }
    }
    (q, iterations)
}

impl RawSvi {
    /// Keeps `w(m) = level` strictly positive when shrinking `b` (a flat smile needs `w > 0`).
    fn with_level_floor(self, level: f64) -> RawSvi {
        if level > 0.0 {
            self
        } else {
            RawSvi {
                a: self.a - level + 1e-8,
                ..self
            }
        }
    }
}

/// Options of [`nelder_mead`].
pub(crate) struct NmOptions {
    pub max_iter: usize,
    /// Stop when the spread of function values is below `ftol_abs + ftol_rel |f_best|` ...
    pub ftol_abs: f64,
    pub ftol_rel: f64,
    /// ... and the simplex is smaller than `xtol` in every coordinate (relative to `1 + |x|`).
    pub xtol: f64,
}

/// Result of [`nelder_mead`].
pub(crate) struct NmResult<const N: usize> {
    pub x: [f64; N],
    pub fx: f64,
    pub iterations: usize,
}

/// Nelder–Mead simplex minimisation (Nelder & Mead 1965, with the standard coefficients
/// 1, 2, 1/2, 1/2 as in Lagarias et al. 1998). `f` may return `+inf` for infeasible points.
pub(crate) fn nelder_mead<const N: usize>(
    f: impl Fn([f64; N]) -> f64,
    x0: [f64; N],
    step: [f64; N],
    opts: &NmOptions,
) -> NmResult<N> {
    let eval = |x: &[f64; N]| {
        let v = f(*x);
        if v.is_nan() {
            f64::INFINITY
        } else {
            v
        }
    };
    let mut pts: Vec<[f64; N]> = Vec::with_capacity(N + 1);
    pts.push(x0);
    for i in 0..N {
        let mut x = x0;
        x[i] += if step[i] != 0.0 { step[i] } else { 1e-3 };
        pts.push(x);
    }
    let mut fs: Vec<f64> = pts.iter().map(eval).collect();
    let mut it = 0;
    let mut order: Vec<usize> = (0..=N).collect();
    while it < opts.max_iter {
        order.sort_by(|&i, &j| fs[i].total_cmp(&fs[j]));
        let (ib, iw, isw) = (order[0], order[N], order[N - 1]);
        let (fb, fw) = (fs[ib], fs[iw]);
        let fspread = fw - fb;
        let xspread = (0..N).all(|d| {
            let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
            for p in &pts {
                lo = lo.min(p[d]);
                hi = hi.max(p[d]);
            }
            hi - lo <= opts.xtol * (1.0 + pts[ib][d].abs())
        });
        let flat = fspread.is_finite() && fspread <= opts.ftol_abs + opts.ftol_rel * fb.abs();
        if fb.is_finite() && (xspread || flat) {
            break;
        }
        it += 1;
        let mut c = [0.0; N];
        for &i in &order[..N] {
            for d in 0..N {
                c[d] += pts[i][d];
            }
        }
        for v in c.iter_mut() {
            *v /= N as f64;
        }
        let along = |t: f64| {
            let mut x = [0.0; N];
            for d in 0..N {
                x[d] = c[d] + t * (pts[iw][d] - c[d]);
            }
            x
        };
        let xr = along(-1.0);
        let fr = eval(&xr);
        if fr < fb {
            let xe = along(-2.0);
            let fe = eval(&xe);
            if fe < fr {
                pts[iw] = xe;
                fs[iw] = fe;
            } else {
                pts[iw] = xr;
                fs[iw] = fr;
            }
            continue;
        }
        if fr < fs[isw] {
            pts[iw] = xr;
            fs[iw] = fr;
            continue;
        }
        let (xc, fc) = if fr < fw {
            let x = along(-0.5);
            (x, eval(&x))
        } else {
            let x = along(0.5);
            (x, eval(&x))
        };
        if fc < fr.min(fw) {
            pts[iw] = xc;
            fs[iw] = fc;
            continue;
        }
        // Shrink towards the best point.
        let best = pts[ib];
        for &i in &order[1..] {
            for d in 0..N {
                pts[i][d] = best[d] + 0.5 * (pts[i][d] - best[d]);
            }
            fs[i] = eval(&pts[i]);
        }
    }
    let ib = (0..=N)
        .min_by(|&i, &j| fs[i].total_cmp(&fs[j]))
        .unwrap_or(0);
    NmResult {
        x: pts[ib],
        fx: fs[ib],
        iterations: it,
    }
}

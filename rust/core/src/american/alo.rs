//! The Andersen–Lake–Offengenden engine: L. Andersen, M. Lake, D. Offengenden,
//! "High-performance American option pricing", Journal of Computational Finance 20(1), 2016.
//!
//! Everything is done for a put (calls go through the McDonald–Schröder symmetry). With
//! `X = K min(1, r/q)` the boundary limit at expiry, the boundary is carried as
//! `H(sqrt(tau)) = ln(B(tau)/X)^2`, a smooth function of sqrt(tau) that a Chebyshev polynomial
//! on `n + 1` Chebyshev–Lobatto nodes of `[0, sqrt(T)]` represents well. At each node the
//! boundary solves the fixed-point system (ALO eq. "FP-B", the form derived from smooth pasting)
//!
//! ```text
//! B(tau) = K e^{-(r-q) tau} N(tau, B) / D(tau, B)
//! N = phi(d-(tau, B/K)) / (v sqrt tau) + r Int_0^tau e^{r u} phi(d-(tau-u, B(tau)/B(u))) / (v sqrt(tau-u)) du
//! D = phi(d+(tau, B/K)) / (v sqrt tau) + Phi(d+(tau, B/K))
//!     + q Int_0^tau e^{q u} [ Phi(d+(tau-u, .)) + phi(d+(tau-u, .)) / (v sqrt(tau-u)) ] du
//! ```
//!
//! (or the plain value-matching form "FP-A" with Phi(d-) and Phi(d+) only), iterated from
//! Li's (2010) QD+ approximation of the boundary. The integrals use Gauss–Legendre rules after
//! the change of variable `tau - u = tau (1 + y)^2 / 4`, which removes the 1/sqrt singularity.
//! The premium is the European one plus the early-exercise premium
//!
//! ```text
//! Int_0^T [ r K e^{-r(T-u)} Phi(-d-(T-u, S/B(u))) - q S e^{-q(T-u)} Phi(-d+(T-u, S/B(u))) ] du
//! ```
//!
//! integrated in `sqrt(u)`. Delta and gamma are derivatives of that formula with the boundary
//! held fixed (it does not depend on the spot), theta follows from the Black–Scholes equation.

// Index loops over small matrices read better than iterator chains here, and `!(x <= y)`
// is meant: it is also true for NaN.
#![allow(clippy::needless_range_loop, clippy::neg_cmp_op_on_partial_ord)]

use super::{ncdf, npdf, Contract};
use crate::fastmath::Plain;
use crate::normal::cdf_pdf_scalar;

#[inline(always)]
fn cdf_pdf(x: f64) -> (f64, f64) {
    cdf_pdf_scalar::<Plain>(x)
}
use crate::quadrature::gauss_legendre;
use std::f64::consts::{FRAC_PI_4 as QUARTER_PI, PI};

/// Which fixed-point form the boundary iteration uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Equation {
    /// Value matching: N and D built from Phi(d-) and Phi(d+).
    A,
    /// Smooth pasting: N and D with the densities (ALO's recommended form).
    B,
    /// B while its updates contract fast, else A from the start (the default).
    Auto,
}

/// The discretisation of the method: ALO's (l, m, n, p).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scheme {
    /// Collocation nodes of the boundary beyond tau = 0 (ALO's n).
    pub nodes: usize,
    /// Fixed-point iterations (ALO's m).
    pub iterations: usize,
    /// Gauss–Legendre points of the boundary integrals (ALO's l).
    pub boundary_points: usize,
    /// Gauss–Legendre points of the premium integral (ALO's p).
    pub price_points: usize,
    /// The fixed-point form.
    pub equation: Equation,
    /// Iterations stop once no node's ln B moves by more than this.
    pub tolerance: f64,
}

impl Scheme {
    /// About 1e-5 worst absolute error at spot 100 over the test set (see `tests/american.rs`).
    pub const FAST: Scheme = Scheme {
        nodes: 6,
        iterations: 2,
        boundary_points: 8,
        price_points: 16,
        equation: Equation::Auto,
        tolerance: 1e-6,
    };
    /// The default: within 1e-6 of the converged value over the test set.
    pub const ACCURATE: Scheme = Scheme {
        nodes: 10,
        iterations: 4,
        boundary_points: 16,
        price_points: 32,
        equation: Equation::Auto,
        tolerance: 1e-8,
    };
    /// Within 1e-8 of the converged value over the test set.
    pub const HIGH_PRECISION: Scheme = Scheme {
        nodes: 24,
        iterations: 8,
        boundary_points: 40,
        price_points: 96,
        equation: Equation::Auto,
        tolerance: 1e-11,
    };
}

/// Depth of the Anderson mixing of the fixed-point iteration.
const ANDERSON_DEPTH: usize = 4;

/// Solves the `k` x `k` system in `a` (augmented with the right-hand side in column `k`) by
/// Gaussian elimination with partial pivoting; false when it is (nearly) singular.
fn solve_small(
    a: &mut [[f64; ANDERSON_DEPTH + 1]; ANDERSON_DEPTH],
    k: usize,
    x: &mut [f64; ANDERSON_DEPTH],
) -> bool {
    let scale = (0..k).map(|i| a[i][i].abs()).fold(0.0, f64::max);
    if !(scale > 0.0) {
        return false;
    }
    for i in 0..k {
        // Tikhonov regularisation keeps near-collinear residual histories usable.
        a[i][i] += 1e-14 * scale;
    }
    for c in 0..k {
        let piv = (c..k)
            .max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))
            .unwrap_or(c);
        a.swap(c, piv);
        if a[c][c].abs() <= 1e-300 {
            return false;
        }
        for r in c + 1..k {
            let f = a[r][c] / a[c][c];
            for j in c..=k {
                a[r][j] -= f * a[c][j];
            }
        }
    }
    for c in (0..k).rev() {
        let mut v = a[c][k];
        for j in c + 1..k {
            v -= a[c][j] * x[j];
        }
        x[c] = v / a[c][c];
    }
    x.iter().take(k).all(|v| v.is_finite())
}

/// Price, delta, gamma and theta of one option from the engine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AloValue {
    pub price: f64,
    pub delta: f64,
    pub gamma: f64,
    pub theta: f64,
}

/// The fixed tables of a scheme (quadrature rules, Chebyshev cosines); build once, share
/// between threads.
#[derive(Debug, Clone)]
pub struct Engine {
    scheme: Scheme,
    /// Boundary-integral rule: nodes y and weights on [-1, 1].
    /// (sin, cos) of theta = pi (1 + y) / 4 at its nodes y, and its weights.
    fp_sc: Vec<(f64, f64)>,
    fp_w: Vec<f64>,
    /// Premium-integral rule.
    pr_sc: Vec<(f64, f64)>,
    pr_w: Vec<f64>,
    /// cos(i k pi / n) for i, k in 0..=n, row-major by i.
    cosines: Vec<f64>,
    /// Collocation nodes z_i = cos(i pi / n) in [-1, 1] (z = 1 is sqrt(T), z = -1 is 0).
    z: Vec<f64>,
}

/// Per-option working memory; reuse it across options.
#[derive(Debug, Clone, Default)]
pub struct Workspace {
    /// H at the nodes.
    h: Vec<f64>,
    /// Chebyshev coefficients of H (end terms already halved).
    coef: Vec<f64>,
    /// Boundary at the nodes during an iteration.
    next: Vec<f64>,
    /// The starting guess, kept for a restart.
    start: Vec<f64>,
    /// Anderson mixing: the iterate, and the last residuals and map values (ring buffers).
    x: Vec<f64>,
    fs: Vec<f64>,
    gs: Vec<f64>,
}

/// A put's exercise boundary, normalised to strike 1, as fitted by the engine.
#[derive(Debug, Clone, Copy)]
struct Put {
    r: f64,
    q: f64,
    v: f64,
    t: f64,
    /// ln(X / K): 0 when r >= q, ln(r / q) otherwise.
    ln_x: f64,
}

impl Engine {
    /// Tables for `scheme`.
    pub fn new(scheme: Scheme) -> Engine {
        let n = scheme.nodes.max(2);
        let (fp_y, fp_w) = gauss_legendre(scheme.boundary_points.max(2));
        let (pr_y, pr_w) = gauss_legendre(scheme.price_points.max(2));
        let sc = |y: &Vec<f64>| -> Vec<(f64, f64)> {
            y.iter()
                .map(|y| {
                    let th = QUARTER_PI * (1.0 + y);
                    (th.sin(), th.cos())
                })
                .collect()
        };
        let (fp_sc, pr_sc) = (sc(&fp_y), sc(&pr_y));
        let mut cosines = vec![0.0; (n + 1) * (n + 1)];
        for i in 0..=n {
            for k in 0..=n {
                cosines[i * (n + 1) + k] = ((i * k) as f64 * PI / n as f64).cos();
            }
        }
        let z = (0..=n).map(|i| (i as f64 * PI / n as f64).cos()).collect();
        Engine {
            scheme: Scheme { nodes: n, ..scheme },
            fp_sc,
            fp_w,
            pr_sc,
            pr_w,
            cosines,
            z,
        }
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// A workspace sized for this engine.
    pub fn workspace(&self) -> Workspace {
        let n = self.scheme.nodes;
        Workspace {
            h: vec![0.0; n + 1],
            coef: vec![0.0; n + 1],
            next: vec![0.0; n + 1],
            start: vec![0.0; n + 1],
            x: vec![0.0; n],
            fs: vec![0.0; (ANDERSON_DEPTH + 1) * n],
            gs: vec![0.0; (ANDERSON_DEPTH + 1) * n],
        }
    }

    /// Premium of one option (validated inputs, expiry and vol > 0). NaN in the double-boundary
    /// regime (a put with div < rate < 0, or a call with rate < div < 0).
    pub fn price(&self, c: &Contract, ws: &mut Workspace) -> f64 {
        self.value(c, false, ws).price
    }

    /// Price, delta, gamma and theta (`greeks = false` computes the price only; the others are
    /// then NaN).
    pub fn value(&self, c: &Contract, greeks: bool, ws: &mut Workspace) -> AloValue {
        if c.never_exercised() {
            return european_value(c, greeks);
        }
        let put = if c.is_call() { c.symmetric() } else { *c };
        let (r, q) = (put.rate, put.div);
        if r <= 0.0 {
            // q < r <= 0: two exercise boundaries, outside this method.
            return AloValue {
                price: f64::NAN,
                delta: f64::NAN,
                gamma: f64::NAN,
                theta: f64::NAN,
            };
        }
        let p = Put {
            r,
            q,
            v: put.vol,
            t: put.expiry,
            ln_x: if r >= q { 0.0 } else { (r / q).ln() },
        };
        self.fit_boundary(&p, ws);
        // Normalised to strike 1: spot S/K.
        let s = put.spot / put.strike;
        let (v, dv, gv) = self.put_premium(&p, s, greeks, ws);
        let k = put.strike;
        let (price, delta, gamma) = (k * v, dv, gv / k);
        if !c.is_call() {
            let theta = if greeks {
                theta_from_pde(c, price, delta, gamma)
            } else {
                f64::NAN
            };
            return AloValue {
                price,
                delta,
                gamma,
                theta,
            };
        }
        // The call is the put with spot K and strike S: its delta is the put's strike
        // derivative, by homogeneity (V = S dV/dS + K dV/dK), its gamma K^2/S^2 times the put's.
        let (delta, gamma) = if greeks {
            let ps = put.spot;
            let pk = put.strike;
            ((price - ps * delta) / pk, ps * ps * gamma / (pk * pk))
        } else {
            (f64::NAN, f64::NAN)
        };
        let theta = if greeks {
            theta_from_pde(c, price, delta, gamma)
        } else {
            f64::NAN
        };
        AloValue {
            price,
            delta,
            gamma,
            theta,
        }
    }

    /// The exercise boundary at the given times to expiry (each in [0, expiry]; others give
    /// NaN): the spot at or below which the put (at or above which the call) is exercised.
    /// +inf for a call and 0 for a put that is never exercised early.
    pub fn boundary(&self, c: &Contract, taus: &[f64], out: &mut [f64], ws: &mut Workspace) {
        let never = c.never_exercised();
        let put = if c.is_call() { c.symmetric() } else { *c };
        let (r, q) = (put.rate, put.div);
        let double = !never && r <= 0.0;
        let p = Put {
            r,
            q,
            v: put.vol,
            t: put.expiry,
            ln_x: if r >= q { 0.0 } else { (r / q).ln() },
        };
        if !never && !double {
            self.fit_boundary(&p, ws);
        }
        for (o, &tau) in out.iter_mut().zip(taus) {
            *o = if !(0.0..=c.expiry).contains(&tau) || double {
                f64::NAN
            } else if never {
                if c.is_call() {
                    f64::INFINITY
                } else {
                    0.0
                }
            } else {
                // Normalised put boundary b(tau) for strike 1.
                let b = if tau == 0.0 {
                    p.ln_x.exp()
                } else {
                    (p.ln_x - self.sqrt_h(tau.sqrt() / p.t.sqrt(), ws)).exp()
                };
                if c.is_call() {
                    // The call with spot S is exercised when the put with spot K, strike S is:
                    // K <= S b(tau), i.e. S >= K / b(tau).
                    c.strike / b
                } else {
                    c.strike * b
                }
            };
        }
    }

    /// sqrt(H) at relative position `w = sqrt(tau / T)` in [0, 1], by Clenshaw's recurrence.
    #[inline(always)]
    fn sqrt_h(&self, w: f64, ws: &Workspace) -> f64 {
        let z = 2.0 * w - 1.0;
        let n = self.scheme.nodes;
        let (mut b1, mut b2) = (0.0, 0.0);
        let z2 = 2.0 * z;
        for k in (1..=n).rev() {
            let b0 = ws.coef[k] + z2 * b1 - b2;
            b2 = b1;
            b1 = b0;
        }
        let h = ws.coef[0] + z * b1 - b2;
        h.max(0.0).sqrt()
    }

    /// Chebyshev coefficients of H from its node values (ws.h).
    fn interpolate(&self, ws: &mut Workspace) {
        let n = self.scheme.nodes;
        let nf = n as f64;
        for k in 0..=n {
            let mut s = 0.5 * (ws.h[0] + ws.h[n] * self.cosines[n * (n + 1) + k]);
            for i in 1..n {
                s += ws.h[i] * self.cosines[i * (n + 1) + k];
            }
            let mut a = 2.0 * s / nf;
            if k == 0 || k == n {
                a *= 0.5;
            }
            ws.coef[k] = a;
        }
    }

    /// Fits the put boundary (strike 1): QD+ start, then the fixed-point iterations.
    fn fit_boundary(&self, p: &Put, ws: &mut Workspace) {
        let n = self.scheme.nodes;
        ws.h.resize(n + 1, 0.0);
        ws.coef.resize(n + 1, 0.0);
        ws.next.resize(n + 1, 0.0);
        let sqrt_t = p.t.sqrt();
        for i in 0..=n {
            let xi = 0.5 * sqrt_t * (1.0 + self.z[i]);
            let tau = xi * xi;
            ws.h[i] = if i == n || tau <= 0.0 {
                0.0
            } else {
                let b = qd_plus_boundary(p, tau);
                let l = (b.ln() - p.ln_x).min(0.0);
                l * l
            };
        }
        self.interpolate(ws);
        let m = self.scheme.iterations;
        match self.scheme.equation {
            Equation::A => {
                self.iterate_anderson(p, Equation::A, m, ws);
            }
            Equation::B => {
                self.iterate(p, Equation::B, m, false, ws);
            }
            Equation::Auto => {
                // FP-B converges in a few steps where it is stable; where it is not (long
                // expiries with high vol or rate) its updates stop shrinking: start again
                // from QD+ with the slower but stable FP-A.
                ws.start.clone_from(&ws.h);
                if !self.iterate(p, Equation::B, m, true, ws) {
                    ws.h.clone_from(&ws.start);
                    self.interpolate(ws);
                    self.iterate(p, Equation::A, 16 * m, false, ws);
                }
            }
        }
    }

    /// Up to `m` fixed-point sweeps over the nodes; false when the updates stop contracting.
    fn iterate(&self, p: &Put, eq: Equation, m: usize, check: bool, ws: &mut Workspace) -> bool {
        let n = self.scheme.nodes;
        let sqrt_t = p.t.sqrt();
        let mut last = f64::INFINITY;
        for _ in 0..m {
            let mut moved = 0.0f64;
            for i in 0..n {
                let xi = 0.5 * sqrt_t * (1.0 + self.z[i]);
                let tau = xi * xi;
                let sqrt_h_tau = ws.h[i].max(0.0).sqrt();
                let b = self.fixed_point(p, eq, tau, sqrt_h_tau, ws);
                let l = (b.ln() - p.ln_x).min(0.0);
                moved = moved.max((-l - sqrt_h_tau).abs());
                ws.next[i] = l * l;
            }
            ws.next[n] = 0.0;
            if check && !(moved <= 0.5 * last) && last < f64::INFINITY {
                return false;
            }
            last = moved;
            std::mem::swap(&mut ws.h, &mut ws.next);
            self.interpolate(ws);
            if moved <= self.scheme.tolerance {
                break;
            }
        }
        true
    }

    /// Fixed-point sweeps accelerated by Anderson mixing (D. G. Anderson, J. ACM 12, 1965;
    /// H. Walker & P. Ni, SIAM J. Numer. Anal. 49, 2011) of depth [`ANDERSON_DEPTH`] on
    /// x = sqrt(H) = -ln(B/X) at the nodes: each new iterate is the combination of the last
    /// map values whose residuals have the least norm. FP-A alone contracts slowly for long
    /// expiries; mixed, it converges in a handful of sweeps. Stops at `tolerance` or `m` sweeps.
    fn iterate_anderson(&self, p: &Put, eq: Equation, m: usize, ws: &mut Workspace) {
        let n = self.scheme.nodes;
        let sqrt_t = p.t.sqrt();
        let slots = ANDERSON_DEPTH + 1;
        ws.fs.resize(slots * n, 0.0);
        ws.gs.resize(slots * n, 0.0);
        ws.x.resize(n, 0.0);
        for i in 0..n {
            ws.x[i] = ws.h[i].max(0.0).sqrt();
        }
        for k in 0..m {
            let slot = k % slots;
            let mut res = 0.0f64;
            for i in 0..n {
                let xi = 0.5 * sqrt_t * (1.0 + self.z[i]);
                let tau = xi * xi;
                let b = self.fixed_point(p, eq, tau, ws.x[i], ws);
                let g = (p.ln_x - b.ln()).max(0.0);
                ws.gs[slot * n + i] = g;
                ws.fs[slot * n + i] = g - ws.x[i];
                res = res.max((g - ws.x[i]).abs());
            }
            let mk = k.min(ANDERSON_DEPTH);
            let mut gamma = [0.0f64; ANDERSON_DEPTH];
            let mixed = res > self.scheme.tolerance && mk > 0 && {
                // Normal equations of min |f_k - dF gamma|, dF_j = f_{j+1} - f_j.
                let col = |j: usize, i: usize, v: &Vec<f64>| {
                    let a = (k - mk + j) % slots;
                    let b = (k - mk + j + 1) % slots;
                    v[b * n + i] - v[a * n + i]
                };
                let mut a = [[0.0f64; ANDERSON_DEPTH + 1]; ANDERSON_DEPTH];
                for r in 0..mk {
                    for c in 0..mk {
                        a[r][c] = (0..n).map(|i| col(r, i, &ws.fs) * col(c, i, &ws.fs)).sum();
                    }
                    a[r][mk] = (0..n)
                        .map(|i| col(r, i, &ws.fs) * ws.fs[slot * n + i])
                        .sum();
                }
                let ok = solve_small(&mut a, mk, &mut gamma);
                if ok {
                    for i in 0..n {
                        let mut v = ws.gs[slot * n + i];
                        for (j, g) in gamma.iter().enumerate().take(mk) {
                            v -= g * col(j, i, &ws.gs);
                        }
                        ws.x[i] = v.max(0.0);
                    }
                }
                ok
            };
            if !mixed {
                for i in 0..n {
                    ws.x[i] = ws.gs[slot * n + i];
                }
            }
            for i in 0..n {
                ws.h[i] = ws.x[i] * ws.x[i];
            }
            ws.h[n] = 0.0;
            self.interpolate(ws);
            if res <= self.scheme.tolerance {
                break;
            }
        }
    }

    /// One fixed-point update of the boundary at time to expiry `tau` (> 0), given
    /// sqrt(H(tau)) = -ln(B(tau)/X).
    #[inline]
    fn fixed_point(&self, p: &Put, eq: Equation, tau: f64, sqrt_h_tau: f64, ws: &Workspace) -> f64 {
        let (r, q, v) = (p.r, p.q, p.v);
        let sqrt_tau = tau.sqrt();
        let ln_b = p.ln_x - sqrt_h_tau; // ln(B(tau)/K), K = 1
        let vst = v * sqrt_tau;
        let dp = (ln_b + (r - q) * tau) / vst + 0.5 * vst;
        let dm = dp - vst;
        let inv_t = 1.0 / p.t.sqrt();
        // Int_0^tau f(u) du with u = tau sin^2(theta), tau - u = s = tau cos^2(theta),
        // theta = pi (1 + y) / 4: sqrt(u) and sqrt(s) are both smooth in y, which the boundary
        // (a function of sqrt(u)) and the 1/sqrt(s) factor need; du = tau sin(2 theta) pi/4 dy.
        let (mut int_n, mut int_d) = (0.0, 0.0);
        let eq_b = eq == Equation::B;
        for (&(sin, cos), &w) in self.fp_sc.iter().zip(&self.fp_w) {
            let sqrt_u = sqrt_tau * sin;
            let sqrt_s = sqrt_tau * cos;
            let u = sqrt_u * sqrt_u;
            let s = sqrt_s * sqrt_s;
            let vss = v * sqrt_s;
            // ln(B(tau)/B(u)) = sqrt(H(u)) - sqrt(H(tau)).
            let ln_ratio = self.sqrt_h(sqrt_u * inv_t, ws) - sqrt_h_tau;
            let ep = (ln_ratio + (r - q) * s) / vss + 0.5 * vss;
            let em = ep - vss;
            let jac = QUARTER_PI * 2.0 * tau * sin * cos; // du/dy
                                                          // jac / (v sqrt s): the 1/sqrt(s) singularity is gone.
            let g = QUARTER_PI * 2.0 * sqrt_tau * sin / v;
            let er = w * (r * u).exp();
            let eq = w * (q * u).exp();
            let (cp, pp) = cdf_pdf(ep);
            if eq_b {
                int_n += er * npdf(em) * g;
                int_d += eq * (cp * jac + pp * g);
            } else {
                int_n += er * ncdf(em) * jac;
                int_d += eq * cp * jac;
            }
        }
        let (cdp, pdp) = cdf_pdf(dp);
        let pdm = npdf(dm);
        let drift = -(r - q) * tau;
        let ln_new = if eq_b {
            let num = pdm / vst + r * int_n;
            let den = pdp / vst + cdp + q * int_d;
            drift + (num / den).ln()
        } else {
            let num = ncdf(dm) + r * int_n;
            let den = cdp + q * int_d;
            drift + (num / den).ln()
        };
        if ln_new.is_finite() {
            ln_new.exp()
        } else {
            ln_b.exp()
        }
    }

    /// Put premium for strike 1 and spot `s`, with delta and gamma when asked.
    fn put_premium(&self, p: &Put, s: f64, greeks: bool, ws: &Workspace) -> (f64, f64, f64) {
        let (r, q, v, t) = (p.r, p.q, p.v, p.t);
        // Exercised at once at or below the boundary now.
        let b_now = (p.ln_x - self.sqrt_h(1.0, ws)).exp();
        if s <= b_now {
            return (1.0 - s, -1.0, 0.0);
        }
        let e = Contract {
            phi: -1.0,
            spot: s,
            strike: 1.0,
            expiry: t,
            vol: v,
            rate: r,
            div: q,
        };
        let eu = european_value(&e, greeks);
        let sqrt_t = t.sqrt();
        let ln_s = s.ln();
        let (mut prem, mut dprem, mut gprem) = (0.0, 0.0, 0.0);
        // u = T sin^2(theta), T - u = T cos^2(theta), theta = pi (1 + y) / 4.
        for (&(sin, cos), &w) in self.pr_sc.iter().zip(&self.pr_w) {
            let sqrt_st = sqrt_t * cos;
            let st = sqrt_st * sqrt_st;
            let ln_bu = p.ln_x - self.sqrt_h(sin, ws);
            let vss = v * sqrt_st;
            let dp = (ln_s - ln_bu + (r - q) * st) / vss + 0.5 * vss;
            let dm = dp - vss;
            let jac = w * QUARTER_PI * 2.0 * t * sin * cos;
            let er = (-r * st).exp();
            let eq = (-q * st).exp();
            let nmp = ncdf(-dp);
            prem += jac * (r * er * ncdf(-dm) - q * s * eq * nmp);
            if greeks {
                // B(u) e^{-r st} phi(d-) = S e^{-q st} phi(d+).
                let bu = ln_bu.exp();
                let pdp = npdf(dp);
                let a = q - r / bu;
                dprem += jac * eq * (a * pdp / vss - q * nmp);
                gprem += jac * eq * (-a * dp * pdp / (s * vss * vss) + q * pdp / (s * vss));
            }
        }
        let price = (eu.price + prem).max(1.0 - s);
        (price, eu.delta + dprem, eu.gamma + gprem)
    }
}

/// theta = -dV/dT from the Black–Scholes equation in the continuation region
/// (rV = dV/dt + (r - q) S delta + vol^2 S^2 gamma / 2), 0 where the option is exercised.
fn theta_from_pde(c: &Contract, price: f64, delta: f64, gamma: f64) -> f64 {
    if gamma == 0.0 && (price - c.intrinsic()).abs() <= 1e-15 * c.strike {
        return 0.0;
    }
    c.rate * price
        - (c.rate - c.div) * c.spot * delta
        - 0.5 * c.vol * c.vol * c.spot * c.spot * gamma
}

/// European price, delta, gamma and theta of a contract (BSM closed form).
pub(crate) fn european_value(c: &Contract, greeks: bool) -> AloValue {
    let (s, k, t, v, r, q, phi) = (c.spot, c.strike, c.expiry, c.vol, c.rate, c.div, c.phi);
    let sqrt_t = t.sqrt();
    let sd = v * sqrt_t;
    let dfq = (-q * t).exp();
    let dfr = (-r * t).exp();
    let d1 = ((s / k).ln() + (r - q) * t) / sd + 0.5 * sd;
    let d2 = d1 - sd;
    let n1 = ncdf(phi * d1);
    let n2 = ncdf(phi * d2);
    let price = (phi * (s * dfq * n1 - k * dfr * n2)).max(0.0);
    if !greeks {
        return AloValue {
            price,
            delta: f64::NAN,
            gamma: f64::NAN,
            theta: f64::NAN,
        };
    }
    let pd1 = npdf(d1);
    let delta = phi * dfq * n1;
    let gamma = dfq * pd1 / (s * sd);
    let theta = -s * dfq * pd1 * v / (2.0 * sqrt_t) + phi * (q * s * dfq * n1 - r * k * dfr * n2);
    AloValue {
        price,
        delta,
        gamma,
        theta,
    }
}

/// Li's QD+ approximation of the put boundary at time to expiry `tau` (strike 1): the root of
///
/// `(1 - e^{-q tau} Phi(-d+(S))) S + (lambda + c0) (1 - S - p(S)) = 0`
///
/// with h = 1 - e^{-r tau}, alpha = 2r/v^2, beta = 2(r - q)/v^2,
/// lambda = (-(beta - 1) - sqrt((beta - 1)^2 + 4 alpha/h)) / 2 and Li's correction
/// `c0 = -(1 - h) alpha / (2 lambda + beta - 1) (1/h - e^{r tau} Theta / (r (1 - S - p)) +
/// lambda' / (2 lambda + beta - 1))`, Theta the European put's calendar theta (M. Li,
/// "Analytical approximations for the critical stock prices of American options", Quantitative
/// Finance 10, 2010; ALO section 4.1). Solved by Illinois regula falsi on ln S in (0, X].
fn qd_plus_boundary(p: &Put, tau: f64) -> f64 {
    let (r, q, v) = (p.r, p.q, p.v);
    let v2 = v * v;
    let h = -(-r * tau).exp_m1();
    let alpha = 2.0 * r / v2;
    let beta = 2.0 * (r - q) / v2;
    let disc = ((beta - 1.0) * (beta - 1.0) + 4.0 * alpha / h).sqrt();
    let lambda = 0.5 * (-(beta - 1.0) - disc);
    let lambda_d = alpha / (h * h * disc);
    let den = 2.0 * lambda + beta - 1.0;
    let a = (1.0 - h) * alpha / den;
    let sqrt_tau = tau.sqrt();
    let vst = v * sqrt_tau;
    let dfq = (-q * tau).exp();
    let dfr = (-r * tau).exp();
    let ert = (r * tau).exp();
    let f = |ln_s: f64| -> f64 {
        let s = ln_s.exp();
        let d1 = (ln_s + (r - q) * tau) / vst + 0.5 * vst;
        let d2 = d1 - vst;
        let nm1 = ncdf(-d1);
        let nm2 = ncdf(-d2);
        let put = (dfr * nm2 - s * dfq * nm1).max(0.0);
        let theta = -s * dfq * npdf(d1) * v / (2.0 * sqrt_tau) + r * dfr * nm2 - q * s * dfq * nm1;
        let g = 1.0 - s - put;
        // c0 * g without dividing by g (g may vanish).
        let c0g = -a * (g / h - ert * theta / r + lambda_d * g / den);
        (1.0 - dfq * nm1) * s + lambda * g + c0g
    };
    let hi = p.ln_x;
    // The root lies below X; f > 0 near X and f < 0 deep in the money.
    let mut x1 = hi;
    let mut f1 = f(x1);
    let mut x0 = hi - 0.5 * vst - 1e-3;
    let mut f0 = f(x0);
    let mut step = vst.max(1e-3);
    let mut guard = 0;
    while f0 > 0.0 && guard < 60 {
        x1 = x0;
        f1 = f0;
        x0 -= step;
        step *= 2.0;
        f0 = f(x0);
        guard += 1;
    }
    if !(f0 <= 0.0) || !(f1 >= 0.0) {
        // No sign change (extreme inputs): fall back to the Bjerksund–Stensland-like level.
        return (hi - vst).exp();
    }
    // Illinois-modified regula falsi on [x0, x1] (ln S).
    let (mut lo, mut flo, mut up, mut fup) = (x0, f0, x1, f1);
    let mut side = 0i8;
    for _ in 0..100 {
        let x = (lo * fup - up * flo) / (fup - flo);
        let fx = f(x);
        if fx == 0.0 {
            return x.exp();
        }
        if fx < 0.0 {
            lo = x;
            flo = fx;
            if side == -1 {
                fup *= 0.5;
            }
            side = -1;
        } else {
            up = x;
            fup = fx;
            if side == 1 {
                flo *= 0.5;
            }
            side = 1;
        }
        if (up - lo).abs() <= 1e-13 {
            break;
        }
    }
    (0.5 * (lo + up)).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(s: f64, t: f64, v: f64, r: f64, q: f64) -> Contract {
        Contract {
            phi: -1.0,
            spot: s,
            strike: 100.0,
            expiry: t,
            vol: v,
            rate: r,
            div: q,
        }
    }

    #[test]
    fn converges_with_the_scheme() {
        let big = Engine::new(Scheme {
            nodes: 48,
            iterations: 24,
            boundary_points: 96,
            price_points: 256,
            equation: Equation::A,
            tolerance: 1e-14,
        });
        let mut ws = big.workspace();
        for c in [
            put(100.0, 1.0, 0.2, 0.05, 0.0),
            put(90.0, 3.0, 0.4, 0.08, 0.02),
            put(110.0, 0.25, 0.3, 0.03, 0.06),
        ] {
            let reference = big.price(&c, &mut ws);
            for scheme in [Scheme::FAST, Scheme::ACCURATE, Scheme::HIGH_PRECISION] {
                let e = Engine::new(scheme);
                let mut w = e.workspace();
                let v = e.price(&c, &mut w);
                eprintln!("{c:?} {scheme:?} {v} {reference} {:e}", v - reference);
            }
        }
    }
}

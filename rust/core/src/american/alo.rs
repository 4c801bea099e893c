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

#[inline(always)]
fn cdf_pdf(x: f64) -> (f64, f64) {
    normal::cdf_pdf::<Plain>(x)
}
use crate::dispatch::multiversion;
use crate::fastmath::{exp, Arith};
use crate::normal;
use crate::quadrature::gauss_legendre;
use std::f64::consts::{FRAC_PI_2, FRAC_PI_4 as QUARTER_PI, PI};

/// Which fixed-point form the boundary iteration uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Equation {
    /// Value matching: N and D built from Phi(d-) and Phi(d+). Stable everywhere; the default.
    A,
    /// Smooth pasting: N and D with the densities. Converges in fewer sweeps where it
    /// converges, but diverges or settles on a wrong boundary for long expiries when r is well
    /// above q or the vol is high (seen on the test grid), so no preset uses it.
    B,
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
    /// A lighter discretisation for options with little carry and variance over their life
    /// (max(rate, div) T below [`LIGHT_CARRY`], vol^2 T below [`LIGHT_VARIANCE`]), whose
    /// boundary is smooth enough that fewer nodes and points reach the same accuracy
    /// (measured on the test grid and the benchmark's random book).
    pub light: Option<Light>,
}

/// The node and point counts of a [`Scheme`]'s light variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Light {
    pub nodes: usize,
    pub boundary_points: usize,
    pub price_points: usize,
}

/// max(rate, div) * expiry below which a scheme's [`Light`] variant is used...
pub const LIGHT_CARRY: f64 = 0.05;
/// ... when the total variance vol^2 * expiry is also below this.
pub const LIGHT_VARIANCE: f64 = 0.25;

impl Scheme {
    /// Worst error 1.6e-4, RMS 1.1e-5 (spot 100 scale) over the 3,780-option grid of
    /// `examples/alo_tune.rs`; about 50k options/s per core there.
    pub const FAST: Scheme = Scheme {
        nodes: 8,
        iterations: 32,
        boundary_points: 12,
        price_points: 16,
        equation: Equation::A,
        tolerance: 1e-6,
        light: Some(Light {
            nodes: 6,
            boundary_points: 8,
            price_points: 16,
        }),
    };
    /// The default: worst error 6e-6, RMS 5e-7 over the same grid; about 20k options/s per
    /// core there (more on short-dated chains, which take the light variant).
    pub const ACCURATE: Scheme = Scheme {
        nodes: 16,
        iterations: 64,
        boundary_points: 16,
        price_points: 32,
        equation: Equation::A,
        tolerance: 1e-7,
        light: Some(Light {
            nodes: 8,
            boundary_points: 12,
            price_points: 24,
        }),
    };
    /// Worst error 5e-8, RMS 1.5e-9 over the same grid; about 1.4k options/s per core.
    pub const HIGH_PRECISION: Scheme = Scheme {
        nodes: 32,
        iterations: 64,
        boundary_points: 32,
        price_points: 64,
        equation: Equation::A,
        tolerance: 1e-10,
        light: None,
    };
    /// The converged reference the tests measure the presets against.
    pub const REFERENCE: Scheme = Scheme {
        nodes: 48,
        iterations: 128,
        boundary_points: 96,
        price_points: 256,
        equation: Equation::A,
        tolerance: 1e-14,
        light: None,
    };
}

/// FP-B sweeps before FP-A takes over (scheme equation B).
const B_SWEEPS: usize = 3;

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

/// The fixed tables of a scheme (quadrature rules, Chebyshev cosines, interpolation
/// matrices); build once, share between threads. Nothing here depends on the option: every
/// node and quadrature point sits at a fixed fraction of sqrt(T).
#[derive(Debug, Clone)]
pub struct Engine {
    scheme: Scheme,
    /// Boundary-integral rule: sin and cos of theta = pi (1 + y) / 4 at its nodes y, weights.
    fp_sin: Vec<f64>,
    fp_cos: Vec<f64>,
    fp_w: Vec<f64>,
    /// Premium-integral rule: nodes y and weights on [-1, 1].
    pr_y: Vec<f64>,
    pr_w: Vec<f64>,
    /// cos(i k pi / n) for i, k in 0..=n, row-major by i.
    cosines: Vec<f64>,
    /// Collocation nodes z_i = cos(i pi / n) in [-1, 1] (z = 1 is sqrt(T), z = -1 is 0).
    z: Vec<f64>,
    /// H at boundary-integral point (i, j) (u = tau_i sin^2 theta_j) as a linear map of H at
    /// nodes 0..n (H_n = 0): column-major, column m holds n * l weights.
    m_fp: Vec<f64>,
    /// The engine of the scheme's light variant.
    light: Option<Box<Engine>>,
}

/// Per-option working memory; reuse it across options.
#[derive(Debug, Clone, Default)]
pub struct Workspace {
    /// H at the nodes.
    h: Vec<f64>,
    /// Chebyshev coefficients of H (end terms already halved).
    coef: Vec<f64>,
    /// Anderson mixing: the iterate, and the last residuals and map values (ring buffers).
    x: Vec<f64>,
    fs: Vec<f64>,
    gs: Vec<f64>,
    /// Per boundary-integral point (n * l): 1/(v sqrt s), drift term of d+, v sqrt s, and the
    /// weights of the N and D integrands (quadrature weight, discounting, Jacobian).
    inv_vss: Vec<f64>,
    drift: Vec<f64>,
    vss: Vec<f64>,
    wn: Vec<f64>,
    wn_b: Vec<f64>,
    wd: Vec<f64>,
    wd2: Vec<f64>,
    /// Interpolated H and the integrand terms at those points, per sweep.
    hu: Vec<f64>,
    tn: Vec<f64>,
    td: Vec<f64>,
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

impl Put {
    /// The normalised put of a put contract (calls go through `Contract::symmetric` first).
    fn of(put: &Contract) -> Put {
        let (r, q) = (put.rate, put.div);
        Put {
            r,
            q,
            v: put.vol,
            t: put.expiry,
            ln_x: if r >= q { 0.0 } else { (r / q).ln() },
        }
    }
}

impl Engine {
    /// Tables for `scheme`.
    pub fn new(scheme: Scheme) -> Engine {
        let n = scheme.nodes.max(2);
        let l = scheme.boundary_points.max(2);
        let p = scheme.price_points.max(2);
        let (fp_y, fp_w) = gauss_legendre(l);
        let (pr_y, pr_w) = gauss_legendre(p);
        let theta = |y: &f64| QUARTER_PI * (1.0 + y);
        let fp_sin: Vec<f64> = fp_y.iter().map(|y| theta(y).sin()).collect();
        let fp_cos: Vec<f64> = fp_y.iter().map(|y| theta(y).cos()).collect();
        let mut cosines = vec![0.0; (n + 1) * (n + 1)];
        for i in 0..=n {
            for k in 0..=n {
                cosines[i * (n + 1) + k] = ((i * k) as f64 * PI / n as f64).cos();
            }
        }
        let z: Vec<f64> = (0..=n).map(|i| (i as f64 * PI / n as f64).cos()).collect();
        // Weight of node m in the Chebyshev interpolant at relative position w = sqrt(u/T):
        // H(w) = sum_k a_k T_k(2w - 1), a_k = (2/n) sum''_m H_m cos(m k pi / n).
        let weights = |w: f64, out: &mut [f64]| {
            let zz = 2.0 * w - 1.0;
            let mut tk = vec![0.0; n + 1];
            tk[0] = 1.0;
            tk[1] = zz;
            for k in 2..=n {
                tk[k] = 2.0 * zz * tk[k - 1] - tk[k - 2];
            }
            for (m, o) in out.iter_mut().enumerate().take(n) {
                let mut acc = 0.0;
                for (k, t) in tk.iter().enumerate() {
                    let half = if k == 0 || k == n { 0.5 } else { 1.0 };
                    acc += half * t * cosines[m * (n + 1) + k];
                }
                let half = if m == 0 { 0.5 } else { 1.0 };
                *o = half * 2.0 / n as f64 * acc;
            }
        };
        let mut m_fp = vec![0.0; n * n * l];
        let mut row = vec![0.0; n];
        for i in 0..n {
            let c = 0.5 * (1.0 + z[i]); // sqrt(tau_i / T)
            for j in 0..l {
                weights(c * fp_sin[j], &mut row);
                for m in 0..n {
                    m_fp[m * n * l + i * l + j] = row[m];
                }
            }
        }
        Engine {
            scheme: Scheme {
                nodes: n,
                boundary_points: l,
                price_points: p,
                ..scheme
            },
            fp_sin,
            fp_cos,
            fp_w,
            pr_y,
            pr_w,
            cosines,
            z,
            m_fp,
            light: scheme.light.map(|l| {
                Box::new(Engine::new(Scheme {
                    nodes: l.nodes,
                    boundary_points: l.boundary_points,
                    price_points: l.price_points,
                    light: None,
                    ..scheme
                }))
            }),
        }
    }

    /// The engine for `c`: the light variant when the option carries little over its life.
    #[inline]
    fn for_contract(&self, c: &Contract) -> &Engine {
        match &self.light {
            Some(light)
                if c.rate.max(c.div) * c.expiry < LIGHT_CARRY
                    && c.vol * c.vol * c.expiry < LIGHT_VARIANCE =>
            {
                light
            }
            _ => self,
        }
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// A workspace sized for this engine.
    pub fn workspace(&self) -> Workspace {
        let n = self.scheme.nodes;
        let nl = n * self.scheme.boundary_points;
        let v = |k: usize| vec![0.0; k];
        Workspace {
            h: v(n + 1),
            coef: v(n + 1),
            x: v(n),
            fs: v((ANDERSON_DEPTH + 1) * n),
            gs: v((ANDERSON_DEPTH + 1) * n),
            inv_vss: v(nl),
            drift: v(nl),
            vss: v(nl),
            wn: v(nl),
            wn_b: v(nl),
            wd: v(nl),
            wd2: v(nl),
            hu: v(nl.max(self.scheme.price_points)),
            tn: v(nl.max(self.scheme.price_points)),
            td: v(nl.max(self.scheme.price_points)),
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
        let e = self.for_contract(c);
        if !std::ptr::eq(e, self) {
            return e.value(c, greeks, ws);
        }
        if c.never_exercised() {
            return european_value(c, greeks);
        }
        let put = if c.is_call() { c.symmetric() } else { *c };
        let r = put.rate;
        if r <= 0.0 {
            // q < r <= 0: two exercise boundaries, outside this method.
            return AloValue {
                price: f64::NAN,
                delta: f64::NAN,
                gamma: f64::NAN,
                theta: f64::NAN,
            };
        }
        let p = Put::of(&put);
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
        let e = self.for_contract(c);
        if !std::ptr::eq(e, self) {
            return e.boundary(c, taus, out, ws);
        }
        let never = c.never_exercised();
        let put = if c.is_call() { c.symmetric() } else { *c };
        let r = put.rate;
        let double = !never && r <= 0.0;
        let p = Put::of(&put);
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
        let l = self.scheme.boundary_points;
        if ws.h.len() < n + 1 || ws.inv_vss.len() < n * l {
            *ws = self.workspace();
        }
        let sqrt_t = p.t.sqrt();
        // From the shortest time to expiry (node n - 1) to the longest (node 0), each root
        // bracketed from the previous one.
        ws.h[n] = 0.0;
        let mut above = None;
        for i in (0..n).rev() {
            let xi = 0.5 * sqrt_t * (1.0 + self.z[i]);
            let ln_b = qd_plus_boundary(p, xi * xi, above);
            above = Some(ln_b);
            let l = (ln_b - p.ln_x).min(0.0);
            ws.h[i] = l * l;
        }
        self.prepare(p, ws);
        if self.scheme.equation == Equation::B {
            // FP-B closes in fast; FP-A (always stable) then polishes, so the result is FP-A's
            // fixed point whatever FP-B did.
            self.iterate_anderson(p, Equation::B, B_SWEEPS, ws);
        }
        self.iterate_anderson(p, Equation::A, self.scheme.iterations, ws);
        self.interpolate(ws);
    }

    /// The option's constants at every boundary-integral point: with u = tau sin^2(theta),
    /// s = tau - u = tau cos^2(theta) (theta = pi (1 + y) / 4, so that sqrt(u) and sqrt(s) are
    /// both smooth in y, as the boundary, a function of sqrt(u), and the 1/sqrt(s) factor
    /// need), du = tau sin(2 theta) pi/4 dy.
    fn prepare(&self, p: &Put, ws: &mut Workspace) {
        prepare_points(
            [p.r, p.q, p.v, p.t.sqrt()],
            &self.z,
            [&self.fp_sin, &self.fp_cos, &self.fp_w],
            ws,
        );
    }

    /// Fixed-point sweeps accelerated by Anderson mixing (D. G. Anderson, J. ACM 12, 1965;
    /// H. Walker & P. Ni, SIAM J. Numer. Anal. 49, 2011) of depth [`ANDERSON_DEPTH`] on
    /// x = sqrt(H) = -ln(B/X) at the nodes: each new iterate is the combination of the last
    /// map values whose residuals have the least norm. The plain iteration contracts slowly
    /// for long expiries; mixed, it converges in a handful of sweeps. Stops at `tolerance` or
    /// after `m` sweeps; ws.h holds the result.
    fn iterate_anderson(&self, p: &Put, eq: Equation, m: usize, ws: &mut Workspace) {
        let n = self.scheme.nodes;
        let slots = ANDERSON_DEPTH + 1;
        for i in 0..n {
            ws.x[i] = ws.h[i].max(0.0).sqrt();
        }
        for k in 0..m {
            let slot = k % slots;
            self.sweep(p, eq, ws, slot);
            let res = (0..n)
                .map(|i| ws.fs[slot * n + i].abs())
                .fold(0.0, f64::max);
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
            if res <= self.scheme.tolerance {
                break;
            }
        }
        for i in 0..n {
            ws.h[i] = ws.x[i] * ws.x[i];
        }
        ws.h[n] = 0.0;
    }

    /// One fixed-point sweep: the map G(x) at every node into ws.gs[slot], G(x) - x into
    /// ws.fs[slot].
    fn sweep(&self, p: &Put, eq: Equation, ws: &mut Workspace, slot: usize) {
        let n = self.scheme.nodes;
        let l = self.scheme.boundary_points;
        let eq_b = eq == Equation::B;
        sweep_points(eq_b, n, l, &self.m_fp, ws);
        let (r, q, v) = (p.r, p.q, p.v);
        let sqrt_t = p.t.sqrt();
        for i in 0..n {
            let sqrt_tau = 0.5 * sqrt_t * (1.0 + self.z[i]);
            let tau = sqrt_tau * sqrt_tau;
            let x = ws.x[i];
            let (int_n, int_d) = (
                ws.tn[i * l..(i + 1) * l].iter().sum::<f64>(),
                ws.td[i * l..(i + 1) * l].iter().sum::<f64>(),
            );
            let ln_b = p.ln_x - x; // ln(B(tau)/K), K = 1
            let vst = v * sqrt_tau;
            let dp = (ln_b + (r - q) * tau) / vst + 0.5 * vst;
            let dm = dp - vst;
            let (cdp, pdp) = cdf_pdf(dp);
            let (num, den) = if eq_b {
                (npdf(dm) / vst + int_n, pdp / vst + cdp + int_d)
            } else {
                (ncdf(dm) + int_n, cdp + int_d)
            };
            let ln_new = -(r - q) * tau + (num / den).ln();
            let g = if ln_new.is_finite() {
                (p.ln_x - ln_new).max(0.0)
            } else {
                x
            };
            ws.gs[slot * n + i] = g;
            ws.fs[slot * n + i] = g - x;
        }
    }

    /// Put premium for strike 1 and spot `s`, with delta and gamma when asked.
    fn put_premium(&self, p: &Put, s: f64, greeks: bool, ws: &mut Workspace) -> (f64, f64, f64) {
        let (r, q, v, t) = (p.r, p.q, p.v, p.t);
        // Exercised at once at or below the boundary now (node 0 is tau = T).
        let b_now = (p.ln_x - ws.h[0].max(0.0).sqrt()).exp();
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
        // u = T sin^2(theta), T - u = T cos^2(theta), theta in [0, pi/2]. Near theta = pi/2
        // (the present) the integrand switches on over a width of about
        // a = ln(S/B(T)) / (v sqrt T) in theta, sharply when the spot is close to the
        // boundary: that end gets a panel of its own, each panel the p-point rule.
        let a = (ln_s - b_now.ln()) / (v * sqrt_t);
        let eps = (4.0 * a).min(FRAC_PI_2);
        let panels = if eps < 0.5 * FRAC_PI_2 {
            [(0.0, FRAC_PI_2 - eps), (FRAC_PI_2 - eps, FRAC_PI_2)]
        } else {
            [(0.0, FRAC_PI_2), (FRAC_PI_2, FRAC_PI_2)]
        };
        for (lo, hi) in panels {
            if hi <= lo {
                continue;
            }
            let half = 0.5 * (hi - lo);
            for (&y, &w) in self.pr_y.iter().zip(&self.pr_w) {
                let theta = lo + half * (1.0 + y);
                let (sin, cos) = theta.sin_cos();
                let sqrt_st = sqrt_t * cos;
                let st = sqrt_st * sqrt_st;
                if st <= 0.0 {
                    continue;
                }
                let ln_bu = p.ln_x - self.sqrt_h(sin, ws);
                let vss = v * sqrt_st;
                let dp = (ln_s - ln_bu + (r - q) * st) / vss + 0.5 * vss;
                let dm = dp - vss;
                let jac = w * half * 2.0 * t * sin * cos;
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
        }
        // The early-exercise premium is non-negative; quadrature must not make it a hair
        // negative.
        let price = (eu.price + prem.max(0.0)).max(1.0 - s);
        (price, eu.delta + dprem, eu.gamma + gprem)
    }
}

/// [`Engine::prepare`]'s loop: branch-free, with the crate's vectorisable `exp`.
#[inline(always)]
fn prepare_points_body<A: Arith>(
    [r, q, v, sqrt_t]: [f64; 4],
    z: &[f64],
    [fp_sin, fp_cos, fp_w]: [&Vec<f64>; 3],
    ws: &mut Workspace,
) {
    let l = fp_sin.len();
    let n = z.len() - 1;
    for i in 0..n {
        let sqrt_tau = 0.5 * sqrt_t * (1.0 + z[i]);
        let tau = sqrt_tau * sqrt_tau;
        let at = i * l..(i + 1) * l;
        let vss_out = &mut ws.vss[at.clone()];
        let inv_out = &mut ws.inv_vss[at.clone()];
        let drift_out = &mut ws.drift[at.clone()];
        let wn = &mut ws.wn[at.clone()];
        let wn_b = &mut ws.wn_b[at.clone()];
        let wd = &mut ws.wd[at.clone()];
        let wd2 = &mut ws.wd2[at];
        for j in 0..l {
            let (sin, cos, w) = (fp_sin[j], fp_cos[j], fp_w[j]);
            let sqrt_s = sqrt_tau * cos;
            let s = sqrt_s * sqrt_s;
            let u = tau * sin * sin;
            let vss = v * sqrt_s;
            vss_out[j] = vss;
            inv_out[j] = 1.0 / vss;
            drift_out[j] = A::mla((r - q) * s, inv_out[j], 0.5 * vss);
            let jac = QUARTER_PI * 2.0 * tau * sin * cos;
            // jac / (v sqrt s): the 1/sqrt(s) singularity is gone.
            let g = QUARTER_PI * 2.0 * sqrt_tau * sin / v;
            let er = w * exp::<A>(r * u);
            let eq = w * exp::<A>(q * u);
            wn[j] = r * er * jac;
            wn_b[j] = r * er * g;
            wd[j] = q * eq * jac;
            wd2[j] = q * eq * g;
        }
    }
}

multiversion! {
    /// [`prepare_points_body`] with the widest SIMD the CPU has.
    fn prepare_points(
        consts: [f64; 4],
        z: &[f64],
        rule: [&Vec<f64>; 3],
        ws: &mut Workspace,
    ) => prepare_points_body
}

/// The integrand terms at every boundary-integral point, for all nodes at once: H
/// interpolated from the node values x^2 (ws.x) and the terms of N and D written to ws.tn and
/// ws.td. A flat loop of branch-free code, compiled for the widest SIMD the CPU has.
#[inline(always)]
fn sweep_points_body<A: Arith>(eq_b: bool, n: usize, l: usize, m_fp: &[f64], ws: &mut Workspace) {
    let nl = n * l;
    let hu = &mut ws.hu[..nl];
    hu.fill(0.0);
    for m in 0..n {
        let hm = ws.x[m] * ws.x[m];
        let col = &m_fp[m * nl..(m + 1) * nl];
        for (h, c) in hu.iter_mut().zip(col) {
            *h = A::mla(*c, hm, *h);
        }
    }
    for i in 0..n {
        let x = ws.x[i];
        let r = i * l..(i + 1) * l;
        let (hu, inv_vss, drift, vss) = (
            &ws.hu[r.clone()],
            &ws.inv_vss[r.clone()],
            &ws.drift[r.clone()],
            &ws.vss[r.clone()],
        );
        let wn = if eq_b {
            &ws.wn_b[r.clone()]
        } else {
            &ws.wn[r.clone()]
        };
        let (wd, wd2) = (&ws.wd[r.clone()], &ws.wd2[r.clone()]);
        let (tn, td) = (&mut ws.tn[r.clone()], &mut ws.td[r]);
        for j in 0..l {
            // ln(B(tau)/B(u)) = sqrt(H(u)) - sqrt(H(tau)).
            let ep = A::mla(hu[j].max(0.0).sqrt() - x, inv_vss[j], drift[j]);
            let em = ep - vss[j];
            let (cp, pp) = normal::cdf_pdf::<A>(ep);
            if eq_b {
                tn[j] = wn[j] * normal::pdf::<A>(em);
                td[j] = A::mla(wd[j], cp, wd2[j] * pp);
            } else {
                tn[j] = wn[j] * normal::cdf::<A>(em);
                td[j] = wd[j] * cp;
            }
        }
    }
}

multiversion! {
    /// [`sweep_points_body`] with the widest SIMD the CPU has.
    fn sweep_points(eq_b: bool, n: usize, l: usize, m_fp: &[f64], ws: &mut Workspace) => sweep_points_body
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
    // The premium from the European kernel itself (cancellation-free in the tails), so that an
    // American value equal to the European one matches `sg.price` to the bit.
    let price = crate::european::price_one(
        crate::model::Model::Bsm,
        phi,
        s,
        k,
        t,
        v,
        r,
        q,
        crate::european::OnInvalid::Nan,
    )
    .unwrap_or(f64::NAN);
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

/// Width in ln S at which the QD+ root search stops: the fixed-point iteration refines the
/// boundary far beyond the accuracy of QD+ itself, so a tight solve would be wasted.
const QD_TOLERANCE: f64 = 1e-7;

/// Li's QD+ approximation of the put boundary at time to expiry `tau` (strike 1): the root of
///
/// `(1 - e^{-q tau} Phi(-d+(S))) S + (lambda + c0) (1 - S - p(S)) = 0`
///
/// with h = 1 - e^{-r tau}, alpha = 2r/v^2, beta = 2(r - q)/v^2,
/// lambda = (-(beta - 1) - sqrt((beta - 1)^2 + 4 alpha/h)) / 2 and Li's correction
/// `c0 = -(1 - h) alpha / (2 lambda + beta - 1) (1/h - e^{r tau} Theta / (r (1 - S - p)) +
/// lambda' / (2 lambda + beta - 1))`, Theta the European put's calendar theta (M. Li,
/// "Analytical approximations for the critical stock prices of American options", Quantitative
/// Finance 10, 2010; ALO section 4.1). Solved by Illinois regula falsi on ln S in (0, X];
/// returns ln B.
fn qd_plus_boundary(p: &Put, tau: f64, above: Option<f64>) -> f64 {
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
    // The root lies below X (f > 0 near X, f < 0 deep in the money) and below the root at any
    // shorter time to expiry (`above`, the previous node's): bracket it downwards from there.
    let mut x1 = above.unwrap_or(hi).min(hi);
    let mut f1 = f(x1);
    let mut step = (0.25 * vst).max(1e-4);
    if f1 < 0.0 {
        // The previous root is not above this one after all (rounding): restart from X.
        x1 = hi;
        f1 = f(x1);
        step = (0.5 * vst).max(1e-3);
    }
    let mut x0 = x1 - step;
    let mut f0 = f(x0);
    let mut guard = 0;
    while f0 > 0.0 && guard < 60 {
        x1 = x0;
        f1 = f0;
        step *= 2.0;
        x0 -= step;
        f0 = f(x0);
        guard += 1;
    }
    if !(f0 <= 0.0) || !(f1 >= 0.0) {
        // No sign change (extreme inputs): a plain level below X.
        return (hi - vst).exp();
    }
    // Illinois-modified regula falsi on [x0, x1] (ln S), stopped on the step size.
    let (mut lo, mut flo, mut up, mut fup) = (x0, f0, x1, f1);
    let mut side = 0i8;
    let mut last = f64::INFINITY;
    for _ in 0..100 {
        let x = (lo * fup - up * flo) / (fup - flo);
        let fx = f(x);
        if fx == 0.0 || (x - last).abs() <= QD_TOLERANCE || (up - lo) <= QD_TOLERANCE {
            return x;
        }
        last = x;
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
    }
    0.5 * (lo + up)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_matrices_match_the_chebyshev_series() {
        let e = Engine::new(Scheme::ACCURATE);
        let mut ws = e.workspace();
        let n = e.scheme.nodes;
        let l = e.scheme.boundary_points;
        for i in 0..n {
            let w = 0.5 * (1.0 + e.z[i]);
            ws.h[i] = (1.3 * w).sin().powi(2) + 0.1 * w;
            ws.x[i] = ws.h[i].sqrt();
        }
        ws.h[n] = 0.0;
        e.interpolate(&mut ws);
        sweep_points(false, n, l, &e.m_fp, &mut ws);
        for i in 0..n {
            let c = 0.5 * (1.0 + e.z[i]);
            for j in 0..l {
                let direct = e.sqrt_h(c * e.fp_sin[j], &ws).powi(2);
                assert!((ws.hu[i * l + j] - direct).abs() < 1e-13);
            }
        }
    }

    #[test]
    fn small_systems_are_solved() {
        let mut a = [[0.0; ANDERSON_DEPTH + 1]; ANDERSON_DEPTH];
        a[0] = [4.0, 1.0, 0.0, 6.0, 0.0];
        a[1] = [1.0, 3.0, 1.0, 10.0, 0.0];
        a[2] = [0.0, 1.0, 2.0, 8.0, 0.0];
        // Right-hand side in column k = 3.
        let mut x = [0.0; ANDERSON_DEPTH];
        assert!(solve_small(&mut a, 3, &mut x));
        for (v, want) in x.iter().zip([1.0, 2.0, 3.0]) {
            assert!((v - want).abs() < 1e-12, "{x:?}");
        }
    }

    #[test]
    fn qd_plus_is_close_to_the_fitted_boundary() {
        let p = Put {
            r: 0.05,
            q: 0.0,
            v: 0.2,
            t: 1.0,
            ln_x: 0.0,
        };
        let e = Engine::new(Scheme::HIGH_PRECISION);
        let mut ws = e.workspace();
        e.fit_boundary(&p, &mut ws);
        let fitted = -ws.h[0].sqrt();
        let qd = qd_plus_boundary(&p, 1.0, None);
        // QD+ is within a percent of the boundary it seeds.
        assert!((qd - fitted).abs() < 1e-2, "{qd} {fitted}");
        assert!((fitted.exp() - 0.8088).abs() < 1e-3);
    }
}

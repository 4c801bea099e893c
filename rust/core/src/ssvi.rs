//! Surface SVI (Gatheral & Jacquier 2014): global calibration with no-arbitrage constraints.
//!
//! Gatheral & Jacquier, "Arbitrage-free SVI volatility surfaces", Quantitative Finance 14
//! (2014), eq. 4.1: with `theta_t` the ATM total variance of expiry `t`,
//!
//! ```text
//! w(k, theta) = theta/2 (1 + rho phi(theta) k + sqrt((phi(theta) k + rho)^2 + 1 - rho^2))
//! ```
//!
//! and the power law `phi(theta) = eta / (theta^gamma (1 + theta)^(1 - gamma))` (their eq. 4.5).
//! The surface is free of calendar arbitrage when `theta_t` is non-decreasing (Theorem 4.1:
//! the power law has `d(theta phi)/d theta = phi (1 - gamma)/(1 + theta) >= 0`, below the
//! theorem's upper bound), and free of butterfly arbitrage when `eta (1 + |rho|) <= 2` with
//! `0 < gamma <= 1/2` (Theorem 4.2 and the remark following eq. 4.5), which the calibration
//! enforces through its parameterisation.

use crate::error::{Error, Result};
use crate::svi::{check_slice, nelder_mead, NmOptions};

/// SSVI parameters with the power-law `phi`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ssvi {
    /// Spot/vol correlation, `|rho| < 1`.
    pub rho: f64,
    /// Level of `phi`, `eta > 0`.
    pub eta: f64,
    /// Decay exponent of `phi`, `0 < gamma <= 1/2` for the no-arbitrage guarantee.
    pub gamma: f64,
}

impl Ssvi {
    /// The power-law curvature `phi(theta) = eta / (theta^gamma (1 + theta)^(1 - gamma))`.
    #[inline]
    pub fn phi(&self, theta: f64) -> f64 {
        self.eta / (theta.powf(self.gamma) * (1.0 + theta).powf(1.0 - self.gamma))
    }

    /// Total implied variance at log-moneyness `k` on the slice with ATM total variance
    /// `theta` (0 when `theta == 0`).
    #[inline]
    pub fn total_variance(&self, k: f64, theta: f64) -> f64 {
        if theta == 0.0 {
            return 0.0;
        }
        let p = self.phi(theta);
        let x = p * k + self.rho;
        0.5 * theta * (1.0 + self.rho * p * k + (x * x + 1.0 - self.rho * self.rho).sqrt())
    }

    /// Whether the sufficient no-butterfly-arbitrage conditions of the power law hold:
    /// `|rho| < 1`, `eta > 0`, `0 < gamma <= 1/2` and `eta (1 + |rho|) <= 2`.
    pub fn is_arbitrage_free(&self) -> bool {
        self.rho.abs() < 1.0
            && self.eta > 0.0
            && self.gamma > 0.0
            && self.gamma <= 0.5
            && self.eta * (1.0 + self.rho.abs()) <= 2.0
    }

    /// Checks the domain needed to evaluate the surface: finite, `|rho| < 1`, `eta >= 0`,
    /// `0 <= gamma <= 1`.
    pub fn validate(&self) -> Result<()> {
        let checks: [(&'static str, f64, bool); 3] = [
            (
                "rho",
                self.rho,
                self.rho.is_finite() && self.rho.abs() < 1.0,
            ),
            ("eta", self.eta, self.eta.is_finite() && self.eta >= 0.0),
            (
                "gamma",
                self.gamma,
                self.gamma.is_finite() && (0.0..=1.0).contains(&self.gamma),
            ),
        ];
        // Reported as `params` with the position in `(rho, eta, gamma)`.
        for (index, (name, v, ok)) in checks.into_iter().enumerate() {
            if !ok {
                return Err(Error::InvalidInput {
                    arg: "params",
                    index,
                    reason: format!("SSVI {name} out of its domain (got {v})"),
                });
            }
        }
        Ok(())
    }
}

/// One expiry's quotes for [`calibrate_ssvi`].
#[derive(Debug, Clone, PartialEq)]
pub struct SsviSlice {
    /// Expiry in years.
    pub t: f64,
    /// ATM total variance of this expiry.
    pub theta: f64,
    /// Log-moneyness `ln(K/F)`.
    pub k: Vec<f64>,
    /// Total implied variance.
    pub w: Vec<f64>,
    /// Least-squares weights (zero drops a point).
    pub weights: Vec<f64>,
}

/// Result of [`calibrate_ssvi`].
#[derive(Debug, Clone, PartialEq)]
pub struct SsviFit {
    /// Fitted parameters; they satisfy [`Ssvi::is_arbitrage_free`].
    pub params: Ssvi,
    /// Weighted RMSE in total variance over all slices.
    pub rmse: f64,
    /// The thetas used, in the order of the input slices (the cumulative maximum in `t`).
    pub thetas: Vec<f64>,
    /// Indices of the slices whose theta was raised to make theta non-decreasing in `t`.
    pub thetas_adjusted: Vec<usize>,
    /// Nelder–Mead iterations spent.
    pub iterations: usize,
}

/// One weighted quote: `(k, w, weight)`.
type Point = (f64, f64, f64);

/// Fewest weighted points [`calibrate_ssvi`] accepts (SSVI has three parameters).
pub const MIN_POINTS: usize = 3;

/// Largest `|rho|` the calibration returns.
const RHO_MAX: f64 = 0.999_999;

/// Fits the power-law SSVI surface by weighted least squares in total variance over all slices.
///
/// The thetas are first made non-decreasing in `t` by a cumulative maximum (calendar
/// no-arbitrage, Gatheral & Jacquier Theorem 4.1); the adjusted slices are reported. The fit
/// runs Nelder–Mead in unconstrained variables mapped onto `|rho| < 1`,
/// `0 < eta < 2/(1+|rho|)`, `0 < gamma < 1/2`, so every candidate is free of butterfly arbitrage
/// (Theorem 4.2).
pub fn calibrate_ssvi(slices: &[SsviSlice]) -> Result<SsviFit> {
    if slices.is_empty() {
        return Err(Error::Shape(
            "SSVI calibration needs at least one slice".into(),
        ));
    }
    let mut offset = 0;
    let mut positive = 0;
    for (i, s) in slices.iter().enumerate() {
        if !(s.t.is_finite() && s.t > 0.0) {
            return Err(Error::InvalidInput {
                arg: "t",
                index: i,
                reason: format!("expiry must be finite and > 0, got {}", s.t),
            });
        }
        if !(s.theta.is_finite() && s.theta > 0.0) {
            return Err(Error::InvalidInput {
                arg: "theta",
                index: i,
                reason: format!("ATM total variance must be finite and > 0, got {}", s.theta),
            });
        }
        positive += check_slice(&s.k, &s.w, &s.weights, offset).map_err(|e| match e {
            Error::Shape(m) => Error::Shape(format!("slice {i}: {m}")),
            other => other,
        })?;
        offset += s.k.len();
    }
    if positive < MIN_POINTS {
        return Err(Error::Shape(format!(
            "SSVI calibration needs at least {MIN_POINTS} points with positive weight, got {positive}"
        )));
    }

    // Calendar: theta non-decreasing in t.
    let mut order: Vec<usize> = (0..slices.len()).collect();
    order.sort_by(|&i, &j| slices[i].t.total_cmp(&slices[j].t));
    let mut thetas: Vec<f64> = slices.iter().map(|s| s.theta).collect();
    let mut adjusted = Vec::new();
    let mut run = 0.0f64;
    for &i in &order {
        if thetas[i] < run {
            thetas[i] = run;
            adjusted.push(i);
        }
        run = run.max(thetas[i]);
    }
    adjusted.sort_unstable();

    // Weighted points grouped by slice, so that phi(theta) is computed once per slice.
    let groups: Vec<(f64, Vec<Point>)> = slices
        .iter()
        .zip(&thetas)
        .map(|(s, &th)| {
            let pts = (0..s.k.len())
                .filter(|&i| s.weights[i] > 0.0)
                .map(|i| (s.k[i], s.w[i], s.weights[i]))
                .collect();
            (th, pts)
        })
        .collect();
    let pts: Vec<(f64, f64, f64)> = groups.iter().flat_map(|g| g.1.iter().copied()).collect();
    let sum_wt: f64 = pts.iter().map(|p| p.2).sum();
    let sse = |q: &Ssvi| -> f64 {
        let r2 = 1.0 - q.rho * q.rho;
        groups
            .iter()
            .map(|(th, pts)| {
                let phi = q.phi(*th);
                pts.iter()
                    .map(|&(k, w, c)| {
                        let x = phi * k + q.rho;
                        let model = 0.5 * th * (1.0 + q.rho * phi * k + (x * x + r2).sqrt());
                        let e = model - w;
                        c * e * e
                    })
                    .sum::<f64>()
            })
            .sum()
    };
    let scale: f64 = pts.iter().map(|p| p.2 * p.1 * p.1).sum::<f64>().max(1e-300);

    let opts = NmOptions {
        max_iter: 500,
        ftol_abs: 1e-16 * scale,
        ftol_rel: 1e-13,
        xtol: 1e-11,
    };
    let f = |u: [f64; 3]| sse(&from_free(u));
    let mut best: Option<([f64; 3], f64)> = None;
    let mut iterations = 0;
    for rho0 in [-0.6, 0.0, 0.6] {
        for gamma0 in [0.15, 0.4] {
            let u0 = to_free(Ssvi {
                rho: rho0,
                eta: 0.5 / (1.0 + f64::abs(rho0)),
                gamma: gamma0,
            });
            let r = nelder_mead(f, u0, [0.5, 0.5, 0.5], &opts);
            iterations += r.iterations;
            if best.is_none_or(|b| r.fx < b.1) {
                best = Some((r.x, r.fx));
            }
        }
    }
    let (ub, fb) = best.expect("at least one start");
    let r = nelder_mead(f, ub, [0.05, 0.05, 0.05], &opts);
    iterations += r.iterations;
    let u = if r.fx <= fb { r.x } else { ub };
    let params = from_free(u);
    Ok(SsviFit {
        params,
        rmse: (sse(&params).max(0.0) / sum_wt).sqrt(),
        thetas,
        thetas_adjusted: adjusted,
        iterations,
    })
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    (p / (1.0 - p)).ln()
}

/// Unconstrained variables onto the no-arbitrage region: `rho = RHO_MAX tanh(u0)`,
/// `eta = 2/(1+|rho|) sigmoid(u1)`, `gamma = 1/2 sigmoid(u2)`.
fn from_free(u: [f64; 3]) -> Ssvi {
    let rho = RHO_MAX * u[0].tanh();
    let eta = 2.0 / (1.0 + rho.abs()) * sigmoid(u[1]);
    let gamma = 0.5 * sigmoid(u[2]);
    Ssvi { rho, eta, gamma }
}

fn to_free(p: Ssvi) -> [f64; 3] {
    let r = (p.rho / RHO_MAX).clamp(-1.0 + 1e-12, 1.0 - 1e-12);
    [
        r.atanh(),
        logit(p.eta * (1.0 + p.rho.abs()) / 2.0),
        logit(2.0 * p.gamma),
    ]
}

/// Calendar-arbitrage check for any surface sampled on a common log-moneyness grid:
/// `w_at_k[i][j]` is the total variance of expiry `ts[i]` at the `j`-th grid point. Total
/// variance must be non-decreasing in `t` at fixed `k` (Gatheral & Jacquier Lemma 2.1 /
/// Theorem 4.1). Returns `(i, j)` for every expiry `i` and grid point `j` where `w_at_k[i][j]`
/// is below the value of the previous expiry in `t` order (`i` indexes the input order), sorted.
pub fn calendar_violations(ts: &[f64], w_at_k: &[Vec<f64>]) -> Result<Vec<(usize, usize)>> {
    if ts.len() != w_at_k.len() {
        return Err(Error::Shape(format!(
            "ts and w_at_k must have the same length, got {} and {}",
            ts.len(),
            w_at_k.len()
        )));
    }
    let n = w_at_k.first().map_or(0, |r| r.len());
    for (i, row) in w_at_k.iter().enumerate() {
        if row.len() != n {
            return Err(Error::Shape(format!(
                "w_at_k rows must have the same length, row {i} has {} and row 0 has {n}",
                row.len()
            )));
        }
        if !ts[i].is_finite() {
            return Err(Error::InvalidInput {
                arg: "ts",
                index: i,
                reason: format!("expiry must be finite, got {}", ts[i]),
            });
        }
    }
    let mut order: Vec<usize> = (0..ts.len()).collect();
    order.sort_by(|&i, &j| ts[i].total_cmp(&ts[j]));
    let mut out = Vec::new();
    for pair in order.windows(2) {
        let (e, l) = (pair[0], pair[1]);
        for (j, (wl, we)) in w_at_k[l].iter().zip(&w_at_k[e]).enumerate() {
            if wl < we {
                out.push((l, j));
            }
        }
    }
    out.sort_unstable();
    Ok(out)
}

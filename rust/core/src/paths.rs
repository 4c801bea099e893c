//! Monte Carlo paths of an underlying (geometric Brownian motion and Heston) and the monthly
//! put-write and covered-call programs run across them, one path per task.
//!
//! # Random numbers
//! Every path owns a Xoshiro256++ generator (Blackman & Vigna, "Scrambled linear pseudorandom
//! number generators", ACM TOMS 47(4), 2021) whose 256-bit state is filled by SplitMix64
//! (Steele, Lea & Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014; the
//! seeding its authors recommend) started from `seed` and the path's index. A path's draws
//! depend on `(seed, path)` alone, so results are bit-for-bit the same whatever the number of
//! threads or the way paths are split into tasks. Normals come from the Box–Muller transform
//! (Box & Muller 1958), both variates of each pair used.
//!
//! # Dynamics (time in years, `drift` = expected total return, `div` = dividend yield)
//! * GBM, exact in law: `ln S += (drift - div - vol^2/2) dt + vol sqrt(dt) Z`.
//! * Heston (1993) with the full-truncation Euler scheme of Lord, Koekkoek & van Dijk
//!   ("A comparison of biased simulation schemes for stochastic volatility models",
//!   Quantitative Finance 10(2), 2010), with `v+ = max(v, 0)`:
//!   `ln S += (drift - div - v+/2) dt + sqrt(v+ dt) Z_s`,
//!   `v += kappa (theta - v+) dt + xi sqrt(v+ dt) Z_v`, `Z_s = rho Z_v + sqrt(1 - rho^2) Z_2`.
//!   Since `v+` is known at the start of each step and `Z_s` is independent of it, the
//!   discretised price stays a martingale after its drift: `E[S_T] = S_0 e^((drift - div) T)`.
//!
//! # Programs
//! A [`Program`] sells one option every `period` steps (a "roll"), holds it to expiry, settles
//! it in cash against the path and sells the next, as the Cboe PUT and BXM indices do:
//! * put-write: the collateral account earns `rate`; the number of puts `N` makes the account,
//!   premium included, grow to exactly the strike obligation by expiry (`(C + N P) e^(rT) =
//!   N K`, the PUT methodology's full collateralisation);
//! * covered call: all equity is in the underlying net of the short call, the premium
//!   reinvested (`units = equity / (S - C)`, the BXM's daily return rule); dividends accrue to
//!   cash at `div`.
//!
//! Options are priced with Black–Scholes–Merton (spot, `rate`, `div`) at the program's pricing
//! vol; strikes are `moneyness * S` rounded to the listed increment: puts down (the strike just
//! below the index, Cboe PUT) and calls up (just above, Cboe BXM). Equity is marked every step.

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::european::{self, OnInvalid};
use crate::model::Model;

/// One SplitMix64 step: advances `state` and returns the next output.
#[inline]
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Xoshiro256++ with a cached second Box–Muller normal.
#[derive(Debug, Clone)]
pub struct PathRng {
    s: [u64; 4],
    spare: Option<f64>,
}

impl PathRng {
    /// The generator of path `path` under `seed`: SplitMix64 started from a mix of both fills
    /// the state (never all zero: SplitMix64's outputs are a bijection of distinct inputs).
    pub fn for_path(seed: u64, path: u64) -> PathRng {
        // Mixing the seed once first keeps (seed, path) and (seed + 1, path - 1) apart.
        let mut st = seed;
        let base = splitmix64(&mut st);
        let mut x = base ^ path.wrapping_mul(0xD1B5_4A32_D192_ED03);
        let s = [
            splitmix64(&mut x),
            splitmix64(&mut x),
            splitmix64(&mut x),
            splitmix64(&mut x),
        ];
        PathRng { s, spare: None }
    }

    /// A generator with the given state (for tests against the published sequence; an all-zero
    /// state is a fixed point and must not be used).
    pub fn from_state(s: [u64; 4]) -> PathRng {
        PathRng { s, spare: None }
    }

    /// Next 64 random bits (Xoshiro256++).
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform on (0, 1]: the top 53 bits plus one ulp, so that `ln` never sees 0.
    #[inline]
    pub fn uniform_open0(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A standard normal variate (Box–Muller; the pair's second value is kept for the next
    /// call).
    #[inline]
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        let u1 = self.uniform_open0();
        let u2 = self.uniform_open0();
        let r = (-2.0 * u1.ln()).sqrt();
        let (s, c) = (std::f64::consts::TAU * u2).sin_cos();
        self.spare = Some(r * s);
        r * c
    }
}

/// The law of the underlying.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Dynamics {
    /// Geometric Brownian motion.
    Gbm {
        /// Expected total return (continuously compounded, per year).
        drift: f64,
        /// Volatility.
        vol: f64,
    },
    /// Heston stochastic variance (full-truncation Euler).
    Heston {
        /// Expected total return (continuously compounded, per year).
        drift: f64,
        /// Initial variance.
        v0: f64,
        /// Mean-reversion speed.
        kappa: f64,
        /// Long-run variance.
        theta: f64,
        /// Volatility of variance.
        xi: f64,
        /// Correlation of the price and variance shocks.
        rho: f64,
    },
}

/// The time grid and starting point of the paths.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grid {
    /// Price at time 0.
    pub spot: f64,
    /// Continuous dividend yield (the price drifts at `drift - div`).
    pub div: f64,
    /// Recorded steps (each path has `steps + 1` points).
    pub steps: usize,
    /// Years per recorded step.
    pub dt: f64,
    /// Simulation sub-steps per recorded step (Heston's discretisation error shrinks with it;
    /// GBM is exact whatever it is).
    pub substeps: usize,
}

fn invalid(arg: &'static str, reason: String) -> Error {
    Error::InvalidInput {
        arg,
        index: 0,
        reason,
    }
}

fn check(cond: bool, arg: &'static str, what: &str, value: f64) -> Result<()> {
    if cond {
        Ok(())
    } else {
        Err(invalid(arg, format!("{what}, got {value}")))
    }
}

impl Dynamics {
    fn validate(&self) -> Result<()> {
        match *self {
            Dynamics::Gbm { drift, vol } => {
                check(drift.is_finite(), "drift", "must be finite", drift)?;
                check(vol.is_finite() && vol >= 0.0, "vol", "must be >= 0", vol)
            }
            Dynamics::Heston {
                drift,
                v0,
                kappa,
                theta,
                xi,
                rho,
            } => {
                check(drift.is_finite(), "drift", "must be finite", drift)?;
                check(v0.is_finite() && v0 >= 0.0, "v0", "must be >= 0", v0)?;
                check(
                    kappa.is_finite() && kappa >= 0.0,
                    "kappa",
                    "must be >= 0",
                    kappa,
                )?;
                check(
                    theta.is_finite() && theta >= 0.0,
                    "theta",
                    "must be >= 0",
                    theta,
                )?;
                check(xi.is_finite() && xi >= 0.0, "xi", "must be >= 0", xi)?;
                check(
                    rho.is_finite() && (-1.0..=1.0).contains(&rho),
                    "rho",
                    "must be in [-1, 1]",
                    rho,
                )
            }
        }
    }
}

impl Grid {
    fn validate(&self) -> Result<()> {
        check(
            self.spot.is_finite() && self.spot > 0.0,
            "spot",
            "must be positive",
            self.spot,
        )?;
        check(self.div.is_finite(), "div", "must be finite", self.div)?;
        check(
            self.dt.is_finite() && self.dt > 0.0,
            "dt",
            "must be positive",
            self.dt,
        )?;
        check(self.steps >= 1, "steps", "must be >= 1", self.steps as f64)?;
        check(
            self.substeps >= 1,
            "substeps",
            "must be >= 1",
            self.substeps as f64,
        )
    }
}

/// One path's evolution: its generator and state.
struct Walker {
    rng: PathRng,
    log_s: f64,
    var: f64,
    dyn_: Dynamics,
    div: f64,
    h: f64,
    substeps: usize,
}

impl Walker {
    fn new(dyn_: Dynamics, grid: &Grid, seed: u64, path: usize) -> Walker {
        let var = match dyn_ {
            Dynamics::Gbm { vol, .. } => vol * vol,
            Dynamics::Heston { v0, .. } => v0,
        };
        Walker {
            rng: PathRng::for_path(seed, path as u64),
            log_s: grid.spot.ln(),
            var,
            dyn_,
            div: grid.div,
            h: grid.dt / grid.substeps as f64,
            substeps: grid.substeps,
        }
    }

    /// Advances one recorded step.
    #[inline]
    fn step(&mut self) {
        let h = self.h;
        match self.dyn_ {
            Dynamics::Gbm { drift, vol } => {
                let m = (drift - self.div - 0.5 * vol * vol) * h;
                let s = vol * h.sqrt();
                for _ in 0..self.substeps {
                    self.log_s += m + s * self.rng.normal();
                }
            }
            Dynamics::Heston {
                drift,
                kappa,
                theta,
                xi,
                rho,
                ..
            } => {
                let rho_c = (1.0 - rho * rho).max(0.0).sqrt();
                for _ in 0..self.substeps {
                    let zv = self.rng.normal();
                    let zs = rho * zv + rho_c * self.rng.normal();
                    let vp = self.var.max(0.0);
                    let sd = (vp * h).sqrt();
                    self.log_s += (drift - self.div - 0.5 * vp) * h + sd * zs;
                    self.var += kappa * (theta - vp) * h + xi * sd * zv;
                }
            }
        }
    }

    fn spot(&self) -> f64 {
        self.log_s.exp()
    }

    /// The variance the price is diffusing with now (`max(v, 0)`).
    fn variance(&self) -> f64 {
        self.var.max(0.0)
    }
}

/// Simulates `paths` paths: `spot[p * (steps + 1) + i]` is path `p` at step `i`; `var` (same
/// layout, optional) the variance (`vol^2` throughout under GBM, `max(v, 0)` under Heston).
pub fn simulate(
    dynamics: Dynamics,
    grid: Grid,
    seed: u64,
    spot: &mut [f64],
    var: Option<&mut [f64]>,
) -> Result<()> {
    dynamics.validate()?;
    grid.validate()?;
    let cols = grid.steps + 1;
    if spot.len() % cols != 0 {
        return Err(Error::Shape(format!(
            "spot: {} values are not whole paths of {cols} points",
            spot.len()
        )));
    }
    let fill = |p: usize, row: &mut [f64], mut vrow: Option<&mut [f64]>| {
        let mut w = Walker::new(dynamics, &grid, seed, p);
        for i in 0..cols {
            if i > 0 {
                w.step();
            }
            row[i] = w.spot();
            if let Some(v) = vrow.as_deref_mut() {
                v[i] = w.variance();
            }
        }
    };
    match var {
        Some(v) => {
            if v.len() != spot.len() {
                return Err(Error::Shape(format!(
                    "var: {} values, spot has {}",
                    v.len(),
                    spot.len()
                )));
            }
            spot.par_chunks_mut(cols)
                .zip(v.par_chunks_mut(cols))
                .enumerate()
                .for_each(|(p, (row, vrow))| fill(p, row, Some(vrow)));
        }
        None => spot
            .par_chunks_mut(cols)
            .enumerate()
            .for_each(|(p, row)| fill(p, row, None)),
    }
    Ok(())
}

/// Which option a program sells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Short puts over a fully collateralised cash account (Cboe PUT style).
    PutWrite,
    /// Long underlying, short calls on all of it, premium reinvested (Cboe BXM style).
    CoveredCall,
}

/// The volatility options are priced with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PricingVol {
    /// One vol for every trade and mark.
    Constant(f64),
    /// The path's own instantaneous vol times `scale` (`sqrt(max(v, 0))` under Heston, the
    /// GBM vol under GBM): an implied vol that moves with the simulated variance.
    State {
        /// Multiplier on the instantaneous vol (an implied-over-realised premium when > 1).
        scale: f64,
    },
}

/// A rule-based option-selling program (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Program {
    /// Put-write or covered call.
    pub strategy: Strategy,
    /// Strike as a multiple of the underlying at the roll, before rounding (1.0 = at the money).
    pub moneyness: f64,
    /// Listed-strike increment in price units; 0 = any strike. Puts round down, calls up.
    pub strike_step: f64,
    /// Recorded steps from one roll to the next (the option's life).
    pub period: usize,
    /// Continuously compounded rate: interest on cash and the option model's rate.
    pub rate: f64,
    /// The pricing volatility.
    pub pricing_vol: PricingVol,
    /// Fee in money per unit of underlying each time an option is sold (per-contract fee over
    /// the multiplier).
    pub fee: f64,
    /// Fraction of the model price given up when selling (0 = filled at the model mid).
    pub slippage: f64,
}

impl Program {
    fn validate(&self) -> Result<()> {
        check(
            self.moneyness.is_finite() && self.moneyness > 0.0,
            "moneyness",
            "must be positive",
            self.moneyness,
        )?;
        check(
            self.strike_step.is_finite() && self.strike_step >= 0.0,
            "strike_step",
            "must be >= 0",
            self.strike_step,
        )?;
        check(
            self.period >= 1,
            "period",
            "must be >= 1",
            self.period as f64,
        )?;
        check(self.rate.is_finite(), "rate", "must be finite", self.rate)?;
        match self.pricing_vol {
            PricingVol::Constant(v) => {
                check(v.is_finite() && v >= 0.0, "pricing_vol", "must be >= 0", v)?
            }
            PricingVol::State { scale } => check(
                scale.is_finite() && scale >= 0.0,
                "pricing_vol",
                "scale must be >= 0",
                scale,
            )?,
        }
        check(
            self.fee.is_finite() && self.fee >= 0.0,
            "fee",
            "must be >= 0",
            self.fee,
        )?;
        check(
            self.slippage.is_finite() && (0.0..1.0).contains(&self.slippage),
            "slippage",
            "must be in [0, 1)",
            self.slippage,
        )
    }

    fn kind(&self) -> f64 {
        match self.strategy {
            Strategy::PutWrite => -1.0,
            Strategy::CoveredCall => 1.0,
        }
    }

    fn strike(&self, s: f64) -> f64 {
        let k = self.moneyness * s;
        if self.strike_step <= 0.0 {
            return k;
        }
        let units = k / self.strike_step;
        // A hair of tolerance keeps an exact multiple from moving a whole increment.
        let snapped = match self.strategy {
            Strategy::PutWrite => (units + 1e-9).floor(),
            Strategy::CoveredCall => (units - 1e-9).ceil(),
        };
        (snapped * self.strike_step).max(self.strike_step)
    }
}

/// Per-path results of [`run_program`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PathOutcome {
    /// Equity at the last step (the account starts at 1.0).
    pub final_equity: f64,
    /// Premium received over the path, in the account's money (net of slippage, before fees).
    pub premium: f64,
    /// Fees paid.
    pub fees: f64,
    /// Options that finished in the money (assigned or cash-settled against the program).
    pub assigned: f64,
    /// Largest peak-to-trough fall of the marked equity, as a fraction of the peak.
    pub max_drawdown: f64,
    /// Number of options sold.
    pub trades: f64,
}

fn price(kind: f64, s: f64, k: f64, t: f64, vol: f64, rate: f64, div: f64) -> f64 {
    european::price_one(
        Model::Bsm,
        kind,
        s,
        k,
        t.max(0.0),
        vol,
        rate,
        div,
        OnInvalid::Nan,
    )
    .unwrap_or(f64::NAN)
}

/// Runs one path of a program; writes the marked equity at every step into `equity` when
/// given (`steps + 1` values).
fn run_path(
    dynamics: Dynamics,
    grid: &Grid,
    prog: &Program,
    seed: u64,
    path: usize,
    mut equity: Option<&mut [f64]>,
) -> PathOutcome {
    let mut w = Walker::new(dynamics, grid, seed, path);
    let kind = prog.kind();
    let (rate, div, dt) = (prog.rate, grid.div, grid.dt);
    let growth = (rate * dt).exp();
    let vol_now = |w: &Walker| match prog.pricing_vol {
        PricingVol::Constant(v) => v,
        PricingVol::State { scale } => scale * w.variance().sqrt(),
    };
    let mut out = PathOutcome::default();
    let mut cash = 1.0;
    // Options sold (units of underlying) and shares held (covered call).
    let mut n_opt = 0.0;
    let mut units = 0.0;
    let mut strike = 0.0;
    let mut expiry_step = 0usize;
    let mut peak = 1.0f64;
    let mut s_prev = grid.spot;
    for i in 0..=grid.steps {
        if i > 0 {
            w.step();
            cash *= growth;
            // Dividends on the shares held over the step, paid into cash.
            cash += units * s_prev * div * dt;
        }
        let s = w.spot();
        s_prev = s;
        if n_opt > 0.0 && i == expiry_step {
            // Cash settlement against the path (the index's settlement value).
            let intrinsic = (kind * (s - strike)).max(0.0);
            if intrinsic > 0.0 {
                out.assigned += 1.0;
            }
            cash -= n_opt * intrinsic;
            n_opt = 0.0;
        }
        if i % prog.period == 0 && i < grid.steps {
            // The roll: a new option with a full period to run (it may outlive the grid).
            let t = prog.period as f64 * dt;
            let k = prog.strike(s);
            let vol = vol_now(&w);
            let p = price(kind, s, k, t, vol, rate, div);
            let proceeds = p * (1.0 - prog.slippage) - prog.fee;
            match prog.strategy {
                Strategy::PutWrite => {
                    // (cash + N proceeds) e^(rT) = N K.
                    let g = (rate * t).exp();
                    let denom = k - proceeds * g;
                    n_opt = if denom > 0.0 { cash * g / denom } else { 0.0 };
                }
                Strategy::CoveredCall => {
                    // All equity into shares net of the calls: units (S - proceeds) = equity.
                    let eq = cash + units * s;
                    let denom = s - proceeds;
                    let new_units = if denom > 0.0 { eq / denom } else { 0.0 };
                    cash -= (new_units - units) * s;
                    units = new_units;
                    n_opt = units;
                }
            }
            cash += n_opt * proceeds;
            out.premium += n_opt * p * (1.0 - prog.slippage);
            out.fees += n_opt * prog.fee;
            out.trades += 1.0;
            strike = k;
            expiry_step = i + prog.period;
        }
        let mark = if n_opt > 0.0 {
            let t = (expiry_step - i) as f64 * dt;
            n_opt * price(kind, s, strike, t, vol_now(&w), rate, div)
        } else {
            0.0
        };
        let eq = cash + units * s - mark;
        if let Some(e) = equity.as_deref_mut() {
            e[i] = eq;
        }
        peak = peak.max(eq);
        if peak > 0.0 {
            out.max_drawdown = out.max_drawdown.max(1.0 - eq / peak);
        }
        out.final_equity = eq;
    }
    out
}

/// Runs `outcomes.len()` paths of `program` (the account starts at 1.0 on each); `equity`,
/// when given, receives every path's marked equity (`paths * (steps + 1)`, row-major).
pub fn run_program(
    dynamics: Dynamics,
    grid: Grid,
    program: Program,
    seed: u64,
    outcomes: &mut [PathOutcome],
    equity: Option<&mut [f64]>,
) -> Result<()> {
    dynamics.validate()?;
    grid.validate()?;
    program.validate()?;
    let cols = grid.steps + 1;
    match equity {
        Some(e) => {
            if e.len() != outcomes.len() * cols {
                return Err(Error::Shape(format!(
                    "equity: {} values for {} paths of {cols} points",
                    e.len(),
                    outcomes.len()
                )));
            }
            outcomes
                .par_iter_mut()
                .zip(e.par_chunks_mut(cols))
                .enumerate()
                .for_each(|(p, (o, row))| {
                    *o = run_path(dynamics, &grid, &program, seed, p, Some(row));
                });
        }
        None => outcomes.par_iter_mut().enumerate().for_each(|(p, o)| {
            *o = run_path(dynamics, &grid, &program, seed, p, None);
        }),
    }
    Ok(())
}

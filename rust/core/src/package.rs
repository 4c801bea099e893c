//! Multi-leg packages valued many at once against a fitted SVI surface: fair value, greeks,
//! and — for packages whose option legs share one expiry — the exact expiry analytics of the
//! piecewise-linear payoff (breakevens, maximum profit and loss), the probability of profit and
//! the expected P&L at expiry, under the surface's risk-neutral distribution or a lognormal
//! real-world one.
//!
//! Layout: `n` packages of `legs` option slots each, row-major (`kind[i * legs + j]`); a slot
//! with `qty == 0` is empty. Each package also has an underlying position (`under_qty`
//! contracts' worth of shares bought for `under_cost = sum(qty * entry price)`) and a net
//! option premium paid per unit (`premium`, + debit, - credit). All amounts are per unit of
//! underlying (per share); the caller applies the contract multiplier.
//!
//! Option legs are Black-76 on the surface forward `F(t)` with the surface zero rate and the
//! surface vol at the leg's strike; delta and gamma are converted to the spot (`dF/dS = F/S`),
//! theta holds the forward fixed. Packages are processed in chunks of about a thousand legs
//! (the European kernels and the surface kernel run over each chunk's contiguous arrays), the
//! chunks spread over the rayon pool.

use rayon::prelude::*;

use crate::american::ncdf;
use crate::dispatch::multiversion;
use crate::error::{Error, Result};
use crate::european::{self, OnInvalid, SliceOperands};
use crate::fastmath::{ln, Arith};
use crate::greeks::{Greek, GreekSet};
use crate::model::Model;
use crate::normal;
use crate::svi_surface::{self, Slices};

/// Most option slots per package.
pub const MAX_LEGS: usize = 8;
/// Most breakevens a package of `legs` slots can have (kinks at 0 and every strike, one root
/// on each segment and one beyond the last strike).
pub const fn max_roots(legs: usize) -> usize {
    legs + 2
}
/// Two option legs whose expiries differ by less than this (years) share an expiry.
pub const SAME_EXPIRY: f64 = 1e-6;
/// Legs per chunk (the chunk's arrays stay in L1/L2; below the kernels' parallel threshold).
const CHUNK_LEGS: usize = 1024;

/// The market a batch is valued in.
#[derive(Debug, Clone, Copy)]
pub struct Market<'a> {
    /// Spot price of the underlying.
    pub spot: f64,
    /// The surface's SVI slices (expiries, ln forwards, parameters).
    pub slices: Slices<'a>,
    /// `ln` discount factor at each slice expiry.
    pub log_discount: &'a [f64],
}

impl Market<'_> {
    /// The slices are a surface, one ln discount factor per slice, a positive finite spot.
    pub(crate) fn check(&self) -> Result<()> {
        self.slices.check()?;
        if self.log_discount.len() != self.slices.ts.len() {
            return Err(Error::Shape(
                "one ln discount factor per slice expected".into(),
            ));
        }
        if !(self.spot > 0.0 && self.spot.is_finite()) {
            return Err(Error::InvalidInput {
                arg: "spot",
                index: 0,
                reason: format!("must be positive and finite, got {}", self.spot),
            });
        }
        Ok(())
    }
}

/// The distribution of the underlying at expiry used for the probability of profit and the
/// expected P&L.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Measure {
    /// The surface's smile-consistent risk-neutral distribution (Breeden–Litzenberger).
    RiskNeutral,
    /// Lognormal with annual drift `drift` (`E[S_T] = S e^{drift T}`) and volatility `vol`.
    RealWorld {
        /// Continuously compounded expected return of the underlying.
        drift: f64,
        /// Volatility of the underlying.
        vol: f64,
    },
}

/// A batch of packages (see the module documentation for the layout).
#[derive(Debug, Clone, Copy)]
pub struct Packages<'a> {
    /// Option slots per package (1 ..= [`MAX_LEGS`]).
    pub legs: usize,
    /// +1 call, -1 put (ignored in empty slots).
    pub kind: &'a [f64],
    /// Strikes.
    pub strike: &'a [f64],
    /// Expiries in years.
    pub expiry: &'a [f64],
    /// Signed quantities (+ bought, - sold); 0 marks an empty slot.
    pub qty: &'a [f64],
    /// Underlying quantity per package, in contracts' worth of shares.
    pub under_qty: &'a [f64],
    /// Sum of quantity times entry price of the underlying legs.
    pub under_cost: &'a [f64],
    /// Net option premium paid per unit (+ debit, - credit).
    pub premium: &'a [f64],
}

impl Packages<'_> {
    /// Number of packages.
    pub fn len(&self) -> usize {
        self.premium.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.premium.is_empty()
    }

    pub(crate) fn check_shape(&self) -> Result<()> {
        let n = self.len();
        if self.legs == 0 || self.legs > MAX_LEGS {
            return Err(Error::Shape(format!(
                "a package has 1 to {MAX_LEGS} option slots, got {}",
                self.legs
            )));
        }
        let slots = n * self.legs;
        let leg_arrays = [self.kind, self.strike, self.expiry, self.qty];
        if leg_arrays.iter().any(|a| a.len() != slots)
            || self.under_qty.len() != n
            || self.under_cost.len() != n
        {
            return Err(Error::Shape(format!(
                "{n} packages of {} slots need leg arrays of {slots} and package arrays of {n}",
                self.legs
            )));
        }
        Ok(())
    }

    /// Every active leg well formed (and, with a market, inside the surface).
    pub(crate) fn check_values(&self, last_expiry: f64) -> Result<()> {
        let bad = |arg: &'static str, index: usize, reason: String| {
            Err(Error::InvalidInput { arg, index, reason })
        };
        for (i, &q) in self.qty.iter().enumerate() {
            if !q.is_finite() {
                return bad("qty", i, format!("quantity must be finite, got {q}"));
            }
            if q == 0.0 {
                continue;
            }
            let (kind, k, t) = (self.kind[i], self.strike[i], self.expiry[i]);
            if kind != 1.0 && kind != -1.0 {
                return bad(
                    "kind",
                    i,
                    format!("must be +1 (call) or -1 (put), got {kind}"),
                );
            }
            if !(k > 0.0 && k.is_finite()) {
                return bad("strike", i, format!("must be positive and finite, got {k}"));
            }
            if !(t > 0.0 && t.is_finite()) {
                return bad(
                    "expiry",
                    i,
                    format!("must be positive (not expired) and finite, got {t}"),
                );
            }
            if t > last_expiry * (1.0 + 1e-9) {
                return bad(
                    "expiry",
                    i,
                    format!("{t} years is beyond the surface's last expiry {last_expiry}"),
                );
            }
        }
        for (arg, arr) in [
            ("under_qty", self.under_qty),
            ("under_cost", self.under_cost),
            ("premium", self.premium),
        ] {
            if let Some(i) = arr.iter().position(|x| !x.is_finite()) {
                return bad(arg, i, format!("must be finite, got {}", arr[i]));
            }
        }
        Ok(())
    }
}

/// Exact expiry analytics of one single-expiry package (per unit).
#[derive(Debug, Clone, Copy)]
pub struct Analytics {
    /// Largest P&L at expiry (`inf` when unbounded above).
    pub max_profit: f64,
    /// Largest loss at expiry as a positive amount (`inf` when unbounded).
    pub max_loss: f64,
    /// Breakevens, sorted; the first `n_roots` entries are used.
    pub roots: [f64; max_roots(MAX_LEGS)],
    /// Number of breakevens.
    pub n_roots: usize,
    tol: f64,
}

/// The option legs of one package at one expiry plus its underlying position and premium.
#[derive(Debug, Clone, Copy)]
pub struct Payoff {
    sign: [f64; MAX_LEGS],
    strike: [f64; MAX_LEGS],
    qty: [f64; MAX_LEGS],
    m: usize,
    under_qty: f64,
    fixed: f64,
}

impl Payoff {
    /// From the active legs (`qty != 0`) of a package.
    pub fn new(
        kind: &[f64],
        strike: &[f64],
        qty: &[f64],
        under_qty: f64,
        under_cost: f64,
        premium: f64,
    ) -> Payoff {
        let mut p = Payoff {
            sign: [0.0; MAX_LEGS],
            strike: [0.0; MAX_LEGS],
            qty: [0.0; MAX_LEGS],
            m: 0,
            under_qty,
            fixed: under_cost + premium,
        };
        for ((&s, &k), &q) in kind.iter().zip(strike).zip(qty) {
            if q != 0.0 && p.m < MAX_LEGS {
                (p.sign[p.m], p.strike[p.m], p.qty[p.m]) = (s, k, q);
                p.m += 1;
            }
        }
        p
    }

    /// P&L per unit at expiry with the underlying at `x`.
    #[inline]
    pub fn at(&self, x: f64) -> f64 {
        let mut v = self.under_qty * x - self.fixed;
        for j in 0..self.m {
            v += self.qty[j] * (self.sign[j] * (x - self.strike[j])).max(0.0);
        }
        v
    }

    /// Breakevens and extremes, exact from the kinks (0 and the strikes) and the slope beyond
    /// the last strike. Where the P&L is zero on a whole segment, its ends are given.
    pub fn analytics(&self) -> Analytics {
        let m = self.m;
        // Legs by increasing strike (they usually arrive sorted: then no sort at all).
        let mut order = [0usize; MAX_LEGS];
        for (j, o) in order.iter_mut().enumerate().take(m) {
            *o = j;
        }
        let order = &mut order[..m];
        if !self.strike[..m].windows(2).all(|w| w[0] <= w[1]) {
            order.sort_unstable_by(|&a, &b| self.strike[a].total_cmp(&self.strike[b]));
        }
        // The P&L at 0 and its slope on the first segment: puts pay `K - x` there.
        let (mut y0, mut slope) = (-self.fixed, self.under_qty);
        for j in 0..m {
            if self.sign[j] < 0.0 {
                y0 += self.qty[j] * self.strike[j];
                slope -= self.qty[j];
            }
        }
        // Walk the kinks: at a strike the slope changes by that leg's quantity (a call starts
        // paying, a put stops), whichever its kind.
        let mut x = [0.0f64; MAX_LEGS + 1];
        let mut y = [0.0f64; MAX_LEGS + 1];
        y[0] = y0;
        let mut n = 1;
        for &j in order.iter() {
            let k = self.strike[j];
            if k != x[n - 1] {
                y[n] = y[n - 1] + slope * (k - x[n - 1]);
                x[n] = k;
                n += 1;
            }
            slope += self.qty[j];
        }
        let (x, y) = (&x[..n], &mut y[..n]);
        let y_abs = y.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        let tol = 1e-12 * 1f64.max(y_abs).max(x[n - 1]);
        for v in y.iter_mut() {
            if v.abs() <= tol {
                *v = 0.0;
            }
        }
        let y_max = y.iter().fold(f64::NEG_INFINITY, |a, &v| a.max(v));
        let y_min = y.iter().fold(f64::INFINITY, |a, &v| a.min(v));
        let mut out = Analytics {
            max_profit: if slope > 0.0 { f64::INFINITY } else { y_max },
            max_loss: if slope < 0.0 { f64::INFINITY } else { -y_min },
            roots: [f64::NAN; max_roots(MAX_LEGS)],
            n_roots: 0,
            tol,
        };
        let push = |r: f64, out: &mut Analytics| {
            if out.n_roots < out.roots.len() && (out.n_roots == 0 || r > out.roots[out.n_roots - 1])
            {
                out.roots[out.n_roots] = r;
                out.n_roots += 1;
            }
        };
        for i in 0..n {
            if i > 0 && y[i - 1] * y[i] < 0.0 {
                let r = x[i - 1] - y[i - 1] * (x[i] - x[i - 1]) / (y[i] - y[i - 1]);
                push(r, &mut out);
            }
            if y[i] == 0.0 {
                push(x[i], &mut out);
            }
        }
        if y[n - 1] != 0.0 && slope != 0.0 && -y[n - 1] / slope > 0.0 {
            push(x[n - 1] - y[n - 1] / slope, &mut out);
        }
        out
    }

    /// Probability that the P&L at expiry is positive, given the distribution function of the
    /// underlying at expiry at each breakeven (`cdf[i] = P(S_T < roots[i])`): the mass of the
    /// intervals between breakevens where the payoff is positive.
    pub fn prob_positive(&self, a: &Analytics, cdf: &[f64]) -> f64 {
        let roots = &a.roots[..a.n_roots];
        let mut total = 0.0;
        let (mut lo, mut cdf_lo) = (0.0f64, 0.0f64);
        // The intervals between consecutive breakevens, then the one beyond the last.
        let edges = roots
            .iter()
            .zip(cdf)
            .map(|(&r, &c)| {
                if r > 0.0 {
                    (r, c.clamp(0.0, 1.0))
                } else {
                    (0.0, 0.0)
                }
            })
            .chain(std::iter::once((f64::INFINITY, 1.0)));
        for (hi, cdf_hi) in edges {
            let probe = if hi.is_finite() {
                0.5 * (lo + hi)
            } else {
                2.0 * lo + 1.0
            };
            if hi > lo && self.at(probe) > a.tol {
                total += cdf_hi - cdf_lo;
            }
            (lo, cdf_lo) = (hi, cdf_hi);
        }
        total.clamp(0.0, 1.0)
    }

    /// Expected P&L per unit at expiry `t` (undiscounted; underlying legs count their price
    /// change only). Risk-neutral: the legs' undiscounted surface value `undiscounted` plus
    /// the underlying at the forward `fwd`; real-world: each option's lognormal expectation
    /// (Black-76 on the mean `S e^{drift t}` with the real-world vol, undiscounted).
    pub fn expected(
        &self,
        spot: f64,
        measure: Measure,
        t: f64,
        fwd: f64,
        undiscounted: f64,
    ) -> Result<f64> {
        match measure {
            Measure::RiskNeutral => Ok(undiscounted + self.under_qty * fwd - self.fixed),
            Measure::RealWorld { drift, vol } => {
                let mean = spot * (drift * t).exp();
                let mut e = self.under_qty * mean - self.fixed;
                for j in 0..self.m {
                    e += self.qty[j]
                        * european::price_one(
                            Model::Black76,
                            self.sign[j],
                            mean,
                            self.strike[j],
                            t,
                            vol,
                            0.0,
                            0.0,
                            OnInvalid::Nan,
                        )?;
                }
                Ok(e)
            }
        }
    }
}

/// The per-package outputs of [`value`], in this order.
pub const OUTPUTS: [&str; 10] = [
    "value",
    "delta",
    "gamma",
    "vega",
    "theta",
    "rho",
    "pop",
    "expected_pnl",
    "max_profit",
    "max_loss",
];
/// The optional per-leg outputs of [`value`] (per contract unit, not times the quantity).
pub const LEG_OUTPUTS: [&str; 9] = [
    "vol", "price", "delta", "gamma", "vega", "theta", "rho", "forward", "discount",
];

/// Where [`value`] writes.
pub struct Outputs<'a> {
    /// One slice of `n` per name in [`OUTPUTS`].
    pub per_package: [&'a mut [f64]; 10],
    /// `n * max_roots(legs)` breakevens, NaN-padded (NaN for multi-expiry packages).
    pub breakevens: &'a mut [f64],
    /// Optionally one slice of `n * legs` per name in [`LEG_OUTPUTS`] (NaN in empty slots).
    pub per_leg: Option<[&'a mut [f64]; 9]>,
}

/// Surface values of single options into `out` (9 rows of `n`: vol, price, spot delta, spot
/// gamma, vega, theta, rho, forward, discount factor), through [`LegValues`]. Every option must
/// be well formed and on the surface (`0 < expiry <=` the last slice, positive strike, kind
/// +1/-1), else an error names the first offending one.
pub fn leg_values_into(
    market: &Market,
    kind: &[f64],
    strike: &[f64],
    expiry: &[f64],
    out: &mut [f64],
) -> Result<()> {
    market.slices.check()?;
    let n = kind.len();
    if strike.len() != n || expiry.len() != n || out.len() != 9 * n {
        return Err(Error::Shape("leg arrays and output do not fit".into()));
    }
    let ones = vec![1.0; n];
    let zeros = vec![0.0; n];
    let as_packages = Packages {
        legs: 1,
        kind,
        strike,
        expiry,
        qty: &ones,
        under_qty: &zeros,
        under_cost: &zeros,
        premium: &zeros,
    };
    let last = market.slices.ts[market.slices.ts.len() - 1];
    as_packages.check_values(last)?;
    let mut legs = LegValues::default();
    for i in 0..n {
        legs.push(market, kind[i], strike[i], expiry[i]);
    }
    legs.evaluate(market)?;
    let rows: [&[f64]; 7] = [
        &legs.vol,
        &legs.price,
        &legs.delta,
        &legs.gamma,
        &legs.vega,
        &legs.theta,
        &legs.rho,
    ];
    for (dst, src) in out.chunks_mut(n.max(1)).zip(rows) {
        dst.copy_from_slice(src);
    }
    for i in 0..n {
        out[7 * n + i] = legs.fwd[i];
        out[8 * n + i] = 1.0 / legs.growth[i];
    }
    Ok(())
}

/// Expiry analytics only (no market): per package max profit, max loss and breakevens
/// (`n * max_roots(legs)`, NaN-padded); NaN for packages whose option legs do not share one
/// expiry or that have none.
pub fn analytics(
    p: &Packages,
    max_profit: &mut [f64],
    max_loss: &mut [f64],
    breakevens: &mut [f64],
) -> Result<()> {
    p.check_shape()?;
    p.check_values(f64::INFINITY)?;
    let (n, l, r) = (p.len(), p.legs, max_roots(p.legs));
    if max_profit.len() != n || max_loss.len() != n || breakevens.len() != n * r {
        return Err(Error::Shape("output arrays do not fit the batch".into()));
    }
    for i in 0..n {
        let rows = i * l..(i + 1) * l;
        let out_roots = &mut breakevens[i * r..(i + 1) * r];
        out_roots.fill(f64::NAN);
        (max_profit[i], max_loss[i]) = (f64::NAN, f64::NAN);
        if several_expiries(&p.expiry[rows.clone()], &p.qty[rows.clone()]) {
            continue;
        }
        let pay = Payoff::new(
            &p.kind[rows.clone()],
            &p.strike[rows.clone()],
            &p.qty[rows],
            p.under_qty[i],
            p.under_cost[i],
            p.premium[i],
        );
        let a = pay.analytics();
        (max_profit[i], max_loss[i]) = (a.max_profit, a.max_loss);
        let k = a.n_roots.min(r);
        out_roots[..k].copy_from_slice(&a.roots[..k]);
    }
    Ok(())
}

/// Whether a package's active legs have more than one expiry.
fn several_expiries(expiry: &[f64], qty: &[f64]) -> bool {
    let mut active = expiry.iter().zip(qty).filter(|(_, &q)| q != 0.0);
    let Some((&t0, _)) = active.next() else {
        return false;
    };
    active.any(|(&t, _)| (t - t0).abs() > SAME_EXPIRY)
}

/// Values every package of `p` in `market`; see the module documentation.
pub fn value(market: &Market, p: &Packages, measure: Measure, out: Outputs) -> Result<()> {
    market.check()?;
    if let Measure::RealWorld { drift, vol } = measure {
        if !(drift.is_finite() && vol > 0.0 && vol.is_finite()) {
            return Err(Error::InvalidInput {
                arg: "real_world",
                index: 0,
                reason: format!("drift must be finite and vol positive, got ({drift}, {vol})"),
            });
        }
    }
    p.check_shape()?;
    let last = market.slices.ts[market.slices.ts.len() - 1];
    p.check_values(last)?;
    let (n, l, r) = (p.len(), p.legs, max_roots(p.legs));
    let Outputs {
        per_package,
        breakevens,
        per_leg,
    } = out;
    if per_package.iter().any(|o| o.len() != n)
        || breakevens.len() != n * r
        || per_leg
            .as_ref()
            .is_some_and(|a| a.iter().any(|o| o.len() != n * l))
    {
        return Err(Error::Shape("output arrays do not fit the batch".into()));
    }
    let per_chunk = (CHUNK_LEGS / l).max(1);
    // Split every output into chunk-sized pieces, one bundle per chunk.
    let n_chunks = n.div_ceil(per_chunk);
    let mut bundles: Vec<ChunkOut> = (0..n_chunks).map(|_| ChunkOut::default()).collect();
    for o in per_package {
        for (b, piece) in bundles.iter_mut().zip(o.chunks_mut(per_chunk)) {
            b.per_package.push(piece);
        }
    }
    for (b, piece) in bundles.iter_mut().zip(breakevens.chunks_mut(per_chunk * r)) {
        b.breakevens = piece;
    }
    if let Some(legs_out) = per_leg {
        for o in legs_out {
            for (b, piece) in bundles.iter_mut().zip(o.chunks_mut(per_chunk * l)) {
                b.per_leg.push(piece);
            }
        }
    }
    let work = |(c, mut b): (usize, ChunkOut), scratch: &mut Scratch| {
        chunk(market, p, measure, c * per_chunk, &mut b, scratch)
    };
    if n * l < european::parallel_threshold() {
        let mut scratch = Scratch::new();
        bundles
            .into_iter()
            .enumerate()
            .try_for_each(|x| work(x, &mut scratch))
    } else {
        bundles
            .into_par_iter()
            .enumerate()
            .try_for_each_init(Scratch::new, |s, x| work(x, s))
    }
}

#[derive(Default)]
struct ChunkOut<'a> {
    per_package: Vec<&'a mut [f64]>,
    breakevens: &'a mut [f64],
    per_leg: Vec<&'a mut [f64]>,
}

/// Per-chunk working arrays, reused across the chunks of one thread.
struct Scratch {
    legs: LegValues,
    pending: Vec<Pending>,
    /// Breakevens whose distribution function is needed: strike, expiry, forward; results.
    cdf_k: Vec<f64>,
    cdf_t: Vec<f64>,
    cdf_f: Vec<f64>,
    cdf: Vec<f64>,
    slope: Vec<f64>,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch {
            legs: LegValues::default(),
            pending: Vec::new(),
            cdf_k: Vec::new(),
            cdf_t: Vec::new(),
            cdf_f: Vec::new(),
            cdf: Vec::new(),
            slope: Vec::new(),
        }
    }
}

const LEG_GREEKS: [Greek; 6] = [
    Greek::Price,
    Greek::Delta,
    Greek::Gamma,
    Greek::Vega,
    Greek::Theta,
    Greek::Rho,
];

/// Market values of a list of options on the surface: inputs gathered with [`push`], then
/// [`evaluate`] fills the vols, Black-76 prices and greeks (delta and gamma with respect to the
/// spot). Shared by the package kernel and the screener so both value legs identically.
///
/// [`push`]: LegValues::push
/// [`evaluate`]: LegValues::evaluate
#[derive(Debug, Default, Clone)]
pub struct LegValues {
    /// +1 call, -1 put.
    pub kind: Vec<f64>,
    /// Surface forward at the expiry.
    pub fwd: Vec<f64>,
    /// Strike.
    pub strike: Vec<f64>,
    /// Expiry in years.
    pub expiry: Vec<f64>,
    /// Surface zero rate at the expiry.
    pub rate: Vec<f64>,
    /// `exp(rate * expiry)`: undiscounts a price to the expiry.
    pub growth: Vec<f64>,
    /// Surface vol.
    pub vol: Vec<f64>,
    /// Price, then the greeks (delta and gamma with respect to the spot; vega per 1.00 of vol;
    /// theta per year with the forward held; rho per 1.00 of rate).
    pub price: Vec<f64>,
    /// Spot delta.
    pub delta: Vec<f64>,
    /// Spot gamma.
    pub gamma: Vec<f64>,
    /// Vega.
    pub vega: Vec<f64>,
    /// Theta.
    pub theta: Vec<f64>,
    /// Rho.
    pub rho: Vec<f64>,
    carry: Vec<f64>,
    last: Option<(f64, f64, f64, f64)>,
}

impl LegValues {
    /// Empties the lists (keeps their capacity).
    pub fn clear(&mut self) {
        for v in [
            &mut self.kind,
            &mut self.fwd,
            &mut self.strike,
            &mut self.expiry,
            &mut self.rate,
            &mut self.growth,
            &mut self.vol,
            &mut self.price,
            &mut self.delta,
            &mut self.gamma,
            &mut self.vega,
            &mut self.theta,
            &mut self.rho,
            &mut self.carry,
        ] {
            v.clear();
        }
    }

    /// Number of options.
    pub fn len(&self) -> usize {
        self.kind.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.kind.is_empty()
    }

    /// Adds one option (its forward and rate looked up once per run of equal expiries).
    pub fn push(&mut self, market: &Market, kind: f64, strike: f64, t: f64) {
        let (fwd, rate, growth) = match self.last {
            Some((lt, f, r, g)) if lt == t => (f, r, g),
            _ => {
                let (lf, rate) =
                    svi_surface::forward_and_rate(&market.slices, market.log_discount, t);
                let v = (lf.exp(), rate, (rate * t).exp());
                self.last = Some((t, v.0, v.1, v.2));
                v
            }
        };
        self.kind.push(kind);
        self.fwd.push(fwd);
        self.strike.push(strike);
        self.expiry.push(t);
        self.rate.push(rate);
        self.growth.push(growth);
        self.carry.push(0.0);
    }

    /// Vols from the surface, then Black-76 prices and greeks over the whole list.
    pub fn evaluate(&mut self, market: &Market) -> Result<()> {
        let m = self.len();
        for v in [
            &mut self.vol,
            &mut self.price,
            &mut self.delta,
            &mut self.gamma,
            &mut self.vega,
            &mut self.theta,
            &mut self.rho,
        ] {
            v.resize(m, 0.0);
        }
        svi_surface::vol_into(&market.slices, &self.strike, &self.expiry, &mut self.vol)?;
        let ops = SliceOperands::new([
            &self.kind,
            &self.fwd,
            &self.strike,
            &self.expiry,
            &self.vol,
            &self.rate,
            &self.carry,
        ])?;
        european::evaluate(
            Model::Black76,
            GreekSet::from_iter(LEG_GREEKS),
            OnInvalid::Nan,
            &ops,
            &mut [
                &mut self.price,
                &mut self.delta,
                &mut self.gamma,
                &mut self.vega,
                &mut self.theta,
                &mut self.rho,
            ],
        )?;
        // Forward greeks to spot greeks: dF/dS = F/S.
        for i in 0..m {
            let ratio = self.fwd[i] / market.spot;
            self.delta[i] *= ratio;
            self.gamma[i] *= ratio * ratio;
        }
        Ok(())
    }
}

fn chunk(
    market: &Market,
    p: &Packages,
    measure: Measure,
    first: usize,
    out: &mut ChunkOut,
    scratch: &mut Scratch,
) -> Result<()> {
    let (l, r) = (p.legs, max_roots(p.legs));
    let count = out.breakevens.len() / r;
    let slots = first * l..(first + count) * l;
    // Gather the active legs, then their vols, prices and greeks.
    let legs = &mut scratch.legs;
    legs.clear();
    for s in slots.clone() {
        if p.qty[s] != 0.0 {
            legs.push(market, p.kind[s], p.strike[s], p.expiry[s]);
        }
    }
    legs.evaluate(market)?;
    let LegValues {
        fwd,
        expiry,
        vol,
        growth,
        price,
        delta,
        gamma,
        vega,
        theta,
        rho,
        ..
    } = &scratch.legs;
    let spot = market.spot;
    let pending = &mut scratch.pending;
    pending.clear();
    let (cdf_k, cdf_t, cdf_f) = (&mut scratch.cdf_k, &mut scratch.cdf_t, &mut scratch.cdf_f);
    cdf_k.clear();
    cdf_t.clear();
    cdf_f.clear();
    let mut g = 0usize; // next gathered leg
                        // Pass 1: values and greeks; expiry analytics, and the breakevens whose distribution
                        // function is needed, gathered for one vectorised surface call.
    for i in 0..count {
        let pkg = first + i;
        let rows = pkg * l..(pkg + 1) * l;
        let mut acc = [0.0f64; 6];
        let (mut t_common, mut single, mut any) = (0.0, true, false);
        let mut fwd_t = f64::NAN;
        let mut undiscounted = 0.0;
        for (j, s) in rows.clone().enumerate() {
            let q = p.qty[s];
            if q == 0.0 {
                for o in out.per_leg.iter_mut() {
                    o[i * l + j] = f64::NAN;
                }
                continue;
            }
            let leg = [
                vol[g],
                price[g],
                delta[g],
                gamma[g],
                vega[g],
                theta[g],
                rho[g],
                fwd[g],
                1.0 / growth[g],
            ];
            for (a, v) in acc.iter_mut().zip(&leg[1..]) {
                *a += q * v;
            }
            for (o, v) in out.per_leg.iter_mut().zip(leg) {
                o[i * l + j] = v;
            }
            undiscounted += q * price[g] * growth[g];
            if !any {
                (t_common, fwd_t, any) = (expiry[g], fwd[g], true);
            } else if (expiry[g] - t_common).abs() > SAME_EXPIRY {
                single = false;
            }
            g += 1;
        }
        let (uq, ucost, prem) = (p.under_qty[pkg], p.under_cost[pkg], p.premium[pkg]);
        let pp = &mut out.per_package;
        pp[0][i] = acc[0] + uq * spot - ucost;
        pp[1][i] = acc[1] + uq;
        for k in 2..6 {
            pp[k][i] = acc[k];
        }
        out.breakevens[i * r..(i + 1) * r].fill(f64::NAN);
        if !(any && single) {
            for o in pp[6..].iter_mut() {
                o[i] = f64::NAN;
            }
            continue;
        }
        let pay = Payoff::new(
            &p.kind[rows.clone()],
            &p.strike[rows.clone()],
            &p.qty[rows],
            uq,
            ucost,
            prem,
        );
        let a = pay.analytics();
        let first_root = cdf_k.len();
        for &x in &a.roots[..a.n_roots] {
            cdf_k.push(if x > 0.0 { x } else { 1.0 });
            cdf_t.push(t_common);
            cdf_f.push(fwd_t);
        }
        pending.push(Pending {
            local: i,
            pay,
            a,
            t: t_common,
            fwd: fwd_t,
            undiscounted,
            first_root,
        });
    }
    // The distribution function at every breakeven of the chunk.
    let cdf = &mut scratch.cdf;
    cdf.clear();
    cdf.resize(cdf_k.len(), 0.0);
    distribution(
        market,
        measure,
        cdf_k,
        cdf_t,
        cdf_f,
        cdf,
        &mut scratch.slope,
    )?;
    // Pass 2: probability of profit and expected P&L.
    for pend in pending.iter() {
        let (i, a) = (pend.local, &pend.a);
        let pkg = first + i;
        let (uq, ucost, prem) = (p.under_qty[pkg], p.under_cost[pkg], p.premium[pkg]);
        let t = pend.t;
        let expected = match measure {
            Measure::RiskNeutral => pend.undiscounted + uq * pend.fwd - ucost - prem,
            Measure::RealWorld { drift, vol } => {
                let mean = spot * (drift * t).exp();
                let mut e = uq * mean - ucost - prem;
                for s in pkg * l..(pkg + 1) * l {
                    let q = p.qty[s];
                    if q != 0.0 {
                        e += q * european::price_one(
                            Model::Black76,
                            p.kind[s],
                            mean,
                            p.strike[s],
                            t,
                            vol,
                            0.0,
                            0.0,
                            OnInvalid::Nan,
                        )?;
                    }
                }
                e
            }
        };
        let pp = &mut out.per_package;
        pp[6][i] = pend
            .pay
            .prob_positive(a, &cdf[pend.first_root..pend.first_root + a.n_roots]);
        pp[7][i] = expected;
        pp[8][i] = a.max_profit;
        pp[9][i] = a.max_loss;
        let k = a.n_roots.min(r);
        out.breakevens[i * r..i * r + k].copy_from_slice(&a.roots[..k]);
    }
    Ok(())
}

/// A single-expiry package of a chunk waiting for the distribution function at its
/// breakevens.
struct Pending {
    local: usize,
    pay: Payoff,
    a: Analytics,
    t: f64,
    fwd: f64,
    undiscounted: f64,
    first_root: usize,
}

/// `P(S_T < x[i])` at expiry `t[i]` (forward `f[i]`) under `measure`, into `out`: the surface's
/// smile-consistent distribution ([`smile_cdf`]) or the real-world lognormal. `slope` is
/// scratch space.
pub fn distribution(
    market: &Market,
    measure: Measure,
    x: &[f64],
    t: &[f64],
    f: &[f64],
    out: &mut [f64],
    slope: &mut Vec<f64>,
) -> Result<()> {
    match measure {
        Measure::RiskNeutral => {
            slope.clear();
            slope.resize(x.len(), 0.0);
            svi_surface::vol_slope_into(&market.slices, x, t, out, slope)?;
            smile_cdf_into(f, x, t, slope, out);
        }
        Measure::RealWorld { drift, vol } => {
            for ((o, &x), &t) in out.iter_mut().zip(x).zip(t) {
                let mu = (drift - 0.5 * vol * vol) * t;
                *o = ncdf(((x / market.spot).ln() - mu) / (vol * t.sqrt()));
            }
        }
    }
    Ok(())
}

multiversion! {
    /// [`smile_cdf`] over arrays; `vol` holds the vols on entry and the probabilities on exit.
    fn smile_cdf_into(f: &[f64], x: &[f64], t: &[f64], slope: &[f64], vol: &mut [f64]) =>
        smile_cdf_body
}

#[inline(always)]
fn smile_cdf_body<A: Arith>(f: &[f64], x: &[f64], t: &[f64], slope: &[f64], vol: &mut [f64]) {
    for i in 0..vol.len() {
        vol[i] = smile_cdf::<A>(f[i], x[i], t[i], vol[i], slope[i]);
    }
}

/// `P(S_T < x)` under the surface's smile at expiry `t` (forward `f`), from the vol at `x` and
/// its strike slope: the strike derivative of the undiscounted put,
/// `N(-d2) + F phi(d1) sqrt(T) dvol/dK` (Breeden & Litzenberger 1978).
#[inline(always)]
pub fn smile_cdf<A: Arith>(f: f64, x: f64, t: f64, vol: f64, slope: f64) -> f64 {
    let sqrt_t = t.sqrt();
    let sd = vol * sqrt_t;
    let d1 = ln::<A>(f / x) / sd + 0.5 * sd;
    let d2 = d1 - sd;
    let (n2, _) = normal::cdf_pdf::<A>(-d2);
    let p = A::mla(f * normal::pdf::<A>(d1) * sqrt_t, slope, n2).clamp(0.0, 1.0);
    // No variance left: the forward decides.
    let degenerate = if x > f { 1.0 } else { 0.0 };
    if sd > 0.0 {
        p
    } else {
        degenerate
    }
}

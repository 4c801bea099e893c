//! Full revaluation of a book of packages over a grid of market scenarios: spot shocks ×
//! vol shocks × days forward.
//!
//! The book is a [`Packages`] batch (one underlying, one surface) with a money weight per
//! package (position quantity × contract multiplier) and a group per package; the output is
//! the book's value in every scenario, summed per group, laid out `(spot, vol, days, group)`
//! row-major.
//!
//! Scenario dynamics (every option keeps its own forward, rate and carry):
//!
//! * spot shock `s` (a fraction, `> -1`): the spot and every forward scale by `1 + s`;
//!   underlying legs are marked at `S (1 + s)`.
//! * vol shock `dv` (additive, 0.05 = 5 vol points) on the option's surface vol, floored at 0.
//!   [`Dynamics::StickyStrike`] (default): the vol before the shock is today's surface vol at
//!   the option's strike and expiry, whatever the spot does. [`Dynamics::StickyMoneyness`]:
//!   the vol at the strike's moneyness held, i.e. today's surface vol at `K / (1 + s)`.
//! * days forward `d` (calendar days, ACT/365, fractions allowed): each option's time to
//!   expiry shrinks to `tau = T - d/365`; its zero rate `r` and carry rate
//!   `b = ln(F/S) / T` are held, so the forward becomes `F (1 + s) e^{-b d/365}` (equal to
//!   `S' e^{b tau}`), and its implied vol is held (the option keeps today's vol). The
//!   derivative along `d` is therefore the spot-held theta, `theta_F - b S delta` with
//!   `theta_F` the Black-76 theta at a fixed forward of [`crate::package`]. An option with
//!   `tau <= 0` has expired and pays its intrinsic value at the shocked spot, `max(phi (S' -
//!   K), 0)`, which is also the limit of the formula as `tau -> 0`.
//!
//! Options are Black-76 through [`european::price`], on the forward, rate and vol that
//! [`LegValues`] (the package kernel's leg valuation) gives, so a zero shock reproduces the
//! package value. Per call, the forwards and times to expiry of every leg on every day are
//! tabulated once (16 bytes × legs × days); a task then prices one chunk of legs for one
//! (spot, vol) pair on every day. Above a size threshold the tasks run on the rayon pool:
//! one (spot, vol) pair per task when there are enough pairs, else chunks of legs with their
//! partial sums reduced.

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::european::{self, OnInvalid};
use crate::model::Model;
use crate::package::{LegValues, Market, Packages};
use crate::svi_surface;

/// Legs per chunk (a chunk's working arrays stay in L1/L2).
const CHUNK: usize = 1024;
/// Days per year (ACT/365).
const YEAR_DAYS: f64 = 365.0;

/// How the surface moves with the spot (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dynamics {
    /// Each option keeps today's vol at its strike.
    #[default]
    StickyStrike,
    /// Each option keeps today's vol at its moneyness `K / S`.
    StickyMoneyness,
}

impl Dynamics {
    /// From its name, "sticky_strike" or "sticky_moneyness".
    pub fn parse(name: &str) -> Result<Dynamics> {
        match name {
            "sticky_strike" => Ok(Dynamics::StickyStrike),
            "sticky_moneyness" => Ok(Dynamics::StickyMoneyness),
            _ => Err(Error::Unknown {
                what: "dynamics",
                name: name.to_string(),
                expected: "sticky_strike, sticky_moneyness",
            }),
        }
    }
}

/// The scenario axes.
#[derive(Debug, Clone, Copy)]
pub struct Grid<'a> {
    /// Relative spot shocks (`-0.2` = spot down 20%), each `> -1`.
    pub spot: &'a [f64],
    /// Additive vol shocks (`0.05` = +5 vol points).
    pub vol: &'a [f64],
    /// Calendar days forward, each `>= 0`.
    pub days: &'a [f64],
}

impl Grid<'_> {
    /// Number of scenarios.
    pub fn len(&self) -> usize {
        self.spot.len() * self.vol.len() * self.days.len()
    }

    /// Whether the grid has no scenario.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn check(&self) -> Result<()> {
        let bad = |arg: &'static str, index: usize, reason: String| {
            Err(Error::InvalidInput { arg, index, reason })
        };
        if let Some(i) = self.spot.iter().position(|s| !(s.is_finite() && *s > -1.0)) {
            let s = self.spot[i];
            return bad(
                "spot",
                i,
                format!("a shock must be finite and > -1, got {s}"),
            );
        }
        if let Some(i) = self.vol.iter().position(|v| !v.is_finite()) {
            return bad("vol", i, format!("must be finite, got {}", self.vol[i]));
        }
        if let Some(i) = self.days.iter().position(|d| !(d.is_finite() && *d >= 0.0)) {
            let d = self.days[i];
            return bad("days", i, format!("must be finite and >= 0, got {d}"));
        }
        Ok(())
    }
}

/// A book: a batch of packages with a money weight and a group each.
#[derive(Debug, Clone, Copy)]
pub struct Book<'a> {
    /// The packages (their `premium` is not used).
    pub packages: Packages<'a>,
    /// Money per unit of each package (position quantity × contract multiplier).
    pub weight: &'a [f64],
    /// Group of each package (`< n_groups`); the output holds one sum per group.
    pub group: &'a [u32],
    /// Number of groups.
    pub n_groups: usize,
}

impl Book<'_> {
    /// The package layout and legs as the package kernel checks them, plus the weights and
    /// groups.
    fn check(&self, last_expiry: f64) -> Result<()> {
        let p = &self.packages;
        p.check_shape()?;
        let n = p.len();
        if self.weight.len() != n || self.group.len() != n {
            return Err(Error::Shape(format!(
                "{n} packages need {n} weights and {n} groups"
            )));
        }
        if n > 0 && self.n_groups == 0 {
            return Err(Error::Shape("n_groups must be at least 1".into()));
        }
        let bad = |arg: &'static str, index: usize, reason: String| {
            Err(Error::InvalidInput { arg, index, reason })
        };
        if let Some(i) = self.group.iter().position(|&g| g as usize >= self.n_groups) {
            let g = self.group[i];
            return bad(
                "group",
                i,
                format!("{g} is not below n_groups {}", self.n_groups),
            );
        }
        if let Some(i) = self.weight.iter().position(|x| !x.is_finite()) {
            return bad(
                "weight",
                i,
                format!("must be finite, got {}", self.weight[i]),
            );
        }
        p.check_values(last_expiry)
    }
}

/// The option legs of a book, flattened, with what every scenario needs.
struct Legs {
    kind: Vec<f64>,
    strike: Vec<f64>,
    expiry: Vec<f64>,
    rate: Vec<f64>,
    vol: Vec<f64>,
    /// Quantity × package weight (money per unit of the leg's price).
    coef: Vec<f64>,
    group: Vec<u32>,
    /// Per day, per leg: the unshocked forward `F e^{-b d/365}` (the spot once expired) and
    /// the time left `max(T - d/365, 0)`.
    fwd_day: Vec<f64>,
    tau_day: Vec<f64>,
    /// Zeros: Black-76 takes no dividend yield.
    zeros: Vec<f64>,
}

impl Legs {
    fn len(&self) -> usize {
        self.kind.len()
    }
}

fn gather(market: &Market, book: &Book, days: &[f64]) -> Result<Legs> {
    let p = &book.packages;
    let mut lv = LegValues::default();
    let (mut coef, mut group) = (Vec::new(), Vec::new());
    for (s, &q) in p.qty.iter().enumerate() {
        if q != 0.0 {
            let i = s / p.legs;
            lv.push(market, p.kind[s], p.strike[s], p.expiry[s]);
            coef.push(q * book.weight[i]);
            group.push(book.group[i]);
        }
    }
    lv.evaluate(market)?;
    let m = lv.len();
    let spot = market.spot;
    let (mut fwd_day, mut tau_day) = (Vec::with_capacity(m * days.len()), Vec::new());
    tau_day.reserve_exact(m * days.len());
    for &d in days {
        let dt = d / YEAR_DAYS;
        for j in 0..m {
            let (f, t) = (lv.fwd[j], lv.expiry[j]);
            let tau = t - dt;
            if tau > 0.0 {
                // exp(-b dt) with b = ln(F/S)/T: exactly F at dt = 0.
                let b = (f.ln() - spot.ln()) / t;
                fwd_day.push(f * (-b * dt).exp());
                tau_day.push(tau);
            } else {
                // Black-76 at zero time is the intrinsic value on its forward: the spot.
                fwd_day.push(spot);
                tau_day.push(0.0);
            }
        }
    }
    Ok(Legs {
        zeros: vec![0.0; m.min(CHUNK)],
        kind: lv.kind,
        strike: lv.strike,
        expiry: lv.expiry,
        rate: lv.rate,
        vol: lv.vol,
        coef,
        group,
        fwd_day,
        tau_day,
    })
}

/// Per-task working arrays.
struct Scratch {
    vol: Vec<f64>,
    fwd: Vec<f64>,
    price: Vec<f64>,
    strike: Vec<f64>,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch {
            vol: Vec::with_capacity(CHUNK),
            fwd: Vec::with_capacity(CHUNK),
            price: Vec::with_capacity(CHUNK),
            strike: Vec::with_capacity(CHUNK),
        }
    }
}

/// Adds the option legs `lo..hi` in scenario (spot shock `s`, vol shock `dv`) on every day to
/// `out` (`days × groups`).
#[allow(clippy::too_many_arguments)]
fn add_chunk(
    market: &Market,
    legs: &Legs,
    dynamics: Dynamics,
    n_days: usize,
    n_groups: usize,
    (lo, hi): (usize, usize),
    (s, dv): (f64, f64),
    out: &mut [f64],
    scratch: &mut Scratch,
) -> Result<()> {
    let m = hi - lo;
    let n = legs.len();
    let g = 1.0 + s;
    let Scratch {
        vol,
        fwd,
        price,
        strike,
    } = scratch;
    vol.resize(m, 0.0);
    fwd.resize(m, 0.0);
    price.resize(m, 0.0);
    match dynamics {
        Dynamics::StickyStrike => {
            for (v, &v0) in vol.iter_mut().zip(&legs.vol[lo..hi]) {
                *v = (v0 + dv).max(0.0);
            }
        }
        Dynamics::StickyMoneyness => {
            strike.clear();
            strike.extend(legs.strike[lo..hi].iter().map(|k| k / g));
            svi_surface::vol_into(&market.slices, strike, &legs.expiry[lo..hi], vol)?;
            for v in vol.iter_mut() {
                *v = (*v + dv).max(0.0);
            }
        }
    }
    for d in 0..n_days {
        let row = d * n + lo..d * n + hi;
        for (f, &f0) in fwd.iter_mut().zip(&legs.fwd_day[row.clone()]) {
            *f = g * f0;
        }
        european::price(
            Model::Black76,
            &legs.kind[lo..hi],
            fwd,
            &legs.strike[lo..hi],
            &legs.tau_day[row],
            vol,
            &legs.rate[lo..hi],
            &legs.zeros[..m],
            OnInvalid::Nan,
            price,
        )?;
        let acc = &mut out[d * n_groups..(d + 1) * n_groups];
        if n_groups == 1 {
            acc[0] += price
                .iter()
                .zip(&legs.coef[lo..hi])
                .map(|(p, c)| p * c)
                .sum::<f64>();
        } else {
            for ((p, c), &grp) in price
                .iter()
                .zip(&legs.coef[lo..hi])
                .zip(&legs.group[lo..hi])
            {
                acc[grp as usize] += p * c;
            }
        }
    }
    Ok(())
}

/// Values `book` in every scenario of `grid`: `out[((i_spot * n_vol + i_vol) * n_days +
/// i_day) * n_groups + group]` is the sum over the group's packages of weight × value per
/// unit (options plus `under_qty * S' - under_cost`), in money. See the module documentation
/// for the dynamics.
pub fn revalue(
    market: &Market,
    book: &Book,
    grid: &Grid,
    dynamics: Dynamics,
    out: &mut [f64],
) -> Result<()> {
    market.check()?;
    grid.check()?;
    let last = market.slices.ts[market.slices.ts.len() - 1];
    book.check(last)?;
    let (n_days, n_groups) = (grid.days.len(), book.n_groups);
    let n_pairs = grid.spot.len() * grid.vol.len();
    if out.len() != n_pairs * n_days * n_groups {
        return Err(Error::Shape(format!(
            "the output needs {} values ({} spot x {} vol x {n_days} days x {n_groups} groups), \
             got {}",
            n_pairs * n_days * n_groups,
            grid.spot.len(),
            grid.vol.len(),
            out.len()
        )));
    }
    if out.is_empty() {
        return Ok(());
    }
    // The underlying legs, per group: value = a S (1 + s) + c.
    let (mut a, mut c) = (vec![0.0; n_groups], vec![0.0; n_groups]);
    let p = &book.packages;
    for i in 0..p.len() {
        let grp = book.group[i] as usize;
        a[grp] += p.under_qty[i] * book.weight[i];
        c[grp] -= p.under_cost[i] * book.weight[i];
    }
    let legs = gather(market, book, grid.days)?;
    let n = legs.len();
    let chunks: Vec<(usize, usize)> = (0..n.div_ceil(CHUNK))
        .map(|i| (i * CHUNK, ((i + 1) * CHUNK).min(n)))
        .collect();
    let pair = |k: usize| (grid.spot[k / grid.vol.len()], grid.vol[k % grid.vol.len()]);
    let block = n_days * n_groups;
    let stock = |k: usize, o: &mut [f64]| {
        let s = pair(k).0;
        for d in 0..n_days {
            for grp in 0..n_groups {
                o[d * n_groups + grp] += a[grp] * market.spot * (1.0 + s) + c[grp];
            }
        }
    };
    // One (spot, vol) pair: every chunk of legs on every day.
    let whole_pair = |(k, o): (usize, &mut [f64]), scratch: &mut Scratch| -> Result<()> {
        o.fill(0.0);
        for &range in &chunks {
            add_chunk(
                market,
                &legs,
                dynamics,
                n_days,
                n_groups,
                range,
                pair(k),
                o,
                scratch,
            )?;
        }
        stock(k, o);
        Ok(())
    };
    let work = n.max(1) * n_pairs * n_days;
    let threads = rayon::current_num_threads();
    if work < european::parallel_threshold() || threads == 1 {
        let mut scratch = Scratch::new();
        out.chunks_mut(block)
            .enumerate()
            .try_for_each(|x| whole_pair(x, &mut scratch))
    } else if n_pairs >= 4 * threads || chunks.len() < 2 {
        out.par_chunks_mut(block)
            .enumerate()
            .try_for_each_init(Scratch::new, |s, x| whole_pair(x, s))
    } else {
        // Few pairs, many legs: chunks of legs in parallel, partial sums reduced.
        let total = chunks
            .par_iter()
            .try_fold(
                || (vec![0.0; out.len()], Scratch::new()),
                |(mut acc, mut scratch), &range| -> Result<(Vec<f64>, Scratch)> {
                    for (k, o) in acc.chunks_mut(block).enumerate() {
                        add_chunk(
                            market,
                            &legs,
                            dynamics,
                            n_days,
                            n_groups,
                            range,
                            pair(k),
                            o,
                            &mut scratch,
                        )?;
                    }
                    Ok((acc, scratch))
                },
            )
            .map(|r| r.map(|(acc, _)| acc))
            .try_reduce(
                || vec![0.0; out.len()],
                |mut x, y| {
                    for (u, v) in x.iter_mut().zip(&y) {
                        *u += v;
                    }
                    Ok(x)
                },
            )?;
        out.copy_from_slice(&total);
        for (k, o) in out.chunks_mut(block).enumerate() {
            stock(k, o);
        }
        Ok(())
    }
}

//! Exhaustive screening of income strategies over a whole chain.
//!
//! Every candidate of a strategy is generated from the listed quotes of each expiry — each
//! strike for single-leg strategies, every (short, long) pair for verticals, every short put ×
//! short call pair for strangles, every put spread × call spread with the short put below the
//! short call for iron condors — and evaluated with the same functions as the package kernel
//! ([`LegValues`] for the legs, [`Payoff`] for the exact expiry analytics, [`distribution`] for
//! the probability of profit), filtered, and the best `top` kept per expiry or overall.
//!
//! Conventions: credits are per unit (per share) and positive when received; money amounts
//! (max profit/loss, collateral, expected P&L, greeks) are per package (times the multiplier).
//! The premium used by the expiry analytics is the credit at the chosen fill (mid, or natural:
//! sell at the bid, buy at the ask). Collateral follows the cash-account rules of
//! `Package.collateral`: shares at spot for covered calls, strike for cash-secured puts, the
//! maximum loss for spreads and condors, none defined (infinite) for naked strangles.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::package::{distribution, Analytics, LegValues, Market, Measure, Payoff};

/// The strategies the screener generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Long the underlying (one contract's worth, bought at spot) and a short call.
    CoveredCall,
    /// A short put, collateralised by its strike.
    CashSecuredPut,
    /// Short put, long put at a lower strike.
    BullPutSpread,
    /// Short call, long call at a higher strike.
    BearCallSpread,
    /// A bull put spread and a bear call spread, the short put below the short call.
    IronCondor,
    /// A short put below a short call.
    ShortStrangle,
}

impl Strategy {
    /// Accepted names.
    pub const NAMES: &'static str = "covered_call, cash_secured_put, bull_put_spread, \
                                     bear_call_spread, iron_condor, short_strangle";

    /// From its snake-case name.
    pub fn parse(name: &str) -> Result<Strategy> {
        Ok(match name {
            "covered_call" => Strategy::CoveredCall,
            "cash_secured_put" => Strategy::CashSecuredPut,
            "bull_put_spread" => Strategy::BullPutSpread,
            "bear_call_spread" => Strategy::BearCallSpread,
            "iron_condor" => Strategy::IronCondor,
            "short_strangle" => Strategy::ShortStrangle,
            _ => {
                return Err(Error::Unknown {
                    what: "strategy",
                    name: name.to_string(),
                    expected: Strategy::NAMES,
                })
            }
        })
    }
}

/// The outputs of each screened candidate, in this order (see the module documentation for
/// units). `short_put_delta`/`short_call_delta` are raw spot deltas per unit of the short legs
/// (NaN where the strategy has none); `width` is the widest spread width; `max_rel_spread` the
/// largest `(ask - bid) / mid` over the legs; `min_open_interest` / `min_volume` the smallest
/// over the legs; `dte` days to expiry (ACT/365).
pub const METRICS: [&str; 23] = [
    "credit_mid",
    "credit_natural",
    "spread_cost",
    "max_profit",
    "max_loss",
    "breakeven_lo",
    "breakeven_hi",
    "collateral",
    "roc",
    "annualised_return",
    "pop",
    "expected_pnl",
    "delta",
    "gamma",
    "theta",
    "vega",
    "short_put_delta",
    "short_call_delta",
    "width",
    "max_rel_spread",
    "min_open_interest",
    "min_volume",
    "dte",
];
const N_METRICS: usize = METRICS.len();
const POP: usize = 10;

/// Index of a metric by name.
pub fn metric(name: &str) -> Result<usize> {
    METRICS
        .iter()
        .position(|m| *m == name)
        .ok_or_else(|| Error::Unknown {
            what: "metric",
            name: name.to_string(),
            expected: "credit_mid, credit_natural, spread_cost, max_profit, max_loss, \
                       breakeven_lo, breakeven_hi, collateral, roc, annualised_return, pop, \
                       expected_pnl, delta, gamma, theta, vega, short_put_delta, \
                       short_call_delta, width, max_rel_spread, min_open_interest, min_volume, \
                       dte",
        })
}

/// The chain's quotes (one entry per listed option, any order).
#[derive(Debug, Clone, Copy)]
pub struct Quotes<'a> {
    /// +1 call, -1 put.
    pub kind: &'a [f64],
    /// Strikes.
    pub strike: &'a [f64],
    /// Expiries in years from the quote time (equal for the options of one expiry).
    pub expiry: &'a [f64],
    /// Bid and ask per unit; options without a finite two-sided quote are skipped.
    pub bid: &'a [f64],
    /// Ask.
    pub ask: &'a [f64],
    /// Traded volume (NaN when unknown).
    pub volume: &'a [f64],
    /// Open interest (NaN when unknown).
    pub open_interest: &'a [f64],
}

/// Candidate filters; every bound inclusive, infinite bounds are off.
#[derive(Debug, Clone, Copy)]
pub struct Filters {
    /// Days to expiry.
    pub dte: (f64, f64),
    /// |delta| of every short leg.
    pub abs_delta: (f64, f64),
    /// Width of every spread (verticals, condor wings).
    pub width: (f64, f64),
    /// Least credit per unit at the chosen fill.
    pub min_credit: f64,
    /// Least probability of profit.
    pub min_pop: f64,
    /// Least open interest of every leg (unknown counts as 0).
    pub min_open_interest: f64,
    /// Least volume of every leg (unknown counts as 0).
    pub min_volume: f64,
    /// Largest relative bid/ask width `(ask - bid) / mid` of every leg.
    pub max_rel_spread: f64,
}

impl Filters {
    /// No filter.
    pub const OFF: Filters = Filters {
        dte: (f64::NEG_INFINITY, f64::INFINITY),
        abs_delta: (f64::NEG_INFINITY, f64::INFINITY),
        width: (f64::NEG_INFINITY, f64::INFINITY),
        min_credit: f64::NEG_INFINITY,
        min_pop: f64::NEG_INFINITY,
        min_open_interest: f64::NEG_INFINITY,
        min_volume: f64::NEG_INFINITY,
        max_rel_spread: f64::INFINITY,
    };
}

/// What to screen and how to rank.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// The strategy.
    pub strategy: Strategy,
    /// The filters.
    pub filters: Filters,
    /// Index into [`METRICS`] of the ranking metric.
    pub rank: usize,
    /// Rank smallest first.
    pub ascending: bool,
    /// How many to keep (per expiry with `per_expiry`).
    pub top: usize,
    /// Keep the best `top` of each expiry rather than overall.
    pub per_expiry: bool,
    /// Analytics at the natural credit (sell at the bid, buy at the ask) instead of the mid.
    pub natural: bool,
    /// Distribution for the probability of profit and expected P&L.
    pub measure: Measure,
    /// Contract multiplier.
    pub multiplier: f64,
}

/// One kept candidate: the chain rows of its legs (`u32::MAX` where unused; order: long put,
/// short put, short call, long call) and its metrics.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Rows of the legs in the caller's quote arrays.
    pub rows: [u32; 4],
    /// Values in [`METRICS`] order.
    pub metrics: [f64; N_METRICS],
}

/// The result of a screen.
#[derive(Debug, Clone)]
pub struct Screened {
    /// The kept candidates, best first (grouped by expiry, earliest first, with `per_expiry`).
    pub candidates: Vec<Candidate>,
    /// Candidates generated and evaluated (every structurally valid combination).
    pub generated: u64,
    /// Candidates that passed every filter.
    pub passed: u64,
}

const NONE: u32 = u32::MAX;
const LONG_PUT: usize = 0;
const SHORT_PUT: usize = 1;
const SHORT_CALL: usize = 2;
const LONG_CALL: usize = 3;
/// Quantity of each slot.
const SLOT_QTY: [f64; 4] = [1.0, -1.0, -1.0, 1.0];
/// Candidates evaluated per batch before the probabilities of profit are computed.
const BATCH: usize = 512;

/// Per-option values the inner loops read (indexed by position in the sorted option list).
struct Book {
    strike: Vec<f64>,
    bid: Vec<f64>,
    ask: Vec<f64>,
    mid: Vec<f64>,
    rel_spread: Vec<f64>,
    oi: Vec<f64>,
    volume: Vec<f64>,
    row: Vec<u32>,
    legs: LegValues,
}

/// One expiry: its puts and calls (positions into [`Book`], by increasing strike).
struct Group {
    t: f64,
    fwd: f64,
    puts: Vec<usize>,
    calls: Vec<usize>,
}

/// Screens `quotes` for `config.strategy` on `market`.
pub fn screen(market: &Market, quotes: &Quotes, config: &Config) -> Result<Screened> {
    let n = quotes.kind.len();
    let cols = [
        quotes.strike,
        quotes.expiry,
        quotes.bid,
        quotes.ask,
        quotes.volume,
        quotes.open_interest,
    ];
    if cols.iter().any(|c| c.len() != n) {
        return Err(Error::Shape("quote arrays differ in length".into()));
    }
    if n >= NONE as usize {
        return Err(Error::Shape("too many quotes".into()));
    }
    if config.top == 0 {
        return Err(Error::Shape("top must be at least 1".into()));
    }
    if config.rank >= N_METRICS {
        return Err(Error::Shape("rank: not a metric index".into()));
    }
    if !(config.multiplier > 0.0 && config.multiplier.is_finite()) {
        return Err(Error::InvalidInput {
            arg: "multiplier",
            index: 0,
            reason: format!("must be positive, got {}", config.multiplier),
        });
    }
    market
        .slices
        .ts
        .first()
        .ok_or_else(|| Error::Shape("a surface needs at least one slice".into()))?;
    let last = market.slices.ts[market.slices.ts.len() - 1];
    let (book, groups) = build(market, quotes, &config.filters, last)?;
    let pop_in_scan = config.rank == POP || config.filters.min_pop > f64::NEG_INFINITY;
    let heaps = if config.per_expiry { groups.len() } else { 1 };
    let tasks: Vec<(usize, usize)> = groups
        .iter()
        .enumerate()
        .flat_map(|(g, grp)| {
            let outer = match config.strategy {
                Strategy::CoveredCall => 1,
                Strategy::CashSecuredPut => 1,
                Strategy::BearCallSpread => grp.calls.len(),
                _ => grp.puts.len(),
            };
            (0..outer).map(move |i| (g, i))
        })
        .collect();
    let ctx = Ctx {
        market,
        book: &book,
        groups: &groups,
        config,
        pop_in_scan,
    };
    let best = tasks
        .into_par_iter()
        .fold(
            || Ok(Worker::new(heaps, config.top)),
            |w: Result<Worker>, (g, i)| {
                let mut w = w?;
                ctx.task(&mut w, g, i)?;
                Ok(w)
            },
        )
        .reduce(
            || Ok(Worker::new(heaps, config.top)),
            |a, b| {
                let (mut a, b) = (a?, b?);
                a.merge(b);
                Ok(a)
            },
        )?;
    let mut candidates = Vec::new();
    let mut scratch = Scratch::default();
    for heap in best.heaps {
        let mut kept: Vec<Entry> = heap.into_vec();
        kept.sort_by(|a, b| a.cmp(b));
        if !pop_in_scan {
            ctx.fill_pop(&mut kept, &mut scratch)?;
        }
        // Book positions back to the caller's rows.
        candidates.extend(kept.into_iter().map(|e| Candidate {
            rows: e.rows.map(|p| {
                if p == NONE {
                    NONE
                } else {
                    book.row[p as usize]
                }
            }),
            metrics: e.metrics,
        }));
    }
    Ok(Screened {
        candidates,
        generated: best.generated,
        passed: best.passed,
    })
}

/// Sorted options per expiry, with their values on the surface. Options that cannot be
/// traded (no finite two-sided quote, ask below bid, no positive ask), expired, beyond the
/// surface or outside the days-to-expiry filter are left out.
fn build(market: &Market, q: &Quotes, f: &Filters, last: f64) -> Result<(Book, Vec<Group>)> {
    let mut idx: Vec<usize> = (0..q.kind.len())
        .filter(|&i| {
            let (b, a, t, k) = (q.bid[i], q.ask[i], q.expiry[i], q.strike[i]);
            let dte = t * 365.0;
            b.is_finite()
                && a.is_finite()
                && b >= 0.0
                && a >= b
                && a > 0.0
                && (q.kind[i] == 1.0 || q.kind[i] == -1.0)
                && k > 0.0
                && k.is_finite()
                && t > 0.0
                && t <= last * (1.0 + 1e-9)
                && dte >= f.dte.0
                && dte <= f.dte.1
        })
        .collect();
    idx.sort_by(|&a, &b| {
        q.expiry[a]
            .total_cmp(&q.expiry[b])
            .then(q.kind[a].total_cmp(&q.kind[b]))
            .then(q.strike[a].total_cmp(&q.strike[b]))
    });
    // Duplicate listings (same expiry, kind and strike): keep the first.
    idx.dedup_by(|b, a| {
        q.expiry[*a] == q.expiry[*b] && q.kind[*a] == q.kind[*b] && q.strike[*a] == q.strike[*b]
    });
    let mut legs = LegValues::default();
    for &i in &idx {
        legs.push(market, q.kind[i], q.strike[i], q.expiry[i]);
    }
    legs.evaluate(market)?;
    let known = |x: f64| if x.is_nan() { 0.0 } else { x };
    let mid: Vec<f64> = idx.iter().map(|&i| 0.5 * (q.bid[i] + q.ask[i])).collect();
    let book = Book {
        strike: idx.iter().map(|&i| q.strike[i]).collect(),
        bid: idx.iter().map(|&i| q.bid[i]).collect(),
        ask: idx.iter().map(|&i| q.ask[i]).collect(),
        rel_spread: idx
            .iter()
            .zip(&mid)
            .map(|(&i, &m)| {
                if m > 0.0 {
                    (q.ask[i] - q.bid[i]) / m
                } else {
                    f64::INFINITY
                }
            })
            .collect(),
        mid,
        oi: idx.iter().map(|&i| known(q.open_interest[i])).collect(),
        volume: idx.iter().map(|&i| known(q.volume[i])).collect(),
        row: idx.iter().map(|&i| i as u32).collect(),
        legs,
    };
    let mut groups: Vec<Group> = Vec::new();
    for (pos, &i) in idx.iter().enumerate() {
        let t = q.expiry[i];
        if groups.last().is_none_or(|g| g.t != t) {
            groups.push(Group {
                t,
                fwd: book.legs.fwd[pos],
                puts: Vec::new(),
                calls: Vec::new(),
            });
        }
        if let Some(g) = groups.last_mut() {
            if q.kind[i] > 0.0 {
                g.calls.push(pos);
            } else {
                g.puts.push(pos);
            }
        }
    }
    Ok((book, groups))
}

/// A candidate waiting in a heap; ordered so that the heap's top is the worst one. `rows`
/// are positions in the [`Book`] until the result is returned.
#[derive(Debug, Clone)]
struct Entry {
    key: f64,
    group: usize,
    rows: [u32; 4],
    metrics: [f64; N_METRICS],
}

impl Entry {
    /// Best first: larger key, then earlier expiry, then lower strikes (a deterministic order).
    fn cmp(&self, other: &Entry) -> Ordering {
        other
            .key
            .total_cmp(&self.key)
            .then(self.group.cmp(&other.group))
            .then(self.rows.cmp(&other.rows))
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(Ord::cmp(self, other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        Entry::cmp(self, other)
    }
}

/// Per-thread state: the heaps of the best candidates and the counters.
struct Worker {
    heaps: Vec<BinaryHeap<Entry>>,
    top: usize,
    generated: u64,
    passed: u64,
    batch: Vec<Pending>,
    scratch: Scratch,
}

impl Worker {
    fn new(heaps: usize, top: usize) -> Worker {
        Worker {
            heaps: (0..heaps).map(|_| BinaryHeap::new()).collect(),
            top,
            generated: 0,
            passed: 0,
            batch: Vec::with_capacity(BATCH),
            scratch: Scratch::default(),
        }
    }

    fn offer(&mut self, heap: usize, e: Entry) {
        let h = &mut self.heaps[heap];
        if h.len() < self.top {
            h.push(e);
        } else if h.peek().is_some_and(|worst| e < *worst) {
            h.pop();
            h.push(e);
        }
    }

    fn merge(&mut self, other: Worker) {
        self.generated += other.generated;
        self.passed += other.passed;
        for (i, h) in other.heaps.into_iter().enumerate() {
            for e in h {
                self.offer(i, e);
            }
        }
    }
}

#[derive(Default)]
struct Scratch {
    x: Vec<f64>,
    t: Vec<f64>,
    f: Vec<f64>,
    cdf: Vec<f64>,
    slope: Vec<f64>,
}

/// A candidate that passed the cheap filters, waiting for its probability of profit.
struct Pending {
    entry: Entry,
    pay: Payoff,
    a: Analytics,
}

struct Ctx<'a> {
    market: &'a Market<'a>,
    book: &'a Book,
    groups: &'a [Group],
    config: &'a Config,
    pop_in_scan: bool,
}

impl Ctx<'_> {
    /// Every candidate of task `(g, i)`: `i` is the short leg (puts, or calls for bear call
    /// spreads) for the multi-leg strategies; single-leg strategies are one task per expiry.
    fn task(&self, w: &mut Worker, g: usize, i: usize) -> Result<()> {
        let grp = &self.groups[g];
        let (p, c) = (&grp.puts, &grp.calls);
        let f = &self.config.filters;
        let b = self.book;
        let width_ok = |lo: usize, hi: usize| {
            let wd = b.strike[hi] - b.strike[lo];
            wd >= f.width.0 && wd <= f.width.1
        };
        let mut slots = [NONE as usize; 4];
        match self.config.strategy {
            Strategy::CashSecuredPut => {
                for &sp in p.iter().filter(|&&x| self.short_ok(x)) {
                    slots[SHORT_PUT] = sp;
                    self.candidate(w, g, slots)?;
                }
            }
            Strategy::CoveredCall => {
                for &sc in c.iter().filter(|&&x| self.short_ok(x)) {
                    slots[SHORT_CALL] = sc;
                    self.candidate(w, g, slots)?;
                }
            }
            Strategy::BullPutSpread => {
                let sp = p[i];
                if self.short_ok(sp) {
                    slots[SHORT_PUT] = sp;
                    for &lp in &p[..i] {
                        if width_ok(lp, sp) {
                            slots[LONG_PUT] = lp;
                            self.candidate(w, g, slots)?;
                        }
                    }
                }
            }
            Strategy::BearCallSpread => {
                let sc = c[i];
                if self.short_ok(sc) {
                    slots[SHORT_CALL] = sc;
                    for &lc in &c[i + 1..] {
                        if width_ok(sc, lc) {
                            slots[LONG_CALL] = lc;
                            self.candidate(w, g, slots)?;
                        }
                    }
                }
            }
            Strategy::ShortStrangle => {
                let sp = p[i];
                if self.short_ok(sp) {
                    slots[SHORT_PUT] = sp;
                    for &sc in c.iter().filter(|&&sc| b.strike[sc] > b.strike[sp]) {
                        if self.short_ok(sc) {
                            slots[SHORT_CALL] = sc;
                            self.candidate(w, g, slots)?;
                        }
                    }
                }
            }
            Strategy::IronCondor => {
                let sp = p[i];
                if self.short_ok(sp) {
                    slots[SHORT_PUT] = sp;
                    let calls: Vec<usize> = c
                        .iter()
                        .copied()
                        .filter(|&x| b.strike[x] > b.strike[sp])
                        .collect();
                    for &lp in &p[..i] {
                        if !width_ok(lp, sp) {
                            continue;
                        }
                        slots[LONG_PUT] = lp;
                        for (j, &sc) in calls.iter().enumerate() {
                            if !self.short_ok(sc) {
                                continue;
                            }
                            slots[SHORT_CALL] = sc;
                            for &lc in &calls[j + 1..] {
                                if width_ok(sc, lc) {
                                    slots[LONG_CALL] = lc;
                                    self.candidate(w, g, slots)?;
                                }
                            }
                        }
                    }
                }
            }
        }
        self.flush(w)
    }

    /// The per-leg filters a short leg must pass (delta, liquidity), checked before its inner
    /// loops; long legs are checked per candidate.
    fn short_ok(&self, pos: usize) -> bool {
        let f = &self.config.filters;
        let d = self.book.legs.delta[pos].abs();
        d >= f.abs_delta.0 && d <= f.abs_delta.1 && self.liquid(pos)
    }

    fn liquid(&self, pos: usize) -> bool {
        let (f, b) = (&self.config.filters, self.book);
        b.oi[pos] >= f.min_open_interest
            && b.volume[pos] >= f.min_volume
            && b.rel_spread[pos] <= f.max_rel_spread
    }

    /// Evaluates one candidate; those passing the filters go to the batch.
    fn candidate(&self, w: &mut Worker, g: usize, slots: [usize; 4]) -> Result<()> {
        w.generated += 1;
        let (b, cfg) = (self.book, self.config);
        let f = &cfg.filters;
        let grp = &self.groups[g];
        let spot = self.market.spot;
        let mut kinds = [0.0; 4];
        let mut strikes = [0.0; 4];
        let mut qty = [0.0; 4];
        let (mut credit_mid, mut credit_nat) = (0.0, 0.0);
        let mut value = [0.0f64; 5]; // undiscounted price, delta, gamma, theta, vega
        let (mut max_rel, mut min_oi, mut min_vol) = (0.0f64, f64::INFINITY, f64::INFINITY);
        let mut rows = [NONE; 4];
        for (s, &pos) in slots.iter().enumerate() {
            if pos == NONE as usize {
                continue;
            }
            let q = SLOT_QTY[s];
            if q > 0.0 && !self.liquid(pos) {
                return Ok(());
            }
            let l = &b.legs;
            (kinds[s], strikes[s], qty[s]) = (l.kind[pos], b.strike[pos], q);
            credit_mid -= q * b.mid[pos];
            credit_nat -= q * if q > 0.0 { b.ask[pos] } else { b.bid[pos] };
            value[0] += q * l.price[pos] * l.growth[pos];
            value[1] += q * l.delta[pos];
            value[2] += q * l.gamma[pos];
            value[3] += q * l.theta[pos];
            value[4] += q * l.vega[pos];
            max_rel = max_rel.max(b.rel_spread[pos]);
            min_oi = min_oi.min(b.oi[pos]);
            min_vol = min_vol.min(b.volume[pos]);
            rows[s] = pos as u32;
        }
        let credit = if cfg.natural { credit_nat } else { credit_mid };
        if credit < f.min_credit {
            return Ok(());
        }
        let covered = cfg.strategy == Strategy::CoveredCall;
        let (uq, ucost) = if covered { (1.0, spot) } else { (0.0, 0.0) };
        let pay = Payoff::new(&kinds, &strikes, &qty, uq, ucost, -credit);
        let a = pay.analytics();
        let m = cfg.multiplier;
        let at = |s: usize| {
            if slots[s] == NONE as usize {
                f64::NAN
            } else {
                b.strike[slots[s]]
            }
        };
        // The wider wing (f64::max skips a missing wing's NaN).
        let width = (at(SHORT_PUT) - at(LONG_PUT)).max(at(LONG_CALL) - at(SHORT_CALL));
        let collateral = match cfg.strategy {
            Strategy::CoveredCall => spot * m,
            Strategy::CashSecuredPut => at(SHORT_PUT) * m,
            Strategy::ShortStrangle => f64::INFINITY,
            _ => (a.max_loss * m).max(0.0),
        };
        let dte = grp.t * 365.0;
        let max_profit = a.max_profit * m;
        let roc = if collateral > 0.0 && collateral.is_finite() {
            max_profit / collateral
        } else {
            f64::NAN
        };
        let expected = pay.expected(spot, cfg.measure, grp.t, grp.fwd, value[0])? * m;
        let delta_of = |s: usize| {
            if slots[s] == NONE as usize {
                f64::NAN
            } else {
                b.legs.delta[slots[s]]
            }
        };
        let n_roots = a.n_roots;
        let metrics = [
            credit_mid,
            credit_nat,
            (credit_mid - credit_nat) * m,
            max_profit,
            a.max_loss * m,
            if n_roots > 0 { a.roots[0] } else { f64::NAN },
            if n_roots > 0 {
                a.roots[n_roots - 1]
            } else {
                f64::NAN
            },
            collateral,
            roc,
            roc * 365.0 / dte,
            f64::NAN, // pop, filled in by the batch
            expected,
            (value[1] + uq) * spot * m,
            value[2] * spot * spot * 0.01 * m,
            value[3] / 365.0 * m,
            value[4] / 100.0 * m,
            delta_of(SHORT_PUT),
            delta_of(SHORT_CALL),
            width,
            max_rel,
            min_oi,
            min_vol,
            dte,
        ];
        let key = self.key(&metrics);
        let entry = Entry {
            key,
            group: g,
            rows,
            metrics,
        };
        if !self.pop_in_scan {
            w.passed += 1;
            let heap = if cfg.per_expiry { g } else { 0 };
            w.offer(heap, entry);
            return Ok(());
        }
        w.batch.push(Pending { entry, pay, a });
        if w.batch.len() >= BATCH {
            self.flush(w)?;
        }
        Ok(())
    }

    fn key(&self, metrics: &[f64; N_METRICS]) -> f64 {
        let v = metrics[self.config.rank];
        let k = if self.config.ascending { -v } else { v };
        if k.is_nan() {
            f64::NEG_INFINITY
        } else {
            k
        }
    }

    /// Probabilities of profit of the batch (one vectorised surface call), the filter, the heaps.
    fn flush(&self, w: &mut Worker) -> Result<()> {
        if w.batch.is_empty() {
            return Ok(());
        }
        let mut batch = std::mem::take(&mut w.batch);
        self.probabilities(&mut batch, &mut w.scratch)?;
        for mut p in batch.drain(..) {
            if p.entry.metrics[POP] < self.config.filters.min_pop {
                continue;
            }
            w.passed += 1;
            p.entry.key = self.key(&p.entry.metrics);
            let heap = if self.config.per_expiry {
                p.entry.group
            } else {
                0
            };
            w.offer(heap, p.entry);
        }
        w.batch = batch;
        Ok(())
    }

    fn probabilities(&self, batch: &mut [Pending], s: &mut Scratch) -> Result<()> {
        s.x.clear();
        s.t.clear();
        s.f.clear();
        for p in batch.iter() {
            let grp = &self.groups[p.entry.group];
            for &r in &p.a.roots[..p.a.n_roots] {
                s.x.push(if r > 0.0 { r } else { 1.0 });
                s.t.push(grp.t);
                s.f.push(grp.fwd);
            }
        }
        s.cdf.clear();
        s.cdf.resize(s.x.len(), 0.0);
        distribution(
            self.market,
            self.config.measure,
            &s.x,
            &s.t,
            &s.f,
            &mut s.cdf,
            &mut s.slope,
        )?;
        let mut at = 0;
        for p in batch.iter_mut() {
            let n = p.a.n_roots;
            p.entry.metrics[POP] = p.pay.prob_positive(&p.a, &s.cdf[at..at + n]);
            at += n;
        }
        Ok(())
    }

    /// Probabilities of profit of the kept candidates (when the scan did not need them).
    fn fill_pop(&self, kept: &mut [Entry], s: &mut Scratch) -> Result<()> {
        let b = self.book;
        let mut batch: Vec<Pending> = Vec::with_capacity(kept.len());
        for e in kept.iter() {
            let mut kinds = [0.0; 4];
            let mut strikes = [0.0; 4];
            let mut qty = [0.0; 4];
            for (slot, &at) in e.rows.iter().enumerate() {
                if at == NONE {
                    continue;
                }
                let pos = at as usize;
                (kinds[slot], strikes[slot], qty[slot]) =
                    (b.legs.kind[pos], b.strike[pos], SLOT_QTY[slot]);
            }
            let credit = if self.config.natural {
                e.metrics[1]
            } else {
                e.metrics[0]
            };
            let covered = self.config.strategy == Strategy::CoveredCall;
            let (uq, ucost) = if covered {
                (1.0, self.market.spot)
            } else {
                (0.0, 0.0)
            };
            let pay = Payoff::new(&kinds, &strikes, &qty, uq, ucost, -credit);
            let a = pay.analytics();
            batch.push(Pending {
                entry: e.clone(),
                pay,
                a,
            });
        }
        self.probabilities(&mut batch, s)?;
        for (e, p) in kept.iter_mut().zip(batch) {
            e.metrics[POP] = p.entry.metrics[POP];
        }
        Ok(())
    }
}

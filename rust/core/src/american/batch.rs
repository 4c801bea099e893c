//! American prices, greeks and implied vols over many options: method selection, validation,
//! limits (expiry 0, vol 0), finite-difference greeks where an engine has no analytic ones,
//! and parallelism.

// Index loops over small matrices read better than iterator chains here, and `!(x <= y)`
// is meant: it is also true for NaN.
#![allow(clippy::needless_range_loop, clippy::neg_cmp_op_on_partial_ord)]

use rayon::prelude::*;

use super::alo::{Engine, Scheme, Workspace};
use super::{baw, bjerksund_stensland, lattice, Contract, Dividend};
use crate::error::{Error, Result};
use crate::european::{OnInvalid, Operands};
use crate::fastmath::Plain;
use crate::greeks::{Greek, GreekSet};
use crate::implied::{self, Status};
use crate::model::Model;
use crate::tile::Arg;
use crate::validate;

/// Default number of lattice steps.
pub const DEFAULT_STEPS: usize = 801;

/// An American pricing engine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Method {
    /// Andersen–Lake–Offengenden with the given discretisation (the default engine).
    Alo(Scheme),
    /// Barone-Adesi & Whaley (1987).
    Baw,
    /// Bjerksund & Stensland (2002).
    BjerksundStensland,
    /// Bjerksund & Stensland (1993), the flat-boundary version (QuantLib's engine).
    BjerksundStensland1993,
    /// Leisen–Reimer binomial tree with this many steps (odd; even counts are rounded up).
    Lattice(usize),
}

impl Method {
    /// The accepted method names, for error messages.
    pub const NAMES: &'static str = "None (= 'alo'), 'alo' (= 'accurate'), 'fast', 'accurate', \
        'high_precision', 'baw', 'bjerksund_stensland', 'bjerksund_stensland_1993', 'lattice'";

    /// Parses a method name (case-insensitive); `steps` is only for the lattice.
    pub fn parse(name: Option<&str>, steps: Option<usize>) -> Result<Method> {
        let lower = name.map(|n| n.to_ascii_lowercase().replace('-', "_"));
        let m = match lower.as_deref() {
            None | Some("alo") | Some("accurate") | Some("alo_accurate") => {
                Method::Alo(Scheme::ACCURATE)
            }
            Some("fast") | Some("alo_fast") => Method::Alo(Scheme::FAST),
            Some("high_precision") | Some("alo_high_precision") | Some("high") => {
                Method::Alo(Scheme::HIGH_PRECISION)
            }
            Some("baw") | Some("barone_adesi_whaley") => Method::Baw,
            Some("bjerksund_stensland") | Some("bs2002") | Some("bjerksund") => {
                Method::BjerksundStensland
            }
            Some("bjerksund_stensland_1993") | Some("bs1993") => Method::BjerksundStensland1993,
            Some("lattice") | Some("binomial") | Some("leisen_reimer") => {
                let n = steps.unwrap_or(DEFAULT_STEPS);
                if !(3..=100_000).contains(&n) {
                    return Err(Error::InvalidInput {
                        arg: "steps",
                        index: 0,
                        reason: format!("must be between 3 and 100000, got {n}"),
                    });
                }
                Method::Lattice(n | 1)
            }
            Some(_) => {
                return Err(Error::Unknown {
                    what: "method",
                    name: name.unwrap_or_default().to_string(),
                    expected: Method::NAMES,
                })
            }
        };
        if steps.is_some() && !matches!(m, Method::Lattice(_)) {
            return Err(Error::Unsupported(
                "steps: only method='lattice' takes a number of steps".into(),
            ));
        }
        Ok(m)
    }
}

/// Checks a dividend schedule (and that the method and model can take one).
pub fn check_dividends(model: Model, method: &Method, dividends: &[Dividend]) -> Result<()> {
    if dividends.is_empty() {
        return Ok(());
    }
    if !matches!(method, Method::Lattice(_)) {
        return Err(Error::Unsupported(
            "dividends: a discrete dividend schedule needs method='lattice'".into(),
        ));
    }
    if model != Model::Bsm {
        return Err(Error::Unsupported(
            "dividends: discrete dividends are paid by a spot (model='bsm')".into(),
        ));
    }
    for (i, d) in dividends.iter().enumerate() {
        if !(d.time.is_finite() && d.time >= 0.0) {
            return Err(Error::InvalidInput {
                arg: "dividends",
                index: i,
                reason: format!("ex-date must be a finite time >= 0, got {}", d.time),
            });
        }
        if !(d.amount.is_finite() && d.amount >= 0.0) {
            return Err(Error::InvalidInput {
                arg: "dividends",
                index: i,
                reason: format!("amount must be finite and >= 0, got {}", d.amount),
            });
        }
    }
    Ok(())
}

fn check_model(model: Model) -> Result<()> {
    match model {
        Model::Bsm | Model::Black76 => Ok(()),
        _ => Err(Error::Unsupported(format!(
            "exercise='american' is available for model='bsm' and 'black76', not '{}'",
            model.name()
        ))),
    }
}

/// One pricing context: the method with its tables, the dividends, and scratch memory.
struct Pricer<'a> {
    method: Method,
    engine: Option<&'a Engine>,
    ws: Workspace,
    dividends: &'a [Dividend],
}

impl Pricer<'_> {
    /// Price (and, with `greeks`, delta, gamma, theta) of a contract with expiry and vol > 0.
    fn core(&mut self, c: &Contract, greeks: bool) -> [f64; 4] {
        if self.dividends.is_empty() && c.never_exercised() {
            // Early exercise is never optimal: the closed form is exact for every engine.
            let v = super::alo::european_value(c, greeks);
            return [v.price, v.delta, v.gamma, v.theta];
        }
        match self.method {
            Method::Alo(_) => {
                let e = self.engine.expect("engine built for ALO");
                let v = e.value(c, greeks, &mut self.ws);
                [v.price, v.delta, v.gamma, v.theta]
            }
            Method::Lattice(steps) => {
                let v = lattice::value(c, self.dividends, steps);
                [v.price, v.delta, v.gamma, v.theta]
            }
            Method::Baw | Method::BjerksundStensland | Method::BjerksundStensland1993 => {
                let p = self.closed_form(c);
                if !greeks {
                    return [p, f64::NAN, f64::NAN, f64::NAN];
                }
                // Central differences of the closed form (documented as such).
                let h = 1e-4 * c.spot;
                let up = self.closed_form(&Contract {
                    spot: c.spot + h,
                    ..*c
                });
                let dn = self.closed_form(&Contract {
                    spot: c.spot - h,
                    ..*c
                });
                let delta = (up - dn) / (2.0 * h);
                let gamma = (up - 2.0 * p + dn) / (h * h);
                let ht = (1e-4 * c.expiry).min(1e-5);
                let later = self.closed_form(&Contract {
                    expiry: c.expiry + ht,
                    ..*c
                });
                let sooner = self.closed_form(&Contract {
                    expiry: c.expiry - ht,
                    ..*c
                });
                [p, delta, gamma, -(later - sooner) / (2.0 * ht)]
            }
        }
    }

    fn closed_form(&self, c: &Contract) -> f64 {
        match self.method {
            Method::Baw => baw::price(c),
            Method::BjerksundStensland1993 => bjerksund_stensland::price_1993(c),
            _ => bjerksund_stensland::price(c),
        }
    }

    /// Price of a contract with any expiry and vol >= 0 (the limits handled here).
    fn price(&mut self, c: &Contract) -> f64 {
        if c.expiry == 0.0 {
            return c.intrinsic();
        }
        if c.vol == 0.0 && self.dividends.is_empty() {
            return zero_vol_value(c);
        }
        let c = if c.vol == 0.0 {
            // The lattice needs some spread; 1e-8 is far below any effect at double precision.
            Contract { vol: 1e-8, ..*c }
        } else {
            *c
        };
        let v = self.core(&c, false)[0];
        if self.dividends.is_empty() && !v.is_nan() {
            // American >= European holds exactly for the true values: keep it for the numbers
            // too, against the European kernel's own value (engines round differently, and the
            // lattice's discretisation error can fall either side).
            v.max(european_kernel(&c))
        } else {
            v
        }
    }
}

/// The European premium from the European kernels (the values `sg.price` returns).
fn european_kernel(c: &Contract) -> f64 {
    crate::european::price_one(
        Model::Bsm,
        c.phi,
        c.spot,
        c.strike,
        c.expiry,
        c.vol,
        c.rate,
        c.div,
        OnInvalid::Nan,
    )
    .unwrap_or(f64::NAN)
}

/// Value of an American option when the vol is 0: the best of exercising at any time u in
/// [0, T] on the deterministic forward path, max_u phi (S e^{-qu} - K e^{-ru}), floored at 0.
/// The stationary point of that expression is u* = ln(qS / (rK)) / (q - r).
pub fn zero_vol_value(c: &Contract) -> f64 {
    let g = |u: f64| c.phi * (c.spot * (-c.div * u).exp() - c.strike * (-c.rate * u).exp());
    let mut best = g(0.0).max(g(c.expiry)).max(0.0);
    let (r, q) = (c.rate, c.div);
    if q != r {
        let ratio = q * c.spot / (r * c.strike);
        if ratio > 0.0 && ratio.is_finite() {
            let u = ratio.ln() / (q - r);
            if u > 0.0 && u < c.expiry {
                best = best.max(g(u));
            }
        }
    }
    best
}

/// The contract of one option's public inputs (`black76`: carry 0, so div = rate).
#[inline]
fn contract(model: Model, x: [f64; 7]) -> Contract {
    let [kind, s, k, t, v, r, q] = x;
    Contract {
        phi: kind,
        spot: s,
        strike: k,
        expiry: t,
        vol: v,
        rate: r,
        div: if model == Model::Black76 { r } else { q },
    }
}

/// Builds the engine tables a method needs (once per call).
fn engine_for(method: &Method) -> Option<Engine> {
    match method {
        Method::Alo(s) => Some(Engine::new(*s)),
        _ => None,
    }
}

/// Options per parallel task (each costs microseconds).
const CHUNK: usize = 16;

/// Computes the outputs in `set` for every option of `ops` with American exercise. `outs`
/// holds one slice of length `ops.len()` per member of `set`, in canonical order.
#[allow(clippy::too_many_arguments)]
pub fn evaluate<O: Operands>(
    model: Model,
    method: &Method,
    dividends: &[Dividend],
    set: GreekSet,
    policy: OnInvalid,
    ops: &O,
    outs: &mut [&mut [f64]],
) -> Result<()> {
    check_model(model)?;
    set.check_model(model)?;
    check_dividends(model, method, dividends)?;
    let order = set.to_vec();
    let n = ops.len();
    if outs.len() != order.len() || outs.iter().any(|o| o.len() != n) {
        return Err(Error::Shape(format!(
            "expected {} output slices of length {n}",
            order.len()
        )));
    }
    if n == 0 || order.is_empty() {
        return Ok(());
    }
    let engine = engine_for(method);
    let run = |start: usize, pieces: &mut [&mut [f64]]| -> std::result::Result<(), usize> {
        let mut pricer = Pricer {
            method: *method,
            engine: engine.as_ref(),
            ws: engine.as_ref().map(|e| e.workspace()).unwrap_or_default(),
            dividends,
        };
        let len = pieces.first().map_or(0, |p| p.len());
        let mut vals = [0.0f64; 13];
        for i in 0..len {
            let x = read(ops, start + i);
            if validate::describe(model, x).is_some() {
                if policy == OnInvalid::Raise {
                    return Err(i);
                }
                vals.fill(f64::NAN);
            } else {
                option_values(model, &mut pricer, x, set, &mut vals);
            }
            for (o, g) in pieces.iter_mut().zip(&order) {
                o[i] = vals[*g as usize];
            }
        }
        Ok(())
    };
    let failed = if n <= CHUNK {
        run(0, outs).err()
    } else {
        let nchunks = n.div_ceil(CHUNK);
        let mut chunks: Vec<Vec<&mut [f64]>> = (0..nchunks)
            .map(|_| Vec::with_capacity(order.len()))
            .collect();
        for o in outs.iter_mut() {
            for (c, piece) in o.chunks_mut(CHUNK).enumerate() {
                chunks[c].push(piece);
            }
        }
        chunks
            .into_par_iter()
            .enumerate()
            .filter_map(|(c, mut pieces)| run(c * CHUNK, &mut pieces).err().map(|i| c * CHUNK + i))
            .min()
    };
    if let Some(index) = failed {
        let (arg, reason) = validate::describe(model, read(ops, index))
            .map(|(a, r)| (a.name(), r))
            .unwrap_or(("input", "invalid".into()));
        return Err(Error::InvalidInput { arg, index, reason });
    }
    Ok(())
}

/// The seven inputs of option `i`.
fn read<O: Operands>(ops: &O, i: usize) -> [f64; 7] {
    let mut x = [0.0; 7];
    for a in Arg::ALL {
        let mut b = [0.0];
        x[a as usize] = ops.tile(a, i, &mut b)[0];
    }
    x
}

/// Price and greeks of one valid option into `vals` (indexed by `Greek as usize`).
///
/// Delta, gamma and theta come from the engine (ALO: analytic from the boundary; lattice: tree
/// nodes; BAW, Bjerksund–Stensland: central differences). Vega, rho, epsilon, vanna, volga and
/// charm are central differences of the engine's own prices (the boundary is re-solved for each
/// bump). dual_delta and dual_gamma follow from homogeneity in (S, K) without cash dividends.
fn option_values(model: Model, p: &mut Pricer, x: [f64; 7], set: GreekSet, vals: &mut [f64; 13]) {
    let c = contract(model, x);
    let only_price = set == GreekSet::from_iter([Greek::Price]);
    if only_price {
        vals[Greek::Price as usize] = p.price(&c);
        return;
    }
    vals.fill(f64::NAN);
    if c.expiry == 0.0 {
        // At expiry: intrinsic value, delta +-1 in the money, everything else 0.
        let itm = c.phi * (c.spot - c.strike) > 0.0;
        vals.fill(0.0);
        vals[Greek::Price as usize] = c.intrinsic();
        vals[Greek::Delta as usize] = if itm { c.phi } else { 0.0 };
        vals[Greek::DualDelta as usize] = if itm { -c.phi } else { 0.0 };
        return;
    }
    let base = |p: &mut Pricer, c: &Contract| -> [f64; 4] {
        if c.vol == 0.0 {
            let v = p.price(c);
            let h = 1e-4 * c.spot;
            let up = p.price(&Contract {
                spot: c.spot + h,
                ..*c
            });
            let dn = p.price(&Contract {
                spot: c.spot - h,
                ..*c
            });
            let ht = (1e-4 * c.expiry).min(1e-5);
            let later = p.price(&Contract {
                expiry: c.expiry + ht,
                ..*c
            });
            let sooner = p.price(&Contract {
                expiry: c.expiry - ht,
                ..*c
            });
            [
                v,
                (up - dn) / (2.0 * h),
                (up - 2.0 * v + dn) / (h * h),
                -(later - sooner) / (2.0 * ht),
            ]
        } else {
            p.core(c, true)
        }
    };
    let [v, delta, gamma, theta] = base(p, &c);
    vals[Greek::Price as usize] = v;
    vals[Greek::Delta as usize] = delta;
    vals[Greek::Gamma as usize] = gamma;
    vals[Greek::Theta as usize] = theta;
    let with_div = !p.dividends.is_empty();
    if set.has(Greek::DualDelta) || set.has(Greek::DualGamma) {
        if with_div {
            let h = 1e-4 * c.strike;
            let up = p.price(&Contract {
                strike: c.strike + h,
                ..c
            });
            let dn = p.price(&Contract {
                strike: c.strike - h,
                ..c
            });
            vals[Greek::DualDelta as usize] = (up - dn) / (2.0 * h);
            vals[Greek::DualGamma as usize] = (up - 2.0 * v + dn) / (h * h);
        } else {
            vals[Greek::DualDelta as usize] = (v - c.spot * delta) / c.strike;
            vals[Greek::DualGamma as usize] = c.spot * c.spot * gamma / (c.strike * c.strike);
        }
    }
    let vol_greeks = set.has(Greek::Vega) || set.has(Greek::Vanna) || set.has(Greek::Volga);
    if vol_greeks {
        // One-sided at vol 0.
        let h = (1e-4 * c.vol).max(1e-5);
        let dn_vol = (c.vol - h).max(0.0);
        let up = base(
            p,
            &Contract {
                vol: c.vol + h,
                ..c
            },
        );
        let dn = base(p, &Contract { vol: dn_vol, ..c });
        let w = c.vol + h - dn_vol;
        vals[Greek::Vega as usize] = (up[0] - dn[0]) / w;
        vals[Greek::Vanna as usize] = (up[1] - dn[1]) / w;
        // The second difference needs a wider step to stay clear of rounding.
        let h2 = (1e-2 * c.vol).max(1e-4);
        if c.vol > h2 {
            let up2 = p.price(&Contract {
                vol: c.vol + h2,
                ..c
            });
            let dn2 = p.price(&Contract {
                vol: c.vol - h2,
                ..c
            });
            vals[Greek::Volga as usize] = (up2 - 2.0 * v + dn2) / (h2 * h2);
        } else {
            let a = p.price(&Contract {
                vol: c.vol + h2,
                ..c
            });
            let b = p.price(&Contract {
                vol: c.vol + 2.0 * h2,
                ..c
            });
            vals[Greek::Volga as usize] = (b - 2.0 * a + v) / (h2 * h2);
        }
    }
    if set.has(Greek::Rho) {
        let h = 1e-5;
        let bump = |dr: f64| {
            let mut y = x;
            y[5] += dr;
            contract(model, y)
        };
        let (up, dn) = (p.price(&bump(h)), p.price(&bump(-h)));
        vals[Greek::Rho as usize] = (up - dn) / (2.0 * h);
    }
    if set.has(Greek::Epsilon) {
        vals[Greek::Epsilon as usize] = if model == Model::Bsm {
            let h = 1e-5;
            let up = p.price(&Contract {
                div: c.div + h,
                ..c
            });
            let dn = p.price(&Contract {
                div: c.div - h,
                ..c
            });
            (up - dn) / (2.0 * h)
        } else {
            0.0
        };
    }
    if set.has(Greek::Charm) {
        let ht = (1e-3 * c.expiry).min(1e-4);
        let later = base(
            p,
            &Contract {
                expiry: c.expiry + ht,
                ..c
            },
        );
        let sooner = base(
            p,
            &Contract {
                expiry: c.expiry - ht,
                ..c
            },
        );
        vals[Greek::Charm as usize] = -(later[1] - sooner[1]) / (2.0 * ht);
    }
}

/// American implied volatilities of the quotes in `ops`, whose `Vol` slot holds the premiums.
/// The vol is bracketed (starting from the European implied vol, which bounds it from above
/// since an American premium is at least the European one at the same vol) and found by
/// Brent's method on the engine's price to 1e-12 relative in premium.
#[allow(clippy::too_many_arguments)]
pub fn implied_vol<O: Operands>(
    model: Model,
    method: &Method,
    dividends: &[Dividend],
    policy: OnInvalid,
    ops: &O,
    vols: &mut [f64],
    status: &mut [u8],
) -> Result<()> {
    check_model(model)?;
    check_dividends(model, method, dividends)?;
    let n = ops.len();
    if vols.len() != n || status.len() != n {
        return Err(Error::Shape(format!(
            "expected output slices of length {n}"
        )));
    }
    let engine = engine_for(method);
    let run = |start: usize, v: &mut [f64], st: &mut [u8]| -> std::result::Result<(), usize> {
        let mut pricer = Pricer {
            method: *method,
            engine: engine.as_ref(),
            ws: engine.as_ref().map(|e| e.workspace()).unwrap_or_default(),
            dividends,
        };
        for i in 0..v.len() {
            let x = read(ops, start + i);
            let (vol, s) = implied_one(model, &mut pricer, x);
            if s == Status::InvalidInput && policy == OnInvalid::Raise {
                return Err(i);
            }
            v[i] = vol;
            st[i] = s as u8;
        }
        Ok(())
    };
    let failed = if n <= 4 {
        run(0, vols, status).err()
    } else {
        vols.par_chunks_mut(4)
            .zip(status.par_chunks_mut(4))
            .enumerate()
            .filter_map(|(c, (v, st))| run(c * 4, v, st).err().map(|i| c * 4 + i))
            .min()
    };
    if let Some(index) = failed {
        let x = read(ops, index);
        let (arg, reason) =
            implied::describe_invalid(model, x[4], x[0], x[1], x[2], x[3], x[5], x[6])
                .unwrap_or(("input", "invalid".to_string()));
        return Err(Error::InvalidInput { arg, index, reason });
    }
    Ok(())
}

/// Implied vol of one quote; `x` holds the premium in the vol slot.
fn implied_one(model: Model, p: &mut Pricer, x: [f64; 7]) -> (f64, Status) {
    let premium = x[4];
    if implied::describe_invalid(model, premium, x[0], x[1], x[2], x[3], x[5], x[6]).is_some() {
        return (f64::NAN, Status::InvalidInput);
    }
    let c = contract(model, x);
    let tol = 1e-12 * premium.abs().max(1e-300);
    // No-arbitrage bounds of an American option: intrinsic <= V < S (call) or K (put).
    let upper = if c.is_call() { c.spot } else { c.strike };
    if premium >= upper {
        return (f64::NAN, Status::AboveUpperBound);
    }
    if c.expiry == 0.0 {
        return if (premium - c.intrinsic()).abs() <= tol {
            (f64::NAN, Status::ZeroExpiry)
        } else if premium < c.intrinsic() {
            (f64::NAN, Status::BelowIntrinsic)
        } else {
            (f64::NAN, Status::AboveUpperBound)
        };
    }
    let at = |p: &mut Pricer, vol: f64| p.price(&Contract { vol, ..c }) - premium;
    let intrinsic = c.intrinsic();
    if premium < intrinsic - tol {
        return (f64::NAN, Status::BelowIntrinsic);
    }
    if intrinsic > 0.0 && premium <= intrinsic + tol {
        // Deep in the exercise region every vol below some level gives this premium.
        return (f64::NAN, Status::Exercised);
    }
    let f0 = at(p, 0.0);
    if f0 > tol {
        return (f64::NAN, Status::BelowIntrinsic);
    }
    if f0 >= -tol {
        return (0.0, Status::Ok);
    }
    // Upper end: the European implied vol when there is one (no discrete dividends).
    let mut hi = f64::NAN;
    if p.dividends.is_empty() {
        let (ve, st, _) =
            implied::implied_one::<Plain>(model, premium, x[0], x[1], x[2], x[3], x[5], x[6]);
        if st == Status::Ok && ve > 0.0 {
            hi = ve;
        }
    }
    if !(hi > 0.0) {
        hi = 0.5;
    }
    let mut fhi = at(p, hi);
    let mut lo = 0.0;
    let mut flo = f0;
    let mut guard = 0;
    while fhi < 0.0 {
        lo = hi;
        flo = fhi;
        hi *= 2.0;
        guard += 1;
        if guard > 12 || !fhi.is_finite() {
            return (f64::NAN, Status::AboveUpperBound);
        }
        fhi = at(p, hi);
    }
    if fhi.abs() <= tol {
        return (hi, Status::Ok);
    }
    // Tighten the lower end once around the European vol before Brent.
    if lo == 0.0 && hi > 0.0 {
        let mid = 0.5 * hi;
        let fm = at(p, mid);
        if fm < 0.0 {
            lo = mid;
            flo = fm;
        } else {
            hi = mid;
            fhi = fm;
        }
    }
    (brent(|v| at(p, v), lo, hi, flo, fhi, tol), Status::Ok)
}

/// Brent's (1973) root finder on a bracket [a, b] with f(a) f(b) <= 0.
fn brent(mut f: impl FnMut(f64) -> f64, a: f64, b: f64, fa: f64, fb: f64, ftol: f64) -> f64 {
    let (mut a, mut b, mut fa, mut fb) = (a, b, fa, fb);
    if fa.abs() < fb.abs() {
        std::mem::swap(&mut a, &mut b);
        std::mem::swap(&mut fa, &mut fb);
    }
    let (mut c, mut fc) = (a, fa);
    let mut d = b - a;
    let mut e = d;
    for _ in 0..100 {
        if fb.abs() <= ftol {
            return b;
        }
        if (fb > 0.0) == (fc > 0.0) {
            c = a;
            fc = fa;
            d = b - a;
            e = d;
        }
        if fc.abs() < fb.abs() {
            a = b;
            b = c;
            c = a;
            fa = fb;
            fb = fc;
            fc = fa;
        }
        let tol = 2.0 * f64::EPSILON * b.abs() + 1e-15;
        let m = 0.5 * (c - b);
        if m.abs() <= tol || fb == 0.0 {
            return b;
        }
        if e.abs() >= tol && fa.abs() > fb.abs() {
            let s = fb / fa;
            let (mut pp, mut qq) = if a == c {
                (2.0 * m * s, 1.0 - s)
            } else {
                let q0 = fa / fc;
                let r0 = fb / fc;
                (
                    s * (2.0 * m * q0 * (q0 - r0) - (b - a) * (r0 - 1.0)),
                    (q0 - 1.0) * (r0 - 1.0) * (s - 1.0),
                )
            };
            if pp > 0.0 {
                qq = -qq;
            } else {
                pp = -pp;
            }
            if 2.0 * pp < (3.0 * m * qq - (tol * qq).abs()).min((e * qq).abs()) {
                e = d;
                d = pp / qq;
            } else {
                d = m;
                e = m;
            }
        } else {
            d = m;
            e = m;
        }
        a = b;
        fa = fb;
        b += if d.abs() > tol { d } else { tol.copysign(m) };
        fb = f(b);
    }
    b
}

/// The exercise boundary of one option at times to expiry `taus` (ALO methods only): the spot
/// at or below which a put (at or above which a call) is exercised.
#[allow(clippy::too_many_arguments)]
pub fn exercise_boundary(
    model: Model,
    method: &Method,
    x: [f64; 7],
    taus: &[f64],
    out: &mut [f64],
) -> Result<()> {
    check_model(model)?;
    let Method::Alo(scheme) = method else {
        return Err(Error::Unsupported(
            "method: the exercise boundary comes from the ALO engine ('fast', 'accurate', \
             'high_precision')"
                .into(),
        ));
    };
    if let Some((arg, reason)) = validate::describe(model, x) {
        return Err(Error::InvalidInput {
            arg: arg.name(),
            index: 0,
            reason,
        });
    }
    if out.len() != taus.len() {
        return Err(Error::Shape("times and output differ in length".into()));
    }
    let c = contract(model, x);
    if c.expiry == 0.0 || c.vol == 0.0 {
        return Err(Error::Unsupported(
            "the exercise boundary needs expiry > 0 and vol > 0".into(),
        ));
    }
    let e = Engine::new(*scheme);
    let mut ws = e.workspace();
    e.boundary(&c, taus, out, &mut ws);
    Ok(())
}

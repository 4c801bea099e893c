//! Bachelier (normal) model on a forward: `V = e^(-rT) [phi (F-K) N(phi d) + s n(d)]`,
//! s = vol sqrt(T), d = (F-K)/s, vol in price units per sqrt-year (L. Bachelier, 1900;
//! see e.g. Schachermayer & Teichmann, "How close are the option pricing formulas of Bachelier
//! and Black–Merton–Scholes?", 2008).
//!
//! The premium is formed as `e^(-rT) [max(phi (F-K), 0) + s g(|d|)]` with
//! `g(u) = n(u) - u N(-u)`: the intrinsic part is exact and the time value never comes from the
//! difference of two nearly equal numbers (see [`crate::normal::normalised_time_value`]).

use crate::black::{nz, SD_FLOOR};
use crate::fastmath::{exp, Arith};
use crate::greeks::{Greek, GreekSet};
use crate::model::Model;
use crate::normal::{cdf_pdf, normalised_time_value, pdf};
use crate::tile::{slot, OutSlots, Scratch, Tile};
use crate::validate::may_be_invalid;

/// Largest |d| kept: beyond it every Gaussian factor is exactly 0.
const D_CLAMP: f64 = 1e300;

#[inline(always)]
fn setup(s: f64, k: f64, t: f64, v: f64) -> (f64, f64, f64) {
    let sqrt_t = t.sqrt();
    let sd = (v * sqrt_t).max(SD_FLOOR);
    let d = ((s - k) / sd).clamp(-D_CLAMP, D_CLAMP);
    (sqrt_t, sd, d)
}

#[inline(always)]
fn premium<A: Arith>(phi: f64, s: f64, k: f64, sd: f64, d: f64, dfr: f64) -> f64 {
    let intrinsic = (phi * (s - k)).max(0.0);
    dfr * A::mla(sd, normalised_time_value::<A>(d.abs()), intrinsic)
}

/// Premiums of one tile; returns a count of possibly invalid options (see `black::price_tile`).
#[inline(always)]
pub fn price_tile<A: Arith>(tile: &Tile, out: &mut [f64]) -> usize {
    let n = tile.len();
    let [kind, s, k, t, v, r, q] = tile.columns();
    let out = &mut out[..n];
    let mut invalid = 0u64;
    for i in 0..n {
        let x = [kind[i], s[i], k[i], t[i], v[i], r[i], q[i]];
        invalid += u64::from(may_be_invalid(Model::Bachelier, x, f64::from_bits(1)));
        let (_, sd, d) = setup(s[i], k[i], t[i], v[i]);
        let dfr = exp::<A>(-r[i] * t[i]);
        out[i] = premium::<A>(kind[i], s[i], k[i], sd, d, dfr);
    }
    invalid as usize
}

/// Any subset of price and greeks for one tile (greeks w.r.t. the forward); returns a count of
/// possibly invalid options (see `black::price_tile`).
#[inline(always)]
pub fn greeks_tile<A: Arith, const CAP: usize>(
    tile: &Tile,
    set: GreekSet,
    outs: &mut OutSlots,
    scratch: &mut Scratch<CAP>,
) -> usize {
    let n = tile.len();
    let [kind, s, k, t, v, r, q] = tile.columns();

    let [sqrt_t, sd, d, dfr, big_n, small_n, value, ..] = &mut scratch.bufs;
    let (sqrt_t, sd, d, dfr) = (&mut sqrt_t[..n], &mut sd[..n], &mut d[..n], &mut dfr[..n]);
    let mut invalid = 0u64;
    for i in 0..n {
        let x = [kind[i], s[i], k[i], t[i], v[i], r[i], q[i]];
        invalid += u64::from(may_be_invalid(Model::Bachelier, x, f64::from_bits(1)));
        (sqrt_t[i], sd[i], d[i]) = setup(s[i], k[i], t[i], v[i]);
        dfr[i] = exp::<A>(-r[i] * t[i]);
    }
    let value_needed = set.has(Greek::Price) || set.has(Greek::Theta) || set.has(Greek::Rho);
    let need_cdf = set.has(Greek::Delta) || set.has(Greek::DualDelta) || set.has(Greek::Charm);
    let need_pdf = set.has(Greek::Gamma)
        || set.has(Greek::Vega)
        || set.has(Greek::Theta)
        || set.has(Greek::Vanna)
        || set.has(Greek::Volga)
        || set.has(Greek::Charm)
        || set.has(Greek::DualGamma);

    let (big_n, small_n) = (&mut big_n[..n], &mut small_n[..n]);
    if need_cdf {
        for i in 0..n {
            (big_n[i], small_n[i]) = cdf_pdf::<A>(kind[i] * d[i]);
        }
    } else if need_pdf {
        for i in 0..n {
            small_n[i] = pdf::<A>(d[i]);
        }
    }
    let value = &mut value[..n];
    if value_needed {
        for i in 0..n {
            value[i] = premium::<A>(kind[i], s[i], k[i], sd[i], d[i], dfr[i]);
        }
    }
    if let Some(o) = slot(outs, Greek::Price) {
        o[..n].copy_from_slice(value);
    }
    if let Some(o) = slot(outs, Greek::Delta) {
        let o = &mut o[..n];
        for i in 0..n {
            o[i] = kind[i] * dfr[i] * big_n[i];
        }
    }
    if let Some(o) = slot(outs, Greek::Gamma) {
        let o = &mut o[..n];
        for i in 0..n {
            o[i] = nz(small_n[i], dfr[i] / sd[i]);
        }
    }
    if let Some(o) = slot(outs, Greek::Vega) {
        let o = &mut o[..n];
        for i in 0..n {
            o[i] = nz(small_n[i], dfr[i] * sqrt_t[i]);
        }
    }
    if let Some(o) = slot(outs, Greek::Theta) {
        let o = &mut o[..n];
        for i in 0..n {
            // v (v / sd), not v^2 / sd: v^2 overflows for prices beyond 1e154.
            o[i] = r[i] * value[i] - nz(small_n[i], dfr[i] * v[i] * (v[i] / sd[i]) * 0.5);
        }
    }
    if let Some(o) = slot(outs, Greek::Rho) {
        let o = &mut o[..n];
        for i in 0..n {
            o[i] = -t[i] * value[i];
        }
    }
    if let Some(o) = slot(outs, Greek::Epsilon) {
        o[..n].fill(0.0);
    }
    if let Some(o) = slot(outs, Greek::Vanna) {
        let o = &mut o[..n];
        for i in 0..n {
            o[i] = -nz(small_n[i], dfr[i] * d[i] * sqrt_t[i] / sd[i]);
        }
    }
    if let Some(o) = slot(outs, Greek::Volga) {
        let o = &mut o[..n];
        for i in 0..n {
            o[i] = nz(small_n[i], dfr[i] * d[i] * d[i] * t[i] / sd[i]);
        }
    }
    if let Some(o) = slot(outs, Greek::Charm) {
        let o = &mut o[..n];
        for i in 0..n {
            let delta = kind[i] * dfr[i] * big_n[i];
            o[i] = r[i] * delta + nz(small_n[i], dfr[i] * d[i] / (2.0 * t[i]));
        }
    }
    if let Some(o) = slot(outs, Greek::DualDelta) {
        let o = &mut o[..n];
        for i in 0..n {
            o[i] = -kind[i] * dfr[i] * big_n[i];
        }
    }
    if let Some(o) = slot(outs, Greek::DualGamma) {
        let o = &mut o[..n];
        for i in 0..n {
            o[i] = nz(small_n[i], dfr[i] / sd[i]);
        }
    }
    invalid as usize
}

//! The lognormal family: Black–Scholes–Merton (spot, dividend yield), Black-76 (forward) and
//! the inverse (coin-settled) option on a future.
//!
//! All three are `V = phi (a N(phi d1) - b N(phi d2))` with d1 = x/s + s/2, d2 = d1 - s,
//! s = vol sqrt(T) and x = ln(F/K):
//!
//! | model   | x                        | a            | b              |
//! |---------|--------------------------|--------------|----------------|
//! | bsm     | ln(S/K) + (r - q) T      | S e^(-qT)    | K e^(-rT)      |
//! | black76 | ln(F/K)                  | F e^(-rT)    | K e^(-rT)      |
//! | inverse | ln(F/K)                  | e^(-rT)      | e^(-rT) K / F  |
//!
//! The inverse call pays max(F_T - K, 0)/F_T coins; under the coin numeraire its value in
//! coins is the Black-76 value divided by F (Deribit's convention: coin price = USD price / F).
//!
//! Expiry 0 and vol 0: s is floored at [`SD_FLOOR`], so d1 and d2 go to +-1e300 off the money
//! and N, n reach their limits exactly; every term with a factor n(d) is guarded so that
//! `0 * inf` cannot turn a limit into NaN. Prices come out as intrinsic value, greeks as their
//! limits (delta 0 or +-1, gamma and vega 0 off the money).

use crate::fastmath::{Arith, Coeffs, COEFFS, EXP_SMALL_MAX};
use crate::greeks::{Greek, GreekSet};
use crate::model::Model;
use crate::normal::{
    argument_scale, cdf, pdf, tail_difference_cold, tails_nearly_equal, SQRT_2_OVER_PI,
};
use crate::tile::{slot, OutSlots, Scratch, Tile};
use crate::validate::may_be_invalid;

/// Floor of vol * sqrt(T); far below any meaningful value, it turns T = 0 or vol = 0 into
/// the limits of the formulas instead of 0/0.
pub const SD_FLOOR: f64 = 1e-300;

pub const BSM: u8 = 0;
pub const BLACK76: u8 = 1;
pub const INVERSE: u8 = 3;

/// The model of a kernel's `M` parameter.
const fn model_of(m: u8) -> Model {
    match m {
        BSM => Model::Bsm,
        BLACK76 => Model::Black76,
        _ => Model::Inverse,
    }
}

/// `n * w`, but 0 when `n` is 0, so that an infinite or undefined weight at a limit
/// (expiry 0, vol 0) does not produce NaN.
#[inline(always)]
pub(crate) fn nz(n: f64, w: f64) -> f64 {
    if n == 0.0 {
        0.0
    } else {
        n * w
    }
}

/// Per-option quantities shared by price and greeks.
#[derive(Clone, Copy)]
struct Setup {
    sqrt_t: f64,
    sd: f64,
    dfr: f64,
    /// e^(-qT) for bsm, e^(-rT) for the forward models: delta's discount factor.
    dfq: f64,
    a: f64,
    b: f64,
    d1: f64,
    d2: f64,
    /// ln(F/K).
    x: f64,
}

/// A discount factor `e^x`; `FAST` when the caller checked |x| <= `EXP_SMALL_MAX`.
#[inline(always)]
fn discount<A: Arith, const FAST: bool>(c: &Coeffs, x: f64) -> f64 {
    if FAST {
        c.exp_small::<A>(x)
    } else {
        c.exp_discount::<A>(x)
    }
}

/// Whether every discount exponent r T and q T of a tile is small enough for
/// [`Coeffs::exp_small`] (true for any realistic rates and expiries).
#[inline(always)]
fn small_discounts(t: &[f64], r: &[f64], q: &[f64]) -> bool {
    let n = t.len();
    let (r, q) = (&r[..n], &q[..n]);
    // A count, not a running max: f64::max's NaN rule makes a slow loop-carried chain.
    let mut large = 0u64;
    for i in 0..n {
        let ok = ((r[i] * t[i]).abs() <= EXP_SMALL_MAX) & ((q[i] * t[i]).abs() <= EXP_SMALL_MAX);
        large += u64::from(!ok);
    }
    large == 0
}

#[inline(always)]
fn setup<A: Arith, const M: u8, const FAST: bool>(
    c: &Coeffs,
    s: f64,
    k: f64,
    t: f64,
    v: f64,
    r: f64,
    q: f64,
) -> Setup {
    let sqrt_t = t.sqrt();
    let sd = (v * sqrt_t).max(SD_FLOOR);
    let dfr = discount::<A, FAST>(c, -r * t);
    let x = log_forward_moneyness::<A, FAST>(c, M == BSM, s, k, t, r, q);
    let (a, b, dfq) = match M {
        BSM => {
            let dfq = discount::<A, FAST>(c, -q * t);
            (s * dfq, k * dfr, dfq)
        }
        BLACK76 => (s * dfr, k * dfr, dfr),
        _ => (dfr, dfr * (k / s), dfr),
    };
    let d1 = A::mla(0.5, sd, x / sd);
    let d2 = d1 - sd;
    Setup {
        sqrt_t,
        sd,
        dfr,
        dfq,
        a,
        b,
        d1,
        d2,
        x,
    }
}

/// x = ln(F/K) as the lognormal kernels form it, for them and for the implied-vol solver's
/// normalisation: ln(S/K) + (r - q) T for bsm (the drift joins the logarithm off its
/// polynomial's dependency chain, see [`Coeffs::ln_ratio_plus`]), ln(F/K) for the forward
/// models. `NORMAL` when the caller checked that `s` and `k` are normal numbers (the same bits,
/// fewer instructions).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn log_forward_moneyness<A: Arith, const NORMAL: bool>(
    c: &Coeffs,
    bsm: bool,
    s: f64,
    k: f64,
    t: f64,
    r: f64,
    q: f64,
) -> f64 {
    let drift = if bsm { (r - q) * t } else { 0.0 };
    if NORMAL {
        c.ln_ratio_plus_normal::<A>(s, k, drift)
    } else {
        c.ln_ratio_plus::<A>(s, k, drift)
    }
}

/// The premium `phi (a N(phi d1) - b N(phi d2))` without cancellation.
///
/// With u = -phi d, `a N(phi d) = a Phi(-u)` is a tail when u >= 0 and `a - a Phi(-|u|)` when
/// u < 0, so both terms are tails (out of the money: both u >= 0) or `a - b` minus tails (in the
/// money: put-call parity) or mixed (near the money, no cancellation). The tails share one
/// half-Gaussian factor `G = a exp(-d1^2/2)/2 = b exp(-d2^2/2)/2` (taken on the side with the
/// smaller |d| so it underflows last) and differ only by erfcx terms accurate to an ulp or two,
/// so the premium of a deep out-of-the-money option keeps its relative accuracy (see
/// `normal::tail`).
#[inline(always)]
fn premium<A: Arith>(c: &Coeffs, phi: f64, a: f64, b: f64, d1: f64, d2: f64) -> f64 {
    let (_, s1, s2) = tails::<A>(c, phi, a, b, d1, d2);
    let p = phi * (s1 - s2);
    if p < 0.0 {
        0.0
    } else {
        p
    }
}

/// `(W, a N(phi d1), b N(phi d2))` with `W = a n(d1) = b n(d2)`: everything the premium and
/// the greeks need from the normal distribution, from one exponential and two erfcx.
#[inline(always)]
fn tails<A: Arith>(c: &Coeffs, phi: f64, a: f64, b: f64, d1: f64, d2: f64) -> (f64, f64, f64) {
    let (u1, u2) = (-phi * d1, -phi * d2);
    let (m1, m2) = (u1.abs(), u2.abs());
    let g = shared_half_gauss::<A>(c, a, b, d1, d2);
    let t1 = c.tail::<A>(m1, g);
    let t2 = c.tail::<A>(m2, g);
    let s1 = if u1 < 0.0 { a - t1 } else { t1 };
    let s2 = if u2 < 0.0 { b - t2 } else { t2 };
    (g * SQRT_2_OVER_PI, s1, s2)
}

/// The half-Gaussian factor the two tails share, `a exp(-d1^2/2)/2 = b exp(-d2^2/2)/2`, taken
/// on the side with the smaller |d| so that it underflows last. |d| is |u| (phi is +-1),
/// without the multiply on the factor's dependency chain.
#[inline(always)]
fn shared_half_gauss<A: Arith>(c: &Coeffs, a: f64, b: f64, d1: f64, d2: f64) -> f64 {
    let first = d1.abs() <= d2.abs();
    c.half_gauss::<A>(if first { a } else { b }, if first { d1 } else { d2 })
}

/// Whether the out-of-the-money premium of this option needs [`fine_premium`].
#[inline(always)]
fn needs_fine(phi: f64, d1: f64, d2: f64, sd: f64) -> bool {
    // Plain comparisons, not f64::min/max, whose NaN rule costs two instructions more each
    // (a NaN here comes from an invalid option, whose output is replaced).
    let (u1, u2) = (-phi * d1, -phi * d2);
    let (u_lo, u_hi) = if u1 < u2 { (u1, u2) } else { (u2, u1) };
    const RATIO: f64 = 512.0;
    tails_nearly_equal(u_lo, sd, RATIO) | ((u_hi < 0.0) & tails_nearly_equal(-u_hi, sd, RATIO))
}

/// A cheap superset of [`needs_fine`], marked in the set-up loop: `needs_fine` asks
/// `512 sd < max(|u|, 1)` for u = +-d1 or +-d2, and |d2| <= |d1| + sd, so it implies
/// `511 sd < max(|d1|, 1)`; 510 leaves room for rounding. Four operations on values the
/// set-up loop holds in registers, where the exact test (about twenty) in the premium loop or
/// a pass of its own made L1-resident price tiles 3-4% slower; the fix-up applies the exact
/// test to the few options this marks (of the benchmark's million, 0.377% marked against
/// 0.356% that need it). A NaN is not marked (its option is invalid).
#[inline(always)]
fn may_need_fine(d1: f64, sd: f64) -> bool {
    510.0 * sd < argument_scale(d1)
}

/// The premium of an out-of-the-money option whose two tails nearly cancel (short expiry and
/// low vol far from the money): `G (erfcx(y_lo) - erfcx(y_hi))` formed as an
/// integral, so it keeps full relative accuracy (see `normal::tail_difference`).
/// In the money, it is the out-of-the-money premium of the other kind plus the discounted
/// forward intrinsic value `phi (a - b) = phi b (e^x - 1)`, formed with `expm1` (scalar code:
/// this is the rare fix-up path).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn fine_premium<A: Arith>(phi: f64, a: f64, b: f64, d1: f64, d2: f64, sd: f64, x: f64) -> f64 {
    let (u1, u2) = (-phi * d1, -phi * d2);
    let (u_lo, u_hi) = (u1.min(u2), u1.max(u2));
    // The shared half-Gaussian factor only (as in `tails`).
    let g = shared_half_gauss::<A>(&COEFFS, a, b, d1, d2);
    if u_hi >= 0.0 {
        tail_difference_cold(u_lo, sd, g)
    } else {
        phi * b * x.exp_m1() + tail_difference_cold(-u_hi, sd, g)
    }
}

/// The set-up pass of [`price_tile`] and [`greeks_tile`]: for each option `$i` of `$tile`,
/// its [`Setup`] `$u` handed to `$store`, and, as the value, a count of the options that may be
/// outside the model's domain ([`may_be_invalid`]: 0 when all are in it, else at least the
/// number outside), counted from the same loads (the outputs of such options are meaningless;
/// the caller checks the tile exactly and marks them). A tile takes the fast forms of the
/// discount factors ([`small_discounts`]) and the log-moneyness (normal spots and strikes) when
/// the whole tile allows it, one loop instance per form. A macro rather than a function taking a closure, so that each kernel's loop
/// compiles exactly as if written out (a shared function measurably slowed the greeks).
macro_rules! setup_pass {
    ($A:ty, $M:expr, $c:expr, $tile:expr, |$i:ident, $u:ident| $store:block) => {{
        let tile: &Tile = $tile;
        let c: &Coeffs = $c;
        let n = tile.len();
        let [kind, s, k, t, v, r, q] = tile.columns();
        macro_rules! one_form {
            ($fast:literal, $min_price:expr) => {{
                let mut invalid = 0u64;
                for $i in 0..n {
                    let x = [kind[$i], s[$i], k[$i], t[$i], v[$i], r[$i], q[$i]];
                    invalid += u64::from(may_be_invalid(model_of($M), x, $min_price));
                    let $u =
                        setup::<$A, { $M }, $fast>(c, s[$i], k[$i], t[$i], v[$i], r[$i], q[$i]);
                    $store
                }
                invalid
            }};
        }
        // The fast form needs normal spots and strikes: its count includes subnormal ones, and
        // a tile with any (never in practice, unless invalid options are) is done again in
        // the general form, whose count is of possibly invalid options alone.
        let fast_rejects = if small_discounts(t, r, q) {
            one_form!(true, f64::MIN_POSITIVE)
        } else {
            1
        };
        if fast_rejects == 0 {
            0
        } else {
            one_form!(false, f64::from_bits(1))
        }
    }};
}

/// Premiums of one tile, in two passes over L1-resident arrays (setup, then the tails): each
/// loop body fits the SIMD register file, where one fused loop spills. Returns the set-up
/// pass's count of options that may be outside the model's domain (0 when none is; the caller
/// checks the tile exactly and marks them): one pass over the inputs does both, so their loads
/// overlap the set-up's arithmetic.
#[inline(always)]
pub fn price_tile<A: Arith, const M: u8, const CAP: usize>(
    tile: &Tile,
    out: &mut [f64],
    scratch: &mut Scratch<CAP>,
) -> usize {
    let n = tile.len();
    let c = &Coeffs::opaque();
    let kind = &tile.kind[..n];
    let out = &mut out[..n];
    let [a, b, d1, d2, sd, xs, flags, ..] = &mut scratch.bufs;
    let (a, b, d1, d2) = (&mut a[..n], &mut b[..n], &mut d1[..n], &mut d2[..n]);
    let (sd, xs) = (&mut sd[..n], &mut xs[..n]);
    let flags = &mut flags[..n];
    let invalid = setup_pass!(A, M, c, tile, |i, u| {
        (a[i], b[i], d1[i], d2[i], sd[i], xs[i]) = (u.a, u.b, u.d1, u.d2, u.sd, u.x);
        flags[i] = if may_need_fine(u.d1, u.sd) { 1.0 } else { 0.0 };
    });
    for i in 0..n {
        out[i] = premium::<A>(c, kind[i], a[i], b[i], d1[i], d2[i]);
    }
    refine_premiums::<A>(kind, a, b, d1, d2, sd, xs, flags, out);
    invalid as usize
}

/// The rare fix-up: recomputes with [`fine_premium`] the premiums whose two tails nearly
/// cancel. The set-up loop marks candidates in `flags` ([`may_need_fine`], 1.0 or 0.0); the
/// exact test runs here on those alone.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn refine_premiums<A: Arith>(
    kind: &[f64],
    a: &[f64],
    b: &[f64],
    d1: &[f64],
    d2: &[f64],
    sd: &[f64],
    xs: &[f64],
    flags: &[f64],
    out: &mut [f64],
) {
    // The tile's own flags only: past its length lie a longer earlier tile's.
    let flags = &flags[..out.len()];
    // Few options are marked, so blocks without one are passed over by a vectorised test of
    // their bits (a tile of 192 is 12 such tests).
    const BLOCK: usize = 16;
    for (nth, block) in flags.chunks(BLOCK).enumerate() {
        if block.iter().fold(0u64, |any, f| any | f.to_bits()) == 0 {
            continue;
        }
        for (i, f) in (nth * BLOCK..).zip(block) {
            if *f != 0.0 && needs_fine(kind[i], d1[i], d2[i], sd[i]) {
                out[i] = fine_premium::<A>(kind[i], a[i], b[i], d1[i], d2[i], sd[i], xs[i]);
            }
        }
    }
}

/// The rare fix-up of the tails loop's N(phi d) and n(d), which it takes from `a N(phi d1)`,
/// `b N(phi d2)` and `W = a n(d1) = b n(d2)` divided by `a` or `b`: exact while those products
/// are normal numbers, but not when `a` or `b` is zero, subnormal or infinite (a subnormal
/// spot or strike, an underflowing e^(-rT) or e^(-qT) for huge rT or qT, an overflowing K/F),
/// nor when `W` underflows because `a` or `b` is below 1 (n(d) itself is then far larger
/// than `W`: a gamma would read 0 where it is huge). Such options get N and n directly from
/// the normal distribution; `1e-290` leaves room for `N(phi d) ~ n(d)/|d|` in the tails.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn rescue_unscaled_normals<A: Arith>(
    kind: &[f64],
    a: &[f64],
    b: &[f64],
    d1: &[f64],
    d2: &[f64],
    big_n1: &mut [f64],
    n1: &mut [f64],
    big_n2: &mut [f64],
    n2: &mut [f64],
) {
    let n = kind.len();
    let (a, b, d1, d2) = (&a[..n], &b[..n], &d1[..n], &d2[..n]);
    let (big_n1, n1, big_n2, n2) = (
        &mut big_n1[..n],
        &mut n1[..n],
        &mut big_n2[..n],
        &mut n2[..n],
    );
    // `n1 * a` is `W` again unless `1 / a` overflowed, hence the test of `a` and `b` too.
    let scaled_ok = |a: f64, b: f64, n1: f64| {
        let normal = (a >= f64::MIN_POSITIVE) & (b >= f64::MIN_POSITIVE);
        let finite = (a < f64::INFINITY) & (b < f64::INFINITY);
        finite & (((a >= 1.0) & (b >= 1.0)) | (normal & (n1 * a >= 1e-290)))
    };
    let mut count = 0u64;
    for i in 0..n {
        count += u64::from(!scaled_ok(a[i], b[i], n1[i]));
    }
    if count == 0 {
        return;
    }
    for i in 0..n {
        if !scaled_ok(a[i], b[i], n1[i]) {
            big_n1[i] = cdf::<A>(kind[i] * d1[i]);
            big_n2[i] = cdf::<A>(kind[i] * d2[i]);
            n1[i] = pdf::<A>(d1[i]);
            n2[i] = pdf::<A>(d2[i]);
        }
    }
}

/// Any subset of price and greeks for one tile. Intermediate arrays live on the stack; each
/// requested output is one vectorisable loop, so the cost follows what is asked. Returns a
/// count of possibly invalid options, as [`price_tile`].
#[inline(always)]
pub fn greeks_tile<A: Arith, const M: u8, const CAP: usize>(
    tile: &Tile,
    set: GreekSet,
    outs: &mut OutSlots,
    scratch: &mut Scratch<CAP>,
) -> usize {
    let n = tile.len();
    let c = &Coeffs::opaque();
    let [kind, s, k, t, v, r, q] = tile.columns();
    let [sqrt_t, inv_sd, dfr, dfq, a, b, d1, d2, big_n1, n1, big_n2, n2, value_buf, xs, sd, flags] =
        &mut scratch.bufs;
    let (sqrt_t, inv_sd, dfr, dfq) = (
        &mut sqrt_t[..n],
        &mut inv_sd[..n],
        &mut dfr[..n],
        &mut dfq[..n],
    );
    let (a, b, d1, d2) = (&mut a[..n], &mut b[..n], &mut d1[..n], &mut d2[..n]);
    let (big_n1, n1, big_n2, n2) = (
        &mut big_n1[..n],
        &mut n1[..n],
        &mut big_n2[..n],
        &mut n2[..n],
    );
    // The premium goes straight into the price output when that is asked for (the slot is
    // put back at the end, for the caller).
    let mut price_slot = outs[Greek::Price as usize].take();
    let value = match price_slot.as_deref_mut() {
        Some(o) => &mut o[..n],
        None => &mut value_buf[..n],
    };
    let (xs, sd) = (&mut xs[..n], &mut sd[..n]);

    let inverse = M == INVERSE;
    let fwd_model = M != BSM;
    let value_needed =
        set.has(Greek::Price) || fwd_model && (set.has(Greek::Rho) || set.has(Greek::Theta));
    // Whether any output uses N(phi d1) or N(phi d2) (then everything comes from the tails),
    // or only the densities (then one exponential per option is all).
    let cdf_needed = value_needed
        || set.has(Greek::Theta)
        || set.has(Greek::Rho)
        || set.has(Greek::Epsilon) && !fwd_model
        || set.has(Greek::Delta)
        || set.has(Greek::DeltaPa)
        || set.has(Greek::Charm)
        || set.has(Greek::DualDelta)
        || inverse && set.has(Greek::Gamma);

    // Two passes (as in `price_tile`): the set-up, then N1 = N(phi d1), n1 = n(d1),
    // N2 = N(phi d2), n2 = n(d2) and the premium from the shared tails.
    let flags = &mut flags[..n];
    let invalid = setup_pass!(A, M, c, tile, |i, u| {
        (sqrt_t[i], dfr[i], dfq[i]) = (u.sqrt_t, u.dfr, u.dfq);
        (a[i], b[i], d1[i], d2[i], xs[i], sd[i]) = (u.a, u.b, u.d1, u.d2, u.x, u.sd);
        inv_sd[i] = 1.0 / u.sd;
        flags[i] = if may_need_fine(u.d1, u.sd) { 1.0 } else { 0.0 };
    });
    if cdf_needed {
        for i in 0..n {
            let (w, s1, s2) = tails::<A>(c, kind[i], a[i], b[i], d1[i], d2[i]);
            let p = kind[i] * (s1 - s2);
            value[i] = if p < 0.0 { 0.0 } else { p };
            let (ia, ib) = (1.0 / a[i], 1.0 / b[i]);
            big_n1[i] = s1 * ia;
            big_n2[i] = s2 * ib;
            n1[i] = w * ia;
            n2[i] = w * ib;
        }
        // Rare fix-up of premiums whose two tails nearly cancel (see `price_tile`).
        refine_premiums::<A>(kind, a, b, d1, d2, sd, xs, flags, value);
        rescue_unscaled_normals::<A>(kind, a, b, d1, d2, big_n1, n1, big_n2, n2);
    } else {
        for i in 0..n {
            n1[i] = c.pdf::<A>(d1[i]);
            n2[i] = c.pdf::<A>(d2[i]);
        }
    }
    let (sqrt_t, inv_sd, dfr, dfq) = (&*sqrt_t, &*inv_sd, &*dfr, &*dfq);
    let (a, b, d1, d2) = (&*a, &*b, &*d1, &*d2);
    let (big_n1, n1, big_n2, n2, value) = (&*big_n1, &*n1, &*big_n2, &*n2, &*value);
    if let Some(o) = slot(outs, Greek::Delta) {
        let o = &mut o[..n];
        for i in 0..n {
            o[i] = if inverse {
                kind[i] * b[i] * big_n2[i] / s[i]
            } else {
                kind[i] * dfq[i] * big_n1[i]
            };
        }
    }
    if let Some(o) = slot(outs, Greek::DeltaPa) {
        let o = &mut o[..n];
        for i in 0..n {
            o[i] = kind[i] * b[i] * big_n2[i];
        }
    }
    if let Some(o) = slot(outs, Greek::Gamma) {
        let o = &mut o[..n];
        for i in 0..n {
            o[i] = if inverse {
                b[i] / (s[i] * s[i]) * (nz(n2[i], inv_sd[i]) - 2.0 * kind[i] * big_n2[i])
            } else {
                // Divided by S last: dfq / (sd S) can overflow for a subnormal spot where
                // gamma itself does not.
                nz(n1[i], dfq[i] * inv_sd[i]) / s[i]
            };
        }
    }
    if let Some(o) = slot(outs, Greek::Vega) {
        let o = &mut o[..n];
        for i in 0..n {
            o[i] = nz(n1[i], a[i] * sqrt_t[i]);
        }
    }
    if let Some(o) = slot(outs, Greek::Theta) {
        let o = &mut o[..n];
        for i in 0..n {
            let decay = nz(n1[i], 0.5 * a[i] * v[i] * v[i] * inv_sd[i]);
            o[i] = if fwd_model {
                r[i] * value[i] - decay
            } else {
                kind[i] * (q[i] * a[i] * big_n1[i] - r[i] * b[i] * big_n2[i]) - decay
            };
        }
    }
    if let Some(o) = slot(outs, Greek::Rho) {
        let o = &mut o[..n];
        for i in 0..n {
            o[i] = if fwd_model {
                -t[i] * value[i]
            } else {
                kind[i] * b[i] * t[i] * big_n2[i]
            };
        }
    }
    if let Some(o) = slot(outs, Greek::Epsilon) {
        let o = &mut o[..n];
        for i in 0..n {
            o[i] = if fwd_model {
                0.0
            } else {
                -kind[i] * a[i] * t[i] * big_n1[i]
            };
        }
    }
    if let Some(o) = slot(outs, Greek::Vanna) {
        let o = &mut o[..n];
        for i in 0..n {
            o[i] = if inverse {
                -nz(n2[i], b[i] * d1[i] * sqrt_t[i] * inv_sd[i]) / s[i]
            } else {
                -nz(n1[i], dfq[i] * d2[i] * sqrt_t[i] * inv_sd[i])
            };
        }
    }
    if let Some(o) = slot(outs, Greek::Volga) {
        let o = &mut o[..n];
        for i in 0..n {
            o[i] = nz(n1[i], a[i] * t[i] * d1[i] * d2[i] * inv_sd[i]);
        }
    }
    if let Some(o) = slot(outs, Greek::Charm) {
        let o = &mut o[..n];
        for i in 0..n {
            o[i] = if inverse {
                // r delta + ..., divided by F last as gamma.
                (r[i] * kind[i] * b[i] * big_n2[i] + nz(n2[i], b[i] * d1[i] / (2.0 * t[i]))) / s[i]
            } else {
                // bsm: phi q e^(-qT) N(phi d1) - e^(-qT) n(d1) ((r-q)/s - d2/(2T)); black76 is
                // the same with q = r.
                let carry = if fwd_model { 0.0 } else { r[i] - q[i] };
                let qq = if fwd_model { r[i] } else { q[i] };
                kind[i] * qq * dfq[i] * big_n1[i]
                    - nz(n1[i], dfq[i] * (carry * inv_sd[i] - d2[i] / (2.0 * t[i])))
            };
        }
    }
    if let Some(o) = slot(outs, Greek::DualDelta) {
        let o = &mut o[..n];
        for i in 0..n {
            let dd = -kind[i] * dfr[i] * big_n2[i];
            o[i] = if inverse { dd / s[i] } else { dd };
        }
    }
    if let Some(o) = slot(outs, Greek::DualGamma) {
        let o = &mut o[..n];
        for i in 0..n {
            // Divided by K (and F) last, as gamma.
            let w = nz(n2[i], dfr[i] * inv_sd[i]) / k[i];
            o[i] = if inverse { w / s[i] } else { w };
        }
    }
    outs[Greek::Price as usize] = price_slot;
    invalid as usize
}

#[cfg(test)]
mod tests {
    use super::{may_need_fine, needs_fine};
    use proptest::prelude::*;

    /// The set-up loop marks with `may_need_fine`; an option that `needs_fine` but is not
    /// marked would keep a cancelled premium.
    fn check(phi: f64, d1: f64, sd: f64) {
        let d2 = d1 - sd;
        if needs_fine(phi, d1, d2, sd) {
            assert!(may_need_fine(d1, sd), "phi {phi} d1 {d1:e} sd {sd:e}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        #[test]
        fn marking_covers_every_option_that_needs_the_fix_up(
            call in any::<bool>(),
            d1 in -60.0f64..60.0,
            log_sd in -20.0f64..1.0,
        ) {
            check(if call { 1.0 } else { -1.0 }, d1, 10f64.powf(log_sd));
        }
    }

    #[test]
    fn marking_covers_the_boundary_of_the_exact_test() {
        // Around 512 sd = max(|u|, 1), where the two tests differ only by rounding.
        for d1 in [-40.0f64, -5.0, -1.0, -0.3, 0.0, 0.3, 1.0, 5.0, 37.9, 40.0] {
            for scale in [f64::max(d1.abs(), 1.0), f64::max(d1.abs() + 0.01, 1.0)] {
                let sd0 = scale / 512.0;
                let mut sd = sd0 * (1.0 - 1e-12);
                while sd < sd0 * (1.0 + 1e-12) {
                    for phi in [1.0, -1.0] {
                        check(phi, d1, sd);
                    }
                    sd = f64::from_bits(sd.to_bits() + 997);
                }
            }
        }
    }
}

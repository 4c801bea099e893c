//! Implied volatility: the inverse of the European premium.
//!
//! Lognormal models (bsm, black76, inverse) follow P. Jäckel, "Let's Be Rational", Wilmott
//! (2015) 40–53: the premium is normalised to `beta = V / (DF sqrt(F K))` of a call with
//! x = ln(F/K) <= 0 (in-the-money quotes go through put–call parity, puts through the
//! symmetry b(x, s, -1) = b(-x, s, +1)), the total vol s = vol sqrt(T) is guessed from one of
//! four branches (two rational-cubic interpolations around the inflection point
//! s_c = sqrt(2|x|), and transformed maps for the lowest and highest premiums), then refined by
//! third-order Householder steps on a branch-specific objective: `1/ln(b) - 1/ln(beta)` below
//! the lower branch point, `b - beta` in the middle, `ln((b_max - beta)/(b_max - b))` above the
//! upper one. The normalised premium itself comes from the cancellation-free tails of
//! [`crate::black`], so premiums down to 1e-300 keep their relative accuracy.
//!
//! Bachelier follows P. Jäckel, "Implied Normal Volatility", Wilmott (2017) 54–57: the time
//! value over |F - K| is a function of u = |F - K|/(vol sqrt T) alone, inverted by his rational
//! approximation and refined on the logarithm of that function.
//!
//! Every quote gets a status ([`Status`]); a premium with no implied volatility gives NaN.

// `!(x > 0.0)` is meant: it is also true for NaN.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use crate::fastmath::{exp, ln, Arith};
use crate::normal::{
    cdf_pdf, half_gauss, normalised_time_value, pdf, tail, tail_difference_cold,
    tails_nearly_equal, SQRT_2_OVER_PI,
};

/// The CDF in this scalar code: only the needed range of Cody's approximation is evaluated.
#[inline(always)]
fn cdf<A: Arith>(x: f64) -> f64 {
    cdf_pdf::<A>(x).0
}

/// Why an implied volatility is what it is. NaN accompanies every status but `Ok`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Status {
    /// A volatility was found (0 when the premium is exactly the intrinsic value).
    Ok = 0,
    /// The premium is below the (discounted) intrinsic value: no volatility gives it.
    BelowIntrinsic = 1,
    /// The premium is at or above the upper bound (the discounted forward for calls, the
    /// discounted strike for puts): only an infinite volatility reaches it.
    AboveUpperBound = 2,
    /// An input is invalid (NaN, negative expiry, non-positive spot/strike, unknown kind, ...).
    InvalidInput = 3,
    /// Expiry 0 with a premium equal to the intrinsic value: every volatility fits.
    ZeroExpiry = 4,
    /// American only: the premium equals the exercise value and the option is exercised at
    /// once under every volatility up to some level, so no single volatility is implied.
    Exercised = 5,
}

impl Status {
    /// All statuses in code order.
    pub const ALL: [Status; 6] = [
        Status::Ok,
        Status::BelowIntrinsic,
        Status::AboveUpperBound,
        Status::InvalidInput,
        Status::ZeroExpiry,
        Status::Exercised,
    ];

    /// A short description.
    pub fn describe(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::BelowIntrinsic => "premium below intrinsic value",
            Status::AboveUpperBound => "premium at or above the no-arbitrage upper bound",
            Status::InvalidInput => "invalid input",
            Status::ZeroExpiry => "expiry 0: the premium does not depend on volatility",
            Status::Exercised => {
                "American premium at the exercise value: exercised at once under a range of vols"
            }
        }
    }
}

const SQRT_THREE: f64 = 1.732_050_807_568_877_2;
const TWO_PI: f64 = std::f64::consts::TAU;
/// 2 pi / sqrt(27): the factor of Jäckel's lower map f(s) = c |x| Phi(-|x|/(sqrt3 s))^3.
const LOWER_MAP_FACTOR: f64 = 1.209_199_576_156_145_2;
const SQRT_2PI: f64 = 2.506_628_274_631_000_5;
/// Householder steps after the initial guess. Jäckel's guess needs at most two for full
/// precision; the extra ones only run when a step still moves s by more than a few ulps.
const MAX_STEPS: usize = 4;

/// Normalised Black call `b(x, s) = e^(x/2) N(x/s + s/2) - e^(-x/2) N(x/s - s/2)` and its
/// derivative in s, `e^(x/2) n(x/s + s/2)`, for x <= 0 (out of the money), without
/// cancellation.
/// `a = e^(x/2)` and `b = e^(-x/2)` are supplied: the solver computes them once per quote.
#[inline(always)]
fn black_and_vega<A: Arith>(x: f64, s: f64, a: f64, b: f64) -> (f64, f64) {
    if s <= 0.0 {
        return (0.0, 0.0);
    }
    let d1 = x / s + 0.5 * s;
    let d2 = d1 - s;
    // Call: both tails are N(-u) with u = -d >= 0 when out of the money.
    let (u1, u2) = (-d1, -d2);
    let g = half_gauss::<A>(a, d1);
    let w = g * SQRT_2_OVER_PI;
    if tails_nearly_equal(u1, s, 512.0) {
        return (tail_difference_cold(u1, s, g), w);
    }
    let t1 = tail::<A>(u1.abs(), g);
    let t2 = tail::<A>(u2.abs(), g);
    let s1 = if u1 < 0.0 { a - t1 } else { t1 };
    let s2 = if u2 < 0.0 { b - t2 } else { t2 };
    ((s1 - s2).max(0.0), w)
}

/// Inverse of the standard normal CDF: P. J. Acklam's rational approximation (2003, relative
/// error below 1.2e-9) as the start, then Halley steps on the accurate CDF (Cody) to full
/// precision, for p in (0, 1).
#[inline(always)]
fn inverse_cdf<A: Arith>(p: f64) -> f64 {
    const A_: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B_: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C_: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D_: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    let tail = |q: f64| {
        let r = (-2.0 * ln::<A>(q)).sqrt();
        (((((C_[0] * r + C_[1]) * r + C_[2]) * r + C_[3]) * r + C_[4]) * r + C_[5])
            / ((((D_[0] * r + D_[1]) * r + D_[2]) * r + D_[3]) * r + 1.0)
    };
    let mut z = if p < 0.024_25 {
        tail(p)
    } else if p > 1.0 - 0.024_25 {
        -tail(1.0 - p)
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A_[0] * r + A_[1]) * r + A_[2]) * r + A_[3]) * r + A_[4]) * r + A_[5]) * q
            / (((((B_[0] * r + B_[1]) * r + B_[2]) * r + B_[3]) * r + B_[4]) * r + 1.0)
    };
    for _ in 0..2 {
        let e = cdf::<A>(z) - p;
        let d = pdf::<A>(z);
        if d <= 0.0 {
            break;
        }
        let u = e / d;
        let step = u / (1.0 + 0.5 * z * u);
        z -= step;
        if step.abs() <= 1e-9 * z.abs().max(1e-300) {
            // Halley's error after a step of relative size 1e-9 is below 1e-27.
            break;
        }
    }
    z
}

/// Delbourgo & Gregory's rational cubic interpolation ("C2 rational cubic", IMA J. Numer.
/// Anal. 1985), as used by Jäckel: through (xl, yl) and (xr, yr) with slopes dl, dr and
/// control parameter r (r -> infinity gives the straight line).
#[allow(clippy::too_many_arguments)]
fn rational_cubic(x: f64, xl: f64, xr: f64, yl: f64, yr: f64, dl: f64, dr: f64, r: f64) -> f64 {
    let h = xr - xl;
    if h.abs() <= 0.0 {
        return 0.5 * (yl + yr);
    }
    let t = (x - xl) / h;
    if r >= 1e15 || !r.is_finite() {
        return yr * t + yl * (1.0 - t);
    }
    let omt = 1.0 - t;
    let t2 = t * t;
    let omt2 = omt * omt;
    (yr * t2 * t + (r * yr - h * dr) * t2 * omt + (r * yl + h * dl) * t * omt2 + yl * omt2 * omt)
        / (1.0 + (r - 3.0) * t * omt)
}

/// The smallest control parameter keeping the interpolant monotone and convex/concave where
/// the data are.
fn minimum_control(dl: f64, dr: f64, slope: f64, prefer_shape: bool) -> f64 {
    const MIN_R: f64 = -(1.0 - 1.490_116_119_384_765_6e-8);
    const MAX_R: f64 = 2.0 / (f64::EPSILON * f64::EPSILON);
    let monotone = dl * slope >= 0.0 && dr * slope >= 0.0;
    let convex = dl <= slope && slope <= dr;
    let concave = dl >= slope && slope >= dr;
    if !monotone && !convex && !concave {
        return MIN_R;
    }
    let mut r1 = f64::MIN;
    let mut r2 = f64::MIN;
    if monotone {
        if slope != 0.0 {
            r1 = (dr + dl) / slope;
        } else if prefer_shape {
            r1 = MAX_R;
        }
    }
    if convex || concave {
        let (a, b) = (slope - dl, dr - slope);
        if a != 0.0 && b != 0.0 {
            r2 = ((dr - dl) / b).abs().max(((dr - dl) / a).abs());
        } else if prefer_shape {
            r2 = MAX_R;
        }
    } else if monotone && prefer_shape {
        r2 = MAX_R;
    }
    MIN_R.max(r1).max(r2)
}

/// Control parameter matching the second derivative `d2` at the left (or right) end, but not
/// below the shape-preserving minimum.
#[allow(clippy::too_many_arguments)]
fn control_fitting(
    xl: f64,
    xr: f64,
    yl: f64,
    yr: f64,
    dl: f64,
    dr: f64,
    d2: f64,
    at_left: bool,
    prefer_shape: bool,
) -> f64 {
    let h = xr - xl;
    let slope = (yr - yl) / h;
    let (num, den) = if at_left {
        (0.5 * h * d2 + (dr - dl), slope - dl)
    } else {
        (0.5 * h * d2 + (dr - dl), dr - slope)
    };
    let r = if den != 0.0 { num / den } else { f64::MAX };
    r.max(minimum_control(dl, dr, slope, prefer_shape))
}

/// Jäckel's lower map f(s) = c |x| N(z)^3, z = -|x|/(sqrt(3) s), and df/dbeta, d2f/dbeta2
/// along the normalised premium (derived from the map and b's derivatives).
#[inline(always)]
fn lower_map<A: Arith>(x: f64, s: f64) -> (f64, f64, f64) {
    let ax = x.abs();
    let z = -ax / (SQRT_THREE * s);
    let y = z * z;
    let big = cdf::<A>(z);
    let small = pdf::<A>(z);
    let f = LOWER_MAP_FACTOR * ax * big * big * big;
    // db/ds = exp(-3y/2 - s^2/8)/sqrt(2 pi); df/ds = 3 c |x| N^2 n(z) sqrt(y)/s.
    let e = exp::<A>(y + 0.125 * s * s);
    let fp = TWO_PI * y * big * big * e;
    // d/ds of fp, divided by db/ds.
    let dfp_ds = TWO_PI
        * e
        * y
        * big
        * (2.0 * small * y.sqrt() / s + big * (-2.0 / s - 2.0 * y / s + 0.25 * s));
    let bs = exp::<A>(-1.5 * y - 0.125 * s * s) / SQRT_2PI;
    let fpp = if bs > 0.0 { dfp_ds / bs } else { 0.0 };
    (f, fp, fpp)
}

#[inline(always)]
fn inverse_lower_map<A: Arith>(x: f64, f: f64) -> f64 {
    if f <= 0.0 {
        return 0.0;
    }
    let p = (f / (LOWER_MAP_FACTOR * x.abs())).cbrt();
    let z = inverse_cdf::<A>(p);
    (x.abs() / (SQRT_THREE * z)).abs()
}

/// Jäckel's upper map f(s) = N(-s/2) and df/dbeta, d2f/dbeta2 along the premium.
#[inline(always)]
fn upper_map<A: Arith>(x: f64, s: f64) -> (f64, f64, f64) {
    let f = cdf::<A>(-0.5 * s);
    let h = x / s;
    let w = exp::<A>(0.5 * h * h);
    let fp = -0.5 * w;
    let fpp = SQRT_2PI * 0.5 * x * x / (s * s * s) * exp::<A>(h * h + 0.125 * s * s);
    (f, fp, fpp)
}

/// Third-order Householder factor: the step is `newton * factor`.
#[inline]
fn householder(newton: f64, halley: f64, hh3: f64) -> f64 {
    (1.0 + 0.5 * halley * newton) / (1.0 + newton * (halley + hh3 * newton / 6.0))
}

/// Total implied vol s = vol sqrt(T) of a normalised out-of-the-money call premium
/// 0 < beta < e^(x/2), x <= 0 (Let's Be Rational). Returns (s, Householder steps taken).
#[inline(always)]
pub fn normalised_black_implied<A: Arith>(beta: f64, x: f64) -> (f64, u32) {
    let b_max = exp::<A>(0.5 * x);
    let b_min = 1.0 / b_max;
    let bv = |s: f64| black_and_vega::<A>(x, s, b_max, b_min);
    if x == 0.0 {
        // At the money the premium is 2 N(s/2) - 1 (about s/sqrt(2 pi) when small): invert
        // directly, then polish on the plain objective.
        let s0 = if beta < 1e-8 {
            beta * SQRT_2PI
        } else {
            2.0 * inverse_cdf::<A>(0.5 * (beta + 1.0))
        };
        return refine::<A>(beta, x, s0, 0.0, f64::INFINITY, b_max);
    }
    let s_c = (2.0 * x.abs()).sqrt();
    let (b_c, v_c) = bv(s_c);
    let s_l = s_c - b_c / v_c;
    let s_u = s_c + (b_max - b_c) / v_c;
    // Only the branch point on beta's side of b_c is needed; the other bound is set so that
    // its branch is never taken.
    let (b_l, v_l) = if beta <= b_c && s_l > 0.0 {
        bv(s_l)
    } else {
        (0.0, 0.0)
    };
    let (b_u, v_u) = if beta > b_c {
        bv(s_u)
    } else {
        (f64::INFINITY, 0.0)
    };
    let s0 = if beta < b_l {
        // Lowest branch: interpolate the lower map between beta = 0 and b_l.
        let (f_l, fp_l, fpp_l) = lower_map::<A>(x, s_l);
        let r = control_fitting(0.0, b_l, 0.0, f_l, 1.0, fp_l, fpp_l, false, true);
        let f = rational_cubic(beta, 0.0, b_l, 0.0, f_l, 1.0, fp_l, r);
        inverse_lower_map::<A>(x, f)
    } else if beta <= b_c {
        let (dl, dr) = (1.0 / v_l, 1.0 / v_c);
        let r = control_fitting(b_l, b_c, s_l.max(0.0), s_c, dl, dr, 0.0, false, false);
        rational_cubic(beta, b_l, b_c, s_l.max(0.0), s_c, dl, dr, r)
    } else if beta <= b_u {
        let (dl, dr) = (1.0 / v_c, 1.0 / v_u);
        let r = control_fitting(b_c, b_u, s_c, s_u, dl, dr, 0.0, true, false);
        rational_cubic(beta, b_c, b_u, s_c, s_u, dl, dr, r)
    } else {
        // Highest branch: interpolate the upper map between b_u and b_max.
        let (f_u, fp_u, fpp_u) = upper_map::<A>(x, s_u);
        let r = control_fitting(b_u, b_max, f_u, 0.0, fp_u, -0.5, fpp_u, true, true);
        let f = rational_cubic(beta, b_u, b_max, f_u, 0.0, fp_u, -0.5, r);
        if f > 0.0 && f < 0.5 {
            -2.0 * inverse_cdf::<A>(f)
        } else {
            s_u
        }
    };
    refine::<A>(beta, x, s0, b_l, b_u, b_max)
}

/// Householder iterations on the branch's objective from the guess `s`.
#[inline(always)]
fn refine<A: Arith>(beta: f64, x: f64, mut s: f64, b_l: f64, b_u: f64, b_max: f64) -> (f64, u32) {
    if !(s > 0.0) || !s.is_finite() {
        s = (2.0 * x.abs()).sqrt().max(1e-3);
    }
    let ln_beta = ln::<A>(beta);
    let b_min = 1.0 / b_max;
    let mut steps = 0;
    for _ in 0..MAX_STEPS {
        let (b, bp) = black_and_vega::<A>(x, s, b_max, b_min);
        if !(bp > 0.0) || !(b > 0.0) {
            break;
        }
        let h = x / s;
        let h2 = h * h / s - 0.25 * s; // b''/b'
        let h3 = h2 * h2 - 3.0 * (h / s) * (h / s) - 0.25; // b'''/b'
        let ds = if beta < b_l {
            let lb = ln::<A>(b);
            let p = bp / b;
            let newton = (ln_beta - lb) * lb / ln_beta / p;
            let halley = h2 - p * (1.0 + 2.0 / lb);
            let hh3 = h3 + 2.0 * p * p * (1.0 + 3.0 / lb * (1.0 + 1.0 / lb))
                - 3.0 * h2 * p * (1.0 + 2.0 / lb);
            newton * householder(newton, halley, hh3)
        } else if beta > b_u {
            let gap = b_max - b;
            if !(gap > 0.0) {
                break;
            }
            let g = ln::<A>((b_max - beta) / gap);
            let gp = bp / gap;
            let newton = -g / gp;
            let halley = h2 + gp;
            let hh3 = h3 + gp * (2.0 * gp + 3.0 * h2);
            newton * householder(newton, halley, hh3)
        } else {
            let newton = (beta - b) / bp;
            newton * householder(newton, h2, h3)
        };
        if !ds.is_finite() {
            break;
        }
        steps += 1;
        let next = if s + ds > 0.0 { s + ds } else { 0.5 * s };
        let moved = (next - s).abs();
        s = next;
        // After a third-order step of relative size 1e-6 the error is of order 1e-18: done
        // without another evaluation.
        if moved <= 1e-6 * s {
            break;
        }
    }
    (s, steps)
}

/// One lognormal quote: `(vol, status, steps)`. `x = ln(F/K)` is formed by the caller exactly
/// as the pricing kernels form it, `undiscounted` is the premium over its discount factor in
/// price units (for `inverse`: coins times F), `k` the strike.
#[inline(always)]
pub fn lognormal_one<A: Arith>(
    undiscounted: f64,
    phi: f64,
    x: f64,
    k: f64,
    t: f64,
) -> (f64, Status, u32) {
    // Normalise by sqrt(F K) = K e^(x/2): beta, intrinsic 2 sinh(x/2)+, bounds e^(+-x/2).
    let (ex, emx) = (exp::<A>(0.5 * x), exp::<A>(-0.5 * x));
    let beta_quote = undiscounted / (k * ex);
    // 2 sinh(x/2) without cancellation near the money.
    let intrinsic = if phi * x > 0.0 {
        (phi * ((0.5 * x).exp_m1() - (-0.5 * x).exp_m1())).max(0.0)
    } else {
        0.0
    };
    let upper = if phi > 0.0 { ex } else { emx };
    // A quote within rounding of the intrinsic value is the intrinsic value (vol 0).
    let tol = 8.0 * f64::EPSILON * intrinsic;
    if !(beta_quote >= intrinsic - tol) {
        return (f64::NAN, Status::BelowIntrinsic, 0);
    }
    let beta_quote = beta_quote.max(intrinsic);
    // Within rounding of the upper bound counts as reaching it (only vol -> infinity does).
    if beta_quote >= upper * (1.0 - 8.0 * f64::EPSILON) {
        return (f64::NAN, Status::AboveUpperBound, 0);
    }
    if t == 0.0 {
        return if beta_quote == intrinsic {
            (f64::NAN, Status::ZeroExpiry, 0)
        } else {
            (f64::NAN, Status::AboveUpperBound, 0)
        };
    }
    // Out-of-the-money side: an in-the-money quote less its intrinsic value is the other kind
    // (parity), and a put at x is a call at -x.
    let beta = beta_quote - intrinsic;
    if beta <= 0.0 {
        return (0.0, Status::Ok, 0);
    }
    let x = -x.abs();
    if beta >= ex.min(emx) {
        return (f64::NAN, Status::AboveUpperBound, 0);
    }
    let (s, steps) = normalised_black_implied::<A>(beta, x);
    (s / t.sqrt(), Status::Ok, steps)
}

/// Coefficients of Jäckel (2017), eq. (4.6)–(4.7): rational approximations of the inverse of
/// phi~(x) = N(x) + n(x)/x on its two ranges.
const PHI_TILDE_STAR: f64 = -0.001_882_039_271;

/// One Bachelier quote: `(normal vol, status, steps)`.
#[inline(always)]
pub fn bachelier_one<A: Arith>(
    premium: f64,
    phi: f64,
    f: f64,
    k: f64,
    t: f64,
    df: f64,
) -> (f64, Status, u32) {
    let undiscounted = premium / df;
    let intrinsic = (phi * (f - k)).max(0.0);
    if undiscounted < intrinsic {
        return (f64::NAN, Status::BelowIntrinsic, 0);
    }
    if !undiscounted.is_finite() {
        return (f64::NAN, Status::AboveUpperBound, 0);
    }
    if t == 0.0 {
        return if undiscounted == intrinsic {
            (f64::NAN, Status::ZeroExpiry, 0)
        } else {
            (f64::NAN, Status::AboveUpperBound, 0)
        };
    }
    let time_value = undiscounted - intrinsic;
    if time_value <= 0.0 {
        return (0.0, Status::Ok, 0);
    }
    let sqrt_t = t.sqrt();
    let width = (f - k).abs();
    if width < 1e-8 * time_value {
        // (Nearly) at the money: time value = vol sqrt(T) (1/sqrt(2 pi) - u/2 + O(u^2)) with
        // u = |F-K|/(vol sqrt T) < 1e-8, so the first-order formula is exact in double.
        return (
            (time_value + 0.5 * width) * SQRT_2PI / sqrt_t,
            Status::Ok,
            0,
        );
    }
    // phi~ = -(time value)/|F-K| = N(-u) - n(u)/u with u = |F-K|/(vol sqrt T).
    let phi_tilde = -time_value / width;
    let x_bar = if phi_tilde < PHI_TILDE_STAR {
        let g = 1.0 / (phi_tilde - 0.5);
        let g2 = g * g;
        let xi = (0.032_114_372_355
            - g2 * (0.016_969_777_977 - g2 * (2.620_733_246_1e-3 - 9.606_695_286_1e-5 * g2)))
            / (1.0 - g2 * (0.663_564_693_8 - g2 * (0.145_287_121_96 - 0.010_472_855_461 * g2)));
        g * (1.0 / SQRT_2PI + xi * g2)
    } else {
        let h = (-ln::<A>(-phi_tilde)).sqrt();
        (9.488_340_977_9 - h * (9.632_090_363_5 - h * (0.585_569_973_23 + 2.146_409_335_1 * h)))
            / (1.0 - h * (0.651_748_208_67 + h * (1.512_024_782_8 + 6.643_784_713_2e-5 * h)))
    };
    // Refine u = -x_bar on ln(g(u)/u) = ln(-phi~) with third-order Householder steps:
    // with q(u) = g(u)/u, q' = -n(u)/u^2.
    let target = ln::<A>(-phi_tilde);
    let mut u = (-x_bar).max(f64::MIN_POSITIVE);
    let mut steps = 0;
    for _ in 0..MAX_STEPS {
        let g = normalised_time_value::<A>(u);
        if !(g > 0.0) {
            break;
        }
        let lq = ln::<A>(g / u);
        let n = pdf::<A>(u);
        // F(u) = ln q(u) - target; F' = -n/(u g); F'' and F''' from q's derivatives.
        let p = n / (u * g); // -F'
        let newton = (lq - target) / p;
        let cdf_neg = cdf::<A>(-u);
        // F''/F' = (ln p)' = -u - 1/u + N(-u)/g; Halley's step.
        let halley = -u - 1.0 / u + cdf_neg / g;
        let ds = newton / (1.0 + 0.5 * newton * halley);
        if !ds.is_finite() {
            break;
        }
        steps += 1;
        let next = if u + ds > 0.0 { u + ds } else { 0.5 * u };
        let moved = (next - u).abs();
        u = next;
        if moved <= 4.0 * f64::EPSILON * u {
            break;
        }
    }
    (width / (u * sqrt_t), Status::Ok, steps)
}

/// Whether one quote's inputs are valid (the premium may be any finite number: its bounds
/// give a status, not an error). `None` when valid, else the argument and the reason.
#[allow(clippy::too_many_arguments)]
pub fn describe_invalid(
    model: crate::Model,
    premium: f64,
    kind: f64,
    s: f64,
    k: f64,
    t: f64,
    r: f64,
    q: f64,
) -> Option<(&'static str, String)> {
    if !premium.is_finite() {
        return Some(("premium", format!("must be finite, got {premium}")));
    }
    crate::validate::describe(model, [kind, s, k, t, 0.0, r, q]).map(|(a, m)| (a.name(), m))
}

/// Implied vol of one quote in any model: `(vol, status, steps)`. Inputs in public order;
/// for `inverse` the premium is in coins.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub fn implied_one<A: Arith>(
    model: crate::Model,
    premium: f64,
    kind: f64,
    s: f64,
    k: f64,
    t: f64,
    r: f64,
    q: f64,
) -> (f64, Status, u32) {
    use crate::Model;
    if describe_invalid(model, premium, kind, s, k, t, r, q).is_some() {
        return (f64::NAN, Status::InvalidInput, 0);
    }
    let df = exp::<A>(-r * t);
    // x = ln(F/K) exactly as the pricing kernels form it (see `black::setup`).
    let ln_sk = ln::<A>(s / k);
    match model {
        Model::Bsm => lognormal_one::<A>(premium / df, kind, A::mla(r - q, t, ln_sk), k, t),
        Model::Black76 => lognormal_one::<A>(premium / df, kind, ln_sk, k, t),
        Model::Inverse => lognormal_one::<A>(premium * s / df, kind, ln_sk, k, t),
        Model::Bachelier => bachelier_one::<A>(premium, kind, s, k, t, df),
    }
}

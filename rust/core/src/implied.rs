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
    cdf_pdf, half_gauss, normal_quantile, normalised_time_value, pdf, tail, tail_difference_cold,
    tails_nearly_equal, SQRT_2_OVER_PI,
};

/// The standard normal CDF.
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

/// `2 sinh(x/2) = e^(x/2) - e^(-x/2)` given both exponentials: their difference where it loses
/// at most a bit (|x| >= 0.7), else the Taylor series of sinh (terms to h^17/17!, h = x/2,
/// below 1e-17 relative), so near the money no digits cancel.
#[inline(always)]
fn two_sinh_half<A: Arith>(x: f64, ex: f64, emx: f64) -> f64 {
    const SINH_TAYLOR: [f64; 9] = [
        1.0 / 355_687_428_096_000.0, // 1/17!
        1.0 / 1_307_674_368_000.0,
        1.0 / 6_227_020_800.0,
        1.0 / 39_916_800.0,
        1.0 / 362_880.0,
        1.0 / 5_040.0,
        1.0 / 120.0,
        1.0 / 6.0,
        1.0,
    ];
    let h = 0.5 * x;
    if x.abs() >= 0.7 {
        ex - emx
    } else {
        2.0 * h * crate::fastmath::poly::<A, 9>(&SINH_TAYLOR, h * h)
    }
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
    // The cube root through exp/ln: a software `cbrt` costs more, and this guess is polished by
    // the Householder steps anyway (it is accurate to a few ulps).
    let p = exp::<A>(ln::<A>(f / (LOWER_MAP_FACTOR * x.abs())) * (1.0 / 3.0));
    let z = normal_quantile::<A>(p);
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
    normalised_black_implied_bounded::<A>(beta, x, exp::<A>(0.5 * x))
}

/// [`normalised_black_implied`] given the bound `b_max = e^(x/2)` (the caller has it).
#[inline(always)]
fn normalised_black_implied_bounded<A: Arith>(beta: f64, x: f64, b_max: f64) -> (f64, u32) {
    if x == 0.0 {
        return at_the_money::<A>(beta, b_max);
    }
    let centre = Centre::new::<A>(x, b_max);
    let side = centre.side::<A>(beta, x, b_max);
    let guess = initial_guess::<A>(beta, x, b_max, &centre, &side);
    let mut state = Refine::new::<A>(beta, x, b_max, guess, side.b_l, side.b_u);
    for _ in 0..MAX_STEPS {
        if !state.step::<A>(beta, x, b_max) {
            break;
        }
    }
    (state.s, state.steps)
}

/// At the money the premium is 2 N(s/2) - 1 (about s/sqrt(2 pi) when small): inverted
/// directly, then polished on the plain objective.
#[inline(always)]
fn at_the_money<A: Arith>(beta: f64, b_max: f64) -> (f64, u32) {
    let s0 = if beta < 1e-8 {
        beta * SQRT_2PI
    } else {
        2.0 * normal_quantile::<A>(0.5 * (beta + 1.0))
    };
    let mut state = Refine::new::<A>(beta, 0.0, b_max, s0, 0.0, f64::INFINITY);
    for _ in 0..MAX_STEPS {
        if !state.step::<A>(beta, 0.0, b_max) {
            break;
        }
    }
    (state.s, state.steps)
}

/// The inflection point s_c = sqrt(2|x|) of the normalised premium, its value and vega, and
/// the tangent's crossings of 0 (s_l) and of b_max (s_u).
#[derive(Clone, Copy, Default)]
struct Centre {
    /// 1/b_max = e^(-x/2), the other factor of every premium evaluation.
    b_min: f64,
    s_c: f64,
    b_c: f64,
    v_c: f64,
    s_l: f64,
    s_u: f64,
}

impl Centre {
    #[inline(always)]
    fn new<A: Arith>(x: f64, b_max: f64) -> Centre {
        let s_c = (2.0 * x.abs()).sqrt();
        let b_min = 1.0 / b_max;
        let (b_c, v_c) = black_and_vega::<A>(x, s_c, b_max, b_min);
        Centre {
            b_min,
            s_c,
            b_c,
            v_c,
            s_l: s_c - b_c / v_c,
            s_u: s_c + (b_max - b_c) / v_c,
        }
    }

    /// The branch point on beta's side of b_c (the other bound is set so that its branch is
    /// never taken).
    #[inline(always)]
    fn side<A: Arith>(&self, beta: f64, x: f64, b_max: f64) -> Side {
        let lower = beta <= self.b_c;
        let s = if lower { self.s_l } else { self.s_u };
        let (b, v) = if !lower || s > 0.0 {
            black_and_vega::<A>(x, s, b_max, self.b_min)
        } else {
            (0.0, 0.0)
        };
        if lower {
            Side {
                b_l: b,
                v_l: v,
                b_u: f64::INFINITY,
                v_u: 0.0,
            }
        } else {
            Side {
                b_l: 0.0,
                v_l: 0.0,
                b_u: b,
                v_u: v,
            }
        }
    }
}

/// The premiums and vegas at the branch points s_l and s_u.
#[derive(Clone, Copy, Default)]
struct Side {
    b_l: f64,
    v_l: f64,
    b_u: f64,
    v_u: f64,
}

/// Jäckel's initial guess from the branch beta falls in.
#[inline(always)]
fn initial_guess<A: Arith>(beta: f64, x: f64, b_max: f64, c: &Centre, d: &Side) -> f64 {
    let Centre {
        s_c,
        b_c,
        v_c,
        s_l,
        s_u,
        ..
    } = *c;
    let Side { b_l, v_l, b_u, v_u } = *d;
    if beta < b_l {
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
            -2.0 * normal_quantile::<A>(f)
        } else {
            s_u
        }
    }
}

/// Householder iterations on the branch's objective: the state of one quote.
#[derive(Clone, Copy, Default)]
struct Refine {
    s: f64,
    /// 1/b_max (see [`Centre`]).
    b_min: f64,
    b_l: f64,
    b_u: f64,
    ln_beta: f64,
    steps: u32,
    done: bool,
}

impl Refine {
    #[inline(always)]
    fn new<A: Arith>(beta: f64, x: f64, b_max: f64, guess: f64, b_l: f64, b_u: f64) -> Refine {
        let s = if !(guess > 0.0) || !guess.is_finite() {
            (2.0 * x.abs()).sqrt().max(1e-3)
        } else {
            guess
        };
        Refine {
            s,
            b_min: 1.0 / b_max,
            b_l,
            b_u,
            // ln(beta) only for the lowest branch's objective.
            ln_beta: if beta < b_l { ln::<A>(beta) } else { 0.0 },
            steps: 0,
            done: false,
        }
    }

    /// One third-order step; false (and `done`) once converged or stuck.
    #[inline(always)]
    fn step<A: Arith>(&mut self, beta: f64, x: f64, b_max: f64) -> bool {
        let s = self.s;
        let (b, bp) = black_and_vega::<A>(x, s, b_max, self.b_min);
        let ds = if !(bp > 0.0) || !(b > 0.0) {
            f64::NAN
        } else {
            let h = x / s;
            let h2 = h * h / s - 0.25 * s; // b''/b'
            let h3 = h2 * h2 - 3.0 * (h / s) * (h / s) - 0.25; // b'''/b'
            if beta < self.b_l {
                let ln_beta = self.ln_beta;
                let lb = ln::<A>(b);
                let p = bp / b;
                let newton = (ln_beta - lb) * lb / ln_beta / p;
                let halley = h2 - p * (1.0 + 2.0 / lb);
                let hh3 = h3 + 2.0 * p * p * (1.0 + 3.0 / lb * (1.0 + 1.0 / lb))
                    - 3.0 * h2 * p * (1.0 + 2.0 / lb);
                newton * householder(newton, halley, hh3)
            } else if beta > self.b_u {
                let gap = b_max - b;
                if !(gap > 0.0) {
                    f64::NAN
                } else {
                    let g = ln::<A>((b_max - beta) / gap);
                    let gp = bp / gap;
                    let newton = -g / gp;
                    let halley = h2 + gp;
                    let hh3 = h3 + gp * (2.0 * gp + 3.0 * h2);
                    newton * householder(newton, halley, hh3)
                }
            } else {
                let newton = (beta - b) / bp;
                newton * householder(newton, h2, h3)
            }
        };
        if !ds.is_finite() {
            self.done = true;
            return false;
        }
        self.steps += 1;
        let next = if s + ds > 0.0 { s + ds } else { 0.5 * s };
        let moved = (next - s).abs();
        self.s = next;
        // After a third-order step of relative size 1e-6 the error is of order 1e-18: done
        // without another evaluation.
        self.done = moved <= 1e-6 * next;
        !self.done
    }
}

/// [`normalised_black_implied`] for many quotes at once, `(s, steps)` written per quote (at
/// most [`crate::tile::TILE`] of them). The same computation in stages over all the quotes
/// (centre, branch point, guess, each Householder step): the quotes' long chains of dependent
/// divisions and exponentials are independent, so the CPU overlaps neighbouring quotes
/// instead of waiting on each chain in turn. Results are identical to the one-quote solver.
#[inline(always)]
pub fn normalised_black_implied_many<A: Arith>(
    beta: &[f64],
    x: &[f64],
    b_max: &[f64],
    s: &mut [f64],
    steps: &mut [u32],
) {
    use crate::tile::TILE;
    let n = s.len();
    assert!(n <= TILE && beta.len() == n && x.len() == n && b_max.len() == n);
    assert!(steps.len() == n);
    let mut centres = [Centre::default(); TILE];
    let mut sides = [Side::default(); TILE];
    let mut states = [Refine::default(); TILE];
    for i in 0..n {
        if x[i] != 0.0 {
            centres[i] = Centre::new::<A>(x[i], b_max[i]);
        }
    }
    for i in 0..n {
        if x[i] != 0.0 {
            sides[i] = centres[i].side::<A>(beta[i], x[i], b_max[i]);
        }
    }
    for i in 0..n {
        if x[i] == 0.0 {
            (s[i], steps[i]) = at_the_money::<A>(beta[i], b_max[i]);
            states[i].done = true;
        } else {
            let guess = initial_guess::<A>(beta[i], x[i], b_max[i], &centres[i], &sides[i]);
            let (b, bm) = (beta[i], b_max[i]);
            states[i] = Refine::new::<A>(b, x[i], bm, guess, sides[i].b_l, sides[i].b_u);
        }
    }
    for _ in 0..MAX_STEPS {
        let mut active = false;
        for i in 0..n {
            if !states[i].done {
                active |= states[i].step::<A>(beta[i], x[i], b_max[i]);
            }
        }
        if !active {
            break;
        }
    }
    for i in 0..n {
        if x[i] != 0.0 {
            (s[i], steps[i]) = (states[i].s, states[i].steps);
        }
    }
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
    match lognormal_prepare::<A>(undiscounted, phi, x, k, t) {
        Prepared::Done(vol, status) => (vol, status, 0),
        Prepared::Solve { beta, x, b_max } => {
            let (s, steps) = normalised_black_implied_bounded::<A>(beta, x, b_max);
            (s / t.sqrt(), Status::Ok, steps)
        }
    }
}

/// What normalising a lognormal quote leaves: its answer, or an out-of-the-money normalised
/// call premium `beta` at `x <= 0` (with `b_max = e^(x/2)`) whose total vol s gives the vol
/// `s / sqrt(T)`.
#[derive(Clone, Copy, Debug)]
pub enum Prepared {
    Done(f64, Status),
    Solve { beta: f64, x: f64, b_max: f64 },
}

/// The bounds checks and normalisation of [`lognormal_one`].
#[inline(always)]
fn lognormal_prepare<A: Arith>(undiscounted: f64, phi: f64, x: f64, k: f64, t: f64) -> Prepared {
    // Normalise by sqrt(F K) = K e^(x/2): beta, intrinsic 2 sinh(x/2)+, bounds e^(+-x/2).
    let ex = exp::<A>(0.5 * x);
    let emx = 1.0 / ex;
    let beta_quote = undiscounted / (k * ex);
    // 2 sinh(x/2) without cancellation near the money.
    let intrinsic = if phi * x > 0.0 {
        (phi * two_sinh_half::<A>(x, ex, emx)).max(0.0)
    } else {
        0.0
    };
    let upper = if phi > 0.0 { ex } else { emx };
    // A quote within rounding of the intrinsic value is the intrinsic value (vol 0).
    let tol = 8.0 * f64::EPSILON * intrinsic;
    if !(beta_quote >= intrinsic - tol) {
        return Prepared::Done(f64::NAN, Status::BelowIntrinsic);
    }
    let beta_quote = beta_quote.max(intrinsic);
    // Within rounding of the upper bound counts as reaching it (only vol -> infinity does).
    if beta_quote >= upper * (1.0 - 8.0 * f64::EPSILON) {
        return Prepared::Done(f64::NAN, Status::AboveUpperBound);
    }
    if t == 0.0 {
        return if beta_quote == intrinsic {
            Prepared::Done(f64::NAN, Status::ZeroExpiry)
        } else {
            Prepared::Done(f64::NAN, Status::AboveUpperBound)
        };
    }
    // Out-of-the-money side: an in-the-money quote less its intrinsic value is the other kind
    // (parity), and a put at x is a call at -x.
    let beta = beta_quote - intrinsic;
    if beta <= 0.0 {
        return Prepared::Done(0.0, Status::Ok);
    }
    let x = -x.abs();
    let b_max = ex.min(emx);
    if beta >= b_max {
        return Prepared::Done(f64::NAN, Status::AboveUpperBound);
    }
    Prepared::Solve { beta, x, b_max }
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
    match quote_inputs::<A>(model, premium, kind, s, k, t, r, q) {
        Quote::Invalid => (f64::NAN, Status::InvalidInput, 0),
        Quote::Lognormal { undiscounted, x } => lognormal_one::<A>(undiscounted, kind, x, k, t),
        Quote::Bachelier { df } => bachelier_one::<A>(premium, kind, s, k, t, df),
    }
}

/// One quote's inputs, checked and in the form its model's inversion takes.
enum Quote {
    Invalid,
    /// The premium over its discount factor in price units (for `inverse`: coins times F),
    /// and x = ln(F/K).
    Lognormal {
        undiscounted: f64,
        x: f64,
    },
    /// The discount factor (the Bachelier inversion takes the premium as quoted).
    Bachelier {
        df: f64,
    },
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn quote_inputs<A: Arith>(
    model: crate::Model,
    premium: f64,
    kind: f64,
    s: f64,
    k: f64,
    t: f64,
    r: f64,
    q: f64,
) -> Quote {
    use crate::Model;
    // The same domain as `describe_invalid`, checked without building its message.
    if !premium.is_finite() || !crate::validate::is_valid(model, [kind, s, k, t, 0.0, r, q]) {
        return Quote::Invalid;
    }
    let df = exp::<A>(-r * t);
    if model == Model::Bachelier {
        return Quote::Bachelier { df };
    }
    // x = ln(F/K) exactly as the pricing kernels form it.
    let x = crate::black::log_forward_moneyness::<A, false>(
        &crate::fastmath::COEFFS,
        model == Model::Bsm,
        s,
        k,
        t,
        r,
        q,
    );
    let undiscounted = match model {
        Model::Inverse => premium * s / df,
        _ => premium / df,
    };
    Quote::Lognormal { undiscounted, x }
}

/// [`implied_one`] for every quote of a tile (`premium[i]` with the tile's other inputs):
/// lognormal quotes are normalised one by one and the remaining inversions solved together by
/// [`normalised_black_implied_many`]. Writes `vols` and `status`; results equal
/// [`implied_one`]'s.
#[inline(always)]
pub fn implied_many<A: Arith>(
    model: crate::Model,
    premium: &[f64],
    tile: &crate::tile::Tile,
    vols: &mut [f64],
    status: &mut [u8],
) {
    use crate::tile::TILE;
    let n = vols.len();
    assert!(n <= TILE && premium.len() == n && tile.len() == n && status.len() == n);
    let mut beta = [0.0; TILE];
    let mut xs = [0.0; TILE];
    let mut b_max = [0.0; TILE];
    let mut which = [0u16; TILE];
    let mut m = 0;
    for i in 0..n {
        let [kind, s, k, t, _, r, q] = tile.at(i);
        let p = premium[i];
        let done = match quote_inputs::<A>(model, p, kind, s, k, t, r, q) {
            Quote::Invalid => (f64::NAN, Status::InvalidInput),
            Quote::Bachelier { df } => {
                let (v, st, _) = bachelier_one::<A>(p, kind, s, k, t, df);
                (v, st)
            }
            Quote::Lognormal { undiscounted, x } => {
                match lognormal_prepare::<A>(undiscounted, kind, x, k, t) {
                    Prepared::Done(v, st) => (v, st),
                    Prepared::Solve {
                        beta: b,
                        x,
                        b_max: bm,
                    } => {
                        (beta[m], xs[m], b_max[m], which[m]) = (b, x, bm, i as u16);
                        m += 1;
                        continue;
                    }
                }
            }
        };
        (vols[i], status[i]) = (done.0, done.1 as u8);
    }
    let mut s = [0.0; TILE];
    let mut steps = [0u32; TILE];
    normalised_black_implied_many::<A>(
        &beta[..m],
        &xs[..m],
        &b_max[..m],
        &mut s[..m],
        &mut steps[..m],
    );
    for j in 0..m {
        let i = usize::from(which[j]);
        (vols[i], status[i]) = (s[j] / tile.expiry[i].sqrt(), Status::Ok as u8);
    }
}

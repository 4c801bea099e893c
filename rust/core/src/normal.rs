//! Standard normal distribution: CDF and PDF to near machine precision in both tails.
//!
//! W. J. Cody, "Rational Chebyshev approximations for the error function", Math. Comp. 23
//! (1969) 631–637, with the coefficients of his CALERF routine (netlib specfun). Three ranges
//! of y = |x|/sqrt(2): erf(y) = y A(y^2)/B(y^2) for y <= 0.46875, erfcx(y) = C(y)/D(y) for
//! y <= 4, and erfcx(y) = (1/sqrt(pi) - z P(z)/Q(z))/y with z = 1/y^2 beyond.
//!
//! Changes for speed and tail accuracy, not for the approximation itself:
//! - the Gaussian factor exp(-x^2/2) is formed from x (with x^2 split exactly), not from the
//!   rounded y = x/sqrt(2), so the relative error stays at a few ulps down to x = -38;
//! - the large-range rational in z = 1/y^2 is rewritten as a rational in w = y^2 (both
//!   polynomials reversed), so each range is one numerator over one denominator and the three
//!   ranges share a single division; a lane picks its range with selects, so loops over
//!   arrays vectorise without branches.

#![allow(clippy::excessive_precision)] // published constants are kept digit for digit

use crate::fastmath::{exp_neg_half_square, poly, Arith};

/// 1/sqrt(2 pi).
pub const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_677_939_946_059_934_4;
/// sqrt(pi).
pub const SQRT_PI: f64 = 1.772_453_850_905_516_027_298_167_483_341_1;
const FRAC_1_SQRT_PI: f64 = 0.564_189_583_547_756_286_948_079_451_560_8;

// erf on |y| <= 0.46875: erf(y) = y * A(y^2) / B(y^2).
const A: [f64; 5] = [
    1.857_777_061_846_031_53e-1,
    3.161_123_743_870_565_60,
    1.138_641_541_510_501_56e2,
    3.774_852_376_853_020_21e2,
    3.209_377_589_138_469_47e3,
];
const B: [f64; 4] = [
    2.360_129_095_234_412_09e1,
    2.440_246_379_344_441_73e2,
    1.282_616_526_077_372_28e3,
    2.844_236_833_439_170_62e3,
];
// erfcx on 0.46875 < y <= 4: C(y) / D(y), D monic of degree 8.
const C: [f64; 9] = [
    2.153_115_354_744_038_46e-8,
    5.641_884_969_886_700_89e-1,
    8.883_149_794_388_375_94,
    6.611_919_063_714_162_95e1,
    2.986_351_381_974_001_31e2,
    8.819_522_212_417_690_90e2,
    1.712_047_612_634_070_58e3,
    2.051_078_377_826_071_47e3,
    1.230_339_354_797_997_25e3,
];
const D: [f64; 8] = [
    1.574_492_611_070_983_47e1,
    1.176_939_508_913_124_99e2,
    5.371_811_018_620_098_58e2,
    1.621_389_574_566_690_19e3,
    3.290_799_235_733_459_63e3,
    4.362_619_090_143_247_16e3,
    3.439_367_674_143_721_64e3,
    1.230_339_354_803_749_42e3,
];
// y > 4: Cody's P (degree 5) and monic Q (degree 5) in z = 1/y^2, stored reversed as
// polynomials in w = y^2: w^5 P(1/w) and w^5 Q(1/w). Highest power of w first.
const P_REV: [f64; 6] = [
    6.587_491_615_298_378_03e-4, // p5 coefficient of w^5 (Cody's P(5))
    1.608_378_514_874_227_66e-2,
    1.257_817_261_112_292_46e-1,
    3.603_448_999_498_044_39e-1,
    3.053_266_349_612_323_44e-1,
    1.631_538_713_730_209_78e-2, // Cody's P(6), constant term in w
];
const Q_REV: [f64; 6] = [
    2.335_204_976_268_691_85e-3,
    6.051_834_131_244_131_91e-2,
    5.279_051_029_514_284_12e-1,
    1.872_952_849_923_460_47,
    2.568_520_192_289_822_42,
    1.0,
];

#[inline(always)]
fn horner<A: Arith, const N: usize>(c: &[f64; N], x: f64) -> f64 {
    poly::<A, N>(c, x)
}

/// Monic polynomial x^N + c[0] x^(N-1) + ... + c[N-1].
#[inline(always)]
fn horner_monic<A: Arith, const N: usize>(c: &[f64; N], x: f64) -> f64 {
    // x^N by squaring is exact enough: N is 4 or 8 here.
    let mut xn = x;
    let mut k = 1;
    while k < N {
        xn *= xn;
        k *= 2;
    }
    xn + poly::<A, N>(c, x)
}

/// Beyond |x| = 40 the CDF is exactly 0 or 1 and the PDF exactly 0 in double precision.
pub const X_CLAMP: f64 = 40.0;

/// Cody's three ranges at y = |x|/sqrt(2) as (numerator, denominator, range) before the
/// final division: range 0 gives `erf(y)/y * y` (numerator `y A(y^2)`), ranges 1 and 2 give
/// `erfcx(y)`. `y` must be below 1e150.
#[inline(always)]
fn cody_rational<A: Arith>(y: f64) -> (f64, f64, u8) {
    let ysq = y * y;
    let small = y <= 0.468_75;
    let mid = y <= 4.0;
    let num_small = y * horner::<A, 5>(&A, ysq);
    let den_small = horner_monic::<A, 4>(&B, ysq);
    let num_mid = horner::<A, 9>(&C, y);
    let den_mid = horner_monic::<A, 8>(&D, y);
    // erfcx(y) = (w Q~(w)/sqrt(pi) - P~(w)) / (w Q~(w) y), w = y^2.
    let wq = ysq * horner::<A, 6>(&Q_REV, ysq);
    let num_large = A::mla(wq, FRAC_1_SQRT_PI, -horner::<A, 6>(&P_REV, ysq));
    let den_large = wq * y;
    if small {
        (num_small, den_small, 0)
    } else if mid {
        (num_mid, den_mid, 1)
    } else {
        (num_large, den_large, 2)
    }
}

/// [`cody_rational`] for scalar code: evaluates only the range `y` falls in (the same
/// operations, so the same bits), about three times cheaper outside SIMD loops.
#[inline(always)]
fn cody_rational_scalar<A: Arith>(y: f64) -> (f64, f64, u8) {
    let ysq = y * y;
    if y <= 0.468_75 {
        (
            y * horner::<A, 5>(&A, ysq),
            horner_monic::<A, 4>(&B, ysq),
            0,
        )
    } else if y <= 4.0 {
        (horner::<A, 9>(&C, y), horner_monic::<A, 8>(&D, y), 1)
    } else {
        let wq = ysq * horner::<A, 6>(&Q_REV, ysq);
        (
            A::mla(wq, FRAC_1_SQRT_PI, -horner::<A, 6>(&P_REV, ysq)),
            wq * y,
            2,
        )
    }
}

/// Phi(x) and phi(x) from Cody's rational at y = |x|/sqrt 2: in the small range
/// Phi(x) = 1/2 + sign(x) erf(y)/2, otherwise Phi(-|x|) = exp(-x^2/2) erfcx(y)/2.
#[inline(always)]
fn finish_cdf(xc: f64, gauss: f64, num: f64, den: f64, range: u8) -> (f64, f64) {
    let small = range == 0;
    let scale = if small {
        0.5 * xc.signum()
    } else {
        0.5 * gauss
    };
    let r = scale * num / den;
    let cdf = if small {
        0.5 + r
    } else if xc < 0.0 {
        r
    } else {
        1.0 - r
    };
    (cdf, gauss * FRAC_1_SQRT_2PI)
}

/// [`cdf_pdf`] for scalar code (same values, only the needed range evaluated).
#[inline(always)]
pub fn cdf_pdf_scalar<A: Arith>(x: f64) -> (f64, f64) {
    let xc = x.clamp(-X_CLAMP, X_CLAMP);
    let y = xc.abs() * std::f64::consts::FRAC_1_SQRT_2;
    let gauss = exp_neg_half_square::<A>(xc);
    let (num, den, range) = cody_rational_scalar::<A>(y);
    finish_cdf(xc, gauss, num, den, range)
}

/// [`scaled_tail`] for scalar code (same values, only the needed range evaluated).
#[inline(always)]
pub fn scaled_tail_scalar<A: Arith>(u: f64, c: f64, w: f64) -> f64 {
    let y = u.min(1e10) * std::f64::consts::FRAC_1_SQRT_2;
    let (num, den, range) = cody_rational_scalar::<A>(y);
    let small = range == 0;
    let r = if small { 0.5 * c } else { SQRT_HALF_PI * w } * num / den;
    if small {
        A::mla(0.5, c, -r)
    } else {
        r
    }
}

/// The standard normal CDF and PDF at `x`, `(Phi(x), phi(x))`. NaN gives NaN.
#[inline(always)]
pub fn cdf_pdf<A: Arith>(x: f64) -> (f64, f64) {
    let xc = x.clamp(-X_CLAMP, X_CLAMP);
    let y = xc.abs() * std::f64::consts::FRAC_1_SQRT_2;
    let gauss = exp_neg_half_square::<A>(xc);
    let (num, den, range) = cody_rational::<A>(y);
    finish_cdf(xc, gauss, num, den, range)
}

/// Standard normal CDF.
#[inline(always)]
pub fn cdf<A: Arith>(x: f64) -> f64 {
    cdf_pdf::<A>(x).0
}

/// Standard normal PDF.
#[inline(always)]
pub fn pdf<A: Arith>(x: f64) -> f64 {
    exp_neg_half_square::<A>(x.clamp(-X_CLAMP, X_CLAMP)) * FRAC_1_SQRT_2PI
}

/// `c * Phi(-u)` for u >= 0, given `w = c * phi(u)`.
///
/// In the middle and large ranges the tail is formed as `sqrt(pi/2) * w * erfcx(u/sqrt 2)`,
/// with no exponential of its own: callers pass one Gaussian factor shared by two tails (the
/// Black-Scholes identity `a phi(d1) = b phi(d2)`), so the two terms of a premium carry the same
/// rounding in that factor and their difference keeps its relative accuracy. In the small range
/// (u <= 0.663) it is `c (1/2 - erf(u/sqrt 2)/2)`. `u` may be up to 1e300.
#[inline(always)]
pub fn scaled_tail<A: Arith>(u: f64, c: f64, w: f64) -> f64 {
    let y = u.min(1e10) * std::f64::consts::FRAC_1_SQRT_2;
    let (num, den, range) = cody_rational::<A>(y);
    let small = range == 0;
    let r = if small { 0.5 * c } else { SQRT_HALF_PI * w } * num / den;
    if small {
        A::mla(0.5, c, -r)
    } else {
        r
    }
}

/// `-d/dy erfcx(y) = 2/sqrt(pi) - 2 y erfcx(y)` for any y, without cancellation in Cody's
/// large range, where `y erfcx(y) = 1/sqrt(pi) - z P(z)/Q(z)` makes it `2 z P/Q`.
/// (Scalar code: only the rare cancellation fix-ups call it.)
#[inline(always)]
fn neg_erfcx_slope<A: Arith>(y: f64) -> f64 {
    let ay = y.abs();
    let w = ay * ay;
    if y > 4.0 {
        return 2.0 * horner::<A, 6>(&P_REV, w) / (w * horner::<A, 6>(&Q_REV, w));
    }
    let erfcx_abs = if ay > 0.468_75 && ay <= 4.0 {
        horner::<A, 9>(&C, ay) / horner_monic::<A, 8>(&D, ay)
    } else if ay > 4.0 {
        let wq = w * horner::<A, 6>(&Q_REV, w);
        A::mla(wq, FRAC_1_SQRT_PI, -horner::<A, 6>(&P_REV, w)) / (wq * ay)
    } else {
        let erf = ay * horner::<A, 5>(&A, w) / horner_monic::<A, 4>(&B, w);
        crate::fastmath::exp::<A>(w) * (1.0 - erf)
    };
    // erfcx(-|y|) = 2 e^(y^2) - erfcx(|y|).
    let erfcx = if y >= 0.0 {
        erfcx_abs
    } else {
        2.0 * crate::fastmath::exp::<A>(w) - erfcx_abs
    };
    2.0 * FRAC_1_SQRT_PI - 2.0 * y * erfcx
}

/// Whether the difference of two tails `N(-u_lo) c_lo - N(-u_hi) c_hi` sharing one Gaussian
/// factor (see [`scaled_tail`]), with `u_hi = u_lo + gap`, cancels so badly that
/// [`tail_difference`] should form it: not both in the money (u_hi >= 0) and the gap below
/// 1/`ratio` of the arguments' scale (so at most log2(ratio) bits are lost without it). The
/// price kernels and the implied-vol solver both use 512 (9 bits, 1.1e-13 relative at worst):
/// a looser price kernel (2048 was tried) breaks the 1e-12 implied-vol round trip of
/// in-the-money quotes with tiny vol sqrt(T). Branch-free so that the SIMD loops that call it
/// stay vectorised.
#[inline(always)]
pub fn tails_nearly_equal(u_lo: f64, gap: f64, ratio: f64) -> bool {
    (u_lo + gap >= 0.0) & (ratio * gap < u_lo.abs().max(1.0)) & (u_lo < 38.0)
}

/// `sqrt(pi/2) w (erfcx(y_lo) - erfcx(y_hi))`, y = u/sqrt 2, u_hi = u_lo + gap: the difference
/// of two tails sharing the Gaussian factor `w`, as the integral of -erfcx' over [y_lo, y_hi]
/// by 4-point Gauss–Legendre (exact to double precision when the interval is short against y,
/// which is when the plain difference cancels). The gap is passed on its own (it is vol
/// sqrt(T)) because `u_hi - u_lo` of two rounded arguments would lose its digits.
#[inline(always)]
pub fn tail_difference<A: Arith>(u_lo: f64, gap: f64, w: f64) -> f64 {
    const NODES: [f64; 2] = [0.339_981_043_584_856_3, 0.861_136_311_594_052_6];
    const WEIGHTS: [f64; 2] = [0.652_145_154_862_546_1, 0.347_854_845_137_453_9];
    let half = 0.5 * gap * std::f64::consts::FRAC_1_SQRT_2;
    let mid = u_lo * std::f64::consts::FRAC_1_SQRT_2 + half;
    let mut sum = 0.0;
    for (x, wt) in NODES.iter().zip(WEIGHTS) {
        sum += wt * (neg_erfcx_slope::<A>(mid - half * x) + neg_erfcx_slope::<A>(mid + half * x));
    }
    SQRT_HALF_PI * w * half * sum
}

/// [`tail_difference`] out of line, in portable arithmetic: the rare fix-up path stays out of
/// the SIMD kernels' code (and gives the same bits on every CPU).
#[cold]
#[inline(never)]
pub fn tail_difference_cold(u_lo: f64, gap: f64, w: f64) -> f64 {
    tail_difference::<crate::fastmath::Plain>(u_lo, gap, w)
}

/// sqrt(pi/2).
const SQRT_HALF_PI: f64 = 1.253_314_137_315_500_251_207_882_642_405_5;

/// `g(u) = phi(u) - u * Phi(-u)` for u >= 0: the normalised time value of a Bachelier option,
/// also `integral_u^inf Phi(-v) dv`. For large u the difference cancels badly, so beyond
/// u = 4 sqrt(2) it is formed from Cody's large-range terms directly:
/// `1 - u Phi(-u)/phi(u) = sqrt(pi) P~(w) / (w Q~(w))` with w = u^2/2, which has no cancellation.
/// Below that point at most log2(u^2) ~ 5 bits are lost to the subtraction.
#[inline(always)]
pub fn normalised_time_value<A: Arith>(u: f64) -> f64 {
    let uc = u.clamp(0.0, X_CLAMP);
    let (cdf_neg, pdf) = cdf_pdf::<A>(-uc);
    let w = 0.5 * uc * uc;
    let large = pdf * SQRT_PI * horner::<A, 6>(&P_REV, w) / (w * horner::<A, 6>(&Q_REV, w));
    let direct = A::mla(-uc, cdf_neg, pdf);
    if uc > 4.0 * std::f64::consts::SQRT_2 {
        large
    } else {
        direct.max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fastmath::{Fused, Plain};

    // High-precision values of Phi(x), computed with mpmath at 50 digits.
    const CDF_REF: [(f64, f64); 12] = [
        (-37.5, 4.605_353_009_581_954_843_8e-308),
        (-37.0, 5.725_571_222_524_576_822_7e-300),
        (-30.0, 4.906_713_927_148_187_059_5e-198),
        (-20.0, 2.753_624_118_606_233_695_1e-89),
        (-10.0, 7.619_853_024_160_526_066e-24),
        (-5.0, 2.866_515_718_791_939_116_7e-7),
        (-3.0, 1.349_898_031_630_094_526_7e-3),
        (-1.0, 0.158_655_253_931_457_051_41),
        (-0.5, 0.308_537_538_725_986_896_36),
        (-0.1, 0.460_172_162_722_971_016_33),
        (0.0, 0.5),
        (2.0, 0.977_249_868_051_820_792_8),
    ];

    #[test]
    fn cdf_matches_high_precision_values() {
        for (x, want) in CDF_REF {
            for got in [cdf::<Plain>(x), cdf::<Fused>(x)] {
                let rel = ((got - want) / want).abs();
                assert!(rel < 4e-15, "x={x} got={got:e} want={want:e} rel={rel:e}");
            }
        }
    }

    #[test]
    fn cdf_symmetry_and_limits() {
        for i in 0..2000 {
            let x = -9.0 + i as f64 * 0.009;
            let s = cdf::<Plain>(x) + cdf::<Plain>(-x);
            assert!((s - 1.0).abs() < 3e-16, "x={x}");
        }
        assert_eq!(cdf::<Plain>(-40.0), 0.0);
        assert_eq!(cdf::<Plain>(f64::NEG_INFINITY), 0.0);
        assert_eq!(cdf::<Plain>(f64::INFINITY), 1.0);
        assert!(cdf::<Plain>(f64::NAN).is_nan());
    }

    #[test]
    fn cdf_is_monotone_across_range_boundaries() {
        let mut prev = 0.0;
        for i in 0..200_000 {
            let x = -39.0 + i as f64 * 0.0004;
            let c = cdf::<Plain>(x);
            assert!(c >= prev, "x={x}");
            prev = c;
        }
    }

    #[test]
    fn time_value_matches_direct_formula_where_that_is_accurate() {
        for i in 0..400 {
            let u = i as f64 * 0.01;
            let direct = pdf::<Plain>(u) - u * cdf::<Plain>(-u);
            let got = normalised_time_value::<Plain>(u);
            assert!(((got - direct) / direct).abs() < 1e-14, "u={u}");
        }
        // Continuity at the switch point u = 4 sqrt(2).
        let s = 4.0 * std::f64::consts::SQRT_2;
        let a = normalised_time_value::<Plain>(s * (1.0 - 1e-15));
        let b = normalised_time_value::<Plain>(s * (1.0 + 1e-15));
        assert!(((a - b) / a).abs() < 1e-13);
        // Asymptotics: g(u) ~ phi(u)/u^2 (1 - 3/u^2 + 15/u^4).
        let u = 30.0;
        let asym = pdf::<Plain>(u) / (u * u) * (1.0 - 3.0 / 900.0 + 15.0 / 810_000.0);
        assert!(((normalised_time_value::<Plain>(u) - asym) / asym).abs() < 1e-6);
        // next term: 105/u^6
    }
}

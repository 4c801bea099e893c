//! Branch-free `exp` and `ln` to full double precision, written so that a loop calling them
//! compiles to SIMD code (no table look-ups, no calls, integer work on 64-bit lanes only).
//!
//! The standard library's `exp`/`ln` call libm and stop LLVM from vectorising a loop; these
//! versions keep the loop vectorisable while staying within about one ulp of the true value
//! (tests compare them with the correctly rounded libm results).
//!
//! The arithmetic is generic over [`Arith`], so the same source compiles with fused
//! multiply-add where the CPU has it (chosen at run time, see `dispatch`) and with separate
//! multiply and add everywhere else.

#![allow(clippy::excessive_precision)] // published constants are kept digit for digit

/// How `a * b + c` is evaluated: fused on CPUs with FMA, separately otherwise.
pub trait Arith: Copy + Send + Sync + 'static {
    /// `a * b + c`.
    fn mla(a: f64, b: f64, c: f64) -> f64;
    /// The rounding error of the product `x * x`, i.e. `x*x - fl(x*x)` exactly.
    fn square_err(x: f64, hi: f64) -> f64;
}

/// Separate multiply and add: portable to every x86-64 (SSE2) and other CPU.
#[derive(Clone, Copy, Debug)]
pub struct Plain;

/// Fused multiply-add. Only used inside functions compiled with the `fma` target feature.
#[derive(Clone, Copy, Debug)]
pub struct Fused;

impl Arith for Plain {
    #[inline(always)]
    fn mla(a: f64, b: f64, c: f64) -> f64 {
        a * b + c
    }
    #[inline(always)]
    fn square_err(x: f64, hi: f64) -> f64 {
        // Dekker's exact product via Veltkamp splitting (Dekker 1971).
        const SPLIT: f64 = 134_217_729.0; // 2^27 + 1
        let c = SPLIT * x;
        let xh = c - (c - x);
        let xl = x - xh;
        ((xh * xh - hi) + 2.0 * xh * xl) + xl * xl
    }
}

impl Arith for Fused {
    #[inline(always)]
    fn mla(a: f64, b: f64, c: f64) -> f64 {
        a.mul_add(b, c)
    }
    #[inline(always)]
    fn square_err(x: f64, hi: f64) -> f64 {
        x.mul_add(x, -hi)
    }
}

/// Polynomial with coefficients highest power first, by Estrin's scheme (pairs of terms
/// combined with x, x^2, x^4, ...): the same terms as Horner's rule but a dependency chain of
/// log2(N) instead of N multiply-adds, which lets the CPU overlap neighbouring options.
#[inline(always)]
pub fn poly<A: Arith, const N: usize>(c: &[f64; N], x: f64) -> f64 {
    const { assert!(N >= 1 && N <= 32) };
    let x2 = x * x;
    let x4 = x2 * x2;
    let x8 = x4 * x4;
    if N > 16 {
        A::mla(
            estrin16::<A, N>(c, x, x2, x4, x8, 16),
            x8 * x8,
            estrin16::<A, N>(c, x, x2, x4, x8, 0),
        )
    } else {
        estrin16::<A, N>(c, x, x2, x4, x8, 0)
    }
}

#[inline(always)]
fn estrin16<A: Arith, const N: usize>(
    c: &[f64; N],
    x: f64,
    x2: f64,
    x4: f64,
    x8: f64,
    i: usize,
) -> f64 {
    if i + 8 < N {
        A::mla(
            estrin8::<A, N>(c, x, x2, x4, i + 8),
            x8,
            estrin8::<A, N>(c, x, x2, x4, i),
        )
    } else {
        estrin8::<A, N>(c, x, x2, x4, i)
    }
}

// Estrin's levels as functions (not closures, which may escape inlining into the
// target-feature wrappers and then call a software fma). Index tests are constants.

/// Coefficient of x^i (0 beyond the degree).
#[inline(always)]
fn coeff<const N: usize>(c: &[f64; N], i: usize) -> f64 {
    if i < N {
        c[N - 1 - i]
    } else {
        0.0
    }
}

#[inline(always)]
fn estrin2<A: Arith, const N: usize>(c: &[f64; N], x: f64, i: usize) -> f64 {
    if i + 1 < N {
        A::mla(coeff(c, i + 1), x, coeff(c, i))
    } else {
        coeff(c, i)
    }
}

#[inline(always)]
fn estrin4<A: Arith, const N: usize>(c: &[f64; N], x: f64, x2: f64, i: usize) -> f64 {
    if i + 2 < N {
        A::mla(estrin2::<A, N>(c, x, i + 2), x2, estrin2::<A, N>(c, x, i))
    } else {
        estrin2::<A, N>(c, x, i)
    }
}

#[inline(always)]
fn estrin8<A: Arith, const N: usize>(c: &[f64; N], x: f64, x2: f64, x4: f64, i: usize) -> f64 {
    if i + 4 < N {
        A::mla(
            estrin4::<A, N>(c, x, x2, i + 4),
            x4,
            estrin4::<A, N>(c, x, x2, i),
        )
    } else {
        estrin4::<A, N>(c, x, x2, i)
    }
}

/// The same polynomial by second-order Horner: p(x) = E(x^2) + x O(x^2), the even and odd
/// coefficients each by Horner's rule in x^2. Each step is one multiply-add with the
/// coefficient as its memory operand, where Estrin's pairs also cost a register copy and a
/// load: fewer instructions for longer dependency chains (about N/2 steps), the better choice
/// off a loop's critical path. (A general K-way form was tried: with K = 3 or 6 for erfcx,
/// price calls came out about five times slower, not examined further.)
#[inline(always)]
pub fn horner2<A: Arith, const N: usize>(c: &[f64; N], x: f64) -> f64 {
    const { assert!(N >= 2) };
    let y = x * x;
    A::mla(
        horner_every_other::<A, N>(c, y, 1),
        x,
        horner_every_other::<A, N>(c, y, 0),
    )
}

/// Horner's rule in `y` over the coefficients of x^r, x^(r+2), ..., from the highest (a
/// function, not a closure: see the note on Estrin's levels).
#[inline(always)]
fn horner_every_other<A: Arith, const N: usize>(c: &[f64; N], y: f64, r: usize) -> f64 {
    let mut j = r + (N - 1 - r) / 2 * 2;
    let mut sum = coeff(c, j);
    while j >= 2 {
        j -= 2;
        sum = A::mla(sum, y, coeff(c, j));
    }
    sum
}

const LN2_HI: f64 = 6.931_471_803_691_238_164_90e-1; // ln 2 with 32 trailing zero bits
const LN2_LO: f64 = 1.908_214_929_270_587_700_02e-10; // ln 2 - LN2_HI
const SHIFTER: f64 = 6_755_399_441_055_744.0; // 1.5 * 2^52: x + SHIFTER rounds x to an integer

/// h(r) = (exp(r) - 1 - r) / r^2 on |r| <= ln(2)/2 as a polynomial of degree 9, highest power
/// first: interpolation at the ten Chebyshev nodes (near-minimax; computed with mpmath at 50
/// digits), so that `1 + r + r^2 h(r)` is within 1.6e-17 of exp(r) relative before rounding.
/// Two terms fewer than the degree-13 Taylor series it replaces.
const EXP_COEFF: [f64; 10] = [
    2.510_037_583_256_123_4e-8,
    2.762_007_587_998_336_7e-7,
    2.755_726_848_031_002_4e-6,
    2.480_152_132_236_869_2e-5,
    1.984_126_986_304_054_5e-4,
    1.388_888_891_719_671_9e-3,
    8.333_333_333_330_065e-3,
    4.166_666_666_662_416_4e-2,
    1.666_666_666_666_666_9e-1,
    5.000_000_000_000_001e-1,
];

/// The coefficient tables of the polynomials of [`exp`], [`Coeffs::ln_ratio_plus`] and
/// [`erfcx`](crate::normal::erfcx), one object for the kernels to read them from.
///
/// The hot kernels take them through [`Coeffs::opaque`], a copy whose values the optimiser
/// cannot see: a loop then broadcasts each coefficient once, keeps it as a full vector on the
/// stack and uses it as a memory operand of its multiply-adds. Compile-time constants are
/// instead broadcast again from the constant pool in every iteration once registers run out
/// (AVX2 multiply-adds take no broadcast operand), which costs a vector-unit slot each:
/// measured, a loop of the price kernel's tails (the Gaussian factor and two erfcx) went from
/// 5.7 to 5.3 ns per option. The free functions ([`exp`], ...) use [`COEFFS`] directly.
#[derive(Clone, Copy)]
pub struct Coeffs {
    exp: [f64; 10],
    log: [f64; 7],
    pub(crate) erfcx: [f64; 23],
}

/// The coefficient tables, as compile-time constants.
pub const COEFFS: Coeffs = Coeffs {
    exp: EXP_COEFF,
    log: LOG_COEFF,
    erfcx: crate::normal::ERFCX_T,
};

/// The source of [`Coeffs::opaque`].
static COEFFS_IN_MEMORY: Coeffs = COEFFS;

impl Coeffs {
    /// A copy of [`COEFFS`] whose values the optimiser cannot see; take it once per tile,
    /// outside the loops. A local copy rather than a reference, so that no store of a loop can
    /// alias it (a reference would cost the vectoriser a run-time overlap check per output).
    #[inline(always)]
    pub fn opaque() -> Coeffs {
        *std::hint::black_box(&COEFFS_IN_MEMORY)
    }

    /// `exp(x)`, or, with `NEG_HALF`, `exp(-(hi + lo)/2)` for a square `hi` <= 2800 and its
    /// rounding error `lo` (callers clamp). `ESTRIN` chooses the polynomial scheme (see
    /// [`Coeffs::exp_reduced`]).
    ///
    /// Cody–Waite reduction `x = n ln2 + r`, |r| <= ln2/2, a degree-11 polynomial for `exp(r)`
    /// and a scaling by `2^n` split in two factors so that results in the subnormal range and
    /// overflow to infinity come out right. NaN propagates. With `NEG_HALF` the reduction
    /// starts from `hi` itself (-1/2 folded into the constant, the same bits since halving is
    /// exact), one multiply shorter on the dependency chain, and the argument needs no clamp:
    /// it is at least -1400, and the two-factor scaling below covers 2^n down to n = -2044, so
    /// results that underflow come out as 0.
    #[inline(always)]
    fn exp_impl<A: Arith, const ESTRIN: bool, const NEG_HALF: bool>(
        &self,
        hi: f64,
        lo: f64,
    ) -> f64 {
        let (x, lo, t) = if NEG_HALF {
            let t = A::mla(hi, -0.5 * std::f64::consts::LOG2_E, SHIFTER);
            (-0.5 * hi, -0.5 * lo, t)
        } else {
            let x = hi.clamp(-746.0, 710.0);
            (x, lo, A::mla(x, std::f64::consts::LOG2_E, SHIFTER))
        };
        let n = t - SHIFTER;
        // The integer n sits in the low mantissa bits of t.
        let ni = (t.to_bits() as i64).wrapping_sub(SHIFTER.to_bits() as i64);
        let r = A::mla(-n, LN2_LO, A::mla(-n, LN2_HI, x));
        // Only the square has a correction: `r + 0.0` is not an identity for the compiler.
        let r = if NEG_HALF { r + lo } else { r };
        let p = if ESTRIN {
            self.exp_reduced::<A>(r)
        } else {
            self.exp_reduced_horner::<A>(r)
        };
        // 2^n as two normal factors 2^n1 * 2^n2 with n1 = floor(n / 2): valid for n in
        // [-1076, 1025].
        let nb = ni.wrapping_add(2048) as u64; // positive for the clamped range
        let n1 = (nb >> 1) as i64 - 1024;
        let n2 = ni - n1;
        let s1 = f64::from_bits(((n1 + 1023) as u64) << 52);
        let s2 = f64::from_bits(((n2 + 1023) as u64) << 52);
        p * s1 * s2
    }

    /// `exp(r)` for |r| <= ln(2)/2: `1 + (r + r^2 h(r))`, h by Estrin's scheme (see `poly`):
    /// short dependency chains, for the Gaussian factor on the price kernel's critical path.
    #[inline(always)]
    fn exp_reduced<A: Arith>(&self, r: f64) -> f64 {
        let h = poly::<A, 10>(&self.exp, r);
        1.0 + A::mla(r * r, h, r)
    }

    /// [`Coeffs::exp_reduced`] with h by second-order Horner ([`horner2`]): fewer
    /// instructions, for the discount factors, which are off the critical path of the set-up
    /// loop (measured 3-10% faster price calls than Estrin there).
    #[inline(always)]
    fn exp_reduced_horner<A: Arith>(&self, r: f64) -> f64 {
        let h = horner2::<A, 10>(&self.exp, r);
        1.0 + A::mla(r * r, h, r)
    }

    /// `exp(x)` for |x| <= [`EXP_SMALL_MAX`] (callers check the whole tile): bit-identical to
    /// [`Coeffs::exp_discount`] there, where the reduction leaves x unchanged and the scaling
    /// is by 2^0, at half the work. Discount factors e^(-rT) are such arguments in practice.
    #[inline(always)]
    pub fn exp_small<A: Arith>(&self, x: f64) -> f64 {
        self.exp_reduced_horner::<A>(x)
    }

    /// `exp(x)`.
    #[inline(always)]
    pub fn exp<A: Arith>(&self, x: f64) -> f64 {
        self.exp_impl::<A, true, false>(x, 0.0)
    }

    /// `exp(x)` for discount factors: [`Coeffs::exp`] with the polynomial of
    /// [`Coeffs::exp_small`], so that the two give the same bits where both apply.
    #[inline(always)]
    pub fn exp_discount<A: Arith>(&self, x: f64) -> f64 {
        self.exp_impl::<A, false, false>(x, 0.0)
    }

    /// `exp(-x*x/2)` with `x*x` formed exactly (as a double-double), so that the Gaussian keeps
    /// full relative accuracy far into the tails where `x*x/2` is several hundred.
    /// Requires |x| <= 50 (callers clamp to 40): the exponent is then at least -1250, which
    /// the exponential takes without its own clamp (two instructions fewer in the price
    /// kernel's tails loop).
    #[inline(always)]
    pub fn exp_neg_half_square<A: Arith>(&self, x: f64) -> f64 {
        let hi = x * x;
        let lo = A::square_err(x, hi);
        self.exp_impl::<A, true, true>(hi, lo)
    }

    /// `ln(s / k) + drift` for positive finite `s` and `k` and a finite `drift`, without
    /// forming `s / k` (no overflow or underflow for any ratio) and with one division on the
    /// dependency chain instead of two.
    ///
    /// With s = 2^i m_s and k = 2^j m_k, m in [1, 2), the ratio m_s / m_k in (1/2, 2) is moved
    /// into [sqrt(1/2), sqrt(2)] by a factor 2 on one side; then ln(m_s / m_k) = 2z + z R(z^2)
    /// with z = (m_s - m_k) / (m_s + m_k), |z| <= 0.1716, and fdlibm's R (see [`ln`]).
    /// m_s - m_k is exact (Sterbenz), so near the money (s close to k) the result keeps its
    /// relative accuracy, which `ln(s / k)` loses to the rounding of the quotient.
    ///
    /// `drift` (the Black-Scholes `(r - q) T`) joins the exact `e ln2_hi` off the polynomial's
    /// dependency chain, so one addition follows the polynomial where adding it to the
    /// logarithm took a third multiply-add on that chain (L1-resident BSM price tiles 2.5-4%
    /// faster, see the README). With `drift` 0 the bits are those of
    /// `e ln2_hi + (e ln2_lo + ln m)`, the logarithm alone.
    #[inline(always)]
    pub fn ln_ratio_plus<A: Arith>(&self, s: f64, k: f64, drift: f64) -> f64 {
        self.ln_ratio_impl::<A, false>(s, k, drift)
    }

    /// [`Coeffs::ln_ratio_plus`] for normal (not subnormal) `s` and `k`, which callers check
    /// for a whole tile: the same bits, without the subnormal rescaling (17 of the set-up
    /// loop's 216 instructions when it was introduced; the fast form gained 4-7% of a price
    /// call, see the README).
    #[inline(always)]
    pub fn ln_ratio_plus_normal<A: Arith>(&self, s: f64, k: f64, drift: f64) -> f64 {
        self.ln_ratio_impl::<A, true>(s, k, drift)
    }

    #[inline(always)]
    fn ln_ratio_impl<A: Arith, const NORMAL: bool>(&self, s: f64, k: f64, drift: f64) -> f64 {
        let (ms, es) = mantissa_exponent::<NORMAL>(s);
        let (mk, ek) = mantissa_exponent::<NORMAL>(k);
        let high = ms > std::f64::consts::SQRT_2 * mk;
        let low = mk > std::f64::consts::SQRT_2 * ms;
        let mk = if high { 2.0 * mk } else { mk };
        let ms = if low { 2.0 * ms } else { ms };
        let e = es - ek + if high { 1.0 } else { 0.0 } - if low { 1.0 } else { 0.0 };
        let z = (ms - mk) / (ms + mk);
        let z2 = z * z;
        let r = z2 * poly::<A, 7>(&self.log, z2);
        let log_m = A::mla(z, r, 2.0 * z);
        // e ln2_hi is exact (ln2_hi has 32 trailing zero bits), so with drift 0 the sum rounds
        // once, as fdlibm's `e ln2_hi + (e ln2_lo + ln m)`.
        A::mla(e, LN2_HI, drift) + A::mla(e, LN2_LO, log_m)
    }
}

/// Bound on |x| for [`exp_small`].
pub const EXP_SMALL_MAX: f64 = 0.346_5; // just below ln(2)/2

/// `exp(x)` for |x| <= [`EXP_SMALL_MAX`]: [`Coeffs::exp_small`].
#[inline(always)]
pub fn exp_small<A: Arith>(x: f64) -> f64 {
    COEFFS.exp_small::<A>(x)
}

/// `exp(x)`.
#[inline(always)]
pub fn exp<A: Arith>(x: f64) -> f64 {
    COEFFS.exp::<A>(x)
}

/// `exp(-x*x/2)` to full relative accuracy: [`Coeffs::exp_neg_half_square`].
#[inline(always)]
pub fn exp_neg_half_square<A: Arith>(x: f64) -> f64 {
    COEFFS.exp_neg_half_square::<A>(x)
}

const SQRT_HALF_BITS: u64 = 0x3fe6_a09e_667f_3bcd; // bits of sqrt(1/2)
const MANTISSA_MASK: u64 = 0x000f_ffff_ffff_ffff;
const TWO52: f64 = 4_503_599_627_370_496.0;

/// R(z) / z, z = s^2, highest power first: the minimax polynomial of fdlibm's `e_log.c` (Sun
/// Microsystems, 1993; coefficients Lg7 .. Lg1), with `ln((1+s)/(1-s)) = 2s + s R(z)` to within
/// 2^-58.45 for |s| <= 0.1716. Seven terms where the atanh series needs eleven.
const LOG_COEFF: [f64; 7] = [
    1.479_819_860_511_658_591e-1,
    1.531_383_769_920_937_332e-1,
    1.818_357_216_161_805_012e-1,
    2.222_219_843_214_978_396e-1,
    2.857_142_874_366_239_149e-1,
    3.999_999_999_940_941_908e-1,
    6.666_666_666_666_735_130e-1,
];

/// Natural logarithm of a positive number (0 gives -inf, +inf gives +inf, negative or NaN
/// gives NaN). Writes x = 2^k m with m in [sqrt(1/2), sqrt(2)), f = m - 1, s = f / (2 + f) and
/// uses ln(1 + f) = f - s (f - R(s^2)) as in fdlibm's `log`.
#[inline(always)]
pub fn ln<A: Arith>(x: f64) -> f64 {
    let subnormal = x < f64::MIN_POSITIVE;
    let xs = if subnormal {
        x * 18_014_398_509_481_984.0
    } else {
        x
    }; // * 2^54
    let bits = xs.to_bits();
    let ix = bits.wrapping_sub(SQRT_HALF_BITS);
    // Biased exponent of x / sqrt(1/2) plus 2048, computed without signed shifts.
    let kb = ix.wrapping_add(1u64 << 63) >> 52;
    let kf = f64::from_bits(0x4330_0000_0000_0000 | kb) - TWO52 - 2048.0
        + if subnormal { -54.0 } else { 0.0 };
    let m = f64::from_bits((ix & MANTISSA_MASK).wrapping_add(SQRT_HALF_BITS));
    let f = m - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    let r = z * poly::<A, 7>(&LOG_COEFF, z);
    let log1pf = f - s * (f - r);
    let y = A::mla(kf, LN2_HI, A::mla(kf, LN2_LO, log1pf));
    if x > 0.0 {
        if x == f64::INFINITY {
            f64::INFINITY
        } else {
            y
        }
    } else if x == 0.0 {
        f64::NEG_INFINITY
    } else {
        f64::NAN
    }
}

/// `(m, e + 2^52 + 1023)` with x = 2^e m, m in [1, 2), for a positive finite x (subnormals
/// included unless `NORMAL`, where the caller guarantees a normal x). The exponent comes with
/// an offset, exact in a double, that a difference of two of them cancels exactly.
#[inline(always)]
fn mantissa_exponent<const NORMAL: bool>(x: f64) -> (f64, f64) {
    let subnormal = !NORMAL && x < f64::MIN_POSITIVE;
    let xs = if subnormal {
        x * 18_014_398_509_481_984.0 // 2^54
    } else {
        x
    };
    let bits = xs.to_bits();
    let m = f64::from_bits((bits & MANTISSA_MASK) | 0x3ff0_0000_0000_0000);
    // The biased exponent plus 2^52 as a double, by placing it in the low mantissa bits (no
    // integer-to-float conversion).
    let offset = f64::from_bits(0x4330_0000_0000_0000 | (bits >> 52));
    (m, offset - if subnormal { 54.0 } else { 0.0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The logarithm alone: no drift.
    fn ln_ratio<A: Arith>(s: f64, k: f64) -> f64 {
        COEFFS.ln_ratio_plus::<A>(s, k, 0.0)
    }

    fn ulps(a: f64, b: f64) -> f64 {
        if a == b {
            return 0.0;
        }
        ((a - b) / (b.abs() * f64::EPSILON)).abs()
    }

    fn lcg(seed: &mut u64) -> f64 {
        *seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (*seed >> 11) as f64 / (1u64 << 53) as f64
    }

    #[test]
    fn exp_matches_libm_to_two_ulps() {
        let mut seed = 1u64;
        for _ in 0..200_000 {
            let x = -708.0 + 1417.0 * lcg(&mut seed);
            for v in [
                exp::<Plain>(x),
                exp::<Fused>(x),
                COEFFS.exp_discount::<Plain>(x),
                COEFFS.exp_discount::<Fused>(x),
            ] {
                assert!(ulps(v, x.exp()) <= 2.0, "x={x} got={v} want={}", x.exp());
            }
        }
    }

    #[test]
    fn exp_small_is_exp_discount_where_it_applies() {
        let mut seed = 3u64;
        for _ in 0..200_000 {
            let x = EXP_SMALL_MAX * (2.0 * lcg(&mut seed) - 1.0);
            assert_eq!(
                exp_small::<Plain>(x).to_bits(),
                COEFFS.exp_discount::<Plain>(x).to_bits(),
                "x={x}"
            );
            assert_eq!(
                exp_small::<Fused>(x).to_bits(),
                COEFFS.exp_discount::<Fused>(x).to_bits(),
                "x={x}"
            );
        }
        for x in [EXP_SMALL_MAX, -EXP_SMALL_MAX, 0.0, -0.0, 1e-300] {
            assert_eq!(
                exp_small::<Fused>(x).to_bits(),
                COEFFS.exp_discount::<Fused>(x).to_bits(),
                "x={x}"
            );
        }
    }

    #[test]
    fn ln_ratio_matches_the_log_of_the_ratio() {
        let mut seed = 11u64;
        for _ in 0..200_000 {
            let s = 2f64.powf(-1070.0 + 2090.0 * lcg(&mut seed));
            let k = 2f64.powf(-1070.0 + 2090.0 * lcg(&mut seed));
            // Reference: the log of the rounded quotient where that is a normal number (its
            // rounding moves the log by at most 1.2e-16), else the difference of the logs.
            let q = s / k;
            let (want, tol) = if q.is_normal() {
                (q.ln(), 2.5e-16 + 2.3e-16 * q.ln().abs())
            } else {
                (s.ln() - k.ln(), 2.3e-16 * (s.ln().abs() + k.ln().abs()))
            };
            for v in [ln_ratio::<Plain>(s, k), ln_ratio::<Fused>(s, k)] {
                assert!(
                    (v - want).abs() <= tol,
                    "s={s:e} k={k:e} got={v} want={want}"
                );
            }
        }
        // Near the money: against the exactly computed log1p of the small relative gap.
        for i in 1..20_000 {
            let k = 100.0;
            let s = k * (1.0 + (i as f64 - 10_000.0) * 1e-9);
            let gap = (s - k) / k; // exact: s and k are close
            let want = gap.ln_1p();
            for v in [ln_ratio::<Plain>(s, k), ln_ratio::<Fused>(s, k)] {
                assert!(ulps(v, want) <= 2.0, "s={s} got={v} want={want}");
            }
        }
        assert_eq!(ln_ratio::<Fused>(3.0, 3.0), 0.0);
        assert_eq!(
            ln_ratio::<Fused>(f64::MAX, 5e-324),
            f64::MAX.ln() - 5e-324f64.ln()
        );
    }

    /// The drift joins the logarithm with at most two roundings more than the logarithm alone
    /// (the rounded drift and the final sum), and the fast (normal-number) form gives the same
    /// bits as the general one.
    #[test]
    fn ln_ratio_plus_adds_the_drift_accurately() {
        let mut seed = 13u64;
        for _ in 0..200_000 {
            let s = 100.0 * (0.4 * (lcg(&mut seed) - 0.5)).exp();
            let k = 50.0 + 100.0 * lcg(&mut seed);
            let drift = (lcg(&mut seed) - 0.3) * 0.2 * (2.0 * lcg(&mut seed));
            let ln = ln_ratio::<Fused>(s, k);
            for v in [
                COEFFS.ln_ratio_plus::<Plain>(s, k, drift),
                COEFFS.ln_ratio_plus::<Fused>(s, k, drift),
            ] {
                // |ln + drift| can be far below either term (the forward at the money): the
                // bound is on the terms' scale, as any sum of them has it.
                let scale = ln.abs() + drift.abs();
                assert!(
                    (v - (ln + drift)).abs() <= 4.5e-16 * scale,
                    "s={s} k={k} drift={drift:e}: {v} against {}",
                    ln + drift
                );
            }
            let fast = COEFFS.ln_ratio_plus_normal::<Fused>(s, k, drift);
            assert_eq!(
                fast.to_bits(),
                COEFFS.ln_ratio_plus::<Fused>(s, k, drift).to_bits()
            );
        }
    }

    #[test]
    fn exp_special_values() {
        assert_eq!(exp::<Plain>(0.0), 1.0);
        assert_eq!(exp::<Plain>(-800.0), 0.0);
        assert_eq!(exp::<Plain>(800.0), f64::INFINITY);
        assert!(exp::<Plain>(f64::NAN).is_nan());
        // Subnormal results are scaled correctly.
        let x = -740.0;
        assert!((exp::<Plain>(x) - x.exp()).abs() <= 1e-323);
    }

    #[test]
    fn exp_neg_half_square_is_accurate_in_tails() {
        for i in 0..3900 {
            let x = i as f64 * 0.0095; // up to 37: results stay normal numbers
            let want = (-0.5 * x * x).exp();
            // Reference through a better split: exp(-x^2/2) with exact square.
            let got = exp_neg_half_square::<Plain>(x);
            // libm on a rounded x*x loses up to x^2/2 ulps; compare loosely to libm and tightly
            // to the identity exp(-a-b) = exp(-a) exp(-b).
            let h = x / 2.0;
            let alt = (-(h * h)).exp().powi(2);
            let tol = 4.0 + 0.5 * x * x;
            assert!(ulps(got, want) <= tol.max(2.0), "x={x}");
            assert!(ulps(got, alt) <= tol.max(2.0), "x={x}");
        }
        // Down to underflow and past it (the exponent takes no clamp up to |x| = 50).
        for i in 0..=1200 {
            let x = 37.0 + i as f64 * 0.01;
            for v in [
                exp_neg_half_square::<Plain>(x),
                exp_neg_half_square::<Fused>(-x),
            ] {
                let want = (-0.5 * x * x).exp();
                // libm on the rounded x * x: up to x^2/2 ulps off; subnormals: a few units.
                let tol = 1e-322 + (4.0 + 0.5 * x * x) * f64::EPSILON * want;
                assert!(
                    v >= 0.0 && (v - want).abs() <= tol,
                    "x={x} got={v:e} want={want:e}"
                );
                if x > 38.7 {
                    assert_eq!(v, 0.0, "x={x}");
                }
            }
        }
    }

    #[test]
    fn ln_matches_libm_to_one_ulp() {
        let mut seed = 7u64;
        for _ in 0..200_000 {
            let e = -700.0 + 1400.0 * lcg(&mut seed);
            let x = 2f64.powf(e) * (1.0 + lcg(&mut seed));
            for v in [ln::<Plain>(x), ln::<Fused>(x)] {
                let want = x.ln();
                assert!(
                    ulps(v, want) <= 1.0 || (v - want).abs() < 1e-300,
                    "x={x} got={v} want={want}"
                );
            }
        }
        for x in [
            0.5f64,
            0.75,
            1.0,
            1.0 + 1e-12,
            1.414_3,
            2.0,
            3.0,
            1e-310,
            5e-324,
        ] {
            let want = x.ln();
            assert!(ulps(ln::<Plain>(x), want) <= 1.0, "x={x}");
        }
        assert_eq!(ln::<Plain>(1.0), 0.0);
        assert_eq!(ln::<Plain>(0.0), f64::NEG_INFINITY);
        assert_eq!(ln::<Plain>(f64::INFINITY), f64::INFINITY);
        assert!(ln::<Plain>(-1.0).is_nan());
        assert!(ln::<Plain>(f64::NAN).is_nan());
    }
}

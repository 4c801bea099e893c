//! Bjerksund & Stensland (2002), "Closed form valuation of American options" (discussion
//! paper, NHH): the value of the exercise strategy with a flat trigger `I2` on `[0, t1]` and a
//! flat trigger `I1 <= I2` on `[t1, T]`, `t1 = (sqrt 5 - 1)/2 * T`, which is a lower bound of
//! the American value and, with their trigger levels, a close approximation. Notation and
//! formulas as in Haug, "The Complete Guide to Option Pricing Formulas" (2nd ed.), ch. 3.
//!
//! Calls are valued directly; puts through the Bjerksund–Stensland put–call transformation
//! `P(S, K, T, r, b, vol) = C(K, S, T, r - b, -b, vol)`, which is [`Contract::symmetric`].
//!
//! Numerics:
//! * every power `(I/S)^kappa`, `S^beta` and exponential is folded into one exponent per
//!   term and, where a normal CDF multiplies it, evaluated as `exp(f) Phi(z)` through the
//!   erfcx form of the tail (no `inf * 0` when vol is small and `kappa` huge);
//! * the bivariate normal CDF needed by psi always has correlation `+-sqrt(t1/T)`, a constant
//!   (`0.7862`), so its Gauss–Legendre nodes in Genz's (2004) sine substitution are constants
//!   here; 12 nodes give an absolute error below 1.1e-15 for that correlation (checked against
//!   40-digit quadrature);
//! * the terms are batched in fixed-size arrays and the kernel is compiled for AVX2/AVX-512
//!   as well (picked at run time, see [`crate::dispatch`]), so the exponentials vectorise;
//! * the sum of the terms' magnitudes is tracked; where cancellation would cost more than about
//!   1e-12 of the strike (tiny vol with a large carry), or the value falls outside
//!   `[0, S]`, the one-step (1993) value is used instead.
//!
//! [`price_1993`] is the one-step flat-boundary version, Bjerksund & Stensland (1993),
//! "Closed-form approximation of American options", Scand. J. Management 9, S87–S99: the
//! engine QuantLib calls `BjerksundStenslandApproximationEngine`.

use super::Contract;
use crate::dispatch::multiversion;
use crate::fastmath::{exp, ln, Arith};
use crate::normal::{cdf, tail};

/// `t1 / T = (sqrt 5 - 1) / 2`, the golden-section split of Bjerksund & Stensland (2002).
const SPLIT: f64 = 0.618_033_988_749_894_9;

/// Above this ratio of the terms' summed magnitudes to `S + K` the two-step sum is deemed to
/// have cancelled too much (error about ratio * 1e-16) and the one-step value is used.
const MAX_CANCELLATION: f64 = 1e4;

/// Bjerksund & Stensland (2002) price of an American option.
///
/// Returns at least `max(European, intrinsic)`, and the European value where early exercise
/// is never optimal ([`Contract::never_exercised`]) or where there are two exercise
/// boundaries (calls with `rate < div < 0`, puts with `div < rate < 0`; there it is only a
/// lower bound). This is Haug's rule "European if `b >= r`" for calls, except at `b = r < 0`
/// (no dividend, negative rate) where early exercise does pay.
pub fn price(c: &Contract) -> f64 {
    let floor = c.european().max(c.intrinsic());
    let Some(k) = call_side(c) else {
        return floor;
    };
    let b = k.rate - k.div;
    let (v, magnitude) = two_step(k.spot, k.strike, k.expiry, k.rate, b, k.vol);
    // The two-step value must lie in [0, S] up to its own rounding (about 1e-12 (S + K) at
    // the cancellation limit, e.g. on deep out-of-the-money contracts worth nothing).
    let slack = 1e-10 * (k.spot + k.strike);
    let reliable = v.is_finite()
        && v >= -slack
        && v <= k.spot + slack
        && magnitude <= MAX_CANCELLATION * (k.spot + k.strike);
    let v = if reliable {
        v
    } else {
        one_step(k.spot, k.strike, k.expiry, k.rate, b, k.vol)
    };
    v.max(floor)
}

/// Bjerksund & Stensland (1993) one-step (flat trigger) price of an American option, the
/// approximation QuantLib's `BjerksundStenslandApproximationEngine` implements. Same
/// conventions and floor as [`price`].
pub fn price_1993(c: &Contract) -> f64 {
    let floor = c.european().max(c.intrinsic());
    let Some(k) = call_side(c) else {
        return floor;
    };
    let b = k.rate - k.div;
    one_step(k.spot, k.strike, k.expiry, k.rate, b, k.vol).max(floor)
}

/// The call with the same value (the contract itself, or the transformed put), or `None`
/// where the European value is returned: a call-side `div < 0` (`b > r`), where early exercise
/// either never pays (`div <= rate`) or has two boundaries (`rate < div < 0`, beyond a single
/// trigger), and any other contract never exercised early. At `div = 0 > rate` (`b = r < 0`)
/// early exercise pays and the formula holds while `beta > 1`.
#[inline]
fn call_side(c: &Contract) -> Option<Contract> {
    let k = if c.is_call() { *c } else { c.symmetric() };
    if k.div < 0.0 || k.never_exercised() {
        None
    } else {
        Some(k)
    }
}

multiversion! {
    /// Two-step call value and the summed magnitude of its terms.
    fn two_step(s: f64, x: f64, t: f64, r: f64, b: f64, v: f64) -> (f64, f64) => two_step_body
}

multiversion! {
    /// One-step call value.
    fn one_step(s: f64, x: f64, t: f64, r: f64, b: f64, v: f64) -> f64 => one_step_body
}

/// The exponent of the perpetual call, the larger root of
/// `vol^2/2 beta (beta - 1) + b beta - r = 0`, without cancellation: above 1 when `b < r`; at
/// `b = r < 0` it is `max(1, -2r/vol^2)`.
#[inline(always)]
fn beta(r: f64, b: f64, v2: f64) -> f64 {
    let m = 0.5 - b / v2;
    let disc = (m * m + 2.0 * r / v2).sqrt();
    if m >= 0.0 {
        m + disc
    } else {
        // The roots multiply to -2r/vol^2; the other root m - disc does not cancel.
        2.0 * r / v2 / (disc - m)
    }
}

/// `B0 = max(K, r/(r-b) K)` and `B_inf = beta/(beta-1) K`, the trigger's limits at expiry and
/// for an infinite maturity.
#[inline(always)]
fn trigger_limits(x: f64, r: f64, b: f64, beta: f64) -> (f64, f64) {
    let b0 = x * (r / (r - b)).max(1.0);
    let binf = beta / (beta - 1.0) * x;
    (b0, binf)
}

/// `B0 + (B_inf - B0)(1 - e^h)`, kept in `[lo, B_inf]` (NaN-safe): any trigger at or above
/// the strike is a feasible strategy, so clamping keeps the value a lower bound.
#[inline(always)]
fn trigger(b0: f64, binf: f64, h: f64, lo: f64) -> f64 {
    let diff = binf - b0;
    let i = if diff > 0.0 {
        b0 - diff * h.exp_m1()
    } else {
        b0
    };
    if i >= lo {
        i.min(binf.max(lo))
    } else {
        lo
    }
}

/// `exp(f) * Phi(z)` without overflow in `exp(f)` when `Phi(z)` is tiny: the lower tail is
/// taken as `g erfcx(|z|/sqrt 2)` with `g = exp(f - z^2/2)/2`.
#[inline(always)]
fn exp_ncdf<A: Arith>(f: f64, z: f64) -> f64 {
    let u = z.abs();
    let ef = exp::<A>(f);
    let g = 0.5 * exp::<A>(A::mla(-0.5 * u, u, f));
    let lower = tail::<A>(u, g); // exp(f) Phi(-u)
    if z < 0.0 {
        lower
    } else {
        ef - lower
    }
}

/// Per exponent gamma in {beta, 1, 0}: drift of log S under the gamma-measure
/// `mu = b + (gamma - 1/2) vol^2`, `kappa = 2 mu / vol^2` and the rate
/// `lambda = -r + gamma b + gamma (gamma - 1) vol^2 / 2` (zero for beta by its definition).
struct Gammas {
    mu: [f64; 3],
    kappa: [f64; 3],
    lambda: [f64; 3],
}

const G_BETA: usize = 0;
const G_ONE: usize = 1;
const G_ZERO: usize = 2;

#[inline(always)]
fn gammas(r: f64, b: f64, v2: f64, beta: f64) -> Gammas {
    let gam = [beta, 1.0, 0.0];
    let mu = gam.map(|g| b + (g - 0.5) * v2);
    Gammas {
        mu,
        kappa: mu.map(|m| 2.0 * m / v2),
        lambda: [0.0, b - r, -r],
    }
}

/// Univariate terms `coef * exp(f) * Phi(z)`, summed with their magnitudes.
#[inline(always)]
fn sum_univariate<A: Arith, const N: usize>(
    coef: &[f64; N],
    f: &[f64; N],
    z: &[f64; N],
) -> (f64, f64) {
    let mut val = [0.0; N];
    for j in 0..N {
        val[j] = coef[j] * exp_ncdf::<A>(f[j], z[j]);
    }
    let (mut sum, mut mag) = (0.0, 0.0);
    for v in val {
        sum += v;
        mag += v.abs();
    }
    (sum, mag)
}

/// The two terms of `phi(S, t, gamma, H, I)` (Bjerksund & Stensland 1993) times
/// `coef * exp(f0)`, with `S^gamma exp(lambda t)` folded into `coef` and `f0` by the caller:
/// `Phi(-d) - (I/S)^kappa Phi(-d - 2 ln(I/S)/(vol sqrt t))`,
/// `d = (ln(S/H) + mu t)/(vol sqrt t)`. Writes entries `j` and `j + 1`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn phi_terms<const N: usize>(
    out: (&mut [f64; N], &mut [f64; N], &mut [f64; N]),
    j: usize,
    coef: f64,
    f0: f64,
    ln_s_over_h: f64,
    ln_i_over_s: f64,
    mu_t: f64,
    kappa: f64,
    sd: f64,
) {
    let (c, f, z) = out;
    let d = (ln_s_over_h + mu_t) / sd;
    c[j] = coef;
    f[j] = f0;
    z[j] = -d;
    c[j + 1] = -coef;
    f[j + 1] = f0 + kappa * ln_i_over_s;
    z[j + 1] = -d - 2.0 * ln_i_over_s / sd;
}

#[inline(always)]
fn one_step_body<A: Arith>(s: f64, x: f64, t: f64, r: f64, b: f64, v: f64) -> f64 {
    let v2 = v * v;
    let beta = beta(r, b, v2);
    if beta.is_nan() || beta <= 1.0 {
        // No finite perpetual trigger (b = r < 0 with vol^2 >= -2r): the caller's floor.
        return f64::NAN;
    }
    let (b0, binf) = trigger_limits(x, r, b, beta);
    let sd = v * t.sqrt();
    // Bjerksund & Stensland (1993): h(T) = -(b T + 2 vol sqrt T) B0 / (B_inf - B0).
    let h = -(b * t + 2.0 * sd) * b0 / (binf - b0);
    let i = trigger(b0, binf, h, x);
    if s >= i {
        return s - x;
    }
    let g = gammas(r, b, v2, beta);
    let (ls, lx, li) = (ln::<A>(s), ln::<A>(x), ln::<A>(i));
    let l_is = li - ls;
    // alpha S^beta with alpha = (I - K) I^-beta.
    let f_alpha = beta * (ls - li);
    let lead = (i - x) * exp::<A>(f_alpha);
    // C = alpha S^b - alpha phi(b, I) + phi(1, I) - phi(1, K) - K phi(0, I) + K phi(0, K).
    let (mut c, mut f, mut z) = ([0.0; 10], [0.0; 10], [0.0; 10]);
    let terms = [
        (-(i - x), f_alpha, G_BETA, ls - li),
        (s, g.lambda[G_ONE] * t, G_ONE, ls - li),
        (-s, g.lambda[G_ONE] * t, G_ONE, ls - lx),
        (-x, g.lambda[G_ZERO] * t, G_ZERO, ls - li),
        (x, g.lambda[G_ZERO] * t, G_ZERO, ls - lx),
    ];
    for (n, &(coef, f0, gi, lsh)) in terms.iter().enumerate() {
        phi_terms(
            (&mut c, &mut f, &mut z),
            2 * n,
            coef,
            f0,
            lsh,
            l_is,
            g.mu[gi] * t,
            g.kappa[gi],
            sd,
        );
    }
    lead + sum_univariate::<A, 10>(&c, &f, &z).0
}

#[inline(always)]
fn two_step_body<A: Arith>(s: f64, x: f64, t: f64, r: f64, b: f64, v: f64) -> (f64, f64) {
    let v2 = v * v;
    let beta = beta(r, b, v2);
    if beta.is_nan() || beta <= 1.0 {
        // No finite perpetual trigger (b = r < 0 with vol^2 >= -2r): the caller's floor.
        return (f64::NAN, f64::NAN);
    }
    let (b0, binf) = trigger_limits(x, r, b, beta);
    let t1 = SPLIT * t;
    let (sd1, sd) = (v * t1.sqrt(), v * t.sqrt());
    // Bjerksund & Stensland (2002): h(t) = -(b t + 2 vol sqrt t) K^2 / ((B_inf - B0) B0).
    let scale = x * x / ((binf - b0) * b0);
    let i2 = trigger(b0, binf, -(b * t + 2.0 * sd) * scale, x);
    let i1 = trigger(b0, binf, -(b * t1 + 2.0 * sd1) * scale, x).min(i2);
    if s >= i2 {
        return (s - x, 0.0);
    }
    let g = gammas(r, b, v2, beta);
    let (ls, lx, l1, l2) = (ln::<A>(s), ln::<A>(x), ln::<A>(i1), ln::<A>(i2));

    // alpha2 S^beta, alpha_k = (I_k - K) I_k^-beta.
    let lead = (i2 - x) * exp::<A>(beta * (ls - l2));

    // phi terms over [0, t1] with trigger I2:
    // -alpha2 phi(b, I2) + phi(1, I2) - phi(1, I1) - K phi(0, I2) + K phi(0, I1) + alpha1 phi(b, I1).
    let (mut c, mut f, mut z) = ([0.0; 12], [0.0; 12], [0.0; 12]);
    let f_a1 = beta * (ls - l1);
    let phis = [
        (-(i2 - x), beta * (ls - l2), G_BETA, ls - l2),
        (s, g.lambda[G_ONE] * t1, G_ONE, ls - l2),
        (-s, g.lambda[G_ONE] * t1, G_ONE, ls - l1),
        (-x, g.lambda[G_ZERO] * t1, G_ZERO, ls - l2),
        (x, g.lambda[G_ZERO] * t1, G_ZERO, ls - l1),
        (i1 - x, f_a1, G_BETA, ls - l1),
    ];
    for (n, &(coef, f0, gi, lsh)) in phis.iter().enumerate() {
        phi_terms(
            (&mut c, &mut f, &mut z),
            2 * n,
            coef,
            f0,
            lsh,
            l2 - ls,
            g.mu[gi] * t1,
            g.kappa[gi],
            sd1,
        );
    }
    let (uni, uni_mag) = sum_univariate::<A, 12>(&c, &f, &z);

    // psi terms over [0, T]:
    // -alpha1 psi(b, I1) + psi(1, I1) - psi(1, K) - K psi(0, I1) + K psi(0, K), each
    // psi = e^{lambda T} S^gamma [M(-e1,-f1; rho) - (I2/S)^kappa M(-e2,-f2; rho)
    //        - (I1/S)^kappa M(-e3,-f3; -rho) + (I1/I2)^kappa M(-e4,-f4; -rho)].
    let psis = [
        (-(i1 - x), f_a1, G_BETA, l1),
        (s, g.lambda[G_ONE] * t, G_ONE, l1),
        (-s, g.lambda[G_ONE] * t, G_ONE, lx),
        (-x, g.lambda[G_ZERO] * t, G_ZERO, l1),
        (x, g.lambda[G_ZERO] * t, G_ZERO, lx),
    ];
    let mut bv = BvnBatch::<20>::default();
    for (n, &(coef, f0, gi, lh)) in psis.iter().enumerate() {
        let (mu1, mu) = (g.mu[gi] * t1, g.mu[gi] * t);
        let kappa = g.kappa[gi];
        let e1 = (ls - l1 + mu1) / sd1;
        let e2 = (2.0 * l2 - ls - l1 + mu1) / sd1;
        let e3 = (ls - l1 - mu1) / sd1;
        let e4 = (2.0 * l2 - ls - l1 - mu1) / sd1;
        let f1 = (ls - lh + mu) / sd;
        let f2 = (2.0 * l2 - ls - lh + mu) / sd;
        let f3 = (2.0 * l1 - ls - lh + mu) / sd;
        let f4 = (ls + 2.0 * l1 - lh - 2.0 * l2 + mu) / sd;
        let j = 4 * n;
        bv.set(j, coef, f0, -e1, -f1, 1.0);
        bv.set(j + 1, -coef, f0 + kappa * (l2 - ls), -e2, -f2, 1.0);
        bv.set(j + 2, -coef, f0 + kappa * (l1 - ls), -e3, -f3, -1.0);
        bv.set(j + 3, coef, f0 + kappa * (l1 - l2), -e4, -f4, -1.0);
    }
    let (biv, biv_mag) = bv.sum::<A>();
    (lead + uni + biv, lead.abs() + uni_mag + biv_mag)
}

/// Gauss–Legendre rule with 12 nodes mapped by Genz's sine substitution to correlation
/// `tau = sqrt((sqrt 5 - 1)/2)`: node `theta_i = asin(tau) (1 + x_i) / 2`, `s_i = sin theta_i`.
/// `C[i] = 1/(1 - s_i^2)`, `SC[i] = s_i C[i]`, `W[i] = w_i asin(tau) / (4 pi)`; correlation
/// `-tau` has nodes `-s_i` and weights `-W[i]`. Computed in 40-digit arithmetic; a unit test
/// recomputes them.
const BV_C: [f64; 12] = [
    1.000069554283293,
    1.0018829440427828,
    1.0109088389057845,
    1.035662528392071,
    1.0864187718742007,
    1.1744407231873863,
    1.311297165616043,
    1.5067431152913142,
    1.762786339678793,
    2.0622314586435624,
    2.3557298036840755,
    2.5635367976546175,
];
const BV_SC: [f64; 12] = [
    0.008340211093927906,
    0.04343373712969139,
    0.10501353089986487,
    0.19218310103488917,
    0.3064098170856243,
    0.45262599250763835,
    0.6389077327256457,
    0.8738030099435803,
    1.1595815364515614,
    1.480056461887719,
    1.7871018729443873,
    2.002044983329464,
];
const BV_W: [f64; 12] = [
    0.003395791599580272,
    0.007697744047957803,
    0.011522814355548883,
    0.014624468924227642,
    0.016807341608449777,
    0.017934189982274168,
    0.017934189982274168,
    0.016807341608449777,
    0.014624468924227642,
    0.011522814355548883,
    0.007697744047957803,
    0.003395791599580272,
];

/// A batch of terms `coef * exp(f) * M(a, b; sign * tau)`, M the bivariate normal CDF.
///
/// Plackett's identity in Genz's (2004) form: `M(a, b; rho) = Phi(a) Phi(b) +
/// 1/(2 pi) int_0^{asin rho} exp(-(a^2 + b^2 - 2ab sin t)/(2 cos^2 t)) dt`. The exponent
/// `f` goes inside the integrand and the product of CDFs goes through [`exp_ncdf`], so no
/// factor overflows on its own.
struct BvnBatch<const N: usize> {
    coef: [f64; N],
    f: [f64; N],
    a: [f64; N],
    b: [f64; N],
    sign: [f64; N],
}

impl<const N: usize> Default for BvnBatch<N> {
    fn default() -> Self {
        BvnBatch {
            coef: [0.0; N],
            f: [0.0; N],
            a: [0.0; N],
            b: [0.0; N],
            sign: [1.0; N],
        }
    }
}

impl<const N: usize> BvnBatch<N> {
    #[inline(always)]
    fn set(&mut self, j: usize, coef: f64, f: f64, a: f64, b: f64, sign: f64) {
        self.coef[j] = coef;
        self.f[j] = f;
        self.a[j] = a;
        self.b[j] = b;
        self.sign[j] = sign;
    }

    /// Each `exp(f) M(a, b; sign tau)` and the magnitude of its two parts (before any
    /// cancellation between them).
    #[inline(always)]
    fn eval<A: Arith>(&self) -> ([f64; N], [f64; N]) {
        let mut p = [0.0; N];
        let mut hs = [0.0; N];
        let mut prod = [0.0; N];
        for j in 0..N {
            let (a, b) = (self.a[j], self.b[j]);
            p[j] = self.sign[j] * a * b;
            hs[j] = 0.5 * A::mla(a, a, b * b);
            prod[j] = exp_ncdf::<A>(self.f[j], a.min(b)) * cdf::<A>(a.max(b));
        }
        let mut quad = [0.0; N];
        for i in 0..BV_C.len() {
            let (c, sc, w) = (BV_C[i], BV_SC[i], BV_W[i]);
            for j in 0..N {
                let e = A::mla(p[j], sc, A::mla(-hs[j], c, self.f[j]));
                quad[j] = A::mla(w, exp::<A>(e), quad[j]);
            }
        }
        let mut val = [0.0; N];
        let mut mag = [0.0; N];
        for j in 0..N {
            val[j] = A::mla(self.sign[j], quad[j], prod[j]);
            mag[j] = prod[j] + quad[j];
        }
        (val, mag)
    }

    /// The sum of `coef * exp(f) * M` and of the magnitudes.
    #[inline(always)]
    fn sum<A: Arith>(&self) -> (f64, f64) {
        let (val, mag) = self.eval::<A>();
        let (mut sum, mut m) = (0.0, 0.0);
        for j in 0..N {
            sum = A::mla(self.coef[j], val[j], sum);
            m += (self.coef[j] * mag[j]).abs();
        }
        (sum, m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::american::ncdf;
    use crate::fastmath::Plain;
    use std::f64::consts::PI;

    // Gauss–Legendre nodes (negative half) and weights, 6, 12 and 20 points.
    const X6: [f64; 3] = [-0.932469514203152, -0.6612093864662645, -0.2386191860831969];
    const W6: [f64; 3] = [0.17132449237917036, 0.3607615730481386, 0.46791393457269104];
    const X12: [f64; 6] = [
        -0.9815606342467192,
        -0.9041172563704749,
        -0.7699026741943047,
        -0.5873179542866175,
        -0.3678314989981802,
        -0.1252334085114689,
    ];
    const W12: [f64; 6] = [
        0.04717533638651183,
        0.10693932599531843,
        0.16007832854334622,
        0.20316742672306592,
        0.2334925365383548,
        0.24914704581340277,
    ];
    const X20: [f64; 10] = [
        -0.9931285991850949,
        -0.9639719272779138,
        -0.912234428251326,
        -0.8391169718222188,
        -0.7463319064601508,
        -0.636053680726515,
        -0.5108670019508271,
        -0.37370608871541955,
        -0.22778585114164507,
        -0.07652652113349734,
    ];
    const W20: [f64; 10] = [
        0.017614007139152118,
        0.04060142980038694,
        0.06267204833410907,
        0.08327674157670475,
        0.10193011981724044,
        0.11819453196151841,
        0.13168863844917664,
        0.14209610931838204,
        0.14917298647260374,
        0.15275338713072584,
    ];

    /// Bivariate normal CDF `P(X < a, Y < b)` with correlation `rho`, any `rho` in [-1, 1]:
    /// A. Genz (2004), "Numerical computation of rectangular bivariate and trivariate normal
    /// and t probabilities", Statistics and Computing 14, 251–260 (Drezner & Wesolowsky's
    /// method with 6/12/20-point Gauss–Legendre rules; absolute error about 1e-15). The
    /// reference for the fixed-correlation kernel the pricer uses.
    fn bvn(a: f64, b: f64, rho: f64) -> f64 {
        let h = -a;
        let mut k = -b;
        let mut hk = h * k;
        let (xs, ws): (&[f64], &[f64]) = if rho.abs() < 0.3 {
            (&X6, &W6)
        } else if rho.abs() < 0.75 {
            (&X12, &W12)
        } else {
            (&X20, &W20)
        };
        if rho.abs() < 0.925 {
            let hs = 0.5 * (h * h + k * k);
            let asr = rho.asin();
            let mut sum = 0.0;
            for (&x, &w) in xs.iter().zip(ws) {
                for side in [-1.0, 1.0] {
                    let sn = (0.5 * asr * (side * x + 1.0)).sin();
                    sum += w * ((sn * hk - hs) / (1.0 - sn * sn)).exp();
                }
            }
            return sum * asr / (4.0 * PI) + ncdf(-h) * ncdf(-k);
        }
        // |rho| near 1: expansion about rho = +-1 (Drezner & Wesolowsky 1990, Genz 2004).
        if rho < 0.0 {
            k = -k;
            hk = -hk;
        }
        let mut bv = 0.0;
        if rho.abs() < 1.0 {
            let as_ = (1.0 - rho) * (1.0 + rho);
            let mut a_ = as_.sqrt();
            let bs = (h - k) * (h - k);
            let c = (4.0 - hk) / 8.0;
            let d = (12.0 - hk) / 16.0;
            let asr = -0.5 * (bs / as_ + hk);
            if asr > -100.0 {
                bv = a_
                    * asr.exp()
                    * (1.0 - c * (bs - as_) * (1.0 - d * bs / 5.0) / 3.0 + c * d * as_ * as_ / 5.0);
            }
            if hk > -100.0 {
                let bb = bs.sqrt();
                bv -= (-0.5 * hk).exp()
                    * (2.0 * PI).sqrt()
                    * ncdf(-bb / a_)
                    * bb
                    * (1.0 - c * bs * (1.0 - d * bs / 5.0) / 3.0);
            }
            a_ *= 0.5;
            for (&x, &w) in xs.iter().zip(ws) {
                for side in [-1.0, 1.0] {
                    let xs2 = (a_ * (side * x + 1.0)).powi(2);
                    let rs = (1.0 - xs2).sqrt();
                    let asr = -0.5 * (bs / xs2 + hk);
                    if asr > -100.0 {
                        bv += a_
                            * w
                            * asr.exp()
                            * ((-hk * (1.0 - rs) / (2.0 * (1.0 + rs))).exp() / rs
                                - (1.0 + c * xs2 * (1.0 + d * xs2)));
                    }
                }
            }
            bv = -bv / (2.0 * PI);
        }
        if rho > 0.0 {
            bv + ncdf(-h.max(k))
        } else {
            bv = -bv;
            if k > h {
                bv += if h < 0.0 {
                    ncdf(k) - ncdf(h)
                } else {
                    ncdf(-h) - ncdf(-k)
                };
            }
            bv
        }
    }

    /// The pricer's kernel on one point: `M(a, b; sign tau)`.
    fn bvn_tau(a: f64, b: f64, sign: f64) -> f64 {
        let mut bv = BvnBatch::<1>::default();
        bv.set(0, 1.0, 0.0, a, b, sign);
        bv.eval::<Plain>().0[0]
    }

    fn tau() -> f64 {
        SPLIT.sqrt()
    }

    #[test]
    fn bvn_at_origin_is_sheppard() {
        // M(0, 0; rho) = 1/4 + asin(rho)/(2 pi) (Sheppard 1899).
        for rho in [
            -0.999f64, -0.95, -0.9, -0.786, -0.5, -0.2, 0.0, 0.1, 0.4, 0.7, 0.8, 0.93, 0.99,
        ] {
            let want = 0.25 + rho.asin() / (2.0 * PI);
            assert!((bvn(0.0, 0.0, rho) - want).abs() < 1e-15, "rho={rho}");
        }
        for sign in [-1.0, 1.0] {
            let want = 0.25 + (sign * tau()).asin() / (2.0 * PI);
            assert!((bvn_tau(0.0, 0.0, sign) - want).abs() < 1e-15);
        }
    }

    #[test]
    #[allow(clippy::excessive_precision)] // reference values kept as computed
    fn bvn_reference_values() {
        // (a, b, rho, M) with M from 40-digit adaptive quadrature of
        // int_{-inf}^a phi(x) Phi((b - rho x)/sqrt(1 - rho^2)) dx (mpmath).
        let cases = [
            (-0.5, 0.0, 0.0, 0.154_268_769_362_993_45),
            (0.0, -0.5, -0.5, 0.081_659_760_654_531_686),
            (1.0, -1.0, 0.5, 0.154_872_951_858_602_79),
            (-1.5, 1.5, 0.786, 0.066_807_076_152_545_877),
            (2.0, -0.3, -0.786, 0.359_533_005_451_518_91),
            (-2.0, -3.0, 0.95, 0.001_348_785_152_678_894_7),
            (0.3, -0.2, -0.95, 0.070_688_647_333_682_948),
            (1.2, 0.7, 0.99, 0.758_034_524_207_320_96),
            (-0.4, 0.6, -0.999, 0.070_325_153_164_543_329),
            (-5.0, -4.0, 0.3, 1.510_621_532_887_089_4e-9),
            (3.0, 2.5, -0.9, 0.992_440_436_642_593_77),
        ];
        for (a, b, rho, want) in cases {
            let got = bvn(a, b, rho);
            assert!(
                (got - want).abs() < 2e-15,
                "M({a},{b};{rho}) = {got}, want {want}"
            );
            // Symmetric in its arguments.
            assert!((bvn(b, a, rho) - got).abs() < 2e-15);
        }
        // Deep lower tail with negative correlation: tiny, and small in relative terms too.
        let got = bvn(-7.0, -6.5, -0.6);
        assert!(got.abs() < 1e-16, "{got}");
    }

    #[test]
    fn bvn_limits() {
        for a in [-3.0, -0.7, 0.0, 1.1, 2.5] {
            for rho in [-0.9, -0.3, 0.0, 0.5, 0.95] {
                // Independent-like limit in b: M(a, +big) = Phi(a), M(a, -big) = 0.
                assert!((bvn(a, 40.0, rho) - ncdf(a)).abs() < 1e-15);
                assert!(bvn(a, -40.0, rho).abs() < 1e-15);
            }
            for b in [-2.0, 0.3, 1.7] {
                assert!((bvn(a, b, 0.0) - ncdf(a) * ncdf(b)).abs() < 1e-15);
            }
        }
    }

    #[test]
    fn fixed_correlation_kernel_matches_genz() {
        let mut worst: f64 = 0.0;
        for i in 0..=60 {
            for j in 0..=60 {
                let a = -9.0 + 0.25 * i as f64;
                let b = -9.0 + 0.25 * j as f64;
                for sign in [-1.0, 1.0] {
                    let want = bvn(a, b, sign * tau());
                    worst = worst.max((bvn_tau(a, b, sign) - want).abs());
                }
            }
        }
        assert!(worst < 3e-15, "worst {worst}");
    }

    #[test]
    fn fixed_correlation_tables() {
        let asr = tau().asin();
        // BV_* run over all 12 nodes in ascending order; X12 holds the negative half.
        for (n, (&x, &w)) in X12.iter().zip(&W12).enumerate() {
            for (i, xi) in [(n, x), (11 - n, -x)] {
                let s = (0.5 * asr * (1.0 + xi)).sin();
                let c = 1.0 / (1.0 - s * s);
                assert!((BV_C[i] - c).abs() < 4e-16 * c, "C[{i}]");
                assert!((BV_SC[i] - s * c).abs() < 4e-16 * c, "SC[{i}]");
                let ww = w * asr / (4.0 * PI);
                assert!((BV_W[i] - ww).abs() < 4e-16 * ww, "W[{i}]");
            }
        }
    }

    #[test]
    fn raw_one_step_matches_quantlib_at_huge_vol() {
        // QuantLib's table: put K = 100, S = 110, r = q = 5%, T = 1, vol = 1000% -> 94.89543,
        // the unfloored 1993 formula value (below the European 95.1229, so `price_1993`
        // returns the European value). On the call side: S = 100, K = 110, r = 5%, b = 0.
        let v = one_step_body::<Plain>(100.0, 110.0, 1.0, 0.05, 0.0, 10.0);
        assert!((v - 94.89543).abs() < 5e-5, "{v}");
    }

    #[test]
    #[allow(clippy::excessive_precision)] // reference values kept as computed
    fn two_step_matches_direct_evaluation() {
        // (S, K, T, r, b, vol, value) with the value from a direct 30-digit evaluation of
        // Haug's formulas (mpmath, bivariate CDF by quadrature): the folded exponents and the
        // fixed-correlation kernel change nothing.
        let cases = [
            (42.0, 40.0, 0.75, 0.04, -0.04, 0.35, 5.286_858_855_569_34),
            (100.0, 100.0, 1.0, 0.0, -0.05, 0.15, 4.175_208_210_215_28),
            (100.0, 100.0, 3.0, 0.08, -0.04, 0.35, 16.544_950_807_540_9),
            (110.0, 100.0, 2.0, 0.1, 0.08, 0.25, 28.299_046_518_078_8),
            (90.0, 100.0, 0.5, 0.1, 0.0, 0.15, 0.809_884_879_575_6),
            (100.0, 90.0, 0.5, 0.1, 0.0, 0.15, 10.540_013_087_277_4),
        ];
        for (s, x, t, r, b, v, want) in cases {
            let (got, mag) = two_step_body::<Plain>(s, x, t, r, b, v);
            assert!(
                (got - want).abs() < 1e-12 * want,
                "{s} {x}: {got} vs {want}"
            );
            assert!(mag < MAX_CANCELLATION * (s + x));
        }
    }

    #[test]
    fn exp_ncdf_has_no_overflow() {
        // exp(800) Phi(-45) = exp(800 - 45^2/2)/(45 sqrt(2 pi)) (1 - 1/z^2 + 3/z^4 - 15/z^6 ...).
        let v = exp_ncdf::<Plain>(800.0, -45.0);
        let z2 = 2025.0f64;
        let series = 1.0 - 1.0 / z2 + 3.0 / z2.powi(2) - 15.0 / z2.powi(3) + 105.0 / z2.powi(4);
        let want = (800.0 - 1012.5 - (45.0f64).ln() - 0.5 * (2.0 * PI).ln()).exp() * series;
        assert!(((v - want) / want).abs() < 1e-12, "{v} {want}");
        for (f, z) in [(0.3, 1.2), (-2.0, -0.4), (1.0, 0.0), (0.0, -3.0)] {
            let want = f64::exp(f) * ncdf(z);
            assert!(((exp_ncdf::<Plain>(f, z) - want) / want).abs() < 1e-14);
        }
    }
}

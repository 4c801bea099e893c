//! Barone-Adesi & Whaley (1987), "Efficient analytic approximation of American option
//! values", J. Finance 42, 301–320, with the generalised cost of carry `b = rate - div` as in
//! Haug, "The Complete Guide to Option Pricing Formulas" (2nd ed.), §3.1.1.
//!
//! The early-exercise premium solves a quadratic ODE in S; with `N = 2b/vol^2`,
//! `M = 2r/vol^2` and `h = 1 - e^{-rT}`, the exponents are the roots of
//! `q^2 + (N - 1) q - M/h = 0`: `q2 > 1` for calls, `q1 < 0` for puts. The critical price
//! `S*` solves value matching with the premium's coefficient taken from smooth pasting; it is
//! found by Halley's method (Newton with the second derivative, which costs nothing extra
//! here) from Haug's seed, safeguarded by a bracket (bisection whenever a step leaves it).
//!
//! `M/h = 2/(vol^2 T) * rT/(1 - e^{-rT})` is formed through `expm1`, so `rate = 0` takes the
//! limit `2/(vol^2 T)` instead of dividing 0 by 0.

use super::{ncdf, npdf, Contract};

/// Relative tolerance on the critical price.
const TOL: f64 = 1e-12;
/// Iterations before giving up (bisection alone would need about 45 on any bracket; Halley
/// from Haug's seed takes 2 to 4, about 3.2 on average for typical contracts).
const MAX_ITER: usize = 100;

/// BAW price of an American option, at least `max(European, intrinsic)`.
///
/// Contracts never exercised early ([`Contract::never_exercised`]) get the European value, and
/// so do those with two exercise boundaries (calls with `rate < div < 0`, puts with
/// `div < rate < 0`), for which it is a lower bound. For calls this is Haug's rule "European
/// if `b >= r`", except at `b = r < 0` (no dividend, negative rate), where early exercise pays.
pub fn price(c: &Contract) -> f64 {
    let euro = c.european();
    let floor = euro.max(c.intrinsic());
    let Some(q) = Quadratic::new(c) else {
        return floor;
    };
    let s_star = q.critical();
    q.value(c.spot, s_star, euro).max(floor)
}

/// The critical price of the BAW approximation: exercise is optimal at and above it for a
/// call, at and below it for a put. `+inf` for a call and `0` for a put that is never
/// exercised early.
pub fn critical_price(c: &Contract) -> f64 {
    match Quadratic::new(c) {
        Some(q) => q.critical(),
        None if c.is_call() => f64::INFINITY,
        None => 0.0,
    }
}

/// `x / (1 - e^{-x})`, 1 at 0.
#[inline]
fn x_over_one_minus_exp(x: f64) -> f64 {
    if x.abs() < 1e-10 {
        1.0 + 0.5 * x
    } else {
        -x / (-x).exp_m1()
    }
}

/// Roots of `q^2 + (n - 1) q - m = 0`, (smaller, larger), without cancellation (their product
/// is `-m`); NaN when they are complex.
#[inline]
fn roots(n: f64, m: f64) -> (f64, f64) {
    let p = n - 1.0;
    let disc = (p * p + 4.0 * m).sqrt();
    if p >= 0.0 {
        let neg = -0.5 * (p + disc);
        (neg, -m / neg)
    } else {
        let pos = 0.5 * (disc - p);
        (-m / pos, pos)
    }
}

/// The quadratic approximation of one contract with early exercise.
struct Quadratic {
    call: bool,
    x: f64,
    /// vol * sqrt(T).
    sd: f64,
    /// (b + vol^2/2) T.
    drift: f64,
    /// e^{(b-r)T}.
    carry_df: f64,
    /// e^{-rT}.
    df: f64,
    /// q2 for a call, q1 for a put.
    q: f64,
    /// Haug's seed for the critical price.
    seed: f64,
}

impl Quadratic {
    fn new(c: &Contract) -> Option<Quadratic> {
        let call = c.is_call();
        let (t, vol, r) = (c.expiry, c.vol, c.rate);
        let b = r - c.div;
        // European where early exercise never pays, and where two exercise boundaries exist
        // (a call with rate < div < 0, a put with div < rate < 0), which a single critical
        // price cannot describe (there the European value is a lower bound).
        if c.never_exercised() || (call && c.div < 0.0) || (!call && c.rate < 0.0) {
            return None;
        }
        let v2 = vol * vol;
        let sd = vol * t.sqrt();
        let n = 2.0 * b / v2;
        let m_over_h = 2.0 / (v2 * t) * x_over_one_minus_exp(r * t);
        let (q1, q2) = roots(n, m_over_h);
        let q = if call { q2 } else { q1 };
        let x = c.strike;
        // Haug's seed: the perpetual boundary (h = 1) pulled towards K by e^{h_i}.
        let perpetual = {
            // With r <= 0 the perpetual root may not exist (NaN) or be on the wrong side:
            // then the finite-maturity root stands in.
            let (u1, u2) = roots(n, 2.0 * r / v2);
            let u = match call {
                true if u2 > 1.0 => u2,
                true => q2,
                false if u1 < 0.0 => u1,
                false => q1,
            };
            x / (1.0 - 1.0 / u)
        };
        // S* lies between K and the perpetual boundary; where Haug's interpolation weight
        // leaves (0, 1) (a large carry against a small vol), take the midpoint.
        let weight = if call {
            -(-(b * t + 2.0 * sd) * x / (perpetual - x)).exp_m1()
        } else {
            ((b * t - 2.0 * sd) * x / (x - perpetual)).exp()
        };
        let weight = if weight > 0.0 && weight < 1.0 {
            weight
        } else {
            0.5
        };
        let seed = if call {
            x + (perpetual - x) * weight
        } else {
            perpetual + (x - perpetual) * weight
        };
        Some(Quadratic {
            call,
            x,
            sd,
            drift: (b + 0.5 * v2) * t,
            carry_df: (-c.div * t).exp(),
            df: (-r * t).exp(),
            q,
            seed,
        })
    }

    #[inline]
    fn d1(&self, s: f64) -> f64 {
        ((s / self.x).ln() + self.drift) / self.sd
    }

    /// European value at spot `s` given `d1` and `N(phi d1)`.
    #[inline]
    fn european(&self, s: f64, d1: f64, n1: f64) -> f64 {
        let n2 = ncdf(self.phi() * (d1 - self.sd));
        self.phi() * (s * self.carry_df * n1 - self.x * self.df * n2)
    }

    #[inline]
    fn phi(&self) -> f64 {
        if self.call {
            1.0
        } else {
            -1.0
        }
    }

    /// BAW's condition at a trial critical price `S`, with `phi = +-1` for a call or a put:
    /// `F(S) = phi (S - K) - euro(S) - phi S (1 - e^{(b-r)T} N(phi d1)) / q`, value matching
    /// with the premium's coefficient from smooth pasting, zero at `S*`; and its first two
    /// derivatives.
    #[inline]
    fn residual(&self, s: f64) -> [f64; 3] {
        let phi = self.phi();
        let d1 = self.d1(s);
        let n1 = ncdf(phi * d1);
        let delta = self.carry_df * n1; // |European delta|
        let f = phi * (s - self.x) - self.european(s, d1, n1) - phi * s * (1.0 - delta) / self.q;
        // f' = phi (1 - delta)(1 - 1/q) + e^{(b-r)T} n(d1) / (q sd) (Haug's 1 - b_i for a
        // call, -1 - b_i for a put), f'' = -(e^{(b-r)T} n(d1) / (S sd)) ((1 - 1/q) + d1/(q sd)).
        let density = self.carry_df * npdf(d1) / self.sd;
        let df = phi * (1.0 - delta) * (1.0 - 1.0 / self.q) + density / self.q;
        let d2f = -(density / s) * ((1.0 - 1.0 / self.q) + d1 / (self.q * self.sd));
        [f, df, d2f]
    }

    /// The critical price by Halley's method (cubic convergence), safeguarded: a Newton step
    /// where Halley's correction is large, bisection (or doubling, while no upper bound is
    /// known) where a step leaves the bracket.
    /// A call's root lies above K (F(K) < 0, F(S) -> +inf), a put's in (0, K] (F(0+) >= 0).
    fn critical(&self) -> f64 {
        // Bracket [lo, hi] with F(lo) on the "below" side: F < 0 for a call, F > 0 for a put.
        let (mut lo, mut hi) = if self.call {
            (self.x, f64::INFINITY)
        } else {
            (0.0, self.x)
        };
        let mut s = self.seed;
        if !(s > lo && s < hi) {
            s = if self.call {
                2.0 * self.x
            } else {
                0.5 * self.x
            };
        }
        let (mut prev_step, mut prev_halley) = (f64::INFINITY, false);
        for _ in 0..MAX_ITER {
            let [f, df, d2f] = self.residual(s);
            if f == 0.0 {
                return s;
            }
            if (f < 0.0) == self.call {
                lo = s;
            } else {
                hi = s;
            }
            // Halley's step is Newton's divided by 1 - L, L = f f'' / (2 f'^2). Far from the
            // root (|L| large, e.g. on the plateau of a tiny-vol residual) it would crawl:
            // take Newton's step there and let the bracket catch overshoots.
            let newton = f / df;
            let l = 0.5 * newton * d2f / df;
            let mut halley = l.abs() < 0.5;
            let mut next = if halley {
                s - newton / (1.0 - l)
            } else {
                s - newton
            };
            if !(next > lo && next < hi) {
                halley = false;
                next = if hi.is_finite() {
                    0.5 * (lo + hi)
                } else {
                    2.0 * s
                };
            }
            // Two Halley steps in a row measure the cubic rate, e_{k+1} ~ C e_k^3, with the
            // steps standing in for the errors: the error left after this step is about
            // step^4 / prev^3. Below the tolerance, the residual need not be evaluated again.
            let step = (next - s).abs();
            let predicted = if halley && prev_halley {
                step * (step / prev_step).powi(3)
            } else {
                f64::INFINITY
            };
            let done = step <= TOL * s || predicted <= 1e-3 * TOL * s || hi - lo <= TOL * s;
            prev_step = step;
            prev_halley = halley;
            s = next;
            if done {
                break;
            }
        }
        if s.is_finite() {
            s
        } else {
            lo
        }
    }

    /// The BAW value at spot `s` given the critical price and the European value at `s`.
    fn value(&self, s: f64, s_star: f64, european: f64) -> f64 {
        let exercise = if self.call { s >= s_star } else { s <= s_star };
        if exercise {
            return self.phi() * (s - self.x);
        }
        // A = phi S* (1 - e^{(b-r)T} N(phi d1(S*))) / q, positive for both types.
        let phi = self.phi();
        let a = phi * s_star * (1.0 - self.carry_df * ncdf(phi * self.d1(s_star))) / self.q;
        european + a * (s / s_star).powf(self.q)
    }
}

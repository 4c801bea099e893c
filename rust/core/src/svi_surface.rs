//! Evaluation of a surface made of raw SVI slices at many (strike, expiry) points.
//!
//! Each slice i (expiry t_i, forward F_i) is raised to the running maximum of the earlier
//! slices' total variance at the same log-moneyness, so the surface is calendar-monotone
//! everywhere; between expiries the total variance is linear in time at constant
//! log-moneyness k = ln(K/F(t)), ln F is linear in time; before the first expiry w grows in
//! proportion to t, after the last the last slice is scaled by t / t_last. Points are processed
//! in chunks, one slice at a time over the chunk, so that the inner loops vectorise.

use rayon::prelude::*;

use crate::dispatch::multiversion;
use crate::error::{Error, Result};
use crate::fastmath::{ln, Arith};
use crate::svi::RawSvi;

/// Points per chunk (a slice's pass over a chunk stays in L1).
const CHUNK: usize = 512;
/// Above this many points the work is split over the rayon pool.
const PARALLEL: usize = 16 * CHUNK;

/// The slices of a surface, in increasing expiry.
#[derive(Debug, Clone, Copy)]
pub struct Slices<'a> {
    /// Expiries in years, strictly increasing.
    pub ts: &'a [f64],
    /// ln F at each expiry.
    pub log_forward: &'a [f64],
    /// The SVI parameters of each slice.
    pub params: &'a [RawSvi],
}

impl Slices<'_> {
    pub(crate) fn check(&self) -> Result<()> {
        let n = self.ts.len();
        if n == 0 || self.log_forward.len() != n || self.params.len() != n {
            return Err(Error::Shape(
                "a surface needs at least one slice, with one expiry, forward and parameter set \
                 each"
                    .into(),
            ));
        }
        let increasing = self.ts.windows(2).all(|w| w[1] > w[0]);
        if !increasing || self.ts[0].partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            return Err(Error::Shape(
                "slice expiries must be positive and strictly increasing".into(),
            ));
        }
        Ok(())
    }
}

/// Implied vols at (strike[i], expiry[i]) into `out` (equal lengths). NaN where expiry <= 0 or
/// the strike is not positive.
pub fn vol_into(s: &Slices, strike: &[f64], expiry: &[f64], out: &mut [f64]) -> Result<()> {
    s.check()?;
    if strike.len() != out.len() || expiry.len() != out.len() {
        return Err(Error::Shape(
            "strike, expiry and output differ in length".into(),
        ));
    }
    if out.len() < PARALLEL {
        for ((k, t), o) in strike
            .chunks(CHUNK)
            .zip(expiry.chunks(CHUNK))
            .zip(out.chunks_mut(CHUNK))
        {
            chunk(s, k, t, o);
        }
    } else {
        out.par_chunks_mut(CHUNK)
            .zip(strike.par_chunks(CHUNK))
            .zip(expiry.par_chunks(CHUNK))
            .for_each(|((o, k), t)| chunk(s, k, t, o));
    }
    Ok(())
}

/// Implied vols and their strike slopes `dvol/dK` at (strike[i], expiry[i]) (equal lengths;
/// sequential: for callers that already split their work). The slope is that of the slice
/// holding the calendar envelope at each bracketing expiry, interpolated like the variance.
pub fn vol_slope_into(
    s: &Slices,
    strike: &[f64],
    expiry: &[f64],
    vol: &mut [f64],
    slope: &mut [f64],
) -> Result<()> {
    s.check()?;
    let m = vol.len();
    if strike.len() != m || expiry.len() != m || slope.len() != m {
        return Err(Error::Shape(
            "strike, expiry and outputs differ in length".into(),
        ));
    }
    for (((k, t), v), d) in strike
        .chunks(CHUNK)
        .zip(expiry.chunks(CHUNK))
        .zip(vol.chunks_mut(CHUNK))
        .zip(slope.chunks_mut(CHUNK))
    {
        chunk_slope(s, k, t, v, d);
    }
    Ok(())
}

multiversion! {
    fn chunk(s: &Slices, strike: &[f64], expiry: &[f64], out: &mut [f64]) => vol_body
}

multiversion! {
    fn chunk_slope(
        s: &Slices,
        strike: &[f64],
        expiry: &[f64],
        out: &mut [f64],
        slope: &mut [f64],
    ) => slope_body
}

#[inline(always)]
fn vol_body<A: Arith>(s: &Slices, strike: &[f64], expiry: &[f64], out: &mut [f64]) {
    chunk_body::<A, false>(s, strike, expiry, out, &mut [])
}

#[inline(always)]
fn slope_body<A: Arith>(
    s: &Slices,
    strike: &[f64],
    expiry: &[f64],
    out: &mut [f64],
    slope: &mut [f64],
) {
    chunk_body::<A, true>(s, strike, expiry, out, slope)
}

/// Vols (and with `SLOPE` their strike derivatives) of one chunk.
#[inline(always)]
fn chunk_body<A: Arith, const SLOPE: bool>(
    s: &Slices,
    strike: &[f64],
    expiry: &[f64],
    out: &mut [f64],
    slope: &mut [f64],
) {
    let m = out.len();
    let n = s.ts.len();
    let mut k = [0.0f64; CHUNK];
    let mut lo = [0usize; CHUNK];
    let mut env = [0.0f64; CHUNK];
    let mut w_lo = [0.0f64; CHUNK];
    let mut w_hi = [0.0f64; CHUNK];
    // dw/dk of the envelope and at the bracketing slices (only with SLOPE).
    let mut env1 = [0.0f64; CHUNK];
    let mut w1_lo = [0.0f64; CHUNK];
    let mut w1_hi = [0.0f64; CHUNK];
    // Bracketing slices and ln F per point (grids repeat expiries: reuse the last search).
    let mut lf = [0.0f64; CHUNK];
    let (mut last_t, mut last_j, mut last_lf) = (f64::NAN, 0usize, 0.0f64);
    for i in 0..m {
        let t = expiry[i];
        if t != last_t {
            let j = s.ts.partition_point(|&x| x <= t); // first slice after t
            last_lf = if j == 0 {
                s.log_forward[0]
            } else if j == n {
                s.log_forward[n - 1]
            } else {
                let a = (t - s.ts[j - 1]) / (s.ts[j] - s.ts[j - 1]);
                s.log_forward[j - 1] + a * (s.log_forward[j] - s.log_forward[j - 1])
            };
            last_t = t;
            last_j = j;
        }
        lo[i] = last_j;
        lf[i] = last_lf;
    }
    // Log-moneyness: a flat loop the compiler vectorises.
    for i in 0..m {
        k[i] = ln::<A>(strike[i]) - lf[i];
    }
    // The slices each point interpolates between (clamped at the ends), as f64 so that the
    // selects below stay in vector registers.
    let mut below = [0.0f64; CHUNK];
    let mut above = [0.0f64; CHUNK];
    for i in 0..m {
        below[i] = lo[i].saturating_sub(1).min(n - 1) as f64;
        above[i] = lo[i].min(n - 1) as f64;
    }
    // One slice at a time over the chunk: the running maximum, and the values each point
    // needs, with branch-free selects so the loop vectorises. Slices after the latest one the
    // chunk needs are skipped (chunks of one expiry visit only the slices up to it).
    let last = above[..m].iter().fold(0.0f64, |a, &b| a.max(b)) as usize;
    for (idx, p) in s.params.iter().enumerate().take(last + 1) {
        let fi = idx as f64;
        let s2 = p.sigma * p.sigma;
        let first = idx == 0;
        for i in 0..m {
            let x = k[i] - p.m;
            let r = A::mla(x, x, s2).sqrt();
            let w = A::mla(p.b, A::mla(p.rho, x, r), p.a);
            let takes = first || w > env[i];
            let e = if takes { w } else { env[i] };
            env[i] = e;
            w_lo[i] = if below[i] == fi { e } else { w_lo[i] };
            w_hi[i] = if above[i] == fi { e } else { w_hi[i] };
            if SLOPE {
                let w1 = p.b * (p.rho + x / r);
                let e1 = if takes { w1 } else { env1[i] };
                env1[i] = e1;
                w1_lo[i] = if below[i] == fi { e1 } else { w1_lo[i] };
                w1_hi[i] = if above[i] == fi { e1 } else { w1_hi[i] };
            }
        }
    }
    for i in 0..m {
        let t = expiry[i];
        let j = lo[i];
        let (w, w1) = if j == 0 {
            (w_hi[i] * t / s.ts[0], w1_hi[i] * t / s.ts[0])
        } else if j == n {
            (w_lo[i] * t / s.ts[n - 1], w1_lo[i] * t / s.ts[n - 1])
        } else {
            let a = (t - s.ts[j - 1]) / (s.ts[j] - s.ts[j - 1]);
            (
                A::mla(a, w_hi[i] - w_lo[i], w_lo[i]),
                A::mla(a, w1_hi[i] - w1_lo[i], w1_lo[i]),
            )
        };
        let v = (w.max(0.0) / t).sqrt();
        let ok = t > 0.0 && strike[i] > 0.0;
        out[i] = if ok { v } else { f64::NAN };
        if SLOPE {
            // dvol/dK = (dw/dk) / (2 vol t K); flat where the variance is not positive.
            let d = if w > 0.0 {
                w1 / (2.0 * v * t * strike[i])
            } else {
                0.0
            };
            slope[i] = if ok { d } else { f64::NAN };
        }
    }
}

/// `ln F` and the zero rate at expiry `t` from per-slice `ln F` and `ln` discount factors, as
/// the Python `Surface` interpolates them: both linear in time, flat outside the slices.
pub fn forward_and_rate(s: &Slices, log_discount: &[f64], t: f64) -> (f64, f64) {
    let n = s.ts.len();
    let j = s.ts.partition_point(|&x| x <= t);
    let zero = |i: usize| -log_discount[i] / s.ts[i];
    if j == 0 {
        (s.log_forward[0], zero(0))
    } else if j == n {
        (s.log_forward[n - 1], zero(n - 1))
    } else {
        let a = (t - s.ts[j - 1]) / (s.ts[j] - s.ts[j - 1]);
        (
            s.log_forward[j - 1] + a * (s.log_forward[j] - s.log_forward[j - 1]),
            zero(j - 1) + a * (zero(j) - zero(j - 1)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(p: &RawSvi, k: f64) -> f64 {
        p.a + p.b * (p.rho * (k - p.m) + ((k - p.m).powi(2) + p.sigma * p.sigma).sqrt())
    }

    #[test]
    fn interpolates_in_total_variance_and_floors_calendar_dips() {
        let p1 = RawSvi {
            a: 0.01,
            b: 0.1,
            rho: -0.5,
            m: 0.0,
            sigma: 0.1,
        };
        // The second slice dips below the first for k > 0.3.
        let p2 = RawSvi {
            a: 0.02,
            b: 0.05,
            rho: -0.9,
            m: 0.0,
            sigma: 0.1,
        };
        let (ts, lf) = ([0.5, 1.0], [100f64.ln(), 102f64.ln()]);
        let params = [p1, p2];
        let s = Slices {
            ts: &ts,
            log_forward: &lf,
            params: &params,
        };
        let strikes: Vec<f64> = (0..200).map(|i| 50.0 + i as f64).collect();
        for &t in &[0.1, 0.5, 0.75, 1.0, 2.0] {
            let tv = vec![t; strikes.len()];
            let mut out = vec![0.0; strikes.len()];
            vol_into(&s, &strikes, &tv, &mut out).unwrap();
            for (k_abs, v) in strikes.iter().zip(&out) {
                let lf = if t <= 0.5 {
                    lf[0]
                } else if t >= 1.0 {
                    lf[1]
                } else {
                    lf[0] + (t - 0.5) / 0.5 * (lf[1] - lf[0])
                };
                let k = k_abs.ln() - lf;
                let w1 = w(&p1, k);
                let w2 = w(&p2, k).max(w1);
                let want = if t < 0.5 {
                    w1 * t / 0.5
                } else if t >= 1.0 {
                    w2 * t / 1.0
                } else {
                    w1 + (t - 0.5) / 0.5 * (w2 - w1)
                };
                assert!((v * v * t - want).abs() < 1e-13, "t {t} K {k_abs}");
            }
        }
        let mut out = [0.0];
        vol_into(&s, &[100.0], &[0.0], &mut out).unwrap();
        assert!(out[0].is_nan());
        let bad = Slices {
            ts: &[1.0, 0.5],
            log_forward: &lf,
            params: &params,
        };
        assert!(vol_into(&bad, &[100.0], &[1.0], &mut out).is_err());
    }
}

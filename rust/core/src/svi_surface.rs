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

/// Implied vols at (`strike[i]`, `expiry[i]`) into `out` (equal lengths). NaN where expiry <= 0 or
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

/// Raw SVI total variance at log-moneyness `k`, with x = k - m and sqrt(x^2 + sigma^2) (the
/// slope needs them): the one evaluation both the pointwise and the grid kernels use, so they
/// give the same bits.
#[inline(always)]
fn raw_svi<A: Arith>(p: &RawSvi, k: f64) -> (f64, f64, f64) {
    let x = k - p.m;
    let r = A::mla(x, x, p.sigma * p.sigma).sqrt();
    (A::mla(p.b, A::mla(p.rho, x, r), p.a), x, r)
}

/// A value (total variance or its k slope) at expiry `t` from its values at the bracketing
/// slices: linear in time with weight `a` between them; `outside` the slices (one slice, at
/// `t_end`) in proportion to t.
#[inline(always)]
fn between<A: Arith>(a: f64, lo: f64, hi: f64, outside: bool, t: f64, t_end: f64) -> f64 {
    let v = A::mla(a, hi - lo, lo);
    if outside {
        v * t / t_end
    } else {
        v
    }
}

/// Strikes per task of [`vol_grid_into`].
const GRID_ROWS: usize = 128;

/// Implied vols on the grid `strike x expiry`: `out[i * expiry.len() + j]` is the vol at
/// (`strike[i]`, `expiry[j]`), the same values [`vol_into`] gives for the broadcast points.
/// Each expiry's bracketing slices, interpolation weight and ln F are found once, ln K once per
/// strike, and the calendar envelope is evaluated for a block of strikes at a time over only
/// the slices that can matter in the block's log-moneyness range (see the private
/// `dominance_thresholds`); blocks of rows run in parallel.
pub fn vol_grid_into(s: &Slices, strike: &[f64], expiry: &[f64], out: &mut [f64]) -> Result<()> {
    s.check()?;
    let (nk, nt) = (strike.len(), expiry.len());
    if out.len() != nk * nt {
        return Err(Error::Shape(
            "the output must hold one vol per strike and expiry".into(),
        ));
    }
    if nk == 0 || nt == 0 {
        return Ok(());
    }
    let rows = |(b, o): (usize, &mut [f64])| {
        let lo = b * GRID_ROWS;
        grid_rows(s, &strike[lo..lo + o.len() / nt], expiry, o);
    };
    if nk * nt < PARALLEL {
        out.chunks_mut(GRID_ROWS * nt).enumerate().for_each(rows);
    } else {
        out.par_chunks_mut(GRID_ROWS * nt)
            .enumerate()
            .for_each(rows);
    }
    Ok(())
}

multiversion! {
    fn grid_rows(s: &Slices, strike: &[f64], expiry: &[f64], out: &mut [f64]) => grid_body
}

/// One block of at most [`GRID_ROWS`] strikes against every expiry.
#[inline(always)]
fn grid_body<A: Arith>(s: &Slices, strike: &[f64], expiry: &[f64], out: &mut [f64]) {
    let (m, nt, n) = (strike.len(), expiry.len(), s.ts.len());
    let mut ln_k = [0.0f64; GRID_ROWS];
    for i in 0..m {
        ln_k[i] = ln::<A>(strike[i]);
    }
    let mut k = [0.0f64; GRID_ROWS];
    let mut env = [0.0f64; GRID_ROWS];
    let mut w_lo = [0.0f64; GRID_ROWS];
    let mut w_hi = [0.0f64; GRID_ROWS];
    for (c, &t) in expiry.iter().enumerate() {
        let j = s.ts.partition_point(|&x| x <= t); // first slice after t
        let (jl, jh) = (j.saturating_sub(1).min(n - 1), j.min(n - 1));
        // Linear in time between the slices; outside them (one slice) flat ln F and w
        // proportional to t (as `chunk_body`).
        let a = if jl != jh {
            (t - s.ts[jl]) / (s.ts[jh] - s.ts[jl])
        } else {
            0.0
        };
        let lf = s.log_forward[jl] + a * (s.log_forward[jh] - s.log_forward[jl]);
        for i in 0..m {
            k[i] = ln_k[i] - lf;
        }
        let below = [jl as f64];
        let end = dominance_thresholds(s, &k[..m], &below, jh);
        env[..m].fill(f64::NEG_INFINITY);
        for (idx, p) in s.params.iter().enumerate().take(jh + 1) {
            if end[idx] == 0 {
                continue; // dominated over the block: never the maximum read
            }
            for i in 0..m {
                env[i] = raw_svi::<A>(p, k[i]).0.max(env[i]);
            }
            if idx == jl {
                w_lo[..m].copy_from_slice(&env[..m]);
            }
            if idx == jh {
                w_hi[..m].copy_from_slice(&env[..m]);
            }
        }
        let ok_t = t > 0.0;
        for i in 0..m {
            let w = between::<A>(a, w_lo[i], w_hi[i], jl == jh, t, s.ts[jl]);
            let v = (w.max(0.0) / t).sqrt();
            out[i * nt + c] = if ok_t && strike[i] > 0.0 { v } else { f64::NAN };
        }
    }
}

/// Implied vols and their strike slopes `dvol/dK` at (`strike[i]`, `expiry[i]`) (equal lengths;
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
///
/// The points are put in order of the slices they interpolate between (a counting sort), so
/// that each slice's pass covers a contiguous run of points: the points that read only
/// earlier slices, and those for which the slice cannot be the calendar maximum
/// ([`dominance_thresholds`]), are left out of it.
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
    // The first slice after each point's expiry (the number of slices at or before it), as a
    // count per slice that vectorises; NaN expiries count 0.
    let mut lo = [0usize; CHUNK];
    for &tl in s.ts {
        for i in 0..m {
            lo[i] += usize::from(tl <= expiry[i]);
        }
    }
    // Counting sort of the points by `lo` (0..=n): `order[r]` is the point at rank r.
    let mut order = [0u16; CHUNK];
    let sorted = n < MAX_SLICES;
    if sorted {
        // Four interleaved cursors per key (point i uses lane i % 4), so that neighbouring
        // points with the same key do not wait on each other's counter; ranks stay ordered by
        // key.
        let mut start = [[0u16; 4]; MAX_SLICES + 1];
        for (i, &j) in lo[..m].iter().enumerate() {
            start[j][i & 3] += 1;
        }
        let mut acc = 0u16;
        for lanes in start.iter_mut().take(n + 1) {
            for c in lanes.iter_mut() {
                (acc, *c) = (acc + *c, acc);
            }
        }
        for (i, &j) in lo[..m].iter().enumerate() {
            let c = &mut start[j][i & 3];
            order[usize::from(*c)] = i as u16;
            *c += 1;
        }
    } else {
        for (r, o) in order[..m].iter_mut().enumerate() {
            *o = r as u16;
        }
    }
    // Per point in rank order: the bracketing slices (clamped at the ends, as f64 so that the
    // selects below stay in vector registers), their expiries and ln F, the interpolation
    // weight in time, ln F(t) and the log-moneyness.
    let mut k = [0.0f64; CHUNK];
    let mut t = [0.0f64; CHUNK];
    let mut below = [0.0f64; CHUNK];
    let mut above = [0.0f64; CHUNK];
    let mut t0 = [0.0f64; CHUNK];
    let mut t1 = [0.0f64; CHUNK];
    let mut f0 = [0.0f64; CHUNK];
    let mut f1 = [0.0f64; CHUNK];
    for r in 0..m {
        let i = usize::from(order[r]);
        let (jl, jh) = (lo[i].saturating_sub(1).min(n - 1), lo[i].min(n - 1));
        (k[r], t[r]) = (strike[i], expiry[i]);
        (below[r], above[r]) = (jl as f64, jh as f64);
        (t0[r], t1[r]) = (s.ts[jl], s.ts[jh]);
        (f0[r], f1[r]) = (s.log_forward[jl], s.log_forward[jh]);
    }
    let mut weight = [0.0f64; CHUNK];
    for r in 0..m {
        // Inside the slices: linear in time; outside (one slice): flat ln F.
        let inside = below[r] != above[r];
        let a = (t[r] - t0[r]) / (t1[r] - t0[r]);
        weight[r] = if inside { a } else { 0.0 };
        let lf = f0[r] + weight[r] * (f1[r] - f0[r]);
        k[r] = ln::<A>(k[r]) - lf;
    }
    let mut env = [0.0f64; CHUNK];
    let mut w_lo = [0.0f64; CHUNK];
    let mut w_hi = [0.0f64; CHUNK];
    // dw/dk of the envelope and at the bracketing slices (only with SLOPE).
    let mut env1 = [0.0f64; CHUNK];
    let mut w1_lo = [0.0f64; CHUNK];
    let mut w1_hi = [0.0f64; CHUNK];
    // One slice at a time over the points that need it: the running maximum, and the values
    // each point needs, with branch-free selects so the loop vectorises. The ranks needing
    // slice `idx` are 0..end[idx] (points of later brackets past the threshold do not).
    let last = above[..m].iter().fold(0.0f64, |a, &b| a.max(b)) as usize;
    let end = if sorted {
        dominance_thresholds(s, &k[..m], &below[..m], last)
    } else {
        [m; MAX_SLICES]
    };
    // The envelope starts below every slice, so a point's first slice (the first one not
    // dropped for it) starts it.
    env[..m].fill(f64::NEG_INFINITY);
    for (idx, p) in s.params.iter().enumerate().take(last + 1) {
        let fi = idx as f64;
        let e_idx = if sorted { end[idx] } else { m };
        for i in 0..e_idx {
            let (w, x, r) = raw_svi::<A>(p, k[i]);
            // A plain maximum (not a conditional store, which AMD CPUs run slowly).
            let takes = w > env[i];
            let e = w.max(env[i]);
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
    // Total variance (and its k slope) at each point: linear in time between the bracketing
    // slices, in proportion to t before the first and after the last; then the vol.
    let mut vol = [0.0f64; CHUNK];
    let mut dvol = [0.0f64; CHUNK];
    for r in 0..m {
        let (a, outside) = (weight[r], below[r] == above[r]);
        let w = between::<A>(a, w_lo[r], w_hi[r], outside, t[r], t0[r]);
        let w1 = between::<A>(a, w1_lo[r], w1_hi[r], outside, t[r], t0[r]);
        let v = (w.max(0.0) / t[r]).sqrt();
        vol[r] = v;
        if SLOPE {
            // dvol/dK = (dw/dk) / (2 vol t K); flat where the variance is not positive.
            dvol[r] = if w > 0.0 {
                w1 / (2.0 * v * t[r] * strike[usize::from(order[r])])
            } else {
                0.0
            };
        }
    }
    for r in 0..m {
        let i = usize::from(order[r]);
        let ok = expiry[i] > 0.0 && strike[i] > 0.0;
        out[i] = if ok { vol[r] } else { f64::NAN };
        if SLOPE {
            slope[i] = if ok { dvol[r] } else { f64::NAN };
        }
    }
}

/// Most slices most chunks need.
const MAX_SLICES: usize = 64;

/// For each slice l, how many of the chunk's leading points (in rank order, `below` sorted
/// ascending) may need it: slice l cannot be the calendar maximum that a point reads when a
/// later slice l < j <= below lies above it over the chunk's whole log-moneyness range
/// [k_lo, k_hi]. Raw SVI with b >= 0, sigma > 0, |rho| <= 1 is convex in k: its maximum over
/// the range is at an end, its minimum at the vertex k* = m - rho sigma / sqrt(1 - rho^2)
/// clamped into the range. A margin far above rounding keeps the result bit-identical to
/// evaluating every slice. On a strike x expiry grid this drops the short expiries' slices for
/// the long expiries' points, where the calendar envelope costs most.
fn dominance_thresholds(s: &Slices, k: &[f64], below: &[f64], last: usize) -> [usize; MAX_SLICES] {
    let m = k.len();
    let mut end = [m; MAX_SLICES];
    let (mut k_lo, mut k_hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &x in k {
        k_lo = k_lo.min(x);
        k_hi = k_hi.max(x);
    }
    if !(k_lo.is_finite() && k_hi.is_finite()) || last >= MAX_SLICES {
        return end;
    }
    let convex = |p: &RawSvi| p.b >= 0.0 && p.sigma > 0.0 && p.rho.abs() <= 1.0;
    let w = |p: &RawSvi, x: f64| {
        let d = x - p.m;
        p.a + p.b * (p.rho * d + (d * d + p.sigma * p.sigma).sqrt())
    };
    let mut lowest = [f64::NEG_INFINITY; MAX_SLICES];
    let mut highest = [f64::INFINITY; MAX_SLICES];
    for (j, p) in s.params.iter().enumerate().take(last + 1) {
        if convex(p) {
            let vertex = if p.rho.abs() < 1.0 {
                p.m - p.rho * p.sigma / (1.0 - p.rho * p.rho).sqrt()
            } else {
                k_lo
            };
            let (at_lo, at_hi) = (w(p, k_lo), w(p, k_hi));
            lowest[j] = w(p, vertex.clamp(k_lo, k_hi)).min(at_lo).min(at_hi);
            highest[j] = at_lo.max(at_hi);
        }
    }
    for l in 0..last {
        let mut floor = f64::NEG_INFINITY;
        for (j, &low) in lowest.iter().enumerate().take(last + 1).skip(l + 1) {
            floor = floor.max(low);
            if highest[l] < floor - (1e-9 * floor.abs() + 1e-13) {
                end[l] = below.partition_point(|&b| b < j as f64);
                break;
            }
        }
    }
    end
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
    fn skipping_dominated_slices_changes_nothing() {
        // Twelve slices whose wings cross (steeper skew at some later expiries), evaluated on a
        // strike x expiry grid in one call (chunks prune dominated slices over their whole
        // k range) and point by point (a one-point range prunes differently), and against the
        // envelope over every slice written out.
        let n: usize = 12;
        let ts: Vec<f64> = (0..n).map(|i| 0.02 * 1.5f64.powi(i as i32)).collect();
        let lf: Vec<f64> = (0..n).map(|i| (100.0 + i as f64).ln()).collect();
        let params: Vec<RawSvi> = (0..n)
            .map(|i| {
                let t = ts[i];
                RawSvi {
                    a: 0.02 * t,
                    b: 0.1 * t.sqrt() * if i % 3 == 1 { 1.6 } else { 1.0 },
                    rho: if i % 4 == 2 { -0.95 } else { -0.4 },
                    m: 0.01 * (i as f64 - 5.0),
                    sigma: 0.1 + 0.02 * i as f64,
                }
            })
            .collect();
        let s = Slices {
            ts: &ts,
            log_forward: &lf,
            params: &params,
        };
        let (mut strikes, mut expiries) = (vec![], vec![]);
        for i in 0..300 {
            for j in 0..40 {
                strikes.push(20.0 + i as f64);
                expiries.push(0.01 + 0.06 * j as f64);
            }
        }
        let mut grid = vec![0.0; strikes.len()];
        vol_into(&s, &strikes, &expiries, &mut grid).unwrap();
        let mut skipped = 0;
        for ((kk, t), v) in strikes.iter().zip(&expiries).zip(&grid) {
            let mut one = [0.0];
            vol_into(&s, &[*kk], &[*t], &mut one).unwrap();
            assert_eq!(one[0].to_bits(), v.to_bits(), "K {kk} t {t}");
            let j = ts.partition_point(|&x| x <= *t);
            let lfi = if j == 0 {
                lf[0]
            } else if j == n {
                lf[n - 1]
            } else {
                lf[j - 1] + (t - ts[j - 1]) / (ts[j] - ts[j - 1]) * (lf[j] - lf[j - 1])
            };
            let k = kk.ln() - lfi;
            let env = |i: usize| (0..=i).map(|l| w(&params[l], k)).fold(f64::MIN, f64::max);
            let want = if j == 0 {
                env(0) * t / ts[0]
            } else if j == n {
                env(n - 1) * t / ts[n - 1]
            } else {
                let a = (t - ts[j - 1]) / (ts[j] - ts[j - 1]);
                env(j - 1) + a * (env(j) - env(j - 1))
            };
            assert!((v * v * t - want).abs() < 1e-14, "K {kk} t {t}");
        }
        for c in 0..strikes.len() / CHUNK {
            let r = c * CHUNK..(c + 1) * CHUNK;
            let mut kb: Vec<(f64, f64)> = vec![];
            let mut last = 0;
            for (kk, t) in strikes[r.clone()].iter().zip(&expiries[r]) {
                let j = ts.partition_point(|&x| x <= *t);
                kb.push((
                    kk.ln() - lf[j.min(n - 1)],
                    j.saturating_sub(1).min(n - 1) as f64,
                ));
                last = last.max(j.min(n - 1));
            }
            kb.sort_by(|a, b| a.1.total_cmp(&b.1));
            let (k, below): (Vec<f64>, Vec<f64>) = kb.into_iter().unzip();
            let end = dominance_thresholds(&s, &k, &below, last);
            skipped += end[..last].iter().map(|e| CHUNK - e).sum::<usize>();
        }
        assert!(
            skipped > CHUNK,
            "the grid should let chunks skip slices: {skipped}"
        );
    }

    #[test]
    fn dropped_slices_keep_negative_variances() {
        // Slices 0 and 1 have negative total variance near the money, slice 0 below slice 1
        // everywhere (so chunks drop it for points past slice 1): the envelope of slice 1 must
        // stay negative there, not be floored at 0, as the envelope over every slice is.
        let ts = [0.1, 0.2, 0.4];
        let lf = [0.0; 3];
        let params = [
            RawSvi {
                a: -0.02,
                b: 0.01,
                rho: 0.0,
                m: 0.0,
                sigma: 0.1,
            },
            RawSvi {
                a: -0.01,
                b: 0.02,
                rho: 0.0,
                m: 0.0,
                sigma: 0.1,
            },
            RawSvi {
                a: 0.02,
                b: 0.05,
                rho: 0.0,
                m: 0.0,
                sigma: 0.1,
            },
        ];
        let s = Slices {
            ts: &ts,
            log_forward: &lf,
            params: &params,
        };
        let strikes: Vec<f64> = (0..CHUNK)
            .map(|i| 0.9 + 0.2 * i as f64 / CHUNK as f64)
            .collect();
        let expiries = vec![0.39; CHUNK];
        let mut out = vec![0.0; CHUNK];
        vol_into(&s, &strikes, &expiries, &mut out).unwrap();
        let mut grid = vec![0.0; CHUNK];
        vol_grid_into(&s, &strikes, &[0.39], &mut grid).unwrap();
        for ((k, v), g) in strikes.iter().zip(&out).zip(&grid) {
            let x = k.ln();
            let env = |i: usize| (0..=i).map(|l| w(&params[l], x)).fold(f64::MIN, f64::max);
            let a = (0.39 - 0.2) / 0.2;
            let want = (env(1) + a * (env(2) - env(1))).max(0.0) / 0.39;
            assert!((v * v - want).abs() < 1e-15, "K {k}: {} vs {want}", v * v);
            assert_eq!(v.to_bits(), g.to_bits());
        }
        let k: Vec<f64> = strikes.iter().map(|k| k.ln()).collect();
        assert!(dominance_thresholds(&s, &k, &vec![1.0; CHUNK], 2)[0] == 0);
    }

    #[test]
    fn grid_equals_pointwise() {
        // A strike x expiry grid through `vol_grid_into` gives the bits `vol_into` gives for the
        // broadcast points, including bad strikes and expiries and times outside the slices.
        let ts: [f64; 7] = [0.02, 0.05, 0.1, 0.3, 0.31, 0.8, 1.5];
        let lf: Vec<f64> = ts.iter().map(|t| (100.0 * (0.02 * t).exp()).ln()).collect();
        let params: Vec<RawSvi> = ts
            .iter()
            .enumerate()
            .map(|(i, &t)| RawSvi {
                a: 0.03 * t,
                b: 0.12 * t.sqrt() * if i == 4 { 1.8 } else { 1.0 },
                rho: -0.6 + 0.05 * i as f64,
                m: 0.02 * i as f64 - 0.05,
                sigma: 0.15,
            })
            .collect();
        let s = Slices {
            ts: &ts,
            log_forward: &lf,
            params: &params,
        };
        let mut strikes: Vec<f64> = (0..300).map(|i| 30.0 + 0.5 * i as f64).collect();
        strikes[7] = -1.0;
        strikes[8] = 0.0;
        strikes[9] = f64::NAN;
        let mut expiries: Vec<f64> = (0..41).map(|j| 0.005 + 0.045 * j as f64).collect();
        expiries[3] = 0.0;
        expiries[4] = f64::NAN;
        expiries[5] = 0.3;
        let mut grid = vec![0.0; strikes.len() * expiries.len()];
        vol_grid_into(&s, &strikes, &expiries, &mut grid).unwrap();
        let (mut kk, mut tt) = (vec![], vec![]);
        for &k in &strikes {
            for &t in &expiries {
                kk.push(k);
                tt.push(t);
            }
        }
        let mut flat = vec![0.0; kk.len()];
        vol_into(&s, &kk, &tt, &mut flat).unwrap();
        for (i, (a, b)) in grid.iter().zip(&flat).enumerate() {
            assert_eq!(a.to_bits(), b.to_bits(), "point {i}: {a} vs {b}");
        }
        assert!(vol_grid_into(&s, &strikes, &expiries, &mut [0.0; 3]).is_err());
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

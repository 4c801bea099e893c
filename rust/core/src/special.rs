//! Array versions of the special functions, for callers that want them directly.

use rayon::prelude::*;

use crate::dispatch::multiversion;
use crate::fastmath::Arith;
use crate::normal;

const PAR_MIN: usize = 64 * 1024;

#[inline(always)]
fn cdf_body<A: Arith>(x: &[f64], out: &mut [f64]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = normal::cdf::<A>(v);
    }
}

#[inline(always)]
fn pdf_body<A: Arith>(x: &[f64], out: &mut [f64]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = normal::pdf::<A>(v);
    }
}

multiversion! { fn cdf_chunk(x: &[f64], out: &mut [f64]) => cdf_body }
multiversion! { fn pdf_chunk(x: &[f64], out: &mut [f64]) => pdf_body }

fn apply(x: &[f64], out: &mut [f64], f: fn(&[f64], &mut [f64])) {
    assert_eq!(x.len(), out.len(), "input and output lengths differ");
    if x.len() < PAR_MIN {
        f(x, out);
    } else {
        out.par_chunks_mut(8192)
            .zip(x.par_chunks(8192))
            .for_each(|(o, i)| f(i, o));
    }
}

/// Standard normal CDF of each element (see [`crate::normal`]).
///
/// # Panics
/// When `x` and `out` differ in length.
pub fn norm_cdf(x: &[f64], out: &mut [f64]) {
    apply(x, out, cdf_chunk);
}

/// Standard normal PDF of each element.
///
/// # Panics
/// When `x` and `out` differ in length.
pub fn norm_pdf(x: &[f64], out: &mut [f64]) {
    apply(x, out, pdf_chunk);
}

//! European prices and greeks over many options: tiling, validation, parallelism.
//!
//! Inputs come through [`Operands`], which hands out one tile of an argument at a time; the
//! core never sees strides or broadcasting (the binding layer implements `Operands` over numpy
//! views, [`SliceOperands`] does it over plain slices). Work is split into chunks run on the
//! rayon pool above [`PARALLEL_THRESHOLD`] options.

use rayon::prelude::*;

use crate::dispatch::multiversion;
use crate::error::{Error, Result};
use crate::fastmath::Arith;
use crate::greeks::{Greek, GreekSet};
use crate::model::Model;
use crate::tile::{Arg, OutSlots, Scratch, Tile, TILE};
use crate::validate;
use crate::{bachelier, black, implied};

/// What to do with an option whose inputs are outside the model's domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnInvalid {
    /// Fail the whole call with [`Error::InvalidInput`] naming the first offending element.
    Raise,
    /// Write NaN for that option and go on.
    Nan,
}

/// Below this many options a call runs on the calling thread (see `parallel_threshold`).
/// Measured on 2 cores (sequential vs pooled, price and all greeks, best of 15): equal at 4096
/// options, pooled 1.8x faster for prices and 1.2x for greeks at 8192 and beyond.
pub const PARALLEL_THRESHOLD: usize = 8 * 1024;

/// The parallel threshold in force: [`PARALLEL_THRESHOLD`], or `STRIKEGRID_PARALLEL_THRESHOLD`
/// from the environment (read once; for tuning on other machines).
pub fn parallel_threshold() -> usize {
    static T: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *T.get_or_init(|| {
        std::env::var("STRIKEGRID_PARALLEL_THRESHOLD")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(PARALLEL_THRESHOLD)
    })
}
/// Options per parallel task.
const CHUNK: usize = 16 * TILE;

/// A source of input tiles.
pub trait Operands: Sync {
    /// Number of options.
    fn len(&self) -> usize;
    /// Whether there are no options.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Elements `start .. start + buf.len()` of argument `arg`, either borrowed from the
    /// source when it holds them contiguously or copied into `buf`.
    fn tile<'s>(&'s self, arg: Arg, start: usize, buf: &'s mut [f64]) -> &'s [f64];
    /// `Some(value)` when every element of `arg` is `value` (a broadcast scalar): its tile
    /// buffer is then filled once per chunk instead of once per tile.
    fn constant(&self, _arg: Arg) -> Option<f64> {
        None
    }
}

/// [`Operands`] over seven slices of one length (public argument order).
#[derive(Debug, Clone, Copy)]
pub struct SliceOperands<'a> {
    args: [&'a [f64]; 7],
}

impl<'a> SliceOperands<'a> {
    /// Checks that all slices have the same length.
    pub fn new(args: [&'a [f64]; 7]) -> Result<SliceOperands<'a>> {
        let n = args[0].len();
        if let Some(a) = Arg::ALL.iter().find(|a| args[**a as usize].len() != n) {
            return Err(Error::Shape(format!(
                "{} has {} elements, kind has {n}",
                a.name(),
                args[*a as usize].len()
            )));
        }
        Ok(SliceOperands { args })
    }
}

impl Operands for SliceOperands<'_> {
    fn len(&self) -> usize {
        self.args[0].len()
    }
    fn tile<'s>(&'s self, arg: Arg, start: usize, buf: &'s mut [f64]) -> &'s [f64] {
        &self.args[arg as usize][start..start + buf.len()]
    }
}

/// A full tile of options with the chunk's scratch arrays; returns the kernels' count of
/// possibly invalid options (0 when all are valid; the caller then checks the tile exactly and
/// replaces the outputs of the invalid ones).
#[inline(always)]
fn kernel_tile<A: Arith>(
    model: Model,
    set: GreekSet,
    tile: &Tile,
    outs: &mut OutSlots,
    scratch: &mut Scratch<TILE>,
) -> usize {
    kernel_cap::<A, TILE>(model, set, tile, outs, scratch)
}

/// One option (the scalar path), with one-element scratch arrays.
#[inline(always)]
fn kernel_one<A: Arith>(model: Model, set: GreekSet, tile: &Tile, outs: &mut OutSlots) {
    let mut scratch = Scratch::<1>::new();
    // The caller validated the option.
    kernel_cap::<A, 1>(model, set, tile, outs, &mut scratch);
}

#[inline(always)]
fn kernel_cap<A: Arith, const CAP: usize>(
    model: Model,
    set: GreekSet,
    tile: &Tile,
    outs: &mut OutSlots,
    scratch: &mut Scratch<CAP>,
) -> usize {
    if set == GreekSet::from_iter([Greek::Price]) {
        let Some(out) = outs[Greek::Price as usize].as_deref_mut() else {
            return 0;
        };
        match model {
            Model::Bsm => black::price_tile::<A, { black::BSM }, CAP>(tile, out, scratch),
            Model::Black76 => black::price_tile::<A, { black::BLACK76 }, CAP>(tile, out, scratch),
            Model::Inverse => black::price_tile::<A, { black::INVERSE }, CAP>(tile, out, scratch),
            Model::Bachelier => bachelier::price_tile::<A>(tile, out),
        }
    } else {
        match model {
            Model::Bsm => black::greeks_tile::<A, { black::BSM }, CAP>(tile, set, outs, scratch),
            Model::Black76 => {
                black::greeks_tile::<A, { black::BLACK76 }, CAP>(tile, set, outs, scratch)
            }
            Model::Inverse => {
                black::greeks_tile::<A, { black::INVERSE }, CAP>(tile, set, outs, scratch)
            }
            Model::Bachelier => bachelier::greeks_tile::<A, CAP>(tile, set, outs, scratch),
        }
    }
}

multiversion! {
    /// Computes the requested outputs of one tile with the widest SIMD the CPU has; returns the
    /// count of possibly invalid options (see [`kernel_tile`]).
    fn run_kernel(
        model: Model,
        set: GreekSet,
        tile: &Tile,
        outs: &mut OutSlots,
        scratch: &mut Scratch<TILE>,
    ) -> usize => kernel_tile
}

multiversion! {
    /// Computes the requested outputs of one option with the widest SIMD the CPU has.
    fn run_kernel_one(model: Model, set: GreekSet, tile: &Tile, outs: &mut OutSlots) => kernel_one
}

/// A thread's working memory for [`run_range`]: tile buffers of constant or copied arguments,
/// validity marks and the kernels' scratch arrays (35 KB). Kept between chunks and calls, so
/// that a chunk neither allocates nor zeroes it (zeroing a fresh one per chunk of 3072 options
/// was 0.9% of a profile of price calls). Every part is written before it is read.
struct Workspace {
    bufs: [[f64; TILE]; 7],
    valid: [bool; TILE],
    scratch: Box<Scratch<TILE>>,
}

impl Workspace {
    fn boxed() -> Box<Workspace> {
        Box::new(Workspace {
            bufs: [[0.0; TILE]; 7],
            valid: [true; TILE],
            scratch: Scratch::boxed(),
        })
    }
}

thread_local! {
    static WORKSPACE: std::cell::RefCell<Option<Box<Workspace>>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs options `start .. start + len` (one chunk) tile by tile. `outs` are the chunk's
/// output pieces in the order of `order`. Returns the local index of an invalid option in
/// raise mode.
fn run_range<O: Operands>(
    model: Model,
    set: GreekSet,
    order: &[Greek],
    policy: OnInvalid,
    ops: &O,
    start: usize,
    outs: &mut [&mut [f64]],
) -> std::result::Result<(), usize> {
    WORKSPACE.with(|cell| {
        let mut own = cell.try_borrow_mut();
        let mut nested = None;
        let ws = match own.as_mut() {
            Ok(own) => own.get_or_insert_with(Workspace::boxed),
            // Only if a kernel ever ran a nested call on this thread: a workspace of its own.
            Err(_) => nested.insert(Workspace::boxed()),
        };
        run_range_in(ws, model, set, order, policy, ops, start, outs)
    })
}

/// [`run_range`] in the given working memory.
#[allow(clippy::too_many_arguments)]
fn run_range_in<O: Operands>(
    ws: &mut Workspace,
    model: Model,
    set: GreekSet,
    order: &[Greek],
    policy: OnInvalid,
    ops: &O,
    start: usize,
    outs: &mut [&mut [f64]],
) -> std::result::Result<(), usize> {
    let len = outs.first().map_or(0, |o| o.len());
    let Workspace {
        bufs,
        valid,
        scratch,
    } = ws;
    let scratch = &mut **scratch;
    let constants = Arg::ALL.map(|a| ops.constant(a));
    for (buf, c) in bufs.iter_mut().zip(constants) {
        if let Some(c) = c {
            buf.fill(c);
        }
    }
    let mut lo = 0;
    while lo < len {
        let m = TILE.min(len - lo);
        let [b0, b1, b2, b3, b4, b5, b6] = &mut *bufs;
        let at = start + lo;
        let c = |a: Arg| constants[a as usize].is_some();
        let tile = Tile {
            kind: column(ops, c(Arg::Kind), Arg::Kind, at, &mut b0[..m]),
            spot: column(ops, c(Arg::Spot), Arg::Spot, at, &mut b1[..m]),
            strike: column(ops, c(Arg::Strike), Arg::Strike, at, &mut b2[..m]),
            expiry: column(ops, c(Arg::Expiry), Arg::Expiry, at, &mut b3[..m]),
            vol: column(ops, c(Arg::Vol), Arg::Vol, at, &mut b4[..m]),
            rate: column(ops, c(Arg::Rate), Arg::Rate, at, &mut b5[..m]),
            div: column(ops, c(Arg::Div), Arg::Div, at, &mut b6[..m]),
        };
        let mut slots: OutSlots = Default::default();
        for (g, o) in order.iter().zip(outs.iter_mut()) {
            slots[*g as usize] = Some(&mut o[lo..lo + m]);
        }
        // The kernel counts possibly invalid options as it reads the inputs (a superset, see
        // `validate::may_be_invalid`); the rare tile with some is then checked option by option.
        let bad = match run_kernel(model, set, &tile, &mut slots, scratch) {
            0 => 0,
            _ => validate::mark(model, &tile, &mut valid[..m]),
        };
        if bad > 0 && policy == OnInvalid::Raise {
            let i = valid[..m].iter().position(|ok| !ok).unwrap_or(0);
            return Err(lo + i);
        }
        if bad > 0 {
            for o in slots.iter_mut().flatten() {
                for (x, ok) in o.iter_mut().zip(&valid[..m]) {
                    if !ok {
                        *x = f64::NAN;
                    }
                }
            }
        }
        lo += m;
    }
    Ok(())
}

/// One argument's tile: the pre-filled buffer of a constant argument, else the operands' tile.
#[inline(always)]
fn column<'s, O: Operands>(
    ops: &'s O,
    constant: bool,
    arg: Arg,
    start: usize,
    buf: &'s mut [f64],
) -> &'s [f64] {
    if constant {
        buf
    } else {
        ops.tile(arg, start, buf)
    }
}

/// The first invalid option of `ops`, as an error (sequential scan; error path only).
fn first_invalid<O: Operands>(model: Model, ops: &O) -> Error {
    let n = ops.len();
    let mut bufs = [[0.0f64; TILE]; 7];
    let mut start = 0;
    while start < n {
        let m = TILE.min(n - start);
        let mut cols: [&[f64]; 7] = [&[]; 7];
        let [b0, b1, b2, b3, b4, b5, b6] = &mut bufs;
        for (a, b) in Arg::ALL.iter().zip([b0, b1, b2, b3, b4, b5, b6]) {
            cols[*a as usize] = ops.tile(*a, start, &mut b[..m]);
        }
        let tile = Tile::from_array(cols);
        for i in 0..m {
            if let Some((arg, reason)) = validate::describe(model, tile.at(i)) {
                return Error::InvalidInput {
                    arg: arg.name(),
                    index: start + i,
                    reason,
                };
            }
        }
        start += m;
    }
    Error::Shape("internal: an invalid element was reported but none was found".into())
}

/// Computes the outputs in `set` for every option of `ops`. `outs` holds one slice of length
/// `ops.len()` per member of `set`, in canonical order (`set.to_vec()`).
pub fn evaluate<O: Operands>(
    model: Model,
    set: GreekSet,
    policy: OnInvalid,
    ops: &O,
    outs: &mut [&mut [f64]],
) -> Result<()> {
    set.check_model(model)?;
    let order = set.to_vec();
    let n = ops.len();
    if outs.len() != order.len() || outs.iter().any(|o| o.len() != n) {
        return Err(Error::Shape(format!(
            "expected {} output slices of length {n}",
            order.len()
        )));
    }
    if n == 0 || order.is_empty() {
        return Ok(());
    }
    let failed = if n < parallel_threshold() {
        run_range(model, set, &order, policy, ops, 0, outs).is_err()
    } else {
        let nchunks = n.div_ceil(CHUNK);
        let mut chunks: Vec<Vec<&mut [f64]>> = (0..nchunks)
            .map(|_| Vec::with_capacity(order.len()))
            .collect();
        for o in outs.iter_mut() {
            for (c, piece) in o.chunks_mut(CHUNK).enumerate() {
                chunks[c].push(piece);
            }
        }
        chunks
            .into_par_iter()
            .enumerate()
            .try_for_each(|(c, mut pieces)| {
                run_range(model, set, &order, policy, ops, c * CHUNK, &mut pieces)
            })
            .is_err()
    };
    if failed {
        return Err(first_invalid(model, ops));
    }
    Ok(())
}

/// Premiums of equal-length slices (public argument order), written to `out`.
#[allow(clippy::too_many_arguments)]
pub fn price(
    model: Model,
    kind: &[f64],
    spot: &[f64],
    strike: &[f64],
    expiry: &[f64],
    vol: &[f64],
    rate: &[f64],
    div: &[f64],
    policy: OnInvalid,
    out: &mut [f64],
) -> Result<()> {
    let ops = SliceOperands::new([kind, spot, strike, expiry, vol, rate, div])?;
    evaluate(
        model,
        GreekSet::from_iter([Greek::Price]),
        policy,
        &ops,
        &mut [out],
    )
}

/// Price and greeks of one option: `[kind, spot, strike, expiry, vol, rate, div]`.
/// Returns the values of `set` in canonical order. Same code path as arrays, so a scalar call
/// gives bit-for-bit the array result.
pub fn evaluate_one(
    model: Model,
    set: GreekSet,
    policy: OnInvalid,
    x: [f64; 7],
) -> Result<Vec<(Greek, f64)>> {
    let mut vals = [0.0f64; 13];
    let n = evaluate_one_into(model, set, policy, x, &mut vals)?;
    Ok(set
        .to_vec()
        .into_iter()
        .zip(vals[..n].iter().copied())
        .collect())
}

/// Like [`evaluate_one`], writing the values of `set` in canonical order into `vals` without
/// allocating; returns how many were written.
pub fn evaluate_one_into(
    model: Model,
    set: GreekSet,
    policy: OnInvalid,
    x: [f64; 7],
    vals: &mut [f64; 13],
) -> Result<usize> {
    set.check_model(model)?;
    if let Some((arg, reason)) = validate::describe(model, x) {
        return match policy {
            OnInvalid::Raise => Err(Error::InvalidInput {
                arg: arg.name(),
                index: 0,
                reason,
            }),
            OnInvalid::Nan => {
                vals[..set.len()].fill(f64::NAN);
                Ok(set.len())
            }
        };
    }
    let cols = x.map(|v| [v]);
    let tile = Tile::from_array([
        &cols[0], &cols[1], &cols[2], &cols[3], &cols[4], &cols[5], &cols[6],
    ]);
    let mut slots: OutSlots = Default::default();
    let mut next = vals.as_mut_slice();
    for g in Greek::STANDARD
        .iter()
        .chain(std::iter::once(&Greek::DeltaPa))
    {
        if set.has(*g) {
            let (head, tail) = next.split_at_mut(1);
            slots[*g as usize] = Some(head);
            next = tail;
        }
    }
    run_kernel_one(model, set, &tile, &mut slots);
    Ok(set.len())
}

/// Premium of one option.
#[allow(clippy::too_many_arguments)]
pub fn price_one(
    model: Model,
    kind: f64,
    spot: f64,
    strike: f64,
    expiry: f64,
    vol: f64,
    rate: f64,
    div: f64,
    policy: OnInvalid,
) -> Result<f64> {
    let set = GreekSet::from_iter([Greek::Price]);
    let x = [kind, spot, strike, expiry, vol, rate, div];
    let mut vals = [0.0; 13];
    evaluate_one_into(model, set, policy, x, &mut vals)?;
    Ok(vals[0])
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn implied_body<A: Arith>(
    model: Model,
    premium: &[f64],
    tile: &Tile,
    vols: &mut [f64],
    status: &mut [u8],
) {
    implied::implied_many::<A>(model, premium, tile, vols, status);
}

multiversion! {
    /// Implied vols of one tile with the widest SIMD the CPU has (scalar code, FMA helps).
    fn run_implied(
        model: Model,
        premium: &[f64],
        tile: &Tile,
        vols: &mut [f64],
        status: &mut [u8],
    ) => implied_body
}

/// Implied volatilities of the quotes in `ops`, whose `Vol` slot holds the premiums.
/// Writes the vols (NaN where none exists) and a [`implied::Status`] code per quote. With
/// [`OnInvalid::Raise`], invalid inputs (not premiums outside the bounds) fail the call.
pub fn implied_vol<O: Operands>(
    model: Model,
    policy: OnInvalid,
    ops: &O,
    vols: &mut [f64],
    status: &mut [u8],
) -> Result<()> {
    let n = ops.len();
    if vols.len() != n || status.len() != n {
        return Err(Error::Shape(format!(
            "expected output slices of length {n}"
        )));
    }
    let run =
        |start: usize, vols: &mut [f64], status: &mut [u8]| -> std::result::Result<(), usize> {
            let mut bufs = [[0.0f64; TILE]; 7];
            let mut lo = 0;
            while lo < vols.len() {
                let m = TILE.min(vols.len() - lo);
                let [b0, b1, b2, b3, b4, b5, b6] = &mut bufs;
                let at = start + lo;
                let tile = Tile {
                    kind: ops.tile(Arg::Kind, at, &mut b0[..m]),
                    spot: ops.tile(Arg::Spot, at, &mut b1[..m]),
                    strike: ops.tile(Arg::Strike, at, &mut b2[..m]),
                    expiry: ops.tile(Arg::Expiry, at, &mut b3[..m]),
                    vol: ops.tile(Arg::Vol, at, &mut b4[..m]),
                    rate: ops.tile(Arg::Rate, at, &mut b5[..m]),
                    div: ops.tile(Arg::Div, at, &mut b6[..m]),
                };
                let (v, st) = (&mut vols[lo..lo + m], &mut status[lo..lo + m]);
                run_implied(model, tile.vol, &tile, v, st);
                if policy == OnInvalid::Raise {
                    if let Some(i) = st
                        .iter()
                        .position(|s| *s == implied::Status::InvalidInput as u8)
                    {
                        return Err(lo + i);
                    }
                }
                lo += m;
            }
            Ok(())
        };
    // Implied vols cost far more per quote than prices: split early.
    let failed = if n < PARALLEL_THRESHOLD / 8 {
        run(0, vols, status).err()
    } else {
        vols.par_chunks_mut(CHUNK / 4)
            .zip(status.par_chunks_mut(CHUNK / 4))
            .enumerate()
            .filter_map(|(c, (v, st))| {
                run(c * (CHUNK / 4), v, st)
                    .err()
                    .map(|i| c * (CHUNK / 4) + i)
            })
            .min()
    };
    if let Some(index) = failed {
        let mut bufs = [[0.0f64; 1]; 7];
        let x: Vec<f64> = Arg::ALL
            .iter()
            .zip(bufs.iter_mut())
            .map(|(a, b)| ops.tile(*a, index, b)[0])
            .collect();
        let (arg, reason) =
            implied::describe_invalid(model, x[4], x[0], x[1], x[2], x[3], x[5], x[6])
                .unwrap_or(("input", "invalid".to_string()));
        return Err(Error::InvalidInput { arg, index, reason });
    }
    Ok(())
}

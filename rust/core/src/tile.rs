//! The unit of work of every kernel: a tile of at most [`TILE`] options held in contiguous
//! slices, and the output slots a kernel writes.

use crate::greeks::Greek;

/// Options per tile: large enough to amortise per-tile work, small enough that a kernel's
/// inputs, outputs and intermediate arrays (up to 16 scratch arrays for greeks) stay in a 32 KB
/// L1 cache. Measured on 2 cores (`--example throughput`, alternated runs): 192 gave 122-125 M
/// prices/s against 107-120 for 256 and 120 for 128; greeks within 2% of each other.
pub const TILE: usize = 192;

/// Index of each input argument, in the public argument order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Arg {
    Kind = 0,
    Spot,
    Strike,
    Expiry,
    Vol,
    Rate,
    Div,
}

impl Arg {
    /// All arguments in order.
    pub const ALL: [Arg; 7] = [
        Arg::Kind,
        Arg::Spot,
        Arg::Strike,
        Arg::Expiry,
        Arg::Vol,
        Arg::Rate,
        Arg::Div,
    ];

    /// The public name.
    pub fn name(self) -> &'static str {
        match self {
            Arg::Kind => "kind",
            Arg::Spot => "spot",
            Arg::Strike => "strike",
            Arg::Expiry => "expiry",
            Arg::Vol => "vol",
            Arg::Rate => "rate",
            Arg::Div => "div",
        }
    }
}

/// Inputs of one tile: every slice has the same length (at most [`TILE`]).
/// `kind` holds +1 for calls and -1 for puts.
#[derive(Debug, Clone, Copy)]
pub struct Tile<'a> {
    pub kind: &'a [f64],
    pub spot: &'a [f64],
    pub strike: &'a [f64],
    pub expiry: &'a [f64],
    pub vol: &'a [f64],
    pub rate: &'a [f64],
    pub div: &'a [f64],
}

impl<'a> Tile<'a> {
    /// Builds a tile from the seven argument slices in public order.
    pub fn from_array(a: [&'a [f64]; 7]) -> Tile<'a> {
        Tile {
            kind: a[0],
            spot: a[1],
            strike: a[2],
            expiry: a[3],
            vol: a[4],
            rate: a[5],
            div: a[6],
        }
    }

    /// The seven argument slices in public order (kind, spot, strike, expiry, vol, rate, div),
    /// each cut to [`Tile::len`] so that a kernel's loop over `0..len` needs no bounds checks.
    #[inline(always)]
    pub fn columns(&self) -> [&'a [f64]; 7] {
        let n = self.len();
        [
            &self.kind[..n],
            &self.spot[..n],
            &self.strike[..n],
            &self.expiry[..n],
            &self.vol[..n],
            &self.rate[..n],
            &self.div[..n],
        ]
    }

    /// Number of options.
    pub fn len(&self) -> usize {
        self.kind.len()
    }

    /// Whether the tile is empty.
    pub fn is_empty(&self) -> bool {
        self.kind.is_empty()
    }

    /// The values of option `i`, in public argument order.
    pub fn at(&self, i: usize) -> [f64; 7] {
        [
            self.kind[i],
            self.spot[i],
            self.strike[i],
            self.expiry[i],
            self.vol[i],
            self.rate[i],
            self.div[i],
        ]
    }
}

/// Output slots of one tile, indexed by `Greek as usize`; a slot is `Some` when asked for.
pub type OutSlots<'o> = [Option<&'o mut [f64]>; 13];

/// Takes the slot of greek `g`, if it was asked for.
#[inline]
pub(crate) fn slot<'s, 'o>(outs: &'s mut OutSlots<'o>, g: Greek) -> Option<&'s mut [f64]> {
    outs[g as usize].as_deref_mut()
}

/// Number of working arrays a greeks kernel may use.
pub const SCRATCH_ARRAYS: usize = 16;

/// Working arrays of the greeks kernels (structure of arrays), allocated once per chunk of
/// tiles rather than once per tile, so no kernel call pays for setting up its stack arrays.
pub struct Scratch<const CAP: usize> {
    pub bufs: [[f64; CAP]; SCRATCH_ARRAYS],
}

impl<const CAP: usize> Scratch<CAP> {
    /// Zeroed working arrays.
    pub fn new() -> Self {
        Scratch {
            bufs: [[0.0; CAP]; SCRATCH_ARRAYS],
        }
    }

    /// Zeroed working arrays on the heap, allocated in place (no copy through the stack).
    pub fn boxed() -> Box<Self> {
        let layout = std::alloc::Layout::new::<Self>();
        // SAFETY: the layout is that of `Self` (non-zero size), the pointer is checked for
        // null, and all-zero bits are a valid value of `[[f64; CAP]; N]`.
        unsafe {
            let p = std::alloc::alloc_zeroed(layout).cast::<Self>();
            if p.is_null() {
                std::alloc::handle_alloc_error(layout);
            }
            Box::from_raw(p)
        }
    }
}

impl<const CAP: usize> Default for Scratch<CAP> {
    fn default() -> Self {
        Self::new()
    }
}

//! numpy broadcasting over the seven pricing arguments, without materialising anything:
//! a size-1 argument becomes a constant, a C-contiguous argument of the full shape is borrowed
//! tile by tile, anything else (broadcast axes, transposes, negative or gapped strides) is
//! gathered into the tile buffer by walking its strides.

use numpy::ndarray::ArrayViewD;
use strikegrid_core::european::Operands;
use strikegrid_core::tile::Arg;
use strikegrid_core::Error;

/// numpy allows at most 64 dimensions.
const MAX_DIMS: usize = 64;

enum Operand<'a> {
    Scalar(f64),
    Contiguous(&'a [f64]),
    Strided(Strided<f64>),
    /// A bool kind array (True = call), read as +1/-1 tile by tile.
    BoolContiguous(&'a [bool]),
    BoolStrided(Strided<bool>),
}

/// Element types an operand can be read from.
trait Element: Copy {
    fn value(self) -> f64;
}

impl Element for f64 {
    #[inline(always)]
    fn value(self) -> f64 {
        self
    }
}

impl Element for bool {
    #[inline(always)]
    fn value(self) -> f64 {
        if self {
            1.0
        } else {
            -1.0
        }
    }
}

/// `dst[i] = +1.0` where `src[i]` (a call), else `-1.0`: with AVX2 when the kernels run with it
/// (`dispatch::isa`; this conversion runs for every tile of a bool `kind`, and the baseline
/// build converts one byte at a time).
fn kinds_from_bools(src: &[bool], dst: &mut [f64]) {
    #[inline(always)]
    fn convert(src: &[bool], dst: &mut [f64]) {
        for (d, &b) in dst.iter_mut().zip(src) {
            *d = 2.0 * f64::from(u8::from(b)) - 1.0;
        }
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2")]
        unsafe fn avx2(src: &[bool], dst: &mut [f64]) {
            convert(src, dst)
        }
        if strikegrid_core::dispatch::isa() >= strikegrid_core::dispatch::Isa::Avx2Fma {
            // SAFETY: `isa()` only reports a level whose features the CPU has.
            return unsafe { avx2(src, dst) };
        }
    }
    convert(src, dst)
}

/// An argument's data: f64 values, or bool kinds.
pub enum ArgView<'a> {
    F64(ArrayViewD<'a, f64>),
    Bool(ArrayViewD<'a, bool>),
}

impl ArgView<'_> {
    fn shape(&self) -> &[usize] {
        match self {
            ArgView::F64(v) => v.shape(),
            ArgView::Bool(v) => v.shape(),
        }
    }
    fn ndim(&self) -> usize {
        self.shape().len()
    }
}

/// A view broadcast to the output shape: element strides (0 on broadcast axes) from `base`.
struct Strided<T> {
    base: *const T,
    shape: Vec<usize>,
    strides: Vec<isize>,
}

// SAFETY: the pointer refers to a numpy buffer kept alive and borrowed read-only (through
// rust-numpy's borrow tracking) for as long as the operands exist; it is only read.
unsafe impl<T> Send for Strided<T> {}
unsafe impl<T> Sync for Strided<T> {}

fn broadcast_strides(shape: &[usize], vshape: &[usize], vstrides: &[isize]) -> Vec<isize> {
    let nd = shape.len();
    let off = nd - vshape.len();
    let mut strides = vec![0isize; nd];
    for (d, (&l, &s)) in vshape.iter().zip(vstrides).enumerate() {
        strides[off + d] = if l == 1 { 0 } else { s };
    }
    strides
}

impl<T: Element> Strided<T> {
    fn gather(&self, start: usize, buf: &mut [f64]) {
        let nd = self.shape.len();
        if nd == 0 {
            // SAFETY: a 0-d view has exactly one element at `base`.
            buf.fill(unsafe { *self.base }.value());
            return;
        }
        let mut idx = [0usize; MAX_DIMS];
        let mut rem = start;
        let mut off: isize = 0;
        for d in (0..nd).rev() {
            idx[d] = rem % self.shape[d];
            rem /= self.shape[d];
            off += idx[d] as isize * self.strides[d];
        }
        let last = nd - 1;
        let (inner_len, inner_stride) = (self.shape[last], self.strides[last]);
        let mut j = 0;
        while j < buf.len() {
            // Run along the innermost axis, then carry into the outer ones.
            let run = (inner_len - idx[last]).min(buf.len() - j);
            for slot in &mut buf[j..j + run] {
                // SAFETY: every index stays below the view's shape, so the offset is within
                // the buffer the view describes.
                *slot = unsafe { *self.base.offset(off) }.value();
                off += inner_stride;
            }
            j += run;
            idx[last] += run;
            if idx[last] == inner_len {
                off -= inner_stride * inner_len as isize;
                idx[last] = 0;
                let mut d = last;
                while d > 0 {
                    d -= 1;
                    idx[d] += 1;
                    off += self.strides[d];
                    if idx[d] < self.shape[d] {
                        break;
                    }
                    off -= self.strides[d] * self.shape[d] as isize;
                    idx[d] = 0;
                }
            }
        }
    }
}

/// The seven arguments broadcast to one shape.
pub struct BroadcastOperands<'a> {
    shape: Vec<usize>,
    len: usize,
    ops: Vec<Operand<'a>>,
}

fn fmt_shape(s: &[usize]) -> String {
    match s.len() {
        1 => format!("({},)", s[0]),
        _ => format!(
            "({})",
            s.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

impl<'a> BroadcastOperands<'a> {
    /// Broadcasts the views (public argument order) by numpy's rules.
    pub fn new(views: &[ArgView<'a>; 7]) -> Result<BroadcastOperands<'a>, Error> {
        let nd = views.iter().map(|v| v.ndim()).max().unwrap_or(0);
        if nd > MAX_DIMS {
            return Err(Error::Shape(format!("at most {MAX_DIMS} dimensions")));
        }
        let mut shape = vec![1usize; nd];
        let mut owner: Vec<Option<usize>> = vec![None; nd];
        for (a, v) in views.iter().enumerate() {
            let off = nd - v.ndim();
            for (d, &len) in v.shape().iter().enumerate() {
                let od = off + d;
                if len == 1 {
                    continue;
                }
                if shape[od] == 1 {
                    shape[od] = len;
                    owner[od] = Some(a);
                } else if shape[od] != len {
                    let other = owner[od].map_or(0, |o| o);
                    return Err(Error::Shape(format!(
                        "shape mismatch: {} has shape {} and {} has shape {}, which cannot be \
                         broadcast together",
                        Arg::ALL[other].name(),
                        fmt_shape(views[other].shape()),
                        Arg::ALL[a].name(),
                        fmt_shape(v.shape())
                    )));
                }
            }
        }
        let len = shape.iter().product();
        let mut ops = Vec::with_capacity(7);
        for v in views.iter() {
            let full = v.shape() == shape.as_slice();
            let op = match v {
                ArgView::F64(v) if v.len() == 1 => {
                    Operand::Scalar(v.iter().next().copied().unwrap_or(f64::NAN))
                }
                ArgView::Bool(v) if v.len() == 1 => {
                    Operand::Scalar(v.iter().next().copied().map_or(f64::NAN, Element::value))
                }
                ArgView::F64(v) => match (full, v.to_slice()) {
                    (true, Some(s)) => Operand::Contiguous(s),
                    _ => Operand::Strided(Strided {
                        base: v.as_ptr(),
                        shape: shape.clone(),
                        strides: broadcast_strides(&shape, v.shape(), v.strides()),
                    }),
                },
                ArgView::Bool(v) => match (full, v.to_slice()) {
                    (true, Some(s)) => Operand::BoolContiguous(s),
                    _ => Operand::BoolStrided(Strided {
                        base: v.as_ptr(),
                        shape: shape.clone(),
                        strides: broadcast_strides(&shape, v.shape(), v.strides()),
                    }),
                },
            };
            ops.push(op);
        }
        Ok(BroadcastOperands { shape, len, ops })
    }

    /// The broadcast shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
}

impl Operands for BroadcastOperands<'_> {
    fn len(&self) -> usize {
        self.len
    }

    fn constant(&self, arg: Arg) -> Option<f64> {
        match self.ops[arg as usize] {
            Operand::Scalar(v) => Some(v),
            _ => None,
        }
    }

    fn tile<'s>(&'s self, arg: Arg, start: usize, buf: &'s mut [f64]) -> &'s [f64] {
        match &self.ops[arg as usize] {
            Operand::Scalar(v) => {
                buf.fill(*v);
                buf
            }
            Operand::Contiguous(s) => &s[start..start + buf.len()],
            Operand::Strided(g) => {
                if self.len > 0 {
                    g.gather(start, buf);
                }
                buf
            }
            Operand::BoolContiguous(s) => {
                kinds_from_bools(&s[start..start + buf.len()], buf);
                buf
            }
            Operand::BoolStrided(g) => {
                if self.len > 0 {
                    g.gather(start, buf);
                }
                buf
            }
        }
    }
}

//! Output arrays whose memory is recycled.
//!
//! A large numpy output is fresh memory: the operating system maps it on first write and zeroes
//! every page. The allocator reuses one freed 8 MB array, but not six freed together (measured:
//! allocating, filling and freeing them in a loop costs 0.30 ms for one, 0.68 ms each for six),
//! so a loop that re-prices the same grid's greeks pays that zeroing on every call: a quarter of
//! a 1M-option price+5-greeks call in a profile on 2 cores.
//! Here each large output owns a `Vec<f64>` inside a [`PooledBuffer`], the array's numpy base
//! object; when the array dies the buffer goes back to a bounded pool and the next call of a
//! similar size writes into pages that are already mapped.
//!
//! The pool holds at most `STRIKEGRID_BUFFER_POOL_MB` megabytes (default 128; 0 turns it off;
//! `buffer_pool` changes it at run time). Arrays below [`MIN_POOLED`] elements are plain numpy
//! arrays: numpy's allocator serves small sizes well.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use numpy::ndarray::ArrayViewMutD;
use numpy::PyArrayDyn;
use pyo3::prelude::*;

/// Outputs with fewer elements (256 KiB) are ordinary numpy arrays.
pub const MIN_POOLED: usize = 32 * 1024;
/// Default bound on the bytes the pool keeps, in MiB.
const DEFAULT_LIMIT_MB: usize = 128;

struct Pool {
    /// Free buffers, oldest first.
    free: Vec<Vec<f64>>,
    /// Bytes held in `free`.
    held: usize,
}

impl Pool {
    /// Frees the oldest buffers until at most `bound` bytes are held.
    fn evict_to(&mut self, bound: usize) {
        while self.held > bound && !self.free.is_empty() {
            let old = self.free.remove(0);
            self.held -= bytes(&old);
        }
    }
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    free: Vec::new(),
    held: 0,
});

/// The bound in bytes; `usize::MAX` means not read from the environment yet.
static LIMIT: AtomicUsize = AtomicUsize::new(usize::MAX);

fn limit() -> usize {
    static FROM_ENV: OnceLock<usize> = OnceLock::new();
    let l = LIMIT.load(Ordering::Relaxed);
    if l != usize::MAX {
        return l;
    }
    let mb = *FROM_ENV.get_or_init(|| {
        std::env::var("STRIKEGRID_BUFFER_POOL_MB")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(DEFAULT_LIMIT_MB)
    });
    mb.saturating_mul(1 << 20)
}

fn bytes(v: &[f64]) -> usize {
    std::mem::size_of_val(v)
}

/// A buffer of at least `len` elements: a pooled one whose size is within 1/8 above `len` (the
/// smallest such), else a new zeroed one of `len` (large zeroed allocations are fresh mapped pages,
/// zeroed lazily by the OS, so this costs no more than `np.empty`).
fn take(len: usize) -> Vec<f64> {
    if let Ok(mut pool) = POOL.lock() {
        let fits = |c: usize| c >= len && c - len <= len / 8;
        let best = pool
            .free
            .iter()
            .enumerate()
            .filter(|(_, v)| fits(v.len()))
            .min_by_key(|(_, v)| v.len())
            .map(|(i, _)| i);
        if let Some(i) = best {
            let v = pool.free.remove(i);
            pool.held -= bytes(&v);
            return v;
        }
    }
    vec![0.0; len]
}

/// Returns a buffer to the pool, evicting the oldest ones to stay within the bound.
fn give_back(v: Vec<f64>) {
    let size = bytes(&v);
    let cap = limit();
    if size > cap {
        return;
    }
    // Never block in a destructor: a contended pool simply frees the buffer.
    let Ok(mut pool) = POOL.try_lock() else {
        return;
    };
    pool.evict_to(cap - size);
    pool.held += size;
    pool.free.push(v);
}

/// The numpy base object of a pooled output array: owns its memory and returns it to the pool
/// when the array (and every view of it) is gone.
#[pyclass(module = "strikegrid._core", frozen)]
pub struct PooledBuffer {
    data: Vec<f64>,
}

impl Drop for PooledBuffer {
    fn drop(&mut self) {
        give_back(std::mem::take(&mut self.data));
    }
}

/// A C-contiguous float64 array of `shape` with unspecified contents (as `np.empty`).
/// Callers write every element before the array reaches Python code.
pub fn empty<'py>(py: Python<'py>, shape: &[usize]) -> Bound<'py, PyArrayDyn<f64>> {
    let len = shape.iter().product::<usize>();
    // SAFETY (np.empty): see above.
    let plain = || unsafe { PyArrayDyn::<f64>::new(py, shape.to_vec(), false) };
    if len < MIN_POOLED || limit() == 0 {
        return plain();
    }
    let mut data = take(len);
    let ptr = data.as_mut_ptr();
    let Ok(owner) = Bound::new(py, PooledBuffer { data }) else {
        return plain();
    };
    // SAFETY: `ptr` points to at least `len` initialised f64 owned by `owner`, which becomes
    // the array's base object and never touches or reallocates its vector while alive.
    let view = unsafe { ArrayViewMutD::from_shape_ptr(shape.to_vec(), ptr) };
    unsafe { PyArrayDyn::borrow_from_array(&view, owner.into_any()) }
}

/// `buffer_pool(limit_bytes=None)`: sets the pool's bound when given (0 turns pooling off and
/// frees what is held) and returns `(limit_bytes, held_bytes, buffers)`.
#[pyfunction]
#[pyo3(signature = (limit_bytes=None))]
pub fn buffer_pool(limit_bytes: Option<usize>) -> (usize, usize, usize) {
    if let Some(l) = limit_bytes {
        LIMIT.store(l.min(usize::MAX - 1), Ordering::Relaxed);
        if let Ok(mut pool) = POOL.lock() {
            pool.evict_to(l);
        }
    }
    let (held, count) = POOL
        .lock()
        .map(|p| (p.held, p.free.len()))
        .unwrap_or((0, 0));
    (limit(), held, count)
}

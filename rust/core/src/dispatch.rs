//! Run-time choice of the instruction set a kernel runs with.
//!
//! Kernels are generic `#[inline(always)]` code; here each is instantiated once for plain
//! x86-64 (SSE2, separate multiply/add) and once inside functions compiled with
//! `avx2,fma` and with `avx512f,avx512dq,avx512vl,fma`, and the widest the CPU supports is
//! picked at run time with `is_x86_feature_detected!`. The build itself never targets the build
//! machine's CPU, so a wheel runs on any x86-64.
//!
//! `STRIKEGRID_SIMD=generic|avx2|avx512` (read once) caps the choice, for tests and
//! benchmarks; a level the CPU lacks is never used.

use std::sync::OnceLock;

/// An instruction-set level a kernel can run with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isa {
    /// Baseline for the architecture (SSE2 on x86-64), separate multiply and add.
    Generic,
    /// AVX2 with fused multiply-add.
    Avx2Fma,
    /// AVX-512 (F, DQ, VL) with fused multiply-add.
    Avx512,
}

impl Isa {
    /// A short name (`generic`, `avx2`, `avx512`).
    pub fn name(self) -> &'static str {
        match self {
            Isa::Generic => "generic",
            Isa::Avx2Fma => "avx2",
            Isa::Avx512 => "avx512",
        }
    }
}

fn detect() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        let best = if is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512dq")
            && is_x86_feature_detected!("avx512vl")
            && is_x86_feature_detected!("fma")
        {
            Isa::Avx512
        } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            Isa::Avx2Fma
        } else {
            Isa::Generic
        };
        let cap = match std::env::var("STRIKEGRID_SIMD").ok().as_deref() {
            Some("generic") => Isa::Generic,
            Some("avx2") => Isa::Avx2Fma,
            _ => Isa::Avx512,
        };
        best.min(cap)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        Isa::Generic
    }
}

/// The instruction set kernels use in this process (detected once).
pub fn isa() -> Isa {
    static ISA: OnceLock<Isa> = OnceLock::new();
    *ISA.get_or_init(detect)
}

/// Defines `$name(args) -> ret` that calls the generic `$body::<A>(args)` with the widest
/// instruction set available. `$body` must be `#[inline(always)]` so that it is compiled
/// inside each target-feature wrapper.
macro_rules! multiversion {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? => $body:ident) => {
        $(#[$m])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                    $body::<$crate::fastmath::Fused>($($arg),*)
                }
                #[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
                unsafe fn avx512($($arg: $ty),*) $(-> $ret)? {
                    $body::<$crate::fastmath::Fused>($($arg),*)
                }
                match $crate::dispatch::isa() {
                    // SAFETY: isa() only reports a level whose features the CPU has.
                    $crate::dispatch::Isa::Avx512 => return unsafe { avx512($($arg),*) },
                    // SAFETY: as above.
                    $crate::dispatch::Isa::Avx2Fma => return unsafe { avx2($($arg),*) },
                    $crate::dispatch::Isa::Generic => {}
                }
            }
            $body::<$crate::fastmath::Plain>($($arg),*)
        }
    };
}
pub(crate) use multiversion;

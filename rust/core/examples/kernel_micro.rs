//! Nanoseconds per option of the lognormal kernels and of their building blocks (erfcx, exp,
//! ln, ...) on one tile of L1-resident data, AVX2+FMA build: where the kernel's time goes, with
//! no memory traffic. Multiply by the clock in GHz for cycles per option.
//! `cargo run --release -p strikegrid-core --example kernel_micro` (needs an AVX2+FMA CPU)
use std::hint::black_box;
use std::time::Instant;
use strikegrid_core::black;
use strikegrid_core::fastmath::{exp, ln, Fused};
use strikegrid_core::normal::{erfcx, half_gauss};
use strikegrid_core::tile::{Scratch, Tile, TILE};

fn lcg(seed: &mut u64) -> f64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*seed >> 11) as f64 / (1u64 << 53) as f64
}

fn time(name: &str, f: &dyn Fn()) {
    let reps = 20_000;
    let mut best = f64::MAX;
    for _ in 0..7 {
        let st = Instant::now();
        for _ in 0..reps {
            f();
        }
        best = best.min(st.elapsed().as_secs_f64());
    }
    let per = best / (reps * TILE) as f64;
    println!("{name:14} {:6.2} ns/option", per * 1e9);
}

macro_rules! piece {
    ($name:ident, |$i:ident, $a:ident, $b:ident| $e:expr) => {
        #[target_feature(enable = "avx2,fma")]
        unsafe fn $name(a: &[f64], b: &[f64], out: &mut [f64]) {
            let (a, b, out) = (&a[..TILE], &b[..TILE], &mut out[..TILE]);
            for $i in 0..TILE {
                let ($a, $b) = (a[$i], b[$i]);
                out[$i] = $e;
            }
        }
    };
}
piece!(p_erfcx, |i, a, _b| erfcx::<Fused>(a));
piece!(p_exp, |i, a, _b| exp::<Fused>(-a));
piece!(p_half_gauss, |i, a, b| half_gauss::<Fused>(b, a));
piece!(p_ln, |i, a, _b| ln::<Fused>(a));
piece!(p_div, |i, a, b| a / b);
piece!(p_sqrt, |i, a, _b| a.sqrt());
piece!(p_fma, |i, a, b| a.mul_add(b, 1.0));

#[target_feature(enable = "avx2,fma")]
// The kernels' count of invalid options is returned and consumed (`black_box`): a discarded
// return value lets LLVM delete the validation from the timed code (it did; measured on 1M
// options, the same kernel took 14.0 ns an option without the count and 15.6 ns with it).
unsafe fn p_price(tile: &Tile, out: &mut [f64], scratch: &mut Scratch<TILE>) -> usize {
    black::price_tile::<Fused, { black::BSM }, TILE>(tile, out, scratch)
}

#[target_feature(enable = "avx2,fma")]
unsafe fn p_greeks(tile: &Tile, outs: &mut [Vec<f64>], scratch: &mut Scratch<TILE>) -> usize {
    use strikegrid_core::{Greek, GreekSet};
    // Price and the five first-order greeks, the first six standard outputs (slots filled
    // without allocating: this runs inside the timed loop).
    let six = &Greek::STANDARD[..6];
    let set = GreekSet::from_iter(six.iter().copied());
    let mut slots: strikegrid_core::tile::OutSlots = Default::default();
    for (g, o) in six.iter().zip(outs.iter_mut()) {
        slots[*g as usize] = Some(&mut o[..]);
    }
    black::greeks_tile::<Fused, { black::BSM }, TILE>(tile, set, &mut slots, scratch)
}

fn main() {
    assert!(
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
        "this example times the AVX2+FMA build"
    );
    let mut seed = 5u64;
    let mut col =
        |f: &dyn Fn(f64) -> f64| -> Vec<f64> { (0..TILE).map(|_| f(lcg(&mut seed))).collect() };
    let kind = col(&|u| if u < 0.5 { 1.0 } else { -1.0 });
    let s = col(&|u| 90.0 + 20.0 * u);
    let k = col(&|u| 50.0 + 100.0 * u);
    let t = col(&|u| 0.02 + 2.0 * u);
    let v = col(&|u| 0.05 + 0.75 * u);
    let r = vec![0.03; TILE];
    let q = vec![0.01; TILE];
    let tile = Tile::from_array([&kind, &s, &k, &t, &v, &r, &q]);
    let out = std::cell::RefCell::new(vec![0.0; TILE]);
    let scratch = std::cell::RefCell::new(Scratch::<TILE>::boxed());
    time("price_tile", &|| unsafe {
        black_box(p_price(
            black_box(&tile),
            &mut out.borrow_mut(),
            &mut scratch.borrow_mut(),
        ));
    });
    let gouts = std::cell::RefCell::new(vec![vec![0.0; TILE]; 6]);
    time("greeks6", &|| unsafe {
        black_box(p_greeks(
            black_box(&tile),
            &mut gouts.borrow_mut(),
            &mut scratch.borrow_mut(),
        ));
    });
    let ys: Vec<f64> = (0..TILE).map(|i| i as f64 * 0.02).collect();
    type P = unsafe fn(&[f64], &[f64], &mut [f64]);
    let pieces: [(&str, P, &[f64]); 7] = [
        ("erfcx", p_erfcx, &ys),
        ("exp", p_exp, &v),
        ("half_gauss", p_half_gauss, &v),
        ("ln", p_ln, &s),
        ("div", p_div, &s),
        ("sqrt", p_sqrt, &s),
        ("fma", p_fma, &s),
    ];
    for (name, f, a) in pieces {
        time(name, &|| unsafe {
            f(black_box(a), black_box(&k), &mut out.borrow_mut())
        });
    }
    black_box(&out);
}

use std::time::Instant;
use strikegrid_core::fastmath::{exp, ln, Fused};
use strikegrid_core::normal::cdf;
#[target_feature(enable = "avx2,fma")]
unsafe fn run_exp(x: &[f64], o: &mut [f64]) {
    for (o, &x) in o.iter_mut().zip(x) {
        *o = exp::<Fused>(x);
    }
}
#[target_feature(enable = "avx2,fma")]
unsafe fn run_ln(x: &[f64], o: &mut [f64]) {
    for (o, &x) in o.iter_mut().zip(x) {
        *o = ln::<Fused>(x);
    }
}
#[target_feature(enable = "avx2,fma")]
unsafe fn run_cdf(x: &[f64], o: &mut [f64]) {
    for (o, &x) in o.iter_mut().zip(x) {
        *o = cdf::<Fused>(x);
    }
}
fn main() {
    price_bench();
    one_bench();
    let n = 1 << 20;
    let x: Vec<f64> = (0..n)
        .map(|i| -8.0 + 16.0 * (i as f64) / n as f64)
        .collect();
    let xp: Vec<f64> = x.iter().map(|v| v.abs() + 0.1).collect();
    let mut o = vec![0.0; n];
    for (name, f, inp) in [
        ("exp", run_exp as unsafe fn(&[f64], &mut [f64]), &x),
        ("ln", run_ln, &xp),
        ("cdf", run_cdf, &x),
    ] {
        let mut best = f64::MAX;
        for _ in 0..10 {
            let st = Instant::now();
            unsafe { f(inp, &mut o) };
            best = best.min(st.elapsed().as_secs_f64());
        }
        println!("{name}: {:.2} ns/elem", best / n as f64 * 1e9);
    }
}
#[allow(dead_code)]
mod price {
    use strikegrid_core::black::price_tile;
    use strikegrid_core::fastmath::Fused;
    use strikegrid_core::tile::Tile;
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn run(t: &Tile, o: &mut [f64]) {
        price_tile::<Fused, 0>(t, o)
    }
}
pub fn price_bench() {
    let n = 256;
    let kind: Vec<f64> = (0..n)
        .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
        .collect();
    let s = vec![100.0; n];
    let k: Vec<f64> = (0..n).map(|i| 50.0 + i as f64 * 0.4).collect();
    let t = vec![0.5; n];
    let v = vec![0.2; n];
    let r = vec![0.03; n];
    let q = vec![0.01; n];
    let tile = strikegrid_core::tile::Tile {
        kind: &kind,
        spot: &s,
        strike: &k,
        expiry: &t,
        vol: &v,
        rate: &r,
        div: &q,
    };
    let mut o = vec![0.0; n];
    let st = std::time::Instant::now();
    for _ in 0..4000 {
        unsafe { price::run(&tile, &mut o) }
    }
    println!(
        "price tile: {:.2} ns/elem",
        st.elapsed().as_secs_f64() / (4000.0 * n as f64) * 1e9
    );
}
pub fn one_bench() {
    use strikegrid_core::{european::price_one, Model, OnInvalid};
    let st = std::time::Instant::now();
    let mut acc = 0.0;
    for i in 0..1_000_000 {
        acc += price_one(
            Model::Bsm,
            1.0,
            100.0,
            105.0 + (i % 7) as f64,
            0.5,
            0.2,
            0.03,
            0.01,
            OnInvalid::Raise,
        )
        .unwrap();
    }
    println!(
        "price_one: {:.1} ns/call ({acc})",
        st.elapsed().as_secs_f64() * 1e3
    );
}

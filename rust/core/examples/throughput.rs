//! Single-thread and pooled kernel throughput on 1M mixed options (no Python involved).
//! `cargo run --release -p strikegrid-core --example throughput`
use std::time::Instant;
use strikegrid_core::european::{evaluate, SliceOperands};
use strikegrid_core::{Greek, GreekSet, Model, OnInvalid};

fn main() {
    let n = 1_000_000;
    let mut seed = 12345u64;
    let mut u = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let kind: Vec<f64> = (0..n).map(|_| if u() < 0.5 { 1.0 } else { -1.0 }).collect();
    let s: Vec<f64> = (0..n).map(|_| 80.0 + 40.0 * u()).collect();
    let k: Vec<f64> = (0..n).map(|_| 50.0 + 100.0 * u()).collect();
    let t: Vec<f64> = (0..n).map(|_| 0.02 + 2.0 * u()).collect();
    let v: Vec<f64> = (0..n).map(|_| 0.05 + 0.75 * u()).collect();
    let r = vec![0.03; n];
    let q = vec![0.01; n];
    let q0 = vec![0.0; n];
    println!("isa: {}", strikegrid_core::dispatch::isa().name());
    let sets: Vec<(&str, GreekSet)> = vec![
        ("price", GreekSet::from_iter([Greek::Price])),
        (
            "price+5",
            GreekSet::from_iter([
                Greek::Price,
                Greek::Delta,
                Greek::Gamma,
                Greek::Vega,
                Greek::Theta,
                Greek::Rho,
            ]),
        ),
        ("all12", GreekSet::standard()),
    ];
    for model in [Model::Bsm, Model::Black76, Model::Bachelier, Model::Inverse] {
        let qq = if model == Model::Bsm { &q } else { &q0 };
        let ops = SliceOperands::new([&kind, &s, &k, &t, &v, &r, qq]).unwrap();
        for (name, set) in &sets {
            let m = set.len();
            let mut outs: Vec<Vec<f64>> = vec![vec![0.0; n]; m];
            let mut best = f64::MAX;
            for _ in 0..15 {
                let mut sl: Vec<&mut [f64]> = outs.iter_mut().map(|o| o.as_mut_slice()).collect();
                let st = Instant::now();
                evaluate(model, *set, OnInvalid::Raise, &ops, &mut sl).unwrap();
                best = best.min(st.elapsed().as_secs_f64());
            }
            println!(
                "{:10} {:8} {:8.1} M/s",
                model.name(),
                name,
                n as f64 / best / 1e6
            );
        }
    }
}

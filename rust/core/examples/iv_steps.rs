//! Householder steps taken by the implied-vol solver on random quotes, and its throughput
//! on one core. `cargo run --release -p strikegrid-core --example iv_steps`
use std::time::Instant;
use strikegrid_core::european::price_one;
use strikegrid_core::fastmath::Fused;
use strikegrid_core::implied::implied_one;
use strikegrid_core::{Model, OnInvalid};

fn main() {
    let n = 200_000;
    let mut seed = 99u64;
    let mut u = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let quotes: Vec<[f64; 6]> = (0..n)
        .map(|_| {
            let phi = if u() < 0.5 { 1.0 } else { -1.0 };
            let (s, k, t, v) = (
                80.0 + 40.0 * u(),
                50.0 + 100.0 * u(),
                0.02 + 2.0 * u(),
                0.05 + 0.75 * u(),
            );
            let p = price_one(Model::Bsm, phi, s, k, t, v, 0.03, 0.01, OnInvalid::Raise).unwrap();
            [p, phi, s, k, t, v]
        })
        .collect();
    let mut hist = [0usize; 8];
    let start = Instant::now();
    for q in &quotes {
        let (_, _, steps) =
            implied_one::<Fused>(Model::Bsm, q[0], q[1], q[2], q[3], q[4], 0.03, 0.01);
        hist[steps as usize] += 1;
    }
    let dt = start.elapsed().as_secs_f64();
    println!(
        "{:.0} ns/quote on one core; steps histogram {:?}",
        dt / n as f64 * 1e9,
        hist
    );
}

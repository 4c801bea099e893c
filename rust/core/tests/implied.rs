//! Implied volatility: round trips, bounds, statuses.

use strikegrid_core::european::price_one;
use strikegrid_core::fastmath::Plain;
use strikegrid_core::implied::{implied_one, Status};
use strikegrid_core::{Model, OnInvalid};

fn price(model: Model, x: [f64; 7]) -> f64 {
    price_one(
        model,
        x[0],
        x[1],
        x[2],
        x[3],
        x[4],
        x[5],
        x[6],
        OnInvalid::Raise,
    )
    .unwrap()
}

#[test]
fn round_trip_grid_lognormal() {
    let mut worst = 0.0f64;
    let mut max_steps = 0;
    let mut count = 0;
    for model in [Model::Bsm, Model::Black76, Model::Inverse] {
        for &phi in &[1.0, -1.0] {
            for &t in &[1.0 / 8760.0, 1.0 / 365.0, 0.1, 1.0, 5.0, 30.0] {
                for &v in &[0.001, 0.01, 0.1, 0.3, 1.0, 2.0, 5.0] {
                    let sd = v * f64::sqrt(t);
                    for j in -16..=16 {
                        let x = j as f64 * 0.5 * sd; // |ln(F/K)| up to 8 sd
                        let k = 100.0 * f64::exp(-x);
                        let q = if model == Model::Bsm { 0.01 } else { 0.0 };
                        let inp = [phi, 100.0, k, t, v, 0.02, q];
                        let p = price(model, inp);
                        let (vh, st, steps) =
                            implied_one::<Plain>(model, p, phi, 100.0, k, t, 0.02, q);
                        // Sensitivity criterion: the premium must move by more than a few ulps
                        // when vol moves by 1e-12 relative.
                        let up = price(model, [phi, 100.0, k, t, v * (1.0 + 1e-10), 0.02, q]);
                        if (up - p).abs()
                            <= 64.0 * f64::EPSILON * p.abs().max(f64::MIN_POSITIVE) * 100.0
                        {
                            continue;
                        }
                        count += 1;
                        assert_eq!(
                            st,
                            Status::Ok,
                            "{model:?} phi={phi} t={t} v={v} x={x} p={p}"
                        );
                        let err = ((vh - v) / v).abs();
                        assert!(err < 1e-12, "{model:?} phi={phi} t={t} v={v} x={x} p={p}: {vh} err={err:e} steps={steps}");
                        worst = worst.max(err);
                        max_steps = max_steps.max(steps);
                    }
                }
            }
        }
    }
    eprintln!(
        "round trips: {count}, worst rel error {worst:e}, most Householder steps {max_steps}"
    );
}

#[test]
fn bounds_give_nan_and_status() {
    // Call S=100 K=90: intrinsic 10 (r = q = 0), upper bound 100.
    let (v, st, _) = implied_one::<Plain>(Model::Black76, 9.0, 1.0, 100.0, 90.0, 1.0, 0.0, 0.0);
    assert!(v.is_nan() && st == Status::BelowIntrinsic);
    let (v, st, _) = implied_one::<Plain>(Model::Black76, 100.0, 1.0, 100.0, 90.0, 1.0, 0.0, 0.0);
    assert!(v.is_nan() && st == Status::AboveUpperBound);
    let (v, st, _) = implied_one::<Plain>(Model::Black76, 10.0, 1.0, 100.0, 90.0, 1.0, 0.0, 0.0);
    assert_eq!((v, st), (0.0, Status::Ok));
    let (v, st, _) = implied_one::<Plain>(Model::Black76, 10.0, 1.0, 100.0, 90.0, 0.0, 0.0, 0.0);
    assert!(v.is_nan() && st == Status::ZeroExpiry);
    let (v, st, _) = implied_one::<Plain>(Model::Bsm, 5.0, 1.0, -100.0, 90.0, 1.0, 0.0, 0.0);
    assert!(v.is_nan() && st == Status::InvalidInput);
}

#[test]
fn tiny_premiums_are_inverted() {
    // Deep out of the money, short expiry: normalised premiums far below 1e-200.
    for &(k, t, v) in &[
        (300.0, 0.05, 0.2),
        (150.0, 0.02, 0.1),
        (150.0, 0.0145, 0.1),
        (1000.0, 1.0, 0.1),
    ] {
        let p = price(Model::Black76, [1.0, 100.0, k, t, v, 0.0, 0.0]);
        assert!(p > 0.0 && p < 1e-100, "{p}");
        let (vh, st, _) = implied_one::<Plain>(Model::Black76, p, 1.0, 100.0, k, t, 0.0, 0.0);
        assert_eq!(st, Status::Ok);
        assert!(
            ((vh - v) / v).abs() < 1e-12,
            "k={k} t={t}: {vh} vs {v} (p={p:e})"
        );
    }
}

#[test]
fn bachelier_round_trip() {
    let mut worst = 0.0f64;
    for &phi in &[1.0, -1.0] {
        for &t in &[1.0 / 365.0, 0.5, 10.0] {
            for &v in &[0.001, 0.01, 0.5, 20.0] {
                let sd = v * f64::sqrt(t);
                for j in -16..=16 {
                    let k = 1.0 + j as f64 * 0.5 * sd;
                    let p = price(Model::Bachelier, [phi, 1.0, k, t, v, 0.01, 0.0]);
                    let up = price(
                        Model::Bachelier,
                        [phi, 1.0, k, t, v * (1.0 + 1e-10), 0.01, 0.0],
                    );
                    if (up - p).abs() <= 6400.0 * f64::EPSILON * p.abs() {
                        continue;
                    }
                    let (vh, st, steps) =
                        implied_one::<Plain>(Model::Bachelier, p, phi, 1.0, k, t, 0.01, 0.0);
                    assert_eq!(st, Status::Ok);
                    let err = ((vh - v) / v).abs();
                    assert!(
                        err < 1e-12,
                        "phi={phi} t={t} v={v} k={k}: {vh} err={err:e} steps={steps}"
                    );
                    worst = worst.max(err);
                }
            }
        }
    }
    eprintln!("bachelier worst rel error {worst:e}");
}

#[test]
fn tile_solver_equals_the_one_quote_solver() {
    use strikegrid_core::implied::implied_many;
    use strikegrid_core::tile::{Tile, TILE};
    // Every status and branch: out of and in the money, both kinds, tiny and huge total vols,
    // at the money exactly, premiums below intrinsic / above the bound, invalid inputs.
    let mut seed = 99u64;
    let mut u = || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    for model in [Model::Bsm, Model::Black76, Model::Inverse, Model::Bachelier] {
        for round in 0..8 {
            let n = if round == 0 { 37 } else { TILE };
            let mut cols = vec![vec![0.0; n]; 7];
            let mut premium = vec![0.0; n];
            for i in 0..n {
                let phi = if u() < 0.5 { 1.0 } else { -1.0 };
                let t = [1e-4, 0.02, 0.5, 3.0, 30.0][i % 5] * (0.5 + u());
                let v = if model == Model::Bachelier {
                    40.0 * u()
                } else {
                    0.002 + 2.0 * u() * u()
                };
                let k = if i % 17 == 0 {
                    100.0
                } else {
                    100.0 * (3.0 * (u() - 0.5)).exp()
                };
                let q = if model == Model::Bsm { 0.01 } else { 0.0 };
                let r = if i % 17 == 0 { q } else { 0.03 };
                let x = [phi, 100.0, k, t, v, r, q];
                let mut p = price(model, x);
                match i % 23 {
                    1 => p *= 0.5,     // may fall below intrinsic
                    2 => p += 1e6,     // above the bound
                    3 => p = f64::NAN, // invalid
                    _ => {}
                }
                premium[i] = p;
                for (c, v) in cols.iter_mut().zip(x) {
                    c[i] = v;
                }
                if i % 23 == 4 {
                    cols[2][i] = -1.0;
                }
            }
            let tile = Tile::from_array([
                &cols[0], &cols[1], &cols[2], &cols[3], &premium, &cols[5], &cols[6],
            ]);
            let mut vols = vec![0.0; n];
            let mut status = vec![0u8; n];
            implied_many::<Plain>(model, &premium, &tile, &mut vols, &mut status);
            for i in 0..n {
                let (v, st, _) = implied_one::<Plain>(
                    model, premium[i], cols[0][i], 100.0, cols[2][i], cols[3][i], cols[5][i],
                    cols[6][i],
                );
                assert_eq!(status[i], st as u8, "{model:?} {i}");
                assert!(
                    v.to_bits() == vols[i].to_bits(),
                    "{model:?} {i}: {v} vs {}",
                    vols[i]
                );
            }
        }
    }
}

//! SVI and SSVI: parameter recovery, the density function, arbitrage repair, errors, speed.

use strikegrid_core::european::price_one;
use strikegrid_core::ssvi::{calendar_violations, calibrate_ssvi, Ssvi, SsviSlice};
use strikegrid_core::svi::{calibrate, g_into, total_variance_into, RawSvi};
use strikegrid_core::{Error, Model, OnInvalid};

fn grid(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64)
        .collect()
}

/// Deterministic noise in [-1, 1] (a small LCG, so the tests need no dependency).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
}

fn sample(p: &RawSvi, k: &[f64]) -> Vec<f64> {
    let mut w = vec![0.0; k.len()];
    total_variance_into(p, k, &mut w);
    w
}

fn wsse(p: &RawSvi, k: &[f64], w: &[f64], wt: &[f64]) -> f64 {
    k.iter()
        .zip(w)
        .zip(wt)
        .map(|((&k, &w), &c)| c * (p.total_variance(k) - w).powi(2))
        .sum()
}

const CASES: [RawSvi; 4] = [
    RawSvi {
        a: 0.04,
        b: 0.4,
        rho: -0.4,
        m: 0.1,
        sigma: 0.2,
    },
    RawSvi {
        a: 0.01,
        b: 0.1,
        rho: -0.7,
        m: -0.05,
        sigma: 0.1,
    },
    RawSvi {
        a: 0.12,
        b: 0.8,
        rho: 0.3,
        m: 0.2,
        sigma: 0.5,
    },
    RawSvi {
        a: 0.002,
        b: 0.05,
        rho: -0.2,
        m: 0.0,
        sigma: 0.05,
    },
];

#[test]
fn recovers_exact_parameters() {
    for p in CASES {
        assert!(p.is_admissible());
        let k = grid(-1.0, 1.0, 41);
        let w = sample(&p, &k);
        let fit = calibrate(&k, &w, &vec![1.0; k.len()], 1.0).unwrap();
        let q = fit.params;
        let err = [
            q.a - p.a,
            q.b - p.b,
            q.rho - p.rho,
            q.m - p.m,
            q.sigma - p.sigma,
        ];
        assert!(
            err.iter().all(|e| e.abs() < 1e-6),
            "{p:?} -> {q:?} (rmse {:e})",
            fit.rmse
        );
        // The normal-equation form of the SSE cancels to ~1e-16 absolute: rmse floor ~1e-9.
        assert!(fit.rmse < 1e-8, "{p:?} -> {fit:?}");
        assert!(!fit.repaired && fit.min_g >= 0.0);
    }
}

#[test]
fn recovers_parameters_from_unsorted_weighted_data() {
    let p = CASES[0];
    let mut k = grid(-0.8, 0.6, 30);
    k.reverse();
    k.swap(3, 17);
    let w = sample(&p, &k);
    let wt: Vec<f64> = (0..k.len()).map(|i| 0.5 + (i % 3) as f64).collect();
    let fit = calibrate(&k, &w, &wt, 0.5).unwrap();
    assert!((fit.params.m - p.m).abs() < 1e-6, "{:?}", fit.params);
    assert!((fit.params.rho - p.rho).abs() < 1e-6, "{:?}", fit.params);
}

#[test]
fn noisy_fit_is_at_least_as_good_as_the_truth() {
    let mut rng = Lcg(7);
    for p in CASES {
        let k = grid(-1.0, 1.0, 61);
        let clean = sample(&p, &k);
        let level = 2e-4;
        let w: Vec<f64> = clean.iter().map(|&w| w + level * rng.next()).collect();
        let wt = vec![1.0; k.len()];
        let fit = calibrate(&k, &w, &wt, 1.0).unwrap();
        let truth = wsse(&p, &k, &w, &wt);
        let got = wsse(&fit.params, &k, &w, &wt);
        assert!(
            got <= truth * (1.0 + 1e-9) || fit.repaired,
            "{p:?}: fit SSE {got:e} > truth {truth:e} ({:?})",
            fit.params
        );
        // Uniform noise of half-width `level` has standard deviation level / sqrt(3).
        assert!(fit.rmse < level, "rmse {:e}", fit.rmse);
        // The fitted smile stays close to the clean one on the data range.
        let dev = k
            .iter()
            .zip(&clean)
            .map(|(&k, &c)| (fit.params.total_variance(k) - c).abs())
            .fold(0.0, f64::max);
        assert!(dev < 3.0 * level, "{p:?}: max deviation {dev:e}");
        assert!(fit.min_g >= 0.0);
    }
}

#[test]
fn derivatives_match_finite_differences() {
    let p = CASES[2];
    for k in grid(-1.5, 1.5, 13) {
        let (w, w1, w2) = p.derivatives(k);
        let h = 1e-4;
        let (wp, wm) = (p.total_variance(k + h), p.total_variance(k - h));
        assert!((w - p.total_variance(k)).abs() < 1e-15);
        assert!((w1 - (wp - wm) / (2.0 * h)).abs() < 1e-7);
        assert!((w2 - (wp - 2.0 * w + wm) / (h * h)).abs() < 1e-5);
    }
}

/// Breeden–Litzenberger: the density of `k` is `K d2C/dK2` with `C` the undiscounted call on a
/// unit forward; Gatheral's `g` gives it as `g(k) n(d2) / sqrt(w)`.
#[test]
fn g_matches_the_breeden_litzenberger_density() {
    for p in [CASES[0], CASES[2]] {
        let call = |strike: f64| {
            let w = p.total_variance(strike.ln());
            price_one(
                Model::Bsm,
                1.0,
                1.0,
                strike,
                1.0,
                w.sqrt(),
                0.0,
                0.0,
                OnInvalid::Raise,
            )
            .unwrap()
        };
        for k in grid(-0.8, 0.8, 17) {
            let strike = k.exp();
            let h = 1e-3 * strike;
            let d2c = (call(strike + h) - 2.0 * call(strike) + call(strike - h)) / (h * h);
            let fd = strike * d2c;
            let w = p.total_variance(k);
            let d2 = -k / w.sqrt() - 0.5 * w.sqrt();
            let n = (-0.5 * d2 * d2).exp() / (2.0 * std::f64::consts::PI).sqrt();
            let analytic = p.g(k) * n / w.sqrt();
            assert!(
                (fd - analytic).abs() < 1e-5 * (1.0 + analytic),
                "k {k}: fd {fd} vs g-density {analytic}"
            );
        }
    }
}

/// Axel Vogt's example (Gatheral & Jacquier 2014, section 2.2): admissible raw SVI with
/// butterfly arbitrage.
const VOGT: RawSvi = RawSvi {
    a: -0.0410,
    b: 0.1331,
    rho: 0.3060,
    m: 0.3586,
    sigma: 0.4153,
};

#[test]
fn vogt_example_has_arbitrage_and_is_repaired() {
    assert!(VOGT.is_admissible());
    let (g, at) = VOGT.min_g(-1.5, 1.5);
    assert!(g < 0.0, "min g {g} at {at}");
    // The negative region is a little above the money (Gatheral & Jacquier, Figure 2).
    assert!(at > 0.5 && at < 1.5, "{at}");

    let k = grid(-1.5, 1.5, 61);
    let w = sample(&VOGT, &k);
    let fit = calibrate(&k, &w, &vec![1.0; k.len()], 1.0).unwrap();
    assert!(fit.repaired, "{fit:?}");
    assert!(fit.unrepaired_min_g < 0.0);
    assert!(fit.min_g >= 0.0);
    assert!(fit.params.is_admissible());
    let dense = grid(-2.5, 2.5, 20_001);
    let mut gs = vec![0.0; dense.len()];
    g_into(&fit.params, &dense, &mut gs);
    let worst = gs.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(worst >= -1e-10, "dense min g {worst}");
    // The repair costs some accuracy but stays a sensible smile.
    assert!(fit.rmse < 5e-3, "rmse {:e} ({:?})", fit.rmse, fit.params);
    println!("Vogt repaired: {fit:?}");
}

#[test]
fn svi_rejects_bad_input() {
    let k = grid(-1.0, 1.0, 9);
    let w = sample(&CASES[0], &k);
    let wt = vec![1.0; 9];
    let short = calibrate(&k[..4], &w[..4], &wt[..4], 1.0);
    assert!(matches!(short, Err(Error::Shape(_))), "{short:?}");
    assert!(matches!(
        calibrate(&k, &w[..8], &wt, 1.0),
        Err(Error::Shape(_))
    ));
    let mut bad = w.clone();
    bad[3] = -0.01;
    assert!(matches!(
        calibrate(&k, &bad, &wt, 1.0),
        Err(Error::InvalidInput {
            arg: "w",
            index: 3,
            ..
        })
    ));
    bad[3] = f64::NAN;
    assert!(matches!(
        calibrate(&k, &bad, &wt, 1.0),
        Err(Error::InvalidInput { arg: "w", .. })
    ));
    let mut kb = k.clone();
    kb[0] = f64::INFINITY;
    assert!(matches!(
        calibrate(&kb, &w, &wt, 1.0),
        Err(Error::InvalidInput {
            arg: "k",
            index: 0,
            ..
        })
    ));
    let mut wb = wt.clone();
    wb[5] = -1.0;
    assert!(matches!(
        calibrate(&k, &w, &wb, 1.0),
        Err(Error::InvalidInput {
            arg: "weights",
            index: 5,
            ..
        })
    ));
    assert!(matches!(
        calibrate(&k, &w, &wt, 0.0),
        Err(Error::InvalidInput { arg: "t", .. })
    ));
    // Only four points with positive weight.
    let mut few = vec![0.0; 9];
    few[..4].fill(1.0);
    assert!(matches!(calibrate(&k, &w, &few, 1.0), Err(Error::Shape(_))));
    assert!(RawSvi {
        rho: 1.0,
        ..CASES[0]
    }
    .validate()
    .is_err());
}

fn ssvi_slices(p: &Ssvi, ts: &[f64], thetas: &[f64], noise: f64) -> Vec<SsviSlice> {
    let mut rng = Lcg(11);
    ts.iter()
        .zip(thetas)
        .map(|(&t, &theta)| {
            let half = 2.5 * theta.sqrt();
            let k = grid(-half, half, 25);
            let w: Vec<f64> = k
                .iter()
                .map(|&k| p.total_variance(k, theta) + noise * rng.next())
                .collect();
            SsviSlice {
                t,
                theta,
                weights: vec![1.0; k.len()],
                k,
                w,
            }
        })
        .collect()
}

#[test]
fn ssvi_recovers_parameters() {
    let ts = [0.1, 0.25, 0.5, 1.0, 2.0];
    let thetas = [0.004, 0.009, 0.017, 0.035, 0.07];
    for p in [
        Ssvi {
            rho: -0.7,
            eta: 1.1,
            gamma: 0.4,
        },
        Ssvi {
            rho: -0.3,
            eta: 0.6,
            gamma: 0.2,
        },
        Ssvi {
            rho: 0.2,
            eta: 1.5,
            gamma: 0.45,
        },
    ] {
        assert!(p.is_arbitrage_free());
        let fit = calibrate_ssvi(&ssvi_slices(&p, &ts, &thetas, 0.0)).unwrap();
        let q = fit.params;
        assert!(
            (q.rho - p.rho).abs() < 1e-6
                && (q.eta - p.eta).abs() < 1e-6
                && (q.gamma - p.gamma).abs() < 1e-6,
            "{p:?} -> {q:?} (rmse {:e})",
            fit.rmse
        );
        assert!(q.is_arbitrage_free() && q.eta * (1.0 + q.rho.abs()) <= 2.0);
        assert!(fit.thetas_adjusted.is_empty());

        let noisy = calibrate_ssvi(&ssvi_slices(&p, &ts, &thetas, 5e-5)).unwrap();
        assert!(noisy.params.is_arbitrage_free());
        assert!(noisy.rmse < 5e-5, "{:e}", noisy.rmse);
        assert!((noisy.params.rho - p.rho).abs() < 0.05, "{noisy:?}");
    }
}

#[test]
fn ssvi_respects_the_butterfly_bound_when_the_data_do_not() {
    // Data from eta (1 + |rho|) = 3.6: the fit must stay on the bound.
    let p = Ssvi {
        rho: -0.8,
        eta: 2.0,
        gamma: 0.3,
    };
    let fit = calibrate_ssvi(&ssvi_slices(&p, &[0.5, 1.0], &[0.02, 0.04], 0.0)).unwrap();
    let q = fit.params;
    assert!(q.is_arbitrage_free(), "{q:?}");
    assert!(q.eta * (1.0 + q.rho.abs()) <= 2.0);
}

#[test]
fn ssvi_makes_thetas_non_decreasing() {
    let p = Ssvi {
        rho: -0.5,
        eta: 1.0,
        gamma: 0.3,
    };
    // Given out of order in t, and the 1.0 expiry has a smaller theta than the 0.5 one.
    let ts = [1.0, 0.25, 0.5, 2.0];
    let thetas = [0.015, 0.01, 0.02, 0.05];
    let slices = ssvi_slices(&p, &ts, &thetas, 0.0);
    let fit = calibrate_ssvi(&slices).unwrap();
    assert_eq!(fit.thetas_adjusted, vec![0]);
    assert_eq!(fit.thetas, vec![0.02, 0.01, 0.02, 0.05]);
}

#[test]
fn ssvi_rejects_bad_input() {
    let p = Ssvi {
        rho: -0.5,
        eta: 1.0,
        gamma: 0.3,
    };
    let good = ssvi_slices(&p, &[0.5, 1.0], &[0.02, 0.04], 0.0);
    assert!(matches!(calibrate_ssvi(&[]), Err(Error::Shape(_))));
    let mut s = good.clone();
    s[1].theta = -1.0;
    assert!(matches!(
        calibrate_ssvi(&s),
        Err(Error::InvalidInput {
            arg: "theta",
            index: 1,
            ..
        })
    ));
    let mut s = good.clone();
    s[1].w[2] = f64::NAN;
    assert!(matches!(
        calibrate_ssvi(&s),
        Err(Error::InvalidInput {
            arg: "w",
            index: 27,
            ..
        })
    ));
    let mut s = good.clone();
    s[0].weights.pop();
    assert!(matches!(calibrate_ssvi(&s), Err(Error::Shape(_))));
    let mut s = good;
    s[0].t = f64::NAN;
    assert!(matches!(
        calibrate_ssvi(&s),
        Err(Error::InvalidInput { arg: "t", .. })
    ));
}

#[test]
fn calendar_violations_are_found() {
    let ts = [1.0, 0.5, 2.0];
    let w = vec![
        vec![0.04, 0.03, 0.05],
        vec![0.02, 0.035, 0.03],
        vec![0.05, 0.05, 0.04],
    ];
    // In t order: row 1 (0.5), row 0 (1.0), row 2 (2.0).
    assert_eq!(calendar_violations(&ts, &w).unwrap(), vec![(0, 1), (2, 2)]);
    assert!(calendar_violations(&ts[..2], &w).is_err());
    // An SSVI surface with increasing thetas has none.
    let p = Ssvi {
        rho: -0.6,
        eta: 1.2,
        gamma: 0.4,
    };
    let k = grid(-1.0, 1.0, 41);
    let ts = [0.1, 0.5, 1.0, 3.0];
    let rows: Vec<Vec<f64>> = [0.005, 0.02, 0.04, 0.1]
        .iter()
        .map(|&th| k.iter().map(|&k| p.total_variance(k, th)).collect())
        .collect();
    assert!(calendar_violations(&ts, &rows).unwrap().is_empty());
}

/// `cargo test --release -p strikegrid-core --test svi -- --ignored --nocapture`
#[test]
#[ignore]
fn speed() {
    let p = CASES[0];
    let k = grid(-1.0, 1.0, 100);
    let mut rng = Lcg(3);
    let w: Vec<f64> = sample(&p, &k)
        .iter()
        .map(|&w| w + 1e-4 * rng.next())
        .collect();
    let wt = vec![1.0; k.len()];
    let reps = 200;
    let t0 = std::time::Instant::now();
    let mut its = 0;
    for _ in 0..reps {
        its += calibrate(&k, &w, &wt, 1.0).unwrap().iterations;
    }
    let per = t0.elapsed().as_secs_f64() / reps as f64;
    println!(
        "SVI calibrate, 100 points: {:.1} us per smile ({} NM iterations)",
        per * 1e6,
        its / reps
    );
    let ts = [0.1, 0.25, 0.5, 1.0, 2.0];
    let thetas = [0.004, 0.009, 0.017, 0.035, 0.07];
    let ps = Ssvi {
        rho: -0.7,
        eta: 1.1,
        gamma: 0.4,
    };
    let slices = ssvi_slices(&ps, &ts, &thetas, 5e-5);
    let t0 = std::time::Instant::now();
    for _ in 0..20 {
        calibrate_ssvi(&slices).unwrap();
    }
    println!(
        "SSVI calibrate, 5 x 25 points: {:.1} us",
        t0.elapsed().as_secs_f64() / 20.0 * 1e6
    );
    let k = grid(-1.5, 1.5, 61);
    let w = sample(&VOGT, &k);
    let t0 = std::time::Instant::now();
    let fit = calibrate(&k, &w, &vec![1.0; k.len()], 1.0).unwrap();
    println!(
        "SVI calibrate with repair (Vogt): {:.1} us",
        t0.elapsed().as_secs_f64() * 1e6
    );
    assert!(fit.repaired);
}

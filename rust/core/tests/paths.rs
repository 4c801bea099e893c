//! Monte Carlo paths and programs: generator test vectors, moments of GBM and Heston against
//! their closed forms, convergence as paths grow, reproducibility whatever the thread count,
//! program expectations against closed forms, the flat zero-vol path, bad input.

use strikegrid_core::european::{price_one, OnInvalid};
use strikegrid_core::paths::{
    run_program, simulate, splitmix64, Dynamics, Grid, PathOutcome, PathRng, PricingVol, Program,
    Strategy,
};
use strikegrid_core::{Error, Model};

fn bsm(kind: f64, s: f64, k: f64, t: f64, vol: f64, r: f64) -> f64 {
    price_one(Model::Bsm, kind, s, k, t, vol, r, 0.0, OnInvalid::Raise).unwrap()
}

fn mean_se(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    let v = x.iter().map(|a| (a - m) * (a - m)).sum::<f64>() / (n - 1.0);
    (m, (v / n).sqrt())
}

fn terminal(dynamics: Dynamics, grid: Grid, paths: usize, seed: u64) -> Vec<f64> {
    let cols = grid.steps + 1;
    let mut s = vec![0.0; paths * cols];
    simulate(dynamics, grid, seed, &mut s, None).unwrap();
    s.chunks(cols).map(|r| r[grid.steps]).collect()
}

#[test]
fn splitmix64_matches_the_published_sequence() {
    // Steele, Lea & Flood's generator from seed 1234567 (the reference test vector).
    let mut st = 1_234_567u64;
    let got: Vec<u64> = (0..3).map(|_| splitmix64(&mut st)).collect();
    assert_eq!(
        got,
        [
            6_457_827_717_110_365_317,
            3_203_168_211_198_807_973,
            9_817_491_932_198_370_423
        ]
    );
}

#[test]
fn xoshiro256pp_matches_the_reference_implementation() {
    // Blackman & Vigna's xoshiro256plusplus.c from the state {1, 2, 3, 4}.
    let mut rng = PathRng::from_state([1, 2, 3, 4]);
    let got: Vec<u64> = (0..5).map(|_| rng.next_u64()).collect();
    assert_eq!(
        got,
        [
            41_943_041,
            58_720_359,
            3_588_806_011_781_223,
            3_591_011_842_654_386,
            9_228_616_714_210_784_205
        ]
    );
}

#[test]
fn normals_have_unit_moments() {
    let mut rng = PathRng::for_path(7, 0);
    let n = 400_000;
    let z: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
    let (m, se) = mean_se(&z);
    assert!(m.abs() < 4.0 * se, "mean {m}");
    let var = z.iter().map(|x| x * x).sum::<f64>() / n as f64;
    assert!((var - 1.0).abs() < 0.01, "variance {var}");
    let kurt = z.iter().map(|x| x.powi(4)).sum::<f64>() / n as f64;
    assert!((kurt - 3.0).abs() < 0.05, "kurtosis {kurt}");
}

#[test]
fn gbm_terminal_mean_and_variance_converge_to_the_closed_form() {
    let (mu, vol, q, t) = (0.07, 0.25, 0.01, 1.0);
    let grid = Grid {
        spot: 100.0,
        div: q,
        steps: 4,
        dt: t / 4.0,
        substeps: 1,
    };
    let dynamics = Dynamics::Gbm { drift: mu, vol };
    let mean = 100.0 * ((mu - q) * t).exp();
    let var = mean * mean * ((vol * vol * t).exp() - 1.0);
    let mut errors = Vec::new();
    for paths in [2_000usize, 32_000, 512_000] {
        let x = terminal(dynamics, grid, paths, 11);
        let (m, se) = mean_se(&x);
        assert!((m - mean).abs() < 4.0 * se, "{paths}: mean {m} vs {mean}");
        let v = x.iter().map(|a| (a - m) * (a - m)).sum::<f64>() / (paths as f64 - 1.0);
        errors.push(((m - mean).abs(), (v - var).abs() / var, se));
    }
    // 256 times the paths: the standard error falls 16-fold, and the errors with it.
    assert!(errors[2].2 < errors[0].2 / 15.0, "{errors:?}");
    assert!(errors[2].0 < 0.2 && errors[2].0 < errors[0].0, "{errors:?}");
    assert!(
        errors[2].1 < 0.005 && errors[2].1 < errors[0].1,
        "{errors:?}"
    );
}

#[test]
fn heston_price_is_a_martingale_after_drift_and_variance_reverts() {
    let (mu, t) = (0.05, 1.0);
    let dynamics = Dynamics::Heston {
        drift: mu,
        v0: 0.09,
        kappa: 2.0,
        theta: 0.04,
        xi: 0.3,
        rho: -0.7,
    };
    let grid = Grid {
        spot: 100.0,
        div: 0.0,
        steps: 50,
        dt: t / 50.0,
        substeps: 2,
    };
    let paths = 100_000;
    let cols = grid.steps + 1;
    let mut s = vec![0.0; paths * cols];
    let mut v = vec![0.0; paths * cols];
    simulate(dynamics, grid, 3, &mut s, Some(&mut v)).unwrap();
    let st: Vec<f64> = s.chunks(cols).map(|r| r[grid.steps]).collect();
    let (m, se) = mean_se(&st);
    let exact = 100.0 * (mu * t).exp();
    assert!(
        (m - exact).abs() < 4.0 * se,
        "E[S_T] {m} vs {exact} (se {se})"
    );
    // E[v_T] = theta + (v0 - theta) e^(-kappa T) for the continuous process; full truncation
    // is close at this step size (Feller's condition holds: 2 kappa theta > xi^2).
    let vt: Vec<f64> = v.chunks(cols).map(|r| r[grid.steps]).collect();
    let (mv, sev) = mean_se(&vt);
    let ev = 0.04 + 0.05 * (-2.0f64).exp();
    assert!((mv - ev).abs() < 4.0 * sev + 5e-4, "E[v_T] {mv} vs {ev}");
    // The negative correlation skews returns to the left.
    let lr: Vec<f64> = st.iter().map(|x| (x / 100.0).ln()).collect();
    let (lm, _) = mean_se(&lr);
    let skew = lr.iter().map(|x| (x - lm).powi(3)).sum::<f64>() / paths as f64;
    assert!(skew < 0.0);
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let dynamics = Dynamics::Heston {
        drift: 0.06,
        v0: 0.04,
        kappa: 1.5,
        theta: 0.05,
        xi: 0.5,
        rho: -0.6,
    };
    let grid = Grid {
        spot: 4000.0,
        div: 0.015,
        steps: 63,
        dt: 1.0 / 252.0,
        substeps: 1,
    };
    let prog = Program {
        strategy: Strategy::PutWrite,
        moneyness: 0.98,
        strike_step: 5.0,
        period: 21,
        rate: 0.03,
        pricing_vol: PricingVol::State { scale: 1.1 },
        fee: 0.01,
        slippage: 0.01,
    };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut o = vec![PathOutcome::default(); 777];
            let mut e = vec![0.0; 777 * 64];
            run_program(dynamics, grid, prog, 99, &mut o, Some(&mut e)).unwrap();
            let mut s = vec![0.0; 777 * 64];
            simulate(dynamics, grid, 99, &mut s, None).unwrap();
            (o, e, s)
        })
    };
    let one = run(1);
    let three = run(3);
    assert_eq!(one, three);
    // The same seed again: identical; another seed: different.
    assert_eq!(run(2), one);
    let mut other = vec![PathOutcome::default(); 777];
    run_program(dynamics, grid, prog, 100, &mut other, None).unwrap();
    assert_ne!(other, one.0);
    // Without the equity matrix the outcomes are the same.
    let mut lean = vec![PathOutcome::default(); 777];
    run_program(dynamics, grid, prog, 99, &mut lean, None).unwrap();
    assert_eq!(lean, one.0);
}

fn program(strategy: Strategy, moneyness: f64, vol: f64, rate: f64) -> Program {
    Program {
        strategy,
        moneyness,
        strike_step: 0.0,
        period: 21,
        rate,
        pricing_vol: PricingVol::Constant(vol),
        fee: 0.0,
        slippage: 0.0,
    }
}

/// E[final equity] of `periods` i.i.d. periods: the one-period ratio to the power `periods`.
fn expected_growth(strategy: Strategy, m: f64, mu: f64, vol: f64, r: f64, t: f64) -> f64 {
    // Per unit of underlying at the roll (S = 1, K = m); X = S_T / S lognormal with drift mu,
    // and E[(m - X)+] = e^(mu t) * BSM put(1, m, t, vol, rate = mu).
    match strategy {
        Strategy::PutWrite => {
            let p = bsm(-1.0, 1.0, m, t, vol, r);
            let e_put = (mu * t).exp() * bsm(-1.0, 1.0, m, t, vol, mu);
            let g = (r * t).exp();
            // N per unit of cash = g / (m - p g); final = (1 + N p) g - N E[(m - X)+].
            let n = g / (m - p * g);
            (1.0 + n * p) * g - n * e_put
        }
        Strategy::CoveredCall => {
            let c = bsm(1.0, 1.0, m, t, vol, r);
            let e_call = (mu * t).exp() * bsm(1.0, 1.0, m, t, vol, mu);
            // units = 1 / (1 - c); final = units * E[min(X, m)] = units (E[X] - E[(X - m)+]).
            ((mu * t).exp() - e_call) / (1.0 - c)
        }
    }
}

#[test]
fn program_expectations_converge_to_the_closed_form() {
    let (mu, vol, r) = (0.08, 0.2, 0.03);
    let grid = Grid {
        spot: 100.0,
        div: 0.0,
        steps: 252,
        dt: 1.0 / 252.0,
        substeps: 1,
    };
    let t = 21.0 / 252.0;
    for (strategy, m) in [
        (Strategy::PutWrite, 1.0),
        (Strategy::PutWrite, 0.95),
        (Strategy::CoveredCall, 1.0),
        (Strategy::CoveredCall, 1.03),
    ] {
        let exact = expected_growth(strategy, m, mu, vol, r, t).powi(12);
        let prog = program(strategy, m, vol, r);
        let mut prev_err = f64::INFINITY;
        for paths in [1_000usize, 64_000] {
            let mut o = vec![PathOutcome::default(); paths];
            run_program(
                Dynamics::Gbm { drift: mu, vol },
                grid,
                prog,
                5,
                &mut o,
                None,
            )
            .unwrap();
            let fin: Vec<f64> = o.iter().map(|x| x.final_equity).collect();
            let (mean, se) = mean_se(&fin);
            let err = (mean - exact).abs();
            assert!(
                err < 4.0 * se,
                "{strategy:?} m={m} paths={paths}: {mean} vs {exact} (se {se})"
            );
            if paths == 64_000 {
                assert!(err < 2e-3, "{strategy:?} m={m}: error {err}");
                assert!(
                    err < prev_err.max(1e-3),
                    "{strategy:?}: {err} after {prev_err}"
                );
            }
            prev_err = err;
        }
    }
}

#[test]
fn risk_neutral_put_write_earns_the_rate() {
    // With drift = rate and fair premiums the account is a martingale after discounting.
    let r = 0.04;
    let grid = Grid {
        spot: 50.0,
        div: 0.0,
        steps: 126,
        dt: 1.0 / 252.0,
        substeps: 1,
    };
    let mut o = vec![PathOutcome::default(); 50_000];
    let prog = program(Strategy::PutWrite, 1.0, 0.3, r);
    run_program(
        Dynamics::Gbm { drift: r, vol: 0.3 },
        grid,
        prog,
        1,
        &mut o,
        None,
    )
    .unwrap();
    let fin: Vec<f64> = o.iter().map(|x| x.final_equity).collect();
    let (m, se) = mean_se(&fin);
    let exact = (r * 0.5f64).exp();
    assert!((m - exact).abs() < 4.0 * se, "{m} vs {exact}");
}

#[test]
fn a_flat_zero_vol_path_earns_its_premia_minus_costs() {
    let grid = Grid {
        spot: 100.0,
        div: 0.0,
        steps: 84,
        dt: 1.0 / 252.0,
        substeps: 1,
    };
    for strategy in [Strategy::PutWrite, Strategy::CoveredCall] {
        let prog = Program {
            strategy,
            moneyness: 1.0,
            strike_step: 0.0,
            period: 21,
            rate: 0.0,
            pricing_vol: PricingVol::Constant(0.2),
            fee: 0.02,
            slippage: 0.05,
        };
        let mut o = vec![PathOutcome::default(); 3];
        let mut eq = vec![0.0; 3 * 85];
        let flat = Dynamics::Gbm {
            drift: 0.0,
            vol: 0.0,
        };
        run_program(flat, grid, prog, 0, &mut o, Some(&mut eq)).unwrap();
        for x in &o {
            assert_eq!(x.trades, 4.0);
            assert_eq!(x.assigned, 0.0);
            assert!(x.premium > 0.0);
            let want = 1.0 + x.premium - x.fees;
            assert!(
                (x.final_equity - want).abs() < 1e-12,
                "{strategy:?}: {} vs {want}",
                x.final_equity
            );
        }
        // Every path is the same flat path.
        assert_eq!(o[0], o[2]);
    }
}

#[test]
fn strikes_follow_the_listed_increment_rule() {
    // Zero vol, flat path at 1003: a put at moneyness 1 is struck at 1000 (just below), so it
    // earns nothing and never pays; a call is struck at 1005 (just above), likewise.
    let grid = Grid {
        spot: 1003.0,
        div: 0.0,
        steps: 21,
        dt: 1.0 / 252.0,
        substeps: 1,
    };
    let flat = Dynamics::Gbm {
        drift: 0.0,
        vol: 0.0,
    };
    for strategy in [Strategy::PutWrite, Strategy::CoveredCall] {
        let mut prog = program(strategy, 1.0, 0.0, 0.0);
        prog.strike_step = 5.0;
        let mut o = vec![PathOutcome::default(); 1];
        run_program(flat, grid, prog, 0, &mut o, None).unwrap();
        assert_eq!(o[0].premium, 0.0, "{strategy:?}");
        assert!((o[0].final_equity - 1.0).abs() < 1e-15);
        // In the money by 3 points when the increment rounds the other way.
        prog.moneyness = if strategy == Strategy::PutWrite {
            1.006
        } else {
            0.994
        };
        run_program(flat, grid, prog, 0, &mut o, None).unwrap();
        assert!(o[0].premium > 0.0);
        assert_eq!(o[0].assigned, 1.0);
    }
}

#[test]
fn bad_input_names_the_argument() {
    let grid = Grid {
        spot: 100.0,
        div: 0.0,
        steps: 10,
        dt: 1.0 / 252.0,
        substeps: 1,
    };
    let mut s = vec![0.0; 11];
    let err = simulate(
        Dynamics::Gbm {
            drift: 0.0,
            vol: -0.1,
        },
        grid,
        0,
        &mut s,
        None,
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { arg: "vol", .. }),
        "{err}"
    );
    let heston = Dynamics::Heston {
        drift: 0.0,
        v0: 0.04,
        kappa: 1.0,
        theta: 0.04,
        xi: 0.2,
        rho: 1.5,
    };
    let err = simulate(heston, grid, 0, &mut s, None).unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { arg: "rho", .. }),
        "{err}"
    );
    let bad_grid = Grid { spot: 0.0, ..grid };
    let gbm = Dynamics::Gbm {
        drift: 0.0,
        vol: 0.2,
    };
    let err = simulate(gbm, bad_grid, 0, &mut s, None).unwrap_err();
    assert!(matches!(err, Error::InvalidInput { arg: "spot", .. }));
    let mut wrong = vec![0.0; 12];
    assert!(matches!(
        simulate(gbm, grid, 0, &mut wrong, None),
        Err(Error::Shape(_))
    ));
    let mut prog = program(Strategy::PutWrite, 1.0, 0.2, 0.0);
    prog.period = 0;
    let mut o = vec![PathOutcome::default(); 2];
    let err = run_program(gbm, grid, prog, 0, &mut o, None).unwrap_err();
    assert!(matches!(err, Error::InvalidInput { arg: "period", .. }));
    let mut prog = program(Strategy::PutWrite, 1.0, 0.2, 0.0);
    prog.slippage = 1.0;
    let err = run_program(gbm, grid, prog, 0, &mut o, None).unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidInput {
            arg: "slippage",
            ..
        }
    ));
}

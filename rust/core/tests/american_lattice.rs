//! The Leisen–Reimer lattice (`american::lattice`): European limit, published American put
//! values, convergence, early exercise around discrete cash dividends (escrowed-dividend
//! model), lattice greeks against finite differences, and a timing run (`--ignored`).

use strikegrid_core::american::{lattice, Contract, Dividend};

fn contract(
    phi: f64,
    spot: f64,
    strike: f64,
    expiry: f64,
    vol: f64,
    rate: f64,
    div: f64,
) -> Contract {
    Contract {
        phi,
        spot,
        strike,
        expiry,
        vol,
        rate,
        div,
    }
}

/// Present value at 0 of the dividends the lattice uses (ex-date in (0, T], amount > 0).
fn pv_dividends(c: &Contract, divs: &[Dividend]) -> f64 {
    divs.iter()
        .filter(|d| d.time > 0.0 && d.time <= c.expiry && d.amount > 0.0)
        .map(|d| d.amount * (-c.rate * d.time).exp())
        .sum()
}

/// Black–Scholes–Merton on the escrowed spot S - D(0): the European value in the model.
fn escrowed_european(c: &Contract, divs: &[Dividend]) -> f64 {
    Contract {
        spot: c.spot - pv_dividends(c, divs),
        ..*c
    }
    .european()
}

/// The contract and dividends with spot moved by `ds` and calendar time moved on by `dt`
/// (expiry and ex-dates both `dt` nearer).
fn moved(c: &Contract, divs: &[Dividend], ds: f64, dt: f64) -> (Contract, Vec<Dividend>) {
    let c2 = Contract {
        spot: c.spot + ds,
        expiry: c.expiry - dt,
        ..*c
    };
    let d2 = divs
        .iter()
        .map(|d| Dividend {
            time: d.time - dt,
            amount: d.amount,
        })
        .collect();
    (c2, d2)
}

/// Central finite differences of `f(ds, dt)`: (delta, gamma, theta), theta per year of
/// calendar time.
fn finite_differences(f: impl Fn(f64, f64) -> f64, h: f64, ht: f64) -> (f64, f64, f64) {
    let (up, mid, down) = (f(h, 0.0), f(0.0, 0.0), f(-h, 0.0));
    (
        (up - down) / (2.0 * h),
        (up - 2.0 * mid + down) / (h * h),
        (f(0.0, ht) - f(0.0, -ht)) / (2.0 * ht),
    )
}

fn grid() -> Vec<Contract> {
    let mut out = Vec::new();
    for phi in [-1.0, 1.0] {
        for k in [80.0, 90.0, 100.0, 110.0, 120.0] {
            for t in [0.25, 1.0, 2.0] {
                for v in [0.1, 0.3, 0.6] {
                    for (r, q) in [(0.05, 0.0), (0.05, 0.03), (0.02, 0.06), (-0.01, 0.0)] {
                        out.push(contract(phi, 100.0, k, t, v, r, q));
                    }
                }
            }
        }
    }
    out
}

#[test]
fn steps_are_odd_and_at_least_three() {
    let got: Vec<usize> = [0, 1, 2, 3, 4, 5, 200, 201]
        .iter()
        .map(|&n| lattice::effective_steps(n))
        .collect();
    assert_eq!(got, [3, 3, 3, 3, 5, 5, 201, 201]);
    let c = contract(-1.0, 100.0, 105.0, 1.0, 0.25, 0.05, 0.01);
    assert_eq!(lattice::value(&c, &[], 200), lattice::value(&c, &[], 201));
    // Even a 3-step tree gives finite greeks.
    let v = lattice::value(&c, &[], 1);
    assert!(
        v.price.is_finite() && v.delta.is_finite() && v.gamma.is_finite() && v.theta.is_finite()
    );
}

#[test]
fn european_lattice_converges_to_black_scholes_merton() {
    for c in grid() {
        let bsm = c.european();
        let v = lattice::value_european(&c, &[], 1001);
        assert!((v.price - bsm).abs() < 1e-5, "{c:?}: {} vs {bsm}", v.price);
        // Lattice greeks against the closed form's (by fine differences of it).
        let (delta, gamma, theta) =
            finite_differences(|ds, dt| moved(&c, &[], ds, dt).0.european(), 1e-2, 1e-5);
        assert!(
            (v.delta - delta).abs() < 2.5e-4,
            "{c:?}: delta {} vs {delta}",
            v.delta
        );
        assert!(
            (v.gamma - gamma).abs() < 5e-5,
            "{c:?}: gamma {} vs {gamma}",
            v.gamma
        );
        // Theta's error is O(dt) (a forward difference over 2 dt).
        assert!(
            (v.theta - theta).abs() < 1e-2 + 1e-3 * theta.abs(),
            "{c:?}: theta {} vs {theta}",
            v.theta
        );
    }
    // Leisen–Reimer's second-order convergence: the error falls by ~16 from 251 to 1001.
    let c = contract(1.0, 100.0, 110.0, 1.0, 0.3, 0.05, 0.02);
    let e251 = (lattice::value_european(&c, &[], 251).price - c.european()).abs();
    let e1001 = (lattice::value_european(&c, &[], 1001).price - c.european()).abs();
    assert!(e1001 < e251 / 8.0 && e1001 < 2e-6, "{e251} {e1001}");
}

#[test]
fn european_lattice_with_dividends_is_bsm_on_the_escrowed_spot() {
    let divs = [
        Dividend {
            time: 0.3,
            amount: 2.0,
        },
        Dividend {
            time: 0.8,
            amount: 2.5,
        },
        Dividend {
            time: 1.7,
            amount: 3.0,
        },
    ];
    for c in grid() {
        let v = lattice::value_european(&c, &divs, 1001);
        let reference = escrowed_european(&c, &divs);
        assert!(
            (v.price - reference).abs() < 1e-5,
            "{c:?}: {} vs {reference}",
            v.price
        );
        // Theta at fixed spot includes the drift of S* = S - D(t) as D accrues.
        let (delta, gamma, theta) = finite_differences(
            |ds, dt| {
                let (c2, d2) = moved(&c, &divs, ds, dt);
                escrowed_european(&c2, &d2)
            },
            1e-2,
            1e-5,
        );
        assert!(
            (v.delta - delta).abs() < 2.5e-4,
            "{c:?}: delta {} vs {delta}",
            v.delta
        );
        assert!(
            (v.gamma - gamma).abs() < 5e-5,
            "{c:?}: gamma {} vs {gamma}",
            v.gamma
        );
        // Theta's error is O(dt) (a forward difference over 2 dt).
        assert!(
            (v.theta - theta).abs() < 1e-2 + 1e-3 * theta.abs(),
            "{c:?}: theta {} vs {theta}",
            v.theta
        );
    }
}

/// The Geske & Johnson (1984) American put test set (S = 40, r = 4.88%, q = 0) with its
/// accurate values to four decimals as commonly tabulated alongside approximations (e.g.
/// Barone-Adesi & Whaley 1987; Ju 1999, Exhibit 3). Not re-checked here against a copy of
/// those papers; a 20001-step lattice reproduces every entry to within 1e-4.
/// Rows: (vol, strike, [T = 0.0833, 0.3333, 0.5833]).
const GESKE_JOHNSON: [(f64, f64, [f64; 3]); 9] = [
    (0.2, 35.0, [0.0062, 0.2004, 0.4328]),
    (0.2, 40.0, [0.8522, 1.5798, 1.9904]),
    (0.2, 45.0, [5.0000, 5.0883, 5.2670]),
    (0.3, 35.0, [0.0774, 0.6975, 1.2198]),
    (0.3, 40.0, [1.3099, 2.4825, 3.1696]),
    (0.3, 45.0, [5.0597, 5.7056, 6.2436]),
    (0.4, 35.0, [0.2466, 1.3460, 2.1549]),
    (0.4, 40.0, [1.7681, 3.3874, 4.3526]),
    (0.4, 45.0, [5.2868, 6.5099, 7.3830]),
];

#[test]
fn american_put_geske_johnson_values() {
    for (vol, strike, values) in GESKE_JOHNSON {
        for (t, expected) in [0.0833, 0.3333, 0.5833].into_iter().zip(values) {
            let c = contract(-1.0, 40.0, strike, t, vol, 0.0488, 0.0);
            let v1001 = lattice::value(&c, &[], 1001).price;
            let v4001 = lattice::value(&c, &[], 4001).price;
            // Four-decimal rounding (5e-5) plus the lattice's O(1/n) error.
            assert!(
                (v1001 - expected).abs() < 4e-4,
                "{c:?}: {v1001} vs {expected}"
            );
            assert!(
                (v4001 - expected).abs() < 1.5e-4,
                "{c:?}: {v4001} vs {expected}"
            );
        }
    }
}

/// The same tree as QuantLib's `BinomialVanillaEngine` with the "lr" tree (QuantLib 1.44 via
/// its Python wheel, Actual/365 Fixed, expiry in days; American exercise from today; values
/// computed for this test): same price to ~1e-9 and the same step-1 delta.
#[test]
fn same_tree_as_quantlib_leisen_reimer() {
    // (phi, spot, strike, days, vol, rate, div, steps, NPV, delta)
    let cases = [
        (
            -1.0,
            100.0,
            100.0,
            365.0,
            0.2,
            0.05,
            0.0,
            201,
            6.088805744151,
            -0.411163087416,
        ),
        (
            -1.0,
            100.0,
            100.0,
            365.0,
            0.2,
            0.05,
            0.0,
            1001,
            6.090082400718,
            -0.411080542450,
        ),
        (
            1.0,
            100.0,
            110.0,
            365.0,
            0.3,
            0.03,
            0.07,
            201,
            6.627405318819,
            0.377101539341,
        ),
        (
            1.0,
            100.0,
            110.0,
            365.0,
            0.3,
            0.03,
            0.07,
            1001,
            6.626871145913,
            0.376662165546,
        ),
        (
            -1.0,
            40.0,
            45.0,
            213.0,
            0.4,
            0.0488,
            0.0,
            201,
            7.383122882727,
            -0.581385922363,
        ),
        (
            -1.0,
            40.0,
            45.0,
            213.0,
            0.4,
            0.0488,
            0.0,
            1001,
            7.383647281508,
            -0.581744072747,
        ),
    ];
    for (phi, s, k, days, vol, r, q, steps, npv, delta) in cases {
        let c = contract(phi, s, k, days / 365.0, vol, r, q);
        let v = lattice::value(&c, &[], steps);
        assert!(
            (v.price - npv).abs() < 2e-9,
            "{c:?} {steps}: {v:?} vs {npv}"
        );
        assert!(
            (v.delta - delta).abs() < 1e-10,
            "{c:?} {steps}: {v:?} vs {delta}"
        );
    }
}

/// QuantLib's test-suite/americanoption.cpp quotes, from Ju (1999) Exhibit 3, values that its
/// Ju-approximation engine reproduces to 1e-3: they are the approximation's, up to ~0.016 off
/// the accurate values above, so they only bound the lattice loosely.
#[test]
fn american_put_near_ju_approximation_values() {
    let ju = [
        (35.0, 0.0833, 0.2, 0.006),
        (40.0, 0.3333, 0.2, 1.576),
        (45.0, 0.5833, 0.2, 5.260),
        (40.0, 0.5833, 0.3, 3.161),
        (45.0, 0.3333, 0.4, 6.501),
        (45.0, 0.5833, 0.4, 7.367),
    ];
    for (strike, t, vol, expected) in ju {
        let c = contract(-1.0, 40.0, strike, t, vol, 0.0488, 0.0);
        let v = lattice::value(&c, &[], 1001).price;
        assert!((v - expected).abs() < 2e-2, "{c:?}: {v} vs {expected}");
    }
}

#[test]
fn american_convergence() {
    // ATM put S = K = 100, T = 1, vol 20%, r = 5%: the error shrinks about as 1/n.
    let c = contract(-1.0, 100.0, 100.0, 1.0, 0.2, 0.05, 0.0);
    let reference = lattice::value(&c, &[], 16001).price;
    let e1001 = (lattice::value(&c, &[], 1001).price - reference).abs();
    let e4001 = (lattice::value(&c, &[], 4001).price - reference).abs();
    assert!(
        e1001 < 4e-4 && e4001 < 1e-4 && e4001 < e1001 / 2.0,
        "{e1001} {e4001}"
    );
    // Over the grid, 1001 and 4001 steps agree to 2e-5 of the strike (the worst are long,
    // in-the-money puts with a wide exercise region).
    for c in grid() {
        let a = lattice::value(&c, &[], 1001).price;
        let b = lattice::value(&c, &[], 4001).price;
        assert!((a - b).abs() < 2e-5 * c.strike, "{c:?}: {a} vs {b}");
    }
}

#[test]
fn american_bounds_over_the_grid() {
    let mut negative_rates = grid();
    // Puts with div < rate < 0 (two exercise boundaries) and calls with rate < div < 0.
    negative_rates.push(contract(-1.0, 100.0, 100.0, 2.0, 0.2, -0.01, -0.03));
    negative_rates.push(contract(1.0, 100.0, 100.0, 2.0, 0.2, -0.03, -0.01));
    for c in negative_rates {
        let am = lattice::value(&c, &[], 501).price;
        let eu = lattice::value_european(&c, &[], 501).price;
        assert!(am >= eu - 1e-12, "{c:?}: {am} < {eu}");
        assert!(am >= c.intrinsic() - 1e-12, "{c:?}: {am} < intrinsic");
    }
}

#[test]
fn american_call_without_dividends_is_european() {
    for c in grid() {
        if c.is_call() && c.never_exercised() {
            let v = lattice::value(&c, &[], 1001).price;
            assert!((v - c.european()).abs() < 1e-5, "{c:?}");
        }
    }
    // The same with the exercise test switched on by a negligible dividend.
    let c = contract(1.0, 100.0, 95.0, 1.0, 0.25, 0.05, 0.0);
    let tiny = [Dividend {
        time: 0.5,
        amount: 1e-9,
    }];
    let v = lattice::value(&c, &tiny, 1001).price;
    assert!((v - c.european()).abs() < 1e-5, "{v} vs {}", c.european());
}

#[test]
fn put_call_symmetry_without_dividends() {
    for c in grid() {
        let a = lattice::value(&c, &[], 2001).price;
        let b = lattice::value(&c.symmetric(), &[], 2001).price;
        assert!(
            (a - b).abs() < 1e-5 * c.strike.max(c.spot),
            "{c:?}: {a} vs {b}"
        );
    }
}

#[test]
fn call_exercised_before_a_large_dividend() {
    // A dividend of 8 just before expiry: exercising cum-dividend beats holding.
    let c = contract(1.0, 100.0, 100.0, 0.5, 0.2, 0.05, 0.0);
    let t_d = 0.49;
    let divs = [Dividend {
        time: t_d,
        amount: 8.0,
    }];
    let am = lattice::value(&c, &divs, 1001).price;
    let eu = escrowed_european(&c, &divs);
    assert!(am > eu + 3.0, "{am} vs European {eu}");
    assert!(am >= c.intrinsic());
    // In the model, exercising just before t_d pays S*(t_d) + 8 - K: a European call on S*
    // with strike K - 8 and expiry t_d. The lattice exercises at the last node before t_d
    // (up to T/n earlier), so it is within O(1/n) of that bound or above it.
    let s_star = c.spot - 8.0 * (-c.rate * t_d).exp();
    let exercise_before = contract(1.0, s_star, c.strike - 8.0, t_d, c.vol, c.rate, 0.0).european();
    assert!(
        am > exercise_before - 1e-2 && am < exercise_before + 0.05,
        "{am} vs {exercise_before}"
    );
    // Deep in the money, with a dividend of 20 due at 0.01, the call is exercised just before
    // it: worth S - K exp(-r 0.01) (the strike paid as late as possible), delta 1, gamma 0,
    // theta -r K exp(-r 0.01), up to the last node before 0.01 being up to T/n = 5e-4 earlier.
    let deep = contract(1.0, 160.0, 100.0, 0.5, 0.2, 0.05, 0.0);
    let divs_soon = [Dividend {
        time: 0.01,
        amount: 20.0,
    }];
    let v = lattice::value(&deep, &divs_soon, 1001);
    let wait = (-deep.rate * 0.01).exp() * deep.strike;
    assert!(
        (v.price - (deep.spot - wait)).abs() < deep.rate * wait * 5e-4,
        "{v:?}"
    );
    assert!(
        (v.delta - 1.0).abs() < 1e-9 && v.gamma.abs() < 1e-9,
        "{v:?}"
    );
    assert!((v.theta + deep.rate * wait).abs() < 1e-3, "{v:?}");
    // Monotone in vol.
    let mut prev = 0.0;
    for vol in [0.05, 0.1, 0.2, 0.3, 0.5, 0.8] {
        let v = lattice::value(&Contract { vol, ..c }, &divs, 1001).price;
        assert!(v > prev, "vol {vol}: {v} <= {prev}");
        prev = v;
    }
}

#[test]
fn dividends_raise_puts_and_lower_calls() {
    let divs = [
        Dividend {
            time: 0.25,
            amount: 1.5,
        },
        Dividend {
            time: 0.75,
            amount: 1.5,
        },
    ];
    for c in grid() {
        if c.expiry < 1.0 {
            continue;
        }
        let plain = lattice::value(&c, &[], 501).price;
        let with = lattice::value(&c, &divs, 501).price;
        if c.is_call() {
            assert!(with <= plain * (1.0 + 1e-12), "{c:?}: {with} > {plain}");
        } else {
            assert!(with >= plain * (1.0 - 1e-12), "{c:?}: {with} < {plain}");
        }
        assert!(with >= c.intrinsic() - 1e-12);
    }
}

#[test]
fn ignored_dividends_change_nothing() {
    let c = contract(1.0, 100.0, 100.0, 1.0, 0.3, 0.05, 0.02);
    let none = lattice::value(&c, &[], 301);
    let ignored = [
        Dividend {
            time: 0.5,
            amount: 0.0,
        },
        Dividend {
            time: 0.0,
            amount: 5.0,
        },
        Dividend {
            time: -0.1,
            amount: 5.0,
        },
        Dividend {
            time: 1.5,
            amount: 5.0,
        },
        Dividend {
            time: f64::NAN,
            amount: 5.0,
        },
    ];
    assert_eq!(lattice::value(&c, &ignored, 301), none);
    assert_eq!(
        lattice::value_european(&c, &ignored, 301),
        lattice::value_european(&c, &[], 301)
    );
}

#[test]
fn dividends_worth_the_whole_spot_give_nan() {
    let c = contract(-1.0, 10.0, 10.0, 1.0, 0.3, 0.05, 0.0);
    let v = lattice::value(
        &c,
        &[Dividend {
            time: 0.5,
            amount: 12.0,
        }],
        101,
    );
    assert!(v.price.is_nan() && v.delta.is_nan() && v.gamma.is_nan() && v.theta.is_nan());
}

#[test]
fn exercise_region_greeks_are_exact() {
    let c = contract(-1.0, 50.0, 100.0, 1.0, 0.2, 0.05, 0.0);
    let v = lattice::value(&c, &[], 1001);
    assert!((v.price - 50.0).abs() < 1e-9, "{v:?}");
    assert!(
        (v.delta + 1.0).abs() < 1e-9 && v.gamma.abs() < 1e-9 && v.theta.abs() < 1e-6,
        "{v:?}"
    );
}

#[test]
fn lattice_greeks_match_finite_differences_of_the_lattice() {
    let divs = [
        Dividend {
            time: 0.3,
            amount: 2.0,
        },
        Dividend {
            time: 0.8,
            amount: 2.0,
        },
    ];
    let n = 4001;
    for d in [&[][..], &divs[..]] {
        for phi in [-1.0, 1.0] {
            for k in [80.0, 100.0, 120.0] {
                for vol in [0.15, 0.4] {
                    for (r, q) in [(0.05, 0.0), (0.02, 0.06)] {
                        let c = contract(phi, 100.0, k, 1.0, vol, r, q);
                        let v = lattice::value(&c, d, n);
                        // Spot and time steps wide against the lattice's own small-scale
                        // ripple in S and in the ex-dates' position on the time grid.
                        let price = |ds, dt| {
                            let (c2, d2) = moved(&c, d, ds, dt);
                            lattice::value(&c2, &d2, n).price
                        };
                        let (delta, _, theta) = finite_differences(price, 1.0, 0.01);
                        let (_, gamma, _) = finite_differences(price, 2.0, 0.01);
                        let what = format!("{c:?} dividends {}: {v:?}", d.len());
                        assert!((v.delta - delta).abs() < 5e-4, "{what} delta {delta}");
                        assert!((v.gamma - gamma).abs() < 2.5e-4, "{what} gamma {gamma}");
                        assert!(
                            (v.theta - theta).abs() < 2e-3 * theta.abs().max(1.0),
                            "{what} theta {theta}"
                        );
                    }
                }
            }
        }
    }
}

/// Timing: `cargo test -p strikegrid-core --test american_lattice -- --ignored --nocapture`.
#[test]
#[ignore]
fn timing() {
    use std::time::Instant;
    let divs = [
        Dividend {
            time: 0.3,
            amount: 1.0,
        },
        Dividend {
            time: 0.7,
            amount: 1.0,
        },
    ];
    for steps in [201usize, 1001] {
        for (label, phi, q, d, american) in [
            ("American put", -1.0, 0.0, &[][..], true),
            ("American call, q = 8%", 1.0, 0.08, &[][..], true),
            ("American put, 2 cash dividends", -1.0, 0.0, &divs[..], true),
            ("European put (lattice)", -1.0, 0.0, &[][..], false),
        ] {
            let reps = if steps <= 201 { 2000 } else { 100 };
            let mut best = f64::INFINITY;
            let mut sink = 0.0;
            for _ in 0..9 {
                let start = Instant::now();
                for i in 0..reps {
                    let c = contract(phi, 100.0, 80.0 + (i % 41) as f64, 1.0, 0.25, 0.05, q);
                    let v = if american {
                        lattice::value(&c, d, steps)
                    } else {
                        lattice::value_european(&c, d, steps)
                    };
                    sink += v.price;
                }
                best = best.min(start.elapsed().as_nanos() as f64 / reps as f64);
            }
            println!("{steps:>5} steps  {label:<32} {best:>9.0} ns/option  (checksum {sink:.3})");
        }
    }
    // Convergence figures, ATM put.
    let c = contract(-1.0, 100.0, 100.0, 1.0, 0.2, 0.05, 0.0);
    let reference = lattice::value(&c, &[], 32001).price;
    for steps in [101, 201, 501, 1001, 2001, 4001, 8001] {
        let v = lattice::value(&c, &[], steps);
        println!(
            "ATM put {steps:>5} steps: {:.8}  error vs 32001 steps {:+.2e}  {v:?}",
            v.price,
            v.price - reference
        );
    }
}

//! Accuracy of the Andersen–Lake–Offengenden presets against a converged reference, and the
//! reference's own convergence, over a wide grid of American puts and calls.

use rayon::prelude::*;
use strikegrid_core::american::alo::{Engine, Scheme};
use strikegrid_core::american::{self, Contract, Method};
use strikegrid_core::{GreekSet, Model, OnInvalid, SliceOperands};

/// 2 kinds x 3 spots x 7 expiries x 6 vols x 3 rates x 3 yields = 2,268 options (strike 100).
fn grid() -> Vec<Contract> {
    let mut v = Vec::new();
    for phi in [1.0, -1.0] {
        for spot in [85.0, 100.0, 115.0] {
            for expiry in [7.0 / 365.0, 30.0 / 365.0, 0.25, 0.5, 1.0, 2.0, 5.0] {
                for vol in [0.05, 0.1, 0.2, 0.3, 0.5, 1.0] {
                    for rate in [0.01, 0.05, 0.1] {
                        for div in [0.0, 0.03, 0.08] {
                            v.push(Contract {
                                phi,
                                spot,
                                strike: 100.0,
                                expiry,
                                vol,
                                rate,
                                div,
                            });
                        }
                    }
                }
            }
        }
    }
    v
}

fn prices(scheme: Scheme, cs: &[Contract]) -> Vec<f64> {
    let e = Engine::new(scheme);
    cs.par_chunks(16)
        .flat_map_iter(|chunk| {
            let mut ws = e.workspace();
            chunk
                .iter()
                .map(|c| e.price(c, &mut ws))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn worst(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, |m: f64, d| {
            if m.is_nan() || d.is_nan() {
                f64::NAN
            } else {
                m.max(d)
            }
        })
}

#[test]
fn presets_are_within_their_stated_accuracy_of_the_reference() {
    let cs = grid();
    assert!(cs.len() >= 1000);
    let reference = prices(Scheme::REFERENCE, &cs);
    assert!(reference.iter().all(|v| v.is_finite()));
    let fast = worst(&prices(Scheme::FAST, &cs), &reference);
    let acc = prices(Scheme::ACCURATE, &cs);
    let accurate = worst(&acc, &reference);
    let hp = prices(Scheme::HIGH_PRECISION, &cs);
    let high = worst(&hp, &reference);
    let mut idx: Vec<usize> = (0..cs.len()).collect();
    idx.sort_by(|&a, &b| {
        (hp[b] - reference[b])
            .abs()
            .total_cmp(&(hp[a] - reference[a]).abs())
    });
    for &i in idx.iter().take(6) {
        eprintln!(
            "{:.2e} {:.2e} {:?}",
            hp[i] - reference[i],
            acc[i] - reference[i],
            cs[i]
        );
    }
    eprintln!("worst errors: fast {fast:.2e}, accurate {accurate:.2e}, high {high:.2e}");
    assert!(fast < 5e-4, "fast {fast:e}");
    assert!(accurate < 1e-5, "accurate {accurate:e}");
    assert!(high < 1e-7, "high precision {high:e}");
}

/// The reference is converged: refining it further moves no price by more than 1e-8.
#[test]
fn reference_is_converged() {
    let cs: Vec<Contract> = grid().into_iter().step_by(11).collect();
    let reference = prices(Scheme::REFERENCE, &cs);
    let finer = prices(
        Scheme {
            nodes: 64,
            boundary_points: 128,
            price_points: 512,
            ..Scheme::REFERENCE
        },
        &cs,
    );
    let d = worst(&reference, &finer);
    eprintln!("reference vs finer: {d:.2e} over {} options", cs.len());
    assert!(d < 1e-8, "{d:e}");
}

/// An independent method agrees: the Leisen–Reimer lattice. With early exercise its error
/// falls as 1/n (seen clearly at these step counts: it halves from 8,001 to 16,001 steps), so
/// 2 L(16001) - L(8001) cancels the leading term.
#[test]
fn reference_agrees_with_the_lattice() {
    let cs: Vec<Contract> = grid()
        .into_iter()
        .step_by(7)
        .filter(|c| c.expiry >= 0.25 && c.vol * c.expiry.sqrt() <= 1.0)
        .collect();
    let reference = prices(Scheme::REFERENCE, &cs);
    let lattice: Vec<f64> = cs
        .par_iter()
        .map(|c| {
            let coarse = american::lattice::value(c, &[], 8001).price;
            let fine = american::lattice::value(c, &[], 16001).price;
            2.0 * fine - coarse
        })
        .collect();
    let d = worst(&reference, &lattice);
    eprintln!(
        "reference vs extrapolated lattice: {d:.2e} over {} options",
        cs.len()
    );
    assert!(d < 1e-4, "{d:e}");
}

#[test]
fn american_is_at_least_european_and_intrinsic() {
    let cs = grid();
    let v = prices(Scheme::ACCURATE, &cs);
    for (c, v) in cs.iter().zip(&v) {
        assert!(*v >= c.european() - 1e-12, "{c:?} {v}");
        assert!(*v >= c.intrinsic() - 1e-12, "{c:?} {v}");
    }
}

#[test]
fn call_without_dividends_is_european() {
    let e = Engine::new(Scheme::ACCURATE);
    let mut ws = e.workspace();
    for (spot, expiry, vol, rate) in [(90.0, 1.0, 0.2, 0.05), (120.0, 3.0, 0.5, 0.1)] {
        let c = Contract {
            phi: 1.0,
            spot,
            strike: 100.0,
            expiry,
            vol,
            rate,
            div: 0.0,
        };
        assert!((e.price(&c, &mut ws) - c.european()).abs() < 1e-12);
    }
}

#[test]
fn monotone_in_vol_and_expiry() {
    let e = Engine::new(Scheme::ACCURATE);
    let mut ws = e.workspace();
    for phi in [1.0, -1.0] {
        let base = Contract {
            phi,
            spot: 100.0,
            strike: 100.0,
            expiry: 1.0,
            vol: 0.2,
            rate: 0.05,
            div: 0.03,
        };
        let mut last = 0.0;
        for vol in [0.05, 0.1, 0.2, 0.4, 0.8] {
            let v = e.price(&Contract { vol, ..base }, &mut ws);
            assert!(v > last, "vol {vol}");
            last = v;
        }
        let mut last = 0.0;
        for expiry in [0.02, 0.1, 0.5, 1.0, 3.0] {
            let v = e.price(&Contract { expiry, ..base }, &mut ws);
            assert!(v > last, "expiry {expiry}");
            last = v;
        }
    }
}

#[test]
fn analytic_greeks_match_differences_of_the_price() {
    let e = Engine::new(Scheme::HIGH_PRECISION);
    let mut ws = e.workspace();
    for c in [
        Contract {
            phi: -1.0,
            spot: 95.0,
            strike: 100.0,
            expiry: 1.0,
            vol: 0.25,
            rate: 0.06,
            div: 0.01,
        },
        Contract {
            phi: 1.0,
            spot: 110.0,
            strike: 100.0,
            expiry: 0.5,
            vol: 0.3,
            rate: 0.02,
            div: 0.07,
        },
    ] {
        let v = e.value(&c, true, &mut ws);
        let h = 1e-3 * c.spot;
        let up = e.price(
            &Contract {
                spot: c.spot + h,
                ..c
            },
            &mut ws,
        );
        let dn = e.price(
            &Contract {
                spot: c.spot - h,
                ..c
            },
            &mut ws,
        );
        let delta = (up - dn) / (2.0 * h);
        let gamma = (up - 2.0 * v.price + dn) / (h * h);
        let ht = 1e-4;
        let later = e.price(
            &Contract {
                expiry: c.expiry + ht,
                ..c
            },
            &mut ws,
        );
        let sooner = e.price(
            &Contract {
                expiry: c.expiry - ht,
                ..c
            },
            &mut ws,
        );
        let theta = -(later - sooner) / (2.0 * ht);
        assert!((v.delta - delta).abs() < 1e-6, "{} {delta}", v.delta);
        assert!((v.gamma - gamma).abs() < 1e-5, "{} {gamma}", v.gamma);
        assert!((v.theta - theta).abs() < 1e-4, "{} {theta}", v.theta);
    }
}

#[test]
fn batch_interface_reports_and_broadcasts() {
    let kind = [1.0, -1.0, -1.0];
    let spot = [100.0, 90.0, -1.0];
    let strike = [100.0; 3];
    let expiry = [1.0; 3];
    let vol = [0.2; 3];
    let rate = [0.05; 3];
    let div = [0.02; 3];
    let ops = SliceOperands::new([&kind, &spot, &strike, &expiry, &vol, &rate, &div]).unwrap();
    let set = GreekSet::from_iter([strikegrid_core::Greek::Price]);
    let mut out = vec![0.0; 3];
    let method = Method::parse(None, None).unwrap();
    let err = american::evaluate(
        Model::Bsm,
        &method,
        &[],
        set,
        OnInvalid::Raise,
        &ops,
        &mut [&mut out],
    )
    .unwrap_err();
    assert!(err.to_string().contains("spot"), "{err}");
    american::evaluate(
        Model::Bsm,
        &method,
        &[],
        set,
        OnInvalid::Nan,
        &ops,
        &mut [&mut out],
    )
    .unwrap();
    assert!(out[0] > 0.0 && out[1] > 10.0 && out[2].is_nan());
    assert!(Method::parse(Some("nope"), None).is_err());
    assert!(Method::parse(Some("baw"), Some(11)).is_err());
    assert_eq!(
        Method::parse(Some("lattice"), Some(100)).unwrap(),
        Method::Lattice(101)
    );
    let bach = american::evaluate(
        Model::Bachelier,
        &method,
        &[],
        set,
        OnInvalid::Nan,
        &ops,
        &mut [&mut out],
    );
    assert!(bach.is_err());
}

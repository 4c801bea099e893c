//! Batch package valuation: sums of legs, exact expiry analytics against dense sampling, the
//! probability of profit against the distribution function, the real-world measure, errors.

use proptest::prelude::*;
use strikegrid_core::european::price_one;
use strikegrid_core::package::{
    self, max_roots, Measure, Outputs, Packages, Payoff, LEG_OUTPUTS, OUTPUTS,
};
use strikegrid_core::svi_surface;
use strikegrid_core::{Error, Model, OnInvalid};

mod common;
use common::{market, LOG_DF, SPOT};

/// Owned batch arrays.
#[derive(Clone, Debug)]
struct Batch {
    legs: usize,
    kind: Vec<f64>,
    strike: Vec<f64>,
    expiry: Vec<f64>,
    qty: Vec<f64>,
    under_qty: Vec<f64>,
    under_cost: Vec<f64>,
    premium: Vec<f64>,
}

impl Batch {
    fn view(&self) -> Packages<'_> {
        Packages {
            legs: self.legs,
            kind: &self.kind,
            strike: &self.strike,
            expiry: &self.expiry,
            qty: &self.qty,
            under_qty: &self.under_qty,
            under_cost: &self.under_cost,
            premium: &self.premium,
        }
    }
}

struct Results {
    per_package: Vec<Vec<f64>>,
    breakevens: Vec<f64>,
    per_leg: Vec<Vec<f64>>,
}

fn run(b: &Batch, measure: Measure) -> Result<Results, Error> {
    let n = b.premium.len();
    let mut per_package = vec![vec![0.0; n]; OUTPUTS.len()];
    let mut breakevens = vec![0.0; n * max_roots(b.legs)];
    let mut per_leg = vec![vec![0.0; n * b.legs]; LEG_OUTPUTS.len()];
    {
        let mut pp = per_package.iter_mut().map(|v| v.as_mut_slice());
        let mut pl = per_leg.iter_mut().map(|v| v.as_mut_slice());
        let out = Outputs {
            per_package: std::array::from_fn(|_| pp.next().unwrap()),
            breakevens: &mut breakevens,
            per_leg: Some(std::array::from_fn(|_| pl.next().unwrap())),
        };
        package::value(&market(), &b.view(), measure, out)?;
    }
    Ok(Results {
        per_package,
        breakevens,
        per_leg,
    })
}

fn out(name: &str) -> usize {
    OUTPUTS.iter().position(|o| *o == name).unwrap()
}

/// An iron condor, a covered call (with shares) and a calendar (two expiries).
fn sample_batch() -> Batch {
    Batch {
        legs: 4,
        kind: vec![-1., -1., 1., 1., 1., 1., 1., 1., 1., 1., 1., 1.],
        strike: vec![85., 90., 110., 115., 105., 1., 1., 1., 100., 100., 1., 1.],
        expiry: vec![0.5, 0.5, 0.5, 0.5, 0.1, 1., 1., 1., 0.1, 1.0, 1., 1.],
        qty: vec![1., -1., -1., 1., -1., 0., 0., 0., -1., 1., 0., 0.],
        under_qty: vec![0.0, 1.0, 0.0],
        under_cost: vec![0.0, 98.0, 0.0],
        premium: vec![-1.2, -1.5, 3.0],
    }
}

fn leg_price(kind: f64, k: f64, t: f64) -> (f64, f64) {
    let (lf, rate) = svi_surface::forward_and_rate(&market().slices, &LOG_DF, t);
    let mut vol = [0.0];
    svi_surface::vol_into(&market().slices, &[k], &[t], &mut vol).unwrap();
    let p = price_one(
        Model::Black76,
        kind,
        lf.exp(),
        k,
        t,
        vol[0],
        rate,
        0.0,
        OnInvalid::Raise,
    )
    .unwrap();
    (p, vol[0])
}

#[test]
fn value_is_the_sum_of_the_legs() {
    let b = sample_batch();
    let r = run(&b, Measure::RiskNeutral).unwrap();
    for i in 0..3 {
        let mut want = b.under_qty[i] * SPOT - b.under_cost[i];
        for j in 0..4 {
            let s = i * 4 + j;
            if b.qty[s] != 0.0 {
                let (p, vol) = leg_price(b.kind[s], b.strike[s], b.expiry[s]);
                want += b.qty[s] * p;
                assert!((r.per_leg[0][s] - vol).abs() < 1e-12);
                assert!((r.per_leg[1][s] - p).abs() < 1e-12 * p.max(1.0));
                let (lf, rate) =
                    svi_surface::forward_and_rate(&market().slices, &LOG_DF, b.expiry[s]);
                assert!((r.per_leg[7][s] - lf.exp()).abs() < 1e-12 * lf.exp());
                assert!((r.per_leg[8][s] - (-rate * b.expiry[s]).exp()).abs() < 1e-14);
            } else {
                assert!(r.per_leg.iter().all(|o| o[s].is_nan()));
            }
        }
        let got = r.per_package[out("value")][i];
        assert!((got - want).abs() < 1e-10, "package {i}: {got} vs {want}");
    }
    // The calendar (two expiries) has no expiry analytics.
    for name in ["pop", "expected_pnl", "max_profit", "max_loss"] {
        assert!(r.per_package[out(name)][2].is_nan());
    }
    assert!(r.breakevens[2 * max_roots(4)..].iter().all(|x| x.is_nan()));
}

#[test]
fn condor_analytics_match_hand_formulas() {
    let b = sample_batch();
    let r = run(&b, Measure::RiskNeutral).unwrap();
    // Credit 1.2 on 5-wide wings: max profit 1.2, max loss 3.8, breakevens 88.8 and 111.2.
    assert!((r.per_package[out("max_profit")][0] - 1.2).abs() < 1e-12);
    assert!((r.per_package[out("max_loss")][0] - 3.8).abs() < 1e-12);
    let be = &r.breakevens[..max_roots(4)];
    assert!((be[0] - 88.8).abs() < 1e-12 && (be[1] - 111.2).abs() < 1e-12);
    assert!(be[2..].iter().all(|x| x.is_nan()));
    // Covered call bought at 98 with a 1.5 credit on the 105 call: profit capped at 8.5,
    // loss 96.5 if the shares go to zero, breakeven 96.5.
    assert!((r.per_package[out("max_profit")][1] - 8.5).abs() < 1e-12);
    assert!((r.per_package[out("max_loss")][1] - 96.5).abs() < 1e-12);
    assert!((r.breakevens[max_roots(4)] - 96.5).abs() < 1e-12);
}

#[test]
fn probability_of_profit_is_the_mass_between_breakevens() {
    let b = sample_batch();
    let r = run(&b, Measure::RiskNeutral).unwrap();
    let pop = r.per_package[out("pop")][0];
    let be = &r.breakevens[..2];
    // The smile's distribution function by a central difference of undiscounted puts.
    let cdf = |x: f64| {
        let h = 1e-4 * x;
        let (up, _) = leg_price(-1.0, x + h, 0.5);
        let (dn, _) = leg_price(-1.0, x - h, 0.5);
        let (_, rate) = svi_surface::forward_and_rate(&market().slices, &LOG_DF, 0.5);
        (up - dn) / (2.0 * h) * (rate * 0.5).exp()
    };
    let want = cdf(be[1]) - cdf(be[0]);
    assert!((pop - want).abs() < 1e-6, "{pop} vs {want}");
    // Real world: a lognormal with the given drift and vol.
    let rw = run(
        &b,
        Measure::RealWorld {
            drift: 0.08,
            vol: 0.25,
        },
    )
    .unwrap();
    let ln_cdf = |x: f64| {
        let mu = (0.08 - 0.5 * 0.0625) * 0.5;
        strikegrid_core::normal::cdf::<strikegrid_core::fastmath::Plain>(
            ((x / SPOT).ln() - mu) / (0.25 * 0.5f64.sqrt()),
        )
    };
    let want = ln_cdf(be[1]) - ln_cdf(be[0]);
    assert!((rw.per_package[out("pop")][0] - want).abs() < 1e-12);
}

#[test]
fn expected_pnl_is_the_carried_value_less_the_premium() {
    let b = sample_batch();
    let r = run(&b, Measure::RiskNeutral).unwrap();
    for i in 0..2 {
        let t = b.expiry[i * 4];
        let (lf, rate) = svi_surface::forward_and_rate(&market().slices, &LOG_DF, t);
        let option_value =
            r.per_package[out("value")][i] - (b.under_qty[i] * SPOT - b.under_cost[i]);
        let want = option_value * (rate * t).exp() + b.under_qty[i] * lf.exp()
            - b.under_cost[i]
            - b.premium[i];
        let got = r.per_package[out("expected_pnl")][i];
        assert!((got - want).abs() < 1e-10, "{got} vs {want}");
    }
}

#[test]
fn errors_name_the_offending_leg() {
    let mut b = sample_batch();
    b.expiry[1] = 2.0; // beyond the last slice
    match run(&b, Measure::RiskNeutral) {
        Err(Error::InvalidInput { arg, index, .. }) => assert_eq!((arg, index), ("expiry", 1)),
        other => panic!("expected an expiry error, got {:?}", other.err()),
    }
    let mut b = sample_batch();
    b.strike[6] = -5.0; // an empty slot: ignored
    assert!(run(&b, Measure::RiskNeutral).is_ok());
    b.strike[4] = -5.0;
    assert!(matches!(
        run(&b, Measure::RiskNeutral),
        Err(Error::InvalidInput {
            arg: "strike",
            index: 4,
            ..
        })
    ));
    let mut b = sample_batch();
    b.kind[0] = 0.5;
    assert!(matches!(
        run(&b, Measure::RiskNeutral),
        Err(Error::InvalidInput { arg: "kind", .. })
    ));
    let mut b = sample_batch();
    b.premium[2] = f64::NAN;
    assert!(matches!(
        run(&b, Measure::RiskNeutral),
        Err(Error::InvalidInput {
            arg: "premium",
            index: 2,
            ..
        })
    ));
    let bad = Measure::RealWorld {
        drift: 0.0,
        vol: 0.0,
    };
    assert!(run(&sample_batch(), bad).is_err());
    let mut b = sample_batch();
    b.under_qty.pop();
    assert!(matches!(
        run(&b, Measure::RiskNeutral),
        Err(Error::Shape(_))
    ));
}

fn dense_extremes(pay: &Payoff, hi: f64) -> (f64, f64) {
    let n = 200_000;
    (0..=n)
        .map(|i| pay.at(hi * i as f64 / n as f64))
        .fold((f64::NEG_INFINITY, f64::INFINITY), |(a, b), y| {
            (a.max(y), b.min(y))
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Exact analytics agree with dense sampling of the payoff: the extremes on [0, 3 max K]
    /// (where the payoff is bounded), every breakeven a root, and a sign change between
    /// consecutive sample points only next to a breakeven.
    #[test]
    fn analytics_agree_with_sampling(
        legs in proptest::collection::vec(
            (prop_oneof![Just(1.0), Just(-1.0)], 50.0..150.0f64, -3i32..=3), 1..=4),
        under in -1i32..=1,
        premium in -10.0..10.0f64,
    ) {
        let kind: Vec<f64> = legs.iter().map(|l| l.0).collect();
        let strike: Vec<f64> = legs.iter().map(|l| (l.1 * 4.0).round() / 4.0).collect();
        let qty: Vec<f64> = legs.iter().map(|l| f64::from(l.2)).collect();
        let uq = f64::from(under);
        let pay = Payoff::new(&kind, &strike, &qty, uq, uq * 100.0, premium);
        let a = pay.analytics();
        let hi = 3.0 * strike.iter().fold(100.0f64, |m, &k| m.max(k));
        let (y_max, y_min) = dense_extremes(&pay, hi);
        let scale = 1.0 + y_max.abs().max(y_min.abs());
        // Sampling misses a kink by at most a step times the steepest slope.
        let steep = qty.iter().map(|q| q.abs()).sum::<f64>() + uq.abs();
        let grid_tol = hi / 200_000.0 * steep + 1e-9 * scale;
        if a.max_profit.is_finite() {
            prop_assert!(y_max <= a.max_profit + 1e-9 * scale);
            prop_assert!(a.max_profit - y_max <= grid_tol);
        } else {
            prop_assert!(pay.at(1e6) > y_max);
        }
        if a.max_loss.is_finite() {
            prop_assert!(-y_min <= a.max_loss + 1e-9 * scale);
            prop_assert!(a.max_loss + y_min <= grid_tol);
        } else {
            prop_assert!(pay.at(1e6) < y_min);
        }
        let roots = &a.roots[..a.n_roots];
        for &r in roots {
            prop_assert!(pay.at(r).abs() <= 1e-9 * scale, "payoff {} at root {r}", pay.at(r));
        }
        let n = 20_000;
        for i in 0..n {
            let (x0, x1) = (hi * i as f64 / n as f64, hi * (i + 1) as f64 / n as f64);
            if pay.at(x0) * pay.at(x1) < 0.0 {
                prop_assert!(roots.iter().any(|&r| r >= x0 - 1e-9 && r <= x1 + 1e-9));
            }
        }
    }
}

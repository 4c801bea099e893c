//! Scenario revaluation: the zero shock against the package kernel, finite differences
//! against the package greeks, expiry inside the horizon, the dynamics, the parallel paths
//! against each other, groups, and bad input.

use strikegrid_core::european::price_one;
use strikegrid_core::package::{self, max_roots, Measure, Outputs, Packages, OUTPUTS};
use strikegrid_core::scenario::{self, Book, Dynamics, Grid};
use strikegrid_core::svi_surface;
use strikegrid_core::{Error, Model, OnInvalid};

mod common;
use common::{market, LOG_DF, SPOT};

/// Owned book arrays.
#[derive(Clone, Debug)]
struct Owned {
    legs: usize,
    kind: Vec<f64>,
    strike: Vec<f64>,
    expiry: Vec<f64>,
    qty: Vec<f64>,
    under_qty: Vec<f64>,
    under_cost: Vec<f64>,
    premium: Vec<f64>,
    weight: Vec<f64>,
    group: Vec<u32>,
    n_groups: usize,
}

impl Owned {
    fn packages(&self) -> Packages<'_> {
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

    fn book(&self) -> Book<'_> {
        Book {
            packages: self.packages(),
            weight: &self.weight,
            group: &self.group,
            n_groups: self.n_groups,
        }
    }

    fn n(&self) -> usize {
        self.weight.len()
    }

    /// Each package in a group of its own.
    fn one_group_each(mut self) -> Owned {
        self.group = (0..self.n() as u32).collect();
        self.n_groups = self.n();
        self
    }
}

/// An iron condor, a covered call (with shares), a calendar and a short put expiring in about
/// five days.
fn sample() -> Owned {
    Owned {
        legs: 4,
        kind: [[-1., -1., 1., 1.], [1.; 4], [1.; 4], [-1.; 4]].concat(),
        strike: [
            [85., 90., 110., 115.],
            [105., 1., 1., 1.],
            [100., 100., 1., 1.],
            [97., 1., 1., 1.],
        ]
        .concat(),
        expiry: [
            [0.5; 4],
            [0.1, 1., 1., 1.],
            [0.1, 1.0, 1., 1.],
            [5.0 / 365.0, 1., 1., 1.],
        ]
        .concat(),
        qty: [
            [1., -1., -1., 1.],
            [-1., 0., 0., 0.],
            [-1., 1., 0., 0.],
            [-2., 0., 0., 0.],
        ]
        .concat(),
        under_qty: vec![0.0, 1.0, 0.0, 0.0],
        under_cost: vec![0.0, 98.0, 0.0, 0.0],
        premium: vec![0.0; 4],
        weight: vec![100.0, 200.0, 50.0, 100.0],
        group: vec![0, 1, 0, 1],
        n_groups: 2,
    }
}

fn revalue(b: &Owned, spot: &[f64], vol: &[f64], days: &[f64], dynamics: Dynamics) -> Vec<f64> {
    let grid = Grid { spot, vol, days };
    let mut out = vec![0.0; grid.len() * b.n_groups];
    scenario::revalue(&market(), &b.book(), &grid, dynamics, &mut out).unwrap();
    out
}

/// Per package: value, delta, gamma, vega, theta, rho (per unit) from the package kernel.
fn package_values(b: &Owned) -> Vec<Vec<f64>> {
    let n = b.n();
    let mut per_package = vec![vec![0.0; n]; OUTPUTS.len()];
    let mut roots = vec![0.0; n * max_roots(b.legs)];
    {
        let mut pp = per_package.iter_mut().map(|v| v.as_mut_slice());
        let out = Outputs {
            per_package: std::array::from_fn(|_| pp.next().unwrap()),
            breakevens: &mut roots,
            per_leg: None,
        };
        package::value(&market(), &b.packages(), Measure::RiskNeutral, out).unwrap();
    }
    per_package
}

fn close(a: f64, b: f64, rel: f64, abs: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()) + abs
}

#[test]
fn zero_shock_reproduces_the_package_value() {
    let b = sample();
    let pv = package_values(&b);
    let got = revalue(&b, &[0.0], &[0.0], &[0.0], Dynamics::StickyStrike);
    let mut want = [0.0; 2];
    for i in 0..b.n() {
        want[b.group[i] as usize] += b.weight[i] * pv[0][i];
    }
    for g in 0..2 {
        assert!(close(got[g], want[g], 1e-13, 1e-11), "{got:?} vs {want:?}");
    }
    let moneyness = revalue(&b, &[0.0], &[0.0], &[0.0], Dynamics::StickyMoneyness);
    assert_eq!(got, moneyness);
}

/// `theta - b S delta` per package: the decay with the spot (not the forward) held.
fn spot_held_theta(b: &Owned, pv: &[Vec<f64>]) -> Vec<f64> {
    (0..b.n())
        .map(|i| {
            let mut th = pv[4][i];
            for s in i * b.legs..(i + 1) * b.legs {
                if b.qty[s] == 0.0 {
                    continue;
                }
                let (k, t) = (b.strike[s], b.expiry[s]);
                let (lf, rate) = svi_surface::forward_and_rate(&market().slices, &LOG_DF, t);
                let mut vol = [0.0];
                svi_surface::vol_into(&market().slices, &[k], &[t], &mut vol).unwrap();
                let carry = (lf - SPOT.ln()) / t;
                // Spot delta of the leg by a central difference of Black-76 on the forward.
                let h = 1e-5 * lf.exp();
                let p = |f: f64| {
                    price_one(
                        Model::Black76,
                        b.kind[s],
                        f,
                        k,
                        t,
                        vol[0],
                        rate,
                        0.0,
                        OnInvalid::Raise,
                    )
                    .unwrap()
                };
                let dvdf = (p(lf.exp() + h) - p(lf.exp() - h)) / (2.0 * h);
                th -= b.qty[s] * carry * lf.exp() * dvdf;
            }
            th
        })
        .collect()
}

#[test]
fn finite_differences_of_the_scenarios_give_the_package_greeks() {
    let b = sample().one_group_each();
    let pv = package_values(&b);
    let n = b.n();
    // Spot: central differences in the relative shock s (dV/ds = S delta).
    let (h, hg) = (1e-6, 1e-4);
    let v = revalue(
        &b,
        &[-hg, -h, 0.0, h, hg],
        &[0.0],
        &[0.0],
        Dynamics::StickyStrike,
    );
    let theta = spot_held_theta(&b, &pv);
    let at = |k: usize, i: usize| v[k * n + i];
    for (i, &w) in b.weight.iter().enumerate() {
        let delta = (at(3, i) - at(1, i)) / (2.0 * h) / SPOT / w;
        let gamma = (at(4, i) - 2.0 * at(2, i) + at(0, i)) / (hg * hg) / (SPOT * SPOT) / w;
        let (want_delta, want_gamma) = (pv[1][i], pv[2][i]);
        assert!(
            close(delta, want_delta, 1e-6, 1e-8),
            "delta {i}: {delta} vs {want_delta}"
        );
        assert!(
            close(gamma, want_gamma, 1e-4, 1e-7),
            "gamma {i}: {gamma} vs {want_gamma}"
        );
    }
    // Vol: additive shocks.
    let hv = 1e-5;
    let v = revalue(&b, &[0.0], &[-hv, hv], &[0.0], Dynamics::StickyStrike);
    for i in 0..n {
        let vega = (v[n + i] - v[i]) / (2.0 * hv) / b.weight[i];
        assert!(
            close(vega, pv[3][i], 1e-6, 1e-8),
            "vega {i}: {vega} vs {}",
            pv[3][i]
        );
    }
    // Days: one-sided (days >= 0), Richardson-extrapolated.
    let d = 1e-3;
    let v = revalue(
        &b,
        &[0.0],
        &[0.0],
        &[0.0, d, 2.0 * d],
        Dynamics::StickyStrike,
    );
    for i in 0..n {
        let (v0, v1, v2) = (v[i], v[n + i], v[2 * n + i]);
        let per_day = (4.0 * (v1 - v0) - (v2 - v0) / 2.0) / (3.0 * d);
        let want = theta[i] / 365.0 * b.weight[i];
        assert!(
            close(per_day, want, 1e-5, 1e-7),
            "theta {i}: {per_day} vs {want}"
        );
    }
}

#[test]
fn options_expiring_inside_the_horizon_pay_intrinsic_at_the_shocked_spot() {
    let mut b = sample();
    // Only the short put (5 days) and the covered call's shares.
    b.group = vec![0, 1, 0, 2];
    b.n_groups = 3;
    let spots = [-0.2, -0.03, 0.0, 0.05];
    let v = revalue(&b, &spots, &[0.0, 0.1], &[5.0, 7.5], Dynamics::StickyStrike);
    for (i, s) in spots.iter().enumerate() {
        let st = SPOT * (1.0 + s);
        for j in 0..2 {
            for d in 0..2 {
                let at = ((i * 2 + j) * 2 + d) * 3;
                let want = -2.0 * (97.0 - st).max(0.0) * 100.0;
                assert!(
                    close(v[at + 2], want, 1e-14, 1e-9),
                    "{} vs {want}",
                    v[at + 2]
                );
            }
        }
    }
}

#[test]
fn sticky_moneyness_reads_the_vol_at_the_shifted_strike() {
    let b = Owned {
        legs: 1,
        kind: vec![-1.0],
        strike: vec![95.0],
        expiry: vec![0.5],
        qty: vec![-1.0],
        under_qty: vec![0.0],
        under_cost: vec![0.0],
        premium: vec![0.0],
        weight: vec![1.0],
        group: vec![0],
        n_groups: 1,
    };
    let (s, dv) = (-0.1, 0.02);
    let (lf, rate) = svi_surface::forward_and_rate(&market().slices, &LOG_DF, 0.5);
    let vol_at = |k: f64| {
        let mut v = [0.0];
        svi_surface::vol_into(&market().slices, &[k], &[0.5], &mut v).unwrap();
        v[0]
    };
    let price = |vol: f64| {
        -price_one(
            Model::Black76,
            -1.0,
            lf.exp() * (1.0 + s),
            95.0,
            0.5,
            vol + dv,
            rate,
            0.0,
            OnInvalid::Raise,
        )
        .unwrap()
    };
    let strike = revalue(&b, &[s], &[dv], &[0.0], Dynamics::StickyStrike)[0];
    let moneyness = revalue(&b, &[s], &[dv], &[0.0], Dynamics::StickyMoneyness)[0];
    assert!(close(strike, price(vol_at(95.0)), 1e-13, 1e-13));
    assert!(close(moneyness, price(vol_at(95.0 / 0.9)), 1e-13, 1e-13));
    // Down 10% on a negative skew: the put's strike is now nearer the money, its vol lower.
    assert!(moneyness > strike);
}

#[test]
fn vol_shocks_are_floored_at_zero() {
    let b = sample();
    let floor = revalue(&b, &[0.1], &[-5.0, -10.0], &[0.0], Dynamics::StickyStrike);
    assert_eq!(floor[..2], floor[2..]);
    assert!(floor.iter().all(|x| x.is_finite()));
}

/// Many random condors, so that the parallel paths are taken.
fn big(n: usize) -> Owned {
    let mut state = 12345u64;
    let mut rnd = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut o = Owned {
        legs: 4,
        kind: Vec::new(),
        strike: Vec::new(),
        expiry: Vec::new(),
        qty: Vec::new(),
        under_qty: vec![0.0; n],
        under_cost: vec![0.0; n],
        premium: vec![0.0; n],
        weight: vec![100.0; n],
        group: (0..n as u32).map(|i| i % 3).collect(),
        n_groups: 3,
    };
    for _ in 0..n {
        let c = 80.0 + 30.0 * rnd();
        let w = 1.0 + 5.0 * rnd();
        let t = 0.02 + 0.9 * rnd();
        o.kind.extend([-1.0, -1.0, 1.0, 1.0]);
        o.strike.extend([c - 2.0 * w, c - w, c + w, c + 2.0 * w]);
        o.expiry.extend([t; 4]);
        o.qty.extend([1.0, -1.0, -1.0, 1.0]);
    }
    o
}

#[test]
fn parallel_paths_agree_with_each_other_and_groups_add_up() {
    let b = big(3000);
    let spots: Vec<f64> = (0..9).map(|i| -0.2 + 0.05 * i as f64).collect();
    let vols = [-0.05, 0.0, 0.05];
    let days = [0.0, 3.0, 10.0];
    // 27 pairs: one pair per task.
    let grid = revalue(&b, &spots, &vols, &days, Dynamics::StickyStrike);
    for (i, &s) in spots.iter().enumerate() {
        for (j, &dv) in vols.iter().enumerate() {
            // One pair: chunks of legs in parallel, partial sums reduced.
            let one = revalue(&b, &[s], &[dv], &days, Dynamics::StickyStrike);
            let at = (i * 3 + j) * 3 * 3;
            for (x, y) in grid[at..at + 9].iter().zip(&one) {
                assert!(close(*x, *y, 1e-12, 1e-9), "{x} vs {y}");
            }
        }
    }
    let mut single = b.clone();
    single.group = vec![0; b.n()];
    single.n_groups = 1;
    let total = revalue(&single, &spots, &vols, &days, Dynamics::StickyStrike);
    for (k, t) in total.iter().enumerate() {
        let sum: f64 = grid[k * 3..k * 3 + 3].iter().sum();
        assert!(close(*t, sum, 1e-12, 1e-9));
    }
}

fn err(b: &Owned, spot: &[f64], vol: &[f64], days: &[f64]) -> Error {
    let grid = Grid { spot, vol, days };
    let mut out = vec![0.0; grid.len() * b.n_groups];
    scenario::revalue(
        &market(),
        &b.book(),
        &grid,
        Dynamics::StickyStrike,
        &mut out,
    )
    .unwrap_err()
}

fn arg_and_index(e: Error) -> (&'static str, usize) {
    match e {
        Error::InvalidInput { arg, index, .. } => (arg, index),
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

#[test]
fn bad_input_is_reported() {
    let b = sample();
    assert_eq!(
        arg_and_index(err(&b, &[0.0, -1.0], &[0.0], &[0.0])),
        ("spot", 1)
    );
    assert_eq!(
        arg_and_index(err(&b, &[0.0], &[f64::NAN], &[0.0])),
        ("vol", 0)
    );
    assert_eq!(
        arg_and_index(err(&b, &[0.0], &[0.0], &[1.0, -1.0])),
        ("days", 1)
    );
    let mut late = b.clone();
    late.expiry[5] = 2.0;
    late.qty[5] = 1.0;
    let e = err(&late, &[0.0], &[0.0], &[0.0]);
    assert!(
        e.to_string().contains("beyond the surface's last expiry"),
        "{e}"
    );
    assert_eq!(arg_and_index(e), ("expiry", 5));
    let mut grp = b.clone();
    grp.group[3] = 2;
    assert_eq!(
        arg_and_index(err(&grp, &[0.0], &[0.0], &[0.0])),
        ("group", 3)
    );
    let mut w = b.clone();
    w.weight[1] = f64::INFINITY;
    assert_eq!(
        arg_and_index(err(&w, &[0.0], &[0.0], &[0.0])),
        ("weight", 1)
    );
    let mut k = b.clone();
    k.kind[0] = 0.5;
    assert_eq!(arg_and_index(err(&k, &[0.0], &[0.0], &[0.0])), ("kind", 0));
    // Wrong output length, no group.
    let grid = Grid {
        spot: &[0.0],
        vol: &[0.0],
        days: &[0.0],
    };
    let mut short = vec![0.0; 1];
    let e = scenario::revalue(
        &market(),
        &b.book(),
        &grid,
        Dynamics::StickyStrike,
        &mut short,
    );
    assert!(matches!(e, Err(Error::Shape(_))));
    let mut none = b.clone();
    none.n_groups = 0;
    let e = scenario::revalue(
        &market(),
        &none.book(),
        &grid,
        Dynamics::StickyStrike,
        &mut [],
    );
    assert!(matches!(e, Err(Error::Shape(_))));
    assert!(Dynamics::parse("sticky_delta").is_err());
}

#[test]
fn an_empty_grid_or_book_is_fine() {
    let b = sample();
    assert!(revalue(&b, &[], &[0.0], &[0.0], Dynamics::StickyStrike).is_empty());
    let empty = Owned {
        legs: 1,
        kind: vec![],
        strike: vec![],
        expiry: vec![],
        qty: vec![],
        under_qty: vec![],
        under_cost: vec![],
        premium: vec![],
        weight: vec![],
        group: vec![],
        n_groups: 1,
    };
    assert_eq!(
        revalue(&empty, &[0.1], &[0.0], &[0.0, 1.0], Dynamics::StickyStrike),
        [0.0; 2]
    );
}

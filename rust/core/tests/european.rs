//! Properties of the European kernels, from Rust alone: parity, bounds, finite-difference
//! greeks, expiry-0 limits, published reference values, error reporting.

use proptest::prelude::*;
use strikegrid_core::european::{evaluate, evaluate_one, price_one, Operands, SliceOperands};
use strikegrid_core::{Error, Greek, GreekSet, Model, OnInvalid};

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

fn all_greeks(model: Model, x: [f64; 7]) -> Vec<(Greek, f64)> {
    evaluate_one(model, GreekSet::standard(), OnInvalid::Raise, x).unwrap()
}

/// The outputs of `set` for every option of `ops`, in the set's canonical order.
fn outputs<O: Operands>(model: Model, set: GreekSet, policy: OnInvalid, ops: &O) -> Vec<Vec<f64>> {
    let mut outs = vec![vec![0.0; ops.len()]; set.len()];
    let mut views: Vec<&mut [f64]> = outs.iter_mut().map(|o| o.as_mut_slice()).collect();
    evaluate(model, set, policy, ops, &mut views).unwrap();
    outs
}

/// The premiums of every option of `ops`.
fn prices<O: Operands>(model: Model, policy: OnInvalid, ops: &O) -> Vec<f64> {
    let set = GreekSet::from_iter([Greek::Price]);
    outputs(model, set, policy, ops).remove(0)
}

/// The dividend yields to pass: `q` for bsm, zeros for the forward models (which take none).
fn div_for(model: Model, q: &[f64]) -> Vec<f64> {
    if model == Model::Bsm {
        q.to_vec()
    } else {
        vec![0.0; q.len()]
    }
}

fn greek(model: Model, x: [f64; 7], g: Greek) -> f64 {
    all_greeks(model, x)
        .into_iter()
        .find(|(h, _)| *h == g)
        .unwrap()
        .1
}

/// Haug, "The Complete Guide to Option Pricing Formulas" (2nd ed.), worked examples.
#[test]
fn haug_reference_values() {
    // Generalised BSM example p. 4: call S=60 K=65 T=0.25 r=8% b=r vol=30% -> 2.1334.
    let c = price(Model::Bsm, [1.0, 60.0, 65.0, 0.25, 0.3, 0.08, 0.0]);
    assert!((c - 2.1334).abs() < 5e-5, "{c}");
    // Merton (1973) p. 4: put S=100 K=95 T=0.5 r=10% q=5% vol=20% -> 2.4648.
    let p = price(Model::Bsm, [-1.0, 100.0, 95.0, 0.5, 0.2, 0.1, 0.05]);
    assert!((p - 2.4648).abs() < 5e-5, "{p}");
    // Black-76 p. 5: call on future F=19 K=19 T=0.75 r=10% vol=28% -> 1.7011.
    let f = price(Model::Black76, [1.0, 19.0, 19.0, 0.75, 0.28, 0.1, 0.0]);
    assert!((f - 1.7011).abs() < 5e-5, "{f}");
}

/// The inverse price is the Black-76 price over F, and its coin delta is the Black delta minus
/// the coin premium (what Deribit shows as the option's delta).
#[test]
fn inverse_relations() {
    for &(phi, f, k, t, v, r) in &[
        (1.0, 94_000.0, 100_000.0, 0.1, 0.5, 0.0),
        (-1.0, 94_000.0, 80_000.0, 0.5, 0.7, 0.02),
        (1.0, 3_100.0, 2_500.0, 0.02, 0.9, 0.0),
    ] {
        let x = [phi, f, k, t, v, r, 0.0];
        let inv = price(Model::Inverse, x);
        let b76 = price(Model::Black76, x);
        assert!((inv - b76 / f).abs() <= 1e-15 * (b76 / f).abs().max(1e-300) * 8.0);
        let g = evaluate_one(
            Model::Inverse,
            [Greek::Price, Greek::Delta, Greek::DeltaPa]
                .into_iter()
                .collect(),
            OnInvalid::Raise,
            x,
        )
        .unwrap();
        let (v_coin, delta, delta_pa) = (g[0].1, g[1].1, g[2].1);
        let black_delta = greek(Model::Black76, x, Greek::Delta);
        assert!((delta_pa - (black_delta - v_coin)).abs() < 1e-12);
        assert!((delta * f - delta_pa).abs() < 1e-12);
    }
}

#[test]
fn expiry_zero_gives_intrinsic_and_limit_greeks() {
    for model in Model::ALL {
        for (phi, k) in [(1.0, 90.0), (1.0, 110.0), (-1.0, 90.0), (-1.0, 110.0)] {
            let x = [phi, 100.0, k, 0.0, 0.25, 0.05, 0.0];
            let g = all_greeks(model, x);
            for (name, v) in &g {
                assert!(v.is_finite(), "{model:?} {name:?} phi={phi} k={k}: {v}");
            }
            let get = |w: Greek| g.iter().find(|(h, _)| *h == w).unwrap().1;
            let intrinsic = (phi * (100.0 - k)).max(0.0);
            let want = if model == Model::Inverse {
                intrinsic / 100.0
            } else {
                intrinsic
            };
            assert!((get(Greek::Price) - want).abs() < 1e-12, "{model:?}");
            assert!(get(Greek::Vega).abs() < 1e-12);
            let itm = if intrinsic > 0.0 { 1.0 } else { 0.0 };
            // The inverse payoff (F - K)/F is curved in F, so its delta and gamma at expiry are
            // K/F^2 and -2K/F^3 in the money; the others' payoffs are linear there.
            let (want_delta, want_gamma) = if model == Model::Inverse {
                (phi * itm * k / 1e4, -2.0 * phi * itm * k / 1e6)
            } else {
                (phi * itm, 0.0)
            };
            assert!(
                (get(Greek::Delta) - want_delta).abs() < 1e-12,
                "{model:?} delta"
            );
            assert!(
                (get(Greek::Gamma) - want_gamma).abs() < 1e-12,
                "{model:?} gamma"
            );
            assert!(get(Greek::Rho).abs() < 1e-12, "{model:?} rho");
        }
        // Vol 0 with time left: discounted forward intrinsic value.
        let x = [1.0, 100.0, 90.0, 1.0, 0.0, 0.0, 0.0];
        let want = if model == Model::Inverse { 0.1 } else { 10.0 };
        assert!((price(model, x) - want).abs() < 1e-12, "{model:?}");
    }
}

#[test]
fn errors_name_argument_and_first_index() {
    let n = 5;
    let kind = vec![1.0; n];
    let s = vec![100.0; n];
    let k = vec![100.0; n];
    let t = vec![1.0; n];
    let mut v = vec![0.2; n];
    v[3] = -0.1;
    v[4] = f64::NAN;
    let r = vec![0.0; n];
    let q = vec![0.0; n];
    let ops = SliceOperands::new([&kind, &s, &k, &t, &v, &r, &q]).unwrap();
    let mut out = vec![0.0; n];
    let set: GreekSet = [Greek::Price].into_iter().collect();
    let err = evaluate(Model::Bsm, set, OnInvalid::Raise, &ops, &mut [&mut out]).unwrap_err();
    match err {
        Error::InvalidInput { arg, index, .. } => {
            assert_eq!(arg, "vol");
            assert_eq!(index, 3);
        }
        other => panic!("{other:?}"),
    }
    evaluate(Model::Bsm, set, OnInvalid::Nan, &ops, &mut [&mut out]).unwrap();
    assert!(out[..3].iter().all(|p| p.is_finite()));
    assert!(out[3].is_nan() && out[4].is_nan());
    // Forward models refuse a dividend yield.
    let e = price_one(
        Model::Black76,
        1.0,
        100.0,
        100.0,
        1.0,
        0.2,
        0.0,
        0.01,
        OnInvalid::Raise,
    );
    assert!(matches!(e, Err(Error::InvalidInput { arg: "div", .. })));
    // Bachelier accepts negative forwards and strikes.
    assert!(price_one(
        Model::Bachelier,
        1.0,
        -0.5,
        -0.4,
        1.0,
        0.3,
        0.0,
        0.0,
        OnInvalid::Raise
    )
    .is_ok());
}

#[test]
fn large_parallel_call_matches_scalar_calls() {
    let n = 100_000; // above the parallel threshold
    let kind: Vec<f64> = (0..n)
        .map(|i| if i % 3 == 0 { 1.0 } else { -1.0 })
        .collect();
    let s = vec![100.0; n];
    let k: Vec<f64> = (0..n).map(|i| 50.0 + (i % 1000) as f64 * 0.1).collect();
    let t: Vec<f64> = (0..n).map(|i| 0.01 + (i % 97) as f64 * 0.03).collect();
    let v: Vec<f64> = (0..n).map(|i| 0.05 + (i % 13) as f64 * 0.05).collect();
    let r = vec![0.03; n];
    let q = vec![0.01; n];
    let ops = SliceOperands::new([&kind, &s, &k, &t, &v, &r, &q]).unwrap();
    let outs = outputs(Model::Bsm, GreekSet::standard(), OnInvalid::Raise, &ops);
    for i in (0..n).step_by(997) {
        let one = all_greeks(Model::Bsm, [kind[i], s[i], k[i], t[i], v[i], r[i], q[i]]);
        for (j, (_, val)) in one.iter().enumerate() {
            assert_eq!(outs[j][i].to_bits(), val.to_bits(), "option {i} greek {j}");
        }
    }
}

/// Premiums whose two tails nearly cancel (short expiry, low vol, a few vol-days out of the
/// money) take a fix-up pass after the vectorised kernel: wherever they sit in a tile (first,
/// last, on either side of a block of the pass's scan, several together, a whole tile of them),
/// each must come out exactly as when priced alone.
#[test]
fn fine_premiums_anywhere_in_a_tile_match_scalar_calls() {
    let n = 4 * 192 + 37;
    let mut fine = vec![false; n];
    // First and last of the call, both sides of the fix-up's blocks of 16 and of tiles of 192.
    let at = [0, 1, 15, 16, 17, 31, 100, 190, 191, 192, 193, 383, 384, 600];
    for i in at.into_iter().chain([n - 1]) {
        fine[i] = true;
    }
    for f in &mut fine[3 * 192..4 * 192] {
        *f = true;
    }
    let kind: Vec<f64> = (0..n)
        .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
        .collect();
    let s = vec![100.0; n];
    // Fine: strike 1.5% out of the money at vol 5% for a day and a half (4.7 standard
    // deviations out, a gap of 1/1500 of it); ordinary: 10% out at vol 20% for half a year.
    let k: Vec<f64> = (0..n)
        .map(|i| {
            let out = if fine[i] { 1.5 } else { 10.0 };
            100.0 + kind[i] * out
        })
        .collect();
    let t: Vec<f64> = fine.iter().map(|&f| if f { 0.004 } else { 0.5 }).collect();
    let v: Vec<f64> = fine.iter().map(|&f| if f { 0.05 } else { 0.2 }).collect();
    let r = vec![0.03; n];
    let q = vec![0.01; n];
    for model in [Model::Bsm, Model::Black76, Model::Inverse] {
        let q = div_for(model, &q);
        let ops = SliceOperands::new([&kind, &s, &k, &t, &v, &r, &q]).unwrap();
        let out = prices(model, OnInvalid::Raise, &ops);
        // The greeks kernel's premium takes the same fix-up (its last, short tile follows
        // tiles full of flagged options on the same thread).
        let with_greeks = outputs(model, GreekSet::standard(), OnInvalid::Raise, &ops).remove(0);
        for i in 0..n {
            let alone = price(model, [kind[i], s[i], k[i], t[i], v[i], r[i], q[i]]);
            assert!(alone > 0.0, "{model:?} option {i}: premium {alone}");
            assert_eq!(out[i].to_bits(), alone.to_bits(), "{model:?} option {i}");
            assert_eq!(
                with_greeks[i].to_bits(),
                alone.to_bits(),
                "{model:?} option {i}"
            );
        }
    }
}

/// The set-up has a fast form for tiles whose discount exponents are small and whose spots
/// and strikes are normal numbers, and a general form for the others; both give the same bits,
/// so an option's price and greeks do not depend on what else its tile holds.
#[test]
fn an_option_is_valued_the_same_whatever_its_tile_holds() {
    let n = 6 * 192;
    let kind: Vec<f64> = (0..n)
        .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
        .collect();
    let mut s = vec![100.0; n];
    let mut k: Vec<f64> = (0..n).map(|i| 80.0 + (i % 41) as f64).collect();
    let t: Vec<f64> = (0..n).map(|i| 0.1 + (i % 7) as f64 * 0.2).collect();
    let mut v: Vec<f64> = (0..n).map(|i| 0.1 + (i % 5) as f64 * 0.1).collect();
    let mut r = vec![0.03; n];
    let q_bsm = vec![0.01; n];
    // One option per tile (tile 0 has none) sends its tile to the general form, or is invalid.
    s[192 + 77] = 1e-310; // subnormal spot
    k[2 * 192 + 5] = 3e-320; // subnormal strike
    let both = 3 * 192 + 191; // spot and strike subnormal, near the money
    (s[both], k[both]) = (2.0e-309, 1.9e-309);
    r[4 * 192] = 2.0; // r T beyond the fast exponential's range
    v[5 * 192 + 100] = f64::NAN; // invalid: NaN with errors = "nan"
    let invalid = 5 * 192 + 100;
    for model in [Model::Bsm, Model::Black76, Model::Inverse] {
        let q = div_for(model, &q_bsm);
        let ops = SliceOperands::new([&kind, &s, &k, &t, &v, &r, &q]).unwrap();
        let set = GreekSet::standard();
        let names = set.to_vec();
        let outs = outputs(model, set, OnInvalid::Nan, &ops);
        let premiums = prices(model, OnInvalid::Nan, &ops);
        for i in 0..n {
            let x = [kind[i], s[i], k[i], t[i], v[i], r[i], q[i]];
            if i == invalid {
                assert!(premiums[i].is_nan() && outs.iter().all(|o| o[i].is_nan()));
                continue;
            }
            // The same bits, or NaN both (an overflowing inverse greek can be NaN, inf - inf,
            // and the sign of a NaN depends on the instructions that made it).
            let same = |p: f64, q: f64| p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan());
            let alone = price(model, x);
            assert!(
                same(premiums[i], alone),
                "{model:?} option {i}: {} {alone}",
                premiums[i]
            );
            if i == both {
                // Against the same option scaled into normal numbers: premiums are homogeneous
                // of degree 1 in (spot, strike), 0 for the inverse (coin) premium.
                let scale = 1e-309;
                let mut y = x;
                (y[1], y[2]) = (x[1] / scale, x[2] / scale);
                let want = price(model, y) * if model == Model::Inverse { 1.0 } else { scale };
                assert!(
                    (premiums[i] - want).abs() <= 1e-11 * want,
                    "{model:?}: {:e} against {want:e}",
                    premiums[i]
                );
            }
            for (g, value) in all_greeks(model, x) {
                let at = names.iter().position(|h| *h == g).unwrap();
                assert!(
                    same(outs[at][i], value),
                    "{model:?} option {i} {g:?}: {} {value}",
                    outs[at][i]
                );
            }
        }
    }
}

/// How each greek scales when spot (forward) and strike are both multiplied by `lambda`:
/// `g(lambda S, lambda K) = lambda^degree g(S, K)`. The inverse premium, in coins, has degree 0.
fn scale_degree(model: Model, g: Greek) -> i32 {
    let lognormal = match g {
        Greek::Price | Greek::Vega | Greek::Theta | Greek::Rho | Greek::Epsilon | Greek::Volga => 1,
        Greek::Delta | Greek::Vanna | Greek::Charm | Greek::DualDelta | Greek::DeltaPa => 0,
        Greek::Gamma | Greek::DualGamma => -1,
    };
    if model == Model::Inverse {
        lognormal - 1
    } else {
        lognormal
    }
}

#[test]
fn greeks_keep_their_scale_for_tiny_and_huge_spots_and_strikes() {
    // Powers of two keep the inputs exact: 2^-1000 makes the discounted weights a n(d1) and
    // b n(d2) underflow although n(d) does not, 2^-1032 makes spot and strike subnormal, 2^1000
    // makes them huge. Every greek must follow its scaling law from the same option in normal
    // numbers (to the precision a subnormal result has; one that overflows must be huge).
    let base = [
        [1.0, 100.0, 103.0, 0.9, 0.3, 0.03, 0.01],
        [-1.0, 100.0, 103.0, 0.9, 0.3, 0.03, 0.01],
        [1.0, 100.0, 60.0, 0.25, 0.2, 0.05, 0.02],
        [-1.0, 100.0, 60.0, 0.25, 0.2, 0.05, 0.02],
        [1.0, 100.0, 180.0, 2.0, 0.5, 0.01, 0.0],
        [-1.0, 100.0, 102.0, 0.01, 0.15, 0.03, 0.01],
        [1.0, 100.0, 160.0, 0.1, 0.15, 0.03, 0.01], // d1 = -9.9: n(d1) = 5e-22
        [-1.0, 100.0, 40.0, 0.1, 0.15, 0.03, 0.01],
    ];
    for model in [Model::Bsm, Model::Black76, Model::Inverse] {
        for x in base {
            let mut x = x;
            if model != Model::Bsm {
                x[6] = 0.0;
            }
            let want_all = all_greeks(model, x);
            for log2 in [-1000, -1032, 1000] {
                let lambda = 2f64.powi(log2);
                let mut y = x;
                (y[1], y[2]) = (x[1] * lambda, x[2] * lambda);
                for (g, got) in all_greeks(model, y) {
                    let base_value = want_all.iter().find(|(h, _)| *h == g).unwrap().1;
                    // lambda^degree applied in steps, so that 2^1032 does not overflow alone.
                    let degree = scale_degree(model, g);
                    let mut want = base_value;
                    for _ in 0..degree.abs() {
                        want = if degree > 0 {
                            want * lambda
                        } else {
                            want / lambda
                        };
                    }
                    let ok = if want.is_finite() {
                        (got - want).abs() <= 1e-12 * want.abs() + 4.0 * f64::from_bits(1)
                    } else {
                        got.abs() > 1e300
                    };
                    assert!(
                        ok,
                        "{model:?} {x:?} scaled by 2^{log2}: {g:?} {got:e}, want {want:e}"
                    );
                }
            }
        }
    }
}

#[test]
fn greeks_of_an_underflowing_discount_factor_are_its_limits() {
    // e^(-rT) or e^(-qT) below the smallest double (r T = 800): the terms it weighs vanish, and
    // no greek may turn into NaN or infinity through it.
    let (s, k, t): (f64, f64, f64) = (100.0, 103.0, 100.0);
    let g = |x: [f64; 7], name: Greek| greek(Model::Bsm, x, name);
    // r T = 800: the call is worth S e^(-qT), all of it delta; the put is worth nothing.
    let (r, q): (f64, f64) = (8.0, 0.01);
    let call = [1.0, s, k, t, 0.3, r, q];
    let dfq = (-q * t).exp();
    assert!((g(call, Greek::Price) - s * dfq).abs() <= 1e-13 * s * dfq);
    assert!((g(call, Greek::Delta) - dfq).abs() <= 1e-14);
    assert!((g(call, Greek::Theta) - q * s * dfq).abs() <= 1e-13 * q * s * dfq);
    assert!((g(call, Greek::Epsilon) + t * s * dfq).abs() <= 1e-13 * t * s * dfq);
    for name in [
        Greek::Rho,
        Greek::DualDelta,
        Greek::DualGamma,
        Greek::Gamma,
        Greek::Vega,
    ] {
        assert_eq!(g(call, name), 0.0, "call {name:?}");
    }
    let put = [-1.0, s, k, t, 0.3, r, q];
    for (name, value) in all_greeks(Model::Bsm, put) {
        assert_eq!(value, 0.0, "put {name:?}");
    }
    // q T = 800: the put is worth K e^(-rT), the call nothing.
    let (r, q): (f64, f64) = (0.03, 8.0);
    let put = [-1.0, s, k, t, 0.3, r, q];
    let dfr = (-r * t).exp();
    assert!((g(put, Greek::Price) - k * dfr).abs() <= 1e-13 * k * dfr);
    assert!((g(put, Greek::Theta) - r * k * dfr).abs() <= 1e-13 * r * k * dfr);
    assert!((g(put, Greek::Rho) + t * k * dfr).abs() <= 1e-13 * t * k * dfr);
    assert!((g(put, Greek::DualDelta) - dfr).abs() <= 1e-14);
    for name in [
        Greek::Delta,
        Greek::Epsilon,
        Greek::Gamma,
        Greek::Vega,
        Greek::Charm,
    ] {
        assert_eq!(g(put, name), 0.0, "put {name:?}");
    }
    let call = [1.0, s, k, t, 0.3, r, q];
    for (name, value) in all_greeks(Model::Bsm, call) {
        assert_eq!(value, 0.0, "call {name:?}");
    }
}

fn model_strategy() -> impl Strategy<Value = Model> {
    prop_oneof![
        Just(Model::Bsm),
        Just(Model::Black76),
        Just(Model::Bachelier),
        Just(Model::Inverse)
    ]
}

/// Central difference of the price in input `j` (public order), step `h`, with one Richardson
/// extrapolation step (error O(h^4)).
fn fd(model: Model, x: [f64; 7], j: usize, h: f64) -> f64 {
    let d = |h: f64| {
        let mut up = x;
        let mut dn = x;
        up[j] += h;
        dn[j] -= h;
        (price(model, up) - price(model, dn)) / (2.0 * h)
    };
    (4.0 * d(h / 2.0) - d(h)) / 3.0
}

fn fd2(model: Model, x: [f64; 7], j: usize, h: f64) -> f64 {
    let d = |h: f64| {
        let mut up = x;
        let mut dn = x;
        up[j] += h;
        dn[j] -= h;
        (price(model, up) - 2.0 * price(model, x) + price(model, dn)) / (h * h)
    };
    (4.0 * d(h / 2.0) - d(h)) / 3.0
}

fn fd_mixed(model: Model, x: [f64; 7], i: usize, hi: f64, j: usize, hj: f64) -> f64 {
    let at = |a: f64, b: f64| {
        let mut y = x;
        y[i] += a;
        y[j] += b;
        price(model, y)
    };
    let d = |hi: f64, hj: f64| {
        (at(hi, hj) - at(hi, -hj) - at(-hi, hj) + at(-hi, -hj)) / (4.0 * hi * hj)
    };
    (4.0 * d(hi / 2.0, hj / 2.0) - d(hi, hj)) / 3.0
}

/// |got - want| <= rel |want| + abs.
fn close(got: f64, want: f64, abs: f64, rel: f64) -> bool {
    (got - want).abs() <= rel * want.abs() + abs
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn put_call_parity(model in model_strategy(), s in 1.0f64..1000.0, m in 0.3f64..3.0,
                       t in 0.0f64..10.0, v in 0.01f64..2.0, r in -0.05f64..0.2, q in 0.0f64..0.1) {
        let q = if model == Model::Bsm { q } else { 0.0 };
        let k = s * m;
        let vol = if model == Model::Bachelier { v * s } else { v };
        let c = price(model, [1.0, s, k, t, vol, r, q]);
        let p = price(model, [-1.0, s, k, t, vol, r, q]);
        let dfr = (-r * t).exp();
        let want = match model {
            Model::Bsm => s * (-q * t).exp() - k * dfr,
            Model::Black76 | Model::Bachelier => dfr * (s - k),
            Model::Inverse => dfr * (1.0 - k / s),
        };
        let scale = c.abs().max(p.abs()).max(if model == Model::Inverse { 1.0 } else { s });
        prop_assert!((c - p - want).abs() <= 1e-12 * scale, "c={c} p={p} want={want}");
    }

    #[test]
    fn price_bounds_and_monotonicity(model in model_strategy(), s in 1.0f64..1000.0,
                                     m in 0.3f64..3.0, t in 0.001f64..10.0, v in 0.01f64..2.0,
                                     r in 0.0f64..0.1) {
        let k = s * m;
        let vol = if model == Model::Bachelier { v * s } else { v };
        let dfr = (-r * t).exp();
        // Bounds on the forward: F = S e^(rT) for bsm (no dividend here), the input otherwise.
        let f = if model == Model::Bsm { s * (r * t).exp() } else { s };
        for phi in [1.0, -1.0] {
            let p = price(model, [phi, s, k, t, vol, r, 0.0]);
            let (intrinsic, upper) = match model {
                Model::Inverse => (dfr * (phi * (1.0 - k / f)).max(0.0),
                                   if phi > 0.0 { dfr } else { dfr * k / f }),
                Model::Bachelier => (dfr * (phi * (f - k)).max(0.0), f64::INFINITY),
                _ => (dfr * (phi * (f - k)).max(0.0), if phi > 0.0 { dfr * f } else { dfr * k }),
            };
            let tol = 1e-12 * upper.clamp(1.0, 1e6);
            prop_assert!(p >= intrinsic - tol, "below intrinsic: {p} < {intrinsic}");
            prop_assert!(p <= upper + tol, "above upper bound: {p} > {upper}");
            // Higher strike: calls cheaper, puts dearer. More vol or time: dearer (r = 0).
            let pk = price(model, [phi, s, k * 1.01, t, vol, r, 0.0]);
            prop_assert!(phi * (p - pk) >= -tol);
            let pv = price(model, [phi, s, k, t, vol * 1.01, r, 0.0]);
            prop_assert!(pv >= p - tol);
            let p0 = price(model, [phi, s, k, t, vol, 0.0, 0.0]);
            let pt = price(model, [phi, s, k, t * 1.01, vol, 0.0, 0.0]);
            prop_assert!(pt >= p0 - tol);
        }
    }

    #[test]
    fn greeks_match_finite_differences(model in model_strategy(), phi in prop_oneof![Just(1.0), Just(-1.0)],
                                       s in 10.0f64..1000.0, m in 0.6f64..1.6, t in 0.05f64..5.0,
                                       v in 0.05f64..1.0, r in -0.02f64..0.1, q in 0.0f64..0.06) {
        let q = if model == Model::Bsm { q } else { 0.0 };
        let vol = if model == Model::Bachelier { v * s } else { v };
        let x = [phi, s, s * m, t, vol, r, q];
        let g = all_greeks(model, x);
        let get = |w: Greek| g.iter().find(|(h, _)| *h == w).unwrap().1;
        let p = get(Greek::Price);
        prop_assert!((p - price(model, x)).abs() <= 1e-13 * p.abs().max(1e-300));
        // Scales of the price per unit of each input, for absolute tolerances.
        let money = if model == Model::Inverse { 1.0 } else { s };
        let hs = 1e-4 * s;
        let hv = 1e-4 * vol;
        let ht = 1e-5 * t.max(0.05);
        let checks: Vec<(Greek, f64, f64)> = vec![
            (Greek::Delta, fd(model, x, 1, hs), money / s),
            (Greek::Gamma, fd2(model, x, 1, hs * 10.0), money / (s * s)),
            (Greek::Vega, fd(model, x, 4, hv), money / vol),
            (Greek::Theta, -fd(model, x, 3, ht), money / t),
            (Greek::Rho, fd(model, x, 5, 1e-6), money * t),
            (Greek::DualDelta, fd(model, x, 2, hs), money / s),
            (Greek::DualGamma, fd2(model, x, 2, hs * 10.0), money / (s * s)),
            (Greek::Volga, fd2(model, x, 4, hv * 10.0), money / (vol * vol)),
            (Greek::Vanna, fd_mixed(model, x, 1, hs * 10.0, 4, hv * 10.0), money / (s * vol)),
        ];
        for (w, want, scale) in checks {
            let got = get(w);
            prop_assert!(close(got, want, scale * 1e-7, 1e-5), "{model:?} {w:?}: got {got} fd {want}");
        }
        if model == Model::Bsm {
            let want = fd(model, x, 6, 1e-6);
            prop_assert!(close(get(Greek::Epsilon), want, money * t * 1e-7, 1e-5));
        } else {
            prop_assert_eq!(get(Greek::Epsilon), 0.0);
        }
        // Charm = -d(delta)/dT, from delta's own central difference.
        let delta_at = |tt: f64| {
            let mut y = x;
            y[3] = tt;
            greek(model, y, Greek::Delta)
        };
        let want = -(delta_at(t + ht) - delta_at(t - ht)) / (2.0 * ht);
        prop_assert!(close(get(Greek::Charm), want, money / (s * t) * 1e-7, 1e-5),
                     "charm got {} fd {}", get(Greek::Charm), want);
    }
}

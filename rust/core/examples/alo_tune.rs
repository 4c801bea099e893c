//! Accuracy and speed of ALO schemes over a grid of American options, against a large scheme.
//! `cargo run --release -p strikegrid-core --example alo_tune [n m l p ...]`
use std::time::Instant;
use strikegrid_core::american::alo::{Engine, Equation, Light, Scheme};
use strikegrid_core::american::Contract;

fn grid() -> Vec<Contract> {
    let mut v = Vec::new();
    for phi in [1.0, -1.0] {
        for s in [80.0, 90.0, 100.0, 110.0, 120.0] {
            for t in [7.0 / 365.0, 30.0 / 365.0, 0.25, 0.5, 1.0, 2.0, 5.0] {
                for vol in [0.05, 0.1, 0.2, 0.3, 0.5, 1.0] {
                    for r in [0.01, 0.05, 0.1] {
                        for q in [0.0, 0.03, 0.08] {
                            v.push(Contract {
                                phi,
                                spot: s,
                                strike: 100.0,
                                expiry: t,
                                vol,
                                rate: r,
                                div: q,
                            });
                        }
                    }
                }
            }
        }
    }
    v
}

fn run(scheme: Scheme, cs: &[Contract]) -> (Vec<f64>, f64) {
    let e = Engine::new(scheme);
    let mut ws = e.workspace();
    let t0 = Instant::now();
    let out: Vec<f64> = cs.iter().map(|c| e.price(c, &mut ws)).collect();
    (out, t0.elapsed().as_secs_f64() / cs.len() as f64)
}

fn eqn() -> Equation {
    match std::env::var("EQ").as_deref() {
        Ok("B") => Equation::B,
        Ok("A") => Equation::A,
        _ => Equation::A,
    }
}

fn light() -> Option<Light> {
    let v: Vec<usize> = std::env::var("LIGHT")
        .ok()?
        .split(',')
        .map(|x| x.parse().unwrap())
        .collect();
    Some(Light {
        nodes: v[0],
        boundary_points: v[1],
        price_points: v[2],
    })
}

fn main() {
    let cs = grid();
    let big = Scheme {
        nodes: 48,
        iterations: 32,
        boundary_points: 96,
        price_points: 256,
        equation: Equation::A,
        tolerance: 0.0,
        light: None,
    };
    let cache = "/tmp/alo_ref.txt";
    let reference: Vec<f64> = match std::fs::read_to_string(cache) {
        Ok(t) => t.lines().map(|l| l.parse().unwrap()).collect(),
        Err(_) => {
            let (r, _) = run(big, &cs);
            std::fs::write(
                cache,
                r.iter().map(|x| format!("{x:e}\n")).collect::<String>(),
            )
            .unwrap();
            r
        }
    };
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().unwrap())
        .collect();
    let mut schemes = vec![Scheme::FAST, Scheme::ACCURATE, Scheme::HIGH_PRECISION];
    if args.len() >= 4 {
        schemes = args
            .chunks(4)
            .map(|c| Scheme {
                nodes: c[0],
                iterations: c[1],
                boundary_points: c[2],
                price_points: c[3],
                equation: eqn(),
                tolerance: std::env::var("TOL")
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(1e-8),
                light: light(),
            })
            .collect();
    }
    if std::env::var("CHECK").is_ok() {
        let bigger = Scheme {
            nodes: 64,
            iterations: 48,
            boundary_points: 128,
            price_points: 512,
            equation: Equation::A,
            tolerance: 0.0,
            light: None,
        };
        let (b2, _) = run(bigger, &cs);
        let d = reference
            .iter()
            .zip(&b2)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        println!("reference self-consistency {d:e}");
    }
    for s in schemes {
        let (v, per) = run(s, &cs);
        let mut worst = (0.0, 0);
        for (i, (a, b)) in v.iter().zip(&reference).enumerate() {
            let d = (a - b).abs();
            if d > worst.0 || d.is_nan() {
                worst = (d, i);
            }
        }
        let rms = (v
            .iter()
            .zip(&reference)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            / v.len() as f64)
            .sqrt();
        if std::env::var("LIST").is_ok() {
            for (i, (a, b)) in v.iter().zip(&reference).enumerate() {
                if (a - b).abs() > 1e-5 {
                    println!("  {:.2e} {:?}", a - b, cs[i]);
                }
            }
        }
        println!(
            "{:?}: max {:.2e} rms {:.2e} {:.2} us/opt ({:.0}/s) worst {:?}",
            (s.nodes, s.iterations, s.boundary_points, s.price_points),
            worst.0,
            rms,
            per * 1e6,
            1.0 / per,
            cs[worst.1]
        );
    }
}

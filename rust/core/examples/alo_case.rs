//! Prices of one American option under many ALO schemes (convergence study).
//! `cargo run --release -p strikegrid-core --example alo_case -- phi S K T vol r q`
use strikegrid_core::american::alo::{Engine, Equation, Scheme};
use strikegrid_core::american::Contract;

fn main() {
    let a: Vec<f64> = std::env::args()
        .skip(1)
        .map(|x| x.parse().unwrap())
        .collect();
    let c = Contract {
        phi: a[0],
        spot: a[1],
        strike: a[2],
        expiry: a[3],
        vol: a[4],
        rate: a[5],
        div: a[6],
    };
    for eq in [Equation::A, Equation::B] {
        for (n, l, p) in [
            (14, 16, 32),
            (14, 16, 256),
            (32, 32, 64),
            (32, 32, 256),
            (48, 32, 64),
            (48, 96, 64),
            (48, 96, 256),
            (64, 128, 512),
        ] {
            let s = Scheme {
                nodes: n,
                iterations: 200,
                boundary_points: l,
                price_points: p,
                equation: eq,
                tolerance: 1e-13,
                light: None,
            };
            let e = Engine::new(s);
            let mut w = e.workspace();
            println!("{eq:?} n{n} l{l} p{p} {:.10}", e.price(&c, &mut w));
        }
    }
}

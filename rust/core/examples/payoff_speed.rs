//! Times `Payoff::analytics` on iron condors (a development aid).
use strikegrid_core::package::Payoff;
fn main() {
    let n = 5_000_000;
    let t0 = std::time::Instant::now();
    let mut acc = 0.0;
    for i in 0..n {
        let c = 1000.0 + (i % 500) as f64;
        let k = [c - 50.0, c - 25.0, c + 25.0, c + 50.0];
        let p = Payoff::new(
            &[-1.0, -1.0, 1.0, 1.0],
            &k,
            &[1.0, -1.0, -1.0, 1.0],
            0.0,
            0.0,
            -7.0,
        );
        let a = p.analytics();
        acc += a.max_profit + a.roots[0];
    }
    let dt = t0.elapsed().as_secs_f64();
    println!("{:.1} ns per analytics ({acc})", dt / n as f64 * 1e9);
}

//! Gauss–Legendre quadrature rules, computed once per size.

use std::f64::consts::PI;

/// Nodes and weights of the `n`-point Gauss–Legendre rule on [-1, 1], nodes ascending.
///
/// Nodes are the roots of P_n found by Newton's method from Tricomi's estimate
/// cos(pi (i - 1/4)/(n + 1/2)); the weight is 2 / ((1 - x^2) P_n'(x)^2) (Abramowitz & Stegun
/// 25.4.29). Accurate to a few ulps for the sizes used here (n <= 512).
pub fn gauss_legendre(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut nodes = vec![0.0; n];
    let mut weights = vec![0.0; n];
    for i in 0..n.div_ceil(2) {
        let mut x = (PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
        let mut dp = 0.0;
        for _ in 0..100 {
            let (p, d) = legendre(n, x);
            dp = d;
            let step = p / d;
            x -= step;
            if step.abs() <= 1e-16 * x.abs().max(1e-300) {
                let (_, d) = legendre(n, x);
                dp = d;
                break;
            }
        }
        let w = 2.0 / ((1.0 - x * x) * dp * dp);
        nodes[i] = -x;
        weights[i] = w;
        nodes[n - 1 - i] = x;
        weights[n - 1 - i] = w;
    }
    if n % 2 == 1 {
        nodes[n / 2] = 0.0;
    }
    (nodes, weights)
}

/// P_n(x) and P_n'(x) by the three-term recurrence.
fn legendre(n: usize, x: f64) -> (f64, f64) {
    let (mut p0, mut p1) = (1.0, x);
    if n == 0 {
        return (1.0, 0.0);
    }
    for k in 2..=n {
        let kf = k as f64;
        let p2 = ((2.0 * kf - 1.0) * x * p1 - (kf - 1.0) * p0) / kf;
        p0 = p1;
        p1 = p2;
    }
    let dp = n as f64 * (x * p1 - p0) / (x * x - 1.0);
    (p1, dp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrates_polynomials_exactly() {
        for n in [1, 2, 5, 8, 15, 16, 64, 200] {
            let (x, w) = gauss_legendre(n);
            assert!((w.iter().sum::<f64>() - 2.0).abs() < 1e-13, "n={n}");
            // x^(2n-2) integrates to 2/(2n-1).
            let d = (2 * n - 2) as i32;
            let s: f64 = x.iter().zip(&w).map(|(x, w)| w * x.powi(d)).sum();
            assert!((s - 2.0 / (d as f64 + 1.0)).abs() < 1e-13, "n={n} {s}");
            assert!(x.windows(2).all(|p| p[0] < p[1]));
        }
    }

    #[test]
    fn integrates_smooth_functions() {
        let (x, w) = gauss_legendre(20);
        let s: f64 = x.iter().zip(&w).map(|(x, w)| w * x.exp()).sum();
        assert!((s - (1f64.exp() - (-1f64).exp())).abs() < 1e-14);
    }
}

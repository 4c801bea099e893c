//! Bindings of the Monte Carlo paths and programs (`strikegrid_core::paths`).
//!
//! Arguments arrive as plain numbers (the Python layer validates names and ranges first); the
//! kernels run with the GIL released and core errors become `strikegrid.exceptions.InputError`
//! naming the argument.

use numpy::PyArrayDyn;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use strikegrid_core::paths::{self, Dynamics, Grid, PathOutcome, PricingVol, Program, Strategy};
use strikegrid_core::Error;

use crate::{fresh_outputs, output_slices, to_py_err};

/// `[paths, steps + 1]`, or an error when the product does not fit in memory's address space.
fn grid_shape(py: Python<'_>, paths: usize, steps: usize) -> PyResult<[usize; 2]> {
    let cols = steps.saturating_add(1);
    match paths.checked_mul(cols) {
        Some(n) if n <= isize::MAX as usize / 8 => Ok([paths, cols]),
        _ => Err(to_py_err(
            py,
            Error::Shape(format!("paths: {paths} paths of {cols} points is too many")),
            &[],
        )),
    }
}

/// The law of the underlying from its name and parameters.
#[allow(clippy::too_many_arguments)]
fn dynamics(
    py: Python<'_>,
    model: &str,
    drift: f64,
    vol: f64,
    v0: f64,
    kappa: f64,
    theta: f64,
    xi: f64,
    rho: f64,
) -> PyResult<Dynamics> {
    match model {
        "gbm" => Ok(Dynamics::Gbm { drift, vol }),
        "heston" => Ok(Dynamics::Heston {
            drift,
            v0,
            kappa,
            theta,
            xi,
            rho,
        }),
        other => Err(to_py_err(
            py,
            Error::Unknown {
                what: "model",
                name: other.to_string(),
                expected: "gbm, heston",
            },
            &[],
        )),
    }
}

/// Simulated paths: `(spot, variance)`, each (paths, steps + 1); `variance` is `None` unless
/// asked for.
#[pyfunction]
#[pyo3(signature = (
    model, spot, div, steps, dt, substeps, paths, seed,
    drift, vol=0.0, v0=0.0, kappa=0.0, theta=0.0, xi=0.0, rho=0.0, variance=false,
))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn simulate_paths<'py>(
    py: Python<'py>,
    model: &str,
    spot: f64,
    div: f64,
    steps: usize,
    dt: f64,
    substeps: usize,
    paths: usize,
    seed: u64,
    drift: f64,
    vol: f64,
    v0: f64,
    kappa: f64,
    theta: f64,
    xi: f64,
    rho: f64,
    variance: bool,
) -> PyResult<(
    Bound<'py, PyArrayDyn<f64>>,
    Option<Bound<'py, PyArrayDyn<f64>>>,
)> {
    let dyn_ = dynamics(py, model, drift, vol, v0, kappa, theta, xi, rho)?;
    let grid = Grid {
        spot,
        div,
        steps,
        dt,
        substeps,
    };
    let shape = grid_shape(py, paths, steps)?;
    let mut arrays = fresh_outputs(py, &shape, if variance { 2 } else { 1 });
    {
        let mut slices = output_slices(&arrays)?;
        let var = if variance { slices.pop() } else { None };
        let s = slices
            .pop()
            .ok_or_else(|| pyo3::exceptions::PyValueError::new_err("internal: outputs"))?;
        py.detach(|| paths::simulate(dyn_, grid, seed, s, var))
            .map_err(|e| to_py_err(py, e, &[]))?;
    }
    let var = if variance { arrays.pop() } else { None };
    let s = arrays
        .pop()
        .ok_or_else(|| pyo3::exceptions::PyValueError::new_err("internal: outputs"))?;
    Ok((s, var))
}

/// Outcome fields in the order of the returned dict.
const OUTCOMES: [&str; 6] = [
    "final_equity",
    "premium",
    "fees",
    "assigned",
    "max_drawdown",
    "trades",
];

fn field(o: &PathOutcome, i: usize) -> f64 {
    match i {
        0 => o.final_equity,
        1 => o.premium,
        2 => o.fees,
        3 => o.assigned,
        4 => o.max_drawdown,
        _ => o.trades,
    }
}

/// Runs a monthly put-write or covered-call program over simulated paths (the account starts
/// at 1.0). `pricing_vol` >= 0 prices every option at that vol; `pricing_vol` < 0 prices at
/// the path's own instantaneous vol times `state_scale`. Returns a dict of (paths,) arrays
/// `final_equity`, `premium`, `fees`, `assigned`, `max_drawdown`, `trades`, and `equity`
/// (paths, steps + 1) when `keep_equity`.
#[pyfunction]
#[pyo3(signature = (
    strategy, model, spot, div, steps, dt, substeps, paths, seed,
    drift, vol, v0, kappa, theta, xi, rho,
    moneyness, strike_step, period, rate, pricing_vol, state_scale, fee, slippage, keep_equity,
))]
#[allow(clippy::too_many_arguments)]
fn run_mc_program<'py>(
    py: Python<'py>,
    strategy: &str,
    model: &str,
    spot: f64,
    div: f64,
    steps: usize,
    dt: f64,
    substeps: usize,
    paths: usize,
    seed: u64,
    drift: f64,
    vol: f64,
    v0: f64,
    kappa: f64,
    theta: f64,
    xi: f64,
    rho: f64,
    moneyness: f64,
    strike_step: f64,
    period: usize,
    rate: f64,
    pricing_vol: f64,
    state_scale: f64,
    fee: f64,
    slippage: f64,
    keep_equity: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let dyn_ = dynamics(py, model, drift, vol, v0, kappa, theta, xi, rho)?;
    let strategy = match strategy {
        "put_write" => Strategy::PutWrite,
        "covered_call" => Strategy::CoveredCall,
        other => {
            return Err(to_py_err(
                py,
                Error::Unknown {
                    what: "strategy",
                    name: other.to_string(),
                    expected: "put_write, covered_call",
                },
                &[],
            ))
        }
    };
    let grid = Grid {
        spot,
        div,
        steps,
        dt,
        substeps,
    };
    let program = Program {
        strategy,
        moneyness,
        strike_step,
        period,
        rate,
        pricing_vol: if pricing_vol >= 0.0 {
            PricingVol::Constant(pricing_vol)
        } else {
            PricingVol::State { scale: state_scale }
        },
        fee,
        slippage,
    };
    let shape = grid_shape(py, paths, steps)?;
    let mut outcomes = vec![PathOutcome::default(); paths];
    let equity = fresh_outputs(py, &shape, usize::from(keep_equity));
    {
        let mut eq = output_slices(&equity)?;
        let e = eq.pop();
        py.detach(|| paths::run_program(dyn_, grid, program, seed, &mut outcomes, e))
            .map_err(|e| to_py_err(py, e, &[]))?;
    }
    let dict = PyDict::new(py);
    for (i, name) in OUTCOMES.iter().enumerate() {
        let v: Vec<f64> = outcomes.iter().map(|o| field(o, i)).collect();
        dict.set_item(*name, numpy::PyArray1::from_vec(py, v))?;
    }
    if let Some(e) = equity.into_iter().next() {
        dict.set_item("equity", e)?;
    }
    Ok(dict)
}

/// Adds this module's functions to `strikegrid._core`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(simulate_paths, m)?)?;
    m.add_function(wrap_pyfunction!(run_mc_program, m)?)?;
    Ok(())
}

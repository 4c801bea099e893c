//! Bindings of the batch package kernels (`strikegrid_core::package`).
//!
//! Leg arrays are (n, legs) and package arrays (n,), float64 and C-contiguous (the Python
//! layer makes them so); the kernels run with the GIL released; core errors become
//! `strikegrid.exceptions.InputError` with the (package, leg) index of the offending element.

use numpy::{PyArrayDyn, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use strikegrid_core::package::{self, Measure, Outputs, Packages, LEG_OUTPUTS, OUTPUTS};
use strikegrid_core::Error;

use crate::surface::SurfaceArrays;
use crate::{fresh_outputs, output_slices, to_py_err};

/// Borrowed views of one batch; `shape` is (n, legs).
pub(crate) struct Batch<'a> {
    pub(crate) packages: Packages<'a>,
    pub(crate) shape: [usize; 2],
}

/// A read-only numpy array's data as a slice (the Python layer passes contiguous arrays).
pub(crate) fn contiguous<'a, T: numpy::Element, D: numpy::ndarray::Dimension>(
    py: Python<'_>,
    a: &'a numpy::PyReadonlyArray<'_, T, D>,
    name: &str,
) -> PyResult<&'a [T]> {
    a.as_slice().map_err(|_| {
        to_py_err(
            py,
            Error::Shape(format!("{name}: expected a C-contiguous array")),
            &[],
        )
    })
}

/// The (n, legs) leg arrays and (n,) package arrays of a batch, shapes checked.
#[allow(clippy::too_many_arguments)]
pub(crate) fn batch<'a>(
    py: Python<'_>,
    kind: &'a PyReadonlyArray2<'_, f64>,
    strike: &'a PyReadonlyArray2<'_, f64>,
    expiry: &'a PyReadonlyArray2<'_, f64>,
    qty: &'a PyReadonlyArray2<'_, f64>,
    under_qty: &'a PyReadonlyArray1<'_, f64>,
    under_cost: &'a PyReadonlyArray1<'_, f64>,
    premium: &'a PyReadonlyArray1<'_, f64>,
) -> PyResult<Batch<'a>> {
    let dims = kind.shape();
    let shape = [dims[0], dims[1]];
    for (name, a) in [("strike", strike), ("expiry", expiry), ("qty", qty)] {
        if a.shape() != dims {
            return Err(to_py_err(
                py,
                Error::Shape(format!(
                    "{name}: shape {:?} differs from kind's {dims:?}",
                    a.shape()
                )),
                &[],
            ));
        }
    }
    Ok(Batch {
        packages: Packages {
            legs: shape[1],
            kind: contiguous(py, kind, "kind")?,
            strike: contiguous(py, strike, "strike")?,
            expiry: contiguous(py, expiry, "expiry")?,
            qty: contiguous(py, qty, "qty")?,
            under_qty: contiguous(py, under_qty, "under_qty")?,
            under_cost: contiguous(py, under_cost, "under_cost")?,
            premium: contiguous(py, premium, "premium")?,
        },
        shape,
    })
}

/// A core error with its index as (package, leg) for the leg arrays, (package,) for the
/// package arrays (`under_qty`, `under_cost`, `premium`, and the callers' `extra` ones), as
/// given for the rest.
pub(crate) fn batch_err(py: Python<'_>, e: Error, shape: [usize; 2], extra: &[&str]) -> PyErr {
    let index_shape: &[usize] = match &e {
        Error::InvalidInput { arg, .. } => match *arg {
            "under_qty" | "under_cost" | "premium" => &shape[..1],
            a if extra.contains(&a) => &shape[..1],
            "kind" | "strike" | "expiry" | "qty" => &shape,
            _ => &[],
        },
        _ => &shape,
    };
    to_py_err(py, e, index_shape)
}

/// Values a batch of packages against an SVI surface (see `strikegrid_core::package`).
///
/// Returns a dict: the per-package outputs `value`, `delta`, `gamma`, `vega`, `theta`, `rho`,
/// `pop`, `expected_pnl`, `max_profit`, `max_loss` (n,), `breakevens` (n, legs + 2) NaN-padded,
/// and with `per_leg=True` the per-leg `leg_vol`, `leg_price`, `leg_delta`, ... (n, legs).
#[pyfunction]
#[pyo3(signature = (
    spot, ts, log_forward, log_discount, params,
    kind, strike, expiry, qty, under_qty, under_cost, premium,
    real_world=None, per_leg=false,
))]
#[allow(clippy::too_many_arguments)]
fn package_value<'py>(
    py: Python<'py>,
    spot: f64,
    ts: PyReadonlyArray1<'py, f64>,
    log_forward: PyReadonlyArray1<'py, f64>,
    log_discount: PyReadonlyArray1<'py, f64>,
    params: PyReadonlyArray2<'py, f64>,
    kind: PyReadonlyArray2<'py, f64>,
    strike: PyReadonlyArray2<'py, f64>,
    expiry: PyReadonlyArray2<'py, f64>,
    qty: PyReadonlyArray2<'py, f64>,
    under_qty: PyReadonlyArray1<'py, f64>,
    under_cost: PyReadonlyArray1<'py, f64>,
    premium: PyReadonlyArray1<'py, f64>,
    real_world: Option<(f64, f64)>,
    per_leg: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let surface = SurfaceArrays::new(&ts, &log_forward, &log_discount, &params)?;
    let b = batch(
        py,
        &kind,
        &strike,
        &expiry,
        &qty,
        &under_qty,
        &under_cost,
        &premium,
    )?;
    let [n, legs] = b.shape;
    let market = surface.market(spot);
    let measure = match real_world {
        None => Measure::RiskNeutral,
        Some((drift, vol)) => Measure::RealWorld { drift, vol },
    };
    let singles = fresh_outputs(py, &[n], OUTPUTS.len());
    let mut roots = fresh_outputs(py, &[n, package::max_roots(legs)], 1);
    let leg_arrays = fresh_outputs(py, &[n, legs], if per_leg { LEG_OUTPUTS.len() } else { 0 });
    let internal = || pyo3::exceptions::PyValueError::new_err("internal: output count");
    {
        let per_package: [&mut [f64]; 10] = output_slices(&singles)?
            .try_into()
            .map_err(|_| internal())?;
        let per_leg_slices = if per_leg {
            Some(<[&mut [f64]; 9]>::try_from(output_slices(&leg_arrays)?).map_err(|_| internal())?)
        } else {
            None
        };
        let out = Outputs {
            per_package,
            breakevens: output_slices(&roots)?.pop().ok_or_else(internal)?,
            per_leg: per_leg_slices,
        };
        let packages = b.packages;
        py.detach(|| package::value(&market, &packages, measure, out))
            .map_err(|e| batch_err(py, e, b.shape, &[]))?;
    }
    let dict = PyDict::new(py);
    for (name, a) in OUTPUTS.iter().zip(singles) {
        dict.set_item(*name, a)?;
    }
    dict.set_item("breakevens", roots.pop().ok_or_else(internal)?)?;
    for (name, a) in LEG_OUTPUTS.iter().zip(leg_arrays) {
        dict.set_item(format!("leg_{name}"), a)?;
    }
    Ok(dict)
}

/// Expiry analytics of a batch of packages, no market needed: `(max_profit, max_loss,
/// breakevens)` per unit, breakevens (n, legs + 2) NaN-padded; NaN for multi-expiry packages.
#[pyfunction]
#[pyo3(signature = (kind, strike, expiry, qty, under_qty, under_cost, premium))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn package_analytics<'py>(
    py: Python<'py>,
    kind: PyReadonlyArray2<'py, f64>,
    strike: PyReadonlyArray2<'py, f64>,
    expiry: PyReadonlyArray2<'py, f64>,
    qty: PyReadonlyArray2<'py, f64>,
    under_qty: PyReadonlyArray1<'py, f64>,
    under_cost: PyReadonlyArray1<'py, f64>,
    premium: PyReadonlyArray1<'py, f64>,
) -> PyResult<(
    Bound<'py, PyArrayDyn<f64>>,
    Bound<'py, PyArrayDyn<f64>>,
    Bound<'py, PyArrayDyn<f64>>,
)> {
    let b = batch(
        py,
        &kind,
        &strike,
        &expiry,
        &qty,
        &under_qty,
        &under_cost,
        &premium,
    )?;
    let [n, legs] = b.shape;
    let mut singles = fresh_outputs(py, &[n], 2);
    let mut root_arrays = fresh_outputs(py, &[n, package::max_roots(legs)], 1);
    let internal = || pyo3::exceptions::PyValueError::new_err("internal: output count");
    {
        let mut one = output_slices(&singles)?;
        let (ml, mp) = (
            one.pop().ok_or_else(internal)?,
            one.pop().ok_or_else(internal)?,
        );
        let r = output_slices(&root_arrays)?.pop().ok_or_else(internal)?;
        let packages = b.packages;
        py.detach(|| package::analytics(&packages, mp, ml, r))
            .map_err(|e| batch_err(py, e, b.shape, &[]))?;
    }
    let roots = root_arrays.pop().ok_or_else(internal)?;
    let max_loss = singles.pop().ok_or_else(internal)?;
    let max_profit = singles.pop().ok_or_else(internal)?;
    Ok((max_profit, max_loss, roots))
}

/// Surface values of single options (`strikegrid_core::package::LegValues`, the leg valuation
/// of the package kernel and the screener): a (9, n) array of rows `vol, price, delta, gamma,
/// vega, theta, rho, forward, discount` (delta and gamma with respect to the spot). Options
/// must lie on the surface (0 < expiry <= its last expiry, positive strike).
#[pyfunction]
#[pyo3(signature = (spot, ts, log_forward, log_discount, params, kind, strike, expiry))]
#[allow(clippy::too_many_arguments)]
fn leg_values<'py>(
    py: Python<'py>,
    spot: f64,
    ts: PyReadonlyArray1<'py, f64>,
    log_forward: PyReadonlyArray1<'py, f64>,
    log_discount: PyReadonlyArray1<'py, f64>,
    params: PyReadonlyArray2<'py, f64>,
    kind: Vec<f64>,
    strike: Vec<f64>,
    expiry: Vec<f64>,
) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    let surface = SurfaceArrays::new(&ts, &log_forward, &log_discount, &params)?;
    let n = kind.len();
    if strike.len() != n || expiry.len() != n {
        return Err(to_py_err(
            py,
            Error::Shape("kind, strike and expiry differ in length".into()),
            &[],
        ));
    }
    let market = surface.market(spot);
    let mut out = fresh_outputs(py, &[9, n], 1);
    let internal = || pyo3::exceptions::PyValueError::new_err("internal: output count");
    {
        let o = output_slices(&out)?.pop().ok_or_else(internal)?;
        py.detach(|| package::leg_values_into(&market, &kind, &strike, &expiry, o))
            .map_err(|e| to_py_err(py, e, &[n]))?;
    }
    out.pop().ok_or_else(internal)
}

/// Adds this module's functions to `strikegrid._core`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(leg_values, m)?)?;
    m.add_function(wrap_pyfunction!(package_value, m)?)?;
    m.add_function(wrap_pyfunction!(package_analytics, m)?)?;
    Ok(())
}

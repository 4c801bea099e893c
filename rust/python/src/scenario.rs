//! Binding of the scenario revaluation kernel (`strikegrid_core::scenario`).
//!
//! Leg arrays are (n, legs), package arrays (n,), the grid axes 1-D; all float64 (the groups
//! uint32) and C-contiguous (the Python layer makes them so). The kernel runs with the GIL
//! released; core errors become `strikegrid.exceptions.InputError` with the (package, leg),
//! (package,) or axis index of the offending element.

use numpy::{PyArrayDyn, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use strikegrid_core::scenario::{self, Book, Dynamics, Grid};

use crate::package::{batch, batch_err, contiguous};
use crate::surface::SurfaceArrays;
use crate::{fresh_outputs, output_slices, to_py_err};

/// Values a book of packages in every scenario of a spot × vol × days grid (see
/// `strikegrid_core::scenario`): returns an array (n_spot, n_vol, n_days, n_groups) of the
/// money value per group, `weight × (options + under_qty × S' - under_cost)` summed.
#[pyfunction]
#[pyo3(signature = (
    spot, ts, log_forward, log_discount, params,
    kind, strike, expiry, qty, under_qty, under_cost, weight, group, n_groups,
    spot_shocks, vol_shocks, days, dynamics="sticky_strike",
))]
#[allow(clippy::too_many_arguments)]
fn scenario_values<'py>(
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
    weight: PyReadonlyArray1<'py, f64>,
    group: PyReadonlyArray1<'py, u32>,
    n_groups: usize,
    spot_shocks: PyReadonlyArray1<'py, f64>,
    vol_shocks: PyReadonlyArray1<'py, f64>,
    days: PyReadonlyArray1<'py, f64>,
    dynamics: &str,
) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    let dynamics = Dynamics::parse(dynamics).map_err(|e| to_py_err(py, e, &[]))?;
    let surface = SurfaceArrays::new(&ts, &log_forward, &log_discount, &params)?;
    // The scenarios do not use a premium: under_cost stands in as a slice of the right length.
    let b = batch(
        py,
        &kind,
        &strike,
        &expiry,
        &qty,
        &under_qty,
        &under_cost,
        &under_cost,
    )?;
    let shape = b.shape;
    let book = Book {
        packages: b.packages,
        weight: contiguous(py, &weight, "weight")?,
        group: contiguous(py, &group, "group")?,
        n_groups,
    };
    let grid = Grid {
        spot: contiguous(py, &spot_shocks, "spot_shocks")?,
        vol: contiguous(py, &vol_shocks, "vol_shocks")?,
        days: contiguous(py, &days, "days")?,
    };
    let market = surface.market(spot);
    let out_shape = [grid.spot.len(), grid.vol.len(), grid.days.len(), n_groups];
    let mut arrays = fresh_outputs(py, &out_shape, 1);
    {
        let mut slices = output_slices(&arrays)?;
        let out = slices
            .pop()
            .ok_or_else(|| pyo3::exceptions::PyValueError::new_err("internal: output count"))?;
        py.detach(|| scenario::revalue(&market, &book, &grid, dynamics, out))
            .map_err(|e| batch_err(py, e, shape, &["weight", "group"]))?;
    }
    arrays
        .pop()
        .ok_or_else(|| pyo3::exceptions::PyValueError::new_err("internal: output count"))
}

/// Adds this module's functions to `strikegrid._core`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(scenario_values, m)?)?;
    Ok(())
}

//! Bindings of the volatility-surface kernels (SVI, SSVI).
//!
//! Thin wrappers: numpy float64 arrays in, the core kernels run with the GIL released, core
//! errors mapped to `strikegrid.exceptions.InputError` by the crate's `to_py_err`.

use numpy::ndarray::{ArrayViewD, IxDyn};
use numpy::{PyArray1, PyArrayDyn, PyArrayMethods, PyReadonlyArray1, PyReadonlyArrayDyn};
use numpy::{PyUntypedArrayMethods, ToPyArray};
use pyo3::prelude::*;
use strikegrid_core::ssvi::{calibrate_ssvi, Ssvi, SsviSlice};
use strikegrid_core::svi::{calibrate, g_into, total_variance_into, RawSvi};
use strikegrid_core::Error;

use crate::{check_ndims, to_py_err};

/// A 1-D float64 array as an owned vector (copies; the arrays of one smile are small).
pub(crate) fn to_vec(a: &PyReadonlyArray1<'_, f64>) -> Vec<f64> {
    a.as_array().iter().copied().collect()
}

/// Raw SVI fit of one smile: `(a, b, rho, m, sigma, rmse, min_g, repaired)`.
///
/// `k` log-moneyness ln(K/F), `w` total implied variance, `weights` least-squares weights, `t`
/// the expiry in years. See `strikegrid_core::svi::calibrate`.
#[pyfunction]
#[pyo3(signature = (k, w, weights, t))]
#[allow(clippy::type_complexity)]
fn svi_calibrate(
    py: Python<'_>,
    k: PyReadonlyArray1<'_, f64>,
    w: PyReadonlyArray1<'_, f64>,
    weights: PyReadonlyArray1<'_, f64>,
    t: f64,
) -> PyResult<(f64, f64, f64, f64, f64, f64, f64, bool)> {
    let (k, w, weights) = (to_vec(&k), to_vec(&w), to_vec(&weights));
    let fit = py
        .detach(|| calibrate(&k, &w, &weights, t))
        .map_err(|e| to_py_err(py, e, &[]))?;
    let p = fit.params;
    Ok((
        p.a,
        p.b,
        p.rho,
        p.m,
        p.sigma,
        fit.rmse,
        fit.min_g,
        fit.repaired,
    ))
}

fn raw_svi(py: Python<'_>, params: (f64, f64, f64, f64, f64)) -> PyResult<RawSvi> {
    let (a, b, rho, m, sigma) = params;
    let p = RawSvi {
        a,
        b,
        rho,
        m,
        sigma,
    };
    p.validate().map_err(|e| to_py_err(py, e, &[]))?;
    Ok(p)
}

/// Applies `f(params, k, out)` to an array of any shape; the result has `k`'s shape.
fn map_svi<'py>(
    py: Python<'py>,
    p: RawSvi,
    k: PyReadonlyArrayDyn<'py, f64>,
    f: fn(&RawSvi, &[f64], &mut [f64]),
) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    check_ndims(py, &[k.ndim()])?;
    let shape = k.shape().to_vec();
    let view = k.as_array();
    let input: Vec<f64>;
    let src: &[f64] = match view.as_slice() {
        Some(s) => s,
        None => {
            input = view.iter().copied().collect();
            &input
        }
    };
    let mut out = vec![0.0; src.len()];
    py.detach(|| f(&p, src, &mut out));
    PyArray1::from_vec(py, out).reshape(shape)
}

/// Raw SVI total variance `w(k)` for `params = (a, b, rho, m, sigma)` over an array of any shape.
#[pyfunction]
fn svi_total_variance<'py>(
    py: Python<'py>,
    params: (f64, f64, f64, f64, f64),
    k: PyReadonlyArrayDyn<'py, f64>,
) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    let p = raw_svi(py, params)?;
    map_svi(py, p, k, total_variance_into)
}

/// Gatheral's density function `g(k)` of a raw SVI smile (no butterfly arbitrage iff `g >= 0`;
/// `-inf` where the total variance is not positive).
#[pyfunction]
fn svi_g<'py>(
    py: Python<'py>,
    params: (f64, f64, f64, f64, f64),
    k: PyReadonlyArrayDyn<'py, f64>,
) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    let p = raw_svi(py, params)?;
    map_svi(py, p, k, g_into)
}

/// Power-law SSVI fit over several expiries: `(rho, eta, gamma, rmse, thetas_used)`.
///
/// `ts[i]`, `thetas[i]` (ATM total variance) and the arrays `ks[i]`, `ws[i]`, `weights[i]`
/// describe expiry `i`. `thetas_used` is the cumulative maximum of the thetas in `t` order, in
/// the input order. See `strikegrid_core::ssvi::calibrate_ssvi`.
#[pyfunction]
#[pyo3(signature = (ts, thetas, ks, ws, weights))]
#[allow(clippy::type_complexity)]
fn ssvi_calibrate<'py>(
    py: Python<'py>,
    ts: Vec<f64>,
    thetas: Vec<f64>,
    ks: Vec<PyReadonlyArray1<'py, f64>>,
    ws: Vec<PyReadonlyArray1<'py, f64>>,
    weights: Vec<PyReadonlyArray1<'py, f64>>,
) -> PyResult<(f64, f64, f64, f64, Bound<'py, PyArray1<f64>>)> {
    let n = ts.len();
    if thetas.len() != n || ks.len() != n || ws.len() != n || weights.len() != n {
        return Err(to_py_err(
            py,
            Error::Shape(format!(
                "ts, thetas, ks, ws and weights must have the same length, got {}, {}, {}, {} and {}",
                n,
                thetas.len(),
                ks.len(),
                ws.len(),
                weights.len()
            )),
            &[],
        ));
    }
    let slices: Vec<SsviSlice> = (0..n)
        .map(|i| SsviSlice {
            t: ts[i],
            theta: thetas[i],
            k: to_vec(&ks[i]),
            w: to_vec(&ws[i]),
            weights: to_vec(&weights[i]),
        })
        .collect();
    let fit = py
        .detach(|| calibrate_ssvi(&slices))
        .map_err(|e| to_py_err(py, e, &[]))?;
    let p = fit.params;
    Ok((p.rho, p.eta, p.gamma, fit.rmse, fit.thetas.to_pyarray(py)))
}

/// The broadcast shape of two shapes (numpy rules), or `None` if they do not broadcast.
/// `a` broadcast to `shape` (numpy rules) as a C-order vector; `None` when it does not
/// broadcast. Rank 1 and 2 iterate with fixed rank (far faster than `IxDyn`), row by row.
fn gather_broadcast(a: ArrayViewD<'_, f64>, shape: &[usize]) -> Option<Vec<f64>> {
    let b = a.broadcast(IxDyn(shape))?;
    let mut out = Vec::with_capacity(b.len());
    if let Ok(b2) = b.view().into_dimensionality::<numpy::ndarray::Ix2>() {
        for row in b2.rows() {
            match row.as_slice() {
                Some(sl) => out.extend_from_slice(sl),
                None if row.strides()[0] == 0 && !row.is_empty() => {
                    out.extend(std::iter::repeat_n(row[0], row.len()))
                }
                None => out.extend(row.iter().copied()),
            }
        }
    } else if let Ok(b1) = b.view().into_dimensionality::<numpy::ndarray::Ix1>() {
        out.extend(b1.iter().copied());
    } else {
        out.extend(b.iter().copied());
    }
    Some(out)
}

fn broadcast_shape(x: &[usize], y: &[usize]) -> Option<Vec<usize>> {
    let n = x.len().max(y.len());
    let mut out = vec![0; n];
    for (i, o) in out.iter_mut().enumerate() {
        let dx = if i + x.len() >= n {
            x[i + x.len() - n]
        } else {
            1
        };
        let dy = if i + y.len() >= n {
            y[i + y.len() - n]
        } else {
            1
        };
        *o = if dx == dy || dy == 1 {
            dx
        } else if dx == 1 {
            dy
        } else {
            return None;
        };
    }
    Some(out)
}

/// SSVI total variance `w(k, theta)` for `params = (rho, eta, gamma)`; `k` and `theta` broadcast
/// against each other like numpy arrays.
#[pyfunction]
fn ssvi_total_variance<'py>(
    py: Python<'py>,
    params: (f64, f64, f64),
    k: PyReadonlyArrayDyn<'py, f64>,
    theta: PyReadonlyArrayDyn<'py, f64>,
) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    let (rho, eta, gamma) = params;
    let p = Ssvi { rho, eta, gamma };
    p.validate().map_err(|e| to_py_err(py, e, &[]))?;
    check_ndims(py, &[k.ndim(), theta.ndim()])?;
    let Some(shape) = broadcast_shape(k.shape(), theta.shape()) else {
        return Err(to_py_err(
            py,
            Error::Shape(format!(
                "k and theta do not broadcast: shapes {:?} and {:?}",
                k.shape(),
                theta.shape()
            )),
            &[],
        ));
    };
    let (kv, tv): (ArrayViewD<'_, f64>, ArrayViewD<'_, f64>) = (k.as_array(), theta.as_array());
    let (Some(kb), Some(tb)) = (kv.broadcast(IxDyn(&shape)), tv.broadcast(IxDyn(&shape))) else {
        return Err(to_py_err(
            py,
            Error::Shape("internal: broadcast failed".into()),
            &[],
        ));
    };
    let result: Result<Vec<f64>, Error> = py.detach(|| {
        let mut out = Vec::with_capacity(kb.len());
        for (i, (&k, &th)) in kb.iter().zip(tb.iter()).enumerate() {
            if !(th.is_finite() && th >= 0.0) {
                return Err(Error::InvalidInput {
                    arg: "theta",
                    index: i,
                    reason: format!("ATM total variance must be finite and >= 0, got {th}"),
                });
            }
            out.push(p.total_variance(k, th));
        }
        Ok(out)
    });
    let out = result.map_err(|e| to_py_err(py, e, &shape))?;
    PyArray1::from_vec(py, out).reshape(shape)
}

/// A fitted surface's arrays as the kernels take them (copied out of numpy: one entry per
/// slice).
pub(crate) struct SurfaceArrays {
    ts: Vec<f64>,
    log_forward: Vec<f64>,
    log_discount: Vec<f64>,
    params: Vec<RawSvi>,
}

impl SurfaceArrays {
    /// From `Surface.kernel_market()`'s expiries, ln forwards, ln discounts and (n, 5) params.
    pub(crate) fn new(
        ts: &PyReadonlyArray1<'_, f64>,
        log_forward: &PyReadonlyArray1<'_, f64>,
        log_discount: &PyReadonlyArray1<'_, f64>,
        params: &numpy::PyReadonlyArray2<'_, f64>,
    ) -> PyResult<SurfaceArrays> {
        Ok(SurfaceArrays {
            ts: to_vec(ts),
            log_forward: to_vec(log_forward),
            log_discount: to_vec(log_discount),
            params: svi_params(params)?,
        })
    }

    /// The market at `spot`.
    pub(crate) fn market(&self, spot: f64) -> strikegrid_core::package::Market<'_> {
        strikegrid_core::package::Market {
            spot,
            slices: strikegrid_core::svi_surface::Slices {
                ts: &self.ts,
                log_forward: &self.log_forward,
                params: &self.params,
            },
            log_discount: &self.log_discount,
        }
    }
}

/// The rows of an (n, 5) array of (a, b, rho, m, sigma) as raw SVI parameter sets.
pub(crate) fn svi_params(params: &numpy::PyReadonlyArray2<'_, f64>) -> PyResult<Vec<RawSvi>> {
    let pv = params.as_array();
    if pv.ncols() != 5 {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "params: expected an (n, 5) array of (a, b, rho, m, sigma)",
        ));
    }
    Ok(pv
        .rows()
        .into_iter()
        .map(|r| RawSvi {
            a: r[0],
            b: r[1],
            rho: r[2],
            m: r[3],
            sigma: r[4],
        })
        .collect())
}

/// Implied vols of a surface of SVI slices at (strike, expiry) points of one shape
/// (`strikegrid_core::svi_surface`): `ts` expiries, `log_forward` ln F per expiry, `params` an
/// (n, 5) array of (a, b, rho, m, sigma) per slice.
#[pyfunction]
#[pyo3(signature = (ts, log_forward, params, strike, expiry))]
fn svi_surface_vol<'py>(
    py: Python<'py>,
    ts: PyReadonlyArray1<'py, f64>,
    log_forward: PyReadonlyArray1<'py, f64>,
    params: numpy::PyReadonlyArray2<'py, f64>,
    strike: PyReadonlyArrayDyn<'py, f64>,
    expiry: PyReadonlyArrayDyn<'py, f64>,
) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    let (ts, lf) = (to_vec(&ts), to_vec(&log_forward));
    let slices = svi_params(&params)?;
    // numpy broadcasting of the two inputs, gathered in C order (a grid of a strike column
    // and an expiry row is read in place, never materialised in Python).
    check_ndims(py, &[strike.ndim(), expiry.ndim()])?;
    let Some(shape) = broadcast_shape(strike.shape(), expiry.shape()) else {
        return Err(to_py_err(
            py,
            Error::Shape(format!(
                "strike {:?} and expiry {:?} do not broadcast together",
                strike.shape(),
                expiry.shape()
            )),
            &[],
        ));
    };
    let surface = strikegrid_core::svi_surface::Slices {
        ts: &ts,
        log_forward: &lf,
        params: &slices,
    };
    // A grid of a strike column (n, 1) and an expiry row (1, m) or (m,): the grid kernel,
    // which finds each expiry's slices once and each strike's ln K once.
    let column = strike.ndim() == 2 && strike.shape()[1] == 1;
    let row = expiry.shape().iter().rev().skip(1).all(|&d| d == 1);
    if shape.len() == 2 && column && row && expiry.shape().last() == Some(&shape[1]) {
        if let (Ok(k), Ok(t)) = (strike.as_slice(), expiry.as_slice()) {
            let out = unsafe { PyArrayDyn::<f64>::new(py, shape, false) };
            {
                // SAFETY: `out` was just created here, is C-contiguous and not shared yet.
                let o = unsafe { out.as_slice_mut() }.map_err(|e| {
                    pyo3::exceptions::PyValueError::new_err(format!("internal: {e}"))
                })?;
                py.detach(|| strikegrid_core::svi_surface::vol_grid_into(&surface, k, t, o))
                    .map_err(|e| to_py_err(py, e, &[]))?;
            }
            return Ok(out);
        }
    }
    let gather = |a: &PyReadonlyArrayDyn<'py, f64>| -> PyResult<Vec<f64>> {
        gather_broadcast(a.as_array(), &shape)
            .ok_or_else(|| to_py_err(py, Error::Shape("internal: broadcast failed".into()), &[]))
    };
    // Inputs already of the output shape and C-contiguous are read in place.
    let k_vec;
    let k: &[f64] = match strike.as_slice() {
        Ok(sl) if strike.shape() == shape.as_slice() => sl,
        _ => {
            k_vec = gather(&strike)?;
            &k_vec
        }
    };
    let t_vec;
    let t: &[f64] = match expiry.as_slice() {
        Ok(sl) if expiry.shape() == shape.as_slice() => sl,
        _ => {
            t_vec = gather(&expiry)?;
            &t_vec
        }
    };
    let out = unsafe { PyArrayDyn::<f64>::new(py, shape, false) };
    {
        // SAFETY: `out` was just created here, is C-contiguous and not shared yet.
        let o = unsafe { out.as_slice_mut() }
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(format!("internal: {e}")))?;
        py.detach(|| strikegrid_core::svi_surface::vol_into(&surface, k, t, o))
            .map_err(|e| to_py_err(py, e, &[]))?;
    }
    Ok(out)
}

/// Adds this module's functions to `strikegrid._core`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(svi_calibrate, m)?)?;
    m.add_function(wrap_pyfunction!(svi_total_variance, m)?)?;
    m.add_function(wrap_pyfunction!(svi_g, m)?)?;
    m.add_function(wrap_pyfunction!(ssvi_calibrate, m)?)?;
    m.add_function(wrap_pyfunction!(ssvi_total_variance, m)?)?;
    m.add_function(wrap_pyfunction!(svi_surface_vol, m)?)?;
    Ok(())
}

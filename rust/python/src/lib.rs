//! `strikegrid._core`: the thin PyO3 layer over `strikegrid-core`.
//!
//! It converts arguments (the Python package hands over float64 numpy arrays of any shape and
//! stride, or Python floats on the scalar fast path), settles numpy broadcasting once, releases
//! the GIL around every kernel and maps core errors to `strikegrid.exceptions`. No maths here.

mod broadcast;

use numpy::{PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use strikegrid_core::european::Operands;
use strikegrid_core::{european, special, Error, Greek, GreekSet, Model, OnInvalid};

use broadcast::BroadcastOperands;

/// Maps a core error to the package's exception hierarchy (`InputError` subclasses
/// `ValueError`). `shape` turns flat indices into numpy multi-indices.
fn to_py_err(py: Python<'_>, err: Error, shape: &[usize]) -> PyErr {
    let (msg, arg, index): (String, Option<&str>, Option<Py<PyAny>>) = match &err {
        Error::InvalidInput { arg, index, reason } => {
            let (text, idx_obj) = if shape.len() <= 1 {
                (
                    format!("{index}"),
                    index.into_pyobject(py).ok().map(|o| o.into_any().unbind()),
                )
            } else {
                let mut rem = *index;
                let mut multi = vec![0usize; shape.len()];
                for d in (0..shape.len()).rev() {
                    multi[d] = rem % shape[d].max(1);
                    rem /= shape[d].max(1);
                }
                let text = format!(
                    "({})",
                    multi
                        .iter()
                        .map(|i| i.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                let tuple = pyo3::types::PyTuple::new(py, &multi)
                    .ok()
                    .map(|t| t.into_any().unbind());
                (text, tuple)
            };
            (
                format!("{arg}: {reason} at index {text}"),
                Some(*arg),
                idx_obj,
            )
        }
        other => (other.to_string(), None, None),
    };
    let class = py
        .import("strikegrid.exceptions")
        .and_then(|m| m.getattr("InputError"));
    match class {
        Ok(cls) => match cls.call1((msg.clone(),)) {
            Ok(exc) => {
                let _ = exc.setattr("arg", arg);
                let _ = exc.setattr("index", index);
                PyErr::from_value(exc)
            }
            Err(e) => e,
        },
        Err(_) => PyValueError::new_err(msg),
    }
}

fn parse_model(py: Python<'_>, name: &str) -> PyResult<Model> {
    Model::parse(name).map_err(|e| to_py_err(py, e, &[]))
}

fn policy(nan: bool) -> OnInvalid {
    if nan {
        OnInvalid::Nan
    } else {
        OnInvalid::Raise
    }
}

fn greek_set(py: Python<'_>, mask: u32) -> PyResult<GreekSet> {
    let set: GreekSet = Greek::STANDARD
        .iter()
        .chain(std::iter::once(&Greek::DeltaPa))
        .copied()
        .filter(|g| mask & (1 << (*g as u32)) != 0)
        .collect();
    if set.is_empty() {
        return Err(to_py_err(
            py,
            Error::Shape("which= selects no output".into()),
            &[],
        ));
    }
    Ok(set)
}

/// Premium of one option (the scalar fast path: no numpy involved).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (model, kind, spot, strike, expiry, vol, rate, div, nan))]
fn price_scalar(
    py: Python<'_>,
    model: &str,
    kind: f64,
    spot: f64,
    strike: f64,
    expiry: f64,
    vol: f64,
    rate: f64,
    div: f64,
    nan: bool,
) -> PyResult<f64> {
    let model = parse_model(py, model)?;
    european::price_one(
        model,
        kind,
        spot,
        strike,
        expiry,
        vol,
        rate,
        div,
        policy(nan),
    )
    .map_err(|e| to_py_err(py, e, &[]))
}

/// Outputs selected by `mask` (bit i = `GREEK_NAMES[i]`) of one option, as a dict of floats.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (model, mask, kind, spot, strike, expiry, vol, rate, div, nan))]
fn greeks_scalar<'py>(
    py: Python<'py>,
    model: &str,
    mask: u32,
    kind: f64,
    spot: f64,
    strike: f64,
    expiry: f64,
    vol: f64,
    rate: f64,
    div: f64,
    nan: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let model = parse_model(py, model)?;
    let set = greek_set(py, mask)?;
    let x = [kind, spot, strike, expiry, vol, rate, div];
    let vals =
        european::evaluate_one(model, set, policy(nan), x).map_err(|e| to_py_err(py, e, &[]))?;
    let d = PyDict::new(py);
    for (g, v) in vals {
        d.set_item(g.name(), v)?;
    }
    Ok(d)
}

/// Outputs selected by `mask` over broadcast float64 arrays; returns a list of arrays in
/// canonical greek order, each of the broadcast shape.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (model, mask, kind, spot, strike, expiry, vol, rate, div, nan))]
fn evaluate_arrays<'py>(
    py: Python<'py>,
    model: &str,
    mask: u32,
    kind: PyReadonlyArrayDyn<'py, f64>,
    spot: PyReadonlyArrayDyn<'py, f64>,
    strike: PyReadonlyArrayDyn<'py, f64>,
    expiry: PyReadonlyArrayDyn<'py, f64>,
    vol: PyReadonlyArrayDyn<'py, f64>,
    rate: PyReadonlyArrayDyn<'py, f64>,
    div: PyReadonlyArrayDyn<'py, f64>,
    nan: bool,
) -> PyResult<Bound<'py, PyList>> {
    let model = parse_model(py, model)?;
    let set = greek_set(py, mask)?;
    set.check_model(model).map_err(|e| to_py_err(py, e, &[]))?;
    let views = [
        kind.as_array(),
        spot.as_array(),
        strike.as_array(),
        expiry.as_array(),
        vol.as_array(),
        rate.as_array(),
        div.as_array(),
    ];
    let ops = BroadcastOperands::new(&views).map_err(|e| to_py_err(py, e, &[]))?;
    let shape = ops.shape().to_vec();
    let n = ops.len();
    let order = set.to_vec();
    // Fresh C-contiguous outputs; every element is written by the kernel.
    let arrays: Vec<Bound<'py, PyArrayDyn<f64>>> = order
        .iter()
        .map(|_| unsafe { PyArrayDyn::<f64>::new(py, shape.clone(), false) })
        .collect();
    let result = {
        let mut slices: Vec<&mut [f64]> = Vec::with_capacity(arrays.len());
        for a in &arrays {
            // SAFETY: `a` was just created by us, is C-contiguous and not shared yet.
            let s = unsafe { a.as_slice_mut() }
                .map_err(|e| PyValueError::new_err(format!("internal: {e}")))?;
            debug_assert_eq!(s.len(), n);
            slices.push(s);
        }
        py.detach(|| european::evaluate(model, set, policy(nan), &ops, &mut slices))
    };
    result.map_err(|e| to_py_err(py, e, &shape))?;
    PyList::new(py, arrays)
}

/// Standard normal CDF of a float64 array (any shape), as a new array.
#[pyfunction]
fn norm_cdf<'py>(
    py: Python<'py>,
    x: PyReadonlyArrayDyn<'py, f64>,
) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    map_special(py, x, special::norm_cdf)
}

/// Standard normal PDF of a float64 array (any shape), as a new array.
#[pyfunction]
fn norm_pdf<'py>(
    py: Python<'py>,
    x: PyReadonlyArrayDyn<'py, f64>,
) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    map_special(py, x, special::norm_pdf)
}

fn map_special<'py>(
    py: Python<'py>,
    x: PyReadonlyArrayDyn<'py, f64>,
    f: fn(&[f64], &mut [f64]),
) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    let view = x.as_array();
    let shape = view.shape().to_vec();
    let input: Vec<f64>;
    let src: &[f64] = match view.as_slice() {
        Some(s) => s,
        None => {
            input = view.iter().copied().collect();
            &input
        }
    };
    let out = unsafe { PyArrayDyn::<f64>::new(py, shape, false) };
    {
        // SAFETY: `out` was just created by us, is C-contiguous and not shared yet.
        let o = unsafe { out.as_slice_mut() }
            .map_err(|e| PyValueError::new_err(format!("internal: {e}")))?;
        py.detach(|| f(src, o));
    }
    Ok(out)
}

/// The instruction set the kernels use on this CPU (`generic`, `avx2`, `avx512`).
#[pyfunction]
fn simd_level() -> &'static str {
    strikegrid_core::dispatch::isa().name()
}

#[pymodule(gil_used = false)]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(price_scalar, m)?)?;
    m.add_function(wrap_pyfunction!(greeks_scalar, m)?)?;
    m.add_function(wrap_pyfunction!(evaluate_arrays, m)?)?;
    m.add_function(wrap_pyfunction!(norm_cdf, m)?)?;
    m.add_function(wrap_pyfunction!(norm_pdf, m)?)?;
    m.add_function(wrap_pyfunction!(simd_level, m)?)?;
    let names: Vec<&str> = Greek::STANDARD
        .iter()
        .chain(std::iter::once(&Greek::DeltaPa))
        .map(|g| g.name())
        .collect();
    m.add("GREEK_NAMES", names)?;
    m.add(
        "MODEL_NAMES",
        Model::ALL.iter().map(|m| m.name()).collect::<Vec<_>>(),
    )?;
    m.add("PARALLEL_THRESHOLD", european::PARALLEL_THRESHOLD)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

//! `strikegrid._core`: the thin PyO3 layer over `strikegrid-core`.
//!
//! It converts arguments (the Python package hands over float64 numpy arrays of any shape and
//! stride, or Python floats on the scalar fast path), settles numpy broadcasting once, releases
//! the GIL around every kernel and maps core errors to `strikegrid.exceptions`. No maths here.

mod broadcast;
mod package;
mod paths;
mod pool;
mod scenario;
mod screen;
mod surface;

use numpy::{PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString};
use strikegrid_core::european::Operands;
use strikegrid_core::{american, european, special, Error, Greek, GreekSet, Model, OnInvalid};

use broadcast::{ArgView, BroadcastOperands};

/// Kinds as handed over by the Python layer: +1/-1 floats, or a bool array (True = call) read
/// directly so that no full-size float copy is made.
#[derive(FromPyObject)]
enum KindArray<'py> {
    Bool(PyReadonlyArrayDyn<'py, bool>),
    F64(PyReadonlyArrayDyn<'py, f64>),
}

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

/// rust-numpy handles at most 32 dimensions (NumPy 1.x's limit; NumPy 2 allows 64): refuse
/// more with an error instead of letting it panic.
fn check_ndims(py: Python<'_>, ndims: &[usize]) -> PyResult<()> {
    const MAX: usize = 32;
    if let Some((i, n)) = ndims.iter().enumerate().find(|(_, n)| **n > MAX) {
        let name = strikegrid_core::tile::Arg::ALL
            .get(i)
            .map_or("x", |a| a.name());
        return Err(to_py_err(
            py,
            Error::Shape(format!(
                "{name}: at most {MAX} dimensions are supported, got {n}"
            )),
            &[],
        ));
    }
    Ok(())
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

/// A plain Python number (float or int, not bool) as f64; `None` for anything else.
fn plain_number(obj: &Bound<'_, PyAny>) -> Option<f64> {
    if let Ok(f) = obj.cast_exact::<PyFloat>() {
        return Some(f.value());
    }
    if obj.is_exact_instance_of::<PyInt>() {
        return obj.extract::<f64>().ok();
    }
    None
}

/// A scalar kind (str in any case, bool, or the ints +1/-1) as +1/-1; `None` when the kind is
/// not a plain scalar or not recognised (the Python layer then reports it).
fn plain_kind(obj: &Bound<'_, PyAny>) -> Option<f64> {
    let py = obj.py();
    // String literals in user code are interned, so identity usually settles it.
    if obj.is(intern!(py, "call")) || obj.is(intern!(py, "c")) {
        return Some(1.0);
    }
    if obj.is(intern!(py, "put")) || obj.is(intern!(py, "p")) {
        return Some(-1.0);
    }
    if let Ok(s) = obj.cast_exact::<PyString>() {
        let s = s.to_cow().ok()?;
        return match &*s {
            "call" | "c" | "Call" | "CALL" | "C" => Some(1.0),
            "put" | "p" | "Put" | "PUT" | "P" => Some(-1.0),
            _ => None,
        };
    }
    if let Ok(b) = obj.cast_exact::<PyBool>() {
        return Some(if b.is_true() { 1.0 } else { -1.0 });
    }
    match plain_number(obj) {
        Some(v) if v == 1.0 || v == -1.0 => Some(v),
        _ => None,
    }
}

/// Whether `obj` is the str `word` (identity first: interned literals compare in one step).
fn is_word(obj: &Bound<'_, PyAny>, word: &Bound<'_, PyString>) -> bool {
    obj.is(word)
        || obj
            .cast_exact::<PyString>()
            .ok()
            .and_then(|s| {
                s.to_cow()
                    .ok()
                    .map(|c| c == word.to_cow().unwrap_or_default())
            })
            .unwrap_or(false)
}

/// The model named by `obj`, parsed without copying for the canonical names.
fn fast_model(obj: &Bound<'_, PyAny>) -> PyResult<Option<Model>> {
    let py = obj.py();
    for m in Model::ALL {
        let name = match m {
            Model::Bsm => intern!(py, "bsm"),
            Model::Black76 => intern!(py, "black76"),
            Model::Bachelier => intern!(py, "bachelier"),
            Model::Inverse => intern!(py, "inverse"),
        };
        if obj.is(name) {
            return Ok(Some(m));
        }
    }
    match obj.cast_exact::<PyString>() {
        Ok(s) => parse_model(py, &s.to_cow()?).map(Some),
        Err(_) => Ok(None),
    }
}

/// The scalar fast path of `sg.price` / `sg.greeks`: when every argument is a plain Python
/// scalar, the exercise is European and `errors` is "raise" or "nan", compute here without
/// numpy; otherwise return `None` and let the Python layer take the general path.
#[allow(clippy::too_many_arguments)]
fn fast_inputs(
    kind: &Bound<'_, PyAny>,
    spot: &Bound<'_, PyAny>,
    strike: &Bound<'_, PyAny>,
    expiry: &Bound<'_, PyAny>,
    vol: &Bound<'_, PyAny>,
    rate: &Bound<'_, PyAny>,
    div: &Bound<'_, PyAny>,
    exercise: &Bound<'_, PyAny>,
    method: &Bound<'_, PyAny>,
    errors: &Bound<'_, PyAny>,
) -> Option<([f64; 7], bool)> {
    if !method.is_none() {
        return None;
    }
    let py = kind.py();
    if !is_word(exercise, intern!(py, "european")) {
        return None;
    }
    let nan = if is_word(errors, intern!(py, "raise")) {
        false
    } else if is_word(errors, intern!(py, "nan")) {
        true
    } else {
        return None;
    };
    let x = [
        plain_kind(kind)?,
        plain_number(spot)?,
        plain_number(strike)?,
        plain_number(expiry)?,
        plain_number(vol)?,
        plain_number(rate)?,
        plain_number(div)?,
    ];
    Some((x, nan))
}

/// `sg.price` for plain scalars; `None` when the call needs the general path.
#[allow(clippy::too_many_arguments)]
fn price_fast(
    py: Python<'_>,
    kind: &Bound<'_, PyAny>,
    spot: &Bound<'_, PyAny>,
    strike: &Bound<'_, PyAny>,
    expiry: &Bound<'_, PyAny>,
    vol: &Bound<'_, PyAny>,
    rate: &Bound<'_, PyAny>,
    div: &Bound<'_, PyAny>,
    model: &Bound<'_, PyAny>,
    exercise: &Bound<'_, PyAny>,
    method: &Bound<'_, PyAny>,
    errors: &Bound<'_, PyAny>,
) -> PyResult<Option<f64>> {
    let Some((x, nan)) = fast_inputs(
        kind, spot, strike, expiry, vol, rate, div, exercise, method, errors,
    ) else {
        return Ok(None);
    };
    let Some(model) = fast_model(model)? else {
        return Ok(None);
    };
    let [k, s, st, t, v, r, q] = x;
    european::price_one(model, k, s, st, t, v, r, q, policy(nan))
        .map(Some)
        .map_err(|e| to_py_err(py, e, &[]))
}

/// The Python implementation of the general (array) path of `name` in `strikegrid.pricing`.
fn general<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    let m = MODULE.get_or_try_init(py, || py.import("strikegrid.pricing").map(|m| m.unbind()))?;
    m.bind(py).getattr(name)
}

/// The optional arguments of `price` and `greeks`, with their documented defaults filled in
/// (`None` for `rate`/`div` means 0.0).
struct Keywords<'py> {
    rate: Bound<'py, PyAny>,
    div: Bound<'py, PyAny>,
    model: Bound<'py, PyAny>,
    exercise: Bound<'py, PyAny>,
    method: Bound<'py, PyAny>,
    errors: Bound<'py, PyAny>,
    /// American-only extras: lattice steps and a discrete dividend schedule.
    steps: Option<Bound<'py, PyAny>>,
    dividends: Option<Bound<'py, PyAny>>,
}

impl<'py> Keywords<'py> {
    fn new(
        py: Python<'py>,
        rate: Option<&Bound<'py, PyAny>>,
        div: Option<&Bound<'py, PyAny>>,
        model: Option<&Bound<'py, PyAny>>,
        exercise: Option<&Bound<'py, PyAny>>,
        method: Option<&Bound<'py, PyAny>>,
        errors: Option<&Bound<'py, PyAny>>,
    ) -> Self {
        let or = |v: Option<&Bound<'py, PyAny>>, d: &Bound<'py, PyAny>| v.unwrap_or(d).clone();
        let zero = PyFloat::new(py, 0.0).into_any();
        Keywords {
            rate: or(rate, &zero),
            div: or(div, &zero),
            model: or(model, intern!(py, "bsm").as_any()),
            exercise: or(exercise, intern!(py, "european").as_any()),
            method: or(method, &py.None().into_bound(py)),
            errors: or(errors, intern!(py, "raise").as_any()),
            steps: None,
            dividends: None,
        }
    }

    /// Adds the American extras (`None` values are left out).
    fn with_extras(
        mut self,
        steps: Option<&Bound<'py, PyAny>>,
        dividends: Option<&Bound<'py, PyAny>>,
    ) -> Self {
        self.steps = steps.filter(|s| !s.is_none()).cloned();
        self.dividends = dividends.filter(|d| !d.is_none()).cloned();
        self
    }

    /// Whether the call needs the Python general path whatever its other arguments.
    fn has_extras(&self) -> bool {
        self.steps.is_some() || self.dividends.is_some()
    }

    /// The keyword arguments for the Python general path.
    fn to_dict(
        &self,
        py: Python<'py>,
        which: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("model", &self.model)?;
        d.set_item("exercise", &self.exercise)?;
        d.set_item("method", &self.method)?;
        d.set_item("errors", &self.errors)?;
        if let Some(w) = which {
            d.set_item("which", w)?;
        }
        if let Some(v) = &self.steps {
            d.set_item("steps", v)?;
        }
        if let Some(v) = &self.dividends {
            d.set_item("dividends", v)?;
        }
        Ok(d)
    }
}

/// Option premiums (see `strikegrid.pricing` for the full documentation).
///
/// price(kind, spot, strike, expiry, vol, rate=0.0, div=0.0, *, model="bsm",
///       exercise="european", method=None, errors="raise")
///
/// Broadcasts like a numpy ufuncs over scalars and arrays; returns float64 of the broadcast
/// shape, or a float when every input is a scalar. `model` is "bsm", "black76", "bachelier" or
/// "inverse"; `errors="nan"` puts NaN where an element's inputs are invalid instead of raising.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (kind, spot, strike, expiry, vol, rate=None, div=None, *, model=None, exercise=None, method=None, steps=None, dividends=None, errors=None))]
fn price<'py>(
    py: Python<'py>,
    kind: &Bound<'py, PyAny>,
    spot: &Bound<'py, PyAny>,
    strike: &Bound<'py, PyAny>,
    expiry: &Bound<'py, PyAny>,
    vol: &Bound<'py, PyAny>,
    rate: Option<&Bound<'py, PyAny>>,
    div: Option<&Bound<'py, PyAny>>,
    model: Option<&Bound<'py, PyAny>>,
    exercise: Option<&Bound<'py, PyAny>>,
    method: Option<&Bound<'py, PyAny>>,
    steps: Option<&Bound<'py, PyAny>>,
    dividends: Option<&Bound<'py, PyAny>>,
    errors: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let kw =
        Keywords::new(py, rate, div, model, exercise, method, errors).with_extras(steps, dividends);
    let args = (kind, spot, strike, expiry, vol, &kw.rate, &kw.div);
    if kw.has_extras() {
        return general(py, "_price_general")?.call(args, Some(&kw.to_dict(py, None)?));
    }
    if let Some(v) = price_fast(
        py,
        kind,
        spot,
        strike,
        expiry,
        vol,
        &kw.rate,
        &kw.div,
        &kw.model,
        &kw.exercise,
        &kw.method,
        &kw.errors,
    )? {
        return Ok(PyFloat::new(py, v).into_any());
    }
    general(py, "_price_general")?.call(args, Some(&kw.to_dict(py, None)?))
}

/// Premium and greeks (see `strikegrid.pricing` for the full documentation).
///
/// greeks(kind, spot, strike, expiry, vol, rate=0.0, div=0.0, *, model="bsm",
///        exercise="european", method=None, which=None, errors="raise")
///
/// Returns a dict name -> float64 array (floats for scalar inputs); `which=None` gives price
/// delta gamma vega theta rho epsilon vanna volga charm dual_delta dual_gamma, or pass a name or
/// list of names to compute only those.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (kind, spot, strike, expiry, vol, rate=None, div=None, *, model=None, exercise=None, method=None, steps=None, dividends=None, which=None, errors=None))]
fn greeks<'py>(
    py: Python<'py>,
    kind: &Bound<'py, PyAny>,
    spot: &Bound<'py, PyAny>,
    strike: &Bound<'py, PyAny>,
    expiry: &Bound<'py, PyAny>,
    vol: &Bound<'py, PyAny>,
    rate: Option<&Bound<'py, PyAny>>,
    div: Option<&Bound<'py, PyAny>>,
    model: Option<&Bound<'py, PyAny>>,
    exercise: Option<&Bound<'py, PyAny>>,
    method: Option<&Bound<'py, PyAny>>,
    steps: Option<&Bound<'py, PyAny>>,
    dividends: Option<&Bound<'py, PyAny>>,
    which: Option<&Bound<'py, PyAny>>,
    errors: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let kw =
        Keywords::new(py, rate, div, model, exercise, method, errors).with_extras(steps, dividends);
    let none = py.None().into_bound(py);
    let which = which.unwrap_or(&none);
    let fast = if kw.has_extras() {
        None
    } else {
        fast_which(which)
    };
    if let Some(order) = fast {
        let mask = order.iter().fold(0u32, |m, g| m | (1 << (*g as u32)));
        if let Some(d) = greeks_fast(
            py,
            kind,
            spot,
            strike,
            expiry,
            vol,
            &kw.rate,
            &kw.div,
            &kw.model,
            &kw.exercise,
            &kw.method,
            &kw.errors,
            mask,
        )? {
            if which.is_none() || d.len() == order.len() && canonical(&order) {
                return Ok(d.into_any());
            }
            // Same values, in the order asked.
            let out = PyDict::new(py);
            let keys = greek_keys(py);
            for g in order {
                let key = keys[g as usize].bind(py);
                if let Some(v) = d.get_item(key)? {
                    out.set_item(key, v)?;
                }
            }
            return Ok(out.into_any());
        }
    }
    let args = (kind, spot, strike, expiry, vol, &kw.rate, &kw.div);
    general(py, "_greeks_general")?.call(args, Some(&kw.to_dict(py, Some(which))?))
}

/// The outputs `which` asks for, in its order: None gives the twelve standard ones; a name or a
/// list/tuple of names is parsed here; anything else (or an unknown name) gives `None` so the
/// Python layer reports it.
fn fast_which(which: &Bound<'_, PyAny>) -> Option<Vec<Greek>> {
    if which.is_none() {
        return Some(Greek::STANDARD.to_vec());
    }
    let py = which.py();
    let keys = greek_keys(py);
    let all: Vec<Greek> = Greek::STANDARD
        .iter()
        .chain(std::iter::once(&Greek::DeltaPa))
        .copied()
        .collect();
    let parse = |o: &Bound<'_, PyAny>| -> Option<Greek> {
        // Literal names are interned: identity with our interned keys settles most of them.
        if let Some(i) = keys.iter().position(|k| o.is(k.bind(py))) {
            return Some(all[i]);
        }
        let s = o.cast_exact::<PyString>().ok()?;
        Greek::parse(&s.to_cow().ok()?).ok()
    };
    if which.is_exact_instance_of::<PyString>() {
        return parse(which).map(|g| vec![g]);
    }
    let items: Vec<Bound<'_, PyAny>> = if let Ok(l) = which.cast_exact::<PyList>() {
        l.iter().collect()
    } else if let Ok(t) = which.cast_exact::<pyo3::types::PyTuple>() {
        t.iter().collect()
    } else {
        return None;
    };
    let mut order: Vec<Greek> = Vec::with_capacity(items.len());
    for item in &items {
        let g = parse(item)?;
        if !order.contains(&g) {
            order.push(g);
        }
    }
    (!order.is_empty()).then_some(order)
}

fn canonical(order: &[Greek]) -> bool {
    order.windows(2).all(|w| w[0] < w[1])
}

/// Interned output names, in `GREEK_NAMES` order.
fn greek_keys(py: Python<'_>) -> &Vec<Py<PyString>> {
    static KEYS: PyOnceLock<Vec<Py<PyString>>> = PyOnceLock::new();
    KEYS.get_or_init(py, || {
        Greek::STANDARD
            .iter()
            .chain(std::iter::once(&Greek::DeltaPa))
            .map(|g| PyString::intern(py, g.name()).unbind())
            .collect()
    })
}

/// `sg.greeks` for plain scalars (outputs in canonical order); `None` when the call needs the
/// general path.
#[allow(clippy::too_many_arguments)]
fn greeks_fast<'py>(
    py: Python<'py>,
    kind: &Bound<'py, PyAny>,
    spot: &Bound<'py, PyAny>,
    strike: &Bound<'py, PyAny>,
    expiry: &Bound<'py, PyAny>,
    vol: &Bound<'py, PyAny>,
    rate: &Bound<'py, PyAny>,
    div: &Bound<'py, PyAny>,
    model: &Bound<'py, PyAny>,
    exercise: &Bound<'py, PyAny>,
    method: &Bound<'py, PyAny>,
    errors: &Bound<'py, PyAny>,
    mask: u32,
) -> PyResult<Option<Bound<'py, PyDict>>> {
    let Some((x, nan)) = fast_inputs(
        kind, spot, strike, expiry, vol, rate, div, exercise, method, errors,
    ) else {
        return Ok(None);
    };
    let Some(model) = fast_model(model)? else {
        return Ok(None);
    };
    let set = greek_set(py, mask)?;
    let mut vals = [0.0; 13];
    european::evaluate_one_into(model, set, policy(nan), x, &mut vals)
        .map_err(|e| to_py_err(py, e, &[]))?;
    let keys = greek_keys(py);
    let d = PyDict::new(py);
    for (g, v) in set.to_vec().into_iter().zip(vals) {
        d.set_item(keys[g as usize].bind(py), v)?;
    }
    Ok(Some(d))
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
    kind: KindArray<'py>,
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
    let views = operand_views(py, &kind, &spot, &strike, &expiry, &vol, &rate, &div)?;
    let ops = BroadcastOperands::new(&views).map_err(|e| to_py_err(py, e, &[]))?;
    let shape = ops.shape().to_vec();
    let n = ops.len();
    let arrays = fresh_outputs(py, &shape, set.len());
    let result = {
        let mut slices = output_slices(&arrays)?;
        debug_assert!(slices.iter().all(|s| s.len() == n));
        py.detach(|| european::evaluate(model, set, policy(nan), &ops, &mut slices))
    };
    result.map_err(|e| to_py_err(py, e, &shape))?;
    PyList::new(py, arrays)
}

/// Implied vols and their status codes.
type VolsAndStatus<'py> = (Bound<'py, PyArrayDyn<f64>>, Bound<'py, PyArrayDyn<u8>>);

/// Implied vols over broadcast float64 arrays: `(vols, status codes)`, each of the broadcast
/// shape (codes: `strikegrid_core::implied::Status`).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (model, premium, kind, spot, strike, expiry, rate, div, nan))]
fn implied_vol_arrays<'py>(
    py: Python<'py>,
    model: &str,
    premium: PyReadonlyArrayDyn<'py, f64>,
    kind: KindArray<'py>,
    spot: PyReadonlyArrayDyn<'py, f64>,
    strike: PyReadonlyArrayDyn<'py, f64>,
    expiry: PyReadonlyArrayDyn<'py, f64>,
    rate: PyReadonlyArrayDyn<'py, f64>,
    div: PyReadonlyArrayDyn<'py, f64>,
    nan: bool,
) -> PyResult<VolsAndStatus<'py>> {
    let model = parse_model(py, model)?;
    // The premium travels in the `vol` slot of the operands.
    let views = operand_views(py, &kind, &spot, &strike, &expiry, &premium, &rate, &div)?;
    let ops = BroadcastOperands::new(&views).map_err(|e| to_py_err(py, e, &[]))?;
    let shape = ops.shape().to_vec();
    let vols = unsafe { PyArrayDyn::<f64>::new(py, shape.clone(), false) };
    let status = unsafe { PyArrayDyn::<u8>::new(py, shape.clone(), false) };
    let result = {
        // SAFETY: both arrays were just created by us, are C-contiguous and not shared yet.
        let v = unsafe { vols.as_slice_mut() }
            .map_err(|e| PyValueError::new_err(format!("internal: {e}")))?;
        let st = unsafe { status.as_slice_mut() }
            .map_err(|e| PyValueError::new_err(format!("internal: {e}")))?;
        py.detach(|| european::implied_vol(model, policy(nan), &ops, v, st))
    };
    result
        .map_err(|e| to_py_err(py, e, &shape))
        .map(|_| (vols, status))
}

/// `count` fresh C-contiguous float64 arrays of `shape`, left uninitialised: the kernels
/// write every element.
pub(crate) fn fresh_outputs<'py>(
    py: Python<'py>,
    shape: &[usize],
    count: usize,
) -> Vec<Bound<'py, PyArrayDyn<f64>>> {
    (0..count).map(|_| pool::empty(py, shape)).collect()
}

/// Mutable slices over arrays from [`fresh_outputs`] (numpy arrays are mutable through a
/// shared handle, as `as_slice_mut` itself is).
#[allow(clippy::mut_from_ref)]
pub(crate) fn output_slices<'a>(
    arrays: &'a [Bound<'_, PyArrayDyn<f64>>],
) -> PyResult<Vec<&'a mut [f64]>> {
    arrays
        .iter()
        // SAFETY: the arrays were just created by `fresh_outputs`, are C-contiguous and are
        // not shared with Python yet.
        .map(|a| unsafe { a.as_slice_mut() })
        .collect::<Result<_, _>>()
        .map_err(|e| PyValueError::new_err(format!("internal: {e}")))
}

/// The American method and dividend schedule from their Python forms.
fn american_method(
    py: Python<'_>,
    method: Option<&str>,
    steps: Option<usize>,
    div_times: &[f64],
    div_amounts: &[f64],
) -> PyResult<(american::Method, Vec<american::Dividend>)> {
    let m = american::Method::parse(method, steps).map_err(|e| to_py_err(py, e, &[]))?;
    if div_times.len() != div_amounts.len() {
        return Err(PyValueError::new_err(
            "dividends: ex-dates and amounts differ in length",
        ));
    }
    let divs = div_times
        .iter()
        .zip(div_amounts)
        .map(|(&time, &amount)| american::Dividend { time, amount })
        .collect();
    Ok((m, divs))
}

/// Broadcast operands of the seven pricing arguments (premium in the vol slot for implied vols).
#[allow(clippy::too_many_arguments)]
fn operand_views<'a>(
    py: Python<'_>,
    kind: &'a KindArray<'_>,
    spot: &'a PyReadonlyArrayDyn<'_, f64>,
    strike: &'a PyReadonlyArrayDyn<'_, f64>,
    expiry: &'a PyReadonlyArrayDyn<'_, f64>,
    vol: &'a PyReadonlyArrayDyn<'_, f64>,
    rate: &'a PyReadonlyArrayDyn<'_, f64>,
    div: &'a PyReadonlyArrayDyn<'_, f64>,
) -> PyResult<[ArgView<'a>; 7]> {
    let kind_ndim = match kind {
        KindArray::F64(k) => k.ndim(),
        KindArray::Bool(k) => k.ndim(),
    };
    check_ndims(
        py,
        &[
            kind_ndim,
            spot.ndim(),
            strike.ndim(),
            expiry.ndim(),
            vol.ndim(),
            rate.ndim(),
            div.ndim(),
        ],
    )?;
    Ok([
        match kind {
            KindArray::F64(k) => ArgView::F64(k.as_array()),
            KindArray::Bool(k) => ArgView::Bool(k.as_array()),
        },
        ArgView::F64(spot.as_array()),
        ArgView::F64(strike.as_array()),
        ArgView::F64(expiry.as_array()),
        ArgView::F64(vol.as_array()),
        ArgView::F64(rate.as_array()),
        ArgView::F64(div.as_array()),
    ])
}

/// American prices and greeks selected by `mask` over broadcast float64 arrays; a list of
/// arrays in canonical greek order.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (model, method, steps, div_times, div_amounts, mask, kind, spot, strike, expiry, vol, rate, div, nan))]
fn american_arrays<'py>(
    py: Python<'py>,
    model: &str,
    method: Option<&str>,
    steps: Option<usize>,
    div_times: Vec<f64>,
    div_amounts: Vec<f64>,
    mask: u32,
    kind: KindArray<'py>,
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
    let (method, divs) = american_method(py, method, steps, &div_times, &div_amounts)?;
    let views = operand_views(py, &kind, &spot, &strike, &expiry, &vol, &rate, &div)?;
    let ops = BroadcastOperands::new(&views).map_err(|e| to_py_err(py, e, &[]))?;
    let shape = ops.shape().to_vec();
    let arrays = fresh_outputs(py, &shape, set.len());
    let result = {
        let mut slices = output_slices(&arrays)?;
        py.detach(|| american::evaluate(model, &method, &divs, set, policy(nan), &ops, &mut slices))
    };
    result.map_err(|e| to_py_err(py, e, &shape))?;
    PyList::new(py, arrays)
}

/// American implied vols and status codes over broadcast float64 arrays.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (model, method, steps, div_times, div_amounts, premium, kind, spot, strike, expiry, rate, div, nan))]
fn american_implied_vol_arrays<'py>(
    py: Python<'py>,
    model: &str,
    method: Option<&str>,
    steps: Option<usize>,
    div_times: Vec<f64>,
    div_amounts: Vec<f64>,
    premium: PyReadonlyArrayDyn<'py, f64>,
    kind: KindArray<'py>,
    spot: PyReadonlyArrayDyn<'py, f64>,
    strike: PyReadonlyArrayDyn<'py, f64>,
    expiry: PyReadonlyArrayDyn<'py, f64>,
    rate: PyReadonlyArrayDyn<'py, f64>,
    div: PyReadonlyArrayDyn<'py, f64>,
    nan: bool,
) -> PyResult<VolsAndStatus<'py>> {
    let model = parse_model(py, model)?;
    let (method, divs) = american_method(py, method, steps, &div_times, &div_amounts)?;
    let views = operand_views(py, &kind, &spot, &strike, &expiry, &premium, &rate, &div)?;
    let ops = BroadcastOperands::new(&views).map_err(|e| to_py_err(py, e, &[]))?;
    let shape = ops.shape().to_vec();
    let vols = unsafe { PyArrayDyn::<f64>::new(py, shape.clone(), false) };
    let status = unsafe { PyArrayDyn::<u8>::new(py, shape.clone(), false) };
    let result = {
        // SAFETY: both arrays were just created by us, are C-contiguous and not shared yet.
        let v = unsafe { vols.as_slice_mut() }
            .map_err(|e| PyValueError::new_err(format!("internal: {e}")))?;
        let st = unsafe { status.as_slice_mut() }
            .map_err(|e| PyValueError::new_err(format!("internal: {e}")))?;
        py.detach(|| american::implied_vol(model, &method, &divs, policy(nan), &ops, v, st))
    };
    result
        .map_err(|e| to_py_err(py, e, &shape))
        .map(|_| (vols, status))
}

/// The exercise boundary of one American option at the given times to expiry.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (model, method, kind, spot, strike, expiry, vol, rate, div, times))]
fn exercise_boundary<'py>(
    py: Python<'py>,
    model: &str,
    method: Option<&str>,
    kind: f64,
    spot: f64,
    strike: f64,
    expiry: f64,
    vol: f64,
    rate: f64,
    div: f64,
    times: PyReadonlyArrayDyn<'py, f64>,
) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    let model = parse_model(py, model)?;
    let method = american::Method::parse(method, None).map_err(|e| to_py_err(py, e, &[]))?;
    let taus: Vec<f64> = times.as_array().iter().copied().collect();
    let shape = times.shape().to_vec();
    let mut out = vec![0.0; taus.len()];
    let x = [kind, spot, strike, expiry, vol, rate, div];
    py.detach(|| american::exercise_boundary(model, &method, x, &taus, &mut out))
        .map_err(|e| to_py_err(py, e, &[]))?;
    let arr = numpy::PyArray1::from_vec(py, out);
    arr.reshape(shape)
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
    check_ndims(py, &[x.ndim()])?;
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
    m.add_function(wrap_pyfunction!(price, m)?)?;
    m.add_function(wrap_pyfunction!(greeks, m)?)?;
    m.add_function(wrap_pyfunction!(evaluate_arrays, m)?)?;
    m.add_function(wrap_pyfunction!(implied_vol_arrays, m)?)?;
    m.add_function(wrap_pyfunction!(american_arrays, m)?)?;
    m.add_function(wrap_pyfunction!(american_implied_vol_arrays, m)?)?;
    m.add_function(wrap_pyfunction!(exercise_boundary, m)?)?;
    surface::register(m)?;
    package::register(m)?;
    paths::register(m)?;
    screen::register(m)?;
    scenario::register(m)?;
    m.add_function(wrap_pyfunction!(norm_cdf, m)?)?;
    m.add_function(wrap_pyfunction!(norm_pdf, m)?)?;
    m.add_function(wrap_pyfunction!(simd_level, m)?)?;
    m.add_function(wrap_pyfunction!(pool::buffer_pool, m)?)?;
    m.add_class::<pool::PooledBuffer>()?;
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
    let statuses: Vec<(u8, &str)> = strikegrid_core::implied::Status::ALL
        .iter()
        .map(|s| (*s as u8, s.describe()))
        .collect();
    m.add("IV_STATUS", statuses)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

//! Binding of the strategy screener (`strikegrid_core::screen`).

use numpy::{PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use strikegrid_core::package::Measure;
use strikegrid_core::screen::{self, Config, Filters, Quotes, Strategy, METRICS};

use crate::package::contiguous;
use crate::surface::SurfaceArrays;
use crate::to_py_err;

/// Screens a chain for one strategy (see `strikegrid_core::screen`).
///
/// `filters` is `(dte_lo, dte_hi, abs_delta_lo, abs_delta_hi, width_lo, width_hi, min_credit,
/// min_pop, min_open_interest, min_volume, max_rel_spread)` with infinities for "off". Returns a
/// dict: `rows` (n, 4) int64 chain rows of the legs (long put, short put, short call, long
/// call; -1 where unused), `metrics` (n, len(METRICS)) float64, `names` the metric names,
/// `generated` and `passed` counts.
#[pyfunction]
#[pyo3(signature = (
    spot, ts, log_forward, log_discount, params,
    kind, strike, expiry, bid, ask, volume, open_interest,
    strategy, filters, rank, ascending, top, per_expiry, natural, real_world, multiplier,
))]
#[allow(clippy::too_many_arguments)]
fn screen_chain<'py>(
    py: Python<'py>,
    spot: f64,
    ts: PyReadonlyArray1<'py, f64>,
    log_forward: PyReadonlyArray1<'py, f64>,
    log_discount: PyReadonlyArray1<'py, f64>,
    params: PyReadonlyArray2<'py, f64>,
    kind: PyReadonlyArray1<'py, f64>,
    strike: PyReadonlyArray1<'py, f64>,
    expiry: PyReadonlyArray1<'py, f64>,
    bid: PyReadonlyArray1<'py, f64>,
    ask: PyReadonlyArray1<'py, f64>,
    volume: PyReadonlyArray1<'py, f64>,
    open_interest: PyReadonlyArray1<'py, f64>,
    strategy: &str,
    filters: [f64; 11],
    rank: &str,
    ascending: bool,
    top: usize,
    per_expiry: bool,
    natural: bool,
    real_world: Option<(f64, f64)>,
    multiplier: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let err = |e| to_py_err(py, e, &[]);
    let surface = SurfaceArrays::new(&ts, &log_forward, &log_discount, &params)?;
    let market = surface.market(spot);
    let quotes = Quotes {
        kind: contiguous(py, &kind, "kind")?,
        strike: contiguous(py, &strike, "strike")?,
        expiry: contiguous(py, &expiry, "expiry")?,
        bid: contiguous(py, &bid, "bid")?,
        ask: contiguous(py, &ask, "ask")?,
        volume: contiguous(py, &volume, "volume")?,
        open_interest: contiguous(py, &open_interest, "open_interest")?,
    };
    let [d0, d1, a0, a1, w0, w1, min_credit, min_pop, min_oi, min_vol, max_spread] = filters;
    let config = Config {
        strategy: Strategy::parse(strategy).map_err(err)?,
        filters: Filters {
            dte: (d0, d1),
            abs_delta: (a0, a1),
            width: (w0, w1),
            min_credit,
            min_pop,
            min_open_interest: min_oi,
            min_volume: min_vol,
            max_rel_spread: max_spread,
        },
        rank: screen::metric(rank).map_err(err)?,
        ascending,
        top,
        per_expiry,
        natural,
        measure: match real_world {
            None => Measure::RiskNeutral,
            Some((drift, vol)) => Measure::RealWorld { drift, vol },
        },
        multiplier,
    };
    let result = py
        .detach(|| screen::screen(&market, &quotes, &config))
        .map_err(err)?;
    let n = result.candidates.len();
    let rows: Vec<Vec<i64>> = result
        .candidates
        .iter()
        .map(|c| {
            c.rows
                .iter()
                .map(|&r| if r == u32::MAX { -1 } else { i64::from(r) })
                .collect()
        })
        .collect();
    let metrics: Vec<Vec<f64>> = result
        .candidates
        .iter()
        .map(|c| c.metrics.to_vec())
        .collect();
    let dict = PyDict::new(py);
    let internal =
        |e: numpy::FromVecError| pyo3::exceptions::PyValueError::new_err(format!("internal: {e}"));
    let rows_arr = if n == 0 {
        PyArray2::<i64>::zeros(py, [0, 4], false)
    } else {
        PyArray2::from_vec2(py, &rows).map_err(internal)?
    };
    let metrics_arr = if n == 0 {
        PyArray2::<f64>::zeros(py, [0, METRICS.len()], false)
    } else {
        PyArray2::from_vec2(py, &metrics).map_err(internal)?
    };
    dict.set_item("rows", rows_arr)?;
    dict.set_item("metrics", metrics_arr)?;
    dict.set_item("names", METRICS.to_vec())?;
    dict.set_item("generated", result.generated)?;
    dict.set_item("passed", result.passed)?;
    Ok(dict)
}

/// Adds this module's functions to `strikegrid._core`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(screen_chain, m)?)?;
    Ok(())
}

//! Bindings of the volatility-surface kernels (SVI, SSVI).

use pyo3::prelude::*;

/// Adds this module's functions to `strikegrid._core`.
pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}

//! strikegrid-core: option pricing kernels in pure Rust (no Python).
//!
//! Conventions (the project's public contract): time in years, rates and yields continuously
//! compounded decimals, vol as a decimal; `kind` is +1 for a call and -1 for a put; greeks are
//! raw partial derivatives (see [`greeks::Greek`]). Kernels take slices and write slices;
//! broadcasting and strides belong to the caller (see [`european::Operands`]).
//!
//! ```
//! use strikegrid_core::{european, Model, OnInvalid};
//! let p = european::price_one(Model::Bsm, 1.0, 100.0, 100.0, 1.0, 0.2, 0.0, 0.0, OnInvalid::Raise)
//!     .unwrap();
//! assert!((p - 7.965_567_455_405_804).abs() < 1e-12);
//! ```

pub mod american;
pub mod bachelier;
pub mod black;
pub mod dispatch;
pub mod error;
pub mod european;
pub mod fastmath;
pub mod greeks;
pub mod implied;
pub mod model;
pub mod normal;
pub mod package;
pub mod paths;
pub mod quadrature;
pub mod scenario;
pub mod screen;
pub mod special;
pub mod ssvi;
pub mod svi;
pub mod svi_surface;
pub mod tile;
pub mod validate;

pub use error::{Error, Result};
pub use european::{OnInvalid, Operands, SliceOperands};
pub use greeks::{Greek, GreekSet};
pub use model::Model;

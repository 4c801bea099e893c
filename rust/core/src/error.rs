//! The one error type of the core crate.

use thiserror::Error;

/// Everything that can go wrong in a core call. Per-element problems carry the argument name
/// and the flat index of the first offending element (in the broadcast order of the call).
#[derive(Debug, Clone, PartialEq, Error)]
pub enum Error {
    /// An element of an input is outside the model's domain (negative vol, NaN, ...).
    #[error("{arg}: {reason} at index {index}")]
    InvalidInput {
        /// Argument name as in the public API (`spot`, `vol`, ...).
        arg: &'static str,
        /// Flat index of the first offending element.
        index: usize,
        /// What is wrong, with the offending value.
        reason: String,
    },
    /// A name that is not one of the accepted ones (model, greek, ...).
    #[error("unknown {what} {name:?}; expected one of {expected}")]
    Unknown {
        /// What kind of name (`model`, `greek`).
        what: &'static str,
        /// The name given.
        name: String,
        /// The accepted names.
        expected: &'static str,
    },
    /// Slices or shapes that do not fit together.
    #[error("{0}")]
    Shape(String),
    /// A request that is well formed but not defined for the chosen model.
    #[error("{0}")]
    Unsupported(String),
}

/// Result alias of the core crate.
pub type Result<T> = std::result::Result<T, Error>;

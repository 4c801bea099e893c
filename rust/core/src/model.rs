//! The pricing models and what each expects of its inputs.

use crate::error::{Error, Result};

/// A European option pricing model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Model {
    /// Black–Scholes–Merton on a spot with continuous dividend yield `div`.
    Bsm,
    /// Black (1976) on a forward/futures price (passed as `spot`); `div` must be 0.
    Black76,
    /// Bachelier (normal) model on the forward; `vol` is the normal vol in price units per
    /// sqrt-year; forward and strike may be zero or negative.
    Bachelier,
    /// Coin-settled ("inverse") option on a future, as Deribit lists BTC/ETH options: the call
    /// pays max(F_T - K, 0)/F_T coins, the premium is in coins. Lognormal future.
    Inverse,
}

impl Model {
    /// All models, in a fixed order.
    pub const ALL: [Model; 4] = [Model::Bsm, Model::Black76, Model::Bachelier, Model::Inverse];

    /// Parses a model name (case-insensitive; `black` is accepted for `black76`,
    /// `normal` for `bachelier`).
    pub fn parse(name: &str) -> Result<Model> {
        // The canonical spellings first: no allocation on the scalar fast path.
        match name {
            "bsm" => return Ok(Model::Bsm),
            "black76" => return Ok(Model::Black76),
            "bachelier" => return Ok(Model::Bachelier),
            "inverse" => return Ok(Model::Inverse),
            _ => {}
        }
        match name.to_ascii_lowercase().as_str() {
            "bsm" | "black_scholes" | "black-scholes" | "blackscholes" => Ok(Model::Bsm),
            "black76" | "black" | "black-76" => Ok(Model::Black76),
            "bachelier" | "normal" => Ok(Model::Bachelier),
            "inverse" => Ok(Model::Inverse),
            _ => Err(Error::Unknown {
                what: "model",
                name: name.to_string(),
                expected: "'bsm', 'black76', 'bachelier', 'inverse'",
            }),
        }
    }

    /// The canonical name.
    pub fn name(self) -> &'static str {
        match self {
            Model::Bsm => "bsm",
            Model::Black76 => "black76",
            Model::Bachelier => "bachelier",
            Model::Inverse => "inverse",
        }
    }

    /// Whether the model needs a strictly positive spot/forward and strike.
    pub fn needs_positive_prices(self) -> bool {
        !matches!(self, Model::Bachelier)
    }

    /// Whether `div` is an input of the model (only `bsm`); the others take a forward.
    pub fn takes_div(self) -> bool {
        matches!(self, Model::Bsm)
    }
}

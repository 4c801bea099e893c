//! American exercise under Black–Scholes–Merton dynamics (`bsm`; `black76` is the same with
//! cost of carry 0, i.e. `div = rate` on the futures price).
//!
//! Engines (see [`batch::Method`]):
//! * [`alo`]: Andersen, Lake & Offengenden (2016), "High-performance American option pricing":
//!   the exercise boundary from a fixed-point system on Chebyshev nodes, the price from the
//!   early-exercise premium integral. The default, with accuracy presets.
//! * [`baw`]: Barone-Adesi & Whaley (1987) quadratic approximation.
//! * [`bjerksund_stensland`]: Bjerksund & Stensland (2002) two-step flat-boundary approximation
//!   (and their 1993 one-step version, which QuantLib implements).
//! * [`lattice`]: Leisen & Reimer (1996) binomial tree, with discrete cash dividends.
//!
//! Calls are priced through the McDonald–Schröder (1998) symmetry
//! `C(S, K, r, q, vol) = P(K, S, q, r, vol)` wherever an engine is written for puts.

pub mod alo;
pub mod batch;
pub mod baw;
pub mod bjerksund_stensland;
pub mod lattice;

pub use batch::{evaluate, exercise_boundary, implied_vol, Method};

use crate::fastmath::Plain;
use crate::normal::cdf_pdf;

/// One American option. `phi` is +1 for a call, -1 for a put; time in years, rates and
/// yields continuously compounded. Engines assume validated inputs: spot, strike, expiry and
/// vol strictly positive and finite, rate and div finite.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Contract {
    pub phi: f64,
    pub spot: f64,
    pub strike: f64,
    pub expiry: f64,
    pub vol: f64,
    pub rate: f64,
    pub div: f64,
}

/// A discrete cash dividend: paid at `time` (years from now), `amount` in price units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dividend {
    pub time: f64,
    pub amount: f64,
}

impl Contract {
    /// Whether this is a call.
    #[inline]
    pub fn is_call(&self) -> bool {
        self.phi > 0.0
    }

    /// Exercise value now.
    #[inline]
    pub fn intrinsic(&self) -> f64 {
        (self.phi * (self.spot - self.strike)).max(0.0)
    }

    /// The put with the same value as this call (McDonald–Schröder symmetry), or the call with
    /// the same value as this put: spot and strike swapped, rate and div swapped.
    #[inline]
    pub fn symmetric(&self) -> Contract {
        Contract {
            phi: -self.phi,
            spot: self.strike,
            strike: self.spot,
            expiry: self.expiry,
            vol: self.vol,
            rate: self.div,
            div: self.rate,
        }
    }

    /// The European value (Black–Scholes–Merton closed form).
    #[inline]
    pub fn european(&self) -> f64 {
        alo::european_value(self, false).price
    }

    /// Whether early exercise is never optimal, so the American value is the European one: a
    /// put with `rate <= 0` and `rate <= div`, or (by the symmetry) a call with `div <= 0` and
    /// `div <= rate`. A put with `div < rate < 0` has two exercise boundaries (Battauz, De Donno
    /// & Sbuelz 2015), a regime only the lattice handles.
    #[inline]
    pub fn never_exercised(&self) -> bool {
        let (r, q) = if self.is_call() {
            (self.div, self.rate)
        } else {
            (self.rate, self.div)
        };
        r <= 0.0 && r <= q
    }
}

/// Standard normal CDF (accurate in both tails, see [`crate::normal`]).
#[inline]
pub(crate) fn ncdf(x: f64) -> f64 {
    cdf_pdf::<Plain>(x).0
}

/// Standard normal density (the crate's, with the exactly split Gaussian exponent).
#[inline]
pub(crate) fn npdf(x: f64) -> f64 {
    crate::normal::pdf::<Plain>(x)
}

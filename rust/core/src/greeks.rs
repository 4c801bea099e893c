//! Names and selection of the outputs a greeks call can compute.

use crate::error::{Error, Result};
use crate::model::Model;

/// One output of a greeks call. All are raw partial derivatives of the premium `V`:
/// delta = dV/dS, gamma = d2V/dS2, vega = dV/dvol, theta = -dV/dT (per year of calendar time),
/// rho = dV/drate, epsilon = dV/ddiv, vanna = d2V/dS dvol, volga = d2V/dvol2,
/// charm = -d2V/dS dT, dual_delta = dV/dK, dual_gamma = d2V/dK2, where S is the model's
/// underlying input (spot for `bsm`, forward for the others).
/// `DeltaPa` is the premium-adjusted delta of coin-settled options (`inverse` only):
/// F dV/dF, the coin amount of future that hedges one option, as crypto venues show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Greek {
    Price = 0,
    Delta,
    Gamma,
    Vega,
    Theta,
    Rho,
    Epsilon,
    Vanna,
    Volga,
    Charm,
    DualDelta,
    DualGamma,
    DeltaPa,
}

impl Greek {
    /// The twelve outputs every model has, in the documented order.
    pub const STANDARD: [Greek; 12] = [
        Greek::Price,
        Greek::Delta,
        Greek::Gamma,
        Greek::Vega,
        Greek::Theta,
        Greek::Rho,
        Greek::Epsilon,
        Greek::Vanna,
        Greek::Volga,
        Greek::Charm,
        Greek::DualDelta,
        Greek::DualGamma,
    ];

    /// The public name.
    pub fn name(self) -> &'static str {
        match self {
            Greek::Price => "price",
            Greek::Delta => "delta",
            Greek::Gamma => "gamma",
            Greek::Vega => "vega",
            Greek::Theta => "theta",
            Greek::Rho => "rho",
            Greek::Epsilon => "epsilon",
            Greek::Vanna => "vanna",
            Greek::Volga => "volga",
            Greek::Charm => "charm",
            Greek::DualDelta => "dual_delta",
            Greek::DualGamma => "dual_gamma",
            Greek::DeltaPa => "delta_pa",
        }
    }

    /// Parses a public name.
    pub fn parse(name: &str) -> Result<Greek> {
        Greek::STANDARD
            .iter()
            .chain(std::iter::once(&Greek::DeltaPa))
            .copied()
            .find(|g| g.name() == name)
            .ok_or_else(|| Error::Unknown {
                what: "greek",
                name: name.to_string(),
                expected: "'price', 'delta', 'gamma', 'vega', 'theta', 'rho', 'epsilon', \
                           'vanna', 'volga', 'charm', 'dual_delta', 'dual_gamma' \
                           (and 'delta_pa' for model='inverse')",
            })
    }

    fn bit(self) -> u16 {
        1 << (self as u8)
    }
}

/// A set of greeks to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GreekSet(u16);

impl GreekSet {
    /// The empty set.
    pub const fn empty() -> GreekSet {
        GreekSet(0)
    }

    /// The twelve standard outputs.
    pub fn standard() -> GreekSet {
        Greek::STANDARD.iter().copied().collect()
    }

    /// Whether `g` is in the set.
    #[inline]
    pub fn has(self, g: Greek) -> bool {
        self.0 & g.bit() != 0
    }

    /// Adds `g`.
    pub fn insert(&mut self, g: Greek) {
        self.0 |= g.bit();
    }

    /// The members in canonical order.
    pub fn to_vec(self) -> Vec<Greek> {
        Greek::STANDARD
            .iter()
            .chain(std::iter::once(&Greek::DeltaPa))
            .copied()
            .filter(|g| self.has(*g))
            .collect()
    }

    /// Number of members.
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Checks that every member is defined for `model`.
    pub fn check_model(self, model: Model) -> Result<()> {
        if self.has(Greek::DeltaPa) && model != Model::Inverse {
            return Err(Error::Unsupported(format!(
                "which: 'delta_pa' (the premium-adjusted delta of coin-settled options) is \
                 defined for model='inverse' only, not '{}'",
                model.name()
            )));
        }
        Ok(())
    }
}

impl FromIterator<Greek> for GreekSet {
    fn from_iter<I: IntoIterator<Item = Greek>>(iter: I) -> Self {
        let mut s = GreekSet::empty();
        for g in iter {
            s.insert(g);
        }
        s
    }
}

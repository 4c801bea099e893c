//! The small three-slice SVI surface the package and scenario tests value against.

use strikegrid_core::package::Market;
use strikegrid_core::svi::RawSvi;
use strikegrid_core::svi_surface::Slices;

pub const TS: [f64; 3] = [0.1, 0.5, 1.0];
pub const LOG_F: [f64; 3] = [4.6058, 4.6102, 4.6152];
pub const LOG_DF: [f64; 3] = [-0.002, -0.011, -0.023];
pub const PARAMS: [RawSvi; 3] = [
    RawSvi {
        a: 0.002,
        b: 0.03,
        rho: -0.6,
        m: 0.01,
        sigma: 0.08,
    },
    RawSvi {
        a: 0.012,
        b: 0.07,
        rho: -0.55,
        m: 0.02,
        sigma: 0.15,
    },
    RawSvi {
        a: 0.025,
        b: 0.1,
        rho: -0.5,
        m: 0.03,
        sigma: 0.2,
    },
];
pub const SPOT: f64 = 100.0;

pub fn market() -> Market<'static> {
    Market {
        spot: SPOT,
        slices: Slices {
            ts: &TS,
            log_forward: &LOG_F,
            params: &PARAMS,
        },
        log_discount: &LOG_DF,
    }
}

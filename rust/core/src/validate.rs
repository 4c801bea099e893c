//! What each model accepts as input, checked per element without branches in the hot loop,
//! and described in words for error messages.

use crate::model::Model;
use crate::tile::{Arg, Tile};

/// Whether one option's inputs are in the model's domain.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn is_valid(model: Model, kind: f64, s: f64, k: f64, t: f64, v: f64, r: f64, q: f64) -> bool {
    let kind_ok = (kind == 1.0) | (kind == -1.0);
    let finite = s.is_finite()
        & k.is_finite()
        & t.is_finite()
        & v.is_finite()
        & r.is_finite()
        & q.is_finite();
    let prices_ok = if model.needs_positive_prices() {
        (s > 0.0) & (k > 0.0)
    } else {
        true
    };
    let div_ok = model.takes_div() | (q == 0.0);
    kind_ok & finite & prices_ok & div_ok & (t >= 0.0) & (v >= 0.0)
}

/// The number of invalid options of `tile`: a reduction without stores, so the common all-valid
/// tile costs one vectorised pass (callers mark the invalid ones only when it is not 0).
#[inline(always)]
pub fn count_invalid(model: Model, tile: &Tile) -> usize {
    match model {
        Model::Bsm => count_invalid_of(Model::Bsm, tile),
        Model::Black76 => count_invalid_of(Model::Black76, tile),
        Model::Bachelier => count_invalid_of(Model::Bachelier, tile),
        Model::Inverse => count_invalid_of(Model::Inverse, tile),
    }
}

/// [`count_invalid`] for one model known at compile time (after inlining).
#[inline(always)]
fn count_invalid_of(model: Model, tile: &Tile) -> usize {
    let n = tile.len();
    let (kind, s, k, t) = (
        &tile.kind[..n],
        &tile.spot[..n],
        &tile.strike[..n],
        &tile.expiry[..n],
    );
    let (v, r, q) = (&tile.vol[..n], &tile.rate[..n], &tile.div[..n]);
    let mut bad = 0u64;
    for i in 0..n {
        bad += u64::from(!is_valid(
            model, kind[i], s[i], k[i], t[i], v[i], r[i], q[i],
        ));
    }
    bad as usize
}

/// Marks each option of `tile` valid or not; returns the number of invalid ones (the rare path
/// after [`count_invalid`] found some).
pub fn mark(model: Model, tile: &Tile, valid: &mut [bool]) -> usize {
    let mut bad = 0usize;
    for (i, ok) in valid[..tile.len()].iter_mut().enumerate() {
        let [kind, s, k, t, v, r, q] = tile.at(i);
        *ok = is_valid(model, kind, s, k, t, v, r, q);
        bad += usize::from(!*ok);
    }
    bad
}

/// Why one option's inputs are invalid: the first offending argument and a reason naming the
/// value. `None` when they are valid.
pub fn describe(model: Model, x: [f64; 7]) -> Option<(Arg, String)> {
    let [kind, s, k, t, v, r, q] = x;
    if !((kind == 1.0) | (kind == -1.0)) {
        return Some((
            Arg::Kind,
            format!(
                "must be a call or a put (+1/-1, 'call'/'put', 'c'/'p', True/False), got {kind}"
            ),
        ));
    }
    let pos = model.needs_positive_prices();
    let what = |name: &str| {
        if pos {
            format!("must be positive and finite for model '{}'", model.name())
        } else {
            format!("must be finite ({name})")
        }
    };
    if !s.is_finite() || (pos && s <= 0.0) {
        return Some((Arg::Spot, format!("{}, got {s}", what("spot/forward"))));
    }
    if !k.is_finite() || (pos && k <= 0.0) {
        return Some((Arg::Strike, format!("{}, got {k}", what("strike"))));
    }
    if !(t.is_finite() && t >= 0.0) {
        return Some((
            Arg::Expiry,
            format!("must be >= 0 and finite (years), got {t}"),
        ));
    }
    if !(v.is_finite() && v >= 0.0) {
        return Some((Arg::Vol, format!("must be >= 0 and finite, got {v}")));
    }
    if !r.is_finite() {
        return Some((Arg::Rate, format!("must be finite, got {r}")));
    }
    if !q.is_finite() {
        return Some((Arg::Div, format!("must be finite, got {q}")));
    }
    if !model.takes_div() && q != 0.0 {
        return Some((
            Arg::Div,
            format!(
                "must be 0 for model '{}' (its spot argument is the forward), got {q}",
                model.name()
            ),
        ));
    }
    None
}

//! What each model accepts as input, checked per element without branches in the hot loop,
//! and described in words for error messages.

use crate::model::Model;
use crate::tile::{Arg, Tile};

/// Whether one option's inputs are in the model's domain.
/// `x` holds kind, spot, strike, expiry, vol, rate, div (public order, as [`describe`]).
#[inline(always)]
pub fn is_valid(model: Model, x: [f64; 7]) -> bool {
    // s > 0 is s >= the smallest subnormal.
    is_valid_above(model, x, f64::from_bits(1))
}

/// [`is_valid`], with spot and strike (where the model needs them positive) required to be at
/// least `min_price` instead of positive: `f64::MIN_POSITIVE` also rules out subnormal ones
/// at no extra cost, for kernels whose fast form needs normal numbers.
#[inline(always)]
pub fn is_valid_above(model: Model, x: [f64; 7], min_price: f64) -> bool {
    let [kind, s, k, t, v, r, q] = x;
    let kind_ok = (kind == 1.0) | (kind == -1.0);
    let finite = s.is_finite()
        & k.is_finite()
        & t.is_finite()
        & v.is_finite()
        & r.is_finite()
        & q.is_finite();
    let prices_ok = if model.needs_positive_prices() {
        (s >= min_price) & (k >= min_price)
    } else {
        true
    };
    let div_ok = model.takes_div() | (q == 0.0);
    kind_ok & finite & prices_ok & div_ok & (t >= 0.0) & (v >= 0.0)
}

/// Marks each option of `tile` valid or not; returns the number of invalid ones (the rare path,
/// after a kernel's own count found some).
pub fn mark(model: Model, tile: &Tile, valid: &mut [bool]) -> usize {
    let mut bad = 0usize;
    for (i, ok) in valid[..tile.len()].iter_mut().enumerate() {
        *ok = is_valid(model, tile.at(i));
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

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
/// least `min_price` instead of positive: the exact counterpart of [`may_be_invalid`], whose
/// `f64::MIN_POSITIVE` also rules out subnormal ones for kernels whose fast form needs normal
/// numbers.
#[inline(always)]
fn is_valid_above(model: Model, x: [f64; 7], min_price: f64) -> bool {
    let [kind, s, k, t, v, r, q] = x;
    let kind_ok = (kind == 1.0) | (kind == -1.0);
    let finite = s.is_finite()
        & k.is_finite()
        & t.is_finite()
        & v.is_finite()
        & r.is_finite()
        & q.is_finite();
    kind_ok & finite & bounds_ok(model, x, min_price)
}

/// A cheap superset of `!is_valid_above(model, x, min_price)` for the kernels' count of
/// invalid options: the same tests, but finiteness from one sum (a NaN or infinite input makes
/// it NaN or infinite; finite inputs near `f64::MAX` whose sum overflows are counted too) and
/// the kind from `kind^2 == 1`, which holds for +-1 alone. About twenty fewer instructions per
/// four options in the set-up loop; a tile it counts is then checked option by option by
/// [`mark`], which is exact.
#[inline(always)]
pub fn may_be_invalid(model: Model, x: [f64; 7], min_price: f64) -> bool {
    let [kind, s, k, t, v, r, q] = x;
    let kind_ok = kind * kind == 1.0;
    let finite = (((s + k) + (t + v)) + (r + q)).abs() < f64::INFINITY;
    !(kind_ok & finite & bounds_ok(model, x, min_price))
}

/// The domain tests other than the kind and finiteness, shared by [`is_valid_above`] and
/// [`may_be_invalid`]: positive prices where the model needs them (at least `min_price`), no
/// dividend yield where it takes none, expiry and vol not negative (false for NaN).
#[inline(always)]
fn bounds_ok(model: Model, x: [f64; 7], min_price: f64) -> bool {
    let [_, s, k, t, v, _, q] = x;
    let prices_ok = if model.needs_positive_prices() {
        (s >= min_price) & (k >= min_price)
    } else {
        true
    };
    let div_ok = model.takes_div() | (q == 0.0);
    prices_ok & div_ok & (t >= 0.0) & (v >= 0.0)
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

#[cfg(test)]
mod tests {
    use super::*;

    const MODELS: [Model; 4] = [Model::Bsm, Model::Black76, Model::Bachelier, Model::Inverse];

    /// Values that sit on or next to every boundary the tests draw.
    fn specials() -> Vec<f64> {
        let one_up = f64::from_bits(1.0f64.to_bits() + 1);
        let one_down = f64::from_bits(1.0f64.to_bits() - 1);
        vec![
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.0,
            -0.0,
            f64::from_bits(1),
            -f64::from_bits(1),
            f64::MIN_POSITIVE,
            f64::from_bits(f64::MIN_POSITIVE.to_bits() - 1),
            1.0,
            -1.0,
            one_up,
            one_down,
            -one_up,
            -one_down,
            0.5,
            2.0,
            -3.5,
            100.0,
            1e300,
            -1e300,
            f64::MAX,
            f64::MIN,
        ]
    }

    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *seed >> 11
    }

    #[test]
    fn the_cheap_test_flags_every_invalid_option() {
        let vals = specials();
        let mut seed = 7u64;
        let mut flagged_valid = 0;
        for _ in 0..400_000 {
            let x: [f64; 7] =
                std::array::from_fn(|_| vals[(lcg(&mut seed) % vals.len() as u64) as usize]);
            for model in MODELS {
                for min_price in [f64::from_bits(1), f64::MIN_POSITIVE] {
                    let valid = is_valid_above(model, x, min_price);
                    let flagged = may_be_invalid(model, x, min_price);
                    assert!(valid || flagged, "{model:?} {x:?} {min_price:e}");
                    flagged_valid += usize::from(valid && flagged);
                }
            }
        }
        // Only sums that overflow: valid options with a huge input.
        assert!(flagged_valid > 0);
    }

    #[test]
    fn the_cheap_test_is_exact_below_overflow() {
        let mut seed = 11u64;
        let vals = specials();
        for _ in 0..200_000 {
            // Moderate magnitudes, random signs and special values mixed in.
            let x: [f64; 7] = std::array::from_fn(|_| {
                let u = lcg(&mut seed);
                if u % 5 == 0 {
                    let v = vals[(u / 5 % vals.len() as u64) as usize];
                    if v.abs() > 1e300 && v.is_finite() {
                        1.0
                    } else {
                        v
                    }
                } else {
                    let m = (u % 1_000_000) as f64 / 1000.0;
                    if u % 3 == 0 {
                        -m
                    } else {
                        m
                    }
                }
            });
            for model in MODELS {
                for min_price in [f64::from_bits(1), f64::MIN_POSITIVE] {
                    assert_eq!(
                        may_be_invalid(model, x, min_price),
                        !is_valid_above(model, x, min_price),
                        "{model:?} {x:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_kind_must_be_exactly_plus_or_minus_one() {
        let good = [1.0, 100.0, 100.0, 1.0, 0.2, 0.01, 0.0];
        assert!(!may_be_invalid(Model::Bsm, good, f64::MIN_POSITIVE));
        let mut x = good;
        x[0] = -1.0;
        assert!(!may_be_invalid(Model::Bsm, x, f64::MIN_POSITIVE));
        let near_one = [
            f64::from_bits(1.0f64.to_bits() + 1),
            f64::from_bits(1.0f64.to_bits() - 1),
            f64::from_bits(1.0f64.to_bits() + 2),
            f64::from_bits(1.0f64.to_bits() - 2),
        ];
        for k in near_one.into_iter().flat_map(|k| [k, -k]) {
            x[0] = k;
            assert!(may_be_invalid(Model::Bsm, x, f64::MIN_POSITIVE), "{k:e}");
        }
    }
}

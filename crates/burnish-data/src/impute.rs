//! Filling missing values, as scikit-learn's `SimpleImputer` does.
//!
//! One strategy, [`NumericImputation`], is set per experiment (`missing = "median"`). Numeric
//! columns use it as it says. Categorical columns cannot have a mean or a median: under `mean`,
//! `median` and `most_frequent` they are filled with their most frequent category, and under
//! `constant` with the category `"missing_value"` (scikit-learn's default fill for strings).
//! Under `drop` rows with a missing value are removed before fitting
//! ([`crate::Table::without_missing`]) and nothing is imputed.
//!
//! Statistics are computed in `f64` over the non-missing values of the training rows. A column
//! with no value at all in the training rows is filled with 0 (scikit-learn's
//! `keep_empty_features=True`), so that the feature count never depends on the split. This
//! module computes statistics; it does not read files.

use serde::{Deserialize, Serialize};

/// How missing values are handled; the TOML names are `"drop"`, `"mean"`, `"median"`,
/// `"most_frequent"` and `"constant"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumericImputation {
    /// Drop every row with a missing value (see [`crate::Table::without_missing`]).
    Drop,
    /// The mean of the column.
    Mean,
    /// The median of the column (the mean of the two middle values for an even count).
    #[default]
    Median,
    /// The most frequent value; ties go to the smallest value.
    MostFrequent,
    /// A fixed value: `PreprocessConfig::fill_value`, 0 when unset.
    Constant,
}

/// The category that fills categorical gaps under [`NumericImputation::Constant`].
pub const CONSTANT_CATEGORY: &str = "missing_value";

/// The value that fills a numeric column's gaps, from its values (NaN = missing).
///
/// Returns `None` for [`NumericImputation::Drop`], which fills nothing.
///
/// ```
/// use burnish_data::{NumericImputation, numeric_fill_value};
/// let values = [1.0, f64::NAN, 3.0, 10.0];
/// assert_eq!(numeric_fill_value(&values, NumericImputation::Median, None), Some(3.0));
/// assert_eq!(numeric_fill_value(&values, NumericImputation::Constant, Some(-1.0)), Some(-1.0));
/// ```
pub fn numeric_fill_value(
    values: &[f64],
    strategy: NumericImputation,
    constant: Option<f64>,
) -> Option<f64> {
    let present = || values.iter().copied().filter(|value| !value.is_nan());
    let fill = match strategy {
        NumericImputation::Drop => return None,
        NumericImputation::Constant => constant.unwrap_or(0.0),
        NumericImputation::Mean => mean(present()),
        NumericImputation::Median => {
            let mut present: Vec<f64> = present().collect();
            median(&mut present)
        }
        NumericImputation::MostFrequent => {
            let mut sorted: Vec<f64> = present().collect();
            sorted.sort_unstable_by(f64::total_cmp);
            most_frequent_of_sorted(&sorted)
        }
    };
    Some(if fill.is_finite() { fill } else { 0.0 })
}

/// The index of the most frequent code among `codes` (each below `n_categories`, or
/// `missing`), ties going to the code whose name in `names` sorts first; `None` when every
/// code is missing.
pub(crate) fn most_frequent_code(codes: &[u32], names: &[String], missing: u32) -> Option<u32> {
    let mut counts = vec![0_usize; names.len()];
    for &code in codes {
        if code != missing {
            counts[code as usize] += 1;
        }
    }
    let mut best: Option<u32> = None;
    for (code, &count) in counts.iter().enumerate() {
        if count == 0 {
            continue;
        }
        let better = match best {
            None => true,
            Some(best) => {
                let best_count = counts[best as usize];
                count > best_count || (count == best_count && names[code] < names[best as usize])
            }
        };
        if better {
            best = Some(code as u32);
        }
    }
    best
}

/// The mean, `NaN` for no values; falls back to summing `x / n` when the plain sum overflows.
pub(crate) fn mean(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let (sum, count) = values
        .clone()
        .fold((0.0_f64, 0_usize), |(sum, count), value| {
            (sum + value, count + 1)
        });
    if count == 0 {
        return f64::NAN;
    }
    let n = count as f64;
    if sum.is_finite() {
        sum / n
    } else {
        values.map(|value| value / n).sum()
    }
}

/// The median in linear time; reorders `values`.
fn median(values: &mut [f64]) -> f64 {
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    let (lower, &mut high, _) = values.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        return high;
    }
    // The largest of the lower half is the other middle value.
    let low = lower.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let middle = (low + high) / 2.0;
    if middle.is_finite() {
        middle
    } else {
        low / 2.0 + high / 2.0
    }
}

fn most_frequent_of_sorted(sorted: &[f64]) -> f64 {
    let mut best = f64::NAN;
    let mut best_count = 0;
    let mut start = 0;
    while start < sorted.len() {
        let end = start + sorted[start..].partition_point(|&value| value == sorted[start]);
        // Sorted ascending and replaced only on a strictly larger count: ties keep the smallest.
        if end - start > best_count {
            best_count = end - start;
            best = sorted[start];
        }
        start = end;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_frequent_ties_go_to_the_smallest() {
        let values = [3.0, 1.0, 3.0, 1.0, f64::NAN, 2.0];
        assert_eq!(
            numeric_fill_value(&values, NumericImputation::MostFrequent, None),
            Some(1.0)
        );
    }

    #[test]
    fn median_of_even_count_is_the_middle_mean() {
        let values = [4.0, 1.0, 3.0, 2.0];
        assert_eq!(
            numeric_fill_value(&values, NumericImputation::Median, None),
            Some(2.5)
        );
    }

    #[test]
    fn all_missing_fills_with_zero_and_drop_fills_nothing() {
        let values = [f64::NAN, f64::NAN];
        assert_eq!(
            numeric_fill_value(&values, NumericImputation::Mean, None),
            Some(0.0)
        );
        assert_eq!(
            numeric_fill_value(&values, NumericImputation::Drop, None),
            None
        );
    }

    #[test]
    fn mean_survives_overflow() {
        let values = [f64::MAX, f64::MAX];
        assert_eq!(
            numeric_fill_value(&values, NumericImputation::Mean, None),
            Some(f64::MAX)
        );
    }

    #[test]
    fn most_frequent_category_ties_by_name() {
        let names = vec!["b".to_string(), "a".to_string(), "c".to_string()];
        let codes = [0, 1, 2, 0, 1, u32::MAX];
        assert_eq!(most_frequent_code(&codes, &names, u32::MAX), Some(1));
        assert_eq!(most_frequent_code(&[u32::MAX], &names, u32::MAX), None);
    }
}

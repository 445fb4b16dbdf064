//! Scaling numeric columns, as scikit-learn's `StandardScaler` and `MinMaxScaler` do.
//!
//! Scalers are fitted on the training rows after imputation and apply to numeric columns only
//! (one-hot and ordinal codes are left as they are). A column that is constant in the training
//! rows scales to 0 under both scalers, never to NaN: like scikit-learn, its scale is taken as
//! 1. This module is arithmetic only.

use serde::{Deserialize, Serialize};

use crate::impute::mean;

/// How numeric columns are scaled; the TOML names are `"none"`, `"standard"` and `"minmax"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scaling {
    /// Leave values as they are.
    None,
    /// Subtract the mean and divide by the population standard deviation.
    #[default]
    Standard,
    /// Map the training minimum to 0 and the maximum to 1.
    MinMax,
}

/// A fitted affine map `x -> (x - offset) / scale` for one column.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    /// What is subtracted: the mean (standard) or the minimum (min-max); 0 for none.
    pub offset: f64,
    /// What the difference is divided by: the standard deviation or the range; 1 for none
    /// and for constant columns.
    pub scale: f64,
}

impl Scaler {
    /// The scaler that changes nothing.
    pub const IDENTITY: Scaler = Scaler {
        offset: 0.0,
        scale: 1.0,
    };

    /// Fits the scaling to a column without missing values.
    ///
    /// ```
    /// use burnish_data::{Scaler, Scaling};
    /// let scaler = Scaler::fit(&[1.0, 2.0, 3.0], Scaling::MinMax);
    /// assert_eq!(scaler.apply(2.5), 0.75);
    /// let constant = Scaler::fit(&[5.0, 5.0], Scaling::Standard);
    /// assert_eq!(constant.apply(5.0), 0.0);
    /// ```
    pub fn fit(values: &[f64], scaling: Scaling) -> Scaler {
        match scaling {
            Scaling::None => Scaler::IDENTITY,
            Scaling::Standard => standard(values),
            Scaling::MinMax => min_max(values),
        }
    }

    /// Scales one value.
    pub fn apply(&self, value: f64) -> f64 {
        (value - self.offset) / self.scale
    }
}

fn standard(values: &[f64]) -> Scaler {
    let Some(&first) = values.first() else {
        return Scaler::IDENTITY;
    };
    if values.iter().all(|&value| value == first) {
        // Exactly constant: the rounding of a computed mean must not leave a residue.
        return Scaler {
            offset: first,
            scale: 1.0,
        };
    }
    let mean = mean(values.iter().copied());
    let variance = mean_of_squares(values, mean);
    let n = values.len() as f64;
    // scikit-learn's `_is_constant_feature`: a variance within rounding error of 0 is 0.
    let upper_bound = n * f64::EPSILON * variance + (n * mean * f64::EPSILON).powi(2);
    let scale = if variance <= upper_bound || !variance.is_finite() {
        1.0
    } else {
        variance.sqrt()
    };
    Scaler {
        offset: if mean.is_finite() { mean } else { 0.0 },
        scale,
    }
}

fn mean_of_squares(values: &[f64], mean: f64) -> f64 {
    let n = values.len() as f64;
    let sum: f64 = values.iter().map(|value| (value - mean).powi(2)).sum();
    if sum.is_finite() {
        sum / n
    } else {
        values.iter().map(|value| (value - mean).powi(2) / n).sum()
    }
}

fn min_max(values: &[f64]) -> Scaler {
    let Some(&first) = values.first() else {
        return Scaler::IDENTITY;
    };
    let (min, max) = values.iter().fold((first, first), |(min, max), &value| {
        (min.min(value), max.max(value))
    });
    let range = max - min;
    let scale = if range > 0.0 && range.is_finite() {
        range
    } else {
        1.0
    };
    Scaler { offset: min, scale }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_uses_population_deviation() {
        let scaler = Scaler::fit(&[1.0, 2.0, 3.0, 4.0], Scaling::Standard);
        assert_eq!(scaler.offset, 2.5);
        assert!((scaler.scale - 1.25_f64.sqrt()).abs() < 1e-15);
    }

    #[test]
    fn constant_columns_scale_to_zero() {
        let values = [0.1, 0.1, 0.1];
        for scaling in [Scaling::Standard, Scaling::MinMax] {
            let scaler = Scaler::fit(&values, scaling);
            assert_eq!(scaler.apply(0.1), 0.0, "{scaling:?}");
        }
    }

    #[test]
    fn huge_values_give_finite_scalers() {
        let scaler = Scaler::fit(&[-f64::MAX, f64::MAX], Scaling::Standard);
        assert!(scaler.offset.is_finite() && scaler.scale.is_finite());
        let scaler = Scaler::fit(&[-f64::MAX, f64::MAX], Scaling::MinMax);
        assert!(scaler.offset.is_finite() && scaler.scale.is_finite());
    }
}

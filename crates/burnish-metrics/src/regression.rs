//! Regression metrics on slices of targets and predictions: MSE, RMSE, MAE, R² and explained
//! variance, computed as scikit-learn computes them for a single output.

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::error::{check_not_empty, check_same_length};
use crate::numeric::{numpy_mean, numpy_sum};

/// Every regression metric of one set of predictions.
///
/// ```
/// use burnish_metrics::RegressionMetrics;
///
/// let metrics = RegressionMetrics::new(&[3.0, -0.5, 2.0, 7.0], &[2.5, 0.0, 2.0, 8.0])?;
/// assert_eq!(metrics.mse, 0.375);
/// assert_eq!(metrics.mae, 0.5);
/// # Ok::<(), burnish_metrics::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RegressionMetrics {
    /// Mean squared error.
    pub mse: f64,
    /// Root mean squared error.
    pub rmse: f64,
    /// Mean absolute error.
    pub mae: f64,
    /// Coefficient of determination; NaN with fewer than two samples, where scikit-learn
    /// also returns NaN.
    pub r2: f64,
    /// Explained variance score.
    pub explained_variance: f64,
}

impl RegressionMetrics {
    /// Computes every metric of `y_pred` against `y_true`.
    ///
    /// Returns an error if the slices differ in length or are empty.
    pub fn new(y_true: &[f64], y_pred: &[f64]) -> Result<Self, Error> {
        check_inputs(y_true, y_pred)?;
        let mse = mse_unchecked(y_true, y_pred);
        Ok(Self {
            mse,
            rmse: mse.sqrt(),
            mae: mae_unchecked(y_true, y_pred),
            r2: r2_unchecked(y_true, y_pred),
            explained_variance: explained_variance_unchecked(y_true, y_pred),
        })
    }
}

/// Mean squared error (`mean_squared_error`).
pub fn mean_squared_error(y_true: &[f64], y_pred: &[f64]) -> Result<f64, Error> {
    check_inputs(y_true, y_pred)?;
    Ok(mse_unchecked(y_true, y_pred))
}

/// Root mean squared error (`root_mean_squared_error`).
pub fn root_mean_squared_error(y_true: &[f64], y_pred: &[f64]) -> Result<f64, Error> {
    Ok(mean_squared_error(y_true, y_pred)?.sqrt())
}

/// Mean absolute error (`mean_absolute_error`).
pub fn mean_absolute_error(y_true: &[f64], y_pred: &[f64]) -> Result<f64, Error> {
    check_inputs(y_true, y_pred)?;
    Ok(mae_unchecked(y_true, y_pred))
}

/// Coefficient of determination (`r2_score`): 1 for perfect predictions, 0 for predicting the
/// mean, negative when worse.
///
/// As scikit-learn with `force_finite=True`: a constant `y_true` scores 1 when predicted
/// exactly and 0 otherwise. With fewer than two samples the score is NaN.
pub fn r2_score(y_true: &[f64], y_pred: &[f64]) -> Result<f64, Error> {
    check_inputs(y_true, y_pred)?;
    Ok(r2_unchecked(y_true, y_pred))
}

/// Explained variance (`explained_variance_score`), with scikit-learn's `force_finite=True`.
pub fn explained_variance_score(y_true: &[f64], y_pred: &[f64]) -> Result<f64, Error> {
    check_inputs(y_true, y_pred)?;
    Ok(explained_variance_unchecked(y_true, y_pred))
}

fn check_inputs(y_true: &[f64], y_pred: &[f64]) -> Result<(), Error> {
    check_same_length("y_true", y_true.len(), "y_pred", y_pred.len())?;
    check_not_empty("y_true", y_true.len())
}

fn mse_unchecked(y_true: &[f64], y_pred: &[f64]) -> f64 {
    let squared_errors: Vec<f64> = y_true
        .iter()
        .zip(y_pred)
        .map(|(target, prediction)| {
            let error = target - prediction;
            error * error
        })
        .collect();
    numpy_mean(&squared_errors)
}

fn mae_unchecked(y_true: &[f64], y_pred: &[f64]) -> f64 {
    let absolute_errors: Vec<f64> = y_true
        .iter()
        .zip(y_pred)
        .map(|(target, prediction)| (prediction - target).abs())
        .collect();
    numpy_mean(&absolute_errors)
}

fn r2_unchecked(y_true: &[f64], y_pred: &[f64]) -> f64 {
    if y_true.len() < 2 {
        return f64::NAN;
    }
    let squared_residuals: Vec<f64> = y_true
        .iter()
        .zip(y_pred)
        .map(|(target, prediction)| {
            let residual = target - prediction;
            residual * residual
        })
        .collect();
    let y_true_mean = numpy_mean(y_true);
    let squared_deviations: Vec<f64> = y_true
        .iter()
        .map(|target| {
            let deviation = target - y_true_mean;
            deviation * deviation
        })
        .collect();
    force_finite_score(
        numpy_sum(&squared_residuals),
        numpy_sum(&squared_deviations),
    )
}

fn explained_variance_unchecked(y_true: &[f64], y_pred: &[f64]) -> f64 {
    let differences: Vec<f64> = y_true
        .iter()
        .zip(y_pred)
        .map(|(target, prediction)| target - prediction)
        .collect();
    let difference_mean = numpy_mean(&differences);
    let squared_centered: Vec<f64> = y_true
        .iter()
        .zip(y_pred)
        .map(|(target, prediction)| {
            let centered = target - prediction - difference_mean;
            centered * centered
        })
        .collect();
    let y_true_mean = numpy_mean(y_true);
    let squared_deviations: Vec<f64> = y_true
        .iter()
        .map(|target| {
            let deviation = target - y_true_mean;
            deviation * deviation
        })
        .collect();
    force_finite_score(
        numpy_mean(&squared_centered),
        numpy_mean(&squared_deviations),
    )
}

/// `1 - numerator / denominator`, with scikit-learn's finite replacements when the
/// denominator is zero: 1 for a perfect fit, 0 otherwise.
fn force_finite_score(numerator: f64, denominator: f64) -> f64 {
    if numerator == 0.0 {
        return 1.0;
    }
    if denominator == 0.0 {
        return 0.0;
    }
    1.0 - numerator / denominator
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_targets_score_as_scikit_learn_with_force_finite() {
        assert_eq!(r2_score(&[2.0, 2.0], &[2.0, 2.0]).unwrap(), 1.0);
        assert_eq!(r2_score(&[2.0, 2.0], &[1.0, 2.0]).unwrap(), 0.0);
        assert_eq!(
            explained_variance_score(&[2.0, 2.0], &[1.0, 1.0]).unwrap(),
            1.0
        );
        assert_eq!(
            explained_variance_score(&[2.0, 2.0], &[1.0, 2.0]).unwrap(),
            0.0
        );
    }

    #[test]
    fn r2_of_one_sample_is_nan() {
        let metrics = RegressionMetrics::new(&[1.0], &[2.0]).unwrap();
        assert!(metrics.r2.is_nan());
        assert_eq!(metrics.mse, 1.0);
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(matches!(
            mean_squared_error(&[1.0], &[1.0, 2.0]),
            Err(Error::LengthMismatch { .. })
        ));
        assert_eq!(
            mean_absolute_error(&[], &[]),
            Err(Error::Empty { what: "y_true" })
        );
    }
}

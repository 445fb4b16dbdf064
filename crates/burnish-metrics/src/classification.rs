//! Classification metrics on label slices: accuracy, balanced accuracy, precision, recall,
//! F-beta, Matthews correlation and Cohen's kappa, computed as scikit-learn computes them.
//!
//! Every function counts a confusion matrix once and derives its score from the counts, with
//! the same floating-point operations as scikit-learn so that results agree to the last bit
//! or nearly so.

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::confusion::Tally;
use crate::error::{check_not_empty, check_same_length};
use crate::labels::LabelSet;
use crate::numeric::{numpy_mean, numpy_sum, numpy_weighted_average};

/// What a score is when its denominator is zero, as scikit-learn's `zero_division`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZeroDivision {
    /// scikit-learn's default `"warn"`: scores 0, as [`ZeroDivision::Zero`] (this crate does
    /// not print warnings).
    #[default]
    Warn,
    /// Score 0.
    Zero,
    /// Score 1.
    One,
}

impl ZeroDivision {
    /// The score given to an undefined ratio.
    pub fn value(self) -> f64 {
        match self {
            Self::Warn | Self::Zero => 0.0,
            Self::One => 1.0,
        }
    }
}

/// How per-class scores are combined into one number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Average {
    /// Scores from the summed counts of all classes.
    Micro,
    /// Unweighted mean of the per-class scores.
    Macro,
    /// Mean of the per-class scores weighted by support (true samples per class).
    Weighted,
}

/// Settings of [`precision_recall_fscore`]: the F-beta `beta` and the `zero_division` rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FbetaOptions {
    /// Weight of recall relative to precision; 1 gives F1, 0 gives precision and infinity
    /// gives recall.
    pub beta: f64,
    /// Score of a ratio whose denominator is zero.
    pub zero_division: ZeroDivision,
}

impl Default for FbetaOptions {
    fn default() -> Self {
        Self {
            beta: 1.0,
            zero_division: ZeroDivision::Warn,
        }
    }
}

/// Precision, recall and F-beta score of one class or of an average.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PrecisionRecallFscore {
    /// True positives over predicted positives.
    pub precision: f64,
    /// True positives over actual positives.
    pub recall: f64,
    /// Weighted harmonic mean of precision and recall.
    pub fscore: f64,
}

/// The scores of one label, with its support.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelScores<L> {
    /// The label.
    pub label: L,
    /// Precision, recall and F-beta of this label.
    pub scores: PrecisionRecallFscore,
    /// Number of samples of this label in `y_true`.
    pub support: u64,
}

/// Fraction of predictions equal to the truth (`accuracy_score`).
///
/// ```
/// let accuracy = burnish_metrics::accuracy_score(&["a", "b", "b"], &["a", "b", "a"])?;
/// assert_eq!(accuracy, 2.0 / 3.0);
/// # Ok::<(), burnish_metrics::Error>(())
/// ```
pub fn accuracy_score<L: PartialEq>(y_true: &[L], y_pred: &[L]) -> Result<f64, Error> {
    check_same_length("y_true", y_true.len(), "y_pred", y_pred.len())?;
    check_not_empty("y_true", y_true.len())?;
    let n_correct = y_true
        .iter()
        .zip(y_pred)
        .filter(|(true_label, pred_label)| true_label == pred_label)
        .count();
    Ok(n_correct as f64 / y_true.len() as f64)
}

/// Mean recall over the labels present in `y_true` (`balanced_accuracy_score`); labels that
/// are only predicted do not count.
pub fn balanced_accuracy_score<L: Ord>(y_true: &[L], y_pred: &[L]) -> Result<f64, Error> {
    let tally = tally_of(y_true, y_pred)?;
    Ok(balanced_accuracy_from_tally(&tally))
}

/// Averaged precision, recall and F-beta over the sorted union of labels
/// (`precision_recall_fscore_support` with `average` set).
///
/// ```
/// use burnish_metrics::{Average, FbetaOptions, precision_recall_fscore};
///
/// let y_true = [0, 1, 2, 0, 1, 2];
/// let y_pred = [0, 2, 1, 0, 0, 1];
/// let macro_scores =
///     precision_recall_fscore(&y_true, &y_pred, Average::Macro, &FbetaOptions::default())?;
/// assert!((macro_scores.fscore - 0.26666666666666666).abs() < 1e-15);
/// # Ok::<(), burnish_metrics::Error>(())
/// ```
pub fn precision_recall_fscore<L: Ord>(
    y_true: &[L],
    y_pred: &[L],
    average: Average,
    options: &FbetaOptions,
) -> Result<PrecisionRecallFscore, Error> {
    check_beta(options.beta)?;
    let tally = tally_of(y_true, y_pred)?;
    let n_classes = tally.n_classes();
    Ok(averaged_scores(&tally, n_classes, average, options))
}

/// Precision, recall, F-beta and support of every label, in sorted label order
/// (`precision_recall_fscore_support` with `average=None`).
pub fn precision_recall_fscore_per_class<L: Ord + Clone>(
    y_true: &[L],
    y_pred: &[L],
    options: &FbetaOptions,
) -> Result<Vec<LabelScores<L>>, Error> {
    check_beta(options.beta)?;
    check_same_length("y_true", y_true.len(), "y_pred", y_pred.len())?;
    check_not_empty("y_true", y_true.len())?;
    let label_set = LabelSet::sorted_union(y_true, y_pred);
    let tally = Tally::from_labels(y_true, y_pred, &label_set);
    let true_sums = tally.true_sums();
    Ok(label_set
        .ordered
        .iter()
        .enumerate()
        .map(|(class_idx, &label)| LabelScores {
            label: label.clone(),
            scores: class_scores(&tally, class_idx, options),
            support: true_sums[class_idx],
        })
        .collect())
}

/// Averaged F1 score (`f1_score`).
pub fn f1_score<L: Ord>(
    y_true: &[L],
    y_pred: &[L],
    average: Average,
    zero_division: ZeroDivision,
) -> Result<f64, Error> {
    let options = FbetaOptions {
        beta: 1.0,
        zero_division,
    };
    Ok(precision_recall_fscore(y_true, y_pred, average, &options)?.fscore)
}

/// Matthews correlation coefficient with the multiclass formula of `matthews_corrcoef`;
/// 0 when it is undefined (a single predicted or true label).
pub fn matthews_corrcoef<L: Ord>(y_true: &[L], y_pred: &[L]) -> Result<f64, Error> {
    let tally = tally_of(y_true, y_pred)?;
    Ok(matthews_corrcoef_from_tally(&tally))
}

/// Cohen's kappa between two labelings (`cohen_kappa_score`, unweighted).
///
/// Returns `Ok(None)` when only one label occurs in both, where kappa is undefined (scikit-learn
/// warns and returns NaN).
pub fn cohen_kappa_score<L: Ord>(y_true: &[L], y_pred: &[L]) -> Result<Option<f64>, Error> {
    let tally = tally_of(y_true, y_pred)?;
    Ok(cohen_kappa_from_tally(&tally))
}

/// Counts two label slices over the sorted union of their labels.
fn tally_of<L: Ord>(y_true: &[L], y_pred: &[L]) -> Result<Tally, Error> {
    check_same_length("y_true", y_true.len(), "y_pred", y_pred.len())?;
    check_not_empty("y_true", y_true.len())?;
    let label_set = LabelSet::sorted_union(y_true, y_pred);
    Ok(Tally::from_labels(y_true, y_pred, &label_set))
}

fn check_beta(beta: f64) -> Result<(), Error> {
    if beta >= 0.0 {
        return Ok(());
    }
    Err(Error::InvalidParameter {
        name: "beta",
        expected: "at least 0",
        value: beta.to_string(),
    })
}

/// `numerator / denominator`, or the `zero_division` score when the denominator is zero.
fn divide(numerator: f64, denominator: f64, zero_division: ZeroDivision) -> f64 {
    if denominator == 0.0 {
        return zero_division.value();
    }
    numerator / denominator
}

/// Scores from counts exactly as `precision_recall_fscore_support` divides them.
fn scores_from_counts(
    true_positives: u64,
    predicted: u64,
    actual: u64,
    options: &FbetaOptions,
) -> PrecisionRecallFscore {
    let zero_division = options.zero_division;
    let precision = divide(true_positives as f64, predicted as f64, zero_division);
    let recall = divide(true_positives as f64, actual as f64, zero_division);
    let fscore = if options.beta == f64::INFINITY {
        recall
    } else if options.beta == 0.0 {
        precision
    } else {
        // (1 + b²) tp / ((1 + b²) tp + b² fn + fp), written with sums as scikit-learn does.
        let beta2 = options.beta * options.beta;
        divide(
            (1.0 + beta2) * true_positives as f64,
            beta2 * actual as f64 + predicted as f64,
            zero_division,
        )
    };
    PrecisionRecallFscore {
        precision,
        recall,
        fscore,
    }
}

/// Scores of class `class_idx` of a tally.
pub(crate) fn class_scores(
    tally: &Tally,
    class_idx: usize,
    options: &FbetaOptions,
) -> PrecisionRecallFscore {
    let true_positives = tally.get(class_idx, class_idx);
    let predicted = (0..tally.n_classes())
        .map(|true_idx| tally.get(true_idx, class_idx))
        .sum();
    let actual = (0..tally.n_classes())
        .map(|pred_idx| tally.get(class_idx, pred_idx))
        .sum();
    scores_from_counts(true_positives, predicted, actual, options)
}

/// Averages over the first `n_selected` classes of a tally (the others were present in the
/// data but not asked for).
pub(crate) fn averaged_scores(
    tally: &Tally,
    n_selected: usize,
    average: Average,
    options: &FbetaOptions,
) -> PrecisionRecallFscore {
    let true_sums = tally.true_sums();
    let pred_sums = tally.pred_sums();
    if average == Average::Micro {
        let true_positives = (0..n_selected).map(|idx| tally.get(idx, idx)).sum();
        let predicted = pred_sums[..n_selected].iter().sum();
        let actual = true_sums[..n_selected].iter().sum();
        return scores_from_counts(true_positives, predicted, actual, options);
    }
    let per_class: Vec<PrecisionRecallFscore> = (0..n_selected)
        .map(|class_idx| {
            scores_from_counts(
                tally.get(class_idx, class_idx),
                pred_sums[class_idx],
                true_sums[class_idx],
                options,
            )
        })
        .collect();
    let precisions: Vec<f64> = per_class.iter().map(|scores| scores.precision).collect();
    let recalls: Vec<f64> = per_class.iter().map(|scores| scores.recall).collect();
    let fscores: Vec<f64> = per_class.iter().map(|scores| scores.fscore).collect();
    let weights: Vec<f64> = true_sums[..n_selected]
        .iter()
        .map(|&support| support as f64)
        .collect();
    // scikit-learn falls back to the plain mean when every weight is zero.
    let weighted = average == Average::Weighted && weights.iter().any(|&weight| weight != 0.0);
    let combine = |values: &[f64]| {
        if weighted {
            numpy_weighted_average(values, &weights)
        } else {
            numpy_mean(values)
        }
    };
    PrecisionRecallFscore {
        precision: combine(&precisions),
        recall: combine(&recalls),
        fscore: combine(&fscores),
    }
}

pub(crate) fn balanced_accuracy_from_tally(tally: &Tally) -> f64 {
    let per_class_recall: Vec<f64> = tally
        .true_sums()
        .iter()
        .enumerate()
        .filter(|(_, support)| **support > 0)
        .map(|(class_idx, &support)| tally.get(class_idx, class_idx) as f64 / support as f64)
        .collect();
    numpy_mean(&per_class_recall)
}

pub(crate) fn matthews_corrcoef_from_tally(tally: &Tally) -> f64 {
    let true_sums: Vec<f64> = tally.true_sums().iter().map(|&sum| sum as f64).collect();
    let pred_sums: Vec<f64> = tally.pred_sums().iter().map(|&sum| sum as f64).collect();
    let n_correct = tally.trace() as f64;
    let n_samples = numpy_sum(&pred_sums);
    let dot = |left: &[f64], right: &[f64]| -> f64 {
        let products: Vec<f64> = left.iter().zip(right).map(|(a, b)| a * b).collect();
        numpy_sum(&products)
    };
    let cov_true_pred = n_correct * n_samples - dot(&true_sums, &pred_sums);
    let cov_pred_pred = n_samples * n_samples - dot(&pred_sums, &pred_sums);
    let cov_true_true = n_samples * n_samples - dot(&true_sums, &true_sums);
    let cov_product = cov_pred_pred * cov_true_true;
    if cov_product == 0.0 {
        return 0.0;
    }
    cov_true_pred / cov_product.sqrt()
}

pub(crate) fn cohen_kappa_from_tally(tally: &Tally) -> Option<f64> {
    let n_classes = tally.n_classes();
    // sum0 sums over true classes (per predicted class), sum1 over predicted classes.
    let sum0: Vec<f64> = tally.pred_sums().iter().map(|&sum| sum as f64).collect();
    let sum1: Vec<f64> = tally.true_sums().iter().map(|&sum| sum as f64).collect();
    let n_samples = numpy_sum(&sum0);
    if n_samples == 0.0 {
        return None;
    }
    let mut weighted_observed = Vec::with_capacity(n_classes * n_classes);
    let mut weighted_expected = Vec::with_capacity(n_classes * n_classes);
    for (row_idx, row_sum) in sum0.iter().enumerate() {
        for (col_idx, col_sum) in sum1.iter().enumerate() {
            // Agreement (the diagonal) weighs 0, any disagreement 1.
            let weight = if row_idx == col_idx { 0.0 } else { 1.0 };
            weighted_observed.push(weight * tally.get(row_idx, col_idx) as f64);
            weighted_expected.push(weight * (row_sum * col_sum / n_samples));
        }
    }
    let denominator = numpy_sum(&weighted_expected);
    if denominator == 0.0 {
        return None;
    }
    Some(1.0 - numpy_sum(&weighted_observed) / denominator)
}

/// Checks lengths and counts class indices for the index-based entry points.
pub(crate) fn tally_of_indices(
    y_true: &[usize],
    y_pred: &[usize],
    n_classes: usize,
) -> Result<Tally, Error> {
    let tally = Tally::from_indices(y_true, y_pred, n_classes)?;
    check_not_empty("y_true", y_true.len())?;
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_division_values() {
        assert_eq!(ZeroDivision::Warn.value(), 0.0);
        assert_eq!(ZeroDivision::Zero.value(), 0.0);
        assert_eq!(ZeroDivision::One.value(), 1.0);
    }

    #[test]
    fn fbeta_extremes_are_precision_and_recall() {
        let y_true = ["a", "a", "b", "b", "b"];
        let y_pred = ["a", "b", "b", "a", "a"];
        let scores = |beta| {
            let options = FbetaOptions {
                beta,
                zero_division: ZeroDivision::Zero,
            };
            precision_recall_fscore(&y_true, &y_pred, Average::Macro, &options).unwrap()
        };
        let zero = scores(0.0);
        assert_eq!(zero.fscore, zero.precision);
        let infinite = scores(f64::INFINITY);
        assert_eq!(infinite.fscore, infinite.recall);
    }

    #[test]
    fn fbeta_two_matches_scikit_learn() {
        // scikit-learn 1.9.1: fbeta_score(y_true, y_pred, beta=2, average=...) and
        // precision_recall_fscore_support(..., beta=2, average=None).
        let y_true = [0, 1, 2, 0, 1, 2, 2, 2];
        let y_pred = [0, 2, 1, 0, 0, 1, 2, 2];
        let options = FbetaOptions {
            beta: 2.0,
            zero_division: ZeroDivision::Warn,
        };
        let macro_scores =
            precision_recall_fscore(&y_true, &y_pred, Average::Macro, &options).unwrap();
        assert!((macro_scores.fscore - 0.4784688995215311).abs() < 1e-15);
        let weighted_scores =
            precision_recall_fscore(&y_true, &y_pred, Average::Weighted, &options).unwrap();
        assert!((weighted_scores.fscore - 0.49043062200956933).abs() < 1e-15);
        let per_class = precision_recall_fscore_per_class(&y_true, &y_pred, &options).unwrap();
        let expected = [0.9090909090909091, 0.0, 0.5263157894736842];
        for (label_scores, expected_fscore) in per_class.iter().zip(expected) {
            assert!((label_scores.scores.fscore - expected_fscore).abs() < 1e-15);
        }
        assert_eq!(per_class[2].support, 4);
    }

    #[test]
    fn negative_beta_is_an_error() {
        let options = FbetaOptions {
            beta: -1.0,
            zero_division: ZeroDivision::Warn,
        };
        let result = precision_recall_fscore(&[1], &[1], Average::Micro, &options);
        assert!(matches!(
            result,
            Err(Error::InvalidParameter { name: "beta", .. })
        ));
    }

    #[test]
    fn kappa_is_none_for_a_single_label() {
        assert_eq!(cohen_kappa_score(&[3, 3], &[3, 3]).unwrap(), None);
        assert_eq!(matthews_corrcoef(&[3, 3], &[3, 3]).unwrap(), 0.0);
    }
}

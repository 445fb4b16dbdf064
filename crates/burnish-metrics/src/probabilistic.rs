//! Metrics of scores rather than hard predictions: top-k accuracy, log loss and ROC AUC.
//!
//! Score matrices are flat row-major slices of `n_samples * n_classes` values (one row per
//! sample, as a tensor's data comes out of Burn), and classes are indices `0..n_classes`,
//! like scikit-learn called with `labels=range(n_classes)`.

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::confusion::check_class_indices;
use crate::error::{check_not_empty, check_same_length};
use crate::numeric::{numpy_mean, numpy_sum};

/// Fraction of samples whose true class is among the `k` highest scores
/// (`top_k_accuracy_score`).
///
/// `y_score` holds `y_true.len()` rows of `n_classes` scores (probabilities or logits). Ties
/// rank the higher class index first, as scikit-learn's stable sort does; `k >= n_classes`
/// scores 1.
///
/// ```
/// use burnish_metrics::probabilistic::top_k_accuracy_score;
///
/// let y_score = [0.5, 0.3, 0.2, /**/ 0.1, 0.3, 0.6];
/// assert_eq!(top_k_accuracy_score(&[1, 1], &y_score, 3, 1)?, 0.0);
/// assert_eq!(top_k_accuracy_score(&[1, 1], &y_score, 3, 2)?, 1.0);
/// # Ok::<(), burnish_metrics::Error>(())
/// ```
pub fn top_k_accuracy_score(
    y_true: &[usize],
    y_score: &[f64],
    n_classes: usize,
    k: usize,
) -> Result<f64, Error> {
    if k == 0 {
        return Err(Error::InvalidParameter {
            name: "k",
            expected: "at least 1",
            value: k.to_string(),
        });
    }
    check_score_matrix(y_true, y_score, n_classes)?;
    let n_hits = y_true
        .iter()
        .zip(y_score.chunks_exact(n_classes))
        .filter(|&(&true_idx, row)| {
            let true_score = row[true_idx];
            let n_ranked_above = row
                .iter()
                .enumerate()
                .filter(|&(class_idx, &score)| {
                    score > true_score || (score == true_score && class_idx > true_idx)
                })
                .count();
            n_ranked_above < k
        })
        .count();
    Ok(n_hits as f64 / y_true.len() as f64)
}

/// Mean negative log-likelihood of the true classes (`log_loss`), in nats.
///
/// Probabilities are clipped to `[eps, 1 - eps]` with `eps = f64::EPSILON`, as scikit-learn
/// does; rows are not renormalised (scikit-learn only warns when they do not sum to one).
///
/// Returns an error for a matrix of the wrong shape, fewer than two classes, an index out of
/// range, or a probability outside `[0, 1]`.
pub fn log_loss(y_true: &[usize], y_prob: &[f64], n_classes: usize) -> Result<f64, Error> {
    if n_classes < 2 {
        return Err(Error::TooFewClasses {
            metric: "log loss",
            n_classes,
        });
    }
    check_score_matrix(y_true, y_prob, n_classes)?;
    if let Some(position) = y_prob
        .iter()
        .position(|probability| !(0.0..=1.0).contains(probability))
    {
        return Err(Error::ProbabilityOutOfRange {
            position,
            value: y_prob[position],
        });
    }
    let eps = f64::EPSILON;
    let losses: Vec<f64> = y_true
        .iter()
        .zip(y_prob.chunks_exact(n_classes))
        .map(|(&true_idx, row)| -row[true_idx].clamp(eps, 1.0 - eps).ln())
        .collect();
    Ok(numpy_mean(&losses))
}

/// A receiver operating characteristic curve, as `roc_curve` returns it with
/// `drop_intermediate=True`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RocCurve {
    /// False positive rate at each threshold, increasing from 0 to 1.
    pub fpr: Vec<f64>,
    /// True positive rate at each threshold, increasing from 0 to 1.
    pub tpr: Vec<f64>,
    /// Decreasing score thresholds; the first is infinity (nothing predicted positive).
    pub thresholds: Vec<f64>,
}

/// The ROC curve of binary scores: `y_true[i]` is whether sample `i` is positive and
/// `y_score[i]` its score, higher meaning more likely positive.
///
/// Returns an error if the slices differ in length, are empty, hold a non-finite score, or
/// if `y_true` has no positive or no negative sample.
pub fn roc_curve(y_true: &[bool], y_score: &[f64]) -> Result<RocCurve, Error> {
    check_same_length("y_true", y_true.len(), "y_score", y_score.len())?;
    check_not_empty("y_true", y_true.len())?;
    if let Some(position) = y_score.iter().position(|score| !score.is_finite()) {
        return Err(Error::NonFiniteScore {
            position,
            value: y_score[position],
        });
    }
    let n_positive = y_true.iter().filter(|&&positive| positive).count();
    if n_positive == 0 || n_positive == y_true.len() {
        let class = if n_positive == 0 {
            "positive"
        } else {
            "negative"
        };
        return Err(Error::SingleClass {
            class: format!("{class} (none in y_true)"),
        });
    }

    let mut order: Vec<usize> = (0..y_score.len()).collect();
    order.sort_by(|&left, &right| y_score[right].total_cmp(&y_score[left]));

    // One point per distinct score: the counts once every sample at or above it is positive.
    let mut true_positives = Vec::new();
    let mut false_positives = Vec::new();
    let mut thresholds = Vec::new();
    let mut n_true_positives = 0.0;
    for (rank, &sample_idx) in order.iter().enumerate() {
        if y_true[sample_idx] {
            n_true_positives += 1.0;
        }
        let is_last_of_its_score =
            rank + 1 == order.len() || y_score[order[rank + 1]] != y_score[sample_idx];
        if is_last_of_its_score {
            true_positives.push(n_true_positives);
            false_positives.push((rank + 1) as f64 - n_true_positives);
            thresholds.push(y_score[sample_idx]);
        }
    }

    // Drop points on a straight line between their neighbours; they add no area.
    let n_points = true_positives.len();
    let keep: Vec<usize> = if n_points > 2 {
        (0..n_points)
            .filter(|&point_idx| {
                if point_idx == 0 || point_idx + 1 == n_points {
                    return true;
                }
                let second_difference = |values: &[f64]| {
                    (values[point_idx + 1] - values[point_idx])
                        - (values[point_idx] - values[point_idx - 1])
                };
                second_difference(&false_positives) != 0.0
                    || second_difference(&true_positives) != 0.0
            })
            .collect()
    } else {
        (0..n_points).collect()
    };

    let n_false_total = false_positives[n_points - 1];
    let n_true_total = true_positives[n_points - 1];
    let mut curve = RocCurve {
        fpr: vec![0.0],
        tpr: vec![0.0],
        thresholds: vec![f64::INFINITY],
    };
    for point_idx in keep {
        curve.fpr.push(false_positives[point_idx] / n_false_total);
        curve.tpr.push(true_positives[point_idx] / n_true_total);
        curve.thresholds.push(thresholds[point_idx]);
    }
    Ok(curve)
}

/// Area under the ROC curve of binary scores (`roc_auc_score`), by the trapezoidal rule over
/// [`roc_curve`], so tied scores count half as scikit-learn counts them.
///
/// ```
/// use burnish_metrics::probabilistic::roc_auc_score;
///
/// let auc = roc_auc_score(&[false, false, true, true], &[0.1, 0.4, 0.35, 0.8])?;
/// assert_eq!(auc, 0.75);
/// # Ok::<(), burnish_metrics::Error>(())
/// ```
pub fn roc_auc_score(y_true: &[bool], y_score: &[f64]) -> Result<f64, Error> {
    let curve = roc_curve(y_true, y_score)?;
    Ok(trapezoid_area(&curve.fpr, &curve.tpr))
}

/// One-vs-rest ROC AUC averaged over classes without weights (`roc_auc_score(y_true,
/// y_prob, multi_class="ovr", average="macro")`).
///
/// `y_prob` holds `y_true.len()` rows of `n_classes` probabilities, each row summing to one
/// (within NumPy's `allclose` tolerance, as scikit-learn requires). Every class must occur in
/// `y_true`, and not alone, or its one-vs-rest AUC is undefined.
pub fn roc_auc_ovr_macro(y_true: &[usize], y_prob: &[f64], n_classes: usize) -> Result<f64, Error> {
    if n_classes < 2 {
        return Err(Error::TooFewClasses {
            metric: "ROC AUC",
            n_classes,
        });
    }
    check_score_matrix(y_true, y_prob, n_classes)?;
    for (row_idx, row) in y_prob.chunks_exact(n_classes).enumerate() {
        let sum = numpy_sum(row);
        // numpy.allclose(1, sum): |1 - sum| <= atol + rtol * |sum|; NaN is never close.
        let is_close = (1.0 - sum).abs() <= 1e-8 + 1e-5 * sum.abs();
        if !is_close {
            return Err(Error::NotProbabilities { row: row_idx, sum });
        }
    }
    let mut areas = Vec::with_capacity(n_classes);
    for class_idx in 0..n_classes {
        let is_class: Vec<bool> = y_true
            .iter()
            .map(|&true_idx| true_idx == class_idx)
            .collect();
        let class_scores: Vec<f64> = y_prob
            .chunks_exact(n_classes)
            .map(|row| row[class_idx])
            .collect();
        let area = roc_auc_score(&is_class, &class_scores).map_err(|error| match error {
            Error::SingleClass { .. } => Error::SingleClass {
                class: class_idx.to_string(),
            },
            other => other,
        })?;
        areas.push(area);
    }
    Ok(numpy_mean(&areas))
}

/// `numpy.trapezoid(y, x)`: the sum of `dx * (y[i + 1] + y[i]) / 2`.
fn trapezoid_area(x: &[f64], y: &[f64]) -> f64 {
    let slices: Vec<f64> = x
        .windows(2)
        .zip(y.windows(2))
        .map(|(x_pair, y_pair)| (x_pair[1] - x_pair[0]) * (y_pair[1] + y_pair[0]) / 2.0)
        .collect();
    numpy_sum(&slices)
}

/// Checks that a flat score matrix has one row of `n_classes` per sample and that every
/// true class index is in range.
fn check_score_matrix(y_true: &[usize], y_score: &[f64], n_classes: usize) -> Result<(), Error> {
    check_not_empty("y_true", y_true.len())?;
    let expected = y_true.len() * n_classes;
    if y_score.len() != expected || n_classes == 0 {
        return Err(Error::ScoreMatrixShape {
            n_samples: y_true.len(),
            n_classes,
            expected,
            actual: y_score.len(),
        });
    }
    check_class_indices("y_true", y_true, n_classes)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values are scikit-learn 1.9.1 results, computed with the same inputs in Python.
    const TOP_K_1: f64 = 0.3333333333333333;
    const TOP_K_2: f64 = 0.5;
    const TOP_K_3: f64 = 0.8333333333333334;
    const LOG_LOSS: f64 = 7.667654062492405;
    const LOG_LOSS_PERFECT: f64 = 2.220446049250313e-16;
    const ROC_AUC_TIES: f64 = 0.74;
    const ROC_FPR: [f64; 7] = [0.0, 0.0, 0.0, 0.2, 0.6, 0.6, 1.0];
    const ROC_TPR: [f64; 7] = [0.0, 0.2, 0.4, 0.6, 0.6, 1.0, 1.0];
    const ROC_AUC_OVR: f64 = 0.875;

    fn assert_close(actual: f64, expected: f64) {
        assert!(
            (actual - expected).abs() <= 1e-12 * expected.abs().max(1.0),
            "got {actual}, expected {expected}"
        );
    }

    /// Six samples, four classes, with ties in rows 1, 3 and 5.
    const TOP_K_TRUE: [usize; 6] = [0, 1, 2, 3, 2, 1];
    const TOP_K_SCORES: [f64; 24] = [
        0.10, 0.20, 0.30, 0.40, //
        0.25, 0.25, 0.25, 0.25, //
        0.50, 0.10, 0.30, 0.10, //
        0.20, 0.20, 0.30, 0.30, //
        0.05, 0.15, 0.70, 0.10, //
        0.40, 0.30, 0.30, 0.00,
    ];

    #[test]
    fn top_k_accuracy_matches_scikit_learn() {
        // top_k_accuracy_score(y_true, y_score, k=k, labels=[0, 1, 2, 3])
        let expected = [(1, TOP_K_1), (2, TOP_K_2), (3, TOP_K_3), (4, 1.0)];
        for (k, expected) in expected {
            let accuracy = top_k_accuracy_score(&TOP_K_TRUE, &TOP_K_SCORES, 4, k).unwrap();
            assert_close(accuracy, expected);
        }
    }

    #[test]
    fn top_k_checks_its_inputs() {
        let result = top_k_accuracy_score(&TOP_K_TRUE, &TOP_K_SCORES[..20], 4, 1);
        assert!(matches!(
            result,
            Err(Error::ScoreMatrixShape {
                expected: 24,
                actual: 20,
                ..
            })
        ));
        let result = top_k_accuracy_score(&TOP_K_TRUE, &TOP_K_SCORES, 4, 0);
        assert!(matches!(
            result,
            Err(Error::InvalidParameter { name: "k", .. })
        ));
        let result = top_k_accuracy_score(&[4], &TOP_K_SCORES[..4], 4, 1);
        assert!(matches!(
            result,
            Err(Error::ClassOutOfRange { class_idx: 4, .. })
        ));
    }

    #[test]
    fn log_loss_matches_scikit_learn() {
        // log_loss(y_true, y_prob, labels=[0, 1, 2]); row 3 holds an exact 0 (clipped) and
        // row 4 sums to 0.9 (not renormalised).
        let y_true = [0, 1, 2, 2, 1];
        let y_prob = [
            0.7, 0.2, 0.1, //
            0.1, 0.8, 0.1, //
            0.2, 0.2, 0.6, //
            0.5, 0.5, 0.0, //
            0.3, 0.3, 0.3,
        ];
        assert_close(log_loss(&y_true, &y_prob, 3).unwrap(), LOG_LOSS);
        // A perfect prediction is clipped to 1 - eps, not 1.
        assert_close(
            log_loss(&[0, 1], &[1.0, 0.0, 0.0, 1.0], 2).unwrap(),
            LOG_LOSS_PERFECT,
        );
    }

    #[test]
    fn log_loss_rejects_values_that_are_not_probabilities() {
        let result = log_loss(&[0], &[1.5, -0.5], 2);
        assert!(matches!(
            result,
            Err(Error::ProbabilityOutOfRange { position: 0, .. })
        ));
        let result = log_loss(&[0], &[1.0], 1);
        assert!(matches!(result, Err(Error::TooFewClasses { .. })));
    }

    /// Ten samples with tied scores across the classes.
    const AUC_TRUE: [bool; 10] = [
        false, false, true, true, false, true, true, false, true, false,
    ];
    const AUC_SCORES: [f64; 10] = [0.1, 0.4, 0.35, 0.8, 0.4, 0.35, 0.9, 0.1, 0.5, 0.5];

    #[test]
    fn roc_auc_matches_scikit_learn_with_ties() {
        // roc_auc_score(y_true, y_score) and roc_curve(y_true, y_score)
        assert_close(roc_auc_score(&AUC_TRUE, &AUC_SCORES).unwrap(), ROC_AUC_TIES);
        let curve = roc_curve(&AUC_TRUE, &AUC_SCORES).unwrap();
        assert_eq!(curve.fpr.len(), ROC_FPR.len());
        for (actual, expected) in curve.fpr.iter().zip(ROC_FPR) {
            assert_close(*actual, expected);
        }
        for (actual, expected) in curve.tpr.iter().zip(ROC_TPR) {
            assert_close(*actual, expected);
        }
        assert_eq!(curve.thresholds[0], f64::INFINITY);
        // All scores tied: the diagonal.
        assert_close(roc_auc_score(&[true, false, true], &[0.5; 3]).unwrap(), 0.5);
    }

    #[test]
    fn roc_auc_of_a_single_class_is_an_error() {
        let result = roc_auc_score(&[true, true], &[0.1, 0.2]);
        assert!(matches!(result, Err(Error::SingleClass { .. })));
        let result = roc_auc_score(&[true, false], &[0.1, f64::NAN]);
        assert!(matches!(
            result,
            Err(Error::NonFiniteScore { position: 1, .. })
        ));
    }

    #[test]
    fn roc_auc_ovr_macro_matches_scikit_learn() {
        // roc_auc_score(y_true, y_prob, multi_class="ovr", average="macro")
        let y_true = [0, 1, 2, 2, 1, 0, 2, 1];
        let y_prob = [
            0.6, 0.3, 0.1, //
            0.2, 0.5, 0.3, //
            0.1, 0.3, 0.6, //
            0.3, 0.3, 0.4, //
            0.4, 0.4, 0.2, //
            0.3, 0.3, 0.4, //
            0.2, 0.2, 0.6, //
            0.5, 0.3, 0.2,
        ];
        assert_close(roc_auc_ovr_macro(&y_true, &y_prob, 3).unwrap(), ROC_AUC_OVR);
        let result = roc_auc_ovr_macro(&[0, 0], &[0.5, 0.5, 0.5, 0.5], 2);
        assert!(matches!(result, Err(Error::SingleClass { .. })));
        let result = roc_auc_ovr_macro(&[0, 1], &[0.5, 0.6, 0.5, 0.5], 2);
        assert!(matches!(
            result,
            Err(Error::NotProbabilities { row: 0, .. })
        ));
    }
}

//! What goes into `metrics.json`: serialisable summaries of an evaluation.
//!
//! The structs are plain data with public fields; optional scores that need probabilities
//! (top-k accuracy, log loss, ROC AUC) are filled in by the caller when it has them, and are
//! left out of the JSON when absent. Non-finite numbers serialise as `null`.

use serde::{Deserialize, Serialize};

use crate::report::{AverageScores, ClassScores};
use crate::{
    ClassificationReport, ConfusionMatrix, Error, RegressionMetrics, ReportOptions, ZeroDivision,
};

/// Scores of one class, named.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedClassScores {
    /// Class name.
    pub label: String,
    /// Precision, recall, F1 and support of the class.
    #[serde(flatten)]
    pub scores: ClassScores,
}

/// Top-k accuracy and its `k`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TopKAccuracy {
    /// How many of the highest scores count as a hit.
    pub k: usize,
    /// Fraction of samples whose true class is among the `k` highest scores.
    pub accuracy: f64,
}

/// Every classification metric of an evaluation, for `metrics.json`.
///
/// ```
/// use burnish_metrics::{ClassificationSummary, ConfusionMatrix, ZeroDivision};
///
/// let confusion_matrix = ConfusionMatrix::new(&["a", "b", "b"], &["a", "b", "a"])?;
/// let summary = ClassificationSummary::new(&confusion_matrix, ZeroDivision::Warn)?;
/// assert!(summary.to_json().contains("\"accuracy\": 0.6666666666666666"));
/// # Ok::<(), burnish_metrics::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassificationSummary {
    /// Number of samples evaluated.
    pub n_samples: u64,
    /// Fraction of samples predicted correctly.
    pub accuracy: f64,
    /// Mean recall over the classes that occur.
    pub balanced_accuracy: f64,
    /// Unweighted mean of the per-class scores.
    pub macro_avg: AverageScores,
    /// Support-weighted mean of the per-class scores.
    pub weighted_avg: AverageScores,
    /// Matthews correlation coefficient.
    pub matthews_corrcoef: f64,
    /// Cohen's kappa; `null` when only one label occurs.
    pub cohen_kappa: Option<f64>,
    /// Scores of every class, in class order.
    pub per_class: Vec<NamedClassScores>,
    /// Top-k accuracy, when the caller had scores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k_accuracy: Option<TopKAccuracy>,
    /// Log loss in nats, when the caller had probabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_loss: Option<f64>,
    /// One-vs-rest macro ROC AUC, when the caller had probabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roc_auc_ovr_macro: Option<f64>,
    /// The confusion matrix the scores come from.
    pub confusion_matrix: ConfusionMatrix,
}

impl ClassificationSummary {
    /// Every metric that the confusion matrix determines; the optional scores are `None`.
    ///
    /// Returns [`Error::Empty`] if the matrix holds no samples.
    pub fn new(
        confusion_matrix: &ConfusionMatrix,
        zero_division: ZeroDivision,
    ) -> Result<Self, Error> {
        let options = ReportOptions {
            zero_division,
            ..ReportOptions::default()
        };
        let report = ClassificationReport::from_confusion_matrix(confusion_matrix, &options)?;
        let per_class = report
            .labels
            .iter()
            .zip(&report.per_class)
            .map(|(label, scores)| NamedClassScores {
                label: label.clone(),
                scores: *scores,
            })
            .collect();
        Ok(Self {
            n_samples: confusion_matrix.n_samples(),
            accuracy: report.accuracy,
            balanced_accuracy: confusion_matrix.balanced_accuracy(),
            macro_avg: report.macro_avg,
            weighted_avg: report.weighted_avg,
            matthews_corrcoef: confusion_matrix.matthews_corrcoef(),
            cohen_kappa: confusion_matrix.cohen_kappa(),
            per_class,
            top_k_accuracy: None,
            log_loss: None,
            roc_auc_ovr_macro: None,
            confusion_matrix: confusion_matrix.clone(),
        })
    }

    /// Pretty-printed JSON, ending with a newline.
    pub fn to_json(&self) -> String {
        to_pretty_json(self)
    }
}

/// Regression metrics of an evaluation, for `metrics.json`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RegressionSummary {
    /// Number of samples evaluated.
    pub n_samples: usize,
    /// The metrics, written beside `n_samples` in the JSON.
    #[serde(flatten)]
    pub metrics: RegressionMetrics,
}

impl RegressionSummary {
    /// The summary of `y_pred` against `y_true`; see [`RegressionMetrics::new`] for errors.
    pub fn new(y_true: &[f64], y_pred: &[f64]) -> Result<Self, Error> {
        Ok(Self {
            n_samples: y_true.len(),
            metrics: RegressionMetrics::new(y_true, y_pred)?,
        })
    }

    /// Pretty-printed JSON, ending with a newline.
    pub fn to_json(&self) -> String {
        to_pretty_json(self)
    }
}

/// Language-model metrics of an evaluation, for `metrics.json`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LanguageModelSummary {
    /// Number of tokens evaluated.
    pub n_tokens: u64,
    /// Mean cross-entropy per token, in nats.
    pub cross_entropy: f64,
    /// `exp(cross_entropy)`.
    pub perplexity: f64,
}

impl LanguageModelSummary {
    /// Pretty-printed JSON, ending with a newline.
    pub fn to_json(&self) -> String {
        to_pretty_json(self)
    }
}

fn to_pretty_json<T: Serialize>(value: &T) -> String {
    // These structs hold only strings, numbers and sequences, which always serialise.
    let mut json = serde_json::to_string_pretty(value).expect("a summary always serialises");
    json.push('\n');
    json
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_summary_round_trips_and_skips_absent_scores() {
        let confusion_matrix = ConfusionMatrix::new(&[0, 1, 1, 2], &[0, 1, 2, 2]).unwrap();
        let mut summary =
            ClassificationSummary::new(&confusion_matrix, ZeroDivision::Warn).unwrap();
        let json = summary.to_json();
        assert!(!json.contains("log_loss"));
        assert!(json.contains("\"label\": \"1\""));
        assert!(json.contains("\"support\": 2"));
        let parsed: ClassificationSummary = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed, summary);

        summary.log_loss = Some(0.5);
        summary.top_k_accuracy = Some(TopKAccuracy {
            k: 2,
            accuracy: 1.0,
        });
        let json = summary.to_json();
        assert!(json.contains("\"log_loss\": 0.5"));
        assert!(json.contains("\"k\": 2"));
    }

    #[test]
    fn single_label_kappa_is_null() {
        let confusion_matrix = ConfusionMatrix::new(&["x", "x"], &["x", "x"]).unwrap();
        let summary = ClassificationSummary::new(&confusion_matrix, ZeroDivision::Warn).unwrap();
        assert!(summary.to_json().contains("\"cohen_kappa\": null"));
    }

    #[test]
    fn regression_summary_is_flat() {
        let summary = RegressionSummary::new(&[1.0, 2.0], &[1.0, 3.0]).unwrap();
        let value: serde_json::Value = serde_json::from_str(&summary.to_json()).unwrap();
        assert_eq!(value["n_samples"], 2);
        assert_eq!(value["mse"], 0.5);
        assert_eq!(value["r2"], -1.0);
    }
}

//! Metrics and reports for Burnish that agree with scikit-learn to the byte.
//!
//! Everything here works on plain slices (`&[L]` labels, `&[usize]` class indices, `&[f64]`
//! scores) and knows nothing of Burn or tensors, so that it can be checked against
//! scikit-learn's own answers and used by any crate. It renders results as text
//! (scikit-learn's `classification_report`), JSON (`metrics.json`), CSV and SVG, but does no
//! I/O: callers decide where the strings go.
//!
//! - [`classification`]: accuracy, balanced accuracy, precision, recall, F-beta, Matthews
//!   correlation and Cohen's kappa on label slices of any ordered type.
//! - [`ConfusionMatrix`] and [`ClassificationReport`]: the counts and the report text, from
//!   labels or from class indices with names ([`ClassificationReport::from_indices`]).
//! - [`probabilistic`]: top-k accuracy, log loss and ROC AUC from score matrices.
//! - [`regression`] and [`language_model`]: MSE, RMSE, MAE, R², explained variance,
//!   cross-entropy and perplexity.
//! - [`accumulate`]: accumulators fed batch after batch during evaluation.
//! - [`summary`]: what goes into `metrics.json`.
//! - [`confusion_matrix_svg`] and [`training_curves_svg`]: figures as SVG text, drawn from a
//!   [`ConfusionMatrix`] and a history of [`EpochRecord`]s.
//!
//! ```
//! use burnish_metrics::{ClassificationReport, ReportOptions};
//!
//! let report = ClassificationReport::new(
//!     &["cat", "dog", "dog", "bird"],
//!     &["cat", "dog", "cat", "bird"],
//!     &ReportOptions::default(),
//! )?;
//! let expected = "              precision    recall  f1-score   support
//!
//!         bird       1.00      1.00      1.00         1
//!          cat       0.50      1.00      0.67         1
//!          dog       1.00      0.50      0.67         2
//!
//!     accuracy                           0.75         4
//!    macro avg       0.83      0.83      0.78         4
//! weighted avg       0.88      0.75      0.75         4
//! ";
//! assert_eq!(report.to_string(), expected);
//! # Ok::<(), burnish_metrics::Error>(())
//! ```

pub mod accumulate;
pub mod classification;
mod confusion;
mod curves;
mod error;
mod heatmap;
mod history;
mod labels;
pub mod language_model;
mod lr_plot;
mod numeric;
pub mod probabilistic;
pub mod regression;
mod report;
pub mod summary;
mod svg;

pub use accumulate::{ClassificationAccumulator, CrossEntropyAccumulator, RegressionAccumulator};
pub use classification::{
    Average, FbetaOptions, LabelScores, PrecisionRecallFscore, ZeroDivision, accuracy_score,
    balanced_accuracy_score, cohen_kappa_score, f1_score, matthews_corrcoef,
    precision_recall_fscore, precision_recall_fscore_per_class,
};
pub use confusion::ConfusionMatrix;
pub use curves::training_curves_svg;
pub use error::Error;
pub use heatmap::confusion_matrix_svg;
pub use history::EpochRecord;
pub use language_model::{cross_entropy_from_logits, perplexity};
pub use lr_plot::lr_find_svg;
pub use probabilistic::{
    RocCurve, log_loss, roc_auc_ovr_macro, roc_auc_score, roc_curve, top_k_accuracy_score,
};
pub use regression::{
    RegressionMetrics, explained_variance_score, mean_absolute_error, mean_squared_error, r2_score,
    root_mean_squared_error,
};
pub use report::{AverageScores, ClassScores, ClassificationReport, ReportOptions};
pub use summary::{
    ClassificationSummary, LanguageModelSummary, NamedClassScores, RegressionSummary, TopKAccuracy,
};

//! The classification report: per-class precision, recall, F1 and support with their
//! averages, printed exactly as scikit-learn's `classification_report` prints them.
//!
//! The numbers come from [`crate::classification`]; this module only selects labels, names
//! rows and formats text. It does no I/O.

use std::fmt::{self, Display};

use serde::{Deserialize, Serialize};

use crate::classification::{
    Average, FbetaOptions, PrecisionRecallFscore, ZeroDivision, averaged_scores, class_scores,
    tally_of_indices,
};
use crate::confusion::Tally;
use crate::error::{check_not_empty, check_same_length};
use crate::labels::LabelSet;
use crate::{ConfusionMatrix, Error};

/// Settings of a [`ClassificationReport`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportOptions {
    /// Digits after the decimal point in the printed scores.
    pub digits: usize,
    /// Score of a ratio whose denominator is zero.
    pub zero_division: ZeroDivision,
}

impl Default for ReportOptions {
    /// scikit-learn's defaults: two digits, `zero_division="warn"`.
    fn default() -> Self {
        Self {
            digits: 2,
            zero_division: ZeroDivision::Warn,
        }
    }
}

/// Scores of one class in a report.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    /// True positives over predicted positives.
    pub precision: f64,
    /// True positives over actual positives.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Number of samples of this class in `y_true`.
    pub support: u64,
}

/// An averaged precision, recall and F1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AverageScores {
    /// Averaged precision.
    pub precision: f64,
    /// Averaged recall.
    pub recall: f64,
    /// Averaged F1.
    pub f1: f64,
}

impl From<PrecisionRecallFscore> for AverageScores {
    fn from(scores: PrecisionRecallFscore) -> Self {
        Self {
            precision: scores.precision,
            recall: scores.recall,
            f1: scores.fscore,
        }
    }
}

/// Per-class and averaged scores of a classifier, displayed as scikit-learn's
/// `classification_report` text.
///
/// ```
/// use burnish_metrics::{ClassificationReport, ReportOptions};
///
/// let class_names = vec!["cat".to_owned(), "dog".to_owned()];
/// let report = ClassificationReport::from_indices(
///     &[0, 1, 1, 1],
///     &[0, 1, 0, 1],
///     &class_names,
///     &ReportOptions::default(),
/// )?;
/// assert_eq!(report.accuracy, 0.75);
/// print!("{report}");
/// # Ok::<(), burnish_metrics::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ClassificationReport {
    /// Row names, one per reported class, in report order.
    pub labels: Vec<String>,
    /// Scores of each reported class, in the order of `labels`.
    pub per_class: Vec<ClassScores>,
    /// Fraction of all samples predicted correctly (`accuracy_score`).
    pub accuracy: f64,
    /// Micro average over the reported classes; equal to `accuracy` when they cover every
    /// label present.
    pub micro_avg: AverageScores,
    /// Unweighted mean over the reported classes.
    pub macro_avg: AverageScores,
    /// Support-weighted mean over the reported classes.
    pub weighted_avg: AverageScores,
    /// Whether the reported classes cover every label present, so that the micro average row
    /// is printed as `accuracy`.
    pub micro_is_accuracy: bool,
    /// Digits after the decimal point in the text.
    pub digits: usize,
    /// scikit-learn counts in floating point when no sample at all is predicted correctly,
    /// and then prints supports as `5.0` instead of `5`.
    float_support: bool,
}

impl ClassificationReport {
    /// A report over the sorted union of the labels in `y_true` and `y_pred`, as
    /// `classification_report(y_true, y_pred)`.
    pub fn new<L: Ord + Display>(
        y_true: &[L],
        y_pred: &[L],
        options: &ReportOptions,
    ) -> Result<Self, Error> {
        check_same_length("y_true", y_true.len(), "y_pred", y_pred.len())?;
        check_not_empty("y_true", y_true.len())?;
        let label_set = LabelSet::sorted_union(y_true, y_pred);
        let tally = Tally::from_labels(y_true, y_pred, &label_set);
        Ok(Self::from_tally(
            &tally,
            label_set.selected_names(),
            true,
            options,
        ))
    }

    /// A report over the given `labels`, in their order, as
    /// `classification_report(y_true, y_pred, labels=labels)`.
    ///
    /// Labels that do not occur get rows with zero support. Labels that occur but are not
    /// listed get no row; then, as in scikit-learn, the micro average is printed as
    /// `micro avg` instead of `accuracy`.
    pub fn with_labels<L: Ord + Display>(
        y_true: &[L],
        y_pred: &[L],
        labels: &[L],
        options: &ReportOptions,
    ) -> Result<Self, Error> {
        check_same_length("y_true", y_true.len(), "y_pred", y_pred.len())?;
        check_not_empty("y_true", y_true.len())?;
        check_not_empty("labels", labels.len())?;
        let label_set = LabelSet::given_then_present(labels, y_true, y_pred)?;
        let tally = Tally::from_labels(y_true, y_pred, &label_set);
        Ok(Self::from_tally(
            &tally,
            label_set.selected_names(),
            label_set.selection_covers_all(),
            options,
        ))
    }

    /// A report over class indices `0..class_names.len()`, every class in index order and
    /// named by `class_names`, as `classification_report(y_true, y_pred,
    /// labels=range(len(class_names)), target_names=class_names)`.
    ///
    /// Returns an error if the slices differ in length, are empty, or hold an index that is
    /// not below `class_names.len()`.
    pub fn from_indices(
        y_true: &[usize],
        y_pred: &[usize],
        class_names: &[String],
        options: &ReportOptions,
    ) -> Result<Self, Error> {
        let tally = tally_of_indices(y_true, y_pred, class_names.len())?;
        Ok(Self::from_tally(
            &tally,
            class_names.to_vec(),
            true,
            options,
        ))
    }

    /// A report over every class of a confusion matrix, in its order.
    ///
    /// Returns [`Error::Empty`] if the matrix holds no samples.
    pub fn from_confusion_matrix(
        confusion_matrix: &ConfusionMatrix,
        options: &ReportOptions,
    ) -> Result<Self, Error> {
        let tally = Tally::from_rows(&confusion_matrix.counts);
        if tally.total() == 0 {
            return Err(Error::Empty {
                what: "confusion matrix",
            });
        }
        Ok(Self::from_tally(
            &tally,
            confusion_matrix.labels.clone(),
            true,
            options,
        ))
    }

    /// The same report with its rows named by `target_names` (scikit-learn's `target_names`).
    ///
    /// Returns [`Error::NamesMismatch`] unless there is one name per row.
    pub fn with_target_names(mut self, target_names: &[String]) -> Result<Self, Error> {
        if target_names.len() != self.labels.len() {
            return Err(Error::NamesMismatch {
                n_names: target_names.len(),
                n_classes: self.labels.len(),
            });
        }
        self.labels = target_names.to_vec();
        Ok(self)
    }

    /// Total support of the reported classes, printed in the average rows.
    pub fn total_support(&self) -> u64 {
        self.per_class.iter().map(|scores| scores.support).sum()
    }

    /// The report as scikit-learn prints it; the same as `to_string()`.
    pub fn to_text(&self) -> String {
        self.to_string()
    }

    /// Scores from counts: the first `names.len()` classes of the tally are reported, the
    /// others only count towards `accuracy`.
    pub(crate) fn from_tally(
        tally: &Tally,
        names: Vec<String>,
        micro_is_accuracy: bool,
        options: &ReportOptions,
    ) -> Self {
        let n_selected = names.len();
        let fbeta_options = FbetaOptions {
            beta: 1.0,
            zero_division: options.zero_division,
        };
        let true_sums = tally.true_sums();
        let per_class = (0..n_selected)
            .map(|class_idx| {
                let scores = class_scores(tally, class_idx, &fbeta_options);
                ClassScores {
                    precision: scores.precision,
                    recall: scores.recall,
                    f1: scores.fscore,
                    support: true_sums[class_idx],
                }
            })
            .collect();
        let average = |average| averaged_scores(tally, n_selected, average, &fbeta_options).into();
        Self {
            labels: names,
            per_class,
            accuracy: tally.accuracy(),
            micro_avg: average(Average::Micro),
            macro_avg: average(Average::Macro),
            weighted_avg: average(Average::Weighted),
            micro_is_accuracy,
            digits: options.digits,
            float_support: tally.trace() == 0,
        }
    }

    /// A support as Python prints an integer (`5`) or, in the float case, a float (`5.0`).
    fn format_support(&self, support: u64) -> String {
        if self.float_support {
            format!("{:.1}", support as f64)
        } else {
            support.to_string()
        }
    }
}

impl Display for ClassificationReport {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        const LONGEST_LAST_LINE_HEADING: &str = "weighted avg";
        let digits = self.digits;
        let name_width = self
            .labels
            .iter()
            .map(|name| name.chars().count())
            .max()
            .unwrap_or(0);
        let width = name_width.max(LONGEST_LAST_LINE_HEADING.len()).max(digits);

        write!(formatter, "{:>width$} ", "")?;
        for header in ["precision", "recall", "f1-score", "support"] {
            write!(formatter, " {header:>9}")?;
        }
        writeln!(formatter, "\n")?;

        let write_row = |formatter: &mut fmt::Formatter<'_>,
                         heading: &str,
                         scores: &AverageScores,
                         support: u64|
         -> fmt::Result {
            writeln!(
                formatter,
                "{heading:>width$}  {:>9.digits$} {:>9.digits$} {:>9.digits$} {:>9}",
                scores.precision,
                scores.recall,
                scores.f1,
                self.format_support(support),
            )
        };
        for (name, class_scores) in self.labels.iter().zip(&self.per_class) {
            let scores = AverageScores {
                precision: class_scores.precision,
                recall: class_scores.recall,
                f1: class_scores.f1,
            };
            write_row(formatter, name, &scores, class_scores.support)?;
        }
        writeln!(formatter)?;

        let total_support = self.total_support();
        if self.micro_is_accuracy {
            writeln!(
                formatter,
                "{:>width$}  {:>9} {:>9} {:>9.digits$} {:>9}",
                "accuracy",
                "",
                "",
                self.micro_avg.f1,
                self.format_support(total_support),
            )?;
        } else {
            write_row(formatter, "micro avg", &self.micro_avg, total_support)?;
        }
        write_row(formatter, "macro avg", &self.macro_avg, total_support)?;
        write_row(formatter, "weighted avg", &self.weighted_avg, total_support)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected texts are the output of scikit-learn 1.9.1's `classification_report`.

    #[test]
    fn micro_avg_replaces_accuracy_when_labels_leave_some_out() {
        let y_true = ["cat", "dog", "dog", "bird", "cat", "dog"];
        let y_pred = ["cat", "cat", "dog", "bird", "dog", "dog"];
        let report = ClassificationReport::with_labels(
            &y_true,
            &y_pred,
            &["dog", "cat"],
            &ReportOptions::default(),
        )
        .unwrap();
        let expected = "              precision    recall  f1-score   support

         dog       0.67      0.67      0.67         3
         cat       0.50      0.50      0.50         2

   micro avg       0.60      0.60      0.60         5
   macro avg       0.58      0.58      0.58         5
weighted avg       0.60      0.60      0.60         5
";
        assert_eq!(report.to_text(), expected);
        assert!((report.accuracy - 4.0 / 6.0).abs() < 1e-15);
    }

    #[test]
    fn labels_covering_everything_keep_accuracy() {
        let y_true = [1, 2, 2];
        let y_pred = [1, 2, 1];
        let report = ClassificationReport::with_labels(
            &y_true,
            &y_pred,
            &[2, 1, 5],
            &ReportOptions::default(),
        )
        .unwrap();
        let expected = "              precision    recall  f1-score   support

           2       1.00      0.50      0.67         2
           1       0.50      1.00      0.67         1
           5       0.00      0.00      0.00         0

    accuracy                           0.67         3
   macro avg       0.50      0.50      0.44         3
weighted avg       0.83      0.67      0.67         3
";
        assert_eq!(report.to_text(), expected);
    }

    #[test]
    fn from_indices_reports_every_class_with_its_name() {
        let class_names: Vec<String> = ["setosa", "versicolor", "virginica_long_name"]
            .iter()
            .map(|name| name.to_string())
            .collect();
        let options = ReportOptions {
            digits: 3,
            zero_division: ZeroDivision::One,
        };
        let report = ClassificationReport::from_indices(
            &[0, 0, 1, 0],
            &[0, 1, 1, 0],
            &class_names,
            &options,
        )
        .unwrap();
        let expected = "                     precision    recall  f1-score   support

             setosa      1.000     0.667     0.800         3
         versicolor      0.500     1.000     0.667         1
virginica_long_name      1.000     1.000     1.000         0

           accuracy                          0.750         4
          macro avg      0.833     0.889     0.822         4
       weighted avg      0.875     0.750     0.767         4
";
        assert_eq!(report.to_text(), expected);
    }

    #[test]
    fn target_names_rename_rows_and_must_match() {
        let report =
            ClassificationReport::new(&[0, 1], &[0, 1], &ReportOptions::default()).unwrap();
        let names = vec!["no".to_owned(), "yes".to_owned()];
        let renamed = report.clone().with_target_names(&names).unwrap();
        assert_eq!(renamed.labels, names);
        let result = report.with_target_names(&names[..1]);
        assert_eq!(
            result,
            Err(Error::NamesMismatch {
                n_names: 1,
                n_classes: 2
            })
        );
    }

    #[test]
    fn out_of_range_class_index_is_an_error() {
        let class_names = vec!["a".to_owned()];
        let result =
            ClassificationReport::from_indices(&[0], &[1], &class_names, &ReportOptions::default());
        assert!(matches!(
            result,
            Err(Error::ClassOutOfRange { what: "y_pred", .. })
        ));
    }
}

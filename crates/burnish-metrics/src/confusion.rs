//! The confusion matrix: how often each true class was predicted as each class.
//!
//! Counting is the only pass over the predictions; every classification metric of the crate is
//! then computed from these counts. Rows are true labels and columns predicted labels, as in
//! scikit-learn's `confusion_matrix`.

use std::fmt::Display;

use serde::{Deserialize, Serialize};

use crate::error::{check_not_empty, check_same_length};
use crate::labels::LabelSet;
use crate::{Error, classification};

/// Counts of (true class, predicted class) pairs, labelled.
///
/// `counts[true_idx][pred_idx]` is the number of samples of class `labels[true_idx]` that
/// were predicted as `labels[pred_idx]`.
///
/// ```
/// use burnish_metrics::ConfusionMatrix;
///
/// let confusion_matrix = ConfusionMatrix::new(&["cat", "dog", "dog"], &["cat", "cat", "dog"])?;
/// assert_eq!(confusion_matrix.labels, ["cat", "dog"]);
/// assert_eq!(confusion_matrix.counts, [[1, 0], [1, 1]]);
/// assert_eq!(confusion_matrix.to_csv(), "true/predicted,cat,dog\ncat,1,0\ndog,1,1\n");
/// # Ok::<(), burnish_metrics::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    /// Class names, in row (and column) order.
    pub labels: Vec<String>,
    /// Square matrix of counts: rows are true classes, columns predicted classes.
    pub counts: Vec<Vec<u64>>,
}

impl ConfusionMatrix {
    /// Counts predictions of any ordered label type; classes are the sorted union of the
    /// labels in `y_true` and `y_pred`, as scikit-learn sorts them.
    pub fn new<L: Ord + Display>(y_true: &[L], y_pred: &[L]) -> Result<Self, Error> {
        check_same_length("y_true", y_true.len(), "y_pred", y_pred.len())?;
        check_not_empty("y_true", y_true.len())?;
        let label_set = LabelSet::sorted_union(y_true, y_pred);
        let tally = Tally::from_labels(y_true, y_pred, &label_set);
        Ok(Self {
            labels: label_set.all_names(),
            counts: tally.rows(),
        })
    }

    /// Counts predictions given as class indices, with one row per class name whether or not
    /// the class occurs.
    pub fn from_indices(
        y_true: &[usize],
        y_pred: &[usize],
        class_names: &[String],
    ) -> Result<Self, Error> {
        let tally = Tally::from_indices(y_true, y_pred, class_names.len())?;
        check_not_empty("y_true", y_true.len())?;
        Ok(Self {
            labels: class_names.to_vec(),
            counts: tally.rows(),
        })
    }

    /// Number of classes (rows).
    pub fn n_classes(&self) -> usize {
        self.labels.len()
    }

    /// Total number of samples counted.
    pub fn n_samples(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }

    /// Fraction of samples on the diagonal (`accuracy_score`).
    pub fn accuracy(&self) -> f64 {
        Tally::from_rows(&self.counts).accuracy()
    }

    /// Mean recall over the classes that occur in `y_true` (`balanced_accuracy_score`).
    pub fn balanced_accuracy(&self) -> f64 {
        classification::balanced_accuracy_from_tally(&Tally::from_rows(&self.counts))
    }

    /// Matthews correlation coefficient, multiclass (`matthews_corrcoef`); 0 when undefined.
    pub fn matthews_corrcoef(&self) -> f64 {
        classification::matthews_corrcoef_from_tally(&Tally::from_rows(&self.counts))
    }

    /// Cohen's kappa (`cohen_kappa_score`); `None` when only one label occurs, where it is
    /// undefined.
    pub fn cohen_kappa(&self) -> Option<f64> {
        classification::cohen_kappa_from_tally(&Tally::from_rows(&self.counts))
    }

    /// Each row divided by its sum, so that a cell is the fraction of a true class predicted
    /// as each class. Rows of classes that never occur in `y_true` are all zero.
    pub fn row_normalized(&self) -> Vec<Vec<f64>> {
        self.counts
            .iter()
            .map(|row| {
                let row_total: u64 = row.iter().sum();
                row.iter()
                    .map(|&count| {
                        if row_total == 0 {
                            0.0
                        } else {
                            count as f64 / row_total as f64
                        }
                    })
                    .collect()
            })
            .collect()
    }

    /// The matrix as CSV: a header row `true/predicted,<labels...>`, then one row per true
    /// label starting with that label. Labels holding commas, quotes or line breaks are quoted.
    pub fn to_csv(&self) -> String {
        let mut csv = String::from("true/predicted");
        for label in &self.labels {
            csv.push(',');
            csv.push_str(&csv_field(label));
        }
        csv.push('\n');
        for (label, row) in self.labels.iter().zip(&self.counts) {
            csv.push_str(&csv_field(label));
            for count in row {
                csv.push(',');
                csv.push_str(&count.to_string());
            }
            csv.push('\n');
        }
        csv
    }
}

/// Quotes a CSV field when it needs quoting (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// A square matrix of counts in one flat buffer, the working form of a confusion matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tally {
    n_classes: usize,
    /// Row-major: `cells[true_idx * n_classes + pred_idx]`.
    cells: Vec<u64>,
}

impl Tally {
    /// A tally of `n_classes` classes with no samples.
    pub(crate) fn zeros(n_classes: usize) -> Self {
        Self {
            n_classes,
            cells: vec![0; n_classes * n_classes],
        }
    }

    /// Counts class indices, checking lengths and that every index is below `n_classes`.
    pub(crate) fn from_indices(
        y_true: &[usize],
        y_pred: &[usize],
        n_classes: usize,
    ) -> Result<Self, Error> {
        let mut tally = Self::zeros(n_classes);
        tally.add_indices(y_true, y_pred)?;
        Ok(tally)
    }

    /// Adds class indices to the counts. Checks everything before counting anything, so that
    /// an error leaves the counts as they were.
    pub(crate) fn add_indices(&mut self, y_true: &[usize], y_pred: &[usize]) -> Result<(), Error> {
        check_same_length("y_true", y_true.len(), "y_pred", y_pred.len())?;
        check_class_indices("y_true", y_true, self.n_classes)?;
        check_class_indices("y_pred", y_pred, self.n_classes)?;
        let n_classes = self.n_classes;
        for (&true_idx, &pred_idx) in y_true.iter().zip(y_pred) {
            self.cells[true_idx * n_classes + pred_idx] += 1;
        }
        Ok(())
    }

    /// Counts labels through a label set that holds every label present.
    pub(crate) fn from_labels<L: Ord>(y_true: &[L], y_pred: &[L], label_set: &LabelSet<L>) -> Self {
        let n_classes = label_set.ordered.len();
        let mut tally = Self::zeros(n_classes);
        for (true_label, pred_label) in y_true.iter().zip(y_pred) {
            let true_idx = label_set.index_of(true_label);
            let pred_idx = label_set.index_of(pred_label);
            tally.cells[true_idx * n_classes + pred_idx] += 1;
        }
        tally
    }

    /// A tally from the rows of a [`ConfusionMatrix`].
    ///
    /// # Panics
    /// If the rows do not form a square matrix.
    pub(crate) fn from_rows(rows: &[Vec<u64>]) -> Self {
        let n_classes = rows.len();
        let mut cells = Vec::with_capacity(n_classes * n_classes);
        for row in rows {
            assert_eq!(
                row.len(),
                n_classes,
                "a confusion matrix must be square: {n_classes} rows but a row of {}",
                row.len()
            );
            cells.extend_from_slice(row);
        }
        Self { n_classes, cells }
    }

    /// The counts as rows, for a [`ConfusionMatrix`].
    pub(crate) fn rows(&self) -> Vec<Vec<u64>> {
        if self.n_classes == 0 {
            return Vec::new();
        }
        self.cells
            .chunks_exact(self.n_classes)
            .map(<[u64]>::to_vec)
            .collect()
    }

    pub(crate) fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// Samples of true class `true_idx` predicted as `pred_idx`.
    pub(crate) fn get(&self, true_idx: usize, pred_idx: usize) -> u64 {
        self.cells[true_idx * self.n_classes + pred_idx]
    }

    /// Samples per true class (the support).
    pub(crate) fn true_sums(&self) -> Vec<u64> {
        (0..self.n_classes)
            .map(|true_idx| {
                let start = true_idx * self.n_classes;
                self.cells[start..start + self.n_classes].iter().sum()
            })
            .collect()
    }

    /// Samples per predicted class.
    pub(crate) fn pred_sums(&self) -> Vec<u64> {
        let mut sums = vec![0; self.n_classes];
        for row in self.cells.chunks_exact(self.n_classes.max(1)) {
            for (sum, &count) in sums.iter_mut().zip(row) {
                *sum += count;
            }
        }
        sums
    }

    /// Correct predictions, over all classes.
    pub(crate) fn trace(&self) -> u64 {
        (0..self.n_classes).map(|idx| self.get(idx, idx)).sum()
    }

    /// All samples.
    pub(crate) fn total(&self) -> u64 {
        self.cells.iter().sum()
    }

    /// Correct predictions over all samples; NaN when there are none.
    pub(crate) fn accuracy(&self) -> f64 {
        self.trace() as f64 / self.total() as f64
    }
}

/// Returns an error for the first index that is not below `n_classes`.
pub(crate) fn check_class_indices(
    what: &'static str,
    class_indices: &[usize],
    n_classes: usize,
) -> Result<(), Error> {
    // A branch-free maximum first keeps the common, valid case fast.
    let max_idx = class_indices.iter().copied().max().unwrap_or(0);
    if class_indices.is_empty() || max_idx < n_classes {
        return Ok(());
    }
    let position = class_indices
        .iter()
        .position(|&class_idx| class_idx >= n_classes)
        .expect("the maximum is out of range");
    Err(Error::ClassOutOfRange {
        what,
        position,
        class_idx: class_indices[position],
        n_classes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_rows_true_columns_predicted() {
        let confusion_matrix = ConfusionMatrix::new(&[2, 0, 2, 1], &[2, 2, 1, 1]).unwrap();
        assert_eq!(confusion_matrix.labels, ["0", "1", "2"]);
        assert_eq!(confusion_matrix.counts, [[0, 0, 1], [0, 1, 0], [0, 1, 1]]);
        assert_eq!(confusion_matrix.n_samples(), 4);
        assert_eq!(confusion_matrix.accuracy(), 0.5);
    }

    #[test]
    fn from_indices_keeps_absent_classes() {
        let names = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let confusion_matrix = ConfusionMatrix::from_indices(&[0, 0], &[0, 2], &names).unwrap();
        assert_eq!(confusion_matrix.counts, [[1, 0, 1], [0, 0, 0], [0, 0, 0]]);
        assert_eq!(
            confusion_matrix.row_normalized(),
            [[0.5, 0.0, 0.5], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
        );
    }

    #[test]
    fn out_of_range_index_is_an_error_and_counts_nothing() {
        let mut tally = Tally::zeros(2);
        let result = tally.add_indices(&[0, 1, 1], &[0, 2, 1]);
        assert_eq!(
            result,
            Err(Error::ClassOutOfRange {
                what: "y_pred",
                position: 1,
                class_idx: 2,
                n_classes: 2
            })
        );
        assert_eq!(tally.total(), 0);
    }

    #[test]
    fn csv_quotes_labels_that_need_it() {
        let confusion_matrix = ConfusionMatrix {
            labels: vec!["a,b".to_owned(), "say \"hi\"".to_owned()],
            counts: vec![vec![1, 2], vec![3, 4]],
        };
        assert_eq!(
            confusion_matrix.to_csv(),
            "true/predicted,\"a,b\",\"say \"\"hi\"\"\"\n\"a,b\",1,2\n\"say \"\"hi\"\"\",3,4\n"
        );
    }

    #[test]
    fn mismatched_lengths_are_an_error() {
        let result = ConfusionMatrix::new(&[1, 2], &[1]);
        assert!(matches!(result, Err(Error::LengthMismatch { .. })));
        let result = ConfusionMatrix::new::<i64>(&[], &[]);
        assert_eq!(result, Err(Error::Empty { what: "y_true" }));
    }
}

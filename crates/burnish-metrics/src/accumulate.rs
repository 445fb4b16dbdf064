//! Accumulators that take predictions batch after batch during evaluation and give the
//! metrics of everything seen at the end.
//!
//! They hold counts (classification), the values themselves (regression, whose R² needs the
//! mean of all targets first) or a running sum (cross-entropy). A batch with bad inputs is
//! rejected whole and leaves the accumulator as it was.

use crate::confusion::Tally;
use crate::error::check_same_length;
use crate::language_model::{perplexity, token_cross_entropies};
use crate::numeric::numpy_sum;
use crate::summary::{ClassificationSummary, LanguageModelSummary, RegressionSummary};
use crate::{
    ClassificationReport, ConfusionMatrix, Error, RegressionMetrics, ReportOptions, ZeroDivision,
};

/// Counts class-index predictions over batches into a confusion matrix.
///
/// ```
/// use burnish_metrics::{ClassificationAccumulator, ReportOptions};
///
/// let class_names = vec!["cat".to_owned(), "dog".to_owned(), "bird".to_owned()];
/// let mut accumulator = ClassificationAccumulator::new(class_names.len());
/// accumulator.update(&[0, 1], &[0, 1])?;
/// accumulator.update(&[2, 2], &[1, 2])?;
/// let report = accumulator.report(&class_names, &ReportOptions::default())?;
/// assert_eq!(report.accuracy, 0.75);
/// # Ok::<(), burnish_metrics::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassificationAccumulator {
    tally: Tally,
}

impl ClassificationAccumulator {
    /// An empty accumulator for class indices `0..n_classes`.
    pub fn new(n_classes: usize) -> Self {
        Self {
            tally: Tally::zeros(n_classes),
        }
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.tally.n_classes()
    }

    /// Number of samples counted so far.
    pub fn n_samples(&self) -> u64 {
        self.tally.total()
    }

    /// Counts one batch of true and predicted class indices.
    ///
    /// Returns an error, and counts nothing, if the slices differ in length or hold an index
    /// that is not below `n_classes`.
    pub fn update(&mut self, y_true: &[usize], y_pred: &[usize]) -> Result<(), Error> {
        self.tally.add_indices(y_true, y_pred)
    }

    /// The confusion matrix so far, with one row and column per class name.
    pub fn confusion_matrix(&self, class_names: &[String]) -> Result<ConfusionMatrix, Error> {
        self.check_names(class_names)?;
        Ok(ConfusionMatrix {
            labels: class_names.to_vec(),
            counts: self.tally.rows(),
        })
    }

    /// The classification report so far, every class in index order, as
    /// [`ClassificationReport::from_indices`] gives it.
    ///
    /// Returns an error if there is not one name per class or nothing was counted.
    pub fn report(
        &self,
        class_names: &[String],
        options: &ReportOptions,
    ) -> Result<ClassificationReport, Error> {
        self.check_names(class_names)?;
        if self.tally.total() == 0 {
            return Err(Error::Empty {
                what: "accumulator",
            });
        }
        Ok(ClassificationReport::from_tally(
            &self.tally,
            class_names.to_vec(),
            true,
            options,
        ))
    }

    /// The `metrics.json` summary so far.
    pub fn summary(
        &self,
        class_names: &[String],
        zero_division: ZeroDivision,
    ) -> Result<ClassificationSummary, Error> {
        ClassificationSummary::new(&self.confusion_matrix(class_names)?, zero_division)
    }

    fn check_names(&self, class_names: &[String]) -> Result<(), Error> {
        if class_names.len() == self.n_classes() {
            return Ok(());
        }
        Err(Error::NamesMismatch {
            n_names: class_names.len(),
            n_classes: self.n_classes(),
        })
    }
}

/// Collects regression targets and predictions over batches.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RegressionAccumulator {
    y_true: Vec<f64>,
    y_pred: Vec<f64>,
}

impl RegressionAccumulator {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of samples collected so far.
    pub fn n_samples(&self) -> usize {
        self.y_true.len()
    }

    /// Adds one batch. Returns an error, and adds nothing, if the slices differ in length.
    pub fn update(&mut self, y_true: &[f64], y_pred: &[f64]) -> Result<(), Error> {
        check_same_length("y_true", y_true.len(), "y_pred", y_pred.len())?;
        self.y_true.extend_from_slice(y_true);
        self.y_pred.extend_from_slice(y_pred);
        Ok(())
    }

    /// The metrics of everything collected; an error if nothing was.
    pub fn metrics(&self) -> Result<RegressionMetrics, Error> {
        RegressionMetrics::new(&self.y_true, &self.y_pred)
    }

    /// The `metrics.json` summary of everything collected.
    pub fn summary(&self) -> Result<RegressionSummary, Error> {
        Ok(RegressionSummary {
            n_samples: self.n_samples(),
            metrics: self.metrics()?,
        })
    }
}

/// Sums cross-entropy over batches of tokens, for the mean cross-entropy and perplexity of an
/// evaluation.
///
/// ```
/// use burnish_metrics::CrossEntropyAccumulator;
///
/// let mut accumulator = CrossEntropyAccumulator::new();
/// accumulator.update(2.0, 10); // a batch of 10 tokens with mean loss 2.0 nats
/// accumulator.update(1.0, 30);
/// assert_eq!(accumulator.mean_cross_entropy()?, 1.25);
/// # Ok::<(), burnish_metrics::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CrossEntropyAccumulator {
    total_nats: f64,
    n_tokens: u64,
}

impl CrossEntropyAccumulator {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a batch of `n_tokens` tokens whose mean cross-entropy is `mean_cross_entropy`
    /// nats, such as the value of a mean-reduced cross-entropy loss.
    pub fn update(&mut self, mean_cross_entropy: f64, n_tokens: usize) {
        self.total_nats += mean_cross_entropy * n_tokens as f64;
        self.n_tokens += n_tokens as u64;
    }

    /// Adds a batch given as logits: `targets.len()` rows of `n_classes` (row-major).
    ///
    /// Returns an error, and adds nothing, under the conditions of
    /// [`crate::cross_entropy_from_logits`].
    pub fn update_logits(
        &mut self,
        targets: &[usize],
        logits: &[f64],
        n_classes: usize,
    ) -> Result<(), Error> {
        let token_losses = token_cross_entropies(targets, logits, n_classes)?;
        self.total_nats += numpy_sum(&token_losses);
        self.n_tokens += targets.len() as u64;
        Ok(())
    }

    /// Number of tokens added so far.
    pub fn n_tokens(&self) -> u64 {
        self.n_tokens
    }

    /// Mean cross-entropy per token, in nats; an error if no token was added.
    pub fn mean_cross_entropy(&self) -> Result<f64, Error> {
        if self.n_tokens == 0 {
            return Err(Error::Empty {
                what: "accumulator",
            });
        }
        Ok(self.total_nats / self.n_tokens as f64)
    }

    /// Perplexity, `exp` of the mean cross-entropy.
    pub fn perplexity(&self) -> Result<f64, Error> {
        Ok(perplexity(self.mean_cross_entropy()?))
    }

    /// The `metrics.json` summary.
    pub fn summary(&self) -> Result<LanguageModelSummary, Error> {
        let cross_entropy = self.mean_cross_entropy()?;
        Ok(LanguageModelSummary {
            n_tokens: self.n_tokens,
            cross_entropy,
            perplexity: perplexity(cross_entropy),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n_classes: usize) -> Vec<String> {
        (0..n_classes)
            .map(|class_idx| format!("class_{class_idx}"))
            .collect()
    }

    #[test]
    fn batches_give_the_same_report_as_one_slice() {
        let y_true = [0, 1, 2, 2, 1, 0, 3, 3, 1];
        let y_pred = [0, 2, 2, 1, 1, 0, 3, 0, 1];
        let options = ReportOptions::default();
        let whole =
            ClassificationReport::from_indices(&y_true, &y_pred, &names(4), &options).unwrap();
        let mut accumulator = ClassificationAccumulator::new(4);
        for (true_batch, pred_batch) in y_true.chunks(4).zip(y_pred.chunks(4)) {
            accumulator.update(true_batch, pred_batch).unwrap();
        }
        assert_eq!(accumulator.n_samples(), 9);
        assert_eq!(accumulator.report(&names(4), &options).unwrap(), whole);
        let confusion_matrix = accumulator.confusion_matrix(&names(4)).unwrap();
        assert_eq!(
            confusion_matrix,
            ConfusionMatrix::from_indices(&y_true, &y_pred, &names(4)).unwrap()
        );
    }

    #[test]
    fn a_bad_batch_changes_nothing() {
        let mut accumulator = ClassificationAccumulator::new(2);
        accumulator.update(&[0, 1], &[1, 1]).unwrap();
        let before = accumulator.clone();
        assert!(accumulator.update(&[0, 5], &[0, 0]).is_err());
        assert!(accumulator.update(&[0], &[0, 0]).is_err());
        assert_eq!(accumulator, before);
        assert!(matches!(
            accumulator.report(&names(3), &ReportOptions::default()),
            Err(Error::NamesMismatch {
                n_names: 3,
                n_classes: 2
            })
        ));
    }

    #[test]
    fn an_empty_accumulator_is_an_error() {
        let accumulator = ClassificationAccumulator::new(2);
        assert!(matches!(
            accumulator.report(&names(2), &ReportOptions::default()),
            Err(Error::Empty { .. })
        ));
        assert!(CrossEntropyAccumulator::new().perplexity().is_err());
        assert!(RegressionAccumulator::new().metrics().is_err());
    }

    #[test]
    fn regression_batches_match_one_slice() {
        let y_true = [3.0, -0.5, 2.0, 7.0, 1.5];
        let y_pred = [2.5, 0.0, 2.0, 8.0, 1.0];
        let mut accumulator = RegressionAccumulator::new();
        accumulator.update(&y_true[..2], &y_pred[..2]).unwrap();
        accumulator.update(&y_true[2..], &y_pred[2..]).unwrap();
        assert!(accumulator.update(&[1.0], &[]).is_err());
        let summary = accumulator.summary().unwrap();
        assert_eq!(summary.n_samples, 5);
        assert_eq!(
            summary.metrics,
            RegressionMetrics::new(&y_true, &y_pred).unwrap()
        );
    }

    #[test]
    fn cross_entropy_from_logits_batches() {
        let mut accumulator = CrossEntropyAccumulator::new();
        accumulator.update_logits(&[0, 1], &[0.0; 4], 2).unwrap();
        accumulator.update(2.0_f64.ln(), 2);
        let summary = accumulator.summary().unwrap();
        assert_eq!(summary.n_tokens, 4);
        assert!((summary.perplexity - 2.0).abs() < 1e-12);
    }
}

//! What the model is trained to do, and the loss that measures it.

use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::tensor::{Device, Tensor};
use burnish_data::BatchTargets;

/// The learning task, which fixes the loss and the per-epoch metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objective {
    /// Pick one of `n_classes` classes; cross-entropy loss, accuracy.
    Classification {
        /// The number of classes.
        n_classes: usize,
    },
    /// Predict one number; mean squared error.
    Regression,
}

impl Objective {
    /// The model's output width.
    pub fn d_output(self) -> usize {
        match self {
            Self::Classification { n_classes } => n_classes,
            Self::Regression => 1,
        }
    }

    /// The history columns each epoch records, besides `epoch` and `lr`.
    pub fn metric_names(self) -> &'static [&'static str] {
        match self {
            Self::Classification { .. } => &["train_loss", "valid_loss", "valid_accuracy"],
            Self::Regression => &["train_loss", "valid_loss", "valid_rmse"],
        }
    }
}

/// The loss of an objective, built once per run.
#[derive(Clone)]
pub(crate) struct Loss {
    cross_entropy: CrossEntropyLoss,
}

impl Loss {
    /// The plain loss: unweighted, unsmoothed (what validation reports).
    pub(crate) fn new(device: &Device) -> Self {
        Self::weighted(None, 0.0, device)
    }

    /// The training loss, with optional class weights and label smoothing; for classes both
    /// follow PyTorch's `cross_entropy` (the weighted mean divides by the targets' weights).
    pub(crate) fn weighted(
        class_weights: Option<Vec<f32>>,
        label_smoothing: f64,
        device: &Device,
    ) -> Self {
        let config = CrossEntropyLossConfig::new()
            .with_weights(class_weights)
            .with_smoothing((label_smoothing > 0.0).then_some(label_smoothing as f32));
        Self {
            cross_entropy: config.init(device),
        }
    }

    /// The mean loss of a batch.
    ///
    /// # Shapes
    /// - `outputs`: `[batch, d_output]`
    /// - output: `[1]`
    pub(crate) fn forward(&self, outputs: Tensor<2>, targets: BatchTargets) -> Tensor<1> {
        match targets {
            BatchTargets::Classes(classes) => self.cross_entropy.forward(outputs, classes),
            BatchTargets::Values(values) => (outputs - values).powi_scalar(2).mean(),
        }
    }
}

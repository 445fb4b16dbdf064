//! Running a trained model over rows it has not seen.

use burn::tensor::Device;
use burn::tensor::activation::softmax;
use burnish_data::{EpochOrder, Features, feature_rows};
use burnish_models::{Model, ModelInput};

use crate::Objective;

/// A model's outputs for every row, in row order.
#[derive(Debug, Clone, PartialEq)]
pub enum Predictions {
    /// The predicted class of each row and the probability of every class.
    Classes {
        /// The most probable class index of each row.
        classes: Vec<usize>,
        /// Row-major `[n_rows, n_classes]` class probabilities (softmax of the logits).
        probabilities: Vec<f32>,
        /// The number of classes.
        n_classes: usize,
    },
    /// The predicted value of each row.
    Values(Vec<f32>),
}

/// Runs `model` (the inference copy: `model.valid()`) over `features` on `device`.
pub fn predict(
    model: &Model,
    features: &Features,
    objective: Objective,
    batch_size: usize,
    device: &Device,
) -> Predictions {
    predict_inputs(
        model,
        features.n_rows,
        |rows| ModelInput::Features(feature_rows(features, rows, device)),
        objective,
        batch_size,
    )
}

/// Predicts `n_rows` examples in batches of `batch_size`, `inputs` building each batch's
/// input from its row indices (in order); [`predict`] is this for feature rows.
pub fn predict_inputs(
    model: &Model,
    n_rows: usize,
    mut inputs: impl FnMut(&[usize]) -> ModelInput,
    objective: Objective,
    batch_size: usize,
) -> Predictions {
    let mut outputs: Vec<f32> = Vec::with_capacity(n_rows * objective.d_output());
    for rows in EpochOrder::sequential(n_rows).batches(batch_size, false) {
        let batch_outputs = model.forward(inputs(rows));
        let batch_outputs = match objective {
            Objective::Classification { .. } => softmax(batch_outputs, 1),
            Objective::Regression => batch_outputs,
        };
        outputs.extend(
            batch_outputs
                .into_data()
                .try_into_vec::<f32>()
                .expect("model outputs are f32"),
        );
    }
    match objective {
        Objective::Classification { n_classes } => {
            let classes = outputs
                .chunks(n_classes)
                .map(|row| {
                    row.iter()
                        .enumerate()
                        .fold((0, f32::NEG_INFINITY), |best, (class, &p)| {
                            if p > best.1 { (class, p) } else { best }
                        })
                        .0
                })
                .collect();
            Predictions::Classes {
                classes,
                probabilities: outputs,
                n_classes,
            }
        }
        Objective::Regression => Predictions::Values(outputs),
    }
}

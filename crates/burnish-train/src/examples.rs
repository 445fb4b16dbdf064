//! What the training loop reads: any data set that can hand over a batch of examples by their
//! row numbers, as model inputs and targets.
//!
//! Each kind of data of `burnish-data` (feature rows, padded texts, series windows, images,
//! windows of a token stream) becomes an [`Examples`] here, so that one loop trains every
//! model of the zoo. A language model predicts every position of a window, so its targets are
//! flattened to one class per position, matching the `[batch * time, vocab]` rows the model
//! returns.

use burn::tensor::Device;
use burnish_data::{
    BatchTargets, ImageDataset, SeriesDataset, TabularDataset, Targets, TextDataset,
    TokenStreamDataset,
};
use burnish_models::ModelInput;

/// A batch of model inputs with their targets.
#[derive(Debug, Clone)]
pub struct Batch {
    /// What the model reads.
    pub inputs: ModelInput,
    /// What it should output: one class or one row of values per output row.
    pub targets: BatchTargets,
}

/// A data set the training loop can draw batches from.
pub trait Examples {
    /// The number of examples; rows `0..n_examples()` can be batched.
    fn n_examples(&self) -> usize;

    /// The examples at `rows`, in that order, on `device`.
    ///
    /// # Panics
    /// When a row is out of range.
    fn batch(&self, rows: &[usize], device: &Device) -> Batch;

    /// The class of every example, for class weights; `None` when the targets are not classes.
    fn classes(&self) -> Option<&[usize]>;
}

fn classes_of(targets: &Targets) -> Option<&[usize]> {
    match targets {
        Targets::Classes(classes) => Some(classes),
        Targets::Values(_) => None,
    }
}

impl Examples for TabularDataset {
    fn n_examples(&self) -> usize {
        self.n_rows()
    }

    fn batch(&self, rows: &[usize], device: &Device) -> Batch {
        let batch = TabularDataset::batch(self, rows, device);
        Batch {
            inputs: ModelInput::Features(batch.inputs),
            targets: batch.targets,
        }
    }

    fn classes(&self) -> Option<&[usize]> {
        classes_of(self.targets())
    }
}

impl Examples for TextDataset {
    fn n_examples(&self) -> usize {
        self.n_rows()
    }

    fn batch(&self, rows: &[usize], device: &Device) -> Batch {
        let batch = TextDataset::batch(self, rows, device);
        Batch {
            inputs: ModelInput::Tokens {
                ids: batch.ids,
                padding: Some(batch.padding_mask),
            },
            targets: batch.targets,
        }
    }

    fn classes(&self) -> Option<&[usize]> {
        classes_of(self.targets())
    }
}

impl Examples for SeriesDataset {
    fn n_examples(&self) -> usize {
        self.n_windows()
    }

    fn batch(&self, rows: &[usize], device: &Device) -> Batch {
        let batch = SeriesDataset::batch(self, rows, device);
        Batch {
            inputs: ModelInput::Series(batch.inputs),
            targets: BatchTargets::Values(batch.targets),
        }
    }

    fn classes(&self) -> Option<&[usize]> {
        None
    }
}

impl Examples for ImageDataset {
    fn n_examples(&self) -> usize {
        self.n_images()
    }

    fn batch(&self, rows: &[usize], device: &Device) -> Batch {
        let batch = ImageDataset::batch(self, rows, device);
        Batch {
            inputs: ModelInput::Images(batch.images),
            targets: batch.targets,
        }
    }

    fn classes(&self) -> Option<&[usize]> {
        classes_of(self.targets())
    }
}

/// A token stream cut into non-overlapping windows of `context_len` ids: example `i` is the
/// window starting at id `i * context_len`, and its targets are the same ids shifted by one.
/// Every id of the stream (but the last) is thus predicted exactly once per epoch.
impl Examples for TokenStreamDataset {
    fn n_examples(&self) -> usize {
        (self.ids().len() - 1) / self.context_len()
    }

    fn batch(&self, rows: &[usize], device: &Device) -> Batch {
        let starts: Vec<usize> = rows.iter().map(|row| row * self.context_len()).collect();
        let batch = TokenStreamDataset::batch(self, &starts, device);
        let [n_rows, context_len] = batch.targets.dims();
        Batch {
            inputs: ModelInput::Tokens {
                ids: batch.inputs,
                padding: None,
            },
            targets: BatchTargets::Classes(batch.targets.reshape([n_rows * context_len])),
        }
    }

    /// Next-token targets are classes, but weighting a vocabulary is not supported.
    fn classes(&self) -> Option<&[usize]> {
        None
    }
}

//! What the training loop reads: any data set that can hand over a batch of examples by their
//! row numbers, as model inputs and targets.
//!
//! Each kind of data of `burnish-data` (feature rows, padded texts, series windows, images,
//! windows of a token stream) becomes an [`Examples`] here, so that one loop trains every
//! model of the zoo. A language model predicts every position of a window, so its targets are
//! flattened to one class per position, matching the `[batch * time, vocab]` rows the model
//! returns.
//!
//! Data sets held in memory cannot fail to hand over a batch; a token file read from disk
//! ([`TokenFileStream`]) can, so [`Examples::batch`] returns a `Result`.

use burn::tensor::{Device, Int, Tensor, TensorData};
use burnish_data::{
    BatchTargets, ImageDataset, SeriesDataset, TabularDataset, Targets, TextDataset,
    TokenFileStream, TokenStreamDataset,
};
use burnish_models::ModelInput;

use crate::Error;

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

    /// The examples at `rows`, in that order, on `device`. Fails only when the examples are
    /// read from a file and the read fails or finds the file changed or corrupt.
    ///
    /// # Panics
    /// When a row is out of range.
    fn batch(&self, rows: &[usize], device: &Device) -> Result<Batch, Error>;

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

    fn batch(&self, rows: &[usize], device: &Device) -> Result<Batch, Error> {
        let batch = TabularDataset::batch(self, rows, device);
        Ok(Batch {
            inputs: ModelInput::Features(batch.inputs),
            targets: batch.targets,
        })
    }

    fn classes(&self) -> Option<&[usize]> {
        classes_of(self.targets())
    }
}

impl Examples for TextDataset {
    fn n_examples(&self) -> usize {
        self.n_rows()
    }

    fn batch(&self, rows: &[usize], device: &Device) -> Result<Batch, Error> {
        let batch = TextDataset::batch(self, rows, device);
        Ok(Batch {
            inputs: ModelInput::Tokens {
                ids: batch.ids,
                padding: Some(batch.padding_mask),
            },
            targets: batch.targets,
        })
    }

    fn classes(&self) -> Option<&[usize]> {
        classes_of(self.targets())
    }
}

impl Examples for SeriesDataset {
    fn n_examples(&self) -> usize {
        self.n_windows()
    }

    fn batch(&self, rows: &[usize], device: &Device) -> Result<Batch, Error> {
        let batch = SeriesDataset::batch(self, rows, device);
        Ok(Batch {
            inputs: ModelInput::Series(batch.inputs),
            targets: BatchTargets::Values(batch.targets),
        })
    }

    fn classes(&self) -> Option<&[usize]> {
        None
    }
}

impl Examples for ImageDataset {
    fn n_examples(&self) -> usize {
        self.n_images()
    }

    fn batch(&self, rows: &[usize], device: &Device) -> Result<Batch, Error> {
        let batch = ImageDataset::batch(self, rows, device);
        Ok(Batch {
            inputs: ModelInput::Images(batch.images),
            targets: batch.targets,
        })
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

    fn batch(&self, rows: &[usize], device: &Device) -> Result<Batch, Error> {
        let starts: Vec<usize> = rows.iter().map(|row| row * self.context_len()).collect();
        let batch = TokenStreamDataset::batch(self, &starts, device);
        Ok(next_token_batch(batch.inputs, batch.targets))
    }

    /// Next-token targets are classes, but weighting a vocabulary is not supported.
    fn classes(&self) -> Option<&[usize]> {
        None
    }
}

/// A token file cut as [`TokenStreamDataset`] cuts ids held in memory: example `i` is the
/// window starting at id `i * context_len`. Only the batch's windows are read; a failed read,
/// an id beyond the vocabulary or a file changed since it was opened is an error naming the
/// file. The same ids give the same batches as the in-memory stream, bit for bit.
impl Examples for TokenFileStream {
    fn n_examples(&self) -> usize {
        ((self.n_ids() - 1) / self.context_len() as u64) as usize
    }

    fn batch(&self, rows: &[usize], device: &Device) -> Result<Batch, Error> {
        self.check_unchanged()?;
        let starts: Vec<usize> = rows.iter().map(|row| row * self.context_len()).collect();
        let (inputs, targets) = self.read_windows(&starts)?;
        let shape = [rows.len(), self.context_len()];
        let tensor =
            |ids: Vec<i64>| Tensor::<2, Int>::from_data(TensorData::new(ids, shape), device);
        Ok(next_token_batch(tensor(inputs), tensor(targets)))
    }

    fn classes(&self) -> Option<&[usize]> {
        None
    }
}

/// A language model's batch: windows of ids in, and their next ids flattened to one class per
/// position, as the model returns one row of scores per position.
fn next_token_batch(inputs: Tensor<2, Int>, targets: Tensor<2, Int>) -> Batch {
    let [n_rows, context_len] = targets.dims();
    Batch {
        inputs: ModelInput::Tokens {
            ids: inputs,
            padding: None,
        },
        targets: BatchTargets::Classes(targets.reshape([n_rows * context_len])),
    }
}

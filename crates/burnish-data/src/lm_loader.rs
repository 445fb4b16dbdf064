//! Feeding one long stream of token ids to a causal language model: every window of
//! `context_len` ids is an input, and the same window shifted by one token is its target.
//!
//! Window `start` holds `ids[start..start + context_len]` as inputs and
//! `ids[start + 1..start + context_len + 1]` as targets, so a stream of `n` ids has
//! `n - context_len` windows. Like nanoGPT, a training loop draws a fresh batch of random
//! windows at every step ([`TokenStreamDataset::random_starts`]); the draw depends only on the
//! seed and the step, so a run resumed at any step sees the batches an uninterrupted run would
//! have seen. Burn's data loaders can instead walk every window through [`LmBatcher`]. This
//! module does not tokenize; [`crate::text`] does.

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::{Dataset, DatasetError};
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::Error;
use crate::split::SplitMix64;

/// One window of a token stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LmItem {
    /// `context_len` ids.
    pub inputs: Vec<i64>,
    /// The next id after each input: the inputs shifted left by one.
    pub targets: Vec<i64>,
}

/// A batch of windows on a device.
#[derive(Debug, Clone)]
pub struct LmBatch {
    /// `[batch, context_len]` input ids.
    pub inputs: Tensor<2, Int>,
    /// `[batch, context_len]` next-token ids.
    pub targets: Tensor<2, Int>,
}

/// Every window of `context_len` ids of one token stream.
///
/// ```
/// use burnish_data::TokenStreamDataset;
/// let dataset = TokenStreamDataset::new(&[10, 11, 12, 13, 14], 3)?;
/// assert_eq!(dataset.n_windows(), 2);
/// assert_eq!(dataset.window(1), (&[11, 12, 13][..], &[12, 13, 14][..]));
/// # Ok::<(), burnish_data::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenStreamDataset {
    ids: Vec<i64>,
    context_len: usize,
}

impl TokenStreamDataset {
    /// The windows of `ids`; `context_len` must be at least 1 and below the number of ids (a
    /// window needs one more id for its last target).
    pub fn new(ids: &[usize], context_len: usize) -> Result<Self, Error> {
        if context_len == 0 {
            return Err(Error::InvalidParameter {
                field: "context_len",
                reason: "must be at least 1, found 0".to_string(),
            });
        }
        if ids.len() <= context_len {
            return Err(Error::InvalidParameter {
                field: "context_len",
                reason: format!(
                    "must be below the number of token ids ({}) to make one window with its \
                     next-token targets, found {context_len}",
                    ids.len()
                ),
            });
        }
        Ok(Self {
            ids: ids.iter().map(|&id| id as i64).collect(),
            context_len,
        })
    }

    /// The number of windows: the number of ids minus `context_len`.
    pub fn n_windows(&self) -> usize {
        self.ids.len() - self.context_len
    }

    /// The length of every window.
    pub fn context_len(&self) -> usize {
        self.context_len
    }

    /// The whole stream.
    pub fn ids(&self) -> &[i64] {
        &self.ids
    }

    /// The inputs and targets of the window that starts at `start`.
    ///
    /// # Panics
    /// When `start >= self.n_windows()`.
    pub fn window(&self, start: usize) -> (&[i64], &[i64]) {
        assert!(
            start < self.n_windows(),
            "window {start} is out of range: the stream has {} windows",
            self.n_windows()
        );
        (
            &self.ids[start..start + self.context_len],
            &self.ids[start + 1..start + 1 + self.context_len],
        )
    }

    /// `batch_size` random window starts for training step `step`, drawn uniformly with
    /// replacement, as nanoGPT's `get_batch` does. The same `(seed, step)` always gives the
    /// same starts; another step gives others.
    pub fn random_starts(&self, batch_size: usize, seed: u64, step: usize) -> Vec<usize> {
        let step_seed = seed
            ^ (step as u64)
                .wrapping_add(1)
                .wrapping_mul(0x9FB2_1C65_1E98_DF25);
        let mut rng = SplitMix64::new(step_seed);
        let n_windows = self.n_windows() as u64;
        (0..batch_size)
            .map(|_| rng.below(n_windows) as usize)
            .collect()
    }

    /// Stacks the windows that start at `starts` into a batch on `device`, in that order.
    ///
    /// # Panics
    /// When a start is out of range.
    pub fn batch(&self, starts: &[usize], device: &Device) -> LmBatch {
        let context_len = self.context_len;
        let mut inputs = Vec::with_capacity(starts.len() * context_len);
        let mut targets = Vec::with_capacity(starts.len() * context_len);
        for &start in starts {
            let (window_inputs, window_targets) = self.window(start);
            inputs.extend_from_slice(window_inputs);
            targets.extend_from_slice(window_targets);
        }
        let shape = [starts.len(), context_len];
        LmBatch {
            inputs: Tensor::from_data(TensorData::new(inputs, shape), device),
            targets: Tensor::from_data(TensorData::new(targets, shape), device),
        }
    }
}

impl Dataset<LmItem> for TokenStreamDataset {
    fn get(&self, index: usize) -> Result<LmItem, DatasetError> {
        let (inputs, targets) = self.window(index);
        Ok(LmItem {
            inputs: inputs.to_vec(),
            targets: targets.to_vec(),
        })
    }

    fn len(&self) -> usize {
        self.n_windows()
    }
}

/// Stacks [`LmItem`]s into an [`LmBatch`] for Burn's data loaders.
#[derive(Debug, Clone, Copy, Default)]
pub struct LmBatcher;

impl Batcher<LmItem, LmBatch> for LmBatcher {
    /// # Panics
    /// When the windows have different lengths.
    fn batch(&self, items: Vec<LmItem>, device: &Device) -> LmBatch {
        let n_rows = items.len();
        let context_len = items.first().map_or(0, |item| item.inputs.len());
        let mut inputs = Vec::with_capacity(n_rows * context_len);
        let mut targets = Vec::with_capacity(n_rows * context_len);
        for item in &items {
            assert!(
                item.inputs.len() == context_len && item.targets.len() == context_len,
                "every window of a batch must have the same length"
            );
            inputs.extend_from_slice(&item.inputs);
            targets.extend_from_slice(&item.targets);
        }
        let shape = [n_rows, context_len];
        LmBatch {
            inputs: Tensor::from_data(TensorData::new(inputs, shape), device),
            targets: Tensor::from_data(TensorData::new(targets, shape), device),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_len_must_leave_room_for_a_target() {
        let error = TokenStreamDataset::new(&[1, 2, 3], 3).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid context_len: must be below the number of token ids (3) to make one window \
             with its next-token targets, found 3"
        );
        let error = TokenStreamDataset::new(&[1, 2, 3], 0).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid context_len: must be at least 1, found 0"
        );
        assert_eq!(
            TokenStreamDataset::new(&[1, 2, 3], 2).unwrap().n_windows(),
            1
        );
    }

    #[test]
    fn random_starts_are_seeded_per_step_and_in_range() {
        let ids: Vec<usize> = (0..100).collect();
        let dataset = TokenStreamDataset::new(&ids, 8).unwrap();
        let first = dataset.random_starts(64, 7, 0);
        assert_eq!(first, dataset.random_starts(64, 7, 0));
        assert_ne!(first, dataset.random_starts(64, 7, 1));
        assert_ne!(first, dataset.random_starts(64, 8, 0));
        assert!(first.iter().all(|&start| start < dataset.n_windows()));
        // Every window can be drawn, the last one included.
        let drawn: std::collections::BTreeSet<usize> = (0..200)
            .flat_map(|step| dataset.random_starts(64, 7, step))
            .collect();
        assert_eq!(drawn.len(), dataset.n_windows());
    }
}

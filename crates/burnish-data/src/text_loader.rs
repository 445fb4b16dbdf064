//! Feeding padded texts to Burn for classification (or regression): a [`Dataset`] of padded
//! id rows with their targets, and a [`Batcher`] that stacks them into a [`TextBatch`].
//!
//! The texts are padded once, up front ([`crate::pad_batch`]), so that every row has the same
//! length and a batch is a plain copy of its rows. The padding mask follows
//! [`crate::PaddedBatch`]: `true` marks a padded position, as Burn's `mask_pad` and PyTorch's
//! `key_padding_mask` expect. This module does not tokenize; [`crate::text`] does.

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::{Dataset, DatasetError};
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

use crate::loader::{stack_targets, target_rows, target_value};
use crate::{BatchTargets, PaddedBatch, TargetValue, Targets, Truncation, pad_batch};

/// One padded text and its target.
#[derive(Debug, Clone, PartialEq)]
pub struct TextItem {
    /// `max_len` ids; padded positions hold [`crate::PAD`].
    pub ids: Vec<i64>,
    /// `max_len` flags, `true` at padded positions.
    pub padding_mask: Vec<bool>,
    /// The text's target.
    pub target: TargetValue,
}

/// A batch of padded texts on a device.
#[derive(Debug, Clone)]
pub struct TextBatch {
    /// `[batch, max_len]` token ids.
    pub ids: Tensor<2, Int>,
    /// `[batch, max_len]`, `true` at padded positions.
    pub padding_mask: Tensor<2, Bool>,
    /// The targets of the batch's texts.
    pub targets: BatchTargets,
}

/// Padded texts with their targets, ready to be batched.
///
/// ```
/// use burnish_data::{Targets, TextDataset, Truncation};
/// let sequences = vec![vec![4, 5, 6], vec![7]];
/// let dataset = TextDataset::from_sequences(
///     &sequences,
///     2,
///     Truncation::Tail,
///     Targets::Classes(vec![1, 0]),
/// );
/// assert_eq!((dataset.n_rows(), dataset.max_len()), (2, 2));
/// assert_eq!(dataset.padded().row(1), &[7, 0]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TextDataset {
    padded: PaddedBatch,
    targets: Targets,
    /// Batches cut to their longest text (see [`TextDataset::trimmed`]).
    trimmed: bool,
}

impl TextDataset {
    /// Pairs padded texts with their targets, one per text.
    ///
    /// # Panics
    /// When the counts differ: both come from the same table, so a mismatch is a bug.
    pub fn new(padded: PaddedBatch, targets: Targets) -> Self {
        assert_eq!(
            padded.n_sequences(),
            targets.len(),
            "texts and targets must have the same number of rows"
        );
        Self {
            padded,
            targets,
            trimmed: false,
        }
    }

    /// The same texts, batched without the columns that are padding in every row of a batch
    /// (each batch as wide as its longest text): the same outputs, in less time, for a model
    /// whose outputs do not depend on padding it is told about (masked attention with masked
    /// pooling, such as a pretrained BERT), where texts are much shorter than `max_len`.
    pub fn trimmed(mut self) -> Self {
        self.trimmed = true;
        self
    }

    /// Pads (and truncates) id sequences to `max_len` as [`pad_batch`] does, then pairs them
    /// with their targets.
    ///
    /// # Panics
    /// When the counts differ.
    pub fn from_sequences(
        sequences: &[Vec<usize>],
        max_len: usize,
        truncation: Truncation,
        targets: Targets,
    ) -> Self {
        Self::new(pad_batch(sequences, max_len, truncation), targets)
    }

    /// The number of texts.
    pub fn n_rows(&self) -> usize {
        self.padded.n_sequences()
    }

    /// The length of every row.
    pub fn max_len(&self) -> usize {
        self.padded.max_len
    }

    /// The padded texts.
    pub fn padded(&self) -> &PaddedBatch {
        &self.padded
    }

    /// The targets.
    pub fn targets(&self) -> &Targets {
        &self.targets
    }

    /// Stacks the given texts into a batch on `device`, in the given order; what a training
    /// loop driven by [`crate::EpochOrder`] uses. [`TextBatcher`] does the same for Burn's
    /// data loaders.
    ///
    /// # Panics
    /// When a row is out of range.
    pub fn batch(&self, rows: &[usize], device: &Device) -> TextBatch {
        let (ids, padding_mask) = if self.trimmed {
            token_rows_trimmed(&self.padded, rows, device)
        } else {
            token_rows(&self.padded, rows, device)
        };
        TextBatch {
            ids,
            padding_mask,
            targets: target_rows(&self.targets, rows, device),
        }
    }
}

/// The ids and padding mask (`true` at padded positions) of the given rows of `padded`, in
/// that order, each `[rows.len(), max_len]`: the inputs of a batch when there are no targets
/// (prediction), as [`crate::feature_rows`] is for feature rows.
///
/// # Panics
/// When a row is out of range.
pub fn token_rows(
    padded: &PaddedBatch,
    rows: &[usize],
    device: &Device,
) -> (Tensor<2, Int>, Tensor<2, Bool>) {
    token_columns(padded, rows, padded.max_len, device)
}

/// [`token_rows`] without the columns that are padding in every one of the given rows:
/// `[rows.len(), width]`, `width` the longest of their lengths (at least 1).
///
/// # Panics
/// When a row is out of range.
pub fn token_rows_trimmed(
    padded: &PaddedBatch,
    rows: &[usize],
    device: &Device,
) -> (Tensor<2, Int>, Tensor<2, Bool>) {
    let width = rows
        .iter()
        .map(|&row| padded.lengths[row])
        .max()
        .unwrap_or(0)
        .clamp(1, padded.max_len.max(1));
    token_columns(padded, rows, width, device)
}

/// The first `width` columns of the given rows.
fn token_columns(
    padded: &PaddedBatch,
    rows: &[usize],
    width: usize,
    device: &Device,
) -> (Tensor<2, Int>, Tensor<2, Bool>) {
    let max_len = padded.max_len;
    let mut ids = Vec::with_capacity(rows.len() * width);
    let mut padding_mask = Vec::with_capacity(rows.len() * width);
    for &row in rows {
        let span = row * max_len..row * max_len + width;
        ids.extend_from_slice(&padded.ids[span.clone()]);
        padding_mask.extend_from_slice(&padded.mask[span]);
    }
    (
        Tensor::from_data(TensorData::new(ids, [rows.len(), width]), device),
        Tensor::from_data(TensorData::new(padding_mask, [rows.len(), width]), device),
    )
}

impl Dataset<TextItem> for TextDataset {
    fn get(&self, index: usize) -> Result<TextItem, DatasetError> {
        let max_len = self.padded.max_len;
        let span = index * max_len..(index + 1) * max_len;
        Ok(TextItem {
            ids: self.padded.ids[span.clone()].to_vec(),
            padding_mask: self.padded.mask[span].to_vec(),
            target: target_value(&self.targets, index),
        })
    }

    fn len(&self) -> usize {
        self.n_rows()
    }
}

/// Stacks [`TextItem`]s into a [`TextBatch`] for Burn's data loaders.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextBatcher;

impl Batcher<TextItem, TextBatch> for TextBatcher {
    /// # Panics
    /// When the items have different lengths.
    fn batch(&self, items: Vec<TextItem>, device: &Device) -> TextBatch {
        let n_rows = items.len();
        let max_len = items.first().map_or(0, |item| item.ids.len());
        let mut ids = Vec::with_capacity(n_rows * max_len);
        let mut padding_mask = Vec::with_capacity(n_rows * max_len);
        for item in &items {
            assert_eq!(
                item.ids.len(),
                max_len,
                "every text of a batch must be padded to the same length"
            );
            ids.extend_from_slice(&item.ids);
            padding_mask.extend_from_slice(&item.padding_mask);
        }
        TextBatch {
            ids: Tensor::from_data(TensorData::new(ids, [n_rows, max_len]), device),
            padding_mask: Tensor::from_data(
                TensorData::new(padding_mask, [n_rows, max_len]),
                device,
            ),
            targets: stack_targets(items.iter().map(|item| item.target), device),
        }
    }
}

//! Feeding preprocessed tables to Burn: a [`Dataset`] of rows, a [`Batcher`] that stacks them,
//! and [`EpochOrder`], the seeded order in which one epoch visits the rows.
//!
//! The other kinds of data have their own loaders beside this one, built the same way and
//! sharing [`BatchTargets`] and [`EpochOrder`]: [`crate::text_loader`],
//! [`crate::lm_loader`], [`crate::series_loader`] and [`crate::image_loader`].
//!
//! The order of epoch `e` depends only on the seed and `e`, so a run resumed at any epoch sees
//! exactly the batches an uninterrupted run would have seen.

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::split::SplitMix64;
use crate::{Features, Targets};

/// One preprocessed row and its target.
#[derive(Debug, Clone, PartialEq)]
pub struct TabularItem {
    /// The row's features, in the preprocessor's column order.
    pub features: Vec<f32>,
    /// The row's target.
    pub target: TargetValue,
}

/// The target of one row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TargetValue {
    /// A class index into the preprocessor's class names.
    Class(usize),
    /// A regression target.
    Value(f32),
}

/// A batch of rows on a device.
#[derive(Debug, Clone)]
pub struct TabularBatch {
    /// `[batch, n_features]`.
    pub inputs: Tensor<2>,
    /// The targets of the batch's rows.
    pub targets: BatchTargets,
}

/// The targets of a batch.
#[derive(Debug, Clone)]
pub enum BatchTargets {
    /// Class indices, `[batch]`.
    Classes(Tensor<1, Int>),
    /// Regression targets, `[batch, 1]`.
    Values(Tensor<2>),
}

/// Preprocessed features with their targets, ready to be batched.
#[derive(Debug, Clone, PartialEq)]
pub struct TabularDataset {
    features: Features,
    targets: Targets,
}

impl TabularDataset {
    /// Pairs features with targets; both must have one entry per row.
    ///
    /// # Panics
    /// When the row counts differ: both come from the same table, so a mismatch is a bug.
    pub fn new(features: Features, targets: Targets) -> Self {
        let n_targets = match &targets {
            Targets::Classes(classes) => classes.len(),
            Targets::Values(values) => values.len(),
        };
        assert_eq!(
            features.n_rows, n_targets,
            "features and targets must have the same number of rows"
        );
        Self { features, targets }
    }

    /// The number of rows.
    pub fn n_rows(&self) -> usize {
        self.features.n_rows
    }

    /// The number of feature columns.
    pub fn n_features(&self) -> usize {
        self.features.n_cols
    }

    /// The features.
    pub fn features(&self) -> &Features {
        &self.features
    }

    /// The targets.
    pub fn targets(&self) -> &Targets {
        &self.targets
    }

    /// Stacks the given rows into a batch on `device`, in the given order.
    ///
    /// This copies each row once, straight into the batch's buffer; it is what the training
    /// loop uses. [`TabularBatcher`] does the same for Burn's data loaders.
    pub fn batch(&self, rows: &[usize], device: &Device) -> TabularBatch {
        TabularBatch {
            inputs: feature_rows(&self.features, rows, device),
            targets: target_rows(&self.targets, rows, device),
        }
    }
}

impl Dataset<TabularItem> for TabularDataset {
    fn get(&self, index: usize) -> Result<TabularItem, burn::data::dataset::DatasetError> {
        let n_cols = self.features.n_cols;
        let features = self.features.values[index * n_cols..(index + 1) * n_cols].to_vec();
        let target = target_value(&self.targets, index);
        Ok(TabularItem { features, target })
    }

    fn len(&self) -> usize {
        self.features.n_rows
    }
}

/// Stacks the given rows of `features` into a `[rows.len(), n_cols]` tensor on `device`.
pub fn feature_rows(features: &Features, rows: &[usize], device: &Device) -> Tensor<2> {
    let n_cols = features.n_cols;
    let mut values = Vec::with_capacity(rows.len() * n_cols);
    for &row in rows {
        values.extend_from_slice(&features.values[row * n_cols..(row + 1) * n_cols]);
    }
    Tensor::from_data(TensorData::new(values, [rows.len(), n_cols]), device)
}

/// Stacks [`TabularItem`]s into a [`TabularBatch`] for Burn's data loaders.
#[derive(Debug, Clone, Copy, Default)]
pub struct TabularBatcher;

impl Batcher<TabularItem, TabularBatch> for TabularBatcher {
    fn batch(&self, items: Vec<TabularItem>, device: &Device) -> TabularBatch {
        let n_rows = items.len();
        let n_cols = items.first().map_or(0, |item| item.features.len());
        let mut values = Vec::with_capacity(n_rows * n_cols);
        for item in &items {
            values.extend_from_slice(&item.features);
        }
        let inputs = Tensor::from_data(TensorData::new(values, [n_rows, n_cols]), device);
        let targets = stack_targets(items.iter().map(|item| item.target), device);
        TabularBatch { inputs, targets }
    }
}

/// The target of row `row`.
///
/// # Panics
/// When `row` is out of range.
pub(crate) fn target_value(targets: &Targets, row: usize) -> TargetValue {
    match targets {
        Targets::Classes(classes) => TargetValue::Class(classes[row]),
        Targets::Values(values) => TargetValue::Value(values[row]),
    }
}

/// The targets of the given rows, in that order, as a batch on `device`.
pub(crate) fn target_rows(targets: &Targets, rows: &[usize], device: &Device) -> BatchTargets {
    match targets {
        Targets::Classes(classes) => {
            let picked: Vec<i64> = rows.iter().map(|&row| classes[row] as i64).collect();
            BatchTargets::Classes(Tensor::from_data(
                TensorData::new(picked, [rows.len()]),
                device,
            ))
        }
        Targets::Values(values) => {
            let picked: Vec<f32> = rows.iter().map(|&row| values[row]).collect();
            BatchTargets::Values(Tensor::from_data(
                TensorData::new(picked, [rows.len(), 1]),
                device,
            ))
        }
    }
}

/// Stacks the targets of a batcher's items; the first item decides between classes and values
/// (all items of one data set have the same kind).
pub(crate) fn stack_targets(
    targets: impl ExactSizeIterator<Item = TargetValue> + Clone,
    device: &Device,
) -> BatchTargets {
    let n_rows = targets.len();
    match targets.clone().next() {
        Some(TargetValue::Value(_)) => {
            let picked: Vec<f32> = targets
                .map(|target| match target {
                    TargetValue::Value(value) => value,
                    TargetValue::Class(class) => class as f32,
                })
                .collect();
            BatchTargets::Values(Tensor::from_data(
                TensorData::new(picked, [n_rows, 1]),
                device,
            ))
        }
        _ => {
            let picked: Vec<i64> = targets
                .map(|target| match target {
                    TargetValue::Class(class) => class as i64,
                    TargetValue::Value(value) => value as i64,
                })
                .collect();
            BatchTargets::Classes(Tensor::from_data(TensorData::new(picked, [n_rows]), device))
        }
    }
}

/// The order in which one epoch visits the rows, cut into batches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochOrder {
    rows: Vec<usize>,
}

impl EpochOrder {
    /// A seeded shuffle of `0..n_rows` for epoch `epoch`: the same `(seed, epoch)` always gives
    /// the same order, and different epochs give different orders.
    pub fn shuffled(n_rows: usize, seed: u64, epoch: usize) -> Self {
        let mut rows: Vec<usize> = (0..n_rows).collect();
        let epoch_seed = seed ^ (epoch as u64).wrapping_mul(0xD1B5_4A32_D192_ED03);
        SplitMix64::new(epoch_seed).shuffle(&mut rows);
        Self { rows }
    }

    /// The rows in file order, for evaluation.
    pub fn sequential(n_rows: usize) -> Self {
        Self {
            rows: (0..n_rows).collect(),
        }
    }

    /// The rows cut into batches of `batch_size`; the last one is shorter unless `drop_last`.
    pub fn batches(&self, batch_size: usize, drop_last: bool) -> impl Iterator<Item = &[usize]> {
        let batch_size = batch_size.max(1);
        self.rows
            .chunks(batch_size)
            .filter(move |batch| !drop_last || batch.len() == batch_size)
    }
}

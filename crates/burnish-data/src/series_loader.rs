//! Feeding forecasting windows to Burn: a [`Dataset`] of [`Windows`] and a [`Batcher`] that
//! stacks them into a [`SeriesBatch`] shaped for recurrent layers.
//!
//! Inputs come out as `[batch, lookback, 1]`: a univariate series has one feature per time
//! step, and Burn's LSTM and GRU read `[batch, seq_len, d_input]`. Targets are
//! `[batch, horizon]`, one column per step ahead. Each window keeps its own time order; only the
//! order of the windows is shuffled (by [`crate::EpochOrder`] or the data loader). This module
//! does not cut or scale series; [`crate::series`] does.

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::{Dataset, DatasetError};
use burn::tensor::{Device, Tensor, TensorData};

use crate::Windows;

/// One forecasting window.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesItem {
    /// `lookback` input values, oldest first.
    pub inputs: Vec<f32>,
    /// `horizon` target values, the next steps in order.
    pub targets: Vec<f32>,
}

/// A batch of windows on a device.
#[derive(Debug, Clone)]
pub struct SeriesBatch {
    /// `[batch, lookback, 1]`.
    pub inputs: Tensor<3>,
    /// `[batch, horizon]`.
    pub targets: Tensor<2>,
}

/// Forecasting windows, ready to be batched.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesDataset {
    windows: Windows,
}

impl SeriesDataset {
    /// The windows of one span (training, validation or test).
    pub fn new(windows: Windows) -> Self {
        Self { windows }
    }

    /// The number of windows.
    pub fn n_windows(&self) -> usize {
        self.windows.n_windows
    }

    /// The input length of each window.
    pub fn lookback(&self) -> usize {
        self.windows.lookback
    }

    /// The target length of each window.
    pub fn horizon(&self) -> usize {
        self.windows.horizon
    }

    /// The windows.
    pub fn windows(&self) -> &Windows {
        &self.windows
    }

    /// Stacks the given windows into a batch on `device`, in the given order; what a training
    /// loop driven by [`crate::EpochOrder`] uses. [`SeriesBatcher`] does the same for Burn's
    /// data loaders.
    ///
    /// # Panics
    /// When a row is out of range.
    pub fn batch(&self, rows: &[usize], device: &Device) -> SeriesBatch {
        let (lookback, horizon) = (self.windows.lookback, self.windows.horizon);
        let mut inputs = Vec::with_capacity(rows.len() * lookback);
        let mut targets = Vec::with_capacity(rows.len() * horizon);
        for &row in rows {
            inputs.extend_from_slice(self.windows.input(row));
            targets.extend_from_slice(self.windows.target(row));
        }
        SeriesBatch {
            inputs: Tensor::from_data(TensorData::new(inputs, [rows.len(), lookback, 1]), device),
            targets: Tensor::from_data(TensorData::new(targets, [rows.len(), horizon]), device),
        }
    }
}

impl Dataset<SeriesItem> for SeriesDataset {
    fn get(&self, index: usize) -> Result<SeriesItem, DatasetError> {
        Ok(SeriesItem {
            inputs: self.windows.input(index).to_vec(),
            targets: self.windows.target(index).to_vec(),
        })
    }

    fn len(&self) -> usize {
        self.windows.n_windows
    }
}

/// Stacks [`SeriesItem`]s into a [`SeriesBatch`] for Burn's data loaders.
#[derive(Debug, Clone, Copy, Default)]
pub struct SeriesBatcher;

impl Batcher<SeriesItem, SeriesBatch> for SeriesBatcher {
    /// # Panics
    /// When the windows have different lengths.
    fn batch(&self, items: Vec<SeriesItem>, device: &Device) -> SeriesBatch {
        let n_rows = items.len();
        let lookback = items.first().map_or(0, |item| item.inputs.len());
        let horizon = items.first().map_or(0, |item| item.targets.len());
        let mut inputs = Vec::with_capacity(n_rows * lookback);
        let mut targets = Vec::with_capacity(n_rows * horizon);
        for item in &items {
            assert!(
                item.inputs.len() == lookback && item.targets.len() == horizon,
                "every window of a batch must have the same lookback and horizon"
            );
            inputs.extend_from_slice(&item.inputs);
            targets.extend_from_slice(&item.targets);
        }
        SeriesBatch {
            inputs: Tensor::from_data(TensorData::new(inputs, [n_rows, lookback, 1]), device),
            targets: Tensor::from_data(TensorData::new(targets, [n_rows, horizon]), device),
        }
    }
}

//! The Burnish training loop.
//!
//! [`fit`] trains a [`Model`](burnish_models::Model) on any [`Examples`] (feature rows, texts,
//! series windows, images or a token stream) with the optimizer, learning-rate schedule,
//! early stopping and gradient clipping of a [`TrainConfig`], reports each epoch to
//! [`Callback`]s, and returns the trained model with its [`History`]. [`predict`] runs the
//! inference copy of a model over a data set.
//!
//! This crate parses no command-line flags and reads no data files; it writes only what its
//! callers ask for (the history as CSV).

mod callback;
mod checkpoint;
mod clip;
mod config;
mod data_parallel;
mod early_stopping;
mod error;
mod examples;
mod fit;
mod history;
mod lr_find;
mod metric_watch;
mod objective;
mod penalty;
mod plateau;
mod predict;
mod process_group;
mod schedule;

pub use callback::{BatchProgress, Callback, EpochLogger, epoch_line};
pub use checkpoint::Checkpoint;
pub use clip::clip_global_norm;
pub use config::{
    ClassWeightRule, ClassWeights, EarlyStoppingConfig, MonitorMode, OptimizerSpec, TrainConfig,
};
pub use early_stopping::EarlyStopping;
pub use error::Error;
pub use examples::{Batch, Examples};
pub use fit::{FitData, FitOptions, Fitted, fit, fit_with, take_gradients_of};
pub use history::History;
pub use lr_find::{LrFindConfig, LrFinding, lr_find};
pub use metric_watch::MetricWatch;
pub use objective::Objective;
pub use penalty::weight_penalty;
pub use plateau::{ReduceOnPlateau, ReduceOnPlateauConfig};
pub use predict::{Predictions, predict, predict_inputs};
pub use process_group::{ProcessGroup, share};
pub use schedule::ScheduleSpec;

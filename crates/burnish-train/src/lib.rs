//! The Burnish training loop.
//!
//! [`fit`] trains a [`Model`](burnish_models::Model) on a
//! [`TabularDataset`](burnish_data::TabularDataset) with the optimizer, learning-rate schedule,
//! early stopping and gradient clipping of a [`TrainConfig`], reports each epoch to
//! [`Callback`]s, and returns the trained model with its [`History`]. [`predict`] runs the
//! inference copy of a model over a data set.
//!
//! This crate parses no command-line flags and reads no data files; it writes only what its
//! callers ask for (the history as CSV).

mod callback;
mod clip;
mod config;
mod early_stopping;
mod error;
mod fit;
mod history;
mod objective;
mod plateau;
mod predict;
mod schedule;

pub use callback::{Callback, EpochLogger};
pub use clip::clip_global_norm;
pub use config::{EarlyStoppingConfig, MonitorMode, OptimizerSpec, TrainConfig};
pub use early_stopping::EarlyStopping;
pub use error::Error;
pub use fit::{FitData, Fitted, fit};
pub use history::History;
pub use objective::Objective;
pub use plateau::{ReduceOnPlateau, ReduceOnPlateauConfig};
pub use predict::{Predictions, predict};
pub use schedule::ScheduleSpec;

//! Burnish: from a CSV to a trained, evaluated and saved neural network with one TOML file.
//!
//! This crate is the facade over the layered crates — [`backend`], [`data`], [`models`],
//! [`train`], [`metrics`] — and the home of what only the `burnish` binary needs: the
//! [`Experiment`] file, the run folder, and one function per command. It holds no logic a
//! library crate should own.

pub mod cv_command;
pub mod datasets_command;
pub mod evaluate_command;
pub mod experiment;
pub mod forecasting;
pub mod language_model;
pub mod lr_find_command;
pub mod multi_process;
pub mod predict_command;
pub mod prepare;
pub mod prepare_text_command;
pub mod pretrained;
pub mod progress;
pub mod run_dir;
pub mod saved_run;
pub mod train_command;

pub use burnish_backend as backend;
pub use burnish_data as data;
pub use burnish_metrics as metrics;
pub use burnish_models as models;
pub use burnish_train as train;
pub use experiment::Experiment;

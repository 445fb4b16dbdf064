//! The Burnish model zoo.
//!
//! Each model is an `XConfig` (plain, validated hyper-parameters with every size known) plus
//! an `X` (a Burn [`Module`](burn::module::Module)) built by `XConfig::init(&device)`. The
//! experiment-file side of a model is [`ModelSpec`]: the hyper-parameters a user writes, tagged
//! by `kind`, which [`ModelSpec::build`] turns into a [`Model`] once the data has fixed the
//! input and output sizes.
//!
//! This crate reads no files and knows nothing about training: it only computes forward passes.

mod activation;
mod mlp;
mod model;
mod state_dict;

pub use activation::Activation;
pub use mlp::{Mlp, MlpConfig, MlpSpec};
pub use model::{Error, Model, ModelSpec};
pub use state_dict::StateDict;

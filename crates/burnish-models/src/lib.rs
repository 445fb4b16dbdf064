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
mod attention;
mod bert;
mod dropout_kernel;
mod flex_math;
mod gelu_kernel;
mod gpt;
mod layer_norm_kernel;
mod mlp;
mod model;
mod pooling;
mod recurrent;
mod recurrent_classifier;
mod recurrent_kernel;
mod softmax_kernel;
mod spec;
mod state_dict;
mod token_dropout;
mod transformer;
mod vit;

#[cfg(test)]
#[path = "../tests/common/compare.rs"]
mod compare;

pub use activation::Activation;
pub use attention::{KeyValueCache, MultiHeadAttention, MultiHeadAttentionConfig};
pub use bert::{
    Bert, BertClassifier, BertClassifierConfig, BertConfig, BertLoadReport, BertPooling,
};
pub use gpt::{GenerationConfig, Gpt, GptCache, GptConfig};
pub use mlp::{Mlp, MlpConfig, MlpSpec};
pub use model::{Error, Model, ModelInput, ModelSpec};
pub use recurrent::{CellKind, Recurrent, RecurrentConfig};
pub use recurrent_classifier::{
    Pooling, RecurrentClassifier, RecurrentClassifierConfig, RecurrentInput,
};
pub use spec::{BertSpec, GptSpec, InputShape, RecurrentSpec, TransformerSpec, VitSpec};
pub use state_dict::StateDict;
pub use transformer::{
    EncoderLayer, EncoderLayerConfig, Positions, TransformerClassifier,
    TransformerClassifierConfig, TransformerPooling, sinusoidal_positions,
};
pub use vit::{Vit, VitConfig, patchify};

//! The experiment file's `[model]` table and the model it builds.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::mlp::{Mlp, MlpSpec};

/// A model that cannot be built as configured.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Error {
    /// A hyper-parameter is out of range.
    #[error("invalid `{field}`: {reason}")]
    Invalid {
        /// The experiment-file key at fault.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Imported weights do not fit the model.
    #[error("weight `{name}` {reason}")]
    Weights {
        /// The tensor's name in the state dict (empty when the whole file is at fault).
        name: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl Error {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }
}

/// The `[model]` table of an experiment: which architecture, and its hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ModelSpec {
    /// A feed-forward network over tabular features.
    Mlp(MlpSpec),
}

impl Default for ModelSpec {
    fn default() -> Self {
        Self::Mlp(MlpSpec::default())
    }
}

impl ModelSpec {
    /// Builds the model for `d_input` features and `d_output` outputs on `device`.
    pub fn build(&self, d_input: usize, d_output: usize, device: &Device) -> Result<Model, Error> {
        match self {
            Self::Mlp(spec) => {
                let config = spec.with_sizes(d_input, d_output);
                config.validate()?;
                Ok(Model::Mlp(config.init(device)))
            }
        }
    }

    /// The `kind` name as written in experiment files.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Mlp(_) => "mlp",
        }
    }
}

/// Any model of the zoo, as one Burn module that training and saving can handle alike.
#[derive(Module, Debug)]
pub enum Model {
    /// A multi-layer perceptron.
    Mlp(Mlp),
}

impl Model {
    /// Computes the outputs for a batch of feature rows.
    ///
    /// # Shapes
    /// - `input`: `[batch, d_input]`
    /// - output: `[batch, d_output]`
    pub fn forward(&self, input: Tensor<2>) -> Tensor<2> {
        match self {
            Self::Mlp(mlp) => mlp.forward(input),
        }
    }
}

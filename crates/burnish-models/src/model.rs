//! The experiment file's `[model]` table and the model it builds.

use burn::module::Module;
use burn::tensor::{Bool, Device, Int, Tensor};
use serde::{Deserialize, Serialize};

use crate::bert::BertClassifier;
use crate::gpt::{Gpt, GptConfig};
use crate::mlp::{Mlp, MlpSpec};
use crate::recurrent::{CellKind, RecurrentConfig};
use crate::recurrent_classifier::{RecurrentClassifier, RecurrentClassifierConfig, RecurrentInput};
use crate::spec::{BertSpec, GptSpec, InputShape, RecurrentSpec, TransformerSpec, VitSpec};
use crate::transformer::{TransformerClassifier, TransformerClassifierConfig};
use crate::vit::{Vit, VitConfig};

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

    /// Checks that `value`, the experiment-file key `field`, is a dropout probability.
    pub(crate) fn check_probability(field: &'static str, value: f64) -> Result<(), Self> {
        if (0.0..1.0).contains(&value) {
            Ok(())
        } else {
            Err(Self::invalid(
                field,
                format!("{value} is not a probability in [0, 1)"),
            ))
        }
    }
}

/// The `[model]` table of an experiment: which architecture, and its hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ModelSpec {
    /// A feed-forward network over tabular features.
    Mlp(MlpSpec),
    /// Elman's recurrent network over token ids or series windows.
    Rnn(RecurrentSpec),
    /// A long short-term memory network over token ids or series windows.
    Lstm(RecurrentSpec),
    /// A gated recurrent unit network over token ids or series windows.
    Gru(RecurrentSpec),
    /// A transformer encoder classifier over token ids.
    Transformer(TransformerSpec),
    /// A GPT-style causal language model.
    Gpt(GptSpec),
    /// A vision transformer over small images.
    Vit(VitSpec),
    /// A pretrained BERT checkpoint with a new head; built from its folder by the caller
    /// ([`crate::BertConfig`], [`crate::Bert::load_hf`], [`crate::BertClassifierConfig`]),
    /// since this crate reads no files.
    Bert(BertSpec),
}

impl Default for ModelSpec {
    fn default() -> Self {
        Self::Mlp(MlpSpec::default())
    }
}

impl ModelSpec {
    /// Builds the model for rows of `d_input` features and `d_output` outputs on `device`.
    pub fn build(&self, d_input: usize, d_output: usize, device: &Device) -> Result<Model, Error> {
        self.build_for(&InputShape::Features { d_input }, d_output, device)
    }

    /// Builds the model for inputs of `shape` and `d_output` outputs (classes, targets, or a
    /// language model's vocabulary) on `device`.
    pub fn build_for(
        &self,
        shape: &InputShape,
        d_output: usize,
        device: &Device,
    ) -> Result<Model, Error> {
        let mismatch = || {
            Error::invalid(
                "model.kind",
                format!("a {} model cannot read {}", self.kind(), shape.kind()),
            )
        };
        match (self, *shape) {
            (Self::Mlp(spec), InputShape::Features { d_input }) => {
                let config = spec.with_sizes(d_input, d_output);
                config.validate()?;
                Ok(Model::Mlp(config.init(device)))
            }
            (Self::Rnn(spec) | Self::Lstm(spec) | Self::Gru(spec), shape) => {
                let input = match shape {
                    InputShape::Tokens { vocab_size, .. } => RecurrentInput::Tokens {
                        vocab_size,
                        d_embedding: spec.d_embedding,
                    },
                    InputShape::Series { d_input } => RecurrentInput::Features { d_input },
                    InputShape::Features { .. } | InputShape::Images { .. } => {
                        return Err(mismatch());
                    }
                };
                let cell = match self {
                    Self::Rnn(_) => CellKind::Rnn,
                    Self::Gru(_) => CellKind::Gru,
                    _ => CellKind::Lstm,
                };
                let config = RecurrentClassifierConfig {
                    input,
                    recurrent: RecurrentConfig {
                        cell,
                        d_input: input.width(),
                        d_hidden: spec.d_hidden,
                        n_layers: spec.n_layers,
                        bidirectional: spec.bidirectional,
                        dropout: spec.dropout,
                    },
                    pooling: spec.pooling,
                    d_output,
                    feature_dropout: spec.feature_dropout,
                    token_dropout: spec.token_dropout,
                };
                config.validate()?;
                Ok(Model::Recurrent(config.init(device)))
            }
            (
                Self::Transformer(spec),
                InputShape::Tokens {
                    vocab_size,
                    max_len,
                },
            ) => {
                let config = TransformerClassifierConfig {
                    vocab_size,
                    max_len,
                    d_model: spec.d_model,
                    n_heads: spec.n_heads,
                    n_layers: spec.n_layers,
                    d_ff: spec.d_ff,
                    dropout: spec.dropout,
                    token_dropout: spec.token_dropout,
                    activation: spec.activation,
                    norm_first: spec.norm_first,
                    positions: spec.positions,
                    pooling: spec.pooling,
                    d_output,
                };
                config.validate()?;
                Ok(Model::Transformer(config.init(device)))
            }
            (
                Self::Gpt(spec),
                InputShape::Tokens {
                    vocab_size,
                    max_len,
                },
            ) => {
                let config = GptConfig {
                    vocab_size,
                    context: max_len,
                    n_layers: spec.n_layers,
                    n_heads: spec.n_heads,
                    d_model: spec.d_model,
                    d_ff: spec.d_ff,
                    dropout: spec.dropout,
                };
                config.validate()?;
                Ok(Model::Gpt(config.init(device)))
            }
            (Self::Vit(spec), InputShape::Features { d_input }) => {
                let Some([channels, height, width]) = spec.image else {
                    return Err(Error::invalid(
                        "model.image",
                        format!(
                            "a vit reading rows of {d_input} pixel columns needs \
                             `image = [channels, height, width]`"
                        ),
                    ));
                };
                if channels * height * width != d_input {
                    return Err(Error::invalid(
                        "model.image",
                        format!(
                            "[{channels}, {height}, {width}] holds {} pixels, but the data \
                             have {d_input} feature columns",
                            channels * height * width
                        ),
                    ));
                }
                let images = InputShape::Images {
                    channels,
                    height,
                    width,
                };
                self.build_for(&images, d_output, device)
            }
            (
                Self::Vit(spec),
                InputShape::Images {
                    channels,
                    height,
                    width,
                },
            ) => {
                let config = VitConfig {
                    channels,
                    height,
                    width,
                    patch: spec.patch,
                    d_model: spec.d_model,
                    n_heads: spec.n_heads,
                    n_layers: spec.n_layers,
                    d_ff: spec.d_ff,
                    dropout: spec.dropout,
                    d_output,
                };
                config.validate()?;
                Ok(Model::Vit(config.init(device)))
            }
            (Self::Bert(_), _) => Err(Error::invalid(
                "model.kind",
                "a bert model is built from its checkpoint folder, not from sizes",
            )),
            _ => Err(mismatch()),
        }
    }

    /// The `kind` name as written in experiment files.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Mlp(_) => "mlp",
            Self::Rnn(_) => "rnn",
            Self::Lstm(_) => "lstm",
            Self::Gru(_) => "gru",
            Self::Transformer(_) => "transformer",
            Self::Gpt(_) => "gpt",
            Self::Vit(_) => "vit",
            Self::Bert(_) => "bert",
        }
    }
}

/// Any model of the zoo, as one Burn module that training and saving can handle alike.
#[derive(Module, Debug)]
pub enum Model {
    /// A multi-layer perceptron.
    Mlp(Mlp),
    /// An RNN, LSTM or GRU with pooling and a head.
    Recurrent(RecurrentClassifier),
    /// A transformer encoder classifier.
    Transformer(TransformerClassifier),
    /// A causal language model.
    Gpt(Gpt),
    /// A vision transformer.
    Vit(Vit),
    /// A pretrained BERT with a new head.
    Bert(BertClassifier),
}

/// A batch of inputs, in the form its kind of data takes.
#[derive(Debug, Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "a batch is built once and moved into one forward pass; boxing would only add an allocation"
)]
pub enum ModelInput {
    /// Rows of numeric features, `[batch, d_input]`.
    Features(Tensor<2>),
    /// Token ids `[batch, time]`, right-padded, with `true` at padded positions.
    Tokens {
        /// The ids.
        ids: Tensor<2, Int>,
        /// `[batch, time]`, `true` where a position is padding; `None` when nothing is.
        padding: Option<Tensor<2, Bool>>,
    },
    /// Windows of a series, `[batch, time, features]`.
    Series(Tensor<3>),
    /// Images, `[batch, channels, height, width]`.
    Images(Tensor<4>),
}

impl ModelInput {
    /// The name of this kind of input, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Features(_) => "feature rows",
            Self::Tokens { .. } => "token ids",
            Self::Series(_) => "series windows",
            Self::Images(_) => "images",
        }
    }
}

impl Model {
    /// Computes the outputs for a batch.
    ///
    /// Every model returns one row of outputs per prediction: a classifier or regressor one
    /// row per example, a language model one row per position (`[batch * time, vocab]`,
    /// batch-major), so that one loss and one set of metrics serve them all.
    ///
    /// # Panics
    /// When the input is not the kind the model reads: the pipeline pairs data and model
    /// before training, so this is a bug, not bad input.
    ///
    /// # Shapes
    /// - output: `[predictions, d_output]`
    pub fn forward(&self, input: ModelInput) -> Tensor<2> {
        match (self, input) {
            (Self::Mlp(mlp), ModelInput::Features(features)) => mlp.forward(features),
            (Self::Recurrent(network), ModelInput::Tokens { ids, padding }) => {
                network.forward_tokens(ids, padding)
            }
            (Self::Recurrent(network), ModelInput::Series(series)) => {
                network.forward_series(series)
            }
            (Self::Transformer(network), ModelInput::Tokens { ids, padding }) => {
                network.forward(ids, padding)
            }
            (Self::Gpt(gpt), ModelInput::Tokens { ids, .. }) => {
                let logits = gpt.forward(ids);
                let [batch, time, vocab] = logits.dims();
                logits.reshape([batch * time, vocab])
            }
            (Self::Vit(vit), ModelInput::Images(images)) => vit.forward(images),
            (Self::Vit(vit), ModelInput::Features(rows)) => vit.forward_rows(rows),
            (Self::Bert(bert), ModelInput::Tokens { ids, padding }) => bert.forward(ids, padding),
            (model, input) => panic!("a {} model cannot read {}", model.kind(), input.kind()),
        }
    }

    /// The family of the model, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Mlp(_) => "mlp",
            Self::Recurrent(_) => "recurrent",
            Self::Transformer(_) => "transformer",
            Self::Gpt(_) => "gpt",
            Self::Vit(_) => "vit",
            Self::Bert(_) => "bert",
        }
    }

    /// The pretrained body and its own learning rate, for a model that gives its body one.
    pub fn body_with_own_lr(&self) -> Option<(&crate::Bert, f64)> {
        match self {
            Self::Bert(bert) => bert.body_lr().map(|lr| (bert.body(), lr)),
            _ => None,
        }
    }
}

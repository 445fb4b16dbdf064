//! What a user writes in the `[model]` table for each family besides the MLP: the
//! hyper-parameters only. The sizes the data fixes (vocabulary, sequence length, image shape,
//! number of outputs) come from [`InputShape`] when the model is built.

use serde::{Deserialize, Serialize};

use crate::Activation;
use crate::bert::BertPooling;
use crate::recurrent_classifier::Pooling;
use crate::transformer::{Positions, TransformerPooling};

/// The shape of what the data gives the model, which fixes its input sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputShape {
    /// Rows of `d_input` numeric features.
    Features {
        /// The number of features.
        d_input: usize,
    },
    /// Token ids below `vocab_size`, at most `max_len` of them a sequence.
    Tokens {
        /// The number of distinct ids.
        vocab_size: usize,
        /// The longest sequence (a language model's context).
        max_len: usize,
    },
    /// Windows of a series with `d_input` features a step.
    Series {
        /// The features of each time step.
        d_input: usize,
    },
    /// Images of `channels × height × width` values.
    Images {
        /// Colour channels.
        channels: usize,
        /// Rows of pixels.
        height: usize,
        /// Columns of pixels.
        width: usize,
    },
}

impl InputShape {
    /// The name of this kind of input, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Features { .. } => "feature rows",
            Self::Tokens { .. } => "token ids",
            Self::Series { .. } => "series windows",
            Self::Images { .. } => "images",
        }
    }
}

/// An Elman RNN, LSTM or GRU over token ids or series windows (`kind = "rnn" | "lstm" |
/// "gru"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecurrentSpec {
    /// The width of the token embedding (token input only).
    pub d_embedding: usize,
    /// The hidden state's width, per direction.
    pub d_hidden: usize,
    /// Stacked layers.
    pub n_layers: usize,
    /// Also read each sequence backwards and concatenate both directions.
    pub bidirectional: bool,
    /// Dropout between stacked layers.
    pub dropout: f64,
    /// Dropout on the embeddings and on the pooled features before the head.
    pub feature_dropout: f64,
    /// The probability that a token's whole embedding is zeroed while training (word
    /// dropout; token input only).
    pub token_dropout: f64,
    /// How the steps become one row: `last`, `mean` or `max`.
    pub pooling: Pooling,
}

impl Default for RecurrentSpec {
    fn default() -> Self {
        Self {
            d_embedding: 128,
            d_hidden: 128,
            n_layers: 1,
            bidirectional: false,
            dropout: 0.0,
            feature_dropout: 0.0,
            token_dropout: 0.0,
            pooling: Pooling::Last,
        }
    }
}

/// A transformer encoder classifier over token ids (`kind = "transformer"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TransformerSpec {
    /// The width of every token's vector.
    pub d_model: usize,
    /// Attention heads; must divide `d_model`.
    pub n_heads: usize,
    /// Encoder layers.
    pub n_layers: usize,
    /// The feed-forward block's hidden width.
    pub d_ff: usize,
    /// Dropout in attention, feed-forward and embeddings.
    pub dropout: f64,
    /// The probability that a token's whole embedding is zeroed while training (word
    /// dropout).
    pub token_dropout: f64,
    /// The feed-forward non-linearity.
    pub activation: Activation,
    /// Layer norm before each block (pre-norm) rather than after.
    pub norm_first: bool,
    /// `learned` or `sinusoidal` positions.
    pub positions: Positions,
    /// `cls`, `mean` or `max` pooling.
    pub pooling: TransformerPooling,
}

impl Default for TransformerSpec {
    fn default() -> Self {
        Self {
            d_model: 128,
            n_heads: 4,
            n_layers: 2,
            d_ff: 512,
            dropout: 0.1,
            token_dropout: 0.0,
            activation: Activation::Relu,
            norm_first: false,
            positions: Positions::Learned,
            pooling: TransformerPooling::Mean,
        }
    }
}

/// A GPT-style causal language model (`kind = "gpt"`); the context length is the data's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GptSpec {
    /// Decoder blocks.
    pub n_layers: usize,
    /// Attention heads; must divide `d_model`.
    pub n_heads: usize,
    /// The width of every position's vector.
    pub d_model: usize,
    /// The feed-forward block's hidden width.
    pub d_ff: usize,
    /// Dropout in attention, feed-forward and embeddings.
    pub dropout: f64,
}

impl Default for GptSpec {
    /// nanoGPT's CPU configuration: 4 layers, 4 heads, width 128.
    fn default() -> Self {
        Self {
            n_layers: 4,
            n_heads: 4,
            d_model: 128,
            d_ff: 512,
            dropout: 0.0,
        }
    }
}

/// A vision transformer for small images (`kind = "vit"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VitSpec {
    /// The side of the square patches; must divide the image's height and width.
    pub patch: usize,
    /// The width of every patch's vector.
    pub d_model: usize,
    /// Attention heads; must divide `d_model`.
    pub n_heads: usize,
    /// Encoder layers.
    pub n_layers: usize,
    /// The feed-forward block's hidden width.
    pub d_ff: usize,
    /// Dropout in attention, feed-forward and embeddings.
    pub dropout: f64,
    /// `[channels, height, width]` of the images when the data are rows of pixel columns
    /// (a CSV such as digits.csv); not needed when the data are images.
    pub image: Option<[usize; 3]>,
}

impl Default for VitSpec {
    fn default() -> Self {
        Self {
            patch: 2,
            d_model: 64,
            n_heads: 4,
            n_layers: 4,
            d_ff: 128,
            dropout: 0.1,
            image: None,
        }
    }
}

/// A pretrained BERT checkpoint fine-tuned with a new linear head (`kind = "bert"`), reading
/// token ids from the checkpoint's own tokenizer.
///
/// ```toml
/// [model]
/// kind = "bert"
/// pretrained = "target/hf/all-MiniLM-L6-v2"   # a Hugging Face save_pretrained folder
/// pooling = "mean"                             # or "cls"
/// body_lr = 5e-5                               # the head learns at [train.optimizer] lr
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BertSpec {
    /// The checkpoint folder: `config.json`, `model.safetensors` and `tokenizer.json`.
    pub pretrained: std::path::PathBuf,
    /// How the last layer's states become the head's input.
    #[serde(default)]
    pub pooling: BertPooling,
    /// Dropout before the head (the checkpoint's own `hidden_dropout_prob` acts inside).
    #[serde(default = "default_head_dropout")]
    pub dropout: f64,
    /// Train the head only: the whole checkpoint stays as loaded.
    #[serde(default)]
    pub freeze_body: bool,
    /// Keep the embeddings and the first `freeze_layers` encoder layers as loaded; 0 trains
    /// every layer.
    #[serde(default)]
    pub freeze_layers: usize,
    /// The body's learning rate, which the schedule scales as it scales the head's (the
    /// optimizer's `lr`); unset, the body learns at the head's rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_lr: Option<f64>,
}

fn default_head_dropout() -> f64 {
    0.1
}

//! The transformer encoder: the layer (self-attention and a feed-forward block, each with a
//! residual connection and layer normalisation, before or after) and a token-sequence
//! classifier built from a stack of them.
//!
//! The layer follows PyTorch's `nn.TransformerEncoderLayer` exactly, names of weights
//! included, so a PyTorch layer's `state_dict` loads here and back.

use burn::module::{Module, Param};
use burn::nn::{
    Dropout, DropoutConfig, Embedding, EmbeddingConfig, Initializer, LayerNorm, LayerNormConfig,
    Linear, LinearConfig,
};
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::attention::{
    KeyValueCache, MultiHeadAttention, MultiHeadAttentionConfig, layer_norm_to_torch,
    linear_to_torch, load_layer_norm, load_linear, torch_name, validate_dropout,
};
use crate::dropout_kernel::dropout;
use crate::layer_norm_kernel::layer_norm;
use crate::model::Error;
use crate::pooling::{max_over_valid, mean_over_valid};
use crate::token_dropout::drop_tokens;
use crate::{Activation, StateDict};

/// Every size and option of an [`EncoderLayer`].
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderLayerConfig {
    /// The width of the vectors the layer reads and writes.
    pub d_model: usize,
    /// The number of attention heads; must divide `d_model`.
    pub n_heads: usize,
    /// The width of the feed-forward block's hidden layer.
    pub d_ff: usize,
    /// The dropout probability on attention weights and on each residual branch.
    pub dropout: f64,
    /// Dropout also on the feed-forward block's hidden activations, as PyTorch's
    /// `nn.TransformerEncoderLayer` places it; BERT and GPT-2 have none there.
    pub feed_forward_dropout: bool,
    /// The non-linearity of the feed-forward block.
    pub activation: Activation,
    /// Layer normalisation before each block (pre-norm) rather than after each residual sum
    /// (post-norm, the original transformer and PyTorch's default).
    pub norm_first: bool,
    /// The `epsilon` of both layer norms (PyTorch's default is `1e-5`).
    pub layer_norm_eps: f64,
}

impl EncoderLayerConfig {
    /// Checks every size and probability, naming the experiment-file key at fault.
    pub fn validate(&self) -> Result<(), Error> {
        self.attention().validate()?;
        if self.d_ff == 0 {
            return Err(Error::invalid("model.d_ff", "must be at least 1"));
        }
        if !(self.layer_norm_eps > 0.0 && self.layer_norm_eps.is_finite()) {
            return Err(Error::invalid(
                "model.layer_norm_eps",
                format!("{} is not a small positive number", self.layer_norm_eps),
            ));
        }
        Ok(())
    }

    /// Builds the layer with freshly initialised weights on `device`.
    ///
    /// Call [`Self::validate`] first where the sizes come from a user.
    pub fn init(&self, device: &Device) -> EncoderLayer {
        let norm = LayerNormConfig::new(self.d_model).with_epsilon(self.layer_norm_eps);
        EncoderLayer {
            self_attention: self.attention().init(device),
            linear1: LinearConfig::new(self.d_model, self.d_ff).init(device),
            linear2: LinearConfig::new(self.d_ff, self.d_model).init(device),
            norm1: norm.init(device),
            norm2: norm.init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            activation: self.activation,
            norm_first: self.norm_first,
            feed_forward_dropout: self.feed_forward_dropout,
            dropout_kernel: false,
            norm_eps: self.layer_norm_eps,
        }
    }

    fn attention(&self) -> MultiHeadAttentionConfig {
        MultiHeadAttentionConfig {
            d_model: self.d_model,
            n_heads: self.n_heads,
            dropout: self.dropout,
        }
    }
}

/// One transformer encoder layer: self-attention, then a position-wise feed-forward block.
#[derive(Module, Debug)]
pub struct EncoderLayer {
    self_attention: MultiHeadAttention,
    linear1: Linear,
    linear2: Linear,
    norm1: LayerNorm,
    norm2: LayerNorm,
    dropout: Dropout,
    #[module(skip)]
    activation: Activation,
    #[module(skip)]
    norm_first: bool,
    #[module(skip)]
    feed_forward_dropout: bool,
    /// Dropout through [`crate::dropout_kernel`] on flex (BERT's layers) rather than Burn's.
    #[module(skip)]
    dropout_kernel: bool,
    /// The epsilon `norm1` and `norm2` were built with (Burn's `LayerNorm` keeps it private).
    #[module(skip)]
    norm_eps: f64,
}

impl EncoderLayer {
    /// Encodes a batch of sequences.
    ///
    /// `padding` marks padded positions (`true`), which no position attends to; with `causal`,
    /// position `t` attends to positions `<= t` only.
    ///
    /// # Shapes
    /// - `input`: `[batch, time, d_model]`
    /// - `padding`: `[batch, time]`
    /// - output: `[batch, time, d_model]`
    pub fn forward(
        &self,
        input: Tensor<3>,
        padding: Option<Tensor<2, Bool>>,
        causal: bool,
    ) -> Tensor<3> {
        self.residual_blocks(input, |hidden| {
            self.self_attention.forward(hidden, padding, causal)
        })
    }

    /// Encodes the next positions of the sequences whose earlier positions `cache` holds,
    /// causally, and adds them to the cache (for decoders generating one token at a time).
    ///
    /// # Shapes
    /// - `input`: `[batch, time_new, d_model]`
    /// - output: `[batch, time_new, d_model]`
    pub fn forward_cached(&self, input: Tensor<3>, cache: &mut KeyValueCache) -> Tensor<3> {
        self.residual_blocks(input, |hidden| {
            self.self_attention.forward_cached(hidden, cache)
        })
    }

    /// The same layer with its dropouts through [`crate::dropout_kernel`] on flex: faster,
    /// but a different random stream from Burn's dropout.
    pub(crate) fn with_dropout_kernel(self) -> Self {
        Self {
            self_attention: self.self_attention.with_dropout_kernel(),
            dropout_kernel: true,
            ..self
        }
    }

    /// Takes the weights of a PyTorch `nn.TransformerEncoderLayer` found under `prefix` (such
    /// as `encoder.layers.0`; empty for a bare layer).
    pub fn load_torch(mut self, state_dict: &StateDict, prefix: &str) -> Result<Self, Error> {
        self.self_attention = self
            .self_attention
            .load_torch(state_dict, &torch_name(prefix, "self_attn"))?;
        self.linear1 = load_linear(self.linear1, state_dict, &torch_name(prefix, "linear1"))?;
        self.linear2 = load_linear(self.linear2, state_dict, &torch_name(prefix, "linear2"))?;
        self.norm1 = load_layer_norm(self.norm1, state_dict, &torch_name(prefix, "norm1"))?;
        self.norm2 = load_layer_norm(self.norm2, state_dict, &torch_name(prefix, "norm2"))?;
        Ok(self)
    }

    /// Writes the weights under PyTorch `nn.TransformerEncoderLayer`'s names below `prefix`.
    pub fn to_torch(&self, state_dict: &mut StateDict, prefix: &str) {
        self.self_attention
            .to_torch(state_dict, &torch_name(prefix, "self_attn"));
        linear_to_torch(&self.linear1, state_dict, &torch_name(prefix, "linear1"));
        linear_to_torch(&self.linear2, state_dict, &torch_name(prefix, "linear2"));
        layer_norm_to_torch(&self.norm1, state_dict, &torch_name(prefix, "norm1"));
        layer_norm_to_torch(&self.norm2, state_dict, &torch_name(prefix, "norm2"));
    }

    /// The two residual blocks around `self_attention` and the feed-forward block, with the
    /// layer norms where `norm_first` puts them.
    fn residual_blocks(
        &self,
        input: Tensor<3>,
        self_attention: impl FnOnce(Tensor<3>) -> Tensor<3>,
    ) -> Tensor<3> {
        let norm1 = |x| layer_norm(&self.norm1, x, self.norm_eps);
        let norm2 = |x| layer_norm(&self.norm2, x, self.norm_eps);
        if self.norm_first {
            let attended = self_attention(norm1(input.clone()));
            let hidden = input + self.drop(attended);
            let fed = self.feed_forward(norm2(hidden.clone()));
            hidden + self.drop(fed)
        } else {
            let attended = self_attention(input.clone());
            let hidden = norm1(input + self.drop(attended));
            let fed = self.feed_forward(hidden.clone());
            norm2(hidden + self.drop(fed))
        }
    }

    fn drop(&self, input: Tensor<3>) -> Tensor<3> {
        dropout(&self.dropout, input, self.dropout_kernel)
    }

    fn feed_forward(&self, input: Tensor<3>) -> Tensor<3> {
        let hidden = self.activation.forward(self.linear1.forward(input));
        let hidden = if self.feed_forward_dropout {
            self.drop(hidden)
        } else {
            hidden
        };
        self.linear2.forward(hidden)
    }
}

/// How a [`TransformerClassifier`] tells positions apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Positions {
    /// A learned vector per position, up to `max_len`.
    #[default]
    Learned,
    /// The fixed sine and cosine table of Vaswani et al. (2017).
    Sinusoidal,
}

/// How a [`TransformerClassifier`] turns a sequence of vectors into one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransformerPooling {
    /// A learned classification token is put before the sequence; its output is the summary.
    #[default]
    Cls,
    /// The mean of the outputs at the positions that are not padding.
    Mean,
    /// The feature-wise maximum of the outputs at the positions that are not padding.
    Max,
}

/// Every size and option of a [`TransformerClassifier`].
#[derive(Debug, Clone, PartialEq)]
pub struct TransformerClassifierConfig {
    /// The number of distinct tokens.
    pub vocab_size: usize,
    /// The longest sequence accepted, in tokens (not counting the classification token).
    pub max_len: usize,
    /// The width of every token's vector.
    pub d_model: usize,
    /// The number of attention heads; must divide `d_model`.
    pub n_heads: usize,
    /// The number of encoder layers.
    pub n_layers: usize,
    /// The width of each feed-forward block's hidden layer.
    pub d_ff: usize,
    /// The dropout probability after the embeddings and inside each layer.
    pub dropout: f64,
    /// The probability that a token's whole embedding is zeroed while training (word
    /// dropout), before the positions are added; 0 for none.
    pub token_dropout: f64,
    /// The non-linearity of the feed-forward blocks.
    pub activation: Activation,
    /// Pre-norm layers, and a final layer norm after the stack.
    pub norm_first: bool,
    /// How positions are encoded.
    pub positions: Positions,
    /// How the sequence is summarised for the head.
    pub pooling: TransformerPooling,
    /// The number of outputs: classes for a classifier, targets for a regressor.
    pub d_output: usize,
}

impl TransformerClassifierConfig {
    /// Checks every size and probability, naming the experiment-file key at fault.
    pub fn validate(&self) -> Result<(), Error> {
        if self.vocab_size == 0 {
            return Err(Error::invalid("vocab_size", "the vocabulary has no tokens"));
        }
        if self.d_output == 0 {
            return Err(Error::invalid("d_output", "must be at least 1"));
        }
        if self.max_len == 0 {
            return Err(Error::invalid("model.max_len", "must be at least 1"));
        }
        if self.n_layers == 0 {
            return Err(Error::invalid("model.n_layers", "must be at least 1"));
        }
        validate_dropout(self.dropout)?;
        Error::check_probability("model.token_dropout", self.token_dropout)?;
        self.layer().validate()
    }

    /// Builds the classifier with freshly initialised weights on `device`.
    ///
    /// Call [`Self::validate`] first where the sizes come from a user.
    pub fn init(&self, device: &Device) -> TransformerClassifier {
        let layer = self.layer();
        let learned_positions = match self.positions {
            Positions::Learned => {
                Some(EmbeddingConfig::new(self.max_len, self.d_model).init(device))
            }
            Positions::Sinusoidal => None,
        };
        let cls_token = match self.pooling {
            TransformerPooling::Cls => Some(
                Initializer::Normal {
                    mean: 0.0,
                    std: 1.0,
                }
                .init([1, 1, self.d_model], device),
            ),
            TransformerPooling::Mean | TransformerPooling::Max => None,
        };
        TransformerClassifier {
            embedding: EmbeddingConfig::new(self.vocab_size, self.d_model).init(device),
            learned_positions,
            cls_token,
            layers: (0..self.n_layers).map(|_| layer.init(device)).collect(),
            final_norm: self
                .norm_first
                .then(|| LayerNormConfig::new(self.d_model).init(device)),
            dropout: DropoutConfig::new(self.dropout).init(),
            token_dropout: DropoutConfig::new(self.token_dropout).init(),
            head: LinearConfig::new(self.d_model, self.d_output).init(device),
            max_len: self.max_len,
            d_model: self.d_model,
            pooling: self.pooling,
        }
    }

    fn layer(&self) -> EncoderLayerConfig {
        EncoderLayerConfig {
            d_model: self.d_model,
            n_heads: self.n_heads,
            d_ff: self.d_ff,
            dropout: self.dropout,
            activation: self.activation,
            norm_first: self.norm_first,
            feed_forward_dropout: true,
            layer_norm_eps: 1e-5,
        }
    }
}

/// A transformer encoder over token sequences with a linear head on a pooled summary.
#[derive(Module, Debug)]
pub struct TransformerClassifier {
    embedding: Embedding,
    /// `Some` for [`Positions::Learned`]; the sinusoidal table is computed, not stored.
    learned_positions: Option<Embedding>,
    /// `[1, 1, d_model]`, `Some` for [`TransformerPooling::Cls`].
    cls_token: Option<Param<Tensor<3>>>,
    layers: Vec<EncoderLayer>,
    /// `Some` for a pre-norm stack.
    final_norm: Option<LayerNorm>,
    dropout: Dropout,
    /// Word dropout on the token embeddings.
    token_dropout: Dropout,
    head: Linear,
    #[module(skip)]
    max_len: usize,
    #[module(skip)]
    d_model: usize,
    #[module(skip)]
    pooling: TransformerPooling,
}

impl TransformerClassifier {
    /// Computes the outputs (logits for a classifier) for a batch of token sequences.
    ///
    /// `padding` marks padded positions (`true`); what tokens they hold does not change the
    /// output.
    ///
    /// # Shapes
    /// - `tokens`: `[batch, time]`, `time <= max_len`
    /// - `padding`: `[batch, time]`
    /// - output: `[batch, d_output]`
    ///
    /// # Panics
    /// If `time` exceeds `max_len` or `padding` has another shape than `tokens`.
    pub fn forward(&self, tokens: Tensor<2, Int>, padding: Option<Tensor<2, Bool>>) -> Tensor<2> {
        let [batch, time] = tokens.dims();
        assert!(
            time <= self.max_len,
            "a sequence of {time} tokens is longer than the model's max_len of {}",
            self.max_len
        );
        if let Some(padding) = &padding {
            assert_eq!(
                padding.dims(),
                [batch, time],
                "the padding mask must have the shape of the tokens"
            );
        }
        let device = tokens.device();
        let positions = match &self.learned_positions {
            Some(table) => table.weight.val().narrow(0, 0, time),
            None => sinusoidal_positions(time, self.d_model, &device),
        };
        let mut hidden = drop_tokens(&self.token_dropout, self.embedding.forward(tokens))
            + positions.unsqueeze_dim(0);
        let mut attention_padding = padding.clone();
        if let Some(cls_token) = &self.cls_token {
            let cls = cls_token.val().expand([batch, 1, self.d_model]);
            hidden = Tensor::cat(vec![cls, hidden], 1);
            attention_padding = padding.clone().map(|padding| {
                let never = TensorData::new(vec![false; batch], [batch, 1]);
                Tensor::cat(vec![Tensor::from_data(never, &device), padding], 1)
            });
        }
        hidden = self.dropout.forward(hidden);
        for layer in &self.layers {
            hidden = layer.forward(hidden, attention_padding.clone(), false);
        }
        if let Some(norm) = &self.final_norm {
            hidden = norm.forward(hidden);
        }
        let summary = match self.pooling {
            TransformerPooling::Cls => hidden.narrow(1, 0, 1).reshape([batch, self.d_model]),
            TransformerPooling::Mean => mean_over_valid(hidden, padding),
            TransformerPooling::Max => max_over_valid(hidden, padding),
        };
        self.head.forward(summary)
    }
}

/// The sinusoidal position table of Vaswani et al. (2017): `sin` in even and `cos` in odd
/// columns, at wavelengths from `2π` to `10000 · 2π`.
///
/// # Shapes
/// - output: `[time, d_model]`
pub fn sinusoidal_positions(time: usize, d_model: usize, device: &Device) -> Tensor<2> {
    let mut values = Vec::with_capacity(time * d_model);
    for position in 0..time {
        for column in 0..d_model {
            let exponent = (column - column % 2) as f64 / d_model as f64;
            let angle = position as f64 / 10_000f64.powf(exponent);
            let value = if column % 2 == 0 {
                angle.sin()
            } else {
                angle.cos()
            };
            values.push(value as f32);
        }
    }
    Tensor::from_data(TensorData::new(values, [time, d_model]), device)
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Distribution, Tensor};

    use super::*;

    /// While training, BERT's layout (`feed_forward_dropout: false`) leaves the feed-forward
    /// block's hidden activations alone, and PyTorch's drops some: two passes over the same
    /// input agree only in the first.
    #[rstest::rstest]
    fn feed_forward_dropout_acts_only_where_asked(#[values(false, true)] inside: bool) {
        let device = Device::flex().autodiff();
        device.seed(3);
        let layer = EncoderLayerConfig {
            d_model: 8,
            n_heads: 2,
            d_ff: 32,
            dropout: 0.5,
            feed_forward_dropout: inside,
            activation: Activation::Relu,
            norm_first: false,
            layer_norm_eps: 1e-5,
        }
        .init(&device);
        let input = Tensor::<3>::random([2, 5, 8], Distribution::Default, &device);
        let first = layer.feed_forward(input.clone());
        let second = layer.feed_forward(input);
        let gap = crate::compare::max_abs_difference::<3>(first, second);
        assert_eq!(gap == 0.0, !inside, "the two passes differ by {gap}");
    }
}

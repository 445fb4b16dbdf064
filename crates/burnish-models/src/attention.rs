//! Multi-head scaled dot-product self-attention, with padding and causal masks and a key/value
//! cache for decoding one token at a time.
//!
//! The query, key and value projections are one packed linear layer (one matmul), laid out as
//! PyTorch's `nn.MultiheadAttention` packs them, so its `state_dict` loads here unchanged. This
//! module computes forward passes only: it holds no optimiser state and reads no files.

use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig, Initializer, LayerNorm, Linear, LinearConfig};
use burn::tensor::activation::softmax;
use burn::tensor::{Bool, Device, Tensor};

use crate::StateDict;
use crate::dropout_kernel::dropout;
use crate::flex_math::applies_to;
use crate::model::Error;
use crate::softmax_kernel::attention_softmax;

/// The score given to a masked query-key pair before the softmax.
///
/// Finite, so that a row whose keys are all masked gets uniform weights rather than NaN, and
/// low enough that `exp(MASKED_SCORE - max)` is exactly 0 in `f32` next to any real score.
const MASKED_SCORE: f32 = -1.0e9;

/// Every size and option of a [`MultiHeadAttention`].
#[derive(Debug, Clone, PartialEq)]
pub struct MultiHeadAttentionConfig {
    /// The width of the input and output vectors, split evenly across the heads.
    pub d_model: usize,
    /// The number of attention heads; must divide `d_model`.
    pub n_heads: usize,
    /// The probability of zeroing an attention weight during training.
    pub dropout: f64,
}

impl MultiHeadAttentionConfig {
    /// Checks every size and probability, naming the experiment-file key at fault.
    pub fn validate(&self) -> Result<(), Error> {
        if self.d_model == 0 {
            return Err(Error::invalid("model.d_model", "must be at least 1"));
        }
        if self.n_heads == 0 {
            return Err(Error::invalid("model.n_heads", "must be at least 1"));
        }
        if !self.d_model.is_multiple_of(self.n_heads) {
            return Err(Error::invalid(
                "model.n_heads",
                format!(
                    "d_model {} is not divisible by {} heads",
                    self.d_model, self.n_heads
                ),
            ));
        }
        validate_dropout(self.dropout)
    }

    /// Builds the layer with freshly initialised weights on `device`: Xavier-uniform packed
    /// projections, as PyTorch initialises `in_proj_weight`.
    ///
    /// Call [`Self::validate`] first where the sizes come from a user.
    pub fn init(&self, device: &Device) -> MultiHeadAttention {
        let query_key_value = LinearConfig::new(self.d_model, 3 * self.d_model)
            .with_initializer(Initializer::XavierUniform { gain: 1.0 })
            .init(device);
        MultiHeadAttention {
            query_key_value,
            output: LinearConfig::new(self.d_model, self.d_model).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            dropout_kernel: false,
            n_heads: self.n_heads,
            d_head: self.d_model / self.n_heads,
        }
    }
}

/// Multi-head scaled dot-product self-attention (Vaswani et al., 2017).
#[derive(Module, Debug)]
pub struct MultiHeadAttention {
    /// Queries, keys and values side by side: `[d_model, 3 * d_model]`.
    query_key_value: Linear,
    output: Linear,
    dropout: Dropout,
    /// Dropout through [`crate::dropout_kernel`] on flex (BERT's layers) rather than Burn's.
    #[module(skip)]
    dropout_kernel: bool,
    #[module(skip)]
    n_heads: usize,
    #[module(skip)]
    d_head: usize,
}

/// The keys and values that a [`MultiHeadAttention`] has already computed for the earlier
/// positions of the sequences it is decoding.
///
/// Start each batch of sequences with an empty cache; one cache serves one attention layer.
#[derive(Debug, Clone, Default)]
pub struct KeyValueCache {
    /// `[batch, n_heads, time, d_head]`.
    keys: Option<Tensor<4>>,
    /// `[batch, n_heads, time, d_head]`.
    values: Option<Tensor<4>>,
}

impl KeyValueCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of positions cached.
    pub fn len(&self) -> usize {
        self.keys.as_ref().map_or(0, |keys| keys.dims()[2])
    }

    /// Whether no position is cached.
    pub fn is_empty(&self) -> bool {
        self.keys.is_none()
    }

    /// Forgets every cached position, to start new sequences.
    pub fn clear(&mut self) {
        self.keys = None;
        self.values = None;
    }
}

impl MultiHeadAttention {
    /// The same layer with its dropout through [`crate::dropout_kernel`] on flex: faster, but
    /// a different random stream from Burn's dropout.
    pub(crate) fn with_dropout_kernel(self) -> Self {
        Self {
            dropout_kernel: true,
            ..self
        }
    }

    /// The width of the input and output vectors.
    pub fn d_model(&self) -> usize {
        self.n_heads * self.d_head
    }

    /// The number of attention heads.
    pub fn n_heads(&self) -> usize {
        self.n_heads
    }

    /// Attends every position of `input` to the positions it may see.
    ///
    /// `padding` marks padded positions (`true`), which no query attends to. With `causal`,
    /// position `t` attends to positions `<= t` only. A query whose keys are all masked gets
    /// uniform weights rather than NaN.
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
        self.forward_with_weights(input, padding, causal).0
    }

    /// Same as [`Self::forward`], also returning the attention weights (after the softmax,
    /// before dropout).
    ///
    /// # Shapes
    /// - `input`: `[batch, time, d_model]`
    /// - `padding`: `[batch, time]`
    /// - output: `[batch, time, d_model]` and `[batch, n_heads, time_query, time_key]`
    pub fn forward_with_weights(
        &self,
        input: Tensor<3>,
        padding: Option<Tensor<2, Bool>>,
        causal: bool,
    ) -> (Tensor<3>, Tensor<4>) {
        let [batch, time, _] = input.dims();
        if let Some(padding) = &padding {
            assert_eq!(
                padding.dims(),
                [batch, time],
                "the padding mask must be [batch, time] = [{batch}, {time}]"
            );
        }
        let [query, key, value] = self.project(input);
        let mut scores = query.matmul(key.swap_dims(2, 3));
        if let Some(padding) = padding {
            scores = scores.mask_fill(padding.reshape([batch, 1, 1, time]), MASKED_SCORE);
        }
        let weights = self.weights(scores, causal.then_some(0));
        self.attend(weights, value)
    }

    /// Causal self-attention of `input` against the cached keys and values and its own;
    /// appends its keys and values to `cache`.
    ///
    /// Feeding a sequence in pieces gives, within float tolerance, the rows that
    /// `forward(.., causal = true)` gives for the whole sequence.
    ///
    /// # Shapes
    /// - `input`: `[batch, time_new, d_model]`
    /// - output: `[batch, time_new, d_model]`
    pub fn forward_cached(&self, input: Tensor<3>, cache: &mut KeyValueCache) -> Tensor<3> {
        let [batch, _, _] = input.dims();
        let time_cached = cache.len();
        let [query, key, value] = self.project(input);
        let (key, value) = match (cache.keys.take(), cache.values.take()) {
            (Some(cached_keys), Some(cached_values)) => {
                assert_eq!(
                    cached_keys.dims()[0],
                    batch,
                    "the cache holds another batch size: clear it before new sequences"
                );
                (
                    Tensor::cat(vec![cached_keys, key], 2),
                    Tensor::cat(vec![cached_values, value], 2),
                )
            }
            _ => (key, value),
        };
        cache.keys = Some(key.clone());
        cache.values = Some(value.clone());
        let weights = self.weights(query.matmul(key.swap_dims(2, 3)), Some(time_cached));
        self.attend(weights, value).0
    }

    /// Takes the weights of a PyTorch `nn.MultiheadAttention` (`in_proj_weight`,
    /// `in_proj_bias`, `out_proj.weight`, `out_proj.bias`) found under `prefix` (such as
    /// `layers.0.self_attn`; empty for a bare module).
    pub fn load_torch(mut self, state_dict: &StateDict, prefix: &str) -> Result<Self, Error> {
        self.query_key_value = load_linear_named(
            self.query_key_value,
            state_dict,
            &torch_name(prefix, "in_proj_weight"),
            &torch_name(prefix, "in_proj_bias"),
        )?;
        self.output = load_linear(self.output, state_dict, &torch_name(prefix, "out_proj"))?;
        Ok(self)
    }

    /// Writes the weights under PyTorch `nn.MultiheadAttention`'s names below `prefix`.
    pub fn to_torch(&self, state_dict: &mut StateDict, prefix: &str) {
        linear_named_to_torch(
            &self.query_key_value,
            state_dict,
            &torch_name(prefix, "in_proj_weight"),
            &torch_name(prefix, "in_proj_bias"),
        );
        linear_to_torch(&self.output, state_dict, &torch_name(prefix, "out_proj"));
    }

    /// Queries, keys and values, each `[batch, n_heads, time, d_head]`.
    fn project(&self, input: Tensor<3>) -> [Tensor<4>; 3] {
        let [batch, time, _] = input.dims();
        let packed = self
            .query_key_value
            .forward(input)
            .reshape([batch, time, 3 * self.n_heads, self.d_head])
            .swap_dims(1, 2);
        let mut parts = packed.chunk(3, 1).into_iter();
        let mut next = || parts.next().expect("three equal chunks of 3 * n_heads");
        [next(), next(), next()]
    }

    /// The attention weights `softmax(scores / sqrt(d_head))` of the (padding-masked)
    /// products of queries and keys, `[batch, n_heads, time_query, time_key]`. With
    /// `Some(time_cached)`, query `i` sits at position `time_cached + i` and sees no later key.
    ///
    /// On flex this is one operation ([`attention_softmax`]); elsewhere Burn's scaling, masked
    /// fill and softmax.
    fn weights(&self, scores: Tensor<4>, causal: Option<usize>) -> Tensor<4> {
        let scale = 1.0 / (self.d_head as f64).sqrt();
        if applies_to(&scores.device()) {
            return attention_softmax(scores, scale as f32, causal.is_some(), causal.unwrap_or(0));
        }
        let mut scores = scores.mul_scalar(scale);
        if let Some(time_cached) = causal {
            scores = mask_future(scores, time_cached);
        }
        softmax(scores, 3)
    }

    /// The output and the attention weights `[batch, n_heads, time_query, time_key]` over
    /// `value` `[batch, n_heads, time_key, d_head]`.
    fn attend(&self, weights: Tensor<4>, value: Tensor<4>) -> (Tensor<3>, Tensor<4>) {
        let [batch, _, time_query, _] = weights.dims();
        let context = dropout(&self.dropout, weights.clone(), self.dropout_kernel)
            .matmul(value)
            .swap_dims(1, 2)
            .reshape([batch, time_query, self.d_model()]);
        (self.output.forward(context), weights)
    }
}

/// Masks the keys after each query, where query `i` sits at position `time_cached + i`.
fn mask_future(scores: Tensor<4>, time_cached: usize) -> Tensor<4> {
    let [_, _, time_query, time_key] = scores.dims();
    let future =
        Tensor::<2, Bool>::tril_mask([time_query, time_key], time_cached as i64, &scores.device());
    scores.mask_fill(future.reshape([1, 1, time_query, time_key]), MASKED_SCORE)
}

/// Checks a dropout probability as the `model.dropout` key.
pub(crate) fn validate_dropout(dropout: f64) -> Result<(), Error> {
    Error::check_probability("model.dropout", dropout)
}

/// The full PyTorch name of `name` inside the module at `prefix` (`layers.0.` and `layers.0`
/// both work; an empty prefix is the root).
pub(crate) fn torch_name(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else if prefix.ends_with('.') {
        format!("{prefix}{name}")
    } else {
        format!("{prefix}.{name}")
    }
}

/// Loads a PyTorch `nn.Linear` (`weight` `[d_output, d_input]`, `bias`) at `prefix`.
pub(crate) fn load_linear(
    linear: Linear,
    state_dict: &StateDict,
    prefix: &str,
) -> Result<Linear, Error> {
    load_linear_named(
        linear,
        state_dict,
        &torch_name(prefix, "weight"),
        &torch_name(prefix, "bias"),
    )
}

/// Writes a linear layer as PyTorch's `nn.Linear` at `prefix`.
pub(crate) fn linear_to_torch(linear: &Linear, state_dict: &mut StateDict, prefix: &str) {
    linear_named_to_torch(
        linear,
        state_dict,
        &torch_name(prefix, "weight"),
        &torch_name(prefix, "bias"),
    );
}

/// Loads a PyTorch `nn.LayerNorm` (`weight`, `bias`) at `prefix`.
pub(crate) fn load_layer_norm(
    mut norm: LayerNorm,
    state_dict: &StateDict,
    prefix: &str,
) -> Result<LayerNorm, Error> {
    let [d_model] = norm.gamma.lazy_shape().dims();
    norm.gamma = load_param(
        norm.gamma,
        state_dict,
        &torch_name(prefix, "weight"),
        [d_model],
    )?;
    norm.beta = match norm.beta {
        Some(beta) => Some(load_param(
            beta,
            state_dict,
            &torch_name(prefix, "bias"),
            [d_model],
        )?),
        None => None,
    };
    Ok(norm)
}

/// Writes a layer norm as PyTorch's `nn.LayerNorm` at `prefix`.
pub(crate) fn layer_norm_to_torch(norm: &LayerNorm, state_dict: &mut StateDict, prefix: &str) {
    state_dict.insert(torch_name(prefix, "weight"), norm.gamma.val());
    if let Some(beta) = &norm.beta {
        state_dict.insert(torch_name(prefix, "bias"), beta.val());
    }
}

/// Replaces `param`'s value by the tensor `name` of `shape`, keeping its id, device and
/// gradient setting.
pub(crate) fn load_param<const D: usize>(
    param: Param<Tensor<D>>,
    state_dict: &StateDict,
    name: &str,
    shape: [usize; D],
) -> Result<Param<Tensor<D>>, Error> {
    let value = state_dict.tensor(name, shape, &param.lazy_device())?;
    Ok(replace_param(param, value))
}

/// Replaces `param`'s value, keeping its id, device and gradient setting.
pub(crate) fn replace_param<const D: usize>(
    param: Param<Tensor<D>>,
    value: Tensor<D>,
) -> Param<Tensor<D>> {
    let id = param.id;
    param.transform_for_load(value, id)
}

fn load_linear_named(
    mut linear: Linear,
    state_dict: &StateDict,
    weight_name: &str,
    bias_name: &str,
) -> Result<Linear, Error> {
    let [d_input, d_output] = linear.weight.lazy_shape().dims();
    let device = linear.weight.lazy_device();
    // PyTorch stores `[d_output, d_input]`; Burn multiplies by `[d_input, d_output]`. The
    // transpose is written out in memory rather than kept as a strided view, so that the
    // loaded layer computes with the same memory layout, hence bit for bit the same outputs,
    // as the layer that was exported.
    let weight = state_dict
        .tensor(weight_name, [d_output, d_input], &device)?
        .transpose()
        .into_data();
    linear.weight = replace_param(linear.weight, Tensor::from_data(weight, &device));
    linear.bias = match linear.bias {
        Some(bias) => Some(load_param(bias, state_dict, bias_name, [d_output])?),
        None => None,
    };
    Ok(linear)
}

fn linear_named_to_torch(
    linear: &Linear,
    state_dict: &mut StateDict,
    weight_name: &str,
    bias_name: &str,
) {
    state_dict.insert(weight_name, linear.weight.val().transpose());
    if let Some(bias) = &linear.bias {
        state_dict.insert(bias_name, bias.val());
    }
}

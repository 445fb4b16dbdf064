//! BERT (Devlin et al., 2019) as Hugging Face transformers saves it: token, position and
//! token-type embeddings summed and layer-normalised, a stack of post-norm encoder layers, and
//! the pooler (a `tanh` dense layer on the first token's state).
//!
//! A checkpoint is the pair a `save_pretrained` folder holds, `config.json` and
//! `model.safetensors`, handed over as bytes: [`BertConfig::from_hf_json`] sizes the model,
//! [`Bert::load_hf`] takes its weights. The loader accepts what checkpoints in the wild hold:
//! keys with or without the `bert.` prefix of the `BertFor*` classes, tensors the body does not
//! use (`cls.*` heads, the `embeddings.position_ids` buffer, a classifier), the old
//! `LayerNorm.gamma`/`beta` names, and float16, bfloat16 or float64 weights. This module reads
//! no files: the caller reads the folder and names it in its messages.
//!
//! Each encoder layer is an [`EncoderLayer`] (post-norm, BERT's activation and epsilon); the
//! separate query, key and value projections of the checkpoint are packed into its one
//! projection as they are loaded. While training, dropout acts where BERT's does: on the
//! embeddings, the attention weights and each residual branch, not inside the feed-forward
//! block; one probability, `hidden_dropout_prob`, serves for `attention_probs_dropout_prob` too
//! (every released BERT sets both to 0.1).

use burn::module::Module;
use burn::nn::{
    Dropout, DropoutConfig, Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear,
    LinearConfig,
};
use burn::tensor::activation::tanh;
use burn::tensor::{Bool, Device, Int, Tensor};
use serde::{Deserialize, Serialize};

use crate::attention::{load_layer_norm, load_linear, load_param};
use crate::dropout_kernel::dropout;
use crate::layer_norm_kernel::layer_norm;
use crate::model::Error;
use crate::pooling::mean_over_valid;
use crate::transformer::{EncoderLayer, EncoderLayerConfig};
use crate::{Activation, StateDict};

/// Every size and option of a [`Bert`], as a checkpoint's `config.json` gives them.
#[derive(Debug, Clone, PartialEq)]
pub struct BertConfig {
    /// The number of distinct token ids (`vocab_size`).
    pub vocab_size: usize,
    /// The width of every token's vector (`hidden_size`).
    pub d_model: usize,
    /// The number of encoder layers (`num_hidden_layers`).
    pub n_layers: usize,
    /// The number of attention heads (`num_attention_heads`).
    pub n_heads: usize,
    /// The width of each feed-forward block's hidden layer (`intermediate_size`).
    pub d_ff: usize,
    /// The longest sequence, in tokens (`max_position_embeddings`).
    pub max_positions: usize,
    /// The number of token types (`type_vocab_size`; 2 for sentence pairs).
    pub n_token_types: usize,
    /// The feed-forward non-linearity (`hidden_act`).
    pub activation: Activation,
    /// The `epsilon` of every layer norm (`layer_norm_eps`).
    pub layer_norm_eps: f64,
    /// The dropout probability while training (`hidden_dropout_prob`).
    pub dropout: f64,
}

/// The keys of a Hugging Face `config.json` that size a BERT; the others are ignored.
#[derive(Deserialize)]
struct HfBertConfig {
    model_type: Option<String>,
    #[serde(default)]
    architectures: Vec<String>,
    vocab_size: usize,
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    intermediate_size: usize,
    max_position_embeddings: usize,
    #[serde(default = "two")]
    type_vocab_size: usize,
    #[serde(default = "gelu")]
    hidden_act: String,
    #[serde(default = "bert_epsilon")]
    layer_norm_eps: f64,
    #[serde(default = "one_tenth")]
    hidden_dropout_prob: f64,
    position_embedding_type: Option<String>,
}

fn two() -> usize {
    2
}
fn gelu() -> String {
    "gelu".to_string()
}
fn bert_epsilon() -> f64 {
    1e-12
}
fn one_tenth() -> f64 {
    0.1
}

impl BertConfig {
    /// Reads the text of a checkpoint's `config.json`.
    ///
    /// Errors name the key at fault with `config.json` as the field: a `model_type` other than
    /// `bert`, an architecture that is not a BERT, an activation or position encoding this
    /// model does not have, or a size out of range.
    pub fn from_hf_json(text: &str) -> Result<Self, Error> {
        let hf: HfBertConfig = serde_json::from_str(text).map_err(|error| {
            Error::invalid("config.json", format!("not a BERT config: {error}"))
        })?;
        match hf.model_type.as_deref() {
            Some("bert") => {}
            Some(other) => {
                return Err(Error::invalid(
                    "config.json",
                    format!("model_type {other:?} is not supported; burnish reads \"bert\""),
                ));
            }
            None => return Err(Error::invalid("config.json", "has no model_type")),
        }
        if let Some(other) = hf
            .architectures
            .iter()
            .find(|name| !name.starts_with("Bert"))
        {
            return Err(Error::invalid(
                "config.json",
                format!("architecture {other:?} is not a BERT (BertModel, BertFor...)"),
            ));
        }
        if let Some(other) = hf
            .position_embedding_type
            .as_deref()
            .filter(|kind| *kind != "absolute")
        {
            return Err(Error::invalid(
                "config.json",
                format!(
                    "position_embedding_type {other:?} is not supported; burnish reads \"absolute\""
                ),
            ));
        }
        let activation = match hf.hidden_act.as_str() {
            "gelu" => Activation::Gelu,
            "relu" => Activation::Relu,
            "silu" | "swish" => Activation::Silu,
            "tanh" => Activation::Tanh,
            other => {
                return Err(Error::invalid(
                    "config.json",
                    format!(
                        "hidden_act {other:?} is not supported; burnish has \"gelu\" (erf), \"relu\", \"silu\" and \"tanh\""
                    ),
                ));
            }
        };
        let config = Self {
            vocab_size: hf.vocab_size,
            d_model: hf.hidden_size,
            n_layers: hf.num_hidden_layers,
            n_heads: hf.num_attention_heads,
            d_ff: hf.intermediate_size,
            max_positions: hf.max_position_embeddings,
            n_token_types: hf.type_vocab_size,
            activation,
            layer_norm_eps: hf.layer_norm_eps,
            dropout: hf.hidden_dropout_prob,
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks every size and probability.
    pub fn validate(&self) -> Result<(), Error> {
        for (key, value) in [
            ("vocab_size", self.vocab_size),
            ("num_hidden_layers", self.n_layers),
            ("max_position_embeddings", self.max_positions),
            ("type_vocab_size", self.n_token_types),
        ] {
            if value == 0 {
                return Err(Error::invalid(
                    "config.json",
                    format!("{key} must be at least 1"),
                ));
            }
        }
        self.layer().validate()
    }

    /// Builds the model with freshly initialised weights on `device`; [`Bert::load_hf`] then
    /// replaces them.
    pub fn init(&self, device: &Device) -> Bert {
        let layer = self.layer();
        Bert {
            word_embeddings: EmbeddingConfig::new(self.vocab_size, self.d_model).init(device),
            position_embeddings: EmbeddingConfig::new(self.max_positions, self.d_model)
                .init(device),
            token_type_embeddings: EmbeddingConfig::new(self.n_token_types, self.d_model)
                .init(device),
            embedding_norm: LayerNormConfig::new(self.d_model)
                .with_epsilon(self.layer_norm_eps)
                .init(device),
            layers: (0..self.n_layers)
                .map(|_| layer.init(device).with_dropout_kernel())
                .collect(),
            pooler: LinearConfig::new(self.d_model, self.d_model).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            norm_eps: self.layer_norm_eps,
            max_positions: self.max_positions,
            d_ff: self.d_ff,
        }
    }

    fn layer(&self) -> EncoderLayerConfig {
        EncoderLayerConfig {
            d_model: self.d_model,
            n_heads: self.n_heads,
            d_ff: self.d_ff,
            dropout: self.dropout,
            activation: self.activation,
            norm_first: false,
            feed_forward_dropout: false,
            layer_norm_eps: self.layer_norm_eps,
        }
    }
}

/// The BERT encoder: embeddings, encoder layers and the pooler.
#[derive(Module, Debug)]
pub struct Bert {
    word_embeddings: Embedding,
    position_embeddings: Embedding,
    token_type_embeddings: Embedding,
    embedding_norm: LayerNorm,
    layers: Vec<EncoderLayer>,
    pooler: Linear,
    dropout: Dropout,
    #[module(skip)]
    norm_eps: f64,
    #[module(skip)]
    max_positions: usize,
    #[module(skip)]
    d_ff: usize,
}

/// What [`Bert::load_hf`] found in a checkpoint besides the weights it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BertLoadReport {
    /// The prefix every body tensor carried: `""` (a `BertModel` save) or `"bert."`.
    pub prefix: String,
    /// The tensors the body does not use (heads, buffers), sorted.
    pub ignored: Vec<String>,
    /// Whether the checkpoint had a pooler; without one the model keeps a freshly
    /// initialised pooler, as transformers does.
    pub has_pooler: bool,
}

impl Bert {
    /// The last layer's state of every position.
    ///
    /// `token_types` default to 0 everywhere (one text per row); `padding` marks padded
    /// positions (`true`), which no position attends to; their own outputs are meaningless.
    ///
    /// # Shapes
    /// - `ids`, `token_types`, `padding`: `[batch, time]`, `time <= max_positions`
    /// - output: `[batch, time, d_model]`
    ///
    /// # Panics
    /// When `time` exceeds the checkpoint's `max_position_embeddings`.
    pub fn forward(
        &self,
        ids: Tensor<2, Int>,
        token_types: Option<Tensor<2, Int>>,
        padding: Option<Tensor<2, Bool>>,
    ) -> Tensor<3> {
        let [_, time] = ids.dims();
        assert!(
            time <= self.max_positions,
            "a sequence of {time} tokens is longer than the checkpoint's {} positions",
            self.max_positions
        );
        let positions = self
            .position_embeddings
            .weight
            .val()
            .narrow(0, 0, time)
            .unsqueeze_dim(0);
        let types = match token_types {
            Some(token_types) => self.token_type_embeddings.forward(token_types),
            None => self
                .token_type_embeddings
                .weight
                .val()
                .narrow(0, 0, 1)
                .unsqueeze_dim(0),
        };
        let summed = self.word_embeddings.forward(ids) + positions + types;
        let normalized = layer_norm(&self.embedding_norm, summed, self.norm_eps);
        let mut hidden = dropout(&self.dropout, normalized, true);
        for layer in &self.layers {
            hidden = layer.forward(hidden, padding.clone(), false);
        }
        hidden
    }

    /// The pooler's output: `tanh(dense(state of the first token))`, what BERT's next-sentence
    /// head and Hugging Face's `BertForSequenceClassification` read.
    ///
    /// # Shapes
    /// - `hidden`: `[batch, time, d_model]` (from [`Self::forward`])
    /// - output: `[batch, d_model]`
    pub fn pool(&self, hidden: Tensor<3>) -> Tensor<2> {
        let [batch, _, d_model] = hidden.dims();
        tanh(
            self.pooler
                .forward(hidden.narrow(1, 0, 1).reshape([batch, d_model])),
        )
    }

    /// Stops the embeddings and the first `n_layers` encoder layers from learning (none for
    /// 0); the rest, the pooler included, still learn.
    pub fn freeze_first(mut self, n_layers: usize) -> Self {
        if n_layers == 0 {
            return self;
        }
        self.word_embeddings = self.word_embeddings.no_grad();
        self.position_embeddings = self.position_embeddings.no_grad();
        self.token_type_embeddings = self.token_type_embeddings.no_grad();
        self.embedding_norm = self.embedding_norm.no_grad();
        self.layers = std::mem::take(&mut self.layers)
            .into_iter()
            .enumerate()
            .map(|(layer_idx, layer)| {
                if layer_idx < n_layers {
                    layer.no_grad()
                } else {
                    layer
                }
            })
            .collect();
        self
    }

    /// The width of every token's vector.
    pub fn d_model(&self) -> usize {
        let [_, d_model] = self.word_embeddings.weight.lazy_shape().dims();
        d_model
    }

    /// The longest sequence the position table covers.
    pub fn max_positions(&self) -> usize {
        self.max_positions
    }

    /// The number of encoder layers.
    pub fn n_layers(&self) -> usize {
        self.layers.len()
    }

    /// Takes the weights of a Hugging Face BERT checkpoint, the bytes of its
    /// `model.safetensors`. Every tensor of the body must be there with its shape; a missing
    /// pooler leaves the fresh one in place (the report says so).
    ///
    /// Errors name the tensor as the file spells it (`bert.encoder.layer.0...`).
    pub fn load_hf(mut self, safetensors: &[u8]) -> Result<(Self, BertLoadReport), Error> {
        let names = StateDict::tensor_names(safetensors)?;
        let prefix = ["", "bert."]
            .into_iter()
            .find(|prefix| {
                names
                    .iter()
                    .any(|name| *name == format!("{prefix}embeddings.word_embeddings.weight"))
            })
            .ok_or_else(|| Error::Weights {
                name: "embeddings.word_embeddings.weight".to_string(),
                reason: "missing (nor with the prefix `bert.`): not a BERT checkpoint".to_string(),
            })?;
        // The body's tensors under their canonical names (no prefix, LayerNorm `weight` and
        // `bias`); the map back gives errors the file's own spelling.
        let mut spelled = std::collections::BTreeMap::new();
        let mut ignored = Vec::new();
        let state_dict = StateDict::from_safetensors_where(safetensors, |name| {
            let canonical = name
                .strip_prefix(prefix)
                .filter(|rest| is_body_tensor(rest))
                .map(canonical_layer_norm_name);
            match &canonical {
                Some(canonical) => {
                    spelled.insert(canonical.clone(), name.to_string());
                }
                None => ignored.push(name.to_string()),
            }
            canonical
        })?;
        let in_file = |error: Error| match error {
            Error::Weights { name, reason } => Error::Weights {
                name: spelled
                    .get(&name)
                    .cloned()
                    .unwrap_or_else(|| format!("{prefix}{name}")),
                reason,
            },
            other => other,
        };
        let has_pooler = state_dict.contains("pooler.dense.weight");
        self = self.load_body(&state_dict, has_pooler).map_err(in_file)?;
        ignored.sort();
        let report = BertLoadReport {
            prefix: prefix.to_string(),
            ignored,
            has_pooler,
        };
        Ok((self, report))
    }

    fn load_body(mut self, state_dict: &StateDict, has_pooler: bool) -> Result<Self, Error> {
        let embeddings = |table: Embedding, name: &str| -> Result<Embedding, Error> {
            let shape = table.weight.lazy_shape().dims();
            Ok(Embedding {
                weight: load_param(table.weight, state_dict, name, shape)?,
            })
        };
        self.word_embeddings =
            embeddings(self.word_embeddings, "embeddings.word_embeddings.weight")?;
        self.position_embeddings = embeddings(
            self.position_embeddings,
            "embeddings.position_embeddings.weight",
        )?;
        self.token_type_embeddings = embeddings(
            self.token_type_embeddings,
            "embeddings.token_type_embeddings.weight",
        )?;
        self.embedding_norm =
            load_layer_norm(self.embedding_norm, state_dict, "embeddings.LayerNorm")?;
        let (d_model, d_ff) = (self.d_model(), self.d_ff);
        self.layers = std::mem::take(&mut self.layers)
            .into_iter()
            .enumerate()
            .map(|(layer_idx, layer)| {
                let torch = encoder_layer_as_torch(state_dict, layer_idx, d_model, d_ff)?;
                layer.load_torch(&torch, "")
            })
            .collect::<Result<_, _>>()?;
        // A checkpoint saved without its pooler keeps the fresh one, as transformers does, so
        // that every BERT of one config has the same parameters (a run folder's weights load
        // back into the model its config builds).
        if has_pooler {
            self.pooler = load_linear(self.pooler, state_dict, "pooler.dense")?;
        }
        Ok(self)
    }
}

/// Whether `name` (prefix removed) is a tensor of the BERT body.
fn is_body_tensor(name: &str) -> bool {
    (name.starts_with("embeddings.") && name != "embeddings.position_ids")
        || name.starts_with("encoder.layer.")
        || name.starts_with("pooler.dense.")
}

/// `LayerNorm.gamma` and `LayerNorm.beta` (TensorFlow-era checkpoints) as `weight` and `bias`.
fn canonical_layer_norm_name(name: &str) -> String {
    if let Some(stem) = name.strip_suffix("LayerNorm.gamma") {
        format!("{stem}LayerNorm.weight")
    } else if let Some(stem) = name.strip_suffix("LayerNorm.beta") {
        format!("{stem}LayerNorm.bias")
    } else {
        name.to_string()
    }
}

/// Layer `layer_idx` of the checkpoint under PyTorch `nn.TransformerEncoderLayer`'s names,
/// with the query, key and value projections packed into `self_attn.in_proj_*` (queries
/// first), which is the layout [`EncoderLayer::load_torch`] reads. Every tensor's shape is
/// checked under its BERT name first.
fn encoder_layer_as_torch(
    state_dict: &StateDict,
    layer_idx: usize,
    d_model: usize,
    d_ff: usize,
) -> Result<StateDict, Error> {
    let bert = |name: &str| format!("encoder.layer.{layer_idx}.{name}");
    let mut torch = StateDict::new();
    let mut packed_weight = Vec::with_capacity(3 * d_model * d_model);
    let mut packed_bias = Vec::with_capacity(3 * d_model);
    for projection in ["query", "key", "value"] {
        let weight = bert(&format!("attention.self.{projection}.weight"));
        let bias = bert(&format!("attention.self.{projection}.bias"));
        packed_weight.extend_from_slice(state_dict.values(&weight, &[d_model, d_model])?);
        packed_bias.extend_from_slice(state_dict.values(&bias, &[d_model])?);
    }
    torch.insert_values(
        "self_attn.in_proj_weight",
        vec![3 * d_model, d_model],
        packed_weight,
    );
    torch.insert_values("self_attn.in_proj_bias", vec![3 * d_model], packed_bias);
    for (from, to, weight_shape) in [
        (
            "attention.output.dense",
            "self_attn.out_proj",
            vec![d_model, d_model],
        ),
        ("attention.output.LayerNorm", "norm1", vec![d_model]),
        ("intermediate.dense", "linear1", vec![d_ff, d_model]),
        ("output.dense", "linear2", vec![d_model, d_ff]),
        ("output.LayerNorm", "norm2", vec![d_model]),
    ] {
        let bias_shape = [weight_shape[0]];
        for (part, shape) in [("weight", weight_shape.as_slice()), ("bias", &bias_shape)] {
            let values = state_dict.values(&bert(&format!("{from}.{part}")), shape)?;
            torch.insert_values(format!("{to}.{part}"), shape.to_vec(), values.to_vec());
        }
    }
    Ok(torch)
}

/// How a [`BertClassifier`] turns the last layer's states into one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BertPooling {
    /// The mean over the positions that are not padding (sentence-transformers' pooling).
    #[default]
    Mean,
    /// The pooler on the first (`[CLS]`) token, as transformers'
    /// `BertForSequenceClassification` reads it.
    Cls,
}

/// How a [`BertClassifier`] is put on a loaded [`Bert`].
#[derive(Debug, Clone, PartialEq)]
pub struct BertClassifierConfig {
    /// How the states are summarised.
    pub pooling: BertPooling,
    /// The number of outputs: classes for a classifier, targets for a regressor.
    pub d_output: usize,
    /// Dropout before the head.
    pub dropout: f64,
    /// Keep the whole body as loaded.
    pub freeze_body: bool,
    /// Keep the embeddings and the first `freeze_layers` layers as loaded.
    pub freeze_layers: usize,
    /// The body's learning rate, when it differs from the head's.
    pub body_lr: Option<f64>,
}

impl BertClassifierConfig {
    /// Checks the head's sizes and the freezing against `body`, naming the experiment key.
    pub fn validate(&self, body: &Bert) -> Result<(), Error> {
        if self.d_output == 0 {
            return Err(Error::invalid("d_output", "must be at least 1"));
        }
        Error::check_probability("model.dropout", self.dropout)?;
        if self.freeze_layers > body.n_layers() {
            return Err(Error::invalid(
                "model.freeze_layers",
                format!(
                    "{} is more than the checkpoint's {} layers",
                    self.freeze_layers,
                    body.n_layers()
                ),
            ));
        }
        if self.freeze_body && self.freeze_layers > 0 {
            return Err(Error::invalid(
                "model.freeze_layers",
                "freeze_body = true freezes every layer already; set one of the two",
            ));
        }
        if let Some(body_lr) = self.body_lr
            && !(body_lr > 0.0 && body_lr.is_finite())
        {
            return Err(Error::invalid(
                "model.body_lr",
                format!("{body_lr} is not a positive learning rate"),
            ));
        }
        Ok(())
    }

    /// Puts a freshly initialised head on `body` and freezes what the config says.
    ///
    /// Call [`Self::validate`] first where the settings come from a user.
    pub fn init(&self, body: Bert, device: &Device) -> BertClassifier {
        let d_model = body.d_model();
        let body = if self.freeze_body {
            body.no_grad()
        } else {
            body.freeze_first(self.freeze_layers)
        };
        BertClassifier {
            body,
            dropout: DropoutConfig::new(self.dropout).init(),
            head: LinearConfig::new(d_model, self.d_output).init(device),
            pooling: self.pooling,
            body_lr: self.body_lr,
        }
    }
}

/// A [`Bert`] with a linear head on its pooled states: the fine-tuned classifier (or
/// regressor) of a `kind = "bert"` experiment.
#[derive(Module, Debug)]
pub struct BertClassifier {
    body: Bert,
    dropout: Dropout,
    head: Linear,
    #[module(skip)]
    pooling: BertPooling,
    #[module(skip)]
    body_lr: Option<f64>,
}

impl BertClassifier {
    /// The outputs (logits for a classifier) for a batch of token id rows.
    ///
    /// # Shapes
    /// - `ids`, `padding`: `[batch, time]`, `true` at padded positions
    /// - output: `[batch, d_output]`
    pub fn forward(&self, ids: Tensor<2, Int>, padding: Option<Tensor<2, Bool>>) -> Tensor<2> {
        let hidden = self.body.forward(ids, None, padding.clone());
        let summary = match self.pooling {
            BertPooling::Mean => mean_over_valid(hidden, padding),
            BertPooling::Cls => self.body.pool(hidden),
        };
        self.head.forward(dropout(&self.dropout, summary, true))
    }

    /// The pretrained body.
    pub fn body(&self) -> &Bert {
        &self.body
    }

    /// The body's own learning rate, when it has one.
    pub fn body_lr(&self) -> Option<f64> {
        self.body_lr
    }
}

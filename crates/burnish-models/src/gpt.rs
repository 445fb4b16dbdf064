//! A GPT-style causal language model (after nanoGPT) with key-value-cached generation.
//!
//! Tokens and their positions are embedded, pass through pre-norm decoder blocks (causal
//! self-attention and a GELU feed-forward) and a final layer normalisation, and a linear head
//! gives the next-token logits. Positions are learned and absolute, so a sequence is at most
//! [`GptConfig::context`] tokens long.
//!
//! Sampling happens on the host with a seeded generator of this module, never with the
//! backend's random numbers, so that the same seed draws the same tokens on every backend
//! and with or without the cache.

use burn::module::Module;
use burn::nn::{
    Dropout, DropoutConfig, Embedding, EmbeddingConfig, Initializer, LayerNorm, LayerNormConfig,
    Linear, LinearConfig,
};
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::Activation;
use crate::attention::KeyValueCache;
use crate::layer_norm_kernel::layer_norm;
use crate::model::Error;
use crate::transformer::{EncoderLayer, EncoderLayerConfig};

/// nanoGPT's layer-norm epsilon (PyTorch's default).
const LAYER_NORM_EPS: f64 = 1e-5;

/// Every size and option of a [`Gpt`].
#[derive(Debug, Clone, PartialEq)]
pub struct GptConfig {
    /// The number of distinct tokens.
    pub vocab_size: usize,
    /// The longest sequence the model sees at once (nanoGPT's `block_size`).
    pub context: usize,
    /// The number of decoder blocks.
    pub n_layers: usize,
    /// The number of attention heads in each block; divides `d_model`.
    pub n_heads: usize,
    /// The width of the residual stream.
    pub d_model: usize,
    /// The width of each block's feed-forward layer (nanoGPT: `4 * d_model`).
    pub d_ff: usize,
    /// The dropout probability on the embeddings, attention weights and residual branches.
    pub dropout: f64,
}

impl GptConfig {
    /// Checks every size and probability, naming the field at fault.
    pub fn validate(&self) -> Result<(), Error> {
        if self.vocab_size == 0 {
            return Err(Error::invalid("vocab_size", "the data has no tokens"));
        }
        if self.context == 0 {
            return Err(Error::invalid("model.context", "must be at least 1"));
        }
        if self.n_layers == 0 {
            return Err(Error::invalid("model.n_layers", "must be at least 1"));
        }
        // The blocks check the widths, the heads and the dropout.
        self.block_config().validate()
    }

    /// Builds the model with freshly initialised weights on `device`.
    ///
    /// Embeddings start as nanoGPT's, normal with standard deviation 0.02. Call
    /// [`Self::validate`] first where the sizes come from a user.
    pub fn init(&self, device: &Device) -> Gpt {
        let embedding_init = Initializer::Normal {
            mean: 0.0,
            std: 0.02,
        };
        Gpt {
            token_embedding: EmbeddingConfig::new(self.vocab_size, self.d_model)
                .with_initializer(embedding_init.clone())
                .init(device),
            position_embedding: EmbeddingConfig::new(self.context, self.d_model)
                .with_initializer(embedding_init)
                .init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            blocks: (0..self.n_layers)
                .map(|_| self.block_config().init(device))
                .collect(),
            norm: LayerNormConfig::new(self.d_model)
                .with_epsilon(LAYER_NORM_EPS)
                .init(device),
            head: LinearConfig::new(self.d_model, self.vocab_size)
                .with_bias(false)
                .init(device),
            context: self.context,
            vocab_size: self.vocab_size,
        }
    }

    fn block_config(&self) -> EncoderLayerConfig {
        EncoderLayerConfig {
            d_model: self.d_model,
            n_heads: self.n_heads,
            d_ff: self.d_ff,
            dropout: self.dropout,
            activation: Activation::Gelu,
            norm_first: true,
            feed_forward_dropout: true,
            layer_norm_eps: LAYER_NORM_EPS,
        }
    }
}

/// A decoder-only transformer language model.
///
/// The head is a bias-free linear layer, untied from the token embedding, as nanoGPT's
/// `lm_head` (nanoGPT ties the two; keeping them apart keeps every parameter a plain
/// Burn module).
#[derive(Module, Debug)]
pub struct Gpt {
    token_embedding: Embedding,
    position_embedding: Embedding,
    dropout: Dropout,
    blocks: Vec<EncoderLayer>,
    norm: LayerNorm,
    head: Linear,
    #[module(skip)]
    context: usize,
    #[module(skip)]
    vocab_size: usize,
}

/// The keys and values of every position seen so far, one cache per decoder block.
///
/// Made by [`Gpt::new_cache`] and filled by [`Gpt::forward_cached`].
#[derive(Debug, Clone, Default)]
pub struct GptCache {
    layers: Vec<KeyValueCache>,
}

impl GptCache {
    /// The number of positions cached.
    pub fn len(&self) -> usize {
        self.layers.first().map_or(0, KeyValueCache::len)
    }

    /// Whether no position is cached yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every position, so that the next tokens start again at position 0.
    pub fn clear(&mut self) {
        self.layers.iter_mut().for_each(KeyValueCache::clear);
    }
}

impl Gpt {
    /// The longest sequence the model accepts.
    pub fn context(&self) -> usize {
        self.context
    }

    /// The number of distinct tokens.
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// An empty cache for [`Self::forward_cached`].
    pub fn new_cache(&self) -> GptCache {
        GptCache {
            layers: vec![KeyValueCache::new(); self.blocks.len()],
        }
    }

    /// Computes the next-token logits at every position.
    ///
    /// The logits at position `t` depend only on the tokens up to `t`.
    ///
    /// # Shapes
    /// - `tokens`: `[batch, time]` with `time <= context`
    /// - output: `[batch, time, vocab_size]`
    pub fn forward(&self, tokens: Tensor<2, Int>) -> Tensor<3> {
        let mut hidden = self.embed(tokens, 0);
        for block in &self.blocks {
            hidden = block.forward(hidden, None, true);
        }
        self.head
            .forward(layer_norm(&self.norm, hidden, LAYER_NORM_EPS))
    }

    /// Computes the logits of new tokens that follow the positions already in `cache`, and
    /// adds the new positions to it.
    ///
    /// Feeding a sequence in pieces gives the logits [`Self::forward`] gives for the whole.
    ///
    /// # Shapes
    /// - `tokens`: `[batch, time]` with `cache.len() + time <= context`; `batch` as in every
    ///   earlier call with the same cache
    /// - output: `[batch, time, vocab_size]`
    pub fn forward_cached(&self, tokens: Tensor<2, Int>, cache: &mut GptCache) -> Tensor<3> {
        assert_eq!(
            cache.layers.len(),
            self.blocks.len(),
            "the cache was made for a model with another number of layers: use Gpt::new_cache"
        );
        let mut hidden = self.embed(tokens, cache.len());
        for (block, layer_cache) in self.blocks.iter().zip(&mut cache.layers) {
            hidden = block.forward_cached(hidden, layer_cache);
        }
        self.head
            .forward(layer_norm(&self.norm, hidden, LAYER_NORM_EPS))
    }

    /// Samples `config.max_new_tokens` tokens that follow `prompt`, and returns only those.
    ///
    /// Each step looks at the last `context` tokens at most, as nanoGPT does. With
    /// `use_cache`, each step runs the model on the one new token against the cached keys and
    /// values of the earlier ones. Once the sequence is longer than `context`, the window
    /// slides and every position moves, which invalidates the cache: from then on each step
    /// clears it and recomputes the whole window, as many operations as without the cache.
    /// Both ways draw the same tokens.
    ///
    /// # Panics
    /// If `prompt` is empty, holds a token outside the vocabulary, or `config` is invalid
    /// (see [`GenerationConfig::validate`]).
    pub fn generate(
        &self,
        prompt: &[usize],
        config: &GenerationConfig,
        device: &Device,
        use_cache: bool,
    ) -> Vec<usize> {
        assert!(
            !prompt.is_empty(),
            "generation needs at least one prompt token"
        );
        if let Some(&token) = prompt.iter().find(|&&token| token >= self.vocab_size) {
            panic!(
                "prompt token {token} is outside the vocabulary of {} tokens",
                self.vocab_size
            );
        }
        if let Err(error) = config.validate() {
            panic!("{error}");
        }
        let mut rng = SplitMix64::new(config.seed);
        let mut sequence = prompt.to_vec();
        let mut cache = self.new_cache();
        // The index in `sequence` of the token at position 0 of the cache.
        let mut cache_start = 0;
        for _ in 0..config.max_new_tokens {
            let window_start = sequence.len().saturating_sub(self.context);
            let logits = if use_cache {
                if window_start != cache_start {
                    cache.clear();
                    cache_start = window_start;
                }
                let fresh = &sequence[cache_start + cache.len()..];
                self.forward_cached(token_tensor(fresh, device), &mut cache)
            } else {
                self.forward(token_tensor(&sequence[window_start..], device))
            };
            let [_, time, vocab_size] = logits.dims();
            let last = logits
                .narrow(1, time - 1, 1)
                .reshape([vocab_size])
                .into_data()
                .iter::<f32>()
                .collect::<Vec<_>>();
            let token = sample(&last, config, &mut rng);
            sequence.push(token);
        }
        sequence.split_off(prompt.len())
    }

    /// Token plus position embeddings for `tokens` that start at position `start`.
    fn embed(&self, tokens: Tensor<2, Int>, start: usize) -> Tensor<3> {
        let [_, time] = tokens.dims();
        assert!(
            start + time <= self.context,
            "a sequence of {} tokens is longer than the model's context of {}",
            start + time,
            self.context
        );
        let positions = self
            .position_embedding
            .weight
            .val()
            .narrow(0, start, time)
            .unsqueeze::<3>();
        self.dropout
            .forward(self.token_embedding.forward(tokens) + positions)
    }
}

/// How [`Gpt::generate`] samples.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationConfig {
    /// How many tokens to add after the prompt.
    pub max_new_tokens: usize,
    /// Divides the logits before sampling: below 1 sharpens, above 1 flattens. Positive.
    pub temperature: f64,
    /// Samples only among the `k` most likely tokens; `Some(1)` is greedy decoding.
    pub top_k: Option<usize>,
    /// The seed of the sampler; the same seed draws the same tokens.
    pub seed: u64,
}

impl GenerationConfig {
    /// Checks the temperature and `top_k`, naming the field at fault.
    pub fn validate(&self) -> Result<(), Error> {
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return Err(Error::invalid(
                "generation.temperature",
                format!("{} is not a positive number", self.temperature),
            ));
        }
        if self.top_k == Some(0) {
            return Err(Error::invalid("generation.top_k", "must be at least 1"));
        }
        Ok(())
    }
}

fn token_tensor(tokens: &[usize], device: &Device) -> Tensor<2, Int> {
    let values = tokens.iter().map(|&token| token as i64).collect::<Vec<_>>();
    Tensor::from_data(TensorData::new(values, [1, tokens.len()]), device)
}

/// Draws one token from `logits` as nanoGPT does: divide by the temperature, keep the `top_k`
/// largest, softmax, sample. The work is in `f64` so that the draw does not hinge on the
/// last bits of the logits.
fn sample(logits: &[f32], config: &GenerationConfig, rng: &mut SplitMix64) -> usize {
    let mut candidates = logits
        .iter()
        .enumerate()
        .map(|(token, &logit)| (token, f64::from(logit) / config.temperature))
        .collect::<Vec<_>>();
    if let Some(top_k) = config.top_k {
        // A stable sort keeps the lower token first among equal logits, as an argmax does.
        candidates.sort_by(|left, right| right.1.total_cmp(&left.1));
        candidates.truncate(top_k);
        candidates.sort_by_key(|&(token, _)| token);
    }
    let max = candidates
        .iter()
        .map(|&(_, logit)| logit)
        .fold(f64::NEG_INFINITY, f64::max);
    let weights = candidates
        .iter()
        .map(|&(_, logit)| (logit - max).exp())
        .collect::<Vec<_>>();
    let total: f64 = weights.iter().sum();
    let threshold = rng.next_f64() * total;
    let mut cumulative = 0.0;
    for (&(token, _), weight) in candidates.iter().zip(&weights) {
        cumulative += weight;
        if threshold < cumulative {
            return token;
        }
    }
    // Rounding can leave the threshold a hair above the sum.
    candidates.last().map_or(0, |&(token, _)| token)
}

/// Sebastiano Vigna's SplitMix64: a tiny, fast generator, plenty for sampling tokens.
struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform draw from `[0, 1)` with 53 random bits.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_mix_64_matches_the_reference_sequence() {
        // The first outputs for seed 1234567 of Vigna's splitmix64.c.
        let mut rng = SplitMix64::new(1_234_567);
        assert_eq!(rng.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(rng.next_u64(), 3_203_168_211_198_807_973);
    }

    #[test]
    fn top_1_sampling_is_argmax_and_nan_free() {
        let config = GenerationConfig {
            max_new_tokens: 1,
            temperature: 0.01,
            top_k: Some(1),
            seed: 0,
        };
        let mut rng = SplitMix64::new(0);
        for _ in 0..20 {
            assert_eq!(sample(&[-3.0, 5.0, 4.9, -1e30], &config, &mut rng), 1);
        }
    }

    #[test]
    fn sampling_follows_the_probabilities() {
        let config = GenerationConfig {
            max_new_tokens: 1,
            temperature: 1.0,
            top_k: None,
            seed: 0,
        };
        let mut rng = SplitMix64::new(7);
        // Probabilities 1/4 and 3/4.
        let logits = [0.0, 3.0f32.ln()];
        let draws = 4000;
        let ones = (0..draws)
            .filter(|_| sample(&logits, &config, &mut rng) == 1)
            .count();
        let share = ones as f64 / draws as f64;
        assert!((share - 0.75).abs() < 0.03, "share of token 1: {share}");
    }
}

//! A recurrent network for whole sequences: token embeddings or dense features per step, a
//! [`Recurrent`] stack, pooling over the valid steps and a linear head.
//!
//! It maps a batch of sequences to one row of outputs each (logits for a classifier, values
//! for a regressor). Like the rest of the crate, it computes forward passes only.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::tensor::{Bool, Device, Int, Tensor};
use serde::{Deserialize, Serialize};

use crate::model::Error;
use crate::pooling::{max_over_valid, mean_over_valid};
use crate::recurrent::{Recurrent, RecurrentConfig};
use crate::token_dropout::drop_tokens;

/// What each time step of the input is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecurrentInput {
    /// A token id below `vocab_size`, embedded in `d_embedding` learned features.
    Tokens {
        /// The number of distinct token ids.
        vocab_size: usize,
        /// The number of features of each token's embedding.
        d_embedding: usize,
    },
    /// `d_input` numeric features, as in a time series.
    Features {
        /// The number of features of each time step.
        d_input: usize,
    },
}

impl RecurrentInput {
    /// The number of features the recurrent stack reads at each step.
    pub fn width(self) -> usize {
        match self {
            Self::Tokens { d_embedding, .. } => d_embedding,
            Self::Features { d_input } => d_input,
        }
    }
}

/// How the outputs of all time steps become one row per sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// The final states, as PyTorch classifiers take them: the forward direction's output at
    /// each sequence's last valid step, then the backward direction's output at step 0.
    #[default]
    Last,
    /// The mean over the valid steps.
    Mean,
    /// The feature-wise maximum over the valid steps.
    Max,
}

/// Every size and option of a [`RecurrentClassifier`].
#[derive(Debug, Clone, PartialEq)]
pub struct RecurrentClassifierConfig {
    /// What each time step of the input is.
    pub input: RecurrentInput,
    /// The recurrent stack; its `d_input` must be `input.width()`.
    pub recurrent: RecurrentConfig,
    /// How the steps become one row per sequence.
    pub pooling: Pooling,
    /// The number of outputs: classes for a classifier, targets for a regressor.
    pub d_output: usize,
    /// Dropout on the embeddings (token input) and on the pooled features before the head,
    /// where Keras models put their `Dropout` layers around a recurrent layer; 0 for none.
    pub feature_dropout: f64,
    /// The probability that a token's whole embedding is zeroed while training (word
    /// dropout, token input only); 0 for none.
    pub token_dropout: f64,
}

impl RecurrentClassifierConfig {
    /// Checks every size and probability, naming the field at fault.
    pub fn validate(&self) -> Result<(), Error> {
        match self.input {
            RecurrentInput::Tokens { vocab_size: 0, .. } => {
                return Err(Error::invalid("vocab_size", "the vocabulary is empty"));
            }
            RecurrentInput::Tokens { d_embedding: 0, .. } => {
                return Err(Error::invalid("model.d_embedding", "must be at least 1"));
            }
            _ => {}
        }
        if self.d_output == 0 {
            return Err(Error::invalid("d_output", "must be at least 1"));
        }
        Error::check_probability("model.feature_dropout", self.feature_dropout)?;
        Error::check_probability("model.token_dropout", self.token_dropout)?;
        self.recurrent.validate()?;
        if self.recurrent.d_input != self.input.width() {
            let field = match self.input {
                RecurrentInput::Tokens { .. } => "model.d_embedding",
                RecurrentInput::Features { .. } => "d_input",
            };
            return Err(Error::invalid(
                field,
                format!(
                    "is {} but the recurrent layers read {} features",
                    self.input.width(),
                    self.recurrent.d_input
                ),
            ));
        }
        Ok(())
    }

    /// Builds the network with freshly initialised weights on `device`.
    ///
    /// Call [`Self::validate`] first where the sizes come from a user.
    pub fn init(&self, device: &Device) -> RecurrentClassifier {
        let embedding = match self.input {
            RecurrentInput::Tokens {
                vocab_size,
                d_embedding,
            } => Some(EmbeddingConfig::new(vocab_size, d_embedding).init(device)),
            RecurrentInput::Features { .. } => None,
        };
        RecurrentClassifier {
            embedding,
            recurrent: self.recurrent.init(device),
            head: LinearConfig::new(self.recurrent.d_output(), self.d_output).init(device),
            dropout: DropoutConfig::new(self.feature_dropout).init(),
            token_dropout: DropoutConfig::new(self.token_dropout).init(),
            pooling: self.pooling,
        }
    }
}

/// Embeddings or features, a recurrent stack, pooling over time and a linear head.
#[derive(Module, Debug)]
pub struct RecurrentClassifier {
    embedding: Option<Embedding>,
    recurrent: Recurrent,
    head: Linear,
    dropout: Dropout,
    /// Word dropout on the token embeddings.
    token_dropout: Dropout,
    #[module(skip)]
    pooling: Pooling,
}

impl RecurrentClassifier {
    /// The recurrent stack, for instance to export its weights with [`Recurrent::to_torch`].
    pub fn recurrent(&self) -> &Recurrent {
        &self.recurrent
    }

    /// Computes one output row per token sequence.
    ///
    /// `padding` marks padding positions (`true`) of right-padded sequences; every sequence
    /// needs at least one valid step, and the ids at padding positions must still be below
    /// the vocabulary size. A sequence's output does not depend on its padding.
    ///
    /// # Shapes
    /// - `tokens`: `[batch, time]`
    /// - `padding`: `[batch, time]`
    /// - output: `[batch, d_output]`
    pub fn forward_tokens(
        &self,
        tokens: Tensor<2, Int>,
        padding: Option<Tensor<2, Bool>>,
    ) -> Tensor<2> {
        let embedding = self
            .embedding
            .as_ref()
            .expect("forward_tokens needs a model built for `RecurrentInput::Tokens`");
        // Embedding the transposed ids gives the recurrence its time-major rows directly.
        let embedded = embedding.forward(tokens.swap_dims(0, 1));
        let steps = self
            .dropout
            .forward(drop_tokens(&self.token_dropout, embedded));
        self.forward_steps(steps, padding)
    }

    /// Computes one output row per sequence of feature vectors, all of the same length.
    ///
    /// # Shapes
    /// - `input`: `[batch, time, d_input]`
    /// - output: `[batch, d_output]`
    pub fn forward_series(&self, input: Tensor<3>) -> Tensor<2> {
        assert!(
            self.embedding.is_none(),
            "forward_series needs a model built for `RecurrentInput::Features`"
        );
        self.forward_steps(input.swap_dims(0, 1), None)
    }

    /// The head's output for time-major steps `[time, batch, d_input]`.
    fn forward_steps(&self, input: Tensor<3>, padding: Option<Tensor<2, Bool>>) -> Tensor<2> {
        let output = self
            .recurrent
            .forward_time_major(input, padding.clone())
            .swap_dims(0, 1);
        let pooled = match self.pooling {
            Pooling::Last => self.last_states(output, padding),
            Pooling::Mean => mean_over_valid(output, padding),
            Pooling::Max => max_over_valid(output, padding),
        };
        self.head.forward(self.dropout.forward(pooled))
    }

    /// The forward direction at each sequence's last valid step, then (when bidirectional)
    /// the backward direction at step 0: the final state of each.
    ///
    /// # Shapes
    /// - `output`: `[batch, time, d_hidden * directions]`
    /// - output: `[batch, d_hidden * directions]`
    fn last_states(&self, output: Tensor<3>, padding: Option<Tensor<2, Bool>>) -> Tensor<2> {
        let [batch, time, _] = output.dims();
        let d_hidden = self.recurrent.d_hidden();
        let forward_part = output.clone().narrow(2, 0, d_hidden);
        let forward_last = match padding {
            None => forward_part.narrow(1, time - 1, 1),
            Some(padding) => {
                let last_steps = padding
                    .bool_not()
                    .int()
                    .sum_dim(1)
                    .sub_scalar(1)
                    .clamp_min(0)
                    .reshape([batch, 1, 1])
                    .expand([batch, 1, d_hidden]);
                forward_part.gather(1, last_steps)
            }
        }
        .reshape([batch, d_hidden]);
        if !self.recurrent.is_bidirectional() {
            return forward_last;
        }
        let backward_first = output
            .narrow(2, d_hidden, d_hidden)
            .narrow(1, 0, 1)
            .reshape([batch, d_hidden]);
        Tensor::cat(vec![forward_last, backward_first], 1)
    }
}

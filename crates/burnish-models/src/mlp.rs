//! The multi-layer perceptron: dense layers with a non-linearity, optional layer
//! normalisation and dropout between them, and a linear head.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::Activation;
use crate::model::Error;

/// The hyper-parameters of an MLP as written in an experiment file's `[model]` table.
///
/// The input and output sizes are not written there: the data decides them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpSpec {
    /// The width of each hidden layer, first to last; empty for a linear model.
    #[serde(default = "MlpSpec::default_hidden")]
    pub hidden: Vec<usize>,
    /// The non-linearity after each hidden layer.
    #[serde(default)]
    pub activation: Activation,
    /// The probability of zeroing a hidden unit during training.
    #[serde(default)]
    pub dropout: f64,
    /// Layer normalisation after each hidden layer, before the activation.
    #[serde(default)]
    pub layer_norm: bool,
}

impl MlpSpec {
    fn default_hidden() -> Vec<usize> {
        vec![64, 64]
    }

    /// Completes the spec with the sizes the data fixed.
    pub fn with_sizes(&self, d_input: usize, d_output: usize) -> MlpConfig {
        MlpConfig {
            d_input,
            hidden: self.hidden.clone(),
            d_output,
            activation: self.activation,
            dropout: self.dropout,
            layer_norm: self.layer_norm,
        }
    }
}

impl Default for MlpSpec {
    fn default() -> Self {
        Self {
            hidden: Self::default_hidden(),
            activation: Activation::default(),
            dropout: 0.0,
            layer_norm: false,
        }
    }
}

/// Every size and option of an [`Mlp`].
#[derive(Debug, Clone, PartialEq)]
pub struct MlpConfig {
    /// The number of input features.
    pub d_input: usize,
    /// The width of each hidden layer.
    pub hidden: Vec<usize>,
    /// The number of outputs: classes for a classifier, targets for a regressor.
    pub d_output: usize,
    /// The non-linearity after each hidden layer.
    pub activation: Activation,
    /// The dropout probability after each hidden layer.
    pub dropout: f64,
    /// Layer normalisation after each hidden layer.
    pub layer_norm: bool,
}

impl MlpConfig {
    /// Checks every size and probability, naming the field at fault.
    pub fn validate(&self) -> Result<(), Error> {
        if self.d_input == 0 {
            return Err(Error::invalid("d_input", "the data has no feature columns"));
        }
        if self.d_output == 0 {
            return Err(Error::invalid("d_output", "must be at least 1"));
        }
        if let Some(layer_idx) = self.hidden.iter().position(|&width| width == 0) {
            return Err(Error::invalid(
                "model.hidden",
                format!("layer {layer_idx} has width 0"),
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::invalid(
                "model.dropout",
                format!("{} is not a probability in [0, 1)", self.dropout),
            ));
        }
        Ok(())
    }

    /// Builds the network with freshly initialised weights on `device`.
    ///
    /// Call [`Self::validate`] first where the sizes come from a user.
    pub fn init(&self, device: &Device) -> Mlp {
        let mut d_previous = self.d_input;
        let mut layers = Vec::with_capacity(self.hidden.len());
        let mut norms = Vec::new();
        for &d_hidden in &self.hidden {
            layers.push(LinearConfig::new(d_previous, d_hidden).init(device));
            if self.layer_norm {
                norms.push(LayerNormConfig::new(d_hidden).init(device));
            }
            d_previous = d_hidden;
        }
        Mlp {
            layers,
            norms,
            dropout: DropoutConfig::new(self.dropout).init(),
            head: LinearConfig::new(d_previous, self.d_output).init(device),
            activation: self.activation,
        }
    }
}

/// A multi-layer perceptron.
#[derive(Module, Debug)]
pub struct Mlp {
    layers: Vec<Linear>,
    norms: Vec<LayerNorm>,
    dropout: Dropout,
    head: Linear,
    #[module(skip)]
    activation: Activation,
}

impl Mlp {
    /// Computes the outputs (logits for a classifier).
    ///
    /// # Shapes
    /// - `input`: `[batch, d_input]`
    /// - output: `[batch, d_output]`
    pub fn forward(&self, input: Tensor<2>) -> Tensor<2> {
        let mut hidden = input;
        for (layer_idx, layer) in self.layers.iter().enumerate() {
            hidden = layer.forward(hidden);
            if let Some(norm) = self.norms.get(layer_idx) {
                hidden = norm.forward(hidden);
            }
            hidden = self.dropout.forward(self.activation.forward(hidden));
        }
        self.head.forward(hidden)
    }
}

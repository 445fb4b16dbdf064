//! The element-wise non-linearities a user can name in an experiment file.

use burn::tensor::{Tensor, activation};
use serde::{Deserialize, Serialize};

/// A non-linearity applied between layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// `max(0, x)`.
    #[default]
    Relu,
    /// The Gaussian error linear unit (exact, with `erf`), as PyTorch's default `GELU`; on
    /// flex, with an `erf` accurate to 5e-7 (see `gelu_kernel`).
    Gelu,
    /// The hyperbolic tangent.
    Tanh,
    /// The logistic function.
    Sigmoid,
    /// `x · sigmoid(x)`, also called swish.
    Silu,
}

impl Activation {
    /// Applies the non-linearity element-wise.
    pub fn forward<const D: usize>(self, input: Tensor<D>) -> Tensor<D> {
        match self {
            Self::Relu => activation::relu(input),
            Self::Gelu => crate::gelu_kernel::gelu(input),
            Self::Tanh => activation::tanh(input),
            Self::Sigmoid => activation::sigmoid(input),
            Self::Silu => activation::silu(input),
        }
    }
}

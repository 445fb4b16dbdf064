//! The vision transformer (ViT): an image cut into square patches, each patch a token, a
//! transformer encoder over the tokens and a classification token, a linear head on it.
//!
//! Patches are cut with reshapes and a permutation, not a convolution: the result is the same
//! as PyTorch's strided `Conv2d` patch embedding with its weight flattened to
//! `[d_model, channels * patch * patch]`.

use burn::module::{Module, Param};
use burn::nn::{
    Dropout, DropoutConfig, Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig,
};
use burn::tensor::{Device, Tensor};

use crate::Activation;
use crate::model::Error;
use crate::transformer::{EncoderLayer, EncoderLayerConfig};

/// The layer-norm epsilon of the original ViT and of timm.
const LAYER_NORM_EPS: f64 = 1e-6;

/// Every size and option of a [`Vit`].
#[derive(Debug, Clone, PartialEq)]
pub struct VitConfig {
    /// The number of colour channels of each image.
    pub channels: usize,
    /// The image height in pixels; a multiple of `patch`.
    pub height: usize,
    /// The image width in pixels; a multiple of `patch`.
    pub width: usize,
    /// The side of each square patch in pixels.
    pub patch: usize,
    /// The width of each token.
    pub d_model: usize,
    /// The number of attention heads in each layer; divides `d_model`.
    pub n_heads: usize,
    /// The number of encoder layers.
    pub n_layers: usize,
    /// The width of each layer's feed-forward part.
    pub d_ff: usize,
    /// The dropout probability on the embeddings, attention weights and residual branches.
    pub dropout: f64,
    /// The number of outputs: classes for a classifier.
    pub d_output: usize,
}

impl VitConfig {
    /// Checks every size and probability, naming the field at fault.
    pub fn validate(&self) -> Result<(), Error> {
        let data_sizes = [
            ("channels", self.channels),
            ("height", self.height),
            ("width", self.width),
            ("d_output", self.d_output),
        ];
        for (field, value) in data_sizes {
            if value == 0 {
                return Err(Error::invalid(field, "must be at least 1"));
            }
        }
        if self.patch == 0 {
            return Err(Error::invalid("model.patch", "must be at least 1"));
        }
        if !self.height.is_multiple_of(self.patch) || !self.width.is_multiple_of(self.patch) {
            return Err(Error::invalid(
                "model.patch",
                format!(
                    "{} does not divide the {}x{} images",
                    self.patch, self.height, self.width
                ),
            ));
        }
        if self.n_layers == 0 {
            return Err(Error::invalid("model.n_layers", "must be at least 1"));
        }
        // The layers check the widths, the heads and the dropout.
        self.layer_config().validate()
    }

    /// The number of patches in one image.
    pub fn n_patches(&self) -> usize {
        (self.height / self.patch) * (self.width / self.patch)
    }

    /// Builds the network with freshly initialised weights on `device`.
    ///
    /// The classification token and the position embeddings start normal with standard
    /// deviation 0.02, as in timm. Call [`Self::validate`] first where the sizes come from a
    /// user.
    pub fn init(&self, device: &Device) -> Vit {
        let token_init = Initializer::Normal {
            mean: 0.0,
            std: 0.02,
        };
        let d_patch = self.channels * self.patch * self.patch;
        Vit {
            patch_embedding: LinearConfig::new(d_patch, self.d_model).init(device),
            class_token: token_init.init([1, 1, self.d_model], device),
            position_embedding: token_init.init([1, self.n_patches() + 1, self.d_model], device),
            dropout: DropoutConfig::new(self.dropout).init(),
            layers: (0..self.n_layers)
                .map(|_| self.layer_config().init(device))
                .collect(),
            norm: LayerNormConfig::new(self.d_model)
                .with_epsilon(LAYER_NORM_EPS)
                .init(device),
            head: LinearConfig::new(self.d_model, self.d_output).init(device),
            channels: self.channels,
            height: self.height,
            width: self.width,
            patch: self.patch,
        }
    }

    fn layer_config(&self) -> EncoderLayerConfig {
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

/// A vision transformer classifier.
#[derive(Module, Debug)]
pub struct Vit {
    patch_embedding: Linear,
    class_token: Param<Tensor<3>>,
    position_embedding: Param<Tensor<3>>,
    dropout: Dropout,
    layers: Vec<EncoderLayer>,
    norm: LayerNorm,
    head: Linear,
    #[module(skip)]
    channels: usize,
    #[module(skip)]
    height: usize,
    #[module(skip)]
    width: usize,
    #[module(skip)]
    patch: usize,
}

impl Vit {
    /// Computes the outputs for rows of pixels, each row an image's `channels × height ×
    /// width` values in that order (channel-major, then row-major), as the columns of a CSV
    /// of images such as scikit-learn's digits hold them.
    ///
    /// # Shapes
    /// - `rows`: `[batch, channels * height * width]`
    /// - output: `[batch, d_output]`
    pub fn forward_rows(&self, rows: Tensor<2>) -> Tensor<2> {
        let [batch, _] = rows.dims();
        self.forward(rows.reshape([batch, self.channels, self.height, self.width]))
    }

    /// Computes the outputs (logits for a classifier) for a batch of images.
    ///
    /// # Shapes
    /// - `images`: `[batch, channels, height, width]`
    /// - output: `[batch, d_output]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let [batch, channels, height, width] = images.dims();
        assert_eq!(
            [channels, height, width],
            [self.channels, self.height, self.width],
            "images are [batch, channels, height, width] = {:?}, the model was built for \
             {} channels of {}x{} pixels",
            images.dims(),
            self.channels,
            self.height,
            self.width
        );
        let patches = self.patch_embedding.forward(patchify(images, self.patch));
        let [_, _, d_model] = patches.dims();
        let class_tokens = self.class_token.val().expand([batch, 1, d_model]);
        let tokens = Tensor::cat(vec![class_tokens, patches], 1) + self.position_embedding.val();
        let mut hidden = self.dropout.forward(tokens);
        for layer in &self.layers {
            hidden = layer.forward(hidden, None, false);
        }
        let class_output = self
            .norm
            .forward(hidden)
            .narrow(1, 0, 1)
            .reshape([batch, d_model]);
        self.head.forward(class_output)
    }
}

/// Cuts images into non-overlapping `patch` x `patch` squares and flattens each.
///
/// Patches come in row-major order (patch `(i, j)` is row `i * (width / patch) + j`) and each
/// is flattened channel first, then pixel row, then pixel column: pixel `(r, c)` of channel
/// `k` in patch `(i, j)` is image pixel `(i * patch + r, j * patch + c)` and lands at column
/// `(k * patch + r) * patch + c`.
///
/// # Shapes
/// - `images`: `[batch, channels, height, width]`, `height` and `width` multiples of `patch`
/// - output: `[batch, (height / patch) * (width / patch), channels * patch * patch]`
pub fn patchify(images: Tensor<4>, patch: usize) -> Tensor<3> {
    let [batch, channels, height, width] = images.dims();
    assert!(
        patch > 0 && height.is_multiple_of(patch) && width.is_multiple_of(patch),
        "patch {patch} does not divide the {height}x{width} images"
    );
    let rows = height / patch;
    let columns = width / patch;
    images
        .reshape([batch, channels, rows, patch, columns, patch])
        .permute([0, 2, 4, 1, 3, 5])
        .reshape([batch, rows * columns, channels * patch * patch])
}

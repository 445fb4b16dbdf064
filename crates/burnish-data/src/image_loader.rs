//! Feeding small images to Burn: a [`Dataset`] of [`Images`] with their targets and a
//! [`Batcher`] that stacks them into `[batch, channels, height, width]`, the layout that Burn's
//! `Conv2d` and patch embeddings read.
//!
//! This module does not rearrange pixels; [`crate::image`] does.

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::{Dataset, DatasetError};
use burn::tensor::{Device, Tensor, TensorData};

use crate::loader::{stack_targets, target_rows, target_value};
use crate::{BatchTargets, ImageShape, Images, TargetValue, Targets};

/// One image and its target.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageItem {
    /// `channels * height * width` values, channel-first and row by row.
    pub pixels: Vec<f32>,
    /// The image's target.
    pub target: TargetValue,
}

/// A batch of images on a device.
#[derive(Debug, Clone)]
pub struct ImageBatch {
    /// `[batch, channels, height, width]`.
    pub images: Tensor<4>,
    /// The targets of the batch's images.
    pub targets: BatchTargets,
}

/// Images with their targets, ready to be batched.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageDataset {
    images: Images,
    targets: Targets,
}

impl ImageDataset {
    /// Pairs images with their targets, one per image.
    ///
    /// # Panics
    /// When the counts differ: both come from the same table, so a mismatch is a bug.
    pub fn new(images: Images, targets: Targets) -> Self {
        assert_eq!(
            images.n_images,
            targets.len(),
            "images and targets must have the same number of rows"
        );
        Self { images, targets }
    }

    /// The number of images.
    pub fn n_images(&self) -> usize {
        self.images.n_images
    }

    /// The size of every image.
    pub fn shape(&self) -> ImageShape {
        self.images.shape
    }

    /// The images.
    pub fn images(&self) -> &Images {
        &self.images
    }

    /// The targets.
    pub fn targets(&self) -> &Targets {
        &self.targets
    }

    /// The batcher that stacks this data set's items for Burn's data loaders.
    pub fn batcher(&self) -> ImageBatcher {
        ImageBatcher {
            shape: self.images.shape,
        }
    }

    /// Stacks the given images into a batch on `device`, in the given order; what a training
    /// loop driven by [`crate::EpochOrder`] uses. [`ImageBatcher`] does the same for Burn's
    /// data loaders.
    ///
    /// # Panics
    /// When a row is out of range.
    pub fn batch(&self, rows: &[usize], device: &Device) -> ImageBatch {
        let shape = self.images.shape;
        let mut pixels = Vec::with_capacity(rows.len() * shape.n_values());
        for &row in rows {
            pixels.extend_from_slice(self.images.image(row));
        }
        ImageBatch {
            images: images_tensor(pixels, rows.len(), shape, device),
            targets: target_rows(&self.targets, rows, device),
        }
    }
}

impl Dataset<ImageItem> for ImageDataset {
    fn get(&self, index: usize) -> Result<ImageItem, DatasetError> {
        Ok(ImageItem {
            pixels: self.images.image(index).to_vec(),
            target: target_value(&self.targets, index),
        })
    }

    fn len(&self) -> usize {
        self.images.n_images
    }
}

/// Stacks [`ImageItem`]s of one shape into an [`ImageBatch`] for Burn's data loaders;
/// [`ImageDataset::batcher`] makes one with the data set's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageBatcher {
    /// The size of every image.
    pub shape: ImageShape,
}

impl Batcher<ImageItem, ImageBatch> for ImageBatcher {
    /// # Panics
    /// When an item does not hold `shape.n_values()` values.
    fn batch(&self, items: Vec<ImageItem>, device: &Device) -> ImageBatch {
        let n_values = self.shape.n_values();
        let mut pixels = Vec::with_capacity(items.len() * n_values);
        for item in &items {
            assert_eq!(
                item.pixels.len(),
                n_values,
                "an image of shape {} must hold {n_values} values",
                self.shape
            );
            pixels.extend_from_slice(&item.pixels);
        }
        ImageBatch {
            images: images_tensor(pixels, items.len(), self.shape, device),
            targets: stack_targets(items.iter().map(|item| item.target), device),
        }
    }
}

fn images_tensor(
    pixels: Vec<f32>,
    n_images: usize,
    shape: ImageShape,
    device: &Device,
) -> Tensor<4> {
    Tensor::from_data(
        TensorData::new(
            pixels,
            [n_images, shape.channels, shape.height, shape.width],
        ),
        device,
    )
}

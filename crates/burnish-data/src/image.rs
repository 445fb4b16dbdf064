//! Small fixed-size images stored as pixel columns of a CSV file, turned into the
//! `[n, channels, height, width]` layout that convolutions and vision transformers read.
//!
//! Each row of the feature matrix is one image. With [`PixelLayout::ChannelsFirst`] (the
//! default) its columns are the pixels of the first channel row by row (the top row left to
//! right, then the next row), then those of the next channel; that is already row-major
//! `[channels, height, width]`, as in scikit-learn's digits (`pixel_0_0 ... pixel_7_7`) and
//! MNIST as CSV. With [`PixelLayout::ChannelsLast`] the channels of each pixel are adjacent
//! (`r, g, b, r, g, b, ...`) and are regrouped. The output is always channel-first.
//!
//! This module is arithmetic on `f32` slices: it does not read files or decode image formats.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The size of every image; in TOML `{ channels = 1, height = 8, width = 8 }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageShape {
    /// Colour channels: 1 for grey, 3 for RGB.
    pub channels: usize,
    /// Rows of pixels.
    pub height: usize,
    /// Pixels per row.
    pub width: usize,
}

impl ImageShape {
    /// An image of `channels` channels of `height` rows of `width` pixels.
    pub fn new(channels: usize, height: usize, width: usize) -> Self {
        Self {
            channels,
            height,
            width,
        }
    }

    /// The number of values per image: `channels * height * width`.
    pub fn n_values(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Checks that every dimension is at least 1; the error names the field.
    pub fn validate(&self) -> Result<(), Error> {
        for (field, value) in [
            ("channels", self.channels),
            ("height", self.height),
            ("width", self.width),
        ] {
            if value == 0 {
                return Err(Error::InvalidParameter {
                    field,
                    reason: "must be at least 1, found 0".to_string(),
                });
            }
        }
        Ok(())
    }
}

impl fmt::Display for ImageShape {
    /// `channels x height x width`, for example `1x8x8`.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{}x{}x{}",
            self.channels, self.height, self.width
        )
    }
}

/// Where the channels of a pixel are among a row's columns; in TOML `"channels_first"` or
/// `"channels_last"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PixelLayout {
    /// All pixels of channel 0, then all of channel 1, ...; each channel row by row.
    #[default]
    ChannelsFirst,
    /// Pixel by pixel, row by row, the channels of each pixel adjacent.
    ChannelsLast,
}

/// How pixel columns become images; in TOML the same names, for example
/// `shape = { channels = 1, height = 8, width = 8 }`, `max_value = 16`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageConfig {
    /// The size of every image.
    pub shape: ImageShape,
    /// The order of the pixel columns.
    #[serde(default)]
    pub layout: PixelLayout,
    /// Divide every value by this (16 for digits, 255 for 8-bit images) so that pixels lie in
    /// 0..=1; `None` (default) keeps them as they are. Values are not clipped.
    #[serde(default)]
    pub max_value: Option<f32>,
}

impl ImageConfig {
    /// Channel-first images of `shape`, values kept as they are.
    pub fn new(shape: ImageShape) -> Self {
        Self {
            shape,
            layout: PixelLayout::ChannelsFirst,
            max_value: None,
        }
    }

    /// Checks the shape and that `max_value`, when given, is finite and above 0.
    pub fn validate(&self) -> Result<(), Error> {
        self.shape.validate()?;
        match self.max_value {
            Some(max_value) if !(max_value.is_finite() && max_value > 0.0) => {
                Err(Error::InvalidParameter {
                    field: "max_value",
                    reason: format!("must be a finite number above 0, found {max_value}"),
                })
            }
            _ => Ok(()),
        }
    }
}

/// Images in `[n_images, channels, height, width]` order.
#[derive(Clone, Debug, PartialEq)]
pub struct Images {
    /// `n_images * shape.n_values()` values, image after image, each channel-first and row by
    /// row.
    pub values: Vec<f32>,
    /// The number of images.
    pub n_images: usize,
    /// The size of every image.
    pub shape: ImageShape,
}

impl Images {
    /// The values of image `image`, `[channels, height, width]` row-major.
    ///
    /// # Panics
    ///
    /// When `image >= self.n_images`.
    pub fn image(&self, image: usize) -> &[f32] {
        let size = self.shape.n_values();
        &self.values[image * size..(image + 1) * size]
    }
}

/// Turns a row-major feature matrix `[n, n_features]` of pixel columns into images.
///
/// Fails when the config is invalid, or when `n_features` is not
/// `channels * height * width` ([`Error::ImageShapeMismatch`]).
///
/// # Panics
///
/// When `features.len()` is not a multiple of `n_features`.
///
/// ```
/// use burnish_data::{ImageConfig, ImageShape, PixelLayout, pixels_to_images};
/// // One 2x2 RGB image stored pixel by pixel.
/// let features = [1.0, 10.0, 100.0, 2.0, 20.0, 200.0, 3.0, 30.0, 300.0, 4.0, 40.0, 400.0];
/// let config = ImageConfig {
///     shape: ImageShape::new(3, 2, 2),
///     layout: PixelLayout::ChannelsLast,
///     max_value: Some(2.0),
/// };
/// let images = pixels_to_images(&features, 12, &config)?;
/// assert_eq!(images.values[..4], [0.5, 1.0, 1.5, 2.0]); // the red channel
/// # Ok::<(), burnish_data::Error>(())
/// ```
pub fn pixels_to_images(
    features: &[f32],
    n_features: usize,
    config: &ImageConfig,
) -> Result<Images, Error> {
    config.validate()?;
    let shape = config.shape;
    let expected = shape.n_values();
    if n_features != expected {
        return Err(Error::ImageShapeMismatch {
            shape,
            expected,
            found: n_features,
        });
    }
    assert!(
        features.len().is_multiple_of(n_features),
        "{} feature values do not make whole rows of {n_features}",
        features.len()
    );
    let n_images = features.len() / n_features;
    let factor = config.max_value.map_or(1.0, |max_value| 1.0 / max_value);
    let values = match config.layout {
        PixelLayout::ChannelsFirst => features.iter().map(|&value| value * factor).collect(),
        PixelLayout::ChannelsLast => {
            let n_pixels = shape.height * shape.width;
            let mut values = Vec::with_capacity(features.len());
            for row in features.chunks_exact(n_features) {
                for channel in 0..shape.channels {
                    values.extend(
                        (0..n_pixels).map(|pixel| row[pixel * shape.channels + channel] * factor),
                    );
                }
            }
            values
        }
    };
    Ok(Images {
        values,
        n_images,
        shape,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn channels_first_is_kept_and_scaled() {
        let features: Vec<f32> = (0..8).map(|value| value as f32).collect();
        let config = ImageConfig {
            max_value: Some(4.0),
            ..ImageConfig::new(ImageShape::new(1, 2, 2))
        };
        let images = pixels_to_images(&features, 4, &config).unwrap();
        assert_eq!(images.n_images, 2);
        assert_eq!(images.image(1), [1.0, 1.25, 1.5, 1.75]);
        let unscaled =
            pixels_to_images(&features, 4, &ImageConfig::new(ImageShape::new(1, 2, 2))).unwrap();
        assert_eq!(unscaled.values, features);
    }

    #[test]
    fn channels_last_is_regrouped_per_channel() {
        // Two 1x2 images with 2 channels: pixel values encode (image, pixel, channel).
        let features = [0.0, 1.0, 10.0, 11.0, 100.0, 101.0, 110.0, 111.0];
        let config = ImageConfig {
            layout: PixelLayout::ChannelsLast,
            ..ImageConfig::new(ImageShape::new(2, 1, 2))
        };
        let images = pixels_to_images(&features, 4, &config).unwrap();
        assert_eq!(images.image(0), [0.0, 10.0, 1.0, 11.0]);
        assert_eq!(images.image(1), [100.0, 110.0, 101.0, 111.0]);
    }

    #[test]
    fn wrong_pixel_count_names_expected_and_found() {
        let error = pixels_to_images(&[0.0; 63], 63, &ImageConfig::new(ImageShape::new(1, 8, 8)))
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "image shape 1x8x8 (channels x height x width) needs 64 pixel columns, found 63"
        );
    }

    #[test]
    fn bad_configs_name_the_field() {
        let error =
            pixels_to_images(&[], 0, &ImageConfig::new(ImageShape::new(1, 0, 8))).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid height: must be at least 1, found 0"
        );
        let config = ImageConfig {
            max_value: Some(0.0),
            ..ImageConfig::new(ImageShape::new(1, 1, 1))
        };
        let error = pixels_to_images(&[1.0], 1, &config).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid max_value: must be a finite number above 0, found 0"
        );
    }

    #[test]
    fn no_rows_give_no_images() {
        let images = pixels_to_images(&[], 4, &ImageConfig::new(ImageShape::new(1, 2, 2))).unwrap();
        assert_eq!(images.n_images, 0);
        assert!(images.values.is_empty());
    }

    #[test]
    fn config_reads_its_toml_names() {
        let config: ImageConfig = serde_json::from_str(
            r#"{"shape": {"channels": 1, "height": 8, "width": 8}, "max_value": 16}"#,
        )
        .unwrap();
        assert_eq!(
            config,
            ImageConfig {
                max_value: Some(16.0),
                ..ImageConfig::new(ImageShape::new(1, 8, 8))
            }
        );
        let config: ImageConfig = serde_json::from_str(
            r#"{"shape": {"channels": 3, "height": 2, "width": 2}, "layout": "channels_last"}"#,
        )
        .unwrap();
        assert_eq!(config.layout, PixelLayout::ChannelsLast);
    }

    #[test]
    fn digits_become_8x8_grey_images_in_0_to_1() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/digits.csv");
        let mut reader = csv::Reader::from_path(path).unwrap();
        let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(headers.len(), 65);
        assert_eq!(headers[64], "target");
        let mut features = Vec::new();
        let mut n_rows = 0;
        for record in reader.records() {
            let record = record.unwrap();
            features.extend((0..64).map(|column| record[column].parse::<f32>().unwrap()));
            n_rows += 1;
        }
        assert_eq!(n_rows, 1797);
        let config = ImageConfig {
            max_value: Some(16.0),
            ..ImageConfig::new(ImageShape::new(1, 8, 8))
        };
        let images = pixels_to_images(&features, 64, &config).unwrap();
        assert_eq!(images.n_images, 1797);
        assert_eq!(images.values.len(), 1797 * 64);
        assert!(
            images
                .values
                .iter()
                .all(|value| (0.0..=1.0).contains(value))
        );
        assert!(images.values.contains(&1.0));
        // Column `pixel_{row}_{col}` lands at [0, row, col].
        for (column, header) in headers[..64].iter().enumerate() {
            let mut parts = header.strip_prefix("pixel_").unwrap().split('_');
            let row: usize = parts.next().unwrap().parse().unwrap();
            let col: usize = parts.next().unwrap().parse().unwrap();
            for image in [0, 1000, 1796] {
                assert_eq!(
                    images.image(image)[row * 8 + col],
                    features[image * 64 + column] / 16.0
                );
            }
        }
    }
}

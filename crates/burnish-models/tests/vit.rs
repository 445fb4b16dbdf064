//! The vision transformer on every compiled backend: patches, shapes, gradients, learning,
//! saving.

mod common;

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Distribution, Int, Tensor, TensorData};
use burnish_backend::BackendKind;
use burnish_models::{Vit, VitConfig, patchify};
use rstest::rstest;

fn config(patch: usize, d_output: usize) -> VitConfig {
    VitConfig {
        channels: 1,
        height: 8,
        width: 8,
        patch,
        d_model: 16,
        n_heads: 2,
        n_layers: 2,
        d_ff: 32,
        dropout: 0.0,
        d_output,
    }
}

#[rstest]
#[case::flex(BackendKind::Flex)]
#[cfg_attr(feature = "ndarray", case::ndarray(BackendKind::Ndarray))]
#[cfg_attr(feature = "wgpu", case::wgpu(BackendKind::Wgpu))]
fn output_has_one_row_per_image_and_one_column_per_class(#[case] backend: BackendKind) {
    let device = backend.open().unwrap();
    for patch in [2, 4] {
        let config = config(patch, 3);
        config.validate().unwrap();
        assert_eq!(config.n_patches(), (8 / patch) * (8 / patch));
        let model = config.init(&device);
        let images = Tensor::<4>::random([5, 1, 8, 8], Distribution::Normal(0.0, 1.0), &device);
        assert_eq!(model.forward(images).dims(), [5, 3], "patch {patch}");
    }
}

#[rstest]
#[case::flex(BackendKind::Flex)]
#[cfg_attr(feature = "ndarray", case::ndarray(BackendKind::Ndarray))]
#[cfg_attr(feature = "wgpu", case::wgpu(BackendKind::Wgpu))]
fn patches_hold_the_pixels_of_their_square(#[case] backend: BackendKind) {
    let device = backend.open().unwrap();
    let (batch, channels, height, width, patch) = (2, 3, 4, 6, 2);
    // Pixel (k, y, x) of image b holds b * 1000 + k * 100 + y * 10 + x.
    let pixel = |b: usize, k: usize, y: usize, x: usize| (b * 1000 + k * 100 + y * 10 + x) as f32;
    let mut values = Vec::new();
    for b in 0..batch {
        for k in 0..channels {
            for y in 0..height {
                for x in 0..width {
                    values.push(pixel(b, k, y, x));
                }
            }
        }
    }
    let images = Tensor::<4>::from_data(
        TensorData::new(values, [batch, channels, height, width]),
        &device,
    );
    let patches = patchify(images, patch);
    let columns = width / patch;
    let d_patch = channels * patch * patch;
    assert_eq!(patches.dims(), [batch, (height / patch) * columns, d_patch]);
    let actual = patches.into_data().iter::<f32>().collect::<Vec<_>>();
    for b in 0..batch {
        for i in 0..height / patch {
            for j in 0..columns {
                for k in 0..channels {
                    for r in 0..patch {
                        for c in 0..patch {
                            let row = i * columns + j;
                            let column = (k * patch + r) * patch + c;
                            let index = (b * (height / patch) * columns + row) * d_patch + column;
                            assert_eq!(
                                actual[index],
                                pixel(b, k, i * patch + r, j * patch + c),
                                "image {b}, patch ({i}, {j}), channel {k}, pixel ({r}, {c})"
                            );
                        }
                    }
                }
            }
        }
    }
}

#[rstest]
#[case::flex(BackendKind::Flex)]
#[cfg_attr(feature = "ndarray", case::ndarray(BackendKind::Ndarray))]
#[cfg_attr(feature = "wgpu", case::wgpu(BackendKind::Wgpu))]
fn every_parameter_gets_a_gradient(#[case] backend: BackendKind) {
    let device = backend.open().unwrap().autodiff();
    let model = config(4, 3).init(&device);
    let images = Tensor::<4>::random([2, 1, 8, 8], Distribution::Normal(0.0, 1.0), &device);
    let loss = model.forward(images).powi_scalar(2).mean();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let visitor = common::gradient_census(&model, &grads);
    assert!(
        visitor.total > 8,
        "patch embedding, class token, positions, norm, head, then the layers"
    );
    assert_eq!(visitor.missing, 0, "of {} parameters", visitor.total);
}

#[rstest]
#[case::flex(BackendKind::Flex)]
#[cfg_attr(feature = "ndarray", case::ndarray(BackendKind::Ndarray))]
#[cfg_attr(feature = "wgpu", case::wgpu(BackendKind::Wgpu))]
fn a_tiny_image_set_is_learned_to_near_zero_loss(#[case] backend: BackendKind) {
    let plain = backend.open().unwrap();
    plain.seed(7);
    let device = plain.clone().autodiff();
    let mut model = config(4, 4).init(&device);
    let images = Tensor::<4>::random([8, 1, 8, 8], Distribution::Normal(0.0, 1.0), &device);
    let targets = Tensor::<1, Int>::from_data(
        TensorData::new(vec![0i64, 1, 2, 3, 3, 2, 1, 0], [8]),
        &device,
    );
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let mut optimizer = AdamConfig::new().init();
    let mut last_loss = f32::INFINITY;
    for _ in 0..70 {
        let loss = loss_fn.forward(model.forward(images.clone()), targets.clone());
        last_loss = loss.clone().into_scalar::<f32>();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(0.01, model, grads);
    }
    assert!(last_loss < 0.02, "loss after 70 steps: {last_loss}");
}

#[rstest]
#[case::flex(BackendKind::Flex)]
#[cfg_attr(feature = "ndarray", case::ndarray(BackendKind::Ndarray))]
#[cfg_attr(feature = "wgpu", case::wgpu(BackendKind::Wgpu))]
fn saved_weights_load_back_to_the_same_outputs(#[case] backend: BackendKind) {
    let device = backend.open().unwrap();
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("vit.bpk");
    let model = VitConfig {
        dropout: 0.1,
        ..config(2, 3)
    }
    .init(&device);
    let images = Tensor::<4>::random([3, 1, 8, 8], Distribution::Normal(0.0, 1.0), &device);
    let expected = model.valid().forward(images.clone()).into_data();
    model.clone().save_file(&path).unwrap();
    let fresh: Vit = config(2, 3).init(&device);
    let loaded = fresh.load_file(&path);
    let actual = loaded.valid().forward(images).into_data();
    actual.assert_eq(&expected, true);
}

#[test]
fn impossible_settings_name_the_key() {
    let error = config(3, 2).validate().unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid `model.patch`: 3 does not divide the 8x8 images"
    );
    let error = config(0, 2).validate().unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid `model.patch`: must be at least 1"
    );
    let error = VitConfig {
        n_heads: 3,
        ..config(2, 2)
    }
    .validate()
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid `model.n_heads`: d_model 16 is not divisible by 3 heads"
    );
}

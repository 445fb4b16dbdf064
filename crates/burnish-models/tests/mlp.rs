//! The MLP on every compiled backend: shapes, gradients, learning, saving.

mod common;

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Int, Tensor, TensorData};
use burnish_backend::BackendKind;
use burnish_models::{Activation, MlpSpec, ModelInput, ModelSpec};
use rstest::rstest;

fn spec(hidden: Vec<usize>, dropout: f64, layer_norm: bool) -> ModelSpec {
    ModelSpec::Mlp(MlpSpec {
        hidden,
        activation: Activation::Gelu,
        dropout,
        layer_norm,
    })
}

#[rstest]
#[case::flex(BackendKind::Flex)]
#[cfg_attr(feature = "ndarray", case::ndarray(BackendKind::Ndarray))]
#[cfg_attr(feature = "wgpu", case::wgpu(BackendKind::Wgpu))]
fn output_has_one_row_per_input_and_one_column_per_class(#[case] backend: BackendKind) {
    let device = backend.open().unwrap();
    let model = spec(vec![16, 8], 0.0, true).build(5, 3, &device).unwrap();
    let output = model.forward(ModelInput::Features(Tensor::zeros([7, 5], &device)));
    assert_eq!(output.dims(), [7, 3]);
}

#[rstest]
#[case::flex(BackendKind::Flex)]
#[cfg_attr(feature = "ndarray", case::ndarray(BackendKind::Ndarray))]
#[cfg_attr(feature = "wgpu", case::wgpu(BackendKind::Wgpu))]
fn every_parameter_gets_a_gradient(#[case] backend: BackendKind) {
    let device = backend.open().unwrap().autodiff();
    let model = spec(vec![8], 0.0, true).build(4, 2, &device).unwrap();
    let inputs = Tensor::<2>::random(
        [6, 4],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &device,
    );
    let loss = model
        .forward(ModelInput::Features(inputs))
        .powi_scalar(2)
        .mean();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let visitor = common::gradient_census(&model, &grads);
    assert_eq!(visitor.total, 6, "2 linear layers and 1 layer norm");
    assert_eq!(visitor.missing, 0);
}

#[rstest]
#[case::flex(BackendKind::Flex)]
#[cfg_attr(feature = "ndarray", case::ndarray(BackendKind::Ndarray))]
#[cfg_attr(feature = "wgpu", case::wgpu(BackendKind::Wgpu))]
fn a_tiny_data_set_is_learned_to_near_zero_loss(#[case] backend: BackendKind) {
    let plain = backend.open().unwrap();
    plain.seed(3);
    let device = plain.clone().autodiff();
    let mut model = spec(vec![32], 0.0, false).build(2, 2, &device).unwrap();
    // XOR: not linearly separable, so the hidden layer has to work.
    let inputs = Tensor::<2>::from_data(
        TensorData::new(vec![0.0f32, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0], [4, 2]),
        &device,
    );
    let targets = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 1, 1, 0], [4]), &device);
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let mut optimizer = AdamConfig::new().init();
    let mut last_loss = f32::INFINITY;
    for _ in 0..300 {
        let loss = loss_fn.forward(
            model.forward(ModelInput::Features(inputs.clone())),
            targets.clone(),
        );
        last_loss = loss.clone().into_scalar::<f32>();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(0.05, model, grads);
    }
    assert!(last_loss < 0.01, "loss after 300 steps: {last_loss}");
}

#[rstest]
#[case::flex(BackendKind::Flex)]
#[cfg_attr(feature = "ndarray", case::ndarray(BackendKind::Ndarray))]
#[cfg_attr(feature = "wgpu", case::wgpu(BackendKind::Wgpu))]
fn saved_weights_load_back_to_the_same_outputs(#[case] backend: BackendKind) {
    let device = backend.open().unwrap();
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("model.bpk");
    let model = spec(vec![8, 8], 0.2, true).build(3, 4, &device).unwrap();
    let inputs = Tensor::<2>::random(
        [5, 3],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &device,
    );
    let expected = model
        .valid()
        .forward(ModelInput::Features(inputs.clone()))
        .into_data();
    model.clone().save_file(&path).unwrap();
    let fresh = spec(vec![8, 8], 0.2, true).build(3, 4, &device).unwrap();
    let loaded = fresh.load_file(&path);
    let actual = loaded
        .valid()
        .forward(ModelInput::Features(inputs))
        .into_data();
    actual.assert_eq(&expected, true);
}

#[test]
fn impossible_sizes_name_the_key() {
    let device = BackendKind::Flex.open().unwrap();
    let error = spec(vec![8, 0], 0.0, false)
        .build(3, 2, &device)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid `model.hidden`: layer 1 has width 0"
    );
    let error = spec(vec![8], 1.5, false).build(3, 2, &device).unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid `model.dropout`: 1.5 is not a probability in [0, 1)"
    );
}

//! The recurrent layers and classifier on every compiled backend: shapes, padding,
//! gradients, learning, saving and PyTorch-named weights.

mod common;
#[path = "common/compare.rs"]
mod compare;

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Bool, Device, Distribution, Int, Tensor, TensorData};
use burnish_backend::BackendKind;
use burnish_models::{
    CellKind, Pooling, RecurrentClassifier, RecurrentClassifierConfig, RecurrentConfig,
    RecurrentInput, StateDict,
};
use compare::max_abs_difference_of as max_difference;
use rstest::rstest;

const VOCAB_SIZE: usize = 10;

fn recurrent_config(cell: CellKind, n_layers: usize, bidirectional: bool) -> RecurrentConfig {
    RecurrentConfig {
        cell,
        d_input: 4,
        d_hidden: 6,
        n_layers,
        bidirectional,
        dropout: 0.0,
    }
}

fn token_classifier(
    cell: CellKind,
    n_layers: usize,
    bidirectional: bool,
    pooling: Pooling,
) -> RecurrentClassifierConfig {
    RecurrentClassifierConfig {
        input: RecurrentInput::Tokens {
            vocab_size: VOCAB_SIZE,
            d_embedding: 4,
        },
        recurrent: recurrent_config(cell, n_layers, bidirectional),
        pooling,
        d_output: 3,
        feature_dropout: 0.0,
        token_dropout: 0.0,
    }
}

fn tokens(rows: &[&[i64]], device: &Device) -> Tensor<2, Int> {
    let time = rows[0].len();
    let values: Vec<i64> = rows.iter().flat_map(|row| row.iter().copied()).collect();
    Tensor::from_data(TensorData::new(values, [rows.len(), time]), device)
}

fn mask(rows: &[&[bool]], device: &Device) -> Tensor<2, Bool> {
    let time = rows[0].len();
    let values: Vec<bool> = rows.iter().flat_map(|row| row.iter().copied()).collect();
    Tensor::from_data(TensorData::new(values, [rows.len(), time]), device)
}

fn floats(tensor: Tensor<2>) -> Vec<f32> {
    tensor.into_data().try_into_vec::<f32>().unwrap()
}

#[rstest]
#[case::flex(BackendKind::Flex)]
#[cfg_attr(feature = "ndarray", case::ndarray(BackendKind::Ndarray))]
#[cfg_attr(feature = "wgpu", case::wgpu(BackendKind::Wgpu))]
fn outputs_have_every_step_and_both_directions(
    #[case] backend: BackendKind,
    #[values(CellKind::Rnn, CellKind::Lstm, CellKind::Gru)] cell: CellKind,
) {
    let device = backend.open().unwrap();
    let input = Tensor::<3>::random([3, 5, 4], Distribution::Normal(0.0, 1.0), &device);

    let single = recurrent_config(cell, 1, false).init(&device);
    assert_eq!(single.forward(input.clone(), None).dims(), [3, 5, 6]);
    let stacked = recurrent_config(cell, 3, true).init(&device);
    assert_eq!(stacked.d_output(), 12);
    assert_eq!(stacked.forward(input.clone(), None).dims(), [3, 5, 12]);

    let series = RecurrentClassifierConfig {
        input: RecurrentInput::Features { d_input: 4 },
        recurrent: recurrent_config(cell, 2, true),
        pooling: Pooling::Mean,
        d_output: 2,
        feature_dropout: 0.0,
        token_dropout: 0.0,
    }
    .init(&device);
    assert_eq!(series.forward_series(input).dims(), [3, 2]);
    let classifier = token_classifier(cell, 2, false, Pooling::Last).init(&device);
    let batch = tokens(&[&[1, 2, 3], &[4, 5, 6]], &device);
    assert_eq!(classifier.forward_tokens(batch, None).dims(), [2, 3]);
}

#[rstest]
#[case::flex(BackendKind::Flex)]
#[cfg_attr(feature = "ndarray", case::ndarray(BackendKind::Ndarray))]
#[cfg_attr(feature = "wgpu", case::wgpu(BackendKind::Wgpu))]
fn padding_does_not_change_a_sequences_output(
    #[case] backend: BackendKind,
    #[values(CellKind::Rnn, CellKind::Lstm, CellKind::Gru)] cell: CellKind,
) {
    let device = backend.open().unwrap();
    device.seed(11);
    let alone = tokens(&[&[1, 2, 3, 4]], &device);
    // The same sequence padded with garbage tokens, beside a longer sequence that has none.
    let batch = tokens(&[&[1, 2, 3, 4, 7, 8], &[5, 6, 1, 2, 3, 9]], &device);
    let padding = mask(
        &[
            &[false, false, false, false, true, true],
            &[false, false, false, false, false, false],
        ],
        &device,
    );
    for pooling in [Pooling::Last, Pooling::Mean, Pooling::Max] {
        for bidirectional in [false, true] {
            let model = token_classifier(cell, 2, bidirectional, pooling).init(&device);
            let expected = floats(model.forward_tokens(alone.clone(), None));
            let batched = model.forward_tokens(batch.clone(), Some(padding.clone()));
            let actual = floats(batched.narrow(0, 0, 1));
            let difference = max_difference(&actual, &expected);
            assert!(
                difference <= 1e-5,
                "{cell:?}, {pooling:?}, bidirectional {bidirectional}: padding moved the \
                 output by {difference}"
            );
        }
    }
}

#[rstest]
#[case::flex(BackendKind::Flex)]
#[cfg_attr(feature = "ndarray", case::ndarray(BackendKind::Ndarray))]
#[cfg_attr(feature = "wgpu", case::wgpu(BackendKind::Wgpu))]
fn padded_steps_output_zero_and_valid_steps_match_the_unpadded_run(
    #[case] backend: BackendKind,
    #[values(CellKind::Rnn, CellKind::Lstm, CellKind::Gru)] cell: CellKind,
) {
    let device = backend.open().unwrap();
    device.seed(5);
    let recurrent = recurrent_config(cell, 2, true).init(&device);
    let sequence = Tensor::<3>::random([1, 3, 4], Distribution::Normal(0.0, 1.0), &device);
    let garbage = Tensor::<3>::random([1, 2, 4], Distribution::Normal(0.0, 5.0), &device);
    let padded = Tensor::cat(vec![sequence.clone(), garbage], 1);
    let padding = mask(&[&[false, false, false, true, true]], &device);

    let expected = recurrent
        .forward(sequence, None)
        .into_data()
        .try_into_vec::<f32>()
        .unwrap();
    let output = recurrent.forward(padded, Some(padding));
    let valid = output
        .clone()
        .narrow(1, 0, 3)
        .into_data()
        .try_into_vec::<f32>()
        .unwrap();
    let padded_steps = output
        .narrow(1, 3, 2)
        .into_data()
        .try_into_vec::<f32>()
        .unwrap();
    let difference = max_difference(&valid, &expected);
    assert!(
        difference <= 1e-5,
        "{cell:?}: valid steps moved by {difference}"
    );
    assert!(
        padded_steps.iter().all(|&value| value == 0.0),
        "{padded_steps:?}"
    );
}

#[rstest]
#[case::flex(BackendKind::Flex)]
#[cfg_attr(feature = "ndarray", case::ndarray(BackendKind::Ndarray))]
#[cfg_attr(feature = "wgpu", case::wgpu(BackendKind::Wgpu))]
fn every_parameter_gets_a_gradient(
    #[case] backend: BackendKind,
    #[values(CellKind::Rnn, CellKind::Lstm, CellKind::Gru)] cell: CellKind,
) {
    let device = backend.open().unwrap().autodiff();
    device.seed(2);
    let mut config = token_classifier(cell, 2, true, Pooling::Last);
    config.recurrent.dropout = 0.1;
    config.feature_dropout = 0.1;
    config.token_dropout = 0.1;
    let model = config.init(&device);
    let batch = tokens(&[&[1, 2, 3, 0], &[4, 5, 6, 7]], &device);
    let padding = mask(&[&[false, false, true, true], &[false; 4]], &device);
    let loss = model
        .forward_tokens(batch, Some(padding))
        .powi_scalar(2)
        .mean();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let visitor = common::gradient_census(&model, &grads);
    assert_eq!(
        visitor.total, 19,
        "an embedding, 2 layers x 2 directions x 4 weights, a head"
    );
    assert_eq!(visitor.missing, 0);
    let n_gates = cell.n_gates();
    let per_direction = |d_input: usize| n_gates * 6 * (d_input + 6 + 2);
    let expected = VOCAB_SIZE * 4 + 2 * per_direction(4) + 2 * per_direction(12) + 12 * 3 + 3;
    assert_eq!(model.num_params(), expected);
}

/// Eight token sequences of different lengths, labelled by whether they contain token 3.
fn contains_three(device: &Device) -> (Tensor<2, Int>, Tensor<2, Bool>, Tensor<1, Int>) {
    let sequences: [&[i64]; 8] = [
        &[1, 2, 3],
        &[4, 5],
        &[3, 1, 1, 2, 4],
        &[2, 2, 2, 2, 2],
        &[5, 4, 3, 2],
        &[1],
        &[4, 1, 5, 2, 1],
        &[3],
    ];
    let time = 5;
    let mut ids = Vec::new();
    let mut padding = Vec::new();
    let mut labels = Vec::new();
    for sequence in sequences {
        for step in 0..time {
            ids.push(sequence.get(step).copied().unwrap_or(0));
            padding.push(step >= sequence.len());
        }
        labels.push(i64::from(sequence.contains(&3)));
    }
    (
        Tensor::from_data(TensorData::new(ids, [8, time]), device),
        Tensor::from_data(TensorData::new(padding, [8, time]), device),
        Tensor::from_data(TensorData::new(labels, [8]), device),
    )
}

#[rstest]
#[case::flex(BackendKind::Flex)]
#[cfg_attr(feature = "ndarray", case::ndarray(BackendKind::Ndarray))]
#[cfg_attr(feature = "wgpu", case::wgpu(BackendKind::Wgpu))]
fn a_tiny_data_set_is_learned_to_near_zero_loss(
    #[case] backend: BackendKind,
    #[values(CellKind::Rnn, CellKind::Lstm, CellKind::Gru)] cell: CellKind,
) {
    let plain = backend.open().unwrap();
    plain.seed(7);
    let device = plain.autodiff();
    // One direction, so that the final state has to remember a 3 seen steps earlier.
    let mut config = token_classifier(cell, 1, false, Pooling::Last);
    config.recurrent.d_hidden = 8;
    config.d_output = 2;
    let mut model = config.init(&device);
    let (ids, padding, labels) = contains_three(&device);
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let mut optimizer = AdamConfig::new().init();
    let mut last_loss = f32::INFINITY;
    for _ in 0..120 {
        let logits = model.forward_tokens(ids.clone(), Some(padding.clone()));
        let loss = loss_fn.forward(logits, labels.clone());
        last_loss = loss.clone().into_scalar::<f32>();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(0.02, model, grads);
    }
    assert!(
        last_loss < 0.05,
        "{cell:?}: loss after 120 steps: {last_loss}"
    );
}

#[rstest]
#[case::flex(BackendKind::Flex)]
#[cfg_attr(feature = "ndarray", case::ndarray(BackendKind::Ndarray))]
#[cfg_attr(feature = "wgpu", case::wgpu(BackendKind::Wgpu))]
fn saved_weights_load_back_to_the_same_outputs(
    #[case] backend: BackendKind,
    #[values(CellKind::Rnn, CellKind::Lstm, CellKind::Gru)] cell: CellKind,
) {
    let device = backend.open().unwrap();
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("model.bpk");
    let mut config = token_classifier(cell, 2, true, Pooling::Max);
    config.recurrent.dropout = 0.2;
    let model: RecurrentClassifier = config.init(&device);
    let batch = tokens(&[&[1, 2, 3, 4], &[5, 6, 7, 8]], &device);
    // wgpu times its candidate matmul kernels on first use, and they round differently: run
    // once so that both measured runs use the same kernels.
    let _ = model.forward_tokens(batch.clone(), None);
    let expected = model.forward_tokens(batch.clone(), None).into_data();
    model.save_file(&path).unwrap();
    let loaded = config.init(&device).load_file(&path);
    let actual = loaded.forward_tokens(batch, None).into_data();
    actual.assert_eq(&expected, true);
}

#[rstest]
#[case::flex(BackendKind::Flex)]
#[cfg_attr(feature = "ndarray", case::ndarray(BackendKind::Ndarray))]
#[cfg_attr(feature = "wgpu", case::wgpu(BackendKind::Wgpu))]
fn exported_torch_weights_load_back_to_the_same_outputs(
    #[case] backend: BackendKind,
    #[values(CellKind::Rnn, CellKind::Lstm, CellKind::Gru)] cell: CellKind,
) {
    let device = backend.open().unwrap();
    let config = recurrent_config(cell, 2, true);
    let recurrent = config.init(&device);
    let input = Tensor::<3>::random([2, 3, 4], Distribution::Normal(0.0, 1.0), &device);
    // As above: the second run uses the kernels that wgpu's first run chose.
    let _ = recurrent.forward(input.clone(), None);
    let expected = recurrent.forward(input.clone(), None).into_data();

    let mut state_dict = StateDict::new();
    recurrent.to_torch(&mut state_dict, "rnn.");
    assert_eq!(state_dict.len(), 16);
    state_dict
        .expect_only(recurrent.torch_names("rnn.").iter().map(String::as_str))
        .unwrap();
    let bytes = state_dict.to_safetensors();
    let state_dict = StateDict::from_safetensors(&bytes).unwrap();
    let loaded = config
        .init(&device)
        .load_torch(&state_dict, "rnn.")
        .unwrap();
    let actual = loaded.forward(input, None).into_data();
    actual.assert_eq(&expected, true);
}

#[test]
fn torch_weights_of_the_wrong_shape_or_missing_are_named() {
    let device = BackendKind::Flex.open().unwrap();
    let recurrent = recurrent_config(CellKind::Lstm, 1, true).init(&device);
    let mut state_dict = StateDict::new();
    recurrent.to_torch(&mut state_dict, "");

    let error = recurrent_config(CellKind::Gru, 1, true)
        .init(&device)
        .load_torch(&state_dict, "")
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "weight `weight_ih_l0` has shape [24, 4], expected [18, 4]"
    );
    let error = recurrent_config(CellKind::Lstm, 2, true)
        .init(&device)
        .load_torch(&state_dict, "")
        .unwrap_err();
    assert_eq!(error.to_string(), "weight `weight_ih_l1` missing");
}

#[test]
fn impossible_settings_name_the_key() {
    let mut config = recurrent_config(CellKind::Lstm, 1, false);
    config.d_hidden = 0;
    assert_eq!(
        config.validate().unwrap_err().to_string(),
        "invalid `model.d_hidden`: must be at least 1"
    );
    let mut config = recurrent_config(CellKind::Gru, 0, false);
    assert_eq!(
        config.validate().unwrap_err().to_string(),
        "invalid `model.n_layers`: must be at least 1"
    );
    config.n_layers = 2;
    config.dropout = 1.5;
    assert_eq!(
        config.validate().unwrap_err().to_string(),
        "invalid `model.dropout`: 1.5 is not a probability in [0, 1)"
    );

    let mut classifier = token_classifier(CellKind::Rnn, 1, false, Pooling::Mean);
    classifier.validate().unwrap();
    classifier.input = RecurrentInput::Tokens {
        vocab_size: VOCAB_SIZE,
        d_embedding: 0,
    };
    assert_eq!(
        classifier.validate().unwrap_err().to_string(),
        "invalid `model.d_embedding`: must be at least 1"
    );
    classifier.input = RecurrentInput::Tokens {
        vocab_size: VOCAB_SIZE,
        d_embedding: 8,
    };
    assert_eq!(
        classifier.validate().unwrap_err().to_string(),
        "invalid `model.d_embedding`: is 8 but the recurrent layers read 4 features"
    );
}

#[test]
fn cells_and_poolings_have_lowercase_names() {
    let names: Vec<String> = [CellKind::Rnn, CellKind::Lstm, CellKind::Gru]
        .iter()
        .map(|cell| serde_json::to_string(cell).unwrap())
        .collect();
    assert_eq!(names, ["\"rnn\"", "\"lstm\"", "\"gru\""]);
    let pooling: Pooling = serde_json::from_str("\"max\"").unwrap();
    assert_eq!(pooling, Pooling::Max);
}

#[test]
fn a_batch_of_realistic_size_runs_forward_and_backward() {
    let device = BackendKind::Flex.open().unwrap().autodiff();
    device.seed(1);
    let recurrent = RecurrentConfig {
        cell: CellKind::Lstm,
        d_input: 128,
        d_hidden: 128,
        n_layers: 1,
        bidirectional: false,
        dropout: 0.0,
    }
    .init(&device);
    let input = Tensor::<3>::random([32, 64, 128], Distribution::Normal(0.0, 1.0), &device);
    let output = recurrent.forward(input, None);
    assert_eq!(output.dims(), [32, 64, 128]);
    let grads = GradientsParams::from_grads(output.mean().backward(), &recurrent);
    let visitor = common::gradient_census(&recurrent, &grads);
    assert_eq!((visitor.total, visitor.missing), (4, 0));
}

#[test]
fn feature_and_token_dropout_must_be_probabilities() {
    let mut config = token_classifier(CellKind::Gru, 1, false, Pooling::Mean);
    config.feature_dropout = 1.0;
    let error = config.validate().unwrap_err().to_string();
    assert!(error.contains("model.feature_dropout"), "{error}");
    config.feature_dropout = 0.5;
    config.token_dropout = 1.0;
    let error = config.validate().unwrap_err().to_string();
    assert!(error.contains("model.token_dropout"), "{error}");
}

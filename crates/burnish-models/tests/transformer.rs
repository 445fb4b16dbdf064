//! Attention, the encoder layer and the transformer classifier on every compiled backend:
//! shapes, masks, the key/value cache, gradients, learning, saving and PyTorch export.

mod common;
#[path = "common/compare.rs"]
mod compare;

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Bool, Device, Distribution, Int, Tensor, TensorData};
use burnish_backend::BackendKind;
use burnish_models::{
    Activation, EncoderLayer, EncoderLayerConfig, KeyValueCache, MultiHeadAttentionConfig,
    Positions, StateDict, TransformerClassifier, TransformerClassifierConfig, TransformerPooling,
};
use compare::max_abs_difference;
use rstest::rstest;

const TOLERANCE: f32 = 1e-5;

fn classifier_config(
    positions: Positions,
    pooling: TransformerPooling,
    norm_first: bool,
) -> TransformerClassifierConfig {
    TransformerClassifierConfig {
        vocab_size: 11,
        max_len: 8,
        d_model: 8,
        n_heads: 2,
        n_layers: 2,
        d_ff: 16,
        dropout: 0.0,
        token_dropout: 0.0,
        activation: Activation::Gelu,
        norm_first,
        positions,
        pooling,
        d_output: 3,
    }
}

fn layer_config(norm_first: bool) -> EncoderLayerConfig {
    EncoderLayerConfig {
        d_model: 8,
        n_heads: 2,
        d_ff: 16,
        dropout: 0.0,
        feed_forward_dropout: true,
        activation: Activation::Relu,
        norm_first,
        layer_norm_eps: 1e-5,
    }
}

fn tokens(rows: &[&[i64]], device: &Device) -> Tensor<2, Int> {
    let time = rows[0].len();
    let values: Vec<i64> = rows.iter().flat_map(|row| row.iter().copied()).collect();
    Tensor::from_data(TensorData::new(values, [rows.len(), time]), device)
}

fn padding(rows: &[&[bool]], device: &Device) -> Tensor<2, Bool> {
    let time = rows[0].len();
    let values: Vec<bool> = rows.iter().flat_map(|row| row.iter().copied()).collect();
    Tensor::from_data(TensorData::new(values, [rows.len(), time]), device)
}

fn normal<const D: usize>(shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), device)
}

#[rstest]
#[case::flex(BackendKind::Flex)]
#[cfg_attr(feature = "ndarray", case::ndarray(BackendKind::Ndarray))]
#[cfg_attr(feature = "wgpu", case::wgpu(BackendKind::Wgpu))]
fn outputs_have_the_documented_shapes(#[case] backend: BackendKind) {
    let device = backend.open().unwrap();
    device.seed(1);
    let attention = MultiHeadAttentionConfig {
        d_model: 8,
        n_heads: 2,
        dropout: 0.0,
    }
    .init(&device);
    let (output, weights) = attention.forward_with_weights(normal([3, 5, 8], &device), None, true);
    assert_eq!(output.dims(), [3, 5, 8]);
    assert_eq!(weights.dims(), [3, 2, 5, 5]);
    let layer = layer_config(true).init(&device);
    assert_eq!(
        layer
            .forward(normal([3, 5, 8], &device), None, false)
            .dims(),
        [3, 5, 8]
    );
    for (positions, pooling) in [
        (Positions::Learned, TransformerPooling::Cls),
        (Positions::Sinusoidal, TransformerPooling::Mean),
    ] {
        let model = classifier_config(positions, pooling, false).init(&device);
        let output = model.forward(tokens(&[&[1, 2, 3, 4], &[5, 6, 7, 8]], &device), None);
        assert_eq!(output.dims(), [2, 3]);
    }
}

#[rstest]
#[case::flex(BackendKind::Flex)]
#[cfg_attr(feature = "ndarray", case::ndarray(BackendKind::Ndarray))]
#[cfg_attr(feature = "wgpu", case::wgpu(BackendKind::Wgpu))]
fn masked_keys_get_exactly_zero_weight_and_all_masked_rows_stay_finite(
    #[case] backend: BackendKind,
) {
    let device = backend.open().unwrap();
    device.seed(2);
    let attention = MultiHeadAttentionConfig {
        d_model: 8,
        n_heads: 2,
        dropout: 0.0,
    }
    .init(&device);
    let mask = padding(
        &[&[false, false, true, true], &[true, true, true, true]],
        &device,
    );
    let (output, weights) =
        attention.forward_with_weights(normal([2, 4, 8], &device), Some(mask), true);
    let output = output.into_data().try_into_vec::<f32>().unwrap();
    assert!(output.iter().all(|value| value.is_finite()), "{output:?}");
    // [batch, head, query, key]: in the first sequence keys 2 and 3 are padding, and no
    // query may see a later key.
    let weights = weights.into_data().try_into_vec::<f32>().unwrap();
    for head in 0..2 {
        for query in 0..4 {
            let row = &weights[(head * 4 + query) * 4..][..4];
            for (key, weight) in row.iter().enumerate() {
                if key >= 2 || key > query {
                    assert_eq!(*weight, 0.0, "head {head} query {query} key {key}");
                }
            }
            let total: f32 = row.iter().sum();
            assert!((total - 1.0).abs() < TOLERANCE, "row sums to {total}");
        }
    }
}

#[rstest]
#[case::flex(BackendKind::Flex)]
#[cfg_attr(feature = "ndarray", case::ndarray(BackendKind::Ndarray))]
#[cfg_attr(feature = "wgpu", case::wgpu(BackendKind::Wgpu))]
fn padded_tokens_do_not_change_the_classifier_output(#[case] backend: BackendKind) {
    let device = backend.open().unwrap();
    device.seed(3);
    for (positions, pooling, norm_first) in [
        (Positions::Learned, TransformerPooling::Cls, false),
        (Positions::Sinusoidal, TransformerPooling::Mean, true),
        (Positions::Learned, TransformerPooling::Mean, false),
        (Positions::Sinusoidal, TransformerPooling::Cls, true),
        (Positions::Learned, TransformerPooling::Max, false),
        (Positions::Sinusoidal, TransformerPooling::Max, true),
    ] {
        let model = classifier_config(positions, pooling, norm_first).init(&device);
        let alone = model.forward(tokens(&[&[3, 5, 2, 7]], &device), None);
        let padded_batch = model.forward(
            tokens(&[&[3, 5, 2, 7, 9, 1, 10], &[4, 4, 8, 1, 0, 6, 2]], &device),
            Some(padding(
                &[&[false, false, false, false, true, true, true], &[false; 7]],
                &device,
            )),
        );
        let difference = max_abs_difference(alone, padded_batch.narrow(0, 0, 1));
        assert!(
            difference <= TOLERANCE,
            "{positions:?} {pooling:?}: padding changed the output by {difference}"
        );
    }
}

#[rstest]
#[case::flex(BackendKind::Flex)]
#[cfg_attr(feature = "ndarray", case::ndarray(BackendKind::Ndarray))]
#[cfg_attr(feature = "wgpu", case::wgpu(BackendKind::Wgpu))]
fn causal_outputs_do_not_see_later_positions(#[case] backend: BackendKind) {
    let device = backend.open().unwrap();
    device.seed(4);
    let layer = layer_config(false).init(&device);
    let input = normal([2, 6, 8], &device);
    let changed_future = Tensor::cat(
        vec![input.clone().narrow(1, 0, 3), normal([2, 3, 8], &device)],
        1,
    );
    let before = layer.forward(input, None, true).narrow(1, 0, 3);
    let after = layer.forward(changed_future, None, true).narrow(1, 0, 3);
    let difference = max_abs_difference(before, after);
    assert!(difference <= TOLERANCE, "changed by {difference}");
}

#[rstest]
#[case::flex(BackendKind::Flex)]
#[cfg_attr(feature = "ndarray", case::ndarray(BackendKind::Ndarray))]
#[cfg_attr(feature = "wgpu", case::wgpu(BackendKind::Wgpu))]
fn cached_decoding_equals_causal_attention_over_the_whole_sequence(#[case] backend: BackendKind) {
    let device = backend.open().unwrap();
    device.seed(5);
    for norm_first in [false, true] {
        let layer = layer_config(norm_first).init(&device);
        let input = normal([2, 6, 8], &device);
        let expected = layer.forward(input.clone(), None, true);
        let mut cache = KeyValueCache::new();
        assert!(cache.is_empty());
        let mut pieces = Vec::new();
        let mut start = 0;
        for length in [1, 2, 3] {
            pieces.push(layer.forward_cached(input.clone().narrow(1, start, length), &mut cache));
            start += length;
            assert_eq!(cache.len(), start);
        }
        let difference = max_abs_difference(Tensor::cat(pieces, 1), expected.clone());
        assert!(
            difference <= TOLERANCE,
            "norm_first {norm_first}: cached decoding differs by {difference}"
        );
        cache.clear();
        assert!(cache.is_empty());
        let first = layer.forward_cached(input.narrow(1, 0, 1), &mut cache);
        let difference = max_abs_difference(first, expected.narrow(1, 0, 1));
        assert!(difference <= TOLERANCE, "after clear: {difference}");
    }
}

#[rstest]
#[case::flex(BackendKind::Flex)]
#[cfg_attr(feature = "ndarray", case::ndarray(BackendKind::Ndarray))]
#[cfg_attr(feature = "wgpu", case::wgpu(BackendKind::Wgpu))]
fn every_parameter_gets_a_gradient(#[case] backend: BackendKind) {
    let device = backend.open().unwrap().autodiff();
    device.seed(6);
    let model = TransformerClassifierConfig {
        dropout: 0.1,
        token_dropout: 0.1,
        ..classifier_config(Positions::Learned, TransformerPooling::Cls, true)
    }
    .init(&device);
    let output = model.forward(
        tokens(&[&[1, 2, 3, 4], &[5, 6, 7, 0]], &device),
        Some(padding(
            &[&[false; 4], &[false, false, false, true]],
            &device,
        )),
    );
    let grads = GradientsParams::from_grads(output.powi_scalar(2).mean().backward(), &model);
    let visitor = common::gradient_census(&model, &grads);
    // Embeddings, positions and CLS token; 12 per layer; the final norm's 2; the head's 2.
    assert_eq!(visitor.total, 3 + 2 * 12 + 2 + 2);
    assert_eq!(visitor.missing, 0);
}

#[rstest]
#[case::flex(BackendKind::Flex)]
#[cfg_attr(feature = "ndarray", case::ndarray(BackendKind::Ndarray))]
#[cfg_attr(feature = "wgpu", case::wgpu(BackendKind::Wgpu))]
fn a_tiny_data_set_is_learned_to_near_zero_loss(#[case] backend: BackendKind) {
    let plain = backend.open().unwrap();
    plain.seed(7);
    let device = plain.clone().autodiff();
    let mut config = classifier_config(Positions::Learned, TransformerPooling::Cls, true);
    config.n_layers = 1;
    config.d_output = 2;
    let mut model = config.init(&device);
    // The class is whether token 9 occurs anywhere: only attention can find it.
    let inputs = tokens(
        &[
            &[1, 9, 3, 4],
            &[1, 2, 3, 4],
            &[5, 6, 7, 9],
            &[5, 6, 7, 8],
            &[9, 2, 2, 2],
            &[2, 2, 2, 2],
        ],
        &device,
    );
    let targets =
        Tensor::<1, Int>::from_data(TensorData::new(vec![1i64, 0, 1, 0, 1, 0], [6]), &device);
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let mut optimizer = AdamConfig::new().init();
    let mut last_loss = f32::INFINITY;
    for _ in 0..150 {
        let loss = loss_fn.forward(model.forward(inputs.clone(), None), targets.clone());
        last_loss = loss.clone().into_scalar::<f32>();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(0.01, model, grads);
    }
    assert!(last_loss < 0.01, "loss after 150 steps: {last_loss}");
}

#[rstest]
#[case::flex(BackendKind::Flex)]
#[cfg_attr(feature = "ndarray", case::ndarray(BackendKind::Ndarray))]
#[cfg_attr(feature = "wgpu", case::wgpu(BackendKind::Wgpu))]
fn saved_weights_load_back_to_the_same_outputs(#[case] backend: BackendKind) {
    let device = backend.open().unwrap();
    device.seed(8);
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("model.bpk");
    let config = classifier_config(Positions::Learned, TransformerPooling::Cls, true);
    let model: TransformerClassifier = config.init(&device);
    let inputs = tokens(&[&[1, 2, 3], &[4, 5, 6]], &device);
    let expected = model.forward(inputs.clone(), None).into_data();
    model.save_file(&path).unwrap();
    let loaded = config.init(&device).load_file(&path);
    loaded
        .forward(inputs, None)
        .into_data()
        .assert_eq(&expected, true);
}

#[rstest]
#[case::flex(BackendKind::Flex)]
#[cfg_attr(feature = "ndarray", case::ndarray(BackendKind::Ndarray))]
#[cfg_attr(feature = "wgpu", case::wgpu(BackendKind::Wgpu))]
fn pytorch_export_loads_back_to_the_same_layer(#[case] backend: BackendKind) {
    let device = backend.open().unwrap();
    device.seed(9);
    let layer: EncoderLayer = layer_config(true).init(&device);
    let mut exported = StateDict::new();
    layer.to_torch(&mut exported, "encoder.layers.0");
    assert_eq!(exported.len(), 12);
    assert!(
        exported
            .names()
            .any(|name| name == "encoder.layers.0.self_attn.in_proj_weight")
    );
    let loaded = layer_config(true)
        .init(&device)
        .load_torch(&exported, "encoder.layers.0.")
        .unwrap();
    let mut exported_again = StateDict::new();
    loaded.to_torch(&mut exported_again, "encoder.layers.0");
    assert_eq!(exported_again, exported);
    let input = normal([2, 4, 8], &device);
    let expected = layer.forward(input.clone(), None, false).into_data();
    loaded
        .forward(input, None, false)
        .into_data()
        .assert_eq(&expected, true);
}

#[test]
fn weights_of_another_shape_or_missing_are_errors_naming_the_tensor() {
    let device = BackendKind::Flex.open().unwrap();
    let mut exported = StateDict::new();
    layer_config(false)
        .init(&device)
        .to_torch(&mut exported, "");
    let wider = EncoderLayerConfig {
        d_ff: 32,
        ..layer_config(false)
    };
    let error = wider.init(&device).load_torch(&exported, "").unwrap_err();
    assert_eq!(
        error.to_string(),
        "weight `linear1.weight` has shape [16, 8], expected [32, 8]"
    );
    let error = layer_config(false)
        .init(&device)
        .load_torch(&exported, "layers.3")
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "weight `layers.3.self_attn.in_proj_weight` missing"
    );
}

#[test]
fn impossible_settings_name_the_key() {
    let cases = [
        (
            TransformerClassifierConfig {
                d_model: 30,
                n_heads: 4,
                ..classifier_config(Positions::Learned, TransformerPooling::Cls, false)
            },
            "invalid `model.n_heads`: d_model 30 is not divisible by 4 heads",
        ),
        (
            TransformerClassifierConfig {
                dropout: 1.0,
                ..classifier_config(Positions::Learned, TransformerPooling::Cls, false)
            },
            "invalid `model.dropout`: 1 is not a probability in [0, 1)",
        ),
        (
            TransformerClassifierConfig {
                token_dropout: -0.1,
                ..classifier_config(Positions::Learned, TransformerPooling::Cls, false)
            },
            "invalid `model.token_dropout`: -0.1 is not a probability in [0, 1)",
        ),
        (
            TransformerClassifierConfig {
                n_layers: 0,
                ..classifier_config(Positions::Learned, TransformerPooling::Cls, false)
            },
            "invalid `model.n_layers`: must be at least 1",
        ),
        (
            TransformerClassifierConfig {
                d_ff: 0,
                ..classifier_config(Positions::Learned, TransformerPooling::Cls, false)
            },
            "invalid `model.d_ff`: must be at least 1",
        ),
        (
            TransformerClassifierConfig {
                max_len: 0,
                ..classifier_config(Positions::Learned, TransformerPooling::Cls, false)
            },
            "invalid `model.max_len`: must be at least 1",
        ),
    ];
    for (config, message) in cases {
        assert_eq!(config.validate().unwrap_err().to_string(), message);
    }
    let attention = MultiHeadAttentionConfig {
        d_model: 8,
        n_heads: 0,
        dropout: 0.0,
    };
    assert_eq!(
        attention.validate().unwrap_err().to_string(),
        "invalid `model.n_heads`: must be at least 1"
    );
    assert_eq!(
        classifier_config(Positions::Sinusoidal, TransformerPooling::Mean, true).validate(),
        Ok(())
    );
}

#[test]
fn positions_and_pooling_read_as_lowercase_words() {
    let positions: Positions = serde_json::from_str("\"sinusoidal\"").unwrap();
    assert_eq!(positions, Positions::Sinusoidal);
    let pooling: TransformerPooling = serde_json::from_str("\"mean\"").unwrap();
    assert_eq!(pooling, TransformerPooling::Mean);
    assert_eq!(
        serde_json::to_string(&Positions::Learned).unwrap(),
        "\"learned\""
    );
    assert_eq!(
        serde_json::to_string(&TransformerPooling::Cls).unwrap(),
        "\"cls\""
    );
}

#[test]
#[should_panic(expected = "a sequence of 9 tokens is longer than the model's max_len of 8")]
fn sequences_longer_than_max_len_are_refused() {
    let device = BackendKind::Flex.open().unwrap();
    let model =
        classifier_config(Positions::Sinusoidal, TransformerPooling::Mean, false).init(&device);
    model.forward(tokens(&[&[1; 9]], &device), None);
}

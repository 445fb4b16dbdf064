//! PyTorch parity of multi-head attention and the transformer encoder layer: PyTorch's
//! weights, loaded by name, must reproduce PyTorch's outputs on every compiled backend.
//!
//! The cases are `tests/golden/torch/{mha,encoder_layer}_*`, written by PyTorch (see
//! `shared/golden/README.md`, section `torch/`).

#[path = "common/compare.rs"]
mod compare;

use burn::tensor::{Bool, Device, Tensor, TensorData};
use burnish_backend::BackendKind;
use burnish_models::{Activation, EncoderLayerConfig, MultiHeadAttentionConfig, StateDict};
use rstest::rstest;
use serde_json::Value;

const TOLERANCE: f32 = 1e-5;

/// Every attention case, with its JSON and safetensors bytes.
const CASES: [(&str, &str, &[u8]); 5] = [
    (
        "mha_causal",
        include_str!("golden/torch/mha_causal.json"),
        include_bytes!("golden/torch/mha_causal.safetensors"),
    ),
    (
        "encoder_layer_postnorm_gelu",
        include_str!("golden/torch/encoder_layer_postnorm_gelu.json"),
        include_bytes!("golden/torch/encoder_layer_postnorm_gelu.safetensors"),
    ),
    (
        "encoder_layer_postnorm_relu",
        include_str!("golden/torch/encoder_layer_postnorm_relu.json"),
        include_bytes!("golden/torch/encoder_layer_postnorm_relu.safetensors"),
    ),
    (
        "encoder_layer_prenorm_gelu",
        include_str!("golden/torch/encoder_layer_prenorm_gelu.json"),
        include_bytes!("golden/torch/encoder_layer_prenorm_gelu.safetensors"),
    ),
    (
        "encoder_layer_prenorm_relu",
        include_str!("golden/torch/encoder_layer_prenorm_relu.json"),
        include_bytes!("golden/torch/encoder_layer_prenorm_relu.safetensors"),
    ),
];

#[rstest]
#[case::flex(BackendKind::Flex)]
#[cfg_attr(feature = "ndarray", case::ndarray(BackendKind::Ndarray))]
#[cfg_attr(feature = "wgpu", case::wgpu(BackendKind::Wgpu))]
fn pytorch_weights_reproduce_pytorch_outputs(#[case] backend: BackendKind) {
    let device = backend.open().unwrap();
    for (name, json, safetensors) in CASES {
        let case: Value = serde_json::from_str(json).unwrap();
        let weights = StateDict::from_safetensors(safetensors).unwrap();
        let error = if name.starts_with("mha_") {
            attention_error(&case, &weights, &device)
        } else {
            encoder_layer_error(&case, &weights, &device)
        };
        println!("{backend:?} {name}: max abs error {error:e}");
        assert!(
            error <= TOLERANCE,
            "{backend:?} {name}: max abs error {error:e} > {TOLERANCE:e}"
        );
    }
}

#[test]
fn every_golden_attention_case_is_checked() {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/torch");
    let mut on_disk: Vec<String> = std::fs::read_dir(folder)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|file| file.strip_suffix(".json").map(str::to_string))
        .filter(|stem| stem.starts_with("mha_") || stem.starts_with("encoder_layer_"))
        .collect();
    on_disk.sort();
    let mut checked: Vec<&str> = CASES.iter().map(|(name, _, _)| *name).collect();
    checked.sort_unstable();
    assert_eq!(on_disk, checked);
}

/// The largest error of the output and of every head's attention weights.
fn attention_error(case: &Value, weights: &StateDict, device: &Device) -> f32 {
    let module = &case["module"];
    let config = MultiHeadAttentionConfig {
        d_model: size(&module["d_model"]),
        n_heads: size(&module["n_heads"]),
        dropout: 0.0,
    };
    config.validate().unwrap();
    let attention = config.init(device).load_torch(weights, "").unwrap();
    assert_exports_the_same(weights, |exported| attention.to_torch(exported, ""));
    let input = float_tensor::<3>(&case["input"], device);
    let causal = module["causal"].as_bool().unwrap();
    let (output, attention_weights) = attention.forward_with_weights(input, None, causal);
    let output_error = max_abs_error(output, &case["output"], None);
    let weights_error = max_abs_error(attention_weights, &case["attention_weights"], None);
    output_error.max(weights_error)
}

/// The largest error of the output rows that are not padding.
fn encoder_layer_error(case: &Value, weights: &StateDict, device: &Device) -> f32 {
    let module = &case["module"];
    let config = EncoderLayerConfig {
        d_model: size(&module["d_model"]),
        n_heads: size(&module["n_heads"]),
        d_ff: size(&module["d_ff"]),
        dropout: 0.0,
        feed_forward_dropout: true,
        activation: serde_json::from_value::<Activation>(module["activation"].clone()).unwrap(),
        norm_first: module["norm_first"].as_bool().unwrap(),
        layer_norm_eps: module["layer_norm_eps"].as_f64().unwrap(),
    };
    config.validate().unwrap();
    let layer = config.init(device).load_torch(weights, "").unwrap();
    assert_exports_the_same(weights, |exported| layer.to_torch(exported, ""));
    let input = float_tensor::<3>(&case["input"], device);
    let padding_flags = bools(&case["padding_mask"]);
    let [batch, time, _] = input.dims();
    let padding = Tensor::<2, Bool>::from_data(
        TensorData::new(padding_flags.clone(), [batch, time]),
        device,
    );
    let output = layer.forward(input, Some(padding), false);
    max_abs_error(output, &case["output"], Some(&padding_flags))
}

/// Exporting the loaded weights gives back PyTorch's state dict, names and values alike.
fn assert_exports_the_same(weights: &StateDict, export: impl FnOnce(&mut StateDict)) {
    let mut exported = StateDict::new();
    export(&mut exported);
    assert_eq!(&exported, weights);
}

/// The largest absolute difference between `actual` and `expected`, skipping the rows
/// `[batch, time, ..]` whose flag in `skipped_rows` (`[batch * time]`) is set.
fn max_abs_error<const D: usize>(
    actual: Tensor<D>,
    expected: &Value,
    skipped_rows: Option<&[bool]>,
) -> f32 {
    let dims = actual.dims();
    assert_eq!(dims.to_vec(), shape(expected), "output shape");
    let actual = actual.into_data().try_into_vec::<f32>().unwrap();
    let expected = floats(expected);
    let row_length = dims[2..].iter().product::<usize>();
    let kept = |values: &[f32]| -> Vec<f32> {
        values
            .iter()
            .enumerate()
            .filter(|(index, _)| skipped_rows.is_none_or(|skipped| !skipped[index / row_length]))
            .map(|(_, &value)| value)
            .collect()
    };
    compare::max_abs_difference_of(&kept(&actual), &kept(&expected))
}

fn float_tensor<const D: usize>(value: &Value, device: &Device) -> Tensor<D> {
    let shape: [usize; D] = shape(value).try_into().unwrap();
    Tensor::from_data(TensorData::new(floats(value), shape), device)
}

fn size(value: &Value) -> usize {
    value.as_u64().unwrap() as usize
}

fn shape(value: &Value) -> Vec<usize> {
    match value {
        Value::Array(items) => {
            let mut dims = vec![items.len()];
            dims.extend(shape(&items[0]));
            dims
        }
        _ => Vec::new(),
    }
}

fn floats(value: &Value) -> Vec<f32> {
    match value {
        Value::Array(items) => items.iter().flat_map(floats).collect(),
        number => vec![number.as_f64().unwrap() as f32],
    }
}

fn bools(value: &Value) -> Vec<bool> {
    match value {
        Value::Array(items) => items.iter().flat_map(bools).collect(),
        flag => vec![flag.as_bool().unwrap()],
    }
}

/// The comparisons above would pass a NaN output if they folded with `f32::max`; they refuse
/// one instead, and an infinity too.
#[test]
#[should_panic(expected = "value 1 is not finite: NaN against 0.5")]
fn a_nan_output_fails_the_comparison() {
    compare::max_abs_difference_of(&[0.5, f32::NAN], &[0.5, 0.5]);
}

#[test]
#[should_panic(expected = "value 0 is not finite: 0.5 against inf")]
fn an_infinite_reference_fails_the_comparison() {
    let device = BackendKind::Flex.open().unwrap();
    let actual = Tensor::<1>::from_data(TensorData::new(vec![0.5f32], [1]), &device);
    let expected = Tensor::<1>::from_data(TensorData::new(vec![f32::INFINITY], [1]), &device);
    compare::max_abs_difference(actual, expected);
}

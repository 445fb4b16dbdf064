//! PyTorch parity: `torch.nn.RNN`, `LSTM` and `GRU` weights, loaded into [`Recurrent`],
//! reproduce PyTorch's outputs on every compiled backend.
//!
//! The golden cases are in `tests/golden/torch/` (see the golden README's `torch/` section).

#[path = "common/compare.rs"]
mod compare;

use burn::tensor::{Device, Tensor, TensorData};
use burnish_backend::BackendKind;
use burnish_models::{CellKind, RecurrentConfig, StateDict};
use rstest::rstest;
use serde_json::Value;

const TOLERANCE: f32 = 1e-5;

macro_rules! golden {
    ($($name:literal),* $(,)?) => {
        [$((
            $name,
            include_str!(concat!("golden/torch/", $name, ".json")),
            include_bytes!(concat!("golden/torch/", $name, ".safetensors")).as_slice(),
        )),*]
    };
}

/// Every recurrent golden case: name, settings with input and output, PyTorch state dict.
const CASES: [(&str, &str, &[u8]); 12] = golden!(
    "rnn_l1_uni",
    "rnn_l1_bi",
    "rnn_l2_uni",
    "rnn_l2_bi",
    "lstm_l1_uni",
    "lstm_l1_bi",
    "lstm_l2_uni",
    "lstm_l2_bi",
    "gru_l1_uni",
    "gru_l1_bi",
    "gru_l2_uni",
    "gru_l2_bi",
);

/// The numbers of a nested JSON array, flattened in row-major order.
fn flatten(value: &Value, numbers: &mut Vec<f32>) {
    match value {
        Value::Array(items) => items.iter().for_each(|item| flatten(item, numbers)),
        Value::Number(number) => numbers.push(number.as_f64().expect("a finite number") as f32),
        other => panic!("expected numbers, found {other}"),
    }
}

fn tensor3(value: &Value, shape: &Value, device: &Device) -> Tensor<3> {
    let mut numbers = Vec::new();
    flatten(value, &mut numbers);
    let shape: Vec<usize> = serde_json::from_value(shape.clone()).unwrap();
    let shape: [usize; 3] = shape.try_into().expect("a [batch, time, features] shape");
    Tensor::from_data(TensorData::new(numbers, shape), device)
}

/// The largest absolute difference between the case's expected output and ours.
fn max_error(name: &str, json: &str, safetensors: &[u8], device: &Device) -> f32 {
    let golden: Value = serde_json::from_str(json).unwrap();
    let module = &golden["module"];
    assert_eq!(module["batch_first"], Value::Bool(true), "{name}");
    let cell: CellKind = serde_json::from_value(module["kind"].clone()).unwrap();
    let size = |key: &str| module[key].as_u64().expect(key) as usize;
    let config = RecurrentConfig {
        cell,
        d_input: size("d_input"),
        d_hidden: size("d_hidden"),
        n_layers: size("n_layers"),
        bidirectional: module["bidirectional"].as_bool().unwrap(),
        dropout: 0.0,
    };
    config.validate().unwrap();
    let state_dict = StateDict::from_safetensors(safetensors).unwrap();
    let recurrent = config
        .init(device)
        .load_torch(&state_dict, "")
        .unwrap_or_else(|error| panic!("{name}: {error}"));
    state_dict
        .expect_only(recurrent.torch_names("").iter().map(String::as_str))
        .unwrap_or_else(|error| panic!("{name}: {error}"));

    let input = tensor3(&golden["input"], &golden["input_shape"], device);
    let expected = tensor3(&golden["output"], &golden["output_shape"], device);
    let output = recurrent.forward(input, None);
    assert_eq!(output.dims(), expected.dims(), "{name}");
    compare::max_abs_difference(output, expected)
}

#[rstest]
#[case::flex(BackendKind::Flex)]
#[cfg_attr(feature = "ndarray", case::ndarray(BackendKind::Ndarray))]
#[cfg_attr(feature = "wgpu", case::wgpu(BackendKind::Wgpu))]
fn torch_weights_reproduce_torch_outputs(#[case] backend: BackendKind) {
    let device = backend.open().unwrap();
    let mut failures = Vec::new();
    for (name, json, safetensors) in CASES {
        let error = max_error(name, json, safetensors, &device);
        println!("{backend:?} {name}: max |output - expected| = {error:e}");
        if error.is_nan() || error > TOLERANCE {
            failures.push(format!("{name} ({error:e})"));
        }
    }
    assert!(
        failures.is_empty(),
        "{backend:?}: outputs differ from PyTorch by more than {TOLERANCE:e} in {}",
        failures.join(", ")
    );
}

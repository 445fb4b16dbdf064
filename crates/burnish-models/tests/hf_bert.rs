//! BERT checkpoints saved by Hugging Face transformers reproduce transformers' own outputs.
//!
//! `golden/hf/bert_tiny` is a random BERT (every parameter random, so a swapped gain and bias
//! or a missed transpose shows) with transformers 5.25's `last_hidden_state` and
//! `pooler_output`; `golden/hf/minilm/expected.json` holds sentence-transformers' embeddings
//! of the real all-MiniLM-L6-v2 checkpoint, which `cargo xtask fetch-minilm` brings (it is not
//! in the repository). See `../shared/golden/hf/README.md` for how the fixtures were made.

mod common;
#[path = "common/compare.rs"]
mod compare;

use std::path::{Path, PathBuf};

use burn::optim::GradientsParams;
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use burnish_backend::BackendKind;
use burnish_models::{Bert, BertClassifierConfig, BertConfig, BertPooling, Error, StateDict};
use compare::{max_abs_difference_of, values};
use rstest::rstest;
use safetensors::Dtype;
use safetensors::tensor::TensorView;
use serde_json::Value;

const TOLERANCE: f32 = 1e-4;

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/hf")
        .join(name)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn tiny_config() -> BertConfig {
    BertConfig::from_hf_json(&std::fs::read_to_string(golden("bert_tiny/config.json")).unwrap())
        .unwrap()
}

fn tiny_weights() -> Vec<u8> {
    std::fs::read(golden("bert_tiny/model.safetensors")).unwrap()
}

/// A `[rows, time]` tensor of integers from JSON rows.
fn int_rows(rows: &Value, device: &Device) -> Tensor<2, Int> {
    let rows = rows.as_array().unwrap();
    let time = rows[0].as_array().unwrap().len();
    let values: Vec<i64> = rows
        .iter()
        .flat_map(|row| row.as_array().unwrap().iter().map(|v| v.as_i64().unwrap()))
        .collect();
    Tensor::from_data(TensorData::new(values, [rows.len(), time]), device)
}

/// `true` where the attention mask is 0.
fn padding(mask: &Value, device: &Device) -> Tensor<2, Bool> {
    int_rows(mask, device).equal_elem(0)
}

fn floats(value: &Value) -> Vec<f32> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect()
}

/// The values of `hidden` `[batch, time, d]` and of `expected` (flattened the same way) at the
/// positions whose mask is 1; transformers' values at padding positions are not meaningful.
fn unpadded(
    hidden: &[f32],
    expected: &[f32],
    mask: &Value,
    d_model: usize,
) -> (Vec<f32>, Vec<f32>) {
    let mut actual_kept = Vec::new();
    let mut expected_kept = Vec::new();
    let flags = mask
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap().iter().map(|v| v.as_i64().unwrap()));
    for (position, flag) in flags.enumerate() {
        if flag == 1 {
            let span = position * d_model..(position + 1) * d_model;
            actual_kept.extend_from_slice(&hidden[span.clone()]);
            expected_kept.extend_from_slice(&expected[span]);
        }
    }
    (actual_kept, expected_kept)
}

/// Checks every case of `bert_tiny/expected.json` against `model`.
fn assert_matches_transformers(model: &Bert, device: &Device) {
    let expected = read_json(&golden("bert_tiny/expected.json"));
    assert_eq!(expected["has_pooler"], true);
    let cases = expected["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let hidden = model.forward(
            int_rows(&case["input_ids"], device),
            Some(int_rows(&case["token_type_ids"], device)),
            Some(padding(&case["attention_mask"], device)),
        );
        let pooled = values(model.pool(hidden.clone()));
        let (actual, wanted) = unpadded(
            &values(hidden),
            &floats(&case["last_hidden_state"]),
            &case["attention_mask"],
            model.d_model(),
        );
        assert!(!actual.is_empty());
        let hidden_error = max_abs_difference_of(&actual, &wanted);
        eprintln!("{name}: last_hidden_state within {hidden_error:.2e}");
        assert!(
            hidden_error < TOLERANCE,
            "{name}: last_hidden_state off by {hidden_error}"
        );
        let pooled_error = max_abs_difference_of(&pooled, &floats(&case["pooler_output"]));
        eprintln!("{name}: pooler_output within {pooled_error:.2e}");
        assert!(
            pooled_error < TOLERANCE,
            "{name}: pooler_output off by {pooled_error}"
        );
    }
}

#[rstest]
#[case::flex(BackendKind::Flex)]
#[cfg_attr(feature = "ndarray", case::ndarray(BackendKind::Ndarray))]
#[cfg_attr(feature = "wgpu", case::wgpu(BackendKind::Wgpu))]
fn the_tiny_checkpoint_reproduces_transformers(#[case] backend: BackendKind) {
    let device = backend.open().unwrap();
    let config = tiny_config();
    assert_eq!(
        (config.d_model, config.n_layers, config.n_heads),
        (32, 2, 4)
    );
    let (model, report) = config.init(&device).load_hf(&tiny_weights()).unwrap();
    assert_eq!(report.prefix, "");
    assert!(report.has_pooler);
    assert_eq!(report.ignored, Vec::<String>::new());
    assert_matches_transformers(&model, &device);
}

/// The tiny checkpoint as a `BertForPreTraining` save from an older transformers spells it:
/// every key under `bert.`, LayerNorm `gamma`/`beta`, an integer `position_ids` buffer and
/// the heads' tensors beside the body.
fn as_pretraining_save(state_dict: &StateDict) -> Vec<u8> {
    let mut floats: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for name in state_dict.names() {
        let shape = state_dict.shape(name).unwrap().to_vec();
        let values = state_dict.values(name, &shape).unwrap();
        let renamed = format!("bert.{name}")
            .replace("LayerNorm.weight", "LayerNorm.gamma")
            .replace("LayerNorm.bias", "LayerNorm.beta");
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        floats.push((renamed, shape, bytes));
    }
    let head = |n: usize| -> Vec<u8> {
        (0..n)
            .flat_map(|i| (i as f32 * 0.01).to_le_bytes())
            .collect()
    };
    floats.push(("cls.predictions.bias".into(), vec![30522], head(30522)));
    floats.push((
        "cls.predictions.transform.dense.weight".into(),
        vec![32, 32],
        head(32 * 32),
    ));
    floats.push(("cls.seq_relationship.weight".into(), vec![2, 32], head(64)));
    let position_ids: Vec<u8> = (0..64i64).flat_map(|i| i.to_le_bytes()).collect();
    let mut views: Vec<(String, TensorView<'_>)> = floats
        .iter()
        .map(|(name, shape, bytes)| {
            (
                name.clone(),
                TensorView::new(Dtype::F32, shape.clone(), bytes).unwrap(),
            )
        })
        .collect();
    views.push((
        "bert.embeddings.position_ids".into(),
        TensorView::new(Dtype::I64, vec![1, 64], &position_ids).unwrap(),
    ));
    safetensors::serialize(views, None).unwrap()
}

#[test]
fn a_prefixed_checkpoint_with_heads_and_buffers_loads_and_matches() {
    let device = BackendKind::Flex.open().unwrap();
    let original = StateDict::from_safetensors(&tiny_weights()).unwrap();
    let rewritten = as_pretraining_save(&original);
    let (model, report) = tiny_config().init(&device).load_hf(&rewritten).unwrap();
    assert_eq!(report.prefix, "bert.");
    assert_eq!(
        report.ignored,
        [
            "bert.embeddings.position_ids",
            "cls.predictions.bias",
            "cls.predictions.transform.dense.weight",
            "cls.seq_relationship.weight",
        ]
    );
    assert_matches_transformers(&model, &device);
}

#[test]
fn half_precision_checkpoints_load_close_to_the_float32_one() {
    let device = BackendKind::Flex.open().unwrap();
    let original = StateDict::from_safetensors(&tiny_weights()).unwrap();
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for name in original.names() {
        let shape = original.shape(name).unwrap().to_vec();
        // bfloat16: the upper half of each float32 (truncated).
        let bytes = original
            .values(name, &shape)
            .unwrap()
            .iter()
            .flat_map(|v| ((v.to_bits() >> 16) as u16).to_le_bytes())
            .collect();
        tensors.push((name.to_string(), shape, bytes));
    }
    let views = tensors.iter().map(|(name, shape, bytes)| {
        (
            name.clone(),
            TensorView::new(Dtype::BF16, shape.clone(), bytes).unwrap(),
        )
    });
    let bf16 = safetensors::serialize(views, None).unwrap();
    let (model, _) = tiny_config().init(&device).load_hf(&bf16).unwrap();
    let ids =
        Tensor::<2, Int>::from_data(TensorData::new(vec![101i64, 7929, 102], [1, 3]), &device);
    let reference = tiny_config()
        .init(&device)
        .load_hf(&tiny_weights())
        .unwrap()
        .0;
    let difference = max_abs_difference_of(
        &values(model.forward(ids.clone(), None, None)),
        &values(reference.forward(ids, None, None)),
    );
    // Eight bits of mantissa: close, not equal.
    assert!(difference > 0.0 && difference < 0.2, "{difference}");
}

#[test]
fn a_missing_or_misshapen_tensor_is_named_as_the_file_spells_it() {
    let device = BackendKind::Flex.open().unwrap();
    let original = StateDict::from_safetensors(&tiny_weights()).unwrap();

    let mut without_key = StateDict::new();
    let mut misshapen = StateDict::new();
    for name in original.names() {
        let shape = original.shape(name).unwrap().to_vec();
        let values = original.values(name, &shape).unwrap().to_vec();
        if name == "encoder.layer.1.attention.self.key.weight" {
            misshapen.insert_values(name, vec![32 * 32], values);
            continue;
        }
        misshapen.insert_values(name, shape.clone(), values.clone());
        without_key.insert_values(name, shape, values);
    }
    let error = tiny_config()
        .init(&device)
        .load_hf(&without_key.to_safetensors())
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "weight `encoder.layer.1.attention.self.key.weight` missing"
    );
    let error = tiny_config()
        .init(&device)
        .load_hf(&misshapen.to_safetensors())
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "weight `encoder.layer.1.attention.self.key.weight` has shape [1024], expected [32, 32]"
    );

    // The prefixed spelling is kept in the message.
    let prefixed = as_pretraining_save(&without_key);
    let error = tiny_config().init(&device).load_hf(&prefixed).unwrap_err();
    assert_eq!(
        error.to_string(),
        "weight `bert.encoder.layer.1.attention.self.key.weight` missing"
    );

    // A config sized for another checkpoint.
    let mut wider = tiny_config();
    wider.d_ff = 128;
    let error = wider.init(&device).load_hf(&tiny_weights()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "weight `encoder.layer.0.intermediate.dense.weight` has shape [64, 32], expected [128, 32]"
    );

    let error = tiny_config().init(&device).load_hf(b"garbage").unwrap_err();
    assert!(
        error.to_string().contains("not a safetensors file"),
        "{error}"
    );
    let mut gpt = StateDict::new();
    gpt.insert_values("transformer.wte.weight", vec![2, 2], vec![0.0; 4]);
    let error = tiny_config()
        .init(&device)
        .load_hf(&gpt.to_safetensors())
        .unwrap_err();
    assert!(
        error.to_string().contains("not a BERT checkpoint"),
        "{error}"
    );
}

#[test]
fn configs_of_other_architectures_are_refused_by_name() {
    let config = std::fs::read_to_string(golden("bert_tiny/config.json")).unwrap();
    let roberta = config.replace("\"model_type\": \"bert\"", "\"model_type\": \"roberta\"");
    let message = BertConfig::from_hf_json(&roberta).unwrap_err().to_string();
    assert_eq!(
        message,
        "invalid `config.json`: model_type \"roberta\" is not supported; burnish reads \"bert\""
    );
    let gelu_new = config.replace("\"hidden_act\": \"gelu\"", "\"hidden_act\": \"gelu_new\"");
    let message = BertConfig::from_hf_json(&gelu_new).unwrap_err().to_string();
    assert!(
        message.contains("hidden_act \"gelu_new\" is not supported"),
        "{message}"
    );
    let electra = config.replace("\"BertModel\"", "\"ElectraModel\"");
    let message = BertConfig::from_hf_json(&electra).unwrap_err().to_string();
    assert!(
        message.contains("\"ElectraModel\" is not a BERT"),
        "{message}"
    );
    let heads = config.replace("\"num_attention_heads\": 4", "\"num_attention_heads\": 5");
    assert!(matches!(
        BertConfig::from_hf_json(&heads),
        Err(Error::Invalid { .. })
    ));
    let message = BertConfig::from_hf_json("{}").unwrap_err().to_string();
    assert!(
        message.starts_with("invalid `config.json`: not a BERT config"),
        "{message}"
    );
}

/// Where `cargo xtask fetch-minilm` puts the real checkpoint, or `BURNISH_MINILM_DIR`.
fn minilm_dir() -> PathBuf {
    match std::env::var_os("BURNISH_MINILM_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/hf/all-MiniLM-L6-v2"),
    }
}

/// The real all-MiniLM-L6-v2 gives sentence-transformers' embeddings. This test fails, not
/// skips, without the checkpoint: `cargo xtask ci` fetches it first. The tiny checkpoint
/// covers wgpu; this one would take a minute there on a software Vulkan driver.
#[rstest]
#[case::flex(BackendKind::Flex)]
#[cfg_attr(feature = "ndarray", case::ndarray(BackendKind::Ndarray))]
fn minilm_reproduces_sentence_transformers_embeddings(#[case] backend: BackendKind) {
    let dir = minilm_dir();
    let read = |name: &str| {
        std::fs::read(dir.join(name)).unwrap_or_else(|error| {
            panic!(
                "{}: {error}; fetch all-MiniLM-L6-v2 with `cargo xtask fetch-minilm` (or set BURNISH_MINILM_DIR)",
                dir.join(name).display()
            )
        })
    };
    let device = backend.open().unwrap();
    let config =
        BertConfig::from_hf_json(&String::from_utf8(read("config.json")).unwrap()).unwrap();
    assert_eq!((config.d_model, config.n_layers), (384, 6));
    let (model, _) = config
        .init(&device)
        .load_hf(&read("model.safetensors"))
        .unwrap();

    let expected = read_json(&golden("minilm/expected.json"));
    let mask = &expected["attention_mask"];
    let hidden = model.forward(
        int_rows(&expected["input_ids"], &device),
        None,
        Some(padding(mask, &device)),
    );
    let [batch, _, d_model] = hidden.dims();
    // Mean over the positions whose mask is 1, then L2-normalised.
    let keep = padding(mask, &device)
        .bool_not()
        .float()
        .unsqueeze_dim::<3>(2);
    let mean = (hidden.clone() * keep.clone()).sum_dim(1) / keep.sum_dim(1);
    let norm = mean.clone().powf_scalar(2.0).sum_dim(2).sqrt();
    let embeddings = (mean / norm).reshape([batch, d_model]);
    let wanted: Vec<f32> = expected["embeddings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(floats)
        .collect();
    let error = max_abs_difference_of(&values(embeddings), &wanted);
    eprintln!("MiniLM sentence embeddings within {error:.2e}");
    assert!(error < TOLERANCE, "embeddings off by {error}");

    let cls = hidden.narrow(1, 0, 1).reshape([batch, d_model]);
    let wanted: Vec<f32> = expected["cls_hidden"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(floats)
        .collect();
    let error = max_abs_difference_of(&values(cls), &wanted);
    eprintln!("MiniLM first-token states within {error:.2e}");
    assert!(error < TOLERANCE, "first-token states off by {error}");
}

/// The parameters of a fine-tuned tiny BERT that get a gradient, by freezing setting.
#[test]
fn frozen_layers_get_no_gradient_and_the_rest_do() {
    let device = BackendKind::Flex.open().unwrap().autodiff();
    let ids = Tensor::<2, Int>::from_data(
        TensorData::new(vec![101i64, 1996, 3185, 102, 101, 7929, 102, 0], [2, 4]),
        &device,
    );
    let padding = ids.clone().equal_elem(0);
    // (frozen body, frozen layers) -> parameters of the body without a gradient, of 31: five
    // in the embeddings, twelve in each layer, two in the pooler.
    for (freeze_body, freeze_layers, frozen) in
        [(false, 0, 0), (false, 1, 17), (false, 2, 29), (true, 0, 31)]
    {
        let (body, _) = tiny_config()
            .init(&device)
            .load_hf(&tiny_weights())
            .unwrap();
        let head = BertClassifierConfig {
            pooling: BertPooling::Cls,
            d_output: 3,
            dropout: 0.0,
            freeze_body,
            freeze_layers,
            body_lr: None,
        };
        head.validate(&body).unwrap();
        let model = head.init(body, &device);
        let loss = model
            .forward(ids.clone(), Some(padding.clone()))
            .powf_scalar(2.0)
            .mean();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let body = common::gradient_census(model.body(), &grads);
        assert_eq!(
            (body.total, body.missing),
            (31, frozen),
            "{freeze_body} {freeze_layers}"
        );
        let all = common::gradient_census(&model, &grads);
        assert_eq!(all.missing, frozen, "the head always learns");
    }
    let (body, _) = tiny_config()
        .init(&device)
        .load_hf(&tiny_weights())
        .unwrap();
    let too_many = BertClassifierConfig {
        pooling: BertPooling::Mean,
        d_output: 2,
        dropout: 0.1,
        freeze_body: false,
        freeze_layers: 3,
        body_lr: None,
    };
    assert_eq!(
        too_many.validate(&body).unwrap_err().to_string(),
        "invalid `model.freeze_layers`: 3 is more than the checkpoint's 2 layers"
    );
}

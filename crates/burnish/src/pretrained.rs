//! Pretrained checkpoints: a Hugging Face `save_pretrained` folder (`config.json`,
//! `model.safetensors`, `tokenizer.json`) read from disk, the fine-tuned model built on it, and
//! what a run folder keeps so that `evaluate` and `predict` work without the checkpoint.
//!
//! The run folder keeps the checkpoint's `config.json` (as `pretrained_config.json`, which
//! sizes the model) and `tokenizer.json` (which encodes new text exactly as training did), and
//! `pretrained.json`: the folder's path and the SHA-256 of its three files. The fine-tuned
//! weights are the run's own `model.bpk`. No checkpoint is downloaded: the folder must exist.

use std::path::{Path, PathBuf};

use anyhow::Context;
use burn::tensor::Device;
use burnish_data::PretrainedTokenizer;
use burnish_models::{BertClassifierConfig, BertConfig, BertLoadReport, BertSpec, Model};

use crate::run_dir::RunDir;
use crate::train_command::sha256_hex;

/// The run folder's copy of the checkpoint's `config.json`.
pub const CONFIG_COPY: &str = "pretrained_config.json";
/// The run folder's copy of the checkpoint's `tokenizer.json`.
pub const TOKENIZER_COPY: &str = "tokenizer.json";
/// The run folder's record of which checkpoint the run started from.
pub const RECORD: &str = "pretrained.json";

const CONFIG: &str = "config.json";
const WEIGHTS: &str = "model.safetensors";
const TOKENIZER: &str = "tokenizer.json";

/// The checkpoint's tokenizer, cutting texts to `max_len` ids.
pub fn tokenizer(spec: &BertSpec, max_len: usize) -> anyhow::Result<PretrainedTokenizer> {
    let folder = checkpoint_folder(spec)?;
    Ok(PretrainedTokenizer::from_file(
        &folder.join(TOKENIZER),
        max_len,
    )?)
}

/// The tokenizer a finished run saved.
pub fn saved_tokenizer(run_dir: &RunDir, max_len: usize) -> anyhow::Result<PretrainedTokenizer> {
    Ok(PretrainedTokenizer::from_file(
        &run_dir.file(TOKENIZER_COPY),
        max_len,
    )?)
}

/// Loads the checkpoint of `spec` and puts a new head of `d_output` outputs on it, on `device`
/// (the autodiff device, to train), checking that it reads sequences of `max_len` ids.
pub fn build(
    spec: &BertSpec,
    max_len: usize,
    d_output: usize,
    device: &Device,
) -> anyhow::Result<(Model, BertLoadReport)> {
    let folder = checkpoint_folder(spec)?;
    let config = read_config(&folder.join(CONFIG))?;
    check_length(&config, max_len, &folder.join(CONFIG))?;
    let weights_path = folder.join(WEIGHTS);
    let weights = std::fs::read(&weights_path).map_err(|error| {
        let pytorch = folder.join("pytorch_model.bin");
        let sharded = folder.join("model.safetensors.index.json");
        if sharded.exists() {
            anyhow::anyhow!(
                "{}: a sharded checkpoint; burnish reads one model.safetensors file",
                folder.display()
            )
        } else if pytorch.exists() {
            anyhow::anyhow!(
                "{}: not found; the folder holds pytorch_model.bin, which burnish does not read: \
                 save it again with transformers' save_pretrained (safetensors is its default)",
                weights_path.display()
            )
        } else {
            anyhow::anyhow!("{}: cannot read: {error}", weights_path.display())
        }
    })?;
    let (body, report) = config
        .init(device)
        .load_hf(&weights)
        .map_err(|error| anyhow::anyhow!("{}: {error}", weights_path.display()))?;
    let head = head_config(spec, d_output);
    head.validate(&body)?;
    Ok((Model::Bert(head.init(body, device)), report))
}

/// The model a finished run trained, with fresh weights for `model.bpk` to replace: sized by
/// the run's copy of the checkpoint's config, so the checkpoint folder is not needed.
pub fn rebuild(
    run_dir: &RunDir,
    spec: &BertSpec,
    d_output: usize,
    device: &Device,
) -> anyhow::Result<Model> {
    let config = read_config(&run_dir.file(CONFIG_COPY))?;
    let body = config.init(device);
    let head = head_config(spec, d_output);
    head.validate(&body)?;
    Ok(Model::Bert(head.init(body, device)))
}

/// Writes into `run_dir` the copy of the checkpoint's config and the record of where it came
/// from (the tokenizer is saved with the run's encoding, `prepare::Encoding::save`).
pub fn record(run_dir: &RunDir, spec: &BertSpec) -> anyhow::Result<()> {
    let folder = checkpoint_folder(spec)?;
    let mut hashes = serde_json::Map::new();
    for name in [CONFIG, WEIGHTS, TOKENIZER] {
        hashes.insert(
            name.to_string(),
            serde_json::Value::String(sha256_hex(&folder.join(name))?),
        );
    }
    let record = serde_json::json!({
        "path": folder.display().to_string(),
        "sha256": hashes,
    });
    run_dir.write(RECORD, serde_json::to_string_pretty(&record)?.as_bytes())?;
    let config = folder.join(CONFIG);
    let bytes =
        std::fs::read(&config).with_context(|| format!("cannot read {}", config.display()))?;
    run_dir.write(CONFIG_COPY, &bytes)
}

fn head_config(spec: &BertSpec, d_output: usize) -> BertClassifierConfig {
    BertClassifierConfig {
        pooling: spec.pooling,
        d_output,
        dropout: spec.dropout,
        freeze_body: spec.freeze_body,
        freeze_layers: spec.freeze_layers,
        body_lr: spec.body_lr,
    }
}

/// The checkpoint folder, which must exist.
fn checkpoint_folder(spec: &BertSpec) -> anyhow::Result<PathBuf> {
    let folder = &spec.pretrained;
    anyhow::ensure!(
        folder.is_dir(),
        "{}: model.pretrained names no folder; point it at a Hugging Face checkpoint folder \
         (config.json, model.safetensors, tokenizer.json)",
        folder.display()
    );
    Ok(folder.clone())
}

fn read_config(path: &Path) -> anyhow::Result<BertConfig> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| anyhow::anyhow!("{}: cannot read: {error}", path.display()))?;
    BertConfig::from_hf_json(&text).map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))
}

fn check_length(config: &BertConfig, max_len: usize, path: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(
        max_len <= config.max_positions,
        "data.text.max_len = {max_len} is longer than the {} positions of the checkpoint ({})",
        config.max_positions,
        path.display()
    );
    Ok(())
}

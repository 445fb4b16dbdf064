//! Language models: `burnish train` on an experiment with `[data] language_model = {...}`,
//! and `burnish generate`. The text file becomes one stream of token ids; the model learns to
//! predict the next token at every position of non-overlapping windows of the first part of
//! the text, and the held-out end measures the validation loss, as nanoGPT holds out the last
//! 10% of its corpus.
//!
//! With `data.tokens`, the text was tokenized and split beforehand by `burnish prepare-text`:
//! the windows are read by position from its `train.bin` and `valid.bin`, so that memory does
//! not grow with the corpus, and they are the windows the text file would give, so a run
//! from the token files gives the same losses.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use burn::module::Module;
use burnish_backend::BackendKind;
use burnish_data::token_file::META_FILE;
use burnish_data::{
    TextEncoder, TextEncoderConfig, TokenFileMeta, TokenFileStream, TokenPart, TokenStreamDataset,
    VocabularyConfig,
};
use burnish_models::{GenerationConfig, InputShape, Model};
use burnish_train::{Examples, FitData, Objective};

use crate::Experiment;
use crate::experiment::LanguageModelSection;
use crate::prepare::TEXT_ENCODER_FILE;
use crate::run_dir::RunDir;
use crate::train_command::{Run, TrainOutcome, seeded_model};

/// The prompt's first characters when training prints a sample.
const SAMPLE_TOKENS: usize = 200;

/// Trains the run's language model and reports the held-out loss and a sample.
pub(crate) fn train(run: &Run<'_>, out: &mut dyn Write) -> anyhow::Result<TrainOutcome> {
    let experiment = &run.experiment;
    let section = section(experiment)?;
    let data = match experiment.data.tokens {
        Some(_) => from_token_files(&run.data_path, section)?,
        None => from_text_file(&run.data_path, section)?,
    };
    let encoder = &data.encoder;
    let vocab_size = encoder.vocabulary().len();
    writeln!(
        out,
        "{}: {} tokens of {} ({} to train, {} held out), vocabulary {vocab_size}, context {}, {} on {}",
        experiment.name,
        data.train_tokens + data.valid_tokens,
        run.data_path.display(),
        data.train_tokens,
        data.valid_tokens,
        section.context,
        experiment.model.kind(),
        run.backend,
    )?;

    let model = seeded_model(
        experiment,
        &input_shape(encoder, section),
        vocab_size,
        &run.device,
    )?;
    encoder.save_json(&run.run_dir()?.file(TEXT_ENCODER_FILE))?;
    let fitted = run.fit(
        model,
        FitData {
            train: data.train.as_ref(),
            valid: data.valid.as_ref(),
        },
        Objective::Classification {
            n_classes: vocab_size,
        },
        out,
    )?;
    if let Some(outcome) = run.follower_outcome() {
        return Ok(outcome);
    }
    let model = run.save_fitted(&fitted)?;

    let valid_loss = fitted
        .history
        .records()
        .iter()
        .find(|record| record.epoch == fitted.weights_epoch)
        .and_then(|record| record.values.get("valid_loss").copied())
        .context("the history has no validation loss for the kept weights")?;
    let report = format!(
        "held-out loss {valid_loss:.4} (perplexity {:.2}) over {} tokens, weights of epoch {}\n",
        valid_loss.exp(),
        data.valid_tokens,
        fitted.weights_epoch
    );
    run.run_dir()?.write("report.txt", &report)?;
    let metrics = serde_json::json!({
        "valid_loss": valid_loss,
        "perplexity": valid_loss.exp(),
        "valid_tokens": data.valid_tokens,
        "vocab_size": vocab_size,
    });
    run.run_dir()?
        .write("metrics.json", serde_json::to_string_pretty(&metrics)?)?;
    writeln!(out, "\n{report}")?;
    if let Model::Gpt(gpt) = &model {
        let sample = gpt.generate(
            &data.prompt,
            &GenerationConfig {
                max_new_tokens: SAMPLE_TOKENS,
                temperature: 1.0,
                top_k: None,
                seed: experiment.seed,
            },
            &run.device,
            true,
        );
        writeln!(
            out,
            "sample ({SAMPLE_TOKENS} tokens, temperature 1):\n{}{}\n",
            encoder.decode(&data.prompt),
            encoder.decode(&sample)
        )?;
    }
    run.finish(&fitted, out)?;
    Ok(TrainOutcome {
        run_dir: run.run_dir()?.path().to_path_buf(),
        report,
        test_score: valid_loss,
    })
}

/// The experiment's `[data] language_model` table, checked.
fn section(experiment: &Experiment) -> anyhow::Result<&LanguageModelSection> {
    let section = experiment
        .data
        .language_model
        .as_ref()
        .context("the experiment has no `[data] language_model` table")?;
    if let Some(valid) = section.valid {
        anyhow::ensure!(
            valid > 0.0 && valid < 1.0,
            "invalid `data.language_model.valid`: the held-out share must be between 0 and 1, \
             found {valid}"
        );
    }
    anyhow::ensure!(
        section.context > 0,
        "invalid `data.language_model.context`: must be at least 1"
    );
    Ok(section)
}

/// A language model's data: the encoder, the windows to train on and the held-out ones.
struct LmData {
    encoder: TextEncoder,
    train: Box<dyn Examples>,
    valid: Box<dyn Examples>,
    train_tokens: u64,
    valid_tokens: u64,
    /// The start of the held-out part, which the sample printed after training continues.
    prompt: Vec<usize>,
}

/// Reads the whole text file, cuts off the held-out tail, fits the vocabulary on the rest and
/// holds both parts' ids in memory.
fn from_text_file(path: &Path, section: &LanguageModelSection) -> anyhow::Result<LmData> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the text file {}", path.display()))?;
    let (train_text, valid_text) = split_text(&text, section.valid_or_default());
    let encoder = TextEncoder::fit(
        [train_text],
        &TextEncoderConfig {
            tokenizer: section.tokenizer_or_default(),
            vocabulary: VocabularyConfig::default(),
            max_len: section.context,
            ..TextEncoderConfig::default()
        },
    )
    .context("data.language_model")?;
    let stream = |part: &str, name: &str| -> anyhow::Result<TokenStreamDataset> {
        let ids = encoder.encode(part)?;
        TokenStreamDataset::new(&ids, section.context).with_context(|| {
            format!(
                "{}: the {name} part has {} tokens, too few for one window of \
                 data.language_model.context = {}",
                path.display(),
                ids.len(),
                section.context
            )
        })
    };
    let train = stream(train_text, "training")?;
    let valid = stream(valid_text, "held-out")?;
    let prompt = encoder.encode(&valid_text[..valid_text.floor_char_boundary(1)])?;
    Ok(LmData {
        train_tokens: train.ids().len() as u64,
        valid_tokens: valid.ids().len() as u64,
        train: Box::new(train),
        valid: Box::new(valid),
        encoder,
        prompt,
    })
}

/// Opens the token files of `dir` (written by `burnish prepare-text`): the vocabulary and the
/// tokenizer come from its `meta.json`, and batches are read from `train.bin` and `valid.bin`
/// by position, so the corpus is never held in memory.
fn from_token_files(dir: &Path, section: &LanguageModelSection) -> anyhow::Result<LmData> {
    anyhow::ensure!(
        dir.join(META_FILE).exists(),
        "data.tokens = {0}: no {META_FILE} there; write the token files with \
         `burnish prepare-text CORPUS -o {0}`",
        dir.display()
    );
    let meta =
        TokenFileMeta::load(dir).with_context(|| format!("data.tokens = {}", dir.display()))?;
    let train = TokenFileStream::open(dir, TokenPart::Train, &meta, section.context)?;
    let valid = TokenFileStream::open(dir, TokenPart::Valid, &meta, section.context)?;
    let encoder = TextEncoder::with_vocabulary(
        meta.vocabulary,
        &TextEncoderConfig {
            tokenizer: meta.tokenizer,
            vocabulary: VocabularyConfig::default(),
            max_len: section.context,
            ..TextEncoderConfig::default()
        },
    )
    .context("data.language_model")?;
    let (mut prompt, mut targets) = (Vec::new(), Vec::new());
    valid.read_window(0, &mut prompt, &mut targets)?;
    Ok(LmData {
        encoder,
        train_tokens: train.n_ids(),
        valid_tokens: valid.n_ids(),
        train: Box::new(train),
        valid: Box::new(valid),
        prompt: vec![prompt[0] as usize],
    })
}

/// The text cut at the character where the last `held_out` share begins.
fn split_text(text: &str, held_out: f64) -> (&str, &str) {
    let n_chars = text.chars().count();
    let train_chars = ((1.0 - held_out) * n_chars as f64).round() as usize;
    let cut = text
        .char_indices()
        .nth(train_chars)
        .map_or(text.len(), |(byte, _)| byte);
    text.split_at(cut)
}

fn input_shape(encoder: &TextEncoder, section: &LanguageModelSection) -> InputShape {
    InputShape::Tokens {
        vocab_size: encoder.vocabulary().len(),
        max_len: section.context,
    }
}

/// What `burnish generate` was asked to do.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// A run folder of a language model.
    pub run: PathBuf,
    /// The text to continue.
    pub prompt: String,
    /// How to sample.
    pub sampling: GenerationConfig,
    /// A backend that overrides the run's.
    pub backend: Option<BackendKind>,
}

/// Continues `options.prompt` with the run's language model and writes prompt and
/// continuation to `out`; returns the continuation.
pub fn generate(options: &GenerateOptions, out: &mut dyn Write) -> anyhow::Result<String> {
    let run_dir = RunDir::open(&options.run)?;
    let experiment = Experiment::load(&run_dir.file("config.toml"))?;
    anyhow::ensure!(
        experiment.data.language_model.is_some(),
        "{} is not a language model's run: `generate` needs an experiment with \
         `[data] language_model`",
        options.run.display()
    );
    let section = section(&experiment)?;
    options
        .sampling
        .validate()
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let encoder = TextEncoder::load_json(&run_dir.file(TEXT_ENCODER_FILE))?;
    let prompt = encoder.encode(&options.prompt)?;
    anyhow::ensure!(
        !prompt.is_empty(),
        "--prompt is empty: give the text to continue"
    );
    let device = options.backend.unwrap_or(experiment.backend).open()?;
    let model = load_model(
        &experiment,
        &encoder,
        section,
        &run_dir.file("model.bpk"),
        &device,
    )?;
    let Model::Gpt(gpt) = model else {
        anyhow::bail!(
            "`generate` needs a gpt model; this run's model is {}",
            experiment.model.kind()
        );
    };
    let continuation = encoder.decode(&gpt.generate(&prompt, &options.sampling, &device, true));
    writeln!(out, "{}{continuation}", options.prompt)?;
    Ok(continuation)
}

fn load_model(
    experiment: &Experiment,
    encoder: &TextEncoder,
    section: &LanguageModelSection,
    weights: &Path,
    device: &burn::tensor::Device,
) -> anyhow::Result<Model> {
    let model = experiment.model.build_for(
        &input_shape(encoder, section),
        encoder.vocabulary().len(),
        device,
    )?;
    model
        .try_load_file(weights)
        .map_err(|error| anyhow::anyhow!("{error:?}"))
        .with_context(|| format!("cannot load the weights {}", weights.display()))
}

//! Times a pretrained BERT on flex: one forward pass (inference) and one training step
//! (forward, cross-entropy, backward, AdamW with the body at its own rate) on a batch of 32
//! sequences of 64 token ids, the shape of the movie_reviews fine-tuning. Prints the median
//! and the fastest of the timed repetitions, after two untimed ones.
//!
//! Usage: `bert_step [CHECKPOINT_DIR] [REPETITIONS]` (default `target/hf/all-MiniLM-L6-v2`,
//! which `cargo xtask fetch-minilm` brings, and 10). Threads: `RAYON_NUM_THREADS`.
//! `benches/python/bert_peer.py` times the same work with PyTorch.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, Result};
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, Int, Tensor, TensorData};
use burnish_backend::BackendKind;
use burnish_models::{BertClassifierConfig, BertConfig, BertPooling, Model, ModelInput};
use burnish_train::take_gradients_of;

// As the `burnish` binary: mimalloc, keeping freed memory for the next step.
#[global_allocator]
static ALLOCATOR: burnish_backend::allocator::Allocator = burnish_backend::allocator::Allocator;

const BATCH: usize = 32;
const TIME: usize = 64;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    burnish_backend::allocator::retain_freed_memory();
    let mut args = std::env::args_os().skip(1);
    let dir = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/hf/all-MiniLM-L6-v2"));
    let repetitions: usize = match args.next() {
        Some(text) => text.to_string_lossy().parse().context("REPETITIONS")?,
        None => 10,
    };
    let config_path = dir.join("config.json");
    let config = BertConfig::from_hf_json(
        &std::fs::read_to_string(&config_path)
            .with_context(|| format!("cannot read {}", config_path.display()))?,
    )?;
    let weights_path = dir.join("model.safetensors");
    let weights = std::fs::read(&weights_path)
        .with_context(|| format!("cannot read {}", weights_path.display()))?;
    let device = BackendKind::Flex.open()?;
    let autodiff = device.clone().autodiff();
    let (body, _) = config.init(&autodiff).load_hf(&weights)?;
    let head = BertClassifierConfig {
        pooling: BertPooling::Mean,
        d_output: 2,
        dropout: 0.1,
        freeze_body: false,
        freeze_layers: 0,
        body_lr: Some(5e-5),
    };
    let mut model = Model::Bert(head.init(body, &autodiff));
    let ids = |device: &Device| {
        // Fixed pseudo-random ids past the special tokens, no padding.
        let values: Vec<i64> = (0..BATCH * TIME)
            .map(|index| 1000 + ((index * 7919 + 13) % 20_000) as i64)
            .collect();
        Tensor::<2, Int>::from_data(TensorData::new(values, [BATCH, TIME]), device)
    };
    let targets = Tensor::<1, Int>::from_data(
        TensorData::new(
            (0..BATCH as i64).map(|i| i % 2).collect::<Vec<_>>(),
            [BATCH],
        ),
        &autodiff,
    );
    let loss_fn = CrossEntropyLossConfig::new().init(&autodiff);
    let mut optimizer = AdamWConfig::new().init();

    let inference = model.valid();
    let forward = time(repetitions, || {
        let logits = inference.forward(ModelInput::Tokens {
            ids: ids(&device),
            padding: None,
        });
        let _ = logits.into_data();
    });
    let step = time(repetitions, || {
        let logits = model.forward(ModelInput::Tokens {
            ids: ids(&autodiff),
            padding: None,
        });
        let loss = loss_fn.forward(logits, targets.clone());
        let mut grads = GradientsParams::from_grads(loss.backward(), &model);
        let (body, _) = model.body_with_own_lr().expect("built with a body rate");
        let body_grads = take_gradients_of(body, &mut grads);
        let stepped = optimizer.step(5e-5, model.clone(), body_grads);
        model = optimizer.step(1e-3, stepped, grads);
    });
    println!(
        "{} ({} layers, width {}), batch {BATCH} x {TIME} tokens, flex, {} threads",
        dir.display(),
        config.n_layers,
        config.d_model,
        rayon_threads()
    );
    println!(
        "forward pass (inference): median {:.1} ms, fastest {:.1} ms",
        forward.0, forward.1
    );
    println!(
        "training step: median {:.1} ms, fastest {:.1} ms",
        step.0, step.1
    );
    Ok(())
}

/// The median and the fastest of `repetitions` timed runs of `work`, in milliseconds, after
/// two untimed ones.
fn time(repetitions: usize, mut work: impl FnMut()) -> (f64, f64) {
    work();
    work();
    let mut times: Vec<f64> = (0..repetitions.max(1))
        .map(|_| {
            let start = Instant::now();
            work();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], times[0])
}

fn rayon_threads() -> String {
    std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all".to_string())
}

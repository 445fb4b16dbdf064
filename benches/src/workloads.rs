//! The five standard workloads of shared/bench/WORKLOADS.md, built from the model zoo: each
//! one Adam step (lr 1e-3, cross-entropy) on a fixed, seeded batch, measured as train samples
//! per second over steady-state steps and as infer samples per second of the inference copy's
//! forward pass, as `torch_peer.py` measures PyTorch.

use std::time::{Duration, Instant};

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Int, Tensor, TensorData};
use burnish_models::{
    GptSpec, InputShape, MlpSpec, Model, ModelInput, ModelSpec, RecurrentSpec, TransformerPooling,
    TransformerSpec,
};

/// The workloads, in the peer's order.
pub const WORKLOADS: [&str; 5] = ["mlp", "lstm", "gru", "transformer", "gpt"];

/// A seeded stream of pseudo-random numbers in `[0, 1)` (a 64-bit LCG, Knuth's constants).
pub fn uniform(seed: u64) -> impl FnMut() -> f64 {
    let mut state = seed;
    move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What a workload's model reads, as numbers, so that it can be put on either device.
enum Inputs {
    Features {
        rows: usize,
        cols: usize,
        values: Vec<f32>,
    },
    Tokens {
        rows: usize,
        len: usize,
        ids: Vec<i64>,
    },
}

impl Inputs {
    fn on(&self, device: &Device) -> ModelInput {
        match self {
            Self::Features { rows, cols, values } => ModelInput::Features(Tensor::from_data(
                TensorData::new(values.clone(), [*rows, *cols]),
                device,
            )),
            Self::Tokens { rows, len, ids } => ModelInput::Tokens {
                ids: Tensor::from_data(TensorData::new(ids.clone(), [*rows, *len]), device),
                padding: None,
            },
        }
    }
}

/// A built workload: the model on the autodiff device with its Adam state, and its batch.
pub struct Workload {
    model: Option<Model>,
    optimizer: burn::optim::ModuleOptimizer,
    inputs: Inputs,
    targets: Vec<i64>,
    batch: usize,
}

fn tokens(rows: usize, len: usize, vocab: usize, next: &mut impl FnMut() -> f64) -> Inputs {
    let ids = (0..rows * len)
        .map(|_| (next() * vocab as f64) as i64)
        .collect();
    Inputs::Tokens { rows, len, ids }
}

fn classes(n: usize, n_classes: usize, next: &mut impl FnMut() -> f64) -> Vec<i64> {
    (0..n).map(|_| (next() * n_classes as f64) as i64).collect()
}

/// Builds workload `name` (one of [`WORKLOADS`]) on `device`, seeded.
pub fn build(name: &str, device: &Device) -> anyhow::Result<Workload> {
    let autodiff = device.clone().autodiff();
    burnish_backend::seed(device, 0);
    let mut next = uniform(0);
    let recurrent = RecurrentSpec {
        d_embedding: 128,
        d_hidden: 128,
        n_layers: 1,
        bidirectional: false,
        dropout: 0.0,
        ..RecurrentSpec::default()
    };
    let token_shape = |vocab_size, max_len| InputShape::Tokens {
        vocab_size,
        max_len,
    };
    let workload = match name {
        "mlp" => Workload {
            model: Some(
                ModelSpec::Mlp(MlpSpec {
                    hidden: vec![256, 256],
                    ..MlpSpec::default()
                })
                .build(64, 10, &autodiff)?,
            ),
            optimizer: adam(),
            inputs: Inputs::Features {
                rows: 64,
                cols: 64,
                values: (0..64 * 64).map(|_| next() as f32 * 2.0 - 1.0).collect(),
            },
            targets: classes(64, 10, &mut next),
            batch: 64,
        },
        "lstm" | "gru" => {
            let spec = if name == "lstm" {
                ModelSpec::Lstm(recurrent)
            } else {
                ModelSpec::Gru(recurrent)
            };
            Workload {
                model: Some(spec.build_for(&token_shape(5000, 64), 2, &autodiff)?),
                optimizer: adam(),
                inputs: tokens(32, 64, 5000, &mut next),
                targets: classes(32, 2, &mut next),
                batch: 32,
            }
        }
        "transformer" => Workload {
            model: Some(
                ModelSpec::Transformer(TransformerSpec {
                    dropout: 0.0,
                    norm_first: false,
                    pooling: TransformerPooling::Mean,
                    ..TransformerSpec::default()
                })
                .build_for(&token_shape(5000, 128), 2, &autodiff)?,
            ),
            optimizer: adam(),
            inputs: tokens(32, 128, 5000, &mut next),
            targets: classes(32, 2, &mut next),
            batch: 32,
        },
        "gpt" => Workload {
            model: Some(ModelSpec::Gpt(GptSpec::default()).build_for(
                &token_shape(65, 64),
                65,
                &autodiff,
            )?),
            optimizer: adam(),
            inputs: tokens(12, 64, 65, &mut next),
            // The next token at every position: the loss is over all 12 x 64 of them.
            targets: classes(12 * 64, 65, &mut next),
            batch: 12,
        },
        other => anyhow::bail!(
            "unknown workload `{other}`; the workloads are {}",
            WORKLOADS.join(", ")
        ),
    };
    Ok(workload)
}

/// Adam with PyTorch's defaults.
fn adam() -> burn::optim::ModuleOptimizer {
    AdamConfig::new().with_epsilon(1e-8).init()
}

impl Workload {
    /// The examples of one step.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// The number of trainable values in the model: what one gradient all-reduce adds up.
    pub fn parameters(&self) -> usize {
        self.model.as_ref().map_or(0, Module::num_params)
    }

    /// Runs `steps` training steps (forward, cross-entropy, backward, Adam step) on `device`
    /// and returns the time they took, the device's queued work included.
    pub fn train(&mut self, steps: u64, device: &Device) -> Duration {
        let autodiff = device.clone().autodiff();
        let loss_fn = CrossEntropyLossConfig::new().init(&autodiff);
        let targets = Tensor::<1, Int>::from_data(
            TensorData::new(self.targets.clone(), [self.targets.len()]),
            &autodiff,
        );
        let inputs = self.inputs.on(&autodiff);
        let mut model = self
            .model
            .take()
            .expect("the model is put back after every run");
        let started = Instant::now();
        for _ in 0..steps {
            let loss = loss_fn.forward(model.forward(inputs.clone()), targets.clone());
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = self.optimizer.step(1e-3, model, grads);
        }
        // Backends that queue work return before it is done: reading a result waits for it.
        wait_for(model.clone().valid().forward(self.inputs.on(device)));
        let elapsed = started.elapsed();
        self.model = Some(model);
        elapsed
    }

    /// Runs `steps` forward passes of the inference copy and returns the time they took.
    pub fn infer(&self, steps: u64, device: &Device) -> Duration {
        let model = self.model.as_ref().expect("a model").valid();
        let inputs = self.inputs.on(device);
        let started = Instant::now();
        let mut last = None;
        for _ in 0..steps {
            last = Some(model.forward(inputs.clone()));
        }
        if let Some(outputs) = last {
            wait_for(outputs);
        }
        started.elapsed()
    }
}

/// Blocks until `outputs` is computed.
fn wait_for(outputs: Tensor<2>) {
    let _ = outputs.sum().into_scalar::<f32>();
}

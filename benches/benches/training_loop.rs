//! What `burnish_train::fit` costs over a bare Burn loop on the mlp and transformer workloads
//! of shared/bench/WORKLOADS.md (Issue 6: at most 3%).
//!
//! Both sides run the same model, data, batches and Adam optimizer for one epoch of
//! [`BATCHES`] steps: the bare loop is forward, cross-entropy, backward and optimizer step and
//! nothing else; `fit` adds what a user gets from it (the loss read back for the history and
//! the non-finite check, the schedule, the epoch record, and a validation pass over one row).
//! Run it with `cargo bench -p burnish-benches --bench training_loop`; compare the two lines of
//! each workload, measured side by side in one run.
//!
//! `token_batches` weighs what a language model's batches cost to read (issue 28): batches of
//! [`LM_BATCH`] random windows of [`LM_CONTEXT`] ids of tiny_shakespeare, as its experiment
//! draws them, read from its token files (`pread`, the page cache warm) and cut from the same
//! ids in memory, each handed over as tensors on the flex device.

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::Device;
use burnish_backend::BackendKind;
use burnish_benches::bench_data_dir;
use burnish_benches::workloads::uniform;
use burnish_data::token_file::TRAIN_FILE;
use burnish_data::{
    BatchTargets, Features, PrepareTextConfig, TabularDataset, Targets, TextDataset, TokenFileMeta,
    TokenFileStream, TokenPart, TokenStreamDataset, Truncation, prepare_text,
};
use burnish_models::{InputShape, MlpSpec, Model, ModelSpec, TransformerPooling, TransformerSpec};
use burnish_train::{Examples, FitData, Objective, OptimizerSpec, TrainConfig, fit};
use criterion::{BatchSize, Criterion};

/// Optimizer steps per measured epoch.
const BATCHES: usize = 8;

/// Windows per language-model batch, as experiments/tiny_shakespeare.toml.
const LM_BATCH: usize = 12;
/// Ids per window.
const LM_CONTEXT: usize = 64;
/// Batches per measured iteration of `token_batches`.
const LM_BATCHES: usize = 128;

/// The allocator the `burnish` binary runs on, so that the figures are the binary's.
#[global_allocator]
static ALLOCATOR: burnish_backend::allocator::Allocator = burnish_backend::allocator::Allocator;

fn features(n_rows: usize, n_cols: usize, n_classes: usize, seed: u64) -> TabularDataset {
    let mut next = uniform(seed);
    let values = (0..n_rows * n_cols)
        .map(|_| next() as f32 * 2.0 - 1.0)
        .collect();
    let classes = (0..n_rows)
        .map(|_| (next() * n_classes as f64) as usize)
        .collect();
    TabularDataset::new(
        Features {
            n_rows,
            n_cols,
            values,
        },
        Targets::Classes(classes),
    )
}

fn token_rows(n_rows: usize, len: usize, vocab: usize, seed: u64) -> TextDataset {
    let mut next = uniform(seed);
    let rows: Vec<Vec<usize>> = (0..n_rows)
        .map(|_| (0..len).map(|_| (next() * vocab as f64) as usize).collect())
        .collect();
    let classes = (0..n_rows).map(|_| (next() * 2.0) as usize).collect();
    TextDataset::from_sequences(&rows, len, Truncation::Tail, Targets::Classes(classes))
}

/// One epoch of forward, loss, backward and Adam step over `train` in order, nothing else.
fn bare_epoch(model: Model, train: &dyn Examples, batch_size: usize, device: &Device) -> Model {
    let autodiff = device.clone().autodiff();
    let loss_fn = CrossEntropyLossConfig::new().init(&autodiff);
    let mut optimizer = AdamConfig::new().with_epsilon(1e-8).init();
    let mut model = model;
    let rows: Vec<usize> = (0..train.n_examples()).collect();
    for batch_rows in rows.chunks(batch_size) {
        let batch = train
            .batch(batch_rows, &autodiff)
            .expect("the workloads are held in memory");
        let BatchTargets::Classes(targets) = batch.targets else {
            unreachable!("the workloads are classifiers")
        };
        let loss = loss_fn.forward(model.forward(batch.inputs), targets);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(1e-3, model, grads);
    }
    model
}

fn fit_epoch(
    model: Model,
    train: &dyn Examples,
    valid: &dyn Examples,
    n_classes: usize,
    batch_size: usize,
    device: &Device,
) -> Model {
    let config = TrainConfig {
        epochs: 1,
        batch_size,
        optimizer: OptimizerSpec::Adam {
            lr: 1e-3,
            weight_decay: 0.0,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-8,
        },
        ..TrainConfig::default()
    };
    fit(
        model,
        FitData { train, valid },
        Objective::Classification { n_classes },
        &config,
        0,
        device,
        &mut [],
    )
    .expect("the workload trains")
    .model
}

fn compare(
    criterion: &mut Criterion,
    name: &str,
    model: &Model,
    (train, valid): (&dyn Examples, &dyn Examples),
    n_classes: usize,
    batch_size: usize,
    device: &Device,
) {
    let mut group = criterion.benchmark_group(format!("training_loop/{name}"));
    group.sample_size(20);
    group.bench_function("bare", |bencher| {
        bencher.iter_batched(
            || model.clone(),
            |model| bare_epoch(model, train, batch_size, device).valid(),
            BatchSize::LargeInput,
        );
    });
    group.bench_function("fit", |bencher| {
        bencher.iter_batched(
            || model.clone(),
            |model| fit_epoch(model, train, valid, n_classes, batch_size, device).valid(),
            BatchSize::LargeInput,
        );
    });
    group.finish();
}

fn training_loop(criterion: &mut Criterion) {
    let device = BackendKind::Flex
        .open()
        .expect("flex is always compiled in");
    let autodiff = device.clone().autodiff();
    burnish_backend::seed(&device, 0);

    let mlp = ModelSpec::Mlp(MlpSpec {
        hidden: vec![256, 256],
        ..MlpSpec::default()
    })
    .build(64, 10, &autodiff)
    .expect("a valid mlp");
    let (train, valid) = (features(64 * BATCHES, 64, 10, 1), features(1, 64, 10, 2));
    compare(criterion, "mlp", &mlp, (&train, &valid), 10, 64, &device);

    let transformer = ModelSpec::Transformer(TransformerSpec {
        dropout: 0.0,
        pooling: TransformerPooling::Mean,
        ..TransformerSpec::default()
    })
    .build_for(
        &InputShape::Tokens {
            vocab_size: 5000,
            max_len: 128,
        },
        2,
        &autodiff,
    )
    .expect("a valid transformer");
    let (train, valid) = (
        token_rows(32 * BATCHES, 128, 5000, 3),
        token_rows(1, 128, 5000, 4),
    );
    compare(
        criterion,
        "transformer",
        &transformer,
        (&train, &valid),
        2,
        32,
        &device,
    );
}

/// Reads [`LM_BATCHES`] batches of `rows` from `examples`.
fn read_batches(examples: &dyn Examples, rows: &[Vec<usize>], device: &Device) {
    for batch_rows in rows {
        let batch = examples
            .batch(batch_rows, device)
            .expect("the token files are readable");
        std::hint::black_box(batch);
    }
}

fn token_batches(criterion: &mut Criterion) {
    let device = BackendKind::Flex
        .open()
        .expect("flex is always compiled in");
    let dir = bench_data_dir().join("tiny_shakespeare_tokens");
    let meta = match TokenFileMeta::load(&dir) {
        Ok(meta) => meta,
        Err(_) => prepare_text(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../datasets/tiny_shakespeare.txt"),
            &dir,
            &PrepareTextConfig::default(),
            &mut |_, _| {},
        )
        .expect("tiny_shakespeare is tokenized"),
    };
    let from_files = TokenFileStream::open(&dir, TokenPart::Train, &meta, LM_CONTEXT)
        .expect("the token files open");
    let ids: Vec<usize> = std::fs::read(dir.join(TRAIN_FILE))
        .expect("train.bin is readable")
        .chunks_exact(2)
        .map(|id| usize::from(u16::from_le_bytes([id[0], id[1]])))
        .collect();
    let in_memory = TokenStreamDataset::new(&ids, LM_CONTEXT).expect("enough ids");
    let mut next = uniform(5);
    let n_examples = from_files.n_examples();
    let rows: Vec<Vec<usize>> = (0..LM_BATCHES)
        .map(|_| {
            (0..LM_BATCH)
                .map(|_| (next() * n_examples as f64) as usize)
                .collect()
        })
        .collect();

    let mut group = criterion.benchmark_group("token_batches");
    group.sample_size(20);
    group.bench_function("files", |bencher| {
        bencher.iter(|| read_batches(&from_files, &rows, &device));
    });
    group.bench_function("memory", |bencher| {
        bencher.iter(|| read_batches(&in_memory, &rows, &device));
    });
    group.finish();
}

fn main() {
    burnish_backend::allocator::retain_freed_memory();
    let mut criterion = Criterion::default().configure_from_args();
    training_loop(&mut criterion);
    token_batches(&mut criterion);
    criterion.final_summary();
}

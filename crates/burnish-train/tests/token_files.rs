//! Training a language model from token files on disk: the same batches, and so the same
//! history, as from the ids held in memory; and a file that changes under a run stops it with
//! an error naming the file and a checkpoint of the run so far.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use burn::tensor::Device;
use burnish_backend::BackendKind;
use burnish_data::token_file::{TRAIN_FILE, VALID_FILE};
use burnish_data::{
    PrepareTextConfig, TokenFileMeta, TokenFileStream, TokenPart, TokenStreamDataset, prepare_text,
};
use burnish_models::{GptSpec, InputShape, Model, ModelSpec};
use burnish_train::{
    BatchProgress, Callback, Checkpoint, Error, Examples, FitData, FitOptions, Objective,
    TrainConfig, fit_with,
};

const CONTEXT: usize = 8;

/// Both tests draw from the process's one random-number generator (see `common/mod.rs`).
static RANDOM_NUMBERS: Mutex<()> = Mutex::new(());

/// Writes a small corpus and its token files under `folder`; returns their meta.
fn write_token_files(folder: &Path) -> TokenFileMeta {
    let corpus = folder.join("corpus.txt");
    let mut text = String::new();
    for line in 0..60 {
        text.push_str(&format!(
            "line {line}: the quick brown fox {} over the lazy dog.\n",
            ["jumps", "leaps", "hops"][line % 3]
        ));
    }
    fs::write(&corpus, text).unwrap();
    prepare_text(
        &corpus,
        &folder.join("tokens"),
        &PrepareTextConfig::default(),
        &mut |_, _| {},
    )
    .unwrap()
}

/// The ids of one `.bin` file of 2-byte ids.
fn ids_of(path: &Path) -> Vec<usize> {
    fs::read(path)
        .unwrap()
        .chunks_exact(2)
        .map(|id| usize::from(u16::from_le_bytes([id[0], id[1]])))
        .collect()
}

fn model(vocab_size: usize, device: &Device) -> Model {
    device.seed(5);
    ModelSpec::Gpt(GptSpec {
        n_layers: 1,
        n_heads: 2,
        d_model: 16,
        d_ff: 32,
        dropout: 0.1,
    })
    .build_for(
        &InputShape::Tokens {
            vocab_size,
            max_len: CONTEXT,
        },
        vocab_size,
        &device.clone().autodiff(),
    )
    .unwrap()
}

fn config() -> TrainConfig {
    TrainConfig {
        epochs: 2,
        batch_size: 4,
        ..TrainConfig::default()
    }
}

fn train(
    train: &dyn Examples,
    valid: &dyn Examples,
    vocab_size: usize,
    checkpoints: Option<&Path>,
    callbacks: &mut [&mut dyn Callback],
) -> Result<burnish_train::Fitted, Error> {
    let device = BackendKind::Flex.open().unwrap();
    fit_with(
        model(vocab_size, &device),
        FitData { train, valid },
        Objective::Classification {
            n_classes: vocab_size,
        },
        &config(),
        &FitOptions {
            seed: 9,
            checkpoints,
            resume: None,
            interrupt: None,
            devices: &[],
            group: None,
        },
        &device,
        callbacks,
    )
}

/// A folder holding a small corpus's token files in `tokens/`, its meta, and that folder.
fn token_files() -> (tempfile::TempDir, TokenFileMeta, PathBuf) {
    let folder = tempfile::tempdir().unwrap();
    let meta = write_token_files(folder.path());
    let dir = folder.path().join("tokens");
    (folder, meta, dir)
}

#[test]
fn token_files_train_exactly_as_the_same_ids_in_memory() {
    let _random_numbers = RANDOM_NUMBERS
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let (_folder, meta, dir) = token_files();
    let vocab_size = meta.vocabulary.len();
    let on_disk = (
        TokenFileStream::open(&dir, TokenPart::Train, &meta, CONTEXT).unwrap(),
        TokenFileStream::open(&dir, TokenPart::Valid, &meta, CONTEXT).unwrap(),
    );
    let in_memory = (
        TokenStreamDataset::new(&ids_of(&dir.join(TRAIN_FILE)), CONTEXT).unwrap(),
        TokenStreamDataset::new(&ids_of(&dir.join(VALID_FILE)), CONTEXT).unwrap(),
    );
    assert_eq!(on_disk.0.n_examples(), in_memory.0.n_examples());
    assert_eq!(on_disk.1.n_examples(), in_memory.1.n_examples());
    assert!(on_disk.0.n_examples() > 3 * config().batch_size);

    let from_files = train(&on_disk.0, &on_disk.1, vocab_size, None, &mut []).unwrap();
    let from_memory = train(&in_memory.0, &in_memory.1, vocab_size, None, &mut []).unwrap();
    assert_eq!(from_files.history, from_memory.history);
    assert_eq!(from_files.history.records().len(), 2);
}

/// Appends an id to `train.bin` once the given batch of the first epoch is done.
struct GrowTheFile<'a> {
    path: &'a Path,
    after_batch: usize,
}

impl Callback for GrowTheFile<'_> {
    fn on_batch_end(&mut self, progress: &BatchProgress) {
        if progress.epoch == 1 && progress.batch == self.after_batch {
            let mut bytes = fs::read(self.path).unwrap();
            bytes.extend_from_slice(&[1, 0]);
            fs::write(self.path, bytes).unwrap();
        }
    }
}

#[test]
fn a_token_file_that_changes_stops_training_naming_it_and_keeps_a_checkpoint() {
    let _random_numbers = RANDOM_NUMBERS
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let (folder, meta, dir) = token_files();
    let train_part = TokenFileStream::open(&dir, TokenPart::Train, &meta, CONTEXT).unwrap();
    let valid_part = TokenFileStream::open(&dir, TokenPart::Valid, &meta, CONTEXT).unwrap();
    let checkpoints = folder.path().join("checkpoints");
    let train_bin = dir.join(TRAIN_FILE);
    let mut grow = GrowTheFile {
        path: &train_bin,
        after_batch: 2,
    };
    let error = train(
        &train_part,
        &valid_part,
        meta.vocabulary.len(),
        Some(&checkpoints),
        &mut [&mut grow],
    )
    .unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, Error::Data { .. }), "{message}");
    assert!(message.contains("train.bin"), "{message}");
    assert!(message.contains("changed"), "{message}");
    assert!(message.contains("holds the run so far"), "{message}");
    // Written after the second batch of the first epoch, before the failed third.
    let checkpoint = Checkpoint::latest(&checkpoints).unwrap().unwrap();
    assert_eq!(checkpoint.epochs_done(), 0);
    assert!(
        message.contains(&checkpoint.dir().display().to_string()),
        "{message}"
    );
}

//! Checkpoints: everything a run needs to go on after an interruption exactly as if it had
//! never stopped.
//!
//! A checkpoint is a folder `ckpt-<batches>` (the number of training batches run so far, so
//! later checkpoints sort last) holding the weights (`model.bpk`), the optimizer's state
//! (`optimizer.bpk`), the best epoch's weights (`best.bpk`, when early stopping has one) and
//! the loop's own state (`state.json`: epoch, step, history, early-stopping and plateau
//! counters). It is written under a temporary name and renamed into place, so a process killed
//! while writing leaves the previous checkpoint whole; only the newest checkpoints are kept.
//!
//! The data order of an epoch and the random numbers of a batch depend only on the seed, the
//! epoch and the batch, so nothing random needs saving.

use std::fs;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burnish_metrics::EpochRecord;
use burnish_models::Model;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::early_stopping::EarlyStopping;
use crate::plateau::ReduceOnPlateau;

/// How many checkpoints stay on disk; older ones are removed after a new one is complete.
const KEEP: usize = 2;

/// The loop's position and counters, as saved in `state.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LoopState {
    /// Epochs completed.
    pub epochs_done: usize,
    /// Batches of epoch `epochs_done + 1` already trained (non-zero only after an interrupt).
    pub batches_done: usize,
    /// Training batches run in all; names the checkpoint.
    pub total_batches: usize,
    /// Optimizer steps taken.
    pub step: usize,
    /// The running training-loss sum and prediction count of a partly trained epoch.
    pub partial_loss_sum: f64,
    /// See `partial_loss_sum`.
    pub partial_predictions: usize,
    /// The learning rate of the last step, recorded in the epoch's `lr` column.
    pub lr: f64,
    /// Every completed epoch's record.
    pub history: Vec<EpochRecord>,
    /// Early stopping's counters.
    pub early_stopping: Option<EarlyStopping>,
    /// Reduce-on-plateau's counters.
    pub plateau: Option<ReduceOnPlateau>,
    /// The epoch whose weights `best.bpk` holds.
    pub best_epoch: Option<usize>,
    /// Why training ended, once early stopping has ended it.
    pub stopped: Option<String>,
}

/// A checkpoint found on disk, ready to resume from.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    dir: PathBuf,
    pub(crate) state: LoopState,
}

impl Checkpoint {
    /// The newest complete checkpoint in `checkpoints` (a run folder's `checkpoints/`), or
    /// `None` when there is none. Half-written checkpoints are ignored.
    pub fn latest(checkpoints: &Path) -> Result<Option<Self>, Error> {
        let entries = match fs::read_dir(checkpoints) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(read_error(checkpoints, source)),
        };
        let mut complete: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| is_checkpoint_name(path))
            .collect();
        complete.sort();
        let Some(dir) = complete.pop() else {
            return Ok(None);
        };
        let state_path = dir.join("state.json");
        let text =
            fs::read_to_string(&state_path).map_err(|source| read_error(&state_path, source))?;
        let state = serde_json::from_str(&text).map_err(|error| Error::Checkpoint {
            path: state_path.clone(),
            reason: error.to_string(),
        })?;
        Ok(Some(Self { dir, state }))
    }

    /// The folder of this checkpoint.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The number of completed epochs it holds.
    pub fn epochs_done(&self) -> usize {
        self.state.epochs_done
    }

    /// Loads the weights into `model` (built as the run built it, on the autodiff device).
    pub(crate) fn load_model(&self, model: Model) -> Result<Model, Error> {
        load_weights(model, &self.dir.join("model.bpk"))
    }

    /// Loads the best epoch's weights into a copy of `model`, when the checkpoint has them.
    pub(crate) fn load_best(&self, model: &Model) -> Result<Option<Model>, Error> {
        let path = self.dir.join("best.bpk");
        if self.state.best_epoch.is_none() {
            return Ok(None);
        }
        load_weights(model.clone(), &path).map(Some)
    }

    /// Loads the optimizer's state into `optimizer`.
    pub(crate) fn load_optimizer(
        &self,
        optimizer: ModuleOptimizer,
    ) -> Result<ModuleOptimizer, Error> {
        let path = self.dir.join("optimizer.bpk");
        optimizer.load(&path).map_err(|error| Error::Checkpoint {
            path,
            reason: error.to_string(),
        })
    }
}

/// Writes a checkpoint into `checkpoints` atomically and removes all but the newest ones.
pub(crate) fn write_checkpoint(
    checkpoints: &Path,
    model: &Model,
    best: Option<&Model>,
    optimizer: &ModuleOptimizer,
    state: &LoopState,
) -> Result<PathBuf, Error> {
    fs::create_dir_all(checkpoints).map_err(|source| write_error(checkpoints, source))?;
    let name = format!("ckpt-{:010}", state.total_batches);
    let final_dir = checkpoints.join(&name);
    let temporary = checkpoints.join(format!(".{name}.tmp-{}", std::process::id()));
    if temporary.exists() {
        fs::remove_dir_all(&temporary).map_err(|source| write_error(&temporary, source))?;
    }
    fs::create_dir(&temporary).map_err(|source| write_error(&temporary, source))?;
    save_weights(model, &temporary.join("model.bpk"))?;
    if let Some(best) = best {
        save_weights(best, &temporary.join("best.bpk"))?;
    }
    let optimizer_path = temporary.join("optimizer.bpk");
    optimizer
        .save(&optimizer_path)
        .map_err(|error| Error::Checkpoint {
            path: optimizer_path.clone(),
            reason: error.to_string(),
        })?;
    let state_path = temporary.join("state.json");
    let text = serde_json::to_string_pretty(state).expect("the loop state always serialises");
    fs::write(&state_path, text).map_err(|source| write_error(&state_path, source))?;
    if final_dir.exists() {
        fs::remove_dir_all(&final_dir).map_err(|source| write_error(&final_dir, source))?;
    }
    fs::rename(&temporary, &final_dir).map_err(|source| write_error(&final_dir, source))?;
    remove_older(checkpoints)?;
    Ok(final_dir)
}

fn remove_older(checkpoints: &Path) -> Result<(), Error> {
    let entries = fs::read_dir(checkpoints).map_err(|source| read_error(checkpoints, source))?;
    let mut names: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| is_checkpoint_name(path))
        .collect();
    names.sort();
    let excess = names.len().saturating_sub(KEEP);
    for old in &names[..excess] {
        fs::remove_dir_all(old).map_err(|source| write_error(old, source))?;
    }
    Ok(())
}

fn is_checkpoint_name(path: &Path) -> bool {
    path.is_dir()
        && path
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| {
                name.strip_prefix("ckpt-")
                    .is_some_and(|digits| digits.bytes().all(|byte| byte.is_ascii_digit()))
            })
}

fn save_weights(model: &Model, path: &Path) -> Result<(), Error> {
    model
        .clone()
        .save_file(path)
        .map_err(|error| Error::Checkpoint {
            path: path.to_path_buf(),
            reason: error.to_string(),
        })
}

fn load_weights(model: Model, path: &Path) -> Result<Model, Error> {
    model
        .try_load_file(path)
        .map_err(|error| Error::Checkpoint {
            path: path.to_path_buf(),
            reason: error.to_string(),
        })
}

fn write_error(path: &Path, source: std::io::Error) -> Error {
    Error::Write {
        path: path.to_path_buf(),
        source,
    }
}

fn read_error(path: &Path, source: std::io::Error) -> Error {
    Error::Checkpoint {
        path: path.to_path_buf(),
        reason: source.to_string(),
    }
}

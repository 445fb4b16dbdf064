//! A finished run folder loaded back: its experiment, fitted preprocessor and trained model.

use std::path::Path;

use anyhow::Context;
use burn::module::Module;
use burn::tensor::Device;
use burnish_backend::BackendKind;
use burnish_data::Preprocessor;
use burnish_models::Model;
use burnish_train::Objective;

use crate::run_dir::RunDir;
use crate::{Experiment, prepare};

/// Everything `evaluate` and `predict` need, read from a run folder alone.
pub struct SavedRun {
    /// The run folder.
    pub run_dir: RunDir,
    /// The resolved experiment (`config.toml`).
    pub experiment: Experiment,
    /// The preprocessing fitted on the training split (`preprocessor.json`).
    pub preprocessor: Preprocessor,
    /// The trained model's inference copy (`model.bpk`).
    pub model: Model,
    /// The task the model was trained for.
    pub objective: Objective,
    /// The device the model is on.
    pub device: Device,
}

impl SavedRun {
    /// Loads the run in `path` onto `backend` (the run's own backend when `None`).
    pub fn load(path: &Path, backend: Option<BackendKind>) -> anyhow::Result<Self> {
        let run_dir = RunDir::open(path)?;
        let experiment = Experiment::load(&run_dir.file("config.toml"))?;
        let preprocessor = Preprocessor::load_json(&run_dir.file("preprocessor.json"))?;
        let device = backend.unwrap_or(experiment.backend).open()?;
        let objective = prepare::objective(&preprocessor);
        let weights = run_dir.file("model.bpk");
        let model = experiment
            .model
            .build(preprocessor.n_features(), objective.d_output(), &device)?
            .try_load_file(&weights)
            .map_err(|error| anyhow::anyhow!("{error:?}"))
            .with_context(|| format!("cannot load the weights {}", weights.display()))?;
        Ok(Self {
            run_dir,
            experiment,
            preprocessor,
            model: model.valid(),
            objective,
            device,
        })
    }
}

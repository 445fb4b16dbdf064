//! A finished run folder loaded back: its experiment, fitted encoding and trained model.

use std::path::Path;

use anyhow::Context;
use burn::module::Module;
use burn::tensor::Device;
use burnish_backend::BackendKind;
use burnish_models::{Model, ModelSpec};
use burnish_train::Objective;

use crate::Experiment;
use crate::prepare::Encoding;
use crate::run_dir::RunDir;

/// Everything `evaluate` and `predict` need, read from a run folder alone.
pub struct SavedRun {
    /// The run folder.
    pub run_dir: RunDir,
    /// The resolved experiment (`config.toml`).
    pub experiment: Experiment,
    /// The encoding fitted on the training split (`preprocessor.json`, and
    /// `text_encoder.json` when the model reads text).
    pub encoding: Encoding,
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
        anyhow::ensure!(
            experiment.data.series.is_none(),
            "{} holds a forecaster: `evaluate` and `predict` read tables of independent rows; \
             its test-span report is report.txt there",
            path.display()
        );
        anyhow::ensure!(
            experiment.data.language_model.is_none(),
            "{} holds a language model: it has no test report or predictions to make; use \
             `burnish generate` on it",
            path.display()
        );
        let encoding = Encoding::load(&run_dir, &experiment)?;
        let device = backend.unwrap_or(experiment.backend).open()?;
        let objective = encoding.objective();
        let weights = run_dir.file("model.bpk");
        let model = match &experiment.model {
            ModelSpec::Bert(spec) => {
                crate::pretrained::rebuild(&run_dir, spec, objective.d_output(), &device)?
            }
            spec => spec.build_for(&encoding.input_shape(), objective.d_output(), &device)?,
        };
        let model = model
            .try_load_file(&weights)
            .map_err(|error| anyhow::anyhow!("{error:?}"))
            .with_context(|| format!("cannot load the weights {}", weights.display()))?;
        Ok(Self {
            run_dir,
            experiment,
            encoding,
            model: model.valid(),
            objective,
            device,
        })
    }
}

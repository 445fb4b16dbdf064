//! `burnish train`: one experiment from its data file to a run folder and a test report.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::Context;
use burn::module::Module;
use burn::tensor::Device;
use burnish_backend::BackendKind;
use burnish_data::{Preprocessor, Split, Table, Targets};
use burnish_metrics::summary::{ClassificationSummary, RegressionSummary};
use burnish_metrics::{
    ClassificationReport, ConfusionMatrix, ReportOptions, ZeroDivision, confusion_matrix_svg,
    training_curves_svg,
};
use burnish_models::{InputShape, Model, ModelSpec};
use burnish_train::{
    Callback, Checkpoint, EpochLogger, Examples, FitData, FitOptions, Fitted, Objective,
    Predictions, ProcessGroup, predict_inputs,
};
use sha2::Digest;

use crate::experiment::Override;
use crate::prepare::{Encoding, Part};
use crate::progress::EpochProgressBars;
use crate::run_dir::{LazyRunDir, RunDir};
use crate::{Experiment, prepare};

/// How training reports its progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A bar per epoch with the running loss, samples per second and time left (a terminal).
    Bars,
    /// One plain line per epoch (a file or a pipe: no control characters).
    Lines,
    /// Nothing per epoch (`--quiet`).
    Quiet,
}

/// What `burnish train` was asked to do.
#[derive(Debug, Clone)]
pub struct TrainOptions<'a> {
    /// The experiment file (ignored when resuming: the run folder has its own).
    pub experiment: PathBuf,
    /// A backend that overrides the experiment's.
    pub backend: Option<BackendKind>,
    /// The folder that holds every experiment's runs.
    pub runs: PathBuf,
    /// How to show progress.
    pub progress: Progress,
    /// `--set` overrides of experiment keys, applied in order.
    pub overrides: Vec<Override>,
    /// A run folder to continue from its latest checkpoint.
    pub resume: Option<PathBuf>,
    /// Set by the Ctrl-C handler: training stops after the current batch and checkpoints.
    pub interrupt: Option<&'static AtomicBool>,
    /// The processes this one trains with, when an MPI launcher started several (see
    /// [`multi_process`](crate::multi_process)); `None` or a group of one trains alone.
    pub group: Option<&'a dyn ProcessGroup>,
    /// Which of its machine's processes this one is: with several on one machine, each GPU
    /// process takes device `local_rank`.
    pub local_rank: usize,
}

/// What a finished run produced.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// The run folder (rank 0's, on the other processes of a multi-process run).
    pub run_dir: PathBuf,
    /// The test-split report, as printed; empty on processes other than rank 0, which score
    /// nothing.
    pub report: String,
    /// Test accuracy (classification) or R² (regression); NaN where `report` is empty.
    pub test_score: f64,
}

/// The run folder's subfolder of checkpoints.
pub(crate) const CHECKPOINTS: &str = "checkpoints";

/// What a run starts from: its configuration, data and folder, and the checkpoint it resumes.
pub(crate) struct RunStart {
    pub experiment: Experiment,
    pub data_path: PathBuf,
    pub run_dir: LazyRunDir,
    pub checkpoint: Option<Checkpoint>,
    /// The scratch folder that holds `run_dir` on processes other than rank 0.
    pub scratch: Option<tempfile::TempDir>,
}

/// One training run in progress: what every kind of experiment shares between reading its
/// data and writing its report.
///
/// A new run's folder is made only when [`Run::run_dir`] is first called, which each kind of
/// experiment does once its data and its model have been checked: a run that fails before
/// training leaves no folder behind.
pub(crate) struct Run<'a> {
    pub experiment: Experiment,
    run_dir: LazyRunDir,
    pub checkpoint: Option<Checkpoint>,
    pub options: &'a TrainOptions<'a>,
    pub backend: BackendKind,
    pub device: Device,
    /// The devices of data-parallel training (`device` first), or none.
    pub devices: Vec<Device>,
    pub data_path: PathBuf,
    pub started: Instant,
    /// The other processes of a multi-process run.
    pub group: Option<&'a dyn ProcessGroup>,
    /// Rank 0's run folder, on the processes that are not rank 0: they train and then stop,
    /// writing nothing.
    pub leader_dir: Option<PathBuf>,
    /// Holds `run_dir` on those processes; removed when the run ends.
    pub _scratch: Option<tempfile::TempDir>,
}

impl Run<'_> {
    /// The run folder; a new run's is created here, with its `config.toml`, on the first call.
    pub(crate) fn run_dir(&self) -> anyhow::Result<&RunDir> {
        self.run_dir.get()
    }

    /// What a process other than rank 0 returns once training is over, or `None` on rank 0
    /// and in a one-process run, which go on to save and score the model.
    pub(crate) fn follower_outcome(&self) -> Option<TrainOutcome> {
        self.leader_dir.as_ref().map(|dir| TrainOutcome {
            run_dir: dir.clone(),
            report: String::new(),
            test_score: f64::NAN,
        })
    }

    /// Trains `model` (built on the autodiff device) with the run's progress display,
    /// checkpoints, resume point and Ctrl-C flag; an interrupt's error says how to resume.
    pub(crate) fn fit(
        &self,
        model: Model,
        data: FitData<'_>,
        objective: Objective,
        out: &mut dyn Write,
    ) -> anyhow::Result<Fitted> {
        if let Some(checkpoint) = &self.checkpoint {
            writeln!(
                out,
                "resuming from {} ({} epochs done)",
                checkpoint.dir().display(),
                checkpoint.epochs_done()
            )?;
        }
        let checkpoints = self.run_dir()?.file(CHECKPOINTS);
        let fit_options = FitOptions {
            seed: self.experiment.seed,
            checkpoints: self.leader_dir.is_none().then_some(checkpoints.as_path()),
            resume: self.checkpoint.as_ref(),
            interrupt: self.options.interrupt,
            devices: &self.devices,
            group: self.group,
        };
        let mut bars = EpochProgressBars::new();
        let mut lines = EpochLogger::new(&mut *out);
        let mut callbacks: Vec<&mut dyn Callback> = Vec::new();
        match self.options.progress {
            _ if self.leader_dir.is_some() => {}
            Progress::Bars => callbacks.push(&mut bars),
            Progress::Lines => callbacks.push(&mut lines),
            Progress::Quiet => {}
        }
        burnish_train::fit_with(
            model,
            data,
            objective,
            &self.experiment.train,
            &fit_options,
            &self.device,
            &mut callbacks,
        )
        .map_err(|error| match error {
            burnish_train::Error::Interrupted { .. } => anyhow::anyhow!(
                "{error}\nresume with: burnish train --resume {}",
                checkpoints.parent().unwrap_or(&checkpoints).display()
            ),
            other => other.into(),
        })
    }

    /// Writes `history.csv`, `curves.svg` and the weights (`model.bpk`) of a finished fit, and
    /// returns the inference copy of the model.
    pub(crate) fn save_fitted(&self, fitted: &Fitted) -> anyhow::Result<Model> {
        let run_dir = self.run_dir()?;
        fitted.history.write_csv(&run_dir.file("history.csv"))?;
        // The learning rate has its own scale; it would flatten the metrics panel.
        let mut curves = fitted.history.records().to_vec();
        for record in &mut curves {
            record.values.remove("lr");
        }
        run_dir.write(
            "curves.svg",
            training_curves_svg(
                &curves,
                &format!("{} training curves", self.experiment.name),
            ),
        )?;
        let model = fitted.model.valid();
        model
            .clone()
            .save_file(run_dir.file("model.bpk"))
            .with_context(|| format!("cannot save the weights in {}", run_dir.path().display()))?;
        Ok(model)
    }

    /// Writes `run.json` and prints the run folder's line.
    pub(crate) fn finish(&self, fitted: &Fitted, out: &mut dyn Write) -> anyhow::Result<()> {
        let run_dir = self.run_dir()?;
        let run_json = serde_json::json!({
            "burnish_version": env!("CARGO_PKG_VERSION"),
            "burn_version": "0.22.1",
            "experiment": self.experiment.name,
            "backend": self.backend.name(),
            "seed": self.experiment.seed,
            "data_file": self.data_path.display().to_string(),
            "data_sha256": data_sha256(&self.data_path)?,
            "weights_epoch": fitted.weights_epoch,
            "epochs_run": fitted.history.records().len(),
            "resumed_from": self
                .checkpoint
                .as_ref()
                .map(|checkpoint| checkpoint.dir().display().to_string()),
            "wall_time_seconds": self.started.elapsed().as_secs_f64(),
            "processes": self.group.map_or(1, |group| group.world_size()),
            "same_weights_on_every_process": fitted.same_weights_everywhere,
        });
        run_dir.write("run.json", serde_json::to_string_pretty(&run_json)?)?;
        writeln!(out, "run folder: {}", run_dir.path().display())?;
        Ok(())
    }
}

/// Trains the experiment (or continues the run of `options.resume`), prints progress and the
/// test report to `out`, and writes the run folder.
///
/// With a `group` of several processes, every process calls this with the same options: rank
/// 0 reads the experiment and writes the run folder, the others take rank 0's configuration,
/// print nothing and write nothing (see [`multi_process`](crate::multi_process)).
pub fn train(options: &TrainOptions<'_>, out: &mut dyn Write) -> anyhow::Result<TrainOutcome> {
    let started = Instant::now();
    let group = options.group.filter(|group| group.world_size() > 1);
    let (start, leader_dir) = match group {
        None => (start_run(options)?, None),
        Some(group) => crate::multi_process::start(group, || start_run(options))?,
    };
    let mut silent = std::io::sink();
    let out: &mut dyn Write = if leader_dir.is_some() {
        &mut silent
    } else {
        out
    };
    if let Some(group) = group {
        crate::multi_process::check_same_data(group, &start.data_path)?;
        writeln!(
            out,
            "training in {} processes: each takes its share of every batch; rank 0 writes the run folder",
            group.world_size()
        )?;
    }
    let backend = options.backend.unwrap_or(start.experiment.backend);
    let (device, devices) = match group {
        Some(_)
            if options.local_rank > 0
                && matches!(backend, BackendKind::Wgpu | BackendKind::Cuda) =>
        {
            let (device, _) = open_devices(backend, &[options.local_rank])?;
            (device, Vec::new())
        }
        _ => open_devices(backend, &start.experiment.devices)?,
    };
    let run = Run {
        device,
        devices,
        data_path: start.data_path,
        experiment: start.experiment,
        run_dir: start.run_dir,
        checkpoint: start.checkpoint,
        options,
        backend,
        started,
        group,
        leader_dir,
        _scratch: start.scratch,
    };
    if run.experiment.data.language_model.is_some() {
        return crate::language_model::train(&run, out);
    }
    if run.experiment.data.series.is_some() {
        return crate::forecasting::train(&run, out);
    }
    let experiment = &run.experiment;

    let table = prepare::read_table(experiment, &run.data_path)?;
    let split = prepare::split(experiment, &table)?;
    let data = prepare_data(experiment, &table, &split)?;

    writeln!(
        out,
        "{}: {} rows of {} ({} train, {} valid, {} test), {}, {} on {backend}",
        experiment.name,
        table.n_rows(),
        run.data_path.display(),
        split.train.len(),
        split.valid.len(),
        split.test.len(),
        input_description(&data.encoding.input_shape()),
        experiment.model.kind(),
    )?;

    let model = build_model(experiment, &data, &run.device)?;
    data.encoding.save(run.run_dir()?)?;
    if let ModelSpec::Bert(spec) = &experiment.model {
        crate::pretrained::record(run.run_dir()?, spec)?;
    }
    let fit_data = FitData {
        train: &data.train,
        valid: &data.valid,
    };
    let fitted = run.fit(model, fit_data, data.encoding.objective(), out)?;
    if let Some(outcome) = run.follower_outcome() {
        return Ok(outcome);
    }
    let model = run.save_fitted(&fitted)?;

    let evaluation = evaluate_test_part(experiment, &data, &model, &run.device)?;
    for (name, contents) in &evaluation.files {
        run.run_dir()?.write(name, contents)?;
    }
    writeln!(
        out,
        "\ntest split ({} rows):\n{}",
        split.test.len(),
        evaluation.report
    )?;
    run.finish(&fitted, out)?;
    Ok(TrainOutcome {
        run_dir: run.run_dir()?.path().to_path_buf(),
        report: evaluation.report,
        test_score: evaluation.score,
    })
}

/// Reads the experiment and names its run folder (made once data and model are checked), or
/// opens the run folder of `options.resume` and its latest checkpoint.
fn start_run(options: &TrainOptions<'_>) -> anyhow::Result<RunStart> {
    match &options.resume {
        None => {
            let mut experiment =
                Experiment::load_with_overrides(&options.experiment, &options.overrides)?;
            experiment.train.validate()?;
            // The run folder records the data file as found from here, so that `--resume`,
            // `evaluate` and `predict` find it again from the same place.
            let data_path = experiment.data_path(&options.experiment)?;
            match &mut experiment.data.tokens {
                Some(tokens) => *tokens = data_path.clone(),
                None => experiment.data.path = data_path.clone(),
            }
            if let ModelSpec::Bert(spec) = &mut experiment.model {
                spec.pretrained = crate::experiment::beside(&spec.pretrained, &options.experiment);
            }
            let run_dir = LazyRunDir::new(&options.runs, &experiment.name, experiment.to_toml());
            Ok(RunStart {
                data_path,
                experiment,
                run_dir,
                checkpoint: None,
                scratch: None,
            })
        }
        Some(path) => {
            if !options.overrides.is_empty() {
                anyhow::bail!(
                    "--resume continues a run as it was configured; --set cannot change it"
                );
            }
            let run_dir = RunDir::open(path)?;
            let config = run_dir.file("config.toml");
            let experiment = Experiment::load(&config)?;
            let checkpoints = run_dir.file(CHECKPOINTS);
            let checkpoint = Checkpoint::latest(&checkpoints)?.with_context(|| {
                format!(
                    "{} holds no checkpoint to resume from",
                    checkpoints.display()
                )
            })?;
            Ok(RunStart {
                data_path: experiment.data_path(&config)?,
                experiment,
                run_dir: LazyRunDir::made(run_dir),
                checkpoint: Some(checkpoint),
                scratch: None,
            })
        }
    }
}

/// The data of one training run: the encoding fitted on the training part alone, and the
/// three parts encoded by it.
pub(crate) struct PreparedData {
    /// Fitted on the training rows.
    pub encoding: Encoding,
    /// The rows the optimizer learns from.
    pub train: Part,
    /// The rows early stopping watches.
    pub valid: Part,
    /// The rows scored once, at the end.
    pub test: Part,
}

/// Fits the experiment's encoding on the `split.train` rows of `table` alone, and applies it
/// to the three parts of `split`.
pub(crate) fn prepare_data(
    experiment: &Experiment,
    table: &Table,
    split: &Split,
) -> anyhow::Result<PreparedData> {
    let encoding = Encoding::fit(experiment, &table.select_rows(&split.train))?;
    let part = |rows: &[usize]| encoding.examples(experiment, &table.select_rows(rows));
    Ok(PreparedData {
        train: part(&split.train)?,
        valid: part(&split.valid)?,
        test: part(&split.test)?,
        encoding,
    })
}

/// "9 features" or "token ids (vocabulary 5000, up to 64 a row)", for the first line.
fn input_description(shape: &InputShape) -> String {
    match shape {
        InputShape::Tokens {
            vocab_size,
            max_len,
        } => format!("token ids (vocabulary {vocab_size}, up to {max_len} a row)"),
        InputShape::Features { d_input } => format!("{d_input} features"),
        other => other.kind().to_string(),
    }
}

/// The device a run computes on and, for data-parallel training (`devices` in the
/// experiment), every device it splits batches across, the first being the run's device.
pub(crate) fn open_devices(
    backend: BackendKind,
    indices: &[usize],
) -> anyhow::Result<(Device, Vec<Device>)> {
    let devices = backend
        .open_all(indices)
        .context("`devices` in the experiment")?;
    let device = match devices.first() {
        Some(first) => first.clone(),
        None => backend.open()?,
    };
    Ok((device, devices))
}

/// Builds the experiment's model for `data` on a device seeded with the experiment's seed and
/// trains it with `callbacks` (progress) and `options` (checkpoints, resuming, interrupts).
pub(crate) fn fit_model(
    experiment: &Experiment,
    data: &PreparedData,
    device: &Device,
    callbacks: &mut [&mut dyn Callback],
    options: &FitOptions<'_>,
) -> anyhow::Result<Fitted> {
    let objective = data.encoding.objective();
    let model = build_model(experiment, data, device)?;
    let fitted = burnish_train::fit_with(
        model,
        FitData {
            train: &data.train,
            valid: &data.valid,
        },
        objective,
        &experiment.train,
        options,
        device,
        callbacks,
    )?;
    Ok(fitted)
}

/// The experiment's model for `data`, initialised on the autodiff device after seeding it with
/// the experiment's seed.
pub(crate) fn build_model(
    experiment: &Experiment,
    data: &PreparedData,
    device: &Device,
) -> anyhow::Result<Model> {
    seeded_model(
        experiment,
        &data.encoding.input_shape(),
        data.encoding.objective().d_output(),
        device,
    )
}

/// The experiment's model for inputs of `shape` and `d_output` outputs, initialised on the
/// autodiff device after seeding `device` with the experiment's seed: how every kind of run
/// starts training.
pub(crate) fn seeded_model(
    experiment: &Experiment,
    shape: &InputShape,
    d_output: usize,
    device: &Device,
) -> anyhow::Result<Model> {
    burnish_backend::seed(device, experiment.seed);
    let device = device.clone().autodiff();
    match &experiment.model {
        ModelSpec::Bert(spec) => {
            let InputShape::Tokens { max_len, .. } = *shape else {
                anyhow::bail!("a bert model reads token ids, not {}", shape.kind());
            };
            let (model, _) = crate::pretrained::build(spec, max_len, d_output, &device)?;
            Ok(model)
        }
        spec => Ok(spec.build_for(shape, d_output, &device)?),
    }
}

/// Predicts the test part of `data` with `model` (the inference copy) and scores it.
pub(crate) fn evaluate_test_part(
    experiment: &Experiment,
    data: &PreparedData,
    model: &Model,
    device: &Device,
) -> anyhow::Result<Evaluation> {
    let predictions = predict_inputs(
        model,
        data.test.n_examples(),
        |rows| data.test.inputs(rows, device),
        data.encoding.objective(),
        experiment.train.batch_size,
    );
    evaluate_predictions(
        &data.encoding.preprocessor,
        data.test.targets(),
        &predictions,
    )
}

/// A test evaluation: the report as printed, the headline score, and the files that record it.
pub(crate) struct Evaluation {
    /// The scikit-learn classification report, or the regression metrics, as text.
    pub report: String,
    /// Accuracy (classification) or R² (regression).
    pub score: f64,
    /// The headline metrics by name: accuracy and macro F1, or R², RMSE and MAE.
    pub scores: Vec<(&'static str, f64)>,
    /// File names in a run folder, with their contents.
    pub files: Vec<(&'static str, String)>,
}

/// Scores `predictions` against `targets` with the class names of `preprocessor`.
pub(crate) fn evaluate_predictions(
    preprocessor: &Preprocessor,
    targets: &Targets,
    predictions: &Predictions,
) -> anyhow::Result<Evaluation> {
    match (targets, predictions) {
        (Targets::Classes(truth), Predictions::Classes { classes, .. }) => {
            let confusion_matrix =
                ConfusionMatrix::from_indices(truth, classes, preprocessor.class_names())?;
            let report = ClassificationReport::from_confusion_matrix(
                &confusion_matrix,
                &ReportOptions::default(),
            )?;
            let text = report.to_string();
            let summary = ClassificationSummary::new(&confusion_matrix, ZeroDivision::Warn)?;
            Ok(Evaluation {
                score: report.accuracy,
                scores: vec![
                    ("accuracy", report.accuracy),
                    ("macro_f1", report.macro_avg.f1),
                ],
                files: vec![
                    ("report.txt", text.clone()),
                    ("metrics.json", summary.to_json()),
                    ("confusion.csv", confusion_matrix.to_csv()),
                    (
                        "confusion.svg",
                        confusion_matrix_svg(&confusion_matrix, "Confusion matrix (test split)"),
                    ),
                ],
                report: text,
            })
        }
        (Targets::Values(truth), Predictions::Values(values)) => {
            let truth: Vec<f64> = truth.iter().map(|&v| v as f64).collect();
            let values: Vec<f64> = values.iter().map(|&v| v as f64).collect();
            let summary = RegressionSummary::new(&truth, &values)?;
            let metrics = summary.metrics;
            let text = format!(
                "r2 {:.4}\nmse {:.4}\nrmse {:.4}\nmae {:.4}\nexplained_variance {:.4}\n",
                metrics.r2, metrics.mse, metrics.rmse, metrics.mae, metrics.explained_variance
            );
            Ok(Evaluation {
                score: metrics.r2,
                scores: vec![
                    ("r2", metrics.r2),
                    ("rmse", metrics.rmse),
                    ("mae", metrics.mae),
                ],
                files: vec![
                    ("report.txt", text.clone()),
                    ("metrics.json", summary.to_json()),
                ],
                report: text,
            })
        }
        _ => anyhow::bail!("the model's outputs do not match the task"),
    }
}

/// The SHA-256 that identifies a run's data: the data file's, or for a folder of token files
/// its `meta.json`'s, which holds the corpus's SHA-256 and the token counts.
pub(crate) fn data_sha256(data_path: &Path) -> anyhow::Result<String> {
    if data_path.is_dir() {
        sha256_hex(&data_path.join(burnish_data::token_file::META_FILE))
    } else {
        sha256_hex(data_path)
    }
}

pub(crate) fn sha256_hex(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(sha2::Sha256::digest(&bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect())
}

//! `burnish train`: one experiment from its data file to a run folder and a test report.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use burn::module::Module;
use burnish_backend::BackendKind;
use burnish_data::{Preprocessor, TabularDataset, Targets};
use burnish_metrics::summary::{ClassificationSummary, RegressionSummary};
use burnish_metrics::{
    ClassificationReport, ConfusionMatrix, ReportOptions, ZeroDivision, confusion_matrix_svg,
    training_curves_svg,
};
use burnish_train::{Callback, EpochLogger, FitData, Predictions};
use sha2::Digest;

use crate::run_dir::RunDir;
use crate::{Experiment, prepare};

/// What `burnish train` was asked to do.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// The experiment file.
    pub experiment: PathBuf,
    /// A backend that overrides the experiment's.
    pub backend: Option<BackendKind>,
    /// The folder that holds every experiment's runs.
    pub runs: PathBuf,
    /// Print nothing per epoch.
    pub quiet: bool,
}

/// What a finished run produced.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// The run folder.
    pub run_dir: PathBuf,
    /// The test-split report, as printed.
    pub report: String,
    /// Test accuracy (classification) or R² (regression).
    pub test_score: f64,
}

/// Trains the experiment, prints progress and the test report to `out`, writes the run folder.
pub fn train(options: &TrainOptions, out: &mut dyn Write) -> anyhow::Result<TrainOutcome> {
    let started = Instant::now();
    let experiment = Experiment::load(&options.experiment)?;
    let backend = options.backend.unwrap_or(experiment.backend);
    let device = backend.open()?;
    experiment.train.validate()?;

    let data_path = experiment.data_path(&options.experiment);
    let table = prepare::read_table(&experiment, &data_path)?;
    let split = prepare::split(&experiment, &table)?;

    let train_table = table.select_rows(&split.train);
    let preprocessor = Preprocessor::fit(
        &train_table,
        &experiment.data.target,
        experiment.data.task,
        &prepare::preprocess_config(&experiment),
    )?;
    let dataset = |rows: &[usize]| -> anyhow::Result<TabularDataset> {
        let part = table.select_rows(rows);
        Ok(TabularDataset::new(
            preprocessor.transform(&part)?,
            preprocessor.encode_target(&part)?,
        ))
    };
    let (train_set, valid_set, test_set) = (
        dataset(&split.train)?,
        dataset(&split.valid)?,
        dataset(&split.test)?,
    );

    let run_dir = RunDir::create(&options.runs, &experiment.name)?;
    run_dir.write("config.toml", experiment.to_toml())?;
    preprocessor.save_json(&run_dir.file("preprocessor.json"))?;

    let objective = prepare::objective(&preprocessor);
    writeln!(
        out,
        "{}: {} rows of {} ({} train, {} valid, {} test), {} features, {} on {backend}",
        experiment.name,
        table.n_rows(),
        data_path.display(),
        split.train.len(),
        split.valid.len(),
        split.test.len(),
        preprocessor.n_features(),
        experiment.model.kind(),
    )?;

    burnish_backend::seed(&device, experiment.seed);
    let model = experiment.model.build(
        preprocessor.n_features(),
        objective.d_output(),
        &device.clone().autodiff(),
    )?;
    let mut logger = EpochLogger::new(&mut *out);
    let mut callbacks: Vec<&mut dyn Callback> = Vec::new();
    if !options.quiet {
        callbacks.push(&mut logger);
    }
    let fitted = burnish_train::fit(
        model,
        FitData {
            train: &train_set,
            valid: &valid_set,
        },
        objective,
        &experiment.train,
        experiment.seed,
        &device,
        &mut callbacks,
    );
    drop(callbacks);
    let fitted = fitted?;
    fitted.history.write_csv(&run_dir.file("history.csv"))?;
    // The learning rate has its own scale; it would flatten the metrics panel.
    let mut curves = fitted.history.records().to_vec();
    for record in &mut curves {
        record.values.remove("lr");
    }
    run_dir.write(
        "curves.svg",
        training_curves_svg(&curves, &format!("{} training curves", experiment.name)),
    )?;
    let model = fitted.model.valid();
    model
        .clone()
        .save_file(run_dir.file("model.bpk"))
        .with_context(|| format!("cannot save the weights in {}", run_dir.path().display()))?;

    let predictions = burnish_train::predict(
        &model,
        test_set.features(),
        objective,
        experiment.train.batch_size,
        &device,
    );
    let evaluation = evaluate_predictions(&preprocessor, test_set.targets(), &predictions)?;
    for (name, contents) in &evaluation.files {
        run_dir.write(name, contents)?;
    }
    writeln!(
        out,
        "\ntest split ({} rows):\n{}",
        split.test.len(),
        evaluation.report
    )?;

    let run_json = serde_json::json!({
        "burnish_version": env!("CARGO_PKG_VERSION"),
        "burn_version": "0.22.1",
        "experiment": experiment.name,
        "backend": backend.name(),
        "seed": experiment.seed,
        "data_file": data_path.display().to_string(),
        "data_sha256": sha256_hex(&data_path)?,
        "weights_epoch": fitted.weights_epoch,
        "epochs_run": fitted.history.records().len(),
        "wall_time_seconds": started.elapsed().as_secs_f64(),
    });
    run_dir.write("run.json", serde_json::to_string_pretty(&run_json)?)?;
    writeln!(out, "run folder: {}", run_dir.path().display())?;
    Ok(TrainOutcome {
        run_dir: run_dir.path().to_path_buf(),
        report: evaluation.report,
        test_score: evaluation.score,
    })
}

/// A test evaluation: the report as printed, the headline score, and the files that record it.
pub(crate) struct Evaluation {
    /// The scikit-learn classification report, or the regression metrics, as text.
    pub report: String,
    /// Accuracy (classification) or R² (regression).
    pub score: f64,
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

fn sha256_hex(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(sha2::Sha256::digest(&bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect())
}

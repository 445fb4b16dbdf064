//! `burnish cv`: k-fold cross-validation of an experiment, each fold trained as `burnish train`
//! trains, with the fold's rows held out as its test set.
//!
//! Every fold fits its own preprocessing on its training rows and stops early on a validation
//! part carved from its training rows, so no reported number has seen the rows it is measured
//! on. No model is saved: `runs/<name>/cv-<timestamp>/` holds the resolved experiment and the
//! metrics of every fold, with their mean and sample standard deviation.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use burn::module::Module;
use burnish_backend::BackendKind;
use burnish_data::{Split, SplitRatios, Table, Task};
use burnish_train::{Callback, EpochLogger, FitOptions};

use crate::experiment::Override;
use crate::run_dir::RunDir;
use crate::train_command::{evaluate_test_part, fit_model, open_devices, prepare_data};
use crate::{Experiment, prepare};

/// What `burnish cv` was asked to do.
#[derive(Debug, Clone)]
pub struct CvOptions {
    /// The experiment file.
    pub experiment: PathBuf,
    /// The number of folds, at least 2.
    pub folds: usize,
    /// A backend that overrides the experiment's.
    pub backend: Option<BackendKind>,
    /// The folder that holds every experiment's runs.
    pub runs: PathBuf,
    /// `--set` overrides of experiment keys, applied in order.
    pub overrides: Vec<Override>,
    /// Print every epoch of every fold, not only one line per fold.
    pub verbose: bool,
}

/// What one fold measured.
#[derive(Debug, Clone, PartialEq)]
pub struct FoldScores {
    /// The fold's number, from 1.
    pub fold: usize,
    /// Rows the optimizer learnt from.
    pub train_rows: usize,
    /// Rows early stopping watched.
    pub valid_rows: usize,
    /// The held-out fold.
    pub test_rows: usize,
    /// Epochs trained before stopping.
    pub epochs_run: usize,
    /// The epoch whose weights were scored.
    pub weights_epoch: usize,
    /// The test metrics by name: accuracy and macro F1, or R², RMSE and MAE.
    pub scores: Vec<(&'static str, f64)>,
}

/// One metric over all folds.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSummary {
    /// The metric's name, as in [`FoldScores::scores`].
    pub name: &'static str,
    /// The mean over folds.
    pub mean: f64,
    /// The sample standard deviation over folds (`ddof = 1`, as numpy's `std(ddof=1)`).
    pub std: f64,
}

/// What a finished cross-validation produced.
#[derive(Debug, Clone)]
pub struct CvOutcome {
    /// The folder with `config.toml`, `cv.json` and `cv.csv`.
    pub cv_dir: PathBuf,
    /// Every fold's metrics, in fold order.
    pub folds: Vec<FoldScores>,
    /// Each metric's mean and standard deviation over the folds.
    pub summary: Vec<MetricSummary>,
}

/// Cross-validates the experiment: prints one line per fold and each metric's mean and sample
/// standard deviation to `out`, and writes them to `runs/<name>/cv-<timestamp>/`.
pub fn cross_validate(options: &CvOptions, out: &mut dyn Write) -> anyhow::Result<CvOutcome> {
    let started = Instant::now();
    let experiment = Experiment::load_with_overrides(&options.experiment, &options.overrides)?;
    prepare::require_independent_rows(&experiment, "cv")?;
    let backend = options.backend.unwrap_or(experiment.backend);
    let (device, devices) = open_devices(backend, &experiment.devices)?;
    experiment.train.validate()?;

    let data_path = experiment.data_path(&options.experiment)?;
    let table = prepare::read_table(&experiment, &data_path)?;
    let labels = stratification_labels(&experiment, &table)?;
    let splits = fold_splits(
        table.n_rows(),
        labels.as_deref(),
        options.folds,
        validation_share(&experiment),
        experiment.seed,
    )
    .map_err(|error| error.with_path(table.path()))
    .context("--folds")?;
    writeln!(
        out,
        "{}: {} rows of {}, {}-fold {}cross-validation, {} on {backend}",
        experiment.name,
        table.n_rows(),
        data_path.display(),
        options.folds,
        if labels.is_some() { "stratified " } else { "" },
        experiment.model.kind(),
    )?;

    let mut folds = Vec::with_capacity(splits.len());
    for (fold_idx, split) in splits.iter().enumerate() {
        let fold_name = || format!("fold {}/{}", fold_idx + 1, options.folds);
        let data = prepare_data(&experiment, &table, split).with_context(fold_name)?;
        let mut lines = EpochLogger::new(&mut *out);
        let mut callbacks: Vec<&mut dyn Callback> = Vec::new();
        if options.verbose {
            callbacks.push(&mut lines);
        }
        let fit_options = FitOptions {
            seed: experiment.seed,
            devices: &devices,
            ..FitOptions::default()
        };
        let fitted = fit_model(&experiment, &data, &device, &mut callbacks, &fit_options)
            .with_context(fold_name)?;
        let evaluation = evaluate_test_part(&experiment, &data, &fitted.model.valid(), &device)?;
        let fold = FoldScores {
            fold: fold_idx + 1,
            train_rows: split.train.len(),
            valid_rows: split.valid.len(),
            test_rows: split.test.len(),
            epochs_run: fitted.history.records().len(),
            weights_epoch: fitted.weights_epoch,
            scores: evaluation.scores,
        };
        writeln!(out, "{}", fold_line(&fold, options.folds))?;
        folds.push(fold);
    }

    let summary = summarise(&folds);
    writeln!(
        out,
        "\nmean ± standard deviation over {} folds (sample std, ddof=1):",
        folds.len()
    )?;
    for metric in &summary {
        writeln!(
            out,
            "  {:<9} {:.4} ± {:.4}",
            metric.name, metric.mean, metric.std
        )?;
    }

    let wall_time_seconds = started.elapsed().as_secs_f64();
    let cv_dir = RunDir::create_prefixed(&options.runs, &experiment.name, "cv-")?;
    cv_dir.write("config.toml", experiment.to_toml())?;
    cv_dir.write("cv.csv", cv_csv(&folds, &summary)?)?;
    let cv_json = serde_json::json!({
        "burnish_version": env!("CARGO_PKG_VERSION"),
        "experiment": experiment.name,
        "backend": backend.name(),
        "seed": experiment.seed,
        "data_file": data_path.display().to_string(),
        "n_folds": folds.len(),
        "stratified": labels.is_some(),
        "std": "sample standard deviation over folds (ddof = 1)",
        "folds": folds.iter().map(fold_json).collect::<Vec<_>>(),
        "summary": summary
            .iter()
            .map(|metric| (metric.name.to_string(), serde_json::json!({
                "mean": metric.mean,
                "std": metric.std,
            })))
            .collect::<serde_json::Map<_, _>>(),
        "wall_time_seconds": wall_time_seconds,
    });
    cv_dir.write("cv.json", serde_json::to_string_pretty(&cv_json)?)?;
    writeln!(
        out,
        "wall time {wall_time_seconds:.1} s\ncv folder: {}",
        cv_dir.path().display()
    )?;
    Ok(CvOutcome {
        cv_dir: cv_dir.path().to_path_buf(),
        folds,
        summary,
    })
}

/// The labels the folds keep in proportion: the target's classes, when the experiment is a
/// classification with `split.stratify`; `None` for plain folds.
fn stratification_labels(
    experiment: &Experiment,
    table: &Table,
) -> anyhow::Result<Option<Vec<String>>> {
    if experiment.data.task != Task::Classification {
        return Ok(None);
    }
    let labels = burnish_data::target_labels(table, &experiment.data.target)?;
    prepare::require_two_classes(experiment, table, &labels)?;
    Ok(experiment.data.split.stratify.then_some(labels))
}

/// The share of a fold's training rows set aside for early stopping: the experiment's
/// `valid / (train + valid)`, so that training and validation keep their proportions.
fn validation_share(experiment: &Experiment) -> f64 {
    let split = &experiment.data.split;
    split.valid / (split.train + split.valid)
}

/// The `k` folds of `n_rows` rows, each as a [`Split`]: the fold itself is the test part, and
/// the other rows are split again, `valid_share` of them into the validation part. With
/// `labels`, the folds and the validation parts keep every class in proportion. All of it is
/// seeded by `seed`.
pub fn fold_splits(
    n_rows: usize,
    labels: Option<&[String]>,
    k: usize,
    valid_share: f64,
    seed: u64,
) -> Result<Vec<Split>, burnish_data::Error> {
    let folds = match labels {
        Some(labels) => burnish_data::stratified_k_fold(labels, k, seed)?,
        None => burnish_data::k_fold(n_rows, k, seed)?,
    };
    let ratios = SplitRatios {
        train: 1.0 - valid_share,
        valid: valid_share,
        test: 0.0,
    };
    folds
        .into_iter()
        .map(|(rest, test)| {
            let rest_labels: Option<Vec<String>> =
                labels.map(|labels| rest.iter().map(|&row| labels[row].clone()).collect());
            let inner = burnish_data::train_valid_test_split(
                rest.len(),
                ratios,
                rest_labels.as_deref(),
                seed,
            )?;
            let rows_of = |part: &[usize]| part.iter().map(|&idx| rest[idx]).collect();
            Ok(Split {
                train: rows_of(&inner.train),
                valid: rows_of(&inner.valid),
                test,
            })
        })
        .collect()
}

/// The mean and the sample standard deviation (`ddof = 1`) of `values`; the deviation is 0
/// for fewer than two values.
pub fn mean_and_sample_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (mean, 0.0);
    }
    let squares: f64 = values.iter().map(|value| (value - mean).powi(2)).sum();
    (mean, (squares / (n - 1.0)).sqrt())
}

fn summarise(folds: &[FoldScores]) -> Vec<MetricSummary> {
    let Some(first) = folds.first() else {
        return Vec::new();
    };
    first
        .scores
        .iter()
        .enumerate()
        .map(|(metric_idx, &(name, _))| {
            let values: Vec<f64> = folds.iter().map(|fold| fold.scores[metric_idx].1).collect();
            let (mean, std) = mean_and_sample_std(&values);
            MetricSummary { name, mean, std }
        })
        .collect()
}

fn fold_line(fold: &FoldScores, n_folds: usize) -> String {
    let scores: Vec<String> = fold
        .scores
        .iter()
        .map(|(name, value)| format!("{name} {value:.4}"))
        .collect();
    format!(
        "fold {}/{n_folds}: {} train, {} valid, {} test rows; {} epochs (weights of epoch {}); {}",
        fold.fold,
        fold.train_rows,
        fold.valid_rows,
        fold.test_rows,
        fold.epochs_run,
        fold.weights_epoch,
        scores.join(", ")
    )
}

fn fold_json(fold: &FoldScores) -> serde_json::Value {
    serde_json::json!({
        "fold": fold.fold,
        "train_rows": fold.train_rows,
        "valid_rows": fold.valid_rows,
        "test_rows": fold.test_rows,
        "epochs_run": fold.epochs_run,
        "weights_epoch": fold.weights_epoch,
        "metrics": fold
            .scores
            .iter()
            .map(|&(name, value)| (name.to_string(), serde_json::json!(value)))
            .collect::<serde_json::Map<_, _>>(),
    })
}

/// One line per fold, then a `mean` and a `std` line.
fn cv_csv(folds: &[FoldScores], summary: &[MetricSummary]) -> anyhow::Result<Vec<u8>> {
    let mut csv = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<&str> = vec![
        "fold",
        "train_rows",
        "valid_rows",
        "test_rows",
        "epochs_run",
        "weights_epoch",
    ];
    header.extend(summary.iter().map(|metric| metric.name));
    csv.write_record(&header)?;
    for fold in folds {
        let mut record: Vec<String> = [
            fold.fold,
            fold.train_rows,
            fold.valid_rows,
            fold.test_rows,
            fold.epochs_run,
            fold.weights_epoch,
        ]
        .iter()
        .map(usize::to_string)
        .collect();
        record.extend(fold.scores.iter().map(|(_, value)| value.to_string()));
        csv.write_record(&record)?;
    }
    let means: Vec<f64> = summary.iter().map(|metric| metric.mean).collect();
    let stds: Vec<f64> = summary.iter().map(|metric| metric.std).collect();
    for (label, values) in [("mean", means), ("std", stds)] {
        let mut record = vec![label.to_string()];
        record.extend(std::iter::repeat_n(String::new(), 5));
        record.extend(values.iter().map(f64::to_string));
        csv.write_record(&record)?;
    }
    csv.into_inner()
        .map_err(|error| anyhow::anyhow!("cannot write cv.csv: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_std_matches_numpy_ddof_1() {
        // numpy.std([0.9, 1.0, 0.95, 0.85], ddof=1) = 0.06454972243679027
        let (mean, std) = mean_and_sample_std(&[0.9, 1.0, 0.95, 0.85]);
        assert!((mean - 0.925).abs() < 1e-12);
        assert!((std - 0.064_549_722_436_790_27).abs() < 1e-12, "{std}");
    }

    #[test]
    fn folds_test_every_row_once_and_never_train_on_it() {
        let labels: Vec<String> = (0..50)
            .map(|row| if row % 5 == 0 { "a" } else { "b" }.to_string())
            .collect();
        for labels in [Some(labels.as_slice()), None] {
            let splits = fold_splits(50, labels, 5, 0.2, 3).unwrap();
            assert_eq!(splits.len(), 5);
            let mut tested: Vec<usize> = splits.iter().flat_map(|s| s.test.clone()).collect();
            tested.sort_unstable();
            assert_eq!(tested, (0..50).collect::<Vec<_>>());
            for split in &splits {
                let mut all: Vec<usize> = [&split.train, &split.valid, &split.test]
                    .into_iter()
                    .flatten()
                    .copied()
                    .collect();
                all.sort_unstable();
                assert_eq!(all, (0..50).collect::<Vec<_>>(), "the parts are disjoint");
                assert_eq!(split.test.len(), 10);
                assert_eq!(split.valid.len(), 8, "a fifth of the other 40 rows");
            }
        }
    }

    #[test]
    fn stratified_folds_keep_class_shares_in_test_and_valid() {
        let labels: Vec<String> = (0..50)
            .map(|row| if row % 5 == 0 { "a" } else { "b" }.to_string())
            .collect();
        for split in fold_splits(50, Some(&labels), 5, 0.25, 3).unwrap() {
            let count_a = |rows: &[usize]| rows.iter().filter(|&&row| row % 5 == 0).count();
            assert_eq!(count_a(&split.test), 2);
            assert_eq!(count_a(&split.valid), 2, "a quarter of the fold's 8 a rows");
        }
    }
}

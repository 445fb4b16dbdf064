//! `burnish lr-find`: the learning-rate range test on an experiment's training split, with a
//! plot of the loss against the rate and a suggested rate.

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;

use burnish_backend::BackendKind;
use burnish_metrics::lr_find_svg;
use burnish_train::{LrFindConfig, LrFinding};

use crate::experiment::Override;
use crate::run_dir::RunDir;
use crate::train_command::{build_model, prepare_data};
use crate::{Experiment, prepare};

/// What `burnish lr-find` was asked to do.
#[derive(Debug, Clone)]
pub struct LrFindOptions {
    /// The experiment file.
    pub experiment: PathBuf,
    /// A backend that overrides the experiment's.
    pub backend: Option<BackendKind>,
    /// `--set` overrides of experiment keys, applied in order.
    pub overrides: Vec<Override>,
    /// The folder that holds every experiment's runs.
    pub runs: PathBuf,
    /// The rates swept.
    pub sweep: LrFindConfig,
}

/// Runs the range test on a fresh model of the experiment, prints the sweep and the suggested
/// rate to `out`, and writes `lr_find.csv` and `lr_find.svg` to `runs/<name>/lr-find-<time>/`.
pub fn find_learning_rate(
    options: &LrFindOptions,
    out: &mut dyn Write,
) -> anyhow::Result<LrFinding> {
    let experiment = Experiment::load_with_overrides(&options.experiment, &options.overrides)?;
    prepare::require_independent_rows(&experiment, "lr-find")?;
    experiment.train.validate()?;
    let backend = options.backend.unwrap_or(experiment.backend);
    let device = backend.open()?;
    let data_path = experiment.data_path(&options.experiment)?;
    let table = prepare::read_table(&experiment, &data_path)?;
    let split = prepare::split(&experiment, &table)?;
    let data = prepare_data(&experiment, &table, &split)?;
    let model = build_model(&experiment, &data, &device)?;
    writeln!(
        out,
        "{}: range test of {} over {} training rows, {} steps from {:e} to {:e} on {backend}",
        experiment.name,
        experiment.model.kind(),
        split.train.len(),
        options.sweep.steps,
        options.sweep.min_lr,
        options.sweep.max_lr,
    )?;
    let finding = burnish_train::lr_find(
        model,
        &data.train,
        &experiment.train,
        &options.sweep,
        experiment.seed,
        &device,
    )?;

    let run_dir = RunDir::create_prefixed(&options.runs, &experiment.name, "lr-find-")?;
    run_dir.write("config.toml", experiment.to_toml())?;
    let mut csv = String::from("lr,smoothed_loss\n");
    for (lr, loss) in finding.lrs.iter().zip(&finding.losses) {
        writeln!(csv, "{lr:e},{loss}").expect("writing to a String cannot fail");
    }
    run_dir.write("lr_find.csv", csv)?;
    run_dir.write(
        "lr_find.svg",
        lr_find_svg(
            &finding.lrs,
            &finding.losses,
            finding.suggestion,
            &experiment.name,
        ),
    )?;

    writeln!(out, "{:>12}  smoothed loss", "lr")?;
    let every = finding.lrs.len().div_ceil(20).max(1);
    for (step, (lr, loss)) in finding.lrs.iter().zip(&finding.losses).enumerate() {
        if step % every == 0 || step + 1 == finding.lrs.len() {
            writeln!(out, "{lr:>12.3e}  {loss:.4}")?;
        }
    }
    if finding.lrs.len() < options.sweep.steps {
        writeln!(
            out,
            "stopped after {} steps: the loss diverged",
            finding.lrs.len()
        )?;
    }
    match finding.suggestion {
        Some(lr) => writeln!(
            out,
            "suggested learning rate: {lr:.2e} (the steepest fall of the loss); try it with --set train.optimizer.lr={lr:.2e}"
        )?,
        None => writeln!(
            out,
            "no suggestion: too few steps ran before the loss diverged; lower --min-lr"
        )?,
    }
    writeln!(out, "plot and table: {}", run_dir.path().display())?;
    Ok(finding)
}

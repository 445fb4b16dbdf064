//! Forecasting in `burnish train`: an experiment with `[data] series = {...}` reads its target
//! column as one time series, splits it in time order, fits the scaler on the training span
//! only, and trains a model that reads `lookback` past values to predict the next `horizon`.
//! The test report is in the series' own units, beside the persistence forecast (the last
//! value seen), the baseline every forecast must beat.

use std::io::Write;

use anyhow::Context;
use burnish_data::excerpt::{column_list, quoted};
use burnish_data::{ForecastingData, SeriesDataset, SplitRatios, WindowConfig, Windows};
use burnish_metrics::summary::RegressionSummary;
use burnish_models::{InputShape, ModelInput};
use burnish_train::{Examples, FitData, Objective, Predictions, predict_inputs};

use crate::experiment::SeriesSection;
use crate::prepare;
use crate::train_command::{Run, TrainOutcome, seeded_model};

/// The run folder's file that holds the fitted series scaler.
pub const SERIES_SCALER_FILE: &str = "series_scaler.json";

/// Trains the run's forecaster and reports its test-span errors in the series' units.
pub(crate) fn train(run: &Run<'_>, out: &mut dyn Write) -> anyhow::Result<TrainOutcome> {
    let experiment = &run.experiment;
    let section: &SeriesSection = experiment
        .data
        .series
        .as_ref()
        .context("the experiment has no `[data] series` table")?;
    let table = prepare::read_table(experiment, &run.data_path)?;
    let target = &experiment.data.target;
    let values = table
        .column(target)
        .and_then(|column| column.numeric_values())
        .with_context(|| {
            format!(
                "{}: data.target {} must be a numeric column of the file; {}",
                run.data_path.display(),
                quoted(target),
                column_list(&table.column_names())
            )
        })?;
    if let Some(row) = values.iter().position(|value| value.is_nan()) {
        anyhow::bail!(
            "{}:{}: the series {} has a missing value; a forecaster needs every step",
            run.data_path.display(),
            table.line(row),
            quoted(target)
        );
    }
    let split = &experiment.data.split;
    let data = ForecastingData::prepare(
        values,
        SplitRatios {
            train: split.train,
            valid: split.valid,
            test: split.test,
        },
        &WindowConfig::new(section.lookback, section.horizon),
        experiment.data.scale,
    )
    .with_context(|| format!("data.series on {}", run.data_path.display()))?;
    writeln!(
        out,
        "{}: {} steps of {target} in {} ({} train, {} valid, {} test, in time order), \
         {} past values to forecast {}, {} on {}",
        experiment.name,
        values.len(),
        run.data_path.display(),
        data.split.train.len(),
        data.split.valid.len(),
        data.split.test.len(),
        section.lookback,
        section.horizon,
        experiment.model.kind(),
        run.backend,
    )?;

    let train = SeriesDataset::new(data.train);
    let valid = SeriesDataset::new(data.valid);
    let test = SeriesDataset::new(data.test);
    let model = seeded_model(
        experiment,
        &InputShape::Series { d_input: 1 },
        section.horizon,
        &run.device,
    )?;
    data.scaler
        .save_json(&run.run_dir()?.file(SERIES_SCALER_FILE))?;
    let fitted = run.fit(
        model,
        FitData {
            train: &train,
            valid: &valid,
        },
        Objective::Regression,
        out,
    )?;
    if let Some(outcome) = run.follower_outcome() {
        return Ok(outcome);
    }
    let model = run.save_fitted(&fitted)?;

    let Predictions::Values(scaled) = predict_inputs(
        &model,
        test.n_examples(),
        |rows| ModelInput::Series(test.batch(rows, &run.device).inputs),
        Objective::Regression,
        experiment.train.batch_size,
    ) else {
        unreachable!("a regression objective predicts values")
    };
    let forecasts = data.scaler.inverse_transform(&scaled);
    let truth = data.scaler.inverse_transform(&test.windows().targets);
    let persistence = persistence_forecasts(test.windows(), |value| data.scaler.unscale(value));
    let summary = RegressionSummary::new(&truth, &forecasts)?;
    let baseline = RegressionSummary::new(&truth, &persistence)?;
    let report = format!(
        "test span ({} forecasts, in the series' units):\n\
         rmse {:.4}\nmae {:.4}\nr2 {:.4}\n\
         persistence (the last value seen): rmse {:.4}, mae {:.4}\n",
        truth.len(),
        summary.metrics.rmse,
        summary.metrics.mae,
        summary.metrics.r2,
        baseline.metrics.rmse,
        baseline.metrics.mae,
    );
    run.run_dir()?.write("report.txt", &report)?;
    run.run_dir()?.write("metrics.json", summary.to_json())?;
    writeln!(out, "\n{report}")?;
    run.finish(&fitted, out)?;
    Ok(TrainOutcome {
        run_dir: run.run_dir()?.path().to_path_buf(),
        report,
        test_score: summary.metrics.rmse,
    })
}

/// The naive forecast of every target of `windows`: the window's last input value, repeated
/// over the horizon, in the series' units.
fn persistence_forecasts(windows: &Windows, unscale: impl Fn(f64) -> f64) -> Vec<f64> {
    (0..windows.n_windows)
        .flat_map(|window| {
            let last = windows.inputs[(window + 1) * windows.lookback - 1];
            std::iter::repeat_n(unscale(f64::from(last)), windows.horizon)
        })
        .collect()
}

//! The data steps every command shares: reading the experiment's table, splitting it, and the
//! objective that the fitted preprocessor implies.

use std::path::Path;

use burnish_data::{
    NumericImputation, PreprocessConfig, Preprocessor, ReadOptions, Split, SplitRatios, Table, Task,
};
use burnish_train::Objective;

use crate::Experiment;

/// How to read the experiment's data file (and any file predicted on later).
pub fn read_options(experiment: &Experiment) -> ReadOptions {
    ReadOptions {
        delimiter: None,
        missing_markers: experiment
            .data
            .missing_markers
            .clone()
            .unwrap_or_else(|| ReadOptions::default().missing_markers),
        column_kinds: experiment.data.columns.clone(),
        drop_columns: experiment.data.drop_columns.clone(),
    }
}

/// The preprocessing the `[data]` table asks for.
pub fn preprocess_config(experiment: &Experiment) -> PreprocessConfig {
    PreprocessConfig {
        missing: experiment.data.missing,
        fill_value: experiment.data.fill_value,
        scale: experiment.data.scale,
        categorical: experiment.data.categorical,
    }
}

/// Reads `path` as the experiment says, dropping rows with gaps when `missing = "drop"`.
pub fn read_table(experiment: &Experiment, path: &Path) -> anyhow::Result<Table> {
    let table = burnish_data::read_table(path, &read_options(experiment))?;
    Ok(if experiment.data.missing == NumericImputation::Drop {
        table.without_missing()
    } else {
        table
    })
}

/// The seeded train/valid/test split of the table, stratified by the target where asked.
pub fn split(experiment: &Experiment, table: &Table) -> anyhow::Result<Split> {
    let labels = burnish_data::target_labels(table, &experiment.data.target)?;
    let stratify = experiment.data.split.stratify && experiment.data.task == Task::Classification;
    let split = burnish_data::train_valid_test_split(
        table.n_rows(),
        SplitRatios {
            train: experiment.data.split.train,
            valid: experiment.data.split.valid,
            test: experiment.data.split.test,
        },
        stratify.then_some(labels.as_slice()),
        experiment.seed,
    )
    .map_err(|error| error.with_path(table.path()))?;
    Ok(split)
}

/// What the model is trained for, given the fitted preprocessor.
pub fn objective(preprocessor: &Preprocessor) -> Objective {
    match preprocessor.task() {
        Task::Classification => Objective::Classification {
            n_classes: preprocessor.class_names().len(),
        },
        Task::Regression => Objective::Regression,
    }
}

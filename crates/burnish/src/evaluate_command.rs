//! `burnish evaluate RUN_DIR [DATA]`: score a saved model on its test split or on a new file.

use std::io::Write;
use std::path::Path;

use burnish_backend::BackendKind;
use burnish_train::predict_inputs;

use crate::prepare;
use crate::saved_run::SavedRun;
use crate::train_command::evaluate_predictions;

/// Prints the report of the run's model on `data` (every row), or on the test split of the
/// run's own data file, split again with the run's seed, when `data` is `None`.
pub fn evaluate(
    run: &Path,
    data: Option<&Path>,
    backend: Option<BackendKind>,
    out: &mut dyn Write,
) -> anyhow::Result<f64> {
    let saved = SavedRun::load(run, backend)?;
    let (table, description) = match data {
        Some(path) => {
            let table = prepare::read_table(&saved.experiment, path)?;
            let description = format!("{} ({} rows)", path.display(), table.n_rows());
            (table, description)
        }
        None => {
            let path = saved
                .experiment
                .data_path(&saved.run_dir.file("config.toml"))?;
            let table = prepare::read_table(&saved.experiment, &path)?;
            let split = prepare::split(&saved.experiment, &table)?;
            let description = format!(
                "the test split of {} ({} rows)",
                path.display(),
                split.test.len()
            );
            (table.select_rows(&split.test), description)
        }
    };
    let inputs = saved.encoding.inputs(&saved.experiment, &table)?;
    let targets = saved.encoding.preprocessor.encode_target(&table)?;
    let predictions = predict_inputs(
        &saved.model,
        inputs.n_rows(),
        |rows| inputs.rows(rows, &saved.device),
        saved.objective,
        saved.experiment.train.batch_size,
    );
    let evaluation = evaluate_predictions(&saved.encoding.preprocessor, &targets, &predictions)?;
    writeln!(
        out,
        "{} on {description}:\n{}",
        saved.experiment.name, evaluation.report
    )?;
    Ok(evaluation.score)
}

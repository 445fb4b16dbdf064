//! `burnish predict RUN_DIR new.csv`: predictions for new rows, as CSV.

use std::io::Write;
use std::path::Path;

use burnish_backend::BackendKind;
use burnish_data::ReadOptions;
use burnish_train::{Predictions, predict_inputs};

use crate::prepare;
use crate::saved_run::SavedRun;

/// Writes one CSV line per row of `data`: the row's 1-based line in the file, the prediction,
/// and for a classifier the probability of every class (`p_<class>` columns).
///
/// The file is read with the column kinds the model was trained with, so a column that looks
/// different in a small file is still parsed as in training; the target column may be absent.
pub fn predict_file(
    run: &Path,
    data: &Path,
    backend: Option<BackendKind>,
    out: &mut dyn Write,
) -> anyhow::Result<usize> {
    let saved = SavedRun::load(run, backend)?;
    let preprocessor = &saved.encoding.preprocessor;
    let mut column_kinds = preprocessor.column_kinds();
    column_kinds.retain(|name, _| name != preprocessor.target());
    if let Some(text) = &saved.experiment.data.text {
        column_kinds.insert(text.column.clone(), burnish_data::ColumnKind::Text);
    }
    let read_options = ReadOptions {
        column_kinds,
        ..prepare::read_options(&saved.experiment)
    };
    let table = burnish_data::read_table(data, &read_options)?;
    let inputs = saved.encoding.inputs(&saved.experiment, &table)?;
    let predictions = predict_inputs(
        &saved.model,
        inputs.n_rows(),
        |rows| inputs.rows(rows, &saved.device),
        saved.objective,
        saved.experiment.train.batch_size,
    );
    let target = preprocessor.target();
    let mut csv = csv::Writer::from_writer(out);
    match &predictions {
        Predictions::Classes {
            classes,
            probabilities,
            n_classes,
        } => {
            let names = preprocessor.class_names();
            let mut header = vec!["line".to_string(), target.to_string()];
            header.extend(names.iter().map(|name| format!("p_{name}")));
            csv.write_record(&header)?;
            for (row, class) in classes.iter().enumerate() {
                let mut record = vec![table.line(row).to_string(), names[*class].clone()];
                record.extend(
                    probabilities[row * n_classes..(row + 1) * n_classes]
                        .iter()
                        .map(|p| format!("{p:.6}")),
                );
                csv.write_record(&record)?;
            }
        }
        Predictions::Values(values) => {
            csv.write_record(["line", target])?;
            for (row, value) in values.iter().enumerate() {
                csv.write_record([table.line(row).to_string(), value.to_string()])?;
            }
        }
    }
    csv.flush()?;
    Ok(table.n_rows())
}

//! The fitted preprocessing of a tabular experiment, as one artifact.
//!
//! A [`Preprocessor`] is fitted on the training rows only. It holds, for every feature column
//! in file order, the imputation fill, the scaler (numeric columns) or the category encoder
//! (categorical columns), the names of the output features in order, and the target's label
//! encoder. `transform` turns any table with those columns (a validation part, a test part, a
//! predict-time file without the target) into the same features in the same order; it ignores
//! the target and columns it does not know. It is saved as JSON, and `fit → save → load →
//! transform` gives the same numbers bit for bit.
//!
//! Text columns are not features here: they belong to tokenizers. Internally everything is
//! `f64`; features come out as `f32`. This module does not train, and reads or writes only the
//! JSON artifact.

use std::collections::BTreeMap;
use std::io::{self, BufWriter, Write as _};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::encode::{CategoricalEncoding, CategoryEncoder, LabelEncoder};
use crate::error::Error;
use crate::impute::{CONSTANT_CATEGORY, NumericImputation, most_frequent_code, numeric_fill_value};
use crate::scale::{Scaler, Scaling};
use crate::schema::{ColumnKind, NumericField, parse_number};
use crate::table::{Column, ColumnData, StringValues, Table};

/// What is predicted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// One class per row, from the target's sorted class names.
    Classification,
    /// One number per row.
    Regression,
}

/// The preprocessing settings of an experiment's `[data]` table.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PreprocessConfig {
    /// How missing values are filled (default `median`). Categorical columns use their most
    /// frequent category under `mean`, `median` and `most_frequent`, and the category
    /// `"missing_value"` under `constant`.
    pub missing: NumericImputation,
    /// The fill of numeric columns under `missing = "constant"`; 0 when unset or not finite.
    pub fill_value: Option<f64>,
    /// How numeric columns are scaled (default `standard`).
    pub scale: Scaling,
    /// How categorical columns are encoded (default `one_hot`).
    pub categorical: CategoricalEncoding,
}

impl Default for PreprocessConfig {
    fn default() -> Self {
        Self {
            missing: NumericImputation::Median,
            fill_value: None,
            scale: Scaling::Standard,
            categorical: CategoricalEncoding::OneHot,
        }
    }
}

/// A row-major matrix of features.
#[derive(Clone, Debug, PartialEq)]
pub struct Features {
    /// The number of rows.
    pub n_rows: usize,
    /// The number of features per row.
    pub n_cols: usize,
    /// `n_rows * n_cols` values, row after row.
    pub values: Vec<f32>,
}

impl Features {
    /// The features of row `row`.
    ///
    /// # Panics
    ///
    /// When `row >= self.n_rows`.
    pub fn row(&self, row: usize) -> &[f32] {
        &self.values[row * self.n_cols..(row + 1) * self.n_cols]
    }
}

/// The encoded target of every row.
#[derive(Clone, Debug, PartialEq)]
pub enum Targets {
    /// Class indices into [`Preprocessor::class_names`].
    Classes(Vec<usize>),
    /// Regression targets, unscaled.
    Values(Vec<f32>),
}

impl Targets {
    /// The number of rows.
    pub fn len(&self) -> usize {
        match self {
            Targets::Classes(classes) => classes.len(),
            Targets::Values(values) => values.len(),
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Imputers, scalers and encoders fitted on training rows; see the module documentation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Preprocessor {
    format_version: u32,
    task: Task,
    target: String,
    config: PreprocessConfig,
    columns: Vec<FittedColumn>,
    feature_names: Vec<String>,
    classes: Vec<String>,
}

/// One feature column as fitted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum FittedColumn {
    Numeric {
        name: String,
        /// `None` under `missing = "drop"`.
        fill: Option<f64>,
        scaler: Scaler,
    },
    Categorical {
        name: String,
        /// `None` under `missing = "drop"`.
        fill: Option<String>,
        encoder: CategoryEncoder,
    },
}

impl FittedColumn {
    fn name(&self) -> &str {
        match self {
            FittedColumn::Numeric { name, .. } | FittedColumn::Categorical { name, .. } => name,
        }
    }

    fn n_outputs(&self) -> usize {
        match self {
            FittedColumn::Numeric { .. } => 1,
            FittedColumn::Categorical { encoder, .. } => encoder.n_outputs(),
        }
    }
}

/// The version of the JSON layout that this build writes and reads.
const FORMAT_VERSION: u32 = 1;

impl Preprocessor {
    /// Fits on the training rows: every column but the target and text columns is a feature.
    ///
    /// Under `missing = "drop"` pass a table without missing values
    /// ([`Table::without_missing`]); a gap is then an error naming its line. A missing target
    /// is an error naming its line; so is a non-number in a regression target.
    ///
    /// ```
    /// use burnish_data::{Column, PreprocessConfig, Preprocessor, Table, Task};
    /// let train = Table::new(
    ///     "train.csv",
    ///     vec![
    ///         Column::numeric("x", vec![Some(1.0), None, Some(3.0)]),
    ///         Column::categorical("colour", vec![Some("red"), Some("blue"), None]),
    ///         Column::categorical("y", vec![Some("no"), Some("yes"), Some("no")]),
    ///     ],
    /// );
    /// let preprocessor =
    ///     Preprocessor::fit(&train, "y", Task::Classification, &PreprocessConfig::default())?;
    /// assert_eq!(preprocessor.feature_names(), &["x", "colour_blue", "colour_red"]);
    /// let features = preprocessor.transform(&train)?;
    /// assert_eq!(features.row(1), &[0.0, 1.0, 0.0]);
    /// # Ok::<(), burnish_data::Error>(())
    /// ```
    pub fn fit(
        train: &Table,
        target: &str,
        task: Task,
        config: &PreprocessConfig,
    ) -> Result<Self, Error> {
        if train.column(target).is_none() {
            return Err(unknown_target(train, target));
        }
        if train.n_rows() == 0 {
            return Err(Error::NoTrainingRows {
                path: train.path().to_path_buf(),
            });
        }
        let mut columns = Vec::new();
        let mut feature_names = Vec::new();
        for column in train.columns() {
            if column.name() == target {
                continue;
            }
            let fitted = match column.data() {
                ColumnData::Text(_) => continue,
                ColumnData::Numeric(values) => fit_numeric(train, column, values, config)?,
                ColumnData::Categorical(values) => fit_categorical(train, column, values, config)?,
            };
            match &fitted {
                FittedColumn::Numeric { name, .. } => feature_names.push(name.clone()),
                FittedColumn::Categorical { name, encoder, .. } => {
                    feature_names.extend(encoder.feature_names(name));
                }
            }
            columns.push(fitted);
        }
        let classes = match task {
            Task::Classification => {
                let encoder = LabelEncoder::fit(train, target)?;
                let rows = format!("the {} training rows", train.n_rows());
                encoder.require_two_classes(train, target, rows)?;
                encoder.classes().to_vec()
            }
            Task::Regression => {
                regression_targets(train, target)?;
                Vec::new()
            }
        };
        Ok(Self {
            format_version: FORMAT_VERSION,
            task,
            target: target.to_owned(),
            config: *config,
            columns,
            feature_names,
            classes,
        })
    }

    /// The features of every row of `table`, in [`Preprocessor::feature_names`] order.
    ///
    /// The target column and unknown columns are ignored. A fitted column missing from the
    /// table is an error naming it; so is a column of another kind (read predict-time files
    /// with [`Preprocessor::column_kinds`] as `ReadOptions::column_kinds`). Unseen categories
    /// encode as all zeros (one-hot) or -1 (ordinal).
    pub fn transform(&self, table: &Table) -> Result<Features, Error> {
        let n_rows = table.n_rows();
        let n_cols = self.feature_names.len();
        let mut values = vec![0.0_f32; n_rows * n_cols];
        let mut first_output = 0;
        for fitted in &self.columns {
            let column = table
                .column(fitted.name())
                .ok_or_else(|| Error::MissingColumn {
                    path: table.path().to_path_buf(),
                    column: fitted.name().to_owned(),
                })?;
            let width = fitted.n_outputs();
            let kind_mismatch = |expected| Error::KindMismatch {
                path: table.path().to_path_buf(),
                column: column.name().to_owned(),
                expected,
                found: column.kind(),
            };
            match (fitted, column.data()) {
                (
                    FittedColumn::Numeric { fill, scaler, .. },
                    ColumnData::Numeric(column_values),
                ) => {
                    for (row, &value) in column_values.iter().enumerate() {
                        let value = match (value.is_nan(), fill) {
                            (false, _) => value,
                            (true, Some(fill)) => *fill,
                            (true, None) => return Err(missing_value(table, column, row)),
                        };
                        values[row * n_cols + first_output] = scaler.apply(value) as f32;
                    }
                }
                (FittedColumn::Numeric { .. }, _) => {
                    return Err(kind_mismatch(ColumnKind::Numeric));
                }
                (
                    FittedColumn::Categorical { fill, encoder, .. },
                    ColumnData::Categorical(strings) | ColumnData::Text(strings),
                ) => {
                    let positions: Vec<Option<usize>> = strings
                        .dictionary()
                        .iter()
                        .map(|category| encoder.position(category))
                        .collect();
                    let fill_position = fill.as_deref().and_then(|fill| encoder.position(fill));
                    for (row, &code) in strings.codes().iter().enumerate() {
                        let position = if code != StringValues::MISSING {
                            positions[code as usize]
                        } else if fill.is_some() {
                            fill_position
                        } else {
                            return Err(missing_value(table, column, row));
                        };
                        let start = row * n_cols + first_output;
                        encoder.encode_into(position, &mut values[start..start + width]);
                    }
                }
                (FittedColumn::Categorical { .. }, ColumnData::Numeric(_)) => {
                    return Err(kind_mismatch(ColumnKind::Categorical));
                }
            }
            first_output += width;
        }
        Ok(Features {
            n_rows,
            n_cols,
            values,
        })
    }

    /// The encoded target of every row of `table`: class indices for classification, numbers
    /// for regression. A missing target, a class unseen in training or a non-number is an
    /// error naming the file and the line.
    pub fn encode_target(&self, table: &Table) -> Result<Targets, Error> {
        match self.task {
            Task::Classification => {
                let encoder = LabelEncoder::from_sorted_classes(self.classes.clone());
                Ok(Targets::Classes(encoder.encode(table, &self.target)?))
            }
            Task::Regression => Ok(Targets::Values(
                regression_targets(table, &self.target)?
                    .into_iter()
                    .map(|value| value as f32)
                    .collect(),
            )),
        }
    }

    /// The class names in label order (sorted); empty for regression.
    pub fn class_names(&self) -> &[String] {
        &self.classes
    }

    /// The names of the output features, in order: a numeric column by its name, a one-hot
    /// column as `column_category` per category, an ordinal column by its name.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// The number of output features.
    pub fn n_features(&self) -> usize {
        self.feature_names.len()
    }

    /// Classification or regression.
    pub fn task(&self) -> Task {
        self.task
    }

    /// The target column's name.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The settings it was fitted with.
    pub fn config(&self) -> &PreprocessConfig {
        &self.config
    }

    /// The kinds of the feature columns, by name: use as `ReadOptions::column_kinds` to read
    /// a predict-time file exactly as the training file was read.
    pub fn column_kinds(&self) -> BTreeMap<String, ColumnKind> {
        self.columns
            .iter()
            .map(|fitted| {
                let kind = match fitted {
                    FittedColumn::Numeric { .. } => ColumnKind::Numeric,
                    FittedColumn::Categorical { .. } => ColumnKind::Categorical,
                };
                (fitted.name().to_owned(), kind)
            })
            .collect()
    }

    /// Writes the preprocessor as pretty-printed JSON.
    pub fn save_json(&self, path: &Path) -> Result<(), Error> {
        let io_error = |source: io::Error| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::create(path).map_err(io_error)?;
        let mut writer = BufWriter::new(file);
        serde_json::to_writer_pretty(&mut writer, self).map_err(|error| io_error(error.into()))?;
        writer.write_all(b"\n").map_err(io_error)?;
        writer.flush().map_err(io_error)
    }

    /// Reads a preprocessor written by [`Preprocessor::save_json`].
    pub fn load_json(path: &Path) -> Result<Self, Error> {
        let bytes = std::fs::read(path).map_err(|source| Error::reading(path, source))?;
        let preprocessor: Self = serde_json::from_slice(&bytes).map_err(|source| Error::Json {
            path: path.to_path_buf(),
            source,
        })?;
        if preprocessor.format_version != FORMAT_VERSION {
            return Err(Error::FormatVersion {
                path: path.to_path_buf(),
                found: preprocessor.format_version,
                expected: FORMAT_VERSION,
            });
        }
        Ok(preprocessor)
    }
}

fn fit_numeric(
    train: &Table,
    column: &Column,
    values: &[f64],
    config: &PreprocessConfig,
) -> Result<FittedColumn, Error> {
    let fill = numeric_fill_value(values, config.missing, config.fill_value);
    let imputed: Vec<f64> = match fill {
        Some(fill) => values
            .iter()
            .map(|&value| if value.is_nan() { fill } else { value })
            .collect(),
        None => {
            if let Some(row) = values.iter().position(|value| value.is_nan()) {
                return Err(missing_value(train, column, row));
            }
            values.to_vec()
        }
    };
    Ok(FittedColumn::Numeric {
        name: column.name().to_owned(),
        fill,
        scaler: Scaler::fit(&imputed, config.scale),
    })
}

fn fit_categorical(
    train: &Table,
    column: &Column,
    values: &StringValues,
    config: &PreprocessConfig,
) -> Result<FittedColumn, Error> {
    let first_missing = values
        .codes()
        .iter()
        .position(|&code| code == StringValues::MISSING);
    let fill = match config.missing {
        NumericImputation::Drop => {
            if let Some(row) = first_missing {
                return Err(missing_value(train, column, row));
            }
            None
        }
        NumericImputation::Constant => Some(CONSTANT_CATEGORY.to_owned()),
        NumericImputation::Mean | NumericImputation::Median | NumericImputation::MostFrequent => {
            Some(
                most_frequent_code(values.codes(), values.dictionary(), StringValues::MISSING)
                    .map_or_else(
                        || CONSTANT_CATEGORY.to_owned(),
                        |code| values.dictionary()[code as usize].clone(),
                    ),
            )
        }
    };
    // The fill becomes a category only when training rows needed it, as in scikit-learn.
    let extra = first_missing.and(fill.as_deref());
    Ok(FittedColumn::Categorical {
        name: column.name().to_owned(),
        encoder: CategoryEncoder::fit(values, extra, config.categorical),
        fill,
    })
}

/// The regression target of every row, as numbers.
fn regression_targets(table: &Table, target: &str) -> Result<Vec<f64>, Error> {
    let column = table
        .column(target)
        .ok_or_else(|| unknown_target(table, target))?;
    let missing_target = |row| Error::MissingTarget {
        path: table.path().to_path_buf(),
        line: table.line(row),
        column: target.to_owned(),
    };
    match column.data() {
        ColumnData::Numeric(values) => values
            .iter()
            .enumerate()
            .map(|(row, &value)| {
                if value.is_nan() {
                    Err(missing_target(row))
                } else {
                    Ok(value)
                }
            })
            .collect(),
        ColumnData::Categorical(strings) | ColumnData::Text(strings) => strings
            .iter()
            .enumerate()
            .map(|(row, label)| {
                let label = label.ok_or_else(|| missing_target(row))?;
                match parse_number(label) {
                    NumericField::Number(value) => Ok(value),
                    NumericField::Missing => Err(missing_target(row)),
                    NumericField::NotANumber => Err(Error::NotANumber {
                        path: table.path().to_path_buf(),
                        line: table.line(row),
                        column: target.to_owned(),
                        value: label.to_owned(),
                    }),
                }
            })
            .collect(),
    }
}

fn unknown_target(table: &Table, target: &str) -> Error {
    Error::UnknownTarget {
        path: table.path().to_path_buf(),
        target: target.to_owned(),
        available: table.column_names().into_iter().map(String::from).collect(),
    }
}

fn missing_value(table: &Table, column: &Column, row: usize) -> Error {
    Error::MissingValue {
        path: table.path().to_path_buf(),
        line: table.line(row),
        column: column.name().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn train() -> Table {
        Table::new(
            "train.csv",
            vec![
                Column::numeric("x", vec![Some(1.0), None, Some(3.0), Some(5.0)]),
                Column::categorical("c", vec![Some("b"), Some("a"), None, Some("b")]),
                Column::text("note", vec![Some("p"), Some("q"), Some("r"), Some("s")]),
                Column::numeric("y", vec![Some(0.5), Some(1.5), Some(2.5), Some(3.5)]),
            ],
        )
    }

    #[test]
    fn median_config_fills_categories_with_the_most_frequent() {
        let config = PreprocessConfig {
            scale: Scaling::None,
            ..PreprocessConfig::default()
        };
        let preprocessor = Preprocessor::fit(&train(), "y", Task::Regression, &config).unwrap();
        assert_eq!(preprocessor.feature_names(), &["x", "c_a", "c_b"]);
        let features = preprocessor.transform(&train()).unwrap();
        assert_eq!(features.row(1), &[3.0, 1.0, 0.0]);
        assert_eq!(features.row(2), &[3.0, 0.0, 1.0]);
        assert_eq!(
            preprocessor.encode_target(&train()).unwrap(),
            Targets::Values(vec![0.5, 1.5, 2.5, 3.5])
        );
    }

    #[test]
    fn constant_adds_the_missing_category_and_fill_value() {
        let config = PreprocessConfig {
            missing: NumericImputation::Constant,
            fill_value: Some(-7.0),
            scale: Scaling::None,
            categorical: CategoricalEncoding::Ordinal,
        };
        let preprocessor = Preprocessor::fit(&train(), "y", Task::Regression, &config).unwrap();
        let features = preprocessor.transform(&train()).unwrap();
        // Categories: a, b, missing_value.
        assert_eq!(features.row(1), &[-7.0, 0.0]);
        assert_eq!(features.row(2), &[3.0, 2.0]);
    }

    #[test]
    fn drop_refuses_gaps_and_works_without_them() {
        let config = PreprocessConfig {
            missing: NumericImputation::Drop,
            ..PreprocessConfig::default()
        };
        let error = Preprocessor::fit(&train(), "y", Task::Regression, &config).unwrap_err();
        assert!(
            matches!(error, Error::MissingValue { line: 3, .. }),
            "{error}"
        );
        let clean = train().without_missing();
        assert_eq!(clean.n_rows(), 2);
        let preprocessor = Preprocessor::fit(&clean, "y", Task::Regression, &config).unwrap();
        let error = preprocessor.transform(&train()).unwrap_err();
        assert!(
            matches!(error, Error::MissingValue { line: 3, .. }),
            "{error}"
        );
    }

    #[test]
    fn regression_target_must_be_numbers() {
        let table = Table::new(
            "t.csv",
            vec![
                Column::numeric("x", vec![Some(1.0), Some(2.0)]),
                Column::categorical("y", vec![Some("1.5"), Some("high")]),
            ],
        );
        let error = Preprocessor::fit(&table, "y", Task::Regression, &PreprocessConfig::default())
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "t.csv:3: column \"y\": expected a number, found \"high\""
        );
    }

    #[test]
    fn kind_mismatch_is_reported() {
        let preprocessor = Preprocessor::fit(
            &train(),
            "y",
            Task::Regression,
            &PreprocessConfig::default(),
        )
        .unwrap();
        let other = Table::new(
            "other.csv",
            vec![
                Column::numeric("x", vec![Some(1.0)]),
                Column::numeric("c", vec![Some(1.0)]),
            ],
        );
        let error = preprocessor.transform(&other).unwrap_err();
        assert!(matches!(error, Error::KindMismatch { .. }), "{error}");
    }

    #[test]
    fn config_reads_the_toml_names() {
        let config: PreprocessConfig = serde_json::from_str(
            r#"{"missing": "most_frequent", "scale": "minmax", "categorical": "ordinal"}"#,
        )
        .unwrap();
        assert_eq!(config.missing, NumericImputation::MostFrequent);
        assert_eq!(config.scale, Scaling::MinMax);
        assert_eq!(config.categorical, CategoricalEncoding::Ordinal);
        assert_eq!(config.fill_value, None);
        let task: Task = serde_json::from_str("\"classification\"").unwrap();
        assert_eq!(task, Task::Classification);
    }
}

//! The experiment file: one TOML document that says what data, which model, how to train.
//!
//! Every key has a default except `name`, `data.path` and `data.target`. Unknown keys, wrong
//! types and impossible values are errors that name the file, the line and the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burnish_backend::BackendKind;
use burnish_data::{CategoricalEncoding, ColumnKind, NumericImputation, Scaling, Task};
use burnish_models::ModelSpec;
use burnish_train::TrainConfig;
use serde::{Deserialize, Serialize};

/// An experiment file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    /// The file cannot be read.
    #[error("cannot read experiment {path}: {source}")]
    Read {
        /// The experiment file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML, or a key is unknown, mistyped or out of range.
    #[error("{path}:{line}:{column}: {key}{message}")]
    Invalid {
        /// The experiment file.
        path: PathBuf,
        /// The 1-based line of the offending key or value (1 when unknown).
        line: usize,
        /// The 1-based column.
        column: usize,
        /// "`key`: " for the key at fault, or empty for a syntax error.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// A whole experiment file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// The experiment's name; runs are written under `runs/<name>/`.
    pub name: String,
    /// Seeds the split, the initialisation, the shuffling and dropout.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Where to compute: `flex`, `ndarray`, `wgpu` or `cuda`.
    #[serde(default)]
    pub backend: BackendKind,
    /// What data, and how to prepare it.
    pub data: DataSection,
    /// Which model.
    #[serde(default)]
    pub model: ModelSpec,
    /// How to train.
    #[serde(default)]
    pub train: TrainConfig,
}

fn default_seed() -> u64 {
    42
}

/// The `[data]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// The CSV or TSV file; a relative path is looked up from the working directory, then from
    /// the experiment file's folder.
    pub path: PathBuf,
    /// The column to predict.
    pub target: String,
    /// `classification` or `regression`.
    #[serde(default = "default_task")]
    pub task: Task,
    /// Columns to ignore.
    #[serde(default)]
    pub drop_columns: Vec<String>,
    /// Column kinds that override inference (`numeric`, `categorical`, `text`).
    #[serde(default)]
    pub columns: BTreeMap<String, ColumnKind>,
    /// Cell values that mean "missing"; the default is empty, `NA`, `NaN`, `null` and `?`.
    #[serde(default)]
    pub missing_markers: Option<Vec<String>>,
    /// How rows are shared between training, validation and test.
    #[serde(default)]
    pub split: SplitSection,
    /// How missing numbers are filled (categories always use the most frequent value, or the
    /// row is dropped with `drop`).
    #[serde(default = "default_missing")]
    pub missing: NumericImputation,
    /// The value `missing = "constant"` fills in.
    #[serde(default)]
    pub fill_value: Option<f64>,
    /// How numeric features are scaled.
    #[serde(default = "default_scale")]
    pub scale: Scaling,
    /// How categorical features are encoded.
    #[serde(default = "default_categorical")]
    pub categorical: CategoricalEncoding,
}

fn default_task() -> Task {
    Task::Classification
}
fn default_missing() -> NumericImputation {
    NumericImputation::Median
}
fn default_scale() -> Scaling {
    Scaling::Standard
}
fn default_categorical() -> CategoricalEncoding {
    CategoricalEncoding::OneHot
}

/// The `split` table of `[data]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitSection {
    /// The training share.
    pub train: f64,
    /// The validation share (early stopping watches it).
    pub valid: f64,
    /// The test share, measured once at the end.
    pub test: f64,
    /// Keep each class's share the same in every part (classification only).
    #[serde(default = "default_stratify")]
    pub stratify: bool,
}

fn default_stratify() -> bool {
    true
}

impl Default for SplitSection {
    fn default() -> Self {
        Self {
            train: 0.7,
            valid: 0.15,
            test: 0.15,
            stratify: true,
        }
    }
}

impl Experiment {
    /// Reads and checks an experiment file.
    pub fn load(path: &Path) -> Result<Self, ExperimentError> {
        let text = std::fs::read_to_string(path).map_err(|source| ExperimentError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses experiment text; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ExperimentError> {
        let invalid = |span: Option<std::ops::Range<usize>>, key: String, message: &str| {
            let (line, column) = span.map_or((1, 1), |span| line_and_column(text, span.start));
            ExperimentError::Invalid {
                path: path.to_path_buf(),
                line,
                column,
                key,
                message: message.trim().replace('\n', " "),
            }
        };
        let deserializer = toml::Deserializer::parse(text)
            .map_err(|error| invalid(error.span(), String::new(), error.message()))?;
        serde_path_to_error::deserialize(deserializer).map_err(|error| {
            let key = error.path().to_string();
            let key = if key == "." || key.is_empty() {
                String::new()
            } else {
                format!("`{key}`: ")
            };
            let inner = error.into_inner();
            invalid(inner.span(), key, inner.message())
        })
    }

    /// The data file, resolved as [`DataSection::path`] says.
    pub fn data_path(&self, experiment_path: &Path) -> PathBuf {
        let path = &self.data.path;
        if path.is_absolute() || path.exists() {
            return path.clone();
        }
        match experiment_path.parent() {
            Some(folder) if folder.join(path).exists() => folder.join(path),
            _ => path.clone(),
        }
    }

    /// The experiment as TOML, with every default written out.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("an experiment always serialises to TOML")
    }
}

fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |newline| newline + 1) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "name = \"t\"\n[data]\npath = \"x.csv\"\ntarget = \"y\"\n";

    fn error_of(text: &str) -> String {
        Experiment::parse(text, Path::new("exp.toml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn defaults_fill_everything_but_the_essentials() {
        let experiment = Experiment::parse(MINIMAL, Path::new("exp.toml")).unwrap();
        assert_eq!(experiment.seed, 42);
        assert_eq!(experiment.backend, BackendKind::Flex);
        assert_eq!(experiment.data.split, SplitSection::default());
        assert_eq!(experiment.train, TrainConfig::default());
    }

    #[test]
    fn resolved_config_parses_back_to_the_same_experiment() {
        let experiment = Experiment::parse(MINIMAL, Path::new("exp.toml")).unwrap();
        let again = Experiment::parse(&experiment.to_toml(), Path::new("config.toml")).unwrap();
        assert_eq!(again, experiment);
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let message = error_of(&format!("{MINIMAL}[train]\nepochs = 3\nepohcs = 4\n"));
        assert!(
            message.starts_with("exp.toml:7:1: `train.epohcs`: unknown field `epohcs`"),
            "{message}"
        );
    }

    #[test]
    fn wrong_type_names_file_line_and_key() {
        let message = error_of(&format!("{MINIMAL}[train]\nepochs = \"many\"\n"));
        assert!(
            message.starts_with("exp.toml:6:10: `train.epochs`: invalid type: string"),
            "{message}"
        );
    }

    #[test]
    fn unknown_backend_is_named() {
        let message = error_of(&format!("backend = \"tpu\"\n{MINIMAL}"));
        assert!(
            message.starts_with("exp.toml:1:11: `backend`: unknown variant `tpu`"),
            "{message}"
        );
    }

    #[test]
    fn syntax_error_names_the_line() {
        let message = error_of("name = \n");
        assert!(message.starts_with("exp.toml:1:"), "{message}");
        assert!(!message.contains('\n'));
    }
}

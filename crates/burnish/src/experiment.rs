//! The experiment file: one TOML document that says what data, which model, how to train.
//!
//! Every key has a default except `name`, `data.path` (or `data.tokens`) and `data.target`.
//! Unknown keys, wrong types and impossible values are errors that name the file, the line and
//! the key. An [`Override`] (`--set train.epochs=5` on the command line) replaces one key
//! before the file is checked, and an error it causes names the override instead of a line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burnish_backend::BackendKind;
use burnish_data::{
    CategoricalEncoding, ColumnKind, NumericImputation, Scaling, Task, TextEncoderConfig,
    Tokenizer, Truncation, VocabularyConfig,
};
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
    /// A `--set` override cannot be applied, or gives a key a value that is not allowed.
    #[error("--set `{key}`: {message}")]
    Override {
        /// The dotted key of the override at fault.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// One `--set key=value` override: a dotted key path and the TOML value to put there.
///
/// The value is read as a TOML value (`5`, `0.01`, `[32, 32]`, `true`, `"text"`), and as a
/// bare string when it is not one (`backend=wgpu`).
///
/// ```
/// use burnish::experiment::Override;
/// let lr: Override = "train.optimizer.lr=0.01".parse()?;
/// assert_eq!(lr.path, ["train", "optimizer", "lr"]);
/// assert_eq!(lr.value, toml::Value::Float(0.01));
/// let backend: Override = "backend=wgpu".parse()?;
/// assert_eq!(backend.value, toml::Value::String("wgpu".into()));
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// The key's path from the top of the file: `["train", "optimizer", "lr"]`.
    pub path: Vec<String>,
    /// The value to put there.
    pub value: toml::Value,
}

impl Override {
    /// The dotted key, as written on the command line.
    pub fn key(&self) -> String {
        self.path.join(".")
    }
}

impl std::str::FromStr for Override {
    type Err = String;

    fn from_str(assignment: &str) -> Result<Self, String> {
        let Some((key, value)) = assignment.split_once('=') else {
            return Err(format!(
                "`{assignment}` is not KEY=VALUE (for example train.epochs=5)"
            ));
        };
        let path: Vec<String> = key.split('.').map(|part| part.trim().to_string()).collect();
        if path.iter().any(String::is_empty) {
            return Err(format!(
                "`{key}` is not a dotted key (for example train.optimizer.lr)"
            ));
        }
        Ok(Self {
            path,
            value: parse_override_value(value.trim()),
        })
    }
}

/// `text` as a TOML value, or as a string when it is not one.
fn parse_override_value(text: &str) -> toml::Value {
    let parsed = format!("value = {text}").parse::<toml::Table>();
    match parsed {
        Ok(mut table) if table.len() == 1 => table
            .remove("value")
            .unwrap_or_else(|| toml::Value::String(text.to_string())),
        _ => toml::Value::String(text.to_string()),
    }
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
    /// Data-parallel training: the backend's devices every training batch is split across,
    /// by index (`[0, 1]`: two GPUs; wgpu numbers discrete GPUs). Empty, the default, trains
    /// on the backend's default device. Validation, tests and predictions run on the first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<usize>,
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
    /// The CSV, TSV or text file; a relative path is looked up from the working directory,
    /// then from the experiment file's folder. Empty when `tokens` is given instead.
    #[serde(default, skip_serializing_if = "path_is_empty")]
    pub path: PathBuf,
    /// A language model's token files: a folder written by `burnish prepare-text`
    /// (`train.bin`, `valid.bin`, `meta.json`), read by position instead of loading a text
    /// file; looked up as `path` is. The tokenizer and the held-out share are those of its
    /// `meta.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<PathBuf>,
    /// The column to predict (not used by a language model, which predicts the text itself).
    #[serde(default)]
    pub target: String,
    /// `classification` or `regression`.
    #[serde(default = "default_task")]
    pub task: Task,
    /// The field delimiter, one character (`","`, `";"`, `"\t"`, `"|"`); without it, tab for
    /// `.tsv` and `.tab` files and comma otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<Delimiter>,
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
    /// A text column read as token ids (for the recurrent and transformer models), for
    /// example `text = { column = "text", tokenizer = { kind = "word", lowercase = true },
    /// max_len = 64 }`; without it, the model reads the preprocessed feature columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextSection>,
    /// Train a language model on a plain-text file (`path`) instead of a classifier or
    /// regressor on a table, for example `language_model = { tokenizer = { kind = "char" },
    /// context = 64 }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_model: Option<LanguageModelSection>,
    /// Forecast the `target` column as a time series instead of predicting it from the other
    /// columns, for example `series = { lookback = 24, horizon = 1 }`: the rows are time
    /// steps in order, split chronologically (train, then valid, then test).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<SeriesSection>,
}

fn path_is_empty(path: &Path) -> bool {
    path.as_os_str().is_empty()
}

/// A path of the experiment file `experiment_path` as found from here: as written when it
/// exists from the working folder (or is absolute), else beside the experiment file when it
/// exists there, else as written (so that the error names it as the user wrote it).
pub fn beside(path: &Path, experiment_path: &Path) -> PathBuf {
    if path.is_absolute() || path.exists() {
        return path.to_path_buf();
    }
    match experiment_path.parent() {
        Some(folder) if folder.join(path).exists() => folder.join(path),
        _ => path.to_path_buf(),
    }
}

/// `data.delimiter`: one ASCII character that separates fields, written as a one-character
/// string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delimiter(pub u8);

impl Serialize for Delimiter {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&char::from(self.0).to_string())
    }
}

impl<'de> Deserialize<'de> for Delimiter {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        match text.as_bytes() {
            [byte] if byte.is_ascii() && !matches!(byte, b'"' | b'\n' | b'\r') => Ok(Self(*byte)),
            _ => Err(serde::de::Error::custom(format!(
                "expected one ASCII character other than a quote or a line break, such as \",\", \";\", \"\\t\" or \"|\"; found {text:?}"
            ))),
        }
    }
}

/// The `series` table of `[data]`: the windows a forecaster reads and predicts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesSection {
    /// Past values the model reads for each forecast.
    pub lookback: usize,
    /// Future values it predicts, one step ahead and on.
    #[serde(default = "default_horizon")]
    pub horizon: usize,
}

fn default_horizon() -> usize {
    1
}

/// The `language_model` table of `[data]`: how the text file becomes a stream of token ids
/// and which part is held out. The model learns to predict every next token. With
/// `data.tokens`, the tokenizer and the held-out share are those the token files were made
/// with, and setting them here is an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LanguageModelSection {
    /// How the text is cut into tokens; characters, case kept, when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer: Option<Tokenizer>,
    /// Tokens the model sees at once (the training windows' length).
    #[serde(default = "default_context")]
    pub context: usize,
    /// The share at the end of the text held out to measure the validation loss; 0.1 when not
    /// given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid: Option<f64>,
}

impl LanguageModelSection {
    /// The tokenizer of a text file: the one given, or characters with case kept.
    pub fn tokenizer_or_default(&self) -> Tokenizer {
        self.tokenizer
            .unwrap_or(Tokenizer::Char { lowercase: false })
    }

    /// The held-out share of a text file: the one given, or 0.1 as nanoGPT holds out.
    pub fn valid_or_default(&self) -> f64 {
        self.valid.unwrap_or(0.1)
    }
}

fn default_context() -> usize {
    64
}

/// The `text` table of `[data]`: which column holds the text, and how it becomes ids. The
/// tokenizer and vocabulary are fitted on the training rows only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextSection {
    /// The text column.
    pub column: String,
    /// How texts are cut into tokens: `{ kind = "word" | "char", lowercase }`.
    #[serde(default)]
    pub tokenizer: Tokenizer,
    /// How the vocabulary is built: `{ min_freq, max_size }`.
    #[serde(default)]
    pub vocabulary: VocabularyConfig,
    /// Ids per row: longer texts are cut, shorter ones padded.
    #[serde(default = "default_max_len")]
    pub max_len: usize,
    /// Which end of a longer text is cut: `tail` (the default) or `head`.
    #[serde(default)]
    pub truncation: Truncation,
}

fn default_max_len() -> usize {
    TextEncoderConfig::default().max_len
}

impl TextSection {
    /// The encoder settings of this section.
    pub fn encoder_config(&self) -> TextEncoderConfig {
        TextEncoderConfig {
            tokenizer: self.tokenizer,
            vocabulary: self.vocabulary.clone(),
            max_len: self.max_len,
            truncation: self.truncation,
        }
    }
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

    /// Reads an experiment file, applies `overrides` in order, and checks the result as a
    /// whole, exactly as if the overrides had been written in the file.
    pub fn load_with_overrides(
        path: &Path,
        overrides: &[Override],
    ) -> Result<Self, ExperimentError> {
        let text = std::fs::read_to_string(path).map_err(|source| ExperimentError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse_with_overrides(&text, path, overrides)
    }

    /// Parses experiment text; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ExperimentError> {
        let deserializer = toml::Deserializer::parse(text).map_err(|error| {
            invalid_at(text, path, error.span(), String::new(), error.message())
        })?;
        serde_path_to_error::deserialize(deserializer).map_err(|error| {
            let key = key_prefix(error.path());
            let inner = error.into_inner();
            invalid_at(text, path, inner.span(), key, inner.message())
        })
    }

    /// Parses experiment text with `overrides` applied. An error at a key an override set (or
    /// inside it) names the override; any other error is the file's own, with its line.
    ///
    /// The overrides go onto the file as written, so that `train.optimizer.kind=sgd` replaces
    /// the kind the file chose; when that fails, they go onto the file with every default
    /// written out, so that `train.optimizer.lr=0.01` also works in a file that leaves the
    /// whole optimizer to its default.
    pub fn parse_with_overrides(
        text: &str,
        path: &Path,
        overrides: &[Override],
    ) -> Result<Self, ExperimentError> {
        if overrides.is_empty() {
            return Self::parse(text, path);
        }
        let document = text.parse::<toml::Table>().map_err(|error| {
            invalid_at(text, path, error.span(), String::new(), error.message())
        })?;
        let as_written = with_overrides(document, overrides)?;
        let error = match serde_path_to_error::deserialize(as_written) {
            Ok(experiment) => return Ok(experiment),
            Err(error) => error,
        };
        if let Ok(file_alone) = Self::parse(text, path)
            && let Ok(resolved) = file_alone.to_toml().parse::<toml::Table>()
            && let Ok(experiment) = Self::deserialize(with_overrides(resolved, overrides)?)
        {
            return Ok(experiment);
        }

        let error_keys: Vec<&str> = error
            .path()
            .iter()
            .filter_map(|segment| match segment {
                serde_path_to_error::Segment::Map { key } => Some(key.as_str()),
                _ => None,
            })
            .collect();
        let key = key_prefix(error.path());
        let message = one_line(error.inner().message());
        let culprit = overrides.iter().rev().find(|assignment| {
            !error_keys.is_empty()
                && error_keys
                    .iter()
                    .zip(&assignment.path)
                    .all(|(error_key, key)| error_key == key)
        });
        Err(match culprit {
            Some(assignment) => ExperimentError::Override {
                key: assignment.key(),
                message: if error_keys == assignment.path {
                    message
                } else {
                    format!("{key}{message}")
                },
            },
            // The file itself is at fault: report it with its line, as without overrides.
            None => Self::parse(text, path)
                .err()
                .unwrap_or(ExperimentError::Invalid {
                    path: path.to_path_buf(),
                    line: 1,
                    column: 1,
                    key,
                    message: format!("{message} (with the --set overrides)"),
                }),
        })
    }

    /// The data file, or the folder of token files, resolved as [`DataSection::path`] says.
    /// Fails, naming `experiment_path`, unless exactly one of `data.path` and `data.tokens` is
    /// given, and `data.tokens` only for a language model.
    pub fn data_path(&self, experiment_path: &Path) -> anyhow::Result<PathBuf> {
        let shown = experiment_path.display();
        match (&self.data.tokens, path_is_empty(&self.data.path)) {
            (None, true) => anyhow::bail!(
                "{shown}: `[data]` needs `path` (a CSV, TSV or text file) or, for a language \
                 model, `tokens` (a folder written by `burnish prepare-text`)"
            ),
            (Some(_), false) => anyhow::bail!(
                "{shown}: `data.path` and `data.tokens` are both set; give one: `tokens` \
                 already holds the text, tokenized"
            ),
            (Some(tokens), true) => {
                let Some(section) = &self.data.language_model else {
                    anyhow::bail!(
                        "{shown}: `data.tokens` is for a language model; add \
                         `language_model = {{ context = 64 }}` to `[data]`"
                    );
                };
                for (key, given) in [
                    ("tokenizer", section.tokenizer.is_some()),
                    ("valid", section.valid.is_some()),
                ] {
                    anyhow::ensure!(
                        !given,
                        "{shown}: remove `data.language_model.{key}`: with `data.tokens` it \
                         comes from the token files' meta.json"
                    );
                }
                Ok(beside(tokens, experiment_path))
            }
            (None, false) => Ok(beside(&self.data.path, experiment_path)),
        }
    }

    /// The experiment as TOML, with every default written out.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("an experiment always serialises to TOML")
    }
}

/// `document` with every override applied in order, as a value to deserialize.
fn with_overrides(
    mut document: toml::Table,
    overrides: &[Override],
) -> Result<toml::Value, ExperimentError> {
    for assignment in overrides {
        apply_override(&mut document, assignment)?;
    }
    Ok(toml::Value::Table(document))
}

/// Puts `assignment.value` at `assignment.path` in `document`, making the tables on the way.
fn apply_override(
    document: &mut toml::Table,
    assignment: &Override,
) -> Result<(), ExperimentError> {
    let (last, parents) = assignment
        .path
        .split_last()
        .expect("an override has at least one key");
    let mut table = document;
    for (depth, key) in parents.iter().enumerate() {
        let entry = table
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = match entry {
            toml::Value::Table(inner) => inner,
            other => {
                return Err(ExperimentError::Override {
                    key: assignment.key(),
                    message: format!(
                        "`{}` holds `{other}`, not a table",
                        parents[..=depth].join(".")
                    ),
                });
            }
        };
    }
    table.insert(last.clone(), assignment.value.clone());
    Ok(())
}

/// "`key`: " for an error at `path`, or nothing at the top of the file.
fn key_prefix(path: &serde_path_to_error::Path) -> String {
    let key = path.to_string();
    if key == "." || key.is_empty() {
        String::new()
    } else {
        format!("`{key}`: ")
    }
}

/// A parser's message on one line, its list of expected keys or values replaced by the
/// nearest one ("did you mean `epochs`?") or, when none is near, cut to a readable length.
fn one_line(message: &str) -> String {
    let message = message.trim().replace('\n', " ");
    let Some((unknown, expected)) = message.split_once(", expected ") else {
        return message;
    };
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    let Some(name) = unknown.split('`').nth(1) else {
        return message;
    };
    if candidates.len() < 2 {
        return message;
    }
    let nearest = candidates
        .iter()
        .map(|candidate| (edit_distance(name, candidate), *candidate))
        .min_by_key(|&(distance, _)| distance)
        .filter(|&(distance, _)| distance <= (name.chars().count() / 3).max(2));
    match nearest {
        Some((_, candidate)) => format!("{unknown}; did you mean `{candidate}`?"),
        None => {
            let mut listed = String::new();
            for (index, candidate) in candidates.iter().enumerate() {
                if index > 0 && listed.len() >= LISTED_KEYS_CHARS {
                    listed.push_str(&format!(", … ({} in all)", candidates.len()));
                    break;
                }
                if index > 0 {
                    listed.push_str(", ");
                }
                listed.push_str(&format!("`{candidate}`"));
            }
            format!("{unknown}, expected one of {listed}")
        }
    }
}

/// About how long a list of expected keys in a message grows before it is cut.
const LISTED_KEYS_CHARS: usize = 80;

/// The number of single-character insertions, deletions and substitutions from `a` to `b`.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, a_char) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, &b_char) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(a_char != b_char);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

fn invalid_at(
    text: &str,
    path: &Path,
    span: Option<std::ops::Range<usize>>,
    key: String,
    message: &str,
) -> ExperimentError {
    let (line, column) = span.map_or((1, 1), |span| line_and_column(text, span.start));
    ExperimentError::Invalid {
        path: path.to_path_buf(),
        line,
        column,
        key,
        message: one_line(message),
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

    #[test]
    fn an_unknown_key_names_the_nearest_one_or_a_short_list() {
        let expected = "expected one of `epochs`, `max_steps`, `batch_size`, `drop_last`, \
                        `optimizer`, `schedule`, `early_stopping`, `reduce_on_plateau`, \
                        `grad_clip_norm`, `label_smoothing`, `class_weights`";
        assert_eq!(
            one_line(&format!("unknown field `epohcs`, {expected}")),
            "unknown field `epohcs`; did you mean `epochs`?"
        );
        let far = one_line(&format!("unknown field `colour`, {expected}"));
        assert!(
            far.starts_with("unknown field `colour`, expected one of `epochs`, "),
            "{far}"
        );
        assert!(far.ends_with("(11 in all)"), "{far}");
        assert!(far.len() < 150, "{far}");
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(
            one_line("invalid type: string \"32\", expected usize"),
            "invalid type: string \"32\", expected usize"
        );
    }

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

    fn with_overrides(text: &str, overrides: &[&str]) -> Result<Experiment, ExperimentError> {
        let overrides: Vec<Override> = overrides
            .iter()
            .map(|assignment| assignment.parse().unwrap())
            .collect();
        Experiment::parse_with_overrides(text, Path::new("exp.toml"), &overrides)
    }

    #[test]
    fn overrides_replace_and_add_keys_of_any_depth() {
        let experiment = with_overrides(
            MINIMAL,
            &[
                "seed=7",
                "train.epochs=5",
                "model.kind=mlp",
                "model.hidden=[32, 32]",
                "train.optimizer.lr=0.01",
                "backend=ndarray",
                "data.split.valid = 0.2",
                "data.split.test=0.1",
            ],
        )
        .unwrap();
        assert_eq!(experiment.seed, 7);
        assert_eq!(experiment.train.epochs, 5);
        assert_eq!(experiment.train.optimizer.lr(), 0.01);
        assert_eq!(experiment.backend, BackendKind::Ndarray);
        assert_eq!(experiment.data.split.valid, 0.2);
        assert!(
            experiment
                .to_toml()
                .contains("hidden = [\n    32,\n    32,\n]")
        );
    }

    #[test]
    fn an_override_can_change_the_kind_the_file_chose() {
        let text = format!("{MINIMAL}[train]\noptimizer = {{ kind = \"adam\", lr = 0.1 }}\n");
        let experiment = with_overrides(&text, &["train.optimizer.kind=sgd"]).unwrap();
        assert!(
            matches!(
                experiment.train.optimizer,
                burnish_train::OptimizerSpec::Sgd { lr, .. } if lr == 0.1
            ),
            "{:?}",
            experiment.train.optimizer
        );
    }

    #[test]
    fn a_later_override_wins() {
        let experiment = with_overrides(MINIMAL, &["seed=7", "seed=8"]).unwrap();
        assert_eq!(experiment.seed, 8);
    }

    #[test]
    fn an_unknown_override_key_names_the_override() {
        let message = with_overrides(MINIMAL, &["train.epohcs=5"])
            .unwrap_err()
            .to_string();
        assert!(
            message.starts_with("--set `train.epohcs`: unknown field `epohcs`"),
            "{message}"
        );
    }

    #[test]
    fn a_wrongly_typed_override_names_the_override() {
        let message = with_overrides(MINIMAL, &["train.epochs=many"])
            .unwrap_err()
            .to_string();
        assert!(
            message.starts_with("--set `train.epochs`: invalid type: string"),
            "{message}"
        );
    }

    #[test]
    fn an_override_through_a_value_names_the_override() {
        let message = with_overrides(&format!("seed = 42\n{MINIMAL}"), &["seed.x=1"])
            .unwrap_err()
            .to_string();
        assert_eq!(message, "--set `seed.x`: `seed` holds `42`, not a table");
    }

    #[test]
    fn a_file_error_keeps_its_line_when_overrides_are_given() {
        let text = format!("{MINIMAL}[train]\nepochs = 3\nepohcs = 4\n");
        let message = with_overrides(&text, &["seed=1"]).unwrap_err().to_string();
        assert!(
            message.starts_with("exp.toml:7:1: `train.epohcs`: unknown field"),
            "{message}"
        );
    }

    #[test]
    fn an_override_needs_an_equals_sign_and_a_key() {
        assert!("train.epochs".parse::<Override>().is_err());
        assert!("train..epochs=1".parse::<Override>().is_err());
        assert!("=1".parse::<Override>().is_err());
    }

    #[test]
    fn syntax_error_names_the_line() {
        let message = error_of("name = \n");
        assert!(message.starts_with("exp.toml:1:"), "{message}");
        assert!(!message.contains('\n'));
    }
}

//! The one error type of `burnish-data`.
//!
//! Every variant names what a user needs to fix the input: the file, and where it applies the
//! 1-based line and the column. Messages are one line with no trailing period, so a binary can
//! print the chain as it is. This module only describes failures; it never reads or decides.

use std::path::{Path, PathBuf};

use crate::excerpt::{column_list, quoted};

/// Everything that can go wrong while reading, inferring, preprocessing or splitting data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The data file does not exist.
    #[error("{}: file not found", .path.display())]
    FileNotFound {
        /// The file that was asked for.
        path: PathBuf,
    },

    /// The file exists but could not be read or written.
    #[error("{}: cannot access file", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// The file has no bytes, or only white space.
    #[error("{}: file is empty, expected a header line and data rows", .path.display())]
    EmptyFile {
        /// The file.
        path: PathBuf,
    },

    /// The file has a header line but no data rows below it.
    #[error("{}: the header has no data rows below it", .path.display())]
    NoRows {
        /// The file.
        path: PathBuf,
    },

    /// Two header fields have the same name.
    #[error(
        "{}:{line}: column name {} appears more than once in the header",
        .path.display(), quoted(.column)
    )]
    DuplicateColumn {
        /// The file.
        path: PathBuf,
        /// The line of the header.
        line: u64,
        /// The repeated name.
        column: String,
    },

    /// A row has a different number of fields than the header.
    #[error(
        "{}:{line}: expected {expected} fields as in the header, found {found}",
        .path.display()
    )]
    RaggedRow {
        /// The file.
        path: PathBuf,
        /// The line where the row starts.
        line: u64,
        /// The number of header fields.
        expected: usize,
        /// The number of fields in this row.
        found: usize,
    },

    /// A quoted field is opened and never closed before the end of the file.
    #[error("{}:{line}: unterminated quote: a quoted field starts here and is never closed", .path.display())]
    UnterminatedQuote {
        /// The file.
        path: PathBuf,
        /// The line where the quoted field starts.
        line: u64,
    },

    /// A field (or the header) is not valid UTF-8.
    #[error("{}:{line}: invalid UTF-8{}", .path.display(), in_column(.column.as_deref()))]
    InvalidUtf8 {
        /// The file.
        path: PathBuf,
        /// The line of the bad field.
        line: u64,
        /// The column of the bad field; `None` when the header itself is bad.
        column: Option<String>,
    },

    /// The file is not text: a NUL or another control byte where a CSV has none (a zip, an
    /// image or a binary file under a `.csv` name).
    #[error(
        "{}: not a text file: byte {offset} is 0x{byte:02x}, which a CSV or TSV file does not hold",
        .path.display()
    )]
    NotText {
        /// The file.
        path: PathBuf,
        /// The 0-based offset of the first such byte.
        offset: usize,
        /// The byte.
        byte: u8,
    },

    /// A token file (`train.bin`, `valid.bin`) or its `meta.json` does not hold what it should.
    #[error("{}: {reason}", .path.display())]
    TokenFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// A text file holds bytes that are not UTF-8.
    #[error("{}: not UTF-8 text: byte {offset} starts an invalid sequence", .path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// The 0-based offset of the first byte that is not part of a valid character.
        offset: u64,
    },

    /// The header reads as one column whose name holds another delimiter: the file is
    /// separated by that, not by the delimiter it was read with.
    #[error(
        "{}: the header is one column, {}: the file looks delimited by {:?}; set data.delimiter = {:?}",
        .path.display(), quoted(.header), char::from(*.found), char::from(*.found).to_string()
    )]
    WrongDelimiter {
        /// The file.
        path: PathBuf,
        /// The header line as one name.
        header: String,
        /// The delimiter the header holds.
        found: u8,
    },

    /// A classification target has one class only, in the whole file or in the rows a model
    /// is fitted on.
    #[error(
        "{}: target column {} has only one class, {}, in {}; a classifier needs at least two",
        .path.display(), quoted(.column), quoted(.class), .rows
    )]
    SingleClass {
        /// The file.
        path: PathBuf,
        /// The target column.
        column: String,
        /// The one class found.
        class: String,
        /// Which rows: "all 120 rows", "the 84 training rows".
        rows: String,
    },

    /// The target column is not in the table.
    #[error(
        "{}: target column {} not found; {}",
        .path.display(), quoted(.target), column_list(.available)
    )]
    UnknownTarget {
        /// The file.
        path: PathBuf,
        /// The name that was asked for.
        target: String,
        /// The columns the table has.
        available: Vec<String>,
    },

    /// A column named in an option (`column_kinds`, `drop_columns`) is not in the file.
    #[error(
        "{}: column {} named in {option} not found; {}",
        .path.display(), quoted(.column), column_list(.available)
    )]
    UnknownColumn {
        /// The file.
        path: PathBuf,
        /// The name that was asked for.
        column: String,
        /// The option that named it.
        option: &'static str,
        /// The columns the file has.
        available: Vec<String>,
    },

    /// Every field of a column whose kind had to be inferred is missing.
    #[error(
        "{}: column {} has no values at all (every field is missing); drop it or declare its kind",
        .path.display(), quoted(.column)
    )]
    EmptyColumn {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
    },

    /// A field of a numeric column (declared, or needed as a number) is not a finite number.
    #[error(
        "{}:{line}: column {}: expected a number, found {}",
        .path.display(), quoted(.column), quoted(.value)
    )]
    NotANumber {
        /// The file.
        path: PathBuf,
        /// The line of the field.
        line: u64,
        /// The column.
        column: String,
        /// The text of the field.
        value: String,
    },

    /// A class has too few members to be spread over the parts of a stratified split.
    #[error(
        "{}class {} has {count} member{}, stratification needs at least {needed} per class",
        file_prefix(.path.as_deref()), quoted(.class), if *.count == 1 { "" } else { "s" }
    )]
    ClassTooSmall {
        /// The file the labels came from, when known (see [`Error::with_path`]).
        path: Option<PathBuf>,
        /// The class.
        class: String,
        /// How many rows have it.
        count: usize,
        /// How many it would need.
        needed: usize,
    },

    /// The target column has a missing value in a row that needs one.
    #[error(
        "{}:{line}: target column {} has a missing value",
        .path.display(), quoted(.column)
    )]
    MissingTarget {
        /// The file.
        path: PathBuf,
        /// The line of the row.
        line: u64,
        /// The target column.
        column: String,
    },

    /// The target has a class that the fitted label encoder does not know.
    #[error(
        "{}:{line}: target column {} has class {}, which the training data did not have",
        .path.display(), quoted(.column), quoted(.class)
    )]
    UnseenClass {
        /// The file.
        path: PathBuf,
        /// The line of the row.
        line: u64,
        /// The target column.
        column: String,
        /// The unknown class.
        class: String,
    },

    /// A feature column has a missing value, and the preprocessor was fitted to drop such rows.
    #[error(
        "{}:{line}: column {} has a missing value and missing = \"drop\"; remove such rows first (Table::without_missing)",
        .path.display(), quoted(.column)
    )]
    MissingValue {
        /// The file.
        path: PathBuf,
        /// The line of the row.
        line: u64,
        /// The column.
        column: String,
    },

    /// A column that the fitted preprocessor uses is not in the table.
    #[error(
        "{}: column {}, used by the fitted preprocessor, is not in the file",
        .path.display(), quoted(.column)
    )]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
    },

    /// A column has another kind than when the preprocessor was fitted.
    #[error(
        "{}: column {} was {expected} when the preprocessor was fitted but reads as {found}; read the file with Preprocessor::column_kinds",
        .path.display(), quoted(.column)
    )]
    KindMismatch {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
        /// The kind at fit time.
        expected: crate::ColumnKind,
        /// The kind in this table.
        found: crate::ColumnKind,
    },

    /// There are no rows to fit on.
    #[error("{}: no rows to fit the preprocessor on", .path.display())]
    NoTrainingRows {
        /// The file.
        path: PathBuf,
    },

    /// Split ratios are negative, or do not sum to 1.
    #[error(
        "split ratios train = {train}, valid = {valid}, test = {test} must each lie in [0, 1], train above 0, and sum to 1 (they sum to {})",
        rounded(.train + .valid + .test)
    )]
    InvalidRatios {
        /// The train ratio.
        train: f64,
        /// The validation ratio.
        valid: f64,
        /// The test ratio.
        test: f64,
    },

    /// A split leaves the training part empty.
    #[error("{n_rows} rows are too few to split: the training part would be empty")]
    TooFewRows {
        /// The number of rows.
        n_rows: usize,
    },

    /// A fold count that cannot be used.
    #[error("k = {k} folds needs 2 <= k <= the number of rows ({n_rows})")]
    InvalidFolds {
        /// The number of folds asked for.
        k: usize,
        /// The number of rows.
        n_rows: usize,
    },

    /// The labels given for stratification do not match the rows.
    #[error("stratify_by has {n_labels} labels for {n_rows} rows")]
    LabelCountMismatch {
        /// The number of rows.
        n_rows: usize,
        /// The number of labels.
        n_labels: usize,
    },

    /// A saved preprocessor is not valid JSON of the expected shape.
    #[error("{}: not a valid preprocessor file", .path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// What the JSON parser said.
        #[source]
        source: serde_json::Error,
    },

    /// A saved preprocessor was written by an incompatible version.
    #[error("{}: preprocessor format version {found}, expected {expected}", .path.display())]
    FormatVersion {
        /// The file.
        path: PathBuf,
        /// The version in the file.
        found: u32,
        /// The version this build reads.
        expected: u32,
    },

    /// A parameter of a text, series or image config has an impossible value.
    #[error("invalid {field}: {reason}")]
    InvalidParameter {
        /// The config key, as written in TOML.
        field: &'static str,
        /// What the value must be, and what it was.
        reason: String,
    },

    /// No token of the training texts is frequent enough to enter the vocabulary.
    #[error(
        "the vocabulary is empty: none of the {n_distinct} distinct tokens of the training texts occurs at least min_freq = {min_freq} times"
    )]
    EmptyVocabulary {
        /// The least number of occurrences a token needs.
        min_freq: usize,
        /// How many distinct tokens the training texts have.
        n_distinct: usize,
    },

    /// A token is not in a vocabulary that has no `<unk>` token (a character language
    /// model's, for example) and so cannot be encoded.
    #[error(
        "token {} is not in the vocabulary, which has no <unk> token to stand for it",
        quoted(.token)
    )]
    UnknownToken {
        /// The token.
        token: String,
    },

    /// A checkpoint's `tokenizer.json` cannot be read as a tokenizer, or cannot encode at the
    /// configured length.
    #[error("{}: {reason}", .path.display())]
    PretrainedTokenizer {
        /// The `tokenizer.json` file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// A series (or a span of it) is shorter than one window.
    #[error(
        "{what} has {found} values, too few for one window of lookback {lookback} + horizon {horizon} = {} values",
        .lookback + .horizon
    )]
    SeriesTooShort {
        /// Which values: "the series", or a span with its context.
        what: String,
        /// How many values there are.
        found: usize,
        /// The input length of a window.
        lookback: usize,
        /// The target length of a window.
        horizon: usize,
    },

    /// The number of pixel columns does not match the image shape.
    #[error(
        "image shape {shape} (channels x height x width) needs {expected} pixel columns, found {found}"
    )]
    ImageShapeMismatch {
        /// The configured shape.
        shape: crate::ImageShape,
        /// `channels * height * width`.
        expected: usize,
        /// The number of feature columns given.
        found: usize,
    },
}

impl Error {
    /// The error of a failed open or read of `path`: [`Error::FileNotFound`] when it does not
    /// exist, [`Error::Io`] with the system's reason otherwise.
    pub(crate) fn reading(path: &Path, source: std::io::Error) -> Self {
        match source.kind() {
            std::io::ErrorKind::NotFound => Error::FileNotFound {
                path: path.to_path_buf(),
            },
            _ => Error::Io {
                path: path.to_path_buf(),
                source,
            },
        }
    }

    /// Names the file for errors that were raised without one.
    ///
    /// The split functions see only labels, not the table they came from; the caller who knows
    /// the file attaches it here so that the message names it:
    ///
    /// ```
    /// # use burnish_data::{Error, stratified_k_fold};
    /// # use std::path::Path;
    /// let labels = vec!["a".to_string(), "a".to_string(), "b".to_string()];
    /// let error = stratified_k_fold(&labels, 2, 7)
    ///     .map_err(|error| error.with_path(Path::new("data.csv")))
    ///     .unwrap_err();
    /// assert!(error.to_string().starts_with("data.csv: class \"b\""));
    /// ```
    #[must_use]
    pub fn with_path(self, file: &Path) -> Self {
        match self {
            Error::ClassTooSmall {
                path: None,
                class,
                count,
                needed,
            } => Error::ClassTooSmall {
                path: Some(file.to_path_buf()),
                class,
                count,
                needed,
            },
            other => other,
        }
    }
}

/// A sum of ratios as a person would write it: 0.7 + 0.2 + 0.2 is 1.1, not 1.0999999999999999.
fn rounded(value: f64) -> f64 {
    (value * 1e9).round() / 1e9
}

fn in_column(column: Option<&str>) -> String {
    match column {
        Some(column) => format!(" in column {}", quoted(column)),
        None => " in the header".to_string(),
    }
}

fn file_prefix(path: Option<&Path>) -> String {
    match path {
        Some(path) => format!("{}: ", path.display()),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_column_lists_are_abbreviated() {
        let available: Vec<String> = (0..15).map(|index| format!("column_{index}")).collect();
        let error = Error::UnknownTarget {
            path: PathBuf::from("x.csv"),
            target: "y".into(),
            available,
        };
        let message = error.to_string();
        assert!(message.ends_with(" (15 in all)"), "{message}");
        assert!(!message.contains("column_14"), "{message}");
        assert!(!message.ends_with('.'));
    }

    #[test]
    fn with_path_names_the_file_once() {
        let error = Error::ClassTooSmall {
            path: None,
            class: "x".into(),
            count: 1,
            needed: 2,
        };
        assert_eq!(
            error.to_string(),
            "class \"x\" has 1 member, stratification needs at least 2 per class"
        );
        let error = error.with_path(Path::new("a.csv"));
        assert_eq!(
            error.to_string(),
            "a.csv: class \"x\" has 1 member, stratification needs at least 2 per class"
        );
    }
}

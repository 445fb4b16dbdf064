//! Column kinds and the rule that infers them from the fields of a file.
//!
//! The rule, applied to each column whose kind the user did not declare:
//!
//! 1. Fields are trimmed of surrounding ASCII white space. A field equal to one of the missing
//!    markers (by default the empty field, `NA`, `NaN`, `null` and `?`) is missing, and so is
//!    a field that parses as NaN.
//! 2. If every remaining field parses as a finite `f64`, the column is [`ColumnKind::Numeric`].
//!    A column where every field is missing is an error ([`crate::Error::EmptyColumn`]): there
//!    is nothing to infer from.
//! 3. Otherwise, with `distinct` the number of distinct non-missing values and `n_rows` the
//!    number of rows: `distinct <= max(20, n_rows / 20)` (at most 5% of the rows) makes it
//!    [`ColumnKind::Categorical`], and more distinct values make it [`ColumnKind::Text`]
//!    (sentences, names, identifiers).
//!
//! A declared kind (`ReadOptions::column_kinds`) skips inference: a declared numeric column
//! must parse (else [`crate::Error::NotANumber`]), and a declared column may be all missing.
//! This module decides kinds; it does not read files.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::table::StringValues;

/// What a column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnKind {
    /// Numbers, as `f64`; a missing value is NaN.
    Numeric,
    /// A small set of labels (`island`, `sex`), one-hot or ordinal encoded.
    Categorical,
    /// Free text (sentences, names): left to tokenizers, not to the tabular preprocessor.
    Text,
}

impl fmt::Display for ColumnKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            ColumnKind::Numeric => "numeric",
            ColumnKind::Categorical => "categorical",
            ColumnKind::Text => "text",
        })
    }
}

/// The missing-value markers used when `ReadOptions` does not name others.
pub const DEFAULT_MISSING_MARKERS: [&str; 5] = ["", "NA", "NaN", "null", "?"];

/// The fewest distinct values that always count as categorical.
pub const MIN_CATEGORICAL_DISTINCT: usize = 20;

/// The kind of a column of strings with `distinct` distinct values among `n_rows` rows.
///
/// ```
/// use burnish_data::{ColumnKind, infer_string_kind};
/// assert_eq!(infer_string_kind(3, 344), ColumnKind::Categorical);
/// assert_eq!(infer_string_kind(10_000, 10_662), ColumnKind::Text);
/// ```
pub fn infer_string_kind(distinct: usize, n_rows: usize) -> ColumnKind {
    if distinct <= MIN_CATEGORICAL_DISTINCT.max(n_rows / 20) {
        ColumnKind::Categorical
    } else {
        ColumnKind::Text
    }
}

/// The markers as bytes, ready to compare with trimmed fields.
#[derive(Clone, Debug)]
pub(crate) struct MissingMarkers {
    markers: Vec<Vec<u8>>,
}

impl MissingMarkers {
    pub(crate) fn new(markers: &[String]) -> Self {
        Self {
            markers: markers
                .iter()
                .map(|marker| marker.trim_ascii().as_bytes().to_vec())
                .collect(),
        }
    }

    /// Whether a trimmed field is a marker.
    pub(crate) fn contains(&self, field: &[u8]) -> bool {
        self.markers.iter().any(|marker| marker == field)
    }
}

/// What a field of a numeric column turned out to be.
pub(crate) enum NumericField {
    Missing,
    Number(f64),
    NotANumber,
}

/// Parses a trimmed, non-marker field as a number; NaN counts as missing, infinities do not
/// count as numbers (scalers cannot use them).
pub(crate) fn parse_number(field: &str) -> NumericField {
    match field.parse::<f64>() {
        Ok(number) if number.is_nan() => NumericField::Missing,
        Ok(number) if number.is_finite() => NumericField::Number(number),
        _ => NumericField::NotANumber,
    }
}

/// Interns strings: each distinct value is stored once and rows hold its index.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    lookup: HashMap<String, u32>,
    dictionary: Vec<String>,
}

impl Interner {
    pub(crate) fn intern(&mut self, value: &str) -> u32 {
        if let Some(&code) = self.lookup.get(value) {
            return code;
        }
        let code = u32::try_from(self.dictionary.len())
            .ok()
            .filter(|&code| code != StringValues::MISSING)
            .expect("fewer than 2^32 - 1 distinct values in one column");
        self.lookup.insert(value.to_owned(), code);
        self.dictionary.push(value.to_owned());
        code
    }

    pub(crate) fn len(&self) -> usize {
        self.dictionary.len()
    }

    pub(crate) fn into_dictionary(self) -> Arc<[String]> {
        self.dictionary.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_is_missing_and_infinity_is_not_a_number() {
        assert!(matches!(parse_number("nan"), NumericField::Missing));
        assert!(matches!(parse_number("inf"), NumericField::NotANumber));
        assert!(matches!(parse_number("1e400"), NumericField::NotANumber));
        assert!(matches!(parse_number("-2.5e3"), NumericField::Number(x) if x == -2500.0));
        assert!(matches!(parse_number("abc"), NumericField::NotANumber));
    }

    #[test]
    fn categorical_threshold_is_the_larger_of_twenty_and_five_percent() {
        assert_eq!(infer_string_kind(20, 10), ColumnKind::Categorical);
        assert_eq!(infer_string_kind(21, 10), ColumnKind::Text);
        assert_eq!(infer_string_kind(50, 1000), ColumnKind::Categorical);
        assert_eq!(infer_string_kind(51, 1000), ColumnKind::Text);
    }

    #[test]
    fn markers_compare_trimmed() {
        let markers = MissingMarkers::new(&[" NA ".to_string(), String::new()]);
        assert!(markers.contains(b"NA"));
        assert!(markers.contains(b""));
        assert!(!markers.contains(b"na"));
    }

    #[test]
    fn interner_gives_each_value_one_code() {
        let mut interner = Interner::default();
        assert_eq!(interner.intern("a"), 0);
        assert_eq!(interner.intern("b"), 1);
        assert_eq!(interner.intern("a"), 0);
        assert_eq!(interner.len(), 2);
        assert_eq!(
            &*interner.into_dictionary(),
            &["a".to_string(), "b".to_string()]
        );
    }
}

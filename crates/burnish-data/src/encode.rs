//! Turning categories into numbers: one-hot and ordinal features, and the label encoder of a
//! classification target.
//!
//! Categories are the distinct values seen in the training rows, sorted as strings (as
//! scikit-learn's `OneHotEncoder` and `OrdinalEncoder` do). At transform time a category the
//! training rows never had is never an error: one-hot encodes it as all zeros
//! (`handle_unknown="ignore"`) and ordinal as [`UNSEEN_ORDINAL`] (-1). Class names of a target
//! are sorted too (scikit-learn's `LabelEncoder`): numerically when the target column is
//! numeric, so `2` comes before `10`, else as strings; every report uses this order. This
//! module encodes; it never reads files.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::table::{Column, ColumnData, StringValues, Table, format_number};

/// How categorical features are encoded; the TOML names are `"one_hot"` and `"ordinal"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CategoricalEncoding {
    /// One 0/1 feature per training category, named `column_category`.
    #[default]
    OneHot,
    /// One feature holding the category's index in sorted order.
    Ordinal,
}

/// The ordinal code of a category that the training rows did not have.
pub const UNSEEN_ORDINAL: f64 = -1.0;

/// The fitted categories of one categorical column and how they become features.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryEncoder {
    /// One-hot or ordinal.
    pub encoding: CategoricalEncoding,
    /// The training categories, sorted and distinct.
    pub categories: Vec<String>,
}

impl CategoryEncoder {
    /// Fits the categories that occur in `values` (plus `extra`, e.g. an imputation fill).
    pub fn fit(values: &StringValues, extra: Option<&str>, encoding: CategoricalEncoding) -> Self {
        let mut used = vec![false; values.dictionary().len()];
        for &code in values.codes() {
            if code != StringValues::MISSING {
                used[code as usize] = true;
            }
        }
        let mut categories: Vec<String> = values
            .dictionary()
            .iter()
            .zip(used)
            .filter(|(_, used)| *used)
            .map(|(category, _)| category.clone())
            .chain(extra.map(str::to_owned))
            .collect();
        categories.sort_unstable();
        categories.dedup();
        Self {
            encoding,
            categories,
        }
    }

    /// The number of features this column becomes.
    pub fn n_outputs(&self) -> usize {
        match self.encoding {
            CategoricalEncoding::OneHot => self.categories.len(),
            CategoricalEncoding::Ordinal => 1,
        }
    }

    /// The names of this column's features: `column_category` for one-hot (as scikit-learn's
    /// `get_feature_names_out`), the column's name for ordinal.
    pub fn feature_names(&self, column: &str) -> Vec<String> {
        match self.encoding {
            CategoricalEncoding::OneHot => self
                .categories
                .iter()
                .map(|category| format!("{column}_{category}"))
                .collect(),
            CategoricalEncoding::Ordinal => vec![column.to_owned()],
        }
    }

    /// The index of a category among the training categories.
    pub fn position(&self, category: &str) -> Option<usize> {
        self.categories
            .binary_search_by(|known| known.as_str().cmp(category))
            .ok()
    }

    /// Writes the features of one category (`None`: unseen) into `out`, which holds
    /// [`CategoryEncoder::n_outputs`] values.
    pub fn encode_into(&self, position: Option<usize>, out: &mut [f32]) {
        match self.encoding {
            CategoricalEncoding::OneHot => {
                out.fill(0.0);
                if let Some(position) = position {
                    out[position] = 1.0;
                }
            }
            CategoricalEncoding::Ordinal => {
                out[0] = position.map_or(UNSEEN_ORDINAL, |position| position as f64) as f32;
            }
        }
    }
}

/// The class names of a classification target, sorted; a class's index is its label.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelEncoder {
    classes: Vec<String>,
}

impl LabelEncoder {
    /// Fits the classes of `target` in `table`: its distinct values, sorted numerically for a
    /// numeric column and as strings otherwise. A missing value is an error naming its line.
    pub fn fit(table: &Table, target: &str) -> Result<Self, Error> {
        let column = target_column(table, target)?;
        if let Some(row) = (0..table.n_rows()).find(|&row| column.is_missing(row)) {
            return Err(missing_target(table, target, row));
        }
        let classes = match column.data() {
            ColumnData::Numeric(values) => {
                let mut values = values.clone();
                values.sort_unstable_by(f64::total_cmp);
                values.dedup();
                values.into_iter().map(format_number).collect()
            }
            ColumnData::Categorical(strings) | ColumnData::Text(strings) => {
                let mut used = vec![false; strings.dictionary().len()];
                for &code in strings.codes() {
                    used[code as usize] = true;
                }
                let mut classes: Vec<String> = strings
                    .dictionary()
                    .iter()
                    .zip(used)
                    .filter(|(_, used)| *used)
                    .map(|(class, _)| class.clone())
                    .collect();
                classes.sort_unstable();
                classes.dedup();
                classes
            }
        };
        Ok(Self { classes })
    }

    /// Fails with [`Error::SingleClass`] unless the encoder has at least two classes (as
    /// scikit-learn's classifiers do). `table` and `target` name the file and the column in
    /// the message, `rows` which of its rows the classes came from: "all 344 rows".
    pub fn require_two_classes(
        &self,
        table: &Table,
        target: &str,
        rows: String,
    ) -> Result<(), Error> {
        match self.classes.as_slice() {
            [class] => Err(Error::SingleClass {
                path: table.path().to_path_buf(),
                column: target.to_owned(),
                class: class.clone(),
                rows,
            }),
            _ => Ok(()),
        }
    }

    /// A label encoder of these classes, sorted as strings.
    pub fn from_labels<S: AsRef<str>>(labels: &[S]) -> Self {
        let mut classes: Vec<String> = labels.iter().map(|label| label.as_ref().into()).collect();
        classes.sort_unstable();
        classes.dedup();
        Self { classes }
    }

    /// A label encoder of classes already sorted and distinct (as saved by a preprocessor).
    pub(crate) fn from_sorted_classes(classes: Vec<String>) -> Self {
        Self { classes }
    }

    /// The class names, in label order.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// The label of a class name.
    pub fn position(&self, class: &str) -> Option<usize> {
        self.classes.iter().position(|known| known == class)
    }

    /// The label of every row of `target` in `table`; a missing value or a class the encoder
    /// does not know is an error naming the file and the line.
    pub fn encode(&self, table: &Table, target: &str) -> Result<Vec<usize>, Error> {
        let lookup: HashMap<&str, usize> = self
            .classes
            .iter()
            .enumerate()
            .map(|(index, class)| (class.as_str(), index))
            .collect();
        let column = target_column(table, target)?;
        let unseen = |row: usize, class: &str| Error::UnseenClass {
            path: table.path().to_path_buf(),
            line: table.line(row),
            column: target.to_owned(),
            class: class.to_owned(),
        };
        match column.data() {
            ColumnData::Numeric(values) => values
                .iter()
                .enumerate()
                .map(|(row, &value)| {
                    if value.is_nan() {
                        return Err(missing_target(table, target, row));
                    }
                    let class = format_number(value);
                    lookup
                        .get(class.as_str())
                        .copied()
                        .ok_or_else(|| unseen(row, &class))
                })
                .collect(),
            ColumnData::Categorical(strings) | ColumnData::Text(strings) => {
                // Look each distinct value up once, not each row.
                let labels: Vec<Option<usize>> = strings
                    .dictionary()
                    .iter()
                    .map(|class| lookup.get(class.as_str()).copied())
                    .collect();
                strings
                    .codes()
                    .iter()
                    .enumerate()
                    .map(|(row, &code)| {
                        if code == StringValues::MISSING {
                            return Err(missing_target(table, target, row));
                        }
                        labels[code as usize]
                            .ok_or_else(|| unseen(row, &strings.dictionary()[code as usize]))
                    })
                    .collect()
            }
        }
    }
}

/// The raw labels of `target`, one per row, as strings (numbers printed shortest: `3`,
/// `0.5`): what stratified splits group by before anything is fitted.
///
/// A missing label is an error naming the file and the line; an unknown column is an error
/// listing the available ones.
pub fn target_labels(table: &Table, target: &str) -> Result<Vec<String>, Error> {
    let column = target_column(table, target)?;
    (0..table.n_rows())
        .map(|row| {
            column
                .text_at(row)
                .ok_or_else(|| missing_target(table, target, row))
        })
        .collect()
}

fn target_column<'a>(table: &'a Table, target: &str) -> Result<&'a Column, Error> {
    table.column(target).ok_or_else(|| Error::UnknownTarget {
        path: table.path().to_path_buf(),
        target: target.to_owned(),
        available: table.column_names().into_iter().map(String::from).collect(),
    })
}

fn missing_target(table: &Table, target: &str, row: usize) -> Error {
    Error::MissingTarget {
        path: table.path().to_path_buf(),
        line: table.line(row),
        column: target.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_hot_ignores_unseen_and_ordinal_marks_them() {
        let column = Column::categorical("c", vec![Some("b"), Some("a"), None, Some("b")]);
        let values = column.string_values().unwrap();
        let encoder = CategoryEncoder::fit(values, None, CategoricalEncoding::OneHot);
        assert_eq!(encoder.categories, vec!["a", "b"]);
        assert_eq!(encoder.feature_names("c"), vec!["c_a", "c_b"]);
        let mut out = [9.0; 2];
        encoder.encode_into(encoder.position("z"), &mut out);
        assert_eq!(out, [0.0, 0.0]);
        encoder.encode_into(encoder.position("b"), &mut out);
        assert_eq!(out, [0.0, 1.0]);

        let ordinal = CategoryEncoder {
            encoding: CategoricalEncoding::Ordinal,
            ..encoder
        };
        let mut out = [9.0];
        ordinal.encode_into(ordinal.position("z"), &mut out);
        assert_eq!(out, [-1.0]);
    }

    #[test]
    fn numeric_classes_sort_as_numbers() {
        let table = Table::new(
            "t.csv",
            vec![Column::numeric(
                "y",
                vec![Some(10.0), Some(2.0), Some(1.5), Some(2.0)],
            )],
        );
        let encoder = LabelEncoder::fit(&table, "y").unwrap();
        assert_eq!(encoder.classes(), &["1.5", "2", "10"]);
        assert_eq!(encoder.encode(&table, "y").unwrap(), vec![2, 1, 0, 1]);
    }

    #[test]
    fn string_classes_sort_as_strings_and_unseen_is_an_error() {
        let train = Table::new(
            "train.csv",
            vec![Column::categorical("y", vec![Some("yes"), Some("no")])],
        );
        let encoder = LabelEncoder::fit(&train, "y").unwrap();
        assert_eq!(encoder.classes(), &["no", "yes"]);
        let other = Table::new(
            "other.csv",
            vec![Column::categorical("y", vec![Some("no"), Some("maybe")])],
        );
        let error = encoder.encode(&other, "y").unwrap_err();
        assert_eq!(
            error.to_string(),
            "other.csv:3: target column \"y\" has class \"maybe\", which the training data did not have"
        );
    }

    #[test]
    fn missing_label_names_the_line() {
        let table = Table::new(
            "t.csv",
            vec![Column::categorical("y", vec![Some("a"), None])],
        );
        let error = target_labels(&table, "y").unwrap_err();
        assert!(
            matches!(error, Error::MissingTarget { line: 3, .. }),
            "{error}"
        );
    }
}

//! A table: named, typed columns read from one file, with each row's line in that file.
//!
//! Numeric columns hold `f64` with NaN for a missing value (half the memory of
//! `Option<f64>`, and what the numeric code wants anyway); categorical and text columns hold
//! interned strings: each distinct value once, and a `u32` code per row. A table remembers the
//! file it came from and the 1-based line where each row starts, so that every later error can
//! point at the file, the line and the column. Tables are immutable; selecting rows makes a new
//! one. This module does no IO.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::schema::{ColumnKind, Interner};

/// Named, typed columns of equal length, and where each row came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    path: PathBuf,
    columns: Vec<Column>,
    line_numbers: Vec<u64>,
}

impl Table {
    /// A table built in memory. Row `i` is said to come from line `i + 2` of `path`, as if
    /// the file had a header line.
    ///
    /// # Panics
    ///
    /// When the columns have different lengths or two columns share a name.
    ///
    /// ```
    /// use burnish_data::{Column, Table};
    /// let table = Table::new(
    ///     "memory.csv",
    ///     vec![
    ///         Column::numeric("x", vec![Some(1.0), None]),
    ///         Column::categorical("y", vec![Some("a"), Some("b")]),
    ///     ],
    /// );
    /// assert_eq!(table.n_rows(), 2);
    /// assert_eq!(table.line(1), 3);
    /// ```
    pub fn new(path: impl Into<PathBuf>, columns: Vec<Column>) -> Self {
        let n_rows = columns.first().map_or(0, Column::len);
        for column in &columns {
            assert_eq!(
                column.len(),
                n_rows,
                "column {:?} has {} rows, expected {n_rows}",
                column.name(),
                column.len()
            );
        }
        for (index, column) in columns.iter().enumerate() {
            assert!(
                columns[..index]
                    .iter()
                    .all(|other| other.name != column.name),
                "column {:?} appears twice",
                column.name
            );
        }
        let line_numbers = (0..n_rows as u64).map(|row| row + 2).collect();
        Self::from_parts(path.into(), columns, line_numbers)
    }

    pub(crate) fn from_parts(path: PathBuf, columns: Vec<Column>, line_numbers: Vec<u64>) -> Self {
        debug_assert!(
            columns
                .iter()
                .all(|column| column.len() == line_numbers.len())
        );
        Self {
            path,
            columns,
            line_numbers,
        }
    }

    /// The file the table was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The number of rows.
    pub fn n_rows(&self) -> usize {
        self.line_numbers.len()
    }

    /// The number of columns.
    pub fn n_columns(&self) -> usize {
        self.columns.len()
    }

    /// The column names, in file order.
    pub fn column_names(&self) -> Vec<&str> {
        self.columns.iter().map(Column::name).collect()
    }

    /// The columns, in file order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The column with this name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|column| column.name == name)
    }

    /// The kind of every column, by name: pass it as `ReadOptions::column_kinds` to read
    /// another file the same way.
    pub fn column_kinds(&self) -> BTreeMap<String, ColumnKind> {
        self.columns
            .iter()
            .map(|column| (column.name.clone(), column.kind()))
            .collect()
    }

    /// The 1-based line of the file where each row starts.
    pub fn line_numbers(&self) -> &[u64] {
        &self.line_numbers
    }

    /// The 1-based line of the file where row `row` starts.
    ///
    /// # Panics
    ///
    /// When `row >= self.n_rows()`.
    pub fn line(&self, row: usize) -> u64 {
        self.line_numbers[row]
    }

    /// A table of the given rows, in the given order (a row may repeat).
    ///
    /// # Panics
    ///
    /// When an index is not below [`Table::n_rows`].
    pub fn select_rows(&self, rows: &[usize]) -> Table {
        Table {
            path: self.path.clone(),
            columns: self
                .columns
                .iter()
                .map(|column| column.select_rows(rows))
                .collect(),
            line_numbers: rows.iter().map(|&row| self.line_numbers[row]).collect(),
        }
    }

    /// The table without every row that has a missing value in any column: what
    /// `missing = "drop"` means. Drop unwanted columns when reading, so that their gaps do not
    /// cost rows.
    pub fn without_missing(&self) -> Table {
        let kept: Vec<usize> = (0..self.n_rows())
            .filter(|&row| !self.columns.iter().any(|column| column.is_missing(row)))
            .collect();
        self.select_rows(&kept)
    }
}

/// One named column of a [`Table`].
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    name: String,
    data: ColumnData,
}

/// The values of a column, by kind.
#[derive(Clone, Debug)]
pub enum ColumnData {
    /// Numbers; NaN is a missing value.
    Numeric(Vec<f64>),
    /// Labels from a small set.
    Categorical(StringValues),
    /// Free text.
    Text(StringValues),
}

impl PartialEq for ColumnData {
    /// Equal when the kinds match and every row holds the same value; missing equals missing.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (ColumnData::Numeric(left), ColumnData::Numeric(right)) => {
                left.len() == right.len()
                    && left
                        .iter()
                        .zip(right)
                        .all(|(a, b)| a == b || (a.is_nan() && b.is_nan()))
            }
            (ColumnData::Categorical(left), ColumnData::Categorical(right))
            | (ColumnData::Text(left), ColumnData::Text(right)) => left == right,
            _ => false,
        }
    }
}

impl Column {
    /// A numeric column; `None` is a missing value.
    pub fn numeric(name: impl Into<String>, values: Vec<Option<f64>>) -> Self {
        Self {
            name: name.into(),
            data: ColumnData::Numeric(
                values
                    .into_iter()
                    .map(|value| value.unwrap_or(f64::NAN))
                    .collect(),
            ),
        }
    }

    /// A categorical column; `None` is a missing value.
    pub fn categorical<S: AsRef<str>>(name: impl Into<String>, values: Vec<Option<S>>) -> Self {
        Self {
            name: name.into(),
            data: ColumnData::Categorical(StringValues::from_options(&values)),
        }
    }

    /// A text column; `None` is a missing value.
    pub fn text<S: AsRef<str>>(name: impl Into<String>, values: Vec<Option<S>>) -> Self {
        Self {
            name: name.into(),
            data: ColumnData::Text(StringValues::from_options(&values)),
        }
    }

    pub(crate) fn from_data(name: String, data: ColumnData) -> Self {
        Self { name, data }
    }

    /// The column's name, from the header.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The column's kind.
    pub fn kind(&self) -> ColumnKind {
        match self.data {
            ColumnData::Numeric(_) => ColumnKind::Numeric,
            ColumnData::Categorical(_) => ColumnKind::Categorical,
            ColumnData::Text(_) => ColumnKind::Text,
        }
    }

    /// The values.
    pub fn data(&self) -> &ColumnData {
        &self.data
    }

    /// The numbers (NaN = missing) when the column is numeric.
    pub fn numeric_values(&self) -> Option<&[f64]> {
        match &self.data {
            ColumnData::Numeric(values) => Some(values),
            _ => None,
        }
    }

    /// The strings when the column is categorical or text.
    pub fn string_values(&self) -> Option<&StringValues> {
        match &self.data {
            ColumnData::Numeric(_) => None,
            ColumnData::Categorical(values) | ColumnData::Text(values) => Some(values),
        }
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        match &self.data {
            ColumnData::Numeric(values) => values.len(),
            ColumnData::Categorical(values) | ColumnData::Text(values) => values.len(),
        }
    }

    /// Whether the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether row `row` is missing.
    ///
    /// # Panics
    ///
    /// When `row >= self.len()`.
    pub fn is_missing(&self, row: usize) -> bool {
        match &self.data {
            ColumnData::Numeric(values) => values[row].is_nan(),
            ColumnData::Categorical(values) | ColumnData::Text(values) => {
                values.codes[row] == StringValues::MISSING
            }
        }
    }

    /// The number of missing values.
    pub fn n_missing(&self) -> usize {
        match &self.data {
            ColumnData::Numeric(values) => values.iter().filter(|value| value.is_nan()).count(),
            ColumnData::Categorical(values) | ColumnData::Text(values) => values
                .codes
                .iter()
                .filter(|&&code| code == StringValues::MISSING)
                .count(),
        }
    }

    /// Row `row` as text: numbers printed the shortest way that reads back the same (`3`,
    /// `0.5`), `None` when missing.
    ///
    /// # Panics
    ///
    /// When `row >= self.len()`.
    pub fn text_at(&self, row: usize) -> Option<String> {
        match &self.data {
            ColumnData::Numeric(values) => {
                let value = values[row];
                (!value.is_nan()).then(|| format_number(value))
            }
            ColumnData::Categorical(values) | ColumnData::Text(values) => {
                values.get(row).map(str::to_owned)
            }
        }
    }

    fn select_rows(&self, rows: &[usize]) -> Column {
        let data = match &self.data {
            ColumnData::Numeric(values) => {
                ColumnData::Numeric(rows.iter().map(|&row| values[row]).collect())
            }
            ColumnData::Categorical(values) => ColumnData::Categorical(values.select_rows(rows)),
            ColumnData::Text(values) => ColumnData::Text(values.select_rows(rows)),
        };
        Column {
            name: self.name.clone(),
            data,
        }
    }
}

/// Interned strings: a dictionary of distinct values and one code per row.
#[derive(Clone, Debug)]
pub struct StringValues {
    dictionary: Arc<[String]>,
    codes: Vec<u32>,
}

impl PartialEq for StringValues {
    /// Equal when every row holds the same string, whatever the dictionaries.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl StringValues {
    /// The code of a missing value.
    pub const MISSING: u32 = u32::MAX;

    pub(crate) fn new(dictionary: Arc<[String]>, codes: Vec<u32>) -> Self {
        Self { dictionary, codes }
    }

    fn from_options<S: AsRef<str>>(values: &[Option<S>]) -> Self {
        let mut interner = Interner::default();
        let codes = values
            .iter()
            .map(|value| match value {
                Some(value) => interner.intern(value.as_ref()),
                None => Self::MISSING,
            })
            .collect();
        Self::new(interner.into_dictionary(), codes)
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// The distinct values (some may not occur in these rows after a selection).
    pub fn dictionary(&self) -> &[String] {
        &self.dictionary
    }

    /// Each row's index into [`StringValues::dictionary`], or [`StringValues::MISSING`].
    pub fn codes(&self) -> &[u32] {
        &self.codes
    }

    /// Row `row`, `None` when missing.
    ///
    /// # Panics
    ///
    /// When `row >= self.len()`.
    pub fn get(&self, row: usize) -> Option<&str> {
        self.resolve(self.codes[row])
    }

    /// Every row, `None` when missing.
    pub fn iter(&self) -> impl Iterator<Item = Option<&str>> + '_ {
        self.codes.iter().map(|&code| self.resolve(code))
    }

    fn resolve(&self, code: u32) -> Option<&str> {
        (code != Self::MISSING).then(|| self.dictionary[code as usize].as_str())
    }

    fn select_rows(&self, rows: &[usize]) -> StringValues {
        StringValues {
            dictionary: Arc::clone(&self.dictionary),
            codes: rows.iter().map(|&row| self.codes[row]).collect(),
        }
    }
}

/// Prints a number the shortest way that parses back to the same `f64` (`3`, not `3.0`).
pub(crate) fn format_number(value: f64) -> String {
    format!("{value}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        Table::new(
            "sample.csv",
            vec![
                Column::numeric("x", vec![Some(1.0), None, Some(3.0), Some(4.5)]),
                Column::categorical("c", vec![Some("a"), Some("b"), None, Some("a")]),
            ],
        )
    }

    #[test]
    fn select_rows_keeps_lines_and_values() {
        let table = sample().select_rows(&[3, 0]);
        assert_eq!(table.line_numbers(), &[5, 2]);
        assert_eq!(
            table.column("x").unwrap().numeric_values().unwrap(),
            &[4.5, 1.0]
        );
        let strings = table.column("c").unwrap().string_values().unwrap();
        assert_eq!(
            strings.iter().collect::<Vec<_>>(),
            vec![Some("a"), Some("a")]
        );
    }

    #[test]
    fn without_missing_drops_rows_with_any_gap() {
        let table = sample().without_missing();
        assert_eq!(table.n_rows(), 2);
        assert_eq!(table.line_numbers(), &[2, 5]);
    }

    #[test]
    fn text_at_prints_numbers_shortest() {
        let table = sample();
        let x = table.column("x").unwrap();
        assert_eq!(x.text_at(0).as_deref(), Some("1"));
        assert_eq!(x.text_at(3).as_deref(), Some("4.5"));
        assert_eq!(x.text_at(1), None);
        assert_eq!(x.n_missing(), 1);
    }

    #[test]
    fn tables_with_gaps_equal_themselves() {
        assert_eq!(sample(), sample());
        assert_ne!(sample(), sample().select_rows(&[0, 1, 2, 2]));
    }

    #[test]
    #[should_panic(expected = "appears twice")]
    fn duplicate_names_are_refused() {
        let _ = Table::new(
            "t.csv",
            vec![
                Column::numeric("x", vec![Some(1.0)]),
                Column::numeric("x", vec![Some(2.0)]),
            ],
        );
    }
}

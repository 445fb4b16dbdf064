//! Reading CSV and TSV files into a [`Table`].
//!
//! The first line is the header; every other line is a row with as many fields as the header.
//! Fields follow RFC 4180 quoting (`"a, b"`, `""` for a quote inside quotes, line breaks inside
//! quotes); the delimiter comes from [`ReadOptions::delimiter`], else from the extension (`.tsv`
//! and `.tab` mean tab, anything else comma). Fields are trimmed of surrounding ASCII white
//! space; a UTF-8 byte-order mark is skipped; blank lines are skipped. The kinds of the columns
//! follow [`crate::schema`].
//!
//! The whole file is read into memory once and parsed with `csv::ByteRecord`s that are reused
//! from row to row: numbers are parsed straight from the field bytes and strings are interned,
//! so no cell allocates. A column that turns out not to be numeric after some numbers were
//! already parsed is read a second time as strings (a second pass over that column only), so
//! that every string keeps the exact text of the file. This module reads; it never writes.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use crate::error::Error;
use crate::schema::{
    ColumnKind, DEFAULT_MISSING_MARKERS, Interner, MissingMarkers, NumericField, infer_string_kind,
    parse_number,
};
use crate::table::{Column, ColumnData, StringValues, Table};

/// How to read a delimited text file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadOptions {
    /// The field delimiter; `None` picks tab for `.tsv` and `.tab` files and comma otherwise.
    pub delimiter: Option<u8>,
    /// Fields (after trimming) that mean "missing"; by default the empty field, `NA`, `NaN`,
    /// `null` and `?`. A number that parses as NaN is missing too.
    pub missing_markers: Vec<String>,
    /// Declared kinds that replace inference, by column name; each must name a column.
    pub column_kinds: BTreeMap<String, ColumnKind>,
    /// Columns to leave out of the table; each must name a column.
    pub drop_columns: Vec<String>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            delimiter: None,
            missing_markers: DEFAULT_MISSING_MARKERS
                .iter()
                .map(|marker| marker.to_string())
                .collect(),
            column_kinds: BTreeMap::new(),
            drop_columns: Vec::new(),
        }
    }
}

/// Reads a CSV or TSV file into a [`Table`], inferring the kind of every column not declared in
/// `options.column_kinds`.
///
/// ```no_run
/// use burnish_data::{ColumnKind, ReadOptions, read_table};
/// use std::path::Path;
///
/// let mut options = ReadOptions::default();
/// options.drop_columns.push("year".into());
/// let table = read_table(Path::new("datasets/penguins.csv"), &options)?;
/// assert_eq!(table.column("island").unwrap().kind(), ColumnKind::Categorical);
/// # Ok::<(), burnish_data::Error>(())
/// ```
pub fn read_table(path: &Path, options: &ReadOptions) -> Result<Table, Error> {
    let bytes = std::fs::read(path).map_err(|source| Error::reading(path, source))?;
    parse_table(&bytes, path, options)
}

/// Parses the bytes of a delimited file as [`read_table`] does; `path` names the source in
/// errors and picks the delimiter by extension.
pub fn parse_table(bytes: &[u8], path: &Path, options: &ReadOptions) -> Result<Table, Error> {
    let content = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if content.trim_ascii().is_empty() {
        return Err(Error::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    if let Some(offset) = binary_byte(bytes) {
        return Err(Error::NotText {
            path: path.to_path_buf(),
            offset,
            byte: bytes[offset],
        });
    }
    let parser = Parser {
        content,
        path,
        delimiter: options.delimiter.unwrap_or_else(|| delimiter_for(path)),
        markers: MissingMarkers::new(&options.missing_markers),
    };
    parser.parse(options)
}

/// How many leading bytes are looked at to tell a text file from a binary one.
const TEXT_PROBE_BYTES: usize = 8192;

/// The offset of the first byte among the first [`TEXT_PROBE_BYTES`] that no delimited text
/// file holds: NUL, or a control character other than tab, line feed, vertical tab, form
/// feed, carriage return and escape. Zip, gzip, PNG, JPEG and executables all have one near
/// their start. Text in another encoding than UTF-8 (Latin-1, say) has none, and is reported
/// by the field it breaks, with its line and column.
fn binary_byte(bytes: &[u8]) -> Option<usize> {
    bytes[..bytes.len().min(TEXT_PROBE_BYTES)]
        .iter()
        .position(|&byte| matches!(byte, 0x00..=0x08 | 0x0e..=0x1a | 0x1c..=0x1f | 0x7f))
}

/// The delimiters a header that reads as one column is searched for.
const OTHER_DELIMITERS: [u8; 4] = [b';', b'\t', b'|', b','];

/// The delimiter that a file's extension implies: tab for `.tsv` and `.tab`, else comma.
pub fn delimiter_for(path: &Path) -> u8 {
    match path.extension().and_then(|extension| extension.to_str()) {
        Some(extension)
            if extension.eq_ignore_ascii_case("tsv") || extension.eq_ignore_ascii_case("tab") =>
        {
            b'\t'
        }
        _ => b',',
    }
}

/// One column while the rows stream by.
enum ColumnBuilder {
    /// Left out by `drop_columns`.
    Dropped,
    /// Numbers so far; `declared` columns must stay numeric.
    Numeric {
        values: Vec<f64>,
        declared: bool,
        seen_number: bool,
    },
    /// Strings; `declared` is the kind the user gave, if any.
    Strings {
        interner: Interner,
        codes: Vec<u32>,
        declared: Option<ColumnKind>,
    },
    /// Turned out to be strings after numbers were parsed: read again in a second pass.
    Deferred,
}

struct Parser<'a> {
    content: &'a [u8],
    path: &'a Path,
    delimiter: u8,
    markers: MissingMarkers,
}

impl Parser<'_> {
    fn reader(&self) -> csv::Reader<&[u8]> {
        csv::ReaderBuilder::new()
            .delimiter(self.delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(self.content)
    }

    fn csv_error(&self, error: csv::Error) -> Error {
        Error::Io {
            path: self.path.to_path_buf(),
            source: io::Error::other(error),
        }
    }

    fn parse(&self, options: &ReadOptions) -> Result<Table, Error> {
        let mut reader = self.reader();
        let mut record = csv::ByteRecord::new();
        if !reader
            .read_byte_record(&mut record)
            .map_err(|error| self.csv_error(error))?
        {
            return Err(Error::EmptyFile {
                path: self.path.to_path_buf(),
            });
        }
        let mut lines = LineTracker::default();
        let header_position = lines.locate(self.content, &record);
        // A quote left open in the header swallows the whole file: say so before anything else.
        let (names, mut builders) = self
            .header_names(&record, header_position.1)
            .and_then(|names| {
                let builders = self.builders(&names, options)?;
                Ok((names, builders))
            })
            .or_else(|error| {
                self.check_quotes(header_position.0, header_position.1)
                    .and(Err(error))
            })?;

        let mut line_numbers: Vec<u64> = Vec::new();
        let mut last_record_start = header_position;
        while reader
            .read_byte_record(&mut record)
            .map_err(|error| self.csv_error(error))?
        {
            let (start, line) = lines.locate(self.content, &record);
            last_record_start = (start, line);
            let row = line_numbers.len();
            line_numbers.push(line);
            if record.len() != names.len() {
                self.check_quotes(start, line)?;
                return Err(Error::RaggedRow {
                    path: self.path.to_path_buf(),
                    line,
                    expected: names.len(),
                    found: record.len(),
                });
            }
            for ((field, builder), name) in record.iter().zip(&mut builders).zip(&names) {
                self.push_field(field, builder, row, line, name)
                    .or_else(|error| self.check_quotes(start, line).and(Err(error)))?;
            }
        }
        self.check_quotes(last_record_start.0, last_record_start.1)?;
        if line_numbers.is_empty() {
            return Err(Error::NoRows {
                path: self.path.to_path_buf(),
            });
        }
        self.second_pass(&mut builders)?;

        let n_rows = line_numbers.len();
        let mut columns = Vec::with_capacity(names.len());
        for (name, builder) in names.into_iter().zip(builders) {
            let data = match builder {
                ColumnBuilder::Dropped => continue,
                ColumnBuilder::Deferred => unreachable!("the second pass resolves every column"),
                ColumnBuilder::Numeric {
                    seen_number: false,
                    declared: false,
                    ..
                } => {
                    return Err(Error::EmptyColumn {
                        path: self.path.to_path_buf(),
                        column: name,
                    });
                }
                ColumnBuilder::Numeric { values, .. } => ColumnData::Numeric(values),
                ColumnBuilder::Strings {
                    interner,
                    codes,
                    declared,
                } => {
                    let kind =
                        declared.unwrap_or_else(|| infer_string_kind(interner.len(), n_rows));
                    let values = StringValues::new(interner.into_dictionary(), codes);
                    match kind {
                        ColumnKind::Text => ColumnData::Text(values),
                        _ => ColumnData::Categorical(values),
                    }
                }
            };
            columns.push(Column::from_data(name, data));
        }
        Ok(Table::from_parts(
            self.path.to_path_buf(),
            columns,
            line_numbers,
        ))
    }

    fn header_names(&self, record: &csv::ByteRecord, line: u64) -> Result<Vec<String>, Error> {
        let mut names: Vec<String> = Vec::with_capacity(record.len());
        for (index, field) in record.iter().enumerate() {
            let Ok(name) = std::str::from_utf8(field.trim_ascii()) else {
                return Err(Error::InvalidUtf8 {
                    path: self.path.to_path_buf(),
                    line,
                    column: None,
                });
            };
            let name = if name.is_empty() {
                format!("column_{}", index + 1)
            } else {
                name.to_owned()
            };
            if names.contains(&name) {
                return Err(Error::DuplicateColumn {
                    path: self.path.to_path_buf(),
                    line,
                    column: name,
                });
            }
            names.push(name);
        }
        if let [header] = names.as_slice()
            && let Some(found) = self.likely_delimiter(header)
        {
            return Err(Error::WrongDelimiter {
                path: self.path.to_path_buf(),
                header: header.clone(),
                found,
            });
        }
        Ok(names)
    }

    /// The delimiter, other than the one in use, that a one-column header holds most often.
    fn likely_delimiter(&self, header: &str) -> Option<u8> {
        OTHER_DELIMITERS
            .iter()
            .filter(|&&delimiter| delimiter != self.delimiter)
            .map(|&delimiter| {
                let count = header.bytes().filter(|&byte| byte == delimiter).count();
                (count, delimiter)
            })
            .filter(|&(count, _)| count > 0)
            .max_by_key(|&(count, _)| count)
            .map(|(_, delimiter)| delimiter)
    }

    fn builders(
        &self,
        names: &[String],
        options: &ReadOptions,
    ) -> Result<Vec<ColumnBuilder>, Error> {
        let unknown = |column: &str, option: &'static str| Error::UnknownColumn {
            path: self.path.to_path_buf(),
            column: column.to_owned(),
            option,
            available: names.to_vec(),
        };
        if let Some(column) = options
            .drop_columns
            .iter()
            .find(|column| !names.contains(column))
        {
            return Err(unknown(column, "drop_columns"));
        }
        if let Some(column) = options
            .column_kinds
            .keys()
            .find(|column| !names.contains(column))
        {
            return Err(unknown(column, "column_kinds"));
        }
        Ok(names
            .iter()
            .map(|name| {
                if options.drop_columns.contains(name) {
                    return ColumnBuilder::Dropped;
                }
                match options.column_kinds.get(name) {
                    None => ColumnBuilder::Numeric {
                        values: Vec::new(),
                        declared: false,
                        seen_number: false,
                    },
                    Some(ColumnKind::Numeric) => ColumnBuilder::Numeric {
                        values: Vec::new(),
                        declared: true,
                        seen_number: false,
                    },
                    Some(&kind) => ColumnBuilder::Strings {
                        interner: Interner::default(),
                        codes: Vec::new(),
                        declared: Some(kind),
                    },
                }
            })
            .collect())
    }

    fn push_field(
        &self,
        field: &[u8],
        builder: &mut ColumnBuilder,
        row: usize,
        line: u64,
        name: &str,
    ) -> Result<(), Error> {
        if matches!(builder, ColumnBuilder::Dropped) {
            return Ok(());
        }
        let field = field.trim_ascii();
        let missing = self.markers.contains(field);
        let text = if missing {
            ""
        } else {
            std::str::from_utf8(field).map_err(|_| Error::InvalidUtf8 {
                path: self.path.to_path_buf(),
                line,
                column: Some(name.to_owned()),
            })?
        };
        match builder {
            ColumnBuilder::Dropped | ColumnBuilder::Deferred => {}
            ColumnBuilder::Numeric {
                values,
                declared,
                seen_number,
            } => {
                let parsed = if missing {
                    NumericField::Missing
                } else {
                    parse_number(text)
                };
                match parsed {
                    NumericField::Missing => values.push(f64::NAN),
                    NumericField::Number(value) => {
                        values.push(value);
                        *seen_number = true;
                    }
                    NumericField::NotANumber if *declared => {
                        return Err(Error::NotANumber {
                            path: self.path.to_path_buf(),
                            line,
                            column: name.to_owned(),
                            value: text.to_owned(),
                        });
                    }
                    NumericField::NotANumber if *seen_number => *builder = ColumnBuilder::Deferred,
                    NumericField::NotANumber => {
                        // Every earlier field was missing: nothing to read again.
                        let mut interner = Interner::default();
                        let mut codes = vec![StringValues::MISSING; row];
                        codes.push(interner.intern(text));
                        *builder = ColumnBuilder::Strings {
                            interner,
                            codes,
                            declared: None,
                        };
                    }
                }
            }
            ColumnBuilder::Strings {
                interner, codes, ..
            } => codes.push(if missing {
                StringValues::MISSING
            } else {
                interner.intern(text)
            }),
        }
        Ok(())
    }

    /// Reads the deferred columns again, as strings.
    fn second_pass(&self, builders: &mut [ColumnBuilder]) -> Result<(), Error> {
        let deferred: Vec<usize> = builders
            .iter()
            .enumerate()
            .filter(|(_, builder)| matches!(builder, ColumnBuilder::Deferred))
            .map(|(index, _)| index)
            .collect();
        if deferred.is_empty() {
            return Ok(());
        }
        let mut interners: Vec<Interner> = deferred.iter().map(|_| Interner::default()).collect();
        let mut codes: Vec<Vec<u32>> = deferred.iter().map(|_| Vec::new()).collect();
        let mut reader = self.reader();
        let mut record = csv::ByteRecord::new();
        let mut is_header = true;
        while reader
            .read_byte_record(&mut record)
            .map_err(|error| self.csv_error(error))?
        {
            if std::mem::take(&mut is_header) {
                continue;
            }
            for ((&index, interner), codes) in deferred.iter().zip(&mut interners).zip(&mut codes) {
                let field = record.get(index).unwrap_or_default().trim_ascii();
                // The first pass has checked the UTF-8 of every field of these columns.
                let code = match std::str::from_utf8(field) {
                    Ok(text) if !self.markers.contains(field) => interner.intern(text),
                    _ => StringValues::MISSING,
                };
                codes.push(code);
            }
        }
        for ((index, interner), codes) in deferred.into_iter().zip(interners).zip(codes) {
            builders[index] = ColumnBuilder::Strings {
                interner,
                codes,
                declared: None,
            };
        }
        Ok(())
    }

    /// Fails when a quoted field that starts in the record at `start` runs to the end of the
    /// file: the CSV reader accepts that silently, swallowing every later line into one field.
    fn check_quotes(&self, start: usize, line: u64) -> Result<(), Error> {
        match unterminated_quote_line(
            &self.content[start.min(self.content.len())..],
            line,
            self.delimiter,
        ) {
            Some(line) => Err(Error::UnterminatedQuote {
                path: self.path.to_path_buf(),
                line,
            }),
            None => Ok(()),
        }
    }
}

/// Where records really start, and on which line.
///
/// The CSV reader reports the offset where it began looking for a record, before the line
/// breaks and blank lines that it skips, and counts lines by `\n` alone; this walks on to the
/// record's first byte and counts `\n`, `\r\n` and a lone `\r` each as one line break.
#[derive(Debug)]
struct LineTracker {
    offset: usize,
    line: u64,
}

impl Default for LineTracker {
    fn default() -> Self {
        Self { offset: 0, line: 1 }
    }
}

impl LineTracker {
    /// The byte offset and 1-based line of `record`, read from `content`; records must come in
    /// file order.
    fn locate(&mut self, content: &[u8], record: &csv::ByteRecord) -> (usize, u64) {
        let reported = record
            .position()
            .map_or(self.offset, |position| {
                usize::try_from(position.byte()).unwrap_or(usize::MAX)
            })
            .min(content.len());
        let skipped = content[reported..]
            .iter()
            .take_while(|&&byte| byte == b'\n' || byte == b'\r')
            .count();
        let start = reported + skipped;
        if start > self.offset {
            self.line += count_line_breaks(&content[self.offset..start]);
            self.offset = start;
        }
        (self.offset, self.line)
    }
}

/// The number of line breaks: `\n`, `\r\n` and a lone `\r` count one each.
fn count_line_breaks(bytes: &[u8]) -> u64 {
    let line_feeds = bytes.iter().filter(|&&byte| byte == b'\n').count();
    let returns = bytes.iter().filter(|&&byte| byte == b'\r').count();
    let pairs = if returns == 0 {
        0
    } else {
        bytes.windows(2).filter(|pair| pair == b"\r\n").count()
    };
    (line_feeds + returns - pairs) as u64
}

/// Scans `bytes` (which start at the beginning of a record on line `line`) with the quoting
/// rules of the CSV reader and returns the line of a quoted field still open at the end.
fn unterminated_quote_line(bytes: &[u8], mut line: u64, delimiter: u8) -> Option<u64> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        FieldStart,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }
    let mut state = State::FieldStart;
    let mut quote_line = line;
    for (index, &byte) in bytes.iter().enumerate() {
        let ends_field = byte == delimiter || byte == b'\n' || byte == b'\r';
        if byte == b'\n' || (byte == b'\r' && bytes.get(index + 1) != Some(&b'\n')) {
            line += 1;
        }
        state = match state {
            State::FieldStart if byte == b'"' => {
                quote_line = line;
                State::Quoted
            }
            State::FieldStart | State::Unquoted | State::QuoteInQuoted if ends_field => {
                State::FieldStart
            }
            State::FieldStart | State::Unquoted => State::Unquoted,
            State::Quoted if byte == b'"' => State::QuoteInQuoted,
            State::Quoted => State::Quoted,
            State::QuoteInQuoted if byte == b'"' => State::Quoted,
            State::QuoteInQuoted => State::Unquoted,
        };
    }
    (state == State::Quoted).then_some(quote_line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn parse(text: &str) -> Result<Table, Error> {
        parse_table(text.as_bytes(), Path::new("t.csv"), &ReadOptions::default())
    }

    #[test]
    fn infers_numeric_categorical_and_missing() {
        let table = parse("a,b,c\n1,x,\n2.5,y,NA\n?,x,3\n").unwrap();
        assert_eq!(table.n_rows(), 3);
        let a = table.column("a").unwrap().numeric_values().unwrap();
        assert_eq!(a[..2], [1.0, 2.5]);
        assert!(a[2].is_nan());
        assert_eq!(table.column("b").unwrap().kind(), ColumnKind::Categorical);
        assert_eq!(table.column("c").unwrap().n_missing(), 2);
        assert_eq!(table.line_numbers(), &[2, 3, 4]);
    }

    #[test]
    fn a_late_string_rereads_the_column_with_its_exact_text() {
        let table = parse("a\n1.0\n2\nx\n1.0\n").unwrap();
        let column = table.column("a").unwrap();
        assert_eq!(column.kind(), ColumnKind::Categorical);
        let values: Vec<_> = column.string_values().unwrap().iter().collect();
        assert_eq!(values, vec![Some("1.0"), Some("2"), Some("x"), Some("1.0")]);
    }

    #[test]
    fn quoted_fields_and_line_numbers_across_line_breaks() {
        let table = parse("t,n\n\"a, \"\"b\"\"\n c\",1\nd,2\n").unwrap();
        let t = table.column("t").unwrap().string_values().unwrap();
        assert_eq!(t.get(0), Some("a, \"b\"\n c"));
        assert_eq!(table.line_numbers(), &[2, 4]);
    }

    #[test]
    fn blank_lines_are_skipped_and_crlf_counts_one_line() {
        let table = parse("a,b\r\n\r\n1,2\r\n3,4\r\n\r\n").unwrap();
        assert_eq!(table.n_rows(), 2);
        assert_eq!(table.line_numbers(), &[3, 4]);
    }

    #[test]
    fn lone_carriage_returns_end_lines() {
        let table = parse("a,b\r1,2\r\r3,\"x\ry\"\r5,6").unwrap();
        assert_eq!(table.line_numbers(), &[2, 4, 6]);
        let error = parse("a,b\r1,2\r3,\"4\r").unwrap_err();
        assert!(
            matches!(error, Error::UnterminatedQuote { line: 3, .. }),
            "{error}"
        );
    }

    #[test]
    fn tsv_extension_means_tab() {
        let table = parse_table(
            b"a\tb\n1\tx,y\n",
            Path::new("data.TSV"),
            &ReadOptions::default(),
        )
        .unwrap();
        assert_eq!(table.column_names(), vec!["a", "b"]);
        let b = table.column("b").unwrap().string_values().unwrap();
        assert_eq!(b.get(0), Some("x,y"));
    }

    #[test]
    fn declared_kinds_and_dropped_columns() {
        let mut options = ReadOptions::default();
        options
            .column_kinds
            .insert("year".into(), ColumnKind::Categorical);
        options.column_kinds.insert("e".into(), ColumnKind::Numeric);
        options.drop_columns.push("x".into());
        let table = parse_table(
            b"year,x,e\n2007,1,\n2008,2,NA\n",
            Path::new("t.csv"),
            &options,
        )
        .unwrap();
        assert_eq!(table.column_names(), vec!["year", "e"]);
        assert_eq!(
            table.column("year").unwrap().kind(),
            ColumnKind::Categorical
        );
        assert_eq!(table.column("e").unwrap().n_missing(), 2);
    }

    #[test]
    fn empty_header_fields_are_named_and_bom_is_skipped() {
        let table = parse("\u{feff}id,,z\n1,2,3\n").unwrap();
        assert_eq!(table.column_names(), vec!["id", "column_2", "z"]);
    }

    #[test]
    fn duplicate_header_is_an_error() {
        let error = parse("a,b,a\n1,2,3\n").unwrap_err();
        assert!(
            matches!(error, Error::DuplicateColumn { line: 1, .. }),
            "{error}"
        );
    }

    #[test]
    fn unterminated_quote_in_the_middle_is_found() {
        let error = parse("a,b\n1,2\n\"3,4\n5,6\n").unwrap_err();
        assert!(
            matches!(error, Error::UnterminatedQuote { line: 3, .. }),
            "{error}"
        );
        let error = parse("a,b\n1,\"2\n").unwrap_err();
        assert!(
            matches!(error, Error::UnterminatedQuote { line: 2, .. }),
            "{error}"
        );
    }

    #[test]
    fn quote_open_in_the_header_is_reported_first() {
        let mut options = ReadOptions::default();
        options.drop_columns.push("b".into());
        let error = parse_table(b"a,\"b\n1,2\n", Path::new("t.csv"), &options).unwrap_err();
        assert!(
            matches!(error, Error::UnterminatedQuote { line: 1, .. }),
            "{error}"
        );
    }

    #[test]
    fn quote_scanner_follows_csv_rules() {
        assert_eq!(unterminated_quote_line(b"a\"b,c\n", 1, b','), None);
        assert_eq!(unterminated_quote_line(b"\"a\"\"b\",c\n", 1, b','), None);
        assert_eq!(
            unterminated_quote_line(b"x\n\"a\"\"b,c\n", 1, b','),
            Some(2)
        );
    }

    #[test]
    fn missing_file_is_named() {
        let path = PathBuf::from("/definitely/not/here.csv");
        let error = read_table(&path, &ReadOptions::default()).unwrap_err();
        assert!(matches!(error, Error::FileNotFound { .. }));
        assert_eq!(
            error.to_string(),
            "/definitely/not/here.csv: file not found"
        );
    }
}

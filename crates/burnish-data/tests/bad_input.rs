//! Bad files give typed errors whose one-line messages name the file and, where it applies,
//! the line and the column.

use std::path::{Path, PathBuf};

use burnish_data::{
    ColumnKind, Error, PreprocessConfig, Preprocessor, ReadOptions, SplitRatios, Table, Task,
    read_table, stratified_k_fold, target_labels, train_valid_test_split,
};

struct BadFile {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn write(name: &str, bytes: &[u8]) -> BadFile {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    BadFile { _dir: dir, path }
}

fn read(file: &BadFile) -> Result<Table, Error> {
    read_table(&file.path, &ReadOptions::default())
}

/// One line, no trailing period, naming the file (and `more`).
fn assert_message(error: &Error, path: &Path, more: &[&str]) {
    let message = error.to_string();
    assert!(!message.contains('\n'), "{message}");
    assert!(!message.ends_with('.'), "{message}");
    assert!(
        message.starts_with(&format!("{}", path.display())),
        "{message}"
    );
    for part in more {
        assert!(message.contains(part), "{message:?} lacks {part:?}");
    }
}

#[test]
fn ragged_row() {
    let file = write("ragged.csv", b"a,b,c\n1,2,3\n4,5\n6,7,8\n");
    let error = read(&file).unwrap_err();
    assert!(
        matches!(
            error,
            Error::RaggedRow {
                line: 3,
                expected: 3,
                found: 2,
                ..
            }
        ),
        "{error:?}"
    );
    assert_message(&error, &file.path, &[":3:", "expected 3 fields", "found 2"]);
}

#[test]
fn unterminated_quote() {
    let file = write("quote.csv", b"name,score\nann,1\n\"bob,2\ncid,3\n");
    let error = read(&file).unwrap_err();
    assert!(
        matches!(error, Error::UnterminatedQuote { line: 3, .. }),
        "{error:?}"
    );
    assert_message(&error, &file.path, &[":3:", "unterminated quote"]);
}

#[test]
fn unterminated_quote_in_the_last_field() {
    let file = write("quote_end.csv", b"name,score\nann,1\nbob,\"2\n");
    let error = read(&file).unwrap_err();
    assert!(
        matches!(error, Error::UnterminatedQuote { line: 3, .. }),
        "{error:?}"
    );
}

#[test]
fn invalid_utf8() {
    let file = write("latin1.csv", b"id,city\n1,Paris\n2,K\xf6ln\n");
    let error = read(&file).unwrap_err();
    assert!(
        matches!(&error, Error::InvalidUtf8 { line: 3, column: Some(column), .. } if column == "city"),
        "{error:?}"
    );
    assert_message(&error, &file.path, &[":3:", "UTF-8", "\"city\""]);
}

#[test]
fn invalid_utf8_in_the_header() {
    let file = write("header.csv", b"id,\xff\n1,2\n");
    let error = read(&file).unwrap_err();
    assert!(
        matches!(
            error,
            Error::InvalidUtf8 {
                line: 1,
                column: None,
                ..
            }
        ),
        "{error:?}"
    );
    assert_message(&error, &file.path, &[":1:", "header"]);
}

#[test]
fn empty_file() {
    for bytes in [&b""[..], b"\n\n  \n", b"\xEF\xBB\xBF"] {
        let file = write("empty.csv", bytes);
        let error = read(&file).unwrap_err();
        assert!(matches!(error, Error::EmptyFile { .. }), "{error:?}");
        assert_message(&error, &file.path, &["empty"]);
    }
}

#[test]
fn header_with_no_rows() {
    let file = write("header_only.csv", b"a,b,c\n");
    let error = read(&file).unwrap_err();
    assert!(matches!(error, Error::NoRows { .. }), "{error:?}");
    assert_message(&error, &file.path, &["no data rows"]);
}

#[test]
fn missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.csv");
    let error = read_table(&path, &ReadOptions::default()).unwrap_err();
    assert!(matches!(error, Error::FileNotFound { .. }), "{error:?}");
    assert_message(&error, &path, &["not found"]);
}

#[test]
fn unknown_target_column() {
    let file = write("target.csv", b"length,width,kind\n1,2,a\n3,4,b\n");
    let table = read(&file).unwrap();
    let error = Preprocessor::fit(
        &table,
        "species",
        Task::Classification,
        &PreprocessConfig::default(),
    )
    .unwrap_err();
    assert!(matches!(error, Error::UnknownTarget { .. }), "{error:?}");
    assert_message(
        &error,
        &file.path,
        &["\"species\"", "\"length\", \"width\", \"kind\""],
    );
    let error = target_labels(&table, "species").unwrap_err();
    assert!(matches!(error, Error::UnknownTarget { .. }), "{error:?}");
}

#[test]
fn unknown_column_in_options() {
    let file = write("options.csv", b"a,b\n1,2\n");
    let options = ReadOptions {
        drop_columns: vec!["c".into()],
        ..ReadOptions::default()
    };
    let error = read_table(&file.path, &options).unwrap_err();
    assert!(
        matches!(
            error,
            Error::UnknownColumn {
                option: "drop_columns",
                ..
            }
        ),
        "{error:?}"
    );
    assert_message(
        &error,
        &file.path,
        &["\"c\"", "drop_columns", "\"a\", \"b\""],
    );

    let mut options = ReadOptions::default();
    options.column_kinds.insert("z".into(), ColumnKind::Numeric);
    let error = read_table(&file.path, &options).unwrap_err();
    assert!(
        matches!(
            error,
            Error::UnknownColumn {
                option: "column_kinds",
                ..
            }
        ),
        "{error:?}"
    );
    assert_message(&error, &file.path, &["\"z\"", "column_kinds"]);
}

#[test]
fn column_with_no_values() {
    let file = write("hollow.csv", b"a,b,c\n1,,x\n2,NA,y\n3,?,z\n");
    let error = read(&file).unwrap_err();
    assert!(
        matches!(&error, Error::EmptyColumn { column, .. } if column == "b"),
        "{error:?}"
    );
    assert_message(&error, &file.path, &["\"b\"", "no values"]);
    // Declared, the same column reads as all missing.
    let mut options = ReadOptions::default();
    options.column_kinds.insert("b".into(), ColumnKind::Numeric);
    let table = read_table(&file.path, &options).unwrap();
    assert_eq!(table.column("b").unwrap().n_missing(), 3);
}

#[test]
fn non_number_in_declared_numeric_column() {
    let file = write("declared.csv", b"id,weight\n1,3.5\n2, 4 \n3,heavy\n");
    let mut options = ReadOptions::default();
    options
        .column_kinds
        .insert("weight".into(), ColumnKind::Numeric);
    let error = read_table(&file.path, &options).unwrap_err();
    assert!(
        matches!(&error, Error::NotANumber { line: 4, column, value, .. } if column == "weight" && value == "heavy"),
        "{error:?}"
    );
    assert_message(&error, &file.path, &[":4:", "\"weight\"", "\"heavy\""]);
}

#[test]
fn class_with_one_member_under_stratification() {
    let file = write(
        "rare.csv",
        b"x,label\n1,common\n2,common\n3,common\n4,rare\n5,common\n",
    );
    let table = read(&file).unwrap();
    let labels = target_labels(&table, "label").unwrap();
    let error = train_valid_test_split(table.n_rows(), SplitRatios::default(), Some(&labels), 1)
        .map_err(|error| error.with_path(table.path()))
        .unwrap_err();
    assert!(
        matches!(&error, Error::ClassTooSmall { class, count: 1, .. } if class == "rare"),
        "{error:?}"
    );
    assert_message(&error, &file.path, &["\"rare\"", "1 member"]);
    let error = stratified_k_fold(&labels, 2, 1)
        .map_err(|error| error.with_path(table.path()))
        .unwrap_err();
    assert!(matches!(error, Error::ClassTooSmall { .. }), "{error:?}");
    assert_message(&error, &file.path, &["\"rare\""]);
}

#[test]
fn missing_target_value() {
    let file = write("gap.csv", b"x,y\n1,a\n2,\n3,b\n");
    let table = read(&file).unwrap();
    let error = Preprocessor::fit(
        &table,
        "y",
        Task::Classification,
        &PreprocessConfig::default(),
    )
    .unwrap_err();
    assert!(
        matches!(error, Error::MissingTarget { line: 3, .. }),
        "{error:?}"
    );
    assert_message(&error, &file.path, &[":3:", "\"y\"", "missing"]);
}

#[test]
fn fitted_column_missing_at_transform() {
    let train = write("train.csv", b"a,b,y\n1,2,p\n3,4,q\n");
    let predict = write("predict.csv", b"a,y\n1,p\n");
    let preprocessor = Preprocessor::fit(
        &read(&train).unwrap(),
        "y",
        Task::Classification,
        &PreprocessConfig::default(),
    )
    .unwrap();
    let error = preprocessor
        .transform(&read(&predict).unwrap())
        .unwrap_err();
    assert!(
        matches!(&error, Error::MissingColumn { column, .. } if column == "b"),
        "{error:?}"
    );
    assert_message(&error, &predict.path, &["\"b\""]);
}

#[test]
fn unseen_class_at_encode_target() {
    let train = write("train.csv", b"a,y\n1,p\n3,q\n");
    let test = write("test.csv", b"a,y\n1,p\n2,r\n");
    let preprocessor = Preprocessor::fit(
        &read(&train).unwrap(),
        "y",
        Task::Classification,
        &PreprocessConfig::default(),
    )
    .unwrap();
    let error = preprocessor
        .encode_target(&read(&test).unwrap())
        .unwrap_err();
    assert!(
        matches!(error, Error::UnseenClass { line: 3, .. }),
        "{error:?}"
    );
    assert_message(&error, &test.path, &[":3:", "\"r\""]);
}

#[test]
fn ratios_that_do_not_sum_to_one() {
    let ratios = SplitRatios {
        train: 0.8,
        valid: 0.15,
        test: 0.15,
    };
    let error = train_valid_test_split(10, ratios, None, 0).unwrap_err();
    assert!(matches!(error, Error::InvalidRatios { .. }), "{error:?}");
    assert!(error.to_string().contains("sum to 1.1"), "{error}");
}

#[test]
fn a_binary_file_is_named_with_the_offset_of_its_first_binary_byte() {
    // The first bytes of a zip archive, renamed `.csv`; then a PNG's.
    let zip = write(
        "archive.csv",
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00name,value\n1,2\n",
    );
    let error = read(&zip).unwrap_err();
    assert!(
        matches!(
            error,
            Error::NotText {
                offset: 2,
                byte: 3,
                ..
            }
        ),
        "{error:?}"
    );
    assert_message(&error, &zip.path, &["not a text file", "byte 2", "0x03"]);
    let png = write("picture.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR");
    let error = read(&png).unwrap_err();
    assert!(
        matches!(error, Error::NotText { offset: 6, .. }),
        "{error:?}"
    );
    // Latin-1 text has no such byte: its error names the line and the column instead.
    let latin1 = write("latin1.csv", b"id,city\n1,K\xf6ln\n");
    let error = read(&latin1).unwrap_err();
    assert!(
        matches!(error, Error::InvalidUtf8 { line: 2, .. }),
        "{error:?}"
    );
}

#[test]
fn long_headers_and_cells_are_cut_in_messages() {
    let long_name = "h".repeat(5000);
    let file = write("wide.csv", format!("{long_name},y\n1,a\n2,b\n").as_bytes());
    let options = ReadOptions {
        drop_columns: vec!["absent".into()],
        ..ReadOptions::default()
    };
    let error = read_table(&file.path, &options).unwrap_err();
    let message = error.to_string();
    assert!(
        message.len() < 200,
        "{} characters: {message}",
        message.len()
    );
    assert_message(&error, &file.path, &[&format!("\"{}…\"", "h".repeat(60))]);

    let long_value = "v".repeat(1000);
    let file = write("cell.csv", format!("x,y\n1,a\n{long_value},b\n").as_bytes());
    let mut options = ReadOptions::default();
    options.column_kinds.insert("x".into(), ColumnKind::Numeric);
    let message = read_table(&file.path, &options).unwrap_err().to_string();
    assert!(
        message.len() < 200,
        "{} characters: {message}",
        message.len()
    );
    assert!(message.contains("\"vvvv"), "{message}");
}

#[test]
fn a_header_that_holds_another_delimiter_names_it() {
    for (bytes, delimiter, setting) in [
        (&b"a;b;c\n1;2;3\n"[..], "';'", "data.delimiter = \";\""),
        (b"a\tb\tc\n1\t2\t3\n", "'\\t'", "data.delimiter = \"\\t\""),
        (b"a|b|c\n1|2|3\n", "'|'", "data.delimiter = \"|\""),
    ] {
        let file = write("semicolons.csv", bytes);
        let error = read(&file).unwrap_err();
        assert!(matches!(error, Error::WrongDelimiter { .. }), "{error:?}");
        assert_message(
            &error,
            &file.path,
            &["looks delimited by", delimiter, setting],
        );
        let options = ReadOptions {
            delimiter: Some(bytes[1]),
            ..ReadOptions::default()
        };
        let table = read_table(&file.path, &options).unwrap();
        assert_eq!(table.column_names(), ["a", "b", "c"]);
    }
    // A genuine one-column file reads as one.
    let file = write("one.csv", b"value\n1\n2\n");
    assert_eq!(read(&file).unwrap().column_names(), ["value"]);
}

#[test]
fn a_classification_target_with_one_class_is_refused() {
    let file = write("one_class.csv", b"x,label\n1,yes\n2,yes\n3,yes\n");
    let table = read(&file).unwrap();
    let error = Preprocessor::fit(
        &table,
        "label",
        Task::Classification,
        &PreprocessConfig::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&error, Error::SingleClass { class, .. } if class == "yes"),
        "{error:?}"
    );
    assert_message(
        &error,
        &file.path,
        &[
            "\"label\"",
            "only one class, \"yes\"",
            "the 3 training rows",
            "at least two",
        ],
    );
    // A regression target with one value is the regressor's business, not refused here.
    assert!(Preprocessor::fit(&table, "x", Task::Regression, &PreprocessConfig::default()).is_ok());
}

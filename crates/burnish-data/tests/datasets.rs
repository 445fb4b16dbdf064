//! Every data set in the repository's `datasets/` loads with its intended schema.

use std::path::{Path, PathBuf};

use burnish_data::{
    ColumnKind, PreprocessConfig, Preprocessor, ReadOptions, SplitRatios, Table, Task, read_table,
    target_labels, train_valid_test_split,
};

fn dataset(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../datasets")
        .join(name)
}

fn read(name: &str) -> Table {
    read_table(&dataset(name), &ReadOptions::default()).unwrap_or_else(|error| panic!("{error}"))
}

fn kind(table: &Table, column: &str) -> ColumnKind {
    table
        .column(column)
        .unwrap_or_else(|| panic!("no column {column}"))
        .kind()
}

fn n_missing(table: &Table, column: &str) -> usize {
    table.column(column).unwrap().n_missing()
}

fn n_classes(table: &Table, target: &str) -> usize {
    let preprocessor = Preprocessor::fit(
        table,
        target,
        Task::Classification,
        &PreprocessConfig::default(),
    )
    .unwrap();
    preprocessor.class_names().len()
}

/// Every column but `except` is numeric and complete.
fn assert_numeric_complete(table: &Table, except: &[&str]) {
    for column in table.columns() {
        if except.contains(&column.name()) {
            continue;
        }
        assert_eq!(column.kind(), ColumnKind::Numeric, "{}", column.name());
        assert_eq!(column.n_missing(), 0, "{}", column.name());
    }
}

#[test]
fn penguins() {
    let table = read("penguins.csv");
    assert_eq!(table.n_rows(), 344);
    assert_eq!(table.n_columns(), 8);
    for column in ["species", "island", "sex"] {
        assert_eq!(kind(&table, column), ColumnKind::Categorical, "{column}");
    }
    for column in [
        "bill_length_mm",
        "bill_depth_mm",
        "flipper_length_mm",
        "body_mass_g",
        "year",
    ] {
        assert_eq!(kind(&table, column), ColumnKind::Numeric, "{column}");
    }
    assert_eq!(n_missing(&table, "bill_length_mm"), 2);
    assert_eq!(n_missing(&table, "sex"), 11);
    let preprocessor = Preprocessor::fit(
        &table,
        "species",
        Task::Classification,
        &PreprocessConfig::default(),
    )
    .unwrap();
    assert_eq!(
        preprocessor.class_names(),
        &["Adelie", "Chinstrap", "Gentoo"]
    );
    assert_eq!(
        preprocessor.feature_names(),
        &[
            "island_Biscoe",
            "island_Dream",
            "island_Torgersen",
            "bill_length_mm",
            "bill_depth_mm",
            "flipper_length_mm",
            "body_mass_g",
            "sex_female",
            "sex_male",
            "year",
        ]
    );
    let features = preprocessor.transform(&table).unwrap();
    assert!(features.values.iter().all(|value| value.is_finite()));
}

#[test]
fn penguins_with_dropped_year_and_stratified_split() {
    let options = ReadOptions {
        drop_columns: vec!["year".into()],
        ..ReadOptions::default()
    };
    let table = read_table(&dataset("penguins.csv"), &options).unwrap();
    assert_eq!(table.n_columns(), 7);
    assert!(table.column("year").is_none());
    let labels = target_labels(&table, "species").unwrap();
    let split =
        train_valid_test_split(table.n_rows(), SplitRatios::default(), Some(&labels), 42).unwrap();
    assert_eq!(
        split.train.len() + split.valid.len() + split.test.len(),
        344
    );
    let train = table.select_rows(&split.train);
    assert_eq!(n_classes(&train, "species"), 3);
}

#[test]
fn iris() {
    let table = read("iris.csv");
    assert_eq!(table.n_rows(), 150);
    assert_eq!(table.n_columns(), 5);
    assert_eq!(kind(&table, "species"), ColumnKind::Categorical);
    assert_numeric_complete(&table, &["species"]);
    assert_eq!(n_classes(&table, "species"), 3);
}

#[test]
fn wine() {
    let table = read("wine.csv");
    assert_eq!(table.n_rows(), 178);
    assert_eq!(table.n_columns(), 14);
    assert_eq!(kind(&table, "cultivar"), ColumnKind::Categorical);
    assert_numeric_complete(&table, &["cultivar"]);
    assert_eq!(n_classes(&table, "cultivar"), 3);
}

#[test]
fn breast_cancer() {
    let table = read("breast_cancer.csv");
    assert_eq!(table.n_rows(), 569);
    assert_eq!(table.n_columns(), 31);
    assert_eq!(kind(&table, "diagnosis"), ColumnKind::Categorical);
    assert_numeric_complete(&table, &["diagnosis"]);
    assert_eq!(n_classes(&table, "diagnosis"), 2);
}

#[test]
fn titanic() {
    let table = read("titanic.csv");
    assert_eq!(table.n_rows(), 1309);
    for column in ["survived", "sex", "passengerClass"] {
        assert_eq!(kind(&table, column), ColumnKind::Categorical, "{column}");
    }
    assert_eq!(kind(&table, "age"), ColumnKind::Numeric);
    assert_eq!(n_missing(&table, "age"), 263);
    assert_eq!(n_classes(&table, "survived"), 2);
}

#[test]
fn pima() {
    let table = read("pima.csv");
    assert_eq!(table.n_rows(), 532);
    assert_eq!(table.n_columns(), 8);
    assert_eq!(kind(&table, "type"), ColumnKind::Categorical);
    assert_numeric_complete(&table, &["type"]);
    assert_eq!(n_classes(&table, "type"), 2);
}

#[test]
fn diabetes() {
    let table = read("diabetes.csv");
    assert_eq!(table.n_rows(), 442);
    assert_eq!(table.n_columns(), 11);
    assert_numeric_complete(&table, &[]);
    let preprocessor = Preprocessor::fit(
        &table,
        "progression",
        Task::Regression,
        &PreprocessConfig::default(),
    )
    .unwrap();
    assert_eq!(preprocessor.n_features(), 10);
    assert!(preprocessor.class_names().is_empty());
}

#[test]
fn digits() {
    let table = read("digits.csv");
    assert_eq!(table.n_rows(), 1797);
    assert_eq!(table.n_columns(), 65);
    assert_numeric_complete(&table, &[]);
    let pixels = table
        .column_names()
        .iter()
        .filter(|name| name.starts_with("pixel_"))
        .count();
    assert_eq!(pixels, 64);
    let preprocessor = Preprocessor::fit(
        &table,
        "target",
        Task::Classification,
        &PreprocessConfig::default(),
    )
    .unwrap();
    let classes: Vec<String> = (0..10).map(|digit| digit.to_string()).collect();
    assert_eq!(preprocessor.class_names(), &classes[..]);
    assert_eq!(preprocessor.n_features(), 64);
}

#[test]
fn movie_reviews() {
    let table = read("movie_reviews.csv");
    // SOURCES.md says 10662 sentences; the shipped file has 10678 rows.
    assert_eq!(table.n_rows(), 10678);
    assert_eq!(kind(&table, "text"), ColumnKind::Text);
    assert_eq!(kind(&table, "sentiment"), ColumnKind::Categorical);
    assert_eq!(n_classes(&table, "sentiment"), 2);
    let text = table.column("text").unwrap().string_values().unwrap();
    assert!(text.get(0).unwrap().contains("\" conan \""));
}

#[test]
fn sunspots() {
    let table = read("sunspots.csv");
    assert_eq!(table.n_rows(), 3177);
    assert_eq!(table.column_names(), vec!["time", "sunspots"]);
    assert_numeric_complete(&table, &[]);
}

#[test]
fn air_passengers() {
    let table = read("air_passengers.csv");
    assert_eq!(table.n_rows(), 144);
    assert_eq!(table.column_names(), vec!["time", "passengers"]);
    assert_numeric_complete(&table, &[]);
    let passengers = table
        .column("passengers")
        .unwrap()
        .numeric_values()
        .unwrap();
    assert_eq!(passengers[0], 112.0);
}

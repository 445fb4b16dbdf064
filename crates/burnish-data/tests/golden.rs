//! Every case of scikit-learn's reference preprocessing results (`tests/golden/preprocessing.jsonl`,
//! copied from `shared/golden`): `SimpleImputer` mean, median and most_frequent, and
//! `StandardScaler` and `MinMaxScaler` after mean imputation, matched within 1e-9 in `f64`, and
//! through the whole `Preprocessor` within `f32` rounding.

use burnish_data::{
    Column, NumericImputation, PreprocessConfig, Preprocessor, Scaler, Scaling, Table, Task,
    numeric_fill_value,
};
use serde_json::Value;

const GOLDEN: &str = include_str!("golden/preprocessing.jsonl");

struct Case {
    name: String,
    /// Column-major, NaN for missing.
    columns: Vec<Vec<f64>>,
    record: Value,
}

fn cases() -> Vec<Case> {
    GOLDEN
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let record: Value = serde_json::from_str(line).expect("golden line is JSON");
            let rows = record["x"].as_array().expect("x is an array");
            let n_cols = rows[0].as_array().unwrap().len();
            let columns = (0..n_cols)
                .map(|col| {
                    rows.iter()
                        .map(|row| row[col].as_f64().unwrap_or(f64::NAN))
                        .collect()
                })
                .collect();
            Case {
                name: record["name"].as_str().unwrap().to_owned(),
                columns,
                record,
            }
        })
        .collect()
}

fn expected(case: &Case, key: &str) -> Vec<Vec<f64>> {
    case.record[key]
        .as_array()
        .unwrap_or_else(|| panic!("{}: no {key}", case.name))
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|value| value.as_f64().unwrap())
                .collect()
        })
        .collect()
}

fn imputed(column: &[f64], strategy: NumericImputation) -> Vec<f64> {
    let fill = numeric_fill_value(column, strategy, None).unwrap();
    column
        .iter()
        .map(|&value| if value.is_nan() { fill } else { value })
        .collect()
}

fn assert_close(case: &Case, key: &str, actual: &[Vec<f64>], tolerance: f64) {
    let expected = expected(case, key);
    for (row, expected_row) in expected.iter().enumerate() {
        for (col, &want) in expected_row.iter().enumerate() {
            let got = actual[col][row];
            // Written so that a NaN or an infinity on either side fails.
            assert!(
                (got - want).abs() <= tolerance,
                "{} {key} row {row} col {col}: got {got}, want {want}",
                case.name
            );
        }
    }
}

#[test]
fn golden_file_has_cases() {
    assert!(cases().len() >= 50, "{} cases", cases().len());
}

#[test]
fn simple_imputer_strategies_match_scikit_learn() {
    for case in cases() {
        for (strategy, key) in [
            (NumericImputation::Mean, "impute_mean"),
            (NumericImputation::Median, "impute_median"),
            (NumericImputation::MostFrequent, "impute_most_frequent"),
        ] {
            let actual: Vec<Vec<f64>> = case
                .columns
                .iter()
                .map(|column| imputed(column, strategy))
                .collect();
            assert_close(&case, key, &actual, 1e-9);
        }
    }
}

#[test]
fn scalers_after_mean_imputation_match_scikit_learn() {
    for case in cases() {
        for (scaling, key) in [
            (Scaling::Standard, "standard_scaled_after_mean"),
            (Scaling::MinMax, "minmax_scaled_after_mean"),
        ] {
            let actual: Vec<Vec<f64>> = case
                .columns
                .iter()
                .map(|column| {
                    let column = imputed(column, NumericImputation::Mean);
                    let scaler = Scaler::fit(&column, scaling);
                    column.iter().map(|&value| scaler.apply(value)).collect()
                })
                .collect();
            assert_close(&case, key, &actual, 1e-9);
        }
    }
}

#[test]
fn preprocessor_matches_scikit_learn_in_f32() {
    for case in cases() {
        let n_rows = case.columns[0].len();
        let mut columns: Vec<Column> = case
            .columns
            .iter()
            .enumerate()
            .map(|(index, values)| {
                let values = values
                    .iter()
                    .map(|&value| (!value.is_nan()).then_some(value))
                    .collect();
                Column::numeric(format!("x{index}"), values)
            })
            .collect();
        columns.push(Column::numeric("y", vec![Some(0.0); n_rows]));
        let table = Table::new(format!("{}.csv", case.name), columns);
        for (missing, scale, key) in [
            (NumericImputation::Median, Scaling::None, "impute_median"),
            (
                NumericImputation::Mean,
                Scaling::Standard,
                "standard_scaled_after_mean",
            ),
            (
                NumericImputation::Mean,
                Scaling::MinMax,
                "minmax_scaled_after_mean",
            ),
        ] {
            let config = PreprocessConfig {
                missing,
                scale,
                ..PreprocessConfig::default()
            };
            let preprocessor = Preprocessor::fit(&table, "y", Task::Regression, &config).unwrap();
            let features = preprocessor.transform(&table).unwrap();
            assert_eq!(features.n_cols, case.columns.len());
            for (row, expected_row) in expected(&case, key).iter().enumerate() {
                for (col, &want) in expected_row.iter().enumerate() {
                    let got = f64::from(features.row(row)[col]);
                    assert!(
                        (got - want).abs() <= 1e-5 * want.abs().max(1.0),
                        "{} {key} row {row} col {col}: got {got}, want {want}",
                        case.name
                    );
                }
            }
        }
    }
}

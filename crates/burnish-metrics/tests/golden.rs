//! Every case of the reference files computed by scikit-learn 1.9.1 (copied from
//! `shared/golden/`): reports byte for byte, numbers within 1e-12 relative.

use std::fmt::Display;

use burnish_metrics::{
    Average, ClassificationReport, ConfusionMatrix, FbetaOptions, RegressionMetrics, ReportOptions,
    ZeroDivision, accuracy_score, balanced_accuracy_score, cohen_kappa_score,
    explained_variance_score, matthews_corrcoef, mean_absolute_error, mean_squared_error,
    precision_recall_fscore, precision_recall_fscore_per_class, r2_score, root_mean_squared_error,
};
use serde_json::Value;

const CLASSIFICATION: &str = include_str!("golden/classification.jsonl");
const REGRESSION: &str = include_str!("golden/regression.jsonl");

/// Relative tolerance with an absolute floor for values near zero.
fn close(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() <= 1e-12 * expected.abs().max(1.0)
}

#[test]
fn close_fails_on_nan_and_infinity() {
    assert!(close(0.5, 0.5 + 1e-13));
    assert!(!close(f64::NAN, 0.5));
    assert!(!close(0.5, f64::NAN));
    assert!(!close(f64::INFINITY, f64::INFINITY));
    assert!(!close(f64::NEG_INFINITY, 0.5));
}

/// Collects every disagreement of one case instead of stopping at the first.
struct Mismatches {
    case_name: String,
    messages: Vec<String>,
}

impl Mismatches {
    fn new(case: &Value) -> Self {
        Self {
            case_name: case["name"].as_str().expect("case name").to_owned(),
            messages: Vec::new(),
        }
    }

    fn number(&mut self, what: &str, actual: f64, expected: &Value) {
        let expected = expected
            .as_f64()
            .unwrap_or_else(|| panic!("{}: {what} is not a number", self.case_name));
        if !close(actual, expected) {
            self.messages
                .push(format!("{what}: got {actual:e}, expected {expected:e}"));
        }
    }

    fn numbers(&mut self, what: &str, actual: &[f64], expected: &Value) {
        let expected = expected.as_array().expect("an array");
        if actual.len() != expected.len() {
            self.messages.push(format!(
                "{what}: got {} values, expected {}",
                actual.len(),
                expected.len()
            ));
            return;
        }
        for (idx, (actual, expected)) in actual.iter().zip(expected).enumerate() {
            self.number(&format!("{what}[{idx}]"), *actual, expected);
        }
    }

    fn text(&mut self, what: &str, actual: &str, expected: &str) {
        if actual != expected {
            self.messages.push(format!(
                "{what} differs:\n--- got\n{actual}--- expected\n{expected}"
            ));
        }
    }
}

fn zero_division_of(case: &Value) -> ZeroDivision {
    match &case["zero_division"] {
        Value::String(text) if text == "warn" => ZeroDivision::Warn,
        value if value.as_f64() == Some(0.0) => ZeroDivision::Zero,
        value if value.as_f64() == Some(1.0) => ZeroDivision::One,
        other => panic!("unknown zero_division {other}"),
    }
}

fn check_classification_case<L: Ord + Clone + Display>(
    case: &Value,
    y_true: &[L],
    y_pred: &[L],
) -> Vec<String> {
    let mut mismatches = Mismatches::new(case);
    let options = ReportOptions {
        digits: case["digits"].as_u64().expect("digits") as usize,
        zero_division: zero_division_of(case),
    };

    let report = ClassificationReport::new(y_true, y_pred, &options).expect("a report");
    mismatches.text(
        "report",
        &report.to_text(),
        case["report"].as_str().unwrap(),
    );

    let confusion_matrix = ConfusionMatrix::new(y_true, y_pred).expect("a confusion matrix");
    let expected_labels: Vec<String> = case["labels_sorted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|label| match label {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })
        .collect();
    if confusion_matrix.labels != expected_labels || report.labels != expected_labels {
        mismatches.messages.push(format!(
            "labels: got {:?}, expected {expected_labels:?}",
            confusion_matrix.labels
        ));
    }
    let expected_counts: Vec<Vec<u64>> =
        serde_json::from_value(case["confusion_matrix"].clone()).unwrap();
    if confusion_matrix.counts != expected_counts {
        mismatches.messages.push(format!(
            "confusion matrix: got {:?}, expected {expected_counts:?}",
            confusion_matrix.counts
        ));
    }
    let report_from_matrix =
        ClassificationReport::from_confusion_matrix(&confusion_matrix, &options).unwrap();
    mismatches.text(
        "report from the confusion matrix",
        &report_from_matrix.to_text(),
        case["report"].as_str().unwrap(),
    );

    mismatches.number(
        "accuracy_score",
        accuracy_score(y_true, y_pred).unwrap(),
        &case["accuracy"],
    );
    mismatches.number("report.accuracy", report.accuracy, &case["accuracy"]);
    mismatches.number(
        "balanced_accuracy_score",
        balanced_accuracy_score(y_true, y_pred).unwrap(),
        &case["balanced_accuracy"],
    );
    mismatches.number(
        "ConfusionMatrix::balanced_accuracy",
        confusion_matrix.balanced_accuracy(),
        &case["balanced_accuracy"],
    );
    mismatches.number(
        "matthews_corrcoef",
        matthews_corrcoef(y_true, y_pred).unwrap(),
        &case["matthews_corrcoef"],
    );
    mismatches.number(
        "ConfusionMatrix::matthews_corrcoef",
        confusion_matrix.matthews_corrcoef(),
        &case["matthews_corrcoef"],
    );
    let kappa = cohen_kappa_score(y_true, y_pred).unwrap();
    match (kappa, &case["cohen_kappa"]) {
        (None, Value::Null) => {}
        (Some(kappa), expected @ Value::Number(_)) => {
            mismatches.number("cohen_kappa_score", kappa, expected);
        }
        (kappa, expected) => mismatches.messages.push(format!(
            "cohen_kappa_score: got {kappa:?}, expected {expected}"
        )),
    }
    if confusion_matrix.cohen_kappa() != kappa {
        mismatches
            .messages
            .push("ConfusionMatrix::cohen_kappa differs from cohen_kappa_score".to_owned());
    }

    let fbeta_options = FbetaOptions {
        beta: 1.0,
        zero_division: options.zero_division,
    };
    for (average, key, from_report) in [
        (Average::Micro, "micro", report.micro_avg),
        (Average::Macro, "macro", report.macro_avg),
        (Average::Weighted, "weighted", report.weighted_avg),
    ] {
        let expected = &case["averages"][key];
        let scores = precision_recall_fscore(y_true, y_pred, average, &fbeta_options).unwrap();
        mismatches.number(
            &format!("{key} precision"),
            scores.precision,
            &expected["precision"],
        );
        mismatches.number(&format!("{key} recall"), scores.recall, &expected["recall"]);
        mismatches.number(&format!("{key} f1"), scores.fscore, &expected["f1"]);
        mismatches.number(
            &format!("report {key} precision"),
            from_report.precision,
            &expected["precision"],
        );
        mismatches.number(
            &format!("report {key} recall"),
            from_report.recall,
            &expected["recall"],
        );
        mismatches.number(&format!("report {key} f1"), from_report.f1, &expected["f1"]);
    }

    let per_class = precision_recall_fscore_per_class(y_true, y_pred, &fbeta_options).unwrap();
    let expected = &case["per_class"];
    let column = |get: fn(&burnish_metrics::LabelScores<L>) -> f64| -> Vec<f64> {
        per_class.iter().map(get).collect()
    };
    mismatches.numbers(
        "per-class precision",
        &column(|label| label.scores.precision),
        &expected["precision"],
    );
    mismatches.numbers(
        "per-class recall",
        &column(|label| label.scores.recall),
        &expected["recall"],
    );
    mismatches.numbers(
        "per-class f1",
        &column(|label| label.scores.fscore),
        &expected["f1"],
    );
    mismatches.numbers(
        "per-class support",
        &column(|label| label.support as f64),
        &expected["support"],
    );
    let report_f1: Vec<f64> = report.per_class.iter().map(|scores| scores.f1).collect();
    mismatches.numbers("report per-class f1", &report_f1, &expected["f1"]);

    mismatches
        .messages
        .iter()
        .map(|message| format!("{}: {message}", mismatches.case_name))
        .collect()
}

#[test]
fn every_classification_case_matches_scikit_learn() {
    let mut n_passed = 0;
    let mut n_cases = 0;
    let mut n_string_cases = 0;
    let mut n_integer_cases = 0;
    let mut failures = Vec::new();
    for line in CLASSIFICATION
        .lines()
        .filter(|line| !line.trim().is_empty())
    {
        let case: Value = serde_json::from_str(line).expect("a JSON case");
        let case_failures = if case["y_true"][0].is_string() {
            n_string_cases += 1;
            let labels = |key: &str| -> Vec<String> {
                serde_json::from_value(case[key].clone()).expect("string labels")
            };
            check_classification_case(&case, &labels("y_true"), &labels("y_pred"))
        } else {
            n_integer_cases += 1;
            let labels = |key: &str| -> Vec<i64> {
                serde_json::from_value(case[key].clone()).expect("integer labels")
            };
            check_classification_case(&case, &labels("y_true"), &labels("y_pred"))
        };
        n_cases += 1;
        if case_failures.is_empty() {
            n_passed += 1;
        }
        failures.extend(case_failures);
    }
    println!(
        "classification: {n_passed} of {n_cases} cases pass ({n_string_cases} with string labels, \
         {n_integer_cases} with integer labels)"
    );
    assert!(n_string_cases > 0 && n_integer_cases > 0);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(n_passed, n_cases);
}

#[test]
fn every_regression_case_matches_scikit_learn() {
    let mut n_passed = 0;
    let mut n_cases = 0;
    let mut failures = Vec::new();
    for line in REGRESSION.lines().filter(|line| !line.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).expect("a JSON case");
        let mut mismatches = Mismatches::new(&case);
        let y_true: Vec<f64> = serde_json::from_value(case["y_true"].clone()).unwrap();
        let y_pred: Vec<f64> = serde_json::from_value(case["y_pred"].clone()).unwrap();
        let metrics = RegressionMetrics::new(&y_true, &y_pred).unwrap();
        mismatches.number("mse", metrics.mse, &case["mse"]);
        mismatches.number("rmse", metrics.rmse, &case["rmse"]);
        mismatches.number("mae", metrics.mae, &case["mae"]);
        mismatches.number("r2", metrics.r2, &case["r2"]);
        mismatches.number(
            "explained_variance",
            metrics.explained_variance,
            &case["explained_variance"],
        );
        mismatches.number(
            "mean_squared_error",
            mean_squared_error(&y_true, &y_pred).unwrap(),
            &case["mse"],
        );
        mismatches.number(
            "root_mean_squared_error",
            root_mean_squared_error(&y_true, &y_pred).unwrap(),
            &case["rmse"],
        );
        mismatches.number(
            "mean_absolute_error",
            mean_absolute_error(&y_true, &y_pred).unwrap(),
            &case["mae"],
        );
        mismatches.number("r2_score", r2_score(&y_true, &y_pred).unwrap(), &case["r2"]);
        mismatches.number(
            "explained_variance_score",
            explained_variance_score(&y_true, &y_pred).unwrap(),
            &case["explained_variance"],
        );
        n_cases += 1;
        if mismatches.messages.is_empty() {
            n_passed += 1;
        }
        failures.extend(
            mismatches
                .messages
                .iter()
                .map(|message| format!("{}: {message}", mismatches.case_name)),
        );
    }
    println!("regression: {n_passed} of {n_cases} cases pass");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(n_passed, n_cases);
}

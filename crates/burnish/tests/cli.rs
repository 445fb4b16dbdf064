//! The `burnish` binary as a user meets it: the penguins experiment end to end, and one clear
//! line of error, with a non-zero exit, for each kind of bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the crate lives in crates/burnish")
        .to_path_buf()
}

fn burnish(args: &[&str], runs: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_burnish"))
        .args(args)
        .arg("--runs")
        .arg(runs)
        .current_dir(workspace_root())
        .output()
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The accuracy on the `accuracy` row of a scikit-learn classification report.
fn report_accuracy(report: &str) -> f64 {
    report
        .lines()
        .find_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("accuracy")).then(|| words.next().unwrap().parse().unwrap())
        })
        .expect("the report has an accuracy row")
}

fn report_of(run_output: &str) -> &str {
    let start = run_output.find("test split").expect("a test report");
    let end = run_output.find("run folder:").expect("the run folder line");
    &run_output[start..end]
}

#[test]
fn penguins_trains_to_the_target_accuracy_and_repeats_exactly() {
    let runs = tempfile::tempdir().unwrap();
    let first = burnish(
        &["train", "experiments/penguins.toml", "--quiet"],
        runs.path(),
    );
    assert!(first.status.success(), "{}", stderr(&first));
    let first_out = stdout(&first);
    let accuracy = report_accuracy(report_of(&first_out));
    assert!(accuracy >= 0.97, "test accuracy {accuracy}\n{first_out}");

    let second = burnish(&["train", "--quiet"], runs.path());
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(report_of(&first_out), report_of(&stdout(&second)));

    let penguin_runs: Vec<PathBuf> = std::fs::read_dir(runs.path().join("penguins"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(penguin_runs.len(), 2, "each run gets its own folder");
    for file in [
        "config.toml",
        "model.bpk",
        "preprocessor.json",
        "history.csv",
        "metrics.json",
        "report.txt",
        "confusion.csv",
        "confusion.svg",
        "curves.svg",
        "run.json",
    ] {
        assert!(penguin_runs[0].join(file).is_file(), "missing {file}");
    }
    let history = std::fs::read_to_string(penguin_runs[0].join("history.csv")).unwrap();
    assert!(history.starts_with("epoch,lr,train_loss,valid_accuracy,valid_loss\n"));
}

/// Writes an experiment into a temporary folder and runs `burnish train` on it.
fn train_with(experiment: &str, extra: &[&str]) -> (Output, PathBuf, tempfile::TempDir) {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("bad.toml");
    std::fs::write(&path, experiment).unwrap();
    let mut args = vec!["train", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    let output = burnish(&args, &folder.path().join("runs"));
    (output, path, folder)
}

fn penguins_with(replace: &str, by: &str) -> String {
    let text = std::fs::read_to_string(workspace_root().join("experiments/penguins.toml")).unwrap();
    assert!(text.contains(replace), "the experiment has `{replace}`");
    text.replace(replace, by).replace(
        "datasets/penguins.csv",
        &format!("{}/datasets/penguins.csv", workspace_root().display()),
    )
}

fn assert_one_line_error(output: &Output, expected_parts: &[&str]) {
    assert!(!output.status.success(), "the run should fail");
    let message = stderr(output);
    assert_eq!(message.lines().count(), 1, "one line: {message}");
    assert!(message.starts_with("error: "), "{message}");
    assert!(!message.contains("panicked"), "{message}");
    for part in expected_parts {
        assert!(message.contains(part), "`{part}` in: {message}");
    }
}

#[test]
fn a_wrong_key_names_the_file_line_and_key() {
    let (output, path, _folder) = train_with(&penguins_with("epochs = 200", "epochz = 200"), &[]);
    assert_one_line_error(
        &output,
        &[
            &format!("{}:", path.display()),
            "`train.epochz`",
            "unknown field",
        ],
    );
}

#[test]
fn a_wrong_type_names_the_file_line_and_key() {
    let (output, path, _folder) = train_with(
        &penguins_with("batch_size = 32", "batch_size = \"32\""),
        &[],
    );
    assert_one_line_error(
        &output,
        &[
            &format!("{}:", path.display()),
            "`train.batch_size`",
            "invalid type",
        ],
    );
}

#[test]
fn a_missing_data_file_is_named() {
    let (output, _path, _folder) =
        train_with(&penguins_with("penguins.csv\"", "no_such_file.csv\""), &[]);
    assert_one_line_error(&output, &["no_such_file.csv"]);
}

#[test]
fn an_unknown_backend_is_named_in_the_file_and_on_the_command_line() {
    let (output, path, _folder) = train_with(
        &penguins_with("backend = \"flex\"", "backend = \"tpu\""),
        &[],
    );
    assert_one_line_error(
        &output,
        &[&format!("{}:", path.display()), "`backend`", "tpu"],
    );
    let (output, _path, _folder) = train_with(&penguins_with("", ""), &["--backend", "tpu"]);
    assert_one_line_error(
        &output,
        &[
            "--backend",
            "unknown backend `tpu`",
            "flex, ndarray, wgpu, cuda",
        ],
    );
}

#[test]
fn a_backend_not_compiled_in_names_the_feature_to_add() {
    if cfg!(feature = "cuda") {
        return;
    }
    let (output, _path, _folder) = train_with(
        &penguins_with("backend = \"flex\"", "backend = \"cuda\""),
        &[],
    );
    assert_one_line_error(
        &output,
        &["backend `cuda` is not compiled", "--features cuda"],
    );
}

#[test]
fn an_unknown_target_column_is_named_with_the_file() {
    let (output, _path, _folder) = train_with(
        &penguins_with("target = \"species\"", "target = \"specie\""),
        &[],
    );
    assert_one_line_error(&output, &["specie", "penguins.csv"]);
}

#[test]
fn backends_lists_every_backend() {
    let folder = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_burnish"))
        .arg("backends")
        .current_dir(folder.path())
        .output()
        .unwrap();
    assert!(output.status.success());
    let listing = stdout(&output);
    for name in ["flex", "ndarray", "wgpu", "cuda"] {
        assert!(listing.contains(name), "{listing}");
    }
    assert!(
        listing
            .lines()
            .any(|line| line.starts_with("flex") && line.ends_with("opens"))
    );
}

/// Runs the binary with `args` in the workspace root, without `--runs`.
fn burnish_plain(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_burnish"))
        .args(args)
        .current_dir(workspace_root())
        .output()
        .expect("the binary runs")
}

#[test]
fn evaluate_and_predict_need_only_the_run_folder_and_the_data() {
    let runs = tempfile::tempdir().unwrap();
    let trained = burnish(&["train", "--quiet"], runs.path());
    assert!(trained.status.success(), "{}", stderr(&trained));
    let trained_out = stdout(&trained);
    let run = trained_out
        .lines()
        .find_map(|line| line.strip_prefix("run folder: "))
        .unwrap()
        .to_string();

    // The test split, split again from the saved seed, gives the report training printed.
    let evaluated = burnish_plain(&["evaluate", &run]);
    assert!(evaluated.status.success(), "{}", stderr(&evaluated));
    let evaluated_out = stdout(&evaluated);
    let training_report = report_of(&trained_out)
        .split_once('\n')
        .unwrap()
        .1
        .trim_end();
    assert!(
        evaluated_out.contains(training_report),
        "{evaluated_out}\nvs\n{training_report}"
    );

    // Predicting a file without the target column: one row per line, probabilities sum to 1.
    let folder = tempfile::tempdir().unwrap();
    let unlabelled = folder.path().join("new.csv");
    let original = std::fs::read_to_string(workspace_root().join("datasets/penguins.csv")).unwrap();
    let without_species: String = original
        .lines()
        .take(6)
        .map(|line| line.split_once(',').unwrap().1.to_string() + "\n")
        .collect();
    std::fs::write(&unlabelled, without_species).unwrap();
    let predicted = burnish_plain(&["predict", &run, unlabelled.to_str().unwrap()]);
    assert!(predicted.status.success(), "{}", stderr(&predicted));
    let lines: Vec<String> = stdout(&predicted).lines().map(str::to_string).collect();
    assert_eq!(
        lines[0], "line,species,p_Adelie,p_Chinstrap,p_Gentoo",
        "{lines:?}"
    );
    assert_eq!(lines.len(), 6, "a header and five rows");
    for line in &lines[1..] {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(
            fields[1], "Adelie",
            "the first rows of the file are Adelie: {line}"
        );
        let total: f64 = fields[2..].iter().map(|p| p.parse::<f64>().unwrap()).sum();
        assert!((total - 1.0).abs() < 1e-4, "{line}");
    }

    // A feature column missing from the new file is named.
    let no_island = folder.path().join("no_island.csv");
    std::fs::write(&no_island, "bill_length_mm,bill_depth_mm\n39.1,18.7\n").unwrap();
    let failed = burnish_plain(&["predict", &run, no_island.to_str().unwrap()]);
    assert_one_line_error(&failed, &["island"]);
}

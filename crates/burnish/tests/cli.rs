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

/// The longest error line a user should have to read.
const LONGEST_ERROR: usize = 200;

fn assert_one_line_error(output: &Output, expected_parts: &[&str]) {
    assert!(!output.status.success(), "the run should fail");
    let message = stderr(output);
    assert_eq!(message.lines().count(), 1, "one line: {message}");
    assert!(
        message.trim_end().chars().count() <= LONGEST_ERROR,
        "{} characters: {message}",
        message.trim_end().chars().count()
    );
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
fn a_missing_data_file_is_named_and_leaves_no_run_folder() {
    let (output, _path, folder) =
        train_with(&penguins_with("penguins.csv\"", "no_such_file.csv\""), &[]);
    assert_one_line_error(&output, &["no_such_file.csv"]);
    assert!(
        !folder.path().join("runs").exists(),
        "a run that fails before training leaves no folder"
    );
}

/// Writes `data` as `file_name` in a temporary folder and runs `burnish COMMAND` on the
/// penguins experiment pointed at it, trained for at most two epochs, with `extra` arguments.
fn run_on_data(
    command: &str,
    file_name: &str,
    data: &[u8],
    extra: &[&str],
) -> (Output, tempfile::TempDir) {
    let folder = tempfile::tempdir().unwrap();
    let data_path = folder.path().join(file_name);
    std::fs::write(&data_path, data).unwrap();
    let data_setting = format!("data.path={:?}", data_path.display().to_string());
    let mut args = vec![
        command,
        "experiments/penguins.toml",
        "--quiet",
        "--set",
        "train.epochs=2",
        "--set",
        &data_setting,
    ];
    if command == "cv" {
        args.retain(|arg| *arg != "--quiet");
    }
    args.extend_from_slice(extra);
    let output = burnish(&args, &folder.path().join("runs"));
    (output, folder)
}

/// The penguins rows whose species is `Adelie`, with the header.
fn adelie_only() -> String {
    let text = std::fs::read_to_string(workspace_root().join("datasets/penguins.csv")).unwrap();
    let mut lines = text.lines();
    let mut kept = vec![lines.next().unwrap()];
    kept.extend(lines.filter(|line| line.starts_with("Adelie,")));
    kept.join("\n") + "\n"
}

#[test]
fn a_target_with_one_class_stops_before_training() {
    let adelie = adelie_only();
    let n_rows = adelie.lines().count() - 1;
    let (output, folder) = run_on_data("train", "adelie.csv", adelie.as_bytes(), &[]);
    assert_one_line_error(
        &output,
        &[
            "adelie.csv",
            "target column \"species\"",
            "only one class, \"Adelie\"",
            &format!("all {n_rows} rows"),
            "at least two",
        ],
    );
    assert!(!folder.path().join("runs").exists(), "no run folder");
    let (output, _folder) = run_on_data("cv", "adelie.csv", adelie.as_bytes(), &[]);
    assert_one_line_error(&output, &["adelie.csv", "only one class, \"Adelie\""]);

    // One Gentoo row among them: without stratification, the fold that holds it out trains
    // on Adelie alone.
    let one_gentoo = adelie + "Gentoo,Biscoe,46.1,13.2,211.0,4500.0,female,2007\n";
    let (output, _folder) = run_on_data(
        "cv",
        "one_gentoo.csv",
        one_gentoo.as_bytes(),
        &["-k", "2", "--set", "data.split.stratify=false"],
    );
    assert_one_line_error(
        &output,
        &[
            "error: fold ",
            "/2: ",
            "one_gentoo.csv",
            "only one class, \"Adelie\", in the ",
            " training rows",
        ],
    );
}

#[test]
fn a_binary_file_is_named_with_a_byte_offset() {
    let mut zip = b"PK\x03\x04\x14\x00\x00\x00\x08\x00".to_vec();
    zip.extend(std::iter::repeat_n(b'x', 5000));
    let (output, _folder) = run_on_data("train", "penguins.csv", &zip, &[]);
    assert_one_line_error(
        &output,
        &["penguins.csv", "not a text file", "byte 2 is 0x03"],
    );
}

#[test]
fn a_semicolon_file_names_its_delimiter_and_trains_with_it_set() {
    let text = std::fs::read_to_string(workspace_root().join("datasets/penguins.csv")).unwrap();
    let semicolons = text.replace(',', ";");
    let (output, _folder) = run_on_data("train", "penguins.csv", semicolons.as_bytes(), &[]);
    assert_one_line_error(
        &output,
        &[
            "penguins.csv",
            "the header is one column, \"species;island;",
            "…\"",
            "looks delimited by ';'",
            "set data.delimiter = \";\"",
        ],
    );
    let (output, folder) = run_on_data(
        "train",
        "penguins.csv",
        semicolons.as_bytes(),
        &["--set", "data.delimiter=\";\""],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let run = only_folder(&folder.path().join("runs/penguins"));
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(config.contains("delimiter = \";\""), "{config}");

    let (output, _folder) = run_on_data(
        "train",
        "penguins.csv",
        semicolons.as_bytes(),
        &["--set", "data.delimiter=\";;\""],
    );
    assert_one_line_error(
        &output,
        &["data.delimiter", "one ASCII character", "\";;\""],
    );
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
    assert_evaluate_repeats_the_training_report(Path::new(&run), &trained_out);

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

/// `burnish evaluate RUN` splits the test rows again from the saved seed and prints the report
/// that training printed (`trained_out`).
fn assert_evaluate_repeats_the_training_report(run: &Path, trained_out: &str) {
    let evaluated = burnish_plain(&["evaluate", run.to_str().unwrap()]);
    assert!(evaluated.status.success(), "{}", stderr(&evaluated));
    let evaluated_out = stdout(&evaluated);
    let training_report = report_of(trained_out)
        .split_once('\n')
        .unwrap()
        .1
        .trim_end();
    assert!(
        evaluated_out.contains(training_report),
        "{evaluated_out}\nvs\n{training_report}"
    );
}

/// The run or cv folder a command printed on its last `<label>: ` line.
fn printed_folder(output: &str, label: &str) -> PathBuf {
    output
        .lines()
        .find_map(|line| line.strip_prefix(label))
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("no `{label}` line in:\n{output}"))
}

#[test]
fn cv_prints_each_fold_and_the_mean_and_std_and_writes_cv_json() {
    let runs = tempfile::tempdir().unwrap();
    let output = burnish(
        &[
            "cv",
            "experiments/iris.toml",
            "--folds",
            "3",
            "--set",
            "train.epochs=3",
        ],
        runs.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let printed = stdout(&output);
    assert!(
        printed.starts_with("iris: 150 rows of datasets/iris.csv, 3-fold stratified"),
        "{printed}"
    );
    for fold in 1..=3 {
        let line = printed
            .lines()
            .find(|line| line.starts_with(&format!("fold {fold}/3: ")))
            .unwrap_or_else(|| panic!("no line for fold {fold}:\n{printed}"));
        assert!(line.contains("50 test rows; 3 epochs"), "{line}");
        assert!(
            line.contains("accuracy") && line.contains("macro_f1"),
            "{line}"
        );
    }
    assert!(
        !printed.contains("epoch   1/"),
        "no epoch lines without --verbose"
    );
    assert!(printed.contains("sample std, ddof=1"), "{printed}");
    let accuracy_line = printed
        .lines()
        .find(|line| line.trim_start().starts_with("accuracy"))
        .expect("an accuracy summary line");
    assert!(accuracy_line.contains(" ± "), "{accuracy_line}");

    let cv_dir = printed_folder(&printed, "cv folder: ");
    assert!(
        cv_dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("cv-"),
        "{}",
        cv_dir.display()
    );
    let cv_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cv_dir.join("cv.json")).unwrap()).unwrap();
    let folds = cv_json["folds"].as_array().unwrap();
    assert_eq!(folds.len(), 3);
    let fold_accuracies: Vec<f64> = folds
        .iter()
        .map(|fold| fold["metrics"]["accuracy"].as_f64().unwrap())
        .collect();
    let mean = fold_accuracies.iter().sum::<f64>() / 3.0;
    let std = (fold_accuracies
        .iter()
        .map(|accuracy| (accuracy - mean).powi(2))
        .sum::<f64>()
        / 2.0)
        .sqrt();
    let summary = &cv_json["summary"]["accuracy"];
    assert!((summary["mean"].as_f64().unwrap() - mean).abs() < 1e-12);
    assert!((summary["std"].as_f64().unwrap() - std).abs() < 1e-12);
    let csv = std::fs::read_to_string(cv_dir.join("cv.csv")).unwrap();
    assert!(csv.starts_with(
        "fold,train_rows,valid_rows,test_rows,epochs_run,weights_epoch,accuracy,macro_f1\n"
    ));
    assert_eq!(csv.lines().count(), 1 + 3 + 2, "header, folds, mean, std");
    assert!(cv_dir.join("config.toml").is_file());
}

#[test]
fn set_overrides_keys_and_the_resolved_config_records_them() {
    let runs = tempfile::tempdir().unwrap();
    let output = burnish(
        &[
            "train",
            "--quiet",
            "--set",
            "train.epochs=2",
            "--set",
            "model.hidden=[8]",
            "--set",
            "train.optimizer.lr=0.01",
        ],
        runs.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let run = printed_folder(&stdout(&output), "run folder: ");
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(config.contains("epochs = 2\n"), "{config}");
    assert!(config.contains("lr = 0.01\n"), "{config}");
    assert!(config.contains("hidden = [8]\n"), "{config}");
    let history = std::fs::read_to_string(run.join("history.csv")).unwrap();
    assert_eq!(history.lines().count(), 1 + 2, "a header and two epochs");
}

/// `devices = [0, 0]` trains penguins with two data-parallel workers sharing the CPU; the
/// run reaches the one-device run's accuracy and records the devices in its config.
#[test]
fn two_data_parallel_workers_train_penguins() {
    let runs = tempfile::tempdir().unwrap();
    let output = burnish(
        &["train", "--quiet", "--set", "devices=[0, 0]"],
        runs.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    let accuracy = report_accuracy(report_of(&out));
    assert!(accuracy >= 0.97, "test accuracy {accuracy}\n{out}");
    let run = printed_folder(&out, "run folder: ");
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(
        config.contains("devices = [\n    0,\n    0,\n]\n"),
        "{config}"
    );
}

#[test]
fn a_device_index_the_backend_lacks_is_named() {
    let runs = tempfile::tempdir().unwrap();
    for command in ["train", "cv"] {
        let output = burnish(&[command, "--set", "devices=[0, 2]"], runs.path());
        assert_one_line_error(&output, &["`devices`", "index 2 does not exist"]);
    }
}

#[test]
fn an_unknown_set_key_is_named_as_coming_from_set() {
    let runs = tempfile::tempdir().unwrap();
    for command in ["train", "cv"] {
        let output = burnish(&[command, "--set", "train.epohcs=5"], runs.path());
        assert_one_line_error(&output, &["--set `train.epohcs`", "unknown field `epohcs`"]);
    }
    let output = burnish(&["train", "--set", "train.epochs"], runs.path());
    assert!(!output.status.success());
    assert!(stderr(&output).contains("KEY=VALUE"), "{}", stderr(&output));
}

#[test]
fn datasets_lists_the_shipped_data_with_rows_and_licence() {
    let output = burnish_plain(&["datasets"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let listing = stdout(&output);
    let iris = listing
        .lines()
        .find(|line| line.starts_with("iris.csv"))
        .unwrap_or_else(|| panic!("no iris line in:\n{listing}"));
    assert!(iris.contains(" 150 "), "{iris}");
    assert!(iris.contains("3-class classification"), "{iris}");
    assert!(listing.contains("licence: CC BY 4.0"), "{listing}");

    let elsewhere = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_burnish"))
        .arg("datasets")
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    assert_one_line_error(
        &output,
        &["no data folder at", "datasets", "repository root"],
    );
}

#[test]
fn every_committed_experiment_runs_one_batch() {
    let mut experiments: Vec<PathBuf> = std::fs::read_dir(workspace_root().join("experiments"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "toml")
        })
        .collect();
    experiments.sort();
    assert!(experiments.len() >= 8, "{experiments:?}");
    let runs = tempfile::tempdir().unwrap();
    // The experiments on token files read them from a folder `prepare-text` writes.
    let tokens = prepare_tiny_shakespeare_tokens(runs.path());
    for experiment in &experiments {
        let mut args = vec![
            "train",
            experiment.to_str().unwrap(),
            "--quiet",
            "--set",
            "train.fast_dev_run=true",
        ];
        if std::fs::read_to_string(experiment)
            .unwrap()
            .contains("\ntokens = ")
        {
            args.extend(["--set", &tokens]);
        }
        let output = burnish(&args, runs.path());
        assert!(
            output.status.success(),
            "{}: {}",
            experiment.display(),
            stderr(&output)
        );
    }
}

/// The one folder under `parent`.
fn only_folder(parent: &Path) -> PathBuf {
    let folders: Vec<PathBuf> = std::fs::read_dir(parent)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(folders.len(), 1, "{folders:?}");
    folders.into_iter().next().unwrap()
}

#[test]
fn ctrl_c_checkpoints_and_resume_ends_as_an_uninterrupted_run() {
    // Batches of one row make each epoch long enough to be interrupted in.
    let args = [
        "train",
        "experiments/penguins.toml",
        "--quiet",
        "--set",
        "train.batch_size=1",
        "--set",
        "train.epochs=12",
    ];
    let whole_runs = tempfile::tempdir().unwrap();
    let whole = burnish(&args, whole_runs.path());
    assert!(whole.status.success(), "{}", stderr(&whole));
    let whole_dir = printed_folder(&stdout(&whole), "run folder: ");

    let runs = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_burnish"))
        .args(args)
        .arg("--runs")
        .arg(runs.path())
        .current_dir(workspace_root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let experiment_runs = runs.path().join("penguins");
    let run_dir = loop {
        let checkpoint = std::fs::read_dir(&experiment_runs)
            .ok()
            .and_then(|mut runs| runs.next())
            .map(|run| run.unwrap().path())
            .filter(|run| {
                std::fs::read_dir(run.join("checkpoints"))
                    .is_ok_and(|mut checkpoints| checkpoints.next().is_some())
            });
        if let Some(run) = checkpoint {
            break run;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "ended before a checkpoint"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    // The shell's own `kill`, so that no separate kill program needs to be installed.
    let interrupt = Command::new("sh")
        .args(["-c", &format!("kill -INT {}", child.id())])
        .status()
        .unwrap();
    assert!(interrupt.success());
    let interrupted = child.wait_with_output().unwrap();
    let message = stderr(&interrupted);
    // The signal may arrive after the last epoch; then there is nothing left to resume.
    if !interrupted.status.success() {
        assert!(message.contains("interrupted at epoch"), "{message}");
        assert!(
            message.contains(&format!(
                "resume with: burnish train --resume {}",
                run_dir.display()
            )),
            "{message}"
        );
        assert!(!message.contains("panicked"), "{message}");
        assert!(!run_dir.join("model.bpk").exists());
    }

    let resumed = burnish(
        &["train", "--quiet", "--resume", run_dir.to_str().unwrap()],
        runs.path(),
    );
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert_eq!(only_folder(&experiment_runs), run_dir, "no new run folder");
    assert_eq!(report_of(&stdout(&whole)), report_of(&stdout(&resumed)));
    for file in ["history.csv", "metrics.json"] {
        assert_eq!(
            std::fs::read(whole_dir.join(file)).unwrap(),
            std::fs::read(run_dir.join(file)).unwrap(),
            "{file} differs from the uninterrupted run's"
        );
    }
    // model.bpk also records each parameter's random id, so the weights are compared.
    assert_eq!(saved_weights(&whole_dir), saved_weights(&run_dir));
}

/// Every weight of the model saved in a run folder, bit for bit.
fn saved_weights(run: &Path) -> Vec<Vec<u32>> {
    use burn::module::{Module, ModuleVisitor, Param};
    use burn::tensor::Tensor;

    struct Collect(Vec<Vec<u32>>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let values = param.val().into_data().try_to_vec::<f32>().unwrap();
            self.0
                .push(values.iter().map(|value| value.to_bits()).collect());
        }
    }
    let saved = burnish::saved_run::SavedRun::load(run, None).unwrap();
    let mut collect = Collect(Vec::new());
    saved.model.visit(&mut collect);
    assert!(!collect.0.is_empty());
    collect.0
}

#[test]
fn resume_needs_a_checkpoint_and_refuses_set() {
    let runs = tempfile::tempdir().unwrap();
    let missing = burnish(&["train", "--resume", "no/such/run"], runs.path());
    assert_one_line_error(&missing, &["no/such/run", "not a run folder"]);

    let trained = burnish(
        &["train", "--quiet", "--set", "train.epochs=1"],
        runs.path(),
    );
    assert!(trained.status.success(), "{}", stderr(&trained));
    let run_dir = printed_folder(&stdout(&trained), "run folder: ");
    let with_set = burnish(
        &[
            "train",
            "--resume",
            run_dir.to_str().unwrap(),
            "--set",
            "train.epochs=5",
        ],
        runs.path(),
    );
    assert_one_line_error(&with_set, &["--resume", "--set"]);

    std::fs::remove_dir_all(run_dir.join("checkpoints")).unwrap();
    let no_checkpoint = burnish(
        &["train", "--resume", run_dir.to_str().unwrap()],
        runs.path(),
    );
    assert_one_line_error(&no_checkpoint, &["checkpoints", "no checkpoint"]);
}

#[test]
fn lr_find_suggests_a_rate_and_writes_the_plot() {
    let runs = tempfile::tempdir().unwrap();
    let output = burnish(
        &["lr-find", "experiments/penguins.toml", "--steps", "60"],
        runs.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let suggestion: f64 = text
        .lines()
        .find_map(|line| line.strip_prefix("suggested learning rate: "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no suggestion in:\n{text}"))
        .parse()
        .unwrap();
    assert!((1e-7..=1.0).contains(&suggestion), "{suggestion}");
    let folder = printed_folder(&text, "plot and table: ");
    let csv = std::fs::read_to_string(folder.join("lr_find.csv")).unwrap();
    let rows = csv.lines().count() - 1;
    assert!((2..=60).contains(&rows), "{rows} rows");
    let svg = std::fs::read_to_string(folder.join("lr_find.svg")).unwrap();
    assert!(svg.contains("<polyline") && svg.contains("suggested"));
}

#[test]
fn a_text_classifier_trains_evaluates_and_predicts_from_its_run_folder() {
    let runs = tempfile::tempdir().unwrap();
    let trained = burnish(
        &[
            "train",
            "experiments/movie_reviews_lstm.toml",
            "--quiet",
            "--set",
            "train.epochs=1",
            "--set",
            "data.text.max_len=12",
        ],
        runs.path(),
    );
    assert!(trained.status.success(), "{}", stderr(&trained));
    let trained_out = stdout(&trained);
    assert!(
        trained_out.contains("token ids (vocabulary "),
        "the first line says what the model reads: {trained_out}"
    );
    let run = printed_folder(&trained_out, "run folder: ");
    assert!(run.join("text_encoder.json").is_file());

    assert_evaluate_repeats_the_training_report(&run, &trained_out);

    // New sentences, one of them with words the vocabulary never saw.
    let folder = tempfile::tempdir().unwrap();
    let new = folder.path().join("new.csv");
    std::fs::write(
        &new,
        "text\n\"a gorgeous , moving film .\"\n\"dull and tedious .\"\nzyzzyva qwxv\n",
    )
    .unwrap();
    let predicted = burnish_plain(&["predict", run.to_str().unwrap(), new.to_str().unwrap()]);
    assert!(predicted.status.success(), "{}", stderr(&predicted));
    let lines: Vec<String> = stdout(&predicted).lines().map(str::to_string).collect();
    assert_eq!(
        lines[0], "line,sentiment,p_negative,p_positive",
        "{lines:?}"
    );
    assert_eq!(lines.len(), 4, "{lines:?}");
    for line in &lines[1..] {
        let fields: Vec<&str> = line.split(',').collect();
        assert!(["negative", "positive"].contains(&fields[1]), "{line}");
        let total: f64 = fields[2..].iter().map(|p| p.parse::<f64>().unwrap()).sum();
        assert!((total - 1.0).abs() < 1e-4, "{line}");
    }

    let wrong_column = burnish(
        &[
            "train",
            "experiments/movie_reviews_lstm.toml",
            "--set",
            "data.text.column=review",
        ],
        runs.path(),
    );
    assert_one_line_error(&wrong_column, &["review", "not a column"]);
}

#[test]
fn a_language_model_trains_and_generates_the_same_text_for_the_same_seed() {
    let runs = tempfile::tempdir().unwrap();
    let trained = burnish(
        &[
            "train",
            "experiments/tiny_shakespeare.toml",
            "--quiet",
            "--set",
            "train.fast_dev_run=true",
        ],
        runs.path(),
    );
    assert!(trained.status.success(), "{}", stderr(&trained));
    let trained_out = stdout(&trained);
    assert!(trained_out.contains("held-out loss "), "{trained_out}");
    assert!(trained_out.contains("sample (200 tokens"), "{trained_out}");
    let run = printed_folder(&trained_out, "run folder: ");
    let run = run.to_str().unwrap();

    let generate = |seed: &str| {
        let output = burnish_plain(&[
            "generate", run, "--prompt", "ROMEO:", "-n", "30", "--seed", seed,
        ]);
        assert!(output.status.success(), "{}", stderr(&output));
        stdout(&output)
    };
    let first = generate("3");
    assert!(first.starts_with("ROMEO:"), "{first}");
    assert_eq!(first, generate("3"), "the same seed draws the same text");

    let evaluated = burnish_plain(&["evaluate", run]);
    assert_one_line_error(&evaluated, &["language model", "generate"]);

    let classifier = burnish(
        &["train", "--quiet", "--set", "train.epochs=1"],
        runs.path(),
    );
    let classifier_run = printed_folder(&stdout(&classifier), "run folder: ");
    let refused = burnish_plain(&[
        "generate",
        classifier_run.to_str().unwrap(),
        "--prompt",
        "x",
    ]);
    assert_one_line_error(&refused, &["not a language model"]);
}

/// Writes tiny_shakespeare's token files under `folder`; returns the `--set` that points
/// `data.tokens` at them.
fn prepare_tiny_shakespeare_tokens(folder: &Path) -> String {
    let tokens = folder.join("tokens");
    let output = burnish_plain(&[
        "prepare-text",
        "datasets/tiny_shakespeare.txt",
        "-o",
        tokens.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    format!("data.tokens={:?}", tokens.display().to_string())
}

/// The lines of a language model's training output from the held-out loss on.
fn from_the_held_out_loss(output: &str) -> &str {
    &output[output.find("held-out loss").expect(output)..output.find("run folder").expect(output)]
}

#[test]
fn a_language_model_trains_from_token_files_as_from_its_text_file() {
    let runs = tempfile::tempdir().unwrap();
    let tokens = prepare_tiny_shakespeare_tokens(runs.path());
    let one_batch = ["--quiet", "--set", "train.fast_dev_run=true"];
    let train = |experiment: &str, extra: &[&str]| {
        let mut args = vec!["train", experiment];
        args.extend(one_batch);
        args.extend(extra);
        let output = burnish(&args, runs.path());
        assert!(output.status.success(), "{}", stderr(&output));
        stdout(&output)
    };
    let from_text = train("experiments/tiny_shakespeare.toml", &[]);
    let from_files = train(
        "experiments/tiny_shakespeare_tokens.toml",
        &["--set", &tokens],
    );
    assert!(
        from_files.contains("1115394 tokens of") && from_files.contains("(1003855 to train"),
        "{from_files}"
    );
    // The same held-out loss, to the last printed digit, and the same sample.
    assert_eq!(
        from_the_held_out_loss(&from_text),
        from_the_held_out_loss(&from_files)
    );
    let run = printed_folder(&from_files, "run folder: ");
    let metrics = std::fs::read_to_string(run.join("metrics.json")).unwrap();
    let text_run = printed_folder(&from_text, "run folder: ");
    assert_eq!(
        metrics,
        std::fs::read_to_string(text_run.join("metrics.json")).unwrap()
    );
    let generated = burnish_plain(&[
        "generate",
        run.to_str().unwrap(),
        "--prompt",
        "ROMEO:",
        "-n",
        "20",
    ]);
    assert!(generated.status.success(), "{}", stderr(&generated));
    assert!(stdout(&generated).starts_with("ROMEO:"));

    // What the token files say cannot be set again, and damaged files are named.
    let held_out = train_error(
        &runs,
        &["--set", &tokens, "--set", "data.language_model.valid=0.2"],
    );
    assert_one_line_error(&held_out, &["data.language_model.valid", "meta.json"]);
    let both = train_error(
        &runs,
        &[
            "--set",
            &tokens,
            "--set",
            "data.path=\"datasets/tiny_shakespeare.txt\"",
        ],
    );
    assert_one_line_error(&both, &["data.path", "data.tokens", "both set"]);
    let folder = runs.path().join("tokens");
    let train_bin = folder.join("train.bin");
    let mut bytes = std::fs::read(&train_bin).unwrap();
    bytes.pop();
    std::fs::write(&train_bin, &bytes).unwrap();
    let odd = train_error(&runs, &["--set", &tokens]);
    assert_one_line_error(&odd, &["train.bin", "not a whole number of 2-byte ids"]);
    std::fs::remove_file(folder.join("meta.json")).unwrap();
    let missing = train_error(&runs, &["--set", &tokens]);
    assert_one_line_error(&missing, &["meta.json"]);
}

/// Trains tiny_shakespeare from token files with `extra` settings, expecting a failure.
fn train_error(runs: &tempfile::TempDir, extra: &[&str]) -> Output {
    let mut args = vec![
        "train",
        "experiments/tiny_shakespeare_tokens.toml",
        "--quiet",
        "--set",
        "train.fast_dev_run=true",
    ];
    args.extend(extra);
    let output = burnish(&args, runs.path());
    assert!(!output.status.success(), "{}", stdout(&output));
    output
}

#[test]
fn a_forecaster_reports_in_the_series_units_beside_persistence() {
    let runs = tempfile::tempdir().unwrap();
    let trained = burnish(
        &[
            "train",
            "experiments/sunspots.toml",
            "--quiet",
            "--set",
            "train.epochs=2",
        ],
        runs.path(),
    );
    assert!(trained.status.success(), "{}", stderr(&trained));
    let out = stdout(&trained);
    assert!(out.contains("in time order"), "{out}");
    // The persistence forecast depends on the data alone: 19.1195 on this split.
    assert!(
        out.contains("persistence (the last value seen): rmse 19.1195"),
        "{out}"
    );
    let run = printed_folder(&out, "run folder: ");
    assert!(run.join("series_scaler.json").is_file());
    let evaluated = burnish_plain(&["evaluate", run.to_str().unwrap()]);
    assert_one_line_error(&evaluated, &["forecaster", "report.txt"]);
    let cv = burnish(&["cv", "experiments/sunspots.toml"], runs.path());
    assert_one_line_error(&cv, &["`cv`", "forecaster", "burnish train"]);
}

/// A complete checkpoint folder made of the tiny random BERT the model tests use (its config
/// and weights) and the real bert-base-uncased tokenizer the data tests use.
fn tiny_bert_folder() -> tempfile::TempDir {
    let folder = tempfile::tempdir().unwrap();
    let crates = workspace_root().join("crates");
    for (from, name) in [
        ("burnish-models/tests/golden/hf/bert_tiny", "config.json"),
        (
            "burnish-models/tests/golden/hf/bert_tiny",
            "model.safetensors",
        ),
        ("burnish-data/tests/golden/hf/bert_tiny", "tokenizer.json"),
    ] {
        std::fs::copy(crates.join(from).join(name), folder.path().join(name)).unwrap();
    }
    folder
}

#[test]
fn a_pretrained_bert_fine_tunes_and_its_run_folder_serves_without_the_checkpoint() {
    let runs = tempfile::tempdir().unwrap();
    let checkpoint = tiny_bert_folder();
    let pretrained = format!("model.pretrained={}", checkpoint.path().display());
    let trained = burnish(
        &[
            "train",
            "experiments/movie_reviews_minilm.toml",
            "--quiet",
            "--set",
            &pretrained,
            "--set",
            "train.max_steps=3",
            "--set",
            "data.text.max_len=16",
        ],
        runs.path(),
    );
    assert!(trained.status.success(), "{}", stderr(&trained));
    let trained_out = stdout(&trained);
    assert!(
        trained_out.contains("token ids (vocabulary 30522, up to 16 a row)"),
        "the checkpoint's own tokenizer: {trained_out}"
    );
    let run = printed_folder(&trained_out, "run folder: ");
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("pretrained.json")).unwrap())
            .unwrap();
    assert_eq!(
        record["path"].as_str().unwrap(),
        checkpoint.path().display().to_string()
    );
    let weights_sha256 = record["sha256"]["model.safetensors"].as_str().unwrap();
    assert_eq!(weights_sha256.len(), 64, "{record}");
    assert!(run.join("tokenizer.json").is_file() && run.join("pretrained_config.json").is_file());

    // The checkpoint folder is not needed any more.
    drop(checkpoint);
    assert_evaluate_repeats_the_training_report(&run, &trained_out);

    let folder = tempfile::tempdir().unwrap();
    let new = folder.path().join("new.csv");
    std::fs::write(&new, "text\n\"a gorgeous , moving film .\"\nzyzzyva qwxv\n").unwrap();
    let predicted = burnish_plain(&["predict", run.to_str().unwrap(), new.to_str().unwrap()]);
    assert!(predicted.status.success(), "{}", stderr(&predicted));
    let lines: Vec<String> = stdout(&predicted).lines().map(str::to_string).collect();
    assert_eq!(
        lines[0], "line,sentiment,p_negative,p_positive",
        "{lines:?}"
    );
    assert_eq!(lines.len(), 3, "{lines:?}");
}

#[test]
fn a_bad_checkpoint_folder_is_named_in_one_line() {
    let runs = tempfile::tempdir().unwrap();
    let train = |pretrained: &Path, extra: &str| {
        let pretrained = format!("model.pretrained={}", pretrained.display());
        burnish(
            &[
                "train",
                "experiments/movie_reviews_minilm.toml",
                "--set",
                &pretrained,
                "--set",
                extra,
            ],
            runs.path(),
        )
    };
    let missing = train(Path::new("/no/such/checkpoint"), "train.max_steps=1");
    assert_one_line_error(&missing, &["/no/such/checkpoint", "model.pretrained"]);

    let checkpoint = tiny_bert_folder();
    let too_long = train(checkpoint.path(), "data.text.max_len=65");
    assert_one_line_error(&too_long, &["max_len = 65", "64 positions", "config.json"]);

    std::fs::rename(
        checkpoint.path().join("model.safetensors"),
        checkpoint.path().join("pytorch_model.bin"),
    )
    .unwrap();
    let pytorch_only = train(checkpoint.path(), "train.max_steps=1");
    assert_one_line_error(&pytorch_only, &["model.safetensors", "pytorch_model.bin"]);

    let config = checkpoint.path().join("config.json");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("\"bert\"", "\"roberta\"")).unwrap();
    let roberta = train(checkpoint.path(), "train.max_steps=1");
    assert_one_line_error(&roberta, &["config.json", "\"roberta\" is not supported"]);
    assert!(
        !runs.path().exists() || std::fs::read_dir(runs.path()).unwrap().next().is_none(),
        "no run folder for a failed start"
    );
}

#[test]
fn prepare_text_writes_token_files_and_names_a_bad_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tokens");
    let out_arg = out.to_str().unwrap();
    let output = burnish_plain(&[
        "prepare-text",
        "datasets/tiny_shakespeare.txt",
        "-o",
        out_arg,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let printed = stdout(&output);
    for pass in ["scan", "vocabulary", "encode"] {
        assert!(
            printed.contains(&format!("{pass}: 1115394 bytes in")),
            "{printed}"
        );
    }
    // 1,115,394 characters, the last 10% held out; 65 characters and the 2 special tokens.
    assert!(
        printed.contains("1003855 tokens to train") && printed.contains("111539 held out"),
        "{printed}"
    );
    assert!(
        printed.contains("vocabulary 67, 2 bytes an id"),
        "{printed}"
    );
    let train = std::fs::metadata(out.join("train.bin")).unwrap().len();
    assert_eq!(train, 2 * 1003855);
    assert!(
        !printed.contains('\u{1b}'),
        "no control characters off a terminal"
    );

    let missing = burnish_plain(&["prepare-text", "no/such.txt", "-o", out_arg]);
    assert_one_line_error(&missing, &["cannot prepare no/such.txt", "file not found"]);
    let binary = dir.path().join("binary.txt");
    std::fs::write(&binary, [b'a', b' ', 0xc3, b'(', b'\n']).unwrap();
    let bad = burnish_plain(&["prepare-text", binary.to_str().unwrap(), "-o", out_arg]);
    assert_one_line_error(&bad, &["not UTF-8 text: byte 2 starts an invalid sequence"]);
    let tokenizer = burnish_plain(&[
        "prepare-text",
        "datasets/tiny_shakespeare.txt",
        "-o",
        out_arg,
        "--tokenizer",
        "bpe",
    ]);
    assert_one_line_error(
        &tokenizer,
        &["--tokenizer \"bpe\": expected \"char\" or \"word\""],
    );
}

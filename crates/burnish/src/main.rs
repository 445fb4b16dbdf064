//! The `burnish` command line.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use burnish::cv_command::{CvOptions, cross_validate};
use burnish::datasets_command::list_datasets;
use burnish::evaluate_command::evaluate;
use burnish::experiment::Override;
use burnish::language_model::{GenerateOptions, generate};
use burnish::lr_find_command::{LrFindOptions, find_learning_rate};
use burnish::multi_process::launcher_size;
use burnish::predict_command::predict_file;
use burnish::prepare_text_command::{PrepareTextOptions, parse_tokenizer, prepare_text_files};
use burnish::train_command::{Progress, TrainOptions, train};
use burnish_backend::BackendKind;
use burnish_models::GenerationConfig;
use burnish_train::LrFindConfig;
use clap::{Parser, Subcommand};

/// Train, evaluate and save neural networks from one TOML experiment file.
///
/// An experiment file says which data, which model and how to train (see
/// experiments/penguins.toml); `burnish train` turns it into a run folder with the weights, the
/// fitted preprocessing and the test report, and `evaluate` and `predict` reuse that folder.
#[derive(Debug, Parser)]
#[command(name = "burnish", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The flags `train` and `cv` share.
#[derive(Debug, clap::Args)]
struct ExperimentArgs {
    /// The experiment file.
    #[arg(default_value = "experiments/penguins.toml")]
    experiment: PathBuf,
    /// Override the experiment's backend: flex, ndarray, wgpu or cuda.
    #[arg(long)]
    backend: Option<String>,
    /// Override one experiment key with a dotted path, as in `--set train.epochs=5`,
    /// `--set 'model.hidden=[32, 32]'` or `--set train.optimizer.lr=0.01`; repeat it for more
    /// keys.
    ///
    /// The value is read as TOML (a number, a list, true/false, "a string") and as a plain
    /// string when it is not TOML (`--set backend=wgpu`). The overridden experiment is checked
    /// as a file would be, and the run folder's config.toml records it.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<Override>,
    /// The folder that holds the run folders.
    #[arg(long, default_value = "runs")]
    runs: PathBuf,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train an experiment and print its test report (default: experiments/penguins.toml).
    ///
    /// The data are split into train, validation and test parts as the experiment's
    /// `data.split` says (seeded, stratified for classification); the preprocessing is fitted
    /// on the training part, early stopping watches the validation part, and the test part is
    /// scored once at the end. Everything lands in runs/<name>/<timestamp>/.
    ///
    /// A checkpoint is written after every epoch to the run folder's checkpoints/. Ctrl-C
    /// finishes the current batch, writes a checkpoint and prints the command that resumes;
    /// a second Ctrl-C quits at once.
    Train {
        #[command(flatten)]
        args: ExperimentArgs,
        /// Print no line per epoch.
        #[arg(long, short)]
        quiet: bool,
        /// Continue the run in RUN_DIR from its latest checkpoint, with the configuration
        /// it was started with (the experiment argument and --set are not used). On the CPU
        /// backends the result is bit for bit the one an uninterrupted run gives.
        #[arg(long, value_name = "RUN_DIR")]
        resume: Option<PathBuf>,
        /// Train in N processes, started by an MPI launcher: `mpirun -n N burnish train ...`
        /// (see README, "Several machines"). Each process takes its share of every batch;
        /// rank 0 writes the run folder. Under a launcher, the launcher's count is used and
        /// this only checks it.
        #[arg(long, value_name = "N")]
        world_size: Option<usize>,
        /// In several processes: how long any process waits for the others (to join the run,
        /// or in one exchange of gradients) before it stops with an error.
        #[arg(long, value_name = "SECONDS", default_value_t = 45.0)]
        peer_timeout: f64,
    },
    /// Find a learning rate: train a throw-away model while the rate grows exponentially.
    ///
    /// The learning-rate range test (Smith 2017, as in fastai and PyTorch Lightning): one
    /// optimizer step per batch of the training split, the rate rising from --min-lr to
    /// --max-lr, stopping early when the smoothed loss exceeds 4 times its best. Prints the
    /// sweep and suggests the rate where the loss falls fastest; writes lr_find.csv and
    /// lr_find.svg to runs/<name>/lr-find-<timestamp>/.
    LrFind {
        #[command(flatten)]
        args: ExperimentArgs,
        /// The first rate tried.
        #[arg(long, default_value_t = 1e-7)]
        min_lr: f64,
        /// The last rate tried.
        #[arg(long, default_value_t = 1.0)]
        max_lr: f64,
        /// The number of steps (one batch each; the training split is repeated as needed).
        #[arg(long, default_value_t = 100)]
        steps: usize,
    },
    /// Cross-validate an experiment: k folds, each held out once as the test set.
    ///
    /// The folds are seeded by the experiment's seed and stratified by class when the task is
    /// classification and `data.split.stratify` is on. In each fold, a validation part for
    /// early stopping is carved from the other folds in the experiment's valid/(train+valid)
    /// proportion, the preprocessing is fitted on the fold's training rows only, and the model
    /// is trained and scored on the held-out fold (`data.split.test` is not used). Prints one
    /// line per fold, then each metric's mean and sample standard deviation (ddof=1), and
    /// writes config.toml, cv.json and cv.csv to runs/<name>/cv-<timestamp>/.
    Cv {
        #[command(flatten)]
        args: ExperimentArgs,
        /// The number of folds (at least 2; each class needs this many rows when stratified).
        #[arg(long, short = 'k', default_value_t = 5)]
        folds: usize,
        /// Print every epoch of every fold, not only one line per fold.
        #[arg(long, short)]
        verbose: bool,
    },
    /// Print the report of a trained model on its test split, or on another labelled file.
    Evaluate {
        /// A run folder written by `burnish train`.
        run: PathBuf,
        /// A file with the same columns, target included (default: the run's test split).
        data: Option<PathBuf>,
        /// Override the run's backend.
        #[arg(long)]
        backend: Option<String>,
    },
    /// Predict every row of a file with a trained model; CSV with class probabilities.
    Predict {
        /// A run folder written by `burnish train`.
        run: PathBuf,
        /// The rows to predict (the target column may be absent).
        data: PathBuf,
        /// Write the CSV here instead of to standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Override the run's backend.
        #[arg(long)]
        backend: Option<String>,
    },
    /// Continue a prompt with a trained language model (an experiment with
    /// `[data] language_model`, such as experiments/tiny_shakespeare.toml).
    ///
    /// Samples one token at a time from the model's distribution, sharpened or flattened by
    /// --temperature and cut to the --top-k most likely tokens, with a key-value cache so that
    /// each token costs work proportional to the context. The same --seed draws the same text.
    Generate {
        /// A run folder written by `burnish train`.
        run: PathBuf,
        /// The text to continue.
        #[arg(long, short)]
        prompt: String,
        /// How many tokens to add.
        #[arg(long, short = 'n', default_value_t = 500)]
        tokens: usize,
        /// Below 1 sharpens the distribution, above 1 flattens it.
        #[arg(long, default_value_t = 0.8)]
        temperature: f64,
        /// Sample only among the k most likely tokens (1 is greedy decoding).
        #[arg(long)]
        top_k: Option<usize>,
        /// The sampler's seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Override the run's backend.
        #[arg(long)]
        backend: Option<String>,
    },
    /// Tokenize a text corpus once into token files: DIR/train.bin, DIR/valid.bin, DIR/meta.json.
    ///
    /// Reads the corpus as a stream (three passes: characters, the training part's
    /// vocabulary, the ids), so it need not fit in memory. The ids are little-endian u16 when
    /// the vocabulary has at most 65,536 entries, u32 otherwise; the held-out tail and the
    /// vocabulary are cut and fitted exactly as `train` does with `[data] language_model`.
    /// meta.json records the vocabulary, the token counts and the corpus's size and SHA-256.
    /// Training from these files is not wired in yet.
    PrepareText {
        /// The text file (UTF-8).
        corpus: PathBuf,
        /// The folder to write (created if missing).
        #[arg(long, short)]
        out: PathBuf,
        /// How the text is cut into tokens: char or word.
        #[arg(long, default_value = "char")]
        tokenizer: String,
        /// Lowercase the text before cutting it.
        #[arg(long)]
        lowercase: bool,
        /// The share of the characters at the end held out for validation.
        #[arg(long, default_value_t = 0.1)]
        valid: f64,
    },
    /// List the data sets that ship in datasets/: rows, task, source and licence.
    ///
    /// Task, source and licence come from datasets/SOURCES.md; rows are counted in each CSV.
    /// Run it from the repository root, or name the folder with --dir.
    Datasets {
        /// The data folder.
        #[arg(long, default_value = "datasets")]
        dir: PathBuf,
    },
    /// List the backends: compiled in or not, and whether a device opens here.
    Backends,
}

fn parse_backend(name: Option<String>) -> anyhow::Result<Option<BackendKind>> {
    name.map(|name| name.parse::<BackendKind>())
        .transpose()
        .map_err(|error| anyhow::anyhow!("--backend: {error}"))
}

/// Set by the first Ctrl-C: training stops after the batch it is in and writes a checkpoint.
static INTERRUPT: AtomicBool = AtomicBool::new(false);

/// mimalloc, kept from returning freed memory: the CPU backends allocate every tensor anew,
/// and reusing warm pages speeds training up by a quarter to a half (see
/// `burnish_backend::allocator`).
#[global_allocator]
static ALLOCATOR: burnish_backend::allocator::Allocator = burnish_backend::allocator::Allocator;

fn main() -> ExitCode {
    burnish_backend::allocator::retain_freed_memory();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // `burnish evaluate RUN | head` closes the pipe early: that is the reader's choice,
        // not an error to report.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The first Ctrl-C (or SIGTERM) sets [`INTERRUPT`]; the second ends the process at once.
fn stop_training_on_ctrl_c() {
    let handler = ctrlc::set_handler(|| {
        if INTERRUPT.swap(true, Ordering::SeqCst) {
            eprintln!("\nstopped at once");
            std::process::exit(130);
        }
        eprintln!("\nstopping after this batch (Ctrl-C again to quit at once)");
    });
    if let Err(error) = handler {
        eprintln!("warning: Ctrl-C will stop training without a checkpoint: {error}");
    }
}

/// Trains in the processes an MPI launcher started (`launched` of them).
#[cfg(feature = "mpi")]
fn train_in_processes(
    options: TrainOptions<'_>,
    launched: usize,
    peer_timeout: std::time::Duration,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<()> {
    let group = burnish_distributed::MpiGroup::join(launched, peer_timeout)?;
    // The launcher stops every process with a signal when one of them ends abnormally: say so
    // rather than vanish. MPI's collective operations cannot be interrupted to checkpoint.
    if let Err(error) = ctrlc::set_handler(|| burnish_distributed::stop_by_signal()) {
        eprintln!("warning: a stopped run will end without a message: {error}");
    }
    let options = TrainOptions {
        group: Some(&group),
        local_rank: group.local_rank(),
        interrupt: None,
        ..options
    };
    let trained = train(&options, out);
    // MPI ends (`group` drops) only after every process's output is flushed.
    out.flush()?;
    trained.map(drop)
}

#[cfg(not(feature = "mpi"))]
fn train_in_processes(
    _options: TrainOptions<'_>,
    launched: usize,
    _peer_timeout: std::time::Duration,
    _out: &mut dyn std::io::Write,
) -> anyhow::Result<()> {
    anyhow::bail!(
        "an MPI launcher started {launched} processes, but this burnish was built without multi-process training: build it with `cargo build --release --features mpi`"
    )
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    if let Some(launched) = launcher_size().filter(|&size| size > 1)
        && !matches!(cli.command, Command::Train { .. })
    {
        anyhow::bail!(
            "an MPI launcher started {launched} processes, but only `burnish train` runs in several; start this command on its own"
        );
    }
    match cli.command {
        Command::Train {
            args,
            quiet,
            resume,
            world_size,
            peer_timeout,
        } => {
            let progress = if quiet {
                Progress::Quiet
            } else if std::io::stdout().is_terminal() {
                Progress::Bars
            } else {
                Progress::Lines
            };
            let options = TrainOptions {
                backend: parse_backend(args.backend)?,
                experiment: args.experiment,
                runs: args.runs,
                progress,
                overrides: args.overrides,
                resume,
                interrupt: Some(&INTERRUPT),
                group: None,
                local_rank: 0,
            };
            match (launcher_size().filter(|&size| size > 1), world_size) {
                (Some(launched), Some(asked)) if asked != launched => anyhow::bail!(
                    "--world-size {asked}, but the MPI launcher started {launched} processes: give mpirun -n {asked}, or drop --world-size"
                ),
                (None, Some(asked)) if asked > 1 => anyhow::bail!(
                    "--world-size {asked}: the processes are started by an MPI launcher, as in `mpirun -n {asked} burnish train ...` (see README, \"Several machines\")"
                ),
                (Some(launched), _) => {
                    anyhow::ensure!(
                        peer_timeout.is_finite() && peer_timeout > 0.0,
                        "--peer-timeout must be a positive number of seconds, not {peer_timeout}"
                    );
                    let timeout = std::time::Duration::from_secs_f64(peer_timeout);
                    train_in_processes(options, launched, timeout, &mut stdout)?;
                }
                (None, _) => {
                    stop_training_on_ctrl_c();
                    train(&options, &mut stdout)?;
                }
            }
        }
        Command::LrFind {
            args,
            min_lr,
            max_lr,
            steps,
        } => {
            find_learning_rate(
                &LrFindOptions {
                    backend: parse_backend(args.backend)?,
                    experiment: args.experiment,
                    overrides: args.overrides,
                    runs: args.runs,
                    sweep: LrFindConfig {
                        min_lr,
                        max_lr,
                        steps,
                        ..LrFindConfig::default()
                    },
                },
                &mut stdout,
            )?;
        }
        Command::Cv {
            args,
            folds,
            verbose,
        } => {
            cross_validate(
                &CvOptions {
                    backend: parse_backend(args.backend)?,
                    experiment: args.experiment,
                    folds,
                    runs: args.runs,
                    overrides: args.overrides,
                    verbose,
                },
                &mut stdout,
            )?;
        }
        Command::Evaluate { run, data, backend } => {
            evaluate(&run, data.as_deref(), parse_backend(backend)?, &mut stdout)?;
        }
        Command::Predict {
            run,
            data,
            output,
            backend,
        } => {
            let backend = parse_backend(backend)?;
            match output {
                Some(path) => {
                    let mut contents = Vec::new();
                    predict_file(&run, &data, backend, &mut contents)?;
                    burnish::run_dir::write_atomic(&path, &contents)?;
                }
                None => {
                    predict_file(&run, &data, backend, &mut stdout)?;
                }
            }
        }
        Command::Generate {
            run,
            prompt,
            tokens,
            temperature,
            top_k,
            seed,
            backend,
        } => {
            generate(
                &GenerateOptions {
                    run,
                    prompt,
                    sampling: GenerationConfig {
                        max_new_tokens: tokens,
                        temperature,
                        top_k,
                        seed,
                    },
                    backend: parse_backend(backend)?,
                },
                &mut stdout,
            )?;
        }
        Command::PrepareText {
            corpus,
            out,
            tokenizer,
            lowercase,
            valid,
        } => {
            let options = PrepareTextOptions {
                corpus,
                out,
                config: burnish::data::PrepareTextConfig {
                    tokenizer: parse_tokenizer(&tokenizer, lowercase)?,
                    valid,
                    ..Default::default()
                },
                bars: std::io::stdout().is_terminal(),
            };
            prepare_text_files(&options, &mut stdout)?;
        }
        Command::Datasets { dir } => {
            list_datasets(&dir, &mut stdout)?;
        }
        Command::Backends => print_backends(&mut stdout)?,
    }
    Ok(())
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn print_backends(out: &mut impl std::io::Write) -> anyhow::Result<()> {
    writeln!(out, "{:<8}  {:<24}  device", "backend", "compiled in")?;
    for status in burnish_backend::survey() {
        let compiled = if status.compiled {
            "yes".to_string()
        } else {
            format!("no (--features {})", status.kind.feature())
        };
        let opens = match &status.opens {
            None => "-".to_string(),
            Some(Ok(())) => "opens".to_string(),
            Some(Err(reason)) => format!("does not open: {reason}"),
        };
        writeln!(out, "{:<8}  {:<24}  {opens}", status.kind.name(), compiled)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::is_broken_pipe;

    #[test]
    fn a_closed_pipe_is_recognised_under_context_and_nothing_else_is() {
        let closed = anyhow::Error::from(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
            .context("writing the report");
        assert!(is_broken_pipe(&closed));
        let missing = anyhow::Error::from(std::io::Error::from(std::io::ErrorKind::NotFound));
        assert!(!is_broken_pipe(&missing));
        assert!(!is_broken_pipe(&anyhow::anyhow!("a plain message")));
    }
}

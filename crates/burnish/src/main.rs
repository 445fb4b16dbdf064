//! The `burnish` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use burnish::evaluate_command::evaluate;
use burnish::predict_command::predict_file;
use burnish::train_command::{TrainOptions, train};
use burnish_backend::BackendKind;
use clap::{Parser, Subcommand};

/// Train, evaluate and save neural networks from one TOML experiment file.
#[derive(Debug, Parser)]
#[command(name = "burnish", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train an experiment and print its test report (default: experiments/penguins.toml).
    Train {
        /// The experiment file.
        #[arg(default_value = "experiments/penguins.toml")]
        experiment: PathBuf,
        /// Override the experiment's backend: flex, ndarray, wgpu or cuda.
        #[arg(long)]
        backend: Option<String>,
        /// The folder that holds the run folders.
        #[arg(long, default_value = "runs")]
        runs: PathBuf,
        /// Print no line per epoch.
        #[arg(long, short)]
        quiet: bool,
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
    /// List the backends: compiled in or not, and whether a device opens here.
    Backends,
}

fn parse_backend(name: Option<String>) -> anyhow::Result<Option<BackendKind>> {
    name.map(|name| name.parse::<BackendKind>())
        .transpose()
        .map_err(|error| anyhow::anyhow!("--backend: {error}"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match cli.command {
        Command::Train {
            experiment,
            backend,
            runs,
            quiet,
        } => {
            let backend = parse_backend(backend)?;
            train(
                &TrainOptions {
                    experiment,
                    backend,
                    runs,
                    quiet,
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
        Command::Backends => print_backends(&mut stdout)?,
    }
    Ok(())
}

fn print_backends(out: &mut impl std::io::Write) -> anyhow::Result<()> {
    writeln!(out, "{:<8}  {:<12}  device", "backend", "compiled in")?;
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
        writeln!(out, "{:<8}  {:<12}  {opens}", status.kind.name(), compiled)?;
    }
    Ok(())
}

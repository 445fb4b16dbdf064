//! Runs the data pipeline of the `data_pipeline` benchmark once and prints its wall time and
//! the process's peak resident memory (`VmHWM`), which criterion cannot measure.
//!
//! Usage: `pipeline_peak [CSV]`; without a file it uses (and generates the first time) the
//! benchmark's 1,000,000-row file. Generation happens before the clock starts and needs
//! little memory, so the peak is the pipeline's.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, Result};
use burnish_benches::{PIPELINE_ROWS, PIPELINE_SEED, pipeline_csv, run_pipeline};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let path = match std::env::args_os().nth(1) {
        Some(path) => PathBuf::from(path),
        None => {
            pipeline_csv(PIPELINE_ROWS, PIPELINE_SEED).context("cannot write the benchmark file")?
        }
    };
    let file_bytes = std::fs::metadata(&path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    let rss_before = peak_rss_bytes()?;

    let start = Instant::now();
    let (features, targets) = run_pipeline(&path)?;
    let wall = start.elapsed();

    let peak = peak_rss_bytes()?;
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    println!("file: {}", path.display());
    println!("file size: {:.1} MiB", mib(file_bytes));
    println!(
        "output: {} rows x {} features, {} targets",
        features.n_rows,
        features.n_cols,
        targets.len()
    );
    println!("wall time: {:.3} s", wall.as_secs_f64());
    println!("peak RSS before the pipeline: {:.1} MiB", mib(rss_before));
    println!(
        "peak RSS: {:.1} MiB ({:.2} x the file size)",
        mib(peak),
        peak as f64 / file_bytes as f64
    );
    Ok(())
}

/// `VmHWM` of /proc/self/status: the most resident memory this process has had.
fn peak_rss_bytes() -> Result<u64> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("cannot read /proc/self/status")?;
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .context("/proc/self/status has no VmHWM line")?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .context("VmHWM is not a number of kB")?;
    Ok(kib * 1024)
}

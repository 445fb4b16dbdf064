//! `cargo xtask`: the project's own build and check commands.
//!
//! - `cargo xtask ci`: everything CI checks, cheapest first — formatting, clippy with warnings
//!   as errors, then the tests of every crate on every CPU backend and on wgpu.
//!
//! It has no dependencies beyond the standard library, so it builds in seconds.

use std::process::{Command, ExitCode};
use std::time::Instant;

/// The cargo features that put every testable backend into every crate's tests.
const TEST_FEATURES: &str = "burnish-backend/ndarray,burnish-backend/wgpu,\
burnish-models/ndarray,burnish-models/wgpu,\
burnish-train/ndarray,burnish-train/wgpu,\
burnish/ndarray,burnish/wgpu";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        _ => {
            eprintln!("usage: cargo xtask ci");
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
    eprintln!(
        "xtask ci: all checks passed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Runs one cargo command, echoing it, and fails on a non-zero exit.
fn cargo(args: &[&str]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    eprintln!("$ cargo {}", args.join(" "));
    let step_started = Instant::now();
    let status = Command::new(&cargo)
        .args(args)
        .status()
        .map_err(|error| format!("cannot run {cargo}: {error}"))?;
    eprintln!("  ({:.0} s)", step_started.elapsed().as_secs_f64());
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed with {status}", args.join(" ")))
    }
}

//! The gradient exchange of multi-process training, weighed on a standard workload (`gpt` by
//! default, or `transformer`).
//!
//! - `mpirun -n 2 allreduce [WORKLOAD] [STEPS]`: every process adds up one buffer the size of
//!   the model's gradients (plus the loss sum and the count that `fit` sends along) with the
//!   others, `STEPS` times (default 50); rank 0 prints the bytes and the time per exchange.
//! - `allreduce [WORKLOAD]` alone: the time of one training step of the whole batch, with the
//!   cores to itself, and what a step on two machines would take at 1 and 10 Gbit/s.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use burnish_backend::BackendKind;
use burnish_benches::workloads::build;
use burnish_distributed::MpiGroup;
use burnish_train::ProcessGroup as _;

/// The allocator the `burnish` binary runs on, so that the figures are the binary's.
#[global_allocator]
static ALLOCATOR: burnish_backend::allocator::Allocator = burnish_backend::allocator::Allocator;

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
    let name = std::env::args().nth(1).unwrap_or_else(|| "gpt".to_string());
    let steps: usize = match std::env::args().nth(2) {
        Some(steps) => steps.parse().context("STEPS is a whole number")?,
        None => 50,
    };
    let device = BackendKind::Flex.open()?;
    let mut workload = build(&name, &device)?;
    let values = workload.parameters() + 2;
    let bytes = values * size_of::<f32>();
    let Some(launched) = burnish::multi_process::launcher_size() else {
        // Alone: the step that the exchange is weighed against, with the cores to itself.
        workload.train(2, &device);
        let train_steps = 5;
        let step = workload.train(train_steps, &device).as_secs_f64() * 1e3 / train_steps as f64;
        println!(
            "{name} workload: {} trainable values, {bytes} bytes of gradients",
            values - 2
        );
        println!(
            "one training step of the whole batch ({}) in one process: {step:.1} ms",
            workload.batch()
        );
        // Two machines with half the batch each: half the step, plus a ring all-reduce, which
        // sends and receives 2 (n - 1) / n of the buffer on each link (n = 2: the buffer once).
        for gbit in [1.0, 10.0] {
            let wire = bytes as f64 * 8.0 / (gbit * 1e9) * 1e3;
            let two = step / 2.0 + wire;
            println!(
                "two machines at {gbit} Gbit/s: {wire:.2} ms on the wire per step, a step in \
                 {two:.1} ms, {:.2}x one machine",
                step / two
            );
        }
        println!("the exchange itself: mpirun -n 2 allreduce {name}");
        return Ok(());
    };
    let group = MpiGroup::join(launched, Duration::from_secs(60))?;
    let mut buffer = vec![1.0f32; values];
    for _ in 0..3 {
        group.all_reduce_sum("the warm-up exchange", &mut buffer);
    }
    let mut times: Vec<Duration> = (0..steps)
        .map(|_| {
            let started = Instant::now();
            group.all_reduce_sum("a measured exchange", &mut buffer);
            started.elapsed()
        })
        .collect();
    times.sort();
    if group.rank() == 0 {
        println!(
            "one all-reduce of the {name} workload's gradients: {bytes} bytes ({:.2} MB) from each \
             of {launched} processes; median {:.2} ms, fastest {:.2} ms over {steps} exchanges",
            bytes as f64 / 1e6,
            times[times.len() / 2].as_secs_f64() * 1e3,
            times[0].as_secs_f64() * 1e3,
        );
    }
    Ok(())
}

//! The five standard workloads of shared/bench/WORKLOADS.md on every backend compiled in
//! that opens here: one criterion benchmark for the training step (forward, cross-entropy,
//! backward, Adam) and one for the inference copy's forward pass. Inputs are built before the
//! clock starts and the device is synchronised before it stops; one iteration is one step of
//! one batch, so samples per second are the batch over the time per iteration (`cargo xtask
//! bench` does that division and prints the table).

use burnish_benches::workloads::{WORKLOADS, build};
use criterion::Criterion;

/// The allocator the `burnish` binary runs on, so that the figures are the binary's.
#[global_allocator]
static ALLOCATOR: burnish_backend::allocator::Allocator = burnish_backend::allocator::Allocator;

fn workloads(criterion: &mut Criterion) {
    for status in burnish_backend::survey() {
        let Some(Ok(())) = status.opens else {
            continue;
        };
        let device = status.kind.open().expect("the device opened a moment ago");
        let mut group = criterion.benchmark_group(format!("workloads/{}", status.kind.name()));
        group.sample_size(10);
        for name in WORKLOADS {
            let mut workload = build(name, &device).expect("every workload builds");
            group.bench_function(format!("{name}/train"), |bencher| {
                bencher.iter_custom(|steps| workload.train(steps, &device));
            });
            group.bench_function(format!("{name}/infer"), |bencher| {
                bencher.iter_custom(|steps| workload.infer(steps, &device));
            });
        }
        group.finish();
    }
}

fn main() {
    burnish_backend::allocator::retain_freed_memory();
    let mut criterion = Criterion::default().configure_from_args();
    workloads(&mut criterion);
    criterion.final_summary();
}

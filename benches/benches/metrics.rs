//! Benchmarks of burnish-metrics: the full classification report (confusion matrix, then
//! report) of 10,000,000 predictions over 100 classes.

use std::hint::black_box;

use burnish_metrics::{ClassificationReport, ConfusionMatrix, ReportOptions};
use criterion::Criterion;

const N_PREDICTIONS: usize = 10_000_000;
const N_CLASSES: usize = 100;

/// xorshift64: a seeded, dependency-free source of class indices.
struct XorShift64 {
    state: u64,
}

impl XorShift64 {
    fn next(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }
}

/// True classes uniform over `n_classes`; predictions right 70% of the time, else uniform.
fn predictions(n_predictions: usize, n_classes: usize) -> (Vec<usize>, Vec<usize>) {
    let mut rng = XorShift64 {
        state: 0x2545_F491_4F6C_DD1D,
    };
    let mut y_true = Vec::with_capacity(n_predictions);
    let mut y_pred = Vec::with_capacity(n_predictions);
    for _ in 0..n_predictions {
        let true_idx = (rng.next() % n_classes as u64) as usize;
        let draw = rng.next();
        let pred_idx = if draw % 10 < 7 {
            true_idx
        } else {
            ((draw >> 8) % n_classes as u64) as usize
        };
        y_true.push(true_idx);
        y_pred.push(pred_idx);
    }
    (y_true, y_pred)
}

fn classification_report(criterion: &mut Criterion) {
    let (y_true, y_pred) = predictions(N_PREDICTIONS, N_CLASSES);
    let class_names: Vec<String> = (0..N_CLASSES)
        .map(|class_idx| format!("class_{class_idx}"))
        .collect();
    let options = ReportOptions::default();

    let mut group = criterion.benchmark_group("classification");
    group.sample_size(10);
    group.bench_function("confusion_matrix_and_report_10M_x_100_classes", |bencher| {
        bencher.iter(|| {
            let confusion_matrix =
                ConfusionMatrix::from_indices(black_box(&y_true), black_box(&y_pred), &class_names)
                    .expect("valid predictions");
            let report = ClassificationReport::from_confusion_matrix(&confusion_matrix, &options)
                .expect("a non-empty matrix");
            black_box(report.to_text())
        });
    });
    group.bench_function("report_from_indices_10M_x_100_classes", |bencher| {
        bencher.iter(|| {
            let report = ClassificationReport::from_indices(
                black_box(&y_true),
                black_box(&y_pred),
                &class_names,
                &options,
            )
            .expect("valid predictions");
            black_box(report.to_text())
        });
    });
    group.finish();
}

// Written out instead of `criterion_group!`/`criterion_main!`, whose generated public
// function has no doc comment and would trip the workspace's `missing_docs` lint.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    classification_report(&mut criterion);
    criterion.final_summary();
}

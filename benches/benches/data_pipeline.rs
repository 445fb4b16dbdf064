//! The data pipeline of issue 3: read a generated 1,000,000-row × 20-feature CSV file (15
//! numeric columns and 5 categorical ones, 5% of each missing, plus a three-class target),
//! fit median imputation, standard scaling, one-hot encoding and the target's classes on it,
//! and transform every row. The file is generated once, outside the timed code, into
//! `bench-data/` of Cargo's target folder. Peak memory is measured by the `pipeline_peak`
//! binary; the pandas + scikit-learn peer is `benches/python/pandas_peer.py`.

use std::hint::black_box;
use std::time::Duration;

use burnish_benches::{PIPELINE_ROWS, PIPELINE_SEED, TARGET, pipeline_csv, run_pipeline};
use burnish_data::{PreprocessConfig, Preprocessor, ReadOptions, Task, read_table};
use criterion::{Criterion, SamplingMode};

fn data_pipeline(criterion: &mut Criterion) {
    let path = pipeline_csv(PIPELINE_ROWS, PIPELINE_SEED).expect("the benchmark file is written");

    let mut group = criterion.benchmark_group("data_pipeline");
    // Each iteration takes about a second: flat sampling runs the same number of iterations
    // per sample instead of criterion's linear ramp, which would need minutes.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("read_fit_transform_1M_rows_x_20_columns", |bencher| {
        bencher.iter(|| black_box(run_pipeline(black_box(&path)).expect("the pipeline runs")));
    });
    group.bench_function("read_1M_rows_x_20_columns", |bencher| {
        bencher.iter(|| {
            black_box(read_table(black_box(&path), &ReadOptions::default()).expect("readable"))
        });
    });
    let table = read_table(&path, &ReadOptions::default()).expect("readable");
    group.bench_function("fit_transform_1M_rows_x_20_columns", |bencher| {
        bencher.iter(|| {
            let preprocessor = Preprocessor::fit(
                black_box(&table),
                TARGET,
                Task::Classification,
                &PreprocessConfig::default(),
            )
            .expect("fits");
            black_box(preprocessor.transform(&table).expect("transforms"))
        });
    });
    group.finish();
}

// Written out instead of `criterion_group!`/`criterion_main!`, whose generated public
// function has no doc comment and would trip the workspace's `missing_docs` lint.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    data_pipeline(&mut criterion);
    criterion.final_summary();
}

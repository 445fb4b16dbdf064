//! Burnish's criterion benchmarks, one file per workload under `benches/`
//! (`cargo bench --workspace --bench metrics`), and what they share.
//!
//! The crate exists so that benchmarks have their own dependencies (criterion) without adding
//! them to the crates they measure. The library holds the data-pipeline workload, shared by the
//! `data_pipeline` benchmark and the `pipeline_peak` binary (which measures peak memory, as
//! criterion cannot): a seeded generator of a large mixed CSV file ([`write_pipeline_csv`]) and
//! the pipeline itself ([`run_pipeline`]). See `docs/data-pipeline.md`.

pub mod workloads;

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use burnish_data::{
    Error, Features, PreprocessConfig, Preprocessor, ReadOptions, Targets, Task, read_table,
};

/// The number of rows of the benchmark's file.
pub const PIPELINE_ROWS: usize = 1_000_000;

/// The seed of the benchmark's file.
pub const PIPELINE_SEED: u64 = 42;

/// The number of numeric feature columns, `num_0` to `num_14`.
pub const N_NUMERIC: usize = 15;

/// The number of categories of each categorical feature column, `cat_0` to `cat_4`.
pub const CATEGORY_COUNTS: [usize; 5] = [3, 5, 7, 10, 12];

/// The share of missing (empty) fields in every feature column.
pub const MISSING_RATE: f64 = 0.05;

/// The target column: a class among three, never missing.
pub const TARGET: &str = "target";

/// The folder where generated benchmark files live: `bench-data/` in Cargo's target folder
/// (`CARGO_TARGET_DIR` when set, else the workspace's `target/`).
pub fn bench_data_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join("bench-data")
}

/// The benchmark's file for `n_rows` and `seed`, generated the first time and reused after.
pub fn pipeline_csv(n_rows: usize, seed: u64) -> io::Result<PathBuf> {
    let dir = bench_data_dir();
    let path = dir.join(format!("pipeline_{n_rows}_rows_seed_{seed}.csv"));
    if path.is_file() {
        return Ok(path);
    }
    std::fs::create_dir_all(&dir)?;
    // Written under another name and renamed, so that an interrupted run leaves no half file
    // behind to be reused.
    let partial = path.with_extension("csv.partial");
    write_pipeline_csv(&partial, n_rows, seed)?;
    std::fs::rename(&partial, &path)?;
    Ok(path)
}

/// Writes a seeded CSV file of `n_rows` rows and 21 columns: 15 numeric features (normal
/// values of different means and scales, 4 decimals), 5 categorical features of
/// [`CATEGORY_COUNTS`] categories (skewed frequencies), each with [`MISSING_RATE`] empty
/// fields, and a three-class [`TARGET`]. The same `(n_rows, seed)` always writes the same
/// bytes.
pub fn write_pipeline_csv(path: &Path, n_rows: usize, seed: u64) -> io::Result<()> {
    let mut writer = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut rng = SplitMix64(seed);
    let mut header: Vec<String> = (0..N_NUMERIC).map(|index| format!("num_{index}")).collect();
    header.extend((0..CATEGORY_COUNTS.len()).map(|index| format!("cat_{index}")));
    header.push(TARGET.to_owned());
    writeln!(writer, "{}", header.join(","))?;

    let means: Vec<f64> = (0..N_NUMERIC)
        .map(|index| (index as f64 - 7.0) * 12.5)
        .collect();
    let scales: Vec<f64> = (0..N_NUMERIC)
        .map(|index| 0.5 + 3.0 * index as f64)
        .collect();
    let mut line = String::with_capacity(256);
    for _ in 0..n_rows {
        line.clear();
        for (mean, scale) in means.iter().zip(&scales) {
            if rng.unit() >= MISSING_RATE {
                let value = mean + scale * rng.normal();
                push_fixed4(&mut line, value);
            }
            line.push(',');
        }
        for &n_categories in &CATEGORY_COUNTS {
            if rng.unit() >= MISSING_RATE {
                // The square of a uniform draw favours the first categories.
                let draw = rng.unit();
                let category = ((draw * draw) * n_categories as f64) as usize;
                line.push_str(CATEGORY_NAMES[category]);
            }
            line.push(',');
        }
        let class = ["low", "medium", "high"][(rng.next_u64() % 3) as usize];
        line.push_str(class);
        line.push('\n');
        writer.write_all(line.as_bytes())?;
    }
    writer.flush()
}

/// The timed workload: read the file, fit the preprocessing (median imputation, standard
/// scaling, one-hot categories, the target's classes) on every row, and transform every row.
pub fn run_pipeline(path: &Path) -> Result<(Features, Targets), Error> {
    let table = read_table(path, &ReadOptions::default())?;
    let preprocessor = Preprocessor::fit(
        &table,
        TARGET,
        Task::Classification,
        &PreprocessConfig::default(),
    )?;
    let features = preprocessor.transform(&table)?;
    let targets = preprocessor.encode_target(&table)?;
    Ok((features, targets))
}

const CATEGORY_NAMES: [&str; 12] = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett",
    "kilo", "lima",
];

/// Appends `value` with exactly four decimals, as integers: `format!("{:.4}")` of 15 million
/// floats would make generating the file slower than reading it.
fn push_fixed4(line: &mut String, value: f64) {
    let scaled = (value * 10_000.0).round() as i64;
    let sign = if scaled < 0 { "-" } else { "" };
    let magnitude = scaled.unsigned_abs();
    // Writing to a String cannot fail.
    let _ = write!(
        line,
        "{sign}{}.{:04}",
        magnitude / 10_000,
        magnitude % 10_000
    );
}

/// SplitMix64: a small seeded generator, enough for test data.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1_u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit();
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_point_values_have_four_decimals() {
        let mut line = String::new();
        for value in [0.0, -0.00004, 1.5, -12.34567, 123.0001] {
            push_fixed4(&mut line, value);
            line.push(' ');
        }
        assert_eq!(line, "0.0000 0.0000 1.5000 -12.3457 123.0001 ");
    }

    #[test]
    fn the_file_reads_with_the_intended_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("small.csv");
        write_pipeline_csv(&path, 2_000, 7).unwrap();
        let again = dir.path().join("again.csv");
        write_pipeline_csv(&again, 2_000, 7).unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            std::fs::read(&again).unwrap()
        );

        let table = read_table(&path, &ReadOptions::default()).unwrap();
        assert_eq!(table.n_rows(), 2_000);
        assert_eq!(table.n_columns(), 21);
        let (features, targets) = run_pipeline(&path).unwrap();
        let n_categories: usize = CATEGORY_COUNTS.iter().sum();
        assert_eq!(features.n_cols, N_NUMERIC + n_categories);
        assert_eq!(targets.len(), 2_000);
        for column in table.columns() {
            if column.name() == TARGET {
                assert_eq!(column.n_missing(), 0);
                continue;
            }
            let rate = column.n_missing() as f64 / 2_000.0;
            assert!((0.03..0.07).contains(&rate), "{}: {rate}", column.name());
        }
    }
}

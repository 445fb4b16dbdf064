//! Property test: no input makes reading, schema inference, preprocessing or splitting panic.
//!
//! Arbitrary bytes, and CSV-ish text built from fields (numbers, words, missing markers, quoted
//! fields with quotes, delimiters and line breaks inside, stray quotes, invalid UTF-8), are
//! parsed with random options; every table that reads is then fitted, transformed, saved,
//! loaded and split with random settings. Only `Ok` or `Err` may come back.
//!
//! The number of cases per property is `PROPTEST_CASES` (default 128, a couple of seconds):
//! `PROPTEST_CASES=2000000 cargo test --release -p burnish-data --test fuzz_reader` for a long
//! run.

use std::collections::BTreeMap;
use std::path::Path;

use burnish_data::{
    CategoricalEncoding, ColumnKind, NumericImputation, PreprocessConfig, Preprocessor,
    ReadOptions, Scaling, SplitRatios, Task, k_fold, parse_table, read_table, stratified_k_fold,
    target_labels, train_valid_test_split,
};
use proptest::prelude::*;
use proptest::test_runner::Config;

const DEFAULT_CASES: u32 = 128;

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// One token of CSV-ish text.
fn token() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => Just(b",".to_vec()),
        3 => Just(b"\n".to_vec()),
        1 => Just(b"\r\n".to_vec()),
        1 => Just(b"\r".to_vec()),
        1 => Just(b"\t".to_vec()),
        1 => Just(b";".to_vec()),
        1 => Just(b"\"".to_vec()),
        1 => Just(b"\"\"".to_vec()),
        2 => prop::sample::select(vec!["", "NA", "NaN", "null", "?", "nan", "inf", "-inf", "1e400", " "])
            .prop_map(|marker| marker.as_bytes().to_vec()),
        4 => any::<f64>().prop_map(|number| number.to_string().into_bytes()),
        3 => (-20_i64..20).prop_map(|number| number.to_string().into_bytes()),
        3 => "[a-zA-Z_ ]{0,8}".prop_map(String::into_bytes),
        2 => "[a-z ,\"\n\r\t]{0,10}".prop_map(|inner| {
            format!("\"{}\"", inner.replace('"', "\"\"")).into_bytes()
        }),
        1 => any::<String>().prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 1..4),
        1 => Just(b"\xEF\xBB\xBF".to_vec()),
    ]
}

fn csv_ish() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(token(), 0..64).prop_map(|tokens| tokens.concat())
}

/// One well-formed field, rarely damaged by a stray structural token.
fn field() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        30 => (-1000.0_f64..1000.0).prop_map(|number| format!("{number:.3}").into_bytes()),
        15 => (0_i64..5).prop_map(|number| number.to_string().into_bytes()),
        20 => prop::sample::select(vec!["red", "green", "blue", "yes", "no", " x ", "1st"])
            .prop_map(|word| word.as_bytes().to_vec()),
        10 => prop::sample::select(vec!["", "NA", "NaN", "null", "?"])
            .prop_map(|marker| marker.as_bytes().to_vec()),
        5 => "[a-z]{1,12}( [a-z]{1,8}){0,6}".prop_map(String::into_bytes),
        5 => "[a-z ,\"\n\t]{0,10}".prop_map(|inner| {
            format!("\"{}\"", inner.replace('"', "\"\"")).into_bytes()
        }),
        1 => token(),
    ]
}

/// A table-shaped file: a header of distinct names (sometimes not) and rows of mostly the
/// header's width.
fn table_ish() -> impl Strategy<Value = Vec<u8>> {
    (1_usize..6, 0_usize..40, prop::sample::select(vec![b',', b'\t'])).prop_flat_map(
        |(n_cols, n_rows, delimiter)| {
            let width = prop_oneof![100 => Just(n_cols), 1 => Just(n_cols + 1), 1 => Just(n_cols.saturating_sub(1))];
            let row = width.prop_flat_map(|width| prop::collection::vec(field(), width));
            (
                prop::collection::vec(row, n_rows..=n_rows),
                prop_oneof![8 => Just(true), 1 => Just(false)],
                prop_oneof![8 => Just(true), 1 => Just(false)],
            )
                .prop_map(move |(rows, header_words, final_newline)| {
                    let mut bytes = Vec::new();
                    let header: Vec<Vec<u8>> = if header_words {
                        (0..n_cols).map(|col| format!("c{col}").into_bytes()).collect()
                    } else {
                        (0..n_cols).map(|col| format!("{}", col % 2).into_bytes()).collect()
                    };
                    bytes.extend(header.join(&[delimiter][..]));
                    for row in &rows {
                        bytes.push(b'\n');
                        bytes.extend(row.join(&[delimiter][..]));
                    }
                    if final_newline {
                        bytes.push(b'\n');
                    }
                    bytes
                })
        },
    )
}

#[derive(Clone, Debug)]
struct Knobs {
    delimiter: Option<u8>,
    markers: Option<Vec<String>>,
    tsv: bool,
    kinds: Vec<u8>,
    drop_mask: u8,
    target_index: usize,
    missing: NumericImputation,
    scale: Scaling,
    categorical: CategoricalEncoding,
    regression: bool,
    ratios: (f64, f64),
    k: usize,
    seed: u64,
}

fn knobs() -> impl Strategy<Value = Knobs> {
    (
        (
            prop::option::weighted(
                0.3,
                prop_oneof![Just(b','), Just(b'\t'), Just(b';'), any::<u8>()],
            ),
            prop::option::weighted(0.2, prop::collection::vec("[?NA.a-z ]{0,3}", 0..4)),
            any::<bool>(),
            prop::collection::vec(0_u8..4, 0..6),
            prop_oneof![Just(0_u8), any::<u8>()],
            0_usize..6,
        ),
        (
            prop::sample::select(vec![
                NumericImputation::Drop,
                NumericImputation::Mean,
                NumericImputation::Median,
                NumericImputation::MostFrequent,
                NumericImputation::Constant,
            ]),
            prop::sample::select(vec![Scaling::None, Scaling::Standard, Scaling::MinMax]),
            prop::sample::select(vec![
                CategoricalEncoding::OneHot,
                CategoricalEncoding::Ordinal,
            ]),
            any::<bool>(),
            (0.0_f64..1.2, 0.0_f64..0.6),
            0_usize..6,
            any::<u64>(),
        ),
    )
        .prop_map(
            |(
                (delimiter, markers, tsv, kinds, drop_mask, target_index),
                (missing, scale, categorical, regression, ratios, k, seed),
            )| Knobs {
                delimiter,
                markers,
                tsv,
                kinds,
                drop_mask,
                target_index,
                missing,
                scale,
                categorical,
                regression,
                ratios,
                k,
                seed,
            },
        )
}

/// Everything downstream of a successful read; must not panic whatever the table.
fn exercise(bytes: &[u8], knobs: &Knobs) {
    let path = Path::new(if knobs.tsv { "fuzz.tsv" } else { "fuzz.csv" });
    let mut options = ReadOptions {
        delimiter: knobs.delimiter,
        ..ReadOptions::default()
    };
    if let Some(markers) = &knobs.markers {
        options.missing_markers = markers.clone();
    }
    let Ok(table) = parse_table(bytes, path, &options) else {
        return;
    };

    // Read again with declared kinds and dropped columns taken from what was inferred.
    let names: Vec<String> = table.column_names().into_iter().map(String::from).collect();
    let mut reread = options.clone();
    reread.column_kinds = BTreeMap::new();
    for (name, &kind) in names.iter().zip(&knobs.kinds) {
        let kind = match kind {
            0 => continue,
            1 => ColumnKind::Numeric,
            2 => ColumnKind::Categorical,
            _ => ColumnKind::Text,
        };
        reread.column_kinds.insert(name.clone(), kind);
    }
    reread.drop_columns = names
        .iter()
        .enumerate()
        .filter(|(index, _)| knobs.drop_mask & (1 << (index % 8)) != 0)
        .map(|(_, name)| name.clone())
        .collect();
    let table = match parse_table(bytes, path, &reread) {
        Ok(table) => table,
        Err(_) => table,
    };

    let table = if knobs.missing == NumericImputation::Drop {
        table.without_missing()
    } else {
        table
    };
    if table.n_columns() == 0 {
        return;
    }
    let target = table.column_names()[knobs.target_index % table.n_columns()].to_owned();
    let config = PreprocessConfig {
        missing: knobs.missing,
        fill_value: Some(knobs.ratios.0),
        scale: knobs.scale,
        categorical: knobs.categorical,
    };
    let task = if knobs.regression {
        Task::Regression
    } else {
        Task::Classification
    };
    if let Ok(preprocessor) = Preprocessor::fit(&table, &target, task, &config) {
        if let Ok(features) = preprocessor.transform(&table) {
            assert_eq!(features.values.len(), features.n_rows * features.n_cols);
            assert_eq!(features.n_cols, preprocessor.n_features());
        }
        let _ = preprocessor.encode_target(&table);
        let json = serde_json::to_string(&preprocessor).expect("a fitted preprocessor serializes");
        let loaded: Preprocessor = serde_json::from_str(&json).expect("and reads back");
        assert_eq!(loaded, preprocessor);
    }

    let ratios = SplitRatios {
        train: knobs.ratios.0,
        valid: knobs.ratios.1,
        test: 1.0 - knobs.ratios.0 - knobs.ratios.1,
    };
    let _ = train_valid_test_split(table.n_rows(), ratios, None, knobs.seed);
    let _ = k_fold(table.n_rows(), knobs.k, knobs.seed);
    if let Ok(labels) = target_labels(&table, &target) {
        let _ = train_valid_test_split(table.n_rows(), ratios, Some(&labels), knobs.seed);
        let _ = stratified_k_fold(&labels, knobs.k, knobs.seed);
        if let Ok(split) =
            train_valid_test_split(table.n_rows(), SplitRatios::default(), None, knobs.seed)
        {
            let part = table.select_rows(&split.train);
            assert_eq!(part.n_rows(), split.train.len());
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_ascii_never_panics(bytes in prop::collection::vec(0_u8..128, 0..512), knobs in knobs()) {
        exercise(&bytes, &knobs);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512), knobs in knobs()) {
        exercise(&bytes, &knobs);
    }

    #[test]
    fn csv_ish_text_never_panics(bytes in csv_ish(), knobs in knobs()) {
        exercise(&bytes, &knobs);
    }

    #[test]
    fn table_shaped_text_never_panics(bytes in table_ish(), knobs in knobs()) {
        exercise(&bytes, &knobs);
    }
}

/// The file path through `read_table`, with the extension picking the delimiter.
#[test]
fn read_table_reads_what_parse_table_parses() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [
        ("a.tsv", &b"x\ty\n1\ta\n"[..]),
        ("b.csv", b"x,y\n1,a\n"),
        ("c.csv", b"x,\"y\n"),
        ("d.csv", b"\xff\n\xfe"),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let from_file = read_table(&path, &ReadOptions::default());
        let from_bytes = parse_table(bytes, &path, &ReadOptions::default());
        match (from_file, from_bytes) {
            (Ok(file), Ok(bytes)) => assert_eq!(file, bytes),
            (Err(file), Err(bytes)) => assert_eq!(file.to_string(), bytes.to_string()),
            (file, bytes) => panic!("{name}: {file:?} vs {bytes:?}"),
        }
    }
}

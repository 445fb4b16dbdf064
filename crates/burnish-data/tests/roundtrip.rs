//! `fit → save_json → load_json → transform` gives the same features bit for bit, and a
//! predict-time file without the target gives the same columns in the same order.

use std::path::Path;

use burnish_data::{
    CategoricalEncoding, NumericImputation, PreprocessConfig, Preprocessor, ReadOptions, Scaling,
    SplitRatios, Targets, Task, read_table, target_labels, train_valid_test_split,
};

fn penguins() -> burnish_data::Table {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/penguins.csv");
    read_table(&path, &ReadOptions::default()).unwrap()
}

#[test]
fn save_load_transform_is_identical_for_every_setting() {
    let table = penguins();
    let labels = target_labels(&table, "species").unwrap();
    let split =
        train_valid_test_split(table.n_rows(), SplitRatios::default(), Some(&labels), 42).unwrap();
    let train = table.select_rows(&split.train);
    let test = table.select_rows(&split.test);
    let dir = tempfile::tempdir().unwrap();
    let mut n_checked = 0;
    for missing in [
        NumericImputation::Mean,
        NumericImputation::Median,
        NumericImputation::MostFrequent,
        NumericImputation::Constant,
    ] {
        for scale in [Scaling::None, Scaling::Standard, Scaling::MinMax] {
            for categorical in [CategoricalEncoding::OneHot, CategoricalEncoding::Ordinal] {
                let config = PreprocessConfig {
                    missing,
                    fill_value: Some(-1.5),
                    scale,
                    categorical,
                };
                let fitted =
                    Preprocessor::fit(&train, "species", Task::Classification, &config).unwrap();
                let path = dir.path().join(format!("preprocessor_{n_checked}.json"));
                fitted.save_json(&path).unwrap();
                let loaded = Preprocessor::load_json(&path).unwrap();
                assert_eq!(loaded, fitted);
                for part in [&train, &test] {
                    let before = fitted.transform(part).unwrap();
                    let after = loaded.transform(part).unwrap();
                    assert_eq!(before.n_cols, fitted.n_features());
                    let bits =
                        |values: &[f32]| values.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&before.values), bits(&after.values), "{config:?}");
                    assert_eq!(
                        fitted.encode_target(part).unwrap(),
                        loaded.encode_target(part).unwrap()
                    );
                }
                n_checked += 1;
            }
        }
    }
    assert_eq!(n_checked, 24);
}

#[test]
fn drop_strategy_round_trips_on_complete_rows() {
    let table = penguins().without_missing();
    assert_eq!(table.n_rows(), 333);
    let config = PreprocessConfig {
        missing: NumericImputation::Drop,
        ..PreprocessConfig::default()
    };
    let fitted = Preprocessor::fit(&table, "species", Task::Classification, &config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.json");
    fitted.save_json(&path).unwrap();
    let loaded = Preprocessor::load_json(&path).unwrap();
    assert_eq!(
        fitted.transform(&table).unwrap(),
        loaded.transform(&table).unwrap()
    );
}

#[test]
fn predict_file_without_target_gives_the_same_columns() {
    let table = penguins();
    let fitted = Preprocessor::fit(
        &table,
        "species",
        Task::Classification,
        &PreprocessConfig::default(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Columns reordered, the target gone, an unseen island, a gap in a numeric column.
    let predict = dir.path().join("predict.csv");
    std::fs::write(
        &predict,
        "sex,year,body_mass_g,flipper_length_mm,bill_depth_mm,bill_length_mm,island\n\
         female,2008,3500,190,18,40,Dream\n\
         male,2009,NA,210,15,48,Atlantis\n",
    )
    .unwrap();
    let options = ReadOptions {
        column_kinds: fitted.column_kinds(),
        ..ReadOptions::default()
    };
    let new_rows = read_table(&predict, &options).unwrap();
    let features = fitted.transform(&new_rows).unwrap();
    assert_eq!(features.n_rows, 2);
    assert_eq!(features.n_cols, fitted.n_features());
    let names = fitted.feature_names();
    let at =
        |row: usize, name: &str| features.row(row)[names.iter().position(|n| n == name).unwrap()];
    assert_eq!(at(0, "island_Dream"), 1.0);
    assert_eq!(at(0, "sex_female"), 1.0);
    // Atlantis was never seen: all island features are 0.
    for island in ["island_Biscoe", "island_Dream", "island_Torgersen"] {
        assert_eq!(at(1, island), 0.0);
    }
    // The gap is filled with the training median, which standard-scales to its own z-score.
    assert!(at(1, "body_mass_g").is_finite());
    let error = fitted.encode_target(&new_rows).unwrap_err();
    assert!(error.to_string().contains("\"species\""), "{error}");

    let targets = fitted.encode_target(&table).unwrap();
    let Targets::Classes(classes) = targets else {
        panic!("classification gives classes")
    };
    assert_eq!(classes.len(), 344);
    assert_eq!(classes[0], 0);
}

#[test]
fn saved_file_is_readable_json() {
    let table = penguins();
    let fitted = Preprocessor::fit(
        &table,
        "species",
        Task::Classification,
        &PreprocessConfig::default(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("preprocessor.json");
    fitted.save_json(&path).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(json["task"], "classification");
    assert_eq!(json["config"]["missing"], "median");
    assert_eq!(json["config"]["categorical"], "one_hot");
    assert_eq!(json["classes"][2], "Gentoo");

    std::fs::write(&path, "{\"format_version\": 1}").unwrap();
    let error = Preprocessor::load_json(&path).unwrap_err();
    assert!(error.to_string().contains("preprocessor.json"), "{error}");
}

//! Data-parallel training through Burn's multi-device step: a batch split across workers must
//! train the model as the whole batch on one device does.
//!
//! This machine has one device per backend, so each test lists the device twice: two worker
//! threads, each with its own copy of the model, each computing half of every batch, their
//! gradients moved to the main device and summed. Everything but the hardware is what several
//! GPUs would run.

mod common;

use burn::module::Module;
use burn::tensor::Device;
use burnish_backend::BackendKind;
use burnish_data::TabularDataset;
use burnish_models::{MlpSpec, ModelSpec};
use burnish_train::{
    Error, FitData, FitOptions, Fitted, Objective, OptimizerSpec, Predictions, TrainConfig,
    fit_with, predict,
};
use rstest::rstest;

/// Three classes in 5 dimensions, with noise; 95 rows so that the last batch of 16 is odd.
fn three_blobs(n_rows: usize, seed: u64) -> TabularDataset {
    let mut noise = common::uniform_noise(seed);
    let mut values = Vec::with_capacity(n_rows * 5);
    let mut classes = Vec::with_capacity(n_rows);
    for row in 0..n_rows {
        let class = row % 3;
        for col in 0..5 {
            let centre = if col % 3 == class { 0.8 } else { 0.0 };
            values.push(centre + noise() * 1.5);
        }
        classes.push(class);
    }
    common::labelled_rows(values, classes)
}

fn run(
    device: &Device,
    devices: &[Device],
    config: &TrainConfig,
    data: (&TabularDataset, &TabularDataset),
) -> Result<Fitted, Error> {
    device.seed(21);
    let model = ModelSpec::Mlp(MlpSpec {
        hidden: vec![12, 8],
        ..MlpSpec::default()
    })
    .build(5, 3, &device.clone().autodiff())
    .unwrap();
    let options = FitOptions {
        seed: 4,
        devices,
        ..FitOptions::default()
    };
    fit_with(
        model,
        FitData {
            train: data.0,
            valid: data.1,
        },
        Objective::Classification { n_classes: 3 },
        config,
        &options,
        device,
        &mut [],
    )
}

fn probabilities(fitted: &Fitted, valid: &TabularDataset, device: &Device) -> Vec<f32> {
    let predictions = predict(
        &fitted.model.valid(),
        valid.features(),
        Objective::Classification { n_classes: 3 },
        64,
        device,
    );
    let Predictions::Classes { probabilities, .. } = predictions else {
        panic!("a classifier predicts classes");
    };
    probabilities
}

/// Two workers on the same device: every batch is cut in two (the last, of 15 rows, into 8
/// and 7), and with accumulation and an L2 penalty the run must still follow the one-device
/// run up to floating-point summation order.
#[rstest]
#[case::flex(BackendKind::Flex)]
#[cfg_attr(feature = "ndarray", case::ndarray(BackendKind::Ndarray))]
#[cfg_attr(feature = "wgpu", case::wgpu(BackendKind::Wgpu))]
fn two_workers_train_as_one_device_does(#[case] backend: BackendKind) {
    let _random_numbers = common::exclusive_random_numbers();
    let device = backend.open().unwrap();
    let (train_set, valid_set) = (three_blobs(95, 3), three_blobs(30, 4));
    let config = TrainConfig {
        epochs: 4,
        batch_size: 16,
        accumulate_grad_batches: 2,
        l2: 0.01,
        optimizer: OptimizerSpec::Adam {
            lr: 0.02,
            weight_decay: 0.0,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-8,
        },
        ..TrainConfig::default()
    };
    let data = (&train_set, &valid_set);
    let single = run(&device, &[], &config, data).unwrap();
    let pair = [device.clone(), device.clone()];
    let parallel = run(&device, &pair, &config, data).unwrap();

    let first_loss = single.history.column("train_loss")[0].unwrap();
    let last_loss = single.history.column("train_loss")[3].unwrap();
    assert!(
        last_loss < first_loss,
        "the model must learn for the comparison to mean anything: {first_loss} -> {last_loss}"
    );
    for column in ["train_loss", "valid_loss"] {
        for (one, two) in single
            .history
            .column(column)
            .into_iter()
            .zip(parallel.history.column(column))
        {
            let (one, two) = (one.unwrap(), two.unwrap());
            assert!((one - two).abs() < 1e-4, "{column}: {one} vs {two}");
        }
    }
    let one = probabilities(&single, &valid_set, &device);
    let two = probabilities(&parallel, &valid_set, &device);
    assert_eq!(one.len(), two.len());
    for (index, (a, b)) in one.iter().zip(&two).enumerate() {
        // A NaN fails `<` as it should; `f32::max` would have dropped it.
        assert!((a - b).abs() < 1e-4, "probability {index}: {a} vs {b}");
    }
}

/// A batch with fewer rows than workers leaves the extra workers idle instead of failing.
#[test]
fn a_batch_smaller_than_the_worker_count_still_trains() {
    let _random_numbers = common::exclusive_random_numbers();
    let device = BackendKind::Flex.open().unwrap();
    let (train_set, valid_set) = (three_blobs(9, 5), three_blobs(6, 6));
    let config = TrainConfig {
        epochs: 2,
        batch_size: 2,
        ..TrainConfig::default()
    };
    let workers = vec![device.clone(); 3];
    let fitted = run(&device, &workers, &config, (&train_set, &valid_set)).unwrap();
    let losses = fitted.history.column("train_loss");
    assert_eq!(losses.len(), 2);
    assert!(losses.iter().all(|loss| loss.unwrap().is_finite()));
}

/// The model and validation live on the first device; a list that starts elsewhere is a
/// configuration error, reported before anything trains.
#[cfg(feature = "ndarray")]
#[test]
fn the_first_device_must_be_the_runs_device() {
    let device = BackendKind::Flex.open().unwrap();
    let other = BackendKind::Ndarray.open().unwrap();
    let (train_set, valid_set) = (three_blobs(12, 7), three_blobs(6, 8));
    let error = run(
        &device,
        &[other, device.clone()],
        &TrainConfig::default(),
        (&train_set, &valid_set),
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("first device"),
        "unexpected error: {error}"
    );
}

//! Checkpoints and resuming, and the regularisers of the training loss: what a user who stops
//! a run, or weighs classes, relies on.

mod common;

use std::fs;
use std::sync::atomic::{AtomicBool, Ordering};

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};
use burnish_backend::BackendKind;
use burnish_data::{TabularDataset, Targets};
use burnish_models::{MlpSpec, Model, ModelSpec};
use burnish_train::{
    BatchProgress, Callback, Checkpoint, ClassWeightRule, ClassWeights, EarlyStoppingConfig, Error,
    FitData, FitOptions, Fitted, Objective, OptimizerSpec, ScheduleSpec, TrainConfig, fit_with,
    weight_penalty,
};

/// Three noisy classes in 3 dimensions, unevenly represented.
fn three_classes(n_rows: usize, seed: u64) -> TabularDataset {
    let mut noise = common::uniform_noise(seed);
    let mut values = Vec::with_capacity(n_rows * 3);
    let mut classes = Vec::with_capacity(n_rows);
    for row in 0..n_rows {
        let class = [0, 0, 0, 1, 1, 2][row % 6];
        for column in 0..3 {
            let centre = if column == class { 1.0 } else { 0.0 };
            values.push(centre + noise());
        }
        classes.push(class);
    }
    common::labelled_rows(values, classes)
}

fn config() -> TrainConfig {
    TrainConfig {
        epochs: 6,
        batch_size: 10,
        optimizer: OptimizerSpec::Adamw {
            lr: 0.01,
            weight_decay: 0.01,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-8,
        },
        schedule: ScheduleSpec::Cosine {
            min_lr: 1e-4,
            warmup_epochs: 1,
        },
        early_stopping: Some(EarlyStoppingConfig {
            monitor: "valid_loss".into(),
            mode: None,
            patience: 100,
            min_delta: 0.0,
            restore_best: true,
            baseline: None,
            start_from_epoch: 0,
        }),
        grad_clip_norm: Some(1.0),
        ..TrainConfig::default()
    }
}

fn model(device: &Device) -> Model {
    device.seed(3);
    ModelSpec::Mlp(MlpSpec {
        hidden: vec![12, 12],
        dropout: 0.3,
        ..MlpSpec::default()
    })
    .build(3, 3, &device.clone().autodiff())
    .unwrap()
}

/// Every parameter's values, in visiting order, for bit-for-bit comparison.
fn weights(model: &Model) -> Vec<Vec<f32>> {
    struct Collect(Vec<Vec<f32>>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0
                .push(param.val().into_data().try_to_vec::<f32>().unwrap());
        }
    }
    let mut collect = Collect(Vec::new());
    model.visit(&mut collect);
    collect.0
}

/// Counts the batches trained.
struct CountBatches(usize);

impl Callback for CountBatches {
    fn on_batch_end(&mut self, _progress: &BatchProgress) {
        self.0 += 1;
    }
}

/// Raises the interrupt flag after one chosen batch, as a Ctrl-C would.
struct InterruptAt {
    epoch: usize,
    batch: usize,
    flag: &'static AtomicBool,
}

impl Callback for InterruptAt {
    fn on_batch_end(&mut self, progress: &BatchProgress) {
        if (progress.epoch, progress.batch) == (self.epoch, self.batch) {
            self.flag.store(true, Ordering::SeqCst);
        }
    }
}

fn run(
    device: &Device,
    config: &TrainConfig,
    options: &FitOptions<'_>,
    callbacks: &mut [&mut dyn Callback],
) -> Result<Fitted, Error> {
    let (train, valid) = (three_classes(60, 1), three_classes(30, 2));
    fit_with(
        model(device),
        FitData {
            train: &train,
            valid: &valid,
        },
        Objective::Classification { n_classes: 3 },
        config,
        options,
        device,
        callbacks,
    )
}

/// Interrupts after `(epoch, batch)`, resumes from the checkpoint, and compares with a run
/// that never stopped.
fn resume_matches_uninterrupted(epoch: usize, batch: usize) {
    static FLAGS: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];
    let flag = &FLAGS[usize::from(batch == 6)];
    let device = BackendKind::Flex.open().unwrap();
    let config = config();
    let folder = tempfile::tempdir().unwrap();
    let checkpoints = folder.path().join("checkpoints");

    let straight = run(
        &device,
        &config,
        &FitOptions {
            seed: 9,
            ..FitOptions::default()
        },
        &mut [],
    )
    .unwrap();

    let mut interrupt = InterruptAt { epoch, batch, flag };
    let options = FitOptions {
        seed: 9,
        checkpoints: Some(&checkpoints),
        resume: None,
        interrupt: Some(flag),
        ..FitOptions::default()
    };
    let error = run(&device, &config, &options, &mut [&mut interrupt]).unwrap_err();
    assert!(
        matches!(error, Error::Interrupted { epoch: e, batch: b, .. } if (e, b) == (epoch, batch)),
        "{error}"
    );

    let checkpoint = Checkpoint::latest(&checkpoints)
        .unwrap()
        .expect("a checkpoint");
    let options = FitOptions {
        seed: 9,
        checkpoints: Some(&checkpoints),
        resume: Some(&checkpoint),
        interrupt: None,
        ..FitOptions::default()
    };
    let resumed = run(&device, &config, &options, &mut []).unwrap();

    assert_eq!(resumed.history, straight.history);
    assert_eq!(resumed.weights_epoch, straight.weights_epoch);
    assert_eq!(weights(&resumed.model), weights(&straight.model));
}

#[test]
fn stopping_after_an_epoch_and_resuming_gives_bit_identical_weights() {
    let _random_numbers = common::exclusive_random_numbers();
    // 60 rows in batches of 10: batch 6 is the last of epoch 3.
    resume_matches_uninterrupted(3, 6);
}

#[test]
fn stopping_mid_epoch_and_resuming_gives_bit_identical_weights() {
    let _random_numbers = common::exclusive_random_numbers();
    resume_matches_uninterrupted(4, 2);
}

#[test]
fn a_half_written_checkpoint_leaves_the_previous_one_loadable() {
    let _random_numbers = common::exclusive_random_numbers();
    let device = BackendKind::Flex.open().unwrap();
    let folder = tempfile::tempdir().unwrap();
    let checkpoints = folder.path().join("checkpoints");
    let config = TrainConfig {
        epochs: 2,
        ..config()
    };
    let options = FitOptions {
        seed: 1,
        checkpoints: Some(&checkpoints),
        ..FitOptions::default()
    };
    run(&device, &config, &options, &mut []).unwrap();
    let complete = Checkpoint::latest(&checkpoints).unwrap().unwrap();
    assert_eq!(complete.epochs_done(), 2);

    // What a process killed in the middle of writing the next checkpoint leaves behind.
    let partial = checkpoints.join(".ckpt-0000000018.tmp-4242");
    fs::create_dir(&partial).unwrap();
    fs::write(partial.join("model.bpk"), b"truncated").unwrap();

    let latest = Checkpoint::latest(&checkpoints).unwrap().unwrap();
    assert_eq!(latest.dir(), complete.dir());
    let config = TrainConfig {
        epochs: 3,
        ..config
    };
    let options = FitOptions {
        seed: 1,
        checkpoints: Some(&checkpoints),
        resume: Some(&latest),
        interrupt: None,
        ..FitOptions::default()
    };
    let resumed = run(&device, &config, &options, &mut []).unwrap();
    assert_eq!(resumed.history.records().len(), 3);
    let names: Vec<String> = fs::read_dir(&checkpoints)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("ckpt-"))
        .collect();
    assert_eq!(
        names.len(),
        2,
        "only the newest checkpoints are kept: {names:?}"
    );
}

#[test]
fn a_corrupt_checkpoint_is_an_error_naming_the_file() {
    let _random_numbers = common::exclusive_random_numbers();
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path().join("ckpt-0000000005");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("state.json"), "{ not json").unwrap();
    let error = Checkpoint::latest(folder.path()).unwrap_err();
    assert!(error.to_string().contains("state.json"), "{error}");
}

#[test]
fn gradient_accumulation_matches_one_large_batch() {
    let _random_numbers = common::exclusive_random_numbers();
    let device = BackendKind::Flex.open().unwrap();
    let plain = TrainConfig {
        epochs: 2,
        batch_size: 20,
        optimizer: OptimizerSpec::Sgd {
            lr: 0.1,
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        },
        ..TrainConfig::default()
    };
    let accumulated = TrainConfig {
        batch_size: 10,
        accumulate_grad_batches: 2,
        ..plain.clone()
    };
    // Without dropout, two halves of a batch give the gradient of the whole batch; the data
    // order differs with the batch size, so compare one epoch over rows in a fixed order.
    let no_dropout = |device: &Device| {
        device.seed(3);
        ModelSpec::Mlp(MlpSpec {
            hidden: vec![8],
            ..MlpSpec::default()
        })
        .build(3, 3, &device.clone().autodiff())
        .unwrap()
    };
    let (train, valid) = (three_classes(20, 1), three_classes(10, 2));
    let fit_one = |config: &TrainConfig| {
        fit_with(
            no_dropout(&device),
            FitData {
                train: &train,
                valid: &valid,
            },
            Objective::Classification { n_classes: 3 },
            &TrainConfig {
                epochs: 1,
                ..config.clone()
            },
            &FitOptions::default(),
            &device,
            &mut [],
        )
        .unwrap()
    };
    let whole = weights(&fit_one(&plain).model);
    let halves = weights(&fit_one(&accumulated).model);
    for (whole, halves) in whole.iter().zip(&halves) {
        for (a, b) in whole.iter().zip(halves) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }
}

#[test]
fn balanced_class_weights_follow_scikit_learn() {
    let _random_numbers = common::exclusive_random_numbers();
    let classes = [0, 0, 0, 1, 1, 2];
    let weights = ClassWeights::Rule(ClassWeightRule::Balanced)
        .resolve(&classes, 3)
        .unwrap();
    // sklearn.utils.class_weight.compute_class_weight("balanced", ...): n / (k * count).
    assert_eq!(weights, vec![6.0 / 9.0, 1.0, 2.0]);
    let error = ClassWeights::PerClass(vec![1.0, 2.0])
        .resolve(&classes, 3)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid `train.class_weights`: 2 weights given for 3 classes"
    );
}

#[test]
fn class_weights_and_label_smoothing_train_and_are_refused_for_regression() {
    let _random_numbers = common::exclusive_random_numbers();
    let device = BackendKind::Flex.open().unwrap();
    let config = TrainConfig {
        epochs: 2,
        class_weights: Some(ClassWeights::Rule(ClassWeightRule::Balanced)),
        label_smoothing: 0.1,
        l1: 1e-4,
        l2: 1e-3,
        ..config()
    };
    let fitted = run(&device, &config, &FitOptions::default(), &mut []).unwrap();
    assert_eq!(fitted.history.records().len(), 2);

    let (features, values) = (three_classes(20, 1), Targets::Values(vec![0.5; 20]));
    let regression = TabularDataset::new(features.features().clone(), values);
    let error = fit_with(
        ModelSpec::Mlp(MlpSpec::default())
            .build(3, 1, &device.clone().autodiff())
            .unwrap(),
        FitData {
            train: &regression,
            valid: &regression,
        },
        Objective::Regression,
        &config,
        &FitOptions::default(),
        &device,
        &mut [],
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid `train.class_weights`: applies to classification of labelled examples only"
    );
}

#[test]
fn the_weight_penalty_sums_weights_but_not_biases() {
    let _random_numbers = common::exclusive_random_numbers();
    let device = BackendKind::Flex.open().unwrap();
    let model = ModelSpec::Mlp(MlpSpec {
        hidden: vec![4],
        ..MlpSpec::default()
    })
    .build(3, 2, &device)
    .unwrap();
    let mut expected = 0.0f64;
    struct Sum<'a>(&'a mut f64);
    impl ModuleVisitor for Sum<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if D >= 2 {
                for value in param.val().into_data().try_to_vec::<f32>().unwrap() {
                    *self.0 += 0.5 * f64::from(value.abs()) + 0.25 * f64::from(value * value);
                }
            }
        }
    }
    model.visit(&mut Sum(&mut expected));
    let penalty = weight_penalty(&model, 0.5, 0.25)
        .unwrap()
        .into_scalar::<f32>();
    assert!(
        (f64::from(penalty) - expected).abs() < 1e-5,
        "{penalty} vs {expected}"
    );
    assert!(weight_penalty(&model, 0.0, 0.0).is_none());
}

#[test]
fn fast_dev_run_trains_one_batch_and_writes_no_checkpoint() {
    let _random_numbers = common::exclusive_random_numbers();
    let device = BackendKind::Flex.open().unwrap();
    let folder = tempfile::tempdir().unwrap();
    let checkpoints = folder.path().join("checkpoints");
    let config = TrainConfig {
        fast_dev_run: true,
        ..config()
    };
    let mut count = CountBatches(0);
    let options = FitOptions {
        seed: 1,
        checkpoints: Some(&checkpoints),
        ..FitOptions::default()
    };
    let fitted = run(&device, &config, &options, &mut [&mut count]).unwrap();
    assert_eq!(count.0, 1);
    assert_eq!(fitted.history.records().len(), 1);
    assert!(
        fitted.summary.starts_with("fast_dev_run"),
        "{}",
        fitted.summary
    );
    assert!(!checkpoints.exists());
}

#[test]
fn max_steps_stops_within_an_epoch_and_the_schedule_spans_it() {
    let _random_numbers = common::exclusive_random_numbers();
    let device = BackendKind::Flex.open().unwrap();
    // 60 rows in batches of 10: 6 steps an epoch, so 8 steps end 2 batches into epoch 2.
    let limited = TrainConfig {
        max_steps: Some(8),
        ..config()
    };
    let mut count = CountBatches(0);
    let options = FitOptions {
        seed: 1,
        ..FitOptions::default()
    };
    let fitted = run(&device, &limited, &options, &mut [&mut count]).unwrap();
    assert_eq!(count.0, 8);
    let records = fitted.history.records();
    assert_eq!(records.len(), 2);
    assert!(records[1].values.contains_key("valid_loss"));
    assert!(
        fitted
            .summary
            .starts_with("stopped after 8 optimizer steps"),
        "{}",
        fitted.summary
    );
    // The last step's rate is the schedule's at step 7 of 8, not of 36.
    let expected = limited.schedule.lr(0.01, 7, 6, 8);
    assert!((records[1].values["lr"] - expected).abs() < 1e-12);
    assert!((expected - limited.schedule.lr(0.01, 7, 6, 36)).abs() > 1e-4);

    let zero = TrainConfig {
        max_steps: Some(0),
        ..config()
    };
    let error = zero.validate().unwrap_err().to_string();
    assert!(error.contains("train.max_steps"), "{error}");
}

#[test]
fn a_run_interrupted_on_its_last_step_resumes_as_stopped() {
    let _random_numbers = common::exclusive_random_numbers();
    static FLAG: AtomicBool = AtomicBool::new(false);
    let device = BackendKind::Flex.open().unwrap();
    // Step 8 is batch 2 of epoch 2.
    let limited = TrainConfig {
        max_steps: Some(8),
        ..config()
    };
    let folder = tempfile::tempdir().unwrap();
    let checkpoints = folder.path().join("checkpoints");
    let options = |resume, interrupt| FitOptions {
        seed: 4,
        checkpoints: Some(&checkpoints),
        resume,
        interrupt,
        ..FitOptions::default()
    };
    let straight = run(&device, &limited, &options(None, None), &mut []).unwrap();
    fs::remove_dir_all(&checkpoints).unwrap();

    let mut interrupt = InterruptAt {
        epoch: 2,
        batch: 2,
        flag: &FLAG,
    };
    let interrupted = run(
        &device,
        &limited,
        &options(None, Some(&FLAG)),
        &mut [&mut interrupt],
    );
    assert!(matches!(interrupted, Err(Error::Interrupted { .. })));
    let checkpoint = Checkpoint::latest(&checkpoints)
        .unwrap()
        .expect("a checkpoint");
    let mut count = CountBatches(0);
    let resumed = run(
        &device,
        &limited,
        &options(Some(&checkpoint), None),
        &mut [&mut count],
    )
    .unwrap();
    assert_eq!(count.0, 0, "the resumed run trained past max_steps");
    assert_eq!(resumed.history, straight.history);
    assert_eq!(weights(&resumed.model), weights(&straight.model));
}

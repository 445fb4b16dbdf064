//! The training loop as users rely on it: reproducible, restoring the best weights, lowering
//! the rate on plateaus, clipping like PyTorch, and stopping cleanly on a non-finite loss.

mod common;

use burn::module::{Module, Param};
use burn::nn::LinearConfig;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use burnish_backend::BackendKind;
use burnish_data::{Features, TabularDataset, Targets};
use burnish_models::{MlpSpec, ModelSpec};
use burnish_train::{
    EarlyStoppingConfig, Error, FitData, Objective, ReduceOnPlateauConfig, TrainConfig,
    clip_global_norm, fit, predict,
};
use rstest::rstest;

/// Two noisy, overlapping classes in 4 dimensions: learnable, but not perfectly.
fn two_blobs(n_rows: usize, seed: u64) -> TabularDataset {
    let mut noise = common::uniform_noise(seed);
    let mut values = Vec::with_capacity(n_rows * 4);
    let mut classes = Vec::with_capacity(n_rows);
    for row in 0..n_rows {
        let class = row % 2;
        for _ in 0..4 {
            values.push(class as f32 * 0.6 + noise() * 2.0);
        }
        classes.push(class);
    }
    common::labelled_rows(values, classes)
}

fn config(epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 16,
        ..TrainConfig::default()
    }
}

fn train(
    backend: BackendKind,
    config: &TrainConfig,
    train: &TabularDataset,
    valid: &TabularDataset,
) -> Result<burnish_train::Fitted, Error> {
    let device = backend.open().unwrap();
    device.seed(11);
    let model = ModelSpec::Mlp(MlpSpec {
        hidden: vec![16],
        dropout: 0.2,
        ..MlpSpec::default()
    })
    .build(4, 2, &device.clone().autodiff())
    .unwrap();
    fit(
        model,
        FitData { train, valid },
        Objective::Classification { n_classes: 2 },
        config,
        5,
        &device,
        &mut [],
    )
}

#[rstest]
#[case::flex(BackendKind::Flex)]
#[cfg_attr(feature = "ndarray", case::ndarray(BackendKind::Ndarray))]
fn the_same_seed_gives_the_identical_history_on_cpu(#[case] backend: BackendKind) {
    let _random_numbers = common::exclusive_random_numbers();
    let (train_set, valid_set) = (two_blobs(96, 1), two_blobs(32, 2));
    let first = train(backend, &config(5), &train_set, &valid_set).unwrap();
    let second = train(backend, &config(5), &train_set, &valid_set).unwrap();
    assert_eq!(first.history, second.history);
    assert_eq!(first.history.records().len(), 5);
}

#[cfg(feature = "wgpu")]
#[test]
fn wgpu_trains_the_same_way_within_tolerance() {
    let _random_numbers = common::exclusive_random_numbers();
    let (train_set, valid_set) = (two_blobs(96, 1), two_blobs(32, 2));
    let cpu = train(BackendKind::Flex, &config(3), &train_set, &valid_set).unwrap();
    let gpu = train(BackendKind::Wgpu, &config(3), &train_set, &valid_set).unwrap();
    // Initialisation draws differ between backends; the loss scale must not.
    let cpu_loss = cpu.history.column("train_loss");
    let gpu_loss = gpu.history.column("train_loss");
    for (cpu, gpu) in cpu_loss.iter().zip(&gpu_loss) {
        let (cpu, gpu) = (cpu.unwrap(), gpu.unwrap());
        assert!(gpu.is_finite() && (cpu - gpu).abs() < 0.5, "{cpu} vs {gpu}");
    }
}

#[test]
fn restore_best_returns_exactly_the_best_epochs_weights() {
    let _random_numbers = common::exclusive_random_numbers();
    let (train_set, valid_set) = (two_blobs(96, 1), two_blobs(32, 2));
    let config = TrainConfig {
        optimizer: burnish_train::OptimizerSpec::Adam {
            lr: 0.05,
            weight_decay: 0.0,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-8,
        },
        early_stopping: Some(EarlyStoppingConfig {
            monitor: "valid_loss".into(),
            mode: None,
            patience: 4,
            min_delta: 0.0,
            restore_best: true,
            baseline: None,
            start_from_epoch: 0,
        }),
        ..config(60)
    };
    let fitted = train(BackendKind::Flex, &config, &train_set, &valid_set).unwrap();
    let losses: Vec<f64> = fitted
        .history
        .column("valid_loss")
        .into_iter()
        .map(Option::unwrap)
        .collect();
    let (best_idx, best_loss) =
        losses
            .iter()
            .enumerate()
            .fold((0, f64::INFINITY), |best, (idx, &loss)| {
                if loss < best.1 { (idx, loss) } else { best }
            });
    assert!(
        best_idx + 1 < losses.len(),
        "the run must go past its best epoch for the test to mean anything"
    );
    assert_eq!(fitted.weights_epoch, best_idx + 1);

    // Measuring the returned weights again gives the best epoch's loss, bit for bit.
    let device = BackendKind::Flex.open().unwrap();
    let predictions = predict(
        &fitted.model.valid(),
        valid_set.features(),
        Objective::Classification { n_classes: 2 },
        16,
        &device,
    );
    let burnish_train::Predictions::Classes { probabilities, .. } = predictions else {
        panic!("a classifier predicts classes");
    };
    let Targets::Classes(classes) = valid_set.targets() else {
        panic!("classification targets");
    };
    let mean_loss: f64 = classes
        .iter()
        .enumerate()
        .map(|(row, &class)| -(probabilities[row * 2 + class] as f64).ln())
        .sum::<f64>()
        / classes.len() as f64;
    assert!(
        (mean_loss - best_loss).abs() < 1e-5,
        "returned weights score {mean_loss}, best epoch {best_loss}"
    );
}

#[test]
fn reduce_on_plateau_lowers_the_rate_after_patience_flat_epochs() {
    let _random_numbers = common::exclusive_random_numbers();
    let (train_set, valid_set) = (two_blobs(64, 1), two_blobs(16, 2));
    let config = TrainConfig {
        reduce_on_plateau: Some(ReduceOnPlateauConfig {
            monitor: "valid_accuracy".into(),
            mode: None,
            factor: 0.5,
            patience: 2,
            min_delta: 10.0, // nothing counts as an improvement after the first epoch
            cooldown: 0,
            min_lr: 0.0,
        }),
        ..config(7)
    };
    let fitted = train(BackendKind::Flex, &config, &train_set, &valid_set).unwrap();
    let rates: Vec<f64> = fitted
        .history
        .column("lr")
        .into_iter()
        .map(Option::unwrap)
        .collect();
    assert_eq!(
        rates,
        vec![1e-3, 1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4, 2.5e-4],
        "epochs 2 and 3 are flat, so epoch 4 runs at half the rate, and so on"
    );
}

#[test]
fn an_unknown_monitored_metric_is_an_error_before_training() {
    let _random_numbers = common::exclusive_random_numbers();
    let (train_set, valid_set) = (two_blobs(32, 1), two_blobs(8, 2));
    let config = TrainConfig {
        early_stopping: Some(EarlyStoppingConfig {
            monitor: "valid_f2".into(),
            mode: None,
            patience: 3,
            min_delta: 0.0,
            restore_best: true,
            baseline: None,
            start_from_epoch: 0,
        }),
        ..config(3)
    };
    let error = train(BackendKind::Flex, &config, &train_set, &valid_set).unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid `train.early_stopping.monitor`: no metric named `valid_f2`; this task records train_loss, valid_loss, valid_accuracy"
    );
}

#[test]
fn nan_in_the_data_stops_training_naming_the_epoch_and_batch() {
    let _random_numbers = common::exclusive_random_numbers();
    let mut train_set = two_blobs(64, 1);
    let valid_set = two_blobs(16, 2);
    let Features {
        n_rows,
        n_cols,
        mut values,
    } = train_set.features().clone();
    values[5] = f32::NAN;
    train_set = TabularDataset::new(
        Features {
            n_rows,
            n_cols,
            values,
        },
        train_set.targets().clone(),
    );
    let error = train(BackendKind::Flex, &config(3), &train_set, &valid_set).unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with("the training loss became NaN at epoch 1, batch "),
        "{message}"
    );
}

/// `torch.nn.utils.clip_grad_norm_` on the gradients [[1, 2], [3, 4]] (weight) and [5, 6]
/// (bias) with `max_norm = 1`: the total norm is √91 and every gradient is multiplied by
/// 1 / (√91 + 1e-6). The expected values are that formula evaluated in float32, as PyTorch
/// does it.
#[test]
fn global_norm_clipping_matches_pytorch() {
    let _random_numbers = common::exclusive_random_numbers();
    let device: Device = BackendKind::Flex.open().unwrap();
    let linear = LinearConfig::new(2, 2).init(&device);
    let mut grads = GradientsParams::new();
    grads.register(
        linear.weight.id,
        Tensor::<2>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0], [2, 2]),
            &device,
        ),
    );
    let bias: &Param<Tensor<1>> = linear.bias.as_ref().unwrap();
    grads.register(
        bias.id,
        Tensor::<1>::from_data(TensorData::new(vec![5.0f32, 6.0], [2]), &device),
    );
    let norm = clip_global_norm(&linear, &mut grads, 1.0);
    assert!((norm - 9.539_392).abs() < 1e-5, "{norm}");
    let weight = grads.get::<2>(linear.weight.id).unwrap().into_data();
    let bias = grads.get::<1>(bias.id).unwrap().into_data();
    let expected_weight = [0.104_828_47_f32, 0.209_656_94, 0.314_485_4, 0.419_313_88];
    let expected_bias = [0.524_142_3_f32, 0.628_970_8];
    for (actual, expected) in weight
        .try_to_vec::<f32>()
        .unwrap()
        .iter()
        .chain(&bias.try_to_vec::<f32>().unwrap())
        .zip(expected_weight.iter().chain(&expected_bias))
    {
        assert!((actual - expected).abs() < 1e-6, "{actual} vs {expected}");
    }

    // Below the limit, gradients are left alone.
    let norm = clip_global_norm(&linear, &mut grads, 10.0);
    assert!((norm - 1.0).abs() < 1e-5, "{norm}");
}

/// The tiny random BERT checkpoint of burnish-models' parity tests, with a new 2-class head.
fn tiny_bert(body_lr: Option<f64>, device: &Device) -> burnish_models::Model {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../burnish-models/tests/golden/hf/bert_tiny");
    let config = burnish_models::BertConfig::from_hf_json(
        &std::fs::read_to_string(folder.join("config.json")).unwrap(),
    )
    .unwrap();
    let weights = std::fs::read(folder.join("model.safetensors")).unwrap();
    let (body, _) = config.init(device).load_hf(&weights).unwrap();
    let head = burnish_models::BertClassifierConfig {
        pooling: burnish_models::BertPooling::Mean,
        d_output: 2,
        dropout: 0.0,
        freeze_body: false,
        freeze_layers: 0,
        body_lr,
    };
    burnish_models::Model::Bert(head.init(body, device))
}

/// The body's last states for fixed ids, in inference mode (no dropout).
fn body_states(model: &burnish_models::Model, device: &Device) -> Vec<f32> {
    let burnish_models::Model::Bert(bert) = &model.valid() else {
        panic!("a BERT")
    };
    let ids = Tensor::<2, burn::tensor::Int>::from_data(
        TensorData::new(vec![101i64, 2023, 3185, 102], [1, 4]),
        device,
    );
    bert.body()
        .forward(ids, None, None)
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

#[test]
fn a_pretrained_body_learns_at_its_own_rate_and_the_head_at_the_optimizers() {
    let device = BackendKind::Flex.open().unwrap();
    let autodiff = device.clone().autodiff();
    let sequences: Vec<Vec<usize>> = (0..32)
        .map(|row| vec![101, 1000 + row * 37, 2000 + row % 5, 102])
        .collect();
    let classes = (0..32).map(|row| row % 2).collect();
    let texts = burnish_data::TextDataset::from_sequences(
        &sequences,
        4,
        burnish_data::Truncation::Tail,
        Targets::Classes(classes),
    );
    let config = TrainConfig {
        epochs: 2,
        batch_size: 8,
        optimizer: burnish_train::OptimizerSpec::Adam {
            lr: 1e-2,
            weight_decay: 0.0,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-8,
        },
        ..TrainConfig::default()
    };
    let before = body_states(&tiny_bert(None, &autodiff), &device);
    let moved = |body_lr: Option<f64>| {
        let fitted = fit(
            tiny_bert(body_lr, &autodiff),
            FitData {
                train: &texts,
                valid: &texts,
            },
            Objective::Classification { n_classes: 2 },
            &config,
            5,
            &device,
            &mut [],
        )
        .unwrap();
        let after = body_states(&fitted.model, &device);
        before
            .iter()
            .zip(&after)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max)
    };
    // Adam moves each weight by about the rate a step: 8 steps at 1e-9 leave the body as it
    // was; at the head's 1e-2 it moves.
    let slow = moved(Some(1e-9));
    let fast = moved(None);
    assert!(slow < 1e-5, "body at 1e-9 moved {slow}");
    assert!(fast > 1e-2, "body at 1e-2 moved only {fast}");
}

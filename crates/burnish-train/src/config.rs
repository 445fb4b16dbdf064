//! The `[train]` table of an experiment file.

use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, ModuleOptimizer, RmsPropConfig, SgdConfig};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::plateau::ReduceOnPlateauConfig;
use crate::schedule::ScheduleSpec;

/// How to train: every key of the `[train]` table, each with a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// The most passes over the training split.
    pub epochs: usize,
    /// Stop after this many optimizer steps, even within an epoch (Lightning's `max_steps`);
    /// the learning-rate schedule then spans these steps rather than `epochs` whole epochs.
    /// The last, partial epoch is validated and recorded like any other.
    pub max_steps: Option<usize>,
    /// Rows per optimizer step.
    pub batch_size: usize,
    /// Drop the last batch of an epoch when it is smaller than `batch_size`.
    pub drop_last: bool,
    /// The optimizer and its learning rate.
    pub optimizer: OptimizerSpec,
    /// How the learning rate changes over training.
    pub schedule: ScheduleSpec,
    /// Stop when a monitored metric stops improving.
    pub early_stopping: Option<EarlyStoppingConfig>,
    /// Lower the learning rate when a monitored metric stops improving.
    pub reduce_on_plateau: Option<ReduceOnPlateauConfig>,
    /// Rescale all gradients together when their global L2 norm exceeds this, as PyTorch's
    /// `clip_grad_norm_`.
    pub grad_clip_norm: Option<f64>,
    /// Label smoothing of the classification loss, as PyTorch's `label_smoothing`.
    pub label_smoothing: f64,
    /// Weights of the classes in the training loss: `"balanced"` (scikit-learn's
    /// `n_samples / (n_classes * count)`) or one weight per class, in the order of the class
    /// names (sorted, as in the report).
    pub class_weights: Option<ClassWeights>,
    /// L1 penalty on the weights (parameters of two or more dimensions, not biases or norm
    /// scales), added to the training loss.
    pub l1: f64,
    /// L2 penalty on the weights, added to the training loss (Keras's kernel regulariser;
    /// the optimizer's `weight_decay` acts on the gradient instead).
    pub l2: f64,
    /// Sum the gradients of this many batches before each optimizer step (each batch's loss
    /// divided by it), as Lightning's `accumulate_grad_batches`.
    pub accumulate_grad_batches: usize,
    /// Train on one batch and validate on one batch, then stop: checks a configuration in
    /// seconds (Lightning's `fast_dev_run`).
    pub fast_dev_run: bool,
}

/// The `class_weights` key of `[train]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ClassWeights {
    /// A named rule; only `"balanced"` exists.
    Rule(ClassWeightRule),
    /// One weight per class.
    PerClass(Vec<f64>),
}

/// A named rule for class weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClassWeightRule {
    /// Weights inversely proportional to the class frequencies of the training split.
    Balanced,
}

impl ClassWeights {
    /// The weight of every class, given each training example's class.
    pub fn resolve(&self, classes: &[usize], n_classes: usize) -> Result<Vec<f32>, Error> {
        match self {
            Self::PerClass(weights) => {
                if weights.len() != n_classes {
                    return Err(invalid(
                        "train.class_weights",
                        format!("{} weights given for {n_classes} classes", weights.len()),
                    ));
                }
                if let Some(weight) = weights.iter().find(|w| !(w.is_finite() && **w >= 0.0)) {
                    return Err(invalid(
                        "train.class_weights",
                        format!("{weight} is not a non-negative number"),
                    ));
                }
                Ok(weights.iter().map(|&weight| weight as f32).collect())
            }
            Self::Rule(ClassWeightRule::Balanced) => {
                let mut counts = vec![0usize; n_classes];
                for &class in classes {
                    counts[class] += 1;
                }
                Ok(counts
                    .iter()
                    .map(|&count| {
                        if count == 0 {
                            0.0
                        } else {
                            (classes.len() as f64 / (n_classes as f64 * count as f64)) as f32
                        }
                    })
                    .collect())
            }
        }
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 100,
            batch_size: 32,
            drop_last: false,
            optimizer: OptimizerSpec::default(),
            schedule: ScheduleSpec::default(),
            early_stopping: None,
            reduce_on_plateau: None,
            grad_clip_norm: None,
            label_smoothing: 0.0,
            class_weights: None,
            l1: 0.0,
            l2: 0.0,
            accumulate_grad_batches: 1,
            fast_dev_run: false,
            max_steps: None,
        }
    }
}

impl TrainConfig {
    /// Checks every value a user can get wrong, naming its key.
    pub fn validate(&self) -> Result<(), Error> {
        if self.epochs == 0 {
            return Err(invalid("train.epochs", "must be at least 1"));
        }
        if self.batch_size == 0 {
            return Err(invalid("train.batch_size", "must be at least 1"));
        }
        if self.max_steps == Some(0) {
            return Err(invalid("train.max_steps", "must be at least 1"));
        }
        let lr = self.optimizer.lr();
        if !(lr.is_finite() && lr > 0.0) {
            return Err(invalid(
                "train.optimizer.lr",
                format!("{lr} is not a positive number"),
            ));
        }
        if let Some(max_norm) = self.grad_clip_norm
            && !(max_norm.is_finite() && max_norm > 0.0)
        {
            return Err(invalid(
                "train.grad_clip_norm",
                format!("{max_norm} is not a positive number"),
            ));
        }
        if let Some(early_stopping) = &self.early_stopping
            && early_stopping.min_delta < 0.0
        {
            return Err(invalid(
                "train.early_stopping.min_delta",
                "must not be negative",
            ));
        }
        if let Some(plateau) = &self.reduce_on_plateau
            && !(plateau.factor > 0.0 && plateau.factor < 1.0)
        {
            return Err(invalid(
                "train.reduce_on_plateau.factor",
                format!("{} is not in (0, 1)", plateau.factor),
            ));
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return Err(invalid(
                "train.label_smoothing",
                format!("{} is not in [0, 1)", self.label_smoothing),
            ));
        }
        for (field, value) in [("train.l1", self.l1), ("train.l2", self.l2)] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(invalid(
                    field,
                    format!("{value} is not a non-negative number"),
                ));
            }
        }
        if self.accumulate_grad_batches == 0 {
            return Err(invalid(
                "train.accumulate_grad_batches",
                "must be at least 1",
            ));
        }
        self.schedule.validate(self.epochs)
    }
}

pub(crate) fn invalid(field: &str, reason: impl Into<String>) -> Error {
    Error::Invalid {
        field: field.to_string(),
        reason: reason.into(),
    }
}

/// The optimizer, tagged by `kind` in the experiment file.
///
/// Defaults follow PyTorch (`epsilon = 1e-8`, no momentum dampening), so that results compare.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum OptimizerSpec {
    /// Adam; `weight_decay` adds an L2 penalty to the gradient.
    Adam {
        /// The learning rate.
        #[serde(default = "default_lr")]
        lr: f64,
        /// L2 penalty added to the gradient.
        #[serde(default)]
        weight_decay: f64,
        /// First-moment decay.
        #[serde(default = "default_beta_1")]
        beta_1: f64,
        /// Second-moment decay.
        #[serde(default = "default_beta_2")]
        beta_2: f64,
        /// Added to the denominator for stability.
        #[serde(default = "default_epsilon")]
        epsilon: f64,
    },
    /// AdamW: Adam with decoupled weight decay.
    Adamw {
        /// The learning rate.
        #[serde(default = "default_lr")]
        lr: f64,
        /// Decoupled weight decay.
        #[serde(default = "default_adamw_decay")]
        weight_decay: f64,
        /// First-moment decay.
        #[serde(default = "default_beta_1")]
        beta_1: f64,
        /// Second-moment decay.
        #[serde(default = "default_beta_2")]
        beta_2: f64,
        /// Added to the denominator for stability.
        #[serde(default = "default_epsilon")]
        epsilon: f64,
    },
    /// Stochastic gradient descent, with optional (Nesterov) momentum.
    Sgd {
        /// The learning rate.
        #[serde(default = "default_sgd_lr")]
        lr: f64,
        /// Momentum factor; 0 for plain SGD.
        #[serde(default)]
        momentum: f64,
        /// Nesterov momentum.
        #[serde(default)]
        nesterov: bool,
        /// L2 penalty added to the gradient.
        #[serde(default)]
        weight_decay: f64,
    },
    /// RMSprop.
    Rmsprop {
        /// The learning rate.
        #[serde(default = "default_sgd_lr")]
        lr: f64,
        /// Smoothing constant of the squared-gradient average.
        #[serde(default = "default_alpha")]
        alpha: f64,
        /// Momentum factor.
        #[serde(default)]
        momentum: f64,
        /// L2 penalty added to the gradient.
        #[serde(default)]
        weight_decay: f64,
        /// Added to the denominator for stability.
        #[serde(default = "default_epsilon")]
        epsilon: f64,
    },
}

fn default_lr() -> f64 {
    1e-3
}
fn default_sgd_lr() -> f64 {
    1e-2
}
fn default_beta_1() -> f64 {
    0.9
}
fn default_beta_2() -> f64 {
    0.999
}
fn default_epsilon() -> f64 {
    1e-8
}
fn default_adamw_decay() -> f64 {
    1e-2
}
fn default_alpha() -> f64 {
    0.99
}

impl Default for OptimizerSpec {
    fn default() -> Self {
        Self::Adam {
            lr: default_lr(),
            weight_decay: 0.0,
            beta_1: default_beta_1(),
            beta_2: default_beta_2(),
            epsilon: default_epsilon(),
        }
    }
}

impl OptimizerSpec {
    /// The base learning rate, before any schedule.
    pub fn lr(&self) -> f64 {
        match *self {
            Self::Adam { lr, .. }
            | Self::Adamw { lr, .. }
            | Self::Sgd { lr, .. }
            | Self::Rmsprop { lr, .. } => lr,
        }
    }

    /// Builds Burn's optimizer for a whole module.
    pub fn init(&self) -> ModuleOptimizer {
        let decay = |weight_decay: f64| {
            (weight_decay > 0.0).then(|| WeightDecayConfig::new(weight_decay as f32))
        };
        match *self {
            Self::Adam {
                weight_decay,
                beta_1,
                beta_2,
                epsilon,
                ..
            } => AdamConfig::new()
                .with_beta_1(beta_1 as f32)
                .with_beta_2(beta_2 as f32)
                .with_epsilon(epsilon as f32)
                .with_weight_decay(decay(weight_decay))
                .init(),
            Self::Adamw {
                weight_decay,
                beta_1,
                beta_2,
                epsilon,
                ..
            } => AdamWConfig::new()
                .with_beta_1(beta_1 as f32)
                .with_beta_2(beta_2 as f32)
                .with_epsilon(epsilon as f32)
                .with_weight_decay(weight_decay as f32)
                .init(),
            Self::Sgd {
                momentum,
                nesterov,
                weight_decay,
                ..
            } => SgdConfig::new()
                .with_momentum((momentum > 0.0).then(|| {
                    MomentumConfig::new()
                        .with_momentum(momentum)
                        .with_dampening(0.0)
                        .with_nesterov(nesterov)
                }))
                .with_weight_decay(decay(weight_decay))
                .init(),
            Self::Rmsprop {
                alpha,
                momentum,
                weight_decay,
                epsilon,
                ..
            } => RmsPropConfig::new()
                .with_alpha(alpha as f32)
                .with_momentum(momentum as f32)
                .with_epsilon(epsilon as f32)
                .with_weight_decay(decay(weight_decay))
                .init(),
        }
    }
}

/// Whether a monitored metric is better when lower or higher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MonitorMode {
    /// Lower is better (losses, errors).
    Min,
    /// Higher is better (accuracy, F1, R²).
    Max,
}

impl MonitorMode {
    /// The mode a metric's name implies: losses and errors are minimised, the rest maximised.
    pub fn for_metric(name: &str) -> Self {
        let minimised = ["loss", "error", "mse", "rmse", "mae", "perplexity"];
        if minimised.iter().any(|word| name.ends_with(word)) {
            Self::Min
        } else {
            Self::Max
        }
    }
}

/// The `early_stopping` table of `[train]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EarlyStoppingConfig {
    /// The history column to watch, such as `valid_loss` or `valid_accuracy`.
    #[serde(default = "default_monitor")]
    pub monitor: String,
    /// `min` or `max`; inferred from the metric's name when absent.
    #[serde(default)]
    pub mode: Option<MonitorMode>,
    /// Epochs without improvement before stopping.
    #[serde(default = "default_patience")]
    pub patience: usize,
    /// The smallest change that counts as an improvement.
    #[serde(default)]
    pub min_delta: f64,
    /// Put back the best epoch's weights when training ends.
    #[serde(default = "default_restore_best")]
    pub restore_best: bool,
    /// A value the metric must beat to count as an improvement at all (Keras's `baseline`):
    /// training stops after `patience` epochs that do not beat it.
    #[serde(default)]
    pub baseline: Option<f64>,
    /// Epochs to train before watching the metric at all (Keras's `start_from_epoch`).
    #[serde(default)]
    pub start_from_epoch: usize,
}

fn default_monitor() -> String {
    "valid_loss".to_string()
}
fn default_patience() -> usize {
    10
}
fn default_restore_best() -> bool {
    true
}

impl EarlyStoppingConfig {
    /// The mode, explicit or inferred from the monitored name.
    pub fn mode(&self) -> MonitorMode {
        self.mode
            .unwrap_or_else(|| MonitorMode::for_metric(&self.monitor))
    }
}

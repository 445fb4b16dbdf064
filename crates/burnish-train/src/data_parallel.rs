//! Data-parallel training: every batch split across several devices.
//!
//! The parallel work is Burn's own: [`MultiDevicesTrainStep`], the step behind `burn::train`'s
//! multi-device strategy, keeps one worker thread per device; each worker forks the model onto
//! its device and computes the gradients of its share of the batch. The gradients come back to
//! the main device (`GradientsParams::to_device`) and are summed there by Burn's
//! `GradientsAccumulator`, as `burn::train`'s `OptimMainDevice` strategy does; the caller then
//! takes one optimizer step on the main device, so every worker starts the next batch from the
//! same weights.
//!
//! Each share's loss is weighted by its share of the batch's rows, so the summed gradients are
//! the gradients of the whole batch's mean loss: a run on two devices follows the run on one
//! up to the order of floating-point additions.

use burn::data::dataloader::{DataLoaderIterator, Progress};
use burn::data::dataset::DatasetError;
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::{Device, ExecutionError, Tensor};
use burn::train::train::MultiDevicesTrainStep;
use burn::train::{InferenceStep, ItemLazy, TrainOutput, TrainStep};
use burnish_models::{Model, ModelInput};

use crate::Error;
use crate::examples::{Batch, Examples};
use crate::objective::Loss;
use crate::penalty::weight_penalty;

/// The model as one worker holds it: Burn's multi-device step wants a module that knows how to
/// take its own training step.
#[derive(Module, Debug)]
pub(crate) struct Replica {
    model: Model,
}

/// One worker's share of a batch, with what it needs to compute its part of the loss.
pub(crate) struct Shard {
    batch: Batch,
    loss: Loss,
    /// The share's rows over the batch's rows, divided by the number of accumulated batches.
    weight: f64,
    l1: f64,
    l2: f64,
}

/// What a worker reports besides its gradients: the mean loss of its share.
pub(crate) struct ShardLoss {
    mean: f32,
    predictions: usize,
}

impl ItemLazy for ShardLoss {
    fn sync(self) -> Result<Self, ExecutionError> {
        Ok(self)
    }
}

impl TrainStep for Replica {
    type Input = Shard;
    type Output = ShardLoss;

    fn step(&self, shard: Shard) -> TrainOutput<ShardLoss> {
        let outputs = self.model.forward(shard.batch.inputs);
        let predictions = outputs.dims()[0];
        let loss = shard.loss.forward(outputs, shard.batch.targets);
        let mean = loss.clone().into_scalar::<f32>();
        let loss = match weight_penalty(&self.model, shard.l1, shard.l2) {
            Some(penalty) => loss + penalty,
            None => loss,
        };
        let grads = loss.mul_scalar(shard.weight).backward();
        TrainOutput::new(self, grads, ShardLoss { mean, predictions })
    }
}

/// The model's outputs for a batch: Burn's multi-device step asks its model for an inference
/// step too, though Burnish validates on the main device with [`Model::forward`].
#[expect(
    dead_code,
    reason = "required by burn::train's LearnerModel bound, never called by Burnish"
)]
pub(crate) struct ReplicaOutputs(Tensor<2>);

impl ItemLazy for ReplicaOutputs {
    fn sync(self) -> Result<Self, ExecutionError> {
        Ok(self)
    }
}

impl InferenceStep for Replica {
    type Input = ModelInput;
    type Output = ReplicaOutputs;

    fn step(&self, inputs: ModelInput) -> ReplicaOutputs {
        ReplicaOutputs(self.model.forward(inputs))
    }
}

/// Draws the initial value of every lazily initialised parameter.
pub(crate) struct InitializeParameters;

impl ModuleVisitor for InitializeParameters {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = param.val();
    }
}

/// A data loader of one item: the share one worker gets of the current batch.
struct OneShard(Option<Shard>);

impl Iterator for OneShard {
    type Item = Result<Shard, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.0.take().map(Ok)
    }
}

impl DataLoaderIterator<Shard> for OneShard {
    fn progress(&self) -> Progress {
        let items = usize::from(self.0.is_some());
        Progress::new(0, items, None)
    }
}

/// The gradients and loss of one batch computed across devices.
pub(crate) struct ParallelStep {
    /// The gradients of the batch's mean loss (plus penalties), on the main device.
    pub(crate) grads: GradientsParams,
    /// The batch's mean loss, without penalties.
    pub(crate) loss: f32,
    /// The number of predictions the loss averages over.
    pub(crate) predictions: usize,
}

/// Several devices computing each batch's gradients together.
pub(crate) struct DataParallel {
    step: MultiDevicesTrainStep<Replica>,
    devices: Vec<Device>,
    losses: Vec<Loss>,
}

impl DataParallel {
    /// Starts one worker per device (autodiff devices; the first is the main device).
    pub(crate) fn new(devices: Vec<Device>, make_loss: impl Fn(&Device) -> Loss) -> Self {
        let losses = devices.iter().map(make_loss).collect();
        Self {
            step: MultiDevicesTrainStep::new(&devices),
            devices,
            losses,
        }
    }

    /// Draws the initial values of `model`'s lazily initialised parameters on this thread,
    /// after seeding the main device with `seed`, the first batch's seed. Left to the workers,
    /// they would draw them on a worker thread after the per-device seeds of
    /// [`Self::gradients`]; drawn here, they get the values a one-device run draws in its first
    /// forward pass (for models without dropout). Parameters already drawn (a resumed run's)
    /// stay as they are.
    pub(crate) fn initialize(&self, model: &Model, seed: u64) {
        self.devices[0].seed(seed);
        model.visit(&mut InitializeParameters);
    }

    /// Splits `rows` into one contiguous share per device, runs forward and backward on every
    /// device at once, and sums the gradients on the main device. `seed` is the batch's seed.
    pub(crate) fn gradients(
        &self,
        model: &Model,
        train: &dyn Examples,
        rows: &[usize],
        loss_scale: f64,
        (l1, l2): (f64, f64),
        seed: u64,
    ) -> Result<ParallelStep, Error> {
        for (idx, device) in self.devices.iter().enumerate() {
            device.seed(seed.wrapping_add(idx as u64));
        }
        let share = rows.len().div_ceil(self.devices.len());
        let mut loaders: Vec<Box<dyn DataLoaderIterator<Shard>>> = Vec::new();
        for (idx, device) in self.devices.iter().enumerate() {
            let start = (idx * share).min(rows.len());
            let end = ((idx + 1) * share).min(rows.len());
            let shard = if start < end {
                Some(Shard {
                    batch: train.batch(&rows[start..end], device)?,
                    loss: self.losses[idx].clone(),
                    weight: (end - start) as f64 / rows.len() as f64 * loss_scale,
                    l1,
                    l2,
                })
            } else {
                None
            };
            loaders.push(Box::new(OneShard(shard)));
        }
        let replica = Replica {
            model: model.clone(),
        };
        let (outputs, _) = self
            .step
            .step(&mut loaders, &replica)
            .map_err(|error| Error::DataParallel(error.to_string()))?;
        let main = &self.devices[0];
        let mut accumulator = GradientsAccumulator::<Replica>::new();
        let mut loss_sum = 0.0f64;
        let mut predictions = 0usize;
        for output in outputs {
            let ShardLoss {
                mean,
                predictions: shard_predictions,
            } = output.output.item;
            loss_sum += mean as f64 * shard_predictions as f64;
            predictions += shard_predictions;
            accumulator.accumulate(&replica, output.output.grads.to_device(main, &replica));
        }
        Ok(ParallelStep {
            grads: accumulator.grads(),
            loss: (loss_sum / predictions.max(1) as f64) as f32,
            predictions,
        })
    }
}

//! The training loop.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::{Device, Tensor};
use burnish_data::{BatchTargets, EpochOrder};
use burnish_metrics::EpochRecord;
use burnish_models::Model;

use crate::checkpoint::{Checkpoint, LoopState, write_checkpoint};
use crate::clip::clip_global_norm;
use crate::config::invalid;
use crate::data_parallel::{DataParallel, InitializeParameters};
use crate::early_stopping::{EarlyStopping, Verdict};
use crate::objective::Loss;
use crate::penalty::weight_penalty;
use crate::plateau::ReduceOnPlateau;
use crate::process_group::{ProcessGroup, broadcast_weights, reduce_step, share, weights_digest};
use crate::{BatchProgress, Callback, Error, Examples, History, Objective, TrainConfig};

/// What training returns.
#[derive(Debug)]
pub struct Fitted {
    /// The trained model, on the autodiff device; with `restore_best`, the best epoch's weights.
    pub model: Model,
    /// Every epoch's record.
    pub history: History,
    /// The epoch whose weights `model` holds.
    pub weights_epoch: usize,
    /// Why training ended, in one sentence.
    pub summary: String,
    /// In several processes, whether every process ended with rank 0's weights bit for bit
    /// (checked by a digest of every parameter); `None` in one process.
    pub same_weights_everywhere: Option<bool>,
}

/// The data a run trains on and validates with.
#[derive(Clone, Copy)]
pub struct FitData<'a> {
    /// The examples the optimizer learns from.
    pub train: &'a dyn Examples,
    /// The examples measured after every epoch (early stopping watches them).
    pub valid: &'a dyn Examples,
}

/// How a run is seeded, checkpointed, resumed and interrupted.
#[derive(Debug, Clone, Copy, Default)]
pub struct FitOptions<'a> {
    /// Seeds the data order of every epoch and the random numbers (dropout) of every batch.
    pub seed: u64,
    /// A folder to write a checkpoint into after every epoch; `None` writes none.
    pub checkpoints: Option<&'a Path>,
    /// A checkpoint to continue from; the model passed in must be built as the run built it.
    pub resume: Option<&'a Checkpoint>,
    /// When set (by a Ctrl-C handler), training stops after the current batch, writes a
    /// checkpoint and returns [`Error::Interrupted`].
    pub interrupt: Option<&'a AtomicBool>,
    /// Data-parallel training: the devices every batch is split across, the run's `device`
    /// first. Empty or one device trains on `device` alone. A device may be listed twice (two
    /// workers share it), which checks a multi-device setup where only one device exists.
    pub devices: &'a [Device],
    /// Multi-process training: the processes this one trains with (see [`ProcessGroup`]).
    /// Every process calls `fit_with` with the same model, data, configuration and seed; each
    /// computes the gradients of its share of every batch and of the validation rows. Only the
    /// processes given `checkpoints` write them (rank 0, as a rule). `interrupt` is not read:
    /// stopping one process stops the engine's collective operations on all of them.
    pub group: Option<&'a dyn ProcessGroup>,
}

/// Trains `model` on `data.train`, measuring `data.valid` after every epoch, without
/// checkpoints; see [`fit_with`].
pub fn fit(
    model: Model,
    data: FitData<'_>,
    objective: Objective,
    config: &TrainConfig,
    seed: u64,
    device: &Device,
    callbacks: &mut [&mut dyn Callback],
) -> Result<Fitted, Error> {
    let options = FitOptions {
        seed,
        ..FitOptions::default()
    };
    fit_with(model, data, objective, config, &options, device, callbacks)
}

/// Trains `model` on `data.train`, measuring `data.valid` after every epoch.
///
/// `model` must have been built on an autodiff device (`device.clone().autodiff()`);
/// `device` is the plain device that evaluation runs on. The order of the training examples
/// in epoch `e` depends only on the seed and `e`, and the random numbers of batch `b` only on
/// the seed, `e` and `b`: a run resumed from the checkpoint of any epoch ends with the same
/// weights, bit for bit on the CPU backends, as a run that never stopped.
pub fn fit_with(
    model: Model,
    data: FitData<'_>,
    objective: Objective,
    config: &TrainConfig,
    options: &FitOptions<'_>,
    device: &Device,
    callbacks: &mut [&mut dyn Callback],
) -> Result<Fitted, Error> {
    let FitData { train, valid } = data;
    config.validate()?;
    check_monitors(objective, config)?;
    if train.n_examples() == 0 {
        return Err(invalid("data.split.train", "the training split is empty"));
    }
    let class_weights = class_weights(train, objective, config)?;
    if config.label_smoothing > 0.0 && objective == Objective::Regression {
        return Err(invalid(
            "train.label_smoothing",
            "applies to classification only",
        ));
    }

    let autodiff_device = device.clone().autodiff();
    let parallel = match options.devices {
        [] | [_] => None,
        [first, ..] if first != device => {
            return Err(invalid(
                "devices",
                "the first device must be the one the model and the validation run on",
            ));
        }
        _ if options.group.is_some() => {
            return Err(invalid(
                "devices",
                "several devices in each of several processes are not supported; start one process per device",
            ));
        }
        devices => Some(DataParallel::new(
            devices
                .iter()
                .map(|device| device.clone().autodiff())
                .collect(),
            |device| Loss::weighted(class_weights.clone(), config.label_smoothing, device),
        )),
    };
    let loss_fn = Loss::weighted(class_weights, config.label_smoothing, &autodiff_device);
    let valid_loss_fn = Loss::new(device);
    let mut optimizer = config.optimizer.init();
    let batches_per_epoch = EpochOrder::sequential(train.n_examples())
        .batches(config.batch_size, config.drop_last)
        .count();
    let accumulate = config.accumulate_grad_batches;
    let steps_per_epoch = batches_per_epoch.div_ceil(accumulate);
    let total_steps = match config.max_steps {
        Some(max_steps) => max_steps.min(steps_per_epoch * config.epochs),
        None => steps_per_epoch * config.epochs,
    };

    let mut model = model;
    let mut best_model: Option<Model> = None;
    let mut state = LoopState {
        epochs_done: 0,
        batches_done: 0,
        total_batches: 0,
        step: 0,
        partial_loss_sum: 0.0,
        partial_predictions: 0,
        lr: config.optimizer.lr(),
        history: Vec::new(),
        early_stopping: config.early_stopping.clone().map(EarlyStopping::new),
        plateau: config.reduce_on_plateau.clone().map(ReduceOnPlateau::new),
        best_epoch: None,
        stopped: None,
    };
    if let Some(checkpoint) = options.resume {
        model = checkpoint.load_model(model)?;
        best_model = checkpoint.load_best(&model)?;
        optimizer = checkpoint.load_optimizer(optimizer)?;
        state = checkpoint.state.clone();
    }
    let mut summary = match &state.stopped {
        Some(summary) => summary.clone(),
        None => format!("trained for all {} epochs", config.epochs),
    };
    if options.resume.is_some() && state.stopped.is_none() {
        summary = format!("resumed after epoch {}; {summary}", state.epochs_done);
    }

    for callback in callbacks.iter_mut() {
        callback.on_train_begin(config.epochs);
    }
    let first_epoch = state.epochs_done + 1;
    if let Some(parallel) = &parallel {
        parallel.initialize(
            &model,
            batch_seed(options.seed, first_epoch, state.batches_done),
        );
    }
    let group = options.group.filter(|group| group.world_size() > 1);
    if let Some(group) = group {
        // Rank 0 draws the initial weights as a one-process run does, in the forward pass of
        // the first batch (a model's forward pass need not read its parameters in the order
        // they are declared); every process then takes rank 0's.
        autodiff_device.seed(batch_seed(options.seed, first_epoch, state.batches_done));
        if group.rank() == 0 {
            let first_batch = EpochOrder::shuffled(train.n_examples(), options.seed, first_epoch)
                .batches(config.batch_size, config.drop_last)
                .nth(state.batches_done)
                .map(|rows| train.batch(rows, &autodiff_device))
                .transpose()?;
            if let Some(batch) = first_batch {
                let _ = model.forward(batch.inputs);
            }
        }
        model.visit(&mut InitializeParameters);
        model = broadcast_weights(group, model)?;
    }
    // This process's loss sum and predictions since the last optimizer step, when the step
    // adds them up across processes.
    let mut pending_loss_sum = 0.0f64;
    let mut pending_predictions = 0usize;
    let last_epoch = if state.stopped.is_some() {
        state.epochs_done
    } else if config.fast_dev_run {
        first_epoch.min(config.epochs)
    } else {
        config.epochs
    };
    for epoch in first_epoch..=last_epoch {
        for callback in callbacks.iter_mut() {
            callback.on_epoch_begin(epoch);
        }
        let order = EpochOrder::shuffled(train.n_examples(), options.seed, epoch);
        let batches: Vec<&[usize]> = order
            .batches(config.batch_size, config.drop_last)
            .take(if config.fast_dev_run { 1 } else { usize::MAX })
            .collect();
        let mut accumulator = GradientsAccumulator::<Model>::new();
        let mut accumulated = 0;
        for (batch_idx, rows) in batches.iter().enumerate().skip(state.batches_done) {
            // Checked before the batch rather than after the step, so that a run interrupted
            // on its last step and resumed trains nothing more.
            if step_limit_reached(config, &state) {
                break;
            }
            for callback in callbacks.iter_mut() {
                callback.on_batch_begin(epoch, batch_idx + 1);
            }
            let mut lr = config.schedule.lr(
                config.optimizer.lr(),
                state.step,
                steps_per_epoch,
                total_steps,
            );
            if let Some(plateau) = &state.plateau {
                lr = plateau.apply(lr);
            }
            state.lr = lr;
            let seed = batch_seed(options.seed, epoch, batch_idx);
            // A batch that cannot be read stops the run; at a step boundary the weights so
            // far are checkpointed first, so that a resumed run goes on from this batch.
            let data_error = |error: Error| match (error, options.checkpoints) {
                (
                    Error::Data {
                        source,
                        checkpoint: None,
                    },
                    Some(checkpoints),
                ) if accumulated == 0 && group.is_none() => {
                    let best = best_model.as_ref();
                    match write_checkpoint(checkpoints, &model, best, &optimizer, &state) {
                        Ok(checkpoint) => Error::Data {
                            source,
                            checkpoint: Some(checkpoint),
                        },
                        Err(write_error) => write_error,
                    }
                }
                (other, _) => other,
            };
            let (grads, loss_value, batch_predictions) = match (&parallel, group) {
                (Some(parallel), _) => {
                    let penalties = (config.l1, config.l2);
                    let step = parallel
                        .gradients(
                            &model,
                            train,
                            rows,
                            1.0 / accumulate as f64,
                            penalties,
                            seed,
                        )
                        .map_err(data_error)?;
                    (step.grads, step.loss, step.predictions)
                }
                (None, Some(group)) => {
                    // Rank 0 draws what a one-process run draws for the batch.
                    autodiff_device.seed(seed.wrapping_add(group.rank() as u64));
                    let own = share(rows.len(), group.rank(), group.world_size());
                    if own.is_empty() {
                        (GradientsParams::new(), 0.0, 0)
                    } else {
                        let weight = own.len() as f64 / rows.len() as f64 / accumulate as f64;
                        let (loss, loss_value, batch_predictions) = batch_loss(
                            &model,
                            train,
                            &rows[own],
                            &loss_fn,
                            config,
                            &autodiff_device,
                        )?;
                        let grads =
                            GradientsParams::from_grads(loss.mul_scalar(weight).backward(), &model);
                        (grads, loss_value, batch_predictions)
                    }
                }
                (None, None) => {
                    autodiff_device.seed(seed);
                    let (loss, loss_value, batch_predictions) =
                        batch_loss(&model, train, rows, &loss_fn, config, &autodiff_device)
                            .map_err(data_error)?;
                    let loss = if accumulate > 1 {
                        loss.div_scalar(accumulate as f64)
                    } else {
                        loss
                    };
                    let grads = GradientsParams::from_grads(loss.backward(), &model);
                    (grads, loss_value, batch_predictions)
                }
            };
            let mut loss_value = loss_value;
            if group.is_some() {
                // Checked once the step has added up every process's loss, so that every
                // process stops at the same batch.
                pending_loss_sum += loss_value as f64 * batch_predictions as f64;
                pending_predictions += batch_predictions;
            } else {
                if !loss_value.is_finite() {
                    return Err(Error::NonFiniteLoss {
                        epoch,
                        batch: batch_idx + 1,
                        value: loss_value,
                    });
                }
                state.partial_loss_sum += loss_value as f64 * batch_predictions as f64;
                state.partial_predictions += batch_predictions;
            }
            accumulated += 1;
            let step_due = accumulated == accumulate || batch_idx + 1 == batches.len();
            let grads = if accumulate > 1 {
                accumulator.accumulate(&model, grads);
                step_due.then(|| accumulator.grads())
            } else {
                Some(grads)
            };
            if let Some(mut grads) = grads {
                if let Some(group) = group {
                    let what = format!("the gradients of epoch {epoch}, batch {}", batch_idx + 1);
                    let reduced = reduce_step(
                        group,
                        &what,
                        &model,
                        grads,
                        pending_loss_sum,
                        pending_predictions,
                    );
                    pending_loss_sum = 0.0;
                    pending_predictions = 0;
                    loss_value = (reduced.loss_sum / reduced.predictions.max(1) as f64) as f32;
                    if !loss_value.is_finite() {
                        return Err(Error::NonFiniteLoss {
                            epoch,
                            batch: batch_idx + 1,
                            value: loss_value,
                        });
                    }
                    state.partial_loss_sum += reduced.loss_sum;
                    state.partial_predictions += reduced.predictions;
                    grads = reduced.grads;
                }
                if let Some(max_norm) = config.grad_clip_norm {
                    clip_global_norm(&model, &mut grads, max_norm);
                }
                model = match model.body_with_own_lr() {
                    // The body's rate follows the schedule as the head's does.
                    Some((body, body_lr)) => {
                        let body_grads = take_gradients_of(body, &mut grads);
                        let body_lr = body_lr * lr / config.optimizer.lr();
                        let model = optimizer.step(body_lr, model, body_grads);
                        optimizer.step(lr, model, grads)
                    }
                    None => optimizer.step(lr, model, grads),
                };
                state.step += 1;
                accumulated = 0;
            }
            state.batches_done = batch_idx + 1;
            state.total_batches += 1;
            let progress = BatchProgress {
                epoch,
                batch: batch_idx + 1,
                batches_per_epoch: batches.len(),
                examples: rows.len(),
                loss: loss_value as f64,
                epoch_loss: state.partial_loss_sum / state.partial_predictions.max(1) as f64,
            };
            for callback in callbacks.iter_mut() {
                callback.on_batch_end(&progress);
            }
            let interrupted = group.is_none()
                && options
                    .interrupt
                    .is_some_and(|flag| flag.load(Ordering::SeqCst));
            if interrupted
                && accumulated == 0
                && let Some(checkpoints) = options.checkpoints
            {
                let best = best_model.as_ref();
                let checkpoint = write_checkpoint(checkpoints, &model, best, &optimizer, &state)?;
                return Err(Error::Interrupted {
                    epoch,
                    batch: batch_idx + 1,
                    checkpoint,
                });
            }
        }

        let mut values = BTreeMap::new();
        values.insert("lr".to_string(), state.lr);
        values.insert(
            "train_loss".to_string(),
            state.partial_loss_sum / state.partial_predictions.max(1) as f64,
        );
        let max_valid_batches = if config.fast_dev_run { 1 } else { usize::MAX };
        values.extend(evaluate(
            &model.valid(),
            valid,
            objective,
            &valid_loss_fn,
            config.batch_size,
            max_valid_batches,
            device,
            group,
        )?);
        let record = EpochRecord { epoch, values };
        for callback in callbacks.iter_mut() {
            callback.on_epoch_end(&record);
        }
        if let Some(plateau) = &mut state.plateau {
            plateau.update(&record);
        }
        let verdict = state
            .early_stopping
            .as_mut()
            .map(|early_stopping| early_stopping.update(&record));
        state.history.push(record);
        state.epochs_done = epoch;
        state.batches_done = 0;
        state.partial_loss_sum = 0.0;
        state.partial_predictions = 0;
        match verdict {
            Some(Verdict::Improved) => {
                best_model = Some(model.clone());
                state.best_epoch = Some(epoch);
            }
            Some(Verdict::Stop) => {
                summary = format!("stopped early after epoch {epoch}");
                state.stopped = Some(summary.clone());
            }
            Some(Verdict::Wait) | None => {}
        }
        if state.stopped.is_none() && step_limit_reached(config, &state) {
            summary = format!(
                "stopped after {} optimizer steps (train.max_steps)",
                state.step
            );
            state.stopped = Some(summary.clone());
        }
        if config.fast_dev_run {
            summary = "fast_dev_run: one training batch and one validation batch ran".to_string();
        } else if let Some(checkpoints) = options.checkpoints {
            write_checkpoint(checkpoints, &model, best_model.as_ref(), &optimizer, &state)?;
        }
        if state.stopped.is_some() {
            break;
        }
    }

    let epochs_run = state.history.len();
    let restore = state
        .early_stopping
        .as_ref()
        .is_some_and(EarlyStopping::restore_best);
    let (weights_epoch, model) = match (restore, state.best_epoch, best_model) {
        (true, Some(best_epoch), Some(best)) => {
            let best_value = state
                .early_stopping
                .as_ref()
                .and_then(EarlyStopping::best)
                .map_or(f64::NAN, |(_, value)| value);
            summary.push_str(&format!(
                "; restored the weights of epoch {best_epoch} ({} {best_value:.4})",
                config
                    .early_stopping
                    .as_ref()
                    .map_or("", |config| config.monitor.as_str())
            ));
            (best_epoch, best)
        }
        _ => (epochs_run, model),
    };
    let same_weights = group.map(|group| same_weights_everywhere(group, &model));
    if same_weights == Some(false) {
        summary.push_str(
            "; warning: the processes ended with different weights (the backend is not deterministic across processes); rank 0's are saved",
        );
    }
    for callback in callbacks.iter_mut() {
        callback.on_train_end(&summary);
    }
    let mut history = History::default();
    for record in state.history {
        history.push(record);
    }
    Ok(Fitted {
        model,
        history,
        weights_epoch,
        summary,
        same_weights_everywhere: same_weights,
    })
}

/// Whether `train.max_steps` optimizer steps have been taken.
fn step_limit_reached(config: &TrainConfig, state: &LoopState) -> bool {
    config
        .max_steps
        .is_some_and(|max_steps| state.step >= max_steps)
}

/// Every monitored metric must be one the objective records, checked before training.
fn check_monitors(objective: Objective, config: &TrainConfig) -> Result<(), Error> {
    let monitored = [
        (
            "train.early_stopping.monitor",
            config.early_stopping.as_ref().map(|c| &c.monitor),
        ),
        (
            "train.reduce_on_plateau.monitor",
            config.reduce_on_plateau.as_ref().map(|c| &c.monitor),
        ),
    ];
    for (key, monitor) in monitored {
        if let Some(monitor) = monitor
            && !objective.metric_names().contains(&monitor.as_str())
        {
            return Err(invalid(
                key,
                format!(
                    "no metric named `{monitor}`; this task records {}",
                    objective.metric_names().join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// The class weights of the training loss, resolved against the training examples.
fn class_weights(
    train: &dyn Examples,
    objective: Objective,
    config: &TrainConfig,
) -> Result<Option<Vec<f32>>, Error> {
    let Some(weights) = &config.class_weights else {
        return Ok(None);
    };
    let (Objective::Classification { n_classes }, Some(classes)) = (objective, train.classes())
    else {
        return Err(invalid(
            "train.class_weights",
            "applies to classification of labelled examples only",
        ));
    };
    weights.resolve(classes, n_classes).map(Some)
}

/// The seed of batch `batch` of epoch `epoch`: SplitMix64's finaliser over the three, so that
/// neighbouring batches get unrelated streams.
fn batch_seed(seed: u64, epoch: usize, batch: usize) -> u64 {
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let golden = 0x9e37_79b9_7f4a_7c15u64;
    mix(mix(mix(seed.wrapping_add(golden)) ^ epoch as u64) ^ batch as u64)
}

/// The loss of `rows` of `train` with the weight penalties added, the loss alone as a number,
/// and the number of predictions it covers.
fn batch_loss(
    model: &Model,
    train: &dyn Examples,
    rows: &[usize],
    loss_fn: &Loss,
    config: &TrainConfig,
    device: &Device,
) -> Result<(Tensor<1>, f32, usize), Error> {
    let batch = train.batch(rows, device)?;
    let outputs = model.forward(batch.inputs);
    let batch_predictions = outputs.dims()[0];
    let loss = loss_fn.forward(outputs, batch.targets);
    let loss_value = loss.clone().into_scalar::<f32>();
    let loss = match weight_penalty(model, config.l1, config.l2) {
        Some(penalty) => loss + penalty,
        None => loss,
    };
    Ok((loss, loss_value, batch_predictions))
}

/// Whether every process of `group` holds `model`'s weights bit for bit as rank 0 does.
fn same_weights_everywhere(group: &dyn ProcessGroup, model: &Model) -> bool {
    let digest = weights_digest(model);
    let mut rank0 = digest.to_le_bytes().to_vec();
    group.broadcast(
        "the check that every process holds the same weights",
        &mut rank0,
    );
    let differs = f64::from(u8::from(rank0 != digest.to_le_bytes()));
    let mut differing = [differs];
    group.all_reduce_sum_f64(
        "the check that every process holds the same weights",
        &mut differing,
    );
    differing[0] == 0.0
}

/// The validation metrics of one epoch: mean loss, and accuracy or RMSE. With a `group`, each
/// process measures its share of the rows and the sums are added up across processes.
#[expect(
    clippy::too_many_arguments,
    reason = "the loop's own helper; each argument is one the loop already holds"
)]
fn evaluate(
    model: &Model,
    valid: &dyn Examples,
    objective: Objective,
    loss_fn: &Loss,
    batch_size: usize,
    max_batches: usize,
    device: &Device,
    group: Option<&dyn ProcessGroup>,
) -> Result<BTreeMap<String, f64>, Error> {
    let mut values = BTreeMap::new();
    if valid.n_examples() == 0 {
        return Ok(values);
    }
    let mut loss_sum = 0.0;
    let mut correct = 0usize;
    let mut n_predictions = 0usize;
    let own = match group {
        Some(group) => share(valid.n_examples(), group.rank(), group.world_size()),
        None => 0..valid.n_examples(),
    };
    let own: Vec<usize> = own.collect();
    for rows in own.chunks(batch_size.max(1)).take(max_batches) {
        let batch = valid.batch(rows, device)?;
        let outputs = model.forward(batch.inputs);
        let batch_predictions = outputs.dims()[0];
        if let BatchTargets::Classes(classes) = &batch.targets {
            let predicted = outputs.clone().argmax(1).flatten::<1>(0, 1);
            correct += predicted
                .equal(classes.clone())
                .int()
                .sum()
                .into_scalar::<i64>() as usize;
        }
        let loss = loss_fn.forward(outputs, batch.targets);
        loss_sum += loss.into_scalar::<f32>() as f64 * batch_predictions as f64;
        n_predictions += batch_predictions;
    }
    let (loss_sum, correct, n_predictions) = match group {
        Some(group) => {
            let mut sums = [loss_sum, correct as f64, n_predictions as f64];
            group.all_reduce_sum_f64("the validation metrics", &mut sums);
            (sums[0], sums[1].round() as usize, sums[2])
        }
        None => (loss_sum, correct, n_predictions as f64),
    };
    let mean_loss = loss_sum / n_predictions;
    values.insert("valid_loss".to_string(), mean_loss);
    match objective {
        Objective::Classification { .. } => {
            values.insert("valid_accuracy".to_string(), correct as f64 / n_predictions);
        }
        Objective::Regression => {
            values.insert("valid_rmse".to_string(), mean_loss.sqrt());
        }
    }
    Ok(values)
}

/// Moves the gradients of `module`'s parameters out of `grads` into a set of their own, so
/// that one optimizer can step them at another learning rate (its state is kept per
/// parameter, so two steps over disjoint sets are one step of two parameter groups).
pub fn take_gradients_of<M: Module>(module: &M, grads: &mut GradientsParams) -> GradientsParams {
    struct Take<'a> {
        from: &'a mut GradientsParams,
        into: GradientsParams,
    }
    impl ModuleVisitor for Take<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(grad) = self.from.remove::<D>(param.id) {
                self.into.register::<D>(param.id, grad);
            }
        }
    }
    let mut take = Take {
        from: grads,
        into: GradientsParams::new(),
    };
    module.visit(&mut take);
    take.into
}

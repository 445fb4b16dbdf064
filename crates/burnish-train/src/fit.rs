//! The training loop.

use std::collections::BTreeMap;

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Device;
use burnish_data::{BatchTargets, EpochOrder, TabularDataset};
use burnish_metrics::EpochRecord;
use burnish_models::Model;

use crate::clip::clip_global_norm;
use crate::config::invalid;
use crate::early_stopping::{EarlyStopping, Verdict};
use crate::objective::Loss;
use crate::plateau::ReduceOnPlateau;
use crate::{Callback, Error, History, Objective, TrainConfig};

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
}

/// The data a run trains on and validates with.
#[derive(Debug, Clone, Copy)]
pub struct FitData<'a> {
    /// The rows the optimizer learns from.
    pub train: &'a TabularDataset,
    /// The rows measured after every epoch (early stopping watches them).
    pub valid: &'a TabularDataset,
}

/// Trains `model` on `data.train`, measuring `data.valid` after every epoch.
///
/// `model` must have been built on an autodiff device (`device.clone().autodiff()`);
/// `device` is the plain device that evaluation runs on. The order of the training rows in
/// epoch `e` depends only on `seed` and `e`.
pub fn fit(
    model: Model,
    data: FitData<'_>,
    objective: Objective,
    config: &TrainConfig,
    seed: u64,
    device: &Device,
    callbacks: &mut [&mut dyn Callback],
) -> Result<Fitted, Error> {
    let FitData { train, valid } = data;
    config.validate()?;
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
    let mut early_stopping = config.early_stopping.clone().map(EarlyStopping::new);
    let mut plateau = config.reduce_on_plateau.clone().map(ReduceOnPlateau::new);
    if train.n_rows() == 0 {
        return Err(invalid("data.split.train", "the training split is empty"));
    }

    let autodiff_device = device.clone().autodiff();
    let loss_fn = Loss::new(&autodiff_device);
    let valid_loss_fn = Loss::new(device);
    let mut optimizer = config.optimizer.init();
    let steps_per_epoch = EpochOrder::sequential(train.n_rows())
        .batches(config.batch_size, config.drop_last)
        .count();
    let total_steps = steps_per_epoch * config.epochs;
    let mut model = model;
    let mut best_model: Option<(usize, Model)> = None;
    let mut history = History::default();
    let mut step = 0;
    let mut summary = format!("trained for all {} epochs", config.epochs);

    for callback in callbacks.iter_mut() {
        callback.on_train_begin(config.epochs);
    }
    for epoch in 1..=config.epochs {
        let order = EpochOrder::shuffled(train.n_rows(), seed, epoch);
        let mut loss_sum = 0.0;
        let mut rows_seen = 0;
        let mut lr = config.optimizer.lr();
        for (batch_idx, rows) in order
            .batches(config.batch_size, config.drop_last)
            .enumerate()
        {
            lr = config
                .schedule
                .lr(config.optimizer.lr(), step, steps_per_epoch, total_steps);
            if let Some(plateau) = &plateau {
                lr = plateau.apply(lr);
            }
            let batch = train.batch(rows, &autodiff_device);
            let outputs = model.forward(batch.inputs);
            let loss = loss_fn.forward(outputs, batch.targets);
            let loss_value = loss.clone().into_scalar::<f32>();
            if !loss_value.is_finite() {
                return Err(Error::NonFiniteLoss {
                    epoch,
                    batch: batch_idx + 1,
                    value: loss_value,
                });
            }
            loss_sum += loss_value as f64 * rows.len() as f64;
            rows_seen += rows.len();
            let mut grads = GradientsParams::from_grads(loss.backward(), &model);
            if let Some(max_norm) = config.grad_clip_norm {
                clip_global_norm(&model, &mut grads, max_norm);
            }
            model = optimizer.step(lr, model, grads);
            step += 1;
        }

        let mut values = BTreeMap::new();
        values.insert("lr".to_string(), lr);
        values.insert("train_loss".to_string(), loss_sum / rows_seen.max(1) as f64);
        values.extend(evaluate(
            &model.valid(),
            valid,
            objective,
            &valid_loss_fn,
            config.batch_size,
            device,
        ));
        let record = EpochRecord { epoch, values };
        for callback in callbacks.iter_mut() {
            callback.on_epoch_end(&record);
        }
        if let Some(plateau) = &mut plateau {
            plateau.update(&record);
        }
        let verdict = early_stopping
            .as_mut()
            .map(|early_stopping| early_stopping.update(&record));
        history.push(record);
        match verdict {
            Some(Verdict::Improved) => best_model = Some((epoch, model.clone())),
            Some(Verdict::Stop) => {
                summary = format!("stopped early after epoch {epoch}");
                break;
            }
            Some(Verdict::Wait) | None => {}
        }
    }

    let last_epoch = history.records().len();
    let (weights_epoch, model) = match (&early_stopping, best_model) {
        (Some(early_stopping), Some((best_epoch, best))) if early_stopping.restore_best() => {
            let (_, best_value) = early_stopping.best().unwrap_or((best_epoch, f64::NAN));
            summary.push_str(&format!(
                "; restored the weights of epoch {best_epoch} ({} {best_value:.4})",
                config
                    .early_stopping
                    .as_ref()
                    .map_or("", |config| config.monitor.as_str())
            ));
            (best_epoch, best)
        }
        _ => (last_epoch, model),
    };
    for callback in callbacks.iter_mut() {
        callback.on_train_end(&summary);
    }
    Ok(Fitted {
        model,
        history,
        weights_epoch,
        summary,
    })
}

/// The validation metrics of one epoch: mean loss, and accuracy or RMSE.
fn evaluate(
    model: &Model,
    valid: &TabularDataset,
    objective: Objective,
    loss_fn: &Loss,
    batch_size: usize,
    device: &Device,
) -> BTreeMap<String, f64> {
    let mut values = BTreeMap::new();
    if valid.n_rows() == 0 {
        return values;
    }
    let mut loss_sum = 0.0;
    let mut correct = 0usize;
    for rows in EpochOrder::sequential(valid.n_rows()).batches(batch_size, false) {
        let batch = valid.batch(rows, device);
        let outputs = model.forward(batch.inputs);
        if let BatchTargets::Classes(classes) = &batch.targets {
            let predicted = outputs.clone().argmax(1).flatten::<1>(0, 1);
            correct += predicted
                .equal(classes.clone())
                .int()
                .sum()
                .into_scalar::<i64>() as usize;
        }
        let loss = loss_fn.forward(outputs, batch.targets);
        loss_sum += loss.into_scalar::<f32>() as f64 * rows.len() as f64;
    }
    let n_rows = valid.n_rows() as f64;
    let mean_loss = loss_sum / n_rows;
    values.insert("valid_loss".to_string(), mean_loss);
    match objective {
        Objective::Classification { .. } => {
            values.insert("valid_accuracy".to_string(), correct as f64 / n_rows);
        }
        Objective::Regression => {
            values.insert("valid_rmse".to_string(), mean_loss.sqrt());
        }
    }
    values
}

//! The learning-rate range test (Smith 2017; `lr_find` in fastai and Lightning): train a
//! throw-away copy of the model for a few dozen steps while the rate grows exponentially, and
//! suggest the rate where the loss falls fastest.

use burn::optim::GradientsParams;
use burn::tensor::Device;
use burnish_data::EpochOrder;
use burnish_models::Model;

use crate::config::invalid;
use crate::objective::Loss;
use crate::{Error, Examples, TrainConfig};

/// The sweep of a range test.
#[derive(Debug, Clone, PartialEq)]
pub struct LrFindConfig {
    /// The first rate tried.
    pub min_lr: f64,
    /// The last rate tried.
    pub max_lr: f64,
    /// The number of optimizer steps (one batch each).
    pub steps: usize,
    /// Stop once the smoothed loss exceeds this many times its minimum.
    pub divergence_factor: f64,
}

impl Default for LrFindConfig {
    /// Lightning's defaults: 1e-8 to 1, 100 steps, stop at 4 times the best loss.
    fn default() -> Self {
        Self {
            min_lr: 1e-8,
            max_lr: 1.0,
            steps: 100,
            divergence_factor: 4.0,
        }
    }
}

/// What a range test measured.
#[derive(Debug, Clone, PartialEq)]
pub struct LrFinding {
    /// The rate of each step.
    pub lrs: Vec<f64>,
    /// The smoothed training loss after each step (exponential moving average, bias-corrected,
    /// smoothing 0.98 as fastai).
    pub losses: Vec<f64>,
    /// The rate where the smoothed loss falls fastest, as Lightning suggests it; `None` when
    /// too few steps ran to tell.
    pub suggestion: Option<f64>,
}

/// Runs the range test on `model` (built on the autodiff device) with the optimizer of
/// `config`; the model is consumed, since its weights are meaningless afterwards.
pub fn lr_find(
    model: Model,
    train: &dyn Examples,
    config: &TrainConfig,
    sweep: &LrFindConfig,
    seed: u64,
    device: &Device,
) -> Result<LrFinding, Error> {
    if !(sweep.min_lr > 0.0 && sweep.max_lr > sweep.min_lr) {
        return Err(invalid(
            "lr_find",
            format!(
                "the rates must rise from a positive minimum, found {} to {}",
                sweep.min_lr, sweep.max_lr
            ),
        ));
    }
    if sweep.steps < 2 {
        return Err(invalid("lr_find.steps", "must be at least 2"));
    }
    if train.n_examples() == 0 {
        return Err(invalid("data.split.train", "the training split is empty"));
    }
    let autodiff_device = device.clone().autodiff();
    let loss_fn = Loss::new(&autodiff_device);
    let mut optimizer = config.optimizer.init();
    let mut model = model;
    let ratio = sweep.max_lr / sweep.min_lr;
    let mut finding = LrFinding {
        lrs: Vec::new(),
        losses: Vec::new(),
        suggestion: None,
    };
    let (beta, mut average, mut best) = (0.98f64, 0.0f64, f64::INFINITY);
    let mut epoch = 0;
    let mut step = 0;
    'sweep: loop {
        epoch += 1;
        let order = EpochOrder::shuffled(train.n_examples(), seed, epoch);
        for rows in order.batches(config.batch_size, config.drop_last) {
            if step == sweep.steps {
                break 'sweep;
            }
            let lr = sweep.min_lr * ratio.powf(step as f64 / (sweep.steps - 1) as f64);
            let batch = train.batch(rows, &autodiff_device)?;
            let loss = loss_fn.forward(model.forward(batch.inputs), batch.targets);
            let value = f64::from(loss.clone().into_scalar::<f32>());
            if !value.is_finite() {
                break 'sweep;
            }
            average = beta * average + (1.0 - beta) * value;
            let smoothed = average / (1.0 - beta.powi(step as i32 + 1));
            finding.lrs.push(lr);
            finding.losses.push(smoothed);
            best = best.min(smoothed);
            if smoothed > sweep.divergence_factor * best {
                break 'sweep;
            }
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(lr, model, grads);
            step += 1;
        }
    }
    finding.suggestion = steepest_descent(&finding.lrs, &finding.losses);
    Ok(finding)
}

/// Lightning's suggestion: skip the first 10 and the last point, take `numpy.gradient` of the
/// losses, and return the rate at its minimum.
fn steepest_descent(lrs: &[f64], losses: &[f64]) -> Option<f64> {
    let (skip_begin, skip_end) = (10, 1);
    if losses.len() < skip_begin + skip_end + 2 {
        return None;
    }
    let kept = &losses[skip_begin..losses.len() - skip_end];
    let gradient = |index: usize| -> f64 {
        let last = kept.len() - 1;
        match index {
            0 => kept[1] - kept[0],
            index if index == last => kept[last] - kept[last - 1],
            index => (kept[index + 1] - kept[index - 1]) / 2.0,
        }
    };
    let steepest = (0..kept.len())
        .min_by(|&a, &b| gradient(a).total_cmp(&gradient(b)))
        .expect("at least two points are kept");
    Some(lrs[skip_begin + steepest])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_suggestion_is_where_the_loss_falls_fastest() {
        let lrs: Vec<f64> = (0..20).map(|i| 10f64.powi(i - 10)).collect();
        // Flat, then a steep fall at index 14, then a rise.
        let mut losses = vec![2.0; 20];
        for (index, loss) in losses.iter_mut().enumerate().skip(13) {
            *loss = match index {
                13 => 1.9,
                14 => 1.2,
                15 => 0.9,
                16 => 0.85,
                _ => 1.5,
            };
        }
        assert_eq!(steepest_descent(&lrs, &losses), Some(lrs[14]));
        assert_eq!(steepest_descent(&lrs[..5], &losses[..5]), None);
    }
}

//! Learning-rate schedules, evaluated per optimizer step.

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::config::invalid;

/// How the learning rate moves from step to step, after an optional linear warm-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum ScheduleSpec {
    /// The optimizer's rate throughout.
    Constant {
        /// Epochs of linear warm-up from 0 to the base rate.
        #[serde(default)]
        warmup_epochs: usize,
    },
    /// Multiply the rate by `gamma` every `step_epochs` epochs.
    Step {
        /// Epochs between decays.
        step_epochs: usize,
        /// The decay factor.
        #[serde(default = "default_gamma")]
        gamma: f64,
        /// Epochs of linear warm-up.
        #[serde(default)]
        warmup_epochs: usize,
    },
    /// Multiply the rate by `gamma` every epoch.
    Exponential {
        /// The decay factor.
        gamma: f64,
        /// Epochs of linear warm-up.
        #[serde(default)]
        warmup_epochs: usize,
    },
    /// Cosine annealing from the base rate to `min_lr` over the epochs after warm-up.
    Cosine {
        /// The final rate.
        #[serde(default)]
        min_lr: f64,
        /// Epochs of linear warm-up.
        #[serde(default)]
        warmup_epochs: usize,
    },
    /// Linear warm-up over the first `warmup_ratio` of all steps, then linear decay to 0 at
    /// the last step, as transformers' `get_linear_schedule_with_warmup` (and
    /// `TrainingArguments(warmup_ratio=...)`): step `s` of `n`, with `w = ceil(warmup_ratio *
    /// n)` warm-up steps, learns at `lr * s / w` before `w` and `lr * (n - s) / (n - w)` from
    /// it (the first step at 0, as there).
    Linear {
        /// The share of all steps spent warming up, in [0, 1).
        #[serde(default)]
        warmup_ratio: f64,
    },
    /// Smith's one-cycle policy, as PyTorch's `OneCycleLR` (cosine annealing, two phases):
    /// the rate rises from `lr / div_factor` to the optimizer's `lr` over the first
    /// `pct_start` of all steps, then falls to `lr / div_factor / final_div_factor`. It has
    /// its own warm-up.
    #[serde(rename = "one_cycle")]
    OneCycle {
        /// The fraction of the steps spent rising.
        #[serde(default = "default_pct_start")]
        pct_start: f64,
        /// The peak rate divided by the starting rate.
        #[serde(default = "default_div_factor")]
        div_factor: f64,
        /// The starting rate divided by the final rate.
        #[serde(default = "default_final_div_factor")]
        final_div_factor: f64,
    },
}

fn default_gamma() -> f64 {
    0.1
}
fn default_pct_start() -> f64 {
    0.3
}
fn default_div_factor() -> f64 {
    25.0
}
fn default_final_div_factor() -> f64 {
    1e4
}

/// Cosine interpolation from `start` (at `pct` 0) to `end` (at `pct` 1).
fn cosine_between(start: f64, end: f64, pct: f64) -> f64 {
    end + (start - end) / 2.0 * ((std::f64::consts::PI * pct).cos() + 1.0)
}

impl Default for ScheduleSpec {
    fn default() -> Self {
        Self::Constant { warmup_epochs: 0 }
    }
}

impl ScheduleSpec {
    fn warmup_epochs(&self) -> usize {
        match *self {
            Self::Constant { warmup_epochs }
            | Self::Step { warmup_epochs, .. }
            | Self::Exponential { warmup_epochs, .. }
            | Self::Cosine { warmup_epochs, .. } => warmup_epochs,
            Self::OneCycle { .. } | Self::Linear { .. } => 0,
        }
    }

    /// Checks the schedule against the number of epochs.
    pub fn validate(&self, epochs: usize) -> Result<(), Error> {
        if self.warmup_epochs() >= epochs && self.warmup_epochs() > 0 {
            return Err(invalid(
                "train.schedule.warmup_epochs",
                format!(
                    "{} is not fewer than the {epochs} epochs",
                    self.warmup_epochs()
                ),
            ));
        }
        match *self {
            Self::Step { step_epochs: 0, .. } => {
                Err(invalid("train.schedule.step_epochs", "must be at least 1"))
            }
            Self::Step { gamma, .. } | Self::Exponential { gamma, .. }
                if !(gamma > 0.0 && gamma <= 1.0) =>
            {
                Err(invalid(
                    "train.schedule.gamma",
                    format!("{gamma} is not in (0, 1]"),
                ))
            }
            Self::Linear { warmup_ratio } if !(0.0..1.0).contains(&warmup_ratio) => Err(invalid(
                "train.schedule.warmup_ratio",
                format!("{warmup_ratio} is not in [0, 1)"),
            )),
            Self::OneCycle { pct_start, .. } if !(pct_start > 0.0 && pct_start < 1.0) => {
                Err(invalid(
                    "train.schedule.pct_start",
                    format!("{pct_start} is not in (0, 1)"),
                ))
            }
            Self::OneCycle {
                div_factor,
                final_div_factor,
                ..
            } if !(div_factor >= 1.0 && final_div_factor >= 1.0) => Err(invalid(
                "train.schedule.div_factor",
                "div_factor and final_div_factor must be at least 1",
            )),
            _ => Ok(()),
        }
    }

    /// The learning rate for the optimizer step `step` (0-based) of a run of `total_steps`
    /// steps with `steps_per_epoch` steps an epoch.
    pub fn lr(&self, base_lr: f64, step: usize, steps_per_epoch: usize, total_steps: usize) -> f64 {
        let steps_per_epoch = steps_per_epoch.max(1);
        let warmup_steps = self.warmup_epochs() * steps_per_epoch;
        if step < warmup_steps {
            return base_lr * (step + 1) as f64 / warmup_steps as f64;
        }
        let epoch = (step - warmup_steps) / steps_per_epoch;
        match *self {
            Self::Constant { .. } => base_lr,
            Self::Step {
                step_epochs, gamma, ..
            } => base_lr * gamma.powi((epoch / step_epochs) as i32),
            Self::Exponential { gamma, .. } => base_lr * gamma.powi(epoch as i32),
            Self::Cosine { min_lr, .. } => {
                let span = total_steps.saturating_sub(warmup_steps).max(1) as f64;
                let progress = (step - warmup_steps) as f64 / span;
                cosine_between(base_lr, min_lr, progress)
            }
            Self::Linear { warmup_ratio } => {
                let warmup = (warmup_ratio * total_steps as f64).ceil() as usize;
                if step < warmup {
                    return base_lr * step as f64 / warmup as f64;
                }
                let remaining = total_steps.saturating_sub(step) as f64;
                base_lr * remaining / total_steps.saturating_sub(warmup).max(1) as f64
            }
            Self::OneCycle {
                pct_start,
                div_factor,
                final_div_factor,
            } => {
                // PyTorch's phase boundaries, fractional steps included.
                let initial_lr = base_lr / div_factor;
                let final_lr = initial_lr / final_div_factor;
                let peak_step = pct_start * total_steps as f64 - 1.0;
                let last_step = total_steps as f64 - 1.0;
                let step = step as f64;
                if step <= peak_step {
                    // A one-step rise (peak_step 0) is at its peak already.
                    let pct = if peak_step > 0.0 {
                        step / peak_step
                    } else {
                        1.0
                    };
                    cosine_between(initial_lr, base_lr, pct)
                } else {
                    let pct = (step - peak_step) / (last_step - peak_step);
                    cosine_between(base_lr, final_lr, pct)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_schedule_matches_transformers_linear_schedule_with_warmup() {
        // transformers' get_linear_schedule_with_warmup(num_warmup_steps=2,
        // num_training_steps=20), as lr_lambda gives it for the steps 0..20.
        let schedule = ScheduleSpec::Linear { warmup_ratio: 0.1 };
        let lrs: Vec<f64> = (0..20).map(|step| schedule.lr(1.0, step, 7, 20)).collect();
        // ceil(0.1 * 20) = 2 warm-up steps.
        assert_eq!(&lrs[..3], &[0.0, 0.5, 1.0]);
        assert!((lrs[3] - 17.0 / 18.0).abs() < 1e-12);
        assert!((lrs[19] - 1.0 / 18.0).abs() < 1e-12);
        assert!(lrs.windows(2).skip(2).all(|pair| pair[1] < pair[0]));
        assert!(schedule.validate(1).is_ok());
        assert!(
            ScheduleSpec::Linear { warmup_ratio: 1.0 }
                .validate(1)
                .is_err()
        );
    }

    #[test]
    fn warmup_rises_linearly_then_cosine_falls_to_min() {
        let schedule = ScheduleSpec::Cosine {
            min_lr: 0.0,
            warmup_epochs: 1,
        };
        let lrs: Vec<f64> = (0..12).map(|step| schedule.lr(1.0, step, 2, 12)).collect();
        assert_eq!(lrs[0], 0.5);
        assert_eq!(lrs[1], 1.0);
        assert_eq!(lrs[2], 1.0);
        assert!(lrs.windows(2).skip(2).all(|pair| pair[1] <= pair[0]));
        assert!(lrs[11] < 0.03);
    }

    #[test]
    fn one_cycle_matches_pytorch() {
        // torch.optim.lr_scheduler.OneCycleLR(max_lr=0.1, total_steps=10), PyTorch 2.15.
        let expected = [
            0.004,
            0.052,
            0.1,
            0.09504846320134738,
            0.0811745653949763,
            0.06112620219362893,
            0.03887419780637107,
            0.0188258346050237,
            0.004951936798652629,
            4e-07,
        ];
        let schedule = ScheduleSpec::OneCycle {
            pct_start: 0.3,
            div_factor: 25.0,
            final_div_factor: 1e4,
        };
        for (step, expected) in expected.into_iter().enumerate() {
            let lr = schedule.lr(0.1, step, 5, 10);
            assert!(
                (lr - expected).abs() < 1e-15,
                "step {step}: {lr} vs {expected}"
            );
        }
    }

    #[test]
    fn step_decays_every_step_epochs() {
        let schedule = ScheduleSpec::Step {
            step_epochs: 2,
            gamma: 0.5,
            warmup_epochs: 0,
        };
        let per_epoch: Vec<f64> = (0..6).map(|epoch| schedule.lr(1.0, epoch, 1, 6)).collect();
        assert_eq!(per_epoch, vec![1.0, 1.0, 0.5, 0.5, 0.25, 0.25]);
    }
}

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
}

fn default_gamma() -> f64 {
    0.1
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
                min_lr + 0.5 * (base_lr - min_lr) * (1.0 + (std::f64::consts::PI * progress).cos())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

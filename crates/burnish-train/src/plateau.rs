//! Lowering the learning rate when a monitored metric stops improving, as Keras's
//! `ReduceLROnPlateau` and PyTorch's `ReduceLROnPlateau` do.

use burnish_metrics::EpochRecord;
use serde::{Deserialize, Serialize};

use crate::config::MonitorMode;
use crate::metric_watch::MetricWatch;

/// The `reduce_on_plateau` table of `[train]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReduceOnPlateauConfig {
    /// The history column to watch.
    #[serde(default = "default_monitor")]
    pub monitor: String,
    /// `min` or `max`; inferred from the metric's name when absent.
    #[serde(default)]
    pub mode: Option<MonitorMode>,
    /// The factor the rate is multiplied by on a plateau.
    #[serde(default = "default_factor")]
    pub factor: f64,
    /// Epochs without improvement before the rate is lowered.
    #[serde(default = "default_patience")]
    pub patience: usize,
    /// The smallest change that counts as an improvement.
    #[serde(default)]
    pub min_delta: f64,
    /// Epochs to wait after a reduction before counting again.
    #[serde(default)]
    pub cooldown: usize,
    /// The rate is never lowered below this.
    #[serde(default)]
    pub min_lr: f64,
}

fn default_monitor() -> String {
    "valid_loss".to_string()
}
fn default_factor() -> f64 {
    0.1
}
fn default_patience() -> usize {
    10
}

/// The state of reduce-on-plateau during a run: a multiplier on the scheduled rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReduceOnPlateau {
    config: ReduceOnPlateauConfig,
    watch: MetricWatch,
    epochs_without_improvement: usize,
    cooldown_left: usize,
    scale: f64,
}

impl ReduceOnPlateau {
    /// Starts watching `config.monitor` with the rate at its scheduled value.
    pub fn new(config: ReduceOnPlateauConfig) -> Self {
        let mode = config
            .mode
            .unwrap_or_else(|| MonitorMode::for_metric(&config.monitor));
        let watch = MetricWatch::new(&config.monitor, mode, config.min_delta);
        Self {
            config,
            watch,
            epochs_without_improvement: 0,
            cooldown_left: 0,
            scale: 1.0,
        }
    }

    /// The factor applied to the scheduled learning rate.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// The learning rate to use: the scheduled one times the plateau factor, at least `min_lr`.
    pub fn apply(&self, scheduled_lr: f64) -> f64 {
        (scheduled_lr * self.scale).max(self.config.min_lr.min(scheduled_lr))
    }

    /// Takes one epoch's record into account; returns true when it lowered the rate.
    pub fn update(&mut self, record: &EpochRecord) -> bool {
        let Some(improved) = self.watch.observe(record) else {
            return false;
        };
        if improved {
            self.epochs_without_improvement = 0;
        } else {
            self.epochs_without_improvement += 1;
        }
        if self.cooldown_left > 0 {
            self.cooldown_left -= 1;
            self.epochs_without_improvement = 0;
            return false;
        }
        if self.epochs_without_improvement < self.config.patience {
            return false;
        }
        self.scale *= self.config.factor;
        self.cooldown_left = self.config.cooldown;
        self.epochs_without_improvement = 0;
        true
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn record(epoch: usize, loss: f64) -> EpochRecord {
        EpochRecord {
            epoch,
            values: BTreeMap::from([("valid_loss".to_string(), loss)]),
        }
    }

    fn plateau(patience: usize, cooldown: usize) -> ReduceOnPlateau {
        ReduceOnPlateau::new(ReduceOnPlateauConfig {
            monitor: "valid_loss".into(),
            mode: None,
            factor: 0.5,
            patience,
            min_delta: 0.0,
            cooldown,
            min_lr: 1e-4,
        })
    }

    #[test]
    fn lowers_the_rate_after_patience_flat_epochs() {
        let mut plateau = plateau(2, 0);
        assert!(!plateau.update(&record(1, 1.0)));
        assert!(!plateau.update(&record(2, 0.9)));
        assert!(
            !plateau.update(&record(3, 0.95)),
            "one flat epoch is within patience"
        );
        assert!(
            plateau.update(&record(4, 0.91)),
            "the second flat epoch lowers the rate"
        );
        assert_eq!(plateau.apply(1e-2), 5e-3);
        assert!(!plateau.update(&record(5, 0.92)));
        assert!(plateau.update(&record(6, 0.93)));
        assert_eq!(plateau.apply(1e-2), 2.5e-3);
    }

    #[test]
    fn cooldown_delays_the_next_count_and_min_lr_is_a_floor() {
        let mut plateau = plateau(1, 2);
        plateau.update(&record(1, 1.0));
        assert!(plateau.update(&record(2, 1.0)));
        assert!(!plateau.update(&record(3, 1.0)), "cooling down");
        assert!(!plateau.update(&record(4, 1.0)), "cooling down");
        assert!(plateau.update(&record(5, 1.0)));
        for epoch in 6..40 {
            plateau.update(&record(epoch, 1.0));
        }
        assert_eq!(plateau.apply(1e-2), 1e-4);
    }
}

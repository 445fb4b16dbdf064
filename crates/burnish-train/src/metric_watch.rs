//! Watching one history column for improvement: the rule early stopping and reduce-on-plateau
//! share.

use burnish_metrics::EpochRecord;
use serde::{Deserialize, Serialize};

use crate::config::MonitorMode;

/// The best value of a monitored metric so far, and whether a new epoch improved on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricWatch {
    monitor: String,
    mode: MonitorMode,
    min_delta: f64,
    best: Option<(usize, f64)>,
}

impl MetricWatch {
    /// Watches `monitor`, improving in the direction of `mode` by more than `min_delta`.
    pub fn new(monitor: &str, mode: MonitorMode, min_delta: f64) -> Self {
        Self {
            monitor: monitor.to_string(),
            mode,
            min_delta,
            best: None,
        }
    }

    /// Starts from `value` as the best so far (epoch 0), so that only epochs better than it
    /// count as improvements: Keras's `baseline`.
    pub fn with_baseline(mut self, value: f64) -> Self {
        self.best = Some((0, value));
        self
    }

    /// The name of the watched column.
    pub fn monitor(&self) -> &str {
        &self.monitor
    }

    /// The best epoch so far and its value (epoch 0 for a baseline no epoch has beaten).
    pub fn best(&self) -> Option<(usize, f64)> {
        self.best
    }

    /// Takes one epoch into account: `None` when the record lacks the metric, otherwise
    /// whether the epoch improved on the best so far (a NaN never does).
    pub fn observe(&mut self, record: &EpochRecord) -> Option<bool> {
        let &value = record.values.get(&self.monitor)?;
        let improved = match self.best {
            None => !value.is_nan(),
            Some((_, best)) => match self.mode {
                MonitorMode::Min => value < best - self.min_delta,
                MonitorMode::Max => value > best + self.min_delta,
            },
        };
        if improved {
            self.best = Some((record.epoch, value));
        }
        Some(improved)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn record(epoch: usize, name: &str, value: f64) -> EpochRecord {
        EpochRecord {
            epoch,
            values: BTreeMap::from([(name.to_string(), value)]),
        }
    }

    #[test]
    fn improvement_needs_more_than_min_delta_in_the_right_direction() {
        let mut watch = MetricWatch::new("valid_accuracy", MonitorMode::Max, 0.01);
        assert_eq!(watch.observe(&record(1, "valid_accuracy", 0.5)), Some(true));
        assert_eq!(
            watch.observe(&record(2, "valid_accuracy", 0.505)),
            Some(false)
        );
        assert_eq!(
            watch.observe(&record(3, "valid_accuracy", 0.4)),
            Some(false)
        );
        assert_eq!(
            watch.observe(&record(4, "valid_accuracy", 0.52)),
            Some(true)
        );
        assert_eq!(watch.best(), Some((4, 0.52)));
        assert_eq!(watch.observe(&record(5, "valid_loss", 0.1)), None);
    }

    #[test]
    fn nan_never_improves_and_a_baseline_must_be_beaten() {
        let mut watch = MetricWatch::new("valid_loss", MonitorMode::Min, 0.0);
        assert_eq!(
            watch.observe(&record(1, "valid_loss", f64::NAN)),
            Some(false)
        );
        let mut watch = watch.with_baseline(0.3);
        assert_eq!(watch.observe(&record(2, "valid_loss", 0.4)), Some(false));
        assert_eq!(watch.best(), Some((0, 0.3)));
        assert_eq!(watch.observe(&record(3, "valid_loss", 0.2)), Some(true));
    }
}

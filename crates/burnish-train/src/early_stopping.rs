//! Stopping when a monitored metric has not improved for `patience` epochs.

use burnish_metrics::EpochRecord;
use serde::{Deserialize, Serialize};

use crate::config::EarlyStoppingConfig;
use crate::metric_watch::MetricWatch;

/// The state of early stopping during a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    config: EarlyStoppingConfig,
    watch: MetricWatch,
    epochs_without_improvement: usize,
}

/// What early stopping decided after an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// This epoch is the best so far.
    Improved,
    /// No improvement, but patience is not used up.
    Wait,
    /// Patience is used up: stop training.
    Stop,
}

impl EarlyStopping {
    /// Starts watching `config.monitor`.
    pub fn new(config: EarlyStoppingConfig) -> Self {
        let watch = MetricWatch::new(&config.monitor, config.mode(), config.min_delta);
        let watch = match config.baseline {
            Some(baseline) => watch.with_baseline(baseline),
            None => watch,
        };
        Self {
            config,
            watch,
            epochs_without_improvement: 0,
        }
    }

    /// The best epoch so far and its value; epoch 0 when no epoch has beaten the baseline.
    pub fn best(&self) -> Option<(usize, f64)> {
        self.watch.best()
    }

    /// Whether the best epoch's weights are to be restored at the end.
    pub fn restore_best(&self) -> bool {
        self.config.restore_best
    }

    /// Takes one epoch's record into account.
    ///
    /// Epochs before `start_from_epoch` are not watched at all (Keras's warm-up); a NaN value
    /// never counts as an improvement.
    pub fn update(&mut self, record: &EpochRecord) -> Verdict {
        if record.epoch <= self.config.start_from_epoch {
            return Verdict::Wait;
        }
        match self.watch.observe(record) {
            None => Verdict::Wait,
            Some(true) => {
                self.epochs_without_improvement = 0;
                Verdict::Improved
            }
            Some(false) => {
                self.epochs_without_improvement += 1;
                if self.epochs_without_improvement >= self.config.patience {
                    Verdict::Stop
                } else {
                    Verdict::Wait
                }
            }
        }
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

    #[test]
    fn stops_after_patience_flat_epochs_and_remembers_the_best() {
        let mut early_stopping = EarlyStopping::new(EarlyStoppingConfig {
            monitor: "valid_loss".into(),
            mode: None,
            patience: 2,
            min_delta: 0.01,
            restore_best: true,
            baseline: None,
            start_from_epoch: 0,
        });
        assert_eq!(early_stopping.update(&record(1, 1.0)), Verdict::Improved);
        assert_eq!(early_stopping.update(&record(2, 0.5)), Verdict::Improved);
        assert_eq!(early_stopping.update(&record(3, 0.495)), Verdict::Wait);
        assert_eq!(early_stopping.update(&record(4, 0.6)), Verdict::Stop);
        assert_eq!(early_stopping.best(), Some((2, 0.5)));
    }
}

#[cfg(test)]
mod keras_options {
    use std::collections::BTreeMap;

    use super::*;

    fn config(baseline: Option<f64>, start_from_epoch: usize) -> EarlyStoppingConfig {
        EarlyStoppingConfig {
            monitor: "valid_loss".into(),
            mode: None,
            patience: 2,
            min_delta: 0.0,
            restore_best: true,
            baseline,
            start_from_epoch,
        }
    }

    fn record(epoch: usize, loss: f64) -> EpochRecord {
        EpochRecord {
            epoch,
            values: BTreeMap::from([("valid_loss".to_string(), loss)]),
        }
    }

    #[test]
    fn a_baseline_never_beaten_stops_after_patience() {
        let mut early_stopping = EarlyStopping::new(config(Some(0.5), 0));
        assert_eq!(early_stopping.update(&record(1, 0.7)), Verdict::Wait);
        assert_eq!(early_stopping.update(&record(2, 0.6)), Verdict::Stop);
        assert_eq!(early_stopping.best(), Some((0, 0.5)));
    }

    #[test]
    fn epochs_before_start_from_epoch_are_not_watched() {
        let mut early_stopping = EarlyStopping::new(config(None, 3));
        for epoch in 1..=3 {
            assert_eq!(early_stopping.update(&record(epoch, 9.0)), Verdict::Wait);
        }
        assert_eq!(early_stopping.best(), None);
        assert_eq!(early_stopping.update(&record(4, 1.0)), Verdict::Improved);
    }
}

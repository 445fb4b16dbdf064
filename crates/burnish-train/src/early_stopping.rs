//! Stopping when a monitored metric has not improved for `patience` epochs.

use burnish_metrics::EpochRecord;

use crate::config::{EarlyStoppingConfig, MonitorMode};

/// The state of early stopping during a run.
#[derive(Debug, Clone)]
pub struct EarlyStopping {
    config: EarlyStoppingConfig,
    mode: MonitorMode,
    best: Option<(usize, f64)>,
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
        let mode = config.mode();
        Self {
            config,
            mode,
            best: None,
            epochs_without_improvement: 0,
        }
    }

    /// The best epoch so far and its value.
    pub fn best(&self) -> Option<(usize, f64)> {
        self.best
    }

    /// Whether the best epoch's weights are to be restored at the end.
    pub fn restore_best(&self) -> bool {
        self.config.restore_best
    }

    /// Takes one epoch's record into account.
    ///
    /// A NaN value never counts as an improvement.
    pub fn update(&mut self, record: &EpochRecord) -> Verdict {
        let Some(&value) = record.values.get(&self.config.monitor) else {
            return Verdict::Wait;
        };
        let improved = match self.best {
            None => !value.is_nan(),
            Some((_, best)) => match self.mode {
                MonitorMode::Min => value < best - self.config.min_delta,
                MonitorMode::Max => value > best + self.config.min_delta,
            },
        };
        if improved {
            self.best = Some((record.epoch, value));
            self.epochs_without_improvement = 0;
            return Verdict::Improved;
        }
        self.epochs_without_improvement += 1;
        if self.epochs_without_improvement >= self.config.patience {
            Verdict::Stop
        } else {
            Verdict::Wait
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
        });
        assert_eq!(early_stopping.update(&record(1, 1.0)), Verdict::Improved);
        assert_eq!(early_stopping.update(&record(2, 0.5)), Verdict::Improved);
        assert_eq!(early_stopping.update(&record(3, 0.495)), Verdict::Wait);
        assert_eq!(early_stopping.update(&record(4, 0.6)), Verdict::Stop);
        assert_eq!(early_stopping.best(), Some((2, 0.5)));
    }
}

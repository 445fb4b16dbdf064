//! The in-memory training history that the training curves are drawn from.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The metrics of one epoch, by column name (`train_loss`, `valid_loss`, `valid_accuracy`,
/// ...). A column may be missing from some epochs, for example when validation runs every
/// few epochs.
///
/// ```
/// use burnish_metrics::EpochRecord;
///
/// let mut record = EpochRecord::new(1);
/// record.values.insert("train_loss".to_owned(), 0.93);
/// assert_eq!(record.values["train_loss"], 0.93);
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch number, as shown on the x axis of the curves.
    pub epoch: usize,
    /// Value of each metric in this epoch, by column name.
    pub values: BTreeMap<String, f64>,
}

impl EpochRecord {
    /// A record of `epoch` with no values yet.
    pub fn new(epoch: usize) -> Self {
        Self {
            epoch,
            values: BTreeMap::new(),
        }
    }
}

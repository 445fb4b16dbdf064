//! What each epoch measured, in memory and as `history.csv`.

use std::io::Write;
use std::path::Path;

use burnish_metrics::EpochRecord;

use crate::Error;

/// The per-epoch record of a run, in epoch order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    records: Vec<EpochRecord>,
}

impl History {
    /// Appends one epoch's record.
    pub fn push(&mut self, record: EpochRecord) {
        self.records.push(record);
    }

    /// The records, first epoch first.
    pub fn records(&self) -> &[EpochRecord] {
        &self.records
    }

    /// The values of one column, epoch by epoch (`None` where an epoch lacks it).
    pub fn column(&self, name: &str) -> Vec<Option<f64>> {
        self.records
            .iter()
            .map(|record| record.values.get(name).copied())
            .collect()
    }

    /// The history as CSV: an `epoch` column, then every metric in name order.
    pub fn to_csv(&self) -> String {
        let mut names: Vec<&str> = self
            .records
            .iter()
            .flat_map(|record| record.values.keys().map(String::as_str))
            .collect();
        names.sort_unstable();
        names.dedup();
        let mut csv = String::from("epoch");
        for name in &names {
            csv.push(',');
            csv.push_str(name);
        }
        csv.push('\n');
        for record in &self.records {
            csv.push_str(&record.epoch.to_string());
            for name in &names {
                csv.push(',');
                if let Some(value) = record.values.get(*name) {
                    csv.push_str(&value.to_string());
                }
            }
            csv.push('\n');
        }
        csv
    }

    /// Writes [`Self::to_csv`] to `path`.
    pub fn write_csv(&self, path: &Path) -> Result<(), Error> {
        std::fs::File::create(path)
            .and_then(|mut file| file.write_all(self.to_csv().as_bytes()))
            .map_err(|source| Error::Write {
                path: path.to_path_buf(),
                source,
            })
    }
}

//! Hooks into the training loop, and the built-in one that prints a line per epoch.

use std::io::Write;
use std::time::Instant;

use burnish_metrics::EpochRecord;

/// Where training stands after a batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchProgress {
    /// The 1-based epoch.
    pub epoch: usize,
    /// The 1-based batch within the epoch.
    pub batch: usize,
    /// The number of batches in each epoch.
    pub batches_per_epoch: usize,
    /// The examples in this batch.
    pub examples: usize,
    /// This batch's training loss.
    pub loss: f64,
    /// The mean training loss of the epoch so far.
    pub epoch_loss: f64,
}

/// Called by [`fit`](crate::fit) as training proceeds. Every method has an empty default.
pub trait Callback {
    /// Before the first epoch (or the first epoch after a resumed checkpoint).
    fn on_train_begin(&mut self, _epochs: usize) {}
    /// Before each epoch.
    fn on_epoch_begin(&mut self, _epoch: usize) {}
    /// Before each training batch.
    fn on_batch_begin(&mut self, _epoch: usize, _batch: usize) {}
    /// After each training batch, with its loss.
    fn on_batch_end(&mut self, _progress: &BatchProgress) {}
    /// After each epoch, with what it measured.
    fn on_epoch_end(&mut self, _record: &EpochRecord) {}
    /// After training, with the reason it stopped.
    fn on_train_end(&mut self, _summary: &str) {}
}

/// Prints one plain line per epoch: its number, every metric, and its wall time.
pub struct EpochLogger<W: Write> {
    out: W,
    epochs: usize,
    epoch_start: Instant,
}

impl<W: Write> EpochLogger<W> {
    /// Logs to `out` (standard output in the binary).
    pub fn new(out: W) -> Self {
        Self {
            out,
            epochs: 0,
            epoch_start: Instant::now(),
        }
    }
}

impl<W: Write> Callback for EpochLogger<W> {
    fn on_train_begin(&mut self, epochs: usize) {
        self.epochs = epochs;
        self.epoch_start = Instant::now();
    }

    fn on_epoch_end(&mut self, record: &EpochRecord) {
        let line = epoch_line(
            record,
            self.epochs,
            self.epoch_start.elapsed().as_secs_f64(),
        );
        // A closed pipe must not stop training: the run folder still gets written.
        let _ = writeln!(self.out, "{line}");
        self.epoch_start = Instant::now();
    }

    fn on_train_end(&mut self, summary: &str) {
        let _ = writeln!(self.out, "{summary}");
    }
}

/// One epoch as a line of text: its number out of `epochs`, every metric, and its wall time.
pub fn epoch_line(record: &EpochRecord, epochs: usize, seconds: f64) -> String {
    let width = epochs.to_string().len();
    let mut line = format!("epoch {:>width$}/{}", record.epoch, epochs);
    for (name, value) in &record.values {
        if name == "lr" {
            line.push_str(&format!("  {name} {value:.2e}"));
        } else {
            line.push_str(&format!("  {name} {value:.4}"));
        }
    }
    line.push_str(&format!("  {seconds:.2}s"));
    line
}

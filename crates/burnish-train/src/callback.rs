//! Hooks into the training loop, and the built-in one that prints a line per epoch.

use std::io::Write;
use std::time::Instant;

use burnish_metrics::EpochRecord;

/// Called by [`fit`](crate::fit) as training proceeds. Every method has an empty default.
pub trait Callback {
    /// Before the first epoch.
    fn on_train_begin(&mut self, _epochs: usize) {}
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
        let width = self.epochs.to_string().len();
        let mut line = format!("epoch {:>width$}/{}", record.epoch, self.epochs);
        for (name, value) in &record.values {
            if name == "lr" {
                line.push_str(&format!("  {name} {value:.2e}"));
            } else {
                line.push_str(&format!("  {name} {value:.4}"));
            }
        }
        line.push_str(&format!(
            "  {:.2}s",
            self.epoch_start.elapsed().as_secs_f64()
        ));
        // A closed pipe must not stop training: the run folder still gets written.
        let _ = writeln!(self.out, "{line}");
        self.epoch_start = Instant::now();
    }

    fn on_train_end(&mut self, summary: &str) {
        let _ = writeln!(self.out, "{summary}");
    }
}

//! Progress on a terminal: a bar per epoch with the running loss, samples per second and time
//! left, replaced by the epoch's one-line summary when the epoch ends. When standard output is
//! not a terminal, [`burnish_train::EpochLogger`] prints the plain lines instead, with no
//! control characters.

use std::time::Instant;

use burnish_metrics::EpochRecord;
use burnish_train::{BatchProgress, Callback, epoch_line};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar per epoch, drawn on standard error's terminal.
pub struct EpochProgressBars {
    epochs: usize,
    bar: Option<ProgressBar>,
    epoch_start: Instant,
    examples_seen: usize,
}

impl EpochProgressBars {
    /// Bars for a run; the number of epochs comes with `on_train_begin`.
    pub fn new() -> Self {
        Self {
            epochs: 0,
            bar: None,
            epoch_start: Instant::now(),
            examples_seen: 0,
        }
    }
}

impl Default for EpochProgressBars {
    fn default() -> Self {
        Self::new()
    }
}

impl Callback for EpochProgressBars {
    fn on_train_begin(&mut self, epochs: usize) {
        self.epochs = epochs;
    }

    fn on_epoch_begin(&mut self, epoch: usize) {
        let style = ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} batches  {msg}  eta {eta}",
        )
        .expect("the template is valid")
        .progress_chars("=> ");
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stdout())
            .with_style(style)
            .with_prefix(format!("epoch {epoch}/{}", self.epochs));
        self.bar = Some(bar);
        self.epoch_start = Instant::now();
        self.examples_seen = 0;
    }

    fn on_batch_end(&mut self, progress: &BatchProgress) {
        let Some(bar) = &self.bar else {
            return;
        };
        self.examples_seen += progress.examples;
        let rate = self.examples_seen as f64 / self.epoch_start.elapsed().as_secs_f64().max(1e-9);
        bar.set_length(progress.batches_per_epoch as u64);
        bar.set_position(progress.batch as u64);
        bar.set_message(format!(
            "loss {:.4}  {rate:.0} samples/s",
            progress.epoch_loss
        ));
    }

    fn on_epoch_end(&mut self, record: &EpochRecord) {
        let seconds = self.epoch_start.elapsed().as_secs_f64();
        let line = epoch_line(record, self.epochs, seconds);
        match self.bar.take() {
            Some(bar) => {
                bar.finish_and_clear();
                println!("{line}");
            }
            None => println!("{line}"),
        }
    }

    fn on_train_end(&mut self, summary: &str) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        println!("{summary}");
    }
}

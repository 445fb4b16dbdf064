//! `burnish prepare-text`: tokenizes a text corpus once into `train.bin`, `valid.bin` and
//! `meta.json` ([`burnish_data::token_file`]), reading it as a stream, so that a corpus larger
//! than memory can be prepared. Training from these files is not wired in yet: `[data] path`
//! still names the text file.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use burnish_data::token_file::{TRAIN_FILE, VALID_FILE};
use burnish_data::{PreparePass, PrepareTextConfig, TokenFileMeta, Tokenizer, prepare_text};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// What `burnish prepare-text` was asked to do.
#[derive(Debug, Clone)]
pub struct PrepareTextOptions {
    /// The text file.
    pub corpus: PathBuf,
    /// The folder to write.
    pub out: PathBuf,
    /// Cut and split settings.
    pub config: PrepareTextConfig,
    /// A progress bar per pass (on a terminal) rather than a line at the end of each.
    pub bars: bool,
}

/// Parses `--tokenizer`: `char` or `word`.
pub fn parse_tokenizer(name: &str, lowercase: bool) -> anyhow::Result<Tokenizer> {
    match name {
        "char" => Ok(Tokenizer::Char { lowercase }),
        "word" => Ok(Tokenizer::Word { lowercase }),
        other => anyhow::bail!("--tokenizer {other:?}: expected \"char\" or \"word\""),
    }
}

/// Prepares the token files and writes what it did to `out`.
pub fn prepare_text_files(
    options: &PrepareTextOptions,
    out: &mut dyn Write,
) -> anyhow::Result<TokenFileMeta> {
    let total = std::fs::metadata(&options.corpus)
        .map(|metadata| metadata.len())
        .unwrap_or(0);
    let mut shown = Shown {
        bars: options.bars,
        total,
        current: None,
    };
    let meta = prepare_text(
        &options.corpus,
        &options.out,
        &options.config,
        &mut |pass, read| {
            // A line as each pass ends; a closed output shows at the last line below.
            if let Some(line) = shown.update(pass, read) {
                let _ = writeln!(out, "{line}");
            }
        },
    )
    .with_context(|| format!("cannot prepare {}", options.corpus.display()))?;
    if let Some(line) = shown.finish() {
        writeln!(out, "{line}")?;
    }
    writeln!(
        out,
        "{}: {} tokens to train ({}), {} held out ({}), vocabulary {}, {} bytes an id; {}",
        options.corpus.display(),
        meta.train_tokens,
        options.out.join(TRAIN_FILE).display(),
        meta.valid_tokens,
        options.out.join(VALID_FILE).display(),
        meta.vocabulary.len(),
        meta.id_bytes,
        options
            .out
            .join(burnish_data::token_file::META_FILE)
            .display(),
    )?;
    Ok(meta)
}

/// The pass under way, drawn as a bar or summed up in a line when it ends.
struct Shown {
    bars: bool,
    total: u64,
    current: Option<(PreparePass, Instant, Option<ProgressBar>, u64)>,
}

impl Shown {
    /// Shows the progress of `pass`; returns the line of the pass that ended, if one did.
    fn update(&mut self, pass: PreparePass, read: u64) -> Option<String> {
        let mut ended = None;
        if self.current.as_ref().map(|(current, ..)| *current) != Some(pass) {
            ended = self.finish();
            let bar = self.bars.then(|| {
                let style = ProgressStyle::with_template(
                    "{prefix:>10} [{bar:30}] {bytes}/{total_bytes}  {bytes_per_sec}  eta {eta}",
                )
                .expect("the template is valid")
                .progress_chars("=> ");
                ProgressBar::with_draw_target(Some(self.total), ProgressDrawTarget::stdout())
                    .with_style(style)
                    .with_prefix(pass.name())
            });
            self.current = Some((pass, Instant::now(), bar, 0));
        }
        if let Some((_, _, bar, last)) = &mut self.current {
            *last = read;
            if let Some(bar) = bar {
                bar.set_position(read);
            }
        }
        ended
    }

    /// Ends the pass under way; returns its line.
    fn finish(&mut self) -> Option<String> {
        let (pass, start, bar, read) = self.current.take()?;
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        let seconds = start.elapsed().as_secs_f64();
        Some(format!(
            "{:>10}: {read} bytes in {seconds:.2} s ({:.0} MB/s)",
            pass.name(),
            read as f64 / seconds.max(1e-9) / 1e6
        ))
    }
}

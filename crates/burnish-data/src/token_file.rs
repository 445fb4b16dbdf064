//! Token files: a text corpus tokenized once into flat files of little-endian token ids, as
//! nanoGPT's `prepare.py` does, so that a language model can later read windows of them by
//! position instead of holding the corpus in memory.
//!
//! [`prepare_text`] reads the corpus as a stream, in pieces of about `chunk_bytes`, three
//! times: to count its characters (and hash it), to count the tokens of the training part
//! (the text before the held-out tail), and to write the ids. It writes, in the output folder:
//!
//! - `train.bin` and `valid.bin`: the ids of the training part and of the held-out tail, each
//!   2 bytes (`u16`) when the vocabulary has at most 65,536 entries, 4 (`u32`) otherwise;
//! - `meta.json` ([`TokenFileMeta`]), written last: the tokenizer, the vocabulary, the id
//!   width, the token counts, and the corpus's size and SHA-256.
//!
//! The ids, the vocabulary and the place of the cut are exactly those of the in-memory path
//! (the text cut at the character where the last `valid` share begins, the vocabulary fitted on
//! the part before it, both parts encoded with it), because a piece always ends just after a
//! white-space character or at the cut, so no token spans two pieces. The one exception: a run
//! of more than 16 `chunk_bytes` (64 MiB by default) without white space is cut where it is
//! that long, which can split a word (never a character).
//!
//! Memory: one piece and the vocabulary's counts.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::text::{TokenCounts, Tokenizer, Vocabulary, VocabularyConfig};
use crate::{Error, json_file};

/// The training part's ids.
pub const TRAIN_FILE: &str = "train.bin";
/// The held-out tail's ids.
pub const VALID_FILE: &str = "valid.bin";
/// What the id files hold: [`TokenFileMeta`].
pub const META_FILE: &str = "meta.json";

/// The version of `meta.json`'s layout.
const META_FORMAT_VERSION: u32 = 1;

/// The default size of the pieces a corpus is read in.
pub const DEFAULT_CHUNK_BYTES: usize = 4 << 20;

/// A piece with no white space is cut where it is full once it holds this many chunks.
const FORCED_CUT: usize = 16;

/// How [`prepare_text`] cuts and splits a corpus.
#[derive(Clone, Debug, PartialEq)]
pub struct PrepareTextConfig {
    /// How the text is cut into tokens.
    pub tokenizer: Tokenizer,
    /// The share of the characters at the end held out, strictly between 0 and 1.
    pub valid: f64,
    /// About how many bytes are read at a time ([`DEFAULT_CHUNK_BYTES`]).
    pub chunk_bytes: usize,
}

impl Default for PrepareTextConfig {
    /// Characters, case kept, the last 10% held out, as the tiny_shakespeare experiment.
    fn default() -> Self {
        Self {
            tokenizer: Tokenizer::Char { lowercase: false },
            valid: 0.1,
            chunk_bytes: DEFAULT_CHUNK_BYTES,
        }
    }
}

/// The corpus a folder of token files was made from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorpusFacts {
    /// The corpus file, as it was given.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its number of characters (Unicode scalar values).
    pub chars: u64,
    /// The SHA-256 of its bytes, in lowercase hex.
    pub sha256: String,
}

/// `meta.json`: everything needed to read `train.bin` and `valid.bin` and to turn ids back
/// into text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenFileMeta {
    format_version: u32,
    /// How the corpus was cut into tokens.
    pub tokenizer: Tokenizer,
    /// The ids, fitted on the training part (`<pad>` 0 and `<unk>` 1 first).
    pub vocabulary: Vocabulary,
    /// Bytes per id in the `.bin` files: 2 or 4, little-endian.
    pub id_bytes: u8,
    /// The share of the characters held out.
    pub valid_share: f64,
    /// The number of ids in `train.bin`.
    pub train_tokens: u64,
    /// The number of ids in `valid.bin`.
    pub valid_tokens: u64,
    /// The corpus.
    pub corpus: CorpusFacts,
}

impl TokenFileMeta {
    /// Reads `DIR/meta.json`.
    pub fn load(dir: &Path) -> Result<Self, Error> {
        let path = dir.join(META_FILE);
        let meta: TokenFileMeta = json_file::load(&path)?;
        if meta.format_version != META_FORMAT_VERSION {
            return Err(Error::FormatVersion {
                path,
                found: meta.format_version,
                expected: META_FORMAT_VERSION,
            });
        }
        Ok(meta)
    }
}

/// Which pass [`prepare_text`] is in, for a progress display.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreparePass {
    /// Counting characters and hashing.
    Scan,
    /// Counting the training part's tokens.
    Vocabulary,
    /// Writing the ids.
    Encode,
}

impl PreparePass {
    /// A short name: `scan`, `vocabulary` or `encode`.
    pub fn name(self) -> &'static str {
        match self {
            PreparePass::Scan => "scan",
            PreparePass::Vocabulary => "vocabulary",
            PreparePass::Encode => "encode",
        }
    }
}

/// Tokenizes the text file `corpus` into `out_dir` (created if missing) as the module
/// documentation describes. `progress` is called after each piece with the pass and the
/// bytes of the corpus read so far in it.
///
/// Fails, naming the file, when the corpus is missing, unreadable, not UTF-8 (with the byte
/// offset), or has too few characters to leave both parts a token, or when the config is
/// invalid.
pub fn prepare_text(
    corpus: &Path,
    out_dir: &Path,
    config: &PrepareTextConfig,
    progress: &mut dyn FnMut(PreparePass, u64),
) -> Result<TokenFileMeta, Error> {
    if !(config.valid > 0.0 && config.valid < 1.0) {
        return Err(Error::InvalidParameter {
            field: "held-out share",
            reason: format!("must be between 0 and 1, found {}", config.valid),
        });
    }
    let chunk_bytes = config.chunk_bytes.max(16);

    let mut hasher = Sha256::new();
    let Extent { bytes, chars } = read_pieces(
        corpus,
        chunk_bytes,
        None,
        &mut |bytes| hasher.update(bytes),
        &mut |_, _, read| {
            progress(PreparePass::Scan, read);
            Ok(true)
        },
    )?;
    let sha256 = format!("{:x}", hasher.finalize());
    let train_chars = ((1.0 - config.valid) * chars as f64).round() as u64;
    if train_chars == 0 || train_chars == chars {
        return Err(Error::InvalidParameter {
            field: "held-out share",
            reason: format!(
                "{}: {chars} characters leave no {} part at {}",
                corpus.display(),
                if train_chars == 0 {
                    "training"
                } else {
                    "held-out"
                },
                config.valid
            ),
        });
    }

    let mut counts = TokenCounts::default();
    read_pieces(
        corpus,
        chunk_bytes,
        Some(train_chars),
        &mut |_| {},
        &mut |piece, part, read| {
            progress(PreparePass::Vocabulary, read);
            if part == Part::Train {
                counts.add(piece, &config.tokenizer);
            }
            Ok(part == Part::Train)
        },
    )?;
    let vocabulary = counts.into_vocabulary(&VocabularyConfig::default())?;

    std::fs::create_dir_all(out_dir).map_err(|source| Error::Io {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let id_bytes: u8 = if vocabulary.len() <= 1 << 16 { 2 } else { 4 };
    let mut train = IdWriter::create(&out_dir.join(TRAIN_FILE), id_bytes)?;
    let mut valid = IdWriter::create(&out_dir.join(VALID_FILE), id_bytes)?;
    read_pieces(
        corpus,
        chunk_bytes,
        Some(train_chars),
        &mut |_| {},
        &mut |piece, part, read| {
            progress(PreparePass::Encode, read);
            let writer = match part {
                Part::Train => &mut train,
                Part::Valid => &mut valid,
            };
            let mut result = Ok(());
            config.tokenizer.for_each_token(piece, |token| {
                if result.is_ok() {
                    // With the special tokens, an unseen token is `<unk>`, never an error.
                    result = vocabulary.id(token).and_then(|id| writer.push(id));
                }
            });
            result.map(|()| true)
        },
    )?;
    let (train_tokens, valid_tokens) = (train.finish()?, valid.finish()?);

    let meta = TokenFileMeta {
        format_version: META_FORMAT_VERSION,
        tokenizer: config.tokenizer,
        vocabulary,
        id_bytes,
        valid_share: config.valid,
        train_tokens,
        valid_tokens,
        corpus: CorpusFacts {
            path: corpus.to_path_buf(),
            bytes,
            chars,
            sha256,
        },
    };
    json_file::save_pretty(&meta, &out_dir.join(META_FILE))?;
    Ok(meta)
}

/// Which side of the cut a piece lies on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Train,
    Valid,
}

/// How much of a file [`read_pieces`] read.
struct Extent {
    bytes: u64,
    /// The characters of the pieces visited.
    chars: u64,
}

/// Reads `path` in pieces of whole characters, each ending just after a white-space character
/// (or where the piece is full, or at the end of the file), and none crossing the character
/// `cut`: calls `raw` with every block of bytes read and `visit(piece, part, bytes_read)` with
/// each piece until it returns `false`. Returns what it read (all of the file unless `visit`
/// stopped it).
fn read_pieces(
    path: &Path,
    chunk_bytes: usize,
    cut: Option<u64>,
    raw: &mut dyn FnMut(&[u8]),
    visit: &mut dyn FnMut(&str, Part, u64) -> Result<bool, Error>,
) -> Result<Extent, Error> {
    let io_error = |source| Error::reading(path, source);
    let mut file = File::open(path).map_err(io_error)?;
    let mut buffer: Vec<u8> = Vec::with_capacity(2 * chunk_bytes);
    let mut block = vec![0u8; chunk_bytes];
    // Bytes read from the file, and the file offset of `buffer[0]`.
    let (mut read, mut offset) = (0u64, 0u64);
    let mut chars_before = 0u64;
    let mut at_end = false;
    while !at_end {
        let n = file.read(&mut block).map_err(io_error)?;
        at_end = n == 0;
        raw(&block[..n]);
        read += n as u64;
        buffer.extend_from_slice(&block[..n]);
        // The longest prefix of whole characters.
        let text = match std::str::from_utf8(&buffer) {
            Ok(text) => text,
            Err(error) => {
                if error.error_len().is_some() || at_end {
                    return Err(Error::NotUtf8 {
                        path: path.to_path_buf(),
                        offset: offset + error.valid_up_to() as u64,
                    });
                }
                std::str::from_utf8(&buffer[..error.valid_up_to()]).expect("checked above")
            }
        };
        if text.len() < chunk_bytes && !at_end {
            continue;
        }
        let mut rest = text;
        // A cut inside: the text before it is a piece of its own.
        if let Some(cut) = cut.filter(|&cut| cut > chars_before) {
            let wanted = (cut - chars_before) as usize;
            if let Some((byte, _)) = rest.char_indices().nth(wanted) {
                let (train, valid) = rest.split_at(byte);
                let stop = !visit(train, Part::Train, read)?;
                chars_before = cut;
                if stop {
                    break;
                }
                rest = valid;
            }
        }
        let part = match cut {
            Some(cut) if chars_before < cut => Part::Train,
            Some(_) => Part::Valid,
            None => Part::Train,
        };
        // End the piece just after the last white space, unless this is the end.
        let end = if at_end {
            rest.len()
        } else {
            match rest.rfind(char::is_whitespace) {
                Some(space) => space + rest[space..].chars().next().map_or(0, char::len_utf8),
                None if rest.len() >= FORCED_CUT * chunk_bytes => rest.len(),
                // Read on to the next white space.
                None => 0,
            }
        };
        let piece = &rest[..end];
        if !piece.is_empty() {
            let stop = !visit(piece, part, read)?;
            chars_before += piece.chars().count() as u64;
            if stop {
                break;
            }
        }
        let consumed = text.len() - rest.len() + end;
        buffer.drain(..consumed);
        offset += consumed as u64;
    }
    Ok(Extent {
        bytes: read,
        chars: chars_before,
    })
}

/// Appends ids to a `.bin` file, `id_bytes` little-endian bytes each.
struct IdWriter {
    path: PathBuf,
    file: File,
    /// Ids not yet written: one `write` per megabyte rather than per id.
    pending: Vec<u8>,
    id_bytes: u8,
    written: u64,
}

/// The bytes an [`IdWriter`] gathers before it writes them.
const WRITE_BYTES: usize = 1 << 20;

impl IdWriter {
    fn create(path: &Path, id_bytes: u8) -> Result<Self, Error> {
        let file = File::create(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            pending: Vec::with_capacity(WRITE_BYTES + 4),
            id_bytes,
            written: 0,
        })
    }

    fn push(&mut self, id: usize) -> Result<(), Error> {
        match self.id_bytes {
            2 => self.pending.extend_from_slice(&(id as u16).to_le_bytes()),
            _ => self.pending.extend_from_slice(&(id as u32).to_le_bytes()),
        }
        self.written += 1;
        if self.pending.len() >= WRITE_BYTES {
            self.write_pending()?;
        }
        Ok(())
    }

    fn write_pending(&mut self) -> Result<(), Error> {
        let result = self.file.write_all(&self.pending);
        self.pending.clear();
        result.map_err(|source| Error::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// Writes what is pending, syncs the file and returns the number of ids written.
    fn finish(mut self) -> Result<u64, Error> {
        self.write_pending()?;
        self.file.sync_all().map_err(|source| Error::Io {
            path: self.path.clone(),
            source,
        })?;
        Ok(self.written)
    }
}

/// The part of a folder of token files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenPart {
    /// `train.bin`.
    Train,
    /// `valid.bin`.
    Valid,
}

/// One `.bin` file of a folder of token files, read by position: window `start` holds ids
/// `start..start + context_len` as inputs and the same shifted by one as targets, as
/// [`TokenStreamDataset::window`](crate::TokenStreamDataset::window) cuts ids held in memory.
/// Only the ids of the windows asked for are read (`pread`), widened to `i64` in the batch.
///
/// `burnish-train` implements its `Examples` for this type, so that the training loop reads
/// batches of windows straight from the file.
#[derive(Debug)]
pub struct TokenFileStream {
    path: PathBuf,
    file: File,
    id_bytes: usize,
    n_ids: u64,
    vocab_size: usize,
    context_len: usize,
    /// The size and modification time at opening, to notice a file that changes.
    stamp: (u64, Option<std::time::SystemTime>),
}

impl TokenFileStream {
    /// Opens `part` of the token files in `dir`, described by `meta`, for windows of
    /// `context_len` ids. Fails, naming the file, when it is missing, is not a whole number of
    /// ids, holds another number of ids than `meta.json` says, or is too short for a window.
    pub fn open(
        dir: &Path,
        part: TokenPart,
        meta: &TokenFileMeta,
        context_len: usize,
    ) -> Result<Self, Error> {
        let (name, expected) = match part {
            TokenPart::Train => (TRAIN_FILE, meta.train_tokens),
            TokenPart::Valid => (VALID_FILE, meta.valid_tokens),
        };
        let path = dir.join(name);
        let file = File::open(&path).map_err(|source| Error::reading(&path, source))?;
        let stamp = stamp_of(&file, &path)?;
        let id_bytes = usize::from(meta.id_bytes);
        if !matches!(id_bytes, 2 | 4) {
            return Err(token_file_error(
                &dir.join(META_FILE),
                format!("id_bytes is {id_bytes}; 2 or 4 expected"),
            ));
        }
        let bytes = stamp.0;
        if bytes % id_bytes as u64 != 0 {
            return Err(token_file_error(
                &path,
                format!("{bytes} bytes are not a whole number of {id_bytes}-byte ids"),
            ));
        }
        let n_ids = bytes / id_bytes as u64;
        if n_ids != expected {
            return Err(token_file_error(
                &path,
                format!("holds {n_ids} ids, but {META_FILE} says {expected}"),
            ));
        }
        if context_len == 0 || n_ids <= context_len as u64 {
            return Err(token_file_error(
                &path,
                format!(
                    "{n_ids} ids are too few for one window of {context_len} ids and its \
                     next-token targets"
                ),
            ));
        }
        Ok(Self {
            path,
            file,
            id_bytes,
            n_ids,
            vocab_size: meta.vocabulary.len(),
            context_len,
            stamp,
        })
    }

    /// The number of ids in the file.
    pub fn n_ids(&self) -> u64 {
        self.n_ids
    }

    /// The number of windows: the number of ids minus `context_len`.
    pub fn n_windows(&self) -> usize {
        (self.n_ids - self.context_len as u64) as usize
    }

    /// The length of every window.
    pub fn context_len(&self) -> usize {
        self.context_len
    }

    /// Appends the inputs and targets of the window that starts at `start` to `inputs` and
    /// `targets`. Fails, naming the file, when the read fails, the file has changed since it
    /// was opened, or an id is beyond the vocabulary.
    ///
    /// # Panics
    /// When `start >= self.n_windows()`.
    pub fn read_window(
        &self,
        start: usize,
        inputs: &mut Vec<i64>,
        targets: &mut Vec<i64>,
    ) -> Result<(), Error> {
        use std::os::unix::fs::FileExt;

        assert!(
            start < self.n_windows(),
            "window {start} is out of range: the file has {} windows",
            self.n_windows()
        );
        let mut bytes = vec![0u8; (self.context_len + 1) * self.id_bytes];
        self.file
            .read_exact_at(&mut bytes, (start * self.id_bytes) as u64)
            .map_err(|source| Error::Io {
                path: self.path.clone(),
                source,
            })?;
        let first = inputs.len();
        for (k, id) in bytes.chunks_exact(self.id_bytes).enumerate() {
            let id = match *id {
                [a, b] => u64::from(u16::from_le_bytes([a, b])),
                [a, b, c, d] => u64::from(u32::from_le_bytes([a, b, c, d])),
                _ => unreachable!("ids are 2 or 4 bytes"),
            };
            if id >= self.vocab_size as u64 {
                self.check_unchanged()?;
                return Err(token_file_error(
                    &self.path,
                    format!(
                        "id {id} at position {} is beyond the vocabulary of {} in {META_FILE}",
                        start + k,
                        self.vocab_size
                    ),
                ));
            }
            if k < self.context_len {
                inputs.push(id as i64);
            }
            if k > 0 {
                targets.push(id as i64);
            }
        }
        debug_assert_eq!(inputs.len() - first, self.context_len);
        Ok(())
    }

    /// The windows that start at `starts`, in that order: `[starts.len(), context_len]` inputs
    /// and targets, row-major.
    pub fn read_windows(&self, starts: &[usize]) -> Result<(Vec<i64>, Vec<i64>), Error> {
        let mut inputs = Vec::with_capacity(starts.len() * self.context_len);
        let mut targets = Vec::with_capacity(starts.len() * self.context_len);
        for &start in starts {
            self.read_window(start, &mut inputs, &mut targets)?;
        }
        Ok((inputs, targets))
    }

    /// Fails, naming the file, when its size or modification time differ from when it was
    /// opened (another `prepare-text` wrote over it, for example).
    pub fn check_unchanged(&self) -> Result<(), Error> {
        let now = stamp_of(&self.file, &self.path)?;
        if now != self.stamp {
            return Err(token_file_error(
                &self.path,
                format!(
                    "the file changed while it was being read (size {} bytes, now {})",
                    self.stamp.0, now.0
                ),
            ));
        }
        Ok(())
    }
}

fn stamp_of(file: &File, path: &Path) -> Result<(u64, Option<std::time::SystemTime>), Error> {
    let metadata = file.metadata().map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok((metadata.len(), metadata.modified().ok()))
}

fn token_file_error(path: &Path, reason: String) -> Error {
    Error::TokenFile {
        path: path.to_path_buf(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TextEncoder, TextEncoderConfig};

    /// The in-memory path: cut at the character, fit on the first part, encode both.
    fn in_memory(
        text: &str,
        tokenizer: Tokenizer,
        valid: f64,
    ) -> (Vocabulary, Vec<usize>, Vec<usize>) {
        let n_chars = text.chars().count();
        let train_chars = ((1.0 - valid) * n_chars as f64).round() as usize;
        let cut = text
            .char_indices()
            .nth(train_chars)
            .map_or(text.len(), |(byte, _)| byte);
        let (train, held_out) = text.split_at(cut);
        let config = TextEncoderConfig {
            tokenizer,
            ..TextEncoderConfig::default()
        };
        let encoder = TextEncoder::fit([train], &config).unwrap();
        (
            encoder.vocabulary().clone(),
            encoder.encode(train).unwrap(),
            encoder.encode(held_out).unwrap(),
        )
    }

    fn read_ids(path: &Path, id_bytes: u8) -> Vec<usize> {
        std::fs::read(path)
            .unwrap()
            .chunks_exact(id_bytes as usize)
            .map(|bytes| match bytes {
                [a, b] => u16::from_le_bytes([*a, *b]) as usize,
                _ => u32::from_le_bytes(bytes.try_into().unwrap()) as usize,
            })
            .collect()
    }

    /// Streamed in small pieces, a text with several-byte characters, Greek sigmas (whose
    /// lowercase depends on the next letter) and a word longer than a piece gives the in-memory path's vocabulary and ids, for both tokenizers.
    #[rstest::rstest]
    fn streamed_pieces_give_the_in_memory_ids(
        #[values(
            Tokenizer::Char { lowercase: false },
            Tokenizer::Char { lowercase: true },
            Tokenizer::Word { lowercase: true }
        )]
        tokenizer: Tokenizer,
        #[values(16, 37, 4096)] chunk_bytes: usize,
    ) {
        let mut text = String::new();
        for line in 0..200 {
            text.push_str(&format!(
                "Line {line}: ΟΔΥΣΣΕΥΣ said «naïve café», then {}!\n",
                "word ".repeat(line % 7)
            ));
        }
        text.push_str("averyveryverylongwordwithoutanyspaceatalltoforceacut");
        let dir = tempfile::tempdir().unwrap();
        let corpus = dir.path().join("corpus.txt");
        std::fs::write(&corpus, &text).unwrap();
        let config = PrepareTextConfig {
            tokenizer,
            valid: 0.1,
            chunk_bytes,
        };
        let out = dir.path().join("tokens");
        let meta = prepare_text(&corpus, &out, &config, &mut |_, _| {}).unwrap();

        let (vocabulary, train, valid) = in_memory(&text, tokenizer, 0.1);
        assert_eq!(meta.vocabulary, vocabulary);
        assert_eq!(read_ids(&out.join(TRAIN_FILE), 2), train);
        assert_eq!(read_ids(&out.join(VALID_FILE), 2), valid);
        assert_eq!(meta.id_bytes, 2);
        assert_eq!(meta.corpus.bytes, text.len() as u64);
        assert_eq!(meta.corpus.chars, text.chars().count() as u64);
        assert_eq!(
            meta.corpus.sha256,
            format!("{:x}", Sha256::digest(text.as_bytes()))
        );
        assert_eq!(
            meta.train_tokens,
            read_ids(&out.join(TRAIN_FILE), 2).len() as u64
        );
        assert_eq!(TokenFileMeta::load(&out).unwrap(), meta);
    }

    #[test]
    fn a_corpus_that_is_not_utf8_is_named_with_the_offset() {
        let dir = tempfile::tempdir().unwrap();
        let corpus = dir.path().join("corpus.txt");
        let mut bytes = b"hello world, ".repeat(10);
        bytes.extend_from_slice(&[0xff, 0xfe]);
        std::fs::write(&corpus, &bytes).unwrap();
        let config = PrepareTextConfig {
            chunk_bytes: 16,
            ..PrepareTextConfig::default()
        };
        let error =
            prepare_text(&corpus, &dir.path().join("out"), &config, &mut |_, _| {}).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "{}: not UTF-8 text: byte 130 starts an invalid sequence",
                corpus.display()
            )
        );
        let missing = dir.path().join("missing.txt");
        let error =
            prepare_text(&missing, &dir.path().join("out"), &config, &mut |_, _| {}).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("{}: file not found", missing.display())
        );
    }

    fn prepared(text: &str) -> (tempfile::TempDir, TokenFileMeta) {
        let dir = tempfile::tempdir().unwrap();
        let corpus = dir.path().join("corpus.txt");
        std::fs::write(&corpus, text).unwrap();
        let meta = prepare_text(
            &corpus,
            &dir.path().join("tokens"),
            &PrepareTextConfig::default(),
            &mut |_, _| {},
        )
        .unwrap();
        (dir, meta)
    }

    /// Windows read by position are the in-memory stream's windows.
    #[test]
    fn file_windows_are_the_in_memory_windows() {
        let text = "to be or not to be, that is the question\n".repeat(30);
        let (dir, meta) = prepared(&text);
        let tokens = dir.path().join("tokens");
        let (_, train, _) = in_memory(&text, meta.tokenizer, 0.1);
        let memory = crate::TokenStreamDataset::new(&train, 16).unwrap();
        let file = TokenFileStream::open(&tokens, TokenPart::Train, &meta, 16).unwrap();
        assert_eq!(file.n_windows(), memory.n_windows());
        let starts = [0, 5, file.n_windows() - 1, 17];
        let (inputs, targets) = file.read_windows(&starts).unwrap();
        for (k, &start) in starts.iter().enumerate() {
            let (want_inputs, want_targets) = memory.window(start);
            assert_eq!(&inputs[k * 16..][..16], want_inputs);
            assert_eq!(&targets[k * 16..][..16], want_targets);
        }
        let valid = TokenFileStream::open(&tokens, TokenPart::Valid, &meta, 16).unwrap();
        assert_eq!(valid.n_ids(), meta.valid_tokens);
    }

    /// A torn file, a count that disagrees with meta.json, an id beyond the vocabulary and a
    /// file rewritten while open are errors naming the file.
    #[test]
    fn bad_token_files_are_named() {
        let text = "abcdefgh ".repeat(40);
        let (dir, meta) = prepared(&text);
        let tokens = dir.path().join("tokens");
        let train = tokens.join(TRAIN_FILE);
        let open = || TokenFileStream::open(&tokens, TokenPart::Train, &meta, 8);
        let good = std::fs::read(&train).unwrap();

        std::fs::write(&train, &good[..good.len() - 1]).unwrap();
        let message = open().unwrap_err().to_string();
        assert_eq!(
            message,
            format!(
                "{}: {} bytes are not a whole number of 2-byte ids",
                train.display(),
                good.len() - 1
            )
        );
        std::fs::write(&train, &good[..good.len() - 2]).unwrap();
        let message = open().unwrap_err().to_string();
        assert!(
            message.ends_with(&format!(
                "holds {} ids, but meta.json says {}",
                meta.train_tokens - 1,
                meta.train_tokens
            )),
            "{message}"
        );

        let mut beyond = good.clone();
        beyond[6..8].copy_from_slice(&500u16.to_le_bytes());
        std::fs::write(&train, &beyond).unwrap();
        let stream = open().unwrap();
        let message = stream.read_windows(&[0]).unwrap_err().to_string();
        assert_eq!(
            message,
            format!(
                "{}: id 500 at position 3 is beyond the vocabulary of {} in meta.json",
                train.display(),
                meta.vocabulary.len()
            )
        );

        std::fs::write(&train, &good).unwrap();
        let stream = open().unwrap();
        std::fs::write(&train, [&good[..], &good[..2]].concat()).unwrap();
        let message = stream.check_unchanged().unwrap_err().to_string();
        assert!(
            message.contains("the file changed while it was being read"),
            "{message}"
        );
        assert!(
            message.starts_with(&train.display().to_string()),
            "{message}"
        );
    }
}

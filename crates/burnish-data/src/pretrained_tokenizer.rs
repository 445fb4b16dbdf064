//! Texts encoded by a pretrained checkpoint's own tokenizer: a Hugging Face `tokenizer.json`
//! (WordPiece for BERT, byte-level BPE for GPT-2, ...), read with the `tokenizers` crate, so
//! that the ids are the ones the checkpoint was trained on, identical to the Python
//! tokenizer's.
//!
//! Where [`crate::TextEncoder`] fits a vocabulary on the training texts, a
//! [`PretrainedTokenizer`] fits nothing: the file is the whole encoder. The file's own padding
//! and truncation settings (all-MiniLM-L6-v2 ships padding and truncation to 128) are replaced
//! by one length, `max_len`, chosen by the experiment: every encoding, special tokens
//! included, is cut to at most `max_len` ids, as the Python tokenizer cuts with
//! `truncation=True, max_length=max_len`. This module reads the file it is given and nothing
//! else; it never downloads.

use std::path::{Path, PathBuf};

use tokenizers::{EncodeInput, PostProcessor, TruncationParams};

use crate::text::Truncation;
use crate::{Error, PaddedBatch, pad_batch};

/// A checkpoint's `tokenizer.json` with padding off and truncation to `max_len` ids.
///
/// ```no_run
/// use burnish_data::PretrainedTokenizer;
/// let tokenizer = PretrainedTokenizer::from_file("all-MiniLM-L6-v2/tokenizer.json".as_ref(), 64)?;
/// // [CLS] the movie was surprisingly good . [SEP]
/// assert_eq!(
///     tokenizer.encode("The movie was surprisingly good.")?,
///     [101, 1996, 3185, 2001, 10889, 2204, 1012, 102]
/// );
/// # Ok::<(), burnish_data::Error>(())
/// ```
#[derive(Clone)]
pub struct PretrainedTokenizer {
    tokenizer: tokenizers::Tokenizer,
    /// The file's text, kept unchanged so that a run folder can store the very same file.
    json: String,
    /// Where the file was read from, for messages.
    path: PathBuf,
    max_len: usize,
}

/// The ids of a pair of texts (a question and a passage, two sentences) and which text each
/// id belongs to: the token type ids, 0 for the first text and its special tokens, 1 for the
/// second.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairEncoding {
    /// The ids, special tokens included.
    pub ids: Vec<usize>,
    /// One token type per id.
    pub type_ids: Vec<usize>,
}

impl std::fmt::Debug for PretrainedTokenizer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("PretrainedTokenizer")
            .field("path", &self.path)
            .field("vocab_size", &self.vocab_size())
            .field("max_len", &self.max_len)
            .finish()
    }
}

impl PretrainedTokenizer {
    /// Reads a `tokenizer.json` file.
    pub fn from_file(path: &Path, max_len: usize) -> Result<Self, Error> {
        let json = std::fs::read_to_string(path).map_err(|source| Error::reading(path, source))?;
        Self::from_json(json, path, max_len)
    }

    /// Parses the text of a `tokenizer.json` file; `path` only names it in messages.
    pub fn from_json(json: String, path: &Path, max_len: usize) -> Result<Self, Error> {
        let invalid = |reason: String| Error::PretrainedTokenizer {
            path: path.to_path_buf(),
            reason,
        };
        if max_len == 0 {
            return Err(Error::InvalidParameter {
                field: "max_len",
                reason: "must be at least 1, found 0".to_string(),
            });
        }
        let mut tokenizer = tokenizers::Tokenizer::from_bytes(json.as_bytes())
            .map_err(|error| invalid(format!("not a Hugging Face tokenizer file: {error}")))?;
        tokenizer.with_padding(None);
        // The special tokens of one text need room of their own; `tokenizers` would subtract
        // their count from `max_len` without checking.
        let n_special = tokenizer
            .get_post_processor()
            .map_or(0, |processor| processor.added_tokens(false));
        if max_len <= n_special {
            return Err(invalid(format!(
                "max_len = {max_len} leaves no room for text beside the {n_special} special tokens"
            )));
        }
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_len,
                ..TruncationParams::default()
            }))
            .map_err(|error| invalid(format!("cannot truncate to {max_len} ids: {error}")))?;
        Ok(Self {
            tokenizer,
            json,
            path: path.to_path_buf(),
            max_len,
        })
    }

    /// The ids of `text` with the checkpoint's special tokens (`[CLS] … [SEP]` for BERT), cut
    /// to at most `max_len` ids.
    pub fn encode(&self, text: &str) -> Result<Vec<usize>, Error> {
        let encoding = self.encoding(text)?;
        Ok(widen(encoding.get_ids()))
    }

    /// The ids and token types of a pair of texts (`[CLS] first [SEP] second [SEP]` for
    /// BERT), cut to at most `max_len` ids by shortening the longer text first.
    pub fn encode_pair(&self, first: &str, second: &str) -> Result<PairEncoding, Error> {
        let encoding = self.encoding((first, second))?;
        Ok(PairEncoding {
            ids: widen(encoding.get_ids()),
            type_ids: widen(encoding.get_type_ids()),
        })
    }

    /// Encodes each text and pads it at its end to `max_len` ids (see [`pad_batch`]: padded
    /// positions hold id 0 and are flagged in the mask, so a model that honours the mask never
    /// reads them, whatever the checkpoint's own padding id).
    pub fn encode_batch<'a>(
        &self,
        texts: impl IntoIterator<Item = &'a str>,
    ) -> Result<PaddedBatch, Error> {
        let sequences = texts
            .into_iter()
            .map(|text| self.encode(text))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(pad_batch(&sequences, self.max_len, Truncation::Tail))
    }

    /// The number of ids the tokenizer can produce, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.tokenizer.get_vocab_size(true)
    }

    /// The longest encoding, in ids.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// The text of the file, unchanged.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The file the tokenizer was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn encoding<'s>(
        &self,
        input: impl Into<EncodeInput<'s>>,
    ) -> Result<tokenizers::Encoding, Error> {
        self.tokenizer
            .encode(input, true)
            .map_err(|error| Error::PretrainedTokenizer {
                path: self.path.clone(),
                reason: format!(
                    "cannot encode a text with max_len = {}: {error}",
                    self.max_len
                ),
            })
    }
}

fn widen(ids: &[u32]) -> Vec<usize> {
    ids.iter().map(|&id| id as usize).collect()
}

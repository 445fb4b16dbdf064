//! Text to token ids: tokenizers, a vocabulary fitted on the training texts, and padding.
//!
//! A [`Tokenizer`] cuts text into words or characters; a [`Vocabulary`] numbers the tokens of
//! the *training* texts only (the most frequent first), so that validation and test texts meet
//! unknown tokens exactly as new texts will at predict time; [`pad_batch`] turns id sequences
//! of different lengths into one rectangular `[n, max_len]` matrix with a padding mask. A
//! [`TextEncoder`] holds the three together and is saved as JSON in a run folder.
//!
//! Reserved ids: by default id [`PAD`] = 0 is `<pad>` and id [`UNK`] = 1 is `<unk>`, the token
//! that stands for everything the training texts did not have. A character language model
//! wants a vocabulary of exactly the characters of its corpus (nanoGPT's 65 for Tiny
//! Shakespeare): [`VocabularyConfig::special_tokens`] = `false` builds one without them.
//!
//! This module does not read files (except the encoder's own JSON) and knows nothing of
//! tensors: it hands out plain `usize` and `i64` ids.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::json_file;

/// The id of the padding token `<pad>` in a vocabulary with special tokens; also the id that
/// [`pad_batch`] writes into padded positions.
pub const PAD: usize = 0;

/// The id of the unknown token `<unk>` in a vocabulary with special tokens.
pub const UNK: usize = 1;

/// The text of the padding token.
pub const PAD_TOKEN: &str = "<pad>";

/// The text of the unknown token.
pub const UNK_TOKEN: &str = "<unk>";

/// How text is cut into tokens; in TOML `{ kind = "word", lowercase = true }` or
/// `{ kind = "char" }` (`lowercase` defaults to `false`).
///
/// The word rule: Unicode white space separates tokens and is dropped; every punctuation
/// character is a token of its own; every other run of characters is one token. Punctuation
/// means the ASCII punctuation characters (``!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~``), the
/// punctuation of Latin-1 (`¡ § « ¶ · » ¿`), the General Punctuation block from U+2010 to
/// U+205E (dashes, curly quotes, `…`, `‰`) and the CJK marks `、 。 〃` and brackets U+3008 to
/// U+3011. Letters, digits, combining marks, symbols and emoji stay inside their word, so
/// scripts with combining vowel signs are not torn apart.
///
/// ```
/// use burnish_data::Tokenizer;
/// let words = Tokenizer::Word { lowercase: true };
/// assert_eq!(words.tokenize("He's  back,\tGREAT!"), ["he", "'", "s", "back", ",", "great", "!"]);
/// let chars = Tokenizer::Char { lowercase: false };
/// assert_eq!(chars.tokenize("Hi !\n"), ["H", "i", " ", "!", "\n"]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Tokenizer {
    /// Words and punctuation marks, as described above.
    Word {
        /// Lowercase the text (Unicode lowercase) before cutting it.
        #[serde(default)]
        lowercase: bool,
    },
    /// Every character (Unicode scalar value) is a token, white space and newlines included.
    Char {
        /// Lowercase the text (Unicode lowercase) before cutting it.
        #[serde(default)]
        lowercase: bool,
    },
}

impl Default for Tokenizer {
    /// Words, case kept.
    fn default() -> Self {
        Tokenizer::Word { lowercase: false }
    }
}

impl Tokenizer {
    /// The tokens of `text`, in order.
    pub fn tokenize(&self, text: &str) -> Vec<String> {
        let mut tokens = Vec::new();
        self.for_each_token(text, |token| tokens.push(token.to_owned()));
        tokens
    }

    /// Calls `visit` with each token of `text`, in order, without allocating a string per
    /// token (the text is copied once when it is lowercased).
    pub fn for_each_token(&self, text: &str, mut visit: impl FnMut(&str)) {
        let lowercased;
        let text = if self.lowercase() {
            lowercased = text.to_lowercase();
            lowercased.as_str()
        } else {
            text
        };
        match self {
            Tokenizer::Char { .. } => {
                for (start, character) in text.char_indices() {
                    visit(&text[start..start + character.len_utf8()]);
                }
            }
            Tokenizer::Word { .. } => {
                let mut word_start = None;
                for (index, character) in text.char_indices() {
                    let is_space = character.is_whitespace();
                    let is_punctuation = is_punctuation(character);
                    if !is_space && !is_punctuation {
                        word_start.get_or_insert(index);
                        continue;
                    }
                    if let Some(start) = word_start.take() {
                        visit(&text[start..index]);
                    }
                    if is_punctuation {
                        visit(&text[index..index + character.len_utf8()]);
                    }
                }
                if let Some(start) = word_start {
                    visit(&text[start..]);
                }
            }
        }
    }

    /// What [`Vocabulary::decode`] puts between tokens to turn them back into text: a space
    /// between words, nothing between characters.
    pub fn separator(&self) -> &'static str {
        match self {
            Tokenizer::Word { .. } => " ",
            Tokenizer::Char { .. } => "",
        }
    }

    /// Whether the text is lowercased first.
    pub fn lowercase(&self) -> bool {
        match *self {
            Tokenizer::Word { lowercase } | Tokenizer::Char { lowercase } => lowercase,
        }
    }
}

/// Whether `character` is a token of its own for the word tokenizer (see [`Tokenizer`]).
fn is_punctuation(character: char) -> bool {
    character.is_ascii_punctuation()
        || matches!(
            character,
            '¡' | '§'
                | '«'
                | '¶'
                | '·'
                | '»'
                | '¿'
                | '\u{2010}'..='\u{205E}'
                | '\u{3001}'..='\u{3003}'
                | '\u{3008}'..='\u{3011}'
        )
}

/// How a [`Vocabulary`] is fitted; in TOML the same names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VocabularyConfig {
    /// Tokens seen fewer times than this in the training texts become `<unk>` (or are an
    /// error to encode, without special tokens). At least 1; default 1.
    pub min_freq: usize,
    /// The largest number of entries, special tokens included; the least frequent tokens are
    /// left out. `None` (default) for no limit.
    pub max_size: Option<usize>,
    /// Reserve id 0 for `<pad>` and id 1 for `<unk>` (default `true`). Without them the
    /// vocabulary is exactly the training tokens, and encoding an unknown token is an error.
    pub special_tokens: bool,
}

impl Default for VocabularyConfig {
    fn default() -> Self {
        Self {
            min_freq: 1,
            max_size: None,
            special_tokens: true,
        }
    }
}

impl VocabularyConfig {
    /// The number of reserved entries: 2 with special tokens, 0 without.
    pub fn n_special_tokens(&self) -> usize {
        if self.special_tokens { 2 } else { 0 }
    }

    /// Checks that `min_freq` is at least 1 and that `max_size` leaves room for a token
    /// besides the reserved ones.
    pub fn validate(&self) -> Result<(), Error> {
        if self.min_freq == 0 {
            return Err(Error::InvalidParameter {
                field: "min_freq",
                reason: "must be at least 1, found 0".to_string(),
            });
        }
        let n_special = self.n_special_tokens();
        match self.max_size {
            Some(max_size) if max_size <= n_special => Err(Error::InvalidParameter {
                field: "max_size",
                reason: format!(
                    "must be above {n_special} to leave room for a token besides the reserved ones, found {max_size}"
                ),
            }),
            _ => Ok(()),
        }
    }
}

/// Token → number. Keyed by FNV-1a rather than std's SipHash: tokens are short strings, for
/// which SipHash (built to resist chosen collisions, which a worst-case corpus would only slow
/// down) costs several times more per lookup, and a corpus is one lookup per token.
type TokenMap = HashMap<String, usize, BuildHasherDefault<Fnv1a>>;

/// The 64-bit FNV-1a hash.
#[derive(Clone, Copy, Debug)]
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// How often each token occurs, counted text by text: [`Vocabulary::fit`] for texts that
/// arrive in pieces (a corpus read as a stream). Counting the pieces of a text gives the
/// counts of the whole when no token spans two pieces.
#[derive(Clone, Debug, Default)]
pub struct TokenCounts {
    counts: TokenMap,
}

impl TokenCounts {
    /// Counts the tokens of `text`.
    pub fn add(&mut self, text: &str, tokenizer: &Tokenizer) {
        let counts = &mut self.counts;
        tokenizer.for_each_token(text, |token| match counts.get_mut(token) {
            Some(count) => *count += 1,
            None => {
                counts.insert(token.to_owned(), 1);
            }
        });
    }

    /// The vocabulary of the counted tokens, as [`Vocabulary::fit`] numbers them.
    pub fn into_vocabulary(self, config: &VocabularyConfig) -> Result<Vocabulary, Error> {
        config.validate()?;
        let counts = self.counts;
        let n_distinct = counts.len();
        let mut frequent: Vec<(String, usize)> = counts
            .into_iter()
            .filter(|(_, count)| *count >= config.min_freq)
            .collect();
        if frequent.is_empty() {
            return Err(Error::EmptyVocabulary {
                min_freq: config.min_freq,
                n_distinct,
            });
        }
        frequent.sort_unstable_by(|(token_a, count_a), (token_b, count_b)| {
            count_b.cmp(count_a).then_with(|| token_a.cmp(token_b))
        });
        let mut tokens: Vec<String> = if config.special_tokens {
            vec![PAD_TOKEN.to_string(), UNK_TOKEN.to_string()]
        } else {
            Vec::new()
        };
        let room = config.max_size.map_or(usize::MAX, |max_size| {
            max_size.saturating_sub(config.n_special_tokens())
        });
        tokens.extend(frequent.into_iter().take(room).map(|(token, _)| token));
        Ok(Vocabulary::from_tokens(tokens, config.special_tokens))
    }
}

/// Token ↔ id, fitted on the training texts.
///
/// Ids are dense from 0: the special tokens first (`<pad>` = [`PAD`], `<unk>` = [`UNK`]) when
/// the config asks for them, then the training tokens by descending frequency, ties broken by
/// the token's text (byte order), so the same texts always give the same ids.
///
/// ```
/// use burnish_data::{Tokenizer, UNK, Vocabulary, VocabularyConfig};
/// let tokenizer = Tokenizer::Word { lowercase: true };
/// let vocabulary = Vocabulary::fit(["a b b", "c b"], &tokenizer, &VocabularyConfig::default())?;
/// assert_eq!(vocabulary.tokens(), ["<pad>", "<unk>", "b", "a", "c"]);
/// assert_eq!(vocabulary.encode(&["b", "zebra"])?, [2, UNK]);
/// assert_eq!(vocabulary.decode(&[3, 2], tokenizer.separator()), "a b");
/// # Ok::<(), burnish_data::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "VocabularyFile", into = "VocabularyFile")]
pub struct Vocabulary {
    tokens: Vec<String>,
    ids: TokenMap,
    special_tokens: bool,
}

impl Vocabulary {
    /// Counts the tokens of `train_texts` and numbers those seen at least `min_freq` times.
    ///
    /// Fails when the config is invalid, or when no token is frequent enough
    /// ([`Error::EmptyVocabulary`]), for example because there are no texts.
    pub fn fit<'a>(
        train_texts: impl IntoIterator<Item = &'a str>,
        tokenizer: &Tokenizer,
        config: &VocabularyConfig,
    ) -> Result<Vocabulary, Error> {
        config.validate()?;
        let mut counts = TokenCounts::default();
        for text in train_texts {
            counts.add(text, tokenizer);
        }
        counts.into_vocabulary(config)
    }

    fn from_tokens(tokens: Vec<String>, special_tokens: bool) -> Vocabulary {
        let ids = tokens
            .iter()
            .enumerate()
            .map(|(id, token)| (token.clone(), id))
            .collect();
        Vocabulary {
            tokens,
            ids,
            special_tokens,
        }
    }

    /// The number of entries, special tokens included: the size of an embedding table or of
    /// a language model's output.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether there are no entries (never true for a fitted vocabulary).
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Whether ids 0 and 1 are `<pad>` and `<unk>`.
    pub fn has_special_tokens(&self) -> bool {
        self.special_tokens
    }

    /// Every token, in id order.
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    /// The id of `token`, or `None` when the training texts did not have it (often enough).
    pub fn get(&self, token: &str) -> Option<usize> {
        self.ids.get(token).copied()
    }

    /// The id of `token`; an unknown token is [`UNK`], or, in a vocabulary without special
    /// tokens, [`Error::UnknownToken`].
    pub fn id(&self, token: &str) -> Result<usize, Error> {
        match self.get(token) {
            Some(id) => Ok(id),
            None if self.special_tokens => Ok(UNK),
            None => Err(Error::UnknownToken {
                token: token.to_owned(),
            }),
        }
    }

    /// The text of id `id`.
    ///
    /// # Panics
    ///
    /// When `id >= self.len()`.
    pub fn token(&self, id: usize) -> &str {
        assert!(
            id < self.tokens.len(),
            "token id {id} is out of range for a vocabulary of {} tokens",
            self.tokens.len()
        );
        &self.tokens[id]
    }

    /// The ids of `tokens`, each as [`Vocabulary::id`] gives it.
    pub fn encode<S: AsRef<str>>(&self, tokens: &[S]) -> Result<Vec<usize>, Error> {
        tokens.iter().map(|token| self.id(token.as_ref())).collect()
    }

    /// The text of `ids`, joined by `separator` ([`Tokenizer::separator`]: `" "` for words,
    /// `""` for characters). With special tokens, [`PAD`] ids are skipped, so a padded row
    /// decodes as its unpadded text; `<unk>` is written as it is.
    ///
    /// # Panics
    ///
    /// When an id is out of range.
    pub fn decode(&self, ids: &[usize], separator: &str) -> String {
        let mut text = String::new();
        let mut first = true;
        for &id in ids {
            if self.special_tokens && id == PAD {
                continue;
            }
            if !first {
                text.push_str(separator);
            }
            text.push_str(self.token(id));
            first = false;
        }
        text
    }
}

/// What a [`Vocabulary`] looks like in JSON: its tokens in id order; the lookup table is
/// rebuilt when it is read.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct VocabularyFile {
    special_tokens: bool,
    tokens: Vec<String>,
}

impl From<Vocabulary> for VocabularyFile {
    fn from(vocabulary: Vocabulary) -> Self {
        VocabularyFile {
            special_tokens: vocabulary.special_tokens,
            tokens: vocabulary.tokens,
        }
    }
}

impl TryFrom<VocabularyFile> for Vocabulary {
    type Error = String;

    fn try_from(file: VocabularyFile) -> Result<Self, Self::Error> {
        if file.special_tokens
            && (file.tokens.get(PAD).map(String::as_str) != Some(PAD_TOKEN)
                || file.tokens.get(UNK).map(String::as_str) != Some(UNK_TOKEN))
        {
            return Err(format!(
                "a vocabulary with special tokens must start with {PAD_TOKEN:?} and {UNK_TOKEN:?}"
            ));
        }
        let vocabulary = Vocabulary::from_tokens(file.tokens, file.special_tokens);
        if vocabulary.ids.len() != vocabulary.tokens.len() {
            return Err("the vocabulary lists a token more than once".to_string());
        }
        if vocabulary.tokens.is_empty() {
            return Err("the vocabulary has no tokens".to_string());
        }
        Ok(vocabulary)
    }
}

/// Which end of a sequence longer than `max_len` is cut off; in TOML `"head"` or `"tail"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Truncation {
    /// Cut the start: keep the last `max_len` ids (Keras `truncating="pre"`).
    Head,
    /// Cut the end: keep the first `max_len` ids (the default, as in Hugging Face tokenizers
    /// and Keras `truncating="post"`).
    #[default]
    Tail,
}

/// Id sequences padded (at the end) and truncated to one length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaddedBatch {
    /// `n * max_len` ids, row after row (`[n, max_len]`); padded positions hold [`PAD`].
    pub ids: Vec<i64>,
    /// `n * max_len` flags in the same order, `true` at padded positions: PyTorch's
    /// `key_padding_mask` and Burn's `mask_pad` convention.
    pub mask: Vec<bool>,
    /// The number of real (unpadded) ids in each row, after truncation.
    pub lengths: Vec<usize>,
    /// The row length.
    pub max_len: usize,
}

impl PaddedBatch {
    /// The number of rows.
    pub fn n_sequences(&self) -> usize {
        self.lengths.len()
    }

    /// The ids of row `row`, padding included.
    ///
    /// # Panics
    ///
    /// When `row >= self.n_sequences()`.
    pub fn row(&self, row: usize) -> &[i64] {
        &self.ids[row * self.max_len..(row + 1) * self.max_len]
    }
}

/// Pads every sequence at its end to `max_len` ids and cuts longer ones as `truncation` says.
///
/// An empty sequence becomes a row of padding with length 0; an attention layer that masks
/// every position of such a row has nothing to attend to, so callers that feed transformers
/// should not pass empty texts.
///
/// ```
/// use burnish_data::{Truncation, pad_batch};
/// let batch = pad_batch(&[vec![5, 6, 7], vec![8]], 2, Truncation::Head);
/// assert_eq!(batch.ids, [6, 7, 8, 0]);
/// assert_eq!(batch.mask, [false, false, false, true]);
/// assert_eq!(batch.lengths, [2, 1]);
/// ```
pub fn pad_batch(sequences: &[Vec<usize>], max_len: usize, truncation: Truncation) -> PaddedBatch {
    let n_sequences = sequences.len();
    let mut ids = vec![PAD as i64; n_sequences * max_len];
    let mut mask = vec![true; n_sequences * max_len];
    let mut lengths = Vec::with_capacity(n_sequences);
    for (row, sequence) in sequences.iter().enumerate() {
        let kept = match truncation {
            Truncation::Head => &sequence[sequence.len().saturating_sub(max_len)..],
            Truncation::Tail => &sequence[..sequence.len().min(max_len)],
        };
        let start = row * max_len;
        for (slot, &id) in ids[start..start + kept.len()].iter_mut().zip(kept) {
            *slot = id as i64;
        }
        mask[start..start + kept.len()].fill(false);
        lengths.push(kept.len());
    }
    PaddedBatch {
        ids,
        mask,
        lengths,
        max_len,
    }
}

/// How a [`TextEncoder`] is fitted; in TOML the same names, for example
/// `tokenizer = { kind = "word", lowercase = true }`, `vocabulary = { min_freq = 2 }`,
/// `max_len = 64`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TextEncoderConfig {
    /// How texts are cut into tokens.
    pub tokenizer: Tokenizer,
    /// How the vocabulary is built.
    pub vocabulary: VocabularyConfig,
    /// The length of every encoded row, at least 1 (default 256).
    pub max_len: usize,
    /// Which end of a longer text is cut.
    pub truncation: Truncation,
}

impl Default for TextEncoderConfig {
    /// Words with case kept, the default vocabulary, rows of 256 ids cut at the tail.
    fn default() -> Self {
        Self {
            tokenizer: Tokenizer::default(),
            vocabulary: VocabularyConfig::default(),
            max_len: 256,
            truncation: Truncation::default(),
        }
    }
}

impl TextEncoderConfig {
    /// Checks `max_len` and the vocabulary config.
    pub fn validate(&self) -> Result<(), Error> {
        if self.max_len == 0 {
            return Err(Error::InvalidParameter {
                field: "max_len",
                reason: "must be at least 1, found 0".to_string(),
            });
        }
        self.vocabulary.validate()
    }
}

/// The version of the JSON layout that [`TextEncoder::save_json`] writes.
const TEXT_ENCODER_FORMAT_VERSION: u32 = 1;

/// A tokenizer, its vocabulary fitted on the training texts, and the padded length: the
/// whole text preprocessing of an experiment, saved as one JSON artifact.
///
/// ```
/// use burnish_data::{TextEncoder, TextEncoderConfig, Tokenizer, UNK};
/// let config = TextEncoderConfig {
///     tokenizer: Tokenizer::Word { lowercase: true },
///     max_len: 4,
///     ..TextEncoderConfig::default()
/// };
/// let encoder = TextEncoder::fit(["a fine film", "a dull film"], &config)?;
/// let batch = encoder.encode_batch(["A fine, fine film!"])?;
/// let vocabulary = encoder.vocabulary();
/// let (a, fine) = (vocabulary.id("a")?, vocabulary.id("fine")?);
/// // "," is unknown, and the text is cut after 4 tokens.
/// assert_eq!(batch.ids, [a, fine, UNK, fine].map(|id| id as i64));
/// # Ok::<(), burnish_data::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextEncoder {
    format_version: u32,
    config: TextEncoderConfig,
    vocabulary: Vocabulary,
}

impl TextEncoder {
    /// Fits the vocabulary on `train_texts` (the training split only).
    pub fn fit<'a>(
        train_texts: impl IntoIterator<Item = &'a str>,
        config: &TextEncoderConfig,
    ) -> Result<TextEncoder, Error> {
        config.validate()?;
        let vocabulary = Vocabulary::fit(train_texts, &config.tokenizer, &config.vocabulary)?;
        Self::with_vocabulary(vocabulary, config)
    }

    /// An encoder with a vocabulary fitted elsewhere (a token folder's `meta.json`, for
    /// example); `config.vocabulary` is not used.
    pub fn with_vocabulary(
        vocabulary: Vocabulary,
        config: &TextEncoderConfig,
    ) -> Result<TextEncoder, Error> {
        config.validate()?;
        Ok(TextEncoder {
            format_version: TEXT_ENCODER_FORMAT_VERSION,
            config: config.clone(),
            vocabulary,
        })
    }

    /// The ids of every token of `text`, neither truncated nor padded (for a language
    /// model's corpus or a generation prompt).
    pub fn encode(&self, text: &str) -> Result<Vec<usize>, Error> {
        let mut ids = Vec::new();
        let mut unknown = None;
        self.config
            .tokenizer
            .for_each_token(text, |token| match self.vocabulary.id(token) {
                Ok(id) => ids.push(id),
                Err(error) => {
                    unknown.get_or_insert(error);
                }
            });
        match unknown {
            Some(error) => Err(error),
            None => Ok(ids),
        }
    }

    /// Encodes each text and pads or truncates it to `max_len` ids.
    pub fn encode_batch<'a>(
        &self,
        texts: impl IntoIterator<Item = &'a str>,
    ) -> Result<PaddedBatch, Error> {
        let sequences = texts
            .into_iter()
            .map(|text| self.encode(text))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(pad_batch(
            &sequences,
            self.config.max_len,
            self.config.truncation,
        ))
    }

    /// The text of `ids`, joined as the tokenizer's [`Tokenizer::separator`] says, padding
    /// skipped.
    ///
    /// # Panics
    ///
    /// When an id is out of range.
    pub fn decode(&self, ids: &[usize]) -> String {
        self.vocabulary
            .decode(ids, self.config.tokenizer.separator())
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.config.tokenizer
    }

    /// The fitted vocabulary.
    pub fn vocabulary(&self) -> &Vocabulary {
        &self.vocabulary
    }

    /// The length of every row of [`TextEncoder::encode_batch`].
    pub fn max_len(&self) -> usize {
        self.config.max_len
    }

    /// Which end of a long text is cut.
    pub fn truncation(&self) -> Truncation {
        self.config.truncation
    }

    /// The config the encoder was fitted with.
    pub fn config(&self) -> &TextEncoderConfig {
        &self.config
    }

    /// Writes the encoder as pretty-printed JSON.
    pub fn save_json(&self, path: &Path) -> Result<(), Error> {
        json_file::save_pretty(self, path)
    }

    /// Reads an encoder written by [`TextEncoder::save_json`].
    pub fn load_json(path: &Path) -> Result<TextEncoder, Error> {
        let encoder: TextEncoder = json_file::load(path)?;
        if encoder.format_version != TEXT_ENCODER_FORMAT_VERSION {
            return Err(Error::FormatVersion {
                path: path.to_path_buf(),
                found: encoder.format_version,
                expected: TEXT_ENCODER_FORMAT_VERSION,
            });
        }
        Ok(encoder)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    use super::*;

    fn dataset(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../datasets")
            .join(name)
    }

    fn words() -> Tokenizer {
        Tokenizer::Word { lowercase: true }
    }

    #[test]
    fn word_tokenizer_splits_punctuation_and_white_space() {
        let tokenizer = Tokenizer::Word { lowercase: false };
        assert_eq!(
            tokenizer.tokenize("  Don't stop—now…\u{a0}«très» bien!!  "),
            [
                "Don", "'", "t", "stop", "—", "now", "…", "«", "très", "»", "bien", "!", "!"
            ]
        );
        assert_eq!(tokenizer.tokenize("नमस्ते दुनिया"), ["नमस्ते", "दुनिया"]);
        assert_eq!(tokenizer.tokenize("3.14 €5"), ["3", ".", "14", "€5"]);
    }

    #[test]
    fn empty_and_blank_text_have_no_tokens() {
        for tokenizer in [words(), Tokenizer::Char { lowercase: true }] {
            assert!(tokenizer.tokenize("").is_empty());
        }
        assert!(words().tokenize(" \n\t ").is_empty());
        assert_eq!(
            Tokenizer::Char { lowercase: false }.tokenize(" \n"),
            [" ", "\n"]
        );
    }

    #[test]
    fn lowercase_is_unicode_aware_and_optional() {
        assert_eq!(words().tokenize("ÉCOLE Straße"), ["école", "straße"]);
        let kept = Tokenizer::Char { lowercase: false };
        assert_eq!(kept.tokenize("Aé"), ["A", "é"]);
    }

    #[test]
    fn tokenizer_reads_its_toml_names() {
        let tokenizer: Tokenizer =
            serde_json::from_str(r#"{"kind": "word", "lowercase": true}"#).unwrap();
        assert_eq!(tokenizer, Tokenizer::Word { lowercase: true });
        let tokenizer: Tokenizer = serde_json::from_str(r#"{"kind": "char"}"#).unwrap();
        assert_eq!(tokenizer, Tokenizer::Char { lowercase: false });
        assert!(serde_json::from_str::<Tokenizer>(r#"{"kind": "char", "lower": true}"#).is_err());
        assert!(serde_json::from_str::<Tokenizer>(r#"{"kind": "bpe"}"#).is_err());
    }

    #[test]
    fn vocabulary_orders_by_frequency_then_text() {
        let vocabulary = Vocabulary::fit(
            ["b a c", "c b", "d c"],
            &words(),
            &VocabularyConfig::default(),
        )
        .unwrap();
        assert_eq!(vocabulary.tokens(), ["<pad>", "<unk>", "c", "b", "a", "d"]);
        assert_eq!(vocabulary.len(), 6);
        assert_eq!(vocabulary.id(PAD_TOKEN).unwrap(), PAD);
        assert_eq!(vocabulary.token(2), "c");
    }

    #[test]
    fn tokens_below_min_freq_become_unknown() {
        let config = VocabularyConfig {
            min_freq: 2,
            ..VocabularyConfig::default()
        };
        let vocabulary = Vocabulary::fit(["x x y"], &words(), &config).unwrap();
        assert_eq!(vocabulary.tokens(), ["<pad>", "<unk>", "x"]);
        assert_eq!(vocabulary.get("y"), None);
        assert_eq!(
            vocabulary.encode(&["y", "x", "never"]).unwrap(),
            [UNK, 2, UNK]
        );
    }

    #[test]
    fn max_size_counts_the_special_tokens_and_cuts_the_rarest() {
        let config = VocabularyConfig {
            max_size: Some(4),
            ..VocabularyConfig::default()
        };
        let vocabulary = Vocabulary::fit(["a a a b b c d"], &words(), &config).unwrap();
        assert_eq!(vocabulary.tokens(), ["<pad>", "<unk>", "a", "b"]);
        assert_eq!(vocabulary.id("c").unwrap(), UNK);

        let too_small = VocabularyConfig {
            max_size: Some(2),
            ..VocabularyConfig::default()
        };
        let error = Vocabulary::fit(["a"], &words(), &too_small).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid max_size: must be above 2 to leave room for a token besides the reserved ones, found 2"
        );
    }

    #[test]
    fn empty_training_texts_are_an_error() {
        let error =
            Vocabulary::fit(["", "  "], &words(), &VocabularyConfig::default()).unwrap_err();
        assert!(matches!(
            error,
            Error::EmptyVocabulary { n_distinct: 0, .. }
        ));
        let config = VocabularyConfig {
            min_freq: 3,
            ..VocabularyConfig::default()
        };
        let error = Vocabulary::fit(["a b a"], &words(), &config).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the vocabulary is empty: none of the 2 distinct tokens of the training texts occurs at least min_freq = 3 times"
        );
        let zero = VocabularyConfig {
            min_freq: 0,
            ..VocabularyConfig::default()
        };
        assert!(Vocabulary::fit(["a"], &words(), &zero).is_err());
    }

    #[test]
    fn vocabulary_without_special_tokens_refuses_unknown_tokens() {
        let config = VocabularyConfig {
            special_tokens: false,
            ..VocabularyConfig::default()
        };
        let chars = Tokenizer::Char { lowercase: false };
        let vocabulary = Vocabulary::fit(["abba"], &chars, &config).unwrap();
        assert_eq!(vocabulary.tokens(), ["a", "b"]);
        assert_eq!(vocabulary.encode(&["b", "a"]).unwrap(), [1, 0]);
        // Without <pad>, id 0 is a real token and decodes as itself.
        assert_eq!(vocabulary.decode(&[0, 1, 1, 0], chars.separator()), "abba");
        let error = vocabulary.encode(&["a", "z"]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "token \"z\" is not in the vocabulary, which has no <unk> token to stand for it"
        );
    }

    #[test]
    fn decode_skips_padding_and_joins_words_with_spaces() {
        let vocabulary =
            Vocabulary::fit(["hello world"], &words(), &VocabularyConfig::default()).unwrap();
        let hello = vocabulary.id("hello").unwrap();
        let world = vocabulary.id("world").unwrap();
        assert_eq!(
            vocabulary.decode(&[hello, UNK, world, PAD, PAD], " "),
            "hello <unk> world"
        );
        assert_eq!(vocabulary.decode(&[], " "), "");
    }

    #[test]
    #[should_panic(expected = "token id 9 is out of range for a vocabulary of 3 tokens")]
    fn out_of_range_ids_panic_with_the_sizes() {
        let vocabulary = Vocabulary::fit(["a"], &words(), &VocabularyConfig::default()).unwrap();
        vocabulary.token(9);
    }

    #[test]
    fn padding_fills_the_end_and_marks_it() {
        let batch = pad_batch(&[vec![4, 5], vec![], vec![6, 7, 8]], 3, Truncation::Tail);
        assert_eq!(batch.ids, [4, 5, 0, 0, 0, 0, 6, 7, 8]);
        assert_eq!(
            batch.mask,
            [false, false, true, true, true, true, false, false, false]
        );
        assert_eq!(batch.lengths, [2, 0, 3]);
        assert_eq!(batch.n_sequences(), 3);
        assert_eq!(batch.row(2), [6, 7, 8]);
    }

    #[test]
    fn truncation_cuts_the_named_end() {
        let long = vec![vec![1, 2, 3, 4, 5]];
        let tail = pad_batch(&long, 3, Truncation::Tail);
        assert_eq!(tail.ids, [1, 2, 3]);
        assert_eq!(tail.lengths, [3]);
        let head = pad_batch(&long, 3, Truncation::Head);
        assert_eq!(head.ids, [3, 4, 5]);
        assert_eq!(head.mask, [false; 3]);
        let empty = pad_batch(&[], 3, Truncation::Head);
        assert!(empty.ids.is_empty() && empty.lengths.is_empty());
    }

    #[test]
    fn encoder_round_trips_through_json() {
        let config = TextEncoderConfig {
            tokenizer: words(),
            vocabulary: VocabularyConfig {
                min_freq: 1,
                max_size: Some(10),
                special_tokens: true,
            },
            max_len: 5,
            truncation: Truncation::Head,
        };
        let encoder = TextEncoder::fit(["the cat sat", "the dog, the cat"], &config).unwrap();
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("text_encoder.json");
        encoder.save_json(&path).unwrap();
        let loaded = TextEncoder::load_json(&path).unwrap();
        assert_eq!(loaded, encoder);
        let texts = ["The cat sat on the mat, and the dog sat too", "", "cat"];
        assert_eq!(
            loaded.encode_batch(texts).unwrap(),
            encoder.encode_batch(texts).unwrap()
        );
        let saved = std::fs::read_to_string(&path).unwrap();
        assert!(saved.ends_with("}\n"), "{saved}");
    }

    #[test]
    fn loading_refuses_bad_files() {
        let folder = tempfile::tempdir().unwrap();
        let missing = folder.path().join("missing.json");
        assert!(matches!(
            TextEncoder::load_json(&missing),
            Err(Error::FileNotFound { .. })
        ));
        let encoder = TextEncoder::fit(["a b"], &TextEncoderConfig::default()).unwrap();
        let path = folder.path().join("encoder.json");
        encoder.save_json(&path).unwrap();
        let saved = std::fs::read_to_string(&path).unwrap();

        let newer = saved.replace("\"format_version\": 1", "\"format_version\": 2");
        std::fs::write(&path, newer).unwrap();
        assert!(matches!(
            TextEncoder::load_json(&path),
            Err(Error::FormatVersion { found: 2, .. })
        ));

        let duplicated = saved.replace("\"b\"", "\"a\"");
        std::fs::write(&path, duplicated).unwrap();
        let error = TextEncoder::load_json(&path).unwrap_err();
        assert!(matches!(error, Error::Json { .. }), "{error}");
    }

    #[test]
    fn encoder_config_validates_max_len() {
        let config = TextEncoderConfig {
            max_len: 0,
            ..TextEncoderConfig::default()
        };
        let error = TextEncoder::fit(["a"], &config).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid max_len: must be at least 1, found 0"
        );
        let config: TextEncoderConfig =
            serde_json::from_str(r#"{"tokenizer": {"kind": "char"}}"#).unwrap();
        assert_eq!(config.max_len, 256);
        assert_eq!(config.vocabulary, VocabularyConfig::default());
    }

    #[test]
    fn movie_reviews_tokenize_and_fit_on_a_training_subset() {
        let mut reader = csv::Reader::from_path(dataset("movie_reviews.csv")).unwrap();
        let texts: Vec<String> = reader
            .records()
            .map(|record| record.unwrap()[0].to_string())
            .collect();
        assert_eq!(texts.len(), 10678);
        let (train, held_out) = texts.split_at(8000);
        let config = TextEncoderConfig {
            tokenizer: words(),
            vocabulary: VocabularyConfig {
                min_freq: 2,
                max_size: Some(10_000),
                special_tokens: true,
            },
            max_len: 32,
            truncation: Truncation::Tail,
        };
        let encoder = TextEncoder::fit(train.iter().map(String::as_str), &config).unwrap();
        let vocabulary = encoder.vocabulary();
        assert!(
            vocabulary.len() > 5_000 && vocabulary.len() <= 10_000,
            "{}",
            vocabulary.len()
        );
        // The most frequent tokens of English reviews come first.
        let top: BTreeSet<&str> = vocabulary.tokens()[2..7]
            .iter()
            .map(String::as_str)
            .collect();
        assert!(top.contains("the") && top.contains(","), "{top:?}");

        let batch = encoder
            .encode_batch(held_out.iter().map(String::as_str))
            .unwrap();
        assert_eq!(batch.n_sequences(), held_out.len());
        assert_eq!(batch.ids.len(), held_out.len() * 32);
        let n_real: usize = batch.lengths.iter().sum();
        let n_unknown = batch.ids.iter().filter(|&&id| id == UNK as i64).count();
        assert!(
            n_unknown > 0,
            "held-out reviews must have words the training part lacks"
        );
        assert!(n_unknown * 10 < n_real, "{n_unknown} of {n_real} unknown");
        assert!(batch.lengths.contains(&32));

        let first = encoder.encode(&train[0]).unwrap();
        let words = words().tokenize(&train[0]);
        assert_eq!(first.len(), words.len());
        // Words seen once ("claud", "segal") are below min_freq = 2.
        let expected: Vec<&str> = words
            .iter()
            .map(|word| match vocabulary.get(word) {
                Some(_) => word.as_str(),
                None => UNK_TOKEN,
            })
            .collect();
        assert!(expected.contains(&UNK_TOKEN) && expected.contains(&"conan"));
        assert_eq!(encoder.decode(&first), expected.join(" "));
    }

    #[test]
    fn tiny_shakespeare_has_65_characters() {
        let text = std::fs::read_to_string(dataset("tiny_shakespeare.txt")).unwrap();
        let config = TextEncoderConfig {
            tokenizer: Tokenizer::Char { lowercase: false },
            vocabulary: VocabularyConfig {
                special_tokens: false,
                ..VocabularyConfig::default()
            },
            ..TextEncoderConfig::default()
        };
        let encoder = TextEncoder::fit([text.as_str()], &config).unwrap();
        let vocabulary = encoder.vocabulary();
        assert_eq!(vocabulary.len(), 65);
        assert!(!vocabulary.has_special_tokens());
        let ids = encoder.encode(&text).unwrap();
        assert_eq!(ids.len(), text.chars().count());
        assert!(ids.iter().all(|&id| id < 65));
        let opening = &ids[..20];
        assert_eq!(
            encoder.decode(opening),
            text.chars().take(20).collect::<String>()
        );
    }
}

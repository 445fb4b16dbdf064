//! Token files of the real tiny_shakespeare corpus hold exactly the ids that the in-memory
//! language-model path gives it, for the character and the word tokenizer.

use std::path::{Path, PathBuf};

use burnish_data::token_file::{TRAIN_FILE, VALID_FILE};
use burnish_data::{
    PrepareTextConfig, TextEncoder, TextEncoderConfig, TokenFileMeta, Tokenizer, prepare_text,
};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/tiny_shakespeare.txt")
}

fn u16_ids(path: &Path) -> Vec<usize> {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(bytes.len() % 2, 0, "{} holds a half id", path.display());
    bytes
        .chunks_exact(2)
        .map(|pair| u16::from_le_bytes([pair[0], pair[1]]) as usize)
        .collect()
}

#[rstest::rstest]
fn tiny_shakespeare_token_files_hold_the_in_memory_ids(
    #[values(Tokenizer::Char { lowercase: false }, Tokenizer::Word { lowercase: true })]
    tokenizer: Tokenizer,
) {
    let text = std::fs::read_to_string(corpus()).unwrap();
    // As `burnish train` cuts it: the last 10% of the characters held out.
    let train_chars = (0.9 * text.chars().count() as f64).round() as usize;
    let cut = text.char_indices().nth(train_chars).unwrap().0;
    let (train, valid) = text.split_at(cut);
    let encoder = TextEncoder::fit(
        [train],
        &TextEncoderConfig {
            tokenizer,
            ..TextEncoderConfig::default()
        },
    )
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let config = PrepareTextConfig {
        tokenizer,
        valid: 0.1,
        // Small pieces, so that the corpus is read in hundreds of them.
        chunk_bytes: 4096,
    };
    let mut passes = Vec::new();
    let meta = prepare_text(&corpus(), dir.path(), &config, &mut |pass, _| {
        if passes.last() != Some(&pass) {
            passes.push(pass);
        }
    })
    .unwrap();

    assert_eq!(&meta.vocabulary, encoder.vocabulary());
    let train_ids = u16_ids(&dir.path().join(TRAIN_FILE));
    let valid_ids = u16_ids(&dir.path().join(VALID_FILE));
    assert_eq!(train_ids, encoder.encode(train).unwrap());
    assert_eq!(valid_ids, encoder.encode(valid).unwrap());
    assert_eq!(meta.train_tokens, train_ids.len() as u64);
    assert_eq!(meta.valid_tokens, valid_ids.len() as u64);
    assert_eq!(meta.id_bytes, 2);
    assert_eq!(meta.corpus.bytes, text.len() as u64);
    assert_eq!(TokenFileMeta::load(dir.path()).unwrap(), meta);
    assert_eq!(passes.len(), 3, "three passes, each reported: {passes:?}");
}

#[test]
fn a_held_out_share_outside_0_1_or_too_short_a_corpus_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for valid in [0.0, 1.0, f64::NAN] {
        let config = PrepareTextConfig {
            valid,
            ..PrepareTextConfig::default()
        };
        let error = prepare_text(&corpus(), dir.path(), &config, &mut |_, _| {}).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("invalid held-out share: must be between 0 and 1"),
            "{error}"
        );
    }
    let short = dir.path().join("short.txt");
    std::fs::write(&short, "abc").unwrap();
    let error = prepare_text(
        &short,
        &dir.path().join("out"),
        &PrepareTextConfig::default(),
        &mut |_, _| {},
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "invalid held-out share: {}: 3 characters leave no held-out part at 0.1",
            short.display()
        )
    );
}

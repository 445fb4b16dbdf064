//! A checkpoint's `tokenizer.json` gives exactly the ids of the Python tokenizer (tokenizers
//! 0.23.3, through transformers 5.25), on the fixtures of `tests/golden/hf/` (see
//! `../shared/golden/hf/README.md` for how they were made).

use std::path::{Path, PathBuf};

use burnish_data::{Error, PretrainedTokenizer};
use serde_json::Value;

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/hf")
        .join(name)
}

fn bert_uncased(max_len: usize) -> PretrainedTokenizer {
    PretrainedTokenizer::from_file(&golden("bert_tiny/tokenizer.json"), max_len).unwrap()
}

fn expected(name: &str) -> Value {
    let text = std::fs::read_to_string(golden(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn usizes(value: &Value) -> Vec<usize> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_u64().unwrap() as usize)
        .collect()
}

/// The row of a padded batch without its padding (the mask's zeros).
fn unpadded(ids: &Value, mask: &Value) -> Vec<usize> {
    let ids = usizes(ids);
    let mask = usizes(mask);
    ids.into_iter()
        .zip(mask)
        .filter(|&(_, keep)| keep == 1)
        .map(|(id, _)| id)
        .collect()
}

#[test]
fn single_texts_get_the_python_ids() {
    let tokenizer = bert_uncased(128);
    let mut checked = 0;
    for fixture in ["bert_tiny/expected.json", "minilm/expected.json"] {
        let expected = expected(fixture);
        let cases: Vec<(Value, Value, Value)> = match expected.get("cases") {
            Some(cases) => cases
                .as_array()
                .unwrap()
                .iter()
                .filter(|case| case["name"] == "padded_batch")
                .map(|case| {
                    (
                        case["texts"].clone(),
                        case["input_ids"].clone(),
                        case["attention_mask"].clone(),
                    )
                })
                .collect(),
            None => vec![(
                expected["texts"].clone(),
                expected["input_ids"].clone(),
                expected["attention_mask"].clone(),
            )],
        };
        for (texts, ids, masks) in cases {
            for (row, text) in texts.as_array().unwrap().iter().enumerate() {
                let text = text.as_str().unwrap();
                assert_eq!(
                    tokenizer.encode(text).unwrap(),
                    unpadded(&ids[row], &masks[row]),
                    "{fixture}: {text:?}"
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 8, "three bert_tiny sentences and five MiniLM ones");
}

#[test]
fn a_padded_batch_matches_the_python_batch_and_mask() {
    let expected = expected("bert_tiny/expected.json");
    let case = &expected["cases"][0];
    assert_eq!(case["name"], "padded_batch");
    let texts: Vec<&str> = case["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|text| text.as_str().unwrap())
        .collect();
    // The Python batch is padded to its longest row, 11 ids.
    let batch = bert_uncased(11).encode_batch(texts).unwrap();
    let want_ids: Vec<i64> = case["input_ids"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| usizes(row).into_iter().map(|id| id as i64))
        .collect();
    let want_padding: Vec<bool> = case["attention_mask"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| usizes(row).into_iter().map(|keep| keep == 0))
        .collect();
    assert_eq!(batch.ids, want_ids);
    assert_eq!(batch.mask, want_padding);
    assert_eq!(batch.lengths, [8, 11, 3]);
}

#[test]
fn a_sentence_pair_gets_the_python_ids_and_token_types() {
    let expected = expected("bert_tiny/expected.json");
    let case = &expected["cases"][1];
    assert_eq!(case["name"], "sentence_pair");
    let texts = case["texts"].as_array().unwrap();
    let pair = bert_uncased(128)
        .encode_pair(texts[0].as_str().unwrap(), texts[1].as_str().unwrap())
        .unwrap();
    assert_eq!(pair.ids, usizes(&case["input_ids"][0]));
    assert_eq!(pair.type_ids, usizes(&case["token_type_ids"][0]));
}

#[test]
fn long_texts_are_cut_to_max_len_keeping_the_closing_special_token() {
    let tokenizer = bert_uncased(6);
    // [CLS] i hated every minute [SEP], as transformers' truncation=True, max_length=6 gives.
    assert_eq!(
        tokenizer
            .encode("I hated every minute of it, honestly!")
            .unwrap(),
        [101, 1045, 6283, 2296, 3371, 102]
    );
    // The file's own padding to 128 is off: a short text stays short.
    assert_eq!(bert_uncased(128).encode("ok").unwrap(), [101, 7929, 102]);
}

#[test]
fn bad_files_and_lengths_are_errors_that_name_the_file() {
    let missing = PretrainedTokenizer::from_file(Path::new("/no/such/tokenizer.json"), 64);
    assert!(
        matches!(missing, Err(Error::FileNotFound { .. })),
        "{missing:?}"
    );

    let not_json = PretrainedTokenizer::from_json(
        "{\"model\": 3}".to_string(),
        Path::new("ckpt/tokenizer.json"),
        64,
    )
    .unwrap_err()
    .to_string();
    assert!(
        not_json.starts_with("ckpt/tokenizer.json: not a Hugging Face tokenizer file"),
        "{not_json}"
    );

    // [CLS] and [SEP] alone need two ids.
    let too_short = PretrainedTokenizer::from_file(&golden("bert_tiny/tokenizer.json"), 2)
        .unwrap_err()
        .to_string();
    assert!(
        too_short.ends_with(
            "tokenizer.json: max_len = 2 leaves no room for text beside the 2 special tokens"
        ),
        "{too_short}"
    );
    assert!(PretrainedTokenizer::from_file(&golden("bert_tiny/tokenizer.json"), 0).is_err());
    assert_eq!(bert_uncased(3).encode("ok ok").unwrap(), [101, 7929, 102]);
}

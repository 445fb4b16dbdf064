//! burnish-data: from a delimited file to the numbers a model eats.
//!
//! Reads CSV and TSV files into typed columns ([`read_table`], [`Table`]), infers each
//! column's kind ([`schema`]), and fits the preprocessing of a tabular experiment on the
//! training rows only ([`Preprocessor`]): missing-value imputation ([`impute`]), scaling
//! ([`scale`]), one-hot or ordinal categories and the target's label encoder ([`encode`]).
//! [`split`] makes seeded train/validation/test splits and k folds, plain or stratified.
//! Beyond tables: [`text`] tokenizes texts and numbers their tokens with a vocabulary fitted on
//! the training texts, [`pretrained_tokenizer`] encodes texts with a checkpoint's own
//! `tokenizer.json`, [`token_file`] tokenizes a corpus once into flat files of ids as a stream,
//! [`series`] cuts a time series into forecasting windows in time order,
//! and [`image`] arranges pixel columns as `[n, channels, height, width]` images.
//!
//! [`loader`] hands the result to Burn: a `Dataset` and a `Batcher` of tabular rows, and the
//! seeded order of each epoch. [`text_loader`], [`lm_loader`], [`series_loader`] and
//! [`image_loader`] do the same for padded texts, windows of a token stream, forecasting
//! windows and images.
//!
//! The crate must not train or print. Every failure is one [`Error`] that names the
//! file and, where it applies, the line and the column.

pub mod encode;
pub mod error;
pub mod excerpt;
pub mod image;
pub mod image_loader;
pub mod impute;
pub mod lm_loader;
pub mod loader;
pub mod preprocessor;
pub mod pretrained_tokenizer;
pub mod read;
pub mod scale;
pub mod schema;
pub mod series;
pub mod series_loader;
pub mod split;
pub mod table;
pub mod text;
pub mod text_loader;
pub mod token_file;

mod json_file;

pub use encode::{
    CategoricalEncoding, CategoryEncoder, LabelEncoder, UNSEEN_ORDINAL, target_labels,
};
pub use error::Error;
pub use image::{ImageConfig, ImageShape, Images, PixelLayout, pixels_to_images};
pub use image_loader::{ImageBatch, ImageBatcher, ImageDataset, ImageItem};
pub use impute::{CONSTANT_CATEGORY, NumericImputation, numeric_fill_value};
pub use lm_loader::{LmBatch, LmBatcher, LmItem, TokenStreamDataset};
pub use loader::{
    BatchTargets, EpochOrder, TabularBatch, TabularBatcher, TabularDataset, TabularItem,
    TargetValue, feature_rows,
};
pub use preprocessor::{Features, PreprocessConfig, Preprocessor, Targets, Task};
pub use pretrained_tokenizer::{PairEncoding, PretrainedTokenizer};
pub use read::{ReadOptions, delimiter_for, parse_table, read_table};
pub use scale::{Scaler, Scaling};
pub use schema::{ColumnKind, DEFAULT_MISSING_MARKERS, infer_string_kind};
pub use series::{
    ChronologicalSplit, ForecastingData, SeriesScaler, WindowConfig, Windows, chronological_split,
    span_windows, windows,
};
pub use series_loader::{SeriesBatch, SeriesBatcher, SeriesDataset, SeriesItem};
pub use split::{Fold, Split, SplitRatios, k_fold, stratified_k_fold, train_valid_test_split};
pub use table::{Column, ColumnData, StringValues, Table};
pub use text::{
    PAD, PAD_TOKEN, PaddedBatch, TextEncoder, TextEncoderConfig, TokenCounts, Tokenizer,
    Truncation, UNK, UNK_TOKEN, Vocabulary, VocabularyConfig, pad_batch,
};
pub use text_loader::{
    TextBatch, TextBatcher, TextDataset, TextItem, token_rows, token_rows_trimmed,
};
pub use token_file::{
    PreparePass, PrepareTextConfig, TokenFileMeta, TokenFileStream, TokenPart, prepare_text,
};

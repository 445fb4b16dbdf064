//! The data steps every command shares: reading the experiment's table, splitting it, the
//! fitted [`Encoding`] from rows to model inputs, and the objective it implies.

use std::path::Path;

use anyhow::Context;
use burn::tensor::Device;
use burnish_data::excerpt::{column_list, quoted};
use burnish_data::{
    ColumnKind, Features, LabelEncoder, NumericImputation, PaddedBatch, PreprocessConfig,
    Preprocessor, PretrainedTokenizer, ReadOptions, Split, SplitRatios, Table, TabularDataset,
    Targets, Task, TextDataset, TextEncoder, feature_rows, token_rows, token_rows_trimmed,
};
use burnish_models::{InputShape, ModelInput, ModelSpec};
use burnish_train::{Batch, Examples, Objective};

use crate::Experiment;
use crate::run_dir::RunDir;

/// How to read the experiment's data file (and any file predicted on later).
pub fn read_options(experiment: &Experiment) -> ReadOptions {
    ReadOptions {
        delimiter: experiment.data.delimiter.map(|delimiter| delimiter.0),
        missing_markers: experiment
            .data
            .missing_markers
            .clone()
            .unwrap_or_else(|| ReadOptions::default().missing_markers),
        column_kinds: {
            let mut kinds = experiment.data.columns.clone();
            if let Some(text) = &experiment.data.text {
                kinds.insert(text.column.clone(), ColumnKind::Text);
            }
            kinds
        },
        drop_columns: experiment.data.drop_columns.clone(),
    }
}

/// The preprocessing the `[data]` table asks for.
pub fn preprocess_config(experiment: &Experiment) -> PreprocessConfig {
    PreprocessConfig {
        missing: experiment.data.missing,
        fill_value: experiment.data.fill_value,
        scale: experiment.data.scale,
        categorical: experiment.data.categorical,
    }
}

/// Reads `path` as the experiment says, dropping rows with gaps when `missing = "drop"`.
pub fn read_table(experiment: &Experiment, path: &Path) -> anyhow::Result<Table> {
    let table =
        burnish_data::read_table(path, &read_options(experiment)).map_err(|error| {
            match (&error, &experiment.data.text) {
                (
                    burnish_data::Error::UnknownColumn {
                        column, available, ..
                    },
                    Some(text),
                ) if *column == text.column => anyhow::anyhow!(
                    "{}: data.text.column {} is not a column of the file; {}",
                    path.display(),
                    quoted(column),
                    column_list(available)
                ),
                _ => error.into(),
            }
        })?;
    Ok(if experiment.data.missing == NumericImputation::Drop {
        table.without_missing()
    } else {
        table
    })
}

/// The seeded train/valid/test split of the table, stratified by the target where asked.
pub fn split(experiment: &Experiment, table: &Table) -> anyhow::Result<Split> {
    anyhow::ensure!(
        !experiment.data.target.is_empty(),
        "`data.target` is missing: name the column to predict"
    );
    let labels = burnish_data::target_labels(table, &experiment.data.target)?;
    require_two_classes(experiment, table, &labels)?;
    let stratify = experiment.data.split.stratify && experiment.data.task == Task::Classification;
    let split = burnish_data::train_valid_test_split(
        table.n_rows(),
        SplitRatios {
            train: experiment.data.split.train,
            valid: experiment.data.split.valid,
            test: experiment.data.split.test,
        },
        stratify.then_some(labels.as_slice()),
        experiment.seed,
    )
    .map_err(|error| error.with_path(table.path()))?;
    Ok(split)
}

/// Refuses a classification target with one class in the whole table (`labels` are its
/// target's values), before any split or training.
pub fn require_two_classes(
    experiment: &Experiment,
    table: &Table,
    labels: &[String],
) -> anyhow::Result<()> {
    if experiment.data.task == Task::Classification {
        LabelEncoder::from_labels(labels).require_two_classes(
            table,
            &experiment.data.target,
            format!("all {} rows", table.n_rows()),
        )?;
    }
    Ok(())
}

/// What the model is trained for, given the fitted preprocessor.
pub fn objective(preprocessor: &Preprocessor) -> Objective {
    match preprocessor.task() {
        Task::Classification => Objective::Classification {
            n_classes: preprocessor.class_names().len(),
        },
        Task::Regression => Objective::Regression,
    }
}

/// Refuses `command` for experiments whose rows are not independent examples: language
/// models and forecasters train with `burnish train` only.
pub fn require_independent_rows(experiment: &Experiment, command: &str) -> anyhow::Result<()> {
    let kind = if experiment.data.language_model.is_some() {
        "a language model"
    } else if experiment.data.series.is_some() {
        "a forecaster"
    } else {
        return Ok(());
    };
    anyhow::bail!(
        "`{command}` needs a table of independent rows, and {} trains {kind}; use `burnish train`",
        experiment.name
    )
}

/// The run folder's file that holds a fitted text encoder.
pub const TEXT_ENCODER_FILE: &str = "text_encoder.json";

/// How a table's rows become what the model reads and what it should output, fitted on the
/// training rows only: the tabular preprocessor (features and target) and, when the
/// experiment reads a text column (`data.text`), how that column becomes ids, whose ids the
/// model then reads instead of the features.
pub struct Encoding {
    /// Features and target.
    pub preprocessor: Preprocessor,
    /// The text column's encoding, when the model reads text.
    pub text: Option<TextEncoding>,
}

/// How a text column becomes token ids.
pub enum TextEncoding {
    /// A tokenizer and a vocabulary fitted on the training texts.
    Fitted(TextEncoder),
    /// A pretrained checkpoint's own tokenizer (`kind = "bert"`), which fits nothing (boxed:
    /// the `tokenizers` pipeline is large beside a fitted encoder).
    Pretrained(Box<PretrainedTokenizer>),
}

impl TextEncoding {
    fn encode_batch<'a>(
        &self,
        texts: impl IntoIterator<Item = &'a str>,
    ) -> Result<PaddedBatch, burnish_data::Error> {
        match self {
            Self::Fitted(encoder) => encoder.encode_batch(texts),
            Self::Pretrained(tokenizer) => tokenizer.encode_batch(texts),
        }
    }

    fn input_shape(&self) -> InputShape {
        let (vocab_size, max_len) = match self {
            Self::Fitted(encoder) => (encoder.vocabulary().len(), encoder.max_len()),
            Self::Pretrained(tokenizer) => (tokenizer.vocab_size(), tokenizer.max_len()),
        };
        InputShape::Tokens {
            vocab_size,
            max_len,
        }
    }
}

impl Encoding {
    /// Fits the encoding on `train` (the training rows).
    pub fn fit(experiment: &Experiment, train: &Table) -> anyhow::Result<Self> {
        let preprocessor = Preprocessor::fit(
            train,
            &experiment.data.target,
            experiment.data.task,
            &preprocess_config(experiment),
        )?;
        let text = match (&experiment.data.text, &experiment.model) {
            (None, ModelSpec::Bert(_)) => anyhow::bail!(
                "a bert model reads a text column: set data.text = {{ column = \"...\", max_len = 64 }}"
            ),
            (None, _) => None,
            (Some(section), ModelSpec::Bert(spec)) => Some(TextEncoding::Pretrained(Box::new(
                crate::pretrained::tokenizer(spec, section.max_len).context("data.text")?,
            ))),
            (Some(section), _) => {
                let texts = text_column(train, &section.column)?;
                let encoder =
                    TextEncoder::fit(texts.iter().map(String::as_str), &section.encoder_config())
                        .context("data.text")?;
                Some(TextEncoding::Fitted(encoder))
            }
        };
        Ok(Self { preprocessor, text })
    }

    /// The encoding saved in `run_dir` by [`Encoding::save`], for the run's `experiment`.
    pub fn load(run_dir: &RunDir, experiment: &Experiment) -> anyhow::Result<Self> {
        let preprocessor = Preprocessor::load_json(&run_dir.file("preprocessor.json"))?;
        let text_file = run_dir.file(TEXT_ENCODER_FILE);
        let text = match (&experiment.model, &experiment.data.text) {
            (ModelSpec::Bert(_), Some(section)) => Some(TextEncoding::Pretrained(Box::new(
                crate::pretrained::saved_tokenizer(run_dir, section.max_len)?,
            ))),
            _ if text_file.exists() => {
                Some(TextEncoding::Fitted(TextEncoder::load_json(&text_file)?))
            }
            _ => None,
        };
        Ok(Self { preprocessor, text })
    }

    /// Writes the fitted encoding into `run_dir`: a pretrained tokenizer as the very text of
    /// the `tokenizer.json` it was read from.
    pub fn save(&self, run_dir: &RunDir) -> anyhow::Result<()> {
        self.preprocessor
            .save_json(&run_dir.file("preprocessor.json"))?;
        match &self.text {
            Some(TextEncoding::Fitted(text)) => text.save_json(&run_dir.file(TEXT_ENCODER_FILE))?,
            Some(TextEncoding::Pretrained(tokenizer)) => {
                run_dir.write(crate::pretrained::TOKENIZER_COPY, tokenizer.json())?
            }
            None => {}
        }
        Ok(())
    }

    /// What the model reads: feature rows, or token ids of the text column.
    pub fn input_shape(&self) -> InputShape {
        match &self.text {
            None => InputShape::Features {
                d_input: self.preprocessor.n_features(),
            },
            Some(text) => text.input_shape(),
        }
    }

    /// What the model is trained for.
    pub fn objective(&self) -> Objective {
        objective(&self.preprocessor)
    }

    /// The model inputs of every row of `table`.
    pub fn inputs(&self, experiment: &Experiment, table: &Table) -> anyhow::Result<RowInputs> {
        match (&self.text, &experiment.data.text) {
            (Some(encoder), Some(section)) => {
                let texts = text_column(table, &section.column)?;
                let padded = encoder.encode_batch(texts.iter().map(String::as_str))?;
                Ok(RowInputs::Tokens {
                    padded,
                    trimmed: matches!(encoder, TextEncoding::Pretrained(_)),
                })
            }
            (None, None) => Ok(RowInputs::Features(self.preprocessor.transform(table)?)),
            _ => anyhow::bail!(
                "the run's saved encoding does not match its config.toml's `data.text`"
            ),
        }
    }

    /// The inputs and encoded targets of every row of `table`, ready to train or score on.
    pub fn examples(&self, experiment: &Experiment, table: &Table) -> anyhow::Result<Part> {
        let targets = self.preprocessor.encode_target(table)?;
        Ok(match self.inputs(experiment, table)? {
            RowInputs::Features(features) => Part::Tabular(TabularDataset::new(features, targets)),
            RowInputs::Tokens { padded, trimmed } => {
                let dataset = TextDataset::new(padded, targets);
                Part::Text(if trimmed { dataset.trimmed() } else { dataset })
            }
        })
    }
}

/// The model inputs of a table's rows, without targets (what `predict` needs).
pub enum RowInputs {
    /// Preprocessed feature rows.
    Features(Features),
    /// Token ids of the text column, padded.
    Tokens {
        /// The ids.
        padded: PaddedBatch,
        /// Whether batches are cut to their longest text (for a pretrained model, whose
        /// masked attention and pooling make the padding columns useless work).
        trimmed: bool,
    },
}

impl RowInputs {
    /// The number of rows.
    pub fn n_rows(&self) -> usize {
        match self {
            Self::Features(features) => features.n_rows,
            Self::Tokens { padded, .. } => padded.n_sequences(),
        }
    }

    /// The inputs of the given rows, in that order, on `device`.
    pub fn rows(&self, rows: &[usize], device: &Device) -> ModelInput {
        match self {
            Self::Features(features) => ModelInput::Features(feature_rows(features, rows, device)),
            Self::Tokens { padded, trimmed } => {
                let (ids, padding) = if *trimmed {
                    token_rows_trimmed(padded, rows, device)
                } else {
                    token_rows(padded, rows, device)
                };
                ModelInput::Tokens {
                    ids,
                    padding: Some(padding),
                }
            }
        }
    }
}

/// Labelled examples of one part of a split, in the form the model reads.
pub enum Part {
    /// Feature rows.
    Tabular(TabularDataset),
    /// Token ids of a text column.
    Text(TextDataset),
}

impl Part {
    /// The encoded targets.
    pub fn targets(&self) -> &Targets {
        match self {
            Self::Tabular(dataset) => dataset.targets(),
            Self::Text(dataset) => dataset.targets(),
        }
    }

    /// The model inputs of `rows`, in that order, on `device`.
    pub fn inputs(&self, rows: &[usize], device: &Device) -> ModelInput {
        match self {
            Self::Tabular(dataset) => ModelInput::Features(dataset.batch(rows, device).inputs),
            Self::Text(dataset) => {
                let batch = dataset.batch(rows, device);
                ModelInput::Tokens {
                    ids: batch.ids,
                    padding: Some(batch.padding_mask),
                }
            }
        }
    }

    fn examples(&self) -> &dyn Examples {
        match self {
            Self::Tabular(dataset) => dataset,
            Self::Text(dataset) => dataset,
        }
    }
}

impl Examples for Part {
    fn n_examples(&self) -> usize {
        self.examples().n_examples()
    }

    fn batch(&self, rows: &[usize], device: &Device) -> Result<Batch, burnish_train::Error> {
        self.examples().batch(rows, device)
    }

    fn classes(&self) -> Option<&[usize]> {
        self.examples().classes()
    }
}

/// Every row of the text column `name`, a missing cell as an empty text.
fn text_column(table: &Table, name: &str) -> anyhow::Result<Vec<String>> {
    let column = table.column(name).with_context(|| {
        format!(
            "{}: data.text.column {} is not a column of the file; {}",
            table.path().display(),
            quoted(name),
            column_list(&table.column_names())
        )
    })?;
    let values = column.string_values().with_context(|| {
        format!(
            "{}: data.text.column {} holds numbers, not text",
            table.path().display(),
            quoted(name)
        )
    })?;
    Ok((0..values.len())
        .map(|row| values.get(row).unwrap_or_default().to_string())
        .collect())
}

//! What can stop training.

/// A training run that cannot start or cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A training setting is out of range.
    #[error("invalid `{field}`: {reason}")]
    Invalid {
        /// The experiment-file key at fault.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The loss became NaN or infinite.
    #[error(
        "the training loss became {value} at epoch {epoch}, batch {batch}; lower the learning rate, clip gradients (`grad_clip_norm`) or check the data for extreme values"
    )]
    NonFiniteLoss {
        /// The 1-based epoch.
        epoch: usize,
        /// The 1-based batch within the epoch.
        batch: usize,
        /// The loss value (`NaN`, `inf` or `-inf`).
        value: f32,
    },
    /// A checkpoint cannot be read or written.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The file or folder.
        path: std::path::PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Training was interrupted (Ctrl-C) after a batch; a checkpoint holds everything so far.
    #[error(
        "interrupted at epoch {epoch}, batch {batch}; the checkpoint {checkpoint} holds the run so far"
    )]
    Interrupted {
        /// The 1-based epoch.
        epoch: usize,
        /// The 1-based batch within the epoch.
        batch: usize,
        /// The checkpoint written.
        checkpoint: std::path::PathBuf,
    },
    /// The processes of a multi-process run disagree, or their weights cannot be shared.
    #[error("multi-process training: {0}")]
    Collective(String),
    /// A worker of data-parallel training failed.
    #[error("data-parallel training: {0}")]
    DataParallel(String),
    /// A batch could not be read from the data (a token file that cannot be read, has
    /// changed, or holds an id beyond its vocabulary).
    #[error("{source}{}", checkpoint_note(checkpoint.as_deref()))]
    Data {
        /// What the data reader reported, naming the file.
        source: burnish_data::Error,
        /// The checkpoint written just before the failed batch, when the run writes them.
        checkpoint: Option<std::path::PathBuf>,
    },
    /// Writing an output file failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl From<burnish_data::Error> for Error {
    fn from(source: burnish_data::Error) -> Self {
        Error::Data {
            source,
            checkpoint: None,
        }
    }
}

fn checkpoint_note(checkpoint: Option<&std::path::Path>) -> String {
    checkpoint.map_or_else(String::new, |path| {
        format!("; the checkpoint {} holds the run so far", path.display())
    })
}

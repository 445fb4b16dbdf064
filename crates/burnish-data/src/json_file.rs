//! Writing and reading the fitted artifacts of this crate as JSON files.
//!
//! The text encoder and the series scaler are saved into a run folder and read back by
//! `burnish evaluate` and `burnish predict`; both go through these two functions so that their
//! files look alike (pretty-printed, one trailing newline) and their failures are the same
//! [`Error`] variants. This module only moves bytes; each artifact checks its own format
//! version after loading.

use std::io::{self, BufWriter, Write as _};
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Error;

/// Writes `value` to `path` as pretty-printed JSON with a trailing newline.
pub(crate) fn save_pretty<T: Serialize>(value: &T, path: &Path) -> Result<(), Error> {
    let io_error = |source: io::Error| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::create(path).map_err(io_error)?;
    let mut writer = BufWriter::new(file);
    serde_json::to_writer_pretty(&mut writer, value).map_err(|error| io_error(error.into()))?;
    writer.write_all(b"\n").map_err(io_error)?;
    writer.flush().map_err(io_error)
}

/// Reads a value written by [`save_pretty`].
pub(crate) fn load<T: DeserializeOwned>(path: &Path) -> Result<T, Error> {
    let bytes = std::fs::read(path).map_err(|source| Error::reading(path, source))?;
    serde_json::from_slice(&bytes).map_err(|source| Error::Json {
        path: path.to_path_buf(),
        source,
    })
}

//! The run folder: `runs/<name>/<timestamp>/`, everything a run produced.
//!
//! Each file is written to a temporary name and then renamed, so a crash or Ctrl-C never leaves
//! a half-written file, and files written earlier in a run stay when a later step fails.

use std::cell::OnceCell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context;

/// The folder of one run.
#[derive(Debug, Clone)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// Creates a fresh folder `<runs>/<name>/<UTC timestamp>` (suffixed `-2`, `-3`, … when two
    /// runs start in the same second).
    pub fn create(runs: &Path, name: &str) -> anyhow::Result<Self> {
        Self::create_prefixed(runs, name, "")
    }

    /// Creates a fresh folder `<runs>/<name>/<prefix><UTC timestamp>`, as [`RunDir::create`]
    /// does; `burnish cv` writes to `cv-<timestamp>` so that its folders stand apart.
    pub fn create_prefixed(runs: &Path, name: &str, prefix: &str) -> anyhow::Result<Self> {
        let stamp = humantime::format_rfc3339_seconds(SystemTime::now())
            .to_string()
            .replace(['-', ':'], "")
            .replace('T', "-")
            .trim_end_matches('Z')
            .to_string();
        let stamp = format!("{prefix}{stamp}");
        let parent = runs.join(name);
        std::fs::create_dir_all(&parent)
            .with_context(|| format!("cannot create run folder {}", parent.display()))?;
        for attempt in 1.. {
            let folder = if attempt == 1 {
                parent.join(&stamp)
            } else {
                parent.join(format!("{stamp}-{attempt}"))
            };
            match std::fs::create_dir(&folder) {
                Ok(()) => return Ok(Self { path: folder }),
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(error) => {
                    return Err(error)
                        .with_context(|| format!("cannot create run folder {}", folder.display()));
                }
            }
        }
        unreachable!("the attempt counter is unbounded")
    }

    /// Opens an existing run folder for `evaluate` and `predict`.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        anyhow::ensure!(
            path.join("config.toml").is_file(),
            "{} is not a run folder: it has no config.toml",
            path.display()
        );
        Ok(Self {
            path: path.to_path_buf(),
        })
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of a file in the folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes `contents` to `name` atomically.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> anyhow::Result<()> {
        write_atomic(&self.file(name), contents.as_ref())
    }
}

/// A run folder that is made when first asked for, so that a run that fails before training
/// leaves nothing behind; or one that exists already (a resumed run's).
#[derive(Debug)]
pub struct LazyRunDir {
    made: OnceCell<RunDir>,
    runs: PathBuf,
    name: String,
    config_toml: String,
}

impl LazyRunDir {
    /// A new run's folder in `<runs>/<name>/`, to hold `config_toml` as `config.toml`.
    pub fn new(runs: &Path, name: &str, config_toml: String) -> Self {
        Self {
            made: OnceCell::new(),
            runs: runs.to_path_buf(),
            name: name.to_string(),
            config_toml,
        }
    }

    /// A folder that exists already.
    pub fn made(run_dir: RunDir) -> Self {
        Self {
            made: OnceCell::from(run_dir),
            runs: PathBuf::new(),
            name: String::new(),
            config_toml: String::new(),
        }
    }

    /// The folder, created with its `config.toml` on the first call.
    pub fn get(&self) -> anyhow::Result<&RunDir> {
        if let Some(run_dir) = self.made.get() {
            return Ok(run_dir);
        }
        let run_dir = RunDir::create(&self.runs, &self.name)?;
        run_dir.write("config.toml", &self.config_toml)?;
        Ok(self.made.get_or_init(|| run_dir))
    }
}

/// Writes a file through a temporary sibling and a rename.
pub fn write_atomic(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let temporary = path.with_extension(format!(
        "{}.partial",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    let written = std::fs::File::create(&temporary)
        .and_then(|mut file| {
            file.write_all(contents)?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&temporary, path));
    written.with_context(|| format!("cannot write {}", path.display()))
}

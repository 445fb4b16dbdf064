//! `burnish train` in several processes: how they agree on one run before training.
//!
//! An MPI launcher (`mpirun -n 2 burnish train EXPERIMENT`) starts the same command in every
//! process. Rank 0 alone reads the experiment, creates the run folder or opens the one to
//! resume, and tells the others what it found in one broadcast: the configuration as the run
//! folder records it, the data file's path, and the checkpoint to resume from. An error on
//! rank 0 travels the same way, so that no process waits for a run that will not start. Every
//! process then checks that it reads the same data as rank 0, and trains with a scratch folder
//! of its own (see [`Run`](crate::train_command)); only rank 0 writes checkpoints, the
//! weights and the report.

use std::path::{Path, PathBuf};

use anyhow::Context;
use burnish_train::{Checkpoint, ProcessGroup};

use crate::Experiment;
use crate::run_dir::{LazyRunDir, RunDir};
use crate::train_command::{CHECKPOINTS, RunStart, data_sha256};

/// The environment variables in which MPI launchers announce the number of processes: Open
/// MPI's, then the PMI ones of MPICH's Hydra and of Slurm.
const LAUNCHER_SIZE_VARIABLES: [&str; 3] = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"];

/// The number of processes an MPI launcher started this one among, or `None` when no launcher
/// started it.
pub fn launcher_size() -> Option<usize> {
    LAUNCHER_SIZE_VARIABLES
        .iter()
        .find_map(|name| std::env::var(name).ok()?.trim().parse().ok())
}

/// The command line to show for resuming `run_dir` in `world_size` processes.
pub fn resume_command(world_size: usize, run_dir: &Path) -> String {
    format!(
        "mpirun -n {world_size} burnish train --resume {}",
        run_dir.display()
    )
}

/// Starts the run on every process of `group`: rank 0 runs `start` and shares its outcome;
/// the others build their own start from it. Returns, on the others, rank 0's run folder too.
pub(crate) fn start(
    group: &dyn ProcessGroup,
    start: impl FnOnce() -> anyhow::Result<RunStart>,
) -> anyhow::Result<(RunStart, Option<PathBuf>)> {
    let what = "the run's configuration";
    if group.rank() == 0 {
        let started = start().and_then(|run| {
            let message = encode(&run)?;
            Ok((run, message))
        });
        let mut message = match &started {
            Ok((_, message)) => message.clone(),
            Err(error) => failure(&format!("{error:#}")),
        };
        group.broadcast(what, &mut message);
        let (run, _) = started?;
        announce(group, run.run_dir.get()?.path());
        return Ok((run, None));
    }
    let mut message = Vec::new();
    group.broadcast(what, &mut message);
    let (run, leader_dir) = decode(&message)?;
    announce(group, &leader_dir);
    Ok((run, Some(leader_dir)))
}

/// Tells the engine where the run's checkpoints are, for its messages.
fn announce(group: &dyn ProcessGroup, run_dir: &Path) {
    group.set_hint(&format!(
        "rank 0 keeps the checkpoints in {}; resume with: {}",
        run_dir.join(CHECKPOINTS).display(),
        resume_command(group.world_size(), run_dir)
    ));
}

/// Checks, on every process at once, that each one's `data_path` holds the same bytes as rank
/// 0's; every process returns the same error naming the ones that differ.
pub(crate) fn check_same_data(group: &dyn ProcessGroup, data_path: &Path) -> anyhow::Result<()> {
    let what = "the digests of the data file";
    let digest = data_sha256(data_path).ok();
    let mut rank0 = digest.clone().unwrap_or_default().into_bytes();
    group.broadcast(what, &mut rank0);
    // 1: a different file; 2: no file to read.
    let mut verdicts = vec![0.0; group.world_size()];
    verdicts[group.rank()] = match &digest {
        None => 2.0,
        Some(digest) if digest.as_bytes() != rank0.as_slice() => 1.0,
        Some(_) => 0.0,
    };
    group.all_reduce_sum_f64(what, &mut verdicts);
    let ranks = |verdict: f64| -> Vec<String> {
        (0..verdicts.len())
            .filter(|&rank| verdicts[rank] == verdict)
            .map(|rank| rank.to_string())
            .collect()
    };
    let unreadable = ranks(2.0);
    let different = ranks(1.0);
    let mut problems = Vec::new();
    if !unreadable.is_empty() {
        problems.push(format!("cannot be read by rank {}", unreadable.join(", ")));
    }
    if !different.is_empty() && unreadable.iter().all(|rank| rank != "0") {
        problems.push(format!(
            "holds other bytes on rank {} than on rank 0",
            different.join(", ")
        ));
    }
    anyhow::ensure!(
        problems.is_empty(),
        "the data file {} {}: every process reads the same data, so each machine needs the same file at that path",
        data_path.display(),
        problems.join(" and ")
    );
    Ok(())
}

/// The start of a run as rank 0 sends it: a zero byte, then length-prefixed fields (the
/// configuration, the data path, the run folder, the checkpoint's folder name, then each
/// checkpoint file's name and bytes).
fn encode(run: &RunStart) -> anyhow::Result<Vec<u8>> {
    let mut message = vec![0u8];
    let mut field = |bytes: &[u8]| {
        message.extend((bytes.len() as u64).to_le_bytes());
        message.extend(bytes);
    };
    field(run.experiment.to_toml().as_bytes());
    field(path_bytes(&run.data_path)?);
    // The others need rank 0's folder now, so a multi-process run makes it at the start.
    field(path_bytes(run.run_dir.get()?.path())?);
    if let Some(checkpoint) = &run.checkpoint {
        let dir = checkpoint.dir();
        let name = dir
            .file_name()
            .and_then(|name| name.to_str())
            .context("a checkpoint folder's name is text")?;
        field(name.as_bytes());
        let entries =
            std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
        for entry in entries {
            let path = entry
                .with_context(|| format!("cannot read {}", dir.display()))?
                .path();
            if !path.is_file() {
                continue;
            }
            let bytes =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let name = path
                .file_name()
                .and_then(|name| name.to_str())
                .context("a checkpoint file's name is text")?;
            field(name.as_bytes());
            field(&bytes);
        }
    }
    Ok(message)
}

/// Rank 0's error, as sent to the others: a one byte, then the message.
fn failure(message: &str) -> Vec<u8> {
    let mut bytes = vec![1u8];
    bytes.extend(message.as_bytes());
    bytes
}

/// Rebuilds rank 0's start on another process: the same configuration and data, a scratch
/// run folder, and rank 0's checkpoint copied into it. Returns rank 0's run folder too.
fn decode(message: &[u8]) -> anyhow::Result<(RunStart, PathBuf)> {
    let (&kind, mut rest) = message
        .split_first()
        .context("rank 0 sent an empty start message")?;
    if kind == 1 {
        anyhow::bail!(
            "rank 0 could not start the run: {}",
            String::from_utf8_lossy(rest)
        );
    }
    let mut next = || -> anyhow::Result<&[u8]> {
        let (len, tail) = rest
            .split_first_chunk::<8>()
            .context("rank 0's start message is cut short")?;
        let len = usize::try_from(u64::from_le_bytes(*len))?;
        anyhow::ensure!(tail.len() >= len, "rank 0's start message is cut short");
        let (field, tail) = tail.split_at(len);
        rest = tail;
        Ok(field)
    };
    let text = |bytes: &[u8]| String::from_utf8(bytes.to_vec()).context("a path is text");
    let config = text(next()?)?;
    let data_path = PathBuf::from(text(next()?)?);
    let leader_dir = PathBuf::from(text(next()?)?);
    let config_path = leader_dir.join("config.toml");
    let experiment = Experiment::parse(&config, &config_path)?;
    let scratch = tempfile::Builder::new()
        .prefix("burnish-rank-")
        .tempdir()
        .context("cannot create a scratch folder for this process")?;
    let run_dir = RunDir::create(scratch.path(), &experiment.name)?;
    let mut checkpoint = None;
    if let Ok(name) = next() {
        let checkpoints = run_dir.file(CHECKPOINTS);
        let dir = checkpoints.join(text(name)?);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        while let Ok(file) = next() {
            let file = text(file)?;
            let bytes = next()?;
            std::fs::write(dir.join(&file), bytes)
                .with_context(|| format!("cannot write {}", dir.join(&file).display()))?;
        }
        checkpoint = Some(
            Checkpoint::latest(&checkpoints)?
                .context("rank 0's checkpoint did not arrive whole")?,
        );
    }
    let run = RunStart {
        experiment,
        data_path,
        run_dir: LazyRunDir::made(run_dir),
        checkpoint,
        scratch: Some(scratch),
    };
    Ok((run, leader_dir))
}

fn path_bytes(path: &Path) -> anyhow::Result<&[u8]> {
    path.to_str()
        .map(str::as_bytes)
        .with_context(|| format!("the path {} is not text", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_survives_the_trip_to_another_process() {
        let runs = tempfile::tempdir().unwrap();
        let experiment = Experiment::parse(
            "name = \"trip\"\n[data]\npath = \"datasets/iris.csv\"\ntarget = \"species\"\n[model]\nkind = \"mlp\"\n",
            Path::new("trip.toml"),
        )
        .unwrap();
        let run_dir = RunDir::create(runs.path(), "trip").unwrap();
        let checkpoint_dir = run_dir.file(CHECKPOINTS).join("ckpt-00000004");
        std::fs::create_dir_all(&checkpoint_dir).unwrap();
        std::fs::write(checkpoint_dir.join("model.bpk"), [1u8, 2, 3]).unwrap();
        let state = "{\"epochs_done\":1,\"batches_done\":0,\"total_batches\":4,\"step\":4,\"partial_loss_sum\":0.0,\"partial_predictions\":0,\"lr\":0.01,\"history\":[],\"early_stopping\":null,\"plateau\":null,\"best_epoch\":null,\"stopped\":null}";
        std::fs::write(checkpoint_dir.join("state.json"), state).unwrap();
        let checkpoint = Checkpoint::latest(&run_dir.file(CHECKPOINTS))
            .unwrap()
            .unwrap();
        let sent = RunStart {
            experiment,
            data_path: PathBuf::from("datasets/iris.csv"),
            run_dir: LazyRunDir::made(run_dir.clone()),
            checkpoint: Some(checkpoint),
            scratch: None,
        };

        let (received, leader_dir) = decode(&encode(&sent).unwrap()).unwrap();

        assert_eq!(leader_dir, run_dir.path());
        assert_eq!(received.experiment.to_toml(), sent.experiment.to_toml());
        assert_eq!(received.data_path, sent.data_path);
        assert_ne!(received.run_dir.get().unwrap().path(), run_dir.path());
        let copy = received.checkpoint.expect("the checkpoint arrives");
        assert_eq!(copy.epochs_done(), 1);
        assert_eq!(copy.dir().file_name().unwrap(), "ckpt-00000004");
        assert_eq!(
            std::fs::read(copy.dir().join("model.bpk")).unwrap(),
            [1, 2, 3]
        );
    }

    #[test]
    fn an_error_on_rank_0_reaches_the_others() {
        let Err(error) = decode(&failure("experiments/x.toml: no such file")) else {
            panic!("rank 0's error is an error on every rank");
        };
        assert_eq!(
            error.to_string(),
            "rank 0 could not start the run: experiments/x.toml: no such file"
        );
    }

    #[test]
    fn a_cut_message_is_an_error_not_a_panic() {
        let runs = tempfile::tempdir().unwrap();
        let experiment = Experiment::parse(
            "name = \"cut\"\n[data]\npath = \"d.csv\"\ntarget = \"y\"\n[model]\nkind = \"mlp\"\n",
            Path::new("cut.toml"),
        )
        .unwrap();
        let run_dir = RunDir::create(runs.path(), "cut").unwrap();
        let sent = RunStart {
            experiment,
            data_path: PathBuf::from("d.csv"),
            run_dir: LazyRunDir::made(run_dir),
            checkpoint: None,
            scratch: None,
        };
        let message = encode(&sent).unwrap();
        let error = decode(&message[..message.len() / 2]).err().unwrap();
        assert!(error.to_string().contains("cut short"), "{error}");
    }
}

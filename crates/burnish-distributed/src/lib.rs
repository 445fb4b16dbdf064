//! Multi-process training over MPI: the engine behind `burnish-train`'s
//! [`ProcessGroup`].
//!
//! Burn 0.22.1 has no collective operations between processes on its CPU or wgpu backends (its
//! `distributed` all-reduce joins the devices of one process, and only CUDA implements it), so
//! Burnish uses MPI, the engine HPC clusters already run, through the maintained `mpi` crate
//! (rsmpi). An MPI launcher (`mpirun -n 2 burnish train ...`, or `mpirun -H a,b` for two
//! machines) starts the processes and connects them; [`MpiGroup::join`] makes each one a
//! member of the run.
//!
//! MPI stops waiting for nobody: a collective operation blocks until every process has joined
//! it. Two things keep a lost process from hanging the rest:
//! - the launcher: when a process ends abnormally, Open MPI's `mpirun` sends every other one a
//!   signal, which the `burnish` binary answers with [`stop_by_signal`]'s message;
//! - a watchdog thread: an operation that has waited longer than the run's timeout (a process
//!   that hangs, or a machine that vanished without closing its connections) stops this
//!   process with an error naming the operation.
//!
//! Every such message names the process (`rank R of N`) and what the run's caller said of its
//! checkpoints (`ProcessGroup::set_hint`).
//!
//! This crate neither trains nor reads files.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use burnish_train::ProcessGroup;
use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, CommunicatorCollectives, Root};

/// Why a process cannot join a multi-process run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// MPI was initialised before, by this process.
    #[error("MPI is already initialised in this process")]
    AlreadyInitialized,
    /// The launcher's environment announces more processes than MPI connects: the program was
    /// started by the launcher of another MPI implementation than the one it was built with.
    #[error(
        "the launcher announced {launched} processes but MPI connects {connected}: this burnish was built with another MPI than the launcher's (use the mpirun of the MPI it was built against, e.g. Open MPI's)"
    )]
    LauncherMismatch {
        /// The number of processes in the launcher's environment.
        launched: usize,
        /// The number MPI sees.
        connected: usize,
    },
}

/// The processes an MPI launcher started for one run.
pub struct MpiGroup {
    world: SimpleCommunicator,
    rank: usize,
    world_size: usize,
    local_rank: usize,
    watchdog: Arc<Watchdog>,
    /// Dropped last: finalises MPI.
    _universe: Universe,
}

impl std::fmt::Debug for MpiGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpiGroup")
            .field("rank", &self.rank)
            .field("world_size", &self.world_size)
            .field("local_rank", &self.local_rank)
            .finish_non_exhaustive()
    }
}

impl MpiGroup {
    /// Initialises MPI and joins the run's processes. `launched` is the number of processes
    /// the launcher's environment announces; `timeout` is how long any one collective
    /// operation may wait for the others before this process stops with an error.
    pub fn join(launched: usize, timeout: Duration) -> Result<Self, Error> {
        set_identity(Identity {
            rank: None,
            world_size: launched,
            hint: String::new(),
        });
        // Joining waits for every process to start and connect; a machine that cannot be
        // reached would keep it waiting.
        let watchdog = Watchdog::start(timeout);
        let joining = watchdog.waiting("their addresses, joining the run");
        // Only the calling thread talks to MPI; the backend's and the watchdog's threads never
        // do.
        let (universe, _) = mpi::initialize_with_threading(mpi::Threading::Funneled)
            .ok_or(Error::AlreadyInitialized)?;
        let world = universe.world();
        let rank = world.rank() as usize;
        let world_size = world.size() as usize;
        if world_size != launched {
            return Err(Error::LauncherMismatch {
                launched,
                connected: world_size,
            });
        }
        let local_rank = world.split_shared(world.rank()).rank() as usize;
        drop(joining);
        set_identity(Identity {
            rank: Some(rank),
            world_size,
            hint: String::new(),
        });
        Ok(Self {
            world,
            rank,
            world_size,
            local_rank,
            watchdog,
            _universe: universe,
        })
    }

    /// This process's number among those on its machine: the GPU it should use.
    pub fn local_rank(&self) -> usize {
        self.local_rank
    }
}

/// The most elements one MPI call moves: its counts are C `int`s.
const MAX_COUNT: usize = 1 << 30;

impl ProcessGroup for MpiGroup {
    fn rank(&self) -> usize {
        self.rank
    }

    fn world_size(&self) -> usize {
        self.world_size
    }

    fn all_reduce_sum(&self, what: &str, values: &mut [f32]) {
        let _waiting = self.watchdog.waiting(what);
        for chunk in values.chunks_mut(MAX_COUNT) {
            let sent = chunk.to_vec();
            self.world
                .all_reduce_into(&sent[..], chunk, SystemOperation::sum());
        }
    }

    fn all_reduce_sum_f64(&self, what: &str, values: &mut [f64]) {
        let _waiting = self.watchdog.waiting(what);
        for chunk in values.chunks_mut(MAX_COUNT) {
            let sent = chunk.to_vec();
            self.world
                .all_reduce_into(&sent[..], chunk, SystemOperation::sum());
        }
    }

    fn broadcast(&self, what: &str, bytes: &mut Vec<u8>) {
        let _waiting = self.watchdog.waiting(what);
        let root = self.world.process_at_rank(0);
        let mut len = bytes.len() as u64;
        root.broadcast_into(&mut len);
        bytes.resize(len as usize, 0);
        for chunk in bytes.chunks_mut(MAX_COUNT) {
            root.broadcast_into(chunk);
        }
    }

    fn set_hint(&self, hint: &str) {
        identity().get_or_insert_with(Identity::default).hint = hint.to_string();
    }
}

/// Prints why this process stops on a signal and ends it: under an MPI launcher a signal
/// means the launcher is stopping the run, because a process ended or the run was cancelled.
/// For the `burnish` binary's signal handler.
pub fn stop_by_signal() -> ! {
    let identity = identity().clone().unwrap_or_default();
    eprintln!(
        "\nerror: {}: stopped by a signal; the MPI launcher sends one to every process when one of them has ended or the run is cancelled (its own message says which){}",
        identity.name(),
        identity.hint_sentence()
    );
    std::process::exit(143);
}

/// Who this process is in the run, for messages that cannot return an error.
#[derive(Debug, Clone, Default)]
struct Identity {
    /// Unknown until MPI has started.
    rank: Option<usize>,
    world_size: usize,
    hint: String,
}

impl Identity {
    fn name(&self) -> String {
        match self.rank {
            Some(rank) => format!("rank {rank} of {}", self.world_size),
            None => format!("a process of {}", self.world_size),
        }
    }

    fn hint_sentence(&self) -> String {
        if self.hint.is_empty() {
            String::new()
        } else {
            format!("; {}", self.hint)
        }
    }
}

static IDENTITY: Mutex<Option<Identity>> = Mutex::new(None);

fn identity() -> MutexGuard<'static, Option<Identity>> {
    IDENTITY.lock().unwrap_or_else(PoisonError::into_inner)
}

fn set_identity(new: Identity) {
    *identity() = Some(new);
}

/// Ends this process when a collective operation waits longer than the timeout.
struct Watchdog {
    timeout: Duration,
    /// The operation under way and when it began.
    in_flight: Mutex<Option<(Instant, String)>>,
}

impl Watchdog {
    fn start(timeout: Duration) -> Arc<Self> {
        let watchdog = Arc::new(Self {
            timeout,
            in_flight: Mutex::new(None),
        });
        let watched = Arc::downgrade(&watchdog);
        let poll = (timeout / 10).clamp(Duration::from_millis(10), Duration::from_secs(1));
        std::thread::Builder::new()
            .name("burnish-collective-watchdog".to_string())
            .spawn(move || {
                while let Some(watchdog) = watched.upgrade() {
                    watchdog.check();
                    drop(watchdog);
                    std::thread::sleep(poll);
                }
            })
            .expect("the operating system starts a thread");
        watchdog
    }

    /// Marks `what` as under way until the returned guard is dropped.
    fn waiting(&self, what: &str) -> Waiting<'_> {
        *self.lock() = Some((Instant::now(), what.to_string()));
        Waiting { watchdog: self }
    }

    fn check(&self) {
        let in_flight = self.lock();
        let Some((since, what)) = in_flight.as_ref() else {
            return;
        };
        if since.elapsed() <= self.timeout {
            return;
        }
        let identity = identity().clone().unwrap_or_default();
        eprintln!(
            "\nerror: {}: no answer from the other processes after {} s while exchanging {what}: a process has stopped, hangs or cannot be reached{}",
            identity.name(),
            self.timeout.as_secs_f64(),
            identity.hint_sentence()
        );
        std::process::exit(1);
    }

    fn lock(&self) -> MutexGuard<'_, Option<(Instant, String)>> {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// An operation under way; its end clears the watchdog.
struct Waiting<'a> {
    watchdog: &'a Watchdog,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        *self.watchdog.lock() = None;
    }
}

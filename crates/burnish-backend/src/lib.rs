//! Backend selection for Burnish.
//!
//! Names the compute backends Burnish can run on (`flex`, `ndarray`, `wgpu`, `cuda`), maps a
//! name from an experiment file or a `--backend` flag to a Burn [`Device`], reports which
//! backends were compiled into this build and which of them open a device on this machine, and
//! seeds devices. It knows nothing about models or data.
//!
//! Each backend is a cargo feature of this crate (forwarded from the `burnish` binary); `flex`
//! is the default. Asking for a backend that was not compiled in is an [`Error`] that names the
//! feature to add, never a panic.
//!
//! ```
//! use burnish_backend::BackendKind;
//!
//! let kind: BackendKind = "flex".parse().unwrap();
//! let device = kind.open().unwrap();
//! burnish_backend::seed(&device, 42);
//! ```

#[cfg(feature = "allocator")]
pub mod allocator;

use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::str::FromStr;

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// Everything that can go wrong when choosing or opening a backend.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// The name is not one of the backends Burnish knows.
    #[error("unknown backend `{name}`: expected one of {}", BackendKind::names())]
    Unknown {
        /// The name that was asked for.
        name: String,
    },
    /// The backend exists but this build was compiled without its cargo feature.
    #[error(
        "backend `{backend}` is not compiled into this build (compiled in: {}); rebuild with `--features {}`",
        compiled_names(),
        backend.feature()
    )]
    NotCompiled {
        /// The backend that was asked for.
        backend: BackendKind,
    },
    /// A device index beyond what the backend can address.
    #[error(
        "backend `{backend}` has one device, index 0; index {index} does not exist (list index 0 twice to run two workers on it)"
    )]
    NoSuchDevice {
        /// The backend that was asked for.
        backend: BackendKind,
        /// The index that was asked for.
        index: usize,
    },
    /// The backend is compiled in but no device of it works on this machine.
    #[error("backend `{backend}` is compiled in but no device opens on this machine: {reason}")]
    Unavailable {
        /// The backend that was asked for.
        backend: BackendKind,
        /// What the backend reported.
        reason: String,
    },
}

/// A compute backend Burnish can train and predict on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// Burn's pure-Rust CPU backend (SIMD, multi-threaded); the default.
    #[default]
    Flex,
    /// The ndarray CPU backend (deprecated upstream, still shipped).
    Ndarray,
    /// wgpu: Vulkan, Metal, DirectX or WebGPU; a software Vulkan driver works where no GPU does.
    Wgpu,
    /// NVIDIA CUDA.
    Cuda,
}

impl BackendKind {
    /// Every backend, in the order they are listed to users.
    pub const ALL: [BackendKind; 4] = [Self::Flex, Self::Ndarray, Self::Wgpu, Self::Cuda];

    /// The name used in experiment files, on the command line and as the cargo feature.
    pub fn name(self) -> &'static str {
        match self {
            Self::Flex => "flex",
            Self::Ndarray => "ndarray",
            Self::Wgpu => "wgpu",
            Self::Cuda => "cuda",
        }
    }

    /// The cargo feature (of `burnish` and `burnish-backend`) that compiles this backend in.
    pub fn feature(self) -> &'static str {
        self.name()
    }

    /// Whether this build includes the backend.
    pub fn is_compiled(self) -> bool {
        match self {
            Self::Flex => cfg!(feature = "flex"),
            Self::Ndarray => cfg!(feature = "ndarray"),
            Self::Wgpu => cfg!(feature = "wgpu"),
            Self::Cuda => cfg!(feature = "cuda"),
        }
    }

    /// The backends compiled into this build.
    pub fn compiled() -> Vec<BackendKind> {
        Self::ALL
            .into_iter()
            .filter(|kind| kind.is_compiled())
            .collect()
    }

    /// Returns the backend's default device without touching the hardware.
    ///
    /// GPU backends only reach the driver when the first tensor is made; use [`Self::open`] to
    /// find out whether the device works.
    pub fn device(self) -> Result<Device, Error> {
        match self {
            #[cfg(feature = "flex")]
            Self::Flex => Ok(Device::flex()),
            #[cfg(feature = "ndarray")]
            Self::Ndarray => Ok(ndarray_device()),
            #[cfg(feature = "wgpu")]
            Self::Wgpu => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
            #[cfg(feature = "cuda")]
            Self::Cuda => Ok(Device::cuda(0)),
            #[allow(unreachable_patterns)]
            backend => Err(Error::NotCompiled { backend }),
        }
    }

    /// Returns the backend's default device after checking that it runs a small computation.
    pub fn open(self) -> Result<Device, Error> {
        self.checked(self.device()?)
    }

    /// Returns device `index` of the backend without touching the hardware: the CPU backends
    /// have one device (index 0), wgpu numbers the discrete GPUs and cuda the CUDA devices.
    pub fn device_at(self, index: usize) -> Result<Device, Error> {
        match self {
            Self::Flex | Self::Ndarray if index > 0 => Err(Error::NoSuchDevice {
                backend: self,
                index,
            }),
            #[cfg(feature = "wgpu")]
            Self::Wgpu => Ok(Device::wgpu(burn::tensor::DeviceKind::DiscreteGpu(index))),
            #[cfg(feature = "cuda")]
            Self::Cuda => Ok(Device::cuda(index)),
            _ => self.device(),
        }
    }

    /// Opens the devices of a data-parallel run, in order, checking each; an index may repeat
    /// (two workers on one device). An empty list gives an empty list.
    pub fn open_all(self, indices: &[usize]) -> Result<Vec<Device>, Error> {
        indices
            .iter()
            .map(|&index| self.checked(self.device_at(index)?))
            .collect()
    }

    fn checked(self, device: Device) -> Result<Device, Error> {
        probe(&device).map_err(|reason| Error::Unavailable {
            backend: self,
            reason,
        })?;
        Ok(device)
    }

    fn names() -> String {
        Self::ALL.map(BackendKind::name).join(", ")
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BackendKind {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
            .ok_or_else(|| Error::Unknown {
                name: name.to_string(),
            })
    }
}

/// What `burnish backends` reports for one backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendStatus {
    /// The backend.
    pub kind: BackendKind,
    /// Whether this build includes it.
    pub compiled: bool,
    /// `Some(Ok(()))` when a device opened and computed, `Some(Err(reason))` when it did not,
    /// `None` when the backend is not compiled in.
    pub opens: Option<Result<(), String>>,
}

/// Checks every backend: compiled in or not, and whether a device opens here.
pub fn survey() -> Vec<BackendStatus> {
    BackendKind::ALL
        .into_iter()
        .map(|kind| BackendStatus {
            kind,
            compiled: kind.is_compiled(),
            opens: kind
                .is_compiled()
                .then(|| kind.open().map(|_| ()).map_err(|error| error.to_string())),
        })
        .collect()
}

/// Seeds the device's random generator (initialisation, dropout, random tensors).
///
/// Some backends keep one generator for the whole process; seeding before each run keeps a
/// run reproducible either way.
pub fn seed(device: &Device, seed: u64) {
    device.seed(seed);
}

fn compiled_names() -> String {
    let names: Vec<&str> = BackendKind::compiled()
        .into_iter()
        .map(BackendKind::name)
        .collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

#[cfg(feature = "ndarray")]
#[allow(deprecated)]
fn ndarray_device() -> Device {
    Device::ndarray()
}

/// Runs a tiny computation on the device and reads the result back.
///
/// GPU backends panic deep inside their runtime when no adapter or driver exists; the panic
/// is caught here and turned into the reason shown to the user.
fn probe(device: &Device) -> Result<(), String> {
    let previous_hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        let tensor = Tensor::<1>::from_floats([1.0, 2.0, 3.0], device);
        tensor.sum().into_scalar::<f32>()
    }));
    panic::set_hook(previous_hook);
    match outcome {
        Ok(sum) if (sum - 6.0).abs() < 1e-6 => Ok(()),
        Ok(sum) => Err(format!("a test sum came back as {sum} instead of 6")),
        Err(payload) => Err(panic_message(payload.as_ref())),
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("the backend panicked");
    message.lines().next().unwrap_or(message).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in BackendKind::ALL {
            assert_eq!(kind.name().parse::<BackendKind>(), Ok(kind));
        }
    }

    #[test]
    fn unknown_name_lists_the_known_ones() {
        let error = "tpu".parse::<BackendKind>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown backend `tpu`: expected one of flex, ndarray, wgpu, cuda"
        );
    }

    #[test]
    fn flex_opens_and_computes() {
        let device = BackendKind::Flex.open().unwrap();
        seed(&device, 7);
    }

    #[test]
    fn a_cpu_backend_has_one_device_which_may_be_listed_twice() {
        let devices = BackendKind::Flex.open_all(&[0, 0]).unwrap();
        assert_eq!(devices.len(), 2);
        assert!(devices[0] == devices[1]);
        assert!(BackendKind::Flex.open_all(&[]).unwrap().is_empty());
        let error = BackendKind::Flex.open_all(&[0, 1]).unwrap_err();
        assert_eq!(
            error,
            Error::NoSuchDevice {
                backend: BackendKind::Flex,
                index: 1
            }
        );
        assert!(error.to_string().contains("index 1 does not exist"));
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn missing_backend_names_the_feature() {
        let error = BackendKind::Cuda.open().unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with("backend `cuda` is not compiled into this build"));
        assert!(
            message.ends_with("rebuild with `--features cuda`"),
            "{message}"
        );
    }

    #[test]
    fn survey_covers_every_backend() {
        let statuses = survey();
        assert_eq!(statuses.len(), BackendKind::ALL.len());
        let flex = &statuses[0];
        assert!(flex.compiled);
        assert_eq!(flex.opens, Some(Ok(())));
    }
}

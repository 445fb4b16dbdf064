//! Training across several processes, one per machine or per GPU: the collective operations
//! the loop needs, and what it does with them.
//!
//! [`ProcessGroup`] is the engine's side: a rank, a world size, a sum over every process and a
//! broadcast from rank 0. Burnish's engine is MPI (`burnish-distributed`); this crate only
//! names the operations, so that the loop does not depend on a system library.
//!
//! What the loop does with a group (see [`fit_with`](crate::fit_with)):
//! - before the first batch, every process takes rank 0's weights, so every replica starts
//!   equal whatever its backend drew;
//! - each process computes the gradients of its own contiguous share of every batch, its loss
//!   weighted by its share of the batch's rows, and one sum over the processes turns the shares
//!   into the gradient of the whole batch, which every process applies; the loss and a count of
//!   the processes that hold each gradient travel in the same buffer;
//! - validation is split the same way and its sums are added up;
//! - every process thus takes the same steps and makes the same early-stopping decisions.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device, Tensor, TensorData};
use burnish_models::Model;

use crate::Error;

/// The processes of one training run and the collective operations between them.
///
/// Every process calls the same operations in the same order with buffers of the same length;
/// an operation returns on a process once every process has joined it. An engine that loses a
/// process does not return: it stops the run with an error that names the operation (`what`).
pub trait ProcessGroup: std::fmt::Debug {
    /// This process's number, from 0 to `world_size() - 1`. Rank 0 writes the run's files.
    fn rank(&self) -> usize;

    /// The number of processes.
    fn world_size(&self) -> usize;

    /// Replaces `values` on every process by their element-wise sum over all processes.
    fn all_reduce_sum(&self, what: &str, values: &mut [f32]);

    /// [`all_reduce_sum`](Self::all_reduce_sum) in double precision, for counts and sums of
    /// metrics.
    fn all_reduce_sum_f64(&self, what: &str, values: &mut [f64]);

    /// Replaces `bytes` on every process by rank 0's.
    fn broadcast(&self, what: &str, bytes: &mut Vec<u8>);

    /// Tells the engine what to add to the message with which it stops this process when the
    /// run breaks (where the checkpoints are, how to resume). Does nothing unless the engine
    /// prints such messages.
    fn set_hint(&self, hint: &str) {
        let _ = hint;
    }
}

/// The contiguous share of `len` items that process `rank` of `world_size` takes: the first
/// processes take `len.div_ceil(world_size)` each and the last ones what remains.
pub fn share(len: usize, rank: usize, world_size: usize) -> std::ops::Range<usize> {
    let size = len.div_ceil(world_size.max(1));
    let start = (rank * size).min(len);
    let end = ((rank + 1) * size).min(len);
    start..end
}

/// Replaces `model`'s weights on every process by rank 0's.
pub(crate) fn broadcast_weights(group: &dyn ProcessGroup, model: Model) -> Result<Model, Error> {
    let mut bytes = if group.rank() == 0 {
        model
            .clone()
            .into_record()
            .into_bytes()
            .map_err(|error| Error::Collective(format!("cannot pack the weights: {error}")))?
            .to_vec()
    } else {
        Vec::new()
    };
    group.broadcast("rank 0's initial weights", &mut bytes);
    if group.rank() == 0 {
        return Ok(model);
    }
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(|error| Error::Collective(format!("cannot read rank 0's weights: {error}")))?;
    model
        .try_load_record(record)
        .map_err(|error| Error::Collective(format!("rank 0's weights do not fit: {error}")))
}

/// The sums of one optimizer step over every process: the gradients, and the loss they come
/// with.
pub(crate) struct ReducedStep {
    /// The gradient of the whole batch (or accumulated batches) for every parameter that some
    /// process has one for.
    pub grads: GradientsParams,
    /// The sum over every prediction of the loss, without penalties.
    pub loss_sum: f64,
    /// The number of predictions.
    pub predictions: usize,
}

/// Adds up this process's `grads`, `loss_sum` and `predictions` with every other process's, in
/// one buffer: each trainable parameter's values in the order `model` visits them, a count of
/// the processes that hold a gradient for it (a parameter no process touched stays without
/// one, as on one process), then the loss sum and the number of predictions.
pub(crate) fn reduce_step(
    group: &dyn ProcessGroup,
    what: &str,
    model: &Model,
    grads: GradientsParams,
    loss_sum: f64,
    predictions: usize,
) -> ReducedStep {
    let mut pack = PackGradients {
        grads: &grads,
        values: Vec::new(),
        shapes: Vec::new(),
        device: None,
    };
    model.visit(&mut pack);
    let PackGradients {
        mut values,
        shapes,
        device,
        ..
    } = pack;
    values.push(loss_sum as f32);
    values.push(predictions as f32);
    group.all_reduce_sum(what, &mut values);
    let predictions = values.pop().unwrap_or(0.0).round() as usize;
    let loss_sum = values.pop().unwrap_or(0.0) as f64;
    let mut unpack = UnpackGradients {
        values: &values,
        shapes: shapes.iter(),
        offset: 0,
        grads: GradientsParams::new(),
        device,
    };
    drop(grads);
    model.visit(&mut unpack);
    ReducedStep {
        grads: unpack.grads,
        loss_sum,
        predictions,
    }
}

/// A digest of `model`'s weights on this process: equal on two processes when (with
/// overwhelming probability) their weights are equal bit for bit.
pub(crate) fn weights_digest(model: &Model) -> u64 {
    let mut digest = Digest(0xcbf2_9ce4_8422_2325);
    model.visit(&mut digest);
    digest.0
}

/// Gathers each trainable parameter's gradient (zeros where this process has none) and a flag
/// saying whether it has one.
struct PackGradients<'a> {
    grads: &'a GradientsParams,
    values: Vec<f32>,
    /// Each trainable parameter's shape, in visiting order.
    shapes: Vec<Vec<usize>>,
    /// The device this process's gradients are on, once one is seen.
    device: Option<Device>,
}

impl ModuleVisitor for PackGradients<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if !param.is_require_grad() {
            return;
        }
        let shape = param.val().dims().to_vec();
        let count: usize = shape.iter().product();
        match self.grads.get::<D>(param.id) {
            Some(grad) => {
                self.device.get_or_insert_with(|| grad.device());
                let data = grad.into_data();
                self.values.extend(data.iter::<f32>());
                self.values.push(1.0);
            }
            None => {
                self.values.extend(std::iter::repeat_n(0.0, count));
                self.values.push(0.0);
            }
        }
        self.shapes.push(shape);
    }
}

/// Cuts the summed buffer back into one gradient per parameter that some process had.
struct UnpackGradients<'a> {
    values: &'a [f32],
    shapes: std::slice::Iter<'a, Vec<usize>>,
    offset: usize,
    grads: GradientsParams,
    /// The device the gradients go on: where this process's were, or else the parameters'
    /// device without autodiff.
    device: Option<Device>,
}

impl ModuleVisitor for UnpackGradients<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if !param.is_require_grad() {
            return;
        }
        let shape = self
            .shapes
            .next()
            .expect("the model has the parameters it had when packing");
        let count: usize = shape.iter().product();
        let values = &self.values[self.offset..self.offset + count];
        let holders = self.values[self.offset + count];
        self.offset += count + 1;
        if holders == 0.0 {
            return;
        }
        let device = self
            .device
            .get_or_insert_with(|| param.val().inner().device())
            .clone();
        let data = TensorData::new(values.to_vec(), shape.clone());
        self.grads
            .register::<D>(param.id, Tensor::from_data(data, &device));
    }
}

/// FNV-1a over the bits of every float parameter, in visiting order.
struct Digest(u64);

impl ModuleVisitor for Digest {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        for value in param.val().into_data().iter::<f32>() {
            for byte in value.to_bits().to_le_bytes() {
                self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::share;

    #[test]
    fn shares_cover_every_item_once_in_order() {
        for len in 0..12 {
            for world_size in 1..5 {
                let items: Vec<usize> = (0..world_size)
                    .flat_map(|rank| share(len, rank, world_size))
                    .collect();
                assert_eq!(
                    items,
                    (0..len).collect::<Vec<_>>(),
                    "{len} over {world_size}"
                );
            }
        }
        assert_eq!(share(10, 0, 2), 0..5);
        assert_eq!(share(10, 1, 2), 5..10);
        assert_eq!(share(1, 1, 2), 1..1);
    }
}

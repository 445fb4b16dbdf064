//! The LSTM and GRU recurrences as single operations on the flex backend, forward and
//! backward.
//!
//! Written with tensor operations, each of a sequence's steps is a dozen small operations
//! (a product, gate views, exponentials, products and sums), each allocating its output and
//! each recorded by autodiff with its own backward step. Here the whole recurrence of one
//! layer and direction is one operation: each step is one matrix product for all gates and
//! one pass over the gate block, and the backward pass is written by hand from the gate
//! activations (and, for the LSTM, the cell states) saved by the forward pass.
//!
//! The operation goes through Burn's backend extension (`#[backend_extension]`), which routes
//! it to [`Flex`] (and to `Autodiff<Flex>`, which records the hand-written backward step).
//! Other backends keep the tensor-operation path of `recurrent.rs`; [`applies_to`] says which.
//!
//! The input projection (`x W_ih + b`) is not part of the operation: it is one matrix product
//! over all steps, computed before, so its gradients come from Burn's own operations.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, backend_extension};
use burn::tensor::{Tensor, TensorData};
use burn_flex::FlexTensor;

pub use crate::flex_math::applies_to;
use crate::flex_math::{logistic, matrix, tanh, values};

/// The LSTM and GRU recurrences of one layer and direction, as backend operations.
#[backend_extension(Flex, Autodiff)]
pub trait RecurrentKernels: Backend {
    /// The hidden state of every step, from zero initial states.
    ///
    /// `projected` is `[time * batch, 4 * d_hidden]`, the input projection plus both biases,
    /// rows time-major (`step * batch + sequence`), gate blocks in PyTorch's order (input,
    /// forget, cell, output); `weight_hh` is `[d_hidden, 4 * d_hidden]`. With `reverse`, the
    /// steps are visited last to first. The output is `[time * batch, d_hidden]`, row for row.
    fn lstm_recurrence(
        projected: FloatTensor<Self>,
        weight_hh: FloatTensor<Self>,
        batch: usize,
        reverse: bool,
    ) -> FloatTensor<Self>;

    /// The hidden state of every step of a GRU, from a zero initial state.
    ///
    /// `projected` is `[time * batch, 3 * d_hidden]`, the input projection plus the input
    /// bias, gate blocks in PyTorch's order (reset, update, new); `weight_hh` is
    /// `[d_hidden, 3 * d_hidden]` and `bias_hh` `[3 * d_hidden]` (kept apart because the new
    /// gate scales its hidden part by the reset gate). Rows, `reverse` and the output as for
    /// [`Self::lstm_recurrence`].
    fn gru_recurrence(
        projected: FloatTensor<Self>,
        weight_hh: FloatTensor<Self>,
        bias_hh: FloatTensor<Self>,
        batch: usize,
        reverse: bool,
    ) -> FloatTensor<Self>;
}

/// [`RecurrentKernels::lstm_recurrence`] on tensors; see there for the shapes.
///
/// # Panics
/// Where [`applies_to`] is false for the tensors' device.
pub fn lstm_recurrence(
    projected: Tensor<2>,
    weight_hh: Tensor<2>,
    batch: usize,
    reverse: bool,
) -> Tensor<2> {
    Tensor::from_dispatch(<Dispatch as RecurrentKernels>::lstm_recurrence(
        projected.into_dispatch(),
        weight_hh.into_dispatch(),
        batch,
        reverse,
    ))
}

/// [`RecurrentKernels::gru_recurrence`] on tensors; see there for the shapes.
///
/// # Panics
/// Where [`applies_to`] is false for the tensors' device.
pub fn gru_recurrence(
    projected: Tensor<2>,
    weight_hh: Tensor<2>,
    bias_hh: Tensor<1>,
    batch: usize,
    reverse: bool,
) -> Tensor<2> {
    Tensor::from_dispatch(<Dispatch as RecurrentKernels>::gru_recurrence(
        projected.into_dispatch(),
        weight_hh.into_dispatch(),
        bias_hh.into_dispatch(),
        batch,
        reverse,
    ))
}

impl RecurrentKernels for Flex {
    fn lstm_recurrence(
        projected: FlexTensor,
        weight_hh: FlexTensor,
        batch: usize,
        reverse: bool,
    ) -> FlexTensor {
        lstm_forward(&projected, weight_hh, batch, reverse, false).hidden
    }

    fn gru_recurrence(
        projected: FlexTensor,
        weight_hh: FlexTensor,
        bias_hh: FlexTensor,
        batch: usize,
        reverse: bool,
    ) -> FlexTensor {
        gru_forward(&projected, weight_hh, &bias_hh, batch, reverse, false).0
    }
}

impl<C: CheckpointStrategy> RecurrentKernels for Autodiff<Flex, C> {
    fn lstm_recurrence(
        projected: FloatTensor<Self>,
        weight_hh: FloatTensor<Self>,
        batch: usize,
        reverse: bool,
    ) -> FloatTensor<Self> {
        match LstmBackward
            .prepare::<C>([projected.node(), weight_hh.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let weight_hh = weight_hh.primitive().clone();
                let pass = lstm_forward(
                    projected.primitive(),
                    weight_hh.clone(),
                    batch,
                    reverse,
                    true,
                );
                let state = SavedLstmPass {
                    hidden: pass.hidden.clone(),
                    gates: pass.gates.expect("the forward pass saved its gates"),
                    cells: pass.cells.expect("the forward pass saved its cells"),
                    weight_hh,
                    batch,
                    reverse,
                };
                prep.finish(state, pass.hidden)
            }
            OpsKind::UnTracked(prep) => prep.finish(
                lstm_forward(
                    projected.primitive(),
                    weight_hh.into_primitive(),
                    batch,
                    reverse,
                    false,
                )
                .hidden,
            ),
        }
    }

    fn gru_recurrence(
        projected: FloatTensor<Self>,
        weight_hh: FloatTensor<Self>,
        bias_hh: FloatTensor<Self>,
        batch: usize,
        reverse: bool,
    ) -> FloatTensor<Self> {
        match GruBackward
            .prepare::<C>([projected.node(), weight_hh.node(), bias_hh.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let weight_hh = weight_hh.primitive().clone();
                let (hidden, gates) = gru_forward(
                    projected.primitive(),
                    weight_hh.clone(),
                    bias_hh.primitive(),
                    batch,
                    reverse,
                    true,
                );
                let state = SavedGruPass {
                    hidden: hidden.clone(),
                    gates: gates.expect("the forward pass saved its gates"),
                    weight_hh,
                    batch,
                    reverse,
                };
                prep.finish(state, hidden)
            }
            OpsKind::UnTracked(prep) => prep.finish(
                gru_forward(
                    projected.primitive(),
                    weight_hh.into_primitive(),
                    bias_hh.primitive(),
                    batch,
                    reverse,
                    false,
                )
                .0,
            ),
        }
    }
}

/// What the GRU's backward step needs from the forward pass: `gates` holds, per row, the
/// reset, update and new gates and the hidden part of the new gate's input (`h W_hn + b_hn`).
#[derive(Debug, Clone)]
struct SavedGruPass {
    hidden: FlexTensor,
    gates: FlexTensor,
    weight_hh: FlexTensor,
    batch: usize,
    reverse: bool,
}

#[derive(Debug)]
struct GruBackward;

impl Backward<Flex, 3> for GruBackward {
    type State = SavedGruPass;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad_hidden = grads.consume::<Flex>(&ops.node);
        let parents = ops.parents.map(|node| node.map(|node| node.id));
        register(grads, parents, gru_backward(grad_hidden, ops.state));
    }
}

/// What the LSTM's backward step needs from the forward pass.
#[derive(Debug, Clone)]
struct SavedLstmPass {
    hidden: FlexTensor,
    gates: FlexTensor,
    cells: FlexTensor,
    weight_hh: FlexTensor,
    batch: usize,
    reverse: bool,
}

#[derive(Debug)]
struct LstmBackward;

impl Backward<Flex, 2> for LstmBackward {
    type State = SavedLstmPass;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad_hidden = grads.consume::<Flex>(&ops.node);
        let parents = ops.parents.map(|node| node.map(|node| node.id));
        register(grads, parents, lstm_backward(grad_hidden, ops.state));
    }
}

/// Gives each input that requires a gradient (`Some` of its node) its gradient.
fn register<const N: usize>(
    grads: &mut Gradients,
    parents: [Option<NodeId>; N],
    values: [FlexTensor; N],
) {
    for (node, grad) in parents.into_iter().zip(values) {
        if let Some(node) = node {
            grads.register::<Flex>(node, grad);
        }
    }
}

/// The outputs of the LSTM's forward pass; `gates` (the four activated gates, `[rows, 4 * d_hidden]`)
/// and `cells` (the cell state after each step, `[rows, d_hidden]`) only when asked for.
struct LstmPass {
    hidden: FlexTensor,
    gates: Option<FlexTensor>,
    cells: Option<FlexTensor>,
}

/// The visited order of the steps: step `s` of the pass is time step `order(s)`.
fn step_order(time: usize, reverse: bool) -> impl Fn(usize) -> usize {
    move |s| if reverse { time - 1 - s } else { s }
}

/// Below this many sequences a step is not worth splitting between two threads.
const MIN_PARALLEL_BATCH: usize = 8;

/// Runs `work` on the sequences `0..half` and `half..batch` of a step, on two threads where
/// the batch is large enough. Each call gets its first sequence and its share of every slice,
/// cut at `half` times the slice's width per sequence.
fn split_batch<const N: usize>(
    batch: usize,
    slices: [(&mut [f32], usize); N],
    work: impl Fn(usize, [&mut [f32]; N]) + Sync,
) {
    if batch < MIN_PARALLEL_BATCH {
        work(0, slices.map(|(slice, _)| slice));
        return;
    }
    let half = batch / 2;
    let mut firsts: [&mut [f32]; N] = std::array::from_fn(|_| <&mut [f32]>::default());
    let mut seconds: [&mut [f32]; N] = std::array::from_fn(|_| <&mut [f32]>::default());
    for (k, (slice, width)) in slices.into_iter().enumerate() {
        let (first, second) = slice.split_at_mut(half * width);
        firsts[k] = first;
        seconds[k] = second;
    }
    rayon::join(|| work(0, firsts), || work(half, seconds));
}

fn lstm_forward(
    projected: &FlexTensor,
    weight_hh: FlexTensor,
    batch: usize,
    reverse: bool,
    save: bool,
) -> LstmPass {
    let shape = projected.layout().shape();
    let (rows, d_gates) = (shape[0], shape[1]);
    let d_hidden = d_gates / 4;
    let time = rows / batch.max(1);
    let (projected, range) = values(projected);
    let projected = &projected.storage::<f32>()[range];
    let order = step_order(time, reverse);

    let mut hidden = vec![0.0f32; rows * d_hidden];
    let mut cells = vec![0.0f32; rows * d_hidden];
    // Without `save`, the gates of each step are written over the previous step's.
    let mut gates = vec![0.0f32; if save { rows } else { batch } * d_gates];
    let mut hidden_state = vec![0.0f32; batch * d_hidden];
    let mut cell_state = vec![0.0f32; batch * d_hidden];
    // The loop runs on one of rayon's threads, so that each step's split is a cheap join
    // within the pool rather than two jobs sent from outside it.
    rayon::scope(|_| {
        for s in 0..time {
            let t = order(s);
            let block = t * batch * d_hidden..(t + 1) * batch * d_hidden;
            let gate_block = if save { t * batch * d_gates } else { 0 }..;
            let z = &projected[t * batch * d_gates..(t + 1) * batch * d_gates];
            let slices = [
                (&mut hidden[block.clone()], d_hidden),
                (&mut cells[block], d_hidden),
                (&mut gates[gate_block][..batch * d_gates], d_gates),
                (&mut hidden_state[..], d_hidden),
                (&mut cell_state[..], d_hidden),
            ];
            split_batch(
                batch,
                slices,
                |first, [h_out, c_out, g_out, h_state, c_state]| {
                    let n = h_state.len() / d_hidden;
                    let z = &z[first * d_gates..(first + n) * d_gates];
                    g_out.copy_from_slice(z);
                    if s > 0 {
                        // The initial state is zero, so the first step skips the hidden product.
                        let state = matrix(h_state.to_vec(), n, d_hidden);
                        let (recurrent, range) =
                            values(&Flex::float_matmul(state, weight_hh.clone()));
                        let recurrent = &recurrent.storage::<f32>()[range];
                        g_out.iter_mut().zip(recurrent).for_each(|(g, r)| *g += r);
                    }
                    for b in 0..n {
                        let g = &mut g_out[b * d_gates..(b + 1) * d_gates];
                        let (input_forget, cell_output) = g.split_at_mut(2 * d_hidden);
                        let (cell, output) = cell_output.split_at_mut(d_hidden);
                        input_forget.iter_mut().for_each(|v| *v = logistic(*v));
                        output.iter_mut().for_each(|v| *v = logistic(*v));
                        cell.iter_mut().for_each(|v| *v = tanh(*v));
                        let (input, forget) = input_forget.split_at(d_hidden);
                        let rows = b * d_hidden..(b + 1) * d_hidden;
                        let c_state = &mut c_state[rows.clone()];
                        let h_state = &mut h_state[rows.clone()];
                        let (c_out, h_out) = (&mut c_out[rows.clone()], &mut h_out[rows]);
                        for j in 0..d_hidden {
                            let c = forget[j] * c_state[j] + input[j] * cell[j];
                            let h = output[j] * tanh(c);
                            c_state[j] = c;
                            c_out[j] = c;
                            h_state[j] = h;
                            h_out[j] = h;
                        }
                    }
                },
            );
        }
    });
    LstmPass {
        hidden: matrix(hidden, rows, d_hidden),
        gates: save.then(|| matrix(gates, rows, d_gates)),
        cells: save.then(|| matrix(cells, rows, d_hidden)),
    }
}

/// The gradients of the projected input and of `weight_hh`, from the gradient of the hidden
/// states.
fn lstm_backward(grad_hidden: FlexTensor, saved: SavedLstmPass) -> [FlexTensor; 2] {
    let SavedLstmPass {
        hidden,
        gates,
        cells,
        weight_hh,
        batch,
        reverse,
    } = saved;
    let shape = gates.layout().shape();
    let (rows, d_gates) = (shape[0], shape[1]);
    let d_hidden = d_gates / 4;
    let time = rows / batch.max(1);
    let order = step_order(time, reverse);
    let (grad_hidden, grad_range) = values(&grad_hidden);
    let grad_hidden = &grad_hidden.storage::<f32>()[grad_range];
    let (gates, gates_range) = values(&gates);
    let gates = &gates.storage::<f32>()[gates_range];
    let (cells, cells_range) = values(&cells);
    let cells = &cells.storage::<f32>()[cells_range];
    let (hidden, hidden_range) = values(&hidden);
    let hidden = &hidden.storage::<f32>()[hidden_range];
    let weight_hh_t = Flex::float_transpose(weight_hh);

    let mut grad_gates = vec![0.0f32; rows * d_gates];
    // The hidden state each step read, row for row: zero for the first step visited.
    let mut previous_hidden = vec![0.0f32; rows * d_hidden];
    let mut grad_cell_next = vec![0.0f32; batch * d_hidden];
    // The gradient that step `s + 1` sends to the hidden state of step `s`.
    let mut grad_hidden_next = vec![0.0f32; batch * d_hidden];
    rayon::scope(|_| {
        for s in (0..time).rev() {
            let t = order(s);
            let previous = (s > 0).then(|| order(s - 1));
            let gate_rows = t * batch * d_gates..(t + 1) * batch * d_gates;
            let state_rows = t * batch * d_hidden..(t + 1) * batch * d_hidden;
            let slices = [
                (&mut grad_gates[gate_rows.clone()], d_gates),
                (&mut previous_hidden[state_rows.clone()], d_hidden),
                (&mut grad_cell_next[..], d_hidden),
                (&mut grad_hidden_next[..], d_hidden),
            ];
            let last = s + 1 == time;
            split_batch(
                batch,
                slices,
                |first, [dg_out, h_before, dc_next, dh_next]| {
                    let n = dc_next.len() / d_hidden;
                    for b in 0..n {
                        let row = t * batch + first + b;
                        let g = &gates[row * d_gates..(row + 1) * d_gates];
                        let dg = &mut dg_out[b * d_gates..(b + 1) * d_gates];
                        let c_before = previous.map(|p| (p * batch + first + b) * d_hidden);
                        for j in 0..d_hidden {
                            let (input, forget) = (g[j], g[d_hidden + j]);
                            let (cell, output) = (g[2 * d_hidden + j], g[3 * d_hidden + j]);
                            let carried = if last { 0.0 } else { dh_next[b * d_hidden + j] };
                            let dh = grad_hidden[row * d_hidden + j] + carried;
                            let tanh_c = tanh(cells[row * d_hidden + j]);
                            let dc =
                                dh * output * (1.0 - tanh_c * tanh_c) + dc_next[b * d_hidden + j];
                            let c_before = c_before.map_or(0.0, |p| cells[p + j]);
                            dc_next[b * d_hidden + j] = dc * forget;
                            dg[j] = dc * cell * input * (1.0 - input);
                            dg[d_hidden + j] = dc * c_before * forget * (1.0 - forget);
                            dg[2 * d_hidden + j] = dc * input * (1.0 - cell * cell);
                            dg[3 * d_hidden + j] = dh * tanh_c * output * (1.0 - output);
                        }
                        if let Some(p) = previous {
                            let source = (p * batch + first + b) * d_hidden;
                            h_before[b * d_hidden..(b + 1) * d_hidden]
                                .copy_from_slice(&hidden[source..source + d_hidden]);
                        }
                    }
                    if previous.is_some() {
                        let block = matrix(dg_out.to_vec(), n, d_gates);
                        let (carried, range) =
                            values(&Flex::float_matmul(block, weight_hh_t.clone()));
                        dh_next.copy_from_slice(&carried.storage::<f32>()[range]);
                    }
                },
            );
        }
    });
    let grad_gates = matrix(grad_gates, rows, d_gates);
    let grad_weight = Flex::float_matmul(
        Flex::float_transpose(matrix(previous_hidden, rows, d_hidden)),
        grad_gates.clone(),
    );
    [grad_gates, grad_weight]
}

/// The GRU's forward pass: the hidden states `[rows, d_hidden]` and, with `save`, the saved
/// gates `[rows, 4 * d_hidden]` (reset, update, new, and the new gate's hidden part).
fn gru_forward(
    projected: &FlexTensor,
    weight_hh: FlexTensor,
    bias_hh: &FlexTensor,
    batch: usize,
    reverse: bool,
    save: bool,
) -> (FlexTensor, Option<FlexTensor>) {
    let shape = projected.layout().shape();
    let (rows, d_gates) = (shape[0], shape[1]);
    let d_hidden = d_gates / 3;
    let d_saved = 4 * d_hidden;
    let time = rows / batch.max(1);
    let (projected, range) = values(projected);
    let projected = &projected.storage::<f32>()[range];
    let (bias_hh, bias_range) = values(bias_hh);
    let bias_hh = &bias_hh.storage::<f32>()[bias_range];
    let order = step_order(time, reverse);

    let mut hidden = vec![0.0f32; rows * d_hidden];
    // Without `save`, each step's gates are written over the previous step's.
    let mut saved = vec![0.0f32; if save { rows } else { batch } * d_saved];
    let mut hidden_state = vec![0.0f32; batch * d_hidden];
    rayon::scope(|_| {
        for s in 0..time {
            let t = order(s);
            let block = t * batch * d_hidden..(t + 1) * batch * d_hidden;
            let saved_block = if save { t * batch * d_saved } else { 0 }..;
            let z = &projected[t * batch * d_gates..(t + 1) * batch * d_gates];
            let slices = [
                (&mut hidden[block], d_hidden),
                (&mut saved[saved_block][..batch * d_saved], d_saved),
                (&mut hidden_state[..], d_hidden),
            ];
            split_batch(batch, slices, |first, [h_out, g_out, h_state]| {
                let n = h_state.len() / d_hidden;
                let recurrent = (s > 0).then(|| {
                    let state = matrix(h_state.to_vec(), n, d_hidden);
                    values(&Flex::float_matmul(state, weight_hh.clone()))
                });
                let recurrent = recurrent
                    .as_ref()
                    .map(|(tensor, range)| &tensor.storage::<f32>()[range.clone()]);
                for b in 0..n {
                    let z = &z[(first + b) * d_gates..(first + b + 1) * d_gates];
                    let g = &mut g_out[b * d_saved..(b + 1) * d_saved];
                    // The hidden projection with its bias, `h W_hh + b_hh`, goes into the
                    // reset and update slots and (the new gate's part) the fourth block.
                    let (gates, hidden_new) = g.split_at_mut(3 * d_hidden);
                    let (reset_update, new) = gates.split_at_mut(2 * d_hidden);
                    match recurrent {
                        Some(r) => {
                            let r = &r[b * d_gates..(b + 1) * d_gates];
                            reset_update
                                .iter_mut()
                                .zip(&r[..2 * d_hidden])
                                .zip(&bias_hh[..2 * d_hidden])
                                .for_each(|((g, r), bias)| *g = r + bias);
                            hidden_new
                                .iter_mut()
                                .zip(&r[2 * d_hidden..])
                                .zip(&bias_hh[2 * d_hidden..])
                                .for_each(|((g, r), bias)| *g = r + bias);
                        }
                        None => {
                            reset_update.copy_from_slice(&bias_hh[..2 * d_hidden]);
                            hidden_new.copy_from_slice(&bias_hh[2 * d_hidden..]);
                        }
                    }
                    reset_update
                        .iter_mut()
                        .zip(&z[..2 * d_hidden])
                        .for_each(|(g, z)| *g = logistic(*g + z));
                    let (reset, update) = reset_update.split_at(d_hidden);
                    for j in 0..d_hidden {
                        new[j] = tanh(z[2 * d_hidden + j] + reset[j] * hidden_new[j]);
                    }
                    let rows = b * d_hidden..(b + 1) * d_hidden;
                    let h_state = &mut h_state[rows.clone()];
                    let h_out = &mut h_out[rows];
                    for j in 0..d_hidden {
                        // (1 - z) n + z h, with one product fewer.
                        let h = new[j] + update[j] * (h_state[j] - new[j]);
                        h_state[j] = h;
                        h_out[j] = h;
                    }
                }
            });
        }
    });
    (
        matrix(hidden, rows, d_hidden),
        save.then(|| matrix(saved, rows, d_saved)),
    )
}

/// The gradients of the projected input, `weight_hh` and `bias_hh`, from the gradient of the
/// hidden states.
fn gru_backward(grad_hidden: FlexTensor, saved: SavedGruPass) -> [FlexTensor; 3] {
    let SavedGruPass {
        hidden,
        gates,
        weight_hh,
        batch,
        reverse,
    } = saved;
    let shape = gates.layout().shape();
    let (rows, d_saved) = (shape[0], shape[1]);
    let d_hidden = d_saved / 4;
    let d_gates = 3 * d_hidden;
    let time = rows / batch.max(1);
    let order = step_order(time, reverse);
    let (grad_hidden, grad_range) = values(&grad_hidden);
    let grad_hidden = &grad_hidden.storage::<f32>()[grad_range];
    let (gates, gates_range) = values(&gates);
    let gates = &gates.storage::<f32>()[gates_range];
    let (hidden, hidden_range) = values(&hidden);
    let hidden = &hidden.storage::<f32>()[hidden_range];
    let weight_hh_t = Flex::float_transpose(weight_hh);

    // The gradients of the projected input and of the hidden projection `h W_hh + b_hh`.
    let mut grad_input = vec![0.0f32; rows * d_gates];
    let mut grad_recurrent = vec![0.0f32; rows * d_gates];
    let mut previous_hidden = vec![0.0f32; rows * d_hidden];
    let mut grad_hidden_next = vec![0.0f32; batch * d_hidden];
    rayon::scope(|_| {
        for s in (0..time).rev() {
            let t = order(s);
            let previous = (s > 0).then(|| order(s - 1));
            let gate_rows = t * batch * d_gates..(t + 1) * batch * d_gates;
            let state_rows = t * batch * d_hidden..(t + 1) * batch * d_hidden;
            let slices = [
                (&mut grad_input[gate_rows.clone()], d_gates),
                (&mut grad_recurrent[gate_rows], d_gates),
                (&mut previous_hidden[state_rows], d_hidden),
                (&mut grad_hidden_next[..], d_hidden),
            ];
            let last = s + 1 == time;
            split_batch(batch, slices, |first, [d_in, d_rec, h_before, dh_next]| {
                let n = dh_next.len() / d_hidden;
                for b in 0..n {
                    let row = t * batch + first + b;
                    let g = &gates[row * d_saved..(row + 1) * d_saved];
                    let before = previous.map(|p| (p * batch + first + b) * d_hidden);
                    if let Some(source) = before {
                        h_before[b * d_hidden..(b + 1) * d_hidden]
                            .copy_from_slice(&hidden[source..source + d_hidden]);
                    }
                    let d_in = &mut d_in[b * d_gates..(b + 1) * d_gates];
                    let d_rec = &mut d_rec[b * d_gates..(b + 1) * d_gates];
                    for j in 0..d_hidden {
                        let (reset, update) = (g[j], g[d_hidden + j]);
                        let (new, hidden_new) = (g[2 * d_hidden + j], g[3 * d_hidden + j]);
                        let carried = if last { 0.0 } else { dh_next[b * d_hidden + j] };
                        let dh = grad_hidden[row * d_hidden + j] + carried;
                        let h_prev = before.map_or(0.0, |p| hidden[p + j]);
                        let d_new = dh * (1.0 - update) * (1.0 - new * new);
                        let d_update = dh * (h_prev - new) * update * (1.0 - update);
                        let d_reset = d_new * hidden_new * reset * (1.0 - reset);
                        d_in[j] = d_reset;
                        d_in[d_hidden + j] = d_update;
                        d_in[2 * d_hidden + j] = d_new;
                        d_rec[j] = d_reset;
                        d_rec[d_hidden + j] = d_update;
                        d_rec[2 * d_hidden + j] = d_new * reset;
                        // The direct path to the previous state, `z h`; the path through
                        // W_hh is added below.
                        dh_next[b * d_hidden + j] = dh * update;
                    }
                }
                if previous.is_some() {
                    let block = matrix(d_rec.to_vec(), n, d_gates);
                    let (carried, range) = values(&Flex::float_matmul(block, weight_hh_t.clone()));
                    dh_next
                        .iter_mut()
                        .zip(&carried.storage::<f32>()[range])
                        .for_each(|(d, c)| *d += c);
                }
            });
        }
    });
    let mut grad_bias = vec![0.0f32; d_gates];
    for row in grad_recurrent.chunks_exact(d_gates) {
        grad_bias.iter_mut().zip(row).for_each(|(g, r)| *g += r);
    }
    let grad_recurrent = matrix(grad_recurrent, rows, d_gates);
    let grad_weight = Flex::float_matmul(
        Flex::float_transpose(matrix(previous_hidden, rows, d_hidden)),
        grad_recurrent,
    );
    [
        matrix(grad_input, rows, d_gates),
        grad_weight,
        FlexTensor::from_data(TensorData::new(grad_bias, [d_gates])),
    ]
}

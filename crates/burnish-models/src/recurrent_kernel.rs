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
//! The batch is split between two threads, each running every step of its half of the
//! sequences, so that the threads meet once per pass rather than once per step. The step's
//! product is [`add_product`], which keeps its sums in registers: at these sizes (a few dozen
//! rows) a general matrix product spends more time packing `W_hh` than multiplying. The
//! element-wise loops run compiled for AVX2 or AVX-512 where the CPU has them
//! ([`crate::flex_math::vectorized`]).
//!
//! The operation goes through Burn's backend extension (`#[backend_extension]`), which routes
//! it to [`Flex`] (and to `Autodiff<Flex>`, which records the hand-written backward step).
//! Other backends keep the tensor-operation path of `recurrent.rs`; [`applies_to`] says which.
//!
//! The input projection (`x W_ih + b`) is not part of the operation: it is one matrix product
//! over all steps, computed before, so its gradients come from Burn's own operations.

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, backend_extension};
use burn::tensor::{Tensor, TensorData};
use burn_flex::FlexTensor;

pub use crate::flex_math::applies_to;
use crate::flex_math::{add_product, logistic, matrix, register, tanh, values, vectorized};

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

// The per-sequence step functions below are inlined into vectorised loops. Each of their loops
// writes one slice: the slices all come from a few buffers, so the compiler checks at run time
// that they do not overlap, and gives up vectorising a loop that would need many such checks.

/// One LSTM step of one sequence: activates the gates `g` (input, forget, cell, output; the
/// pre-activations on entry) and advances the cell and hidden states.
#[inline(always)]
fn lstm_cell(g: &mut [f32], c_state: &mut [f32], h_state: &mut [f32]) {
    let d = c_state.len();
    let (input_forget, rest) = g.split_at_mut(2 * d);
    let (cell, output) = rest.split_at_mut(d);
    input_forget.iter_mut().for_each(|v| *v = logistic(*v));
    output.iter_mut().for_each(|v| *v = logistic(*v));
    cell.iter_mut().for_each(|v| *v = tanh(*v));
    let (input, forget) = input_forget.split_at(d);
    for (((c, &f), &i), &g) in c_state.iter_mut().zip(forget).zip(input).zip(&*cell) {
        *c = f * *c + i * g;
    }
    for ((h, &o), &c) in h_state.iter_mut().zip(&*output).zip(&*c_state) {
        *h = o * tanh(c);
    }
}

/// What the LSTM's backward pass reads of one sequence's step.
struct LstmStep<'a> {
    /// The activated input, forget, cell and output gates.
    gates: &'a [f32],
    /// The cell state after the step.
    cell_after: &'a [f32],
    /// The cell state before it (zero for the first step).
    cell_before: &'a [f32],
}

/// The gradients of one LSTM step's gate pre-activations, `dg`, from the gradient of its
/// hidden state (`grad_hidden`, from above, plus `dh_next`, from the next step); turns
/// `dc_next` from the gradient of the cell state after the step into that before it.
/// `scratch` holds `2 * d_hidden` values.
#[inline(always)]
fn lstm_cell_backward(
    step: LstmStep<'_>,
    grad_hidden: &[f32],
    dh_next: &[f32],
    dc_next: &mut [f32],
    dg: &mut [f32],
    scratch: &mut [f32],
) {
    let d = dc_next.len();
    let g = step.gates;
    let (input, forget, cell, output) = (&g[..d], &g[d..2 * d], &g[2 * d..3 * d], &g[3 * d..4 * d]);
    let (dg_input, rest) = dg.split_at_mut(d);
    let (dg_forget, rest) = rest.split_at_mut(d);
    let (dg_cell, dg_output) = rest.split_at_mut(d);
    let (dh, tanh_c) = scratch.split_at_mut(d);
    for ((dh, &above), &next) in dh.iter_mut().zip(grad_hidden).zip(dh_next) {
        *dh = above + next;
    }
    for (t, &c) in tanh_c.iter_mut().zip(step.cell_after) {
        *t = tanh(c);
    }
    for (((dg, &dh), &t), &o) in dg_output.iter_mut().zip(&*dh).zip(&*tanh_c).zip(output) {
        *dg = dh * t * o * (1.0 - o);
    }
    // The gradient of the cell state after the step.
    for (((dc, &dh), &t), &o) in dc_next.iter_mut().zip(&*dh).zip(&*tanh_c).zip(output) {
        *dc += dh * o * (1.0 - t * t);
    }
    for (((dg, &dc), &c), &i) in dg_input.iter_mut().zip(&*dc_next).zip(cell).zip(input) {
        *dg = dc * c * i * (1.0 - i);
    }
    for (((dg, &dc), &before), &f) in dg_forget
        .iter_mut()
        .zip(&*dc_next)
        .zip(step.cell_before)
        .zip(forget)
    {
        *dg = dc * before * f * (1.0 - f);
    }
    for (((dg, &dc), &i), &c) in dg_cell.iter_mut().zip(&*dc_next).zip(input).zip(cell) {
        *dg = dc * i * (1.0 - c * c);
    }
    for (dc, &f) in dc_next.iter_mut().zip(forget) {
        *dc *= f;
    }
}

/// The three gate blocks of a GRU row `[3 * d]`, each `[d]`.
#[inline(always)]
fn thirds(row: &[f32], d: usize) -> [&[f32]; 3] {
    [&row[..d], &row[d..2 * d], &row[2 * d..3 * d]]
}

/// One GRU step of one sequence: from the projected input `z` and the hidden projection
/// `r = h W_hh` (without its bias), writes the reset, update and new gates and the new gate's
/// hidden part (`r_n + b_hn`) into `g`, and advances the hidden state.
#[inline(always)]
fn gru_cell(g: &mut [f32], z: &[f32], r: &[f32], bias: &[f32], h_state: &mut [f32]) {
    let d = h_state.len();
    let (reset, rest) = g.split_at_mut(d);
    let (update, rest) = rest.split_at_mut(d);
    let (new, hidden_new) = rest.split_at_mut(d);
    let [z_reset, z_update, z_new] = thirds(z, d);
    let [r_reset, r_update, r_new] = thirds(r, d);
    let [b_reset, b_update, b_new] = thirds(bias, d);
    for (gate, r, b, z) in [
        (&mut *reset, r_reset, b_reset, z_reset),
        (&mut *update, r_update, b_update, z_update),
    ] {
        for (((g, &r), &b), &z) in gate.iter_mut().zip(r).zip(b).zip(z) {
            *g = logistic(r + b + z);
        }
    }
    for ((g, &r), &b) in hidden_new.iter_mut().zip(r_new).zip(b_new) {
        *g = r + b;
    }
    for (((n, &z), &r), &h) in new.iter_mut().zip(z_new).zip(&*reset).zip(&*hidden_new) {
        *n = tanh(z + r * h);
    }
    // (1 - u) n + u h, with one product fewer.
    for ((h, &n), &u) in h_state.iter_mut().zip(&*new).zip(&*update) {
        *h = n + u * (*h - n);
    }
}

/// The gradients of one GRU step's projected input (`d_in`) and hidden projection with its
/// bias (`d_rec`), from the gradient of its hidden state (`grad_hidden` plus `dh_next`); sets
/// `dh_next` to the direct part of the gradient of the state before the step (the part
/// through `W_hh` is added by the caller).
#[inline(always)]
fn gru_cell_backward(
    g: &[f32],
    hidden_before: &[f32],
    grad_hidden: &[f32],
    dh_next: &mut [f32],
    d_in: &mut [f32],
    d_rec: &mut [f32],
) {
    let d = dh_next.len();
    let (reset, update, new, hidden_new) =
        (&g[..d], &g[d..2 * d], &g[2 * d..3 * d], &g[3 * d..4 * d]);
    let (d_in_reset, rest) = d_in.split_at_mut(d);
    let (d_in_update, d_in_new) = rest.split_at_mut(d);
    let (d_rec_reset_update, d_rec_new) = d_rec.split_at_mut(2 * d);
    // dh_next becomes the gradient of this step's hidden state.
    for (dh, &above) in dh_next.iter_mut().zip(grad_hidden) {
        *dh += above;
    }
    for (((dn, &dh), &u), &n) in d_in_new.iter_mut().zip(&*dh_next).zip(update).zip(new) {
        *dn = dh * (1.0 - u) * (1.0 - n * n);
    }
    for ((((du, &dh), &before), &n), &u) in d_in_update
        .iter_mut()
        .zip(&*dh_next)
        .zip(hidden_before)
        .zip(new)
        .zip(update)
    {
        *du = dh * (before - n) * u * (1.0 - u);
    }
    for (((dr, &dn), &h), &r) in d_in_reset
        .iter_mut()
        .zip(&*d_in_new)
        .zip(hidden_new)
        .zip(reset)
    {
        *dr = dn * h * r * (1.0 - r);
    }
    d_rec_reset_update[..d].copy_from_slice(d_in_reset);
    d_rec_reset_update[d..].copy_from_slice(d_in_update);
    for ((dr, &dn), &r) in d_rec_new.iter_mut().zip(&*d_in_new).zip(reset) {
        *dr = dn * r;
    }
    for (dh, &u) in dh_next.iter_mut().zip(update) {
        *dh *= u;
    }
}

/// Below this many sequences a recurrence is not worth splitting between two threads.
const MIN_PARALLEL_BATCH: usize = 8;

/// One thread's share of time-major buffers: `blocks[k][t]` holds its sequences' rows of
/// time step `t` of buffer `k`.
type Share<'a, const N: usize> = [Vec<&'a mut [f32]>; N];

/// Runs `work(first, n, share)` on the sequences `first..first + n`: all of them on this
/// thread when the batch is small, else `0..half` and `half..batch` on two threads, each over
/// every time step (the sequences of a batch do not interact, so the threads never wait for
/// each other within the pass). `buffers` are time-major, `(buffer, width)`: blocks of `batch`
/// rows of `width` values per step.
fn split_sequences<const N: usize>(
    batch: usize,
    buffers: [(&mut [f32], usize); N],
    work: impl Fn(usize, usize, Share<'_, N>) + Sync,
) {
    if batch == 0 {
        return;
    }
    let half = if batch < MIN_PARALLEL_BATCH {
        batch
    } else {
        batch / 2
    };
    let mut firsts: Share<'_, N> = std::array::from_fn(|_| Vec::new());
    let mut seconds: Share<'_, N> = std::array::from_fn(|_| Vec::new());
    for (k, (buffer, width)) in buffers.into_iter().enumerate() {
        for block in buffer.chunks_exact_mut(batch * width) {
            let (first, second) = block.split_at_mut(half * width);
            firsts[k].push(first);
            seconds[k].push(second);
        }
    }
    if half == batch {
        work(0, batch, firsts);
    } else {
        rayon::join(
            || work(0, half, firsts),
            || work(half, batch - half, seconds),
        );
    }
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
    let (weight_hh, weight_range) = values(&weight_hh);
    let weight_hh = &weight_hh.storage::<f32>()[weight_range];
    let order = step_order(time, reverse);

    let mut hidden = vec![0.0f32; rows * d_hidden];
    // Without `save`, no cell state or gate is kept past its step.
    let saved_rows = if save { rows } else { 0 };
    let mut cells = vec![0.0f32; saved_rows * d_hidden];
    let mut gates = vec![0.0f32; saved_rows * d_gates];
    let buffers = [
        (&mut hidden[..], d_hidden),
        (&mut cells[..], d_hidden),
        (&mut gates[..], d_gates),
    ];
    split_sequences(
        batch,
        buffers,
        |first, n, [mut hidden, mut cells, mut gates]| {
            let mut h_state = vec![0.0f32; n * d_hidden];
            let mut c_state = vec![0.0f32; n * d_hidden];
            let mut scratch = vec![0.0f32; if save { 0 } else { n * d_gates }];
            for s in 0..time {
                let t = order(s);
                let g_out: &mut [f32] = if save { &mut *gates[t] } else { &mut scratch };
                g_out.copy_from_slice(&projected[(t * batch + first) * d_gates..][..n * d_gates]);
                if s > 0 {
                    // The initial state is zero, so the first step skips the hidden product.
                    add_product(&h_state, weight_hh, d_hidden, d_gates, g_out);
                }
                vectorized(
                    #[inline(always)]
                    || {
                        for ((g, c_state), h_state) in g_out
                            .chunks_exact_mut(d_gates)
                            .zip(c_state.chunks_exact_mut(d_hidden))
                            .zip(h_state.chunks_exact_mut(d_hidden))
                        {
                            lstm_cell(g, c_state, h_state);
                        }
                    },
                );
                hidden[t].copy_from_slice(&h_state);
                if save {
                    cells[t].copy_from_slice(&c_state);
                }
            }
        },
    );
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
    let (weight_hh_t, weight_range) = values(&Flex::float_transpose(weight_hh));
    let weight_hh_t = &weight_hh_t.storage::<f32>()[weight_range];

    let mut grad_gates = vec![0.0f32; rows * d_gates];
    // The hidden state each step read, row for row: zero for the first step visited.
    let mut previous_hidden = vec![0.0f32; rows * d_hidden];
    let buffers = [
        (&mut grad_gates[..], d_gates),
        (&mut previous_hidden[..], d_hidden),
    ];
    split_sequences(
        batch,
        buffers,
        |first, n, [mut grad_gates, mut previous_hidden]| {
            let mut grad_cell_next = vec![0.0f32; n * d_hidden];
            let mut scratch = vec![0.0f32; 2 * d_hidden];
            let zeros = vec![0.0f32; d_hidden];
            // The gradient that step `s + 1` sends to the hidden state of step `s`.
            let mut grad_hidden_next = vec![0.0f32; n * d_hidden];
            for s in (0..time).rev() {
                let t = order(s);
                let previous = (s > 0).then(|| order(s - 1));
                let block = (t * batch + first) * d_hidden..(t * batch + first + n) * d_hidden;
                let dg_out = &mut *grad_gates[t];
                vectorized(
                    #[inline(always)]
                    || {
                        for (b, (((dg, dc_next), dh_next), grad_hidden)) in dg_out
                            .chunks_exact_mut(d_gates)
                            .zip(grad_cell_next.chunks_exact_mut(d_hidden))
                            .zip(grad_hidden_next.chunks_exact(d_hidden))
                            .zip(grad_hidden[block.clone()].chunks_exact(d_hidden))
                            .enumerate()
                        {
                            let row = t * batch + first + b;
                            let c_before = match previous {
                                Some(p) => &cells[(p * batch + first + b) * d_hidden..][..d_hidden],
                                None => &zeros[..],
                            };
                            let saved = LstmStep {
                                gates: &gates[row * d_gates..(row + 1) * d_gates],
                                cell_after: &cells[row * d_hidden..(row + 1) * d_hidden],
                                cell_before: c_before,
                            };
                            lstm_cell_backward(
                                saved,
                                grad_hidden,
                                dh_next,
                                dc_next,
                                dg,
                                &mut scratch,
                            );
                        }
                    },
                );
                if let Some(p) = previous {
                    let source = (p * batch + first) * d_hidden;
                    previous_hidden[t].copy_from_slice(&hidden[source..source + n * d_hidden]);
                    grad_hidden_next.fill(0.0);
                    add_product(
                        dg_out,
                        weight_hh_t,
                        d_gates,
                        d_hidden,
                        &mut grad_hidden_next,
                    );
                }
            }
        },
    );
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
    let (weight_hh, weight_range) = values(&weight_hh);
    let weight_hh = &weight_hh.storage::<f32>()[weight_range];
    let (bias_hh, bias_range) = values(bias_hh);
    let bias_hh = &bias_hh.storage::<f32>()[bias_range];
    let order = step_order(time, reverse);

    let mut hidden = vec![0.0f32; rows * d_hidden];
    // Without `save`, no gate is kept past its step.
    let mut saved = vec![0.0f32; if save { rows * d_saved } else { 0 }];
    let buffers = [(&mut hidden[..], d_hidden), (&mut saved[..], d_saved)];
    split_sequences(batch, buffers, |first, n, [mut hidden, mut saved]| {
        let mut h_state = vec![0.0f32; n * d_hidden];
        let mut scratch = vec![0.0f32; if save { 0 } else { n * d_saved }];
        // The hidden projection `h W_hh` of the sequences' states.
        let mut recurrent = vec![0.0f32; n * d_gates];
        for s in 0..time {
            let t = order(s);
            let g_out: &mut [f32] = if save { &mut *saved[t] } else { &mut scratch };
            // The initial state is zero, so the first step's hidden projection is zero.
            recurrent.fill(0.0);
            if s > 0 {
                add_product(&h_state, weight_hh, d_hidden, d_gates, &mut recurrent);
            }
            let z = &projected[(t * batch + first) * d_gates..][..n * d_gates];
            vectorized(
                #[inline(always)]
                || {
                    for (((g, z), r), h_state) in g_out
                        .chunks_exact_mut(d_saved)
                        .zip(z.chunks_exact(d_gates))
                        .zip(recurrent.chunks_exact(d_gates))
                        .zip(h_state.chunks_exact_mut(d_hidden))
                    {
                        gru_cell(g, z, r, bias_hh, h_state);
                    }
                },
            );
            hidden[t].copy_from_slice(&h_state);
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
    let (weight_hh_t, weight_range) = values(&Flex::float_transpose(weight_hh));
    let weight_hh_t = &weight_hh_t.storage::<f32>()[weight_range];

    // The gradients of the projected input and of the hidden projection `h W_hh + b_hh`.
    let mut grad_input = vec![0.0f32; rows * d_gates];
    let mut grad_recurrent = vec![0.0f32; rows * d_gates];
    let mut previous_hidden = vec![0.0f32; rows * d_hidden];
    let buffers = [
        (&mut grad_input[..], d_gates),
        (&mut grad_recurrent[..], d_gates),
        (&mut previous_hidden[..], d_hidden),
    ];
    split_sequences(
        batch,
        buffers,
        |first, n, [mut grad_input, mut grad_recurrent, mut previous_hidden]| {
            // The gradient that step `s + 1` sends to the hidden state of step `s`.
            let mut grad_hidden_next = vec![0.0f32; n * d_hidden];
            let zeros = vec![0.0f32; d_hidden];
            for s in (0..time).rev() {
                let t = order(s);
                let previous = (s > 0).then(|| order(s - 1));
                let block = (t * batch + first) * d_hidden..(t * batch + first + n) * d_hidden;
                let (d_in, d_rec) = (&mut *grad_input[t], &mut *grad_recurrent[t]);
                vectorized(
                    #[inline(always)]
                    || {
                        for (b, (((d_in, d_rec), dh_next), grad_hidden)) in d_in
                            .chunks_exact_mut(d_gates)
                            .zip(d_rec.chunks_exact_mut(d_gates))
                            .zip(grad_hidden_next.chunks_exact_mut(d_hidden))
                            .zip(grad_hidden[block.clone()].chunks_exact(d_hidden))
                            .enumerate()
                        {
                            let row = t * batch + first + b;
                            let hidden_before = match previous {
                                Some(p) => {
                                    &hidden[(p * batch + first + b) * d_hidden..][..d_hidden]
                                }
                                None => &zeros[..],
                            };
                            let gates = &gates[row * d_saved..(row + 1) * d_saved];
                            gru_cell_backward(
                                gates,
                                hidden_before,
                                grad_hidden,
                                dh_next,
                                d_in,
                                d_rec,
                            );
                        }
                    },
                );
                if let Some(p) = previous {
                    let source = (p * batch + first) * d_hidden;
                    previous_hidden[t].copy_from_slice(&hidden[source..source + n * d_hidden]);
                    add_product(d_rec, weight_hh_t, d_gates, d_hidden, &mut grad_hidden_next);
                }
            }
        },
    );
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

//! Stacked recurrent layers (Elman RNN, LSTM, GRU) with PyTorch's equations and weight names.
//!
//! Per layer and direction, the input projection of every time step is one matrix product,
//! and each step costs one more product for all gates at once; the gates are then views of
//! that product. This is what makes the layer fast: Burn's own `Lstm` multiplies each gate
//! separately at each step. The weights are PyTorch's, transposed, so a `state_dict` of
//! `torch.nn.LSTM` (or `RNN`, `GRU`) imports and exports exactly. This module computes forward
//! passes only; it neither reads files nor trains.

use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig, Initializer};
use burn::tensor::module::linear;
use burn::tensor::{Bool, Device, Int, Tensor};
use serde::{Deserialize, Serialize};

use crate::StateDict;
use crate::model::Error;
use crate::recurrent_kernel;

/// The recurrent cell of every layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CellKind {
    /// Elman's cell: `h' = tanh(W_ih x + b_ih + W_hh h + b_hh)`.
    Rnn,
    /// Long short-term memory, gates in PyTorch's order: input, forget, cell, output.
    #[default]
    Lstm,
    /// The gated recurrent unit, gates in PyTorch's order: reset, update, new.
    Gru,
}

impl CellKind {
    /// The number of blocks of `d_hidden` rows stacked in each PyTorch weight: 1, 4 or 3.
    pub fn n_gates(self) -> usize {
        match self {
            Self::Rnn => 1,
            Self::Lstm => 4,
            Self::Gru => 3,
        }
    }
}

/// Every size and option of a [`Recurrent`] stack.
#[derive(Debug, Clone, PartialEq)]
pub struct RecurrentConfig {
    /// The cell of every layer.
    pub cell: CellKind,
    /// The number of features of each time step of the input.
    pub d_input: usize,
    /// The size of the hidden state of each layer and direction.
    pub d_hidden: usize,
    /// The number of stacked layers; each layer after the first reads the one before.
    pub n_layers: usize,
    /// Whether each layer also reads the sequence backwards, doubling its output features.
    pub bidirectional: bool,
    /// The dropout probability on the output of every layer but the last, as in PyTorch.
    pub dropout: f64,
}

impl RecurrentConfig {
    /// Checks every size and probability, naming the field at fault.
    pub fn validate(&self) -> Result<(), Error> {
        if self.d_input == 0 {
            return Err(Error::invalid("d_input", "the input has no features"));
        }
        if self.d_hidden == 0 {
            return Err(Error::invalid("model.d_hidden", "must be at least 1"));
        }
        if self.n_layers == 0 {
            return Err(Error::invalid("model.n_layers", "must be at least 1"));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::invalid(
                "model.dropout",
                format!("{} is not a probability in [0, 1)", self.dropout),
            ));
        }
        Ok(())
    }

    /// The number of output features of each time step: `d_hidden` times the directions.
    pub fn d_output(&self) -> usize {
        self.d_hidden * if self.bidirectional { 2 } else { 1 }
    }

    /// Builds the stack with PyTorch's initialisation, every weight and bias uniform in
    /// `±1/sqrt(d_hidden)`, on `device`.
    ///
    /// Call [`Self::validate`] first where the sizes come from a user.
    pub fn init(&self, device: &Device) -> Recurrent {
        let layers = (0..self.n_layers)
            .map(|layer_idx| {
                let d_layer_input = if layer_idx == 0 {
                    self.d_input
                } else {
                    self.d_output()
                };
                RecurrentLayer {
                    forward_direction: self.init_direction(d_layer_input, device),
                    backward_direction: self
                        .bidirectional
                        .then(|| self.init_direction(d_layer_input, device)),
                }
            })
            .collect();
        Recurrent {
            layers,
            dropout: DropoutConfig::new(self.dropout).init(),
            cell: self.cell,
            d_input: self.d_input,
            d_hidden: self.d_hidden,
        }
    }

    fn init_direction(&self, d_layer_input: usize, device: &Device) -> CellWeights {
        let bound = 1.0 / (self.d_hidden as f64).sqrt();
        let initializer = Initializer::Uniform {
            min: -bound,
            max: bound,
        };
        let d_gates = self.cell.n_gates() * self.d_hidden;
        CellWeights {
            weight_ih: initializer.init([d_layer_input, d_gates], device),
            weight_hh: initializer.init([self.d_hidden, d_gates], device),
            bias_ih: initializer.init([d_gates], device),
            bias_hh: initializer.init([d_gates], device),
        }
    }
}

/// A stack of recurrent layers, each reading a whole sequence and returning every step.
///
/// Build it with [`RecurrentConfig::init`]; import PyTorch weights with
/// [`Recurrent::load_torch`].
#[derive(Module, Debug)]
pub struct Recurrent {
    layers: Vec<RecurrentLayer>,
    dropout: Dropout,
    #[module(skip)]
    cell: CellKind,
    #[module(skip)]
    d_input: usize,
    #[module(skip)]
    d_hidden: usize,
}

/// One layer: a forward direction and, when bidirectional, a backward one.
#[derive(Module, Debug)]
struct RecurrentLayer {
    forward_direction: CellWeights,
    backward_direction: Option<CellWeights>,
}

/// The weights of one layer and direction, gates side by side in PyTorch's order.
#[derive(Module, Debug)]
struct CellWeights {
    /// `[d_layer_input, n_gates * d_hidden]`: PyTorch's `weight_ih_l{k}` transposed.
    weight_ih: Param<Tensor<2>>,
    /// `[d_hidden, n_gates * d_hidden]`: PyTorch's `weight_hh_l{k}` transposed.
    weight_hh: Param<Tensor<2>>,
    /// `[n_gates * d_hidden]`.
    bias_ih: Param<Tensor<1>>,
    /// `[n_gates * d_hidden]`; kept apart from `bias_ih` because the GRU's new gate scales it
    /// by the reset gate, and so that PyTorch weights round-trip exactly.
    bias_hh: Param<Tensor<1>>,
}

/// The order in which a direction visits the time steps of its (already reversed, where
/// sequences are padded) input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StepOrder {
    FirstToLast,
    LastToFirst,
}

impl Recurrent {
    /// The cell of every layer.
    pub fn cell(&self) -> CellKind {
        self.cell
    }

    /// The size of the hidden state of each layer and direction.
    pub fn d_hidden(&self) -> usize {
        self.d_hidden
    }

    /// Whether each layer also reads the sequences backwards.
    pub fn is_bidirectional(&self) -> bool {
        self.layers
            .first()
            .is_some_and(|layer| layer.backward_direction.is_some())
    }

    /// The number of output features of each time step: `d_hidden` times the directions.
    pub fn d_output(&self) -> usize {
        self.d_hidden * if self.is_bidirectional() { 2 } else { 1 }
    }

    /// Runs every layer over whole sequences, from zero initial states.
    ///
    /// `padding` marks the padding positions (`true`) of right-padded sequences: each
    /// sequence's valid steps come first. Each sequence is then computed as if it were alone
    /// and unpadded (as PyTorch's `pack_padded_sequence`): the forward direction never reads a
    /// padding position before a valid one, and the backward direction starts at the
    /// sequence's own last valid step. Padding positions of the output are zero. (The
    /// recurrence still runs over the padding at the end of each row, which costs nothing
    /// extra in a batch, but no valid output depends on it; the final states are not
    /// returned.)
    ///
    /// # Shapes
    /// - `input`: `[batch, time, d_input]`
    /// - `padding`: `[batch, time]`
    /// - output: `[batch, time, d_hidden * directions]`, the last layer at every step, the
    ///   forward direction's features first
    pub fn forward(&self, input: Tensor<3>, padding: Option<Tensor<2, Bool>>) -> Tensor<3> {
        self.forward_time_major(input.swap_dims(0, 1), padding)
            .swap_dims(0, 1)
    }

    /// [`Self::forward`] on time-major steps: `input` `[time, batch, d_input]`, output
    /// `[time, batch, d_hidden * directions]`; `padding` is still `[batch, time]`.
    ///
    /// The recurrence runs on time-major rows, so a caller that can produce its input in that
    /// order (an embedding of transposed token ids) saves a copy of the input, and its
    /// gradient, by calling this.
    pub fn forward_time_major(
        &self,
        input: Tensor<3>,
        padding: Option<Tensor<2, Bool>>,
    ) -> Tensor<3> {
        let [time, batch, d_input] = input.dims();
        assert_eq!(
            d_input, self.d_input,
            "the recurrent input has {d_input} features, the first layer takes {}",
            self.d_input
        );
        if let Some(padding) = &padding {
            assert_eq!(
                padding.dims(),
                [batch, time],
                "the padding mask must be [batch, time]"
            );
        }
        // Time-major rows (`step * batch + sequence`): one step of the whole batch is then a
        // contiguous block of rows, and the next layer reads the rows as they are.
        let mut rows = input.reshape([time * batch, d_input]);
        let reversal = match &padding {
            Some(padding) if self.is_bidirectional() => Some(reversal_rows(padding.clone())),
            _ => None,
        };
        for (layer_idx, layer) in self.layers.iter().enumerate() {
            if layer_idx > 0 {
                rows = self.dropout.forward(rows);
            }
            let forward_rows =
                layer
                    .forward_direction
                    .run(self.cell, rows.clone(), batch, StepOrder::FirstToLast);
            rows = match &layer.backward_direction {
                None => forward_rows,
                Some(weights) => {
                    let backward_rows = match &reversal {
                        None => weights.run(self.cell, rows, batch, StepOrder::LastToFirst),
                        // Reversing each sequence within its own length puts its last valid
                        // step first; the reversal is its own inverse.
                        Some(reversal) => weights
                            .run(
                                self.cell,
                                rows.select(0, reversal.clone()),
                                batch,
                                StepOrder::FirstToLast,
                            )
                            .select(0, reversal.clone()),
                    };
                    Tensor::cat(vec![forward_rows, backward_rows], 1)
                }
            };
        }
        let d_output = self.d_output();
        let output = rows.reshape([time, batch, d_output]);
        match padding {
            None => output,
            Some(padding) => {
                let mask = padding
                    .swap_dims(0, 1)
                    .unsqueeze_dim::<3>(2)
                    .expand([time, batch, d_output]);
                output.mask_fill(mask, 0.0)
            }
        }
    }

    /// The PyTorch names of every weight, `{prefix}weight_ih_l0` first.
    pub fn torch_names(&self, prefix: &str) -> Vec<String> {
        let mut names = Vec::new();
        for (layer_idx, layer) in self.layers.iter().enumerate() {
            let mut suffixes = vec![format!("l{layer_idx}")];
            if layer.backward_direction.is_some() {
                suffixes.push(format!("l{layer_idx}_reverse"));
            }
            for suffix in suffixes {
                for kind in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"] {
                    names.push(format!("{prefix}{kind}_{suffix}"));
                }
            }
        }
        names
    }

    /// Replaces every weight with PyTorch's `{prefix}weight_ih_l{k}`, `weight_hh_l{k}`,
    /// `bias_ih_l{k}` and `bias_hh_l{k}` (suffixed `_reverse` for the backward direction).
    ///
    /// Other tensors of `state_dict` are ignored; check them with
    /// [`StateDict::expect_only`] and [`Self::torch_names`] where that matters.
    pub fn load_torch(mut self, state_dict: &StateDict, prefix: &str) -> Result<Self, Error> {
        let d_hidden = self.d_hidden;
        let n_gates = self.cell.n_gates();
        let mut layers = Vec::with_capacity(self.layers.len());
        for (layer_idx, layer) in std::mem::take(&mut self.layers).into_iter().enumerate() {
            let suffix = format!("l{layer_idx}");
            let forward_direction = layer
                .forward_direction
                .load_torch(state_dict, prefix, &suffix, n_gates, d_hidden)?;
            let backward_direction = match layer.backward_direction {
                None => None,
                Some(weights) => Some(weights.load_torch(
                    state_dict,
                    prefix,
                    &format!("{suffix}_reverse"),
                    n_gates,
                    d_hidden,
                )?),
            };
            layers.push(RecurrentLayer {
                forward_direction,
                backward_direction,
            });
        }
        self.layers = layers;
        Ok(self)
    }

    /// Writes every weight into `state_dict` under the names [`Self::load_torch`] reads, in
    /// PyTorch's layouts.
    pub fn to_torch(&self, state_dict: &mut StateDict, prefix: &str) {
        for (layer_idx, layer) in self.layers.iter().enumerate() {
            let suffix = format!("l{layer_idx}");
            layer
                .forward_direction
                .to_torch(state_dict, prefix, &suffix);
            if let Some(weights) = &layer.backward_direction {
                weights.to_torch(state_dict, prefix, &format!("{suffix}_reverse"));
            }
        }
    }
}

impl CellWeights {
    /// Runs one direction of one layer over time-major rows.
    ///
    /// # Shapes
    /// - `rows`: `[time * batch, d_layer_input]`, row `step * batch + sequence`
    /// - output: `[time * batch, d_hidden]`, in the same row order
    fn run(&self, cell: CellKind, rows: Tensor<2>, batch: usize, order: StepOrder) -> Tensor<2> {
        let [n_rows, _] = rows.dims();
        if n_rows == 0 {
            let [d_hidden, _] = self.weight_hh.dims();
            return Tensor::zeros([0, d_hidden], &rows.device());
        }
        let weight_hh = self.weight_hh.val();
        // The hidden bias adds to the input projection, once for all steps, except in the
        // GRU, whose new gate scales it by the reset gate.
        let input_bias = match cell {
            CellKind::Gru => self.bias_ih.val(),
            CellKind::Rnn | CellKind::Lstm => self.bias_ih.val() + self.bias_hh.val(),
        };
        let projected = linear(rows, self.weight_ih.val(), Some(input_bias));
        if recurrent_kernel::applies_to(&projected.device()) {
            let reverse = order == StepOrder::LastToFirst;
            match cell {
                CellKind::Lstm => {
                    return recurrent_kernel::lstm_recurrence(projected, weight_hh, batch, reverse);
                }
                CellKind::Gru => {
                    let bias_hh = self.bias_hh.val();
                    return recurrent_kernel::gru_recurrence(
                        projected, weight_hh, bias_hh, batch, reverse,
                    );
                }
                CellKind::Rnn => {}
            }
        }
        run_steps(cell, projected, weight_hh, self.bias_hh.val(), batch, order)
    }

    /// `suffix` is `l{layer_idx}`, followed by `_reverse` for the backward direction.
    fn load_torch(
        self,
        state_dict: &StateDict,
        prefix: &str,
        suffix: &str,
        n_gates: usize,
        d_hidden: usize,
    ) -> Result<Self, Error> {
        let d_gates = n_gates * d_hidden;
        let d_layer_input = self.weight_ih.lazy_shape()[0];
        let device = self.weight_ih.lazy_device();
        let name = |kind: &str| format!("{prefix}{kind}_{suffix}");
        let weight_ih =
            state_dict.tensor::<2>(&name("weight_ih"), [d_gates, d_layer_input], &device)?;
        let weight_hh = state_dict.tensor::<2>(&name("weight_hh"), [d_gates, d_hidden], &device)?;
        let bias_ih = state_dict.tensor::<1>(&name("bias_ih"), [d_gates], &device)?;
        let bias_hh = state_dict.tensor::<1>(&name("bias_hh"), [d_gates], &device)?;
        Ok(Self {
            weight_ih: replaced(self.weight_ih, transposed(weight_ih)),
            weight_hh: replaced(self.weight_hh, transposed(weight_hh)),
            bias_ih: replaced(self.bias_ih, bias_ih),
            bias_hh: replaced(self.bias_hh, bias_hh),
        })
    }

    fn to_torch(&self, state_dict: &mut StateDict, prefix: &str, suffix: &str) {
        let name = |kind: &str| format!("{prefix}{kind}_{suffix}");
        state_dict.insert(name("weight_ih"), self.weight_ih.val().transpose());
        state_dict.insert(name("weight_hh"), self.weight_hh.val().transpose());
        state_dict.insert(name("bias_ih"), self.bias_ih.val());
        state_dict.insert(name("bias_hh"), self.bias_hh.val());
    }
}

/// The recurrence of `CellWeights::run` written with tensor operations, for every cell and
/// backend, from the projected input `[time * batch, n_gates * d_hidden]`; `bias_hh` is
/// read by the GRU only (the other cells have it in `projected` already).
fn run_steps(
    cell: CellKind,
    projected: Tensor<2>,
    weight_hh: Tensor<2>,
    bias_hh: Tensor<1>,
    batch: usize,
    order: StepOrder,
) -> Tensor<2> {
    let [n_rows, _] = projected.dims();
    let time = n_rows / batch;
    let mut steps = split_steps(projected, time, batch);
    if order == StepOrder::LastToFirst {
        steps.reverse();
    }
    let mut hidden: Option<Tensor<2>> = None;
    let mut memory: Option<Tensor<2>> = None;
    let mut outputs = Vec::with_capacity(time);
    for step_input in steps {
        // The initial state is zero, so the first step skips the hidden product.
        let recurrent = hidden
            .clone()
            .map(|hidden| hidden.matmul(weight_hh.clone()));
        let next_hidden = match cell {
            CellKind::Rnn => fast_tanh(add_optional(step_input, recurrent)),
            CellKind::Lstm => {
                let [input_gate, forget_gate, cell_gate, output_gate] =
                    split_gates(add_optional(step_input, recurrent));
                let update = logistic(input_gate) * fast_tanh(cell_gate);
                let next_memory = match memory.take() {
                    None => update,
                    Some(memory) => logistic(forget_gate) * memory + update,
                };
                let next_hidden = logistic(output_gate) * fast_tanh(next_memory.clone());
                memory = Some(next_memory);
                next_hidden
            }
            CellKind::Gru => {
                let hidden_bias = bias_hh.clone().unsqueeze_dim(0);
                let recurrent = match recurrent {
                    Some(recurrent) => recurrent + hidden_bias,
                    None => hidden_bias,
                };
                let [input_reset, input_update, input_new] = split_gates(step_input);
                let [hidden_reset, hidden_update, hidden_new] = split_gates(recurrent);
                let reset = logistic(input_reset + hidden_reset);
                let update = logistic(input_update + hidden_update);
                let new = fast_tanh(input_new + reset * hidden_new);
                // (1 - z) * n + z * h, written with one product fewer.
                match &hidden {
                    None => new.clone() - update * new,
                    Some(hidden) => new.clone() + update * (hidden.clone() - new),
                }
            }
        };
        outputs.push(next_hidden.clone());
        hidden = Some(next_hidden);
    }
    if order == StepOrder::LastToFirst {
        outputs.reverse();
    }
    Tensor::cat(outputs, 0)
}

/// The parameter `param` holding `value` instead, with its id, device and gradient setting.
fn replaced<const D: usize>(param: Param<Tensor<D>>, value: Tensor<D>) -> Param<Tensor<D>> {
    let id = param.id;
    param.transform_for_load(value, id)
}

/// `matrix` transposed and laid out anew, row by row.
///
/// A transposed view would multiply through another kernel, whose rounding differs from that
/// of the weights as initialised or loaded from a Burn record.
fn transposed(matrix: Tensor<2>) -> Tensor<2> {
    let device = matrix.device();
    Tensor::from_data(matrix.transpose().into_data(), &device)
}

fn add_optional(tensor: Tensor<2>, other: Option<Tensor<2>>) -> Tensor<2> {
    match other {
        Some(other) => tensor + other,
        None => tensor,
    }
}

/// The logistic function `1 / (1 + exp(-x))`, written out. Burn's `sigmoid` on the flex
/// backend takes twice as long for the cells' gate shapes (12.6 us against 6.4 us on
/// [32, 128], measured in one run), and the gates are most of a recurrent step's work. The
/// input is clamped to [-80, 80] first: beyond that `exp` overflows f32 and the backward pass
/// would multiply zero by infinity; the function is within 1e-34 of 0 or 1 there.
fn logistic(x: Tensor<2>) -> Tensor<2> {
    x.clamp(-80.0, 80.0).neg().exp().add_scalar(1.0).recip()
}

/// `tanh(x) = 2 logistic(2x) - 1`: on flex, Burn's `tanh` is slower still (29.6 us on
/// [32, 128], against about 10 us for this). Its error near zero is a few units of f32's
/// rounding, far inside the 1e-5 of the PyTorch parity tests.
fn fast_tanh(x: Tensor<2>) -> Tensor<2> {
    logistic(x.mul_scalar(2.0)).mul_scalar(2.0).sub_scalar(1.0)
}

/// The `N` equal blocks of columns of `gates`, first to last.
fn split_gates<const N: usize>(gates: Tensor<2>) -> [Tensor<2>; N] {
    let [_, d_gates] = gates.dims();
    let d_hidden = d_gates / N;
    std::array::from_fn(|gate_idx| gates.clone().narrow(1, gate_idx * d_hidden, d_hidden))
}

/// The `time` blocks of `batch` rows of `rows`, first to last.
///
/// The blocks are cut by halving rather than one by one because the gradient of every cut
/// is as large as the tensor it was cut from: cutting `time` blocks straight from the whole
/// projection would make the backward pass quadratic in the sequence length.
fn split_steps(rows: Tensor<2>, time: usize, batch: usize) -> Vec<Tensor<2>> {
    let mut steps = Vec::with_capacity(time);
    push_halves(rows, time, batch, &mut steps);
    steps
}

fn push_halves(rows: Tensor<2>, time: usize, batch: usize, steps: &mut Vec<Tensor<2>>) {
    if time == 1 {
        steps.push(rows);
        return;
    }
    let first_time = time / 2;
    let first = rows.clone().narrow(0, 0, first_time * batch);
    let second = rows.narrow(0, first_time * batch, (time - first_time) * batch);
    push_halves(first, first_time, batch, steps);
    push_halves(second, time - first_time, batch, steps);
}

/// For right-padded sequences, the time-major row that each row reads when every sequence
/// is reversed within its own length; padding rows stay in place.
///
/// # Shapes
/// - `padding`: `[batch, time]`, `true` = padding
/// - output: `[time * batch]`
fn reversal_rows(padding: Tensor<2, Bool>) -> Tensor<1, Int> {
    let [batch, time] = padding.dims();
    let device = padding.device();
    let lengths = padding
        .bool_not()
        .int()
        .sum_dim(1)
        .reshape([1, batch])
        .expand([time, batch]);
    let steps = Tensor::<1, Int>::arange(0..time as i64, &device)
        .reshape([time, 1])
        .expand([time, batch]);
    let sequences = Tensor::<1, Int>::arange(0..batch as i64, &device)
        .reshape([1, batch])
        .expand([time, batch]);
    let is_valid = steps.clone().lower(lengths.clone());
    let reversed_steps = lengths - steps.clone() - 1;
    let source_steps = steps.mask_where(is_valid, reversed_steps);
    (source_steps * batch as i64 + sequences).reshape([time * batch])
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Distribution, Tensor};

    use super::*;

    /// The flex LSTM and GRU kernels against the tensor-operation recurrence: the same outputs
    /// and the same gradients for the input rows and every weight, in both step orders, for a
    /// batch run on one thread (3) and one split between two (11, cut 5 and 6), with a hidden
    /// size below and one above the 64-column blocks of the kernels' products.
    #[rstest::rstest]
    fn the_flex_kernels_match_the_tensor_operations(
        #[values(CellKind::Lstm, CellKind::Gru)] cell: CellKind,
        #[values(3, 11)] batch: usize,
        #[values(4, 70)] d_hidden: usize,
    ) {
        let device = Device::flex().autodiff();
        device.seed(batch as u64);
        let (time, d_input) = (7, 5);
        let config = RecurrentConfig {
            cell,
            d_input,
            d_hidden,
            n_layers: 1,
            bidirectional: false,
            dropout: 0.0,
        };
        let weights = config.init_direction(d_input, &device);
        let rows = Tensor::<2>::random(
            [time * batch, d_input],
            Distribution::Uniform(-2.0, 2.0),
            &device,
        );
        let upstream = Tensor::<2>::random(
            [time * batch, d_hidden],
            Distribution::Uniform(-1.0, 1.0),
            &device,
        );
        assert!(recurrent_kernel::applies_to(&device));
        for order in [StepOrder::FirstToLast, StepOrder::LastToFirst] {
            let rows = rows.clone().require_grad();
            let fused = weights.run(cell, rows.clone(), batch, order);
            let fused_grads = (fused.clone() * upstream.clone()).sum().backward();

            let reference_rows = rows.clone().detach().require_grad();
            let input_bias = match cell {
                CellKind::Gru => weights.bias_ih.val(),
                _ => weights.bias_ih.val() + weights.bias_hh.val(),
            };
            let projected = linear(
                reference_rows.clone(),
                weights.weight_ih.val(),
                Some(input_bias),
            );
            let reference = run_steps(
                cell,
                projected,
                weights.weight_hh.val(),
                weights.bias_hh.val(),
                batch,
                order,
            );
            let reference_grads = (reference.clone() * upstream.clone()).sum().backward();

            let close = |a: Tensor<2>, b: Tensor<2>, what: &str| {
                let gap = crate::compare::max_abs_difference(a, b);
                assert!(gap < 1e-5, "{what} ({cell:?}, {order:?}) differs by {gap}");
            };
            close(fused, reference, "output");
            close(
                rows.grad(&fused_grads).unwrap(),
                reference_rows.grad(&reference_grads).unwrap(),
                "input gradient",
            );
            for (name, param) in [
                ("weight_ih", &weights.weight_ih),
                ("weight_hh", &weights.weight_hh),
            ] {
                close(
                    param.val().grad(&fused_grads).unwrap(),
                    param.val().grad(&reference_grads).unwrap(),
                    name,
                );
            }
            for (name, param) in [("bias_ih", &weights.bias_ih), ("bias_hh", &weights.bias_hh)] {
                let grad = |grads| param.val().grad(grads).unwrap().unsqueeze_dim::<2>(0);
                close(grad(&fused_grads), grad(&reference_grads), name);
            }
        }
    }
}

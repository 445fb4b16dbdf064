//! The attention weights, `softmax(scale * scores)` over the keys with an optional causal
//! mask, as one operation on the flex backend, forward and backward.
//!
//! Written with tensor operations this is a scaling, a causal mask and a softmax: three
//! passes over the `[batch, heads, time, time]` scores forward and more backward, each
//! allocating its output, and flex's softmax takes libm's `expf` one value at a time (its
//! slow path on every masked score). Here the forward pass is one loop per row of scores,
//! vectorised and split between threads; the backward pass is another, from the saved
//! weights: `scale * w * (g - sum(g w))`.
//!
//! Keys that the causal mask hides get weight 0 and pass no gradient, as with a masked fill
//! before the softmax. Scores already set very low by a padding mask (`-1e9`) get weight 0 too,
//! the exponential of anything below -87 being taken as 0.

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, backend_extension};
use burn::tensor::{Tensor, TensorData};
use burn_flex::FlexTensor;

use crate::flex_math::{exp, lane_dot, lane_sum, split_rows, values, vectorized};

/// The attention softmax as a backend operation.
#[backend_extension(Flex, Autodiff)]
pub trait SoftmaxKernel: Backend {
    /// `softmax(scale * scores)` over the last dimension of `scores`
    /// (`[.., time_query, time_key]`). With `causal`, query `i` sees the keys up to
    /// `i + time_cached` only; the others get weight 0.
    fn attention_softmax(
        scores: FloatTensor<Self>,
        scale: f32,
        causal: bool,
        time_cached: usize,
    ) -> FloatTensor<Self>;
}

/// [`SoftmaxKernel::attention_softmax`] on a tensor of scores `[batch, heads, time_query,
/// time_key]`.
///
/// # Panics
/// Where [`crate::flex_math::applies_to`] is false for the tensor's device.
pub fn attention_softmax(
    scores: Tensor<4>,
    scale: f32,
    causal: bool,
    time_cached: usize,
) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as SoftmaxKernel>::attention_softmax(
        scores.into_dispatch(),
        scale,
        causal,
        time_cached,
    ))
}

/// Where each row of scores stops being visible: the rows' shape and the causal mask.
#[derive(Debug, Clone, Copy)]
struct Rows {
    time_query: usize,
    time_key: usize,
    /// `Some(time_cached)` with a causal mask.
    causal: Option<usize>,
}

impl Rows {
    fn of(scores: &FlexTensor, causal: bool, time_cached: usize) -> Self {
        let shape = scores.layout().shape();
        let rank = shape.len();
        Self {
            time_query: shape[rank - 2],
            time_key: shape[rank - 1],
            causal: causal.then_some(time_cached),
        }
    }

    /// How many keys row `row` (counted over all batches and heads) sees.
    #[inline(always)]
    fn visible(&self, row: usize) -> usize {
        match self.causal {
            Some(time_cached) => (row % self.time_query + time_cached + 1).min(self.time_key),
            None => self.time_key,
        }
    }
}

impl SoftmaxKernel for Flex {
    fn attention_softmax(
        scores: FlexTensor,
        scale: f32,
        causal: bool,
        time_cached: usize,
    ) -> FlexTensor {
        forward(&scores, scale, Rows::of(&scores, causal, time_cached))
    }
}

impl<C: CheckpointStrategy> SoftmaxKernel for Autodiff<Flex, C> {
    fn attention_softmax(
        scores: FloatTensor<Self>,
        scale: f32,
        causal: bool,
        time_cached: usize,
    ) -> FloatTensor<Self> {
        let rows = Rows::of(scores.primitive(), causal, time_cached);
        match SoftmaxBackward
            .prepare::<C>([scores.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let weights = forward(scores.primitive(), scale, rows);
                prep.finish((weights.clone(), scale, rows), weights)
            }
            OpsKind::UnTracked(prep) => prep.finish(forward(scores.primitive(), scale, rows)),
        }
    }
}

#[derive(Debug)]
struct SoftmaxBackward;

impl Backward<Flex, 1> for SoftmaxBackward {
    type State = (FlexTensor, f32, Rows);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [scores_node] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        if let Some(node) = scores_node {
            let (weights, scale, rows) = &ops.state;
            grads.register::<Flex>(node.id, backward(weights, &grad, *scale, *rows));
        }
    }
}

fn forward(scores: &FlexTensor, scale: f32, rows: Rows) -> FlexTensor {
    let shape = scores.layout().shape().clone();
    let (scores, range) = values(scores);
    let scores = &scores.storage::<f32>()[range];
    let width = rows.time_key;
    let mut weights = vec![0.0f32; scores.len()];
    split_rows(&mut weights, width, |first, out| {
        vectorized(
            #[inline(always)]
            || {
                let scores = &scores[first * width..];
                for (k, (out, scores)) in out
                    .chunks_exact_mut(width)
                    .zip(scores.chunks_exact(width))
                    .enumerate()
                {
                    let visible = rows.visible(first + k);
                    softmax_row(&scores[..visible], scale, &mut out[..visible]);
                }
            },
        );
    });
    FlexTensor::from_data(TensorData::new(weights, shape))
}

fn backward(weights: &FlexTensor, grad: &FlexTensor, scale: f32, rows: Rows) -> FlexTensor {
    let shape = weights.layout().shape().clone();
    let (weights, range) = values(weights);
    let weights = &weights.storage::<f32>()[range];
    let (grad, range) = values(grad);
    let grad = &grad.storage::<f32>()[range];
    let width = rows.time_key;
    let mut grad_scores = vec![0.0f32; weights.len()];
    split_rows(&mut grad_scores, width, |first, out| {
        vectorized(
            #[inline(always)]
            || {
                let weights = &weights[first * width..];
                let grad = &grad[first * width..];
                for (k, ((out, w), g)) in out
                    .chunks_exact_mut(width)
                    .zip(weights.chunks_exact(width))
                    .zip(grad.chunks_exact(width))
                    .enumerate()
                {
                    let visible = rows.visible(first + k);
                    let (out, w, g) = (&mut out[..visible], &w[..visible], &g[..visible]);
                    let dot = lane_dot(w, g);
                    for ((o, &w), &g) in out.iter_mut().zip(w).zip(g) {
                        *o = scale * w * (g - dot);
                    }
                }
            },
        );
    });
    FlexTensor::from_data(TensorData::new(grad_scores, shape))
}

/// `out = softmax(scale * scores)`.
#[inline(always)]
fn softmax_row(scores: &[f32], scale: f32, out: &mut [f32]) {
    let max = scores
        .iter()
        .fold(f32::NEG_INFINITY, |max, &score| max.max(scale * score));
    for (o, &score) in out.iter_mut().zip(scores) {
        let shifted = scale * score - max;
        // exp clamps at -87 (about 1.6e-38); masked scores must weigh exactly 0.
        *o = if shifted < -87.0 { 0.0 } else { exp(shifted) };
    }
    let total = lane_sum(out);
    let inverse = 1.0 / total;
    out.iter_mut().for_each(|o| *o *= inverse);
}

#[cfg(test)]
mod tests {
    use burn::tensor::activation::softmax;
    use burn::tensor::{Bool, Device, Distribution, Tensor};

    use super::*;
    use crate::flex_math::applies_to;

    /// The kernel against Burn's operations (scale, causal masked fill, softmax) on flex, in
    /// values and gradients: without a mask, causal, causal after cached keys, and on a tensor
    /// large enough to be split between threads.
    #[rstest::rstest]
    #[case::plain([2, 3, 5, 5], false, 0)]
    #[case::causal([2, 3, 5, 5], true, 0)]
    #[case::causal_after_a_cache([2, 3, 2, 6], true, 4)]
    #[case::split_between_threads([4, 4, 40, 40], true, 0)]
    #[case::wide_rows([1, 2, 3, 37], false, 0)]
    fn the_flex_softmax_matches_burns(
        #[case] shape: [usize; 4],
        #[case] causal: bool,
        #[case] time_cached: usize,
    ) {
        let device = Device::flex().autodiff();
        device.seed(11);
        assert!(applies_to(&device));
        let scores = Tensor::<4>::random(shape, Distribution::Uniform(-8.0, 8.0), &device);
        let upstream = Tensor::<4>::random(shape, Distribution::Uniform(-1.0, 1.0), &device);
        let scale = 0.35;

        let ours_scores = scores.clone().require_grad();
        let ours = attention_softmax(ours_scores.clone(), scale, causal, time_cached);
        let ours_grads = (ours.clone() * upstream.clone()).sum().backward();

        let burn_scores = scores.require_grad();
        let mut scaled = burn_scores.clone().mul_scalar(scale);
        if causal {
            let [_, _, time_query, time_key] = shape;
            let future =
                Tensor::<2, Bool>::tril_mask([time_query, time_key], time_cached as i64, &device);
            scaled = scaled.mask_fill(future.reshape([1, 1, time_query, time_key]), -1.0e9);
        }
        let burns = softmax(scaled, 3);
        let burn_grads = (burns.clone() * upstream).sum().backward();

        let gap = crate::compare::max_abs_difference::<4>;
        let value_gap = gap(ours, burns);
        assert!(value_gap < 1e-6, "weights differ by {value_gap}");
        let grad_gap = gap(
            ours_scores.grad(&ours_grads).unwrap(),
            burn_scores.grad(&burn_grads).unwrap(),
        );
        assert!(grad_gap < 1e-6, "gradients differ by {grad_gap}");
    }

    /// A row whose every score is masked by padding gets uniform weights, as with Burn's
    /// softmax, and a masked score among real ones weighs exactly 0.
    #[test]
    fn padding_masked_scores_weigh_nothing() {
        let device = Device::flex();
        let scores = Tensor::<1>::from_floats([-1.0e9, -1.0e9, -1.0e9, 2.0, -1.0e9, 1.0], &device)
            .reshape([1, 2, 1, 3]);
        let weights = attention_softmax(scores, 0.5, false, 0)
            .into_data()
            .iter::<f32>()
            .collect::<Vec<_>>();
        let third = 1.0 / 3.0;
        let e = (-0.5f32).exp();
        let expected = [third, third, third, 1.0 / (1.0 + e), 0.0, e / (1.0 + e)];
        for (got, want) in weights.iter().zip(expected) {
            assert!((got - want).abs() < 1e-6, "{weights:?} != {expected:?}");
        }
        assert_eq!(weights[4], 0.0);
    }
}

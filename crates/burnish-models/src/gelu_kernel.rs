//! The exact GELU, `x Φ(x) = x (1 + erf(x / √2)) / 2`, as one operation on the flex backend,
//! forward and backward.
//!
//! On flex, Burn's `gelu` runs libm's scalar `erff` on one thread and its backward pass is
//! several more element-wise operations; in the gpt workload that was an eighth of a
//! training step. Here both passes are one loop each, vectorisable (`flex_math::erf`) and
//! split between two threads. The backward pass multiplies the incoming gradient by the
//! derivative `Φ(x) + x φ(x)`, with `φ` the standard normal density.

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, backend_extension};
use burn::tensor::{Tensor, TensorData, activation};
use burn_flex::FlexTensor;

use crate::flex_math::{applies_to, erf, exp, map_values, split_rows, values, zip_values};

/// The GELU as a backend operation.
#[backend_extension(Flex, Autodiff)]
pub trait GeluKernel: Backend {
    /// The exact GELU of every value, in the input's shape.
    fn gelu(input: FloatTensor<Self>) -> FloatTensor<Self>;
}

/// The exact GELU: one operation on flex, Burn's `gelu` elsewhere.
pub fn gelu<const D: usize>(input: Tensor<D>) -> Tensor<D> {
    if applies_to(&input.device()) {
        Tensor::from_dispatch(<Dispatch as GeluKernel>::gelu(input.into_dispatch()))
    } else {
        activation::gelu(input)
    }
}

impl GeluKernel for Flex {
    fn gelu(input: FlexTensor) -> FlexTensor {
        map(&input, None)
    }
}

impl<C: CheckpointStrategy> GeluKernel for Autodiff<Flex, C> {
    fn gelu(input: FloatTensor<Self>) -> FloatTensor<Self> {
        match GeluBackward
            .prepare::<C>([input.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let input = input.primitive().clone();
                let output = map(&input, None);
                prep.finish(input, output)
            }
            OpsKind::UnTracked(prep) => prep.finish(map(input.primitive(), None)),
        }
    }
}

#[derive(Debug)]
struct GeluBackward;

impl Backward<Flex, 1> for GeluBackward {
    type State = FlexTensor;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [input_node] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        if let Some(node) = input_node {
            grads.register::<Flex>(node.id, map(&ops.state, Some(&grad)));
        }
    }
}

/// `gelu(x)` for every value of `input`, or, given the gradient of the output, the gradient
/// of the input: `grad * (Φ(x) + x φ(x))`.
fn map(input: &FlexTensor, grad: Option<&FlexTensor>) -> FlexTensor {
    let shape = input.layout().shape().clone();
    let (input, range) = values(input);
    let input = &input.storage::<f32>()[range];
    let grad = grad.map(values);
    let grad = grad
        .as_ref()
        .map(|(tensor, range)| &tensor.storage::<f32>()[range.clone()]);
    let mut output = vec![0.0f32; input.len()];
    split_rows(&mut output, 1, |start, out| {
        let x = &input[start..];
        match grad {
            None => map_values(out, x, gelu_value),
            Some(grad) => zip_values(out, x, &grad[start..], |x, g| g * gelu_slope(x)),
        }
    });
    FlexTensor::from_data(TensorData::new(output, shape))
}

#[inline(always)]
fn gelu_value(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// `d gelu / dx = Φ(x) + x φ(x)`.
#[inline(always)]
fn gelu_slope(x: f32) -> f32 {
    // 1 / sqrt(2 π)
    const DENSITY_SCALE: f32 = 0.398_942_3;
    let cdf = 0.5 * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2));
    cdf + x * DENSITY_SCALE * exp(-0.5 * x * x)
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Distribution, Tensor};

    use super::*;

    /// The kernel against Burn's `gelu` on flex, values and gradients, on a tensor large
    /// enough to be split between threads and on a small one.
    #[rstest::rstest]
    fn the_flex_gelu_matches_burns(#[values([3, 5], [64, 700])] shape: [usize; 2]) {
        let device = Device::flex().autodiff();
        device.seed(7);
        let input = Tensor::<2>::random(shape, Distribution::Uniform(-6.0, 6.0), &device);
        let upstream = Tensor::<2>::random(shape, Distribution::Uniform(-1.0, 1.0), &device);
        assert!(applies_to(&device));

        let ours_input = input.clone().require_grad();
        let ours = gelu(ours_input.clone());
        let ours_grads = (ours.clone() * upstream.clone()).sum().backward();
        let burn_input = input.require_grad();
        let burns = activation::gelu(burn_input.clone());
        let burn_grads = (burns.clone() * upstream).sum().backward();

        let gap = crate::compare::max_abs_difference::<2>;
        let value_gap = gap(ours, burns);
        assert!(value_gap < 2e-6, "values differ by {value_gap}");
        let grad_gap = gap(
            ours_input.grad(&ours_grads).unwrap(),
            burn_input.grad(&burn_grads).unwrap(),
        );
        assert!(grad_gap < 2e-6, "gradients differ by {grad_gap}");
    }
}

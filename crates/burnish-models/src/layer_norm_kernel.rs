//! Layer normalisation with a hand-written backward pass on the flex backend.
//!
//! Flex computes a layer norm's forward pass in one loop, but `Autodiff<Flex>` has no layer
//! norm of its own: it records Burn's composition (a mean, a subtraction, a square, another
//! mean, a square root, a division, a product and a sum), nine operations each with its own
//! backward step, single-threaded. Here the forward pass takes each row's mean and
//! `1 / sqrt(var + eps)`, then the normalised values x̂ and the output (both kept, the latter
//! two split between threads), and the backward pass is one loop per row for the input's
//! gradient plus one pass for the scale's and the shift's:
//! `dx = rstd (g γ - mean(g γ) - x̂ mean(g γ x̂))`, `dγ = Σ g x̂`, `dβ = Σ g`.

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::ops::ModuleOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, backend_extension};
use burn::nn::LayerNorm;
use burn::tensor::{Tensor, TensorData};
use burn_flex::FlexTensor;

use crate::flex_math::{applies_to, lane_dot, lane_sum, register, split_rows, values, vectorized};

/// Layer normalisation over the last dimension as a backend operation.
#[backend_extension(Flex, Autodiff)]
pub trait LayerNormKernel: Backend {
    /// `(x - mean) / sqrt(var + epsilon) * gamma + beta` over the last dimension of `input`.
    fn layer_norm(
        input: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self>;
}

/// `norm.forward(input)`, through the kernel where it applies (flex, a norm with a shift).
///
/// `epsilon` must be the one `norm` was built with (Burn's `LayerNorm` does not expose it).
pub fn layer_norm<const D: usize>(norm: &LayerNorm, input: Tensor<D>, epsilon: f64) -> Tensor<D> {
    match &norm.beta {
        Some(beta) if applies_to(&input.device()) => {
            Tensor::from_dispatch(<Dispatch as LayerNormKernel>::layer_norm(
                input.into_dispatch(),
                norm.gamma.val().into_dispatch(),
                beta.val().into_dispatch(),
                epsilon,
            ))
        }
        _ => norm.forward(input),
    }
}

impl LayerNormKernel for Flex {
    fn layer_norm(
        input: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        epsilon: f64,
    ) -> FlexTensor {
        <Flex as ModuleOps<Flex>>::layer_norm(input, gamma, Some(beta), epsilon)
    }
}

impl<C: CheckpointStrategy> LayerNormKernel for Autodiff<Flex, C> {
    fn layer_norm(
        input: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        match LayerNormBackward
            .prepare::<C>([input.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let gamma = gamma.primitive().clone();
                let pass = forward(input.primitive(), &gamma, beta.primitive(), epsilon);
                let state = SavedPass {
                    normalized: pass.normalized,
                    inverse_std: pass.inverse_std,
                    gamma,
                };
                prep.finish(state, pass.output)
            }
            OpsKind::UnTracked(prep) => prep.finish(<Flex as ModuleOps<Flex>>::layer_norm(
                input.primitive().clone(),
                gamma.primitive().clone(),
                Some(beta.primitive().clone()),
                epsilon,
            )),
        }
    }
}

/// What the backward pass needs: `x̂` in the input's shape, `1 / sqrt(var + eps)` per row.
#[derive(Debug, Clone)]
struct SavedPass {
    normalized: FlexTensor,
    inverse_std: Vec<f32>,
    gamma: FlexTensor,
}

#[derive(Debug)]
struct LayerNormBackward;

impl Backward<Flex, 3> for LayerNormBackward {
    type State = SavedPass;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Flex>(&ops.node);
        let parents = ops.parents.map(|node| node.map(|node| node.id));
        register(grads, parents, backward(&grad, &ops.state));
    }
}

struct Pass {
    output: FlexTensor,
    normalized: FlexTensor,
    inverse_std: Vec<f32>,
}

fn forward(input: &FlexTensor, gamma: &FlexTensor, beta: &FlexTensor, epsilon: f64) -> Pass {
    let shape = input.layout().shape().clone();
    let (input, range) = values(input);
    let input = &input.storage::<f32>()[range];
    let (gamma, gamma_range) = values(gamma);
    let gamma = &gamma.storage::<f32>()[gamma_range];
    let (beta, beta_range) = values(beta);
    let beta = &beta.storage::<f32>()[beta_range];
    let width = gamma.len();
    let rows = input.len() / width.max(1);
    let epsilon = epsilon as f32;

    // Each row's mean and 1 / sqrt(var + eps), then x̂ and the output, each on both threads.
    let mut means = vec![0.0f32; rows];
    let mut inverse_std = vec![0.0f32; rows];
    let mut centered = vec![0.0f32; width];
    vectorized(
        #[inline(always)]
        || {
            for ((mean, rstd), x) in means
                .iter_mut()
                .zip(inverse_std.iter_mut())
                .zip(input.chunks_exact(width))
            {
                *mean = lane_sum(x) / width as f32;
                for (c, &x) in centered.iter_mut().zip(x) {
                    *c = x - *mean;
                }
                let variance = lane_dot(&centered, &centered) / width as f32;
                *rstd = 1.0 / (variance + epsilon).sqrt();
            }
        },
    );
    let mut normalized = vec![0.0f32; input.len()];
    split_rows(&mut normalized, width, |first, out| {
        vectorized(
            #[inline(always)]
            || {
                for (k, out) in out.chunks_exact_mut(width).enumerate() {
                    let row = first + k;
                    let (mean, rstd) = (means[row], inverse_std[row]);
                    for (o, &x) in out.iter_mut().zip(&input[row * width..][..width]) {
                        *o = (x - mean) * rstd;
                    }
                }
            },
        );
    });
    let mut output = vec![0.0f32; input.len()];
    split_rows(&mut output, width, |first, out| {
        vectorized(
            #[inline(always)]
            || {
                for (k, out) in out.chunks_exact_mut(width).enumerate() {
                    let x_hat = &normalized[(first + k) * width..][..width];
                    for (((o, &x), &g), &b) in out.iter_mut().zip(x_hat).zip(gamma).zip(beta) {
                        *o = x * g + b;
                    }
                }
            },
        );
    });
    Pass {
        output: FlexTensor::from_data(TensorData::new(output, shape.clone())),
        normalized: FlexTensor::from_data(TensorData::new(normalized, shape)),
        inverse_std,
    }
}

/// The gradients of the input, `gamma` and `beta`.
fn backward(grad: &FlexTensor, saved: &SavedPass) -> [FlexTensor; 3] {
    let shape = saved.normalized.layout().shape().clone();
    let (grad, range) = values(grad);
    let grad = &grad.storage::<f32>()[range];
    let (normalized, normalized_range) = values(&saved.normalized);
    let normalized = &normalized.storage::<f32>()[normalized_range];
    let (gamma, gamma_range) = values(&saved.gamma);
    let gamma = &gamma.storage::<f32>()[gamma_range];
    let width = gamma.len();
    let inverse_std = &saved.inverse_std;

    let mut grad_input = vec![0.0f32; grad.len()];
    split_rows(&mut grad_input, width, |first, out| {
        vectorized(
            #[inline(always)]
            || {
                for (k, out) in out.chunks_exact_mut(width).enumerate() {
                    let row = first + k;
                    let g = &grad[row * width..][..width];
                    let x_hat = &normalized[row * width..][..width];
                    // out holds g γ first.
                    for ((o, &g), &gamma) in out.iter_mut().zip(g).zip(gamma) {
                        *o = g * gamma;
                    }
                    let mean = lane_sum(out) / width as f32;
                    let mean_times_x_hat = lane_dot(out, x_hat) / width as f32;
                    let rstd = inverse_std[row];
                    for (o, &x) in out.iter_mut().zip(x_hat) {
                        *o = rstd * (*o - mean - x * mean_times_x_hat);
                    }
                }
            },
        );
    });
    let mut grad_gamma = vec![0.0f32; width];
    let mut grad_beta = vec![0.0f32; width];
    vectorized(
        #[inline(always)]
        || {
            for (g, x_hat) in grad.chunks_exact(width).zip(normalized.chunks_exact(width)) {
                for ((dg, &g), &x) in grad_gamma.iter_mut().zip(g).zip(x_hat) {
                    *dg += g * x;
                }
                for (db, &g) in grad_beta.iter_mut().zip(g) {
                    *db += g;
                }
            }
        },
    );
    [
        FlexTensor::from_data(TensorData::new(grad_input, shape)),
        FlexTensor::from_data(TensorData::new(grad_gamma, [width])),
        FlexTensor::from_data(TensorData::new(grad_beta, [width])),
    ]
}

#[cfg(test)]
mod tests {
    use burn::module::Param;
    use burn::nn::LayerNormConfig;
    use burn::tensor::{Device, Distribution, Tensor};

    use super::*;

    /// The kernel against Burn's layer norm on flex, in values and in the gradients of the
    /// input, the scale and the shift: a small tensor and one split between threads.
    #[rstest::rstest]
    fn the_flex_layer_norm_matches_burns(#[values([2, 3, 8], [4, 64, 130])] shape: [usize; 3]) {
        let device = Device::flex().autodiff();
        device.seed(3);
        assert!(applies_to(&device));
        let epsilon = 1e-5;
        let mut norm = LayerNormConfig::new(shape[2])
            .with_epsilon(epsilon)
            .init(&device);
        // A scale and shift other than 1 and 0, so that their gradients are tested.
        let d = shape[2];
        norm.gamma = Param::from_tensor(Tensor::random(
            [d],
            Distribution::Uniform(0.5, 1.5),
            &device,
        ));
        norm.beta = Some(Param::from_tensor(Tensor::random(
            [d],
            Distribution::Uniform(-0.5, 0.5),
            &device,
        )));
        let input = Tensor::<3>::random(shape, Distribution::Uniform(-3.0, 3.0), &device);
        let upstream = Tensor::<3>::random(shape, Distribution::Uniform(-1.0, 1.0), &device);

        let ours_input = input.clone().require_grad();
        let ours = layer_norm(&norm, ours_input.clone(), epsilon);
        let ours_grads = (ours.clone() * upstream.clone()).sum().backward();
        let ours_gamma = norm.gamma.grad(&ours_grads).unwrap();
        let ours_beta = norm.beta.as_ref().unwrap().grad(&ours_grads).unwrap();

        let burn_input = input.require_grad();
        let burns = norm.forward(burn_input.clone());
        let burn_grads = (burns.clone() * upstream).sum().backward();

        let gap = crate::compare::max_abs_difference::<3>;
        let gap1 = crate::compare::max_abs_difference::<1>;
        assert!(gap(ours, burns) < 1e-5);
        let input_gap = gap(
            ours_input.grad(&ours_grads).unwrap(),
            burn_input.grad(&burn_grads).unwrap(),
        );
        assert!(input_gap < 1e-5, "input gradients differ by {input_gap}");
        let gamma_gap = gap1(ours_gamma, norm.gamma.grad(&burn_grads).unwrap());
        assert!(gamma_gap < 1e-4, "scale gradients differ by {gamma_gap}");
        let beta_gap = gap1(
            ours_beta,
            norm.beta.as_ref().unwrap().grad(&burn_grads).unwrap(),
        );
        assert!(beta_gap < 1e-4, "shift gradients differ by {beta_gap}");
    }
}

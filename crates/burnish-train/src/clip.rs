//! Gradient clipping by the global norm of all parameters together.
//!
//! Burn's own clipping rescales each tensor on its own; PyTorch's `clip_grad_norm_`, which users
//! know, rescales every gradient by one factor so that their joint L2 norm is at most the limit.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

/// Rescales `grads` so that the L2 norm of all of `module`'s gradients together is at most
/// `max_norm`, as `torch.nn.utils.clip_grad_norm_` does, and returns the norm before clipping.
///
/// The factor is `max_norm / (norm + 1e-6)`, applied only when it is below 1.
pub fn clip_global_norm<M: Module>(module: &M, grads: &mut GradientsParams, max_norm: f64) -> f64 {
    let mut squares = SquaredNorm { grads, total: None };
    module.visit(&mut squares);
    let norm = squares
        .total
        .map_or(0.0, |total| total.into_scalar::<f32>() as f64)
        .sqrt();
    let factor = max_norm / (norm + 1e-6);
    if factor < 1.0 {
        module.visit(&mut Rescale { grads, factor });
    }
    norm
}

struct SquaredNorm<'a> {
    grads: &'a GradientsParams,
    total: Option<Tensor<1>>,
}

impl ModuleVisitor for SquaredNorm<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.grads.get::<D>(param.id) {
            let squares = grad.powi_scalar(2).sum();
            self.total = Some(match self.total.take() {
                Some(total) => total + squares,
                None => squares,
            });
        }
    }
}

struct Rescale<'a> {
    grads: &'a mut GradientsParams,
    factor: f64,
}

impl ModuleVisitor for Rescale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.grads.remove::<D>(param.id) {
            self.grads.register(param.id, grad.mul_scalar(self.factor));
        }
    }
}

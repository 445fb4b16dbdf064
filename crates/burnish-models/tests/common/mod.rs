//! What the model test files share.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

/// How many float parameters a module has, and how many of them got no gradient.
pub struct GradientCensus {
    /// Every float parameter.
    pub total: usize,
    /// Those with no gradient in the `GradientsParams` counted against.
    pub missing: usize,
}

/// Counts the float parameters of `module` and those `grads` has no gradient for.
pub fn gradient_census<M: Module>(module: &M, grads: &GradientsParams) -> GradientCensus {
    struct Census<'a> {
        grads: &'a GradientsParams,
        counts: GradientCensus,
    }
    impl ModuleVisitor for Census<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.counts.total += 1;
            if self.grads.get::<D>(param.id).is_none() {
                self.counts.missing += 1;
            }
        }
    }
    let mut census = Census {
        grads,
        counts: GradientCensus {
            total: 0,
            missing: 0,
        },
    };
    module.visit(&mut census);
    census.counts
}

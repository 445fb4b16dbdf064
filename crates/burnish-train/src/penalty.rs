//! L1 and L2 penalties on a model's weights, added to the training loss as Keras's kernel
//! regularisers are.

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;

/// `l1 * sum |w| + l2 * sum w^2` over every parameter of two or more dimensions (weight
/// matrices, embeddings, convolution kernels; not biases or normalisation scales), as a
/// one-element tensor in the model's autodiff graph; `None` when both factors are zero.
pub fn weight_penalty<M: Module>(model: &M, l1: f64, l2: f64) -> Option<Tensor<1>> {
    if l1 == 0.0 && l2 == 0.0 {
        return None;
    }
    let mut visitor = Penalty {
        l1,
        l2,
        total: None,
    };
    model.visit(&mut visitor);
    visitor.total
}

struct Penalty {
    l1: f64,
    l2: f64,
    total: Option<Tensor<1>>,
}

impl ModuleVisitor for Penalty {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if D < 2 {
            return;
        }
        let weights = param.val();
        let mut term: Option<Tensor<1>> = None;
        if self.l1 > 0.0 {
            term = Some(weights.clone().abs().sum().mul_scalar(self.l1));
        }
        if self.l2 > 0.0 {
            let squares = weights.powi_scalar(2).sum().mul_scalar(self.l2);
            term = Some(match term {
                Some(term) => term + squares,
                None => squares,
            });
        }
        if let Some(term) = term {
            self.total = Some(match self.total.take() {
                Some(total) => total + term,
                None => term,
            });
        }
    }
}

//! Float comparisons for the model tests and the kernels' unit tests: the largest absolute
//! difference, refusing NaN and infinity.
//!
//! `f32::max` drops a NaN (`0.0f32.max(f32::NAN)` is 0), and a backend's `max` over a tensor
//! need not keep one either, so a NaN output would pass any tolerance. Every value is checked
//! to be finite before it is compared. `src/lib.rs` includes this file for the unit tests.

// Each test binary that includes this file uses a part of it.
#![allow(dead_code)]

use burn::tensor::Tensor;

/// The largest `|actual - expected|` over two tensors of one shape.
///
/// # Panics
/// When the shapes differ, or either tensor holds a NaN or an infinite value.
pub fn max_abs_difference<const D: usize>(actual: Tensor<D>, expected: Tensor<D>) -> f32 {
    assert_eq!(actual.dims(), expected.dims(), "the shapes differ");
    max_abs_difference_of(&values(actual), &values(expected))
}

/// The largest `|actual - expected|` over two slices of one length.
///
/// # Panics
/// When the lengths differ, or either slice holds a NaN or an infinite value.
pub fn max_abs_difference_of(actual: &[f32], expected: &[f32]) -> f32 {
    assert_eq!(actual.len(), expected.len(), "the lengths differ");
    let mut largest = 0.0f32;
    for (index, (&actual, &expected)) in actual.iter().zip(expected).enumerate() {
        assert!(
            actual.is_finite() && expected.is_finite(),
            "value {index} is not finite: {actual} against {expected}"
        );
        largest = largest.max((actual - expected).abs());
    }
    largest
}

/// The values of a float tensor, in order.
pub fn values<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("a float tensor")
}

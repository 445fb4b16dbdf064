//! What the flex kernels of this crate share: where they apply, access to a flex tensor's
//! values, and element-wise functions written so that the compiler vectorises loops over them
//! (libm's `expf` and `erff` are a call per value).

use burn::backend::DispatchDevice;
use burn::tensor::{Device, TensorData};
use burn_flex::FlexTensor;

/// Whether the flex kernels of this crate run on `device`: on flex, with or without autodiff.
pub fn applies_to(device: &Device) -> bool {
    matches!(
        device.clone().inner().as_dispatch(),
        DispatchDevice::Flex(_)
    )
}

/// The rows of a tensor's values, laid out contiguously.
pub(crate) fn values(tensor: &FlexTensor) -> (FlexTensor, std::ops::Range<usize>) {
    let tensor = tensor.to_contiguous();
    let (start, end) = tensor
        .layout()
        .contiguous_offsets()
        .expect("to_contiguous gives a contiguous layout");
    (tensor, start..end)
}

pub(crate) fn matrix(values: Vec<f32>, rows: usize, cols: usize) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, [rows, cols]))
}

/// `exp(x)` for `x` in f32's range, written so that the compiler vectorises loops over it
/// (libm's `expf` is a call per value): Cody and Waite's reduction `x = n ln 2 + r`, then a
/// degree-6 polynomial for `exp(r)` on `|r| <= ln 2 / 2` (the coefficients of the Cephes
/// library's `expf`), scaled by `2^n` through the exponent bits. Relative error about 2e-7;
/// inputs are clamped to [-87, 88], so the tails give about 1.6e-38 and 1.7e38, not 0 and
/// infinity.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let scaled = x * std::f32::consts::LOG2_E + 0.5;
    // floor without a libm call: truncate, then step down for negative non-integers.
    let truncated = scaled as i32;
    let n = truncated - i32::from(scaled < truncated as f32);
    let n_float = n as f32;
    let r = x - n_float * 0.693_359_4 + n_float * 2.121_944_4e-4;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 0.5;
    let exp_r = p * r * r + r + 1.0;
    exp_r * f32::from_bits(((n + 127) as u32) << 23)
}

/// `1 / (1 + exp(-x))`.
#[inline(always)]
pub(crate) fn logistic(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// `tanh(x) = 2 logistic(2x) - 1`.
#[inline(always)]
pub(crate) fn tanh(x: f32) -> f32 {
    2.0 * logistic(2.0 * x) - 1.0
}

/// `erf(x)` by Abramowitz and Stegun's formula 7.1.26 (absolute error below 1.5e-7 in exact
/// arithmetic, below 5e-7 in f32): `1 - (a1 t + ... + a5 t^5) exp(-x^2)` with
/// `t = 1 / (1 + p |x|)`, odd in `x`.
#[inline(always)]
pub(crate) fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = ((((1.061_405_4 * t - 1.453_152_1) * t + 1.421_413_7) * t - 0.284_496_74) * t
        + 0.254_829_6)
        * t;
    let y = 1.0 - poly * exp(-a * a);
    y.copysign(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_polynomial_exp_is_within_a_few_ulps_of_libm() {
        let mut worst = (0.0f64, 0.0f32);
        for k in -8700..=8800 {
            let x = k as f32 * 0.01;
            let exact = f64::from(x).exp();
            let error = ((f64::from(exp(x)) - exact) / exact).abs();
            if error > worst.0 {
                worst = (error, x);
            }
        }
        assert!(worst.0 < 5e-7, "relative error {} at {}", worst.0, worst.1);
    }

    #[test]
    fn erf_is_within_5e_7_of_the_exact_function() {
        // Exact values (to f64 precision) from the series of erf, summed in f64.
        let exact = |x: f64| {
            let mut term = x;
            let mut sum = x;
            for n in 1..200 {
                term *= -x * x / n as f64;
                sum += term / (2 * n + 1) as f64;
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        };
        let mut worst = (0.0f64, 0.0f32);
        for k in -500..=500 {
            let x = k as f32 * 0.01;
            let error = (f64::from(erf(x)) - exact(f64::from(x))).abs();
            if error > worst.0 {
                worst = (error, x);
            }
        }
        assert!(worst.0 < 5e-7, "absolute error {} at {}", worst.0, worst.1);
        assert_eq!(erf(10.0), 1.0);
        assert_eq!(erf(-10.0), -1.0);
    }
}

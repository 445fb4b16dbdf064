//! What the flex kernels of this crate share: where they apply, access to a flex tensor's
//! values, and element-wise functions written so that the compiler vectorises loops over them
//! (libm's `expf` and `erff` are a call per value).

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::{DispatchDevice, Flex};
use burn::tensor::{Device, TensorData};
use burn_flex::FlexTensor;
use rayon::prelude::*;

/// Whether the flex kernels of this crate run on `device`: on flex, with or without autodiff.
pub fn applies_to(device: &Device) -> bool {
    matches!(
        device.clone().inner().as_dispatch(),
        DispatchDevice::Flex(_)
    )
}

/// Runs `body` compiled for the widest vector instructions this CPU has (AVX-512 or AVX2 with
/// FMA on x86-64, chosen at run time), so that the loops in it are vectorised 16 or 8 wide
/// rather than the 4 of the baseline x86-64 target. Everything `body` calls must be inlined
/// into it to profit, as this module's functions are.
///
/// The results are the same on every instruction set: Rust does not fuse a multiply and an
/// add unless asked to (only [`add_product`] asks, where the CPU has fused multiply-adds).
#[inline(always)]
pub(crate) fn vectorized<R>(body: impl FnOnce() -> R) -> R {
    pulp::Arch::new().dispatch(body)
}

/// `out[i] = f(x[i])`, vectorised as [`vectorized`] does; `x` must be at least as long as
/// `out`. `f` should be `#[inline(always)]`.
#[inline(always)]
pub(crate) fn map_values(out: &mut [f32], x: &[f32], f: impl Fn(f32) -> f32) {
    let x = &x[..out.len()];
    vectorized(
        #[inline(always)]
        || {
            for (o, &x) in out.iter_mut().zip(x) {
                *o = f(x);
            }
        },
    );
}

/// `out[i] = f(x[i], y[i])`, vectorised as [`vectorized`] does; `x` and `y` must be at least as
/// long as `out`. `f` should be `#[inline(always)]`.
#[inline(always)]
pub(crate) fn zip_values(out: &mut [f32], x: &[f32], y: &[f32], f: impl Fn(f32, f32) -> f32) {
    let (x, y) = (&x[..out.len()], &y[..out.len()]);
    vectorized(
        #[inline(always)]
        || {
            for ((o, &x), &y) in out.iter_mut().zip(x).zip(y) {
                *o = f(x, y);
            }
        },
    );
}

/// Below this many values a pass is not worth splitting between threads.
const MIN_PARALLEL_LEN: usize = 16 * 1024;

/// Calls `work(first_row, rows)` on runs of whole rows of `output` (rows of `width` values),
/// one run per thread of rayon's pool where `output` holds enough values to be worth it, and
/// one run of everything otherwise.
pub(crate) fn split_rows(
    output: &mut [f32],
    width: usize,
    work: impl Fn(usize, &mut [f32]) + Sync,
) {
    let width = width.max(1);
    let rows = output.len() / width;
    let rows_per_run = if output.len() < MIN_PARALLEL_LEN {
        rows.max(1)
    } else {
        rows.div_ceil(rayon::current_num_threads().max(1)).max(1)
    };
    output
        .par_chunks_mut(rows_per_run * width)
        .enumerate()
        .for_each(|(k, run)| work(k * rows_per_run, run));
}

/// `out += a b` for row-major `a` `[rows, inner]`, `b` `[inner, cols]` and `out`
/// `[rows, cols]`, vectorised as [`vectorized`] does: the small products of a recurrence's
/// steps, where a general matrix product spends more time packing `b` than multiplying.
///
/// Blocks of 4 rows by 64 columns are summed in registers over the whole inner dimension,
/// so each value of `b` loaded serves 4 rows. Where the CPU has fused multiply-adds (x86-64
/// with AVX2 or AVX-512, aarch64) the sums use them, as `gemm` does.
pub(crate) fn add_product(a: &[f32], b: &[f32], inner: usize, cols: usize, out: &mut [f32]) {
    debug_assert_eq!(a.len(), out.len() / cols.max(1) * inner);
    debug_assert_eq!(b.len(), inner * cols);
    let fused = fused_multiply_add_is_fast();
    vectorized(
        #[inline(always)]
        || {
            if fused {
                add_blocks::<true>(a, b, inner, cols, out);
            } else {
                add_blocks::<false>(a, b, inner, cols, out);
            }
        },
    );
}

/// Whether `f32::mul_add` is one instruction inside [`vectorized`] (rather than a call to
/// libm's `fmaf`).
#[cfg(target_arch = "x86_64")]
fn fused_multiply_add_is_fast() -> bool {
    !matches!(pulp::Arch::new(), pulp::Arch::Scalar)
}

/// Whether `f32::mul_add` is one instruction inside [`vectorized`] (rather than a call to
/// libm's `fmaf`).
#[cfg(not(target_arch = "x86_64"))]
fn fused_multiply_add_is_fast() -> bool {
    cfg!(target_arch = "aarch64")
}

/// `sum + x y`, rounded once when `FUSED`.
#[inline(always)]
fn multiply_add<const FUSED: bool>(x: f32, y: f32, sum: f32) -> f32 {
    if FUSED {
        x.mul_add(y, sum)
    } else {
        sum + x * y
    }
}

/// [`add_product`]'s loop over blocks: column blocks outside, so that the slab of `b` a
/// column block reads (`inner` x 64 values, 32 KiB for 128 rows) stays in the L1 cache for
/// every block of rows.
#[inline(always)]
fn add_blocks<const FUSED: bool>(a: &[f32], b: &[f32], inner: usize, cols: usize, out: &mut [f32]) {
    let rows = out.len() / cols.max(1);
    let mut first_col = 0;
    while first_col < cols {
        let block_cols = BLOCK_COLS.min(cols - first_col);
        let columns = first_col..first_col + block_cols;
        let mut first_row = 0;
        while first_row < rows {
            let block_rows = BLOCK_ROWS.min(rows - first_row);
            let a = &a[first_row * inner..(first_row + block_rows) * inner];
            let out = &mut out[first_row * cols..(first_row + block_rows) * cols];
            if block_rows == BLOCK_ROWS && block_cols == BLOCK_COLS {
                add_full_block::<FUSED>(a, b, inner, cols, first_col, out);
            } else {
                add_partial_block::<FUSED>(a, b, inner, cols, columns.clone(), out);
            }
            first_row += block_rows;
        }
        first_col += block_cols;
    }
}

const BLOCK_ROWS: usize = 4;
const BLOCK_COLS: usize = 64;

/// [`add_product`] for the columns `first_col..first_col + 64` of 4 rows, with the 256 sums
/// in registers (16 of AVX-512, 32 of AVX2).
#[inline(always)]
fn add_full_block<const FUSED: bool>(
    a: &[f32],
    b: &[f32],
    inner: usize,
    cols: usize,
    first_col: usize,
    out: &mut [f32],
) {
    let (a0, rest) = a.split_at(inner);
    let (a1, rest) = rest.split_at(inner);
    let (a2, a3) = rest.split_at(inner);
    let mut sums = [[0.0f32; BLOCK_COLS]; BLOCK_ROWS];
    for ((((b_row, &x0), &x1), &x2), &x3) in b.chunks_exact(cols).zip(a0).zip(a1).zip(a2).zip(a3) {
        let b_row: &[f32; BLOCK_COLS] = b_row[first_col..first_col + BLOCK_COLS]
            .try_into()
            .expect("a block of 64 columns");
        for (c, &b) in b_row.iter().enumerate() {
            sums[0][c] = multiply_add::<FUSED>(x0, b, sums[0][c]);
            sums[1][c] = multiply_add::<FUSED>(x1, b, sums[1][c]);
            sums[2][c] = multiply_add::<FUSED>(x2, b, sums[2][c]);
            sums[3][c] = multiply_add::<FUSED>(x3, b, sums[3][c]);
        }
    }
    for (out_row, sums) in out.chunks_exact_mut(cols).zip(&sums) {
        for (o, &sum) in out_row[first_col..first_col + BLOCK_COLS]
            .iter_mut()
            .zip(sums)
        {
            *o += sum;
        }
    }
}

/// [`add_product`] for the columns `columns` of the rows of `a`, the blocks at the edges.
#[inline(always)]
fn add_partial_block<const FUSED: bool>(
    a: &[f32],
    b: &[f32],
    inner: usize,
    cols: usize,
    columns: std::ops::Range<usize>,
    out: &mut [f32],
) {
    for (a_row, out_row) in a.chunks_exact(inner).zip(out.chunks_exact_mut(cols)) {
        let out_row = &mut out_row[columns.clone()];
        for (b_row, &x) in b.chunks_exact(cols).zip(a_row) {
            for (o, &b) in out_row.iter_mut().zip(&b_row[columns.clone()]) {
                *o = multiply_add::<FUSED>(x, b, *o);
            }
        }
    }
}

/// The sum of `values`, added in [`LANES`] interleaved partial sums so that the additions
/// vectorise (one running sum cannot be reordered).
#[inline(always)]
pub(crate) fn lane_sum(values: &[f32]) -> f32 {
    let mut lanes = [0.0f32; LANES];
    let chunks = values.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for (lane, &value) in lanes.iter_mut().zip(chunk) {
            *lane += value;
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// `sum(a * b)`, in partial sums as [`lane_sum`].
#[inline(always)]
pub(crate) fn lane_dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; LANES];
    let (a, b) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = a
        .remainder()
        .iter()
        .zip(b.remainder())
        .map(|(a, b)| a * b)
        .sum();
    for (a, b) in a.zip(b) {
        for ((lane, &a), &b) in lanes.iter_mut().zip(a).zip(b) {
            *lane += a * b;
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// The number of partial sums in a reduction: one AVX-512 register of f32.
const LANES: usize = 16;

/// Gives each input that requires a gradient (`Some` of its node) its gradient.
pub(crate) fn register<const N: usize>(
    grads: &mut Gradients,
    parents: [Option<NodeId>; N],
    values: [FlexTensor; N],
) {
    for (node, grad) in parents.into_iter().zip(values) {
        if let Some(node) = node {
            grads.register::<Flex>(node, grad);
        }
    }
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
/// (libm's `expf` is a call per value): Cody and Waite's reduction `x = n ln 2 + r` with `n`
/// the integer nearest `x / ln 2`, then a
/// degree-6 polynomial for `exp(r)` on `|r| <= ln 2 / 2` (the coefficients of the Cephes
/// library's `expf`), scaled by `2^n` through the exponent bits. Relative error about 2e-7;
/// inputs are clamped to [-87, 88], so the tails give about 1.6e-38 and 1.7e38, not 0 and
/// infinity.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    // 1.5 * 2^23: adding it rounds an f32 of magnitude below 2^22 to the nearest integer,
    // which then sits in the low mantissa bits (no float-to-int conversion, which is scalar).
    const ROUNDER: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * std::f32::consts::LOG2_E + ROUNDER;
    let n_float = shifted - ROUNDER;
    let n = shifted.to_bits().wrapping_sub(ROUNDER.to_bits()) as i32;
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
    /// The product against a plain triple loop, on sizes with whole 4 x 64 blocks and with
    /// partial ones in both directions.
    #[test]
    fn add_product_matches_the_definition() {
        for (rows, inner, cols) in [(8, 128, 512), (9, 130, 200), (3, 5, 4), (1, 1, 1)] {
            let a: Vec<f32> = (0..rows * inner)
                .map(|k| ((k * 7 % 13) as f32 - 6.0) / 5.0)
                .collect();
            let b: Vec<f32> = (0..inner * cols)
                .map(|k| ((k * 5 % 11) as f32 - 5.0) / 3.0)
                .collect();
            let start: Vec<f32> = (0..rows * cols).map(|k| (k % 3) as f32).collect();
            let mut out = start.clone();
            add_product(&a, &b, inner, cols, &mut out);
            for i in 0..rows {
                for j in 0..cols {
                    let exact: f64 = (0..inner)
                        .map(|p| f64::from(a[i * inner + p]) * f64::from(b[p * cols + j]))
                        .sum::<f64>()
                        + f64::from(start[i * cols + j]);
                    let got = f64::from(out[i * cols + j]);
                    assert!(
                        (got - exact).abs() <= 1e-4 * exact.abs().max(1.0),
                        "[{rows}, {inner}] x [{inner}, {cols}] at ({i}, {j}): {got} != {exact}"
                    );
                }
            }
        }
    }

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

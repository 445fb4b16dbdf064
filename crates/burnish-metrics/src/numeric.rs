//! Floating-point sums in NumPy's order, so that results agree with scikit-learn to the last bit
//! wherever NumPy's pairwise summation would otherwise round differently from a plain loop.

/// Sums `values` exactly as `numpy.sum` does on a contiguous `float64` array: pairwise
/// summation in blocks of 128 with eight accumulators.
pub(crate) fn numpy_sum(values: &[f64]) -> f64 {
    const BLOCK: usize = 128;
    let n = values.len();
    if n < 8 {
        let mut sum = 0.0;
        for &value in values {
            sum += value;
        }
        return sum;
    }
    if n <= BLOCK {
        let mut partial = [0.0; 8];
        partial.copy_from_slice(&values[..8]);
        let unrolled_end = n - n % 8;
        let mut idx = 8;
        while idx < unrolled_end {
            for (lane, partial_sum) in partial.iter_mut().enumerate() {
                *partial_sum += values[idx + lane];
            }
            idx += 8;
        }
        let mut sum = ((partial[0] + partial[1]) + (partial[2] + partial[3]))
            + ((partial[4] + partial[5]) + (partial[6] + partial[7]));
        for &value in &values[unrolled_end..] {
            sum += value;
        }
        return sum;
    }
    let mut half = n / 2;
    half -= half % 8;
    numpy_sum(&values[..half]) + numpy_sum(&values[half..])
}

/// The mean of `values` as `numpy.mean` computes it: the pairwise sum divided by the count.
pub(crate) fn numpy_mean(values: &[f64]) -> f64 {
    numpy_sum(values) / values.len() as f64
}

/// `numpy.average(values, weights=weights)`: `sum(values * weights) / sum(weights)`.
pub(crate) fn numpy_weighted_average(values: &[f64], weights: &[f64]) -> f64 {
    let products: Vec<f64> = values
        .iter()
        .zip(weights)
        .map(|(value, weight)| value * weight)
        .collect();
    numpy_sum(&products) / numpy_sum(weights)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_sums_are_sequential() {
        assert_eq!(numpy_sum(&[]), 0.0);
        assert_eq!(numpy_sum(&[1.0, 2.0, 3.5]), 6.5);
    }

    #[test]
    fn pairwise_sum_differs_from_a_loop_where_numpy_does() {
        // With a huge first element, eight lanes keep the small ones together; a plain loop
        // would lose every one of them.
        let mut values = vec![1e16];
        values.extend(std::iter::repeat_n(1.0, 15));
        let looped: f64 = values.iter().sum();
        assert_eq!(looped, 1e16);
        assert_eq!(numpy_sum(&values), 1e16 + 14.0);
    }

    #[test]
    fn mean_and_weighted_average() {
        assert_eq!(numpy_mean(&[1.0, 2.0, 3.0, 4.0]), 2.5);
        assert_eq!(numpy_weighted_average(&[1.0, 3.0], &[3.0, 1.0]), 1.5);
    }
}

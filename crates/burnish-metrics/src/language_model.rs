//! Language-model metrics: mean cross-entropy in nats and perplexity.

use crate::Error;
use crate::confusion::check_class_indices;
use crate::error::{check_not_empty, check_same_length};
use crate::numeric::numpy_mean;

/// Perplexity of a mean cross-entropy in nats: `exp(mean_cross_entropy)`.
///
/// ```
/// assert_eq!(burnish_metrics::perplexity(0.0), 1.0);
/// assert!((burnish_metrics::perplexity(4.0_f64.ln()) - 4.0).abs() < 1e-12);
/// ```
pub fn perplexity(mean_cross_entropy: f64) -> f64 {
    mean_cross_entropy.exp()
}

/// Mean cross-entropy in nats of the `targets` under softmax of `logits`, which holds
/// `targets.len()` rows of `n_classes` unnormalised scores (row-major).
///
/// Uses a max-shifted log-sum-exp, so large logits do not overflow.
///
/// Returns an error for a matrix of the wrong shape, an empty input, a target out of range,
/// or a non-finite logit.
pub fn cross_entropy_from_logits(
    targets: &[usize],
    logits: &[f64],
    n_classes: usize,
) -> Result<f64, Error> {
    let token_losses = token_cross_entropies(targets, logits, n_classes)?;
    Ok(numpy_mean(&token_losses))
}

/// The cross-entropy of each target, in nats; the checked core of
/// [`cross_entropy_from_logits`].
pub(crate) fn token_cross_entropies(
    targets: &[usize],
    logits: &[f64],
    n_classes: usize,
) -> Result<Vec<f64>, Error> {
    check_not_empty("targets", targets.len())?;
    check_same_length(
        "logits",
        logits.len(),
        "targets * n_classes",
        targets.len() * n_classes,
    )?;
    check_class_indices("targets", targets, n_classes)?;
    if let Some(position) = logits.iter().position(|logit| !logit.is_finite()) {
        return Err(Error::NonFiniteScore {
            position,
            value: logits[position],
        });
    }
    Ok(targets
        .iter()
        .zip(logits.chunks_exact(n_classes))
        .map(|(&target, row)| {
            let max_logit = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let sum_exp: f64 = row.iter().map(|logit| (logit - max_logit).exp()).sum();
            max_logit + sum_exp.ln() - row[target]
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_logits_give_log_of_the_vocabulary() {
        let cross_entropy = cross_entropy_from_logits(&[0, 3], &[1.0; 8], 4).unwrap();
        assert!((cross_entropy - 4.0_f64.ln()).abs() < 1e-12);
        assert!((perplexity(cross_entropy) - 4.0).abs() < 1e-12);
    }

    #[test]
    fn large_logits_do_not_overflow() {
        // PyTorch's cross_entropy gives the same value: log(1 + e^-1) = 0.31326168751822286.
        let cross_entropy = cross_entropy_from_logits(&[0], &[1001.0, 1000.0], 2).unwrap();
        assert!((cross_entropy - 0.31326168751822286).abs() < 1e-12);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let result = cross_entropy_from_logits(&[0], &[1.0, 2.0, 3.0], 2);
        assert!(matches!(result, Err(Error::LengthMismatch { .. })));
        let result = cross_entropy_from_logits(&[0], &[1.0, f64::INFINITY], 2);
        assert!(matches!(
            result,
            Err(Error::NonFiniteScore { position: 1, .. })
        ));
    }
}

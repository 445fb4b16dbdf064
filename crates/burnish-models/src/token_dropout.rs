//! Word dropout (Iyyer et al., 2015): while training, each token's whole embedding vector is
//! zeroed with a probability, so a classifier cannot lean on any one word.

use burn::nn::Dropout;
use burn::tensor::Tensor;

/// Zeroes whole embedding vectors of `embedded` (the last axis) with `dropout`'s probability
/// and scales the kept ones by `1 / (1 - p)`, as Keras's `Dropout` with `noise_shape`
/// `(batch, time, 1)`. Like [`Dropout`], it does nothing outside training or when the
/// probability is 0.
///
/// # Shapes
/// - `embedded`: `[batch, time, d]` or `[time, batch, d]`
/// - output: the same
pub(crate) fn drop_tokens(dropout: &Dropout, embedded: Tensor<3>) -> Tensor<3> {
    // [`Dropout`] passes its input through off an autodiff device (inference); return early
    // there too, rather than multiply by the ones it would give back.
    if dropout.prob == 0.0 || !embedded.device().is_autodiff() {
        return embedded;
    }
    let [first, second, _] = embedded.dims();
    let kept = dropout.forward(Tensor::ones([first, second, 1], &embedded.device()));
    embedded * kept
}

#[cfg(test)]
mod tests {
    use burn::nn::DropoutConfig;
    use burn::tensor::{Device, Distribution, Tensor};

    use super::*;

    #[test]
    fn training_zeroes_whole_tokens_and_scales_the_rest() {
        let device = Device::flex().autodiff();
        device.seed(3);
        let [batch, time, d] = [8, 50, 6];
        let embedded =
            Tensor::<3>::random([batch, time, d], Distribution::Uniform(1.0, 2.0), &device);
        let dropped = drop_tokens(&DropoutConfig::new(0.25).init(), embedded.clone());
        let before = embedded.into_data().try_into_vec::<f32>().unwrap();
        let after = dropped.into_data().try_into_vec::<f32>().unwrap();
        let mut zeroed = 0;
        for (token, (old, new)) in before.chunks(d).zip(after.chunks(d)).enumerate() {
            if new.iter().all(|value| *value == 0.0) {
                zeroed += 1;
                continue;
            }
            for (old, new) in old.iter().zip(new) {
                assert!(
                    (new - old / 0.75).abs() < 1e-6,
                    "token {token}: {old} became {new}"
                );
            }
        }
        // 400 tokens at p = 0.25: 100 expected, standard deviation 8.7.
        assert!(
            (70..=130).contains(&zeroed),
            "{zeroed} of 400 tokens zeroed"
        );
    }

    #[test]
    fn inference_keeps_every_token() {
        let device = Device::flex();
        let embedded = Tensor::<3>::random([2, 5, 3], Distribution::Default, &device);
        let dropped = drop_tokens(&DropoutConfig::new(0.5).init(), embedded.clone());
        assert_eq!(dropped.into_data(), embedded.into_data());
    }
}

//! Dropout as one operation on the flex backend, forward and backward, for the layers that ask
//! for it (BERT's, so far).
//!
//! Burn's `Dropout` draws a Bernoulli tensor from the device's random number generator (one
//! value at a time, on one thread), multiplies the input by it, scales the product, and keeps
//! the drawn tensor for the backward pass: in a MiniLM training step (batch 32 by 64 tokens)
//! that was about a quarter of the time. Here a value is kept or dropped by a hash of its
//! position and of a seed drawn once per call from the device's generator, so the pass is one
//! vectorised loop split between the threads, and the backward pass recomputes the same
//! decisions from the seed instead of keeping a mask. Seeding the device (`Device::seed`) makes
//! the decisions repeat, as with Burn's dropout, but they are not Burn's: the other models keep
//! Burn's dropout so that their published results stay as they were.
//!
//! Each value is kept when 24 bits of its hash, read as a fraction, fall below `1 - prob`, so
//! the probability is rounded to a multiple of 2^-24. Positions are counted modulo 2^32: in a
//! tensor of more than 4 billion values the pattern would repeat.

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, backend_extension};
use burn::nn::Dropout;
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use burn_flex::FlexTensor;

use crate::flex_math::{applies_to, split_rows, values, vectorized};

/// Dropout as a backend operation.
#[backend_extension(Flex, Autodiff)]
pub trait DropoutKernel: Backend {
    /// Zeroes each value of `input` with probability `prob` and scales the others by
    /// `1 / (1 - prob)`; which values are zeroed depends only on `seed` and their positions.
    fn dropout(input: FloatTensor<Self>, prob: f64, seed: u64) -> FloatTensor<Self>;
}

/// `layer.forward(input)`, through the kernel where it applies (flex) and `kernel` asks for it.
///
/// Like Burn's dropout, it acts only while training: on an autodiff device, in a layer not
/// frozen, with a probability above 0.
pub(crate) fn dropout<const D: usize>(
    layer: &Dropout,
    input: Tensor<D>,
    kernel: bool,
) -> Tensor<D> {
    let device = input.device();
    if !kernel || !applies_to(&device) {
        return layer.forward(input);
    }
    if !layer.training.is_enabled() || !device.is_autodiff() || layer.prob == 0.0 {
        return input;
    }
    let seed = draw_seed(&device);
    Tensor::from_dispatch(<Dispatch as DropoutKernel>::dropout(
        input.into_dispatch(),
        layer.prob,
        seed,
    ))
}

/// 48 random bits from the device's generator, so that seeding the device fixes the masks.
fn draw_seed(device: &Device) -> u64 {
    Tensor::<1>::random([2], Distribution::Default, device)
        .into_data()
        .iter::<f32>()
        .fold(0u64, |seed, draw| {
            (seed << 24) | ((draw * (1u32 << 24) as f32) as u64 & 0xff_ffff)
        })
}

impl DropoutKernel for Flex {
    fn dropout(input: FlexTensor, prob: f64, seed: u64) -> FlexTensor {
        apply(&input, Mask::new(prob, seed))
    }
}

impl<C: CheckpointStrategy> DropoutKernel for Autodiff<Flex, C> {
    fn dropout(input: FloatTensor<Self>, prob: f64, seed: u64) -> FloatTensor<Self> {
        let mask = Mask::new(prob, seed);
        match DropoutBackward
            .prepare::<C>([input.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(mask, apply(input.primitive(), mask)),
            OpsKind::UnTracked(prep) => prep.finish(apply(input.primitive(), mask)),
        }
    }
}

#[derive(Debug)]
struct DropoutBackward;

impl Backward<Flex, 1> for DropoutBackward {
    type State = Mask;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [input_node] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        if let Some(node) = input_node {
            // The same values pass, scaled the same: dropout is linear in its input.
            grads.register::<Flex>(node.id, apply(&grad, ops.state));
        }
    }
}

/// Which values one call keeps, and their scale: all the backward pass needs.
#[derive(Debug, Clone, Copy)]
struct Mask {
    seed: u64,
    /// A value is kept when the top 24 bits of its hash are below this.
    threshold: u32,
    scale: f32,
}

impl Mask {
    fn new(prob: f64, seed: u64) -> Self {
        let keep = 1.0 - prob;
        Self {
            seed,
            threshold: (keep * (1u32 << 24) as f64).round() as u32,
            scale: (1.0 / keep) as f32,
        }
    }

    #[inline(always)]
    fn keeps(&self, position: u32) -> bool {
        let low = mix(position ^ self.seed as u32);
        mix(low ^ (self.seed >> 32) as u32) >> 8 < self.threshold
    }
}

/// Chris Wellons' `lowbias32` integer hash: a bijection on `u32` whose output bits each flip
/// with probability close to one half when any input bit flips.
#[inline(always)]
fn mix(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^ (x >> 16)
}

/// `input` with the values `mask` drops set to 0 and the others scaled.
fn apply(input: &FlexTensor, mask: Mask) -> FlexTensor {
    let shape = input.layout().shape().clone();
    let (input, range) = values(input);
    let input = &input.storage::<f32>()[range];
    let mut output = vec![0.0f32; input.len()];
    split_rows(&mut output, 1, |start, out| {
        let input = &input[start..][..out.len()];
        vectorized(
            #[inline(always)]
            || {
                for (k, (o, &x)) in out.iter_mut().zip(input).enumerate() {
                    let kept = mask.keeps((start + k) as u32);
                    *o = if kept { x * mask.scale } else { 0.0 };
                }
            },
        );
    });
    FlexTensor::from_data(TensorData::new(output, shape))
}

#[cfg(test)]
mod tests {
    use burn::nn::DropoutConfig;
    use burn::tensor::{Device, Distribution, Tensor};

    use super::*;

    /// Every value is either dropped or scaled by `1 / (1 - p)`, about `p` of them are
    /// dropped, and the gradient passes exactly where the value did, scaled the same.
    #[rstest::rstest]
    fn the_flex_dropout_drops_about_p_and_passes_gradients_where_it_keeps(
        #[values(0.1, 0.5)] prob: f64,
    ) {
        let device = Device::flex().autodiff();
        device.seed(11);
        let shape = [256, 1000];
        let input = Tensor::<2>::random(shape, Distribution::Uniform(1.0, 2.0), &device);
        let upstream = Tensor::<2>::random(shape, Distribution::Uniform(1.0, 2.0), &device);
        let layer = DropoutConfig::new(prob).init();

        let input = input.require_grad();
        let output = dropout(&layer, input.clone(), true);
        let grads = (output.clone() * upstream.clone()).sum().backward();
        let grad = input.grad(&grads).unwrap();

        let scale = (1.0 / (1.0 - prob)) as f32;
        let input = input.inner().into_data().try_into_vec::<f32>().unwrap();
        let output = output.inner().into_data().try_into_vec::<f32>().unwrap();
        let upstream = upstream.inner().into_data().try_into_vec::<f32>().unwrap();
        let grad = grad.into_data().try_into_vec::<f32>().unwrap();
        let mut dropped = 0usize;
        for i in 0..input.len() {
            if output[i] == 0.0 {
                dropped += 1;
                assert_eq!(grad[i], 0.0, "gradient at dropped value {i}");
            } else {
                assert_eq!(output[i], input[i] * scale, "value {i}");
                assert_eq!(grad[i], upstream[i] * scale, "gradient at kept value {i}");
            }
        }
        // 256,000 Bernoulli draws: the share is within 0.005 of p at over 10 standard deviations.
        let share = dropped as f64 / input.len() as f64;
        assert!(
            (share - prob).abs() < 0.005,
            "dropped {share}, expected {prob}"
        );
    }

    /// Neighbouring values are dropped independently, two seeds draw independent masks, and
    /// one seed always the same.
    #[test]
    fn the_flex_dropout_masks_are_independent_and_repeat_for_a_seed() {
        let ones = FlexTensor::from_data(TensorData::new(vec![1.0f32; 100_000], [100_000]));
        let kept = |seed: u64| {
            let dropped = apply(&ones, Mask::new(0.5, seed));
            let values = dropped.into_data().try_into_vec::<f32>().unwrap();
            values.iter().map(|&v| v != 0.0).collect::<Vec<_>>()
        };
        let (first, second) = (kept(0x1234_5678_9abc), kept(0x1234_5678_9abd));
        assert_eq!(kept(0x1234_5678_9abc), first);
        // Of pairs that should agree half the time: next positions, and the two seeds.
        let agreement = |a: &[bool], b: &[bool]| {
            let same = a.iter().zip(b).filter(|(a, b)| a == b).count();
            same as f64 / a.len().min(b.len()) as f64
        };
        let neighbours = agreement(&first, &first[1..]);
        let seeds = agreement(&first, &second);
        for (what, share) in [("neighbours", neighbours), ("seeds", seeds)] {
            assert!(
                (share - 0.5).abs() < 0.01,
                "{what} agree on {share} of values"
            );
        }
    }

    /// Outside training (no autodiff) or at probability 0, the input passes unchanged.
    #[test]
    fn the_flex_dropout_is_identity_outside_training() {
        let device = Device::flex();
        let input = Tensor::<2>::random([8, 8], Distribution::Default, &device);
        let layer = DropoutConfig::new(0.5).init();
        let output = dropout(&layer, input.clone(), true);
        assert_eq!(output.into_data(), input.clone().into_data());
        let autodiff = Device::flex().autodiff();
        let input = input.to_device(&autodiff);
        let none = DropoutConfig::new(0.0).init();
        let output = dropout(&none, input.clone(), true);
        assert_eq!(output.into_data(), input.into_data());
    }
}

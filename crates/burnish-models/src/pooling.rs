//! Summaries of a batch of sequences over their valid (not padding) positions, shared by the
//! recurrent and transformer classifiers.

use burn::tensor::{Bool, Tensor};

/// The mean over time of `steps` at the positions `padding` does not mark; zero for a
/// sequence that is all padding.
///
/// # Shapes
/// - `steps`: `[batch, time, d]`
/// - `padding`: `[batch, time]`
/// - output: `[batch, d]`
pub(crate) fn mean_over_valid(steps: Tensor<3>, padding: Option<Tensor<2, Bool>>) -> Tensor<2> {
    let [batch, _, d] = steps.dims();
    let Some(padding) = padding else {
        return steps.mean_dim(1).reshape([batch, d]);
    };
    let kept = padding.bool_not().float().unsqueeze_dim::<3>(2);
    let count = kept.clone().sum_dim(1).clamp_min(1.0);
    (steps * kept).sum_dim(1).div(count).reshape([batch, d])
}

/// The feature-wise maximum over time of `steps` at the positions `padding` does not mark.
///
/// Every sequence needs at least one valid position: for one that is all padding the result
/// is `f32::MIN` in every feature.
///
/// # Shapes
/// - `steps`: `[batch, time, d]`
/// - `padding`: `[batch, time]`
/// - output: `[batch, d]`
pub(crate) fn max_over_valid(steps: Tensor<3>, padding: Option<Tensor<2, Bool>>) -> Tensor<2> {
    let [batch, time, d] = steps.dims();
    let steps = match padding {
        None => steps,
        Some(padding) => steps.mask_fill(
            padding.unsqueeze_dim::<3>(2).expand([batch, time, d]),
            f32::MIN,
        ),
    };
    steps.max_dim(1).reshape([batch, d])
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Bool, Device, Tensor, TensorData};

    use super::*;

    /// Two sequences of three steps and two features; the second has one padding step whose
    /// values would win both summaries if they were counted.
    fn batch(device: &Device) -> (Tensor<3>, Tensor<2, Bool>) {
        let steps = TensorData::new(
            vec![
                1.0f32, -4.0, 3.0, -2.0, 2.0, -6.0, -1.0, 5.0, -3.0, 1.0, 9.0, 9.0,
            ],
            [2, 3, 2],
        );
        let padding = TensorData::new(vec![false, false, false, false, false, true], [2, 3]);
        (
            Tensor::from_data(steps, device),
            Tensor::from_data(padding, device),
        )
    }

    fn values(tensor: Tensor<2>) -> Vec<f32> {
        tensor.into_data().try_into_vec::<f32>().unwrap()
    }

    #[test]
    fn summaries_skip_padding_steps() {
        let device = Device::flex();
        let (steps, padding) = batch(&device);
        assert_eq!(
            values(mean_over_valid(steps.clone(), Some(padding.clone()))),
            [2.0, -4.0, -2.0, 3.0]
        );
        assert_eq!(
            values(max_over_valid(steps, Some(padding))),
            [3.0, -2.0, -1.0, 5.0]
        );
    }

    #[test]
    fn without_padding_every_step_counts() {
        let device = Device::flex();
        let (steps, _) = batch(&device);
        assert_eq!(
            values(mean_over_valid(steps.clone(), None)),
            [2.0, -4.0, 5.0 / 3.0, 5.0]
        );
        assert_eq!(values(max_over_valid(steps, None)), [3.0, -2.0, 9.0, 9.0]);
    }
}

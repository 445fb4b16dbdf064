//! The Burn glue of every kind of data: a batch holds exactly the rows asked for, Burn's
//! `DataLoaderBuilder` with each batcher yields every row once per epoch, and the seeded epoch
//! order is reproducible. Runs on the Flex backend.

use std::collections::BTreeSet;

use burn::data::dataloader::DataLoaderBuilder;
use burn::tensor::{Bool, Device, Int, Tensor};
use burnish_backend::BackendKind;
use burnish_data::{
    BatchTargets, EpochOrder, Features, ImageDataset, ImageShape, Images, LmBatcher, SeriesBatcher,
    SeriesDataset, TabularBatcher, TabularDataset, Targets, TextBatcher, TextDataset,
    TokenStreamDataset, Truncation, WindowConfig, windows,
};

fn device() -> Device {
    BackendKind::Flex
        .open()
        .expect("the flex backend is compiled in")
}

fn ints<const D: usize>(tensor: Tensor<D, Int>) -> Vec<i64> {
    tensor.try_into_vec_as::<i64>().expect("a readable tensor")
}

fn floats<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor.try_into_vec_as::<f32>().expect("a readable tensor")
}

fn bools<const D: usize>(tensor: Tensor<D, Bool>) -> Vec<bool> {
    tensor.try_into_vec_as::<bool>().expect("a readable tensor")
}

fn classes(targets: BatchTargets) -> Vec<i64> {
    match targets {
        BatchTargets::Classes(classes) => ints(classes),
        BatchTargets::Values(_) => panic!("expected class targets"),
    }
}

/// Text `row` is `row + 1` ids `100 * row + 2, 100 * row + 3, ...`, class `row % 3`.
fn texts(n_rows: usize) -> TextDataset {
    let sequences: Vec<Vec<usize>> = (0..n_rows)
        .map(|row| {
            (0..row + 1)
                .map(|position| 100 * row + 2 + position)
                .collect()
        })
        .collect();
    let targets = Targets::Classes((0..n_rows).map(|row| row % 3).collect());
    TextDataset::from_sequences(&sequences, 4, Truncation::Tail, targets)
}

/// The row a text came from, read back from its first id.
fn text_row(first_id: i64) -> usize {
    (first_id as usize - 2) / 100
}

#[test]
fn text_batch_holds_the_rows_asked_for() {
    let dataset = texts(6);
    let batch = dataset.batch(&[5, 0, 2], &device());
    assert_eq!(batch.ids.dims(), [3, 4]);
    assert_eq!(batch.padding_mask.dims(), [3, 4]);
    assert_eq!(
        ints::<2>(batch.ids),
        [502, 503, 504, 505, 2, 0, 0, 0, 202, 203, 204, 0]
    );
    assert_eq!(
        bools::<2>(batch.padding_mask),
        [
            false, false, false, false, false, true, true, true, false, false, false, true
        ]
    );
    assert_eq!(classes(batch.targets), [2, 0, 2]);
}

#[test]
fn trimmed_batches_drop_the_columns_that_are_padding_in_every_row() {
    let dataset = texts(6).trimmed();
    // Rows of 1, 3 and 2 ids: three columns.
    let batch = dataset.batch(&[0, 2, 1], &device());
    assert_eq!(batch.ids.dims(), [3, 3]);
    assert_eq!(ints::<2>(batch.ids), [2, 0, 0, 202, 203, 204, 102, 103, 0]);
    assert_eq!(
        bools::<2>(batch.padding_mask),
        [false, true, true, false, false, false, false, false, true]
    );
    assert_eq!(classes(batch.targets), [0, 2, 1]);
    // A row as long as max_len keeps every column.
    assert_eq!(dataset.batch(&[0, 5], &device()).ids.dims(), [2, 4]);
}

#[test]
fn text_loader_yields_every_row_once_per_epoch() {
    let dataset = texts(11);
    let loader = DataLoaderBuilder::new(TextBatcher)
        .batch_size(4)
        .shuffle(3)
        .set_device(device())
        .build(dataset);
    for _epoch in 0..2 {
        let mut seen = Vec::new();
        for batch in loader.iter() {
            let batch = batch.expect("an in-memory batch");
            let [n_rows, max_len] = batch.ids.dims();
            assert_eq!(max_len, 4);
            let ids = ints::<2>(batch.ids);
            let targets = classes(batch.targets);
            for (row_ids, target) in ids.chunks(max_len).zip(targets) {
                let row = text_row(row_ids[0]);
                assert_eq!(target, (row % 3) as i64, "the target travels with its text");
                seen.push(row);
            }
            assert!(n_rows <= 4);
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..11).collect::<Vec<_>>());
    }
}

#[test]
fn lm_batch_is_the_windows_and_their_next_tokens() {
    let ids: Vec<usize> = (10..30).collect();
    let dataset = TokenStreamDataset::new(&ids, 5).unwrap();
    assert_eq!(dataset.n_windows(), 15);
    let batch = dataset.batch(&[14, 0], &device());
    assert_eq!(batch.inputs.dims(), [2, 5]);
    assert_eq!(
        ints::<2>(batch.inputs),
        [24, 25, 26, 27, 28, 10, 11, 12, 13, 14]
    );
    assert_eq!(
        ints::<2>(batch.targets),
        [25, 26, 27, 28, 29, 11, 12, 13, 14, 15]
    );
}

#[test]
fn lm_loader_yields_every_window_once_per_epoch() {
    let ids: Vec<usize> = (0..40).collect();
    let dataset = TokenStreamDataset::new(&ids, 6).unwrap();
    let loader = DataLoaderBuilder::new(LmBatcher)
        .batch_size(5)
        .shuffle(11)
        .set_device(device())
        .build(dataset);
    let mut starts = Vec::new();
    for batch in loader.iter() {
        let batch = batch.expect("an in-memory batch");
        let inputs = ints::<2>(batch.inputs);
        let targets = ints::<2>(batch.targets);
        for (window_inputs, window_targets) in inputs.chunks(6).zip(targets.chunks(6)) {
            let start = window_inputs[0];
            assert_eq!(window_inputs, (start..start + 6).collect::<Vec<_>>());
            assert_eq!(window_targets, (start + 1..start + 7).collect::<Vec<_>>());
            starts.push(start as usize);
        }
    }
    starts.sort_unstable();
    assert_eq!(starts, (0..34).collect::<Vec<_>>());
}

/// A series whose value at step `t` is `t`: every window names itself by its first input.
fn series_dataset() -> SeriesDataset {
    let series: Vec<f64> = (0..20).map(f64::from).collect();
    SeriesDataset::new(windows(&series, &WindowConfig::new(4, 2)).unwrap())
}

#[test]
fn series_batch_holds_the_windows_asked_for() {
    let dataset = series_dataset();
    assert_eq!(dataset.n_windows(), 15);
    let batch = dataset.batch(&[3, 14], &device());
    assert_eq!(batch.inputs.dims(), [2, 4, 1]);
    assert_eq!(batch.targets.dims(), [2, 2]);
    assert_eq!(
        floats::<3>(batch.inputs),
        [3.0, 4.0, 5.0, 6.0, 14.0, 15.0, 16.0, 17.0]
    );
    assert_eq!(floats::<2>(batch.targets), [7.0, 8.0, 18.0, 19.0]);
}

#[test]
fn series_loader_yields_every_window_once_per_epoch() {
    let loader = DataLoaderBuilder::new(SeriesBatcher)
        .batch_size(4)
        .shuffle(5)
        .set_device(device())
        .build(series_dataset());
    let mut starts = Vec::new();
    for batch in loader.iter() {
        let batch = batch.expect("an in-memory batch");
        assert_eq!(batch.inputs.dims()[1..], [4, 1]);
        let inputs = floats::<3>(batch.inputs);
        let targets = floats::<2>(batch.targets);
        for (window_inputs, window_targets) in inputs.chunks(4).zip(targets.chunks(2)) {
            let start = window_inputs[0];
            assert_eq!(window_targets, [start + 4.0, start + 5.0]);
            starts.push(start as usize);
        }
    }
    starts.sort_unstable();
    assert_eq!(starts, (0..15).collect::<Vec<_>>());
}

/// Image `row` is 2 x 2 x 3 values `row * 100 + position`, class `row % 4`.
fn image_dataset(n_images: usize) -> ImageDataset {
    let shape = ImageShape::new(2, 2, 3);
    let values = (0..n_images)
        .flat_map(|row| (0..12).map(move |position| (row * 100 + position) as f32))
        .collect();
    let images = Images {
        values,
        n_images,
        shape,
    };
    ImageDataset::new(
        images,
        Targets::Classes((0..n_images).map(|row| row % 4).collect()),
    )
}

#[test]
fn image_batch_holds_the_images_asked_for() {
    let dataset = image_dataset(5);
    let batch = dataset.batch(&[4, 1], &device());
    assert_eq!(batch.images.dims(), [2, 2, 2, 3]);
    let expected: Vec<f32> = [400.0, 100.0]
        .iter()
        .flat_map(|&base| (0..12).map(move |position| base + position as f32))
        .collect();
    assert_eq!(floats::<4>(batch.images), expected);
    assert_eq!(classes(batch.targets), [0, 1]);
}

#[test]
fn image_loader_yields_every_image_once_per_epoch() {
    let dataset = image_dataset(9);
    let loader = DataLoaderBuilder::new(dataset.batcher())
        .batch_size(2)
        .shuffle(8)
        .set_device(device())
        .build(dataset);
    let mut seen = Vec::new();
    for batch in loader.iter() {
        let batch = batch.expect("an in-memory batch");
        assert_eq!(batch.images.dims()[1..], [2, 2, 3]);
        let pixels = floats::<4>(batch.images);
        for (image, target) in pixels.chunks(12).zip(classes(batch.targets)) {
            let row = (image[0] / 100.0) as usize;
            assert_eq!(image[11], (row * 100 + 11) as f32);
            assert_eq!(target, (row % 4) as i64);
            seen.push(row);
        }
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..9).collect::<Vec<_>>());
}

#[test]
fn image_regression_targets_come_as_a_column() {
    let dataset = image_dataset(3);
    let regression = ImageDataset::new(
        dataset.images().clone(),
        Targets::Values(vec![0.5, 1.5, 2.5]),
    );
    let batch = regression.batch(&[2, 0], &device());
    match batch.targets {
        BatchTargets::Values(values_tensor) => {
            assert_eq!(values_tensor.dims(), [2, 1]);
            assert_eq!(floats::<2>(values_tensor), [2.5, 0.5]);
        }
        BatchTargets::Classes(_) => panic!("expected regression targets"),
    }
}

#[test]
fn tabular_loader_yields_every_row_once_per_epoch() {
    let n_rows = 10;
    let features = Features {
        n_rows,
        n_cols: 2,
        values: (0..n_rows)
            .flat_map(|row| [row as f32, -(row as f32)])
            .collect(),
    };
    let dataset = TabularDataset::new(features, Targets::Classes(vec![1; n_rows]));
    let direct = dataset.batch(&[7, 2], &device());
    assert_eq!(floats::<2>(direct.inputs), [7.0, -7.0, 2.0, -2.0]);
    let loader = DataLoaderBuilder::new(TabularBatcher)
        .batch_size(3)
        .shuffle(1)
        .set_device(device())
        .build(dataset);
    let mut seen: Vec<usize> = Vec::new();
    for batch in loader.iter() {
        let inputs = floats::<2>(batch.expect("an in-memory batch").inputs);
        seen.extend(inputs.chunks(2).map(|row| row[0] as usize));
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..n_rows).collect::<Vec<_>>());
}

#[test]
fn epoch_order_is_seeded_per_epoch_and_visits_every_row_once() {
    let order = EpochOrder::shuffled(50, 42, 3);
    assert_eq!(order, EpochOrder::shuffled(50, 42, 3));
    assert_ne!(order, EpochOrder::shuffled(50, 42, 4));
    assert_ne!(order, EpochOrder::shuffled(50, 43, 3));
    let rows: Vec<usize> = order.batches(7, false).flatten().copied().collect();
    assert_ne!(rows, (0..50).collect::<Vec<_>>(), "the rows are shuffled");
    let distinct: BTreeSet<usize> = rows.iter().copied().collect();
    assert_eq!((rows.len(), distinct.len()), (50, 50));
}

#[test]
fn drop_last_leaves_out_the_short_batch() {
    let order = EpochOrder::sequential(10);
    let kept: Vec<usize> = order.batches(4, false).map(<[usize]>::len).collect();
    assert_eq!(kept, [4, 4, 2]);
    let dropped: Vec<usize> = order.batches(4, true).map(<[usize]>::len).collect();
    assert_eq!(dropped, [4, 4]);
}

#[test]
fn an_epoch_order_drives_every_dataset_batch() {
    let dataset = texts(10);
    let order = EpochOrder::shuffled(dataset.n_rows(), 9, 0);
    let mut seen = Vec::new();
    for rows in order.batches(3, true) {
        let batch = dataset.batch(rows, &device());
        let ids = ints::<2>(batch.ids);
        let batch_rows: Vec<usize> = ids.chunks(4).map(|row| text_row(row[0])).collect();
        assert_eq!(
            batch_rows, rows,
            "the batch holds the rows in the order asked for"
        );
        seen.extend(batch_rows);
    }
    assert_eq!(seen.len(), 9, "drop_last leaves out the tenth row");
}

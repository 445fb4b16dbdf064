//! Seeded train/validation/test splits and k folds, plain or stratified.
//!
//! Splits return row indices, each part sorted ascending, so that `Table::select_rows` keeps
//! file order. Shuffles use SplitMix64 and Fisher–Yates with unbiased bounded integers, all in
//! integer arithmetic: the same seed gives the same split on every platform and every release
//! of this crate's dependencies.
//!
//! Part sizes: `valid = round(valid_ratio * n)` and `test = round(test_ratio * n)`, the rest is
//! train. Stratified splits apply the same rounding to each class separately (classes in sorted
//! order), so every part keeps the class proportions and the totals may differ from the plain
//! rounding by a row per class. A class with fewer than 2 members cannot be stratified (as in
//! scikit-learn), and stratified k-fold needs at least `k` members per class. This module works
//! on indices and labels only; it does not know about files (see [`crate::Error::with_path`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// How much of the data goes to each part; must sum to 1 (within 1e-6).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SplitRatios {
    /// The training share, above 0.
    pub train: f64,
    /// The validation share (0 for none).
    pub valid: f64,
    /// The test share (0 for none).
    pub test: f64,
}

impl Default for SplitRatios {
    /// 70% train, 15% validation, 15% test.
    fn default() -> Self {
        Self {
            train: 0.7,
            valid: 0.15,
            test: 0.15,
        }
    }
}

impl SplitRatios {
    /// Checks that every ratio lies in [0, 1], train is above 0 and they sum to 1 (±1e-6).
    pub fn validate(&self) -> Result<(), Error> {
        let Self { train, valid, test } = *self;
        let in_range = |ratio: f64| (0.0..=1.0).contains(&ratio);
        let sum = train + valid + test;
        if in_range(train)
            && in_range(valid)
            && in_range(test)
            && train > 0.0
            && (sum - 1.0).abs() <= 1e-6
        {
            Ok(())
        } else {
            Err(Error::InvalidRatios { train, valid, test })
        }
    }
}

/// Row indices of the three parts, each sorted ascending.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    /// The rows to fit on.
    pub train: Vec<usize>,
    /// The rows for early stopping and model selection.
    pub valid: Vec<usize>,
    /// The rows held out for the final report.
    pub test: Vec<usize>,
}

/// One fold of a k-fold split: `(train rows, test rows)`, both sorted ascending.
pub type Fold = (Vec<usize>, Vec<usize>);

/// Splits `n_rows` rows into train, validation and test parts, shuffled by `seed`; with
/// `stratify_by` (one label per row) every part keeps the class proportions.
///
/// ```
/// use burnish_data::{SplitRatios, train_valid_test_split};
/// let split = train_valid_test_split(100, SplitRatios::default(), None, 42)?;
/// assert_eq!((split.train.len(), split.valid.len(), split.test.len()), (70, 15, 15));
/// # Ok::<(), burnish_data::Error>(())
/// ```
pub fn train_valid_test_split(
    n_rows: usize,
    ratios: SplitRatios,
    stratify_by: Option<&[String]>,
    seed: u64,
) -> Result<Split, Error> {
    ratios.validate()?;
    let mut rng = SplitMix64::new(seed);
    let mut split = Split::default();
    match stratify_by {
        None => {
            let mut rows: Vec<usize> = (0..n_rows).collect();
            rng.shuffle(&mut rows);
            deal_parts(&rows, ratios, &mut split);
        }
        Some(labels) => {
            if labels.len() != n_rows {
                return Err(Error::LabelCountMismatch {
                    n_rows,
                    n_labels: labels.len(),
                });
            }
            for mut rows in classes(labels, 2)? {
                rng.shuffle(&mut rows);
                deal_parts(&rows, ratios, &mut split);
            }
        }
    }
    if split.train.is_empty() {
        return Err(Error::TooFewRows { n_rows });
    }
    split.train.sort_unstable();
    split.valid.sort_unstable();
    split.test.sort_unstable();
    Ok(split)
}

/// `k` folds of `n_rows` shuffled rows: for each fold, `(train rows, test rows)`, both sorted.
/// The first `n_rows % k` folds have one test row more, as in scikit-learn's `KFold`.
pub fn k_fold(n_rows: usize, k: usize, seed: u64) -> Result<Vec<Fold>, Error> {
    if k < 2 || k > n_rows {
        return Err(Error::InvalidFolds { k, n_rows });
    }
    let mut rows: Vec<usize> = (0..n_rows).collect();
    SplitMix64::new(seed).shuffle(&mut rows);
    let mut fold_of = vec![0; n_rows];
    let mut start = 0;
    for fold in 0..k {
        let size = n_rows / k + usize::from(fold < n_rows % k);
        for &row in &rows[start..start + size] {
            fold_of[row] = fold;
        }
        start += size;
    }
    Ok(folds_from_assignment(&fold_of, k))
}

/// `k` folds that each hold every class in proportion: for each fold, `(train rows, test
/// rows)`, both sorted. Each class (in sorted order) is shuffled and dealt round-robin over the
/// folds, continuing where the previous class stopped, so fold sizes differ by at most one.
/// Every class needs at least `k` members.
pub fn stratified_k_fold(labels: &[String], k: usize, seed: u64) -> Result<Vec<Fold>, Error> {
    if k < 2 || k > labels.len() {
        return Err(Error::InvalidFolds {
            k,
            n_rows: labels.len(),
        });
    }
    let mut rng = SplitMix64::new(seed);
    let mut fold_of = vec![0; labels.len()];
    let mut next_fold = 0;
    for mut rows in classes(labels, k)? {
        rng.shuffle(&mut rows);
        for row in rows {
            fold_of[row] = next_fold;
            next_fold = (next_fold + 1) % k;
        }
    }
    Ok(folds_from_assignment(&fold_of, k))
}

/// The rows of each class, classes in sorted order; a class below `needed` members fails.
fn classes(labels: &[String], needed: usize) -> Result<Vec<Vec<usize>>, Error> {
    let mut by_class: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (row, label) in labels.iter().enumerate() {
        by_class.entry(label).or_default().push(row);
    }
    if let Some((class, rows)) = by_class.iter().find(|(_, rows)| rows.len() < needed) {
        return Err(Error::ClassTooSmall {
            path: None,
            class: (*class).to_owned(),
            count: rows.len(),
            needed,
        });
    }
    Ok(by_class.into_values().collect())
}

/// Appends shuffled `rows` to the parts: the first `round(valid * n)` to valid, the next
/// `round(test * n)` to test, the rest to train.
fn deal_parts(rows: &[usize], ratios: SplitRatios, split: &mut Split) {
    let n = rows.len();
    let n_valid = part_size(ratios.valid, n);
    let n_test = part_size(ratios.test, n).min(n - n_valid);
    split.valid.extend_from_slice(&rows[..n_valid]);
    split
        .test
        .extend_from_slice(&rows[n_valid..n_valid + n_test]);
    split.train.extend_from_slice(&rows[n_valid + n_test..]);
}

fn part_size(ratio: f64, n: usize) -> usize {
    // Ratios are validated to [0, 1], so the product lies in [0, n].
    ((ratio * n as f64).round() as usize).min(n)
}

fn folds_from_assignment(fold_of: &[usize], k: usize) -> Vec<Fold> {
    (0..k)
        .map(|fold| {
            let (test, train): (Vec<usize>, Vec<usize>) =
                (0..fold_of.len()).partition(|&row| fold_of[row] == fold);
            (train, test)
        })
        .collect()
}

/// SplitMix64 (Steele, Lea and Flood 2014): tiny, fast, and the same on every platform.
pub(crate) struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform integer in `0..bound` (Lemire's method, with rejection: no bias).
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        debug_assert!(bound > 0);
        let threshold = bound.wrapping_neg() % bound;
        loop {
            let product = u128::from(self.next_u64()) * u128::from(bound);
            if (product as u64) >= threshold {
                return (product >> 64) as u64;
            }
        }
    }

    /// Fisher–Yates.
    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for index in (1..items.len()).rev() {
            let other = self.below(index as u64 + 1) as usize;
            items.swap(index, other);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(counts: &[(&str, usize)]) -> Vec<String> {
        counts
            .iter()
            .flat_map(|(label, count)| std::iter::repeat_n(label.to_string(), *count))
            .collect()
    }

    #[test]
    fn splitmix_matches_the_reference_sequence() {
        // First outputs of SplitMix64 seeded with 1234567 (from the reference C code).
        let mut rng = SplitMix64::new(1_234_567);
        assert_eq!(rng.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(rng.next_u64(), 3_203_168_211_198_807_973);
    }

    #[test]
    fn same_seed_same_split_and_parts_partition_the_rows() {
        let ratios = SplitRatios::default();
        let first = train_valid_test_split(101, ratios, None, 7).unwrap();
        assert_eq!(first, train_valid_test_split(101, ratios, None, 7).unwrap());
        assert_ne!(first, train_valid_test_split(101, ratios, None, 8).unwrap());
        let mut all: Vec<usize> = [&first.train[..], &first.valid, &first.test].concat();
        all.sort_unstable();
        assert_eq!(all, (0..101).collect::<Vec<_>>());
        assert_eq!(first.valid.len(), 15);
        assert_eq!(first.test.len(), 15);
    }

    #[test]
    fn stratified_split_keeps_proportions() {
        let labels = labels(&[("a", 60), ("b", 20), ("c", 20)]);
        let split =
            train_valid_test_split(labels.len(), SplitRatios::default(), Some(&labels), 3).unwrap();
        let count =
            |rows: &[usize], class: &str| rows.iter().filter(|&&row| labels[row] == class).count();
        assert_eq!(count(&split.valid, "a"), 9);
        assert_eq!(count(&split.valid, "b"), 3);
        assert_eq!(count(&split.test, "c"), 3);
        assert_eq!(count(&split.train, "a"), 42);
    }

    #[test]
    fn ratios_must_sum_to_one() {
        let ratios = SplitRatios {
            train: 0.7,
            valid: 0.2,
            test: 0.2,
        };
        let error = train_valid_test_split(10, ratios, None, 0).unwrap_err();
        assert!(matches!(error, Error::InvalidRatios { .. }));
        assert!(error.to_string().contains("they sum to 1.1"), "{error}");
        let nearly = SplitRatios {
            train: 0.7 + 5e-7,
            valid: 0.15,
            test: 0.15,
        };
        assert!(nearly.validate().is_ok());
    }

    #[test]
    fn single_member_class_is_named() {
        let labels = labels(&[("a", 5), ("rare", 1)]);
        let error =
            train_valid_test_split(6, SplitRatios::default(), Some(&labels), 0).unwrap_err();
        assert!(
            matches!(&error, Error::ClassTooSmall { class, count: 1, .. } if class == "rare"),
            "{error}"
        );
    }

    #[test]
    fn k_fold_covers_every_row_once() {
        let folds = k_fold(10, 3, 1).unwrap();
        let sizes: Vec<usize> = folds.iter().map(|(_, test)| test.len()).collect();
        assert_eq!(sizes, vec![4, 3, 3]);
        let mut tests: Vec<usize> = folds.iter().flat_map(|(_, test)| test.clone()).collect();
        tests.sort_unstable();
        assert_eq!(tests, (0..10).collect::<Vec<_>>());
        for (train, test) in &folds {
            assert_eq!(train.len() + test.len(), 10);
            assert!(train.iter().all(|row| !test.contains(row)));
        }
        assert!(matches!(k_fold(3, 4, 0), Err(Error::InvalidFolds { .. })));
        assert!(matches!(k_fold(3, 1, 0), Err(Error::InvalidFolds { .. })));
    }

    #[test]
    fn stratified_k_fold_balances_classes_and_sizes() {
        let labels = labels(&[("x", 10), ("y", 5)]);
        let folds = stratified_k_fold(&labels, 5, 9).unwrap();
        for (_, test) in &folds {
            assert_eq!(test.len(), 3);
            assert_eq!(test.iter().filter(|&&row| labels[row] == "x").count(), 2);
        }
        let error = stratified_k_fold(&labels, 6, 9).unwrap_err();
        assert!(
            matches!(
                &error,
                Error::ClassTooSmall {
                    count: 5,
                    needed: 6,
                    ..
                }
            ),
            "{error}"
        );
    }
}

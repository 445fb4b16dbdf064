//! Maps labels of any ordered type to dense class indices, once, so that counting is indexing.
//!
//! Label order follows scikit-learn: the sorted union of `y_true` and `y_pred`, or the labels a
//! caller gave (in their order) followed by the other labels present, sorted.

use std::collections::BTreeSet;
use std::fmt::Display;

use crate::Error;

/// The classes of a problem in report order, with a sorted lookup from label to index.
pub(crate) struct LabelSet<'a, L> {
    /// Labels in report order.
    pub(crate) ordered: Vec<&'a L>,
    /// How many of `ordered` were selected for the report: all of them, or the caller's list.
    pub(crate) n_selected: usize,
    /// `(label, index into ordered)`, sorted by label, searched by bisection.
    lookup: Vec<(&'a L, usize)>,
}

impl<'a, L: Ord> LabelSet<'a, L> {
    /// The sorted union of the labels in `y_true` and `y_pred`, as `unique_labels` gives it.
    pub(crate) fn sorted_union(y_true: &'a [L], y_pred: &'a [L]) -> Self {
        let unique: BTreeSet<&'a L> = y_true.iter().chain(y_pred).collect();
        let ordered: Vec<&'a L> = unique.into_iter().collect();
        let lookup = ordered
            .iter()
            .enumerate()
            .map(|(class_idx, &label)| (label, class_idx))
            .collect();
        Self {
            n_selected: ordered.len(),
            ordered,
            lookup,
        }
    }

    /// The index of a label that is known to be in the set.
    ///
    /// # Panics
    /// If the label is not in the set; every constructor includes all labels present.
    pub(crate) fn index_of(&self, label: &L) -> usize {
        let position = self
            .lookup
            .binary_search_by(|(candidate, _)| (*candidate).cmp(label))
            .expect("every label present in the inputs is in the label set");
        self.lookup[position].1
    }

    /// Whether the selected labels include every label present in the inputs.
    pub(crate) fn selection_covers_all(&self) -> bool {
        self.n_selected == self.ordered.len()
    }
}

impl<'a, L: Ord + Display> LabelSet<'a, L> {
    /// The caller's `labels` in their order, then every other label present, sorted.
    pub(crate) fn given_then_present(
        labels: &'a [L],
        y_true: &'a [L],
        y_pred: &'a [L],
    ) -> Result<Self, Error> {
        let mut given = BTreeSet::new();
        for label in labels {
            if !given.insert(label) {
                return Err(Error::DuplicateLabel {
                    label: label.to_string(),
                });
            }
        }
        let present: BTreeSet<&'a L> = y_true.iter().chain(y_pred).collect();
        let mut ordered: Vec<&'a L> = labels.iter().collect();
        ordered.extend(present.difference(&given).copied());
        let mut lookup: Vec<(&'a L, usize)> = ordered
            .iter()
            .enumerate()
            .map(|(class_idx, &label)| (label, class_idx))
            .collect();
        lookup.sort_unstable_by(|left, right| left.0.cmp(right.0));
        Ok(Self {
            ordered,
            n_selected: labels.len(),
            lookup,
        })
    }

    /// The selected labels as text, as `"%s" % label` would print them.
    pub(crate) fn selected_names(&self) -> Vec<String> {
        self.ordered[..self.n_selected]
            .iter()
            .map(|label| label.to_string())
            .collect()
    }

    /// All labels as text.
    pub(crate) fn all_names(&self) -> Vec<String> {
        self.ordered.iter().map(|label| label.to_string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_is_sorted_and_indexed() {
        let y_true = ["dog", "cat"];
        let y_pred = ["cat", "bird"];
        let label_set = LabelSet::sorted_union(&y_true, &y_pred);
        assert_eq!(label_set.ordered, [&"bird", &"cat", &"dog"]);
        assert_eq!(label_set.index_of(&"dog"), 2);
        assert!(label_set.selection_covers_all());
    }

    #[test]
    fn given_labels_come_first_then_the_rest_sorted() {
        let y_true = [3, 1, 2];
        let y_pred = [0, 1, 2];
        let label_set = LabelSet::given_then_present(&[2, 7], &y_true, &y_pred).unwrap();
        assert_eq!(label_set.ordered, [&2, &7, &0, &1, &3]);
        assert_eq!(label_set.n_selected, 2);
        assert_eq!(label_set.index_of(&0), 2);
        assert_eq!(label_set.index_of(&7), 1);
        assert!(!label_set.selection_covers_all());
        assert_eq!(label_set.selected_names(), ["2", "7"]);
    }

    #[test]
    fn duplicate_given_labels_are_an_error() {
        let result = LabelSet::given_then_present(&[1, 1], &[1], &[1]);
        assert!(matches!(result, Err(Error::DuplicateLabel { .. })));
    }
}

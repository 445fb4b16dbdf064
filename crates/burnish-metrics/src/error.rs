//! The one error type of the crate: inputs a caller can fix before asking again.
//!
//! Only the slice functions return these; arithmetic on valid inputs never fails.

/// What was wrong with the inputs of a metric.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// Two slices that pair up element by element have different lengths.
    #[error("{left_name} has {left_len} elements but {right_name} has {right_len}")]
    LengthMismatch {
        /// Name of the first slice, such as `y_true`.
        left_name: &'static str,
        /// Length of the first slice.
        left_len: usize,
        /// Name of the second slice, such as `y_pred`.
        right_name: &'static str,
        /// Length of the second slice.
        right_len: usize,
    },
    /// A metric was asked of no samples at all.
    #[error("{what} is empty; a metric needs at least one sample")]
    Empty {
        /// Which input was empty.
        what: &'static str,
    },
    /// A flat row-major score matrix does not hold `n_samples * n_classes` values.
    #[error(
        "expected {n_samples} rows of {n_classes} scores ({expected} values) but got {actual} values"
    )]
    ScoreMatrixShape {
        /// Number of samples (rows).
        n_samples: usize,
        /// Number of classes (columns).
        n_classes: usize,
        /// `n_samples * n_classes`.
        expected: usize,
        /// The length of the slice that was given.
        actual: usize,
    },
    /// A class index is not below the number of classes.
    #[error("{what}[{position}] is class {class_idx} but there are only {n_classes} classes")]
    ClassOutOfRange {
        /// Which input held the index, such as `y_pred`.
        what: &'static str,
        /// Position of the offending element.
        position: usize,
        /// The offending class index.
        class_idx: usize,
        /// Number of classes.
        n_classes: usize,
    },
    /// A metric that compares classes was given fewer than two.
    #[error("{metric} needs at least two classes but got {n_classes}")]
    TooFewClasses {
        /// The metric that was asked for.
        metric: &'static str,
        /// Number of classes that were given.
        n_classes: usize,
    },
    /// ROC AUC is not defined when `y_true` holds a single class (for one-vs-rest: when a
    /// class never occurs, or is the only one that occurs).
    #[error(
        "ROC AUC is not defined for class {class}: y_true holds only one of positive and negative samples"
    )]
    SingleClass {
        /// The class whose one-vs-rest problem has a single class (`"positive"` in the
        /// binary case).
        class: String,
    },
    /// A row of a probability matrix does not sum to one.
    #[error(
        "row {row} of the probabilities sums to {sum}, not 1; pass probabilities, such as a softmax"
    )]
    NotProbabilities {
        /// Index of the row.
        row: usize,
        /// What it sums to.
        sum: f64,
    },
    /// A probability is below 0 or above 1 (or is NaN).
    #[error("probability at position {position} is {value}; probabilities must lie in [0, 1]")]
    ProbabilityOutOfRange {
        /// Position in the flat row-major matrix.
        position: usize,
        /// The offending value.
        value: f64,
    },
    /// A score is infinite or NaN.
    #[error("score at position {position} is {value}; scores must be finite")]
    NonFiniteScore {
        /// Position in the score slice.
        position: usize,
        /// The offending value.
        value: f64,
    },
    /// A list of labels names the same label twice.
    #[error("label {label} appears more than once in labels")]
    DuplicateLabel {
        /// The repeated label, displayed.
        label: String,
    },
    /// The number of names does not match the number of classes they name.
    #[error("got {n_names} class names for {n_classes} classes")]
    NamesMismatch {
        /// Number of names given.
        n_names: usize,
        /// Number of classes.
        n_classes: usize,
    },
    /// A parameter is outside its valid range.
    #[error("{name} must be {expected} but is {value}")]
    InvalidParameter {
        /// The parameter, such as `k`.
        name: &'static str,
        /// What it must be.
        expected: &'static str,
        /// What it was, displayed.
        value: String,
    },
}

/// Returns an error unless `left` and `right` have the same length.
pub(crate) fn check_same_length(
    left_name: &'static str,
    left_len: usize,
    right_name: &'static str,
    right_len: usize,
) -> Result<(), Error> {
    if left_len == right_len {
        return Ok(());
    }
    Err(Error::LengthMismatch {
        left_name,
        left_len,
        right_name,
        right_len,
    })
}

/// Returns an error if a slice is empty.
pub(crate) fn check_not_empty(what: &'static str, len: usize) -> Result<(), Error> {
    if len == 0 {
        return Err(Error::Empty { what });
    }
    Ok(())
}

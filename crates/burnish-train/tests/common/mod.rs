//! What the training test files share.

use std::sync::{Mutex, MutexGuard, PoisonError};

use burnish_data::{Features, TabularDataset, Targets};

/// Burn's CPU backends draw every random number (initial weights, dropout masks) from one
/// generator per process, and the test harness runs tests on several threads at once. A test
/// that compares two seeded runs holds this lock for its whole body, so that no other test
/// draws from the generator between its seeding and its draws.
static RANDOM_NUMBERS: Mutex<()> = Mutex::new(());

/// Takes the lock on the process's random numbers; a test that panicked while holding it
/// leaves nothing behind that the next one must not see, so poisoning is ignored.
pub fn exclusive_random_numbers() -> MutexGuard<'static, ()> {
    RANDOM_NUMBERS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// A seeded stream of numbers spread evenly over [-0.5, 0.5): a linear congruential generator,
/// so that test data sets are the same on every machine without a random-number crate.
pub fn uniform_noise(seed: u64) -> impl FnMut() -> f32 {
    let mut state = seed;
    move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as f64 / (1u64 << 31) as f64) as f32 - 0.5
    }
}

/// A classification data set of `classes.len()` rows, their features row after row in `values`.
pub fn labelled_rows(values: Vec<f32>, classes: Vec<usize>) -> TabularDataset {
    let n_rows = classes.len();
    TabularDataset::new(
        Features {
            n_rows,
            n_cols: values.len() / n_rows,
            values,
        },
        Targets::Classes(classes),
    )
}

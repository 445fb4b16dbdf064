//! What the training test files share.

use std::sync::{Mutex, MutexGuard, PoisonError};

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

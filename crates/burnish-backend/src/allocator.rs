//! The memory allocator of Burnish's programs: mimalloc, told to keep the memory it frees.
//!
//! The CPU backends allocate a new buffer for every tensor an operation returns and free it
//! when the tensor is dropped, thousands of times per training step, many of them megabytes.
//! glibc's allocator hands buffers that large straight back to the operating system, so the
//! next step maps fresh pages and faults on each one while writing it: a [2048, 128] x
//! [128, 512] matrix product on flex took 4.3 ms that way, against 1.2 ms when the memory
//! is reused (the product itself, in `gemm`, takes 1.05 ms). mimalloc keeps freed pages in its
//! own arenas; with purging turned off it never gives them back, so a training loop, which
//! frees and allocates the same sizes every step, runs on warm memory. The memory a process
//! holds is then its peak, not its current use.
//!
//! A library cannot choose the allocator of the program that links it, so this is opt-in:
//! with the `allocator` feature, a binary writes
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOCATOR: burnish_backend::allocator::Allocator = burnish_backend::allocator::Allocator;
//!
//! fn main() {
//!     burnish_backend::allocator::retain_freed_memory();
//!     // ...
//! }
//! ```

pub use mimalloc::MiMalloc as Allocator;

/// `mi_option_arena_eager_commit` in mimalloc.h (v3): commit a whole arena when it is
/// reserved, rather than page by page as it is first touched.
const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
/// `mi_option_purge_delay` in mimalloc.h (v3): milliseconds before freed memory is returned to
/// the operating system; -1 never returns it.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Tells mimalloc to keep the memory it frees and to commit its arenas eagerly.
///
/// Call it first thing in `main`, in a program whose global allocator is [`Allocator`]; in any
/// other program it only sets options of an allocator that is not used. Calling it again
/// changes nothing.
#[allow(unsafe_code)]
pub fn retain_freed_memory() {
    // SAFETY: `mi_option_set` stores an integer in mimalloc's option table; it takes no
    // pointers, is safe to call from any thread at any time, and both options are valid
    // indices whose values are in their documented ranges.
    unsafe {
        libmimalloc_sys::mi_option_set(PURGE_DELAY, -1);
        libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // `c_long` is `i64` here but `i32` on Windows.
    #[allow(unsafe_code, clippy::useless_conversion)]
    fn option(option: libmimalloc_sys::mi_option_t) -> i64 {
        // SAFETY: `mi_option_get` reads an integer from mimalloc's option table.
        i64::from(unsafe { libmimalloc_sys::mi_option_get(option) })
    }

    #[test]
    fn the_indices_name_the_options_meant() {
        // mimalloc's defaults (purge delay 1000 ms, eager commit 2 = "where the OS overcommits")
        // identify the two options, unless the environment overrides them.
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(option(PURGE_DELAY), 1000);
        }
        if std::env::var_os("MIMALLOC_ARENA_EAGER_COMMIT").is_none() {
            assert_eq!(option(ARENA_EAGER_COMMIT), 2);
        }
        retain_freed_memory();
        assert_eq!((option(PURGE_DELAY), option(ARENA_EAGER_COMMIT)), (-1, 1));
    }
}

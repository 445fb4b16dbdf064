//! Burnish's criterion benchmarks, one file per crate under `benches/`
//! (`cargo bench -p burnish-benches --bench metrics`).
//!
//! The library itself is empty: the crate exists so that benchmarks have their own
//! dependencies (criterion) without adding them to the crates they measure.

//! Test data shared by the integration tests.

use std::path::PathBuf;

/// A file of the repository's `tests/data/`.
pub fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(name)
}

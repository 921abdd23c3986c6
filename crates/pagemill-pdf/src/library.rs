//! Locating `libpdfium.so`.
//!
//! Looked for, in order: `$PAGEMILL_PDFIUM` (the file, or a directory holding it), the
//! directory of the running executable, `$PAGEMILL_HOME/lib`, `~/.local/share/pagemill/lib`
//! (where `scripts/setup` installs it), `/usr/local/lib`, `/usr/lib`.

use std::path::{Path, PathBuf};

use crate::PdfError;

/// File name of the library on this platform.
pub const LIBRARY_FILE: &str = "libpdfium.so";

/// Every candidate path, in search order.
pub fn candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = std::env::var_os("PAGEMILL_PDFIUM") {
        let p = PathBuf::from(p);
        if p.is_dir() {
            out.push(p.join(LIBRARY_FILE));
        } else {
            out.push(p);
        }
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        out.push(dir.join(LIBRARY_FILE));
    }
    if let Some(home) = std::env::var_os("PAGEMILL_HOME") {
        out.push(PathBuf::from(home).join("lib").join(LIBRARY_FILE));
    }
    if let Some(home) = std::env::var_os("HOME") {
        out.push(
            PathBuf::from(home)
                .join(".local/share/pagemill/lib")
                .join(LIBRARY_FILE),
        );
    }
    out.push(PathBuf::from("/usr/local/lib").join(LIBRARY_FILE));
    out.push(PathBuf::from("/usr/lib").join(LIBRARY_FILE));
    out
}

/// The first candidate that exists.
pub fn locate() -> Result<PathBuf, PdfError> {
    let searched = candidates();
    searched
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or(PdfError::LibraryNotFound { searched })
}

use std::path::PathBuf;

use thiserror::Error;

/// What can go wrong with PDFium or a PDF.
#[derive(Debug, Error)]
pub enum PdfError {
    /// `libpdfium.so` was not found in any of the places looked at.
    #[error(
        "PDFium library not found (looked for {}). Run `scripts/setup` to install it, \
         or set PAGEMILL_PDFIUM to the path of libpdfium.so",
        .searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    LibraryNotFound {
        /// Every path tried.
        searched: Vec<PathBuf>,
    },
    /// The library was found but could not be loaded or lacks symbols.
    #[error("cannot load PDFium from {path}: {message}. Reinstall it with `scripts/setup`")]
    LibraryLoad {
        /// The library's path.
        path: PathBuf,
        /// The loader's message.
        message: String,
    },
    /// The file could not be opened as a PDF.
    #[error("{message}")]
    Open {
        /// A one-line reason that says what to do.
        message: String,
    },
    /// The PDF needs a user password and none was given.
    #[error("{file}: the PDF is encrypted with a user password; give that password to open it")]
    PasswordRequired {
        /// The file, as shown to the user.
        file: String,
    },
    /// The password given does not open the PDF.
    #[error("{file}: the password given does not open this PDF")]
    WrongPassword {
        /// The file, as shown to the user.
        file: String,
    },
    /// A new PDF could not be written.
    #[error("cannot write the PDF: {message}")]
    Write {
        /// What happened.
        message: String,
    },
    /// A page could not be loaded.
    #[error("page {index}: {message}")]
    Page {
        /// 0-based page index.
        index: u32,
        /// What happened.
        message: String,
    },
}

//! What a worker opens: a PDF (text layer and rendering through PDFium) or an image file
//! (decoded page by page). Told apart by the file's first bytes, not its name.

use std::io::Read;

use pagemill_core::model::{DocInfo, DocKind, FileErrorKind};
use pagemill_core::protocol::DocumentSource;
use pagemill_image::ImageDocument;
use pagemill_pdf::{Engine, PagedDocument, PdfError};

/// An open input document.
pub(crate) enum Source<'e> {
    /// A PDF.
    Pdf(PagedDocument<'e>),
    /// A raster image (one page, or several for TIFF).
    Image(ImageDocument),
}

impl<'e> Source<'e> {
    /// Opens `path` as an image when its bytes say so, otherwise as a PDF (whose own
    /// error then explains what is wrong with it).
    pub(crate) fn open(
        engine: &'e Engine,
        source: &DocumentSource,
        password: Option<&str>,
    ) -> Result<Self, (FileErrorKind, String)> {
        let unreadable = |message: String| (FileErrorKind::Unreadable, message);
        let Some(path) = source.local_path() else {
            return Err(unreadable(format!(
                "{source}: this worker can read only local files"
            )));
        };
        let mut head = [0u8; 16];
        let n = std::fs::File::open(path)
            .and_then(|mut f| f.read(&mut head))
            .map_err(|e| {
                let kind = if e.kind() == std::io::ErrorKind::NotFound {
                    FileErrorKind::NotFound
                } else {
                    FileErrorKind::Unreadable
                };
                (
                    kind,
                    format!("{}: cannot read the file: {e}", path.display()),
                )
            })?;
        if pagemill_image::sniff(&head[..n]).is_some() {
            return ImageDocument::open(path)
                .map(Source::Image)
                .map_err(|e| unreadable(format!("{}: {e}", path.display())));
        }
        PagedDocument::open(engine, path, password)
            .map(Source::Pdf)
            .map_err(|e| {
                let kind = match e {
                    PdfError::PasswordRequired { .. } => FileErrorKind::PasswordRequired,
                    PdfError::WrongPassword { .. } => FileErrorKind::WrongPassword,
                    _ => FileErrorKind::Unreadable,
                };
                (kind, e.to_string())
            })
    }

    /// Facts for the parent.
    pub(crate) fn info(&self) -> DocInfo {
        match self {
            Source::Pdf(d) => d.info(),
            Source::Image(d) => DocInfo {
                page_count: d.page_count(),
                pdf_version: None,
                title: None,
                kind: DocKind::Image,
            },
        }
    }

    /// Number of pages.
    pub(crate) fn page_count(&self) -> u32 {
        match self {
            Source::Pdf(d) => d.page_count(),
            Source::Image(d) => d.page_count(),
        }
    }
}

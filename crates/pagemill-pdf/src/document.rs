//! The PDFium engine and open documents.

use std::path::{Path, PathBuf};

use pagemill_core::model::DocInfo;
use pdfium_render::prelude::{Pdfium, PdfiumLibraryBindings, FPDF_DOCUMENT};

use crate::raw::encryption::{KeyLengthRepair, KEY_LENGTHS};
use crate::source::CustomSource;
use crate::{library, PdfError};

/// PDFium, bound and initialised. One per process (PDFium keeps global state).
pub struct Engine {
    pub(crate) b: Box<dyn PdfiumLibraryBindings>,
    path: PathBuf,
}

impl Engine {
    /// Finds the library (see [`library`]) and initialises it.
    pub fn load() -> Result<Self, PdfError> {
        Self::load_from(&library::locate()?)
    }

    /// Initialises the library at `path`.
    pub fn load_from(path: &Path) -> Result<Self, PdfError> {
        let b = Pdfium::bind_to_library(path).map_err(|e| PdfError::LibraryLoad {
            path: path.to_path_buf(),
            message: format!("{e:?}"),
        })?;
        // SAFETY: called once, before any other PDFium call, from the owning thread.
        unsafe { b.FPDF_InitLibrary() };
        Ok(Engine {
            b,
            path: path.to_path_buf(),
        })
    }

    /// Where the library was loaded from.
    pub fn library_path(&self) -> &Path {
        &self.path
    }

    /// Opens a PDF. PDFium reads the file lazily (cross-reference table first, objects on
    /// demand), so opening costs little even for very long documents.
    pub fn open(&self, path: &Path, password: Option<&str>) -> Result<Document<'_>, PdfError> {
        let shown = path.display();
        let Some(p) = path.to_str() else {
            return Err(PdfError::Open {
                message: format!("{shown}: the path is not valid UTF-8; rename the file"),
            });
        };
        // PDFium reports a zero-length file as a format error; say what it is.
        match std::fs::metadata(path) {
            Err(e) => {
                return Err(PdfError::Open {
                    message: format!("{shown}: cannot read the file: {e}"),
                })
            }
            Ok(m) if m.len() == 0 => {
                return Err(PdfError::Open {
                    message: format!("{shown}: the file is empty (0 bytes)"),
                })
            }
            Ok(_) => {}
        }
        // SAFETY: engine initialised; strings are valid for the call.
        let handle = unsafe { self.b.FPDF_LoadDocument(p, password) };
        if handle.is_null() {
            let code = unsafe { self.b.FPDF_GetLastError() };
            if code == 4 {
                if let Some(doc) = self.open_with_key_length(path, password) {
                    return Ok(doc);
                }
            }
            let message = match code {
                2 => format!("{shown}: cannot open the file (not found or not readable)"),
                3 => format!("{shown}: not a PDF, or too damaged to open"),
                4 if password.is_some() => {
                    return Err(PdfError::WrongPassword {
                        file: shown.to_string(),
                    })
                }
                4 => {
                    return Err(PdfError::PasswordRequired {
                        file: shown.to_string(),
                    })
                }
                5 => format!("{shown}: unsupported encryption (security handler)"),
                _ => format!("{shown}: PDFium could not open the file (error {code})"),
            };
            return Err(PdfError::Open { message });
        }
        Ok(Document {
            engine: self,
            handle,
            _source: None,
        })
    }

    /// The password check failed: if the encryption dictionary leaves out its key length
    /// (see [`KeyLengthRepair`]), tries the other lengths through in-memory updates.
    fn open_with_key_length(&self, path: &Path, password: Option<&str>) -> Option<Document<'_>> {
        let repair = match KeyLengthRepair::find(path) {
            Ok(Some(r)) => r,
            Ok(None) => return None,
            Err(e) => {
                tracing::debug!(path = %path.display(), error = %e, "no key-length repair");
                return None;
            }
        };
        KEY_LENGTHS.iter().find_map(|&bits| {
            let source = CustomSource::open(path, repair.file_len(), repair.update(bits)).ok()?;
            let doc = self.open_custom(source, password)?;
            tracing::info!(
                path = %path.display(),
                bits,
                "the encryption dictionary has no /Length; opened with the key length that \
                 matches its password check"
            );
            Some(doc)
        })
    }
}

impl Engine {
    /// Opens a document PDFium reads through `access` (which must outlive the document).
    /// `None` when PDFium cannot open it.
    pub(crate) fn open_custom(
        &self,
        mut source: CustomSource,
        password: Option<&str>,
    ) -> Option<Document<'_>> {
        // SAFETY: engine initialised; the document owns `source`, so it outlives the
        // handle (Document::drop closes the handle before its fields are dropped).
        let handle = unsafe { self.b.FPDF_LoadCustomDocument(source.access(), password) };
        (!handle.is_null()).then_some(Document {
            engine: self,
            handle,
            _source: Some(source),
        })
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // SAFETY: every Document borrows the engine, so all are closed by now.
        unsafe { self.b.FPDF_DestroyLibrary() };
    }
}

/// An open PDF. Closed on drop.
pub struct Document<'e> {
    pub(crate) engine: &'e Engine,
    pub(crate) handle: FPDF_DOCUMENT,
    /// What PDFium reads a custom document through (views, repaired files).
    pub(crate) _source: Option<CustomSource>,
}

impl Document<'_> {
    /// Number of pages.
    pub fn page_count(&self) -> u32 {
        let n = unsafe { self.engine.b.FPDF_GetPageCount(self.handle) };
        n.max(0) as u32
    }

    /// Page count, version and title.
    pub fn info(&self) -> DocInfo {
        let b = &self.engine.b;
        let mut version = 0;
        let pdf_version = (unsafe { b.FPDF_GetFileVersion(self.handle, &mut version) } != 0)
            .then(|| format!("{}.{}", version / 10, version % 10));
        DocInfo {
            page_count: self.page_count(),
            pdf_version,
            title: self.meta_text("Title"),
            kind: pagemill_core::model::DocKind::Pdf,
        }
    }

    /// A document information entry (UTF-16 from PDFium), if present and not blank.
    pub fn meta_text(&self, tag: &str) -> Option<String> {
        let b = &self.engine.b;
        let len = unsafe { b.FPDF_GetMetaText(self.handle, tag, std::ptr::null_mut(), 0) };
        if len <= 2 || len > 1 << 20 {
            return None;
        }
        let mut buf = vec![0u8; len as usize];
        unsafe { b.FPDF_GetMetaText(self.handle, tag, buf.as_mut_ptr().cast(), len) };
        let units: Vec<u16> = buf
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|&u| u != 0)
            .collect();
        let s = String::from_utf16_lossy(&units).trim().to_string();
        (!s.is_empty()).then_some(s)
    }
}

impl Drop for Document<'_> {
    fn drop(&mut self) {
        unsafe { self.engine.b.FPDF_CloseDocument(self.handle) };
    }
}

//! A run of pages written as a PDF of its own (`pagemill split`), in flat memory.
//!
//! PDFium imports the pages into a new document (`FPDF_ImportPagesByIndex`, which copies
//! only the objects those pages use) and saves it. Pages are taken through the document's
//! views ([`PagedDocument`]), one view's pages per import, so a section deep in a
//! 10,000-page file costs what a section at its start does. Objects shared by the pages
//! of one import (fonts, images) are copied once; across views they are copied once per
//! view (64 pages).

use std::io::Write;
use std::os::raw::{c_int, c_ulong, c_void};

use pdfium_render::prelude::FPDF_FILEWRITE;

use crate::{Document, PagedDocument, PdfError};

/// `FPDF_FILEWRITE` with the writer it forwards to behind it: PDFium hands the struct's
/// own address back to the callback, which finds the writer there.
#[repr(C)]
struct Sink<'w> {
    base: FPDF_FILEWRITE,
    out: &'w mut dyn Write,
    error: Option<std::io::Error>,
}

unsafe extern "C" fn write_block(
    this: *mut FPDF_FILEWRITE,
    data: *const c_void,
    size: c_ulong,
) -> c_int {
    // SAFETY: `this` is the `base` field, first in a `#[repr(C)]` `Sink` that outlives the
    // save call; `data` holds `size` bytes for the length of this call.
    let sink = unsafe { &mut *this.cast::<Sink<'_>>() };
    if sink.error.is_some() {
        return 0;
    }
    let bytes = if size == 0 || data.is_null() {
        &[][..]
    } else {
        unsafe { std::slice::from_raw_parts(data.cast::<u8>(), size as usize) }
    };
    match sink.out.write_all(bytes) {
        Ok(()) => 1,
        Err(e) => {
            sink.error = Some(e);
            0
        }
    }
}

impl<'e> PagedDocument<'e> {
    /// The outline of the document (see [`Document::outline`]).
    pub fn outline(&mut self) -> Result<Vec<crate::Bookmark>, PdfError> {
        Ok(self.whole_document()?.outline())
    }

    /// Writes pages `first..=last` (0-based) as a new PDF to `out`.
    pub fn write_pages(
        &mut self,
        first: u32,
        last: u32,
        out: &mut dyn Write,
    ) -> Result<(), PdfError> {
        if first > last || last >= self.page_count() {
            return Err(PdfError::Page {
                index: last,
                message: format!("pages {}–{} are not in the document", first + 1, last + 1),
            });
        }
        let engine = self.engine();
        // SAFETY: PDFium is initialised; the new document is closed by `Document::drop`.
        let handle = unsafe { engine.b.FPDF_CreateNewDocument() };
        if handle.is_null() {
            return Err(PdfError::Open {
                message: "PDFium cannot create a document".into(),
            });
        }
        let dest = Document {
            engine,
            handle,
            _source: None,
        };
        let mut page = first;
        let mut written: c_int = 0;
        while page <= last {
            let (src, local) = self.document_for(page)?;
            // The rest of this view: pages of `src` from `local` on, up to `last`.
            let available = src.page_count().saturating_sub(local).max(1);
            let n = available.min(last - page + 1);
            let indices: Vec<c_int> = (local..local + n).map(|i| i as c_int).collect();
            // SAFETY: both documents are open; `indices` holds `n` valid page indices.
            let ok = unsafe {
                engine.b.FPDF_ImportPagesByIndex(
                    dest.handle,
                    src.handle,
                    indices.as_ptr(),
                    indices.len() as c_ulong,
                    written,
                )
            };
            if ok == 0 {
                return Err(PdfError::Page {
                    index: page,
                    message: "PDFium could not copy the page".into(),
                });
            }
            written += n as c_int;
            page += n;
        }
        let mut sink = Sink {
            base: FPDF_FILEWRITE {
                version: 1,
                WriteBlock: Some(write_block),
            },
            out,
            error: None,
        };
        // SAFETY: `sink` outlives the call; its first field is the FPDF_FILEWRITE PDFium
        // gets. Flags 0: a full save, no incremental update.
        let ok = unsafe { engine.b.FPDF_SaveAsCopy(dest.handle, &mut sink.base, 0) };
        if let Some(e) = sink.error {
            return Err(PdfError::Write {
                message: e.to_string(),
            });
        }
        if ok == 0 {
            return Err(PdfError::Write {
                message: "PDFium could not save the pages".into(),
            });
        }
        Ok(())
    }
}

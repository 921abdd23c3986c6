//! The worker process: reads requests on stdin, answers on stdout, one page at a time.
//!
//! PDFium is loaded once per process and every open document is reused for the pages that
//! follow. Slow growth of native memory is handled by the parent, which drains and replaces
//! a worker whose memory grows past its warm baseline (see `job`).

use std::collections::VecDeque;
use std::io::{self, BufReader, BufWriter};
use std::panic::{catch_unwind, AssertUnwindSafe};

use pagemill_core::layout::analyze;
use pagemill_core::protocol::{read_frame, write_frame, DocRef, FrameError, Request, Response};
use pagemill_core::{FailureReason, PageFailure, PageOutcome};
use pagemill_pdf::{Engine, PagedDocument, PdfError};

/// Documents kept open at once (the one being finished and the next one).
const OPEN_DOCS: usize = 2;

struct OpenDoc<'e> {
    id: u32,
    doc: PagedDocument<'e>,
}

/// Runs the worker loop until stdin closes. Errors only when PDFium cannot be loaded or
/// the parent's stream is broken.
pub fn run() -> Result<(), WorkerError> {
    let engine = Engine::load()?;
    let mut input = BufReader::new(io::stdin().lock());
    let mut output = BufWriter::new(io::stdout().lock());
    let mut open: VecDeque<OpenDoc<'_>> = VecDeque::new();
    loop {
        let req: Request = match read_frame(&mut input) {
            Ok((r, _)) => r,
            Err(FrameError::Eof) => return Ok(()),
            Err(e) => return Err(WorkerError::Protocol(e)),
        };
        let resp = match req {
            Request::Open { doc } => {
                match PagedDocument::open(&engine, &doc.path, doc.password.as_deref()) {
                    Ok(d) => {
                        let info = d.info();
                        remember(&mut open, OpenDoc { id: doc.id, doc: d });
                        Response::Opened { doc: doc.id, info }
                    }
                    Err(e) => Response::OpenFailed {
                        doc: doc.id,
                        message: e.to_string(),
                    },
                }
            }
            Request::Page { doc, index } => Response::Page {
                doc: doc.id,
                outcome: convert_page(&engine, &mut open, &doc, index),
            },
            Request::Close { doc } => {
                open.retain(|d| d.id != doc);
                continue;
            }
        };
        write_frame(&mut output, &resp).map_err(WorkerError::Protocol)?;
    }
}

fn remember<'e>(open: &mut VecDeque<OpenDoc<'e>>, d: OpenDoc<'e>) {
    open.retain(|o| o.id != d.id);
    while open.len() >= OPEN_DOCS {
        open.pop_front();
    }
    open.push_back(d);
}

fn convert_page<'e>(
    engine: &'e Engine,
    open: &mut VecDeque<OpenDoc<'e>>,
    doc: &DocRef,
    index: u32,
) -> PageOutcome {
    let failed = |reason, message: String| {
        PageOutcome::Failed(PageFailure {
            index,
            reason,
            message,
        })
    };
    if !open.iter().any(|d| d.id == doc.id) {
        match PagedDocument::open(engine, &doc.path, doc.password.as_deref()) {
            Ok(d) => remember(open, OpenDoc { id: doc.id, doc: d }),
            Err(e) => return failed(FailureReason::Invalid, e.to_string()),
        }
    }
    let Some(d) = open.iter_mut().find(|d| d.id == doc.id) else {
        return failed(FailureReason::Invalid, "document not open".into());
    };
    if index >= d.doc.page_count() {
        return failed(
            FailureReason::Invalid,
            format!("the document has no page {}", index + 1),
        );
    }
    // A bug in layout analysis on odd input must cost one page, not the worker.
    let result = catch_unwind(AssertUnwindSafe(|| {
        d.doc.extract_page(index).map(|raw| analyze(&raw))
    }));
    match result {
        Ok(Ok(page)) => PageOutcome::Ok(page),
        Ok(Err(PdfError::Page { message, .. })) => failed(FailureReason::Invalid, message),
        Ok(Err(e)) => failed(FailureReason::Invalid, e.to_string()),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            failed(
                FailureReason::Crash,
                format!("internal error while analysing the page: {what}"),
            )
        }
    }
}

/// Why a worker stopped.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// PDFium could not be loaded.
    #[error(transparent)]
    Pdf(#[from] PdfError),
    /// The parent's stream broke or sent garbage.
    #[error("worker protocol error: {0}")]
    Protocol(FrameError),
}

/// Where PDFium would be loaded from, checked in the parent before workers start.
pub fn locate_pdfium() -> Result<std::path::PathBuf, PdfError> {
    pagemill_pdf::library::locate()
}

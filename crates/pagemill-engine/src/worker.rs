//! The worker process: reads requests on stdin, answers on stdout, one page at a time.
//!
//! PDFium is loaded once per process and every open document is reused for the pages that
//! follow. Slow growth of native memory is handled by the parent, which drains and replaces
//! a worker whose memory grows past its warm baseline (see `job`).

use std::collections::VecDeque;
use std::io::{self, BufReader, BufWriter};
use std::panic::{catch_unwind, AssertUnwindSafe};

use std::time::{Duration, Instant};

use pagemill_core::layout::{analyze, RawPage};
use pagemill_core::model::TextSource;
use pagemill_core::protocol::OcrMode;
use pagemill_core::protocol::{read_frame, write_frame, DocRef, FrameError, Request, Response};
use pagemill_core::Page;
use pagemill_core::{FailureReason, PageFailure, PageOutcome};
use pagemill_ocr::blocks::to_blocks;
use pagemill_ocr::{GrayImage, OcrEngine, OcrError, Tesseract};
use pagemill_pdf::RenderLimits;
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
    let mut ocr = OcrState::default();
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
                outcome: convert_page(&engine, &mut ocr, &mut open, &doc, index),
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
    ocr: &mut OcrState,
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
    let started = Instant::now();
    // A bug in layout analysis on odd input must cost one page, not the worker.
    let result = catch_unwind(AssertUnwindSafe(|| {
        let text = match doc.ocr.mode {
            OcrMode::Always => None,
            _ => Some(d.doc.extract_page(index)?),
        };
        match text {
            Some(raw) if doc.ocr.mode == OcrMode::Never || !needs_ocr(&raw) => Ok(analyze(&raw)),
            _ => ocr_page(ocr, &mut d.doc, doc, index, started),
        }
    }));
    match result {
        Ok(Ok(page)) => PageOutcome::Ok(page),
        Ok(Err(PageError::Pdf(PdfError::Page { message, .. }))) => {
            failed(FailureReason::Invalid, message)
        }
        Ok(Err(PageError::Pdf(e))) => failed(FailureReason::Invalid, e.to_string()),
        Ok(Err(PageError::Ocr(OcrError::Deadline(_)))) => failed(
            FailureReason::Timeout,
            format!(
                "OCR did not finish within the page timeout ({:.1} s)",
                doc.page_timeout_ms as f64 / 1000.0
            ),
        ),
        Ok(Err(PageError::Ocr(e))) => failed(FailureReason::Invalid, e.to_string()),
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

/// Why one page failed.
#[derive(Debug, thiserror::Error)]
enum PageError {
    #[error(transparent)]
    Pdf(#[from] PdfError),
    #[error(transparent)]
    Ocr(#[from] OcrError),
}

/// The OCR engine, started on the first page that needs it (Tesseract costs ~100 ms and
/// tens of MB to load; born-digital jobs never pay that).
#[derive(Default)]
struct OcrState {
    engine: Option<(String, Result<Tesseract, String>)>,
}

impl OcrState {
    fn engine(&mut self, languages: &str) -> Result<&mut Tesseract, OcrError> {
        if self.engine.as_ref().map(|(l, _)| l.as_str()) != Some(languages) {
            self.engine = None;
            let started = Tesseract::new(languages).map_err(|e| e.to_string());
            self.engine = Some((languages.to_string(), started));
        }
        match &mut self.engine {
            Some((_, Ok(t))) => Ok(t),
            Some((_, Err(e))) => Err(OcrError::Init(e.clone())),
            None => Err(OcrError::Init("OCR engine not started".into())),
        }
    }
}

/// Whether a page's text layer is missing: no visible character that was not inferred.
fn needs_ocr(raw: &RawPage) -> bool {
    !raw.chars
        .iter()
        .any(|c| !c.generated && !c.ch.is_whitespace() && !c.ch.is_control())
}

fn ocr_page(
    ocr: &mut OcrState,
    doc: &mut PagedDocument<'_>,
    dref: &DocRef,
    index: u32,
    started: Instant,
) -> Result<Page, PageError> {
    let s = &dref.ocr;
    let limits = RenderLimits {
        max_page_pixels: s.max_page_pixels,
        max_image_pixels: s.max_image_pixels,
    };
    let img = doc.render_gray(index, s.dpi, &limits)?;
    if img.downscaled {
        tracing::info!(
            page = index + 1,
            dpi = img.dpi,
            "page rendered below --ocr-dpi to stay under --max-page-pixels"
        );
    }
    let engine = ocr.engine(&s.languages)?;
    let budget = Duration::from_millis(dref.page_timeout_ms).saturating_sub(started.elapsed());
    let result = engine.recognize(
        &GrayImage {
            width: img.width,
            height: img.height,
            pixels: &img.pixels,
            dpi: img.dpi,
        },
        budget.max(Duration::from_millis(1)),
    )?;
    let (blocks, body) = to_blocks(&result, img.scale);
    Ok(Page {
        index,
        width: img.width as f32 / img.scale,
        height: img.height as f32 / img.scale,
        rotation: 0,
        source: TextSource::Ocr,
        body_font_size: body,
        blocks,
    })
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

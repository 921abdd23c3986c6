//! The worker process: reads requests on stdin, answers on stdout, one page at a time.
//!
//! PDFium is loaded once per process and every open document is reused for the pages that
//! follow. Slow growth of native memory is handled by the parent, which drains and replaces
//! a worker whose memory grows past its warm baseline (see `job`).

use std::collections::VecDeque;
use std::io::{self, BufReader, BufWriter};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use pagemill_core::layout::analyze;
use pagemill_core::layout::figures::{place_figures, PlacedFigure};
use pagemill_core::layout::text_layer::ocr_reason;
use pagemill_core::model::{OcrReason, TextSource};
use pagemill_core::protocol::{read_frame, write_frame, DocRef, FrameError, Request, Response};
use pagemill_core::protocol::{EraseSettings, ErasedPage, OcrMode, OcrSettings, PageImage};
use pagemill_core::Page;
use pagemill_core::{FailureReason, PageFailure, PageOutcome};
use pagemill_image::ImageError;
use pagemill_ocr::OcrError;
use pagemill_pdf::{Engine, PdfError};

use crate::erase::erase_page;
use crate::figures::crop_figures;
use crate::ocr::{
    ocr_image_page, ocr_pdf_page, release_free_memory, OcrState, PagePicture, ReadPage,
};
use crate::preview::{page_preview, picture_preview};
use crate::source::Source;

/// Documents kept open at once (the one being finished and the next one).
const OPEN_DOCS: usize = 2;

struct OpenDoc<'e> {
    id: u32,
    doc: Source<'e>,
}

/// Runs the worker loop until stdin closes. Errors only when PDFium cannot be loaded or
/// the parent's stream is broken.
pub fn run() -> Result<(), WorkerError> {
    // Ctrl-C reaches the whole process group; the parent decides when workers stop (it
    // lets pages in flight finish), and a worker whose parent is gone sees stdin close.
    // SAFETY: setting a signal to be ignored has no handler to be unsafe in.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
    }
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
                match Source::open(&engine, &doc.path, doc.password.as_deref()) {
                    Ok(d) => {
                        let info = d.info();
                        remember(&mut open, OpenDoc { id: doc.id, doc: d });
                        Response::Opened { doc: doc.id, info }
                    }
                    Err(message) => Response::OpenFailed {
                        doc: doc.id,
                        message,
                    },
                }
            }
            Request::Page { doc, index } => {
                limit_cpu(doc.page_timeout_ms);
                let (mut outcome, placed, picture) =
                    convert_page(&engine, &mut ocr, &mut open, &doc, index);
                // The preview first, while the OCR image is at hand (then it is dropped,
                // before figure crops render).
                let preview = match (doc.preview_dpi, &outcome) {
                    (Some(dpi), PageOutcome::Ok(page)) => match picture {
                        Some(picture) => picture_preview(picture, index, dpi),
                        None => {
                            let ocred = page.ocr_reason.is_some();
                            open.iter_mut()
                                .find(|d| d.id == doc.id)
                                .and_then(|d| page_preview(&mut d.doc, index, dpi, &doc.ocr, ocred))
                        }
                    },
                    _ => None,
                };
                let figures = match (doc.figure_dpi, &mut outcome) {
                    (Some(dpi), PageOutcome::Ok(page)) if !placed.is_empty() => open
                        .iter_mut()
                        .find(|d| d.id == doc.id)
                        .map(|d| crop_figures(&mut d.doc, page, &placed, dpi, &doc.ocr))
                        .unwrap_or_default(),
                    _ => Vec::new(),
                };
                let erased = match (&doc.erase, &outcome) {
                    (Some(settings), PageOutcome::Ok(page)) => open
                        .iter_mut()
                        .find(|d| d.id == doc.id)
                        .map(|d| erase(&mut ocr, &mut d.doc, page, &doc, settings)),
                    _ => None,
                };
                let erased = match erased {
                    Some(Ok(e)) => Some(Box::new(e)),
                    Some(Err(failure)) => {
                        outcome = PageOutcome::Failed(failure);
                        None
                    }
                    None => None,
                };
                let image = if doc.page_images {
                    open.iter()
                        .find(|d| d.id == doc.id)
                        .and_then(|d| page_image(&d.doc, index, &doc.ocr))
                } else {
                    None
                };
                Response::Page {
                    doc: doc.id,
                    outcome,
                    preview,
                    image,
                    figures,
                    erased,
                }
            }
            Request::Close { doc } => {
                open.retain(|d| d.id != doc);
                continue;
            }
        };
        write_frame(&mut output, &resp).map_err(WorkerError::Protocol)?;
    }
}

/// Sets this process's CPU-time limit to what it has used plus twice the page's
/// deadline: an OS backstop behind the parent's wall-clock deadline (a page that spins
/// in native code is ended by `SIGXCPU` even if the parent cannot act). Set per page, as
/// a worker lives for many pages; a soft limit, which the process may raise again.
fn limit_cpu(page_timeout_ms: u64) {
    // SAFETY: getrusage and setrlimit write only into the structs passed.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut usage) != 0 {
            return;
        }
        let used = usage.ru_utime.tv_sec + usage.ru_stime.tv_sec + 1;
        let allowed = (page_timeout_ms / 1000).saturating_mul(2).max(1) + 1;
        let lim = libc::rlimit {
            rlim_cur: (used as u64).saturating_add(allowed) as libc::rlim_t,
            rlim_max: libc::RLIM_INFINITY,
        };
        libc::setrlimit(libc::RLIMIT_CPU, &lim);
    }
}

/// Erases the text of a converted page; a failure becomes the page's failure.
fn erase(
    ocr: &mut OcrState,
    source: &mut Source<'_>,
    page: &Page,
    doc: &DocRef,
    settings: &EraseSettings,
) -> Result<ErasedPage, PageFailure> {
    let budget = Duration::from_millis(doc.page_timeout_ms);
    let result = catch_unwind(AssertUnwindSafe(|| {
        erase_page(ocr, source, page, &doc.ocr, settings, budget)
    }));
    release_free_memory();
    let (reason, message) = match result {
        Ok(Ok(erased)) => return Ok(erased),
        Ok(Err(e)) => failure_of(e, doc.page_timeout_ms),
        Err(panic) => (
            FailureReason::Crash,
            format!("internal error while erasing text: {}", panic_text(&panic)),
        ),
    };
    Err(PageFailure {
        index: page.index,
        reason,
        message: format!("text not erased: {message}"),
    })
}

/// Page `index` of an image input as a PDF image stream (`None` for a PDF input, or when
/// the image cannot be read: the page then has no picture, which is logged).
fn page_image(source: &Source<'_>, index: u32, settings: &OcrSettings) -> Option<PageImage> {
    let Source::Image(d) = source else {
        return None;
    };
    d.embeddable(index, settings.max_image_pixels)
        .map_err(|e| tracing::warn!(page = index + 1, error = %e, "page image not embedded"))
        .ok()
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
) -> (PageOutcome, Vec<PlacedFigure>, Option<PagePicture>) {
    let failed = |reason, message: String| {
        let outcome = PageOutcome::Failed(PageFailure {
            index,
            reason,
            message,
        });
        (outcome, Vec::new(), None)
    };
    if !open.iter().any(|d| d.id == doc.id) {
        match Source::open(engine, &doc.path, doc.password.as_deref()) {
            Ok(d) => remember(open, OpenDoc { id: doc.id, doc: d }),
            Err(message) => return failed(FailureReason::Invalid, message),
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
        let budget = Duration::from_millis(doc.page_timeout_ms).saturating_sub(started.elapsed());
        convert(ocr, &mut d.doc, doc, index, budget)
    }));
    if !matches!(&result, Ok(Ok(r)) if r.page.source == TextSource::TextLayer) {
        release_free_memory();
    }
    match result {
        Ok(Ok(read)) => (PageOutcome::Ok(read.page), read.figures, read.picture),
        Ok(Err(e)) => {
            let (reason, message) = failure_of(e, doc.page_timeout_ms);
            failed(reason, message)
        }
        Err(panic) => failed(
            FailureReason::Crash,
            format!(
                "internal error while analysing the page: {}",
                panic_text(&panic)
            ),
        ),
    }
}

/// A page error as a failure reason and a message for a person.
fn failure_of(e: PageError, page_timeout_ms: u64) -> (FailureReason, String) {
    match e {
        PageError::Pdf(PdfError::Page { message, .. }) => (FailureReason::Invalid, message),
        PageError::Ocr(OcrError::Deadline(_)) => (
            FailureReason::Timeout,
            format!(
                "OCR did not finish within the page timeout ({:.1} s)",
                page_timeout_ms as f64 / 1000.0
            ),
        ),
        other => (FailureReason::Invalid, other.to_string()),
    }
}

/// What a caught panic said.
fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// One page: the text layer when it is good (or OCR is off), OCR otherwise.
fn convert(
    ocr: &mut OcrState,
    source: &mut Source<'_>,
    doc: &DocRef,
    index: u32,
    budget: Duration,
) -> Result<ReadPage, PageError> {
    let mode = doc.ocr.mode;
    match source {
        Source::Image(img) if mode == OcrMode::Never => {
            // Nothing to read without OCR: an empty page of the image's size.
            let info = img.page(index).ok_or(ImageError::NoPage(index + 1))?;
            let px_per_pt = info.sizing_dpi() / 72.0;
            let page = Page::new(
                index,
                info.width as f32 / px_per_pt,
                info.height as f32 / px_per_pt,
                Vec::new(),
            );
            Ok(ReadPage {
                page,
                figures: Vec::new(),
                picture: None,
            })
        }
        Source::Image(img) => ocr_image_page(ocr, img, &doc.ocr, index, budget),
        Source::Pdf(pdf) => {
            let (raw, reason) = match mode {
                OcrMode::Always => (None, Some(OcrReason::Forced)),
                OcrMode::Never => (Some(pdf.extract_page(index)?), None),
                OcrMode::Auto => {
                    let raw = pdf.extract_page(index)?;
                    let reason = ocr_reason(&raw.layer);
                    (Some(raw), reason)
                }
            };
            match (raw, reason) {
                (Some(raw), None) => {
                    let mut page = analyze(&raw);
                    tracing::trace!(page = index + 1, candidates = ?raw.figures, "figures");
                    let figures = place_figures(&mut page, &raw.figures);
                    Ok(ReadPage {
                        page,
                        figures,
                        picture: None,
                    })
                }
                (_, reason) => {
                    let reason = reason.unwrap_or(OcrReason::Forced);
                    ocr_pdf_page(ocr, pdf, &doc.ocr, index, reason, budget)
                }
            }
        }
    }
}

/// Why one page failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PageError {
    #[error(transparent)]
    Pdf(#[from] PdfError),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Ocr(#[from] OcrError),
    #[error("cannot encode the page image: {0}")]
    Encode(String),
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

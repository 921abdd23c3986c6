//! One page through the pipeline: read (text layer, or OCR), then the pictures the outputs
//! asked for (preview, figure crops, erased page, page image), as one [`PageResult`].

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use pagemill_core::layout::figures::{place_figures, PlacedFigure};
use pagemill_core::layout::text_layer::ocr_reason;
use pagemill_core::layout::{analyze, RawPage};
use pagemill_core::model::{OcrReason, TextSource};
use pagemill_core::protocol::DocRef;
use pagemill_core::result::PageImage;
use pagemill_core::settings::{OcrMode, OcrSettings};
use pagemill_core::{FailureReason, Page, PageFailure, PageOutcome, PageResult};
use pagemill_image::ImageError;
use pagemill_ocr::OcrError;
use pagemill_pdf::PdfError;

use super::erase::erase_page;
use super::error::PageError;
use super::figures::crop_figures;
use super::ocr::{
    ocr_image_page, ocr_pdf_page, release_free_memory, OcrState, PagePicture, ReadPage,
};
use super::preview::{page_preview, picture_preview};
use super::source::Source;
use super::upscale::{upscale_page, UpscaleState};

/// A page that failed before anything was read.
pub(super) fn failed(index: u32, message: String) -> PageResult {
    PageResult::bare(PageOutcome::Failed(PageFailure {
        index,
        reason: FailureReason::Invalid,
        message,
    }))
}

/// Page `index` of an open document, with the pictures `doc` asks for.
pub(super) fn read_page(
    ocr: &mut OcrState,
    up: &mut UpscaleState,
    source: &mut Source<'_>,
    doc: &DocRef,
    index: u32,
    progress: &mut dyn FnMut(u32, u32),
) -> PageResult {
    let (mut outcome, placed, picture) = convert_page(ocr, source, doc, index);
    // The preview first, while the OCR image is at hand (then it is dropped, before
    // figure crops render).
    let preview = match (doc.preview_dpi, &outcome) {
        (Some(dpi), PageOutcome::Ok(page)) => match picture {
            Some(picture) => picture_preview(picture, index, dpi),
            None => {
                let ocred = page.ocr_reason.is_some();
                page_preview(source, index, dpi, &doc.ocr, ocred)
            }
        },
        _ => None,
    };
    let figures = match (doc.figure_dpi, &mut outcome) {
        (Some(dpi), PageOutcome::Ok(page)) if !placed.is_empty() => {
            crop_figures(source, page, &placed, dpi, &doc.ocr)
        }
        _ => Vec::new(),
    };
    let erased = match (&doc.erase, &outcome) {
        (Some(settings), PageOutcome::Ok(page)) => Some(isolated(
            page,
            doc,
            ("erasing text", "text not erased"),
            || erase_page(ocr, up, source, page, doc, settings, progress),
        )),
        _ => None,
    };
    let erased = match erased {
        Some(Ok(e)) => Some(e),
        Some(Err(failure)) => {
            outcome = PageOutcome::Failed(failure);
            None
        }
        None => None,
    };
    let upscaled = match (&doc.upscale, &doc.upscaled_dir, &doc.erase, &outcome) {
        (Some(settings), Some(dir), None, PageOutcome::Ok(page)) => {
            let stage = || upscale_page(up, source, page, &doc.ocr, settings, dir, progress);
            match isolated(page, doc, ("upscaling", "not upscaled"), stage) {
                Ok(u) => Some(u),
                Err(failure) => {
                    outcome = PageOutcome::Failed(failure);
                    None
                }
            }
        }
        _ => None,
    };
    let image = if doc.page_images {
        page_image(source, index, &doc.ocr)
    } else {
        None
    };
    PageResult {
        outcome,
        preview,
        image,
        figures,
        erased,
        upscaled,
    }
}

/// Runs a stage after the page was read (erasing, upscaling) so that an error or a panic
/// in it becomes the page's failure, `{prefix}: …`, and its buffers are given back.
fn isolated<T>(
    page: &Page,
    doc: &DocRef,
    (doing, prefix): (&str, &str),
    stage: impl FnOnce() -> Result<T, PageError>,
) -> Result<T, PageFailure> {
    let result = catch_unwind(AssertUnwindSafe(stage));
    release_free_memory();
    let (reason, message) = match result {
        Ok(Ok(done)) => return Ok(done),
        Ok(Err(e)) => failure_of(e, doc.page_timeout_ms),
        Err(panic) => (
            FailureReason::Crash,
            format!("internal error while {doing}: {}", panic_text(&panic)),
        ),
    };
    Err(PageFailure {
        index: page.index,
        reason,
        message: format!("{prefix}: {message}"),
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

/// Reads page `index`: its outcome, the figures placed on it, and the picture OCR read.
fn convert_page(
    ocr: &mut OcrState,
    source: &mut Source<'_>,
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
    if index >= source.page_count() {
        return failed(
            FailureReason::Invalid,
            format!("the document has no page {}", index + 1),
        );
    }
    let started = Instant::now();
    // A bug in layout analysis on odd input must cost one page, not the worker.
    let result = catch_unwind(AssertUnwindSafe(|| {
        let budget = Duration::from_millis(doc.page_timeout_ms).saturating_sub(started.elapsed());
        convert(ocr, source, doc, index, budget)
    }));
    // OCR and failures leave large buffers behind; text-layer and blank pages do not.
    if !matches!(&result, Ok(Ok(r)) if matches!(r.page.source, TextSource::TextLayer | TextSource::Blank))
    {
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
                    // A page with nothing on it has nothing to read: OCR would only load
                    // Tesseract (~40 MB a worker) to find nothing. `--ocr always` still
                    // OCRs it.
                    if reason == Some(OcrReason::NoText) && pdf.page_is_blank(&raw)? {
                        return Ok(blank_page(&raw));
                    }
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

/// A page with nothing to read: its size, no blocks, source `blank`.
fn blank_page(raw: &RawPage) -> ReadPage {
    let mut page = Page::new(raw.index, raw.width, raw.height, Vec::new());
    page.rotation = raw.rotation;
    page.source = TextSource::Blank;
    ReadPage {
        page,
        figures: Vec::new(),
        picture: None,
    }
}

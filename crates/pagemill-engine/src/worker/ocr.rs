//! The OCR path of a worker: a page image in, blocks in page points out.

use std::time::{Duration, Instant};

use pagemill_core::layout::classify::mark_margin_candidates;
use pagemill_core::layout::figures::{place_figures, PlacedFigure, RawFigure, RawFigureKind};
use pagemill_core::layout::ocr_tables::ocr_tables;
use pagemill_core::model::{OcrReason, TextSource};
use pagemill_core::settings::{OcrSettings, Upscale};
use pagemill_core::{BBox, Page};
use pagemill_image::resample::{self, ocr_factor, LOW_DPI};
use pagemill_image::rules::find_rules;
use pagemill_image::{GrayFrame, ImageDocument};
use pagemill_ocr::blocks::to_blocks_mapped;
use pagemill_ocr::preprocess::{make_upright, Prepared};
use pagemill_ocr::{GrayImage, OcrEngine, OcrError, OcrPage, Tesseract};
use pagemill_pdf::{PagedDocument, RenderOptions};

use super::error::PageError;

/// The OCR engine, started on the first page that needs it (Tesseract costs ~100 ms and
/// tens of MB to load; born-digital jobs never pay that).
#[derive(Default)]
pub(crate) struct OcrState {
    engine: Option<(String, Result<Tesseract, String>)>,
}

impl OcrState {
    /// The engine for `languages`, started (or restarted for other languages) on demand.
    pub(crate) fn engine(&mut self, languages: &str) -> Result<&mut Tesseract, OcrError> {
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

/// OSD confidence from which a turn is worth trying against the page as it is. Measured:
/// docling's short rotated pages score 2.5–2.7, and so do upright pages OSD misreads
/// (R-intro's title page 2.7, a screenshot 2.3); cardinal pages score 31–35.
const DOUBTFUL_ORIENTATION: f32 = 1.0;
/// Mean word confidence (per character) from which an upright reading is accepted
/// without asking about orientation. Measured on the corpus's scans: turned pages read
/// upright come out as unsure fragments at 0.26–0.38 (cardinal, docling's rot90/rot180,
/// phototestrot); upright pages read at 0.85–0.96, code-heavy 200-dpi pages (R-intro) at
/// 0.60–0.69. Asking OSD costs a second model (~40 MB a worker) and ~0.3 s, so pages in
/// between are not asked.
const CONFIDENT_READING: f32 = 0.5;

/// How well a recognition reads: (characters weighted by the engine's confidence,
/// characters). Text read upside down comes out as few, unsure words.
fn reading_score(page: &OcrPage) -> (f32, f32) {
    page.paragraphs
        .iter()
        .flat_map(|p| &p.lines)
        .flat_map(|l| &l.words)
        .map(|w| {
            let n = w.text.chars().filter(|c| c.is_alphanumeric()).count() as f32;
            (w.confidence * n, n)
        })
        .fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1))
}

/// Hands freed memory back to the system after an OCR page. Tesseract and the page
/// images leave tens of MB in glibc's free lists; in a worker waiting for its next page
/// that is resident memory nobody uses, and with several workers the sum is what the
/// machine sees.
pub(crate) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Mean confidence per character (0 for a page without words).
fn mean_confidence(page: &OcrPage) -> f32 {
    let (weighted, chars) = reading_score(page);
    if chars > 0.0 {
        weighted / chars
    } else {
        0.0
    }
}

/// A page read: its result, the figures it placed and, for OCR, the image it was read
/// from (as displayed, before any turn or deskew), which the layout PDF's preview is
/// made from instead of decoding the page a second time.
pub(crate) struct ReadPage {
    pub page: Page,
    pub figures: Vec<PlacedFigure>,
    pub picture: Option<PagePicture>,
}

/// A gray page image and its scale.
pub(crate) struct PagePicture {
    pub frame: GrayFrame,
    /// Pixels per page point.
    pub px_per_pt: f32,
}

/// A page image ready for recognition.
struct Raster {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
    /// Resolution, 0 when unknown (the engine then estimates it from the text).
    dpi: u32,
    /// Pixels per page point.
    px_per_pt: f32,
}

/// Renders PDF page `index` and recognises it.
pub(crate) fn ocr_pdf_page(
    state: &mut OcrState,
    doc: &mut PagedDocument<'_>,
    settings: &OcrSettings,
    index: u32,
    reason: OcrReason,
    budget: Duration,
) -> Result<ReadPage, PageError> {
    let options = RenderOptions {
        max_page_pixels: settings.max_page_pixels,
        max_image_pixels: settings.max_image_pixels,
        // Scans at 200 dpi or more are read at their own resolution; lower ones are
        // rendered up to --ocr-dpi (or, with --upscale off, read as they are; with a
        // fixed factor, rendered at --ocr-dpi).
        native_scan_min_dpi: match settings.upscale {
            Upscale::Auto => Some(LOW_DPI as u32),
            Upscale::Off => Some(0),
            Upscale::Times(_) => None,
        },
        annotations: true,
    };
    let img = doc.render_gray(index, settings.dpi, &options)?;
    if img.downscaled {
        tracing::info!(
            page = index + 1,
            dpi = img.dpi,
            "page rendered below the OCR resolution to stay under the page pixel limit"
        );
    }
    let raster = Raster {
        width: img.width,
        height: img.height,
        pixels: img.pixels,
        dpi: img.dpi,
        px_per_pt: img.scale,
    };
    recognize(state, settings, index, raster, reason, budget)
}

/// Decodes image page `index` (upscaled or downscaled as settings ask) and recognises it.
pub(crate) fn ocr_image_page(
    state: &mut OcrState,
    doc: &ImageDocument,
    settings: &OcrSettings,
    index: u32,
    budget: Duration,
) -> Result<ReadPage, PageError> {
    let frame = doc.decode_gray(index, settings.max_image_pixels)?;
    let info = doc
        .page(index)
        .ok_or(pagemill_image::ImageError::NoPage(index + 1))?;
    let upscale = match settings.upscale {
        Upscale::Auto => resample::Upscale::Auto,
        Upscale::Off => resample::Upscale::Off,
        Upscale::Times(n) => resample::Upscale::Factor(f32::from(n)),
    };
    let factor = ocr_factor(&info, settings.dpi, settings.max_page_pixels, upscale);
    let frame = resample::scale(frame, factor)?;
    if (factor - 1.0).abs() >= 0.01 {
        tracing::debug!(page = index + 1, factor, "image rescaled for OCR");
    }
    let source_dpi = info.sizing_dpi();
    let raster = Raster {
        width: frame.width,
        height: frame.height,
        pixels: frame.pixels,
        dpi: frame.dpi.map_or(0, |d| d.round() as u32),
        px_per_pt: source_dpi / 72.0 * factor,
    };
    recognize(state, settings, index, raster, OcrReason::Image, budget)
}

fn recognize(
    state: &mut OcrState,
    settings: &OcrSettings,
    index: u32,
    raster: Raster,
    reason: OcrReason,
    budget: Duration,
) -> Result<ReadPage, PageError> {
    let started = Instant::now();
    let engine = state.engine(&settings.languages)?;
    let source = GrayImage {
        width: raster.width,
        height: raster.height,
        pixels: &raster.pixels,
        dpi: raster.dpi,
    };
    // Orientation. Most pages are upright, and a page read upright with confident words
    // needs nothing more: Tesseract's OSD (a second model, ~40 MB and a layout pass) is
    // only asked about pages that read poorly. OSD is sure of a turned page with plenty
    // of text (cardinal scans score 30+) but scores a sparse upright title page about as
    // high as a short upside-down one (both ~2.7), so every reading it suggests is
    // compared with the upright one: the reading with the more confident words wins.
    let budget_left = || {
        budget
            .saturating_sub(started.elapsed())
            .max(Duration::from_millis(1))
    };
    let read = |engine: &mut Tesseract, quads: u8| -> Result<(f32, Prepared, OcrPage), PageError> {
        let upright = make_upright(&source, quads, true)?;
        let result = engine.recognize(
            &GrayImage {
                width: upright.width,
                height: upright.height,
                pixels: &upright.pixels,
                dpi: raster.dpi,
            },
            budget_left(),
        )?;
        let score = reading_score(&result);
        tracing::debug!(
            page = index + 1,
            quads,
            weighted = score.0,
            chars = score.1,
            "reading"
        );
        Ok((score.0, upright, result))
    };
    let first = read(engine, 0)?;
    let confident = mean_confidence(&first.2) >= CONFIDENT_READING;
    let mut best = first;
    if !confident {
        match engine.detect_orientation(&source) {
            Some(o) if o.quads != 0 && o.confidence >= DOUBTFUL_ORIENTATION => {
                let turned = read(engine, o.quads)?;
                if turned.0 > best.0 {
                    best = turned;
                }
            }
            _ => {}
        }
    }
    let best = Some(best);
    let Some((_, upright, result)) = best else {
        return Err(OcrError::Failed("no orientation was tried".into()).into());
    };
    let map = upright.upright;
    let s = raster.px_per_pt;
    let place = |b: BBox| {
        let b = map.to_source(b);
        BBox::new(b.x0 / s, b.y0 / s, b.x1 / s, b.y1 / s)
    };
    let (mut blocks, body) = to_blocks_mapped(&result, s, place);
    // Tables: Tesseract reads their cells as paragraphs; the rules in the image and the
    // words' positions give their grid.
    let rules: Vec<BBox> = image_rules(&upright, &result)
        .into_iter()
        .map(|r| {
            place(BBox::new(
                r[0] as f32,
                r[1] as f32,
                r[2] as f32,
                r[3] as f32,
            ))
        })
        .collect();
    ocr_tables(&rules, &mut blocks);
    let candidates: Vec<RawFigure> = result
        .figures
        .iter()
        .map(|b| RawFigure {
            bbox: place(*b),
            kind: RawFigureKind::Region,
            dpi: (raster.dpi > 0).then_some(raster.dpi as f32),
        })
        .collect();
    // Running heads and page numbers of scanned books: candidates here, decided by the
    // furniture stage from the pages around.
    mark_margin_candidates(&mut blocks, body, raster.height as f32 / s);
    let mut page = Page {
        index,
        width: raster.width as f32 / s,
        height: raster.height as f32 / s,
        rotation: 0,
        source: TextSource::Ocr,
        ocr_reason: Some(reason),
        ocr_rotation: (map.quads != 0).then_some(u16::from(map.quads) * 90),
        ocr_skew: (map.skew != 0.0).then_some((map.skew * 100.0).round() / 100.0),
        body_font_size: body,
        blocks,
    };
    let figures = place_figures(&mut page, &candidates);
    let picture = PagePicture {
        frame: GrayFrame {
            width: raster.width,
            height: raster.height,
            pixels: raster.pixels,
            dpi: (raster.dpi > 0).then_some(raster.dpi as f32),
        },
        px_per_pt: s,
    };
    Ok(ReadPage {
        page,
        figures,
        picture: Some(picture),
    })
}

/// The rules of an upright page image, in its pixels: dark runs at least one and a half
/// text heights long (a letter's stem is at most one) and at most a third of one thick.
fn image_rules(upright: &Prepared, page: &OcrPage) -> Vec<[u32; 4]> {
    let mut heights: Vec<f32> = page
        .paragraphs
        .iter()
        .flat_map(|p| p.lines.iter())
        .flat_map(|l| l.words.iter())
        .map(|w| w.bbox.height())
        .collect();
    if heights.is_empty() {
        return Vec::new();
    }
    heights.sort_by(f32::total_cmp);
    let h = heights[heights.len() / 2];
    find_rules(
        &upright.pixels,
        upright.width,
        upright.height,
        (1.5 * h).max(10.0) as u32,
        (h / 3.0).max(3.0) as u32,
    )
}

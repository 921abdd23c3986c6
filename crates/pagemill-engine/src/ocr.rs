//! The OCR path of a worker: a page image in, blocks in page points out.

use std::time::{Duration, Instant};

use pagemill_core::model::{OcrReason, TextSource};
use pagemill_core::protocol::{OcrSettings, Upscale};
use pagemill_core::{BBox, Page};
use pagemill_image::resample::{self, ocr_factor};
use pagemill_image::ImageDocument;
use pagemill_ocr::blocks::to_blocks_mapped;
use pagemill_ocr::preprocess::{make_upright, Prepared};
use pagemill_ocr::{GrayImage, OcrEngine, OcrError, OcrPage, Tesseract};
use pagemill_pdf::{PagedDocument, RenderLimits};

use crate::worker::PageError;

/// The OCR engine, started on the first page that needs it (Tesseract costs ~100 ms and
/// tens of MB to load; born-digital jobs never pay that).
#[derive(Default)]
pub(crate) struct OcrState {
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

/// OSD confidence from which a turned page is taken as turned without a second opinion.
/// Measured on the corpus: OCRmyPDF's cardinal pages score 31–35, Tesseract's
/// phototestrot 9.6.
const SURE_ORIENTATION: f32 = 5.0;
/// OSD confidence from which a turn is worth trying against the page as it is. Measured:
/// docling's short rotated pages score 2.5–2.7, and so do upright pages OSD misreads
/// (R-intro's title page 2.7, a screenshot 2.3).
const DOUBTFUL_ORIENTATION: f32 = 1.0;

/// How well a recognition reads: characters weighted by the engine's confidence. Text
/// read upside down comes out as few, unsure words.
fn reading_score(page: &OcrPage) -> f32 {
    page.paragraphs
        .iter()
        .flat_map(|p| &p.lines)
        .flat_map(|l| &l.words)
        .map(|w| w.confidence * w.text.chars().filter(|c| c.is_alphanumeric()).count() as f32)
        .sum()
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
) -> Result<Page, PageError> {
    let limits = RenderLimits {
        max_page_pixels: settings.max_page_pixels,
        max_image_pixels: settings.max_image_pixels,
    };
    let img = doc.render_gray(index, settings.dpi, &limits)?;
    if img.downscaled {
        tracing::info!(
            page = index + 1,
            dpi = img.dpi,
            "page rendered below --ocr-dpi to stay under --max-page-pixels"
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
) -> Result<Page, PageError> {
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
    // Without a recorded resolution a pixel is taken as a point (72 dpi), as image
    // viewers and converters do.
    let source_dpi = info.dpi.unwrap_or(72.0);
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
) -> Result<Page, PageError> {
    let started = Instant::now();
    let engine = state.engine(&settings.languages)?;
    let source = GrayImage {
        width: raster.width,
        height: raster.height,
        pixels: &raster.pixels,
        dpi: raster.dpi,
    };
    // Orientation: Tesseract's OSD is sure of a turned page with plenty of text (cardinal
    // scans score 30+), but scores a sparse upright title page about as high as a short
    // upside-down one (both ~2.7). So a sure answer is taken, and an unsure one is tried
    // both ways: the reading with the more confident words wins.
    let candidates: Vec<u8> = match engine.detect_orientation(&source) {
        Some(o) if o.quads != 0 && o.confidence >= SURE_ORIENTATION => vec![o.quads],
        Some(o) if o.quads != 0 && o.confidence >= DOUBTFUL_ORIENTATION => vec![0, o.quads],
        _ => vec![0],
    };
    let mut best: Option<(f32, Prepared, OcrPage)> = None;
    for quads in candidates {
        let upright = make_upright(&source, quads, true)?;
        let result = engine.recognize(
            &GrayImage {
                width: upright.width,
                height: upright.height,
                pixels: &upright.pixels,
                dpi: raster.dpi,
            },
            budget
                .saturating_sub(started.elapsed())
                .max(Duration::from_millis(1)),
        )?;
        let score = reading_score(&result);
        tracing::debug!(page = index + 1, quads, score, "orientation tried");
        if best.as_ref().is_none_or(|(b, _, _)| score > *b) {
            best = Some((score, upright, result));
        }
    }
    let Some((_, upright, result)) = best else {
        return Err(OcrError::Failed("no orientation was tried".into()).into());
    };
    let map = upright.upright;
    let s = raster.px_per_pt;
    let (blocks, body) = to_blocks_mapped(&result, s, |b| {
        let b = map.to_source(b);
        BBox::new(b.x0 / s, b.y0 / s, b.x1 / s, b.y1 / s)
    });
    Ok(Page {
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
    })
}

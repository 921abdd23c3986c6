//! Text removal in the worker (`pagemill erase-text`): the page converted as usual gives
//! the boxes of its words (OCR) or lines (text layer); the page image is taken in colour,
//! the ink inside those boxes is filled from the background around it, and the page is
//! read again, for any legible text rather than in reading order (sparse text), to catch
//! what is still there, up to [`EraseSettings::passes`] readings.
//!
//! Image inputs keep their own pixels (no resampling, so everything outside the erased
//! boxes is byte for byte the input); PDF pages are rendered at `--ocr-dpi` within
//! `--max-page-pixels`.

use std::time::{Duration, Instant};

use pagemill_core::protocol::DocRef;
use pagemill_core::result::{
    deflate, erased_as_pdf, ErasedOutput, ErasedPage, ImageColour, ImageEncoding, PageImage,
};
use pagemill_core::settings::{EraseSettings, OcrSettings};
use pagemill_core::{BBox, Page};
use pagemill_image::erase::{erase_text, EraseOptions};
use pagemill_image::inpaint::RasterMut;
use pagemill_image::{ColourFrame, Format};
use pagemill_ocr::GrayImage;

use super::error::PageError;
use super::ocr::OcrState;
use super::source::Source;
use super::upscale::{upscale_frame, UpscaleState};

/// JPEG quality of erased JPEG inputs (re-encoded: close to the original's look).
const JPEG_FILE_QUALITY: u8 = 95;
/// JPEG quality of colour pages in the erased PDF.
const JPEG_PAGE_QUALITY: u8 = 90;

/// Erases the text of `page` (already converted) and encodes the result.
pub(crate) fn erase_page(
    ocr: &mut OcrState,
    up: &mut UpscaleState,
    source: &mut Source<'_>,
    page: &Page,
    doc: &DocRef,
    erase: &EraseSettings,
    progress: &mut dyn FnMut(u32, u32),
) -> Result<ErasedPage, PageError> {
    let started = Instant::now();
    let budget = Duration::from_millis(doc.page_timeout_ms);
    let settings = &doc.ocr;
    let (mut frame, mut px_per_pt) = page_raster(source, page, settings)?;
    // Upscaled first, then erased (the order of the pipelines this replaces): the
    // boxes found on the page scale with it, and the later readings see the larger page.
    if let Some(upscale) = &doc.upscale {
        frame = upscale_frame(up, &frame, upscale, progress)?;
        px_per_pt *= f32::from(upscale.scale);
    }
    let boxes: Vec<[f32; 4]> = text_boxes(page, erase.min_confidence)
        .map(|b| {
            [
                b.x0 * px_per_pt,
                b.y0 * px_per_pt,
                b.x1 * px_per_pt,
                b.y1 * px_per_pt,
            ]
        })
        .collect();
    let options = EraseOptions::default();
    let mut raster = RasterMut {
        width: frame.width,
        height: frame.height,
        channels: frame.channels,
        pixels: &mut frame.pixels,
    };
    let mut report = erase_text(&mut raster, &boxes, &options);
    let mut words = vec![boxes.len() as u32];
    let dpi = (px_per_pt * 72.0).round() as u32;
    for _ in 1..erase.passes.max(1) {
        if words.last() == Some(&0) {
            break;
        }
        let gray = raster.to_gray();
        let left = budget
            .saturating_sub(started.elapsed())
            .max(Duration::from_millis(1));
        let engine = ocr.engine(&settings.languages)?;
        // Sparse text: whatever is legible, even where the layout saw a picture.
        let read = engine.recognize_sparse(
            &GrayImage {
                width: raster.width,
                height: raster.height,
                pixels: &gray,
                dpi,
            },
            left,
        )?;
        drop(gray);
        let again: Vec<[f32; 4]> = read
            .paragraphs
            .iter()
            .flat_map(|p| &p.lines)
            .flat_map(|l| {
                kept_words(
                    l.words
                        .iter()
                        .map(|w| (w.bbox, w.text.as_str(), w.confidence)),
                    erase.min_confidence,
                )
            })
            .map(|b| [b.x0, b.y0, b.x1, b.y1])
            .collect();
        words.push(again.len() as u32);
        if again.is_empty() {
            break;
        }
        let more = erase_text(&mut raster, &again, &options);
        report.pixels += more.pixels;
        report.regions.extend(more.regions);
    }
    let output = encode(source, page, &frame)?;
    Ok(ErasedPage {
        width: frame.width,
        height: frame.height,
        output,
        regions: report.regions,
        pixels: report.pixels,
        words,
    })
}

/// Whether a word has a letter or digit (lone punctuation read in a picture is noise).
fn has_letters(text: &str) -> bool {
    text.chars().any(char::is_alphanumeric)
}

/// The boxes to erase, in page points: OCR words above `min_confidence` and, on
/// text-layer pages (which carry lines, not words), every line.
fn text_boxes(page: &Page, min_confidence: f32) -> impl Iterator<Item = BBox> + '_ {
    page.blocks
        .iter()
        .flat_map(|b| &b.lines)
        .flat_map(move |l| {
            if l.words.is_empty() {
                vec![l.bbox]
            } else {
                kept_words(
                    l.words
                        .iter()
                        .map(|w| (w.bbox, w.text.as_str(), w.confidence)),
                    min_confidence,
                )
            }
        })
}

/// The boxes of a line's words worth erasing: every word of a line that holds at least
/// one word with a letter or digit read with `min_confidence` (its unsure neighbours and
/// the punctuation beside it are text too). A line without such a word is texture the
/// engine took for letters (photos, hatching), and is kept.
fn kept_words<'a>(
    words: impl Iterator<Item = (BBox, &'a str, f32)>,
    min_confidence: f32,
) -> Vec<BBox> {
    let words: Vec<(BBox, &str, f32)> = words.collect();
    if !words
        .iter()
        .any(|w| w.2 >= min_confidence && has_letters(w.1))
    {
        return Vec::new();
    }
    words.into_iter().map(|w| w.0).collect()
}

/// The page in colour, and its pixels per page point.
pub(crate) fn page_raster(
    source: &mut Source<'_>,
    page: &Page,
    settings: &OcrSettings,
) -> Result<(ColourFrame, f32), PageError> {
    match source {
        Source::Image(doc) => {
            let info = doc
                .page(page.index)
                .ok_or(pagemill_image::ImageError::NoPage(page.index + 1))?;
            let frame = doc.decode_colour(page.index, settings.max_image_pixels)?;
            Ok((frame, info.sizing_dpi() / 72.0))
        }
        Source::Pdf(doc) => {
            let whole = BBox::new(0.0, 0.0, page.width, page.height);
            let rgb = doc.render_region(
                page.index,
                whole,
                settings.dpi as f32,
                settings.max_page_pixels,
            )?;
            let px_per_pt = rgb.width as f32 / page.width.max(1.0);
            // Scans and black-and-white pages come out gray: a third of the bytes.
            let gray = rgb
                .pixels
                .chunks_exact(3)
                .all(|p| p[0] == p[1] && p[1] == p[2]);
            let (channels, pixels) = if gray {
                (1, rgb.pixels.chunks_exact(3).map(|p| p[0]).collect())
            } else {
                (3, rgb.pixels)
            };
            Ok((
                ColourFrame {
                    width: rgb.width,
                    height: rgb.height,
                    channels,
                    pixels,
                },
                px_per_pt,
            ))
        }
    }
}

fn encode(
    source: &Source<'_>,
    page: &Page,
    frame: &ColourFrame,
) -> Result<ErasedOutput, PageError> {
    let colour = if frame.channels == 1 {
        image::ExtendedColorType::L8
    } else {
        image::ExtendedColorType::Rgb8
    };
    let failed = |e: image::ImageError| PageError::Encode(e.to_string());
    let jpeg = |quality: u8| -> Result<Vec<u8>, PageError> {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
            .encode(&frame.pixels, frame.width, frame.height, colour)
            .map_err(failed)?;
        Ok(out)
    };
    if !erased_as_pdf(source.info().kind, source.page_count()) {
        let is_jpeg = matches!(source, Source::Image(d) if d.format() == Format::Jpeg);
        if is_jpeg {
            return Ok(ErasedOutput::Jpeg {
                data: jpeg(JPEG_FILE_QUALITY)?,
            });
        }
        let mut out = Vec::new();
        image::ImageEncoder::write_image(
            image::codecs::png::PngEncoder::new(&mut out),
            &frame.pixels,
            frame.width,
            frame.height,
            colour,
        )
        .map_err(failed)?;
        return Ok(ErasedOutput::Png { data: out });
    }
    // Gray pages (scans, line drawings) lossless; colour ones as JPEG, as a scanner would.
    let image = if frame.channels == 1 {
        PageImage {
            width: frame.width,
            height: frame.height,
            encoding: ImageEncoding::Flate,
            colour: Some(ImageColour::Gray),
            data: deflate(&frame.pixels),
        }
    } else {
        PageImage {
            width: frame.width,
            height: frame.height,
            encoding: ImageEncoding::Jpeg,
            colour: Some(ImageColour::Rgb),
            data: jpeg(JPEG_PAGE_QUALITY)?,
        }
    };
    Ok(ErasedOutput::PdfPage {
        image,
        width_pt: page.width,
        height_pt: page.height,
    })
}

//! Small gray pictures of pages, sent with their results for the layout PDF.

use pagemill_core::result::PagePreview;
use pagemill_core::settings::OcrSettings;
use pagemill_image::resample::{self, ocr_factor, Upscale};
use pagemill_pdf::RenderOptions;

use super::ocr::PagePicture;
use super::source::Source;

/// JPEG quality of previews: boxes are drawn over them as vectors, so the picture only
/// has to show where the content is.
const JPEG_QUALITY: u8 = 70;

/// Renders page `index` at `dpi` (within the OCR pixel limits) as a gray JPEG. `None` when
/// the page cannot be pictured; the layout PDF then shows its boxes on white.
///
/// The picture shows what the boxes were read from: annotations are drawn only on pages
/// that were OCRed (the OCR saw them), since a text layer never includes them; this also
/// keeps PDFium from loading the annotations of every page (see
/// [`RenderOptions::annotations`]).
pub(crate) fn page_preview(
    source: &mut Source<'_>,
    index: u32,
    dpi: u32,
    settings: &OcrSettings,
    ocred: bool,
) -> Option<PagePreview> {
    let (width, height, pixels) = match source {
        Source::Pdf(doc) => {
            let options = RenderOptions {
                max_page_pixels: settings.max_page_pixels,
                max_image_pixels: settings.max_image_pixels,
                native_scan_min_dpi: None,
                annotations: ocred,
            };
            let page = doc
                .render_gray(index, dpi, &options)
                .map_err(|e| tracing::debug!(page = index + 1, error = %e, "no preview"))
                .ok()?;
            (page.width, page.height, page.pixels)
        }
        Source::Image(doc) => {
            let info = doc.page(index)?;
            let frame = doc.decode_gray(index, settings.max_image_pixels).ok()?;
            let wanted = Upscale::Factor(dpi as f32 / info.sizing_dpi());
            let factor = ocr_factor(&info, dpi, settings.max_page_pixels, wanted);
            let frame = resample::scale(frame, factor).ok()?;
            (frame.width, frame.height, frame.pixels)
        }
    };
    encode(index, width, height, &pixels)
}

/// The preview of a page made from the image OCR read it from (already rendered, with
/// annotations, as displayed), scaled to `dpi`.
pub(crate) fn picture_preview(picture: PagePicture, index: u32, dpi: u32) -> Option<PagePreview> {
    let factor = dpi as f32 / 72.0 / picture.px_per_pt;
    // Never upscaled: a preview above the OCR image's resolution would show no more.
    let frame = resample::scale(picture.frame, factor.min(1.0))
        .map_err(|e| tracing::debug!(page = index + 1, error = %e, "no preview"))
        .ok()?;
    encode(index, frame.width, frame.height, &frame.pixels)
}

fn encode(index: u32, width: u32, height: u32, pixels: &[u8]) -> Option<PagePreview> {
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, JPEG_QUALITY)
        .encode(pixels, width, height, image::ExtendedColorType::L8)
        .map_err(|e| tracing::debug!(page = index + 1, error = %e, "preview not encoded"))
        .ok()?;
    Some(PagePreview {
        width,
        height,
        jpeg,
    })
}

//! Figure crops in the worker: each figure the page's layout placed, cut out in colour and
//! encoded as JPEG, named `images/<page>_<n>.jpg` in reading order.
//!
//! PDF pages are rendered over the figure's region rather than their image objects
//! decoded: the crop then shows what a reader sees (soft masks, stencil masks, rotations,
//! CMYK and Lab colour, vector callouts drawn over a photo, images tiled in pieces), and
//! an image figure is rendered at the image's own resolution, so no detail is lost.

use pagemill_core::layout::figures::PlacedFigure;
use pagemill_core::result::FigureImage;
use pagemill_core::settings::OcrSettings;
use pagemill_core::Page;

use super::source::Source;

/// JPEG quality of figure crops (photographs and charts both stay clean at 85).
const JPEG_QUALITY: u8 = 85;
/// Largest crop in pixels; larger figures are rendered at a lower resolution.
const MAX_FIGURE_PIXELS: u64 = 16_000_000;

/// Crops the `placed` figures of `page`, names their blocks, and returns the JPEGs. A
/// figure that cannot be cropped keeps its block without a picture (logged).
pub(crate) fn crop_figures(
    source: &mut Source<'_>,
    page: &mut Page,
    placed: &[PlacedFigure],
    dpi: u32,
    settings: &OcrSettings,
) -> Vec<FigureImage> {
    let mut out = Vec::new();
    let max_pixels = MAX_FIGURE_PIXELS.min(settings.max_page_pixels);
    for f in placed {
        let Some(block) = page.blocks.get(f.block) else {
            continue;
        };
        // Images at their own resolution, within twice the asked one.
        let crop_dpi = f
            .dpi
            .map_or(dpi as f32, |d| d.min(2.0 * dpi as f32))
            .max(dpi as f32 / 2.0);
        let rgb = match source {
            Source::Pdf(doc) => doc
                .render_region(page.index, block.bbox, crop_dpi, max_pixels)
                .map(|i| (i.width, i.height, i.pixels))
                .map_err(|e| e.to_string()),
            Source::Image(doc) => match doc.page(page.index) {
                Some(info) => {
                    let s = info.sizing_dpi() / 72.0;
                    let b = &block.bbox;
                    let px = |v: f32| (v * s).round().max(0.0) as u32;
                    doc.crop_rgb(
                        page.index,
                        [px(b.x0), px(b.y0), px(b.x1), px(b.y1)],
                        settings.max_image_pixels,
                    )
                    .map(|c| (c.width, c.height, c.pixels))
                    .map_err(|e| e.to_string())
                }
                None => Err("no such page".into()),
            },
        };
        let jpeg = rgb.and_then(|(w, h, pixels)| {
            let mut jpeg = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, JPEG_QUALITY)
                .encode(&pixels, w, h, image::ExtendedColorType::Rgb8)
                .map(|()| jpeg)
                .map_err(|e| e.to_string())
        });
        match jpeg {
            Ok(jpeg) => {
                let name = format!("images/{}_{}.jpg", page.index, out.len());
                if let Some(b) = page.blocks.get_mut(f.block) {
                    b.image = Some(name.clone());
                }
                out.push(FigureImage { name, jpeg });
            }
            Err(e) => tracing::warn!(page = page.index + 1, error = %e, "figure not cropped"),
        }
    }
    out
}

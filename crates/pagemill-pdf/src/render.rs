//! Rendering a page to an 8-bit grayscale image for OCR, within pixel limits.

use pagemill_core::layout::blank::Blankness;
use pagemill_core::layout::RawPage;
use pdfium_render::prelude::{FPDF_IMAGEOBJ_METADATA, FPDF_PAGE, FPDF_PAGEOBJECT};

use crate::{Document, PdfError};

/// Page object type of images (`FPDF_PAGEOBJ_IMAGE`).
pub(crate) const PAGEOBJ_IMAGE: i32 = 3;
/// Page object type of form XObjects (`FPDF_PAGEOBJ_FORM`).
pub(crate) const PAGEOBJ_FORM: i32 = 5;
/// `FPDF_ANNOT`: draw annotations.
const RENDER_ANNOT: i32 = 0x01;
/// `FPDF_GRAYSCALE`.
const RENDER_GRAYSCALE: i32 = 0x08;

/// `FPDFBitmap_Gray`: one byte a pixel.
const BITMAP_GRAY: i32 = 1;
/// Pixels rendered at once (see `render_gray`).
const BAND_PIXELS: usize = 1 << 19;
/// Share of the page an image must cover for the page to count as a scan.
const SCAN_COVERAGE: f32 = 0.5;

/// Resolution of the render that tells whether a page shows ink: a US Letter page is
/// 204 × 264 pixels, a few milliseconds to draw, and a black 0.5-pt hairline still darkens
/// the pixels it crosses to ~210 (a sixth of a pixel wide).
pub const INK_CHECK_DPI: u32 = 24;
/// A pixel darker than this (of 255) is ink. Paper white and near-white fills (a white
/// full-page background, light grays of 94 % and up such as `#F0F0F0`) are not; a black
/// hairline or outline text at [`INK_CHECK_DPI`] is (see there), and so is a colour fill
/// (pure yellow is ~226 in gray).
pub const INK_LEVEL: u8 = 240;
/// Pixel cap of the ink check: huge pages (posters, maps) are drawn smaller still.
const INK_CHECK_MAX_PIXELS: u64 = 4_000_000;

/// The largest image of a page.
#[derive(Debug, Clone, Copy)]
struct LargestImage {
    width: u64,
    height: u64,
    /// Pixels per inch as displayed (0 when unknown).
    dpi: f32,
}

impl LargestImage {
    /// Whether the image covers most of a page of `wpt`×`hpt` points.
    fn covers(&self, wpt: f32, hpt: f32) -> bool {
        if self.dpi <= 0.0 {
            return false;
        }
        let area_in = (self.width as f32 / self.dpi) * (self.height as f32 / self.dpi);
        area_in >= SCAN_COVERAGE * (wpt / 72.0) * (hpt / 72.0)
    }
}

/// Limits for rendering one page.
#[derive(Debug, Clone, Copy)]
pub struct RenderOptions {
    /// Largest rendered image (width × height); larger pages are rendered at a lower
    /// resolution.
    pub max_page_pixels: u64,
    /// Largest image embedded in the page that may be decoded; a page holding a larger
    /// one is refused (a decompression bomb would be decoded whole by the renderer).
    pub max_image_pixels: u64,
    /// A page that is a scan (an image covering most of it) whose own resolution is at
    /// least this is rendered at that resolution, when lower than the asked one: resampling
    /// a 200-dpi scan to 300 dpi adds pixels but no detail, and costs OCR 2.25× the memory
    /// and time. `None` always renders at the asked resolution.
    pub native_scan_min_dpi: Option<u32>,
    /// Draw annotations (form field values, stamps, notes) as a viewer would. OCR wants
    /// them, since they are on the page a reader sees. Without them the page's
    /// annotations are never loaded: PDFium keeps every annotation it has parsed until
    /// the document closes, about 2 KB each, and a dense index of links (R's reference
    /// manual: ~200 a page) then grows a worker by 19 MB within one page view.
    pub annotations: bool,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            max_page_pixels: 25_000_000,
            max_image_pixels: 150_000_000,
            native_scan_min_dpi: Some(200),
            annotations: true,
        }
    }
}

/// A rendered page: gray pixels, rows top to bottom.
pub struct GrayPage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height` bytes.
    pub pixels: Vec<u8>,
    /// Pixels per point actually used (after any downscaling for the pixel cap).
    pub scale: f32,
    /// The resolution that scale amounts to.
    pub dpi: u32,
    /// Whether the page was rendered below the asked resolution to respect the cap.
    pub downscaled: bool,
}

impl Document<'_> {
    /// Renders page `index` at `dpi` (lowered to fit `options.max_page_pixels`), as
    /// displayed (`/Rotate` applied), annotations included when `options` asks.
    pub fn render_gray(
        &self,
        index: u32,
        dpi: u32,
        options: &RenderOptions,
    ) -> Result<GrayPage, PdfError> {
        let b = &self.engine.b;
        let loaded = self.load_page(index)?;
        let page = loaded.page;
        let fail = |message: String| PdfError::Page { index, message };

        let (wpt, hpt) = unsafe { (b.FPDF_GetPageWidthF(page), b.FPDF_GetPageHeightF(page)) };
        if !(wpt > 0.0 && hpt > 0.0 && wpt.is_finite() && hpt.is_finite()) {
            return Err(fail(format!("page has no usable size ({wpt}×{hpt} pt)")));
        }
        let largest = self.largest_image(page);
        if let Some(LargestImage {
            width: w,
            height: h,
            ..
        }) = largest
        {
            if w * h > options.max_image_pixels {
                return Err(fail(format!(
                    "page holds a {w}×{h} image ({} MP), over the {} MP image pixel limit for \
                     decoding; refused rather than decoded (raise the limit if the file is \
                     trusted)",
                    w * h / 1_000_000,
                    options.max_image_pixels / 1_000_000
                )));
            }
        }

        let dpi = match (options.native_scan_min_dpi, largest) {
            (Some(min), Some(img)) if img.covers(wpt, hpt) && img.dpi >= min as f32 => {
                dpi.min(img.dpi.round() as u32)
            }
            _ => dpi,
        };
        let mut scale = dpi.max(1) as f32 / 72.0;
        let pixels = |s: f32| (wpt * s).ceil() as f64 * (hpt * s).ceil() as f64;
        let downscaled = pixels(scale) > options.max_page_pixels as f64;
        if downscaled {
            scale *= (options.max_page_pixels as f64 / pixels(scale)).sqrt() as f32 * 0.999;
        }
        let (w, h) = ((wpt * scale).ceil() as i32, (hpt * scale).ceil() as i32);
        if w <= 0 || h <= 0 || w > 65_535 || h > 65_535 {
            return Err(fail(format!("page renders to an unusable {w}×{h} image")));
        }
        // Rendered straight into our own 8-bit buffer (PDFium draws gray bitmaps itself),
        // so the page exists once, not as a 4-byte-per-pixel copy beside a gray one.
        let mut gray = vec![0xFFu8; w as usize * h as usize];
        let annot = if options.annotations { RENDER_ANNOT } else { 0 };
        // In bands: PDFium's working buffers for a band (image resampling, compositing)
        // are the band's size, not the page's; the decoded images stay cached on the
        // page between bands.
        let band = (BAND_PIXELS / w as usize).clamp(1, h as usize);
        for (i, rows) in gray.chunks_mut(band * w as usize).enumerate() {
            let y0 = (i * band) as i32;
            let rows_h = (rows.len() / w as usize) as i32;
            // SAFETY: the bitmap wraps `rows` (w×rows_h bytes, stride w) and is destroyed
            // before `rows` is used again.
            unsafe {
                let bitmap =
                    b.FPDFBitmap_CreateEx(w, rows_h, BITMAP_GRAY, rows.as_mut_ptr().cast(), w);
                if bitmap.is_null() {
                    return Err(fail(format!("cannot allocate a {w}×{rows_h} bitmap")));
                }
                b.FPDF_RenderPageBitmap(bitmap, page, 0, -y0, w, h, 0, annot | RENDER_GRAYSCALE);
                b.FPDFBitmap_Destroy(bitmap);
            }
        }
        if gray.is_empty() {
            return Err(fail("PDFium returned no pixels".into()));
        }
        Ok(GrayPage {
            width: w as u32,
            height: h as u32,
            pixels: gray,
            scale,
            dpi: (scale * 72.0).round() as u32,
            downscaled,
        })
    }

    /// Whether page `index` shows anything darker than near-white ([`INK_LEVEL`]) when
    /// rendered in gray at [`INK_CHECK_DPI`], annotations included. For pages whose
    /// objects may paint nothing visible
    /// ([`Blankness::NeedsRender`]):
    /// `false` means the page is blank.
    pub fn page_has_ink(&self, index: u32) -> Result<bool, PdfError> {
        let options = RenderOptions {
            max_page_pixels: INK_CHECK_MAX_PIXELS,
            native_scan_min_dpi: None,
            annotations: true,
            ..RenderOptions::default()
        };
        let page = self.render_gray(index, INK_CHECK_DPI, &options)?;
        Ok(page.pixels.iter().any(|&p| p < INK_LEVEL))
    }

    /// Whether the page `raw` (extracted from this document, so `raw.index` is its page
    /// here) has nothing to read: [`RawPage::blankness`], settled by
    /// [`Document::page_has_ink`] when the counts cannot tell. Meant for pages without
    /// text (`OcrReason::NoText`), before deciding to OCR them.
    pub fn page_is_blank(&self, raw: &RawPage) -> Result<bool, PdfError> {
        Ok(match raw.blankness() {
            Blankness::Blank => true,
            Blankness::NotBlank => false,
            Blankness::NeedsRender => !self.page_has_ink(raw.index)?,
        })
    }

    /// An image object's resolution as placed on the page (horizontal, vertical pixels
    /// per inch); `None` when PDFium cannot tell.
    pub(crate) fn placed_dpi(&self, page: FPDF_PAGE, obj: FPDF_PAGEOBJECT) -> Option<(f32, f32)> {
        let mut meta = FPDF_IMAGEOBJ_METADATA {
            width: 0,
            height: 0,
            horizontal_dpi: 0.0,
            vertical_dpi: 0.0,
            bits_per_pixel: 0,
            colorspace: 0,
            marked_content_id: 0,
        };
        // SAFETY: `obj` is an image object of the loaded `page`; `meta` is written in place.
        let ok = unsafe {
            self.engine
                .b
                .FPDFImageObj_GetImageMetadata(obj, page, &mut meta)
        };
        let (h, v) = (meta.horizontal_dpi, meta.vertical_dpi);
        (ok != 0 && h.is_finite() && v.is_finite()).then_some((h, v))
    }

    /// The largest image (in pixels) among the page's objects, forms included.
    fn largest_image(&self, page: FPDF_PAGE) -> Option<LargestImage> {
        let b = &self.engine.b;
        let n = unsafe { b.FPDFPage_CountObjects(page) };
        let mut best: Option<LargestImage> = None;
        for i in 0..n.max(0) {
            let obj = unsafe { b.FPDFPage_GetObject(page, i) };
            self.visit_object(page, obj, 0, &mut best);
        }
        best
    }

    fn visit_object(
        &self,
        page: FPDF_PAGE,
        obj: FPDF_PAGEOBJECT,
        depth: u32,
        best: &mut Option<LargestImage>,
    ) {
        let b = &self.engine.b;
        if obj.is_null() || depth > 16 {
            return;
        }
        match unsafe { b.FPDFPageObj_GetType(obj) } {
            PAGEOBJ_IMAGE => {
                let (mut w, mut h) = (0u32, 0u32);
                if unsafe { b.FPDFImageObj_GetImagePixelSize(obj, &mut w, &mut h) } != 0 {
                    let (w, h) = (u64::from(w), u64::from(h));
                    if best.is_none_or(|b| w * h > b.width * b.height) {
                        let dpi = self
                            .placed_dpi(page, obj)
                            .map_or(0.0, |(h, v)| h.min(v).max(0.0));
                        *best = Some(LargestImage {
                            width: w,
                            height: h,
                            dpi,
                        });
                    }
                }
            }
            PAGEOBJ_FORM => {
                let n = unsafe { b.FPDFFormObj_CountObjects(obj) };
                for i in 0..n.max(0) {
                    let child = unsafe { b.FPDFFormObj_GetObject(obj, i as _) };
                    self.visit_object(page, child, depth + 1, best);
                }
            }
            _ => {}
        }
    }
}

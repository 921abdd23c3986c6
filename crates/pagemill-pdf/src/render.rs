//! Rendering a page to an 8-bit grayscale image for OCR, within pixel limits.

use pdfium_render::prelude::{FPDF_PAGE, FPDF_PAGEOBJECT};

use crate::{Document, PdfError};

/// Page object type of images (`FPDF_PAGEOBJ_IMAGE`).
const PAGEOBJ_IMAGE: i32 = 3;
/// Page object type of form XObjects (`FPDF_PAGEOBJ_FORM`).
const PAGEOBJ_FORM: i32 = 5;
/// `FPDF_ANNOT`: draw annotations (form field values are part of the page's text).
const RENDER_ANNOT: i32 = 0x01;
/// `FPDF_GRAYSCALE`.
const RENDER_GRAYSCALE: i32 = 0x08;

/// Limits for rendering one page.
#[derive(Debug, Clone, Copy)]
pub struct RenderLimits {
    /// Largest rendered image (width × height); larger pages are rendered at a lower
    /// resolution.
    pub max_page_pixels: u64,
    /// Largest image embedded in the page that may be decoded; a page holding a larger
    /// one is refused (a decompression bomb would be decoded whole by the renderer).
    pub max_image_pixels: u64,
}

impl Default for RenderLimits {
    fn default() -> Self {
        RenderLimits {
            max_page_pixels: 25_000_000,
            max_image_pixels: 150_000_000,
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
    /// Renders page `index` at `dpi` (lowered to fit `limits.max_page_pixels`), as
    /// displayed (`/Rotate` applied), annotations included.
    pub fn render_gray(
        &self,
        index: u32,
        dpi: u32,
        limits: &RenderLimits,
    ) -> Result<GrayPage, PdfError> {
        let b = &self.engine.b;
        let loaded = self.load_page(index)?;
        let page = loaded.page;
        let fail = |message: String| PdfError::Page { index, message };

        if let Some((w, h)) = self.largest_image(page) {
            if w * h > limits.max_image_pixels {
                return Err(fail(format!(
                    "page holds a {w}×{h} image ({} MP), over the {} MP limit for decoding \
                     (--max-image-pixels); refused rather than decoded",
                    w * h / 1_000_000,
                    limits.max_image_pixels / 1_000_000
                )));
            }
        }

        let (wpt, hpt) = unsafe { (b.FPDF_GetPageWidthF(page), b.FPDF_GetPageHeightF(page)) };
        if !(wpt > 0.0 && hpt > 0.0 && wpt.is_finite() && hpt.is_finite()) {
            return Err(fail(format!("page has no usable size ({wpt}×{hpt} pt)")));
        }
        let mut scale = dpi.max(1) as f32 / 72.0;
        let pixels = |s: f32| (wpt * s).ceil() as f64 * (hpt * s).ceil() as f64;
        let downscaled = pixels(scale) > limits.max_page_pixels as f64;
        if downscaled {
            scale *= (limits.max_page_pixels as f64 / pixels(scale)).sqrt() as f32 * 0.999;
        }
        let (w, h) = ((wpt * scale).ceil() as i32, (hpt * scale).ceil() as i32);
        if w <= 0 || h <= 0 || w > 65_535 || h > 65_535 {
            return Err(fail(format!("page renders to an unusable {w}×{h} image")));
        }
        // SAFETY: a bitmap of the size asked, destroyed on every path below.
        let bitmap = unsafe { b.FPDFBitmap_Create(w, h, 0) };
        if bitmap.is_null() {
            return Err(fail(format!("cannot allocate a {w}×{h} bitmap")));
        }
        let gray = unsafe {
            b.FPDFBitmap_FillRect(bitmap, 0, 0, w, h, 0xFFFF_FFFF);
            b.FPDF_RenderPageBitmap(bitmap, page, 0, 0, w, h, 0, RENDER_ANNOT | RENDER_GRAYSCALE);
            let stride = b.FPDFBitmap_GetStride(bitmap).max(0) as usize;
            let buf = b.FPDFBitmap_GetBuffer(bitmap) as *const u8;
            let mut gray = Vec::new();
            if !buf.is_null() && stride >= w as usize * 4 {
                let data = std::slice::from_raw_parts(buf, stride * h as usize);
                gray.reserve_exact(w as usize * h as usize);
                for row in data.chunks_exact(stride) {
                    for px in row[..w as usize * 4].chunks_exact(4) {
                        // BGRx → luma (ITU-R 601 weights, integer).
                        let v = (u32::from(px[2]) * 299
                            + u32::from(px[1]) * 587
                            + u32::from(px[0]) * 114)
                            / 1000;
                        gray.push(v as u8);
                    }
                }
            }
            b.FPDFBitmap_Destroy(bitmap);
            gray
        };
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

    /// The largest image (in pixels) among the page's objects, forms included.
    fn largest_image(&self, page: FPDF_PAGE) -> Option<(u64, u64)> {
        let b = &self.engine.b;
        let n = unsafe { b.FPDFPage_CountObjects(page) };
        let mut best: Option<(u64, u64)> = None;
        for i in 0..n.max(0) {
            let obj = unsafe { b.FPDFPage_GetObject(page, i) };
            self.visit_object(obj, 0, &mut best);
        }
        best
    }

    fn visit_object(&self, obj: FPDF_PAGEOBJECT, depth: u32, best: &mut Option<(u64, u64)>) {
        let b = &self.engine.b;
        if obj.is_null() || depth > 16 {
            return;
        }
        match unsafe { b.FPDFPageObj_GetType(obj) } {
            PAGEOBJ_IMAGE => {
                let (mut w, mut h) = (0u32, 0u32);
                if unsafe { b.FPDFImageObj_GetImagePixelSize(obj, &mut w, &mut h) } != 0 {
                    let size = (u64::from(w), u64::from(h));
                    if best.is_none_or(|(bw, bh)| size.0 * size.1 > bw * bh) {
                        *best = Some(size);
                    }
                }
            }
            PAGEOBJ_FORM => {
                let n = unsafe { b.FPDFFormObj_CountObjects(obj) };
                for i in 0..n.max(0) {
                    let child = unsafe { b.FPDFFormObj_GetObject(obj, i as _) };
                    self.visit_object(child, depth + 1, best);
                }
            }
            _ => {}
        }
    }
}

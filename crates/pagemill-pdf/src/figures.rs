//! Where a born-digital page has pictures: its image objects and its clusters of vector
//! paths (charts, diagrams), in the displayed frame; and cropping a region of a page.
//!
//! Which regions become figures (size, backgrounds, tables) is decided by
//! `pagemill_core::layout::figures`, which sees the text too.

use pagemill_core::layout::blank::{is_sliver, PageInk};
use pagemill_core::layout::figures::{RawFigure, RawFigureKind};
use pagemill_core::BBox;
use pdfium_render::prelude::{FPDF_PAGE, FPDF_PAGEOBJECT};

use crate::render::{PAGEOBJ_FORM, PAGEOBJ_IMAGE};
use crate::text::{Frame, IDENTITY};
use crate::{Document, PdfError};

/// `FPDF_PAGEOBJ_TEXT`.
const PAGEOBJ_TEXT: i32 = 1;
/// `FPDF_PAGEOBJ_PATH`.
const PAGEOBJ_PATH: i32 = 2;
/// `FPDF_FILLMODE_NONE`.
const FILLMODE_NONE: i32 = 0;
/// Paths thinner than this (points) are rules and underlines, not drawings.
const RULE_WIDTH: f32 = 2.0;
/// Paths nearer than this (points) belong to the same drawing.
const CLUSTER_GAP: f32 = 12.0;
/// A drawing has at least this many paths (a framed box is not a figure)...
const MIN_PATHS: usize = 6;
/// ...of which this many are shapes, not rules: a grid of rules is a table, while a
/// technical drawing of thin lines still has its circles, arrows and slanted lines.
const MIN_SHAPES: usize = 2;
/// Paths considered one by one; a page with more (maps, plots of millions of points) is
/// taken as one drawing over their union, since pairwise clustering is quadratic.
const MAX_CLUSTERED_PATHS: usize = 4000;
/// Objects visited on a page; forms nested in themselves are a loop PDFium does not
/// always break.
const MAX_OBJECTS: u32 = 1_000_000;

/// `FPDFBitmap_BGR`: three bytes a pixel.
const BITMAP_BGR: i32 = 2;
/// `FPDF_ANNOT`: draw annotations.
const RENDER_ANNOT: i32 = 0x01;

/// A cropped region in RGB, rows top to bottom.
pub struct RgbImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width × height × 3` bytes.
    pub pixels: Vec<u8>,
}

/// A 2-D affine matrix `[a b c d e f]` (PDF order).
#[derive(Clone, Copy)]
pub(crate) struct Matrix(pub(crate) [f32; 6]);

impl Matrix {
    const IDENTITY: Matrix = Matrix([1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);

    /// `self` applied first, then `outer`.
    pub(crate) fn then(&self, outer: &Matrix) -> Matrix {
        let [a, b, c, d, e, f] = self.0;
        let [a2, b2, c2, d2, e2, f2] = outer.0;
        Matrix([
            a * a2 + b * c2,
            a * b2 + b * d2,
            c * a2 + d * c2,
            c * b2 + d * d2,
            e * a2 + f * c2 + e2,
            e * b2 + f * d2 + f2,
        ])
    }

    /// The point `(x, y)` transformed.
    pub(crate) fn apply(&self, x: f32, y: f32) -> (f32, f32) {
        let [a, b, c, d, e, f] = self.0;
        (a * x + c * y + e, b * x + d * y + f)
    }

    /// How much lengths grow under the matrix (the square root of its area scale), for
    /// line widths.
    pub(crate) fn scale(&self) -> f32 {
        let [a, b, c, d, _, _] = self.0;
        (a * d - b * c).abs().sqrt()
    }

    /// The box holding rectangle `[l, b, r, t]` after the transformation.
    fn map_rect(&self, l: f32, b: f32, r: f32, t: f32) -> [f32; 4] {
        let pts = [
            self.apply(l, b),
            self.apply(l, t),
            self.apply(r, b),
            self.apply(r, t),
        ];
        let xs = pts.iter().map(|p| p.0);
        let ys = pts.iter().map(|p| p.1);
        [
            xs.clone().fold(f32::INFINITY, f32::min),
            ys.clone().fold(f32::INFINITY, f32::min),
            xs.fold(f32::NEG_INFINITY, f32::max),
            ys.fold(f32::NEG_INFINITY, f32::max),
        ]
    }
}

/// What a walk over a page's objects found.
#[derive(Default)]
pub(crate) struct PageObjects {
    /// Path objects (forms included).
    pub paths: u32,
    /// Candidate figures: every image, and every cluster of drawing paths.
    pub figures: Vec<RawFigure>,
    /// What the objects paint, for telling blank pages.
    pub ink: PageInk,
    /// Straight horizontal and vertical strokes (see [`crate::rules`]).
    pub rules: Vec<BBox>,
}

impl Document<'_> {
    /// Walks the page's objects, forms included, mapping boxes to the displayed frame.
    pub(crate) fn page_objects(&self, page: FPDF_PAGE, frame: &Frame) -> PageObjects {
        let b = &self.engine.b;
        let mut out = PageObjects::default();
        // Path boxes, and whether each is a shape (not a rule).
        let mut drawings: Vec<(BBox, bool)> = Vec::new();
        let page_area = frame.area();
        let n = unsafe { b.FPDFPage_CountObjects(page) }.max(0);
        let mut stack: Vec<(FPDF_PAGEOBJECT, Matrix)> = (0..n)
            .map(|i| (unsafe { b.FPDFPage_GetObject(page, i) }, Matrix::IDENTITY))
            .collect();
        let mut budget = MAX_OBJECTS;
        while let Some((obj, m)) = stack.pop() {
            budget = budget.saturating_sub(1);
            if obj.is_null() || budget == 0 {
                out.ink.truncated = true;
                break;
            }
            let kind = unsafe { b.FPDFPageObj_GetType(obj) };
            if kind == PAGEOBJ_TEXT {
                out.ink.text_objects += 1;
                continue;
            }
            if kind == PAGEOBJ_FORM {
                let mut fm = IDENTITY;
                // Children's boxes are in the form's space.
                let inner = if unsafe { b.FPDFPageObj_GetMatrix(obj, &mut fm) } != 0 {
                    Matrix([fm.a, fm.b, fm.c, fm.d, fm.e, fm.f]).then(&m)
                } else {
                    m
                };
                let k = unsafe { b.FPDFFormObj_CountObjects(obj) }.max(0);
                stack.extend(
                    (0..k).map(|i| (unsafe { b.FPDFFormObj_GetObject(obj, i as _) }, inner)),
                );
                continue;
            }
            if kind != PAGEOBJ_IMAGE && kind != PAGEOBJ_PATH {
                // Shadings, and objects PDFium cannot type: they may paint.
                out.ink.other += 1;
                continue;
            }
            if kind == PAGEOBJ_PATH {
                out.paths += 1;
            }
            // Whether the object paints at all: images do; paths unless neither filled
            // nor stroked.
            let (filled, stroked) = if kind == PAGEOBJ_PATH {
                self.path_draw_mode(obj)
            } else {
                (true, false)
            };
            let paints = filled || stroked;
            if kind == PAGEOBJ_PATH && paints && out.rules.len() < crate::rules::MAX_RULES {
                self.path_rules(obj, &m, frame, stroked, &mut out.rules);
            }
            let (mut l, mut bt, mut r, mut t) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
            let bounds = (unsafe { b.FPDFPageObj_GetBounds(obj, &mut l, &mut bt, &mut r, &mut t) }
                != 0)
                .then(|| m.map_rect(l, bt, r, t))
                .filter(|v| v.iter().all(|v| v.is_finite()))
                .map(|[l, bt, r, t]| frame.map_box(l, bt, r, t));
            if paints {
                count_ink(&mut out.ink, kind == PAGEOBJ_IMAGE, bounds, frame);
            }
            let Some(bbox) = bounds.map(|bb| frame.clip(bb)) else {
                continue;
            };
            if bbox.width() <= 0.0 || bbox.height() <= 0.0 {
                continue;
            }
            if kind == PAGEOBJ_IMAGE {
                out.figures.push(RawFigure {
                    bbox,
                    kind: RawFigureKind::Image,
                    dpi: self.image_dpi(page, obj),
                });
            } else if bbox.width() * bbox.height() < page_area * 0.8 {
                // Page-sized frames and backgrounds are not drawings.
                let shape = bbox.width() >= RULE_WIDTH && bbox.height() >= RULE_WIDTH;
                drawings.push((bbox, shape));
            }
        }
        out.figures
            .extend(cluster(drawings).into_iter().map(|bbox| RawFigure {
                bbox,
                kind: RawFigureKind::Drawing,
                dpi: None,
            }));
        out
    }

    /// Whether a path object is (filled, stroked); taken as stroked when PDFium cannot
    /// tell.
    fn path_draw_mode(&self, obj: FPDF_PAGEOBJECT) -> (bool, bool) {
        let (mut fill, mut stroke) = (FILLMODE_NONE, 0);
        // SAFETY: `obj` is a path object of a loaded page; both outputs are written in place.
        let ok = unsafe {
            self.engine
                .b
                .FPDFPath_GetDrawMode(obj, &mut fill, &mut stroke)
        };
        if ok == 0 {
            return (false, true);
        }
        (fill != FILLMODE_NONE, stroke != 0)
    }

    /// An image object's resolution as placed on the page (pixels per inch).
    fn image_dpi(&self, page: FPDF_PAGE, obj: FPDF_PAGEOBJECT) -> Option<f32> {
        let (h, v) = self.placed_dpi(page, obj)?;
        let dpi = h.max(v);
        (dpi > 0.0).then_some(dpi)
    }

    /// Renders the part `region` (displayed frame, points) of page `index` in colour at
    /// `dpi`, lowered so the crop stays within `max_pixels`. Annotations are drawn, as a
    /// reader sees them.
    pub fn render_region(
        &self,
        index: u32,
        region: BBox,
        dpi: f32,
        max_pixels: u64,
    ) -> Result<RgbImage, PdfError> {
        let b = &self.engine.b;
        let fail = |message: String| PdfError::Page { index, message };
        let loaded = self.load_page(index)?;
        let page = loaded.page;
        let (wpt, hpt) = unsafe { (b.FPDF_GetPageWidthF(page), b.FPDF_GetPageHeightF(page)) };
        let mut scale = dpi.clamp(18.0, 1200.0) / 72.0;
        let px = |s: f32| (region.width() * s).ceil() as u64 * (region.height() * s).ceil() as u64;
        if px(scale) > max_pixels {
            scale *= (max_pixels as f32 / px(scale) as f32).sqrt() * 0.999;
        }
        let w = (region.width() * scale).ceil() as i32;
        let h = (region.height() * scale).ceil() as i32;
        if w < 1 || h < 1 || !(wpt > 0.0 && hpt > 0.0) {
            return Err(fail(format!("figure region {region:?} is empty")));
        }
        let stride = (w as usize * 3 + 3) & !3;
        let mut buf = vec![0u8; stride * h as usize];
        // SAFETY: the bitmap wraps `buf` (h rows of `stride` bytes) and is destroyed before
        // `buf` is read or dropped.
        unsafe {
            let bitmap =
                b.FPDFBitmap_CreateEx(w, h, BITMAP_BGR, buf.as_mut_ptr().cast(), stride as i32);
            if bitmap.is_null() {
                return Err(fail(format!("cannot allocate a {w}×{h} bitmap")));
            }
            let _ = b.FPDFBitmap_FillRect(bitmap, 0, 0, w, h, 0xFFFF_FFFF);
            // The whole page is placed so that the region lands on the bitmap; PDFium clips
            // drawing to the bitmap.
            b.FPDF_RenderPageBitmap(
                bitmap,
                page,
                -(region.x0 * scale).round() as i32,
                -(region.y0 * scale).round() as i32,
                (wpt * scale).round() as i32,
                (hpt * scale).round() as i32,
                0,
                RENDER_ANNOT,
            );
            b.FPDFBitmap_Destroy(bitmap);
        }
        let mut pixels = Vec::with_capacity(w as usize * h as usize * 3);
        for row in buf.chunks_exact(stride) {
            for bgr in row[..w as usize * 3].chunks_exact(3) {
                pixels.extend_from_slice(&[bgr[2], bgr[1], bgr[0]]);
            }
        }
        Ok(RgbImage {
            width: w as u32,
            height: h as u32,
            pixels,
        })
    }
}

/// Counts one painting image or path with box `bounds` (displayed frame, unclipped;
/// `None` when PDFium could not tell it) into `ink`. Objects wholly off the visible page
/// paint nothing there and are not counted; a path without a box is counted as unknown.
fn count_ink(ink: &mut PageInk, image: bool, bounds: Option<BBox>, frame: &Frame) {
    match bounds {
        Some(bb) if frame.outside(bb) => {}
        _ if image => ink.images += 1,
        None => ink.other += 1,
        Some(bb) => {
            // Zero-width lines (PDF line width 0) have an empty box and still paint.
            let bb = frame.clip(bb);
            let (w, h) = (bb.width().max(0.0), bb.height().max(0.0));
            ink.paths += 1;
            ink.path_area += w * h;
            if is_sliver(w, h) {
                ink.sliver_paths += 1;
            }
        }
    }
}

/// Groups path boxes lying within [`CLUSTER_GAP`] of each other; returns the union of every
/// group of at least [`MIN_PATHS`] paths with [`MIN_SHAPES`] shapes.
fn cluster(paths: Vec<(BBox, bool)>) -> Vec<BBox> {
    if paths.len() < MIN_PATHS {
        return Vec::new();
    }
    let boxes: Vec<BBox> = paths.iter().map(|p| p.0).collect();
    if boxes.len() > MAX_CLUSTERED_PATHS {
        let all = boxes.iter().skip(1).fold(boxes[0], |u, b| u.union(b));
        return vec![all];
    }
    let near = |a: &BBox, b: &BBox| {
        a.x0 - CLUSTER_GAP <= b.x1
            && b.x0 - CLUSTER_GAP <= a.x1
            && a.y0 - CLUSTER_GAP <= b.y1
            && b.y0 - CLUSTER_GAP <= a.y1
    };
    // Union-find over the boxes.
    let mut parent: Vec<usize> = (0..boxes.len()).collect();
    fn root(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    for i in 0..boxes.len() {
        for j in i + 1..boxes.len() {
            if near(&boxes[i], &boxes[j]) {
                let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                if a != b {
                    parent[a] = b;
                }
            }
        }
    }
    let mut groups: std::collections::BTreeMap<usize, (BBox, usize, usize)> = Default::default();
    for (i, (b, shape)) in paths.iter().enumerate() {
        let r = root(&mut parent, i);
        let g = groups.entry(r).or_insert((*b, 0, 0));
        g.0 = g.0.union(b);
        g.1 += 1;
        g.2 += usize::from(*shape);
    }
    groups
        .into_values()
        .filter(|(_, n, shapes)| *n >= MIN_PATHS && *shapes >= MIN_SHAPES)
        .map(|(b, _, _)| b)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_paths_cluster_and_lone_boxes_do_not() {
        let mut boxes: Vec<(BBox, bool)> = (0..8)
            .map(|i| {
                let x = 100.0 + i as f32 * 10.0;
                (BBox::new(x, 100.0, x + 8.0, 150.0), true)
            })
            .collect();
        boxes.push((BBox::new(400.0, 400.0, 450.0, 450.0), true));
        let c = cluster(boxes);
        assert_eq!(c, vec![BBox::new(100.0, 100.0, 178.0, 150.0)]);
        // A grid of rules (a table) is no drawing.
        let grid: Vec<(BBox, bool)> = (0..8)
            .map(|i| {
                let y = 100.0 + i as f32 * 12.0;
                (BBox::new(100.0, y, 400.0, y + 0.5), false)
            })
            .collect();
        assert!(cluster(grid).is_empty());
    }

    #[test]
    fn form_matrix_moves_children() {
        let form = Matrix([2.0, 0.0, 0.0, 2.0, 10.0, 20.0]);
        assert_eq!(
            form.then(&Matrix::IDENTITY).map_rect(0.0, 0.0, 5.0, 5.0),
            [10.0, 20.0, 20.0, 30.0]
        );
        let flip = Matrix([1.0, 0.0, 0.0, -1.0, 0.0, 100.0]);
        assert_eq!(
            Matrix::IDENTITY.then(&flip).map_rect(0.0, 10.0, 5.0, 20.0),
            [0.0, 80.0, 5.0, 90.0]
        );
    }
}

//! The straight horizontal and vertical strokes of a page's paths — table rules, cell
//! borders, the edges of filled cells — as thin boxes in the displayed frame, for
//! `pagemill_core::layout::tables` to build cell grids from.
//!
//! A path object is read segment by segment (`FPDFPath_GetPathSegment`), not by its box:
//! producers draw a whole grid as one path as often as one rectangle per cell.

use pagemill_core::BBox;
use pdfium_render::prelude::FPDF_PAGEOBJECT;

use crate::figures::Matrix;
use crate::text::{Frame, IDENTITY};
use crate::Document;

/// `FPDF_SEGMENT_LINETO`.
const SEGMENT_LINETO: i32 = 0;
/// `FPDF_SEGMENT_MOVETO`.
const SEGMENT_MOVETO: i32 = 2;
/// Rules kept on a page. A table page has tens to hundreds; a plot or a map can have
/// hundreds of thousands of tiny strokes, which the grid builder (pairwise) must not see.
pub(crate) const MAX_RULES: usize = 4000;
/// Segments read from one path: a path of more is a drawing, not a table's rules.
const MAX_SEGMENTS: i32 = 20_000;
/// A segment is straight along an axis when its other coordinate moves less than this
/// (points).
const AXIS_TOLERANCE: f32 = 0.5;
/// Shortest rule kept (points): shorter strokes are tick marks, hatching and glyph-like
/// decorations.
const MIN_LENGTH: f32 = 3.0;
/// Thickest line taken as a rule (points); thicker strokes are bars and borders of
/// shapes, and are left to the figure finder.
const MAX_STROKE: f32 = 3.0;

impl Document<'_> {
    /// Appends the axis-aligned straight segments of path `obj` (inside a form placed by
    /// `outer`) to `rules`, each as a box as thick as its stroke. A filled path with no
    /// stroke contributes the edges of its shape: cell shading outlines cells as rules do.
    pub(crate) fn path_rules(
        &self,
        obj: FPDF_PAGEOBJECT,
        outer: &Matrix,
        frame: &Frame,
        stroked: bool,
        rules: &mut Vec<BBox>,
    ) {
        let b = &self.engine.b;
        let mut pm = IDENTITY;
        // SAFETY: `obj` is a path object of a loaded page; the outputs are written in place.
        let matrix = if unsafe { b.FPDFPageObj_GetMatrix(obj, &mut pm) } != 0 {
            Matrix([pm.a, pm.b, pm.c, pm.d, pm.e, pm.f]).then(outer)
        } else {
            *outer
        };
        let mut width = 0.0f32;
        // SAFETY: as above.
        if stroked && unsafe { b.FPDFPageObj_GetStrokeWidth(obj, &mut width) } == 0 {
            width = 1.0;
        }
        // The stroke width is in the path's space; its scale is the matrix's.
        let width = if stroked {
            (width * matrix.scale()).max(0.1)
        } else {
            0.0
        };
        if width > MAX_STROKE {
            return;
        }
        let n = unsafe { b.FPDFPath_CountSegments(obj) };
        if !(1..=MAX_SEGMENTS).contains(&n) {
            return;
        }
        let mut start: Option<(f32, f32)> = None;
        let mut current: Option<(f32, f32)> = None;
        for i in 0..n {
            if rules.len() >= MAX_RULES {
                return;
            }
            // SAFETY: `i` is below the path's segment count; the segment belongs to `obj`.
            let seg = unsafe { b.FPDFPath_GetPathSegment(obj, i) };
            if seg.is_null() {
                return;
            }
            let (mut x, mut y) = (0.0f32, 0.0f32);
            if unsafe { b.FPDFPathSegment_GetPoint(seg, &mut x, &mut y) } == 0 {
                return;
            }
            let point = matrix.apply(x, y);
            let kind = unsafe { b.FPDFPathSegment_GetType(seg) };
            if kind == SEGMENT_MOVETO {
                start = Some(point);
            } else if let Some(from) = current.filter(|_| kind == SEGMENT_LINETO) {
                push_rule(rules, frame, from, point, width);
            }
            current = Some(point);
            if unsafe { b.FPDFPathSegment_GetClose(seg) } != 0 {
                if let Some(s) = start {
                    push_rule(rules, frame, point, s, width);
                }
                current = start;
            }
        }
    }
}

/// Adds the segment `a`–`b` (user space) to `rules` when it is straight along an axis and
/// long enough, as a box `width` thick in the displayed frame.
fn push_rule(rules: &mut Vec<BBox>, frame: &Frame, a: (f32, f32), b: (f32, f32), width: f32) {
    let p = frame.map_box(a.0, a.1, a.0, a.1);
    let q = frame.map_box(b.0, b.1, b.0, b.1);
    let (dx, dy) = ((p.x0 - q.x0).abs(), (p.y0 - q.y0).abs());
    if !(dx.is_finite() && dy.is_finite()) {
        return;
    }
    let half = width / 2.0;
    let rule = if dy < AXIS_TOLERANCE && dx >= MIN_LENGTH {
        let y = (p.y0 + q.y0) / 2.0;
        BBox::new(p.x0.min(q.x0), y - half, p.x0.max(q.x0), y + half)
    } else if dx < AXIS_TOLERANCE && dy >= MIN_LENGTH {
        let x = (p.x0 + q.x0) / 2.0;
        BBox::new(x - half, p.y0.min(q.y0), x + half, p.y0.max(q.y0))
    } else {
        return;
    };
    if !frame.outside(rule) {
        rules.push(frame.clip(rule));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> Frame {
        Frame {
            left: 0.0,
            bottom: 0.0,
            right: 600.0,
            top: 800.0,
            rotation: 0,
        }
    }

    #[test]
    fn straight_segments_become_thin_boxes_and_slanted_ones_do_not() {
        let mut rules = Vec::new();
        push_rule(&mut rules, &frame(), (10.0, 700.0), (200.0, 700.0), 1.0);
        push_rule(&mut rules, &frame(), (10.0, 700.0), (10.0, 600.0), 0.0);
        push_rule(&mut rules, &frame(), (10.0, 700.0), (100.0, 600.0), 1.0);
        push_rule(&mut rules, &frame(), (10.0, 700.0), (11.0, 700.0), 1.0);
        assert_eq!(rules.len(), 2, "{rules:?}");
        // Displayed frame: y grows downwards from the top.
        assert_eq!(rules[0], BBox::new(10.0, 99.5, 200.0, 100.5));
        assert_eq!(rules[1], BBox::new(10.0, 100.0, 10.0, 200.0));
    }
}

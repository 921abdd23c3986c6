//! Stage 3: reading order by recursive XY-cut.
//!
//! A region's blocks are first split into horizontal bands wherever a horizontal strip
//! holds no block (top to bottom); a region that is one band is split into columns wherever
//! a vertical strip holds no block (left to right); each part is cut again. Bands first
//! keeps rows of tables and forms together; columns of a multi-column page still come out
//! one after another because their text overlaps vertically.

use super::blocks::LineGroup;
use crate::model::BBox;

/// Above this many blocks a page falls back to a plain top-to-bottom, left-to-right sort
/// (XY-cut is quadratic in the worst case).
const MAX_XY_CUT_BLOCKS: usize = 3000;

/// Sorts blocks into reading order.
pub fn sort_reading_order(groups: &mut Vec<LineGroup>) {
    if groups.len() <= 1 {
        return;
    }
    let boxes: Vec<BBox> = groups.iter().map(|g| g.bbox).collect();
    let mut idx: Vec<usize> = (0..groups.len()).collect();
    if groups.len() > MAX_XY_CUT_BLOCKS {
        idx.sort_by(|&a, &b| cmp_pos(&boxes[a], &boxes[b]));
    } else {
        let mut out = Vec::with_capacity(idx.len());
        xy_cut(&mut idx, &boxes, &mut out);
        idx = out;
    }
    let mut slots: Vec<Option<LineGroup>> = std::mem::take(groups).into_iter().map(Some).collect();
    groups.extend(idx.into_iter().filter_map(|i| slots[i].take()));
}

fn cmp_pos(a: &BBox, b: &BBox) -> std::cmp::Ordering {
    a.y0.total_cmp(&b.y0).then(a.x0.total_cmp(&b.x0))
}

/// Splits `idx` where a strip along one axis holds no block. Returns the parts, or `None`
/// when the region is one piece along that axis.
fn split(idx: &mut [usize], boxes: &[BBox], horizontal: bool) -> Option<Vec<Vec<usize>>> {
    let lo = |b: &BBox| if horizontal { b.y0 } else { b.x0 };
    let hi = |b: &BBox| if horizontal { b.y1 } else { b.x1 };
    idx.sort_by(|&a, &b| lo(&boxes[a]).total_cmp(&lo(&boxes[b])));
    let mut parts = vec![vec![idx[0]]];
    let mut reach = hi(&boxes[idx[0]]);
    for &i in &idx[1..] {
        let b = &boxes[i];
        // Boxes that merely touch (a shared edge, rounding) are not a gap; allow a small
        // overlap tolerance relative to the box size so descenders do not glue bands.
        let tol = if horizontal {
            0.1 * b.height().min(12.0)
        } else {
            0.5
        };
        if lo(b) >= reach - tol {
            parts.push(vec![i]);
        } else if let Some(last) = parts.last_mut() {
            last.push(i);
        }
        reach = reach.max(hi(b));
    }
    (parts.len() > 1).then_some(parts)
}

fn xy_cut(idx: &mut [usize], boxes: &[BBox], out: &mut Vec<usize>) {
    if idx.len() <= 1 {
        out.extend_from_slice(idx);
        return;
    }
    let parts = split(idx, boxes, true).or_else(|| split(idx, boxes, false));
    match parts {
        Some(parts) => {
            for mut p in parts {
                xy_cut(&mut p, boxes, out);
            }
        }
        None => {
            // Overlapping blocks that no strip separates: read them by position.
            idx.sort_by(|&a, &b| cmp_pos(&boxes[a], &boxes[b]));
            out.extend_from_slice(idx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order_of(boxes: &[[f32; 4]]) -> Vec<usize> {
        let bs: Vec<BBox> = boxes.iter().map(|b| BBox::from(*b)).collect();
        let mut idx: Vec<usize> = (0..bs.len()).collect();
        let mut out = Vec::new();
        xy_cut(&mut idx, &bs, &mut out);
        out
    }

    #[test]
    fn title_then_two_columns_then_footer() {
        // 0: right column, 1: footer, 2: title, 3: left column top, 4: left column bottom.
        let boxes = [
            [320.0, 100.0, 560.0, 700.0],
            [50.0, 750.0, 560.0, 760.0],
            [50.0, 40.0, 560.0, 70.0],
            [50.0, 100.0, 290.0, 380.0],
            [50.0, 390.0, 290.0, 700.0],
        ];
        assert_eq!(order_of(&boxes), vec![2, 3, 4, 0, 1]);
    }

    #[test]
    fn table_rows_read_row_by_row() {
        // Two rows of three cells, given column by column.
        let boxes = [
            [50.0, 100.0, 100.0, 110.0],
            [50.0, 120.0, 100.0, 130.0],
            [150.0, 100.0, 200.0, 110.0],
            [150.0, 120.0, 200.0, 130.0],
            [250.0, 100.0, 300.0, 110.0],
            [250.0, 120.0, 300.0, 130.0],
        ];
        assert_eq!(order_of(&boxes), vec![0, 2, 4, 1, 3, 5]);
    }
}

//! Stage 3: reading order by recursive XY-cut.
//!
//! A region whose blocks fall into columns (a vertical strip, a gutter, holds no block) is
//! read column by column, left to right; otherwise it is split into horizontal bands
//! wherever a horizontal strip holds no block, top to bottom; each part is cut again.
//! Columns win over bands because gaps between paragraphs of neighbouring columns can line
//! up by chance. The exception is a region whose sides are *row-aligned* (blocks on either
//! side of the gutter span the same heights, as the cells of a table or a form do): that is
//! read band by band, row by row.

use super::blocks::LineGroup;
use crate::model::{BBox, Block};

/// Above this many blocks a page falls back to a plain top-to-bottom, left-to-right sort
/// (XY-cut is quadratic in the worst case).
const MAX_XY_CUT_BLOCKS: usize = 3000;

/// Sorts blocks into reading order.
pub fn sort_reading_order(groups: &mut Vec<LineGroup>) {
    if groups.len() <= 1 {
        return;
    }
    let boxes: Vec<BBox> = groups.iter().map(|g| g.bbox).collect();
    let idx = reading_order(&boxes);
    let mut slots: Vec<Option<LineGroup>> = std::mem::take(groups).into_iter().map(Some).collect();
    groups.extend(idx.into_iter().filter_map(|i| slots[i].take()));
}

/// Inserts `new` blocks among `blocks` (already in reading order) where a reader meets
/// them: each goes before the first block that reads after it, and the old blocks keep
/// their order. Returns, for each new block, its index in `blocks`.
pub fn insert_in_reading_order(blocks: &mut Vec<Block>, new: Vec<Block>) -> Vec<usize> {
    let old = blocks.len();
    let boxes: Vec<BBox> = blocks.iter().chain(new.iter()).map(|b| b.bbox).collect();
    let mut rank = vec![0usize; boxes.len()];
    for (r, i) in reading_order(&boxes).into_iter().enumerate() {
        rank[i] = r;
    }
    let mut ranks: Vec<usize> = rank[..old].to_vec();
    let mut order: Vec<usize> = (0..new.len()).collect();
    order.sort_by_key(|&k| rank[old + k]);
    let mut slots: Vec<Option<Block>> = new.into_iter().map(Some).collect();
    let mut placed = vec![0usize; slots.len()];
    for k in order {
        let r = rank[old + k];
        let at = ranks.iter().position(|&x| x > r).unwrap_or(ranks.len());
        ranks.insert(at, r);
        if let Some(b) = slots[k].take() {
            blocks.insert(at, b);
        }
        // Blocks placed earlier read before this one, so they never move; kept general.
        for p in placed.iter_mut().filter(|p| **p >= at) {
            *p += 1;
        }
        placed[k] = at;
    }
    placed
}

/// The indices of `boxes` in reading order.
pub fn reading_order(boxes: &[BBox]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..boxes.len()).collect();
    if boxes.len() > MAX_XY_CUT_BLOCKS {
        idx.sort_by(|&a, &b| cmp_pos(&boxes[a], &boxes[b]));
        return idx;
    }
    let mut out = Vec::with_capacity(idx.len());
    xy_cut(&mut idx, boxes, &mut out);
    out
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

/// Whether neighbouring columns look like the cells of a table: most blocks of the smaller
/// side have a partner on the other side spanning nearly the same heights.
fn row_aligned(parts: &[Vec<usize>], boxes: &[BBox]) -> bool {
    parts.windows(2).any(|w| {
        let (a, b) = if w[0].len() <= w[1].len() {
            (&w[0], &w[1])
        } else {
            (&w[1], &w[0])
        };
        if a.len() < 2 {
            return false;
        }
        let matched = a
            .iter()
            .filter(|&&i| {
                b.iter().any(|&j| {
                    let (p, q) = (&boxes[i], &boxes[j]);
                    p.y_overlap(q) >= 0.8 * p.height().max(q.height()).max(0.1)
                })
            })
            .count();
        matched * 2 > a.len()
    })
}

/// Whether a column after the first starts clearly above it: then the region is a banner
/// (title, heading) over columns, and bands must come first.
fn later_column_starts_higher(parts: &[Vec<usize>], boxes: &[BBox]) -> bool {
    let top = |p: &Vec<usize>| p.iter().map(|&i| boxes[i].y0).fold(f32::INFINITY, f32::min);
    let Some(first) = parts.first() else {
        return false;
    };
    let first_top = top(first);
    let line = first
        .iter()
        .map(|&i| boxes[i].height())
        .fold(f32::INFINITY, f32::min)
        .min(14.0);
    parts[1..].iter().any(|p| top(p) < first_top - line)
}

fn xy_cut(idx: &mut [usize], boxes: &[BBox], out: &mut Vec<usize>) {
    if idx.len() <= 1 {
        out.extend_from_slice(idx);
        return;
    }
    let columns = split(idx, boxes, false);
    let parts = match columns {
        Some(c) if !row_aligned(&c, boxes) && !later_column_starts_higher(&c, boxes) => Some(c),
        columns => split(idx, boxes, true).or(columns),
    };
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
    fn columns_win_over_a_chance_gap_that_lines_up() {
        // Left: two paragraphs with a gap at 369–383; right: 43–357 and 370–409.
        let boxes = [
            [72.0, 43.0, 309.0, 369.6],
            [321.0, 43.0, 558.0, 357.0],
            [72.0, 383.0, 309.0, 482.0],
            [321.0, 370.8, 558.0, 409.0],
        ];
        assert_eq!(order_of(&boxes), vec![0, 2, 1, 3]);
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

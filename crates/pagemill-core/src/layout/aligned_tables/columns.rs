//! Columns of an aligned table: gutters that the rows leave free, and each row's words
//! grouped into cells between them.

use super::{Row, Word, MIN_GUTTER_EM, MIN_MONO_GUTTER_ADVANCES, WORD_GAP_EM};
use crate::model::BBox;
/// Column intervals (x0, x1) from the gutters of a region's rows.
pub(super) fn columns_of(rows: &[&Row], extent: BBox) -> Option<Vec<(f32, f32)>> {
    let words: Vec<&Word> = rows.iter().flat_map(|r| r.text_words()).collect();
    let mono = words.iter().filter(|w| w.mono).count();
    let mut sizes: Vec<f32> = words.iter().map(|w| w.size).collect();
    let mut advances: Vec<f32> = words.iter().map(|w| w.advance).collect();
    let size = median(&mut sizes)?;
    let min_width = if 2 * mono > words.len() {
        MIN_MONO_GUTTER_ADVANCES * median(&mut advances)?
    } else {
        MIN_GUTTER_EM * size
    };
    let lines: Vec<Vec<(f32, f32)>> = rows
        .iter()
        .map(|r| r.text_words().map(|w| (w.bbox.x0, w.bbox.x1)).collect())
        .collect();
    let cuts = gutters(&lines, extent.x0, extent.x1, min_width);
    if cuts.is_empty() {
        return None;
    }
    let mut columns = Vec::with_capacity(cuts.len() + 1);
    let mut left = extent.x0;
    for (g0, g1) in cuts {
        columns.push((left, g0));
        left = g1;
    }
    columns.push((left, extent.x1));
    Some(columns)
}

/// Column gutters between `x0` and `x1`: x-ranges at least `min_width` wide
/// that at most one line in eight (and at least one) crosses, with ink on both sides. Each
/// line is its ink as x-intervals.
pub(in crate::layout) fn gutters(
    lines: &[Vec<(f32, f32)>],
    x0: f32,
    x1: f32,
    min_width: f32,
) -> Vec<(f32, f32)> {
    const BIN: f32 = 0.5;
    let nbins = (((x1 - x0) / BIN).ceil().max(1.0) as usize) + 1;
    if nbins > 20_000 || !x0.is_finite() || !x1.is_finite() {
        return Vec::new();
    }
    let mut cover = vec![0u32; nbins];
    let mut seen = vec![false; nbins];
    for line in lines {
        seen.iter_mut().for_each(|s| *s = false);
        for &(a, b) in line {
            // Bins [i·BIN, (i+1)·BIN) that the ink [a, b) touches.
            let a = ((a - x0) / BIN).floor().max(0.0) as usize;
            let b = ((((b - x0) / BIN).ceil() - 1.0).max(0.0) as usize).min(nbins - 1);
            for s in seen.iter_mut().take(b + 1).skip(a) {
                *s = true;
            }
        }
        for (c, s) in cover.iter_mut().zip(&seen) {
            *c += u32::from(*s);
        }
    }
    let allowance = lines.len().div_ceil(8).max(1) as u32;
    let min_bins = (min_width / BIN).ceil().max(1.0) as usize;
    let mut cuts: Vec<(f32, f32)> = Vec::new();
    let mut run_start = None;
    for (i, &c) in cover.iter().enumerate() {
        match (c <= allowance, run_start) {
            (true, None) => run_start = Some(i),
            (false, Some(s)) => {
                if i - s >= min_bins && s > 0 {
                    cuts.push((x0 + s as f32 * BIN, x0 + i as f32 * BIN));
                }
                run_start = None;
            }
            _ => {}
        }
    }
    cuts
}

/// The columns a box lies over: first and last.
pub(super) fn span_of(b: &BBox, columns: &[(f32, f32)]) -> (usize, usize) {
    let first = columns
        .iter()
        .position(|c| b.x0 < c.1)
        .unwrap_or(columns.len() - 1);
    let last = columns
        .iter()
        .rposition(|c| b.x1 > c.0)
        .unwrap_or(0)
        .max(first);
    (first, last)
}

/// A row's cells: runs of words not parted by a gutter, with the columns they cover; runs
/// that share a column become one cell.
pub(super) fn row_cells<'a>(
    row: &'a Row,
    columns: &[(f32, f32)],
) -> Vec<(usize, usize, Vec<&'a Word>)> {
    let mut cells: Vec<(usize, usize, Vec<&Word>)> = Vec::new();
    let mut last: Option<&Word> = None;
    for w in row.text_words() {
        let (a, b) = span_of(&w.bbox, columns);
        // A word space keeps words in one cell even over a gutter (a header set across
        // columns); a fixed-pitch table's columns may stand one space apart, so not there.
        let spaced = last.is_some_and(|l| !w.mono && w.bbox.x0 - l.bbox.x1 < WORD_GAP_EM * w.size);
        last = Some(w);
        match cells.last_mut() {
            Some(cell) if a <= cell.1 || spaced => {
                cell.1 = cell.1.max(b);
                cell.2.push(w);
            }
            _ => cells.push((a, b, vec![w])),
        }
    }
    cells
}

/// The median of `v` (reordered); `None` when empty.
pub(in crate::layout) fn median(v: &mut [f32]) -> Option<f32> {
    v.sort_by(f32::total_cmp);
    v.get(v.len() / 2).copied()
}

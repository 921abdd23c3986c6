//! Ruled tables, refined: a ruled row or column that holds several rows or columns of the
//! table without rules between them is split where its lines start together (rows) or
//! where its lines leave a gutter free (columns).

use super::aligned_tables::{gutters, median};
use super::lines::TextLine;
use super::table_grid::{Grid, GridCell};
use super::{FontInfo, RawChar};
use crate::model::BBox;
/// Fewest rows a ruled row must hold, by its lines, before it is split: one or two
/// bands of lines in every column are a tall row of wrapped cells.
const MIN_UNRULED_ROWS: usize = 3;

/// A finer grid when some base rows hold several table rows without rules between them:
/// a new row starts where lines begin in at least half the row's columns with text (and
/// two at least), so a wrapped cell's second line stays in its row. `None` when no row is
/// split.
pub(super) fn split_unruled_rows(grid: &Grid, cell_lines: &[Vec<TextLine>]) -> Option<Grid> {
    let nr = grid.rows.len() - 1;
    let mut extra: Vec<f32> = Vec::new();
    for r in 0..nr {
        // (line box, column, starts in lower case) of the single-row cells of this row.
        let mut lines: Vec<(BBox, usize, bool)> = grid
            .cells
            .iter()
            .zip(cell_lines)
            .filter(|(c, _)| c.row == r && c.rowspan == 1)
            .flat_map(|(c, ls)| {
                ls.iter().map(move |l| {
                    let lower = l.text.chars().next().is_some_and(char::is_lowercase);
                    (l.bbox, c.col, lower)
                })
            })
            .collect();
        lines.sort_by(|a, b| a.0.y0.total_cmp(&b.0.y0));
        let mut bands: Vec<Band> = Vec::new();
        for (b, col, lower) in lines {
            match bands.last_mut() {
                Some(band) if b.y0 < band.y1 - 0.3 * b.height() => {
                    band.y1 = band.y1.max(b.y1);
                    if !band.cols.contains(&col) {
                        band.cols.push(col);
                    }
                    band.lower += usize::from(lower);
                    band.lines += 1;
                }
                _ => bands.push(Band {
                    y0: b.y0,
                    y1: b.y1,
                    cols: vec![col],
                    lower: usize::from(lower),
                    lines: 1,
                }),
            }
        }
        let mut active: Vec<usize> = bands.iter().flat_map(|b| b.cols.iter().copied()).collect();
        active.sort_unstable();
        active.dedup();
        let need = active.len().div_ceil(2).max(2);
        // A band without a line in the first column whose lines mostly start in lower case
        // continues wrapped cells (a header of several lines per column): not a new row.
        let starts: Vec<usize> = (1..bands.len())
            .filter(|&k| {
                let b = &bands[k];
                b.cols.len() >= need && (b.cols.contains(&0) || 2 * b.lower < b.lines)
            })
            .collect();
        if starts.len() + 1 >= MIN_UNRULED_ROWS {
            extra.extend(
                starts
                    .iter()
                    .map(|&k| (bands[k - 1].y1 + bands[k].y0) / 2.0),
            );
        }
    }
    if extra.is_empty() {
        return None;
    }
    let mut rows = grid.rows.clone();
    rows.extend(extra);
    rows.sort_by(f32::total_cmp);
    // Each old cell covers the new rows inside its old rows; a single-row cell of a split
    // row becomes one cell per new row.
    let new_index = |y: f32| rows.iter().position(|&v| v == y).unwrap_or(0);
    let mut cells = Vec::new();
    for c in &grid.cells {
        let (top, bottom) = (
            new_index(grid.rows[c.row]),
            new_index(grid.rows[c.row + c.rowspan]),
        );
        let pieces: Vec<(usize, usize)> = if c.rowspan == 1 {
            (top..bottom).map(|r| (r, 1)).collect()
        } else {
            vec![(top, bottom - top)]
        };
        for (row, rowspan) in pieces {
            cells.push(GridCell {
                row,
                rowspan,
                bbox: BBox::new(c.bbox.x0, rows[row], c.bbox.x1, rows[row + rowspan]),
                ..*c
            });
        }
    }
    cells.sort_by_key(|c| (c.row, c.col));
    Some(Grid {
        rows,
        cols: grid.cols.clone(),
        cells,
    })
}

/// A finer grid when some ruled columns hold several columns without rules between them:
/// gutters that the lines of the column's single-column cells leave free, with text on both
/// sides in at least half the lines. A cell whose text crosses a new boundary spans it.
/// `None` when no column is split.
pub(super) fn split_unruled_cols(
    grid: &Grid,
    chars: &[RawChar],
    fonts: &[FontInfo],
    members: &[Vec<usize>],
) -> Option<Grid> {
    let nc = grid.cols.len() - 1;
    let mut extra: Vec<f32> = Vec::new();
    for c in 0..nc {
        let mut ink: Vec<&RawChar> = grid
            .cells
            .iter()
            .zip(members)
            .filter(|(cell, _)| cell.col == c && cell.colspan == 1)
            .flat_map(|(_, m)| m.iter().map(|&i| &chars[i]))
            .filter(|ch| !ch.ch.is_whitespace())
            .collect();
        ink.sort_by(|a, b| a.bbox.cy().total_cmp(&b.bbox.cy()));
        // Lines: characters whose centres fall in the band of the line before.
        let mut lines: Vec<(BBox, Vec<(f32, f32)>)> = Vec::new();
        let mut sizes = Vec::with_capacity(ink.len());
        let mut advances = Vec::with_capacity(ink.len());
        let mut mono = 0usize;
        for ch in ink {
            sizes.push(ch.size);
            advances.push(ch.bbox.width());
            mono += usize::from(fonts.get(ch.font as usize).is_some_and(|f| f.mono));
            match lines.last_mut() {
                Some((band, xs)) if ch.bbox.cy() < band.y1 => {
                    *band = band.union(&ch.bbox);
                    xs.push((ch.bbox.x0, ch.bbox.x1));
                }
                _ => lines.push((ch.bbox, vec![(ch.bbox.x0, ch.bbox.x1)])),
            }
        }
        if lines.len() < MIN_UNRULED_ROWS {
            continue;
        }
        // As wide as an aligned table's gutter (see `aligned_tables`).
        let min_width = if 2 * mono > sizes.len() {
            0.7 * median(&mut advances).unwrap_or(0.0)
        } else {
            0.6 * median(&mut sizes).unwrap_or(0.0)
        };
        let xs: Vec<Vec<(f32, f32)>> = lines.into_iter().map(|(_, xs)| xs).collect();
        for (g0, g1) in gutters(&xs, grid.cols[c], grid.cols[c + 1], min_width) {
            let left = xs.iter().filter(|l| l.iter().any(|&(a, _)| a < g0)).count();
            let right = xs.iter().filter(|l| l.iter().any(|&(_, b)| b > g1)).count();
            if 2 * left >= xs.len() && 2 * right >= xs.len() {
                extra.push((g0 + g1) / 2.0);
            }
        }
    }
    if extra.is_empty() {
        return None;
    }
    let mut cols = grid.cols.clone();
    cols.extend(extra);
    cols.sort_by(f32::total_cmp);
    let new_index = |x: f32| cols.iter().position(|&v| v == x).unwrap_or(0);
    let mut cells = Vec::new();
    for (cell, m) in grid.cells.iter().zip(members) {
        let (left, right) = (
            new_index(grid.cols[cell.col]),
            new_index(grid.cols[cell.col + cell.colspan]),
        );
        let crossed = cols[left + 1..right].iter().any(|&x| {
            m.iter()
                .any(|&i| chars[i].bbox.x0 < x && chars[i].bbox.x1 > x && !chars[i].generated)
        });
        let pieces: Vec<(usize, usize)> = if cell.colspan == 1 && !crossed {
            (left..right).map(|k| (k, 1)).collect()
        } else {
            vec![(left, right - left)]
        };
        for (col, colspan) in pieces {
            cells.push(GridCell {
                col,
                colspan,
                bbox: BBox::new(cols[col], cell.bbox.y0, cols[col + colspan], cell.bbox.y1),
                ..*cell
            });
        }
    }
    cells.sort_by_key(|c| (c.row, c.col));
    Some(Grid {
        rows: grid.rows.clone(),
        cols,
        cells,
    })
}

/// A finer grid when cells span columns only because a separator is missing (rows told
/// apart by shading, with rules in the header only): a spanning cell whose characters sit in
/// two base columns or more and never cross a column boundary becomes one cell per column.
/// A header set over several columns crosses a boundary and keeps its span. `None` when
/// no cell is split.
pub(super) fn split_aligned_spans(
    grid: &Grid,
    chars: &[RawChar],
    members: &[Vec<usize>],
) -> Option<Grid> {
    let mut cells = Vec::with_capacity(grid.cells.len());
    let mut split = false;
    for (cell, m) in grid.cells.iter().zip(members) {
        let inner = &grid.cols[cell.col + 1..cell.col + cell.colspan];
        let words = word_boxes(m, chars);
        let crosses = words
            .iter()
            .any(|w| inner.iter().any(|&x| w.x0 < x - 0.5 && w.x1 > x + 0.5));
        let mut used: Vec<usize> = words
            .iter()
            .map(|w| inner.partition_point(|&x| x <= (w.x0 + w.x1) / 2.0))
            .collect();
        used.sort_unstable();
        used.dedup();
        if cell.colspan > 1 && !crosses && used.len() >= 2 {
            split = true;
            for col in cell.col..cell.col + cell.colspan {
                cells.push(GridCell {
                    col,
                    colspan: 1,
                    bbox: BBox::new(
                        grid.cols[col],
                        cell.bbox.y0,
                        grid.cols[col + 1],
                        cell.bbox.y1,
                    ),
                    ..*cell
                });
            }
        } else {
            cells.push(*cell);
        }
    }
    if !split {
        return None;
    }
    cells.sort_by_key(|c| (c.row, c.col));
    Some(Grid {
        rows: grid.rows.clone(),
        cols: grid.cols.clone(),
        cells,
    })
}

/// The boxes of the words among `members` (character indices in stream order): runs of
/// characters on one line without a space or a gap between them.
fn word_boxes(members: &[usize], chars: &[RawChar]) -> Vec<BBox> {
    let mut words: Vec<BBox> = Vec::new();
    let mut last: Option<&RawChar> = None;
    for &i in members {
        let c = &chars[i];
        if c.ch.is_whitespace() {
            last = None;
            continue;
        }
        let joins = last.is_some_and(|l| {
            let gap = c.bbox.x0 - l.bbox.x1;
            gap.abs() < 0.15 * c.size.max(1.0) && l.bbox.y_overlap(&c.bbox) > 0.0
        });
        match words.last_mut() {
            Some(w) if joins => *w = w.union(&c.bbox),
            _ => words.push(c.bbox),
        }
        last = Some(c);
    }
    words
}

/// Lines of a ruled row that overlap vertically: one line of the table's text.
struct Band {
    y0: f32,
    y1: f32,
    /// Columns with a line in the band.
    cols: Vec<usize>,
    /// Lines starting with a lower-case letter.
    lower: usize,
    lines: usize,
}

/// `grid` without the base rows and columns that hold no text (a thin band between a double
/// rule, a spacer column): their single cells go, spanning cells across them shrink.
pub(super) fn drop_empty_bands(
    grid: &Grid,
    cell_lines: Vec<Vec<TextLine>>,
) -> (Grid, Vec<Vec<TextLine>>) {
    let mut grid = grid.clone();
    let mut lines = cell_lines;
    for vertical in [false, true] {
        let n = if vertical {
            grid.cols.len()
        } else {
            grid.rows.len()
        } - 1;
        // Walk from the last band so removals keep earlier indices.
        for band in (0..n).rev() {
            let start = |c: &GridCell| {
                if vertical {
                    (c.col, c.colspan)
                } else {
                    (c.row, c.rowspan)
                }
            };
            let empty = grid
                .cells
                .iter()
                .zip(&lines)
                .filter(|(c, _)| start(c).0 <= band && band < start(c).0 + start(c).1)
                .all(|(c, l)| l.is_empty() || start(c).1 > 1);
            let bands_left = if vertical {
                grid.cols.len()
            } else {
                grid.rows.len()
            } - 1;
            if !empty || bands_left <= 1 {
                continue;
            }
            let mut kept_cells = Vec::with_capacity(grid.cells.len());
            let mut kept_lines = Vec::with_capacity(lines.len());
            for (mut c, l) in grid.cells.iter().copied().zip(lines) {
                let (s0, sp) = start(&c);
                let (s0, sp) = if s0 <= band && band < s0 + sp {
                    if sp == 1 {
                        continue;
                    }
                    (s0, sp - 1)
                } else if s0 > band {
                    (s0 - 1, sp)
                } else {
                    (s0, sp)
                };
                if vertical {
                    c.col = s0;
                    c.colspan = sp;
                } else {
                    c.row = s0;
                    c.rowspan = sp;
                }
                kept_cells.push(c);
                kept_lines.push(l);
            }
            // The band's space goes to its neighbour.
            let bounds = if vertical {
                &mut grid.cols
            } else {
                &mut grid.rows
            };
            let remove = if band + 1 < bounds.len() - 1 {
                band + 1
            } else {
                band
            };
            bounds.remove(remove);
            grid.cells = kept_cells;
            lines = kept_lines;
        }
    }
    // Cell boxes follow the bounds.
    for c in &mut grid.cells {
        c.bbox = BBox::new(
            grid.cols[c.col],
            grid.rows[c.row],
            grid.cols[c.col + c.colspan],
            grid.rows[c.row + c.rowspan],
        );
    }
    (grid, lines)
}

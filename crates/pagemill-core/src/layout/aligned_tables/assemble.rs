//! An aligned table's grid: where its header ends, its header cells stacked and spanning,
//! then one row per line of the body.

use super::super::table_grid::{Grid, GridCell};
use super::{Row, RowCells};
use crate::model::BBox;
/// How many of `rows` form the header: those above the header's rule when a rule across the
/// table lies between rows in its upper half; else those above the first row that fills
/// most columns without spanning, when that is at most three rows.
pub(super) fn header_end(
    region: &[Row],
    rows: &[&Row],
    cells: &[RowCells],
    ncols: usize,
    rules: &[BBox],
    extent: BBox,
) -> usize {
    // Rules across the table: drawn ones (often drawn in pieces) and rows of typed dashes.
    let mut across: Vec<f32> = horizontal_rules(rules)
        .iter()
        .filter(|r| r.x_overlap(&extent) >= 0.6 * extent.width())
        .map(|r| r.cy())
        .collect();
    across.extend(
        region
            .iter()
            .filter(|r| r.is_typed_rule())
            .map(|r| r.bbox.cy()),
    );
    // Rules between rows in the upper half: the lowest ends the header (those above it
    // underline spanning header cells), unless rules part every row.
    let half = rows.len() / 2;
    let ruled: Vec<usize> = (1..=half)
        .filter(|&k| {
            let (above, below) = (rows[k - 1].bbox.y1, rows[k].bbox.y0);
            across.iter().any(|&y| y > above - 1.0 && y < below + 1.0)
        })
        .collect();
    match ruled.len() {
        0 => {}
        1..=3 => return ruled[ruled.len() - 1],
        _ => return ruled[0],
    }
    let need = (ncols * 3).div_ceil(5).max(2);
    let first_body = cells
        .iter()
        .position(|r| r.len() >= need && r.iter().all(|(a, b, _)| a == b))
        .unwrap_or(0);
    if first_body <= 3 {
        first_body
    } else {
        0
    }
}

/// Horizontal rules with the pieces of one rule (drawn end to end, as some producers do
/// cell by cell) joined.
pub(super) fn horizontal_rules(rules: &[BBox]) -> Vec<BBox> {
    let mut h: Vec<BBox> = rules
        .iter()
        .filter(|r| r.height() < 3.0 && r.width() > r.height())
        .copied()
        .collect();
    h.sort_by(|a, b| a.cy().total_cmp(&b.cy()).then(a.x0.total_cmp(&b.x0)));
    let mut out: Vec<BBox> = Vec::new();
    for r in h {
        match out.last_mut() {
            Some(l) if (l.cy() - r.cy()).abs() < 1.0 && r.x0 <= l.x1 + 2.0 => *l = l.union(&r),
            _ => out.push(r),
        }
    }
    out
}

/// The grid: header cells stacked and spanning, then a row per body row.
pub(super) fn assemble(
    rows: &[&Row],
    cells: &[RowCells],
    columns: &[(f32, f32)],
    header_rows: usize,
    extent: BBox,
) -> (Grid, Vec<Vec<usize>>) {
    // Header cells: (first col, last col, box, members), lines of one column span stacked.
    let mut head: Vec<(usize, usize, BBox, Vec<usize>, usize)> = Vec::new(); // .4 = last text row
    for (ri, row) in cells.iter().enumerate().take(header_rows) {
        for (a, b, ws) in row {
            let bbox = ws
                .iter()
                .map(|w| w.bbox)
                .reduce(|x, y| x.union(&y))
                .unwrap_or(extent);
            let members: Vec<usize> = ws.iter().flat_map(|w| w.members.iter().copied()).collect();
            let stack = head
                .iter_mut()
                .rev()
                .find(|h| h.0 == *a && h.1 == *b && h.4 + 1 == ri);
            match stack {
                Some(h) => {
                    h.2 = h.2.union(&bbox);
                    h.3.extend(members);
                    h.4 = ri;
                }
                None => head.push((*a, *b, bbox, members, ri)),
            }
        }
    }
    // A header cell's level: how many wider header cells sit above it.
    let levels: Vec<usize> = head
        .iter()
        .map(|h| {
            head.iter()
                .filter(|o| {
                    o.0 <= h.0 && o.1 >= h.1 && o.1 - o.0 > h.1 - h.0 && o.2.y1 <= h.2.y0 + 1.0
                })
                .count()
        })
        .collect();
    let levels_n = if head.is_empty() {
        0
    } else {
        levels.iter().max().map_or(0, |m| m + 1)
    };
    // Row boundaries: header levels, then each body row.
    let body = &rows[header_rows..];
    let mut bounds = vec![extent.y0];
    let head_bottom = if header_rows > 0 {
        rows[header_rows - 1].bbox.y1
    } else {
        extent.y0
    };
    for l in 1..levels_n {
        // Between the lowest box of level l-1 and the highest of level l.
        let top = head
            .iter()
            .zip(&levels)
            .filter(|(_, &v)| v == l)
            .map(|(h, _)| h.2.y0)
            .fold(f32::MAX, f32::min);
        bounds.push(top.min(head_bottom));
    }
    if levels_n > 0 {
        bounds.push(if body.is_empty() {
            extent.y1
        } else {
            (head_bottom + body[0].bbox.y0) / 2.0
        });
    }
    // Body rows that continue the row above (its cells wrapped) share its grid row.
    let mut group = Vec::with_capacity(body.len());
    for i in 0..body.len() {
        let g = match group.last() {
            Some(&g)
                if continues_row(
                    &cells[header_rows + i - 1],
                    &cells[header_rows + i],
                    body[i - 1],
                    body[i],
                ) =>
            {
                g
            }
            Some(&g) => g + 1,
            None => 0,
        };
        group.push(g);
    }
    for (i, r) in body.iter().enumerate() {
        if group.get(i + 1) == Some(&group[i]) {
            continue; // the group goes on
        }
        let next = body
            .get(i + 1)
            .map_or(extent.y1, |n| (r.bbox.y1 + n.bbox.y0) / 2.0);
        bounds.push(next.max(r.bbox.y1.min(extent.y1)));
    }
    for i in 1..bounds.len() {
        if bounds[i] < bounds[i - 1] {
            bounds[i] = bounds[i - 1];
        }
    }
    let mut xs = vec![extent.x0];
    for w in columns.windows(2) {
        xs.push((w[0].1 + w[1].0) / 2.0);
    }
    xs.push(extent.x1);
    let mut grid_cells = Vec::new();
    let mut members = Vec::new();
    // Per grid position, the cell covering it.
    let mut owner: Vec<Option<usize>> = vec![None; (bounds.len() - 1) * columns.len()];
    let ncols = columns.len();
    let mut place = |row: usize, rowspan: usize, col: usize, colspan: usize, m: Vec<usize>| {
        // A header cell landing on one already placed (two stacks of one column that no
        // wider cell parts) joins it: a grid position holds one cell.
        let taken = (row..row + rowspan)
            .flat_map(|r| (col..col + colspan).map(move |c| r * ncols + c))
            .find_map(|k| owner[k]);
        if let Some(k) = taken {
            let joined: &mut Vec<usize> = &mut members[k];
            joined.extend(m);
            return;
        }
        for r in row..row + rowspan {
            for c in col..col + colspan {
                owner[r * ncols + c] = Some(grid_cells.len());
            }
        }
        grid_cells.push(GridCell {
            row,
            col,
            rowspan,
            colspan,
            bbox: BBox::new(
                xs[col],
                bounds[row],
                xs[col + colspan],
                bounds[row + rowspan],
            ),
        });
        members.push(m);
    };
    for (h, &level) in head.iter().zip(&levels) {
        let has_below = head
            .iter()
            .any(|o| o.2.y0 >= h.2.y1 - 1.0 && o.0 <= h.1 && o.1 >= h.0 && o.1 - o.0 < h.1 - h.0);
        let rowspan = if has_below { 1 } else { levels_n - level };
        place(level, rowspan, h.0, h.1 - h.0 + 1, h.3.clone());
    }
    for (i, row) in cells.iter().enumerate().skip(header_rows) {
        let r = levels_n + group[i - header_rows];
        for (a, b, ws) in row {
            let m: Vec<usize> = ws.iter().flat_map(|w| w.members.iter().copied()).collect();
            place(r, 1, *a, b - a + 1, m);
        }
    }
    // Empty positions become empty cells, so every row has all its columns.
    let nrows = bounds.len() - 1;
    for r in 0..nrows {
        for c in 0..ncols {
            if owner[r * ncols + c].is_none() {
                grid_cells.push(GridCell {
                    row: r,
                    col: c,
                    rowspan: 1,
                    colspan: 1,
                    bbox: BBox::new(xs[c], bounds[r], xs[c + 1], bounds[r + 1]),
                });
                members.push(Vec::new());
            }
        }
    }
    let mut order: Vec<usize> = (0..grid_cells.len()).collect();
    order.sort_by_key(|&k| (grid_cells[k].row, grid_cells[k].col));
    let grid = Grid {
        rows: bounds,
        cols: xs,
        cells: order.iter().map(|&k| grid_cells[k]).collect(),
    };
    let members = order
        .into_iter()
        .map(|k| std::mem::take(&mut members[k]))
        .collect();
    (grid, members)
}

/// Whether body row `cur` continues `prev`, the row above, as the second line of its cells:
/// nothing in the first column, text only in columns where `prev` has text, words rather
/// than numbers, and set at the lines' own spacing (less than half a line below).
fn continues_row(prev: &RowCells, cur: &RowCells, prev_row: &Row, cur_row: &Row) -> bool {
    let gap = cur_row.bbox.y0 - prev_row.bbox.y1;
    prev.len() >= 2
        && !cur.is_empty()
        && gap < 0.5 * cur_row.bbox.height()
        && cur.iter().all(|(a, b, ws)| {
            let letters: usize = ws.iter().map(|w| w.letters).sum();
            let digits: usize = ws.iter().map(|w| w.digits).sum();
            *a > 0 && letters > digits && prev.iter().any(|(pa, pb, _)| pa <= b && a <= pb)
        })
}

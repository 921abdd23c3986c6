//! Ruled tables, first stage: from a page's rules (thin horizontal and vertical strokes or
//! filled rectangles) to grids of cells, with the cells that span rows or columns where a
//! separator is missing. Geometry only: [`super::tables`] puts the text in the cells.
//!
//! How: rules that touch form a component (one candidate table); the component's rule
//! positions, snapped together, give the row and column boundaries; a pair of adjacent
//! base cells with no rule between them merges; merged groups that are rectangles become
//! spanning cells.

use crate::model::BBox;

/// A cell of a [`Grid`], in base rows and columns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GridCell {
    /// First row (0 = top).
    pub row: usize,
    /// First column (0 = left).
    pub col: usize,
    /// Rows covered.
    pub rowspan: usize,
    /// Columns covered.
    pub colspan: usize,
    /// The cell's box.
    pub bbox: BBox,
}

/// A ruled table's structure.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// Row boundaries, top to bottom (`rows.len() - 1` base rows).
    pub rows: Vec<f32>,
    /// Column boundaries, left to right.
    pub cols: Vec<f32>,
    /// The cells, row by row; spanning cells once, at their top-left base cell.
    pub cells: Vec<GridCell>,
}

impl Grid {
    /// The table's box.
    pub fn bbox(&self) -> BBox {
        BBox {
            x0: self.cols[0],
            y0: self.rows[0],
            x1: self.cols[self.cols.len() - 1],
            y1: self.rows[self.rows.len() - 1],
        }
    }
}

/// Thickest stroke taken for a rule, in points (table rules are 0.1–2 pt; cell shading is
/// thicker and is not a rule).
const MAX_RULE: f32 = 3.0;

/// Share of a base cell's side a rule must cover to separate it from its neighbour.
const COVER: f32 = 0.6;

#[derive(Debug, Clone, Copy)]
enum Rule {
    /// y, x from, x to.
    H(f32, f32, f32),
    /// x, y from, y to.
    V(f32, f32, f32),
}

fn rule_of(b: &BBox) -> Option<Rule> {
    let (w, h) = (b.x1 - b.x0, b.y1 - b.y0);
    if !(w.is_finite() && h.is_finite()) || w < 0.0 || h < 0.0 {
        return None;
    }
    if h <= MAX_RULE && w > 3.0 * h.max(0.5) {
        Some(Rule::H((b.y0 + b.y1) / 2.0, b.x0, b.x1))
    } else if w <= MAX_RULE && h > 3.0 * w.max(0.5) {
        Some(Rule::V((b.x0 + b.x1) / 2.0, b.y0, b.y1))
    } else {
        None
    }
}

fn touches(a: &Rule, b: &Rule, tol: f32) -> bool {
    let within = |v: f32, lo: f32, hi: f32| v >= lo - tol && v <= hi + tol;
    match (*a, *b) {
        (Rule::H(y, x0, x1), Rule::V(x, y0, y1)) | (Rule::V(x, y0, y1), Rule::H(y, x0, x1)) => {
            within(x, x0, x1) && within(y, y0, y1)
        }
        (Rule::H(ya, a0, a1), Rule::H(yb, b0, b1)) => {
            (ya - yb).abs() <= tol && a0 <= b1 + tol && b0 <= a1 + tol
        }
        (Rule::V(xa, a0, a1), Rule::V(xb, b0, b1)) => {
            (xa - xb).abs() <= tol && a0 <= b1 + tol && b0 <= a1 + tol
        }
    }
}

/// Values within `tol` of each other, as one (their mean), sorted.
fn snap(mut values: Vec<f32>, tol: f32) -> Vec<f32> {
    values.sort_by(f32::total_cmp);
    let mut out: Vec<(f32, usize)> = Vec::new();
    for v in values {
        match out.last_mut() {
            Some((mean, n)) if v - *mean / *n as f32 <= tol => {
                *mean += v;
                *n += 1;
            }
            _ => out.push((v, 1)),
        }
    }
    out.into_iter().map(|(sum, n)| sum / n as f32).collect()
}

/// Adds the outer ends of the rules crossing `bounds` as first and last boundaries when
/// they run past the outermost ones.
fn close_open_sides(bounds: &mut Vec<f32>, crossing: impl Iterator<Item = (f32, f32)>, tol: f32) {
    let (lo, hi) = crossing.fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), (a, b)| {
        (lo.min(a), hi.max(b))
    });
    let (Some(&first), Some(&last)) = (bounds.first(), bounds.last()) else {
        return;
    };
    if lo.is_finite() && lo < first - 3.0 * tol {
        bounds.insert(0, lo);
    }
    if hi.is_finite() && hi > last + 3.0 * tol {
        bounds.push(hi);
    }
}

/// Length of `[lo, hi]` covered by the segments.
fn covered(segments: &[(f32, f32)], lo: f32, hi: f32) -> f32 {
    let mut parts: Vec<(f32, f32)> = segments
        .iter()
        .map(|&(a, b)| (a.max(lo), b.min(hi)))
        .filter(|(a, b)| b > a)
        .collect();
    parts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut total, mut end) = (0.0, lo);
    for (a, b) in parts {
        if b > end {
            total += b - a.max(end);
            end = b;
        }
    }
    total
}

fn find(parent: &mut [usize], i: usize) -> usize {
    let mut r = i;
    while parent[r] != r {
        r = parent[r];
    }
    let mut j = i;
    while parent[j] != r {
        let next = parent[j];
        parent[j] = r;
        j = next;
    }
    r
}

fn union(parent: &mut [usize], a: usize, b: usize) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    if ra != rb {
        parent[rb.max(ra)] = ra.min(rb);
    }
}

/// The grids the rules form. `rules` are boxes of strokes and filled shapes (anything
/// not thin is ignored); `tol` is how far apart, in points, two rule ends may be and
/// still meet (2 pt suits what PDF producers draw).
pub fn grids(rules: &[BBox], tol: f32) -> Vec<Grid> {
    let rules: Vec<Rule> = rules.iter().filter_map(rule_of).collect();
    // Pairwise: fine for the tens to hundreds of rules a page of tables has; a page of
    // thousands of thin strokes (a chart) should be cut down before it gets here.
    let mut parent: Vec<usize> = (0..rules.len()).collect();
    for i in 0..rules.len() {
        for j in i + 1..rules.len() {
            if touches(&rules[i], &rules[j], tol) {
                union(&mut parent, i, j);
            }
        }
    }
    let mut components: Vec<Vec<Rule>> = Vec::new();
    let mut index_of = std::collections::HashMap::new();
    for (i, r) in rules.iter().enumerate() {
        let root = find(&mut parent, i);
        let k = *index_of.entry(root).or_insert_with(|| {
            components.push(Vec::new());
            components.len() - 1
        });
        components[k].push(*r);
    }
    components
        .into_iter()
        .filter_map(|c| grid_of(&c, tol))
        .collect()
}

/// The grid of one component of touching rules, if it has at least two cells.
fn grid_of(rules: &[Rule], tol: f32) -> Option<Grid> {
    let mut hs: Vec<(f32, f32, f32)> = Vec::new();
    let mut vs: Vec<(f32, f32, f32)> = Vec::new();
    for r in rules {
        match *r {
            Rule::H(y, a, b) => hs.push((y, a, b)),
            Rule::V(x, a, b) => vs.push((x, a, b)),
        }
    }
    let mut rows = snap(hs.iter().map(|h| h.0).collect(), tol);
    let mut cols = snap(vs.iter().map(|v| v.0).collect(), tol);
    // Open sides: a table without outer column rules ends where its row rules do (and
    // one without a top or bottom rule where its column rules do).
    close_open_sides(&mut cols, hs.iter().map(|h| (h.1, h.2)), tol);
    close_open_sides(&mut rows, vs.iter().map(|v| (v.1, v.2)), tol);
    if rows.len() < 2 || cols.len() < 2 || (rows.len() - 1) * (cols.len() - 1) < 2 {
        return None;
    }
    let (nr, nc) = (rows.len() - 1, cols.len() - 1);
    // The rules lying on each boundary, as covered intervals.
    let on = |v: f32, lines: &[(f32, f32, f32)]| -> Vec<(f32, f32)> {
        lines
            .iter()
            .filter(|l| (l.0 - v).abs() <= tol)
            .map(|l| (l.1, l.2))
            .collect()
    };
    let h_on: Vec<Vec<(f32, f32)>> = rows.iter().map(|&y| on(y, &hs)).collect();
    let v_on: Vec<Vec<(f32, f32)>> = cols.iter().map(|&x| on(x, &vs)).collect();
    let mut parent: Vec<usize> = (0..nr * nc).collect();
    for r in 0..nr {
        for c in 0..nc {
            let (y0, y1, x0, x1) = (rows[r], rows[r + 1], cols[c], cols[c + 1]);
            if c + 1 < nc && covered(&v_on[c + 1], y0, y1) < COVER * (y1 - y0) {
                union(&mut parent, r * nc + c, r * nc + c + 1);
            }
            if r + 1 < nr && covered(&h_on[r + 1], x0, x1) < COVER * (x1 - x0) {
                union(&mut parent, r * nc + c, (r + 1) * nc + c);
            }
        }
    }
    let mut cells = Vec::new();
    let mut groups: std::collections::HashMap<usize, Vec<(usize, usize)>> =
        std::collections::HashMap::new();
    for r in 0..nr {
        for c in 0..nc {
            let root = find(&mut parent, r * nc + c);
            groups.entry(root).or_default().push((r, c));
        }
    }
    let base = |r: usize, c: usize| GridCell {
        row: r,
        col: c,
        rowspan: 1,
        colspan: 1,
        bbox: BBox {
            x0: cols[c],
            y0: rows[r],
            x1: cols[c + 1],
            y1: rows[r + 1],
        },
    };
    for members in groups.values() {
        let r0 = members.iter().map(|m| m.0).min().unwrap_or(0);
        let r1 = members.iter().map(|m| m.0).max().unwrap_or(0);
        let c0 = members.iter().map(|m| m.1).min().unwrap_or(0);
        let c1 = members.iter().map(|m| m.1).max().unwrap_or(0);
        if members.len() == (r1 - r0 + 1) * (c1 - c0 + 1) {
            cells.push(GridCell {
                row: r0,
                col: c0,
                rowspan: r1 - r0 + 1,
                colspan: c1 - c0 + 1,
                bbox: BBox {
                    x0: cols[c0],
                    y0: rows[r0],
                    x1: cols[c1 + 1],
                    y1: rows[r1 + 1],
                },
            });
        } else {
            // Not a rectangle (an L of missing rules): its base cells stay apart.
            cells.extend(members.iter().map(|&(r, c)| base(r, c)));
        }
    }
    if cells.len() < 2 {
        return None;
    }
    cells.sort_by_key(|c| (c.row, c.col));
    Some(Grid { rows, cols, cells })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(y: f32, x0: f32, x1: f32) -> BBox {
        BBox {
            x0,
            y0: y - 0.25,
            x1,
            y1: y + 0.25,
        }
    }

    fn v(x: f32, y0: f32, y1: f32) -> BBox {
        BBox {
            x0: x - 0.25,
            y0,
            x1: x + 0.25,
            y1,
        }
    }

    /// A full grid: `ys` × `xs` rules.
    fn full(xs: &[f32], ys: &[f32]) -> Vec<BBox> {
        let (x0, x1) = (xs[0], xs[xs.len() - 1]);
        let (y0, y1) = (ys[0], ys[ys.len() - 1]);
        let mut r: Vec<BBox> = ys.iter().map(|&y| h(y, x0, x1)).collect();
        r.extend(xs.iter().map(|&x| v(x, y0, y1)));
        r
    }

    #[test]
    fn a_full_grid_gives_one_cell_per_box() {
        let g = grids(
            &full(&[100.0, 200.0, 300.0], &[50.0, 70.0, 90.0, 110.0]),
            2.0,
        );
        assert_eq!(g.len(), 1);
        assert_eq!((g[0].rows.len(), g[0].cols.len()), (4, 3));
        assert_eq!(g[0].cells.len(), 6);
        assert!(g[0].cells.iter().all(|c| c.rowspan == 1 && c.colspan == 1));
        assert_eq!(
            g[0].cells[3].bbox,
            BBox {
                x0: 200.0,
                y0: 70.0,
                x1: 300.0,
                y1: 90.0
            }
        );
    }

    #[test]
    fn a_missing_separator_makes_a_spanning_cell() {
        // Header row with one cell over both columns: the middle rule starts below it.
        let mut r = vec![
            h(50.0, 100.0, 300.0),
            h(70.0, 100.0, 300.0),
            h(90.0, 100.0, 300.0),
        ];
        r.push(v(100.0, 50.0, 90.0));
        r.push(v(300.0, 50.0, 90.0));
        r.push(v(200.0, 70.0, 90.0));
        let g = grids(&r, 2.0);
        assert_eq!(g.len(), 1);
        let head = g[0].cells[0];
        assert_eq!(
            (head.row, head.col, head.rowspan, head.colspan),
            (0, 0, 1, 2)
        );
        assert_eq!(g[0].cells.len(), 3);
        // A row span: the left column's rule between rows 1 and 2 is missing.
        let r = vec![
            h(0.0, 0.0, 200.0),
            h(20.0, 100.0, 200.0),
            h(40.0, 0.0, 200.0),
            v(0.0, 0.0, 40.0),
            v(100.0, 0.0, 40.0),
            v(200.0, 0.0, 40.0),
        ];
        let g = grids(&r, 2.0);
        let left = g[0].cells.iter().find(|c| c.col == 0).unwrap();
        assert_eq!((left.rowspan, left.colspan), (2, 1));
    }

    #[test]
    fn separate_tables_and_lone_shapes() {
        let mut r = full(&[100.0, 200.0, 300.0], &[50.0, 70.0, 90.0]);
        r.extend(full(&[100.0, 150.0, 200.0], &[400.0, 420.0, 440.0]));
        // A boxed note (one cell) and an underline are not tables.
        r.extend(full(&[100.0, 500.0], &[600.0, 650.0]));
        r.push(h(700.0, 100.0, 200.0));
        // A filled shape is not a rule.
        r.push(BBox {
            x0: 300.0,
            y0: 300.0,
            x1: 400.0,
            y1: 350.0,
        });
        let g = grids(&r, 2.0);
        assert_eq!(g.len(), 2);
        let mut tops: Vec<f32> = g.iter().map(|g| g.bbox().y0).collect();
        tops.sort_by(f32::total_cmp);
        assert_eq!(tops, vec![50.0, 400.0]);
    }

    #[test]
    fn open_sides_end_where_the_crossing_rules_do() {
        // Row rules from 0 to 300, column rules only inside (at 100 and 200).
        let mut r: Vec<BBox> = [0.0, 20.0, 40.0]
            .iter()
            .map(|&y| h(y, 0.0, 300.0))
            .collect();
        r.push(v(100.0, 0.0, 40.0));
        r.push(v(200.0, 0.0, 40.0));
        let g = grids(&r, 2.0);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].cols, vec![0.0, 100.0, 200.0, 300.0]);
        assert_eq!(g[0].cells.len(), 6);
    }

    #[test]
    fn rules_drawn_in_pieces_and_slightly_off_still_meet() {
        // Each row rule drawn cell by cell, ends 1 pt short; one column rule 0.8 pt off.
        let mut r = Vec::new();
        for y in [0.0, 20.0, 40.0] {
            r.push(h(y, 0.0, 99.0));
            r.push(h(y + 0.3, 101.0, 200.0));
        }
        r.push(v(0.0, 0.0, 40.0));
        r.push(v(100.8, 0.0, 40.0));
        r.push(v(200.0, 0.0, 40.0));
        let g = grids(&r, 2.0);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].cells.len(), 4);
        assert!(g[0].cells.iter().all(|c| c.rowspan == 1 && c.colspan == 1));
    }
}

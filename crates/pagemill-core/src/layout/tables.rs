//! Tables among the text: a page's cell grids ([`table_grid`]) filled with the characters
//! that fall in their cells, as [`BlockKind::Table`] blocks. The characters a table takes
//! are not read again as paragraphs.
//!
//! A grid is a table only when text fills it the way a table's text does: enough cells hold
//! text, and no word runs across a rule. Frames around a note, a chart's
//! grid lines or the boxes of a form fail one or the other.

use super::aligned_tables::aligned_tables;
use super::lines::{build_lines, TextLine};
use super::table_grid::{grids, Grid};
use super::table_splits::{
    drop_empty_bands, split_aligned_spans, split_unruled_cols, split_unruled_rows,
};
use super::{is_math_font, FontInfo, RawChar};
use crate::layout::classify::join_prose;
use crate::model::{BBox, Block, BlockKind, Line, Table, TableCell};

/// How far apart (points) two rule ends may be and still meet.
const RULE_TOLERANCE: f32 = 2.0;
/// Share of a table's cells that must hold text (a permission matrix leaves many empty;
/// a chart's grid or a drawing's boxes leave nearly all of them empty).
const MIN_FILLED_SHARE: f32 = 0.25;
/// Fewest cells with text.
const MIN_FILLED: usize = 4;
/// Words a table's rules may cut (a character's box overhanging a rule by rounding).
const MAX_CROSSING_WORDS: usize = 2;

/// The tables found on a page.
#[derive(Debug, Default)]
pub struct FoundTables {
    /// One block per table, in no particular order.
    pub blocks: Vec<Block>,
    /// Per character of the page: taken by a table.
    pub taken: Vec<bool>,
}

/// Finds a page's tables: ruled ones, then aligned ones among the characters left. A ruled
/// grid of a few rows right on top of an aligned table, as wide, is that table's boxed
/// header: the two are read again as one aligned table (whose header ends at the box's
/// last rule).
pub fn all_tables(
    rules: &[BBox],
    drawings: &[BBox],
    chars: &[RawChar],
    fonts: &[FontInfo],
) -> FoundTables {
    let mut found = ruled_tables(rules, chars, fonts);
    let mut aligned = aligned_tables(rules, drawings, chars, fonts, &mut found.taken);
    let heads: Vec<usize> = (0..found.blocks.len())
        .filter(|&i| aligned.iter().any(|a| heads_table(&found.blocks[i], a)))
        .collect();
    if !heads.is_empty() {
        let mut freed: Vec<BBox> = Vec::new();
        for &i in heads.iter().rev() {
            let head = found.blocks.remove(i);
            aligned.retain(|a| {
                let headed = heads_table(&head, a);
                if headed {
                    freed.push(a.bbox);
                }
                !headed
            });
            freed.push(head.bbox);
        }
        for (c, t) in chars.iter().zip(found.taken.iter_mut()) {
            let (x, y) = ((c.bbox.x0 + c.bbox.x1) / 2.0, (c.bbox.y0 + c.bbox.y1) / 2.0);
            if freed.iter().any(|b| contains(b, x, y)) {
                *t = false;
            }
        }
        aligned = aligned_tables(rules, drawings, chars, fonts, &mut found.taken);
    }
    found.blocks.extend(aligned);
    found
}

/// Whether ruled `head` sits right on top of `table` as its header: at most four rows,
/// within the table's width and over half of it (a boxed header often leaves the row
/// labels' column open), less than three of its rows' heights above.
fn heads_table(head: &Block, table: &Block) -> bool {
    let Some(t) = head.table.as_ref() else {
        return false;
    };
    let row_h = head.bbox.height() / t.rows.max(1) as f32;
    let gap = table.bbox.y0 - head.bbox.y1;
    let (h, b) = (&head.bbox, &table.bbox);
    t.rows <= 4
        && gap > -row_h
        && gap < 3.0 * row_h
        && h.x0 >= b.x0 - row_h
        && h.x1 <= b.x1 + row_h
        && h.width() >= 0.5 * b.width()
}

/// Finds the ruled tables among `chars`, whose grids `rules` draw.
pub fn ruled_tables(rules: &[BBox], chars: &[RawChar], fonts: &[FontInfo]) -> FoundTables {
    let mut found = FoundTables::default();
    if rules.len() < 4 || chars.is_empty() {
        return found;
    }
    let mut candidates = grids(rules, RULE_TOLERANCE);
    // Largest first, so a grid drawn inside another's cell is left to the outer table.
    candidates.sort_by(|a, b| area(&b.bbox()).total_cmp(&area(&a.bbox())));
    found.taken = vec![false; chars.len()];
    for grid in candidates {
        let bbox = grid.bbox();
        if found
            .blocks
            .iter()
            .any(|t| t.bbox.x_overlap(&bbox) * t.bbox.y_overlap(&bbox) > 0.0)
        {
            continue;
        }
        if grid.rows.len() < 3 || grid.cols.len() < 3 {
            continue; // one row or one column: a framed list or a boxed paragraph
        }
        let Some(mut filled) = fill(&grid, chars, fonts, &found.taken) else {
            continue;
        };
        // Refinements, each refilling the grid it changes: rows without rules between
        // them (a header rule, then one ruled row holding a line per entry) split where the
        // lines of several columns start together; likewise columns (a ruled column
        // holding two aligned columns of values); and cells merged only because a
        // separator is missing (rows told apart by shading) split where their text keeps
        // to the columns.
        let mut grid = grid;
        for step in 0..3 {
            let finer = match step {
                0 => split_unruled_rows(&grid, &filled.cell_lines),
                1 => split_unruled_cols(&grid, chars, fonts, &filled.members),
                _ => split_aligned_spans(&grid, chars, &filled.members),
            };
            if let Some(finer) = finer {
                if let Some(f) = fill(&finer, chars, fonts, &found.taken) {
                    filled = f;
                    grid = finer;
                }
            }
        }
        let Filled {
            members,
            cell_lines,
        } = filled;
        if !filled_like_a_table(&grid, &cell_lines)
            || !text_like_a_table(&members, chars, fonts)
            || framed_code(&cell_lines)
        {
            continue;
        }
        for m in &members {
            for &i in m {
                found.taken[i] = true;
            }
        }
        // Whitespace inside the table belongs to it too.
        for (i, c) in chars.iter().enumerate() {
            let (x, y) = ((c.bbox.x0 + c.bbox.x1) / 2.0, (c.bbox.y0 + c.bbox.y1) / 2.0);
            if c.ch.is_whitespace() && contains(&bbox, x, y) {
                found.taken[i] = true;
            }
        }
        found.blocks.push(table_block(&grid, cell_lines));
    }
    found
}

/// A grid's text: per cell, its characters (indices, stream order) and its lines (top to
/// bottom).
struct Filled {
    members: Vec<Vec<usize>>,
    cell_lines: Vec<Vec<TextLine>>,
}

/// Puts the characters not yet `taken` into `grid`'s cells; `None` when the grid's rules
/// cut through words.
fn fill(grid: &Grid, chars: &[RawChar], fonts: &[FontInfo], taken: &[bool]) -> Option<Filled> {
    let lookup = CellLookup::new(grid);
    // A space goes with the character before it: the line builder needs the PDF's own
    // spaces (word gaps in many PDFs are narrower than an inferred space) and line breaks.
    let mut previous = None;
    let cell_of: Vec<Option<usize>> = chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if taken[i] {
                return None;
            }
            if c.ch.is_whitespace() {
                return previous;
            }
            let (x, y) = ((c.bbox.x0 + c.bbox.x1) / 2.0, (c.bbox.y0 + c.bbox.y1) / 2.0);
            previous = lookup.cell_at(grid, x, y);
            previous
        })
        .collect();
    let crossing = words_crossing(chars, &cell_of);
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); grid.cells.len()];
    for (i, k) in cell_of.iter().enumerate() {
        if let Some(k) = k {
            members[*k].push(i);
        }
    }
    // A cut word is tolerated only in a table with plenty of text besides (one per
    // eight cells with text): in a few boxes over a cover page's text, each cut counts.
    let filled = members.iter().filter(|m| !m.is_empty()).count();
    if crossing > MAX_CROSSING_WORDS || crossing * 8 > filled {
        return None;
    }
    let cell_lines = members
        .iter()
        .map(|m| {
            let cs: Vec<RawChar> = m.iter().map(|&i| chars[i]).collect();
            cell_lines(&cs, fonts)
        })
        .collect();
    Some(Filled {
        members,
        cell_lines,
    })
}

/// Whether a grid's characters are a table's text: not mostly in mathematics fonts (a
/// plot's grid with its tick labels, a commutative diagram) and mostly letters and digits
/// (not a grid of marks).
fn text_like_a_table(members: &[Vec<usize>], chars: &[RawChar], fonts: &[FontInfo]) -> bool {
    let (mut all, mut math, mut alnum) = (0usize, 0usize, 0usize);
    for &i in members.iter().flatten() {
        let c = &chars[i];
        if c.ch.is_whitespace() {
            continue;
        }
        all += 1;
        alnum += usize::from(c.ch.is_alphanumeric());
        math += usize::from(
            fonts
                .get(c.font as usize)
                .is_some_and(|f| is_math_font(&f.name)),
        );
    }
    5 * math < all && 2 * alnum >= all
}

/// A code listing in a frame (rules around it, a gutter inside): a third of its lines or
/// more end a statement or open or close a block (`;`, `{`, `}`).
fn framed_code(cell_lines: &[Vec<TextLine>]) -> bool {
    let lines: Vec<&TextLine> = cell_lines.iter().flatten().collect();
    let statements = lines
        .iter()
        .filter(|l| l.text.trim_end().ends_with([';', '{', '}']))
        .count();
    !lines.is_empty() && 3 * statements >= lines.len()
}

/// Whether enough of a grid's cells hold text.
fn filled_like_a_table(grid: &Grid, cell_lines: &[Vec<TextLine>]) -> bool {
    let filled = cell_lines.iter().filter(|l| !l.is_empty()).count();
    filled >= MIN_FILLED && filled as f32 >= MIN_FILLED_SHARE * grid.cells.len() as f32
}

/// Words cut by a cell border: neighbouring characters in stream order, touching on one
/// line, that fall in different cells. A rule that cuts words is decoration across running
/// text (a highlighted sentence, a form's field), not a cell border.
fn words_crossing(chars: &[RawChar], cell_of: &[Option<usize>]) -> usize {
    chars
        .windows(2)
        .zip(cell_of.windows(2))
        .filter(|(c, k)| match (k[0], k[1]) {
            (Some(a), Some(b))
                if a != b && !c[0].ch.is_whitespace() && !c[1].ch.is_whitespace() =>
            {
                let gap = c[1].bbox.x0 - c[0].bbox.x1;
                gap.abs() < 0.15 * c[0].size.max(1.0) && c[0].bbox.y_overlap(&c[1].bbox) > 0.0
            }
            _ => false,
        })
        .count()
}

/// The block for `grid` whose cells hold `cell_lines` (top to bottom).
pub(super) fn table_block(grid: &Grid, cell_lines: Vec<Vec<TextLine>>) -> Block {
    let (grid, cell_lines) = drop_empty_bands(grid, cell_lines);
    let grid = &grid;
    // Header rows: the first row, and as many more as its tallest cell spans.
    let header_rows = grid
        .cells
        .iter()
        .filter(|c| c.row == 0)
        .map(|c| c.rowspan)
        .max()
        .unwrap_or(1);
    let mut cells = Vec::with_capacity(grid.cells.len());
    let mut lines = Vec::new();
    let (mut size_sum, mut size_n) = (0.0f32, 0u32);
    for (cell, cl) in grid.cells.iter().zip(cell_lines) {
        let text = join_prose(&cl).replace('\u{AD}', "-");
        for l in &cl {
            size_sum += l.size * l.chars as f32;
            size_n += l.chars;
        }
        lines.extend(cl.into_iter().map(|l| Line {
            bbox: l.bbox,
            text: l.text.replace('\u{AD}', "-"),
            words: Vec::new(),
        }));
        cells.push(TableCell {
            row: cell.row as u32,
            col: cell.col as u32,
            rowspan: cell.rowspan as u32,
            colspan: cell.colspan as u32,
            bbox: cell.bbox,
            text,
            header: cell.row < header_rows,
        });
    }
    let table = Table {
        rows: (grid.rows.len() - 1) as u32,
        cols: (grid.cols.len() - 1) as u32,
        cells,
        continued: false,
    };
    Block {
        kind: BlockKind::Table,
        level: None,
        bbox: grid.bbox(),
        text: table_text(&table),
        font_size: if size_n > 0 {
            ((size_sum / size_n as f32) * 100.0).round() / 100.0
        } else {
            0.0
        },
        font: None,
        bold: false,
        italic: false,
        confidence: 1.0,
        lines,
        image: None,
        table: Some(table),
        margin: None,
        rotation: None,
        markdown: None,
    }
}

/// A cell's characters (stream order) as its lines, top to bottom: by their bottoms (a
/// bullet from a symbol font reaches far above its line), pieces of one line left to
/// right; a header turned a quarter as one line.
pub(super) fn cell_lines(chars: &[RawChar], fonts: &[FontInfo]) -> Vec<TextLine> {
    let mut lines = build_lines(chars, fonts);
    if let Some(turned) = turned_text(&lines) {
        return vec![turned];
    }
    lines.sort_by(|a, b| {
        reading_key(a)
            .total_cmp(&reading_key(b))
            .then(a.bbox.x0.total_cmp(&b.bbox.x0))
    });
    lines
}

/// A cell's text set turned a quarter (a rotated column header): the line builder sees one
/// character per line, stacked. Read in the order they were drawn — the order of reading
/// along the turned baseline — they are one line.
fn turned_text(lines: &[TextLine]) -> Option<TextLine> {
    if lines.len() < 3
        || lines
            .iter()
            .any(|l| l.text.chars().filter(|c| !c.is_whitespace()).count() > 1)
    {
        return None;
    }
    let bbox = lines.iter().map(|l| l.bbox).reduce(|a, b| a.union(&b))?;
    let stacked = lines
        .iter()
        .all(|l| l.bbox.x_overlap(&bbox) > 0.5 * l.bbox.width().max(0.1))
        && bbox.height() > 2.0 * bbox.width();
    if !stacked {
        return None;
    }
    let mut line = lines[0].clone();
    line.text = lines.iter().map(|l| l.text.trim()).collect();
    line.bbox = bbox;
    line.chars = lines.iter().map(|l| l.chars).sum();
    Some(line)
}

/// Where a cell's line falls top to bottom: its bottom, in 3-point steps, so pieces of one
/// visual line drawn apart (a value before its label in the content stream) read left to
/// right.
fn reading_key(l: &TextLine) -> f32 {
    (l.bbox.y1 / 3.0).floor()
}

/// A table's text for readers of plain text (search, the index): rows on lines, cells
/// separated by tabs.
pub fn table_text(table: &Table) -> String {
    let mut out = String::new();
    let mut row = None;
    for c in &table.cells {
        if row.is_some() && row != Some(c.row) {
            out.push('\n');
        } else if row.is_some() {
            out.push('\t');
        }
        row = Some(c.row);
        out.push_str(&c.text);
    }
    out
}

/// Finds the cell under a point in a grid's base-cell index.
struct CellLookup {
    /// Per base cell (row-major): the index in `Grid::cells` of the cell covering it.
    owner: Vec<usize>,
    cols: usize,
}

impl CellLookup {
    fn new(grid: &Grid) -> CellLookup {
        let cols = grid.cols.len() - 1;
        let rows = grid.rows.len() - 1;
        let mut owner = vec![usize::MAX; rows * cols];
        for (k, c) in grid.cells.iter().enumerate() {
            for r in c.row..(c.row + c.rowspan).min(rows) {
                for col in c.col..(c.col + c.colspan).min(cols) {
                    owner[r * cols + col] = k;
                }
            }
        }
        CellLookup { owner, cols }
    }

    fn cell_at(&self, grid: &Grid, x: f32, y: f32) -> Option<usize> {
        let r = band(&grid.rows, y)?;
        let c = band(&grid.cols, x)?;
        self.owner
            .get(r * self.cols + c)
            .copied()
            .filter(|&k| k != usize::MAX)
    }
}

/// The interval of sorted `bounds` that holds `v`.
fn band(bounds: &[f32], v: f32) -> Option<usize> {
    if bounds.len() < 2 || v < bounds[0] || v > bounds[bounds.len() - 1] {
        return None;
    }
    let i = bounds.partition_point(|&b| b <= v);
    Some(i.saturating_sub(1).min(bounds.len() - 2))
}

pub(super) fn contains(b: &BBox, x: f32, y: f32) -> bool {
    x >= b.x0 && x <= b.x1 && y >= b.y0 && y <= b.y1
}

fn area(b: &BBox) -> f32 {
    b.width() * b.height()
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    fn h(y: f32, x0: f32, x1: f32) -> BBox {
        BBox::new(x0, y - 0.25, x1, y + 0.25)
    }

    fn v(x: f32, y0: f32, y1: f32) -> BBox {
        BBox::new(x - 0.25, y0, x + 0.25, y1)
    }

    /// Rules of a full grid with column edges `xs` and row edges `ys`.
    fn full(xs: &[f32], ys: &[f32]) -> Vec<BBox> {
        let mut r: Vec<BBox> = ys.iter().map(|&y| h(y, xs[0], xs[xs.len() - 1])).collect();
        r.extend(xs.iter().map(|&x| v(x, ys[0], ys[ys.len() - 1])));
        r
    }

    #[test]
    fn a_ruled_grid_with_text_in_its_cells_is_a_table() {
        let rules = full(&[100.0, 200.0, 300.0], &[100.0, 120.0, 140.0, 160.0]);
        let mut c = Vec::new();
        for (row, y) in [102.0, 122.0, 142.0].iter().enumerate() {
            set_text(&mut c, &format!("name {row}"), 105.0, *y, 10.0, 0);
            set_text(&mut c, &format!("value {row}"), 205.0, *y, 10.0, 0);
        }
        set_text(&mut c, "Prose below the table.", 100.0, 200.0, 10.0, 0);
        let p = page(c);
        let found = ruled_tables(&rules, &p.chars, &p.fonts);
        assert_eq!(found.blocks.len(), 1);
        let t = found.blocks[0].table.as_ref().unwrap();
        assert_eq!((t.rows, t.cols, t.cells.len()), (3, 2, 6));
        assert_eq!(t.cells[3].text, "value 1");
        assert!(t.cells[0].header && t.cells[1].header && !t.cells[2].header);
        assert_eq!(
            found.blocks[0].text,
            "name 0\tvalue 0\nname 1\tvalue 1\nname 2\tvalue 2"
        );
        // The prose is left to the paragraphs.
        let left: String = p
            .chars
            .iter()
            .zip(&found.taken)
            .filter(|(_, t)| !**t)
            .map(|(c, _)| c.ch)
            .collect();
        assert_eq!(left, "Prose below the table.");
    }

    #[test]
    fn a_ruled_row_holding_a_line_per_entry_is_split_into_rows() {
        // Header rule, then one tall ruled row with four entries and a wrapped cell.
        let rules = full(&[100.0, 200.0, 400.0], &[100.0, 120.0, 220.0]);
        let mut c = Vec::new();
        set_text(&mut c, "Key", 105.0, 102.0, 10.0, 1);
        set_text(&mut c, "Meaning", 205.0, 102.0, 10.0, 1);
        for (k, y) in [122.0, 136.0, 164.0, 178.0].iter().enumerate() {
            set_text(&mut c, &format!("k{k}"), 105.0, *y, 10.0, 0);
            set_text(&mut c, &format!("meaning {k}"), 205.0, *y, 10.0, 0);
        }
        set_text(&mut c, "wrapped on", 205.0, 150.0, 10.0, 0);
        let p = page(c);
        let found = ruled_tables(&rules, &p.chars, &p.fonts);
        let t = found.blocks[0].table.as_ref().unwrap();
        assert_eq!((t.rows, t.cols), (5, 2), "{}", found.blocks[0].text);
        assert_eq!(t.cells[5].text, "meaning 1 wrapped on");
        assert_eq!(t.cells[6].text, "k2");
    }

    #[test]
    fn empty_grids_and_text_crossing_rules_are_not_tables() {
        // A chart's grid: labels outside, nothing in the cells.
        let rules = full(&[100.0, 150.0, 200.0, 250.0], &[100.0, 150.0, 200.0]);
        let mut c = Vec::new();
        set_text(&mut c, "0", 95.0, 205.0, 8.0, 0);
        set_text(&mut c, "50", 145.0, 205.0, 8.0, 0);
        let p = page(c);
        assert!(ruled_tables(&rules, &p.chars, &p.fonts).blocks.is_empty());
        // A sentence running across a "column rule".
        let rules = full(&[100.0, 150.0, 400.0], &[100.0, 120.0, 140.0, 160.0]);
        let mut c = Vec::new();
        set_text(&mut c, "A sentence runs across here", 110.0, 102.0, 10.0, 0);
        set_text(&mut c, "and on the next line too", 110.0, 122.0, 10.0, 0);
        set_text(&mut c, "all of these as well", 110.0, 142.0, 10.0, 0);
        let p = page(c);
        assert!(ruled_tables(&rules, &p.chars, &p.fonts).blocks.is_empty());
    }

    #[test]
    fn a_turned_header_is_read_as_one_word() {
        let rules = full(&[100.0, 200.0, 300.0], &[100.0, 160.0, 180.0, 200.0, 220.0]);
        let mut c = Vec::new();
        // "Total" set bottom to top in the first header cell: drawn T, o, t, a, l going up.
        for (k, ch) in "Total".chars().enumerate() {
            let y = 150.0 - 10.0 * k as f32;
            c.push(RawChar {
                ch,
                bbox: BBox::new(110.0, y, 120.0, y + 8.0),
                size: 8.0,
                font: 0,
                generated: false,
                dir: 0,
            });
        }
        set_text(&mut c, "Name", 205.0, 140.0, 10.0, 0);
        for (r, y) in [162.0, 182.0, 202.0].iter().enumerate() {
            set_text(&mut c, &format!("{}", 10 + r), 105.0, *y, 10.0, 0);
            set_text(&mut c, &format!("item {r}"), 205.0, *y, 10.0, 0);
        }
        let p = page(c);
        let found = ruled_tables(&rules, &p.chars, &p.fonts);
        let t = found.blocks[0].table.as_ref().unwrap();
        assert_eq!(t.cells[0].text, "Total");
        assert_eq!((t.rows, t.cols), (4, 2));
    }

    #[test]
    fn rows_ruled_only_across_split_into_the_header_columns() {
        // Column rules in the header only (body rows told apart by horizontal rules, as
        // shaded tables are), and a thin empty band between a double rule under the header.
        let (xs, ys) = (
            [100.0, 200.0, 300.0, 400.0],
            [100.0, 120.0, 122.0, 140.0, 160.0, 180.0],
        );
        let mut rules: Vec<BBox> = ys.iter().map(|&y| h(y, xs[0], xs[3])).collect();
        rules.extend(xs.iter().map(|&x| v(x, ys[0], ys[1])));
        rules.push(v(xs[0], ys[0], ys[5]));
        rules.push(v(xs[3], ys[0], ys[5]));
        let mut c = Vec::new();
        for (k, name) in ["Country", "Size", "Share"].iter().enumerate() {
            set_text(&mut c, name, xs[k] + 5.0, 102.0, 10.0, 1);
        }
        for (r, y) in [124.0, 142.0, 162.0].iter().enumerate() {
            set_text(&mut c, &format!("Land {r}"), 105.0, *y, 10.0, 0);
            set_text(&mut c, &format!("{}", 100 + r), 205.0, *y, 10.0, 0);
            set_text(&mut c, &format!("0.{r}"), 305.0, *y, 10.0, 0);
        }
        let p = page(c);
        let found = ruled_tables(&rules, &p.chars, &p.fonts);
        assert_eq!(found.blocks.len(), 1);
        let t = found.blocks[0].table.as_ref().unwrap();
        assert_eq!((t.rows, t.cols), (4, 3), "{}", found.blocks[0].text);
        assert!(!t.has_spans());
        assert_eq!(
            found.blocks[0].text.lines().nth(2),
            Some("Land 1\t101\t0.1")
        );
    }
}

//! Whether lined-up text is a table: the checks that keep lists, code, equations, tables
//! of contents, indexes and chart labels out.

use super::{RowCells, Word, MIN_GAPPY_ROWS, PROSE_CELL_WORDS};
/// Whether a region's cells read like a table's: several rows with two cells or more,
/// short cells (at most one column of prose), no column of bullets only, and mostly
/// numbers when set in a fixed-pitch font.
pub(super) fn reads_like_a_table(cells: &[RowCells], ncols: usize) -> bool {
    if ncols < 2 {
        return false;
    }
    let multi = cells.iter().filter(|r| r.len() >= 2).count();
    if multi < MIN_GAPPY_ROWS || 2 * multi < cells.len() {
        return false;
    }
    let mut words = vec![(0usize, 0usize); ncols];
    let mut first_col_marks = 0;
    let mut first_col = 0;
    let (mut mono, mut all) = (0usize, 0usize);
    let (mut numeric, mut values) = (0usize, 0usize);
    for row in cells {
        for (a, _, ws) in row {
            words[*a].0 += ws.len();
            words[*a].1 += 1;
            all += ws.len();
            mono += ws.iter().filter(|w| w.mono).count();
            if *a == 0 {
                first_col += 1;
                first_col_marks += usize::from(ws.len() == 1 && is_item_mark(&ws[0].text));
            } else {
                values += 1;
                numeric += usize::from(ws.iter().all(|w| w.digits > 0 && w.letters <= 1));
            }
        }
    }
    if lists_pages(cells, ncols)
        || lists_page_references(cells)
        || symbols_only_column(cells, ncols)
        || reads_like_code(cells, ncols)
        || !filled_enough(cells, ncols)
    {
        return false;
    }
    let prose_cols = words
        .iter()
        .filter(|(w, n)| *n > 0 && *w as f32 / *n as f32 >= PROSE_CELL_WORDS)
        .count();
    if prose_cols >= 2 {
        return false;
    }
    if first_col > 0 && 2 * first_col_marks >= first_col {
        return false; // a list: bullets or item numbers, then the item's text
    }
    if 2 * mono > all && 2 * numeric < values {
        return false; // a code listing lined up in a fixed-pitch font
    }
    true
}

/// A table of contents or an index: titles, then page numbers that never go down.
fn lists_pages(cells: &[RowCells], ncols: usize) -> bool {
    let mut pages: Vec<u64> = Vec::new();
    let mut ending = 0;
    let mut titled = 0;
    for row in cells {
        let Some((_, b, ws)) = row.last() else {
            continue;
        };
        if *b != ncols - 1 {
            continue;
        }
        ending += 1;
        if let Some(n) = ws.last().and_then(|w| w.text.parse::<u64>().ok()) {
            pages.push(n);
        }
        titled += usize::from(
            row.iter()
                .any(|(_, _, ws)| ws.iter().any(|w| w.letters >= 2)),
        );
    }
    pages.len() >= 4
        && 5 * pages.len() >= 4 * ending
        && 2 * titled >= ending
        && pages.windows(2).all(|w| w[0] <= w[1])
}

/// Code laid out in columns: rows ending in `;`, `{` or `}` (a listing), numbered lines
/// (1, 2, 3… and one more column), or many words in a mathematics font.
fn reads_like_code(cells: &[RowCells], ncols: usize) -> bool {
    let mut statements = 0;
    let mut numbers: Vec<u64> = Vec::new();
    let (mut math, mut all) = (0usize, 0usize);
    for row in cells {
        let words: Vec<&Word> = row.iter().flat_map(|c| c.2.iter().copied()).collect();
        if words
            .last()
            .is_some_and(|w| w.text.ends_with([';', '{', '}']))
        {
            statements += 1;
        }
        if let Some((0, 0, ws)) = row.first() {
            if let Some(n) = ws.first().and_then(|w| w.text.parse::<u64>().ok()) {
                numbers.push(n);
            }
        }
        math += words.iter().filter(|w| w.math).count();
        all += words.len();
    }
    // Line numbers of a listing count from 1 (a column of years counts on too, from 2019).
    let numbered = ncols == 2
        && numbers.len() >= 3
        && numbers[0] <= 1
        && numbers.windows(2).all(|w| w[1] == w[0] + 1);
    3 * statements >= cells.len() || numbered || 5 * math >= all
}

/// A column of symbols only (`::=`, `|`, `=`): a grammar or a set of equations laid out in
/// columns, not a table.
fn symbols_only_column(cells: &[RowCells], ncols: usize) -> bool {
    let mut symbols = vec![0usize; ncols];
    let mut other = vec![0usize; ncols];
    for row in cells {
        for (a, b, ws) in row {
            if a != b {
                continue;
            }
            if ws.iter().all(|w| w.letters == 0 && w.digits == 0) {
                symbols[*a] += 1;
            } else {
                other[*a] += 1;
            }
        }
    }
    let (all_symbols, all_other) = (symbols.iter().sum::<usize>(), other.iter().sum::<usize>());
    (0..ncols).any(|k| symbols[k] >= 2 && other[k] == 0) || all_symbols >= all_other
}

/// An index: most cells end in page references (`term, 12`, `term, 12, 48`).
fn lists_page_references(cells: &[RowCells]) -> bool {
    let (mut refs, mut all) = (0usize, 0usize);
    for (_, _, ws) in cells.iter().flatten() {
        all += 1;
        let n = ws.len();
        let numbered = n >= 2
            && ws[n - 1].text.trim_end_matches(',').parse::<u64>().is_ok()
            && ws[n - 2].text.ends_with(',');
        refs += usize::from(numbered);
    }
    2 * refs >= all
}

/// Share of a table's positions that hold text, below which it is scattered labels (a
/// chart's axes and legend) rather than a table.
const MIN_FILLED_SHARE: f32 = 0.35;

/// Whether the cells fill enough of the grid.
fn filled_enough(cells: &[RowCells], ncols: usize) -> bool {
    let covered: usize = cells.iter().flatten().map(|(a, b, _)| b - a + 1).sum();
    covered as f32 >= MIN_FILLED_SHARE * (cells.len() * ncols) as f32
}

/// A list item's mark: a bullet (one or two characters that are neither letters nor
/// digits) or an item number such as `1.`, `a)` or `iv.`.
fn is_item_mark(text: &str) -> bool {
    let n = text.chars().count();
    if n == 0 || n > 4 {
        return false;
    }
    let alnum = text.chars().filter(|c| c.is_alphanumeric()).count();
    (alnum == 0 && n <= 2)
        || (alnum > 0 && alnum < n && (text.ends_with('.') || text.ends_with(')')))
}

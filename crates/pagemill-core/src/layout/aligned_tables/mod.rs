//! Tables without a full grid of rules: rows of words whose gaps line up into column
//! gutters (unruled tables, and partially ruled ones with rules above and below the header
//! only). Runs after [`super::tables`] on the characters the ruled tables left.
//!
//! How: words → rows (by vertical centre) → regions (runs of rows that are not prose,
//! with at least three rows split by wide gaps) → column gutters (x-ranges no more than
//! one row in eight crosses) → cells. Rows above the header's rule (or above the first row
//! that fills most columns) form the header, where a cell's lines stack and a cell set over
//! several columns spans them. A region is kept only when it reads like a table: columns
//! of short cells, not two columns of prose, not a list's bullets, and, in a fixed-pitch
//! font (where a code listing also lines up), mostly numbers.

mod assemble;
mod columns;
mod verdict;

use super::lines::TextLine;
use super::table_grid::Grid;
use super::tables::{cell_lines, table_block};
use assemble::{assemble, header_end};
use columns::{columns_of, row_cells};
use verdict::reads_like_a_table;

use super::{is_math_font, FontInfo, RawChar};
use crate::model::{BBox, Block};
pub(in crate::layout) use columns::{gutters, median};

/// A gap wider than this many font sizes separates two cells of a row (proportional
/// fonts: a word space is 0.25–0.35 em, stretched justified text rarely passes 0.6 em).
const CELL_GAP_EM: f32 = 0.9;
/// In a fixed-pitch font, a gap of this many character advances separates cells (a single
/// space is a word space; two or more are alignment).
const MONO_CELL_GAP_ADVANCES: f32 = 1.5;
/// The narrowest column gutter in a proportional font, in font sizes (wider than a word
/// space, 0.25–0.5 em).
const MIN_GUTTER_EM: f32 = 0.6;
/// The narrowest column gutter in a fixed-pitch font, in character advances: a
/// typewritten table may keep its columns one space apart.
const MIN_MONO_GUTTER_ADVANCES: f32 = 0.7;
/// A gap narrower than this many font sizes is a word space.
const WORD_GAP_EM: f32 = 0.55;
/// Fewest rows with cells split by wide gaps.
const MIN_GAPPY_ROWS: usize = 3;
/// Rows further apart than this many row heights end a region.
const MAX_ROW_GAP: f32 = 2.6;
/// ... unless a rule lies between them: then this many.
const RULED_ROW_GAP: f32 = 4.0;
/// A row of one run of at least this many words is prose, never a table row.
const PROSE_WORDS: usize = 5;
/// A column whose cells average this many words holds prose; two such columns are two
/// columns of running text.
const PROSE_CELL_WORDS: f32 = 4.0;

/// A word: characters of one line without a space between them.
#[derive(Debug, Clone)]
struct Word {
    bbox: BBox,
    /// Indices of its characters and of the spaces that follow it, in stream order.
    members: Vec<usize>,
    size: f32,
    /// Advance of one character (fixed-pitch fonts).
    advance: f32,
    mono: bool,
    /// Set in a mathematics font (TeX's math italic, symbols, extensions, AMS fonts).
    math: bool,
    kind: WordKind,
    letters: usize,
    digits: usize,
    /// The word's characters (no spaces).
    text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WordKind {
    Text,
    /// Dots only: a leader between a row's label and its values.
    Leader,
    /// Dashes, underscores or equals signs only: a rule typed as text.
    Dashes,
}

/// A row of words sharing a line, left to right.
#[derive(Debug, Clone)]
struct Row {
    bbox: BBox,
    words: Vec<Word>,
}

impl Row {
    /// The row's text words (leaders and typed rules left out).
    fn text_words(&self) -> impl Iterator<Item = &Word> {
        self.words.iter().filter(|w| w.kind == WordKind::Text)
    }

    /// A row typed as a rule: dashes only.
    fn is_typed_rule(&self) -> bool {
        !self.words.is_empty() && self.words.iter().all(|w| w.kind == WordKind::Dashes)
    }

    /// Runs of words split by gaps wider than a cell gap.
    fn parts(&self) -> Vec<Vec<&Word>> {
        let mut parts: Vec<Vec<&Word>> = Vec::new();
        let mut last: Option<&Word> = None;
        for w in self.text_words() {
            let split = last.is_some_and(|l| w.bbox.x0 - l.bbox.x1 > cell_gap(l));
            if split || parts.is_empty() {
                parts.push(Vec::new());
            }
            if let Some(p) = parts.last_mut() {
                p.push(w);
            }
            last = Some(w);
        }
        parts
    }

    /// Split into two cells or more by wide gaps.
    fn is_gappy(&self) -> bool {
        self.parts().len() >= 2
    }

    /// A line of running text: one run of many words, or a mark (a footnote's, a list
    /// item's) and then one.
    fn is_prose(&self) -> bool {
        let parts = self.parts();
        parts.len() <= 2
            && parts
                .last()
                .is_some_and(|p| p.iter().filter(|w| w.letters >= 2).count() >= PROSE_WORDS)
    }
}

fn cell_gap(w: &Word) -> f32 {
    if w.mono {
        MONO_CELL_GAP_ADVANCES * w.advance
    } else {
        CELL_GAP_EM * w.size
    }
}

/// Finds aligned tables among the characters not yet `taken`, marks theirs taken and
/// returns them as table blocks. `rules` are the page's rules (a partially ruled table's
/// header rule tells where its header ends); `drawings` the boxes of its vector drawings.
pub fn aligned_tables(
    rules: &[BBox],
    drawings: &[BBox],
    chars: &[RawChar],
    fonts: &[FontInfo],
    taken: &mut Vec<bool>,
) -> Vec<Block> {
    if taken.len() != chars.len() {
        *taken = vec![false; chars.len()];
    }
    let rows = rows_of(words_of(chars, fonts, taken));
    let mut blocks = Vec::new();
    for region in regions(&rows, rules) {
        // Text lined up inside a drawing is a chart's labels.
        let bbox = region.iter().map(|r| r.bbox).reduce(|a, b| a.union(&b));
        let in_drawing = bbox.is_some_and(|b| {
            drawings
                .iter()
                .any(|d| d.x_overlap(&b) * d.y_overlap(&b) > 0.5 * b.width() * b.height())
        });
        if in_drawing {
            continue;
        }
        if let Some((grid, members)) = table_of(region, rules) {
            let cell_lines: Vec<Vec<TextLine>> = members
                .iter()
                .map(|m| {
                    let mut m = m.clone();
                    m.sort_unstable();
                    let cs: Vec<RawChar> = m.iter().map(|&i| chars[i]).collect();
                    cell_lines(&cs, fonts)
                })
                .collect();
            for r in region {
                for w in &r.words {
                    for &i in &w.members {
                        taken[i] = true;
                    }
                }
            }
            blocks.push(table_block(&grid, cell_lines));
        }
    }
    blocks
}

/// The words of the characters not taken, in stream order; spaces join the word before.
fn words_of(chars: &[RawChar], fonts: &[FontInfo], taken: &[bool]) -> Vec<Word> {
    let mut words: Vec<Word> = Vec::new();
    let mut open = false;
    for (i, c) in chars.iter().enumerate() {
        if taken[i] || !c.bbox.x0.is_finite() || !c.bbox.y0.is_finite() {
            open = false;
            continue;
        }
        if c.ch.is_whitespace() || c.ch.is_control() {
            if let Some(w) = words.last_mut().filter(|_| open) {
                w.members.push(i);
            }
            open = false;
            continue;
        }
        let font = fonts.get(c.font as usize);
        let mono = font.is_some_and(|f| f.mono);
        let math = font.is_some_and(|f| is_math_font(&f.name));
        if let Some(w) = words.last_mut().filter(|_| open) {
            let last = w
                .members
                .iter()
                .rev()
                .find(|&&k| !chars[k].ch.is_whitespace());
            let joins = last.is_some_and(|&k| {
                let l = &chars[k];
                let gap = c.bbox.x0 - l.bbox.x1;
                let h = l.bbox.height().min(c.bbox.height());
                gap > -0.3 * c.size && gap < 0.12 * c.size && l.bbox.y_overlap(&c.bbox) > 0.5 * h
            });
            if joins {
                w.bbox = w.bbox.union(&c.bbox);
                w.members.push(i);
                note_char(w, c.ch);
                continue;
            }
        }
        let mut w = Word {
            bbox: c.bbox,
            members: vec![i],
            size: c.size.max(1.0),
            advance: c.bbox.width().max(0.1),
            mono,
            math,
            kind: WordKind::Text,
            letters: 0,
            digits: 0,
            text: String::new(),
        };
        note_char(&mut w, c.ch);
        words.push(w);
        open = true;
    }
    for w in &mut words {
        let text: Vec<char> = w
            .members
            .iter()
            .map(|&i| chars[i].ch)
            .filter(|c| !c.is_whitespace())
            .collect();
        if text.iter().all(|&c| c == '.' || c == '…' || c == '·') {
            w.kind = WordKind::Leader;
        } else if text.len() >= 3
            && text
                .iter()
                .all(|&c| matches!(c, '-' | '_' | '=' | '—' | '–'))
        {
            w.kind = WordKind::Dashes;
        }
        let n = text.len().max(1) as f32;
        w.advance = w.bbox.width() / n;
        w.text = text.into_iter().collect();
    }
    words
}

fn note_char(w: &mut Word, c: char) {
    if c.is_alphabetic() {
        w.letters += 1;
    } else if c.is_ascii_digit() {
        w.digits += 1;
    }
}

/// Words grouped into rows by vertical centre, top to bottom, each row left to right.
fn rows_of(mut words: Vec<Word>) -> Vec<Row> {
    words.sort_by(|a, b| a.bbox.cy().total_cmp(&b.bbox.cy()));
    let mut rows: Vec<Row> = Vec::new();
    for w in words {
        let h = w.bbox.height();
        match rows.last_mut() {
            Some(r)
                if w.bbox.cy() < r.bbox.y1
                    && r.bbox.y_overlap(&w.bbox) > 0.5 * h.min(r.bbox.height()) =>
            {
                r.bbox = r.bbox.union(&w.bbox);
                r.words.push(w);
            }
            _ => rows.push(Row {
                bbox: w.bbox,
                words: vec![w],
            }),
        }
    }
    for r in &mut rows {
        r.words.sort_by(|a, b| a.bbox.x0.total_cmp(&b.bbox.x0));
    }
    rows
}

/// Runs of rows that may hold a table: no prose row inside, rows close together, at least
/// [`MIN_GAPPY_ROWS`] gappy rows; leading and trailing rows that are not gappy are left out.
fn regions<'a>(rows: &'a [Row], rules: &[BBox]) -> Vec<&'a [Row]> {
    let across = assemble::horizontal_rules(rules);
    let mut out = Vec::new();
    let mut start = 0;
    // Kept runs as index ranges.
    let flush = |s: usize, e: usize, out: &mut Vec<(usize, usize)>| {
        let run = &rows[s..e];
        let first = run.iter().position(|r| r.is_gappy());
        let last = run.iter().rposition(|r| r.is_gappy());
        if let (Some(a), Some(b)) = (first, last) {
            if run[a..=b].iter().filter(|r| r.is_gappy()).count() >= MIN_GAPPY_ROWS {
                out.push((s + a, s + b + 1));
            }
        }
    };
    for i in 0..rows.len() {
        let breaks = rows[i].is_prose()
            || (i > start && {
                let prev = &rows[i - 1];
                let h = prev.bbox.height().max(rows[i].bbox.height());
                let gap = rows[i].bbox.y0 - prev.bbox.y1;
                // A rule in the gap (a boxed header's bottom) keeps the rows together a
                // little further apart.
                let ruled = across.iter().any(|r| {
                    r.cy() > prev.bbox.y1 - 1.0
                        && r.cy() < rows[i].bbox.y0 + 1.0
                        && r.x_overlap(&prev.bbox.union(&rows[i].bbox)) > 0.5 * rows[i].bbox.width()
                });
                gap > if ruled { RULED_ROW_GAP } else { MAX_ROW_GAP } * h
            });
        if breaks {
            flush(start, i, &mut out);
            start = if rows[i].is_prose() { i + 1 } else { i };
        }
    }
    flush(start, rows.len(), &mut out);
    out.into_iter().map(|(a, b)| &rows[a..b]).collect()
}

/// A region's grid and, per cell, the characters it holds; `None` when the region does not
/// read like a table.
fn table_of(region: &[Row], rules: &[BBox]) -> Option<(Grid, Vec<Vec<usize>>)> {
    let rows: Vec<&Row> = region
        .iter()
        .filter(|r| !r.is_typed_rule() && r.text_words().next().is_some())
        .collect();
    let extent = rows.iter().map(|r| r.bbox).reduce(|a, b| a.union(&b))?;
    let columns = columns_of(&rows, extent)?;
    let ncols = columns.len();
    // Each row's cells: (first column, last column, words).
    let cells: Vec<RowCells> = rows.iter().map(|r| row_cells(r, &columns)).collect();
    if !reads_like_a_table(&cells, ncols) {
        return None;
    }
    let header_rows = header_end(region, &rows, &cells, ncols, rules, extent);
    Some(assemble(&rows, &cells, &columns, header_rows, extent))
}

/// A row's cells: first column, last column, words.
type RowCells<'a> = Vec<(usize, usize, Vec<&'a Word>)>;

#[cfg(test)]
mod tests;

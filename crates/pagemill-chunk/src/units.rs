//! First stage: a block becomes the pieces chunks are packed from.
//!
//! Prose is cut into sentences (Unicode sentence boundaries, UAX #29), a code block stays
//! one piece, a table becomes its header and its rows as Markdown table lines. Page
//! furniture, figures (their labels are not prose) and table-of-contents entries (they
//! repeat the headings and would answer every query about a section with the contents
//! page) give nothing.

use pagemill_core::model::{Block, BlockKind, Table};
use unicode_segmentation::UnicodeSegmentation;

/// What one block contributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// A heading: closes the open chunk and changes the heading path.
    Heading {
        /// 1 (outermost) to 6.
        level: u8,
        /// The heading's text on one line.
        text: String,
    },
    /// Sentences of one paragraph, list item or footnote.
    Prose {
        /// The sentences, trimmed, in order.
        sentences: Vec<String>,
        /// A list item: starts on a new line rather than after a blank line.
        list_item: bool,
    },
    /// A code block, lines as printed.
    Code {
        /// The code, newline-separated.
        text: String,
    },
    /// A table as Markdown lines.
    Table {
        /// Header row(s) and the `| --- |` rule; empty when the table has no header.
        header: Vec<String>,
        /// Body rows, one line each.
        rows: Vec<String>,
    },
}

/// The piece a block gives, if any.
pub fn piece(block: &Block) -> Option<Piece> {
    if block.kind.is_furniture() || matches!(block.kind, BlockKind::Figure | BlockKind::Toc) {
        return None;
    }
    if let Some(table) = &block.table {
        return table_piece(table);
    }
    let text = block.text.trim();
    if text.is_empty() {
        return None;
    }
    Some(match block.kind {
        BlockKind::Heading => Piece::Heading {
            level: block.level.unwrap_or(1).clamp(1, 6),
            text: one_line(text),
        },
        BlockKind::Code => Piece::Code {
            text: text.to_string(),
        },
        _ => Piece::Prose {
            sentences: sentences(text),
            list_item: block.kind == BlockKind::ListItem,
        },
    })
}

/// Sentences of a paragraph, trimmed, empty ones dropped. Line breaks inside are spaces.
pub fn sentences(text: &str) -> Vec<String> {
    // UAX #29 ends a sentence at every line break; a block's line breaks are layout.
    one_line(text)
        .split_sentence_bounds()
        .map(one_line)
        .filter(|s| !s.is_empty())
        .collect()
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A table's rows as Markdown lines: spanned cells hold their text in their first base
/// cell, the others stay empty. Rows whose cells are all headers form the header; with
/// none marked, the first row is the header.
fn table_piece(table: &Table) -> Option<Piece> {
    let rows = table.rows as usize;
    let cols = table.cols as usize;
    // Input-derived sizes: a corrupt grid is bounded by its cells, not trusted.
    if rows == 0 || cols == 0 || rows.saturating_mul(cols) > 1_000_000 {
        return None;
    }
    let mut grid = vec![vec![String::new(); cols]; rows];
    let mut header = vec![true; rows];
    let mut seen = vec![false; rows];
    for cell in &table.cells {
        let (r, c) = (cell.row as usize, cell.col as usize);
        if r >= rows || c >= cols {
            continue;
        }
        grid[r][c] = one_line(&cell.text).replace('|', "\\|");
        seen[r] = true;
        header[r] &= cell.header;
    }
    let marked = (0..rows).take_while(|&r| seen[r] && header[r]).count();
    let header_rows = if marked > 0 {
        marked
    } else {
        usize::from(rows > 1)
    };
    let line = |cells: &[String]| format!("| {} |", cells.join(" | "));
    let mut head: Vec<String> = grid[..header_rows].iter().map(|r| line(r)).collect();
    if !head.is_empty() {
        head.push(format!("|{}", " --- |".repeat(cols)));
    }
    let body: Vec<String> = grid[header_rows..]
        .iter()
        .filter(|r| r.iter().any(|c| !c.is_empty()))
        .map(|r| line(r))
        .collect();
    if body.is_empty() && head.is_empty() {
        return None;
    }
    Some(Piece::Table {
        header: head,
        rows: body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::block;
    use pagemill_core::model::{BBox, TableCell};

    #[test]
    fn prose_is_cut_into_sentences() {
        let p = piece(&block(
            BlockKind::Paragraph,
            "The value is 3.5 here. Then a second\nsentence follows! And a third?",
        ));
        assert_eq!(
            p,
            Some(Piece::Prose {
                sentences: vec![
                    "The value is 3.5 here.".into(),
                    "Then a second sentence follows!".into(),
                    "And a third?".into()
                ],
                list_item: false
            })
        );
    }

    #[test]
    fn furniture_figures_and_contents_give_nothing() {
        for kind in [
            BlockKind::PageHeader,
            BlockKind::PageFooter,
            BlockKind::PageNumber,
            BlockKind::Figure,
            BlockKind::Toc,
        ] {
            assert_eq!(piece(&block(kind, "Chapter 1 ........ 3")), None);
        }
    }

    #[test]
    fn a_table_has_its_header_rule_and_escaped_pipes() {
        let cell = |row, col, text: &str, header| TableCell {
            row,
            col,
            rowspan: 1,
            colspan: 1,
            bbox: BBox::default(),
            text: text.into(),
            header,
        };
        let mut b = block(BlockKind::Table, "");
        b.table = Some(Table {
            rows: 3,
            cols: 2,
            cells: vec![
                cell(0, 0, "name", true),
                cell(0, 1, "value", true),
                cell(1, 0, "a|b", false),
                cell(1, 1, "1", false),
                cell(2, 0, "c", false),
                cell(2, 1, "2", false),
            ],
            continued: false,
        });
        assert_eq!(
            piece(&b),
            Some(Piece::Table {
                header: vec!["| name | value |".into(), "| --- | --- |".into()],
                rows: vec!["| a\\|b | 1 |".into(), "| c | 2 |".into()],
            })
        );
    }
}

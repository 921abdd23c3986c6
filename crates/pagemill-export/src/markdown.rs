//! Clean Markdown: headings, paragraphs, lists and code in reading order; page furniture
//! (running headers, footers, page numbers) left out; a paragraph broken by a page break
//! joined again.

use std::collections::HashSet;
use std::io::{self, Write};

use pagemill_core::layout::classify::join_prose_text;
use pagemill_core::layout::inline::escape_inline;
use pagemill_core::{Block, BlockKind, PageOutcome};

use crate::footnotes::PageNotes;
use crate::table_markup::{render_table, TableForm};

/// Writes Markdown page by page. Holds back only the last paragraph of a page, to join it
/// with its continuation on the next page.
pub struct MarkdownWriter<W: Write> {
    out: W,
    pending: Option<String>,
    /// What the held-back text is: a paragraph, or a list item (whose text may go on at
    /// the top of the next page too).
    pending_kind: BlockKind,
    /// Footnotes met while a paragraph is held back; written after it.
    notes: Vec<String>,
    last_kind: Option<BlockKind>,
    wrote_any: bool,
    table_form: TableForm,
    /// Left edges of the open list levels on this page, outermost first: an item set
    /// further right than the one before nests under it.
    list_levels: Vec<f32>,
    /// Footnote labels used so far.
    footnote_labels: HashSet<String>,
}

impl<W: Write> MarkdownWriter<W> {
    /// A writer into `out`.
    pub fn new(out: W) -> Self {
        MarkdownWriter {
            out,
            pending: None,
            pending_kind: BlockKind::Paragraph,
            notes: Vec::new(),
            last_kind: None,
            wrote_any: false,
            table_form: TableForm::Auto,
            list_levels: Vec::new(),
            footnote_labels: HashSet::new(),
        }
    }

    /// Writes tables in `form` (pipe tables, HTML for spanning cells, by default).
    pub fn with_table_form(mut self, form: TableForm) -> Self {
        self.table_form = form;
        self
    }

    /// Writes one page.
    pub fn page(&mut self, outcome: &PageOutcome) -> io::Result<()> {
        match outcome {
            PageOutcome::Ok(page) => {
                // Margins move between odd and even pages: levels are measured per page.
                self.list_levels.clear();
                let blocks: Vec<&Block> = page
                    .blocks
                    .iter()
                    .filter(|b| !b.kind.is_furniture())
                    .collect();
                let notes =
                    PageNotes::of_page(&blocks, rendered, &mut self.footnote_labels, page.index);
                let mut i = 0;
                while i < blocks.len() {
                    if let Some((def, used)) = definition_run(&blocks[i..]) {
                        self.flush_pending()?;
                        self.emit(BlockKind::ListItem, &def)?;
                        i += used;
                        continue;
                    }
                    self.block(blocks[i], &notes)?;
                    i += 1;
                }
                // The page's footnotes end its text (after the paragraph running on, if
                // one does).
                if self.pending.is_none() {
                    self.flush_pending()?;
                }
            }
            PageOutcome::Failed(f) => {
                self.flush_pending()?;
                self.separate(None)?;
                write!(
                    self.out,
                    "<!-- pagemill: page {} not converted ({}: {}) -->",
                    f.index + 1,
                    f.reason.as_str(),
                    f.message.replace("--", "- -")
                )?;
                self.last_kind = None;
            }
        }
        Ok(())
    }

    fn block(&mut self, b: &Block, notes: &PageNotes) -> io::Result<()> {
        if let Some(def) = notes.definition(b) {
            self.notes.push(def.to_string());
            return Ok(());
        }
        if b.kind == BlockKind::Footnote && self.pending.is_some() {
            self.notes.push(escape_line_start(&rendered(b)));
            return Ok(());
        }
        if b.kind == BlockKind::Paragraph && b.rotation.is_some() {
            // Sideways text (a margin stamp, a label) neither continues nor is continued.
            self.flush_pending()?;
            return self.emit(BlockKind::Paragraph, &notes.link(rendered(b)));
        }
        if b.kind == BlockKind::Paragraph {
            let text = notes.link(rendered(b));
            if let Some(prev) = self.pending.take() {
                if continues(&prev, &text) {
                    self.pending = Some(join_prose_text([prev.as_str(), text.as_str()]));
                    return Ok(());
                }
                self.emit(self.pending_kind, &prev)?;
            }
            self.pending = Some(text);
            self.pending_kind = BlockKind::Paragraph;
            return Ok(());
        }
        self.flush_pending()?;
        match b.kind {
            BlockKind::Figure => {
                if let Some(path) = &b.image {
                    self.emit(b.kind, &format!("![]({path})"))?;
                }
                // The text inside the picture (labels, callouts), on one line under it.
                if b.text.trim().is_empty() {
                    return Ok(());
                }
                let labels: Vec<String> = b
                    .text
                    .lines()
                    .map(|l| escape_inline(l.trim()))
                    .filter(|l| !l.is_empty())
                    .collect();
                self.emit(BlockKind::Paragraph, &labels.join(" · "))
            }
            BlockKind::Heading => {
                let level = b.level.unwrap_or(2).clamp(1, 6) as usize;
                let text = escape_inline(&b.text.split_whitespace().collect::<Vec<_>>().join(" "));
                self.emit(b.kind, &format!("{} {}", "#".repeat(level), text))
            }
            BlockKind::ListItem => {
                let depth = self.list_depth(b);
                let item = list_item(&notes.link(rendered(b)));
                // Held back like a paragraph: an item broken by a page or column break
                // goes on in the paragraph that opens the next one.
                self.pending = Some(format!("{}{item}", "    ".repeat(depth)));
                self.pending_kind = BlockKind::ListItem;
                Ok(())
            }
            BlockKind::Table => match &b.table {
                Some(t) => self.emit(b.kind, &render_table(t, self.table_form)),
                None => self.emit(BlockKind::Paragraph, &escape_inline(&b.text)),
            },
            BlockKind::Toc => {
                let items: Vec<String> = b
                    .text
                    .lines()
                    .map(|l| format!("- {}", escape_line_start(&escape_inline(l))))
                    .collect();
                self.emit(BlockKind::ListItem, &items.join("\n"))
            }
            BlockKind::Code => {
                let fence = if b.text.contains("```") {
                    "~~~~"
                } else {
                    "```"
                };
                self.emit(b.kind, &format!("{fence}\n{}\n{fence}", b.text))
            }
            _ => self.emit(b.kind, &escape_line_start(&notes.link(rendered(b)))),
        }
    }

    /// How deep `b`, a list item, nests: one level per open item to its left (by more
    /// than half its font size). Four spaces a level nest under both `- ` and `10. `.
    fn list_depth(&mut self, b: &Block) -> usize {
        let x = b.bbox.x0;
        let tol = 0.5 * b.font_size.max(4.0);
        if self.last_kind != Some(BlockKind::ListItem) {
            self.list_levels.clear();
        }
        while self.list_levels.last().is_some_and(|&top| x < top - tol) {
            self.list_levels.pop();
        }
        match self.list_levels.last() {
            Some(&top) if x <= top + tol => {}
            _ => self.list_levels.push(x),
        }
        self.list_levels.len().saturating_sub(1).min(5)
    }

    fn separate(&mut self, kind: Option<BlockKind>) -> io::Result<()> {
        if self.wrote_any {
            let tight =
                kind == Some(BlockKind::ListItem) && self.last_kind == Some(BlockKind::ListItem);
            self.out.write_all(if tight { b"\n" } else { b"\n\n" })?;
        }
        self.wrote_any = true;
        Ok(())
    }

    fn emit(&mut self, kind: BlockKind, text: &str) -> io::Result<()> {
        let text = if kind == BlockKind::Paragraph {
            escape_line_start(text)
        } else {
            text.to_string()
        };
        self.separate(Some(kind))?;
        self.out.write_all(text.as_bytes())?;
        self.last_kind = Some(kind);
        Ok(())
    }

    fn flush_pending(&mut self) -> io::Result<()> {
        if let Some(p) = self.pending.take() {
            self.emit(self.pending_kind, &p)?;
        }
        for note in std::mem::take(&mut self.notes) {
            self.emit(BlockKind::Footnote, &note)?;
        }
        Ok(())
    }

    /// Writes what is held back and a final newline; returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.flush_pending()?;
        if self.wrote_any {
            self.out.write_all(b"\n")?;
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

/// A short one-line code term with text beside it on the same row (an argument table in a
/// reference manual: `x` | "R object to be converted.") reads as one list item.
fn definition(term: &Block, text: &Block) -> Option<String> {
    let t = term.text.trim();
    if term.kind != BlockKind::Code
        || term.lines.len() != 1
        || t.is_empty()
        || t.chars().count() > 40
        || !matches!(text.kind, BlockKind::Paragraph | BlockKind::ListItem)
    {
        return None;
    }
    let (a, b) = (term.lines[0].bbox, text.lines.first()?.bbox);
    let overlap = a.y1.min(b.y1) - a.y0.max(b.y0);
    let beside = b.x0 >= a.x1 - 1.0;
    if !(beside && overlap >= 0.5 * a.height().min(b.height())) {
        return None;
    }
    let tick = if t.contains('`') { "``" } else { "`" };
    let pad = if t.starts_with('`') || t.ends_with('`') {
        " "
    } else {
        ""
    };
    Some(format!(
        "- {tick}{pad}{t}{pad}{tick}: {}",
        rendered(text).trim()
    ))
}

/// A definition at the start of `blocks` and the blocks continuing its description; returns
/// the list item and how many blocks it used.
fn definition_run(blocks: &[&Block]) -> Option<(String, usize)> {
    let (term, text) = (blocks.first()?, blocks.get(1)?);
    let mut def = definition(term, text)?;
    // The description may go on in a block of its own where its font changes (`mainly
    // for` / `"POSIXlt" objects.`): same left edge, right below, the sentence still open.
    let mut last = *text;
    let mut used = 2;
    while let Some(next) = blocks.get(used).copied() {
        if !continues_below(&def, last, next) {
            break;
        }
        def = join_prose_text([def.as_str(), rendered(next).as_str()]);
        last = next;
        used += 1;
    }
    Some((def, used))
}

/// `next` continues the open sentence of `text` (ending `above`) as a block right below it.
fn continues_below(text: &str, above: &Block, next: &Block) -> bool {
    let open = !text.trim_end().ends_with(['.', '!', '?', ':', ';']);
    let line = above
        .lines
        .last()
        .map(|l| l.bbox.height())
        .unwrap_or(above.font_size)
        .max(1.0);
    open && matches!(next.kind, BlockKind::Paragraph | BlockKind::Code)
        && next.lines.len() <= 2
        && (next.bbox.x0 - above.bbox.x0).abs() <= 3.0
        && next.bbox.y0 >= above.bbox.y1 - 0.5 * line
        && next.bbox.y0 - above.bbox.y1 <= 0.8 * line
}

/// A paragraph that stops mid-sentence continues in the next one if that starts in lower case.
fn continues(prev: &str, next: &str) -> bool {
    let open = !prev
        .trim_end()
        .ends_with(['.', '!', '?', ':', ';', '"', ')']);
    open && next.chars().next().is_some_and(char::is_lowercase)
}

fn list_item(text: &str) -> String {
    let t = text.trim_start();
    let mut chars = t.chars();
    match chars.next() {
        Some('•' | '◦' | '▪' | '‣' | '●' | '○' | '■' | '□' | '➢' | '►' | '–' | '·' | '-' | '*') =>
        {
            format!("- {}", chars.as_str().trim_start())
        }
        // "1. x" and "2) x" are Markdown ordered items as they stand.
        Some(c) if c.is_ascii_digit() => t.to_string(),
        _ => format!("- {t}"),
    }
}

/// A prose block's text as Markdown: its own styled text, or the plain text escaped.
fn rendered(b: &Block) -> String {
    b.markdown.clone().unwrap_or_else(|| escape_inline(&b.text))
}

/// Escapes what Markdown would read as structure at the start of a paragraph (inline
/// escaping is done: [`rendered`]).
fn escape_line_start(text: &str) -> String {
    let t = text.trim_start();
    let needs = t.starts_with(['#', '>', '+', '=', '|'])
        || t.starts_with("- ")
        || t.starts_with("* ")
        || t.starts_with("---")
        || t.starts_with("```");
    if needs {
        format!("\\{t}")
    } else {
        t.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pagemill_core::model::{FailureReason, Page, PageFailure};
    use pagemill_core::BBox;

    fn block(kind: BlockKind, level: Option<u8>, text: &str) -> Block {
        Block {
            kind,
            level,
            bbox: BBox::default(),
            text: text.into(),
            font_size: 10.0,
            font: None,
            bold: false,
            italic: false,
            confidence: 1.0,
            lines: vec![],
            image: None,
            table: None,
            margin: None,
            rotation: None,
            markdown: None,
        }
    }

    fn page(index: u32, blocks: Vec<Block>) -> PageOutcome {
        PageOutcome::Ok(Page::new(index, 600.0, 800.0, blocks))
    }

    #[test]
    fn writes_structure_skips_furniture_joins_across_pages() {
        let mut w = MarkdownWriter::new(Vec::new());
        w.page(&page(
            0,
            vec![
                block(BlockKind::PageHeader, None, "Manual"),
                block(BlockKind::Heading, Some(1), "Intro"),
                block(BlockKind::Paragraph, None, "This sentence con-"),
                block(BlockKind::Footnote, None, "1 A note."),
                block(BlockKind::PageNumber, None, "1"),
            ],
        ))
        .unwrap();
        w.page(&page(
            1,
            vec![
                block(BlockKind::Paragraph, None, "tinues here."),
                block(BlockKind::ListItem, None, "• one"),
                block(BlockKind::ListItem, None, "• two"),
                block(BlockKind::Code, None, "x <- 1\n  y"),
                block(BlockKind::Paragraph, None, "# not a heading"),
            ],
        ))
        .unwrap();
        w.page(&PageOutcome::Failed(PageFailure {
            index: 2,
            reason: FailureReason::Invalid,
            message: "broken".into(),
        }))
        .unwrap();
        let md = String::from_utf8(w.finish().unwrap()).unwrap();
        assert_eq!(
            md,
            "# Intro\n\nThis sentence continues here.\n\n1 A note.\n\n- one\n- two\n\n```\nx <- 1\n  y\n```\n\n\\# not a heading\n\n<!-- pagemill: page 3 not converted (invalid: broken) -->\n"
        );
    }

    #[test]
    fn a_list_item_broken_by_a_page_break_goes_on() {
        let mut w = MarkdownWriter::new(Vec::new());
        w.page(&page(
            0,
            vec![block(BlockKind::ListItem, None, "• an item that runs")],
        ))
        .unwrap();
        w.page(&page(
            1,
            vec![
                block(BlockKind::Paragraph, None, "onto the next page."),
                block(BlockKind::Paragraph, None, "A paragraph."),
            ],
        ))
        .unwrap();
        let md = String::from_utf8(w.finish().unwrap()).unwrap();
        assert_eq!(
            md,
            "- an item that runs onto the next page.\n\nA paragraph.\n"
        );
    }

    #[test]
    fn list_items_set_further_right_nest() {
        let item = |x: f32, text: &str| {
            let mut b = block(BlockKind::ListItem, None, text);
            b.bbox = BBox::new(x, 100.0, 400.0, 110.0);
            b
        };
        let mut w = MarkdownWriter::new(Vec::new());
        w.page(&page(
            0,
            vec![
                item(72.0, "• fruit"),
                item(90.0, "◦ apple"),
                item(108.0, "1. green"),
                item(91.0, "◦ pear"),
                item(72.0, "• bread"),
            ],
        ))
        .unwrap();
        let md = String::from_utf8(w.finish().unwrap()).unwrap();
        assert_eq!(
            md,
            "- fruit\n    - apple\n        1. green\n    - pear\n- bread\n"
        );
    }

    #[test]
    fn a_code_term_beside_text_is_a_definition() {
        let at = |kind, text: &str, bbox: BBox| {
            let mut b = block(kind, None, text);
            b.bbox = bbox;
            b.lines = vec![pagemill_core::Line {
                bbox,
                text: text.into(),
                words: vec![],
            }];
            b
        };
        let mut w = MarkdownWriter::new(Vec::new());
        w.page(&page(
            0,
            vec![
                at(BlockKind::Code, "tz", BBox::new(100.0, 100.0, 110.0, 110.0)),
                at(
                    BlockKind::Paragraph,
                    "time zone, as",
                    BBox::new(150.0, 99.0, 400.0, 111.0),
                ),
                // Right below, the sentence still open: the description goes on.
                at(
                    BlockKind::Code,
                    "\"UTC\".",
                    BBox::new(150.0, 112.0, 180.0, 122.0),
                ),
                // Below, not beside: stays a code block.
                at(
                    BlockKind::Code,
                    "x <- 1",
                    BBox::new(100.0, 130.0, 130.0, 140.0),
                ),
                at(
                    BlockKind::Paragraph,
                    "Then.",
                    BBox::new(100.0, 150.0, 130.0, 160.0),
                ),
            ],
        ))
        .unwrap();
        let md = String::from_utf8(w.finish().unwrap()).unwrap();
        assert_eq!(
            md,
            "- `tz`: time zone, as \"UTC\".\n\n```\nx <- 1\n```\n\nThen.\n"
        );
    }
}

//! The furniture stage: running headers and footers told from content by repetition.
//!
//! One page cannot tell a running header from a caption, the last entry of a list or a
//! document's title: all are short blocks in a margin. Across pages it can. A running head
//! recurs at the same place, either with the same text (digits masked: page numbers,
//! dates, volume numbers) or, when it changes from page to page (chapter titles, the name
//! of the function a reference page documents), in the same font and size at the same
//! height on most pages. The page analysis marks the candidates ([`Block::margin`]); this
//! stage sits between the reorder window and the sinks, holds the next [`AHEAD`] pages
//! back, remembers the last [`BEHIND`] pages' candidates, and decides each one. Memory:
//! [`AHEAD`] results and a few strings per remembered page, whatever the document's length.

use std::collections::VecDeque;

use crate::layout::headings::is_caption;
use crate::model::{Block, BlockKind, Margin, Page, PageOutcome};
use crate::PageResult;

/// Pages held back so a page's candidates can be compared with the pages after it: four
/// reach two pages of the same parity, where mirrored running heads repeat.
pub const AHEAD: usize = 4;
/// Pages whose candidates are remembered for the pages after them.
pub const BEHIND: usize = 8;

/// A running-head candidate as the stage compares it.
#[derive(Debug, Clone, PartialEq)]
struct Candidate {
    margin: Margin,
    /// The text, lower-cased, digits masked, spaces collapsed.
    key: String,
    /// Distance from the page edge of its margin (top edge for headers, bottom for
    /// footers), in points.
    edge: f32,
    size: f32,
    font: Option<String>,
    /// Set in the body's size or smaller, and plain text: the kind of block a changing
    /// running head is, so it may be recognised by place and style alone.
    by_style: bool,
}

/// What the stage keeps of a page: its candidates, and how near the page's edges its
/// content comes (distance from the top edge to the highest content block, and from the
/// bottom edge to the lowest; infinite on a page without content).
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    candidates: Vec<Candidate>,
    top: f32,
    bottom: f32,
}

/// Holds pages back until their running headers and footers can be told by repetition; see
/// the module documentation. `E` travels with each page (the scheduler's worker time).
pub struct FurnitureStage<E> {
    held: VecDeque<(PageResult, E, Seen)>,
    behind: VecDeque<Seen>,
}

impl<E> Default for FurnitureStage<E> {
    fn default() -> Self {
        FurnitureStage {
            held: VecDeque::new(),
            behind: VecDeque::new(),
        }
    }
}

impl<E> FurnitureStage<E> {
    /// A stage with nothing held.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the next page in order; returns the pages now decided (in order, at most one
    /// unless the stage was behind).
    pub fn push(&mut self, result: PageResult, extra: E) -> Vec<(PageResult, E)> {
        let seen = seen(&result);
        self.held.push_back((result, extra, seen));
        let mut out = Vec::new();
        while self.held.len() > AHEAD {
            out.extend(self.release());
        }
        out
    }

    /// The document ended: decides and returns every page still held.
    pub fn finish(&mut self) -> Vec<(PageResult, E)> {
        let mut out = Vec::new();
        while !self.held.is_empty() {
            out.extend(self.release());
        }
        out
    }

    /// A page decided before (replayed by `--resume`): its running heads count as evidence
    /// for the pages after it.
    pub fn remember(&mut self, result: &PageResult) {
        self.remember_seen(seen(result));
    }

    /// Pages held back now.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    fn remember_seen(&mut self, c: Seen) {
        self.behind.push_back(c);
        while self.behind.len() > BEHIND {
            self.behind.pop_front();
        }
    }

    /// Decides the first held page and lets it go.
    fn release(&mut self) -> Option<(PageResult, E)> {
        let (mut result, extra, seen) = self.held.pop_front()?;
        if let PageOutcome::Ok(page) = &mut result.outcome {
            let neighbours: Vec<&Seen> = self
                .behind
                .iter()
                .chain(self.held.iter().map(|h| &h.2))
                .collect();
            decide(page, &neighbours);
        }
        self.remember_seen(seen);
        Some((result, extra))
    }
}

/// Turns the page's candidates that recur on the neighbouring pages into running headers
/// and footers; the others stay what they are. Every mark is cleared.
fn decide(page: &mut Page, neighbours: &[&Seen]) {
    let body = page.body_font_size;
    let height = page.height;
    for b in &mut page.blocks {
        let Some(margin) = b.margin.take() else {
            continue;
        };
        if never_furniture(b) {
            continue;
        }
        let c = candidate(b, margin, body, height);
        let near = |o: &Candidate| {
            o.margin == c.margin && (o.edge - c.edge).abs() <= 3f32.max(0.4 * c.size)
        };
        let same_text = neighbours
            .iter()
            .filter(|p| p.candidates.iter().any(|o| near(o) && o.key == c.key))
            .count();
        let same_style = neighbours
            .iter()
            .filter(|p| {
                p.candidates.iter().any(|o| {
                    near(o) && o.by_style && o.font == c.font && (o.size - c.size).abs() <= 0.5
                })
            })
            .count();
        // Pages whose content comes as near the edge as this block: there it is body text
        // (a full page's last line sits at the same height on every page).
        let reach = c.edge + 0.5 * c.size;
        let in_body = neighbours
            .iter()
            .filter(|p| match margin {
                Margin::Top => p.top < reach,
                Margin::Bottom => p.bottom < reach,
            })
            .count();
        // Three pages with the same text; or a changing head in its place and style on
        // three pages and at least half the pages around it, beyond where their content
        // reaches (on one page in eight at most: a figure may reach into a margin). The
        // last lines of pages that end at the same height are not a footer.
        let repeated = same_text >= 2
            || (c.by_style
                && b.kind != BlockKind::Footnote
                && same_style >= 2
                && same_style * 2 >= neighbours.len()
                && in_body * 8 <= neighbours.len());
        if repeated {
            b.kind = match margin {
                Margin::Top => BlockKind::PageHeader,
                Margin::Bottom => BlockKind::PageFooter,
            };
            b.level = None;
        }
    }
}

/// Blocks that stay content wherever they are: code, tables, figures, contents entries and
/// captions.
fn never_furniture(b: &Block) -> bool {
    matches!(
        b.kind,
        BlockKind::Code | BlockKind::Table | BlockKind::Figure | BlockKind::Toc
    ) || is_caption(&b.text)
}

/// What the stage keeps of a page (see [`Seen`]).
fn seen(result: &PageResult) -> Seen {
    let PageOutcome::Ok(page) = &result.outcome else {
        return Seen {
            candidates: Vec::new(),
            top: f32::INFINITY,
            bottom: f32::INFINITY,
        };
    };
    let content = page
        .blocks
        .iter()
        .filter(|b| b.margin.is_none() && !b.kind.is_furniture() && b.kind != BlockKind::Figure);
    let (mut top, mut bottom) = (f32::INFINITY, f32::INFINITY);
    for b in content {
        top = top.min(b.bbox.y0);
        bottom = bottom.min(page.height - b.bbox.y1);
    }
    Seen {
        candidates: candidates_of(page),
        top,
        bottom,
    }
}

/// The page's candidates, for comparing with other pages: the marked blocks, and on a page
/// decided before, its running heads.
fn candidates_of(page: &Page) -> Vec<Candidate> {
    page.blocks
        .iter()
        .filter_map(|b| {
            let margin = b.margin.or(match b.kind {
                BlockKind::PageHeader => Some(Margin::Top),
                BlockKind::PageFooter => Some(Margin::Bottom),
                _ => None,
            })?;
            (!never_furniture(b)).then(|| candidate(b, margin, page.body_font_size, page.height))
        })
        .collect()
}

fn candidate(b: &Block, margin: Margin, body: f32, height: f32) -> Candidate {
    let edge = match margin {
        Margin::Top => b.bbox.y0,
        Margin::Bottom => height - b.bbox.y1,
    };
    let plain = matches!(
        b.kind,
        BlockKind::Paragraph
            | BlockKind::Heading
            | BlockKind::ListItem
            | BlockKind::PageHeader
            | BlockKind::PageFooter
    );
    Candidate {
        margin,
        key: masked(&b.text),
        edge,
        size: b.font_size,
        font: b.font.clone(),
        by_style: plain && b.font_size < body.max(1.0) * 1.12,
    }
}

/// Lower case, every run of digits as `#`, spaces collapsed: `Page 3 of 10` and
/// `Page 4 of 10` read the same.
fn masked(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_digits = false;
    for ch in text.chars() {
        if ch.is_ascii_digit() {
            if !in_digits {
                out.push('#');
            }
            in_digits = true;
            continue;
        }
        in_digits = false;
        if ch.is_whitespace() {
            if !out.ends_with(' ') && !out.is_empty() {
                out.push(' ');
            }
        } else {
            out.extend(ch.to_lowercase());
        }
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BBox, Page};

    fn block(kind: BlockKind, text: &str, y0: f32, margin: Option<Margin>) -> Block {
        Block {
            kind,
            level: None,
            bbox: BBox::new(72.0, y0, 300.0, y0 + 10.0),
            text: text.into(),
            font_size: 9.0,
            font: Some("Times-Italic".into()),
            bold: false,
            italic: true,
            confidence: 1.0,
            lines: Vec::new(),
            image: None,
            table: None,
            margin,
            rotation: None,
            markdown: None,
        }
    }

    fn page(i: u32, blocks: Vec<Block>) -> PageResult {
        PageResult::bare(PageOutcome::Ok(Page::new(i, 612.0, 792.0, blocks)))
    }

    fn body(i: u32) -> Block {
        block(BlockKind::Paragraph, &format!("body text {i}"), 300.0, None)
    }

    fn kinds(results: &[(PageResult, ())]) -> Vec<Vec<BlockKind>> {
        results
            .iter()
            .map(|(r, _)| match &r.outcome {
                PageOutcome::Ok(p) => p.blocks.iter().map(|b| b.kind).collect(),
                PageOutcome::Failed(_) => Vec::new(),
            })
            .collect()
    }

    fn run(pages: Vec<PageResult>) -> Vec<(PageResult, ())> {
        let mut stage = FurnitureStage::new();
        let mut out = Vec::new();
        for p in pages {
            out.extend(stage.push(p, ()));
        }
        out.extend(stage.finish());
        out
    }

    #[test]
    fn a_running_head_with_changing_page_numbers_is_furniture() {
        let pages = (0..5)
            .map(|i| {
                let head = format!("Federal Register / Vol. 80, No. {} / Rules", 10 + i);
                page(
                    i,
                    vec![
                        block(BlockKind::Heading, &head, 30.0, Some(Margin::Top)),
                        body(i),
                    ],
                )
            })
            .collect();
        let out = run(pages);
        assert_eq!(out.len(), 5);
        for k in kinds(&out) {
            assert_eq!(k, vec![BlockKind::PageHeader, BlockKind::Paragraph]);
        }
    }

    #[test]
    fn a_changing_head_in_one_place_and_style_is_furniture() {
        let titles = ["abs", "all.equal", "apply", "array", "as.Date", "attr"];
        let pages = titles
            .iter()
            .enumerate()
            .map(|(i, t)| {
                page(
                    i as u32,
                    vec![
                        block(BlockKind::Paragraph, t, 30.0, Some(Margin::Top)),
                        body(0),
                    ],
                )
            })
            .collect();
        for k in kinds(&run(pages)) {
            assert_eq!(k[0], BlockKind::PageHeader);
        }
    }

    #[test]
    fn margin_text_on_one_or_two_pages_stays_content() {
        // A list ending two pages at the same height, a title, a caption on three pages.
        let mut pages = Vec::new();
        for i in 0..6u32 {
            let mut blocks = vec![body(i)];
            if i < 2 {
                blocks.push(block(
                    BlockKind::Paragraph,
                    &format!("item {i}"),
                    760.0,
                    Some(Margin::Bottom),
                ));
            }
            if i == 0 {
                blocks.push(block(
                    BlockKind::Heading,
                    "The Evolution",
                    20.0,
                    Some(Margin::Top),
                ));
            }
            if i >= 3 {
                blocks.push(block(
                    BlockKind::Paragraph,
                    &format!("Figure {i}. Nuts."),
                    740.0,
                    Some(Margin::Bottom),
                ));
            }
            pages.push(page(i, blocks));
        }
        let out = run(pages);
        for (r, _) in &out {
            let PageOutcome::Ok(p) = &r.outcome else {
                panic!()
            };
            assert!(p
                .blocks
                .iter()
                .all(|b| !b.kind.is_furniture() && b.margin.is_none()));
        }
    }

    #[test]
    fn a_last_line_where_other_pages_have_body_text_stays_content() {
        // Every page's body runs to 770 pt; some end with a short argument line there.
        let pages = (0..6u32)
            .map(|i| {
                let words = ["one", "two", "three", "four", "five", "six"];
                let mut last = block(BlockKind::Paragraph, words[i as usize], 760.0, None);
                if i % 2 == 0 {
                    last.margin = Some(Margin::Bottom);
                }
                page(i, vec![body(i), last])
            })
            .collect();
        for k in kinds(&run(pages)) {
            assert_eq!(k, vec![BlockKind::Paragraph, BlockKind::Paragraph]);
        }
    }

    #[test]
    fn replayed_pages_count_as_evidence() {
        let head = |i: u32, kind, margin| {
            page(
                i,
                vec![block(kind, "An Introduction to R", 30.0, margin), body(i)],
            )
        };
        let mut stage = FurnitureStage::new();
        stage.remember(&head(0, BlockKind::PageHeader, None));
        stage.remember(&head(1, BlockKind::PageHeader, None));
        assert!(stage
            .push(head(2, BlockKind::Paragraph, Some(Margin::Top)), ())
            .is_empty());
        assert_eq!(stage.held(), 1);
        assert_eq!(kinds(&stage.finish())[0][0], BlockKind::PageHeader);
    }

    #[test]
    fn masks_digits_and_spaces() {
        assert_eq!(masked("Page  3 of 10"), "page # of #");
        assert!(is_caption("Figure 7-26. Self-locking nuts."));
        assert!(is_caption("Fig. 2: Axes"));
        assert!(!is_caption("Figures are drawn"));
    }
}

//! Stage 4: block kinds and block text.
//!
//! Kinds come from the block's style relative to the page's body text (the most used font
//! size): larger or all-bold short blocks are headings, fixed-pitch blocks are code, blocks
//! that open with a list marker are list items, and short blocks in the top or bottom
//! margin are page furniture (headers, footers, page numbers) that Markdown leaves out.

use super::blocks::{starts_list_item, LineGroup};
use super::headings::{
    heading_level, is_caption, join_broken_headings, may_be_heading, numbered_heading,
};
use super::lines::TextLine;
use super::FontInfo;
use crate::model::{Block, BlockKind, Line, Margin};

/// The page's body font size: the size carrying the most characters (0.5 pt buckets).
pub fn body_font_size(lines: &[TextLine]) -> f32 {
    let mut buckets: Vec<(i32, u32)> = Vec::new();
    for l in lines {
        let key = (l.size * 2.0).round() as i32;
        match buckets.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += l.chars,
            None => buckets.push((key, l.chars)),
        }
    }
    buckets
        .into_iter()
        .max_by_key(|&(k, n)| (n, -k))
        .map(|(k, _)| k as f32 / 2.0)
        .filter(|s| *s > 0.0)
        .unwrap_or(10.0)
}

/// Margins (fraction of page height) where running headers and footers live.
const MARGIN: f32 = 0.085;

fn is_page_number(text: &str) -> bool {
    let t = text.trim().to_ascii_lowercase();
    let t = t.strip_prefix("page").map(str::trim).unwrap_or(&t);
    let t = t.trim_matches(|c: char| c == '-' || c == '–' || c.is_whitespace());
    if t.is_empty() {
        return false;
    }
    let numeric = |s: &str| !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit());
    let roman =
        |s: &str| !s.is_empty() && s.len() <= 7 && s.bytes().all(|b| b"ivxlcdm".contains(&b));
    if numeric(t) || roman(t) {
        return true;
    }
    // "3 of 10", "3 / 10"
    let parts: Vec<&str> = t
        .split(|c: char| c == '/' || c.is_whitespace())
        .filter(|s| !s.is_empty() && *s != "of")
        .collect();
    parts.len() == 2 && parts.iter().all(|p| numeric(p))
}

/// Where a page's body starts and ends: the extent of every block that is not a
/// furniture candidate (a short block in the outer [`FURNITURE_ZONE`] of the page). A
/// candidate separated from that extent by a gap is a running header or footer even when
/// the margins are wide (TeX puts page numbers ~12 % above the bottom edge).
fn body_extent(groups: &[LineGroup], height: f32) -> (f32, f32) {
    let candidate = |g: &LineGroup| {
        g.lines.len() <= 2
            && g.chars() <= 160
            && (g.bbox.y1 <= height * FURNITURE_ZONE
                || g.bbox.y0 >= height * (1.0 - FURNITURE_ZONE))
    };
    // Only the outermost band of candidates is furniture: a short block with more short
    // blocks beyond it (figure labels, captions) is content.
    let cands: Vec<&LineGroup> = groups.iter().filter(|g| candidate(g)).collect();
    let lowest = cands
        .iter()
        .filter(|g| g.bbox.y0 >= height * 0.5)
        .max_by(|a, b| a.bbox.y1.total_cmp(&b.bbox.y1));
    let highest = cands
        .iter()
        .filter(|g| g.bbox.y1 < height * 0.5)
        .min_by(|a, b| a.bbox.y0.total_cmp(&b.bbox.y0));
    let outer = |g: &LineGroup| {
        let near = |o: &LineGroup, below: bool| {
            let reach = 1.5 * o.bbox.height().max(4.0);
            if below {
                g.bbox.y1 >= o.bbox.y0 - reach
            } else {
                g.bbox.y0 <= o.bbox.y1 + reach
            }
        };
        lowest.is_some_and(|o| g.bbox.y0 >= height * 0.5 && near(o, true))
            || highest.is_some_and(|o| g.bbox.y1 < height * 0.5 && near(o, false))
    };
    let body: Vec<&LineGroup> = groups
        .iter()
        .filter(|g| !(candidate(g) && outer(g)))
        .collect();
    if body.is_empty() {
        // Only short blocks: nothing to call furniture relative to.
        return (f32::NEG_INFINITY, f32::INFINITY);
    }
    let top = body.iter().map(|g| g.bbox.y0).fold(f32::INFINITY, f32::min);
    let bottom = body
        .iter()
        .map(|g| g.bbox.y1)
        .fold(f32::NEG_INFINITY, f32::max);
    (top, bottom)
}

/// Outer fraction of the page (top and bottom) where running headers and footers may sit.
const FURNITURE_ZONE: f32 = 0.2;

/// Joins prose lines, removing line-break hyphens (`exam-` + `ple` → `example`).
pub fn join_prose(lines: &[TextLine]) -> String {
    join_prose_text(lines.iter().map(|l| l.text.as_str()))
}

/// [`join_prose`] over plain strings (OCR lines, paragraphs joined across pages).
pub fn join_prose_text<'a>(lines: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for text in lines {
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        if out.is_empty() {
            out.push_str(text);
            continue;
        }
        let next_lower = text.chars().next().is_some_and(|c| c.is_lowercase());
        let ends_soft = out.ends_with('\u{AD}');
        let ends_hyphen =
            out.ends_with('-') && out.chars().rev().nth(1).is_some_and(|c| c.is_alphabetic());
        if ends_soft || (ends_hyphen && next_lower) {
            out.pop();
            out.push_str(text);
        } else if out.ends_with('-') {
            // An explicit hyphen before a capital or digit belongs to the word: `X-Men`.
            out.push_str(text);
        } else {
            out.push(' ');
            out.push_str(text);
        }
    }
    // Soft hyphens inside a line are invisible; drop them.
    out.retain(|c| c != '\u{AD}');
    out
}

/// Where a line's leader dots start (`. . .`, `....`, `…`), if it has a run of them.
fn leader_start(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    let mut run_start = None;
    let mut dots = 0;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'.' => {
                if dots == 0 {
                    run_start = Some(i);
                }
                dots += 1;
                if dots >= 4 {
                    return run_start;
                }
            }
            b' ' if dots > 0 => {}
            _ => dots = 0,
        }
    }
    text.find("……")
}

/// A table of contents: most lines carry leader dots.
fn is_toc(g: &LineGroup) -> bool {
    let with_leaders = g
        .lines
        .iter()
        .filter(|l| leader_start(&l.text).is_some())
        .count();
    with_leaders >= 2 && with_leaders * 5 >= g.lines.len() * 3
}

/// One entry per line, `title … page`; a line without leaders continues the entry above
/// (a title wrapped over two lines).
fn join_toc(g: &LineGroup) -> String {
    let mut entries: Vec<String> = Vec::new();
    let mut open = false;
    for l in &g.lines {
        let t = l.text.trim();
        let entry = match leader_start(t) {
            Some(at) => {
                let title = t[..at].trim();
                let page = t[at..].trim_start_matches(['.', ' ', '…']).trim();
                match (title.is_empty(), page.is_empty()) {
                    (false, false) => format!("{title} … {page}"),
                    (false, true) => title.to_string(),
                    (true, _) => page.to_string(),
                }
            }
            None => t.to_string(),
        };
        match entries.last_mut() {
            Some(last) if open => {
                // The title wrapped: this line ends the entry started above.
                last.push(' ');
                last.push_str(&entry);
            }
            _ => entries.push(entry),
        }
        open = leader_start(t).is_none() && !entries.is_empty() && !t.ends_with(char::is_numeric);
    }
    entries.join("\n")
}

/// Code keeps its lines and their indentation relative to the block's left edge.
fn join_code(g: &LineGroup) -> String {
    let cw = {
        let mut w: Vec<f32> = g
            .lines
            .iter()
            .map(|l| l.char_width)
            .filter(|w| *w > 0.0)
            .collect();
        w.sort_by(f32::total_cmp);
        w.get(w.len() / 2).copied().unwrap_or(5.0)
    };
    let mut out = String::new();
    for (i, l) in g.lines.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let indent = ((l.bbox.x0 - g.bbox.x0) / cw).round().clamp(0.0, 60.0) as usize;
        out.extend(std::iter::repeat_n(' ', indent));
        out.push_str(l.text.trim_end_matches('\u{AD}'));
    }
    out
}

/// Gives each group its kind and text.
pub fn classify(groups: Vec<LineGroup>, fonts: &[FontInfo], body: f32, height: f32) -> Vec<Block> {
    let mut blocks = classify_style(groups, fonts, body, height);
    mark_footnotes(&mut blocks, body, height);
    join_broken_headings(&mut blocks);
    blocks
}

/// Marks the running-header and -footer candidates of a page whose blocks came from OCR:
/// short blocks (two lines, 160 characters at most) in the outer 8.5 % of the page,
/// set no larger than a subheading; a bare page number there is one outright. The
/// furniture stage decides the rest, as for text-layer pages.
pub fn mark_margin_candidates(blocks: &mut [Block], body: f32, height: f32) {
    for b in blocks.iter_mut() {
        let short = b.lines.len() <= 2 && b.text.chars().count() <= 160;
        let margin = if b.bbox.y1 <= height * MARGIN {
            Some(Margin::Top)
        } else if b.bbox.y0 >= height * (1.0 - MARGIN) {
            Some(Margin::Bottom)
        } else {
            None
        };
        if !short || b.kind == BlockKind::Table || b.font_size > body.max(1.0) * 1.3 {
            continue;
        }
        if margin.is_some() && is_page_number(&b.text) {
            b.kind = BlockKind::PageNumber;
            b.level = None;
        } else {
            b.margin = margin;
        }
    }
}

/// Footnotes: smaller-than-body blocks in the lower half that open with a note marker and
/// have no body-size text below them. Without this a note splits the sentence that runs on
/// to the next page (and a URL in a note reads as code).
fn mark_footnotes(blocks: &mut [Block], body: f32, height: f32) {
    let small = |b: &Block| b.font_size <= body * 0.92;
    let content = |k: BlockKind| {
        matches!(
            k,
            BlockKind::Paragraph | BlockKind::ListItem | BlockKind::Code | BlockKind::Heading
        )
    };
    let last_body_top = blocks
        .iter()
        .filter(|b| content(b.kind) && !small(b))
        .map(|b| b.bbox.y0)
        .fold(f32::NEG_INFINITY, f32::max);
    for b in blocks.iter_mut() {
        let marker = b
            .text
            .trim_start()
            .starts_with(|c: char| c.is_ascii_digit() || "*†‡§¶¹²³⁴⁵⁶⁷⁸⁹".contains(c));
        if matches!(b.kind, BlockKind::Paragraph | BlockKind::Code)
            && small(b)
            && marker
            && b.bbox.y0 >= height * 0.5
            && b.bbox.y0 > last_body_top
        {
            b.kind = BlockKind::Footnote;
            b.text = join_prose_text(b.lines.iter().map(|l| l.text.as_str()));
        }
    }
}

fn classify_style(
    groups: Vec<LineGroup>,
    fonts: &[FontInfo],
    body: f32,
    height: f32,
) -> Vec<Block> {
    let (body_top, body_bottom) = body_extent(&groups, height);
    groups
        .into_iter()
        .map(|g| {
            let size = g.weighted(|l| l.size);
            let bold = g.weighted(|l| l.bold) > 0.9;
            let italic = g.weighted(|l| l.italic) > 0.9;
            let mono = g.weighted(|l| l.mono) > 0.8;
            let chars = g.chars();
            let first = g.lines.first().map(|l| l.text.as_str()).unwrap_or("");
            let ratio = size / body.max(1.0);
            let prose = join_prose(&g.lines);
            let has_letters = prose.chars().any(char::is_alphabetic);
            let short = g.lines.len() <= 2 && chars <= 160;
            let in_top = g.bbox.y1 <= height * MARGIN
                || (short && g.bbox.y1 <= body_top - g.bbox.height().max(4.0));
            let in_bottom = g.bbox.y0 >= height * (1.0 - MARGIN)
                || (short && g.bbox.y0 >= body_bottom + g.bbox.height().max(4.0));

            // A short block in a margin may be a running header or footer; whether it is
            // takes the neighbouring pages to tell (the furniture stage). A bare page
            // number is one on any page.
            let margin = match (short, in_top, in_bottom) {
                (true, true, _) => Some(Margin::Top),
                (true, false, true) => Some(Margin::Bottom),
                _ => None,
            };
            let one_toc_line = g.lines.len() == 1
                && leader_start(first).is_some()
                && first.trim_end().ends_with(|c: char| c.is_alphanumeric());
            let may_head = has_letters && may_be_heading(&prose, ratio >= 1.3);
            let (kind, level) = if margin.is_some() && ratio < 1.12 && is_page_number(&prose) {
                (BlockKind::PageNumber, None)
            } else if is_toc(&g) || one_toc_line {
                (BlockKind::Toc, None)
            } else if mono {
                (BlockKind::Code, None)
            } else if let Some(depth) = numbered_heading(&g, &prose, bold) {
                let level = heading_level(ratio, false).unwrap_or(match depth {
                    1 => 2,
                    2 => 3,
                    _ => 4,
                });
                (BlockKind::Heading, Some(level))
            } else if g.styled_line
                && may_head
                && chars <= 120
                && !is_caption(&prose)
                && !prose.ends_with(['.', ',', ';'])
            {
                // A heading set apart by its font alone, standing over its paragraph.
                (BlockKind::Heading, heading_level(ratio.max(1.0), true))
            } else if starts_list_item(first) {
                (BlockKind::ListItem, None)
            } else if may_head
                && g.lines.len() <= 4
                && chars <= 250
                && !prose.ends_with(',')
                && heading_level(
                    ratio,
                    bold && g.lines.len() <= 2 && chars <= 120 && !prose.ends_with('.'),
                )
                .is_some()
            {
                let lvl = heading_level(ratio, bold);
                (BlockKind::Heading, lvl)
            } else {
                (BlockKind::Paragraph, None)
            };
            let text = match kind {
                BlockKind::Code => join_code(&g),
                BlockKind::Toc => join_toc(&g),
                _ => prose,
            };
            let markdown = match kind {
                BlockKind::Paragraph | BlockKind::ListItem | BlockKind::Footnote => {
                    super::inline::styled_prose(&g.lines, &text)
                }
                _ => None,
            };
            let font_id = g.lines.first().map(|l| l.font);
            Block {
                kind,
                level,
                bbox: g.bbox,
                text,
                font_size: (size * 100.0).round() / 100.0,
                font: font_id
                    .and_then(|f| fonts.get(f as usize))
                    .map(|f| f.name.clone())
                    .filter(|n| !n.is_empty()),
                bold,
                italic,
                confidence: 1.0,
                lines: g
                    .lines
                    .iter()
                    .map(|l| Line {
                        bbox: l.bbox,
                        text: l.text.replace('\u{AD}', "-"),
                        words: Vec::new(),
                    })
                    .collect(),
                image: None,
                table: None,
                margin: margin.filter(|_| kind != BlockKind::PageNumber),
                rotation: None,
                markdown,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::analyze;
    use super::super::testutil::*;
    use super::*;

    #[test]
    fn dehyphenates_only_real_line_break_hyphens() {
        let mk = super::super::lines::plain_line;
        assert_eq!(
            join_prose(&[mk("an exam-"), mk("ple here")]),
            "an example here"
        );
        assert_eq!(join_prose(&[mk("see 1990-"), mk("2000")]), "see 1990-2000");
        assert_eq!(join_prose(&[mk("The X-"), mk("Men")]), "The X-Men");
        assert_eq!(join_prose(&[mk("soft\u{AD}"), mk("Ware")]), "softWare");
    }

    #[test]
    fn a_heading_broken_over_two_lines_is_one_heading() {
        let mut c = Vec::new();
        set_text(&mut c, "Chapter 1.", 50.0, 100.0, 20.0, 0);
        set_text(&mut c, "Securing and protecting data", 50.0, 128.0, 20.0, 0);
        set_text(&mut c, "2 Next part", 50.0, 200.0, 20.0, 0);
        for i in 0..5 {
            let y = 240.0 + 12.0 * i as f32;
            set_text(
                &mut c,
                "body text body text body text body text",
                50.0,
                y,
                10.0,
                0,
            );
        }
        let page = analyze(&page(c));
        let headings: Vec<&str> = page
            .blocks
            .iter()
            .filter(|b| b.kind == BlockKind::Heading)
            .map(|b| b.text.as_str())
            .collect();
        assert_eq!(
            headings,
            vec!["Chapter 1. Securing and protecting data", "2 Next part"]
        );
    }

    #[test]
    fn headings_by_size_and_weight_margin_candidates_marked() {
        let mut c = Vec::new();
        set_text(&mut c, "Running header", 50.0, 20.0, 9.0, 0);
        set_text(&mut c, "Big Title", 50.0, 100.0, 20.0, 0);
        set_text(&mut c, "Bold Section", 50.0, 140.0, 10.0, 1);
        for i in 0..5 {
            set_text(
                &mut c,
                "body text body text body text body text",
                50.0,
                160.0 + 12.0 * i as f32,
                10.0,
                0,
            );
        }
        set_text(&mut c, "fn main() {}", 50.0, 300.0, 10.0, 2);
        set_text(&mut c, "• an item", 50.0, 330.0, 10.0, 0);
        set_text(&mut c, "12", 300.0, 760.0, 10.0, 0);
        let p = analyze(&page(c));
        let kinds: Vec<_> = p.blocks.iter().map(|b| (b.kind, b.level)).collect();
        assert_eq!(p.body_font_size, 10.0);
        // The header is only a candidate: one page cannot tell it from content.
        assert_eq!(p.blocks[0].margin, Some(Margin::Top));
        assert!(p.blocks[1..].iter().all(|b| b.margin.is_none()));
        assert_eq!(
            kinds,
            vec![
                (BlockKind::Paragraph, None),
                (BlockKind::Heading, Some(1)),
                (BlockKind::Heading, Some(4)),
                (BlockKind::Paragraph, None),
                (BlockKind::Code, None),
                (BlockKind::ListItem, None),
                (BlockKind::PageNumber, None),
            ],
            "{:#?}",
            p.blocks.iter().map(|b| &b.text).collect::<Vec<_>>()
        );
    }

    #[test]
    fn dates_addresses_and_captions_are_not_headings() {
        for t in [
            "January 3, 2024",
            "3 Jan. 2024",
            "2024-01-03",
            "me@example.org",
            "Figure 2: Axes",
            "end for",
        ] {
            assert!(!may_be_heading(t, false), "{t}");
        }
        for t in [
            "Introduction",
            "March Madness Results",
            "2 Installation",
            "Mayhem in 2024",
        ] {
            assert!(may_be_heading(t, false), "{t}");
        }
    }

    #[test]
    fn ocr_blocks_in_the_margins_are_candidates() {
        let block = |y0: f32, text: &str, size: f32| {
            let mut b = Block::figure(crate::model::BBox::new(72.0, y0, 300.0, y0 + 10.0));
            b.kind = BlockKind::Paragraph;
            b.text = text.into();
            b.font_size = size;
            b.lines = vec![Line {
                bbox: b.bbox,
                text: text.into(),
                words: Vec::new(),
            }];
            b
        };
        let mut blocks = vec![
            block(20.0, "Chapter 1: Introduction", 10.0),
            block(30.0, "A Big Title", 24.0),
            block(400.0, "Body text in the middle of the page.", 10.0),
            block(770.0, "12", 10.0),
        ];
        mark_margin_candidates(&mut blocks, 10.0, 792.0);
        assert_eq!(blocks[0].margin, Some(Margin::Top));
        assert_eq!(blocks[1].margin, None, "display type is no running head");
        assert_eq!(blocks[2].margin, None);
        assert_eq!(blocks[3].kind, BlockKind::PageNumber);
    }

    #[test]
    fn page_numbers() {
        for t in ["12", "- 3 -", "Page 4", "xiv", "3 of 10", "7 / 9"] {
            assert!(is_page_number(t), "{t}");
        }
        for t in ["Chapter 3", "2024 Report", ""] {
            assert!(!is_page_number(t), "{t}");
        }
    }

    #[test]
    fn toc_lines_keep_one_entry_each() {
        let mut c = Vec::new();
        set_text(
            &mut c,
            "Introduction . . . . . . . . 1",
            50.0,
            100.0,
            10.0,
            0,
        );
        set_text(&mut c, "A title that wraps", 50.0, 112.0, 10.0, 0);
        set_text(&mut c, "onto two lines . . . . . 12", 50.0, 124.0, 10.0, 0);
        set_text(
            &mut c,
            "Index.......................99",
            50.0,
            136.0,
            10.0,
            0,
        );
        let p = analyze(&page(c));
        assert_eq!(p.blocks.len(), 1);
        assert_eq!(p.blocks[0].kind, BlockKind::Toc);
        assert_eq!(
            p.blocks[0].text,
            "Introduction … 1\nA title that wraps onto two lines … 12\nIndex … 99"
        );
    }
}

//! OCR paragraphs → pagemill blocks, in page points, with the same kinds as text-layer pages.

use pagemill_core::layout::classify::join_prose_text;
use pagemill_core::model::Word;
use pagemill_core::{BBox, Block, BlockKind, Line};

use crate::engine::{OcrLine, OcrPage, OcrParagraph, RegionKind};

/// Converts an OCR result on an image rendered at `scale` pixels per point into blocks.
/// Returns the blocks and the body text size (points) they were classified against.
pub fn to_blocks(page: &OcrPage, scale: f32) -> (Vec<Block>, f32) {
    let s = if scale > 0.0 { scale } else { 1.0 };
    to_blocks_mapped(page, scale, |b| {
        BBox::new(b.x0 / s, b.y0 / s, b.x1 / s, b.y1 / s)
    })
}

/// Like [`to_blocks`], with boxes placed on the page by `place` (image pixels → page
/// points). Used when the image was turned upright or deskewed before recognition: sizes
/// are measured on the upright image, boxes land where the text is on the page.
pub fn to_blocks_mapped(
    page: &OcrPage,
    scale: f32,
    place: impl Fn(BBox) -> BBox,
) -> (Vec<Block>, f32) {
    let scale = if scale > 0.0 { scale } else { 1.0 };
    let pt = place;
    let bulleted = split_bullets(page);
    let page = &bulleted;
    // Text size from line heights: the median line of the page is body text.
    // A line's size is its tallest word: word boxes hug the glyphs, and nearly every line
    // has a word with both an ascender and a descender, so this is steadier than line boxes.
    let line_size = |l: &crate::engine::OcrLine| {
        l.words.iter().map(|w| w.bbox.height()).fold(0.0, f32::max) / scale
    };
    let mut heights: Vec<f32> = page
        .paragraphs
        .iter()
        .flat_map(|p| p.lines.iter())
        .map(line_size)
        .filter(|h| *h > 0.0)
        .collect();
    heights.sort_by(f32::total_cmp);
    let body_line = heights.get(heights.len() / 2).copied().unwrap_or(12.0);
    // A line box spans ascender to descender: about 1.2× the font size for Latin text.
    let body = (body_line / 1.2 * 2.0).round() / 2.0;

    let blocks = page
        .paragraphs
        .iter()
        .map(|p| {
            let line_h = median(p.lines.iter().map(line_size));
            let ratio = line_h / body_line.max(1.0);
            let bold = {
                let n = p.lines.iter().map(|l| l.words.len()).sum::<usize>().max(1);
                let b = p
                    .lines
                    .iter()
                    .flat_map(|l| &l.words)
                    .filter(|w| w.bold)
                    .count();
                b * 10 >= n * 9
            };
            let (kind, level) = kind_of(p, ratio);
            let lines: Vec<Line> = p
                .lines
                .iter()
                .map(|l| Line {
                    bbox: pt(l.bbox),
                    text: l
                        .words
                        .iter()
                        .map(|w| w.text.as_str())
                        .collect::<Vec<_>>()
                        .join(" "),
                    words: l
                        .words
                        .iter()
                        .map(|w| Word {
                            bbox: pt(w.bbox),
                            text: w.text.clone(),
                            confidence: round2(w.confidence),
                        })
                        .collect(),
                })
                .collect();
            let text = if kind == BlockKind::Code {
                code_text(p)
            } else {
                join_prose_text(lines.iter().map(|l| l.text.as_str()))
            };
            let words: Vec<f32> = p
                .lines
                .iter()
                .flat_map(|l| &l.words)
                .map(|w| w.confidence)
                .collect();
            let confidence = words.iter().sum::<f32>() / words.len().max(1) as f32;
            Block {
                kind,
                level,
                bbox: pt(p.bbox),
                text,
                font_size: round2(line_h / 1.2),
                font: None,
                bold,
                italic: false,
                confidence: round2(confidence),
                lines,
                image: None,
                table: None,
                margin: None,
                rotation: None,
                markdown: None,
            }
        })
        .collect();
    (join_continuations(blocks), body)
}

fn kind_of(p: &OcrParagraph, ratio: f32) -> (BlockKind, Option<u8>) {
    let first = p
        .lines
        .first()
        .map(|l| {
            l.words
                .iter()
                .map(|w| w.text.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    // Line boxes of OCR vary with ascenders and descenders far more than font sizes of a
    // text layer do, so the steps are wider than for text-layer pages, and font weight
    // (unreliable from the LSTM engine) is not used.
    let text_len: usize = p
        .lines
        .iter()
        .flat_map(|l| &l.words)
        .map(|w| w.text.chars().count() + 1)
        .sum();
    let last = p
        .lines
        .last()
        .and_then(|l| l.words.last())
        .map(|w| w.text.as_str())
        .unwrap_or("");
    let text: Vec<&str> = p
        .lines
        .iter()
        .flat_map(|l| &l.words)
        .map(|w| w.text.as_str())
        .collect();
    let short = p.lines.len() <= 2
        && !first.starts_with('•')
        && text_len <= 120
        && text.len() <= MAX_HEADING_WORDS
        && !last.ends_with(['.', ',', ';', '!'])
        && !continues_or_runs_on(&text);
    let level = match ratio {
        r if r >= 1.8 => Some(1),
        r if r >= 1.45 => Some(2),
        r if r >= 1.3 => Some(3),
        r if r >= 1.15 && p.kind == RegionKind::Heading => Some(4),
        _ => None,
    };
    if short && level.is_some() && p.kind != RegionKind::Table {
        return (BlockKind::Heading, level);
    }
    if looks_like_code(p) {
        return (BlockKind::Code, None);
    }
    if pagemill_core::layout::blocks::starts_list_item(&first) {
        return (BlockKind::ListItem, None);
    }
    (BlockKind::Paragraph, None)
}

/// Whether an OCR paragraph is code by its layout: several lines, two in three of them
/// code — opening with a prompt (`> `, `$ `), or short (under six words) and ending a
/// statement or a block (`;`, `{`, `}`) or holding an operator (`<-`, `->`, `==`, `::`) —
/// and none of them prose (five words or more ending in `.` or `:`, or five plain words
/// of three letters or more outside a prompt line). Tesseract
/// often puts a line of prose and the command it introduces in one paragraph: those stay
/// prose.
fn looks_like_code(p: &OcrParagraph) -> bool {
    if p.lines.len() < 2 {
        return false;
    }
    let lines: Vec<Vec<&str>> = p
        .lines
        .iter()
        .map(|l| l.words.iter().map(|w| w.text.as_str()).collect())
        .collect();
    let mut code = 0;
    for words in &lines {
        let text = words.join(" ");
        let prompt = text.starts_with("> ") || text.starts_with("$ ");
        let plain_words = words
            .iter()
            .filter(|w| w.len() >= 3 && w.chars().all(char::is_alphabetic))
            .count();
        if (words.len() >= 5 && text.ends_with(['.', ':'])) || (!prompt && plain_words >= 5) {
            return false; // a line of prose
        }
        let statement = text.ends_with([';', '{', '}'])
            || ["<-", "->", "==", "::"].iter().any(|op| text.contains(op));
        let is_code = prompt || (words.len() < 6 && statement);
        if !is_code && plain_words >= 2 {
            return false; // words between the commands: prose introducing them
        }
        code += usize::from(is_code);
    }
    3 * code >= 2 * lines.len()
}

/// A code paragraph's text: its lines kept, each indented by its offset from the leftmost
/// line in characters (OCR drops leading spaces; the words' boxes keep them).
fn code_text(p: &OcrParagraph) -> String {
    let (mut width, mut chars) = (0.0f32, 0usize);
    for w in p.lines.iter().flat_map(|l| &l.words) {
        width += w.bbox.width();
        chars += w.text.chars().count();
    }
    let advance = if chars > 0 { width / chars as f32 } else { 1.0 }.max(0.1);
    let left = p
        .lines
        .iter()
        .map(|l| l.bbox.x0)
        .fold(f32::INFINITY, f32::min);
    p.lines
        .iter()
        .map(|l| {
            let indent = ((l.bbox.x0 - left) / advance).round().clamp(0.0, 80.0) as usize;
            let text = l
                .words
                .iter()
                .map(|w| w.text.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            format!("{}{text}", " ".repeat(indent))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What Tesseract makes of a round bullet `•` in common fonts: never a word of its own
/// at the start of a line otherwise.
const MISREAD_BULLETS: &[&str] = &["¢", "«", "°"];
/// Misreadings that are also real symbols at a line start (`© 1985 …`): taken for bullets
/// only on a page that has at least two lines starting with a bullet-like mark.
const AMBIGUOUS_BULLETS: &[&str] = &["©", "®"];

/// Restores bullets Tesseract misread (`¢ Each track …` → `• Each track …`) and starts a
/// new paragraph at every bulleted line, so each item becomes a list item of its own.
fn split_bullets(page: &OcrPage) -> OcrPage {
    let starts_item = |l: &OcrLine, ambiguous_too: bool| -> bool {
        let mut words = l.words.iter().map(|w| w.text.as_str());
        let (Some(first), Some(next)) = (words.next(), words.next()) else {
            return false;
        };
        let capital_next = next.chars().next().is_some_and(char::is_uppercase);
        first == "•"
            || capital_next
                && (MISREAD_BULLETS.contains(&first)
                    || ambiguous_too && AMBIGUOUS_BULLETS.contains(&first))
    };
    let lines = page.paragraphs.iter().flat_map(|p| &p.lines);
    let marked = lines
        .filter(|l| starts_item(l, true) || l.words.first().is_some_and(|w| w.text == "•"))
        .count();
    let ambiguous_too = marked >= 2;
    let mut out = OcrPage::default();
    for p in &page.paragraphs {
        let mut current: Option<OcrParagraph> = None;
        for line in &p.lines {
            let mut line = line.clone();
            let item = starts_item(&line, ambiguous_too);
            if item {
                line.words[0].text = "•".into();
            }
            match &mut current {
                Some(c) if !item => {
                    c.bbox = c.bbox.union(&line.bbox);
                    c.lines.push(line);
                }
                _ => {
                    if let Some(c) = current.take() {
                        out.paragraphs.push(c);
                    }
                    current = Some(OcrParagraph {
                        bbox: line.bbox,
                        kind: p.kind,
                        lines: vec![line],
                    });
                }
            }
        }
        out.paragraphs.extend(current);
    }
    out
}

/// Joins a block that starts in lower case to the prose block just above it when that one
/// does not end a sentence: Tesseract often splits the last line of a paragraph or list
/// item off into a paragraph of its own (`… up to 16 polyphonic` / `synthesizers!`).
fn join_continuations(blocks: Vec<Block>) -> Vec<Block> {
    let mut out: Vec<Block> = Vec::with_capacity(blocks.len());
    for b in blocks {
        let starts_lower = b
            .text
            .chars()
            .find(|c| c.is_alphanumeric())
            .is_some_and(char::is_lowercase);
        if let Some(prev) = out.last_mut() {
            let line_h = b.lines.first().map_or(0.0, |l| l.bbox.height());
            let gap = b.bbox.y0 - prev.bbox.y1;
            let overlaps = b.bbox.x0 < prev.bbox.x1 && prev.bbox.x0 < b.bbox.x1;
            let prose = matches!(prev.kind, BlockKind::Paragraph | BlockKind::ListItem)
                && b.kind == BlockKind::Paragraph;
            let open = !prev.text.trim_end().ends_with(['.', '!', '?', ':']);
            if starts_lower && prose && open && overlaps && gap < 1.5 * line_h {
                let (n0, n1) = (prev.lines.len() as f32, b.lines.len() as f32);
                prev.confidence = round2((prev.confidence * n0 + b.confidence * n1) / (n0 + n1));
                prev.text = join_prose_text([prev.text.as_str(), b.text.as_str()]);
                prev.bbox = prev.bbox.union(&b.bbox);
                prev.lines.extend(b.lines);
                continue;
            }
        }
        out.push(b);
    }
    out
}

/// Words a heading has at most: longer runs of large type are lead paragraphs.
const MAX_HEADING_WORDS: usize = 12;

/// Whether words read as running text rather than a title: they start in lower case (the
/// rest of a sentence the engine split off), or a sentence ends inside them.
fn continues_or_runs_on(words: &[&str]) -> bool {
    let starts_lower = words
        .first()
        .and_then(|w| w.chars().find(|c| c.is_alphabetic()))
        .is_some_and(char::is_lowercase);
    let sentence_inside = words.windows(2).any(|w| {
        w[0].ends_with(['.', '!', '?'])
            && w[0].chars().filter(|c| c.is_alphabetic()).count() > 2
            && w[1].chars().next().is_some_and(char::is_uppercase)
    });
    starts_lower || sentence_inside
}

fn median(v: impl Iterator<Item = f32>) -> f32 {
    let mut v: Vec<f32> = v.filter(|x| *x > 0.0).collect();
    v.sort_by(f32::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn round2(v: f32) -> f32 {
    (v * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{OcrLine, OcrWord};

    fn para(kind: RegionKind, y: f32, h: f32, lines: &[&str]) -> OcrParagraph {
        let lines: Vec<OcrLine> = lines
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let y0 = y + i as f32 * h * 1.2;
                OcrLine {
                    bbox: BBox::new(100.0, y0, 900.0, y0 + h),
                    words: t
                        .split(' ')
                        .map(|w| OcrWord {
                            bbox: BBox::new(100.0, y0, 200.0, y0 + h),
                            text: w.into(),
                            confidence: 0.9,
                            bold: false,
                        })
                        .collect(),
                }
            })
            .collect();
        OcrParagraph {
            bbox: BBox::new(100.0, y, 900.0, y + lines.len() as f32 * h * 1.2),
            kind,
            lines,
        }
    }

    #[test]
    fn code_laid_out_as_code_is_a_code_block_with_its_indentation() {
        let mut code = para(
            RegionKind::Text,
            100.0,
            40.0,
            &["function add(a, b) {", "return a + b;", "}"],
        );
        // The second line stands four characters (of 20 px) further right.
        code.lines[1].bbox.x0 = 180.0;
        for w in code.lines.iter_mut().flat_map(|l| l.words.iter_mut()) {
            let n = w.text.chars().count() as f32;
            w.bbox.x1 = w.bbox.x0 + 20.0 * n;
        }
        let prose = para(
            RegionKind::Text,
            400.0,
            40.0,
            &["A sentence about add(a, b).", "It ends here."],
        );
        let page = OcrPage {
            figures: Vec::new(),
            paragraphs: vec![code, prose],
        };
        let (blocks, _) = to_blocks(&page, 300.0 / 72.0);
        assert_eq!(blocks[0].kind, BlockKind::Code);
        assert_eq!(blocks[0].text, "function add(a, b) {\n    return a + b;\n}");
        assert_eq!(blocks[1].kind, BlockKind::Paragraph);
    }

    #[test]
    fn big_short_paragraphs_are_headings_and_boxes_are_in_points() {
        let page = OcrPage {
            figures: Vec::new(),
            paragraphs: vec![
                para(RegionKind::Text, 100.0, 80.0, &["A Title"]),
                para(
                    RegionKind::Text,
                    300.0,
                    40.0,
                    &["Body text that is hyphen-", "ated across lines."],
                ),
                para(RegionKind::Text, 500.0, 40.0, &["• an item"]),
            ],
        };
        // 300 dpi: 300/72 pixels per point.
        let (blocks, body) = to_blocks(&page, 300.0 / 72.0);
        assert_eq!(blocks[0].kind, BlockKind::Heading);
        assert_eq!(blocks[0].level, Some(1));
        assert_eq!(blocks[1].kind, BlockKind::Paragraph);
        assert_eq!(blocks[1].text, "Body text that is hyphenated across lines.");
        assert_eq!(blocks[2].kind, BlockKind::ListItem);
        assert!(
            (blocks[1].bbox.x0 - 24.0).abs() < 0.01,
            "{:?}",
            blocks[1].bbox
        );
        assert!((body - 8.0).abs() < 0.51, "{body}");
        assert_eq!(blocks[1].lines[0].words.len(), 5);
        assert!((blocks[1].confidence - 0.9).abs() < 1e-6);
    }

    #[test]
    fn large_running_text_is_not_a_heading() {
        // As on OCRmyPDF's linn.pdf: a lead paragraph in large type, and the tail of a
        // list item split off by the engine.
        let page = OcrPage {
            figures: Vec::new(),
            paragraphs: vec![
                para(
                    RegionKind::Text,
                    100.0,
                    60.0,
                    &["The LinnSequencer is a state-of-the-art tool for the musician. It is"],
                ),
                para(
                    RegionKind::Text,
                    300.0,
                    40.0,
                    &["Body text of normal size,", "and more of it."],
                ),
                para(
                    RegionKind::Text,
                    400.0,
                    40.0,
                    &["Body text of normal size,", "and more of it."],
                ),
                para(RegionKind::Text, 500.0, 60.0, &["synthesizers"]),
                para(RegionKind::Text, 600.0, 60.0, &["Recording a Sequence"]),
            ],
        };
        let (blocks, _) = to_blocks(&page, 1.0);
        let kinds: Vec<BlockKind> = blocks.iter().map(|b| b.kind).collect();
        assert_eq!(kinds[0], BlockKind::Paragraph);
        assert_eq!(kinds.len(), 5);
        assert_eq!(kinds[3], BlockKind::Paragraph);
        assert_eq!(kinds[4], BlockKind::Heading);
    }

    #[test]
    fn a_line_tail_split_off_joins_its_paragraph() {
        let page = OcrPage {
            figures: Vec::new(),
            paragraphs: vec![
                para(
                    RegionKind::Text,
                    100.0,
                    40.0,
                    &["• Simultaneously plays up to 16 polyphonic"],
                ),
                para(RegionKind::Text, 148.0, 40.0, &["synthesizers!"]),
                para(RegionKind::Text, 196.0, 40.0, &["Next one."]),
            ],
        };
        let (blocks, _) = to_blocks(&page, 1.0);
        let texts: Vec<&str> = blocks.iter().map(|b| b.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "• Simultaneously plays up to 16 polyphonic synthesizers!",
                "Next one."
            ]
        );
        assert_eq!(blocks[0].lines.len(), 2);
    }

    #[test]
    fn misread_bullets_become_list_items_one_per_line() {
        // As on linn.pdf: one paragraph holding three bulleted lines, the bullets read as
        // `¢` and `©`; and a copyright line that must stay as it is on a page without
        // bullets.
        let page = OcrPage {
            figures: Vec::new(),
            paragraphs: vec![para(
                RegionKind::Text,
                100.0,
                40.0,
                &[
                    "¢ One or all tracks",
                    "may be moved.",
                    "¢ Exclusive ERASE",
                    "© Optional remote control.",
                ],
            )],
        };
        let (blocks, _) = to_blocks(&page, 1.0);
        let texts: Vec<&str> = blocks.iter().map(|b| b.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "• One or all tracks may be moved.",
                "• Exclusive ERASE",
                "• Optional remote control."
            ]
        );
        assert!(blocks.iter().all(|b| b.kind == BlockKind::ListItem));
        let copyright = OcrPage {
            figures: Vec::new(),
            paragraphs: vec![para(
                RegionKind::Text,
                100.0,
                40.0,
                &["© Forat Electronics"],
            )],
        };
        let (blocks, _) = to_blocks(&copyright, 1.0);
        assert_eq!(blocks[0].text, "© Forat Electronics");
    }
}

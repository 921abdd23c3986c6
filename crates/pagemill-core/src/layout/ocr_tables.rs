//! Tables on OCR pages: the rules found in the page image and the OCR words' positions
//! give the same cell grid as a text-layer page's rules and characters
//! ([`super::tables::ruled_tables`]). Tesseract's own layout analysis does not find
//! tables: it reads their cells as paragraphs, which the table then replaces. Aligned
//! (unruled) tables are not looked for here: tried on the scanned corpus, OCR's garbled
//! leaders, letters' address blocks and chart legends came out as tables on 4 of 11
//! documents.

use super::order::insert_in_reading_order;
use super::tables::ruled_tables;
use super::{FontInfo, RawChar};
use crate::model::{BBox, Block, BlockKind, Line};

/// Finds ruled tables among the words of an OCR page's `blocks` (in reading order), whose
/// grids `rules` draw (page points), and puts them in place of the lines they hold.
pub fn ocr_tables(rules: &[BBox], blocks: &mut Vec<Block>) {
    if rules.len() < 4 {
        return;
    }
    let (chars, confidences) = chars_of(blocks);
    let found = ruled_tables(rules, &chars, &[FontInfo::default()]);
    if found.blocks.is_empty() {
        return;
    }
    let mut tables = found.blocks;
    for t in &mut tables {
        // A table's confidence is its words' mean, as a paragraph's is.
        let inside: Vec<f32> = chars
            .iter()
            .zip(&confidences)
            .filter(|(c, _)| !c.generated && contains(&t.bbox, &c.bbox))
            .map(|(_, &k)| k)
            .collect();
        if !inside.is_empty() {
            t.confidence = inside.iter().sum::<f32>() / inside.len() as f32;
        }
    }
    let boxes: Vec<BBox> = tables.iter().map(|t| t.bbox).collect();
    blocks.retain_mut(|b| keep_outside(b, &boxes));
    insert_in_reading_order(blocks, tables);
}

/// The words of `blocks` as characters (a word's box shared evenly among its letters,
/// spaces and line breaks marked generated), with each character's word confidence.
fn chars_of(blocks: &[Block]) -> (Vec<RawChar>, Vec<f32>) {
    let mut chars = Vec::new();
    let mut conf = Vec::new();
    for b in blocks.iter().filter(|b| b.kind != BlockKind::Figure) {
        for line in &b.lines {
            for w in &line.words {
                let n = w.text.chars().count().max(1) as f32;
                let step = w.bbox.width() / n;
                let size = (w.bbox.height() * 0.8).max(1.0);
                for (i, ch) in w.text.chars().enumerate() {
                    let x0 = w.bbox.x0 + step * i as f32;
                    chars.push(RawChar {
                        ch,
                        bbox: BBox::new(x0, w.bbox.y0, x0 + step, w.bbox.y1),
                        size,
                        font: 0,
                        generated: false,
                        dir: 0,
                    });
                    conf.push(w.confidence);
                }
                chars.push(generated(' ', w.bbox, size));
                conf.push(w.confidence);
            }
            chars.push(generated('\n', line.bbox, 1.0));
            conf.push(1.0);
        }
    }
    (chars, conf)
}

fn generated(ch: char, at: BBox, size: f32) -> RawChar {
    RawChar {
        ch,
        bbox: BBox::new(at.x1, at.y0, at.x1, at.y1),
        size,
        font: 0,
        generated: true,
        dir: 0,
    }
}

/// Drops the lines of `b` inside a table; whether anything of `b` is left.
fn keep_outside(b: &mut Block, tables: &[BBox]) -> bool {
    if b.kind == BlockKind::Figure || b.lines.is_empty() {
        return true;
    }
    let before = b.lines.len();
    b.lines
        .retain(|l| !tables.iter().any(|t| contains(t, &l.bbox)));
    if b.lines.len() == before {
        return true;
    }
    if b.lines.is_empty() {
        return false;
    }
    b.bbox = b
        .lines
        .iter()
        .map(|l| l.bbox)
        .reduce(|a, c| a.union(&c))
        .unwrap_or(b.bbox);
    let sep = if b.kind == BlockKind::Code { "\n" } else { " " };
    b.text = b
        .lines
        .iter()
        .map(|l: &Line| l.text.as_str())
        .collect::<Vec<_>>()
        .join(sep);
    true
}

/// Whether the centre of `inner` lies in `outer`.
fn contains(outer: &BBox, inner: &BBox) -> bool {
    super::tables::contains(
        outer,
        (inner.x0 + inner.x1) / 2.0,
        (inner.y0 + inner.y1) / 2.0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Word;

    fn line(words: &[(&str, f32)], y: f32) -> Line {
        let words: Vec<Word> = words
            .iter()
            .map(|&(t, x)| Word {
                bbox: BBox::new(x, y, x + 6.0 * t.len() as f32, y + 10.0),
                text: t.to_string(),
                confidence: 0.9,
            })
            .collect();
        let bbox = words
            .iter()
            .map(|w| w.bbox)
            .reduce(|a, b| a.union(&b))
            .unwrap();
        let text = words
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        Line { bbox, text, words }
    }

    fn block(lines: Vec<Line>) -> Block {
        let bbox = lines
            .iter()
            .map(|l| l.bbox)
            .reduce(|a, b| a.union(&b))
            .unwrap();
        Block {
            kind: BlockKind::Paragraph,
            level: None,
            bbox,
            text: lines
                .iter()
                .map(|l| l.text.clone())
                .collect::<Vec<_>>()
                .join(" "),
            font_size: 10.0,
            font: None,
            bold: false,
            italic: false,
            confidence: 0.9,
            lines,
            image: None,
            table: None,
            margin: None,
            rotation: None,
            markdown: None,
        }
    }

    #[test]
    fn a_grid_of_image_rules_around_ocr_words_replaces_their_paragraphs() {
        let (xs, ys) = ([100.0, 200.0, 300.0], [100.0, 120.0, 140.0, 160.0]);
        let mut rules: Vec<BBox> = ys
            .iter()
            .map(|&y| BBox::new(xs[0], y - 0.5, xs[2], y + 0.5))
            .collect();
        rules.extend(
            xs.iter()
                .map(|&x| BBox::new(x - 0.5, ys[0], x + 0.5, ys[3])),
        );
        // Tesseract read the cells as one paragraph per column, and a paragraph below.
        let mut blocks = vec![
            block(vec![
                line(&[("Name", 105.0)], 105.0),
                line(&[("Ada", 105.0)], 125.0),
                line(&[("Bob", 105.0)], 145.0),
            ]),
            block(vec![
                line(&[("Age", 205.0)], 105.0),
                line(&[("36", 205.0)], 125.0),
                line(&[("41", 205.0)], 145.0),
            ]),
            block(vec![line(
                &[("After", 100.0), ("the", 140.0), ("table.", 165.0)],
                200.0,
            )]),
        ];
        ocr_tables(&rules, &mut blocks);
        let kinds: Vec<BlockKind> = blocks.iter().map(|b| b.kind).collect();
        assert_eq!(
            kinds,
            vec![BlockKind::Table, BlockKind::Paragraph],
            "{blocks:?}"
        );
        assert_eq!(blocks[0].text, "Name\tAge\nAda\t36\nBob\t41");
        assert!((blocks[0].confidence - 0.9).abs() < 1e-4);
        assert_eq!(blocks[1].text, "After the table.");
    }
}

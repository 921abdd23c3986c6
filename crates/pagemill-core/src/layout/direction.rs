//! Text that does not run left to right: rotated tables, vertical margin stamps, axis
//! labels.
//!
//! The stages after this one read lines left to right. Characters whose text runs in
//! another direction ([`RawChar::dir`]) would come out one letter per line (`S` / `L` /
//! `A` …, or `30 d n o c e s` across a chart), so each direction is turned upright, read
//! like any page, and its blocks turned back onto the page with a
//! [`Block::rotation`](crate::model::Block::rotation). A page whose text mostly runs one
//! other way (a landscape table set on a portrait page) is turned as a whole, its rules and
//! figures with it, so its tables are found as on an upright page.

use super::{analyze_upright, figures::RawFigure, order, RawChar, RawPage};
use crate::model::{BBox, Block, Page};

/// Where a point of the page lands when text running `dir` (counter-clockwise degrees) is
/// turned to run left to right; `w`, `h` are the page's size.
fn turn(x: f32, y: f32, dir: u16, w: f32, h: f32) -> (f32, f32) {
    match dir {
        // Bottom to top: turn the page clockwise.
        90 => (h - y, x),
        180 => (w - x, h - y),
        // Top to bottom: turn the page counter-clockwise.
        270 => (y, w - x),
        _ => (x, y),
    }
}

/// The inverse of [`turn`]: a point of the turned page back on the page.
fn turn_back(u: f32, v: f32, dir: u16, w: f32, h: f32) -> (f32, f32) {
    match dir {
        90 => (v, h - u),
        180 => (w - u, h - v),
        270 => (w - v, u),
        _ => (u, v),
    }
}

fn turn_box(b: &BBox, dir: u16, w: f32, h: f32, back: bool) -> BBox {
    let f = if back { turn_back } else { turn };
    let (ax, ay) = f(b.x0, b.y0, dir, w, h);
    let (bx, by) = f(b.x1, b.y1, dir, w, h);
    BBox::new(ax.min(bx), ay.min(by), ax.max(bx), ay.max(by))
}

/// `raw` with only the characters `keep` accepts (rules and figures too when `whole`),
/// turned so text running `dir` runs left to right.
fn turned(raw: &RawPage, dir: u16, whole: bool, keep: impl Fn(&RawChar) -> bool) -> RawPage {
    let (w, h) = (raw.width, raw.height);
    let (tw, th) = if dir % 180 == 90 { (h, w) } else { (w, h) };
    let chars = raw
        .chars
        .iter()
        .filter(|c| keep(c))
        .map(|c| RawChar {
            bbox: if c.bbox == BBox::default() {
                c.bbox
            } else {
                turn_box(&c.bbox, dir, w, h, false)
            },
            dir: (c.dir + 360 - dir) % 360,
            ..*c
        })
        .collect();
    RawPage {
        index: raw.index,
        rotation: raw.rotation,
        width: tw,
        height: th,
        chars,
        fonts: raw.fonts.clone(),
        layer: raw.layer,
        ink: raw.ink,
        rules: if whole {
            raw.rules
                .iter()
                .map(|r| turn_box(r, dir, w, h, false))
                .collect()
        } else {
            Vec::new()
        },
        figures: if whole {
            raw.figures
                .iter()
                .map(|f| RawFigure {
                    bbox: turn_box(&f.bbox, dir, w, h, false),
                    ..*f
                })
                .collect()
        } else {
            Vec::new()
        },
    }
}

/// Puts the blocks of a page analysed turned (by `dir`) back onto the page of size `w`×`h`.
fn turn_blocks_back(page: &mut Page, dir: u16, w: f32, h: f32) {
    for b in &mut page.blocks {
        b.bbox = turn_box(&b.bbox, dir, w, h, true);
        for l in &mut b.lines {
            l.bbox = turn_box(&l.bbox, dir, w, h, true);
            for word in &mut l.words {
                word.bbox = turn_box(&word.bbox, dir, w, h, true);
            }
        }
        if let Some(t) = &mut b.table {
            for c in &mut t.cells {
                c.bbox = turn_box(&c.bbox, dir, w, h, true);
            }
        }
        let total = (b.rotation.unwrap_or(0) + dir) % 360;
        b.rotation = (total != 0).then_some(total);
        // Running heads are told by their place at the top or bottom of the page: text
        // that runs sideways has none.
        b.margin = None;
    }
}

/// Runs the stages on `raw`, each text direction read upright (see the module docs).
pub fn analyze(raw: &RawPage) -> Page {
    let mut counts = [0usize; 4];
    for c in raw.chars.iter().filter(|c| !c.ch.is_whitespace()) {
        counts[usize::from(c.dir / 90) % 4] += 1;
    }
    if counts[1..].iter().all(|&n| n == 0) {
        return analyze_upright(raw);
    }
    let total: usize = counts.iter().sum();
    let main = (0..4).max_by_key(|&d| (counts[d], d == 0)).unwrap_or(0) as u16 * 90;
    // Most of the page runs another way: turn the whole page (rules and figures too).
    let (mut page, done) = if main != 0 && counts[usize::from(main / 90)] * 2 > total {
        let mut page = analyze_upright(&turned(raw, main, true, |c| c.dir == main));
        turn_blocks_back(&mut page, main, raw.width, raw.height);
        page.width = raw.width;
        page.height = raw.height;
        (page, main)
    } else {
        let upright = RawPage {
            chars: raw.chars.iter().filter(|c| c.dir == 0).copied().collect(),
            ..raw.clone()
        };
        (analyze_upright(&upright), 0)
    };
    for d in [0u16, 90, 180, 270] {
        if d == done || counts[usize::from(d / 90)] == 0 {
            continue;
        }
        let mut part = analyze_upright(&turned(raw, d, false, |c| c.dir == d));
        turn_blocks_back(&mut part, d, raw.width, raw.height);
        // Sideways text in a margin beside the body (an arXiv stamp, a vertical running
        // title) ends the page; inside the body (a y-axis label) it goes where it stands.
        let left = page
            .blocks
            .iter()
            .map(|b| b.bbox.x0)
            .fold(f32::INFINITY, f32::min);
        let right = page
            .blocks
            .iter()
            .map(|b| b.bbox.x1)
            .fold(f32::NEG_INFINITY, f32::max);
        let (beside, inside): (Vec<Block>, Vec<Block>) = part
            .blocks
            .into_iter()
            .partition(|b| b.bbox.x1 <= left || b.bbox.x0 >= right);
        order::insert_in_reading_order(&mut page.blocks, inside);
        page.blocks.extend(beside);
    }
    page
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::model::BlockKind;

    /// `text` running bottom to top from (x, y_bottom), `size`-point glyphs.
    fn set_vertical(chars: &mut Vec<RawChar>, text: &str, x: f32, y: f32, size: f32) {
        let adv = size * 0.5;
        let mut cy = y;
        for ch in text.chars() {
            chars.push(RawChar {
                ch,
                bbox: BBox::new(x, cy - adv, x + size * 1.2, cy),
                size,
                font: 0,
                generated: false,
                dir: 90,
            });
            cy -= adv;
        }
    }

    #[test]
    fn turning_and_back_is_the_identity() {
        let b = BBox::new(10.0, 20.0, 30.0, 60.0);
        for d in [0, 90, 180, 270] {
            let t = turn_box(&b, d, 612.0, 792.0, false);
            assert_eq!(turn_box(&t, d, 612.0, 792.0, true), b, "{d}");
        }
    }

    #[test]
    fn a_vertical_margin_stamp_reads_as_one_line() {
        let mut c = Vec::new();
        for i in 0..6 {
            set_text(
                &mut c,
                "body text body text body text",
                72.0,
                100.0 + 12.0 * i as f32,
                10.0,
                0,
            );
        }
        set_vertical(&mut c, "SLAS 2024 DRAFT", 20.0, 500.0, 10.0);
        let page = analyze(&page(c));
        let stamp: Vec<_> = page
            .blocks
            .iter()
            .filter(|b| b.rotation.is_some())
            .collect();
        assert_eq!(
            stamp.len(),
            1,
            "{:?}",
            page.blocks.iter().map(|b| &b.text).collect::<Vec<_>>()
        );
        assert_eq!(stamp[0].text, "SLAS 2024 DRAFT");
        assert_eq!(stamp[0].rotation, Some(90));
        assert!(
            stamp[0].bbox.x0 >= 19.0 && stamp[0].bbox.x1 <= 33.0,
            "{:?}",
            stamp[0].bbox
        );
        assert!(page
            .blocks
            .iter()
            .any(|b| b.kind == BlockKind::Paragraph && b.rotation.is_none()));
    }

    #[test]
    fn a_page_of_sideways_text_is_read_turned() {
        let mut c = Vec::new();
        for i in 0..5 {
            set_vertical(
                &mut c,
                &format!("row {i} of a landscape page"),
                100.0 + 14.0 * i as f32,
                700.0,
                10.0,
            );
        }
        let page = analyze(&page(c));
        let texts: Vec<&str> = page.blocks.iter().map(|b| b.text.as_str()).collect();
        assert_eq!(page.blocks.len(), 1, "{texts:?}");
        assert!(
            texts[0].starts_with("row 0 of a landscape page row 1"),
            "{texts:?}"
        );
        assert_eq!(page.blocks[0].rotation, Some(90));
    }
}

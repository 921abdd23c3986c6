//! The invisible text layer of a searchable PDF: every OCR word drawn in render mode 3
//! (neither filled nor stroked) at its box, in a glyph-less font whose `/ToUnicode` map
//! gives back the word's characters, whatever the script.
//!
//! The font is Tesseract's `pdf.ttf` (`assets/glyphless.ttf`, 572 bytes, Apache-2.0, from
//! Debian's `libtesseract5` 5.3.0): two glyphs, the second an empty box 500/1000 em wide
//! and 1000/1000 tall. Every character gets its own CID, numbered in order of first use
//! per document, and every CID maps to that empty glyph; the ToUnicode map (written when
//! the document ends, once every character is known) maps each CID back to its character,
//! so non-Latin and non-BMP text is searchable too (a standard font like Helvetica can only
//! carry Latin-1).

use std::collections::HashMap;

use pagemill_core::model::{BBox, Block, Line, Page};
use pagemill_core::result::deflate;
use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, TextRenderingMode, UnicodeCmap};
use pdf_writer::{Chunk, Content, Filter, Name, Rect, Ref, Str};

/// The glyph-less TrueType font (see the module comment for its origin).
const GLYPHLESS_TTF: &[u8] = include_bytes!("../assets/glyphless.ttf");
/// Advance of the one glyph, in thousandths of the font size.
const GLYPH_WIDTH: f32 = 500.0;
/// Highest CID handed out; characters beyond it share the last CID (never seen in
/// practice: it takes 65 534 distinct characters in one document).
const MAX_CID: u16 = u16::MAX;

/// Object numbers of the font's six objects.
#[derive(Debug, Clone, Copy)]
pub struct FontIds {
    /// The Type0 font the pages name.
    pub font: Ref,
    /// Its CIDFontType2 descendant.
    pub cid_font: Ref,
    /// The font descriptor.
    pub descriptor: Ref,
    /// The embedded TrueType program.
    pub file: Ref,
    /// The CID → glyph map.
    pub cid_to_gid: Ref,
    /// The CID → Unicode map.
    pub to_unicode: Ref,
}

/// The glyph-less font of one document: the characters seen so far and their CIDs.
#[derive(Debug, Default)]
pub struct GlyphlessFont {
    cids: HashMap<char, u16>,
    chars: Vec<char>,
}

impl GlyphlessFont {
    /// Appends the 2-byte codes of `text` to `out`, giving new characters new CIDs.
    fn encode(&mut self, text: impl Iterator<Item = char>, out: &mut Vec<u8>) {
        for c in text {
            let cid = match self.cids.get(&c) {
                Some(&cid) => cid,
                None if self.chars.len() < usize::from(MAX_CID) => {
                    self.chars.push(c);
                    let cid = self.chars.len() as u16; // CID 0 stays .notdef
                    self.cids.insert(c, cid);
                    cid
                }
                None => MAX_CID,
            };
            out.extend_from_slice(&cid.to_be_bytes());
        }
    }

    /// Writes the font's objects, one chunk each (so each can be placed on its own).
    pub fn write(&self, ids: FontIds) -> Vec<(Ref, Chunk)> {
        let mut out = Vec::with_capacity(6);
        let info = SystemInfo {
            registry: Str(b"Adobe"),
            ordering: Str(b"Identity"),
            supplement: 0,
        };

        let mut c = Chunk::new();
        c.type0_font(ids.font)
            .base_font(Name(b"GlyphLessFont"))
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(ids.cid_font)
            .to_unicode(ids.to_unicode);
        out.push((ids.font, c));

        let mut c = Chunk::new();
        c.cid_font(ids.cid_font)
            .subtype(CidFontType::Type2)
            .base_font(Name(b"GlyphLessFont"))
            .system_info(info)
            .font_descriptor(ids.descriptor)
            .default_width(GLYPH_WIDTH)
            .cid_to_gid_map_stream(ids.cid_to_gid);
        out.push((ids.cid_font, c));

        let mut c = Chunk::new();
        c.font_descriptor(ids.descriptor)
            .name(Name(b"GlyphLessFont"))
            .flags(FontFlags::FIXED_PITCH | FontFlags::SYMBOLIC)
            .bbox(Rect::new(0.0, 0.0, GLYPH_WIDTH, 1000.0))
            .italic_angle(0.0)
            .ascent(1000.0)
            .descent(0.0)
            .cap_height(1000.0)
            .stem_v(80.0)
            .font_file2(ids.file);
        out.push((ids.descriptor, c));

        let mut c = Chunk::new();
        c.stream(ids.file, &deflate(GLYPHLESS_TTF))
            .filter(Filter::FlateDecode)
            .pair(Name(b"Length1"), GLYPHLESS_TTF.len() as i32);
        out.push((ids.file, c));

        // CID 0 → glyph 0 (.notdef); every used CID → glyph 1, the empty box.
        let mut map = vec![0u8, 0];
        for _ in &self.chars {
            map.extend_from_slice(&[0, 1]);
        }
        let mut c = Chunk::new();
        c.stream(ids.cid_to_gid, &deflate(&map))
            .filter(Filter::FlateDecode);
        out.push((ids.cid_to_gid, c));

        let mut cmap = UnicodeCmap::new(Name(b"GlyphLessFont-UTF16"), info);
        for (i, &ch) in self.chars.iter().enumerate() {
            cmap.pair(i as u16 + 1, ch);
        }
        let mut c = Chunk::new();
        c.stream(ids.to_unicode, &deflate(&cmap.finish()))
            .filter(Filter::FlateDecode);
        out.push((ids.to_unicode, c));
        out
    }
}

/// Where a page's displayed frame (the model's coordinates: points, origin top-left of
/// the visible box, y down, `/Rotate` applied) sits in the PDF's default user space.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PageFrame {
    /// Visible box in user space: left, bottom, right, top.
    pub visible: [f32; 4],
    /// The page's `/Rotate` (0, 90, 180, 270).
    pub rotate: u16,
}

impl PageFrame {
    /// The user-space point of displayed point (`x`, `y`).
    fn point(&self, x: f32, y: f32) -> (f32, f32) {
        let [left, bottom, right, top] = self.visible;
        match self.rotate {
            90 => (left + y, bottom + x),
            180 => (right - x, bottom + y),
            270 => (right - y, top - x),
            _ => (left + x, top - y),
        }
    }

    /// The user-space direction of displayed direction (`dx`, `dy`).
    fn direction(&self, dx: f32, dy: f32) -> (f32, f32) {
        match self.rotate {
            90 => (dy, dx),
            180 => (-dx, dy),
            270 => (-dy, -dx),
            _ => (dx, -dy),
        }
    }
}

/// A unit vector in the displayed frame (y down).
type Axis = (f32, f32);

/// Along and across (upwards) axes of text turned `degrees` clockwise from upright.
fn turned(degrees: u16) -> (Axis, Axis) {
    match degrees {
        90 => ((0.0, 1.0), (1.0, 0.0)),
        180 => ((-1.0, 0.0), (0.0, 1.0)),
        270 => ((0.0, -1.0), (-1.0, 0.0)),
        _ => ((1.0, 0.0), (0.0, -1.0)),
    }
}

/// The axes of a block's text. Its words' order says which way it runs: Tesseract reads
/// vertical lines in place (a page turned 90° inside its content, or vertical CJK), so a
/// page's `ocr_rotation` alone does not tell. A block without a line of two words takes
/// the page's: the turn that undoes `ocr_rotation`.
fn block_axes(block: &Block, ocr_rotation: Option<u16>) -> (Axis, Axis) {
    let centre = |b: &BBox| ((b.x0 + b.x1) / 2.0, (b.y0 + b.y1) / 2.0);
    for line in &block.lines {
        let (Some(first), Some(last)) = (line.words.first(), line.words.last()) else {
            continue;
        };
        if line.words.len() < 2 {
            continue;
        }
        let ((x0, y0), (x1, y1)) = (centre(&first.bbox), centre(&last.bbox));
        let (dx, dy) = (x1 - x0, y1 - y0);
        let degrees = if dx.abs() >= dy.abs() {
            if dx >= 0.0 {
                0
            } else {
                180
            }
        } else if dy > 0.0 {
            90
        } else {
            270
        };
        return turned(degrees);
    }
    turned((360 - ocr_rotation.unwrap_or(0) % 360) % 360)
}

/// The smallest and largest value of `box` projected on unit axis `v`.
fn extent(b: &BBox, (vx, vy): Axis) -> (f32, f32) {
    let (ax, bx) = (b.x0 * vx, b.x1 * vx);
    let (ay, by) = (b.y0 * vy, b.y1 * vy);
    (ax.min(bx) + ay.min(by), ax.max(bx) + ay.max(by))
}

/// The content that draws `page`'s words invisibly, in font resource `font_name`.
///
/// It starts with `Q`: the page's own content runs between a `q` stream put before it and
/// this one, so whatever transform it leaves behind is undone first.
pub fn page_content(
    page: &Page,
    frame: &PageFrame,
    font: &mut GlyphlessFont,
    font_name: &[u8],
) -> Vec<u8> {
    let mut content = Content::new();
    content.restore_state();
    content.begin_text();
    content.set_text_rendering_mode(TextRenderingMode::Invisible);
    let mut codes = Vec::new();
    for block in &page.blocks {
        let (along, up) = block_axes(block, page.ocr_rotation);
        let (ax, ay) = frame.direction(along.0, along.1);
        let (ux, uy) = frame.direction(up.0, up.1);
        for line in &block.lines {
            let (base, top) = extent(&line.bbox, up);
            let size = top - base;
            if size < 0.5 {
                continue;
            }
            content.set_font(Name(font_name), size);
            for (start, length, text) in line_words(line, along) {
                codes.clear();
                font.encode(text.chars(), &mut codes);
                let n = (codes.len() / 2) as f32;
                if n == 0.0 || length <= 0.0 {
                    continue;
                }
                // The word's start on the baseline, in user space.
                let (x, y) =
                    frame.point(start * along.0 + base * up.0, start * along.1 + base * up.1);
                content.set_text_matrix([ax, ay, ux, uy, x, y]);
                content.set_horizontal_scaling(100.0 * length / (n * size * GLYPH_WIDTH / 1000.0));
                content.show(Str(&codes));
            }
        }
    }
    content.end_text();
    content.finish().to_vec()
}

/// A line's words as (start along the line, length to the next word's start, text with a
/// trailing space before the next word), so copied text keeps its spaces.
fn line_words(line: &Line, along: Axis) -> Vec<(f32, f32, String)> {
    if line.words.is_empty() {
        let (a0, a1) = extent(&line.bbox, along);
        return vec![(a0, a1 - a0, line.text.clone())];
    }
    let spans: Vec<(f32, f32)> = line.words.iter().map(|w| extent(&w.bbox, along)).collect();
    let mut out = Vec::with_capacity(spans.len());
    for (i, (w, &(a0, a1))) in line.words.iter().zip(&spans).enumerate() {
        match spans.get(i + 1) {
            // Boxes may touch or overlap (Tesseract's word boxes on joined scripts): the
            // word and its space are squeezed to end where the next word starts, so the
            // characters never interleave.
            Some(&(next, _)) if next > a0 => out.push((a0, next - a0, format!("{} ", w.text))),
            _ => out.push((a0, a1 - a0, w.text.clone())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(rotate: u16) -> PageFrame {
        PageFrame {
            visible: [10.0, 20.0, 110.0, 220.0],
            rotate,
        }
    }

    #[test]
    fn frame_inverts_the_displayed_mapping() {
        // Displayed top-left is the visible box's top-left after rotation.
        assert_eq!(frame(0).point(0.0, 0.0), (10.0, 220.0));
        assert_eq!(frame(90).point(0.0, 0.0), (10.0, 20.0));
        assert_eq!(frame(180).point(0.0, 0.0), (110.0, 20.0));
        assert_eq!(frame(270).point(0.0, 0.0), (110.0, 220.0));
        // Moving right on the display.
        assert_eq!(frame(0).direction(1.0, 0.0), (1.0, 0.0));
        assert_eq!(frame(90).direction(1.0, 0.0), (0.0, 1.0));
        assert_eq!(frame(270).direction(1.0, 0.0), (-0.0, -1.0));
    }

    #[test]
    fn characters_get_cids_in_order_of_first_use() {
        let mut f = GlyphlessFont::default();
        let mut out = Vec::new();
        f.encode("aéa𝔸".chars(), &mut out);
        assert_eq!(out, [0, 1, 0, 2, 0, 1, 0, 3]);
        let objects = f.write(FontIds {
            font: Ref::new(1),
            cid_font: Ref::new(2),
            descriptor: Ref::new(3),
            file: Ref::new(4),
            cid_to_gid: Ref::new(5),
            to_unicode: Ref::new(6),
        });
        assert_eq!(objects.len(), 6);
    }

    #[test]
    fn words_span_to_the_next_word() {
        let word = |x0: f32, x1: f32, t: &str| pagemill_core::model::Word {
            bbox: BBox::new(x0, 0.0, x1, 10.0),
            text: t.into(),
            confidence: 1.0,
        };
        let line = Line {
            bbox: BBox::new(0.0, 0.0, 50.0, 10.0),
            text: "ab cd".into(),
            words: vec![word(0.0, 20.0, "ab"), word(30.0, 50.0, "cd")],
        };
        let w = line_words(&line, (1.0, 0.0));
        assert_eq!(w[0], (0.0, 30.0, "ab ".to_string()));
        assert_eq!(w[1], (30.0, 20.0, "cd".to_string()));
    }
}

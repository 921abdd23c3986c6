//! Born-digital text → structure.
//!
//! The PDF engine hands over a [`RawPage`]: every character with its box, size and font.
//! [`analyze`] turns it into a [`Page`] of typed blocks in reading order, in four stages,
//! one module each:
//!
//! 1. [`lines`]: characters → words → lines (de-duplicating fake-bold overprints, mending
//!    ligatures, keeping code indentation);
//! 2. [`blocks`]: lines → blocks (vertical proximity, indentation, style breaks, bullets);
//! 3. [`order`]: blocks → reading order by recursive XY-cut, so columns read one after another;
//! 4. [`classify`]: kinds (heading — [`headings`] says which short blocks may be one —,
//!    list item, code, running-head candidates) and the block text (lines joined,
//!    de-hyphenated), with [`inline`] Markdown (emphasis, code, scripts, escaping) for prose.
//!
//! [`direction`] runs them on each text direction of the page turned upright.
//!
//! Before them, [`text_layer`] decides whether the text layer is read or the page OCRed,
//! and [`blank`] whether a page without text has anything on it at all. [`table_grid`]
//! (ruled tables' cell grids from the page's rules) and [`tables`] (the text in those
//! grids) take tables out before the four stages; their
//! blocks join the others in reading order.

pub mod aligned_tables;
pub mod blank;
pub mod blocks;
pub mod classify;
pub mod direction;
pub mod figures;
pub mod headings;
pub mod inline;
pub mod lines;
pub mod ocr_tables;
pub mod order;
pub mod table_grid;
mod table_splits;
pub mod tables;
pub mod text_layer;

use serde::{Deserialize, Serialize};

use crate::model::{BBox, Page, TextSource};

/// One character from the text layer, in the page's displayed frame (see [`crate::model`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RawChar {
    /// The character (already mapped to Unicode by the engine).
    pub ch: char,
    /// The character's box (loose: the font's ascent to descent, the glyph's advance).
    pub bbox: BBox,
    /// Font size in points.
    pub size: f32,
    /// Index into [`RawPage::fonts`].
    pub font: u16,
    /// The engine inserted this character (a space or line break it inferred).
    pub generated: bool,
    /// The direction its text runs in, counter-clockwise degrees in the displayed frame:
    /// 0 (left to right), 90 (bottom to top: a vertical margin stamp, a y-axis label), 180
    /// or 270 (top to bottom). Text at other angles counts as 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dir: u16,
}

fn is_zero(v: &u16) -> bool {
    *v == 0
}

/// A font used on a page.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FontInfo {
    /// Base font name without the subset prefix (`ABCDEF+`).
    pub name: String,
    /// Bold (weight ≥ 600 or a bold name).
    pub bold: bool,
    /// Italic or oblique.
    pub italic: bool,
    /// Fixed pitch (flag or a typewriter name such as Courier, `*Mono*`, `cmtt`).
    pub mono: bool,
}

impl FontInfo {
    /// Derives style flags from a font's name, descriptor flags and weight.
    ///
    /// PDF descriptor flags are often missing or wrong in real files (subset Type 1 fonts
    /// from TeX rarely set FixedPitch), so the name is consulted too.
    pub fn from_pdf(raw_name: &str, flags: u32, weight: i32) -> FontInfo {
        let name = match raw_name.split_once('+') {
            Some((prefix, rest)) if prefix.len() == 6 => rest,
            _ => raw_name,
        }
        .to_string();
        let lower = name.to_ascii_lowercase();
        const FIXED_PITCH: u32 = 1;
        const ITALIC: u32 = 1 << 6;
        const FORCE_BOLD: u32 = 1 << 18;
        let mono = flags & FIXED_PITCH != 0
            || [
                "mono",
                "courier",
                "typewriter",
                "consol",
                "cmtt",
                "sfmono",
                "menlo",
            ]
            .iter()
            .any(|k| lower.contains(k))
            || lower.starts_with("lmtt")
            || lower.contains("tt10")
            || lower.contains("tt12")
            || lower.contains("tt9")
            || lower.contains("tt8");
        let bold = weight >= 600
            || flags & FORCE_BOLD != 0
            || ["bold", "black", "heavy", "semibold", "demi"]
                .iter()
                .any(|k| lower.contains(k))
            || lower.starts_with("cmbx")
            || lower.starts_with("cmb")
            || lower.starts_with("sfbx")
            || lower.starts_with("lmbx");
        let italic = flags & ITALIC != 0
            || ["italic", "oblique"].iter().any(|k| lower.contains(k))
            || lower.starts_with("cmti")
            || lower.starts_with("cmsl")
            || lower.starts_with("lmri");
        FontInfo {
            name,
            bold,
            italic,
            mono,
        }
    }
}

/// TeX's and AMS's mathematics fonts: text in them lined up is an equation array.
pub(crate) fn is_math_font(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [
        "cmmi", "cmsy", "cmex", "msbm", "msam", "eufm", "rsfs", "lmmath", "stix",
    ]
    .iter()
    .any(|p| lower.starts_with(p))
        || lower.contains("math")
}

/// Everything the text layer says about one page.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RawPage {
    /// 0-based page index.
    pub index: u32,
    /// Displayed width in points.
    pub width: f32,
    /// Displayed height in points.
    pub height: f32,
    /// `/Rotate`.
    pub rotation: u16,
    /// Characters in the engine's text order.
    pub chars: Vec<RawChar>,
    /// Fonts referenced by [`RawChar::font`].
    pub fonts: Vec<FontInfo>,
    /// What the text layer is made of (decides whether to OCR instead).
    #[serde(default)]
    pub layer: text_layer::TextLayerStats,
    /// Candidate figures: image objects and clusters of vector paths
    /// ([`figures::place_figures`] decides which count).
    #[serde(default)]
    pub figures: Vec<figures::RawFigure>,
    /// What the page's objects paint (decides whether a page without text is blank; see
    /// [`blank::blankness`]).
    #[serde(default)]
    pub ink: blank::PageInk,
    /// Straight horizontal and vertical strokes, as thin boxes: table rules and cell
    /// borders (see [`tables`]).
    #[serde(default)]
    pub rules: Vec<BBox>,
}

/// Runs the four stages on one page, after taking out its tables; text running in other
/// directions is read turned upright ([`direction`]).
pub fn analyze(raw: &RawPage) -> Page {
    direction::analyze(raw)
}

/// [`analyze`] for a page whose text all runs left to right.
pub(crate) fn analyze_upright(raw: &RawPage) -> Page {
    let drawings: Vec<BBox> = raw
        .figures
        .iter()
        .filter(|f| f.kind == figures::RawFigureKind::Drawing)
        .map(|f| f.bbox)
        .collect();
    let found = tables::all_tables(&raw.rules, &drawings, &raw.chars, &raw.fonts);
    let lines = if found.blocks.is_empty() {
        lines::build_lines(&raw.chars, &raw.fonts)
    } else {
        let rest: Vec<RawChar> = raw
            .chars
            .iter()
            .zip(&found.taken)
            .filter(|(_, taken)| !**taken)
            .map(|(c, _)| *c)
            .collect();
        lines::build_lines(&rest, &raw.fonts)
    };
    let body_size = classify::body_font_size(&lines);
    let mut blocks = blocks::group_lines(lines);
    order::sort_reading_order(&mut blocks);
    let mut blocks = classify::classify(blocks, &raw.fonts, body_size, raw.height);
    if !found.blocks.is_empty() {
        order::insert_in_reading_order(&mut blocks, found.blocks);
    }
    Page {
        index: raw.index,
        width: raw.width,
        height: raw.height,
        rotation: raw.rotation,
        source: TextSource::TextLayer,
        ocr_reason: None,
        ocr_rotation: None,
        ocr_skew: None,
        body_font_size: body_size,
        blocks,
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Builds synthetic pages: text set in a fixed-advance font at given positions.
    use super::*;

    /// Sets `text` starting at (x, y_top) with `size`-point characters of advance
    /// `0.5 × size`, spaces as real space characters.
    pub fn set_text(chars: &mut Vec<RawChar>, text: &str, x: f32, y: f32, size: f32, font: u16) {
        let adv = size * 0.5;
        let mut cx = x;
        for ch in text.chars() {
            chars.push(RawChar {
                ch,
                bbox: BBox::new(cx, y, cx + adv, y + size * 1.2),
                size,
                font,
                generated: false,
                dir: 0,
            });
            cx += adv;
        }
    }

    /// A page with fonts 0 = regular, 1 = bold, 2 = mono.
    pub fn page(chars: Vec<RawChar>) -> RawPage {
        RawPage {
            index: 0,
            width: 612.0,
            height: 792.0,
            rotation: 0,
            chars,
            fonts: vec![
                FontInfo::from_pdf("ABCDEF+Times-Roman", 0, 400),
                FontInfo::from_pdf("Times-Bold", 0, 700),
                FontInfo::from_pdf("Courier", 1, 400),
            ],
            layer: Default::default(),
            figures: Vec::new(),
            ink: Default::default(),
            rules: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;
    use crate::model::BlockKind;

    #[test]
    fn font_flags_from_names() {
        let f = FontInfo::from_pdf("QWERTY+CMTT10", 0, 400);
        assert!(f.mono && !f.bold);
        assert_eq!(f.name, "CMTT10");
        assert!(FontInfo::from_pdf("CMBX12", 0, 0).bold);
        assert!(FontInfo::from_pdf("Helvetica-Oblique", 0, 400).italic);
        assert!(!FontInfo::from_pdf("Times-Roman", 0, 400).mono);
    }

    #[test]
    fn two_column_page_reads_left_column_first() {
        let mut c = Vec::new();
        set_text(&mut c, "A Title Across", 200.0, 60.0, 20.0, 1);
        // Left column lines, then right column lines, but emitted interleaved by row as a
        // content stream might do.
        for row in 0..6 {
            let y = 120.0 + row as f32 * 12.0;
            set_text(
                &mut c,
                &format!("left text line {row} here"),
                50.0,
                y,
                10.0,
                0,
            );
            set_text(
                &mut c,
                &format!("right text line {row} here"),
                330.0,
                y,
                10.0,
                0,
            );
        }
        let page = analyze(&page(c));
        let texts: Vec<&str> = page.blocks.iter().map(|b| b.text.as_str()).collect();
        assert_eq!(page.blocks[0].kind, BlockKind::Heading, "{texts:?}");
        assert_eq!(texts.len(), 3, "{texts:?}");
        assert!(texts[1].starts_with("left text line 0"), "{texts:?}");
        assert!(texts[1].ends_with("left text line 5 here"), "{texts:?}");
        assert!(texts[2].starts_with("right text line 0"), "{texts:?}");
    }
}

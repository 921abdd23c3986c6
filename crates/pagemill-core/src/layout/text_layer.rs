//! Whether a page's text layer can be trusted, or the page must be OCRed.
//!
//! A text layer can be present and still useless: glyphs without a Unicode mapping come
//! out as shifted codes (`"7+%-` for `Phone`) or private-use characters; an old OCR layer
//! drawn invisibly may not match the image; and text drawn as vector outlines leaves no
//! text at all. The PDF engine counts these cases while extracting ([`TextLayerStats`]);
//! [`ocr_reason`] turns the counts into a decision.

use serde::{Deserialize, Serialize};

use crate::model::OcrReason;

/// Counts gathered while extracting a page's text layer. Whitespace and characters the
/// engine inferred are not counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextLayerStats {
    /// Visible characters with a good Unicode mapping.
    pub visible: u32,
    /// Characters with a good mapping drawn invisibly (render mode 3).
    pub invisible: u32,
    /// Characters without a usable mapping: flagged by the engine, private-use,
    /// replacement or control characters.
    pub unmapped: u32,
    /// Vector path objects on the page; counted only when it has no visible text (text
    /// drawn as outlines shows up as hundreds of small paths).
    pub paths: u32,
}

/// Share of unmapped characters at which the whole layer is distrusted: below it, a few
/// symbols from a broken font (a logo, a dingbat) do not cost the page its real text.
const UNMAPPED_SHARE: f32 = 0.3;
/// Path objects on a text-less page from which it is taken for text drawn as curves: a
/// chart or a table grid has tens; outlined text has one per glyph or word (OCRmyPDF's
/// `vector.pdf`, a dozen lines of text, has 126). Either way the page is OCRed; this
/// only names the reason.
const CURVE_TEXT_PATHS: u32 = 100;
/// Characters a font must show before its letters-and-digits share is judged.
const MIN_FONT_CHARS: u32 = 4;
/// A font whose characters are less than this share letters or digits is taken for one
/// without a real Unicode mapping: its glyph codes come out as punctuation soup
/// (`"7+%-` for `Phone`).
const MIN_ALNUM_SHARE: f32 = 0.4;

/// Per-font tally of visible characters, to spot fonts whose mapping is garbage even
/// though the engine reports none missing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FontTally {
    /// Letters and digits.
    pub alnum: u32,
    /// Other characters, leader and rule characters excepted (a table of contents is
    /// mostly dots and is fine).
    pub other: u32,
}

impl FontTally {
    /// Counts one character.
    pub fn add(&mut self, ch: char) {
        if ch.is_alphanumeric() {
            self.alnum += 1;
        } else if !matches!(ch, '.' | '-' | '_' | '·' | '…' | '─' | '═' | '—' | '–') {
            self.other += 1;
        }
    }

    /// Whether the font's text looks like codes rather than words.
    pub fn looks_unmapped(&self) -> bool {
        let n = self.alnum + self.other;
        n >= MIN_FONT_CHARS && (self.alnum as f32) < MIN_ALNUM_SHARE * n as f32
    }
}

/// Name fragments of math and symbol fonts (TeX's Computer Modern and AMS fonts, STIX,
/// Symbol, dingbats): their text is operators and brackets by design, so it is not judged
/// by its share of letters. Body text set in CMR10 is mostly letters and passes anyway.
const SYMBOL_FONTS: &[&str] = &[
    "cmr", "cmmi", "cmsy", "cmex", "cmbx", "cmti", "cmsl", "msam", "msbm", "eufm", "rsfs", "esint",
    "stix", "math", "symbol", "dingbat", "wingding", "webding", "sfrm", "lmroman", "euler",
    "mt extra", "mtextra",
];

/// Whether a font is a math or symbol font (see [`SYMBOL_FONTS`]).
pub fn is_symbol_font(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SYMBOL_FONTS.iter().any(|f| lower.contains(f))
}

/// Whether a character cannot be what the author wrote: private use, the replacement
/// character, or a control code.
pub fn is_unmapped_char(ch: char) -> bool {
    let c = ch as u32;
    ch == '\u{FFFD}'
        || (0xE000..=0xF8FF).contains(&c)
        || c >= 0xF0000
        || (ch.is_control() && !ch.is_whitespace())
}

/// Why the page must be OCRed, or `None` when its text layer is good.
pub fn ocr_reason(s: &TextLayerStats) -> Option<OcrReason> {
    let total = s.visible + s.invisible + s.unmapped;
    if total == 0 {
        return Some(if s.paths >= CURVE_TEXT_PATHS {
            OcrReason::TextAsCurves
        } else {
            OcrReason::NoText
        });
    }
    if s.unmapped as f32 >= UNMAPPED_SHARE * total as f32 {
        return Some(OcrReason::UnmappedText);
    }
    if s.visible == 0 {
        return Some(OcrReason::InvisibleText);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(visible: u32, invisible: u32, unmapped: u32, paths: u32) -> TextLayerStats {
        TextLayerStats {
            visible,
            invisible,
            unmapped,
            paths,
        }
    }

    #[test]
    fn each_branch() {
        assert_eq!(ocr_reason(&stats(1200, 0, 0, 0)), None);
        assert_eq!(ocr_reason(&stats(0, 0, 0, 3)), Some(OcrReason::NoText));
        assert_eq!(
            ocr_reason(&stats(0, 0, 0, 900)),
            Some(OcrReason::TextAsCurves)
        );
        assert_eq!(
            ocr_reason(&stats(0, 800, 0, 0)),
            Some(OcrReason::InvisibleText)
        );
        assert_eq!(
            ocr_reason(&stats(10, 0, 90, 0)),
            Some(OcrReason::UnmappedText)
        );
        // A visible heading over an invisible layer: the text layer is kept, both parts.
        assert_eq!(ocr_reason(&stats(18, 22, 0, 0)), None);
        // A few dingbats from a broken font do not condemn a page of good text.
        assert_eq!(ocr_reason(&stats(1000, 0, 12, 0)), None);
    }

    #[test]
    fn fonts_of_punctuation_soup_are_unmapped() {
        let tally = |s: &str| {
            let mut t = FontTally::default();
            s.chars()
                .filter(|c| !c.is_whitespace())
                .for_each(|c| t.add(c));
            t
        };
        // OCRmyPDF's truetype_font_nomapping.pdf: "Phone" comes out as this.
        assert!(tally("\"7+%-").looks_unmapped());
        assert!(!tally("Phone").looks_unmapped());
        assert!(!tally("Introduction ........ 12").looks_unmapped());
        assert!(!tally("x = (a + b) * c;").looks_unmapped());
        // Too little to judge.
        assert!(!tally("•").looks_unmapped());
        assert!(is_symbol_font("CMSY10"));
        assert!(is_symbol_font("MSBM10"));
        assert!(!is_symbol_font("01ebsit,Bold"));
    }

    #[test]
    fn unmapped_characters() {
        assert!(is_unmapped_char('\u{FFFD}'));
        assert!(is_unmapped_char('\u{E012}'));
        assert!(is_unmapped_char('\u{19}'));
        assert!(!is_unmapped_char('a'));
        assert!(!is_unmapped_char('\n'));
        assert!(!is_unmapped_char('é'));
    }
}

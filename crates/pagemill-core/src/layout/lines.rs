//! Stage 1: characters → lines.
//!
//! Characters arrive in the engine's text order (content-stream order, with inferred
//! spaces and line breaks marked as generated). A line continues while the next character
//! sits on the same band (vertical overlap) and close by horizontally; anything else starts
//! a new line. Working in stream order keeps this linear in the number of characters.

use super::{is_math_font, FontInfo, RawChar};
use crate::model::BBox;

/// A visual line with the statistics later stages need.
#[derive(Debug, Clone, PartialEq)]
pub struct TextLine {
    /// The line's box.
    pub bbox: BBox,
    /// Text with single spaces between words (mono runs keep their spacing).
    pub text: String,
    /// Character-weighted mean font size.
    pub size: f32,
    /// Non-space characters on the line.
    pub chars: u32,
    /// Fraction of characters in a bold font.
    pub bold: f32,
    /// Fraction of characters in an italic font.
    pub italic: f32,
    /// Fraction of characters in a fixed-pitch font.
    pub mono: f32,
    /// Mean advance of the line's characters (for code indentation).
    pub char_width: f32,
    /// The most used font on the line.
    pub font: u16,
    /// Fraction of the line's characters in [`TextLine::font`].
    pub font_share: f32,
    /// Each word's style (`text.split(' ')`, empty words included): [`BOLD`], [`ITALIC`],
    /// [`MONO`] bits set when most of its characters have them.
    pub word_styles: Vec<u8>,
    /// The text with its superscripts and subscripts (smaller glyphs off the baseline:
    /// footnote marks, exponents, indices) between [`SUP_OPEN`]…[`SUP_CLOSE`] and
    /// [`SUB_OPEN`]…[`SUB_CLOSE`]; absent when the line has none. Same words as `text`.
    pub scripts: Option<String>,
}

/// Opens a superscript in [`TextLine::scripts`] (a private-use character: never in text
/// the line builder keeps, see `push_normalised`).
pub const SUP_OPEN: char = '\u{F0000}';
/// Closes a superscript in [`TextLine::scripts`].
pub const SUP_CLOSE: char = '\u{F0001}';
/// Opens a subscript in [`TextLine::scripts`].
pub const SUB_OPEN: char = '\u{F0002}';
/// Closes a subscript in [`TextLine::scripts`].
pub const SUB_CLOSE: char = '\u{F0003}';

/// A line of `text` in 10-point regular type with no box (for tests of the stages after
/// line building).
#[cfg(test)]
pub(crate) fn plain_line(text: &str) -> TextLine {
    TextLine {
        bbox: Default::default(),
        text: text.into(),
        size: 10.0,
        chars: text.len() as u32,
        bold: 0.0,
        italic: 0.0,
        mono: 0.0,
        char_width: 5.0,
        font: 0,
        font_share: 1.0,
        word_styles: Vec::new(),
        scripts: None,
    }
}

/// [`TextLine::word_styles`] bit: bold.
pub const BOLD: u8 = 1;
/// [`TextLine::word_styles`] bit: italic.
pub const ITALIC: u8 = 2;
/// [`TextLine::word_styles`] bit: fixed pitch.
pub const MONO: u8 = 4;

/// A horizontal gap wider than this many font sizes splits a line (a column gutter or a
/// table cell boundary, not a word space).
const GUTTER_EM: f32 = 2.5;
/// A gap wider than this many font sizes between characters is a word space even when
/// the engine inferred none.
const SPACE_EM: f32 = 0.3;

#[derive(Default)]
struct Builder {
    bbox: Option<BBox>,
    last: Option<RawChar>,
    text: String,
    size_sum: f32,
    chars: u32,
    bold: u32,
    italic: u32,
    mono: u32,
    width_sum: f32,
    font_counts: Vec<(u16, u32)>,
    pending_space: bool,
    pitch: Option<f32>,
    last_mono: bool,
    /// The line opened with a symbol font's bullet, written as `• `.
    bullet: bool,
    /// Where each glyph's text starts in `text`, and its style bits.
    marks: Vec<(u32, u8)>,
    /// Each glyph's (bottom, size), in `marks`' order.
    heights: Vec<(f32, f32)>,
    /// The line holds right-to-left letters.
    rtl: bool,
}

impl Builder {
    fn push(&mut self, c: &RawChar, font: Option<&FontInfo>) {
        if let Some(last) = self.last {
            let gap = c.bbox.x0 - last.bbox.x1;
            let is_mono = font.is_some_and(|f| f.mono);
            let step = c.bbox.x0 - last.bbox.x0;
            if is_mono && !self.pending_space && step > 0.0 && gap < 0.2 * c.size.max(1.0) {
                // Adjacent fixed-pitch glyphs: their distance is the font's pitch.
                self.pitch = Some(step);
            }
            let pitch = self.pitch.unwrap_or(0.6 * c.size.max(1.0));
            // Pitch arithmetic holds only between two fixed-pitch glyphs; from proportional
            // text into code (`see strptime`) the gap decides.
            if is_mono && self.last_mono && step > 0.0 {
                // Fixed pitch: keep the spacing (code alignment), as many spaces as fit.
                let n = ((step / pitch).round() as usize).saturating_sub(1);
                // Once the pitch is measured the geometry is the truth: the engine infers
                // spaces between separately placed tokens (`console .log`) that are not there.
                let n = if self.pending_space && self.pitch.is_none() {
                    n.max(1)
                } else {
                    n
                };
                self.text.extend(std::iter::repeat_n(' ', n.min(80)));
            } else if self.pending_space || gap > SPACE_EM * c.size.max(1.0) {
                self.text.push(' ');
            } else if self.rtl && last.bbox.x0 - c.bbox.x1 > SPACE_EM * c.size.max(1.0) {
                // Right to left: the next word lies to the left.
                self.text.push(' ');
            }
        }
        self.pending_space = false;
        self.rtl |= is_rtl(c.ch);
        self.last_mono = font.is_some_and(|f| f.mono);
        if self.bullet && self.text == "•" {
            self.text.push(' '); // the item's text, even when set tight against it
        }
        if self.last.is_none() && is_symbol_bullet(c.ch, font) {
            // A bullet drawn from a symbol font: Wingdings' `§` or `ü`, ZapfDingbats' `n`,
            // a private-use code point. Written as the bullet it shows.
            self.text.push('•');
            self.bullet = true;
        } else {
            let style = font.map_or(0, |f| {
                (f.bold as u8 * BOLD) | (f.italic as u8 * ITALIC) | (f.mono as u8 * MONO)
            });
            self.marks.push((self.text.len() as u32, style));
            self.heights.push((c.bbox.y1, c.size));
            push_normalised(&mut self.text, c.ch);
        }
        self.bbox = Some(match self.bbox {
            Some(b) => b.union(&c.bbox),
            None => c.bbox,
        });
        self.size_sum += c.size;
        self.chars += 1;
        self.width_sum += c.bbox.width();
        if let Some(f) = font {
            self.bold += f.bold as u32;
            self.italic += f.italic as u32;
            self.mono += f.mono as u32;
        }
        match self.font_counts.iter_mut().find(|(id, _)| *id == c.font) {
            Some((_, n)) => *n += 1,
            None => self.font_counts.push((c.font, 1)),
        }
        self.last = Some(*c);
    }

    fn finish(&mut self) -> Option<TextLine> {
        let taken = std::mem::take(self);
        let bbox = taken.bbox?;
        let text = taken.text.trim_end().to_string();
        let word_styles = word_styles(&text, &taken.marks);
        let scripts = scripts(&text, &taken.marks, &taken.heights);
        if text.is_empty() {
            return None;
        }
        let n = taken.chars.max(1) as f32;
        let (font, in_font) = taken
            .font_counts
            .iter()
            .max_by_key(|(_, n)| *n)
            .copied()
            .unwrap_or((0, 0));
        Some(TextLine {
            bbox,
            text,
            size: taken.size_sum / n,
            chars: taken.chars,
            bold: taken.bold as f32 / n,
            italic: taken.italic as f32 / n,
            mono: taken.mono as f32 / n,
            char_width: taken.width_sum / n,
            font,
            word_styles,
            scripts,
            font_share: in_font as f32
                / taken
                    .font_counts
                    .iter()
                    .map(|(_, n)| *n)
                    .sum::<u32>()
                    .max(1) as f32,
        })
    }

    /// Whether `c` continues this line.
    fn continues(&self, c: &RawChar) -> bool {
        let Some(last) = self.last else { return true };
        let min_h = last.bbox.height().min(c.bbox.height()).max(0.1);
        // Against the previous glyph, or against the line so far: after a superscript
        // (footnote mark) the text returns to the line's band, not the mark's.
        let band = self.bbox.unwrap_or(last.bbox);
        let same_band = last.bbox.y_overlap(&c.bbox) >= 0.5 * min_h
            || band.y_overlap(&c.bbox) >= 0.7 * c.bbox.height().min(band.height()).max(0.1);
        let hdist = (c.bbox.x0 - last.bbox.x1)
            .max(last.bbox.x0 - c.bbox.x1)
            .max(0.0);
        let em = c.size.max(last.size).max(1.0);
        if same_band && hdist <= GUTTER_EM * em {
            return true;
        }
        // Right-to-left text comes in logical order: after `و` the Latin word `Python`
        // starts at its own left end, a word's width away from the last glyph, and the
        // Arabic after it resumes left of that word. Such a line goes on where the glyph
        // lies just left of the line so far (the span of an embedded word).
        self.rtl
            && same_band
            && c.bbox.x1 <= band.x0 + 0.5 * em
            && band.x0 - c.bbox.x0 <= RTL_EMBED_EM * em
    }
}

/// The widest left-to-right run (a Latin word or number) a right-to-left line may hold, in
/// font sizes.
const RTL_EMBED_EM: f32 = 12.0;

/// Whether `ch` is written right to left (Hebrew, Arabic, Syriac, Thaana, N'Ko and their
/// presentation forms).
pub fn is_rtl(ch: char) -> bool {
    matches!(ch as u32, 0x0590..=0x08FF | 0xFB1D..=0xFDFF | 0xFE70..=0xFEFF)
}

/// Whether `ch`, opening a line in `font`, is a list bullet drawn from a symbol font: any
/// glyph of a dingbat font (their code points are letters: Wingdings' `§` is a square,
/// `ü` a check mark, ZapfDingbats' `n` a square, `l` a disc), or a private-use code point
/// outside the mathematics fonts (TeX's big delimiters are private-use too).
fn is_symbol_bullet(ch: char, font: Option<&FontInfo>) -> bool {
    let name = font
        .map(|f| f.name.to_ascii_lowercase())
        .unwrap_or_default();
    let dingbats = ["wingding", "dingbat", "webding"]
        .iter()
        .any(|k| name.contains(k));
    let private = ('\u{E000}'..='\u{F8FF}').contains(&ch);
    let math = font.is_some_and(|f| is_math_font(&f.name));
    !ch.is_whitespace() && (dingbats || (private && !math))
}

/// Appends `ch`, expanding ligatures and dropping control and non-characters.
fn push_normalised(out: &mut String, ch: char) {
    match ch {
        '\u{FB00}' => out.push_str("ff"),
        '\u{FB01}' => out.push_str("fi"),
        '\u{FB02}' => out.push_str("fl"),
        '\u{FB03}' => out.push_str("ffi"),
        '\u{FB04}' => out.push_str("ffl"),
        '\u{FB05}' | '\u{FB06}' => out.push_str("st"),
        // PDFium reports a line-end hyphen it recognised as U+0002; keep it as a soft
        // hyphen so the joiner knows it may drop it.
        '\u{2}' => out.push('\u{AD}'),
        '\u{FFFE}' | '\u{FFFF}' => {}
        c if c.is_control() => {}
        c => out.push(c),
    }
}

/// The style of each word of `text` (split at single spaces): the bits most of its glyphs
/// (`marks`: byte offset, style) carry.
fn word_styles(text: &str, marks: &[(u32, u8)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut start = 0usize;
    let mut m = 0usize;
    for word in text.split(' ') {
        let end = start + word.len();
        let (mut n, mut counts) = (0u32, [0u32; 3]);
        while m < marks.len() && (marks[m].0 as usize) < end {
            if marks[m].0 as usize >= start {
                n += 1;
                for (bit, count) in counts.iter_mut().enumerate() {
                    *count += u32::from(marks[m].1 >> bit & 1);
                }
            }
            m += 1;
        }
        let style = counts
            .iter()
            .enumerate()
            .filter(|(_, &c)| n > 0 && c * 2 > n)
            .fold(0u8, |s, (bit, _)| s | 1 << bit);
        out.push(style);
        start = end + 1;
    }
    out
}

/// [`TextLine::scripts`]: glyphs set at most 85 % of the line's size with their bottom a
/// quarter of that size above the line's baseline are superscripts, an eighth below it
/// subscripts (the boxes are the font's ascent to descent, so a smaller glyph on the
/// baseline moves its bottom up by only a fraction of a point).
fn scripts(text: &str, marks: &[(u32, u8)], heights: &[(f32, f32)]) -> Option<String> {
    // Most lines have no smaller glyph at all: nothing to look at, nothing allocated.
    let largest = heights.iter().map(|h| h.1).fold(0.0, f32::max);
    if heights.len() < 3 || !heights.iter().any(|h| h.1 <= 0.85 * largest) {
        return None;
    }
    // The line's size: the 0.5 pt bucket with the most glyphs (the last of equals).
    let mut buckets: Vec<(i32, usize)> = Vec::new();
    for &(_, size) in heights {
        let k = (size * 2.0).round() as i32;
        match buckets.iter_mut().find(|(b, _)| *b == k) {
            Some((_, n)) => *n += 1,
            None => buckets.push((k, 1)),
        }
    }
    let main = buckets.iter().max_by_key(|(_, n)| *n)?.0 as f32 / 2.0;
    let mut bottoms: Vec<f32> = heights
        .iter()
        .filter(|(_, s)| (s - main).abs() < 0.5)
        .map(|(b, _)| *b)
        .collect();
    bottoms.sort_by(f32::total_cmp);
    let baseline = *bottoms.get(bottoms.len() / 2)?;
    // A fraction's numerator and denominator (`¹⁄₄` set as 1⁄4) are not scripts.
    let glyph_char = |i: usize| {
        marks
            .get(i)
            .and_then(|m| text.get(m.0 as usize..))
            .and_then(|t| t.chars().next())
    };
    let fraction = |j: Option<usize>| j.and_then(glyph_char) == Some('\u{2044}');
    let state: Vec<u8> = heights
        .iter()
        .enumerate()
        .map(|(i, &(bottom, size))| match () {
            _ if size > 0.85 * main => 0,
            _ if fraction(Some(i + 1)) || fraction(i.checked_sub(1)) => 0,
            _ if bottom < baseline - 0.25 * main => 1,
            _ if bottom > baseline + 0.125 * main => 2,
            _ => 0,
        })
        .collect();
    if state.iter().all(|&s| s == 0) || state.iter().all(|&s| s != 0) {
        return None;
    }
    let close = |s: u8| if s == 1 { SUP_CLOSE } else { SUB_CLOSE };
    let first = marks.first().map_or(0, |m| m.0 as usize).min(text.len());
    let mut out = String::with_capacity(text.len() + 8);
    out.push_str(&text[..first]);
    let mut open = 0u8;
    for (i, &(start, _)) in marks.iter().enumerate() {
        let start = (start as usize).min(text.len());
        let end = marks
            .get(i + 1)
            .map_or(text.len(), |m| m.0 as usize)
            .min(text.len());
        let piece = text.get(start..end)?;
        let core = piece.trim_end_matches(' ');
        if state[i] != open {
            if open != 0 {
                out.push(close(open));
            }
            if state[i] != 0 {
                out.push(if state[i] == 1 { SUP_OPEN } else { SUB_OPEN });
            }
            open = state[i];
        }
        out.push_str(core);
        if core.len() < piece.len() && open != 0 {
            out.push(close(open));
            open = 0;
        }
        out.push_str(&piece[core.len()..]);
    }
    if open != 0 {
        out.push(close(open));
    }
    Some(out)
}

/// Groups a page's characters into lines.
pub fn build_lines(chars: &[RawChar], fonts: &[FontInfo]) -> Vec<TextLine> {
    let mut lines = Vec::new();
    let mut b = Builder::default();
    for c in chars {
        if c.ch == '\n' || c.ch == '\r' {
            // A hint only: engines break lines at every baseline shift (superscripts,
            // footnote marks); the next character's position decides.
            continue;
        }
        if c.ch.is_whitespace() {
            b.pending_space = b.last.is_some();
            continue;
        }
        if !c.bbox.x0.is_finite() || !c.bbox.y0.is_finite() {
            continue;
        }
        // Fake bold: the same glyph printed again at (almost) the same place.
        if let Some(last) = b.last {
            let tol = 0.15 * c.size.max(1.0);
            if last.ch == c.ch
                && (last.bbox.x0 - c.bbox.x0).abs() < tol
                && (last.bbox.y0 - c.bbox.y0).abs() < tol
            {
                continue;
            }
        }
        if !b.continues(c) {
            lines.extend(b.finish());
        }
        b.push(c, fonts.get(c.font as usize));
    }
    lines.extend(b.finish());
    lines
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::model::BBox;

    #[test]
    fn bullets_from_symbol_fonts_become_bullets() {
        let mut c = Vec::new();
        set_text(&mut c, "\u{F0A7} first item", 50.0, 100.0, 10.0, 0);
        set_text(&mut c, "n", 50.0, 114.0, 10.0, 3);
        set_text(&mut c, "second item", 60.0, 114.0, 10.0, 0);
        set_text(&mut c, "plain line", 50.0, 128.0, 10.0, 0);
        let mut p = page(c);
        p.fonts.push(FontInfo::from_pdf("ZapfDingbats", 0, 400));
        let lines = build_lines(&p.chars, &p.fonts);
        let texts: Vec<_> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, vec!["• first item", "• second item", "plain line"]);
    }

    #[test]
    fn a_right_to_left_line_keeps_its_latin_words() {
        // Logical order, as the text layer gives it: `كل من R و` right to left, then the
        // Latin word `Python` (left to right, left of them), then `من` left of that.
        let mut c = Vec::new();
        let glyph = |c: &mut Vec<RawChar>, ch: char, x: f32| {
            c.push(RawChar {
                ch,
                bbox: BBox::new(x, 100.0, x + 5.0, 112.0),
                size: 10.0,
                font: 0,
                generated: false,
                dir: 0,
            })
        };
        for (ch, x) in [
            ('ك', 400.0),
            ('ل', 395.0),
            ('م', 385.0),
            ('ن', 380.0),
            ('R', 370.0),
            ('و', 360.0),
        ] {
            glyph(&mut c, ch, x);
        }
        for (i, ch) in "Python".chars().enumerate() {
            glyph(&mut c, ch, 320.0 + 5.0 * i as f32);
        }
        glyph(&mut c, 'م', 305.0);
        glyph(&mut c, 'ن', 300.0);
        let p = page(c);
        let lines = build_lines(&p.chars, &p.fonts);
        let texts: Vec<_> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, vec!["كل من R و Python من"]);
    }

    #[test]
    fn raised_and_lowered_small_glyphs_are_scripts() {
        let mut c = Vec::new();
        set_text(&mut c, "area x", 50.0, 100.0, 10.0, 0);
        // `2` raised 4 pt in 7 pt type, `1` lowered 2 pt, then a fraction 1⁄4.
        set_text(&mut c, "2", 80.0, 96.0 + 3.6, 7.0, 0);
        set_text(&mut c, " and y", 84.0, 100.0, 10.0, 0);
        set_text(&mut c, "1", 114.0, 102.0 + 3.6, 7.0, 0);
        set_text(&mut c, " is 1", 118.0, 100.0, 10.0, 0);
        c.last_mut().unwrap().bbox = BBox::new(140.0, 96.0 + 3.6, 143.5, 96.0 + 12.0);
        c.last_mut().unwrap().size = 7.0;
        set_text(&mut c, "\u{2044}4", 144.0, 100.0, 10.0, 0);
        let p = page(c);
        let lines = build_lines(&p.chars, &p.fonts);
        assert_eq!(lines.len(), 1);
        let scripts = lines[0].scripts.as_deref().unwrap();
        let shown = scripts
            .replace(SUP_OPEN, "^(")
            .replace(SUP_CLOSE, ")")
            .replace(SUB_OPEN, "_(")
            .replace(SUB_CLOSE, ")");
        assert_eq!(shown, "area x^(2) and y_(1) is 1\u{2044}4");
        assert_eq!(lines[0].text, "area x2 and y1 is 1\u{2044}4");
    }

    #[test]
    fn splits_at_line_breaks_and_gutters() {
        let mut c = Vec::new();
        set_text(&mut c, "hello world", 50.0, 100.0, 10.0, 0);
        set_text(&mut c, "far away", 300.0, 100.0, 10.0, 0);
        set_text(&mut c, "next line", 50.0, 114.0, 10.0, 0);
        let p = page(c);
        let lines = build_lines(&p.chars, &p.fonts);
        let texts: Vec<_> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, vec!["hello world", "far away", "next line"]);
    }

    #[test]
    fn drops_overprinted_duplicates_and_expands_ligatures() {
        let mut c = Vec::new();
        set_text(&mut c, "bold", 50.0, 100.0, 10.0, 1);
        let dup: Vec<RawChar> = c.clone();
        // Interleave each char with its overprint, as fake-bold producers do.
        let mut chars = Vec::new();
        for (a, b) in c.iter().zip(dup.iter()) {
            chars.push(*a);
            let mut b = *b;
            b.bbox.x0 += 0.3;
            b.bbox.x1 += 0.3;
            chars.push(b);
        }
        set_text(&mut chars, " \u{FB01}ne", 70.0, 100.0, 10.0, 0);
        let p = page(chars);
        let lines = build_lines(&p.chars, &p.fonts);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].text, "bold fine");
    }

    #[test]
    fn mono_lines_keep_alignment_spaces() {
        let mut c = Vec::new();
        set_text(&mut c, "let", 50.0, 100.0, 10.0, 2);
        set_text(&mut c, "x", 50.0 + 5.0 * 6.0, 100.0, 10.0, 2);
        let p = page(c);
        let lines = build_lines(&p.chars, &p.fonts);
        assert_eq!(lines[0].text, "let   x");
        assert!(lines[0].mono > 0.99);
    }

    #[test]
    fn a_space_before_code_after_prose_is_kept() {
        let mut c = Vec::new();
        set_text(&mut c, "see", 50.0, 100.0, 10.0, 0);
        // A 0.35 em gap, then fixed-pitch text whose pitch would round the gap away.
        set_text(&mut c, "strptime", 50.0 + 15.0 + 3.5, 100.0, 10.0, 2);
        let p = page(c);
        let lines = build_lines(&p.chars, &p.fonts);
        assert_eq!(lines[0].text, "see strptime");
    }
}

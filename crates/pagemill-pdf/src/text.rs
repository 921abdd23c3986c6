//! One page's text layer: characters with boxes, sizes and fonts.
//!
//! This is the hot path of born-digital conversion, so it talks to PDFium's C API directly:
//! font facts are looked up once per text object (chars of one object share font and
//! matrix), not once per character as the high-level wrappers do.

use std::collections::HashMap;

use pagemill_core::layout::blank::PageInk;
use pagemill_core::layout::text_layer::{
    is_symbol_font, is_unmapped_char, FontTally, TextLayerStats,
};
use pagemill_core::layout::{FontInfo, RawChar, RawPage};
use pagemill_core::BBox;
use pdfium_render::prelude::{FPDF_PAGE, FS_MATRIX, FS_RECTF};

/// `FPDF_TEXTRENDERMODE_INVISIBLE`: text drawn with neither fill nor stroke (the mode of
/// OCR layers over scans).
const RENDER_MODE_INVISIBLE: i32 = 3;

use crate::{Document, PdfError};

/// Characters of one font on a page, for judging its Unicode mapping.
#[derive(Debug, Default, Clone, Copy)]
struct FontCount {
    /// Letters-versus-punctuation tally (left empty for math and symbol fonts).
    tally: FontTally,
    visible: u32,
    invisible: u32,
    symbol: bool,
}

/// The identity matrix, the starting value of matrices PDFium fills in.
pub(crate) const IDENTITY: FS_MATRIX = FS_MATRIX {
    a: 1.0,
    b: 0.0,
    c: 0.0,
    d: 1.0,
    e: 0.0,
    f: 0.0,
};

/// Maps PDF user space to the displayed frame (origin top-left of the crop box, y down,
/// `/Rotate` applied).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frame {
    pub(crate) left: f32,
    pub(crate) bottom: f32,
    pub(crate) right: f32,
    pub(crate) top: f32,
    pub(crate) rotation: u16,
}

impl Frame {
    fn map(&self, x: f32, y: f32) -> (f32, f32) {
        match self.rotation {
            90 => (y - self.bottom, x - self.left),
            180 => (self.right - x, y - self.bottom),
            270 => (self.top - y, self.right - x),
            _ => (x - self.left, self.top - y),
        }
    }
    fn map_rect(&self, r: &FS_RECTF) -> BBox {
        self.map_box(r.left, r.bottom, r.right, r.top)
    }
    /// The user-space rectangle `[left, bottom, right, top]` in the displayed frame.
    pub(crate) fn map_box(&self, left: f32, bottom: f32, right: f32, top: f32) -> BBox {
        let (x0, y0) = self.map(left, top);
        let (x1, y1) = self.map(right, bottom);
        BBox::new(x0, y0, x1, y1)
    }
    /// `b` cut to the visible page.
    pub(crate) fn clip(&self, b: BBox) -> BBox {
        let (w, h) = self.displayed_size();
        BBox::new(
            b.x0.clamp(0.0, w),
            b.y0.clamp(0.0, h),
            b.x1.clamp(0.0, w),
            b.y1.clamp(0.0, h),
        )
    }
    /// Whether `b` (displayed frame) lies wholly off the visible page.
    pub(crate) fn outside(&self, b: BBox) -> bool {
        let (w, h) = self.displayed_size();
        b.x1 < 0.0 || b.y1 < 0.0 || b.x0 > w || b.y0 > h
    }
    /// The visible page's area in square points.
    pub(crate) fn area(&self) -> f32 {
        let (w, h) = self.displayed_size();
        w * h
    }
    fn displayed_size(&self) -> (f32, f32) {
        let (w, h) = (self.right - self.left, self.top - self.bottom);
        if self.rotation % 180 == 90 {
            (h, w)
        } else {
            (w, h)
        }
    }
}

/// The direction text at `angle` (PDFium's, radians clockwise: a table set to read bottom
/// to top on a portrait page reports 3π/2) runs in on a page displayed turned by `rotation`
/// (`/Rotate`, clockwise): 0, 90, 180 or 270 counter-clockwise degrees; angles more than
/// 15° off those (slanted watermarks) count as 0, read as they are.
fn direction(angle: f32, rotation: u16) -> u16 {
    if !angle.is_finite() || angle < 0.0 {
        return 0;
    }
    let degrees = (-angle.to_degrees() - f32::from(rotation)).rem_euclid(360.0);
    let nearest = (degrees / 90.0).round() * 90.0;
    if (degrees - nearest).abs() > 15.0 {
        return 0;
    }
    (nearest as u16) % 360
}

/// A loaded page, closed on drop.
pub(crate) struct LoadedPage<'a> {
    doc: &'a Document<'a>,
    pub(crate) page: FPDF_PAGE,
}

impl Drop for LoadedPage<'_> {
    fn drop(&mut self) {
        unsafe { self.doc.engine.b.FPDF_ClosePage(self.page) };
    }
}

impl Document<'_> {
    /// Loads page `index`; the page is closed when the guard drops, on every path.
    pub(crate) fn load_page(&self, index: u32) -> Result<LoadedPage<'_>, PdfError> {
        let page = unsafe { self.engine.b.FPDF_LoadPage(self.handle, index as i32) };
        if page.is_null() {
            return Err(PdfError::Page {
                index,
                message: "PDFium could not load the page (broken page object or content)".into(),
            });
        }
        Ok(LoadedPage { doc: self, page })
    }

    /// Extracts the text layer of page `index` (0-based).
    pub fn extract_page(&self, index: u32) -> Result<RawPage, PdfError> {
        let b = &self.engine.b;
        let loaded = self.load_page(index)?;
        let page = loaded.page;

        let width = unsafe { b.FPDF_GetPageWidthF(page) };
        let height = unsafe { b.FPDF_GetPageHeightF(page) };
        let rotation = (unsafe { b.FPDFPage_GetRotation(page) }.clamp(0, 3) * 90) as u16;
        let mut rect = FS_RECTF {
            left: 0.0,
            top: 0.0,
            right: 0.0,
            bottom: 0.0,
        };
        let frame = if unsafe { b.FPDF_GetPageBoundingBox(page, &mut rect) } != 0 {
            Frame {
                left: rect.left,
                bottom: rect.bottom,
                right: rect.right,
                top: rect.top,
                rotation,
            }
        } else {
            let (w, h) = if rotation % 180 == 90 {
                (height, width)
            } else {
                (width, height)
            };
            Frame {
                left: 0.0,
                bottom: 0.0,
                right: w,
                top: h,
                rotation,
            }
        };

        // The displayed size comes from the same frame the characters are mapped with.
        let (w, h) = (frame.right - frame.left, frame.top - frame.bottom);
        let (width, height) = if rotation % 180 == 90 { (h, w) } else { (w, h) };
        let mut out = RawPage {
            index,
            width,
            height,
            rotation,
            chars: Vec::new(),
            fonts: Vec::new(),
            layer: TextLayerStats::default(),
            figures: Vec::new(),
            ink: PageInk::default(),
            rules: Vec::new(),
        };
        let tp = unsafe { b.FPDFText_LoadPage(page) };
        let objects = self.page_objects(page, &frame);
        out.figures = objects.figures;
        out.ink = objects.ink;
        out.rules = objects.rules;
        if out.ink.text_objects == 0 && out.ink.images == 0 {
            // Only pages that may be blank pay for reading `/Annots`.
            out.ink.annotations = unsafe { b.FPDFPage_GetAnnotCount(page) }.max(0) as u32;
        }
        if tp.is_null() {
            out.layer.paths = objects.paths;
            return Ok(out); // no text layer at all
        }
        let n = unsafe { b.FPDFText_CountChars(tp) }.max(0);
        out.chars.reserve(n as usize);
        // Text object → (font index, vertical scale of its matrix, drawn invisibly, the
        // direction its text runs in).
        let mut by_object: HashMap<usize, (u16, f32, bool, u16)> = HashMap::new();
        let mut last_dir = 0u16;
        let mut by_font: HashMap<usize, u16> = HashMap::new();
        let mut tallies: Vec<FontCount> = Vec::new();
        let mut last_font = 0u16;
        // The text object and exact box of the last character kept (see below).
        let mut last_glyph: Option<(usize, [u32; 4])> = None;
        for i in 0..n {
            let u = unsafe { b.FPDFText_GetUnicode(tp, i) };
            let ch = char::from_u32(u).unwrap_or('\u{FFFD}');
            let generated = unsafe { b.FPDFText_IsGenerated(tp, i) } == 1;
            if ch.is_whitespace() || ch == '\u{2}' && generated {
                out.chars.push(RawChar {
                    ch: if ch == '\u{2}' { '\n' } else { ch },
                    bbox: BBox::default(),
                    size: 0.0,
                    font: last_font,
                    generated,
                    dir: last_dir,
                });
                continue;
            }
            let mut r = FS_RECTF {
                left: 0.0,
                top: 0.0,
                right: 0.0,
                bottom: 0.0,
            };
            if unsafe { b.FPDFText_GetLooseCharBox(tp, i, &mut r) } == 0 {
                continue;
            }
            let obj = unsafe { b.FPDFText_GetTextObject(tp, i) };
            // A ToUnicode entry that maps one glyph to several letters (`ff` for the
            // ff ligature of TeX fonts) reaches us as several characters of one text
            // object with one box. Two equal letters arriving that way look like a
            // fake-bold overprint to the line builder, which keeps one (`dificult`,
            // `ofsets`); they become the ligature character, which it expands again.
            let glyph = (
                obj as usize,
                [
                    r.left.to_bits(),
                    r.top.to_bits(),
                    r.right.to_bits(),
                    r.bottom.to_bits(),
                ],
            );
            if ch == 'f' && last_glyph == Some(glyph) {
                if let Some(last) = out.chars.last_mut().filter(|c| c.ch == 'f') {
                    last.ch = '\u{FB00}';
                    continue;
                }
            }
            // Arabic fonts map the lam-alef ligature glyph to its letters in visual order
            // (alef, then lam: `اإلنتاجية` for `الإنتاجية`); in logical order lam comes first.
            if ch == '\u{644}' && last_glyph == Some(glyph) {
                if let Some(last) = out
                    .chars
                    .last_mut()
                    .filter(|c| matches!(c.ch, '\u{622}' | '\u{623}' | '\u{625}' | '\u{627}'))
                {
                    let alef = last.ch;
                    last.ch = ch;
                    last_glyph = Some(glyph);
                    let mut second = *last;
                    second.ch = alef;
                    out.chars.push(second);
                    continue;
                }
            }
            last_glyph = Some(glyph);
            let (font, scale, invisible, dir) = match by_object.get(&(obj as usize)) {
                Some(&v) => v,
                None => {
                    let (font, scale) = self.object_font(obj, tp, i, &mut by_font, &mut out.fonts);
                    let invisible = !obj.is_null()
                        && unsafe { b.FPDFTextObj_GetTextRenderMode(obj) } == RENDER_MODE_INVISIBLE;
                    let angle = unsafe { b.FPDFText_GetCharAngle(tp, i) };
                    let dir = direction(angle, rotation);
                    by_object.insert(obj as usize, (font, scale, invisible, dir));
                    (font, scale, invisible, dir)
                }
            };
            last_dir = dir;
            if !generated {
                if is_unmapped_char(ch) || unsafe { b.FPDFText_HasUnicodeMapError(tp, i) } == 1 {
                    out.layer.unmapped += 1;
                } else {
                    let f = usize::from(font);
                    if tallies.len() <= f {
                        // Fonts are registered before their characters arrive; a font's
                        // name is judged once here, not per character.
                        let symbol =
                            |i: usize| out.fonts.get(i).is_some_and(|fi| is_symbol_font(&fi.name));
                        let from = tallies.len();
                        tallies.extend((from..=f).map(|i| FontCount {
                            symbol: symbol(i),
                            ..FontCount::default()
                        }));
                    }
                    let t = &mut tallies[f];
                    if !t.symbol {
                        t.tally.add(ch);
                    }
                    if invisible {
                        t.invisible += 1;
                    } else {
                        t.visible += 1;
                    }
                }
            }
            last_font = font;
            let size = (unsafe { b.FPDFText_GetFontSize(tp, i) } as f32) * scale;
            out.chars.push(RawChar {
                ch,
                bbox: frame.map_rect(&r),
                size: if size.is_finite() && size > 0.0 {
                    size
                } else {
                    1.0
                },
                font,
                generated,
                dir,
            });
        }
        unsafe { b.FPDFText_ClosePage(tp) };
        for c in tallies {
            if c.tally.looks_unmapped() {
                out.layer.unmapped += c.visible + c.invisible;
            } else {
                out.layer.visible += c.visible;
                out.layer.invisible += c.invisible;
            }
        }
        if out.layer.visible == 0 {
            out.layer.paths = objects.paths;
        }
        Ok(out)
    }

    /// Font facts of the text object behind character `i`, registering new fonts.
    fn object_font(
        &self,
        obj: pdfium_render::prelude::FPDF_PAGEOBJECT,
        tp: pdfium_render::prelude::FPDF_TEXTPAGE,
        i: i32,
        by_font: &mut HashMap<usize, u16>,
        fonts: &mut Vec<FontInfo>,
    ) -> (u16, f32) {
        let b = &self.engine.b;
        let mut m = IDENTITY;
        let scale = if unsafe { b.FPDFText_GetMatrix(tp, i, &mut m) } != 0 {
            // Length of the transformed y unit vector: the text's vertical scale.
            let s = (m.c * m.c + m.d * m.d).sqrt();
            if s.is_finite() && s > 0.0 {
                s
            } else {
                1.0
            }
        } else {
            1.0
        };
        if obj.is_null() {
            return (0, scale);
        }
        let font = unsafe { b.FPDFTextObj_GetFont(obj) };
        if let Some(&id) = by_font.get(&(font as usize)) {
            return (id, scale);
        }
        let info = if font.is_null() {
            FontInfo::default()
        } else {
            let len = unsafe { b.FPDFFont_GetBaseFontName(font, std::ptr::null_mut(), 0) };
            let name = if len > 1 && len < 4096 {
                let mut buf = vec![0u8; len];
                unsafe { b.FPDFFont_GetBaseFontName(font, buf.as_mut_ptr().cast(), len) };
                String::from_utf8_lossy(&buf)
                    .trim_end_matches('\0')
                    .to_string()
            } else {
                String::new()
            };
            let flags = unsafe { b.FPDFFont_GetFlags(font) }.max(0) as u32;
            let weight = unsafe { b.FPDFFont_GetWeight(font) };
            FontInfo::from_pdf(&name, flags, weight)
        };
        let id = u16::try_from(fonts.len()).unwrap_or(u16::MAX);
        fonts.push(info);
        by_font.insert(font as usize, id);
        (id, scale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_maps_each_rotation_to_top_left_origin() {
        let f = |rotation| Frame {
            left: 0.0,
            bottom: 0.0,
            right: 600.0,
            top: 800.0,
            rotation,
        };
        // The user-space top-left corner of an unrotated page.
        assert_eq!(f(0).map(0.0, 800.0), (0.0, 0.0));
        // Rotated 90° clockwise it lands top-right; displayed width is 800.
        assert_eq!(f(90).map(0.0, 800.0), (800.0, 0.0));
        assert_eq!(f(180).map(0.0, 800.0), (600.0, 800.0));
        assert_eq!(f(270).map(0.0, 800.0), (0.0, 600.0));
    }
}

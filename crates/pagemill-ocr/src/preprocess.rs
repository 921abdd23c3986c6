//! Turning a page image upright before recognition, and mapping boxes back.
//!
//! Scans arrive rotated by quarter turns (a page fed sideways) and slightly skewed (a page
//! fed crooked). Recognition is done on an upright, deskewed copy; every box it finds is
//! mapped back with [`Upright::to_source`], so boxes land on the page as it is.
//!
//! The pixel work is Leptonica's (loaded with Tesseract, see [`crate::native`]): `pixFindSkew` measures the
//! skew by projection profiles, `pixRotate` and `pixRotateOrth` turn the image.

use leptonica_sys as lept;
use pagemill_core::BBox;

use crate::engine::{GrayImage, OcrError};
use crate::native::{native, Native};

/// Skew below this many degrees is left alone (Leptonica's own `pixDeskew` threshold).
const MIN_SKEW_DEGREES: f32 = 0.1;
/// Confidence below which a measured skew is not trusted (Leptonica's default).
const MIN_SKEW_CONFIDENCE: f32 = 3.0;
/// Gray level under which a pixel counts as ink when measuring skew.
const INK_THRESHOLD: i32 = 130;

/// An owned Leptonica image.
pub(crate) struct Pix(*mut lept::PIX, &'static Native);

impl Drop for Pix {
    fn drop(&mut self) {
        // SAFETY: the pointer came from a Leptonica constructor and is destroyed once.
        unsafe { (self.1.pixDestroy)(&mut self.0) };
    }
}

impl Pix {
    fn wrap(n: &'static Native, p: *mut lept::PIX, what: &str) -> Result<Pix, OcrError> {
        if p.is_null() {
            Err(OcrError::Image(format!("Leptonica could not {what}")))
        } else {
            Ok(Pix(p, n))
        }
    }

    /// An 8-bit Leptonica copy of `image`.
    pub(crate) fn from_gray(image: &GrayImage<'_>) -> Result<Pix, OcrError> {
        let (wi, hi) = image.checked_size()?;
        let (w, h) = (wi as usize, hi as usize);
        let n = native()?;
        // SAFETY: a fresh 8-bpp image of w×h; rows are `wpl` 32-bit words, each word
        // holding four pixels, the leftmost in the most significant byte.
        unsafe {
            let pix = Pix::wrap(n, (n.pixCreate)(wi, hi, 8), "allocate the page image")?;
            (n.pixSetResolution)(pix.0, image.dpi as i32, image.dpi as i32);
            let wpl = (n.pixGetWpl)(pix.0) as usize;
            let data = std::slice::from_raw_parts_mut((n.pixGetData)(pix.0), wpl * h);
            for (row, words) in image.pixels.chunks_exact(w).zip(data.chunks_exact_mut(wpl)) {
                for (word, px) in words.iter_mut().zip(row.chunks(4)) {
                    let b = |i: usize| u32::from(px.get(i).copied().unwrap_or(255));
                    *word = (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
                }
            }
            Ok(pix)
        }
    }

    fn width(&self) -> u32 {
        // SAFETY: a live image.
        unsafe { (self.1.pixGetWidth)(self.0) }.max(0) as u32
    }

    fn height(&self) -> u32 {
        // SAFETY: a live image.
        unsafe { (self.1.pixGetHeight)(self.0) }.max(0) as u32
    }

    /// The 8-bit pixels, rows top to bottom.
    fn to_gray(&self) -> Vec<u8> {
        let (w, h) = (self.width() as usize, self.height() as usize);
        let mut out = Vec::with_capacity(w * h);
        // SAFETY: an 8-bpp image (every image here is made by from_gray or rotated from
        // one, which keeps the depth); rows of `wpl` words.
        unsafe {
            let wpl = (self.1.pixGetWpl)(self.0) as usize;
            let data = std::slice::from_raw_parts((self.1.pixGetData)(self.0), wpl * h);
            for words in data.chunks_exact(wpl) {
                let row = words.iter().flat_map(|word| word.to_be_bytes()).take(w);
                out.extend(row);
            }
        }
        out
    }

    /// The image turned clockwise by `quads` quarter turns.
    fn rotate_orth(&self, quads: u8) -> Result<Pix, OcrError> {
        // SAFETY: a live image; the result is a new image.
        Pix::wrap(
            self.1,
            unsafe { (self.1.pixRotateOrth)(self.0, i32::from(quads % 4)) },
            "rotate the page",
        )
    }

    /// The skew that straightens the text lines, in degrees clockwise, when it is large
    /// enough and measured with confidence.
    fn find_skew(&self) -> Option<f32> {
        // SAFETY: live images; the binary copy is destroyed by its guard.
        unsafe {
            let binary =
                Pix::wrap(self.1, (self.1.pixConvertTo1)(self.0, INK_THRESHOLD), "").ok()?;
            let (mut angle, mut conf) = (0f32, 0f32);
            if (self.1.pixFindSkew)(binary.0, &mut angle, &mut conf) != 0 {
                return None;
            }
            (angle.abs() >= MIN_SKEW_DEGREES && conf >= MIN_SKEW_CONFIDENCE).then_some(angle)
        }
    }

    /// The image rotated `degrees` clockwise about its centre, same size, white brought
    /// in at the corners.
    fn rotate(&self, degrees: f32) -> Result<Pix, OcrError> {
        // SAFETY: a live image; the result is a new image of the same size.
        Pix::wrap(
            self.1,
            unsafe {
                (self.1.pixRotate)(
                    self.0,
                    degrees.to_radians(),
                    lept::L_ROTATE_AREA_MAP as i32,
                    lept::L_BRING_IN_WHITE as i32,
                    0,
                    0,
                )
            },
            "deskew the page",
        )
    }
}

/// How an upright image relates to the source image it was made from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Upright {
    /// Clockwise quarter turns applied to the source.
    pub quads: u8,
    /// Then a clockwise rotation by this many degrees about the centre.
    pub skew: f32,
    /// Source size in pixels.
    src_w: f32,
    src_h: f32,
}

impl Upright {
    /// No change.
    pub fn identity(width: u32, height: u32) -> Upright {
        Upright {
            quads: 0,
            skew: 0.0,
            src_w: width as f32,
            src_h: height as f32,
        }
    }

    /// Size after the quarter turns (the skew rotation keeps it).
    fn turned_size(&self) -> (f32, f32) {
        if self.quads % 2 == 1 {
            (self.src_h, self.src_w)
        } else {
            (self.src_w, self.src_h)
        }
    }

    /// A point of the upright image in source coordinates.
    pub fn point_to_source(&self, x: f32, y: f32) -> (f32, f32) {
        let (tw, th) = self.turned_size();
        // Undo the skew: rotate back (counter-clockwise) about the centre.
        let (x, y) = if self.skew == 0.0 {
            (x, y)
        } else {
            let (cx, cy) = (tw / 2.0, th / 2.0);
            let (s, c) = (-self.skew).to_radians().sin_cos();
            let (dx, dy) = (x - cx, y - cy);
            (cx + dx * c - dy * s, cy + dx * s + dy * c)
        };
        // Undo the quarter turns (y grows downwards).
        match self.quads % 4 {
            1 => (y, self.src_h - x),
            2 => (self.src_w - x, self.src_h - y),
            3 => (self.src_w - y, x),
            _ => (x, y),
        }
    }

    /// A box of the upright image as the smallest box around it in source coordinates.
    pub fn to_source(&self, b: BBox) -> BBox {
        if self.quads == 0 && self.skew == 0.0 {
            return b;
        }
        let corners = [(b.x0, b.y0), (b.x1, b.y0), (b.x0, b.y1), (b.x1, b.y1)]
            .map(|(x, y)| self.point_to_source(x, y));
        let xs = corners.map(|c| c.0);
        let ys = corners.map(|c| c.1);
        let min = |v: [f32; 4]| v.into_iter().fold(f32::INFINITY, f32::min);
        let max = |v: [f32; 4]| v.into_iter().fold(f32::NEG_INFINITY, f32::max);
        BBox::new(
            min(xs).max(0.0),
            min(ys).max(0.0),
            max(xs).min(self.src_w),
            max(ys).min(self.src_h),
        )
    }
}

/// An upright copy of a page image.
pub struct Prepared {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height` gray bytes.
    pub pixels: Vec<u8>,
    /// How it relates to the source.
    pub upright: Upright,
}

/// Turns `image` clockwise by `quads` quarter turns, then, when `deskew` is set, measures
/// and removes its skew.
pub fn make_upright(image: &GrayImage<'_>, quads: u8, deskew: bool) -> Result<Prepared, OcrError> {
    let mut upright = Upright::identity(image.width, image.height);
    let pix = Pix::from_gray(image)?;
    let pix = if quads.is_multiple_of(4) {
        pix
    } else {
        upright.quads = quads % 4;
        pix.rotate_orth(quads)?
    };
    let pix = match deskew.then(|| pix.find_skew()).flatten() {
        Some(angle) => {
            upright.skew = angle;
            pix.rotate(angle)?
        }
        None => pix,
    };
    Ok(Prepared {
        width: pix.width(),
        height: pix.height(),
        pixels: pix.to_gray(),
        upright,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dark_spot(px: &[u8], w: u32) -> (f32, f32) {
        // Centre of the dark pixels.
        let (mut sx, mut sy, mut n) = (0f32, 0f32, 0f32);
        for (i, &p) in px.iter().enumerate() {
            if p < 128 {
                sx += (i as u32 % w) as f32 + 0.5;
                sy += (i as u32 / w) as f32 + 0.5;
                n += 1.0;
            }
        }
        (sx / n, sy / n)
    }

    #[test]
    fn quarter_turns_map_back_to_the_source() {
        let (w, h) = (40u32, 30u32);
        let mut px = vec![255u8; (w * h) as usize];
        // A 3×3 spot centred on (11.5, 6.5).
        for y in 5..8 {
            for x in 10..13 {
                px[(y * w + x) as usize] = 0;
            }
        }
        let img = GrayImage {
            width: w,
            height: h,
            pixels: &px,
            dpi: 300,
        };
        for quads in 0..4u8 {
            let p = make_upright(&img, quads, false).unwrap();
            let expect = if quads % 2 == 1 { (h, w) } else { (w, h) };
            assert_eq!((p.width, p.height), expect, "quads {quads}");
            let (x, y) = dark_spot(&p.pixels, p.width);
            let (sx, sy) = p.upright.point_to_source(x, y);
            assert!(
                (sx - 11.5).abs() < 0.6 && (sy - 6.5).abs() < 0.6,
                "quads {quads}: ({sx}, {sy})"
            );
        }
    }

    #[test]
    fn skewed_lines_are_straightened_and_boxes_map_back() {
        // Text-like lines of dashes tilted by 2° (clockwise: they descend to the right).
        let (w, h) = (1200u32, 900u32);
        let mut px = vec![255u8; (w * h) as usize];
        let tilt = 2f32.to_radians().tan();
        for line in 0..12 {
            let y0 = 100.0 + line as f32 * 60.0;
            for x in 100..1100u32 {
                if (x / 14) % 4 == 3 {
                    continue; // word gaps
                }
                let yc = y0 + (x as f32 - 100.0) * tilt;
                for dy in 0..12 {
                    let y = yc as u32 + dy;
                    px[(y * w + x) as usize] = 0;
                }
            }
        }
        let img = GrayImage {
            width: w,
            height: h,
            pixels: &px,
            dpi: 300,
        };
        let p = make_upright(&img, 0, true).unwrap();
        assert!(
            (p.upright.skew.abs() - 2.0).abs() < 0.3,
            "skew {}",
            p.upright.skew
        );
        // Level lines put their ink in few rows: the fullest row holds far more ink
        // than any row of the tilted original (rotating the wrong way would tilt the
        // lines by 4° and make it worse).
        let fullest = |px: &[u8]| {
            px.chunks(w as usize)
                .map(|row| row.iter().filter(|&&v| v < 128).count())
                .max()
                .unwrap_or(0)
        };
        let (before, after) = (fullest(&px), fullest(&p.pixels));
        assert!(after > 2 * before, "fullest row: {before} → {after}");
        // Ink of the upright image maps back onto ink of the source, far from the centre
        // where a wrong mapping shows most.
        let mut checked = 0;
        for y in (0..h).step_by(7) {
            for x in (0..w).step_by(13) {
                if p.pixels[(y * w + x) as usize] >= 64 || (x as i32 - 600).abs() < 300 {
                    continue;
                }
                let (sx, sy) = p.upright.point_to_source(x as f32 + 0.5, y as f32 + 0.5);
                let near_ink = (-2i32..=2).any(|dy| {
                    (-2i32..=2).any(|dx| {
                        let (qx, qy) = (sx as i32 + dx, sy as i32 + dy);
                        qx >= 0
                            && qy >= 0
                            && (qx as u32) < w
                            && (qy as u32) < h
                            && px[(qy as u32 * w + qx as u32) as usize] < 128
                    })
                });
                assert!(near_ink, "upright ({x}, {y}) maps to ({sx}, {sy}), not ink");
                checked += 1;
            }
        }
        assert!(checked > 100, "{checked}");
    }
}

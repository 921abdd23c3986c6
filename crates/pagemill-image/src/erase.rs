//! Text removal: the ink of each text box found on a page is filled in from the background
//! around it ([`inpaint`](crate::inpaint)), so the page keeps its paper, tints, photos and
//! lines while its words go.
//!
//! Only *ink* is replaced, not whole boxes: inside each box (a little larger than the
//! word, to take in anti-aliasing and descenders) a pixel is ink when it differs from the
//! background colour around the box by more than the box's own contrast allows, and only
//! ink connected to the word itself counts, so a table rule or a drawing's line that
//! passes next to a word is kept. The ink is grown by a pixel or two (JPEG halos), and
//! nothing outside the boxes is ever changed.

use crate::inpaint::{inpaint_region, PixelSet, RasterMut, Rect};

/// How text is found and filled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EraseOptions {
    /// Neighbourhood of known pixels each filled pixel is taken from.
    pub radius: u32,
    /// Least difference from the background (0–255, largest over the channels) that
    /// counts as ink.
    pub min_contrast: u8,
}

impl Default for EraseOptions {
    fn default() -> Self {
        EraseOptions {
            radius: 5,
            min_contrast: 16,
        }
    }
}

/// What was erased on one raster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EraseReport {
    /// The boxes pixels were changed in (each a text box with its margin); every pixel
    /// outside them is as it was.
    pub regions: Vec<Rect>,
    /// Pixels replaced.
    pub pixels: u64,
}

/// Erases the text in `boxes` (pixel coordinates `[x0, y0, x1, y1]`, as an OCR engine or
/// a text layer gives them) from `img`.
pub fn erase_text(img: &mut RasterMut<'_>, boxes: &[[f32; 4]], opts: &EraseOptions) -> EraseReport {
    let mut ink = PixelSet::new(img.width, img.height);
    let mut avoid = PixelSet::new(img.width, img.height);
    let mut regions = Vec::new();
    // A box the engine stretched over a rule is taller than its text: the text's height
    // is taken as the page's usual box height where that is lower.
    let mut heights: Vec<f32> = boxes
        .iter()
        .map(|b| (b[3] - b[1]).abs())
        .filter(|h| h.is_finite())
        .collect();
    let usual = if heights.is_empty() {
        f32::MAX
    } else {
        let mid = heights.len() / 2;
        *heights.select_nth_unstable_by(mid, f32::total_cmp).1
    };
    for b in boxes {
        let Some(tight) = pixel_box(b, img.width, img.height) else {
            continue;
        };
        let h = tight[3] - tight[1];
        let text_height = (h as f32).min(usual);
        let h = text_height as u32;
        // Room for anti-aliasing, accents and a slightly tight box: ~15 % of the text's
        // height above and below, twice that to the sides, where engines leave out
        // trailing punctuation (a colon, a full stop) from the word's box.
        let pad = (text_height * 0.15).round().clamp(2.0, 16.0) as u32;
        let side = 2 * pad;
        let region = [
            tight[0].saturating_sub(side),
            tight[1].saturating_sub(pad),
            (tight[2] + side).min(img.width),
            (tight[3] + pad).min(img.height),
        ];
        let grow = (h as f32 / 20.0).round().clamp(1.0, 4.0) as u32;
        if mark_ink(
            img,
            tight,
            region,
            text_height,
            grow,
            opts.radius + 1,
            opts.min_contrast,
            &mut ink,
            &mut avoid,
        ) > 0
        {
            regions.push(region);
        }
    }
    let mut pixels = 0;
    for &r in &regions {
        pixels += inpaint_region(img, r, &mut ink, &avoid, opts.radius);
    }
    EraseReport { regions, pixels }
}

/// A box rounded outwards to whole pixels and clipped to the raster; `None` when empty.
fn pixel_box(b: &[f32; 4], width: u32, height: u32) -> Option<Rect> {
    if !b.iter().all(|v| v.is_finite()) {
        return None;
    }
    let clip = |v: f32, max: u32| (v.max(0.0) as u32).min(max);
    let r = [
        clip(b[0].min(b[2]).floor(), width),
        clip(b[1].min(b[3]).floor(), height),
        clip(b[0].max(b[2]).ceil(), width),
        clip(b[1].max(b[3]).ceil(), height),
    ];
    (r[0] < r[2] && r[1] < r[3]).then_some(r)
}

/// The background colour of `region`: the median, per channel, of its pixels and of the
/// ring just outside it. Ink rarely covers half of a padded word box, and the ring alone
/// can lie on a table's border.
fn background(img: &RasterMut<'_>, region: Rect) -> [u8; 4] {
    let c = img.channels as usize;
    let [x0, y0, x1, y1] = [
        region[0].saturating_sub(1),
        region[1].saturating_sub(1),
        (region[2] + 1).min(img.width),
        (region[3] + 1).min(img.height),
    ];
    let mut histograms = vec![[0u32; 256]; c.min(4)];
    for y in y0..y1 {
        let row = y as usize * img.width as usize;
        for x in x0..x1 {
            let at = (row + x as usize) * c;
            for (ch, hist) in histograms.iter_mut().enumerate() {
                hist[img.pixels[at + ch] as usize] += 1;
            }
        }
    }
    let n = (x1 - x0) as usize * (y1 - y0) as usize;
    let mut bg = [255u8; 4];
    for (ch, hist) in histograms.iter().enumerate() {
        bg[ch] = percentile(hist, n, 0.5) as u8;
    }
    bg
}

/// Marks the ink of the word at `tight` (searched within `region`) in `ink`, grown by
/// `grow` pixels and kept within `region`, and the other ink within `margin` of `region`
/// (rules, lines of a drawing: the fill's sources) in `avoid`, so it does not bleed into
/// the fill. Returns the pixels marked in `ink`.
#[allow(clippy::too_many_arguments)]
fn mark_ink(
    img: &RasterMut<'_>,
    tight: Rect,
    region: Rect,
    text_height: f32,
    grow: u32,
    margin: u32,
    min_contrast: u8,
    ink: &mut PixelSet,
    avoid: &mut PixelSet,
) -> u64 {
    let c = img.channels as usize;
    let bg = background(img, region);
    let outer = [
        region[0].saturating_sub(margin),
        region[1].saturating_sub(margin),
        (region[2] + margin).min(img.width),
        (region[3] + margin).min(img.height),
    ];
    let (ow, oh) = (
        (outer[2] - outer[0]) as usize,
        (outer[3] - outer[1]) as usize,
    );
    let in_region = |x: usize, y: usize| {
        let (x, y) = (outer[0] + x as u32, outer[1] + y as u32);
        x >= region[0] && x < region[2] && y >= region[1] && y < region[3]
    };
    let mut diff = vec![0u8; ow * oh];
    let mut histogram = [0u32; 256];
    let mut counted = 0;
    for y in 0..oh {
        let row = (outer[1] as usize + y) * img.width as usize;
        for x in 0..ow {
            let at = (row + outer[0] as usize + x) * c;
            let d = (0..c.min(4))
                .map(|ch| img.pixels[at + ch].abs_diff(bg[ch]))
                .max()
                .unwrap_or(0);
            diff[y * ow + x] = d;
            if in_region(x, y) {
                histogram[d as usize] += 1;
                counted += 1;
            }
        }
    }
    // The box's own contrast: the difference its strongest ink reaches (99.5th
    // percentile, so a few noisy pixels do not set it). A quarter of it separates ink
    // from paper noise on clean and noisy scans alike; a box whose contrast stays near
    // the noise floor holds no ink worth erasing.
    let strong = percentile(&histogram, counted, 0.995);
    if strong < 2 * u32::from(min_contrast) {
        return 0;
    }
    let threshold = (strong / 4).max(u32::from(min_contrast)) as u8;
    let is_ink: Vec<bool> = diff.iter().map(|&d| d >= threshold).collect();

    // Keep the ink of the region connected (8-neighbours) to the word's own rows, but not
    // rules: a table's border or a drawing's line that the engine's box took in.
    let mut keep = vec![false; ow * oh];
    let mut rule = vec![false; ow * oh];
    let mut seen = vec![false; ow * oh];
    let (ix0, iy0) = (region[0], tight[1].saturating_sub(1));
    let (ix1, iy1) = (region[2], tight[3] + 1);
    let mut component = Vec::new();
    for y in 0..oh {
        for x in 0..ow {
            let (px, py) = (outer[0] + x as u32, outer[1] + y as u32);
            let i = y * ow + x;
            let seed = px >= ix0 && px < ix1 && py >= iy0 && py < iy1;
            if !seed || seen[i] || !is_ink[i] || !in_region(x, y) {
                continue;
            }
            flood(&is_ink, &mut seen, ow, oh, i, &in_region, &mut component);
            let target = if is_rule(&component, ow, text_height) {
                &mut rule
            } else {
                &mut keep
            };
            for &p in &component {
                target[p] = true;
            }
        }
    }
    // Ink over most of the box means the background was misjudged (a box on a dark
    // panel's edge): better to leave the word than to blot it out.
    let kept = keep.iter().filter(|&&k| k).count();
    if kept * 10 > counted * 6 {
        return 0;
    }
    let grown = dilate(&keep, ow, oh, grow as usize);
    let mut marked = 0;
    for (i, &g) in grown.iter().enumerate() {
        let (x, y) = (i % ow, i / ow);
        let (px, py) = (outer[0] + x as u32, outer[1] + y as u32);
        if g && in_region(x, y) && !rule[i] {
            ink.insert(px, py);
            marked += 1;
        } else if is_ink[i] {
            avoid.insert(px, py);
        }
    }
    marked
}

/// Collects in `out` the ink pixels 8-connected to `start` within the region.
fn flood(
    is_ink: &[bool],
    seen: &mut [bool],
    w: usize,
    h: usize,
    start: usize,
    in_region: &impl Fn(usize, usize) -> bool,
    out: &mut Vec<usize>,
) {
    out.clear();
    seen[start] = true;
    out.push(start);
    let mut next = 0;
    while next < out.len() {
        let i = out[next];
        next += 1;
        let (x, y) = ((i % w) as i64, (i / w) as i64);
        for dy in -1..=1 {
            for dx in -1..=1 {
                let (nx, ny) = (x + dx, y + dy);
                if nx < 0 || ny < 0 || nx >= w as i64 || ny >= h as i64 {
                    continue;
                }
                let n = ny as usize * w + nx as usize;
                if is_ink[n] && !seen[n] && in_region(nx as usize, ny as usize) {
                    seen[n] = true;
                    out.push(n);
                }
            }
        }
    }
}

/// Whether a piece of ink is a rule rather than a glyph: a thin line much longer than
/// the text is tall, or a thin outline (a table cell's corner) larger than the text.
fn is_rule(component: &[usize], w: usize, text_height: f32) -> bool {
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for &i in component {
        let (x, y) = (i % w, i / w);
        x0 = x0.min(x);
        y0 = y0.min(y);
        x1 = x1.max(x + 1);
        y1 = y1.max(y + 1);
    }
    let (bw, bh) = ((x1 - x0) as f32, (y1 - y0) as f32);
    let h = text_height.max(4.0);
    let thin = (0.34 * h).max(2.0);
    let line = (bh <= thin && bw >= 2.0 * h) || (bw <= thin && bh >= 2.0 * h);
    // No glyph is twice the text's height or width and as sparse as a line (a merged
    // run of touching letters is wide but four times denser).
    let outline =
        (bw >= 2.0 * h || bh >= 2.0 * h) && (component.len() as f32) <= 0.4 * (bw + bh) * thin;
    line || outline
}

/// The smallest value at or above fraction `p` of the `n` samples in `histogram`.
fn percentile(histogram: &[u32; 256], n: usize, p: f64) -> u32 {
    let target = (n as f64 * p).ceil() as u64;
    let mut seen = 0u64;
    for (v, &count) in histogram.iter().enumerate() {
        seen += u64::from(count);
        if seen >= target {
            return v as u32;
        }
    }
    255
}

/// Square dilation by `r` pixels (two passes: rows, then columns).
fn dilate(mask: &[bool], w: usize, h: usize, r: usize) -> Vec<bool> {
    if r == 0 {
        return mask.to_vec();
    }
    let mut rows = vec![false; w * h];
    for y in 0..h {
        let line = &mask[y * w..(y + 1) * w];
        for x in 0..w {
            let lo = x.saturating_sub(r);
            let hi = (x + r + 1).min(w);
            rows[y * w + x] = line[lo..hi].iter().any(|&v| v);
        }
    }
    let mut out = vec![false; w * h];
    for x in 0..w {
        for y in 0..h {
            let lo = y.saturating_sub(r);
            let hi = (y + r + 1).min(h);
            out[y * w + x] = (lo..hi).any(|yy| rows[yy * w + x]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A light-blue page (RGB) with a dark "word" (a few strokes) and a table rule that
    /// passes 3 px above the word.
    fn page() -> (u32, u32, Vec<u8>) {
        let (w, h) = (120u32, 60u32);
        let mut px = Vec::with_capacity((w * h * 3) as usize);
        for _ in 0..w * h {
            px.extend_from_slice(&[210, 225, 245]);
        }
        let mut paint = |x: u32, y: u32, rgb: [u8; 3]| {
            let at = ((y * w + x) * 3) as usize;
            px[at..at + 3].copy_from_slice(&rgb);
        };
        for x in 10..110 {
            paint(x, 17, [0, 0, 0]); // the rule
        }
        for stroke in 0..6 {
            let x0 = 30 + stroke * 10;
            for y in 20..40 {
                for x in x0..x0 + 3 {
                    paint(x, y, [20, 20, 30]);
                }
            }
        }
        (w, h, px)
    }

    #[test]
    fn ink_goes_the_rule_and_everything_outside_stay() {
        let (w, h, mut px) = page();
        let before = px.clone();
        let mut img = RasterMut {
            width: w,
            height: h,
            channels: 3,
            pixels: &mut px,
        };
        let report = erase_text(
            &mut img,
            &[[30.0, 20.0, 83.0, 40.0]],
            &EraseOptions::default(),
        );
        assert_eq!(report.regions.len(), 1);
        let r = report.regions[0];
        assert!(
            report.pixels >= 6 * 3 * 20,
            "all strokes: {}",
            report.pixels
        );
        for y in 0..h {
            for x in 0..w {
                let at = ((y * w + x) * 3) as usize;
                let (now, was) = (&px[at..at + 3], &before[at..at + 3]);
                let inside = x >= r[0] && x < r[2] && y >= r[1] && y < r[3];
                if !inside || y == 17 {
                    assert_eq!(now, was, "({x}, {y}) changed (outside, or the rule)");
                } else {
                    let off = now
                        .iter()
                        .zip([210u8, 225, 245])
                        .map(|(a, b)| a.abs_diff(b))
                        .max()
                        .unwrap();
                    assert!(off <= 6, "({x}, {y}) is {now:?}, not background");
                }
            }
        }
    }

    #[test]
    fn a_box_without_contrast_changes_nothing() {
        let (w, h) = (40u32, 20u32);
        let mut px: Vec<u8> = (0..w * h).map(|i| 180 + (i % 5) as u8).collect();
        let before = px.clone();
        let mut img = RasterMut {
            width: w,
            height: h,
            channels: 1,
            pixels: &mut px,
        };
        let report = erase_text(
            &mut img,
            &[[5.0, 5.0, 30.0, 15.0]],
            &EraseOptions::default(),
        );
        assert_eq!(report, EraseReport::default());
        assert_eq!(px, before);
    }

    #[test]
    fn boxes_off_the_raster_or_not_finite_are_skipped() {
        assert_eq!(pixel_box(&[-5.0, -5.0, -1.0, -1.0], 10, 10), None);
        assert_eq!(pixel_box(&[f32::NAN, 0.0, 3.0, 3.0], 10, 10), None);
        assert_eq!(
            pixel_box(&[8.2, 1.5, 30.0, 4.0], 10, 10),
            Some([8, 1, 10, 4])
        );
    }
}

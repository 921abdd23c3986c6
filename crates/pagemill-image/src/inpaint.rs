//! Filling pixels from their surroundings: Telea's fast-marching inpainting (A. Telea, "An
//! Image Inpainting Technique Based on the Fast Marching Method", J. Graphics Tools 9(1),
//! 2004), the method OpenCV calls `INPAINT_TELEA`.
//!
//! Hand-written rather than taken from a crate: the one Rust crate with Telea (`inpaint`)
//! is EUPL-1.2 (copyleft, where this workspace is MIT OR Apache-2.0) and works on whole
//! `f32` images, 16–20 bytes a pixel for a page; here each region is worked on in a window
//! just larger than itself, so a page costs its pixels plus a few kilobytes.
//!
//! The fill advances from the region's edge inwards in order of distance (the fast
//! marching method solves |∇T| = 1 for the distance `T`); each new pixel is a weighted
//! mean of the known pixels within `radius`, weighted towards close pixels, pixels along
//! the direction the fill is moving, and pixels at the same distance from the edge.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// A raster edited in place: `channels` interleaved 8-bit samples a pixel, rows top to
/// bottom without padding.
#[derive(Debug)]
pub struct RasterMut<'a> {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Samples a pixel (1 gray, 3 RGB).
    pub channels: u8,
    /// `width × height × channels` bytes.
    pub pixels: &'a mut [u8],
}

impl RasterMut<'_> {
    /// The raster in 8-bit gray (BT.601 luma for RGB), as OCR reads it.
    pub fn to_gray(&self) -> Vec<u8> {
        crate::gray::interleaved_to_gray(self.pixels, self.channels.max(1) as usize, false, false)
    }
}

/// A pixel rectangle `[x0, y0, x1, y1)`: columns `x0..x1`, rows `y0..y1`.
pub type Rect = [u32; 4];

/// A set of a raster's pixels, one bit each (a 300-dpi page: 1 MB).
#[derive(Debug, Clone)]
pub struct PixelSet {
    width: usize,
    height: usize,
    bits: Vec<u64>,
}

impl PixelSet {
    /// An empty set over a `width`×`height` raster.
    pub fn new(width: u32, height: u32) -> Self {
        let n = width as usize * height as usize;
        PixelSet {
            width: width as usize,
            height: height as usize,
            bits: vec![0; n.div_ceil(64)],
        }
    }

    fn index(&self, x: u32, y: u32) -> Option<usize> {
        let (x, y) = (x as usize, y as usize);
        (x < self.width && y < self.height).then_some(y * self.width + x)
    }

    /// Whether pixel (x, y) is in the set (pixels outside the raster never are).
    pub fn contains(&self, x: u32, y: u32) -> bool {
        self.index(x, y)
            .is_some_and(|i| self.bits[i / 64] >> (i % 64) & 1 == 1)
    }

    /// Adds pixel (x, y); pixels outside the raster are ignored.
    pub fn insert(&mut self, x: u32, y: u32) {
        if let Some(i) = self.index(x, y) {
            self.bits[i / 64] |= 1 << (i % 64);
        }
    }

    /// Removes pixel (x, y).
    pub fn remove(&mut self, x: u32, y: u32) {
        if let Some(i) = self.index(x, y) {
            self.bits[i / 64] &= !(1 << (i % 64));
        }
    }

    /// Number of pixels in the set.
    pub fn len(&self) -> u64 {
        self.bits.iter().map(|w| u64::from(w.count_ones())).sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.bits.iter().all(|&w| w == 0)
    }
}

/// Where a window pixel stands in the fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Known from the start or filled and settled.
    Known,
    /// Known, on the front of the fill (its distance may still drop).
    Band,
    /// To be filled.
    Inside,
    /// To be filled later, by another region: neither filled nor used as a source.
    Excluded,
}

impl State {
    fn known(self) -> bool {
        matches!(self, State::Known | State::Band)
    }
}

/// An `f32` ordered for the heap (distances are finite and never NaN).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Dist(f32);
impl Eq for Dist {}
impl PartialOrd for Dist {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Dist {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

const FAR: f32 = 1.0e6;

/// The pixels of a window around one region, and their fill state.
struct Window {
    x0: u32,
    y0: u32,
    w: usize,
    h: usize,
    state: Vec<State>,
    dist: Vec<f32>,
}

impl Window {
    fn neighbours(&self, i: usize) -> impl Iterator<Item = usize> {
        let (x, y, w, h) = (i % self.w, i / self.w, self.w, self.h);
        [
            (x > 0).then(|| i - 1),
            (x + 1 < w).then(|| i + 1),
            (y > 0).then(|| i - w),
            (y + 1 < h).then(|| i + w),
        ]
        .into_iter()
        .flatten()
    }

    /// Offset of the pixel `dx, dy` away from `i`, if it is in the window.
    fn offset(&self, i: usize, dx: i64, dy: i64) -> Option<usize> {
        let x = (i % self.w) as i64 + dx;
        let y = (i / self.w) as i64 + dy;
        (x >= 0 && y >= 0 && (x as usize) < self.w && (y as usize) < self.h)
            .then(|| y as usize * self.w + x as usize)
    }

    /// Distance at `i` from a horizontal neighbour `a` and a vertical one `b` (the upwind
    /// solution of |∇T| = 1 on the grid).
    fn solve(&self, a: Option<usize>, b: Option<usize>) -> f32 {
        let known = |k: Option<usize>| k.filter(|&k| self.state[k].known()).map(|k| self.dist[k]);
        match (known(a), known(b)) {
            (Some(ta), Some(tb)) => {
                let d = ta - tb;
                if d.abs() >= 1.0 {
                    1.0 + ta.min(tb)
                } else {
                    (ta + tb + (2.0 - d * d).sqrt()) * 0.5
                }
            }
            (Some(t), None) | (None, Some(t)) => 1.0 + t,
            (None, None) => FAR,
        }
    }

    fn distance_at(&self, i: usize) -> f32 {
        let l = self.offset(i, -1, 0);
        let r = self.offset(i, 1, 0);
        let u = self.offset(i, 0, -1);
        let d = self.offset(i, 0, 1);
        self.solve(l, u)
            .min(self.solve(r, u))
            .min(self.solve(l, d))
            .min(self.solve(r, d))
    }

    /// The distance's gradient at `i` (central differences where both sides are known).
    fn gradient(&self, i: usize) -> (f32, f32) {
        let t = self.dist[i];
        let along = |minus: Option<usize>, plus: Option<usize>| {
            let k = |o: Option<usize>| o.filter(|&k| self.state[k].known()).map(|k| self.dist[k]);
            match (k(minus), k(plus)) {
                (Some(a), Some(b)) => (b - a) * 0.5,
                (None, Some(b)) => b - t,
                (Some(a), None) => t - a,
                (None, None) => 0.0,
            }
        };
        (
            along(self.offset(i, -1, 0), self.offset(i, 1, 0)),
            along(self.offset(i, 0, -1), self.offset(i, 0, 1)),
        )
    }
}

/// Fills the pixels of `pending` that lie in `region`, from the known pixels around them,
/// and removes them from `pending`. Pending pixels outside `region` are left alone and
/// are not used as sources (they belong to regions filled later); nor are the pixels of
/// `avoid` (lines and marks next to the text, which would bleed into the fill).
/// Returns how many pixels were filled.
pub fn inpaint_region(
    img: &mut RasterMut<'_>,
    region: Rect,
    pending: &mut PixelSet,
    avoid: &PixelSet,
    radius: u32,
) -> u64 {
    let radius = radius.max(1);
    let x1 = region[2].min(img.width);
    let y1 = region[3].min(img.height);
    if region[0] >= x1 || region[1] >= y1 {
        return 0;
    }
    // The window reaches `radius + 1` past the region: room for the sources of the
    // region's edge pixels, and for the band around it.
    let margin = radius + 1;
    let wx0 = region[0].saturating_sub(margin);
    let wy0 = region[1].saturating_sub(margin);
    let wx1 = (x1 + margin).min(img.width);
    let wy1 = (y1 + margin).min(img.height);
    let (w, h) = ((wx1 - wx0) as usize, (wy1 - wy0) as usize);
    let mut win = Window {
        x0: wx0,
        y0: wy0,
        w,
        h,
        state: vec![State::Known; w * h],
        dist: vec![0.0; w * h],
    };
    let mut inside = 0u64;
    for y in wy0..wy1 {
        for x in wx0..wx1 {
            let i = (y - wy0) as usize * w + (x - wx0) as usize;
            if !pending.contains(x, y) {
                if avoid.contains(x, y) {
                    win.state[i] = State::Excluded;
                    win.dist[i] = FAR;
                }
                continue;
            }
            let own = x >= region[0] && x < x1 && y >= region[1] && y < y1;
            win.state[i] = if own {
                inside += 1;
                State::Inside
            } else {
                State::Excluded
            };
            win.dist[i] = FAR;
        }
    }
    if inside == 0 {
        return 0;
    }
    let mut heap = BinaryHeap::new();
    for i in 0..w * h {
        if win.state[i] != State::Inside {
            continue;
        }
        let band: Vec<usize> = win
            .neighbours(i)
            .filter(|&n| win.state[n] == State::Known)
            .collect();
        for n in band {
            win.state[n] = State::Band;
            heap.push(Reverse((Dist(0.0), n)));
        }
    }
    let channels = img.channels.max(1) as usize;
    let mut filled = 0u64;
    while let Some(Reverse((Dist(t), i))) = heap.pop() {
        if win.state[i] != State::Band || t > win.dist[i] {
            continue; // settled already, or an outdated entry
        }
        win.state[i] = State::Known;
        let next: Vec<usize> = win.neighbours(i).collect();
        for n in next {
            match win.state[n] {
                State::Inside => {
                    win.dist[n] = win.distance_at(n);
                    fill_pixel(img, &win, n, radius, channels);
                    win.state[n] = State::Band;
                    filled += 1;
                    pending.remove(win.x0 + (n % w) as u32, win.y0 + (n / w) as u32);
                    heap.push(Reverse((Dist(win.dist[n]), n)));
                }
                State::Band => {
                    let t = win.distance_at(n);
                    if t < win.dist[n] {
                        win.dist[n] = t;
                        heap.push(Reverse((Dist(t), n)));
                    }
                }
                State::Known | State::Excluded => {}
            }
        }
    }
    filled
}

/// Sets window pixel `i` to the weighted mean of the known pixels within `radius`.
fn fill_pixel(img: &mut RasterMut<'_>, win: &Window, i: usize, radius: u32, channels: usize) {
    let (gx, gy) = win.gradient(i);
    let g = (gx * gx + gy * gy).sqrt();
    let (gx, gy) = if g > 0.0 {
        (gx / g, gy / g)
    } else {
        (0.0, 0.0)
    };
    let t = win.dist[i];
    let r = radius as i64;
    let stride = img.width as usize;
    let mut acc = [0f32; 4];
    let mut total = 0f32;
    for dy in -r..=r {
        for dx in -r..=r {
            let d2 = (dx * dx + dy * dy) as f32;
            if d2 == 0.0 || d2 > (r * r) as f32 {
                continue;
            }
            let Some(k) = win.offset(i, dx, dy) else {
                continue;
            };
            if !win.state[k].known() {
                continue;
            }
            let len = d2.sqrt();
            // The vector from the source to the pixel, against the fill's direction.
            let dir = if g > 0.0 {
                ((-dx as f32 * gx - dy as f32 * gy) / len).abs().max(0.01)
            } else {
                1.0
            };
            let weight = dir / d2 / (1.0 + (win.dist[k] - t).abs());
            let (kx, ky) = (win.x0 as usize + k % win.w, win.y0 as usize + k / win.w);
            let at = (ky * stride + kx) * channels;
            for (c, a) in acc.iter_mut().enumerate().take(channels.min(4)) {
                *a += weight * f32::from(img.pixels[at + c]);
            }
            total += weight;
        }
    }
    if total <= 0.0 {
        return;
    }
    let (px, py) = (win.x0 as usize + i % win.w, win.y0 as usize + i / win.w);
    let at = (py * stride + px) * channels;
    for (c, a) in acc.iter().enumerate().take(channels.min(4)) {
        img.pixels[at + c] = (a / total).round().clamp(0.0, 255.0) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A horizontal gradient, gray.
    fn gradient(w: u32, h: u32) -> Vec<u8> {
        (0..h)
            .flat_map(|_| (0..w).map(move |x| (x * 255 / (w - 1)) as u8))
            .collect()
    }

    #[test]
    fn pixel_set_counts_and_ignores_outside() {
        let mut s = PixelSet::new(10, 7);
        s.insert(3, 4);
        s.insert(9, 6);
        s.insert(10, 0);
        assert!(s.contains(3, 4) && s.contains(9, 6) && !s.contains(10, 0));
        assert_eq!(s.len(), 2);
        s.remove(3, 4);
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn a_hole_in_a_gradient_is_filled_with_the_gradient() {
        let (w, h) = (60u32, 40u32);
        let original = gradient(w, h);
        let mut pixels = original.clone();
        let mut pending = PixelSet::new(w, h);
        for y in 15..25 {
            for x in 20..40 {
                pixels[(y * w + x) as usize] = 0; // a black bar, like a word
                pending.insert(x, y);
            }
        }
        let mut img = RasterMut {
            width: w,
            height: h,
            channels: 1,
            pixels: &mut pixels,
        };
        let filled = inpaint_region(
            &mut img,
            [20, 15, 40, 25],
            &mut pending,
            &PixelSet::new(w, h),
            5,
        );
        assert_eq!(filled, 200);
        assert!(pending.is_empty());
        let worst = original
            .iter()
            .zip(&pixels)
            .map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs())
            .max()
            .unwrap();
        assert!(worst <= 12, "filled pixels stray {worst} from the gradient");
    }

    #[test]
    fn only_the_region_is_filled_and_other_pending_pixels_are_not_sources() {
        let (w, h) = (40u32, 20u32);
        let mut pixels = vec![200u8; (w * h * 3) as usize];
        let mut pending = PixelSet::new(w, h);
        // Two black blobs side by side; only the left one is in the region.
        for y in 8..12 {
            for x in (10..16).chain(17..23) {
                let at = ((y * w + x) * 3) as usize;
                pixels[at..at + 3].copy_from_slice(&[0, 0, 0]);
                pending.insert(x, y);
            }
        }
        let before = pixels.clone();
        let mut img = RasterMut {
            width: w,
            height: h,
            channels: 3,
            pixels: &mut pixels,
        };
        let filled = inpaint_region(
            &mut img,
            [10, 8, 16, 12],
            &mut pending,
            &PixelSet::new(w, h),
            4,
        );
        assert_eq!(filled, 24);
        assert_eq!(pending.len(), 24, "the right blob waits for its own region");
        for y in 0..h {
            for x in 0..w {
                let at = ((y * w + x) * 3) as usize;
                let px = &pixels[at..at + 3];
                if (10..16).contains(&x) && (8..12).contains(&y) {
                    // Filled from the background only, never from the black neighbour.
                    assert_eq!(px, &[200, 200, 200], "({x}, {y})");
                } else {
                    assert_eq!(px, &before[at..at + 3], "({x}, {y}) changed");
                }
            }
        }
    }
}

//! Upscaling in tiles, so memory depends on the tile size and the image's width, not on
//! its area: the input is read a band of rows at a time, each tile is run with a margin
//! of its neighbours' pixels around it, only its own part of the result is kept, and
//! finished bands of output rows are handed on as soon as they are complete.
//!
//! The margin makes tiles seamless: a pixel of the output depends only on input pixels
//! within the network's receptive field, so when the margin covers it a tiled result
//! equals the whole-image one (the compact model: 18 3×3 convolutions, 18 pixels; the
//! tests check equality).

use crate::UpscaleError;

/// How to cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tiling {
    /// Side of a tile's own part, in input pixels.
    pub tile: usize,
    /// Input pixels of context around each tile.
    pub margin: usize,
}

impl Default for Tiling {
    /// 128-pixel tiles with a 20-pixel margin (the compact model's receptive field is
    /// 18 pixels; the bicubic step of x2/x3 adds under 2). The margins are computed twice,
    /// yet with the products of `conv3x3` smaller tiles cost no more: compact ×2 on
    /// 512×512 took 34 CPU-s per megapixel with 128-pixel tiles (57 MB peak) and 36 with
    /// 256 (126 MB; `examples/upscale_speed`). (With candle's own convolution it was 109
    /// against 69.)
    fn default() -> Self {
        Tiling {
            tile: 128,
            margin: 20,
        }
    }
}

/// A band of finished output rows: planes R, G, B of `rows`×`width` values.
#[derive(Debug)]
pub struct Band {
    /// Its first output row.
    pub top: usize,
    /// Rows in it.
    pub rows: usize,
    /// Output width.
    pub width: usize,
    /// The values, plane after plane.
    pub rgb: Vec<f32>,
}

/// Copies rows `y0..y1`, columns `x0..x1` of a band of planes `width` wide.
fn crop(src: &[f32], rows: usize, width: usize, y: (usize, usize), x: (usize, usize)) -> Vec<f32> {
    let mut out = Vec::with_capacity(3 * (y.1 - y.0) * (x.1 - x.0));
    for plane in src.chunks_exact(rows * width).take(3) {
        for r in y.0..y.1 {
            out.extend_from_slice(&plane[r * width + x.0..r * width + x.1]);
        }
    }
    out
}

/// Something that makes pictures larger by a fixed factor: a network
/// ([`Model`](crate::Model)) or interpolation ([`Lanczos`](crate::Lanczos)). Give it a
/// whole picture with [`Upscale::upscale`], or a large one in tiles with
/// [`Upscale::run_tiled`].
pub trait Upscale {
    /// How many times larger its output is.
    fn factor(&self) -> f32;

    /// Upscales three planes (R, G, B) of `h`×`w` values in 0..1: the output's planes,
    /// height and width. Values may fall slightly outside 0..1 (the networks sharpen).
    fn upscale(
        &self,
        rgb: &[f32],
        h: usize,
        w: usize,
    ) -> Result<(Vec<f32>, usize, usize), UpscaleError>;

    /// Upscales an `h`×`w` picture tile by tile. `read_rows(y0, y1)` gives input rows
    /// `y0..y1` (planes R, G, B, values in 0..1); `write` gets the output in bands, top
    /// to bottom; `on_tile` is called after each tile (for progress). Integer scales only.
    fn run_tiled(
        &self,
        h: usize,
        w: usize,
        tiling: Tiling,
        mut read_rows: impl FnMut(usize, usize) -> Result<Vec<f32>, UpscaleError>,
        mut write: impl FnMut(Band) -> Result<(), UpscaleError>,
        mut on_tile: impl FnMut(usize, usize),
    ) -> Result<(), UpscaleError> {
        let s = self.factor();
        if s.fract() != 0.0 || s < 1.0 {
            return Err(UpscaleError::Input(format!(
                "a scale of {s} cannot be tiled"
            )));
        }
        let s = s as usize;
        if h == 0 || w == 0 || tiling.tile == 0 {
            return Err(UpscaleError::Input(format!("a {w}×{h} picture")));
        }
        let (tile, margin) = (tiling.tile, tiling.margin);
        let across = w.div_ceil(tile);
        let total = across * h.div_ceil(tile);
        let mut done = 0;
        for y0 in (0..h).step_by(tile) {
            let y1 = (y0 + tile).min(h);
            let (py0, py1) = (y0.saturating_sub(margin), (y1 + margin).min(h));
            let band_in = read_rows(py0, py1)?;
            if band_in.len() != 3 * (py1 - py0) * w {
                return Err(UpscaleError::Input(format!(
                    "rows {py0}..{py1}: {} values, want {}",
                    band_in.len(),
                    3 * (py1 - py0) * w
                )));
            }
            let mut band = vec![0f32; 3 * (y1 - y0) * s * w * s];
            let row_len = w * s;
            for x0 in (0..w).step_by(tile) {
                let x1 = (x0 + tile).min(w);
                let (px0, px1) = (x0.saturating_sub(margin), (x1 + margin).min(w));
                let input = crop(&band_in, py1 - py0, w, (0, py1 - py0), (px0, px1));
                let (out, oh, ow) = self.upscale(&input, py1 - py0, px1 - px0)?;
                // This tile's own part of the result.
                let own = crop(
                    &out,
                    oh,
                    ow,
                    ((y0 - py0) * s, (y1 - py0) * s),
                    ((x0 - px0) * s, (x1 - px0) * s),
                );
                let (rows, cols) = ((y1 - y0) * s, (x1 - x0) * s);
                for (c, plane) in own.chunks_exact(rows * cols).enumerate() {
                    for (r, line) in plane.chunks_exact(cols).enumerate() {
                        let at = c * rows * row_len + r * row_len + x0 * s;
                        band[at..at + cols].copy_from_slice(line);
                    }
                }
                done += 1;
                on_tile(done, total);
            }
            write(Band {
                top: y0 * s,
                rows: (y1 - y0) * s,
                width: row_len,
                rgb: band,
            })?;
        }
        Ok(())
    }
}

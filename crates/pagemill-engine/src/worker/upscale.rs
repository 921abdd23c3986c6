//! Upscaling in the worker (`pagemill upscale`, `erase-text --upscale-output`): the page's
//! picture — an image input's own pixels, a PDF page rendered at the OCR resolution —
//! goes through the network tile by tile ([`pagemill_upscale::Upscale::run_tiled`]).
//!
//! For `pagemill upscale` the finished bands go straight into a PNG file, so the worker
//! holds the input picture, one band of output and one tile's working set, never the
//! output: a 25-megapixel drawing ×2 (100 megapixels out) fits in the memory of a
//! 25-megapixel one. Before text removal the upscaled page is kept whole instead, since
//! OCR and the erasure need all of it.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use pagemill_core::result::UpscaledPage;
use pagemill_core::settings::{OcrSettings, UpscaleModel, UpscaleSettings};
use pagemill_core::Page;
use pagemill_image::ColourFrame;
use pagemill_upscale::{Band, Lanczos, Model, ModelKind, Tiling, Upscale, UpscaleError, Upscaler};

use super::erase::page_raster;
use super::error::PageError;
use super::source::Source;

/// Input pixels of context around each tile (the compact network sees 18 pixels; the
/// bicubic step of its x2/x3 files under 2 more; Lanczos 3).
const TILE_MARGIN: usize = 20;

/// How often a page's progress is reported, at most.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// The upscaler a worker keeps loaded between pages (the x4plus network is 33 MB of
/// weights; loading it per page would cost more than a small page).
#[derive(Default)]
pub(crate) struct UpscaleState {
    loaded: Option<((UpscaleModel, u8), Upscaler)>,
}

impl UpscaleState {
    /// The upscaler `settings` ask for, loaded on first use.
    fn get(&mut self, settings: &UpscaleSettings) -> Result<&Upscaler, UpscaleError> {
        let key = (settings.model, settings.scale);
        if self.loaded.as_ref().map(|(k, _)| *k) != Some(key) {
            let scale = u32::from(settings.scale);
            let upscaler = match settings.model {
                UpscaleModel::Compact => {
                    Upscaler::Network(Model::installed(ModelKind::Compact, scale)?)
                }
                UpscaleModel::X4plus => {
                    Upscaler::Network(Model::installed(ModelKind::X4Plus, scale)?)
                }
                UpscaleModel::Lanczos => Upscaler::Lanczos(Lanczos::new(scale)?),
            };
            self.loaded = Some((key, upscaler));
        }
        match &self.loaded {
            Some((_, u)) => Ok(u),
            None => Err(UpscaleError::Input("no upscaler loaded".into())),
        }
    }
}

/// Refuses a picture whose upscaled size would pass the output limit, before any work.
fn check_output_size(
    width: u32,
    height: u32,
    settings: &UpscaleSettings,
) -> Result<(u64, u64), PageError> {
    let s = u64::from(settings.scale);
    let (w, h) = (u64::from(width) * s, u64::from(height) * s);
    if w * h > settings.max_output_pixels {
        return Err(PageError::OutputTooLarge {
            width: w,
            height: h,
            limit: settings.max_output_pixels,
        });
    }
    Ok((w, h))
}

/// Input rows `y0..y1` of `frame` as three planes of values in 0..1.
fn planes(frame: &ColourFrame, y0: usize, y1: usize) -> Vec<f32> {
    let (w, c) = (frame.width as usize, frame.channels as usize);
    let rows = &frame.pixels[y0 * w * c..y1 * w * c];
    let mut out = Vec::with_capacity(3 * (y1 - y0) * w);
    for channel in 0..3 {
        let k = if c == 1 { 0 } else { channel };
        out.extend(rows.chunks_exact(c).map(|p| f32::from(p[k]) / 255.0));
    }
    out
}

/// A band's planes as interleaved 8-bit pixels: gray (the channels' mean) when `gray`.
fn band_pixels(band: &Band, gray: bool) -> Vec<u8> {
    let n = band.rows * band.width;
    let (r, rest) = band.rgb.split_at(n);
    let (g, b) = rest.split_at(n);
    let byte = |v: f32| (v * 255.0).round().clamp(0.0, 255.0) as u8;
    if gray {
        (0..n).map(|i| byte((r[i] + g[i] + b[i]) / 3.0)).collect()
    } else {
        (0..n)
            .flat_map(|i| [byte(r[i]), byte(g[i]), byte(b[i])])
            .collect()
    }
}

/// Whether a picture is gray: one channel, or three that are equal everywhere (a gray
/// page saved as RGB). Its upscaled picture is then gray too: the networks add faint
/// colour fringes along strokes, which the text eraser would leave behind as tinted
/// ghosts of the letters.
fn is_gray(frame: &ColourFrame) -> bool {
    frame.channels == 1
        || frame
            .pixels
            .chunks_exact(usize::from(frame.channels.max(1)))
            .all(|p| p.iter().all(|&v| v == p[0]))
}

/// What the tiles were: their count, and how long they took.
struct Run {
    tiles: u32,
    ms: u32,
}

/// Upscales `frame`, handing each finished band of 8-bit pixels to `write`.
fn run(
    upscaler: &Upscaler,
    frame: &ColourFrame,
    gray: bool,
    tile: u32,
    mut write: impl FnMut(&[u8]) -> Result<(), PageError>,
    progress: &mut dyn FnMut(u32, u32),
) -> Result<Run, PageError> {
    let started = Instant::now();
    let mut tiles = 0;
    let mut failed = None;
    let mut reported = started;
    let result = upscaler.run_tiled(
        frame.height as usize,
        frame.width as usize,
        Tiling {
            tile: tile.max(16) as usize,
            margin: TILE_MARGIN,
        },
        |y0, y1| Ok(planes(frame, y0, y1)),
        |band| {
            write(&band_pixels(&band, gray)).map_err(|e| {
                let message = e.to_string();
                failed = Some(e);
                UpscaleError::Compute(message)
            })
        },
        |done, total| {
            tiles = total as u32;
            // A report at most every quarter second (a 25-megapixel page has 1,600
            // tiles), and the last one always.
            if done == total || reported.elapsed() >= PROGRESS_EVERY {
                reported = Instant::now();
                progress(done as u32, total as u32);
            }
        },
    );
    if let Some(e) = failed {
        return Err(e);
    }
    result?;
    Ok(Run {
        tiles,
        ms: started.elapsed().as_millis().min(u128::from(u32::MAX)) as u32,
    })
}

/// Upscales the page's picture into a PNG file in `dir` (`p<page>.png`), band by band.
pub(crate) fn upscale_page(
    state: &mut UpscaleState,
    source: &mut Source<'_>,
    page: &Page,
    ocr: &OcrSettings,
    settings: &UpscaleSettings,
    dir: &Path,
    progress: &mut dyn FnMut(u32, u32),
) -> Result<UpscaledPage, PageError> {
    // Too large is known from the page's size alone: no decoding or rendering for it.
    let (w, h) = source_size(source, page, ocr);
    check_output_size(w, h, settings)?;
    let (frame, _) = page_raster(source, page, ocr)?;
    let (out_w, out_h) = check_output_size(frame.width, frame.height, settings)?;
    let upscaler = state.get(settings)?;
    std::fs::create_dir_all(dir)
        .map_err(|e| PageError::Encode(format!("{}: {e}", dir.display())))?;
    let path = dir.join(format!("p{}.png", page.index + 1));
    let io = |e: std::io::Error| PageError::Encode(format!("{}: {e}", path.display()));
    let png = |e: png::EncodingError| PageError::Encode(e.to_string());
    let file = BufWriter::new(File::create(&path).map_err(io)?);
    let mut encoder = png::Encoder::new(file, out_w as u32, out_h as u32);
    let gray = is_gray(&frame);
    encoder.set_color(if gray {
        png::ColorType::Grayscale
    } else {
        png::ColorType::Rgb
    });
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let mut stream = encoder
        .write_header()
        .and_then(|w| w.into_stream_writer())
        .map_err(png)?;
    let done = run(
        upscaler,
        &frame,
        gray,
        settings.tile,
        |pixels| stream.write_all(pixels).map_err(io),
        progress,
    )?;
    stream.finish().map_err(png)?;
    Ok(UpscaledPage {
        file: path,
        width: out_w as u32,
        height: out_h as u32,
        gray,
        source_width: frame.width,
        source_height: frame.height,
        width_pt: page.width,
        height_pt: page.height,
        model: settings.model,
        scale: settings.scale,
        tiles: done.tiles,
        ms: done.ms,
    })
}

/// The page picture's size in pixels before decoding or rendering it.
fn source_size(source: &Source<'_>, page: &Page, ocr: &OcrSettings) -> (u32, u32) {
    match source {
        Source::Image(doc) => doc.page(page.index).map_or((0, 0), |i| (i.width, i.height)),
        Source::Pdf(_) => {
            let px_per_pt = ocr.dpi as f32 / 72.0;
            let (w, h) = (page.width * px_per_pt, page.height * px_per_pt);
            // Rendering keeps within the page-pixel limit.
            let shrink = ((ocr.max_page_pixels as f32) / (w * h).max(1.0))
                .sqrt()
                .min(1.0);
            ((w * shrink) as u32, (h * shrink) as u32)
        }
    }
}

/// `frame` upscaled whole, in memory (before text removal), and the factor.
pub(crate) fn upscale_frame(
    state: &mut UpscaleState,
    frame: &ColourFrame,
    settings: &UpscaleSettings,
    progress: &mut dyn FnMut(u32, u32),
) -> Result<ColourFrame, PageError> {
    let (out_w, out_h) = check_output_size(frame.width, frame.height, settings)?;
    let upscaler = state.get(settings)?;
    let gray = is_gray(frame);
    let channels: u8 = if gray { 1 } else { 3 };
    let mut pixels = Vec::with_capacity(out_w as usize * out_h as usize * usize::from(channels));
    run(
        upscaler,
        frame,
        gray,
        settings.tile,
        |band| {
            pixels.extend_from_slice(band);
            Ok(())
        },
        progress,
    )?;
    Ok(ColourFrame {
        width: out_w as u32,
        height: out_h as u32,
        channels,
        pixels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(width: u32, height: u32, channels: u8) -> ColourFrame {
        let n = (width * height * u32::from(channels)) as usize;
        ColourFrame {
            width,
            height,
            channels,
            pixels: (0..n).map(|i| (i * 37 % 256) as u8).collect(),
        }
    }

    fn lanczos(scale: u8) -> UpscaleSettings {
        UpscaleSettings {
            model: UpscaleModel::Lanczos,
            scale,
            max_output_pixels: 1_000_000,
            tile: 16,
        }
    }

    #[test]
    fn a_frame_grows_by_the_scale_and_keeps_its_channels() {
        let mut state = UpscaleState::default();
        for channels in [1, 3] {
            let out = upscale_frame(
                &mut state,
                &frame(20, 13, channels),
                &lanczos(3),
                &mut |_, _| {},
            )
            .unwrap();
            assert_eq!((out.width, out.height, out.channels), (60, 39, channels));
            assert_eq!(out.pixels.len(), 60 * 39 * usize::from(channels));
        }
    }

    #[test]
    fn a_gray_page_stored_as_rgb_comes_out_gray() {
        let mut state = UpscaleState::default();
        let mut rgb = frame(8, 8, 3);
        for p in rgb.pixels.chunks_exact_mut(3) {
            p[1] = p[0];
            p[2] = p[0];
        }
        let out = upscale_frame(&mut state, &rgb, &lanczos(2), &mut |_, _| {}).unwrap();
        assert_eq!((out.channels, out.pixels.len()), (1, 16 * 16));
    }

    #[test]
    fn an_output_over_the_limit_is_refused_before_any_work() {
        let mut state = UpscaleState::default();
        let e = upscale_frame(&mut state, &frame(600, 600, 1), &lanczos(2), &mut |_, _| {})
            .unwrap_err();
        assert!(
            matches!(
                e,
                PageError::OutputTooLarge {
                    width: 1200,
                    height: 1200,
                    ..
                }
            ),
            "{e}"
        );
        assert!(state.loaded.is_none());
    }

    #[test]
    fn gray_bands_are_the_channels_mean() {
        let band = Band {
            top: 0,
            rows: 1,
            width: 2,
            rgb: vec![0.0, 1.0, 0.5, 1.0, 1.0, 1.0],
        };
        assert_eq!(band_pixels(&band, true), vec![128, 255]);
        assert_eq!(band_pixels(&band, false), vec![0, 128, 255, 255, 255, 255]);
    }
}

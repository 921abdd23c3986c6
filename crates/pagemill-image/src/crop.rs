//! Image pages in colour: a region for figure crops, the whole page for text removal.
//!
//! Pages keep their colour (transparency laid over white); gray pages stay gray.

use crate::document::{decode_limited, jp2_pixels, tiff_pixels, ImageDocument};
use crate::gray::{gray_over_white, rgb_over_white};
use crate::{Format, ImageError};

/// A cropped region in RGB, rows top to bottom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbCrop {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width × height × 3` bytes.
    pub pixels: Vec<u8>,
}

/// A whole page as decoded: gray pages stay gray (one sample a pixel), others are RGB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColourFrame {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Samples a pixel: 1 (gray) or 3 (RGB).
    pub channels: u8,
    /// `width × height × channels` bytes, rows top to bottom.
    pub pixels: Vec<u8>,
}

impl ImageDocument {
    /// Page `index` whole, in its own colours (gray or RGB, transparency over white). A
    /// page over `max_pixels` is refused before it is decoded.
    pub fn decode_colour(&self, index: u32, max_pixels: u64) -> Result<ColourFrame, ImageError> {
        let info = self.page(index).ok_or(ImageError::NoPage(index + 1))?;
        let (width, height) = (info.width, info.height);
        if u64::from(width) * u64::from(height) > max_pixels {
            return Err(ImageError::TooLarge {
                width,
                height,
                limit: max_pixels,
            });
        }
        let (channels, pixels) = match self.format() {
            Format::Tiff => tiff_pixels(&self.path, index, max_pixels, true)?,
            Format::Jpeg2000 => jp2_pixels(&std::fs::read(&self.path)?, true)?,
            format => {
                let img = decode_limited(&self.path, format, max_pixels)?;
                if matches!(img.color().channel_count(), 1 | 2) {
                    (1, gray_over_white(img))
                } else {
                    (3, rgb_over_white(img))
                }
            }
        };
        if pixels.len() != width as usize * height as usize * channels as usize {
            return Err(ImageError::Decode {
                format: self.format(),
                message: format!("decoded {} bytes for a {width}×{height} page", pixels.len()),
            });
        }
        Ok(ColourFrame {
            width,
            height,
            channels,
            pixels,
        })
    }

    /// The pixels `[x0, y0, x1, y1)` of page `index` (clamped to the page) in RGB. A page
    /// over `max_pixels` is refused before it is decoded.
    pub fn crop_rgb(
        &self,
        index: u32,
        region: [u32; 4],
        max_pixels: u64,
    ) -> Result<RgbCrop, ImageError> {
        let info = self.page(index).ok_or(ImageError::NoPage(index + 1))?;
        let x0 = region[0].min(info.width);
        let y0 = region[1].min(info.height);
        let x1 = region[2].clamp(x0, info.width);
        let y1 = region[3].clamp(y0, info.height);
        let (w, h) = (x1 - x0, y1 - y0);
        let rgb: Vec<u8> = match self.format() {
            Format::Tiff | Format::Jpeg2000 => {
                let frame = self.decode_colour(index, max_pixels)?;
                let c = frame.channels as usize;
                rows(frame.width, y0, y1)
                    .flat_map(|start| {
                        &frame.pixels[(start + x0 as usize) * c..(start + x1 as usize) * c]
                    })
                    // Gray samples become three equal ones.
                    .flat_map(|&v| std::iter::repeat_n(v, if c == 1 { 3 } else { 1 }))
                    .collect()
            }
            format => {
                if u64::from(info.width) * u64::from(info.height) > max_pixels {
                    return Err(ImageError::TooLarge {
                        width: info.width,
                        height: info.height,
                        limit: max_pixels,
                    });
                }
                let img = decode_limited(&self.path, format, max_pixels)?.crop_imm(x0, y0, w, h);
                rgb_over_white(img)
            }
        };
        if rgb.len() != w as usize * h as usize * 3 {
            return Err(ImageError::Decode {
                format: self.format(),
                message: format!("the crop has {} bytes, expected {w}×{h}×3", rgb.len()),
            });
        }
        Ok(RgbCrop {
            width: w,
            height: h,
            pixels: rgb,
        })
    }
}

/// Byte offsets of rows `y0..y1` of a gray image `width` pixels wide.
fn rows(width: u32, y0: u32, y1: u32) -> impl Iterator<Item = usize> {
    (y0..y1).map(move |y| y as usize * width as usize)
}

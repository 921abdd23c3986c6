//! Scaling a page to the resolution OCR wants: Lanczos3 up for low-resolution scans,
//! down for pages over the pixel cap.

use fast_image_resize::images::Image;
use fast_image_resize::{PixelType, Resizer};

use crate::{GrayFrame, ImageError, PageInfo};

/// Scans below this resolution are upscaled in [`Upscale::Auto`] mode: Tesseract's
/// accuracy drops quickly under it (its models are trained on ~300 dpi text).
pub const LOW_DPI: f32 = 200.0;
/// Largest automatic upscale: beyond 4× there is no detail left to recover.
const MAX_AUTO_FACTOR: f32 = 4.0;

/// When to upscale before OCR.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Upscale {
    /// Pages whose recorded resolution is under [`LOW_DPI`] are brought to the target.
    Auto,
    /// Never.
    Off,
    /// Always by this factor.
    Factor(f32),
}

/// The factor to scale a page of `info` by before OCR: the upscale policy first, then
/// capped so the result stays within `max_pixels` (which may mean scaling down).
pub fn ocr_factor(info: &PageInfo, target_dpi: u32, max_pixels: u64, upscale: Upscale) -> f32 {
    let wanted = match (upscale, info.dpi) {
        (Upscale::Auto, Some(dpi)) if dpi < LOW_DPI => {
            (target_dpi as f32 / dpi).clamp(1.0, MAX_AUTO_FACTOR)
        }
        (Upscale::Factor(f), _) if f.is_finite() && f > 0.0 => f,
        _ => 1.0,
    };
    let pixels = info.width as f64 * info.height as f64;
    if pixels <= 0.0 {
        return 1.0;
    }
    let cap = (max_pixels as f64 / pixels).sqrt() as f32;
    wanted.min(cap)
}

/// `frame` scaled by `factor` with Lanczos3 (a no-op for factors within 1 % of 1).
pub fn scale(frame: GrayFrame, factor: f32) -> Result<GrayFrame, ImageError> {
    if (factor - 1.0).abs() < 0.01 || frame.width == 0 || frame.height == 0 {
        return Ok(frame);
    }
    let width = ((frame.width as f32 * factor).round() as u32).max(1);
    let height = ((frame.height as f32 * factor).round() as u32).max(1);
    let resize_err = |e: &dyn std::fmt::Display| ImageError::Unsupported {
        format: crate::Format::Png,
        what: format!("resampling failed: {e}"),
    };
    let src = Image::from_vec_u8(frame.width, frame.height, frame.pixels, PixelType::U8)
        .map_err(|e| resize_err(&e))?;
    let mut dst = Image::new(width, height, PixelType::U8);
    Resizer::new()
        .resize(&src, &mut dst, None)
        .map_err(|e| resize_err(&e))?;
    Ok(GrayFrame {
        width,
        height,
        pixels: dst.into_vec(),
        dpi: frame.dpi.map(|d| d * factor),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(w: u32, h: u32, dpi: Option<f32>) -> PageInfo {
        PageInfo {
            width: w,
            height: h,
            dpi,
        }
    }

    #[test]
    fn upscales_low_resolution_scans_to_the_target() {
        let f = ocr_factor(
            &info(1000, 1000, Some(150.0)),
            300,
            25_000_000,
            Upscale::Auto,
        );
        assert!((f - 2.0).abs() < 1e-6);
        // Good scans and unknown resolutions are left alone.
        assert_eq!(
            ocr_factor(
                &info(1000, 1000, Some(300.0)),
                300,
                25_000_000,
                Upscale::Auto
            ),
            1.0
        );
        assert_eq!(
            ocr_factor(&info(1000, 1000, None), 300, 25_000_000, Upscale::Auto),
            1.0
        );
        assert_eq!(
            ocr_factor(
                &info(1000, 1000, Some(100.0)),
                300,
                25_000_000,
                Upscale::Off
            ),
            1.0
        );
        assert_eq!(
            ocr_factor(&info(10, 10, Some(10.0)), 300, 25_000_000, Upscale::Auto),
            4.0
        );
    }

    #[test]
    fn the_pixel_cap_wins() {
        let f = ocr_factor(
            &info(10_000, 10_000, Some(600.0)),
            300,
            25_000_000,
            Upscale::Off,
        );
        assert!((f - 0.5).abs() < 1e-6);
        let f = ocr_factor(
            &info(4000, 4000, Some(100.0)),
            300,
            25_000_000,
            Upscale::Factor(2.0),
        );
        assert!(f < 1.26 && f > 1.24, "{f}");
    }

    #[test]
    fn scales_pixels_and_resolution() {
        // A black square on white keeps its place when doubled.
        let mut px = vec![255u8; 20 * 20];
        for y in 5..15 {
            for x in 5..15 {
                px[y * 20 + x] = 0;
            }
        }
        let f = GrayFrame {
            width: 20,
            height: 20,
            pixels: px,
            dpi: Some(100.0),
        };
        let big = scale(f, 2.0).unwrap();
        assert_eq!((big.width, big.height, big.dpi), (40, 40, Some(200.0)));
        assert!(big.pixels[20 * 40 + 20] < 10);
        assert!(big.pixels[2 * 40 + 2] > 245);
    }
}

//! Lanczos3 interpolation behind the same interface as the networks, so `--model
//! lanczos` runs through the same tiles, limits and outputs, and the benchmark compares
//! like with like. The resampling itself is `fast_image_resize` (as pagemill's OCR
//! upscaling uses), one plane at a time in 32-bit floats.
//!
//! Tiles are seamless here too: an output pixel's place in the input depends only on its
//! own position (`(x + 0.5) / s − 0.5`), and the kernel reaches 3 input pixels, well
//! inside the tiles' margin.

use fast_image_resize::images::Image;
use fast_image_resize::{PixelType, ResizeAlg, ResizeOptions, Resizer};

use crate::UpscaleError;

/// Lanczos3 by an integer factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lanczos {
    scale: u32,
}

impl Lanczos {
    /// Lanczos3 by `scale` (2 to 8).
    pub fn new(scale: u32) -> Result<Self, UpscaleError> {
        if !(2..=8).contains(&scale) {
            return Err(UpscaleError::Input(format!(
                "Lanczos scales by 2 to 8, not {scale}"
            )));
        }
        Ok(Lanczos { scale })
    }

    /// The factor.
    pub fn scale(&self) -> u32 {
        self.scale
    }

    /// Resamples three planes of `h`×`w` values: the output's planes, height and width.
    pub fn run(
        &self,
        rgb: &[f32],
        h: usize,
        w: usize,
    ) -> Result<(Vec<f32>, usize, usize), UpscaleError> {
        crate::check_planes(rgb, h, w)?;
        let s = self.scale as usize;
        let (oh, ow) = (h * s, w * s);
        let failed = |e: &dyn std::fmt::Display| UpscaleError::Compute(e.to_string());
        let dims = |n: usize| {
            u32::try_from(n).map_err(|_| UpscaleError::Input(format!("{n} pixels across")))
        };
        let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(
            fast_image_resize::FilterType::Lanczos3,
        ));
        let mut resizer = Resizer::new();
        let mut out = Vec::with_capacity(3 * oh * ow);
        for plane in rgb.chunks_exact(h * w) {
            let bytes: Vec<u8> = plane.iter().flat_map(|v| v.to_ne_bytes()).collect();
            let src = Image::from_vec_u8(dims(w)?, dims(h)?, bytes, PixelType::F32)
                .map_err(|e| failed(&e))?;
            let mut dst = Image::new(dims(ow)?, dims(oh)?, PixelType::F32);
            resizer
                .resize(&src, &mut dst, &options)
                .map_err(|e| failed(&e))?;
            out.extend(
                dst.buffer()
                    .chunks_exact(4)
                    .map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]])),
            );
        }
        Ok((out, oh, ow))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flat_picture_stays_flat_and_grows() {
        let l = Lanczos::new(2).unwrap();
        let (out, h, w) = l.run(&[0.5; 3 * 4 * 5], 4, 5).unwrap();
        assert_eq!((h, w), (8, 10));
        assert!(out.iter().all(|v| (v - 0.5).abs() < 1e-5));
    }

    #[test]
    fn scales_out_of_range_are_refused() {
        assert!(Lanczos::new(1).is_err());
        assert!(Lanczos::new(9).is_err());
    }
}

//! 3×3 convolutions (stride 1, padding 1) — nearly all of both networks' work — as nine
//! matrix products accumulated in place, instead of candle's general convolution.
//!
//! The input is laid out channels-last with a one-pixel zero border, `(H+2)×(W+2)×C`.
//! Then, for kernel tap `(ky, kx)`, the input pixels every output pixel needs are one
//! contiguous `[H·(W+2), C]` matrix starting `ky·(W+2) + kx` pixels in (the two border
//! columns of each row give two unused outputs a row, dropped at the end). So the
//! convolution is nine products `[H·(W+2), C] × [C, C_out]` added into one output that
//! starts as the bias: no im2col copy at all. candle 0.11 builds an im2col tile by
//! gathering each value separately, which took about as long as the products themselves:
//! compact ×2 on 512×512 in 256-pixel tiles went from 69 to 36 CPU-seconds per megapixel,
//! x4plus from ~2,960 to ~810 (`examples/upscale_speed`).

use crate::UpscaleError;

/// A 3×3 convolution's weights, arranged per tap for the products.
#[derive(Debug, Clone)]
pub struct Conv3x3 {
    c_in: usize,
    c_out: usize,
    /// Per tap (`ky·3 + kx`), a `[c_in, c_out]` row-major matrix.
    taps: Vec<f32>,
    bias: Vec<f32>,
}

impl Conv3x3 {
    /// From weights in ncnn's (and PyTorch's) order `[c_out, c_in, 3, 3]`, and the bias.
    pub fn new(
        weight: &[f32],
        bias: &[f32],
        c_in: usize,
        c_out: usize,
    ) -> Result<Self, UpscaleError> {
        if weight.len() != c_out * c_in * 9 || bias.len() != c_out {
            return Err(UpscaleError::Weights(format!(
                "a 3×3 convolution {c_in}→{c_out} with {} weights and {} biases",
                weight.len(),
                bias.len()
            )));
        }
        let mut taps = vec![0f32; 9 * c_in * c_out];
        for co in 0..c_out {
            for ci in 0..c_in {
                for t in 0..9 {
                    taps[t * c_in * c_out + ci * c_out + co] = weight[(co * c_in + ci) * 9 + t];
                }
            }
        }
        Ok(Conv3x3 {
            c_in,
            c_out,
            taps,
            bias: bias.to_vec(),
        })
    }

    /// Channels in.
    pub fn c_in(&self) -> usize {
        self.c_in
    }

    /// Applies the convolution to `x`, planes of `h`×`w` (channels first), giving
    /// `c_out` planes of the same size.
    pub fn forward(&self, x: &[f32], h: usize, w: usize) -> Result<Vec<f32>, UpscaleError> {
        let (c_in, c_out) = (self.c_in, self.c_out);
        if x.len() != c_in * h * w || h == 0 || w == 0 {
            return Err(UpscaleError::Input(format!(
                "{} values for {c_in} planes of {w}×{h}",
                x.len()
            )));
        }
        let pw = w + 2;
        // Channels last, with a zero border, and two spare pixels at the end: the last
        // tap's matrix reaches two pixels past the bottom border.
        let mut padded = vec![0f32; ((h + 2) * pw + 2) * c_in];
        for (c, plane) in x.chunks_exact(h * w).enumerate() {
            for (y, row) in plane.chunks_exact(w).enumerate() {
                let base = ((y + 1) * pw + 1) * c_in + c;
                for (i, &v) in row.iter().enumerate() {
                    padded[base + i * c_in] = v;
                }
            }
        }
        let m = h * pw;
        let mut out = Vec::with_capacity(m * c_out);
        for _ in 0..m {
            out.extend_from_slice(&self.bias);
        }
        for t in 0..9 {
            let (ky, kx) = (t / 3, t % 3);
            let start = (ky * pw + kx) * c_in;
            let lhs = &padded[start..start + m * c_in];
            let rhs = &self.taps[t * c_in * c_out..(t + 1) * c_in * c_out];
            accumulate_product(&mut out, lhs, rhs, m, c_in, c_out);
        }
        // Back to channels first, without the border columns.
        let mut y = vec![0f32; c_out * h * w];
        for row in 0..h {
            for col in 0..w {
                let src = &out[(row * pw + col) * c_out..][..c_out];
                for (c, &v) in src.iter().enumerate() {
                    y[(c * h + row) * w + col] = v;
                }
            }
        }
        Ok(y)
    }
}

/// `dst += lhs × rhs` for row-major `lhs` `[m, k]`, `rhs` `[k, n]` and `dst` `[m, n]`.
fn accumulate_product(dst: &mut [f32], lhs: &[f32], rhs: &[f32], m: usize, k: usize, n: usize) {
    assert!(dst.len() >= m * n && lhs.len() >= m * k && rhs.len() >= k * n);
    // SAFETY: the three slices hold the matrices the shapes and strides describe (checked
    // just above), `dst` is borrowed mutably and does not overlap the others, and every
    // stride is positive and within the slices.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            true,
            lhs.as_ptr(),
            1,
            k as isize,
            rhs.as_ptr(),
            1,
            n as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::Rayon(0),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    #[test]
    fn equals_candles_convolution() {
        let (c_in, c_out, h, w) = (5, 7, 9, 11);
        let value = |i: usize, k: usize| ((i * 2654435761 + k) % 1000) as f32 / 500.0 - 1.0;
        let x: Vec<f32> = (0..c_in * h * w).map(|i| value(i, 1)).collect();
        let weight: Vec<f32> = (0..c_out * c_in * 9).map(|i| value(i, 7)).collect();
        let bias: Vec<f32> = (0..c_out).map(|i| value(i, 3)).collect();
        let conv = Conv3x3::new(&weight, &bias, c_in, c_out).unwrap();
        let ours = conv.forward(&x, h, w).unwrap();
        let dev = Device::Cpu;
        let xt = Tensor::from_slice(&x, (1, c_in, h, w), &dev).unwrap();
        let wt = Tensor::from_slice(&weight, (c_out, c_in, 3, 3), &dev).unwrap();
        let bt = Tensor::from_slice(&bias, (1, c_out, 1, 1), &dev).unwrap();
        let theirs: Vec<f32> = xt
            .conv2d(&wt, 1, 1, 1, 1)
            .and_then(|y| y.broadcast_add(&bt))
            .and_then(|y| y.flatten_all())
            .and_then(|y| y.to_vec1())
            .unwrap();
        assert_eq!(ours.len(), theirs.len());
        let worst = ours
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst < 1e-4, "largest difference {worst}");
    }

    #[test]
    fn wrong_shapes_are_refused() {
        assert!(Conv3x3::new(&[0.0; 10], &[0.0], 1, 1).is_err());
        let conv = Conv3x3::new(&[0.0; 9], &[0.0], 1, 1).unwrap();
        assert!(conv.forward(&[0.0; 5], 2, 2).is_err());
    }
}

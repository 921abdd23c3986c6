//! Bicubic resampling as ncnn's `Interp` (resize type 3) does it — and PyTorch's
//! `interpolate(mode="bicubic", align_corners=False)`: half-pixel centres, Keys' kernel
//! with A = −0.75, taps clamped at the edges, no antialiasing. The x2 and x3 models of
//! `realesr-animevideov3` are the x4 network followed by this downscale, so it must match
//! to the last bit that matters; candle has no bicubic resize, and the `image` crate's
//! Catmull-Rom uses A = −0.5 and antialiases, which would not.

/// Keys' cubic convolution constant ncnn and PyTorch use.
const A: f32 = -0.75;

/// The four tap weights for a sample `t` (0 ≤ t < 1) past the second tap.
fn weights(t: f32) -> [f32; 4] {
    let (t0, t1, t2) = (t + 1.0, t, 1.0 - t);
    let w0 = ((A * t0 - 5.0 * A) * t0 + 8.0 * A) * t0 - 4.0 * A;
    let w1 = ((A + 2.0) * t1 - (A + 3.0)) * t1 * t1 + 1.0;
    let w2 = ((A + 2.0) * t2 - (A + 3.0)) * t2 * t2 + 1.0;
    [w0, w1, w2, 1.0 - w0 - w1 - w2]
}

/// For each output index, its four source indices (clamped) and weights.
fn taps(n_in: usize, n_out: usize) -> Vec<([usize; 4], [f32; 4])> {
    let scale = n_in as f32 / n_out as f32;
    (0..n_out)
        .map(|d| {
            let f = (d as f32 + 0.5) * scale - 0.5;
            let s = f.floor();
            let idx = [-1i64, 0, 1, 2].map(|k| (s as i64 + k).clamp(0, n_in as i64 - 1) as usize);
            (idx, weights(f - s))
        })
        .collect()
}

/// Resizes `planes` planes of `h`×`w` values (plane after plane, row after row) to
/// `oh`×`ow`.
pub fn resize(data: &[f32], planes: usize, h: usize, w: usize, oh: usize, ow: usize) -> Vec<f32> {
    let (ty, tx) = (taps(h, oh), taps(w, ow));
    let mut rows = vec![0f32; h * ow];
    let mut out = Vec::with_capacity(planes * oh * ow);
    for plane in data.chunks_exact(h * w).take(planes) {
        // Across, then down: each output row mixes four resampled source rows.
        for (y, row) in plane.chunks_exact(w).enumerate() {
            for (x, (idx, wt)) in tx.iter().enumerate() {
                rows[y * ow + x] = (0..4).map(|k| row[idx[k]] * wt[k]).sum();
            }
        }
        for (idx, wt) in &ty {
            for x in 0..ow {
                out.push((0..4).map(|k| rows[idx[k] * ow + x] * wt[k]).sum());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flat_plane_stays_flat_and_weights_sum_to_one() {
        for t in [0.0, 0.25, 0.5, 0.9] {
            assert!((weights(t).iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
        let out = resize(&[0.7; 2 * 8 * 6], 2, 8, 6, 4, 3);
        assert_eq!(out.len(), 2 * 4 * 3);
        assert!(out.iter().all(|v| (v - 0.7).abs() < 1e-6));
    }

    #[test]
    fn halving_a_ramp_samples_between_its_pixels() {
        // A horizontal ramp 0..8: output pixel x sits at source 2x + 0.5, where the cubic
        // kernel reproduces a linear ramp exactly (away from the clamped edges).
        let ramp: Vec<f32> = (0..4).flat_map(|_| (0..8).map(|x| x as f32)).collect();
        let out = resize(&ramp, 1, 4, 8, 2, 4);
        assert!(
            (out[1] - 2.5).abs() < 1e-5 && (out[2] - 4.5).abs() < 1e-5,
            "{out:?}"
        );
    }
}

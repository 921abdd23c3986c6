//! The port against the original: Real-ESRGAN's compact model (x2, x3, x4) on a 16×16
//! picture must give what ncnn itself gave (`tests/data/upscale/`, made by
//! `scripts/upscale-reference/make_fixture.py`), within 1e-5: measured 1.1e-6 at each
//! scale, about what separates ncnn from an independent numpy reading of the same
//! weights (1.9e-6).

use std::path::{Path, PathBuf};

use pagemill_upscale::{models_dir, Lanczos, Model, ModelKind, Tiling, Upscale};

fn fixture(name: &str) -> Vec<f32> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/upscale")
        .join(name);
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn installed() -> PathBuf {
    let dir = models_dir();
    assert!(
        dir.join("realesr-animevideov3-x4.bin").is_file(),
        "run scripts/setup: no models in {}",
        dir.display()
    );
    dir
}

#[test]
fn the_compact_model_reproduces_ncnn_at_every_scale() {
    installed();
    let input = fixture("in_16x16.f32");
    for (scale, name) in [
        (2, "out_x2_32x32.f32"),
        (3, "out_x3_48x48.f32"),
        (4, "out_x4_64x64.f32"),
    ] {
        let model = Model::installed(ModelKind::Compact, scale).unwrap();
        assert_eq!(model.scale(), scale as f32);
        let (out, h, w) = model.run(&input, 16, 16).unwrap();
        assert_eq!((h, w), (16 * scale as usize, 16 * scale as usize));
        let want = fixture(name);
        assert_eq!(out.len(), want.len());
        let worst = out
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        eprintln!("x{scale}: largest difference from ncnn {worst:.2e}");
        assert!(worst < 1e-5, "x{scale}: largest difference {worst}");
    }
}

#[test]
fn the_rrdb_model_loads_and_enlarges_four_times() {
    installed();
    let model = Model::installed(ModelKind::X4Plus, 4).unwrap();
    assert_eq!(model.scale(), 4.0);
    let input = fixture("in_16x16.f32");
    // An 8×8 corner keeps the slow network's test short.
    let corner: Vec<f32> = (0..3)
        .flat_map(|c| (0..8).flat_map(move |y| (0..8).map(move |x| (c, y, x))))
        .map(|(c, y, x)| input[c * 256 + y * 16 + x])
        .collect();
    let (out, h, w) = model.run(&corner, 8, 8).unwrap();
    assert_eq!((h, w, out.len()), (32, 32, 3 * 32 * 32));
    let mean = out.iter().sum::<f32>() / out.len() as f32;
    let mean_in = corner.iter().sum::<f32>() / corner.len() as f32;
    assert!((mean - mean_in).abs() < 0.05, "{mean} vs {mean_in}");
}

#[test]
fn wrong_input_and_missing_models_say_so() {
    let model = Model::installed(ModelKind::Compact, 2).unwrap();
    assert!(model.run(&[0.0; 10], 4, 4).is_err());
    assert!(model.run(&[], 0, 0).is_err());
    assert!(ModelKind::Compact.file_stem(5).is_err());
    assert!(ModelKind::X4Plus.file_stem(2).is_err());
    let e = Model::load(Path::new("/nonexistent"), "x").err().unwrap();
    assert!(e.to_string().contains("scripts/setup"), "{e}");
}

/// A deterministic picture with edges, text-like strokes and gradients.
fn pattern(h: usize, w: usize) -> Vec<f32> {
    (0..3)
        .flat_map(|c| {
            (0..h).flat_map(move |y| {
                (0..w).map(move |x| {
                    let stroke = if (x / 3 + y / 5) % 4 == 0 { 0.8 } else { 0.1 };
                    let ramp = (x + 2 * y + 7 * c) as f32 / (w + 2 * h + 14) as f32;
                    (0.6 * stroke + 0.4 * ramp).clamp(0.0, 1.0)
                })
            })
        })
        .collect()
}

/// Runs `model` on `input` in tiles, gathering the bands into one picture; also the
/// number of tiles.
fn tiled(
    model: &impl Upscale,
    input: &[f32],
    h: usize,
    w: usize,
    tiling: Tiling,
) -> (Vec<f32>, usize) {
    let s = model.factor() as usize;
    let (oh, ow) = (h * s, w * s);
    let mut out = vec![0f32; 3 * oh * ow];
    let mut tiles = 0;
    model
        .run_tiled(
            h,
            w,
            tiling,
            |y0, y1| {
                Ok((0..3)
                    .flat_map(|c| input[c * h * w + y0 * w..c * h * w + y1 * w].to_vec())
                    .collect())
            },
            |band| {
                for c in 0..3 {
                    let src = &band.rgb[c * band.rows * band.width..][..band.rows * band.width];
                    let at = c * oh * ow + band.top * ow;
                    out[at..at + src.len()].copy_from_slice(src);
                }
                Ok(())
            },
            |_, total| tiles = total,
        )
        .unwrap();
    (out, tiles)
}

fn largest_difference(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max)
}

#[test]
fn tiles_with_margins_leave_no_seams() {
    installed();
    let (h, w) = (37, 45);
    let input = pattern(h, w);
    for scale in [2, 4] {
        let model = Model::installed(ModelKind::Compact, scale).unwrap();
        let (whole, _, _) = model.run(&input, h, w).unwrap();
        let (out, tiles) = tiled(
            &model,
            &input,
            h,
            w,
            Tiling {
                tile: 16,
                margin: 20,
            },
        );
        assert_eq!(tiles, 9, "3 × 3 tiles");
        let worst = largest_difference(&whole, &out);
        eprintln!("x{scale}: tiled vs whole, largest difference {worst:.2e}");
        assert!(worst < 1e-5, "x{scale}: seams, largest difference {worst}");
    }
    // Without a margin the seams show: the test can fail.
    let model = Model::installed(ModelKind::Compact, 4).unwrap();
    let (whole, _, _) = model.run(&input, h, w).unwrap();
    let (out, _) = tiled(
        &model,
        &input,
        h,
        w,
        Tiling {
            tile: 16,
            margin: 0,
        },
    );
    let worst = largest_difference(&whole, &out);
    assert!(worst > 1e-3, "no margin, no seams? {worst}");
}

#[test]
fn lanczos_tiles_leave_no_seams_either() {
    let (h, w) = (37, 45);
    let input = pattern(h, w);
    let lanczos = Lanczos::new(2).unwrap();
    let (whole, oh, ow) = lanczos.run(&input, h, w).unwrap();
    assert_eq!((oh, ow), (74, 90));
    let (out, tiles) = tiled(
        &lanczos,
        &input,
        h,
        w,
        Tiling {
            tile: 16,
            margin: 20,
        },
    );
    assert_eq!(tiles, 9);
    let worst = largest_difference(&whole, &out);
    assert!(worst < 1e-5, "seams, largest difference {worst}");
}

//! CPU cost of the installed models: `cargo run --release -p pagemill-upscale --example
//! upscale_speed [SIDE] [TILE]` upscales a SIDE×SIDE synthetic picture (default 512) in
//! tiles (default 128) with each model and prints seconds, CPU seconds and peak RSS.

use std::time::Instant;

use pagemill_upscale::{Model, ModelKind, Tiling, Upscale};

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let side = args.first().copied().unwrap_or(512);
    let tile = args.get(1).copied().unwrap_or(128);
    for (kind, scale) in [
        (ModelKind::Compact, 2),
        (ModelKind::Compact, 4),
        (ModelKind::X4Plus, 4),
    ] {
        let model = match Model::installed(kind, scale) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("{e}");
                return;
            }
        };
        // x4plus is about 30 times the work: a quarter of the picture.
        let s = if kind == ModelKind::X4Plus {
            side / 4
        } else {
            side
        };
        let input: Vec<f32> = (0..3 * s * s)
            .map(|i| ((i * 2_654_435_761usize) % 1000) as f32 / 1000.0)
            .collect();
        let (wall, cpu) = (Instant::now(), cpu_seconds());
        model
            .run_tiled(
                s,
                s,
                Tiling { tile, margin: 20 },
                |y0, y1| {
                    Ok((0..3)
                        .flat_map(|c| input[c * s * s + y0 * s..c * s * s + y1 * s].to_vec())
                        .collect())
                },
                |_| Ok(()),
                |_, _| {},
            )
            .expect("upscale");
        let mp = (s * s) as f64 / 1e6;
        let (wall, cpu) = (wall.elapsed().as_secs_f64(), cpu_seconds() - cpu);
        println!(
            "{kind:?} x{scale}: {s}x{s} in {wall:.2} s, {:.1} s/MP wall, {:.1} CPU-s/MP, peak RSS {:.0} MB",
            wall / mp,
            cpu / mp,
            peak_rss_mb()
        );
    }
}

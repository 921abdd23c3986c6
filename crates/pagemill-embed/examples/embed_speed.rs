//! Embedding throughput alone: `embed_speed TEXTS.txt [BATCH] [THREADS]` embeds every
//! text of TEXTS.txt (separated by a line holding only `\x1e`, or by blank lines when there
//! is none), BATCH texts per call (default 64, as the index sink does) on THREADS threads
//! (default 1; each takes every THREADS-th batch, as the index's embedding pool does), and
//! prints texts/s wall and per CPU-second as JSON. Run with `RAYON_NUM_THREADS=1` to
//! measure what `pagemill index` does. The backend is chosen as `pagemill index` chooses it
//! (`PAGEMILL_EMBED_BACKEND=candle|onnx` to force one). Used by `scripts/bench-index`.
//! It also prints the memory the model takes: resident before loading it, and the peak
//! after (`resident_mb`, the figure `Embedder::resident_bytes` is set from).

use pagemill_embed::{models_dir, Embedder, MiniLm};

fn cpu_seconds() -> f64 {
    // utime + stime of this process from /proc (Linux), in clock ticks of 100 Hz.
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (tick(11) + tick(12)) / 100.0
}

/// A `/proc/self/status` field in kB (`VmRSS`, `VmHWM`), as MB.
fn status_mb(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .ok_or("usage: embed_speed TEXTS.txt [BATCH] [THREADS]")?;
    let batch: usize = args.get(2).map(|b| b.parse()).transpose()?.unwrap_or(64);
    let threads: usize = args.get(3).map(|b| b.parse()).transpose()?.unwrap_or(1);
    let threads = threads.max(1);
    let text = std::fs::read_to_string(path)?;
    let sep = if text.contains("\n\u{1e}\n") {
        "\n\u{1e}\n"
    } else {
        "\n\n"
    };
    let texts: Vec<&str> = text
        .split(sep)
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    let before = status_mb("VmRSS");
    let model = MiniLm::load(&models_dir().join(MiniLm::NAME))?;
    model.reserve(threads)?;
    let tokens: usize = texts.iter().map(|t| model.count_tokens(t).min(254)).sum();
    let groups: Vec<&[&str]> = texts.chunks(batch.max(1)).collect();
    let (t0, c0) = (std::time::Instant::now(), cpu_seconds());
    std::thread::scope(|s| -> Result<(), pagemill_embed::EmbedError> {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (model, groups) = (&model, &groups);
                s.spawn(move || -> Result<(), pagemill_embed::EmbedError> {
                    for g in groups.iter().skip(t).step_by(threads) {
                        model.embed(g)?;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| pagemill_embed::EmbedError::Compute("a thread panicked".into()))??;
        }
        Ok(())
    })?;
    let (wall, cpu) = (t0.elapsed().as_secs_f64(), cpu_seconds() - c0);
    println!(
        "{{\"texts\": {}, \"mean_tokens\": {:.1}, \"wall_s\": {:.3}, \"cpu_s\": {:.3}, \"texts_per_s\": {:.2}, \"texts_per_cpu_s\": {:.2}, \"backend\": \"{}\", \"resident_mb\": {:.0}, \"estimate_mb\": {:.0}}}",
        texts.len(),
        tokens as f64 / texts.len().max(1) as f64,
        wall,
        cpu,
        texts.len() as f64 / wall,
        texts.len() as f64 / cpu.max(1e-9),
        model.backend(),
        status_mb("VmHWM") - before,
        model.resident_bytes(threads) as f64 / (1 << 20) as f64,
    );
    Ok(())
}

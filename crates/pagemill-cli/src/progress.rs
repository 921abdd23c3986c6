//! Progress for people (an indicatif bar) and for programs (NDJSON events on stdout).

use std::io::Write;
use std::time::Instant;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use pagemill_core::PageOutcome;
use pagemill_engine::{Event, RunSummary};
use serde_json::json;

use crate::job::ProgressMode;
use pagemill_core::size::human;

pub struct Reporter {
    mode: ProgressMode,
    quiet: bool,
    multi: MultiProgress,
    overall: ProgressBar,
    file: Option<ProgressBar>,
    files_total: usize,
    files_done: usize,
    pages_done: u64,
    started: Instant,
}

impl Reporter {
    pub fn new(mode: ProgressMode, quiet: bool, files_total: usize) -> Self {
        let target = if quiet || mode == ProgressMode::Json {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr_with_hz(8)
        };
        let multi = MultiProgress::with_draw_target(target);
        let overall = multi.add(ProgressBar::new(0));
        overall.set_style(
            ProgressStyle::with_template(
                "{prefix:.bold} [{elapsed_precise}] {bar:28.cyan/blue} {pos}/{len} pages · {per_sec} · ETA {eta} · {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        overall.set_prefix(format!("0/{files_total} files"));
        Reporter {
            mode,
            quiet,
            multi,
            overall,
            file: None,
            files_total,
            files_done: 0,
            pages_done: 0,
            started: Instant::now(),
        }
    }

    fn emit(&self, v: serde_json::Value) {
        if self.mode == ProgressMode::Json {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{v}");
            let _ = out.flush();
        }
    }

    pub fn event(&mut self, ev: Event<'_>) {
        match ev {
            Event::FileStarted { input, info, pages } => {
                self.overall.inc_length(pages as u64);
                let bar = self
                    .multi
                    .insert_before(&self.overall, ProgressBar::new(pages as u64));
                bar.set_style(
                    ProgressStyle::with_template("  {prefix} {bar:28.green/white} {pos}/{len}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                bar.set_prefix(input.stem.clone());
                if let Some(old) = self.file.replace(bar) {
                    old.finish_and_clear();
                }
                self.emit(
                    json!({"event": "file_started", "file": input.path, "pages": pages,
                    "page_count": info.page_count, "output": input.out_dir}),
                );
            }
            Event::Page { input, outcome } => {
                self.pages_done += 1;
                self.overall.inc(1);
                if let Some(b) = &self.file {
                    b.inc(1);
                }
                match outcome {
                    PageOutcome::Ok(p) => self.emit(json!({"event": "page", "file": input.path,
                        "page": p.index + 1, "status": "ok", "blocks": p.blocks.len()})),
                    PageOutcome::Failed(f) => {
                        if self.mode == ProgressMode::Bar && !self.quiet {
                            self.multi.suspend(|| {
                                eprintln!(
                                    "pagemill: {} page {}: {} ({})",
                                    input.path.display(),
                                    f.index + 1,
                                    f.message,
                                    f.reason.as_str()
                                )
                            });
                        }
                        self.emit(
                            json!({"event": "page", "file": input.path, "page": f.index + 1,
                            "status": "failed", "reason": f.reason.as_str(), "message": f.message}),
                        )
                    }
                }
            }
            Event::FileFinished { input, report } => {
                self.files_done += 1;
                self.overall
                    .set_prefix(format!("{}/{} files", self.files_done, self.files_total));
                if let Some(b) = self.file.take() {
                    b.finish_and_clear();
                }
                if let Some(e) = &report.error {
                    // Errors are printed even in quiet mode: they are the one line that says why.
                    self.multi.suspend(|| eprintln!("pagemill: {e}"));
                }
                self.emit(
                    json!({"event": "file_finished", "file": input.path, "pages": report.pages,
                    "ok": report.ok, "failed": report.failed, "error": report.error,
                    "outputs": report.outputs, "seconds": report.seconds}),
                );
            }
            Event::Tick { rss, peak_rss } => {
                self.overall
                    .set_message(format!("RSS {} (peak {})", human(rss), human(peak_rss)));
                self.emit(
                    json!({"event": "memory", "rss_bytes": rss, "peak_rss_bytes": peak_rss,
                    "pages_done": self.pages_done}),
                );
            }
        }
    }

    pub fn finish(&mut self, s: &RunSummary, input_errors: usize) {
        self.overall.finish_and_clear();
        let secs = s
            .seconds
            .max(self.started.elapsed().as_secs_f64() * 0.0 + 1e-9);
        let pages = s.pages_ok() + s.pages_failed();
        self.emit(json!({"event": "summary", "files": s.files.len(), "files_failed": s.files_failed() + input_errors,
            "pages": pages, "pages_ok": s.pages_ok(), "pages_failed": s.pages_failed(),
            "seconds": s.seconds, "pages_per_second": pages as f64 / secs, "peak_rss_bytes": s.peak_rss}));
        if self.quiet || self.mode == ProgressMode::Json {
            return;
        }
        eprintln!(
            "pagemill: {} file(s), {} page(s) converted, {} failed, {} file(s) failed · {:.1} s · {:.1} pages/s · peak RSS {}",
            s.files.len(),
            s.pages_ok(),
            s.pages_failed(),
            s.files_failed() + input_errors,
            s.seconds,
            pages as f64 / secs,
            human(s.peak_rss)
        );
        for f in &s.files {
            if let Some(dir) = f.outputs.first().and_then(|p| p.parent()) {
                eprintln!("  {} → {}/", f.path.display(), dir.display());
            }
        }
    }
}

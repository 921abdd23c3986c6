//! Progress for people (an indicatif bar) and for programs (the engine's events as NDJSON
//! on stdout: one `JobEvent` a line, schema in docs/events.md).

use std::io::Write;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use pagemill_core::model::FileErrorKind;
use pagemill_core::size::human;
use pagemill_engine::{JobEvent, JobSummary, PageStatus};

use crate::job::{ProgressMode, StatusLine};

pub struct Reporter {
    mode: ProgressMode,
    quiet: bool,
    multi: MultiProgress,
    overall: ProgressBar,
    file: Option<ProgressBar>,
    files_total: usize,
    files_done: usize,
    status: Option<StatusLine>,
}

/// What to pass to get past a file's failure, in this command's flags.
fn flag_hint(kind: FileErrorKind) -> &'static str {
    match kind {
        FileErrorKind::TooLarge => " (--max-file-size)",
        FileErrorKind::TooManyPages => " (--max-pages; pick pages with --pages after raising it)",
        FileErrorKind::PasswordRequired => "; pass it with --password-file (or --password)",
        FileErrorKind::WrongPassword => "; check --password or --password-file",
        _ => "",
    }
}

impl Reporter {
    pub fn new(mode: ProgressMode, quiet: bool, status: Option<StatusLine>) -> Self {
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
        Reporter {
            mode,
            quiet,
            multi,
            overall,
            file: None,
            files_total: 0,
            files_done: 0,
            status,
        }
    }

    pub fn event(&mut self, ev: &JobEvent) {
        if self.mode == ProgressMode::Json {
            if let Ok(line) = serde_json::to_string(ev) {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            }
        }
        match ev {
            JobEvent::JobStarted { files, .. } => {
                self.files_total = *files;
                self.overall.set_prefix(format!("0/{files} files"));
            }
            JobEvent::FileStarted { file, pages, .. } => {
                self.overall.inc_length(u64::from(*pages));
                let bar = self
                    .multi
                    .insert_before(&self.overall, ProgressBar::new(u64::from(*pages)));
                bar.set_style(
                    ProgressStyle::with_template(
                        "  {prefix} {bar:28.green/white} {pos}/{len} {msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned());
                bar.set_prefix(stem.unwrap_or_default());
                if let Some(old) = self.file.replace(bar) {
                    old.finish_and_clear();
                }
            }
            JobEvent::Page {
                file,
                page,
                status,
                reason,
                message,
                ..
            } => {
                self.overall.inc(1);
                if let Some(b) = &self.file {
                    b.inc(1);
                    b.set_message("");
                }
                if *status == PageStatus::Failed && self.mode == ProgressMode::Bar && !self.quiet {
                    self.multi.suspend(|| {
                        eprintln!(
                            "pagemill: {} page {page}: {} ({})",
                            file.display(),
                            message.as_deref().unwrap_or(""),
                            reason.as_deref().unwrap_or("")
                        )
                    });
                }
            }
            JobEvent::FileFinished {
                error, error_kind, ..
            } => {
                self.files_done += 1;
                self.overall
                    .set_prefix(format!("{}/{} files", self.files_done, self.files_total));
                if let Some(b) = self.file.take() {
                    b.finish_and_clear();
                }
                if let Some(e) = error {
                    // Errors are printed even in quiet mode: they are the one line that says why.
                    let hint = error_kind.map_or("", flag_hint);
                    self.multi.suspend(|| eprintln!("pagemill: {e}{hint}"));
                }
            }
            JobEvent::Memory {
                rss_bytes,
                peak_rss_bytes,
                ..
            } => {
                let extra = self
                    .status
                    .as_ref()
                    .map(|s| format!(" · {}", (s.0)()))
                    .unwrap_or_default();
                self.overall.set_message(format!(
                    "RSS {} (peak {}){extra}",
                    human(*rss_bytes),
                    human(*peak_rss_bytes)
                ));
            }
            JobEvent::PageProgress {
                page, done, total, ..
            } => {
                if let Some(b) = &self.file {
                    b.set_message(format!("· page {page}: tile {done}/{total}"));
                }
            }
            JobEvent::Lagged { missed, .. } => {
                tracing::debug!(missed, "progress fell behind; events missed");
            }
            JobEvent::Summary { .. } => {}
        }
    }

    pub fn finish(&mut self, s: &JobSummary) {
        self.overall.finish_and_clear();
        if self.quiet || self.mode == ProgressMode::Json {
            return;
        }
        let pages = s.pages_ok() + s.pages_failed();
        eprintln!(
            "pagemill: {} file(s), {} page(s) converted, {} failed, {} file(s) failed · {:.1} s · {:.1} pages/s · peak RSS {}",
            s.files.len(),
            s.pages_ok(),
            s.pages_failed(),
            s.files_failed(),
            s.seconds,
            pages as f64 / s.seconds.max(1e-9),
            human(s.peak_rss)
        );
        for f in &s.files {
            if let Some(dir) = f.outputs.first().and_then(|p| p.parent()) {
                eprintln!("  {} → {}/", f.path.display(), dir.display());
            }
        }
    }
}

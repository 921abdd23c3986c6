//! What a job reports: [`JobEvent`]s as it goes, and a [`JobSummary`] at the end.
//!
//! Events are owned, `'static` and `Serialize`: the CLI's `--progress json` prints each as
//! one line, and the service sends the very same objects over SSE. The schema is
//! versioned ([`EVENT_SCHEMA_VERSION`]) and documented in `docs/events.md`.
//!
//! Delivery never stalls the scheduler: each job's events go into a bounded channel, and
//! when its reader is too slow to keep up, events that do not fit are dropped and counted;
//! the next event that fits is preceded by [`JobEvent::Lagged`] with that count. The final
//! [`JobSummary`] never depends on the channel: [`JobHandle::wait`](crate::JobHandle::wait)
//! returns it whatever was missed.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};

use pagemill_core::model::{FileErrorKind, OcrReason, TextSource};
use pagemill_core::PageOutcome;
use serde::{Deserialize, Serialize};

/// Version of the event schema; bumped when a field changes meaning or goes away (new
/// fields and new events do not bump it).
pub const EVENT_SCHEMA_VERSION: u32 = 1;

/// How one input file went.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FileReport {
    /// The input.
    pub path: PathBuf,
    /// Pages selected.
    pub pages: u32,
    /// Pages converted.
    pub ok: u32,
    /// Pages failed.
    pub failed: u32,
    /// Why the whole file failed (cannot open, cannot write), if it did: one line for a
    /// person, naming the file.
    pub error: Option<String>,
    /// The kind of that failure, for a front end to say what to do in its own terms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<FileErrorKind>,
    /// Files written.
    pub outputs: Vec<PathBuf>,
    /// Wall-clock seconds.
    pub seconds: f64,
}

impl FileReport {
    /// Records why the file failed.
    pub fn fail(&mut self, kind: FileErrorKind, message: String) {
        self.error = Some(message);
        self.error_kind = Some(kind);
    }
}

/// How a whole job went.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobSummary {
    /// The job.
    pub job: u64,
    /// One report per input file (inputs that could not be found included).
    pub files: Vec<FileReport>,
    /// Wall-clock seconds from submission to the end.
    pub seconds: f64,
    /// Peak resident memory of the process tree (parent + workers), sampled while the job
    /// ran (shared with any job running at the same time).
    pub peak_rss: u64,
    /// The most bytes ever held under the engine's memory budget, by every job, up to the
    /// end of this one (an upper bound of what this job saw).
    pub budget_peak: u64,
    /// The job was stopped before the end (cancelled, or the engine shut down).
    pub interrupted: bool,
}

impl JobSummary {
    /// Pages converted across all files.
    pub fn pages_ok(&self) -> u32 {
        self.files.iter().map(|f| f.ok).sum()
    }
    /// Pages failed across all files.
    pub fn pages_failed(&self) -> u32 {
        self.files.iter().map(|f| f.failed).sum()
    }
    /// Files that could not be converted at all.
    pub fn files_failed(&self) -> usize {
        self.files.iter().filter(|f| f.error.is_some()).count()
    }
}

/// Whether a page was converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageStatus {
    /// Converted.
    Ok,
    /// Failed; the document goes on without it.
    Failed,
}

/// Something that happened in a job. Serialised with an `event` tag (`"event": "page"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum JobEvent {
    /// The job was accepted; `files` inputs were found.
    JobStarted {
        /// The job.
        job: u64,
        /// [`EVENT_SCHEMA_VERSION`].
        schema: u32,
        /// Input files found.
        files: usize,
    },
    /// A document opened; `pages` of its `page_count` will be converted.
    FileStarted {
        /// The job.
        job: u64,
        /// The document (unique for the engine's life).
        doc: u32,
        /// The input.
        file: PathBuf,
        /// Where its outputs go.
        output: PathBuf,
        /// Pages selected.
        pages: u32,
        /// Pages in the document.
        page_count: u32,
    },
    /// A page was written (converted or failed), in page order within its document.
    Page {
        /// The job.
        job: u64,
        /// The document.
        doc: u32,
        /// The input.
        file: PathBuf,
        /// 1-based page number.
        page: u32,
        /// Converted or failed.
        status: PageStatus,
        /// Where the text came from (converted pages).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<TextSource>,
        /// Why the page was OCRed, when it was.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ocr_reason: Option<OcrReason>,
        /// Blocks found (converted pages).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        blocks: Option<usize>,
        /// Why it failed (`timeout`, `memory`, `crash`, `invalid`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// What went wrong, for a person.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        /// Milliseconds a worker spent on the page (0 for pages replayed on resume).
        worker_ms: u32,
    },
    /// A long page is under way: `done` of its `total` steps (an upscaled page's tiles).
    /// Sent as the worker reports them, before the page's own event.
    PageProgress {
        /// The job.
        job: u64,
        /// The document.
        doc: u32,
        /// 1-based page number.
        page: u32,
        /// Steps done.
        done: u32,
        /// Steps in all.
        total: u32,
    },
    /// A document is complete, or failed as a whole (`error`).
    FileFinished {
        /// The job.
        job: u64,
        /// The document (absent for inputs refused before they were opened).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        doc: Option<u32>,
        /// The input.
        file: PathBuf,
        /// Pages selected.
        pages: u32,
        /// Pages converted.
        ok: u32,
        /// Pages failed.
        failed: u32,
        /// Why the whole file failed.
        error: Option<String>,
        /// The kind of that failure.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error_kind: Option<FileErrorKind>,
        /// Files written.
        outputs: Vec<PathBuf>,
        /// Wall-clock seconds.
        seconds: f64,
    },
    /// Memory of the process tree, about four times a second while the job runs.
    Memory {
        /// The job.
        job: u64,
        /// Resident bytes of the parent and its workers now.
        rss_bytes: u64,
        /// Peak so far, while this job ran.
        peak_rss_bytes: u64,
        /// Bytes held under the memory budget now.
        budget_bytes: u64,
        /// Pages of this job written so far.
        pages_done: u64,
    },
    /// The reader fell behind: `missed` events were dropped before this one.
    Lagged {
        /// The job.
        job: u64,
        /// Events dropped.
        missed: u64,
    },
    /// The job is over; the last event.
    Summary {
        /// The job.
        job: u64,
        /// Input files.
        files: usize,
        /// Files that failed as a whole.
        files_failed: usize,
        /// Pages written.
        pages: u32,
        /// Pages converted.
        pages_ok: u32,
        /// Pages failed.
        pages_failed: u32,
        /// Wall-clock seconds.
        seconds: f64,
        /// Pages a second.
        pages_per_second: f64,
        /// Peak resident bytes of the process tree while the job ran.
        peak_rss_bytes: u64,
        /// Stopped before the end.
        interrupted: bool,
    },
}

impl JobEvent {
    /// The page event for a page written.
    pub(crate) fn page(
        job: u64,
        doc: u32,
        file: PathBuf,
        outcome: &PageOutcome,
        worker_ms: u32,
    ) -> Self {
        let (page, status, source, ocr_reason, blocks, reason, message) = match outcome {
            PageOutcome::Ok(p) => (
                p.index + 1,
                PageStatus::Ok,
                Some(p.source),
                p.ocr_reason,
                Some(p.blocks.len()),
                None,
                None,
            ),
            PageOutcome::Failed(f) => (
                f.index + 1,
                PageStatus::Failed,
                None,
                None,
                None,
                Some(f.reason.as_str().to_string()),
                Some(f.message.clone()),
            ),
        };
        JobEvent::Page {
            job,
            doc,
            file,
            page,
            status,
            source,
            ocr_reason,
            blocks,
            reason,
            message,
            worker_ms,
        }
    }

    /// The file event for a document's report.
    pub(crate) fn file_finished(job: u64, doc: Option<u32>, report: &FileReport) -> Self {
        JobEvent::FileFinished {
            job,
            doc,
            file: report.path.clone(),
            pages: report.pages,
            ok: report.ok,
            failed: report.failed,
            error: report.error.clone(),
            error_kind: report.error_kind,
            outputs: report.outputs.clone(),
            seconds: report.seconds,
        }
    }

    /// The last event of a job.
    pub(crate) fn summary(s: &JobSummary) -> Self {
        let pages = s.pages_ok() + s.pages_failed();
        JobEvent::Summary {
            job: s.job,
            files: s.files.len(),
            files_failed: s.files_failed(),
            pages,
            pages_ok: s.pages_ok(),
            pages_failed: s.pages_failed(),
            seconds: s.seconds,
            pages_per_second: pages as f64 / s.seconds.max(1e-9),
            peak_rss_bytes: s.peak_rss,
            interrupted: s.interrupted,
        }
    }
}

/// The scheduler's end of a job's event channel: never blocks.
pub(crate) struct EventSender {
    job: u64,
    tx: SyncSender<JobEvent>,
    /// Events dropped since the last one delivered.
    missed: u64,
}

impl EventSender {
    /// A bounded channel of `capacity` events for job `job`.
    pub(crate) fn channel(job: u64, capacity: usize) -> (Self, Receiver<JobEvent>) {
        let (tx, rx) = std::sync::mpsc::sync_channel(capacity.max(2));
        (EventSender { job, tx, missed: 0 }, rx)
    }

    /// The job whose events these are.
    pub(crate) fn job(&self) -> u64 {
        self.job
    }

    /// Delivers `event` if the channel has room (after a `Lagged` for what was missed);
    /// otherwise counts it as missed. A reader that went away is not an error.
    pub(crate) fn send(&mut self, event: JobEvent) {
        if self.missed > 0 {
            let lagged = JobEvent::Lagged {
                job: self.job,
                missed: self.missed,
            };
            match self.tx.try_send(lagged) {
                Ok(()) => self.missed = 0,
                Err(TrySendError::Full(_)) => {
                    self.missed += 1;
                    return;
                }
                Err(TrySendError::Disconnected(_)) => return,
            }
        }
        if let Err(TrySendError::Full(_)) = self.tx.try_send(event) {
            self.missed += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory(job: u64, n: u64) -> JobEvent {
        JobEvent::Memory {
            job,
            rss_bytes: n,
            peak_rss_bytes: n,
            budget_bytes: 0,
            pages_done: n,
        }
    }

    #[test]
    fn a_slow_reader_misses_events_and_is_told_how_many() {
        let (mut tx, rx) = EventSender::channel(7, 2);
        for n in 0..5 {
            tx.send(memory(7, n)); // 0 and 1 fit; 2, 3, 4 are missed
        }
        assert_eq!(rx.try_recv().unwrap(), memory(7, 0));
        assert_eq!(rx.try_recv().unwrap(), memory(7, 1));
        tx.send(memory(7, 5));
        assert_eq!(
            rx.try_recv().unwrap(),
            JobEvent::Lagged { job: 7, missed: 3 }
        );
        assert_eq!(rx.try_recv().unwrap(), memory(7, 5));
        assert!(rx.try_recv().is_err());
        drop(rx);
        tx.send(memory(7, 6)); // nobody listens: fine
    }

    #[test]
    fn events_serialise_with_an_event_tag() {
        let v = serde_json::to_value(JobEvent::Lagged { job: 1, missed: 2 }).unwrap();
        assert_eq!(v["event"], "lagged");
        assert_eq!(v["missed"], 2);
        let back: JobEvent = serde_json::from_value(v).unwrap();
        assert_eq!(back, JobEvent::Lagged { job: 1, missed: 2 });
    }
}

//! Jobs as the scheduler runs them: their inputs, the documents they have open, the next
//! task each can start, cancellation, and the end of a job.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use pagemill_core::model::FileErrorKind;
use pagemill_core::pipeline::{MemoryBudget, Permit};
use pagemill_core::protocol::{DocRef, DocumentSource};
use pagemill_core::settings::OcrMode;
use pagemill_core::size::human;
use pagemill_export::UPSCALED_DIR;
use pagemill_pdf::VIEW_PAGES;

use super::documents::{Doc, DocState};
use super::{Flight, Scheduler, TaskKind, ACTIVE_DOCS, STOP_WAIT};
use crate::config::JobSpec;
use crate::events::{EventSender, FileReport, JobEvent, JobSummary};
use crate::inputs::Input;

/// Where a job's end is handed to whoever waits for it.
#[derive(Default)]
pub(crate) struct JobOutcome {
    summary: Mutex<Option<JobSummary>>,
    done: Condvar,
}

impl JobOutcome {
    /// Records the end and wakes the waiters.
    pub(crate) fn set(&self, summary: JobSummary) {
        let mut s = self.summary.lock().unwrap_or_else(|e| e.into_inner());
        *s = Some(summary);
        self.done.notify_all();
    }

    /// Waits for the end.
    pub(crate) fn wait(&self) -> JobSummary {
        let mut s = self.summary.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(summary) = s.as_ref() {
                return summary.clone();
            }
            s = self.done.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// The end, if it has come.
    pub(crate) fn get(&self) -> Option<JobSummary> {
        self.summary
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// A job on its way to the scheduler.
pub(crate) struct NewJob {
    pub(crate) id: u64,
    pub(crate) spec: JobSpec,
    pub(crate) inputs: Vec<Input>,
    /// Inputs refused before the job started (not found, not readable).
    pub(crate) refused: Vec<FileReport>,
    pub(crate) events: EventSender,
    pub(crate) outcome: Arc<JobOutcome>,
    /// First id of the documents of this job (ids are unique for the engine's life).
    pub(crate) first_doc: u32,
}

/// A running job.
pub(crate) struct Job {
    pub(crate) id: u64,
    pub(crate) spec: JobSpec,
    pub(crate) inputs: Vec<Input>,
    next_input: usize,
    pub(crate) active: VecDeque<Doc>,
    pub(crate) summary: JobSummary,
    pub(crate) events: EventSender,
    outcome: Arc<JobOutcome>,
    started: Instant,
    /// Price of a text-layer page and of an OCR page.
    pub(crate) costs: (u64, u64),
    /// Whether the transport takes view-long runs per slot (see `affinity`).
    runs_allowed: bool,
    /// Set by a cancel: the time by which the job ends whatever is still in flight.
    pub(crate) stopping: Option<Instant>,
    /// Pages written so far.
    pub(crate) pages_done: u64,
    first_doc: u32,
    /// The budget held for the job's sinks while it runs ([`SinkFactory::resident_bytes`]).
    ///
    /// [`SinkFactory::resident_bytes`]: pagemill_core::sink::SinkFactory::resident_bytes
    resident: Option<Permit>,
}

impl Job {
    /// The request-side description of document `doc`.
    pub(crate) fn doc_ref(&self, doc: u32, reduced: bool) -> Option<DocRef> {
        let d = self.active.iter().find(|d| d.id == doc)?;
        let spec = &self.spec;
        let mut ocr = spec.ocr.clone();
        if reduced {
            ocr.dpi = (ocr.dpi / 2).max(72);
            ocr.max_page_pixels /= 4;
        }
        Some(DocRef {
            id: doc,
            source: DocumentSource::path(&self.inputs[d.input].path),
            password: spec.password.clone(),
            ocr,
            page_timeout_ms: spec.page_timeout.as_millis() as u64,
            preview_dpi: spec.formats.layouts.then_some(spec.layout_dpi),
            page_images: spec.formats.searchable,
            figure_dpi: spec.formats.images.then_some(spec.figure_dpi),
            erase: spec.erase.filter(|_| spec.formats.erased),
            upscale: spec.upscale.clone(),
            upscaled_dir: spec
                .formats
                .upscaled
                .map(|_| self.inputs[d.input].out_dir.join(UPSCALED_DIR)),
        })
    }

    /// Whether this job's cheap pages go to workers in view-long runs (see `affinity`).
    /// Only when pages are cheap — text outputs, no page pictures: a page of the layout
    /// PDF or of OCR costs 15 ms or more, against ~0.2 ms a page to open a view, while a
    /// run's results wait in the reorder window with their pictures (R-intro with the
    /// layout PDF: 42 MB against 32 MB).
    pub(crate) fn pages_in_runs(&self) -> bool {
        let f = &self.spec.formats;
        self.runs_allowed && !(f.layouts || f.erased || f.upscaled.is_some() || self.ocr_forced())
    }

    /// Whether any of this job's pages may be OCRed from the start.
    pub(crate) fn ocr_forced(&self) -> bool {
        self.spec.ocr.mode == OcrMode::Always
    }

    /// The next task this job can start: a document to open, a page to retry, or the next
    /// page the budget and the document's reorder window allow.
    pub(crate) fn next_task(&mut self, budget: &mut MemoryBudget, slot: usize) -> Option<Flight> {
        if self.stopping.is_some() {
            return None;
        }
        let runs = self.pages_in_runs();
        for doc in self.active.iter_mut() {
            match &mut doc.state {
                DocState::Queued { attempts } => {
                    let attempts = *attempts;
                    doc.state = DocState::Opening;
                    return Some(Flight {
                        req: 0,
                        job: self.id,
                        doc: doc.id,
                        kind: TaskKind::Open,
                        attempts,
                        permit: None,
                        reduced: false,
                    });
                }
                DocState::Opening => continue,
                DocState::Running(r) => {
                    if let Some(f) = r.retry.pop_front() {
                        return Some(f);
                    }
                    if r.claims.exhausted() {
                        continue;
                    }
                    let cost = if r.ocr_priced {
                        self.costs.1
                    } else {
                        self.costs.0
                    };
                    let run = if r.ocr_priced || !runs {
                        1
                    } else {
                        u64::from(VIEW_PAGES)
                    };
                    // No room now: this job waits its turn; the others may still fit.
                    let permit = budget.try_admit(cost)?;
                    let window = &r.window;
                    let Some(seq) = r.claims.take(slot, run, |s| window.has_room_for(s)) else {
                        budget.release(permit);
                        continue;
                    };
                    let Some(index) = self.spec.pages.nth(seq as u32, r.page_count) else {
                        budget.release(permit);
                        continue;
                    };
                    return Some(Flight {
                        req: 0,
                        job: self.id,
                        doc: doc.id,
                        kind: TaskKind::Page { seq, index },
                        attempts: 0,
                        permit: Some(permit),
                        reduced: false,
                    });
                }
            }
        }
        None
    }

    /// Whether every input has been taken up and every document is done.
    fn is_done(&self) -> bool {
        self.active.is_empty() && self.next_input >= self.inputs.len()
    }
}

impl Scheduler {
    /// Takes a new job in.
    pub(crate) fn add_job(&mut self, new: NewJob) {
        let NewJob {
            id,
            spec,
            inputs,
            refused,
            mut events,
            outcome,
            first_doc,
        } = new;
        if self.shutting_down {
            let summary = JobSummary {
                job: id,
                files: refused,
                interrupted: true,
                ..Default::default()
            };
            events.send(JobEvent::summary(&summary));
            outcome.set(summary);
            return;
        }
        events.send(JobEvent::JobStarted {
            job: id,
            schema: crate::events::EVENT_SCHEMA_VERSION,
            files: inputs.len(),
        });
        for r in &refused {
            events.send(JobEvent::file_finished(id, None, r));
        }
        let costs = spec.page_costs();
        let resident: u64 = spec.sinks.iter().map(|s| s.resident_bytes()).sum();
        let resident = (resident > 0).then(|| self.budget.reserve(resident));
        self.jobs.push(Job {
            id,
            spec,
            inputs,
            next_input: 0,
            active: VecDeque::new(),
            summary: JobSummary {
                job: id,
                files: refused,
                ..Default::default()
            },
            events,
            outcome,
            started: Instant::now(),
            costs,
            runs_allowed: self.transport.takes_pages_in_runs(),
            stopping: None,
            pages_done: 0,
            first_doc,
            resident,
        });
        self.take_up_inputs(id);
    }

    /// Opens the job's next inputs while it has fewer than [`ACTIVE_DOCS`] documents.
    pub(crate) fn take_up_inputs(&mut self, job: u64) {
        loop {
            let Some(j) = self.jobs.iter_mut().find(|j| j.id == job) else {
                return;
            };
            if j.stopping.is_some() || j.active.len() >= ACTIVE_DOCS {
                break;
            }
            if j.next_input >= j.inputs.len() {
                break;
            }
            let input = j.next_input;
            j.next_input += 1;
            let id = j.first_doc + input as u32;
            j.active.push_back(Doc {
                id,
                input,
                started: Instant::now(),
                state: DocState::Queued { attempts: 0 },
            });
            if let Some(why) = too_large(&j.spec, &j.inputs[input]) {
                self.finish_doc(job, id, Some((FileErrorKind::TooLarge, why)));
            }
        }
        self.end_job_if_done(job);
    }

    /// Ends the job if it has nothing left to do.
    pub(crate) fn end_job_if_done(&mut self, job: u64) {
        let Some(pos) = self.jobs.iter().position(|j| j.id == job) else {
            return;
        };
        if !self.jobs[pos].is_done() {
            return;
        }
        let rss = self.transport.tree_rss();
        let mut j = self.jobs.remove(pos);
        if let Some(p) = j.resident.take() {
            self.budget.release(p);
        }
        self.turn = self.turn.min(self.jobs.len().saturating_sub(1));
        j.summary.peak_rss = j.summary.peak_rss.max(rss);
        j.summary.budget_peak = self.budget.peak();
        j.summary.seconds = j.started.elapsed().as_secs_f64();
        j.summary.interrupted |= j.stopping.is_some();
        j.events.send(JobEvent::summary(&j.summary));
        j.outcome.set(j.summary);
    }

    /// Starts stopping a job: no new page starts; pages in flight get [`STOP_WAIT`].
    pub(crate) fn cancel(&mut self, job: u64) {
        if let Some(j) = self.jobs.iter_mut().find(|j| j.id == job) {
            if j.stopping.is_none() {
                tracing::warn!(job, "stop requested: finishing the pages in flight");
                j.stopping = Some(Instant::now() + STOP_WAIT);
                // Inputs not yet taken up are simply not converted.
                j.next_input = j.inputs.len();
            }
        }
    }

    /// Ends stopping jobs whose pages in flight are back, or whose time is up.
    pub(crate) fn check_stopping(&mut self) {
        let now = Instant::now();
        let due: Vec<u64> = self
            .jobs
            .iter()
            .filter(|j| {
                j.stopping.is_some_and(|until| {
                    now >= until
                        || !self
                            .slots
                            .iter()
                            .any(|s| s.in_flight.iter().any(|f| f.job == j.id))
                })
            })
            .map(|j| j.id)
            .collect();
        for id in due {
            self.abort_job(id, None);
        }
    }

    /// Ends every document still open in a job: complete ones are written, the others are
    /// dropped with their temporary files (with `error`, or as interrupted).
    pub(crate) fn abort_job(&mut self, job: u64, error: Option<&str>) {
        let Some(j) = self.jobs.iter_mut().find(|j| j.id == job) else {
            return;
        };
        j.stopping.get_or_insert_with(Instant::now);
        j.next_input = j.inputs.len();
        let docs: Vec<(u32, bool, String)> = j
            .active
            .iter()
            .map(|d| {
                let complete = matches!(&d.state, DocState::Running(r) if r.written >= r.total);
                (d.id, complete, j.inputs[d.input].path.display().to_string())
            })
            .collect();
        for (id, complete, path) in docs {
            let why = match (complete, error) {
                (true, None) => None,
                (_, Some(e)) => Some((FileErrorKind::Interrupted, format!("{path}: {e}"))),
                (false, None) => Some((
                    FileErrorKind::Interrupted,
                    format!("{path}: interrupted before the end; no output written for this file"),
                )),
            };
            self.finish_doc(job, id, why);
        }
        self.end_job_if_done(job);
    }
}

/// Why a file is refused by its size, before any process reads it.
fn too_large(spec: &JobSpec, input: &Input) -> Option<String> {
    let limit = spec.max_file_size?;
    let size = std::fs::metadata(&input.path).ok()?.len();
    (size > limit).then(|| {
        format!(
            "{}: the file is {}, over the file size limit of {}; raise the limit if the \
             file is trusted",
            input.path.display(),
            human(size),
            human(limit)
        )
    })
}

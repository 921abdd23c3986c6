//! The conversion job: the scheduler loop that feeds workers and drains results into sinks.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pagemill_core::model::TextSource;
use pagemill_core::pipeline::{MemoryBudget, Permit, ReorderWindow};
use pagemill_core::protocol::{
    DocInfo, DocKind, DocRef, EraseSettings, OcrMode, OcrSettings, Request, Response,
};
use pagemill_core::ranges::PageRanges;
use pagemill_core::size::human;
use pagemill_core::PageOutcome;
use pagemill_export::{DocumentSinks, Formats, PagePictures};

use crate::checkpoint::Checkpoint;
use crate::pool::{PoolEvent, SpawnError, WorkerPool};
pub use crate::report::{Event, FileReport, RunSummary};
use crate::{rss, Input};

mod faults;
use faults::RSS_CHECK_EVERY;

/// Settings of a conversion run.
#[derive(Debug, Clone)]
pub struct ConvertOptions {
    /// Executable started as `EXE internal-worker` for each worker.
    pub worker_exe: PathBuf,
    /// Worker processes.
    pub jobs: usize,
    /// Bytes that pages in flight (dispatched or waiting to be written) may hold.
    pub memory_budget: u64,
    /// Estimated bytes one text-layer page holds while in flight.
    pub page_cost: u64,
    /// Estimated bytes one OCR page holds while in flight (its worker's working set:
    /// the page image and the OCR engine's copies of it). Images, `--ocr always`, and
    /// PDFs that turned out to be scans are priced at this.
    pub ocr_page_cost: u64,
    /// Pages to convert in each document.
    pub pages: PageRanges,
    /// Output formats.
    pub formats: Formats,
    /// Resolution of the page pictures in the layout PDF.
    pub layout_dpi: u32,
    /// Resolution of figure crops of vector drawings and OCR regions (images are cropped
    /// at their own resolution, within twice this).
    pub figure_dpi: u32,
    /// User password for encrypted inputs.
    pub password: Option<String>,
    /// A page still unfinished after this long fails with `timeout` (its worker is killed
    /// and replaced).
    pub page_timeout: Duration,
    /// When and how pages are OCRed.
    pub ocr: OcrSettings,
    /// Erase each page's text (`pagemill erase-text`; written when `formats.erased`).
    pub erase: Option<EraseSettings>,
    /// Each worker's limit on its data (heap and private mappings), bytes: a page that
    /// needs more fails with `memory` (after a retry at half the resolution) instead of
    /// the machine's OOM killer ending the run.
    pub worker_memory: Option<u64>,
    /// Continue documents from the checkpoint a killed run left (see `checkpoint`).
    pub resume: bool,
    /// Files larger than this many bytes are refused before anything reads them.
    pub max_file_size: Option<u64>,
    /// Documents with more pages than this are refused when opened.
    pub max_pages: Option<u32>,
    /// Set (by a signal handler) to stop: no new page starts, pages in flight get up to
    /// [`STOP_WAIT`] to finish, documents that are complete are written, unfinished ones
    /// leave nothing behind.
    pub stop: Arc<AtomicBool>,
}

/// A run that could not go on at all.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Workers could not be started.
    #[error(transparent)]
    Spawn(#[from] SpawnError),
}

/// How many documents are open at once: the one being finished and the next, so workers
/// stay busy across a file boundary.
const ACTIVE_DOCS: usize = 2;
/// Requests queued per worker: one working, one waiting, so a worker never idles on IPC.
const PIPELINE: usize = 2;
/// How long pages in flight may take to finish once a stop is asked for.
pub const STOP_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug)]
enum TaskKind {
    Open,
    Page { seq: u64, index: u32 },
}

#[derive(Debug)]
struct Flight {
    doc: u32,
    kind: TaskKind,
    attempts: u8,
    permit: Option<Permit>,
    /// Ran out of memory once: retried at half the OCR resolution and a quarter of the
    /// pixels.
    reduced: bool,
}

#[derive(Default)]
struct Slot {
    in_flight: VecDeque<Flight>,
    head_since: Option<Instant>,
    killed_for_timeout: bool,
    pages_done: u32,
    baseline_rss: Option<u64>,
    retiring: bool,
}

struct Running {
    pages: Box<dyn Iterator<Item = u32>>,
    next_seq: u64,
    total: u32,
    written: u32,
    window: ReorderWindow<(PageOutcome, PagePictures, Permit)>,
    retry: VecDeque<Flight>,
    sinks: DocumentSinks,
    /// Where written pages are kept for `--resume`.
    checkpoint: Option<Checkpoint>,
    /// Pages of this document are priced as OCR pages: it is an image, OCR is forced, or
    /// one of its pages already needed OCR (a scanned PDF is scanned throughout, usually).
    ocr_priced: bool,
}

enum DocState {
    Queued { attempts: u8 },
    Opening,
    Running(Box<Running>),
}

struct Doc {
    id: u32,
    input: usize,
    started: Instant,
    state: DocState,
}

struct Scheduler<'a, F: FnMut(Event<'_>)> {
    opts: &'a ConvertOptions,
    inputs: &'a [Input],
    pool: WorkerPool,
    slots: Vec<Slot>,
    budget: MemoryBudget,
    active: VecDeque<Doc>,
    next_input: usize,
    summary: RunSummary,
    observe: F,
    window: usize,
    /// When a stop was asked for, the time by which the run ends regardless.
    stopping: Option<Instant>,
}

/// Converts `inputs`, calling `observe` with progress. Failures of pages and files are in
/// the summary; only a failure to run at all is an error.
pub fn convert(
    inputs: &[Input],
    opts: &ConvertOptions,
    observe: impl FnMut(Event<'_>),
) -> Result<RunSummary, JobError> {
    let start = Instant::now();
    let jobs = opts.jobs.max(1).min(inputs.len().max(1) * 64);
    let pool = WorkerPool::start(opts.worker_exe.clone(), jobs, opts.worker_memory)?;
    let mut s = Scheduler {
        opts,
        inputs,
        slots: (0..pool.len()).map(|_| Slot::default()).collect(),
        pool,
        budget: MemoryBudget::new(opts.memory_budget),
        active: VecDeque::new(),
        next_input: 0,
        summary: RunSummary::default(),
        observe,
        window: (4 * jobs).max(16),
        stopping: None,
    };
    s.run()?;
    s.summary.seconds = start.elapsed().as_secs_f64();
    s.summary.budget_peak = s.budget.peak();
    Ok(s.summary)
}

impl<F: FnMut(Event<'_>)> Scheduler<'_, F> {
    fn run(&mut self) -> Result<(), JobError> {
        let mut last_tick = Instant::now() - Duration::from_secs(1);
        loop {
            if self.stopping.is_none() && self.opts.stop.load(Ordering::Relaxed) {
                tracing::warn!("stop requested: finishing the pages in flight");
                self.stopping = Some(Instant::now() + STOP_WAIT);
                self.summary.interrupted = true;
            }
            if let Some(until) = self.stopping {
                let idle = self.slots.iter().all(|s| s.in_flight.is_empty());
                if idle || Instant::now() >= until {
                    self.abandon_unfinished();
                    break;
                }
            }
            while self.stopping.is_none()
                && self.active.len() < ACTIVE_DOCS
                && self.next_input < self.inputs.len()
            {
                let id = self.next_input as u32;
                self.active.push_back(Doc {
                    id,
                    input: self.next_input,
                    started: Instant::now(),
                    state: DocState::Queued { attempts: 0 },
                });
                self.next_input += 1;
                if let Some(why) = self.too_large(&self.inputs[self.next_input - 1]) {
                    self.finish_doc(id, Some(why));
                }
            }
            self.dispatch();
            if self.active.is_empty() && self.next_input >= self.inputs.len() {
                break;
            }
            if let Some(ev) = self.pool.recv(Duration::from_millis(100)) {
                self.handle(ev)?;
                // Drain whatever else is ready before dispatching again.
                while let Some(ev) = self.pool.recv(Duration::ZERO) {
                    self.handle(ev)?;
                }
            }
            self.check_deadlines();
            self.recycle_idle()?;
            if last_tick.elapsed() >= Duration::from_millis(250) {
                self.tick();
                last_tick = Instant::now();
            }
        }
        self.tick();
        Ok(())
    }

    fn tick(&mut self) {
        let rss = rss::tree_rss(&self.pool.pids());
        self.summary.peak_rss = self.summary.peak_rss.max(rss);
        (self.observe)(Event::Tick {
            rss,
            peak_rss: self.summary.peak_rss,
        });
    }

    fn doc_ref(&self, doc: &Doc, reduced: bool) -> DocRef {
        let mut ocr = self.opts.ocr.clone();
        if reduced {
            ocr.dpi = (ocr.dpi / 2).max(72);
            ocr.max_page_pixels /= 4;
        }
        DocRef {
            id: doc.id,
            path: self.inputs[doc.input].path.clone(),
            password: self.opts.password.clone(),
            ocr,
            page_timeout_ms: self.opts.page_timeout.as_millis() as u64,
            preview_dpi: self.opts.formats.layouts.then_some(self.opts.layout_dpi),
            page_images: self.opts.formats.searchable,
            figure_dpi: self.opts.formats.images.then_some(self.opts.figure_dpi),
            erase: self.opts.erase.filter(|_| self.opts.formats.erased),
        }
    }

    /// Fills idle workers with the next tasks the budget and the reorder windows allow.
    fn dispatch(&mut self) {
        loop {
            let Some(slot) = (0..self.slots.len())
                .filter(|&i| !self.slots[i].retiring && self.slots[i].in_flight.len() < PIPELINE)
                .min_by_key(|&i| self.slots[i].in_flight.len())
            else {
                return;
            };
            let Some(flight) = self.next_task() else {
                return;
            };
            let Some(doc) = self.active.iter().find(|d| d.id == flight.doc) else {
                return;
            };
            let doc_ref = self.doc_ref(doc, flight.reduced);
            let req = match flight.kind {
                TaskKind::Open => Request::Open { doc: doc_ref },
                TaskKind::Page { index, .. } => Request::Page {
                    doc: doc_ref,
                    index,
                },
            };
            let s = &mut self.slots[slot];
            if s.in_flight.is_empty() {
                s.head_since = Some(Instant::now());
            }
            s.in_flight.push_back(flight);
            // A failed send means the worker died; its reader reports it and the flight is
            // handled there like any other casualty.
            self.pool.send(slot, &req);
        }
    }

    /// Ends every document still open after a stop: complete ones are written, the
    /// others are dropped with their temporary files.
    fn abandon_unfinished(&mut self) {
        let ids: Vec<(u32, usize)> = self.active.iter().map(|d| (d.id, d.input)).collect();
        for (id, input) in ids {
            let complete = self.active.iter().any(|d| {
                d.id == id && matches!(&d.state, DocState::Running(r) if r.written >= r.total)
            });
            let why = (!complete).then(|| {
                format!(
                    "{}: interrupted before the end; no output written for this file",
                    self.inputs[input].path.display()
                )
            });
            self.finish_doc(id, why);
        }
    }

    fn next_task(&mut self) -> Option<Flight> {
        if self.stopping.is_some() {
            return None;
        }
        for doc in self.active.iter_mut() {
            match &mut doc.state {
                DocState::Queued { attempts } => {
                    let attempts = *attempts;
                    doc.state = DocState::Opening;
                    return Some(Flight {
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
                    if !r.window.has_room_for(r.next_seq) {
                        continue;
                    }
                    if r.next_seq >= r.total as u64 {
                        continue;
                    }
                    let cost = if r.ocr_priced {
                        self.opts.ocr_page_cost
                    } else {
                        self.opts.page_cost
                    };
                    let permit = self.budget.try_admit(cost)?;
                    let Some(index) = r.pages.next() else {
                        self.budget.release(permit);
                        continue;
                    };
                    let seq = r.next_seq;
                    r.next_seq += 1;
                    return Some(Flight {
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

    fn handle(&mut self, ev: PoolEvent) -> Result<(), JobError> {
        match ev {
            PoolEvent::Message {
                slot,
                generation,
                response,
                bytes,
            } => {
                if generation != self.pool.generation(slot) {
                    return Ok(());
                }
                let s = &mut self.slots[slot];
                let Some(flight) = s.in_flight.pop_front() else {
                    return Ok(());
                };
                s.head_since = (!s.in_flight.is_empty()).then(Instant::now);
                if matches!(flight.kind, TaskKind::Page { .. }) {
                    s.pages_done += 1;
                    if s.pages_done % RSS_CHECK_EVERY == 0 {
                        self.check_worker_memory(slot);
                    }
                }
                if self.pool.take_out_of_memory(slot)
                    && matches!(flight.kind, TaskKind::Page { .. })
                {
                    // The worker survived an allocation failure; its answer for this page
                    // cannot be trusted.
                    self.out_of_memory(flight, "survived an allocation failure");
                    return Ok(());
                }
                self.on_response(flight, response, bytes);
            }
            PoolEvent::Exited {
                slot,
                generation,
                error,
            } => self.worker_ended(slot, generation, error)?,
        }
        Ok(())
    }

    fn doc_mut(&mut self, id: u32) -> Option<&mut Doc> {
        self.active.iter_mut().find(|d| d.id == id)
    }

    fn on_response(&mut self, f: Flight, response: Response, bytes: usize) {
        match (response, f.kind) {
            (Response::Opened { doc, info }, TaskKind::Open) => self.start_doc(doc, info),
            (Response::OpenFailed { doc, message }, TaskKind::Open) => {
                self.finish_doc(doc, Some(message))
            }
            (
                Response::Page {
                    doc,
                    outcome,
                    preview,
                    image,
                    figures,
                    erased,
                },
                TaskKind::Page { seq, .. },
            ) => {
                let mut permit = f.permit;
                if let Some(p) = permit.as_mut() {
                    // The result now holds about its wire size (not the estimate).
                    self.budget.resize(p, bytes as u64);
                }
                let pictures = PagePictures {
                    preview,
                    image,
                    figures,
                    erased: erased.map(|e| *e),
                };
                self.accept_page(doc, seq, outcome, pictures, permit);
            }
            (other, kind) => {
                tracing::error!(?kind, "worker answered out of turn: {other:?}");
                if let Some(p) = f.permit {
                    self.budget.release(p);
                }
            }
        }
    }

    /// Why a file is refused by its size, before any process reads it.
    fn too_large(&self, input: &Input) -> Option<String> {
        let limit = self.opts.max_file_size?;
        let size = std::fs::metadata(&input.path).ok()?.len();
        (size > limit).then(|| {
            format!(
                "{}: the file is {}, over the --max-file-size limit of {}; raise the limit if \
                 the file is trusted",
                input.path.display(),
                human(size),
                human(limit)
            )
        })
    }

    fn start_doc(&mut self, id: u32, info: DocInfo) {
        if let Some(max) = self.opts.max_pages.filter(|&m| info.page_count > m) {
            let path = self
                .active
                .iter()
                .find(|d| d.id == id)
                .map(|d| self.inputs[d.input].path.display().to_string())
                .unwrap_or_default();
            let msg = format!(
                "{path}: the document has {} pages, over the --max-pages limit of {max}; \
                 raise the limit, or pick pages with --pages after raising it",
                info.page_count
            );
            return self.finish_doc(id, Some(msg));
        }
        let (pages, formats) = (self.opts.pages.clone(), self.opts.formats);
        let window = self.window;
        let Some(doc) = self.active.iter().find(|d| d.id == id) else {
            return;
        };
        let input = &self.inputs[doc.input];
        let total = pages.count(info.page_count);
        let sinks = DocumentSinks::create(
            &input.out_dir,
            &input.stem,
            &input.path,
            &info,
            formats,
            total,
        );
        let sinks = match sinks {
            Ok(s) => s,
            Err(e) => {
                let msg = format!("cannot write to {}: {e}", input.out_dir.display());
                return self.finish_doc(id, Some(msg));
            }
        };
        let mut sinks = sinks;
        (self.observe)(Event::FileStarted {
            input,
            info: &info,
            pages: total,
        });
        let checkpoint = match Checkpoint::open(
            &input.out_dir,
            &crate::checkpoint::fingerprint(self.opts, input),
            self.opts.resume,
        ) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(file = %input.path.display(), error = %e, "no checkpoint: this document cannot be resumed");
                None
            }
        };
        // A resumed document: the pages written before the kill, replayed from their records.
        let mut written = 0u64;
        let mut ocr_seen = false;
        if let Some((c, n)) = &checkpoint {
            while written < (*n).min(u64::from(total)) {
                let replayed = c.read(written).and_then(|(outcome, pictures)| {
                    sinks.page(&outcome, &pictures).map(|()| outcome)
                });
                match replayed {
                    Ok(outcome) => {
                        ocr_seen |=
                            matches!(&outcome, PageOutcome::Ok(p) if p.source == TextSource::Ocr);
                        (self.observe)(Event::Page {
                            input,
                            outcome: &outcome,
                        });
                        written += 1;
                    }
                    Err(e) => {
                        tracing::warn!(page = written, error = %e, "checkpoint record unreadable; converting from there");
                        c.truncate(written);
                        break;
                    }
                }
            }
            if written > 0 {
                tracing::info!(file = %input.path.display(), pages = written, "resumed");
            }
        }
        let running = Running {
            pages: Box::new(pages.into_pages(info.page_count).skip(written as usize)),
            next_seq: written,
            total,
            written: written as u32,
            window: ReorderWindow::starting_at(window, written),
            retry: VecDeque::new(),
            sinks,
            ocr_priced: ocr_seen
                || info.kind == DocKind::Image
                || self.opts.ocr.mode == OcrMode::Always,
            checkpoint: checkpoint.map(|(c, _)| c),
        };
        if let Some(doc) = self.doc_mut(id) {
            doc.state = DocState::Running(Box::new(running));
        }
        if written >= u64::from(total) {
            self.finish_doc(id, None);
        }
    }

    /// Files a page result and writes every page that is now next in order.
    fn accept_page(
        &mut self,
        id: u32,
        seq: u64,
        outcome: PageOutcome,
        pictures: PagePictures,
        permit: Option<Permit>,
    ) {
        let permit = permit.unwrap_or_else(|| self.budget.try_admit(0).expect("zero always fits"));
        let Some(doc) = self.active.iter_mut().find(|d| d.id == id) else {
            self.budget.release(permit);
            return;
        };
        let DocState::Running(r) = &mut doc.state else {
            self.budget.release(permit);
            return;
        };
        if matches!(&outcome, PageOutcome::Ok(p) if p.source == TextSource::Ocr) {
            r.ocr_priced = true;
        }
        if let Err((_, _, p)) = r.window.insert(seq, (outcome, pictures, permit)) {
            self.budget.release(p);
            return;
        }
        let input = &self.inputs[doc.input];
        let mut write_error = None;
        while let Some((outcome, pictures, permit)) = r.window.pop_ready() {
            let res = r.sinks.page(&outcome, &pictures);
            if res.is_ok() {
                let kept = r
                    .checkpoint
                    .as_ref()
                    .map(|c| c.write(u64::from(r.written), &outcome, &pictures));
                if let Some(Err(e)) = kept {
                    tracing::warn!(file = %input.path.display(), error = %e, "checkpoint not written; this document can no longer be resumed");
                    if let Some(c) = r.checkpoint.take() {
                        c.remove();
                    }
                }
            }
            self.budget.release(permit);
            if let Err(e) = res {
                write_error = Some(format!(
                    "cannot write outputs to {}: {e}",
                    input.out_dir.display()
                ));
                break;
            }
            r.written += 1;
            (self.observe)(Event::Page {
                input,
                outcome: &outcome,
            });
        }
        let complete = r.written >= r.total;
        if write_error.is_some() || complete {
            self.finish_doc(id, write_error);
        }
    }

    /// Ends a document: finishes its sinks (or drops them on error) and reports.
    fn finish_doc(&mut self, id: u32, error: Option<String>) {
        let Some(pos) = self.active.iter().position(|d| d.id == id) else {
            return;
        };
        let Some(doc) = self.active.remove(pos) else {
            return;
        };
        let input = &self.inputs[doc.input];
        let seconds = doc.started.elapsed().as_secs_f64();
        let mut report = FileReport {
            path: input.path.clone(),
            seconds,
            error,
            ..Default::default()
        };
        if let DocState::Running(r) = doc.state {
            let mut r = *r;
            if let Some(c) = r.checkpoint.take() {
                c.remove();
            }
            report.pages = r.total;
            report.ok = r.sinks.summary().ok;
            report.failed = r.sinks.summary().failed;
            for (_, _, p) in std::iter::from_fn({
                let mut w = r.window;
                move || w.pop_ready()
            }) {
                self.budget.release(p);
            }
            for f in r.retry {
                if let Some(p) = f.permit {
                    self.budget.release(p);
                }
            }
            if report.error.is_none() {
                match r.sinks.finish() {
                    Ok(paths) => report.outputs = paths,
                    Err(e) => {
                        report.error = Some(format!(
                            "cannot finish outputs in {}: {e}",
                            input.out_dir.display()
                        ))
                    }
                }
            }
        }
        for slot in 0..self.slots.len() {
            self.pool.send(slot, &Request::Close { doc: id });
        }
        (self.observe)(Event::FileFinished {
            input,
            report: &report,
        });
        self.summary.files.push(report);
    }
}

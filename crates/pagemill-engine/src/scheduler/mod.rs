//! The parent side: one scheduler thread per [`Engine`](crate::Engine), owning the worker
//! transport and the one memory budget, running every job submitted to it.
//!
//! Data flows **jobs → dispatch → transport → answers → reorder window → sinks**:
//! - [`jobs`]: each job walks its inputs and their selected pages lazily; dispatch takes
//!   the next task from the jobs in turn (round robin), so a long job never starves a
//!   short one that arrives later;
//! - a page is admitted only when the [`MemoryBudget`] has room and it is within the
//!   reorder window of its document; its permit is held until the page is written;
//! - [`documents`]: answers are matched to requests by id, filed in their document's
//!   reorder window and written to its sinks in page order as soon as they are next;
//! - [`faults`]: crashes, deadlines, memory failures and worker recycling.
//!
//! Nothing is kept per page once it is written: page count changes time, never peak memory.

mod affinity;
mod checkpoint;
mod documents;
mod faults;
mod jobs;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use pagemill_core::pipeline::{MemoryBudget, Permit};
use pagemill_core::protocol::{Request, Response};

use crate::events::JobEvent;
use crate::transport::{TransportEvent, WorkerTransport};
pub use checkpoint::{resume_records, RESUME_DIR};
pub(crate) use jobs::{Job, JobOutcome, NewJob};

/// Documents of one job open at once: the one being finished and the next, so workers
/// stay busy across a file boundary.
const ACTIVE_DOCS: usize = 2;
/// How long pages in flight may take to finish once a job is cancelled.
pub const STOP_WAIT: Duration = Duration::from_secs(10);
/// How often memory is sampled and reported.
const TICK: Duration = Duration::from_millis(250);

/// What the scheduler thread waits on: answers from workers and orders from the engine.
pub(crate) enum Inbox {
    /// From the transport.
    Worker(TransportEvent),
    /// A new job.
    Submit(Box<NewJob>),
    /// Stop a job: no new page starts, pages in flight get [`STOP_WAIT`] to finish.
    Cancel(u64),
    /// Stop every job as `Cancel` does, then end the thread.
    Shutdown,
}

/// What a task is.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TaskKind {
    Open,
    Page { seq: u64, index: u32 },
}

/// A request sent to a worker and not yet answered.
#[derive(Debug)]
pub(crate) struct Flight {
    /// Request id.
    req: u64,
    job: u64,
    doc: u32,
    kind: TaskKind,
    attempts: u8,
    permit: Option<Permit>,
    /// Ran out of memory once: retried at half the OCR resolution and a quarter of the
    /// pixels.
    reduced: bool,
}

/// One worker slot as the scheduler sees it.
#[derive(Default)]
struct Slot {
    in_flight: VecDeque<Flight>,
    head_since: Option<Instant>,
    killed_for_timeout: bool,
    pages_done: u32,
    baseline_rss: Option<u64>,
    retiring: bool,
}

/// The scheduler's state; lives on its own thread.
pub(crate) struct Scheduler {
    transport: Box<dyn WorkerTransport>,
    inbox: Receiver<Inbox>,
    slots: Vec<Slot>,
    budget: MemoryBudget,
    jobs: Vec<Job>,
    /// The job dispatch asks first next time (round robin).
    turn: usize,
    next_request: u64,
    /// Reorder window of a document whose pages go in runs, and of one whose pages go one
    /// at a time, in pages.
    window: (usize, usize),
    /// Each worker's memory limit, for messages.
    worker_memory: Option<u64>,
    shutting_down: bool,
    /// Counters the engine's owner reads.
    stats: std::sync::Arc<crate::stats::EngineStats>,
}

impl Scheduler {
    /// A scheduler over a started transport.
    pub(crate) fn new(
        transport: Box<dyn WorkerTransport>,
        inbox: Receiver<Inbox>,
        memory_budget: u64,
        worker_memory: Option<u64>,
    ) -> Self {
        let n = transport.slots();
        // Room for every request in flight, twice (a local worker: 4 pages; a batching
        // network transport: its whole pipeline).
        let in_flight = n * transport.pipeline().max(1);
        Scheduler {
            slots: (0..n).map(|_| Slot::default()).collect(),
            transport,
            inbox,
            budget: MemoryBudget::new(memory_budget),
            jobs: Vec::new(),
            turn: 0,
            next_request: 0,
            // With runs: room for every worker's run of a view's pages while the earliest
            // is still being read (results wait here: ~5 MB on R-refman's text pages).
            window: (
                (2 * n * pagemill_pdf::VIEW_PAGES as usize).max(2 * in_flight),
                (2 * in_flight).max(16),
            ),
            worker_memory,
            shutting_down: false,
            stats: Default::default(),
        }
    }

    /// The counters this scheduler keeps.
    pub(crate) fn stats(&self) -> std::sync::Arc<crate::stats::EngineStats> {
        std::sync::Arc::clone(&self.stats)
    }

    /// Runs until shut down (or until the engine is dropped) with no job left.
    pub(crate) fn run(mut self) {
        let mut last_tick = Instant::now() - TICK;
        loop {
            let timeout = if self.jobs.is_empty() {
                TICK * 4
            } else {
                Duration::from_millis(50)
            };
            match self.inbox.recv_timeout(timeout) {
                Ok(msg) => {
                    self.handle(msg);
                    // Take whatever else is ready before dispatching again.
                    while let Ok(msg) = self.inbox.try_recv() {
                        self.handle(msg);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => self.begin_shutdown(),
            }
            self.check_deadlines();
            self.check_stopping();
            if let Err(e) = self.recycle_idle() {
                self.fail_everything(&e.to_string());
            }
            self.dispatch();
            if last_tick.elapsed() >= TICK {
                self.tick();
                last_tick = Instant::now();
            }
            if self.shutting_down && self.jobs.is_empty() {
                return;
            }
        }
    }

    fn handle(&mut self, msg: Inbox) {
        match msg {
            Inbox::Worker(ev) => self.on_transport_event(ev),
            Inbox::Submit(job) => self.add_job(*job),
            Inbox::Cancel(id) => self.cancel(id),
            Inbox::Shutdown => self.begin_shutdown(),
        }
    }

    fn begin_shutdown(&mut self) {
        if !self.shutting_down {
            self.shutting_down = true;
            let ids: Vec<u64> = self.jobs.iter().map(|j| j.id).collect();
            for id in ids {
                self.cancel(id);
            }
        }
    }

    /// Samples memory and tells every job.
    fn tick(&mut self) {
        if self.jobs.is_empty() {
            return;
        }
        let rss = self.transport.tree_rss();
        let used = self.budget.used();
        let peak = self.budget.peak();
        for job in &mut self.jobs {
            job.summary.peak_rss = job.summary.peak_rss.max(rss);
            job.summary.budget_peak = peak;
            job.events.send(JobEvent::Memory {
                job: job.id,
                rss_bytes: rss,
                peak_rss_bytes: job.summary.peak_rss,
                budget_bytes: used,
                pages_done: job.pages_done,
            });
        }
    }

    /// Fills idle workers with the next tasks the budget and the reorder windows allow.
    /// The least busy worker asks first; one that gets nothing (its pages are held by
    /// others' runs, say) does not stop the others from asking.
    fn dispatch(&mut self) {
        let pipeline = self.transport.pipeline().max(1);
        loop {
            let mut ready: Vec<usize> = (0..self.slots.len())
                .filter(|&i| !self.slots[i].retiring && self.slots[i].in_flight.len() < pipeline)
                .collect();
            ready.sort_by_key(|&i| self.slots[i].in_flight.len());
            let mut sent = false;
            for slot in ready {
                let Some(mut flight) = self.next_task(slot) else {
                    continue;
                };
                self.next_request += 1;
                flight.req = self.next_request;
                let Some(req) = self.request_for(&flight) else {
                    self.release_flight(flight);
                    continue;
                };
                tracing::trace!(slot, job = flight.job, doc = flight.doc, kind = ?flight.kind, "dispatch");
                let s = &mut self.slots[slot];
                if s.in_flight.is_empty() {
                    s.head_since = Some(Instant::now());
                }
                s.in_flight.push_back(flight);
                // A failed send means the worker died; the transport reports it and the
                // flight is handled there like any other casualty.
                self.transport.send(slot, &req);
                sent = true;
                // Ask again from the least busy worker.
                break;
            }
            if !sent {
                return;
            }
        }
    }

    /// The request that carries out a flight.
    fn request_for(&self, f: &Flight) -> Option<Request> {
        let job = self.jobs.iter().find(|j| j.id == f.job)?;
        let doc = job.doc_ref(f.doc, f.reduced)?;
        Some(match f.kind {
            TaskKind::Open => Request::Open { id: f.req, doc },
            TaskKind::Page { index, .. } => Request::Page {
                id: f.req,
                doc,
                index,
            },
        })
    }

    /// The next task for `slot`, asking the jobs in turn.
    fn next_task(&mut self, slot: usize) -> Option<Flight> {
        let n = self.jobs.len();
        for k in 0..n {
            let j = (self.turn + k) % n;
            if let Some(f) = self.jobs[j].next_task(&mut self.budget, slot) {
                self.turn = (j + 1) % n;
                return Some(f);
            }
        }
        None
    }

    fn on_transport_event(&mut self, ev: TransportEvent) {
        match ev {
            TransportEvent::Message {
                slot,
                generation,
                response,
                bytes,
            } => {
                if slot >= self.slots.len() || generation != self.transport.generation(slot) {
                    return;
                }
                if let Response::Progress { id, done, total } = response {
                    self.on_progress(slot, id, done, total);
                    return;
                }
                let s = &mut self.slots[slot];
                let Some(pos) = s.in_flight.iter().position(|f| f.req == response.id()) else {
                    tracing::error!(slot, id = response.id(), "answer to no request");
                    return;
                };
                let Some(flight) = s.in_flight.remove(pos) else {
                    return;
                };
                if pos == 0 {
                    s.head_since = (!s.in_flight.is_empty()).then(Instant::now);
                }
                if matches!(flight.kind, TaskKind::Page { .. }) {
                    s.pages_done += 1;
                    if s.pages_done.is_multiple_of(faults::RSS_CHECK_EVERY) {
                        self.check_worker_memory(slot);
                    }
                }
                if self.transport.take_out_of_memory(slot)
                    && matches!(flight.kind, TaskKind::Page { .. })
                {
                    // The worker survived an allocation failure; its answer for this page
                    // cannot be trusted.
                    self.out_of_memory(flight, "survived an allocation failure");
                    return;
                }
                self.on_response(flight, response, bytes);
            }
            TransportEvent::Exited {
                slot,
                generation,
                error,
            } => {
                if let Err(e) = self.worker_ended(slot, generation, error) {
                    self.fail_everything(&e.to_string());
                }
            }
            TransportEvent::Lost {
                slot,
                generation,
                request,
                ended,
            } => self.request_lost(slot, generation, request, ended),
        }
    }

    /// Passes a worker's progress on a page to the page's job.
    fn on_progress(&mut self, slot: usize, req: u64, done: u32, total: u32) {
        let Some(f) = self.slots[slot].in_flight.iter().find(|f| f.req == req) else {
            return;
        };
        let (job, doc) = (f.job, f.doc);
        let TaskKind::Page { index, .. } = f.kind else {
            return;
        };
        if let Some(j) = self.jobs.iter_mut().find(|j| j.id == job) {
            j.events.send(JobEvent::PageProgress {
                job,
                doc,
                page: index + 1,
                done,
                total,
            });
        }
    }

    fn on_response(&mut self, f: Flight, response: Response, bytes: usize) {
        match (response, f.kind) {
            (Response::Opened { info, .. }, TaskKind::Open) => self.start_doc(f.job, f.doc, info),
            (Response::OpenFailed { kind, message, .. }, TaskKind::Open) => {
                self.finish_doc(f.job, f.doc, Some((kind, message)))
            }
            (
                Response::Page {
                    result, worker_ms, ..
                },
                TaskKind::Page { seq, .. },
            ) => {
                let mut permit = f.permit;
                if let Some(p) = permit.as_mut() {
                    // The result now holds about its wire size (not the estimate).
                    self.budget.resize(p, bytes as u64);
                }
                self.accept_page(f.job, f.doc, seq, *result, worker_ms, permit);
            }
            (other, kind) => {
                tracing::error!(?kind, "worker answered out of turn: {other:?}");
                if let Some(p) = f.permit {
                    self.budget.release(p);
                }
            }
        }
    }

    /// Gives a flight's memory back (it will not run).
    fn release_flight(&mut self, f: Flight) {
        if let Some(p) = f.permit {
            self.budget.release(p);
        }
    }

    /// The transport cannot start workers any more: every job ends with that error.
    fn fail_everything(&mut self, message: &str) {
        tracing::error!("{message}");
        let ids: Vec<u64> = self.jobs.iter().map(|j| j.id).collect();
        for id in ids {
            self.abort_job(id, Some(message));
        }
        self.shutting_down = true;
    }
}

//! What the scheduler does when a worker fails it: a crash (retried once on a fresh
//! worker), a page past its deadline (the worker killed), memory (an allocation failure:
//! retried at half the resolution), and workers recycled when they grow.

use std::time::{Duration, Instant};

use pagemill_core::model::FileErrorKind;
use pagemill_core::{FailureReason, PageFailure, PageOutcome, PageResult};

use super::documents::DocState;
use super::{Flight, Scheduler, Slot, TaskKind};
use crate::transport::TransportError;

/// Attempts per page before a worker crash counts as the page's failure.
pub(super) const ATTEMPTS: u8 = 2;
/// Extra time past the deadline before the parent kills a worker.
const KILL_GRACE: Duration = Duration::from_millis(500);
/// Pages a fresh worker converts before its memory is taken as its warm baseline.
const WARM_PAGES: u32 = 16;
/// A worker whose resident memory grows this fraction past its warm baseline is drained
/// and replaced: a safety net against slow leaks in native code, so no worker grows
/// without bound whatever the run's length. (PDFium's own growth with the page index is
/// handled where it arises, by page views in `pagemill_pdf`.)
const RECYCLE_GROWTH: f64 = 0.25;
/// How often (in pages) a worker's memory is checked.
pub(super) const RSS_CHECK_EVERY: u32 = 8;

impl Scheduler {
    /// A worker exited (crashed, was killed, ran out of memory): its pages in flight are
    /// retried, failed or requeued, and a fresh worker takes the slot.
    pub(super) fn worker_ended(
        &mut self,
        slot: usize,
        generation: u64,
        error: Option<String>,
    ) -> Result<(), TransportError> {
        if slot >= self.slots.len() || generation != self.transport.generation(slot) {
            return Ok(());
        }
        let ended = self.transport.replace(slot)?;
        self.stats.restarted();
        let (how, out_of_memory) = (ended.how, ended.out_of_memory);
        let how = match error {
            Some(e) => format!("{how} ({e})"),
            None => how,
        };
        let s = &mut self.slots[slot];
        // Killed by the parent past the deadline, or by the OS past the CPU time
        // the worker set itself for the page (SIGXCPU).
        let timed_out = std::mem::take(&mut s.killed_for_timeout)
            || ended.signal == Some(libc::SIGXCPU)
            || ended.timed_out;
        s.head_since = None;
        let flights: Vec<Flight> = s.in_flight.drain(..).collect();
        for (i, f) in flights.into_iter().enumerate() {
            if i > 0 {
                // Never started: requeue as it was.
                self.requeue(f);
                continue;
            }
            self.flight_ended(f, &how, out_of_memory, timed_out);
        }
        Ok(())
    }

    /// One request's remote worker ended while on it (the slot lives on): the request is
    /// handled as the head of a crashed local worker would be.
    pub(super) fn request_lost(
        &mut self,
        slot: usize,
        generation: u64,
        request: u64,
        ended: crate::transport::Ended,
    ) {
        if slot >= self.slots.len() || generation != self.transport.generation(slot) {
            return;
        }
        let s = &mut self.slots[slot];
        let Some(pos) = s.in_flight.iter().position(|f| f.req == request) else {
            return;
        };
        let Some(f) = s.in_flight.remove(pos) else {
            return;
        };
        if pos == 0 {
            s.head_since = (!s.in_flight.is_empty()).then(Instant::now);
        }
        self.stats.restarted();
        self.flight_ended(f, &ended.how, ended.out_of_memory, ended.timed_out);
    }

    /// The request a worker was on when it ended: failed for a deadline, retried at half
    /// the resolution after a memory failure, retried once after a crash.
    fn flight_ended(&mut self, mut f: Flight, how: &str, out_of_memory: bool, timed_out: bool) {
        if out_of_memory {
            return self.out_of_memory(f, how);
        }
        if timed_out {
            let secs = self.page_timeout(f.job).as_secs_f64();
            return self.fail(
                f,
                FailureReason::Timeout,
                format!("not finished after {secs:.1} s; the page was abandoned"),
            );
        }
        f.attempts += 1;
        if f.attempts >= ATTEMPTS {
            tracing::warn!(
                doc = f.doc,
                "worker {how}; giving up after {ATTEMPTS} attempts"
            );
            self.fail(
                f,
                FailureReason::Crash,
                format!(
                    "the worker process {how} while converting this page ({ATTEMPTS} attempts)"
                ),
            );
        } else {
            tracing::warn!(doc = f.doc, "worker {how}; retrying");
            self.requeue(f);
        }
    }

    /// A page whose worker ran out of memory: retried once at a lower resolution, then
    /// failed with `memory`.
    pub(super) fn out_of_memory(&mut self, mut f: Flight, how: &str) {
        if !f.reduced {
            tracing::warn!(
                doc = f.doc,
                "worker {how}: out of memory; retrying the page at half the resolution"
            );
            f.reduced = true;
            return self.requeue(f);
        }
        let limit = self
            .worker_memory
            .map_or("its".to_string(), |m| format!("the {} MiB", m >> 20));
        self.fail(
            f,
            FailureReason::Memory,
            format!(
                "the page needs more memory than {limit} a worker may use, even at half the \
                 resolution; raise the worker memory limit"
            ),
        );
    }

    pub(super) fn requeue(&mut self, f: Flight) {
        let doc = self
            .jobs
            .iter_mut()
            .find(|j| j.id == f.job)
            .and_then(|j| j.active.iter_mut().find(|d| d.id == f.doc));
        let Some(doc) = doc else {
            return self.release_flight(f);
        };
        match (&mut doc.state, &f.kind) {
            (DocState::Running(r), TaskKind::Page { .. }) => r.retry.push_back(f),
            (state, TaskKind::Open) => {
                *state = DocState::Queued {
                    attempts: f.attempts,
                }
            }
            _ => self.release_flight(f),
        }
    }

    /// Records a flight as failed for good.
    pub(super) fn fail(&mut self, f: Flight, reason: FailureReason, message: String) {
        match f.kind {
            TaskKind::Open => {
                let message = format!("cannot open: {message}");
                self.finish_doc(f.job, f.doc, Some((FileErrorKind::Unreadable, message)))
            }
            TaskKind::Page { seq, index } => {
                let outcome = PageOutcome::Failed(PageFailure {
                    index,
                    reason,
                    message,
                });
                let result = PageResult::bare(outcome);
                self.accept_page(f.job, f.doc, seq, result, 0, f.permit);
            }
        }
    }

    /// Marks a worker for recycling when its memory has grown past its warm baseline.
    pub(super) fn check_worker_memory(&mut self, slot: usize) {
        let Some(rss) = self.transport.worker_rss(slot) else {
            return;
        };
        let s = &mut self.slots[slot];
        match s.baseline_rss {
            None if s.pages_done >= WARM_PAGES => s.baseline_rss = Some(rss),
            Some(base) if rss as f64 > base as f64 * (1.0 + RECYCLE_GROWTH) => {
                tracing::debug!(slot, rss, base, pages = s.pages_done, "recycling worker");
                s.retiring = true;
            }
            _ => {}
        }
    }

    /// Replaces retiring workers once their last page is back.
    pub(super) fn recycle_idle(&mut self) -> Result<(), TransportError> {
        for slot in 0..self.slots.len() {
            if self.slots[slot].retiring && self.slots[slot].in_flight.is_empty() {
                self.transport.recycle(slot)?;
                self.stats.recycled();
                self.slots[slot] = Slot::default();
            }
        }
        Ok(())
    }

    /// Kills workers whose current page has overrun the deadline.
    pub(super) fn check_deadlines(&mut self) {
        if self.transport.keeps_deadlines() {
            return;
        }
        for slot in 0..self.slots.len() {
            let s = &self.slots[slot];
            if s.killed_for_timeout {
                continue;
            }
            let Some(head) = s.in_flight.front() else {
                continue;
            };
            let limit = self.page_timeout(head.job) + KILL_GRACE;
            let s = &mut self.slots[slot];
            if s.head_since.is_some_and(|t| t.elapsed() > limit) {
                tracing::warn!(slot, "page deadline overrun; killing worker");
                s.killed_for_timeout = true;
                self.transport.kill(slot);
            }
        }
    }
}

impl Scheduler {
    /// The page deadline of a job (the default for a job that is gone).
    fn page_timeout(&self, job: u64) -> Duration {
        self.jobs
            .iter()
            .find(|j| j.id == job)
            .map_or(Duration::from_secs(60), |j| j.spec.page_timeout)
    }
}

//! How requests reach workers and answers come back: the [`WorkerTransport`] trait.
//!
//! The scheduler talks to numbered worker *slots*. A transport sends a slot a [`Request`]
//! and reports what comes back — answers (matched by request id, not by order) and the end
//! of a worker — as [`TransportEvent`]s on the callback it was started with, so the
//! scheduler waits on one queue for answers, new jobs and its own deadlines. Each slot has
//! a generation number, so events of a replaced worker are recognisably stale.
//!
//! [`process::ProcessPool`] is the local implementation: one child process per slot. A
//! network transport (NATS) implements the same trait; the scheduler's tests use an
//! in-memory one.

pub mod process;

use std::sync::Arc;

use pagemill_core::protocol::{Request, Response};

/// What a worker slot reports.
#[derive(Debug)]
pub enum TransportEvent {
    /// An answer, and its size on the wire.
    Message {
        /// Worker slot.
        slot: usize,
        /// Generation of the slot's worker.
        generation: u64,
        /// The answer.
        response: Response,
        /// Bytes on the wire (an estimate of the memory the result holds).
        bytes: usize,
    },
    /// The worker's output ended: it exited, crashed or was killed.
    Exited {
        /// Worker slot.
        slot: usize,
        /// Generation of the slot's worker.
        generation: u64,
        /// Why the stream ended, if it ended with an error.
        error: Option<String>,
    },
    /// One request's worker ended while on it, but the slot lives on: a network transport
    /// whose remote worker crashed, overran its deadline or stopped answering. The
    /// scheduler treats the request as a local worker's crash would be treated (retried,
    /// failed, or retried at half the resolution after a memory failure).
    Lost {
        /// Worker slot the request was sent to.
        slot: usize,
        /// Generation of the slot when it was sent.
        generation: u64,
        /// The request's id.
        request: u64,
        /// How its worker ended.
        ended: Ended,
    },
}

/// Where a transport delivers its events; returns false once nobody listens any more.
pub type EventTx = Arc<dyn Fn(TransportEvent) -> bool + Send + Sync>;

/// How a worker ended.
#[derive(Debug, Clone)]
pub struct Ended {
    /// For a message: "was killed by signal 9", "exited with exit status: 1".
    pub how: String,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
    /// It showed an allocation failure before it ended.
    pub out_of_memory: bool,
    /// It was ended for overrunning the page deadline (by the transport's side, for a
    /// transport that keeps deadlines itself).
    pub timed_out: bool,
}

/// A worker could not be started.
#[derive(Debug, thiserror::Error)]
#[error("cannot start a worker ({what}): {source}")]
pub struct TransportError {
    /// What was being started.
    pub what: String,
    /// Why it failed.
    #[source]
    pub source: std::io::Error,
}

/// A fixed number of worker slots the scheduler sends requests to.
pub trait WorkerTransport: Send {
    /// Starts every slot's worker; events go to `events` from now on.
    fn start(&mut self, events: EventTx) -> Result<(), TransportError>;
    /// Number of slots.
    fn slots(&self) -> usize;
    /// Generation of a slot's current worker.
    fn generation(&self, slot: usize) -> u64;
    /// Sends a request. False when the worker is gone (its end is reported as an event).
    fn send(&mut self, slot: usize, req: &Request) -> bool;
    /// Ends a slot's worker now (deadline overrun); its end is reported as an event.
    fn kill(&mut self, slot: usize);
    /// Reaps a worker whose stream ended and starts a fresh one in its slot; says how the
    /// old one ended.
    fn replace(&mut self, slot: usize) -> Result<Ended, TransportError>;
    /// Replaces an idle worker with a fresh one (memory recycling).
    fn recycle(&mut self, slot: usize) -> Result<(), TransportError>;
    /// Whether the slot's worker has shown an allocation failure since the last call.
    fn take_out_of_memory(&self, slot: usize) -> bool;
    /// Resident bytes of one slot's worker, where the transport can tell.
    fn worker_rss(&self, slot: usize) -> Option<u64>;
    /// Resident bytes of this process and every local worker.
    fn tree_rss(&self) -> u64;
    /// Whether page deadlines are kept on the workers' side. The scheduler then does not
    /// kill a slot whose page overruns: with a work queue, the time a page waits for a
    /// free remote worker is not its working time, and the remote host ends the page
    /// (reported as [`TransportEvent::Lost`] with [`Ended::timed_out`]).
    fn keeps_deadlines(&self) -> bool {
        false
    }
    /// Requests the scheduler keeps in flight per slot. Two for local processes (one
    /// working, one waiting, so a worker never idles on IPC); more for a transport whose
    /// answers take longer to come back than a page takes to convert.
    fn pipeline(&self) -> usize {
        2
    }
    /// Whether a long document's cheap pages go to each slot in view-long runs (see the
    /// scheduler's `affinity`): right when a slot is one worker process, which then opens
    /// each 64-page view once. A transport whose slots are not processes, and which sends
    /// consecutive pages together itself (NATS batches), says no: runs over its many slots
    /// would put pages of many views in one batch, and each host would open a view for
    /// almost every page (2.6× the workers' CPU on R-refman's text outputs, measured).
    fn takes_pages_in_runs(&self) -> bool {
        true
    }
    /// Whether the workers run on this machine, so that what they need (OCR languages) can
    /// be checked here before a job starts. Remote hosts report what they lack per page.
    fn workers_are_local(&self) -> bool {
        true
    }
}

//! Counters of what an engine has done since it started, for a front end's metrics
//! (`pagemill serve` exports them on `/metrics`).

use std::sync::atomic::{AtomicU64, Ordering};

/// The engine's counters; read them through [`Engine::stats`](crate::Engine::stats).
#[derive(Debug, Default)]
pub struct EngineStats {
    worker_restarts: AtomicU64,
    workers_recycled: AtomicU64,
}

impl EngineStats {
    /// Workers that ended on their own (crashed, killed past a deadline or a memory
    /// limit) and were replaced.
    pub fn worker_restarts(&self) -> u64 {
        self.worker_restarts.load(Ordering::Relaxed)
    }

    /// Workers retired on purpose after growing past their limit and replaced.
    pub fn workers_recycled(&self) -> u64 {
        self.workers_recycled.load(Ordering::Relaxed)
    }

    pub(crate) fn restarted(&self) {
        self.worker_restarts.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn recycled(&self) {
        self.workers_recycled.fetch_add(1, Ordering::Relaxed);
    }
}

//! Live notification of new job events: the runner records events in the store, then
//! bumps the job's sequence number here; SSE streams wait on it and read the store.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::watch;

/// Per job, the last recorded event's sequence number, watched by its event streams.
#[derive(Default)]
pub struct Live {
    jobs: Mutex<HashMap<String, watch::Sender<u64>>>,
}

impl Live {
    /// Starts watching a job that is queued or running.
    pub fn open(&self, id: &str, seq: u64) {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.entry(id.to_string())
            .or_insert_with(|| watch::channel(seq).0);
    }

    /// A receiver for job `id`'s sequence numbers; `None` once the job is over (its
    /// stream then reads what is stored and ends).
    pub fn subscribe(&self, id: &str) -> Option<watch::Receiver<u64>> {
        let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.get(id).map(|s| s.subscribe())
    }

    /// Job `id` recorded events up to `seq`.
    pub fn notify(&self, id: &str, seq: u64) {
        let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = jobs.get(id) {
            s.send_replace(seq);
        }
    }

    /// Job `id` is over: its watchers see the sender go and finish from the store.
    pub fn close(&self, id: &str) {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.remove(id);
    }
}

//! The shared job ledger (`pagemill serve --nats`): the service's jobs, mirrored where
//! other services see them, so that when a service dies another one — on any machine —
//! takes its unfinished jobs up, and a service that comes back drops the jobs taken from
//! it rather than run them twice.
//!
//! The service's own SQLite store stays the truth for its API (events, page errors,
//! files); the ledger holds what another service needs to take a job up: the record
//! (owner, options, input names), its state and page counts, and the uploads until the
//! job ends. [`sync`] mirrors the store into the ledger every second, beats the service's
//! heartbeat, and every few seconds takes up orphans.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

use crate::data::DataDir;
use crate::live::Live;
use crate::runner::{now_ms, Runner};
use crate::store::{JobRecord, JobState, Store, StoreError};

/// Why the ledger could not be used.
#[derive(Debug, Error)]
pub enum LedgerError {
    /// Another service took the job up while this one was thought dead.
    #[error("job {id} is run by service {by} now")]
    Taken {
        /// The job.
        id: String,
        /// The service that has it.
        by: String,
    },
    /// The ledger is out of reach.
    #[error("the shared job ledger is out of reach: {0}")]
    Unavailable(String),
}

/// A job taken up from a dead service: its record (state and counters as they were) and
/// the service it came from. Its inputs are already in its input folder.
#[derive(Debug)]
pub struct Adopted {
    /// The job as the dead service left it.
    pub job: JobRecord,
    /// The dead service.
    pub from: String,
    /// Set when the job was claimed but its uploads could not be fetched.
    pub lost_inputs: Option<String>,
}

/// Where jobs are shared between services.
pub trait JobLedger: Send + Sync {
    /// Records a new job and keeps its input files (at `inputs`, in the record's order)
    /// where another service can fetch them.
    fn post(&self, job: &JobRecord, inputs: &[PathBuf]) -> Result<(), LedgerError>;
    /// Records a job's state and counters; an ended job's inputs are let go.
    fn update(&self, job: &JobRecord) -> Result<(), LedgerError>;
    /// Removes a job (deleted, or expired) and its inputs.
    fn forget(&self, job_id: &str, files: usize);
    /// Tells the other services this one is alive.
    fn heartbeat(&self) -> Result<(), LedgerError>;
    /// Takes up the open jobs of dead services that `known` does not hold, writing each
    /// one's inputs into `inputs(id)`.
    fn adopt(
        &self,
        known: &dyn Fn(&str) -> bool,
        inputs: &dyn Fn(&str) -> PathBuf,
    ) -> Result<Vec<Adopted>, LedgerError>;
}

/// Makes the ledger for the service named by its argument (stable across restarts of
/// one data directory); an error is one line for a person.
#[derive(Clone)]
pub struct LedgerFactory(
    #[allow(clippy::type_complexity)]
    pub  Arc<dyn Fn(&str) -> Result<Arc<dyn JobLedger>, String> + Send + Sync>,
);

impl std::fmt::Debug for LedgerFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LedgerFactory")
    }
}

/// How often the store is mirrored (and the heartbeat beats).
const EVERY: Duration = Duration::from_secs(1);

/// Orphans are looked for every this many mirror passes: listing the board reads every
/// posting, and a dead service's jobs waiting 5 s more is nothing beside its lease.
const ADOPT_EVERY: u64 = 5;

/// What a job's posting shows: a new value is mirrored.
type Shown = (JobState, u64, u64, u64);

fn shown(j: &JobRecord) -> Shown {
    (j.state, j.pages_total, j.pages_done, j.pages_failed)
}

/// What [`sync`] needs of the service.
pub(crate) struct Mirror {
    pub ledger: Arc<dyn JobLedger>,
    pub store: Arc<Store>,
    pub data: DataDir,
    pub live: Arc<Live>,
    pub runner: Runner,
}

#[derive(Default)]
struct MirrorState {
    shown: HashMap<String, Shown>,
    /// Jobs another service has now, to drop here once they are not running.
    taken: HashMap<String, usize>,
    since_ms: i64,
    passes: u64,
}

/// Before the runner starts: the jobs this service was running when it stopped that
/// another service took up meanwhile are dropped here; the others are posted anew.
pub(crate) fn reconcile(ledger: &dyn JobLedger, store: &Store, data: &DataDir) {
    let jobs = match store.active_or_ended_since(i64::MAX) {
        Ok(j) => j,
        Err(e) => return tracing::error!(error = %e, "cannot read the job store"),
    };
    for job in jobs {
        match ledger.update(&job) {
            Ok(()) => {}
            Err(LedgerError::Taken { by, .. }) => {
                tracing::info!(job = %job.id_short(), by = %by, "taken up by another service while this one was down; dropped here");
                let _ = store.delete(&job.id);
                let _ = data.remove_job(&job.id);
            }
            Err(e) => tracing::warn!(job = %job.id_short(), error = %e, "cannot mirror the job"),
        }
    }
}

/// Mirrors the store into the ledger, beats, and takes orphans up, until aborted.
pub(crate) async fn sync(m: Arc<Mirror>) {
    let state = Arc::new(std::sync::Mutex::new(MirrorState {
        since_ms: now_ms(),
        ..Default::default()
    }));
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let (m, state) = (Arc::clone(&m), Arc::clone(&state));
        let _ = tokio::task::spawn_blocking(move || {
            let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
            pass(&m, &mut st);
        })
        .await;
    }
}

fn pass(m: &Mirror, st: &mut MirrorState) {
    if let Err(e) = m.ledger.heartbeat() {
        // Without a heartbeat the others will take this service's jobs up: they are
        // dropped here when the ledger is back and says so.
        tracing::warn!(error = %e, "cannot beat on the shared job ledger");
        return;
    }
    if let Err(e) = mirror(m, st) {
        tracing::error!(error = %e, "cannot read the job store");
    }
    drop_taken(m, st);
    st.passes += 1;
    if st.passes.is_multiple_of(ADOPT_EVERY) {
        adopt(m);
    }
}

fn mirror(m: &Mirror, st: &mut MirrorState) -> Result<(), StoreError> {
    let now = now_ms();
    // Ends are looked back on a little further than the last pass: a job that ended
    // while the last pass read the store is seen once more.
    let jobs = m.store.active_or_ended_since(st.since_ms - 2_000)?;
    st.since_ms = now;
    let mut present = HashMap::with_capacity(jobs.len());
    for job in jobs {
        let now_shown = shown(&job);
        if st.shown.get(&job.id) != Some(&now_shown) && !st.taken.contains_key(&job.id) {
            match m.ledger.update(&job) {
                Ok(()) => {
                    present.insert(job.id.clone(), now_shown);
                    continue;
                }
                Err(LedgerError::Taken { by, .. }) => {
                    tracing::warn!(job = %job.id_short(), by = %by, "taken up by another service; stopping it here");
                    st.taken.insert(job.id.clone(), job.inputs.len());
                }
                Err(e) => {
                    tracing::warn!(job = %job.id_short(), error = %e, "cannot mirror the job")
                }
            }
        }
        if let Some(s) = st.shown.get(&job.id) {
            present.insert(job.id.clone(), *s);
        }
    }
    st.shown = present;
    Ok(())
}

/// Stops and removes the jobs another service has now (not forgetting them in the
/// ledger: they are the other service's).
fn drop_taken(m: &Mirror, st: &mut MirrorState) {
    let ids: Vec<String> = st.taken.keys().cloned().collect();
    for id in ids {
        let gone = match m.store.state_of(&id) {
            Ok(None) => true,
            Ok(Some(JobState::Queued)) => m.store.delete_if_queued(&id).unwrap_or(false),
            Ok(Some(JobState::Running)) => {
                m.runner.cancel(&id);
                false
            }
            // Ended (cancelled just now, or finished before the news came).
            Ok(Some(_)) => m.store.delete(&id).is_ok(),
            Err(_) => false,
        };
        if gone {
            m.live.close(&id);
            if let Err(e) = m.data.remove_job(&id) {
                tracing::warn!(job = %id, error = %e, "cannot remove a taken job's files");
            }
            st.taken.remove(&id);
        }
    }
}

fn adopt(m: &Mirror) {
    let known = match m.store.ids() {
        Ok(ids) => ids.into_iter().collect::<std::collections::HashSet<_>>(),
        Err(e) => return tracing::error!(error = %e, "cannot read the job store"),
    };
    let adopted = m
        .ledger
        .adopt(&|id| known.contains(id), &|id| m.data.inputs(id));
    let adopted = match adopted {
        Ok(a) => a,
        Err(e) => return tracing::warn!(error = %e, "cannot look for orphaned jobs"),
    };
    for a in adopted {
        let mut job = a.job;
        job.state = JobState::Queued;
        job.started_ms = None;
        job.finished_ms = None;
        job.pages_total = 0;
        job.pages_done = 0;
        job.pages_failed = 0;
        job.error = None;
        job.resume = false;
        if let Err(e) = m.store.insert(&job) {
            tracing::error!(job = %job.id_short(), error = %e, "cannot record a job taken up");
            continue;
        }
        if let Some(why) = a.lost_inputs {
            let message = format!("its files could not be fetched from the shared store: {why}");
            tracing::error!(job = %job.id_short(), from = %a.from, "{message}");
            let _ = m
                .store
                .finish(&job.id, JobState::Failed, Some(&message), now_ms());
            continue;
        }
        tracing::info!(job = %job.id_short(), from = %a.from, "took up a job whose service stopped");
        m.live.open(&job.id, 0);
        m.runner.poke();
    }
}

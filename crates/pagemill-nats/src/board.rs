//! The services' job board (`pagemill serve --nats`): each job's record in a JetStream
//! key-value bucket (which service runs it, its state and page counts), its uploads in an
//! object store until it ends, and a heartbeat per service. A service that dies has its
//! unfinished jobs taken up by another one, on any machine, that finds its heartbeat
//! stopped; a service that comes back finds which of its jobs were taken and drops them,
//! so no job runs twice to its end.
//!
//! Keys: `job.<id>` → [`Posting`] JSON, `server.<name>` → the service's last beat.
//! Every change to a posting is a compare-and-set on its revision, so two services never
//! both take a job up, and a service that was thought dead learns it lost the job.
//!
//! A service is thought dead when its heartbeat's revision has not moved for [`LEASE`] as
//! seen by the looking service's own monotonic clock: no two machines' clocks are
//! compared.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_nats::jetstream::kv::{self, Operation};
use async_nats::jetstream::object_store::ObjectStore;
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::connect::NatsOptions;
use crate::{store, streams, NatsError};

/// How often a service beats.
pub const HEARTBEAT: Duration = Duration::from_secs(1);

/// How long a service's heartbeat may stand still before its jobs are taken up: ten
/// beats, so a busy machine or a NATS server restart (a few seconds) is not a death.
pub const LEASE: Duration = Duration::from_secs(10);

/// How long postings and uploads stay when no service removes them (every service died):
/// a week, far beyond any queue's wait, as a floor under the bucket's own age limit.
const MIN_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// What the board holds of one job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Posting {
    /// The service running (or holding) the job.
    pub server: String,
    /// Whether the job is still to be done (queued or running).
    pub open: bool,
    /// The job's record, as the service keeps it.
    pub job: Value,
}

/// Why the board could not be used.
#[derive(Debug, thiserror::Error)]
pub enum BoardError {
    /// Another service took the job up while this one was thought dead.
    #[error("job {id} was taken up by service {by} while this service was thought dead")]
    Taken {
        /// The job.
        id: String,
        /// The service that runs it now.
        by: String,
    },
    /// Talking to NATS failed.
    #[error(transparent)]
    Nats(#[from] NatsError),
}

/// An open job whose service is dead, as found by [`JobBoard::orphans`].
#[derive(Debug, Clone)]
pub struct Orphan {
    /// The job's id.
    pub id: String,
    /// Its record.
    pub job: Value,
    /// The dead service.
    pub from: String,
    revision: u64,
}

/// One service's view of the board.
pub struct JobBoard {
    rt: tokio::runtime::Runtime,
    kv: kv::Store,
    uploads: ObjectStore,
    server: String,
    /// The revision of each posting this service last wrote.
    revisions: Mutex<HashMap<String, u64>>,
    /// Each service's heartbeat revision and when this service first saw it.
    beats: Mutex<HashMap<String, (u64, Instant)>>,
}

fn job_key(id: &str) -> String {
    format!("job.{id}")
}

fn upload_name(id: &str, index: usize) -> String {
    format!("{id}/{index}")
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl JobBoard {
    /// Connects as service `server` (a name stable across its restarts), creating the
    /// bucket and the object store when missing.
    pub fn connect(options: &NatsOptions, server: &str) -> Result<JobBoard, NatsError> {
        let rt = crate::runtime::new_runtime("board")?;
        let names = &options.names;
        let max_age = options.max_age.max(MIN_AGE);
        let (kv, uploads) = crate::runtime::block_on(&rt, async {
            let client = options.connect(&format!("pagemill serve {server}")).await?;
            let js = async_nats::jetstream::new(client);
            let kv = streams::key_value(&js, &names.jobs_bucket(), max_age).await?;
            let mut o = options.clone();
            o.max_age = max_age;
            let uploads = streams::bucket(&js, &names.uploads_bucket(), &o).await?;
            Ok::<_, NatsError>((kv, uploads))
        })?;
        Ok(JobBoard {
            rt,
            kv,
            uploads,
            server: server.to_string(),
            revisions: Mutex::new(HashMap::new()),
            beats: Mutex::new(HashMap::new()),
        })
    }

    /// This service's name.
    pub fn server(&self) -> &str {
        &self.server
    }

    fn block_on<F: std::future::Future + Send>(&self, fut: F) -> F::Output
    where
        F::Output: Send,
    {
        crate::runtime::block_on(&self.rt, fut)
    }

    /// Tells the others this service is alive.
    pub fn heartbeat(&self) -> Result<(), BoardError> {
        let key = format!("server.{}", self.server);
        self.block_on(self.kv.put(key, Vec::new().into()))
            .map_err(|e| NatsError::js("cannot beat on the job board", e))?;
        Ok(())
    }

    /// Posts a new job: its uploads first (so a posting never names files that are not
    /// there), then its record.
    pub fn post(&self, id: &str, job: Value, inputs: &[PathBuf]) -> Result<(), BoardError> {
        let posting = self.posting(job, true)?;
        let rev = self.block_on(async {
            for (i, path) in inputs.iter().enumerate() {
                store::put_path(&self.uploads, &upload_name(id, i), path).await?;
            }
            self.kv
                .create(job_key(id), posting)
                .await
                .map_err(|e| NatsError::js(format!("cannot post job {id}"), e))
        })?;
        lock(&self.revisions).insert(id.to_string(), rev);
        Ok(())
    }

    /// Records a job's new state. A closed job's uploads (`files` of them) are deleted.
    /// Fails with [`BoardError::Taken`] when another service runs the job now.
    pub fn update(&self, id: &str, job: Value, open: bool, files: usize) -> Result<(), BoardError> {
        let posting = self.posting(job, open)?;
        let key = job_key(id);
        let known = lock(&self.revisions).get(id).copied();
        let rev = self.block_on(async {
            if let Some(rev) = known {
                if let Ok(r) = self.kv.update(&key, posting.clone(), rev).await {
                    return Ok(r);
                }
            }
            // Not written by this process yet, or written since by someone else.
            let entry = self
                .kv
                .entry(key.clone())
                .await
                .map_err(|e| NatsError::js(format!("cannot read job {id}"), e))?;
            let put = match entry {
                Some(e) if e.operation == Operation::Put => {
                    let theirs: Posting = serde_json::from_slice(&e.value)
                        .map_err(|e| NatsError::js(format!("job {id} on the board"), e))?;
                    if theirs.server != self.server {
                        return Err(BoardError::Taken {
                            id: id.to_string(),
                            by: theirs.server,
                        });
                    }
                    self.kv
                        .update(&key, posting, e.revision)
                        .await
                        .map_err(|e| e.to_string())
                }
                // Forgotten meanwhile (deleted by its owner): post it again.
                Some(e) => self
                    .kv
                    .update(&key, posting, e.revision)
                    .await
                    .map_err(|e| e.to_string()),
                // Never posted (a job from before the board): post it now.
                None => self
                    .kv
                    .create(&key, posting)
                    .await
                    .map_err(|e| e.to_string()),
            };
            put.map_err(|e| BoardError::from(NatsError::js(format!("cannot update job {id}"), e)))
        })?;
        lock(&self.revisions).insert(id.to_string(), rev);
        if !open {
            self.delete_uploads(id, files);
        }
        Ok(())
    }

    /// Removes a job from the board, with its uploads (`files` of them).
    pub fn forget(&self, id: &str, files: usize) {
        if let Err(e) = self.block_on(self.kv.purge(job_key(id))) {
            tracing::warn!(job = id, "cannot remove the job from the board: {e}");
        }
        lock(&self.revisions).remove(id);
        self.delete_uploads(id, files);
    }

    fn delete_uploads(&self, id: &str, files: usize) {
        self.block_on(async {
            for i in 0..files {
                store::delete(&self.uploads, &upload_name(id, i)).await;
            }
        });
    }

    /// Open jobs of services that are dead (their heartbeat stood still for [`LEASE`]
    /// since this service first looked). A service sees no orphan in its first
    /// [`LEASE`].
    pub fn orphans(&self) -> Result<Vec<Orphan>, BoardError> {
        let postings = self.block_on(async {
            let keys: Vec<String> = self
                .kv
                .keys()
                .await
                .map_err(|e| NatsError::js("cannot list the job board", e))?
                .try_collect()
                .await
                .map_err(|e| NatsError::js("cannot list the job board", e))?;
            let mut beats = HashMap::new();
            let mut jobs = Vec::new();
            for key in keys {
                let Some(entry) = self
                    .kv
                    .entry(key.clone())
                    .await
                    .map_err(|e| NatsError::js("cannot read the job board", e))?
                else {
                    continue;
                };
                if entry.operation != Operation::Put {
                    continue;
                }
                if let Some(server) = key.strip_prefix("server.") {
                    beats.insert(server.to_string(), entry.revision);
                } else if let Some(id) = key.strip_prefix("job.") {
                    match serde_json::from_slice::<Posting>(&entry.value) {
                        Ok(p) => jobs.push((id.to_string(), p, entry.revision)),
                        Err(e) => tracing::warn!(job = id, "unreadable posting: {e}"),
                    }
                }
            }
            Ok::<_, NatsError>((beats, jobs))
        })?;
        let (beats, jobs) = postings;
        let now = Instant::now();
        let mut seen = lock(&self.beats);
        for (server, rev) in &beats {
            let e = seen.entry(server.clone()).or_insert((*rev, now));
            if e.0 != *rev {
                *e = (*rev, now);
            }
        }
        let mut orphans = Vec::new();
        for (id, p, revision) in jobs {
            if !p.open || p.server == self.server {
                continue;
            }
            // A service with no heartbeat at all is watched from now, like any other.
            let (_, since) = *seen.entry(p.server.clone()).or_insert((0, now));
            if now.duration_since(since) >= LEASE {
                orphans.push(Orphan {
                    id,
                    job: p.job,
                    from: p.server,
                    revision,
                });
            }
        }
        Ok(orphans)
    }

    /// Takes an orphan up: the posting is moved to this service (unless another service
    /// was quicker: `Ok(false)`), then its uploads are written to `inputs` (one path per
    /// upload, in order).
    pub fn claim(&self, orphan: &Orphan, inputs: &[PathBuf]) -> Result<bool, BoardError> {
        let posting = self.posting(orphan.job.clone(), true)?;
        let claimed = self.block_on(
            self.kv
                .update(job_key(&orphan.id), posting, orphan.revision),
        );
        let rev = match claimed {
            Ok(rev) => rev,
            Err(e) => {
                tracing::debug!(job = %orphan.id, "not taken up: {e}");
                return Ok(false);
            }
        };
        lock(&self.revisions).insert(orphan.id.clone(), rev);
        self.block_on(async {
            for (i, path) in inputs.iter().enumerate() {
                store::get_file(&self.uploads, &upload_name(&orphan.id, i), path).await?;
            }
            Ok::<_, NatsError>(())
        })?;
        Ok(true)
    }

    fn posting(&self, job: Value, open: bool) -> Result<bytes::Bytes, BoardError> {
        let p = Posting {
            server: self.server.clone(),
            open,
            job,
        };
        serde_json::to_vec(&p)
            .map(Into::into)
            .map_err(|e| NatsError::js("cannot encode a posting", e).into())
    }
}

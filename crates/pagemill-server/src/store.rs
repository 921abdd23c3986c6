//! The durable job store: one SQLite database under the data directory holding every job,
//! its progress counters, its page errors and its events (the SSE log, replayed from any
//! `Last-Event-ID`). A server that restarts finds its jobs here.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use utoipa::ToSchema;

/// A store failure.
#[derive(Debug, Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("job database: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for a place in the engine.
    Queued,
    /// Its pages are being converted.
    Running,
    /// Every page of every file converted.
    Succeeded,
    /// Done, but some pages or files failed.
    Partial,
    /// Nothing could be converted.
    Failed,
    /// Stopped by its owner.
    Cancelled,
}

impl JobState {
    /// The state's name, as stored and as the API shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Partial => "partial",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> JobState {
        match s {
            "queued" => JobState::Queued,
            "running" => JobState::Running,
            "succeeded" => JobState::Succeeded,
            "partial" => JobState::Partial,
            "cancelled" => JobState::Cancelled,
            _ => JobState::Failed,
        }
    }

    /// Whether the job is over.
    pub fn is_final(self) -> bool {
        !matches!(self, JobState::Queued | JobState::Running)
    }
}

/// One job as stored (and, under `serve --nats`, as posted to the shared job board).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// The job's id (random, URL-safe).
    pub id: String,
    /// The API key name that created it ("" without authentication).
    pub owner: String,
    /// Where it is.
    pub state: JobState,
    /// Milliseconds since the Unix epoch.
    pub created_ms: i64,
    /// When it started running.
    pub started_ms: Option<i64>,
    /// When it ended.
    pub finished_ms: Option<i64>,
    /// The job's options, as JSON (see `options.rs`).
    pub options: String,
    /// The uploaded files' names.
    pub inputs: Vec<String>,
    /// Pages selected across its files (known once files are opened).
    pub pages_total: u64,
    /// Pages converted.
    pub pages_done: u64,
    /// Pages failed.
    pub pages_failed: u64,
    /// Why the job failed as a whole, for a person.
    pub error: Option<String>,
    /// The job was interrupted by a server stop and continues from its checkpoint.
    pub resume: bool,
}

/// One page that failed.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PageErrorRecord {
    /// The input file's name.
    pub file: String,
    /// 1-based page number.
    pub page: u32,
    /// Why (`timeout`, `memory`, `crash`, `invalid`).
    pub reason: String,
    /// What went wrong, for a person.
    pub message: String,
}

/// Events of a job to append in one transaction, with what they add to its counters.
#[derive(Debug, Default)]
pub struct EventBatch {
    /// Each event's JSON.
    pub events: Vec<String>,
    /// Pages selected in files that started.
    pub add_total: u64,
    /// Pages converted.
    pub add_done: u64,
    /// Pages failed.
    pub add_failed: u64,
    /// The failed pages.
    pub errors: Vec<PageErrorRecord>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    state TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    started_ms INTEGER,
    finished_ms INTEGER,
    options TEXT NOT NULL,
    inputs TEXT NOT NULL,
    pages_total INTEGER NOT NULL DEFAULT 0,
    pages_done INTEGER NOT NULL DEFAULT 0,
    pages_failed INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    resume INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, created_ms);
CREATE INDEX IF NOT EXISTS jobs_by_owner ON jobs (owner, created_ms);
CREATE TABLE IF NOT EXISTS events (
    job TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (job, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS page_errors (
    job TEXT NOT NULL,
    file TEXT NOT NULL,
    page INTEGER NOT NULL,
    reason TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS page_errors_by_job ON page_errors (job);
";

const JOB_COLUMNS: &str = "id, owner, state, created_ms, started_ms, finished_ms, options, \
     inputs, pages_total, pages_done, pages_failed, error, resume";

/// The job database. Calls are short and synchronous; async callers run them on a
/// blocking thread.
pub struct Store {
    conn: Mutex<Connection>,
}

fn job_from_row(row: &Row<'_>) -> rusqlite::Result<JobRecord> {
    let inputs: String = row.get(7)?;
    Ok(JobRecord {
        id: row.get(0)?,
        owner: row.get(1)?,
        state: JobState::parse(&row.get::<_, String>(2)?),
        created_ms: row.get(3)?,
        started_ms: row.get(4)?,
        finished_ms: row.get(5)?,
        options: row.get(6)?,
        inputs: serde_json::from_str(&inputs).unwrap_or_default(),
        pages_total: row.get::<_, i64>(8)?.max(0) as u64,
        pages_done: row.get::<_, i64>(9)?.max(0) as u64,
        pages_failed: row.get::<_, i64>(10)?.max(0) as u64,
        error: row.get(11)?,
        resume: row.get::<_, i64>(12)? != 0,
    })
}

impl Store {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open(path)?;
        // Takes effect on a new database only (before WAL mode or a table writes its
        // header): deleted jobs' pages can then be given back to the file system (see
        // `compact`).
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
        // WAL: readers (status, SSE) never wait for the writer recording pages; NORMAL
        // sync is durable across a crash of the process (only an OS crash can lose the
        // last transactions, and a resumed job redoes those pages).
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (each call is one
        // statement or one transaction), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a new queued job.
    pub fn insert(&self, job: &JobRecord) -> Result<(), StoreError> {
        let inputs = serde_json::to_string(&job.inputs).unwrap_or_else(|_| "[]".into());
        self.conn().execute(
            "INSERT INTO jobs (id, owner, state, created_ms, options, inputs) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                job.id,
                job.owner,
                job.state.as_str(),
                job.created_ms,
                job.options,
                inputs
            ],
        )?;
        Ok(())
    }

    /// Jobs waiting to start.
    pub fn queued(&self) -> Result<usize, StoreError> {
        let n: i64 = self.conn().query_row(
            "SELECT COUNT(*) FROM jobs WHERE state = 'queued'",
            [],
            |r| r.get(0),
        )?;
        Ok(n.max(0) as usize)
    }

    /// Jobs in each state.
    pub fn counts(&self) -> Result<Vec<(JobState, u64)>, StoreError> {
        let conn = self.conn();
        let mut st = conn.prepare("SELECT state, COUNT(*) FROM jobs GROUP BY state")?;
        let rows = st.query_map([], |r| {
            Ok((
                JobState::parse(&r.get::<_, String>(0)?),
                r.get::<_, i64>(1)?.max(0) as u64,
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The oldest queued job, marked running (so no one else takes it).
    pub fn take_next(&self, now_ms: i64) -> Result<Option<JobRecord>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let job = tx
            .query_row(
                &format!(
                    "SELECT {JOB_COLUMNS} FROM jobs WHERE state = 'queued' \
                     ORDER BY created_ms, id LIMIT 1"
                ),
                [],
                job_from_row,
            )
            .optional()?;
        if let Some(j) = &job {
            tx.execute(
                "UPDATE jobs SET state = 'running', started_ms = COALESCE(started_ms, ?2) \
                 WHERE id = ?1",
                params![j.id, now_ms],
            )?;
        }
        tx.commit()?;
        Ok(job.map(|mut j| {
            j.state = JobState::Running;
            j.started_ms.get_or_insert(now_ms);
            j
        }))
    }

    /// A job, if it exists and belongs to `owner`.
    pub fn get(&self, id: &str, owner: &str) -> Result<Option<JobRecord>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1 AND owner = ?2"),
                params![id, owner],
                job_from_row,
            )
            .optional()?)
    }

    /// `owner`'s jobs, newest first: `limit` of them, after skipping `offset`.
    pub fn list(
        &self,
        owner: &str,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<JobRecord>, StoreError> {
        let conn = self.conn();
        let mut st = conn.prepare(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE owner = ?1 \
             ORDER BY created_ms DESC, id DESC LIMIT ?2 OFFSET ?3"
        ))?;
        let rows = st.query_map(params![owner, limit as i64, offset as i64], job_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Appends events and their counters in one transaction; returns the last event's
    /// sequence number (1-based; 0 if the job has none).
    pub fn append(&self, id: &str, batch: &EventBatch) -> Result<u64, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut seq: i64 = tx.query_row(
            "SELECT COALESCE(MAX(seq), 0) FROM events WHERE job = ?1",
            params![id],
            |r| r.get(0),
        )?;
        {
            let mut ins =
                tx.prepare_cached("INSERT INTO events (job, seq, data) VALUES (?1, ?2, ?3)")?;
            for e in &batch.events {
                seq += 1;
                ins.execute(params![id, seq, e])?;
            }
            let mut err = tx.prepare_cached(
                "INSERT INTO page_errors (job, file, page, reason, message) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for e in &batch.errors {
                err.execute(params![id, e.file, e.page, e.reason, e.message])?;
            }
        }
        if batch.add_total + batch.add_done + batch.add_failed > 0 {
            tx.execute(
                "UPDATE jobs SET pages_total = pages_total + ?2, pages_done = pages_done + ?3, \
                 pages_failed = pages_failed + ?4 WHERE id = ?1",
                params![
                    id,
                    batch.add_total as i64,
                    batch.add_done as i64,
                    batch.add_failed as i64
                ],
            )?;
        }
        tx.commit()?;
        Ok(seq.max(0) as u64)
    }

    /// Up to `limit` events after `after`, in order, as `(seq, json)`.
    pub fn events_after(
        &self,
        id: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, String)>, StoreError> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(
            "SELECT seq, data FROM events WHERE job = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        )?;
        let rows = st.query_map(params![id, after as i64, limit as i64], |r| {
            Ok((r.get::<_, i64>(0)?.max(0) as u64, r.get::<_, String>(1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The pages that failed, in the order they were recorded.
    pub fn page_errors(&self, id: &str) -> Result<Vec<PageErrorRecord>, StoreError> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(
            "SELECT file, page, reason, message FROM page_errors WHERE job = ?1 ORDER BY rowid",
        )?;
        let rows = st.query_map(params![id], |r| {
            Ok(PageErrorRecord {
                file: r.get(0)?,
                page: r.get(1)?,
                reason: r.get(2)?,
                message: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Ends a job.
    pub fn finish(
        &self,
        id: &str,
        state: JobState,
        error: Option<&str>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE jobs SET state = ?2, error = ?3, finished_ms = ?4, resume = 0 WHERE id = ?1",
            params![id, state.as_str(), error, now_ms],
        )?;
        Ok(())
    }

    /// Forgets a job and everything recorded of it.
    pub fn delete(&self, id: &str) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM events WHERE job = ?1", params![id])?;
        tx.execute("DELETE FROM page_errors WHERE job = ?1", params![id])?;
        tx.execute("DELETE FROM jobs WHERE id = ?1", params![id])?;
        tx.commit()?;
        Ok(())
    }

    /// Finished jobs that ended before `before_ms`.
    pub fn expired(&self, before_ms: i64) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT id FROM jobs WHERE finished_ms IS NOT NULL AND finished_ms < ?1 \
             AND state NOT IN ('queued', 'running')",
        )?;
        let rows = st.query_map(params![before_ms], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// After a restart: jobs that were running go back to the queue, to continue from
    /// their checkpoints; their counters restart (the resumed run reports every page
    /// again). Returns how many.
    pub fn requeue_running(&self) -> Result<usize, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let n = tx.execute(
            "UPDATE jobs SET state = 'queued', resume = 1, pages_total = 0, pages_done = 0, \
             pages_failed = 0 WHERE state = 'running'",
            [],
        )?;
        tx.execute(
            "DELETE FROM page_errors WHERE job IN (SELECT id FROM jobs WHERE resume = 1)",
            [],
        )?;
        tx.commit()?;
        Ok(n)
    }

    /// Deletes job `id` if it is still queued (not taken by the runner meanwhile);
    /// returns whether it did.
    pub fn delete_if_queued(&self, id: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let n = tx.execute(
            "DELETE FROM jobs WHERE id = ?1 AND state = 'queued'",
            params![id],
        )?;
        if n > 0 {
            tx.execute("DELETE FROM events WHERE job = ?1", params![id])?;
        }
        tx.commit()?;
        Ok(n > 0)
    }

    /// Jobs queued or running.
    pub fn unfinished(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        let mut st = conn.prepare("SELECT id FROM jobs WHERE state IN ('queued', 'running')")?;
        let rows = st.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Gives the pages of deleted rows back to the file system and empties the WAL, so
    /// the database shrinks as jobs expire (a service is flat in the number of requests).
    pub fn compact(&self) -> Result<(), StoreError> {
        let conn = self.conn();
        // The pragma frees one page per step: step it to the end.
        let mut vacuum = conn.prepare("PRAGMA incremental_vacuum")?;
        let mut rows = vacuum.query([])?;
        while rows.next()?.is_some() {}
        drop(rows);
        drop(vacuum);
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Jobs queued or running, and jobs that ended at `since_ms` or later: what a mirror
    /// of the store polled every so often has to look at.
    pub fn active_or_ended_since(&self, since_ms: i64) -> Result<Vec<JobRecord>, StoreError> {
        let conn = self.conn();
        let mut st = conn.prepare(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE state IN ('queued', 'running') \
             OR finished_ms >= ?1"
        ))?;
        let rows = st.query_map(params![since_ms], job_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A job's state, whoever owns it; `None` if there is no such job.
    pub fn state_of(&self, id: &str) -> Result<Option<JobState>, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT state FROM jobs WHERE id = ?1", params![id], |r| {
                r.get::<_, String>(0)
            })
            .optional()?
            .map(|s| JobState::parse(&s)))
    }

    /// Every job id, for reconciling the data directory with the database.
    pub fn ids(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        let mut st = conn.prepare("SELECT id FROM jobs")?;
        let rows = st.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: &str, owner: &str, created_ms: i64) -> JobRecord {
        JobRecord {
            id: id.into(),
            owner: owner.into(),
            state: JobState::Queued,
            created_ms,
            started_ms: None,
            finished_ms: None,
            options: "{}".into(),
            inputs: vec!["a.pdf".into()],
            pages_total: 0,
            pages_done: 0,
            pages_failed: 0,
            error: None,
            resume: false,
        }
    }

    #[test]
    fn jobs_start_oldest_first_and_belong_to_their_owner() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("db")).unwrap();
        s.insert(&job("b", "k1", 2)).unwrap();
        s.insert(&job("a", "k2", 1)).unwrap();
        assert_eq!(s.queued().unwrap(), 2);
        let first = s.take_next(10).unwrap().unwrap();
        assert_eq!((first.id.as_str(), first.state), ("a", JobState::Running));
        assert_eq!(s.queued().unwrap(), 1);
        assert!(
            s.get("a", "k1").unwrap().is_none(),
            "another owner's job is hidden"
        );
        assert_eq!(s.get("a", "k2").unwrap().unwrap().started_ms, Some(10));
        assert_eq!(s.list("k1", 10, 0).unwrap().len(), 1);
    }

    #[test]
    fn events_append_in_order_with_their_counters() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("db")).unwrap();
        s.insert(&job("j", "", 1)).unwrap();
        let batch = EventBatch {
            events: vec!["{\"n\":1}".into(), "{\"n\":2}".into()],
            add_total: 3,
            add_done: 1,
            add_failed: 1,
            errors: vec![PageErrorRecord {
                file: "a.pdf".into(),
                page: 2,
                reason: "timeout".into(),
                message: "slow".into(),
            }],
        };
        assert_eq!(s.append("j", &batch).unwrap(), 2);
        assert_eq!(
            s.append(
                "j",
                &EventBatch {
                    events: vec!["{}".into()],
                    ..Default::default()
                }
            )
            .unwrap(),
            3
        );
        let after1: Vec<u64> = s
            .events_after("j", 1, 10)
            .unwrap()
            .iter()
            .map(|e| e.0)
            .collect();
        assert_eq!(after1, vec![2, 3]);
        let j = s.get("j", "").unwrap().unwrap();
        assert_eq!((j.pages_total, j.pages_done, j.pages_failed), (3, 1, 1));
        assert_eq!(s.page_errors("j").unwrap()[0].page, 2);
        s.finish("j", JobState::Partial, None, 50).unwrap();
        assert_eq!(s.expired(51).unwrap(), vec!["j".to_string()]);
        assert!(s.expired(50).unwrap().is_empty());
        s.delete("j").unwrap();
        assert!(s.get("j", "").unwrap().is_none());
        assert!(s.events_after("j", 0, 10).unwrap().is_empty());
    }

    #[test]
    fn the_database_shrinks_when_jobs_are_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let s = Store::open(&path).unwrap();
        let size = || {
            let wal = dir.path().join("db-wal");
            std::fs::metadata(&path).unwrap().len() + std::fs::metadata(wal).map_or(0, |m| m.len())
        };
        s.compact().unwrap();
        let empty = size();
        for j in 0..50 {
            let id = format!("j{j}");
            s.insert(&job(&id, "", j)).unwrap();
            let events = (0..100)
                .map(|i| format!("{{\"page\":{i},\"pad\":\"{}\"}}", "x".repeat(200)))
                .collect();
            s.append(
                &id,
                &EventBatch {
                    events,
                    ..Default::default()
                },
            )
            .unwrap();
        }
        let full = size();
        assert!(full > empty + 500_000, "{empty} → {full}");
        for j in 0..50 {
            s.delete(&format!("j{j}")).unwrap();
        }
        s.compact().unwrap();
        assert!(size() < empty + 100_000, "{empty} → {full} → {}", size());
    }

    #[test]
    fn running_jobs_are_requeued_for_resume_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        {
            let s = Store::open(&path).unwrap();
            s.insert(&job("r", "", 1)).unwrap();
            s.take_next(5).unwrap();
        }
        let s = Store::open(&path).unwrap();
        assert_eq!(s.requeue_running().unwrap(), 1);
        let j = s.take_next(9).unwrap().unwrap();
        assert!(j.resume);
        assert_eq!(j.started_ms, Some(5), "the first start is kept");
    }

    #[test]
    fn the_mirror_sees_active_jobs_and_recent_ends_only() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("db")).unwrap();
        for (id, t) in [("old", 1), ("new", 2), ("queued", 3)] {
            s.insert(&job(id, "k", t)).unwrap();
        }
        s.finish("old", JobState::Succeeded, None, 100).unwrap();
        s.finish("new", JobState::Failed, None, 200).unwrap();
        let mut ids: Vec<_> = s
            .active_or_ended_since(150)
            .unwrap()
            .into_iter()
            .map(|j| j.id)
            .collect();
        ids.sort();
        assert_eq!(ids, ["new", "queued"]);
        assert_eq!(s.state_of("new").unwrap(), Some(JobState::Failed));
        assert_eq!(s.state_of("nope").unwrap(), None);
    }
}

//! The shapes the API answers with (also its OpenAPI schemas).

use serde::Serialize;
use utoipa::ToSchema;

use crate::runner::now_ms;
use crate::store::{JobRecord, JobState, PageErrorRecord};

/// Links of a job.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobUrls {
    /// The job's status.
    #[serde(rename = "self")]
    pub this: String,
    /// Its events (SSE).
    pub events: String,
    /// Its outputs.
    pub files: String,
    /// Its outputs as one zip.
    pub archive: String,
}

impl JobUrls {
    /// The links of job `id`.
    pub fn of(id: &str) -> Self {
        JobUrls {
            this: format!("/v1/jobs/{id}"),
            events: format!("/v1/jobs/{id}/events"),
            files: format!("/v1/jobs/{id}/files"),
            archive: format!("/v1/jobs/{id}/archive"),
        }
    }
}

/// The answer to an upload (202).
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// The job's id.
    pub id: String,
    /// `queued`.
    pub state: JobState,
    /// The files received, by their safe names.
    pub files: Vec<String>,
    /// Where to follow it.
    pub urls: JobUrls,
}

impl Accepted {
    /// The answer for a job just queued.
    pub fn of(job: JobRecord) -> Self {
        Accepted {
            urls: JobUrls::of(&job.id),
            id: job.id,
            state: job.state,
            files: job.inputs,
        }
    }
}

/// Page counts of a job.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageCounts {
    /// Pages selected across its files (known as files open).
    pub total: u64,
    /// Pages converted.
    pub done: u64,
    /// Pages failed.
    pub failed: u64,
}

/// A job.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    /// The job's id.
    pub id: String,
    /// Where it is.
    pub state: JobState,
    /// Its files.
    pub files: Vec<String>,
    /// When it was created (ms since the Unix epoch).
    pub created_ms: i64,
    /// When it started running.
    pub started_ms: Option<i64>,
    /// When it ended.
    pub finished_ms: Option<i64>,
    /// Its pages.
    pub pages: PageCounts,
    /// Pages written a second while it ran.
    pub pages_per_second: f64,
    /// Why it failed as a whole.
    pub error: Option<String>,
    /// Pages that failed (the job's own page only, not the list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<PageErrorRecord>>,
    /// Links.
    pub urls: JobUrls,
}

impl JobView {
    /// The view of `job`, with its page errors when given.
    pub fn of(job: &JobRecord, errors: Option<Vec<PageErrorRecord>>) -> Self {
        let written = job.pages_done + job.pages_failed;
        let end = job.finished_ms.unwrap_or_else(now_ms);
        let rate = match job.started_ms {
            Some(s) if end > s => written as f64 * 1000.0 / (end - s) as f64,
            _ => 0.0,
        };
        JobView {
            id: job.id.clone(),
            state: job.state,
            files: job.inputs.clone(),
            created_ms: job.created_ms,
            started_ms: job.started_ms,
            finished_ms: job.finished_ms,
            pages: PageCounts {
                total: job.pages_total,
                done: job.pages_done,
                failed: job.pages_failed,
            },
            pages_per_second: (rate * 100.0).round() / 100.0,
            error: job.error.clone(),
            errors,
            urls: JobUrls::of(&job.id),
        }
    }
}

/// A page of jobs, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobList {
    /// The jobs.
    pub jobs: Vec<JobView>,
    /// The `offset` of the next page, if there may be one.
    pub next_offset: Option<usize>,
}

/// One output file.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileEntry {
    /// Its name, relative to the job's outputs.
    pub name: String,
    /// Bytes.
    pub size: u64,
    /// Where to get it.
    pub url: String,
}

/// A job's outputs.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileList {
    /// The files, by name.
    pub files: Vec<FileEntry>,
}

/// Readiness.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// The engine's workers are up.
    pub engine: bool,
    /// Free bytes on the data directory's disk.
    pub free_disk_bytes: Option<u64>,
    /// Above the floor.
    pub disk_ok: bool,
}

/// An error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// A stable kind: `bad_request`, `unauthorized`, `not_found`, `too_large`,
    /// `queue_full`, `disk_full`, `busy`, `internal`; for extraction jobs `no_llm`
    /// (no endpoint configured) and `llm_endpoint_fixed` (a job named its own).
    pub error: String,
    /// What went wrong and what to do.
    pub message: String,
}

//! `/v1/jobs`: create (upload), list, show and delete jobs.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;

use crate::api::{Accepted, ErrorBody, JobList, JobView};
use crate::error::ApiError;
use crate::options::JobOptions;
use crate::runner::now_ms;
use crate::store::{JobRecord, JobState};
use crate::upload::{self, Received};
use crate::{db, App, Owner};
use axum::Extension;

/// What a multipart body may carry beyond its files' bytes (boundaries, part headers,
/// option fields: an extraction's prompt, schema and sections among them) before its
/// `Content-Length` alone gets a 413.
const MULTIPART_SLACK: u64 = 4 * crate::upload::MAX_TEXT_OPTION_BYTES as u64;

/// How long a `DELETE` waits for a running job to stop before giving up with 503.
const CANCEL_WAIT: Duration = Duration::from_secs(30);

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// `POST /v1/jobs`: multipart (`file` fields and option fields) or a raw body named by
/// `?filename=`; options may also be query parameters. 202 with the job's id and links.
#[utoipa::path(
    post,
    path = "/v1/jobs",
    tag = "jobs",
    params(
        ("filename" = Option<String>, Query, description = "The document's name, for a raw body"),
        ("pages" = Option<String>, Query, description = "Pages, 1-based ranges: `1-10,20`"),
        ("ocr" = Option<String>, Query, description = "`auto`, `always` or `never`"),
        ("lang" = Option<String>, Query, description = "Tesseract languages: `eng+deu`"),
        ("formats" = Option<String>, Query, description = "Outputs: `md,json,det,layouts,images,hocr,searchable`"),
    ),
    request_body(
        description = "multipart/form-data with `file` fields (one or more) and option fields named like the query parameters (also `searchable`, `hocr`, `layout_pdf`, `table_format`, `ocr_dpi`, `layout_dpi`, `figure_dpi`, `page_timeout`; text removal: `erase`, `passes`, `min_confidence`, `upscale_output`; upscaling: `upscale` (2-4), `upscale_model` (compact, x4plus, lanczos), `max_output_pixels`); or the document itself as the body. With a `prompt` field (and optionally `schema`, `sections`, `section_timeout`, `retries`, `corrections`, `max_section_tokens`) the job is an extraction, as `pagemill extract`: each section goes to the server's LLM endpoint, section events (`section_sent`, `section_retried`, `section_answered`, `section_failed`, `section_skipped`) join the job's events, and `NAME/NAME.sections.jsonl` with `NAME/NAME.sections/ID.md` are its results",
        content_type = "multipart/form-data",
    ),
    responses(
        (status = 202, description = "Queued", body = Accepted),
        (status = 400, description = "Unknown option, bad value or no file", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 413, description = "Larger than the upload limit", body = ErrorBody),
        (status = 429, description = "The queue is full (see Retry-After)", body = ErrorBody),
        (status = 503, description = "The shared job ledger (`serve --nats`) is out of reach", body = ErrorBody),
        (status = 507, description = "The server is short of disk", body = ErrorBody),
    )
)]
pub async fn create(
    State(app): State<App>,
    Extension(owner): Extension<Owner>,
    Query(query): Query<HashMap<String, String>>,
    req: Request,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let job = receive(&app, &owner, query, req, |_| {}).await?;
    Ok((StatusCode::ACCEPTED, Json(Accepted::of(job))))
}

/// Receives an upload and queues its job: the limits first (size from `Content-Length`,
/// queue, disk), then options, then the body, streamed. `adjust` sets what the route
/// decides over the client's options (Markdown for `/v1/convert`, the index for
/// `/v1/indexes/…`).
pub(crate) async fn receive(
    app: &App,
    owner: &Owner,
    query: HashMap<String, String>,
    req: Request,
    adjust: impl FnOnce(&mut JobOptions) + Send,
) -> Result<JobRecord, ApiError> {
    let limit = app.config.max_upload_size;
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    // Refused before a byte of the body is read.
    if let Some(len) = content_length(req.headers()) {
        let allowed = if multipart {
            limit + MULTIPART_SLACK
        } else {
            limit
        };
        if len > allowed {
            return Err(ApiError::too_large(limit));
        }
    }
    let queued = db(app, |s| s.queued()).await?;
    if queued >= app.config.max_queued_jobs {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "queue_full",
            format!("{queued} jobs are waiting; try again later"),
        );
        e.retry_after = Some(10);
        return Err(e);
    }
    let data = app.data.clone();
    let free = tokio::task::spawn_blocking(move || data.free_bytes())
        .await
        .ok()
        .flatten();
    if free.is_some_and(|f| {
        f < app
            .config
            .min_free_disk
            .saturating_add(limit.min(content_length(req.headers()).unwrap_or(limit)))
    }) {
        return Err(ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "disk_full",
            "the server is short of disk space; try again later",
        ));
    }
    let mut options = JobOptions::default();
    let mut filename = None;
    for (k, v) in &query {
        match k.as_str() {
            "filename" => filename = Some(v.clone()),
            _ => options
                .set(k, v)
                .map_err(|e| ApiError::bad_request(e.to_string()))?,
        }
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    let staging = app.data.staging(&id);
    let received = if multipart {
        let mp = axum::extract::Multipart::from_request(req, &())
            .await
            .map_err(|e| ApiError::bad_request(e.body_text()))?;
        upload::multipart(mp, &staging, limit, options).await
    } else {
        let name = filename.as_deref().unwrap_or("upload");
        upload::raw(req.into_body(), name, &staging, limit, options).await
    };
    let mut received = match received {
        Ok(r) => r,
        Err(e) => {
            let _ = tokio::fs::remove_dir_all(&staging).await;
            return Err(e);
        }
    };
    adjust(&mut received.options);
    if let Err(e) = check_options(app, &received.options) {
        let _ = tokio::fs::remove_dir_all(&staging).await;
        return Err(e);
    }
    let job = accept(app, owner, &id, received).await;
    if job.is_err() {
        let _ = tokio::fs::remove_dir_all(&staging).await;
        let _ = app.data.remove_job(&id);
    }
    job
}

/// The options as a whole, and an extraction against the server's LLM settings.
fn check_options(app: &App, options: &JobOptions) -> Result<(), ApiError> {
    options
        .check()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let Some(x) = &options.extract else {
        return Ok(());
    };
    let Some(llm) = &app.config.llm else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "no_llm",
            "this server has no LLM endpoint configured for extraction; ask its operator",
        ));
    };
    if (x.llm_url.is_some() || x.model.is_some()) && !llm.allow_client_endpoint {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "llm_endpoint_fixed",
            "this server sends extractions to its own LLM endpoint; leave out llm_url and model",
        ));
    }
    Ok(())
}

/// Moves a whole upload into its job folder and queues the job.
async fn accept(
    app: &App,
    owner: &Owner,
    id: &str,
    received: Received,
) -> Result<JobRecord, ApiError> {
    tokio::fs::create_dir_all(app.data.job(id)).await?;
    tokio::fs::rename(app.data.staging(id), app.data.inputs(id)).await?;
    let job = JobRecord {
        id: id.to_string(),
        owner: owner.0.clone(),
        state: JobState::Queued,
        created_ms: now_ms(),
        started_ms: None,
        finished_ms: None,
        options: serde_json::to_string(&received.options).map_err(ApiError::internal)?,
        inputs: received.files,
        pages_total: 0,
        pages_done: 0,
        pages_failed: 0,
        error: None,
        resume: false,
    };
    if let Some(ledger) = &app.ledger {
        // Posted before it is queued here: a job this service runs is always one another
        // service could take up.
        let (l, j) = (std::sync::Arc::clone(ledger), job.clone());
        let paths: Vec<_> = job
            .inputs
            .iter()
            .map(|n| app.data.inputs(id).join(n))
            .collect();
        tokio::task::spawn_blocking(move || l.post(&j, &paths))
            .await
            .map_err(ApiError::internal)?
            .map_err(|e| {
                let mut e = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ledger_unavailable",
                    format!("{e}; try again later"),
                );
                e.retry_after = Some(10);
                e
            })?;
    }
    let stored = job.clone();
    db(app, move |s| s.insert(&stored)).await?;
    app.live.open(id, 0);
    crate::metrics::uploaded(received.bytes);
    app.runner.poke();
    tracing::info!(job = %job.id_short(), files = job.inputs.len(), bytes = received.bytes, "job queued");
    Ok(job)
}

/// The caller's job `id`, or 404 (also for another key's job: its existence is not told).
pub(crate) async fn find(app: &App, owner: &Owner, id: &str) -> Result<JobRecord, ApiError> {
    let (id, owner) = (id.to_string(), owner.0.clone());
    db(app, move |s| s.get(&id, &owner))
        .await?
        .ok_or_else(|| ApiError::not_found("job"))
}

/// The caller's job named by the path's `{id}`, as an extractor: 404 when there is no
/// such job or it is another key's.
pub struct CallerJob(pub JobRecord);

impl axum::extract::FromRequestParts<App> for CallerJob {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        app: &App,
    ) -> Result<Self, ApiError> {
        // The key middleware sets the owner on every `/v1` request; none means no keys.
        let owner = parts
            .extensions
            .get::<Owner>()
            .cloned()
            .unwrap_or(Owner(String::new()));
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, app)
            .await
            .map_err(|_| ApiError::not_found("job"))?;
        let id = params.get("id").ok_or_else(|| ApiError::not_found("job"))?;
        find(app, &owner, id).await.map(CallerJob)
    }
}

/// `GET /v1/jobs/{id}`: state, page counts, pages/s, page errors.
#[utoipa::path(
    get,
    path = "/v1/jobs/{id}",
    tag = "jobs",
    params(("id" = String, Path, description = "The job's id")),
    responses(
        (status = 200, description = "The job", body = JobView),
        (status = 404, description = "No such job (or another key's)", body = ErrorBody),
    )
)]
pub async fn show(
    State(app): State<App>,
    CallerJob(job): CallerJob,
) -> Result<Json<JobView>, ApiError> {
    let id = job.id.clone();
    let errors = db(&app, move |s| s.page_errors(&id)).await?;
    Ok(Json(JobView::of(&job, Some(errors))))
}

/// `GET /v1/jobs?limit=&offset=`: the caller's jobs, newest first.
#[utoipa::path(
    get,
    path = "/v1/jobs",
    tag = "jobs",
    params(
        ("limit" = Option<usize>, Query, description = "Jobs per page (1–500, default 50)"),
        ("offset" = Option<usize>, Query, description = "Jobs to skip"),
    ),
    responses((status = 200, description = "The caller's jobs", body = JobList))
)]
pub async fn list(
    State(app): State<App>,
    Extension(owner): Extension<Owner>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<JobList>, ApiError> {
    let number = |k: &str, default: usize| -> Result<usize, ApiError> {
        match query.get(k) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| ApiError::bad_request(format!("`{k}` must be a number"))),
        }
    };
    let limit = number("limit", 50)?.clamp(1, 500);
    let offset = number("offset", 0)?;
    let jobs = db(&app, move |s| s.list(&owner.0, limit, offset)).await?;
    let next = (jobs.len() == limit).then_some(offset + limit);
    let jobs = jobs.iter().map(|j| JobView::of(j, None)).collect();
    Ok(Json(JobList {
        jobs,
        next_offset: next,
    }))
}

/// `DELETE /v1/jobs/{id}`: cancels the job if it runs, then removes it and its files.
#[utoipa::path(
    delete,
    path = "/v1/jobs/{id}",
    tag = "jobs",
    params(("id" = String, Path, description = "The job's id")),
    responses(
        (status = 204, description = "Cancelled (if it ran) and removed"),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 503, description = "Still stopping; try again", body = ErrorBody),
    )
)]
pub async fn delete(
    State(app): State<App>,
    Extension(owner): Extension<Owner>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let deadline = tokio::time::Instant::now() + CANCEL_WAIT;
    let mut files;
    loop {
        let job = find(&app, &owner, &id).await?;
        files = job.inputs.len();
        match job.state {
            JobState::Queued => {
                let i = id.clone();
                if db(&app, move |s| s.delete_if_queued(&i)).await? {
                    break;
                }
                // Taken by the runner meanwhile: cancel it as a running job.
            }
            JobState::Running => {
                app.runner.cancel(&id);
            }
            _ => {
                let i = id.clone();
                db(&app, move |s| s.delete(&i)).await?;
                break;
            }
        }
        if tokio::time::Instant::now() > deadline {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "the job is still stopping; try again",
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.live.close(&id);
    let data = app.data.clone();
    let ledger = app.ledger.clone();
    tokio::task::spawn_blocking(move || {
        if let Some(l) = ledger {
            l.forget(&id, files);
        }
        data.remove_job(&id)
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(StatusCode::NO_CONTENT)
}

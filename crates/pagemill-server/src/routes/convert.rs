//! `POST /v1/convert?wait=30s`: for small files, upload and wait — the Markdown comes
//! back in the answer; a job still running when the wait ends is answered with 202 and
//! its links (the job goes on), never with an error.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use crate::api::{Accepted, ErrorBody, JobView};
use crate::error::ApiError;
use crate::routes::files::listing;
use crate::routes::jobs::{find, receive};
use crate::store::JobState;
use crate::{App, Owner};

/// The longest `wait` taken.
const MAX_WAIT: Duration = Duration::from_secs(300);

/// `30s`, `2m`, `1.5` (seconds).
fn parse_wait(s: &str) -> Result<Duration, ApiError> {
    let t = s.trim();
    let (num, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else {
        (t, 1.0)
    };
    match num.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(Duration::from_secs_f64(v * scale).min(MAX_WAIT)),
        _ => Err(ApiError::bad_request(format!(
            "`wait={s}` is not a duration like 30s or 2m"
        ))),
    }
}

/// Upload, wait up to `?wait=` (default 30 s, at most 5 minutes), answer with the
/// Markdown (documents after the first are preceded by `<!-- file: NAME -->`).
#[utoipa::path(
    post,
    path = "/v1/convert",
    tag = "jobs",
    params(
        ("wait" = Option<String>, Query, description = "How long to wait: `30s` (default), `2m`; at most 5 minutes"),
        ("filename" = Option<String>, Query, description = "The document's name, for a raw body"),
    ),
    request_body(description = "As for POST /v1/jobs", content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "The Markdown", content_type = "text/markdown", body = String),
        (status = 202, description = "Still running when the wait ended: follow the job", body = Accepted),
        (status = 422, description = "The job ended without a page converted", body = JobView),
        (status = 400, description = "Unknown option, bad value or no file", body = ErrorBody),
        (status = 413, description = "Larger than the upload limit", body = ErrorBody),
    )
)]
pub async fn convert(
    State(app): State<App>,
    Extension(owner): Extension<Owner>,
    Query(mut query): Query<HashMap<String, String>>,
    req: Request,
) -> Result<Response, ApiError> {
    let wait = match query.remove("wait") {
        Some(w) => parse_wait(&w)?,
        None => Duration::from_secs(30),
    };
    let job = receive(&app, &owner, query, req, |o| o.formats.markdown = true).await?;
    let deadline = tokio::time::Instant::now() + wait;
    let mut live = app.live.subscribe(&job.id);
    let job = loop {
        let current = find(&app, &owner, &job.id).await?;
        if current.state.is_final() {
            break current;
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            let mut res = (StatusCode::ACCEPTED, Json(Accepted::of(current))).into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("/v1/jobs/{}", job.id)) {
                res.headers_mut().insert(header::LOCATION, v);
            }
            return Ok(res);
        }
        let step = left.min(Duration::from_millis(250));
        match &mut live {
            // Woken by the job's events; the sleep bounds a missed wake-up.
            Some(rx) => {
                if let Ok(Err(_)) = tokio::time::timeout(step, rx.changed()).await {
                    live = None;
                }
            }
            None => tokio::time::sleep(step).await,
        }
    };
    if matches!(job.state, JobState::Failed | JobState::Cancelled) {
        let errors = {
            let id = job.id.clone();
            crate::db(&app, move |s| s.page_errors(&id)).await?
        };
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(JobView::of(&job, Some(errors))),
        )
            .into_response());
    }
    let (root, files) = listing(app.data.outputs(&job.id)).await?;
    let markdown = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
        let docs: Vec<_> = files
            .iter()
            .filter(|(n, _)| n.ends_with(".md") && !n.ends_with(".det.md"))
            .collect();
        let mut out = String::new();
        for (name, _) in &docs {
            if docs.len() > 1 {
                out.push_str(&format!("<!-- file: {name} -->\n\n"));
            }
            out.push_str(&std::fs::read_to_string(root.join(name))?);
        }
        Ok(out)
    })
    .await
    .map_err(ApiError::internal)??;
    let mut res = markdown.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/markdown; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&job.id) {
        h.insert("x-pagemill-job", v);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits() {
        assert_eq!(parse_wait("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_wait("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_wait("1.5").unwrap(), Duration::from_millis(1500));
        assert!(parse_wait("1h").is_err());
        assert_eq!(parse_wait("99m").unwrap(), MAX_WAIT);
    }
}

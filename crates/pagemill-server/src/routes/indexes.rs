//! `/v1/indexes/{name}/…`: add documents to a search index (an upload that becomes a job:
//! converted, chunked, embedded and stored, with the job's events), search it, list and
//! remove its documents. Each API key has its own indexes.

use std::collections::HashMap;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use pagemill_index::{Filter, Hit, Mode};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::{Accepted, ErrorBody};
use crate::error::ApiError;
use crate::indexes::IndexesError;
use crate::routes::jobs::receive;
use crate::{App, Owner};

/// Most hits a search returns.
const MAX_K: usize = 100;

impl From<IndexesError> for ApiError {
    fn from(e: IndexesError) -> Self {
        match e {
            IndexesError::BadName(_) => ApiError::bad_request(e.to_string()),
            IndexesError::NotFound(_) => ApiError::not_found("index"),
            IndexesError::Model(_) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "no_model", e.to_string())
            }
            IndexesError::Index(e) => ApiError::internal(e),
        }
    }
}

/// `POST /v1/indexes/{name}/documents`: upload documents into index `name` (made if new).
/// The answer is a job, followed like any other (`/v1/jobs/{id}/events`); a document
/// already in the index under the same file name is replaced.
#[utoipa::path(
    post,
    path = "/v1/indexes/{name}/documents",
    tag = "indexes",
    params(
        ("name" = String, Path, description = "The index: 1 to 64 letters, digits, `-` or `_`"),
        ("filename" = Option<String>, Query, description = "The document's name, for a raw body"),
        ("pages" = Option<String>, Query, description = "Pages, 1-based ranges: `1-10,20`"),
        ("ocr" = Option<String>, Query, description = "`auto`, `always` or `never`"),
        ("lang" = Option<String>, Query, description = "Tesseract languages: `eng+deu`"),
    ),
    request_body(description = "As for POST /v1/jobs", content_type = "multipart/form-data"),
    responses(
        (status = 202, description = "Queued: follow the job", body = Accepted),
        (status = 400, description = "Bad index name, unknown option or no file", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 413, description = "Larger than the upload limit", body = ErrorBody),
        (status = 429, description = "The queue is full (see Retry-After)", body = ErrorBody),
    )
)]
pub async fn add_documents(
    State(app): State<App>,
    Extension(owner): Extension<Owner>,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    req: Request,
) -> Result<Response, ApiError> {
    app.indexes.dir(&owner, &name)?;
    let index = name.clone();
    let job = receive(&app, &owner, query, req, move |o| o.index = Some(index)).await?;
    let mut res = (StatusCode::ACCEPTED, Json(Accepted::of(job))).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/v1/indexes/{name}/documents")) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

/// A document of an index.
#[derive(Debug, Serialize, ToSchema)]
pub struct IndexedDocument {
    /// Its name (the uploaded file's).
    pub name: String,
    /// SHA-256 of its bytes, hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Pages indexed.
    pub pages: u32,
    /// Chunks stored.
    pub chunks: u32,
    /// `false` while it is being indexed.
    pub complete: bool,
}

/// `GET /v1/indexes/{name}/documents`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentList {
    /// The documents, by name.
    pub documents: Vec<IndexedDocument>,
}

/// `GET /v1/indexes/{name}/documents`: the index's documents.
#[utoipa::path(
    get,
    path = "/v1/indexes/{name}/documents",
    tag = "indexes",
    params(("name" = String, Path, description = "The index")),
    responses(
        (status = 200, description = "The documents", body = DocumentList),
        (status = 404, description = "No such index for this key", body = ErrorBody),
    )
)]
pub async fn list_documents(
    State(app): State<App>,
    Extension(owner): Extension<Owner>,
    Path(name): Path<String>,
) -> Result<Json<DocumentList>, ApiError> {
    let docs = blocking(move || app.indexes.documents(&owner, &name)).await?;
    Ok(Json(DocumentList {
        documents: docs
            .into_iter()
            .map(|d| IndexedDocument {
                name: d.path,
                sha256: d.sha256,
                size: d.size,
                pages: d.pages,
                chunks: d.chunks,
                complete: d.complete,
            })
            .collect(),
    }))
}

/// `DELETE /v1/indexes/{name}/documents/{document}`: removes a document and its chunks.
#[utoipa::path(
    delete,
    path = "/v1/indexes/{name}/documents/{document}",
    tag = "indexes",
    params(
        ("name" = String, Path, description = "The index"),
        ("document" = String, Path, description = "The document's name"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such index or document", body = ErrorBody),
    )
)]
pub async fn delete_document(
    State(app): State<App>,
    Extension(owner): Extension<Owner>,
    Path((name, document)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let removed = blocking(move || app.indexes.remove(&owner, &name, &document)).await?;
    if removed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("document"))
    }
}

/// A search's parameters.
#[derive(Debug, Deserialize, IntoParams)]
pub struct SearchQuery {
    /// The query.
    pub q: String,
    /// Hits wanted (default 10, at most 100).
    pub k: Option<usize>,
    /// `hybrid` (default), `vector` or `bm25`.
    pub mode: Option<String>,
    /// Only documents whose name contains this.
    pub document: Option<String>,
    /// Only these pages: `12` or `10-20` (1-based).
    pub pages: Option<String>,
    /// Only chunks with this entity kind (`date`, `email`, …) or `kind=value`.
    pub entity: Option<String>,
}

/// A block a hit's text comes from.
#[derive(Debug, Serialize, ToSchema)]
pub struct HitSource {
    /// 1-based page.
    pub page: u32,
    /// The block's index on the page (as in the JSON output).
    pub block: u32,
    /// Its box `[x0, y0, x1, y1]`, PDF points from the page's top left.
    pub bbox: [f32; 4],
}

/// One search result.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchHit {
    /// Higher is better (fused rank score, cosine similarity or BM25 score by mode).
    pub score: f32,
    /// The document's name.
    pub document: String,
    /// First page, 1-based.
    pub first_page: u32,
    /// Last page.
    pub last_page: u32,
    /// Headings above the chunk, outermost first.
    pub heading_path: Vec<String>,
    /// `text`, `table`, `code` or `mixed`.
    pub kind: String,
    /// The chunk's text.
    pub text: String,
    /// A passage around the query's words, marked `**…**`.
    pub snippet: String,
    /// The chunk's stable id.
    pub chunk_id: String,
    /// Where its text is on the pages.
    pub sources: Vec<HitSource>,
}

impl From<Hit> for SearchHit {
    fn from(h: Hit) -> Self {
        let c = h.chunk;
        SearchHit {
            score: h.score,
            document: c.document,
            first_page: c.first_page,
            last_page: c.last_page,
            heading_path: c.heading_path,
            kind: c.kind,
            text: c.text,
            snippet: h.snippet,
            chunk_id: c.chunk_id,
            sources: c
                .sources
                .into_iter()
                .map(|s| HitSource {
                    page: s.page,
                    block: s.block,
                    bbox: s.bbox,
                })
                .collect(),
        }
    }
}

/// `GET /v1/indexes/{name}/search`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchAnswer {
    /// The query.
    pub query: String,
    /// The mode used.
    pub mode: String,
    /// Time spent searching.
    pub milliseconds: f64,
    /// Best first.
    pub hits: Vec<SearchHit>,
}

fn parse_pages(s: &str) -> Result<(u32, u32), ApiError> {
    match Filter::page_span(s) {
        Some((lo, hi)) if lo <= hi => Ok((lo, hi)),
        _ => Err(ApiError::bad_request(format!(
            "`pages={s}` is not a page or range like 10-20"
        ))),
    }
}

/// `GET /v1/indexes/{name}/search?q=`: BM25 and vector hits fused (or one of them).
#[utoipa::path(
    get,
    path = "/v1/indexes/{name}/search",
    tag = "indexes",
    params(("name" = String, Path, description = "The index"), SearchQuery),
    responses(
        (status = 200, description = "The hits, best first", body = SearchAnswer),
        (status = 400, description = "Empty query or bad parameter", body = ErrorBody),
        (status = 404, description = "No such index for this key", body = ErrorBody),
    )
)]
pub async fn search(
    State(app): State<App>,
    Extension(owner): Extension<Owner>,
    Path(name): Path<String>,
    Query(q): Query<SearchQuery>,
) -> Result<Json<SearchAnswer>, ApiError> {
    if q.q.trim().is_empty() {
        return Err(ApiError::bad_request(
            "`q` is empty: give the words to search",
        ));
    }
    let mode = match q.mode.as_deref().unwrap_or("hybrid") {
        "hybrid" => Mode::Hybrid,
        "vector" => Mode::Vector,
        "bm25" => Mode::Bm25,
        other => {
            return Err(ApiError::bad_request(format!(
                "`mode={other}` is not hybrid, vector or bm25"
            )))
        }
    };
    let filter = Filter {
        document: q.document.clone(),
        pages: q.pages.as_deref().map(parse_pages).transpose()?,
        entity: q.entity.clone(),
    };
    let k = q.k.unwrap_or(10).clamp(1, MAX_K);
    let query = q.q.clone();
    let started = std::time::Instant::now();
    let hits =
        blocking(move || app.indexes.search(&owner, &name, &query, k, mode, &filter)).await?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    Ok(Json(SearchAnswer {
        query: q.q,
        mode: q.mode.unwrap_or_else(|| "hybrid".into()),
        milliseconds: (ms * 10.0).round() / 10.0,
        hits: hits.into_iter().map(SearchHit::from).collect(),
    }))
}

/// Runs index work (SQLite, Tantivy, the model) off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, IndexesError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_filters() {
        assert_eq!(parse_pages("12").unwrap(), (12, 12));
        assert_eq!(parse_pages("10-20").unwrap(), (10, 20));
        assert_eq!(parse_pages("5-").unwrap(), (5, u32::MAX));
        for bad in ["0", "x", "20-10", ""] {
            assert!(parse_pages(bad).is_err(), "{bad}");
        }
    }
}

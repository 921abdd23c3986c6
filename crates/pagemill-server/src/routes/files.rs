//! `GET /v1/jobs/{id}/files` and `/files/{path}`: a job's outputs, listed and streamed
//! from disk (with `Range`).

use std::io::SeekFrom;
use std::path::{Path as FsPath, PathBuf};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::api::{ErrorBody, FileEntry, FileList};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use crate::error::ApiError;
use crate::routes::jobs::CallerJob;
use crate::App;

/// The folder file names are relative to: a job's one document folder when it has just
/// one (so `report.pdf` gives `report.md`), else its output folder (`report/report.md`).
fn base(outputs: &FsPath) -> PathBuf {
    let mut dirs = Vec::new();
    let mut files = 0;
    if let Ok(entries) = std::fs::read_dir(outputs) {
        for e in entries.flatten() {
            let name = e.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            match e.file_type() {
                Ok(t) if t.is_dir() => dirs.push(e.path()),
                _ => files += 1,
            }
        }
    }
    match (dirs.len(), files) {
        (1, 0) => dirs.remove(0),
        _ => outputs.to_path_buf(),
    }
}

/// Whether a name is listed: not hidden (the resume checkpoint), not half-written.
fn listed(name: &str) -> bool {
    !name.starts_with('.') && !name.ends_with(".part")
}

/// Files under `dir`, as `(relative name, size)`, sorted.
fn walk(root: &FsPath, dir: &FsPath, out: &mut Vec<(String, u64)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !listed(&name) {
            continue;
        }
        let path = e.path();
        match e.metadata() {
            Ok(m) if m.is_dir() => walk(root, &path, out),
            Ok(m) if m.is_file() => {
                if let Ok(rel) = path.strip_prefix(root) {
                    out.push((rel.to_string_lossy().into_owned(), m.len()));
                }
            }
            _ => {}
        }
    }
}

/// The folder a job's file names are relative to, and its files (name, size), sorted.
pub(crate) async fn listing(outputs: PathBuf) -> Result<(PathBuf, Vec<(String, u64)>), ApiError> {
    tokio::task::spawn_blocking(move || {
        let root = base(&outputs);
        let mut files = Vec::new();
        walk(&root, &root, &mut files);
        files.sort();
        (root, files)
    })
    .await
    .map_err(ApiError::internal)
}

/// `GET /v1/jobs/{id}/files`: `{"files": [{"name", "size", "url"}]}`.
#[utoipa::path(
    get,
    path = "/v1/jobs/{id}/files",
    tag = "files",
    params(("id" = String, Path, description = "The job's id")),
    responses(
        (status = 200, description = "The job's outputs", body = FileList),
        (status = 404, description = "No such job", body = ErrorBody),
    )
)]
pub async fn list(
    State(app): State<App>,
    CallerJob(job): CallerJob,
) -> Result<Json<FileList>, ApiError> {
    let id = job.id;
    let outputs = app.data.outputs(&id);
    let (_, files) = listing(outputs).await?;
    let files = files
        .into_iter()
        .map(|(name, size)| FileEntry {
            url: format!("/v1/jobs/{id}/files/{name}"),
            name,
            size,
        })
        .collect();
    Ok(Json(FileList { files }))
}

/// `rel` under `root`, if it names a listed file inside it: no `..`, no hidden or
/// half-written files, no way out through a link.
fn resolve(root: &FsPath, rel: &str) -> Option<PathBuf> {
    if rel.is_empty() || rel.contains('\\') || rel.contains('\0') {
        return None;
    }
    let mut path = root.to_path_buf();
    for part in rel.split('/') {
        if part.is_empty() || part == "." || part == ".." || !listed(part) {
            return None;
        }
        path.push(part);
    }
    let real = path.canonicalize().ok()?;
    let root = root.canonicalize().ok()?;
    (real.starts_with(&root) && real.is_file()).then_some(real)
}

/// The content type of an output, by its name.
fn content_type(name: &str) -> &'static str {
    let ext = name.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "md" => "text/markdown; charset=utf-8",
        "json" => "application/json",
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "hocr" => "text/html; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// A `Range: bytes=…` header's one range within `len` bytes, as `(start, end)` inclusive.
/// `Ok(None)`: no range asked (or several, served whole); `Err`: not satisfiable.
fn byte_range(headers: &HeaderMap, len: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes="))
    else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (a, b) = (a.trim(), b.trim());
    let range = if a.is_empty() {
        let n: u64 = b.parse().map_err(|_| ())?;
        if n == 0 || len == 0 {
            return Err(());
        }
        (len.saturating_sub(n), len - 1)
    } else {
        let start: u64 = a.parse().map_err(|_| ())?;
        let end = if b.is_empty() {
            len.saturating_sub(1)
        } else {
            b.parse::<u64>().map_err(|_| ())?.min(len.saturating_sub(1))
        };
        (start, end)
    };
    if range.0 >= len || range.0 > range.1 {
        return Err(());
    }
    Ok(Some(range))
}

/// `GET /v1/jobs/{id}/files/{path}`: one output, streamed.
#[utoipa::path(
    get,
    path = "/v1/jobs/{id}/files/{path}",
    tag = "files",
    params(
        ("id" = String, Path, description = "The job's id"),
        ("path" = String, Path, description = "A name from the job's file list"),
    ),
    responses(
        (status = 200, description = "The file, with its content type"),
        (status = 206, description = "The range asked with `Range: bytes=…`"),
        (status = 404, description = "No such job or file", body = ErrorBody),
        (status = 416, description = "The range is outside the file"),
    )
)]
pub async fn get(
    State(app): State<App>,
    CallerJob(job): CallerJob,
    Path((_id, rel)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let outputs = app.data.outputs(&job.id);
    let rel2 = rel.clone();
    let path = tokio::task::spawn_blocking(move || resolve(&base(&outputs), &rel2))
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("file"))?;
    let mut file = tokio::fs::File::open(&path).await?;
    let len = file.metadata().await?.len();
    let ctype = HeaderValue::from_static(content_type(&rel));
    let range = match byte_range(&headers, len) {
        Ok(r) => r,
        Err(()) => {
            let mut res = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                res.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(res);
        }
    };
    let (status, start, count) = match range {
        Some((a, b)) => (StatusCode::PARTIAL_CONTENT, a, b - a + 1),
        None => (StatusCode::OK, 0, len),
    };
    if start > 0 {
        file.seek(SeekFrom::Start(start)).await?;
    }
    let body = Body::from_stream(ReaderStream::new(file.take(count)));
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, ctype);
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(v) = HeaderValue::from_str(&count.to_string()) {
        h.insert(header::CONTENT_LENGTH, v);
    }
    if status == StatusCode::PARTIAL_CONTENT {
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{}/{len}", start + count - 1))
        {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_outside_the_outputs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("out");
        std::fs::create_dir_all(root.join("images")).unwrap();
        std::fs::write(root.join("a.md"), "x").unwrap();
        std::fs::write(root.join("images/p1.png"), "x").unwrap();
        std::fs::write(root.join("b.md.part"), "x").unwrap();
        std::fs::write(dir.path().join("secret"), "x").unwrap();
        assert!(resolve(&root, "a.md").is_some());
        assert!(resolve(&root, "images/p1.png").is_some());
        for bad in [
            "../secret",
            "images/../../secret",
            "/etc/passwd",
            "b.md.part",
            ".",
            "",
            "images",
            "a.md/",
            "..\\secret",
        ] {
            assert!(resolve(&root, bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn ranges() {
        let mut h = HeaderMap::new();
        assert_eq!(byte_range(&h, 10), Ok(None));
        h.insert(header::RANGE, HeaderValue::from_static("bytes=2-4"));
        assert_eq!(byte_range(&h, 10), Ok(Some((2, 4))));
        h.insert(header::RANGE, HeaderValue::from_static("bytes=-3"));
        assert_eq!(byte_range(&h, 10), Ok(Some((7, 9))));
        h.insert(header::RANGE, HeaderValue::from_static("bytes=8-"));
        assert_eq!(byte_range(&h, 10), Ok(Some((8, 9))));
        h.insert(header::RANGE, HeaderValue::from_static("bytes=10-"));
        assert_eq!(byte_range(&h, 10), Err(()));
    }

    #[test]
    fn a_single_document_is_listed_from_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("report/.pagemill-resume")).unwrap();
        assert_eq!(base(dir.path()), dir.path().join("report"));
        std::fs::create_dir_all(dir.path().join("other")).unwrap();
        assert_eq!(base(dir.path()), dir.path());
    }
}

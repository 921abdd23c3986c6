//! `GET /v1/jobs/{id}/archive`: the job's outputs as one zip, written file by file into the
//! response as it goes (never built in memory or on disk).

use std::io::{self, Write};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;
use zip::write::SimpleFileOptions;
use zip::CompressionMethod;

use crate::error::ApiError;
use crate::routes::files::listing;
use crate::routes::jobs::CallerJob;
use crate::App;

/// Bytes gathered before a chunk goes out.
const CHUNK: usize = 64 << 10;
/// Chunks in flight to a slow client: the archive's memory is at most this many chunks.
const CHUNKS_IN_FLIGHT: usize = 4;

/// A `Write` that sends what it gets to the response body, waiting while the client is
/// behind.
struct BodyWriter {
    tx: mpsc::Sender<Result<Bytes, io::Error>>,
    buf: Vec<u8>,
}

impl BodyWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl Write for BodyWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// Compressing what compresses: text; PDFs and pictures are stored as they are.
fn method(name: &str) -> CompressionMethod {
    let ext = name.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "md" | "json" | "hocr" | "txt" | "html" => CompressionMethod::Deflated,
        _ => CompressionMethod::Stored,
    }
}

fn write_zip(root: &std::path::Path, files: &[(String, u64)], out: BodyWriter) -> io::Result<()> {
    let mut zip = zip::ZipWriter::new_stream(out);
    for (name, size) in files {
        let options = SimpleFileOptions::default()
            .compression_method(method(name))
            .large_file(*size >= u32::MAX as u64);
        zip.start_file(name.as_str(), options)
            .map_err(io::Error::other)?;
        let mut file = std::fs::File::open(root.join(name))?;
        io::copy(&mut file, &mut zip)?;
    }
    let mut out = zip.finish().map_err(io::Error::other)?;
    out.flush()
}

/// `GET /v1/jobs/{id}/archive`: `ID.zip` with the files `/files` lists.
#[utoipa::path(
    get,
    path = "/v1/jobs/{id}/archive",
    tag = "files",
    params(("id" = String, Path, description = "The job's id")),
    responses(
        (status = 200, description = "The outputs as one zip, streamed", content_type = "application/zip"),
        (status = 404, description = "No such job", body = crate::api::ErrorBody),
    )
)]
pub async fn archive(
    State(app): State<App>,
    CallerJob(job): CallerJob,
) -> Result<Response, ApiError> {
    let id = job.id;
    let outputs = app.data.outputs(&id);
    let (tx, rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let err_tx = tx.clone();
    let (root, files) = listing(outputs).await?;
    tokio::task::spawn_blocking(move || {
        let out = BodyWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
        };
        if let Err(e) = write_zip(&root, &files, out) {
            if e.kind() != io::ErrorKind::BrokenPipe {
                tracing::warn!(error = %e, "archive cut short");
                let _ = err_tx.blocking_send(Err(e));
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let mut res = Body::from_stream(stream).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{id}.zip\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

//! Receiving uploads: multipart (`file` fields plus option fields) or a raw body, streamed
//! to the job's staging folder chunk by chunk under the size limit — never whole in
//! memory — with file names made safe.

use std::collections::HashSet;
use std::path::Path;

use axum::body::Body;
use axum::extract::multipart::{Field, Multipart, MultipartError};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::error::ApiError;
use crate::options::JobOptions;

/// Longest option value read (options are short; this bounds what a field can make the
/// server hold).
const MAX_OPTION_BYTES: usize = 4096;

/// Longest value of an extraction's texts (`prompt`, `schema`, `sections`): a prompt with
/// instructions and examples, a schema, a few hundred listed sections.
pub const MAX_TEXT_OPTION_BYTES: usize = 64 << 10;

/// The longest value option `name` may have.
fn option_limit(name: &str) -> usize {
    match name {
        "prompt" | "schema" | "sections" => MAX_TEXT_OPTION_BYTES,
        _ => MAX_OPTION_BYTES,
    }
}

/// Longest file name kept, in bytes.
const MAX_NAME_BYTES: usize = 150;

/// What an upload brought.
#[derive(Debug, Default)]
pub struct Received {
    /// The files, by their safe names, in the order sent.
    pub files: Vec<String>,
    /// The job's options.
    pub options: JobOptions,
    /// File bytes received.
    pub bytes: u64,
}

/// A file name safe to create in a folder: the last path component of what the client
/// sent, without control characters or leading dots, at most 150 bytes (its extension
/// kept); `upload` if nothing is left.
pub fn safe_name(sent: &str) -> String {
    let base = sent.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base.chars().filter(|c| !c.is_control()).collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    if cleaned.is_empty() {
        return "upload".into();
    }
    if cleaned.len() <= MAX_NAME_BYTES {
        return cleaned.to_string();
    }
    let (stem, ext) = match cleaned.rfind('.') {
        Some(i) if cleaned.len() - i <= 10 => cleaned.split_at(i),
        _ => (cleaned, ""),
    };
    let mut end = MAX_NAME_BYTES - ext.len();
    while !stem.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{ext}", &stem[..end])
}

/// Names already used in one upload; a repeated name gets `-2`, `-3`, … before its
/// extension.
#[derive(Default)]
struct Names(HashSet<String>);

impl Names {
    fn unique(&mut self, name: String) -> String {
        if self.0.insert(name.clone()) {
            return name;
        }
        let (stem, ext) = match name.rfind('.') {
            Some(i) if i > 0 => name.split_at(i),
            _ => (name.as_str(), ""),
        };
        let mut n = 2;
        loop {
            let candidate = format!("{stem}-{n}{ext}");
            if self.0.insert(candidate.clone()) {
                return candidate;
            }
            n += 1;
        }
    }
}

fn malformed(e: MultipartError) -> ApiError {
    ApiError::bad_request(format!("malformed multipart body: {e}"))
}

/// Streams one file field to `path`, counting against `limit`.
async fn save_field(
    field: &mut Field<'_>,
    path: &Path,
    received: &mut u64,
    limit: u64,
) -> Result<(), ApiError> {
    let mut file = tokio::fs::File::create(path).await?;
    while let Some(chunk) = field.chunk().await.map_err(malformed)? {
        crate::metrics::body_read(chunk.len());
        *received += chunk.len() as u64;
        if *received > limit {
            return Err(ApiError::too_large(limit));
        }
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    Ok(())
}

/// An option field's text, refused past [`MAX_OPTION_BYTES`].
async fn option_text(field: &mut Field<'_>, name: &str) -> Result<String, ApiError> {
    let mut bytes = Vec::new();
    let limit = option_limit(name);
    while let Some(chunk) = field.chunk().await.map_err(malformed)? {
        if bytes.len() + chunk.len() > limit {
            return Err(ApiError::bad_request(format!(
                "option `{name}` is longer than {limit} bytes"
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes)
        .map_err(|_| ApiError::bad_request(format!("option `{name}` is not UTF-8 text")))
}

/// Receives a multipart upload into `dir`: fields named `file` (or `files`) are
/// documents, every other field is an option.
/// Options start from `options` (the query's).
pub async fn multipart(
    mut mp: Multipart,
    dir: &Path,
    limit: u64,
    options: JobOptions,
) -> Result<Received, ApiError> {
    tokio::fs::create_dir_all(dir).await?;
    let mut r = Received {
        options,
        ..Default::default()
    };
    let mut names = Names::default();
    while let Some(mut field) = mp.next_field().await.map_err(malformed)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" || name == "files" {
            let file_name = names.unique(safe_name(field.file_name().unwrap_or("upload")));
            save_field(&mut field, &dir.join(&file_name), &mut r.bytes, limit).await?;
            r.files.push(file_name);
        } else {
            let value = option_text(&mut field, &name).await?;
            r.options
                .set(&name, &value)
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
        }
    }
    if r.files.is_empty() {
        return Err(ApiError::bad_request(
            "no document: send it in a multipart field named `file`",
        ));
    }
    Ok(r)
}

/// Receives a raw body (one document named `name`) into `dir`.
pub async fn raw(
    body: Body,
    name: &str,
    dir: &Path,
    limit: u64,
    options: JobOptions,
) -> Result<Received, ApiError> {
    tokio::fs::create_dir_all(dir).await?;
    let file_name = safe_name(name);
    let mut file = tokio::fs::File::create(dir.join(&file_name)).await?;
    let mut received = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("upload interrupted: {e}")))?;
        crate::metrics::body_read(chunk.len());
        received += chunk.len() as u64;
        if received > limit {
            return Err(ApiError::too_large(limit));
        }
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    if received == 0 {
        return Err(ApiError::bad_request(
            "the body is empty: send the document as the body",
        ));
    }
    Ok(Received {
        files: vec![file_name],
        options,
        bytes: received,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_their_paths_and_control_characters() {
        assert_eq!(safe_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_name("C:\\Users\\x\\report.pdf"), "report.pdf");
        assert_eq!(safe_name("..\u{0}.hidden\n.pdf"), "hidden.pdf");
        assert_eq!(safe_name(".."), "upload");
        assert_eq!(safe_name(""), "upload");
        let long = format!("{}.pdf", "é".repeat(200));
        let safe = safe_name(&long);
        assert!(
            safe.len() <= MAX_NAME_BYTES && safe.ends_with(".pdf"),
            "{safe}"
        );
    }

    #[test]
    fn repeated_names_are_numbered() {
        let mut n = Names::default();
        assert_eq!(n.unique("a.pdf".into()), "a.pdf");
        assert_eq!(n.unique("a.pdf".into()), "a-2.pdf");
        assert_eq!(n.unique("a.pdf".into()), "a-3.pdf");
        assert_eq!(n.unique("README".into()), "README");
        assert_eq!(n.unique("README".into()), "README-2");
    }
}

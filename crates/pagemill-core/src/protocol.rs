//! Messages between the parent and its workers, and their framing.
//!
//! PDFium is not thread-safe, and native parsers meet untrusted input, so every page is
//! worked on in a separate process. The parent writes [`Request`]s to a worker and reads
//! [`Response`]s back; each carries a request id, so answers are matched to requests by id,
//! not by their order (a transport may deliver them in any order). Each frame is a 4-byte
//! little-endian length followed by that many bytes of JSON; frames over [`MAX_FRAME`] are
//! refused rather than allocated.

use std::io::{self, Read, Write};
use std::path::PathBuf;

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use thiserror::Error;

use crate::model::{DocInfo, FileErrorKind};
use crate::result::PageResult;
use crate::settings::{EraseSettings, OcrSettings, UpscaleSettings};

/// Largest frame accepted (a page's result is typically a few KiB to a few hundred KiB).
pub const MAX_FRAME: u32 = 64 * 1024 * 1024;

/// Where a worker finds a document's bytes. A transport must be able to satisfy it: the
/// local process pool shares the file system, so a path is enough; a network transport
/// puts the document into an object store and its remote host fetches it to a local file
/// before a worker process sees the request (worker processes read only local files).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DocumentSource {
    /// A file on a file system the worker shares with the parent.
    Path {
        /// The file.
        path: PathBuf,
    },
    /// An object in a network object store (NATS JetStream), named by its content.
    Stored {
        /// The store (bucket).
        store: String,
        /// The object's name in it: the SHA-256 of the bytes, hex.
        key: String,
        /// Bytes.
        size: u64,
        /// The original file's name (for messages and the file's type).
        name: String,
    },
}

impl DocumentSource {
    /// A local file.
    pub fn path(path: impl Into<PathBuf>) -> Self {
        DocumentSource::Path { path: path.into() }
    }

    /// The local file, for a source that is one.
    pub fn local_path(&self) -> Option<&std::path::Path> {
        match self {
            DocumentSource::Path { path } => Some(path),
            DocumentSource::Stored { .. } => None,
        }
    }
}

impl std::fmt::Display for DocumentSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DocumentSource::Path { path } => write!(f, "{}", path.display()),
            DocumentSource::Stored { name, .. } => write!(f, "{name}"),
        }
    }
}

/// A document a worker is asked to work on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocRef {
    /// The parent's id for the document (unique within the engine's life).
    pub id: u32,
    /// Where the document's bytes are.
    pub source: DocumentSource,
    /// User password for an encrypted file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// When and how to OCR pages.
    #[serde(default)]
    pub ocr: OcrSettings,
    /// Milliseconds a page may take (OCR is told to give up by then).
    #[serde(default = "default_page_timeout_ms")]
    pub page_timeout_ms: u64,
    /// Send a gray picture of each page at this resolution with its result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_dpi: Option<u32>,
    /// Send each page of an image input as a PDF image stream with its result (for the
    /// searchable PDF).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub page_images: bool,
    /// Crop each figure and send it as a JPEG with its page; vector drawings and OCR
    /// image regions are rendered at this resolution (images at their own, up to it twice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub figure_dpi: Option<u32>,
    /// Erase the page's text and send the page image back
    /// ([`ErasedPage`](crate::result::ErasedPage)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erase: Option<EraseSettings>,
    /// Upscale the picture the job writes: the erased page when `erase` is set (upscaled
    /// first, then erased), else the page itself, written as a PNG into `upscaled_dir`
    /// ([`UpscaledPage`](crate::result::UpscaledPage)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upscale: Option<UpscaleSettings>,
    /// Where the upscaled pages' PNG files go (the parent removes them once written into
    /// the outputs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upscaled_dir: Option<std::path::PathBuf>,
}

fn default_page_timeout_ms() -> u64 {
    60_000
}

/// Parent → worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Open the document and report its page count.
    Open {
        /// Request id, echoed by the answer.
        id: u64,
        /// The document.
        doc: DocRef,
    },
    /// Convert one page.
    Page {
        /// Request id, echoed by the answer.
        id: u64,
        /// The document.
        doc: DocRef,
        /// 0-based page index.
        index: u32,
    },
    /// Forget a document (close it if open). Not answered.
    Close {
        /// The parent's id for the document.
        doc: u32,
    },
}

impl Request {
    /// The request id, for requests that are answered.
    pub fn id(&self) -> Option<u64> {
        match self {
            Request::Open { id, .. } | Request::Page { id, .. } => Some(*id),
            Request::Close { .. } => None,
        }
    }
}

/// Worker → parent.
///
/// Externally tagged (`{"page": {...}}`), unlike [`Request`]: serde reads an internally
/// tagged enum twice (into a buffer of generic values, then into the variant), and page
/// answers are the bulk of what the parent reads — the buffering was half of its reader
/// threads' time on R-refman.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    /// Reply to [`Request::Open`].
    Opened {
        /// The request's id.
        id: u64,
        /// What was found.
        info: DocInfo,
    },
    /// [`Request::Open`] failed.
    OpenFailed {
        /// The request's id.
        id: u64,
        /// Why, as a kind.
        #[serde(default)]
        kind: FileErrorKind,
        /// One line, for a person.
        message: String,
    },
    /// Reply to [`Request::Page`].
    Page {
        /// The request's id.
        id: u64,
        /// The page and its pictures (boxed: the other answers are small).
        result: Box<PageResult>,
        /// Milliseconds the worker spent on the page.
        #[serde(default)]
        worker_ms: u32,
    },
    /// Work on a long request is under way (an upscaled page's tiles). Not an answer:
    /// the request stays in flight until its [`Response::Page`].
    Progress {
        /// The request's id.
        id: u64,
        /// Steps done.
        done: u32,
        /// Steps in all.
        total: u32,
    },
}

impl Response {
    /// The id of the request this answers.
    pub fn id(&self) -> u64 {
        match self {
            Response::Opened { id, .. }
            | Response::OpenFailed { id, .. }
            | Response::Page { id, .. }
            | Response::Progress { id, .. } => *id,
        }
    }
}

/// A framing error.
#[derive(Debug, Error)]
pub enum FrameError {
    /// The stream ended cleanly between frames.
    #[error("end of stream")]
    Eof,
    /// The peer announced a frame larger than [`MAX_FRAME`].
    #[error("frame of {0} bytes exceeds the {MAX_FRAME}-byte limit")]
    TooLarge(u32),
    /// The bytes were not a valid message.
    #[error("malformed message: {0}")]
    Malformed(#[from] serde_json::Error),
    /// I/O failed (including a stream cut inside a frame).
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
}

/// Writes one framed message and flushes.
pub fn write_frame<W: Write, T: Serialize>(w: &mut W, msg: &T) -> Result<(), FrameError> {
    let body = serde_json::to_vec(msg)?;
    let len = u32::try_from(body.len()).map_err(|_| FrameError::TooLarge(u32::MAX))?;
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    w.write_all(&len.to_le_bytes())?;
    w.write_all(&body)?;
    w.flush()?;
    Ok(())
}

/// Reads one framed message. Returns [`FrameError::Eof`] on a clean end between frames.
pub fn read_frame<R: Read, T: DeserializeOwned>(r: &mut R) -> Result<(T, usize), FrameError> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut len[got..])? {
            0 if got == 0 => return Err(FrameError::Eof),
            0 => return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into()),
            n => got += n,
        }
    }
    let len = u32::from_le_bytes(len);
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    let mut body = vec![0u8; len as usize];
    r.read_exact(&mut body)?;
    Ok((serde_json::from_slice(&body)?, len as usize))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FailureReason, PageFailure, PageOutcome};
    use crate::result::{
        ErasedOutput, ErasedPage, FigureImage, ImageColour, ImageEncoding, PageImage, PagePreview,
    };

    #[test]
    fn frames_round_trip() {
        let msgs = vec![
            Response::Opened {
                id: 1,
                info: DocInfo {
                    page_count: 9660,
                    pdf_version: Some("1.5".into()),
                    title: None,
                    kind: Default::default(),
                },
            },
            Response::Page {
                id: 2,
                result: Box::new(PageResult::bare(PageOutcome::Failed(PageFailure {
                    index: 7,
                    reason: FailureReason::Invalid,
                    message: "bad".into(),
                }))),
                worker_ms: 3,
            },
            // Binary page pictures travel base64 in the JSON frame and come back intact.
            Response::Page {
                id: 3,
                result: Box::new(PageResult {
                    outcome: PageOutcome::Failed(PageFailure {
                        index: 8,
                        reason: FailureReason::Timeout,
                        message: "slow".into(),
                    }),
                    preview: Some(PagePreview {
                        width: 3,
                        height: 1,
                        jpeg: vec![0xff, 0xd8, 0x00, 0x7f, 0x80, 0xff, 0xd9],
                    }),
                    image: Some(PageImage {
                        width: 2,
                        height: 1,
                        encoding: ImageEncoding::Flate,
                        colour: Some(ImageColour::Rgb),
                        data: vec![0x78, 0x9c, 0x00, 0xff],
                    }),
                    figures: vec![FigureImage {
                        name: "images/8_0.jpg".into(),
                        jpeg: vec![0xff, 0xd8, 0x01, 0xff, 0xd9],
                    }],
                    erased: Some(ErasedPage {
                        width: 4,
                        height: 2,
                        output: ErasedOutput::Png {
                            data: vec![0x89, b'P', b'N', b'G', 0x00],
                        },
                        regions: vec![[1, 0, 3, 2]],
                        pixels: 3,
                        words: vec![1, 0],
                    }),
                    upscaled: Some(crate::result::UpscaledPage {
                        file: "out/doc/.pagemill-upscaled/8.png".into(),
                        width: 8,
                        height: 4,
                        gray: true,
                        source_width: 4,
                        source_height: 2,
                        width_pt: 4.0,
                        height_pt: 2.0,
                        model: crate::settings::UpscaleModel::Compact,
                        scale: 2,
                        tiles: 1,
                        ms: 5,
                    }),
                }),
                worker_ms: 0,
            },
        ];
        let mut buf = Vec::new();
        for m in &msgs {
            write_frame(&mut buf, m).unwrap();
        }
        let mut r = &buf[..];
        for m in &msgs {
            let (got, _): (Response, usize) = read_frame(&mut r).unwrap();
            assert_eq!(&got, m);
            assert_eq!(got.id(), m.id());
        }
        assert!(matches!(
            read_frame::<_, Response>(&mut r),
            Err(FrameError::Eof)
        ));
    }

    #[test]
    fn refuses_oversized_and_truncated_frames() {
        let huge = (MAX_FRAME + 1).to_le_bytes();
        assert!(matches!(
            read_frame::<_, Request>(&mut &huge[..]),
            Err(FrameError::TooLarge(_))
        ));
        let cut = [10u8, 0, 0, 0, b'{'];
        assert!(matches!(
            read_frame::<_, Request>(&mut &cut[..]),
            Err(FrameError::Io(_))
        ));
        let garbage = [2u8, 0, 0, 0, b'{', b'x'];
        assert!(matches!(
            read_frame::<_, Request>(&mut &garbage[..]),
            Err(FrameError::Malformed(_))
        ));
    }
}

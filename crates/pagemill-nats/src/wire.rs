//! What travels: a [`Task`] on the work stream, a [`Reply`] on the results stream, a
//! [`Control`] announcement on core NATS. JSON, like the local worker protocol; a reply's
//! JSON is compressed ([`pack`]) when it goes to the results stream or the object store.

use std::path::PathBuf;

use pagemill_core::model::{FailureReason, FileErrorKind, PageFailure, PageOutcome};
use pagemill_core::protocol::{Request, Response};
use pagemill_core::result::PageResult;
use serde::{Deserialize, Serialize};

/// Requests for a worker host: one, or a few cheap pages of one document together (one
/// message, one acknowledgement, one answer for all: see the producer's batching).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// The producer that sent it: answers go to its results subject.
    pub producer: String,
    /// The requests, their document in the object store ([`DocumentSource::Stored`]).
    ///
    /// [`DocumentSource::Stored`]: pagemill_core::protocol::DocumentSource::Stored
    pub requests: Vec<Request>,
}

/// A worker host's answers to a [`Task`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    /// The worker host that answered (for logs).
    pub host: String,
    /// The answers.
    pub body: ReplyBody,
}

/// Where the answers are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyBody {
    /// In the message.
    Inline {
        /// One per request (none for a request its producer cancelled).
        answers: Vec<Answer>,
    },
    /// Too large for a message even packed: the packed JSON of an inline reply is an
    /// object in the results bucket.
    Stored {
        /// The object's name.
        object: String,
        /// Its bytes.
        bytes: u64,
        /// The requests answered (so that they are known lost if the object is).
        requests: Vec<u64>,
    },
}

/// The answer to one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// The request's id.
    pub request: u64,
    /// What happened.
    pub outcome: Outcome,
}

/// What happened to one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The worker's response.
    Response {
        /// The response.
        response: Response,
        /// The worker survived an allocation failure while on it.
        #[serde(default)]
        out_of_memory: bool,
        /// Files the response names that wait in the results bucket (upscaled pages).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        files: Vec<StoredFile>,
    },
    /// The worker process ended while on the request (crashed, ran out of memory, overran
    /// the deadline).
    Lost {
        /// How it ended, for a person.
        how: String,
        /// The signal that ended it.
        signal: Option<i32>,
        /// It showed an allocation failure.
        out_of_memory: bool,
        /// It was ended for overrunning the page's deadline.
        timed_out: bool,
    },
}

/// A file a response names, held in the results bucket until the producer puts it where
/// the request asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredFile {
    /// The object's name.
    pub object: String,
    /// Where the producer writes it (the path the response names).
    pub path: PathBuf,
}

/// The header a packed results message carries, with [`PACKED`] as its value.
pub const ENCODING_HEADER: &str = "Pagemill-Encoding";

/// The value of [`ENCODING_HEADER`]: the payload is [`pack`]ed.
pub const PACKED: &str = "zstd";

/// Compression level of answers. On R-refman's 2,415 pages with the default outputs,
/// level 1 makes 276 MB of JSON 168 MB (1.64×; the layout PDF's page pictures are JPEG in
/// base64, of which zstd wins back only the base64) and took nats-server from 1.8 to 1.1–1.5
/// CPU-s for 0.3–0.4 more on the hosts; level -3 made it 224 MB (1.23×) and the server's
/// CPU went back up (1.6–1.8). Text-only answers (`--format md,json`) shrink 5.7×.
const PACK_LEVEL: i32 = 1;

/// Unpacked answers larger than this are refused (a host's bug must not exhaust the
/// producer's memory): far above a batch of the largest pages.
const MAX_UNPACKED: u64 = 1 << 30;

/// Compresses a reply's JSON for the wire.
pub fn pack(json: &[u8]) -> std::io::Result<Vec<u8>> {
    zstd::bulk::compress(json, PACK_LEVEL)
}

/// Decompresses what [`pack`] made.
pub fn unpack(packed: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    zstd::stream::read::Decoder::new(packed)?
        .take(MAX_UNPACKED + 1)
        .read_to_end(&mut out)?;
    if out.len() as u64 > MAX_UNPACKED {
        return Err(std::io::Error::other("answers larger than 1 GiB unpacked"));
    }
    Ok(out)
}

/// What a producer announces to every worker host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Control {
    /// A document is done: hosts close it and drop their copy.
    Close {
        /// The producer.
        producer: String,
        /// The producer's id for the document.
        doc: u32,
    },
    /// Requests the producer no longer waits for (a cancelled job, an engine stopping):
    /// hosts stop working on them and drop them without an answer.
    Cancel {
        /// The producer.
        producer: String,
        /// The requests.
        requests: Vec<u64>,
    },
}

/// The answer that records a request as failed without a worker's: an open that failed,
/// or a page failed with `crash`.
pub fn failure_response(
    request: u64,
    index: Option<u32>,
    kind: FileErrorKind,
    message: String,
) -> Response {
    match index {
        None => Response::OpenFailed {
            id: request,
            kind,
            message,
        },
        Some(index) => Response::Page {
            id: request,
            result: Box::new(PageResult::bare(PageOutcome::Failed(PageFailure {
                index,
                reason: FailureReason::Crash,
                message,
            }))),
            worker_ms: 0,
        },
    }
}

/// Gives a response the id of the request it answers (a host's workers know the request
/// by the host's own id).
pub fn set_response_id(response: &mut Response, request: u64) {
    match response {
        Response::Opened { id, .. }
        | Response::OpenFailed { id, .. }
        | Response::Page { id, .. }
        | Response::Progress { id, .. } => *id = request,
    }
}

/// A document reference to a stored document, for tests.
#[cfg(test)]
pub(crate) fn stored_doc(id: u32, key: &str) -> pagemill_core::protocol::DocRef {
    pagemill_core::protocol::DocRef {
        id,
        source: pagemill_core::protocol::DocumentSource::Stored {
            store: "pagemill_docs".into(),
            key: key.into(),
            size: 1234,
            name: "a.pdf".into(),
        },
        password: None,
        ocr: Default::default(),
        page_timeout_ms: 60_000,
        preview_dpi: None,
        page_images: false,
        figure_dpi: None,
        erase: None,
        upscale: None,
        upscaled_dir: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_and_replies_round_trip() {
        let doc = stored_doc(7, &"ab".repeat(32));
        let t = Task {
            producer: "p1".into(),
            requests: vec![Request::Page {
                id: 3,
                doc,
                index: 2,
            }],
        };
        let back: Task = serde_json::from_slice(&serde_json::to_vec(&t).unwrap()).unwrap();
        assert_eq!(back, t);
        let r = Reply {
            host: "h".into(),
            body: ReplyBody::Inline {
                answers: vec![Answer {
                    request: 3,
                    outcome: Outcome::Lost {
                        how: "was killed by signal 9".into(),
                        signal: Some(9),
                        out_of_memory: false,
                        timed_out: false,
                    },
                }],
            },
        };
        let back: Reply = serde_json::from_slice(&serde_json::to_vec(&r).unwrap()).unwrap();
        assert_eq!(back, r);
        let json = serde_json::to_vec(&r).unwrap();
        assert_eq!(unpack(&pack(&json).unwrap()).unwrap(), json);
    }

    #[test]
    fn what_is_not_packed_answers_is_refused_on_unpacking() {
        assert!(unpack(b"{\"host\": \"h\"}").is_err());
    }
}

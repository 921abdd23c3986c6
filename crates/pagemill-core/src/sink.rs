//! Where converted pages go: the [`PageSink`] trait.
//!
//! In the spirit of ripgrep's `Sink`: the engine drives a sink through one document —
//! [`begin`](PageSink::begin), then [`page`](PageSink::page) once per selected page in page
//! order, then [`finish`](PageSink::finish) (complete) or [`abort`](PageSink::abort) (the
//! document failed or the job was cancelled). Today's file outputs (Markdown, detections,
//! JSON, hOCR, the PDFs, figure crops) are sinks in `pagemill-export`; a chunker, an indexer
//! or an extractor plugs in from its own crate by implementing this trait and handing a
//! [`SinkFactory`] to the job, without editing a central struct.
//!
//! A sink holds what it needs between pages (an open paragraph, PDF object offsets) and
//! nothing more: the engine never keeps pages for it, so memory stays flat whatever the
//! document's length.

use std::path::PathBuf;

use thiserror::Error;

use crate::model::DocInfo;
use crate::result::PageResult;

/// The document a sink is about to receive.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentMeta {
    /// The engine's id of the document (unique for the engine's life).
    pub doc: u32,
    /// The input as the user named it (a path, or an upload's name), as outputs show it.
    pub source: String,
    /// Where the input can be read, for sinks that copy from it (the searchable PDF,
    /// text removal).
    pub path: std::path::PathBuf,
    /// Name outputs are called after (`<stem>.md` …).
    pub stem: String,
    /// What the worker found when it opened the document.
    pub info: DocInfo,
    /// Pages that will be delivered (the selection, not the page count).
    pub pages: u32,
}

/// Why a sink could not go on; the document fails with this message.
#[derive(Debug, Error)]
pub enum SinkError {
    /// Writing failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Anything else the sink wants to say, in one line for a person.
    #[error("{0}")]
    Other(String),
}

/// A consumer of one document's pages, in page order.
pub trait PageSink: Send {
    /// Called once, before the first page.
    fn begin(&mut self, doc: &DocumentMeta) -> Result<(), SinkError>;
    /// Called once per selected page, in page order (failed pages included).
    fn page(&mut self, page: &PageResult) -> Result<(), SinkError>;
    /// The document is complete: write what is left and say what was produced (local
    /// paths, where there are any).
    fn finish(&mut self) -> Result<Vec<PathBuf>, SinkError>;
    /// The document will not complete: drop partial output. Called instead of `finish`.
    fn abort(&mut self) {}
}

/// Makes a fresh sink for each document of a job.
pub trait SinkFactory: Send + Sync {
    /// A sink for the document `doc`, or `None` when this sink has nothing to do for it.
    fn create(&self, doc: &DocumentMeta) -> Result<Option<Box<dyn PageSink>>, SinkError>;

    /// Bytes these sinks hold for the whole job whatever the page — a model and the
    /// buffers of the threads running it. The engine counts them in its memory budget
    /// while the job runs, so pages are admitted only into what is left. Most sinks hold
    /// a page's worth at most and say 0.
    fn resident_bytes(&self) -> u64 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FailureReason, PageFailure, PageOutcome};

    /// Counts pages and remembers whether it finished.
    #[derive(Default)]
    struct Counter {
        pages: u32,
        finished: bool,
    }

    impl PageSink for Counter {
        fn begin(&mut self, _: &DocumentMeta) -> Result<(), SinkError> {
            Ok(())
        }
        fn page(&mut self, page: &PageResult) -> Result<(), SinkError> {
            self.pages += 1;
            match &page.outcome {
                PageOutcome::Failed(f) if f.message == "stop" => {
                    Err(SinkError::Other("told to stop".into()))
                }
                _ => Ok(()),
            }
        }
        fn finish(&mut self) -> Result<Vec<PathBuf>, SinkError> {
            self.finished = true;
            Ok(Vec::new())
        }
    }

    #[test]
    fn a_sink_is_usable_as_a_trait_object() {
        let mut sink: Box<dyn PageSink> = Box::<Counter>::default();
        let meta = DocumentMeta {
            doc: 1,
            source: "a.pdf".into(),
            path: "a.pdf".into(),
            stem: "a".into(),
            info: DocInfo {
                page_count: 2,
                pdf_version: None,
                title: None,
                kind: Default::default(),
            },
            pages: 2,
        };
        sink.begin(&meta).unwrap();
        let failed = |message: &str| {
            PageResult::bare(PageOutcome::Failed(PageFailure {
                index: 0,
                reason: FailureReason::Invalid,
                message: message.into(),
            }))
        };
        sink.page(&failed("x")).unwrap();
        let err = sink.page(&failed("stop")).unwrap_err();
        assert_eq!(err.to_string(), "told to stop");
        assert!(sink.finish().unwrap().is_empty());
    }
}

//! pagemill-core: the parts of pagemill that need no native library.
//!
//! - [`model`]: the document model every stage speaks (pages, blocks, boxes, failures).
//! - [`layout`]: born-digital text → structure (words, lines, blocks, reading order, kinds).
//! - [`pipeline`]: the bounded-memory primitives of the streaming engine (memory budget,
//!   reorder window).
//! - [`protocol`]: the framed messages exchanged with workers, with request ids.
//! - [`result`]: one page's result ([`PageResult`]) and the pictures that come with it.
//! - [`settings`]: per-job settings that travel with each request (OCR, erasure).
//! - [`sink`]: the [`PageSink`](sink::PageSink) trait every output implements.
//! - [`ranges`]: `--pages` range parsing.
//! - [`size`]: byte sizes for people (`512MiB` in, `1.5 GiB` out).
//! - [`textsim`]: text similarity against reference text (tests, benchmarks).

#![forbid(unsafe_code)]

pub mod layout;
pub mod model;
pub mod pipeline;
pub mod protocol;
pub mod ranges;
pub mod result;
pub mod settings;
pub mod sink;
pub mod size;
pub mod textsim;

pub use model::{
    BBox, Block, BlockKind, DocInfo, DocKind, FailureReason, Line, Page, PageFailure, PageOutcome,
};
pub use result::PageResult;

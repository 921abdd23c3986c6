//! pagemill-engine: the streaming conversion engine.
//!
//! Data flows **source → workers → ordered sinks**:
//! - the *source* ([`job`]) walks the inputs and their selected pages lazily, admitting a
//!   page only when the [`MemoryBudget`](pagemill_core::pipeline::MemoryBudget) has room and
//!   the page is within the reorder window of its document;
//! - *workers* ([`pool`], [`worker`]) are child processes (the same executable, run as
//!   `pagemill internal-worker`), each with its own PDFium, converting one page at a time;
//!   a worker that dies is replaced and its page retried once;
//! - *sinks* ([`pagemill_export`]) receive each document's pages in order as soon as the
//!   next one is ready, and write them straight to disk.
//!
//! Nothing is kept per page once it is written: page count changes time, never peak memory.

mod checkpoint;
mod erase;
mod figures;
pub mod inputs;
pub mod job;
mod ocr;
pub mod pool;
mod preview;
mod report;
pub mod rss;
mod source;
pub mod worker;

pub use checkpoint::RESUME_DIR;
pub use inputs::{plan_inputs, Input};
pub use job::{convert, ConvertOptions, Event, FileReport, RunSummary};

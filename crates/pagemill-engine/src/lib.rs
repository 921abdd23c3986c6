//! pagemill-engine: the conversion engine behind every front end.
//!
//! An [`Engine`] lives as long as the process: it owns the workers and the one memory
//! budget, and runs every [`JobSpec`] submitted to it, interleaving their pages fairly.
//! Data flows **source → scheduler → transport → worker → sinks**:
//! - [`scheduler`](crate::scheduler) (the parent side): walks each job's inputs and pages
//!   lazily, admits a page only when the memory budget has room and the page is within
//!   its document's reorder window, matches answers to requests by id, restores page
//!   order and hands each page to the document's sinks;
//! - [`transport`]: how requests reach workers — [`transport::process`] runs one child
//!   process per worker (`pagemill internal-worker`), replaced when it dies;
//! - [`worker`]: the page pipeline inside a worker (read → OCR → figures → preview →
//!   erase), a function from request to response;
//! - sinks ([`pagemill_core::sink::PageSink`]): the file outputs of `pagemill_export`, and
//!   any a job adds.
//!
//! Progress comes back as owned [`JobEvent`]s on a bounded channel per job; the end as a
//! [`JobSummary`]. Nothing is kept per page once it is written: page count changes time,
//! never peak memory.

pub mod config;
mod engine;
pub mod events;
pub mod inputs;
pub mod rss;
mod run;
mod scheduler;
pub mod stats;
pub mod transport;
pub mod worker;

pub use config::{EngineConfig, JobSpec, SourceLabel};
pub use engine::{Engine, EngineError, JobHandle};
pub use events::{FileReport, JobEvent, JobSummary, PageStatus, EVENT_SCHEMA_VERSION};
pub use inputs::{plan_inputs, Input, InputError};
pub use run::{convert, run_job};
pub use scheduler::{resume_records, RESUME_DIR, STOP_WAIT};
pub use stats::EngineStats;

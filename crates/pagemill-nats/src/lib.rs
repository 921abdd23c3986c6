//! pagemill-nats: the engine's pages over NATS JetStream, so `pagemill worker` processes on
//! many machines share the work of one engine (or of many).
//!
//! Data flows **producer → work stream → worker hosts → results stream → producer**:
//! - [`producer`]: [`NatsTransport`], the engine's [`WorkerTransport`] over NATS. Each
//!   document goes into the object store once (named by its SHA-256, in 128 KiB chunks);
//!   each request becomes a [`wire::Task`] on the work-queue stream; answers come back on
//!   the results stream, large ones through the object store, and go to the scheduler as a
//!   local worker's would — same reorder window, same sinks, same files;
//! - [`node`]: a worker host (`pagemill worker --nats`). It runs local worker processes
//!   (the same `internal-worker` the local engine runs), pulls a task only when a process
//!   is free and its memory budget admits the page, fetches the document to a local cache,
//!   keeps the page's deadline, sends in-progress acknowledgements while a page runs, and
//!   acknowledges the task only once its answer is stored in the results stream;
//! - [`board`]: the services' job board (`pagemill serve --nats`) in key-value, so a
//!   service that dies has its jobs taken up by another;
//! - [`names`]: the subjects, streams and buckets under one prefix;
//! - [`connect`]: credentials (user and password, token, nkey seed, creds file — read from
//!   files or the environment, never from a URL or a command line) and TLS.
//!
//! Only what nats-server 2.9 supports is used (docs/scale-out-research.md records what was
//! tested against it and why each choice was made).
//!
//! [`WorkerTransport`]: pagemill_engine::transport::WorkerTransport

#![forbid(unsafe_code)]

pub mod board;
pub mod connect;
mod error;
pub mod names;
pub mod node;
pub mod producer;
mod runtime;
pub mod store;
pub mod streams;
pub mod wire;

pub use board::{BoardError, JobBoard};
pub use connect::{Credentials, NatsOptions};
pub use error::NatsError;
pub use node::{run_node, NodeConfig, NodeReport};
pub use producer::NatsTransport;

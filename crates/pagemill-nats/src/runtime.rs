//! The Tokio runtime the NATS client needs: the engine and the worker host are threads, so
//! each owns a small runtime and bridges to it.

use crate::NatsError;

/// A runtime with two threads: the client's I/O and a few light tasks (publishing,
/// reading answers) need no more, and the cores are the worker processes'.
pub(crate) fn new_runtime(name: &str) -> Result<tokio::runtime::Runtime, NatsError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(format!("pagemill-{name}"))
        .enable_all()
        .build()
        .map_err(|e| NatsError::io("cannot start the NATS client's runtime", e))
}

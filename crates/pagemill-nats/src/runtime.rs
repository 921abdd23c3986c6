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

/// Runs `fut` to completion on `rt` from synchronous code — also from a thread that is
/// itself driving another runtime (the service starts its engine inside its own async
/// setup), where blocking in place would panic: then it blocks on a helper thread.
pub(crate) fn block_on<F>(rt: &tokio::runtime::Runtime, fut: F) -> F::Output
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    if tokio::runtime::Handle::try_current().is_err() {
        return rt.block_on(fut);
    }
    std::thread::scope(|s| {
        s.spawn(|| rt.block_on(fut))
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

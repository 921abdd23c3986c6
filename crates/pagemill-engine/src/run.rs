//! The one-shot way to use the engine: start it, run one job, stop it. What the CLI does.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::config::{EngineConfig, JobSpec};
use crate::engine::{Engine, EngineError};
use crate::events::{JobEvent, JobSummary};

/// Runs one job on an engine of its own, calling `observe` with each event as it comes.
/// Setting `stop` (from a signal handler, say) cancels the job: pages in flight finish,
/// complete documents are written. Failures of pages and files are in the summary; only a
/// failure to run at all is an error.
pub fn convert(
    config: EngineConfig,
    spec: JobSpec,
    stop: &AtomicBool,
    observe: impl FnMut(&JobEvent),
) -> Result<JobSummary, EngineError> {
    let engine = Engine::start(config)?;
    let summary = run_job(&engine, spec, stop, observe);
    engine.shutdown();
    summary
}

/// Runs one job on `engine` (any transport), calling `observe` with each event; `stop`
/// cancels it as in [`convert`].
pub fn run_job(
    engine: &Engine,
    spec: JobSpec,
    stop: &AtomicBool,
    mut observe: impl FnMut(&JobEvent),
) -> Result<JobSummary, EngineError> {
    let job = engine.submit(spec)?;
    let mut cancelled = false;
    loop {
        if !cancelled && stop.load(Ordering::Relaxed) {
            job.cancel();
            cancelled = true;
        }
        match job.next_event(Duration::from_millis(100)) {
            Some(ev) => {
                let last = matches!(ev, JobEvent::Summary { .. });
                observe(&ev);
                if last {
                    break;
                }
            }
            None if job.is_finished() => {
                // The summary event itself may have been missed by a slow reader.
                while let Ok(ev) = job.events().try_recv() {
                    observe(&ev);
                }
                break;
            }
            None => {}
        }
    }
    Ok(job.wait())
}

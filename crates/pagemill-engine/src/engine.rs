//! The long-lived [`Engine`]: one per process, owning the workers and the memory budget,
//! taking any number of jobs at once.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use pagemill_core::model::FileErrorKind;

use crate::config::{EngineConfig, JobSpec};
use crate::events::{EventSender, FileReport, JobEvent, JobSummary};
use crate::inputs::{plan_inputs, InputError};
use crate::scheduler::{Inbox, JobOutcome, NewJob, Scheduler};
use crate::stats::EngineStats;
use crate::transport::process::ProcessPool;
use crate::transport::{EventTx, TransportError, WorkerTransport};

/// Why the engine could not start or take a job.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Workers could not be started.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// PDFium is not installed where workers look for it.
    #[error(transparent)]
    Pdfium(#[from] pagemill_pdf::PdfError),
    /// A job asks for OCR languages that are not installed.
    #[error(transparent)]
    Languages(pagemill_ocr::OcrError),
    /// This process's executable (the default worker) could not be found.
    #[error("cannot find the pagemill executable to start workers: {0}")]
    Executable(std::io::Error),
    /// The output directory could not be created.
    #[error("cannot create the output directory {path}: {source}")]
    Output {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// None of the inputs is a readable file.
    #[error("nothing to convert: no readable PDF or image among the inputs")]
    NothingToConvert {
        /// What was wrong with each input.
        errors: Vec<InputError>,
    },
    /// The engine has stopped (shut down, or its workers could not be restarted).
    #[error("the engine has stopped")]
    Stopped,
}

/// Documents a job may have, at most, so document ids of jobs never overlap.
const DOCS_PER_JOB_LIMIT: u32 = 1 << 20;

/// The conversion engine: a scheduler thread with its workers and memory budget, for the
/// life of the process. Front ends (the CLI, the service) submit jobs to one engine, so
/// every page of every job runs under the one budget.
pub struct Engine {
    inbox: Sender<Inbox>,
    thread: Option<JoinHandle<()>>,
    config: EngineConfig,
    stats: Arc<EngineStats>,
    next_job: AtomicU64,
    next_doc: AtomicU32,
    /// The workers run on this machine (their OCR languages can be checked here).
    local_workers: bool,
}

impl Engine {
    /// Starts the engine with local worker processes. Checks first, in this process, that
    /// workers will find PDFium: one clear error beats one per worker.
    pub fn start(config: EngineConfig) -> Result<Engine, EngineError> {
        crate::worker::locate_pdfium()?;
        let exe = match &config.worker_exe {
            Some(p) => p.clone(),
            None => std::env::current_exe().map_err(EngineError::Executable)?,
        };
        let pool = ProcessPool::new(
            exe,
            config.workers.max(1),
            Some(config.worker_memory_limit()),
        );
        Engine::with_transport(config, Box::new(pool))
    }

    /// Starts the engine over any transport (a network one, or a fake in tests).
    pub fn with_transport(
        config: EngineConfig,
        mut transport: Box<dyn WorkerTransport>,
    ) -> Result<Engine, EngineError> {
        let (tx, rx) = mpsc::channel();
        let events_tx = tx.clone();
        let events: EventTx = Arc::new(move |ev| events_tx.send(Inbox::Worker(ev)).is_ok());
        transport.start(events)?;
        let local_workers = transport.workers_are_local();
        let worker_memory = Some(config.worker_memory_limit());
        let scheduler = Scheduler::new(transport, rx, config.memory_budget, worker_memory);
        let stats = scheduler.stats();
        let thread = std::thread::Builder::new()
            .name("pagemill-scheduler".into())
            .spawn(move || scheduler.run())
            .map_err(|e| {
                EngineError::Transport(TransportError {
                    what: "the scheduler thread".into(),
                    source: e,
                })
            })?;
        Ok(Engine {
            inbox: tx,
            thread: Some(thread),
            config,
            stats,
            next_job: AtomicU64::new(1),
            next_doc: AtomicU32::new(1),
            local_workers,
        })
    }

    /// What the engine has done so far (worker restarts…), for metrics.
    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }

    /// The machine settings the engine runs with.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Submits a job; it starts at once, sharing the workers with every other job. Inputs
    /// that do not exist are reported in the job's summary as failed files; a job with no
    /// input left at all is refused.
    pub fn submit(&self, spec: JobSpec) -> Result<JobHandle, EngineError> {
        if spec.may_ocr() && self.local_workers {
            // Reads the data directory only; Tesseract itself starts in the workers.
            pagemill_ocr::tesseract::check_languages(&spec.ocr.languages)
                .map_err(EngineError::Languages)?;
        }
        std::fs::create_dir_all(&spec.output).map_err(|source| EngineError::Output {
            path: spec.output.clone(),
            source,
        })?;
        let (inputs, errors) = plan_inputs(&spec.inputs, &spec.output);
        if inputs.is_empty() {
            return Err(EngineError::NothingToConvert { errors });
        }
        let refused = errors
            .iter()
            .map(|e| FileReport {
                path: e.path.clone(),
                error: Some(e.message.clone()),
                error_kind: Some(FileErrorKind::NotFound),
                ..Default::default()
            })
            .collect();
        let id = self.next_job.fetch_add(1, Ordering::Relaxed);
        let docs = (inputs.len() as u32).min(DOCS_PER_JOB_LIMIT);
        let first_doc = self.next_doc.fetch_add(docs, Ordering::Relaxed);
        let (events, receiver) = EventSender::channel(id, self.config.event_capacity);
        let outcome = Arc::new(JobOutcome::default());
        let job = NewJob {
            id,
            spec,
            inputs,
            refused,
            events,
            outcome: Arc::clone(&outcome),
            first_doc,
        };
        self.inbox
            .send(Inbox::Submit(Box::new(job)))
            .map_err(|_| EngineError::Stopped)?;
        Ok(JobHandle {
            id,
            events: receiver,
            outcome,
            inbox: self.inbox.clone(),
            input_errors: errors,
        })
    }

    /// Stops every job (pages in flight get a few seconds to finish, complete documents
    /// are written) and the workers, and waits for that.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let _ = self.inbox.send(Inbox::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A submitted job: its events, and its end.
pub struct JobHandle {
    id: u64,
    events: Receiver<JobEvent>,
    outcome: Arc<JobOutcome>,
    inbox: Sender<Inbox>,
    input_errors: Vec<InputError>,
}

impl JobHandle {
    /// The job's id (unique for the engine's life).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The job's events, in order; the last one is [`JobEvent::Summary`]. The channel is
    /// bounded: a reader that falls behind misses events and is told so with
    /// [`JobEvent::Lagged`] — the scheduler never waits for it.
    pub fn events(&self) -> &Receiver<JobEvent> {
        &self.events
    }

    /// The next event, waiting up to `timeout`; `None` on timeout or after the last one.
    pub fn next_event(&self, timeout: Duration) -> Option<JobEvent> {
        self.events.recv_timeout(timeout).ok()
    }

    /// Stops the job: no new page starts, pages in flight get a few seconds to finish,
    /// documents that are complete are written, unfinished ones leave nothing behind.
    pub fn cancel(&self) {
        let _ = self.inbox.send(Inbox::Cancel(self.id));
    }

    /// Whether the job is over.
    pub fn is_finished(&self) -> bool {
        self.outcome.get().is_some()
    }

    /// Waits for the end of the job and returns how it went (whatever events were missed).
    pub fn wait(&self) -> JobSummary {
        self.outcome.wait()
    }

    /// Inputs that were refused at submission (not found, not readable), one line each.
    pub fn input_errors(&self) -> &[InputError] {
        &self.input_errors
    }
}

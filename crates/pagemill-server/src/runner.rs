//! Runs queued jobs on the shared engine: a dispatcher thread hands the oldest queued jobs
//! to the engine (a few at a time; their pages interleave there, under its one memory
//! budget), and one thread per running job records the engine's events in the store and
//! wakes the job's event streams.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pagemill_engine::{Engine, EngineError, JobEvent, JobHandle, JobSummary};
use serde_json::Value;

use crate::config::LlmConfig;
use crate::data::DataDir;
use crate::indexes::Indexes;
use crate::live::Live;
use crate::options::JobOptions;
use crate::store::{EventBatch, JobRecord, JobState, PageErrorRecord, Store};
use pagemill_extract::Gate;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Events recorded in one transaction at most: a page event costs a row, and a batch
/// keeps a 2,000-page born-digital job (~600 pages/s) to a few transactions a second.
const BATCH: usize = 256;

/// How often a running job's thread looks for a cancellation while no event comes.
const POLL: Duration = Duration::from_millis(200);

struct Shared {
    /// Taken at shutdown.
    engine: Mutex<Option<Engine>>,
    store: Arc<Store>,
    data: DataDir,
    live: Arc<Live>,
    indexes: Arc<Indexes>,
    llm: Option<Llm>,
    max_running: usize,
    /// Running jobs and their cancellation flags.
    running: Mutex<HashMap<String, Arc<AtomicBool>>>,
    wake: Condvar,
    /// Set when the server stops: no new job starts, and jobs interrupted by the engine's
    /// shutdown stay `running` in the store, to resume at the next start.
    stopping: AtomicBool,
}

/// The LLM endpoint of extraction jobs, and the limit on requests in flight that all of
/// them share.
pub(crate) struct Llm {
    pub config: LlmConfig,
    pub gate: Arc<Gate>,
}

/// The job runner.
#[derive(Clone)]
pub struct Runner {
    shared: Arc<Shared>,
}

impl Runner {
    /// Starts the dispatcher over `engine`.
    pub fn start(
        engine: Engine,
        store: Arc<Store>,
        data: DataDir,
        live: Arc<Live>,
        indexes: Arc<Indexes>,
        llm: Option<LlmConfig>,
        max_running: usize,
    ) -> std::io::Result<Runner> {
        let runner = Runner {
            shared: Arc::new(Shared {
                engine: Mutex::new(Some(engine)),
                store,
                data,
                live,
                indexes,
                llm: llm.map(|config| Llm {
                    gate: Gate::new(config.concurrency),
                    config,
                }),
                max_running: max_running.max(1),
                running: Mutex::new(HashMap::new()),
                wake: Condvar::new(),
                stopping: AtomicBool::new(false),
            }),
        };
        let r = runner.clone();
        std::thread::Builder::new()
            .name("pagemill-dispatch".into())
            .spawn(move || r.dispatch())?;
        Ok(runner)
    }

    /// The LLM settings of extraction jobs, if the server has an endpoint.
    pub(crate) fn llm(&self) -> Option<&Llm> {
        self.shared.llm.as_ref()
    }

    /// A job was queued (or one ended): look for work.
    pub fn poke(&self) {
        self.shared.wake.notify_all();
    }

    /// Jobs running now.
    pub fn running(&self) -> usize {
        self.lock_running().len()
    }

    /// Asks a running job to stop; `false` if it is not running.
    pub fn cancel(&self, id: &str) -> bool {
        match self.lock_running().get(id) {
            Some(flag) => {
                flag.store(true, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// The engine's counters `(worker restarts, workers recycled)`; zeros once it is down.
    pub fn engine_counters(&self) -> (u64, u64) {
        self.lock_engine().as_ref().map_or((0, 0), |e| {
            (e.stats().worker_restarts(), e.stats().workers_recycled())
        })
    }

    /// Whether the engine is up (not shut down).
    pub fn engine_up(&self) -> bool {
        self.lock_engine().is_some()
    }

    /// Stops starting jobs, and shuts the engine down: pages in flight get a few seconds,
    /// complete documents are written, and running jobs stay `running` in the store, to
    /// resume from their checkpoints at the next start.
    pub fn shutdown(&self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.poke();
        let engine = self.lock_engine().take();
        if let Some(engine) = engine {
            engine.shutdown();
        }
    }

    fn lock_engine(&self) -> std::sync::MutexGuard<'_, Option<Engine>> {
        self.shared.engine.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn submit(&self, spec: pagemill_engine::JobSpec) -> Result<JobHandle, EngineError> {
        match self.lock_engine().as_ref() {
            Some(engine) => engine.submit(spec),
            None => Err(EngineError::Stopped),
        }
    }

    fn lock_running(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<AtomicBool>>> {
        self.shared
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn dispatch(&self) {
        let s = &self.shared;
        loop {
            if s.stopping.load(Ordering::SeqCst) {
                return;
            }
            let mut started = false;
            while self.running() < s.max_running {
                match s.store.take_next(now_ms()) {
                    Ok(Some(job)) => {
                        self.launch(job);
                        started = true;
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot read the job queue");
                        break;
                    }
                }
            }
            if started {
                continue;
            }
            let guard = self.lock_running();
            // Timed: a poke between the check above and this wait is not lost for long.
            let _ = s.wake.wait_timeout(guard, Duration::from_secs(1));
        }
    }

    /// Starts `job` on the engine, with a thread recording its events.
    fn launch(&self, job: JobRecord) {
        let s = &self.shared;
        let cancel = Arc::new(AtomicBool::new(false));
        self.lock_running()
            .insert(job.id.clone(), Arc::clone(&cancel));
        let options: JobOptions = serde_json::from_str(&job.options).unwrap_or_default();
        let inputs = job
            .inputs
            .iter()
            .map(|name| s.data.inputs(&job.id).join(name))
            .collect();
        let mut spec = options.to_spec(inputs, s.data.outputs(&job.id), job.resume);
        let runner = self.clone();
        let id = job.id.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("job-{}", job.id_short()))
            .spawn(move || {
                let id = job.id.clone();
                // An index job's pages go to the index's sinks (and nowhere else: its
                // options ask for no file output).
                let sink = match options.index.as_deref() {
                    Some(name) => runner
                        .shared
                        .indexes
                        .sink(&crate::Owner(job.owner.clone()), name, &spec.inputs)
                        .map(Some),
                    None => Ok(None),
                };
                match sink {
                    Err(e) => runner.refused(&job, &e.to_string()),
                    Ok(_) if options.extract.is_some() => {
                        crate::extraction::run(&runner, &job, spec, &options, &cancel);
                    }
                    Ok(sink) => {
                        spec.sinks.extend(sink);
                        match runner.submit(spec) {
                            Ok(handle) => runner.follow(&job, &handle, &cancel),
                            // Stopping: the job stays `running`, to start again at the next start.
                            Err(EngineError::Stopped) => {}
                            Err(e) => runner.refused(&job, &e.to_string()),
                        }
                    }
                }
                runner.lock_running().remove(&id);
                runner.poke();
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, job = %id, "cannot start a job thread");
            self.lock_running().remove(&id);
            let _ = s
                .store
                .finish(&id, JobState::Failed, Some("server overloaded"), now_ms());
            s.live.close(&id);
        }
    }

    /// The job could not start: the engine refused it (no readable input, a missing OCR
    /// language), or its index could not be opened.
    pub(crate) fn refused(&self, job: &JobRecord, message: &str) {
        let s = &self.shared;
        let event = serde_json::json!({"event": "state", "job": job.id, "state": "failed", "error": message});
        let batch = EventBatch {
            events: vec![event.to_string()],
            ..Default::default()
        };
        let seq = s.store.append(&job.id, &batch).unwrap_or(0);
        if let Err(e) = s
            .store
            .finish(&job.id, JobState::Failed, Some(message), now_ms())
        {
            tracing::error!(error = %e, "cannot record a job's end");
        }
        s.live.notify(&job.id, seq);
        s.live.close(&job.id);
    }

    /// Records the job's events until its summary, then its end.
    fn follow(&self, job: &JobRecord, handle: &JobHandle, cancel: &AtomicBool) {
        if let Some((summary, cancelled)) = self.follow_events(job, handle, cancel) {
            let (state, error) = final_state(&summary, cancelled);
            self.conclude(job, state, error.as_deref());
        }
    }

    /// Records the job's events until its summary: the summary and whether the job was
    /// cancelled, or `None` when the server is stopping (the job then stays `running`, to
    /// resume at the next start).
    pub(crate) fn follow_events(
        &self,
        job: &JobRecord,
        handle: &JobHandle,
        cancel: &AtomicBool,
    ) -> Option<(JobSummary, bool)> {
        let s = &self.shared;
        let paths = Paths::new(&s.data, &job.id);
        let state = serde_json::json!({"event": "state", "job": job.id, "state": "running"});
        self.record(job, vec![state.to_string()], EventBatch::default());
        let mut cancelled = false;
        let mut over = false;
        while !over {
            let Some(first) = handle.next_event(POLL) else {
                if cancel.load(Ordering::Relaxed) && !cancelled {
                    cancelled = true;
                    handle.cancel();
                }
                // Nothing came for a while and the job is over: its last events were
                // dropped for lag (the summary from `wait` below still holds).
                if handle.is_finished() {
                    break;
                }
                continue;
            };
            let mut batch = EventBatch::default();
            let mut events = Vec::new();
            let mut next = Some(first);
            while let Some(ev) = next {
                over |= matches!(ev, JobEvent::Summary { .. });
                count(&ev, &paths, &mut batch);
                if !matches!(ev, JobEvent::Memory { .. }) {
                    events.push(paths.public_json(&ev, &job.id));
                }
                next = if events.len() < BATCH {
                    handle.events().try_recv().ok()
                } else {
                    None
                };
            }
            crate::metrics::pages(batch.add_done, batch.add_failed);
            self.record(job, events, batch);
        }
        let summary = handle.wait();
        if summary.interrupted && !cancelled && s.stopping.load(Ordering::SeqCst) {
            return None;
        }
        Some((summary, cancelled))
    }

    /// Records the job's end.
    pub(crate) fn conclude(&self, job: &JobRecord, state: JobState, error: Option<&str>) {
        let s = &self.shared;
        let event = serde_json::json!({"event": "state", "job": job.id, "state": state.as_str()});
        self.record(job, vec![event.to_string()], EventBatch::default());
        if let Err(e) = s.store.finish(&job.id, state, error, now_ms()) {
            tracing::error!(error = %e, "cannot record a job's end");
        }
        s.live.close(&job.id);
    }

    /// Records events that are not the engine's (an extraction's section events), as
    /// they come.
    pub(crate) fn record_json(&self, job: &JobRecord, events: Vec<String>) {
        self.record(job, events, EventBatch::default());
    }

    fn record(&self, job: &JobRecord, events: Vec<String>, mut batch: EventBatch) {
        let s = &self.shared;
        batch.events = events;
        match s.store.append(&job.id, &batch) {
            Ok(seq) => s.live.notify(&job.id, seq),
            Err(e) => tracing::error!(error = %e, job = %job.id_short(), "cannot record events"),
        }
    }
}

impl JobRecord {
    /// The id's first characters, for logs.
    pub fn id_short(&self) -> &str {
        &self.id[..self.id.len().min(8)]
    }
}

/// How a finished job is reported.
pub(crate) fn final_state(summary: &JobSummary, cancelled: bool) -> (JobState, Option<String>) {
    if cancelled {
        return (JobState::Cancelled, None);
    }
    let file_error = summary.files.iter().find_map(|f| f.error.clone());
    if summary.pages_ok() == 0 && (summary.files_failed() > 0 || summary.pages_failed() > 0) {
        (
            JobState::Failed,
            file_error.or_else(|| Some("no page could be converted".into())),
        )
    } else if summary.files_failed() > 0 || summary.pages_failed() > 0 {
        (JobState::Partial, file_error)
    } else {
        (JobState::Succeeded, None)
    }
}

/// What one event adds to the job's counters.
fn count(ev: &JobEvent, paths: &Paths, batch: &mut EventBatch) {
    match ev {
        JobEvent::FileStarted { pages, .. } => batch.add_total += u64::from(*pages),
        JobEvent::Page {
            file,
            page,
            status,
            reason,
            message,
            ..
        } => match status {
            pagemill_engine::PageStatus::Ok => batch.add_done += 1,
            pagemill_engine::PageStatus::Failed => {
                batch.add_failed += 1;
                batch.errors.push(PageErrorRecord {
                    file: paths.public(&file.to_string_lossy()),
                    page: *page,
                    reason: reason.clone().unwrap_or_default(),
                    message: message.clone().unwrap_or_default(),
                });
            }
        },
        _ => {}
    }
}

/// The job's folders as the server sees them, to keep server paths out of what clients see.
struct Paths {
    input: String,
    output: String,
}

impl Paths {
    fn new(data: &DataDir, id: &str) -> Self {
        let dir = |p: &Path| format!("{}/", p.to_string_lossy());
        Paths {
            input: dir(&data.inputs(id)),
            output: dir(&data.outputs(id)),
        }
    }

    /// A path as the client knows it: an input by its name, an output relative to the
    /// job's outputs.
    fn public(&self, s: &str) -> String {
        s.strip_prefix(&self.input)
            .or_else(|| s.strip_prefix(&self.output))
            .unwrap_or(s)
            .to_string()
    }

    fn rewrite(&self, v: &mut Value) {
        match v {
            Value::String(s) => *s = self.public(s),
            Value::Array(items) => items.iter_mut().for_each(|i| self.rewrite(i)),
            Value::Object(map) => map.values_mut().for_each(|i| self.rewrite(i)),
            _ => {}
        }
    }

    /// The event as clients get it: the engine's `JobEvent` JSON with the service's job
    /// id in `job`, and paths relative to the job.
    fn public_json(&self, ev: &JobEvent, id: &str) -> String {
        let mut v = serde_json::to_value(ev).unwrap_or(Value::Null);
        self.rewrite(&mut v);
        if let Value::Object(map) = &mut v {
            map.insert("job".into(), Value::String(id.to_string()));
        }
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pagemill_engine::FileReport;

    #[test]
    fn events_name_files_as_the_client_does() {
        let data = DataDir::new("/srv/data".into());
        let paths = Paths::new(&data, "abc");
        let ev = JobEvent::FileStarted {
            job: 7,
            doc: 1,
            file: "/srv/data/jobs/abc/input/report.pdf".into(),
            output: "/srv/data/jobs/abc/output/report".into(),
            pages: 2,
            page_count: 2,
        };
        let v: Value = serde_json::from_str(&paths.public_json(&ev, "abc")).unwrap();
        assert_eq!(v["job"], "abc");
        assert_eq!(v["file"], "report.pdf");
        assert_eq!(v["output"], "report");
        let mut batch = EventBatch::default();
        count(&ev, &paths, &mut batch);
        assert_eq!(batch.add_total, 2);
    }

    #[test]
    fn final_states() {
        let ok = FileReport {
            pages: 2,
            ok: 2,
            ..Default::default()
        };
        let mut s = JobSummary {
            files: vec![ok.clone()],
            ..Default::default()
        };
        assert_eq!(final_state(&s, false).0, JobState::Succeeded);
        assert_eq!(final_state(&s, true).0, JobState::Cancelled);
        s.files.push(FileReport {
            error: Some("cannot open".into()),
            ..Default::default()
        });
        assert_eq!(final_state(&s, false).0, JobState::Partial);
        s.files.remove(0);
        assert_eq!(
            final_state(&s, false),
            (JobState::Failed, Some("cannot open".into()))
        );
    }
}

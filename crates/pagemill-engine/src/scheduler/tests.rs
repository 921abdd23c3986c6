//! The scheduler on an in-memory transport: fairness across jobs, budget admission,
//! retries after a crash, cancellation, and page order restored after out-of-order answers.
//!
//! The fake transport's workers are threads that answer after a delay; a document's page
//! count is in its file name (`big-200.pdf` has 200 pages), so no PDF is read.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pagemill_core::protocol::{Request, Response};
use pagemill_core::sink::{DocumentMeta, PageSink, SinkError, SinkFactory};
use pagemill_core::{DocInfo, Page, PageOutcome, PageResult};
use pagemill_export::Formats;

use crate::config::{EngineConfig, JobSpec, TEXT_PAGE_COST};
use crate::engine::Engine;
use crate::transport::{Ended, EventTx, TransportError, TransportEvent, WorkerTransport};

/// What the fake workers were asked and did.
#[derive(Default)]
struct Record {
    /// Pages being worked on now, and the most at once.
    busy: AtomicUsize,
    most_busy: AtomicUsize,
    /// `(file stem, page index)` of pages whose first attempt crashes the worker.
    crash_once: Mutex<Vec<(String, u32)>>,
}

/// In-memory workers: one thread per slot, answering after `delay`, in order per slot.
struct FakeTransport {
    slots: Vec<Option<Sender<Request>>>,
    generations: Vec<u64>,
    events: Option<EventTx>,
    delay: Duration,
    /// Slot `i` answers after `delay * (1 + i)`, so slots finish out of order.
    skew: bool,
    record: Arc<Record>,
}

impl FakeTransport {
    fn new(slots: usize, delay: Duration, record: Arc<Record>) -> Self {
        FakeTransport {
            slots: (0..slots).map(|_| None).collect(),
            generations: vec![0; slots],
            events: None,
            delay,
            skew: false,
            record,
        }
    }

    fn spawn(&mut self, slot: usize) {
        let (tx, rx) = mpsc::channel::<Request>();
        self.generations[slot] += 1;
        let generation = self.generations[slot];
        let Some(events) = self.events.clone() else {
            return;
        };
        let delay = if self.skew {
            self.delay * (1 + slot as u32)
        } else {
            self.delay
        };
        let record = Arc::clone(&self.record);
        std::thread::spawn(move || {
            let mut docs: Vec<(u32, String, u32)> = Vec::new();
            for req in rx {
                let response = match req {
                    Request::Open { id, doc } => {
                        let path = doc.source.local_path().unwrap_or(Path::new("")).to_owned();
                        let stem = path.file_stem().unwrap_or_default().to_string_lossy();
                        let pages = stem
                            .rsplit('-')
                            .next()
                            .and_then(|n| n.parse().ok())
                            .unwrap_or(1);
                        docs.push((doc.id, stem.into_owned(), pages));
                        Response::Opened {
                            id,
                            info: DocInfo {
                                page_count: pages,
                                pdf_version: None,
                                title: None,
                                kind: Default::default(),
                            },
                        }
                    }
                    Request::Page { id, doc, index } => {
                        let now = record.busy.fetch_add(1, Ordering::SeqCst) + 1;
                        record.most_busy.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(delay);
                        record.busy.fetch_sub(1, Ordering::SeqCst);
                        let stem = docs
                            .iter()
                            .find(|d| d.0 == doc.id)
                            .map(|d| d.1.clone())
                            .unwrap_or_default();
                        let crash = {
                            let mut c = record.crash_once.lock().unwrap();
                            let hit = c.iter().position(|p| p.0 == stem && p.1 == index);
                            hit.map(|i| c.remove(i)).is_some()
                        };
                        if crash {
                            events(TransportEvent::Exited {
                                slot,
                                generation,
                                error: None,
                            });
                            return;
                        }
                        let page = Page::new(index, 612.0, 792.0, Vec::new());
                        Response::Page {
                            id,
                            result: Box::new(PageResult::bare(PageOutcome::Ok(page))),
                            worker_ms: delay.as_millis() as u32,
                        }
                    }
                    Request::Close { .. } => continue,
                };
                if !events(TransportEvent::Message {
                    slot,
                    generation,
                    response,
                    bytes: 1000,
                }) {
                    return;
                }
            }
        });
        self.slots[slot] = Some(tx);
    }
}

impl WorkerTransport for FakeTransport {
    fn start(&mut self, events: EventTx) -> Result<(), TransportError> {
        self.events = Some(events);
        for slot in 0..self.slots.len() {
            self.spawn(slot);
        }
        Ok(())
    }
    fn slots(&self) -> usize {
        self.slots.len()
    }
    fn generation(&self, slot: usize) -> u64 {
        self.generations[slot]
    }
    fn send(&mut self, slot: usize, req: &Request) -> bool {
        self.slots[slot]
            .as_ref()
            .is_some_and(|tx| tx.send(req.clone()).is_ok())
    }
    fn kill(&mut self, slot: usize) {
        self.slots[slot] = None;
    }
    fn replace(&mut self, slot: usize) -> Result<Ended, TransportError> {
        self.spawn(slot);
        Ok(Ended {
            how: "crashed".into(),
            signal: None,
            out_of_memory: false,
            timed_out: false,
        })
    }
    fn recycle(&mut self, slot: usize) -> Result<(), TransportError> {
        self.spawn(slot);
        Ok(())
    }
    fn take_out_of_memory(&self, _slot: usize) -> bool {
        false
    }
    fn worker_rss(&self, _slot: usize) -> Option<u64> {
        None
    }
    fn tree_rss(&self) -> u64 {
        1
    }
}

/// Each finished document's stem and the page indices its sink received, in order.
type Seen = Arc<Mutex<Vec<(String, Vec<u32>)>>>;

/// Remembers the page indices each document's sink received.
#[derive(Default)]
struct Recorder(Seen);

struct RecordingSink {
    all: Seen,
    stem: String,
    pages: Vec<u32>,
}

impl SinkFactory for Recorder {
    fn create(&self, doc: &DocumentMeta) -> Result<Option<Box<dyn PageSink>>, SinkError> {
        Ok(Some(Box::new(RecordingSink {
            all: Arc::clone(&self.0),
            stem: doc.stem.clone(),
            pages: Vec::new(),
        })))
    }
}

impl PageSink for RecordingSink {
    fn begin(&mut self, _: &DocumentMeta) -> Result<(), SinkError> {
        Ok(())
    }
    fn page(&mut self, page: &PageResult) -> Result<(), SinkError> {
        self.pages.push(page.outcome.index());
        Ok(())
    }
    fn finish(&mut self) -> Result<Vec<std::path::PathBuf>, SinkError> {
        let pages = std::mem::take(&mut self.pages);
        self.all.lock().unwrap().push((self.stem.clone(), pages));
        Ok(Vec::new())
    }
}

/// A job over fake documents named by their page counts, writing no files.
fn spec(dir: &Path, names: &[&str]) -> JobSpec {
    for n in names {
        std::fs::write(dir.join(n), b"fake").unwrap();
    }
    JobSpec {
        inputs: names.iter().map(|n| dir.join(n)).collect(),
        output: dir.join("out"),
        formats: Formats::none(),
        ..Default::default()
    }
}

fn engine(slots: usize, budget: u64, delay_ms: u64, record: &Arc<Record>) -> Engine {
    let transport = FakeTransport::new(slots, Duration::from_millis(delay_ms), Arc::clone(record));
    let config = EngineConfig {
        workers: slots,
        memory_budget: budget,
        ..Default::default()
    };
    Engine::with_transport(config, Box::new(transport)).unwrap()
}

#[test]
fn a_small_job_is_not_starved_by_a_long_one() {
    let dir = tempfile::tempdir().unwrap();
    let record = Arc::new(Record::default());
    let engine = engine(2, 64 * TEXT_PAGE_COST, 2, &record);
    let long = engine.submit(spec(dir.path(), &["long-400.pdf"])).unwrap();
    std::thread::sleep(Duration::from_millis(30));
    let short = engine.submit(spec(dir.path(), &["short-2.pdf"])).unwrap();
    let s = short.wait();
    assert_eq!(s.pages_ok(), 2);
    assert!(
        !long.is_finished(),
        "the short job ends while the long one runs"
    );
    let l = long.wait();
    assert_eq!(l.pages_ok(), 400);
}

#[test]
fn pages_wait_for_the_memory_budget() {
    let dir = tempfile::tempdir().unwrap();
    let record = Arc::new(Record::default());
    // Room for three text pages at once, with four workers.
    let engine = engine(4, 3 * TEXT_PAGE_COST, 3, &record);
    let job = engine
        .submit(spec(dir.path(), &["a-30.pdf", "b-30.pdf"]))
        .unwrap();
    let s = job.wait();
    assert_eq!(s.pages_ok(), 60);
    let most = record.most_busy.load(Ordering::SeqCst);
    assert!(
        (1..=3).contains(&most),
        "at most 3 pages at once, saw {most}"
    );
    assert!(s.budget_peak <= 3 * TEXT_PAGE_COST, "{}", s.budget_peak);
}

/// A sink holding `0` bytes for the whole job (a model, say), recording nothing.
struct Resident(u64);

impl SinkFactory for Resident {
    fn create(&self, _: &DocumentMeta) -> Result<Option<Box<dyn PageSink>>, SinkError> {
        Ok(None)
    }
    fn resident_bytes(&self) -> u64 {
        self.0
    }
}

#[test]
fn a_sinks_resident_memory_is_priced_in_the_budget_while_its_job_runs() {
    let dir = tempfile::tempdir().unwrap();
    let record = Arc::new(Record::default());
    // Room for four text pages; the sink's model takes the room of two.
    let engine = engine(4, 4 * TEXT_PAGE_COST, 3, &record);
    let mut job_spec = spec(dir.path(), &["a-30.pdf"]);
    job_spec.sinks.push(Arc::new(Resident(2 * TEXT_PAGE_COST)));
    let s = engine.submit(job_spec).unwrap().wait();
    assert_eq!(s.pages_ok(), 30);
    let most = record.most_busy.load(Ordering::SeqCst);
    assert!(
        (1..=2).contains(&most),
        "at most 2 pages beside the model, saw {most}"
    );
    assert!(s.budget_peak > 2 * TEXT_PAGE_COST, "{}", s.budget_peak);
    assert!(s.budget_peak <= 4 * TEXT_PAGE_COST, "{}", s.budget_peak);

    // A model larger than the whole budget still lets pages run, one at a time.
    let record3 = Arc::new(Record::default());
    let engine = self::engine(4, 2 * TEXT_PAGE_COST, 3, &record3);
    let mut job_spec = spec(dir.path(), &["c-10.pdf"]);
    job_spec.sinks.push(Arc::new(Resident(10 * TEXT_PAGE_COST)));
    let s = engine.submit(job_spec).unwrap().wait();
    assert_eq!(s.pages_ok(), 10);
    assert_eq!(record3.most_busy.load(Ordering::SeqCst), 1);
}

#[test]
fn a_crashed_page_is_retried_and_pages_are_written_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let record = Arc::new(Record::default());
    record.crash_once.lock().unwrap().push(("doc-40".into(), 7));
    let transport = FakeTransport {
        skew: true,
        ..FakeTransport::new(3, Duration::from_millis(1), Arc::clone(&record))
    };
    let engine = Engine::with_transport(
        EngineConfig {
            workers: 3,
            ..Default::default()
        },
        Box::new(transport),
    )
    .unwrap();
    let recorder = Recorder::default();
    let seen = Arc::clone(&recorder.0);
    let mut job_spec = spec(dir.path(), &["doc-40.pdf"]);
    job_spec.sinks.push(Arc::new(recorder));
    let job = engine.submit(job_spec).unwrap();
    let s = job.wait();
    assert_eq!((s.pages_ok(), s.pages_failed()), (40, 0), "{s:?}");
    assert!(
        record.crash_once.lock().unwrap().is_empty(),
        "the crash happened"
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].1, (0..40).collect::<Vec<u32>>(), "in page order");
}

#[test]
fn a_cancelled_job_stops_and_leaves_no_partial_document() {
    let dir = tempfile::tempdir().unwrap();
    let record = Arc::new(Record::default());
    let engine = engine(2, 512 << 20, 20, &record);
    let recorder = Recorder::default();
    let seen = Arc::clone(&recorder.0);
    let mut job_spec = spec(dir.path(), &["slow-500.pdf"]);
    job_spec.sinks.push(Arc::new(recorder));
    let job = engine.submit(job_spec).unwrap();
    let started = AtomicBool::new(false);
    while let Some(ev) = job.next_event(Duration::from_secs(5)) {
        if matches!(ev, crate::JobEvent::Page { .. }) && !started.swap(true, Ordering::SeqCst) {
            job.cancel();
        }
        if matches!(ev, crate::JobEvent::Summary { .. }) {
            break;
        }
    }
    let s = job.wait();
    assert!(s.interrupted);
    assert!(s.pages_ok() < 500, "{}", s.pages_ok());
    assert!(s.files[0].error.is_some(), "the unfinished document failed");
    assert!(
        seen.lock().unwrap().is_empty(),
        "its sink was aborted, not finished"
    );
    // The engine takes new jobs after a cancel.
    let next = engine.submit(spec(dir.path(), &["after-3.pdf"])).unwrap();
    assert_eq!(next.wait().pages_ok(), 3);
}

#[test]
fn events_carry_job_and_document_ids() {
    let dir = tempfile::tempdir().unwrap();
    let record = Arc::new(Record::default());
    let engine = engine(2, 512 << 20, 0, &record);
    let job = engine
        .submit(spec(dir.path(), &["x-3.pdf", "nocount.pdf"]))
        .unwrap();
    let mut events = Vec::new();
    while let Some(ev) = job.next_event(Duration::from_secs(5)) {
        let last = matches!(ev, crate::JobEvent::Summary { .. });
        events.push(serde_json::to_value(&ev).unwrap());
        if last {
            break;
        }
    }
    assert_eq!(events[0]["event"], "job_started");
    assert_eq!(events[0]["schema"], crate::EVENT_SCHEMA_VERSION);
    let pages: Vec<_> = events.iter().filter(|e| e["event"] == "page").collect();
    assert_eq!(
        pages.len(),
        3 + 1,
        "x has 3 pages; a name without a count, one"
    );
    assert!(pages
        .iter()
        .all(|p| p["job"] == job.id() && p["doc"].is_u64()));
    assert_eq!(events.last().unwrap()["event"], "summary");
}

#[test]
fn small_documents_on_uneven_workers_all_finish() {
    // A worker whose pages are all held in another's run must not stop that other one
    // from being asked (a hang found while making page runs).
    for round in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let record = Arc::new(Record::default());
        let transport = FakeTransport {
            skew: true,
            ..FakeTransport::new(2, Duration::from_millis(1 + round), Arc::clone(&record))
        };
        let engine = Engine::with_transport(
            EngineConfig {
                workers: 2,
                ..Default::default()
            },
            Box::new(transport),
        )
        .unwrap();
        let names = ["a-5.pdf", "b-3.pdf", "c-1.pdf", "d-7.pdf", "e-2.pdf"];
        let job = engine.submit(spec(dir.path(), &names)).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !job.is_finished() {
            assert!(std::time::Instant::now() < deadline, "round {round} hangs");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(job.wait().pages_ok(), 18);
    }
}

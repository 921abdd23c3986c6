//! A worker host (`pagemill worker --nats`): local worker processes fed from the shared
//! work queue.
//!
//! Tasks flow **pull → fetch the document → wait for a process and the budget → worker
//! process → store the answer → acknowledge**:
//! - a task is pulled only when a local process has room (two requests each, as the local
//!   engine keeps them) and the memory budget is not spent, so what is pulled is what
//!   runs: backpressure by pull, never by a local queue;
//! - each page is priced as the engine prices it and admitted under the host's budget;
//!   each process is limited to its share of memory (RLIMIT_DATA), as locally;
//! - the host keeps each page's deadline and kills an overrunning process, reports a
//!   crash, overrun or memory failure as the request's loss (the producer's scheduler
//!   decides on a retry), and replaces the process;
//! - every task on the host gets an in-progress acknowledgement every third of the ack
//!   wait, so a host that dies loses its tasks to other hosts within one ack wait;
//! - a task is acknowledged only after its answer is stored in the results stream;
//! - on stop, nothing new is pulled, pages under way finish (up to a drain limit), and
//!   anything left is handed back to the queue at once.

mod documents;
mod replies;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::message::Message;
use async_nats::jetstream::object_store::ObjectStore;
use async_nats::jetstream::AckKind;
use async_nats::Client;
use futures_util::StreamExt;
use pagemill_core::model::FileErrorKind;
use pagemill_core::pipeline::{MemoryBudget, Permit};
use pagemill_core::protocol::{DocumentSource, Request, Response};
use pagemill_engine::config::page_costs;
use pagemill_engine::transport::process::ProcessPool;
use pagemill_engine::transport::{EventTx, TransportEvent, WorkerTransport};
use pagemill_engine::EngineConfig;
use tokio::sync::mpsc;

use crate::connect::NatsOptions;
use crate::wire::{Answer, Control, Outcome, StoredFile, Task};
use crate::{streams, NatsError};
use documents::Documents;

/// Requests queued per local process: one working, one waiting.
const PIPELINE: usize = 2;
/// How long one pull waits for tasks.
const PULL_WAIT: Duration = Duration::from_secs(1);
/// Requests of batched (cheap) pages a host takes beyond its processes' room: a batch.
/// R-refman with `--format md,json` through two hosts, four runs each: 2.35–2.47 s (local
/// 1.75–1.80), against 2.71–3.31 s with 2 and 2.62–3.28 s with none.
const PULL_AHEAD: usize = 16;

/// How long a stopping host waits for its last messages to reach the server.
const FINAL_FLUSH: Duration = Duration::from_secs(5);

/// How often deadlines and the stop flag are checked.
const TICK: Duration = Duration::from_millis(200);
/// Extra time past a page's deadline before its process is killed (the worker gives up by
/// itself at the deadline; this catches one stuck in native code).
const KILL_GRACE: Duration = Duration::from_millis(500);

/// How a worker host runs.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Local worker processes.
    pub jobs: usize,
    /// Bytes the pages under way may hold together (priced as the engine prices them).
    pub memory_budget: u64,
    /// Each process's data limit; default: as the engine sets it for this budget.
    pub worker_memory: Option<u64>,
    /// The executable run as `EXE internal-worker`.
    pub exe: PathBuf,
    /// Where fetched documents are kept while in use.
    pub cache_dir: PathBuf,
    /// This host's name in answers and logs.
    pub host: String,
    /// How long a stop waits for the pages under way before handing them back.
    pub drain_timeout: Duration,
    /// Fault injection for tests: the host dies at once (as if killed) when it takes this
    /// page (0-based), standing for a page that takes its whole host down.
    pub abort_on_page: Option<u32>,
}

/// What a host did, when it stops.
#[derive(Debug, Clone, Default)]
pub struct NodeReport {
    /// Tasks answered.
    pub answered: u64,
    /// Tasks whose process ended on them (crash, overrun, memory).
    pub lost: u64,
    /// Tasks handed back to the queue on stopping.
    pub handed_back: u64,
}

/// Runs a worker host until `stop` is set (then drains) or the server cannot be reached
/// at the start.
pub fn run_node(
    options: NatsOptions,
    config: NodeConfig,
    stop: Arc<AtomicBool>,
) -> Result<NodeReport, NatsError> {
    let rt = crate::runtime::new_runtime("worker")?;
    rt.block_on(async {
        let node = Node::start(options, config).await?;
        node.run(stop).await
    })
}

/// A task on this host, from its pull to its acknowledgement: one message with one or a
/// few requests, answered together.
struct Batch {
    msg: Arc<Message>,
    producer: String,
    /// Requests it came with.
    size: usize,
    /// Requests not yet finished.
    left: usize,
    /// Answers so far.
    answers: Vec<Answer>,
    /// Files the answers name, to store with them: (here, where the producer wants it).
    files: Vec<(PathBuf, StoredFile)>,
}

/// A request on this host, from its pull to its answer.
struct Held {
    batch: u64,
    producer: String,
    /// The producer's request id.
    request: u64,
    /// The producer's document id.
    doc: u32,
    /// The page, for a page request.
    index: Option<u32>,
    /// The request as the local processes get it (once the document is here).
    local: Option<Request>,
    /// Where the producer wants upscaled pages.
    upscaled_dir: Option<PathBuf>,
    page_timeout: Duration,
    cost: u64,
    permit: Option<Permit>,
    /// The producer no longer wants it.
    cancelled: bool,
}

/// A local process as the host sees it.
#[derive(Default)]
struct LocalSlot {
    in_flight: VecDeque<u64>,
    head_since: Option<Instant>,
    killed_for_timeout: bool,
}

/// What the host's own tasks report to its loop.
enum Internal {
    Pulled(Box<Message>),
    PullEnded,
    Fetched {
        local: u64,
        file: Result<PathBuf, String>,
    },
    Answered {
        batch: u64,
    },
}

struct Node {
    options: NatsOptions,
    config: NodeConfig,
    client: Client,
    js: async_nats::jetstream::Context,
    consumer: PullConsumer,
    docs_bucket: ObjectStore,
    results_bucket: ObjectStore,
    pool: ProcessPool,
    local_rx: mpsc::UnboundedReceiver<TransportEvent>,
    internal_tx: mpsc::UnboundedSender<Internal>,
    internal_rx: mpsc::UnboundedReceiver<Internal>,
    slots: Vec<LocalSlot>,
    budget: MemoryBudget,
    documents: Documents,
    batches: HashMap<u64, Batch>,
    next_batch: u64,
    held: HashMap<u64, Held>,
    /// Tasks whose document is here, waiting for a process and the budget.
    waiting: VecDeque<u64>,
    next_local: u64,
    pulling: bool,
    /// Largest answer sent in a message; larger ones go through the object store.
    max_inline: usize,
    report: NodeReport,
}

impl Node {
    async fn start(options: NatsOptions, config: NodeConfig) -> Result<Node, NatsError> {
        let client = options
            .connect(&format!("pagemill worker {}", config.host))
            .await?;
        let js = async_nats::jetstream::new(client.clone());
        let work = streams::work_stream(&js, &options).await?;
        let consumer = streams::work_consumer(&work, &options).await?;
        streams::results_stream(&js, &options).await?;
        let docs_bucket = streams::bucket(&js, &options.names.docs_bucket(), &options).await?;
        let results_bucket =
            streams::bucket(&js, &options.names.results_bucket(), &options).await?;
        let engine = EngineConfig {
            workers: config.jobs.max(1),
            memory_budget: config.memory_budget,
            worker_memory: config.worker_memory,
            ..Default::default()
        };
        let mut pool = ProcessPool::new(
            config.exe.clone(),
            engine.workers,
            Some(engine.worker_memory_limit()),
        );
        let (local_tx, local_rx) = mpsc::unbounded_channel();
        let events: EventTx = Arc::new(move |ev| local_tx.send(ev).is_ok());
        pool.start(events)
            .map_err(|e| NatsError::io(e.what.clone(), e.source))?;
        let (internal_tx, internal_rx) = mpsc::unbounded_channel();
        // Room for the subject and headers under the server's limit.
        let max_inline = client.server_info().max_payload.saturating_sub(16 * 1024);
        tracing::info!(
            host = config.host,
            jobs = engine.workers,
            server = options.display_url(),
            "worker host ready"
        );
        Ok(Node {
            documents: Documents::new(config.cache_dir.clone())?,
            slots: (0..engine.workers).map(|_| LocalSlot::default()).collect(),
            budget: MemoryBudget::new(config.memory_budget),
            options,
            config,
            client,
            js,
            consumer,
            docs_bucket,
            results_bucket,
            pool,
            local_rx,
            internal_tx,
            internal_rx,
            batches: HashMap::new(),
            next_batch: 0,
            held: HashMap::new(),
            waiting: VecDeque::new(),
            next_local: 0,
            pulling: false,
            max_inline,
            report: NodeReport::default(),
        })
    }

    async fn run(mut self, stop: Arc<AtomicBool>) -> Result<NodeReport, NatsError> {
        let mut control = self
            .client
            .subscribe(self.options.names.control_subject())
            .await
            .map_err(|e| NatsError::js("cannot listen to producers", e))?;
        let mut tick = tokio::time::interval(TICK);
        let progress_every = (self.options.ack_wait / 3).max(Duration::from_millis(500));
        let mut last_progress = Instant::now();
        let mut draining: Option<Instant> = None;
        loop {
            if draining.is_none() && stop.load(Ordering::Relaxed) {
                tracing::info!(
                    host = self.config.host,
                    under_way = self.batches.len(),
                    "stopping: no new tasks; finishing the pages under way"
                );
                draining = Some(Instant::now() + self.config.drain_timeout);
            }
            if let Some(until) = draining {
                if self.batches.is_empty() {
                    break;
                }
                if Instant::now() >= until {
                    self.hand_back().await;
                    break;
                }
            } else {
                self.pull();
            }
            self.dispatch();
            self.close_documents();
            tokio::select! {
                ev = self.local_rx.recv() => match ev {
                    Some(ev) => self.on_local(ev)?,
                    None => return Err(NatsError::io("the worker processes", std::io::Error::other("gone"))),
                },
                Some(ev) = self.internal_rx.recv() => self.on_internal(ev),
                Some(msg) = control.next() => self.on_control(&msg.payload),
                _ = tick.tick() => {
                    self.check_deadlines();
                    if last_progress.elapsed() >= progress_every {
                        self.send_progress().await;
                        last_progress = Instant::now();
                    }
                }
            }
        }
        self.documents.clear();
        // Bounded: with the server gone, a flush waits for a reconnection that may never
        // come, and a stopped host must still end (it hung for good without this).
        let _ = tokio::time::timeout(FINAL_FLUSH, self.client.flush()).await;
        Ok(self.report)
    }

    /// Requests the local processes can still take, counting tasks already here.
    fn room(&self) -> usize {
        let free: usize = self
            .slots
            .iter()
            .map(|s| PIPELINE.saturating_sub(s.in_flight.len()))
            .sum();
        let here = self.held.values().filter(|h| h.permit.is_none()).count();
        // The producer batches only pages that have been quick. While every task here is
        // such a batch, the next one is pulled a little early, so the process does not
        // wait a pull's round trip after each batch (1.4 ms a page with `--format
        // md,json`, 22 ms a batch). A task of one request may be an OCR page that an idle
        // host should take instead: no pulling ahead then.
        let cheap = !self.batches.is_empty() && self.batches.values().all(|b| b.size > 1);
        let ahead = if cheap { PULL_AHEAD } else { 0 };
        (free + ahead).saturating_sub(here)
    }

    /// Starts a pull when the processes have room and the budget is not spent.
    fn pull(&mut self) {
        if self.pulling || self.budget.used() >= self.budget.limit() {
            return;
        }
        // One task a pull: a task may carry several pages, and what this host takes
        // beyond its room, another host could have run.
        if self.room() == 0 {
            return;
        }
        let want = 1;
        self.pulling = true;
        let consumer = self.consumer.clone();
        let tx = self.internal_tx.clone();
        tokio::spawn(async move {
            let ends = streams::pull_ends(PULL_WAIT);
            let batch = consumer
                .batch()
                .max_messages(want)
                .expires(PULL_WAIT)
                .messages()
                .await;
            match batch {
                Ok(mut b) => {
                    while let Some(item) = streams::next_in_batch(&mut b, ends).await {
                        match item {
                            Ok(m) => {
                                let _ = tx.send(Internal::Pulled(Box::new(m)));
                            }
                            Err(e) => {
                                tracing::debug!("pull interrupted: {e}");
                                tokio::time::sleep(PULL_WAIT / 4).await;
                                break;
                            }
                        }
                    }
                }
                Err(e) => {
                    tracing::debug!("cannot pull: {e}");
                    tokio::time::sleep(PULL_WAIT).await;
                }
            }
            let _ = tx.send(Internal::PullEnded);
        });
    }

    fn on_internal(&mut self, ev: Internal) {
        match ev {
            Internal::Pulled(m) => self.on_task(*m),
            Internal::PullEnded => self.pulling = false,
            Internal::Fetched { local, file } => self.on_fetched(local, file),
            Internal::Answered { batch } => {
                self.batches.remove(&batch);
            }
        }
    }

    /// A task arrived: each request's document is fetched (once per document), then the
    /// requests wait for a process.
    fn on_task(&mut self, m: Message) {
        let msg = Arc::new(m);
        let task = match serde_json::from_slice::<Task>(&msg.payload) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!("a task that cannot be read is dropped: {e}");
                tokio::spawn(async move { msg.ack_with(AckKind::Term).await });
                return;
            }
        };
        self.next_batch += 1;
        let batch = self.next_batch;
        tracing::trace!(batch, requests = task.requests.len(), "task in");
        let requests: Vec<Request> = task
            .requests
            .into_iter()
            .filter(|r| r.id().is_some())
            .collect();
        self.batches.insert(
            batch,
            Batch {
                msg,
                producer: task.producer.clone(),
                size: requests.len(),
                left: requests.len(),
                answers: Vec::new(),
                files: Vec::new(),
            },
        );
        if requests.is_empty() {
            return self.send_batch(batch);
        }
        for request in requests {
            self.take_request(batch, &task.producer, request);
        }
    }

    /// One request of a task: its document fetched, then it waits for a process.
    fn take_request(&mut self, batch: u64, producer: &str, request: Request) {
        let (request, doc, index) = match request {
            Request::Open { id, doc } => (id, doc, None),
            Request::Page { id, doc, index } => (id, doc, Some(index)),
            Request::Close { .. } => return,
        };
        if index.is_some() && index == self.config.abort_on_page {
            tracing::error!(
                host = self.config.host,
                "aborting on page {index:?} (fault injection)"
            );
            std::process::abort();
        }
        self.next_local += 1;
        let local = self.next_local;
        let (erased, ocr) = (doc.erase.is_some(), &doc.ocr);
        let upscale = doc
            .upscale
            .as_ref()
            .filter(|_| erased || doc.upscaled_dir.is_some());
        let costs = page_costs(ocr, erased, upscale);
        let cost = match (index, ocr.mode) {
            (None, _) | (Some(_), pagemill_core::settings::OcrMode::Never) => costs.0,
            (Some(_), _) => costs.1,
        };
        let cached = self.documents.take(producer, &doc);
        self.held.insert(
            local,
            Held {
                batch,
                producer: producer.to_string(),
                request,
                doc: doc.id,
                index,
                local: None,
                upscaled_dir: doc.upscaled_dir.clone(),
                page_timeout: Duration::from_millis(doc.page_timeout_ms),
                cost,
                permit: None,
                cancelled: false,
            },
        );
        let cached = match cached {
            Ok(c) => c,
            Err(message) => return self.answer_failure(local, FileErrorKind::Unreadable, message),
        };
        let name = match &doc.source {
            DocumentSource::Stored { name, .. } => name.clone(),
            DocumentSource::Path { .. } => String::new(),
        };
        let path = self.documents.path_for(cached.local_id, &name);
        let mut local_doc = doc;
        local_doc.id = cached.local_id;
        local_doc.source = DocumentSource::path(&path);
        if local_doc.upscaled_dir.is_some() {
            local_doc.upscaled_dir = Some(self.documents.upscaled_dir(cached.local_id));
        }
        if let Some(h) = self.held.get_mut(&local) {
            h.local = Some(match index {
                None => Request::Open {
                    id: local,
                    doc: local_doc,
                },
                Some(index) => Request::Page {
                    id: local,
                    doc: local_doc,
                    index,
                },
            });
        }
        let docs = self.docs_bucket.clone();
        let tx = self.internal_tx.clone();
        tokio::spawn(async move {
            let file = documents::fetch(&cached.file, &docs, &cached.key, path).await;
            let _ = tx.send(Internal::Fetched { local, file });
        });
    }

    fn on_fetched(&mut self, local: u64, file: Result<PathBuf, String>) {
        match file {
            Ok(_) => self.waiting.push_back(local),
            Err(e) => self.answer_failure(
                local,
                FileErrorKind::Unreadable,
                format!("cannot fetch the document from the object store: {e}"),
            ),
        }
    }

    /// Hands waiting tasks to the least busy processes, as the budget admits them (one
    /// always runs, however dear, when nothing else does).
    fn dispatch(&mut self) {
        while let Some(&local) = self.waiting.front() {
            let Some(slot) = (0..self.slots.len())
                .filter(|&i| self.slots[i].in_flight.len() < PIPELINE)
                .min_by_key(|&i| self.slots[i].in_flight.len())
            else {
                return;
            };
            let Some(h) = self.held.get_mut(&local) else {
                self.waiting.pop_front();
                continue;
            };
            if h.cancelled {
                self.waiting.pop_front();
                self.finish(local, None);
                continue;
            }
            if h.permit.is_none() {
                let running = self.slots.iter().any(|s| !s.in_flight.is_empty());
                h.permit = match self.budget.try_admit(h.cost) {
                    Some(p) => Some(p),
                    None if !running => Some(self.budget.reserve(h.cost)),
                    None => return,
                };
            }
            self.waiting.pop_front();
            let Some(req) = h.local.clone() else {
                continue;
            };
            let s = &mut self.slots[slot];
            if s.in_flight.is_empty() {
                s.head_since = Some(Instant::now());
            }
            s.in_flight.push_back(local);
            // A failed send means the process died; its end is reported as an event.
            self.pool.send(slot, &req);
        }
    }

    fn on_local(&mut self, ev: TransportEvent) -> Result<(), NatsError> {
        match ev {
            TransportEvent::Message {
                slot,
                generation,
                response,
                ..
            } => {
                if generation != self.pool.generation(slot) {
                    return Ok(());
                }
                if let Response::Progress { id, .. } = &response {
                    self.forward_progress(*id, response.clone());
                    return Ok(());
                }
                let local = response.id();
                let s = &mut self.slots[slot];
                let Some(pos) = s.in_flight.iter().position(|&l| l == local) else {
                    return Ok(());
                };
                s.in_flight.remove(pos);
                if pos == 0 {
                    s.head_since = (!s.in_flight.is_empty()).then(Instant::now);
                }
                let out_of_memory = self.pool.take_out_of_memory(slot);
                self.answer(local, response, out_of_memory);
            }
            TransportEvent::Exited {
                slot, generation, ..
            } => {
                if generation != self.pool.generation(slot) {
                    return Ok(());
                }
                let ended = self
                    .pool
                    .replace(slot)
                    .map_err(|e| NatsError::io(e.what.clone(), e.source))?;
                let s = &mut self.slots[slot];
                let timed_out = std::mem::take(&mut s.killed_for_timeout)
                    || ended.signal == Some(libc::SIGXCPU);
                s.head_since = None;
                let flights: Vec<u64> = s.in_flight.drain(..).collect();
                for (i, local) in flights.into_iter().enumerate() {
                    if i > 0 {
                        // Never started: it runs on the fresh process.
                        self.waiting.push_front(local);
                        continue;
                    }
                    tracing::warn!(host = self.config.host, "worker process {}", ended.how);
                    self.report.lost += 1;
                    let outcome = Outcome::Lost {
                        how: ended.how.clone(),
                        signal: ended.signal,
                        out_of_memory: ended.out_of_memory,
                        timed_out,
                    };
                    self.finish(local, Some(outcome));
                }
            }
            TransportEvent::Lost { .. } => {}
        }
        Ok(())
    }

    /// Kills processes whose current page overran its deadline.
    fn check_deadlines(&mut self) {
        for slot in 0..self.slots.len() {
            let s = &self.slots[slot];
            let (Some(&head), Some(since)) = (s.in_flight.front(), s.head_since) else {
                continue;
            };
            if s.killed_for_timeout {
                continue;
            }
            let limit = self
                .held
                .get(&head)
                .map_or(Duration::from_secs(60), |h| h.page_timeout)
                + KILL_GRACE;
            if since.elapsed() > limit {
                tracing::warn!(
                    host = self.config.host,
                    slot,
                    "page deadline overrun; killing the worker process"
                );
                self.slots[slot].killed_for_timeout = true;
                self.pool.kill(slot);
            }
        }
    }

    /// Keeps every task on this host from being redelivered while it is here.
    async fn send_progress(&self) {
        for b in self.batches.values() {
            if let Err(e) = b.msg.ack_with(AckKind::Progress).await {
                tracing::debug!("cannot extend a task's ack wait: {e}");
            }
        }
    }

    fn on_control(&mut self, payload: &[u8]) {
        let Ok(c) = serde_json::from_slice::<Control>(payload) else {
            return;
        };
        match c {
            Control::Close { producer, doc } => self.documents.close(&producer, doc),
            Control::Cancel { producer, requests } => {
                for (&local, h) in self.held.iter_mut() {
                    if h.producer == producer && requests.contains(&h.request) {
                        h.cancelled = true;
                        // A page that has started is stopped where it runs.
                        if let Some(slot) = self
                            .slots
                            .iter()
                            .position(|s| s.in_flight.front() == Some(&local))
                        {
                            self.pool.kill(slot);
                        }
                    }
                }
            }
        }
    }

    /// Closes documents their producers are done with (or the cache has no room for) in
    /// every local process.
    fn close_documents(&mut self) {
        for doc in self.documents.evict() {
            for slot in 0..self.slots.len() {
                self.pool.send(slot, &Request::Close { doc });
            }
        }
    }

    /// Hands every task still here back to the queue (stopping past the drain limit).
    async fn hand_back(&mut self) {
        for b in self.batches.values() {
            let _ = b.msg.ack_with(AckKind::Nak(None)).await;
            self.report.handed_back += 1;
        }
        self.batches.clear();
        self.held.clear();
    }
}

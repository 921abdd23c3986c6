//! The engine's side: [`NatsTransport`], a [`WorkerTransport`] whose workers are the
//! processes of every `pagemill worker --nats` host.
//!
//! A slot here is a credit, not a process: the scheduler keeps its usual two requests in
//! flight per slot, and the hosts pull from the shared work queue as their processes free
//! up. Deadlines are kept by the hosts (the time a task waits in the queue is not the
//! page's working time), so a remote crash, overrun or memory failure comes back as
//! [`TransportEvent::Lost`] for that one request and the scheduler treats it as it treats a
//! local worker's. A task no host finishes within the delivery limit (each host died or
//! went silent on it) is recorded as a failed page with the reason.

mod answers;
mod publisher;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::object_store::ObjectStore;
use async_nats::jetstream::stream::Stream;
use async_nats::jetstream::Context;
use async_nats::Client;
use pagemill_core::protocol::Request;
use pagemill_engine::transport::{Ended, EventTx, TransportError, TransportEvent, WorkerTransport};
use tokio::runtime::Runtime;
use tokio::sync::mpsc;

use crate::connect::NatsOptions;
use crate::wire::Control;
use crate::{streams, NatsError};

/// How long a publish that failed (the server restarting, say) waits before trying again.
const RETRY_PAUSE: Duration = Duration::from_millis(500);
/// Requests the scheduler keeps in flight per slot: enough that every host has a task
/// queued while the answers to its last one travel back, with batches of cheap pages
/// ([`publisher::MAX_BATCH`]).
const PIPELINE: usize = 2 * publisher::MAX_BATCH;

/// What the scheduler is waiting for.
struct Pending {
    slot: usize,
    generation: u64,
    /// The producer's document.
    doc: u32,
    /// The page, for a page request (to record a poison page's failure).
    index: Option<u32>,
    /// Where upscaled pages go, for a request that makes them.
    upscaled_dir: Option<PathBuf>,
}

/// What the runtime's tasks share with the transport.
struct Shared {
    producer: String,
    options: NatsOptions,
    pending: Mutex<HashMap<u64, Pending>>,
    out_of_memory: Vec<AtomicBool>,
    events: OnceLock<EventTx>,
    results_bucket: ObjectStore,
    /// Milliseconds a page of each document has taken its worker, on average so far.
    page_ms: Mutex<HashMap<u32, f64>>,
}

impl Shared {
    fn pending(&self) -> MutexGuard<'_, HashMap<u64, Pending>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn emit(&self, ev: TransportEvent) -> bool {
        self.events.get().is_some_and(|tx| tx(ev))
    }

    fn is_pending(&self, request: u64) -> bool {
        self.pending().contains_key(&request)
    }

    /// A document's pages' average working time so far, if any was answered.
    fn page_ms(&self, doc: u32) -> Option<f64> {
        self.page_ms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&doc)
            .copied()
    }

    /// Counts a page's working time into its document's average.
    fn record_page_ms(&self, doc: u32, ms: u32) {
        let mut m = self.page_ms.lock().unwrap_or_else(|p| p.into_inner());
        let avg = m.entry(doc).or_insert(f64::from(ms));
        *avg = 0.8 * *avg + 0.2 * f64::from(ms);
    }

    /// Forgets a closed document's average.
    fn forget(&self, doc: u32) {
        self.page_ms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&doc);
    }
}

/// What the scheduler's thread hands to the publishing task.
enum Outgoing {
    Task(Box<Request>),
    Close(u32),
    Cancel(Vec<u64>),
}

/// The engine's transport over NATS JetStream.
pub struct NatsTransport {
    rt: Runtime,
    client: Client,
    js: Context,
    work: Stream,
    results: Stream,
    docs: ObjectStore,
    results_consumer: PullConsumer,
    shared: Arc<Shared>,
    generations: Vec<u64>,
    next_generation: u64,
    outgoing: Option<mpsc::UnboundedSender<Outgoing>>,
    publisher: Option<tokio::task::JoinHandle<()>>,
}

impl NatsTransport {
    /// Connects and makes sure the streams and buckets exist. `slots` is how many workers
    /// the engine plans for (twice as many requests are kept queued): about the worker
    /// processes of every host together.
    pub fn connect(options: NatsOptions, slots: usize) -> Result<Self, NatsError> {
        let rt = crate::runtime::new_runtime("nats")?;
        let producer = producer_id();
        let (client, js, work, results, results_consumer, docs, results_bucket) =
            crate::runtime::block_on(&rt, async {
                let client = options
                    .connect(&format!("pagemill producer {producer}"))
                    .await?;
                let js = async_nats::jetstream::new(client.clone());
                let work = streams::work_stream(&js, &options).await?;
                let results = streams::results_stream(&js, &options).await?;
                let consumer = streams::results_consumer(&results, &options, &producer).await?;
                let docs = streams::bucket(&js, &options.names.docs_bucket(), &options).await?;
                let rb = streams::bucket(&js, &options.names.results_bucket(), &options).await?;
                Ok::<_, NatsError>((client, js, work, results, consumer, docs, rb))
            })?;
        let slots = slots.max(1);
        tracing::info!(
            producer,
            server = options.display_url(),
            "NATS transport ready"
        );
        Ok(NatsTransport {
            rt,
            client,
            js,
            work,
            results,
            docs,
            results_consumer,
            shared: Arc::new(Shared {
                producer,
                options,
                pending: Mutex::new(HashMap::new()),
                out_of_memory: (0..slots).map(|_| AtomicBool::new(false)).collect(),
                events: OnceLock::new(),
                results_bucket,
                page_ms: Mutex::new(HashMap::new()),
            }),
            generations: vec![1; slots],
            next_generation: 1,
            outgoing: None,
            publisher: None,
        })
    }

    /// This producer's id on the server (subjects and objects are named with it).
    pub fn producer(&self) -> &str {
        &self.shared.producer
    }
}

/// A producer id unique among the server's producers: time, process and host.
fn producer_id() -> String {
    use sha2::{Digest, Sha256};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let digest = Sha256::digest(format!("{nanos}/{}/{host}", std::process::id()));
    hex::encode(&digest[..6])
}

impl WorkerTransport for NatsTransport {
    fn start(&mut self, events: EventTx) -> Result<(), TransportError> {
        let _ = self.shared.events.set(events);
        let (tx, rx) = mpsc::unbounded_channel();
        self.outgoing = Some(tx);
        let publisher = publisher::Publisher {
            shared: Arc::clone(&self.shared),
            client: self.client.clone(),
            js: self.js.clone(),
            docs: self.docs.clone(),
            stored: HashMap::new(),
        };
        self.publisher = Some(self.rt.spawn(publisher.run(rx)));
        self.rt.spawn(answers::read_answers(
            Arc::clone(&self.shared),
            self.results_consumer.clone(),
        ));
        let subscriptions = crate::runtime::block_on(&self.rt, async {
            let n = &self.shared.options.names;
            let progress = self
                .client
                .subscribe(n.progress_subject(&self.shared.producer))
                .await?;
            let advisories = self.client.subscribe(n.max_deliveries_advisory()).await?;
            Ok::<_, async_nats::SubscribeError>((progress, advisories))
        });
        let (progress, advisories) = subscriptions.map_err(|e| TransportError {
            what: "NATS subscriptions".into(),
            source: std::io::Error::other(e.to_string()),
        })?;
        self.rt
            .spawn(answers::read_progress(Arc::clone(&self.shared), progress));
        self.rt.spawn(answers::read_advisories(
            Arc::clone(&self.shared),
            self.work.clone(),
            advisories,
        ));
        Ok(())
    }

    fn slots(&self) -> usize {
        self.generations.len()
    }

    fn generation(&self, slot: usize) -> u64 {
        self.generations.get(slot).copied().unwrap_or(0)
    }

    fn send(&mut self, slot: usize, req: &Request) -> bool {
        let Some(tx) = &self.outgoing else {
            return false;
        };
        let out = match req {
            Request::Open { id, doc } | Request::Page { id, doc, .. } => {
                let index = match req {
                    Request::Page { index, .. } => Some(*index),
                    _ => None,
                };
                self.shared.pending().insert(
                    *id,
                    Pending {
                        slot,
                        generation: self.generation(slot),
                        doc: doc.id,
                        index,
                        upscaled_dir: doc.upscaled_dir.clone(),
                    },
                );
                Outgoing::Task(Box::new(req.clone()))
            }
            Request::Close { doc } => Outgoing::Close(*doc),
        };
        tx.send(out).is_ok()
    }

    /// Stops waiting for the slot's requests (hosts are told to drop them) and reports
    /// the slot ended.
    fn kill(&mut self, slot: usize) {
        let generation = self.generation(slot);
        let dropped: Vec<u64> = {
            let mut p = self.shared.pending();
            let ids: Vec<u64> = p
                .iter()
                .filter(|(_, v)| v.slot == slot && v.generation == generation)
                .map(|(k, _)| *k)
                .collect();
            for id in &ids {
                p.remove(id);
            }
            ids
        };
        if let Some(tx) = &self.outgoing {
            let _ = tx.send(Outgoing::Cancel(dropped));
        }
        self.shared.emit(TransportEvent::Exited {
            slot,
            generation,
            error: None,
        });
    }

    fn replace(&mut self, slot: usize) -> Result<Ended, TransportError> {
        self.next_generation += 1;
        if let Some(g) = self.generations.get_mut(slot) {
            *g = self.next_generation;
        }
        Ok(Ended {
            how: "was stopped waiting for its remote worker".into(),
            signal: None,
            out_of_memory: false,
            timed_out: false,
        })
    }

    /// Hosts recycle their own processes; a slot has nothing to recycle.
    fn recycle(&mut self, _slot: usize) -> Result<(), TransportError> {
        Ok(())
    }

    fn take_out_of_memory(&self, slot: usize) -> bool {
        self.shared
            .out_of_memory
            .get(slot)
            .is_some_and(|f| f.swap(false, Ordering::Relaxed))
    }

    fn worker_rss(&self, _slot: usize) -> Option<u64> {
        None
    }

    fn tree_rss(&self) -> u64 {
        pagemill_engine::rss::rss_bytes(std::process::id())
    }

    fn keeps_deadlines(&self) -> bool {
        true
    }

    fn pipeline(&self) -> usize {
        PIPELINE
    }

    fn takes_pages_in_runs(&self) -> bool {
        // The publisher batches consecutive pages; pages dealt in order keep a batch
        // within one or two views.
        false
    }

    fn workers_are_local(&self) -> bool {
        false
    }
}

impl Drop for NatsTransport {
    /// Leaves nothing of this producer on the server: tasks no host has taken, answers
    /// nobody will read, its consumer and its documents. Hosts drop what they hold of it.
    fn drop(&mut self) {
        self.outgoing = None;
        let n = &self.shared.options.names;
        let producer = self.shared.producer.clone();
        let held: Vec<u64> = self.shared.pending().drain().map(|(k, _)| k).collect();
        let publisher = self.publisher.take();
        let cleanup = async {
            // The publisher ends once its queue is closed, removing the documents it put.
            if let Some(p) = publisher {
                let _ = p.await;
            }
            let _ = self.work.purge().filter(n.work_subject(&producer)).await;
            if !held.is_empty() {
                let msg = Control::Cancel {
                    producer: producer.clone(),
                    requests: held,
                };
                if let Ok(body) = serde_json::to_vec(&msg) {
                    let _ = self.client.publish(n.control_subject(), body.into()).await;
                }
            }
            let _ = self
                .results
                .delete_consumer(&n.results_consumer(&producer))
                .await;
            let _ = self
                .results
                .purge()
                .filter(n.results_subject(&producer))
                .await;
            let _ = self.client.flush().await;
        };
        let _ = crate::runtime::block_on(&self.rt, async {
            tokio::time::timeout(Duration::from_secs(5), cleanup).await
        });
    }
}

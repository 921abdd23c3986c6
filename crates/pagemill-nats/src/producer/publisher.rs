//! The publishing task: documents into the object store (once each), then their requests
//! as tasks on the work queue, in the order the scheduler sent them.
//!
//! Cheap pages travel in batches. A page of a born-digital manual takes a worker ~12 ms,
//! and every task costs the server, the host and the producer a few messages (task,
//! acknowledgement, answer, its acknowledgement): one page a task cost R's 2,415-page
//! manual 10.6 CPU-seconds of such overhead against 30 of conversion (two hosts on
//! loopback: 0.75× the local run's speed; batched, 0.87–1.04×: BENCHMARKS.md,
//! `bench-scale` and `bench-scale-notes`).
//! So requests of one document whose pages have been answered quickly so far are grouped,
//! up to [`MAX_BATCH`] or about [`BATCH_WORK`] of work, waiting at most [`LINGER`] for a
//! group to fill (the hosts have other tasks queued meanwhile). Slow pages (OCR) go one a
//! task, so every host gets its share of them.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::object_store::ObjectStore;
use async_nats::jetstream::Context;
use async_nats::Client;
use pagemill_core::model::FileErrorKind;
use pagemill_core::protocol::{DocRef, DocumentSource, Request};
use pagemill_engine::transport::TransportEvent;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{Outgoing, Shared, RETRY_PAUSE};
use crate::wire::{failure_response, Control, Task};
use crate::{store, NatsError};

/// Most requests in one task.
pub(super) const MAX_BATCH: usize = 16;
/// Work a batch is sized to, by the pages answered so far.
const BATCH_WORK: Duration = Duration::from_millis(200);
/// Longest a request waits for others to fill its batch.
const LINGER: Duration = Duration::from_millis(10);

pub(super) struct Publisher {
    pub(super) shared: Arc<Shared>,
    pub(super) client: Client,
    pub(super) js: Context,
    pub(super) docs: ObjectStore,
    /// The producer's document ids and where each is stored (its content's name).
    pub(super) stored: HashMap<u32, DocumentSource>,
}

impl Publisher {
    pub(super) async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Outgoing>) {
        while let Some(first) = rx.recv().await {
            let mut queue = vec![first];
            while let Ok(more) = rx.try_recv() {
                queue.push(more);
            }
            let until = Instant::now() + LINGER;
            while self.unfilled(&queue) {
                tokio::select! {
                    more = rx.recv() => match more {
                        Some(m) => queue.push(m),
                        None => break,
                    },
                    _ = tokio::time::sleep_until(until) => break,
                }
            }
            self.publish_all(queue).await;
        }
        // The transport is gone: remove the documents still stored.
        let keys: Vec<String> = self.stored.values().filter_map(stored_key).collect();
        for key in keys {
            store::delete(&self.docs, &key).await;
        }
    }

    /// How many requests of a document go in one task, by its pages answered so far.
    fn batch_size(&self, doc: u32) -> usize {
        match self.shared.page_ms(doc) {
            Some(ms) if ms > 0.0 => {
                ((BATCH_WORK.as_secs_f64() * 1000.0 / ms) as usize).clamp(1, MAX_BATCH)
            }
            Some(_) => MAX_BATCH,
            None => 1,
        }
    }

    /// Whether some document's requests in `queue` would make a batch smaller than its
    /// size (worth lingering for).
    fn unfilled(&self, queue: &[Outgoing]) -> bool {
        let mut counts: HashMap<u32, usize> = HashMap::new();
        for o in queue {
            if let Outgoing::Task(req) = o {
                let Request::Page { doc, .. } = req.as_ref() else {
                    continue;
                };
                *counts.entry(doc.id).or_default() += 1;
            }
        }
        counts.iter().any(|(&doc, &n)| {
            let size = self.batch_size(doc);
            size > 1 && n % size != 0
        })
    }

    /// Publishes a burst: page requests grouped by document into batches, everything else
    /// in its place (a document's close after its pages).
    async fn publish_all(&mut self, queue: Vec<Outgoing>) {
        let mut groups: Vec<(u32, Vec<Request>)> = Vec::new();
        for out in queue {
            match out {
                Outgoing::Task(req) if matches!(*req, Request::Page { .. }) => {
                    let req = *req;
                    let Request::Page { doc, .. } = &req else {
                        continue;
                    };
                    let id = doc.id;
                    match groups.iter_mut().find(|(d, _)| *d == id) {
                        Some((_, g)) => g.push(req),
                        None => groups.push((id, vec![req])),
                    }
                }
                other => {
                    for (doc, g) in std::mem::take(&mut groups) {
                        self.publish_group(doc, g).await;
                    }
                    match other {
                        Outgoing::Task(req) => self.task(vec![*req]).await,
                        Outgoing::Close(doc) => self.close(doc).await,
                        Outgoing::Cancel(requests) if !requests.is_empty() => {
                            self.control(&Control::Cancel {
                                producer: self.shared.producer.clone(),
                                requests,
                            })
                            .await
                        }
                        Outgoing::Cancel(_) => {}
                    }
                }
            }
        }
        for (doc, g) in groups {
            self.publish_group(doc, g).await;
        }
    }

    /// One document's page requests, in batches of its size, each in page order.
    async fn publish_group(&mut self, doc: u32, mut requests: Vec<Request>) {
        let size = self.batch_size(doc);
        requests.sort_by_key(|r| match r {
            Request::Page { index, .. } => *index,
            _ => 0,
        });
        let mut rest = requests.into_iter().peekable();
        while rest.peek().is_some() {
            let batch: Vec<Request> = rest.by_ref().take(size).collect();
            self.task(batch).await;
        }
    }

    /// Queues one task (its document stored first).
    async fn task(&mut self, mut requests: Vec<Request>) {
        let mut kept = Vec::with_capacity(requests.len());
        for mut request in requests.drain(..) {
            let Some(id) = request.id() else { continue };
            let doc = match &mut request {
                Request::Open { doc, .. } | Request::Page { doc, .. } => doc,
                Request::Close { .. } => continue,
            };
            match self.stored_source(doc, id).await {
                Ok(Some(source)) => doc.source = source,
                Ok(None) => continue, // no longer wanted
                Err(e) => {
                    self.refuse(id, e);
                    continue;
                }
            }
            kept.push(request);
        }
        let Some(first) = kept.first().and_then(Request::id) else {
            return;
        };
        let ids: Vec<u64> = kept.iter().filter_map(Request::id).collect();
        tracing::trace!(
            requests = ids.len(),
            pending = self.shared.pending().len(),
            "task out"
        );
        let task = Task {
            producer: self.shared.producer.clone(),
            requests: kept,
        };
        let body = match serde_json::to_vec(&task) {
            Ok(b) => bytes::Bytes::from(b),
            Err(e) => {
                for id in ids {
                    self.refuse(id, NatsError::js("cannot encode a task", &e));
                }
                return;
            }
        };
        let subject = self
            .shared
            .options
            .names
            .work_subject(&self.shared.producer);
        // Deduplicated by the server if a publish is retried after a lost acknowledgement.
        let msg_id = format!("{}.{first}", self.shared.producer);
        loop {
            let publish = PublishMessage::build()
                .payload(body.clone())
                .message_id(&msg_id);
            let acked = match self.js.send_publish(subject.clone(), publish).await {
                Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match acked {
                Ok(()) => return,
                Err(e) if ids.iter().any(|&id| self.shared.is_pending(id)) => {
                    tracing::warn!("cannot queue a task ({e}); trying again");
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                Err(_) => return,
            }
        }
    }

    /// The document in the object store, put there on its first request. `None` when the
    /// request was dropped while waiting for the server.
    async fn stored_source(
        &mut self,
        doc: &DocRef,
        request: u64,
    ) -> Result<Option<DocumentSource>, NatsError> {
        if let Some(s) = self.stored.get(&doc.id) {
            return Ok(Some(s.clone()));
        }
        let path = match &doc.source {
            DocumentSource::Path { path } => path.clone(),
            stored @ DocumentSource::Stored { .. } => return Ok(Some(stored.clone())),
        };
        let (key, size) = store::content_key(&path).await?;
        loop {
            match store::put_file(&self.docs, &key, size, &path).await {
                Ok(uploaded) => {
                    if uploaded {
                        tracing::debug!(doc = doc.id, size, "document stored");
                    }
                    break;
                }
                Err(e @ NatsError::Io { .. }) => return Err(e),
                Err(e) if self.shared.is_pending(request) => {
                    tracing::warn!("{e}; trying again");
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                Err(_) => return Ok(None),
            }
        }
        let source = DocumentSource::Stored {
            store: self.shared.options.names.docs_bucket(),
            key,
            size,
            name: file_name(&path),
        };
        self.stored.insert(doc.id, source.clone());
        Ok(Some(source))
    }

    /// A request that cannot be queued is answered here: the document cannot be read.
    fn refuse(&self, request: u64, e: NatsError) {
        let Some(p) = self.shared.pending().remove(&request) else {
            return;
        };
        let kind = match &e {
            NatsError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                FileErrorKind::NotFound
            }
            _ => FileErrorKind::Unreadable,
        };
        let response = failure_response(request, p.index, kind, e.to_string());
        self.shared.emit(TransportEvent::Message {
            slot: p.slot,
            generation: p.generation,
            response,
            bytes: 0,
        });
    }

    /// A document is done: hosts are told, and its object goes once no other document of
    /// this producer has the same content.
    async fn close(&mut self, doc: u32) {
        self.shared.forget(doc);
        let Some(source) = self.stored.remove(&doc) else {
            return;
        };
        self.control(&Control::Close {
            producer: self.shared.producer.clone(),
            doc,
        })
        .await;
        let Some(key) = stored_key(&source) else {
            return;
        };
        let shared = self
            .stored
            .values()
            .any(|s| stored_key(s).as_deref() == Some(key.as_str()));
        if !shared {
            store::delete(&self.docs, &key).await;
        }
    }

    async fn control(&self, msg: &Control) {
        let Ok(body) = serde_json::to_vec(msg) else {
            return;
        };
        let subject = self.shared.options.names.control_subject();
        if let Err(e) = self.client.publish(subject, body.into()).await {
            tracing::debug!("cannot announce to worker hosts: {e}");
        }
    }
}

fn stored_key(s: &DocumentSource) -> Option<String> {
    match s {
        DocumentSource::Stored { key, .. } => Some(key.clone()),
        DocumentSource::Path { .. } => None,
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "document".into())
}

//! A worker host's answers: stored in the results stream (or, when large, the object
//! store) before the task is acknowledged, so a host that dies between the two costs a
//! duplicate answer (which the producer ignores), never a lost one.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::message::{Message, PublishMessage};
use async_nats::jetstream::object_store::ObjectStore;
use async_nats::jetstream::Context;
use pagemill_core::model::FileErrorKind;
use pagemill_core::protocol::Response;

use super::{Internal, Node};
use crate::wire::{
    failure_response, pack, set_response_id, Answer, Outcome, Reply, ReplyBody, StoredFile,
    ENCODING_HEADER, PACKED,
};
use crate::{store, NatsError};

/// How long a publish that failed (the server restarting) waits before trying again.
const RETRY_PAUSE: Duration = Duration::from_millis(500);
/// Tries at acknowledging a task whose answer is stored.
const ACK_TRIES: usize = 20;

impl Node {
    /// A local process answered: the answer joins its task's others.
    pub(super) fn answer(&mut self, local: u64, mut response: Response, out_of_memory: bool) {
        let Some(h) = self.held.get(&local) else {
            return;
        };
        set_response_id(&mut response, h.request);
        let mut files = Vec::new();
        let mut stored = Vec::new();
        if let (Response::Page { result, .. }, Some(dir)) = (&mut response, &h.upscaled_dir) {
            if let Some(up) = result.upscaled.as_mut() {
                let name = up
                    .file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let object = format!("{}/{}/{name}", h.producer, h.request);
                let here = std::mem::replace(&mut up.file, dir.join(&name));
                let file = StoredFile {
                    object,
                    path: up.file.clone(),
                };
                stored.push(file.clone());
                files.push((here, file));
            }
        }
        if let Some(b) = self.batches.get_mut(&h.batch) {
            b.files.extend(files);
        }
        self.report.answered += 1;
        let outcome = Outcome::Response {
            response,
            out_of_memory,
            files: stored,
        };
        self.finish(local, Some(outcome));
    }

    /// A request that cannot run here is answered as failed (its document cannot be had).
    pub(super) fn answer_failure(&mut self, local: u64, kind: FileErrorKind, message: String) {
        let Some(h) = self.held.get(&local) else {
            return;
        };
        tracing::warn!(host = self.config.host, "{message}");
        let response = failure_response(h.request, h.index, kind, message);
        let outcome = Outcome::Response {
            response,
            out_of_memory: false,
            files: Vec::new(),
        };
        self.finish(local, Some(outcome));
    }

    /// A request is done here (its outcome is `None` when its producer cancelled it):
    /// its memory and document are let go, and its task is answered once all its
    /// requests are done.
    pub(super) fn finish(&mut self, local: u64, outcome: Option<Outcome>) {
        let Some(h) = self.held.remove(&local) else {
            return;
        };
        self.documents.release(&h.producer, h.doc);
        if let Some(p) = h.permit {
            self.budget.release(p);
        }
        let Some(b) = self.batches.get_mut(&h.batch) else {
            return;
        };
        if let (Some(outcome), false) = (outcome, h.cancelled) {
            b.answers.push(Answer {
                request: h.request,
                outcome,
            });
        }
        b.left = b.left.saturating_sub(1);
        if b.left == 0 {
            self.send_batch(h.batch);
        }
    }

    /// Passes a page's progress to its producer (core NATS: lossy, and that is fine).
    pub(super) fn forward_progress(&self, local: u64, mut response: Response) {
        let Some(h) = self.held.get(&local) else {
            return;
        };
        set_response_id(&mut response, h.request);
        let reply = Reply {
            host: self.config.host.clone(),
            body: ReplyBody::Inline {
                answers: vec![Answer {
                    request: h.request,
                    outcome: Outcome::Response {
                        response,
                        out_of_memory: false,
                        files: Vec::new(),
                    },
                }],
            },
        };
        let Ok(body) = serde_json::to_vec(&reply) else {
            return;
        };
        let client = self.client.clone();
        let subject = self.options.names.progress_subject(&h.producer);
        tokio::spawn(async move { client.publish(subject, body.into()).await });
    }

    /// Stores a finished task's answers (and the files they name), then acknowledges
    /// it. A task whose requests were all cancelled is acknowledged without an answer.
    pub(super) fn send_batch(&mut self, batch: u64) {
        let Some(b) = self.batches.get_mut(&batch) else {
            return;
        };
        let msg = Arc::clone(&b.msg);
        let tx = self.internal_tx.clone();
        let answers = std::mem::take(&mut b.answers);
        if answers.is_empty() {
            tokio::spawn(async move {
                acknowledge(&msg).await;
                let _ = tx.send(Internal::Answered { batch });
            });
            return;
        }
        let first = answers.first().map_or(0, |a| a.request);
        tracing::trace!(batch, answers = answers.len(), "task done");
        let out = Outgoing {
            js: self.js.clone(),
            results_bucket: self.results_bucket.clone(),
            subject: self.options.names.results_subject(&b.producer),
            msg_id: format!("{}.{}.{first}", self.config.host, b.producer),
            host: self.config.host.clone(),
            answers,
            files: std::mem::take(&mut b.files),
            max_inline: self.max_inline,
            object: format!("{}/answers-{first}", b.producer),
        };
        tokio::spawn(async move {
            if out.deliver().await {
                acknowledge(&msg).await;
            }
            let _ = tx.send(Internal::Answered { batch });
        });
    }
}

/// Acknowledges a task, waiting for the server to confirm it (an acknowledgement lost
/// while the server restarts would otherwise redeliver a finished page).
async fn acknowledge(msg: &Message) {
    for _ in 0..ACK_TRIES {
        match msg.double_ack().await {
            Ok(()) => return,
            Err(e) => {
                tracing::debug!("cannot acknowledge a task ({e}); trying again");
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
    }
    tracing::warn!("a task could not be acknowledged; it will be redelivered and answered twice");
}

/// A task's answers on their way.
struct Outgoing {
    js: Context,
    results_bucket: ObjectStore,
    subject: String,
    msg_id: String,
    host: String,
    answers: Vec<Answer>,
    files: Vec<(PathBuf, StoredFile)>,
    max_inline: usize,
    object: String,
}

impl Outgoing {
    /// Stores the files, then the answers; true once the answers are stored. Tries again
    /// while the server is away (a restart); gives up only on what retrying cannot fix.
    async fn deliver(mut self) -> bool {
        for (here, file) in std::mem::take(&mut self.files) {
            loop {
                match store::put_path(&self.results_bucket, &file.object, &here).await {
                    Ok(()) => break,
                    Err(e @ NatsError::Io { .. }) => {
                        tracing::error!("{e}");
                        return false;
                    }
                    Err(e) => {
                        tracing::warn!("{e}; trying again");
                        tokio::time::sleep(RETRY_PAUSE).await;
                    }
                }
            }
            let _ = tokio::fs::remove_file(&here).await;
        }
        let requests: Vec<u64> = self.answers.iter().map(|a| a.request).collect();
        let mut reply = Reply {
            host: self.host.clone(),
            body: ReplyBody::Inline {
                answers: std::mem::take(&mut self.answers),
            },
        };
        let packed = match serde_json::to_vec(&reply)
            .map_err(std::io::Error::other)
            .and_then(|j| Ok((j.len(), pack(&j)?)))
        {
            Ok((json_bytes, b)) => {
                tracing::trace!(json_bytes, packed_bytes = b.len(), "answers out");
                b
            }
            Err(e) => {
                tracing::error!("cannot encode answers: {e}");
                return false;
            }
        };
        let (body, is_packed) = if packed.len() <= self.max_inline {
            (packed, true)
        } else {
            while let Err(e) = store::put_bytes(&self.results_bucket, &self.object, &packed).await {
                tracing::warn!("{e}; trying again");
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            reply.body = ReplyBody::Stored {
                object: self.object.clone(),
                bytes: packed.len() as u64,
                requests,
            };
            match serde_json::to_vec(&reply) {
                Ok(b) => (b, false),
                Err(_) => return false,
            }
        };
        let body = bytes::Bytes::from(body);
        loop {
            let mut publish = PublishMessage::build()
                .payload(body.clone())
                .message_id(&self.msg_id);
            if is_packed {
                publish = publish.header(ENCODING_HEADER, PACKED);
            }
            let acked = match self.js.send_publish(self.subject.clone(), publish).await {
                Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match acked {
                Ok(()) => return true,
                Err(e) => {
                    tracing::warn!("cannot store answers ({e}); trying again");
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
            }
        }
    }
}

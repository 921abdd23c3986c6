//! The reading tasks: answers from the results stream, progress from core NATS, and the
//! server's word on tasks no host finished.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::stream::Stream;
use futures_util::StreamExt;
use pagemill_core::model::FileErrorKind;
use pagemill_core::protocol::Response;
use pagemill_engine::transport::{Ended, TransportEvent};
use serde::Deserialize;

use super::{Shared, RETRY_PAUSE};
use crate::wire::{
    failure_response, unpack, Answer, Outcome, Reply, ReplyBody, Task, ENCODING_HEADER, PACKED,
};
use crate::{store, streams, NatsError};

/// How long one pull for answers waits for them.
const RESULTS_PULL: Duration = Duration::from_secs(2);
/// Answers asked for in one pull.
const RESULTS_BATCH: usize = 64;

/// Reads the answers addressed to this producer and passes them to the scheduler; each
/// message is acknowledged once its answers are handed over.
pub(super) async fn read_answers(shared: Arc<Shared>, consumer: PullConsumer) {
    loop {
        let ends = streams::pull_ends(RESULTS_PULL);
        let batch = consumer
            .batch()
            .max_messages(RESULTS_BATCH)
            .expires(RESULTS_PULL)
            .messages()
            .await;
        let mut batch = match batch {
            Ok(b) => b,
            Err(e) => {
                tracing::debug!("cannot pull answers ({e}); trying again");
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            }
        };
        while let Some(item) = streams::next_in_batch(&mut batch, ends).await {
            let msg = match item {
                Ok(m) => m,
                Err(e) => {
                    tracing::debug!("answers interrupted ({e})");
                    break;
                }
            };
            let packed = msg
                .headers
                .as_ref()
                .and_then(|h| h.get(ENCODING_HEADER))
                .is_some_and(|v| v.as_str() == PACKED);
            let json = if packed {
                unpack(&msg.payload).map_err(|e| e.to_string())
            } else {
                Ok(msg.payload.to_vec())
            };
            let reply = json.and_then(|j| {
                let reply = serde_json::from_slice::<Reply>(&j).map_err(|e| e.to_string())?;
                Ok((reply, j.len()))
            });
            let listening = match reply {
                Ok((reply, bytes)) => deliver(&shared, reply, bytes).await,
                Err(e) => {
                    tracing::error!("a worker host sent answers that cannot be read: {e}");
                    true
                }
            };
            if !listening {
                return;
            }
            if let Err(e) = msg.ack().await {
                tracing::debug!("cannot acknowledge answers: {e}");
            }
        }
    }
}

/// Hands a reply's answers to the scheduler; false once nobody listens.
async fn deliver(shared: &Shared, reply: Reply, mut json_bytes: usize) -> bool {
    let answers = match reply.body {
        ReplyBody::Inline { answers } => answers,
        ReplyBody::Stored {
            object, requests, ..
        } => {
            let fetched = store::get_bytes(&shared.results_bucket, &object).await;
            store::delete(&shared.results_bucket, &object).await;
            let read = fetched.and_then(|b| {
                let json =
                    unpack(&b).map_err(|e| NatsError::js("cannot read stored answers", e))?;
                let stored = serde_json::from_slice::<Reply>(&json)
                    .map_err(|e| NatsError::js("cannot read stored answers", e))?;
                match stored.body {
                    ReplyBody::Inline { answers } => Ok((answers, json.len())),
                    ReplyBody::Stored { .. } => Err(NatsError::js(
                        "cannot read stored answers",
                        "they name another object",
                    )),
                }
            });
            match read {
                Ok((a, bytes)) => {
                    json_bytes = bytes;
                    a
                }
                Err(e) => {
                    // The task was acknowledged: its requests go back to the scheduler as
                    // lost, to be retried as after a crash.
                    tracing::error!("answers from {} were lost: {e}", reply.host);
                    requests
                        .into_iter()
                        .map(|request| Answer {
                            request,
                            outcome: Outcome::Lost {
                                how: format!("answered, but the answer was lost ({e})"),
                                signal: None,
                                out_of_memory: false,
                                timed_out: false,
                            },
                        })
                        .collect()
                }
            }
        }
    };
    // The memory an answer holds, for the budget: its share of what came.
    let share = json_bytes / answers.len().max(1);
    tracing::trace!(
        host = reply.host,
        answers = answers.len(),
        bytes = json_bytes,
        "answers in"
    );
    for answer in answers {
        if !deliver_one(shared, &reply.host, answer, share).await {
            return false;
        }
    }
    true
}

async fn deliver_one(shared: &Shared, host: &str, answer: Answer, bytes: usize) -> bool {
    let Some(p) = shared.pending().remove(&answer.request) else {
        // A duplicate (a task redelivered after its host died) or a request given up.
        if let Outcome::Response { files, .. } = &answer.outcome {
            for f in files {
                store::delete(&shared.results_bucket, &f.object).await;
            }
        }
        return true;
    };
    let (response, out_of_memory, files) = match answer.outcome {
        Outcome::Lost {
            how,
            signal,
            out_of_memory,
            timed_out,
        } => {
            return shared.emit(TransportEvent::Lost {
                slot: p.slot,
                generation: p.generation,
                request: answer.request,
                ended: Ended {
                    how: format!("on {host} {how}"),
                    signal,
                    out_of_memory,
                    timed_out,
                },
            });
        }
        Outcome::Response {
            response,
            out_of_memory,
            files,
        } => (response, out_of_memory, files),
    };
    if let Response::Page { worker_ms, .. } = &response {
        shared.record_page_ms(p.doc, *worker_ms);
    }
    for f in &files {
        // Only into the directory the request named: a host does not choose paths here.
        let inside = p
            .upscaled_dir
            .as_deref()
            .is_some_and(|d| f.path.parent() == Some(d));
        let fetched = if inside {
            store::get_file(&shared.results_bucket, &f.object, &f.path).await
        } else {
            Err(NatsError::js(
                "an answer names a file outside its directory",
                f.path.display(),
            ))
        };
        store::delete(&shared.results_bucket, &f.object).await;
        if let Err(e) = fetched {
            tracing::error!("{e}");
        }
    }
    if out_of_memory {
        if let Some(flag) = shared.out_of_memory.get(p.slot) {
            flag.store(true, Ordering::Relaxed);
        }
    }
    shared.emit(TransportEvent::Message {
        slot: p.slot,
        generation: p.generation,
        response,
        bytes,
    })
}

/// Passes hosts' progress on long pages to the scheduler (core NATS: a lost report
/// costs nothing).
pub(super) async fn read_progress(shared: Arc<Shared>, mut sub: async_nats::Subscriber) {
    while let Some(msg) = sub.next().await {
        let Ok(reply) = serde_json::from_slice::<Reply>(&msg.payload) else {
            continue;
        };
        let ReplyBody::Inline { answers } = reply.body else {
            continue;
        };
        for answer in answers {
            let Outcome::Response { response, .. } = answer.outcome else {
                continue;
            };
            let target = shared
                .pending()
                .get(&answer.request)
                .map(|p| (p.slot, p.generation));
            if let Some((slot, generation)) = target {
                shared.emit(TransportEvent::Message {
                    slot,
                    generation,
                    response,
                    bytes: 0,
                });
            }
        }
    }
}

/// The server's word that a task reached its delivery limit.
#[derive(Deserialize)]
struct MaxDeliveries {
    stream_seq: u64,
    deliveries: u64,
}

/// Records this producer's tasks that reached the delivery limit as failed, and removes
/// them from the work stream (the server leaves them there).
pub(super) async fn read_advisories(
    shared: Arc<Shared>,
    work: Stream,
    mut sub: async_nats::Subscriber,
) {
    while let Some(msg) = sub.next().await {
        let Ok(adv) = serde_json::from_slice::<MaxDeliveries>(&msg.payload) else {
            continue;
        };
        let Ok(raw) = work.get_raw_message(adv.stream_seq).await else {
            continue;
        };
        let Ok(task) = serde_json::from_slice::<Task>(&raw.payload) else {
            continue;
        };
        if task.producer != shared.producer {
            continue; // its own producer handles it
        }
        if let Err(e) = work.delete_message(adv.stream_seq).await {
            tracing::debug!("cannot remove a given-up task: {e}");
        }
        for id in task.requests.iter().filter_map(|r| r.id()) {
            let Some(p) = shared.pending().remove(&id) else {
                continue;
            };
            tracing::warn!(
                request = id,
                deliveries = adv.deliveries,
                "no worker host finished a task; recording it as failed"
            );
            let message = format!(
                "no worker finished this page: it was delivered {} times and each worker host \
                 died or stopped answering while on it",
                adv.deliveries
            );
            let response = failure_response(id, p.index, FileErrorKind::Unreadable, message);
            shared.emit(TransportEvent::Message {
                slot: p.slot,
                generation: p.generation,
                response,
                bytes: 0,
            });
        }
    }
}

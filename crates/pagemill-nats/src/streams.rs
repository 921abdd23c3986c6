//! The streams, consumers and buckets, created on first use by whoever comes first (a
//! producer or a worker host); later comers use them as they are.

use std::time::Duration;

use async_nats::jetstream::consumer::pull::Batch;
use async_nats::jetstream::consumer::{pull, AckPolicy, PullConsumer};
use async_nats::jetstream::object_store::{self, ObjectStore};
use async_nats::jetstream::stream::{self, RetentionPolicy, StorageType, Stream};
use async_nats::jetstream::{Context, Message};
use futures_util::StreamExt;

use crate::connect::NatsOptions;
use crate::NatsError;

/// Unacknowledged tasks the shared consumer allows across every host: far above any
/// cluster's worker processes; the hosts' own pulls are what bound the work.
const MAX_ACK_PENDING: i64 = 100_000;

/// The work-queue stream of tasks (each task is removed once a host acknowledges it).
pub async fn work_stream(js: &Context, o: &NatsOptions) -> Result<Stream, NatsError> {
    work_queue(js, o, o.names.work_stream(), "work").await
}

/// A stream, created when missing. Two clients starting at once may both find it missing:
/// the one that creates second is refused by nats-server 2.9 ("subjects overlap with an
/// existing stream", even with the same settings — a host died of it at start), so a
/// refused creation looks again before it fails.
async fn get_or_create(js: &Context, config: stream::Config) -> Result<Stream, String> {
    let name = config.name.clone();
    match js.get_or_create_stream(config).await {
        Ok(s) => Ok(s),
        Err(e) => js.get_stream(&name).await.map_err(|_| e.to_string()),
    }
}

/// The pull consumer every worker host shares: a task goes to one host at a time, comes
/// back after `ack_wait` without an acknowledgement, and is given up after
/// `max_deliver` deliveries. Created with these settings, or updated to them (a host
/// started with other settings changes them for all).
pub async fn work_consumer(stream: &Stream, o: &NatsOptions) -> Result<PullConsumer, NatsError> {
    let name = o.names.work_consumer();
    stream
        .create_consumer(pull::Config {
            durable_name: Some(name.clone()),
            ack_policy: AckPolicy::Explicit,
            ack_wait: o.ack_wait,
            max_deliver: o.max_deliver,
            max_ack_pending: MAX_ACK_PENDING,
            ..Default::default()
        })
        .await
        .map_err(|e| NatsError::js(format!("cannot create the consumer {name}"), e))
}

/// The stream answers go through (a work queue too: an answer is gone once its producer
/// acknowledges it).
pub async fn results_stream(js: &Context, o: &NatsOptions) -> Result<Stream, NatsError> {
    work_queue(js, o, o.names.results_stream(), "res").await
}

/// A work-queue stream on file storage, of the subjects `<prefix>.<kind>.>`.
async fn work_queue(
    js: &Context,
    o: &NatsOptions,
    name: String,
    kind: &str,
) -> Result<Stream, NatsError> {
    get_or_create(
        js,
        stream::Config {
            name: name.clone(),
            subjects: vec![format!("{}.{kind}.>", o.names.prefix())],
            retention: RetentionPolicy::WorkQueue,
            storage: StorageType::File,
            max_age: o.max_age,
            ..Default::default()
        },
    )
    .await
    .map_err(|e| NatsError::js(format!("cannot create the stream {name}"), e))
}

/// One producer's consumer of its answers.
pub async fn results_consumer(
    stream: &Stream,
    o: &NatsOptions,
    producer: &str,
) -> Result<PullConsumer, NatsError> {
    let name = o.names.results_consumer(producer);
    stream
        .create_consumer(pull::Config {
            durable_name: Some(name.clone()),
            filter_subject: o.names.results_subject(producer),
            ack_policy: AckPolicy::Explicit,
            ack_wait: Duration::from_secs(60),
            max_ack_pending: MAX_ACK_PENDING,
            ..Default::default()
        })
        .await
        .map_err(|e| NatsError::js(format!("cannot create the consumer {name}"), e))
}

/// An object store bucket, created when missing.
pub async fn bucket(js: &Context, name: &str, o: &NatsOptions) -> Result<ObjectStore, NatsError> {
    if let Ok(b) = js.get_object_store(name).await {
        return Ok(b);
    }
    let created = js
        .create_object_store(object_store::Config {
            bucket: name.to_string(),
            max_age: o.max_age,
            storage: StorageType::File,
            ..Default::default()
        })
        .await;
    match created {
        Ok(b) => Ok(b),
        // Made by another client between the look and the creation (see `get_or_create`).
        Err(e) => js
            .get_object_store(name)
            .await
            .map_err(|_| NatsError::js(format!("cannot create the object store {name}"), e)),
    }
}

/// A key-value bucket keeping one value per key, created when missing. nats-server 2.9
/// cannot take the client's own bucket creation (it asks for account fields 2.9 does not
/// send: docs/scale-out-research.md §4), so the bucket's stream is made here with the
/// settings the client would give it, then opened as a bucket.
pub async fn key_value(
    js: &Context,
    name: &str,
    max_age: Duration,
) -> Result<async_nats::jetstream::kv::Store, NatsError> {
    if let Ok(b) = js.get_key_value(name).await {
        return Ok(b);
    }
    get_or_create(
        js,
        stream::Config {
            name: format!("KV_{name}"),
            subjects: vec![format!("$KV.{name}.>")],
            max_messages_per_subject: 1,
            max_age,
            storage: StorageType::File,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            discard: stream::DiscardPolicy::New,
            ..Default::default()
        },
    )
    .await
    .map_err(|e| NatsError::js(format!("cannot create the key-value bucket {name}"), e))?;
    js.get_key_value(name)
        .await
        .map_err(|e| NatsError::js(format!("cannot open the key-value bucket {name}"), e))
}

/// How long after a pull's expiry its batch is given up without the server's word.
const PULL_GRACE: Duration = Duration::from_millis(500);

/// How long a batch past its end is still read for messages already received.
const PULL_DRAIN: Duration = Duration::from_millis(20);

/// When a pull made now with this `expires` is over for this side.
pub fn pull_ends(expires: Duration) -> tokio::time::Instant {
    tokio::time::Instant::now() + expires + PULL_GRACE
}

/// The next message of a pull batch, or `None` once the batch is over.
///
/// A batch ends on the server's "request timeout" status or, in async-nats, 5 s after
/// that status should have come. nats-server 2.9 does not always send it for a partly
/// filled pull: a producer then waited those 5 s for answers already stored (measured: a
/// 5.06 s gap in R-refman's answers through one host, and the difference between two
/// `bench-scale` runs of 16 and 21 s). So a batch is given up at `ends` (its expiry and
/// half a second, for the messages the server sent just before), once nothing more is
/// already here.
pub async fn next_in_batch(
    batch: &mut Batch,
    ends: tokio::time::Instant,
) -> Option<Result<Message, async_nats::Error>> {
    let wait = ends
        .saturating_duration_since(tokio::time::Instant::now())
        .max(PULL_DRAIN);
    tokio::time::timeout(wait, batch.next())
        .await
        .ok()
        .flatten()
}

//! `GET /v1/jobs/{id}/events`: the job's events as Server-Sent Events, from the store, so
//! a client that reconnects with `Last-Event-ID` misses nothing.

use std::collections::VecDeque;
use std::convert::Infallible;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use tokio::sync::watch;

use crate::error::ApiError;
use crate::routes::jobs::CallerJob;
use crate::{db, App};

/// Events read from the store at a time.
const PAGE: usize = 256;

struct Cursor {
    app: App,
    id: String,
    last: u64,
    pending: VecDeque<(u64, String)>,
    /// Wakes when the job records events; `None` once it is over.
    live: Option<watch::Receiver<u64>>,
    subscribed: bool,
}

impl Cursor {
    /// The next event, waiting for the job if it has none yet; `None` at the end.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some((seq, data)) = self.pending.pop_front() {
                self.last = seq;
                return Some(Event::default().id(seq.to_string()).data(data));
            }
            if !self.subscribed {
                // Subscribed before reading, so no event recorded in between is missed.
                self.live = self.app.live.subscribe(&self.id);
                self.subscribed = true;
            }
            let (id, last) = (self.id.clone(), self.last);
            match db(&self.app, move |s| s.events_after(&id, last, PAGE)).await {
                Ok(events) if !events.is_empty() => {
                    self.pending.extend(events);
                    continue;
                }
                Ok(_) => {}
                Err(_) => return None,
            }
            match &mut self.live {
                Some(rx) => {
                    if rx.changed().await.is_err() {
                        // The job is over: read what is left, then end.
                        self.live = None;
                    }
                }
                None => return None,
            }
        }
    }
}

/// The events after `Last-Event-ID` (all of them without it), then the live ones until
/// the job ends.
#[utoipa::path(
    get,
    path = "/v1/jobs/{id}/events",
    tag = "jobs",
    params(
        ("id" = String, Path, description = "The job's id"),
        ("Last-Event-ID" = Option<u64>, Header, description = "Resume after this event"),
    ),
    responses(
        (status = 200, description = "Server-Sent Events: each `data` is one JSON event (docs/events.md), each `id` its number", content_type = "text/event-stream"),
        (status = 404, description = "No such job", body = crate::api::ErrorBody),
    )
)]
pub async fn stream_events(
    State(app): State<App>,
    CallerJob(job): CallerJob,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let id = job.id;
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let cursor = Cursor {
        app,
        id,
        last,
        pending: VecDeque::new(),
        live: None,
        subscribed: false,
    };
    let events = stream::unfold(
        cursor,
        |mut c| async move { c.next().await.map(|e| (Ok(e), c)) },
    );
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

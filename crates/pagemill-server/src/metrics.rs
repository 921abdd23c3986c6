//! `/metrics` in Prometheus' text format, through the `metrics` facade: the process tree's
//! memory (engine workers included), pages by outcome, jobs by state, queue depth, upload
//! bytes and request latency.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::store::JobState;
use crate::{db, App};

/// Request latency buckets, in seconds: health checks take microseconds, uploads of
/// large files seconds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 30.0,
];

/// The recorder, installed once per process.
pub fn install() -> Option<PrometheusHandle> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("pagemill_http_request_duration_seconds".into()),
            &LATENCY_BUCKETS,
        )
        .ok()?
        .install_recorder()
        .ok()
}

/// Resident bytes of this process and its children (the engine's workers).
pub fn tree_rss() -> u64 {
    let me = std::process::id();
    let mut children = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{me}/task")) {
        for t in tasks.flatten() {
            if let Ok(list) = std::fs::read_to_string(t.path().join("children")) {
                children.extend(
                    list.split_whitespace()
                        .filter_map(|p| p.parse::<u32>().ok()),
                );
            }
        }
    }
    pagemill_engine::rss::tree_rss(&children)
}

/// The largest [`tree_rss`] seen.
static PEAK_RSS: AtomicU64 = AtomicU64::new(0);

/// Pages written since the start (for the rate).
static PAGES: AtomicU64 = AtomicU64::new(0);

/// Samples memory every `every` (the peak between scrapes is what matters), and the page
/// rate, smoothed over about ten samples.
pub async fn sample(every: Duration) {
    let mut tick = tokio::time::interval(every);
    let (mut last_pages, mut last_at, mut rate) = (0u64, Instant::now(), 0.0f64);
    loop {
        tick.tick().await;
        let (pages, now) = (PAGES.load(Ordering::Relaxed), Instant::now());
        let secs = now.duration_since(last_at).as_secs_f64();
        if secs > 0.0 {
            let current = pages.saturating_sub(last_pages) as f64 / secs;
            rate = 0.9 * rate + 0.1 * current;
            metrics::gauge!("pagemill_pages_per_second").set(rate);
        }
        (last_pages, last_at) = (pages, now);
        let rss = tokio::task::spawn_blocking(tree_rss).await.unwrap_or(0);
        PEAK_RSS.fetch_max(rss, Ordering::Relaxed);
        metrics::gauge!("pagemill_rss_bytes").set(rss as f64);
        metrics::gauge!("pagemill_peak_rss_bytes").set(PEAK_RSS.load(Ordering::Relaxed) as f64);
    }
}

/// Pages written, by outcome.
pub fn pages(ok: u64, failed: u64) {
    PAGES.fetch_add(ok + failed, Ordering::Relaxed);
    if ok > 0 {
        metrics::counter!("pagemill_pages_total", "outcome" => "ok").increment(ok);
    }
    if failed > 0 {
        metrics::counter!("pagemill_pages_total", "outcome" => "failed").increment(failed);
    }
}

/// Bytes of upload bodies read (refused ones included): what a 413 cost the server.
pub fn body_read(bytes: usize) {
    metrics::counter!("pagemill_upload_read_bytes_total").increment(bytes as u64);
}

/// Bytes of uploads received whole.
pub fn uploaded(bytes: u64) {
    metrics::counter!("pagemill_upload_bytes_total").increment(bytes);
}

/// Middleware: request latency by route and status.
pub async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let method = req.method().to_string();
    let start = Instant::now();
    let res = next.run(req).await;
    metrics::histogram!(
        "pagemill_http_request_duration_seconds",
        "route" => route,
        "method" => method,
        "status" => res.status().as_u16().to_string()
    )
    .record(start.elapsed().as_secs_f64());
    res
}

/// `GET /metrics`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String))
)]
pub async fn render(State(app): State<App>) -> Response {
    let counts = db(&app, |s| s.counts()).await.unwrap_or_default();
    for state in [
        JobState::Queued,
        JobState::Running,
        JobState::Succeeded,
        JobState::Partial,
        JobState::Failed,
        JobState::Cancelled,
    ] {
        let n = counts.iter().find(|c| c.0 == state).map_or(0, |c| c.1);
        metrics::gauge!("pagemill_jobs", "state" => state.as_str()).set(n as f64);
    }
    let queued = counts
        .iter()
        .find(|c| c.0 == JobState::Queued)
        .map_or(0, |c| c.1);
    metrics::gauge!("pagemill_queue_depth").set(queued as f64);
    let rss = tokio::task::spawn_blocking(tree_rss).await.unwrap_or(0);
    PEAK_RSS.fetch_max(rss, Ordering::Relaxed);
    metrics::gauge!("pagemill_rss_bytes").set(rss as f64);
    metrics::gauge!("pagemill_peak_rss_bytes").set(PEAK_RSS.load(Ordering::Relaxed) as f64);
    let (restarts, recycled) = app.runner.engine_counters();
    metrics::counter!("pagemill_worker_restarts_total").absolute(restarts);
    metrics::counter!("pagemill_workers_recycled_total").absolute(recycled);
    let body = app
        .metrics
        .as_ref()
        .map_or_else(String::new, |h| h.render());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

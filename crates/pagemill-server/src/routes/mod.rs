//! The HTTP routes, one module per resource.

pub mod events;
pub mod files;
pub mod health;
pub mod jobs;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;

use crate::App;

/// Every route of the service.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route(
            "/v1/jobs",
            get(jobs::list)
                .post(jobs::create)
                // The upload handler enforces its own limit, streaming.
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/v1/jobs/{id}", get(jobs::show).delete(jobs::delete))
        .route("/v1/jobs/{id}/events", get(events::stream_events))
        .route("/v1/jobs/{id}/files", get(files::list))
        .route("/v1/jobs/{id}/files/{*path}", get(files::get))
        .with_state(app)
}

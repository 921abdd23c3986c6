//! The HTTP routes, one module per resource.

pub mod archive;
pub mod events;
pub mod files;
pub mod health;
pub mod jobs;
pub mod page;

use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::get;
use axum::Router;

use crate::App;

/// Every route of the service: `/v1/…` behind the API keys (when there are any), health
/// and metrics open.
pub fn router(app: App) -> Router {
    let open = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(crate::metrics::render))
        .route("/", get(page::index))
        .route("/app.js", get(page::script))
        .route("/app.css", get(page::style));
    Router::new()
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
        .route("/v1/jobs/{id}/archive", get(archive::archive))
        .route_layer(middleware::from_fn_with_state(
            app.clone(),
            crate::auth::require_key,
        ))
        .merge(open)
        .route_layer(middleware::from_fn(crate::metrics::track))
        .with_state(app)
}

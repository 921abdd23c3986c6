//! The HTTP routes, one module per resource. The router and the OpenAPI document are built
//! from the same annotated handlers (`utoipa-axum`), so the document cannot miss a route.

pub mod archive;
pub mod convert;
pub mod events;
pub mod files;
pub mod health;
pub mod indexes;
pub mod jobs;
pub mod page;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::App;

/// The document's frame: title, version, tags, the bearer scheme.
#[derive(OpenApi)]
#[openapi(
    info(title = "pagemill", description = "Documents in; Markdown, JSON and PDFs out. Jobs, live events, results."),
    tags(
        (name = "jobs", description = "Upload, follow, list and delete jobs"),
        (name = "files", description = "A job's outputs"),
        (name = "indexes", description = "Search indexes: add documents, search, remove"),
        (name = "operations", description = "Health, readiness, metrics"),
    ),
    modifiers(&BearerKeys)
)]
struct ApiDoc;

struct BearerKeys;

impl Modify for BearerKeys {
    fn modify(&self, doc: &mut Document) {
        let scheme = SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("An API key, when the server has them (`--api-keys`)"))
                .build(),
        );
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme("api_key", scheme);
    }
}

/// The `/v1` routes and the open ones, with the OpenAPI document describing them.
fn parts() -> (OpenApiRouter<App>, OpenApiRouter<App>) {
    let v1 = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(jobs::list, jobs::create))
        .routes(routes!(convert::convert))
        .routes(routes!(jobs::show, jobs::delete))
        .routes(routes!(events::stream_events))
        .routes(routes!(files::list))
        .routes(routes!(files::get))
        .routes(routes!(archive::archive))
        .routes(routes!(indexes::add_documents, indexes::list_documents))
        .routes(routes!(indexes::delete_document))
        .routes(routes!(indexes::search));
    let open = OpenApiRouter::new()
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(crate::metrics::render));
    (v1, open)
}

/// The OpenAPI document of every route.
pub fn openapi() -> Document {
    let (v1, open) = parts();
    let mut doc = v1.merge(open).into_openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc
}

/// Every route of the service: `/v1/…` behind the API keys (when there are any); health,
/// metrics, the OpenAPI document and the web page open.
pub fn router(app: App) -> Router {
    let doc = Arc::new(openapi());
    let (v1, open) = parts();
    let (v1, _) = v1
        // The upload handler enforces its own limit, streaming.
        .layer(DefaultBodyLimit::disable())
        .route_layer(middleware::from_fn_with_state(
            app.clone(),
            crate::auth::require_key,
        ))
        .split_for_parts();
    let (open, _) = open.split_for_parts();
    let cors = cors(&app.config.cors_origins);
    let router = v1
        .merge(open)
        .route(
            "/openapi.json",
            get(move || async move { Json(doc.as_ref().clone()) }),
        )
        .route("/", get(page::index))
        .route("/app.js", get(page::script))
        .route("/app.css", get(page::style))
        .route_layer(middleware::from_fn(crate::metrics::track))
        .with_state(app);
    match cors {
        Some(layer) => router.layer(layer),
        None => router,
    }
}

/// CORS for `origins` (none: no CORS headers, so browsers allow only this server's page).
fn cors(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use axum::http::{header, HeaderName, HeaderValue, Method};
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| match HeaderValue::from_str(o.trim()) {
            Ok(v) => Some(v),
            Err(_) => {
                tracing::warn!(origin = %o, "not a valid CORS origin; ignored");
                None
            }
        })
        .collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        tower_http::cors::CorsLayer::new()
            .allow_origin(origins)
            .allow_methods([Method::GET, Method::POST, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("last-event-id"),
            ]),
    )
}

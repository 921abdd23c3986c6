//! `/healthz` (the process answers) and `/readyz` (it can take jobs).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use crate::api::Readiness;
use crate::App;

/// `GET /healthz`: 200 while the process serves requests.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "Serving", body = String)))]
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: 200 when the engine's workers are up and the data directory has room;
/// 503 with the reasons otherwise.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "Not ready", body = Readiness),
    )
)]
pub async fn readyz(State(app): State<App>) -> (StatusCode, Json<Readiness>) {
    let engine = app.runner.engine_up();
    let data = app.data.clone();
    let free = tokio::task::spawn_blocking(move || data.free_bytes())
        .await
        .ok()
        .flatten();
    let disk = free.is_none_or(|f| f >= app.config.min_free_disk);
    let status = if engine && disk {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Readiness {
            engine,
            free_disk_bytes: free,
            disk_ok: disk,
        }),
    )
}

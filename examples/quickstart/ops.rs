//! The routes an operator's tools call: `GET /health` (the process answers), `GET /ready`
//! (the database and Redis answer) and the metrics in Prometheus' text format.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fastusers::openapi::schema;
use fastusers::openapi::utoipa::openapi::content::ContentBuilder;
use fastusers::openapi::utoipa::openapi::response::ResponseBuilder;
use fastusers::prelude::*;
use fastusers::{ApiError, Routes};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde_json::json;

use super::Auth;

/// How long `/ready` waits for each store: below a probe's usual timeout (1 s to 10 s).
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /health` and `GET /ready`, with their descriptions.
pub(crate) fn health_routes() -> Routes<Auth> {
    Routes::new()
        .route_documented(Method::GET, "/health", health, |cx| {
            let ok = schema::object(
                "The process answers.",
                vec![("status", schema::string(), true)],
            );
            cx.op("health", "Liveness").tag("operations").json_response(
                200,
                "The process answers: `{\"status\": \"ok\"}`.",
                ok,
            )
        })
        .route_documented(Method::GET, "/ready", ready, |cx| {
            let checks = schema::object(
                "Each store's state: `ok`, `failed`, or `off` (Redis when REDIS_URL is unset).",
                vec![
                    ("database", schema::string(), true),
                    ("redis", schema::string(), true),
                ],
            );
            let detail = schema::object(
                "What did not answer.",
                vec![
                    ("code", schema::string(), true),
                    ("reason", schema::string(), true),
                    ("checks", checks.clone(), true),
                ],
            );
            let unready = schema::object("Not ready.", vec![("detail", detail, true)]);
            cx.op("ready", "Readiness")
                .tag("operations")
                .json_response(200, "The database and Redis answer.", checks)
                .json_response(
                    503,
                    "The database or Redis did not answer within two seconds: `detail.code` is \
                     `NOT_READY`, `detail.reason` names which (`database`, `redis`).",
                    unready,
                )
        })
}

/// `GET /health`: `200 {"status": "ok"}` while the process serves requests.
async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(json!({"status": "ok"}))
}

/// `GET /ready`: asks the database and Redis (when configured), both at once; `200` with
/// each one's state when they answer, else `503` naming those that did not.
async fn ready(State(users): State<FastUsers<Auth>>) -> Response {
    let database = async {
        match tokio::time::timeout(CHECK_TIMEOUT, users.manager().store().ping()).await {
            Ok(Ok(())) => "ok",
            Ok(Err(error)) => {
                tracing::warn!(error = %fastusers::error::Report(&error), "readiness: the database did not answer");
                "failed"
            }
            Err(_) => {
                tracing::warn!("readiness: the database did not answer within {CHECK_TIMEOUT:?}");
                "failed"
            }
        }
    };
    let redis = async {
        let Some(redis) = &users.backends().redis.strategy else {
            return "off";
        };
        match tokio::time::timeout(CHECK_TIMEOUT, redis.ping()).await {
            Ok(Ok(())) => "ok",
            Ok(Err(error)) => {
                tracing::warn!(error = %fastusers::error::Report(&error), "readiness: Redis did not answer");
                "failed"
            }
            Err(_) => {
                tracing::warn!("readiness: Redis did not answer within {CHECK_TIMEOUT:?}");
                "failed"
            }
        }
    };
    let (database, redis) = tokio::join!(database, redis);
    let checks = json!({"database": database, "redis": redis});
    let failed: Vec<&str> = [("database", database), ("redis", redis)]
        .into_iter()
        .filter(|(_, state)| *state == "failed")
        .map(|(name, _)| name)
        .collect();
    if failed.is_empty() {
        return axum::Json(checks).into_response();
    }
    let detail = json!({
        "code": "NOT_READY",
        "reason": format!("not answering: {}", failed.join(", ")),
        "checks": checks,
    });
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, detail).into_response()
}

/// Installs the Prometheus recorder that fastusers' metrics (and any the application adds)
/// go to; the handle renders them. Its upkeep runs every few seconds in the background.
pub(crate) fn install_metrics() -> Result<PrometheusHandle, String> {
    // Argon2 takes tens to hundreds of milliseconds: buckets around that.
    let buckets = [
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ];
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(fastusers::metrics::PASSWORD_HASH_SECONDS.to_owned()),
            &buckets,
        )
        .map_err(|e| format!("metrics: {e}"))?
        .install_recorder()
        .map_err(|e| format!("metrics: {e}"))?;
    fastusers::metrics::describe();
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

/// The metrics at `path`, in Prometheus' text format, with its description (on the API's
/// port).
pub(crate) fn metrics_routes(path: &str, handle: PrometheusHandle) -> Routes<Auth> {
    Routes::new().route_documented(
        Method::GET,
        path,
        move || render(handle.clone()),
        |cx| {
            let text = ResponseBuilder::new()
                .description(
                    "The metrics in Prometheus' text format (version 0.0.4): fastusers' \
                     `fastusers_logins_total{outcome}`, `fastusers_registrations_total`, \
                     `fastusers_password_hash_seconds{operation}`, \
                     `fastusers_login_throttle_hits_total{limit}`, \
                     `fastusers_token_revocations_total{scope}`.",
                )
                .content(
                    "text/plain",
                    ContentBuilder::new().schema(Some(schema::string())).build(),
                )
                .build();
            cx.op("metrics", "Metrics")
                .tag("operations")
                .response(200, text)
        },
    )
}

/// The metrics at `path` alone, for their own port.
pub(crate) fn metrics_router(path: &str, handle: PrometheusHandle) -> Router {
    Router::new().route(path, get(move || render(handle.clone())))
}

async fn render(handle: PrometheusHandle) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
}

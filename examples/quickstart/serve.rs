//! The server loop: hyper's connections with a header read timeout, a whole-request timeout,
//! a trace span per request, and a graceful shutdown on SIGTERM or Ctrl-C.
//!
//! `axum::serve` offers neither a header read timeout nor a bound on the shutdown, so the loop
//! is hyper-util's, as axum's `serve-with-hyper` example writes it.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{ConnectInfo, MatchedPath, Request};
use axum::http::StatusCode;
use axum::response::Response;
use fastusers::ApiError;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tower::{ServiceBuilder, ServiceExt};
use tower_http::trace::{DefaultOnFailure, TraceLayer};
use tracing::{Level, Span};

/// The server's bounds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// A connection whose request headers have not all arrived by then is closed.
    pub(crate) header_read: Duration,
    /// A request not answered by then (its body read included) gets a 408.
    pub(crate) request: Duration,
    /// How long the shutdown waits for the requests in flight.
    pub(crate) shutdown: Duration,
}

/// `app` with the request timeout (a `408` in fastapi-users' error shape) and a span per
/// request: `request{method, route, status, user_id}`, with one line at its end. The span
/// names the matched route, never the URI, whose query may hold a token (`/verify?token=`,
/// the OAuth callback's `code` and `state`); fastusers records `user_id` once it knows the
/// user.
pub(crate) fn layers(app: Router, limits: Limits) -> Router {
    let timeout = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
            ApiError::status_only(StatusCode::REQUEST_TIMEOUT)
        }))
        .timeout(limits.request);
    let trace = TraceLayer::new_for_http()
        .make_span_with(|request: &Request| {
            let route = request
                .extensions()
                .get::<MatchedPath>()
                .map_or("(none)", MatchedPath::as_str);
            tracing::info_span!(
                "request",
                method = %request.method(),
                route,
                status = tracing::field::Empty,
                user_id = tracing::field::Empty,
            )
        })
        .on_request(())
        .on_response(|response: &Response, latency: Duration, span: &Span| {
            span.record("status", response.status().as_u16());
            tracing::info!(latency_ms = latency.as_millis() as u64, "answered");
        })
        .on_failure(DefaultOnFailure::new().level(Level::WARN));
    app.layer(timeout).layer(trace)
}

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting, lets the
/// requests in flight finish (for `limits.shutdown` at most) and returns.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, most likely: wait for some to be given back.
                    tracing::warn!(%error, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone();
        // The peer address feeds the per-address login throttle (unless BEHIND_PROXY).
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(request)
        });
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            // hyper's header timer starts at a request's first byte: a client that connects and
            // sends nothing is bounded here (dropping the stream closes it). `peek` waits for a
            // byte (or the end); a readiness event alone can come first with no data.
            let mut first = [0u8; 1];
            match tokio::time::timeout(limits.header_read, stream.peek(&mut first)).await {
                Ok(Ok(1..)) => {}
                _ => return,
            }
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            // A client that went away, or was too slow: nothing to do.
            if let Err(error) = watcher.watch(connection.into_owned()).await {
                tracing::debug!(%peer, error, "connection closed with an error");
            }
        });
    }
    drop(listener);
    tracing::info!("shutting down: no new connections, waiting for the requests in flight");
    match tokio::time::timeout(limits.shutdown, graceful.shutdown()).await {
        Ok(()) => tracing::info!("every request answered: stopped"),
        Err(_) => tracing::warn!(
            "requests still in flight after {:?}: stopped without them",
            limits.shutdown
        ),
    }
}

/// Completes on SIGTERM (what `docker stop`, Kubernetes and systemd send) or Ctrl-C.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C received"),
        () = term => tracing::info!("SIGTERM received"),
    }
}

//! kefu server: the HTTP API over the ticket service, with auth, metrics and
//! the OpenAPI document. Generic over the store backend; the binary picks
//! the backend at run time and calls `router::<ThatStore>`.

pub mod auth;
pub mod blobs;
pub mod bss;
pub mod console;
pub mod delivery;
pub mod directory;
pub mod error;
pub mod extract;
pub mod http;
pub mod imap;
pub mod jobs;
pub mod links;
pub mod mail;
pub mod metrics;
pub mod nats;
pub mod search;
pub mod service;
pub mod tmf621;
pub mod view;
pub mod webhooks;
pub mod wechat;

pub use service::{Kefu, Settings};

use kefu_store::prelude::*;
use std::sync::Arc;

/// The state every handler receives.
pub struct AppState<S> {
    pub kefu: Kefu<S>,
    pub metrics: Arc<metrics::Metrics>,
    /// Who has which ticket open in the console (this node).
    pub presence: Arc<console::Presence>,
}

impl<S: Clone> Clone for AppState<S> {
    fn clone(&self) -> Self {
        AppState { kefu: self.kefu.clone(), metrics: self.metrics.clone(), presence: self.presence.clone() }
    }
}

/// The whole application router.
pub fn router<S: Store>(kefu: Kefu<S>) -> axum::Router {
    let state = AppState {
        kefu,
        metrics: Arc::new(metrics::Metrics::default()),
        presence: Arc::new(console::Presence::default()),
    };
    http::router(state)
}

/// Limits on what one client may hold of the server.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeLimits {
    /// Seconds a client has to send a request's headers; then the
    /// connection is closed.
    pub header_timeout_secs: u64,
    /// Seconds a client has to send a request's whole body; then 408.
    pub body_timeout_secs: u64,
    /// Connections one address may hold open at once; more are closed at
    /// once. A call centre behind one NAT address needs room here.
    pub max_connections_per_address: usize,
    /// Seconds a shutdown (SIGTERM) gives requests in flight to finish, and
    /// then the background jobs their round.
    pub shutdown_grace_secs: u64,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            header_timeout_secs: 10,
            body_timeout_secs: 30,
            max_connections_per_address: 512,
            shutdown_grace_secs: 20,
        }
    }
}

/// Serves until `shutdown` completes, with the default limits.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, app, ServeLimits::default(), shutdown).await
}

/// Open connections per client address.
#[derive(Default)]
struct Conns(std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>);

/// One counted connection; uncounted when dropped.
struct ConnSlot(Arc<Conns>, std::net::IpAddr);

impl Conns {
    fn take(self: &Arc<Self>, ip: std::net::IpAddr, max: usize) -> Option<ConnSlot> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(ip).or_default();
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(ConnSlot(self.clone(), ip))
    }
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        let mut map = self.0.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.1) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.1);
            }
        }
    }
}

/// Serves HTTP/1.1 until `shutdown` completes, then stops accepting and
/// lets open requests finish (up to `shutdown_grace_secs`). Headers must arrive within the limit (a client
/// sending a byte a second is cut off; bodies have their own limit in the
/// extractors), and one address holds at most so many connections.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    limits: ServeLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;
    let conns = Arc::new(Conns::default());
    let body_timeout = std::time::Duration::from_secs(limits.body_timeout_secs.max(1));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(std::time::Duration::from_secs(limits.header_timeout_secs.max(1)));
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of file descriptors and the like: wait, do not spin.
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Some(slot) = conns.take(peer.ip(), limits.max_connections_per_address.max(1)) else {
            tracing::warn!("too many connections from one address; refused");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
            req.extensions_mut().insert(extract::BodyTimeout(body_timeout));
            app.clone().oneshot(req.map(axum::body::Body::new))
        });
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            let _slot = slot;
            let _ = conn.await;
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(std::time::Duration::from_secs(limits.shutdown_grace_secs)) => {}
    }
    Ok(())
}

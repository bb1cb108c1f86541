//! kefu server: the HTTP API over the ticket service, with auth, metrics and
//! the OpenAPI document. Generic over the store backend; the binary picks
//! the backend at run time and calls `router::<ThatStore>`.

pub mod auth;
pub mod console;
pub mod customer_loop;
pub mod delivery;
pub mod directory;
pub mod error;
pub mod extract;
pub mod http;
pub mod jobs;
pub mod links;
pub mod metrics;
pub mod notices;
pub mod org;
pub mod service;
pub mod view;

pub use service::{Kefu, Settings};

use kefu_store::Store;
use std::sync::Arc;

/// The state every handler receives.
pub struct AppState<S> {
    pub kefu: Kefu<S>,
    pub metrics: Arc<metrics::Metrics>,
}

impl<S: Clone> Clone for AppState<S> {
    fn clone(&self) -> Self {
        AppState { kefu: self.kefu.clone(), metrics: self.metrics.clone() }
    }
}

/// The whole application router.
pub fn router<S: Store>(kefu: Kefu<S>) -> axum::Router {
    let state = AppState { kefu, metrics: Arc::new(metrics::Metrics::default()) };
    http::router(state)
}

/// Serves until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The peer address feeds the per-address login limit.
    axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}

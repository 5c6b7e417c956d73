//! HTTP: the router every server and test shares, and its middleware.
//!
//! Only `http/`, `mcp/` and `auth/` know HTTP. `build_router` is the one place routes and
//! layers are assembled; the OAuth routes and the bearer layer plug in here.

mod middleware;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{any_service, get, post_service};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use url::Url;

use crate::auth::{Auth, AuthMode};
use crate::index::NoteIndex;
use crate::mcp::{Notifier, VaultServer};

pub use middleware::HostPolicy;

/// Largest request body accepted (MCP messages and OAuth forms are small).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// A request that has not produced a response by then gets 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What the router needs to know about where it is served.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// The public base URL (Host allow-list and allowed Origin).
    pub public_url: Url,
    /// Where MCP sessions register for change notifications.
    pub notifier: Arc<Notifier>,
    /// Set once the index has caught up with the vault after start-up (`/healthz` reports it).
    pub caught_up: Arc<std::sync::atomic::AtomicBool>,
}

#[derive(Clone)]
struct AppState {
    index: NoteIndex,
    caught_up: Arc<std::sync::atomic::AtomicBool>,
}

/// Builds the whole application: MCP at `/mcp` (and POST `/`) behind the bearer layer, the
/// OAuth routes, `/healthz`, and the layers. `shutdown` ends open MCP streams when the server
/// stops.
pub fn build_router(
    index: NoteIndex,
    settings: &HttpSettings,
    auth: Auth,
    shutdown: CancellationToken,
) -> Router {
    // Dev modes (`--no-auth`, `--local-login`) serve loopback Host names only: a tunnel must
    // never expose them.
    let loopback_only = *auth.mode() != AuthMode::GitHub;
    let policy = Arc::new(HostPolicy::new(&settings.public_url, loopback_only));
    let mcp_config = StreamableHttpServerConfig::default()
        // Host and Origin are checked by our own layer, which knows the public URL and the
        // ChatGPT/Claude origins, for every route alike.
        .disable_allowed_hosts()
        .disable_allowed_origins()
        .with_cancellation_token(shutdown);
    let server = VaultServer::new(index.clone(), settings.notifier.clone());
    let mcp = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        mcp_config,
    );

    let mcp_routes = Router::new()
        .route("/mcp", any_service(mcp.clone()))
        .route("/", post_service(mcp).get(root_info))
        .route_layer(axum::middleware::from_fn_with_state(
            auth.clone(),
            crate::auth::require_bearer,
        ))
        .layer(axum::middleware::from_fn(middleware::mcp_guard))
        .layer(axum::middleware::from_fn_with_state(
            policy.clone(),
            middleware::check_origin,
        ));

    Router::new()
        .route("/healthz", get(healthz))
        .with_state(AppState {
            index,
            caught_up: settings.caught_up.clone(),
        })
        .merge(auth.router())
        .merge(mcp_routes)
        .layer(axum::middleware::from_fn_with_state(
            policy,
            middleware::check_host,
        ))
        .layer(axum::middleware::from_fn(middleware::log_request))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
}

async fn healthz(State(state): State<AppState>) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "notes": state.index.note_count(),
        "index": if state.caught_up.load(std::sync::atomic::Ordering::Relaxed) { "ready" } else { "catching up" },
        "semantic": match state.index.model() {
            None => serde_json::json!("off"),
            Some(m) => {
                let pending = state.index.vectors_pending();
                serde_json::json!({
                    "model": m.name(),
                    "vectors": if pending == 0 { "ready" } else { "embedding" },
                    "pending": pending,
                })
            }
        },
    }))
}

/// GET `/`: a pointer for people who open the server in a browser.
async fn root_info() -> (StatusCode, &'static str) {
    (
        StatusCode::OK,
        "vaultmcp: an MCP server. Connect an MCP client (ChatGPT, Claude) to /mcp.\n",
    )
}

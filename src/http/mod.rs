//! HTTP: the router every server and test shares, and its middleware.
//!
//! Only `http/`, `mcp/` and `auth/` know HTTP. `build_router` is the one place routes and
//! layers are assembled; the OAuth routes and the bearer layer plug in here.

mod cors;
mod middleware;
mod sessions;

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
use crate::watch::{CatchUp, Phase};

pub use middleware::HostPolicy;

/// Largest request body accepted (MCP messages and OAuth forms are small).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// A request that has not produced a response by then gets 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What the router needs to know about where it is served: settings, fixed at start-up.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// The public base URL (Host allow-list and allowed Origin).
    pub public_url: Url,
    /// More allowed browser origins (`VAULTMCP_ALLOWED_ORIGINS`), for the Origin check and CORS.
    pub allowed_origins: Vec<String>,
}

/// What the running server shares with its routes: state that changes while it runs, not
/// settings.
#[derive(Debug, Clone, Default)]
pub struct ServerState {
    /// Where MCP sessions register for change notifications.
    pub notifier: Arc<Notifier>,
    /// How far the start-up catch-up has come (`/healthz` reports it).
    pub catch_up: Arc<CatchUp>,
}

#[derive(Clone)]
struct AppState {
    index: NoteIndex,
    catch_up: Arc<CatchUp>,
}

/// Builds the whole application: MCP at `/mcp` (and POST `/`) behind the bearer layer, the
/// OAuth routes, `/healthz`, and the layers. `shutdown` ends open MCP streams when the server
/// stops.
pub fn build_router(
    index: NoteIndex,
    settings: &HttpSettings,
    state: ServerState,
    auth: Auth,
    shutdown: CancellationToken,
) -> Router {
    // Dev modes (`--no-auth`, `--local-login`) serve loopback Host names only: a tunnel must
    // never expose them.
    let loopback_only = *auth.mode() != AuthMode::GitHub;
    let policy = Arc::new(HostPolicy::new(
        &settings.public_url,
        &settings.allowed_origins,
        loopback_only,
    ));
    let mcp_config = StreamableHttpServerConfig::default()
        // Host and Origin are checked by our own layer, which knows the public URL and the
        // ChatGPT/Claude origins, for every route alike.
        .disable_allowed_hosts()
        .disable_allowed_origins()
        .with_cancellation_token(shutdown);
    let server = VaultServer::new(index.clone(), state.notifier.clone());
    let mcp = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        mcp_config,
    );

    let mcp_routes = Router::new()
        .route("/mcp", any_service(mcp.clone()))
        .route("/", post_service(mcp).get(root_info))
        // Inside the bearer check, which puts the user in the request.
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::new(sessions::SessionOwners::default()),
            sessions::bind_sessions,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            auth.clone(),
            crate::auth::require_bearer,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.notifier.clone(),
            middleware::track_listen_streams,
        ))
        .layer(axum::middleware::from_fn(middleware::mcp_guard))
        // Outside the bearer layer (a preflight has no token) and the GET rule, inside the
        // Origin check (a foreign Origin gets its 403 and no CORS headers).
        .layer(cors::mcp_layer(policy.clone()))
        .layer(axum::middleware::from_fn_with_state(
            policy.clone(),
            middleware::check_origin,
        ));

    Router::new()
        .route("/healthz", get(healthz))
        .with_state(AppState {
            index,
            catch_up: state.catch_up,
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

/// `{"status":"ok"}` while catching up and once ready; a failed catch-up is a 503 with
/// `"status":"degraded"` (searches still answer from the index as it is). The reason is in
/// the log, not here: this route is public.
async fn healthz(State(state): State<AppState>) -> (StatusCode, axum::Json<serde_json::Value>) {
    let (code, status, index) = match state.catch_up.phase() {
        Phase::Running => (StatusCode::OK, "ok", "catching up"),
        Phase::Done => (StatusCode::OK, "ok", "ready"),
        Phase::Failed => (StatusCode::SERVICE_UNAVAILABLE, "degraded", "failed"),
    };
    let body = serde_json::json!({
        "status": status,
        "version": env!("CARGO_PKG_VERSION"),
        "notes": state.index.note_count(),
        "index": index,
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
    });
    (code, axum::Json(body))
}

/// GET `/`: a pointer for people who open the server in a browser.
async fn root_info() -> (StatusCode, &'static str) {
    (
        StatusCode::OK,
        "vaultmcp: an MCP server. Connect an MCP client (ChatGPT, Claude) to /mcp.\n",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::ReindexReport;
    use crate::vault::Vault;

    #[tokio::test]
    async fn a_failed_catch_up_is_reported_not_ready() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::open(dir.path(), 1 << 20).unwrap();
        let index = NoteIndex::open_or_create(&dir.path().join("data"), vault).unwrap();
        let state = AppState {
            index,
            catch_up: Arc::new(CatchUp::default()),
        };
        let health = |state: &AppState| {
            let state = state.clone();
            async move {
                let (code, body) = healthz(State(state)).await;
                (code, body.0["status"].clone(), body.0["index"].clone())
            }
        };
        assert_eq!(
            health(&state).await,
            (StatusCode::OK, "ok".into(), "catching up".into())
        );
        state
            .catch_up
            .finish(&Err("the index writer has stopped".into()));
        let (code, status, index) = health(&state).await;
        assert_eq!(
            (code, status, index),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "degraded".into(),
                "failed".into()
            )
        );
        state.catch_up.finish(&Ok(ReindexReport::default()));
        assert_eq!(
            health(&state).await,
            (StatusCode::OK, "ok".into(), "ready".into())
        );
    }
}

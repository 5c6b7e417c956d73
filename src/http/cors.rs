//! CORS for browser-based MCP clients (the MCP Inspector in direct mode, web apps).
//!
//! A browser sends a preflight `OPTIONS` before a cross-origin POST with `Authorization` or the
//! MCP headers; it carries no token, so it is answered here, before the bearer layer. Only the
//! origins the Origin check accepts ([`HostPolicy::origin_allowed`]) get
//! `Access-Control-Allow-Origin`; a foreign `Origin` never gets this far (the Origin check
//! answers 403 first), so it gets nothing a browser would let a page use. Real responses,
//! the 401 challenge included, expose `Mcp-Session-Id` and `WWW-Authenticate` to the page.
//! No credentials mode: MCP clients send their token in `Authorization`, never in cookies.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderName, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::HostPolicy;

/// Request headers MCP clients send (Streamable HTTP and the 2026-07-28 routing headers).
pub const ALLOWED_HEADERS: [HeaderName; 7] = [
    header::AUTHORIZATION,
    header::CONTENT_TYPE,
    HeaderName::from_static("mcp-protocol-version"),
    HeaderName::from_static("mcp-session-id"),
    HeaderName::from_static("mcp-method"),
    HeaderName::from_static("mcp-name"),
    HeaderName::from_static("last-event-id"),
];

/// Response headers a page may read: the session to send back, and the OAuth challenge that
/// starts discovery.
pub const EXPOSED_HEADERS: [HeaderName; 2] = [
    HeaderName::from_static("mcp-session-id"),
    header::WWW_AUTHENTICATE,
];

/// How long a browser may cache a preflight answer.
pub const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// The CORS layer of the MCP routes (`/mcp` and `/`).
pub fn mcp_layer(policy: Arc<HostPolicy>) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _parts| {
            origin.to_str().is_ok_and(|o| policy.origin_allowed(o))
        }))
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers(ALLOWED_HEADERS)
        .expose_headers(EXPOSED_HEADERS)
        .max_age(PREFLIGHT_MAX_AGE)
}

//! The resource server's check on the MCP routes (`/mcp` and `/`).
//!
//! A request needs `Authorization: Bearer <our JWT>` whose audience is this server and whose
//! scope has `notes:read`. Otherwise: 401 with `WWW-Authenticate: Bearer
//! resource_metadata="<public-url>/.well-known/oauth-protected-resource[/mcp]",
//! scope="notes:read"` (plus `error="invalid_token"` when a token was presented), or 403
//! `insufficient_scope`. The user ends up in the request extensions as [`AuthUser`].
//!
//! Personal access tokens (`vmcp_…`) are accepted here too, with scope `notes:read`; the OAuth
//! endpoints never accept them.

use axum::extract::{OriginalUri, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::tokens::verify_access_token;
use super::{Auth, AuthMode, SCOPE};

/// The person (and client) behind an MCP request.
#[derive(Clone, Debug)]
pub struct AuthUser {
    /// `github:<numeric id>` or `local`.
    pub sub: String,
    pub login: String,
    pub client_id: String,
    pub scope: String,
}

/// axum middleware for the MCP routes; see the module docs. In `NoAuth` mode it lets
/// everything through and inserts no user.
pub async fn require_bearer(State(auth): State<Auth>, mut req: Request, next: Next) -> Response {
    if *auth.mode() == AuthMode::NoAuth {
        return next.run(req).await;
    }
    let path = req
        .extensions()
        .get::<OriginalUri>()
        .map_or_else(|| req.uri().path().to_owned(), |u| u.0.path().to_owned());
    let metadata = if path == "/mcp" || path.starts_with("/mcp/") {
        format!("{}/.well-known/oauth-protected-resource/mcp", auth.issuer())
    } else {
        format!("{}/.well-known/oauth-protected-resource", auth.issuer())
    };
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| rest.trim().to_owned())
        });
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return challenge(
            StatusCode::UNAUTHORIZED,
            format!("Bearer resource_metadata=\"{metadata}\", scope=\"{SCOPE}\""),
            "invalid_token",
            "a bearer token is required",
        );
    };
    if let Some(user) = personal_token(&auth, &token) {
        tracing::debug!(token = %user.login, path = %path, "personal access token ok");
        req.extensions_mut().insert(user);
        return next.run(req).await;
    }
    let claims = match verify_access_token(&auth, &token).await {
        Ok(c) => c,
        Err(e) => {
            tracing::info!(reason = %e, path = %path, "bearer token refused");
            return challenge(
                StatusCode::UNAUTHORIZED,
                format!(
                    "Bearer resource_metadata=\"{metadata}\", scope=\"{SCOPE}\", error=\"invalid_token\", error_description=\"the access token is invalid or expired\""
                ),
                "invalid_token",
                "the access token is invalid or expired",
            );
        }
    };
    if !claims.scope.split_whitespace().any(|s| s == SCOPE) {
        return challenge(
            StatusCode::FORBIDDEN,
            format!(
                "Bearer error=\"insufficient_scope\", scope=\"{SCOPE}\", resource_metadata=\"{metadata}\""
            ),
            "insufficient_scope",
            "the token lacks the notes:read scope",
        );
    }
    let user = AuthUser {
        sub: claims.sub,
        login: claims.login,
        client_id: claims.client_id,
        scope: claims.scope,
    };
    tracing::debug!(sub = %user.sub, login = %user.login, client_id = %user.client_id, path = %path, "bearer ok");
    req.extensions_mut().insert(user);
    next.run(req).await
}

/// A personal access token (`vmcp_…`, `vaultmcp token create`), checked against the in-memory
/// set of usable tokens: scope `notes:read`, subject `token:<name>`.
fn personal_token(auth: &Auth, token: &str) -> Option<AuthUser> {
    if !token.starts_with(super::pat::PREFIX) {
        return None;
    }
    let hash = super::sha256_hex(token);
    let now = super::store::now();
    let pat = auth.inner.revocations.pat(&hash, now)?;
    if auth.inner.revocations.should_touch(&hash, now) {
        let store = auth.inner.store.clone();
        tokio::spawn(async move {
            let _ = store
                .call(move |c| Ok(super::store::pats::touch(c, &hash, now)?))
                .await;
        });
    }
    Some(AuthUser {
        sub: format!("token:{}", pat.name),
        login: pat.name,
        client_id: "personal-access-token".into(),
        scope: SCOPE.into(),
    })
}

fn challenge(status: StatusCode, www: String, error: &str, description: &str) -> Response {
    let mut r = (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&www) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    // Browser-based MCP clients must be able to read the challenge.
    r.headers_mut().insert(
        "access-control-expose-headers",
        HeaderValue::from_static("WWW-Authenticate"),
    );
    r
}

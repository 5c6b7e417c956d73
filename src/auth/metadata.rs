//! Discovery documents: RFC 9728 protected-resource metadata (for `/mcp` and for `/`),
//! RFC 8414 authorization-server metadata (also answered at `/.well-known/openid-configuration`,
//! which ChatGPT probes), and the JWKS.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Auth, SCOPE};

/// The protected-resource metadata for a resource URL.
pub fn protected_resource_document(auth: &Auth, resource: &str) -> Value {
    json!({
        "resource": resource,
        "authorization_servers": [auth.issuer()],
        "scopes_supported": [SCOPE],
        "bearer_methods_supported": ["header"],
        "resource_name": "vaultmcp",
    })
}

/// The authorization-server metadata.
pub fn authorization_server_document(auth: &Auth) -> Value {
    let base = auth.issuer();
    let auth_methods = [
        "none",
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
    ];
    let signing_algs = super::assertion::ALGORITHMS;
    json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "registration_endpoint": format!("{base}/register"),
        "revocation_endpoint": format!("{base}/revoke"),
        "jwks_uri": format!("{base}/jwks.json"),
        "scopes_supported": [SCOPE],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": signing_algs,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_signing_alg_values_supported": signing_algs,
        "client_id_metadata_document_supported": true,
        "authorization_response_iss_parameter_supported": true,
    })
}

fn cached(v: Value) -> Response {
    let mut r = Json(v).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    r
}

pub async fn protected_resource_mcp(State(auth): State<Auth>) -> Response {
    cached(protected_resource_document(
        &auth,
        &format!("{}/mcp", auth.issuer()),
    ))
}

pub async fn protected_resource_root(State(auth): State<Auth>) -> Response {
    cached(protected_resource_document(&auth, auth.issuer()))
}

pub async fn authorization_server(State(auth): State<Auth>) -> Response {
    cached(authorization_server_document(&auth))
}

pub async fn jwks(State(auth): State<Auth>) -> Response {
    if let Err(e) = auth.refresh_keys().await {
        tracing::warn!(error = %format!("{e:#}"), "cannot reload signing keys");
    }
    let doc = auth
        .inner
        .keys
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .jwks();
    let mut r = Json(doc).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    r
}

//! Error responses of the authorization server.
//!
//! Two kinds: RFC 6749 JSON bodies (`{"error","error_description"}`, `Cache-Control: no-store`)
//! for the token, registration and revocation endpoints, and a small HTML page for errors the
//! browser sees before the client's redirect URI is trusted (those must never redirect).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

/// An RFC 6749 §5.2 style error.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{error}: {description}")]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    pub fn new(
        status: StatusCode,
        error: &'static str,
        description: impl Into<String>,
    ) -> OAuthError {
        OAuthError {
            status,
            error,
            description: description.into(),
        }
    }
    pub fn invalid_request(d: impl Into<String>) -> OAuthError {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_request", d)
    }
    pub fn invalid_grant(d: impl Into<String>) -> OAuthError {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_grant", d)
    }
    pub fn invalid_client(d: impl Into<String>) -> OAuthError {
        OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_client", d)
    }
    pub fn invalid_target(d: impl Into<String>) -> OAuthError {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_target", d)
    }
    pub fn invalid_scope(d: impl Into<String>) -> OAuthError {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_scope", d)
    }
    pub fn unsupported_grant_type(d: impl Into<String>) -> OAuthError {
        OAuthError::new(StatusCode::BAD_REQUEST, "unsupported_grant_type", d)
    }
    pub fn invalid_redirect_uri(d: impl Into<String>) -> OAuthError {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_redirect_uri", d)
    }
    pub fn invalid_client_metadata(d: impl Into<String>) -> OAuthError {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_client_metadata", d)
    }
    pub fn rate_limited() -> OAuthError {
        OAuthError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "temporarily_unavailable",
            "too many requests from this address, try again later",
        )
    }
    /// A failure on our side; the details go to the log, not to the client.
    pub fn server_error(err: impl std::fmt::Display) -> OAuthError {
        tracing::error!(error = %err, "auth: internal error");
        OAuthError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal error",
        )
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut resp = (
            self.status,
            axum::Json(json!({"error": self.error, "error_description": self.description})),
        )
            .into_response();
        no_store(resp.headers_mut());
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"vaultmcp\""),
            );
        }
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
        }
        resp
    }
}

impl From<anyhow::Error> for OAuthError {
    fn from(e: anyhow::Error) -> OAuthError {
        OAuthError::server_error(format!("{e:#}"))
    }
}

/// Adds `Cache-Control: no-store` and `Pragma: no-cache`.
pub fn no_store(h: &mut axum::http::HeaderMap) {
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// An error shown to the person in the browser (never a redirect to an untrusted URI).
#[derive(Debug, Clone)]
pub struct PageError {
    pub status: StatusCode,
    /// An OAuth-style error code, shown on the page in `<code id="error">` for tests and support.
    pub error: &'static str,
    pub message: String,
}

impl PageError {
    pub fn new(status: StatusCode, error: &'static str, message: impl Into<String>) -> PageError {
        PageError {
            status,
            error,
            message: message.into(),
        }
    }
    pub fn bad_request(error: &'static str, message: impl Into<String>) -> PageError {
        PageError::new(StatusCode::BAD_REQUEST, error, message)
    }
}

impl From<anyhow::Error> for PageError {
    fn from(e: anyhow::Error) -> PageError {
        tracing::error!(error = %format!("{e:#}"), "auth: internal error");
        PageError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "Something went wrong on the server. Please try again.",
        )
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        // maud escapes the message; the code is one of our constants.
        let body = maud::html! {
            (maud::DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    title { "Sign-in error" }
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    (maud::PreEscaped(crate::auth::consent::STYLE))
                }
                body { main {
                    h1 { "Sign-in stopped" }
                    p { (self.message) }
                    p class="muted" { "Error: " code id="error" { (self.error) } }
                } }
            }
        }
        .into_string();
        let mut resp = (self.status, Html(body)).into_response();
        page_headers(resp.headers_mut());
        resp
    }
}

/// Headers for every HTML page we serve: no caching, no framing, no scripts.
pub fn page_headers(h: &mut axum::http::HeaderMap) {
    no_store(h);
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action 'self' https: http://localhost:* http://127.0.0.1:* http://[::1]:*; frame-ancestors 'none'; base-uri 'none'"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
}

//! Layers: Host and Origin checks (DNS-rebinding protection), the MCP GET rule, the tracking
//! of `subscriptions/listen` responses, request logs.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio_util::task::task_tracker::TaskTrackerToken;
use url::Url;

use crate::config::is_loopback_host;
use crate::mcp::Notifier;

/// Origins of the hosted clients that call MCP servers from a browser.
const TRUSTED_ORIGINS: &[&str] = &[
    "https://chatgpt.com",
    "https://chat.openai.com",
    "https://claude.ai",
];

/// Which `Host` and `Origin` values are ours.
#[derive(Debug)]
pub struct HostPolicy {
    public_host: String,
    public_origin: String,
    /// `VAULTMCP_ALLOWED_ORIGINS`, normalised by the config.
    extra_origins: Vec<String>,
    loopback_only: bool,
}

impl HostPolicy {
    pub fn new(public_url: &Url, extra_origins: &[String], loopback_only: bool) -> HostPolicy {
        HostPolicy {
            public_host: public_url.host_str().unwrap_or("").to_ascii_lowercase(),
            public_origin: public_url.origin().ascii_serialization(),
            extra_origins: extra_origins.to_vec(),
            loopback_only,
        }
    }

    /// A `Host` header value (name and optional port) we serve.
    pub fn host_allowed(&self, host: &str) -> bool {
        let name = host_name(host);
        if is_loopback_host(&name) {
            return true;
        }
        !self.loopback_only && !name.is_empty() && name == self.public_host
    }

    /// An `Origin` header value we accept: ours, loopback, a trusted hosted client, or one the
    /// person listed. CORS answers exactly these (see `cors.rs`).
    pub fn origin_allowed(&self, origin: &str) -> bool {
        let origin = origin.trim().trim_end_matches('/');
        if origin.eq_ignore_ascii_case(&self.public_origin)
            || TRUSTED_ORIGINS
                .iter()
                .copied()
                .chain(self.extra_origins.iter().map(String::as_str))
                .any(|o| o.eq_ignore_ascii_case(origin))
        {
            return true;
        }
        Url::parse(origin).is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(is_loopback_host)
        })
    }
}

/// The name part of a Host header: no port, no brackets, lower case.
fn host_name(host: &str) -> String {
    let host = host.trim();
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(n, port)| {
            if port.chars().all(|c| c.is_ascii_digit()) {
                n
            } else {
                host
            }
        })
    };
    name.to_ascii_lowercase()
}

fn forbidden(message: &'static str) -> Response {
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message,
    )
        .into_response()
}

/// 403 unless the `Host` is the public URL's host or loopback (only loopback in dev modes).
pub async fn check_host(
    State(policy): State<Arc<HostPolicy>>,
    req: Request,
    next: Next,
) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    match host {
        Some(h) if policy.host_allowed(h) => next.run(req).await,
        _ => forbidden("forbidden: this Host is not served here\n"),
    }
}

/// 403 for a present `Origin` that is not ours (DNS-rebinding protection on MCP routes).
pub async fn check_origin(
    State(policy): State<Arc<HostPolicy>>,
    req: Request,
    next: Next,
) -> Response {
    match req.headers().get(header::ORIGIN).map(|o| o.to_str()) {
        None => next.run(req).await,
        Some(Ok(o)) if policy.origin_allowed(o) => next.run(req).await,
        Some(_) => forbidden("forbidden: this Origin may not call the MCP server\n"),
    }
}

/// GET `/mcp` without a session has no stream to resume: 405, which is also what claude.ai's
/// reachability probe expects. A session DELETE answers 204 rather than rmcp's 202: the Python
/// `mcp` SDK takes anything but 200/204 (and 405) as a failed termination and logs a warning.
pub async fn mcp_guard(req: Request, next: Next) -> Response {
    if req.method() == Method::GET
        && req.uri().path() == "/mcp"
        && !req.headers().contains_key("mcp-session-id")
    {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "POST, DELETE")],
            "this MCP server offers no stream without a session; POST JSON-RPC messages to /mcp\n",
        )
            .into_response();
    }
    let is_delete = req.method() == Method::DELETE;
    let mut response = next.run(req).await;
    if is_delete && response.status() == StatusCode::ACCEPTED {
        *response.status_mut() = StatusCode::NO_CONTENT;
    }
    response
}

/// Holds a [`Notifier::listen_stream_opened`] token for as long as the response to a
/// `subscriptions/listen` request is being written, so that shutdown can wait for the final
/// results. 2026-07-28 names the method in `Mcp-Method` (rmcp refuses a body that disagrees).
pub async fn track_listen_streams(
    State(notifier): State<Arc<Notifier>>,
    req: Request,
    next: Next,
) -> Response {
    let is_listen = req.method() == Method::POST
        && req
            .headers()
            .get("mcp-method")
            .is_some_and(|m| m.as_bytes() == b"subscriptions/listen");
    if !is_listen {
        return next.run(req).await;
    }
    let token = notifier.listen_stream_opened();
    let response = next.run(req).await;
    response.map(|inner| {
        Body::new(TrackedBody {
            inner,
            _token: token,
        })
    })
}

/// A response body that holds a token until it is dropped (written whole, or the client left).
struct TrackedBody {
    inner: Body,
    _token: TaskTrackerToken,
}

impl axum::body::HttpBody for TrackedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// One log line per request: method, path (never the query: it may hold OAuth codes), the
/// JSON-RPC method and tool for MCP posts, status and latency. Never headers or bodies.
pub async fn log_request(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let (response, rpc) =
        if method == Method::POST && (path == "/mcp" || path == "/") && is_json(req.headers()) {
            match peek_rpc(req).await {
                Ok((req, rpc)) => {
                    let response = next.run(req).await;
                    (response, rpc)
                }
                Err(response) => (response, None),
            }
        } else {
            (next.run(req).await, None)
        };
    let status = response.status().as_u16();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let (rpc_method, tool) = rpc.unwrap_or_default();
    tracing::info!(%method, %path, rpc = %rpc_method, tool = %tool, status, ms = format_args!("{ms:.2}"), "request");
    response
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// Reads the JSON-RPC `method` (and the tool name of `tools/call`) and puts the body back.
/// A body that cannot be read whole within the limit is answered here with 413: a chunked body
/// (no Content-Length) over the limit only shows up while reading it, and the handlers behind
/// must not see a truncated or empty body in its place.
async fn peek_rpc(req: Request) -> Result<(Request, Option<(String, String)>), Response> {
    let (parts, body) = req.into_parts();
    match to_bytes(body, super::MAX_BODY_BYTES).await {
        Ok(bytes) => {
            let info = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .map(|v| {
                    let method = v
                        .get("method")
                        .and_then(|m| m.as_str())
                        .unwrap_or("")
                        .to_owned();
                    let tool = v
                        .pointer("/params/name")
                        .and_then(|m| m.as_str())
                        .filter(|_| method == "tools/call")
                        .unwrap_or("")
                        .to_owned();
                    (method, tool)
                });
            Ok((Request::from_parts(parts, Body::from(bytes)), info))
        }
        // Over the limit (the other read errors are a client gone mid-body, which reads no
        // answer): the same 413 the body-limit layer gives a too-large Content-Length.
        Err(_) => Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "request body too large\n",
        )
            .into_response()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_origins() {
        let p = HostPolicy::new(
            &Url::parse("https://notes.example.com").unwrap(),
            &["https://app.example.com".to_owned()],
            false,
        );
        for ok in [
            "notes.example.com",
            "NOTES.example.com:443",
            "localhost:8787",
            "127.0.0.1",
            "[::1]:9",
        ] {
            assert!(p.host_allowed(ok), "{ok}");
        }
        for bad in ["evil.com", "notes.example.com.evil.com", "", "10.0.0.1:80"] {
            assert!(!p.host_allowed(bad), "{bad}");
        }
        for ok in [
            "https://notes.example.com",
            "https://chatgpt.com",
            "https://claude.ai",
            "http://localhost:6274",
            "http://127.0.0.1:1",
            "https://app.example.com",
        ] {
            assert!(p.origin_allowed(ok), "{ok}");
        }
        for bad in [
            "https://evil.com",
            "http://notes.example.com",
            "null",
            "https://chatgpt.com.evil.com",
            "http://app.example.com",
            "https://app.example.com:8443",
        ] {
            assert!(!p.origin_allowed(bad), "{bad}");
        }
        let dev = HostPolicy::new(&Url::parse("http://127.0.0.1:8787").unwrap(), &[], true);
        assert!(dev.host_allowed("127.0.0.1:8787"));
        assert!(!dev.host_allowed("tunnel.example.com"));
    }
}

//! A `vaultmcp serve` in-process on 127.0.0.1:0 and the HTTP a remote MCP client speaks to
//! it: sessions (initialize + `Mcp-Session-Id`), stateless 2026-07-28 requests, SSE bodies.

use std::path::Path;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use vaultmcp::config::{Config, ServeArgs};
use vaultmcp::serve::Server;

pub const SESSION_VERSIONS: [&str; 3] = ["2025-03-26", "2025-06-18", "2025-11-25"];
pub const LATEST: &str = "2025-11-25";
pub const STATELESS: &str = "2026-07-28";
pub const ACCEPT: &str = "application/json, text/event-stream";

/// A running server over a vault, with its own data dir, and an HTTP client for it.
pub struct TestServer {
    pub server: Option<Server>,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// A client that follows no redirects.
    pub http: reqwest::Client,
    _tmp: tempfile::TempDir,
}

impl TestServer {
    /// Serves `vault-fixtures` (read in place: vaultmcp never writes into the vault).
    pub async fn fixtures() -> TestServer {
        TestServer::over(&super::fixtures(), None).await
    }

    /// Serves `vault`; `tmp` is kept alive with the server when the vault lives in it.
    pub async fn over(vault: &Path, tmp: Option<tempfile::TempDir>) -> TestServer {
        let serve = ServeArgs {
            no_auth: true,
            ..ServeArgs::default()
        };
        TestServer::start(vault, tmp, serve, |_| {}).await
    }

    /// Serves `vault` with the flags in `serve` (its `bind` is always 127.0.0.1:0) and the
    /// loaded config changed by `adjust` (tests set what would otherwise be environment).
    pub async fn start(
        vault: &Path,
        tmp: Option<tempfile::TempDir>,
        serve: ServeArgs,
        adjust: impl FnOnce(&mut Config),
    ) -> TestServer {
        let tmp = tmp.unwrap_or_else(|| tempfile::tempdir().expect("temp dir"));
        let mut config =
            super::serve_config_with(vault, &tmp.path().join("data"), tmp.path(), serve);
        adjust(&mut config);
        let server = Server::start(config).await.expect("server starts");
        // `serve` answers at once and catches up with the vault in its writer; a sync queued
        // behind that catch-up returns when the index is complete.
        server
            .writer
            .sync_all(false, None)
            .await
            .expect("index caught up");
        let base = format!("http://{}", server.addr);
        TestServer {
            server: Some(server),
            base,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            _tmp: tmp,
        }
    }

    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.base)
    }

    pub fn note_count(&self) -> usize {
        usize::try_from(self.server.as_ref().unwrap().index.note_count()).unwrap()
    }

    /// A POST of `body` to `path` with the headers a Streamable HTTP client sends.
    pub fn post(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .header("accept", ACCEPT)
            .body(body.to_string())
    }

    /// `initialize` with `version` and the `notifications/initialized` that follows it.
    pub async fn session(&self, version: &str) -> Session {
        self.session_at("/mcp", version).await
    }

    /// [`TestServer::session`] on another MCP path (the server also answers at `/`).
    pub async fn session_at(&self, path: &str, version: &str) -> Session {
        let reply = self.post(path, &initialize(version)).send().await.unwrap();
        assert_eq!(reply.status(), StatusCode::OK, "initialize {version}");
        let id = reply
            .headers()
            .get("mcp-session-id")
            .expect("initialize returns Mcp-Session-Id")
            .to_str()
            .unwrap()
            .to_owned();
        let (_, msg) = read_message(reply).await;
        assert_eq!(msg["result"]["protocolVersion"], version);
        let session = Session {
            id,
            version: version.to_owned(),
        };
        let ack = self
            .session_post_at(
                path,
                &session,
                &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(ack.status(), StatusCode::ACCEPTED);
        session
    }

    pub fn session_post(&self, s: &Session, body: &Value) -> reqwest::RequestBuilder {
        self.session_post_at("/mcp", s, body)
    }

    pub fn session_post_at(
        &self,
        path: &str,
        s: &Session,
        body: &Value,
    ) -> reqwest::RequestBuilder {
        self.post(path, body)
            .header("mcp-session-id", &s.id)
            .header("mcp-protocol-version", &s.version)
    }

    /// A JSON-RPC request in the session; returns the response message.
    pub async fn request(&self, s: &Session, method: &str, params: Value) -> Value {
        let body = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
        let reply = self.session_post(s, &body).send().await.unwrap();
        assert_eq!(reply.status(), StatusCode::OK, "{method}");
        let (_, msg) = read_message(reply).await;
        assert_eq!(msg["jsonrpc"], "2.0");
        assert_eq!(msg["id"], 7, "{msg}");
        msg
    }

    /// A request that must succeed: its `result`.
    pub async fn result(&self, s: &Session, method: &str, params: Value) -> Value {
        let msg = self.request(s, method, params).await;
        assert!(msg.get("error").is_none(), "{method} failed: {msg}");
        msg["result"].clone()
    }

    pub async fn call_tool(&self, s: &Session, name: &str, arguments: Value) -> Value {
        self.result(
            s,
            "tools/call",
            json!({"name": name, "arguments": arguments}),
        )
        .await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(server) = &self.server {
            server.shutdown();
        }
    }
}

pub struct Session {
    pub id: String,
    pub version: String,
}

pub fn initialize(version: &str) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": version,
            "capabilities": {},
            "clientInfo": {"name": "vaultmcp-tests", "version": "1.0.0"}
        }
    })
}

/// The JSON-RPC messages in an SSE body: each event's `data:` lines joined, empty ones skipped.
pub fn sse_messages(body: &str) -> Vec<Value> {
    let mut messages = Vec::new();
    let mut data = Vec::<&str>::new();
    let mut flush = |data: &mut Vec<&str>| {
        let joined = data.join("\n");
        if !joined.trim().is_empty() {
            messages.push(serde_json::from_str(&joined).unwrap_or_else(|e| {
                panic!("SSE data is not JSON ({e}): {joined}");
            }));
        }
        data.clear();
    };
    for line in body.lines() {
        if line.is_empty() {
            flush(&mut data);
        } else if let Some(rest) = line.strip_prefix("data:") {
            data.push(rest.strip_prefix(' ').unwrap_or(rest));
        }
    }
    flush(&mut data);
    messages
}

/// The response message of a POST, whether it came as JSON or as an SSE stream.
pub async fn read_message(reply: reqwest::Response) -> (HeaderMap, Value) {
    let headers = reply.headers().clone();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = reply.text().await.unwrap();
    let msg = if content_type.starts_with("text/event-stream") {
        let messages = sse_messages(&body);
        messages
            .into_iter()
            .find(|m| m.get("result").is_some() || m.get("error").is_some())
            .unwrap_or_else(|| panic!("no response in the SSE stream: {body}"))
    } else {
        assert!(
            content_type.starts_with("application/json"),
            "unexpected content type {content_type:?}: {body}"
        );
        serde_json::from_str(&body).unwrap()
    };
    (headers, msg)
}

/// 2026-07-28 has no initialize and no session: the version, client info and capabilities
/// travel in every request's `_meta`, and `Mcp-Method` / `Mcp-Name` headers name the call.
pub fn stateless(
    t: &TestServer,
    method: &str,
    name: Option<&str>,
    params: Value,
) -> reqwest::RequestBuilder {
    stateless_with_id(t, json!(11), method, name, params)
}

/// [`stateless`] with the JSON-RPC id `id` (a listen stream's subscription id is its id).
pub fn stateless_with_id(
    t: &TestServer,
    id: Value,
    method: &str,
    name: Option<&str>,
    params: Value,
) -> reqwest::RequestBuilder {
    let mut params = params;
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": STATELESS,
        "io.modelcontextprotocol/clientInfo": {"name": "vaultmcp-tests", "version": "1.0.0"},
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    let mut req = t
        .post("/mcp", &body)
        .header("mcp-protocol-version", STATELESS)
        .header("mcp-method", method);
    if let Some(name) = name {
        req = req.header("mcp-name", name);
    }
    req
}

/// Reads an open SSE response message by message (a `subscriptions/listen` stream or a
/// session's GET stream), each wait bounded.
pub struct SseReader {
    reply: reqwest::Response,
    buf: String,
    ended: bool,
}

impl SseReader {
    pub fn new(reply: reqwest::Response) -> SseReader {
        SseReader {
            reply,
            buf: String::new(),
            ended: false,
        }
    }

    /// The next JSON-RPC message, or `None` when none arrives within `wait` or the stream
    /// ended. Events without data (priming, keep-alive comments) are skipped.
    pub async fn next(&mut self, wait: std::time::Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let normalised = self.buf.replace("\r\n", "\n");
            if let Some(end) = normalised.find("\n\n") {
                self.buf = normalised[end + 2..].to_owned();
                let event = &normalised[..end];
                let data: Vec<&str> = event
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(|d| d.strip_prefix(' ').unwrap_or(d))
                    .collect();
                let joined = data.join("\n");
                if joined.trim().is_empty() {
                    continue;
                }
                return Some(serde_json::from_str(&joined).unwrap_or_else(|e| {
                    panic!("SSE data is not JSON ({e}): {joined}");
                }));
            }
            if self.ended {
                return None;
            }
            match tokio::time::timeout_at(deadline, self.reply.chunk()).await {
                Err(_) => return None,
                Ok(Ok(Some(bytes))) => self.buf.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(Ok(None)) | Ok(Err(_)) => self.ended = true,
            }
        }
    }

    /// Whether the server closed the stream (waits at most `wait` for it).
    pub async fn ends_within(&mut self, wait: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        while !self.ended {
            match tokio::time::timeout_at(deadline, self.reply.chunk()).await {
                Err(_) => return false,
                Ok(Ok(Some(bytes))) => self.buf.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(Ok(None)) | Ok(Err(_)) => self.ended = true,
            }
        }
        true
    }
}

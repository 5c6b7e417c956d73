//! `vaultmcp serve` over real HTTP: the server runs in-process on 127.0.0.1:0 and the tests
//! talk to it with reqwest, as a remote MCP client (ChatGPT, the SDKs) would.
//!
//! What is checked: the Streamable HTTP lifecycle for the session era (initialize with
//! 2025-03-26, 2025-06-18 and 2025-11-25) and a stateless 2026-07-28 request, the tools with
//! ChatGPT's result shapes field by field, tool errors, resources, and the HTTP rules of the
//! contract (405 on GET without a session, 403 for foreign Origin/Host, 413, POST `/`, healthz).

use std::path::{Path, PathBuf};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vaultmcp::config::{CommonArgs, Config, ServeArgs};
use vaultmcp::serve::Server;

const SESSION_VERSIONS: [&str; 3] = ["2025-03-26", "2025-06-18", "2025-11-25"];
const LATEST: &str = "2025-11-25";
const STATELESS: &str = "2026-07-28";
const ACCEPT: &str = "application/json, text/event-stream";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("vault-fixtures")
}

/// A running server over a vault, with its own data dir, and an HTTP client for it.
struct TestServer {
    server: Option<Server>,
    base: String,
    http: reqwest::Client,
    _tmp: tempfile::TempDir,
}

impl TestServer {
    /// Serves `vault-fixtures` (read in place: vaultmcp never writes into the vault).
    async fn fixtures() -> TestServer {
        TestServer::over(&fixtures(), None).await
    }

    /// Serves `vault`; `tmp` is kept alive with the server when the vault lives in it.
    async fn over(vault: &Path, tmp: Option<tempfile::TempDir>) -> TestServer {
        let tmp = tmp.unwrap_or_else(|| tempfile::tempdir().expect("temp dir"));
        let config_file = tmp.path().join("empty-config.toml");
        std::fs::write(&config_file, "").unwrap();
        let common = CommonArgs {
            vault: Some(vault.to_path_buf()),
            data_dir: Some(tmp.path().join("data")),
            // An empty file, so the user's ~/.config/vaultmcp/config.toml is never read.
            config: Some(config_file),
            ..CommonArgs::default()
        };
        let serve = ServeArgs {
            no_auth: true,
            bind: Some("127.0.0.1:0".into()),
            ..ServeArgs::default()
        };
        let config = Config::load_with(&common, &serve).expect("config");
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

    fn mcp_url(&self) -> String {
        format!("{}/mcp", self.base)
    }

    fn note_count(&self) -> usize {
        usize::try_from(self.server.as_ref().unwrap().index.note_count()).unwrap()
    }

    /// A POST of `body` to `path` with the headers a Streamable HTTP client sends.
    fn post(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .header("accept", ACCEPT)
            .body(body.to_string())
    }

    /// `initialize` with `version` and the `notifications/initialized` that follows it.
    async fn session(&self, version: &str) -> Session {
        self.session_at("/mcp", version).await
    }

    /// [`TestServer::session`] on another MCP path (the server also answers at `/`).
    async fn session_at(&self, path: &str, version: &str) -> Session {
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

    fn session_post(&self, s: &Session, body: &Value) -> reqwest::RequestBuilder {
        self.session_post_at("/mcp", s, body)
    }

    fn session_post_at(&self, path: &str, s: &Session, body: &Value) -> reqwest::RequestBuilder {
        self.post(path, body)
            .header("mcp-session-id", &s.id)
            .header("mcp-protocol-version", &s.version)
    }

    /// A JSON-RPC request in the session; returns the response message.
    async fn request(&self, s: &Session, method: &str, params: Value) -> Value {
        let body = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
        let reply = self.session_post(s, &body).send().await.unwrap();
        assert_eq!(reply.status(), StatusCode::OK, "{method}");
        let (_, msg) = read_message(reply).await;
        assert_eq!(msg["jsonrpc"], "2.0");
        assert_eq!(msg["id"], 7, "{msg}");
        msg
    }

    /// A request that must succeed: its `result`.
    async fn result(&self, s: &Session, method: &str, params: Value) -> Value {
        let msg = self.request(s, method, params).await;
        assert!(msg.get("error").is_none(), "{method} failed: {msg}");
        msg["result"].clone()
    }

    async fn call_tool(&self, s: &Session, name: &str, arguments: Value) -> Value {
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

struct Session {
    id: String,
    version: String,
}

fn initialize(version: &str) -> Value {
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
fn sse_messages(body: &str) -> Vec<Value> {
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
async fn read_message(reply: reqwest::Response) -> (HeaderMap, Value) {
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

/// The one text item of a tool result, parsed as JSON.
fn single_text_json(result: &Value) -> Value {
    let content = result["content"].as_array().expect("content is an array");
    assert_eq!(content.len(), 1, "exactly one content item: {result}");
    assert_eq!(content[0]["type"], "text");
    let text = content[0]["text"].as_str().expect("text is a string");
    serde_json::from_str(text).unwrap_or_else(|e| panic!("text is not JSON ({e}): {text}"))
}

/// The message of a tool error: `isError: true` and one line of text.
fn tool_error_message(result: &Value) -> String {
    assert_eq!(result["isError"], true, "{result}");
    let content = result["content"].as_array().expect("content");
    assert_eq!(content.len(), 1, "{result}");
    assert_eq!(content[0]["type"], "text");
    let text = content[0]["text"].as_str().unwrap().to_owned();
    assert!(
        !text.trim().is_empty() && !text.contains('\n'),
        "one line: {text:?}"
    );
    text
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect();
    k.sort_unstable();
    k
}

/// Checks a `search` result field by field against ChatGPT's shape; returns the hits.
fn check_search_shape(result: &Value) -> Vec<Value> {
    assert_ne!(result["isError"], true, "{result}");
    let parsed = single_text_json(result);
    assert_eq!(keys(&parsed), ["results"]);
    assert_eq!(
        result["structuredContent"], parsed,
        "structuredContent is the same object as the text"
    );
    let hits = parsed["results"].as_array().unwrap().clone();
    assert!(hits.len() <= 10, "at most 10 hits, got {}", hits.len());
    for hit in &hits {
        assert_eq!(keys(hit), ["id", "snippet", "title", "url"], "{hit}");
        for field in ["id", "title", "url", "snippet"] {
            assert!(hit[field].is_string(), "{field} is a string: {hit}");
        }
        let id = hit["id"].as_str().unwrap();
        assert!(id.ends_with(".md"), "{id}");
        let url = hit["url"].as_str().unwrap();
        assert!(
            url.starts_with("obsidian://open?vault=vault-fixtures&file="),
            "{url}"
        );
        assert!(!hit["title"].as_str().unwrap().is_empty());
    }
    hits
}

// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initialize_answers_every_session_version() {
    let t = TestServer::fixtures().await;
    let notes = t.note_count();
    assert!(notes > 30, "fixtures indexed: {notes}");
    for version in SESSION_VERSIONS {
        let reply = t.post("/mcp", &initialize(version)).send().await.unwrap();
        assert_eq!(reply.status(), StatusCode::OK, "{version}");
        let session = reply
            .headers()
            .get("mcp-session-id")
            .unwrap_or_else(|| panic!("{version}: no Mcp-Session-Id"))
            .to_str()
            .unwrap()
            .to_owned();
        assert!(session.len() >= 16, "{session}");
        let (_, msg) = read_message(reply).await;
        let result = &msg["result"];
        assert_eq!(msg["id"], 1);
        assert_eq!(result["protocolVersion"], version, "{msg}");
        assert_eq!(result["serverInfo"]["name"], "vaultmcp");
        assert_eq!(result["serverInfo"]["version"], env!("CARGO_PKG_VERSION"));
        assert!(result["capabilities"]["tools"].is_object(), "{result}");
        assert!(result["capabilities"]["resources"].is_object(), "{result}");
        let instructions = result["instructions"].as_str().expect("instructions");
        assert!(
            instructions.contains("\"vault-fixtures\""),
            "{instructions}"
        );
        assert!(
            instructions.contains(&format!("{notes} markdown")),
            "note count {notes} in: {instructions}"
        );
        assert!(instructions.contains("search") && instructions.contains("fetch"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_protocol_version_gets_the_latest() {
    let t = TestServer::fixtures().await;
    let reply = t
        .post("/mcp", &initialize("1999-01-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    let (_, msg) = read_message(reply).await;
    assert_eq!(msg["result"]["protocolVersion"], LATEST, "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_and_initialized_notification() {
    let t = TestServer::fixtures().await;
    // `session` asserts 202 for notifications/initialized.
    let s = t.session(LATEST).await;
    assert_eq!(t.result(&s, "ping", json!({})).await, json!({}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_list_has_read_only_search_and_fetch() {
    let t = TestServer::fixtures().await;
    for version in SESSION_VERSIONS {
        let s = t.session(version).await;
        let result = t.result(&s, "tools/list", json!({})).await;
        let tools = result["tools"].as_array().unwrap();
        let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["search", "fetch"], "{version}");
        assert!(result.get("nextCursor").is_none_or(Value::is_null));
        for (tool, arg) in tools.iter().zip(["query", "id"]) {
            let name = tool["name"].as_str().unwrap();
            assert_eq!(tool["annotations"]["readOnlyHint"], true, "{name}");
            assert_eq!(tool["annotations"]["destructiveHint"], false, "{name}");
            let input = &tool["inputSchema"];
            assert_eq!(input["type"], "object", "{name}");
            assert_eq!(input["required"], json!([arg]), "{name}");
            assert_eq!(input["properties"][arg]["type"], "string", "{name}");
            let output = &tool["outputSchema"];
            assert_eq!(output["type"], "object", "{name} outputSchema: {tool}");
            assert!(output["properties"].is_object(), "{name}");
            let description = tool["description"].as_str().unwrap();
            assert!(description.len() > 80, "{name}: {description}");
        }
        let search = &tools[0];
        assert_eq!(search["outputSchema"]["required"], json!(["results"]));
        let item_required = &search["outputSchema"]["properties"]["results"]["items"]["required"];
        assert_eq!(*item_required, json!(["id", "title", "url", "snippet"]));
        let description = search["description"].as_str().unwrap();
        for operator in ["\"exact phrase\"", "OR", "tag:#", "path:", "fetch"] {
            assert!(description.contains(operator), "search teaches {operator}");
        }
        let fetch = &tools[1];
        assert_eq!(
            fetch["outputSchema"]["required"],
            json!(["id", "title", "text", "url", "metadata"])
        );
        assert!(fetch["description"].as_str().unwrap().contains("search"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_returns_chatgpt_shape() {
    let t = TestServer::fixtures().await;
    let s = t.session(LATEST).await;

    let result = t
        .call_tool(&s, "search", json!({"query": "Zettelkasten"}))
        .await;
    assert_eq!(
        result["isError"], false,
        "isError is false on success: {result}"
    );
    let hits = check_search_shape(&result);
    // Ranking is tests/search.rs's business; here the hit's fields matter.
    let hit = hits
        .iter()
        .find(|h| h["id"] == "topics/Zettelkasten Method.md")
        .unwrap_or_else(|| panic!("the Zettelkasten note is a hit: {hits:?}"));
    assert_eq!(hit["title"], "Zettelkasten Method");
    assert_eq!(
        hit["url"],
        "obsidian://open?vault=vault-fixtures&file=topics%2FZettelkasten%20Method"
    );
    assert!(
        hit["snippet"]
            .as_str()
            .unwrap()
            .contains("**Zettelkasten**")
    );

    // A broad query is cut at 10 hits.
    let result = t.call_tool(&s, "search", json!({"query": "note"})).await;
    let hits = check_search_shape(&result);
    assert_eq!(hits.len(), 10, "a common word matches more than 10 notes");

    // No match is an empty list, not an error.
    let result = t
        .call_tool(&s, "search", json!({"query": "qqxxzzyy-nowhere"}))
        .await;
    assert_eq!(check_search_shape(&result).len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_returns_whole_note_with_metadata() {
    let t = TestServer::fixtures().await;
    let s = t.session("2025-06-18").await;

    let hits = check_search_shape(
        &t.call_tool(&s, "search", json!({"query": "Luhmann Folgezettel"}))
            .await,
    );
    let hit = hits
        .iter()
        .find(|h| h["id"] == "topics/Zettelkasten Method.md")
        .unwrap_or_else(|| panic!("the Zettelkasten note is a hit: {hits:?}"))
        .clone();
    let id = hit["id"].as_str().unwrap().to_owned();

    let result = t.call_tool(&s, "fetch", json!({"id": id})).await;
    assert_eq!(result["isError"], false, "{result}");
    let note = single_text_json(&result);
    assert_eq!(result["structuredContent"], note);
    assert_eq!(keys(&note), ["id", "metadata", "text", "title", "url"]);
    assert_eq!(note["id"], id);
    assert_eq!(note["title"], "Zettelkasten Method");
    assert_eq!(note["url"], hit["url"]);

    let text = note["text"].as_str().unwrap();
    assert!(!text.starts_with("---"), "no frontmatter: {text:.200}");
    assert!(!text.contains("aliases:"), "no frontmatter in text");
    assert!(text.contains("Luhmann"));

    let meta = &note["metadata"];
    for field in [
        "path",
        "tags",
        "aliases",
        "created",
        "modified",
        "properties",
        "links",
        "backlinks",
    ] {
        assert!(meta.get(field).is_some(), "metadata.{field}: {meta}");
    }
    assert_eq!(meta["path"], id);
    let tags: Vec<&str> = meta["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(tags.contains(&"type/research"), "{tags:?}");
    let aliases = meta["aliases"].as_array().unwrap();
    assert!(aliases.contains(&json!("Slip-box")), "{aliases:?}");
    assert!(meta["created"].as_str().unwrap().starts_with("2024-03-05"));
    assert!(meta["modified"].as_str().unwrap().starts_with("2024-03-05"));
    assert!(meta["properties"].is_object());
    assert!(meta["properties"].get("aliases").is_some(), "{meta}");
    assert!(meta["links"].is_array());
    let backlinks = meta["backlinks"].as_array().unwrap();
    assert!(!backlinks.is_empty(), "other notes link to it: {meta}");

    // The path without .md is accepted too.
    let result = t
        .call_tool(&s, "fetch", json!({"id": "topics/Zettelkasten Method"}))
        .await;
    assert_eq!(single_text_json(&result)["id"], id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_unknown_id_is_tool_error() {
    let t = TestServer::fixtures().await;
    let s = t.session(LATEST).await;
    for id in ["no/such/note.md", "../outside.md", ""] {
        let result = t.call_tool(&s, "fetch", json!({"id": id})).await;
        let message = tool_error_message(&result);
        assert!(message.contains("no note"), "{id:?}: {message}");
        assert!(result.get("structuredContent").is_none_or(Value::is_null));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_are_tool_errors() {
    let t = TestServer::fixtures().await;
    let s = t.session(LATEST).await;
    let cases = [
        ("search", json!({}), "query"),
        ("search", json!({"query": 5}), "query"),
        ("search", json!({"query": null}), "query"),
        ("fetch", json!({}), "id"),
        ("fetch", json!({"id": ["a.md"]}), "id"),
    ];
    for (tool, args, arg) in cases {
        let result = t.call_tool(&s, tool, args.clone()).await;
        let message = tool_error_message(&result);
        assert!(message.contains(arg), "{tool} {args}: {message}");
    }
    // No arguments object at all.
    let result = t.result(&s, "tools/call", json!({"name": "search"})).await;
    tool_error_message(&result);
    // An unknown tool is a protocol error.
    let msg = t
        .request(&s, "tools/call", json!({"name": "delete", "arguments": {}}))
        .await;
    assert_eq!(msg["error"]["code"], -32602, "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_list_templates_and_read() {
    let t = TestServer::fixtures().await;
    let s = t.session(LATEST).await;

    let result = t.result(&s, "resources/list", json!({})).await;
    let resources = result["resources"].as_array().unwrap();
    assert_eq!(resources.len(), t.note_count(), "fixtures fit on one page");
    assert!(
        result.get("nextCursor").is_none_or(Value::is_null),
        "{result:.300}"
    );
    for r in resources {
        let uri = r["uri"].as_str().unwrap();
        let name = r["name"].as_str().unwrap();
        assert!(uri.starts_with("vault://note/"), "{uri}");
        assert!(name.ends_with(".md"), "name is the id: {name}");
        assert_eq!(r["mimeType"], "text/markdown");
        assert!(r["title"].is_string());
    }

    let templates = t.result(&s, "resources/templates/list", json!({})).await;
    let templates = templates["resourceTemplates"].as_array().unwrap();
    assert_eq!(templates.len(), 1);
    assert_eq!(templates[0]["uriTemplate"], "vault://note/{+id}");
    assert_eq!(templates[0]["mimeType"], "text/markdown");

    // Read the Zettelkasten note through its listed uri (it has spaces: percent-encoded).
    let listed = resources
        .iter()
        .find(|r| r["name"] == "topics/Zettelkasten Method.md")
        .expect("listed");
    let uri = listed["uri"].as_str().unwrap();
    assert_eq!(uri, "vault://note/topics/Zettelkasten%20Method.md");
    let read = t.result(&s, "resources/read", json!({"uri": uri})).await;
    let contents = read["contents"].as_array().unwrap();
    assert_eq!(contents.len(), 1);
    assert_eq!(contents[0]["uri"], uri);
    assert_eq!(contents[0]["mimeType"], "text/markdown");
    let text = contents[0]["text"].as_str().unwrap();
    assert!(text.contains("Luhmann") && !text.starts_with("---"));

    // Every listed uri reads (paths with quotes, emoji, `+`, NFD...).
    for r in resources {
        let msg = t
            .request(&s, "resources/read", json!({"uri": r["uri"]}))
            .await;
        assert!(msg.get("result").is_some(), "{}: {msg}", r["uri"]);
    }

    // Unknown notes are a resource-not-found error.
    let msg = t
        .request(&s, "resources/read", json!({"uri": "vault://note/nope.md"}))
        .await;
    assert!(msg["error"]["code"].is_i64(), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_list_pages_by_100() {
    let tmp = tempfile::tempdir().unwrap();
    let vault = tmp.path().join("big-vault");
    for i in 0..230 {
        let dir = vault.join(format!("d{}", i % 7));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(format!("note {i:03}.md")),
            format!("# Note {i}\n\nbody {i}\n"),
        )
        .unwrap();
    }
    let t = TestServer::over(&vault, Some(tmp)).await;
    assert_eq!(t.note_count(), 230);
    let s = t.session(LATEST).await;

    let mut seen = std::collections::BTreeSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = Vec::new();
    loop {
        let params = match &cursor {
            Some(c) => json!({"cursor": c}),
            None => json!({}),
        };
        let result = t.result(&s, "resources/list", params).await;
        let page = result["resources"].as_array().unwrap();
        pages.push(page.len());
        for r in page {
            assert!(
                seen.insert(r["uri"].as_str().unwrap().to_owned()),
                "dup {r}"
            );
        }
        match result.get("nextCursor").and_then(Value::as_str) {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
        assert!(pages.len() < 10, "pagination ends");
    }
    assert_eq!(pages, [100, 100, 30]);
    assert_eq!(seen.len(), 230);

    let msg = t
        .request(&s, "resources/list", json!({"cursor": "not-a-cursor"}))
        .await;
    assert_eq!(msg["error"]["code"], -32602, "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_without_session_is_405() {
    let t = TestServer::fixtures().await;
    let reply = t
        .http
        .get(t.mcp_url())
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::METHOD_NOT_ALLOWED);
    let allow = reply.headers().get("allow").unwrap().to_str().unwrap();
    assert!(allow.contains("POST"), "{allow}");

    // GET / is a plain pointer for browsers.
    let reply = t.http.get(format!("{}/", t.base)).send().await.unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    assert!(reply.text().await.unwrap().contains("/mcp"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_ends_the_session() {
    let t = TestServer::fixtures().await;
    let s = t.session(LATEST).await;
    t.result(&s, "tools/list", json!({})).await;

    let reply = t
        .http
        .delete(t.mcp_url())
        .header("mcp-session-id", &s.id)
        .header("mcp-protocol-version", &s.version)
        .send()
        .await
        .unwrap();
    // 204, not rmcp's 202: the Python SDK counts anything but 200/204 as a failed termination.
    assert_eq!(reply.status(), StatusCode::NO_CONTENT, "DELETE");

    let body = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let reply = t.session_post(&s, &body).send().await.unwrap();
    assert_eq!(reply.status(), StatusCode::NOT_FOUND, "the session is gone");

    // A made-up session id is 404 too.
    let fake = Session {
        id: "00000000-0000-0000-0000-000000000000".into(),
        version: LATEST.into(),
    };
    let reply = t.session_post(&fake, &body).send().await.unwrap();
    assert_eq!(reply.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_origin_and_host_are_forbidden() {
    let t = TestServer::fixtures().await;
    let init = initialize(LATEST);

    for origin in [
        "https://evil.example",
        "https://chatgpt.com.evil.example",
        "null",
    ] {
        let reply = t
            .post("/mcp", &init)
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::FORBIDDEN, "Origin {origin}");
    }
    for origin in [
        "https://chatgpt.com",
        "https://chat.openai.com",
        "https://claude.ai",
        "http://localhost:6274",
        "http://127.0.0.1:6274",
        t.base.as_str(),
    ] {
        let reply = t
            .post("/mcp", &init)
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::OK, "Origin {origin}");
    }

    // A foreign Host (DNS rebinding, or a tunnel in front of --no-auth) is refused everywhere.
    let port = t.base.rsplit(':').next().unwrap().to_owned();
    for host in ["evil.example", &format!("evil.example:{port}"), "10.0.0.1"] {
        let reply = t
            .post("/mcp", &init)
            .header("host", HeaderValue::from_str(host).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::FORBIDDEN, "Host {host}");
        let reply = t
            .http
            .get(format!("{}/healthz", t.base))
            .header("host", host)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::FORBIDDEN, "healthz Host {host}");
    }
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        let reply = t
            .post("/mcp", &init)
            .header("host", &host)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::OK, "Host {host}");
    }
}

/// 2026-07-28 has no initialize and no session: the version, client info and capabilities
/// travel in every request's `_meta`, and `Mcp-Method` / `Mcp-Name` headers name the call.
fn stateless(
    t: &TestServer,
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
    let body = json!({"jsonrpc": "2.0", "id": 11, "method": method, "params": params});
    let mut req = t
        .post("/mcp", &body)
        .header("mcp-protocol-version", STATELESS)
        .header("mcp-method", method);
    if let Some(name) = name {
        req = req.header("mcp-name", name);
    }
    req
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stateless_2026_07_28_requests() {
    let t = TestServer::fixtures().await;

    let reply = stateless(
        &t,
        "tools/call",
        Some("search"),
        json!({
            "name": "search", "arguments": {"query": "Zettelkasten"}
        }),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    assert!(
        reply.headers().get("mcp-session-id").is_none(),
        "no session"
    );
    let (_, msg) = read_message(reply).await;
    assert_eq!(msg["id"], 11);
    let hits = check_search_shape(&msg["result"]);
    assert!(
        hits.iter()
            .any(|h| h["id"] == "topics/Zettelkasten Method.md"),
        "{hits:?}"
    );

    let reply = stateless(&t, "tools/list", None, json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    let (_, msg) = read_message(reply).await;
    assert_eq!(msg["result"]["tools"].as_array().unwrap().len(), 2, "{msg}");

    let reply = stateless(&t, "server/discover", None, json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    let (_, msg) = read_message(reply).await;
    let result = &msg["result"];
    let versions = result["supportedVersions"]
        .as_array()
        .expect("supportedVersions");
    assert!(versions.contains(&json!(STATELESS)), "{result}");
    assert!(versions.contains(&json!(LATEST)), "{result}");
    assert!(
        result["instructions"]
            .as_str()
            .unwrap()
            .contains("vault-fixtures")
    );

    // A 2026-07-28 request without its _meta is refused, not served as a legacy one.
    let body = json!({"jsonrpc": "2.0", "id": 12, "method": "tools/list", "params": {}});
    let reply = t
        .post("/mcp", &body)
        .header("mcp-protocol-version", STATELESS)
        .header("mcp-method", "tools/list")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_root_works_like_mcp() {
    let t = TestServer::fixtures().await;
    // The session is shared by both paths: initialized on `/`, call on `/`.
    let s = t.session_at("/", LATEST).await;
    let body = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "search", "arguments": {"query": "Zettelkasten"}}});
    let reply = t.session_post_at("/", &s, &body).send().await.unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    let (_, msg) = read_message(reply).await;
    check_search_shape(&msg["result"]);
    // ...and the same session works on /mcp.
    t.result(&s, "tools/list", json!({})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_body_is_413() {
    let t = TestServer::fixtures().await;
    let mut big = initialize(LATEST);
    big["params"]["padding"] = json!("x".repeat(1100 * 1024));
    let reply = t.post("/mcp", &big).send().await.unwrap();
    assert_eq!(reply.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let reply = t.post("/", &big).send().await.unwrap();
    assert_eq!(reply.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // Without Content-Length (chunked), the limit holds as well.
    let body = big.to_string();
    let addr = t.server.as_ref().unwrap().addr;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Accept: {ACCEPT}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for chunk in body.as_bytes().chunks(64 * 1024) {
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        if stream.write_all(&framed).await.is_err() {
            break; // the server may answer and close before the whole body is sent
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let response = String::from_utf8_lossy(&response);
    assert!(
        response.starts_with("HTTP/1.1 413"),
        "chunked oversized body: {}",
        response.lines().next().unwrap_or("")
    );

    // Just under the limit is fine.
    let mut fits = initialize(LATEST);
    fits["params"]["padding"] = json!("x".repeat(900 * 1024));
    let reply = t.post("/mcp", &fits).send().await.unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_reports_status() {
    let t = TestServer::fixtures().await;
    let reply = t
        .http
        .get(format!("{}/healthz", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    let v: Value = reply.json().await.unwrap();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["notes"], t.note_count());
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_the_server() {
    let mut t = TestServer::fixtures().await;
    let s = t.session(LATEST).await;
    t.result(&s, "ping", json!({})).await;
    let server = t.server.take().unwrap();
    server.shutdown();
    tokio::time::timeout(std::time::Duration::from_secs(10), server.wait())
        .await
        .expect("stops within 10 s")
        .expect("stops cleanly");
    assert!(
        t.http
            .get(format!("{}/healthz", t.base))
            .send()
            .await
            .is_err(),
        "no longer listening"
    );
}

//! `vaultmcp serve` over real HTTP: the server runs in-process on 127.0.0.1:0 and the tests
//! talk to it with reqwest, as a remote MCP client (ChatGPT, the SDKs) would.
//!
//! What is checked: the Streamable HTTP lifecycle for the session era (initialize with
//! 2025-03-26, 2025-06-18 and 2025-11-25) and a stateless 2026-07-28 request, the tools with
//! ChatGPT's result shapes field by field, tool errors, resources, and the HTTP rules of the
//! contract (405 on GET without a session, 403 for foreign Origin/Host, 413, POST `/`, healthz).

mod support;

use reqwest::StatusCode;
use reqwest::header::HeaderValue;
use serde_json::{Value, json};
use support::mcp::{
    ACCEPT, LATEST, SESSION_VERSIONS, STATELESS, Session, TestServer, initialize, read_message,
    stateless,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
    // 2024-11-05 too: its HTTP+SSE transport is not served, and server/discover does not list it.
    for asked in ["1999-01-01", "2024-11-05"] {
        let reply = t.post("/mcp", &initialize(asked)).send().await.unwrap();
        assert_eq!(reply.status(), StatusCode::OK);
        let (_, msg) = read_message(reply).await;
        assert_eq!(msg["result"]["protocolVersion"], LATEST, "{asked}: {msg}");
    }
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
        let out = &search["outputSchema"];
        let item = &out["properties"]["results"]["items"]["$ref"];
        assert_eq!(item, "#/$defs/ToolHit", "{out}");
        let item_required = &out["$defs"]["ToolHit"]["required"];
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
    // The server answers 413 before reading the whole body and may close the connection
    // while the client is still writing it: a reset is a lost race, not an answer, so it is
    // tried again (on a fresh connection), a bounded number of times.
    for path in ["/mcp", "/"] {
        let mut status = None;
        for _ in 0..5 {
            match t
                .post(path, &big)
                .header("connection", "close")
                .send()
                .await
            {
                Ok(reply) => {
                    status = Some(reply.status());
                    break;
                }
                Err(e) => eprintln!("{path}: {e} (retrying)"),
            }
        }
        assert_eq!(status, Some(StatusCode::PAYLOAD_TOO_LARGE), "{path}");
    }

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

/// Checks that `value` fits `schema` as far as objects go: every key it has is a property of
/// the schema (no bare `object`s), every required property is there, recursing into arrays and
/// `$ref`s. Returns what does not fit.
fn misfits(value: &Value, schema: &Value, defs: &Value, at: &str, out: &mut Vec<String>) {
    let schema = match schema["$ref"].as_str() {
        Some(r) => &defs[r.rsplit('/').next().unwrap()],
        None => schema,
    };
    match value {
        Value::Object(map) => {
            let Some(props) = schema["properties"].as_object() else {
                // Free-form maps (frontmatter properties) say so with `additionalProperties`.
                if schema["additionalProperties"].is_null() {
                    out.push(format!("{at}: an object whose schema names no properties"));
                }
                return;
            };
            for (k, v) in map {
                match props.get(k) {
                    Some(s) => misfits(v, s, defs, &format!("{at}.{k}"), out),
                    None => out.push(format!("{at}.{k}: not in the schema")),
                }
            }
            for r in schema["required"].as_array().into_iter().flatten() {
                if !map.contains_key(r.as_str().unwrap()) {
                    out.push(format!("{at}.{r}: required but missing"));
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                misfits(item, &schema["items"], defs, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_output_schemas_describe_every_field_the_tools_return() {
    let t = TestServer::fixtures().await;
    let s = t.session(LATEST).await;
    let tools = t.result(&s, "tools/list", json!({})).await["tools"].clone();
    let schema = |name: &str| {
        tools
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap()["outputSchema"]
            .clone()
    };
    // A note with links (resolved and not), backlinks, tags and properties.
    let calls = [
        ("search", json!({"query": "zettelkasten"})),
        ("fetch", json!({"id": "topics/Zettelkasten Method.md"})),
        ("fetch", json!({"id": "topics/Link Syntax Reference.md"})),
    ];
    for (name, args) in calls {
        let result = t.call_tool(&s, name, args.clone()).await;
        let value = result["structuredContent"].clone();
        let schema = schema(name);
        let mut out = Vec::new();
        misfits(&value, &schema, &schema["$defs"], name, &mut out);
        assert!(out.is_empty(), "{name} {args}: {out:#?}\nschema: {schema}");
    }
    let links = &schema("fetch")["$defs"]["LinkOut"]["properties"];
    for field in ["target", "id", "embed"] {
        assert!(
            links.get(field).is_some(),
            "links items name {field}: {links}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_description_states_the_limit_the_tool_applies() {
    let t = TestServer::fixtures().await;
    let s = t.session(LATEST).await;
    let tools = t.result(&s, "tools/list", json!({})).await;
    let description = tools["tools"][0]["description"].as_str().unwrap();
    let limit = vaultmcp::mcp::SEARCH_TOOL_LIMIT;
    assert!(
        description.contains(&format!("up to {limit} notes")),
        "{description}"
    );
    let result = t.call_tool(&s, "search", json!({"query": "note"})).await;
    let hits = result["structuredContent"]["results"].as_array().unwrap();
    assert_eq!(
        hits.len(),
        limit,
        "the fixtures have more than {limit} matches"
    );
}

//! The 2026-07-28 protocol beyond single requests, over real HTTP against an in-process
//! server: `subscriptions/listen` (acknowledgement first, every notification tagged with the
//! subscription id, only the kinds asked for), the resources list-changed notifications it
//! shares with the session era's GET stream, `server/discover` advertising exactly what is
//! served, and resource-not-found errors carrying the URI.

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::Dir;
use support::mcp::{LATEST, SseReader, TestServer, read_message, stateless, stateless_with_id};

const SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";
const WAIT: Duration = Duration::from_secs(5);

/// A vault of two notes, served.
async fn small_vault() -> (Dir, TestServer) {
    let dir = Dir::new();
    dir.create("a.md", "# Alpha\n\nfirst note\n")
        .create("b.md", "# Beta\n\nsecond note\n");
    let t = TestServer::over(dir.vault(), None).await;
    (dir, t)
}

/// Opens a `subscriptions/listen` stream with request id `id` and filter `notifications`.
async fn listen(t: &TestServer, id: Value, notifications: Value) -> SseReader {
    let reply = stateless_with_id(
        t,
        id,
        "subscriptions/listen",
        None,
        json!({ "notifications": notifications }),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    assert!(
        reply.headers().get("mcp-session-id").is_none(),
        "no session"
    );
    let content_type = reply.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    SseReader::new(reply)
}

/// Adds notes until `stream` carries a message (at most 5 notes, 2 s each): the writer's
/// commit, not a timer, produces the notification, and the very first change may race the
/// registration that follows the acknowledgement.
async fn change_until_notified(dir: &Dir, stream: &mut SseReader) -> Value {
    for n in 0..5 {
        dir.create(&format!("new-{n}.md"), format!("# New {n}\n\nadded\n"));
        if let Some(msg) = stream.next(Duration::from_secs(2)).await {
            return msg;
        }
    }
    panic!("no notification after 5 new notes");
}

fn acknowledged(msg: &Value, id: &Value, accepted: &Value) {
    assert_eq!(
        msg["method"], "notifications/subscriptions/acknowledged",
        "the first message is the acknowledgement: {msg}"
    );
    assert_eq!(msg["params"]["notifications"], *accepted, "{msg}");
    assert_eq!(msg["params"]["_meta"][SUBSCRIPTION_ID], *id, "{msg}");
    assert!(msg.get("id").is_none(), "a notification has no id: {msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_acknowledges_then_tags_resource_list_changes() {
    let (dir, t) = small_vault().await;
    // Everything a client can ask for; only the resource list is served.
    let id = json!("sub-1");
    let mut stream = listen(
        &t,
        id.clone(),
        json!({
            "resourcesListChanged": true,
            "toolsListChanged": true,
            "promptsListChanged": true,
            "resourceSubscriptions": ["vault://note/a.md"]
        }),
    )
    .await;
    let ack = stream.next(WAIT).await.expect("an acknowledgement");
    acknowledged(&ack, &id, &json!({"resourcesListChanged": true}));

    let msg = change_until_notified(&dir, &mut stream).await;
    assert_eq!(
        msg["method"], "notifications/resources/list_changed",
        "{msg}"
    );
    assert_eq!(msg["params"]["_meta"][SUBSCRIPTION_ID], id, "{msg}");

    // The new note is there for a client that re-lists.
    let reply = stateless(&t, "resources/list", None, json!({}))
        .send()
        .await
        .unwrap();
    let (_, list) = read_message(reply).await;
    let uris: Vec<&str> = list["result"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["uri"].as_str().unwrap())
        .collect();
    assert!(uris.contains(&"vault://note/new-0.md"), "{uris:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_sends_only_the_kinds_asked_for() {
    let (dir, t) = small_vault().await;
    let narrow_id = json!(41);
    let mut narrow = listen(&t, narrow_id.clone(), json!({"toolsListChanged": true})).await;
    acknowledged(
        &narrow.next(WAIT).await.expect("ack"),
        &narrow_id,
        &json!({}),
    );
    let mut empty = listen(&t, json!(42), json!({})).await;
    acknowledged(
        &empty.next(WAIT).await.expect("ack"),
        &json!(42),
        &json!({}),
    );
    let off = json!(43);
    let mut declined = listen(&t, off.clone(), json!({"resourcesListChanged": false})).await;
    acknowledged(&declined.next(WAIT).await.expect("ack"), &off, &json!({}));
    let wide_id = json!(44);
    let mut wide = listen(&t, wide_id.clone(), json!({"resourcesListChanged": true})).await;
    acknowledged(
        &wide.next(WAIT).await.expect("ack"),
        &wide_id,
        &json!({"resourcesListChanged": true}),
    );

    let msg = change_until_notified(&dir, &mut wide).await;
    assert_eq!(msg["method"], "notifications/resources/list_changed");
    assert_eq!(msg["params"]["_meta"][SUBSCRIPTION_ID], wide_id);
    // Every stream is told in the same pass, so by now the others would have theirs.
    for (name, stream) in [
        ("tools only", &mut narrow),
        ("empty filter", &mut empty),
        ("resourcesListChanged: false", &mut declined),
    ] {
        let leaked = stream.next(Duration::from_millis(500)).await;
        assert!(leaked.is_none(), "{name} got {leaked:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_still_get_list_changed_on_their_get_stream() {
    let (dir, t) = small_vault().await;
    let s = t.session(LATEST).await;
    let reply = t
        .http
        .get(t.mcp_url())
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &s.id)
        .header("mcp-protocol-version", &s.version)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    let mut stream = SseReader::new(reply);
    let msg = change_until_notified(&dir, &mut stream).await;
    assert_eq!(
        msg["method"], "notifications/resources/list_changed",
        "{msg}"
    );
    assert!(
        msg["params"]["_meta"].get(SUBSCRIPTION_ID).is_none(),
        "a session notification belongs to no subscription: {msg}"
    );

    // subscriptions/listen is the 2026-07-28 channel; a session gets "method not found".
    let msg = t
        .request(
            &s,
            "subscriptions/listen",
            json!({"notifications": {"resourcesListChanged": true}}),
        )
        .await;
    assert_eq!(msg["error"]["code"], -32601, "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_advertises_exactly_what_is_served() {
    let t = TestServer::fixtures().await;
    let reply = stateless(&t, "server/discover", None, json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    let (_, msg) = read_message(reply).await;
    let result = &msg["result"];
    assert_eq!(
        result["supportedVersions"],
        json!(["2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"]),
        "{result}"
    );
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "vaultmcp"
    );
    let caps = &result["capabilities"];
    let mut advertised: Vec<&str> = caps
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    advertised.sort_unstable();
    assert_eq!(advertised, ["resources", "tools"], "{caps}");
    // Resources: listChanged (served by subscriptions/listen), no per-resource subscribe.
    assert_eq!(caps["resources"]["listChanged"], true, "{caps}");
    assert_ne!(caps["resources"]["subscribe"], true, "{caps}");
    // The two tools never change, so no tools listChanged.
    assert_ne!(caps["tools"]["listChanged"], true, "{caps}");

    // What is advertised answers...
    for (method, field, n) in [
        ("tools/list", "tools", 2),
        ("resources/templates/list", "resourceTemplates", 1),
    ] {
        let reply = stateless(&t, method, None, json!({})).send().await.unwrap();
        assert_eq!(reply.status(), StatusCode::OK, "{method}");
        let (_, msg) = read_message(reply).await;
        assert_eq!(
            msg["result"][field].as_array().map(Vec::len),
            Some(n),
            "{method}: {msg}"
        );
    }
    let reply = stateless(&t, "resources/list", None, json!({}))
        .send()
        .await
        .unwrap();
    let (_, msg) = read_message(reply).await;
    assert!(!msg["result"]["resources"].as_array().unwrap().is_empty());
    // ...and what is not is "method not found" (404 on 2026-07-28).
    for (method, params) in [
        ("prompts/list", json!({})),
        ("logging/setLevel", json!({"level": "info"})),
        (
            "completion/complete",
            json!({"ref": {"type": "ref/resource", "uri": "vault://note/{+id}"},
                   "argument": {"name": "id", "value": "a"}}),
        ),
    ] {
        let reply = stateless(&t, method, None, params).send().await.unwrap();
        assert_eq!(reply.status(), StatusCode::NOT_FOUND, "{method}");
        let (_, msg) = read_message(reply).await;
        assert_eq!(msg["error"]["code"], -32601, "{method}: {msg}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_not_found_carries_the_uri() {
    let t = TestServer::fixtures().await;
    for uri in [
        "vault://note/no-such-note.md",
        "vault://note/../etc/passwd",
        "test://nonexistent-resource-for-conformance-testing",
    ] {
        let reply = stateless(&t, "resources/read", Some(uri), json!({ "uri": uri }))
            .send()
            .await
            .unwrap();
        let (_, msg) = read_message(reply).await;
        assert_eq!(msg["error"]["code"], -32602, "2026-07-28 {uri}: {msg}");
        assert_eq!(msg["error"]["data"]["uri"], uri, "{msg}");
        assert!(msg.get("result").is_none());
    }
    // Sessions keep the code of their era.
    let s = t.session(LATEST).await;
    let uri = "vault://note/no-such-note.md";
    let msg = t.request(&s, "resources/read", json!({ "uri": uri })).await;
    assert_eq!(msg["error"]["code"], -32002, "{msg}");
    assert_eq!(msg["error"]["data"]["uri"], uri, "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_listen_streams_gracefully() {
    let (_dir, mut t) = small_vault().await;
    let id = json!(7);
    let mut stream = listen(&t, id.clone(), json!({"resourcesListChanged": true})).await;
    stream.next(WAIT).await.expect("ack");
    let mut other = listen(&t, json!("other"), json!({})).await;
    other.next(WAIT).await.expect("ack");
    let server = t.server.take().unwrap();
    server.shutdown();
    // The graceful end of a subscription: its final result, tagged like its notifications.
    for (stream, id) in [(&mut stream, id), (&mut other, json!("other"))] {
        let last = stream.next(WAIT).await.expect("a final result");
        assert_eq!(last["id"], id, "{last}");
        assert_eq!(last["result"]["resultType"], "complete", "{last}");
        assert_eq!(last["result"]["_meta"][SUBSCRIPTION_ID], id, "{last}");
        assert!(stream.ends_within(WAIT).await, "the stream ended after it");
    }
    tokio::time::timeout(Duration::from_secs(10), server.wait())
        .await
        .expect("stops within 10 s")
        .expect("stops cleanly");
}

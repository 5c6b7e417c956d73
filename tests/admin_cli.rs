//! The admin commands through the real binary beside a running `serve` (issue 9): a token
//! revoked with `vaultmcp token revoke` is refused on the server's very next request, because
//! the command tells the server over its control socket and waits for the reload.

mod support;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::Dir;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn initialize(base: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{base}/mcp"))
        .header("accept", "application/json, text/event-stream")
        .bearer_auth(token)
        .json(
            &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "admin-cli-test", "version": "1"}}}),
        )
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn token_revoke_bites_on_the_running_servers_next_request() {
    let dir = Dir::fixtures_copy();
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let base = format!("http://{bind}");
    let server = Server(
        dir.cmd(&["serve", "--local-login", "--bind", &bind])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Ready when /healthz answers (bounded wait).
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "serve did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let created = dir.run(&["token", "create", "ci", "--expires", "90d", "--json"]);
    let t = created.json();
    let token = t["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("vmcp_"));
    assert!(t["expires_at"].as_i64().unwrap() > t["created_at"].as_i64().unwrap());
    assert_eq!(
        initialize(&base, &token).await,
        200,
        "the new token works at once"
    );

    let listed = dir.run(&["token", "list", "--json"]).json();
    assert_eq!(listed[0]["name"], "ci");
    assert!(!listed.to_string().contains(&token));

    let revoked = dir.run(&["token", "revoke", "ci"]);
    assert_eq!(revoked.code, Some(0), "{}", revoked.stderr);
    assert!(
        revoked.stderr.contains("picked the change up"),
        "{}",
        revoked.stderr
    );
    assert_eq!(
        initialize(&base, &token).await,
        401,
        "refused on the next request"
    );

    let again = dir.run(&["token", "revoke", "ci"]);
    assert_eq!(again.code, Some(1));
    assert!(
        again.stderr.starts_with("error: no live token"),
        "{}",
        again.stderr
    );

    let audit: Value = dir.run(&["audit", "--since", "1d", "--json"]).json();
    let events: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["token_created", "token_revoked"]);
    assert!(!audit.to_string().contains(&token));

    let bad = dir.run(&["token", "create", "x", "--expires", "soon"]);
    assert_eq!(bad.code, Some(1));
    assert!(bad.stderr.contains("not a duration"), "{}", bad.stderr);
    let clients = dir.run(&["clients", "list", "--json"]).json();
    assert_eq!(clients, json!([]));
    drop(server);
}

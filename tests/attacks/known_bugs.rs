//! Attacks this suite found succeeding, now fixed: each is the regression test of its bug,
//! named after it.
//! - `/revoke` answered 200 to another client's token (RFC 7009 §2.1): now 400 `invalid_grant`.
//! - The metadata-document error named the HTTP status ("answered HTTP 404") where a closed port
//!   "cannot be fetched": a port-scanning oracle. Now one sentence for every fetch failure.
//! - MCP sessions were not bound to the user who opened them: now someone else's session id is
//!   404, as an unknown session.
//!
//! (The issue-9 bugs this group first held — a revoked grant's access tokens, /revoke without a
//! rate limit, the first X-Forwarded-For hop — have their regression tests in `auth_manage.rs`
//! and `auth::ratelimit`; the through-the-router forwarded-for attack lives in `register.rs`.)

use serde_json::{Value, json};

use crate::auth_support::documents::{Answer, DocHost, closed_port};
use crate::auth_support::{Env, Options, Pkce};
use crate::{REDIRECT, assert_oauth, assert_page};

#[tokio::test]
async fn revoking_another_clients_token_is_refused() {
    // RFC 7009 §2.1: the server verifies the token was issued to the requesting client and, if
    // not, refuses the request with an error (RFC 6749 §5.2: a grant "issued to another
    // client" is invalid_grant). Today it answers 200 (and rightly revokes nothing).
    let env = Env::start(Options::default()).await;
    let (owner, t) = env.tokens().await;
    let other = env.register(REDIRECT).await;
    let form = |token: &str| {
        let req = env
            .browser
            .http
            .post(env.url("/revoke"))
            .form(&[("token", token), ("client_id", other.client_id.as_str())]);
        async move {
            let r = req.send().await.unwrap();
            let s = r.status().as_u16();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (rt, at) = (
        t["refresh_token"].as_str().unwrap(),
        t["access_token"].as_str().unwrap(),
    );
    let refresh = form(rt).await;
    let access = form(at).await;
    // Whatever the answer, nothing of the owner's was revoked.
    assert_eq!(env.mcp("/mcp", Some(at)).await.status(), 200);
    assert_eq!(env.refresh(&owner, rt).await.0, 200);
    assert_oauth(
        refresh,
        400,
        "invalid_grant",
        "another client's refresh token",
    );
    assert_oauth(
        access,
        400,
        "invalid_grant",
        "another client's access token",
    );
}

#[tokio::test]
async fn document_http_status_is_no_port_scanning_oracle() {
    // Issue 9: "one uniform error so it is no port-scanning oracle". Today an HTTP answer is
    // reported with its status ("answered HTTP 404") while a closed port "cannot be fetched",
    // which tells an attacker which ports of a host speak HTTP.
    let env = Env::start(Options {
        allow_loopback_fetch: true,
        ..Options::default()
    })
    .await;
    let host = DocHost::start().await;
    host.serve("/e500.json", Answer::Status(500));
    let closed = closed_port().await;
    let ids = [
        format!("http://127.0.0.1:{closed}/c.json"),
        format!("{}/missing.json", host.base),
        format!("{}/e500.json", host.base),
    ];
    let mut bodies = Vec::new();
    for id in &ids {
        let r = env
            .browser
            .get(&env.authorize_url(
                &crate::auth_support::Client {
                    client_id: id.clone(),
                    client_secret: None,
                    redirect_uri: REDIRECT.into(),
                },
                &Pkce::new(),
                &[],
            ))
            .await;
        assert_page(&r, 400, "invalid_client", id);
        bodies.push(r.body);
    }
    for (id, b) in ids.iter().zip(&bodies) {
        assert_eq!(b, &bodies[0], "{id} answers differently from a closed port");
    }
}

#[tokio::test]
async fn someone_elses_session_id_is_refused() {
    // MCP (2025-06-18, security best practices): session ids are bound to the user; another
    // user presenting a valid token of their own with someone else's session id gets the
    // answer for an unknown session, 404. Today the session is anyone's.
    let env = Env::start(Options {
        allowed_ids: vec![42, 43],
        ..Options::default()
    })
    .await;
    let (_, alice) = env.tokens().await;
    let init = env.mcp("/mcp", alice["access_token"].as_str()).await;
    assert_eq!(init.status(), 200);
    let session = init.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    env.gh.set_user("bob", 43);
    let (_, bob) = env.tokens().await;
    assert_eq!(
        crate::auth_support::claims(bob["access_token"].as_str().unwrap())["sub"],
        "github:43"
    );
    let r = env
        .browser
        .http
        .post(env.url("/mcp"))
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-06-18")
        .bearer_auth(bob["access_token"].as_str().unwrap())
        .json(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "bob used alice's session");
}

//! Attacks that succeed today. Each test is written as the fix must behave (never weakened to
//! the current behaviour) and named after the bug, so it turns into its regression test when
//! the fix lands. Issue 9 lists the first six as work in progress; the others were found by
//! this suite. Each is `#[ignore]`d with the bug as its reason, so `main` stays green; they
//! fail until fixed: `cargo test --test attacks known_bugs -- --ignored`. Remove the
//! `#[ignore]` in the commit that fixes the bug.

use serde_json::{Value, json};

use crate::auth_support::documents::{Answer, DocHost, closed_port};
use crate::auth_support::{Env, Options, Pkce, assert_refused};
use crate::{REDIRECT, assert_oauth, assert_page};

#[tokio::test]
#[ignore = "issue 9: a revoked grant's access tokens stay valid until they expire"]
async fn revoked_grant_access_tokens_are_refused() {
    // Issue 9: after /revoke of the refresh token, the grant's access tokens die too.
    let env = Env::start(Options::default()).await;
    let (c, t) = env.tokens().await;
    assert_eq!(
        env.revoke(&c, t["refresh_token"].as_str().unwrap()).await,
        200
    );
    assert_refused(
        &env,
        t["access_token"].as_str().unwrap(),
        "access token of a revoked grant",
    )
    .await;
}

#[tokio::test]
#[ignore = "issue 9: a revoked grant's access tokens stay valid until they expire"]
async fn refresh_token_reuse_refuses_the_grants_access_tokens() {
    // RFC 9700 §4.14.2: reuse of a rotated refresh token revokes the grant, access tokens too.
    let env = Env::start(Options::default()).await;
    let (c, t1) = env.tokens().await;
    let r1 = t1["refresh_token"].as_str().unwrap();
    let (s, t2) = env.refresh(&c, r1).await;
    assert_eq!(s, 200);
    assert_oauth(env.refresh(&c, r1).await, 400, "invalid_grant", "reuse");
    for (what, t) in [("first", &t1), ("rotated", &t2)] {
        assert_refused(&env, t["access_token"].as_str().unwrap(), what).await;
    }
}

#[tokio::test]
#[ignore = "issue 9: a revoked grant's access tokens stay valid until they expire"]
async fn code_replay_refuses_the_access_token_it_bought() {
    // RFC 6749 §4.1.2: on a replayed code, tokens issued for it SHOULD be revoked.
    let env = Env::start(Options::default()).await;
    let c = env.register(REDIRECT).await;
    let pkce = Pkce::new();
    let code = env.login(&c, &pkce).await;
    let (s, t) = env.exchange(&c, &code, &pkce.verifier).await;
    assert_eq!(s, 200);
    assert_oauth(
        env.exchange(&c, &code, &pkce.verifier).await,
        400,
        "invalid_grant",
        "replay",
    );
    assert_refused(
        &env,
        t["access_token"].as_str().unwrap(),
        "access token of a replayed code",
    )
    .await;
}

#[tokio::test]
#[ignore = "issue 9: access tokens outlive an allow-list removal"]
async fn allow_list_removal_refuses_access_tokens() {
    // Issue 9: taking someone off the allow-list cuts their access tokens on the next request.
    let mut env = Env::start(Options::default()).await;
    let (_, t) = env.tokens().await;
    let mut s = env.settings.clone();
    s.github.allowed_ids = vec![1];
    env.restart_with(s).await;
    assert_refused(
        &env,
        t["access_token"].as_str().unwrap(),
        "removed from the allow-list",
    )
    .await;
}

#[tokio::test]
#[ignore = "issue 9: the limiter keys on the first X-Forwarded-For hop"]
async fn forwarded_for_spoofing_uses_the_last_hop() {
    // Issue 9: behind a trusted proxy the client writes the first X-Forwarded-For entries and
    // the proxy appends the real address; a new made-up first hop per request must not buy a
    // new bucket.
    let env = Env::start(Options {
        trust_forwarded_for: true,
        ..Options::default()
    })
    .await;
    let body = json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"});
    let register = |xff: String| {
        let req = env
            .browser
            .http
            .post(env.url("/register"))
            .header("x-forwarded-for", xff)
            .json(&body);
        async move {
            let r = req.send().await.unwrap();
            let s = r.status().as_u16();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let mut refused = None;
    for i in 0..40 {
        let (s, v) = register(format!("198.51.100.{i}, 203.0.113.7")).await;
        if s != 201 {
            refused = Some((s, v));
            break;
        }
    }
    let refused = refused.expect("40 registrations from one real address, none refused");
    assert_oauth(
        refused,
        429,
        "temporarily_unavailable",
        "the flood is limited",
    );
    // Another real address (last hop) has its own bucket.
    let (s, _) = register("198.51.100.1, 203.0.113.8".into()).await;
    assert_eq!(s, 201, "another client behind the same proxy");
}

#[tokio::test]
#[ignore = "issue 9: /revoke has no rate limit"]
async fn revoke_is_rate_limited() {
    // Issue 9: /revoke had no limit, so it could be used to test guessed tokens at full speed.
    let env = Env::start(Options::default()).await;
    let c = env.register(REDIRECT).await;
    let mut last = None;
    for i in 0..300 {
        let r = env
            .browser
            .http
            .post(env.url("/revoke"))
            .form(&[
                ("token", format!("guess-{i}")),
                ("client_id", c.client_id.clone()),
            ])
            .send()
            .await
            .unwrap();
        if r.status() != 200 {
            let s = r.status().as_u16();
            let retry = r.headers().contains_key("retry-after");
            last = Some((s, r.json::<Value>().await.unwrap_or(Value::Null), retry));
            break;
        }
    }
    let (s, v, retry) = last.expect("300 revocations in a row, none refused");
    assert_oauth((s, v), 429, "temporarily_unavailable", "revocation flood");
    assert!(retry, "429 says when to retry");
}

#[tokio::test]
#[ignore = "bug: /revoke answers 200 for another client's token"]
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
#[ignore = "bug: the fetch error names the HTTP status, unlike a closed port"]
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
#[ignore = "bug: MCP sessions are not bound to the user who opened them"]
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

//! Auth a person can trust and manage (issue 9): revocation that bites on the next request,
//! personal access tokens, connected apps, the audit log — and a regression test per hole that
//! a review found, named after it.

mod auth_support;

use auth_support::{Env, Options, Pkce};
use serde_json::Value;
use vaultmcp::auth::admin;

fn www_error(r: &reqwest::Response) -> String {
    r.headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// 401 with `error="invalid_token"`.
async fn assert_refused(env: &Env, token: &str, what: &str) {
    let r = env.mcp("/mcp", Some(token)).await;
    assert_eq!(r.status(), 401, "{what}");
    assert!(www_error(&r).contains(r#"error="invalid_token""#), "{what}");
}

#[tokio::test]
async fn revoked_grant_access_tokens_are_refused_at_once() {
    let env = Env::start(Options::default()).await;
    let (c, t) = env.tokens().await;
    let access = t["access_token"].as_str().unwrap();
    assert_eq!(env.mcp("/mcp", Some(access)).await.status(), 200);
    // Revoking the refresh token ends the grant, and so its live access token.
    assert_eq!(
        env.revoke(&c, t["refresh_token"].as_str().unwrap()).await,
        200
    );
    assert_refused(&env, access, "access token of a revoked grant").await;
}

#[tokio::test]
async fn refresh_token_reuse_refuses_the_grants_access_tokens() {
    let env = Env::start(Options::default()).await;
    let (c, t) = env.tokens().await;
    let rt = t["refresh_token"].as_str().unwrap();
    let (s, t2) = env.refresh(&c, rt).await;
    assert_eq!(s, 200);
    let access2 = t2["access_token"].as_str().unwrap();
    assert_eq!(env.mcp("/mcp", Some(access2)).await.status(), 200);
    // The old refresh token again: it leaked; every token of the grant dies.
    let (s, body) = env.refresh(&c, rt).await;
    assert_eq!((s, body["error"].as_str()), (400, Some("invalid_grant")));
    assert_refused(&env, access2, "access token after refresh reuse").await;
    assert_refused(&env, t["access_token"].as_str().unwrap(), "the first one").await;
}

#[tokio::test]
async fn code_replay_refuses_the_access_token_it_bought() {
    let env = Env::start(Options::default()).await;
    let c = env.register("http://127.0.0.1:9999/callback").await;
    let pkce = Pkce::new();
    let code = env.login(&c, &pkce).await;
    let (s, t) = env.exchange(&c, &code, &pkce.verifier).await;
    assert_eq!(s, 200);
    let access = t["access_token"].as_str().unwrap();
    let (s, body) = env.exchange(&c, &code, &pkce.verifier).await;
    assert_eq!((s, body["error"].as_str()), (400, Some("invalid_grant")));
    assert_refused(&env, access, "access token bought by a replayed code").await;
}

#[tokio::test]
async fn allow_list_removal_refuses_access_tokens_at_once() {
    let mut env = Env::start(Options::default()).await;
    let (_, t) = env.tokens().await;
    let access = t["access_token"].as_str().unwrap().to_owned();
    let mut s = env.settings.clone();
    s.github.allowed_ids = vec![7];
    env.restart_with(s).await;
    assert_refused(
        &env,
        &access,
        "access token of an account taken off the list",
    )
    .await;
}

#[tokio::test]
async fn clients_revoke_ends_every_grant_and_token_of_the_client() {
    let env = Env::start(Options::default()).await;
    let (c, t1) = env.tokens_for_client(None).await;
    let (_, t2) = env.tokens_for_client(Some(c.clone())).await;
    let (other, t3) = env.tokens_for_client(None).await;

    let apps = admin::list_clients(env.dir.path()).unwrap();
    let app = apps.iter().find(|a| a.client_id == c.client_id).unwrap();
    assert_eq!(app.live_grants, 2);
    assert_eq!(app.kind, "registered");
    assert_eq!(app.signed_in, ["alice"]);
    assert_eq!(app.redirect_hosts, ["127.0.0.1"]);
    assert_eq!(app.name.as_deref(), Some("Test <App>"));

    // As `vaultmcp clients revoke` does it: the store, then the running server reloads.
    assert_eq!(
        admin::revoke_client(env.dir.path(), &c.client_id).unwrap(),
        2
    );
    env.auth.reload_revocations().await.unwrap();
    for t in [&t1, &t2] {
        assert_refused(&env, t["access_token"].as_str().unwrap(), "revoked client").await;
        let (s, body) = env.refresh(&c, t["refresh_token"].as_str().unwrap()).await;
        assert_eq!((s, body["error"].as_str()), (400, Some("invalid_grant")));
    }
    // Another client is untouched.
    assert_eq!(
        env.mcp("/mcp", t3["access_token"].as_str()).await.status(),
        200
    );
    let (s, _) = env
        .refresh(&other, t3["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(s, 200);
    let e = admin::revoke_client(env.dir.path(), "no-such-client").unwrap_err();
    assert!(e.to_string().contains("no client"), "{e}");
}

#[tokio::test]
async fn personal_access_tokens() {
    let env = Env::start(Options::default()).await;
    let created = admin::create_token(env.dir.path(), "ci", Some(3600)).unwrap();
    assert!(created.token.starts_with("vmcp_"));
    env.auth.reload_revocations().await.unwrap();
    let r = env.mcp("/mcp", Some(&created.token)).await;
    assert_eq!(r.status(), 200, "a personal token opens MCP");
    let found = env
        .mcp_tool(
            &created.token,
            "search",
            serde_json::json!({"query": "docker"}),
        )
        .await;
    assert_eq!(found["isError"], false);

    // Only the hash is stored, and a listing never shows the token.
    let db = std::fs::read(env.dir.path().join("auth.sqlite3")).unwrap();
    let needle = created.token.as_bytes();
    assert!(!db.windows(needle.len()).any(|w| w == needle));
    let listed = serde_json::to_string(&admin::list_tokens(env.dir.path()).unwrap()).unwrap();
    assert!(listed.contains("\"ci\"") && !listed.contains(&created.token));
    assert!(
        admin::create_token(env.dir.path(), "ci", None).is_err(),
        "names are unique"
    );

    // The OAuth endpoints never accept one.
    let (s, body) = env
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &created.token),
            ("client_id", "x"),
        ])
        .await;
    assert_eq!((s, body["error"].as_str()), (401, Some("invalid_client")));
    let c = env.register("http://127.0.0.1:9999/callback").await;
    let (s, body) = env.refresh(&c, &created.token).await;
    assert_eq!((s, body["error"].as_str()), (400, Some("invalid_grant")));

    // A made-up token with the prefix is refused like any bad token.
    assert_refused(
        &env,
        "vmcp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "made up",
    )
    .await;

    admin::revoke_token(env.dir.path(), "ci").unwrap();
    env.auth.reload_revocations().await.unwrap();
    assert_refused(&env, &created.token, "revoked personal token").await;
    assert!(admin::revoke_token(env.dir.path(), "ci").is_err());
}

#[tokio::test]
async fn expired_personal_tokens_are_refused() {
    let env = Env::start(Options::default()).await;
    let created = admin::create_token(env.dir.path(), "short", Some(1)).unwrap();
    env.auth.reload_revocations().await.unwrap();
    // Expiry is checked at use, not only at load.
    let conn = rusqlite::Connection::open(env.dir.path().join("auth.sqlite3")).unwrap();
    conn.execute(
        "UPDATE personal_tokens SET expires_at = 1 WHERE name = 'short'",
        [],
    )
    .unwrap();
    env.auth.reload_revocations().await.unwrap();
    assert_refused(&env, &created.token, "expired personal token").await;
}

#[tokio::test]
async fn audit_log_records_who_what_and_never_a_secret() {
    let env = Env::start(Options::default()).await;
    let (c, t) = env.tokens().await;
    // A refused sign-in, a denial, a reuse and a revocation.
    env.gh.state.user.lock().unwrap().1 = 999;
    let pkce = Pkce::new();
    let back = env.approve(&env.authorize_url(&c, &pkce, &[])).await;
    assert!(back.as_str().contains("access_denied"));
    let mut form = env
        .consent_form(&env.authorize_url(&c, &Pkce::new(), &[]))
        .await;
    form.insert("decision".into(), "deny".into());
    env.browser.post_form(&env.url("/authorize"), &form).await;
    let rt = t["refresh_token"].as_str().unwrap();
    let (_, t2) = env.refresh(&c, rt).await;
    env.refresh(&c, rt).await;
    let created = admin::create_token(env.dir.path(), "laptop", None).unwrap();

    let entries = admin::audit_since(env.dir.path(), 0).unwrap();
    let events: Vec<&str> = entries.iter().map(|e| e.event.as_str()).collect();
    for want in [
        "consent_approved",
        "sign_in",
        "sign_in_refused",
        "consent_denied",
        "refresh_reuse",
        "token_created",
    ] {
        assert!(events.contains(&want), "{want} missing from {events:?}");
    }
    let sign_in = entries.iter().find(|e| e.event == "sign_in").unwrap();
    assert_eq!(sign_in.who.as_deref(), Some("github:42"));
    assert_eq!(sign_in.client_id.as_deref(), Some(c.client_id.as_str()));
    assert_eq!(sign_in.ip.as_deref(), Some("127.0.0.1"));
    let refused = entries
        .iter()
        .find(|e| e.event == "sign_in_refused")
        .unwrap();
    assert!(refused.detail.as_deref().unwrap().contains("allow-list"));

    let all = serde_json::to_string(&entries).unwrap();
    for secret in [
        t["access_token"].as_str().unwrap(),
        rt,
        t2["refresh_token"].as_str().unwrap(),
        created.token.as_str(),
        auth_support::github::CLIENT_SECRET,
    ] {
        assert!(!all.contains(secret), "a secret in the audit log");
    }
}

#[tokio::test]
async fn revoke_endpoint_is_rate_limited() {
    let env = Env::start(Options::default()).await;
    let c = env.register("http://127.0.0.1:9999/callback").await;
    let mut statuses = Vec::new();
    for _ in 0..70 {
        statuses.push(env.revoke(&c, "garbage").await);
    }
    assert_eq!(statuses[0], 200, "garbage gets 200 (RFC 7009 §2.2)");
    assert_eq!(*statuses.last().unwrap(), 429);
    let r = env
        .browser
        .http
        .post(env.url("/revoke"))
        .form(&[("token", "x"), ("client_id", c.client_id.as_str())])
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "temporarily_unavailable");
}

#[tokio::test]
async fn basic_client_authentication_is_case_insensitive() {
    let env = Env::start(Options::default()).await;
    let r: Value = env
        .browser
        .http
        .post(env.url("/register"))
        .json(&serde_json::json!({"redirect_uris": ["http://127.0.0.1:9999/callback"], "grant_types": ["authorization_code", "refresh_token"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (id, secret) = (
        r["client_id"].as_str().unwrap(),
        r["client_secret"].as_str().unwrap(),
    );
    use base64::Engine as _;
    let creds = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    let wrong = base64::engine::general_purpose::STANDARD.encode(format!("{id}:nope"));
    for scheme in ["Basic", "basic", "BASIC", "bAsIc"] {
        let send = |c: &str| {
            env.browser
                .http
                .post(env.url("/revoke"))
                .header("authorization", format!("{scheme} {c}"))
                .form(&[("token", "x")])
                .send()
        };
        assert_eq!(send(&creds).await.unwrap().status(), 200, "{scheme}");
        assert_eq!(send(&wrong).await.unwrap().status(), 401, "{scheme}");
    }
}

#[tokio::test]
async fn store_from_before_the_migration_keeps_working() {
    // An auth.sqlite3 as the previous release left it (schema 2, with the consents table and
    // clients.metadata) opens, migrates and serves.
    let dir = tempfile::tempdir().unwrap();
    {
        let conn = rusqlite::Connection::open(dir.path().join("auth.sqlite3")).unwrap();
        conn.execute_batch(
            "CREATE TABLE clients (client_id TEXT PRIMARY KEY, secret_hash TEXT, client_name TEXT, redirect_uris TEXT NOT NULL, auth_method TEXT NOT NULL, metadata TEXT NOT NULL, created_at INTEGER NOT NULL, last_used_at INTEGER NOT NULL);
             CREATE TABLE consents (client_id TEXT NOT NULL, sub TEXT NOT NULL, scope TEXT NOT NULL, granted_at INTEGER NOT NULL, PRIMARY KEY (client_id, sub));
             INSERT INTO clients VALUES ('old-client', NULL, 'Old', '[\"http://127.0.0.1:9999/callback\"]', 'none', '{}', 1, 4102444800);
             INSERT INTO consents VALUES ('old-client', 'github:42', 'notes:read', 1);",
        )
        .unwrap();
        // The rest of schemas 1 and 2 as vaultmcp made them.
        conn.execute_batch(
            "CREATE TABLE signing_keys (kid TEXT PRIMARY KEY, private_pkcs8 BLOB NOT NULL, public_raw BLOB NOT NULL, created_at INTEGER NOT NULL, retired_at INTEGER);
             CREATE TABLE pending_logins (state_hash TEXT PRIMARY KEY, browser_hash TEXT NOT NULL, request TEXT NOT NULL, pkce_verifier TEXT NOT NULL, expires_at INTEGER NOT NULL);
             CREATE TABLE codes (code_hash TEXT PRIMARY KEY, client_id TEXT NOT NULL, redirect_uri TEXT NOT NULL, code_challenge TEXT NOT NULL, resource TEXT NOT NULL, scope TEXT NOT NULL, sub TEXT NOT NULL, login TEXT NOT NULL, github_id INTEGER, expires_at_ms INTEGER NOT NULL, used INTEGER NOT NULL DEFAULT 0, grant_id TEXT);
             CREATE TABLE grants (grant_id TEXT PRIMARY KEY, client_id TEXT NOT NULL, sub TEXT NOT NULL, login TEXT NOT NULL, github_id INTEGER, scope TEXT NOT NULL, resource TEXT NOT NULL, created_at INTEGER NOT NULL, revoked_at INTEGER);
             CREATE TABLE refresh_tokens (token_hash TEXT PRIMARY KEY, grant_id TEXT NOT NULL REFERENCES grants(grant_id) ON DELETE CASCADE, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, rotated_at INTEGER);
             CREATE INDEX refresh_tokens_grant ON refresh_tokens(grant_id);
             CREATE TABLE revoked_jti (jti TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
             CREATE TABLE assertion_jti (client_id TEXT NOT NULL, jti TEXT NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (client_id, jti));
             PRAGMA user_version = 2;",
        )
        .unwrap();
    }
    let conn = vaultmcp::auth::store::open_connection(dir.path()).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(!tables.contains(&"consents".to_owned()));
    assert!(tables.contains(&"personal_tokens".to_owned()));
    let name: String = conn
        .query_row(
            "SELECT client_name FROM clients WHERE client_id = 'old-client'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(name, "Old", "registrations survive the migration");
    assert!(
        conn.prepare("SELECT metadata FROM clients").is_err(),
        "clients.metadata is gone"
    );
}

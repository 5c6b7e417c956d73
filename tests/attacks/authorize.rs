//! `GET /authorize`: redirect-URI tricks, parameter pollution, PKCE and scope downgrades.
//!
//! Until the client and its redirect URI are known good, every refusal is an HTML page (400)
//! and never a redirect (RFC 6749 §4.1.2.1, RFC 9700 §4.1.3: exact matching, no prefixes);
//! afterwards errors go back to the registered URI with `state` and `iss`.

use crate::auth_support::{Env, Options, Pkce};
use crate::{REDIRECT, assert_client_error, assert_page};

const APP: &str = "https://app.example/cb";

async fn refused_redirects(env: &Env, registered: &str, attempts: &[&str]) {
    let c = env.register(registered).await;
    let pkce = Pkce::new();
    for bad in attempts {
        let r = env
            .browser
            .get(&env.authorize_url(&c, &pkce, &[("redirect_uri", bad)]))
            .await;
        assert_page(&r, 400, "invalid_request", bad);
    }
}

#[tokio::test]
async fn redirect_uri_prefix_tricks_are_not_matches() {
    let env = Env::start(Options::default()).await;
    refused_redirects(
        &env,
        APP,
        &[
            "https://app.example/cb/",
            "https://app.example/cbx",
            "https://app.example/cb/extra",
            "https://app.example/cb?x=1",
            "https://app.example/cb?",
            "https://app.example.evil.example/cb",
            "https://app.example:8443/cb",
            "https://app.example:443/cb",
            "http://app.example/cb",
        ],
    )
    .await;
}

#[tokio::test]
async fn redirect_uri_path_tricks_are_not_matches() {
    let env = Env::start(Options::default()).await;
    refused_redirects(
        &env,
        APP,
        &[
            "https://app.example/cb/../evil",
            "https://app.example/cb/%2e%2e/evil",
            "https://app.example/cb%2F..%2Fevil",
            "https://app.example/cb/..;/evil",
            "https://app.example/cb;evil",
            "https://app.example/CB",
            "https://app.example/cb/.",
            "https://app.example//evil.example/cb",
            "https://app.example/cb%00",
            "https://app.example\\@evil.example/cb",
        ],
    )
    .await;
}

#[tokio::test]
async fn redirect_uri_with_userinfo_is_refused() {
    let env = Env::start(Options::default()).await;
    refused_redirects(
        &env,
        APP,
        &[
            "https://app.example@evil.example/cb",
            "https://user:pw@app.example/cb",
            "https://app.example:@evil.example/cb",
            "https://evil.example%40app.example/cb",
        ],
    )
    .await;
}

#[tokio::test]
async fn script_and_data_redirect_uris_in_any_spelling_never_redirect() {
    let env = Env::start(Options::default()).await;
    refused_redirects(
        &env,
        REDIRECT,
        &[
            "JavaScript:alert(1)",
            "JAVASCRIPT://127.0.0.1:9999/callback%0aalert(1)",
            " javascript:alert(1)",
            "java\tscript:alert(1)",
            "java\nscript:alert(1)",
            "\u{1}javascript:alert(1)",
            "DATA:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
            "vbscript:msgbox(1)",
            "com.example.app:/callback",
        ],
    )
    .await;
}

#[tokio::test]
async fn loopback_redirect_may_change_only_the_port() {
    // RFC 8252 §7.3 lets a loopback redirect change its port, nothing else.
    let env = Env::start(Options::default()).await;
    refused_redirects(
        &env,
        REDIRECT,
        &[
            "http://localhost:9999/callback",
            "http://[::1]:9999/callback",
            "https://127.0.0.1:9999/callback",
            "http://127.0.0.1:4444/callback/",
            "http://127.0.0.1:4444/Callback",
            "http://127.0.0.2:9999/callback",
            "http://127.0.0.1:9999@evil.example/callback",
        ],
    )
    .await;
}

#[tokio::test]
async fn repeated_parameters_are_refused_on_a_page() {
    // RFC 6749 §3.1: parameters MUST NOT repeat; the second redirect_uri must not win.
    let env = Env::start(Options::default()).await;
    let c = env.register(REDIRECT).await;
    let base = env.authorize_url(&c, &Pkce::new(), &[]);
    for extra in [
        "redirect_uri=https%3A%2F%2Fevil.example%2Fcb",
        &format!("client_id={}", c.client_id),
        "state=other",
    ] {
        let r = env.browser.get(&format!("{base}&{extra}")).await;
        assert_page(&r, 400, "invalid_request", extra);
    }
}

#[tokio::test]
async fn implicit_and_hybrid_response_types_are_refused() {
    // OAuth 2.1 / RFC 9700 §2.1.2: no implicit grant; the error goes to the client.
    let env = Env::start(Options::default()).await;
    let c = env.register(REDIRECT).await;
    for rt in ["token", "code token", "id_token", "code id_token", "none"] {
        let r = env
            .browser
            .get(&env.authorize_url(&c, &Pkce::new(), &[("response_type", rt)]))
            .await;
        assert_client_error(&env, &r, REDIRECT, "unsupported_response_type", rt);
        assert!(!r.location.unwrap().contains("access_token"), "{rt}");
    }
}

#[tokio::test]
async fn no_pkce_at_all_is_refused() {
    let env = Env::start(Options::default()).await;
    let c = env.register(REDIRECT).await;
    let r = env
        .browser
        .get(&env.authorize_url(
            &c,
            &Pkce::new(),
            &[("code_challenge", ""), ("code_challenge_method", "")],
        ))
        .await;
    assert_client_error(&env, &r, REDIRECT, "invalid_request", "no PKCE");
}

#[tokio::test]
async fn pkce_method_without_a_challenge_is_refused() {
    let env = Env::start(Options::default()).await;
    let c = env.register(REDIRECT).await;
    let r = env
        .browser
        .get(&env.authorize_url(&c, &Pkce::new(), &[("code_challenge", "")]))
        .await;
    assert_client_error(
        &env,
        &r,
        REDIRECT,
        "invalid_request",
        "S256 without challenge",
    );
}

#[tokio::test]
async fn malformed_code_challenges_are_refused() {
    // RFC 7636 §4.2: the S256 challenge is 43 base64url characters.
    let env = Env::start(Options::default()).await;
    let c = env.register(REDIRECT).await;
    let good = Pkce::new().challenge;
    for bad in [
        good[..42].to_owned(),
        format!("{good}A"),
        format!("{}+", &good[..42]),
        format!("{}/", &good[..42]),
        format!("{}=", &good[..42]),
        format!("{good}="),
        "A".repeat(128),
    ] {
        let r = env
            .browser
            .get(&env.authorize_url(&c, &Pkce::new(), &[("code_challenge", &bad)]))
            .await;
        assert_client_error(&env, &r, REDIRECT, "invalid_request", &bad);
    }
}

#[tokio::test]
async fn scopes_beyond_notes_read_are_refused() {
    let env = Env::start(Options::default()).await;
    let c = env.register(REDIRECT).await;
    for scope in [
        "notes:write",
        "admin",
        "openid",
        "notes:read:all",
        "NOTES:READ",
    ] {
        let r = env
            .browser
            .get(&env.authorize_url(&c, &Pkce::new(), &[("scope", scope)]))
            .await;
        assert_client_error(&env, &r, REDIRECT, "invalid_scope", scope);
    }
}

#[tokio::test]
async fn pkce_method_names_are_exact() {
    // RFC 7636 §4.3: the method is "S256", case-sensitive; nothing else is S256.
    let env = Env::start(Options::default()).await;
    let c = env.register(REDIRECT).await;
    for m in ["s256", "SHA256", "sha-256", "S512", "S256 ", "PLAIN"] {
        let r = env
            .browser
            .get(&env.authorize_url(&c, &Pkce::new(), &[("code_challenge_method", m)]))
            .await;
        assert_client_error(&env, &r, REDIRECT, "invalid_request", m);
    }
}

#[tokio::test]
async fn oversized_state_is_refused() {
    // The state is reflected into the page and the redirect; an unbounded one is refused.
    let env = Env::start(Options::default()).await;
    let c = env.register(REDIRECT).await;
    let r = env
        .browser
        .get(&env.authorize_url(&c, &Pkce::new(), &[("state", &"s".repeat(3000))]))
        .await;
    assert!(r.status.is_redirection(), "{}", r.status);
    let back = url::Url::parse(&r.location.unwrap()).unwrap();
    assert!(back.as_str().starts_with(REDIRECT));
    let q = crate::auth_support::query(&back);
    assert_eq!(q["error"], "invalid_request");
    assert_eq!(q["iss"], env.base);
    assert!(!q.contains_key("code"));
}

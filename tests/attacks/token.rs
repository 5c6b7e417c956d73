//! `POST /token`: stolen and confused codes, PKCE at the token endpoint, refresh-token abuse,
//! malformed requests. Every refusal is RFC 6749 §5.2 JSON.

use serde_json::{Value, json};

use crate::auth_support::{Client, Env, Options, Pkce, query};
use crate::{REDIRECT, assert_oauth};

/// Registers a client, logs in with `pkce` (optionally at another redirect URI) and returns
/// the code.
async fn code_for(env: &Env, c: &Client, pkce: &Pkce, redirect: Option<&str>) -> String {
    let extra: Vec<(&str, &str)> = redirect.map(|r| ("redirect_uri", r)).into_iter().collect();
    let back = env.approve(&env.authorize_url(c, pkce, &extra)).await;
    query(&back).remove("code").expect("a code")
}

#[tokio::test]
async fn code_redeemed_by_another_client_is_refused() {
    let env = Env::start(Options::default()).await;
    let (victim, thief) = (env.register(REDIRECT).await, env.register(REDIRECT).await);
    let pkce = Pkce::new();
    let code = code_for(&env, &victim, &pkce, None).await;
    // The thief even has the verifier (a fully compromised client app).
    assert_oauth(
        env.exchange(&thief, &code, &pkce.verifier).await,
        400,
        "invalid_grant",
        "another client's code",
    );
}

#[tokio::test]
async fn code_exchanged_with_another_loopback_port_is_refused() {
    // The loopback port may vary at /authorize (RFC 8252), but /token must name the very URI
    // the code was sent to (RFC 6749 §4.1.3).
    let env = Env::start(Options::default()).await;
    let c = env.register(REDIRECT).await;
    let pkce = Pkce::new();
    let code = code_for(&env, &c, &pkce, Some("http://127.0.0.1:4444/callback")).await;
    assert_oauth(
        env.exchange(&c, &code, &pkce.verifier).await,
        400,
        "invalid_grant",
        "registered port instead of the one used",
    );
}

#[tokio::test]
async fn malformed_verifiers_are_refused_even_when_they_hash_right() {
    // RFC 7636 §4.1: 43 to 128 characters of [A-Za-z0-9-._~]. Each challenge here is the true
    // S256 of its verifier, so only the verifier rules can refuse them.
    let env = Env::start(Options::default()).await;
    let c = env.register(REDIRECT).await;
    for bad in [
        "a".repeat(42),
        "a".repeat(129),
        format!("{}+", "a".repeat(42)),
        format!("{}/", "a".repeat(42)),
        format!("{} ", "a".repeat(42)),
        format!("{}é", "a".repeat(42)),
        String::new(),
    ] {
        let pkce = Pkce::from_verifier(&bad);
        let code = code_for(&env, &c, &pkce, None).await;
        assert_oauth(
            env.exchange(&c, &code, &bad).await,
            400,
            "invalid_grant",
            &format!("verifier {bad:?}"),
        );
    }
}

#[tokio::test]
async fn verifier_for_a_code_issued_without_a_challenge_is_refused() {
    // RFC 9700 §2.1.1: a code_verifier for a code that had no code_challenge is a downgrade
    // attempt and must be refused (no request of ours issues such a code; it is planted).
    let env = Env::start(Options::default()).await;
    let c = env.register(REDIRECT).await;
    let verifier = Pkce::new().verifier;
    let code = env.plant_code(&c, "");
    assert_oauth(
        env.exchange(&c, &code, &verifier).await,
        400,
        "invalid_grant",
        "verifier without challenge",
    );
    // The planting helper does make usable codes: the same row with a challenge works.
    let pkce = Pkce::new();
    let good = env.plant_code(&c, &pkce.challenge);
    assert_eq!(env.exchange(&c, &good, &pkce.verifier).await.0, 200);
}

#[tokio::test]
async fn code_without_a_verifier_is_refused() {
    let env = Env::start(Options::default()).await;
    let c = env.register(REDIRECT).await;
    let pkce = Pkce::new();
    let code = code_for(&env, &c, &pkce, None).await;
    let resource = env.url("/mcp");
    assert_oauth(
        env.token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", &c.client_id),
            ("resource", &resource),
        ])
        .await,
        400,
        "invalid_request",
        "no code_verifier",
    );
}

async fn refresh_with(env: &Env, c: &Client, t: &Value, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", t["refresh_token"].as_str().unwrap()),
        ("client_id", c.client_id.as_str()),
    ];
    form.extend_from_slice(extra);
    env.token(&form).await
}

#[tokio::test]
async fn refresh_asking_for_a_wider_scope_is_refused() {
    let env = Env::start(Options::default()).await;
    let (c, t) = env.tokens().await;
    for scope in ["notes:read notes:write", "notes:write", "admin"] {
        assert_oauth(
            refresh_with(&env, &c, &t, &[("scope", scope)]).await,
            400,
            "invalid_scope",
            scope,
        );
    }
    // The refusals rotated nothing: the token still refreshes.
    assert_eq!(refresh_with(&env, &c, &t, &[]).await.0, 200);
}

#[tokio::test]
async fn refresh_for_another_resource_is_refused() {
    // RFC 8707 §2.2: a refresh may only name a resource the grant covers.
    let env = Env::start(Options::default()).await;
    let (c, t) = env.tokens().await;
    for resource in [
        "https://other.example/mcp",
        "http://127.0.0.1:1/mcp",
        "urn:other",
    ] {
        assert_oauth(
            refresh_with(&env, &c, &t, &[("resource", resource)]).await,
            400,
            "invalid_target",
            resource,
        );
    }
    assert_eq!(refresh_with(&env, &c, &t, &[]).await.0, 200);
}

#[tokio::test]
async fn expired_refresh_token_is_refused() {
    let env = Env::start(Options {
        refresh_ttl: std::time::Duration::ZERO,
        ..Options::default()
    })
    .await;
    let (c, t) = env.tokens().await;
    assert_oauth(
        refresh_with(&env, &c, &t, &[]).await,
        400,
        "invalid_grant",
        "expired refresh token",
    );
}

#[tokio::test]
async fn tokens_of_one_kind_are_no_good_as_another() {
    let env = Env::start(Options::default()).await;
    let (c, t) = env.tokens().await;
    let pkce = Pkce::new();
    let code = code_for(&env, &c, &pkce, None).await;
    let access = t["access_token"].as_str().unwrap();
    for (what, token) in [
        ("access token", access),
        ("authorization code", code.as_str()),
        ("client id", c.client_id.as_str()),
    ] {
        assert_oauth(
            env.refresh(&c, token).await,
            400,
            "invalid_grant",
            &format!("{what} as a refresh token"),
        );
    }
    let rt = t["refresh_token"].as_str().unwrap();
    for (what, token) in [("refresh token", rt), ("access token", access)] {
        assert_oauth(
            env.exchange(&c, token, &pkce.verifier).await,
            400,
            "invalid_grant",
            &format!("{what} as a code"),
        );
    }
    assert_eq!(env.exchange(&c, &code, &pkce.verifier).await.0, 200);
}

#[tokio::test]
async fn unsupported_grant_types_are_refused() {
    let env = Env::start(Options::default()).await;
    let c = env.register(REDIRECT).await;
    for g in [
        "password",
        "client_credentials",
        "implicit",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "urn:ietf:params:oauth:grant-type:device_code",
        "urn:ietf:params:oauth:grant-type:token-exchange",
    ] {
        assert_oauth(
            env.token(&[
                ("grant_type", g),
                ("client_id", &c.client_id),
                ("username", "alice"),
                ("password", "x"),
            ])
            .await,
            400,
            "unsupported_grant_type",
            g,
        );
    }
    assert_oauth(
        env.token(&[("client_id", &c.client_id)]).await,
        400,
        "invalid_request",
        "no grant_type",
    );
}

#[tokio::test]
async fn repeated_parameters_are_refused() {
    // RFC 6749 §3.2: parameters MUST NOT be included more than once.
    let env = Env::start(Options::default()).await;
    let c = env.register(REDIRECT).await;
    let pkce = Pkce::new();
    let code = code_for(&env, &c, &pkce, None).await;
    let base = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("client_id", c.client_id.as_str()),
        ("code_verifier", pkce.verifier.as_str()),
    ];
    for dup in [
        ("code", "other"),
        ("client_id", "other"),
        ("code_verifier", pkce.verifier.as_str()),
        ("grant_type", "refresh_token"),
    ] {
        let mut form = base.to_vec();
        form.push(dup);
        assert_oauth(env.token(&form).await, 400, "invalid_request", dup.0);
    }
    // Nothing was spent by the refusals.
    assert_eq!(env.token(&base).await.0, 200);
}

#[tokio::test]
async fn json_and_untyped_bodies_are_refused() {
    let env = Env::start(Options::default()).await;
    let c = env.register(REDIRECT).await;
    let fields = json!({"grant_type": "authorization_code", "code": "x", "client_id": c.client_id, "code_verifier": "x"});
    for (ct, body) in [
        ("application/json", fields.to_string()),
        (
            "text/plain",
            format!("grant_type=authorization_code&client_id={}", c.client_id),
        ),
        ("multipart/form-data; boundary=x", "--x--".to_owned()),
    ] {
        let r = env
            .browser
            .http
            .post(env.url("/token"))
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        assert_oauth(
            (status, r.json().await.unwrap()),
            400,
            "invalid_request",
            ct,
        );
    }
}

#[tokio::test]
async fn basic_credentials_for_one_client_and_form_id_of_another_are_refused() {
    let env = Env::start(Options::default()).await;
    let (s, conf) = env
        .register_raw(&json!({"redirect_uris": [REDIRECT], "client_name": "Conf"}))
        .await;
    assert_eq!(s, 201);
    let (id, secret) = (
        conf["client_id"].as_str().unwrap(),
        conf["client_secret"].as_str().unwrap(),
    );
    let public = env.register(REDIRECT).await;
    let post = |form: Vec<(&'static str, String)>, basic: Option<(&str, &str)>| {
        let mut req = env.browser.http.post(env.url("/token")).form(&form);
        if let Some((u, p)) = basic {
            req = req.basic_auth(u, Some(p));
        }
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let www = r.headers().get("www-authenticate").cloned();
            (status, r.json::<Value>().await.unwrap(), www)
        }
    };
    let grant = |cid: &str| {
        vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", "x".to_owned()),
            ("code_verifier", Pkce::new().verifier),
            ("client_id", cid.to_owned()),
        ]
    };
    // Basic for the confidential client, form client_id of the public one.
    let (s, e, www) = post(grant(&public.client_id), Some((id, secret))).await;
    assert_oauth((s, e), 401, "invalid_client", "ids differ");
    assert!(
        www.is_some(),
        "401 invalid_client carries WWW-Authenticate (RFC 6749 §5.2)"
    );
    // The secret both in the header and in the form.
    let mut twice = grant(id);
    twice.push(("client_secret", secret.to_owned()));
    let (s, e, _) = post(twice, Some((id, secret))).await;
    assert_oauth((s, e), 401, "invalid_client", "secret twice");
    // The confidential client's id with another client's secret in the form.
    let mut wrong = grant(id);
    wrong.push(("client_secret", public.client_id.clone()));
    let (s, e, _) = post(wrong, None).await;
    assert_oauth((s, e), 401, "invalid_client", "someone else's secret");
}

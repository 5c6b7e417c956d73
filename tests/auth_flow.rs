//! The OAuth flow end to end against a stand-in GitHub, and the attacks it must stop.

mod auth_support;

use std::collections::HashMap;
use std::time::Duration;

use auth_support::{Env, Options, Pkce, page_error, query};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use vaultmcp::auth::AuthMode;

const REDIRECT: &str = "http://127.0.0.1:9999/callback";

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test]
async fn whole_flow_register_to_restart() {
    let mut env = Env::start(Options::default()).await;

    // Discovery, as a client does it: 401 → resource metadata → authorization server metadata.
    let r = env.mcp("/mcp", None).await;
    assert_eq!(r.status(), 401);
    let www = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert_eq!(
        www,
        format!(
            r#"Bearer resource_metadata="{}/.well-known/oauth-protected-resource/mcp", scope="notes:read""#,
            env.base
        )
    );
    let prm: Value = env
        .get_json("/.well-known/oauth-protected-resource/mcp")
        .await;
    assert_eq!(prm["authorization_servers"][0], env.base.as_str());
    let asm: Value = env
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(asm["issuer"], env.base.as_str());

    // Register, authorize, consent, GitHub, callback.
    let client = env.register(REDIRECT).await;
    let pkce = Pkce::new();
    let url = env.authorize_url(&client, &pkce, &[]);
    let page = env.browser.get(&url).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.headers["x-frame-options"], "DENY");
    assert!(
        page.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert!(
        page.body.contains("Test &lt;App&gt;"),
        "names the client, escaped"
    );
    assert!(
        page.body.contains("127.0.0.1:9999"),
        "names the redirect host"
    );
    let code = env.login(&client, &pkce).await;

    // Token, then the MCP route sees the user.
    let (status, tok) = env.exchange(&client, &code, &pkce.verifier).await;
    assert_eq!(status, 200, "{tok}");
    assert_eq!(tok["token_type"], "Bearer");
    assert_eq!(tok["scope"], "notes:read");
    assert_eq!(tok["expires_in"], 3600);
    let access = tok["access_token"].as_str().unwrap();
    let claims = auth_support::claims(access);
    assert_eq!(claims["iss"], env.base.as_str());
    assert_eq!(claims["aud"], format!("{}/mcp", env.base));
    assert_eq!(claims["sub"], "github:42");
    assert_eq!(claims["login"], "alice");
    assert_eq!(claims["client_id"], client.client_id.as_str());
    for k in ["iat", "exp", "jti"] {
        assert!(claims.get(k).is_some(), "claim {k}");
    }
    let header = auth_support::header(access);
    assert_eq!(header["alg"], "EdDSA");
    assert!(header["kid"].is_string());
    let r = env.mcp("/mcp", Some(access)).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.text().await.unwrap().contains("\"serverInfo\""),
        "a real MCP initialize result"
    );
    let me = auth_support::claims(access);
    assert_eq!(
        (&me["sub"], &me["login"], &me["client_id"], &me["scope"]),
        (
            &json!("github:42"),
            &json!("alice"),
            &json!(client.client_id),
            &json!("notes:read")
        )
    );
    assert_eq!(
        env.mcp("/", Some(access)).await.status(),
        200,
        "the root MCP route accepts the /mcp audience too"
    );

    // Refresh rotates.
    let (status, t2) = env
        .refresh(&client, tok["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(status, 200, "{t2}");
    assert_ne!(t2["refresh_token"], tok["refresh_token"]);
    assert_eq!(
        env.mcp("/mcp", t2["access_token"].as_str()).await.status(),
        200
    );

    // Revoke a second grant's refresh token: that grant is gone.
    let pkce_b = Pkce::new();
    let code_b = env.login(&client, &pkce_b).await;
    let (_, tb) = env.exchange(&client, &code_b, &pkce_b.verifier).await;
    assert_eq!(
        env.revoke(&client, tb["refresh_token"].as_str().unwrap())
            .await,
        200
    );
    let (status, e) = env
        .refresh(&client, tb["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
    // Revoking an access token makes the MCP route refuse it.
    assert_eq!(
        env.revoke(&client, tb["access_token"].as_str().unwrap())
            .await,
        200
    );
    assert_eq!(
        env.mcp("/mcp", tb["access_token"].as_str()).await.status(),
        401
    );

    // Restart: the client registration and the first grant's refresh token survive.
    env.restart().await;
    let (status, t3) = env
        .refresh(&client, t2["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(status, 200, "{t3}");
    assert_eq!(
        env.mcp("/mcp", t3["access_token"].as_str()).await.status(),
        200
    );
    assert_eq!(
        env.mcp("/mcp", t2["access_token"].as_str()).await.status(),
        200,
        "tokens from before the restart still verify"
    );
    let pkce_c = Pkce::new();
    let code_c = env.login(&client, &pkce_c).await;
    assert_eq!(
        env.exchange(&client, &code_c, &pkce_c.verifier).await.0,
        200,
        "the registered client still exists"
    );
}

#[tokio::test]
async fn metadata_documents() {
    let env = Env::start(Options::default()).await;
    let get = |p: &str| {
        let u = env.url(p);
        let h = env.browser.http.clone();
        async move {
            h.get(u)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let b = env.base.clone();
    assert_eq!(
        get("/.well-known/oauth-protected-resource/mcp").await,
        json!({"resource": format!("{b}/mcp"), "authorization_servers": [b], "scopes_supported": ["notes:read"], "bearer_methods_supported": ["header"], "resource_name": "vaultmcp"})
    );
    assert_eq!(
        get("/.well-known/oauth-protected-resource").await["resource"],
        b.as_str()
    );
    let asm = get("/.well-known/oauth-authorization-server").await;
    assert_eq!(asm, get("/.well-known/openid-configuration").await);
    assert_eq!(asm["issuer"], b.as_str());
    assert_eq!(asm["authorization_endpoint"], format!("{b}/authorize"));
    assert_eq!(asm["token_endpoint"], format!("{b}/token"));
    assert_eq!(asm["registration_endpoint"], format!("{b}/register"));
    assert_eq!(asm["revocation_endpoint"], format!("{b}/revoke"));
    assert_eq!(asm["jwks_uri"], format!("{b}/jwks.json"));
    assert_eq!(asm["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        asm["grant_types_supported"],
        json!(["authorization_code", "refresh_token"])
    );
    assert!(
        asm["token_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("none"))
    );
    assert_eq!(asm["client_id_metadata_document_supported"], true);
    assert_eq!(asm["authorization_response_iss_parameter_supported"], true);
    let jwks = get("/jwks.json").await;
    let k = &jwks["keys"][0];
    assert_eq!(
        (k["kty"].as_str(), k["crv"].as_str(), k["alg"].as_str()),
        (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
    );
    assert_eq!(k["kid"], env.signing_key().0.as_str());
    assert!(k.get("d").is_none(), "no private part");
}

#[tokio::test]
async fn root_route_challenge_names_root_metadata() {
    let env = Env::start(Options::default()).await;
    let r = env.mcp("/", None).await;
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()["www-authenticate"].to_str().unwrap(),
        format!(
            r#"Bearer resource_metadata="{}/.well-known/oauth-protected-resource", scope="notes:read""#,
            env.base
        )
    );
    let r = env.mcp("/mcp", Some("not-a-jwt")).await;
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains(r#"error="invalid_token""#)
    );
}

#[tokio::test]
async fn wrong_pkce_verifier() {
    let env = Env::start(Options::default()).await;
    let c = env.register(REDIRECT).await;
    let pkce = Pkce::new();
    let code = env.login(&c, &pkce).await;
    let (s, e) = env.exchange(&c, &code, &Pkce::new().verifier).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")));
    // The code is burnt by the failed attempt.
    let (s, e) = env.exchange(&c, &code, &pkce.verifier).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")));
}

#[tokio::test]
async fn plain_pkce_is_refused() {
    let env = Env::start(Options::default()).await;
    let c = env.register(REDIRECT).await;
    let pkce = Pkce::new();
    for extra in [
        &[("code_challenge_method", "plain")][..],
        &[("code_challenge_method", "")][..],
    ] {
        let r = env.browser.get(&env.authorize_url(&c, &pkce, extra)).await;
        assert_eq!(r.status, 302);
        let back = url::Url::parse(&r.location.unwrap()).unwrap();
        assert!(back.as_str().starts_with(REDIRECT));
        let q = query(&back);
        assert_eq!(q["error"], "invalid_request");
        assert_eq!(q["state"], "st4te");
        assert_eq!(q["iss"], env.base);
    }
}

#[tokio::test]
async fn reused_code_is_refused_and_revokes_its_grant() {
    let env = Env::start(Options::default()).await;
    let c = env.register(REDIRECT).await;
    let pkce = Pkce::new();
    let code = env.login(&c, &pkce).await;
    let (s, t) = env.exchange(&c, &code, &pkce.verifier).await;
    assert_eq!(s, 200);
    let (s, e) = env.exchange(&c, &code, &pkce.verifier).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")));
    let (s, e) = env.refresh(&c, t["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "the grant bought with the replayed code is revoked"
    );
}

#[tokio::test]
async fn expired_code_is_refused() {
    let env = Env::start(Options {
        // Expired the moment it is issued: no sleep, no race with the clock.
        code_ttl: Duration::ZERO,
        ..Options::default()
    })
    .await;
    let c = env.register(REDIRECT).await;
    let pkce = Pkce::new();
    let code = env.login(&c, &pkce).await;
    let (s, e) = env.exchange(&c, &code, &pkce.verifier).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")));
    assert!(e["error_description"].as_str().unwrap().contains("expired"));
}

#[tokio::test]
async fn redirect_uri_mismatch() {
    let env = Env::start(Options::default()).await;
    let c = env.register(REDIRECT).await;
    let pkce = Pkce::new();
    // At /authorize: an HTML page, never a redirect to the unregistered URI.
    for bad in [
        "https://evil.example/callback",
        "http://127.0.0.1:9999/other",
        "http://127.0.0.1:9999/callback#x",
    ] {
        let r = env
            .browser
            .get(&env.authorize_url(&c, &pkce, &[("redirect_uri", bad)]))
            .await;
        assert_eq!(r.status, 400, "{bad}");
        assert!(r.location.is_none());
        assert_eq!(page_error(&r.body), "invalid_request");
    }
    // A loopback redirect may use another port (RFC 8252).
    let r = env
        .browser
        .get(&env.authorize_url(
            &c,
            &pkce,
            &[("redirect_uri", "http://127.0.0.1:4444/callback")],
        ))
        .await;
    assert_eq!(r.status, 200);
    // At /token: the redirect_uri must be the authorize request's.
    let code = env.login(&c, &pkce).await;
    let resource = format!("{}/mcp", env.base);
    let (s, e) = env
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9999/elsewhere"),
            ("client_id", &c.client_id),
            ("code_verifier", &pkce.verifier),
            ("resource", &resource),
        ])
        .await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")));
}

#[tokio::test]
async fn dangerous_redirect_uris_are_refused_at_registration() {
    let env = Env::start(Options::default()).await;
    for bad in [
        "javascript:alert(1)",
        "data:text/html,x",
        "file:///etc/passwd",
        "http://evil.example/cb",
        "https://ok.example/cb#frag",
    ] {
        let r = env
            .browser
            .http
            .post(env.url("/register"))
            .json(&json!({"redirect_uris": [bad], "token_endpoint_auth_method": "none"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        assert_eq!(r.headers()["cache-control"], "no-store");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"], "invalid_redirect_uri", "{bad}");
    }
}

#[tokio::test]
async fn unknown_client_gets_an_html_page_not_a_redirect() {
    let env = Env::start(Options::default()).await;
    let fake = auth_support::Client {
        client_id: "nope".into(),
        client_secret: None,
        redirect_uri: REDIRECT.into(),
    };
    let r = env
        .browser
        .get(&env.authorize_url(&fake, &Pkce::new(), &[]))
        .await;
    assert_eq!(r.status, 400);
    assert!(r.location.is_none());
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(page_error(&r.body), "invalid_client");
    // And at the token endpoint.
    let (s, e) = env
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("client_id", "nope"),
            ("code_verifier", "x"),
        ])
        .await;
    assert_eq!((s, e["error"].as_str()), (401, Some("invalid_client")));
}

#[tokio::test]
async fn wrong_resource() {
    let env = Env::start(Options::default()).await;
    let c = env.register(REDIRECT).await;
    let pkce = Pkce::new();
    let r = env
        .browser
        .get(&env.authorize_url(&c, &pkce, &[("resource", "https://other.example/mcp")]))
        .await;
    assert_eq!(r.status, 302);
    assert_eq!(
        query(&url::Url::parse(&r.location.unwrap()).unwrap())["error"],
        "invalid_target"
    );
    // At /token: another server's resource, or ours in another form than authorized.
    let code = env.login(&c, &pkce).await;
    let (s, e) = env
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &c.client_id),
            ("code_verifier", &pkce.verifier),
            ("resource", "https://other.example/mcp"),
        ])
        .await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_target")));
    let pkce = Pkce::new();
    let code = env.login(&c, &pkce).await;
    let (s, e) = env
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &c.client_id),
            ("code_verifier", &pkce.verifier),
            ("resource", &env.base),
        ])
        .await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_target")));
}

#[tokio::test]
async fn resource_and_scope_default_when_absent() {
    let env = Env::start(Options::default()).await;
    let c = env.register(REDIRECT).await;
    let pkce = Pkce::new();
    let back = env
        .approve(&env.authorize_url(&c, &pkce, &[("resource", ""), ("scope", "")]))
        .await;
    let code = query(&back)["code"].clone();
    let (s, t) = env
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &c.client_id),
            ("code_verifier", &pkce.verifier),
        ])
        .await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["scope"], "notes:read");
    assert_eq!(
        env.mcp("/mcp", t["access_token"].as_str()).await.status(),
        200
    );
}

#[tokio::test]
async fn user_not_on_the_allow_list() {
    let env = Env::start(Options {
        gh_login: "mallory".into(),
        gh_id: 666,
        ..Options::default()
    })
    .await;
    let c = env.register(REDIRECT).await;
    let back = env.approve(&env.authorize_url(&c, &Pkce::new(), &[])).await;
    let q = query(&back);
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "st4te");
    assert!(!q.contains_key("code"));
}

#[tokio::test]
async fn renamed_login_with_ids_configured() {
    // "alice" is allowed by login, but ids are configured and this "alice" is someone else.
    let env = Env::start(Options {
        allowed_ids: vec![42],
        allowed_logins: vec!["alice".into()],
        gh_login: "alice".into(),
        gh_id: 99,
        ..Options::default()
    })
    .await;
    let c = env.register(REDIRECT).await;
    let back = env.approve(&env.authorize_url(&c, &Pkce::new(), &[])).await;
    assert_eq!(query(&back)["error"], "access_denied");
}

#[tokio::test]
async fn login_allow_list_without_ids() {
    let env = Env::start(Options {
        allowed_ids: vec![],
        allowed_logins: vec!["Alice".into()],
        gh_login: "alice".into(),
        gh_id: 7,
        ..Options::default()
    })
    .await;
    let (_, t) = env.tokens().await;
    assert_eq!(
        env.mcp("/mcp", t["access_token"].as_str()).await.status(),
        200
    );
    let me = auth_support::claims(t["access_token"].as_str().unwrap());
    assert_eq!(me["sub"], "github:7");
}

#[tokio::test]
async fn allow_list_is_checked_again_on_refresh() {
    let mut env = Env::start(Options::default()).await;
    let (c, t) = env.tokens().await;
    let mut s = env.settings.clone();
    s.github.allowed_ids = vec![1];
    env.restart_with(s).await;
    let (status, e) = env.refresh(&c, t["refresh_token"].as_str().unwrap()).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
}

#[tokio::test]
async fn refresh_token_reuse_revokes_the_family() {
    let env = Env::start(Options::default()).await;
    let (c, t1) = env.tokens().await;
    let r1 = t1["refresh_token"].as_str().unwrap();
    let (s, t2) = env.refresh(&c, r1).await;
    assert_eq!(s, 200);
    let (s, e) = env.refresh(&c, r1).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")));
    let (s, e) = env.refresh(&c, t2["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "the newest token of the family dies too"
    );
    // Another client cannot use someone else's refresh token.
    let (c2, t3) = env.tokens().await;
    let other = env.register(REDIRECT).await;
    let (s, e) = env
        .refresh(&other, t3["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")));
    assert_eq!(
        env.refresh(&c2, t3["refresh_token"].as_str().unwrap())
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn consent_post_needs_the_csrf_token() {
    let env = Env::start(Options::default()).await;
    let c = env.register(REDIRECT).await;
    let mut form = env
        .consent_form(&env.authorize_url(&c, &Pkce::new(), &[]))
        .await;
    form.insert("decision".into(), "approve".into());
    let mut wrong = form.clone();
    wrong.insert("csrf_token".into(), "A".repeat(43));
    let r = env.browser.post_form(&env.url("/authorize"), &wrong).await;
    assert_eq!(
        (r.status.as_u16(), page_error(&r.body).as_str()),
        (403, "invalid_request")
    );
    let mut missing = form.clone();
    missing.remove("csrf_token");
    let r = env
        .browser
        .post_form(&env.url("/authorize"), &missing)
        .await;
    assert_eq!(
        (r.status.as_u16(), page_error(&r.body).as_str()),
        (403, "invalid_request")
    );
    // Right token in the form, but no cookie (a cross-site POST).
    let r = auth_support::Browser::new()
        .post_form(&env.url("/authorize"), &form)
        .await;
    assert_eq!(
        (r.status.as_u16(), page_error(&r.body).as_str()),
        (403, "invalid_request")
    );
    // The real thing works.
    let r = env.browser.post_form(&env.url("/authorize"), &form).await;
    assert_eq!(r.status, 303);
}

#[tokio::test]
async fn deny_goes_back_with_access_denied() {
    let env = Env::start(Options::default()).await;
    let c = env.register(REDIRECT).await;
    let mut form = env
        .consent_form(&env.authorize_url(&c, &Pkce::new(), &[]))
        .await;
    form.insert("decision".into(), "deny".into());
    let r = env.browser.post_form(&env.url("/authorize"), &form).await;
    assert_eq!(r.status, 303);
    let q = query(&url::Url::parse(&r.location.unwrap()).unwrap());
    assert_eq!(
        (q["error"].as_str(), q["state"].as_str()),
        ("access_denied", "st4te")
    );
}

#[tokio::test]
async fn github_callback_in_another_browser_is_refused() {
    let env = Env::start(Options::default()).await;
    let c = env.register(REDIRECT).await;
    let mut form = env
        .consent_form(&env.authorize_url(&c, &Pkce::new(), &[]))
        .await;
    form.insert("decision".into(), "approve".into());
    let r = env.browser.post_form(&env.url("/authorize"), &form).await;
    let gh = env.browser.get(&r.location.unwrap()).await;
    let callback = gh.location.unwrap();
    let r = auth_support::Browser::new().get(&callback).await;
    assert_eq!(
        (r.status.as_u16(), page_error(&r.body).as_str()),
        (400, "invalid_request")
    );
    // The pending login was single use: the right browser is now too late as well.
    let r = env.browser.get(&callback).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn confidential_client() {
    let env = Env::start(Options::default()).await;
    let r = env
        .browser
        .http
        .post(env.url("/register"))
        .json(&json!({"redirect_uris": [REDIRECT], "client_name": "Conf"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let reg: Value = r.json().await.unwrap();
    assert_eq!(reg["token_endpoint_auth_method"], "client_secret_basic");
    let c = auth_support::Client {
        client_id: reg["client_id"].as_str().unwrap().into(),
        client_secret: reg["client_secret"].as_str().map(Into::into),
        redirect_uri: REDIRECT.into(),
    };
    let pkce = Pkce::new();
    let code = env.login(&c, &pkce).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", pkce.verifier.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    let r = env
        .browser
        .http
        .post(env.url("/token"))
        .basic_auth(&c.client_id, Some("wrong"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
    let r = env
        .browser
        .http
        .post(env.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", c.client_id.as_str()),
            ("code", "x"),
            ("code_verifier", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "a confidential client must authenticate");
    let code = env.login(&c, &pkce).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", pkce.verifier.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    let r = env
        .browser
        .http
        .post(env.url("/token"))
        .basic_auth(&c.client_id, c.client_secret.as_deref())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

// ---- Forged and foreign JWTs ----

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

fn good_claims(env: &Env) -> Value {
    json!({"iss": env.base, "aud": format!("{}/mcp", env.base), "sub": "github:42", "login": "alice", "scope": "notes:read",
           "client_id": "c", "iat": now(), "exp": now() + 600, "jti": "j1"})
}

fn sign(env: &Env, claims: &Value) -> String {
    let (kid, der) = env.signing_key();
    let mut h = Header::new(Algorithm::EdDSA);
    h.kid = Some(kid);
    jsonwebtoken::encode(&h, claims, &EncodingKey::from_ed_der(&der)).unwrap()
}

async fn assert_refused(env: &Env, token: &str, what: &str) {
    let r = env.mcp("/mcp", Some(token)).await;
    assert_eq!(r.status(), 401, "{what}");
    let www = r.headers()["www-authenticate"].to_str().unwrap();
    assert!(www.contains(r#"error="invalid_token""#), "{what}: {www}");
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "invalid_token",
        "{what}"
    );
}

#[tokio::test]
async fn forged_and_foreign_jwts_are_refused() {
    let env = Env::start(Options::default()).await;
    let good = sign(&env, &good_claims(&env));
    assert_eq!(
        env.mcp("/mcp", Some(&good)).await.status(),
        200,
        "the forging helper signs like the server"
    );

    // Tampered: same signature, edited claims.
    let parts: Vec<&str> = good.split('.').collect();
    let mut edited = good_claims(&env);
    edited["login"] = json!("mallory");
    assert_refused(
        &env,
        &format!("{}.{}.{}", parts[0], b64(&edited), parts[2]),
        "tampered",
    )
    .await;

    // Expired beyond the 30 s leeway (but within it, still fine).
    let mut c = good_claims(&env);
    c["exp"] = json!(now() - 120);
    assert_refused(&env, &sign(&env, &c), "expired").await;
    c["exp"] = json!(now() - 5);
    assert_eq!(
        env.mcp("/mcp", Some(&sign(&env, &c))).await.status(),
        200,
        "within leeway"
    );

    // alg: none.
    let kid = env.signing_key().0;
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT", "kid": kid})),
        b64(&good_claims(&env))
    );
    assert_refused(&env, &none, "alg none").await;
    let none_upper = format!(
        "{}.{}.",
        b64(&json!({"alg": "None", "kid": kid})),
        b64(&good_claims(&env))
    );
    assert_refused(&env, &none_upper, "alg None").await;

    // HS256 keyed with the public key (the classic algorithm confusion).
    let jwks: Value = env.get_json("/jwks.json").await;
    let public = URL_SAFE_NO_PAD
        .decode(jwks["keys"][0]["x"].as_str().unwrap())
        .unwrap();
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some(kid.clone());
    let hs =
        jsonwebtoken::encode(&h, &good_claims(&env), &EncodingKey::from_secret(&public)).unwrap();
    assert_refused(&env, &hs, "HS256 with the public key").await;
    let hs_json = jsonwebtoken::encode(
        &h,
        &good_claims(&env),
        &EncodingKey::from_secret(jwks["keys"][0].to_string().as_bytes()),
    )
    .unwrap();
    assert_refused(&env, &hs_json, "HS256 with the JWK").await;

    // Another audience, another issuer.
    let mut c = good_claims(&env);
    c["aud"] = json!("https://other.example/mcp");
    assert_refused(&env, &sign(&env, &c), "other audience").await;
    let mut c = good_claims(&env);
    c["iss"] = json!("https://other.example");
    assert_refused(&env, &sign(&env, &c), "other issuer").await;

    // Unknown kid, and a key of our own shape that is not ours.
    let mut h = Header::new(Algorithm::EdDSA);
    h.kid = Some("someone-else".into());
    let (_, der) = env.signing_key();
    assert_refused(
        &env,
        &jsonwebtoken::encode(&h, &good_claims(&env), &EncodingKey::from_ed_der(&der)).unwrap(),
        "unknown kid",
    )
    .await;

    // A local-login subject in GitHub mode.
    let mut c = good_claims(&env);
    c["sub"] = json!("local");
    assert_refused(&env, &sign(&env, &c), "local sub in GitHub mode").await;
}

#[tokio::test]
async fn missing_scope_is_403_insufficient_scope() {
    let env = Env::start(Options::default()).await;
    let mut c = good_claims(&env);
    c["scope"] = json!("other");
    let r = env.mcp("/mcp", Some(&sign(&env, &c))).await;
    assert_eq!(r.status(), 403);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains(r#"error="insufficient_scope""#)
    );
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "insufficient_scope"
    );
}

#[tokio::test]
async fn key_rotation_reaches_a_running_server_and_keeps_old_tokens_valid() {
    let env = Env::start(Options {
        key_poll_interval: Duration::from_millis(200),
        ..Options::default()
    })
    .await;
    let (c, t) = env.tokens().await;
    let old_kid = env.signing_key().0;
    // `vaultmcp keys rotate` works on the store while the server keeps running.
    let new_kid = vaultmcp::auth::rotate_keys(env.dir.path()).unwrap();
    assert_ne!(old_kid, new_kid);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let kids = loop {
        let jwks: Value = env.get_json("/jwks.json").await;
        let kids: Vec<String> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect();
        if kids.contains(&new_kid) || std::time::Instant::now() > deadline {
            break kids;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        kids,
        vec![new_kid.clone(), old_kid.clone()],
        "the running server publishes the new key first and keeps the old one"
    );
    assert_eq!(
        env.mcp("/mcp", t["access_token"].as_str()).await.status(),
        200,
        "a token signed by the retired key still works"
    );
    let (s, t2) = env.refresh(&c, t["refresh_token"].as_str().unwrap()).await;
    assert_eq!(s, 200);
    let header = auth_support::header(t2["access_token"].as_str().unwrap());
    assert_eq!(
        header["kid"],
        new_kid.as_str(),
        "new tokens use the new key"
    );
    assert_eq!(
        env.mcp("/mcp", t2["access_token"].as_str()).await.status(),
        200
    );
}

// ---- Dev modes ----

#[tokio::test]
async fn local_login_flow() {
    let env = Env::start(Options {
        mode: AuthMode::LocalLogin,
        ..Options::default()
    })
    .await;
    let c = env.register(REDIRECT).await;
    let pkce = Pkce::new();
    let page = env.browser.get(&env.authorize_url(&c, &pkce, &[])).await;
    assert!(page.body.contains("local"));
    let code = env.login(&c, &pkce).await;
    assert!(
        env.gh.state.exchanged.lock().unwrap().is_empty(),
        "no GitHub involved"
    );
    let (s, t) = env.exchange(&c, &code, &pkce.verifier).await;
    assert_eq!(s, 200);
    assert_eq!(
        env.mcp("/mcp", t["access_token"].as_str()).await.status(),
        200
    );
    let me = auth_support::claims(t["access_token"].as_str().unwrap());
    assert_eq!(
        (me["sub"].as_str(), me["login"].as_str()),
        (Some("local"), Some("local"))
    );
}

#[tokio::test]
async fn no_auth_passes_everything() {
    let env = Env::start(Options {
        mode: AuthMode::NoAuth,
        ..Options::default()
    })
    .await;
    let r = env.mcp("/mcp", None).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.text().await.unwrap().contains("\"serverInfo\""),
        "a real MCP initialize result"
    );
}

#[tokio::test]
async fn loopback_host_guard() {
    // Dev modes answer loopback Host names only, on every route: a tunnel must never expose
    // them. (The real router's Host policy; GitHub mode also accepts the public host.)
    let env = Env::start(Options {
        mode: AuthMode::LocalLogin,
        ..Options::default()
    })
    .await;
    let http = reqwest::Client::new();
    let status = |host: &'static str| {
        let http = http.clone();
        let url = env.url("/healthz");
        async move {
            http.get(url)
                .header("host", host)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(status("localhost:8787").await, 200);
    assert_eq!(status("127.0.0.1:8787").await, 200);
    assert_eq!(status("[::1]:8787").await, 200);
    assert_eq!(status("notes.example.com").await, 403);
    assert_eq!(status("abc.trycloudflare.com").await, 403);
    assert_eq!(status("localhost.evil.com").await, 403);
}

#[tokio::test]
async fn registration_is_rate_limited() {
    let env = Env::start(Options::default()).await;
    let mut statuses = HashMap::new();
    for _ in 0..25 {
        let r = env
            .browser
            .http
            .post(env.url("/register"))
            .json(&json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}))
            .send()
            .await
            .unwrap();
        *statuses.entry(r.status().as_u16()).or_insert(0) += 1;
    }
    assert_eq!(statuses.get(&201), Some(&20));
    assert_eq!(statuses.get(&429), Some(&5));
}

// ---- Client ID Metadata Documents ----

async fn cimd_server(doc: impl Fn(&str) -> Value + Send + Sync + 'static) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let id = format!("{base}/client.json");
    let body = doc(&id);
    let app = axum::Router::new().route(
        "/client.json",
        axum::routing::get(move || async move { axum::Json(body) }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    id
}

#[tokio::test]
async fn client_id_metadata_document() {
    let env = Env::start(Options {
        allow_loopback_fetch: true,
        ..Options::default()
    })
    .await;
    let id = cimd_server(
        |id| json!({"client_id": id, "client_name": "CIMD App", "redirect_uris": [REDIRECT]}),
    )
    .await;
    let c = auth_support::Client {
        client_id: id.clone(),
        client_secret: None,
        redirect_uri: REDIRECT.into(),
    };
    let pkce = Pkce::new();
    let page = env.browser.get(&env.authorize_url(&c, &pkce, &[])).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("CIMD App"));
    let code = env.login(&c, &pkce).await;
    let (s, t) = env.exchange(&c, &code, &pkce.verifier).await;
    assert_eq!(s, 200, "{t}");

    // A document claiming another client_id is refused.
    let liar = cimd_server(
        |_| json!({"client_id": "https://someone.else/c.json", "redirect_uris": [REDIRECT]}),
    )
    .await;
    let c = auth_support::Client {
        client_id: liar,
        client_secret: None,
        redirect_uri: REDIRECT.into(),
    };
    let r = env.browser.get(&env.authorize_url(&c, &pkce, &[])).await;
    assert_eq!(
        (r.status.as_u16(), page_error(&r.body).as_str()),
        (400, "invalid_client")
    );
}

#[tokio::test]
async fn cimd_ssrf_guard_refuses_loopback() {
    let env = Env::start(Options::default()).await;
    let id = cimd_server(|id| json!({"client_id": id, "redirect_uris": [REDIRECT]})).await;
    // Plain http is refused outright; an https URL on loopback is refused by the address check.
    for client_id in [id.clone(), id.replace("http://", "https://")] {
        let c = auth_support::Client {
            client_id,
            client_secret: None,
            redirect_uri: REDIRECT.into(),
        };
        let r = env
            .browser
            .get(&env.authorize_url(&c, &Pkce::new(), &[]))
            .await;
        assert_eq!(
            (r.status.as_u16(), page_error(&r.body).as_str()),
            (400, "invalid_client"),
            "{}",
            r.body
        );
    }
    let c = auth_support::Client {
        client_id: "https://localhost/client.json".into(),
        client_secret: None,
        redirect_uri: REDIRECT.into(),
    };
    let r = env
        .browser
        .get(&env.authorize_url(&c, &Pkce::new(), &[]))
        .await;
    // One uniform sentence whatever the network said: no port-scanning oracle.
    assert!(
        r.body
            .contains("the client metadata document cannot be fetched"),
        "{}",
        r.body
    );
    assert!(!r.body.contains("loopback") && !r.body.contains("private"));
}

// ---- GitHub failures ----

#[tokio::test]
async fn github_token_errors_sent_with_http_200_are_reported() {
    let mut env = Env::start(Options::default()).await;
    let mut s = env.settings.clone();
    s.github.client_secret = Some("not-the-secret".into());
    env.restart_with(s).await;
    let c = env.register(REDIRECT).await;
    let back = env.approve(&env.authorize_url(&c, &Pkce::new(), &[])).await;
    let q = query(&back);
    assert_eq!(q["error"], "server_error");
    assert!(
        q["error_description"].contains("incorrect_client_credentials"),
        "{q:?}"
    );
    assert_eq!(q["state"], "st4te");
}

#[tokio::test]
async fn github_login_cancelled() {
    let env = Env::start(Options::default()).await;
    let c = env.register(REDIRECT).await;
    let mut form = env
        .consent_form(&env.authorize_url(&c, &Pkce::new(), &[]))
        .await;
    form.insert("decision".into(), "approve".into());
    let r = env.browser.post_form(&env.url("/authorize"), &form).await;
    let to_github = url::Url::parse(&r.location.unwrap()).unwrap();
    let gq = query(&to_github);
    assert_eq!(
        gq["code_challenge_method"], "S256",
        "we use PKCE with GitHub too"
    );
    assert_eq!(gq["redirect_uri"], env.url("/oauth/github/callback"));
    // GitHub sends the person back with error=access_denied when they cancel.
    let cancel = format!(
        "{}/oauth/github/callback?error=access_denied&state={}",
        env.base, gq["state"]
    );
    let r = env.browser.get(&cancel).await;
    assert_eq!(r.status, 302);
    let q = query(&url::Url::parse(&r.location.unwrap()).unwrap());
    assert_eq!(
        (q["error"].as_str(), q["state"].as_str()),
        ("access_denied", "st4te")
    );
}

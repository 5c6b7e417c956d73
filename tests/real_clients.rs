//! ChatGPT and Claude as they really behave (issue 8), emulated faithfully through the real
//! router: their metadata documents, their signatures, their missing parameters.
//!
//! - ChatGPT identifies itself with a Client ID Metadata Document that declares
//!   `private_key_jwt`, and authenticates every token request with an RS256 client assertion
//!   (RFC 7523) signed with the key at its `jwks_uri`.
//! - Claude uses a metadata document with `none`, two callback hosts, and (Claude Code) sends
//!   no `resource` anywhere.

mod auth_support;

use std::time::Duration;

use auth_support::chatgpt::{self, CONNECTOR_REDIRECT, ChatGpt, LOGO_URI, PLATFORM_REDIRECT};
use auth_support::documents::{Answer, DocHost};
use auth_support::{Env, Options, Pkce, claims, query};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

fn options() -> Options {
    Options {
        allow_loopback_fetch: true,
        ..Options::default()
    }
}

fn client(client_id: &str, redirect_uri: &str) -> auth_support::Client {
    auth_support::Client {
        client_id: client_id.to_owned(),
        client_secret: None,
        redirect_uri: redirect_uri.to_owned(),
    }
}

/// The token request ChatGPT sends for a code: the assertion, no secret.
fn code_form<'a>(
    c: &'a auth_support::Client,
    code: &'a str,
    verifier: &'a str,
    resource: &'a str,
    assertion: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", &c.redirect_uri),
        ("client_id", &c.client_id),
        ("code_verifier", verifier),
        ("resource", resource),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", assertion),
    ]
}

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn assert_invalid_client(what: &str, (status, body): (u16, Value)) {
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{what}: {body}"
    );
}

/// Signs `claims` with a key nobody published, under the emulator's kid.
fn forged(kid: &str, claims: &Value) -> String {
    let key = chatgpt::SigningKey {
        kid: kid.into(),
        private: chatgpt::rsa_key(2),
    };
    let mut h = Header::new(Algorithm::RS256);
    h.kid = Some(kid.into());
    jsonwebtoken::encode(&h, claims, &key.encoding()).unwrap()
}

fn b64(v: &Value) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

#[tokio::test]
async fn chatgpt_connector_signs_in_with_private_key_jwt() {
    let env = Env::start(options()).await;
    let gpt = ChatGpt::start().await;
    let c = client(&gpt.connector_client_id(), CONNECTOR_REDIRECT);
    let token_endpoint = env.url("/token");
    let resource = env.url("/mcp");

    // The consent page names the client as its document does and the redirect host, and never
    // loads the remote logo.
    let pkce = Pkce::new();
    let page = env.browser.get(&env.authorize_url(&c, &pkce, &[])).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains(r#"<strong id="client-name">ChatGPT</strong>"#),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(r#"<strong id="redirect-host">chatgpt.com</strong>"#)
    );
    assert!(!page.body.contains(LOGO_URI) && !page.body.contains("<img"));
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");

    let code = env.login(&c, &pkce).await;

    // Each bad assertion is invalid_client and leaves the code unspent.
    let good = ChatGpt::claims(&c.client_id, &token_endpoint);
    let with = |f: &dyn Fn(&mut Value)| {
        let mut v = good.clone();
        f(&mut v);
        v
    };
    let now = chrono::Utc::now().timestamp();
    let hs256 = {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some("chatgpt-2026-1".into());
        jsonwebtoken::encode(&h, &good, &EncodingKey::from_secret(b"public modulus")).unwrap()
    };
    let alg_none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&good)
    );
    let bad: Vec<(&str, String)> = vec![
        ("malformed", "not-a-jwt".into()),
        ("alg none", alg_none),
        ("HS256", hs256),
        ("forged signature", forged("chatgpt-2026-1", &good)),
        ("unknown kid", forged("made-up-kid", &good)),
        (
            "expired",
            gpt.sign(&with(&|v| {
                v["iat"] = json!(now - 900);
                v["exp"] = json!(now - 600);
            })),
        ),
        (
            "no exp",
            gpt.sign(&with(&|v| {
                v.as_object_mut().unwrap().remove("exp");
            })),
        ),
        (
            "lives too long",
            gpt.sign(&with(&|v| v["exp"] = json!(now + 3600))),
        ),
        (
            "wrong audience",
            gpt.sign(&with(&|v| {
                v["aud"] = json!("https://elsewhere.example/token")
            })),
        ),
        (
            "audience of the resource",
            gpt.sign(&with(&|v| v["aud"] = json!(resource.clone()))),
        ),
        (
            "iss is another client",
            gpt.sign(&with(&|v| v["iss"] = json!(gpt.platform_client_id()))),
        ),
        (
            "sub is not the client",
            gpt.sign(&with(&|v| v["sub"] = json!("someone"))),
        ),
        (
            "no jti",
            gpt.sign(&with(&|v| {
                v.as_object_mut().unwrap().remove("jti");
            })),
        ),
        (
            "not yet valid",
            gpt.sign(&with(&|v| v["nbf"] = json!(now + 600))),
        ),
    ];
    for (what, a) in &bad {
        assert_invalid_client(
            what,
            env.token(&code_form(&c, &code, &pkce.verifier, &resource, a))
                .await,
        );
    }
    // No assertion at all, from a client whose document declares private_key_jwt.
    assert_invalid_client(
        "missing assertion",
        env.exchange(&c, &code, &pkce.verifier).await,
    );
    // The assertion type without the assertion, or another type.
    let fresh = gpt.assertion(&c.client_id, &token_endpoint);
    let mut form = code_form(&c, &code, &pkce.verifier, &resource, &fresh);
    form.retain(|(k, _)| *k != "client_assertion");
    assert_invalid_client("type without assertion", env.token(&form).await);
    let mut form = code_form(&c, &code, &pkce.verifier, &resource, &fresh);
    form.retain(|(k, _)| *k != "client_assertion_type");
    form.push((
        "client_assertion_type",
        "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
    ));
    assert_invalid_client("wrong assertion type", env.token(&form).await);
    // An assertion together with another credential.
    let mut form = code_form(&c, &code, &pkce.verifier, &resource, &fresh);
    form.push(("client_secret", "guess"));
    assert_invalid_client("assertion and client_secret", env.token(&form).await);
    let r = env
        .browser
        .http
        .post(&token_endpoint)
        .basic_auth(&c.client_id, Some("guess"))
        .form(&code_form(&c, &code, &pkce.verifier, &resource, &fresh))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_client", "assertion and Basic: {v}");
    // A replayed assertion: spent once at /revoke, then refused at /token.
    let spent = gpt.assertion(&c.client_id, &token_endpoint);
    let r = env
        .browser
        .http
        .post(env.url("/revoke"))
        .form(&[
            ("token", "not-a-token"),
            ("client_id", c.client_id.as_str()),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", spent.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "revoke authenticates with the assertion");
    assert_invalid_client(
        "replayed assertion",
        env.token(&code_form(&c, &code, &pkce.verifier, &resource, &spent))
            .await,
    );

    // The code is still good: ChatGPT's real exchange.
    let (status, t) = env
        .token(&code_form(&c, &code, &pkce.verifier, &resource, &fresh))
        .await;
    assert_eq!(status, 200, "{t}");
    let access = t["access_token"].as_str().unwrap();
    let cl = claims(access);
    assert_eq!(cl["client_id"], c.client_id.as_str());
    assert_eq!(cl["aud"], resource.as_str());

    // search and fetch with the token.
    let found = env
        .mcp_tool(access, "search", json!({"query": "docker"}))
        .await;
    let results: Value =
        serde_json::from_str(found["content"][0]["text"].as_str().unwrap()).unwrap();
    let first = results["results"][0]["id"]
        .as_str()
        .expect("a hit")
        .to_owned();
    let note = env.mcp_tool(access, "fetch", json!({"id": first})).await;
    assert_eq!(note["structuredContent"]["id"], first.as_str());

    // A refresh with a new assertion; the old one is spent.
    let rt = t["refresh_token"].as_str().unwrap();
    let e = &env;
    let refresh = |a: String| {
        let rt = rt.to_owned();
        let cid = c.client_id.clone();
        async move {
            e.token(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", &rt),
                ("client_id", &cid),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", &a),
            ])
            .await
        }
    };
    assert_invalid_client(
        "refresh with a spent assertion",
        refresh(fresh.clone()).await,
    );
    assert_invalid_client("refresh without an assertion", env.refresh(&c, rt).await);
    let (status, t2) = refresh(gpt.assertion(&c.client_id, &token_endpoint)).await;
    assert_eq!(status, 200, "{t2}");
    assert_ne!(t2["refresh_token"], t["refresh_token"]);
    // The issuer identifier is an accepted audience too.
    let rt2 = t2["refresh_token"].as_str().unwrap().to_owned();
    let mut issuer_aud = ChatGpt::claims(&c.client_id, &token_endpoint);
    issuer_aud["aud"] = json!(env.base.clone());
    let (status, t3) = env
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt2),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &gpt.sign(&issuer_aud)),
        ])
        .await;
    assert_eq!(status, 200, "aud = issuer, client_id left out: {t3}");

    // The document and the key set were each fetched once and then served from the cache.
    assert_eq!(gpt.document_fetches(), 1);
    assert_eq!(gpt.jwks_fetches(), 1);
}

#[tokio::test]
async fn chatgpt_platform_document_still_sends_an_assertion() {
    let env = Env::start(options()).await;
    let gpt = ChatGpt::start().await;
    let c = client(&gpt.platform_client_id(), PLATFORM_REDIRECT);
    let token_endpoint = env.url("/token");
    let resource = env.url("/mcp");
    let pkce = Pkce::new();
    let code = env.login(&c, &pkce).await;
    // `none` is listed, but an assertion that is presented must verify.
    let forged = forged(
        "chatgpt-2026-1",
        &ChatGpt::claims(&c.client_id, &token_endpoint),
    );
    assert_invalid_client(
        "forged assertion from a client that also lists none",
        env.token(&code_form(&c, &code, &pkce.verifier, &resource, &forged))
            .await,
    );
    let a = gpt.assertion(&c.client_id, &token_endpoint);
    let (status, t) = env
        .token(&code_form(&c, &code, &pkce.verifier, &resource, &a))
        .await;
    assert_eq!(status, 200, "{t}");
    // Listed beside private_key_jwt, none works as for any public client with PKCE.
    let pkce = Pkce::new();
    let code = env.login(&c, &pkce).await;
    let (status, t) = env.exchange(&c, &code, &pkce.verifier).await;
    assert_eq!(status, 200, "{t}");
}

#[tokio::test]
async fn chatgpt_key_rotation_refetches_once_not_in_a_loop() {
    let env = Env::start(Options {
        client_key_refetch: Duration::from_secs(2),
        ..options()
    })
    .await;
    let gpt = ChatGpt::start().await;
    // Make the RSA keys first: generating them takes longer than the refetch interval.
    chatgpt::rsa_key(2);
    let c = client(&gpt.connector_client_id(), CONNECTOR_REDIRECT);
    let token_endpoint = env.url("/token");
    let revoke = |a: String| {
        let url = env.url("/revoke");
        let http = env.browser.http.clone();
        async move {
            http.post(url)
                .form(&[
                    ("token", "x"),
                    ("client_assertion_type", JWT_BEARER),
                    ("client_assertion", &a),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        revoke(gpt.assertion(&c.client_id, &token_endpoint)).await,
        200
    );
    assert_eq!(gpt.jwks_fetches(), 1);
    // Made-up key ids right after a fetch: refused, and no fetch at all.
    for i in 0..5 {
        let a = forged(
            &format!("nope-{i}"),
            &ChatGpt::claims(&c.client_id, &token_endpoint),
        );
        assert_eq!(revoke(a).await, 401);
    }
    assert_eq!(
        gpt.jwks_fetches(),
        1,
        "unknown kids must not trigger fetches"
    );
    // ChatGPT rotates its key; once the refetch interval has passed, the new kid is fetched once.
    gpt.rotate("chatgpt-2026-2", 1);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        revoke(gpt.assertion(&c.client_id, &token_endpoint)).await,
        200
    );
    assert_eq!(gpt.jwks_fetches(), 2);
    assert_eq!(
        revoke(gpt.assertion(&c.client_id, &token_endpoint)).await,
        200
    );
    assert_eq!(gpt.jwks_fetches(), 2, "the new key is cached");
    let pkce = Pkce::new();
    let code = env.login(&c, &pkce).await;
    let a = gpt.assertion(&c.client_id, &token_endpoint);
    let (status, t) = env
        .token(&code_form(&c, &code, &pkce.verifier, &env.url("/mcp"), &a))
        .await;
    assert_eq!(status, 200, "{t}");
}

#[tokio::test]
async fn spent_assertions_stay_spent_after_a_restart() {
    let mut env = Env::start(options()).await;
    let gpt = ChatGpt::start().await;
    let c = client(&gpt.connector_client_id(), CONNECTOR_REDIRECT);
    let a = gpt.assertion(&c.client_id, &env.url("/token"));
    let revoke = |env: &Env, a: &str| {
        let req = env.browser.http.post(env.url("/revoke")).form(&[
            ("token", "x"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", a),
        ]);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(revoke(&env, &a).await, 200);
    env.restart().await;
    assert_eq!(
        revoke(&env, &a).await,
        401,
        "the jti is remembered in the store"
    );
}

/// Claude's metadata document (`none`, both callback hosts), served on loopback.
async fn claude_document_server(host: &DocHost) -> String {
    let id = format!("{}/oauth/claude/client.json", host.base);
    let doc = json!({
        "client_id": id, "client_name": "Claude", "client_uri": "https://claude.ai",
        "redirect_uris": ["https://claude.ai/api/mcp/auth_callback", "https://claude.com/api/mcp/auth_callback"],
        "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
        "token_endpoint_auth_method": "none"
    });
    host.serve("/oauth/claude/client.json", Answer::Json(doc));
    id
}

#[tokio::test]
async fn claude_metadata_document_without_resource_on_both_hosts() {
    let env = Env::start(options()).await;
    // Claude only uses a document when the metadata says it may and lists `none`.
    let meta = env
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(meta["client_id_metadata_document_supported"], true);
    let methods = meta["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap();
    assert!(methods.contains(&json!("none")) && methods.contains(&json!("private_key_jwt")));

    let host = DocHost::start().await;
    let id = claude_document_server(&host).await;
    for host in ["claude.ai", "claude.com"] {
        let c = client(&id, &format!("https://{host}/api/mcp/auth_callback"));
        let pkce = Pkce::new();
        // Claude Code sends no `resource`, neither here nor at /token.
        let url = env.authorize_url(&c, &pkce, &[("resource", "")]);
        assert!(!url.contains("resource="), "{url}");
        let form = env.consent_form(&url).await;
        assert_eq!(form.get("client_id"), Some(&id));
        let page = env.browser.get(&url).await;
        assert!(
            page.body
                .contains(&format!(r#"<strong id="redirect-host">{host}</strong>"#))
        );
        let back = env.approve(&url).await;
        assert_eq!(back.host_str(), Some(host));
        let q = query(&back);
        let code = q.get("code").expect("a code");
        let (status, t) = env
            .token(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &c.redirect_uri),
                ("client_id", &c.client_id),
                ("code_verifier", &pkce.verifier),
            ])
            .await;
        assert_eq!(status, 200, "{t}");
        let access = t["access_token"].as_str().unwrap();
        assert_eq!(claims(access)["aud"], env.url("/mcp").as_str());
        let found = env
            .mcp_tool(access, "search", json!({"query": "docker"}))
            .await;
        assert_eq!(found["isError"], false, "{found}");
        let (status, t) = env.refresh(&c, t["refresh_token"].as_str().unwrap()).await;
        assert_eq!(status, 200, "{t}");
    }
    // A client id the server does not know at /token: 401 invalid_client, so Claude
    // re-registers.
    let (status, body) = env
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("client_id", "forgotten-registration"),
            ("code_verifier", &Pkce::new().verifier),
        ])
        .await;
    assert_invalid_client("unknown client", (status, body));
}

#[tokio::test]
async fn metadata_advertises_private_key_jwt_and_its_algorithms() {
    let env = Env::start(Options::default()).await;
    let meta = env.get_json("/.well-known/openid-configuration").await;
    for key in [
        "token_endpoint_auth_methods_supported",
        "revocation_endpoint_auth_methods_supported",
    ] {
        assert!(
            meta[key]
                .as_array()
                .unwrap()
                .contains(&json!("private_key_jwt")),
            "{key}: {meta}"
        );
    }
    for key in [
        "token_endpoint_auth_signing_alg_values_supported",
        "revocation_endpoint_auth_signing_alg_values_supported",
    ] {
        assert_eq!(
            meta[key],
            json!(["RS256", "PS256", "ES256", "EdDSA"]),
            "{key}"
        );
    }
}

#[tokio::test]
async fn documents_are_not_fetched_from_loopback_without_the_switch() {
    let env = Env::start(Options::default()).await;
    let gpt = ChatGpt::start().await;
    let c = client(&gpt.connector_client_id(), CONNECTOR_REDIRECT);
    let page = env
        .browser
        .get(&env.authorize_url(&c, &Pkce::new(), &[]))
        .await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert_eq!(auth_support::page_error(&page.body), "invalid_client");
    assert_eq!(gpt.document_fetches(), 0);
}

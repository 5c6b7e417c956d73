//! The MCP routes' bearer check (RFC 6750, RFC 8725): key-id tricks, keys smuggled in the
//! header, tokens that are not ours or not access tokens, tokens outside the header, a session
//! id without its token.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signer as _;
use jsonwebtoken::{Algorithm, Header};
use serde_json::{Value, json};

use crate::auth_support::documents::{Answer, DocHost};
use crate::auth_support::{Env, Options, Pkce, assert_refused, query};

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

/// A JWS over `header` and `claims` signed by a key that is not the server's.
fn signed_by_stranger(header: &Value, claims: &Value) -> String {
    let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let input = format!("{}.{}", b64(header), b64(claims));
    let sig = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

fn stranger_jwk(kid: &str) -> Value {
    let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    json!({"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "kid": kid,
           "x": URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes())})
}

#[tokio::test]
async fn path_like_and_injected_kids_are_unknown_keys() {
    // Signed with the server's real key, so only the kid lookup can refuse them.
    let env = Env::start(Options::default()).await;
    let real = env.signing_key().0;
    for kid in [
        "../../../../etc/passwd".to_owned(),
        "/dev/null".to_owned(),
        "..\\..\\auth.sqlite3".to_owned(),
        format!("{real}/../{real}"),
        format!("../{real}"),
        "' OR '1'='1".to_owned(),
        format!("{real}' OR '1'='1"),
        "\u{0}".to_owned(),
        String::new(),
        real.to_uppercase(),
        format!(" {real}"),
    ] {
        let mut h = Header::new(Algorithm::EdDSA);
        h.kid = Some(kid.clone());
        assert_refused(
            &env,
            &env.sign_with(h, &env.good_claims()),
            &format!("kid {kid:?}"),
        )
        .await;
    }
    let good = env.sign_with(Header::new(Algorithm::EdDSA), &env.good_claims());
    assert_eq!(
        env.mcp("/mcp", Some(&good)).await.status(),
        200,
        "the same token with the real kid"
    );
}

#[tokio::test]
async fn token_without_a_kid_is_refused() {
    let env = Env::start(Options::default()).await;
    let (_, der) = env.signing_key();
    let t = jsonwebtoken::encode(
        &Header::new(Algorithm::EdDSA),
        &env.good_claims(),
        &jsonwebtoken::EncodingKey::from_ed_der(&der),
    )
    .unwrap();
    assert_refused(&env, &t, "no kid").await;
}

#[tokio::test]
async fn keys_carried_in_the_header_are_never_trusted() {
    // RFC 8725 §3.10 and the CVE-2018-0114 class: jwk, jku and x5u name the attacker's key.
    let env = Env::start(Options::default()).await;
    let host = DocHost::start().await;
    let jku = host.serve(
        "/jwks.json",
        Answer::Json(json!({"keys": [stranger_jwk("evil")]})),
    );
    let real = env.signing_key().0;
    for header in [
        json!({"alg": "EdDSA", "kid": "evil", "jwk": stranger_jwk("evil")}),
        json!({"alg": "EdDSA", "kid": real, "jwk": stranger_jwk(&real)}),
        json!({"alg": "EdDSA", "jwk": stranger_jwk("evil")}),
        json!({"alg": "EdDSA", "kid": "evil", "jku": jku}),
        json!({"alg": "EdDSA", "kid": real, "jku": jku}),
        json!({"alg": "EdDSA", "kid": "evil", "x5u": jku}),
    ] {
        let t = signed_by_stranger(&header, &env.good_claims());
        assert_refused(&env, &t, &header.to_string()).await;
    }
    assert_eq!(host.connections(), 0, "jku/x5u were never fetched");
}

#[tokio::test]
async fn raw_github_token_is_refused() {
    let env = Env::start(Options::default()).await;
    let gho = env.gh.access_token().await;
    assert!(gho.starts_with("gho_"));
    assert_refused(&env, &gho, "a GitHub access token").await;
}

#[tokio::test]
async fn our_other_secrets_are_not_access_tokens() {
    let env = Env::start(Options::default()).await;
    let (s, conf) = env
        .register_raw(&json!({"redirect_uris": [crate::REDIRECT]}))
        .await;
    assert_eq!(s, 201);
    let (c, t) = env.tokens().await;
    let back = env.approve(&env.authorize_url(&c, &Pkce::new(), &[])).await;
    let code = query(&back)["code"].clone();
    for (what, token) in [
        ("refresh token", t["refresh_token"].as_str().unwrap()),
        ("authorization code", code.as_str()),
        ("client secret", conf["client_secret"].as_str().unwrap()),
        ("client id", c.client_id.as_str()),
    ] {
        assert_refused(&env, token, what).await;
    }
}

#[tokio::test]
async fn token_without_exp_is_refused() {
    // A token that never expires must not exist; were one minted, it is still refused.
    let env = Env::start(Options::default()).await;
    for claim in ["exp", "iss", "aud", "sub"] {
        let mut c = env.good_claims();
        c.as_object_mut().unwrap().remove(claim);
        assert_refused(
            &env,
            &env.sign_with(Header::new(Algorithm::EdDSA), &c),
            &format!("no {claim}"),
        )
        .await;
    }
}

#[tokio::test]
async fn access_token_outside_the_authorization_header_is_ignored() {
    // bearer_methods_supported is ["header"]; RFC 9700 §4.3.2 forbids tokens in the query.
    let env = Env::start(Options::default()).await;
    let (_, t) = env.tokens().await;
    let at = t["access_token"].as_str().unwrap();
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "x", "version": "1"}}});
    let requests = [
        env.browser
            .http
            .post(env.url(&format!("/mcp?access_token={at}")))
            .json(&init),
        env.browser
            .http
            .post(env.url("/mcp"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("access_token={at}")),
        env.browser
            .http
            .post(env.url("/mcp"))
            .header("cookie", format!("access_token={at}"))
            .json(&init),
        env.browser
            .http
            .post(env.url("/mcp"))
            .header("authorization", format!("token {at}"))
            .json(&init),
    ];
    for (i, req) in requests.into_iter().enumerate() {
        let r = req
            .header("accept", "application/json, text/event-stream")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "request {i}");
        assert_eq!(
            r.json::<Value>().await.unwrap()["error"],
            "invalid_token",
            "request {i}"
        );
    }
}

#[tokio::test]
async fn session_id_without_its_token_is_refused() {
    let env = Env::start(Options::default()).await;
    let (_, t) = env.tokens().await;
    let init = env.mcp("/mcp", t["access_token"].as_str()).await;
    assert_eq!(init.status(), 200);
    let session = init.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let mut expired = env.good_claims();
    expired["exp"] = json!(chrono::Utc::now().timestamp() - 3600);
    let expired = env.sign_with(Header::new(Algorithm::EdDSA), &expired);
    for token in [None, Some("garbage"), Some(expired.as_str())] {
        let mut req = env
            .browser
            .http
            .post(env.url("/mcp"))
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", &session)
            .header("mcp-protocol-version", "2025-06-18")
            .json(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 401, "{token:?}");
        assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_token");
    }
}

#[tokio::test]
async fn algorithm_swaps_in_the_header_are_refused() {
    // RFC 8725 §3.1: the algorithm is ours to choose, never the token's. A real token of ours
    // with only the header's alg changed (the signature kept).
    let env = Env::start(Options::default()).await;
    let good = env.sign_with(Header::new(Algorithm::EdDSA), &env.good_claims());
    assert_eq!(env.mcp("/mcp", Some(&good)).await.status(), 200);
    let parts: Vec<&str> = good.split('.').collect();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    for alg in [
        "ES256", "RS256", "PS256", "HS256", "HS512", "nOnE", "NONE", "eddsa", "Ed25519", "",
    ] {
        let mut h = header.clone();
        h["alg"] = json!(alg);
        let t = format!("{}.{}.{}", b64(&h), parts[1], parts[2]);
        assert_refused(&env, &t, &format!("alg {alg:?}")).await;
    }
    // And two headers' worth of JSON, or a header that is not an object.
    for h in ["[]", "\"EdDSA\"", "{\"alg\":\"EdDSA\",\"alg\":\"none\"}"] {
        let t = format!("{}.{}.{}", URL_SAFE_NO_PAD.encode(h), parts[1], parts[2]);
        assert_refused(&env, &t, h).await;
    }
}

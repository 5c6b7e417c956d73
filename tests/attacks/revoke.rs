//! `POST /revoke` (RFC 7009): garbage is fine, the client must identify itself, the type hint
//! is only a hint.

use crate::auth_support::{Env, Options};
use crate::{REDIRECT, assert_oauth};

async fn revoke_form(env: &Env, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let r = env
        .browser
        .http
        .post(env.url("/revoke"))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    assert_eq!(r.headers()["cache-control"], "no-store");
    (status, r.json().await.unwrap_or(serde_json::Value::Null))
}

#[tokio::test]
async fn revoking_garbage_is_200() {
    // RFC 7009 §2.2: an invalid token is answered 200, so /revoke tells nobody what exists.
    let env = Env::start(Options::default()).await;
    let c = env.register(REDIRECT).await;
    // One of our own access tokens, but long expired.
    let mut old = env.good_claims();
    old["client_id"] = serde_json::json!(c.client_id);
    old["exp"] = serde_json::json!(chrono::Utc::now().timestamp() - 3600);
    let expired = env.sign_with(
        jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA),
        &old,
    );
    for token in [
        "not-a-token",
        "a.b.c",
        "eyJhbGciOiJub25lIn0.e30.",
        "",
        &"A".repeat(4000),
        "' OR 1=1 --",
        expired.as_str(),
    ] {
        for hint in [
            None,
            Some("access_token"),
            Some("refresh_token"),
            Some("made_up"),
        ] {
            let mut form = vec![("token", token), ("client_id", c.client_id.as_str())];
            form.extend(hint.map(|h| ("token_type_hint", h)));
            let (s, body) = revoke_form(&env, &form).await;
            assert_eq!(s, 200, "{token:.20} {hint:?}: {body}");
        }
    }
}

#[tokio::test]
async fn revoke_without_a_token_or_a_client_is_refused() {
    let env = Env::start(Options::default()).await;
    let (c, t) = env.tokens().await;
    let rt = t["refresh_token"].as_str().unwrap();
    assert_oauth(
        revoke_form(&env, &[("client_id", &c.client_id)]).await,
        400,
        "invalid_request",
        "no token",
    );
    // RFC 7009 §2.1: the client authenticates (or, public, identifies itself).
    assert_oauth(
        revoke_form(&env, &[("token", rt)]).await,
        401,
        "invalid_client",
        "no client_id",
    );
    assert_oauth(
        revoke_form(&env, &[("token", rt), ("client_id", "no-such-client")]).await,
        401,
        "invalid_client",
        "unknown client",
    );
    // None of that revoked anything.
    assert_eq!(env.refresh(&c, rt).await.0, 200);
}

#[tokio::test]
async fn a_wrong_token_type_hint_still_revokes() {
    // RFC 7009 §2.1: a hint that does not fit makes the server look further, not give up.
    let env = Env::start(Options::default()).await;
    let (c, t) = env.tokens().await;
    let (rt, at) = (
        t["refresh_token"].as_str().unwrap(),
        t["access_token"].as_str().unwrap(),
    );
    let (_, t2) = env.tokens().await;
    let at2 = t2["access_token"].as_str().unwrap();
    assert_eq!(
        revoke_form(
            &env,
            &[
                ("token", rt),
                ("token_type_hint", "access_token"),
                ("client_id", &c.client_id)
            ]
        )
        .await
        .0,
        200
    );
    assert_oauth(
        env.refresh(&c, rt).await,
        400,
        "invalid_grant",
        "refresh revoked under the access_token hint",
    );
    assert_eq!(
        revoke_form(
            &env,
            &[
                ("token", at),
                ("token_type_hint", "refresh_token"),
                ("client_id", &c.client_id)
            ]
        )
        .await
        .0,
        200
    );
    let r = env.mcp("/mcp", Some(at)).await;
    assert_eq!(
        r.status(),
        401,
        "access token revoked under the refresh_token hint"
    );
    // The other grant's access token is untouched.
    assert_eq!(env.mcp("/mcp", Some(at2)).await.status(), 200);
}

#[tokio::test]
async fn a_client_cannot_revoke_a_personal_access_token() {
    // A personal token belongs to the person, not to any OAuth client: /revoke treats it as a
    // token it does not know (200, RFC 7009 §2.2) and it keeps working.
    let env = Env::start(Options::default()).await;
    let created = vaultmcp::auth::admin::create_token(env.dir.path(), "script", None).unwrap();
    env.auth.reload_revocations().await.unwrap();
    let c = env.register(REDIRECT).await;
    for hint in [None, Some("access_token"), Some("refresh_token")] {
        let mut form = vec![
            ("token", created.token.as_str()),
            ("client_id", c.client_id.as_str()),
        ];
        form.extend(hint.map(|h| ("token_type_hint", h)));
        assert_eq!(revoke_form(&env, &form).await.0, 200, "{hint:?}");
    }
    assert_eq!(env.mcp("/mcp", Some(&created.token)).await.status(), 200);
}

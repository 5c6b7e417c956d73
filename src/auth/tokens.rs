//! `/token`, `/revoke`, authorization codes, refresh-token families and our access-token JWTs.
//!
//! A grant is one approval of one client by one person; its refresh tokens form a family. Each
//! refresh rotates the token; presenting an already-rotated token means it leaked, so the whole
//! grant is revoked. Refreshing re-checks the allow-list (the grant remembers the GitHub id and
//! login), so removing someone from it cuts them off within one access-token lifetime.
//!
//! Access tokens are EdDSA JWTs with `kid`: `iss`, `aud` (the requested resource), `sub`
//! (`github:<id>` or `local`), `login`, `scope`, `client_id`, `iat`, `exp`, `jti`.

use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Header, Validation};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::clients::{Client, authenticate, touch};
use super::errors::{OAuthError, no_store};
use super::ratelimit::Endpoint;
use super::request::{AuthzRequest, Identity};
use super::store::{audit, grants, now, now_ms};
use super::web::parse_params;
use super::{Auth, AuthMode, random_token, sha256_hex};

/// Clock skew allowed when checking `exp`.
pub const LEEWAY_SECS: u64 = 30;
/// A token signed by a key we do not know sends us to the store at most this often.
const UNKNOWN_KEY_RECHECK: Duration = Duration::from_secs(5);

/// The claims of our access tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub login: String,
    pub scope: String,
    pub client_id: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// The grant the token was minted from: revoking the grant refuses the token at once.
    /// (Absent in tokens minted before this claim existed.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<String>,
}

/// Stores a single-use authorization code for an approved request; returns the code.
pub async fn issue_code(auth: &Auth, req: &AuthzRequest, who: &Identity) -> anyhow::Result<String> {
    let code = random_token();
    let hash = sha256_hex(&code);
    let ttl_ms = i64::try_from(auth.settings().code_ttl.as_millis()).unwrap_or(60_000);
    let (req, who) = (req.clone(), who.clone());
    auth.inner
        .store
        .call(move |c| {
            c.execute(
                "INSERT INTO codes (code_hash, client_id, redirect_uri, code_challenge, resource, scope, sub, login, github_id, expires_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![hash, req.client_id, req.redirect_uri, req.code_challenge, req.resource, req.scope, who.sub, who.login, who.github_id.map(|i| i as i64), now_ms() + ttl_ms],
            )?;
            Ok(())
        })
        .await?;
    Ok(code)
}

/// What a successful grant yields before the JWT is minted.
struct Issued {
    sub: String,
    login: String,
    scope: String,
    aud: String,
    client_id: String,
    refresh_token: String,
    grant_id: String,
}

/// A grant decision's outcome, and the grant it revoked on the way (a replayed code, a reused
/// refresh token, an account no longer allowed), which must be refused in memory too.
type Decided = (Result<Issued, OAuthError>, Option<String>);

/// The optional `resource` of a token request (RFC 8707), which must name this server.
fn form_resource(
    auth: &Auth,
    form: &HashMap<String, String>,
) -> Result<Option<String>, OAuthError> {
    form.get("resource")
        .map(|r| {
            auth.check_resource(Some(r))
                .ok_or_else(|| OAuthError::invalid_target("resource must be this server's MCP URL"))
        })
        .transpose()
}

/// `POST /token`.
pub async fn token(
    State(auth): State<Auth>,
    connect: super::ratelimit::Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    if !auth.allow(Endpoint::Token, &headers, &connect) {
        return Err(OAuthError::rate_limited());
    }
    let form = form_body(&headers, &body)?;
    let client = authenticate(&auth, &headers, &form).await?;
    let (issued, revoked) = match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => authorization_code(&auth, &client, &form).await?,
        Some("refresh_token") => refresh(&auth, &client, &form).await?,
        Some(g) => {
            return Err(OAuthError::unsupported_grant_type(format!(
                "grant_type {g} is not supported"
            )));
        }
        None => return Err(OAuthError::invalid_request("grant_type is missing")),
    };
    if let Some(g) = revoked {
        auth.note_revoked_grants(std::slice::from_ref(&g));
    }
    let issued = issued?;
    touch(&auth, &client.client_id).await;
    let ttl = auth.settings().access_token_ttl;
    let access_token = mint(&auth, &issued, ttl).await?;
    let mut resp = Json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": ttl.as_secs(),
        "refresh_token": issued.refresh_token,
        "scope": issued.scope,
    }))
    .into_response();
    no_store(resp.headers_mut());
    Ok(resp)
}

/// Reads an `application/x-www-form-urlencoded` body.
fn form_body(headers: &HeaderMap, body: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !ct
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    parse_params(body).map_err(OAuthError::invalid_request)
}

fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn same_resource(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

async fn authorization_code(
    auth: &Auth,
    client: &Client,
    form: &HashMap<String, String>,
) -> Result<Decided, OAuthError> {
    let code = form
        .get("code")
        .cloned()
        .ok_or_else(|| OAuthError::invalid_request("code is missing"))?;
    let verifier = form.get("code_verifier").cloned().ok_or_else(|| {
        OAuthError::invalid_request("code_verifier is missing (PKCE is required)")
    })?;
    let resource = form_resource(auth, form)?;
    let redirect_uri = form.get("redirect_uri").cloned();
    let client_id = client.client_id.clone();
    let hash = sha256_hex(&code);
    let refresh_token = random_token();
    let refresh_hash = sha256_hex(&refresh_token);
    let refresh_ttl = auth.settings().refresh_token_ttl.as_secs() as i64;
    let decided = auth.inner
        .store
        .call(move |c| {
            let tx = c.transaction()?;
            type Row = (String, String, String, String, String, String, String, Option<i64>, i64, i64, Option<String>);
            let row: Option<Row> = tx
                .query_row(
                    "SELECT client_id, redirect_uri, code_challenge, resource, scope, sub, login, github_id, expires_at_ms, used, grant_id FROM codes WHERE code_hash = ?1",
                    [&hash],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?, r.get(10)?)),
                )
                .optional()?;
            let Some((code_client, code_redirect, challenge, code_resource, scope, sub, login, github_id, expires_at_ms, used, grant_id)) = row else {
                return Ok((Err(OAuthError::invalid_grant("the authorization code is unknown")), None));
            };
            if used != 0 {
                // A replayed code: whatever it bought is revoked (RFC 6749 §4.1.2).
                let mut revoked = None;
                if let Some(g) = grant_id && grants::revoke(&tx, &g, now())? {
                    audit::record(&tx, &audit::Entry { at: now(), event: "code_replay".into(), who: Some(sub.clone()), client_id: Some(code_client.clone()), detail: Some("an authorization code was used twice; its grant is revoked".into()), ..Default::default() })?;
                    revoked = Some(g);
                }
                tx.commit()?;
                tracing::warn!(client_id = %code_client, "authorization code reused; its grant is revoked");
                return Ok((Err(OAuthError::invalid_grant("the authorization code was already used")), revoked));
            }
            // Burn the code on any attempt, so a wrong verifier cannot be retried.
            tx.execute("UPDATE codes SET used = 1 WHERE code_hash = ?1", [&hash])?;
            let fail = |tx: rusqlite::Transaction<'_>, e: OAuthError| -> anyhow::Result<Decided> {
                tx.commit()?;
                Ok((Err(e), None))
            };
            if expires_at_ms <= now_ms() {
                return fail(tx, OAuthError::invalid_grant("the authorization code expired"));
            }
            if code_client != client_id {
                return fail(tx, OAuthError::invalid_grant("the authorization code was issued to another client"));
            }
            if redirect_uri.as_ref().is_some_and(|r| r != &code_redirect) {
                return fail(tx, OAuthError::invalid_grant("redirect_uri does not match the authorization request"));
            }
            let verifier_ok = (43..=128).contains(&verifier.len()) && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
            if !verifier_ok || !super::ct_eq(&s256(&verifier), &challenge) {
                return fail(tx, OAuthError::invalid_grant("PKCE verification failed"));
            }
            if resource.as_ref().is_some_and(|r| !same_resource(r, &code_resource)) {
                return fail(tx, OAuthError::invalid_target("resource does not match the authorization request"));
            }
            let aud = resource.unwrap_or(code_resource);
            let grant = random_token();
            let t = now();
            tx.execute(
                "INSERT INTO grants (grant_id, client_id, sub, login, github_id, scope, resource, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![grant, client_id, sub, login, github_id, scope, aud, t],
            )?;
            tx.execute(
                "INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![refresh_hash, grant, t, t + refresh_ttl],
            )?;
            tx.execute("UPDATE codes SET grant_id = ?1 WHERE code_hash = ?2", params![grant, hash])?;
            tx.commit()?;
            Ok((Ok(Issued { sub, login, scope, aud, client_id, refresh_token, grant_id: grant }), None))
        })
        .await?;
    Ok(decided)
}

async fn refresh(
    auth: &Auth,
    client: &Client,
    form: &HashMap<String, String>,
) -> Result<Decided, OAuthError> {
    let token = form
        .get("refresh_token")
        .cloned()
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is missing"))?;
    let resource = form_resource(auth, form)?;
    let requested_scope = form.get("scope").cloned();
    let client_id = client.client_id.clone();
    let hash = sha256_hex(&token);
    let new_token = random_token();
    let new_hash = sha256_hex(&new_token);
    let refresh_ttl = auth.settings().refresh_token_ttl.as_secs() as i64;
    let mode = *auth.mode();
    let gh = auth.settings().github.clone();
    let decided = auth.inner
        .store
        .call(move |c| {
            let tx = c.transaction()?;
            type Row = (String, Option<i64>, i64, String, String, String, Option<i64>, String, String, Option<i64>);
            let row: Option<Row> = tx
                .query_row(
                    "SELECT t.grant_id, t.rotated_at, t.expires_at, g.client_id, g.sub, g.login, g.github_id, g.scope, g.resource, g.revoked_at
                     FROM refresh_tokens t JOIN grants g ON g.grant_id = t.grant_id WHERE t.token_hash = ?1",
                    [&hash],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?)),
                )
                .optional()?;
            let Some((grant, rotated_at, expires_at, grant_client, sub, login, github_id, scope, grant_resource, revoked_at)) = row else {
                return Ok((Err(OAuthError::invalid_grant("the refresh token is unknown")), None));
            };
            let revoke = |tx: rusqlite::Transaction<'_>, event: &str, e: OAuthError| -> anyhow::Result<Decided> {
                grants::revoke(&tx, &grant, now())?;
                audit::record(&tx, &audit::Entry { at: now(), event: event.into(), who: Some(sub.clone()), client_id: Some(client_id.clone()), detail: Some(e.description.clone()), ..Default::default() })?;
                tx.commit()?;
                Ok((Err(e), Some(grant.clone())))
            };
            if revoked_at.is_some() {
                return Ok((Err(OAuthError::invalid_grant("the grant was revoked")), None));
            }
            if grant_client != client_id {
                return Ok((Err(OAuthError::invalid_grant("the refresh token was issued to another client")), None));
            }
            if rotated_at.is_some() {
                tracing::warn!(audit = true, client_id = %client_id, sub = %sub, "refresh token reused; the whole grant is revoked");
                return revoke(tx, "refresh_reuse", OAuthError::invalid_grant("the refresh token was already used; the grant is revoked"));
            }
            if expires_at <= now() {
                return Ok((Err(OAuthError::invalid_grant("the refresh token expired")), None));
            }
            let still_allowed = match (mode, github_id) {
                (AuthMode::GitHub, Some(id)) => super::allowlist::is_allowed(&gh, id as u64, &login),
                (AuthMode::GitHub, None) => false,
                (_, _) => sub == "local",
            };
            if !still_allowed {
                tracing::warn!(audit = true, sub = %sub, login = %login, client_id = %client_id, "refresh refused: account no longer allowed; grant revoked");
                return revoke(tx, "sign_in_refused", OAuthError::invalid_grant("this account may no longer use this server"));
            }
            let scope = match requested_scope {
                Some(s) if !s.split_whitespace().all(|x| scope.split_whitespace().any(|g| g == x)) => {
                    return Ok((Err(OAuthError::invalid_scope("the requested scope exceeds the grant")), None));
                }
                Some(s) if !s.trim().is_empty() => s.split_whitespace().collect::<Vec<_>>().join(" "),
                _ => scope,
            };
            let t = now();
            let changed = tx.execute("UPDATE refresh_tokens SET rotated_at = ?1 WHERE token_hash = ?2 AND rotated_at IS NULL", params![t, hash])?;
            if changed != 1 {
                return revoke(tx, "refresh_reuse", OAuthError::invalid_grant("the refresh token was already used; the grant is revoked"));
            }
            tx.execute("INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)", params![new_hash, grant, t, t + refresh_ttl])?;
            // Rotated tokens are kept only as long as a reuse could still be detected usefully.
            tx.execute("DELETE FROM refresh_tokens WHERE grant_id = ?1 AND rotated_at IS NOT NULL AND expires_at < ?2", params![grant, t])?;
            tx.commit()?;
            Ok((Ok(Issued { sub, login, scope, aud: resource.unwrap_or(grant_resource), client_id, refresh_token: new_token, grant_id: grant }), None))
        })
        .await?;
    Ok(decided)
}

/// Signs an access token.
async fn mint(auth: &Auth, i: &Issued, ttl: Duration) -> anyhow::Result<String> {
    auth.refresh_keys().await?;
    let iat = now();
    let claims = Claims {
        iss: auth.issuer().to_owned(),
        aud: i.aud.clone(),
        sub: i.sub.clone(),
        login: i.login.clone(),
        scope: i.scope.clone(),
        client_id: i.client_id.clone(),
        iat,
        exp: iat + ttl.as_secs() as i64,
        jti: random_token(),
        gid: Some(i.grant_id.clone()),
    };
    let ring = auth.inner.keys.read().unwrap_or_else(|p| p.into_inner());
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(ring.active_kid.clone());
    header.typ = Some("at+jwt".into());
    Ok(jsonwebtoken::encode(&header, &claims, &ring.encoding)?)
}

/// Why a bearer token was refused (for logs and `error_description`).
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not a JWT")]
    Malformed,
    #[error("the token's signing key is unknown")]
    UnknownKey,
    #[error("the token is invalid: {0}")]
    Invalid(String),
    #[error("the token was revoked")]
    Revoked,
    #[error("the token was issued for another sign-in mode")]
    WrongMode,
    #[error("the account is no longer on the allow-list")]
    NotAllowed,
}

/// Verifies one of our access tokens: EdDSA signature by `kid`, `iss`, `aud`, `exp` (with
/// leeway), not revoked, and a subject that fits the current mode.
pub async fn verify_access_token(auth: &Auth, token: &str) -> Result<Claims, TokenError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
    if header.alg != Algorithm::EdDSA {
        return Err(TokenError::Invalid(format!(
            "algorithm {:?} is not accepted",
            header.alg
        )));
    }
    let kid = header.kid.ok_or(TokenError::UnknownKey)?;
    let known = |auth: &Auth| {
        auth.inner
            .keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .public
            .get(&kid)
            .map(|k| k.decoding.clone())
    };
    let key = match known(auth) {
        Some(k) => k,
        None => {
            // Maybe `keys rotate` ran in another process: look sooner than the poll interval,
            // but not for every token with an unknown key.
            let max_age = auth.settings().key_poll_interval.min(UNKNOWN_KEY_RECHECK);
            let _ = auth.refresh_keys_older_than(max_age).await;
            known(auth).ok_or(TokenError::UnknownKey)?
        }
    };
    let mut v = Validation::new(Algorithm::EdDSA);
    v.leeway = LEEWAY_SECS;
    v.set_issuer(&[auth.issuer()]);
    v.set_audience(&auth.valid_audiences());
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let data = jsonwebtoken::decode::<Claims>(token, &key, &v)
        .map_err(|e| TokenError::Invalid(e.to_string()))?;
    let claims = data.claims;
    let rev = &auth.inner.revocations;
    if rev.jti_revoked(&claims.jti) || claims.gid.as_deref().is_some_and(|g| rev.grant_revoked(g)) {
        return Err(TokenError::Revoked);
    }
    match auth.mode() {
        AuthMode::GitHub => {
            let id = claims
                .sub
                .strip_prefix("github:")
                .and_then(|id| id.parse::<u64>().ok())
                .ok_or(TokenError::WrongMode)?;
            // The allow-list as configured now: removing someone cuts them off at once.
            if !super::allowlist::is_allowed(&auth.settings().github, id, &claims.login) {
                return Err(TokenError::NotAllowed);
            }
        }
        AuthMode::LocalLogin | AuthMode::NoAuth if claims.sub == "local" => {}
        AuthMode::LocalLogin | AuthMode::NoAuth => return Err(TokenError::WrongMode),
    }
    Ok(claims)
}

/// `POST /revoke` (RFC 7009): refresh tokens revoke their whole grant; access tokens are
/// remembered as revoked until they expire. Unknown tokens are fine (200); another client's
/// token is refused (400 `invalid_grant`) and left alone.
pub async fn revoke(
    State(auth): State<Auth>,
    connect: super::ratelimit::Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    if !auth.allow(Endpoint::Revoke, &headers, &connect) {
        return Err(OAuthError::rate_limited());
    }
    let form = form_body(&headers, &body)?;
    let client = authenticate(&auth, &headers, &form).await?;
    let token = form
        .get("token")
        .cloned()
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
    let hint = form.get("token_type_hint").map(String::as_str);
    if hint != Some("access_token") || !token.contains('.') {
        let hash = sha256_hex(&token);
        let client_id = client.client_id.clone();
        let revoked = auth
            .inner
            .store
            .call(move |c| {
                let found: Option<(String, String)> = c
                    .query_row(
                        "SELECT g.grant_id, g.client_id FROM refresh_tokens t JOIN grants g ON g.grant_id = t.grant_id WHERE t.token_hash = ?1",
                        params![hash],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                let grant = match found {
                    Some((g, owner)) if owner == client_id => g,
                    Some(_) => return Ok(Err(())),
                    None => return Ok(Ok(None)),
                };
                if grants::revoke(c, &grant, now())? {
                    audit::record(c, &audit::Entry { at: now(), event: "grant_revoked".into(), client_id: Some(client_id.clone()), detail: Some("the client revoked its refresh token (RFC 7009)".into()), ..Default::default() })?;
                }
                Ok(Ok(Some(grant)))
            })
            .await?
            .map_err(|()| another_clients_token(&client))?;
        if let Some(g) = revoked {
            auth.note_revoked_grants(&[g]);
            tracing::info!(client_id = %client.client_id, "refresh token revoked (whole grant)");
            return Ok(revoke_ok());
        }
    }
    if token.contains('.')
        && let Ok(claims) = verify_access_token(&auth, &token).await
    {
        if claims.client_id != client.client_id {
            return Err(another_clients_token(&client));
        }
        auth.inner.revocations.revoke_jti(&claims.jti, claims.exp);
        let (jti, exp) = (claims.jti, claims.exp);
        auth.inner
            .store
            .call(move |c| {
                c.execute(
                    "INSERT OR IGNORE INTO revoked_jti (jti, expires_at) VALUES (?1, ?2)",
                    params![jti, exp + LEEWAY_SECS as i64],
                )?;
                Ok(())
            })
            .await?;
        tracing::info!(client_id = %client.client_id, "access token revoked");
    }
    Ok(revoke_ok())
}

/// RFC 7009 §2.1: a client may only revoke its own tokens; the refusal is RFC 6749 §5.2's
/// `invalid_grant` ("issued to another client"). Nothing is revoked.
fn another_clients_token(client: &Client) -> OAuthError {
    tracing::warn!(client_id = %client.client_id, "revocation refused: the token belongs to another client");
    OAuthError::invalid_grant("the token was issued to another client")
}

fn revoke_ok() -> Response {
    let mut r = StatusCode::OK.into_response();
    no_store(r.headers_mut());
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_is_base64url_sha256() {
        // Checked with Python: base64.urlsafe_b64encode(hashlib.sha256(v).digest()).rstrip(b"=").
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gXFRLm3Fk"),
            "3VSpzsD6Y2L7wJUszvOo9hQTcJ23J2HX29rTx0Vc32k"
        );
    }

    #[test]
    fn resource_forms_compare_without_trailing_slash() {
        assert!(same_resource("https://a.example", "https://a.example/"));
        assert!(!same_resource("https://a.example/mcp", "https://a.example"));
    }
}

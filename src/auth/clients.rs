//! OAuth clients: who they are ([`Client`]), dynamic registration (RFC 7591), finding a client
//! by id (a registration here, or a Client ID Metadata Document through [`cimd`]),
//! and client authentication at the token and revocation endpoints.
//!
//! Client authentication methods: `none` (public clients; PKCE protects the code),
//! `client_secret_basic` / `client_secret_post` (registered confidential clients; the secret is
//! stored hashed) and `private_key_jwt` (RFC 7523 assertions, for metadata-document clients that
//! publish keys, i.e. ChatGPT; see [`assertion`]). A request that presents
//! more than one method, or a method the client did not declare, is `invalid_client`.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use rusqlite::{OptionalExtension, params};
use serde_json::{Value, json};

use super::client::clean_name;
pub use super::client::{Client, ClientAuth, KeySource};
use super::errors::{OAuthError, no_store};
use super::ratelimit::Endpoint;
use super::redirect::validate_redirect_uri;
use super::store::now;
use super::{Auth, SCOPE, assertion, cimd, ct_eq, random_token, sha256_hex};

/// `POST /register` (RFC 7591).
pub async fn register(
    State(auth): State<Auth>,
    connect: super::ratelimit::Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    if !auth.allow(Endpoint::Register, &headers, &connect) {
        return Err(OAuthError::rate_limited());
    }
    let meta: Value = serde_json::from_slice(&body)
        .map_err(|_| OAuthError::invalid_client_metadata("the body must be a JSON object"))?;
    let Value::Object(meta) = meta else {
        return Err(OAuthError::invalid_client_metadata(
            "the body must be a JSON object",
        ));
    };

    let redirect_uris: Vec<String> = match meta.get("redirect_uris") {
        Some(Value::Array(a)) if !a.is_empty() => a
            .iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    OAuthError::invalid_redirect_uri("redirect_uris must be strings")
                })
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(OAuthError::invalid_redirect_uri(
                "redirect_uris must be a non-empty array",
            ));
        }
    };
    if redirect_uris.len() > 10 {
        return Err(OAuthError::invalid_redirect_uri("at most 10 redirect_uris"));
    }
    for r in &redirect_uris {
        validate_redirect_uri(r).map_err(OAuthError::invalid_redirect_uri)?;
    }

    let auth_method = match meta.get("token_endpoint_auth_method") {
        None => "client_secret_basic".to_owned(),
        Some(Value::String(m))
            if ["none", "client_secret_basic", "client_secret_post"].contains(&m.as_str()) =>
        {
            m.clone()
        }
        Some(m) => {
            return Err(OAuthError::invalid_client_metadata(format!(
                "token_endpoint_auth_method {m} is not supported (none, client_secret_basic, client_secret_post)"
            )));
        }
    };
    let strings = |key: &str| -> Result<Option<Vec<String>>, OAuthError> {
        match meta.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_str().map(str::to_owned).ok_or_else(|| {
                        OAuthError::invalid_client_metadata(format!(
                            "{key} must be an array of strings"
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(OAuthError::invalid_client_metadata(format!(
                "{key} must be an array of strings"
            ))),
        }
    };
    let grant_types = strings("grant_types")?.unwrap_or_else(|| vec!["authorization_code".into()]);
    if let Some(g) = grant_types
        .iter()
        .find(|g| !["authorization_code", "refresh_token"].contains(&g.as_str()))
    {
        return Err(OAuthError::invalid_client_metadata(format!(
            "grant type {g:?} is not supported"
        )));
    }
    let response_types = strings("response_types")?.unwrap_or_else(|| vec!["code".into()]);
    if response_types.iter().any(|r| r != "code") {
        return Err(OAuthError::invalid_client_metadata(
            "only the response type \"code\" is supported",
        ));
    }
    if let Some(scope) = meta.get("scope").and_then(Value::as_str)
        && scope.split_whitespace().any(|s| s != SCOPE)
    {
        return Err(OAuthError::invalid_client_metadata(format!(
            "the only scope is {SCOPE}"
        )));
    }
    let client_name = meta
        .get("client_name")
        .and_then(Value::as_str)
        .map(clean_name);

    let client_id = random_token();
    let secret = (auth_method != "none").then(random_token);
    let secret_hash = secret.as_deref().map(sha256_hex);
    let issued_at = now();
    let mut response = json!({
        "client_id": client_id,
        "client_id_issued_at": issued_at,
        "redirect_uris": redirect_uris,
        "token_endpoint_auth_method": auth_method,
        "grant_types": grant_types,
        "response_types": response_types,
        "scope": SCOPE,
    });
    if let Some(name) = &client_name {
        response["client_name"] = json!(name);
    }
    if let Some(s) = &secret {
        response["client_secret"] = json!(s);
        response["client_secret_expires_at"] = json!(0);
    }
    let (cid, method, name, uris) = (
        client_id.clone(),
        auth_method.clone(),
        client_name.clone(),
        serde_json::to_string(&redirect_uris).unwrap_or_default(),
    );
    auth.inner
        .store
        .call(move |c| {
            c.execute(
                "INSERT INTO clients (client_id, secret_hash, client_name, redirect_uris, auth_method, created_at, last_used_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                params![cid, secret_hash, name, uris, method, issued_at],
            )?;
            Ok(())
        })
        .await?;
    tracing::info!(client_id = %client_id, client_name = ?client_name, auth_method = %auth_method, "client registered");
    let mut resp = (StatusCode::CREATED, Json(response)).into_response();
    no_store(resp.headers_mut());
    Ok(resp)
}

/// Finds a client: a registration in the store, or a metadata document fetched (or cached).
/// `Err` carries a sentence for the person (unknown client, bad document).
pub async fn find_client(auth: &Auth, client_id: &str) -> Result<Client, String> {
    if client_id.is_empty() {
        return Err("the request has no client_id".into());
    }
    let allow_loopback = auth.settings().allow_loopback_fetch;
    if cimd::is_metadata_url(client_id, allow_loopback) {
        return cimd::client(&auth.inner.cimd_cache, client_id, allow_loopback).await;
    }
    let id = client_id.to_owned();
    let row = auth
        .inner
        .store
        .call(move |c| {
            Ok(c.query_row(
                "SELECT client_id, secret_hash, client_name, redirect_uris, auth_method FROM clients WHERE client_id = ?1",
                [id],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?, r.get::<_, Option<String>>(2)?, r.get::<_, String>(3)?, r.get::<_, String>(4)?)),
            )
            .optional()?)
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %format!("{e:#}"), "cannot read clients");
            "the server cannot read its client list".to_owned()
        })?;
    match row {
        Some((client_id, secret_hash, client_name, uris, _method)) => Ok(Client {
            client_id,
            client_name,
            redirect_uris: serde_json::from_str(&uris).unwrap_or_default(),
            auth: match secret_hash {
                Some(hash) => ClientAuth::Secret { hash },
                None => ClientAuth::None,
            },
            metadata_document: false,
        }),
        None => Err("unknown client: it is not registered here (or its registration expired); reconnect the app to register again".into()),
    }
}

/// Notes that a client was used, keeping its registration from expiring.
pub async fn touch(auth: &Auth, client_id: &str) {
    let id = client_id.to_owned();
    let _ = auth
        .inner
        .store
        .call(move |c| {
            Ok(c.execute(
                "UPDATE clients SET last_used_at = ?1 WHERE client_id = ?2",
                params![now(), id],
            )?)
        })
        .await;
}

/// What a token or revocation request presented to authenticate its client.
#[derive(Default)]
struct Presented {
    /// From the `Authorization: Basic` header.
    basic: Option<(String, String)>,
    form_id: Option<String>,
    form_secret: Option<String>,
    assertion: Option<String>,
}

impl Presented {
    fn read(headers: &HeaderMap, form: &HashMap<String, String>) -> Result<Presented, OAuthError> {
        let mut p = Presented {
            form_id: form.get("client_id").cloned(),
            form_secret: form.get("client_secret").cloned(),
            ..Presented::default()
        };
        if let Some(h) = headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            && let Some((scheme, b64)) = h.split_once(' ')
            && scheme.eq_ignore_ascii_case("basic")
        {
            p.basic = Some(parse_basic(b64)?);
        }
        match (
            form.get("client_assertion_type").map(String::as_str),
            form.get("client_assertion"),
        ) {
            (None, None) => {}
            (Some(assertion::JWT_BEARER), Some(a)) => p.assertion = Some(a.clone()),
            (Some(assertion::JWT_BEARER), None) => {
                return Err(OAuthError::invalid_client(
                    "client_assertion is missing beside client_assertion_type",
                ));
            }
            (None, Some(_)) => {
                return Err(OAuthError::invalid_client(
                    "client_assertion_type is missing beside client_assertion",
                ));
            }
            (Some(_), _) => {
                return Err(OAuthError::invalid_client(format!(
                    "client_assertion_type must be {}",
                    assertion::JWT_BEARER
                )));
            }
        }
        Ok(p)
    }
}

/// `client_id:client_secret`, each form-urlencoded (RFC 6749 §2.3.1).
fn parse_basic(b64: &str) -> Result<(String, String), OAuthError> {
    let malformed = || OAuthError::invalid_client("malformed Basic credentials");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()
        .and_then(|d| String::from_utf8(d).ok())
        .ok_or_else(malformed)?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok((unescape(id), unescape(secret)))
}

/// Authenticates the client at the token and revocation endpoints. Every failure is
/// `invalid_client` (401), decided before the request's code or token is looked at, so a
/// failed authentication spends nothing.
pub async fn authenticate(
    auth: &Auth,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Client, OAuthError> {
    let p = Presented::read(headers, form)?;
    if let Some(a) = &p.assertion {
        if p.basic.is_some() || p.form_secret.is_some() {
            return Err(OAuthError::invalid_client(
                "a client assertion cannot be combined with another client credential",
            ));
        }
        let claimed = assertion::claimed_client(a)
            .ok_or_else(|| OAuthError::invalid_client("the client assertion is not a JWT"))?;
        if p.form_id.as_ref().is_some_and(|id| id != &claimed) {
            return Err(OAuthError::invalid_client(
                "client_id and the client assertion's issuer differ",
            ));
        }
        let client = find_client(auth, &claimed)
            .await
            .map_err(OAuthError::invalid_client)?;
        let ClientAuth::PrivateKeyJwt { keys, .. } = &client.auth else {
            return Err(OAuthError::invalid_client(
                "this client does not authenticate with private_key_jwt",
            ));
        };
        let assertion = assertion::verify(auth, &client.client_id, keys, a)
            .await
            .map_err(|e| {
                tracing::warn!(client_id = %client.client_id, reason = %e, "client assertion refused");
                OAuthError::invalid_client(e)
            });
        if let Err(e) = &assertion {
            auth.audit(
                "client_refused",
                None,
                Some(&client.client_id),
                None,
                Some(e.description.clone()),
            )
            .await;
        }
        assertion?;
        return Ok(client);
    }

    let (client_id, secret) = match p.basic {
        Some((id, secret)) => {
            if p.form_id.as_ref().is_some_and(|f| f != &id) {
                return Err(OAuthError::invalid_client(
                    "client_id in the form and in the Authorization header differ",
                ));
            }
            if p.form_secret.is_some() {
                return Err(OAuthError::invalid_client(
                    "the client secret was sent twice (header and form)",
                ));
            }
            (id, Some(secret))
        }
        None => (
            p.form_id.ok_or_else(|| {
                OAuthError::invalid_client("client authentication is missing (client_id)")
            })?,
            p.form_secret,
        ),
    };
    let client = find_client(auth, &client_id)
        .await
        .map_err(OAuthError::invalid_client)?;
    match &client.auth {
        ClientAuth::Secret { hash } => {
            let ok = secret
                .as_deref()
                .is_some_and(|s| ct_eq(&sha256_hex(s), hash));
            if !ok {
                return Err(OAuthError::invalid_client("client authentication failed"));
            }
        }
        ClientAuth::PrivateKeyJwt {
            none_too: false, ..
        } => {
            tracing::warn!(client_id = %client.client_id, "client refused: its document declares private_key_jwt but the request has no client assertion");
            return Err(OAuthError::invalid_client(
                "this client must authenticate with a client assertion (private_key_jwt)",
            ));
        }
        ClientAuth::None | ClientAuth::PrivateKeyJwt { none_too: true, .. } => {}
    }
    Ok(client)
}

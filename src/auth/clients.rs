//! OAuth clients: dynamic registration (RFC 7591), Client ID Metadata Documents, redirect-URI
//! rules and client authentication at the token endpoint.
//!
//! Redirect URIs must be https, or http on a loopback host with any port (RFC 8252 §7.3); no
//! fragments and no other schemes (`javascript:`, `data:`, `file:`, app schemes). A registered
//! loopback redirect URI matches a requested one that differs only in the port.
//!
//! A `client_id` that is an https URL is a Client ID Metadata Document: we fetch it (no
//! redirects, 5 s, 16 KiB, only public addresses unless the test-only `cimd_allow_private` is
//! set), check that its `client_id` is the URL and its redirect URIs follow the rules above, and
//! cache it per its `Cache-Control`.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use rusqlite::{OptionalExtension, params};
use serde_json::{Value, json};
use url::Url;

use super::errors::{OAuthError, no_store};
use super::ratelimit::Endpoint;
use super::store::now;
use super::{Auth, SCOPE, ct_eq, random_token, sha256_hex};
use crate::config::is_loopback_host;

const CIMD_MAX_BYTES: usize = 16 * 1024;
const CIMD_TIMEOUT: Duration = Duration::from_secs(5);

/// A client the server knows, registered or described by a metadata document.
#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: String,
    /// SHA-256 hex of the secret; `None` for public clients.
    pub secret_hash: Option<String>,
    pub client_name: Option<String>,
    pub redirect_uris: Vec<String>,
    pub auth_method: String,
    /// Described by a Client ID Metadata Document rather than registered here.
    pub metadata_document: bool,
}

impl Client {
    /// A name to show on the consent page.
    pub fn display_name(&self) -> &str {
        self.client_name
            .as_deref()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or(&self.client_id)
    }

    /// The registered redirect URI that `requested` matches, if any.
    pub fn matching_redirect(&self, requested: &str) -> Option<&str> {
        self.redirect_uris
            .iter()
            .map(String::as_str)
            .find(|r| redirect_matches(r, requested))
    }
}

/// Checks a redirect URI against the rules; the error is one sentence for `error_description`.
pub fn validate_redirect_uri(raw: &str) -> Result<Url, String> {
    if raw.len() > 2000 {
        return Err("redirect URI is too long".into());
    }
    if raw.contains('#') {
        return Err(format!("redirect URI {raw:?} must not have a fragment"));
    }
    let url =
        Url::parse(raw).map_err(|_| format!("redirect URI {raw:?} is not an absolute URL"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("redirect URI {raw:?} must not carry credentials"));
    }
    match url.scheme() {
        "https" if url.host_str().is_some_and(|h| !h.is_empty()) => Ok(url),
        "http" if url.host_str().is_some_and(is_loopback_host) => Ok(url),
        "http" => Err(format!(
            "redirect URI {raw:?} must be https unless its host is loopback"
        )),
        scheme => Err(format!(
            "redirect URI scheme {scheme:?} is not allowed (https, or http on loopback)"
        )),
    }
}

/// Exact match, except that loopback http URIs may differ in the port (RFC 8252 §7.3).
pub fn redirect_matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let (Ok(mut a), Ok(mut b)) = (Url::parse(registered), Url::parse(requested)) else {
        return false;
    };
    if a.scheme() != "http" || b.scheme() != "http" || !a.host_str().is_some_and(is_loopback_host) {
        return false;
    }
    let _ = a.set_port(None);
    let _ = b.set_port(None);
    a == b && !requested.contains('#')
}

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
    let stored_meta = response.clone();
    let row_meta = {
        let mut m = stored_meta;
        if let Some(o) = m.as_object_mut() {
            o.remove("client_secret");
        }
        m.to_string()
    };
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
                "INSERT INTO clients (client_id, secret_hash, client_name, redirect_uris, auth_method, metadata, created_at, last_used_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                params![cid, secret_hash, name, uris, method, row_meta, issued_at],
            )?;
            Ok(())
        })
        .await?;
    tracing::info!(client_id = %client_id, client_name = ?client_name, auth_method = %auth_method, "client registered");
    let mut resp = (StatusCode::CREATED, Json(response)).into_response();
    no_store(resp.headers_mut());
    Ok(resp)
}

/// Keeps a client name printable and short.
fn clean_name(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Whether a `client_id` names a metadata document rather than a registration.
fn is_metadata_url(auth: &Auth, client_id: &str) -> bool {
    client_id.starts_with("https://")
        || (auth.settings().cimd_allow_private && client_id.starts_with("http://"))
}

/// Finds a client: a registration in the store, or a metadata document fetched (or cached).
/// `Err` carries a sentence for the person (unknown client, bad document).
pub async fn find_client(auth: &Auth, client_id: &str) -> Result<Client, String> {
    if client_id.is_empty() {
        return Err("the request has no client_id".into());
    }
    if is_metadata_url(auth, client_id) {
        return fetch_metadata_document(auth, client_id).await;
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
        Some((client_id, secret_hash, client_name, uris, auth_method)) => Ok(Client {
            client_id,
            secret_hash,
            client_name,
            redirect_uris: serde_json::from_str(&uris).unwrap_or_default(),
            auth_method,
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

/// Authenticates the client at the token and revocation endpoints (Basic header, or
/// `client_id` [+ `client_secret`] in the form).
pub async fn authenticate(
    auth: &Auth,
    headers: &HeaderMap,
    form: &std::collections::HashMap<String, String>,
) -> Result<Client, OAuthError> {
    let mut presented: Option<(String, Option<String>)> = None;
    if let Some(h) = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        && let Some(b64) = h
            .strip_prefix("Basic ")
            .or_else(|| h.strip_prefix("basic "))
    {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .ok()
            .and_then(|d| String::from_utf8(d).ok())
            .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))?;
        let (id, secret) = decoded
            .split_once(':')
            .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))?;
        let unescape = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        presented = Some((unescape(id), Some(unescape(secret))));
    }
    let form_id = form.get("client_id").cloned();
    let (client_id, secret) = match presented {
        Some((id, secret)) => {
            if form_id.as_ref().is_some_and(|f| f != &id) {
                return Err(OAuthError::invalid_client(
                    "client_id in the form and in the Authorization header differ",
                ));
            }
            (id, secret)
        }
        None => (
            form_id.ok_or_else(|| {
                OAuthError::invalid_client("client authentication is missing (client_id)")
            })?,
            form.get("client_secret").cloned(),
        ),
    };
    let client = find_client(auth, &client_id)
        .await
        .map_err(OAuthError::invalid_client)?;
    if let Some(hash) = &client.secret_hash {
        let ok = secret
            .as_deref()
            .is_some_and(|s| ct_eq(&sha256_hex(s), hash));
        if !ok {
            return Err(OAuthError::invalid_client("client authentication failed"));
        }
    }
    Ok(client)
}

/// A fetched metadata document and how long it may be reused.
#[derive(Clone)]
pub struct CachedDocument {
    client: Client,
    until: Instant,
}

async fn fetch_metadata_document(auth: &Auth, client_id: &str) -> Result<Client, String> {
    if let Some(c) = auth
        .inner
        .cimd_cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(client_id)
        && c.until > Instant::now()
    {
        return Ok(c.client.clone());
    }
    let allow_private = auth.settings().cimd_allow_private;
    let url = check_metadata_url(client_id, allow_private)?;
    let host = url.host_str().unwrap_or_default().to_owned();
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = tokio::time::timeout(
        CIMD_TIMEOUT,
        tokio::net::lookup_host((host.trim_start_matches('[').trim_end_matches(']'), port)),
    )
    .await
    .map_err(|_| format!("cannot resolve the client metadata host {host}"))?
    .map_err(|_| format!("cannot resolve the client metadata host {host}"))?
    .collect();
    let addr = pick_address(&addrs, allow_private)?;

    // Pin the connection to the address we checked, so DNS cannot swap in a private one.
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(CIMD_TIMEOUT)
        .connect_timeout(CIMD_TIMEOUT);
    if url
        .host()
        .is_some_and(|h| matches!(h, url::Host::Domain(_)))
    {
        builder = builder.resolve(&host, addr);
    }
    let http = builder
        .user_agent(concat!("vaultmcp/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot fetch client metadata: {e}"))?;
    let mut resp = http
        .get(url.clone())
        .header(header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|_| format!("cannot fetch the client metadata document {client_id}"))?;
    if resp.status() != StatusCode::OK {
        return Err(format!(
            "the client metadata document {client_id} answered HTTP {}",
            resp.status().as_u16()
        ));
    }
    let max_age = cache_seconds(resp.headers());
    let mut body = Vec::new();
    while let Some(chunk) = tokio::time::timeout(CIMD_TIMEOUT, resp.chunk())
        .await
        .map_err(|_| "the client metadata document took too long".to_owned())?
        .map_err(|_| "cannot read the client metadata document".to_owned())?
    {
        if body.len() + chunk.len() > CIMD_MAX_BYTES {
            return Err(format!(
                "the client metadata document is larger than {CIMD_MAX_BYTES} bytes"
            ));
        }
        body.extend_from_slice(&chunk);
    }
    let client = parse_metadata_document(client_id, &body)?;
    if max_age > 0 {
        let mut cache = auth
            .inner
            .cimd_cache
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if cache.len() > 1000 {
            cache.clear();
        }
        cache.insert(
            client_id.to_owned(),
            CachedDocument {
                client: client.clone(),
                until: Instant::now() + Duration::from_secs(max_age),
            },
        );
    }
    Ok(client)
}

/// The URL rules for a metadata-document `client_id`.
pub fn check_metadata_url(client_id: &str, allow_private: bool) -> Result<Url, String> {
    let url = Url::parse(client_id).map_err(|_| format!("client_id {client_id:?} is not a URL"))?;
    let loopback_http =
        allow_private && url.scheme() == "http" && url.host_str().is_some_and(is_loopback_host);
    if url.scheme() != "https" && !loopback_http {
        return Err("a URL client_id must be https".into());
    }
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err("a URL client_id must not have a fragment or credentials".into());
    }
    if url.path() == "/"
        || url.path().is_empty()
        || client_id.contains("/./")
        || client_id.contains("/../")
    {
        return Err("a URL client_id must have a path without dot segments".into());
    }
    Ok(url)
}

/// Chooses an address to connect to; refuses non-public ones unless allowed.
fn pick_address(addrs: &[SocketAddr], allow_private: bool) -> Result<SocketAddr, String> {
    if addrs.is_empty() {
        return Err("the client metadata host has no address".into());
    }
    if !allow_private && addrs.iter().any(|a| !is_public_ip(a.ip())) {
        return Err("the client metadata host resolves to a private or loopback address".into());
    }
    Ok(addrs[0])
}

/// Whether an address is on the public internet (the SSRF guard).
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_ip(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] == 0x64 && s[1] == 0xff9b)
                || s[..6] == [0, 0, 0, 0, 0, 0])
        }
    }
}

/// `max-age` from `Cache-Control` (0 for `no-store`/`no-cache`), at most a day; 5 minutes
/// when the header says nothing.
fn cache_seconds(h: &HeaderMap) -> u64 {
    let Some(cc) = h.get(header::CACHE_CONTROL).and_then(|v| v.to_str().ok()) else {
        return 300;
    };
    let cc = cc.to_ascii_lowercase();
    if cc.contains("no-store") || cc.contains("no-cache") {
        return 0;
    }
    cc.split(',')
        .find_map(|d| {
            d.trim()
                .strip_prefix("max-age=")
                .and_then(|v| v.trim().parse::<u64>().ok())
        })
        .unwrap_or(300)
        .min(86_400)
}

/// Validates a metadata document's JSON.
pub fn parse_metadata_document(client_id: &str, body: &[u8]) -> Result<Client, String> {
    let doc: Value = serde_json::from_slice(body)
        .map_err(|_| "the client metadata document is not JSON".to_owned())?;
    if doc.get("client_id").and_then(Value::as_str) != Some(client_id) {
        return Err("the client metadata document's client_id is not its own URL".into());
    }
    let uris: Vec<String> = doc
        .get("redirect_uris")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| "the client metadata document has no redirect_uris".to_owned())?
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| "redirect_uris must be strings".to_owned())
        })
        .collect::<Result<_, _>>()?;
    for u in &uris {
        validate_redirect_uri(u)?;
    }
    let method = doc
        .get("token_endpoint_auth_method")
        .and_then(Value::as_str)
        .unwrap_or("none");
    if method != "none" || doc.get("client_secret").is_some() {
        return Err("a client metadata document must describe a public client (token_endpoint_auth_method none)".into());
    }
    Ok(Client {
        client_id: client_id.to_owned(),
        secret_hash: None,
        client_name: doc
            .get("client_name")
            .and_then(Value::as_str)
            .map(clean_name),
        redirect_uris: uris,
        auth_method: "none".into(),
        metadata_document: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(uri: &str, ok: bool) {
        assert_eq!(validate_redirect_uri(uri).is_ok(), ok, "{uri}");
    }

    #[test]
    fn redirect_uri_rules() {
        check(
            "https://chatgpt.com/connector_platform_oauth_redirect",
            true,
        );
        check("https://chatgpt.com/connector/oauth/abc123", true);
        check("https://claude.ai/api/mcp/auth_callback", true);
        check("http://127.0.0.1:33418/callback", true);
        check("http://localhost:6274/oauth/callback", true);
        check("http://[::1]:8080/cb", true);
        check("http://127.0.0.1/cb", true);
        check("http://example.com/cb", false);
        check("http://localhost.evil.com/cb", false);
        check("https://example.com/cb#frag", false);
        check("https://example.com/cb#", false);
        check("javascript:alert(1)", false);
        check("JavaScript:alert(1)", false);
        check("data:text/html,hi", false);
        check("file:///etc/passwd", false);
        check("com.example.app:/cb", false);
        check("https://user:pw@example.com/cb", false);
        check("/relative", false);
        check("", false);
    }

    #[test]
    fn redirect_matching() {
        assert!(redirect_matches(
            "https://a.example/cb",
            "https://a.example/cb"
        ));
        assert!(!redirect_matches(
            "https://a.example/cb",
            "https://a.example/cb2"
        ));
        assert!(!redirect_matches(
            "https://a.example/cb",
            "https://a.example/cb?x=1"
        ));
        assert!(!redirect_matches(
            "https://a.example:443/cb",
            "https://a.example:8443/cb"
        ));
        assert!(redirect_matches(
            "http://127.0.0.1:1234/cb",
            "http://127.0.0.1:5678/cb"
        ));
        assert!(redirect_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:5678/cb"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1:1234/cb",
            "http://127.0.0.1:5678/other"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1:1234/cb",
            "http://localhost:1234/cb"
        ));
    }

    #[test]
    fn ssrf_guard_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public_ip(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "140.82.112.3", "2606:4700::1111"] {
            assert!(is_public_ip(ip.parse().unwrap()), "{ip}");
        }
        let lo: SocketAddr = "127.0.0.1:443".parse().unwrap();
        assert!(pick_address(&[lo], false).is_err());
        assert!(pick_address(&[lo], true).is_ok());
    }

    #[test]
    fn metadata_url_rules() {
        assert!(check_metadata_url("https://app.example/client.json", false).is_ok());
        assert!(check_metadata_url("https://app.example/", false).is_err());
        assert!(check_metadata_url("http://app.example/client.json", false).is_err());
        assert!(check_metadata_url("http://127.0.0.1:9/client.json", false).is_err());
        assert!(check_metadata_url("http://127.0.0.1:9/client.json", true).is_ok());
        assert!(check_metadata_url("https://app.example/c.json#x", false).is_err());
    }

    #[test]
    fn metadata_document_rules() {
        let id = "https://app.example/client.json";
        let good = json!({"client_id": id, "client_name": "App", "redirect_uris": ["https://app.example/cb"]}).to_string();
        let c = parse_metadata_document(id, good.as_bytes()).unwrap();
        assert_eq!(c.display_name(), "App");
        assert!(c.metadata_document);
        let other_id = json!({"client_id": "https://evil.example/c.json", "redirect_uris": ["https://app.example/cb"]}).to_string();
        assert!(parse_metadata_document(id, other_id.as_bytes()).is_err());
        let bad_redirect =
            json!({"client_id": id, "redirect_uris": ["javascript:alert(1)"]}).to_string();
        assert!(parse_metadata_document(id, bad_redirect.as_bytes()).is_err());
        let secret = json!({"client_id": id, "redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "client_secret_basic"}).to_string();
        assert!(parse_metadata_document(id, secret.as_bytes()).is_err());
        assert!(parse_metadata_document(id, b"not json").is_err());
    }

    #[test]
    fn cache_control() {
        let mut h = HeaderMap::new();
        assert_eq!(cache_seconds(&h), 300);
        h.insert(
            header::CACHE_CONTROL,
            "public, max-age=600".parse().unwrap(),
        );
        assert_eq!(cache_seconds(&h), 600);
        h.insert(header::CACHE_CONTROL, "max-age=99999999".parse().unwrap());
        assert_eq!(cache_seconds(&h), 86_400);
        h.insert(header::CACHE_CONTROL, "no-store".parse().unwrap());
        assert_eq!(cache_seconds(&h), 0);
    }
}

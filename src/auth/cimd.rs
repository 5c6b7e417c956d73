//! Client ID Metadata Documents: a `client_id` that is an https URL names a JSON document that
//! describes the client (draft-ietf-oauth-client-id-metadata-document; MCP 2025-11-25).
//!
//! We fetch it through the guarded [`fetch`](super::fetch) (no redirects, 5 s, 16 KiB, public
//! addresses only), check that its `client_id` is the URL and its redirect URIs follow
//! [`redirect`](super::redirect)'s rules, and cache it per its `Cache-Control`.
//!
//! A document may describe a public client (`none`, PKCE only; Claude) or one that signs RFC
//! 7523 client assertions (`private_key_jwt` with a `jwks_uri` or inline `jwks`; ChatGPT). It
//! may not use a client secret: a document is public, so a secret in it would be no secret.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;
use url::Url;

use super::client::{Client, ClientAuth, KeySource, clean_name};
use super::fetch::{FetchPolicy, fetch_json, fetchable_scheme};
use super::redirect::validate_redirect_uri;

const MAX_BYTES: usize = 16 * 1024;
const TIMEOUT: Duration = Duration::from_secs(5);
/// Entries kept at most; past it the cache starts over (documents are cheap to refetch).
const CACHE_MAX: usize = 1000;

/// Fetched documents and how long each may be reused.
#[derive(Default)]
pub struct DocumentCache {
    entries: Mutex<HashMap<String, (Client, Instant)>>,
}

impl DocumentCache {
    fn get(&self, client_id: &str) -> Option<Client> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(client_id)
            .filter(|(_, until)| *until > Instant::now())
            .map(|(c, _)| c.clone())
    }

    fn put(&self, client: &Client, max_age: Duration) {
        if max_age.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= CACHE_MAX {
            let now = Instant::now();
            entries.retain(|_, (_, until)| *until > now);
            if entries.len() >= CACHE_MAX {
                entries.clear();
            }
        }
        entries.insert(
            client.client_id.clone(),
            (client.clone(), Instant::now() + max_age),
        );
    }
}

/// Whether a `client_id` names a metadata document rather than a registration.
pub fn is_metadata_url(client_id: &str, allow_loopback: bool) -> bool {
    client_id.starts_with("https://") || (allow_loopback && client_id.starts_with("http://"))
}

/// Finds the client a metadata document describes, from the cache or by fetching it.
/// `Err` is one sentence for the person or the client.
pub async fn client(
    cache: &DocumentCache,
    client_id: &str,
    allow_loopback: bool,
) -> Result<Client, String> {
    if let Some(c) = cache.get(client_id) {
        return Ok(c);
    }
    let url = check_metadata_url(client_id, allow_loopback)?;
    let policy = FetchPolicy {
        allow_loopback,
        max_bytes: MAX_BYTES,
        timeout: TIMEOUT,
    };
    let fetched = fetch_json(&url, policy).await.map_err(|e| {
        tracing::warn!(client_id, error = %e, "client metadata document refused");
        e.public_message("client metadata document")
    })?;
    let client = parse_metadata_document(client_id, &fetched.json, allow_loopback).inspect_err(
        |e| tracing::warn!(client_id, error = %e, "client metadata document refused"),
    )?;
    cache.put(&client, fetched.max_age);
    Ok(client)
}

/// The URL rules for a metadata-document `client_id`.
pub fn check_metadata_url(client_id: &str, allow_loopback: bool) -> Result<Url, String> {
    let url = Url::parse(client_id).map_err(|_| format!("client_id {client_id:?} is not a URL"))?;
    if !fetchable_scheme(&url, allow_loopback) {
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

/// Methods a document may name; the secret-based ones are refused with their own sentence.
const SECRET_METHODS: [&str; 3] = [
    "client_secret_basic",
    "client_secret_post",
    "client_secret_jwt",
];

/// Validates a metadata document's JSON.
pub fn parse_metadata_document(
    client_id: &str,
    doc: &Value,
    allow_loopback: bool,
) -> Result<Client, String> {
    if doc.get("client_id").and_then(Value::as_str) != Some(client_id) {
        return Err("the client metadata document's client_id is not its own URL".into());
    }
    let uris: Vec<String> = doc
        .get("redirect_uris")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty() && a.len() <= 10)
        .ok_or_else(|| "the client metadata document needs 1 to 10 redirect_uris".to_owned())?
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
    if doc.get("client_secret").is_some() {
        return Err("a client metadata document must not carry a client_secret".into());
    }
    let method = doc
        .get("token_endpoint_auth_method")
        .and_then(Value::as_str);
    let supported: Vec<&str> = doc
        .get("token_endpoint_auth_methods_supported")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(m) = method
        .into_iter()
        .chain(supported.iter().copied())
        .find(|m| SECRET_METHODS.contains(m))
    {
        return Err(format!(
            "a client metadata document cannot use {m}: a published document has no secret (use none or private_key_jwt)"
        ));
    }
    let wants_assertion = match method {
        Some("private_key_jwt") => true,
        Some("none") => false,
        None => supported.contains(&"private_key_jwt"),
        Some(other) => {
            return Err(format!(
                "token_endpoint_auth_method {other:?} is not supported (none or private_key_jwt)"
            ));
        }
    };
    let auth = if wants_assertion {
        ClientAuth::PrivateKeyJwt {
            keys: key_source(doc, allow_loopback)?,
            // Listed beside private_key_jwt, `none` stays acceptable: a public client with PKCE.
            none_too: method.is_none() && supported.contains(&"none"),
        }
    } else {
        ClientAuth::None
    };
    Ok(Client {
        client_id: client_id.to_owned(),
        client_name: doc
            .get("client_name")
            .and_then(Value::as_str)
            .map(clean_name),
        redirect_uris: uris,
        auth,
        metadata_document: true,
    })
}

/// Where a `private_key_jwt` document's keys are: `jwks_uri` or inline `jwks`, never both
/// (RFC 7591 §2).
fn key_source(doc: &Value, allow_loopback: bool) -> Result<KeySource, String> {
    match (doc.get("jwks_uri"), doc.get("jwks")) {
        (Some(_), Some(_)) => {
            Err("a client metadata document must not have both jwks_uri and jwks".into())
        }
        (Some(uri), None) => {
            let uri = uri
                .as_str()
                .and_then(|u| Url::parse(u).ok())
                .ok_or_else(|| "jwks_uri is not a URL".to_owned())?;
            if !fetchable_scheme(&uri, allow_loopback) {
                return Err("jwks_uri must be https".into());
            }
            Ok(KeySource::Uri(uri))
        }
        (None, Some(jwks)) => {
            let set = super::client_keys::parse_key_set(jwks)
                .map_err(|e| format!("the document's jwks is unusable: {e}"))?;
            Ok(KeySource::Inline(set))
        }
        (None, None) => {
            Err("a private_key_jwt client metadata document needs a jwks_uri or jwks".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn metadata_url_rules() {
        assert!(check_metadata_url("https://app.example/client.json", false).is_ok());
        assert!(check_metadata_url("https://app.example/", false).is_err());
        assert!(check_metadata_url("http://app.example/client.json", false).is_err());
        assert!(check_metadata_url("http://127.0.0.1:9/client.json", false).is_err());
        assert!(check_metadata_url("http://127.0.0.1:9/client.json", true).is_ok());
        assert!(check_metadata_url("http://app.example/client.json", true).is_err());
        assert!(check_metadata_url("https://app.example/c.json#x", false).is_err());
    }

    fn parse(doc: Value) -> Result<Client, String> {
        parse_metadata_document("https://app.example/client.json", &doc, false)
    }

    #[test]
    fn public_documents() {
        let id = "https://app.example/client.json";
        let c = parse(json!({"client_id": id, "client_name": "App", "redirect_uris": ["https://app.example/cb"]})).unwrap();
        assert_eq!(c.display_name(), "App");
        assert!(c.metadata_document);
        assert!(matches!(c.auth, ClientAuth::None));
        let c = parse(json!({"client_id": id, "redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "none"})).unwrap();
        assert!(matches!(c.auth, ClientAuth::None));
    }

    #[test]
    fn refused_documents() {
        let id = "https://app.example/client.json";
        let cb = ["https://app.example/cb"];
        for (doc, want) in [
            (
                json!({"client_id": "https://evil.example/c.json", "redirect_uris": cb}),
                "own URL",
            ),
            (
                json!({"client_id": id, "redirect_uris": ["javascript:alert(1)"]}),
                "scheme",
            ),
            (
                json!({"client_id": id, "redirect_uris": []}),
                "redirect_uris",
            ),
            (
                json!({"client_id": id, "redirect_uris": cb, "token_endpoint_auth_method": "client_secret_basic"}),
                "client_secret_basic",
            ),
            (
                json!({"client_id": id, "redirect_uris": cb, "token_endpoint_auth_methods_supported": ["client_secret_post"]}),
                "client_secret_post",
            ),
            (
                json!({"client_id": id, "redirect_uris": cb, "client_secret": "s3cret"}),
                "client_secret",
            ),
            (
                json!({"client_id": id, "redirect_uris": cb, "token_endpoint_auth_method": "tls_client_auth"}),
                "not supported",
            ),
            (
                json!({"client_id": id, "redirect_uris": cb, "token_endpoint_auth_method": "private_key_jwt"}),
                "jwks_uri or jwks",
            ),
            (
                json!({"client_id": id, "redirect_uris": cb, "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "http://app.example/jwks.json"}),
                "https",
            ),
            (
                json!({"client_id": id, "redirect_uris": cb, "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://app.example/jwks.json", "jwks": {"keys": []}}),
                "both",
            ),
        ] {
            let e = parse(doc.clone()).unwrap_err();
            assert!(e.contains(want), "{doc}: {e}");
            assert!(!e.contains("s3cret"), "{e}");
        }
    }

    #[test]
    fn chatgpt_documents() {
        // Both shapes ChatGPT publishes (issue 8).
        let id = "https://app.example/client.json";
        let c = parse(json!({
            "client_id": id, "client_name": "ChatGPT", "client_uri": "https://chatgpt.com/",
            "redirect_uris": ["https://chatgpt.com/connector/oauth/abc"],
            "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
            "token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_signing_alg": "RS256",
            "jwks_uri": "https://chatgpt.com/oauth/jwks.json"
        }))
        .unwrap();
        assert!(matches!(
            c.auth,
            ClientAuth::PrivateKeyJwt {
                none_too: false,
                keys: KeySource::Uri(_)
            }
        ));
        let c = parse(json!({
            "client_id": id, "client_name": "ChatGPT",
            "redirect_uris": ["https://chatgpt.com/connector_platform_oauth_redirect"],
            "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
            "jwks_uri": "https://chatgpt.com/oauth/jwks.json"
        }))
        .unwrap();
        assert!(matches!(
            c.auth,
            ClientAuth::PrivateKeyJwt { none_too: true, .. }
        ));
    }
}

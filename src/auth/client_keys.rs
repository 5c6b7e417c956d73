//! The public keys of `private_key_jwt` clients: inline `jwks`, or a `jwks_uri` fetched through
//! the guarded [`fetch`](super::fetch) and cached.
//!
//! A key set is cached for as long as its response allows (but at least the minimum refetch
//! interval, [`MIN_REFETCH`] by default, and at most a day). An assertion signed with a `kid`
//! the cached set lacks may mean the client rotated its keys, so the set is fetched again,
//! once, but never sooner than that interval after the last fetch of that URL: a client cannot
//! make the server fetch in a loop by sending made-up key ids.
//!
//! Only asymmetric signing keys are kept: RSA (at least 2048 bits), EC P-256 and Ed25519. Secret
//! (`oct`) keys and keys marked for encryption are dropped when the set is read.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, PublicKeyUse};
use serde_json::Value;

use super::client::KeySource;
use super::fetch::{FetchPolicy, fetch_json};

/// Never fetch the same key set more often than this (the default of
/// [`AuthSettings::client_key_refetch`](super::AuthSettings::client_key_refetch)).
pub const MIN_REFETCH: Duration = Duration::from_secs(30);
const MAX_BYTES: usize = 64 * 1024;
const MAX_KEYS: usize = 20;
const TIMEOUT: Duration = Duration::from_secs(5);
const CACHE_MAX: usize = 1000;
/// Smallest RSA modulus accepted (RFC 7518 §3.3).
const MIN_RSA_BITS: usize = 2048;

struct Entry {
    keys: JwkSet,
    fetched: Instant,
    until: Instant,
}

/// Fetched key sets by URL.
#[derive(Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<String, Entry>>,
}

/// Reads a JWKS document, keeping only usable signing keys. A key this server cannot use is
/// skipped rather than spoiling the set (a client may publish keys for other purposes).
pub fn parse_key_set(doc: &Value) -> Result<JwkSet, String> {
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| "a key set needs a \"keys\" array".to_owned())?;
    if keys.len() > MAX_KEYS {
        return Err(format!("a key set may hold at most {MAX_KEYS} keys"));
    }
    let keys: Vec<Jwk> = keys
        .iter()
        .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
        .filter(usable)
        .collect();
    if keys.is_empty() {
        return Err("the key set has no RSA, P-256 or Ed25519 signing key".into());
    }
    Ok(JwkSet { keys })
}

fn usable(k: &Jwk) -> bool {
    if matches!(
        k.common.public_key_use,
        Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
    ) {
        return false;
    }
    match &k.algorithm {
        AlgorithmParameters::RSA(p) => {
            URL_SAFE_NO_PAD
                .decode(p.n.trim_end_matches('='))
                .is_ok_and(|n| {
                    let lead = n.iter().take_while(|b| **b == 0).count();
                    (n.len() - lead) * 8 >= MIN_RSA_BITS
                })
        }
        AlgorithmParameters::EllipticCurve(p) => p.curve == EllipticCurve::P256,
        AlgorithmParameters::OctetKeyPair(p) => p.curve == EllipticCurve::Ed25519,
        _ => false,
    }
}

/// The keys that may have signed an assertion with this `kid` (all of them when it has none).
fn matching(set: &JwkSet, kid: Option<&str>) -> Vec<Jwk> {
    set.keys
        .iter()
        .filter(|k| kid.is_none() || k.common.key_id.as_deref() == kid)
        .cloned()
        .collect()
}

impl KeyCache {
    /// The candidate keys of a client for an assertion's `kid`. `Err` is a sentence for the
    /// client (which then gets `invalid_client`).
    pub async fn keys(
        &self,
        source: &KeySource,
        kid: Option<&str>,
        allow_loopback: bool,
        min_refetch: Duration,
    ) -> Result<Vec<Jwk>, String> {
        let url = match source {
            KeySource::Inline(set) => return Ok(matching(set, kid)),
            KeySource::Uri(url) => url,
        };
        let now = Instant::now();
        let cached = {
            let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            entries.get(url.as_str()).map(|e| {
                let fresh = e.until > now;
                let may_refetch = now.duration_since(e.fetched) >= min_refetch;
                (matching(&e.keys, kid), fresh, may_refetch)
            })
        };
        match cached {
            Some((keys, true, _)) if !keys.is_empty() => return Ok(keys),
            // Known set, unknown kid, fetched a moment ago: do not fetch again.
            Some((keys, _, false)) => return Ok(keys),
            _ => {}
        }
        let policy = FetchPolicy {
            allow_loopback,
            max_bytes: MAX_BYTES,
            timeout: TIMEOUT,
        };
        let fetched = fetch_json(url, policy).await.map_err(|e| {
            tracing::warn!(jwks_uri = %url, error = %e, "client key set refused");
            e.public_message("client key set (jwks_uri)")
        })?;
        let set = parse_key_set(&fetched.json).inspect_err(|e| {
            tracing::warn!(jwks_uri = %url, error = %e, "client key set refused");
        })?;
        let keys = matching(&set, kid);
        let max_age = fetched.max_age.max(min_refetch);
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= CACHE_MAX {
            entries.retain(|_, e| e.until > now);
            if entries.len() >= CACHE_MAX {
                entries.clear();
            }
        }
        entries.insert(
            url.as_str().to_owned(),
            Entry {
                keys: set,
                fetched: Instant::now(),
                until: Instant::now() + max_age,
            },
        );
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rsa_n(bits: usize) -> String {
        let mut n = vec![0xffu8; bits / 8];
        n[0] = 0xc1;
        URL_SAFE_NO_PAD.encode(n)
    }

    #[test]
    fn only_signing_keys_are_kept() {
        let set = parse_key_set(&json!({"keys": [
            {"kty": "RSA", "kid": "big", "n": rsa_n(2048), "e": "AQAB"},
            {"kty": "RSA", "kid": "small", "n": rsa_n(1024), "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": rsa_n(2048), "e": "AQAB"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "EC", "kid": "p384", "crv": "P-384", "x": "AA", "y": "AA"},
            {"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty": "weird"}
        ]}))
        .unwrap();
        let kids: Vec<_> = set
            .keys
            .iter()
            .filter_map(|k| k.common.key_id.clone())
            .collect();
        assert_eq!(kids, ["big", "ed"]);
        assert!(parse_key_set(&json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]})).is_err());
        assert!(parse_key_set(&json!({"nokeys": []})).is_err());
        let many: Vec<_> = (0..21)
            .map(|i| json!({"kty": "RSA", "kid": i.to_string(), "n": rsa_n(2048), "e": "AQAB"}))
            .collect();
        assert!(parse_key_set(&json!({ "keys": many })).is_err());
    }

    #[test]
    fn kid_selects_keys() {
        let set = parse_key_set(&json!({"keys": [
            {"kty": "RSA", "kid": "a", "n": rsa_n(2048), "e": "AQAB"},
            {"kty": "RSA", "kid": "b", "n": rsa_n(2048), "e": "AQAB"}
        ]}))
        .unwrap();
        assert_eq!(matching(&set, Some("a")).len(), 1);
        assert_eq!(matching(&set, None).len(), 2);
        assert!(matching(&set, Some("../etc/passwd")).is_empty());
    }
}

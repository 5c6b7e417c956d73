//! Ed25519 signing keys for access tokens.
//!
//! Keys live in the `signing_keys` table: the active one has no `retired_at`. Rotation retires the
//! active key and creates a new one; a retired key keeps verifying (and stays in the JWKS) until
//! every token it signed has expired, then it is dropped. The key id is the RFC 7638 thumbprint
//! of the public key.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{DecodingKey, EncodingKey};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::store::now;

/// A public key that can verify tokens.
#[derive(Clone)]
pub struct PublicKey {
    pub kid: String,
    pub raw: [u8; 32],
    pub retired_at: Option<i64>,
    pub decoding: DecodingKey,
}

/// The keys a running server signs and verifies with.
pub struct KeyRing {
    pub active_kid: String,
    pub encoding: EncodingKey,
    pub public: HashMap<String, PublicKey>,
}

impl KeyRing {
    /// The JWKS document (`/jwks.json`), active key first.
    pub fn jwks(&self) -> Value {
        let mut keys: Vec<&PublicKey> = self.public.values().collect();
        keys.sort_by_key(|k| (k.kid != self.active_kid, std::cmp::Reverse(k.retired_at)));
        json!({"keys": keys.iter().map(|k| jwk(&k.kid, &k.raw)).collect::<Vec<_>>()})
    }
}

fn jwk(kid: &str, raw: &[u8; 32]) -> Value {
    json!({"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(raw), "kid": kid, "use": "sig", "alg": "EdDSA"})
}

/// RFC 7638 thumbprint of an Ed25519 public key.
fn thumbprint(raw: &[u8; 32]) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(raw)
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// Loads the keys, creating the first one when there is none. Retired keys older than
/// `retired_grace_secs` (the longest access-token lifetime plus leeway) are deleted.
pub fn load_or_create(conn: &mut Connection, retired_grace_secs: i64) -> anyhow::Result<KeyRing> {
    conn.execute(
        "DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at < ?1",
        params![now() - retired_grace_secs],
    )?;
    let active: Option<String> = conn
        .query_row("SELECT kid FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1", [], |r| r.get(0))
        .optional()?;
    if active.is_none() {
        create(conn)?;
    }
    load(conn)
}

fn load(conn: &Connection) -> anyhow::Result<KeyRing> {
    let mut stmt = conn.prepare("SELECT kid, private_pkcs8, public_raw, retired_at FROM signing_keys ORDER BY created_at DESC")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, Vec<u8>>(1)?,
            r.get::<_, Vec<u8>>(2)?,
            r.get::<_, Option<i64>>(3)?,
        ))
    })?;
    let mut public = HashMap::new();
    let mut active = None;
    for row in rows {
        let (kid, private, public_raw, retired_at) = row?;
        let raw: [u8; 32] = public_raw
            .as_slice()
            .try_into()
            .map_err(|_| anyhow::anyhow!("signing key {kid} has a malformed public key"))?;
        if retired_at.is_none() && active.is_none() {
            active = Some((kid.clone(), EncodingKey::from_ed_der(&private)));
        }
        let decoding = DecodingKey::from_ed_der(&raw);
        public.insert(
            kid.clone(),
            PublicKey {
                kid,
                raw,
                retired_at,
                decoding,
            },
        );
    }
    let (active_kid, encoding) =
        active.ok_or_else(|| anyhow::anyhow!("the auth store has no active signing key"))?;
    Ok(KeyRing {
        active_kid,
        encoding,
        public,
    })
}

/// Creates a new active key, returning its kid.
fn create(conn: &Connection) -> anyhow::Result<String> {
    let mut seed = [0u8; 32];
    rand::fill(&mut seed);
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    let der = key
        .to_pkcs8_der()
        .map_err(|e| anyhow::anyhow!("cannot encode the signing key: {e}"))?;
    let raw = key.verifying_key().to_bytes();
    let kid = thumbprint(&raw);
    conn.execute(
        "INSERT INTO signing_keys (kid, private_pkcs8, public_raw, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![kid, der.as_bytes(), raw.as_slice(), now()],
    )?;
    Ok(kid)
}

/// Retires the active key and creates a new one; returns the new kid.
pub fn rotate(conn: &mut Connection) -> anyhow::Result<String> {
    let tx = conn.transaction()?;
    tx.execute(
        "UPDATE signing_keys SET retired_at = ?1 WHERE retired_at IS NULL",
        params![now()],
    )?;
    let kid = create(&tx)?;
    tx.commit()?;
    Ok(kid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_rotate_and_prune() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = super::super::store::open_connection(dir.path()).unwrap();
        let ring = load_or_create(&mut conn, 3600).unwrap();
        let first = ring.active_kid.clone();
        assert_eq!(ring.public.len(), 1);
        // Loading again keeps the same key.
        assert_eq!(load_or_create(&mut conn, 3600).unwrap().active_kid, first);
        let second = rotate(&mut conn).unwrap();
        assert_ne!(first, second);
        let ring = load_or_create(&mut conn, 3600).unwrap();
        assert_eq!(ring.active_kid, second);
        assert_eq!(ring.public.len(), 2, "the retired key still verifies");
        let jwks = ring.jwks();
        assert_eq!(jwks["keys"][0]["kid"], second.as_str());
        assert_eq!(jwks["keys"][1]["kid"], first.as_str());
        // Once its tokens can no longer be valid, the retired key goes.
        conn.execute(
            "UPDATE signing_keys SET retired_at = retired_at - 7200 WHERE kid = ?1",
            [&first],
        )
        .unwrap();
        let ring = load_or_create(&mut conn, 3600).unwrap();
        assert_eq!(ring.public.len(), 1);
    }
}

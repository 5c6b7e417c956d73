//! RFC 7523 §2.2 client assertions (`private_key_jwt`): how ChatGPT authenticates at `/token`
//! and `/revoke`.
//!
//! The client sends `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`
//! and `client_assertion`, a JWT it signed with a key published in its metadata document
//! (`jwks_uri` or `jwks`). We accept it when:
//! - the algorithm is on our allow-list (RS256, PS256, ES256, EdDSA) and fits the key that
//!   verifies it (RSA for RS/PS, P-256 for ES256, Ed25519 for EdDSA, and the key's own `alg`
//!   when it names one): the token's header alone never picks the algorithm, and `none` and
//!   HMAC never verify (RFC 8725 §3.1);
//! - `iss` and `sub` are the `client_id`; `aud` names our token endpoint or our issuer;
//! - `exp` is present, in the future and at most [`MAX_LIFETIME_SECS`] after `iat` (or after now
//!   when there is no `iat`), with [`SKEW_SECS`] of clock skew; `nbf`, when present, has passed;
//! - its `jti` was never seen before: each is kept in SQLite until the assertion expires, so a
//!   restart does not reopen a replay window.
//!
//! Every refusal is one sentence for an `invalid_client` answer; none of them spends anything.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rusqlite::params;
use serde::Deserialize;

use super::Auth;
use super::client::KeySource;
use super::store::now;

/// The `client_assertion_type` of RFC 7523.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Algorithms a client may sign with (advertised in the metadata).
pub const ALGORITHMS: [&str; 4] = ["RS256", "PS256", "ES256", "EdDSA"];
/// An assertion may live at most this long.
pub const MAX_LIFETIME_SECS: i64 = 600;
/// Clock skew allowed on `exp`, `nbf` and `iat`.
pub const SKEW_SECS: i64 = 60;
/// Longest assertion read; real ones are about 1 KB.
pub const MAX_ASSERTION_BYTES: usize = 8 * 1024;

#[derive(Debug, Deserialize)]
struct AssertionClaims {
    sub: String,
    exp: i64,
    iat: Option<i64>,
    jti: Option<String>,
}

/// The `iss` an assertion claims, read without checking anything: it says which client's keys
/// to check the signature with.
pub fn claimed_client(assertion: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Iss {
        iss: Option<String>,
        sub: Option<String>,
    }
    let c = jsonwebtoken::dangerous::insecure_decode_claims::<Iss>(assertion).ok()?;
    c.iss.or(c.sub)
}

fn allowed_algorithm(alg: Algorithm) -> bool {
    matches!(
        alg,
        Algorithm::RS256 | Algorithm::PS256 | Algorithm::ES256 | Algorithm::EdDSA
    )
}

/// Whether `key` may verify a signature made with `alg`.
fn key_fits(key: &Jwk, alg: Algorithm) -> bool {
    let family_ok = match (&key.algorithm, alg) {
        (AlgorithmParameters::RSA(_), Algorithm::RS256 | Algorithm::PS256) => true,
        (AlgorithmParameters::EllipticCurve(p), Algorithm::ES256) => p.curve == EllipticCurve::P256,
        (AlgorithmParameters::OctetKeyPair(p), Algorithm::EdDSA) => {
            p.curve == EllipticCurve::Ed25519
        }
        _ => false,
    };
    let named_ok = match key.common.key_algorithm {
        None => true,
        Some(KeyAlgorithm::RS256) => alg == Algorithm::RS256,
        Some(KeyAlgorithm::PS256) => alg == Algorithm::PS256,
        Some(KeyAlgorithm::ES256) => alg == Algorithm::ES256,
        Some(KeyAlgorithm::EdDSA) => alg == Algorithm::EdDSA,
        Some(_) => false,
    };
    family_ok && named_ok
}

/// Verifies `assertion` as `client_id`'s authentication, and spends its `jti`.
pub async fn verify(
    auth: &Auth,
    client_id: &str,
    keys: &KeySource,
    assertion: &str,
) -> Result<(), String> {
    if assertion.len() > MAX_ASSERTION_BYTES {
        return Err(format!(
            "the client assertion is longer than {MAX_ASSERTION_BYTES} bytes"
        ));
    }
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|_| "the client assertion is not a signed JWT".to_owned())?;
    if !allowed_algorithm(header.alg) {
        return Err(format!(
            "the client assertion's algorithm {:?} is not accepted (RS256, PS256, ES256, EdDSA)",
            header.alg
        ));
    }
    let candidates = auth
        .inner
        .client_keys
        .keys(
            keys,
            header.kid.as_deref(),
            auth.settings().allow_loopback_fetch,
            auth.settings().client_key_refetch,
        )
        .await?;
    let candidates: Vec<&Jwk> = candidates
        .iter()
        .filter(|k| key_fits(k, header.alg))
        .collect();
    if candidates.is_empty() {
        return Err("no key of the client matches the assertion's kid and algorithm".into());
    }

    let base = auth.issuer();
    let mut v = Validation::new(header.alg);
    v.leeway = SKEW_SECS as u64;
    v.validate_nbf = true;
    v.set_issuer(&[client_id]);
    v.set_audience(&[format!("{base}/token"), base.to_owned(), format!("{base}/")]);
    v.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    let mut last_err = String::new();
    let mut claims = None;
    for key in candidates {
        let Ok(dk) = DecodingKey::from_jwk(key) else {
            continue;
        };
        match jsonwebtoken::decode::<AssertionClaims>(assertion, &dk, &v) {
            Ok(data) => {
                claims = Some(data.claims);
                break;
            }
            Err(e) => last_err = describe(&e),
        }
    }
    let claims = claims.ok_or_else(|| format!("the client assertion is invalid: {last_err}"))?;
    if claims.sub != client_id {
        return Err("the client assertion's sub is not the client_id".into());
    }
    let t = now();
    let start = claims.iat.unwrap_or(t);
    if claims.exp - start > MAX_LIFETIME_SECS {
        return Err(format!(
            "the client assertion lives longer than {MAX_LIFETIME_SECS} seconds"
        ));
    }
    if claims.iat.is_some_and(|iat| iat > t + SKEW_SECS) {
        return Err("the client assertion was issued in the future".into());
    }
    let jti = claims
        .jti
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or_else(|| "the client assertion has no usable jti".to_owned())?;
    spend_jti(auth, client_id, &jti, claims.exp + SKEW_SECS).await
}

/// The reason jsonwebtoken gives, in words a client developer can act on.
fn describe(e: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind as K;
    match e.kind() {
        K::InvalidSignature => "bad signature".into(),
        K::ExpiredSignature => "it expired".into(),
        K::ImmatureSignature => "it is not valid yet (nbf)".into(),
        K::InvalidAudience => "aud is not this server's token endpoint or issuer".into(),
        K::InvalidIssuer => "iss is not the client_id".into(),
        K::MissingRequiredClaim(c) => format!("the {c} claim is missing"),
        _ => "it cannot be verified".into(),
    }
}

/// Records a `jti` as used until `expires_at`; a second use is a replay.
async fn spend_jti(auth: &Auth, client_id: &str, jti: &str, expires_at: i64) -> Result<(), String> {
    let (cid, jti) = (client_id.to_owned(), jti.to_owned());
    let fresh = auth
        .inner
        .store
        .call(move |c| {
            Ok(c.execute(
                "INSERT OR IGNORE INTO assertion_jti (client_id, jti, expires_at) VALUES (?1, ?2, ?3)",
                params![cid, jti, expires_at],
            )? == 1)
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %format!("{e:#}"), "cannot record a client assertion");
            "the server cannot check the client assertion now".to_owned()
        })?;
    if fresh {
        Ok(())
    } else {
        Err("the client assertion was already used (jti replay)".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn jwk(v: serde_json::Value) -> Jwk {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn algorithm_comes_from_the_key_too() {
        let rsa = jwk(json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"}));
        let rsa_rs = jwk(json!({"kty": "RSA", "alg": "RS256", "n": "AQAB", "e": "AQAB"}));
        let ec = jwk(json!({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}));
        let ed = jwk(json!({"kty": "OKP", "crv": "Ed25519", "x": "AA"}));
        assert!(key_fits(&rsa, Algorithm::RS256));
        assert!(key_fits(&rsa, Algorithm::PS256));
        assert!(key_fits(&rsa_rs, Algorithm::RS256));
        assert!(!key_fits(&rsa_rs, Algorithm::PS256));
        assert!(!key_fits(&rsa, Algorithm::ES256));
        assert!(!key_fits(&rsa, Algorithm::HS256));
        assert!(key_fits(&ec, Algorithm::ES256));
        assert!(!key_fits(&ec, Algorithm::EdDSA));
        assert!(key_fits(&ed, Algorithm::EdDSA));
        assert!(!key_fits(&ed, Algorithm::RS256));
        for alg in [Algorithm::HS256, Algorithm::RS512, Algorithm::ES384] {
            assert!(!allowed_algorithm(alg), "{alg:?}");
        }
    }

    #[test]
    fn claimed_client_reads_iss_without_trusting_it() {
        let b64 = |v: serde_json::Value| {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let t = format!(
            "{}.{}.sig",
            b64(json!({"alg": "RS256"})),
            b64(json!({"iss": "https://c.example/client.json"}))
        );
        assert_eq!(
            claimed_client(&t).as_deref(),
            Some("https://c.example/client.json")
        );
        assert_eq!(claimed_client("garbage"), None);
    }
}

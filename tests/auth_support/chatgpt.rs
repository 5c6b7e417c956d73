//! An emulated ChatGPT connector, as it behaves in late 2026 (issue 8): a real HTTP server on
//! 127.0.0.1 that publishes ChatGPT's two Client ID Metadata Document shapes and its JWKS, and
//! signs RFC 7523 client assertions with RS256 the way ChatGPT does (`iss` = `sub` =
//! `client_id`, `aud` = the token endpoint, a five-minute `exp`, a fresh `jti`, `kid` and
//! `typ: JWT` in the header).
//!
//! The documents are ChatGPT's own, field for field, with only the host moved to loopback (a
//! `client_id` must be the URL it is served at). The redirect URIs stay ChatGPT's real ones: the
//! tests never follow the last redirect, they read the code out of it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};

/// The per-connector redirect ChatGPT registers (`/connector/oauth/<id>`).
pub const CONNECTOR_REDIRECT: &str = "https://chatgpt.com/connector/oauth/c0nn3ct0r";
/// The redirect of ChatGPT's platform-wide document.
pub const PLATFORM_REDIRECT: &str = "https://chatgpt.com/connector_platform_oauth_redirect";
pub const LOGO_URI: &str = "https://persistent.oaistatic.com/sonic/misc/openai-logo.png";

/// An RSA key pair with its JWK id.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub private: RsaPrivateKey,
}

impl SigningKey {
    pub fn encoding(&self) -> EncodingKey {
        EncodingKey::from_rsa_der(self.private.to_pkcs1_der().unwrap().as_bytes())
    }

    pub fn jwk(&self) -> Value {
        let public = RsaPublicKey::from(&self.private);
        json!({
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        })
    }
}

/// 2048-bit RSA keys are slow to make in a test build: a few, made once per test binary.
pub fn rsa_key(n: usize) -> RsaPrivateKey {
    static KEYS: OnceLock<Mutex<Vec<RsaPrivateKey>>> = OnceLock::new();
    let keys = KEYS.get_or_init(Default::default);
    let mut keys = keys.lock().unwrap();
    while keys.len() <= n {
        keys.push(RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap());
    }
    keys[n].clone()
}

struct Shared {
    base: String,
    /// The keys the JWKS publishes (ChatGPT may rotate them).
    published: Mutex<Vec<SigningKey>>,
    jwks_fetches: AtomicUsize,
    document_fetches: AtomicUsize,
}

/// The emulated ChatGPT.
pub struct ChatGpt {
    pub base: String,
    shared: Arc<Shared>,
    /// The key it signs with.
    pub key: Mutex<SigningKey>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ChatGpt {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ChatGpt {
    pub async fn start() -> ChatGpt {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let key = SigningKey {
            kid: "chatgpt-2026-1".into(),
            private: rsa_key(0),
        };
        let shared = Arc::new(Shared {
            base: base.clone(),
            published: Mutex::new(vec![key.clone()]),
            jwks_fetches: AtomicUsize::new(0),
            document_fetches: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/oauth/c0nn3ct0r/client.json", get(connector_document))
            .route("/oauth/client.json", get(platform_document))
            .route("/oauth/jwks.json", get(jwks))
            .with_state(shared.clone());
        let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        ChatGpt {
            base,
            shared,
            key: Mutex::new(key),
            task,
        }
    }

    /// The per-connector document's URL, its `client_id`.
    pub fn connector_client_id(&self) -> String {
        format!("{}/oauth/c0nn3ct0r/client.json", self.base)
    }

    /// The platform document's URL (`token_endpoint_auth_methods_supported: [none, private_key_jwt]`).
    pub fn platform_client_id(&self) -> String {
        format!("{}/oauth/client.json", self.base)
    }

    pub fn jwks_fetches(&self) -> usize {
        self.shared.jwks_fetches.load(Ordering::SeqCst)
    }

    pub fn document_fetches(&self) -> usize {
        self.shared.document_fetches.load(Ordering::SeqCst)
    }

    /// Publishes a new key and signs with it from now on (a key rotation).
    pub fn rotate(&self, kid: &str, n: usize) {
        let key = SigningKey {
            kid: kid.into(),
            private: rsa_key(n),
        };
        self.shared.published.lock().unwrap().push(key.clone());
        *self.key.lock().unwrap() = key;
    }

    /// The claims ChatGPT puts in an assertion for `client_id` at `token_endpoint`.
    pub fn claims(client_id: &str, token_endpoint: &str) -> Value {
        let iat = chrono::Utc::now().timestamp();
        json!({
            "iss": client_id, "sub": client_id, "aud": token_endpoint,
            "iat": iat, "exp": iat + 300, "jti": uuid_like(),
        })
    }

    /// A fresh assertion, as ChatGPT sends one with each token request.
    pub fn assertion(&self, client_id: &str, token_endpoint: &str) -> String {
        self.sign(&Self::claims(client_id, token_endpoint))
    }

    /// Signs arbitrary claims with the current key (RS256, its kid).
    pub fn sign(&self, claims: &Value) -> String {
        let key = self.key.lock().unwrap().clone();
        let mut h = Header::new(Algorithm::RS256);
        h.kid = Some(key.kid.clone());
        h.typ = Some("JWT".into());
        jsonwebtoken::encode(&h, claims, &key.encoding()).unwrap()
    }
}

/// 122 random bits as a UUID-shaped string, like ChatGPT's `jti`.
pub fn uuid_like() -> String {
    let mut b = [0u8; 16];
    rand::fill(&mut b);
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

async fn connector_document(State(s): State<Arc<Shared>>) -> axum::Json<Value> {
    s.document_fetches.fetch_add(1, Ordering::SeqCst);
    axum::Json(json!({
        "client_id": format!("{}/oauth/c0nn3ct0r/client.json", s.base),
        "client_uri": "https://chatgpt.com/",
        "client_name": "ChatGPT",
        "logo_uri": LOGO_URI,
        "redirect_uris": [CONNECTOR_REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": "RS256",
        "jwks_uri": format!("{}/oauth/jwks.json", s.base),
    }))
}

async fn platform_document(State(s): State<Arc<Shared>>) -> axum::Json<Value> {
    s.document_fetches.fetch_add(1, Ordering::SeqCst);
    axum::Json(json!({
        "client_id": format!("{}/oauth/client.json", s.base),
        "client_uri": "https://chatgpt.com/",
        "client_name": "ChatGPT",
        "logo_uri": LOGO_URI,
        "redirect_uris": [PLATFORM_REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
        "token_endpoint_auth_signing_alg": "RS256",
        "jwks_uri": format!("{}/oauth/jwks.json", s.base),
    }))
}

async fn jwks(State(s): State<Arc<Shared>>) -> axum::Json<Value> {
    s.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let keys: Vec<Value> = s
        .published
        .lock()
        .unwrap()
        .iter()
        .map(SigningKey::jwk)
        .collect();
    axum::Json(json!({ "keys": keys }))
}

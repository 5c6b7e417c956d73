//! The OAuth 2.1 authorization server and the resource server's bearer check.
//!
//! vaultmcp is its own authorization server: clients (ChatGPT, Claude, SDKs) register
//! dynamically or by a Client ID Metadata Document, the person approves the client on our
//! consent page, proves who they are at GitHub (or, in `--local-login`, just approves), and the
//! client gets a short-lived EdDSA JWT signed by us plus a rotating refresh token. The MCP
//! routes accept only our JWTs whose audience is this server ([`require_bearer`]).
//!
//! Map: [`metadata`] (RFC 9728 / RFC 8414 documents and the JWKS), [`clients`] (registration,
//! CIMD, redirect-URI rules), [`consent`] (`/authorize`, the HTML page, CSRF), [`github`] (the
//! upstream login and the allow-list), [`tokens`] (`/token`, `/revoke`, JWT mint and verify),
//! [`bearer`] (the middleware), [`store`] (SQLite), [`keys`], [`ratelimit`], [`errors`].
//!
//! Invariants: the GitHub access token never leaves [`github`] and is never stored; codes and
//! refresh tokens are stored only as hashes; nothing here reads the environment (that is
//! [`crate::config`]); errors before the client's redirect URI is trusted are HTML pages, never
//! redirects.

pub mod admin;
pub mod allowlist;
pub mod assertion;
pub mod bearer;
pub mod cimd;
pub mod client;
pub mod client_keys;
pub mod clients;
pub mod consent;
pub mod errors;
pub mod fetch;
pub mod github;
pub mod keys;
pub mod metadata;
pub mod pat;
pub mod ratelimit;
pub mod redirect;
pub mod request;
pub mod revocation;
pub mod store;
pub mod tokens;
pub mod web;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::Router;
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

pub use bearer::{AuthUser, require_bearer};

use crate::config::{Config, GitHubConfig, is_loopback_host};

/// The one scope vaultmcp knows.
pub const SCOPE: &str = "notes:read";

/// How long a person has between approving the consent page and coming back from GitHub.
const PENDING_LOGIN_TTL_SECS: i64 = 600;

/// Unused client registrations are forgotten after this long.
const CLIENT_IDLE_SECS: i64 = 90 * 24 * 3600;

/// How the MCP routes are protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// GitHub sign-in with an allow-list (the only mode for a non-loopback public URL).
    GitHub,
    /// `--local-login`: approving the consent page signs in as `local` (loopback only).
    LocalLogin,
    /// `--no-auth`: MCP needs no token (loopback only).
    NoAuth,
}

/// How often a running server looks for a key rotated by `vaultmcp keys rotate`.
pub const KEY_POLL_INTERVAL: Duration = Duration::from_secs(60);

/// Everything the auth module needs, taken from [`Config`] by [`AuthSettings::from_config`].
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// The public base URL; a trailing slash is ignored.
    pub public_url: url::Url,
    /// Where `auth.sqlite3` lives (mode 0600).
    pub data_dir: PathBuf,
    pub mode: AuthMode,
    pub github: GitHubConfig,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// Trust the last `X-Forwarded-For` hop (the proxy's) as the client address (rate limits).
    pub trust_forwarded_for: bool,
    /// `VAULTMCP_ALLOW_LOOPBACK_FETCH`: metadata documents and client key sets may be fetched
    /// over http from loopback addresses (tests and local development; [`choose_mode`] refuses
    /// it unless the public URL is loopback).
    pub allow_loopback_fetch: bool,
    /// A client's key set is never fetched more often than this ([`client_keys::MIN_REFETCH`];
    /// tests shorten it).
    pub client_key_refetch: Duration,
    /// Lifetime of an authorization code (60 s; tests shorten it).
    pub code_ttl: Duration,
    /// How old the signing keys in memory may get before they are read again from the store,
    /// which is how a `keys rotate` run by another process reaches a running server (60 s;
    /// tests shorten it).
    pub key_poll_interval: Duration,
}

impl AuthSettings {
    pub fn from_config(c: &Config, mode: AuthMode) -> AuthSettings {
        AuthSettings {
            public_url: c.public_url.clone(),
            data_dir: c.data_dir.clone(),
            mode,
            github: c.github.clone(),
            access_token_ttl: Duration::from_secs(c.access_token_ttl_secs),
            refresh_token_ttl: Duration::from_secs(c.refresh_token_ttl_secs),
            trust_forwarded_for: c.trust_forwarded_for,
            allow_loopback_fetch: c.allow_loopback_fetch,
            client_key_refetch: client_keys::MIN_REFETCH,
            code_ttl: Duration::from_secs(60),
            key_poll_interval: KEY_POLL_INTERVAL,
        }
    }
}

/// The authorization server and bearer checker; cheap to clone.
#[derive(Clone)]
pub struct Auth {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub settings: AuthSettings,
    /// The public URL without a trailing slash: the issuer.
    pub base: String,
    pub store: store::Store,
    pub keys: RwLock<keys::KeyRing>,
    pub keys_loaded: Mutex<Instant>,
    /// For GitHub and CIMD fetches; never follows redirects.
    pub http: reqwest::Client,
    pub limiter: ratelimit::RateLimiter,
    pub cimd_cache: cimd::DocumentCache,
    /// Key sets of `private_key_jwt` clients.
    pub client_keys: client_keys::KeyCache,
    /// Revoked access tokens and grants, usable personal tokens (see [`revocation`]).
    pub revocations: revocation::Revocations,
}

impl Auth {
    /// Opens (creating and migrating) `<data_dir>/auth.sqlite3` and loads or creates the
    /// signing key.
    pub async fn open(settings: AuthSettings) -> anyhow::Result<Auth> {
        let base = settings
            .public_url
            .as_str()
            .trim_end_matches('/')
            .to_owned();
        let data_dir = settings.data_dir.clone();
        let grace = key_grace_secs(&settings);
        let (store, ring, revoked) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let store = store::Store::open(&data_dir)?;
            let mut conn = store::open_connection(&data_dir)?;
            let ring = keys::load_or_create(&mut conn, grace)?;
            let now = store::now();
            store::prune::pass(&conn, now, grace, CLIENT_IDLE_SECS)?;
            let revoked = revocation::Revocations::read(&conn, now, grace)?;
            Ok((store, ring, revoked))
        })
        .await
        .context("auth start-up task failed")??;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .user_agent(concat!("vaultmcp/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot build the HTTP client")?;
        tracing::info!(mode = ?settings.mode, issuer = %base, kid = %ring.active_kid, "auth ready");
        let auth = Auth {
            inner: Arc::new(Inner {
                settings,
                base,
                store,
                keys: RwLock::new(ring),
                keys_loaded: Mutex::new(Instant::now()),
                http,
                limiter: ratelimit::RateLimiter::default(),
                cimd_cache: cimd::DocumentCache::default(),
                client_keys: client_keys::KeyCache::default(),
                revocations: revocation::Revocations::from_snapshot(revoked),
            }),
        };
        tokio::spawn(revocation::maintain(Arc::downgrade(&auth.inner)));
        Ok(auth)
    }

    /// All authorization-server routes (metadata, registration, authorize, callback, token,
    /// revoke, JWKS). Not `/mcp` and not `/healthz`.
    pub fn router(&self) -> Router {
        let cors = tower_http::cors::CorsLayer::new()
            .allow_origin(tower_http::cors::Any)
            .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
            .allow_headers([
                axum::http::header::CONTENT_TYPE,
                axum::http::header::AUTHORIZATION,
                "mcp-protocol-version".parse().expect("static header name"),
            ]);
        let api = Router::new()
            .route(
                "/.well-known/oauth-protected-resource",
                get(metadata::protected_resource_root),
            )
            .route(
                "/.well-known/oauth-protected-resource/mcp",
                get(metadata::protected_resource_mcp),
            )
            .route(
                "/.well-known/oauth-authorization-server",
                get(metadata::authorization_server),
            )
            .route(
                "/.well-known/openid-configuration",
                get(metadata::authorization_server),
            )
            .route("/jwks.json", get(metadata::jwks))
            .route("/register", post(clients::register))
            .route("/token", post(tokens::token))
            .route("/revoke", post(tokens::revoke))
            .layer(cors);
        Router::new()
            .route(
                "/authorize",
                get(consent::authorize_get).post(consent::authorize_post),
            )
            .route("/oauth/github/callback", get(github::callback))
            .merge(api)
            .with_state(self.clone())
    }

    pub fn mode(&self) -> &AuthMode {
        &self.inner.settings.mode
    }

    /// The issuer: the public URL without a trailing slash.
    pub fn issuer(&self) -> &str {
        &self.inner.base
    }

    /// Whether the public URL is https (cookies get `Secure` and the `__Host-` prefix).
    pub(crate) fn https(&self) -> bool {
        self.inner.settings.public_url.scheme() == "https"
    }

    pub(crate) fn settings(&self) -> &AuthSettings {
        &self.inner.settings
    }

    /// The resource a request names, checked against ours: `<base>/mcp`, `<base>` or `<base>/`.
    /// Absent means `<base>/mcp`.
    pub(crate) fn check_resource(&self, resource: Option<&str>) -> Option<String> {
        let base = &self.inner.base;
        match resource {
            None | Some("") => Some(format!("{base}/mcp")),
            Some(r) if self.valid_audiences().iter().any(|a| a == r) => Some(r.to_owned()),
            Some(_) => None,
        }
    }

    /// Every audience an access token may carry.
    pub(crate) fn valid_audiences(&self) -> [String; 3] {
        let base = &self.inner.base;
        [format!("{base}/mcp"), base.clone(), format!("{base}/")]
    }

    /// Reloads the key ring from the store when it is older than the key poll interval (a
    /// `keys rotate` run by another process shows up this way).
    pub(crate) async fn refresh_keys(&self) -> anyhow::Result<()> {
        self.refresh_keys_older_than(self.inner.settings.key_poll_interval)
            .await
    }

    /// Reloads the key ring from the store when it is older than `max_age`.
    pub(crate) async fn refresh_keys_older_than(&self, max_age: Duration) -> anyhow::Result<()> {
        {
            let mut loaded = self
                .inner
                .keys_loaded
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if loaded.elapsed() < max_age {
                return Ok(());
            }
            *loaded = Instant::now();
        }
        let grace = key_grace_secs(&self.inner.settings);
        let ring = self
            .inner
            .store
            .call(move |conn| keys::load_or_create(conn, grace))
            .await?;
        *self.inner.keys.write().unwrap_or_else(|p| p.into_inner()) = ring;
        Ok(())
    }
}

impl Auth {
    /// Writes an audit entry (best effort: a failure is logged, never fails the request).
    pub(crate) async fn audit(
        &self,
        event: &str,
        who: Option<&str>,
        client_id: Option<&str>,
        ip: Option<std::net::IpAddr>,
        detail: Option<String>,
    ) {
        let e = store::audit::Entry {
            at: store::now(),
            event: event.to_owned(),
            who: who.map(str::to_owned),
            client_id: client_id.map(str::to_owned),
            ip: ip.map(|i| i.to_string()),
            detail,
        };
        if let Err(err) = self
            .inner
            .store
            .call(move |c| Ok(store::audit::record(c, &e)?))
            .await
        {
            tracing::warn!(error = %format!("{err:#}"), "cannot write the audit log");
        }
    }

    /// The client address of a request, as the rate limiter sees it.
    pub(crate) fn peer_ip(
        &self,
        headers: &axum::http::HeaderMap,
        connect: &ratelimit::Peer,
    ) -> std::net::IpAddr {
        ratelimit::client_ip(
            headers,
            connect.as_ref().map(|e| &e.0),
            self.settings().trust_forwarded_for,
        )
    }
}

/// A retired key verifies for as long as a token it signed can live, plus leeway.
fn key_grace_secs(s: &AuthSettings) -> i64 {
    i64::try_from(s.access_token_ttl.as_secs()).unwrap_or(i64::MAX / 2) + 120
}

/// Retires the active signing key and creates a new one; returns the new key id. Tokens signed
/// by the retired key stay valid until they expire (its public key stays in the JWKS until then).
/// A running server picks the new key up within [`KEY_POLL_INTERVAL`].
pub fn rotate_keys(data_dir: &Path) -> anyhow::Result<String> {
    let mut conn = store::open_connection(data_dir)?;
    keys::rotate(&mut conn)
}

/// Picks the auth mode at start-up, refusing unsafe combinations (see the contract).
pub fn choose_mode(c: &Config) -> anyhow::Result<AuthMode> {
    let loopback =
        c.bind.ip().is_loopback() && c.public_url.host_str().is_some_and(is_loopback_host);
    if c.allow_loopback_fetch {
        if !c.public_url.host_str().is_some_and(is_loopback_host) {
            bail!(
                "VAULTMCP_ALLOW_LOOPBACK_FETCH is for tests and local development only and needs a loopback public URL (got {}); unset it",
                c.public_url
            );
        }
        tracing::warn!(
            "VAULTMCP_ALLOW_LOOPBACK_FETCH is set: client metadata documents and key sets may be fetched over http from loopback addresses (tests and local development only)"
        );
    }
    let gh = &c.github;
    if c.no_auth || c.local_login {
        let flag = if c.no_auth {
            "--no-auth"
        } else {
            "--local-login"
        };
        if !loopback {
            bail!(
                "{flag} only runs with a loopback --bind and --public-url (got {} and {}); use GitHub sign-in to serve anything else",
                c.bind,
                c.public_url
            );
        }
        return Ok(if c.no_auth {
            AuthMode::NoAuth
        } else {
            AuthMode::LocalLogin
        });
    }
    let any_github = gh.client_id.is_some()
        || gh.client_secret.is_some()
        || !gh.allowed_ids.is_empty()
        || !gh.allowed_logins.is_empty();
    if !any_github {
        if loopback {
            tracing::info!(
                "no GitHub settings: running as --local-login on loopback (approving the consent page signs in as `local`); \
                 to sign in with GitHub, create a GitHub OAuth App with callback {}/oauth/github/callback and set \
                 GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET and GITHUB_ALLOWED_ID (or GITHUB_ALLOWED_LOGIN)",
                c.public_base()
            );
            return Ok(AuthMode::LocalLogin);
        }
        bail!(
            "refusing to serve {} without sign-in: set GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET and GITHUB_ALLOWED_ID or GITHUB_ALLOWED_LOGIN",
            c.public_url
        );
    }
    if gh.client_id.is_none() {
        bail!("GITHUB_CLIENT_ID is not set (the GitHub OAuth App's client id)");
    }
    if gh.client_secret.is_none() {
        bail!("GITHUB_CLIENT_SECRET is not set (the GitHub OAuth App's client secret)");
    }
    if gh.allowed_ids.is_empty() && gh.allowed_logins.is_empty() {
        bail!(
            "no allow-list: set GITHUB_ALLOWED_ID (numeric GitHub user ids) or GITHUB_ALLOWED_LOGIN so that not every GitHub user can read the vault"
        );
    }
    if gh.allowed_ids.is_empty() {
        tracing::warn!(
            "only GITHUB_ALLOWED_LOGIN is set: a GitHub login can be renamed and re-registered by someone else; \
             pin the account with GITHUB_ALLOWED_ID (its numeric id is logged at the first sign-in)"
        );
    } else if !gh.allowed_logins.is_empty() {
        tracing::warn!(
            "GITHUB_ALLOWED_ID is set, so GITHUB_ALLOWED_LOGIN is ignored: only the listed numeric ids may sign in"
        );
    }
    Ok(AuthMode::GitHub)
}

/// 32 random bytes, base64url: codes, refresh tokens, states, CSRF tokens, client ids.
pub(crate) fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::fill(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// Hex SHA-256, how codes, refresh tokens and client secrets are stored.
pub(crate) fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Constant-time comparison of two strings (length may leak, content does not).
pub(crate) fn ct_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(bind: &str, public: &str, gh: (bool, bool, &[u64], &[&str])) -> Config {
        Config {
            vault: PathBuf::from("/v"),
            data_dir: PathBuf::from("/d"),
            model: None,
            model_base_url: "https://huggingface.co".into(),
            max_note_bytes: 1,
            bind: bind.parse().unwrap(),
            public_url: public.parse().unwrap(),
            allowed_origins: Vec::new(),
            local_login: false,
            no_auth: false,
            github: GitHubConfig {
                client_id: gh.0.then(|| "id".to_owned()),
                client_secret: gh.1.then(|| "secret".to_owned()),
                allowed_ids: gh.2.to_vec(),
                allowed_logins: gh.3.iter().map(|s| s.to_string()).collect(),
                web_url: "https://github.com".parse().unwrap(),
                api_url: "https://api.github.com".parse().unwrap(),
            },
            access_token_ttl_secs: 3600,
            refresh_token_ttl_secs: 3600,
            trust_forwarded_for: false,
            allow_loopback_fetch: false,
            logging: Default::default(),
        }
    }

    #[test]
    fn mode_choice() {
        const NONE: (bool, bool, &[u64], &[&str]) = (false, false, &[], &[]);
        const FULL: (bool, bool, &[u64], &[&str]) = (true, true, &[42], &[]);
        let lo = |gh| config("127.0.0.1:8787", "http://127.0.0.1:8787", gh);
        let public = |gh| config("0.0.0.0:8787", "https://notes.example.com", gh);
        let tunnel = |gh| config("127.0.0.1:8787", "https://abc.trycloudflare.com", gh);

        assert_eq!(choose_mode(&lo(NONE)).unwrap(), AuthMode::LocalLogin);
        assert_eq!(choose_mode(&lo(FULL)).unwrap(), AuthMode::GitHub);
        assert_eq!(choose_mode(&public(FULL)).unwrap(), AuthMode::GitHub);
        assert_eq!(
            choose_mode(&public((true, true, &[], &["alice"]))).unwrap(),
            AuthMode::GitHub
        );
        // No GitHub settings behind a tunnel or on a public bind: refuse.
        assert!(choose_mode(&public(NONE)).is_err());
        assert!(choose_mode(&tunnel(NONE)).is_err());
        // Partial GitHub settings: refuse with what is missing.
        let e = choose_mode(&lo((true, false, &[42], &[])))
            .unwrap_err()
            .to_string();
        assert!(e.contains("GITHUB_CLIENT_SECRET"), "{e}");
        let e = choose_mode(&public((true, true, &[], &[])))
            .unwrap_err()
            .to_string();
        assert!(e.contains("allow-list"), "{e}");
        // Dev flags: loopback bind and public URL only.
        for (no_auth, want) in [(true, AuthMode::NoAuth), (false, AuthMode::LocalLogin)] {
            let flag = |mut c: Config| {
                c.no_auth = no_auth;
                c.local_login = !no_auth;
                c
            };
            assert_eq!(choose_mode(&flag(lo(FULL))).unwrap(), want);
            assert!(choose_mode(&flag(tunnel(NONE))).is_err());
            assert!(
                choose_mode(&flag(config("0.0.0.0:8787", "http://127.0.0.1:8787", NONE))).is_err()
            );
        }
    }

    #[test]
    fn loopback_fetch_switch_needs_a_loopback_public_url() {
        const FULL: (bool, bool, &[u64], &[&str]) = (true, true, &[42], &[]);
        let with_switch = |bind: &str, public: &str| {
            let mut c = config(bind, public, FULL);
            c.allow_loopback_fetch = true;
            choose_mode(&c)
        };
        assert!(with_switch("127.0.0.1:8787", "http://127.0.0.1:8787").is_ok());
        assert!(with_switch("127.0.0.1:8787", "http://localhost:8787").is_ok());
        let e = with_switch("127.0.0.1:8787", "https://abc.trycloudflare.com")
            .unwrap_err()
            .to_string();
        assert!(e.contains("VAULTMCP_ALLOW_LOOPBACK_FETCH"), "{e}");
        assert!(with_switch("0.0.0.0:8787", "https://notes.example.com").is_err());
    }

    #[test]
    fn constant_time_eq() {
        assert!(ct_eq("abc", "abc"));
        assert!(!ct_eq("abc", "abd"));
        assert!(!ct_eq("abc", "ab"));
    }
}

//! Test helpers: the app under test served on a real listener, a stand-in GitHub, a tiny
//! browser (no redirects, a cookie jar) and an OAuth client that drives the whole flow.

#![allow(dead_code)]

pub mod chatgpt;
pub mod documents;
pub mod github;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use axum::Router;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use vaultmcp::auth::{Auth, AuthMode, AuthSettings};
use vaultmcp::config::GitHubConfig;
use vaultmcp::http::{HttpSettings, ServerState, build_router};
use vaultmcp::index::NoteIndex;
use vaultmcp::vault::Vault;

pub use github::FakeGitHub;

/// The application as served: the real router (MCP behind the bearer layer, the OAuth routes,
/// `/healthz`) over an index of `vault-fixtures` kept in `data_dir`.
pub fn app(auth: Auth, data_dir: &std::path::Path, base: &str) -> Router {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("vault-fixtures");
    let vault = Vault::open(&fixtures, 10 << 20).unwrap();
    let index = NoteIndex::open_or_create(&data_dir.join("index"), vault).unwrap();
    {
        let mut indexer = index.indexer().unwrap();
        indexer.sync_all(false, &()).unwrap();
    }
    let settings = HttpSettings {
        public_url: base.parse().unwrap(),
        allowed_origins: Vec::new(),
    };
    build_router(
        index,
        &settings,
        ServerState::default(),
        auth,
        CancellationToken::new(),
    )
}

/// The claims of a JWT, without checking anything (the server checks; tests read).
pub fn claims(token: &str) -> Value {
    jwt_part(token, 1)
}

/// The header of a JWT, without checking anything.
pub fn header(token: &str) -> Value {
    jwt_part(token, 0)
}

fn jwt_part(token: &str, n: usize) -> Value {
    let part = token.split('.').nth(n).expect("a JWT has three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// How a test server is set up.
#[derive(Clone)]
pub struct Options {
    pub mode: AuthMode,
    pub allowed_ids: Vec<u64>,
    pub allowed_logins: Vec<String>,
    pub code_ttl: Duration,
    pub access_ttl: Duration,
    pub allow_loopback_fetch: bool,
    /// How often a client key set may be fetched again.
    pub client_key_refetch: Duration,
    /// How often the server rereads its signing keys.
    pub key_poll_interval: Duration,
    /// The stand-in GitHub's account.
    pub gh_login: String,
    pub gh_id: u64,
    /// `VAULTMCP_TRUST_FORWARDED_FOR`: rate limits key on `X-Forwarded-For`.
    pub trust_forwarded_for: bool,
    /// Lifetime of a refresh token (zero: expired as soon as issued).
    pub refresh_ttl: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            mode: AuthMode::GitHub,
            allowed_ids: vec![42],
            allowed_logins: vec![],
            code_ttl: Duration::from_secs(60),
            key_poll_interval: vaultmcp::auth::KEY_POLL_INTERVAL,
            access_ttl: Duration::from_secs(3600),
            allow_loopback_fetch: false,
            client_key_refetch: Duration::from_secs(30),
            gh_login: "alice".into(),
            gh_id: 42,
            trust_forwarded_for: false,
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// A running server with its stand-in GitHub and a browser.
pub struct Env {
    pub base: String,
    pub addr: SocketAddr,
    pub auth: Auth,
    pub settings: AuthSettings,
    pub gh: FakeGitHub,
    pub browser: Browser,
    pub dir: tempfile::TempDir,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Env {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub fn settings_for(
    opts: &Options,
    base: &str,
    data_dir: &std::path::Path,
    gh_url: &str,
) -> AuthSettings {
    AuthSettings {
        public_url: base.parse().unwrap(),
        data_dir: data_dir.to_owned(),
        mode: opts.mode,
        github: GitHubConfig {
            client_id: Some(github::CLIENT_ID.into()),
            client_secret: Some(github::CLIENT_SECRET.into()),
            allowed_logins: opts.allowed_logins.clone(),
            allowed_ids: opts.allowed_ids.clone(),
            web_url: gh_url.parse().unwrap(),
            api_url: gh_url.parse().unwrap(),
        },
        access_token_ttl: opts.access_ttl,
        refresh_token_ttl: opts.refresh_ttl,
        trust_forwarded_for: opts.trust_forwarded_for,
        allow_loopback_fetch: opts.allow_loopback_fetch,
        client_key_refetch: opts.client_key_refetch,
        code_ttl: opts.code_ttl,
        key_poll_interval: opts.key_poll_interval,
    }
}

async fn serve(
    listener: tokio::net::TcpListener,
    auth: Auth,
    data_dir: &std::path::Path,
) -> tokio::task::JoinHandle<()> {
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = app(auth, data_dir, &base);
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    })
}

impl Env {
    pub async fn start(opts: Options) -> Env {
        let gh = FakeGitHub::start(&opts.gh_login, opts.gh_id).await;
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let settings = settings_for(&opts, &base, dir.path(), &gh.url);
        let auth = Auth::open(settings.clone()).await.unwrap();
        let server = serve(listener, auth.clone(), dir.path()).await;
        Env {
            base,
            addr,
            auth,
            settings,
            gh,
            browser: Browser::new(),
            dir,
            server,
        }
    }

    /// Stops the server, drops `Auth`, and opens a fresh one on the same data dir and port.
    pub async fn restart_with(&mut self, settings: AuthSettings) {
        self.server.abort();
        let _ = (&mut self.server).await;
        self.settings = settings;
        self.auth = Auth::open(self.settings.clone()).await.unwrap();
        let mut tries = 0;
        let listener = loop {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) if tries < 50 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("cannot re-bind {}: {e}", self.addr),
            }
        };
        self.server = serve(listener, self.auth.clone(), self.dir.path()).await;
        // A new browser: no pooled connection to the old server survives.
        self.browser = Browser::new();
    }

    pub async fn restart(&mut self) {
        let s = self.settings.clone();
        self.restart_with(s).await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET `path` with the browser and parse the answer as JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        self.browser
            .http
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Registers a public client.
    pub async fn register(&self, redirect_uri: &str) -> Client {
        let r = self
            .browser
            .http
            .post(self.url("/register"))
            .json(&json!({"client_name": "Test <App>", "redirect_uris": [redirect_uri], "token_endpoint_auth_method": "none", "grant_types": ["authorization_code", "refresh_token"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "registration failed");
        let v: Value = r.json().await.unwrap();
        Client {
            client_id: v["client_id"].as_str().unwrap().to_owned(),
            client_secret: None,
            redirect_uri: redirect_uri.to_owned(),
        }
    }

    /// POSTs a registration request as JSON; the status and the JSON answer (Null if none).
    pub async fn register_raw(&self, body: &Value) -> (u16, Value) {
        let r = self
            .browser
            .http
            .post(self.url("/register"))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Stores an authorization code for `c` the way the token endpoint finds codes, but with
    /// the given PKCE challenge (empty: a code issued without one, as no request of ours can
    /// produce). Returns the code.
    pub fn plant_code(&self, c: &Client, challenge: &str) -> String {
        let mut b = [0u8; 32];
        rand::fill(&mut b);
        let code = URL_SAFE_NO_PAD.encode(b);
        let hash: String = Sha256::digest(code.as_bytes())
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect();
        let conn = rusqlite::Connection::open(self.dir.path().join("auth.sqlite3")).unwrap();
        conn.busy_timeout(Duration::from_secs(5)).unwrap();
        conn.execute(
            "INSERT INTO codes (code_hash, client_id, redirect_uri, code_challenge, resource, scope, sub, login, github_id, expires_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, 'notes:read', 'github:42', 'alice', 42, ?6)",
            rusqlite::params![
                hash,
                c.client_id,
                c.redirect_uri,
                challenge,
                format!("{}/mcp", self.base),
                chrono::Utc::now().timestamp_millis() + 60_000
            ],
        )
        .unwrap();
        code
    }

    /// The authorize URL for a client with a fresh PKCE pair.
    pub fn authorize_url(&self, c: &Client, pkce: &Pkce, extra: &[(&str, &str)]) -> String {
        let mut u = url::Url::parse(&self.url("/authorize")).unwrap();
        {
            let mut q = u.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &c.client_id)
                .append_pair("redirect_uri", &c.redirect_uri)
                .append_pair("state", "st4te")
                .append_pair("code_challenge", &pkce.challenge)
                .append_pair("code_challenge_method", "S256")
                .append_pair("resource", &format!("{}/mcp", self.base))
                .append_pair("scope", "notes:read");
        }
        let mut u = override_params(u, extra);
        u.set_fragment(None);
        u.to_string()
    }

    /// GET /authorize and return the consent form's fields, or panic with the response.
    pub async fn consent_form(&self, authorize_url: &str) -> HashMap<String, String> {
        let r = self.browser.get(authorize_url).await;
        assert_eq!(
            r.status, 200,
            "consent page expected, got {} {:?} {}",
            r.status, r.location, r.body
        );
        parse_form(&r.body)
    }

    /// Drives authorize → consent (approve) → GitHub → callback, returning the final redirect.
    pub async fn approve(&self, authorize_url: &str) -> Url {
        let mut form = self.consent_form(authorize_url).await;
        form.insert("decision".into(), "approve".into());
        let r = self.browser.post_form(&self.url("/authorize"), &form).await;
        assert_eq!(r.status, 303, "approve should redirect: {}", r.body);
        self.follow_to_client(r.location.unwrap()).await
    }

    /// Follows redirects (GitHub and our callback) until one leaves for the client.
    pub async fn follow_to_client(&self, mut location: String) -> Url {
        for _ in 0..5 {
            if !location.starts_with(&self.base) && !location.starts_with(&self.gh.url) {
                return url::Url::parse(&location).unwrap();
            }
            let r = self.browser.get(&location).await;
            assert!(
                r.status.is_redirection(),
                "expected a redirect from {location}, got {} {}",
                r.status,
                r.body
            );
            location = r.location.unwrap();
        }
        panic!("too many redirects");
    }

    /// The full browser part, returning the code (asserting state and iss).
    pub async fn login(&self, c: &Client, pkce: &Pkce) -> String {
        let back = self.approve(&self.authorize_url(c, pkce, &[])).await;
        let q = query(&back);
        assert_eq!(q.get("state").map(String::as_str), Some("st4te"));
        assert_eq!(q.get("iss"), Some(&self.base));
        q.get("code")
            .unwrap_or_else(|| panic!("no code in {back}"))
            .clone()
    }

    pub async fn token(&self, form: &[(&str, &str)]) -> (u16, Value) {
        let r = self
            .browser
            .http
            .post(self.url("/token"))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        assert_eq!(
            r.headers()
                .get("cache-control")
                .and_then(|v| v.to_str().ok()),
            Some("no-store")
        );
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn exchange(&self, c: &Client, code: &str, verifier: &str) -> (u16, Value) {
        let resource = format!("{}/mcp", self.base);
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &c.redirect_uri),
            ("client_id", &c.client_id),
            ("code_verifier", verifier),
            ("resource", &resource),
        ])
        .await
    }

    pub async fn refresh(&self, c: &Client, refresh_token: &str) -> (u16, Value) {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", &c.client_id),
        ])
        .await
    }

    /// Register, log in and exchange: a fresh token response.
    pub async fn tokens(&self) -> (Client, Value) {
        self.tokens_for_client(None).await
    }

    /// Log in and exchange as `client` (a freshly registered one when `None`).
    pub async fn tokens_for_client(&self, client: Option<Client>) -> (Client, Value) {
        let c = match client {
            Some(c) => c,
            None => self.register("http://127.0.0.1:9999/callback").await,
        };
        let pkce = Pkce::new();
        let code = self.login(&c, &pkce).await;
        let (status, t) = self.exchange(&c, &code, &pkce.verifier).await;
        assert_eq!(status, 200, "{t}");
        (c, t)
    }

    /// Revokes a token (RFC 7009) as a public client; the status.
    pub async fn revoke(&self, c: &Client, token: &str) -> u16 {
        self.browser
            .http
            .post(self.url("/revoke"))
            .form(&[("token", token), ("client_id", &c.client_id)])
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// Calls the MCP server (an `initialize`) with a bearer token.
    pub async fn mcp(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "auth-test", "version": "1"}}});
        let mut req = self
            .browser
            .http
            .post(self.url(path))
            .header("accept", "application/json, text/event-stream")
            .json(&init);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    /// Calls an MCP tool with a bearer token, the way a session client does (`initialize`,
    /// `notifications/initialized`, `tools/call`); returns the `tools/call` result.
    pub async fn mcp_tool(&self, token: &str, name: &str, arguments: Value) -> Value {
        let init = self.mcp("/mcp", Some(token)).await;
        assert_eq!(init.status(), 200, "initialize with the token");
        let session = init
            .headers()
            .get("mcp-session-id")
            .expect("a session id")
            .to_str()
            .unwrap()
            .to_owned();
        let post = |body: Value| {
            self.browser
                .http
                .post(self.url("/mcp"))
                .header("accept", "application/json, text/event-stream")
                .header("mcp-session-id", &session)
                .header("mcp-protocol-version", "2025-06-18")
                .bearer_auth(token)
                .json(&body)
        };
        let ack = post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .send()
            .await
            .unwrap();
        assert_eq!(ack.status(), 202);
        let r = post(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": name, "arguments": arguments}}))
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), 200, "tools/call {name}");
        let body = r.text().await.unwrap();
        // The reply is one SSE event (or plain JSON): the JSON-RPC response with id 2.
        let msg = body
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .chain(std::iter::once(body.as_str()))
            .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
            .find(|m| m["id"] == 2)
            .unwrap_or_else(|| panic!("no tools/call response in {body}"));
        assert!(msg.get("error").is_none(), "{msg}");
        msg["result"].clone()
    }

    /// Claims like those of a real access token of ours (alice, `notes:read`, ten minutes).
    pub fn good_claims(&self) -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({"iss": self.base, "aud": format!("{}/mcp", self.base), "sub": "github:42", "login": "alice", "scope": "notes:read",
               "client_id": "c", "iat": now, "exp": now + 600, "jti": "j1"})
    }

    /// Signs `claims` with the server's own active key under `header` (its `kid` is set to the
    /// key's unless the header has one): a token only the server's key could have made.
    pub fn sign_with(&self, mut header: jsonwebtoken::Header, claims: &Value) -> String {
        let (kid, der) = self.signing_key();
        header.kid.get_or_insert(kid);
        jsonwebtoken::encode(
            &header,
            claims,
            &jsonwebtoken::EncodingKey::from_ed_der(&der),
        )
        .unwrap()
    }

    /// The active signing key as stored (kid, PKCS#8 DER), for tests that forge tokens.
    pub fn signing_key(&self) -> (String, Vec<u8>) {
        let conn = rusqlite::Connection::open(self.dir.path().join("auth.sqlite3")).unwrap();
        conn.query_row(
            "SELECT kid, private_pkcs8 FROM signing_keys WHERE retired_at IS NULL",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    }
}

type Url = url::Url;

fn override_params(u: url::Url, extra: &[(&str, &str)]) -> url::Url {
    if extra.is_empty() {
        return u;
    }
    let mut pairs: Vec<(String, String)> = u.query_pairs().into_owned().collect();
    for (k, v) in extra {
        pairs.retain(|(pk, _)| pk != k);
        if !v.is_empty() {
            pairs.push((k.to_string(), v.to_string()));
        }
    }
    let mut u = u.clone();
    u.query_pairs_mut().clear().extend_pairs(pairs);
    u
}

/// The query parameters of a URL.
pub fn query(u: &url::Url) -> HashMap<String, String> {
    u.query_pairs().into_owned().collect()
}

#[derive(Clone, Debug)]
pub struct Client {
    pub client_id: String,
    pub client_secret: Option<String>,
    pub redirect_uri: String,
}

pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Pkce {
        let mut b = [0u8; 32];
        rand::fill(&mut b);
        Pkce::from_verifier(&URL_SAFE_NO_PAD.encode(b))
    }

    /// A pair for a verifier of the caller's choosing (also malformed ones: the challenge is
    /// always its well-formed S256, so only the server's verifier rules can refuse it).
    pub fn from_verifier(verifier: &str) -> Pkce {
        Pkce {
            verifier: verifier.to_owned(),
            challenge: URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
        }
    }
}

/// A response, read whole.
pub struct Page {
    pub status: reqwest::StatusCode,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

/// A minimal browser: never follows redirects, keeps cookies per name.
pub struct Browser {
    pub http: reqwest::Client,
    pub cookies: Mutex<HashMap<String, String>>,
}

impl Browser {
    pub fn new() -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: Mutex::new(HashMap::new()),
        }
    }

    fn cookie_header(&self) -> Option<String> {
        let c = self.cookies.lock().unwrap();
        (!c.is_empty()).then(|| {
            c.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    async fn read(&self, r: reqwest::Response) -> Page {
        for sc in r.headers().get_all("set-cookie") {
            let sc = sc.to_str().unwrap();
            let first = sc.split(';').next().unwrap();
            let (k, v) = first.split_once('=').unwrap();
            if v.is_empty() || sc.contains("Max-Age=0") {
                self.cookies.lock().unwrap().remove(k);
            } else {
                self.cookies
                    .lock()
                    .unwrap()
                    .insert(k.to_owned(), v.to_owned());
            }
        }
        let status = r.status();
        let headers = r.headers().clone();
        let location = headers
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        Page {
            status,
            location,
            headers,
            body: r.text().await.unwrap(),
        }
    }

    pub async fn get(&self, url: &str) -> Page {
        let mut req = self.http.get(url);
        if let Some(c) = self.cookie_header() {
            req = req.header("cookie", c);
        }
        let r = req.send().await.unwrap();
        self.read(r).await
    }

    pub async fn post_form(&self, url: &str, form: &HashMap<String, String>) -> Page {
        let mut req = self.http.post(url).form(form);
        if let Some(c) = self.cookie_header() {
            req = req.header("cookie", c);
        }
        let r = req.send().await.unwrap();
        self.read(r).await
    }
}

/// The hidden fields of the consent page's one form (asserting its shape).
pub fn parse_form(html: &str) -> HashMap<String, String> {
    assert_eq!(html.matches("<form").count(), 1, "exactly one form");
    assert!(html.contains(r#"<form method="post" action="/authorize">"#));
    assert!(html.contains(r#"name="decision" value="approve""#));
    assert!(html.contains(r#"name="decision" value="deny""#));
    let mut fields = HashMap::new();
    for part in html.split("<input ").skip(1) {
        let tag = &part[..part.find('>').unwrap()];
        let attr = |name: &str| {
            let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
            let end = tag[start..].find('"')? + start;
            Some(unescape(&tag[start..end]))
        };
        if let (Some(n), Some(v)) = (attr("name"), attr("value")) {
            fields.insert(n, v);
        }
    }
    fields
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The MCP route refuses `token`: 401 with `error="invalid_token"` in the challenge and the
/// body (RFC 6750 §3.1).
pub async fn assert_refused(env: &Env, token: &str, what: &str) {
    let r = env.mcp("/mcp", Some(token)).await;
    assert_eq!(r.status(), 401, "{what}");
    let www = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(www.contains(r#"error="invalid_token""#), "{what}: {www}");
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "invalid_token",
        "{what}"
    );
}

/// The `<code id="error">` of one of our HTML error pages.
pub fn page_error(html: &str) -> String {
    let start = html
        .find(r#"<code id="error">"#)
        .unwrap_or_else(|| panic!("not an error page: {html}"))
        + r#"<code id="error">"#.len();
    html[start..start + html[start..].find('<').unwrap()].to_owned()
}

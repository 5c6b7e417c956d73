//! A stand-in for github.com and api.github.com: a real HTTP server on 127.0.0.1.
//!
//! `/login/oauth/authorize` redirects straight back with a code (the person "signs in" at once),
//! `/login/oauth/access_token` checks the client credentials, the code and the PKCE verifier and
//! answers like GitHub (errors as HTTP 200 `{"error": ...}`), and `/user` answers for the token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "gh-test-client";
pub const CLIENT_SECRET: &str = "gh-test-secret";

struct Code {
    redirect_uri: String,
    challenge: Option<String>,
    used: bool,
}

#[derive(Default)]
pub struct GhState {
    /// The account that "signs in": (login, id).
    pub user: Mutex<(String, u64)>,
    codes: Mutex<HashMap<String, Code>>,
    tokens: Mutex<HashMap<String, (String, u64)>>,
    /// Every token request's code, for tests that replay one.
    pub exchanged: Mutex<Vec<String>>,
    /// When set, `/user` answers with this status and GitHub's error body, whatever the token.
    pub user_status: Mutex<Option<u16>>,
}

pub struct FakeGitHub {
    pub url: String,
    pub state: Arc<GhState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeGitHub {
    pub async fn start(login: &str, id: u64) -> FakeGitHub {
        let state = Arc::new(GhState::default());
        *state.user.lock().unwrap() = (login.to_owned(), id);
        let app = Router::new()
            .route("/login/oauth/authorize", get(authorize))
            .route("/login/oauth/access_token", post(access_token))
            .route("/user", get(user))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeGitHub { url, state, task }
    }

    pub fn set_user(&self, login: &str, id: u64) {
        *self.state.user.lock().unwrap() = (login.to_owned(), id);
    }

    /// Makes `/user` fail with `status` (e.g. GitHub having an outage, or the token revoked).
    pub fn fail_user(&self, status: u16) {
        *self.state.user_status.lock().unwrap() = Some(status);
    }

    /// A real GitHub access token for the current account, obtained the way any GitHub OAuth
    /// App gets one (authorize, then the token endpoint), without vaultmcp.
    pub async fn access_token(&self) -> String {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let r = http
            .get(format!("{}/login/oauth/authorize", self.url))
            .query(&[
                ("client_id", CLIENT_ID),
                ("redirect_uri", "http://127.0.0.1:1/cb"),
            ])
            .send()
            .await
            .unwrap();
        let back = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
        let code = back
            .query_pairs()
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .into_owned();
        let t: serde_json::Value = http
            .post(format!("{}/login/oauth/access_token", self.url))
            .form(&[
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
                ("code", &code),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        t["access_token"].as_str().unwrap().to_owned()
    }
}

fn random() -> String {
    let mut b = [0u8; 16];
    rand::fill(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

async fn authorize(
    State(s): State<Arc<GhState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if q.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return (StatusCode::NOT_FOUND, "unknown OAuth app").into_response();
    }
    let Some(redirect_uri) = q.get("redirect_uri").cloned() else {
        return (StatusCode::BAD_REQUEST, "no redirect_uri").into_response();
    };
    if q.contains_key("code_challenge")
        && q.get("code_challenge_method").map(String::as_str) != Some("S256")
    {
        return (StatusCode::BAD_REQUEST, "bad code_challenge_method").into_response();
    }
    let code = random();
    s.codes.lock().unwrap().insert(
        code.clone(),
        Code {
            redirect_uri: redirect_uri.clone(),
            challenge: q.get("code_challenge").cloned(),
            used: false,
        },
    );
    let mut url = url::Url::parse(&redirect_uri).unwrap();
    url.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", q.get("state").map(String::as_str).unwrap_or(""));
    Redirect::to(url.as_str()).into_response()
}

fn gh_error(error: &str, description: &str) -> Response {
    // GitHub's token endpoint reports errors with HTTP 200.
    Json(json!({"error": error, "error_description": description, "error_uri": "https://docs.github.com/apps/troubleshooting"})).into_response()
}

async fn access_token(
    State(s): State<Arc<GhState>>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let (mut id, mut secret) = (f.get("client_id").cloned(), f.get("client_secret").cloned());
    if let Some(b) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        let d = String::from_utf8(STANDARD.decode(b).unwrap()).unwrap();
        let (i, sec) = d.split_once(':').unwrap();
        (id, secret) = (Some(i.to_owned()), Some(sec.to_owned()));
    }
    if id.as_deref() != Some(CLIENT_ID) || secret.as_deref() != Some(CLIENT_SECRET) {
        return gh_error(
            "incorrect_client_credentials",
            "The client_id and/or client_secret passed are incorrect.",
        );
    }
    let code = f.get("code").cloned().unwrap_or_default();
    s.exchanged.lock().unwrap().push(code.clone());
    let mut codes = s.codes.lock().unwrap();
    let Some(c) = codes.get_mut(&code) else {
        return gh_error(
            "bad_verification_code",
            "The code passed is incorrect or expired.",
        );
    };
    if c.used {
        return gh_error(
            "bad_verification_code",
            "The code passed is incorrect or expired.",
        );
    }
    c.used = true;
    if f.get("redirect_uri").is_some_and(|r| r != &c.redirect_uri) {
        return gh_error(
            "redirect_uri_mismatch",
            "The redirect_uri MUST match the registered callback URL for this application.",
        );
    }
    if let Some(ch) = &c.challenge {
        let v = f.get("code_verifier").cloned().unwrap_or_default();
        if &URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes())) != ch {
            return gh_error(
                "bad_verification_code",
                "The code_verifier does not match the code_challenge.",
            );
        }
    }
    let token = format!("gho_{}", random());
    let user = s.user.lock().unwrap().clone();
    s.tokens.lock().unwrap().insert(token.clone(), user);
    Json(json!({"access_token": token, "token_type": "bearer", "scope": ""})).into_response()
}

async fn user(State(s): State<Arc<GhState>>, headers: HeaderMap) -> Response {
    if let Some(status) = *s.user_status.lock().unwrap() {
        let status = StatusCode::from_u16(status).unwrap();
        return (status, Json(json!({"message": "Server Error", "documentation_url": "https://docs.github.com/rest"}))).into_response();
    }
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("token "))
        });
    match token.and_then(|t| s.tokens.lock().unwrap().get(t).cloned()) {
        Some((login, id)) => Json(json!({"login": login, "id": id, "node_id": "U_test", "type": "User", "site_admin": false})).into_response(),
        None => (StatusCode::UNAUTHORIZED, Json(json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}))).into_response(),
    }
}

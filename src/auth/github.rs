//! Sign-in at GitHub (the upstream identity provider) and the allow-list.
//!
//! After consent, the browser goes to GitHub with our own `state` and PKCE; the pending login
//! (the client's validated request, our PKCE verifier) waits in the store, bound to the browser
//! by a cookie. The callback exchanges GitHub's code (oauth2 crate, redirects off), reads
//! `/user`, drops GitHub's token on the spot, and checks the account against the allow-list.
//!
//! The allow-list: when `GITHUB_ALLOWED_ID` is set, only those numeric ids get in (logins are
//! ignored, since a login can be renamed and re-registered by someone else); otherwise the
//! logins in `GITHUB_ALLOWED_LOGIN` (case-insensitive) get in.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RequestTokenError, TokenResponse, TokenUrl,
};
use rusqlite::{OptionalExtension, params};
use serde::Deserialize;

use super::errors::PageError;
use super::request::{AuthzRequest, Identity};
use super::store::now;
use super::tokens::issue_code;
use super::web::{cookie_name, parse_params, read_cookie, redirect_to_client, set_cookie};
use super::{Auth, PENDING_LOGIN_TTL_SECS, ct_eq, random_token, sha256_hex};

/// The cookie binding a pending GitHub login to the browser that approved it.
const LOGIN_COOKIE: &str = "vaultmcp_login";

use super::allowlist::is_allowed;

fn endpoint(base: &url::Url, path: &str) -> String {
    format!("{}/{path}", base.as_str().trim_end_matches('/'))
}

fn callback_url(auth: &Auth) -> String {
    format!("{}/oauth/github/callback", auth.issuer())
}

type GitHubClient = oauth2::Client<
    oauth2::basic::BasicErrorResponse,
    oauth2::basic::BasicTokenResponse,
    oauth2::basic::BasicTokenIntrospectionResponse,
    oauth2::StandardRevocableToken,
    oauth2::basic::BasicRevocationErrorResponse,
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

fn oauth_client(auth: &Auth) -> anyhow::Result<GitHubClient> {
    let gh = &auth.settings().github;
    let id = gh
        .client_id
        .clone()
        .ok_or_else(|| anyhow::anyhow!("GITHUB_CLIENT_ID is not set"))?;
    let secret = gh
        .client_secret
        .clone()
        .ok_or_else(|| anyhow::anyhow!("GITHUB_CLIENT_SECRET is not set"))?;
    Ok(BasicClient::new(ClientId::new(id))
        .set_client_secret(ClientSecret::new(secret))
        .set_auth_uri(AuthUrl::new(endpoint(
            &gh.web_url,
            "login/oauth/authorize",
        ))?)
        .set_token_uri(TokenUrl::new(endpoint(
            &gh.web_url,
            "login/oauth/access_token",
        ))?)
        .set_redirect_uri(RedirectUrl::new(callback_url(auth))?)
        .set_auth_type(AuthType::RequestBody))
}

/// After approval: remember the request and send the browser to GitHub.
pub async fn start(auth: &Auth, req: &AuthzRequest) -> Result<Response, PageError> {
    let client = oauth_client(auth)?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let state = random_token();
    let browser = random_token();
    let (url, _) = client
        .authorize_url(|| CsrfToken::new(state.clone()))
        .set_pkce_challenge(challenge)
        .add_extra_param("allow_signup", "false")
        .url();
    let (state_hash, browser_hash) = (sha256_hex(&state), sha256_hex(&browser));
    let request = serde_json::to_string(req).map_err(anyhow::Error::from)?;
    let verifier = verifier.secret().clone();
    auth.inner
        .store
        .call(move |c| {
            c.execute("DELETE FROM pending_logins WHERE expires_at < ?1", [now()])?;
            c.execute(
                "INSERT INTO pending_logins (state_hash, browser_hash, request, pkce_verifier, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![state_hash, browser_hash, request, verifier, now() + PENDING_LOGIN_TTL_SECS],
            )?;
            Ok(())
        })
        .await?;
    let mut resp = StatusCode::SEE_OTHER.into_response();
    resp.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_str(url.as_str()).map_err(anyhow::Error::from)?,
    );
    super::errors::no_store(resp.headers_mut());
    set_cookie(
        auth.https(),
        resp.headers_mut(),
        LOGIN_COOKIE,
        &browser,
        PENDING_LOGIN_TTL_SECS,
    );
    Ok(resp)
}

#[derive(Deserialize)]
struct GitHubUser {
    login: String,
    id: u64,
}

/// `GET /oauth/github/callback`.
pub async fn callback(
    State(auth): State<Auth>,
    connect: super::ratelimit::Peer,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let ip = auth.peer_ip(&headers, &connect);
    let params = match parse_params(q.unwrap_or_default().as_bytes()) {
        Ok(p) => p,
        Err(m) => return PageError::bad_request("invalid_request", m).into_response(),
    };
    let Some(state) = params.get("state").cloned() else {
        return PageError::bad_request("invalid_request", "GitHub's answer has no state.")
            .into_response();
    };
    let state_hash = sha256_hex(&state);
    let pending = auth
        .inner
        .store
        .call(move |c| {
            let row = c
                .query_row("SELECT browser_hash, request, pkce_verifier, expires_at FROM pending_logins WHERE state_hash = ?1", [&state_hash], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?))
                })
                .optional()?;
            // Single use, whatever happens next.
            c.execute("DELETE FROM pending_logins WHERE state_hash = ?1", [&state_hash])?;
            Ok(row)
        })
        .await;
    let (browser_hash, request, verifier, expires_at) = match pending {
        Ok(Some(p)) => p,
        Ok(None) => return PageError::bad_request("invalid_request", "This sign-in link is unknown, expired or was already used. Start the connection again from the app.").into_response(),
        Err(e) => return PageError::from(e).into_response(),
    };
    let cookie =
        read_cookie(&headers, &cookie_name(auth.https(), LOGIN_COOKIE)).unwrap_or_default();
    if !ct_eq(&sha256_hex(&cookie), &browser_hash) {
        tracing::warn!(
            "GitHub callback refused: it arrived in a browser other than the one that approved"
        );
        return PageError::bad_request(
            "invalid_request",
            "This sign-in was started in another browser. Start the connection again from the app.",
        )
        .into_response();
    }
    if expires_at < now() {
        return PageError::bad_request(
            "invalid_request",
            "This sign-in took too long. Start the connection again from the app.",
        )
        .into_response();
    }
    let req: AuthzRequest = match serde_json::from_str(&request) {
        Ok(r) => r,
        Err(e) => return PageError::from(anyhow::Error::from(e)).into_response(),
    };
    let back = |params: &[(&str, &str)]| {
        let mut r = redirect_to_client(
            auth.issuer(),
            &req.redirect_uri,
            req.state.as_deref(),
            params,
            StatusCode::FOUND,
        );
        set_cookie(auth.https(), r.headers_mut(), LOGIN_COOKIE, "", 0);
        r
    };
    if let Some(err) = params.get("error") {
        tracing::info!(client_id = %req.client_id, github_error = %err, "GitHub sign-in cancelled");
        return back(&[
            ("error", "access_denied"),
            ("error_description", "GitHub sign-in was cancelled"),
        ]);
    }
    let Some(code) = params.get("code") else {
        return back(&[
            ("error", "server_error"),
            ("error_description", "GitHub sent no code"),
        ]);
    };
    let user = match github_identity(&auth, code, verifier).await {
        Ok(u) => u,
        Err(e) => {
            tracing::warn!(client_id = %req.client_id, error = %e, "GitHub sign-in failed");
            return back(&[
                ("error", "server_error"),
                ("error_description", &format!("GitHub sign-in failed: {e}")),
            ]);
        }
    };
    let gh = &auth.settings().github;
    if !is_allowed(gh, user.id, &user.login) {
        tracing::warn!(audit = true, github_login = %user.login, github_id = user.id, client_id = %req.client_id, "sign-in refused: GitHub account not on the allow-list");
        auth.audit(
            "sign_in_refused",
            Some(&format!("github:{}", user.id)),
            Some(&req.client_id),
            Some(ip),
            Some(format!(
                "GitHub account {} is not on the allow-list",
                user.login
            )),
        )
        .await;
        return back(&[
            ("error", "access_denied"),
            (
                "error_description",
                "this GitHub account may not use this server",
            ),
        ]);
    }
    if gh.allowed_ids.is_empty() {
        tracing::info!(github_login = %user.login, github_id = user.id, "allowed by login; pin this account with GITHUB_ALLOWED_ID={}", user.id);
    }
    let who = Identity {
        sub: format!("github:{}", user.id),
        login: user.login.clone(),
        github_id: Some(user.id),
    };
    match issue_code(&auth, &req, &who).await {
        Ok(code) => {
            tracing::info!(audit = true, sub = %who.sub, login = %who.login, client_id = %req.client_id, "authorized");
            auth.audit(
                "sign_in",
                Some(&who.sub),
                Some(&req.client_id),
                Some(ip),
                Some(format!("GitHub login {}", who.login)),
            )
            .await;
            back(&[("code", &code)])
        }
        Err(e) => PageError::from(e).into_response(),
    }
}

/// Exchanges GitHub's code and reads the account; GitHub's token goes out of scope here.
async fn github_identity(auth: &Auth, code: &str, verifier: String) -> Result<GitHubUser, String> {
    let client = oauth_client(auth).map_err(|e| e.to_string())?;
    let token = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .set_pkce_verifier(PkceCodeVerifier::new(verifier))
        .request_async(&auth.inner.http)
        .await
        .map_err(|e| match e {
            RequestTokenError::ServerResponse(r) => {
                format!("GitHub refused the code ({})", r.error())
            }
            // GitHub answers errors with HTTP 200 and {"error": ...}, which fails to parse as a token.
            RequestTokenError::Parse(_, body) => {
                match serde_json::from_slice::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
                {
                    Some(err) => format!("GitHub refused the code ({err})"),
                    None => "GitHub's token answer was not understood".to_owned(),
                }
            }
            RequestTokenError::Request(e) => format!("cannot reach GitHub ({e})"),
            RequestTokenError::Other(m) => format!("GitHub token exchange failed ({m})"),
        })?;
    let resp = auth
        .inner
        .http
        .get(endpoint(&auth.settings().github.api_url, "user"))
        .bearer_auth(token.access_token().secret())
        .header(header::ACCEPT, "application/vnd.github+json")
        .header("x-github-api-version", "2022-11-28")
        .send()
        .await
        .map_err(|e| format!("cannot reach the GitHub API ({e})"))?;
    if !resp.status().is_success() {
        return Err(format!(
            "the GitHub API answered HTTP {} to /user",
            resp.status().as_u16()
        ));
    }
    resp.json::<GitHubUser>()
        .await
        .map_err(|_| "the GitHub API's /user answer was not understood".to_owned())
}

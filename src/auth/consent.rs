//! `GET /authorize` (validate, then the consent page) and `POST /authorize` (the decision).
//!
//! Until the client and its redirect URI are known good, errors are an HTML page; after that
//! they go back to the client as `error=...&state=...&iss=...`. The page carries every request
//! parameter as a hidden field (the POST re-validates them all) and a CSRF token that must equal
//! the `vaultmcp_csrf` cookie (double submit). Approval is needed for every authorization: the
//! GitHub OAuth App is shared by all clients, so skipping it would make us a confused deputy.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use url::Url;

use super::clients::{Client, find_client};
use super::errors::{PageError, page_headers};
use super::ratelimit::{Endpoint, client_ip};
use super::redirect::validate_redirect_uri;
use super::request::{AuthzRequest, Identity};
use super::tokens::issue_code;
use super::web::{cookie_name, read_cookie, redirect_to_client, set_cookie};
use super::{Auth, AuthMode, SCOPE, ct_eq, random_token};

/// Name of the CSRF cookie (with the `__Host-` prefix on https).
pub const CSRF_COOKIE: &str = "vaultmcp_csrf";

/// Shared page style: readable, no external resources (the CSP allows none).
pub const STYLE: &str = "<style>body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;background:#f6f7f9;color:#1b1f24;margin:0}\
main{max-width:32rem;margin:4rem auto;background:#fff;border:1px solid #d8dee4;border-radius:12px;padding:2rem}\
h1{font-size:1.35rem;margin-top:0}.muted{color:#57606a;font-size:.9rem}code{word-break:break-all}\
.buttons{display:flex;gap:.75rem;margin-top:1.5rem}button{font-size:1rem;padding:.6rem 1.2rem;border-radius:8px;border:1px solid #d0d7de;cursor:pointer}\
button[value=approve]{background:#1f883d;color:#fff;border-color:#1a7f37}button[value=deny]{background:#f6f8fa}</style>";

/// Why a request cannot go on.
pub enum Refusal {
    /// Before the redirect URI is trusted: shown in the browser.
    Page(PageError),
    /// After: sent back to the client.
    Redirect(Response),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Page(p) => p.into_response(),
            Refusal::Redirect(r) => r,
        }
    }
}

impl From<PageError> for Refusal {
    fn from(p: PageError) -> Refusal {
        Refusal::Page(p)
    }
}

fn error_redirect(
    auth: &Auth,
    redirect_uri: &str,
    state: Option<&str>,
    error: &str,
    description: &str,
    status: StatusCode,
) -> Refusal {
    Refusal::Redirect(redirect_to_client(
        auth.issuer(),
        redirect_uri,
        state,
        &[("error", error), ("error_description", description)],
        status,
    ))
}

/// Validates authorization-request parameters (the same for GET and the POST's hidden fields).
pub async fn validate(
    auth: &Auth,
    p: &HashMap<String, String>,
    redirect_status: StatusCode,
) -> Result<(Client, AuthzRequest), Refusal> {
    let client_id = p.get("client_id").map(String::as_str).unwrap_or_default();
    let client = find_client(auth, client_id)
        .await
        .map_err(|m| PageError::bad_request("invalid_client", m))?;
    let redirect_uri = match p.get("redirect_uri") {
        Some(r) => {
            validate_redirect_uri(r).map_err(|m| PageError::bad_request("invalid_request", m))?;
            client.matching_redirect(r).ok_or_else(|| {
                PageError::bad_request(
                    "invalid_request",
                    "The redirect address does not match any the app registered.",
                )
            })?;
            r.clone()
        }
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => {
            return Err(PageError::bad_request(
                "invalid_request",
                "The request has no redirect_uri.",
            )
            .into());
        }
    };
    // From here on the redirect URI is trusted: errors go back to the client.
    let state = p.get("state").cloned().filter(|s| !s.is_empty());
    let fail = |error: &str, description: &str| {
        error_redirect(
            auth,
            &redirect_uri,
            state.as_deref(),
            error,
            description,
            redirect_status,
        )
    };
    if p.get("response_type").map(String::as_str) != Some("code") {
        return Err(fail(
            "unsupported_response_type",
            "response_type must be code",
        ));
    }
    match p.get("code_challenge_method").map(String::as_str) {
        Some("S256") => {}
        Some("plain") => {
            return Err(fail(
                "invalid_request",
                "PKCE method plain is not allowed; use S256",
            ));
        }
        None => {
            return Err(fail(
                "invalid_request",
                "PKCE is required: send code_challenge with code_challenge_method=S256",
            ));
        }
        Some(_) => {
            return Err(fail(
                "invalid_request",
                "code_challenge_method must be S256",
            ));
        }
    }
    let code_challenge = p.get("code_challenge").cloned().unwrap_or_default();
    if code_challenge.len() != 43
        || !code_challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(fail(
            "invalid_request",
            "code_challenge must be the base64url SHA-256 of the verifier (43 characters)",
        ));
    }
    let Some(resource) = auth.check_resource(p.get("resource").map(String::as_str)) else {
        return Err(fail(
            "invalid_target",
            "resource must be this server's MCP URL",
        ));
    };
    let scope = match p
        .get("scope")
        .map(|s| s.split_whitespace().collect::<Vec<_>>())
    {
        None => SCOPE.to_owned(),
        Some(s) if s.is_empty() || s.contains(&SCOPE) => SCOPE.to_owned(),
        Some(_) => return Err(fail("invalid_scope", "the only scope is notes:read")),
    };
    if state.as_ref().is_some_and(|s| s.len() > 2048) {
        return Err(fail("invalid_request", "state is too long"));
    }
    Ok((
        client.clone(),
        AuthzRequest {
            client_id: client.client_id,
            redirect_uri,
            state,
            code_challenge,
            resource,
            scope,
        },
    ))
}

/// The page for a client address over the `/authorize` rate limit.
fn too_many_attempts() -> Response {
    PageError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "temporarily_unavailable",
        "Too many sign-in attempts from this address. Wait a minute and try again.",
    )
    .into_response()
}

/// `GET /authorize`.
pub async fn authorize_get(
    State(auth): State<Auth>,
    connect: super::ratelimit::Peer,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    if !auth.allow(Endpoint::Authorize, &headers, &connect) {
        return too_many_attempts();
    }
    let params = match super::web::parse_params(q.unwrap_or_default().as_bytes()) {
        Ok(p) => p,
        Err(m) => return PageError::bad_request("invalid_request", m).into_response(),
    };
    let (client, req) = match validate(&auth, &params, StatusCode::FOUND).await {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    // Reuse the cookie's token when there is one, so two open consent tabs both work.
    let csrf = read_cookie(&headers, &cookie_name(auth.https(), CSRF_COOKIE))
        .filter(|t| t.len() == 43)
        .unwrap_or_else(random_token);
    let mut resp = Html(consent_page(&auth, &client, &req, &csrf)).into_response();
    page_headers(resp.headers_mut());
    set_cookie(auth.https(), resp.headers_mut(), CSRF_COOKIE, &csrf, 1800);
    resp
}

/// `POST /authorize`: the person's decision.
pub async fn authorize_post(
    State(auth): State<Auth>,
    connect: super::ratelimit::Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !auth.allow(Endpoint::Authorize, &headers, &connect) {
        return too_many_attempts();
    }
    let params = match super::web::parse_params(&body) {
        Ok(p) => p,
        Err(m) => return PageError::bad_request("invalid_request", m).into_response(),
    };
    let cookie = read_cookie(&headers, &cookie_name(auth.https(), CSRF_COOKIE));
    let csrf_ok = match (cookie.as_deref(), params.get("csrf_token")) {
        (Some(c), Some(f)) => !c.is_empty() && ct_eq(c, f),
        _ => false,
    };
    if !csrf_ok {
        let ip = client_ip(
            &headers,
            connect.as_ref().map(|e| &e.0),
            auth.settings().trust_forwarded_for,
        );
        tracing::warn!(%ip, "consent form refused: CSRF token missing or wrong");
        return PageError::new(StatusCode::FORBIDDEN, "invalid_request", "The form's security token is missing or does not match. Go back to the app and start the connection again.")
            .into_response();
    }
    let (client, req) = match validate(&auth, &params, StatusCode::SEE_OTHER).await {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let ip = auth.peer_ip(&headers, &connect);
    match params.get("decision").map(String::as_str) {
        Some("approve") => {
            auth.audit(
                "consent_approved",
                None,
                Some(&client.client_id),
                Some(ip),
                None,
            )
            .await;
        }
        Some("deny") => {
            tracing::info!(client_id = %client.client_id, "consent denied");
            auth.audit(
                "consent_denied",
                None,
                Some(&client.client_id),
                Some(ip),
                None,
            )
            .await;
            return redirect_to_client(
                auth.issuer(),
                &req.redirect_uri,
                req.state.as_deref(),
                &[
                    ("error", "access_denied"),
                    ("error_description", "the user denied access"),
                ],
                StatusCode::SEE_OTHER,
            );
        }
        _ => {
            return PageError::bad_request("invalid_request", "The form has no decision.")
                .into_response();
        }
    }
    match auth.mode() {
        AuthMode::GitHub => super::github::start(&auth, &req)
            .await
            .unwrap_or_else(IntoResponse::into_response),
        AuthMode::LocalLogin | AuthMode::NoAuth => {
            let who = Identity::local();
            match issue_code(&auth, &req, &who).await {
                Ok(code) => {
                    tracing::info!(client_id = %client.client_id, sub = %who.sub, "authorized (local login)");
                    auth.audit(
                        "sign_in",
                        Some(&who.sub),
                        Some(&client.client_id),
                        Some(ip),
                        Some("local login".into()),
                    )
                    .await;
                    redirect_to_client(
                        auth.issuer(),
                        &req.redirect_uri,
                        req.state.as_deref(),
                        &[("code", &code)],
                        StatusCode::SEE_OTHER,
                    )
                }
                Err(e) => PageError::from(e).into_response(),
            }
        }
    }
}

fn consent_page(auth: &Auth, client: &Client, req: &AuthzRequest, csrf: &str) -> String {
    let redirect_host = Url::parse(&req.redirect_uri)
        .ok()
        .map(|u| match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            _ => req.redirect_uri.clone(),
        })
        .unwrap_or_default();
    let name = client.display_name();
    let local = auth.mode() != &AuthMode::GitHub;
    // maud escapes every interpolated value: no request or client text reaches the page raw.
    let mut hidden: Vec<(&str, &str)> = vec![
        ("client_id", &req.client_id),
        ("redirect_uri", &req.redirect_uri),
        ("response_type", "code"),
    ];
    if let Some(s) = &req.state {
        hidden.push(("state", s));
    }
    hidden.extend([
        ("code_challenge", req.code_challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("resource", &req.resource),
        ("scope", &req.scope),
        ("csrf_token", csrf),
    ]);
    maud::html! {
        (maud::DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "Allow access to your notes?" }
                meta name="viewport" content="width=device-width, initial-scale=1";
                (maud::PreEscaped(STYLE))
            }
            body { main {
                h1 { "Allow " strong id="client-name" { (name) } " to read your notes?" }
                @if name != client.client_id {
                    p class="muted" {
                        "Client id: " code { (client.client_id) }
                        @if client.metadata_document { " (metadata document)" }
                    }
                }
                p { "It will be able to search and read every note in this vault (" code { (req.scope) } ", read only)." }
                p { "You will be sent back to " strong id="redirect-host" { (redirect_host) } ". Only continue if you started this connection there." }
                p class="muted" {
                    @if local {
                        "This server runs in local sign-in mode: approving signs you in as " code { "local" } "."
                    } @else {
                        "After you approve, GitHub asks you to sign in; only allow-listed accounts get in."
                    }
                }
                form method="post" action="/authorize" {
                    @for (k, v) in &hidden {
                        input type="hidden" name=(k) value=(v);
                    }
                    div class="buttons" {
                        button type="submit" name="decision" value="approve" { "Approve" }
                        button type="submit" name="decision" value="deny" { "Deny" }
                    }
                }
            } }
        }
    }
    .into_string()
}

//! The attack suite (issue 9, point 5): each test is one attack on the authorization server
//! through the real router, asserting the exact HTTP status and OAuth error code that the
//! RFCs call for (RFC 6749 §4.1.2.1 and §5.2, RFC 7009, RFC 7591, RFC 7636, RFC 8707,
//! RFC 9207, RFC 9700, RFC 8725). One module per endpoint; `known_bugs` holds the attacks that
//! succeed today, written as the fix must behave.
//!
//! What `auth_flow.rs` and `real_clients.rs` already attack (an unregistered redirect, `plain`
//! PKCE, a wrong verifier, code reuse, an expired code, refresh reuse, the CSRF token, a
//! callback in another browser, `alg: none`, HS256, a foreign `iss`/`aud`, an unknown `kid`,
//! forged client assertions) is not repeated here.

#[path = "../auth_support/mod.rs"]
mod auth_support;

mod authorize;
mod bearer;
mod consent;
mod documents;
mod github;
mod headers;
mod known_bugs;
mod register;
mod revoke;
mod token;

use auth_support::{Env, Page, query};
use serde_json::Value;

/// The loopback redirect URI most attacks register.
pub const REDIRECT: &str = "http://127.0.0.1:9999/callback";

/// An HTML error page of ours with this status and `<code id="error">`, and never a redirect.
pub fn assert_page(p: &Page, status: u16, error: &str, what: &str) {
    assert_eq!(
        p.status.as_u16(),
        status,
        "{what}: {:?} {}",
        p.location,
        p.body
    );
    assert!(
        p.location.is_none(),
        "{what}: redirected to {:?}",
        p.location
    );
    assert_eq!(auth_support::page_error(&p.body), error, "{what}");
}

/// An error sent back to the client's registered `redirect` (RFC 6749 §4.1.2.1) with this
/// `error`, the request's `state` and our `iss` (RFC 9207), and no code.
pub fn assert_client_error(env: &Env, p: &Page, redirect: &str, error: &str, what: &str) {
    assert!(p.status.is_redirection(), "{what}: {} {}", p.status, p.body);
    let to = p.location.clone().unwrap_or_default();
    let back = url::Url::parse(&to).unwrap_or_else(|_| panic!("{what}: Location {to:?}"));
    assert!(
        to.starts_with(&format!("{redirect}?")),
        "{what}: went to {to}"
    );
    let q = query(&back);
    assert_eq!(
        q.get("error").map(String::as_str),
        Some(error),
        "{what}: {q:?}"
    );
    assert_eq!(q.get("state").map(String::as_str), Some("st4te"), "{what}");
    assert_eq!(q.get("iss"), Some(&env.base), "{what}");
    assert!(!q.contains_key("code"), "{what}: a code was issued");
}

/// A JSON error (RFC 6749 §5.2) with this status and `error`.
pub fn assert_oauth((status, body): (u16, Value), want: u16, error: &str, what: &str) {
    assert_eq!(
        (status, body["error"].as_str()),
        (want, Some(error)),
        "{what}: {body}"
    );
}

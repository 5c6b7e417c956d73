//! The bottom layer of the authorization server's HTTP side, knowing nothing of `Auth`: form
//! and query parsing, cookies, and the redirect back to a client.

use std::collections::HashMap;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use url::Url;

use super::errors::{PageError, no_store};

/// Parses `a=b&c=d`; a repeated parameter is an error (RFC 6749 §3.1).
pub fn parse_params(raw: &[u8]) -> Result<HashMap<String, String>, String> {
    let mut map = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(raw) {
        if map.insert(k.clone().into_owned(), v.into_owned()).is_some() {
            return Err(format!("the parameter {k} is repeated"));
        }
    }
    Ok(map)
}

/// A redirect to the client with the response parameters plus `state` and `iss` (RFC 9207).
pub fn redirect_to_client(
    issuer: &str,
    redirect_uri: &str,
    state: Option<&str>,
    params: &[(&str, &str)],
    status: StatusCode,
) -> Response {
    let mut url = match Url::parse(redirect_uri) {
        Ok(u) => u,
        Err(_) => {
            return PageError::bad_request(
                "invalid_request",
                "The app's redirect address is not valid.",
            )
            .into_response();
        }
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
        if let Some(s) = state {
            q.append_pair("state", s);
        }
        q.append_pair("iss", issuer);
    }
    let mut resp = status.into_response();
    if let Ok(v) = HeaderValue::from_str(url.as_str()) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    no_store(resp.headers_mut());
    resp
}

/// The cookie's name: `__Host-` prefixed when the public URL is https.
pub fn cookie_name(https: bool, name: &str) -> String {
    if https {
        format!("__Host-{name}")
    } else {
        name.to_owned()
    }
}

/// Appends a `Set-Cookie` (HttpOnly, SameSite=Lax, Path=/, Secure on https).
pub fn set_cookie(https: bool, h: &mut HeaderMap, name: &str, value: &str, max_age: i64) {
    let secure = if https { "; Secure" } else { "" };
    let c = format!(
        "{}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}",
        cookie_name(https, name)
    );
    if let Ok(v) = HeaderValue::from_str(&c) {
        h.append(header::SET_COOKIE, v);
    }
}

/// A cookie's value from the request.
pub fn read_cookie(h: &HeaderMap, name: &str) -> Option<String> {
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused() {
        assert!(parse_params(b"a=1&b=2").is_ok());
        assert!(parse_params(b"a=1&a=2").is_err());
    }

    #[test]
    fn cookies_are_read() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "x=1; vaultmcp_csrf=abc; y=2".parse().unwrap(),
        );
        assert_eq!(read_cookie(&h, "vaultmcp_csrf").as_deref(), Some("abc"));
        assert_eq!(read_cookie(&h, "z"), None);
    }
}

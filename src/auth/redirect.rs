//! Redirect-URI rules, shared by registration, metadata documents and `/authorize`.
//!
//! Redirect URIs must be https, or http on a loopback host with any port (RFC 8252 §7.3); no
//! fragments, no credentials and no other schemes (`javascript:`, `data:`, `file:`, app
//! schemes). A registered loopback redirect URI matches a requested one that differs only in
//! the port; every other match is exact (RFC 9700 §4.1.3: no prefix or pattern matching).

use url::Url;

use crate::config::is_loopback_host;

/// Checks a redirect URI against the rules; the error is one sentence for `error_description`.
pub fn validate_redirect_uri(raw: &str) -> Result<Url, String> {
    if raw.len() > 2000 {
        return Err("redirect URI is too long".into());
    }
    if raw.contains('#') {
        return Err(format!("redirect URI {raw:?} must not have a fragment"));
    }
    let url =
        Url::parse(raw).map_err(|_| format!("redirect URI {raw:?} is not an absolute URL"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("redirect URI {raw:?} must not carry credentials"));
    }
    match url.scheme() {
        "https" if url.host_str().is_some_and(|h| !h.is_empty()) => Ok(url),
        "http" if url.host_str().is_some_and(is_loopback_host) => Ok(url),
        "http" => Err(format!(
            "redirect URI {raw:?} must be https unless its host is loopback"
        )),
        scheme => Err(format!(
            "redirect URI scheme {scheme:?} is not allowed (https, or http on loopback)"
        )),
    }
}

/// Exact match, except that loopback http URIs may differ in the port (RFC 8252 §7.3).
pub fn redirect_matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let (Ok(mut a), Ok(mut b)) = (Url::parse(registered), Url::parse(requested)) else {
        return false;
    };
    if a.scheme() != "http" || b.scheme() != "http" || !a.host_str().is_some_and(is_loopback_host) {
        return false;
    }
    let _ = a.set_port(None);
    let _ = b.set_port(None);
    a == b && !requested.contains('#')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(uri: &str, ok: bool) {
        assert_eq!(validate_redirect_uri(uri).is_ok(), ok, "{uri}");
    }

    #[test]
    fn redirect_uri_rules() {
        check(
            "https://chatgpt.com/connector_platform_oauth_redirect",
            true,
        );
        check("https://chatgpt.com/connector/oauth/abc123", true);
        check("https://claude.ai/api/mcp/auth_callback", true);
        check("http://127.0.0.1:33418/callback", true);
        check("http://localhost:6274/oauth/callback", true);
        check("http://[::1]:8080/cb", true);
        check("http://127.0.0.1/cb", true);
        check("http://example.com/cb", false);
        check("http://localhost.evil.com/cb", false);
        check("https://example.com/cb#frag", false);
        check("https://example.com/cb#", false);
        check("javascript:alert(1)", false);
        check("JavaScript:alert(1)", false);
        check("data:text/html,hi", false);
        check("file:///etc/passwd", false);
        check("com.example.app:/cb", false);
        check("https://user:pw@example.com/cb", false);
        check("/relative", false);
        check("", false);
    }

    #[test]
    fn redirect_matching() {
        assert!(redirect_matches(
            "https://a.example/cb",
            "https://a.example/cb"
        ));
        assert!(!redirect_matches(
            "https://a.example/cb",
            "https://a.example/cb2"
        ));
        assert!(!redirect_matches(
            "https://a.example/cb",
            "https://a.example/cb?x=1"
        ));
        assert!(!redirect_matches(
            "https://a.example:443/cb",
            "https://a.example:8443/cb"
        ));
        assert!(redirect_matches(
            "http://127.0.0.1:1234/cb",
            "http://127.0.0.1:5678/cb"
        ));
        assert!(redirect_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:5678/cb"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1:1234/cb",
            "http://127.0.0.1:5678/other"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1:1234/cb",
            "http://localhost:1234/cb"
        ));
    }
}

//! The one outbound fetcher of the authorization server: Client ID Metadata Documents and client
//! key sets (`jwks_uri`) both come through [`fetch_json`].
//!
//! Anyone can make us fetch a URL (by naming it as a `client_id`, or in a document's
//! `jwks_uri`), so every fetch is guarded against SSRF: https only; the host is resolved once,
//! every address it resolves to must be public, and the connection is pinned to the checked
//! address so a second DNS answer cannot swap in a private one; no redirects; a time limit for
//! the whole exchange and a size limit on the body. With [`FetchPolicy::allow_loopback`]
//! (`VAULTMCP_ALLOW_LOOPBACK_FETCH=1`, honoured only on a loopback public URL) plain http to a
//! loopback address is allowed too, for tests and local development.
//!
//! The error a client sees is uniform ([`FetchError::public_message`]): whether a host did not
//! resolve, refused the connection, was private, answered an HTTP error, sent too much or sent
//! something that is not JSON is logged, never answered, so the endpoint is no port-scanning
//! oracle (which ports of a host speak HTTP, what they answer).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode, header};
use url::Url;

/// How a fetch may reach out.
#[derive(Debug, Clone, Copy)]
pub struct FetchPolicy {
    /// Allow `http://` to loopback addresses (and loopback addresses at all).
    pub allow_loopback: bool,
    /// Largest body accepted.
    pub max_bytes: usize,
    /// Time limit for resolving, connecting and reading the whole body.
    pub timeout: Duration,
}

/// Why a fetch failed (logged in full; see [`FetchError::public_message`] for clients).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{0} is not an allowed URL (https only)")]
    Scheme(String),
    #[error("the host of {0} cannot be resolved")]
    Resolve(String),
    #[error("the host of {0} resolves to a non-public address")]
    NotPublic(String),
    #[error("cannot connect to {0}")]
    Connect(String),
    #[error("{0} answered HTTP {1}")]
    Status(String, u16),
    #[error("{0} took too long")]
    Timeout(String),
    #[error("{0} is larger than {1} bytes")]
    TooLarge(String, usize),
    #[error("{0} is not JSON")]
    NotJson(String),
}

impl FetchError {
    /// The one sentence a client is told, whatever went wrong: the details are in the log
    /// (the server's operator can read why; a prober learns nothing about the network).
    pub fn public_message(&self, what: &str) -> String {
        format!("the {what} cannot be fetched")
    }
}

/// A fetched JSON document and how long its response says it may be reused.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub json: serde_json::Value,
    pub max_age: Duration,
}

/// Fetches `url` as JSON under `policy` (see the module docs for the guard).
pub async fn fetch_json(url: &Url, policy: FetchPolicy) -> Result<Fetched, FetchError> {
    let shown = url.as_str().to_owned();
    tokio::time::timeout(policy.timeout, fetch_inner(url, policy, &shown))
        .await
        .map_err(|_| FetchError::Timeout(shown.clone()))?
}

async fn fetch_inner(url: &Url, policy: FetchPolicy, shown: &str) -> Result<Fetched, FetchError> {
    if !fetchable_scheme(url, policy.allow_loopback) {
        return Err(FetchError::Scheme(shown.to_owned()));
    }
    let host = url.host_str().unwrap_or_default().to_owned();
    let bare = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((bare.as_str(), port))
        .await
        .map_err(|_| FetchError::Resolve(shown.to_owned()))?
        .collect();
    let addr = pick_address(&addrs, policy.allow_loopback)
        .ok_or_else(|| FetchError::NotPublic(shown.to_owned()))?;

    // Pin the connection to the address we checked, so DNS cannot swap in a private one.
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(policy.timeout)
        .connect_timeout(policy.timeout)
        .user_agent(concat!("vaultmcp/", env!("CARGO_PKG_VERSION")));
    if matches!(url.host(), Some(url::Host::Domain(_))) {
        builder = builder.resolve(&bare, addr);
    }
    let http = builder
        .build()
        .map_err(|_| FetchError::Connect(shown.to_owned()))?;
    let mut resp = http
        .get(url.clone())
        .header(header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                FetchError::Timeout(shown.to_owned())
            } else {
                FetchError::Connect(shown.to_owned())
            }
        })?;
    if resp.status() != StatusCode::OK {
        return Err(FetchError::Status(shown.to_owned(), resp.status().as_u16()));
    }
    if resp
        .content_length()
        .is_some_and(|n| n > policy.max_bytes as u64)
    {
        return Err(FetchError::TooLarge(shown.to_owned(), policy.max_bytes));
    }
    let max_age = Duration::from_secs(cache_seconds(resp.headers()));
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|_| FetchError::Connect(shown.to_owned()))?
    {
        if body.len() + chunk.len() > policy.max_bytes {
            return Err(FetchError::TooLarge(shown.to_owned(), policy.max_bytes));
        }
        body.extend_from_slice(&chunk);
    }
    let json = serde_json::from_slice(&body).map_err(|_| FetchError::NotJson(shown.to_owned()))?;
    Ok(Fetched { json, max_age })
}

/// Whether a URL's scheme may be fetched: https, or http to a loopback host when
/// `allow_loopback` (the one rule for documents, key sets and the URLs that name them).
pub fn fetchable_scheme(url: &Url, allow_loopback: bool) -> bool {
    url.scheme() == "https"
        || (allow_loopback
            && url.scheme() == "http"
            && url.host_str().is_some_and(crate::config::is_loopback_host))
}

/// Chooses the address to connect to: every address the host has must be public (a host with
/// one private address among public ones is refused: that is how rebinding attacks look), or
/// loopback when that is allowed.
fn pick_address(addrs: &[SocketAddr], allow_loopback: bool) -> Option<SocketAddr> {
    let ok = |a: &SocketAddr| is_public_ip(a.ip()) || (allow_loopback && is_loopback(a.ip()));
    if addrs.is_empty() || !addrs.iter().all(ok) {
        return None;
    }
    addrs.first().copied()
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Whether an address is on the public internet (the SSRF guard).
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_ip(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] == 0x64 && s[1] == 0xff9b)
                // 2002::/16 (6to4) embeds an IPv4 address that may be private.
                || s[0] == 0x2002
                || s[..6] == [0, 0, 0, 0, 0, 0])
        }
    }
}

/// `max-age` from `Cache-Control` (0 for `no-store`/`no-cache`), at most a day; 5 minutes
/// when the header says nothing.
pub fn cache_seconds(h: &HeaderMap) -> u64 {
    let Some(cc) = h.get(header::CACHE_CONTROL).and_then(|v| v.to_str().ok()) else {
        return 300;
    };
    let cc = cc.to_ascii_lowercase();
    if cc.contains("no-store") || cc.contains("no-cache") {
        return 0;
    }
    cc.split(',')
        .find_map(|d| {
            d.trim()
                .strip_prefix("max-age=")
                .and_then(|v| v.trim().parse::<u64>().ok())
        })
        .unwrap_or(300)
        .min(86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssrf_guard_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "2002:c0a8:0101::1",
        ] {
            assert!(!is_public_ip(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "140.82.112.3", "2606:4700::1111"] {
            assert!(is_public_ip(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn address_choice() {
        let lo: SocketAddr = "127.0.0.1:443".parse().unwrap();
        let lo6: SocketAddr = "[::ffff:127.0.0.1]:443".parse().unwrap();
        let private: SocketAddr = "10.0.0.1:443".parse().unwrap();
        let public: SocketAddr = "8.8.8.8:443".parse().unwrap();
        assert_eq!(pick_address(&[lo], false), None);
        assert_eq!(pick_address(&[lo], true), Some(lo));
        assert_eq!(pick_address(&[lo6], true), Some(lo6));
        // The loopback switch never opens private networks.
        assert_eq!(pick_address(&[private], true), None);
        assert_eq!(pick_address(&[public], false), Some(public));
        // One bad address among good ones refuses the host.
        assert_eq!(pick_address(&[public, private], false), None);
        assert_eq!(pick_address(&[], false), None);
    }

    #[test]
    fn cache_control() {
        let mut h = HeaderMap::new();
        assert_eq!(cache_seconds(&h), 300);
        h.insert(
            header::CACHE_CONTROL,
            "public, max-age=600".parse().unwrap(),
        );
        assert_eq!(cache_seconds(&h), 600);
        h.insert(header::CACHE_CONTROL, "max-age=99999999".parse().unwrap());
        assert_eq!(cache_seconds(&h), 86_400);
        h.insert(header::CACHE_CONTROL, "no-store".parse().unwrap());
        assert_eq!(cache_seconds(&h), 0);
    }

    #[test]
    fn public_messages_are_uniform() {
        let u = "https://x.example/c.json".to_owned();
        let what = "client metadata document";
        let a = FetchError::Resolve(u.clone()).public_message(what);
        let b = FetchError::NotPublic(u.clone()).public_message(what);
        let c = FetchError::Connect(u.clone()).public_message(what);
        let d = FetchError::Timeout(u.clone()).public_message(what);
        let e = FetchError::Status(u.clone(), 404).public_message(what);
        let f = FetchError::TooLarge(u.clone(), 16).public_message(what);
        let g = FetchError::NotJson(u).public_message(what);
        for m in [&b, &c, &d, &e, &f, &g] {
            assert_eq!(&a, m);
        }
    }
}

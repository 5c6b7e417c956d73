//! Per-address token buckets for `/register`, `/authorize` and `/token`.
//!
//! In memory only: a restart forgets them, which is fine for a single-user server whose limits
//! exist to blunt scripted abuse. The client address is the TCP peer, or the first
//! `X-Forwarded-For` entry when the operator says a trusted proxy sets it.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::ConnectInfo;

/// The TCP peer, when the server runs with `into_make_service_with_connect_info::<SocketAddr>()`.
pub type Peer = Option<axum::Extension<ConnectInfo<SocketAddr>>>;
use axum::http::HeaderMap;

/// Which endpoint a bucket belongs to, with its burst size and refill rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Register,
    Authorize,
    Token,
}

impl Endpoint {
    /// (burst, tokens per second)
    fn limits(self) -> (f64, f64) {
        match self {
            Endpoint::Register => (20.0, 0.2),
            Endpoint::Authorize => (60.0, 1.0),
            Endpoint::Token => (60.0, 1.0),
        }
    }
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// The limiter shared by all requests.
#[derive(Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<(Endpoint, IpAddr), Bucket>>,
}

impl RateLimiter {
    /// Takes one token; false when the bucket is empty.
    pub fn allow(&self, endpoint: Endpoint, ip: IpAddr) -> bool {
        let (burst, rate) = endpoint.limits();
        let now = Instant::now();
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 10_000 {
            // Forget idle addresses so the map cannot grow without bound.
            map.retain(|_, b| now.duration_since(b.last).as_secs_f64() * rate < burst);
        }
        let b = map.entry((endpoint, ip)).or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.last).as_secs_f64() * rate).min(burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl super::Auth {
    /// Whether the client behind this request may call `endpoint` now (and counts the call).
    pub(crate) fn allow(&self, endpoint: Endpoint, headers: &HeaderMap, connect: &Peer) -> bool {
        let ip = client_ip(
            headers,
            connect.as_ref().map(|e| &e.0),
            self.settings().trust_forwarded_for,
        );
        self.inner.limiter.allow(endpoint, ip)
    }
}

/// The client's address: the first `X-Forwarded-For` hop when trusted, else the TCP peer.
pub fn client_ip(
    headers: &HeaderMap,
    connect: Option<&ConnectInfo<SocketAddr>>,
    trust_forwarded_for: bool,
) -> IpAddr {
    if trust_forwarded_for
        && let Some(ip) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok())
    {
        return ip;
    }
    connect.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_empties_and_is_per_address() {
        let l = RateLimiter::default();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..20 {
            assert!(l.allow(Endpoint::Register, a));
        }
        assert!(!l.allow(Endpoint::Register, a));
        assert!(l.allow(Endpoint::Register, b));
        assert!(l.allow(Endpoint::Token, a), "buckets are per endpoint");
    }

    #[test]
    fn forwarded_for_only_when_trusted() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "203.0.113.9, 10.0.0.1".parse().unwrap());
        let peer = ConnectInfo("127.0.0.1:5000".parse::<SocketAddr>().unwrap());
        assert_eq!(
            client_ip(&h, Some(&peer), false),
            "127.0.0.1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_ip(&h, Some(&peer), true),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
    }
}

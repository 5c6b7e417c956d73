//! Per-address token buckets for `/register`, `/authorize`, `/token` and `/revoke`.
//!
//! In memory only: a restart forgets them, which is fine for a single-user server whose limits
//! exist to blunt scripted abuse. The client address is the TCP peer, or, when the operator
//! says a trusted proxy sets it, the *last* `X-Forwarded-For` entry: that is the one the proxy
//! appended; every entry before it was written by the client and proves nothing.
//!
//! Memory is bounded without sweeping the map under the lock on every call: buckets live in
//! two generations. New buckets go into the current one; when it holds [`GENERATION_CAP`]
//! addresses or is [`GENERATION_AGE`] old, it becomes the previous one and the old previous one
//! is dropped whole. A bucket found in the previous generation moves to the current one, so an
//! address that keeps calling keeps its bucket; one that stopped is forgotten after at most two
//! generations (by then its bucket would have refilled anyway).

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
    Revoke,
}

impl Endpoint {
    /// (burst, tokens per second)
    fn limits(self) -> (f64, f64) {
        match self {
            Endpoint::Register => (20.0, 0.2),
            Endpoint::Authorize => (60.0, 1.0),
            Endpoint::Token => (60.0, 1.0),
            Endpoint::Revoke => (60.0, 1.0),
        }
    }
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Addresses one generation holds at most.
pub const GENERATION_CAP: usize = 10_000;
/// A generation is retired after this long at the latest.
pub const GENERATION_AGE: std::time::Duration = std::time::Duration::from_secs(600);

type Key = (Endpoint, IpAddr);

struct Generations {
    current: HashMap<Key, Bucket>,
    previous: HashMap<Key, Bucket>,
    started: Instant,
}

impl Default for Generations {
    fn default() -> Generations {
        Generations {
            current: HashMap::new(),
            previous: HashMap::new(),
            started: Instant::now(),
        }
    }
}

impl Generations {
    fn rotate_if_due(&mut self, now: Instant) {
        if self.current.len() >= GENERATION_CAP
            || now.duration_since(self.started) >= GENERATION_AGE
        {
            self.previous = std::mem::take(&mut self.current);
            self.started = now;
        }
    }
}

/// The limiter shared by all requests.
#[derive(Default)]
pub struct RateLimiter {
    buckets: Mutex<Generations>,
}

impl RateLimiter {
    /// Takes one token; false when the bucket is empty. O(1): no sweep.
    pub fn allow(&self, endpoint: Endpoint, ip: IpAddr) -> bool {
        let (burst, rate) = endpoint.limits();
        let now = Instant::now();
        let mut g = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        g.rotate_if_due(now);
        let key = (endpoint, ip);
        let bucket = match g.previous.remove(&key) {
            Some(b) => b,
            None => g.current.remove(&key).unwrap_or(Bucket {
                tokens: burst,
                last: now,
            }),
        };
        let mut b = bucket;
        b.tokens = (b.tokens + now.duration_since(b.last).as_secs_f64() * rate).min(burst);
        b.last = now;
        let ok = b.tokens >= 1.0;
        if ok {
            b.tokens -= 1.0;
        }
        g.current.insert(key, b);
        ok
    }

    /// Retires a generation when one is due (the maintenance task calls it, so an idle server
    /// forgets too).
    pub fn prune(&self) {
        self.buckets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .rotate_if_due(Instant::now());
    }

    /// Addresses tracked (both generations).
    pub fn len(&self) -> usize {
        let g = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        g.current.len() + g.previous.len()
    }

    /// Whether no address is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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

/// The client's address: the last `X-Forwarded-For` hop (the one the trusted proxy appended,
/// over all such headers) when trusted, else the TCP peer.
pub fn client_ip(
    headers: &HeaderMap,
    connect: Option<&ConnectInfo<SocketAddr>>,
    trust_forwarded_for: bool,
) -> IpAddr {
    if trust_forwarded_for
        && let Some(ip) = headers
            .get_all("x-forwarded-for")
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
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
            "10.0.0.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn forwarded_for_spoofing_uses_the_last_hop() {
        // The client wrote "1.2.3.4"; the proxy appended the real address.
        let peer = ConnectInfo("127.0.0.1:5000".parse::<SocketAddr>().unwrap());
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", "1.2.3.4".parse().unwrap());
        h.append("x-forwarded-for", "198.51.100.7".parse().unwrap());
        assert_eq!(
            client_ip(&h, Some(&peer), true),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "1.2.3.4, 5.6.7.8, 198.51.100.7".parse().unwrap(),
        );
        assert_eq!(
            client_ip(&h, Some(&peer), true),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        // A client rotating the first entry gets no fresh bucket.
        let l = RateLimiter::default();
        let mut allowed = 0;
        for i in 0..100 {
            let mut h = HeaderMap::new();
            h.insert(
                "x-forwarded-for",
                format!("10.9.{}.{}, 198.51.100.7", i / 250, i % 250)
                    .parse()
                    .unwrap(),
            );
            if l.allow(Endpoint::Register, client_ip(&h, Some(&peer), true)) {
                allowed += 1;
            }
        }
        assert_eq!(allowed, 20, "one bucket for the one real address");
    }

    #[test]
    fn limiter_memory_is_bounded() {
        let l = RateLimiter::default();
        for i in 0..(3 * GENERATION_CAP as u32) {
            l.allow(Endpoint::Token, IpAddr::V4(Ipv4Addr::from(i)));
        }
        assert!(l.len() <= 2 * GENERATION_CAP, "{}", l.len());
        // An address that keeps calling keeps its (empty) bucket across generations.
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..20 {
            assert!(l.allow(Endpoint::Register, a));
        }
        for i in 0..(GENERATION_CAP as u32 + 10) {
            l.allow(Endpoint::Token, IpAddr::V4(Ipv4Addr::from(i + 1_000_000)));
            if i % 1000 == 0 {
                assert!(
                    !l.allow(Endpoint::Register, a),
                    "still limited after {i} others"
                );
            }
        }
    }
}

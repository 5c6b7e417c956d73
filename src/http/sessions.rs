//! MCP sessions belong to the person who opened them (MCP security best practices: bind
//! session ids to the user). A session id is only a routing handle; anyone who saw one must
//! not be able to use it with a token of their own.
//!
//! The layer sits inside the bearer check: it remembers which subject (`github:<id>`, `local`,
//! `token:<name>`) each new `Mcp-Session-Id` was issued to, and answers a request that carries
//! someone else's session id as the transport answers an unknown session: 404. With `--no-auth`
//! there is no subject and nothing to bind.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::auth::AuthUser;

const SESSION_HEADER: &str = "mcp-session-id";
/// Sessions remembered at most; past it, those idle longest are forgotten first.
const MAX_SESSIONS: usize = 10_000;
/// A session unused this long is forgotten here (the transport has long closed it).
const IDLE: Duration = Duration::from_secs(24 * 3600);

/// Session id → (owner, last use).
#[derive(Default)]
pub struct SessionOwners {
    map: Mutex<HashMap<String, (String, Instant)>>,
}

impl SessionOwners {
    fn owner(&self, id: &str) -> Option<String> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get_mut(id).map(|(owner, used)| {
            *used = Instant::now();
            owner.clone()
        })
    }

    fn bind(&self, id: &str, owner: &str) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_SESSIONS {
            let now = Instant::now();
            map.retain(|_, (_, used)| now.duration_since(*used) < IDLE);
            if map.len() >= MAX_SESSIONS {
                // Still full of live sessions: forget the idlest half.
                let mut uses: Vec<Instant> = map.values().map(|(_, u)| *u).collect();
                uses.sort_unstable();
                let cut = uses[uses.len() / 2];
                map.retain(|_, (_, used)| *used > cut);
            }
        }
        map.entry(id.to_owned())
            .or_insert_with(|| (owner.to_owned(), Instant::now()));
    }

    fn forget(&self, id: &str) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }
}

/// axum middleware for the MCP routes (inside [`crate::auth::require_bearer`]).
pub async fn bind_sessions(
    State(owners): State<Arc<SessionOwners>>,
    req: Request,
    next: Next,
) -> Response {
    let Some(user) = req.extensions().get::<AuthUser>().map(|u| u.sub.clone()) else {
        return next.run(req).await;
    };
    let presented = req
        .headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(id) = &presented
        && let Some(owner) = owners.owner(id)
        && owner != user
    {
        tracing::warn!(sub = %user, "MCP session id of another user refused");
        return (StatusCode::NOT_FOUND, "session not found").into_response();
    }
    let deleting = req.method() == Method::DELETE;
    let resp = next.run(req).await;
    if let Some(id) = resp
        .headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        owners.bind(id, &user);
    }
    if deleting
        && resp.status().is_success()
        && let Some(id) = &presented
    {
        owners.forget(id);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_owner_wins_and_memory_is_bounded() {
        let o = SessionOwners::default();
        o.bind("s1", "github:42");
        o.bind("s1", "github:43");
        assert_eq!(o.owner("s1").as_deref(), Some("github:42"));
        for i in 0..(MAX_SESSIONS + 10) {
            o.bind(&format!("x{i}"), "local");
        }
        assert!(o.map.lock().unwrap().len() <= MAX_SESSIONS);
        o.forget("s1");
        assert_eq!(o.owner("s1"), None);
    }
}

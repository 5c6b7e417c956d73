//! What the bearer check must refuse without reading the database on each request: revoked
//! access-token ids, revoked grants (every access token carries its grant id, `gid`), and the
//! personal access tokens that are still usable.
//!
//! The sets live in memory, loaded from the store at start and reloaded whenever another
//! process changes the store (`vaultmcp token revoke`, `clients revoke`: they tell a running
//! server over the control socket and wait for the reload, and a poll of SQLite's
//! `data_version` every [`POLL`] catches anything else). Revocations made by this server are
//! added directly. A grant stays in the set for as long as one of its access tokens can live.
//!
//! The maintenance task also prunes the store ([`store::prune`]) and these sets on a schedule.

use std::collections::HashMap;
use std::sync::{Mutex, RwLock, Weak};
use std::time::Duration;

use rusqlite::Connection;

use super::store::{self, grants, pats, prune};

/// How often the maintenance task looks for changes made by other processes.
pub const POLL: Duration = Duration::from_secs(2);
/// How often it prunes.
pub const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// A usable personal access token.
#[derive(Debug, Clone)]
pub struct Pat {
    pub name: String,
    pub expires_at: Option<i64>,
}

/// The in-memory revocation state; see the module docs.
#[derive(Default)]
pub struct Revocations {
    jti: Mutex<HashMap<String, i64>>,
    grants: RwLock<HashMap<String, i64>>,
    pats: RwLock<HashMap<String, Pat>>,
    /// When each personal token's use was last written down (uses are recorded at most once a
    /// minute per token).
    pat_touched: Mutex<HashMap<String, i64>>,
}

/// What [`Revocations::read`] loads from the store.
pub struct Snapshot {
    jti: HashMap<String, i64>,
    grants: HashMap<String, i64>,
    pats: HashMap<String, Pat>,
}

impl Revocations {
    /// Reads the state from the store at `now`; grants revoked before `now - keep_secs` can no
    /// longer have live access tokens and are left out.
    pub fn read(conn: &Connection, now: i64, keep_secs: i64) -> rusqlite::Result<Snapshot> {
        let mut stmt =
            conn.prepare("SELECT jti, expires_at FROM revoked_jti WHERE expires_at >= ?1")?;
        let jti = stmt
            .query_map([now], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
            .collect::<Result<HashMap<_, _>, _>>()?;
        let grants = grants::revoked_since(conn, now - keep_secs)?
            .into_iter()
            .collect();
        let pats = pats::usable(conn, now)?
            .into_iter()
            .map(|(hash, name, expires_at)| (hash, Pat { name, expires_at }))
            .collect();
        Ok(Snapshot { jti, grants, pats })
    }

    pub fn from_snapshot(s: Snapshot) -> Revocations {
        let r = Revocations::default();
        r.replace(s);
        r
    }

    /// Swaps in a freshly read state.
    pub fn replace(&self, s: Snapshot) {
        *self.jti.lock().unwrap_or_else(|p| p.into_inner()) = s.jti;
        *self.grants.write().unwrap_or_else(|p| p.into_inner()) = s.grants;
        *self.pats.write().unwrap_or_else(|p| p.into_inner()) = s.pats;
    }

    pub fn jti_revoked(&self, jti: &str) -> bool {
        self.jti
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(jti)
    }

    pub fn revoke_jti(&self, jti: &str, exp: i64) {
        self.jti
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(jti.to_owned(), exp);
    }

    pub fn grant_revoked(&self, grant_id: &str) -> bool {
        self.grants
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(grant_id)
    }

    pub fn revoke_grants<'a>(&self, ids: impl IntoIterator<Item = &'a String>, t: i64) {
        let mut g = self.grants.write().unwrap_or_else(|p| p.into_inner());
        for id in ids {
            g.insert(id.clone(), t);
        }
    }

    /// The personal token with this hash, when usable at `now`.
    pub fn pat(&self, hash: &str, now: i64) -> Option<Pat> {
        self.pats
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(hash)
            .filter(|p| p.expires_at.is_none_or(|e| e > now))
            .cloned()
    }

    /// Whether a use of this token should be written down now (at most once a minute).
    pub fn should_touch(&self, hash: &str, now: i64) -> bool {
        let mut t = self.pat_touched.lock().unwrap_or_else(|p| p.into_inner());
        match t.get(hash) {
            Some(last) if now - last < 60 => false,
            _ => {
                t.insert(hash.to_owned(), now);
                true
            }
        }
    }

    /// Drops what can no longer matter at `now`.
    pub fn prune(&self, now: i64, keep_secs: i64) {
        self.jti
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, exp| *exp >= now);
        self.grants
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, t| *t >= now - keep_secs);
        self.pat_touched
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, t| now - *t < 3600);
    }
}

impl super::Auth {
    /// How long a revoked grant must stay refused: the longest an access token lives, plus
    /// leeway.
    pub(crate) fn keep_revoked_secs(&self) -> i64 {
        super::key_grace_secs(&self.inner.settings)
    }

    /// Reloads the revocation state from the store (after another process changed it).
    pub async fn reload_revocations(&self) -> anyhow::Result<()> {
        let keep = self.keep_revoked_secs();
        let snapshot = self
            .inner
            .store
            .call(move |c| Ok(Revocations::read(c, store::now(), keep)?))
            .await?;
        self.inner.revocations.replace(snapshot);
        Ok(())
    }

    /// Records revoked grants in memory (the store has them already).
    pub(crate) fn note_revoked_grants(&self, ids: &[String]) {
        self.inner.revocations.revoke_grants(ids, store::now());
    }
}

/// The maintenance loop: reload when another process changed the store, prune on a schedule.
/// Ends when the last `Auth` is dropped.
pub(crate) async fn maintain(inner: Weak<super::Inner>) {
    let mut last_version: Option<i64> = None;
    let mut since_prune = Duration::ZERO;
    loop {
        tokio::time::sleep(POLL).await;
        since_prune += POLL;
        let Some(inner) = inner.upgrade() else { return };
        let auth = super::Auth { inner };
        let version = auth
            .inner
            .store
            .call(|c| Ok(c.query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0))?))
            .await
            .ok();
        if version.is_some()
            && last_version.is_some()
            && version != last_version
            && let Err(e) = auth.reload_revocations().await
        {
            tracing::warn!(error = %format!("{e:#}"), "cannot reload revocations");
        }
        last_version = version.or(last_version);
        if since_prune >= PRUNE_EVERY {
            since_prune = Duration::ZERO;
            prune_now(&auth).await;
        }
    }
}

/// One bounded pruning pass over the store and the in-memory state.
pub(crate) async fn prune_now(auth: &super::Auth) {
    let keep = auth.keep_revoked_secs();
    let now = store::now();
    match auth
        .inner
        .store
        .call(move |c| Ok(prune::pass(c, now, keep, super::CLIENT_IDLE_SECS)?))
        .await
    {
        Ok(p) if p.total() > 0 => tracing::debug!(?p, "auth store pruned"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %format!("{e:#}"), "cannot prune the auth store"),
    }
    auth.inner.revocations.prune(now, keep);
    auth.inner.limiter.prune();
}

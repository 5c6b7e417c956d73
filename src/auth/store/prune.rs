//! Clean-up of everything that expires, bounded in work per pass: each pass deletes at most
//! [`BATCH`] rows per table, so a pass never holds the store for long however much has piled
//! up; the next pass takes the rest.

use rusqlite::{Connection, params};

/// Rows deleted per table and pass at most.
pub const BATCH: i64 = 500;
/// Audit entries are kept this long.
pub const AUDIT_KEEP_SECS: i64 = 180 * 24 * 3600;

/// How many rows one pass removed, per table.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub codes: usize,
    pub pending_logins: usize,
    pub refresh_tokens: usize,
    pub grants: usize,
    pub revoked_jti: usize,
    pub assertion_jti: usize,
    pub clients: usize,
    pub audit: usize,
}

impl Pruned {
    pub fn total(&self) -> usize {
        self.codes
            + self.pending_logins
            + self.refresh_tokens
            + self.grants
            + self.revoked_jti
            + self.assertion_jti
            + self.clients
            + self.audit
    }
}

fn batch(conn: &Connection, table: &str, condition: &str, arg: i64) -> rusqlite::Result<usize> {
    conn.execute(
        &format!(
            "DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} WHERE {condition} LIMIT {BATCH})"
        ),
        params![arg],
    )
}

/// One pass at `now` (seconds). `keep_revoked_secs`: how long a revoked grant is kept (its
/// access tokens must stay refused until they expire); `client_idle_secs`: unused registrations
/// are forgotten after this long.
pub fn pass(
    conn: &Connection,
    now: i64,
    keep_revoked_secs: i64,
    client_idle_secs: i64,
) -> rusqlite::Result<Pruned> {
    Ok(Pruned {
        // Codes live a minute; an hour more keeps replay detection for late replays.
        codes: batch(conn, "codes", "expires_at_ms < ?1", (now - 3600) * 1000)?,
        pending_logins: batch(conn, "pending_logins", "expires_at < ?1", now)?,
        refresh_tokens: batch(conn, "refresh_tokens", "expires_at < ?1", now)?,
        // A grant goes once it is revoked long enough ago, or has no refresh token left.
        grants: batch(
            conn,
            "grants",
            "(revoked_at IS NOT NULL AND revoked_at < ?1) OR (revoked_at IS NULL AND NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.grant_id = grants.grant_id) AND created_at < ?1)",
            now - keep_revoked_secs,
        )?,
        revoked_jti: batch(conn, "revoked_jti", "expires_at < ?1", now)?,
        assertion_jti: batch(conn, "assertion_jti", "expires_at < ?1", now)?,
        clients: batch(conn, "clients", "last_used_at < ?1", now - client_idle_secs)?,
        audit: batch(conn, "audit", "at < ?1", now - AUDIT_KEEP_SECS)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_passes_remove_only_what_expired() {
        let dir = tempfile::tempdir().unwrap();
        let conn = super::super::open_connection(dir.path()).unwrap();
        let now = 1_000_000;
        for i in 0..(BATCH + 10) {
            conn.execute(
                "INSERT INTO assertion_jti (client_id, jti, expires_at) VALUES ('c', ?1, ?2)",
                params![format!("old{i}"), now - 1],
            )
            .unwrap();
        }
        conn.execute(
            "INSERT INTO assertion_jti (client_id, jti, expires_at) VALUES ('c', 'live', ?1)",
            params![now + 100],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO grants (grant_id, client_id, sub, login, scope, resource, created_at, revoked_at) VALUES ('old', 'c', 's', 'l', 'x', 'r', 1, 2), ('recent', 'c', 's', 'l', 'x', 'r', ?1, ?1)",
            params![now - 10],
        )
        .unwrap();
        let first = pass(&conn, now, 3600, 90 * 86400).unwrap();
        assert_eq!(first.assertion_jti, BATCH as usize);
        assert_eq!(first.grants, 1);
        let second = pass(&conn, now, 3600, 90 * 86400).unwrap();
        assert_eq!(second.assertion_jti, 10);
        let third = pass(&conn, now, 3600, 90 * 86400).unwrap();
        assert_eq!(third.total(), 0);
        let left: i64 = conn
            .query_row("SELECT COUNT(*) FROM assertion_jti", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 1);
        let grants: i64 = conn
            .query_row("SELECT COUNT(*) FROM grants", [], |r| r.get(0))
            .unwrap();
        assert_eq!(grants, 1, "the recently revoked grant is kept");
    }
}

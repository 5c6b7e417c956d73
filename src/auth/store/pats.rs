//! Personal access tokens (`vaultmcp token create`): for scripts, `curl` and MCP clients
//! configured with a header. Only the SHA-256 of a token is stored; the token is shown once.

use rusqlite::{Connection, OptionalExtension, params};

/// One token as listed (never the token itself).
#[derive(Debug, Clone, serde::Serialize)]
pub struct PatRow {
    pub name: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// Stores a new token under `name`. A live token of that name is an error (`Ok(false)`); a
/// revoked or expired one is replaced.
pub fn create(
    conn: &Connection,
    name: &str,
    token_hash: &str,
    t: i64,
    expires_at: Option<i64>,
) -> rusqlite::Result<bool> {
    let live: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM personal_tokens WHERE name = ?1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?2)",
            params![name, t],
            |r| r.get(0),
        )
        .optional()?;
    if live.is_some() {
        return Ok(false);
    }
    conn.execute("DELETE FROM personal_tokens WHERE name = ?1", [name])?;
    conn.execute(
        "INSERT INTO personal_tokens (name, token_hash, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![name, token_hash, t, expires_at],
    )?;
    Ok(true)
}

/// Every token, newest first.
pub fn list(conn: &Connection) -> rusqlite::Result<Vec<PatRow>> {
    let mut stmt = conn.prepare(
        "SELECT name, created_at, expires_at, last_used_at, revoked_at FROM personal_tokens ORDER BY created_at DESC, name",
    )?;
    stmt.query_map([], |r| {
        Ok(PatRow {
            name: r.get(0)?,
            created_at: r.get(1)?,
            expires_at: r.get(2)?,
            last_used_at: r.get(3)?,
            revoked_at: r.get(4)?,
        })
    })?
    .collect()
}

/// Revokes the live token called `name`; false when there is none.
pub fn revoke(conn: &Connection, name: &str, t: i64) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE personal_tokens SET revoked_at = ?1 WHERE name = ?2 AND revoked_at IS NULL",
        params![t, name],
    )? == 1)
}

/// The tokens that may be used at `t`: (hash, name, expires_at).
pub fn usable(conn: &Connection, t: i64) -> rusqlite::Result<Vec<(String, String, Option<i64>)>> {
    let mut stmt = conn.prepare(
        "SELECT token_hash, name, expires_at FROM personal_tokens WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?1)",
    )?;
    stmt.query_map([t], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect()
}

/// Records a use.
pub fn touch(conn: &Connection, token_hash: &str, t: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE personal_tokens SET last_used_at = ?1 WHERE token_hash = ?2",
        params![t, token_hash],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle() {
        let dir = tempfile::tempdir().unwrap();
        let conn = super::super::open_connection(dir.path()).unwrap();
        assert!(create(&conn, "ci", "h1", 100, Some(200)).unwrap());
        assert!(
            !create(&conn, "ci", "h2", 150, None).unwrap(),
            "a live name is taken"
        );
        assert!(create(&conn, "laptop", "h3", 110, None).unwrap());
        assert_eq!(usable(&conn, 150).unwrap().len(), 2);
        assert_eq!(usable(&conn, 250).unwrap().len(), 1, "ci expired at 200");
        // An expired name can be reused.
        assert!(create(&conn, "ci", "h4", 300, None).unwrap());
        touch(&conn, "h4", 310).unwrap();
        assert!(revoke(&conn, "laptop", 320).unwrap());
        assert!(!revoke(&conn, "laptop", 321).unwrap());
        assert!(!revoke(&conn, "nope", 321).unwrap());
        let rows = list(&conn).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].name, "ci");
        assert_eq!(rows[0].last_used_at, Some(310));
        assert_eq!(rows[1].revoked_at, Some(320));
        let hashes: Vec<_> = usable(&conn, 330)
            .unwrap()
            .into_iter()
            .map(|u| u.0)
            .collect();
        assert_eq!(hashes, ["h4"]);
    }
}

//! The audit log: sign-ins, refusals, consent decisions, refresh-token reuse, revocations and
//! token creation — who, which client, when, from where. Never a token or a secret: callers
//! pass names, ids and reasons only.

use rusqlite::{Connection, params};

/// One audit entry.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Entry {
    /// Unix seconds.
    pub at: i64,
    /// What happened: `sign_in`, `sign_in_refused`, `consent_approved`, `consent_denied`,
    /// `refresh_reuse`, `code_replay`, `grant_revoked`, `client_revoked`, `token_created`,
    /// `token_revoked`, `client_refused`.
    pub event: String,
    /// The person (`github:<id>`, `local`) or token name.
    pub who: Option<String>,
    pub client_id: Option<String>,
    /// The client address, as the rate limiter sees it.
    pub ip: Option<String>,
    /// A reason or other detail in words.
    pub detail: Option<String>,
}

pub fn record(conn: &Connection, e: &Entry) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO audit (at, event, who, client_id, ip, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![e.at, e.event, e.who, e.client_id, e.ip, e.detail],
    )?;
    Ok(())
}

/// Entries at or after `since`, oldest first.
pub fn since(conn: &Connection, since: i64) -> rusqlite::Result<Vec<Entry>> {
    let mut stmt = conn.prepare(
        "SELECT at, event, who, client_id, ip, detail FROM audit WHERE at >= ?1 ORDER BY id",
    )?;
    stmt.query_map([since], |r| {
        Ok(Entry {
            at: r.get(0)?,
            event: r.get(1)?,
            who: r.get(2)?,
            client_id: r.get(3)?,
            ip: r.get(4)?,
            detail: r.get(5)?,
        })
    })?
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let conn = super::super::open_connection(dir.path()).unwrap();
        for (at, event) in [
            (10, "sign_in"),
            (20, "consent_denied"),
            (30, "token_created"),
        ] {
            record(
                &conn,
                &Entry {
                    at,
                    event: event.into(),
                    who: Some("github:42".into()),
                    ..Entry::default()
                },
            )
            .unwrap();
        }
        let got: Vec<_> = since(&conn, 20)
            .unwrap()
            .into_iter()
            .map(|e| e.event)
            .collect();
        assert_eq!(got, ["consent_denied", "token_created"]);
    }
}

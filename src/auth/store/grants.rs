//! Grants (one approval of one client by one person, with its refresh-token family): revoking
//! them, and the connected-apps view of `vaultmcp clients list`.

use rusqlite::{Connection, OptionalExtension, params};

/// Marks a grant revoked at `t`; true when it was live until now.
pub fn revoke(conn: &Connection, grant_id: &str, t: i64) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE grants SET revoked_at = ?1 WHERE grant_id = ?2 AND revoked_at IS NULL",
        params![t, grant_id],
    )? == 1)
}

/// Revokes every live grant of a client; returns their ids.
pub fn revoke_client(conn: &Connection, client_id: &str, t: i64) -> rusqlite::Result<Vec<String>> {
    let mut stmt =
        conn.prepare("SELECT grant_id FROM grants WHERE client_id = ?1 AND revoked_at IS NULL")?;
    let ids = stmt
        .query_map([client_id], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    for id in &ids {
        revoke(conn, id, t)?;
    }
    Ok(ids)
}

/// Grants revoked at or after `since` (their access tokens may still be unexpired).
pub fn revoked_since(conn: &Connection, since: i64) -> rusqlite::Result<Vec<(String, i64)>> {
    let mut stmt =
        conn.prepare("SELECT grant_id, revoked_at FROM grants WHERE revoked_at >= ?1")?;
    stmt.query_map([since], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

/// Whether a client is known here at all: registered, or named by some grant.
pub fn client_known(conn: &Connection, client_id: &str) -> rusqlite::Result<bool> {
    let n: i64 = conn.query_row(
        "SELECT (SELECT COUNT(*) FROM clients WHERE client_id = ?1) + (SELECT COUNT(*) FROM grants WHERE client_id = ?1)",
        [client_id],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

/// One connected app, as `vaultmcp clients list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClientSummary {
    pub client_id: String,
    pub name: Option<String>,
    /// `registered` (RFC 7591) or `metadata document` (CIMD).
    pub kind: &'static str,
    pub redirect_hosts: Vec<String>,
    /// Logins that signed in through it.
    pub signed_in: Vec<String>,
    /// Unix seconds of its last token request.
    pub last_used: Option<i64>,
    pub live_grants: i64,
}

/// Every client that is registered or has a grant, most recently used first.
pub fn clients(conn: &Connection) -> rusqlite::Result<Vec<ClientSummary>> {
    let mut stmt =
        conn.prepare("SELECT client_id FROM clients UNION SELECT client_id FROM grants")?;
    let ids = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let reg: Option<(Option<String>, String, i64)> = conn
            .query_row(
                "SELECT client_name, redirect_uris, last_used_at FROM clients WHERE client_id = ?1",
                [&id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let mut logins_stmt =
            conn.prepare("SELECT DISTINCT login FROM grants WHERE client_id = ?1 ORDER BY login")?;
        let signed_in = logins_stmt
            .query_map([&id], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        let (live, last_grant): (i64, Option<i64>) = conn.query_row(
            "SELECT COUNT(*) FILTER (WHERE revoked_at IS NULL), MAX(created_at) FROM grants WHERE client_id = ?1",
            [&id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let last_refresh: Option<i64> = conn.query_row(
            "SELECT MAX(t.created_at) FROM refresh_tokens t JOIN grants g ON g.grant_id = t.grant_id WHERE g.client_id = ?1",
            [&id],
            |r| r.get(0),
        )?;
        let (name, uris, reg_used) = match reg {
            Some((name, uris, used)) => (
                name,
                serde_json::from_str(&uris).unwrap_or_default(),
                Some(used),
            ),
            None => (None, Vec::<String>::new(), None),
        };
        let mut hosts: Vec<String> = uris
            .iter()
            .filter_map(|u| url::Url::parse(u).ok()?.host_str().map(str::to_owned))
            .collect();
        hosts.dedup();
        let metadata_document = id.starts_with("https://") || id.starts_with("http://");
        out.push(ClientSummary {
            kind: if metadata_document {
                "metadata document"
            } else {
                "registered"
            },
            name,
            redirect_hosts: hosts,
            signed_in,
            last_used: [reg_used, last_grant, last_refresh]
                .into_iter()
                .flatten()
                .max(),
            live_grants: live,
            client_id: id,
        });
    }
    out.sort_by_key(|c| std::cmp::Reverse(c.last_used));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(conn: &Connection, id: &str, client: &str, login: &str, t: i64) {
        conn.execute(
            "INSERT INTO grants (grant_id, client_id, sub, login, github_id, scope, resource, created_at) VALUES (?1, ?2, 'github:1', ?3, 1, 'notes:read', 'r', ?4)",
            params![id, client, login, t],
        )
        .unwrap();
    }

    #[test]
    fn revoke_and_list() {
        let dir = tempfile::tempdir().unwrap();
        let conn = super::super::open_connection(dir.path()).unwrap();
        conn.execute(
            "INSERT INTO clients (client_id, client_name, redirect_uris, auth_method, created_at, last_used_at) VALUES ('reg1', 'Inspector', '[\"http://127.0.0.1:6274/cb\"]', 'none', 10, 20)",
            [],
        )
        .unwrap();
        grant(&conn, "g1", "reg1", "alice", 30);
        grant(
            &conn,
            "g2",
            "https://chatgpt.com/oauth/x/client.json",
            "alice",
            40,
        );
        grant(
            &conn,
            "g3",
            "https://chatgpt.com/oauth/x/client.json",
            "alice",
            50,
        );

        let list = clients(&conn).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].client_id, "https://chatgpt.com/oauth/x/client.json");
        assert_eq!(list[0].kind, "metadata document");
        assert_eq!(list[0].live_grants, 2);
        assert_eq!(list[1].kind, "registered");
        assert_eq!(list[1].redirect_hosts, ["127.0.0.1"]);
        assert_eq!(list[1].signed_in, ["alice"]);

        assert!(revoke(&conn, "g1", 60).unwrap());
        assert!(!revoke(&conn, "g1", 61).unwrap(), "only once");
        let ids = revoke_client(&conn, "https://chatgpt.com/oauth/x/client.json", 70).unwrap();
        assert_eq!(ids.len(), 2);
        assert!(clients(&conn).unwrap().iter().all(|c| c.live_grants == 0));
        let since = revoked_since(&conn, 65).unwrap();
        assert_eq!(since.len(), 2);
        assert!(client_known(&conn, "reg1").unwrap());
        assert!(!client_known(&conn, "nobody").unwrap());
    }
}

//! The authorization server's durable state: one SQLite file, `<data-dir>/auth.sqlite3`.
//!
//! Holds signing keys, registered clients, authorization codes, grants (refresh-token families),
//! refresh tokens, revoked access-token ids, spent client-assertion ids, personal access tokens
//! and the audit log. Schema changes are numbered
//! migrations keyed on `PRAGMA user_version`. The connection sits behind a `Mutex` and every
//! use runs on the blocking thread pool, so no async task ever waits on disk I/O.
//!
//! Codes and refresh tokens are stored as SHA-256 hashes: a copy of the file does not hold a
//! usable credential.
//!
//! The submodules are the store layer: plain functions on a [`Connection`] or transaction,
//! knowing nothing of HTTP or of `Auth`, unit-tested against SQLite: [`grants`] (grant
//! revocation and the connected-apps view), [`pats`] (personal access tokens), [`audit`] (the
//! audit log) and [`prune`] (bounded clean-up of everything that expires).

pub mod audit;
pub mod grants;
pub mod pats;
pub mod prune;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use rusqlite::Connection;

/// File name of the store inside the data dir.
pub const DB_FILE: &str = "auth.sqlite3";

const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    "CREATE TABLE signing_keys (
        kid TEXT PRIMARY KEY,
        private_pkcs8 BLOB NOT NULL,
        public_raw BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        retired_at INTEGER
    );
    CREATE TABLE clients (
        client_id TEXT PRIMARY KEY,
        secret_hash TEXT,
        client_name TEXT,
        redirect_uris TEXT NOT NULL,
        auth_method TEXT NOT NULL,
        metadata TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_used_at INTEGER NOT NULL
    );
    CREATE TABLE pending_logins (
        state_hash TEXT PRIMARY KEY,
        browser_hash TEXT NOT NULL,
        request TEXT NOT NULL,
        pkce_verifier TEXT NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE TABLE codes (
        code_hash TEXT PRIMARY KEY,
        client_id TEXT NOT NULL,
        redirect_uri TEXT NOT NULL,
        code_challenge TEXT NOT NULL,
        resource TEXT NOT NULL,
        scope TEXT NOT NULL,
        sub TEXT NOT NULL,
        login TEXT NOT NULL,
        github_id INTEGER,
        expires_at_ms INTEGER NOT NULL,
        used INTEGER NOT NULL DEFAULT 0,
        grant_id TEXT
    );
    CREATE TABLE grants (
        grant_id TEXT PRIMARY KEY,
        client_id TEXT NOT NULL,
        sub TEXT NOT NULL,
        login TEXT NOT NULL,
        github_id INTEGER,
        scope TEXT NOT NULL,
        resource TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
    );
    CREATE TABLE refresh_tokens (
        token_hash TEXT PRIMARY KEY,
        grant_id TEXT NOT NULL REFERENCES grants(grant_id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        rotated_at INTEGER
    );
    CREATE INDEX refresh_tokens_grant ON refresh_tokens(grant_id);
    CREATE TABLE consents (
        client_id TEXT NOT NULL,
        sub TEXT NOT NULL,
        scope TEXT NOT NULL,
        granted_at INTEGER NOT NULL,
        PRIMARY KEY (client_id, sub)
    );
    CREATE TABLE revoked_jti (
        jti TEXT PRIMARY KEY,
        expires_at INTEGER NOT NULL
    );",
    // 2: RFC 7523 client assertions already used, kept until they expire.
    "CREATE TABLE assertion_jti (
        client_id TEXT NOT NULL,
        jti TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (client_id, jti)
    );",
    // 3: personal access tokens and the audit log; the never-read consents table and
    // clients.metadata column go.
    "DROP TABLE consents;
    ALTER TABLE clients DROP COLUMN metadata;
    CREATE TABLE personal_tokens (
        name TEXT PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        last_used_at INTEGER,
        revoked_at INTEGER
    );
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        event TEXT NOT NULL,
        who TEXT,
        client_id TEXT,
        ip TEXT,
        detail TEXT
    );
    CREATE INDEX audit_at ON audit(at);
    CREATE INDEX grants_client ON grants(client_id);",
];

/// A shared handle on the SQLite connection.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

impl Store {
    /// Opens (creating with mode 0600) and migrates `<data_dir>/auth.sqlite3`.
    pub fn open(data_dir: &Path) -> anyhow::Result<Store> {
        let conn = open_connection(data_dir)?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` with the connection on the blocking pool.
    pub async fn call<R, F>(&self, f: F) -> anyhow::Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> anyhow::Result<R> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        })
        .await
        .context("auth store task failed")?
    }
}

/// Opens and migrates the store synchronously (also used by `vaultmcp keys rotate`).
pub fn open_connection(data_dir: &Path) -> anyhow::Result<Connection> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data folder {}", data_dir.display()))?;
    let path = db_path(data_dir);
    create_private_file(&path)?;
    let mut conn =
        Connection::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    migrate(&mut conn).with_context(|| format!("cannot migrate {}", path.display()))?;
    for suffix in ["-wal", "-shm"] {
        let mut p = path.clone().into_os_string();
        p.push(suffix);
        restrict(Path::new(&p));
    }
    Ok(conn)
}

pub fn db_path(data_dir: &Path) -> PathBuf {
    data_dir.join(DB_FILE)
}

fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let version = usize::try_from(version).unwrap_or(0);
    anyhow::ensure!(
        version <= MIGRATIONS.len(),
        "the auth store was written by a newer vaultmcp (schema {version})"
    );
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

/// Creates the file with mode 0600 when missing, and tightens it when it exists.
fn create_private_file(path: &Path) -> anyhow::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    restrict(path);
    Ok(())
}

fn restrict(path: &Path) {
    #[cfg(unix)]
    if path.exists() {
        use std::os::unix::fs::PermissionsExt;
        if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
            tracing::warn!(path = %path.display(), error = %e, "cannot set mode 0600");
        }
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_connection(dir.path()).unwrap();
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
        drop(conn);
        // Re-opening is a no-op migration.
        open_connection(dir.path()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(db_path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}

//! The person's own management of the authorization server, run from the command line
//! against the auth store (`vaultmcp token …`, `clients …`, `audit`). Plain functions on the
//! data dir: they work whether or not a server runs; the CLI then tells a running server to
//! reload (see [`crate::watch::control::notify_auth_changed`]).

use std::path::Path;

use anyhow::{Context, bail};

use super::store::{self, audit, grants, pats};
use super::{pat, sha256_hex};

/// A token as `token create` prints it, the only time it is shown.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CreatedToken {
    pub name: String,
    pub token: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

fn open(data_dir: &Path) -> anyhow::Result<rusqlite::Connection> {
    store::open_connection(data_dir)
        .with_context(|| format!("cannot open the auth store in {}", data_dir.display()))
}

/// Creates a personal access token called `name`, valid for `expires_secs` (forever if none).
pub fn create_token(
    data_dir: &Path,
    name: &str,
    expires_secs: Option<i64>,
) -> anyhow::Result<CreatedToken> {
    if !pat::valid_name(name) {
        bail!("a token name is 1 to 64 letters, digits, '-', '_' or '.' (got {name:?})");
    }
    let conn = open(data_dir)?;
    let token = pat::generate();
    let t = store::now();
    let expires_at = expires_secs.map(|s| t + s);
    if !pats::create(&conn, name, &sha256_hex(&token), t, expires_at)? {
        bail!("a token called {name:?} already exists; revoke it first or pick another name");
    }
    audit::record(
        &conn,
        &audit::Entry {
            at: t,
            event: "token_created".into(),
            who: Some(format!("token:{name}")),
            detail: expires_at.map(|e| format!("expires at {e}")),
            ..Default::default()
        },
    )?;
    Ok(CreatedToken {
        name: name.to_owned(),
        token,
        created_at: t,
        expires_at,
    })
}

pub fn list_tokens(data_dir: &Path) -> anyhow::Result<Vec<pats::PatRow>> {
    Ok(pats::list(&open(data_dir)?)?)
}

/// Revokes the token called `name`; an error when there is no live token of that name.
pub fn revoke_token(data_dir: &Path, name: &str) -> anyhow::Result<()> {
    let conn = open(data_dir)?;
    let t = store::now();
    if !pats::revoke(&conn, name, t)? {
        bail!("no live token is called {name:?} (see `vaultmcp token list`)");
    }
    audit::record(
        &conn,
        &audit::Entry {
            at: t,
            event: "token_revoked".into(),
            who: Some(format!("token:{name}")),
            ..Default::default()
        },
    )?;
    Ok(())
}

pub fn list_clients(data_dir: &Path) -> anyhow::Result<Vec<grants::ClientSummary>> {
    Ok(grants::clients(&open(data_dir)?)?)
}

/// Ends every grant of a client (its refresh tokens stop working, its access tokens are
/// refused); returns how many grants were live.
pub fn revoke_client(data_dir: &Path, client_id: &str) -> anyhow::Result<usize> {
    let mut conn = open(data_dir)?;
    let tx = conn.transaction()?;
    if !grants::client_known(&tx, client_id)? {
        bail!("no client {client_id:?} is known here (see `vaultmcp clients list`)");
    }
    let t = store::now();
    let ended = grants::revoke_client(&tx, client_id, t)?;
    audit::record(
        &tx,
        &audit::Entry {
            at: t,
            event: "client_revoked".into(),
            client_id: Some(client_id.to_owned()),
            detail: Some(format!("{} live grant(s) ended", ended.len())),
            ..Default::default()
        },
    )?;
    tx.commit()?;
    Ok(ended.len())
}

pub fn audit_since(data_dir: &Path, since: i64) -> anyhow::Result<Vec<audit::Entry>> {
    Ok(audit::since(&open(data_dir)?, since)?)
}

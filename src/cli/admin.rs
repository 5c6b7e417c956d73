//! The admin commands: `token`, `clients` and `audit`. They work on the auth store in the data
//! dir directly, then tell a running server to reload, so a revocation bites on its next
//! request.

use std::path::Path;

use clap::Subcommand;

use crate::auth::admin;
use crate::auth::pat::parse_duration;
use crate::watch::control;

#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Make a personal access token for a script or an MCP client configured with a header;
    /// it is printed once
    Create {
        /// A name to tell it by (letters, digits, - _ .)
        name: String,
        /// Lifetime, e.g. 90d, 12h (default: no expiry)
        #[arg(long, value_name = "DURATION")]
        expires: Option<String>,
        /// Print {"name","token","created_at","expires_at"} JSON
        #[arg(long)]
        json: bool,
    },
    /// List personal access tokens (never the tokens themselves)
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a personal access token; a running server refuses it from its next request
    Revoke { name: String },
}

#[derive(Debug, Subcommand)]
pub enum ClientsAction {
    /// The apps that registered or signed in, who signed in through them, and their live grants
    List {
        #[arg(long)]
        json: bool,
    },
    /// End every grant and token of a client at once
    Revoke {
        #[arg(value_name = "CLIENT_ID")]
        client_id: String,
    },
}

fn when(t: Option<i64>) -> String {
    t.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map_or_else(
            || "-".to_owned(),
            |d| d.format("%Y-%m-%d %H:%M UTC").to_string(),
        )
}

/// Tells a running server that the store changed; says so (on stderr, so `--json` output
/// stays JSON) when one was told.
fn tell_server(data_dir: &Path) {
    if control::notify_auth_changed(data_dir) {
        eprintln!("the running server has picked the change up");
    }
}

pub fn token(data_dir: &Path, action: TokenAction) -> anyhow::Result<()> {
    match action {
        TokenAction::Create {
            name,
            expires,
            json,
        } => {
            let expires_secs = match expires.as_deref() {
                None => None,
                Some(e) => Some(parse_duration(e).ok_or_else(|| {
                    anyhow::anyhow!("--expires {e:?} is not a duration like 90d, 12h or 30m")
                })?),
            };
            let t = admin::create_token(data_dir, &name, expires_secs)?;
            tell_server(data_dir);
            if json {
                println!("{}", serde_json::to_string(&t)?);
            } else {
                println!("{}", t.token);
                eprintln!(
                    "token {:?} created (expires: {}); it is shown only now. Use it as `Authorization: Bearer <token>`.",
                    t.name,
                    when(t.expires_at)
                );
            }
        }
        TokenAction::List { json } => {
            let rows = admin::list_tokens(data_dir)?;
            if json {
                println!("{}", serde_json::to_string(&rows)?);
            } else if rows.is_empty() {
                println!("no personal access tokens");
            } else {
                println!(
                    "{:<24} {:<20} {:<20} {:<20} status",
                    "name", "created", "expires", "last used"
                );
                let now = crate::auth::store::now();
                for r in rows {
                    let status = if r.revoked_at.is_some() {
                        "revoked"
                    } else if r.expires_at.is_some_and(|e| e <= now) {
                        "expired"
                    } else {
                        "live"
                    };
                    println!(
                        "{:<24} {:<20} {:<20} {:<20} {status}",
                        r.name,
                        when(Some(r.created_at)),
                        when(r.expires_at),
                        when(r.last_used_at)
                    );
                }
            }
        }
        TokenAction::Revoke { name } => {
            admin::revoke_token(data_dir, &name)?;
            println!("token {name:?} revoked");
            tell_server(data_dir);
        }
    }
    Ok(())
}

pub fn clients(data_dir: &Path, action: ClientsAction) -> anyhow::Result<()> {
    match action {
        ClientsAction::List { json } => {
            let rows = admin::list_clients(data_dir)?;
            if json {
                println!("{}", serde_json::to_string(&rows)?);
            } else if rows.is_empty() {
                println!("no connected apps");
            } else {
                for c in rows {
                    println!(
                        "{} ({}, {})\n  client id:   {}\n  redirects:   {}\n  signed in:   {}\n  last used:   {}\n  live grants: {}",
                        c.name.as_deref().unwrap_or("unnamed client"),
                        c.kind,
                        if c.live_grants > 0 {
                            "connected"
                        } else {
                            "no live grant"
                        },
                        c.client_id,
                        if c.redirect_hosts.is_empty() {
                            "-".to_owned()
                        } else {
                            c.redirect_hosts.join(", ")
                        },
                        if c.signed_in.is_empty() {
                            "-".to_owned()
                        } else {
                            c.signed_in.join(", ")
                        },
                        when(c.last_used),
                        c.live_grants
                    );
                }
            }
        }
        ClientsAction::Revoke { client_id } => {
            let n = admin::revoke_client(data_dir, &client_id)?;
            println!("{n} live grant(s) of {client_id} ended");
            tell_server(data_dir);
        }
    }
    Ok(())
}

pub fn audit(data_dir: &Path, since: &str, json: bool) -> anyhow::Result<()> {
    let secs = parse_duration(since)
        .ok_or_else(|| anyhow::anyhow!("--since {since:?} is not a duration like 7d or 12h"))?;
    let entries = admin::audit_since(data_dir, crate::auth::store::now() - secs)?;
    if json {
        println!("{}", serde_json::to_string(&entries)?);
        return Ok(());
    }
    if entries.is_empty() {
        println!("nothing in the audit log since {since} ago");
    }
    for e in entries {
        let mut line = format!("{}  {:<18}", when(Some(e.at)), e.event);
        for (k, v) in [
            ("who", &e.who),
            ("client", &e.client_id),
            ("from", &e.ip),
            ("", &e.detail),
        ] {
            if let Some(v) = v {
                line.push_str(&if k.is_empty() {
                    format!("  {v}")
                } else {
                    format!("  {k}={v}")
                });
            }
        }
        println!("{line}");
    }
    Ok(())
}

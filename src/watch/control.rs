//! The control socket: how `vaultmcp reindex` reaches a running `serve` (which owns the index
//! writer) instead of fighting it for the lock, how `search`/`fetch` learn that a server
//! keeps the index current, and how the admin commands (`token revoke`, `clients revoke`) tell
//! a running server that the auth store changed, so the change bites on its next request. A
//! Unix socket in the data dir, mode 0600; one JSON request line, then JSON event lines.
//!
//! This module knows nothing of auth: what "the store changed" means is a hook the server
//! passes in ([`OnAuthChanged`]).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::net::UnixListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::WriterHandle;
use crate::index::{Progress, ReindexReport};

/// The socket's file name in the data dir.
pub const SOCKET: &str = "control.sock";

pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET)
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Request {
    Ping,
    Reindex { full: bool },
    AuthChanged,
}

/// What the server does when told that the auth store changed; answered once it is done.
pub type OnAuthChanged = std::sync::Arc<
    dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send + Sync,
>;

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum Event {
    Pong,
    Start { total: u64 },
    Advance { done: u64 },
    Done { report: ReindexReport },
    Error { message: String },
}

/// Serves the control socket until `shutdown`. A stale socket file (a killed server) is replaced.
pub async fn serve(
    data_dir: &Path,
    writer: WriterHandle,
    on_auth_changed: Option<OnAuthChanged>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let path = socket_path(data_dir);
    if path.exists() {
        if UnixStream::connect(&path).is_ok() {
            anyhow::bail!(
                "another vaultmcp server is running on this data dir ({})",
                path.display()
            );
        }
        std::fs::remove_file(&path)
            .with_context(|| format!("cannot remove the stale socket {}", path.display()))?;
    }
    let listener = UnixListener::bind(&path)
        .with_context(|| format!("cannot create the control socket {}", path.display()))?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    let task_path = path.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        let writer = writer.clone();
                        let hook = on_auth_changed.clone();
                        tokio::spawn(async move {
                            if let Err(e) = handle(stream, writer, hook).await {
                                tracing::debug!("control connection ended: {e}");
                            }
                        });
                    }
                    Err(e) => tracing::warn!("control socket accept failed: {e}"),
                },
            }
        }
        let _ = std::fs::remove_file(&task_path);
    });
    Ok(())
}

async fn handle(
    stream: tokio::net::UnixStream,
    writer: WriterHandle,
    on_auth_changed: Option<OnAuthChanged>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = tokio::io::BufReader::new(read).lines();
    let Some(line) = lines.next_line().await? else {
        return Ok(());
    };
    let send = |e: &Event| {
        let mut s = serde_json::to_string(e).unwrap_or_default();
        s.push('\n');
        s
    };
    match serde_json::from_str::<Request>(&line) {
        Ok(Request::Ping) => write.write_all(send(&Event::Pong).as_bytes()).await?,
        Ok(Request::AuthChanged) => {
            if let Some(hook) = on_auth_changed {
                hook().await;
            }
            write.write_all(send(&Event::Pong).as_bytes()).await?
        }
        Ok(Request::Reindex { full }) => {
            let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
            let progress = ChannelProgress {
                tx: tx.clone(),
                done: AtomicU64::new(0),
            };
            let job =
                tokio::spawn(async move { writer.sync_all(full, Some(Box::new(progress))).await });
            drop(tx);
            while let Some(event) = rx.recv().await {
                write.write_all(send(&event).as_bytes()).await?;
            }
            let last = match job.await {
                Ok(Ok(report)) => Event::Done { report },
                Ok(Err(message)) => Event::Error { message },
                Err(e) => Event::Error {
                    message: e.to_string(),
                },
            };
            write.write_all(send(&last).as_bytes()).await?;
        }
        Err(e) => {
            write
                .write_all(
                    send(&Event::Error {
                        message: format!("bad request: {e}"),
                    })
                    .as_bytes(),
                )
                .await?
        }
    }
    write.flush().await
}

/// Progress reported over the socket, at most every 100 notes.
struct ChannelProgress {
    tx: mpsc::UnboundedSender<Event>,
    done: AtomicU64,
}

impl Progress for ChannelProgress {
    fn start(&self, total: u64) {
        let _ = self.tx.send(Event::Start { total });
    }

    fn advance(&self, n: u64) {
        let done = self.done.fetch_add(n, Ordering::Relaxed) + n;
        if done % 100 < n {
            let _ = self.tx.send(Event::Advance { done });
        }
    }
}

/// Whether a server answers on the data dir's control socket.
pub fn server_running(data_dir: &Path) -> bool {
    let Ok(mut stream) = UnixStream::connect(socket_path(data_dir)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream.write_all(b"{\"op\":\"ping\"}\n").is_err() {
        return false;
    }
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).is_ok() && line.contains("pong")
}

/// Tells a running server that the auth store changed and waits until it has reloaded.
/// False when no server is running (nothing to tell).
pub fn notify_auth_changed(data_dir: &Path) -> bool {
    let Ok(mut stream) = UnixStream::connect(socket_path(data_dir)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    if stream.write_all(b"{\"op\":\"auth_changed\"}\n").is_err() {
        return false;
    }
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).is_ok() && line.contains("pong")
}

/// Asks a running server to reindex, relaying its progress. `Ok(None)`: no server is running.
pub fn remote_reindex(
    data_dir: &Path,
    full: bool,
    progress: &dyn Progress,
) -> anyhow::Result<Option<ReindexReport>> {
    let Ok(mut stream) = UnixStream::connect(socket_path(data_dir)) else {
        return Ok(None);
    };
    let request = serde_json::to_string(&Request::Reindex { full })?;
    stream.write_all(request.as_bytes())?;
    stream.write_all(b"\n")?;
    let mut last = 0;
    for line in BufReader::new(stream).lines() {
        match serde_json::from_str::<Event>(&line?)? {
            Event::Start { total } => progress.start(total),
            Event::Advance { done } => {
                progress.advance(done.saturating_sub(last));
                last = done;
            }
            Event::Done { report } => return Ok(Some(report)),
            Event::Error { message } => {
                anyhow::bail!("the running server could not reindex: {message}")
            }
            Event::Pong => {}
        }
    }
    anyhow::bail!("the running server closed the control socket before finishing the reindex")
}

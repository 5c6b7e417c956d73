//! `vaultmcp serve`: start-up, the running server, graceful shutdown.

use std::net::SocketAddr;

use anyhow::{Context, bail};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::auth::{Auth, AuthMode, AuthSettings, choose_mode};
use crate::config::Config;
use crate::http::{HttpSettings, build_router};
use crate::index::{IndexError, NoteIndex};
use crate::vault::Vault;
use crate::watch::WriterHandle;

/// A running server.
pub struct Server {
    /// The address it listens on (the real port when the config said 0).
    pub addr: SocketAddr,
    /// The public URL it advertises.
    pub public_url: Url,
    pub index: NoteIndex,
    pub writer: WriterHandle,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    writer_thread: std::thread::JoinHandle<()>,
}

impl Server {
    /// Opens (or builds) the index, catches it up with the vault, binds and starts serving.
    pub async fn start(config: Config) -> anyhow::Result<Server> {
        Server::start_with(config, |s| s).await
    }

    /// Like [`Server::start`], letting the caller adjust the auth settings (tests shorten
    /// lifetimes or allow loopback metadata documents).
    pub async fn start_with(
        mut config: Config,
        adjust: impl FnOnce(AuthSettings) -> AuthSettings,
    ) -> anyhow::Result<Server> {
        let mode = choose_mode(&config)?;
        let vault = Vault::open(&config.vault, config.max_note_bytes)?;
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!(
                "cannot create the data folder {}",
                config.data_dir.display()
            )
        })?;
        let index = NoteIndex::open_or_create(&config.data_dir, vault)
            .with_context(|| format!("cannot open the index in {}", config.data_dir.display()))?;
        let indexer = match index.indexer() {
            Ok(i) => i,
            Err(IndexError::Busy) => bail!(
                "another vaultmcp process is writing the index in {} (is another `vaultmcp serve` running?)",
                config.data_dir.display()
            ),
            Err(e) => return Err(e.into()),
        };
        let (writer, writer_thread) = WriterHandle::spawn(indexer, |_| {});
        let report = writer
            .sync_all(false, None)
            .await
            .map_err(anyhow::Error::msg)
            .context("catching up with the vault failed")?;
        tracing::info!(
            notes = report.notes,
            indexed = report.indexed,
            unchanged = report.unchanged,
            removed = report.removed,
            skipped = report.skipped.len(),
            seconds = format_args!("{:.2}", report.seconds),
            "index ready"
        );

        let listener = TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("cannot listen on {}", config.bind))?;
        let addr = listener.local_addr()?;
        if config.public_url.port() == Some(0) {
            // The default public URL follows the port the OS picked.
            let _ = config.public_url.set_port(Some(addr.port()));
        }
        let public_url = config.public_url.clone();
        let auth = Auth::open(adjust(AuthSettings::from_config(&config, mode)))
            .await
            .with_context(|| {
                format!(
                    "cannot open the auth store in {}",
                    config.data_dir.display()
                )
            })?;
        match mode {
            AuthMode::NoAuth => {
                tracing::warn!(
                    "--no-auth: MCP is open to anyone who can reach this loopback address"
                )
            }
            AuthMode::LocalLogin => {
                tracing::info!("local login: approving the consent page signs in as `local`")
            }
            AuthMode::GitHub => tracing::info!("GitHub sign-in; only allow-listed accounts get in"),
        }
        let shutdown = CancellationToken::new();
        let settings = HttpSettings {
            public_url: public_url.clone(),
        };
        let app = build_router(index.clone(), &settings, auth, shutdown.child_token());
        let stop = shutdown.clone();
        let task = tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
        });
        tracing::info!(%addr, public_url = %public_url, mcp = %format!("{}/mcp", public_url.as_str().trim_end_matches('/')), "serving");
        Ok(Server {
            addr,
            public_url,
            index,
            writer,
            shutdown,
            task,
            writer_thread,
        })
    }

    /// Asks the server to stop: no new connections, open streams end, requests drain.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Waits until the server has stopped and the index writer has finished.
    pub async fn wait(self) -> anyhow::Result<()> {
        let Server {
            task,
            writer,
            writer_thread,
            ..
        } = self;
        task.await
            .context("the server task failed")?
            .context("the server failed")?;
        drop(writer);
        tokio::task::spawn_blocking(move || writer_thread.join())
            .await
            .ok();
        Ok(())
    }
}

/// Runs `serve` until SIGTERM or Ctrl-C.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let server = Server::start(config).await?;
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.shutdown();
    server.wait().await?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

//! `vaultmcp serve`: start-up, the running server, graceful shutdown.
//!
//! Start-up order: open the index and take its writer (failing fast when another server has
//! it), start the writer thread, the watcher and the control socket, bind, and serve at once;
//! catching up with changes made while the server was down runs in the writer meanwhile.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, bail};
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::auth::{Auth, AuthMode, AuthSettings, choose_mode};
use crate::config::Config;
use crate::http::{HttpSettings, ServerState, build_router};
use crate::index::{IndexError, NoteIndex};
use crate::mcp::Notifier;
use crate::vault::Vault;
use crate::watch::{CatchUp, Watcher, WriterHandle, control, start_watcher};

/// How long shutdown waits for listen streams to write their final result.
const LISTEN_CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// A running server.
pub struct Server {
    /// The address it listens on (the real port when the config said 0).
    pub addr: SocketAddr,
    /// The public URL it advertises.
    pub public_url: Url,
    pub index: NoteIndex,
    pub writer: WriterHandle,
    notifier: Arc<Notifier>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    writer_thread: std::thread::JoinHandle<()>,
    watcher: Option<Watcher>,
}

impl Server {
    /// Opens (or creates) the index, starts the writer, watcher and control socket, binds and
    /// starts serving.
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
        let index = NoteIndex::open_or_create(&config.data_dir, vault.clone())
            .with_context(|| format!("cannot open the index in {}", config.data_dir.display()))?;
        let mut indexer = match index.indexer() {
            Ok(i) => i,
            Err(IndexError::Busy) => bail!(
                "another vaultmcp process is writing the index in {} (is another `vaultmcp serve` running?)",
                config.data_dir.display()
            ),
            Err(e) => return Err(e.into()),
        };

        match crate::models::open_model(&config) {
            Ok(Some(model)) => {
                tracing::info!(
                    model = model.name(),
                    dim = model.dim(),
                    "semantic search on"
                );
                index.set_model(model.clone())?;
                indexer.set_model(model)?;
                if indexer.pending_vectors() > 0 {
                    tracing::info!(
                        pending = indexer.pending_vectors(),
                        "embedding notes behind lexical search (progress in /healthz)"
                    );
                }
            }
            Ok(None) => tracing::info!("{}", crate::models::HOW_TO_ENABLE),
            // A broken model folder does not stop the server: search stays lexical.
            Err(e) => tracing::error!("{e}; search stays lexical"),
        }

        let notifier = Arc::new(Notifier::default());
        let (changes_tx, mut changes_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let (writer, writer_thread) = WriterHandle::spawn(indexer, move |_| {
            let _ = changes_tx.send(());
        });
        {
            // Index changes become `notifications/resources/list_changed`, coalesced.
            let notifier = notifier.clone();
            tokio::spawn(async move {
                while changes_rx.recv().await.is_some() {
                    while changes_rx.try_recv().is_ok() {}
                    notifier.resources_changed().await;
                }
            });
        }
        let shutdown = CancellationToken::new();
        // The auth store is opened once the port is known (below); until then there is nothing
        // to reload.
        let auth_slot: Arc<std::sync::OnceLock<Auth>> = Arc::default();
        let on_auth_changed: control::OnAuthChanged = {
            let slot = auth_slot.clone();
            Arc::new(move || {
                let auth = slot.get().cloned();
                Box::pin(async move {
                    if let Some(auth) = auth
                        && let Err(e) = auth.reload_revocations().await
                    {
                        tracing::warn!(error = %format!("{e:#}"), "cannot reload revocations");
                    }
                })
            })
        };
        control::serve(
            &config.data_dir,
            writer.clone(),
            Some(on_auth_changed),
            shutdown.child_token(),
        )
        .await?;
        let watcher = match start_watcher(vault, writer.clone()) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(
                    "cannot watch the vault ({e}); changes show after `vaultmcp reindex`"
                );
                None
            }
        };
        // Catch up with what changed while no server ran; unchanged notes are only stat'ed.
        let catch_up = Arc::new(CatchUp::default());
        {
            let writer = writer.clone();
            let catch_up = catch_up.clone();
            tokio::spawn(async move {
                catch_up.finish(&writer.sync_all(false, None).await);
            });
        }

        let listener = TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("cannot listen on {}", config.bind))?;
        let addr = listener.local_addr()?;
        // Small SSE responses on kept-alive connections otherwise wait ~40 ms for Nagle's
        // algorithm against the client's delayed ACK.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
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
        let _ = auth_slot.set(auth.clone());
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
        let settings = HttpSettings {
            public_url: public_url.clone(),
            allowed_origins: config.allowed_origins.clone(),
        };
        let state = ServerState {
            notifier: notifier.clone(),
            catch_up,
        };
        let app = build_router(
            index.clone(),
            &settings,
            state,
            auth,
            shutdown.child_token(),
        );
        let stop = shutdown.clone();
        let task = tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
        });
        tracing::info!(
            %addr,
            public_url = %public_url,
            mcp = %format!("{}/mcp", public_url.as_str().trim_end_matches('/')),
            "serving"
        );
        Ok(Server {
            addr,
            public_url,
            index,
            writer,
            notifier,
            shutdown,
            task,
            writer_thread,
            watcher,
        })
    }

    /// Asks the server to stop: 2026-07-28 listen streams end with their final result, then
    /// no new connections, the other open streams end, requests drain.
    pub fn shutdown(&self) {
        let notifier = self.notifier.clone();
        let shutdown = self.shutdown.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    notifier.close_listen_streams(LISTEN_CLOSE_GRACE).await;
                    shutdown.cancel();
                });
            }
            Err(_) => shutdown.cancel(),
        }
    }

    /// Waits until the server has stopped: HTTP drained, watcher stopped, the writer's queue
    /// done and committed.
    pub async fn wait(self) -> anyhow::Result<()> {
        let Server {
            task,
            writer,
            writer_thread,
            watcher,
            ..
        } = self;
        let served = task.await.context("the server task failed")?;
        drop(watcher);
        drop(writer);
        // The watcher's and control socket's handles are gone with them; the writer thread
        // ends once its queue is empty.
        tokio::task::spawn_blocking(move || writer_thread.join())
            .await
            .ok();
        served.context("the server failed")
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

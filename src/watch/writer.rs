//! The writer thread: the one owner of the index writer in a running server. The watcher, the
//! control socket and start-up send it work; it commits and reloads readers at once.

use std::sync::mpsc;
use std::thread;

use tokio::sync::oneshot;

use crate::index::{IndexError, Indexer, Progress, ReindexReport};

/// Work for the writer.
enum Job {
    /// Reconcile the whole vault (`full`: re-parse everything).
    All {
        full: bool,
        progress: Option<Box<dyn Progress + Send>>,
        done: oneshot::Sender<Result<ReindexReport, String>>,
    },
    /// Re-check these note ids, and every indexed note under these folder prefixes.
    Paths {
        ids: Vec<String>,
        prefixes: Vec<String>,
        done: Option<oneshot::Sender<Result<ReindexReport, String>>>,
    },
}

/// A handle to the writer thread. Dropping every handle ends the thread after its queue.
#[derive(Clone)]
pub struct WriterHandle {
    tx: mpsc::Sender<Job>,
}

impl WriterHandle {
    /// Starts the writer thread owning `indexer`.
    pub fn spawn(
        indexer: Indexer,
        on_change: impl Fn(&ReindexReport) + Send + 'static,
    ) -> (WriterHandle, thread::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel::<Job>();
        let join = thread::Builder::new()
            .name("vaultmcp-writer".into())
            .spawn(move || writer_loop(indexer, rx, on_change))
            .expect("spawning a thread");
        (WriterHandle { tx }, join)
    }

    /// Reconciles the whole vault and waits for the report.
    pub async fn sync_all(
        &self,
        full: bool,
        progress: Option<Box<dyn Progress + Send>>,
    ) -> Result<ReindexReport, String> {
        let (done, rx) = oneshot::channel();
        self.tx
            .send(Job::All {
                full,
                progress,
                done,
            })
            .map_err(|_| "the index writer has stopped".to_owned())?;
        rx.await
            .map_err(|_| "the index writer has stopped".to_owned())?
    }

    /// Queues a re-check of note ids and folder prefixes without waiting.
    pub fn sync_paths(&self, ids: Vec<String>, prefixes: Vec<String>) {
        let _ = self.tx.send(Job::Paths {
            ids,
            prefixes,
            done: None,
        });
    }

    /// Re-checks note ids and folder prefixes and waits for the report.
    pub async fn sync_paths_wait(
        &self,
        ids: Vec<String>,
        prefixes: Vec<String>,
    ) -> Result<ReindexReport, String> {
        let (done, rx) = oneshot::channel();
        self.tx
            .send(Job::Paths {
                ids,
                prefixes,
                done: Some(done),
            })
            .map_err(|_| "the index writer has stopped".to_owned())?;
        rx.await
            .map_err(|_| "the index writer has stopped".to_owned())?
    }
}

fn writer_loop(mut indexer: Indexer, rx: mpsc::Receiver<Job>, on_change: impl Fn(&ReindexReport)) {
    while let Ok(job) = rx.recv() {
        match job {
            Job::All {
                full,
                progress,
                done,
            } => {
                let result = match progress {
                    Some(p) => indexer.sync_all(full, p.as_ref()),
                    None => indexer.sync_all(full, &()),
                };
                report(&result, &on_change);
                let _ = done.send(result.map_err(|e| e.to_string()));
            }
            Job::Paths {
                mut ids,
                mut prefixes,
                done,
            } => {
                // Batch whatever else is already queued: a burst of events becomes one commit.
                let mut waiters: Vec<oneshot::Sender<Result<ReindexReport, String>>> =
                    done.into_iter().collect();
                let mut deferred = Vec::new();
                while let Ok(next) = rx.try_recv() {
                    match next {
                        Job::Paths {
                            ids: more,
                            prefixes: more_p,
                            done,
                        } => {
                            ids.extend(more);
                            prefixes.extend(more_p);
                            waiters.extend(done);
                        }
                        other => deferred.push(other),
                    }
                }
                for p in &prefixes {
                    ids.extend(indexer.ids_under(p));
                    ids.extend(indexer.index().vault().scan_under(p));
                }
                let result = indexer.sync_ids(ids);
                report(&result, &on_change);
                let shared = result.map_err(|e| e.to_string());
                for w in waiters {
                    let _ = w.send(shared.clone());
                }
                for job in deferred {
                    // Rare (a full reindex queued behind watcher events): run it now.
                    if let Job::All {
                        full,
                        progress,
                        done,
                    } = job
                    {
                        let result = match progress {
                            Some(p) => indexer.sync_all(full, p.as_ref()),
                            None => indexer.sync_all(full, &()),
                        };
                        report(&result, &on_change);
                        let _ = done.send(result.map_err(|e| e.to_string()));
                    }
                }
            }
        }
    }
    // Every handle is gone: the server is stopping. Commits are already done per job.
    if let Err(e) = indexer.finish() {
        tracing::warn!("waiting for index merges failed: {e}");
    }
}

fn report(result: &Result<ReindexReport, IndexError>, on_change: &impl Fn(&ReindexReport)) {
    match result {
        Ok(r) if r.changed() => {
            tracing::info!(
                indexed = r.indexed,
                removed = r.removed,
                skipped = r.skipped.len(),
                notes = r.notes,
                ms = format_args!("{:.1}", r.seconds * 1000.0),
                "index updated"
            );
            on_change(r);
        }
        Ok(_) => {}
        Err(e) => tracing::error!("index update failed: {e}"),
    }
}

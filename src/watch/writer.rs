//! The writer thread: the one owner of the index writer in a running server. The watcher, the
//! control socket and start-up send it work; it commits and reloads readers at once.

use std::sync::mpsc;
use std::thread;

use tokio::sync::oneshot;

use crate::index::{EMBED_BATCH, IndexError, Indexer, Progress, ReindexReport};

type Reply = oneshot::Sender<Result<ReindexReport, String>>;

/// Work for the writer.
enum Job {
    /// Reconcile the whole vault (`full`: re-parse everything).
    All {
        full: bool,
        progress: Option<Box<dyn Progress + Send>>,
        done: Option<Reply>,
    },
    /// Re-check these note ids, and every note under these folder prefixes (indexed or on disk).
    Paths {
        ids: Vec<String>,
        prefixes: Vec<String>,
        done: Option<Reply>,
    },
}

/// A handle to the writer thread. When every handle is dropped the thread finishes its queue,
/// waits for merges and ends.
#[derive(Clone)]
pub struct WriterHandle {
    tx: mpsc::Sender<Job>,
}

const STOPPED: &str = "the index writer has stopped";

impl WriterHandle {
    /// Starts the writer thread owning `indexer`. `on_change` runs after each commit that
    /// changed the index.
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
                done: Some(done),
            })
            .map_err(|_| STOPPED.to_owned())?;
        rx.await.map_err(|_| STOPPED.to_owned())?
    }

    /// Queues a reconcile of the whole vault (after lost watcher events) without waiting.
    pub fn request_rescan(&self) {
        let _ = self.tx.send(Job::All {
            full: false,
            progress: None,
            done: None,
        });
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
            .map_err(|_| STOPPED.to_owned())?;
        rx.await.map_err(|_| STOPPED.to_owned())?
    }
}

fn writer_loop(mut indexer: Indexer, rx: mpsc::Receiver<Job>, on_change: impl Fn(&ReindexReport)) {
    loop {
        // Notes without vectors are embedded a batch at a time whenever no other work is
        // queued, so edits and searches never wait behind a whole first embedding.
        let job = if indexer.pending_vectors() > 0 {
            match rx.try_recv() {
                Ok(job) => job,
                Err(mpsc::TryRecvError::Empty) => {
                    embed_step(&mut indexer);
                    continue;
                }
                Err(mpsc::TryRecvError::Disconnected) => break,
            }
        } else {
            match rx.recv() {
                Ok(job) => job,
                Err(_) => break,
            }
        };
        match job {
            Job::All {
                full,
                progress,
                done,
            } => run_all(&mut indexer, full, progress, done, &on_change),
            Job::Paths {
                mut ids,
                mut prefixes,
                done,
            } => {
                // Batch whatever else is already queued: a burst of events becomes one commit.
                let mut waiters: Vec<Reply> = done.into_iter().collect();
                let mut full_jobs = Vec::new();
                while let Ok(next) = rx.try_recv() {
                    match next {
                        Job::Paths {
                            ids: more,
                            prefixes: more_prefixes,
                            done,
                        } => {
                            ids.extend(more);
                            prefixes.extend(more_prefixes);
                            waiters.extend(done);
                        }
                        all @ Job::All { .. } => full_jobs.push(all),
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
                for job in full_jobs {
                    if let Job::All {
                        full,
                        progress,
                        done,
                    } = job
                    {
                        run_all(&mut indexer, full, progress, done, &on_change);
                    }
                }
            }
        }
    }
    // Every handle is gone: the server is stopping. Each job has committed already.
    if let Err(e) = indexer.finish() {
        tracing::warn!("waiting for index merges failed: {e}");
    }
}

fn run_all(
    indexer: &mut Indexer,
    full: bool,
    progress: Option<Box<dyn Progress + Send>>,
    done: Option<Reply>,
    on_change: &impl Fn(&ReindexReport),
) {
    let mut result = match progress.as_deref() {
        Some(p) => indexer.sync_all(full, p),
        None => indexer.sync_all(full, &()),
    };
    // `reindex` waits for its report: it returns when the vectors are complete too.
    if done.is_some()
        && let Ok(r) = &mut result
    {
        let embedded = match progress.as_deref() {
            Some(p) => indexer.embed_all(p),
            None => indexer.embed_all(&()),
        };
        match embedded {
            Ok(e) => {
                r.embedded += e.embedded;
                r.warnings.extend(e.warnings);
                r.notes = e.notes.max(r.notes);
            }
            Err(e) => result = Err(e),
        }
    }
    report(&result, on_change);
    if let Some(done) = done {
        let _ = done.send(result.map_err(|e| e.to_string()));
    }
}

fn embed_step(indexer: &mut Indexer) {
    match indexer.embed_pending(EMBED_BATCH) {
        Ok(r) => {
            tracing::debug!(
                embedded = r.embedded,
                pending = indexer.pending_vectors(),
                "vectors"
            );
            if indexer.pending_vectors() == 0 {
                tracing::info!("every note has its vectors: semantic search covers the vault");
            }
        }
        Err(e) => tracing::error!("embedding notes failed: {e}"),
    }
}

fn report(result: &Result<ReindexReport, IndexError>, on_change: &impl Fn(&ReindexReport)) {
    match result {
        Ok(r) if r.indexed > 0 || r.removed > 0 => {
            tracing::info!(
                indexed = r.indexed,
                removed = r.removed,
                skipped = r.skipped.len(),
                embedded = r.embedded,
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

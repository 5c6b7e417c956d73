//! How far the start-up catch-up (reconciling the index with changes made while no server ran)
//! has come: `/healthz` reports it.

use std::sync::Mutex;

use crate::index::ReindexReport;

/// The phase of the start-up catch-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Still running: searches see the index as it was when the server started.
    Running,
    /// Done: the index holds the vault.
    Done,
    /// It failed (logged with the reason); the index may be stale until the next reindex.
    Failed,
}

/// The catch-up's phase, shared by the task that runs it and `/healthz`.
#[derive(Debug)]
pub struct CatchUp(Mutex<Phase>);

impl Default for CatchUp {
    fn default() -> CatchUp {
        CatchUp(Mutex::new(Phase::Running))
    }
}

impl CatchUp {
    pub fn phase(&self) -> Phase {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records (and logs) how the catch-up ended.
    pub fn finish(&self, result: &Result<ReindexReport, String>) {
        let phase = match result {
            Ok(r) => {
                tracing::info!(
                    notes = r.notes,
                    indexed = r.indexed,
                    unchanged = r.unchanged,
                    removed = r.removed,
                    skipped = r.skipped.len(),
                    seconds = format_args!("{:.2}", r.seconds),
                    "index caught up with the vault"
                );
                Phase::Done
            }
            Err(e) => {
                tracing::error!("catching up with the vault failed: {e}");
                Phase::Failed
            }
        };
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = phase;
    }
}

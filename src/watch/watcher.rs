//! The file watcher: every event means "re-check this path"; the writer reconciles it with
//! the disk. A folder event re-checks everything under the folder; a lost-events signal
//! (`Rescan`, watcher errors) reconciles the whole vault.

use std::path::Path;
use std::time::Duration;

use notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};

use super::WriterHandle;
use crate::vault::Vault;

/// How long the debouncer waits for a burst of events to settle. Editors' save sequences
/// (write temp, rename) fall inside it; it bounds how soon an edit is searchable.
const DEBOUNCE: Duration = Duration::from_millis(40);

/// A running watcher; dropping it stops watching.
pub struct Watcher {
    _debouncer: Debouncer<notify::RecommendedWatcher, RecommendedCache>,
}

/// Starts watching the vault recursively, sending re-checks to `writer`.
pub fn start(vault: Vault, writer: WriterHandle) -> anyhow::Result<Watcher> {
    let root = vault.root().to_path_buf();
    let handler = move |result: DebounceEventResult| match result {
        Ok(events) => {
            let mut ids = Vec::new();
            let mut prefixes = Vec::new();
            let mut rescan = false;
            for event in &events {
                if event.need_rescan() {
                    rescan = true;
                }
                // Opening or reading a file changes nothing (and the indexer's own reads
                // would otherwise come back as events).
                if matches!(event.kind, notify::EventKind::Access(_)) {
                    continue;
                }
                for path in &event.paths {
                    classify(&vault, path, &mut ids, &mut prefixes);
                }
            }
            if rescan {
                tracing::warn!("the watcher lost events; reconciling the whole vault");
                writer.request_rescan();
            } else if !ids.is_empty() || !prefixes.is_empty() {
                ids.sort();
                ids.dedup();
                prefixes.sort();
                prefixes.dedup();
                writer.sync_paths(ids, prefixes);
            }
        }
        Err(errors) => {
            for e in &errors {
                tracing::warn!("watcher error: {e}");
            }
            writer.request_rescan();
        }
    };
    let mut debouncer = new_debouncer(DEBOUNCE, None, handler)?;
    debouncer.watch(&root, RecursiveMode::Recursive)?;
    tracing::info!(vault = %root.display(), "watching the vault");
    Ok(Watcher {
        _debouncer: debouncer,
    })
}

/// Sorts one changed path into a note id to re-check or a folder prefix to re-check.
fn classify(vault: &Vault, path: &Path, ids: &mut Vec<String>, prefixes: &mut Vec<String>) {
    let Ok(rel) = path.strip_prefix(vault.root()) else {
        return;
    };
    if rel.as_os_str().is_empty() {
        return;
    }
    if vault.is_ignored(rel, path.is_dir()) {
        return;
    }
    if path.extension().is_some_and(|e| e == "md") {
        if let Some(id) = vault.id_of(path) {
            ids.push(id);
        }
        return;
    }
    // Anything else may be (or may have been) a folder: a folder created, deleted or renamed
    // changes every note below it. A file that exists and is not a folder (an image, an
    // editor's temp file) changes no note.
    if path.is_file() {
        return;
    }
    if let Some(rel) = rel.to_str() {
        prefixes.push(format!("{}/", rel.replace('\\', "/")));
    }
}

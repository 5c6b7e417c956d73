//! The index's single writer: full and incremental reindex, and single-note updates. What a
//! note becomes is `document.rs`; what the index already holds is `state.rs`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tantivy::indexer::{LogMergePolicy, NoMergePolicy};
use tantivy::{IndexWriter, TantivyDocument, Term};

use super::document::document;
use super::embedding;
use super::state::{Indexed, load_state};
use super::{IndexError, NoteIndex};
use crate::embed::Embedder;
use crate::vault::{FileState, ReadError, parse_note};

/// Memory the writer may buffer before flushing a segment (shared by its threads).
const WRITER_MEMORY: usize = 64 * 1024 * 1024;
/// Notes parsed at a time before they are handed to the writer.
const PARSE_CHUNK: usize = 512;

/// A note left out, and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

/// The outcome of a reindex.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct ReindexReport {
    /// Notes parsed and (re)written.
    pub indexed: usize,
    /// Notes whose size and time, or content hash, were as indexed.
    pub unchanged: usize,
    /// Notes removed from the index (deleted, renamed away, now ignored or unreadable).
    pub removed: usize,
    /// Files not indexed, with the reason.
    pub skipped: Vec<Skipped>,
    /// Notes indexed despite a problem (bad frontmatter, bad bytes), with the problem.
    pub warnings: Vec<Skipped>,
    /// Notes whose vectors were computed.
    #[serde(default)]
    pub embedded: usize,
    /// Notes in the index afterwards.
    pub notes: u64,
    pub seconds: f64,
}

impl ReindexReport {
    /// Whether anything in the index changed.
    pub fn changed(&self) -> bool {
        self.indexed > 0 || self.removed > 0 || self.embedded > 0
    }
}

/// Progress of long work, for a progress bar.
pub trait Progress: Sync {
    /// The number of notes that will be looked at.
    fn start(&self, _total: u64) {}
    /// `n` more notes done.
    fn advance(&self, _n: u64) {}
}

impl Progress for () {}

/// The single writer of an index.
pub struct Indexer {
    pub(super) idx: NoteIndex,
    pub(super) writer: IndexWriter,
    pub(super) state: HashMap<String, Indexed>,
    /// The embedding model, when there is one (see `embedding.rs`).
    pub(super) model: Option<Arc<Embedder>>,
    /// Notes without vectors of the model, to embed behind lexical indexing.
    pub(super) pending: HashSet<String>,
    /// Whether re-checked single notes (the live path) are embedded before their commit.
    pub(super) embed_inline: bool,
}

/// The result of looking at one candidate.
pub(super) enum Outcome {
    Unchanged(Option<Indexed>),
    /// A document to write; `true` when it carries the model's vectors.
    Add(Box<TantivyDocument>, Indexed, Vec<String>, bool),
    Remove,
    Skip(String),
}

/// Share of deleted documents above which a segment's level is merged. Tantivy's BM25 counts
/// deleted documents in its statistics (document frequencies, average lengths) until a merge
/// drops them, and its default never merges for deletes alone. Filling in vectors re-adds every
/// note: on Cranfield a segment merged during the fill-in kept 632 of its 1,400 documents
/// deleted, and lexical nDCG@10 was 0.4025 instead of 0.4064.
const DELETED_RATIO_BEFORE_MERGE: f32 = 0.1;

/// The merge policy outside bulk loads.
fn merge_policy() -> Box<LogMergePolicy> {
    let mut policy = LogMergePolicy::default();
    policy.set_del_docs_ratio_before_merge(DELETED_RATIO_BEFORE_MERGE);
    Box::new(policy)
}

impl Indexer {
    pub(super) fn new(idx: NoteIndex) -> Result<Indexer, IndexError> {
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 4);
        let writer = match idx
            .inner
            .index
            .writer_with_num_threads(threads, WRITER_MEMORY)
        {
            Ok(w) => w,
            Err(tantivy::TantivyError::LockFailure(..)) => return Err(IndexError::Busy),
            Err(e) => return Err(e.into()),
        };
        writer.set_merge_policy(merge_policy());
        let state = load_state(&idx)?;
        Ok(Indexer {
            idx,
            writer,
            state,
            model: None,
            pending: HashSet::new(),
            embed_inline: true,
        })
    }

    pub fn index(&self) -> &NoteIndex {
        &self.idx
    }

    /// Brings the whole index in line with the vault. With `full`, every note is re-parsed.
    pub fn sync_all(
        &mut self,
        full: bool,
        progress: &dyn Progress,
    ) -> Result<ReindexReport, IndexError> {
        let started = Instant::now();
        let (entries, walk_warnings) = self.idx.vault().scan();
        let mut report = ReindexReport::default();
        report.skipped.extend(
            walk_warnings
                .into_iter()
                .map(|(path, reason)| Skipped { path, reason }),
        );
        // A first build or a rebuild is a bulk load: merging segments while indexing makes two
        // cores do the work twice (100k notes: 31 s instead of 19 s). Segments are merged later,
        // by the default policy, when the next commit comes.
        let bulk = full || self.state.is_empty();
        if bulk {
            self.writer.set_merge_policy(Box::new(NoMergePolicy));
        }
        let result = self.sync_all_inner(full, entries, progress, &mut report, started);
        if bulk {
            self.writer.set_merge_policy(merge_policy());
        }
        result.map(|()| report)
    }

    fn sync_all_inner(
        &mut self,
        full: bool,
        entries: Vec<crate::vault::VaultEntry>,
        progress: &dyn Progress,
        report: &mut ReindexReport,
        started: Instant,
    ) -> Result<(), IndexError> {
        if full {
            self.writer.delete_all_documents()?;
            self.state.clear();
            self.pending.clear();
        }
        let on_disk: HashSet<&str> = entries.iter().map(|e| e.id.as_str()).collect();
        let gone: Vec<String> = self
            .state
            .keys()
            .filter(|id| !on_disk.contains(String::as_str(id)))
            .cloned()
            .collect();
        drop(on_disk);
        progress.start(entries.len() as u64);
        let candidates: Vec<(String, Option<FileState>)> =
            entries.into_iter().map(|e| (e.id, Some(e.state))).collect();
        self.apply(candidates, progress, report)?;
        for id in gone {
            self.delete(&id);
            report.removed += 1;
        }
        self.commit(report, started)
    }

    /// Re-checks the given note ids against the disk (each: gone, unchanged, or changed).
    pub fn sync_ids<I: IntoIterator<Item = String>>(
        &mut self,
        ids: I,
    ) -> Result<ReindexReport, IndexError> {
        let started = Instant::now();
        let mut report = ReindexReport::default();
        let mut seen = HashSet::new();
        let candidates: Vec<(String, Option<FileState>)> = ids
            .into_iter()
            .filter(|id| seen.insert(id.clone()))
            .map(|id| {
                let state = self.idx.vault().stat(&id);
                (id, state)
            })
            .collect();
        let embed = self.embed_inline;
        self.apply_with(candidates, &(), &mut report, embed, false)?;
        self.commit(&mut report, started)?;
        Ok(report)
    }

    /// Ids of every indexed note whose id starts with `prefix` (a folder, with its `/`).
    pub fn ids_under(&self, prefix: &str) -> Vec<String> {
        self.state
            .keys()
            .filter(|id| id.starts_with(prefix))
            .cloned()
            .collect()
    }

    fn apply(
        &mut self,
        candidates: Vec<(String, Option<FileState>)>,
        progress: &dyn Progress,
        report: &mut ReindexReport,
    ) -> Result<(), IndexError> {
        // Bulk work is lexical only: vectors fill in afterwards (`embed_pending`), so a first
        // build never waits for the model.
        self.apply_with(candidates, progress, report, false, false)
    }

    /// `embed`: compute vectors for the notes written; `force`: re-parse unchanged notes too.
    pub(super) fn apply_with(
        &mut self,
        candidates: Vec<(String, Option<FileState>)>,
        progress: &dyn Progress,
        report: &mut ReindexReport,
        embed: bool,
        force: bool,
    ) -> Result<(), IndexError> {
        // Reading, hashing and parsing run in parallel, a chunk at a time so that only one
        // chunk of parsed notes is ever held in memory; the writer's own threads index.
        let mut candidates = candidates.into_iter();
        loop {
            let chunk: Vec<(String, Option<FileState>)> =
                candidates.by_ref().take(PARSE_CHUNK).collect();
            if chunk.is_empty() {
                return Ok(());
            }
            let idx = &self.idx;
            let state = &self.state;
            let model = if embed { self.model.as_deref() } else { None };
            let outcomes: Vec<(String, Outcome)> = chunk
                .into_par_iter()
                .map(|(id, disk)| {
                    let outcome = examine(idx, &id, disk, state.get(&id).copied(), model, force);
                    progress.advance(1);
                    (id, outcome)
                })
                .collect();
            self.record(outcomes, report)?;
        }
    }

    fn record(
        &mut self,
        outcomes: Vec<(String, Outcome)>,
        report: &mut ReindexReport,
    ) -> Result<(), IndexError> {
        for (id, outcome) in outcomes {
            match outcome {
                Outcome::Unchanged(new_state) => {
                    report.unchanged += 1;
                    if let Some(s) = new_state {
                        self.state.insert(id, s);
                    }
                }
                Outcome::Add(doc, indexed, warnings, embedded) => {
                    if self.state.contains_key(&id) {
                        self.writer
                            .delete_term(Term::from_field_text(self.idx.fields().id, &id));
                    }
                    if self.model.is_some() {
                        if embedded {
                            self.pending.remove(&id);
                            report.embedded += 1;
                        } else {
                            self.pending.insert(id.clone());
                        }
                    }
                    self.writer.add_document(*doc)?;
                    // The same content again, now with vectors, is not a change of the note.
                    let same = self.state.get(&id).is_some_and(|s| s.hash == indexed.hash);
                    self.state.insert(id.clone(), indexed);
                    if !same {
                        report.indexed += 1;
                    }
                    report
                        .warnings
                        .extend(warnings.into_iter().map(|reason| Skipped {
                            path: id.clone(),
                            reason,
                        }));
                }
                Outcome::Remove => {
                    if self.state.contains_key(&id) {
                        self.delete(&id);
                        report.removed += 1;
                    }
                }
                Outcome::Skip(reason) => {
                    if self.state.contains_key(&id) {
                        self.delete(&id);
                        report.removed += 1;
                    }
                    report.skipped.push(Skipped { path: id, reason });
                }
            }
        }
        Ok(())
    }

    fn delete(&mut self, id: &str) {
        self.writer
            .delete_term(Term::from_field_text(self.idx.fields().id, id));
        self.state.remove(id);
        self.pending.remove(id);
    }

    pub(super) fn commit(
        &mut self,
        report: &mut ReindexReport,
        started: Instant,
    ) -> Result<(), IndexError> {
        if report.changed() || self.writer.commit_opstamp() == 0 {
            self.writer.commit()?;
        }
        self.idx.reload()?;
        self.idx.publish_pending(self.pending.len());
        report.notes = self.idx.note_count();
        report.seconds = started.elapsed().as_secs_f64();
        for s in &report.skipped {
            tracing::warn!(path = %s.path, "skipped: {}", s.reason);
        }
        for w in &report.warnings {
            tracing::warn!(path = %w.path, "{}", w.reason);
        }
        Ok(())
    }

    /// Waits for background merges; call before exiting so segments are merged.
    pub fn finish(self) -> Result<(), IndexError> {
        self.writer.wait_merging_threads()?;
        Ok(())
    }
}

fn examine(
    idx: &NoteIndex,
    id: &str,
    disk: Option<FileState>,
    indexed: Option<Indexed>,
    model: Option<&Embedder>,
    force: bool,
) -> Outcome {
    let Some(disk) = disk else {
        return Outcome::Remove;
    };
    // Checked before the unchanged shortcut, so lowering the limit drops notes now over it.
    let limit = idx.vault().max_note_bytes();
    if disk.size > limit {
        return Outcome::Skip(
            ReadError::TooLarge {
                size: disk.size,
                limit,
            }
            .to_string(),
        );
    }
    if let Some(ix) = indexed
        && ix.size == disk.size
        && ix.mtime_ns == disk.mtime_ns
        && !force
    {
        return Outcome::Unchanged(None);
    }
    let (text, state, utf8_warning) = match idx.vault().read(id) {
        Ok(r) => r,
        Err(ReadError::NotFound) => return Outcome::Remove,
        Err(e) => return Outcome::Skip(e.to_string()),
    };
    let hash = content_hash(text.as_bytes());
    let now = Indexed {
        size: state.size,
        mtime_ns: state.mtime_ns,
        hash,
    };
    if let Some(ix) = indexed
        && ix.hash == hash
        && !force
    {
        // Touched but not changed: no re-parse. The index keeps the old time; this process
        // remembers the new one.
        return Outcome::Unchanged(Some(now));
    }
    let mut note = parse_note(id, &text, state.mtime());
    if let Some(w) = utf8_warning {
        note.warnings.insert(0, w);
    }
    let mut warnings = std::mem::take(&mut note.warnings);
    let vectors = model.and_then(|m| match embedding::embed_note(m, &note) {
        Ok(v) => Some(v),
        Err(e) => {
            // Indexed by its words; it stays pending and is tried again after a restart.
            warnings.push(format!("no vectors: {e}"));
            None
        }
    });
    let embedded = vectors.is_some();
    Outcome::Add(
        Box::new(document(idx.fields(), &note, now, vectors.as_ref())),
        now,
        warnings,
        embedded,
    )
}

/// The first 8 bytes of the BLAKE3 hash of a note's bytes.
fn content_hash(bytes: &[u8]) -> u64 {
    let h = blake3::hash(bytes);
    u64::from_le_bytes(h.as_bytes()[..8].try_into().expect("8 bytes"))
}

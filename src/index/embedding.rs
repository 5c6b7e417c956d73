//! Vectors in the writer: a note's chunks embedded into its own document, and the notes still
//! without vectors of the current model filled in behind lexical indexing, a batch per commit
//! (so a kill at any moment loses at most one batch of work and never leaves a note's text
//! and vectors out of step).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use tantivy::TantivyDocument;

use super::schema::Fields;
use super::state::id_column;
use super::vectors;
use super::writer::{Progress, ReindexReport};
use super::{IndexError, Indexer, NoteIndex};
use crate::embed::{CHUNK_CHARS, EmbedError, Embedder, chunk_note};
use crate::vault::{FileState, ParsedNote};

/// Characters of a chunk's text kept for its snippet.
const CHUNK_SNIPPET_CHARS: usize = 300;
/// Notes embedded per commit in the background: small enough that a live edit queued behind
/// a batch waits little, large enough that commits stay few.
pub const EMBED_BATCH: usize = 32;
/// Notes per commit when nothing else waits (`reindex`): fewer commits and segments.
const EMBED_BULK_BATCH: usize = 256;

/// A note's vectors, ready to be added to its document.
pub struct NoteVectors {
    model: String,
    bytes: Vec<u8>,
    chunks_json: String,
}

/// Chunks and embeds a note.
pub fn embed_note(model: &Embedder, note: &ParsedNote) -> Result<NoteVectors, EmbedError> {
    let chunks = chunk_note(&note.text, &note.headings, CHUNK_CHARS);
    let texts: Vec<String> = chunks.iter().map(|c| c.embed_text(&note.title)).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let vecs = model.embed(&refs)?;
    let shown: Vec<(Option<&str>, String)> = chunks
        .iter()
        .map(|c| {
            let text: String = c.text.chars().take(CHUNK_SNIPPET_CHARS).collect();
            (c.heading.as_deref(), text)
        })
        .collect();
    Ok(NoteVectors {
        model: model.identity().to_string(),
        bytes: vectors::encode(&vecs),
        chunks_json: serde_json::to_string(&shown).unwrap_or_default(),
    })
}

pub fn add_vectors(doc: &mut TantivyDocument, f: &Fields, v: &NoteVectors) {
    doc.add_bytes(f.vec, &v.bytes);
    doc.add_text(f.vec_model, &v.model);
    doc.add_text(f.chunks_json, &v.chunks_json);
}

/// Ids of the notes whose document has no vectors of `model` (after a reload).
fn without_vectors(idx: &NoteIndex, model: &str) -> Result<HashSet<String>, IndexError> {
    let searcher = idx.inner.reader.searcher();
    let mut out = HashSet::new();
    for seg in searcher.segment_readers() {
        let Some((ids, names)) = id_column(seg)? else {
            continue;
        };
        let models = seg.fast_fields().str(vectors::VEC_MODEL)?;
        let current = match &models {
            Some(m) => m.dictionary().term_ord(model.as_bytes())?,
            None => None,
        };
        for doc in seg.doc_ids_alive() {
            let has = match (&models, current) {
                (Some(m), Some(ord)) => m.term_ords(doc).next() == Some(ord),
                _ => false,
            };
            if !has
                && let Some(name) = ids
                    .term_ords(doc)
                    .next()
                    .and_then(|o| names.get(o as usize))
            {
                out.insert(name.clone());
            }
        }
    }
    Ok(out)
}

impl Indexer {
    /// Gives the writer a model: notes without its vectors (none yet, or another model's)
    /// become pending, and are embedded by [`Indexer::embed_pending`].
    pub fn set_model(&mut self, model: Arc<Embedder>) -> Result<(), IndexError> {
        self.idx.reload()?;
        self.pending = without_vectors(&self.idx, model.identity())?;
        self.idx.publish_pending(self.pending.len());
        self.model = Some(model);
        Ok(())
    }

    /// Whether live re-checks (`sync_ids`) embed before committing (default on).
    pub fn set_embed_inline(&mut self, on: bool) {
        self.embed_inline = on;
    }

    /// Notes still without vectors.
    pub fn pending_vectors(&self) -> usize {
        self.pending.len()
    }

    /// Embeds up to `max` pending notes (re-read from disk, so the vectors match the text
    /// written with them) and commits.
    pub fn embed_pending(&mut self, max: usize) -> Result<ReindexReport, IndexError> {
        let started = Instant::now();
        let mut report = ReindexReport::default();
        if self.model.is_none() || self.pending.is_empty() {
            return Ok(report);
        }
        let mut batch: Vec<String> = self.pending.iter().take(max).cloned().collect();
        batch.sort();
        let candidates: Vec<(String, Option<FileState>)> = batch
            .iter()
            .map(|id| (id.clone(), self.idx.vault().stat(id)))
            .collect();
        self.apply_with(candidates, &(), &mut report, true, true)?;
        // A note the model failed on stays without vectors until the next start, instead of
        // being retried forever.
        for id in &batch {
            self.pending.remove(id);
        }
        self.commit(&mut report, started)?;
        Ok(report)
    }

    /// Embeds every pending note, a batch per commit.
    pub fn embed_all(&mut self, progress: &dyn Progress) -> Result<ReindexReport, IndexError> {
        let started = Instant::now();
        let mut total = ReindexReport::default();
        progress.start(self.pending.len() as u64);
        while !self.pending.is_empty() {
            let before = self.pending.len();
            let r = self.embed_pending(EMBED_BULK_BATCH)?;
            progress.advance((before - self.pending.len()) as u64);
            total.embedded += r.embedded;
            total.removed += r.removed;
            total.skipped.extend(r.skipped);
            total.warnings.extend(r.warnings);
        }
        total.notes = self.idx.note_count();
        total.seconds = started.elapsed().as_secs_f64();
        Ok(total)
    }
}

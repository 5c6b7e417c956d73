//! Building and updating the index: full and incremental reindex, and single-note updates.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tantivy::indexer::{LogMergePolicy, NoMergePolicy};
use tantivy::schema::Value;
use tantivy::{DateTime, IndexWriter, TantivyDocument, Term};

use super::schema::{self, PROP_SEP};
use super::{IndexError, NoteIndex};
use crate::vault::{FileState, ParsedNote, ReadError, link_key, parse_note};

/// Memory the writer may buffer before flushing a segment (shared by its threads).
const WRITER_MEMORY: usize = 64 * 1024 * 1024;
/// Notes parsed at a time before they are handed to the writer.
const PARSE_CHUNK: usize = 512;

/// What the index knows of a note file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Indexed {
    size: u64,
    mtime_ns: i64,
    hash: u64,
}

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
    /// Notes in the index afterwards.
    pub notes: u64,
    pub seconds: f64,
}

impl ReindexReport {
    /// Whether anything in the index changed.
    pub fn changed(&self) -> bool {
        self.indexed > 0 || self.removed > 0
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
    idx: NoteIndex,
    writer: IndexWriter,
    state: HashMap<String, Indexed>,
}

/// The result of looking at one candidate.
enum Outcome {
    Unchanged(Option<Indexed>),
    Add(Box<TantivyDocument>, Indexed, Vec<String>),
    Remove,
    Skip(String),
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
        let state = load_state(&idx)?;
        Ok(Indexer { idx, writer, state })
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
            self.writer
                .set_merge_policy(Box::new(LogMergePolicy::default()));
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
        self.apply(candidates, &(), &mut report)?;
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
            let outcomes: Vec<(String, Outcome)> = chunk
                .into_par_iter()
                .map(|(id, disk)| {
                    let outcome = examine(idx, &id, disk, state.get(&id).copied());
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
                Outcome::Add(doc, indexed, warnings) => {
                    if self.state.contains_key(&id) {
                        self.writer
                            .delete_term(Term::from_field_text(self.idx.fields().id, &id));
                    }
                    self.writer.add_document(*doc)?;
                    self.state.insert(id.clone(), indexed);
                    report.indexed += 1;
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
    }

    fn commit(&mut self, report: &mut ReindexReport, started: Instant) -> Result<(), IndexError> {
        if report.changed() || self.writer.commit_opstamp() == 0 {
            self.writer.commit()?;
        }
        self.idx.reload()?;
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
    {
        // Touched but not changed: no re-parse. The index keeps the old time; this process
        // remembers the new one.
        return Outcome::Unchanged(Some(now));
    }
    let mut note = parse_note(id, &text, state.mtime());
    if let Some(w) = utf8_warning {
        note.warnings.insert(0, w);
    }
    let warnings = std::mem::take(&mut note.warnings);
    Outcome::Add(Box::new(document(idx, &note, now)), now, warnings)
}

/// The first 8 bytes of the BLAKE3 hash of a note's bytes.
pub(super) fn content_hash(bytes: &[u8]) -> u64 {
    let h = blake3::hash(bytes);
    u64::from_le_bytes(h.as_bytes()[..8].try_into().expect("8 bytes"))
}

fn document(idx: &NoteIndex, note: &ParsedNote, st: Indexed) -> TantivyDocument {
    let f = idx.fields();
    let mut doc = TantivyDocument::default();
    let id = note.id.as_str();
    let no_ext = id.strip_suffix(".md").unwrap_or(id);
    let stem = no_ext.rsplit('/').next().unwrap_or(no_ext);
    doc.add_text(f.id, id);
    doc.add_text(f.path_key, link_key(no_ext));
    doc.add_text(f.stem_key, link_key(stem));
    if let Some(fm_id) = &note.frontmatter_id {
        doc.add_text(f.fm_id, fm_id);
    }
    doc.add_text(f.title, &note.title);
    for a in &note.aliases {
        doc.add_text(f.aliases, a);
        doc.add_text(f.alias_key, link_key(a));
    }
    for h in &note.headings {
        // The H1 that repeats the title is the title: counting it again as a heading would
        // weigh title words twice.
        if !h.text.eq_ignore_ascii_case(&note.title) {
            doc.add_text(f.headings, &h.text);
        }
    }
    let mut tag_keys = HashSet::new();
    for t in &note.tags {
        doc.add_text(f.tag_raw, t);
        doc.add_text(f.tags, t.replace(['/', '-', '_'], " "));
        let lower = t.to_lowercase();
        let mut prefix = String::new();
        for part in lower.split('/') {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            tag_keys.insert(prefix.clone());
        }
    }
    for k in tag_keys {
        doc.add_text(f.tag_key, k);
    }
    doc.add_text(f.path, no_ext.replace(['/', '-', '_'], " "));
    doc.add_text(f.file, stem.replace(['-', '_'], " "));
    doc.add_text(f.body, &note.text);
    add_properties(&mut doc, f, &note.properties);
    doc.add_date(
        f.created,
        DateTime::from_timestamp_secs(note.created.timestamp()),
    );
    doc.add_date(
        f.modified,
        DateTime::from_timestamp_secs(note.modified.timestamp()),
    );
    doc.add_u64(f.size, st.size);
    doc.add_i64(f.mtime, st.mtime_ns);
    doc.add_u64(f.hash, st.hash);
    let mut link_keys = HashSet::new();
    for l in &note.links {
        let target = l.target.strip_suffix(".md").unwrap_or(&l.target);
        let key = link_key(target.trim_start_matches("./").trim_start_matches('/'));
        if let Some(last) = key.rsplit('/').next() {
            link_keys.insert(last.to_owned());
        }
        link_keys.insert(key);
    }
    for k in link_keys {
        doc.add_text(f.link_key, k);
    }
    doc.add_text(
        f.links_json,
        serde_json::to_string(&note.links).unwrap_or_default(),
    );
    let headings: Vec<(usize, u8, &str)> = note
        .headings
        .iter()
        .map(|h| (h.offset, h.level, h.text.as_str()))
        .collect();
    doc.add_text(
        f.headings_json,
        serde_json::to_string(&headings).unwrap_or_default(),
    );
    doc
}

fn add_properties(
    doc: &mut TantivyDocument,
    f: &schema::Fields,
    props: &serde_json::Map<String, serde_json::Value>,
) {
    thread_local! {
        // Built once per thread: an analyzer carries its stop word set.
        static ANALYZER: std::cell::RefCell<tantivy::tokenizer::TextAnalyzer> =
            std::cell::RefCell::new(schema::analyzer());
    }
    let mut stack: Vec<(String, &serde_json::Value)> =
        props.iter().map(|(k, v)| (k.to_lowercase(), v)).collect();
    while let Some((key, value)) = stack.pop() {
        match value {
            serde_json::Value::Object(m) => {
                doc.add_text(f.prop_key, &key);
                stack.extend(
                    m.iter()
                        .map(|(k, v)| (format!("{key}.{}", k.to_lowercase()), v)),
                );
            }
            serde_json::Value::Array(items) => {
                doc.add_text(f.prop_key, &key);
                stack.extend(items.iter().map(|v| (key.clone(), v)));
            }
            serde_json::Value::Null => doc.add_text(f.prop_key, &key),
            scalar => {
                doc.add_text(f.prop_key, &key);
                let text = match scalar {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                // The property's whole value, lower-cased, matches too (`[status:in-progress]`).
                doc.add_text(
                    f.prop_kv,
                    format!("{key}{PROP_SEP}{}", text.trim().to_lowercase()),
                );
                let tokens = ANALYZER.with(|a| schema::tokens(&mut a.borrow_mut(), &text));
                for (_, tok) in tokens {
                    doc.add_text(f.prop_kv, format!("{key}{PROP_SEP}{tok}"));
                }
                if !matches!(key.as_str(), "title" | "id" | "aliases" | "tags") {
                    doc.add_text(f.props, &text);
                }
            }
        }
    }
}

impl NoteIndex {
    /// Whether the index holds exactly the vault's notes at their current size and time (a
    /// walk and a stat per note; no file is read). Cheaper than taking the writer to find out.
    pub fn is_current(&self) -> Result<bool, IndexError> {
        let (entries, _) = self.vault().scan();
        let state = read_state(self)?;
        Ok(entries.len() == state.len()
            && entries.iter().all(|e| {
                state
                    .get(&e.id)
                    .is_some_and(|s| s.size == e.state.size && s.mtime_ns == e.state.mtime_ns)
            }))
    }

    /// Every indexed note id with the content hash it was indexed from, sorted: what tests
    /// compare to tell two indexes hold the same notes.
    pub fn manifest(&self) -> Result<std::collections::BTreeMap<String, u64>, IndexError> {
        Ok(read_state(self)?
            .into_iter()
            .map(|(id, s)| (id, s.hash))
            .collect())
    }
}

/// Reads what the index knows of every note from its fast fields (after a reload).
fn load_state(idx: &NoteIndex) -> Result<HashMap<String, Indexed>, IndexError> {
    idx.reload()?;
    read_state(idx)
}

fn read_state(idx: &NoteIndex) -> Result<HashMap<String, Indexed>, IndexError> {
    let searcher = idx.inner.reader.searcher();
    let mut state = HashMap::with_capacity(searcher.num_docs() as usize);
    for seg in searcher.segment_readers() {
        let ff = seg.fast_fields();
        let Some((ids, names)) = id_column(seg)? else {
            continue;
        };
        let sizes = ff.u64("size")?;
        let mtimes = ff.i64("mtime")?;
        let hashes = ff.u64("hash")?;
        for doc in seg.doc_ids_alive() {
            let Some(name) = ids
                .term_ords(doc)
                .next()
                .and_then(|ord| names.get(ord as usize))
            else {
                continue;
            };
            let entry = Indexed {
                size: sizes.first(doc).unwrap_or(0),
                mtime_ns: mtimes.first(doc).unwrap_or(0),
                hash: hashes.first(doc).unwrap_or(0),
            };
            state.insert(name.clone(), entry);
        }
    }
    Ok(state)
}

/// A segment's `id` column and its dictionary read once, in order (ord → id). Looking ids up
/// one by one with `ord_to_str` decompresses a dictionary block per call: 40x slower on 100k
/// notes.
pub(super) fn id_column(
    seg: &tantivy::SegmentReader,
) -> Result<Option<(tantivy::columnar::StrColumn, Vec<String>)>, IndexError> {
    let Some(ids) = seg.fast_fields().str("id")? else {
        return Ok(None);
    };
    let mut names = Vec::with_capacity(ids.dictionary().num_terms());
    let mut stream = ids.dictionary().stream()?;
    while stream.advance() {
        names.push(String::from_utf8_lossy(stream.key()).into_owned());
    }
    Ok(Some((ids, names)))
}

/// A stored text field's first value.
pub(super) fn stored_str(doc: &TantivyDocument, field: tantivy::schema::Field) -> Option<String> {
    doc.get_first(field)
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

/// All values of a stored text field.
pub(super) fn stored_strs(doc: &TantivyDocument, field: tantivy::schema::Field) -> Vec<String> {
    doc.get_all(field)
        .filter_map(|v| v.as_str())
        .map(str::to_owned)
        .collect()
}

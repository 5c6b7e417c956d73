//! The search index (tantivy): schema, building and updating it, search and fetch.
//!
//! Nothing here touches the network. Exactly one `Indexer` (the owner of tantivy's
//! `IndexWriter`) exists per index at a time, across processes: tantivy's lock enforces it.

mod directory;
mod document;
mod embedding;
mod fetch;
mod hybrid;
mod query;
mod ranking;
mod safe_seek;
mod schema;
mod search;
mod snippet;
mod state;
mod stem;
mod stored;
mod vectors;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, RwLock};

use tantivy::{Index, IndexReader, ReloadPolicy};

pub use embedding::EMBED_BATCH;
pub use fetch::{Backlink, FetchedNote, LinkOut};
pub use hybrid::{RELATED, Related, SearchMode};
pub use query::{Clause, ParsedQuery, parse_query};
pub use schema::SCHEMA_VERSION;
pub use search::{Hit, MAX_LIMIT, SearchResults};
pub use writer::{Indexer, Progress, ReindexReport, Skipped};

use crate::embed::Embedder;
use crate::vault::Vault;
use directory::IndexDirectory;
use schema::Fields;
use vectors::VectorCache;

/// Errors of the index. Each displays as one sentence.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("another vaultmcp process is writing this index (is `vaultmcp serve` running?)")]
    Busy,
    #[error("no index yet in {0}")]
    Missing(PathBuf),
    #[error("no note with id {0:?}")]
    NotFound(String),
    #[error("index error: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("cannot use the data folder: {0}")]
    Io(#[from] std::io::Error),
}

/// An open index over one vault: what searches and fetches need. Cheap to clone.
#[derive(Clone)]
pub struct NoteIndex {
    inner: Arc<Inner>,
}

struct Inner {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    vault: Vault,
    dir: PathBuf,
    /// The embedding model, once given: queries are embedded with it and `vectors` holds the
    /// documents' vectors of it.
    model: OnceLock<Arc<Embedder>>,
    vectors: RwLock<VectorCache>,
    /// Notes the writer has yet to embed, as it last said (for `/healthz`).
    vectors_pending: std::sync::atomic::AtomicUsize,
}

/// The index folder for the current schema version.
pub fn index_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(format!("index-v{SCHEMA_VERSION}"))
}

impl NoteIndex {
    /// Opens the index in `data_dir`, creating it (empty) when missing or of another schema
    /// version. Old versions' folders are removed.
    pub fn open_or_create(data_dir: &Path, vault: Vault) -> Result<NoteIndex, IndexError> {
        let dir = index_dir(data_dir);
        std::fs::create_dir_all(&dir)?;
        remove_old_versions(data_dir);
        let (schema, fields) = schema::build();
        let directory = IndexDirectory::open(&dir)?;
        let index = if Index::exists(&directory).map_err(tantivy::TantivyError::from)? {
            let index = Index::open(directory)?;
            if index.schema() == schema {
                index
            } else {
                // Same version number, different schema: a development build. Start over.
                tracing::warn!("index schema changed; rebuilding the index");
                drop(index);
                drop_index_files(&dir)?;
                Index::create(IndexDirectory::open(&dir)?, schema, Default::default())?
            }
        } else {
            Index::create(directory, schema, Default::default())?
        };
        NoteIndex::from_index(index, fields, vault, dir)
    }

    /// Opens an existing index for reading only.
    pub fn open_existing(data_dir: &Path, vault: Vault) -> Result<NoteIndex, IndexError> {
        let dir = index_dir(data_dir);
        let (schema, fields) = schema::build();
        if !dir.is_dir() {
            return Err(IndexError::Missing(dir));
        }
        let directory = IndexDirectory::open(&dir)?;
        if !Index::exists(&directory).map_err(tantivy::TantivyError::from)? {
            return Err(IndexError::Missing(dir));
        }
        let index = Index::open(directory)?;
        if index.schema() != schema {
            return Err(IndexError::Missing(dir));
        }
        NoteIndex::from_index(index, fields, vault, dir)
    }

    fn from_index(
        index: Index,
        fields: Fields,
        vault: Vault,
        dir: PathBuf,
    ) -> Result<NoteIndex, IndexError> {
        index.tokenizers().register(schema::EN, schema::analyzer());
        index
            .tokenizers()
            .register(schema::PATH, schema::path_analyzer());
        // Reloads are explicit: the writer reloads right after each commit, so a change is
        // searchable at once instead of after tantivy's 500 ms meta.json polling.
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(NoteIndex {
            inner: Arc::new(Inner {
                index,
                reader,
                fields,
                vault,
                dir,
                model: OnceLock::new(),
                vectors: RwLock::new(VectorCache::default()),
                vectors_pending: std::sync::atomic::AtomicUsize::new(0),
            }),
        })
    }

    pub fn vault(&self) -> &Vault {
        &self.inner.vault
    }

    /// The index folder.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Number of notes in the index as last reloaded.
    pub fn note_count(&self) -> u64 {
        self.inner.reader.searcher().num_docs()
    }

    /// Sees the latest commit (this process's or another's), vectors included.
    pub fn reload(&self) -> Result<(), IndexError> {
        self.inner.reader.reload()?;
        self.refresh_vectors()
    }

    /// Uses `model` for semantic search from now on (once per index; later calls are
    /// ignored) and loads the vectors the index holds of it.
    pub fn set_model(&self, model: Arc<Embedder>) -> Result<(), IndexError> {
        let _ = self.inner.model.set(model);
        self.refresh_vectors()
    }

    /// The embedding model, when one was given.
    pub fn model(&self) -> Option<&Arc<Embedder>> {
        self.inner.model.get()
    }

    /// Notes without vectors yet, as the writer of this process last reported.
    pub fn vectors_pending(&self) -> usize {
        self.inner
            .vectors_pending
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    fn publish_pending(&self, n: usize) {
        self.inner
            .vectors_pending
            .store(n, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether some live note has no vectors of the model (readers' view; no writer needed).
    pub fn vectors_missing(&self) -> bool {
        if self.model().is_none() {
            return false;
        }
        let searcher = self.inner.reader.searcher();
        let cache = self
            .inner
            .vectors
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (cache.live_count(&searcher) as u64) < self.note_count()
    }

    fn refresh_vectors(&self) -> Result<(), IndexError> {
        let Some(model) = self.inner.model.get() else {
            return Ok(());
        };
        let searcher = self.inner.reader.searcher();
        let mut cache = self
            .inner
            .vectors
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.refresh(&searcher, model.identity(), model.dim())
    }

    /// Takes the index's single writer. Fails with [`IndexError::Busy`] when another process has it.
    pub fn indexer(&self) -> Result<Indexer, IndexError> {
        Indexer::new(self.clone())
    }

    fn fields(&self) -> &Fields {
        &self.inner.fields
    }
}

fn remove_old_versions(data_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(data_dir) else {
        return;
    };
    let current = format!("index-v{SCHEMA_VERSION}");
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("index-v") && name != current {
            tracing::info!(folder = %name, "removing an index of an older schema version");
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

fn drop_index_files(dir: &Path) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)?.flatten() {
        // The lock files stay: another process may hold them.
        if !e.file_name().to_string_lossy().ends_with(".lock") {
            std::fs::remove_file(e.path())?;
        }
    }
    Ok(())
}

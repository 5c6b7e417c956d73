//! Sentence embeddings on the CPU, offline: BERT-family models in the Hugging Face layout
//! (`config.json`, `tokenizer.json`, `model.safetensors`, run with candle) and static models
//! in the model2vec layout (one token-vector table, averaged). Plus the chunking of notes into
//! the pieces that get embedded.
//!
//! Nothing here touches the network or knows the index: a model is a folder on disk, loaded by
//! [`Embedder::load`], and text goes in, unit vectors come out.

mod batch;
mod bert;
mod chunk;
mod static_model;
mod tensors;

use std::path::{Path, PathBuf};

pub use chunk::{CHUNK_CHARS, Chunk, MAX_CHUNKS, chunk_note};

/// Errors of loading or running a model. Each displays as one sentence.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("no model folder at {0}")]
    NoFolder(PathBuf),
    #[error("the model folder {dir} has no {file}")]
    MissingFile { dir: PathBuf, file: &'static str },
    #[error("cannot load the model in {dir}: {reason}")]
    Load { dir: PathBuf, reason: String },
    #[error("the model failed on a text: {0}")]
    Run(String),
}

impl EmbedError {
    fn load(dir: &Path, reason: impl std::fmt::Display) -> EmbedError {
        // Upstream messages can span lines; an error here is one sentence.
        let reason = reason.to_string();
        let reason = reason.split_whitespace().collect::<Vec<_>>().join(" ");
        EmbedError::Load {
            dir: dir.to_path_buf(),
            reason,
        }
    }
}

/// A loaded embedding model. `Send + Sync`: share it behind an `Arc`.
pub struct Embedder {
    kind: Kind,
    identity: String,
    name: String,
    /// Concurrent queries share transformer passes (see `batch.rs`).
    queries: batch::Batcher,
}

enum Kind {
    Bert(Box<bert::Bert>),
    Static(Box<static_model::StaticModel>),
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("name", &self.name)
            .field("identity", &self.identity)
            .field("dim", &self.dim())
            .finish()
    }
}

/// The files a model folder is read from.
pub const CONFIG_FILE: &str = "config.json";
pub const TOKENIZER_FILE: &str = "tokenizer.json";
pub const WEIGHTS_FILE: &str = "model.safetensors";

impl Embedder {
    /// Loads the model in `dir`. A folder whose `config.json` describes a transformer
    /// (`num_hidden_layers`) is a BERT model; any other folder with `tokenizer.json` and
    /// `model.safetensors` holding one token-vector table is a static model.
    pub fn load(dir: &Path) -> Result<Embedder, EmbedError> {
        if !dir.is_dir() {
            return Err(EmbedError::NoFolder(dir.to_path_buf()));
        }
        let tokenizer_path = require(dir, TOKENIZER_FILE)?;
        let weights_path = require(dir, WEIGHTS_FILE)?;
        let config: Option<serde_json::Value> = match std::fs::read(dir.join(CONFIG_FILE)) {
            Ok(bytes) => Some(
                serde_json::from_slice(&bytes)
                    .map_err(|e| EmbedError::load(dir, format!("config.json: {e}")))?,
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(EmbedError::load(dir, format!("config.json: {e}"))),
        };
        let weights = std::fs::read(&weights_path)
            .map_err(|e| EmbedError::load(dir, format!("model.safetensors: {e}")))?;
        let tokenizer_bytes = std::fs::read(&tokenizer_path)
            .map_err(|e| EmbedError::load(dir, format!("tokenizer.json: {e}")))?;
        let tokenizer = tokenizers::Tokenizer::from_bytes(&tokenizer_bytes)
            .map_err(|e| EmbedError::load(dir, format!("tokenizer.json: {e}")))?;

        // The identity changes whenever any file that shapes a vector changes, so the index
        // can tell that its vectors came from another model and must be recomputed.
        let mut hasher = blake3::Hasher::new();
        for part in [
            config
                .as_ref()
                .map(|c| c.to_string())
                .unwrap_or_default()
                .as_bytes(),
            &tokenizer_bytes,
            &weights,
        ] {
            hasher.update(&(part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        let hash = hasher.finalize().to_hex();

        let is_bert = config
            .as_ref()
            .is_some_and(|c| c.get("num_hidden_layers").is_some());
        let (kind, label) = if is_bert {
            let config = config.unwrap_or_default();
            let max_tokens = bert::max_tokens(dir, &config);
            let model = bert::Bert::load(dir, &config, weights, tokenizer, max_tokens)?;
            // The arithmetic is part of what shapes a vector: int8 vectors (CPUs with AVX-512
            // VNNI) are not mixed with the f32 pass's.
            let label = if model.int8() { "bert-int8" } else { "bert" };
            (Kind::Bert(Box::new(model)), label)
        } else {
            let model = static_model::StaticModel::load(dir, &weights, tokenizer)?;
            (Kind::Static(Box::new(model)), "static")
        };
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".into());
        let mut e = Embedder {
            kind,
            identity: String::new(),
            name,
            queries: batch::Batcher::default(),
        };
        e.identity = format!("{label}-{}-{}", e.dim(), &hash[..16]);
        Ok(e)
    }

    /// Length of every vector.
    pub fn dim(&self) -> usize {
        match &self.kind {
            Kind::Bert(m) => m.dim(),
            Kind::Static(m) => m.dim(),
        }
    }

    /// Names the exact model (kind, dimension and a hash of its files).
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The model folder's name, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `true` for static (token-table) models, which are cheap enough to run per keystroke.
    pub fn is_static(&self) -> bool {
        matches!(self.kind, Kind::Static(_))
    }

    /// One unit-length vector per text (all zeros for a text with no tokens at all).
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut out = match &self.kind {
            Kind::Bert(m) => m.embed(texts)?,
            Kind::Static(m) => m.embed(texts)?,
        };
        for v in &mut out {
            normalize(v);
        }
        Ok(out)
    }

    /// The vector of one text (a search query): with a transformer, in one pass with the
    /// queries other threads are embedding at the same time.
    pub fn embed_one(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        if self.is_static() {
            return Ok(self.embed(&[text])?.pop().unwrap_or_default());
        }
        self.queries
            .embed(text, |texts| self.embed(texts))
            .map_err(EmbedError::Run)
    }
}

fn require(dir: &Path, file: &'static str) -> Result<PathBuf, EmbedError> {
    let p = dir.join(file);
    if p.is_file() {
        Ok(p)
    } else {
        Err(EmbedError::MissingFile {
            dir: dir.to_path_buf(),
            file,
        })
    }
}

/// Scales `v` to unit length (a zero vector stays zero).
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in v {
            *x /= norm;
        }
    }
}

/// Dot product: the cosine similarity of two unit vectors.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

//! Embedding models on disk: where `vaultmcp model pull` puts them (`<data-dir>/models/`) and
//! which ones it knows. The download itself is the only network access a model ever needs.

mod pull;

use std::path::{Path, PathBuf};

pub use pull::{PullError, PullProgress, installed, known, pull};

/// The model `model pull` fetches when given no name, and the one used when present.
pub const DEFAULT_MODEL: &str = "all-MiniLM-L6-v2";

/// A model `model pull` knows: a Hugging Face repository and the files to fetch from it.
#[derive(Debug, Clone, Copy)]
pub struct KnownModel {
    pub name: &'static str,
    pub repo: &'static str,
    pub files: &'static [ModelFile],
    pub about: &'static str,
}

/// One file of a model: its name in the repository, its name on disk, and (for the weights)
/// the sha256 the download must have.
#[derive(Debug, Clone, Copy)]
pub struct ModelFile {
    pub remote: &'static str,
    pub local: &'static str,
    pub sha256: Option<&'static str>,
}

impl ModelFile {
    /// A file kept under its own name, with no checksum known in advance (the folder is
    /// checked by loading it once the download is complete).
    pub const fn plain(name: &'static str) -> ModelFile {
        ModelFile {
            remote: name,
            local: name,
            sha256: None,
        }
    }
}

/// The models `model pull` can fetch by name.
pub const KNOWN: &[KnownModel] = &[
    KnownModel {
        name: DEFAULT_MODEL,
        repo: "sentence-transformers/all-MiniLM-L6-v2",
        about: "BERT sentence embeddings, 384 dimensions, 90 MB (Apache-2.0)",
        files: &[
            ModelFile::plain("config.json"),
            ModelFile::plain("tokenizer.json"),
            ModelFile::plain("sentence_bert_config.json"),
            ModelFile {
                remote: "model.safetensors",
                local: "model.safetensors",
                sha256: Some("53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
            },
        ],
    },
    KnownModel {
        name: "potion-base-8M",
        repo: "minishlab/potion-base-8M",
        about: "static (model2vec) token vectors, 256 dimensions, 30 MB, for very large vaults (MIT)",
        files: &[
            ModelFile::plain("config.json"),
            ModelFile::plain("tokenizer.json"),
            ModelFile::plain("model.safetensors"),
        ],
    },
];

/// `<data-dir>/models`.
pub fn models_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("models")
}

/// Loads the configured model, if any. A model that fails to load is one clear error; the
/// callers go on with lexical search.
pub fn open_model(
    config: &crate::config::Config,
) -> Result<Option<std::sync::Arc<crate::embed::Embedder>>, crate::embed::EmbedError> {
    match &config.model {
        None => Ok(None),
        Some(dir) => Ok(Some(std::sync::Arc::new(crate::embed::Embedder::load(
            dir,
        )?))),
    }
}

/// The one line `serve` logs when it runs without a model.
pub const HOW_TO_ENABLE: &str = "semantic search is off: run `vaultmcp model pull` (or pass --model DIR / set VAULTMCP_MODEL) to turn it on";

//! `vaultmcp model pull`: a model's files from a Hugging Face-style server
//! (`<base>/<repo>/resolve/main/<file>`), resumed with `Range` after an interruption, checked
//! against their sha256, and only then moved into place as one folder.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{KNOWN, KnownModel, ModelFile, models_dir};

/// Errors of a pull. Each displays as one sentence.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error(
        "unknown model {0:?}: `vaultmcp model list` shows the known ones, or give a Hugging Face repository as owner/name"
    )]
    Unknown(String),
    #[error(
        "cannot reach {url} ({reason}); without network, copy a model folder here by hand and pass --model DIR"
    )]
    Offline { url: String, reason: String },
    #[error("{url} answered {status}")]
    Status { url: String, status: u16 },
    #[error(
        "{file} did not download intact (sha256 {got}, expected {want}); run `vaultmcp model pull` again"
    )]
    Checksum {
        file: String,
        got: String,
        want: String,
    },
    #[error("the downloaded model does not load: {0}")]
    Invalid(#[from] crate::embed::EmbedError),
    #[error("cannot write the model folder: {0}")]
    Io(#[from] std::io::Error),
}

/// Progress of a download, for a progress bar.
pub trait PullProgress: Sync {
    /// A file starts: its name, bytes already on disk, its total size when known.
    fn file(&self, _name: &str, _done: u64, _total: Option<u64>) {}
    fn advance(&self, _bytes: u64) {}
}

impl PullProgress for () {}

/// Files any model may have besides the required ones.
const GENERIC: &[ModelFile] = &[
    ModelFile::plain("config.json"),
    ModelFile::plain("tokenizer.json"),
    ModelFile::plain("sentence_bert_config.json"),
    ModelFile::plain("model.safetensors"),
];

/// Files a folder can do without (static models have no config.json).
fn optional(file: &str) -> bool {
    matches!(file, "config.json" | "sentence_bert_config.json")
}

/// What `name` means: a known model, or `owner/name` on the server.
fn resolve(name: &str) -> Result<(String, String, &'static [ModelFile]), PullError> {
    if let Some(k) = KNOWN.iter().find(|k| k.name.eq_ignore_ascii_case(name)) {
        return Ok((k.name.to_string(), k.repo.to_string(), k.files));
    }
    let parts: Vec<&str> = name.split('/').collect();
    let ok = |p: &str| {
        !p.is_empty()
            && p != "."
            && p != ".."
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    match parts.as_slice() {
        [owner, repo] if ok(owner) && ok(repo) => Ok((repo.to_string(), name.to_string(), GENERIC)),
        _ => Err(PullError::Unknown(name.to_string())),
    }
}

/// Downloads model `name` into `<data-dir>/models/<name>/` and returns that folder.
pub async fn pull(
    base_url: &str,
    data_dir: &Path,
    name: &str,
    progress: &dyn PullProgress,
) -> Result<PathBuf, PullError> {
    let (local_name, repo, files) = resolve(name)?;
    let root = models_dir(data_dir);
    let partial = root.join(format!(".{local_name}.partial"));
    std::fs::create_dir_all(&partial)?;
    let client = reqwest::Client::builder()
        .user_agent(concat!("vaultmcp/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(std::time::Duration::from_secs(15))
        .build()
        .map_err(|e| PullError::Offline {
            url: base_url.to_string(),
            reason: e.to_string(),
        })?;
    for f in files {
        let url = format!(
            "{}/{repo}/resolve/main/{}",
            base_url.trim_end_matches('/'),
            f.remote
        );
        let done_path = partial.join(f.local);
        if done_path.is_file() {
            continue; // finished and checked by an earlier, interrupted pull
        }
        match fetch_file(&client, &url, &partial, f, progress).await {
            Err(PullError::Status { status: 404, .. }) if optional(f.remote) => continue,
            other => other?,
        }
    }
    // Only a folder that loads is put in place.
    crate::embed::Embedder::load(&partial)?;
    let target = root.join(&local_name);
    if target.exists() {
        std::fs::remove_dir_all(&target)?;
    }
    std::fs::rename(&partial, &target)?;
    Ok(target)
}

async fn fetch_file(
    client: &reqwest::Client,
    url: &str,
    dir: &Path,
    f: &ModelFile,
    progress: &dyn PullProgress,
) -> Result<(), PullError> {
    let part = dir.join(format!("{}.part", f.local));
    let have = std::fs::metadata(&part).map_or(0, |m| m.len());
    let mut req = client.get(url);
    if have > 0 {
        req = req.header(reqwest::header::RANGE, format!("bytes={have}-"));
    }
    let offline = |e: reqwest::Error| PullError::Offline {
        url: url.to_string(),
        reason: error_chain(&e.without_url()),
    };
    let mut resp = req.send().await.map_err(offline)?;
    let status = resp.status().as_u16();
    let resumed = status == 206;
    if !(status == 200 || resumed) {
        return Err(PullError::Status {
            url: url.to_string(),
            status,
        });
    }
    // Hugging Face names a large file's sha256 in its ETag; a known model's is built in.
    let want = f.sha256.map(str::to_string).or_else(|| {
        resp.headers()
            .get("x-linked-etag")
            .or_else(|| resp.headers().get(reqwest::header::ETAG))
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.trim_start_matches("W/")
                    .trim_matches('"')
                    .to_ascii_lowercase()
            })
            .filter(|v| v.len() == 64 && v.chars().all(|c| c.is_ascii_hexdigit()))
    });
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(resumed)
        .write(true)
        .truncate(!resumed)
        .open(&part)?;
    let start = if resumed { have } else { 0 };
    progress.file(f.local, start, resp.content_length().map(|n| n + start));
    while let Some(chunk) = resp.chunk().await.map_err(offline)? {
        file.write_all(&chunk)?;
        progress.advance(chunk.len() as u64);
    }
    file.sync_all()?;
    drop(file);
    if let Some(want) = want {
        let got = sha256_file(&part)?;
        if got != want {
            std::fs::remove_file(&part)?;
            return Err(PullError::Checksum {
                file: f.local.to_string(),
                got,
                want,
            });
        }
    }
    std::fs::rename(&part, dir.join(f.local))?;
    Ok(())
}

/// An error and its causes in one line ("error sending request: connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(c) = cur {
        let s = c.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = c.source();
    }
    parts.join(": ")
}

fn sha256_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut h = Sha256::new();
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Models in `<data-dir>/models/` (folders that hold a `model.safetensors`).
pub fn installed(data_dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(models_dir(data_dir)) else {
        return Vec::new();
    };
    let mut out: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().join("model.safetensors").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    out.sort();
    out
}

/// The models `model pull` knows by name.
pub fn known() -> &'static [KnownModel] {
    KNOWN
}

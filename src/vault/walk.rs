//! Finding notes: the walk, ignore rules, symlinks, and reading a note's bytes safely.

use std::fs;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::time::UNIX_EPOCH;

use chrono::{DateTime, Utc};
use ignore::gitignore::{Gitignore, GitignoreBuilder};

/// Folders that are never notes, whatever the ignore file says.
const ALWAYS_IGNORED: &[&str] = &[".obsidian", ".trash", ".git"];
/// The vault-root file with extra ignore rules, in gitignore syntax.
pub const IGNORE_FILE: &str = ".vaultmcpignore";

/// Size and modification time: what tells whether a file may have changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileState {
    pub size: u64,
    /// Nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
}

impl FileState {
    fn of(meta: &fs::Metadata) -> FileState {
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        FileState {
            size: meta.len(),
            mtime_ns,
        }
    }

    pub fn mtime(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_nanos(self.mtime_ns)
    }
}

/// A note found by the walk.
#[derive(Debug, Clone)]
pub struct VaultEntry {
    pub id: String,
    pub state: FileState,
}

/// Why a file could not be read as a note. Each displays as one sentence.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("file is {size} bytes, over the {limit}-byte limit")]
    TooLarge { size: u64, limit: u64 },
    #[error("file looks binary, not markdown")]
    Binary,
    #[error("file is gone")]
    NotFound,
    #[error("file cannot be read: {0}")]
    Io(std::io::Error),
}

/// The vault: its root, its ignore rules and its limits.
#[derive(Debug, Clone)]
pub struct Vault {
    root: PathBuf,
    name: String,
    ignore: Gitignore,
    max_note_bytes: u64,
}

impl Vault {
    /// Opens the vault at `root`. Fails when the folder does not exist.
    pub fn open(root: &Path, max_note_bytes: u64) -> anyhow::Result<Vault> {
        use anyhow::Context;
        let root = fs::canonicalize(root)
            .with_context(|| format!("vault folder {} does not exist", root.display()))?;
        anyhow::ensure!(
            root.is_dir(),
            "vault path {} is not a folder",
            root.display()
        );
        let name = root
            .file_name()
            .map_or_else(|| "vault".to_owned(), |n| n.to_string_lossy().into_owned());
        let mut builder = GitignoreBuilder::new(&root);
        let ignore_file = root.join(IGNORE_FILE);
        if ignore_file.exists()
            && let Some(err) = builder.add(&ignore_file)
        {
            tracing::warn!(file = %ignore_file.display(), "part of the ignore file was not understood: {err}");
        }
        let ignore = builder.build().unwrap_or_else(|err| {
            tracing::warn!("the ignore file was not understood, nothing extra is ignored: {err}");
            Gitignore::empty()
        });
        Ok(Vault {
            root,
            name,
            ignore,
            max_note_bytes,
        })
    }

    /// Notes larger than this many bytes are skipped.
    pub fn max_note_bytes(&self) -> u64 {
        self.max_note_bytes
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The vault folder's name, as used in `obsidian://` URLs.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Turns a vault-relative id into a path, or `None` when it is not a well-formed note id
    /// inside the vault (absolute, `..`, backslashes, not `.md`, ignored).
    pub fn path_of(&self, id: &str) -> Option<PathBuf> {
        if id.is_empty() || id.contains('\\') || id.contains('\0') || !id.ends_with(".md") {
            return None;
        }
        let rel = Path::new(id);
        if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
            return None;
        }
        if self.is_ignored(rel, false) {
            return None;
        }
        Some(self.root.join(rel))
    }

    /// Whether a vault-relative path is outside the set of notes by rule.
    pub fn is_ignored(&self, rel: &Path, is_dir: bool) -> bool {
        if rel
            .components()
            .any(|c| matches!(c, Component::Normal(n) if ALWAYS_IGNORED.iter().any(|i| n == *i)))
        {
            return true;
        }
        self.ignore
            .matched_path_or_any_parents(rel, is_dir)
            .is_ignore()
    }

    /// The id of an absolute path under the vault, when it names a note (not checking it exists).
    pub fn id_of(&self, path: &Path) -> Option<String> {
        let rel = path.strip_prefix(&self.root).ok()?;
        let id = rel.components().map(|c| match c {
            Component::Normal(n) => n.to_str(),
            _ => None,
        });
        let id = id.collect::<Option<Vec<_>>>()?.join("/");
        self.path_of(&id).map(|_| id)
    }

    /// Walks the vault. Returns the notes and, for files that could not be considered, warnings
    /// `(path, reason)`. Symlinks are followed only to targets inside the vault; loops end.
    pub fn scan(&self) -> (Vec<VaultEntry>, Vec<(String, String)>) {
        self.scan_from(&self.root)
    }

    /// Ids of the notes under a vault-relative folder (`prefix` ends with `/`).
    pub fn scan_under(&self, prefix: &str) -> Vec<String> {
        let rel = prefix.trim_end_matches('/');
        if rel.is_empty()
            || !Path::new(rel)
                .components()
                .all(|c| matches!(c, Component::Normal(_)))
        {
            return Vec::new();
        }
        let start = self.root.join(rel);
        if !start.is_dir() {
            return Vec::new();
        }
        self.scan_from(&start).0.into_iter().map(|e| e.id).collect()
    }

    fn scan_from(&self, start: &Path) -> (Vec<VaultEntry>, Vec<(String, String)>) {
        let mut notes = Vec::new();
        let outside = std::cell::RefCell::new(Vec::new());
        let walker = walkdir::WalkDir::new(start)
            .follow_links(true)
            .into_iter()
            .filter_entry(|e| {
                let Ok(rel) = e.path().strip_prefix(&self.root) else {
                    return false;
                };
                if rel.as_os_str().is_empty() {
                    return true;
                }
                if self.is_ignored(rel, e.file_type().is_dir()) {
                    return false;
                }
                // Checked before descending, so a link to a folder outside the vault is never walked.
                if e.path_is_symlink() && !self.target_inside(e.path()) {
                    let relevant =
                        e.file_type().is_dir() || e.path().extension().is_some_and(|x| x == "md");
                    if relevant {
                        outside.borrow_mut().push((
                            self.display_rel(e.path()),
                            "symlink points outside the vault; not followed".to_owned(),
                        ));
                    }
                    return false;
                }
                true
            });
        let mut warnings = Vec::new();
        for entry in walker {
            let entry = match entry {
                Ok(e) => e,
                Err(err) => {
                    let path = err.path().map(|p| self.display_rel(p)).unwrap_or_default();
                    let reason = if err.loop_ancestor().is_some() {
                        "symlink loop; not followed".to_owned()
                    } else {
                        format!(
                            "cannot be read: {}",
                            err.io_error()
                                .map_or_else(|| err.to_string(), ToString::to_string)
                        )
                    };
                    warnings.push((path, reason));
                    continue;
                }
            };
            let path = entry.path();
            if entry.file_type().is_dir() || path.extension().is_none_or(|e| e != "md") {
                continue;
            }
            let Some(id) = self.id_of(path) else {
                warnings.push((
                    self.display_rel(path),
                    "file name is not valid UTF-8; skipped".to_owned(),
                ));
                continue;
            };
            match entry.metadata() {
                Ok(meta) => notes.push(VaultEntry {
                    id,
                    state: FileState::of(&meta),
                }),
                Err(err) => warnings.push((id, format!("cannot be read: {err}"))),
            }
        }
        warnings.extend(outside.into_inner());
        notes.sort_by(|a, b| a.id.cmp(&b.id));
        notes.dedup_by(|a, b| a.id == b.id);
        (notes, warnings)
    }

    /// Whether `path`, with every symlink resolved, is inside the vault.
    fn target_inside(&self, path: &Path) -> bool {
        fs::canonicalize(path).is_ok_and(|p| p.starts_with(&self.root))
    }

    fn display_rel(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .to_string_lossy()
            .replace('\\', "/")
    }

    /// The current state of a note file, or `None` when it is gone, ignored or outside the vault.
    pub fn stat(&self, id: &str) -> Option<FileState> {
        let path = self.path_of(id)?;
        if !self.target_inside(&path) {
            return None;
        }
        let meta = fs::metadata(&path).ok()?;
        meta.is_file().then(|| FileState::of(&meta))
    }

    /// Reads a note's text. Invalid UTF-8 is replaced and reported in the returned warning.
    pub fn read(&self, id: &str) -> Result<(String, FileState, Option<String>), ReadError> {
        let path = self.path_of(id).ok_or(ReadError::NotFound)?;
        if !self.target_inside(&path) {
            return Err(ReadError::NotFound);
        }
        let file = fs::File::open(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ReadError::NotFound,
            _ => ReadError::Io(e),
        })?;
        let meta = file.metadata().map_err(ReadError::Io)?;
        if meta.len() > self.max_note_bytes {
            return Err(ReadError::TooLarge {
                size: meta.len(),
                limit: self.max_note_bytes,
            });
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        // Read at most one byte past the limit: the file may grow between stat and read.
        file.take(self.max_note_bytes + 1)
            .read_to_end(&mut bytes)
            .map_err(ReadError::Io)?;
        if bytes.len() as u64 > self.max_note_bytes {
            return Err(ReadError::TooLarge {
                size: bytes.len() as u64,
                limit: self.max_note_bytes,
            });
        }
        if looks_binary(&bytes) {
            return Err(ReadError::Binary);
        }
        let state = FileState::of(&meta);
        match String::from_utf8(bytes) {
            Ok(text) => Ok((text, state, None)),
            Err(err) => {
                let at = err.utf8_error().valid_up_to();
                let text = String::from_utf8_lossy(err.as_bytes()).into_owned();
                Ok((
                    text,
                    state,
                    Some(format!("invalid UTF-8 at byte {at}; bad bytes replaced")),
                ))
            }
        }
    }
}

/// NUL bytes in the first 8 KiB mean binary, as git decides it.
fn looks_binary(bytes: &[u8]) -> bool {
    bytes[..bytes.len().min(8192)].contains(&0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_never_escape() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::open(dir.path(), 1 << 20).unwrap();
        for bad in [
            "../x.md",
            "/etc/passwd.md",
            "a/../../x.md",
            "a\\..\\x.md",
            "./a.md",
            ".obsidian/x.md",
            "x.txt",
            "",
        ] {
            assert!(vault.path_of(bad).is_none(), "{bad}");
        }
        assert!(vault.path_of("a/b c.md").is_some());
    }
}

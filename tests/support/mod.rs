//! Shared helpers for the integration tests: a temporary vault with its own data dir, the real
//! index over it, and the real `vaultmcp` binary pointed at it.
//!
//! Each test binary includes this with `mod support;`; not every binary uses every helper.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use vaultmcp::index::{NoteIndex, ReindexReport};
use vaultmcp::vault::Vault;

pub mod tiny_model;

/// The default note size limit (10 MB), as in the contract.
pub const DEFAULT_MAX: u64 = 10 * 1024 * 1024;

/// The bundled demo vault, in the source tree (never modified by the tests).
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("vault-fixtures")
}

/// A temporary vault (`<tmp>/<name>/`) and data dir (`<tmp>/data/`), removed on drop.
pub struct Dir {
    tmp: tempfile::TempDir,
    vault: PathBuf,
    data: PathBuf,
}

impl Dir {
    /// An empty vault folder named `vault`.
    pub fn new() -> Dir {
        Dir::named("vault")
    }

    /// An empty vault folder with the given folder name (the name shows in `obsidian://` URLs).
    pub fn named(name: &str) -> Dir {
        let tmp = tempfile::Builder::new()
            .prefix("vaultmcp-test-")
            .tempdir()
            .expect("temp dir");
        let vault = tmp.path().join(name);
        let data = tmp.path().join("data");
        fs::create_dir_all(&vault).unwrap();
        Dir { tmp, vault, data }
    }

    /// A copy of `vault-fixtures` (same folder name), for tests that change the vault.
    pub fn fixtures_copy() -> Dir {
        let dir = Dir::named("vault-fixtures");
        copy_tree(&fixtures(), &dir.vault);
        dir
    }

    /// Uses `vault` in place (read only) with a fresh temporary data dir.
    pub fn over(vault: &Path) -> Dir {
        let tmp = tempfile::Builder::new()
            .prefix("vaultmcp-test-")
            .tempdir()
            .expect("temp dir");
        let data = tmp.path().join("data");
        Dir {
            tmp,
            vault: vault.to_path_buf(),
            data,
        }
    }

    pub fn vault(&self) -> &Path {
        &self.vault
    }

    pub fn data(&self) -> &Path {
        &self.data
    }

    /// A folder next to the vault (outside it), for symlink targets.
    pub fn outside(&self) -> PathBuf {
        let p = self.tmp.path().join("outside");
        fs::create_dir_all(&p).unwrap();
        p
    }

    /// The absolute path of a vault-relative path.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.vault.join(rel)
    }

    /// Writes a file (creating parent folders).
    pub fn create(&self, rel: &str, contents: impl AsRef<[u8]>) -> &Dir {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, contents).unwrap();
        self
    }

    pub fn remove(&self, rel: &str) {
        fs::remove_file(self.path(rel)).unwrap();
    }

    pub fn rename(&self, from: &str, to: &str) {
        let to = self.path(to);
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::rename(self.path(from), to).unwrap();
    }

    pub fn read(&self, rel: &str) -> Vec<u8> {
        fs::read(self.path(rel)).unwrap()
    }

    #[cfg(unix)]
    pub fn symlink(&self, target: &Path, rel: &str) {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, p).unwrap();
    }

    /// Opens (creating when needed) the index with the default size limit.
    pub fn index(&self) -> NoteIndex {
        self.index_with_limit(DEFAULT_MAX)
    }

    pub fn index_with_limit(&self, max_note_bytes: u64) -> NoteIndex {
        let vault = Vault::open(&self.vault, max_note_bytes).expect("open vault");
        NoteIndex::open_or_create(&self.data, vault).expect("open index")
    }

    /// Brings the index up to date through the library (as `reindex` does) and returns it.
    pub fn reindex(&self, full: bool) -> (NoteIndex, ReindexReport) {
        let index = self.index();
        let report = {
            let mut indexer = index.indexer().expect("take the writer");
            let report = indexer.sync_all(full, &()).expect("sync");
            indexer.finish().expect("finish");
            report
        };
        (index, report)
    }

    /// The index, freshly synced.
    pub fn synced(&self) -> NoteIndex {
        self.reindex(false).0
    }

    /// The real binary with `--vault` and `--data-dir` set and no outside configuration.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vaultmcp"));
        for (k, _) in std::env::vars() {
            if k.starts_with("VAULTMCP_") || k.starts_with("GITHUB_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("XDG_CONFIG_HOME", self.tmp.path().join("config"))
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .arg("--vault")
            .arg(&self.vault)
            .arg("--data-dir")
            .arg(&self.data)
            .args(args)
            .current_dir(self.tmp.path());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::of(self.cmd(args).output().expect("run vaultmcp"))
    }

    /// `reindex --json [--full]`, which must succeed, as JSON.
    pub fn reindex_json(&self, full: bool) -> serde_json::Value {
        let mut args = vec!["reindex", "--json"];
        if full {
            args.push("--full");
        }
        self.run(&args).json()
    }
}

/// A finished process, with its output as text.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn of(out: Output) -> Run {
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Asserts success and parses stdout as JSON.
    pub fn json(&self) -> serde_json::Value {
        assert_eq!(
            self.code,
            Some(0),
            "expected success; stderr:\n{}\nstdout:\n{}",
            self.stderr,
            self.stdout
        );
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    /// Fails the test when the process panicked or printed a backtrace.
    pub fn assert_no_panic(&self) {
        for s in [&self.stdout, &self.stderr] {
            assert!(
                !s.contains("panicked") && !s.contains("RUST_BACKTRACE"),
                "panic in output:\n{s}"
            );
        }
    }
}

/// Copies a folder tree, keeping bytes exactly (no symlinks expected in the fixtures).
pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            fs::copy(e.path(), &dest).unwrap();
        }
    }
}

/// Ids of the hits of a search, best first.
pub fn ids(index: &NoteIndex, query: &str, limit: usize) -> Vec<String> {
    index
        .search(query, limit)
        .unwrap_or_else(|e| panic!("search {query:?} failed: {e}"))
        .into_iter()
        .map(|h| h.id)
        .collect()
}

/// Whether the process runs with root's power to read anything (chmod 000 does not stop it).
#[cfg(unix)]
pub fn can_read_anything() -> bool {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("probe");
    fs::write(&p, "x").unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&p, fs::Permissions::from_mode(0o000)).unwrap();
    fs::read(&p).is_ok()
}

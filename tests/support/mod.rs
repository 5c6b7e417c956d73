//! Shared helpers for the integration tests: a temporary vault with its own data dir, the real
//! index over it, and the real `vaultmcp` binary pointed at it.
//!
//! Each test binary includes this with `mod support;`; not every binary uses every helper.
#![allow(dead_code)]

pub mod mcp;

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use vaultmcp::config::{CommonArgs, Config, ServeArgs};
use vaultmcp::index::{NoteIndex, ReindexReport};
use vaultmcp::vault::Vault;

pub mod tiny_model;

/// The default note size limit (10 MB), as in the contract.
pub const DEFAULT_MAX: u64 = 10 * 1024 * 1024;

/// The bundled demo vault, in the source tree (never modified by the tests).
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("vault-fixtures")
}

/// One index over `vault-fixtures` (read in place) per test binary; its data dir is temporary.
pub fn fixtures_index() -> &'static NoteIndex {
    static INDEX: OnceLock<(Dir, NoteIndex)> = OnceLock::new();
    &INDEX
        .get_or_init(|| {
            let dir = Dir::over(&fixtures());
            let index = dir.synced();
            (dir, index)
        })
        .1
}

/// The configuration of an in-process `serve` over `vault` with its state in `data`: port 0 on
/// loopback, `--no-auth`, and an empty config file in `scratch` so that the user's own
/// `~/.config/vaultmcp/config.toml` is never read.
pub fn serve_config(vault: &Path, data: &Path, scratch: &Path) -> Config {
    serve_config_with(
        vault,
        data,
        scratch,
        ServeArgs {
            no_auth: true,
            ..ServeArgs::default()
        },
    )
}

/// [`serve_config`] with other `serve` flags (`bind` is always 127.0.0.1:0).
pub fn serve_config_with(vault: &Path, data: &Path, scratch: &Path, serve: ServeArgs) -> Config {
    let config_file = scratch.join("empty-config.toml");
    fs::create_dir_all(scratch).unwrap();
    fs::write(&config_file, "").unwrap();
    let common = CommonArgs {
        vault: Some(vault.to_path_buf()),
        data_dir: Some(data.to_path_buf()),
        config: Some(config_file),

        ..CommonArgs::default()
    };
    let serve = ServeArgs {
        bind: Some("127.0.0.1:0".into()),
        ..serve
    };
    Config::load_with(&common, &serve).expect("config")
}

/// The real binary with a clean environment: nothing of the developer's `VAULTMCP_*`,
/// `GITHUB_*` or `RUST_LOG` reaches it, no colour, and `config_home` as its config folder.
pub fn binary(config_home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vaultmcp"));
    for (k, _) in std::env::vars() {
        if k.starts_with("VAULTMCP_") || k.starts_with("GITHUB_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("XDG_CONFIG_HOME", config_home)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG");
    cmd
}

/// Runs a command to its end, reading its output while it runs (a pipe holds only 64 KiB: a
/// process writing more would block until read); a process still running after `limit` is
/// killed and fails the test as a hang.
pub fn run_bounded(mut cmd: Command, limit: Duration) -> Run {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn vaultmcp");
    let drain = |r: Option<Box<dyn Read + Send>>| {
        let mut r = r.expect("piped");
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            r.read_to_end(&mut buf).expect("read output");
            buf
        })
    };
    let stdout = drain(child.stdout.take().map(|r| Box::new(r) as _));
    let stderr = drain(child.stderr.take().map(|r| Box::new(r) as _));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            child.kill().ok();
            child.wait().ok();
            panic!("vaultmcp did not finish within {limit:?} (hang)");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run::of(Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    })
}

/// A `vaultmcp serve` process (the real binary), killed with SIGKILL on drop.
pub struct ServeProcess {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl ServeProcess {
    /// Waits (bounded) until `/healthz` says the start-up catch-up is done: from then on the
    /// index is complete and the watcher runs. Panics when the process exits or the catch-up
    /// fails.
    pub fn wait_ready(&mut self) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            assert!(
                self.child.try_wait().unwrap().is_none(),
                "the server exited"
            );
            if let Some((status, health)) = http_get_json(self.addr, "/healthz") {
                match (status, health["index"].as_str()) {
                    (200, Some("ready")) => return health,
                    (200, Some("catching up")) => {}
                    _ => panic!("the server is not healthy: {status} {health}"),
                }
            }
            assert!(Instant::now() < deadline, "the server never became ready");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// SIGKILL: no destructor, no commit, no cleanup.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET `path` over plain HTTP/1.1: the status and the body as JSON; `None` when the server
/// does not answer (yet) or not with JSON.
pub fn http_get_json(addr: SocketAddr, path: &str) -> Option<(u16, serde_json::Value)> {
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).ok()?;
    let (head, body) = reply.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, serde_json::from_str(body).ok()?))
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

    /// The index with `model`, synced and every note's vectors filled in.
    pub fn embedded(&self, model: std::sync::Arc<vaultmcp::embed::Embedder>) -> NoteIndex {
        let index = self.index();
        index.set_model(model.clone()).expect("set the model");
        let mut ix = index.indexer().expect("take the writer");
        ix.set_model(model).expect("set the writer's model");
        ix.sync_all(false, &()).expect("sync");
        ix.embed_all(&()).expect("embed");
        ix.finish().expect("finish");
        index
    }

    /// The index, freshly synced.
    pub fn synced(&self) -> NoteIndex {
        self.reindex(false).0
    }

    /// The real binary with `--vault` and `--data-dir` set and no outside configuration.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = self.bare_cmd(&[]);
        cmd.arg("--vault")
            .arg(&self.vault)
            .arg("--data-dir")
            .arg(&self.data)
            .args(args);
        cmd
    }

    /// The real binary with only `args` and no outside configuration, run in the temp folder.
    pub fn bare_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = binary(&self.tmp.path().join("config"));
        cmd.args(args).current_dir(self.tmp.path());
        cmd
    }

    /// `vaultmcp serve --no-auth --bind 127.0.0.1:0` (plus `args`) on this vault, as its own
    /// process; returns once it listens. Its log is read (JSON lines) for the address and
    /// then drained, so a chatty server never blocks on a full pipe.
    pub fn spawn_serve(&self, args: &[&str]) -> ServeProcess {
        let mut all = vec!["serve", "--no-auth", "--bind", "127.0.0.1:0"];
        all.extend_from_slice(args);
        let mut child = self
            .cmd(&all)
            .env("VAULTMCP_LOG_JSON", "1")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn vaultmcp serve");
        let stderr = child.stderr.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let addr = serde_json::from_str::<serde_json::Value>(&line)
                    .ok()
                    .filter(|v| v["fields"]["message"] == "serving")
                    .and_then(|v| v["fields"]["addr"].as_str()?.parse::<SocketAddr>().ok());
                if let Some(addr) = addr {
                    let _ = tx.send(addr);
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => ServeProcess { child, addr },
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().ok();
                panic!("vaultmcp serve never said where it listens (exit: {status:?})")
            }
        }
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

//! The live vault: a running server with its watcher, real file operations on a temp vault, and
//! after each kind of change the index must equal a fresh full index of the same files (same
//! ids, same content hashes). Also crash safety: `kill -9` mid-reindex and mid-watching.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::Dir;
use vaultmcp::config::{CommonArgs, Config, ServeArgs};
use vaultmcp::index::NoteIndex;
use vaultmcp::serve::Server;
use vaultmcp::vault::Vault;

/// The notes a fresh `--full` index of `vault` holds.
fn fresh_manifest(vault: &Path) -> BTreeMap<String, u64> {
    let data = tempfile::tempdir().unwrap();
    let index =
        NoteIndex::open_or_create(data.path(), Vault::open(vault, 10 << 20).unwrap()).unwrap();
    let mut indexer = index.indexer().unwrap();
    indexer.sync_all(true, &()).unwrap();
    index.manifest().unwrap()
}

/// Waits (bounded) until the live index equals a fresh full index; panics with the difference.
fn wait_until_equal(index: &NoteIndex, vault: &Path, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut expected = fresh_manifest(vault);
    loop {
        let live = index.manifest().unwrap();
        if live == expected {
            return;
        }
        if Instant::now() > deadline {
            let missing: Vec<_> = expected
                .keys()
                .filter(|k| !live.contains_key(*k))
                .take(5)
                .collect();
            let extra: Vec<_> = live
                .keys()
                .filter(|k| !expected.contains_key(*k))
                .take(5)
                .collect();
            let stale: Vec<_> = live
                .iter()
                .filter(|(k, v)| expected.get(*k).is_some_and(|e| e != *v))
                .take(5)
                .map(|(k, _)| k)
                .collect();
            panic!(
                "after {what}: live index ({}) != fresh index ({}); missing {missing:?}, extra {extra:?}, stale {stale:?}",
                live.len(),
                expected.len()
            );
        }
        std::thread::sleep(Duration::from_millis(25));
        // The disk may still be settling (the test's own writes are done, but be exact).
        expected = fresh_manifest(vault);
    }
}

fn config(dir: &Dir) -> Config {
    let empty = dir.outside().join("empty-config.toml");
    fs::write(&empty, "").unwrap();
    let common = CommonArgs {
        vault: Some(dir.vault().to_path_buf()),
        data_dir: Some(dir.data().to_path_buf()),
        config: Some(empty),
        ..CommonArgs::default()
    };
    let serve = ServeArgs {
        bind: Some("127.0.0.1:0".into()),
        no_auth: true,
        ..ServeArgs::default()
    };
    Config::load_with(&common, &serve).unwrap()
}

fn note(title: &str, words: &str) -> String {
    format!("---\ntags: [live]\n---\n# {title}\n\n{words}\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_change_reaches_the_index() {
    let dir = Dir::new();
    dir.create("a.md", note("A", "alpha words"));
    dir.create("folder/b.md", note("B", "beta words"));
    dir.create("folder/sub/c.md", note("C", "gamma words"));
    let server = Server::start(config(&dir)).await.unwrap();
    let index = server.index.clone();
    let vault = dir.vault().to_path_buf();
    let check = |what: &str| wait_until_equal(&index, &vault, what);
    check("start-up");

    dir.create("new.md", note("New", "created note"));
    check("a create");

    fs::write(dir.path("a.md"), note("A", "alpha edited in place")).unwrap();
    check("an edit in place");

    // An editor's atomic save: write a temp file beside the note, then rename it over.
    fs::write(dir.path(".a.md.tmp"), note("A", "alpha saved atomically")).unwrap();
    fs::rename(dir.path(".a.md.tmp"), dir.path("a.md")).unwrap();
    check("a temp-file-and-rename save");

    dir.remove("new.md");
    check("a delete");

    dir.rename("folder/b.md", "folder/b-renamed.md");
    check("a note rename");

    dir.rename("folder", "moved-folder");
    check("a folder rename");

    // Into the vault from outside, and out again.
    let outside = dir.outside().join("incoming");
    fs::create_dir_all(outside.join("deep")).unwrap();
    fs::write(outside.join("deep/x.md"), note("X", "moved in")).unwrap();
    fs::write(outside.join("y.md"), note("Y", "moved in too")).unwrap();
    fs::rename(&outside, dir.path("incoming")).unwrap();
    check("a folder moved into the vault");
    fs::rename(dir.path("incoming"), dir.outside().join("gone")).unwrap();
    check("a folder moved out of the vault");

    // Files created right after their folder (inotify races here).
    fs::create_dir_all(dir.path("burst/one/two")).unwrap();
    for i in 0..20 {
        fs::write(
            dir.path(&format!("burst/one/two/n{i}.md")),
            note("N", &format!("burst {i}")),
        )
        .unwrap();
    }
    check("files created right after mkdir");

    // Ignored places never enter the index.
    dir.create(".obsidian/plugin.md", "not a note");
    dir.create(".trash/old.md", "not a note");
    dir.create("draft.md.tmp", "not a note");
    check("writes to ignored paths");
    assert!(
        !index
            .manifest()
            .unwrap()
            .keys()
            .any(|k| k.starts_with(".obsidian") || k.starts_with(".trash"))
    );

    server.shutdown();
    server.wait().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mass_change_like_a_git_checkout() {
    let dir = Dir::new();
    for i in 0..200 {
        dir.create(
            &format!("old/{:03}/note.md", i),
            note("Old", &format!("old {i}")),
        );
    }
    let server = Server::start(config(&dir)).await.unwrap();
    wait_until_equal(&server.index, dir.vault(), "start-up");
    // 5,000 files written, 100 deleted and 100 edited at once.
    for i in 0..5000 {
        dir.create(
            &format!("new/{:02}/{i:04}.md", i % 50),
            note("New", &format!("checkout word{i}")),
        );
    }
    for i in 0..100 {
        dir.remove(&format!("old/{:03}/note.md", i));
        fs::write(
            dir.path(&format!("old/{:03}/note.md", i + 100)),
            note("Old", "edited"),
        )
        .unwrap();
    }
    wait_until_equal(&server.index, dir.vault(), "a mass change");
    assert_eq!(server.index.manifest().unwrap().len(), 5100);
    server.shutdown();
    server.wait().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_catches_up_with_changes_made_while_down() {
    let dir = Dir::new();
    dir.create("keep.md", note("Keep", "kept"));
    dir.create("edit.md", note("Edit", "before"));
    dir.create("drop.md", note("Drop", "dropped"));
    let server = Server::start(config(&dir)).await.unwrap();
    wait_until_equal(&server.index, dir.vault(), "start-up");
    server.shutdown();
    server.wait().await.unwrap();

    fs::write(dir.path("edit.md"), note("Edit", "after the restart")).unwrap();
    dir.remove("drop.md");
    dir.create("added.md", note("Added", "while down"));

    let server = Server::start(config(&dir)).await.unwrap();
    wait_until_equal(&server.index, dir.vault(), "a restart");
    let hits = server.index.search("after the restart", 5).unwrap();
    assert_eq!(hits.first().map(|h| h.id.as_str()), Some("edit.md"));
    server.shutdown();
    server.wait().await.unwrap();
}

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vaultmcp"))
}

fn spawn(dir: &Dir, args: &[&str]) -> Child {
    binary()
        .args(args)
        .arg("--vault")
        .arg(dir.vault())
        .arg("--data-dir")
        .arg(dir.data())
        .env("VAULTMCP_CONFIG", dir.outside().join("none.toml"))
        .env_remove("VAULTMCP_VAULT")
        .env_remove("VAULTMCP_DATA_DIR")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn kill9(child: &mut Child) {
    // SIGKILL: no destructor, no commit, no cleanup.
    child.kill().unwrap();
    child.wait().unwrap();
}

fn open_index(dir: &Dir) -> NoteIndex {
    NoteIndex::open_or_create(dir.data(), Vault::open(dir.vault(), 10 << 20).unwrap()).unwrap()
}

#[test]
fn kill_9_during_a_full_reindex_loses_nothing() {
    let dir = Dir::new();
    for i in 0..3000 {
        dir.create(
            &format!("r/{:02}/{i}.md", i % 30),
            note("R", &format!("reindex body {i} {}", "text ".repeat(200))),
        );
    }
    fs::write(dir.outside().join("none.toml"), "").unwrap();
    // A first complete index, then a full rebuild killed at several points.
    assert!(spawn(&dir, &["reindex"]).wait().unwrap().success());
    for delay_ms in [30, 120, 400] {
        let mut child = spawn(&dir, &["reindex", "--full"]);
        std::thread::sleep(Duration::from_millis(delay_ms));
        kill9(&mut child);
        // The lock left by the killed process must not stop the next writer.
        let index = open_index(&dir);
        let before = index.manifest().unwrap();
        assert!(
            before.is_empty() || before == fresh_manifest(dir.vault()),
            "a commit is all or nothing"
        );
        let mut indexer = index.indexer().expect("the killed writer's lock is free");
        indexer.sync_all(false, &()).unwrap();
        assert_eq!(
            index.manifest().unwrap(),
            fresh_manifest(dir.vault()),
            "after kill -9 at {delay_ms} ms"
        );
    }
}

#[test]
fn kill_9_while_serving_then_restart_catches_up() {
    let dir = Dir::new();
    for i in 0..50 {
        dir.create(&format!("s/{i}.md"), note("S", &format!("serving {i}")));
    }
    fs::write(dir.outside().join("none.toml"), "").unwrap();
    let mut child = spawn(&dir, &["serve", "--no-auth", "--bind", "127.0.0.1:0"]);
    // Let it start, index and watch; change files while it runs; kill it mid-way.
    std::thread::sleep(Duration::from_millis(1500));
    for i in 0..20 {
        fs::write(
            dir.path(&format!("s/{i}.md")),
            note("S", &format!("changed {i}")),
        )
        .unwrap();
    }
    dir.create("s/extra.md", note("Extra", "added while serving"));
    kill9(&mut child);
    // More changes while nothing runs.
    dir.remove("s/49.md");
    dir.create("s/later.md", note("Later", "added while down"));

    // A new server starts despite the stale lock and socket, and catches up.
    let mut child = spawn(&dir, &["serve", "--no-auth", "--bind", "127.0.0.1:0"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let expected = fresh_manifest(dir.vault());
    loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the restarted server exited"
        );
        let index =
            NoteIndex::open_existing(dir.data(), Vault::open(dir.vault(), 10 << 20).unwrap()).ok();
        if let Some(index) = index
            && index.manifest().unwrap() == expected
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the restarted server did not catch up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    kill9(&mut child);
}

#[test]
fn the_cli_beside_a_running_server() {
    let dir = Dir::new();
    dir.create("one.md", note("One", "first note"));
    fs::write(dir.outside().join("none.toml"), "").unwrap();
    let mut server = spawn(&dir, &["serve", "--no-auth", "--bind", "127.0.0.1:0"]);
    let socket = dir.data().join("control.sock");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !socket.exists() {
        assert!(Instant::now() < deadline, "no control socket");
        std::thread::sleep(Duration::from_millis(20));
    }
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&socket).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // `reindex` asks the server (which owns the writer) instead of failing on the lock.
    dir.create("two.md", note("Two", "second note"));
    let run = dir.run(&["reindex", "--json"]);
    assert!(run.code == Some(0), "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["notes"], 2, "{report}");
    let run = dir.run(&["reindex", "--full", "--json"]);
    assert!(run.code == Some(0), "{}", run.stderr);
    assert_eq!(run.json()["indexed"], 2);
    // `search` and `fetch` read the index directly while the server runs.
    let run = dir.run(&["search", "--json", "second"]);
    assert!(run.code == Some(0), "{}", run.stderr);
    assert_eq!(run.json()["results"][0]["id"], "two.md");
    assert!(dir.run(&["fetch", "two"]).code == Some(0));
    // A second server on the same data dir refuses to start.
    let second = dir.run(&["serve", "--no-auth", "--bind", "127.0.0.1:0"]);
    assert!(second.code != Some(0));
    assert!(
        second.stderr.contains("another vaultmcp"),
        "{}",
        second.stderr
    );
    kill9(&mut server);
}

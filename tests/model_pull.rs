//! `vaultmcp model pull` and `model list` against a loopback stand-in for Hugging Face that
//! serves the tiny BERT the tests write, the way the hub does (`/<repo>/resolve/main/<file>`,
//! sha256 ETags, `Range`), and can cut a download short or lie about a checksum.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use support::{Dir, tiny_model};

#[derive(Default)]
struct Seen {
    requests: Vec<(String, Option<String>)>,
}

struct StandIn {
    url: String,
    seen: Arc<Mutex<Seen>>,
}

/// Serves `files` under `/acme/tiny/resolve/main/`. `cut_once`: the first download of
/// model.safetensors stops half-way; `bad_etag`: its ETag names other bytes.
fn stand_in(files: Vec<(&'static str, Vec<u8>)>, cut_once: bool, bad_etag: bool) -> StandIn {
    stand_in_for("acme/tiny", files, cut_once, bad_etag)
}

/// Serves `files` under `/<repo>/resolve/main/`, the way the hub does.
fn stand_in_for(
    repo: &'static str,
    files: Vec<(&'static str, Vec<u8>)>,
    cut_once: bool,
    bad_etag: bool,
) -> StandIn {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Seen::default()));
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        let mut cut = cut_once;
        // Bounded: a test makes a few dozen requests at most.
        for stream in listener.incoming().take(64) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let mut range = None;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("range: bytes=") {
                    range = v.trim().trim_end_matches('-').parse::<usize>().ok();
                }
            }
            seen2
                .lock()
                .unwrap()
                .requests
                .push((path.clone(), range.map(|r| r.to_string())));
            let name = path
                .strip_prefix(&format!("/{repo}/resolve/main/"))
                .unwrap_or("");
            let Some((_, body)) = files.iter().find(|(n, _)| *n == name) else {
                let _ = stream.write_all(
                    b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
                continue;
            };
            let sha: String = Sha256::digest(if bad_etag { b"other".as_slice() } else { body })
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let from = range.unwrap_or(0).min(body.len());
            let status = if range.is_some() {
                "206 Partial Content"
            } else {
                "200 OK"
            };
            let rest = &body[from..];
            let head = format!(
                "HTTP/1.1 {status}\r\ncontent-length: {}\r\netag: \"{sha}\"\r\nconnection: close\r\n\r\n",
                rest.len()
            );
            let _ = stream.write_all(head.as_bytes());
            if cut && name == "model.safetensors" {
                cut = false;
                let _ = stream.write_all(&rest[..rest.len() / 2]);
                let _ = stream.flush();
                drop(stream); // the connection drops mid-file
                continue;
            }
            let _ = stream.write_all(rest);
        }
    });
    StandIn { url, seen }
}

fn tiny_files() -> Vec<(&'static str, Vec<u8>)> {
    let tmp = tempfile::tempdir().unwrap();
    tiny_model::write_bert(tmp.path());
    read_files(
        tmp.path(),
        &["config.json", "tokenizer.json", "model.safetensors"],
    )
}

fn read_files(dir: &Path, names: &[&'static str]) -> Vec<(&'static str, Vec<u8>)> {
    names
        .iter()
        .copied()
        .map(|n| {
            let mut b = Vec::new();
            std::fs::File::open(dir.join(n))
                .unwrap()
                .read_to_end(&mut b)
                .unwrap();
            (n, b)
        })
        .collect()
}

fn pull(d: &Dir, base: &str, name: &str) -> support::Run {
    support::Run::of(
        d.cmd(&["model", "pull", name])
            .env("VAULTMCP_MODEL_BASE_URL", base)
            .output()
            .unwrap(),
    )
}

#[test]
fn an_interrupted_pull_resumes_with_range_and_the_model_is_then_used() {
    let d = Dir::new();
    d.create("cats.md", "# Cats\n\nthe cat sat on the mat\n");
    let files = tiny_files();
    let size = files[2].1.len();
    let server = stand_in(files, true, false);

    let first = pull(&d, &server.url, "acme/tiny");
    assert_eq!(first.code, Some(1), "{}", first.stderr);
    assert_eq!(first.stderr.lines().count(), 1, "{:?}", first.stderr);
    assert!(first.stderr.contains("cannot reach"), "{}", first.stderr);
    assert!(!d.data().join("models/tiny").exists());

    let second = pull(&d, &server.url, "acme/tiny");
    assert_eq!(second.code, Some(0), "{}", second.stderr);
    assert!(
        second.stdout.contains("model ready in"),
        "{}",
        second.stdout
    );
    let seen = server.seen.lock().unwrap();
    let resumed: Vec<_> = seen
        .requests
        .iter()
        .filter(|(p, r)| p.ends_with("model.safetensors") && r.is_some())
        .collect();
    assert_eq!(resumed.len(), 1, "{:?}", seen.requests);
    let from: usize = resumed[0].1.as_ref().unwrap().parse().unwrap();
    assert!(
        from > 0 && from < size,
        "resumed from byte {from} of {size}"
    );
    // The finished files were not fetched twice.
    assert_eq!(
        seen.requests
            .iter()
            .filter(|(p, _)| p.ends_with("/config.json"))
            .count(),
        1
    );
    drop(seen);
    let dir = d.data().join("models/tiny");
    assert!(dir.join("model.safetensors").is_file());
    vaultmcp::embed::Embedder::load(&dir).expect("the pulled model loads");

    let list = d.run(&["model", "list"]);
    assert!(list.stdout.contains("  tiny"), "{}", list.stdout);
    assert!(list.stdout.contains("all-MiniLM-L6-v2"), "{}", list.stdout);
    let dir = dir.to_str().unwrap().to_string();
    let r = d.run(&["--model", &dir, "reindex", "--json"]).json();
    assert_eq!(r["embedded"], 1);
}

#[test]
fn a_checksum_mismatch_installs_nothing() {
    let d = Dir::new();
    let server = stand_in(tiny_files(), false, true);
    let out = pull(&d, &server.url, "acme/tiny");
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("did not download intact"),
        "{}",
        out.stderr
    );
    assert!(!d.data().join("models/tiny").exists());
}

#[test]
fn offline_and_unknown_names_are_one_clear_sentence() {
    let d = Dir::new();
    // A port nobody listens on.
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let out = pull(&d, &closed, "acme/tiny");
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("cannot reach"), "{}", out.stderr);
    assert!(out.stderr.contains("--model DIR"), "{}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1);
    let out = pull(&d, &closed, "../../etc");
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("unknown model"), "{}", out.stderr);
    out.assert_no_panic();
}

/// The known static model is fetched by its short name from its repository; it has no
/// config.json of a transformer (the stand-in has none to serve) and still installs and loads.
#[test]
fn the_known_static_model_pulls_by_name_without_a_config() {
    let d = Dir::new();
    d.create("cats.md", "# Cats\n\nthe cat sat on the mat\n");
    let tmp = tempfile::tempdir().unwrap();
    tiny_model::write_static(tmp.path());
    let files = read_files(tmp.path(), &["tokenizer.json", "model.safetensors"]);
    let server = stand_in_for("minishlab/potion-base-8M", files, false, false);
    let out = pull(&d, &server.url, "potion-base-8M");
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let seen = server.seen.lock().unwrap();
    assert!(
        seen.requests
            .iter()
            .any(|(p, _)| p == "/minishlab/potion-base-8M/resolve/main/model.safetensors"),
        "{:?}",
        seen.requests
    );
    drop(seen);
    let dir = d.data().join("models/potion-base-8M");
    vaultmcp::embed::Embedder::load(&dir).expect("the pulled static model loads");
    let list = d.run(&["model", "list"]);
    assert!(list.stdout.contains("potion-base-8M"), "{}", list.stdout);
}

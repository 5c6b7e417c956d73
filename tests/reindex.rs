//! Incremental reindex: add, edit, delete, rename → exactly those changes, and the same index as
//! a fresh full build; touches are unchanged; the versioned index folder; `--full`.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use support::Dir;
use vaultmcp::index::{NoteIndex, ReindexReport, SCHEMA_VERSION, index_dir};

/// (indexed, unchanged, removed, skipped)
fn counts(r: &ReindexReport) -> (usize, usize, usize, usize) {
    (r.indexed, r.unchanged, r.removed, r.skipped.len())
}

fn check(r: &ReindexReport, expected: (usize, usize, usize, usize)) {
    assert_eq!(
        counts(r),
        expected,
        "(indexed, unchanged, removed, skipped) of {r:#?}"
    );
}

/// Everything observable about an index: each note's fetch result and some searches.
fn snapshot(index: &NoteIndex) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let all = support::ids(index, "-zzzznothing", 100);
    out.insert("all ids".to_owned(), format!("{:?}", sorted(all.clone())));
    for id in all {
        let n = index.fetch(&id).unwrap();
        let links: Vec<_> = n
            .metadata
            .links
            .iter()
            .map(|l| (l.target.clone(), l.id.clone()))
            .collect();
        let back: Vec<_> = n.metadata.backlinks.iter().map(|b| b.id.clone()).collect();
        out.insert(
            id,
            format!(
                "{} | {:?} | {:?} | {:?} | {:?} | {}",
                n.title, n.metadata.tags, links, back, n.metadata.aliases, n.text
            ),
        );
    }
    for q in [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "tag:#t", "moved", "note",
    ] {
        let mut hits: Vec<_> = index
            .search(q, 100)
            .unwrap()
            .into_iter()
            .map(|h| (h.id, h.title, h.snippet, h.tags))
            .collect();
        if q.starts_with("tag:") {
            // Filter-only results are newest first; notes with the same time may come in any order.
            hits.sort();
        }
        out.insert(format!("search {q}"), format!("{hits:?}"));
    }
    out
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn assert_same_as_fresh_full(dir: &Dir, index: &NoteIndex) {
    let fresh = Dir::over(dir.vault());
    let (full, _) = fresh.reindex(true);
    let (a, b) = (snapshot(index), snapshot(&full));
    for (k, v) in &b {
        assert_eq!(
            a.get(k),
            Some(v),
            "incremental and full index differ at {k}"
        );
    }
    assert_eq!(
        a.len(),
        b.len(),
        "{:?}\nvs\n{:?}",
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>()
    );
}

fn vault() -> Dir {
    let dir = Dir::new();
    dir.create("a.md", "# Alpha\n\nalpha words, links to [[b]] and [[d]]\n")
        .create("b.md", "---\ntags: [t/one]\n---\n# Bravo\n\nbravo words\n")
        .create("c.md", "# Charlie\n\ncharlie words #t\n")
        .create(
            "d.md",
            "---\naliases: [Delta alias]\n---\n# Delta\n\ndelta words\n",
        )
        .create("sub/e.md", "# Echo\n\necho words, see [[Delta alias]]\n");
    dir
}

#[test]
fn add_edit_delete_rename() {
    let dir = vault();
    let (_, r) = dir.reindex(false);
    check(&r, (5, 0, 0, 0));
    assert_eq!(r.notes, 5);

    dir.create("f.md", "# Foxtrot\n\nfoxtrot words, links to [[d]]\n");
    dir.create(
        "a.md",
        "# Alpha\n\nalpha words, edited: now links to [[c]] only\n",
    );
    dir.remove("b.md");
    dir.rename("d.md", "moved/d2.md");
    let (index, r) = dir.reindex(false);
    check(&r, (3, 2, 2, 0));
    assert_eq!(r.notes, 5);
    assert!(r.changed());

    let ids = sorted(support::ids(&index, "-zzzznothing", 100));
    assert_eq!(ids, ["a.md", "c.md", "f.md", "moved/d2.md", "sub/e.md"]);
    assert_eq!(
        support::ids(&index, "bravo", 10),
        Vec::<String>::new(),
        "deleted"
    );
    assert_eq!(
        support::ids(&index, "delta", 10)
            .first()
            .map(String::as_str),
        Some("moved/d2.md"),
        "renamed"
    );
    assert!(index.fetch("d.md").is_err() && index.fetch("b").is_err());
    assert_eq!(support::ids(&index, "edited", 10), ["a.md"]);
    // Links follow: `[[Delta alias]]` resolves to the moved note, `[[d]]` no longer does.
    let e = index.fetch("sub/e.md").unwrap();
    assert_eq!(e.metadata.links[0].id.as_deref(), Some("moved/d2.md"));
    let f = index.fetch("f.md").unwrap();
    assert_eq!(f.metadata.links[0].id, None);
    assert_same_as_fresh_full(&dir, &index);

    // Nothing changed since: all unchanged.
    let (index, r) = dir.reindex(false);
    check(&r, (0, 5, 0, 0));
    assert!(!r.changed());
    assert_same_as_fresh_full(&dir, &index);
}

#[test]
fn same_size_edit_is_seen() {
    let dir = Dir::new();
    dir.create("n.md", "alpha\n");
    dir.reindex(false);
    dir.create("n.md", "omega\n");
    // Make sure the time differs even on coarse file systems.
    let f = std::fs::File::options()
        .write(true)
        .open(dir.path("n.md"))
        .unwrap();
    f.set_modified(SystemTime::now() + Duration::from_secs(5))
        .unwrap();
    let (index, r) = dir.reindex(false);
    check(&r, (1, 0, 0, 0));
    assert_eq!(support::ids(&index, "omega", 10), ["n.md"]);
    assert!(support::ids(&index, "alpha", 10).is_empty());
}

#[test]
fn touch_without_change_is_unchanged() {
    let dir = vault();
    dir.reindex_json(false);
    for rel in ["a.md", "c.md"] {
        let f = std::fs::File::options()
            .write(true)
            .open(dir.path(rel))
            .unwrap();
        f.set_modified(SystemTime::now() + Duration::from_secs(3600))
            .unwrap();
    }
    // Through the binary: each run is a new process that knows only what the index stores.
    for _ in 0..2 {
        let r = dir.reindex_json(false);
        assert_eq!(
            (
                r["indexed"].as_u64(),
                r["unchanged"].as_u64(),
                r["removed"].as_u64()
            ),
            (Some(0), Some(5), Some(0)),
            "{r:#}"
        );
    }
}

#[test]
fn versioned_index_folder_and_full_rebuild() {
    let dir = vault();
    // An index of an older schema version is dropped.
    let old = dir.data().join("index-v0");
    std::fs::create_dir_all(&old).unwrap();
    std::fs::write(old.join("meta.json"), "not an index").unwrap();
    let r = dir.reindex_json(false);
    assert_eq!(r["indexed"], 5);
    let current = index_dir(dir.data());
    assert_eq!(current, dir.data().join(format!("index-v{SCHEMA_VERSION}")));
    assert!(
        current.join("meta.json").is_file(),
        "tantivy index in {}",
        current.display()
    );
    assert!(!old.exists(), "old version removed");

    let r = dir.reindex_json(true);
    assert_eq!(
        (
            r["indexed"].as_u64(),
            r["unchanged"].as_u64(),
            r["removed"].as_u64()
        ),
        (Some(5), Some(0), Some(0)),
        "{r:#}"
    );
    assert_eq!(r["notes"], 5);
    let (index, r) = dir.reindex(true);
    check(&r, (5, 0, 0, 0));
    assert_same_as_fresh_full(&dir, &index);

    // A damaged index folder is rebuilt, not fatal.
    for e in std::fs::read_dir(&current).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().unwrap() == "meta.json" {
            std::fs::write(&p, "{ damaged").unwrap();
        }
    }
    let run = dir.run(&["reindex", "--json", "--full"]);
    run.assert_no_panic();
    assert!(
        run.code == Some(0) || (run.code == Some(1) && run.stderr.lines().count() == 1),
        "{run:?}"
    );
}

#[test]
fn ignore_rules_and_folder_moves() {
    let dir = vault();
    dir.reindex(false);
    dir.create(".vaultmcpignore", "sub/\n");
    let (index, r) = dir.reindex(false);
    check(&r, (0, 4, 1, 0));
    assert!(index.fetch("sub/e.md").is_err());
    std::fs::remove_file(dir.path(".vaultmcpignore")).unwrap();
    std::fs::rename(dir.path("sub"), dir.path("renamed-folder")).unwrap();
    let (index, r) = dir.reindex(false);
    check(&r, (1, 4, 0, 0));
    assert_eq!(support::ids(&index, "echo", 10), ["renamed-folder/e.md"]);
    assert_same_as_fresh_full(&dir, &index);
}

#[test]
fn search_and_fetch_catch_up_on_their_own() {
    let dir = vault();
    let r = dir.run(&["search", "--json", "alpha"]).json();
    assert_eq!(
        r["results"][0]["id"], "a.md",
        "search builds a missing index"
    );
    dir.create("g.md", "# Golf\n\ngolfword\n");
    dir.remove("c.md");
    let r = dir.run(&["search", "--json", "golfword"]).json();
    assert_eq!(
        r["results"][0]["id"], "g.md",
        "search catches up with an added note"
    );
    let run = dir.run(&["fetch", "c.md"]);
    assert_eq!(run.code, Some(1), "a deleted note is gone: {run:?}");
    let r = dir.reindex_json(false);
    assert_eq!(
        (r["indexed"].as_u64(), r["removed"].as_u64()),
        (Some(0), Some(0)),
        "already caught up: {r:#}"
    );
}

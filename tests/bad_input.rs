//! Every bad input: a warning or a skip naming the file and the reason, the rest of the vault
//! still searchable, no panic, no hang. Through the real binary (`reindex --json`) and the library.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::{Dir, Run, run_bounded};

/// A vault with one good note (`good.md`, word `sentinel`) next to the bad input.
fn vault_with_good_note() -> Dir {
    let dir = Dir::new();
    dir.create("good.md", "# Good\n\nThe sentinel word lives here.\n");
    dir
}

/// A hang (a symlink loop, say) fails the test instead of blocking the suite.
const HANG: Duration = Duration::from_secs(120);

/// `reindex --json` on the vault, checked for success and the report's shape.
fn reindex(dir: &Dir, env: &[(&str, &str)]) -> Value {
    let mut cmd = dir.cmd(&["reindex", "--json"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let run = run_bounded(cmd, HANG);
    run.assert_no_panic();
    let report = run.json();
    for key in [
        "indexed",
        "unchanged",
        "removed",
        "skipped",
        "warnings",
        "notes",
        "seconds",
    ] {
        assert!(report.get(key).is_some(), "report has {key}: {report}");
    }
    for list in ["skipped", "warnings"] {
        for item in report[list].as_array().unwrap() {
            assert!(
                item["path"].is_string() && item["reason"].is_string(),
                "{list} item {item}"
            );
            assert!(!item["reason"].as_str().unwrap().is_empty());
        }
    }
    report
}

/// The reasons of the `list` entries for `path`, joined, if any.
fn reason(report: &Value, list: &str, path: &str) -> Option<String> {
    let reasons: Vec<&str> = report[list]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["path"] == path)
        .map(|i| i["reason"].as_str().unwrap())
        .collect();
    (!reasons.is_empty()).then(|| reasons.join("; "))
}

fn search_ids(dir: &Dir, query: &str) -> Vec<String> {
    search_ids_env(dir, query, &[])
}

/// Search with extra environment (the size limit must match the reindex's, or search's own
/// catch-up would re-add what the reindex skipped).
fn search_ids_env(dir: &Dir, query: &str, env: &[(&str, &str)]) -> Vec<String> {
    let mut cmd = dir.cmd(&["search", "--json", "--limit", "100", query]);
    cmd.envs(env.iter().copied());
    let v = run_bounded(cmd, HANG).json();
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

fn assert_good_note_searchable(dir: &Dir) {
    assert_eq!(
        search_ids(dir, "sentinel"),
        ["good.md"],
        "the rest of the vault stays searchable"
    );
}

/// Expectation for one bad file: a skip or a warning whose reason contains `why`, and whether its
/// own distinctive word is still searchable.
struct Case {
    name: &'static str,
    file: &'static str,
    bytes: Vec<u8>,
    list: &'static str,
    why: &'static str,
    word: Option<&'static str>,
}

#[test]
fn each_bad_file_is_named_with_its_reason() {
    let cases = vec![
        Case {
            name: "malformed YAML",
            file: "bad/malformed.md",
            bytes: b"---\ntitle: [unclosed\n---\n# Malformed\n\nquarantine\n".to_vec(),
            list: "warnings",
            why: "not valid YAML",
            word: Some("quarantine"),
        },
        Case {
            name: "wrong types",
            file: "bad/wrong-types.md",
            bytes: b"---\ntags: 42\naliases: {a: b}\ncreated: [2024, 3, 5]\nid: 7\n---\nflywheel\n"
                .to_vec(),
            list: "warnings",
            why: "`tags` is a number",
            word: Some("flywheel"),
        },
        Case {
            name: "unclosed fence",
            file: "bad/unclosed.md",
            bytes: b"---\ntitle: never closed\n\ngyroscope\n".to_vec(),
            list: "warnings",
            why: "never closed",
            word: Some("gyroscope"),
        },
        Case {
            name: "invalid UTF-8",
            file: "bad/invalid-utf8.md",
            bytes: b"# Bad bytes \xe9\xff\xfe\n\nmarzipan \xe2\x82 and \xc0\xaf\n".to_vec(),
            list: "warnings",
            why: "invalid UTF-8",
            word: Some("marzipan"),
        },
        Case {
            name: "binary",
            file: "bad/binary.md",
            bytes: b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0binaryword\0".to_vec(),
            list: "skipped",
            why: "binary",
            word: None,
        },
        Case {
            name: "over the size limit",
            file: "bad/huge.md",
            bytes: format!("# Huge\n\n{}\nelephantine\n", "lorem ipsum ".repeat(500)).into_bytes(),
            list: "skipped",
            why: "over the 2000-byte limit",
            word: None,
        },
    ];
    for case in cases {
        let dir = vault_with_good_note();
        dir.create(case.file, &case.bytes);
        let env = [("VAULTMCP_MAX_NOTE_BYTES", "2000")];
        let report = reindex(&dir, &env);
        let got = reason(&report, case.list, case.file).unwrap_or_else(|| {
            panic!(
                "{}: no {} entry for {}: {report:#}",
                case.name, case.list, case.file
            )
        });
        assert!(
            got.contains(case.why),
            "{}: reason {got:?} should say {:?}",
            case.name,
            case.why
        );
        assert_eq!(
            search_ids_env(&dir, "sentinel", &env),
            ["good.md"],
            "{}: the rest stays searchable",
            case.name
        );
        match case.word {
            Some(w) => assert_eq!(
                search_ids_env(&dir, w, &env),
                [case.file],
                "{}: its text stays searchable",
                case.name
            ),
            None => {
                assert!(
                    !search_ids_env(&dir, "-zzzznothing", &env).contains(&case.file.to_owned()),
                    "{}: not indexed",
                    case.name
                );
                let mut cmd = dir.cmd(&["fetch", case.file]);
                cmd.envs(env.iter().copied());
                let run = run_bounded(cmd, HANG);
                assert_eq!(run.code, Some(1), "{}: {run:?}", case.name);
            }
        }
    }
}

#[test]
fn size_limit_defaults_to_10_mb_and_is_configurable() {
    let dir = vault_with_good_note();
    dir.create(
        "big.md",
        format!("# Big\n{}\nelephantine\n", "x".repeat(3000)),
    );
    let report = reindex(&dir, &[]);
    assert_eq!(
        report["skipped"].as_array().unwrap().len(),
        0,
        "3 KB is fine by default: {report}"
    );
    assert_eq!(search_ids(&dir, "elephantine"), ["big.md"]);
    // Lowering the limit drops the note from the index.
    let report = reindex(&dir, &[("VAULTMCP_MAX_NOTE_BYTES", "1000")]);
    assert!(
        reason(&report, "skipped", "big.md")
            .unwrap()
            .contains("limit"),
        "{report}"
    );
    assert_eq!(report["removed"], 1, "{report}");
    // The library takes the limit directly.
    let index = dir.index_with_limit(100);
    let mut indexer = index.indexer().unwrap();
    let r = indexer.sync_all(true, &()).unwrap();
    assert!(r.skipped.iter().any(|s| s.path == "big.md"), "{r:?}");
    assert!(r.skipped.iter().all(|s| s.path != "good.md"));
}

#[test]
fn the_broken_fixtures() {
    let dir = Dir::fixtures_copy();
    let report = reindex(&dir, &[]);
    assert_eq!(
        report["notes"], 44,
        "45 notes, binary.md skipped: {report:#}"
    );
    assert!(
        reason(&report, "skipped", "broken/binary.md")
            .unwrap()
            .contains("binary")
    );
    for (path, why) in [
        ("broken/malformed-yaml.md", "YAML"),
        ("broken/wrong-types.md", "`tags`"),
        ("broken/unclosed-fence.md", "never closed"),
        ("broken/invalid-utf8.md", "UTF-8"),
        ("topics/Garbage Date.md", "not a date"),
    ] {
        let got = reason(&report, "warnings", path)
            .unwrap_or_else(|| panic!("no warning for {path}: {report:#}"));
        assert!(got.contains(why), "{path}: {got}");
    }
    for (word, id) in [
        ("quarantine", "broken/malformed-yaml.md"),
        ("flywheel", "broken/wrong-types.md"),
        ("gyroscope", "broken/unclosed-fence.md"),
        ("marzipan", "broken/invalid-utf8.md"),
    ] {
        assert_eq!(
            search_ids(&dir, word).first().map(String::as_str),
            Some(id),
            "{word}"
        );
    }
    // A second run finds nothing new and reports the same skips.
    let again = reindex(&dir, &[]);
    assert_eq!(again["indexed"], 0, "{again}");
    assert_eq!(again["unchanged"], 44);
}

#[cfg(unix)]
#[test]
fn symlinks() {
    let dir = vault_with_good_note();
    dir.create("real/target.md", "# Target\n\nlighthouse\n");
    let outside = dir.outside();
    std::fs::write(outside.join("secret.md"), "# Secret\n\nexfiltrated\n").unwrap();
    std::fs::create_dir_all(outside.join("folder")).unwrap();
    std::fs::write(
        outside.join("folder/inner.md"),
        "# Inner\n\nexfiltrated too\n",
    )
    .unwrap();
    // Inside the vault: followed.
    dir.symlink(&dir.path("real/target.md"), "link-to-target.md");
    dir.symlink(&dir.path("real"), "linked-folder");
    // Outside the vault: never followed.
    dir.symlink(&outside.join("secret.md"), "escape.md");
    dir.symlink(&outside.join("folder"), "escape-folder");
    dir.symlink(
        std::path::Path::new("../outside/secret.md"),
        "relative-escape.md",
    );
    // Loops: never hang.
    dir.symlink(dir.vault(), "loop-to-root");
    dir.symlink(&dir.path("sub"), "sub/loop-to-self");
    dir.symlink(&dir.path("self.md"), "self.md");
    dir.symlink(&dir.path("dangling-target.md"), "dangling.md");

    let report = reindex(&dir, &[]);
    let mut found = search_ids(&dir, "lighthouse");
    found.sort();
    assert_eq!(
        found,
        [
            "link-to-target.md",
            "linked-folder/target.md",
            "real/target.md"
        ],
        "{report:#}"
    );
    assert_eq!(
        search_ids(&dir, "exfiltrated"),
        Vec::<String>::new(),
        "{report:#}"
    );
    for p in ["escape.md", "escape-folder", "relative-escape.md"] {
        let got =
            reason(&report, "skipped", p).unwrap_or_else(|| panic!("no skip for {p}: {report:#}"));
        assert!(got.contains("outside the vault"), "{p}: {got}");
    }
    assert_good_note_searchable(&dir);
    for id in [
        "escape.md",
        "escape-folder/inner.md",
        "relative-escape.md",
        "self.md",
        "dangling.md",
    ] {
        let run = dir.run(&["fetch", id]);
        assert_eq!(run.code, Some(1), "{id}: {run:?}");
        assert!(!run.stdout.contains("exfiltrated"));
    }
    // Through the library too.
    let index = dir.synced();
    assert!(index.fetch("escape").is_err());
    assert_eq!(
        index.fetch("link-to-target").unwrap().text,
        "# Target\n\nlighthouse\n"
    );
}

#[cfg(unix)]
#[test]
fn unreadable_file() {
    use std::os::unix::fs::PermissionsExt;
    if support::can_read_anything() {
        println!(
            "note: running with the power to read any file (root); the chmod 000 case is skipped"
        );
        return;
    }
    let dir = vault_with_good_note();
    dir.create("locked.md", "# Locked\n\nhidden\n");
    std::fs::set_permissions(
        dir.path("locked.md"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    dir.create("locked-dir/inner.md", "# Inner\n");
    std::fs::set_permissions(
        dir.path("locked-dir"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    let report = reindex(&dir, &[]);
    std::fs::set_permissions(
        dir.path("locked-dir"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let got = reason(&report, "skipped", "locked.md")
        .unwrap_or_else(|| panic!("no skip for locked.md: {report:#}"));
    assert!(got.contains("cannot be read"), "{got}");
    assert!(
        report["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["path"].as_str().unwrap().starts_with("locked-dir")),
        "{report:#}"
    );
    assert_good_note_searchable(&dir);
}

#[test]
fn report_fields_in_json_and_text() {
    let dir = vault_with_good_note();
    dir.create("b.md", "---\ntitle: [bad\n---\nbody\n")
        .create("bin.md", b"\0\0\0");
    let report = reindex(&dir, &[]);
    assert_eq!(report["indexed"], 2, "{report:#}");
    assert_eq!(report["unchanged"], 0);
    assert_eq!(report["removed"], 0);
    assert_eq!(report["notes"], 2);
    assert!(report["seconds"].as_f64().unwrap() >= 0.0);
    assert_eq!(report["skipped"].as_array().unwrap().len(), 1);
    assert_eq!(report["warnings"].as_array().unwrap().len(), 1);
    // The plain report names the same things.
    let run = dir.run(&["reindex"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout
            .contains("0 indexed, 2 unchanged, 0 removed, 1 skipped"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("bin.md") && run.stdout.contains("binary"),
        "{}",
        run.stdout
    );
}

#[test]
fn bad_vault_and_data_dirs_are_one_sentence_errors() {
    let dir = Dir::new();
    let missing = dir.vault().join("nope");
    let run = Run::of(
        dir.bare_cmd(&[
            "--vault",
            missing.to_str().unwrap(),
            "--data-dir",
            dir.data().to_str().unwrap(),
            "search",
            "x",
        ])
        .output()
        .unwrap(),
    );
    run.assert_no_panic();
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("does not exist"), "{}", run.stderr);
    // A data dir that is a file.
    dir.create("note.md", "x");
    let file = dir.vault().join("note.md");
    let run = Run::of(
        dir.bare_cmd(&[
            "--vault",
            dir.vault().to_str().unwrap(),
            "--data-dir",
            file.to_str().unwrap(),
            "reindex",
        ])
        .output()
        .unwrap(),
    );
    run.assert_no_panic();
    assert_eq!(run.code, Some(1), "{run:?}");
}

#[test]
fn more_than_64_kib_of_output_is_not_reported_as_a_hang() {
    // 1,500 binary files skipped with a reason each: a report far larger than a pipe's buffer,
    // which the test must read while the process writes it.
    let dir = vault_with_good_note();
    for i in 0..1500 {
        dir.create(
            &format!("binary/{i:04}-a-file-with-a-rather-long-name-to-fill-the-report.md"),
            b"\0\x01\x02 not text",
        );
    }
    let run = run_bounded(dir.cmd(&["reindex", "--json"]), Duration::from_secs(60));
    assert!(run.stdout.len() > 64 * 1024, "{} bytes", run.stdout.len());
    let report = run.json();
    assert_eq!(report["skipped"].as_array().unwrap().len(), 1500);
    assert_eq!(report["notes"], 1);
}

//! Fetch: by id, by path without `.md`, by frontmatter `id`; the body without frontmatter; the
//! metadata with links resolved like Obsidian and backlinks; not-found and traversal ids; the CLI.

mod support;

use support::Dir;
use vaultmcp::index::FetchedNote;

fn fetch(id: &str) -> FetchedNote {
    support::fixtures_index()
        .fetch(id)
        .unwrap_or_else(|e| panic!("fetch {id:?}: {e}"))
}

const BM25: &str = "topics/BM25 Ranking.md";
const LINKS: &str = "topics/Link Syntax Reference.md";
const ZETTEL: &str = "topics/Zettelkasten Method.md";

#[test]
fn resolves_every_accepted_form() {
    let cases = [
        (BM25, BM25),
        ("topics/BM25 Ranking", BM25),
        ("bm25-notes", BM25),
        (
            "new-features-test-7e672dd7",
            "research/2025-06-29/005-New-Features-Test.md",
        ),
        (
            "no-links-test-3212c699",
            "research/2025-06-29/006-No-Links-Test.md",
        ),
        (
            "important-research-ae0bc446",
            "research/2025-06-29/016-Important-Research.md",
        ),
        ("lang/Заметки о поиске", "lang/Заметки о поиске.md"),
        ("lang/Café in Zürich.md", "lang/Café in Zürich.md"),
        (
            "research/2025-06-29/007-echo-'✅-Note-created!-Let-me-show-you-the-file-structure-'",
            "research/2025-06-29/007-echo-'✅-Note-created!-Let-me-show-you-the-file-structure-'.md",
        ),
        (
            "research/2025-06-29/011-ChatGPT-+-local-remote-MCP-connector",
            "research/2025-06-29/011-ChatGPT-+-local-remote-MCP-connector.md",
        ),
        ("broken/empty.md", "broken/empty.md"),
        ("broken/only-frontmatter", "broken/only-frontmatter.md"),
    ];
    for (wanted, id) in cases {
        let note = fetch(wanted);
        assert_eq!(note.id, id, "fetch {wanted:?}");
        assert_eq!(note.metadata.path, id);
    }
}

#[test]
fn not_found() {
    let cases = [
        "no/such/note.md",
        "no-such-note",
        "",
        " ",
        "BM25 Ranking",
        "topics/bm25 ranking.md",
        "../etc/passwd",
        "../../../../etc/passwd",
        "/etc/passwd",
        "/etc/passwd.md",
        "..%2F..%2Fetc%2Fpasswd",
        "%2e%2e/%2e%2e/etc/passwd",
        "topics/../../etc/passwd",
        "topics/../topics/BM25 Ranking.md",
        "./topics/BM25 Ranking.md",
        "topics\\BM25 Ranking.md",
        "file:///etc/passwd",
        ".obsidian/snippets/readme.md",
        ".obsidian/snippets/readme",
        ".trash/old-note.md",
        "drafts/secret-draft.md",
        "topics/scratch.tmp.md",
        "attachments/test.txt",
        "attachments/diagram.png",
        "broken/binary.md",
        "\0",
    ];
    for id in cases {
        match support::fixtures_index().fetch(id) {
            Err(e) => assert!(e.to_string().contains("no note with id"), "{id:?}: {e}"),
            Ok(n) => panic!("{id:?} must not be found, got {}", n.id),
        }
    }
}

#[test]
fn body_without_frontmatter() {
    let note = fetch("bm25-notes");
    assert!(
        note.text.starts_with("# BM25 Ranking\n"),
        "{:?}",
        &note.text[..40]
    );
    assert!(!note.text.contains("id: bm25-notes"));
    assert!(
        note.text.contains("> [!note] Default parameters"),
        "markdown kept as written"
    );
    let raw = std::fs::read_to_string(support::fixtures().join(BM25)).unwrap();
    assert!(
        raw.ends_with(&note.text),
        "the body is the file after its frontmatter"
    );

    let crlf = fetch("topics/windows-line-endings");
    assert!(
        !crlf.text.starts_with('\u{feff}') && !crlf.text.starts_with("---"),
        "{:?}",
        &crlf.text[..30]
    );
    assert!(!crlf.title.contains('\u{feff}'));
    // No frontmatter: the whole file.
    let other = fetch("topics/other-note");
    assert_eq!(
        other.text,
        std::fs::read_to_string(support::fixtures().join("topics/other-note.md")).unwrap()
    );
    assert_eq!(other.title, "other-note");
    // An unclosed fence is text.
    assert!(fetch("broken/unclosed-fence").text.starts_with("---"));
    assert_eq!(fetch("broken/empty").text, "");
    assert_eq!(fetch("broken/empty").title, "empty");
}

#[test]
fn metadata() {
    let note = fetch(BM25);
    let m = &note.metadata;
    assert_eq!(note.title, "BM25 Ranking");
    assert_eq!(
        note.url,
        "obsidian://open?vault=vault-fixtures&file=topics%2FBM25%20Ranking"
    );
    assert_eq!(m.aliases, ["Okapi BM25", "BM25F"]);
    for t in ["type/research", "project/vaultmcp", "search/lexical"] {
        assert!(m.tags.contains(&t.to_owned()), "{t} in {:?}", m.tags);
    }
    assert_eq!(
        m.created, "2024-03-05T00:00:00+00:00",
        "`date: March 5, 2024`"
    );
    assert_eq!(m.properties["id"], "bm25-notes");
    assert!(
        m.properties["source"]
            .as_str()
            .unwrap()
            .starts_with("Robertson")
    );

    let z = fetch(ZETTEL);
    assert_eq!(z.metadata.created, "2024-03-05T00:00:00+00:00");
    assert_eq!(z.metadata.modified, "2024-03-05T10:20:00+00:00");
    assert_eq!(
        z.metadata.aliases,
        ["Zettelkasten", "Slip-box", "Luhmann's card index"]
    );
    assert!(
        z.metadata.tags.contains(&"pkm".to_owned())
            && z.metadata.tags.contains(&"zettelkasten".to_owned()),
        "{:?}",
        z.metadata.tags
    );

    let r = fetch("projects/vaultmcp/Roadmap");
    assert_eq!(r.title, "vaultmcp Roadmap");
    assert_eq!(r.metadata.modified, "2024-03-20T18:00:00+00:00");
    assert_eq!(r.metadata.properties["priority"], 1);
    assert_eq!(r.metadata.properties["status"], "active");

    let m = fetch("projects/vaultmcp/Meeting 2024-03-05");
    assert_eq!(
        m.metadata.properties["attendees"],
        serde_json::json!(["Manuel", "Dana", "Jörg Müller"])
    );
    assert_eq!(m.metadata.created, "2024-03-05T10:20:00+00:00");

    // Garbage dates fall back to the file's time (an RFC 3339 string, never empty).
    let g = fetch("topics/Garbage Date");
    assert!(
        chrono::DateTime::parse_from_rfc3339(&g.metadata.created).is_ok(),
        "{}",
        g.metadata.created
    );
    assert!(chrono::DateTime::parse_from_rfc3339(&g.metadata.modified).is_ok());
}

#[test]
fn links_resolve_like_obsidian() {
    let note = fetch(LINKS);
    let resolved = |target: &str| -> Vec<Option<String>> {
        note.metadata
            .links
            .iter()
            .filter(|l| l.target == target)
            .map(|l| l.id.clone())
            .collect()
    };
    let cases: &[(&str, Option<&str>)] = &[
        ("Zettelkasten Method", Some(ZETTEL)), // unique file name
        ("Vector Search", Some("topics/Vector Search.md")), // with display text
        ("BM25 Ranking", Some(BM25)),          // heading, embed
        (
            "projects/vaultmcp/Roadmap",
            Some("projects/vaultmcp/Roadmap.md"),
        ), // path
        ("Slip-box", Some(ZETTEL)),            // alias
        ("Okapi BM25", Some(BM25)),            // alias
        ("SQLite Internals", Some("topics/SQLite Internals.md")), // block
        ("Quasar Spectroscopy Notes", None),   // dangling
        ("vector search", Some("topics/Vector Search.md")), // case
        (
            "Tag Parsing Edge Cases.md",
            Some("topics/Tag Parsing Edge Cases.md"),
        ), // extension
        ("diagram.png", None),                 // attachment
        ("attachments/diagram.png", None),
        ("other-note.md", Some("topics/other-note.md")), // relative markdown
        ("SQLite Internals.md", Some("topics/SQLite Internals.md")), // %20 decoded
        (
            "../projects/vaultmcp/Roadmap.md",
            Some("projects/vaultmcp/Roadmap.md"),
        ), // up a level
    ];
    for (target, id) in cases {
        let got = resolved(target);
        assert!(
            !got.is_empty(),
            "no link with target {target:?}: {:#?}",
            note.metadata.links
        );
        for g in got {
            assert_eq!(g.as_deref(), *id, "link {target:?}");
        }
    }
    let heading = note
        .metadata
        .links
        .iter()
        .find(|l| l.target == "BM25 Ranking" && l.heading.is_some())
        .unwrap();
    assert_eq!(heading.heading.as_deref(), Some("Length normalisation"));
    let display = note
        .metadata
        .links
        .iter()
        .find(|l| l.target == "Vector Search")
        .unwrap();
    assert_eq!(display.display.as_deref(), Some("nearest-neighbour notes"));
    assert!(
        note.metadata
            .links
            .iter()
            .any(|l| l.target == "BM25 Ranking" && l.embed)
    );
    assert!(
        !note
            .metadata
            .links
            .iter()
            .any(|l| l.target.contains("Not A Link") || l.target == "nope.md")
    );
}

#[test]
fn backlinks() {
    let back = |id: &str| -> Vec<String> {
        fetch(id)
            .metadata
            .backlinks
            .into_iter()
            .map(|b| b.id)
            .collect()
    };
    let cases: &[(&str, &[&str])] = &[
        (BM25, &[LINKS, ZETTEL, "topics/Vector Search.md"]),
        (ZETTEL, &[LINKS]),
        ("topics/other-note.md", &[LINKS]),
        ("topics/SQLite Internals.md", &[LINKS]),
        ("projects/vaultmcp/Roadmap.md", &[LINKS]),
        (
            "topics/Vector Search.md",
            &[LINKS, "logs/daily 2024-03-05.md"],
        ),
    ];
    for (id, from) in cases {
        let got = back(id);
        for f in *from {
            assert!(
                got.contains(&f.to_string()),
                "{f} links to {id}: backlinks {got:?}"
            );
        }
        assert!(!got.contains(&id.to_string()), "no self backlink");
    }
    let titles = fetch(BM25).metadata.backlinks;
    let l = titles.iter().find(|b| b.id == LINKS).unwrap();
    assert_eq!(l.title, "Link Syntax Reference");
}

#[test]
fn cli_fetch() {
    let dir = Dir::over(&support::fixtures());
    let v = dir.run(&["fetch", "--json", "bm25-notes"]).json();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["id", "metadata", "text", "title", "url"]);
    assert_eq!(v["id"], BM25);
    for k in [
        "path",
        "tags",
        "aliases",
        "created",
        "modified",
        "properties",
        "links",
        "backlinks",
    ] {
        assert!(
            v["metadata"].get(k).is_some(),
            "metadata.{k}: {}",
            v["metadata"]
        );
    }
    let links = v["metadata"]["links"].as_array().unwrap();
    assert!(
        links
            .iter()
            .all(|l| l.get("target").is_some() && l.get("id").is_some())
    );

    let run = dir.run(&[
        "fetch",
        "research/2025-06-29/007-echo-'✅-Note-created!-Let-me-show-you-the-file-structure-'",
    ]);
    assert_eq!(run.code, Some(0), "{run:?}");

    for id in [
        "no/such/note",
        "../etc/passwd",
        "/etc/passwd",
        "..%2F..%2Fetc%2Fpasswd",
        "drafts/secret-draft.md",
    ] {
        let run = dir.run(&["fetch", id]);
        run.assert_no_panic();
        assert_eq!(run.code, Some(1), "{id:?}: {run:?}");
        assert!(
            run.stderr.contains("no note with id"),
            "{id:?}: {}",
            run.stderr
        );
        assert!(
            !run.stdout.contains("root:"),
            "nothing read from outside the vault"
        );
        assert_eq!(
            run.stderr.trim().lines().count(),
            1,
            "one sentence: {}",
            run.stderr
        );
    }
    for args in [
        &["fetch"][..],
        &["fetch", "--bogus", "x"],
        &["fetch", "a", "b"],
        &["bogus-command"],
        &["search"],
    ] {
        let run = dir.run(args);
        assert_eq!(run.code, Some(2), "{args:?}: {run:?}");
    }
}

#[test]
fn outside_files_are_never_fetched() {
    let dir = Dir::new();
    dir.create("inside.md", "# Inside\n");
    std::fs::write(dir.outside().join("secret.md"), "# Secret\nexfiltrated\n").unwrap();
    let index = dir.synced();
    for id in [
        "../outside/secret.md",
        "../outside/secret",
        "inside.md/../../outside/secret.md",
    ] {
        assert!(index.fetch(id).is_err(), "{id}");
    }
    assert_eq!(index.fetch("inside").unwrap().id, "inside.md");
}

#[test]
fn duplicate_stems_resolve_to_the_shortest_path() {
    let dir = Dir::new();
    dir.create("Same.md", "# top\n")
        .create("deep/er/Same.md", "# deep\n")
        .create("a/Unique.md", "# unique\n")
        .create(
            "from.md",
            "[[Same]] [[er/Same]] [[Unique]] [[a/Unique]] [[Missing]] [rel](a/Unique.md)\n",
        );
    let index = dir.synced();
    let note = index.fetch("from").unwrap();
    let got: Vec<(&str, Option<&str>)> = note
        .metadata
        .links
        .iter()
        .map(|l| (l.target.as_str(), l.id.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            ("Same", Some("Same.md")),
            ("er/Same", Some("deep/er/Same.md")),
            ("Unique", Some("a/Unique.md")),
            ("a/Unique", Some("a/Unique.md")),
            ("Missing", None),
            ("a/Unique.md", Some("a/Unique.md")),
        ]
    );
    let back: Vec<String> = index
        .fetch("deep/er/Same.md")
        .unwrap()
        .metadata
        .backlinks
        .into_iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(back, ["from.md"]);
    let back: Vec<String> = index
        .fetch("Same.md")
        .unwrap()
        .metadata
        .backlinks
        .into_iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(back, ["from.md"]);
}

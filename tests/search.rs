//! Search over `vault-fixtures`: a ranking table, every operator, typo tolerance, snippets, hit
//! fields, limits, ignored paths, diacritics, and the CLI's `--json` shape.

mod support;

use std::sync::OnceLock;
use support::Dir;

use vaultmcp::index::{Hit, NoteIndex, SearchMode};

/// The same fixtures with vectors of an embedding model, searched in hybrid mode: the real
/// all-MiniLM-L6-v2 when `VAULTMCP_TEST_MODEL_DIR` names it, else the tests' tiny BERT (whose
/// similarities are noise: fusion must not let noise unseat exact matches either).
fn hybrid_index() -> &'static NoteIndex {
    static INDEX: OnceLock<(Dir, tempfile::TempDir, NoteIndex)> = OnceLock::new();
    &INDEX
        .get_or_init(|| {
            let tmp = tempfile::tempdir().unwrap();
            let model_dir = match std::env::var_os("VAULTMCP_TEST_MODEL_DIR") {
                Some(d) => std::path::PathBuf::from(d),
                None => {
                    support::tiny_model::write_bert(tmp.path());
                    tmp.path().to_path_buf()
                }
            };
            let model = std::sync::Arc::new(
                vaultmcp::embed::Embedder::load(&model_dir).expect("model loads"),
            );
            let dir = Dir::over(&support::fixtures());
            let index = dir.embedded(model);
            (dir, tmp, index)
        })
        .2
}

fn search(query: &str) -> Vec<Hit> {
    support::fixtures_index()
        .search(query, 10)
        .unwrap_or_else(|e| panic!("search {query:?} failed: {e}"))
}

fn ids(query: &str) -> Vec<String> {
    search(query).into_iter().map(|h| h.id).collect()
}

/// The best hit of `query` is `expected`.
fn check(query: &str, expected: &str) {
    let got = ids(query);
    assert_eq!(
        got.first().map(String::as_str),
        Some(expected),
        "top hit of {query:?}; all: {got:#?}"
    );
}

/// `query` finds exactly these notes (any order).
fn check_set(query: &str, expected: &[&str]) {
    let mut got = support::ids(support::fixtures_index(), query, 100);
    got.sort();
    let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(got, want, "results of {query:?}");
}

const ZETTEL: &str = "topics/Zettelkasten Method.md";
const VECTOR: &str = "topics/Vector Search.md";
const BM25: &str = "topics/BM25 Ranking.md";
const TAGS: &str = "topics/Tag Parsing Edge Cases.md";
const LINKS: &str = "topics/Link Syntax Reference.md";
const CALLOUTS: &str = "topics/Callouts and Tables.md";
const GARBAGE: &str = "topics/Garbage Date.md";
const SQLITE: &str = "topics/SQLite Internals.md";
const OTHER: &str = "topics/other-note.md";
const RRF: &str = "topics/Frontmatter Title Wins.md";
const CRLF: &str = "topics/windows-line-endings.md";
const ROADMAP: &str = "projects/vaultmcp/Roadmap.md";
const MEETING: &str = "projects/vaultmcp/Meeting 2024-03-05.md";
const DAILY: &str = "logs/daily 2024-03-05.md";
const LONG: &str = "logs/Long Research Log.md";
const CAFE: &str = "lang/Café in Zürich.md";
const RUSSIAN: &str = "lang/Заметки о поиске.md";
const GREEK: &str = "lang/greek-notes.md";
const NFD: &str = "lang/decomposed-accents.md";

#[test]
fn ranking_table() {
    let table: &[(&str, &str)] = &[
        ("Luhmann Folgezettel", ZETTEL),
        ("HNSW quantization", VECTOR),
        ("ERR_CONN_RESET", VECTOR),
        ("saturation Robertson", BM25),
        ("octothorpe", TAGS),
        ("cheatsheet", LINKS),
        ("idempotency outbox webhook", CALLOUTS),
        ("procrastination Lindy", GARBAGE),
        ("pager checkpoint pragmas", SQLITE),
        ("heliotrope", OTHER),
        ("Cormack Büttcher", RRF),
        ("Reciprocal Rank Fusion", RRF),
        ("RRF", RRF),
        ("dromedary", CRLF),
        ("Roadmap", ROADMAP),
        ("attendees kickoff", MEETING),
        ("ninety seconds", DAILY),
        ("perihelion", LONG),
        ("kestrel", LONG),
        ("stroopwafel", LONG),
        ("quokka", LONG),
        ("Münsterhof Neuchâtel Romandie", CAFE),
        ("кириллицу стемминга", RUSSIAN),
        ("Καλλιμάχου Αλεξάνδρειας", GREEK),
        ("quarantine", "broken/malformed-yaml.md"),
        ("flywheel", "broken/wrong-types.md"),
        ("gyroscope", "broken/unclosed-fence.md"),
        ("marzipan", "broken/invalid-utf8.md"),
        ("Okapi BM25", BM25),
        ("Slip-box", ZETTEL),
        ("ANN search", VECTOR),
        (
            "Database Scaling PostgreSQL",
            "research/2024-01-10/001-Database-Scaling.md",
        ),
        (
            "Docker Best Practices",
            "research/2025-06-29/008-Docker-Best-Practices.md",
        ),
        (
            "Kubernetes Deployment",
            "research/2025-06-29/009-Kubernetes-Deployment.md",
        ),
        (
            "Machine Learning Study",
            "research/2025-06-29/015-Machine-Learning-Study.md",
        ),
        (
            "SELECT operations 150ms",
            "research/2025-06-29/012-Performance-Analysis.md",
        ),
    ];
    let mut failures = Vec::new();
    for (query, expected) in table {
        let lexical = ids(query);
        let hybrid: Vec<String> = hybrid_index()
            .search_mode(query, 10, SearchMode::Hybrid)
            .unwrap()
            .into_iter()
            .map(|h| h.id)
            .collect();
        for (mode, got) in [("lexical", lexical), ("hybrid", hybrid)] {
            if got.first().map(String::as_str) != Some(*expected) {
                failures.push(format!(
                    "{mode} {query:?}: expected {expected}, got {:?}",
                    got.iter().take(3).collect::<Vec<_>>()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} ranking rows failed:\n{}",
        failures.len(),
        table.len(),
        failures.join("\n")
    );
}

#[test]
fn chatgpt_style_queries_rank_and_never_fail() {
    // Natural language with punctuation, colons, quotes and parentheses.
    check("What is BM25 term saturation?", BM25);
    check("How did Luhmann's slip-box (Zettelkasten) work?", ZETTEL);
    check("\"Reciprocal Rank Fusion\" paper by Cormack", RRF);
    check("SQLite: pager & checkpoint?", SQLITE);
    check("(dromedary)", CRLF);
    check("crème brûlée in Zürich: valait le détour?", CAFE);
    // Anything at all: an answer (maybe empty), never an error.
    for q in [
        "",
        " ",
        "\"",
        "\"\"",
        "'",
        "(",
        ")",
        "((()))",
        "[",
        "]",
        "[]",
        "[:]",
        "[a:",
        ":",
        "::",
        "tag:",
        "tag:#",
        "path:",
        "file:",
        "-",
        "--",
        "-\"\"",
        "!",
        "OR",
        "OR OR OR",
        "a OR",
        "OR b",
        "AND NOT",
        "*",
        "?",
        "\\",
        "/",
        "#",
        "##",
        "^",
        "~",
        "+-",
        "C++ / Rust: what's faster?",
        "https://example.com/a?b=c#d",
        "--limit 5",
        "✅ 🎉",
        "東京",
        "\u{0}",
        "a\u{301}",
        "title:(foo OR bar) AND -baz^2 ~3 field:\"x\"",
        "[status:\"unclosed]",
        "tag:#a OR -tag:#b",
        "\"unclosed phrase",
        "-tag:#type",
        "-heliotrope",
        "-\"ninety seconds\"",
        "the of and a",
        "\"the of and\"",
        "x -\"ninety seconds\"",
        "\"index cards\" -\"ninety thousand\"",
        "全文検索 -\"東京で\"",
        "-\"全文検索\"",
    ] {
        if let Err(e) = support::fixtures_index().search(q, 10) {
            panic!("query {q:?} failed: {e}");
        }
    }
    let long = "word ".repeat(500) + &"x".repeat(10_000);
    support::fixtures_index()
        .search(&long, 10)
        .expect("a very long query is still a query");
}

#[test]
fn filler_words_do_not_outrank_the_topic() {
    check("notes about: HNSW", VECTOR);
    check("my notes on quantization", VECTOR);
    check("Find 'heliotrope' please!", OTHER);
}

#[test]
fn exact_phrase() {
    check_set("\"ninety thousand index cards\"", &[ZETTEL]);
    check_set("\"cards index thousand ninety\"", &[]);
    check("\"ninety seconds\"", DAILY);
    check_set("\"ninety seconds\"", &[DAILY]);
    // A phrase with free text: the phrase must match, the text ranks.
    check_set("\"index cards\" Luhmann", &[ZETTEL]);
}

#[test]
fn negation() {
    let with = ids("slip-box");
    assert!(with.contains(&ZETTEL.to_owned()), "{with:?}");
    let without = ids("slip-box -Luhmann");
    assert!(!without.is_empty(), "other notes mention the slip-box");
    assert!(!without.contains(&ZETTEL.to_owned()), "{without:?}");
    // Only a negation: everything else, never the excluded note.
    let all_but = support::ids(support::fixtures_index(), "-heliotrope", 100);
    assert!(
        !all_but.contains(&OTHER.to_owned()) && all_but.len() > 30,
        "{all_but:?}"
    );
    let no_phrase = support::ids(support::fixtures_index(), "ninety -\"ninety seconds\"", 100);
    assert!(
        no_phrase.contains(&ZETTEL.to_owned()) && !no_phrase.contains(&DAILY.to_owned()),
        "{no_phrase:?}"
    );
}

#[test]
fn or() {
    check_set("heliotrope OR dromedary", &[OTHER, CRLF]);
    check_set("tag:#daily OR tag:#pkm", &[DAILY, ZETTEL]);
    check_set("\"ninety seconds\" OR octothorpe", &[DAILY, TAGS]);
}

#[test]
fn tags() {
    let research = [
        ZETTEL,
        BM25,
        TAGS,
        RRF,
        SQLITE,
        RUSSIAN,
        "research/2025-06-29/004-Combined-Features-Test.md",
        "research/2025-06-29/005-New-Features-Test.md",
        "research/2025-06-29/006-No-Links-Test.md",
        "research/2025-06-29/016-Important-Research.md",
    ];
    check_set("tag:#type/research", &research);
    check_set("tag:type/research", &research);
    check_set("tag:#TYPE/Research", &research);
    // Nested: the parent tag matches every child.
    let mut with_type = support::ids(support::fixtures_index(), "tag:#type", 100);
    with_type.sort();
    for id in research.iter().chain(&[LINKS, ROADMAP, MEETING]) {
        assert!(
            with_type.contains(&id.to_string()),
            "tag:#type misses {id}: {with_type:?}"
        );
    }
    check_set("tag:#typ", &[]);
    check_set("tag:#research", &[]);
    check_set("tag:#pkm", &[ZETTEL]);
    check_set("tag:#daily", &[DAILY]);
    check_set("tag:#café", &[TAGS]);
    check_set("tag:#search/dense", &[VECTOR]);
    check_set("tag:#not-a-tag", &[]);
    check_set("tag:#escaped-hash", &[]);
    check("tag:#type/research saturation", BM25);
    let not_research = support::ids(
        support::fixtures_index(),
        "tag:#type -tag:#type/research",
        100,
    );
    assert!(
        not_research.contains(&LINKS.to_owned()) && !not_research.contains(&BM25.to_owned()),
        "{not_research:?}"
    );
}

#[test]
fn path_and_file() {
    check_set("path:lang", &[CAFE, RUSSIAN, GREEK, NFD]);
    check_set("path:projects/vaultmcp", &[ROADMAP, MEETING]);
    check_set(
        "path:research/2024-01-10",
        &["research/2024-01-10/001-Database-Scaling.md"],
    );
    check_set("path:\"projects/vaultmcp\"", &[ROADMAP, MEETING]);
    check_set("path:nowhere-at-all", &[]);
    check_set("file:Roadmap", &[ROADMAP]);
    check_set("file:\"BM25 Ranking\"", &[BM25]);
    check_set(
        "file:Docker",
        &["research/2025-06-29/008-Docker-Best-Practices.md"],
    );
    check_set("file:other-note", &[OTHER]);
    check("path:topics saturation", BM25);
    // Like Obsidian, `path:` matches anywhere in the path: the 19 research notes and the log.
    let research = support::ids(support::fixtures_index(), "path:research", 100);
    assert_eq!(research.len(), 20, "{research:?}");
    assert!(research.contains(&LONG.to_owned()));
    check_set(
        "path:research/2025-06-28",
        &["research/2025-06-28/001-Past-Date-Test.md"],
    );
    check_set("path:topics -path:topics", &[]);
}

#[test]
fn properties() {
    check_set("[status:active]", &[ROADMAP]);
    check_set("[status:ACTIVE]", &[ROADMAP]);
    check_set("[priority:1]", &[ROADMAP]);
    check_set("[owner:manuel]", &[ROADMAP]);
    check_set("[attendees]", &[MEETING]);
    check_set("[attendees:Dana]", &[MEETING]);
    check_set("[attendees:\"Jörg Müller\"]", &[MEETING]);
    check_set(
        "[source]",
        &[
            BM25,
            "research/2025-06-29/005-New-Features-Test.md",
            "research/2025-06-29/006-No-Links-Test.md",
            "research/2025-06-29/016-Important-Research.md",
        ],
    );
    check_set("[status:nonexistent]", &[]);
    check_set("[no-such-property]", &[]);
    check("[status] roadmap", ROADMAP);
    let with_id = support::ids(support::fixtures_index(), "[id]", 100);
    for id in [BM25, "research/2025-06-29/016-Important-Research.md"] {
        assert!(
            with_id.contains(&id.to_owned()),
            "{id} has an id property: {with_id:?}"
        );
    }
}

#[test]
fn typos() {
    // A misspelled distinctive word still finds its note.
    check("Folgezetel", ZETTEL);
    check("heliotorpe", OTHER);
    check("dromedery", CRLF);
    check("perihelon", LONG);
    check("octothrope", TAGS);
    // An exact match always ranks above a fuzzy one.
    let hits = ids("flywheel gyroscpoe");
    assert_eq!(
        hits.first().map(String::as_str),
        Some("broken/wrong-types.md"),
        "{hits:?}"
    );
    assert!(
        hits.contains(&"broken/unclosed-fence.md".to_owned()),
        "the typo still matches: {hits:?}"
    );
}

#[test]
fn exact_beats_fuzzy_in_a_small_vault() {
    let dir = Dir::new();
    dir.create("exact.md", "# Notes\n\nThe marmoset is a small monkey.\n")
        .create("fuzzy-title.md", "# Marmosets\n\nnothing else here\n")
        .create(
            "near.md",
            "# Other\n\nA marmoser, whatever that is, appears twice: marmoser.\n",
        );
    let index = dir.synced();
    let hits = support::ids(&index, "marmoset", 10);
    assert!(
        !hits.is_empty() && hits[0] != "near.md",
        "a typo-distance word never outranks the exact word: {hits:?}"
    );
    let near_pos = hits.iter().position(|h| h == "near.md");
    let exact_pos = hits
        .iter()
        .position(|h| h == "exact.md")
        .expect("the exact note is found");
    assert!(near_pos.is_none_or(|p| p > exact_pos), "{hits:?}");
    // The other way round: the typo word exists, so it is an exact match there.
    assert_eq!(
        support::ids(&index, "marmoser", 10)
            .first()
            .map(String::as_str),
        Some("near.md")
    );
}

#[test]
fn snippets_bold_the_matched_words() {
    let hit = &search("perihelion")[0];
    assert!(hit.snippet.contains("**perihelion**"), "{:?}", hit.snippet);
    assert!(
        !hit.snippet.contains('\n'),
        "snippets are one line: {:?}",
        hit.snippet
    );
    assert!(
        hit.snippet.chars().count() < 400,
        "a snippet is an excerpt: {} chars",
        hit.snippet.chars().count()
    );
    let hit = &search("saturation Robertson")[0];
    assert!(hit.snippet.contains("**"), "{:?}", hit.snippet);
    // Stemmed matches are marked as written.
    let hit = &search("saturate")[0];
    assert!(
        hit.snippet.to_lowercase().contains("**saturat"),
        "{:?}",
        hit.snippet
    );
    // A typo match has no highlight from tantivy; the excerpt still shows text.
    let hit = &search("heliotorpe")[0];
    assert!(!hit.snippet.trim().is_empty(), "{hit:?}");
    // Filter-only queries get an excerpt too.
    let hit = &search("tag:#daily")[0];
    assert!(!hit.snippet.trim().is_empty(), "{hit:?}");
}

#[test]
fn hit_fields() {
    let hit = search("saturation Robertson")
        .into_iter()
        .next()
        .expect("a hit");
    assert_eq!(hit.id, BM25);
    assert_eq!(hit.path, BM25);
    assert_eq!(hit.title, "BM25 Ranking");
    assert_eq!(
        hit.url,
        "obsidian://open?vault=vault-fixtures&file=topics%2FBM25%20Ranking"
    );
    for t in ["type/research", "project/vaultmcp", "search/lexical"] {
        assert!(hit.tags.contains(&t.to_owned()), "{t} in {:?}", hit.tags);
    }
    assert!(hit.score > 0.0);
    assert!(hit.heading.is_some(), "{hit:?}");

    let hit = search("perihelion").into_iter().next().unwrap();
    assert_eq!(
        hit.heading.as_deref(),
        Some("2024-01-21 — the ingest pipeline"),
        "{hit:?}"
    );
    let hit = search("Reciprocal Rank Fusion").into_iter().next().unwrap();
    assert_eq!(
        hit.title, "Reciprocal Rank Fusion",
        "frontmatter title wins"
    );
    let hit = search("heliotrope").into_iter().next().unwrap();
    assert_eq!(hit.title, "other-note", "stem title");
    let hit = search("dromedary").into_iter().next().unwrap();
    assert!(!hit.title.starts_with('\u{feff}'), "{:?}", hit.title);
    let hit = search("Münsterhof").into_iter().next().unwrap();
    assert_eq!(
        hit.url,
        "obsidian://open?vault=vault-fixtures&file=lang%2FCaf%C3%A9%20in%20Z%C3%BCrich"
    );

    // Scores are best first.
    let hits = search("search ranking");
    assert!(
        hits.windows(2).all(|w| w[0].score >= w[1].score),
        "{:?}",
        hits.iter().map(|h| h.score).collect::<Vec<_>>()
    );
}

#[test]
fn limits() {
    let cases = [(1, 1), (3, 3), (10, 10), (100, 45), (0, 1), (1000, 45)];
    for (limit, max) in cases {
        let n = support::fixtures_index()
            .search("-zzzznothing", limit)
            .unwrap()
            .len();
        assert!(n <= max && n >= 1, "limit {limit}: {n} hits");
    }
    assert_eq!(
        support::fixtures_index()
            .search("the", 3)
            .unwrap()
            .len()
            .min(3),
        support::fixtures_index().search("the", 3).unwrap().len()
    );
    let many = support::fixtures_index()
        .search("-zzzznothing", 100)
        .unwrap();
    assert!(many.len() <= 100);
}

#[test]
fn ignored_paths_never_appear() {
    for canary in [
        "obsidianconfigotter",
        "trashedzebra",
        "unreleasedpineapple",
        "scratchwombat",
    ] {
        assert_eq!(
            ids(canary),
            Vec::<String>::new(),
            "{canary} is in an ignored file"
        );
    }
    let everything = support::ids(support::fixtures_index(), "-zzzznothing", 100);
    for id in &everything {
        assert!(
            !id.starts_with(".obsidian/")
                && !id.starts_with(".trash/")
                && !id.starts_with("drafts/")
                && !id.ends_with(".tmp.md"),
            "{id} is ignored"
        );
    }
}

#[test]
fn diacritics_fold() {
    check("cafe", CAFE);
    check("Zurich Munsterhof", CAFE);
    check("Neuchatel", CAFE);
    check("Strasse", CAFE);
    // The NFD note: NFC and ASCII queries find it.
    let nfd = ["Renée", "Renee", "résumé", "resume"];
    for q in nfd {
        assert!(
            ids(q).contains(&NFD.to_owned()),
            "{q:?} finds the NFD note: {:?}",
            ids(q)
        );
    }
    let both = ids("crème brûlée");
    assert!(
        both.contains(&CAFE.to_owned()) && both.contains(&NFD.to_owned()),
        "{both:?}"
    );
}

#[test]
fn non_latin_scripts() {
    check("кириллицу", RUSSIAN);
    check("Καλλιμάχου", GREEK);
    check("東京", RUSSIAN);
    check("全文検索", RUSSIAN);
    let hit = &search("全文検索")[0];
    assert!(hit.snippet.contains("**全文検索**"), "{:?}", hit.snippet);
    check_set("\"東京で会議\"", &[RUSSIAN]);
}

#[test]
fn cli_search_json_shape() {
    let dir = Dir::over(&support::fixtures());
    let v = dir
        .run(&[
            "search",
            "--json",
            "--limit",
            "5",
            "saturation",
            "Robertson",
        ])
        .json();
    let obj = v.as_object().expect("an object");
    assert_eq!(obj.keys().collect::<Vec<_>>(), ["results"]);
    let results = v["results"].as_array().unwrap();
    assert!(!results.is_empty() && results.len() <= 5);
    for r in results {
        let mut keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "heading", "id", "path", "score", "snippet", "tags", "title", "url"
            ],
            "{r}"
        );
        assert!(
            r["id"].is_string()
                && r["title"].is_string()
                && r["url"].is_string()
                && r["path"].is_string()
        );
        assert!(r["score"].is_number() && r["snippet"].is_string() && r["tags"].is_array());
        assert!(r["heading"].is_string() || r["heading"].is_null());
    }
    assert_eq!(results[0]["id"], BM25);
    assert_eq!(
        results[0]["url"],
        "obsidian://open?vault=vault-fixtures&file=topics%2FBM25%20Ranking"
    );

    // A query of ChatGPT punctuation is never an error on the command line either.
    for q in ["What's (really) \"BM25\"?: tag:", "-", "[", "OR"] {
        let run = dir.run(&["search", "--json", q]);
        run.assert_no_panic();
        assert!(run.json()["results"].is_array(), "{q:?}");
    }
    // --limit bounds are a usage error outside 1..=100.
    for bad in ["0", "101", "x"] {
        let run = dir.run(&["search", "--limit", bad, "x"]);
        assert_eq!(run.code, Some(2), "--limit {bad}: {run:?}");
    }
    let v = dir
        .run(&["search", "--json", "--limit", "100", "-zzzznothing"])
        .json();
    // 45 notes, less `broken/binary.md`, which is skipped.
    assert_eq!(
        v["results"].as_array().unwrap().len(),
        44,
        "every note once"
    );
    // Plain output works too.
    let run = dir.run(&["search", "heliotrope"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains(OTHER), "{}", run.stdout);
}

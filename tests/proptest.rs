//! Property tests: any bytes as a note, any string as a query — never a panic, never an error.

mod support;

use std::sync::OnceLock;

use chrono::Utc;
use proptest::prelude::*;
use support::Dir;
use vaultmcp::index::parse_query;
use vaultmcp::vault::parse_note;

/// One vault reused by every case: the fuzzed note is rewritten, then the index caught up.
fn scratch() -> &'static std::sync::Mutex<Dir> {
    static DIR: OnceLock<std::sync::Mutex<Dir>> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Dir::new();
        dir.create("good.md", "# Good\n\nsentinel\n");
        std::sync::Mutex::new(dir)
    })
}

/// Markdown-ish bytes: fences, frontmatter, links, tags, and arbitrary bytes mixed in.
fn note_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"---\n".to_vec()),
        Just(b"title: [x\n".to_vec()),
        Just(b"tags: a b/c\n".to_vec()),
        Just(b"```\n".to_vec()),
        Just(b"[[Link|x]] ![[e.png]] [m](a%20b.md) ".to_vec()),
        Just(b"#tag #123 \\#x ".to_vec()),
        Just(b"# H\n".to_vec()),
        Just("Café Zürich 東京 ".as_bytes().to_vec()),
        Just(b"\xef\xbb\xbf\r\n".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..64),
        "[ -~\n]{0,40}".prop_map(String::into_bytes),
    ];
    proptest::collection::vec(piece, 0..24).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_parse(bytes in note_bytes()) {
        let text = String::from_utf8_lossy(&bytes);
        let note = parse_note("dir/n.md", &text, Utc::now());
        prop_assert!(!note.title.is_empty());
        for h in &note.headings {
            prop_assert!(note.text.is_char_boundary(h.offset));
        }
    }

    #[test]
    fn any_raw_bytes_parse(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        parse_note("n.md", &text, Utc::now());
    }

    #[test]
    fn any_bytes_index(bytes in note_bytes()) {
        let dir = scratch().lock().unwrap();
        dir.create("fuzz/n.md", &bytes);
        let index = dir.synced();
        prop_assert_eq!(support::ids(&index, "sentinel", 10), vec!["good.md".to_owned()]);
        // The fuzzed note is fetchable unless it was skipped (binary).
        if let Ok(n) = index.fetch("fuzz/n.md") {
            prop_assert_eq!(n.id, "fuzz/n.md");
        }
    }

    #[test]
    fn any_string_searches(query in any::<String>()) {
        parse_query(&query);
        prop_assert!(support::fixtures_index().search(&query, 10).is_ok());
    }

    #[test]
    fn any_operator_soup_searches(query in r#"([a-zé東 ]{0,6}|"|-|\(|\)|\[|\]|:|#|/|OR|tag:|path:|file:|!|\*|“|”){0,16}"#) {
        parse_query(&query);
        let hits = support::fixtures_index().search(&query, 10);
        prop_assert!(hits.is_ok(), "{:?}: {:?}", query, hits.err());
        prop_assert!(hits.unwrap().len() <= 10);
    }

    #[test]
    fn any_id_fetches_or_is_not_found(id in r#"(\.\.|/|%2F|%2e|[a-z]{1,4}|\.md|\\|topics|BM25 Ranking){0,8}"#) {
        match support::fixtures_index().fetch(&id) {
            Ok(n) => prop_assert!(!n.id.starts_with('/') && !n.id.contains("..")),
            Err(e) => prop_assert!(e.to_string().contains("no note with id")),
        }
    }
}

//! Data-driven parsing cases through the public API: `vaultmcp::vault::parse_note` and `Vault`.
//!
//! Each table row is one input and what must come out of it.

mod support;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;
use vaultmcp::vault::{ParsedNote, Vault, obsidian_url, parse_note};

const ID: &str = "dir/My Note.md";

fn mtime() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap()
}

fn parse(input: &str) -> ParsedNote {
    parse_note(ID, input, mtime())
}

fn fm(yaml: &str) -> String {
    format!("---\n{yaml}\n---\n")
}

// ---------------------------------------------------------------------------------------------
// Titles: frontmatter `title`, else the first `# ` heading, else the file stem.

fn check_title(input: &str, expected: &str) {
    assert_eq!(parse(input).title, expected, "title of {input:?}");
}

#[test]
fn titles() {
    check_title("---\ntitle: From FM\n---\n# From H1\n", "From FM");
    check_title("# First\n\n# Second\n", "First");
    check_title("intro text\n\n# Later H1\n", "Later H1");
    check_title("text\n\n## Only an H2\n", "My Note");
    check_title("", "My Note");
    check_title("no heading at all", "My Note");
    check_title("---\ntitle: 2024\n---\n", "2024");
    check_title(
        "---\ntitle: ''\n---\n# Empty FM title falls back\n",
        "Empty FM title falls back",
    );
    check_title("---\ntitle: '  padded  '\n---\n", "padded");
    check_title("\u{feff}# BOM title\r\n\r\nbody\r\n", "BOM title");
    check_title(
        "\u{feff}---\r\ntitle: CRLF title\r\n---\r\n# H1\r\n",
        "CRLF title",
    );
    check_title("Setext title\n============\n", "Setext title");
    check_title("# **Bold** and _italic_\n", "Bold and italic");
    check_title("# Title with `code`\n", "Title with code");
    check_title("# Closed heading ##\n", "Closed heading");
    check_title("    # indented code, not a heading\n", "My Note");
    check_title("```\n# a shell comment\n```\n", "My Note");
    check_title("#notaheading\n", "My Note");
    check_title(
        "---\ntitle: [unclosed\n---\n# Malformed fallback\n",
        "Malformed fallback",
    );
    check_title(
        "---\ntitle: x\nnever closed\n# Unclosed fallback\n",
        "Unclosed fallback",
    );
    check_title("# Café in Zürich\n", "Café in Zürich");
    check_title(
        "---\ntitle: Καλλιμάχου σημειώσεις\n---\n",
        "Καλλιμάχου σημειώσεις",
    );
    check_title("# Заметки о поиске\n", "Заметки о поиске");
    check_title(
        "---\ntitle: {a: b}\n---\n# Mapping title ignored\n",
        "Mapping title ignored",
    );
}

#[test]
fn title_from_stem_of_nested_and_unicode_ids() {
    let cases = [
        ("a/b/c/deep note.md", "deep note"),
        ("lang/Заметки о поиске.md", "Заметки о поиске"),
        (
            "research/2025-06-29/011-ChatGPT-+-local-remote-MCP-connector.md",
            "011-ChatGPT-+-local-remote-MCP-connector",
        ),
        ("top.md", "top"),
    ];
    for (id, expected) in cases {
        assert_eq!(
            parse_note(id, "body only", mtime()).title,
            expected,
            "stem of {id}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Aliases and tags: a string or a list, nested tags, inline tags outside code.

fn check_aliases(input: &str, expected: &[&str]) {
    assert_eq!(parse(input).aliases, expected, "aliases of {input:?}");
}

#[test]
fn aliases() {
    check_aliases(&fm("aliases: One Name"), &["One Name"]);
    check_aliases(
        &fm("aliases: [Okapi BM25, BM25F]"),
        &["Okapi BM25", "BM25F"],
    );
    check_aliases(
        &fm("aliases:\n  - Zettelkasten\n  - Slip-box\n  - Luhmann's card index"),
        &["Zettelkasten", "Slip-box", "Luhmann's card index"],
    );
    check_aliases(&fm("aliases: A, B"), &["A", "B"]);
    check_aliases(&fm("alias: Singular key"), &["Singular key"]);
    check_aliases(&fm("aliases: [Dup, dup, DUP]"), &["Dup"]);
    check_aliases(&fm("aliases: []"), &[]);
    check_aliases(&fm("aliases:"), &[]);
    check_aliases(&fm("aliases: {a: b}"), &[]);
    check_aliases(
        &fm("aliases: [Cafe Zurich, Café Zürich]"),
        &["Cafe Zurich", "Café Zürich"],
    );
    check_aliases("no frontmatter", &[]);
}

fn check_tags(input: &str, expected: &[&str]) {
    assert_eq!(parse(input).tags, expected, "tags of {input:?}");
}

#[test]
fn frontmatter_tags() {
    check_tags(&fm("tags: single"), &["single"]);
    check_tags(&fm("tags: [a, b]"), &["a", "b"]);
    check_tags(
        &fm("tags: search retrieval embeddings"),
        &["search", "retrieval", "embeddings"],
    );
    check_tags(&fm("tags: one, two"), &["one", "two"]);
    check_tags(
        &fm("tags:\n  - type/research\n  - pkm\n  - method/note-taking"),
        &["type/research", "pkm", "method/note-taking"],
    );
    check_tags(&fm("tags: type/research"), &["type/research"]);
    check_tags(&fm("tags: ['#hashed', plain]"), &["hashed", "plain"]);
    check_tags(&fm("tag: legacy-key"), &["legacy-key"]);
    check_tags(&fm("tags: [2024, x]"), &["2024", "x"]);
    check_tags(&fm("tags: 42"), &[]);
    check_tags(&fm("tags: {a: b}"), &[]);
    check_tags(&fm("tags:"), &[]);
    // Frontmatter first, then inline; duplicates (any case) once.
    check_tags(
        &format!("{}body #AI and #inline\n", fm("tags: [ai]")),
        &["ai", "inline"],
    );
}

#[test]
fn inline_tags() {
    check_tags("plain #inline-tag here", &["inline-tag"]);
    check_tags("#start-of-line-tag", &["start-of-line-tag"]);
    check_tags(
        "nested #project/vaultmcp and #type/research",
        &["project/vaultmcp", "type/research"],
    );
    check_tags("#v2_migration #follow-up", &["follow-up", "v2_migration"]);
    check_tags("#café and #Zürich-trip", &["Zürich-trip", "café"]);
    check_tags("#тег and #タグ", &["тег", "タグ"]);
    check_tags("ends with punctuation #tag, and #other.", &["other", "tag"]);
    check_tags("(#in-parens)", &["in-parens"]);
    check_tags("trailing slash #a/b/", &["a/b"]);
    check_tags("## Heading with #heading-tag\n", &["heading-tag"]);
    check_tags("**#bold-tag**", &["bold-tag"]);
    check_tags("> [!note] Callout\n> with #callout-tag\n", &["callout-tag"]);
    check_tags("- [ ] task #todo\n", &["todo"]);
    // Not tags.
    check_tags("numbers #123 and #2024 are not tags", &[]);
    check_tags("word#glued is not a tag", &[]);
    check_tags("a URL https://example.com/page#section-two", &[]);
    check_tags("inline code `#not-a-tag`", &[]);
    check_tags("```\n#not-a-tag in a fence\n```\n", &[]);
    check_tags("~~~\n#not-a-tag in a tilde fence\n~~~\n", &[]);
    check_tags("```sh\n# shell comment\necho hi # trailing\n```\n", &[]);
    check_tags("    #indented-code-block\n", &[]);
    check_tags("\\#escaped-hash", &[]);
    check_tags("# heading, not a tag\n", &[]);
    check_tags("a lone # sign", &[]);
}

#[test]
fn the_tag_fixture_has_exactly_its_tags() {
    let text =
        std::fs::read_to_string(support::fixtures().join("topics/Tag Parsing Edge Cases.md"))
            .unwrap();
    let note = parse_note("topics/Tag Parsing Edge Cases.md", &text, mtime());
    let mut tags: Vec<String> = note.tags.iter().map(|t| t.to_lowercase()).collect();
    tags.sort();
    for want in [
        "inline-tag",
        "project/vaultmcp",
        "type/research",
        "lexer",
        "start-of-line-tag",
        "v2_migration",
        "follow-up",
        "café",
        "zürich-trip",
        "callout-tag",
    ] {
        assert!(
            tags.iter().any(|t| t == want),
            "missing tag {want}: {tags:?}"
        );
    }
    for not in ["not-a-tag", "123", "2024", "section-two", "escaped-hash"] {
        assert!(
            !tags.iter().any(|t| t == not),
            "{not} must not be a tag: {tags:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Dates: parsed leniently; the file's mtime when missing or unreadable.

fn check_dates(input: &str, created: &str, modified: &str) {
    let n = parse(input);
    assert_eq!(
        (
            n.created.to_rfc3339().as_str(),
            n.modified.to_rfc3339().as_str()
        ),
        (created, modified),
        "dates of {input:?}"
    );
}

const MTIME: &str = "2025-01-02T03:04:05+00:00";

#[test]
fn dates() {
    check_dates("no frontmatter", MTIME, MTIME);
    check_dates(
        &fm("created: 2024-03-05"),
        "2024-03-05T00:00:00+00:00",
        MTIME,
    );
    check_dates(
        &fm("created: 2024-03-05T10:20:00\nmodified: 2024-03-06T11:00:00"),
        "2024-03-05T10:20:00+00:00",
        "2024-03-06T11:00:00+00:00",
    );
    check_dates(
        &fm("created: 2024-03-05 10:20"),
        "2024-03-05T10:20:00+00:00",
        MTIME,
    );
    check_dates(
        &fm("created: 2024-03-05T10:20:00+02:00"),
        "2024-03-05T08:20:00+00:00",
        MTIME,
    );
    check_dates(
        &fm("date: March 5, 2024"),
        "2024-03-05T00:00:00+00:00",
        MTIME,
    );
    check_dates(&fm("date: 5 Mar 2024"), "2024-03-05T00:00:00+00:00", MTIME);
    check_dates(&fm("date: 05.03.2024"), "2024-03-05T00:00:00+00:00", MTIME);
    check_dates(&fm("date: 2024/03/05"), "2024-03-05T00:00:00+00:00", MTIME);
    check_dates(
        &fm("modified: \"2024-03-20T18:00:00\""),
        MTIME,
        "2024-03-20T18:00:00+00:00",
    );
    check_dates(
        &fm("updated: 2024-03-21"),
        MTIME,
        "2024-03-21T00:00:00+00:00",
    );
    check_dates(
        &fm("created: 1700000000"),
        "2023-11-14T22:13:20+00:00",
        MTIME,
    );
    check_dates(
        &fm("created_at: 2025-06-29 14:00:44"),
        "2025-06-29T14:00:44+00:00",
        MTIME,
    );
    // `created` wins over `date`.
    check_dates(
        &fm("date: 2020-01-01\ncreated: 2021-01-01"),
        "2021-01-01T00:00:00+00:00",
        MTIME,
    );
    // Unreadable dates fall back to the file time, never drop the note.
    check_dates(
        &fm("created: someday\nmodified: not yet\ndate: \"2024-13-45\""),
        MTIME,
        MTIME,
    );
    check_dates(&fm("created: [2024, 3, 5]"), MTIME, MTIME);
    check_dates(&fm("created: ''"), MTIME, MTIME);
}

#[test]
fn unreadable_dates_warn() {
    let n = parse(&fm("created: someday"));
    assert_eq!(n.warnings.len(), 1, "{:?}", n.warnings);
    assert!(
        n.warnings[0].contains("created") && n.warnings[0].contains("someday"),
        "{:?}",
        n.warnings
    );
}

// ---------------------------------------------------------------------------------------------
// Properties: every frontmatter property, keys sorted; the frontmatter `id`.

fn check_props(input: &str, expected: serde_json::Value) {
    assert_eq!(
        serde_json::Value::Object(parse(input).properties),
        expected,
        "properties of {input:?}"
    );
}

#[test]
fn properties() {
    check_props("no frontmatter", json!({}));
    check_props("---\n---\nbody", json!({}));
    check_props(
        &fm("status: draft\npriority: 1\nowner: me"),
        json!({"owner": "me", "priority": 1, "status": "draft"}),
    );
    check_props(
        &fm("done: true\nratio: 0.5\nempty:"),
        json!({"done": true, "empty": null, "ratio": 0.5}),
    );
    check_props(
        &fm("attendees: [\"Jörg Müller\", Ana]"),
        json!({"attendees": ["Jörg Müller", "Ana"]}),
    );
    check_props(
        &fm("nested:\n  a: 1\n  b: [x, y]"),
        json!({"nested": {"a": 1, "b": ["x", "y"]}}),
    );
    check_props(&fm("b: 2\na: 1\nc: 3"), json!({"a": 1, "b": 2, "c": 3}));
    check_props(&fm("created: 2024-03-05"), json!({"created": "2024-03-05"}));
    check_props(&fm("title: [unclosed"), json!({}));
    check_props(&fm("- a list\n- not a mapping"), json!({}));
    // The property list keeps the keys vaultmcp also reads.
    check_props(
        &fm("title: T\ntags: [a]\naliases: B"),
        json!({"aliases": "B", "tags": ["a"], "title": "T"}),
    );
}

#[test]
fn frontmatter_ids() {
    let cases: &[(&str, Option<&str>)] = &[
        ("id: bm25-notes", Some("bm25-notes")),
        ("id: 7", Some("7")),
        ("id: '  spaced  '", Some("spaced")),
        ("id: ''", None),
        ("id: [a, b]", None),
        ("title: no id", None),
    ];
    for (yaml, expected) in cases {
        assert_eq!(
            parse(&fm(yaml)).frontmatter_id.as_deref(),
            *expected,
            "id of {yaml:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Headings with levels, and where they sit in the plain text.

fn check_headings(input: &str, expected: &[(u8, &str)]) {
    let n = parse(input);
    let got: Vec<(u8, &str)> = n
        .headings
        .iter()
        .map(|h| (h.level, h.text.as_str()))
        .collect();
    assert_eq!(got, expected, "headings of {input:?}");
    for h in &n.headings {
        assert!(
            n.text[h.offset..].starts_with(&h.text),
            "offset of {:?} in {:?}",
            h.text,
            n.text
        );
    }
}

#[test]
fn headings() {
    check_headings(
        "# A\n## B\n### C\n#### D\n##### E\n###### F\n",
        &[(1, "A"), (2, "B"), (3, "C"), (4, "D"), (5, "E"), (6, "F")],
    );
    check_headings("####### seven is text\n", &[]);
    check_headings("#NoSpace\n", &[]);
    check_headings("Para\n\nSetext two\n----------\n", &[(2, "Setext two")]);
    check_headings("## Closed ##\n", &[(2, "Closed")]);
    check_headings(
        "## 1 · Create a GitHub OAuth App\n",
        &[(2, "1 · Create a GitHub OAuth App")],
    );
    check_headings(
        "## Link to [[Atomic notes]] here\n",
        &[(2, "Link to Atomic notes here")],
    );
    check_headings("```\n# not a heading\n```\n## Real\n", &[(2, "Real")]);
    check_headings("intro\n\n---\n\n## After a rule\n", &[(2, "After a rule")]);
    check_headings(
        "---\ntitle: x\n---\n# Body heading\n",
        &[(1, "Body heading")],
    );
    check_headings(
        "# Café — Zürich\n## Поиск\n### 全文検索\n",
        &[(1, "Café — Zürich"), (2, "Поиск"), (3, "全文検索")],
    );
}

// ---------------------------------------------------------------------------------------------
// Outgoing links: wikilinks, embeds, markdown links; never inside code, never to the web.

type L<'a> = (&'a str, Option<&'a str>, Option<&'a str>, bool, bool);

fn check_links(input: &str, expected: &[L<'_>]) {
    let n = parse(input);
    let got: Vec<L<'_>> = n
        .links
        .iter()
        .map(|l| {
            (
                l.target.as_str(),
                l.heading.as_deref(),
                l.display.as_deref(),
                l.embed,
                l.markdown,
            )
        })
        .collect();
    assert_eq!(got, expected, "links of {input:?}");
}

#[test]
fn wikilinks() {
    check_links("[[Note]]", &[("Note", None, None, false, false)]);
    check_links(
        "[[Note|shown text]]",
        &[("Note", None, Some("shown text"), false, false)],
    );
    check_links(
        "[[Note#Heading]]",
        &[("Note", Some("Heading"), None, false, false)],
    );
    check_links(
        "[[Note#Heading|text]]",
        &[("Note", Some("Heading"), Some("text"), false, false)],
    );
    check_links(
        "[[projects/vaultmcp/Roadmap]]",
        &[("projects/vaultmcp/Roadmap", None, None, false, false)],
    );
    check_links(
        "[[Tag Parsing Edge Cases.md]]",
        &[("Tag Parsing Edge Cases.md", None, None, false, false)],
    );
    check_links(
        "[[SQLite Internals#^wal-block]]",
        &[("SQLite Internals", Some("^wal-block"), None, false, false)],
    );
    check_links(
        "[[Café in Zürich]] [[Заметки о поиске]]",
        &[
            ("Café in Zürich", None, None, false, false),
            ("Заметки о поиске", None, None, false, false),
        ],
    );
    check_links(
        "a [[One]] and [[Two]] in one line",
        &[
            ("One", None, None, false, false),
            ("Two", None, None, false, false),
        ],
    );
    check_links("[[#Local heading]]", &[]);
}

#[test]
fn embeds() {
    check_links(
        "![[BM25 Ranking]]",
        &[("BM25 Ranking", None, None, true, false)],
    );
    check_links(
        "![[diagram.png]]",
        &[("diagram.png", None, None, true, false)],
    );
    check_links(
        "![[Note#Section]]",
        &[("Note", Some("Section"), None, true, false)],
    );
    check_links(
        "![alt text](pics/a.png)",
        &[("pics/a.png", None, Some("alt text"), true, true)],
    );
    let n = parse("![[attachments/diagram.png|200]]");
    assert_eq!(n.links.len(), 1);
    assert_eq!(
        (n.links[0].target.as_str(), n.links[0].embed),
        ("attachments/diagram.png", true)
    );
}

#[test]
fn markdown_links() {
    check_links(
        "[the note](other-note.md)",
        &[("other-note.md", None, Some("the note"), false, true)],
    );
    check_links(
        "[sq](SQLite%20Internals.md)",
        &[("SQLite Internals.md", None, Some("sq"), false, true)],
    );
    check_links(
        "[up](../projects/vaultmcp/Roadmap.md)",
        &[(
            "../projects/vaultmcp/Roadmap.md",
            None,
            Some("up"),
            false,
            true,
        )],
    );
    check_links(
        "[sec](Note.md#Part%20two)",
        &[("Note.md", Some("Part two"), Some("sec"), false, true)],
    );
    check_links(
        "[angle](<My Note.md>)",
        &[("My Note.md", None, Some("angle"), false, true)],
    );
    check_links("[web](https://example.com)", &[]);
    check_links("[titled](https://help.obsidian.md \"Obsidian Help\")", &[]);
    check_links("<https://www.sqlite.org/fts5.html>", &[]);
    check_links("[mail](mailto:a@example.com)", &[]);
    check_links("[anchor](#local-heading)", &[]);
}

#[test]
fn no_links_inside_code() {
    check_links("`[[Not A Link]]`", &[]);
    check_links(
        "```markdown\n[[Also Not A Link]] and [nope](nope.md)\n```\n",
        &[],
    );
    check_links("    [[Indented Code]]\n", &[]);
}

#[test]
fn the_link_fixture_links() {
    let text = std::fs::read_to_string(support::fixtures().join("topics/Link Syntax Reference.md"))
        .unwrap();
    let n = parse_note("topics/Link Syntax Reference.md", &text, mtime());
    let targets: Vec<&str> = n.links.iter().map(|l| l.target.as_str()).collect();
    for want in [
        "Zettelkasten Method",
        "Vector Search",
        "BM25 Ranking",
        "projects/vaultmcp/Roadmap",
        "Slip-box",
        "Okapi BM25",
        "SQLite Internals",
        "Quasar Spectroscopy Notes",
        "vector search",
        "Tag Parsing Edge Cases.md",
        "diagram.png",
        "attachments/diagram.png",
        "other-note.md",
        "SQLite Internals.md",
        "../projects/vaultmcp/Roadmap.md",
    ] {
        assert!(targets.contains(&want), "missing link {want}: {targets:?}");
    }
    for not in ["Not A Link", "Also Not A Link", "nope.md"] {
        assert!(!targets.contains(&not), "{not} is inside code: {targets:?}");
    }
    assert!(
        !targets.iter().any(|t| t.contains("://")),
        "web links are not note links: {targets:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Body and plain text.

fn check_text(input: &str, has: &[&str], lacks: &[&str]) {
    let n = parse(input);
    for h in has {
        assert!(
            n.text.contains(h),
            "text of {input:?} lacks {h:?}: {:?}",
            n.text
        );
    }
    for l in lacks {
        assert!(
            !n.text.contains(l),
            "text of {input:?} has {l:?}: {:?}",
            n.text
        );
    }
}

#[test]
fn plain_text() {
    check_text(
        "---\nsecretkey: hidden\n---\nvisible body",
        &["visible body"],
        &["secretkey", "hidden", "---"],
    );
    check_text(
        "**bold** and _italic_ and ~~struck~~",
        &["bold and italic and struck"],
        &["**", "_italic_"],
    );
    check_text(
        "```\nfenced code words\n```\n",
        &["fenced code words"],
        &["```"],
    );
    check_text("inline `code words` here", &["code words"], &["`"]);
    check_text(
        "| h1 | h2 |\n|----|----|\n| cell1 | cell2 |\n",
        &["cell1", "cell2", "h1"],
        &["|"],
    );
    check_text(
        "> [!tip] Title\n> callout body words\n",
        &["callout body words"],
        &[],
    );
    check_text(
        "see [[Other Note|shown text]] there",
        &["shown text"],
        &["[["],
    );
    check_text("a [label](x.md) b", &["label"], &["x.md"]);
    check_text(
        "- [x] done task\n- [ ] open task\n",
        &["done task", "open task"],
        &[],
    );
    check_text(
        "intro\n\n---\n\nafter a rule\n",
        &["intro", "after a rule"],
        &[],
    );
    check_text(
        "Crème brûlée at the café in Zürich; Straße, naïve",
        &["Crème brûlée", "café", "Zürich", "Straße", "naïve"],
        &[],
    );
    check_text("Cre\u{300}me bru\u{302}le\u{301}e", &["Cre\u{300}me"], &[]);
    check_text(
        "Поиск по кириллице. 全文検索 in 東京. Αλεξάνδρειας",
        &["кириллице", "全文検索", "東京", "Αλεξάνδρειας"],
        &[],
    );
    check_text(
        "---\ntitle: x\nnever closed body\n",
        &["never closed body"],
        &[],
    );
    check_text(
        "literal \\n escapes stay",
        &["literal \\n escapes stay"],
        &[],
    );
}

#[test]
fn body_is_markdown_without_frontmatter() {
    let cases = [
        ("---\ntitle: T\n---\n# Body\n\ntext\n", "# Body\n\ntext\n"),
        ("no frontmatter\n", "no frontmatter\n"),
        (
            "\u{feff}---\r\na: 1\r\n---\r\nCRLF body\r\n",
            "CRLF body\r\n",
        ),
        ("---\na: 1\n---", ""),
        ("---\nnever closed\n", "---\nnever closed\n"),
        (
            "intro\n---\nnot frontmatter\n---\n",
            "intro\n---\nnot frontmatter\n---\n",
        ),
    ];
    for (input, body) in cases {
        assert_eq!(parse(input).body, body, "body of {input:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Warnings: problems are sentences, the note stays.

fn check_warnings(input: &str, expected: &[&str]) {
    let n = parse(input);
    assert_eq!(
        n.warnings.len(),
        expected.len(),
        "warnings of {input:?}: {:?}",
        n.warnings
    );
    for (w, e) in n.warnings.iter().zip(expected) {
        assert!(w.contains(e), "warning {w:?} should mention {e:?}");
    }
}

#[test]
fn warnings() {
    check_warnings("# clean\n", &[]);
    check_warnings(&fm("title: ok\ntags: [a]"), &[]);
    check_warnings(&fm("title: [unclosed"), &["not valid YAML"]);
    check_warnings("---\ntitle: x\nno close\n", &["never closed"]);
    check_warnings(&fm("tags: 42"), &["`tags` is a number"]);
    check_warnings(&fm("aliases: {a: b}"), &["`aliases` is a mapping"]);
    check_warnings(&fm("created: someday"), &["`created`"]);
    check_warnings(&fm("- a\n- b"), &["list rather than a set of properties"]);
}

// ---------------------------------------------------------------------------------------------
// The vault: which files are notes, ids, URLs.

#[test]
fn ids_and_paths() {
    let dir = support::Dir::new();
    let vault = Vault::open(dir.vault(), support::DEFAULT_MAX).unwrap();
    let cases: &[(&str, bool)] = &[
        ("a.md", true),
        ("folder/b c.md", true),
        ("lang/Заметки о поиске.md", true),
        (
            "research/2025-06-29/007-echo-'✅-Note-created!-Let-me-show-you-the-file-structure-'.md",
            true,
        ),
        ("../x.md", false),
        ("a/../../x.md", false),
        ("/etc/passwd", false),
        ("/etc/passwd.md", false),
        ("./a.md", false),
        ("a\\..\\x.md", false),
        (".obsidian/x.md", false),
        (".trash/x.md", false),
        (".git/x.md", false),
        ("a/.obsidian/x.md", false),
        ("x.txt", false),
        ("nul\0.md", false),
        ("", false),
    ];
    for (id, ok) in cases {
        assert_eq!(vault.path_of(id).is_some(), *ok, "path_of({id:?})");
    }
}

#[test]
fn scan_finds_exactly_the_notes() {
    let dir = support::Dir::new();
    dir.create("a.md", "a")
        .create("folder/b.md", "b")
        .create("folder/deeper/c.md", "c")
        .create("not-a-note.txt", "x")
        .create("image.png", [0u8, 1, 2])
        .create("upper.MD", "case of the extension")
        .create(".obsidian/app.md", "x")
        .create(".trash/old.md", "x")
        .create(".git/x.md", "x")
        .create("drafts/secret.md", "x")
        .create("scratch.tmp.md", "x")
        .create("keep/drafts.md", "a file named like the ignored folder")
        .create(".vaultmcpignore", "# comment\ndrafts/\n*.tmp.md\n");
    let vault = Vault::open(dir.vault(), support::DEFAULT_MAX).unwrap();
    let (notes, warnings) = vault.scan();
    let ids: Vec<&str> = notes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "a.md",
            "folder/b.md",
            "folder/deeper/c.md",
            "keep/drafts.md"
        ]
    );
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn scan_of_the_fixtures() {
    let vault = Vault::open(&support::fixtures(), support::DEFAULT_MAX).unwrap();
    let (notes, _) = vault.scan();
    let ids: Vec<&str> = notes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids.len(), 45, "45 notes by the contract: {ids:#?}");
    for ignored in [
        ".obsidian/snippets/readme.md",
        ".trash/old-note.md",
        "drafts/secret-draft.md",
        "topics/scratch.tmp.md",
    ] {
        assert!(!ids.contains(&ignored), "{ignored} is ignored");
    }
    assert!(ids.contains(&"lang/Заметки о поиске.md"));
    assert!(ids.contains(&"research/2025-06-29/011-ChatGPT-+-local-remote-MCP-connector.md"));
    assert_eq!(vault.name(), "vault-fixtures");
}

#[test]
fn obsidian_urls() {
    let cases = [
        (
            "vault-fixtures",
            "topics/BM25 Ranking.md",
            "obsidian://open?vault=vault-fixtures&file=topics%2FBM25%20Ranking",
        ),
        (
            "my vault",
            "a.md",
            "obsidian://open?vault=my%20vault&file=a",
        ),
        (
            "v",
            "lang/Café in Zürich.md",
            "obsidian://open?vault=v&file=lang%2FCaf%C3%A9%20in%20Z%C3%BCrich",
        ),
        (
            "v",
            "r/011-ChatGPT-+-x.md",
            "obsidian://open?vault=v&file=r%2F011-ChatGPT-%2B-x",
        ),
        (
            "v",
            "r/007-echo-'✅-x!'.md",
            "obsidian://open?vault=v&file=r%2F007-echo-'%E2%9C%85-x!'",
        ),
        (
            "v",
            "a&b=c#d?.md",
            "obsidian://open?vault=v&file=a%26b%3Dc%23d%3F",
        ),
    ];
    for (vault, id, url) in cases {
        assert_eq!(obsidian_url(vault, id), url, "url of {id:?}");
    }
}

#[test]
fn escaped_and_glued_hashes_are_not_tags() {
    check_tags("x\\#glued-after-escape", &[]);
    check_tags("a \\#escaped mid-line", &[]);
    check_tags("word\n#after-softbreak", &["after-softbreak"]);
}

#[test]
fn wrong_types_warn() {
    check_warnings(&fm("created: [2024, 3, 5]"), &["`created` is a list"]);
    check_warnings(&fm("modified: {at: noon}"), &["`modified` is a mapping"]);
    check_warnings(&fm("title: {a: b}"), &["`title` is a mapping"]);
    check_warnings(&fm("id: [1, 2]"), &["`id` is a list"]);
    check_warnings(
        &fm("tags: 42\naliases: {a: b}\ncreated: [2024, 3, 5]\nid: 7"),
        &[
            "`aliases` is a mapping",
            "`tags` is a number",
            "`created` is a list",
        ],
    );
}

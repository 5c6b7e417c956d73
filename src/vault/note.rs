//! One note: from bytes on disk to the fields the index stores.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::frontmatter::{self, scalar_text, string_list};
use super::markdown::{self, Heading, Link};
use super::parse_date;

/// Everything the index and `fetch` need from a note.
#[derive(Debug, Clone)]
pub struct ParsedNote {
    pub id: String,
    pub title: String,
    pub aliases: Vec<String>,
    /// Tags without `#`, as written (frontmatter first, then inline), deduplicated case-insensitively.
    pub tags: Vec<String>,
    /// The frontmatter `id` property, when present.
    pub frontmatter_id: Option<String>,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
    /// All frontmatter properties, keys sorted.
    pub properties: Map<String, Value>,
    pub headings: Vec<Heading>,
    pub links: Vec<Link>,
    /// Markdown body without frontmatter, as written.
    pub body: String,
    /// Plain text of the body, for indexing and snippets.
    pub text: String,
    /// Problems that did not stop the note from being indexed, each one sentence.
    pub warnings: Vec<String>,
}

/// Parses a note. Never fails: problems become warnings and the note keeps what could be read.
/// (Whether bytes are a note at all — binary, too large — is decided before, in `walk`.)
pub fn parse_note(id: &str, text: &str, mtime: DateTime<Utc>) -> ParsedNote {
    let mut warnings = Vec::new();
    let split = frontmatter::split(text);
    if split.unclosed {
        warnings.push(
            "frontmatter fence `---` is never closed; the note is indexed as plain text".to_owned(),
        );
    }
    let properties = match split.yaml.map(frontmatter::parse_yaml) {
        Some(Ok(map)) => map,
        Some(Err(e)) => {
            warnings.push(format!("{e}; the note is indexed without its properties"));
            Map::new()
        }
        None => Map::new(),
    };
    let md = markdown::parse(split.body);

    let mut list = |key: &str, split_spaces: bool| -> Vec<String> {
        let Some(v) = properties.get(key) else {
            return Vec::new();
        };
        match string_list(v, split_spaces) {
            Ok(items) => items,
            Err(kind) => {
                warnings.push(format!(
                    "property `{key}` is a {kind}, expected text or a list; ignored"
                ));
                Vec::new()
            }
        }
    };
    let mut aliases = list("aliases", false);
    aliases.extend(list("alias", false));
    let mut tags: Vec<String> = list("tags", true);
    tags.extend(list("tag", true));
    for t in &mut tags {
        *t = t.trim_start_matches('#').to_owned();
    }
    tags.extend(md.tags.iter().cloned());
    let mut seen = std::collections::HashSet::new();
    tags.retain(|t| !t.is_empty() && seen.insert(t.to_lowercase()));
    let mut seen = std::collections::HashSet::new();
    aliases.retain(|a| seen.insert(a.to_lowercase()));

    let text_prop = |key: &str| {
        properties
            .get(key)
            .and_then(scalar_text)
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    let stem = id.rsplit('/').next().unwrap_or(id);
    let stem = stem.strip_suffix(".md").unwrap_or(stem);
    let title = text_prop("title")
        .or_else(|| md.first_h1.clone())
        .unwrap_or_else(|| stem.to_owned());

    for key in ["title", "id"] {
        if let Some(kind) = properties.get(key).and_then(not_scalar) {
            warnings.push(format!(
                "property `{key}` is a {kind}, expected text; ignored"
            ));
        }
    }
    let mut date = |keys: &[&str]| -> Option<DateTime<Utc>> {
        for key in keys {
            if let Some(kind) = properties.get(*key).and_then(not_scalar) {
                warnings.push(format!(
                    "property `{key}` is a {kind}, expected a date; using the file's time"
                ));
            }
            if let Some(raw) = text_prop(key) {
                match parse_date(&raw) {
                    Some(d) => return Some(d),
                    None => warnings.push(format!(
                        "property `{key}` is not a date I can read ({raw:?}); using the file's time"
                    )),
                }
            }
        }
        None
    };
    let created = date(&["created", "date", "created_at"]).unwrap_or(mtime);
    let modified = date(&["modified", "updated", "modified_at", "updated_at"]).unwrap_or(mtime);

    ParsedNote {
        id: id.to_owned(),
        title,
        aliases,
        tags,
        frontmatter_id: text_prop("id"),
        created,
        modified,
        properties,
        headings: md.headings,
        links: md.links,
        body: split.body.to_owned(),
        text: md.text,
        warnings,
    }
}

/// The kind of a property value that cannot be read as text (a list or a mapping).
fn not_scalar(v: &Value) -> Option<&'static str> {
    match v {
        Value::Array(_) => Some("list"),
        Value::Object(_) => Some("mapping"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn mtime() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap()
    }

    fn check(text: &str, f: impl FnOnce(&ParsedNote)) {
        f(&parse_note("dir/My Note.md", text, mtime()));
    }

    #[test]
    fn titles() {
        check("---\ntitle: From FM\n---\n# From H1\n", |n| {
            assert_eq!(n.title, "From FM")
        });
        check("intro\n# From H1\n## Sub", |n| {
            assert_eq!(n.title, "From H1")
        });
        check("no heading", |n| assert_eq!(n.title, "My Note"));
        check("---\ntitle: 2024\n---\n", |n| assert_eq!(n.title, "2024"));
        check("---\ntitle: ''\n---\n# H\n", |n| assert_eq!(n.title, "H"));
    }

    #[test]
    fn tags_and_aliases() {
        check(
            "---\ntags: [type/research, '#ai']\naliases: Other Name\n---\nbody #inline and #ai\n",
            |n| {
                assert_eq!(n.tags, ["type/research", "ai", "inline"]);
                assert_eq!(n.aliases, ["Other Name"]);
                assert!(n.warnings.is_empty(), "{:?}", n.warnings);
            },
        );
        check("---\ntags: one two, three\n---\n", |n| {
            assert_eq!(n.tags, ["one", "two", "three"])
        });
        check(
            "---\ntags: 42\naliases: {a: b}\n---\nstill here #ok\n",
            |n| {
                assert_eq!(n.tags, ["ok"]);
                assert!(n.aliases.is_empty());
                assert_eq!(n.warnings.len(), 2, "{:?}", n.warnings);
                assert!(
                    n.warnings.iter().any(|w| w.contains("`tags` is a number")),
                    "{:?}",
                    n.warnings
                );
                assert!(n.text.contains("still here"));
            },
        );
    }

    #[test]
    fn dates_fall_back_to_mtime() {
        check("---\ncreated: 2024-03-05\nmodified: someday\n---\n", |n| {
            assert_eq!(
                n.created,
                Utc.with_ymd_and_hms(2024, 3, 5, 0, 0, 0).unwrap()
            );
            assert_eq!(n.modified, mtime());
            assert_eq!(n.warnings.len(), 1);
        });
        check("---\ndate: March 5, 2024\n---\n", |n| {
            assert_eq!(
                n.created,
                Utc.with_ymd_and_hms(2024, 3, 5, 0, 0, 0).unwrap()
            );
        });
    }

    #[test]
    fn broken_frontmatter_keeps_the_body() {
        check("---\ntitle: [unclosed\n---\nsearchable words\n", |n| {
            assert!(n.text.contains("searchable words"));
            assert!(n.warnings[0].contains("not valid YAML"), "{:?}", n.warnings);
            assert_eq!(n.title, "My Note");
        });
        check("---\ntitle: x\nbody without a closing fence\n", |n| {
            assert!(n.text.contains("body without a closing fence"));
            assert!(n.warnings[0].contains("never closed"));
        });
    }

    #[test]
    fn properties_and_frontmatter_id() {
        check(
            "---\nid: custom-1\nstatus: draft\nnested: {a: 1}\n---\n",
            |n| {
                assert_eq!(n.frontmatter_id.as_deref(), Some("custom-1"));
                assert_eq!(n.properties["status"], "draft");
                assert_eq!(n.properties["nested"]["a"], 1);
            },
        );
    }
}

//! What a note becomes in the index: the mapping from a [`ParsedNote`] to a tantivy document.

use std::collections::HashSet;

use tantivy::{DateTime, TantivyDocument};

use super::schema::{self, Fields};
use super::state::Indexed;
use super::stored;
use crate::vault::{ParsedNote, link_key};

/// The document of a parsed note whose file is in state `st`.
pub(super) fn document(
    f: &Fields,
    note: &ParsedNote,
    st: Indexed,
    vectors: Option<&super::embedding::NoteVectors>,
) -> TantivyDocument {
    let mut doc = TantivyDocument::default();
    let id = note.id.as_str();
    let no_ext = id.strip_suffix(".md").unwrap_or(id);
    let stem = no_ext.rsplit('/').next().unwrap_or(no_ext);
    doc.add_text(f.id, id);
    doc.add_text(f.path_key, link_key(no_ext));
    doc.add_text(f.stem_key, link_key(stem));
    if let Some(fm_id) = &note.frontmatter_id {
        doc.add_text(f.fm_id, fm_id);
    }
    doc.add_text(f.title, &note.title);
    for a in &note.aliases {
        doc.add_text(f.aliases, a);
        doc.add_text(f.alias_key, link_key(a));
    }
    for h in &note.headings {
        // The H1 that repeats the title is the title: counting it again as a heading would
        // weigh title words twice.
        if !h.text.eq_ignore_ascii_case(&note.title) {
            doc.add_text(f.headings, &h.text);
        }
    }
    add_tags(&mut doc, f, &note.tags);
    doc.add_text(f.path, no_ext.replace(['/', '-', '_'], " "));
    doc.add_text(f.file, stem.replace(['-', '_'], " "));
    doc.add_text(f.body, &note.text);
    add_properties(&mut doc, f, &note.properties);
    doc.add_date(
        f.created,
        DateTime::from_timestamp_secs(note.created.timestamp()),
    );
    doc.add_date(
        f.modified,
        DateTime::from_timestamp_secs(note.modified.timestamp()),
    );
    doc.add_u64(f.size, st.size);
    doc.add_i64(f.mtime, st.mtime_ns);
    doc.add_u64(f.hash, st.hash);
    let mut link_keys = HashSet::new();
    for l in &note.links {
        let target = l.target.strip_suffix(".md").unwrap_or(&l.target);
        let key = link_key(target.trim_start_matches("./").trim_start_matches('/'));
        if let Some(last) = key.rsplit('/').next() {
            link_keys.insert(last.to_owned());
        }
        link_keys.insert(key);
    }
    for k in link_keys {
        doc.add_text(f.link_key, k);
    }
    doc.add_text(f.links_json, stored::encode_links(&note.links));
    doc.add_text(f.headings_json, stored::encode_headings(&note.headings));
    if let Some(v) = vectors {
        super::embedding::add_vectors(&mut doc, f, v);
    }
    doc
}

/// Tags as written (stored), as words (searched), and as lower-cased keys of every level of
/// their hierarchy (`#a/b` is found by `tag:a` and `tag:a/b`).
fn add_tags(doc: &mut TantivyDocument, f: &Fields, tags: &[String]) {
    let mut tag_keys = HashSet::new();
    for t in tags {
        doc.add_text(f.tag_raw, t);
        doc.add_text(f.tags, t.replace(['/', '-', '_'], " "));
        let lower = t.to_lowercase();
        let mut prefix = String::new();
        for part in lower.split('/') {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            tag_keys.insert(prefix.clone());
        }
    }
    for k in tag_keys {
        doc.add_text(f.tag_key, k);
    }
}

fn add_properties(
    doc: &mut TantivyDocument,
    f: &Fields,
    props: &serde_json::Map<String, serde_json::Value>,
) {
    let mut stack: Vec<(String, &serde_json::Value)> =
        props.iter().map(|(k, v)| (k.to_lowercase(), v)).collect();
    while let Some((key, value)) = stack.pop() {
        match value {
            serde_json::Value::Object(m) => {
                doc.add_text(f.prop_key, &key);
                stack.extend(
                    m.iter()
                        .map(|(k, v)| (format!("{key}.{}", k.to_lowercase()), v)),
                );
            }
            serde_json::Value::Array(items) => {
                doc.add_text(f.prop_key, &key);
                stack.extend(items.iter().map(|v| (key.clone(), v)));
            }
            serde_json::Value::Null => doc.add_text(f.prop_key, &key),
            scalar => {
                doc.add_text(f.prop_key, &key);
                let text = match scalar {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                doc.add_text(f.prop_kv, schema::prop_kv_whole(&key, &text));
                for (_, tok) in schema::tokens(&text) {
                    doc.add_text(f.prop_kv, schema::prop_kv(&key, &tok));
                }
                if !matches!(key.as_str(), "title" | "id" | "aliases" | "tags") {
                    doc.add_text(f.props, &text);
                }
            }
        }
    }
}

//! Fetching one note whole, with its links resolved the way Obsidian resolves them.

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};
use tantivy::collector::DocSetCollector;
use tantivy::query::TermQuery;
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocAddress, Searcher, TantivyDocument, Term};

use super::state::id_column;
use super::stored;
use super::{IndexError, NoteIndex};
use crate::vault::{Link, ReadError, link_key, obsidian_url, parse_note};

/// A whole note, in the shape of the MCP `fetch` tool's result.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FetchedNote {
    pub id: String,
    pub title: String,
    /// The markdown body without frontmatter.
    pub text: String,
    pub url: String,
    pub metadata: Metadata,
}

/// What is known about a note besides its text.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Metadata {
    pub path: String,
    pub tags: Vec<String>,
    pub aliases: Vec<String>,
    /// RFC 3339.
    pub created: String,
    pub modified: String,
    /// Every frontmatter property.
    pub properties: Map<String, Value>,
    pub links: Vec<LinkOut>,
    pub backlinks: Vec<Backlink>,
    /// With a model: up to five notes most similar to this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub related: Option<Vec<super::Related>>,
}

/// An outgoing link and the note it resolves to (`id` is null for attachments and missing notes).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LinkOut {
    pub target: String,
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heading: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
    pub embed: bool,
}

/// A note that links here.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq, PartialOrd, Ord)]
pub struct Backlink {
    pub id: String,
    pub title: String,
}

impl NoteIndex {
    /// The id of the note `wanted` names: its id, its path without `.md`, or its frontmatter `id`.
    pub fn resolve_id(&self, wanted: &str) -> Option<String> {
        let searcher = self.inner.reader.searcher();
        let f = self.fields();
        let lookups = [
            (f.id, wanted.to_owned()),
            (f.id, format!("{wanted}.md")),
            (f.fm_id, wanted.to_owned()),
        ];
        for (field, value) in lookups {
            let mut ids = ids_with(&searcher, f.id, Term::from_field_text(field, &value));
            ids.sort();
            if let Some(id) = ids.into_iter().next() {
                return Some(id);
            }
        }
        None
    }

    /// Fetches a note by anything [`NoteIndex::resolve_id`] accepts. The body is read from disk.
    pub fn fetch(&self, wanted: &str) -> Result<FetchedNote, IndexError> {
        let not_found = || IndexError::NotFound(wanted.to_owned());
        let id = self.resolve_id(wanted).ok_or_else(not_found)?;
        let (text, state, _) = match self.vault().read(&id) {
            Ok(r) => r,
            Err(ReadError::NotFound) => return Err(not_found()),
            Err(ReadError::Io(e)) => return Err(IndexError::Io(e)),
            Err(_) => return Err(not_found()),
        };
        let note = parse_note(&id, &text, state.mtime());
        let searcher = self.inner.reader.searcher();
        let links = note
            .links
            .iter()
            .map(|l| LinkOut {
                target: l.target.clone(),
                id: self.resolve_link(&searcher, &id, l),
                heading: l.heading.clone(),
                display: l.display.clone().filter(|d| !d.is_empty()),
                embed: l.embed,
            })
            .collect();
        let backlinks = self.backlinks(&searcher, &id, &note.aliases);
        let related = match self.model() {
            None => None,
            Some(_) => {
                let term = tantivy::Term::from_field_text(self.fields().id, &id);
                let q =
                    tantivy::query::TermQuery::new(term, tantivy::schema::IndexRecordOption::Basic);
                let top = searcher.search(
                    &q,
                    &tantivy::collector::TopDocs::with_limit(1).order_by_score(),
                )?;
                match top.first() {
                    Some((_, addr)) => Some(self.related_to(&searcher, *addr)?),
                    None => Some(Vec::new()),
                }
            }
        };
        Ok(FetchedNote {
            url: obsidian_url(self.vault().name(), &id),
            title: note.title,
            text: note.body,
            metadata: Metadata {
                path: id.clone(),
                tags: note.tags,
                aliases: note.aliases,
                created: note.created.to_rfc3339(),
                modified: note.modified.to_rfc3339(),
                properties: note.properties,
                links,
                backlinks,
                related,
            },
            id,
        })
    }

    /// Resolves a link from note `from`: relative path (markdown links), vault path, unique
    /// file name (the shortest path wins a tie), then alias.
    fn resolve_link(&self, searcher: &Searcher, from: &str, link: &Link) -> Option<String> {
        let f = self.fields();
        let target = link.target.trim();
        let lower = target.to_lowercase();
        let bare = match lower.strip_suffix(".md") {
            Some(b) => b.to_owned(),
            // Any other extension is an attachment, not a note.
            None if has_other_extension(&lower) => return None,
            None => lower,
        };
        let bare = bare.trim_start_matches('/');
        if link.markdown {
            let folder = from.rsplit_once('/').map_or("", |(d, _)| d);
            if let Some(rel) = normalize(&format!("{folder}/{bare}")) {
                let hit = first_id(
                    searcher,
                    f.id,
                    Term::from_field_text(f.path_key, &link_key(&rel)),
                );
                if hit.is_some() {
                    return hit;
                }
            }
        }
        let key = normalize(bare).unwrap_or_else(|| bare.to_owned());
        if let Some(id) = first_id(searcher, f.id, Term::from_field_text(f.path_key, &key)) {
            return Some(id);
        }
        let last = key.rsplit('/').next().unwrap_or(&key);
        let mut by_name: Vec<String> =
            ids_with(searcher, f.id, Term::from_field_text(f.stem_key, last))
                .into_iter()
                .filter(|id| {
                    let p = id.strip_suffix(".md").unwrap_or(id).to_lowercase();
                    !key.contains('/') || p == key || p.ends_with(&format!("/{key}"))
                })
                .collect();
        by_name.sort_by(|a, b| {
            a.matches('/')
                .count()
                .cmp(&b.matches('/').count())
                .then(a.cmp(b))
        });
        if let Some(id) = by_name.into_iter().next() {
            return Some(id);
        }
        first_id(searcher, f.id, Term::from_field_text(f.alias_key, &key))
    }

    /// Notes with a link that resolves to `id`.
    fn backlinks(&self, searcher: &Searcher, id: &str, aliases: &[String]) -> Vec<Backlink> {
        let f = self.fields();
        let no_ext = id.strip_suffix(".md").unwrap_or(id);
        let stem = no_ext.rsplit('/').next().unwrap_or(no_ext);
        let mut keys: BTreeSet<String> = aliases.iter().map(|a| link_key(a)).collect();
        keys.insert(link_key(stem));
        let mut candidates = BTreeSet::new();
        for k in &keys {
            candidates.extend(addresses_with(
                searcher,
                Term::from_field_text(f.link_key, k),
            ));
        }
        let mut out = BTreeSet::new();
        for addr in candidates {
            let Ok(doc) = searcher.doc::<TantivyDocument>(addr) else {
                continue;
            };
            let Some(from) = stored::text(&doc, f.id) else {
                continue;
            };
            if from == id {
                continue;
            }
            if stored::links(&doc, f)
                .iter()
                .any(|l| self.resolve_link(searcher, &from, l).as_deref() == Some(id))
            {
                let title = stored::text(&doc, f.title).unwrap_or_else(|| from.clone());
                out.insert(Backlink { id: from, title });
            }
        }
        out.into_iter().collect()
    }

    /// A page of notes, sorted by id: `(id, title)` pairs and the total number of notes.
    pub fn list_notes(
        &self,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<(String, String)>, usize), IndexError> {
        let searcher = self.inner.reader.searcher();
        let f = self.fields();
        let mut all: Vec<(String, DocAddress)> = Vec::with_capacity(searcher.num_docs() as usize);
        for (ord, seg) in searcher.segment_readers().iter().enumerate() {
            let Some((ids, names)) = id_column(seg)? else {
                continue;
            };
            for doc in seg.doc_ids_alive() {
                if let Some(name) = ids
                    .term_ords(doc)
                    .next()
                    .and_then(|t| names.get(t as usize))
                {
                    all.push((name.clone(), DocAddress::new(ord as u32, doc)));
                }
            }
        }
        all.sort_by(|a, b| a.0.cmp(&b.0));
        let total = all.len();
        let page = all
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|(id, addr)| {
                let title = searcher
                    .doc::<TantivyDocument>(addr)
                    .ok()
                    .and_then(|d| stored::text(&d, f.title))
                    .unwrap_or_else(|| id.clone());
                (id, title)
            })
            .collect();
        Ok((page, total))
    }
}

fn has_other_extension(target: &str) -> bool {
    let name = target.rsplit('/').next().unwrap_or(target);
    name.rsplit_once('.').is_some_and(|(stem, ext)| {
        !stem.is_empty()
            && (1..=5).contains(&ext.len())
            && ext.chars().all(|c| c.is_ascii_alphanumeric())
            && ext.chars().any(|c| c.is_ascii_alphabetic())
    })
}

/// Resolves `.` and `..` in a `/`-separated path; `None` when it climbs out of the vault.
fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

fn addresses_with(searcher: &Searcher, term: Term) -> Vec<DocAddress> {
    let q = TermQuery::new(term, IndexRecordOption::Basic);
    searcher
        .search(&q, &DocSetCollector)
        .map(|s| s.into_iter().collect())
        .unwrap_or_default()
}

fn ids_with(searcher: &Searcher, id_field: Field, term: Term) -> Vec<String> {
    addresses_with(searcher, term)
        .into_iter()
        .filter_map(|a| searcher.doc::<TantivyDocument>(a).ok())
        .filter_map(|d| stored::text(&d, id_field))
        .collect()
}

fn first_id(searcher: &Searcher, id_field: Field, term: Term) -> Option<String> {
    let mut ids = ids_with(searcher, id_field, term);
    ids.sort();
    ids.into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_normalize() {
        assert_eq!(normalize("a/./b/../c").as_deref(), Some("a/c"));
        assert_eq!(normalize("/a//b").as_deref(), Some("a/b"));
        assert_eq!(normalize("../x"), None);
        assert!(has_other_extension("pics/diagram.png"));
        assert!(!has_other_extension("Note v1.2 draft"));
        assert!(!has_other_extension("my.note.with.dots here"));
        assert!(!has_other_extension("Version 2.0"));
    }
}

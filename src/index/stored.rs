//! Stored fields read back from a document, and the JSON encoding of the stored links and
//! headings: the writer encodes and search and fetch decode in this one place.

use tantivy::TantivyDocument;
use tantivy::schema::{Field, Value};

use super::schema::Fields;
use crate::vault::{Heading, Link};

/// A heading as stored: byte offset in the body, level, text.
pub(super) type StoredHeading = (usize, u8, String);

/// A stored text field's first value.
pub(super) fn text(doc: &TantivyDocument, field: Field) -> Option<String> {
    doc.get_first(field)
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

/// All values of a stored text field.
pub(super) fn texts(doc: &TantivyDocument, field: Field) -> Vec<String> {
    doc.get_all(field)
        .filter_map(|v| v.as_str())
        .map(str::to_owned)
        .collect()
}

/// The value of the `links_json` field for these links.
pub(super) fn encode_links(links: &[Link]) -> String {
    serde_json::to_string(links).unwrap_or_default()
}

/// A document's outgoing links (none when the field is missing or unreadable).
pub(super) fn links(doc: &TantivyDocument, f: &Fields) -> Vec<Link> {
    text(doc, f.links_json)
        .and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or_default()
}

/// The value of the `headings_json` field for these headings.
pub(super) fn encode_headings(headings: &[Heading]) -> String {
    let rows: Vec<(usize, u8, &str)> = headings
        .iter()
        .map(|h| (h.offset, h.level, h.text.as_str()))
        .collect();
    serde_json::to_string(&rows).unwrap_or_default()
}

/// A document's headings in body order (none when the field is missing or unreadable).
pub(super) fn headings(doc: &TantivyDocument, f: &Fields) -> Vec<StoredHeading> {
    text(doc, f.headings_json)
        .and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or_default()
}

//! The tool definitions: names, descriptions that teach the model, schemas, annotations.

use std::sync::Arc;

use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use serde_json::json;

const SEARCH_DESCRIPTION: &str = "Search the person's Obsidian research notes. Returns up to 10 notes, best first, \
each with `id`, `title`, `url` and a `snippet` where matched words are in **bold**. Write natural keywords; typos are \
tolerated. Operators: \"exact phrase\"; -word or -\"phrase\" to exclude; a OR b; tag:#topic (also matches nested \
tags like #topic/sub); path:folder/name; file:name; [property:value] or [property] for frontmatter properties. \
Call `fetch` with a result's `id` to read the whole note.";

const FETCH_DESCRIPTION: &str = "Read one note whole: its markdown text (without frontmatter) and metadata (path, \
tags, aliases, created, modified, frontmatter properties, outgoing links with the ids they resolve to, and \
backlinks). Takes an `id` exactly as `search` returned it (also accepted: the path without .md, or the note's \
frontmatter id).";

fn object(value: serde_json::Value) -> Arc<JsonObject> {
    match value {
        serde_json::Value::Object(map) => Arc::new(map),
        _ => unreachable!("schemas are objects"),
    }
}

fn read_only(title: &str) -> ToolAnnotations {
    ToolAnnotations::with_title(title)
        .read_only(true)
        .destructive(false)
        .idempotent(true)
        .open_world(false)
}

/// The `search` and `fetch` tools.
pub fn definitions() -> Vec<Tool> {
    let search_in = object(json!({
        "type": "object",
        "properties": {"query": {"type": "string", "description": "What to look for; may use the operators above."}},
        "required": ["query"],
        "additionalProperties": false
    }));
    let search_out = object(json!({
        "type": "object",
        "properties": {"results": {"type": "array", "items": {
            "type": "object",
            "properties": {
                "id": {"type": "string"}, "title": {"type": "string"},
                "url": {"type": "string"}, "snippet": {"type": "string"}
            },
            "required": ["id", "title", "url", "snippet"]
        }}},
        "required": ["results"]
    }));
    let fetch_in = object(json!({
        "type": "object",
        "properties": {"id": {"type": "string", "description": "A note id from search, e.g. research/2025-06-29/001-note.md"}},
        "required": ["id"],
        "additionalProperties": false
    }));
    let fetch_out = object(json!({
        "type": "object",
        "properties": {
            "id": {"type": "string"}, "title": {"type": "string"}, "text": {"type": "string"},
            "url": {"type": "string"},
            "metadata": {"type": "object", "properties": {
                "path": {"type": "string"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "aliases": {"type": "array", "items": {"type": "string"}},
                "created": {"type": "string"}, "modified": {"type": "string"},
                "properties": {"type": "object"},
                "links": {"type": "array", "items": {"type": "object"}},
                "backlinks": {"type": "array", "items": {"type": "object"}}
            }}
        },
        "required": ["id", "title", "text", "url", "metadata"]
    }));
    vec![
        Tool::new("search", SEARCH_DESCRIPTION, search_in)
            .with_title("Search notes")
            .with_raw_output_schema(search_out)
            .with_annotations(read_only("Search notes")),
        Tool::new("fetch", FETCH_DESCRIPTION, fetch_in)
            .with_title("Read a note")
            .with_raw_output_schema(fetch_out)
            .with_annotations(read_only("Read a note")),
    ]
}

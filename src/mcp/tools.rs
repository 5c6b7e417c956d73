//! The tool definitions: names, descriptions that teach the model, annotations, and schemas
//! derived from the Rust types the tools take and return (so they cannot drift from them).

use std::sync::Arc;

use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use schemars::JsonSchema;
use serde::Deserialize;

use super::{SEARCH_TOOL_LIMIT, ToolResults};
use crate::index::FetchedNote;

/// The `search` tool's arguments.
// `additionalProperties: false` in the schema, yet extra arguments are ignored, not refused.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(super) struct SearchArgs {
    /// What to look for; may use the operators above.
    pub query: String,
}

/// The `fetch` tool's arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(super) struct FetchArgs {
    /// A note id from search, e.g. research/2025-06-29/001-note.md
    pub id: String,
}

fn search_description() -> String {
    format!(
        "Search the person's Obsidian research notes. Returns up to {SEARCH_TOOL_LIMIT} notes, best first, \
each with `id`, `title`, `url` and a `snippet` where matched words are in **bold**. Write natural keywords; typos are \
tolerated. Operators: \"exact phrase\"; -word or -\"phrase\" to exclude; a OR b; tag:#topic (also matches nested \
tags like #topic/sub); path:folder/name; file:name; [property:value] or [property] for frontmatter properties. \
Call `fetch` with a result's `id` to read the whole note."
    )
}

const FETCH_DESCRIPTION: &str = "Read one note whole: its markdown text (without frontmatter) and metadata (path, \
tags, aliases, created, modified, frontmatter properties, outgoing links with the ids they resolve to, and \
backlinks). Takes an `id` exactly as `search` returned it (also accepted: the path without .md, or the note's \
frontmatter id).";

fn read_only(title: &str) -> ToolAnnotations {
    ToolAnnotations::with_title(title)
        .read_only(true)
        .destructive(false)
        .idempotent(true)
        .open_world(false)
}

/// The `search` and `fetch` tools.
pub fn definitions() -> Vec<Tool> {
    // Replaced by `with_input_schema`.
    let placeholder = || Arc::new(JsonObject::new());
    vec![
        Tool::new("search", search_description(), placeholder())
            .with_title("Search notes")
            .with_input_schema::<SearchArgs>()
            .with_output_schema::<ToolResults>()
            .with_annotations(read_only("Search notes")),
        Tool::new("fetch", FETCH_DESCRIPTION, placeholder())
            .with_title("Read a note")
            .with_input_schema::<FetchArgs>()
            .with_output_schema::<FetchedNote>()
            .with_annotations(read_only("Read a note")),
    ]
}

/// A tool's arguments as its type, or a one-line error a model can act on, naming the shape
/// the input schema asks for.
pub(super) fn parse_args<T: serde::de::DeserializeOwned>(
    tool: &Tool,
    args: Option<&JsonObject>,
) -> Result<T, String> {
    let value = serde_json::Value::Object(args.cloned().unwrap_or_default());
    serde_json::from_value(value).map_err(|e| {
        format!(
            "bad arguments ({e}); expected {}",
            shape(&tool.input_schema)
        )
    })
}

/// `{"query": string}` for an object schema.
fn shape(schema: &JsonObject) -> String {
    let fields: Vec<String> = schema
        .get("properties")
        .and_then(|p| p.as_object())
        .map(|props| {
            props
                .iter()
                .map(|(name, p)| {
                    let kind = p.get("type").and_then(|t| t.as_str()).unwrap_or("value");
                    format!("\"{name}\": {kind}")
                })
                .collect()
        })
        .unwrap_or_default();
    format!("{{{}}}", fields.join(", "))
}

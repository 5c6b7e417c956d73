//! Notes as MCP resources (`vault://note/<id>`), for clients other than ChatGPT.

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};
use rmcp::ErrorData as McpError;
use rmcp::model::{
    ListResourcesResult, ReadResourceResult, Resource, ResourceContents, ResourceTemplate,
};

use crate::index::{IndexError, NoteIndex};

/// Resources per `resources/list` page.
const PAGE: usize = 100;
const PREFIX: &str = "vault://note/";
/// Characters escaped in resource URIs (path segments keep their `/`).
const URI_SET: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

pub fn uri(id: &str) -> String {
    format!("{PREFIX}{}", utf8_percent_encode(id, URI_SET))
}

pub fn template() -> ResourceTemplate {
    ResourceTemplate::new(format!("{PREFIX}{{+id}}"), "note")
        .with_title("A note by id")
        .with_description(
            "A note of the vault by its id (vault-relative path, as `search` returns it)",
        )
        .with_mime_type("text/markdown")
}

pub async fn list(
    index: &NoteIndex,
    cursor: Option<String>,
) -> Result<ListResourcesResult, McpError> {
    let offset = match cursor {
        None => 0,
        Some(c) => c
            .parse::<usize>()
            .map_err(|_| McpError::invalid_params("invalid cursor", None))?,
    };
    let idx = index.clone();
    let (page, total) = tokio::task::spawn_blocking(move || idx.list_notes(offset, PAGE))
        .await
        .map_err(|_| McpError::internal_error("listing failed", None))?
        .map_err(|e| McpError::internal_error(format!("listing failed: {e}"), None))?;
    let resources = page
        .into_iter()
        .map(|(id, title)| {
            Resource::new(uri(&id), id)
                .with_title(title)
                .with_mime_type("text/markdown")
        })
        .collect();
    let mut result = ListResourcesResult::with_all_items(resources);
    if offset + PAGE < total {
        result.next_cursor = Some((offset + PAGE).to_string());
    }
    Ok(result)
}

pub async fn read(index: &NoteIndex, uri_text: &str) -> Result<ReadResourceResult, McpError> {
    // The requested URI travels in `data` (SEP-2164); rmcp turns the code into -32602 for
    // 2026-07-28 requests and keeps -32002 for sessions.
    let not_found = || {
        McpError::resource_not_found(
            format!("no note at {uri_text}"),
            Some(serde_json::json!({ "uri": uri_text })),
        )
    };
    let id = uri_text.strip_prefix(PREFIX).ok_or_else(not_found)?;
    let id = percent_decode_str(id)
        .decode_utf8()
        .map_err(|_| not_found())?
        .into_owned();
    let idx = index.clone();
    let note = tokio::task::spawn_blocking(move || idx.fetch(&id))
        .await
        .map_err(|_| not_found())?;
    match note {
        Ok(n) => Ok(ReadResourceResult::new(vec![
            ResourceContents::text(n.text, uri(&n.id)).with_mime_type("text/markdown"),
        ])),
        Err(IndexError::NotFound(_)) => Err(not_found()),
        Err(e) => Err(McpError::internal_error(format!("read failed: {e}"), None)),
    }
}

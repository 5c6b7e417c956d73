//! The MCP server: ChatGPT-shaped `search` and `fetch` tools, and notes as resources.
//!
//! Only this module and `http/` speak MCP. Tool results follow ChatGPT's shapes exactly: one
//! text item holding the JSON and `structuredContent` with the same object.

mod resources;
mod tools;

use std::sync::Arc;
use std::time::Instant;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{NotificationContext, Peer, RequestContext};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde::Serialize;

use crate::index::{IndexError, NoteIndex};

/// Hits the `search` tool returns at most (ChatGPT's deep research reads ten).
pub const SEARCH_TOOL_LIMIT: usize = 10;

/// One MCP session's handler. Cheap: everything is shared through the index.
#[derive(Clone)]
pub struct VaultServer {
    index: NoteIndex,
    tools: Arc<Vec<Tool>>,
    notifier: Arc<Notifier>,
}

impl VaultServer {
    pub fn new(index: NoteIndex, notifier: Arc<Notifier>) -> VaultServer {
        VaultServer {
            index,
            tools: Arc::new(tools::definitions()),
            notifier,
        }
    }
}

/// The sessions to tell when the set of notes changes (`notifications/resources/list_changed`).
#[derive(Default)]
pub struct Notifier {
    peers: std::sync::Mutex<Vec<Peer<RoleServer>>>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.peers.lock().map_or(0, |p| p.len());
        f.debug_struct("Notifier").field("sessions", &n).finish()
    }
}

impl Notifier {
    fn register(&self, peer: Peer<RoleServer>) {
        if let Ok(mut peers) = self.peers.lock() {
            peers.retain(|p| !p.is_transport_closed());
            peers.push(peer);
        }
    }

    /// Tells every open session that the list of notes changed; forgets closed ones.
    pub async fn resources_changed(&self) {
        let peers: Vec<Peer<RoleServer>> = match self.peers.lock() {
            Ok(mut peers) => {
                peers.retain(|p| !p.is_transport_closed());
                peers.clone()
            }
            Err(_) => return,
        };
        for peer in peers {
            if let Err(e) = peer.notify_resource_list_changed().await {
                tracing::debug!("could not notify a session: {e}");
            }
        }
    }
}

/// A search hit as ChatGPT wants it.
#[derive(Debug, Serialize)]
struct ToolHit {
    id: String,
    title: String,
    url: String,
    snippet: String,
}

#[derive(Debug, Serialize)]
struct ToolResults {
    results: Vec<ToolHit>,
}

fn tool_error(message: impl Into<String>) -> CallToolResponse {
    CallToolResult::error(vec![ContentBlock::text(message.into())]).into()
}

fn caller(ctx: &RequestContext<RoleServer>) -> String {
    ctx.extensions
        .get::<http::request::Parts>()
        .and_then(|p| p.extensions.get::<crate::auth::AuthUser>())
        .map_or_else(
            || "anonymous".to_owned(),
            |u| format!("{} ({})", u.sub, u.login),
        )
}

impl VaultServer {
    async fn run_search(&self, query: String) -> CallToolResponse {
        let index = self.index.clone();
        let result = tokio::task::spawn_blocking(move || {
            index.search_mode(&query, SEARCH_TOOL_LIMIT, index.default_mode())
        })
        .await;
        match result {
            Ok(Ok(hits)) => {
                let results = hits
                    .into_iter()
                    .map(|h| ToolHit {
                        id: h.id,
                        title: h.title,
                        url: h.url,
                        snippet: h.snippet,
                    })
                    .collect();
                structured(&ToolResults { results })
            }
            Ok(Err(e)) => {
                tracing::error!("search failed: {e}");
                tool_error("search failed on the server; try again")
            }
            Err(_) => tool_error("search failed on the server; try again"),
        }
    }

    async fn run_fetch(&self, id: String) -> CallToolResponse {
        let index = self.index.clone();
        let result = tokio::task::spawn_blocking(move || index.fetch(&id)).await;
        match result {
            Ok(Ok(note)) => structured(&note),
            Ok(Err(IndexError::NotFound(id))) => tool_error(format!(
                "no note with id {id:?}; use an id that search returned"
            )),
            Ok(Err(e)) => {
                tracing::error!("fetch failed: {e}");
                tool_error("fetch failed on the server; try again")
            }
            Err(_) => tool_error("fetch failed on the server; try again"),
        }
    }
}

/// One text item with the JSON, and the same object as `structuredContent`.
fn structured<T: Serialize>(value: &T) -> CallToolResponse {
    match serde_json::to_value(value) {
        Ok(v) => CallToolResult::structured(v).into(),
        Err(e) => tool_error(format!("cannot encode the result: {e}")),
    }
}

/// A required string argument, or the one-line error a model can act on.
fn string_arg(args: Option<&rmcp::model::JsonObject>, name: &str) -> Result<String, String> {
    match args.and_then(|a| a.get(name)) {
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!("argument `{name}` must be a string, not {other}")),
        None => Err(format!("missing required argument `{name}` (a string)")),
    }
}

impl ServerHandler for VaultServer {
    fn get_info(&self) -> ServerConfig {
        let caps = ServerCapabilities::builder()
            .enable_tools()
            .enable_resources()
            .enable_resources_list_changed()
            .build();
        let name = self.index.vault().name();
        let notes = self.index.note_count();
        ServerConfig::new(caps)
            .with_server_info(Implementation::new("vaultmcp", env!("CARGO_PKG_VERSION")))
            .with_instructions(format!(
                "This server gives read-only access to \"{name}\", a person's Obsidian vault of {notes} markdown research \
                 notes. Use `search` to find notes (it understands \"exact phrases\", -exclusions, OR, tag:#tag, path:, \
                 file: and [property:value]); then `fetch` a note by the `id` that search returned to read it whole, with \
                 its tags, dates, links and backlinks. Cite notes with their `url`."
            ))
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        self.notifier.register(context.peer);
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(self.tools.as_ref().clone()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools.iter().find(|t| t.name == name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let started = Instant::now();
        let args = request.arguments.as_ref();
        let response = match request.name.as_ref() {
            "search" => match string_arg(args, "query") {
                Ok(q) => self.run_search(q).await,
                Err(e) => tool_error(e),
            },
            "fetch" => match string_arg(args, "id") {
                Ok(id) => self.run_fetch(id).await,
                Err(e) => tool_error(e),
            },
            other => {
                return Err(McpError::invalid_params(
                    format!("unknown tool {other:?}; the tools are search and fetch"),
                    None,
                ));
            }
        };
        let is_error =
            matches!(&response, CallToolResponse::Complete(r) if r.is_error == Some(true));
        tracing::info!(
            tool = %request.name,
            user = %caller(&context),
            ms = format_args!("{:.2}", started.elapsed().as_secs_f64() * 1000.0),
            error = is_error,
            "tool call"
        );
        Ok(response)
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        resources::list(&self.index, request.and_then(|r| r.cursor)).await
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            resources::template(),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        resources::read(&self.index, &request.uri)
            .await
            .map(Into::into)
    }
}

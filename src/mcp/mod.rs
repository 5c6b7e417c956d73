//! The MCP server: ChatGPT-shaped `search` and `fetch` tools, and notes as resources.
//!
//! Only this module and `http/` speak MCP. Tool results follow ChatGPT's shapes exactly: one
//! text item holding the JSON and `structuredContent` with the same object.

mod notify;
mod resources;
mod tools;

use std::sync::Arc;
use std::time::Instant;

use std::borrow::Cow;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ProtocolVersion, ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities,
    ServerConfig, SubscriptionFilter, Tool,
};
use rmcp::service::{NotificationContext, RequestContext, SubscriptionContext};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use schemars::JsonSchema;
use serde::Serialize;

use crate::index::{IndexError, NoteIndex};

pub use notify::Notifier;

/// Hits the `search` tool returns at most (ChatGPT's deep research reads ten).
pub const SEARCH_TOOL_LIMIT: usize = 10;

/// The protocol versions served: the session era through `initialize`, and 2026-07-28
/// statelessly. `server/discover` lists exactly these, and an `initialize` asking for another
/// (2024-11-05 included: its HTTP+SSE transport is not served) is answered with 2025-11-25.
pub const PROTOCOL_VERSIONS: &[ProtocolVersion] = &[
    ProtocolVersion::V_2025_03_26,
    ProtocolVersion::V_2025_06_18,
    ProtocolVersion::V_2025_11_25,
    ProtocolVersion::V_2026_07_28,
];

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

/// A search hit as ChatGPT wants it.
#[derive(Debug, Serialize, JsonSchema)]
struct ToolHit {
    id: String,
    title: String,
    url: String,
    snippet: String,
}

/// The `search` tool's result.
#[derive(Debug, Serialize, JsonSchema)]
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

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Borrowed(PROTOCOL_VERSIONS)
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        self.notifier.register_session(context.peer);
    }

    /// The one notification a listen stream can carry here: the list of notes changed. rmcp
    /// intersects this with what was requested and what `get_info` advertises.
    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        let mut accepted = SubscriptionFilter::new();
        accepted.resources_list_changed = requested.resources_list_changed.filter(|on| *on);
        Some(accepted)
    }

    /// Holds a `subscriptions/listen` stream open (rmcp has sent the acknowledgement) until
    /// the client goes away, or the server stops: then returning makes rmcp send the final
    /// result that tells the client the stream ended gracefully.
    async fn listen(&self, subscription: SubscriptionContext) -> Result<(), McpError> {
        let _listening = (subscription.accepted().resources_list_changed == Some(true))
            .then(|| self.notifier.register_listener(subscription.sink().clone()));
        tokio::select! {
            () = subscription.cancelled() => {}
            () = self.notifier.closing().cancelled() => {}
        }
        Ok(())
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
        let Some(tool) = self.tools.iter().find(|t| t.name == request.name) else {
            return Err(McpError::invalid_params(
                format!(
                    "unknown tool {:?}; the tools are search and fetch",
                    request.name
                ),
                None,
            ));
        };
        let response = match tool.name.as_ref() {
            "search" => match tools::parse_args::<tools::SearchArgs>(tool, args) {
                Ok(a) => self.run_search(a.query).await,
                Err(e) => tool_error(e),
            },
            "fetch" => match tools::parse_args::<tools::FetchArgs>(tool, args) {
                Ok(a) => self.run_fetch(a.id).await,
                Err(e) => tool_error(e),
            },
            other => tool_error(format!("tool {other:?} has no handler")),
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

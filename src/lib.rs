//! vaultmcp: search and read an Obsidian vault from ChatGPT over MCP.
//!
//! The library holds everything; `main.rs` only parses the command line. See ARCHITECTURE.md
//! for the map.

pub mod auth;
pub mod cli;
pub mod config;
pub mod embed;
pub mod http;
pub mod index;
pub mod mcp;
pub mod models;
pub mod serve;
pub mod vault;
pub mod watch;

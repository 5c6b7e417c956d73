//! The command line: `reindex`, `search`, `fetch`, `serve`, and the admin commands `keys`,
//! `token`, `clients` and `audit`.
//!
//! Exit codes: 0 success, 1 runtime failure, 2 usage error (clap's own). Errors are one
//! sentence on stderr.

mod admin;
mod output;

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::{CommonArgs, Config, Logging, ServeArgs};
use crate::index::{IndexError, NoteIndex, Progress, ReindexReport, SearchMode};
use crate::vault::Vault;
use crate::watch::control;

/// Search and read an Obsidian vault, from the shell or from ChatGPT over MCP.
#[derive(Debug, Parser)]
#[command(name = "vaultmcp", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(subcommand)]
    pub command: Command,
}

// These doc comments are clap's `--help` text, printed as written (not Markdown).
#[allow(rustdoc::broken_intra_doc_links)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Bring the index up to date with the vault (only changed notes are re-read)
    Reindex {
        /// Rebuild from scratch instead of updating
        #[arg(long)]
        full: bool,
        /// Print the report as JSON
        #[arg(long)]
        json: bool,
    },
    /// Search the vault; operators: "phrase", -word, OR, tag:#x, path:, file:, [prop:value]
    Search {
        /// Most results to show (1-100)
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=100))]
        limit: u16,
        /// Print {"results":[...]} JSON
        #[arg(long)]
        json: bool,
        /// How to rank [default: hybrid with a model, else lexical]
        #[arg(long, value_parser = ["lexical", "semantic", "hybrid"])]
        mode: Option<String>,
        /// The query (several words are joined with spaces)
        #[arg(required = true, num_args = 1.., allow_hyphen_values = true)]
        query: Vec<String>,
    },
    /// Run the MCP server (Streamable HTTP at /mcp) and keep the index live
    Serve {
        #[command(flatten)]
        serve: ServeArgs,
    },
    /// Download and list embedding models (semantic search)
    Model {
        #[command(subcommand)]
        action: ModelAction,
    },
    /// Manage the token signing keys in the data dir
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Personal access tokens for scripts and header-configured MCP clients
    Token {
        #[command(subcommand)]
        action: admin::TokenAction,
    },
    /// The apps connected through OAuth, and cutting one off
    Clients {
        #[command(subcommand)]
        action: admin::ClientsAction,
    },
    /// Sign-ins, refusals, consent decisions, revocations and token creation
    Audit {
        /// How far back, e.g. 7d, 12h
        #[arg(long, default_value = "7d", value_name = "DURATION")]
        since: String,
        #[arg(long)]
        json: bool,
    },
    /// Print a note: by id, by path without .md, or by its frontmatter id
    Fetch {
        /// Print the same JSON object as the MCP fetch tool
        #[arg(long)]
        json: bool,
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ModelAction {
    /// Download a model into the data dir's models/ folder (default: all-MiniLM-L6-v2, used from then on)
    Pull {
        /// A known model's name, or a Hugging Face repository as owner/name
        name: Option<String>,
    },
    /// The models in the data dir, and those `pull` knows
    List,
}

#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Make a new signing key; tokens signed by the old one stay valid until they expire
    Rotate,
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", one_sentence(&err));
            ExitCode::from(1)
        }
    }
}

/// `outer: inner: root`, without repeating a cause that the outer message already quotes.
fn one_sentence(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let s = cause.to_string();
        if !parts.last().is_some_and(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ")
}

/// Logs go to stderr, set up once the configuration is read (it says how); `RUST_LOG` filters.
/// The server logs `info` by default, the other commands only errors (their reports are their
/// output). Colour only on a terminal and never with `NO_COLOR`: a file, a pipe or the journal
/// gets plain text.
fn init_logging(server: bool, logging: &Logging) {
    use tracing_subscriber::EnvFilter;
    let default = if server { "info" } else { "error" };
    let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour(logging, std::io::stderr().is_terminal()))
        .with_target(false);
    let _ = if logging.json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Whether log lines may carry ANSI colour codes.
fn colour(logging: &Logging, stderr_is_terminal: bool) -> bool {
    stderr_is_terminal && !logging.no_color && !logging.json
}

/// The configuration of a command that works on the vault in this process, logging set up.
fn load_local(common: &CommonArgs) -> anyhow::Result<Config> {
    let config = Config::load(common)?;
    init_logging(false, &config.logging);
    Ok(config)
}

/// The data dir of a command that touches nothing else (keys, tokens, clients, the audit log):
/// no vault needed. Logging set up.
fn load_data_dir(common: &CommonArgs) -> anyhow::Result<std::path::PathBuf> {
    let config = Config::load_data_dir(common)?;
    init_logging(false, &config.logging);
    Ok(config.data_dir)
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Reindex { full, json } => {
            let config = load_local(&cli.common)?;
            let report = reindex(&config, full)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                output::print_report(&report);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Search {
            limit,
            json,
            mode,
            query,
        } => {
            let config = load_local(&cli.common)?;
            let index = open_fresh(&config)?;
            let mode = match mode.as_deref() {
                None => index.default_mode(),
                Some(m) => m.parse::<SearchMode>().map_err(anyhow::Error::msg)?,
            };
            if mode != SearchMode::Lexical && index.model().is_none() {
                anyhow::bail!(
                    "--mode {} needs an embedding model: pass --model DIR, set VAULTMCP_MODEL, or run `vaultmcp model pull`",
                    if mode == SearchMode::Semantic {
                        "semantic"
                    } else {
                        "hybrid"
                    }
                );
            }
            let hits = index.search_mode(&query.join(" "), usize::from(limit), mode)?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string(&crate::index::SearchResults { results: hits })?
                );
            } else {
                output::print_hits(&hits);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { serve } => {
            let config = Config::load_with(&cli.common, &serve)?;
            init_logging(true, &config.logging);
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(crate::serve::run(config))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys {
            action: KeysAction::Rotate,
        } => {
            let data_dir = load_data_dir(&cli.common)?;
            std::fs::create_dir_all(&data_dir)
                .with_context(|| format!("cannot create the data folder {}", data_dir.display()))?;
            let kid = crate::auth::rotate_keys(&data_dir)?;
            println!("new signing key {kid}; a running server uses it within a minute");
            Ok(ExitCode::SUCCESS)
        }
        Command::Token { action } => {
            admin::token(&load_data_dir(&cli.common)?, action)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Clients { action } => {
            admin::clients(&load_data_dir(&cli.common)?, action)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit { since, json } => {
            admin::audit(&load_data_dir(&cli.common)?, &since, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Model { action } => {
            let config = load_local(&cli.common)?;
            model_command(&config, action)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Fetch { json, id } => {
            let config = load_local(&cli.common)?;
            let index = open_fresh(&config)?;
            let note = index.fetch(&id)?;
            if json {
                println!("{}", serde_json::to_string(&note)?);
            } else {
                output::print_note(&note);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn model_command(config: &Config, action: ModelAction) -> anyhow::Result<()> {
    match action {
        ModelAction::List => {
            let installed = crate::models::installed(&config.data_dir);
            println!(
                "in {}:",
                crate::models::models_dir(&config.data_dir).display()
            );
            if installed.is_empty() {
                println!("  (none)");
            }
            for name in &installed {
                println!("  {name}");
            }
            println!("known to `vaultmcp model pull`:");
            for k in crate::models::known() {
                println!("  {:<20} {} ({})", k.name, k.about, k.repo);
            }
            if let Some(m) = &config.model {
                println!("in use: {}", m.display());
            }
        }
        ModelAction::Pull { name } => {
            let name = name.unwrap_or_else(|| crate::models::DEFAULT_MODEL.to_string());
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            let bar = PullBar::new();
            let dir = runtime.block_on(crate::models::pull(
                &config.model_base_url,
                &config.data_dir,
                &name,
                &bar,
            ))?;
            bar.finish();
            println!("model ready in {}", dir.display());
        }
    }
    Ok(())
}

/// A bar styled with `template` when stderr is a terminal, hidden until the caller gives it a
/// draw target; `None` otherwise (progress is then left to the summary line).
fn terminal_bar(template: &str) -> Option<indicatif::ProgressBar> {
    std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::hidden();
        bar.set_style(
            indicatif::ProgressStyle::with_template(template)
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar
    })
}

/// A download bar on a terminal, nothing otherwise.
struct PullBar(Option<indicatif::ProgressBar>);

impl PullBar {
    fn new() -> PullBar {
        let bar = terminal_bar("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}");
        if let Some(b) = &bar {
            b.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
        PullBar(bar)
    }

    fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

impl crate::models::PullProgress for PullBar {
    fn file(&self, name: &str, done: u64, total: Option<u64>) {
        if let Some(b) = &self.0 {
            b.set_message(name.to_string());
            b.set_length(total.unwrap_or(0));
            b.set_position(done);
        }
    }

    fn advance(&self, bytes: u64) {
        if let Some(b) = &self.0 {
            b.inc(bytes);
        }
    }
}

fn open_vault(config: &Config) -> anyhow::Result<Vault> {
    Vault::open(&config.vault, config.max_note_bytes)
}

/// `reindex`: takes the writer, brings the index up to date, reports.
/// While `serve` runs it owns the writer: the work is handed to it over the control socket
/// and its progress shown here.
pub fn reindex(config: &Config, full: bool) -> anyhow::Result<ReindexReport> {
    let bar = ProgressBar::new();
    if let Some(report) = control::remote_reindex(&config.data_dir, full, &bar)? {
        bar.finish();
        return Ok(report);
    }
    drop(bar);
    let index = NoteIndex::open_or_create(&config.data_dir, open_vault(config)?)
        .with_context(|| format!("cannot open the index in {}", config.data_dir.display()))?;
    let mut indexer = index.indexer()?;
    let model = crate::models::open_model(config)?;
    if let Some(m) = &model {
        indexer.set_model(m.clone())?;
    }
    let bar = ProgressBar::new();
    let mut report = indexer.sync_all(full, &bar)?;
    bar.finish();
    if model.is_some() {
        // `reindex` returns when the vectors are complete too.
        let bar = ProgressBar::embedding();
        let e = indexer.embed_all(&bar)?;
        bar.finish();
        report.embedded = e.embedded;
        report.warnings.extend(e.warnings);
        report.seconds += e.seconds;
    }
    indexer.finish()?;
    Ok(report)
}

/// Opens the index for `search` and `fetch`, building it when missing and catching it up when
/// the vault changed, unless another process holds the writer (then it reads what is there).
pub fn open_fresh(config: &Config) -> anyhow::Result<NoteIndex> {
    let vault = open_vault(config)?;
    // A broken model folder is said once; the command goes on with lexical search.
    let model = crate::models::open_model(config).unwrap_or_else(|e| {
        eprintln!("warning: {e}; searching by words only");
        None
    });
    let with_model = |index: NoteIndex| -> anyhow::Result<NoteIndex> {
        if let Some(m) = &model {
            index.set_model(m.clone())?;
        }
        Ok(index)
    };
    let index = match NoteIndex::open_existing(&config.data_dir, vault.clone()).map(with_model) {
        // A running server keeps the index current: read it as it is.
        Ok(index) if control::server_running(&config.data_dir) => return index,
        // Nothing changed since the last sync, vectors included: no need for the writer.
        Ok(Ok(index)) if index.is_current()? && !index.vectors_missing() => return Ok(index),
        Ok(index) => index?,
        Err(IndexError::Missing(_)) => with_model(
            NoteIndex::open_or_create(&config.data_dir, vault).with_context(|| {
                format!("cannot create the index in {}", config.data_dir.display())
            })?,
        )?,
        Err(e) => return Err(e).context("cannot open the index"),
    };
    match index.indexer() {
        Ok(mut indexer) => {
            if let Some(m) = &model {
                indexer.set_model(m.clone())?;
            }
            let bar = ProgressBar::new();
            let mut report = indexer.sync_all(false, &bar)?;
            bar.finish();
            if model.is_some() {
                let bar = ProgressBar::embedding();
                report.embedded = indexer.embed_all(&bar)?.embedded;
                bar.finish();
            }
            if report.changed() {
                eprintln!(
                    "index updated: {} indexed, {} removed, {} skipped, {} embedded ({} notes, {:.2} s)",
                    report.indexed,
                    report.removed,
                    report.skipped.len(),
                    report.embedded,
                    report.notes,
                    report.seconds
                );
            }
        }
        // Another process (normally `serve`) owns the writer and keeps the index current.
        Err(IndexError::Busy) => index.reload()?,
        Err(e) => return Err(e.into()),
    }
    Ok(index)
}

/// A progress bar on a terminal, nothing otherwise.
struct ProgressBar(Option<indicatif::ProgressBar>);

impl ProgressBar {
    fn new() -> ProgressBar {
        ProgressBar::labelled("indexing")
    }

    fn embedding() -> ProgressBar {
        ProgressBar::labelled("embedding")
    }

    fn labelled(what: &str) -> ProgressBar {
        ProgressBar(terminal_bar(&format!(
            "{{spinner}} {what} {{pos}}/{{len}} notes [{{bar:30}}] {{per_sec}} eta {{eta}}"
        )))
    }

    fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

impl Progress for ProgressBar {
    fn start(&self, total: u64) {
        if let Some(b) = &self.0 {
            b.set_length(total);
            // Only show the bar for work long enough to watch.
            if total > 500 {
                b.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            }
        }
    }

    fn advance(&self, n: u64) {
        if let Some(b) = &self.0 {
            b.inc(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        let plain = Logging::default();
        let no_color = Logging {
            no_color: true,
            ..Logging::default()
        };
        assert!(colour(&plain, true));
        assert!(!colour(&plain, false), "a file, a pipe or the journal");
        assert!(!colour(&no_color, true), "NO_COLOR");
    }
}

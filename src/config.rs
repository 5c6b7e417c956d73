//! One `Config`, assembled in one place from flags, environment and the config file.
//!
//! Precedence: command-line flag, then environment variable, then the TOML file, then the
//! default. Handlers never read the environment; they get a `Config`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use serde::Deserialize;
use url::Url;

/// Default size limit of one note (10 MB); bigger files are skipped with a warning.
pub const DEFAULT_MAX_NOTE_BYTES: u64 = 10 * 1024 * 1024;
const DEFAULT_BIND: &str = "127.0.0.1:8787";

/// Flags every subcommand shares (the "raw" stage of the configuration).
// These doc comments are clap's `--help` text, printed as written (not Markdown).
#[allow(rustdoc::invalid_html_tags)]
#[derive(Debug, Clone, Default, Args)]
pub struct CommonArgs {
    /// The vault folder [env: VAULTMCP_VAULT] [default: ./vault-fixtures when it exists]
    #[arg(long, global = true, value_name = "DIR")]
    pub vault: Option<PathBuf>,
    /// Where the index and all state live [env: VAULTMCP_DATA_DIR]
    /// [default: ~/.local/share/vaultmcp/<vault-name>-<hash>/]
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// TOML config file [env: VAULTMCP_CONFIG] [default: ~/.config/vaultmcp/config.toml]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// An embedding model folder, for semantic and hybrid search [env: VAULTMCP_MODEL]
    /// [default: DATA_DIR/models/all-MiniLM-L6-v2 when model pull put it there]
    #[arg(long, global = true, value_name = "DIR")]
    pub model: Option<PathBuf>,
}

/// Flags of `serve`.
// These doc comments are clap's `--help` text, printed as written (not Markdown).
#[allow(rustdoc::invalid_html_tags)]
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Address to listen on [env: VAULTMCP_BIND] [default: 127.0.0.1:8787]
    #[arg(long, value_name = "ADDR:PORT")]
    pub bind: Option<String>,
    /// The URL clients reach the server at, e.g. a tunnel's https URL [env: VAULTMCP_PUBLIC_URL]
    /// [default: http://<bind>]
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// More browser origins that may call MCP, comma-separated, each scheme://host:port
    /// [env: VAULTMCP_ALLOWED_ORIGINS]
    #[arg(long, value_name = "ORIGINS")]
    pub allowed_origins: Option<String>,
    /// Sign in as `local` on the consent page instead of GitHub (loopback only)
    #[arg(long)]
    pub local_login: bool,
    /// Serve MCP without any token (loopback only)
    #[arg(long, conflicts_with = "local_login")]
    pub no_auth: bool,
}

/// The config file. Every field is optional; see [`Config`] for meanings and defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub vault: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub bind: Option<String>,
    pub public_url: Option<String>,
    pub allowed_origins: Option<String>,
    pub model: Option<PathBuf>,
    pub max_note_bytes: Option<u64>,
    pub github_client_id: Option<String>,
    pub github_client_secret: Option<String>,
    pub github_allowed_login: Option<String>,
    pub github_allowed_id: Option<String>,
    pub github_web_url: Option<String>,
    pub github_api_url: Option<String>,
    pub access_token_ttl_secs: Option<u64>,
    pub refresh_token_ttl_secs: Option<u64>,
    pub trust_forwarded_for: Option<bool>,
    pub allow_loopback_fetch: Option<bool>,
    pub log_json: Option<bool>,
}

/// GitHub OAuth App settings.
#[derive(Clone)]
pub struct GitHubConfig {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub allowed_logins: Vec<String>,
    pub allowed_ids: Vec<u64>,
    pub web_url: Url,
    pub api_url: Url,
}

impl std::fmt::Debug for GitHubConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret never reaches a log line.
        f.debug_struct("GitHubConfig")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("allowed_logins", &self.allowed_logins)
            .field("allowed_ids", &self.allowed_ids)
            .field("web_url", &self.web_url.as_str())
            .field("api_url", &self.api_url.as_str())
            .finish()
    }
}

/// The checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The vault folder (canonical).
    pub vault: PathBuf,
    /// The data folder: index, auth store, control socket.
    pub data_dir: PathBuf,
    /// Notes larger than this many bytes are skipped (default 10 MB).
    pub max_note_bytes: u64,
    /// Listen address of `serve` (default 127.0.0.1:8787).
    pub bind: SocketAddr,
    /// Public base URL as parsed (default `http://<bind>`). A URL without a path gets the path
    /// `/`, so it may end in a slash: [`Config::public_base`] gives the text without one.
    pub public_url: Url,
    /// Browser origins allowed to call MCP (the Origin check and CORS) besides the public
    /// URL's, loopback ones and the hosted clients', as `scheme://host[:port]` (default none).
    pub allowed_origins: Vec<String>,
    pub local_login: bool,
    pub no_auth: bool,
    pub github: GitHubConfig,
    /// Access token lifetime (default 1 hour).
    pub access_token_ttl_secs: u64,
    /// Refresh token lifetime, sliding (default 30 days).
    pub refresh_token_ttl_secs: u64,
    /// Trust the last `X-Forwarded-For` hop (the one a reverse proxy appends) as the client's
    /// address, for rate limits (default false). The scheme always comes from the public URL;
    /// `X-Forwarded-Proto` is never read.
    pub trust_forwarded_for: bool,
    /// Fetch client metadata documents and key sets over http from loopback addresses
    /// (`VAULTMCP_ALLOW_LOOPBACK_FETCH`; tests and local development; `serve` refuses it unless
    /// the public URL is loopback). Default false.
    pub allow_loopback_fetch: bool,
    pub logging: Logging,
    /// The embedding model folder, when one is given or pulled (default none: lexical search).
    pub model: Option<PathBuf>,
    /// Where `model pull` downloads from (default `https://huggingface.co`).
    pub model_base_url: String,
}

/// How logs are written (to stderr).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Logging {
    /// JSON lines instead of text (`VAULTMCP_LOG_JSON`, file key `log_json`; default false).
    pub json: bool,
    /// `NO_COLOR` is set: no ANSI colour even on a terminal (<https://no-color.org>).
    pub no_color: bool,
}

/// What the commands that touch only the data dir need (`keys`, `token`, `clients`, `audit`):
/// the data dir, and how to log.
#[derive(Debug, Clone)]
pub struct DataConfig {
    pub data_dir: PathBuf,
    pub logging: Logging,
}

/// The environment as the configuration reads it; empty values count as unset. Tests pass
/// their own lookup instead of changing the process's environment.
struct Env<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }

    fn flag(&self, name: &str) -> anyhow::Result<Option<bool>> {
        self.get(name).map(|v| parse_bool(name, &v)).transpose()
    }
}

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The one reading of a yes/no setting: `1`, `true`, `yes`, `on` or `0`, `false`, `no`, `off`,
/// in any case; anything else is an error naming the setting.
pub fn parse_bool(name: &str, value: &str) -> anyhow::Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => {
            bail!("{name} {value:?} is not a yes/no value (1, true, yes, on or 0, false, no, off)")
        }
    }
}

impl Config {
    /// Assembles the configuration for commands that only need the vault and data dir.
    pub fn load(common: &CommonArgs) -> anyhow::Result<Config> {
        Config::load_with(common, &ServeArgs::default())
    }

    /// Assembles the configuration: flags, then environment, then file, then defaults.
    pub fn load_with(common: &CommonArgs, serve: &ServeArgs) -> anyhow::Result<Config> {
        Config::load_from(common, serve, &process_env)
    }

    /// The data dir (and logging) alone, for commands that touch nothing but the data dir: the
    /// vault is consulted only when no data dir is given, for the default one.
    pub fn load_data_dir(common: &CommonArgs) -> anyhow::Result<DataConfig> {
        Config::load_data_dir_from(common, &process_env)
    }

    fn load_data_dir_from(
        common: &CommonArgs,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<DataConfig> {
        let env = Env(lookup);
        let file = load_file(config_path(common, &env))?;
        let logging = logging(&file, &env)?;
        let data_dir = match given_data_dir(common, &file, &env) {
            Some(d) => d,
            None => match given_vault(common, &file, &env) {
                Some(vault) => default_data_dir(&checked_vault(&vault)?)?,
                None => bail!(
                    "no data folder given: pass --data-dir DIR (or --vault DIR for its default data folder)"
                ),
            },
        };
        Ok(DataConfig { data_dir, logging })
    }

    fn load_from(
        common: &CommonArgs,
        serve: &ServeArgs,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Config> {
        let env = Env(lookup);
        let file = load_file(config_path(common, &env))?;
        let vault = match given_vault(common, &file, &env) {
            Some(v) => v,
            None if Path::new("vault-fixtures").is_dir() => PathBuf::from("vault-fixtures"),
            None => bail!(
                "no vault given: pass --vault DIR, set VAULTMCP_VAULT, or set `vault` in the config file"
            ),
        };
        let vault = checked_vault(&vault)?;
        let data_dir = match given_data_dir(common, &file, &env) {
            Some(d) => d,
            None => default_data_dir(&vault)?,
        };

        let bind_raw = serve
            .bind
            .clone()
            .or_else(|| env.get("VAULTMCP_BIND"))
            .or(file.bind.clone())
            .unwrap_or_else(|| DEFAULT_BIND.to_owned());
        let bind: SocketAddr = bind_raw.parse().with_context(|| {
            format!("--bind {bind_raw:?} is not an ADDR:PORT like 127.0.0.1:8787")
        })?;

        let public_raw = serve
            .public_url
            .clone()
            .or_else(|| env.get("VAULTMCP_PUBLIC_URL"))
            .or(file.public_url.clone());
        let public_url = match public_raw {
            Some(raw) => parse_public_url(&raw)?,
            None => Url::parse(&format!("http://{bind}"))
                .context("cannot form the default public URL")?,
        };

        let allowed_origins = match serve
            .allowed_origins
            .clone()
            .or_else(|| env.get("VAULTMCP_ALLOWED_ORIGINS"))
            .or(file.allowed_origins.clone())
        {
            Some(raw) => parse_allowed_origins(&raw)?,
            None => Vec::new(),
        };

        let github_url = |v: Option<String>,
                          f: Option<String>,
                          default: &str,
                          name: &str|
         -> anyhow::Result<Url> {
            let raw = v.or(f).unwrap_or_else(|| default.to_owned());
            Url::parse(&raw).with_context(|| format!("{name} {raw:?} is not a URL"))
        };
        let allowed_ids = env
            .get("GITHUB_ALLOWED_ID")
            .or(file.github_allowed_id.clone())
            .map(|s| {
                s.split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(|p| {
                        p.parse::<u64>().with_context(|| {
                            format!("GITHUB_ALLOWED_ID entry {p:?} is not a numeric GitHub user id")
                        })
                    })
                    .collect::<anyhow::Result<Vec<_>>>()
            })
            .transpose()?
            .unwrap_or_default();
        let github = GitHubConfig {
            client_id: env
                .get("GITHUB_CLIENT_ID")
                .or(file.github_client_id.clone()),
            client_secret: env
                .get("GITHUB_CLIENT_SECRET")
                .or(file.github_client_secret.clone()),
            allowed_logins: env
                .get("GITHUB_ALLOWED_LOGIN")
                .or(file.github_allowed_login.clone())
                .map(|s| {
                    s.split(',')
                        .map(|p| p.trim().to_owned())
                        .filter(|p| !p.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            allowed_ids,
            web_url: github_url(
                env.get("VAULTMCP_GITHUB_WEB_URL"),
                file.github_web_url.clone(),
                "https://github.com",
                "VAULTMCP_GITHUB_WEB_URL",
            )?,
            api_url: github_url(
                env.get("VAULTMCP_GITHUB_API_URL"),
                file.github_api_url.clone(),
                "https://api.github.com",
                "VAULTMCP_GITHUB_API_URL",
            )?,
        };

        let secs = |name: &str, f: Option<u64>, default: u64| -> anyhow::Result<u64> {
            match env.get(name) {
                Some(v) => v
                    .trim()
                    .parse()
                    .with_context(|| format!("{name} {v:?} is not a number of seconds")),
                None => Ok(f.unwrap_or(default)),
            }
        };
        let model = common
            .model
            .clone()
            .or_else(|| env.get("VAULTMCP_MODEL").map(PathBuf::from))
            .or(file.model.clone())
            .or_else(|| {
                let pulled =
                    crate::models::models_dir(&data_dir).join(crate::models::DEFAULT_MODEL);
                pulled.is_dir().then_some(pulled)
            });
        Ok(Config {
            model,
            model_base_url: env
                .get("VAULTMCP_MODEL_BASE_URL")
                .unwrap_or_else(|| "https://huggingface.co".to_owned()),
            vault,
            data_dir,
            max_note_bytes: match env.get("VAULTMCP_MAX_NOTE_BYTES") {
                Some(v) => v
                    .trim()
                    .parse()
                    .with_context(|| format!("VAULTMCP_MAX_NOTE_BYTES {v:?} is not a number"))?,
                None => file.max_note_bytes.unwrap_or(DEFAULT_MAX_NOTE_BYTES),
            },
            bind,
            public_url,
            allowed_origins,
            local_login: serve.local_login,
            no_auth: serve.no_auth,
            github,
            access_token_ttl_secs: secs(
                "VAULTMCP_ACCESS_TOKEN_TTL",
                file.access_token_ttl_secs,
                3600,
            )?,
            refresh_token_ttl_secs: secs(
                "VAULTMCP_REFRESH_TOKEN_TTL",
                file.refresh_token_ttl_secs,
                30 * 24 * 3600,
            )?,
            trust_forwarded_for: env
                .flag("VAULTMCP_TRUST_FORWARDED_FOR")?
                .or(file.trust_forwarded_for)
                .unwrap_or(false),
            allow_loopback_fetch: env
                .flag("VAULTMCP_ALLOW_LOOPBACK_FETCH")?
                .or(file.allow_loopback_fetch)
                .unwrap_or(false),
            logging: logging(&file, &env)?,
        })
    }

    /// The public URL as text without a trailing slash, e.g. `https://notes.example.com`.
    pub fn public_base(&self) -> String {
        self.public_url.as_str().trim_end_matches('/').to_owned()
    }
}

fn config_path(common: &CommonArgs, env: &Env) -> Option<PathBuf> {
    common
        .config
        .clone()
        .or_else(|| env.get("VAULTMCP_CONFIG").map(PathBuf::from))
}

fn given_vault(common: &CommonArgs, file: &FileConfig, env: &Env) -> Option<PathBuf> {
    common
        .vault
        .clone()
        .or_else(|| env.get("VAULTMCP_VAULT").map(PathBuf::from))
        .or(file.vault.clone())
}

fn given_data_dir(common: &CommonArgs, file: &FileConfig, env: &Env) -> Option<PathBuf> {
    common
        .data_dir
        .clone()
        .or_else(|| env.get("VAULTMCP_DATA_DIR").map(PathBuf::from))
        .or(file.data_dir.clone())
}

/// The vault folder, canonical, checked to be a folder.
fn checked_vault(vault: &Path) -> anyhow::Result<PathBuf> {
    let canonical = std::fs::canonicalize(vault)
        .with_context(|| format!("vault folder {} does not exist", vault.display()))?;
    anyhow::ensure!(
        canonical.is_dir(),
        "vault path {} is not a folder",
        canonical.display()
    );
    Ok(canonical)
}

fn logging(file: &FileConfig, env: &Env) -> anyhow::Result<Logging> {
    Ok(Logging {
        json: env
            .flag("VAULTMCP_LOG_JSON")?
            .or(file.log_json)
            .unwrap_or(false),
        // Any non-empty value, as no-color.org says.
        no_color: env.get("NO_COLOR").is_some(),
    })
}

fn load_file(explicit: Option<PathBuf>) -> anyhow::Result<FileConfig> {
    let (path, required) = match explicit {
        Some(p) => (p, true),
        None => match dirs::config_dir() {
            Some(d) => (d.join("vaultmcp").join("config.toml"), false),
            None => return Ok(FileConfig::default()),
        },
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
            return Ok(FileConfig::default());
        }
        Err(e) => bail!("cannot read config file {}: {e}", path.display()),
    };
    toml::from_str(&text).with_context(|| format!("config file {} is not valid", path.display()))
}

/// `~/.local/share/vaultmcp/<vault-name>-<short hash of its path>/`.
fn default_data_dir(vault: &Path) -> anyhow::Result<PathBuf> {
    let base =
        dirs::data_dir().context("no platform data folder (is HOME set?); pass --data-dir")?;
    let name = vault
        .file_name()
        .map_or_else(|| "vault".into(), |n| n.to_string_lossy().into_owned());
    let hash = blake3::hash(vault.as_os_str().as_encoded_bytes()).to_hex();
    Ok(base.join("vaultmcp").join(format!("{name}-{}", &hash[..8])))
}

fn parse_public_url(raw: &str) -> anyhow::Result<Url> {
    let url =
        Url::parse(raw.trim()).with_context(|| format!("--public-url {raw:?} is not a URL"))?;
    anyhow::ensure!(
        matches!(url.scheme(), "http" | "https"),
        "--public-url must be an http or https URL, not {raw:?}"
    );
    anyhow::ensure!(
        url.query().is_none() && url.fragment().is_none(),
        "--public-url must not have a query or fragment"
    );
    if url.scheme() == "http" && !is_loopback_host(url.host_str().unwrap_or("")) {
        bail!("--public-url must be https unless its host is loopback (got {raw:?})");
    }
    Ok(url)
}

/// `VAULTMCP_ALLOWED_ORIGINS`: comma-separated origins (`scheme://host[:port]`), each
/// normalised as browsers send it. A wildcard or `null` would let any page in: refused.
fn parse_allowed_origins(raw: &str) -> anyhow::Result<Vec<String>> {
    let mut origins = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        anyhow::ensure!(
            entry != "*" && !entry.eq_ignore_ascii_case("null"),
            "VAULTMCP_ALLOWED_ORIGINS entry {entry:?} is not allowed: list each origin, like https://app.example.com"
        );
        let url = Url::parse(entry).with_context(|| {
            format!("VAULTMCP_ALLOWED_ORIGINS entry {entry:?} is not an origin like https://app.example.com")
        })?;
        anyhow::ensure!(
            matches!(url.scheme(), "http" | "https")
                && url.host_str().is_some()
                && url.username().is_empty()
                && url.password().is_none()
                && url.path() == "/"
                && url.query().is_none()
                && url.fragment().is_none(),
            "VAULTMCP_ALLOWED_ORIGINS entry {entry:?} is not an origin (http or https, a host, an optional port, nothing after it)"
        );
        let origin = url.origin().ascii_serialization();
        if !origins.contains(&origin) {
            origins.push(origin);
        }
    }
    Ok(origins)
}

/// Whether a host name or address is loopback (`localhost`, `127.0.0.0/8`, `::1`).
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") || host.to_ascii_lowercase().ends_with(".localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_url_rules() {
        assert!(parse_public_url("https://notes.example.com").is_ok());
        assert!(parse_public_url("http://127.0.0.1:8787").is_ok());
        assert!(parse_public_url("http://localhost:1").is_ok());
        assert!(parse_public_url("http://[::1]:1").is_ok());
        assert!(parse_public_url("http://example.com").is_err());
        assert!(parse_public_url("ftp://127.0.0.1").is_err());
        assert!(parse_public_url("not a url").is_err());
    }

    #[test]
    fn allowed_origins_rules() {
        assert_eq!(
            parse_allowed_origins(
                " https://App.Example.com , http://127.0.0.1:5173,,https://app.example.com:443"
            )
            .unwrap(),
            ["https://app.example.com", "http://127.0.0.1:5173"]
        );
        assert!(parse_allowed_origins("").unwrap().is_empty());
        for bad in [
            "*",
            "null",
            "app.example.com",
            "ftp://app.example.com",
            "https://app.example.com/path",
            "https://app.example.com?q",
            "https://user@app.example.com",
        ] {
            let err = parse_allowed_origins(bad).unwrap_err().to_string();
            assert!(err.contains("VAULTMCP_ALLOWED_ORIGINS"), "{bad}: {err}");
        }
    }

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost",
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
            "LOCALHOST",
            "a.localhost",
        ] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in ["example.com", "10.0.0.1", "localhost.evil.com", ""] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }

    /// Loads with `vars` as the whole environment and `file` as the config file.
    fn load(vars: &[(&str, &str)], file: &str) -> anyhow::Result<Config> {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.toml");
        std::fs::write(&config, file).unwrap();
        let common = CommonArgs {
            vault: Some(dir.path().to_owned()),
            data_dir: Some(dir.path().join("data")),
            config: Some(config),
            ..CommonArgs::default()
        };
        let lookup = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        Config::load_from(&common, &ServeArgs::default(), &lookup)
    }

    #[test]
    fn log_json_is_read_from_the_file_and_the_environment() {
        assert!(!load(&[], "").unwrap().logging.json);
        assert!(load(&[], "log_json = true").unwrap().logging.json);
        assert!(
            load(&[("VAULTMCP_LOG_JSON", "on")], "")
                .unwrap()
                .logging
                .json
        );
        // The environment beats the file.
        let c = load(&[("VAULTMCP_LOG_JSON", "0")], "log_json = true").unwrap();
        assert!(!c.logging.json);
        let err = load(&[("VAULTMCP_LOG_JSON", "maybe")], "").unwrap_err();
        assert!(err.to_string().contains("VAULTMCP_LOG_JSON"), "{err}");
    }

    #[test]
    fn no_color_set_to_anything_turns_colour_off() {
        assert!(!load(&[], "").unwrap().logging.no_color);
        assert!(!load(&[("NO_COLOR", "")], "").unwrap().logging.no_color);
        assert!(load(&[("NO_COLOR", "1")], "").unwrap().logging.no_color);
        assert!(load(&[("NO_COLOR", "false")], "").unwrap().logging.no_color);
    }

    #[test]
    fn yes_no_values() {
        for v in ["1", "true", "YES", " on "] {
            assert!(parse_bool("X", v).unwrap(), "{v}");
        }
        for v in ["0", "false", "No", "off"] {
            assert!(!parse_bool("X", v).unwrap(), "{v}");
        }
        assert!(parse_bool("X", "maybe").is_err());
    }

    #[test]
    fn the_data_dir_alone_needs_no_vault() {
        let none = |_: &str| None;
        let common = CommonArgs {
            data_dir: Some("/somewhere/data".into()),
            config: Some("/dev/null".into()),
            ..CommonArgs::default()
        };
        let c = Config::load_data_dir_from(&common, &none).unwrap();
        assert_eq!(c.data_dir, Path::new("/somewhere/data"));
        let common = CommonArgs {
            config: Some("/dev/null".into()),
            ..CommonArgs::default()
        };
        let err = Config::load_data_dir_from(&common, &none).unwrap_err();
        assert!(err.to_string().contains("--data-dir"), "{err}");
    }
}

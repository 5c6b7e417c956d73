#!/usr/bin/env bash
# Installs vaultmcp as a background service for the current user (no root needed):
#
#   1. the binary      -> ~/.local/bin/vaultmcp   (`cargo install --path . --locked --root ~/.local`,
#                                                  or a copy of --bin FILE)
#   2. the settings    -> ~/.config/vaultmcp/env  (a commented template, mode 0600; an existing
#                                                  file is never overwritten; it holds no secrets
#                                                  until you add them)
#   3. the service     Linux: ~/.config/systemd/user/vaultmcp.service, then
#                             systemctl --user daemon-reload && systemctl --user enable --now vaultmcp
#                      macOS: ~/Library/LaunchAgents/com.vaultmcp.serve.plist (env file values
#                             filled in, mode 0600), then launchctl bootstrap gui/<uid> ...
#
# Usage: scripts/install.sh [options]
#   --dry-run        print what would be done, change nothing
#   --uninstall      stop and remove the service and the binary (keeps the env file and the
#                    data folder, and says where they are)
#   --bin FILE       install this binary (e.g. target/release/vaultmcp) instead of cargo install
#   --vault DIR      put VAULTMCP_VAULT=DIR into a newly written env file
#   --os linux|macos act as on that system (default: uname); for testing with --dry-run
#   -h, --help       this text
#
# The service starts only when a vault is configured (VAULTMCP_VAULT in the env file, or
# `vault` in the config file); otherwise it is enabled and the script says what to edit.
# Runs with bash 3.2 (macOS's /bin/bash) and later.
set -euo pipefail
shopt -u patsub_replacement 2>/dev/null || true # bash >= 5.2: `&` in ${x//a/b} stays literal

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LABEL=com.vaultmcp.serve
UNIT=vaultmcp.service

DRY=0
UNINSTALL=0
BIN_SRC=""
VAULT_ARG=""
case "$(uname -s)" in
  Darwin) OS=macos ;;
  *) OS=linux ;;
esac

usage() { sed -n '2,/^# Runs with/{s/^# \{0,1\}//;p;}' "${BASH_SOURCE[0]}"; }
die() {
  echo "install.sh: $*" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --uninstall) UNINSTALL=1 ;;
    --bin)
      [ $# -ge 2 ] || die "--bin needs a file"
      BIN_SRC=$2
      shift
      ;;
    --vault)
      [ $# -ge 2 ] || die "--vault needs a folder"
      VAULT_ARG=$2
      shift
      ;;
    --os)
      [ $# -ge 2 ] || die "--os needs linux or macos"
      OS=$2
      shift
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
case "$OS" in linux | macos) ;; *) die "--os must be linux or macos, not $OS" ;; esac
[ -n "${HOME:-}" ] || die "HOME is not set"

BIN_DIR="$HOME/.local/bin"
BIN="$BIN_DIR/vaultmcp"
CONF_DIR="$HOME/.config/vaultmcp"
ENV_FILE="$CONF_DIR/env"
if [ "$OS" = macos ]; then
  # dirs::config_dir() / data_dir() on macOS
  CONFIG_TOML="$HOME/Library/Application Support/vaultmcp/config.toml"
  DATA_ROOT="$HOME/Library/Application Support/vaultmcp"
  PLIST="$HOME/Library/LaunchAgents/$LABEL.plist"
  LOG="$HOME/Library/Logs/vaultmcp.log"
else
  CONFIG_TOML="$HOME/.config/vaultmcp/config.toml"
  # The unit's ReadWritePaths names this folder; it must exist before the service starts.
  DATA_ROOT="$HOME/.local/share/vaultmcp"
  UNIT_DIR="$HOME/.config/systemd/user"
fi

say() { echo "==> $*"; }
# Runs a command, or only prints it under --dry-run.
run() {
  if [ "$DRY" = 1 ]; then
    echo "  [dry-run] $*"
  else
    echo "  + $*"
    "$@"
  fi
}
# write_file PATH MODE: writes stdin to PATH with MODE (atomically: temp file, then rename).
write_file() {
  local path=$1 mode=$2 tmp
  if [ "$DRY" = 1 ]; then
    echo "  [dry-run] write $path (mode $mode):"
    sed 's/^/  [dry-run]   | /'
    return
  fi
  echo "  + write $path (mode $mode)"
  mkdir -p "$(dirname "$path")"
  tmp=$(mktemp "$path.XXXXXX")
  cat >"$tmp"
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$path"
}
have() { command -v "$1" >/dev/null 2>&1; }

# The value of KEY in the env file (last assignment wins; surrounding quotes removed), or "".
env_value() {
  local key=$1 line val=""
  [ -f "$ENV_FILE" ] || return 0
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line#"${line%%[![:space:]]*}"} # trim leading blanks
    line=${line#export }
    case "$line" in
      "$key="*)
        val=${line#*=}
        val=${val%"${val##*[![:space:]]}"} # trim trailing blanks
        case "$val" in
          \"*\") val=${val#\"} val=${val%\"} ;;
          \'*\') val=${val#\'} val=${val%\'} ;;
        esac
        ;;
    esac
  done <"$ENV_FILE"
  printf '%s' "$val"
}

vault_configured() {
  [ -n "$(env_value VAULTMCP_VAULT)" ] && return 0
  [ -f "$CONFIG_TOML" ] && grep -Eq '^[[:space:]]*vault[[:space:]]*=' "$CONFIG_TOML"
}

env_template() {
  local vault_line="# VAULTMCP_VAULT=$HOME/Obsidian/MyVault"
  [ -n "$VAULT_ARG" ] && vault_line="VAULTMCP_VAULT=$VAULT_ARG"
  cat <<EOF
# vaultmcp settings for the background service (read by systemd's EnvironmentFile=, and by
# scripts/install.sh for the macOS LaunchAgent). KEY=value lines; keep this file mode 0600.
# After a change: Linux  systemctl --user restart vaultmcp
#                 macOS  scripts/install.sh   (re-applies it to the LaunchAgent)
# Any of these can instead live in the config file ($CONFIG_TOML).

# The Obsidian vault (only ever read).
$vault_line

# Where clients reach the server: a tunnel's https URL (cloudflared, Tailscale Funnel, ngrok).
# Without it the server answers on http://127.0.0.1:8787 only, with local login.
# VAULTMCP_PUBLIC_URL=https://notes.example.com
# VAULTMCP_BIND=127.0.0.1:8787
# Only when a reverse proxy in front sets X-Forwarded-For:
# VAULTMCP_TRUST_FORWARDED_FOR=1

# GitHub sign-in (needed for any non-loopback public URL): a GitHub OAuth App whose callback
# is <public url>/oauth/github/callback, and who may sign in (logins and/or numeric ids).
# GITHUB_CLIENT_ID=
# GITHUB_CLIENT_SECRET=
# GITHUB_ALLOWED_LOGIN=your-github-login
# GITHUB_ALLOWED_ID=

# Logging: RUST_LOG=info (default), VAULTMCP_LOG_JSON=1 for JSON lines.
# RUST_LOG=info
EOF
}

# ------------------------------------------------------------------------------- uninstall
uninstall() {
  say "uninstalling vaultmcp ($OS)"
  if [ "$OS" = linux ]; then
    if have systemctl; then
      run systemctl --user disable --now "$UNIT" || true
    fi
    if [ -e "$UNIT_DIR/$UNIT" ] || [ "$DRY" = 1 ]; then
      run rm -f "$UNIT_DIR/$UNIT"
      have systemctl && { run systemctl --user daemon-reload || true; }
    fi
  else
    run launchctl bootout "gui/$(id -u)/$LABEL" || true
    run rm -f "$PLIST"
  fi
  if [ -f "$HOME/.local/.crates.toml" ] && grep -q '^"vaultmcp ' "$HOME/.local/.crates.toml" && have cargo; then
    run cargo uninstall --root "$HOME/.local" vaultmcp
  else
    run rm -f "$BIN"
  fi
  say "kept your settings ($ENV_FILE) and the index and sign-in state ($DATA_ROOT);"
  echo "    remove them by hand if you want them gone."
}

# --------------------------------------------------------------------------------- install
install_binary() {
  say "installing the binary to $BIN"
  if [ -n "$BIN_SRC" ]; then
    [ "$DRY" = 1 ] || [ -x "$BIN_SRC" ] || die "--bin $BIN_SRC is not an executable file"
    run install -d "$BIN_DIR"
    run install -m 755 "$BIN_SRC" "$BIN"
  else
    have cargo || die "cargo is not installed; install Rust (rustup) or pass --bin FILE"
    run cargo install --path "$SRC" --locked --root "$HOME/.local"
  fi
  if [ "$DRY" = 0 ]; then
    "$BIN" --version >/dev/null || die "$BIN does not run"
  fi
  case ":$PATH:" in
    *":$BIN_DIR:"*) ;;
    *) echo "    note: $BIN_DIR is not on your PATH (the service does not need it; your shell does)" ;;
  esac
}

install_env_file() {
  if [ -e "$ENV_FILE" ]; then
    say "keeping the existing $ENV_FILE"
    local mode
    mode=$(stat -c %a "$ENV_FILE" 2>/dev/null || stat -f %Lp "$ENV_FILE")
    if [ "$mode" != 600 ]; then
      echo "    it is mode $mode; it may hold GITHUB_CLIENT_SECRET, so:"
      run chmod 600 "$ENV_FILE"
    fi
    [ -z "$VAULT_ARG" ] || echo "    note: --vault is ignored for an existing env file; edit VAULTMCP_VAULT there"
  else
    say "writing the settings template $ENV_FILE"
    run install -d -m 700 "$CONF_DIR"
    env_template | write_file "$ENV_FILE" 600
  fi
}

# Escapes a value for an XML text node.
xml_escape() {
  local v=$1
  v=${v//&/&amp;}
  v=${v//</&lt;}
  v=${v//>/&gt;}
  printf '%s' "$v"
}

install_linux_service() {
  have systemctl || die "systemctl is not available: start \`$BIN serve\` some other way"
  if [ "$DRY" = 0 ] && ! systemctl --user show-environment >/dev/null 2>&1; then
    die "no systemd user instance is reachable (systemctl --user); log in to a desktop or ssh session as this user (or run \`loginctl enable-linger $USER\` as root) and run this again"
  fi
  if [ -n "${XDG_DATA_HOME:-}" ] && [ "$XDG_DATA_HOME" != "$HOME/.local/share" ]; then
    echo "    note: XDG_DATA_HOME is set; the unit lets the service write only to $DATA_ROOT,"
    echo "    so set VAULTMCP_DATA_DIR to a folder under it in $ENV_FILE"
  fi
  say "installing the systemd user unit $UNIT_DIR/$UNIT"
  local was_active=0
  if [ "$DRY" = 0 ] && systemctl --user is-active --quiet "$UNIT"; then was_active=1; fi
  run install -d -m 700 "$DATA_ROOT"
  run install -d "$UNIT_DIR"
  run install -m 644 "$SRC/scripts/systemd/$UNIT" "$UNIT_DIR/$UNIT"
  run systemctl --user daemon-reload
  if [ "$VAULT_OK" = 1 ]; then
    run systemctl --user enable --now "$UNIT"
    # A service that was already running keeps the old binary and settings until restarted.
    if [ "$was_active" = 1 ]; then run systemctl --user restart "$UNIT"; fi
    say "running. Status: systemctl --user status vaultmcp; logs: journalctl --user -u vaultmcp -f"
  else
    run systemctl --user enable "$UNIT"
    say "enabled, not started: no vault is configured yet."
    echo "    Set VAULTMCP_VAULT in $ENV_FILE, then: systemctl --user start vaultmcp"
  fi
  echo "    To keep it running while you are logged out (and start it at boot):"
  echo "      loginctl enable-linger \"\$USER\""
}

install_macos_agent() {
  say "installing the LaunchAgent $PLIST"
  local tpl key val
  tpl=$(cat "$SRC/scripts/launchd/$LABEL.plist")
  tpl=${tpl//@BIN@/$(xml_escape "$BIN")}
  tpl=${tpl//@HOME@/$(xml_escape "$HOME")}
  for key in VAULTMCP_VAULT VAULTMCP_DATA_DIR VAULTMCP_BIND VAULTMCP_PUBLIC_URL \
    VAULTMCP_TRUST_FORWARDED_FOR GITHUB_CLIENT_ID GITHUB_CLIENT_SECRET GITHUB_ALLOWED_LOGIN \
    GITHUB_ALLOWED_ID VAULTMCP_LOG_JSON RUST_LOG; do
    val=$(env_value "$key")
    if [ "$key" = VAULTMCP_VAULT ] && [ ! -e "$ENV_FILE" ]; then val=$VAULT_ARG; fi
    if [ "$key" = RUST_LOG ] && [ -z "$val" ]; then val=info; fi
    tpl=${tpl//@$key@/$(xml_escape "$val")}
  done
  if printf '%s' "$tpl" | grep -Eq '@[A-Z][A-Z_]*@'; then
    die "internal: a placeholder was left in the plist template"
  fi
  if [ "$DRY" = 1 ]; then
    # Never echo the secret, even in a dry run.
    tpl=$(printf '%s\n' "$tpl" | sed '/<key>GITHUB_CLIENT_SECRET<\/key>/{n;s/<string>..*<\/string>/<string>(from the env file)<\/string>/;}')
  fi
  run install -d "$HOME/Library/LaunchAgents" "$HOME/Library/Logs"
  run install -d -m 700 "$DATA_ROOT"
  printf '%s\n' "$tpl" | write_file "$PLIST" 600
  local domain
  domain="gui/$(id -u)"
  # Reload: unload a running copy first (ignore "not loaded"), then load the new one.
  run launchctl bootout "$domain/$LABEL" 2>/dev/null || true
  if [ "$VAULT_OK" = 1 ]; then
    run launchctl enable "$domain/$LABEL"
    run launchctl bootstrap "$domain" "$PLIST"
    say "running. Logs: tail -f $LOG"
  else
    say "installed, not loaded: no vault is configured yet."
    echo "    Set VAULTMCP_VAULT in $ENV_FILE, then run scripts/install.sh again."
  fi
}

if [ "$DRY" = 1 ]; then say "dry run: nothing is changed"; fi
if [ "$UNINSTALL" = 1 ]; then
  uninstall
  exit 0
fi
install_binary
# Whether the service can start: a vault in the env or config file, or one about to be written.
VAULT_OK=0
if vault_configured || { [ ! -e "$ENV_FILE" ] && [ -n "$VAULT_ARG" ]; }; then VAULT_OK=1; fi
install_env_file
if [ "$OS" = linux ]; then install_linux_service; else install_macos_agent; fi

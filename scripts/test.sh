#!/usr/bin/env bash
# The test command: Rust unit and integration tests, then the end-to-end suite with real
# MCP clients (TypeScript and Python SDKs, the conformance suite, a headless browser).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked --all-targets
if [ -x scripts/e2e.sh ]; then
  scripts/e2e.sh
fi

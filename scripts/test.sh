#!/usr/bin/env bash
# The test command of README.md: every unit, conformance and integration
# test of the workspace, on SQLite and on PostgreSQL (which it starts, or
# installs on a fresh Debian machine when run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-postgres.sh
cargo test --workspace --locked "$@"

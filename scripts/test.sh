#!/usr/bin/env bash
# The test command of README.md: every unit, conformance and integration
# test of the workspace (the SIGKILL crash test starts the real binary).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked "$@"

#!/usr/bin/env bash
# The test command of README.md: every unit, conformance and integration
# test of the workspace, on SQLite and on PostgreSQL (which it starts, or
# installs on a fresh Debian machine when run as root), and with a real
# SMTP server (aiosmtpd) and IMAP server (dovecot) for the e-mail tests,
# installed if missing, and NATS JetStream for the event stream; then
# schemathesis and a Unicode corpus against a live server (scripts/fuzz-api.sh)
# and the console's browser tests (scripts/e2e.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-postgres.sh
source scripts/ensure-smtp.sh
source scripts/ensure-imap.sh
source scripts/ensure-nats.sh
cargo test --workspace --locked "$@"
# The API under a fuzzer (schemathesis) and a crafted Unicode corpus.
scripts/fuzz-api.sh
# The web console in a real browser (chromium, playwright-core).
scripts/e2e.sh

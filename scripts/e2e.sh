#!/usr/bin/env bash
# Browser tests of the web console (e2e/console.mjs): playwright-core from
# npm driving Debian's chromium, headless, against a real `kefu serve --demo`.
# Installs what is missing: chromium and a Chinese font (apt, as root), the
# npm packages of e2e/ (from its lock file). Writes docs/screenshots/*.png.
set -euo pipefail
cd "$(dirname "$0")/.."
need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
fc-list :lang=zh 2>/dev/null | grep -q . || need_apt+=(fonts-wqy-zenhei)
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing ${need_apt[*]} for the browser tests" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
    else
        echo "the browser tests need: ${need_apt[*]} (apt-get install as root)" >&2
        exit 1
    fi
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "the browser tests need Node.js and npm" >&2
    exit 1
fi
if [ ! -d e2e/node_modules/playwright-core ]; then
    npm ci --prefix e2e --no-audit --no-fund --silent
fi
cargo build --locked -p kefu --quiet
KEFU_BIN=target/debug/kefu RUST_LOG=error node e2e/console.mjs

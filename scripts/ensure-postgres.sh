#!/usr/bin/env bash
# Sourced by scripts/test.sh: makes sure a PostgreSQL server answers for the
# tests and exports KEFU_TEST_POSTGRES_URL. Starts the local cluster if it is
# down, and on a fresh Debian machine (as root) installs PostgreSQL first.
# Fails loudly when none can be had: no test skips PostgreSQL.

pg_url="${KEFU_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"

pg_answers() {
    (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
}

pg_login_works() {
    command -v psql >/dev/null 2>&1 && psql "$1" -qAtc 'select 1' >/dev/null 2>&1
}

start_local_cluster() {
    local version
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
    [ -n "$version" ] || return 1
    pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1 || true
    for _ in $(seq 1 30); do
        pg_answers && return 0
        sleep 1
    done
    return 1
}

if ! pg_answers; then
    echo "PostgreSQL does not answer on 127.0.0.1:5432; starting it" >&2
    if [ "$(id -u)" = 0 ] && [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
        echo "installing PostgreSQL from Debian's packages" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-client >/dev/null
    fi
    start_local_cluster || { echo "FATAL: cannot start PostgreSQL on 127.0.0.1:5432" >&2; exit 1; }
fi

if ! command -v psql >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-client >/dev/null
fi

if ! pg_login_works "$pg_url"; then
    # A fresh Debian cluster asks for a password on TCP: give the tests a
    # role and database of their own.
    if [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1; then
        su postgres -c "psql -qc \"DO \\\$\\\$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'kefu_test') THEN CREATE ROLE kefu_test LOGIN SUPERUSER PASSWORD 'kefu_test'; END IF; END \\\$\\\$\"" >/dev/null
        su postgres -c "psql -qAtc \"SELECT 1 FROM pg_database WHERE datname = 'kefu_test'\" | grep -q 1 || createdb -O kefu_test kefu_test"
        pg_url="postgres://kefu_test:kefu_test@127.0.0.1:5432/kefu_test"
    fi
    pg_login_works "$pg_url" || { echo "FATAL: cannot log in to PostgreSQL at $pg_url" >&2; exit 1; }
fi

export KEFU_TEST_POSTGRES_URL="$pg_url"
echo "PostgreSQL for the tests: ${pg_url%%\?*}" >&2

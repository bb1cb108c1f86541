# Sourced by scripts/test.sh: makes sure dovecot (a real IMAP server) is
# installed for the e-mail-in tests, which start their own instance on a
# free port in a temporary directory (the packaged service is not used).
if [ ! -x /usr/sbin/dovecot ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing dovecot-imapd (IMAP server for the tests)" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq dovecot-imapd >/dev/null 2>&1 \
            || { apt-get update -qq && apt-get install -y -qq dovecot-imapd >/dev/null; }
        # The packaged service is not needed; the tests run their own.
        (command -v systemctl >/dev/null 2>&1 && systemctl stop dovecot >/dev/null 2>&1) || true
    fi
fi
if [ ! -x /usr/sbin/dovecot ]; then
    echo "dovecot is required for the e-mail tests (apt-get install dovecot-imapd)" >&2
    exit 1
fi

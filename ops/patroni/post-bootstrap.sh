#!/bin/sh
# Run by Patroni once, on the node that initialises the cluster, after initdb (patroni.yml,
# bootstrap.post_bootstrap): the service's role and database. Patroni passes the superuser's
# connection string as $1 and a password file in PGPASSFILE; the replicas get both by
# replication. KUMKM_DB_PASSWORD comes from the node's environment (node.env.example) and is
# the password of DATABASE_URL.
set -eu
: "${KUMKM_DB_PASSWORD:?set KUMKM_DB_PASSWORD in the node environment (the service role kumkm)}"
: "${KUMKM_PG_BIN:?set by patroni-node.sh: the PostgreSQL bin directory}"
# \getenv: the password never appears on a command line (ps) and :'pw' quotes it for SQL
"$KUMKM_PG_BIN/psql" "$1" -X -q -v ON_ERROR_STOP=1 <<'SQL'
\getenv pw KUMKM_DB_PASSWORD
CREATE ROLE kumkm LOGIN PASSWORD :'pw';
CREATE DATABASE kumkm OWNER kumkm;
SQL

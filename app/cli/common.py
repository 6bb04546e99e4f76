"""What the command groups of `kumkm` share: the repository root, files of personal data
made private, and the shape of an administrative command (migrate, run one coroutine
against the database, close the pool)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

from app.infra import citus, db

ROOT = Path(__file__).resolve().parent.parent.parent


# Files this CLI writes that hold personal data (exports, the walidata's pulled feed and
# snapshot) or a key (an OpenRosa settings QR code) are their owner's alone: mode 0600 from the
# moment they exist, never readable by the machine's other users in between, and a file of
# that kind already there is made so before anything more is written into it.
PRIVATE_FILE = 0o600


@contextlib.contextmanager
def private_files():
    """Every file (0600) and directory (0700) made meanwhile is its owner's alone: the umask,
    because the writers below open their files themselves (and pyarrow opens the Parquet one)."""
    before = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(before)


def make_private(path: Path) -> None:
    """A file already there, about to take more personal data, made its owner's alone first."""
    try:
        os.chmod(path, PRIVATE_FILE)
    except FileNotFoundError:
        pass


def write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)  # a file that was there keeps its mode through O_CREAT
        os.write(fd, data)
    finally:
        os.close(fd)


def prepare_database() -> str:
    """Resolve (starting the embedded server if needed) and migrate; return the URL."""
    url = db.resolve_url()
    db.migrate()  # on the server itself when DATABASE_URL is a pooler (db.direct_url)
    return url


def with_database(make_coro):
    """Migrate, run one coroutine against the database, and close the pool after it: the one
    shape every administrative command has."""
    prepare_database()

    async def main():
        try:
            await citus.detect()  # once, as a served process does at start
            return await make_coro()
        finally:
            await db.dispose_engine()

    return asyncio.run(main())


def safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def default_actor() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in some containers
        return "cli"

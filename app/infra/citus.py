"""The service on a Citus cluster (distributed PostgreSQL): DATABASE_URL names the coordinator,
whose schema `kumkm citus distribute` has distributed by kode_provinsi (ops/citus/distribute.sql,
docs/operations.md "Scale-out past one primary").

Whether the database is such a coordinator is found out once per process, when it starts
(app.infra.health's readiness check, and every CLI command that touches records), never per
request: `enabled()` then answers from memory. The domains keep one set of SQL each; where a
statement must differ on the distributed schema, its Citus form sits beside the single-server
one in the domain's queries.py, saying why, and the service picks it by `enabled()`."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

log = logging.getLogger("kumkm.citus")

DISTRIBUTE_SQL = Path(__file__).resolve().parent.parent.parent / "ops" / "citus" / "distribute.sql"

_enabled = False

# The extension, and whether the record tables are distributed yet (pg_dist_partition exists
# only with the extension, so it is asked about separately).
_HAS_EXTENSION = "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')"
_DISTRIBUTED = "SELECT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = to_regclass('public.submissions'))"


class NotDistributed(RuntimeError):
    """The citus extension is installed but the schema is not distributed yet."""


def enabled() -> bool:
    """Whether this process runs against a Citus coordinator with the distributed schema (as
    found by detect() at start)."""
    return _enabled


def set_enabled(value: bool) -> None:
    global _enabled
    if value != _enabled:
        log.info("database is %s", "a Citus coordinator (distributed schema)" if value else "one server")
    _enabled = value


async def state(conn: Any) -> str:
    """'none' (no citus extension: one server), 'installed' (extension, schema not
    distributed) or 'distributed'. `conn` is an asyncpg connection."""
    if not await conn.fetchval(_HAS_EXTENSION):
        return "none"
    return "distributed" if await conn.fetchval(_DISTRIBUTED) else "installed"


async def detect() -> bool:
    """Look once and remember. A coordinator whose schema is not distributed yet is refused
    (NotDistributed): serving it as one server would put every record on the coordinator, and
    `kumkm citus distribute` then has to move them all at once."""
    from app.infra import db

    async with db.driver() as conn:
        found = await state(conn)
    if found == "installed":
        raise NotDistributed(
            "the citus extension is installed but the schema is not distributed: run `kumkm citus distribute` (docs/operations.md)"
        )
    set_enabled(found == "distributed")
    return _enabled


async def distribute(url: str) -> str:
    """Apply ops/citus/distribute.sql on the coordinator at `url` (migrated to head first), once:
    a schema already distributed is left as it is. Returns what was done."""
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        found = await state(conn)
        if found == "none":
            raise RuntimeError(
                "the database has no citus extension: this is not a Citus coordinator (CREATE EXTENSION citus, and add the workers, first)"
            )
        if found == "distributed":
            return "already distributed"
        if not DISTRIBUTE_SQL.exists():
            raise RuntimeError(f"{DISTRIBUTE_SQL} is missing (run from the project's checkout)")
        # One script, one transaction (it says BEGIN and COMMIT itself), sent statement by
        # statement: Citus propagates a DDL command to the workers by its query text, and
        # refuses a text that holds several commands.
        for statement in statements(DISTRIBUTE_SQL.read_text()):
            await conn.execute(statement)
        workers = await conn.fetchval("SELECT count(*) FROM pg_dist_node WHERE groupid > 0 AND isactive")
        return f"distributed by kode_provinsi over {workers} worker(s)"
    finally:
        await conn.close()


def statements(script: str) -> list[str]:
    """The SQL statements of a script, split at semicolons outside comments, quoted text and
    dollar-quoted bodies (what ops/citus/distribute.sql uses)."""
    out: list[str] = []
    buf: list[str] = []
    i, n = 0, len(script)
    while i < n:
        c = script[i]
        if script.startswith("--", i):
            j = script.find("\n", i)
            i = n if j < 0 else j + 1
            buf.append("\n")
            continue
        if c == "'":
            j = script.find("'", i + 1)
            while j >= 0 and script.startswith("''", j):
                j = script.find("'", j + 2)
            j = n - 1 if j < 0 else j
            buf.append(script[i : j + 1])
            i = j + 1
            continue
        if c == "$":
            m = re.match(r"\$[A-Za-z_]*\$", script[i:])
            if m:
                tag = m.group(0)
                j = script.find(tag, i + len(tag))
                j = n if j < 0 else j + len(tag)
                buf.append(script[i:j])
                i = j
                continue
        if c == ";":
            text = "".join(buf).strip()
            if text:
                out.append(text)
            buf = []
        else:
            buf.append(c)
        i += 1
    text = "".join(buf).strip()
    if text:
        out.append(text)
    return out

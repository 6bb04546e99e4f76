"""API keys: random 256-bit secrets shown once, stored as SHA-256 hashes. A key is found by
the hash of what the client sent, so no secret is ever compared byte by byte: timing can at
most reveal something about a hash, which does not help anyone guess a key."""
from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import secrets
import time
from dataclasses import dataclass

import orjson

from app import db
from app.auth import queries

ROLES = ("enumerator", "verifikator", "dinas", "walidata", "admin")
# Lookups are cached for speed while this process listens for key changes (app.auth.watch),
# which empties the cache the moment a key is revoked, rotated or changed in any process. The
# age limit only bounds memory of keys no longer used.
CACHE_SECONDS = 60.0
TOUCH_SECONDS = 60.0


@dataclass(frozen=True)
class Principal:
    id: int
    name: str
    role: str
    kode_wilayah: str | None
    pii: bool = False
    # The holder: the same across rotations of a key, new for every key created. Records
    # belong to it, never to the name.
    identity: int | None = None

    def covers(self, kode: str) -> bool:
        s = self.kode_wilayah
        return s is None or kode == s or kode.startswith(s + ".")


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def new_key() -> str:
    return "kumkm_" + secrets.token_urlsafe(32)


# hash -> (cached at, principal or None, the key's expiry)
_cache: dict[bytes, tuple[float, Principal | None, dt.datetime | None]] = {}
_touched: dict[int, float] = {}
# True while this process's listener on the key-change channel is connected: only then may a
# cached lookup be trusted (a revocation could otherwise go unheard).
cache_trusted = False


async def create(name: str, role: str, kode_wilayah: str | None = None, *, pii: bool = False,
                 expires_at: dt.datetime | None = None) -> tuple[int, str]:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    # Records belong to the key's name, and scope is the whole of a key's authority: a key
    # that is ambiguous about either would leak personal data or reach too far.
    if role == "admin" and kode_wilayah is not None:
        raise ValueError("admin keys are national: create them without --wilayah")
    if role == "enumerator" and kode_wilayah is None:
        raise ValueError("enumerator keys need --wilayah: the provinsi or kabupaten/kota they are assigned to")
    if not name or not name.strip():
        raise ValueError("a key needs a --name: the person or device that holds it")
    key = new_key()
    async with db.transaction() as conn:
        taken = (await conn.execute(queries.NAME_TAKEN, {"name": name})).first()
        if taken is not None:
            # A name is shown in records (dibuat_oleh), riwayat and the access log: issued twice it
            # would stand for two holders there. The holder keeps it through rotations.
            raise ValueError(f"the name {name!r} was already given to key #{taken.id}, and names are "
                             f"never issued twice. For a new key for the same holder, rotate: kumkm "
                             f"apikey rotate {taken.id} (it keeps their records); else choose another name")
        if kode_wilayah is not None:
            from app.wilayah import queries as wq

            row = (await conn.execute(wq.ONE, {"kode": kode_wilayah})).first()
            if row is None or row.level > 2:
                raise ValueError("wilayah scope must be an existing provinsi or kabupaten/kota code")
        key_id = (await conn.execute(queries.INSERT, {
            "name": name, "role": role, "kode_wilayah": kode_wilayah, "prefix": key[:14],
            "h": hash_key(key), "pii": pii, "expires_at": expires_at, "identity_id": None,
        })).scalar_one()
    return key_id, key


async def rotate(ref: str, grace_seconds: int = 0) -> tuple[int, str] | None:
    """A new key for the same holder (identity, name, role, scope and pii grant); the old one
    keeps working for `grace_seconds` so devices can switch over, then expires. The newest key
    of a holder can be rotated even when revoked: a lost phone's key is revoked at once and its
    holder later given a successor that keeps their records."""
    async with db.transaction() as conn:
        old = (await conn.execute(queries.ROTATE_OLD, {"ref": ref, "grace": grace_seconds})).first()
        if old is None:
            return None
        key = new_key()
        key_id = (await conn.execute(queries.INSERT, {
            "name": old.name, "role": old.role, "kode_wilayah": old.kode_wilayah, "prefix": key[:14],
            "h": hash_key(key), "pii": old.pii, "expires_at": None, "identity_id": old.identity_id,
        })).scalar_one()
    _cache.clear()
    return key_id, key


async def revoke(ref: str) -> list[tuple[int, str]]:
    async with db.transaction() as conn:
        rows = (await conn.execute(queries.REVOKE, {"ref": ref})).all()
    _cache.clear()
    return [tuple(r) for r in rows]


async def list_keys() -> list[dict]:
    async with db.connect() as conn:
        return [dict(r) for r in (await conn.execute(queries.LIST)).mappings().all()]


async def authenticate(key: str) -> Principal | None:
    h = hash_key(key)
    now = time.monotonic()
    hit = _cache.get(h) if cache_trusted else None
    if hit is not None and now - hit[0] < CACHE_SECONDS and (
            hit[2] is None or hit[2] > dt.datetime.now(dt.timezone.utc)):
        principal = hit[1]
    else:
        async with db.connect() as conn:
            row = (await conn.execute(queries.BY_HASH, {"h": h})).first()
        principal = None
        expires = None
        if row is not None and row.revoked_at is None and (
            row.expires_at is None or row.expires_at > dt.datetime.now(dt.timezone.utc)
        ):
            principal = Principal(row.id, row.name, row.role, row.kode_wilayah, row.pii, row.identity_id)
            expires = row.expires_at
        if len(_cache) > 100_000:
            _cache.clear()
        _cache[h] = (now, principal, expires)
    if principal is not None and now - _touched.get(principal.id, -1e9) > TOUCH_SECONDS:
        _touched[principal.id] = now
        asyncio.get_running_loop().create_task(_touch(principal.id))
    return principal


async def _touch(key_id: int) -> None:
    try:
        async with db.transaction() as conn:
            await conn.execute(queries.TOUCH, {"ids": [key_id]})
    except Exception:  # last-used time is informative; never fail a request over it
        pass


def clear_cache() -> None:
    _cache.clear()
    _touched.clear()


async def log_access(principal: Principal, endpoint: str, detail: dict, rows: int | None = None,
                     conn=None) -> None:
    """Append to the access log: who saw personal data or pulled the feed, and what."""
    params = {"key_id": principal.id, "key_name": principal.name, "role": principal.role,
              "endpoint": endpoint, "detail": orjson.dumps(detail).decode(), "rows": rows}
    if conn is not None:
        await conn.execute(queries.LOG_ACCESS, params)
    else:
        async with db.transaction() as c:
            await c.execute(queries.LOG_ACCESS, params)


async def audit_page(*, key_name, endpoint, since, until, before, limit) -> list[dict]:
    async with db.connect() as conn:
        rows = (await conn.execute(queries.AUDIT_PAGE, {
            "key_name": key_name, "endpoint": endpoint, "since": since, "until": until,
            "before": before, "limit": limit,
        })).mappings().all()
    return [dict(r) for r in rows]

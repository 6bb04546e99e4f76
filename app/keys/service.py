"""API keys: random 256-bit secrets shown once, stored as SHA-256 hashes; created, rotated,
revoked and listed here (the CLI), looked up on every request in app.security.authn. The access
log is read here too (GET /api/v1/audit)."""

from __future__ import annotations

import datetime as dt
import secrets
import unicodedata
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy.ext.asyncio import AsyncConnection

from app.infra import citus, db
from app.keys import queries
from app.record.reference import LEVEL_KABKOTA, LEVEL_PROVINSI, get_index
from app.security.authn import clear_cache, hash_key
from app.security.policy import POLICY
from app.security.principal import MITRA, ROLES, TUJUAN, Principal


def new_key() -> str:
    return "kumkm_" + secrets.token_urlsafe(32)


def normalise_name(name: str) -> str:
    """A key holder's name as stored: compatibility characters folded (NFKC: a full-width
    `ｅｎｕｍ` is `enum`), no spaces around it, one space between words. Case is kept as
    given; names that differ only in case are the same name (queries.NAME_TAKEN)."""
    return " ".join(unicodedata.normalize("NFKC", name).split())


# A partner's key, unless the operator says otherwise: requests per second (docs/mitra.md).
PER_DETIK_BAWAAN = 10


@dataclass(frozen=True)
class Mitra:
    """What a partner's key (role mitra) carries besides a role: the purposes its agreement
    names, its daily quota of look-ups (WIB days; a batch row is one) and its requests per
    second (docs/mitra.md)."""

    tujuan: tuple[str, ...]
    kuota_harian: int
    per_detik: int = PER_DETIK_BAWAAN

    def check(self) -> None:
        unknown = [t for t in self.tujuan if t not in TUJUAN]
        if not self.tujuan or unknown:
            raise ValueError(f"--purpose must be given, each one of {', '.join(TUJUAN)} (unknown: {', '.join(unknown) or 'none given'})")
        if self.kuota_harian < 1 or self.per_detik < 1:
            raise ValueError("--quota and --rate must be at least 1")


def _mitra_columns(mitra: Mitra | None) -> dict:
    if mitra is None:
        return {"mitra_tujuan": None, "mitra_kuota_harian": None, "mitra_per_detik": None}
    return {"mitra_tujuan": sorted(set(mitra.tujuan)), "mitra_kuota_harian": mitra.kuota_harian, "mitra_per_detik": mitra.per_detik}


def _mitra_differs(holder: dict, mitra: Mitra | None) -> list[tuple[str, object, object]]:
    """--if-exists rotate of a partner's key: its purposes and bounds must be those asked for."""
    if mitra is None:
        return []
    asked = _mitra_columns(mitra)
    return [
        (name, holder.get(column), asked[column])
        for name, column in (("purposes", "mitra_tujuan"), ("quota", "mitra_kuota_harian"), ("rate", "mitra_per_detik"))
        if (sorted(holder.get(column) or []) if column == "mitra_tujuan" else holder.get(column)) != asked[column]
    ]


class Issued(NamedTuple):
    id: int
    key: str
    rotated_from: int | None = None  # `if_exists="rotate"`: the holder's key it replaced


class NameTakenError(ValueError):
    """The name, or a look-alike, was given to a key before."""


async def create(
    conn: AsyncConnection,
    name: str,
    role: str,
    kode_wilayah: str | None = None,
    *,
    pii: bool = False,
    expires_at: dt.datetime | None = None,
    if_exists: str = "fail",
    mitra: Mitra | None = None,
) -> Issued:
    """A key for a new holder. A name already given (to any key, working or not), or one that
    differs from it only in case or spaces, is refused (NameTakenError) — or, with
    `if_exists="rotate"`, that holder gets their next key, as `rotate` gives it, provided the
    role, scope and personal-data grant asked for are theirs (the old key stops at once).
    Runs in the caller's transaction (`kumkm apikey create` opens it): the lock on the names
    is held until it commits."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if if_exists not in ("fail", "rotate"):
        raise ValueError("if_exists must be fail or rotate")
    # Records belong to the key's name, and scope is the whole of a key's authority: a key
    # that is ambiguous about either would leak personal data or reach too far.
    if role == "admin" and kode_wilayah is not None:
        raise ValueError("admin keys are national: create them without --wilayah")
    if role == "enumerator" and kode_wilayah is None:
        raise ValueError("enumerator keys need --wilayah: the provinsi or kabupaten/kota they are assigned to")
    if (role == MITRA) != (mitra is not None):
        raise ValueError("--purpose, --quota and --rate are for mitra keys, and a mitra key needs --purpose and --quota")
    if mitra is not None:
        mitra.check()
    if role == MITRA and pii:
        raise ValueError("--pii is for walidata keys: a mitra key never sees personal data")
    name = normalise_name(name or "")
    if not name:
        raise ValueError("a key needs a --name: the person or device that holds it")
    await conn.execute(queries.LOCK_NAMES)
    taken = [dict(r) for r in (await conn.execute(queries.NAME_TAKEN, {"name": name})).mappings()]
    if not taken:
        if kode_wilayah is not None and not (await get_index()).exists(kode_wilayah, LEVEL_PROVINSI, LEVEL_KABKOTA):
            raise ValueError("wilayah scope must be an existing provinsi or kabupaten/kota code")
        key = new_key()
        key_id = (
            await conn.execute(
                queries.INSERT,
                {
                    "name": name,
                    "role": role,
                    "kode_wilayah": kode_wilayah,
                    "prefix": key[:14],
                    "h": hash_key(key),
                    "pii": pii,
                    "expires_at": expires_at,
                    "identity_id": None,
                    **_mitra_columns(mitra),
                },
            )
        ).scalar_one()
        return Issued(key_id, key)
    newest = taken[0]
    holders = {r["identity_id"] for r in taken}
    if if_exists == "rotate" and len(holders) == 1:
        _same_grant(newest, role, kode_wilayah, pii, mitra)
        successor = await _successor(conn, newest["id"], 0, expires_at)
        if successor is not None:
            await _changed(conn)
            return Issued(*successor, rotated_from=newest["id"])
    # A name is shown in records (dibuat_oleh), riwayat and the access log: issued twice it
    # would stand for two holders there. The holder keeps it through rotations.
    alike = "" if newest["name"] == name else f" as {newest['name']!r} (names that differ only in case or spaces are one name)"
    others = f", and a name alike to {len(holders) - 1} other holder(s)" if len(holders) > 1 else ""
    raise NameTakenError(
        f"the name {name!r} was already given to key #{newest['id']}{alike}{others}, and names "
        f"are never issued twice. For a new key for the same holder, rotate: kumkm apikey "
        f"rotate {newest['id']} (it keeps their records), or create with --if-exists rotate; "
        f"else choose another name"
    )


def _same_grant(holder: dict, role: str, kode_wilayah: str | None, pii: bool, mitra: Mitra | None = None) -> None:
    """--if-exists rotate hands the holder on, role, scope and grant included: asked for other
    ones, it would quietly issue a key that is not what was asked."""
    differ = [
        f"{what} {had or 'nasional'!s} (asked: {asked or 'nasional'!s})"
        for what, had, asked in (
            ("role", holder["role"], role),
            ("wilayah", holder["kode_wilayah"], kode_wilayah),
            ("pii", "yes" if holder["pii"] else "no", "yes" if pii else "no"),
            *_mitra_differs(holder, mitra),
        )
        if had != asked
    ]
    if differ:
        raise NameTakenError(
            f"the name {holder['name']!r} belongs to the holder of key #{holder['id']}, who has "
            f"{', '.join(differ)}; --if-exists rotate gives a holder their next key with "
            "the same role, wilayah and pii. Choose another name for a new holder"
        )


async def _successor(conn, key_id: int, grace_seconds: int, expires_at: dt.datetime | None = None) -> tuple[int, str] | None:
    """The next key of the holder whose newest key is `key_id` (same identity, name, role,
    scope and pii grant); the old one expires after `grace_seconds`. None when `key_id` is not
    the holder's newest key."""
    old = (await conn.execute(queries.ROTATE_OLD, {"id": key_id, "grace": grace_seconds})).first()
    if old is None:
        return None
    key = new_key()
    new_id = (
        await conn.execute(
            queries.INSERT,
            {
                "name": old.name,
                "role": old.role,
                "kode_wilayah": old.kode_wilayah,
                "prefix": key[:14],
                "h": hash_key(key),
                "pii": old.pii,
                "expires_at": expires_at,
                "identity_id": old.identity_id,
                # a partner's next key keeps its purposes and bounds (and its count of the day:
                # mitra_batas is kept per holder)
                "mitra_tujuan": old.mitra_tujuan,
                "mitra_kuota_harian": old.mitra_kuota_harian,
                "mitra_per_detik": old.mitra_per_detik,
            },
        )
    ).scalar_one()
    return new_id, key


class KeyRefError(ValueError):
    """A key reference that names no key, or more than one: the message says which, and
    `candidates` are the keys it could mean."""

    def __init__(self, message: str, candidates: list[dict] | None = None, *, ambiguous: bool = False):
        super().__init__(message)
        self.candidates = candidates or []
        self.ambiguous = ambiguous


KEY_PREFIX_LEN = 14  # "kumkm_" and 8 characters of the secret, shown by `apikey list`


def _parse_ref(ref: str) -> tuple[int | None, str | None]:
    """An id (digits only) or a prefix of the key, with or without `kumkm_` (a whole key, or
    the prefix as `apikey list` shows it with its ellipsis, works too)."""
    ref = ref.strip().rstrip("…").rstrip(".")
    if ref.isdigit():
        return int(ref), None
    prefix = ref if ref.startswith("kumkm_") else "kumkm_" + ref
    return None, prefix[:KEY_PREFIX_LEN]


async def _one(conn, ref: str, usable, what: str) -> dict:
    """The one key `ref` names among those `usable` accepts; KeyRefError otherwise."""
    key_id, prefix = _parse_ref(ref)
    if key_id is not None and key_id > 2**63 - 1:
        raise KeyRefError(f"no key has id {ref}")
    rows = [dict(r) for r in (await conn.execute(queries.MATCHING, {"id": key_id, "prefix": prefix})).mappings()]
    fit = [r for r in rows if usable(r)]
    if len(fit) == 1:
        return fit[0]
    if len(fit) > 1:
        raise KeyRefError(f"{ref!r} is ambiguous: {len(fit)} keys {what} match it; give more of the prefix or the id", fit, ambiguous=True)
    if rows:
        raise KeyRefError(
            f"no key {what} matches {ref!r}; it matches only: " + ", ".join(f"#{r['id']} ({key_status(r)})" for r in rows), rows
        )
    raise KeyRefError(f"no key matches {ref!r} (an id, or a prefix as `kumkm apikey list` shows it)")


def key_status(k: dict) -> str:
    """active, `grace until T` (rotated away, working until T), expired or revoked."""
    from app.core.timefmt import utc_text

    if k["revoked_at"] is not None:
        return "revoked"
    if k["expired"]:
        return "expired"
    if k["rotated"] and k["expires_at"] is not None:
        return f"grace until {utc_text(k['expires_at'])[:19]}Z"
    return "active"


async def rotate(conn: AsyncConnection, ref: str, grace_seconds: int = 0) -> tuple[int, str] | None:
    """A new key for the same holder (identity, name, role, scope and pii grant); the old one
    keeps working for `grace_seconds` so devices can switch over, then expires. The newest key
    of a holder can be rotated even when revoked: a lost phone's key is revoked at once and its
    holder later given a successor that keeps their records. Runs in the caller's transaction
    (`kumkm apikey rotate` opens it)."""
    target = await _one(conn, ref, lambda k: not k["rotated"], "that is its holder's newest")
    successor = await _successor(conn, target["id"], grace_seconds)
    if successor is None:
        return None
    await _changed(conn)
    return successor


async def revoke(conn: AsyncConnection, ref: str) -> list[tuple[int, str]]:
    """Revoke the key `ref` names, at once. Runs in the caller's transaction (`kumkm apikey
    revoke` opens it)."""
    target = await _one(conn, ref, lambda k: k["revoked_at"] is None, "not yet revoked")
    rows = (await conn.execute(queries.REVOKE, {"id": target["id"]})).all()
    await _changed(conn)
    return [tuple(r) for r in rows]


async def _changed(conn: AsyncConnection) -> None:
    """Tell every key cache that a key stopped working, once the change commits, never before:
    a cache emptied before the commit could be filled again from the old rows.

    The other processes' caches hear a NOTIFY, delivered at commit. On one server a trigger on
    api_keys sends it (migration 0005). On a Citus coordinator that trigger is dropped (a worker
    cannot two-phase-commit a NOTIFY, ops/citus/distribute.sql), so the change sends it itself,
    in its own transaction: the listeners hear it when it commits, as they would the trigger's.
    This process's own cache is emptied after the commit (db.after_commit)."""
    if citus.enabled():
        await conn.execute(queries.NOTIFY_KEYS_CITUS)
    db.after_commit(conn, clear_cache)


async def list_keys() -> list[dict]:
    async with db.connect() as conn:
        return [dict(r) for r in (await conn.execute(queries.LIST)).mappings().all()]


async def audit_page(*, key_name, endpoint, since, until, before, limit) -> list[dict]:
    async with db.connect() as conn:
        rows = (
            (
                await conn.execute(
                    queries.AUDIT_PAGE,
                    {
                        "key_name": key_name,
                        "endpoint": endpoint,
                        "since": since,
                        "until": until,
                        "before": before,
                        "limit": limit,
                    },
                )
            )
            .mappings()
            .all()
        )
    return [dict(r) for r in rows]


async def me(principal: Principal) -> dict:
    """What the calling key is and may do (GET /api/v1/me)."""
    async with db.connect() as conn:
        expires_at = (await conn.execute(queries.EXPIRES, {"id": principal.id})).scalar_one_or_none()
    wilayah = None
    if principal.kode_wilayah is not None:
        index = await get_index()
        wilayah = {"kode": principal.kode_wilayah, "nama": index.nama[principal.kode_wilayah], "level": index.level[principal.kode_wilayah]}
    return {
        "name": principal.name,
        "role": principal.role,
        "wilayah": wilayah,
        "pii": principal.pii,
        "expires_at": expires_at,
        "actions": [action for action, allowed in POLICY.items() if principal.role in allowed],
        "tujuan": list(principal.tujuan) if principal.role == MITRA else None,
        "kuota_harian": principal.kuota_harian,
        "per_detik": principal.per_detik,
    }

"""Koreksi: the enumerator who made a ditolak record sends it again corrected; it becomes the
record's next version and goes back to masuk (PUT /api/v1/submissions/{id}, and an edit sent
from ODK Collect: app.openrosa)."""

from __future__ import annotations

import uuid

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.errors import INVALID, NOT_FOUND, STATE_CONFLICT
from app.infra import citus, db
from app.record.prepare import prepare
from app.security.policy import authorize
from app.security.principal import Principal
from app.verification import queries

# Identity of a record: a correction may fix anything else, never these.
IDENTITY_FIELDS = ("periode", "jenis", "enumerator_id")


async def _current(conn: AsyncConnection, submission_id: str):
    if citus.enabled():
        # the directory names the provinsi; the record is then read on its worker
        found = (await conn.execute(queries.DIRECTORY_CITUS, {"ids": [submission_id]})).first()
        if found is None:
            return None
        return (await conn.execute(queries.CURRENT_WITH_LAST_CITUS, {"ids": [submission_id], "provinsi": found.kode_provinsi})).first()
    return (await conn.execute(queries.CURRENT_WITH_LAST, {"ids": [submission_id]})).first()


async def correct(conn: AsyncConnection, submission_id: uuid.UUID, body: dict, principal: Principal) -> bool:
    """Store a corrected record as its next version and put it back to masuk.

    Returns True for a replay (this very correction is already the current version), False
    for a new version; raises the problem otherwise. The body goes through exactly the ingest
    validation (app.record.prepare); on top,
    it must keep the record's identity: submission_id, periode, jenis and enumerator_id are
    those of the record, and kode_wilayah stays in the same provinsi (records are placed by
    provinsi; a wrong desa or kabkota inside it is a normal thing to correct).

    `conn` is the caller's unit of work, one transaction (the route's UnitOfWork, or the
    OpenRosa edit's): the new version, its riwayat and its change commit together, with
    whatever else the caller writes, when the caller's unit ends."""
    sid = str(submission_id)
    cur = await _current(conn, sid)
    if cur is None:
        raise NOT_FOUND(f"submission_id {sid} tidak ditemukan", submission_id=sid)
    # only the record's own enumerator (or admin), inside the key's wilayah
    authorize(principal, "record.correct", cur.kode_wilayah, owner=cur.owner_identity, submission_id=sid)
    if not isinstance(body, dict):
        raise INVALID(
            "body harus objek JSON ({...}): rekaman lengkap yang dikoreksi",
            errors=[{"field": "body", "type": "model_type", "message": "body harus objek JSON ({...}): rekaman lengkap yang dikoreksi"}],
        )
    errors: list[dict] = [
        {"field": f, "type": "value_error", "message": f"{f} tidak boleh memuat karakter NUL (U+0000)"} for f in _nul_fields(body)
    ]
    if str(body.get("submission_id")) != sid:
        errors.append(
            {"field": "submission_id", "type": "identity", "message": f"submission_id harus sama dengan submission_id di path ({sid})"}
        )
    for f in IDENTITY_FIELDS:
        sent = body[f].strip() if isinstance(body.get(f), str) else body.get(f)
        if f in body and sent != getattr(cur, f):
            errors.append({"field": f, "type": "identity", "message": f"{f} tidak boleh berubah dalam koreksi (tetap {getattr(cur, f)})"})
    if errors:
        raise INVALID("; ".join(e["message"] for e in errors), errors=errors, submission_id=sid)
    prepared, rejected = await prepare([body], principal)
    if rejected:
        raise rejected[0].problem(submission_id=sid)
    p = prepared[0]
    if p.row["kode_provinsi"] != cur.kode_provinsi:
        message = f"kode_wilayah harus tetap di provinsi {cur.kode_provinsi}: koreksi tidak memindahkan rekaman ke provinsi lain"
        raise INVALID(message, errors=[{"field": "kode_wilayah", "type": "identity", "message": message}], submission_id=sid)
    # Two tries: the second sees whatever a concurrent writer left (each statement of the
    # transaction reads what was committed before it) and answers from it.
    for _ in range(2):
        if _judge_correction(cur, p.content_hash):
            # acknowledged only once on the synchronous standby: the caller's commit waits for it
            await db.replay_barrier(conn)
            return True
        args = {
            "row": orjson.dumps(p.row).decode(),
            "seen_version": cur.version,
            "actor": principal.name,
            "actor_key": principal.id,
            "actor_role": principal.role,
        }
        if citus.enabled():
            args.update(provinsi=cur.kode_provinsi, old_kabkota=cur.kode_kabkota)
        row = (await conn.execute(queries.CORRECT_CITUS if citus.enabled() else queries.CORRECT, args)).first()
        if row is not None:
            return False
        cur = await _current(conn, sid)
    if _judge_correction(cur, p.content_hash):
        await db.replay_barrier(conn)
        return True
    raise STATE_CONFLICT(
        "rekaman berubah saat koreksi disimpan; baca rekaman itu lalu kirim koreksinya lagi",
        submission_id=sid,
        current_status=cur.status,
        current_version=cur.version,
    )


def _nul_fields(value, path: str = "") -> list[str]:
    """Fields whose text holds NUL, which PostgreSQL cannot store (the ingest schema lets it
    through; answer 422 here instead of failing in the database)."""
    if isinstance(value, str):
        return [path or "body"] if "\x00" in value else []
    if isinstance(value, dict):
        return [f for k, v in value.items() for f in _nul_fields(v, f"{path}.{k}" if path else k)]
    if isinstance(value, list):
        return [f for i, v in enumerate(value) for f in _nul_fields(v, f"{path}.{i}")]
    return []


def _judge_correction(cur, content_hash: str) -> bool:
    """True when the correction is already the current version (a replay); False when it may
    be applied to `cur`; raises when it may not."""
    sid = str(cur.submission_id)
    if cur.content_hash == content_hash:
        if cur.version > 1:
            # The current version is this very content, stored by a correction: a replay.
            return True
        message = "body sama dengan versi rekaman sekarang: koreksi harus mengubah isinya"
        raise INVALID(message, submission_id=sid, errors=[{"field": "body", "type": "unchanged", "message": message}])
    if cur.status != "ditolak":
        message = f"status rekaman {cur.status} (versi {cur.version}), bukan ditolak: hanya rekaman ditolak yang dapat dikoreksi"
        raise STATE_CONFLICT(
            message,
            errors=[{"field": "status", "type": "state", "message": message}],
            submission_id=sid,
            current_status=cur.status,
            current_version=cur.version,
        )
    return False

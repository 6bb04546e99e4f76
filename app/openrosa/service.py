"""OpenRosa as a transport over the registry's own rules: a submitted instance becomes the
same record the JSON API would make. New instances go through app.record.prepare and
app.submissions.service.store (the same validation messages, derived fields, idempotency and
feed line as POST /api/v1/submissions); an edit (`meta/deprecatedID`) is a correction through
app.verification.service.correct (the same rules as PUT /api/v1/submissions/{id}). Those two
services are the only other domains' services used here (see docs/code.md)."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from app.core.errors import (
    ATTACHMENT_REFUSED,
    CONTENT_CONFLICT,
    INVALID,
    NOT_FOUND,
    RETRY_AFTER_SECONDS,
    SERVER_BUSY,
    Problem,
    joined,
)
from app.infra import citus, db
from app.observability.metrics import INGESTED
from app.openrosa import multipart, queries
from app.openrosa.documents import MAX_INSTANCE_BYTES, Instance, instance_too_large, parse_instance
from app.openrosa.multipart import Part
from app.openrosa.xlsform import ENTITY_LIST, MEDIA_FILE, loaded_forms
from app.record.prepare import canonical_hash
from app.security.principal import Principal
from app.submissions.service import prepare, store
from app.verification.service import correct

SUBMISSION_PART = "xml_submission_file"
# ODK Collect sends this field when it splits a submission with many attachments over several
# requests; it carries no content of its own.
INCOMPLETE_PART = "*isIncomplete*"


@dataclass
class Accepted:
    status: int  # 201 stored (a new record or a new version), 202 already stored
    message: str  # for the enumerator, in Indonesian
    submission_id: str


# ---------------------------------------------------------------- reading a submission

# Names a phone sent (attachment file names, part names, a form id) are echoed in refusals at
# most this long, and at most this many of them: a 7 MB file name is not sent back.
ECHO_CHARS = 100
ECHO_NAMES = 10


def cut(name: str) -> str:
    return name if len(name) <= ECHO_CHARS else name[:ECHO_CHARS] + "…"


def instance_xml(parts: list[Part]) -> bytes:
    """The instance among the parts. Attachments are refused: the PL-KUMKM form has no photo,
    audio or file question, so a file part comes from another form or a modified one, and
    nothing in the record could refer to it (docs/openrosa.md)."""
    refuse_attachments(parts)
    xml = [p for p in parts if p.name == SUBMISSION_PART]
    if len(xml) != 1:
        message = f"{SUBMISSION_PART} harus tepat satu bagian kiriman, berisi XML instance (diterima {len(xml)})"
        raise INVALID(message, errors=[{"field": SUBMISSION_PART, "type": "missing" if not xml else "repeated", "message": message}])
    return xml[0].data


def refuse_attachments(parts: list[Part]) -> None:
    files = [p for p in parts if p.name not in (SUBMISSION_PART, INCOMPLETE_PART) and p.filename is not None]
    if files:
        shown = files[:ECHO_NAMES]
        errors = [
            {
                "field": cut(p.name),
                "type": "attachment",
                "message": f"{cut(p.name)} ditolak: lampiran {cut(p.filename or '')!r} tidak disimpan "
                "(formulir tidak memiliki pertanyaan berkas)",
            }
            for p in shown
        ]
        if len(files) > len(shown):
            errors.append({"field": "body", "type": "attachment", "message": f"body memuat {len(files) - len(shown)} lampiran lain"})
        raise ATTACHMENT_REFUSED(joined(errors), errors=errors)


# A submission keeps nothing but its instance, at most MAX_INSTANCE_BYTES: a body longer than
# that and room for the multipart framing and Collect's small fields is refused whatever the
# rest holds, so no more of it is read (the rest is discarded by the server, without the app).
# X-OpenRosa-Accept-Content-Length still says KUMKM_MAX_BODY_BYTES: such a body gets its
# refusal (attachments named, or the instance too large) instead of a bare 413.
SUBMISSION_READ_BYTES = MAX_INSTANCE_BYTES + 64 * 1024


def _read(content_type: bytes | None, body: bytes, complete: bool) -> Instance:
    parts = multipart.parse(content_type, body, complete=complete)
    if not complete:
        refuse_attachments(parts)  # those in what was read, named
        raise instance_too_large()
    return parse_instance(instance_xml(parts))


# Submissions are split and parsed off the event loop, in a thread of their own (the loop keeps
# answering while a hostile body is looked at: the parser is fed in small pieces, so the thread
# holds the GIL for a few milliseconds at a time), and at most PARSE_IN_FLIGHT at once per
# process, running or waiting for the thread: beyond that a phone is told 503 with Retry-After.
# The bound is on memory (each holds at most SUBMISSION_READ_BYTES, so 128 hold at most 40 MiB)
# and on the wait (a well-made instance parses in well under a millisecond), not on ordinary
# traffic: at 8, a fifth of 64 phones posting at once were refused (bench openrosa). One thread:
# a second would only take the GIL from the loop more often.
PARSE_THREADS = 1
PARSE_IN_FLIGHT = 128
# A body this small is read on the loop: its size bounds the work (a few milliseconds at worst,
# the caps included), and that is less than the hop to the thread for an ordinary one.
INLINE_BYTES = 32 * 1024
parse_slots = threading.BoundedSemaphore(PARSE_IN_FLIGHT)
_parse_pool: ThreadPoolExecutor | None = None


async def read_submission(content_type: bytes | None, body: bytes, complete: bool = True) -> Instance:
    """The instance of a multipart submission body (its first SUBMISSION_READ_BYTES when not
    `complete`), read in a parse thread."""
    global _parse_pool
    if complete and len(body) <= INLINE_BYTES:
        # every real submission (1-2 KB): read here, in about 50 us; the hop to the parse
        # thread and back cost more than twice that, on every phone's post
        return _read(content_type, body, complete)
    if not parse_slots.acquire(blocking=False):
        raise SERVER_BUSY("kiriman lain sedang dibaca; kirim lagi sebentar lagi", headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    try:
        if _parse_pool is None:  # made on first use, in the worker process that uses it
            _parse_pool = ThreadPoolExecutor(PARSE_THREADS, thread_name_prefix="openrosa-parse")
        job = _parse_pool.submit(_read, content_type, body, complete)
    except BaseException:
        parse_slots.release()
        raise
    # the slot is free when the thread is done, not when this request is (a client that hangs
    # up does not stop the parse)
    job.add_done_callback(lambda _: parse_slots.release())
    return await asyncio.wrap_future(job)


# ---------------------------------------------------------------- submissions

# The 409s of meta/instanceID (the phone's id of an instance). REUSED: the same id stored
# before with other content, as the JSON API's submission_id. _taken: the id is another
# instance's (a record's own id, or an edit's), which this one may not take, whatever its
# content; whose it is is not said.
REUSED = "meta/instanceID sudah dipakai untuk isi yang lain: yang tersimpan tidak diubah; kiriman baru perlu instanceID baru"


def _taken(what: str) -> Problem:
    message = f"meta/instanceID sudah dipakai oleh data lain; {what} harus memakai instanceID baru"
    return CONTENT_CONFLICT(message, errors=[{"field": "meta/instanceID", "type": "taken", "message": message}])


def _reused(submission_id: str) -> Problem:
    return CONTENT_CONFLICT(
        REUSED, errors=[{"field": "meta/instanceID", "type": "content_conflict", "message": REUSED}], submission_id=submission_id
    )


async def submit(instance: Instance, principal: Principal) -> Accepted:
    forms = await loaded_forms()
    form = next((f for f in forms if f.form_id == instance.form_id), None)
    if form is None:
        sent = repr(cut(instance.form_id)) if instance.form_id else "kosong"
        message = f"id harus {' atau '.join(f.form_id for f in forms)} (formulir server ini), bukan {sent}"
        raise INVALID(message, errors=[{"field": "id", "type": "form", "message": message}])
    content = follow_up_content(instance) if form.entities else instance.content
    if instance.deprecated_id is None:
        return await _new(content, principal)
    return await _edit(content, instance.instance_id, instance.deprecated_id, principal)


def follow_up_content(instance: Instance) -> dict:
    """A follow-up visit's record (docs/pemutakhiran.md): the entity it updates is the one
    picked (`id_kumkm`, which the form also declares as meta/entity@id), and `versi_dasar`
    is meta/entity@baseVersion, the entity's version in the list the phone had. Anything that
    is not a whole number there goes to the record's model as it came, to be refused there."""
    content = dict(instance.content)
    entity = instance.entity or {}
    if entity.get("dataset", ENTITY_LIST) != ENTITY_LIST:
        message = f"meta/entity dataset harus {ENTITY_LIST}, bukan {cut(entity['dataset'])!r}"
        raise INVALID(message, errors=[{"field": "meta/entity", "type": "dataset", "message": message}])
    if not content.get("id_kumkm") and entity.get("id"):
        content["id_kumkm"] = entity["id"]
    base = (entity.get("baseVersion") or "").strip()
    if base:
        content["versi_dasar"] = int(base) if base.isascii() and base.isdigit() and len(base) <= 10 else base
    return content


async def _new(content: dict, principal: Principal) -> Accepted:
    prepared, rejected = await prepare([content], principal)
    if rejected:
        INGESTED.labels("rejected").inc()
        raise rejected[0].problem()
    sid = prepared[0].submission_id
    (outcome,) = await store(prepared, principal)
    INGESTED.labels("rejected" if outcome.outcome == "conflict" else outcome.outcome).inc()
    if outcome.rejected is not None:  # a follow-up visit naming an entity it may not (docs/pemutakhiran.md)
        raise outcome.rejected.problem()
    if outcome.outcome == "conflict":
        raise _reused(sid)
    if outcome.outcome == "created":
        return Accepted(201, "Data diterima dan tersimpan dengan status masuk (menunggu verifikasi).", sid)
    return Accepted(202, "Data ini sudah diterima sebelumnya; tidak disimpan dua kali.", sid)


def _uuid(value: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        message = f"{field} bukan UUID: harus berbentuk uuid:<UUID>"
        raise INVALID(message, errors=[{"field": field, "type": "uuid_parsing", "message": message}]) from None


async def _edit(content: dict, instance_id: str, deprecated_id: str, principal: Principal) -> Accepted:
    """An edit on the phone: a new instanceID replacing `deprecated_id`, which is the record's
    submission_id or an earlier edit of it. Stored as a correction of the record.

    The new instanceID must be the phone's new id: never a record's submission_id nor an edit
    of another record. Were it remembered, an edit naming it as `deprecatedID` (the owner's
    next edit in Collect) would be sent to the wrong record (issue 26)."""
    iid = _uuid(instance_id, "meta/instanceID")
    did = _uuid(deprecated_id, "meta/deprecatedID")
    is_record = queries.IS_RECORD_CITUS if citus.enabled() else queries.IS_RECORD
    async with db.connect() as conn:
        seen = (await conn.execute(queries.RESOLVE, {"id": iid})).first()
        taken = (await conn.execute(is_record, {"id": iid})).scalar()
        earlier = (await conn.execute(queries.RESOLVE, {"id": did})).first()
        # An id that is both an edit's and a record's own: whichever came first is what the
        # phone meant. A record made later under an edit's id was a new instance squatting
        # it (new instances are not checked against edits: that would cost every phone's post
        # a round trip); an edit remembered under an existing record's id was the bug this
        # function now refuses.
        if (
            earlier is not None
            and (await conn.execute(is_record, {"id": did})).scalar()
            and not (await conn.execute(queries.EDIT_CAME_FIRST, {"id": did})).scalar()
        ):
            earlier = None
    record_id = earlier.submission_id if earlier is not None else did
    # the phone sending this same edit again is a replay, even if a record took its id since
    if (taken and seen is None) or (seen is not None and seen.submission_id != record_id):
        raise _taken("perbaikan")
    content = {**content, "submission_id": str(record_id)}
    sent_hash = canonical_hash(content)
    if seen is not None:
        if seen.content_hash == sent_hash:
            return Accepted(202, "Perbaikan ini sudah diterima sebelumnya; tidak disimpan dua kali.", str(record_id))
        raise _reused(str(seen.submission_id))
    try:
        # one unit of work: the correction and the phone's id for it commit together
        async with db.transaction() as conn:
            replay = await correct(conn, record_id, content, principal)
            await conn.execute(
                queries.REMEMBER,
                {"id": iid, "submission_id": record_id, "deprecated_id": did, "content_hash": sent_hash, "key_id": principal.id},
            )
    except Problem as p:
        if p.code == NOT_FOUND.code:
            message = f"meta/deprecatedID {did} tidak ditemukan: perbaikan harus mengganti data yang pernah terkirim ke server ini"
            raise NOT_FOUND(message, errors=[{"field": "meta/deprecatedID", "type": "not_found", "message": message}]) from None
        raise
    if replay:
        return Accepted(202, "Perbaikan ini sudah diterima sebelumnya; tidak disimpan dua kali.", str(record_id))
    return Accepted(201, "Perbaikan diterima: versi baru tersimpan dan kembali berstatus masuk (menunggu verifikasi).", str(record_id))


# ---------------------------------------------------------------- the form's media file

# scope -> (made at, csv bytes, "md5:<hex>"). At most one entry per kabupaten/kota (514),
# provinsi (38) and the nation; wilayah change only with `kumkm wilayah load`.
_media: dict[str | None, tuple[float, bytes, str]] = {}
MEDIA_SECONDS = 600.0
_MEDIA_MAX = 600
_LEVEL = {2: "kabkota", 3: "kecamatan", 4: "desa"}


async def media_csv(scope: str | None) -> tuple[bytes, str]:
    """wilayah.csv for a key: the kabupaten/kota, kecamatan and desa inside its wilayah, with
    the columns the form's cascading selects filter on (`tingkat`, `induk`)."""
    now = time.monotonic()
    hit = _media.get(scope)
    if hit is not None and now - hit[0] < MEDIA_SECONDS:
        return hit[1], hit[2]
    async with db.connect() as conn:
        rows = (await conn.execute(queries.WILAYAH_ROWS, {"scope": scope})).all()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "label", "tingkat", "induk"])
    for kode, nama, level, parent in rows:
        writer.writerow([kode, nama, _LEVEL[level], parent or ""])
    data = out.getvalue().encode()
    digest = "md5:" + hashlib.md5(data).hexdigest()
    if len(_media) >= _MEDIA_MAX:
        _media.clear()
    _media[scope] = (now, data, digest)
    return data, digest


__all__ = ["Accepted", "read_submission", "submit", "media_csv", "MEDIA_FILE", "instance_xml", "cut"]

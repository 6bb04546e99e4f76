"""OpenRosa as a transport over the registry's own rules: a submitted instance becomes the
same record the JSON API would make. New instances go through app.core.record.prepare and
app.submissions.service.store (the same validation messages, derived fields, idempotency and
feed line as POST /api/v1/submissions); an edit (`meta/deprecatedID`) is a correction through
app.verification.service.correct (the same rules as PUT /api/v1/submissions/{id}). Those two
services are the only other domains' services used here (see docs/code.md)."""
from __future__ import annotations

import csv
import hashlib
import io
import time
import uuid
from dataclasses import dataclass

from app.core import citus, db
from app.core.access import Principal
from app.core.errors import ATTACHMENT_REFUSED, CONTENT_CONFLICT, INVALID, NOT_FOUND, Problem
from app.core.record.prepare import canonical_hash, prepare
from app.observability.metrics import INGESTED
from app.openrosa import queries
from app.openrosa.documents import parse_instance
from app.openrosa.multipart import Part
from app.openrosa.xlsform import MEDIA_FILE, form
from app.submissions.service import store
from app.verification.service import correct

SUBMISSION_PART = "xml_submission_file"
# ODK Collect sends this field when it splits a submission with many attachments over several
# requests; it carries no content of its own.
INCOMPLETE_PART = "*isIncomplete*"


@dataclass
class Accepted:
    status: int          # 201 stored (a new record or a new version), 202 already stored
    message: str         # for the enumerator, in Indonesian
    submission_id: str


# ---------------------------------------------------------------- submissions

def instance_xml(parts: list[Part]) -> bytes:
    """The instance among the parts. Attachments are refused: the PL-KUMKM form has no photo,
    audio or file question, so a file part comes from another form or a modified one, and
    nothing in the record could refer to it (docs/openrosa.md)."""
    xml = [p for p in parts if p.name == SUBMISSION_PART]
    files = [p for p in parts if p.name not in (SUBMISSION_PART, INCOMPLETE_PART) and p.filename is not None]
    if files:
        names = ", ".join(p.filename or p.name for p in files)
        raise ATTACHMENT_REFUSED(
            f"the PL-KUMKM form has no file questions; attachments are not stored: {names}",
            errors=[{"field": p.name, "type": "attachment",
                     "message": f"attachment {p.filename!r} refused: the form has no file questions"}
                    for p in files])
    if len(xml) != 1:
        raise INVALID(f"a submission has exactly one {SUBMISSION_PART} part (got {len(xml)})",
                      errors=[{"field": SUBMISSION_PART, "type": "missing" if not xml else "repeated",
                               "message": "exactly one part with the instance XML is required"}])
    return xml[0].data


async def submit(parts: list[Part], principal: Principal) -> Accepted:
    instance = parse_instance(instance_xml(parts))
    expected = form()
    if instance.form_id != expected.form_id:
        raise INVALID(f"this server takes the form {expected.form_id!r}, not {instance.form_id!r}",
                      errors=[{"field": "id", "type": "form",
                               "message": f"the instance's form id must be {expected.form_id}"}])
    if instance.deprecated_id is None:
        return await _new(instance.content, principal)
    return await _edit(instance.content, instance.instance_id, instance.deprecated_id, principal)


async def _new(content: dict, principal: Principal) -> Accepted:
    prepared, rejected = await prepare([content], principal)
    if rejected:
        INGESTED.labels("rejected").inc()
        raise rejected[0].problem()
    (outcome,) = await store(prepared, principal)
    sid = prepared[0].submission_id
    INGESTED.labels("rejected" if outcome.outcome == "conflict" else outcome.outcome).inc()
    if outcome.outcome == "conflict":
        raise CONTENT_CONFLICT("this instanceID was already stored with different content",
                               errors=[{"field": "meta/instanceID",
                                        "message": "already used with different content"}],
                               submission_id=sid)
    if outcome.outcome == "created":
        return Accepted(201, "Data diterima dan tersimpan dengan status masuk (menunggu verifikasi).", sid)
    return Accepted(202, "Data ini sudah diterima sebelumnya; tidak disimpan dua kali.", sid)


def _uuid(value: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise INVALID(f"{field} is not a UUID", errors=[{"field": field, "type": "uuid_parsing",
                                                          "message": "must be uuid:<UUID>"}]) from None


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
        # An edit remembered under a record's own id is one the check below now refuses,
        # stored before it was there: the record is the one with that id.
        if earlier is not None and (await conn.execute(is_record, {"id": did})).scalar():
            earlier = None
    record_id = earlier.submission_id if earlier is not None else did
    if taken or (seen is not None and seen.submission_id != record_id):
        raise CONTENT_CONFLICT("meta/instanceID of an edit is already the id of another record or edit",
                               errors=[{"field": "meta/instanceID", "type": "taken",
                                        "message": "meta/instanceID sudah dipakai oleh data lain; "
                                                   "perbaikan harus memakai instanceID baru"}])
    content = {**content, "submission_id": str(record_id)}
    sent_hash = canonical_hash(content)
    if seen is not None:
        if seen.content_hash == sent_hash:
            return Accepted(202, "Perbaikan ini sudah diterima sebelumnya; tidak disimpan dua kali.", str(record_id))
        raise CONTENT_CONFLICT("this instanceID was already stored with different content",
                               errors=[{"field": "meta/instanceID",
                                        "message": "already used with different content"}],
                               submission_id=str(seen.submission_id))
    try:
        replay = await correct(record_id, content, principal)
    except Problem as p:
        if p.code == NOT_FOUND.code:
            raise NOT_FOUND(f"meta/deprecatedID names no record in the registry ({deprecated_id}); "
                            "an edit must replace an instance that was sent",
                            errors=[{"field": "meta/deprecatedID", "type": "not_found",
                                     "message": "no record with this instanceID"}]) from None
        raise
    async with db.transaction() as conn:
        await conn.execute(queries.REMEMBER, {"id": iid, "submission_id": record_id, "deprecated_id": did,
                                              "content_hash": sent_hash, "key_id": principal.id})
    if replay:
        return Accepted(202, "Perbaikan ini sudah diterima sebelumnya; tidak disimpan dua kali.", str(record_id))
    return Accepted(201, "Perbaikan diterima: versi baru tersimpan dan kembali berstatus masuk "
                         "(menunggu verifikasi).", str(record_id))


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


__all__ = ["Accepted", "submit", "media_csv", "MEDIA_FILE", "instance_xml"]

"""Verification: decisions (masuk -> diterima | ditolak, and reversals between the two),
corrections of ditolak records by their enumerator, history and earlier versions.

Concurrency rule: a decision names the version AND the state its decider saw (`version`,
`dari`). It applies only if the record is still exactly there, so of two verifikators who saw
the same thing, exactly one wins and the other gets 409 with the current state. A decision
does not change `version` (versions count content), which is why the state must be part of
the token: without it, a reversal could silently overrule a decision its author never saw."""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import uuid
from dataclasses import dataclass, field

import orjson
from pydantic import TypeAdapter, ValidationError

from app.core.errors import (
    INVALID,
    NOT_FOUND,
    OUTSIDE_SCOPE,
    STATE_CONFLICT,
    Problem,
    ProblemType,
    pydantic_errors,
)
from app.infra import citus, db
from app.record.prepare import prepare
from app.record.reference import LEVEL_DESA, LEVEL_KABKOTA, LEVEL_KECAMATAN, WIB, get_index
from app.security.policy import authorize
from app.security.principal import Principal
from app.verification import queries
from app.verification.schemas import KeputusanItem

# Identity of a record: a correction may fix anything else, never these.
IDENTITY_FIELDS = ("periode", "jenis", "enumerator_id")

_item_adapter: TypeAdapter = TypeAdapter(KeputusanItem)


def rule_errors(k) -> list[dict]:
    """Rules that tie fields together; each names the field to fix."""
    errors: list[dict] = []

    def err(f: str, msg: str) -> None:
        errors.append({"field": f, "message": msg, "type": "value_error"})

    if k.dari == k.status:
        err("dari", f"dari sama dengan status ({k.status}): keputusan harus mengubah status rekaman")
    if k.status == "ditolak" and k.alasan_kode is None:
        err("alasan_kode", "alasan_kode wajib diisi untuk ditolak: salah satu dari data_tidak_lengkap, "
                           "data_tidak_valid, duplikat, di_luar_wilayah, bukan_kumkm atau lainnya")
    if k.status == "diterima" and k.alasan_kode is not None:
        err("alasan_kode", "alasan_kode hanya untuk keputusan ditolak; alasan membatalkan penolakan ditulis "
                           "di catatan")
    if k.alasan_kode == "lainnya" and not k.catatan:
        err("catatan", "catatan wajib diisi bila alasan_kode lainnya")
    elif k.dari != "masuk" and k.dari != k.status and not k.catatan:
        err("catatan", f"catatan wajib diisi untuk membatalkan keputusan {k.dari}: tulis alasannya")
    return errors


# ---------------------------------------------------------------- decisions

@dataclass
class Decision:
    index: int
    submission_id: str
    ke: str
    dari: str
    version: int
    alasan_kode: str | None
    catatan: str | None


@dataclass
class DecisionOutcome:
    index: int
    submission_id: str | None
    outcome: str                      # decided | duplicate | rejected
    kind: ProblemType | None = None   # rejected: why (INVALID, OUTSIDE_SCOPE, NOT_FOUND, STATE_CONFLICT)
    errors: list[dict] = field(default_factory=list)
    result: dict | None = None        # decided / duplicate: the decision as stored
    current_status: str | None = None
    current_version: int | None = None

    @property
    def status(self) -> int:
        """The status a single decision would have been answered with."""
        return 200 if self.kind is None else self.kind.status

    def problem(self) -> Problem:
        assert self.kind is not None
        extra: dict = {"submission_id": self.submission_id}
        if self.kind is STATE_CONFLICT:
            extra.update(current_status=self.current_status, current_version=self.current_version)
        return self.kind("; ".join(e["message"] for e in self.errors), errors=self.errors, **extra)


def parse_items(items: list) -> tuple[list[Decision], list[DecisionOutcome]]:
    ok: list[Decision] = []
    bad: list[DecisionOutcome] = []
    for i, item in enumerate(items):
        raw_id = item.get("submission_id") if isinstance(item, dict) else None
        raw_id = raw_id if isinstance(raw_id, str) else None
        try:
            k = _item_adapter.validate_python(item)
        except ValidationError as exc:
            bad.append(DecisionOutcome(i, raw_id, "rejected", INVALID, pydantic_errors(exc.errors())))
            continue
        errors = rule_errors(k)
        if errors:
            bad.append(DecisionOutcome(i, str(k.submission_id), "rejected", INVALID, errors))
            continue
        ok.append(Decision(i, str(k.submission_id), k.status, k.dari, k.version, k.alasan_kode, k.catatan))
    return ok, bad


def _scope(principal: Principal) -> str | None:
    # Keys are scoped to a provinsi or a kabupaten/kota (see auth.service.create); the SQL
    # compares the record's kode_provinsi / kode_kabkota with it.
    return principal.kode_wilayah


async def decide(decisions: list[Decision], principal: Principal) -> list[DecisionOutcome]:
    """Apply every decision that still matches what its decider saw, in one statement, then
    explain the others. Each decision is atomic on its own; none depends on another."""
    if not decisions:
        return []
    # The same record twice in one batch: the first item is the decision, later ones are
    # judged against the state it left (a replay of it, or a conflict).
    first: dict[str, Decision] = {}
    for d in decisions:
        first.setdefault(d.submission_id, d)
    payload = orjson.dumps([
        {"submission_id": d.submission_id, "ke": d.ke, "dari": d.dari, "version": d.version,
         "alasan_kode": d.alasan_kode, "catatan": d.catatan} for d in first.values()
    ]).decode()
    if citus.enabled():
        done, current = await _decide_citus(first, decisions, principal)
        return _decision_outcomes(decisions, first, done, current, principal)
    # DECIDE is one statement, so it is atomic without an explicit transaction (db.autocommit);
    # leaving out BEGIN and COMMIT saves two round trips per request on the single-decision path.
    async with db.autocommit() as conn:
        done = {str(r.submission_id): r for r in await conn.execute(queries.DECIDE, {
            "items": payload, "scope": _scope(principal),
            "actor": principal.name, "actor_key": principal.id, "actor_role": principal.role,
        })}
        rest = [d for d in decisions if d.submission_id not in done or first[d.submission_id] is not d]
        current = {}
        if rest:
            ids = list({d.submission_id for d in rest})
            current = {str(r.submission_id): r for r in await conn.execute(queries.CURRENT_WITH_LAST,
                                                                             {"ids": ids})}
            # a replay is acknowledged only once the decision is on the synchronous standby
            await db.replay_barrier(conn)
    return _decision_outcomes(decisions, first, done, current, principal)


async def _decide_citus(first: dict[str, Decision], decisions: list[Decision],
                        principal: Principal) -> tuple[dict, dict]:
    """decide() on a Citus coordinator (app.infra.citus): the directory names every record's
    provinsi, then, per provinsi in a fixed order, the records are locked in submission_id
    order and decided by one statement routed to that provinsi's worker (queries.DECIDE_CITUS
    says why it differs), all in one transaction. Same outcomes as on one server."""
    ids = list(first)
    done: dict = {}
    current: dict = {}
    async with db.transaction() as conn:
        where: dict[str, list[str]] = {}
        for sid, provinsi in await conn.execute(queries.DIRECTORY_CITUS, {"ids": ids}):
            where.setdefault(provinsi, []).append(str(sid))
        for provinsi, sids in sorted(where.items()):
            await conn.execute(queries.LOCK_CITUS, {"provinsi": provinsi, "ids": sids})
            payload = orjson.dumps([
                {"submission_id": sid, "ke": first[sid].ke, "dari": first[sid].dari, "version": first[sid].version,
                 "alasan_kode": first[sid].alasan_kode, "catatan": first[sid].catatan} for sid in sids
            ]).decode()
            done.update({str(r.submission_id): r for r in await conn.execute(queries.DECIDE_CITUS, {
                "items": payload, "scope": _scope(principal), "provinsi": provinsi,
                "actor": principal.name, "actor_key": principal.id, "actor_role": principal.role,
            })})
        rest = {d.submission_id for d in decisions if d.submission_id not in done or first[d.submission_id] is not d}
        for provinsi, sids in sorted(where.items()):
            asked = [sid for sid in sids if sid in rest]
            if asked:
                current.update({str(r.submission_id): r for r in await conn.execute(
                    queries.CURRENT_WITH_LAST_CITUS, {"ids": asked, "provinsi": provinsi})})
    return done, current


def _decision_outcomes(decisions: list[Decision], first: dict[str, Decision], done: dict, current: dict,
                       principal: Principal) -> list[DecisionOutcome]:
    out = []
    for d in decisions:
        row = done.get(d.submission_id)
        if row is not None and first[d.submission_id] is d:
            out.append(DecisionOutcome(d.index, d.submission_id, "decided",
                                       result=_decision_out(row.submission_id, row.status, row.version,
                                                            row.dari, row.alasan_kode, row.catatan,
                                                            principal.name, row.pada, False)))
        else:
            out.append(_explain(d, current.get(d.submission_id), principal))
    return out


def _explain(d: Decision, cur, principal: Principal) -> DecisionOutcome:
    sid = d.submission_id
    if cur is None:
        return DecisionOutcome(d.index, sid, "rejected", NOT_FOUND, [{
            "field": "submission_id", "message": f"submission_id {sid} tidak ditemukan", "type": "not_found"}])
    if not principal.covers(cur.kode_wilayah):
        # the record's own wilayah is not named (app.security.policy.scope_problem says why)
        return DecisionOutcome(d.index, sid, "rejected", OUTSIDE_SCOPE, [{
            "field": "submission_id", "type": "scope",
            "message": f"submission_id menunjuk rekaman di luar wilayah kunci ini ({principal.kode_wilayah} "
                       "dan wilayah di dalamnya)"}])
    if (cur.status == d.ke and cur.version == d.version and cur.aksi == "diverifikasi"
            and cur.oleh == principal.name and cur.dari == d.dari and cur.alasan_kode == d.alasan_kode
            and cur.catatan == d.catatan):
        # The same decider sending the same decision again (a retry after a lost response).
        return DecisionOutcome(d.index, sid, "duplicate",
                               result=_decision_out(cur.submission_id, cur.status, cur.version, cur.dari,
                                                    cur.alasan_kode, cur.catatan, cur.oleh, cur.pada, True))
    if cur.version != d.version:
        errors = [{"field": "version", "type": "stale",
                   "message": f"version {d.version} sudah usang: rekaman kini di versi {cur.version} "
                              f"({cur.status})"}]
    elif cur.status == d.dari:
        # It would apply now, but it was judged against an earlier state: a later item for the
        # same record in one batch, or a record that changed back while this one was decided.
        errors = [{"field": "submission_id", "type": "stale",
                   "message": "submission_id menunjuk rekaman yang berubah selama permintaan ini (paling "
                              "banyak satu keputusan per rekaman dalam satu batch); kirim keputusannya lagi"}]
    else:
        errors = [{"field": "dari", "type": "stale",
                   "message": f"dari {d.dari} sudah usang: rekaman kini berstatus {cur.status}"}]
    return DecisionOutcome(d.index, sid, "rejected", STATE_CONFLICT, errors,
                           current_status=cur.status, current_version=cur.version)


def _decision_out(sid, status, version, dari, alasan_kode, catatan, oleh, pada, replay) -> dict:
    return {"submission_id": str(sid), "status": status, "version": version, "dari": dari,
            "alasan_kode": alasan_kode, "catatan": catatan, "diputuskan_oleh": oleh,
            "diputuskan_pada": pada, "replay": replay}


# ---------------------------------------------------------------- corrections

async def _current(conn, submission_id: str):
    if citus.enabled():
        # the directory names the provinsi; the record is then read on its worker
        found = (await conn.execute(queries.DIRECTORY_CITUS, {"ids": [submission_id]})).first()
        if found is None:
            return None
        return (await conn.execute(queries.CURRENT_WITH_LAST_CITUS, {"ids": [submission_id],
                                                                     "provinsi": found.kode_provinsi})).first()
    return (await conn.execute(queries.CURRENT_WITH_LAST, {"ids": [submission_id]})).first()


async def correct(submission_id: uuid.UUID, body: dict, principal: Principal) -> bool:
    """Store a corrected record as its next version and put it back to masuk.

    Returns True for a replay (this very correction is already the current version), False
    for a new version; raises the problem otherwise. The body goes through exactly the ingest
    validation (app.record.prepare); on top,
    it must keep the record's identity: submission_id, periode, jenis and enumerator_id are
    those of the record, and kode_wilayah stays in the same provinsi (records are placed by
    provinsi; a wrong desa or kabkota inside it is a normal thing to correct)."""
    sid = str(submission_id)
    async with db.connect() as conn:
        cur = await _current(conn, sid)
    if cur is None:
        raise NOT_FOUND(f"submission_id {sid} tidak ditemukan", submission_id=sid)
    # only the record's own enumerator (or admin), inside the key's wilayah
    authorize(principal, "record.correct", cur.kode_wilayah, owner=cur.owner_identity, submission_id=sid)
    if not isinstance(body, dict):
        raise INVALID("body harus objek JSON ({...}): rekaman lengkap yang dikoreksi",
                      errors=[{"field": "body", "type": "model_type",
                               "message": "body harus objek JSON ({...}): rekaman lengkap yang dikoreksi"}])
    errors: list[dict] = [{"field": f, "type": "value_error",
                           "message": f"{f} tidak boleh memuat karakter NUL (U+0000)"}
                          for f in _nul_fields(body)]
    if str(body.get("submission_id")) != sid:
        errors.append({"field": "submission_id", "type": "identity",
                       "message": f"submission_id harus sama dengan submission_id di path ({sid})"})
    for f in IDENTITY_FIELDS:
        sent = body[f].strip() if isinstance(body.get(f), str) else body.get(f)
        if f in body and sent != getattr(cur, f):
            errors.append({"field": f, "type": "identity",
                           "message": f"{f} tidak boleh berubah dalam koreksi (tetap {getattr(cur, f)})"})
    if errors:
        raise INVALID("; ".join(e["message"] for e in errors), errors=errors, submission_id=sid)
    prepared, rejected = await prepare([body], principal)
    if rejected:
        raise rejected[0].problem(submission_id=sid)
    p = prepared[0]
    if p.row["kode_provinsi"] != cur.kode_provinsi:
        message = f"kode_wilayah harus tetap di provinsi {cur.kode_provinsi}: koreksi tidak memindahkan rekaman " \
                  "ke provinsi lain"
        raise INVALID(message, errors=[{"field": "kode_wilayah", "type": "identity", "message": message}],
                      submission_id=sid)
    # Two tries: the second sees whatever a concurrent writer left and answers from it.
    for _ in range(2):
        if _judge_correction(cur, p.content_hash):
            await db.replay_barrier()       # acknowledged only once on the synchronous standby
            return True
        async with db.transaction() as conn:
            args = {"row": orjson.dumps(p.row).decode(), "seen_version": cur.version,
                    "actor": principal.name, "actor_key": principal.id, "actor_role": principal.role}
            if citus.enabled():
                args.update(provinsi=cur.kode_provinsi, old_kabkota=cur.kode_kabkota)
            row = (await conn.execute(queries.CORRECT_CITUS if citus.enabled() else queries.CORRECT,
                                      args)).first()
            if row is not None:
                return False
            cur = await _current(conn, sid)
    if _judge_correction(cur, p.content_hash):
        await db.replay_barrier()
        return True
    raise STATE_CONFLICT("rekaman berubah saat koreksi disimpan; baca rekaman itu lalu kirim koreksinya lagi",
                         submission_id=sid, current_status=cur.status, current_version=cur.version)


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
        raise INVALID(message, submission_id=sid,
                      errors=[{"field": "body", "type": "unchanged", "message": message}])
    if cur.status != "ditolak":
        message = (f"status rekaman {cur.status} (versi {cur.version}), bukan ditolak: hanya rekaman ditolak "
                   "yang dapat dikoreksi")
        raise STATE_CONFLICT(
            message, errors=[{"field": "status", "type": "state", "message": message}],
            submission_id=sid, current_status=cur.status, current_version=cur.version)
    return False


# ---------------------------------------------------------------- reading

async def record_head(submission_id: uuid.UUID):
    async with db.connect() as conn:
        return (await conn.execute(queries.RECORD_HEAD, {"id": submission_id})).first()


async def riwayat(submission_id: uuid.UUID) -> list[dict]:
    async with db.connect() as conn:
        return [dict(r) for r in (await conn.execute(queries.RIWAYAT, {"id": submission_id})).mappings()]


async def versions(submission_id: uuid.UUID) -> list[dict]:
    async with db.connect() as conn:
        return [{"version": r.version, "dibuat_oleh": r.dibuat_oleh, "dibuat_pada": r.dibuat_pada}
                for r in await conn.execute(queries.VERSIONS, {"id": submission_id})]


async def one_version(submission_id: uuid.UUID, version: int):
    async with db.connect() as conn:
        return (await conn.execute(queries.ONE_VERSION, {"id": submission_id, "version": version})).first()


# ---------------------------------------------------------------- the verifikator's queue

_KABKOTA_PATTERN = re.compile(r"^[0-9]{2}\.[0-9]{2}$")
# captured_at lies after 2000 (app.record.model); a filter date far outside the round
# is a typo, and dates beyond these cannot be turned into instants safely.
_DATE_MIN, _DATE_MAX = dt.date(2000, 1, 1), dt.date(2100, 12, 31)


async def kabkota_of(principal: Principal, kabkota: str | None) -> str:
    """The kabupaten/kota a queue is read for: the one asked (inside the key's wilayah), or
    the key's own when it is scoped to one."""
    index = await get_index()
    if kabkota is None:
        own = principal.kode_wilayah
        if own is not None and index.level.get(own) == LEVEL_KABKOTA:
            return own
        where = f"provinsi {own}" if own else "seluruh Indonesia"
        message = f"kabkota wajib diisi untuk kunci yang mencakup {where}: sebutkan kabupaten/kotanya, mis. 16.07"
        raise INVALID(message, errors=[{"field": "kabkota", "type": "missing", "message": message}])
    if not _KABKOTA_PATTERN.match(kabkota) or not index.exists(kabkota, LEVEL_KABKOTA):
        message = f"kabkota {kabkota} bukan kode kabupaten/kota yang ada (mis. 16.07)"
        raise INVALID(message, errors=[{"field": "kabkota", "type": "value_error", "message": message}])
    authorize(principal, "record.decide", kabkota, field="kabkota", kabkota=kabkota, scope=principal.kode_wilayah)
    return kabkota


async def rekap(principal: Principal, periode: str, kabkota: str | None) -> dict:
    """Counts per status of the kabupaten/kota asked, or of every one the key covers."""
    index = await get_index()
    if kabkota is not None:
        codes = [await kabkota_of(principal, kabkota)]
    else:
        scope = principal.kode_wilayah
        codes = sorted(k for k, level in index.level.items()
                       if level == LEVEL_KABKOTA and principal.covers(k))
        if scope is not None and index.level.get(scope) == LEVEL_KABKOTA:
            kabkota = scope
    provinsi = None
    if kabkota is None and principal.kode_wilayah is not None:
        provinsi = principal.kode_wilayah[:2]
    async with db.connect() as conn:
        rows = (await conn.execute(queries.REKAP, {"periode": periode, "kabkota": kabkota,
                                                   "provinsi": provinsi})).all()
    counts: dict[str, dict[str, int]] = {}
    for r in rows:
        counts.setdefault(r.kode_kabkota, {})[r.status] = r.n
    return {"periode": periode, "items": [_rekap_row(k, index.nama.get(k, k), counts.get(k, {})) for k in codes]}


def _rekap_row(kode: str, nama: str, c: dict[str, int]) -> dict:
    belum, diterima, ditolak = c.get("masuk", 0), c.get("diterima", 0), c.get("ditolak", 0)
    # `masuk` beside it is the deprecated old name of the same count (schemas.RekapKabkota)
    return {"kode_kabkota": kode, "nama": nama, "belum_diverifikasi": belum, "diterima": diterima,
            "ditolak": ditolak, "total": belum + diterima + ditolak, "masuk": belum}


def encode_cursor(captured_at: dt.datetime, submission_id) -> str:
    raw = f"{captured_at.astimezone(dt.UTC).isoformat()}|{submission_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, sid = raw.split("|")
        when = dt.datetime.fromisoformat(at)
        if when.tzinfo is None:
            raise ValueError("no timezone")
        return when, str(uuid.UUID(sid))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        message = "cursor bukan kursor dari layanan ini: kirim next_cursor halaman sebelumnya apa adanya"
        raise INVALID(message, errors=[{"field": "cursor", "type": "value_error", "message": message}]) from None


def _day_start(day: dt.date, name: str) -> dt.datetime:
    if not _DATE_MIN <= day <= _DATE_MAX:
        message = f"{name} harus tanggal antara {_DATE_MIN} dan {_DATE_MAX}, bukan {day}"
        raise INVALID(message, errors=[{"field": name, "type": "value_error", "message": message}])
    return dt.datetime.combine(day, dt.time(), WIB)


@dataclass
class Filter:
    """What the verifikator narrowed the queue to; captured dates are WIB days, both ends
    included."""
    periode: str
    status: str = "masuk"
    wilayah: str | None = None
    enumerator_id: str | None = None
    jenis: str | None = None
    captured_dari: dt.date | None = None
    captured_sampai: dt.date | None = None
    duplikat: bool | None = None


async def antrian(principal: Principal, kabkota: str | None, f: Filter, cursor: str | None, limit: int) -> dict:
    """One page of the queue, oldest capture first, from the keyset cursor."""
    kabkota = await kabkota_of(principal, kabkota)
    index = await get_index()
    params: dict = {"periode": f.periode, "status": f.status, "kabkota": kabkota}
    drive = "kabkota"
    residual: list[str] = []
    if f.wilayah is not None:
        level = index.level.get(f.wilayah)
        if level not in (LEVEL_KECAMATAN, LEVEL_DESA) or not f.wilayah.startswith(kabkota + "."):
            message = f"wilayah {f.wilayah} bukan kecamatan atau desa/kelurahan di {kabkota}"
            raise INVALID(message, errors=[{"field": "wilayah", "type": "value_error", "message": message}])
        drive = "kecamatan"
        params["kecamatan"] = f.wilayah[:8]
        if level == LEVEL_DESA:
            residual.append("desa")
            params["desa"] = f.wilayah
    for name in ("jenis", "enumerator_id", "duplikat"):
        value = getattr(f, name)
        if value is not None:
            residual.append(name)
            params[name] = value
    dari = sampai = None
    if f.captured_dari is not None:
        params["dari"] = dari = _day_start(f.captured_dari, "captured_dari")
    if f.captured_sampai is not None:
        params["sampai"] = sampai = _day_start(f.captured_sampai, "captured_sampai") + dt.timedelta(days=1)
    if dari is not None and sampai is not None and dari >= sampai:
        message = "captured_sampai harus sama dengan atau sesudah captured_dari"
        raise INVALID(message, errors=[{"field": "captured_sampai", "type": "value_error", "message": message}])
    if cursor is not None:
        params["after_at"], params["after_id"] = decode_cursor(cursor)
    # Without a filter to check, the page is the first `limit` rows walked.
    scan = max(queries.SCAN_MAX, limit) if residual else limit
    stmt = queries.antrian(drive, tuple(residual), cursor is not None, dari is not None, sampai is not None,
                           scan, limit, citus.enabled())
    params["provinsi"] = kabkota.split(".")[0]
    async with db.connect() as conn:
        rows = (await conn.execute(stmt, params)).all()
        counts = {r.status: r.n for r in await conn.execute(queries.REKAP, {
            "periode": f.periode, "kabkota": kabkota, "provinsi": None})}
    items = [{
        "submission_id": str(r.submission_id), "status": r.status, "version": r.version, "jenis": r.jenis,
        "nama": r.nama, "kode_wilayah": r.kode_wilayah, "nama_wilayah": index.nama.get(r.kode_wilayah),
        "enumerator_id": r.enumerator_id, "captured_at": r.captured_at, "skala_usaha": r.skala_usaha,
        "kemungkinan_duplikat": r.kemungkinan_duplikat, "diperbarui_pada": r.diperbarui_pada,
    } for r in rows if r.hit]
    next_cursor = None
    if rows and (rows[-1].rn == scan or (len(rows) == limit and rows[-1].hit)):
        # The page is full, or the walk reached its bound: the queue may go on after that row.
        next_cursor = encode_cursor(rows[-1].captured_at, rows[-1].submission_id)
    return {"periode": f.periode, "status": f.status,
            "jumlah": _rekap_row(kabkota, index.nama.get(kabkota, kabkota), counts),
            "items": items, "next_cursor": next_cursor, "dipindai": rows[-1].rn if rows else 0}

"""A partner's look-ups (docs/mitra.md): the bounds (a rate per second and look-ups per WIB day,
per key holder, for every process of the service at once), the look-up of one question or a
whole batch in one statement, the answer (never a name, NIK, address or phone), and the record
of every look-up (access log, counts per purpose per day), refused ones too.

A single look-up is one round trip (queries.SATU, a CALL: bounds, look-up and record), carried
with the other single look-ups that arrived meanwhile (app.infra.group_commit): one CALL, one
disk flush and one pooled connection for a group. The CALL commits the bounds without waiting for
the disk, then the look-ups' access-log rows durably: a partner's bounds row is never locked
across a flush, so the groups of one busy partner do not queue one flush apiece."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from app.core.errors import FORBIDDEN, INVALID, NOT_FOUND, TOO_MANY, Problem, pydantic_errors
from app.infra import db
from app.infra.group_commit import PerLoop
from app.mitra import queries, rules
from app.mitra.rules import Ditolak, Pertanyaan
from app.record import nama
from app.record.reference import today_wib
from app.security.principal import TUJUAN, Principal

ENDPOINT = "POST /api/v1/kumkm/cek"
ENDPOINT_BATCH = "POST /api/v1/kumkm/cek/batch"

TERDAFTAR, TIDAK, DITOLAK = "terdaftar", "tidak_terdaftar", "ditolak"

# What an answer says of a registered usaha or koperasi, in this order (CSV and workbook
# columns too). Nothing else: no name, NIK, address, phone or exact location, whoever asks.
PROFIL = ("id_kumkm", "jenis", "skala_usaha", "sektor", "kode_kabkota", "nama_kabkota", "status_verifikasi", "periode_terakhir")


def _terdaftar(r: Any) -> dict[str, Any]:
    """What a look-up answers of a registered entry, from a row of either path (the batch's
    look-up or the single look-ups' CALL): these fields and no other, so a column added to
    either statement never reaches a partner by itself (docs/mitra.md, what is withheld)."""
    return {
        "id_kumkm": r["id_kumkm"],
        "jenis": r["jenis"],
        "skala_usaha": r["skala_usaha"],
        "sektor": r["sektor"],
        "kode_kabkota": r["kode_kabkota"],
        "nama_kabkota": r["nama_kabkota"],
        "status_verifikasi": r["status"],
        "periode_terakhir": r["periode"],
    }


# ---------------------------------------------------------------- bounds


def _terlalu_banyak(principal: Principal, kuota_habis: bool, sudah_hari: int, sisa_detik: int, n: int) -> Problem:
    """The 429 of a request beyond the holder's bounds: the quota's (Retry-After until the next
    WIB midnight) or the rate's (Retry-After 1: the next request is due within 1/rate s)."""
    if kuota_habis:
        kuota = principal.kuota_harian or 0
        sisa = max(kuota - sudah_hari, 0)
        minta = f"; berkas ini {n} baris" if n > 1 else ""
        return TOO_MANY(
            f"kuota: kuota harian kunci ini {kuota} cek (hari WIB) tersisa {sisa}{minta}; kuota pulih pukul 00.00 WIB",
            headers={"Retry-After": str(max(sisa_detik, 1))},
        )
    return TOO_MANY(
        f"per_detik: kunci ini paling banyak {principal.per_detik} permintaan per detik (sekaligus paling banyak "
        f"{principal.per_detik}, lalu satu tiap 1/{principal.per_detik} detik); coba lagi sedetik lagi",
        headers={"Retry-After": "1"},
    )


async def batas(conn: Any, principal: Principal, n: int, permintaan: int = 1) -> None:
    """A batch's bounds: count a request (`permintaan`) against the holder's rate and `n`
    look-ups against its look-ups of this WIB day, or raise 429 with Retry-After counting
    nothing. `conn`: the driver connection (db.driver())."""
    row = await conn.fetchrow(
        queries.BATAS, principal.identity, n, permintaan, principal.kuota_harian or 0, max(principal.per_detik or 1, 1)
    )
    if row["jumlah_hari"] is not None:
        return
    raise _terlalu_banyak(principal, row["sudah_hari"] + n > (principal.kuota_harian or 0), row["sudah_hari"], row["sisa_detik"], n)


# ---------------------------------------------------------------- the look-up


@dataclass
class Hasil:
    """One question's outcome: its purpose, the outcome, the reason of a refusal, the profile
    of what was found."""

    tujuan: str
    hasil: str
    alasan: str | None = None
    profil: dict[str, Any] | None = None
    dengan: str | None = None
    nilai: str | None = None  # the identifier asked, normalised; never a NIK (see _detail)


async def cari(conn: Any, principal: Principal, questions: Sequence[tuple[int, Pertanyaan]]) -> dict[int, dict[str, Any]]:
    """idx -> the profile of the one live entity each question names, inside the key's
    wilayah (none elsewhere: a look-up never says what exists outside it). One statement for
    all of them; the NIK's candidates are kept when their nama usaha, normalised, is the one
    asked (exactly); of several, the one with the latest periode (then the lowest id). `conn`:
    the driver connection."""
    if not questions:
        return {}
    asked = dict(questions)
    rows = await conn.fetch(queries.CARI, [i for i, _ in questions], [q.dengan for _, q in questions], [q.nilai for _, q in questions])
    best: dict[int, Any] = {}
    normal: dict[str, str] = {}
    for r in rows:
        q = asked[r["idx"]]
        if r["jenis"] != rules.JENIS[q.dengan] or not principal.covers(r["kode_kabkota"]):
            continue
        if q.nama is not None:
            raw = r["nama_usaha"] or ""
            if raw not in normal:
                normal[raw] = nama.normalise(raw)
            if normal[raw] != q.nama:
                continue
        held = best.get(r["idx"])
        if held is None or ((r["periode"] or ""), _neg(r["id_kumkm"])) > ((held["periode"] or ""), _neg(held["id_kumkm"])):
            best[r["idx"]] = r
    return {i: _terdaftar(r) for i, r in best.items()}


def _neg(text: str) -> tuple[int, ...]:
    """An order in which the lowest id is the greatest (ties of periode: the oldest entity)."""
    return tuple(-ord(c) for c in text)


def outcome(question: Pertanyaan | Ditolak, found: dict[str, Any] | None) -> Hasil:
    if isinstance(question, Ditolak):
        return Hasil(question.tujuan, DITOLAK, alasan=question.message)
    nilai = None if question.dengan == "nik_pemilik" else question.nilai
    if found is None:
        return Hasil(question.tujuan, TIDAK, dengan=question.dengan, nilai=nilai)
    return Hasil(question.tujuan, TERDAFTAR, profil=found, dengan=question.dengan, nilai=nilai)


def jawaban(h: Hasil) -> dict[str, Any]:
    """The JSON answer of one look-up: the same keys whatever the outcome."""
    return {"terdaftar": h.hasil == TERDAFTAR, "tujuan": h.tujuan, **{k: (h.profil or {}).get(k) for k in PROFIL}}


# ---------------------------------------------------------------- the record of it


def _detail(h: Hasil, baris: int | None) -> str:
    """An access-log entry's detail: purpose, outcome, the identifier kind and, for a business
    identifier (NIB, NIK koperasi, nomor badan hukum: registers of businesses, not personal
    data), its value; for a NIK pemilik neither the NIK nor the name, only that it was one."""
    d: dict[str, Any] = {"tujuan": h.tujuan, "hasil": h.hasil}
    if h.dengan is not None:
        d["dengan"] = h.dengan
    if h.nilai is not None:
        d["nilai"] = h.nilai
    if h.profil is not None:
        d["id_kumkm"] = h.profil["id_kumkm"]
    if h.alasan is not None:
        d["alasan"] = h.alasan
    if baris is not None:
        d["baris"] = baris
    return orjson.dumps(d).decode()


async def catat(conn: Any, principal: Principal, endpoint: str, hasil: Sequence[Hasil], baris: Sequence[int] | None = None) -> None:
    """Every look-up of a request in the access log and the day's counts, in one statement.
    `conn`: the driver connection."""
    per_tujuan: dict[str, list[int]] = {}
    for h in hasil:
        c = per_tujuan.setdefault(h.tujuan, [0, 0, 0])
        c[(TERDAFTAR, TIDAK, DITOLAK).index(h.hasil)] += 1
    await conn.execute(
        queries.CATAT,
        principal.id,
        principal.name,
        principal.role,
        endpoint,
        [_detail(h, None if baris is None else baris[i]) for i, h in enumerate(hasil)],
        principal.identity,
        list(per_tujuan),
        [c[0] for c in per_tujuan.values()],
        [c[1] for c in per_tujuan.values()],
        [c[2] for c in per_tujuan.values()],
    )


def _refusal(d: Ditolak) -> Problem:
    errors = [{"field": d.field, "message": d.message, "type": "forbidden" if d.forbidden else "value_error"}]
    return (FORBIDDEN if d.forbidden else INVALID)(d.message, errors=errors)


# ---------------------------------------------------------------- the two ways in


def _soal(i: int, principal: Principal, question: Pertanyaan | Ditolak) -> dict[str, Any]:
    """One single look-up as queries.SATU takes it."""
    d: dict[str, Any] = {
        "i": i,
        "identity": principal.identity,
        "kuota": principal.kuota_harian or 0,
        "per_detik": principal.per_detik or 1,
        "key_id": principal.id,
        "key_name": principal.name,
        "role": principal.role,
        "tujuan": question.tujuan,
        "wilayah": principal.kode_wilayah,
    }
    if isinstance(question, Ditolak):
        d["alasan"] = question.message
    else:
        d.update(dengan=question.dengan, nilai=question.nilai, nama=question.nama, jenis=rules.JENIS[question.dengan])
    return d


async def _satu(items: list[tuple[Principal, Pertanyaan | Ditolak]]) -> list[Hasil | BaseException]:
    """A group of single look-ups in one CALL (queries.SATU): each one's outcome, or the 429 of
    one beyond its holder's bounds (not counted, not recorded)."""
    payload = orjson.dumps([_soal(i, p, q) for i, (p, q) in enumerate(items)]).decode()
    async with db.driver() as conn:
        raw = await conn.fetchval(queries.SATU, payload, ENDPOINT)
    rows = orjson.loads(raw) if isinstance(raw, (str, bytes)) else raw
    out: list[Hasil | BaseException] = []
    for (principal, question), r in zip(items, rows, strict=True):
        if r["hasil"] is None:
            out.append(_terlalu_banyak(principal, r["lewat_kuota"], r["sudah_hari"], r["sisa_detik"], 1))
        elif isinstance(question, Ditolak):
            out.append(outcome(question, None))
        else:
            found = None
            if r["hasil"] == TERDAFTAR:
                found = _terdaftar(r)
            out.append(outcome(question, found))
    return out


# One queue per event loop, bounded as the single-record ingest's (group_commit.PerLoop): a
# look-up is a single write too (its access-log row).
_singles = PerLoop(_satu).get


async def cek(principal: Principal, values: dict[str, str | None]) -> dict[str, Any]:
    """POST /api/v1/kumkm/cek: one question. Checked by the rules (422, or 403 for a purpose
    not the key's), then counted (429 beyond the bounds), looked up and recorded in one
    statement, refused ones too (recorded, never looked up)."""
    question = rules.periksa(values, principal.tujuan)
    h = await _singles().submit((principal, question))
    if isinstance(question, Ditolak):
        raise _refusal(question)
    return jawaban(h)


async def tolak_badan(principal: Principal, body: bytes, errors: Sequence[Any]) -> None:
    """A single look-up whose body was refused before the rules saw it (not JSON, not an
    object, a field that is not a string or too long, a field not in the question): counted and
    recorded as refused like any other (429 instead when beyond the bounds); its purpose the
    one it named when that is a known purpose, else `-`. The reason recorded is the 422's own
    message, which never holds a value sent."""
    tujuan = rules.TANPA_TUJUAN
    try:
        sent = orjson.loads(body)
    except orjson.JSONDecodeError:
        sent = None
    if isinstance(sent, dict) and isinstance(sent.get("tujuan"), str) and sent["tujuan"].strip().lower() in TUJUAN:
        tujuan = sent["tujuan"].strip().lower()
    found = pydantic_errors(list(errors))
    if not found or any(e.get("type") == "json_invalid" for e in errors):
        found = [{"field": "body", "message": "body bukan JSON yang sah"}]
    message = "; ".join(e["message"] for e in found)[:500]
    await _singles().submit((principal, Ditolak(found[0]["field"], message, tujuan)))


async def cek_batch_mulai(principal: Principal) -> None:
    """The request counted against the rate before its body is read (a flood of files is
    refused before its bytes are taken)."""
    async with db.driver() as conn:
        await batas(conn, principal, 0)


async def cek_batch(principal: Principal, rows: list[dict[str, str]], baris: list[int], tujuan: str | None) -> list[Hasil]:
    """A batch's rows (read from its CSV), in order: each row's outcome. Its rows count against
    the quota all at once (429 when they do not fit: nothing looked up); one statement looks
    every valid row up; every row is recorded."""
    if not rows:
        message = "berkas: tidak ada baris data di bawah header"
        raise INVALID(message, errors=[{"field": "berkas", "message": message, "type": "csv"}])
    # three bounded blocks (db.driver()'s bound is per block): the rows counted (first: a key
    # without the quota left is refused before any row is checked), looked up, recorded
    async with db.driver() as conn:
        await batas(conn, principal, len(rows), permintaan=0)
    questions = [rules.periksa({**row, "tujuan": row.get("tujuan") or tujuan}, principal.tujuan) for row in rows]
    valid = [(i, q) for i, q in enumerate(questions) if isinstance(q, Pertanyaan)]
    async with db.driver() as conn:
        found = await cari(conn, principal, valid)
    hasil = [outcome(q, found.get(i)) for i, q in enumerate(questions)]
    async with db.driver() as conn:
        await catat(conn, principal, ENDPOINT_BATCH, hasil, baris=baris)
    return hasil


# ---------------------------------------------------------------- the audit

AUDIT_MAX_HARI = 366
AUDIT_MAX_ROWS = 100_000
# Days the audit may name: partners' look-ups began with this service.
AUDIT_AWAL, AUDIT_AKHIR = dt.date(2020, 1, 1), dt.date(2100, 12, 31)


async def audit(dari: dt.date | None, sampai: dt.date | None, key_id: int | None) -> dict[str, Any]:
    """Look-ups per partner, purpose and WIB day, from `dari` to `sampai` (default: the last
    31 days to today), of every partner or of the holder of key `key_id`."""
    for field, day in (("dari", dari), ("sampai", sampai)):
        if day is not None and not AUDIT_AWAL <= day <= AUDIT_AKHIR:
            message = f"{field}: harus antara {AUDIT_AWAL.isoformat()} dan {AUDIT_AKHIR.isoformat()}"
            raise INVALID(message, errors=[{"field": field, "message": message, "type": "value_error"}])
    sampai = sampai or today_wib()
    dari = dari or sampai - dt.timedelta(days=30)
    if dari > sampai or (sampai - dari).days >= AUDIT_MAX_HARI:
        message = f"dari: harus tidak sesudah sampai, dan rentangnya paling lama {AUDIT_MAX_HARI} hari"
        raise INVALID(message, errors=[{"field": "dari", "message": message, "type": "value_error"}])
    async with db.connect() as conn:
        identity = None
        if key_id is not None:
            identity = (await conn.execute(queries.IDENTITAS, {"id": key_id})).scalar()
            if identity is None:
                raise NOT_FOUND(f"key_id: tidak ada kunci mitra #{key_id}")
        rows = (await conn.execute(queries.AUDIT, {"dari": dari, "sampai": sampai, "identity": identity, "limit": AUDIT_MAX_ROWS})).all()
    items = [
        {
            "hari": r.hari,
            "identity_id": r.identity_id,
            "nama": r.nama,
            "tujuan": r.tujuan,
            "terdaftar": r.terdaftar,
            "tidak_terdaftar": r.tidak,
            "ditolak": r.ditolak,
            "jumlah": r.terdaftar + r.tidak + r.ditolak,
        }
        for r in rows
    ]
    return {"dari": dari, "sampai": sampai, "items": items}

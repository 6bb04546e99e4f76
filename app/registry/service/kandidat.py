"""The verifikator's work on entities: the candidate queue of a kabupaten/kota, and the actions
tautkan (merge two entities), bukan-sama (not the same, and its undo) and pisahkan (split; the
undo of a merge). docs/registry-api.md says what each checks and how each is undone.

Every action runs in its caller's unit of work (one transaction), so nothing commits half done.
It locks the entities it touches `FOR UPDATE` in id_kumkm order before reading their state, then
the candidate row; compares the versions the caller saw with the current ones (409
state-conflict with the current state otherwise); and writes its peristiwa (oleh, oleh_key,
pada, alasan = catatan) in the same transaction."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core import pagination
from app.core.errors import INVALID, NOT_FOUND, STATE_CONFLICT
from app.registry import idkumkm, queries
from app.registry.linker import kunci_pengenal, pengenal_ulang
from app.registry.service import entitas
from app.security.policy import authorize
from app.security.principal import Principal

# ---------------------------------------------------------------- the queue

# The queue's keyset: the last row's score (in thousandths) and id, highest score first.
CURSOR = pagination.Keyset("kandidat.1", pagination.int_field(0, 1000), pagination.int_field(1, 2**63 - 1))


def _skor(value: Decimal) -> float:
    return float(value)


async def kandidat_page(
    conn: AsyncConnection, principal: Principal, kabkota: str, status: str, cursor: str | None, limit: int
) -> tuple[dict[str, Any], list[str]]:
    """One page of a kabupaten/kota's candidates (kabkota already authorized), each with both
    entities side by side; and the records whose address it showed in full."""
    key = CURSOR.decode(cursor)
    params: dict[str, Any] = {"kabkota": kabkota, "status": status, "limit": limit + 1, "skor": None, "id": None}
    if key is not None:
        params["skor"], params["id"] = Decimal(key[0]) / 1000, key[1]
    rows = (await conn.execute(queries.KANDIDAT_PAGE, params)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    ids = sorted({r.id_a for r in rows} | {r.id_b for r in rows})
    sides, unmasked = await entitas.ringkasan(conn, principal, ids, alamat=True)
    items = [
        {
            "id": r.id,
            "kode_kabkota": r.kode_kabkota,
            "skor": _skor(r.skor),
            "alasan": _data(r.alasan),
            "status": r.status,
            "versi": r.versi,
            "dibuat_pada": r.dibuat_pada,
            "diputuskan_oleh": r.diputuskan_oleh,
            "diputuskan_pada": r.diputuskan_pada,
            "catatan": r.catatan,
            "a": sides.get(r.id_a),
            "b": sides.get(r.id_b),
        }
        for r in rows
    ]
    last = rows[-1] if rows else None
    next_cursor = CURSOR.encode(int(last.skor * 1000), last.id) if more and last is not None else None
    return {"kode_kabkota": kabkota, "status": status, "items": items, "next_cursor": next_cursor}, unmasked


def _data(value: Any) -> Any:
    return value if isinstance(value, (dict, list)) else orjson.loads(value)


# ---------------------------------------------------------------- shared by the actions


@dataclass
class Entitas:
    id_kumkm: str
    jenis: str
    kode_provinsi: str
    kode_kabkota: str
    versi: int
    digabung_ke: str | None
    dibuat_pada: dt.datetime


async def _lock(conn: AsyncConnection, ids: list[str]) -> dict[str, Entitas]:
    """The entities, locked FOR UPDATE in id order (the one order of every action), after the
    advisory locks of the identifier values they hold, which a merge or a split may move: the
    linker takes the same locks in the same order (values, then entities), so an action and a
    linking never wait for each other in a circle, and no record is linked by a value that is
    moving."""
    held = (await conn.execute(queries.PENGENAL, {"ids": sorted(set(ids))})).all()
    await kunci_pengenal(conn, [(r.jenis_pengenal, r.nilai) for r in held])
    rows = (await conn.execute(queries.KUNCI_ENTITAS_AKSI, {"ids": sorted(set(ids))})).all()
    return {r.id_kumkm: Entitas(r.id_kumkm, r.jenis, r.kode_provinsi, r.kode_kabkota, r.versi, r.digabung_ke, r.dibuat_pada) for r in rows}


def _actor(principal: Principal) -> dict[str, Any]:
    return {"oleh": principal.name, "oleh_key": principal.id}


async def _peristiwa(
    conn: AsyncConnection, principal: Principal, id_kumkm: str, aksi: str, detail: dict[str, Any], alasan: str | None
) -> None:
    await conn.execute(
        queries.PERISTIWA_TULIS,
        {"id": id_kumkm, "aksi": aksi, "detail": orjson.dumps(detail).decode(), "alasan": alasan, **_actor(principal)},
    )


def _invalid(field: str, message: str) -> Exception:
    return INVALID(message, errors=[{"field": field, "type": "value_error", "message": message}])


def _pair_checks(principal: Principal, a: Entitas, b: Entitas) -> None:
    """Scope on both entities' kabupaten/kota (a pair across provinsi needs a key covering
    both), then the rules of a pair: never an entity with itself, never a koperasi with a UMKM."""
    authorize(principal, "record.decide", a.kode_kabkota, field="id_a")
    authorize(principal, "record.decide", b.kode_kabkota, field="id_b")
    if a.id_kumkm == b.id_kumkm:
        raise _invalid("id_b", f"id_b sama dengan id_a ({a.id_kumkm}): entitas tidak dapat ditautkan dengan dirinya sendiri")
    if a.jenis != b.jenis:
        raise _invalid("id_b", f"id_b adalah {b.jenis} dan id_a {a.jenis}: koperasi tidak dapat ditautkan dengan UMKM")


# ---------------------------------------------------------------- candidate actions


@dataclass
class KandidatKeadaan:
    id: int
    id_a: str
    id_b: str
    status: str
    versi: int


async def _kandidat(
    conn: AsyncConnection, principal: Principal, kandidat_id: int, versi_a: int, versi_b: int
) -> tuple[KandidatKeadaan, Entitas, Entitas]:
    """A candidate to decide, with its two entities locked and checked: scope, pair rules, then
    the state the caller saw (the candidate open, both entities live at the versions sent)."""
    seen = (await conn.execute(queries.KANDIDAT, {"id": kandidat_id})).first()
    if seen is None:
        raise NOT_FOUND(f"kandidat {kandidat_id} tidak ditemukan")
    live = await _lock(conn, [seen.id_a, seen.id_b])
    row = (await conn.execute(queries.KANDIDAT_LOCK, {"id": kandidat_id})).one()
    k = KandidatKeadaan(row.id, row.id_a, row.id_b, row.status, row.versi)
    if (row.id_a, row.id_b) != (seen.id_a, seen.id_b):
        # re-pointed by a merge between the read and the locks: the pair the caller saw is gone
        # (its versions cannot match); answered from the current rows, without locking others
        now = {r.id_kumkm: r for r in [(await conn.execute(queries.ENTITAS, {"id": i})).one() for i in (k.id_a, k.id_b)]}
        a, b = (
            Entitas(r.id_kumkm, r.jenis, r.kode_provinsi, r.kode_kabkota, r.versi, r.digabung_ke, r.dibuat_pada)
            for r in (now[k.id_a], now[k.id_b])
        )
        _pair_checks(principal, a, b)
        raise STATE_CONFLICT(
            "kandidat ini dialihkan ke pasangan lain sejak dibaca: baca kandidat itu lagi lalu putuskan", **_keadaan(k, a, b)
        )
    a, b = live[k.id_a], live[k.id_b]
    _pair_checks(principal, a, b)
    if k.status != "terbuka" or a.versi != versi_a or b.versi != versi_b or a.digabung_ke or b.digabung_ke:
        why = (
            f"kandidat {k.id} sudah berstatus {k.status}"
            if k.status != "terbuka"
            else "entitas kandidat ini berubah sejak dibaca (versi lain)"
        )
        raise STATE_CONFLICT(f"{why}: baca kandidat itu lagi lalu putuskan", **_keadaan(k, a, b))
    return k, a, b


def _keadaan(k: KandidatKeadaan, a: Entitas, b: Entitas) -> dict[str, Any]:
    """The current state a 409 of a candidate action carries."""
    return {
        "kandidat_id": k.id,
        "id_a": a.id_kumkm,
        "id_b": b.id_kumkm,
        "current_status": k.status,
        "current_kandidat_versi": k.versi,
        "current_versi_a": a.versi,
        "current_versi_b": b.versi,
        "digabung_ke_a": a.digabung_ke,
        "digabung_ke_b": b.digabung_ke,
    }


async def _gabung(
    conn: AsyncConnection, principal: Principal, a: Entitas, b: Entitas, catatan: str | None, kandidat_id: int | None
) -> dict[str, Any]:
    """Merge two locked, checked entities: the one created later (by time, then id) moves all
    its links and identifiers into the earlier one and keeps its id, pointing at the survivor."""
    penerus, pensiun = sorted((a, b), key=lambda e: (e.dibuat_pada, e.id_kumkm))
    moved = (await conn.execute(queries.PINDAH_SEMUA, {"ke": penerus.id_kumkm, "dari": pensiun.id_kumkm})).all()
    pengenal = (await conn.execute(queries.PINDAH_PENGENAL_SEMUA, {"ke": penerus.id_kumkm, "dari": pensiun.id_kumkm})).all()
    versi_pensiun = (await conn.execute(queries.PENSIUN, {"ke": penerus.id_kumkm, "id": pensiun.id_kumkm})).scalar_one()
    segar = (await conn.execute(queries.SEGARKAN, {"id": penerus.id_kumkm})).one()
    actor = _actor(principal)
    await conn.execute(queries.KANDIDAT_PASANGAN, {"x": a.id_kumkm, "y": b.id_kumkm, "catatan": catatan, **actor})
    usang = (await conn.execute(queries.KANDIDAT_USANG, {"dari": pensiun.id_kumkm, "ke": penerus.id_kumkm, **actor})).all()
    alih = (await conn.execute(queries.KANDIDAT_ALIH, {"dari": pensiun.id_kumkm, "ke": penerus.id_kumkm})).all()
    # What an undo needs: which records moved, by which rule each was linked, which identifiers.
    tautan = [{"submission_id": str(m.submission_id), "dasar": m.dasar} for m in moved]
    ids = [t["submission_id"] for t in tautan]
    ident = [{"jenis_pengenal": p.jenis_pengenal, "nilai": p.nilai} for p in pengenal]
    # the walidata's record lines of the moved records carry their new id_kumkm (a change each)
    if ids:
        await conn.execute(queries.TAUTAN_BERUBAH, {"ids": ids})
    common = {"kandidat_id": kandidat_id, "submission_ids": ids}
    await _peristiwa(
        conn,
        principal,
        penerus.id_kumkm,
        "digabung",
        {**common, "peran": "penerus", "dari": pensiun.id_kumkm, "tautan": tautan, "pengenal": ident},
        catatan,
    )
    await _peristiwa(conn, principal, pensiun.id_kumkm, "digabung", {**common, "peran": "pensiun", "ke": penerus.id_kumkm}, catatan)
    return {
        "id_kumkm": penerus.id_kumkm,
        "versi": segar.versi,
        "digabung": pensiun.id_kumkm,
        "versi_digabung": versi_pensiun,
        "submission_ids": ids,
        "kandidat_usang": [r.id for r in usang],
        "kandidat_dialihkan": [r.id for r in alih],
    }


async def tautkan_kandidat(
    conn: AsyncConnection, principal: Principal, kandidat_id: int, versi_a: int, versi_b: int, catatan: str | None
) -> dict[str, Any]:
    k, a, b = await _kandidat(conn, principal, kandidat_id, versi_a, versi_b)
    out = await _gabung(conn, principal, a, b, catatan, k.id)
    row = (await conn.execute(queries.KANDIDAT, {"id": k.id})).one()
    return {"kandidat": {"id": row.id, "status": row.status, "versi": row.versi}, **out}


async def tautkan_langsung(
    conn: AsyncConnection, principal: Principal, id_kumkm: str, versi: int, dengan: str, versi_dengan: int, catatan: str | None
) -> dict[str, Any]:
    """Merge two entities a verifikator found to be one without a candidate (and the undo of a
    split that made a new entity)."""
    live = await _lock(conn, [id_kumkm, dengan])
    if id_kumkm not in live:
        raise NOT_FOUND(f"id_kumkm {id_kumkm} tidak ditemukan")
    if dengan not in live:
        raise _invalid("dengan", f"dengan: tidak ada entitas {dengan}")
    a, b = live[id_kumkm], live[dengan]
    authorize(principal, "record.decide", a.kode_kabkota, field="id_kumkm")
    authorize(principal, "record.decide", b.kode_kabkota, field="dengan")
    if a.id_kumkm == b.id_kumkm:
        raise _invalid("dengan", f"dengan sama dengan id_kumkm ({a.id_kumkm}): entitas tidak dapat digabung dengan dirinya sendiri")
    if a.jenis != b.jenis:
        raise _invalid("dengan", f"dengan adalah {b.jenis} dan id_kumkm {a.jenis}: koperasi tidak dapat ditautkan dengan UMKM")
    if a.versi != versi or b.versi != versi_dengan or a.digabung_ke or b.digabung_ke:
        raise STATE_CONFLICT(
            "entitas berubah sejak dibaca (versi lain, atau sudah digabung): baca keduanya lagi",
            id_kumkm=a.id_kumkm,
            current_versi=a.versi,
            digabung_ke=a.digabung_ke,
            dengan=b.id_kumkm,
            current_versi_dengan=b.versi,
            digabung_ke_dengan=b.digabung_ke,
        )
    return await _gabung(conn, principal, a, b, catatan, None)


async def bukan_sama(
    conn: AsyncConnection, principal: Principal, kandidat_id: int, versi_a: int, versi_b: int, catatan: str | None
) -> dict[str, Any]:
    """The pair is not the same: remembered in kumkm_bukan_sama (never proposed again), the
    candidate closed. The entities themselves do not change (their versi stays)."""
    k, a, b = await _kandidat(conn, principal, kandidat_id, versi_a, versi_b)
    actor = _actor(principal)
    await conn.execute(queries.BUKAN_SAMA_TULIS, {"id_a": k.id_a, "id_b": k.id_b, "alasan": catatan, **actor})
    row = (await conn.execute(queries.KANDIDAT_PUTUS, {"id": k.id, "status": "bukan_sama", "catatan": catatan, **actor})).one()
    for this, other in ((a, b), (b, a)):
        await _peristiwa(conn, principal, this.id_kumkm, "bukan_sama", {"dengan": other.id_kumkm, "kandidat_id": k.id}, catatan)
    return {"kandidat": {"id": row.id, "status": row.status, "versi": row.versi}, "id_a": k.id_a, "id_b": k.id_b}


async def batal_bukan_sama(conn: AsyncConnection, principal: Principal, x: str, y: str, catatan: str | None) -> dict[str, Any]:
    """Undo of bukan-sama: the pair may be proposed again by the next linking."""
    if x == y:
        raise _invalid("id_b", f"id_b sama dengan id_a ({x}): pasangan bukan-sama selalu dua entitas berbeda")
    id_a, id_b = sorted((x, y))
    live = await _lock(conn, [id_a, id_b])
    for field, i in (("id_a", id_a), ("id_b", id_b)):
        if i not in live:
            raise NOT_FOUND(f"{field} {i} tidak ditemukan")
        authorize(principal, "record.decide", live[i].kode_kabkota, field=field)
    gone = (await conn.execute(queries.BUKAN_SAMA_HAPUS, {"id_a": id_a, "id_b": id_b})).first()
    if gone is None:
        raise NOT_FOUND(f"pasangan {id_a} dan {id_b} tidak tercatat sebagai bukan sama")
    for this, other in ((id_a, id_b), (id_b, id_a)):
        await _peristiwa(
            conn,
            principal,
            this,
            "bukan_sama_dibatalkan",
            {"dengan": other, "dicatat_oleh": gone.oleh, "dicatat_pada": gone.pada.isoformat()},
            catatan,
        )
    return {"id_a": id_a, "id_b": id_b, "dibatalkan": True}


# ---------------------------------------------------------------- split


async def pisahkan(
    conn: AsyncConnection, principal: Principal, id_kumkm: str, versi: int, submission_ids: list[str], catatan: str | None
) -> dict[str, Any]:
    """The named records leave the entity: for the entity a merge retired when they are exactly
    the records that merge moved in (it is revived with its old id: the undo of the merge), else
    for a new entity. Never none of its records, never all of them."""
    named = sorted(set(submission_ids))
    # the entity a merge retired, if this split undoes it: read before the locks, which are
    # taken on both entities at once in id order, and checked again under them
    last = None
    for (detail,) in (await conn.execute(queries.GABUNGAN, {"id": id_kumkm})).all():
        if sorted(_data(detail)["submission_ids"]) == named:
            last = _data(detail)
            break
    revive = last["dari"] if last is not None else None
    live = await _lock(conn, [id_kumkm] + ([revive] if revive else []))
    e = live.get(id_kumkm)
    if e is None:
        raise NOT_FOUND(f"id_kumkm {id_kumkm} tidak ditemukan")
    authorize(principal, "record.decide", e.kode_kabkota, field="id_kumkm")
    if e.versi != versi or e.digabung_ke is not None:
        why = (
            f"entitas {id_kumkm} sudah digabung ke {e.digabung_ke}"
            if e.digabung_ke
            else f"entitas {id_kumkm} berubah sejak dibaca (versi {e.versi}, bukan {versi})"
        )
        raise STATE_CONFLICT(
            f"{why}: baca entitas itu lagi lalu pisahkan", id_kumkm=id_kumkm, current_versi=e.versi, digabung_ke=e.digabung_ke
        )
    links = {str(r.submission_id): r.dasar for r in (await conn.execute(queries.TAUTAN_KUNCI, {"id": id_kumkm})).all()}
    foreign = [s for s in named if s not in links]
    if foreign:
        raise _invalid("submission_ids", f"submission_ids: {', '.join(foreign[:5])} tidak tertaut ke {id_kumkm}")
    if len(named) == len(links):
        raise _invalid(
            "submission_ids",
            "submission_ids berisi semua rekaman entitas ini: sisakan paling "
            "sedikit satu (pemisahan memindahkan sebagian rekaman ke entitas lain)",
        )
    old = live.get(revive) if revive else None
    if old is not None and old.digabung_ke == id_kumkm:
        assert last is not None
        ke, dihidupkan = old.id_kumkm, True
        await conn.execute(queries.HIDUPKAN, {"id": ke})
        items = [{"submission_id": t["submission_id"], "dasar": t["dasar"]} for t in last["tautan"]]
        await conn.execute(queries.PINDAH_TAUTAN, {"ke": ke, "dari": id_kumkm, "items": orjson.dumps(items).decode()})
    else:
        nomor = (await conn.execute(queries.NOMOR_PISAH)).scalar_one()
        ke, dihidupkan = idkumkm.make(e.jenis, nomor), False
        await conn.execute(queries.ENTITAS_BARU, {"id": ke, "jenis": e.jenis, "provinsi": e.kode_provinsi, "kabkota": e.kode_kabkota})
        items = [{"submission_id": s, "dasar": "pisah"} for s in named]
        await conn.execute(queries.PINDAH_TAUTAN, {"ke": ke, "dari": id_kumkm, "items": orjson.dumps(items).decode()})
        await _peristiwa(conn, principal, ke, "dibuat", {"dasar": "pisah", "dari": id_kumkm}, catatan)
    # identifiers rebuilt from the links, by the linker's rule (a value both sides' records
    # carry stays with the older periode's record)
    await pengenal_ulang(conn, [id_kumkm, ke])
    await conn.execute(queries.TAUTAN_BERUBAH, {"ids": named})
    pengenal = (await conn.execute(queries.PENGENAL, {"ids": [ke]})).all()
    sisa = (await conn.execute(queries.SEGARKAN, {"id": id_kumkm})).one()
    baru = (await conn.execute(queries.SEGARKAN, {"id": ke})).one()
    ident = [{"jenis_pengenal": p.jenis_pengenal, "nilai": p.nilai} for p in pengenal]
    detail = {"submission_ids": named, "dihidupkan": dihidupkan, "pengenal": ident}
    await _peristiwa(conn, principal, id_kumkm, "dipisah", {**detail, "peran": "asal", "ke": ke}, catatan)
    await _peristiwa(conn, principal, ke, "dipisah", {**detail, "peran": "tujuan", "dari": id_kumkm}, catatan)
    return {"id_kumkm": id_kumkm, "versi": sisa.versi, "ke": ke, "versi_ke": baru.versi, "dihidupkan": dihidupkan, "submission_ids": named}

"""Reading entities: one entity's profile, links and history; summaries for the candidate queue
and the list; the look-up by a hard identifier; the paged list of a wilayah.

Scope and personal data follow the records' rules: an entity is read where its kabupaten/kota
lies inside the key's wilayah (`record.read`, any role), and a personal field of the profile is
shown in full only when the caller may see it both for the entity's kabupaten/kota and where the
record it came from lies (authorize(...).pii with `was_in`, as for an old version of a record).
Every function takes its caller's connection."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core import pagination
from app.core.errors import INVALID, NOT_FOUND
from app.registry import idkumkm, queries
from app.registry.linker import normal_pengenal
from app.security.personal import PII_FIELDS, mask_record_data
from app.security.policy import authorize
from app.security.principal import Principal

# Fields of a record that say which record it is, not what the usaha is: not in the profile.
_NOT_PROFILE = ("submission_id", "periode", "jenis", "enumerator_id", "captured_at")
PERSONAL = (*PII_FIELDS, "lokasi")


def _data(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else orjson.loads(value)


def parse_id(text: str, field: str = "id_kumkm") -> str:
    """The canonical id of a typed one; 422 naming `field` with the reason."""
    try:
        return idkumkm.normalise(text)
    except ValueError as exc:
        message = str(exc).replace("id_kumkm", field, 1)
        raise INVALID(message, errors=[{"field": field, "type": "value_error", "message": message}]) from None


async def resolve(conn: AsyncConnection, id_kumkm: str) -> str | None:
    """The live entity an id names (itself or, once merged, where its merges lead); None when
    no entity has that id."""
    return (await conn.execute(queries.RESOLVE, {"id": id_kumkm})).scalar()


@dataclass
class Shown:
    """An entity as read, and the records whose personal data it showed (for the access log)."""

    body: dict[str, Any]
    unmasked: list[str]


async def entitas(conn: AsyncConnection, principal: Principal, asked: str) -> Shown:
    """GET /kumkm/{id_kumkm}: a retired id answers its survivor's entity, saying so
    (`id_diminta`, `digabung_ke`)."""
    live = await resolve(conn, asked)
    if live is None:
        raise NOT_FOUND(f"id_kumkm {asked} tidak ditemukan")
    e = (await conn.execute(queries.ENTITAS, {"id": live})).one()
    authorize(principal, "record.read", e.kode_kabkota, field="id_kumkm")
    rows = (await conn.execute(queries.TAUTAN, {"id": live})).all()
    visible: dict[str, bool] = {}
    for r in rows:
        if r.kode_wilayah not in visible:
            visible[r.kode_wilayah] = authorize(principal, "record.read", e.kode_kabkota, was_in=r.kode_wilayah).pii
    profil: dict[str, dict[str, Any]] = {}
    unmasked: set[str] = set()
    for r in rows:
        data = _data(r.data)
        if r.skala_usaha is not None:
            data["skala_usaha"] = r.skala_usaha
        for name, value in data.items():
            if name in _NOT_PROFILE or name in profil or value is None:
                continue
            if name in PERSONAL:
                if visible[r.kode_wilayah]:
                    unmasked.add(str(r.submission_id))
                else:
                    value = mask_record_data({name: value})[name]
            profil[name] = {"nilai": value, "periode": r.periode, "submission_id": r.submission_id}
    pengenal = await _pengenal(conn, [live])
    lama = [x for (x,) in (await conn.execute(queries.ID_LAMA, {"id": live})).all()]
    peristiwa = [
        {"id": p.id, "aksi": p.aksi, "oleh": p.oleh, "pada": p.pada, "alasan": p.alasan, "detail": _data(p.detail)}
        for p in (await conn.execute(queries.PERISTIWA, {"id": live})).all()
    ]
    body = {
        "id_kumkm": live,
        "id_diminta": asked,
        "digabung_ke": live if live != asked else None,
        "jenis": e.jenis,
        "kode_provinsi": e.kode_provinsi,
        "kode_kabkota": e.kode_kabkota,
        "versi": e.versi,
        "dibuat_pada": e.dibuat_pada,
        "diperbarui_pada": e.diperbarui_pada,
        "pii_masked": not any(visible.values()) if visible else True,
        "pengenal": pengenal.get(live, {}),
        "id_lama": lama,
        "profil": profil,
        "tautan": [
            {
                "submission_id": r.submission_id,
                "periode": r.periode,
                "status": r.status,
                "skala_usaha": r.skala_usaha,
                "dasar": r.dasar,
                "pada": r.pada,
            }
            for r in rows
        ],
        "peristiwa": peristiwa,
    }
    return Shown(body, sorted(unmasked))


async def _pengenal(conn: AsyncConnection, ids: list[str]) -> dict[str, dict[str, list[str]]]:
    out: dict[str, dict[str, list[str]]] = {}
    for r in (await conn.execute(queries.PENGENAL, {"ids": ids})).all():
        out.setdefault(r.id_kumkm, {}).setdefault(r.jenis_pengenal, []).append(r.nilai)
    return out


async def ringkasan(
    conn: AsyncConnection, principal: Principal, ids: list[str], *, alamat: bool
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Summaries of entities by id (jenis, nama, identifiers, skala, periode, versi; with
    `alamat`, the latest record's address, masked by the rule), and the records whose address
    was shown in full."""
    if not ids:
        return {}, []
    pengenal = await _pengenal(conn, ids)
    out: dict[str, dict[str, Any]] = {}
    unmasked: list[str] = []
    for r in (await conn.execute(queries.RINGKASAN, {"ids": ids})).all():
        item = {
            "id_kumkm": r.id_kumkm,
            "jenis": r.jenis,
            "kode_provinsi": r.kode_provinsi,
            "kode_kabkota": r.kode_kabkota,
            "versi": r.versi,
            "digabung_ke": r.digabung_ke,
            "nama": r.nama,
            "skala_usaha": r.skala_usaha,
            "periode": list(r.periode),
            "jumlah_rekaman": r.jumlah_rekaman,
            "pengenal": pengenal.get(r.id_kumkm, {}),
            "diperbarui_pada": r.diperbarui_pada,
        }
        if alamat:
            shown = r.alamat
            if shown is not None:
                if principal.covers(r.kode_kabkota) and authorize(principal, "record.read", r.kode_kabkota, was_in=r.kode_wilayah).pii:
                    unmasked.append(str(r.submission_id))
                else:
                    shown = mask_record_data({"alamat": shown})["alamat"]
            item["alamat"] = shown
        out[r.id_kumkm] = item
    return out, unmasked


# ---------------------------------------------------------------- look-up and list


async def cari(conn: AsyncConnection, principal: Principal, jenis: str, nilai: str) -> list[dict[str, Any]]:
    """The entity holding an identifier, inside the key's wilayah: at most one; none when no
    entity holds it or it lies outside (a look-up never says what exists elsewhere)."""
    value = normal_pengenal(jenis, nilai)
    if value is None:
        message = f"{jenis} kosong setelah dinormalkan: kirim nilainya, mis. nib=1234567890123"
        raise INVALID(message, errors=[{"field": jenis, "type": "value_error", "message": message}])
    found = (await conn.execute(queries.CARI_SATU_PENGENAL, {"jenis": jenis, "nilai": value})).scalar()
    live = await resolve(conn, found) if found else None
    if live is None:
        return []
    items, _ = await ringkasan(conn, principal, [live], alamat=False)
    item = items.get(live)
    return [item] if item is not None and principal.covers(item["kode_kabkota"]) else []


# The list's keyset: the last row's id_kumkm (ids are ordered by their number within a jenis).
CURSOR = pagination.Keyset("entitas.1", pagination.KeyField(str, idkumkm.normalise))


async def daftar(
    conn: AsyncConnection, wilayah: str | None, jenis: str | None, after: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the live entities of a wilayah (already authorized), by id, without
    personal data; the cursor of the next page or None."""
    ids = [
        x for (x,) in (await conn.execute(queries.DAFTAR, {"wilayah": wilayah, "jenis": jenis, "after": after, "limit": limit + 1})).all()
    ]
    more = len(ids) > limit
    ids = ids[:limit]
    # a principal that sees nothing personal: the list carries no address
    items, _ = await ringkasan(conn, Principal(None, "", "enumerator", None), ids, alamat=False)
    page = [items[i] for i in ids if i in items]
    return page, (CURSOR.encode(ids[-1]) if more and ids else None)

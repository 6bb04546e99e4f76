"""The entity API (Basis Data Tunggal) and the verifikator's actions on entities, under
/api/v1/kumkm (docs/registry-api.md)."""

from __future__ import annotations

import hashlib
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from app.core import timefmt
from app.core.errors import INVALID
from app.core.pagination import KeyField, Keyset
from app.infra import db
from app.infra.db import UnitOfWork
from app.record.reference import LEVEL_DESA, LEVEL_KABKOTA, LEVEL_KECAMATAN, get_index
from app.registry import daftar, export, idkumkm, schemas
from app.registry.service import entitas, kandidat
from app.reporting.reports import FORMAT_DESCRIPTION, ReportFormat
from app.reporting.response import REPORT_RESPONSES, report_response
from app.security.accesslog import log_access
from app.security.authn import AnyKey, require
from app.security.policy import authorize
from app.security.principal import Principal

router = APIRouter(prefix="/api/v1/kumkm", tags=["kumkm"])

# The verifikator's actions and queue are decisions (record.decide: verifikator, admin); an
# entity is read by any key that may read records where it lies (record.read).
CanDecide = Annotated[Principal, Depends(require("record.decide"))]

_CONFLICT = {
    "description": "an entity or the candidate changed since it was read: the body carries the current "
    "state (current_status, current_versi_a/_b or current_versi, digabung_ke)"
}
_ACTION_REFUSALS: dict[int | str, dict[str, Any]] = {
    403: {
        "description": "not a verifikator/admin (`role-forbidden`), or an entity outside the key's scope "
        "(`outside-scope`; a pair needs both entities' kabupaten/kota)"
    },
    404: {"description": "no such candidate or entity"},
    409: _CONFLICT,
    422: {"description": "a koperasi with a UMKM, an entity with itself, a split of none or all of its records, or a field error"},
}
_ID_TEXT = "id_kumkm, e.g. U0000012341; lower case, spaces and hyphens are accepted"


def _id() -> Any:
    # one Path per parameter: FastAPI keeps a parameter's name on its FieldInfo
    return Path(description=_ID_TEXT)


_KANDIDAT_ID = Path(ge=1, le=2**63 - 1)
_KABKOTA = re.compile(r"^[0-9]{2}\.[0-9]{2}$")
_WILAYAH = re.compile(r"^[0-9]{2}(\.[0-9]{2})?$")
_KODE = re.compile(r"^[0-9]{2}\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?$")
# The most entities one download holds; a larger wilayah is asked per kabupaten/kota or jenis.
MAX_UNDUHAN = 100_000


def _invalid(field: str, message: str) -> Exception:
    return INVALID(message, errors=[{"field": field, "type": "value_error", "message": message}])


def _json(doc: Any) -> Response:
    return Response(timefmt.dumps(doc), media_type="application/json")


async def _kabkota(principal: Principal, kabkota: str | None) -> str:
    """The kabupaten/kota of a candidate queue: the one asked (inside the key's wilayah), or the
    key's own when it is scoped to one."""
    index = await get_index()
    if kabkota is None:
        own = principal.kode_wilayah
        if own is not None and index.level.get(own) == LEVEL_KABKOTA:
            return own
        raise _invalid("kabkota", "kabkota wajib diisi untuk kunci ini: sebutkan kabupaten/kotanya, mis. 16.07")
    if not _KABKOTA.match(kabkota) or not index.exists(kabkota, LEVEL_KABKOTA):
        raise _invalid("kabkota", f"kabkota {kabkota} bukan kode kabupaten/kota yang ada (mis. 16.07)")
    authorize(principal, "record.decide", kabkota, field="kabkota")
    return kabkota


@router.get(
    "/kandidat",
    response_model=schemas.KandidatPage,
    responses={403: _ACTION_REFUSALS[403], 422: {"description": "invalid filter or cursor"}},
)
async def kandidat_list(
    principal: CanDecide,
    kabkota: str | None = Query(
        None, description="kabupaten/kota code (e.g. 16.07); may be left out by a key scoped to one kabupaten/kota"
    ),
    status: Literal["terbuka", "ditautkan", "bukan_sama", "usang"] = Query("terbuka"),
    cursor: str | None = Query(None, max_length=200, description="next_cursor of the previous page"),
    limit: int = Query(50, ge=1, le=200),
):
    """Candidate pairs of a kabupaten/kota, highest score first, each with both entities side by
    side (name, identifiers, alamat masked by the personal-data rule, skala, periode, versi) and
    the reasons. Decide one with .../tautkan or .../bukan-sama, sending both versi."""
    code = await _kabkota(principal, kabkota)
    async with db.connect() as conn:
        page, unmasked = await kandidat.kandidat_page(conn, principal, code, status, cursor, limit)
    if unmasked:
        await log_access(principal, "GET /api/v1/kumkm/kandidat", {"kabkota": code, "submission_ids": unmasked}, len(unmasked))
    return _json(page)


@router.post("/kandidat/{kandidat_id}/tautkan", response_model=schemas.GabungOut, responses=_ACTION_REFUSALS)
async def kandidat_tautkan(body: schemas.KeputusanKandidat, principal: CanDecide, conn: UnitOfWork, kandidat_id: int = _KANDIDAT_ID):
    """Merge the candidate's two entities: the one created later moves all its records and
    identifiers into the earlier one and keeps its id, which now leads to the survivor. Undo:
    POST /api/v1/kumkm/{survivor}/pisahkan with the `submission_ids` this answers."""
    return _json(await kandidat.tautkan_kandidat(conn, principal, kandidat_id, body.versi_a, body.versi_b, body.catatan))


@router.post("/kandidat/{kandidat_id}/bukan-sama", response_model=schemas.BukanSamaOut, responses=_ACTION_REFUSALS)
async def kandidat_bukan_sama(body: schemas.KeputusanKandidat, principal: CanDecide, conn: UnitOfWork, kandidat_id: int = _KANDIDAT_ID):
    """The two entities are not the same: the pair is never proposed again. Undo: DELETE
    /api/v1/kumkm/bukan-sama/{id_a}/{id_b}."""
    return _json(await kandidat.bukan_sama(conn, principal, kandidat_id, body.versi_a, body.versi_b, body.catatan))


@router.delete("/bukan-sama/{id_a}/{id_b}", response_model=schemas.BatalBukanSamaOut, responses=_ACTION_REFUSALS)
async def batal_bukan_sama(
    principal: CanDecide,
    conn: UnitOfWork,
    id_a: str = _id(),
    id_b: str = _id(),
    catatan: str | None = Query(None, max_length=2000, description="why (the peristiwa's alasan)"),
):
    """Undo of bukan-sama: the pair may be proposed again by the next linking."""
    a, b = entitas.parse_id(id_a, "id_a"), entitas.parse_id(id_b, "id_b")
    return _json(await kandidat.batal_bukan_sama(conn, principal, a, b, catatan))


@router.post("/{id_kumkm}/tautkan", response_model=schemas.GabungOut, responses=_ACTION_REFUSALS)
async def tautkan(body: schemas.Tautkan, principal: CanDecide, conn: UnitOfWork, id_kumkm: str = _id()):
    """Merge this entity with `dengan` without a candidate (two entities the verifikator found
    to be one; also the undo of a split that made a new entity). The same rules as a candidate's
    tautkan."""
    a, b = entitas.parse_id(id_kumkm), entitas.parse_id(body.dengan, "dengan")
    return _json(await kandidat.tautkan_langsung(conn, principal, a, body.versi, b, body.versi_dengan, body.catatan))


@router.post("/{id_kumkm}/pisahkan", response_model=schemas.PisahkanOut, responses=_ACTION_REFUSALS)
async def pisahkan(body: schemas.Pisahkan, principal: CanDecide, conn: UnitOfWork, id_kumkm: str = _id()):
    """Split: the named records leave the entity. When they are exactly the records a merge
    moved in, the entity that merge retired is revived with its old id (the undo of the merge);
    otherwise they form a new entity (undo: POST /api/v1/kumkm/{id_kumkm}/tautkan with it)."""
    e = entitas.parse_id(id_kumkm)
    return _json(await kandidat.pisahkan(conn, principal, e, body.versi, [str(s) for s in body.submission_ids], body.catatan))


_DAFTAR = Keyset("daftar.1", KeyField(str, idkumkm.normalise))


@router.get(
    "/daftar",
    response_model=schemas.DaftarPage,
    responses={
        304: {"description": "If-None-Match names this page's ETag: the page has not changed"},
        403: {"description": "the wilayah is outside the key's scope"},
        422: {"description": "kode_wilayah is not a desa, kecamatan or kabupaten/kota, or a bad cursor"},
    },
)
async def daftar_pemutakhiran(
    request: Request,
    principal: AnyKey,
    kode_wilayah: str = Query(description="a desa (16.07.01.2001), kecamatan (16.07.01) or kabupaten/kota (16.07) in the key's wilayah"),
    cursor: str | None = Query(None, max_length=200, description="next_cursor of the previous page"),
    limit: int = Query(500, ge=1, le=1000),
):
    """The entity list of follow-up visits for CAPI apps (docs/pemutakhiran.md): the live
    entities of a wilayah by id_kumkm, as the ODK form's usaha.csv carries them (id_kumkm,
    versi, the profile that recognises the usaha; no personal data). Each page has an ETag: an
    app sends it back as If-None-Match and gets 304 while the page is unchanged, so a sync
    downloads only the pages that changed. Then POST /api/v1/submissions a record naming
    `id_kumkm`, `versi_dasar` (the versi read here) and `keadaan_usaha`."""
    index = await get_index()
    if not _KODE.match(kode_wilayah) or not index.exists(kode_wilayah, LEVEL_KABKOTA, LEVEL_KECAMATAN, LEVEL_DESA):
        raise _invalid("kode_wilayah", f"kode_wilayah {kode_wilayah} bukan desa, kecamatan atau kabupaten/kota yang ada")
    authorize(principal, "record.read", kode_wilayah, field="kode_wilayah")
    key = _DAFTAR.decode(cursor)
    async with db.connect() as conn:
        items, last = await daftar.halaman(conn, kode_wilayah, key[0] if key else None, limit)
    body = timefmt.dumps({"items": items, "next_cursor": _DAFTAR.encode(last) if last else None})
    etag = '"' + hashlib.md5(body).hexdigest() + '"'
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    asked = request.headers.get("if-none-match")
    if asked and (asked.strip() == "*" or etag in [t.strip().removeprefix("W/") for t in asked.split(",")]):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


@router.get(
    "/{id_kumkm}",
    response_model=schemas.EntitasOut,
    responses={
        403: {"description": "the entity lies outside the key's scope"},
        404: {"description": "no entity has this id"},
        422: {"description": "not an id_kumkm, or a wrong check digit"},
    },
)
async def entitas_one(principal: AnyKey, id_kumkm: str = _id()):
    """One entity: its profile (each field's latest accepted value with the periode it came from;
    personal data masked by the records' rule), its identifiers, its linked records and its
    peristiwa. A retired (merged) id answers 200 with the entity it was merged into:
    `id_kumkm` is the survivor's, `id_diminta` the one asked, `digabung_ke` says where it led."""
    asked = entitas.parse_id(id_kumkm)
    async with db.connect() as conn:
        shown = await entitas.entitas(conn, principal, asked)
    if shown.unmasked:
        await log_access(
            principal,
            "GET /api/v1/kumkm/{id_kumkm}",
            {"id_kumkm": shown.body["id_kumkm"], "submission_ids": shown.unmasked},
            len(shown.unmasked),
        )
    return _json(shown.body)


@router.get(
    "",
    response_model=schemas.EntitasPage,
    responses={
        **REPORT_RESPONSES,
        403: {"description": "the wilayah is outside the key's scope"},
        422: {
            "description": "more than one identifier, an identifier with list filters, a bad wilayah or cursor, "
            "or a download larger than allowed"
        },
    },
)
async def entitas_list(
    principal: AnyKey,
    nib: str | None = Query(None, max_length=40, description="look up the entity holding this NIB"),
    nik_koperasi: str | None = Query(None, max_length=40, description="look up the koperasi with this NIK koperasi"),
    nomor_badan_hukum: str | None = Query(None, max_length=200, description="look up by nomor badan hukum"),
    wilayah: str | None = Query(
        None, description="a provinsi (16) or kabupaten/kota (16.07); default the key's own wilayah (the whole nation for a national key)"
    ),
    jenis: Literal["umkm", "koperasi"] | None = Query(None),
    cursor: str | None = Query(None, max_length=200, description="next_cursor of the previous page"),
    limit: int = Query(50, ge=1, le=500),
    format: ReportFormat = Query(
        "json", description=FORMAT_DESCRIPTION + f"; a download holds every entity of the selection, at most {MAX_UNDUHAN:,}"
    ),
):
    """Either a look-up (exactly one of nib, nik_koperasi, nomor_badan_hukum; inside the key's
    scope: no item when no entity there holds it), or the paged list of the live entities of a
    wilayah by id_kumkm, without personal data; csv, csv-data and xlsx download the whole
    selection."""
    asked = {k: v for k, v in (("nib", nib), ("nik_koperasi", nik_koperasi), ("nomor_badan_hukum", nomor_badan_hukum)) if v is not None}
    if len(asked) > 1:
        raise _invalid(sorted(asked)[1], "nib, nik_koperasi dan nomor_badan_hukum: kirim salah satu saja")
    if asked:
        if wilayah is not None or jenis is not None or cursor is not None:
            field = "wilayah" if wilayah is not None else "jenis" if jenis is not None else "cursor"
            raise _invalid(field, f"{field} tidak dipakai bersama pencarian pengenal: kirim pengenal saja")
        ((kind, value),) = asked.items()
        async with db.connect() as conn:
            items = await entitas.cari(conn, principal, kind, value)
        doc: dict[str, Any] = {"items": items, "next_cursor": None}
        return await _answer(format, "entitas-kumkm-cari", doc, None, None)
    if wilayah is not None and not _WILAYAH.match(wilayah):
        raise _invalid("wilayah", f"wilayah {wilayah} bukan kode provinsi (16) atau kabupaten/kota (16.07)")
    if wilayah is None:
        wilayah = principal.kode_wilayah
    else:
        authorize(principal, "record.read", wilayah, field="wilayah")
    download = format != "json"
    key = entitas.CURSOR.decode(cursor)
    after = key[0] if key else None
    async with db.connect() as conn:
        items, next_cursor = await entitas.daftar(conn, wilayah, jenis, after, MAX_UNDUHAN if download else limit)
    if download and next_cursor is not None:
        raise _invalid(
            "wilayah",
            f"wilayah: lebih dari {MAX_UNDUHAN:,} entitas untuk satu unduhan; pilih kabupaten/kota atau jenis, atau baca JSON per halaman",
        )
    doc = {"items": items, "next_cursor": None if download else next_cursor}
    name = f"entitas-kumkm-{(wilayah or 'nasional').replace('.', '-')}"
    return await _answer(format, name, doc, wilayah, jenis)


async def _answer(fmt: str, name: str, doc: dict[str, Any], wilayah: str | None, jenis: str | None) -> Response:
    if fmt == "json":
        return _json(doc)
    full = {**doc, "wilayah": wilayah, "jenis": jenis}
    return await report_response(fmt, name, full, csv=export.entitas_csv, xlsx=export.entitas_xlsx)

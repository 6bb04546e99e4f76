"""From what a client sent to a stored row, and from a stored row to what a client reads.

Every way a record comes in (single POST, batch, `kumkm import`, a correction, OpenRosa) goes
through `prepare`: structural validation (pydantic), reference checks (wilayah, periode, NIK),
scope, then derivation (skala usaha, sektor, duplicate key). Every way it goes out to the API
goes through `record_out`. Nothing here writes."""
from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from lokal import parse_nik
from pydantic import TypeAdapter, ValidationError

from app.core.access import Principal, can_see_pii, mask_record_data
from app.core.errors import INVALID, OUTSIDE_SCOPE, UNKNOWN_FIELD_HINTS, Problem, ProblemType, pydantic_errors
from app.core.record import rules
from app.core.record.model import SubmissionIn, SubmissionUmkm
from app.core.reference import (
    LEVEL_DESA,
    LEVEL_KABKOTA,
    LEVEL_KECAMATAN,
    WilayahIndex,
    get_index,
    known_periode,
    split_kode,
)

_adapter: TypeAdapter[Any] = TypeAdapter(SubmissionIn)
FUTURE_TOLERANCE = dt.timedelta(minutes=10)
DERIVED_FIELDS = {
    "skala_usaha": "derived by the service from modal_usaha or hasil_penjualan_tahunan (PP 7/2021); do not send it",
    "sektor": "derived by the service from kbli; do not send it",
}
UNKNOWN_FIELD_HINTS.update(DERIVED_FIELDS)


@dataclass
class Prepared:
    """A valid item, ready for the insert statement."""
    index: int
    submission_id: str
    row: dict[str, Any]
    content_hash: str


@dataclass
class Rejected:
    index: int
    submission_id: str | None
    kind: ProblemType               # INVALID or OUTSIDE_SCOPE
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> int:
        return self.kind.status

    def problem(self, **extra: Any) -> Problem:
        return self.kind("; ".join(e["message"] for e in self.errors), errors=self.errors, **extra)


# ---------------------------------------------------------------- validation

def canonical_hash(content: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _raw_id(item: object) -> str | None:
    if isinstance(item, dict):
        sid = item.get("submission_id")
        return sid if isinstance(sid, str) else None
    return None


async def prepare(items: list[Any], principal: Principal) -> tuple[list[Prepared], list[Rejected]]:
    """Validate and derive every item; never touches the records table."""
    index = await get_index()
    periode = await known_periode()
    now = dt.datetime.now(dt.UTC)
    ok: list[Prepared] = []
    bad: list[Rejected] = []
    for i, item in enumerate(items):
        try:
            model = _adapter.validate_python(item)
        except ValidationError as exc:
            bad.append(Rejected(i, _raw_id(item), INVALID, pydantic_errors([dict(e) for e in exc.errors()])))
            continue
        errors = _check_references(model, index, periode, now)
        if errors:
            bad.append(Rejected(i, str(model.submission_id), INVALID, errors))
            continue
        if not principal.covers(model.kode_wilayah):
            bad.append(Rejected(i, str(model.submission_id), OUTSIDE_SCOPE, [{
                "field": "kode_wilayah", "type": "scope",
                "message": f"{model.kode_wilayah} is outside this key's wilayah ({principal.kode_wilayah})"}]))
            continue
        ok.append(_derive(i, model))
    return ok, bad


def _check_references(model: Any, index: WilayahIndex, periode: frozenset[str], now: dt.datetime) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []

    def err(f: str, msg: str, typ: str = "value_error") -> None:
        errors.append({"field": f, "message": msg, "type": typ})

    if model.periode not in periode:
        err("periode", f"unknown periode {model.periode!r}; known: {', '.join(sorted(periode))}")
    if not index.exists(model.kode_wilayah, LEVEL_KABKOTA, LEVEL_DESA):
        err("kode_wilayah", f"{model.kode_wilayah} is not an existing desa/kelurahan or kabupaten/kota")
    if model.captured_at > now + FUTURE_TOLERANCE:
        err("captured_at", "captured_at is more than 10 minutes in the future")
    if isinstance(model, SubmissionUmkm):
        _check_nik(model.nik_pemilik, index, err)
        if rules.sektor_kbli(model.kbli) is None:
            err("kbli", f"{model.kbli} is not a KBLI 2020 code: golongan pokok {model.kbli[:2]} does not exist")
        if model.modal_usaha is None and model.hasil_penjualan_tahunan is None:
            err("modal_usaha", "modal_usaha or hasil_penjualan_tahunan is required to derive skala usaha")
    return errors


def _check_nik(nik: str, index: WilayahIndex, err: Callable[[str, str], None]) -> None:
    if not (len(nik) == 16 and nik.isascii() and nik.isdigit()):
        err("nik_pemilik", "NIK must be exactly 16 digits")
        return
    info = parse_nik(nik)
    if not index.exists(f"{nik[0:2]}.{nik[2:4]}.{nik[4:6]}", LEVEL_KECAMATAN):
        err("nik_pemilik", f"the first 6 digits of the NIK ({nik[:6]}) are not an existing kecamatan")
    for issue in info.errors:
        if issue.code == "birth_date":
            err("nik_pemilik", "the date in the NIK (digits 7-12, day +40 for women) is not a real date")
        elif issue.code == "serial":
            err("nik_pemilik", "the NIK serial (last 4 digits) cannot be 0000")


def _derive(i: int, model: Any) -> Prepared:
    content = model.model_dump(mode="json")
    content_hash = canonical_hash(content)
    where = split_kode(model.kode_wilayah)
    row: dict[str, Any] = {
        "submission_id": content["submission_id"],
        "periode": model.periode,
        "jenis": model.jenis,
        "kode_wilayah": model.kode_wilayah,
        **where,
        "enumerator_id": model.enumerator_id,
        "captured_at": content["captured_at"],
        "content_hash": content_hash,
        "data": content,
    }
    if isinstance(model, SubmissionUmkm):
        row.update(
            duplikat_kunci=rules.duplikat_kunci(model.periode, where["kode_kabkota"] or "", model.nik_pemilik,
                                                model.nama_usaha),
            skala_usaha=rules.skala_usaha(model.modal_usaha, model.hasil_penjualan_tahunan),
            kbli=model.kbli, sektor=rules.sektor_kbli(model.kbli), status_tempat=model.status_tempat,
            modal_usaha=model.modal_usaha, hasil_penjualan=model.hasil_penjualan_tahunan,
            aset=model.aset, tenaga_kerja_l=model.tenaga_kerja_laki_laki,
            tenaga_kerja_p=model.tenaga_kerja_perempuan, punya_nib=model.nib is not None,
            platform_digital=model.platform_digital, izin_usaha=model.izin_usaha,
        )
    else:
        row.update(
            jenis_koperasi=model.jenis_koperasi, kewenangan=model.kewenangan, aktif=model.aktif,
            tahun_rat_terakhir=model.tahun_rat_terakhir, punya_nik_koperasi=model.nik_koperasi is not None,
            anggota_l=model.anggota_laki_laki, anggota_p=model.anggota_perempuan,
            manajer_l=model.manajer_laki_laki, manajer_p=model.manajer_perempuan,
            karyawan_l=model.karyawan_laki_laki, karyawan_p=model.karyawan_perempuan,
            modal_sendiri=model.modal_sendiri, modal_luar=model.modal_luar,
            volume_usaha=model.volume_usaha, aset=model.aset, shu=model.shu, kesehatan=model.kesehatan,
            izin_usaha=model.izin_usaha_simpan_pinjam,
        )
    return Prepared(i, content["submission_id"], row, content_hash)


# ---------------------------------------------------------------- reading

def record_out(row: Any, principal: Principal) -> dict[str, Any]:
    data = row.data if isinstance(row.data, dict) else orjson.loads(row.data)
    visible = can_see_pii(principal, row.kode_wilayah, row.owner_identity)
    return {
        "submission_id": row.submission_id,
        "periode": row.periode,
        "jenis": row.jenis,
        "kode_wilayah": row.kode_wilayah,
        "kode_kabkota": row.kode_kabkota,
        "status": row.status,
        "version": row.version,
        "enumerator_id": row.enumerator_id,
        "captured_at": row.captured_at,
        "skala_usaha": row.skala_usaha,
        "sektor": row.sektor,
        "kemungkinan_duplikat": bool(row.duplikat_dengan),
        "duplikat_dengan": list(row.duplikat_dengan),
        "pii_masked": not visible,
        "data": data if visible else mask_record_data(data),
        "dibuat_oleh": row.created_by,
        "dibuat_pada": row.created_at,
        "diperbarui_pada": row.updated_at,
    }


def created_out(p: Prepared, created_at: dt.datetime, principal: Principal,
                duplikat_dengan: list[Any]) -> dict[str, Any]:
    """The response for a record just created, built from what was stored without reading it back."""
    row = p.row
    return {
        "submission_id": p.submission_id, "periode": row["periode"], "jenis": row["jenis"],
        "kode_wilayah": row["kode_wilayah"], "kode_kabkota": row["kode_kabkota"], "status": "masuk",
        "version": 1, "enumerator_id": row["enumerator_id"], "captured_at": row["captured_at"],
        "skala_usaha": row.get("skala_usaha"), "sektor": row.get("sektor"),
        "kemungkinan_duplikat": bool(duplikat_dengan), "duplikat_dengan": duplikat_dengan,
        # the enumerator gets back what it sent; nothing here is new to it
        "pii_masked": False, "data": row["data"], "dibuat_oleh": principal.name,
        "dibuat_pada": created_at, "diperbarui_pada": created_at,
    }

"""From what a client sent to a stored row, and from a stored row to what a client reads.

Every way a record comes in (single POST, batch, `kumkm import`, a correction, OpenRosa) goes
through `prepare`: one validation pass over every field, reference checks (wilayah, periode,
NIK) included, so a rejection names every invalid field at once; then scope, then derivation
(skala usaha, sektor, duplicate key). Every way it goes out to the API
goes through `record_out`. Nothing here writes."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError

from app.core.errors import INVALID, OUTSIDE_SCOPE, UNKNOWN_FIELD_HINTS, Problem, ProblemType, pydantic_errors
from app.core.timefmt import utc_text
from app.record import rules
from app.record.model import (
    ONLY_KOPERASI,
    ONLY_UMKM,
    CommonFields,
    Reference,
    SubmissionIn,
    SubmissionKoperasi,
    SubmissionUmkm,
)
from app.record.reference import get_index, known_periode, split_kode
from app.security.personal import can_see_pii, mask_record_data
from app.security.policy import can_see_duplicates
from app.security.principal import Principal

_adapter: TypeAdapter[Any] = TypeAdapter(SubmissionIn)
DERIVED_FIELDS = {
    "skala_usaha": "ditentukan oleh layanan dari modal_usaha atau hasil_penjualan_tahunan (PP 7/2021): jangan dikirim",
    "sektor": "ditentukan oleh layanan dari kbli: jangan dikirim",
}
MODAL_ATAU_PENJUALAN = {
    "field": "modal_usaha",
    "type": "value_error",
    "message": "modal_usaha atau hasil_penjualan_tahunan wajib diisi (salah satu) untuk menentukan skala usaha",
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
    kind: ProblemType  # INVALID or OUTSIDE_SCOPE
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
    ref = Reference(await get_index(), await known_periode(), dt.datetime.now(dt.UTC))
    ok: list[Prepared] = []
    bad: list[Rejected] = []
    for i, item in enumerate(items):
        try:
            model = _adapter.validate_python(item, context=ref)
        except ValidationError as exc:
            bad.append(Rejected(i, _raw_id(item), INVALID, _all_errors(item, exc, ref)))
            continue
        if isinstance(model, SubmissionUmkm) and model.modal_usaha is None and model.hasil_penjualan_tahunan is None:
            bad.append(Rejected(i, str(model.submission_id), INVALID, [dict(MODAL_ATAU_PENJUALAN)]))
            continue
        follow_up = _follow_up_errors(model)
        if follow_up:
            bad.append(Rejected(i, str(model.submission_id), INVALID, follow_up))
            continue
        if not principal.covers(model.kode_wilayah):
            bad.append(
                Rejected(
                    i,
                    str(model.submission_id),
                    OUTSIDE_SCOPE,
                    [
                        {
                            "field": "kode_wilayah",
                            "type": "scope",
                            "message": f"kode_wilayah di luar wilayah kunci ini ({principal.kode_wilayah} dan wilayah di dalamnya)",
                        }
                    ],
                )
            )
            continue
        ok.append(_derive(i, model))
    return ok, bad


# The letter of an id_kumkm says its jenis (app/registry/idkumkm.py): U usaha, K koperasi.
_JENIS_ID = {"U": "umkm", "K": "koperasi"}
# Content fields of a follow-up visit, dropped from the content when not sent (model.py).
FOLLOW_UP_FIELDS = ("id_kumkm", "versi_dasar", "keadaan_usaha")


def _follow_up_errors(model: Any) -> list[dict[str, Any]]:
    """The follow-up fields go together (docs/pemutakhiran.md): keadaan_usaha and versi_dasar
    only with the id_kumkm they are about, keadaan_usaha required with it, and the entity of
    the record's own jenis (whether it exists, and where, is app.submissions' check)."""
    if model.id_kumkm is None:
        named = [f for f in ("keadaan_usaha", "versi_dasar") if getattr(model, f) is not None]
        if named:
            message = f"id_kumkm wajib diisi bila {' dan '.join(named)} dikirim: keduanya tentang entitas yang dimutakhirkan"
            return [{"field": "id_kumkm", "type": "missing", "message": message}]
        return []
    out = []
    if model.keadaan_usaha is None:
        message = "keadaan_usaha wajib diisi untuk pemutakhiran (id_kumkm dikirim): aktif, tutup atau pindah"
        out.append({"field": "keadaan_usaha", "type": "missing", "message": message})
    entity_jenis = _JENIS_ID[model.id_kumkm[0]]
    if entity_jenis != model.jenis:
        message = f"id_kumkm {model.id_kumkm} adalah entitas {entity_jenis}, bukan {model.jenis}: pemutakhiran harus untuk jenis yang sama"
        out.append({"field": "id_kumkm", "type": "jenis", "message": message})
    return out


def _all_errors(item: object, exc: ValidationError, ref: Reference) -> list[dict[str, Any]]:
    """Every invalid field of a rejected item. Without a valid `jenis` pydantic stops at the
    tag; the item is then checked as the kind of record its fields say it is (or against the
    fields every record has), so the answer names `jenis` and every other invalid field."""
    errors = exc.errors()
    if not (isinstance(item, dict) and len(errors) == 1 and errors[0]["type"] in ("union_tag_not_found", "union_tag_invalid")):
        return pydantic_errors(errors) + _record_rules(item)
    jenis = item.get("jenis")
    message = "jenis wajib diisi: umkm atau koperasi" if jenis is None else f"jenis harus umkm atau koperasi, bukan {jenis!r}"
    out = [{"field": "jenis", "message": message, "type": errors[0]["type"]}]
    keys = item.keys()
    model: type[BaseModel] = (
        SubmissionKoperasi if not ONLY_KOPERASI.isdisjoint(keys) else SubmissionUmkm if not ONLY_UMKM.isdisjoint(keys) else CommonFields
    )
    guess = dict(item)
    if model is CommonFields:
        guess.pop("jenis", None)
    else:
        guess["jenis"] = "koperasi" if model is SubmissionKoperasi else "umkm"
    try:
        model.model_validate(guess, context=ref)
    except ValidationError as inner:
        out += pydantic_errors(inner.errors())
    if model is SubmissionUmkm:
        out += _record_rules(guess)
    return out


def _record_rules(item: object) -> list[dict[str, Any]]:
    """The rules over more than one field, for an item that also has field errors."""
    if (
        isinstance(item, dict)
        and item.get("jenis") == "umkm"
        and item.get("modal_usaha") is None
        and item.get("hasil_penjualan_tahunan") is None
    ):
        return [dict(MODAL_ATAU_PENJUALAN)]
    return []


def _fixed_micros(text: str, instant: dt.datetime) -> str:
    """pydantic's UTC text (`...:00Z`, or `...:00.354740Z` when there are microseconds) in the
    one format (app.core.timefmt): cheaper than formatting the datetime again."""
    if len(text) == 20 and text[-1] == "Z":
        return text[:19] + ".000000Z"
    if len(text) == 27 and text[-1] == "Z":
        return text
    return utc_text(instant)


def _derive(i: int, model: Any) -> Prepared:
    content = model.model_dump(mode="json")
    for name in FOLLOW_UP_FIELDS:
        if content[name] is None:
            del content[name]
    # The hash is of the content as it has always been hashed (pydantic's own text for
    # captured_at), so replays of records stored before the one timestamp format still match;
    # what is stored and shown uses that format (app.core.timefmt).
    content_hash = canonical_hash(content)
    content["captured_at"] = _fixed_micros(content["captured_at"], model.captured_at)
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
        "keadaan_usaha": model.keadaan_usaha,
        # not columns of the record: the ingest statement writes them to kumkm_pemutakhiran
        "id_kumkm": model.id_kumkm,
        "versi_dasar": model.versi_dasar,
        "data": content,
        "lokasi_lat": model.lokasi.lat if model.lokasi else None,
        "lokasi_lon": model.lokasi.lon if model.lokasi else None,
    }
    if isinstance(model, SubmissionUmkm):
        row.update(
            duplikat_kunci=rules.duplikat_kunci(model.periode, where["kode_kabkota"] or "", model.nik_pemilik, model.nama_usaha),
            nik_kunci=rules.nik_kunci(model.nik_pemilik),
            skala_usaha=rules.skala_usaha(model.modal_usaha, model.hasil_penjualan_tahunan),
            kbli=model.kbli,
            sektor=rules.sektor_kbli(model.kbli),
            status_tempat=model.status_tempat,
            modal_usaha=model.modal_usaha,
            hasil_penjualan=model.hasil_penjualan_tahunan,
            aset=model.aset,
            tenaga_kerja_l=model.tenaga_kerja_laki_laki,
            tenaga_kerja_p=model.tenaga_kerja_perempuan,
            punya_nib=model.nib is not None,
            platform_digital=model.platform_digital,
            izin_usaha=model.izin_usaha,
        )
    else:
        row.update(
            jenis_koperasi=model.jenis_koperasi,
            kewenangan=model.kewenangan,
            aktif=model.aktif,
            tahun_rat_terakhir=model.tahun_rat_terakhir,
            punya_nik_koperasi=model.nik_koperasi is not None,
            anggota_l=model.anggota_laki_laki,
            anggota_p=model.anggota_perempuan,
            manajer_l=model.manajer_laki_laki,
            manajer_p=model.manajer_perempuan,
            karyawan_l=model.karyawan_laki_laki,
            karyawan_p=model.karyawan_perempuan,
            modal_sendiri=model.modal_sendiri,
            modal_luar=model.modal_luar,
            volume_usaha=model.volume_usaha,
            aset=model.aset,
            shu=model.shu,
            kesehatan=model.kesehatan,
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
        "duplikat_dengan": list(row.duplikat_dengan) if can_see_duplicates(principal) else None,
        "pii_masked": not visible,
        "data": data if visible else mask_record_data(data),
        "dibuat_oleh": row.dibuat_oleh,
        "dibuat_pada": row.dibuat_pada,
        "diperbarui_pada": row.diperbarui_pada,
    }


def created_out(p: Prepared, dibuat_pada: dt.datetime, principal: Principal, duplikat_dengan: list[Any]) -> dict[str, Any]:
    """The response for a record just created, built from what was stored without reading it back."""
    row = p.row
    return {
        "submission_id": p.submission_id,
        "periode": row["periode"],
        "jenis": row["jenis"],
        "kode_wilayah": row["kode_wilayah"],
        "kode_kabkota": row["kode_kabkota"],
        "status": "masuk",
        "version": 1,
        "enumerator_id": row["enumerator_id"],
        "captured_at": row["captured_at"],
        "skala_usaha": row.get("skala_usaha"),
        "sektor": row.get("sektor"),
        "kemungkinan_duplikat": bool(duplikat_dengan),
        "duplikat_dengan": duplikat_dengan if can_see_duplicates(principal) else None,
        # the enumerator gets back what it sent (the duplicates' ids excepted: they would be new)
        "pii_masked": False,
        "data": row["data"],
        "dibuat_oleh": principal.name,
        "dibuat_pada": dibuat_pada,
        "diperbarui_pada": dibuat_pada,
    }

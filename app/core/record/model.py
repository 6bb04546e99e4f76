"""The PL-KUMKM record as clients send it (SubmissionIn: UMKM and koperasi in one union
discriminated by `jenis`) and as the service answers it (SubmissionOut). Every rule about one
field lives here, including those that need reference data (wilayah, periode, the NIK's
kecamatan): app.core.record.prepare passes that data as the validation context (`Reference`),
so one validation pass names every invalid field at once. Without a context (e.g. the OpenAPI
schema) the reference checks are skipped. Messages are Indonesian and start with the field's
name (docs/decisions.md). Every way in (JSON API, batch, CLI
import, OpenRosa) and every way out (API, feed line, CSV/Parquet columns in flat.py) is derived
from these models."""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from lokal import parse_nik
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationInfo, field_validator

from app.core.errors import PATTERN_HINTS
from app.core.record import rules
from app.core.reference import LEVEL_DESA, LEVEL_KABKOTA, LEVEL_KECAMATAN
from app.core.timefmt import UtcTime

# bigint holds every realistic rupiah amount (9.2 x 10^18); sums are computed as numeric.
MAX_RUPIAH = 10**18
MAX_COUNT = 10_000_000

Rupiah = Annotated[StrictInt, Field(ge=0, le=MAX_RUPIAH, description="integer rupiah, >= 0")]
SignedRupiah = Annotated[StrictInt, Field(ge=-MAX_RUPIAH, le=MAX_RUPIAH,
                                          description="integer rupiah; negative for a loss")]
Count = Annotated[StrictInt, Field(ge=0, le=MAX_COUNT)]
Text = Annotated[str, Field(min_length=1, max_length=500)]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]

KODE_WILAYAH = r"^[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?$"
TELEPON = r"^\+?[0-9 ()-]{6,20}$"
# What a pattern asks for, in words an app developer can act on (app.core.errors).
PATTERN_HINTS.update({
    KODE_WILAYAH: "harus kode wilayah Kemendagri: desa/kelurahan (16.07.01.2001) atau kabupaten/kota (16.07)",
    TELEPON: "harus nomor telepon: 6-20 karakter angka, spasi, ( ) atau -, boleh diawali +",
})
FUTURE_TOLERANCE = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class Reference:
    """What the field rules check against; the validation context given by prepare."""
    index: object                  # app.core.reference.WilayahIndex
    periode: frozenset[str]
    now: dt.datetime


def _reference(info: ValidationInfo) -> Reference | None:
    return info.context if isinstance(info.context, Reference) else None


class Lokasi(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class _Common(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    submission_id: uuid.UUID = Field(description="UUID made on the device; the idempotency key. Only "
                                                 "RFC 9562 UUIDs of version 4 (random) or 7 (time-ordered) "
                                                 "are accepted: the nil, max and other fixed ids are refused")
    periode: Annotated[str, Field(pattern=r"^[0-9]{4}$", description="PL-KUMKM round, e.g. 2022")]
    enumerator_id: ShortText
    kode_wilayah: Annotated[str, Field(
        pattern=KODE_WILAYAH,
        description="Kemendagri code of a desa/kelurahan (16.07.01.2001) or kabupaten/kota (16.07)")]
    captured_at: dt.datetime = Field(description="when the enumerator captured it, with timezone")
    lokasi: Lokasi | None = None

    # The free-text fields: every other text field has a pattern, a fixed set of values or a
    # digits check that already refuses NUL (checking all ~30 fields was a tenth of the
    # validation's CPU). A text field added without one still cannot reach the table with a
    # NUL: PostgreSQL refuses it and the answer is a 422 (app.core.errors.database_problem).
    @field_validator("enumerator_id", "nama_usaha", "nama_pemilik", "alamat", "nama_koperasi",
                     "nomor_badan_hukum", check_fields=False)
    @classmethod
    def _no_nul(cls, v: object) -> object:
        # PostgreSQL text cannot hold U+0000; refuse it here, naming the field.
        if isinstance(v, str) and "\x00" in v:
            # no ValidationInfo here, to keep the call cheap; the field's name is put in front
            # by app.core.errors.pydantic_errors
            raise ValueError("tidak boleh memuat karakter NUL (U+0000)")
        return v

    @field_validator("submission_id")
    @classmethod
    def _device_made(cls, v: uuid.UUID) -> uuid.UUID:
        # The id is the idempotency key, first come first served: a fixed id (nil, max, a
        # version 1 MAC+time or a name-based one) that a buggy device sends would let one device
        # squat the id every such device uses. Random (4) and time-ordered random (7) ids cannot.
        if v.version not in (4, 7):
            raise ValueError("submission_id harus UUID acak versi 4 atau 7 (RFC 9562) yang dibuat "
                             f"di perangkat; versi {v.version} ditolak")
        return v

    @field_validator("captured_at")
    @classmethod
    def _aware(cls, v: dt.datetime, info: ValidationInfo) -> dt.datetime:
        if v.tzinfo is None:
            raise ValueError("captured_at harus memuat zona waktu (mis. +07:00 atau Z)")
        try:
            v = v.astimezone(dt.UTC)
        except OverflowError:
            raise ValueError("captured_at di luar rentang waktu yang dapat disimpan") from None
        if v.year < 2000:
            raise ValueError("captured_at sebelum tahun 2000: bukan waktu pendataan PL-KUMKM")
        ref = _reference(info)
        if ref is not None and v > ref.now + FUTURE_TOLERANCE:
            raise ValueError("captured_at lebih dari 10 menit di masa depan: periksa jam perangkat")
        return v

    @field_validator("periode")
    @classmethod
    def _known_periode(cls, v: str, info: ValidationInfo) -> str:
        ref = _reference(info)
        if ref is not None and v not in ref.periode:
            raise ValueError(f"periode {v} tidak dikenal; yang dikenal: {', '.join(sorted(ref.periode))}")
        return v

    @field_validator("kode_wilayah")
    @classmethod
    def _existing_wilayah(cls, v: str, info: ValidationInfo) -> str:
        ref = _reference(info)
        if ref is not None and not ref.index.exists(v, LEVEL_KABKOTA, LEVEL_DESA):  # type: ignore[attr-defined]
            raise ValueError(f"kode_wilayah {v} bukan desa/kelurahan atau kabupaten/kota yang ada "
                             "(kecamatan atau provinsi saja tidak cukup)")
        return v


class SubmissionUmkm(_Common):
    jenis: Literal["umkm"]
    nama_usaha: ShortText
    nama_pemilik: ShortText
    nik_pemilik: Annotated[str, Field(description="NIK pemilik, 16 digits")]
    nib: Annotated[str, Field(pattern=r"^[0-9]{13}$", description="Nomor Induk Berusaha, 13 digits")] | None = None
    alamat: Text
    telepon: Annotated[str, Field(pattern=TELEPON)] | None = None
    kbli: Annotated[str, Field(pattern=r"^[0-9]{5}$", description="KBLI 2020, 5 digits")]
    status_tempat: Literal["menetap", "tidak_menetap"]
    modal_usaha: Rupiah | None = Field(None, description="excluding land and buildings")
    hasil_penjualan_tahunan: Rupiah | None = None
    aset: Rupiah | None = None
    tenaga_kerja_laki_laki: Count = 0
    tenaga_kerja_perempuan: Count = 0
    platform_digital: StrictBool = False
    izin_usaha: StrictBool = False

    @field_validator("nik_pemilik")
    @classmethod
    def _nik(cls, v: str, info: ValidationInfo) -> str:
        if not (len(v) == 16 and v.isascii() and v.isdigit()):
            raise ValueError("nik_pemilik harus tepat 16 angka")
        ref = _reference(info)
        if ref is None:
            return v
        problems = []
        if not ref.index.exists(f"{v[0:2]}.{v[2:4]}.{v[4:6]}", LEVEL_KECAMATAN):  # type: ignore[attr-defined]
            problems.append(f"6 angka pertama ({v[:6]}) bukan kode kecamatan yang ada")
        for issue in parse_nik(v).errors:
            if issue.code == "birth_date":
                problems.append("angka ke-7 s.d. 12 bukan tanggal lahir yang sah (tanggal +40 untuk perempuan)")
            elif issue.code == "serial":
                problems.append("nomor urut (4 angka terakhir) tidak boleh 0000")
        if problems:
            raise ValueError("nik_pemilik tidak sah: " + "; ".join(problems))
        return v

    @field_validator("kbli")
    @classmethod
    def _kbli(cls, v: str) -> str:
        if rules.sektor_kbli(v) is None:
            raise ValueError(f"kbli {v} bukan kode KBLI 2020: golongan pokok {v[:2]} tidak ada")
        return v


JENIS_KOPERASI = ("konsumen", "produsen", "simpan_pinjam", "pemasaran", "jasa")
KESEHATAN = ("sehat", "cukup_sehat", "dalam_pengawasan", "dalam_pengawasan_khusus")


class SubmissionKoperasi(_Common):
    jenis: Literal["koperasi"]
    nama_koperasi: ShortText
    nik_koperasi: Annotated[str, Field(pattern=r"^[0-9]{16}$",
                                       description="Nomor Induk Koperasi, 16 digits")] | None = None
    nomor_badan_hukum: ShortText
    jenis_koperasi: Literal["konsumen", "produsen", "simpan_pinjam", "pemasaran", "jasa"]
    kewenangan: Literal["kabkota", "provinsi", "nasional"] = Field(
        description="who oversees it, by its members' reach")
    aktif: StrictBool
    tahun_rat_terakhir: Annotated[StrictInt, Field(ge=1945, le=2100)] | None = None
    anggota_laki_laki: Count = 0
    anggota_perempuan: Count = 0
    manajer_laki_laki: Count = 0
    manajer_perempuan: Count = 0
    karyawan_laki_laki: Count = 0
    karyawan_perempuan: Count = 0
    modal_sendiri: Rupiah = 0
    modal_luar: Rupiah = 0
    volume_usaha: Rupiah = 0
    aset: Rupiah | None = None
    shu: SignedRupiah = 0
    izin_usaha_simpan_pinjam: StrictBool = False
    kesehatan: Literal["sehat", "cukup_sehat", "dalam_pengawasan", "dalam_pengawasan_khusus"] | None = None
    alamat: Text | None = None
    telepon: Annotated[str, Field(pattern=TELEPON)] | None = None


# Fields only one kind of record has: they tell which kind a record without a valid `jenis`
# looks like, so that its other fields can still be checked (app.core.record.prepare).
ONLY_UMKM = frozenset(SubmissionUmkm.model_fields) - frozenset(SubmissionKoperasi.model_fields)
ONLY_KOPERASI = frozenset(SubmissionKoperasi.model_fields) - frozenset(SubmissionUmkm.model_fields)


class CommonFields(_Common):
    """The fields every record has, for a record that is neither kind."""
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


# One record in an OpenAPI request body (the models are added to the components in app.main).
# The routes that take a record read the body themselves and hand it to prepare, so that one
# validation pass (with the reference checks) names every invalid field.
OPENAPI_RECORD_SCHEMA = {
    "oneOf": [{"$ref": "#/components/schemas/SubmissionUmkm"},
              {"$ref": "#/components/schemas/SubmissionKoperasi"}],
    "discriminator": {"propertyName": "jenis", "mapping": {
        "umkm": "#/components/schemas/SubmissionUmkm",
        "koperasi": "#/components/schemas/SubmissionKoperasi"}},
}

SubmissionIn = Annotated[SubmissionUmkm | SubmissionKoperasi, Field(discriminator="jenis")]


class SubmissionOut(BaseModel):
    submission_id: uuid.UUID
    periode: str
    jenis: str
    kode_wilayah: str
    kode_kabkota: str
    status: Literal["masuk", "diterima", "ditolak"]
    version: int
    enumerator_id: str
    captured_at: UtcTime
    skala_usaha: str | None = Field(None, description="derived by the service (PP 7/2021 Pasal 35)")
    sektor: str | None = Field(None, description="KBLI kategori, derived from kbli")
    kemungkinan_duplikat: bool = Field(False, description="another record has the same duplicate key: the same "
                                                         "NIK pemilik and nama usaha in this kabupaten/kota "
                                                         "and periode (UMKM only)")
    duplikat_dengan: list[uuid.UUID] | None = Field(
        None, description="the ids of those likely duplicates, for the keys that verify or read the registry "
                          "(verifikator, dinas, walidata, admin); null for an enumerator key, which learns "
                          "only kemungkinan_duplikat (the ids would confirm a guessed NIK and nama usaha)")
    pii_masked: bool = False
    data: dict[str, Any] = Field(description="the record's content at this version")
    dibuat_oleh: str
    dibuat_pada: UtcTime
    diperbarui_pada: UtcTime

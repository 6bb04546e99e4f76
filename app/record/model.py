"""The PL-KUMKM record as clients send it (SubmissionIn: UMKM and koperasi in one union
discriminated by `jenis`) and as the service answers it (SubmissionOut). Every rule about one
field lives here, including those that need reference data (wilayah, periode, the NIK's
kecamatan): app.record.prepare passes that data as the validation context (`Reference`),
so one validation pass names every invalid field at once. Without a context (e.g. the OpenAPI
schema) the reference checks are skipped. Messages are Indonesian and start with the field's
name (docs/decisions.md). Every way in (JSON API, batch, CLI
import, OpenRosa) and every way out (API, feed line, CSV/Parquet columns in flat.py) is derived
from these models."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from lokal import parse_nik
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationInfo, field_validator

from app.core.errors import PATTERN_HINTS
from app.core.timefmt import UtcTime
from app.record import rules
from app.record.reference import LEVEL_DESA, LEVEL_KABKOTA, LEVEL_KECAMATAN

# bigint holds every realistic rupiah amount (9.2 x 10^18); sums are computed as numeric.
MAX_RUPIAH = 10**18
MAX_COUNT = 10_000_000

Rupiah = Annotated[StrictInt, Field(ge=0, le=MAX_RUPIAH, description="integer rupiah, >= 0")]
SignedRupiah = Annotated[StrictInt, Field(ge=-MAX_RUPIAH, le=MAX_RUPIAH, description="integer rupiah; negative for a loss")]
Count = Annotated[StrictInt, Field(ge=0, le=MAX_COUNT)]
Text = Annotated[str, Field(min_length=1, max_length=500)]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]

KODE_WILAYAH = r"^[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?$"
TELEPON = r"^\+?[0-9 ()-]{6,20}$"
# U (usaha) or K (koperasi), ten digits (nine and a check digit: app/registry/idkumkm.py)
ID_KUMKM = r"^[UK][0-9]{10}$"
_ID_KUMKM_SEPARATORS = re.compile(r"[\s.\-]")
# What a pattern asks for, in words an app developer can act on (app.core.errors).
PATTERN_HINTS.update(
    {
        KODE_WILAYAH: "harus kode wilayah Kemendagri: desa/kelurahan (16.07.01.2001) atau kabupaten/kota (16.07)",
        TELEPON: "harus nomor telepon: 6-20 karakter angka, spasi, ( ) atau -, boleh diawali +",
        ID_KUMKM: "harus id_kumkm: U (usaha) atau K (koperasi) lalu 10 angka, mis. U0000012341",
    }
)
FUTURE_TOLERANCE = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class Reference:
    """What the field rules check against; the validation context given by prepare."""

    index: object  # app.record.reference.WilayahIndex
    periode: frozenset[str]
    now: dt.datetime


def _reference(info: ValidationInfo) -> Reference | None:
    return info.context if isinstance(info.context, Reference) else None


class Lokasi(BaseModel):
    """A GPS point in decimal degrees (WGS 84)."""

    model_config = ConfigDict(extra="forbid")
    lat: float = Field(ge=-90, le=90, description="latitude, decimal degrees")
    lon: float = Field(ge=-180, le=180, description="longitude, decimal degrees")


class _Common(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    submission_id: uuid.UUID = Field(
        description="UUID made on the device; the idempotency key. Only "
        "RFC 9562 UUIDs of version 4 (random) or 7 (time-ordered) "
        "are accepted: the nil, max and other fixed ids are refused"
    )
    periode: Annotated[str, Field(pattern=r"^[0-9]{4}$", description="PL-KUMKM round, e.g. 2022: a periode the registry knows")]
    enumerator_id: ShortText = Field(description="the enumerator's id as the field team numbers them; a correction keeps it")
    kode_wilayah: Annotated[
        str,
        Field(
            pattern=KODE_WILAYAH,
            description="Kemendagri code of an existing desa/kelurahan (16.07.01.2001) or kabupaten/kota (16.07); "
            "a kecamatan or provinsi alone is refused",
        ),
    ]
    captured_at: dt.datetime = Field(
        description="when the enumerator captured it, with a timezone (+07:00 or Z); "
        "from the year 2000, at most 10 minutes ahead of the registry's "
        "clock"
    )
    lokasi: Lokasi | None = Field(
        None,
        description="where it was captured, {lat, lon} in decimal degrees; shown to 2 decimals (about 1 km) where personal data is masked",
    )
    # A follow-up visit (pemutakhiran, docs/pemutakhiran.md): the entity the record updates,
    # the entity version the app's list carried, and what the enumerator found. Left out of the
    # stored content when not sent, so census records keep the content (and hash) they had.
    id_kumkm: Annotated[str, Field(pattern=ID_KUMKM)] | None = Field(
        None,
        description="a follow-up visit: the id_kumkm of the entity (usaha or koperasi) this record updates, from the "
        "entity list; the record is linked to it when accepted, no candidate needed. Omitted for a census record",
    )
    versi_dasar: Annotated[StrictInt, Field(ge=1, le=2_147_483_647)] | None = Field(
        None,
        description="with id_kumkm: the entity's `versi` in the list the app used (ODK's baseVersion); older than the "
        "entity's current versi, the record is stored and marked as a conflict for the verifikator",
    )
    keadaan_usaha: Literal["aktif", "tutup", "pindah"] | None = Field(
        None,
        description="with id_kumkm (and required there): what the follow-up visit found: aktif, tutup (closed) or pindah "
        "(moved away); tutup and pindah count as not found again in the indicators",
    )

    @field_validator("id_kumkm", mode="before")
    @classmethod
    def _id_kumkm_normal(cls, v: object) -> object:
        # as people copy it: lower case, spaces, hyphens or dots (docs/registry.md "id_kumkm")
        return _ID_KUMKM_SEPARATORS.sub("", v).upper() if isinstance(v, str) else v

    # The free-text fields: every other text field has a pattern, a fixed set of values or a
    # digits check that already refuses NUL (checking all ~30 fields was a tenth of the
    # validation's CPU). A text field added without one still cannot reach the table with a
    # NUL: PostgreSQL refuses it and the answer is a 422 (app.core.errors.database_problem).
    @field_validator("enumerator_id", "nama_usaha", "nama_pemilik", "alamat", "nama_koperasi", "nomor_badan_hukum", check_fields=False)
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
            raise ValueError(f"submission_id harus UUID acak versi 4 atau 7 (RFC 9562) yang dibuat di perangkat; versi {v.version} ditolak")
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
            raise ValueError(
                f"kode_wilayah {v} bukan desa/kelurahan atau kabupaten/kota yang ada (kecamatan atau provinsi saja tidak cukup)"
            )
        return v


class SubmissionUmkm(_Common):
    jenis: Literal["umkm"] = Field(description="a business (usaha mikro, kecil atau menengah): the fields below follow")
    nama_usaha: ShortText = Field(description="the business's name")
    nama_pemilik: ShortText = Field(description="the owner's name; personal data (masked where not allowed)")
    nik_pemilik: Annotated[
        str,
        Field(
            description="NIK pemilik, 16 digits: the first six an existing kecamatan, digits 7-12 a real birth "
            "date (day + 40 for women), the last four not 0000; personal data. With nama usaha it "
            "makes the likely-duplicate key"
        ),
    ]
    nib: Annotated[str, Field(pattern=r"^[0-9]{13}$", description="Nomor Induk Berusaha, 13 digits")] | None = None
    alamat: Text = Field(description="the business's address; personal data")
    telepon: Annotated[str, Field(pattern=TELEPON)] | None = Field(None, description="phone; personal data")
    kbli: Annotated[
        str, Field(pattern=r"^[0-9]{5}$", description="KBLI 2020, 5 digits, whose golongan pokok (first two) exists; decides sektor")
    ]
    status_tempat: Literal["menetap", "tidak_menetap"] = Field(description="a fixed place of business or not")
    modal_usaha: Rupiah | None = Field(
        None,
        description="capital excluding land and buildings, integer rupiah; "
        "decides skala usaha when given (even 0). This or "
        "hasil_penjualan_tahunan is required",
    )
    hasil_penjualan_tahunan: Rupiah | None = Field(
        None, description="yearly sales (omzet), integer rupiah; decides skala usaha when modal_usaha is not given"
    )
    aset: Rupiah | None = Field(None, description="assets, integer rupiah")
    tenaga_kerja_laki_laki: Count = Field(0, description="workers, men")
    tenaga_kerja_perempuan: Count = Field(0, description="workers, women")
    platform_digital: StrictBool = Field(False, description="sells through a digital platform")
    izin_usaha: StrictBool = Field(False, description="has a business licence")

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
    jenis: Literal["koperasi"] = Field(description="a koperasi: the fields below follow")
    nama_koperasi: ShortText = Field(description="the koperasi's name")
    nik_koperasi: Annotated[str, Field(pattern=r"^[0-9]{16}$", description="Nomor Induk Koperasi, 16 digits")] | None = None
    nomor_badan_hukum: ShortText = Field(description="its legal entity number (badan hukum)")
    jenis_koperasi: Literal["konsumen", "produsen", "simpan_pinjam", "pemasaran", "jasa"] = Field(description="its kind of business")
    kewenangan: Literal["kabkota", "provinsi", "nasional"] = Field(description="who oversees it, by its members' reach")
    aktif: StrictBool = Field(description="active: doing business")
    tahun_rat_terakhir: Annotated[StrictInt, Field(ge=1945, le=2100)] | None = Field(
        None, description="year of its last annual members' meeting (RAT)"
    )
    anggota_laki_laki: Count = Field(0, description="members, men")
    anggota_perempuan: Count = Field(0, description="members, women")
    manajer_laki_laki: Count = Field(0, description="managers, men")
    manajer_perempuan: Count = Field(0, description="managers, women")
    karyawan_laki_laki: Count = Field(0, description="employees, men")
    karyawan_perempuan: Count = Field(0, description="employees, women")
    modal_sendiri: Rupiah = Field(0, description="own capital, integer rupiah")
    modal_luar: Rupiah = Field(0, description="outside capital, integer rupiah")
    volume_usaha: Rupiah = Field(0, description="business volume, integer rupiah")
    aset: Rupiah | None = Field(None, description="assets, integer rupiah")
    shu: SignedRupiah = Field(0, description="sisa hasil usaha (the year's result), integer rupiah; negative for a loss")
    izin_usaha_simpan_pinjam: StrictBool = Field(False, description="has a savings-and-loan licence")
    kesehatan: Literal["sehat", "cukup_sehat", "dalam_pengawasan", "dalam_pengawasan_khusus"] | None = Field(
        None, description="its health rating (koperasi simpan pinjam)"
    )
    alamat: Text | None = Field(None, description="its address; personal data")
    telepon: Annotated[str, Field(pattern=TELEPON)] | None = Field(None, description="phone; personal data")


# Fields only one kind of record has: they tell which kind a record without a valid `jenis`
# looks like, so that its other fields can still be checked (app.record.prepare).
ONLY_UMKM = frozenset(SubmissionUmkm.model_fields) - frozenset(SubmissionKoperasi.model_fields)
ONLY_KOPERASI = frozenset(SubmissionKoperasi.model_fields) - frozenset(SubmissionUmkm.model_fields)


class CommonFields(_Common):
    """The fields every record has, for a record that is neither kind."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


# One record in an OpenAPI request body (the models are added to the components in app.main).
# The routes that take a record read the body themselves and hand it to prepare, so that one
# validation pass (with the reference checks) names every invalid field.
OPENAPI_RECORD_SCHEMA = {
    "oneOf": [{"$ref": "#/components/schemas/SubmissionUmkm"}, {"$ref": "#/components/schemas/SubmissionKoperasi"}],
    "discriminator": {
        "propertyName": "jenis",
        "mapping": {"umkm": "#/components/schemas/SubmissionUmkm", "koperasi": "#/components/schemas/SubmissionKoperasi"},
    },
}

SubmissionIn = Annotated[SubmissionUmkm | SubmissionKoperasi, Field(discriminator="jenis")]


class SubmissionOut(BaseModel):
    """A record as the API answers it: its content in `data` (as sent, personal data masked
    where the key may not see it) and, around it, what the service keeps and derives."""

    submission_id: uuid.UUID = Field(description="the record's id: the submission_id its device made")
    periode: str = Field(description="the PL-KUMKM round")
    jenis: str = Field(description="umkm or koperasi")
    kode_wilayah: str = Field(description="where the record is now (a correction may move it inside its provinsi)")
    kode_kabkota: str = Field(description="its kabupaten/kota, from kode_wilayah")
    status: Literal["masuk", "diterima", "ditolak"] = Field(
        description="masuk: waiting for a verifikator; diterima; ditolak (its enumerator may then correct it)"
    )
    version: int = Field(description="content version: 1 as sent, one more per correction; a decision names it")
    enumerator_id: str = Field(description="as sent in the record")
    captured_at: UtcTime
    skala_usaha: str | None = Field(
        None,
        description="derived by the service (PP 7/2021 Pasal 35) from modal_usaha, "
        "else hasil_penjualan_tahunan: mikro, kecil, menengah, or "
        "besar above UMKM; null for a koperasi",
    )
    sektor: str | None = Field(None, description="KBLI kategori, a letter A-U, derived from kbli; null for a koperasi")
    kemungkinan_duplikat: bool = Field(
        False,
        description="another record has the same duplicate key: the same "
        "NIK pemilik and nama usaha in this kabupaten/kota "
        "and periode (UMKM only)",
    )
    duplikat_dengan: list[uuid.UUID] | None = Field(
        None,
        description="the ids of those likely duplicates, for the keys that verify or read the registry "
        "(verifikator, dinas, walidata, admin); null for an enumerator key, which learns "
        "only kemungkinan_duplikat (the ids would confirm a guessed NIK and nama usaha)",
    )
    pii_masked: bool = Field(False, description="true when personal data in `data` is masked for this key")
    data: dict[str, Any] = Field(
        description="the record's content at this version: the fields of SubmissionUmkm or SubmissionKoperasi (docs/record.md)"
    )
    dibuat_oleh: str = Field(description="the name of the key that created it")
    dibuat_pada: UtcTime = Field(description="when it was first stored")
    diperbarui_pada: UtcTime = Field(description="its last change: a decision or a correction")

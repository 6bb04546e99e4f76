"""The PL-KUMKM record as clients send it (SubmissionIn: UMKM and koperasi in one union
discriminated by `jenis`) and as the service answers it (SubmissionOut). Structural rules live
here; rules that need reference data (wilayah, periode, NIK kecamatan) are checked by
app.core.record.prepare against the reference tables. Every way in (JSON API, batch, CLI
import, OpenRosa) and every way out (API, feed line, CSV/Parquet columns in flat.py) is derived
from these models."""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator

# bigint holds every realistic rupiah amount (9.2 x 10^18); sums are computed as numeric.
MAX_RUPIAH = 10**18
MAX_COUNT = 10_000_000

Rupiah = Annotated[StrictInt, Field(ge=0, le=MAX_RUPIAH, description="integer rupiah, >= 0")]
SignedRupiah = Annotated[StrictInt, Field(ge=-MAX_RUPIAH, le=MAX_RUPIAH,
                                          description="integer rupiah; negative for a loss")]
Count = Annotated[StrictInt, Field(ge=0, le=MAX_COUNT)]
Text = Annotated[str, Field(min_length=1, max_length=500)]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]


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
        pattern=r"^[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?$",
        description="Kemendagri code of a desa/kelurahan (16.07.01.2001) or kabupaten/kota (16.07)")]
    captured_at: dt.datetime = Field(description="when the enumerator captured it, with timezone")
    lokasi: Lokasi | None = None

    @field_validator("*")
    @classmethod
    def _no_nul(cls, v: object) -> object:
        # PostgreSQL text cannot hold U+0000; refuse it here, naming the field.
        if isinstance(v, str) and "\x00" in v:
            raise ValueError("text must not contain NUL (U+0000) characters")
        return v

    @field_validator("submission_id")
    @classmethod
    def _device_made(cls, v: uuid.UUID) -> uuid.UUID:
        # The id is the idempotency key, first come first served: a fixed id (nil, max, a
        # version 1 MAC+time or a name-based one) that a buggy device sends would let one device
        # squat the id every such device uses. Random (4) and time-ordered random (7) ids cannot.
        if v.version not in (4, 7):
            raise ValueError("submission_id must be a random UUID of version 4 or 7 (RFC 9562), "
                             "made on the device")
        return v

    @field_validator("captured_at")
    @classmethod
    def _aware(cls, v: dt.datetime) -> dt.datetime:
        if v.tzinfo is None:
            raise ValueError("captured_at needs a timezone (e.g. +07:00 or Z)")
        try:
            v = v.astimezone(dt.UTC)
        except OverflowError:
            raise ValueError("captured_at is out of range") from None
        if v.year < 2000:
            raise ValueError("captured_at is before 2000: not a PL-KUMKM capture")
        return v


class SubmissionUmkm(_Common):
    jenis: Literal["umkm"]
    nama_usaha: ShortText
    nama_pemilik: ShortText
    nik_pemilik: Annotated[str, Field(description="NIK pemilik, 16 digits")]
    nib: Annotated[str, Field(pattern=r"^[0-9]{13}$", description="Nomor Induk Berusaha, 13 digits")] | None = None
    alamat: Text
    telepon: Annotated[str, Field(pattern=r"^\+?[0-9 ()-]{6,20}$")] | None = None
    kbli: Annotated[str, Field(pattern=r"^[0-9]{5}$", description="KBLI 2020, 5 digits")]
    status_tempat: Literal["menetap", "tidak_menetap"]
    modal_usaha: Rupiah | None = Field(None, description="excluding land and buildings")
    hasil_penjualan_tahunan: Rupiah | None = None
    aset: Rupiah | None = None
    tenaga_kerja_laki_laki: Count = 0
    tenaga_kerja_perempuan: Count = 0
    platform_digital: StrictBool = False
    izin_usaha: StrictBool = False


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
    telepon: Annotated[str, Field(pattern=r"^\+?[0-9 ()-]{6,20}$")] | None = None


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
    captured_at: dt.datetime
    skala_usaha: str | None = Field(None, description="derived by the service (PP 7/2021 Pasal 35)")
    sektor: str | None = Field(None, description="KBLI kategori, derived from kbli")
    kemungkinan_duplikat: bool = False
    duplikat_dengan: list[uuid.UUID] = []
    pii_masked: bool = False
    data: dict[str, Any] = Field(description="the record's content at this version")
    dibuat_oleh: str
    dibuat_pada: dt.datetime
    diperbarui_pada: dt.datetime

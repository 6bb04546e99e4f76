"""Request and response shapes of /api/v1/indikator. Numbers travel as decimal strings in
responses (never JSON floats); requests may send a number or a decimal string, and JSON
numbers are parsed straight into Decimal (see `router.DecimalRoute`)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from app.core.timefmt import UtcTime

SATUAN = Literal["persen", "unit", "orang", "rupiah", "indeks"]
POLARITAS = Literal["naik", "turun"]
LEVEL = Literal["nasional", "provinsi", "kabkota"]

_KODE_WILAYAH_DOC = "Kemendagri code of a provinsi or kabupaten/kota (`16`, `16.07`) or `nasional`"


def _before_nilai(v: Any) -> Any:
    if isinstance(v, bool):
        raise ValueError("harus angka atau teks desimal, bukan true/false")
    if isinstance(v, float):
        # Only reachable when a client bypasses the JSON route: a float has already lost digits.
        raise ValueError("kirim nilainya sebagai teks desimal atau angka JSON yang tepat")
    if isinstance(v, str) and "," in v:
        raise ValueError("pakai '.' sebagai pemisah desimal, tanpa pemisah ribuan, mis. \"2710.36\"")
    return v


def _after_nilai(v: Decimal) -> Decimal:
    t = v.as_tuple()
    if len(t.digits) + max(0, t.exponent) > 30 or t.exponent < -12:
        raise ValueError("paling banyak 30 angka bermakna dan 12 angka desimal")
    return v


Nilai = Annotated[
    Decimal, BeforeValidator(_before_nilai), AfterValidator(_after_nilai), Field(json_schema_extra={"examples": ["7.34", 88.9]})
]

Teks = Annotated[str, Field(min_length=1, max_length=500)]
BIGINT_MAX = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=BIGINT_MAX)]
Kode = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^\S(.*\S)?$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class TujuanIn(_In):
    pemilik: str = Field(description="the wilayah whose Renstra this is: " + _KODE_WILAYAH_DOC)
    kode: Kode
    nama: Teks


class TujuanPatch(_In):
    kode: Kode | None = None
    nama: Teks | None = None


class Tujuan(BaseModel):
    id: int
    pemilik: str
    kode: str
    nama: str
    dibuat_pada: UtcTime
    diperbarui_pada: UtcTime
    diubah_pada: UtcTime = Field(deprecated=True, description="the same as diperbarui_pada; the old name, answered until the next release")


class SasaranIn(_In):
    pemilik: str = Field(description=_KODE_WILAYAH_DOC)
    kode: Kode
    nama: Teks
    tujuan_id: Id | None = None


class SasaranPatch(_In):
    kode: Kode | None = None
    nama: Teks | None = None
    tujuan_id: Id | None = Field(None, description="null detaches the sasaran from its tujuan")


class Sasaran(BaseModel):
    id: int
    pemilik: str
    tujuan_id: int | None
    kode: str
    nama: str
    dibuat_pada: UtcTime
    diperbarui_pada: UtcTime
    diubah_pada: UtcTime = Field(deprecated=True, description="the same as diperbarui_pada; the old name, answered until the next release")


class IndikatorIn(_In):
    pemilik: str = Field(description="owner of the indicator (its Renstra): " + _KODE_WILAYAH_DOC)
    kode: Kode
    nama: Teks
    jenis: Literal["iku", "ikk", "lainnya"] = "iku"
    sasaran_id: Id
    satuan: SATUAN | None = Field(None, description="required for manual indicators; for registry ones it defaults to the formula's unit")
    polaritas: POLARITAS
    level: LEVEL | None = Field(None, description="level of the wilayah it is reported at; defaults to the owner's level")
    sumber: Literal["manual", "registry"]
    formula: str | None = Field(None, description="with sumber=registry: a formula of GET /api/v1/indikator/formula")
    parameter: dict[str, Any] = Field(default_factory=dict)
    renstra_mulai: int = Field(ge=2000, le=2100)
    renstra_akhir: int = Field(ge=2000, le=2100)


class IndikatorPatch(_In):
    kode: Kode | None = None
    nama: Teks | None = None
    jenis: Literal["iku", "ikk", "lainnya"] | None = None
    sasaran_id: Id | None = None
    satuan: SATUAN | None = None
    polaritas: POLARITAS | None = None
    formula: str | None = None
    parameter: dict[str, Any] | None = None
    renstra_mulai: int | None = Field(None, ge=2000, le=2100)
    renstra_akhir: int | None = Field(None, ge=2000, le=2100)
    aktif: bool | None = Field(None, description="false retires the indicator from LKjIP tables; its targets and realisasi stay")


class Indikator(BaseModel):
    id: int
    pemilik: str
    kode: str
    nama: str
    jenis: str
    sasaran_id: Id
    satuan: str
    polaritas: str
    level: str
    sumber: str
    formula: str | None
    parameter: dict[str, Any]
    renstra_mulai: int
    renstra_akhir: int
    aktif: bool
    dibuat_oleh: str
    dibuat_pada: UtcTime
    diperbarui_pada: UtcTime
    diubah_pada: UtcTime = Field(deprecated=True, description="the same as diperbarui_pada; the old name, answered until the next release")


class IndikatorList(BaseModel):
    items: list[Indikator]


class TujuanList(BaseModel):
    items: list[Tujuan]


class SasaranList(BaseModel):
    items: list[Sasaran]


class IndikatorTargetIn(_In):
    nilai: Nilai
    keterangan: str | None = Field(None, max_length=500, description="e.g. `Renstra 2019-2023 perubahan`")


class RealisasiIn(_In):
    nilai: Nilai
    sumber: Teks = Field(description="where the value comes from, e.g. `BPS Sumatera Selatan 2022`")
    catatan: str | None = Field(None, max_length=2000)


class IndikatorTargetRevisi(BaseModel):
    id: int
    tahun: int
    nilai: str
    keterangan: str | None
    dibuat_oleh: str
    dibuat_pada: UtcTime


class TargetTahun(BaseModel):
    tahun: int
    nilai: str = Field(description="the target in force: the latest revision")
    riwayat: list[IndikatorTargetRevisi] = Field(description="every revision, newest first")


class TargetList(BaseModel):
    indikator_id: int
    kode_wilayah: str
    items: list[TargetTahun]


class RealisasiRevisi(BaseModel):
    id: int
    nilai: str
    sumber: str
    catatan: str | None
    dibuat_oleh: str
    dibuat_pada: UtcTime


class Realisasi(BaseModel):
    indikator_id: int
    kode_wilayah: str
    tahun: int
    sumber: Literal["manual", "registry"]
    nilai: str | None = Field(description="entered: the latest revision; registry: computed now")
    nilai_sumber: str | None = Field(None, description="the source given with the entered value")
    komponen: dict[str, Any] | None = Field(None, description="registry: the terms of the formula per periode")
    riwayat: list[RealisasiRevisi] = Field(default_factory=list, description="newest first")


class Band(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    batas_bawah: Nilai | None = Field(description="lowest capaian (percent) of the band; null for the catch-all lowest band")
    predikat: Annotated[str, Field(min_length=1, max_length=100)]


class PredikatIn(_In):
    nama: str | None = Field(None, max_length=200)
    bands: list[Band] = Field(min_length=1, max_length=20)


class BandOut(BaseModel):
    batas_bawah: str | None
    predikat: str


class PredikatOut(BaseModel):
    kode_wilayah: str
    berlaku_dari: str = Field(description="the wilayah whose scale applies, or `bawaan` for Permendagri 86/2017")
    nama: str | None
    bands: list[BandOut]


class Capaian(BaseModel):
    capaian_persen: str | None = Field(description="exact (40 significant digits), in percent")
    capaian_persen_bulat: str | None = Field(description="half-up to 2 decimals; the predikat is decided on this value")
    predikat: str | None


class CapaianTahun(Capaian):
    tahun: int
    target: str | None
    realisasi: str | None


class CapaianRenstra(Capaian):
    tahun_akhir: int
    target: str | None


class BarisIndikator(Capaian):
    id: int
    pemilik: str
    kode: str
    nama: str
    jenis: str
    satuan: str
    polaritas: str
    sumber: str
    formula: str | None
    target: str | None
    realisasi: str | None
    realisasi_sumber: str | None
    tahun_sebelumnya: list[CapaianTahun]
    renstra: CapaianRenstra


class SasaranCapaianTahun(Capaian):
    tahun: int


class BarisSasaran(Capaian):
    id: int
    pemilik: str
    kode: str
    nama: str
    tujuan: dict[str, Any] | None
    tahun_sebelumnya: list[SasaranCapaianTahun]
    renstra: Capaian
    indikator: list[BarisIndikator]


class Lkjip(BaseModel):
    tahun: int
    wilayah: dict[str, Any]
    as_of: dt.date
    tahun_sebelumnya: list[int]
    skala_predikat: PredikatOut
    sasaran: list[BarisSasaran]

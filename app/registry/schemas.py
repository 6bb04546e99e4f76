"""Requests and answers of the entity API and the verifikator's actions (app.registry.router)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.core.pagination import Page

_VERSI = Field(ge=1, le=2_147_483_647, description="the entity's versi as read (GET /api/v1/kumkm/{id_kumkm})")
_CATATAN = Field(None, max_length=2000, description="why: written to the entity's peristiwa as `alasan`")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KeputusanKandidat(_Strict):
    """A decision on a candidate: the versi of both entities as the verifikator saw them."""

    versi_a: int = _VERSI
    versi_b: int = _VERSI
    catatan: str | None = _CATATAN


class Tautkan(_Strict):
    """Merge this entity with another one the verifikator found (no candidate needed)."""

    versi: int = _VERSI
    dengan: str = Field(min_length=1, max_length=40, description="id_kumkm of the other entity")
    versi_dengan: int = _VERSI
    catatan: str | None = _CATATAN


class Pisahkan(_Strict):
    versi: int = _VERSI
    submission_ids: list[uuid.UUID] = Field(
        min_length=1, max_length=10_000, description="the records that leave the entity (not all of them)"
    )
    catatan: str | None = _CATATAN


class Ringkasan(BaseModel):
    """One entity in a list or beside another in a candidate."""

    id_kumkm: str
    jenis: str
    kode_provinsi: str
    kode_kabkota: str
    versi: int
    digabung_ke: str | None = None
    nama: str | None = None
    skala_usaha: str | None = None
    periode: list[str]
    jumlah_rekaman: int
    pengenal: dict[str, list[str]] = Field(description="nib, nik_koperasi, nomor_badan_hukum the entity holds")
    diperbarui_pada: dt.datetime
    alamat: str | None = Field(None, description="candidates only: masked unless the caller may see it")


class Kandidat(BaseModel):
    id: int
    kode_kabkota: str
    skor: float
    alasan: list[dict[str, Any]]
    status: str
    versi: int
    dibuat_pada: dt.datetime
    diputuskan_oleh: str | None = None
    diputuskan_pada: dt.datetime | None = None
    catatan: str | None = None
    a: Ringkasan | None
    b: Ringkasan | None


class KandidatPage(Page[Kandidat]):
    kode_kabkota: str
    status: str


class EntitasPage(Page[Ringkasan]):
    pass


class NilaiProfil(BaseModel):
    nilai: Any
    periode: str
    submission_id: uuid.UUID


class Tautan(BaseModel):
    submission_id: uuid.UUID
    periode: str
    status: str
    skala_usaha: str | None = None
    dasar: str
    pada: dt.datetime


class Peristiwa(BaseModel):
    id: int
    aksi: str
    oleh: str
    pada: dt.datetime
    alasan: str | None = None
    detail: dict[str, Any]


class EntitasOut(BaseModel):
    id_kumkm: str = Field(description="the live entity's id")
    id_diminta: str = Field(description="the id asked for")
    digabung_ke: str | None = Field(description="set when the id asked was merged: the live entity it leads to")
    jenis: str
    kode_provinsi: str
    kode_kabkota: str
    versi: int
    dibuat_pada: dt.datetime
    diperbarui_pada: dt.datetime
    pii_masked: bool
    pengenal: dict[str, list[str]]
    id_lama: list[str] = Field(description="retired ids merged into this entity")
    profil: dict[str, NilaiProfil] = Field(description="each field's latest accepted value, with its periode")
    tautan: list[Tautan]
    peristiwa: list[Peristiwa]


class KandidatState(BaseModel):
    id: int
    status: str
    versi: int


class GabungOut(BaseModel):
    kandidat: KandidatState | None = None
    id_kumkm: str = Field(description="the survivor (the entity created first)")
    versi: int
    digabung: str = Field(description="the retired entity, now pointing at the survivor")
    versi_digabung: int
    submission_ids: list[uuid.UUID] = Field(description="the records moved (a split of exactly these undoes it)")
    kandidat_usang: list[int]
    kandidat_dialihkan: list[int]


class BukanSamaOut(BaseModel):
    kandidat: KandidatState
    id_a: str
    id_b: str


class BatalBukanSamaOut(BaseModel):
    id_a: str
    id_b: str
    dibatalkan: bool


class PisahkanOut(BaseModel):
    id_kumkm: str
    versi: int
    ke: str = Field(description="the entity the records went to: the revived one or a new one")
    versi_ke: int
    dihidupkan: bool = Field(description="true: the split undid a merge and revived the retired id")
    submission_ids: list[uuid.UUID]


class DaftarItem(BaseModel):
    """One entity of the follow-up list (docs/pemutakhiran.md): what an enumerator needs to
    recognise the usaha, from its latest linked record; no personal data."""

    id_kumkm: str = Field(description="the entity's id: send it as the record's id_kumkm")
    versi: int = Field(description="the entity's versi: send it as the record's versi_dasar (ODK's baseVersion)")
    jenis: str = Field(description="umkm or koperasi")
    desa: str = Field(description="kode_wilayah of its latest record (a desa, or a kabupaten/kota for a record filed there)")
    kecamatan: str | None = None
    nama_usaha: str | None = Field(None, description="UMKM: the usaha's name")
    nama_koperasi: str | None = Field(None, description="koperasi: its name")
    nomor_badan_hukum: str | None = Field(None, description="koperasi: its badan hukum number")
    kbli: str | None = None
    skala_usaha: str | None = None
    sektor: str | None = None
    periode_terakhir: str = Field(description="the periode of its latest record")
    keadaan_terakhir: str | None = Field(
        None, description="what the latest follow-up found (aktif, tutup, pindah); null for a census record"
    )
    label: str = Field(description="the line the form shows: name, [tutup]/[pindah], (id_kumkm)")


class DaftarPage(Page[DaftarItem]):
    """A page of the entity list of a wilayah by id_kumkm. The answer carries an ETag: send it
    back as If-None-Match and an unchanged page answers 304 with no body."""

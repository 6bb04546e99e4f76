"""The partner look-up's request and answers (docs/mitra.md)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Cek(BaseModel):
    """One question: exactly one of `nib`, `nik_koperasi`, `nomor_badan_hukum`, or
    `nik_pemilik` with `nama_usaha`; and the purpose. Each field is bounded at 1,000 characters
    here; the look-up's own rules (app.mitra.rules) refuse past 200, as a recorded look-up."""

    model_config = ConfigDict(extra="forbid")

    tujuan: str | None = Field(None, max_length=1000, description="the purpose, one the key allows: kur, pembiayaan, bantuan, ...")
    nib: str | None = Field(None, max_length=1000, description="Nomor Induk Berusaha, 13 digits (spaces, dots, hyphens allowed)")
    nik_koperasi: str | None = Field(None, max_length=1000, description="Nomor Induk Koperasi, 16 digits")
    nomor_badan_hukum: str | None = Field(
        None, max_length=1000, description="a koperasi's badan hukum number, whole (e.g. 123/BH/XII/2010)"
    )
    nik_pemilik: str | None = Field(None, max_length=1000, description="the owner's NIK, 16 digits; only with nama_usaha")
    nama_usaha: str | None = Field(None, max_length=1000, description="the usaha's name, compared exactly after normalising")


class Jawaban(BaseModel):
    """Registered or not; if registered, what a partner may know of it. Never a name, NIK,
    address, phone or location."""

    terdaftar: bool
    tujuan: str
    id_kumkm: str | None = Field(None, description="the entity's national id (docs/registry.md)")
    jenis: Literal["umkm", "koperasi"] | None = None
    skala_usaha: str | None = Field(None, description="mikro, kecil, menengah or besar (UMKM; null for a koperasi)")
    sektor: str | None = Field(None, description="KBLI 2020 kategori (letter) of the usaha (UMKM)")
    kode_kabkota: str | None = None
    nama_kabkota: str | None = None
    status_verifikasi: Literal["masuk", "diterima", "ditolak"] | None = Field(None, description="the status of the entity's latest record")
    periode_terakhir: str | None = Field(None, description="the latest periode the entity has a record in")


class PemakaianHari(BaseModel):
    hari: dt.date = Field(description="the day (WIB)")
    identity_id: int = Field(description="the partner (key holder; the same across its rotated keys)")
    nama: str | None = Field(description="the partner's name (its newest key's)")
    tujuan: str = Field(description="the purpose; `-` for look-ups refused before naming a known one")
    terdaftar: int
    tidak_terdaftar: int
    ditolak: int
    jumlah: int


class AuditMitra(BaseModel):
    dari: dt.date
    sampai: dt.date
    items: list[PemakaianHari]

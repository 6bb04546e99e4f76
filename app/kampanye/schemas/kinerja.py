"""The enumerator table's answers (GET /api/v1/kampanye/enumerator, GET /api/v1/me/kinerja)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from app.core.timefmt import UtcTime

# The flags, by code (the rules: docs/kampanye.md, "Enumerators and quality").
Tanda = Literal["rekaman_beruntun", "nik_berulang", "tolak_tinggi", "lokasi_luar"]
# The table's orders: highest rejection rate first (the default), most records first, by id.
Urut = Literal["tingkat_tolak", "masuk", "enumerator_id"]


class KinerjaPersen(BaseModel):
    tingkat_tolak: str | None = Field(description="the rate as a reader sees it (`12,50%`), rounded from the exact fraction")
    tingkat_tolak_wilayah: str | None


class KinerjaRow(BaseModel):
    enumerator_id: str = Field(description="as the records carry it (the field team's numbering)")
    kode_kabkota: list[str] = Field(description="the kabupaten/kota its records lie in, inside the wilayah asked")
    masuk: int = Field(description="records sent: belum_diverifikasi + diterima + ditolak")
    belum_diverifikasi: int = Field(description="waiting for a decision (status masuk)")
    diterima: int
    ditolak: int
    tingkat_tolak: str | None = Field(
        description="ditolak / (diterima + ditolak) as an exact fraction rounded half-up to 8 places; null before any decision"
    )
    tingkat_tolak_wilayah: str | None = Field(
        description="what its rate would be at its kabupaten/kota's own rates (every enumerator's decisions there), "
        "weighted by its decided records in each: the rate `tolak_tinggi` compares with"
    )
    persen: KinerjaPersen
    alasan: dict[str, int] = Field(description="the records now ditolak by the reason of the decision that rejected them; every code")
    jeda_median_detik: int | None = Field(
        description="median time from capture (captured_at) to arrival (dibuat_pada), whole seconds rounded down; "
        "the lower middle record when their number is even"
    )
    hari_aktif: int = Field(description="distinct days with a capture, each record's day in its provinsi's zone (WIB, WITA, WIT)")
    hari_terakhir: dt.date | None = Field(description="the last of those days")
    terakhir_terlihat: UtcTime | None = Field(description="the latest arrival of one of its records")
    rekaman_terpadat: int = Field(description="the most of its records captured within any `menit` minutes (aturan.rekaman_beruntun)")
    nik_terbanyak: int = Field(description="the most of its records with one and the same NIK pemilik")
    lokasi_di_luar: int | None = Field(
        None,
        description="its records whose lokasi lies outside their kabupaten/kota's bounding box (by more than "
        "aturan.lokasi_luar.margin_derajat), counted where a box is loaded; null when none of its kabupaten/kota has one",
    )
    tanda: list[Tanda] = Field(description="the flags raised, by the rules in `aturan`")


class AturanBeruntun(BaseModel):
    minimal: int = Field(description="records ...")
    menit: int = Field(description="... captured within this many minutes")


class AturanNik(BaseModel):
    minimal: int = Field(description="records of one enumerator with the same NIK pemilik")


class AturanTolak(BaseModel):
    kali: int = Field(description="its rate above this many times its kabupaten/kota's")
    minimal_diputus: int = Field(description="with at least this many records decided")
    minimal_ditolak: int = Field(description="and at least this many ditolak")


class AturanLokasi(BaseModel):
    minimal: int = Field(description="records of one enumerator outside their kabupaten/kota's bounding box")
    margin_derajat: float = Field(description="... by more than this many degrees (0.01: about 1 km)")


class Aturan(BaseModel):
    rekaman_beruntun: AturanBeruntun
    nik_berulang: AturanNik
    tolak_tinggi: AturanTolak
    lokasi_luar: AturanLokasi


class KinerjaWilayah(BaseModel):
    kode: str
    nama: str
    tingkat: Literal["provinsi", "kabkota"]


class KinerjaJumlah(BaseModel):
    enumerator: int
    masuk: int
    belum_diverifikasi: int
    diterima: int
    ditolak: int
    tingkat_tolak: str | None
    persen_tingkat_tolak: str | None
    tolak_tinggi: int = Field(description="enumerators flagged tolak_tinggi (known for all; the other two flags only per page)")


class KinerjaOut(BaseModel):
    periode: str
    wilayah: KinerjaWilayah | None = Field(description="the wilayah asked; null on /me/kinerja without one")
    urut: Urut
    aturan: Aturan
    jumlah: KinerjaJumlah = Field(description="every enumerator in the wilayah, not only this page's")
    items: list[KinerjaRow]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next page; null at the end")

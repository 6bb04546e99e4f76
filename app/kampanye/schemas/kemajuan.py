"""Models of the progress and backlog answers (documentation; the answers are built as plain
documents and served without a second validation, as every report is)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

Menurut = Literal["tangkap", "terima"]
TabelKemajuan = Literal["harian", "anak"]

_DESIMAL = "records per day, an exact fraction of counts rounded half-up to 2 decimals, as a string: `1234.57`"


class WilayahRef(BaseModel):
    kode: str
    nama: str
    level: int


class TargetBerlaku(BaseModel):
    target: int | None = Field(description="in force on `sampai`; null when none")
    target_dari: Literal["anak", "wilayah"] | None = Field(
        description="`anak`: the sum of the child wilayah's targets (as capaian's Jumlah row); `wilayah`: the area's own"
    )
    batas_waktu: dt.date | None = Field(description="the deadline in force; null when none was set")
    batas_waktu_dari: Literal["anak", "wilayah"] | None


class Kumulatif(BaseModel):
    masuk: int = Field(description="every record up to `sampai`, whatever its state: belum_diverifikasi + diterima + ditolak")
    belum_diverifikasi: int
    diterima: int
    ditolak: int
    masuk_vs_target: str | None = Field(description="exact ratio, 8 decimals; null without a target")
    diterima_vs_target: str | None
    persen: dict[str, str | None]


class Proyeksi(BaseModel):
    status: Literal["tercapai", "tepat_waktu", "terlambat", "tidak_diketahui"]
    tanggal: dt.date | None = Field(
        description="the day the target is reached at the 7-day pace (tercapai: the day it was reached); null when unknown"
    )
    alasan: Literal["tanpa_target", "tanpa_batas_waktu", "tanpa_laju", "di_luar_cakrawala"] | None = Field(description="why it is unknown")


class Laju(BaseModel):
    laju_7_hari: str = Field(description=_DESIMAL + "; the 7 days ending at `akhir_laju`")
    laju_14_hari: str = Field(description=_DESIMAL + "; the 14 days ending at `akhir_laju`")
    laju_dibutuhkan: str | None = Field(
        description="the pace needed over the days after `akhir_laju` (today included while it is not over) to reach the "
        "target by the end of batas_waktu; `0.00` once reached; null without target or deadline, or once the deadline day is over"
    )
    rasio_laju: str | None = Field(description="laju_7_hari / laju_dibutuhkan, exact, 8 decimals: below 1 is behind pace")
    selisih_laju: str | None = Field(description="laju_7_hari - laju_dibutuhkan: negative is behind pace")
    sisa_target: int | None
    sisa_hari: int | None = Field(description="days after `akhir_laju` up to and including batas_waktu: today counts while it is not over")
    lewat_batas_waktu: bool = Field(description="the deadline day is over and the target is not reached")


class Hari(BaseModel):
    hari: dt.date = Field(description="the local day in the provinsi's zone (docs/kampanye.md, days and zones)")
    masuk: int = Field(description="records of the day, whatever their state now")
    diterima: int
    ditolak: int
    belum_diverifikasi: int
    kumulatif_masuk: int = Field(description="since the periode's first record, not since `dari`")
    kumulatif_diterima: int
    kumulatif_ditolak: int
    target: int | None = Field(description="the target in force that day (the chart's target line)")


class Anak(Laju):
    kode: str
    nama: str
    zona: Literal["WIB", "WITA", "WIT"]
    target: int | None
    batas_waktu: dt.date | None
    masuk: int
    belum_diverifikasi: int
    diterima: int
    ditolak: int
    masuk_vs_target: str | None
    persen_masuk_vs_target: str | None
    proyeksi: Proyeksi


class KemajuanOut(BaseModel):
    periode: str
    wilayah: WilayahRef | None = Field(description="null: the nation")
    zona: Literal["WIB", "WITA", "WIT"] | None = Field(description="the area's zone; null for the nation (each provinsi its own)")
    menurut: Menurut
    dari: dt.date
    sampai: dt.date
    akhir_laju: dt.date = Field(description="the last day of the pace windows: `sampai`, or yesterday when `sampai` is today")
    target: TargetBerlaku
    kumulatif: Kumulatif
    laju: Laju
    proyeksi: Proyeksi
    harian: list[Hari] = Field(description="every day from `dari` to `sampai`, zeros included")
    anak: list[Anak] = Field(
        description="the child wilayah (provinsi of the nation, kabupaten/kota of a provinsi) with a target or records, "
        "most behind their pace first; empty for a kabupaten/kota"
    )


class UmurAntrian(BaseModel):
    belum_diverifikasi: int = Field(description="records waiting in masuk")
    median_detik: int | None = Field(
        description="the median wait in whole seconds (percentile_disc: a real record's); null when none waits"
    )
    p90_detik: int | None = Field(description="the 90th percentile of the wait")
    terlama_detik: int | None = Field(description="the oldest wait")
    median_hari: str | None = Field(description="the same in days, 2 decimals: `1.52`")
    p90_hari: str | None
    terlama_hari: str | None
    terlama_sejak: dt.datetime | None = Field(description="when the oldest waiting record entered masuk")
    lewat_ambang: int = Field(description="records that have waited longer than ambang_hari days")


class UmurKabkota(UmurAntrian):
    kode: str
    nama: str
    zona: Literal["WIB", "WITA", "WIT"]


class AntrianUmurOut(BaseModel):
    periode: str
    wilayah: WilayahRef | None = Field(description="null: the nation")
    pada: dt.datetime = Field(description="the instant the waits are measured to")
    ambang_hari: int
    rows: list[UmurKabkota] = Field(description="kabupaten/kota with records waiting; most over the threshold first, then the oldest")
    jumlah: UmurAntrian = Field(description="the whole area (its own median and percentile, not an average of the rows')")

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from app.core.timefmt import UtcTime

TINGKAT = ("provinsi", "kabkota", "kecamatan", "desa")
Tingkat = Literal["provinsi", "kabkota", "kecamatan", "desa"]


class TargetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: Annotated[StrictInt, Field(ge=0, le=1_000_000_000, description="records to collect")]
    dasar_hukum: Annotated[str, Field(min_length=1, max_length=200, examples=["Kepdep 63/2022"])]
    berlaku_mulai: dt.date = Field(description="the date this value takes effect (ISO 8601)")
    batas_waktu: dt.date | None = Field(
        None,
        description="the round's deadline for this target (ISO 8601), part of the revision like the amount: "
        "same dasar_hukum and berlaku_mulai; a later revision may change it. Omitted: no deadline (progress "
        "shows pace, the projection is marked unknown). Not before berlaku_mulai.",
    )

    @field_validator("dasar_hukum")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("dasar_hukum wajib menyebut dasar hukumnya, mis. Kepdep 63/2022")
        return v


class TargetRevisi(BaseModel):
    revisi: int = Field(description="1 for the first value ever set, counting every revision")
    target: int
    dasar_hukum: str
    berlaku_mulai: dt.date
    batas_waktu: dt.date | None = Field(description="the round's deadline in this revision; null: none set")
    dibuat_oleh: str
    dibuat_pada: UtcTime


class TargetOut(BaseModel):
    periode: str
    kode_wilayah: str
    nama: str
    as_of: dt.date
    berlaku: TargetRevisi | None = Field(description="the revision in force on as_of; null before the first")
    riwayat: list[TargetRevisi] = Field(description="every revision, by berlaku_mulai then entry order")


class WilayahRef(BaseModel):
    kode: str
    nama: str
    level: int


class PeriodeData(BaseModel):
    periode: str
    jumlah_data: int = Field(description="records of this periode inside the key's wilayah, whatever their status (capaian's `masuk`)")


class PeriodeList(BaseModel):
    wilayah: WilayahRef | None = Field(description="the key's wilayah; null: the whole nation")
    items: list[PeriodeData] = Field(description="every periode the registry knows, oldest first, with or without data")
    terbaru_dengan_data: str | None = Field(
        description="the newest periode with records inside the key's wilayah, null when there is none: "
        "the /dashboard and /verifikasi pages open on it"
    )


class CapaianPersen(BaseModel):
    masuk_vs_target: str | None
    diterima_vs_target: str | None
    diterima_vs_masuk: str | None


class CapaianRow(BaseModel):
    kode: str | None = Field(description="null on the total row and on records without a wilayah at this level")
    nama: str
    target: int | None = Field(description="in force on as_of; null when none is set")
    masuk: int = Field(description="all records: belum_diverifikasi + diterima + ditolak")
    belum_diverifikasi: int
    diterima: int
    ditolak: int
    total_terverifikasi: int = Field(description="diterima + ditolak")
    masuk_vs_target: str | None = Field(description="masuk / target, decimal string, 8 places, never capped")
    diterima_vs_target: str | None
    diterima_vs_masuk: str | None
    persen: CapaianPersen = Field(description="the same ratios for display: Indonesian format, 2 decimals")


class CapaianOut(BaseModel):
    periode: str
    wilayah: WilayahRef | None = Field(description="null: the whole nation")
    tingkat: Tingkat = Field(description="the level of the rows")
    as_of: dt.date
    target_wilayah: TargetRevisi | None = Field(description="the target set on `wilayah` itself and in force on as_of")
    rows: list[CapaianRow] = Field(
        description="every wilayah of the row level (tingkat) inside `wilayah`, in code order, zeros "
        "where nothing exists yet; then a row with kode null for records "
        "without a wilayah at that level, if any"
    )
    jumlah: CapaianRow = Field(
        description="counts over all rows; target: the sum of the rows' targets in force, or the wilayah's own target when no row has one"
    )
    target_jumlah_dari: Literal["baris", "wilayah"] | None = Field(
        description="where the Jumlah target comes from: `baris` (sum of the rows' targets), `wilayah` "
        "(target_wilayah, as no row has one), null (no target)"
    )
    rows_tanpa_target: int = Field(description="rows with no target in force")
    target_sebagian: bool = Field(
        description="true when the Jumlah ratios set all records against a partial "
        "target: the rows' targets are summed and a row without one has "
        "records"
    )

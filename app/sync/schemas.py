"""Shapes of the NDJSON lines the sync endpoints stream. FastAPI cannot validate a stream,
so these models document the lines in OpenAPI (and tests check real lines against them)."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, Field

from app.core.timefmt import UtcTime


class SyncRecord(BaseModel):
    """A record as the walidata stores it: its current state and the content of its current
    version. One line of the snapshot; the `record` of a change line."""

    submission_id: uuid.UUID
    periode: str
    jenis: Literal["umkm", "koperasi"]
    kode_wilayah: str
    kode_provinsi: str
    kode_kabkota: str
    status: Literal["masuk", "diterima", "ditolak"]
    version: int
    enumerator_id: str
    captured_at: UtcTime
    skala_usaha: str | None = None
    sektor: str | None = None
    dibuat_oleh: str
    dibuat_pada: UtcTime
    diperbarui_pada: UtcTime
    id_kumkm: str | None = Field(
        description="the entity (Basis Data Tunggal) the record is linked to; null until "
        "linked (a record is linked shortly after it is accepted) and after "
        "its link is removed"
    )
    pii_masked: bool = Field(description="true when NIK, nama pemilik, telepon and alamat are masked")
    data: dict = Field(description="the content of the current version, as it was submitted")


class ChangeLine(BaseModel):
    """One committed change, in feed order."""

    cursor: str = Field(description="opaque; pass as `after` to resume right after this change")
    jenis_perubahan: Literal["dibuat", "dikoreksi", "status", "ditautkan", "dilepas"] = Field(
        description="dibuat, dikoreksi, status (a decision); ditautkan: the record was linked to an entity or "
        "moved to another (merge, split): `record.id_kumkm` says which; dilepas: its link was removed"
    )
    submission_id: uuid.UUID
    version: int = Field(description="the record's version this change made")
    status: Literal["masuk", "diterima", "ditolak"] = Field(description="the record's state after this change")
    periode: str
    kode_provinsi: str
    kode_kabkota: str
    pada: UtcTime = Field(
        description="when the change was made: the record's dibuat_pada for `dibuat`, its diperbarui_pada as of this change otherwise"
    )
    changed_at: UtcTime = Field(
        deprecated=True, description="the same as pada; the old name, in every line until release 0.2.0, which removes it"
    )
    record: SyncRecord | None = Field(
        description="the record's full current content (it may be newer than this change); "
        "null when the record has since left the caller's wilayah"
    )


class EndLine(BaseModel):
    """The last line of every complete NDJSON stream. A stream without it was cut short:
    discard what came after the last cursor you stored and ask again."""

    end: Literal[True]
    cursor: str = Field(description="resume from here")
    count: int = Field(description="lines before this one")
    more: bool | None = Field(None, description="feed only: the limit was reached, ask again at once")


class Entitas(BaseModel):
    """An entity of the Basis Data Tunggal (an usaha or a koperasi) as the walidata keeps it:
    one line of the entity snapshot; the `entitas` of an entity feed line."""

    id_kumkm: str = Field(description="the national id, with its check digit (docs/registry.md)")
    jenis: Literal["umkm", "koperasi"]
    kode_provinsi: str
    kode_kabkota: str = Field(description="the kabupaten/kota of its latest linked record")
    versi: int = Field(description="bumped by every change of the entity")
    digabung_ke: str | None = Field(description="merged into this entity (the id stays valid); null while live")
    dibuat_pada: UtcTime
    diperbarui_pada: UtcTime
    submission_ids: list[uuid.UUID] = Field(
        description="the records linked to it, oldest periode first; empty once merged (its records moved)"
    )


class EntitasLine(BaseModel):
    """One event of an entity (kumkm_peristiwa), in feed order."""

    cursor: str = Field(description="opaque; pass as `after` to resume right after this event")
    id_kumkm: str
    jenis: Literal["umkm", "koperasi"] | None
    aksi: Literal["dibuat", "ditautkan", "dilepas", "digabung", "dipisah", "bukan_sama", "bukan_sama_dibatalkan", "profil"] = Field(
        description="what happened: created, a record linked, a record's link removed, "
        "merged, split, said not the same as another (and undone), profile"
    )
    pada: UtcTime = Field(description="when it happened")
    oleh: str = Field(description="'sistem' for the linker's rules, else the key that acted")
    alasan: str | None = Field(description="the verifikator's note")
    detail: dict = Field(description="what the event did: the record (submission_id, periode, dasar), the records moved, the other entity")
    entitas: Entitas | None = Field(description="the entity's full current state (it may be newer than the event)")

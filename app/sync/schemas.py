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
    pii_masked: bool = Field(description="true when NIK, nama pemilik, telepon and alamat are masked")
    data: dict = Field(description="the content of the current version, as it was submitted")


class ChangeLine(BaseModel):
    """One committed change, in feed order."""
    cursor: str = Field(description="opaque; pass as `after` to resume right after this change")
    jenis_perubahan: Literal["dibuat", "dikoreksi", "status"]
    submission_id: uuid.UUID
    version: int = Field(description="the record's version this change made")
    status: Literal["masuk", "diterima", "ditolak"] = Field(description="the record's state after this change")
    periode: str
    kode_provinsi: str
    kode_kabkota: str
    pada: UtcTime = Field(description="when the change was made: the record's dibuat_pada for `dibuat`, "
                                      "its diperbarui_pada as of this change otherwise")
    changed_at: UtcTime = Field(deprecated=True, description="the same as pada; the old name, in every "
                                                              "line until release 0.2.0, which removes it")
    record: SyncRecord | None = Field(
        description="the record's full current content (it may be newer than this change); "
                    "null when the record has since left the caller's wilayah")


class EndLine(BaseModel):
    """The last line of every complete NDJSON stream. A stream without it was cut short:
    discard what came after the last cursor you stored and ask again."""
    end: Literal[True]
    cursor: str = Field(description="resume from here")
    count: int = Field(description="lines before this one")
    more: bool | None = Field(None, description="feed only: the limit was reached, ask again at once")

"""Verification bodies and answers. Structural rules live here; the rules that tie fields
together (alasan for ditolak, catatan for lainnya and for reversals) are checked by the
service so that each broken rule names its own field."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import AfterValidator, AliasChoices, BaseModel, ConfigDict, Field, StrictInt

from app.core.pagination import Page
from app.core.timefmt import UtcTime

# The fixed list of reasons a verifikator may give for ditolak. The codes are the contract;
# the descriptions are what a dashboard shows next to them.
ALASAN_KODE: dict[str, str] = {
    "data_tidak_lengkap": "Data tidak lengkap: isian wajib kosong atau tidak terbaca",
    "data_tidak_valid": "Data tidak valid: isian tidak sesuai kenyataan di lapangan",
    "duplikat": "Duplikat: usaha atau koperasi yang sama sudah tercatat",
    "di_luar_wilayah": "Di luar wilayah: lokasi usaha tidak berada di wilayah yang dicatat",
    "bukan_kumkm": "Bukan KUMKM: usaha besar, atau di luar cakupan pendataan",
    "lainnya": "Lainnya: catatan wajib diisi",
}
AlasanKode = Literal["data_tidak_lengkap", "data_tidak_valid", "duplikat", "di_luar_wilayah", "bukan_kumkm", "lainnya"]
assert set(AlasanKode.__args__) == set(ALASAN_KODE)

Status = Literal["masuk", "diterima", "ditolak"]


def _no_nul(v: str) -> str:
    # PostgreSQL text cannot hold NUL; refuse it here rather than fail in the database.
    if "\x00" in v:
        raise ValueError("tidak boleh memuat karakter NUL (U+0000)")
    return v


Catatan = Annotated[str, Field(min_length=1, max_length=1000), AfterValidator(_no_nul)]


class Keputusan(BaseModel):
    """One decision on one record, against the state the verifikator saw."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)

    status: Literal["diterima", "ditolak"] = Field(description="the decision")
    version: Annotated[StrictInt, Field(ge=1, le=2_147_483_647, description="the record version that was judged")]
    dari: Status = Field(
        "masuk",
        description="the state the verifikator saw. `masuk` for a first decision; `diterima` or "
        "`ditolak` to reverse an earlier decision (needs `catatan`)",
    )
    alasan_kode: AlasanKode | None = Field(
        None,
        validation_alias=AliasChoices("alasan_kode", "alasan"),
        description="required for ditolak, not allowed for diterima; `alasan` is accepted as "
        "its synonym. Codes: " + "; ".join(f"`{k}`: {v}" for k, v in ALASAN_KODE.items()),
    )
    catatan: Catatan | None = Field(None, description="free text; required with alasan_kode `lainnya` and for reversals")


class KeputusanItem(Keputusan):
    submission_id: uuid.UUID


class KeputusanOut(BaseModel):
    submission_id: uuid.UUID
    status: Status
    version: int
    dari: Status
    alasan_kode: str | None = None
    catatan: str | None = None
    diputuskan_oleh: str
    diputuskan_pada: UtcTime
    replay: bool = Field(False, description="true when the same decider had already made this exact decision; nothing was changed")


class ItemError(BaseModel):
    field: str
    message: str
    type: str | None = None


class BatchKeputusanOutcome(BaseModel):
    index: int
    submission_id: str | None = None
    outcome: Literal["decided", "duplicate", "rejected"]
    status: int = Field(description="what a single decision would have answered: 200, 403, 404, 409 or 422")
    errors: list[ItemError] | None = None
    current_status: Status | None = Field(None, description="on 409: the record's state now")
    current_version: int | None = Field(None, description="on 409: the record's version now")


class BatchKeputusanResult(BaseModel):
    decided: int
    duplicate: int
    rejected: int
    items: list[BatchKeputusanOutcome]


class RiwayatEntry(BaseModel):
    aksi: Literal["dibuat", "diverifikasi", "dikoreksi"]
    dari: Status | None = None
    ke: Status
    version: int
    oleh: str
    oleh_role: str | None = None
    pada: UtcTime
    alasan_kode: str | None = None
    catatan: str | None = None


class Riwayat(BaseModel):
    submission_id: uuid.UUID
    items: list[RiwayatEntry] = Field(description="every transition, oldest first")


class VersiInfo(BaseModel):
    version: int
    dibuat_oleh: str
    dibuat_pada: UtcTime


class VersiList(BaseModel):
    submission_id: uuid.UUID
    current_version: int
    items: list[VersiInfo]


class VersiOut(BaseModel):
    submission_id: uuid.UUID
    version: int
    current: bool = Field(description="true when this is the record's current version")
    pii_masked: bool
    data: dict = Field(description="the record's content as stored at this version")
    dibuat_oleh: str
    dibuat_pada: UtcTime


# ---------------------------------------------------------------- the verifikator's queue


class RekapKabkota(BaseModel):
    """A kabupaten/kota's records by status, from the status counters (never a recount). The
    count of records waiting is `belum_diverifikasi`, as in capaian pendataan, where `masuk`
    counts every record: one word, one meaning."""

    kode_kabkota: str
    nama: str
    belum_diverifikasi: int = Field(description="waiting for a decision: the records in status masuk")
    diterima: int
    ditolak: int
    total: int = Field(description="every record: belum_diverifikasi + diterima + ditolak (capaian's `masuk`)")
    masuk: int = Field(
        deprecated=True,
        description="the same as belum_diverifikasi; the old name, until release "
        "0.2.0 (a count called `masuk` means every record elsewhere)",
    )


class RekapVerifikasi(BaseModel):
    periode: str
    items: list[RekapKabkota] = Field(description="the kabupaten/kota asked for, or every one inside the key's wilayah, in code order")


class SisiPemutakhiran(BaseModel):
    """One side of a follow-up visit: what the record says, or the entity as it is now (its
    latest linked record). No personal data on either side."""

    submission_id: uuid.UUID | None = Field(None, description="entity side: its latest linked record")
    nama: str | None = None
    skala_usaha: str | None = None
    kode_wilayah: str | None = None
    nama_wilayah: str | None = None
    periode: str | None = None
    keadaan_usaha: str | None = Field(None, description="aktif, tutup or pindah; null for a census record")


class Pemutakhiran(BaseModel):
    """A follow-up visit's entity and its conflict (docs/pemutakhiran.md)."""

    id_kumkm: str = Field(description="the entity the record updates (the live one, past merges)")
    versi_dasar: int | None = Field(None, description="the entity's versi in the list the app used (ODK baseVersion)")
    versi_entitas: int = Field(description="the entity's versi when the record arrived")
    versi_sekarang: int | None = Field(None, description="the entity's versi now")
    konflik: Literal["versi_lama", "bersamaan"] | None = Field(
        None,
        description="versi_lama: the entity changed after the app's list was made; bersamaan: another follow-up of the "
        "entity from the same version came first. Settled by the decision on this record",
    )
    catatan: SisiPemutakhiran = Field(description="the record's side")
    entitas: SisiPemutakhiran | None = Field(None, description="the entity's current side; null while it has no linked record")


class AntrianItem(BaseModel):
    submission_id: uuid.UUID
    status: Status
    version: int = Field(description="the version to send with a decision")
    jenis: Literal["umkm", "koperasi"]
    nama: str | None = Field(None, description="nama usaha (UMKM) or nama koperasi")
    kode_wilayah: str
    nama_wilayah: str | None = None
    enumerator_id: str
    captured_at: UtcTime
    skala_usaha: str | None = None
    kemungkinan_duplikat: bool = Field(
        description="another record has the same duplicate key (same NIK pemilik and nama usaha in this kabupaten/kota and periode)"
    )
    diperbarui_pada: UtcTime
    pemutakhiran: Pemutakhiran | None = Field(
        None, description="a follow-up visit (a record naming its id_kumkm): its entity, versions and conflict; null for a census record"
    )


class AntrianPage(Page[AntrianItem]):
    periode: str
    status: Status
    jumlah: RekapKabkota = Field(description="the kabupaten/kota's counts per status (all records, not only those matching the filters)")
    items: list[AntrianItem] = Field(description="oldest capture first (captured_at, then submission_id)")
    next_cursor: str | None = Field(
        None,
        description="pass as `cursor` for the next page; null at the end. "
        "A page may hold fewer than `limit` items (even none) "
        "and still have a next_cursor when a rare filter "
        "needed more rows than one request walks",
    )
    dipindai: int = Field(description="queue rows this request walked to find the items")

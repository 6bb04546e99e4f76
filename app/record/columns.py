"""The record's shape where it is stored: the columns of `submissions` taken from a record's
content (what aggregates read), and the walidata line every writer of a record keeps in
`sync_records` in the same statement. Ingest (app.submissions), decisions and corrections
(app.verification) and the feed (app.sync) all build their SQL from these, so a column
added here reaches every one of them.

Adding a field to the record touches: the content model (app/record/model.py), and,
only when aggregates need it as a column, ROW_COLUMNS here with a migration adding the
column; the walidata line carries the whole content and needs no change."""

from __future__ import annotations

# Columns extracted from the content for aggregates; each is a key of the row dicts.
ROW_COLUMNS = (
    ("submission_id", "uuid"),
    ("periode", "text"),
    ("jenis", "text"),
    ("kode_wilayah", "text"),
    ("kode_provinsi", "text"),
    ("kode_kabkota", "text"),
    ("kode_kecamatan", "text"),
    ("enumerator_id", "text"),
    ("captured_at", "timestamptz"),
    ("content_hash", "text"),
    ("duplikat_kunci", "text"),
    # the NIK pemilik as a pseudonym, for the enumerator flag "same NIK on many records"
    # (app.record.rules.nik_kunci; migration 0017)
    ("nik_kunci", "text"),
    ("skala_usaha", "text"),
    ("kbli", "text"),
    ("sektor", "text"),
    ("status_tempat", "text"),
    ("modal_usaha", "bigint"),
    ("hasil_penjualan", "bigint"),
    ("aset", "bigint"),
    ("tenaga_kerja_l", "integer"),
    ("tenaga_kerja_p", "integer"),
    ("punya_nib", "boolean"),
    ("platform_digital", "boolean"),
    ("izin_usaha", "boolean"),
    ("jenis_koperasi", "text"),
    ("kewenangan", "text"),
    ("aktif", "boolean"),
    ("tahun_rat_terakhir", "integer"),
    ("punya_nik_koperasi", "boolean"),
    ("anggota_l", "integer"),
    ("anggota_p", "integer"),
    ("manajer_l", "integer"),
    ("manajer_p", "integer"),
    ("karyawan_l", "integer"),
    ("karyawan_p", "integer"),
    ("modal_sendiri", "bigint"),
    ("modal_luar", "bigint"),
    ("volume_usaha", "bigint"),
    ("shu", "bigint"),
    ("kesehatan", "text"),
    # a follow-up visit's finding (migration 0013; docs/pemutakhiran.md): NULL for a census record
    ("keadaan_usaha", "text"),
    # where it was captured (migration 0018): the map's points and the enumerators' lokasi flag
    ("lokasi_lat", "double precision"),
    ("lokasi_lon", "double precision"),
)


# The arguments of sync_record_line() for a relation `rel` whose columns are named as in
# `submissions`, the current content `data` and the record's entity `id_kumkm` (migration 0012:
# NULL for a new record, `r.id_kumkm`, the id its stored line already carries, for a rewrite).
# The writers of records (ingest, decisions, corrections) use this to keep `sync_records` in the
# same statement as the record; the registry's links change the id through
# kumkm_tautan_berubah() (docs/sync.md).
LINE_COLUMNS = (
    "submission_id",
    "periode",
    "jenis",
    "kode_wilayah",
    "kode_provinsi",
    "kode_kabkota",
    "status",
    "version",
    "enumerator_id",
    "captured_at",
    "skala_usaha",
    "sektor",
    "dibuat_oleh",
    "dibuat_pada",
    "diperbarui_pada",
)


def record_line(rel: str, data: str, id_kumkm: str = "NULL") -> str:
    return f"sync_record_line({', '.join(f'{rel}.{c}' for c in LINE_COLUMNS)}, {data}, {id_kumkm})"

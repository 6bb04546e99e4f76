"""All SQL of the indicators domain.

Registry-computed realisasi is built from a fixed vocabulary of aggregate fragments
(`UKURAN`), chosen by name from the formula table; the only values that reach the statement
come through bind parameters, and the column aliases and parameter names are generated here.
Nothing a client sends is ever placed into SQL text."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.sql.elements import TextClause

# ---------------------------------------------------------------------------------------------
# Registry vocabulary: counts and sums over `diterima` records of one periode and wilayah.


@dataclass(frozen=True)
class Ukuran:
    nama: str
    keterangan: str
    satuan: str                 # unit | rupiah | orang
    sql: str                    # aggregate over alias `s`; {skala} / {rat_selisih_tahun} are binds
    parameter: tuple[str, ...] = ()

    @property
    def jenis(self) -> str | None:
        """The record kind the term reads, when only one (lets a query use the koperasi index)."""
        return "koperasi" if _KOP in self.sql else "umkm" if "s.jenis = 'umkm'" in self.sql else None

    @property
    def hitungan(self) -> bool:
        """Counts are 0 over no records; sums over no records are unknown (NULL)."""
        return self.sql.startswith("count(")


_KOP = "s.jenis = 'koperasi'"
_UMKM = "s.jenis = 'umkm' AND s.skala_usaha = ANY({skala})"

UKURAN: dict[str, Ukuran] = {u.nama: u for u in (
    Ukuran("diterima", "records diterima (UMKM and koperasi)", "unit", "count(*)"),
    Ukuran("koperasi", "koperasi", "unit", f"count(*) FILTER (WHERE {_KOP})"),
    Ukuran("koperasi_aktif", "koperasi aktif", "unit", f"count(*) FILTER (WHERE {_KOP} AND s.aktif)"),
    Ukuran("koperasi_tidak_aktif", "koperasi tidak aktif", "unit",
           f"count(*) FILTER (WHERE {_KOP} AND s.aktif IS FALSE)"),
    Ukuran("koperasi_rat", "koperasi whose last RAT was held in the periode's year (+ rat_selisih_tahun) "
                           "or later", "unit",
           f"count(*) FILTER (WHERE {_KOP} AND s.tahun_rat_terakhir >= "
           "CAST(s.periode AS integer) + {rat_selisih_tahun})", ("rat_selisih_tahun",)),
    Ukuran("koperasi_nik", "koperasi with a Nomor Induk Koperasi", "unit",
           f"count(*) FILTER (WHERE {_KOP} AND s.punya_nik_koperasi)"),
    Ukuran("koperasi_anggota", "anggota koperasi (L + P)", "orang",
           f"sum(COALESCE(s.anggota_l, 0) + COALESCE(s.anggota_p, 0)) FILTER (WHERE {_KOP})"),
    Ukuran("koperasi_modal_sendiri", "modal sendiri koperasi", "rupiah",
           f"sum(s.modal_sendiri) FILTER (WHERE {_KOP})"),
    Ukuran("koperasi_modal_luar", "modal luar koperasi", "rupiah", f"sum(s.modal_luar) FILTER (WHERE {_KOP})"),
    Ukuran("koperasi_modal", "modal koperasi (sendiri + luar)", "rupiah",
           f"sum(COALESCE(s.modal_sendiri, 0) + COALESCE(s.modal_luar, 0)) FILTER (WHERE {_KOP})"),
    Ukuran("koperasi_volume_usaha", "volume usaha koperasi", "rupiah",
           f"sum(s.volume_usaha) FILTER (WHERE {_KOP})"),
    Ukuran("koperasi_shu", "SHU koperasi", "rupiah", f"sum(s.shu) FILTER (WHERE {_KOP})"),
    Ukuran("umkm", "UMKM of the chosen skala", "unit", f"count(*) FILTER (WHERE {_UMKM})", ("skala",)),
    Ukuran("umkm_nib", "UMKM of the chosen skala with an NIB", "unit",
           f"count(*) FILTER (WHERE {_UMKM} AND s.punya_nib)", ("skala",)),
    Ukuran("umkm_digital", "UMKM of the chosen skala using a digital platform", "unit",
           f"count(*) FILTER (WHERE {_UMKM} AND s.platform_digital)", ("skala",)),
    Ukuran("umkm_izin_usaha", "UMKM of the chosen skala with an izin usaha", "unit",
           f"count(*) FILTER (WHERE {_UMKM} AND s.izin_usaha)", ("skala",)),
    Ukuran("umkm_tenaga_kerja", "tenaga kerja UMKM (L + P)", "orang",
           f"sum(COALESCE(s.tenaga_kerja_l, 0) + COALESCE(s.tenaga_kerja_p, 0)) FILTER (WHERE {_UMKM})",
           ("skala",)),
    Ukuran("umkm_modal", "modal usaha UMKM", "rupiah", f"sum(s.modal_usaha) FILTER (WHERE {_UMKM})",
           ("skala",)),
    Ukuran("umkm_omzet", "hasil penjualan tahunan UMKM", "rupiah",
           f"sum(s.hasil_penjualan) FILTER (WHERE {_UMKM})", ("skala",)),
)}

# Not an aggregate of records: the pendataan target in force (target_pendataan), per periode.
TARGET_PENDATAAN = "target_pendataan"

_PARAM_CAST = {"skala": "text[]", "rat_selisih_tahun": "integer"}

# Fixed text per record kind; chosen when every term of a statement reads the same kind.
_JENIS_FILTER = {None: "", "koperasi": "AND s.jenis = 'koperasi'", "umkm": "AND s.jenis = 'umkm'"}

_WILAYAH_FILTER = {
    "nasional": "",
    "provinsi": "AND s.kode_provinsi = :wilayah",
    "kabkota": "AND s.kode_kabkota = :wilayah",
}


def registry_statement(level: str, kolom: list[tuple[str, dict]]) -> tuple[TextClause, dict]:
    """One statement computing every requested (ukuran, parameters) per periode.
    Returns the statement and the bind values for the parameters; the caller adds
    `periodes` (list of text) and `wilayah`. Result columns are `periode, k0, k1, ...`."""
    cols, binds = [], {}
    jenis = {UKURAN[nama].jenis for nama, _ in kolom}
    for i, (nama, params) in enumerate(kolom):
        u = UKURAN[nama]  # KeyError is a programming error: names are validated on definition
        names = {}
        for p in u.parameter:
            bind = f"k{i}_{p}"
            names[p] = f"CAST(:{bind} AS {_PARAM_CAST[p]})"
            binds[bind] = params[p]
        cols.append(f"{u.sql.format(**names)} AS k{i}")
    sql = (
        f"SELECT s.periode, {', '.join(cols) if cols else 'count(*) AS k_'} FROM submissions s "
        "WHERE s.status = 'diterima' AND s.periode = ANY(CAST(:periodes AS text[])) "
        f"{_WILAYAH_FILTER[level]} {_JENIS_FILTER[jenis.pop() if len(jenis) == 1 else None]} "
        "GROUP BY s.periode"
    )
    return text(sql), binds


TARGET_PENDATAAN_IN_FORCE = text(
    """
    SELECT DISTINCT ON (periode) periode, target FROM target_pendataan
    WHERE kode_wilayah = :wilayah AND periode = ANY(CAST(:periodes AS text[]))
      AND berlaku_mulai <= :as_of
    ORDER BY periode, berlaku_mulai DESC, id DESC
    """
)

# ---------------------------------------------------------------------------------------------
# Tujuan and sasaran

TUJUAN_INSERT = text(
    """
    INSERT INTO tujuan (pemilik, kode, nama, dibuat_oleh) VALUES (:pemilik, :kode, :nama, :oleh)
    ON CONFLICT (pemilik, kode) DO NOTHING
    RETURNING id, pemilik, kode, nama, dibuat_pada, diperbarui_pada, diperbarui_pada AS diubah_pada
    """
)
TUJUAN_GET = text("SELECT id, pemilik, kode, nama, dibuat_pada, diperbarui_pada, diperbarui_pada AS diubah_pada FROM tujuan WHERE id = :id")
TUJUAN_UPDATE = text(
    """
    UPDATE tujuan SET kode = COALESCE(:kode, kode), nama = COALESCE(:nama, nama), diperbarui_pada = now()
    WHERE id = :id RETURNING id, pemilik, kode, nama, dibuat_pada, diperbarui_pada, diperbarui_pada AS diubah_pada
    """
)
TUJUAN_LIST = text(
    """
    SELECT id, pemilik, kode, nama, dibuat_pada, diperbarui_pada, diperbarui_pada AS diubah_pada FROM tujuan
    WHERE (CAST(:semua AS boolean) OR pemilik = ANY(CAST(:pemilik AS text[]))
           OR (CAST(:dalam AS text) IS NOT NULL AND starts_with(pemilik, CAST(:dalam AS text) || '.')))
    ORDER BY pemilik, kode
    """
)

SASARAN_INSERT = text(
    """
    INSERT INTO sasaran (pemilik, tujuan_id, kode, nama, dibuat_oleh)
    VALUES (:pemilik, :tujuan_id, :kode, :nama, :oleh)
    ON CONFLICT (pemilik, kode) DO NOTHING
    RETURNING id, pemilik, tujuan_id, kode, nama, dibuat_pada, diperbarui_pada, diperbarui_pada AS diubah_pada
    """
)
SASARAN_GET = text(
    "SELECT id, pemilik, tujuan_id, kode, nama, dibuat_pada, diperbarui_pada, diperbarui_pada AS diubah_pada FROM sasaran WHERE id = :id"
)
SASARAN_UPDATE = text(
    """
    UPDATE sasaran SET kode = COALESCE(:kode, kode), nama = COALESCE(:nama, nama),
        tujuan_id = CASE WHEN :ganti_tujuan THEN CAST(:tujuan_id AS bigint) ELSE tujuan_id END,
        diperbarui_pada = now()
    WHERE id = :id RETURNING id, pemilik, tujuan_id, kode, nama, dibuat_pada, diperbarui_pada, diperbarui_pada AS diubah_pada
    """
)
SASARAN_LIST = text(
    """
    SELECT id, pemilik, tujuan_id, kode, nama, dibuat_pada, diperbarui_pada, diperbarui_pada AS diubah_pada FROM sasaran
    WHERE (CAST(:semua AS boolean) OR pemilik = ANY(CAST(:pemilik AS text[]))
           OR (CAST(:dalam AS text) IS NOT NULL AND starts_with(pemilik, CAST(:dalam AS text) || '.')))
    ORDER BY pemilik, kode
    """
)

# ---------------------------------------------------------------------------------------------
# Indikator

_INDIKATOR_COLS = """id, pemilik, kode, nama, jenis, sasaran_id, satuan, polaritas, level, sumber,
    formula, parameter, renstra_mulai, renstra_akhir, aktif, dibuat_oleh, dibuat_pada, diperbarui_pada, diperbarui_pada AS diubah_pada"""

INDIKATOR_INSERT = text(
    f"""
    INSERT INTO indikator (pemilik, kode, nama, jenis, sasaran_id, satuan, polaritas, level, sumber,
                           formula, parameter, renstra_mulai, renstra_akhir, dibuat_oleh)
    VALUES (:pemilik, :kode, :nama, :jenis, :sasaran_id, :satuan, :polaritas, :level, :sumber,
            :formula, CAST(:parameter AS jsonb), :renstra_mulai, :renstra_akhir, :oleh)
    ON CONFLICT (pemilik, kode) DO NOTHING
    RETURNING {_INDIKATOR_COLS}
    """
)
INDIKATOR_GET = text(f"SELECT {_INDIKATOR_COLS} FROM indikator WHERE id = :id")
INDIKATOR_GET_FOR_UPDATE = text(f"SELECT {_INDIKATOR_COLS} FROM indikator WHERE id = :id FOR UPDATE")
INDIKATOR_UPDATE = text(
    f"""
    UPDATE indikator SET kode = :kode, nama = :nama, jenis = :jenis, sasaran_id = :sasaran_id,
        satuan = :satuan, polaritas = :polaritas, formula = :formula,
        parameter = CAST(:parameter AS jsonb), renstra_mulai = :renstra_mulai,
        renstra_akhir = :renstra_akhir, aktif = :aktif, diperbarui_pada = now()
    WHERE id = :id RETURNING {_INDIKATOR_COLS}
    """
)
INDIKATOR_KODE_TAKEN = text("SELECT 1 FROM indikator WHERE pemilik = :pemilik AND kode = :kode AND id <> :id")
INDIKATOR_LIST = text(
    f"""
    SELECT {_INDIKATOR_COLS} FROM indikator
    WHERE (CAST(:semua AS boolean) OR pemilik = ANY(CAST(:pemilik AS text[]))
           OR (CAST(:dalam AS text) IS NOT NULL AND starts_with(pemilik, CAST(:dalam AS text) || '.')))
      AND (CAST(:sasaran_id AS bigint) IS NULL OR sasaran_id = :sasaran_id)
    ORDER BY pemilik, kode
    """
)

# The indicators of one wilayah's LKjIP table, with their sasaran and tujuan, in print order.
LKJIP_INDIKATOR = text(
    """
    SELECT i.id, i.pemilik, i.kode, i.nama, i.jenis, i.satuan, i.polaritas, i.level, i.sumber,
           i.formula, i.parameter, i.renstra_mulai, i.renstra_akhir,
           s.id AS sasaran_id, s.kode AS sasaran_kode, s.nama AS sasaran_nama,
           t.id AS tujuan_id, t.kode AS tujuan_kode, t.nama AS tujuan_nama
    FROM indikator i
    JOIN sasaran s ON s.id = i.sasaran_id
    LEFT JOIN tujuan t ON t.id = s.tujuan_id
    WHERE i.aktif AND i.level = :level AND i.pemilik = ANY(CAST(:pemilik AS text[]))
    ORDER BY i.pemilik <> 'nasional', length(i.pemilik), i.pemilik, t.kode NULLS LAST, s.kode, i.kode
    """
)

# ---------------------------------------------------------------------------------------------
# Targets and entered realisasi: append-only; the latest row per (indikator, wilayah, tahun).

TARGET_INSERT = text(
    """
    INSERT INTO indikator_target (indikator_id, kode_wilayah, tahun, nilai, keterangan, dibuat_oleh, dibuat_key)
    VALUES (:indikator_id, :wilayah, :tahun, :nilai, :keterangan, :oleh, :oleh_key)
    RETURNING id, kode_wilayah, tahun, nilai, keterangan, dibuat_oleh, dibuat_pada
    """
)
TARGET_HISTORY = text(
    """
    SELECT id, kode_wilayah, tahun, nilai, keterangan, dibuat_oleh, dibuat_pada FROM indikator_target
    WHERE indikator_id = :indikator_id AND kode_wilayah = :wilayah
      AND (CAST(:tahun AS integer) IS NULL OR tahun = :tahun)
    ORDER BY tahun, id DESC
    """
)
TARGET_CURRENT = text(
    """
    SELECT DISTINCT ON (indikator_id, tahun) indikator_id, tahun, nilai FROM indikator_target
    WHERE indikator_id = ANY(CAST(:ids AS bigint[])) AND kode_wilayah = :wilayah
      AND tahun = ANY(CAST(:tahun AS integer[]))
    ORDER BY indikator_id, tahun, id DESC
    """
)

REALISASI_INSERT = text(
    """
    INSERT INTO indikator_realisasi (indikator_id, kode_wilayah, tahun, nilai, sumber, catatan,
                                     dibuat_oleh, dibuat_key)
    VALUES (:indikator_id, :wilayah, :tahun, :nilai, :sumber, :catatan, :oleh, :oleh_key)
    RETURNING id, kode_wilayah, tahun, nilai, sumber, catatan, dibuat_oleh, dibuat_pada
    """
)
REALISASI_HISTORY = text(
    """
    SELECT id, kode_wilayah, tahun, nilai, sumber, catatan, dibuat_oleh, dibuat_pada
    FROM indikator_realisasi
    WHERE indikator_id = :indikator_id AND kode_wilayah = :wilayah AND tahun = :tahun
    ORDER BY id DESC
    """
)
REALISASI_CURRENT = text(
    """
    SELECT DISTINCT ON (indikator_id, tahun) indikator_id, tahun, nilai, sumber
    FROM indikator_realisasi
    WHERE indikator_id = ANY(CAST(:ids AS bigint[])) AND kode_wilayah = :wilayah
      AND tahun = ANY(CAST(:tahun AS integer[]))
    ORDER BY indikator_id, tahun, id DESC
    """
)

# ---------------------------------------------------------------------------------------------
# Predikat scales

PREDIKAT_BAWAAN = text("SELECT batas_bawah, predikat FROM predikat_bawaan ORDER BY urutan")

# The latest scale row of each of the given wilayah (ancestors of a report's wilayah).
PREDIKAT_SKALA_TERBARU = text(
    """
    SELECT DISTINCT ON (kode_wilayah) id, kode_wilayah, nama, dihapus, dibuat_oleh, dibuat_pada
    FROM predikat_skala WHERE kode_wilayah = ANY(CAST(:wilayah AS text[]))
    ORDER BY kode_wilayah, id DESC
    """
)
PREDIKAT_BAND = text(
    "SELECT batas_bawah, predikat FROM predikat_skala_band WHERE skala_id = :id ORDER BY urutan"
)
PREDIKAT_SKALA_INSERT = text(
    """
    INSERT INTO predikat_skala (kode_wilayah, nama, dihapus, dibuat_oleh)
    VALUES (:wilayah, :nama, :dihapus, :oleh) RETURNING id, dibuat_pada
    """
)
PREDIKAT_BAND_INSERT = text(
    """
    INSERT INTO predikat_skala_band (skala_id, urutan, batas_bawah, predikat)
    SELECT :id, b.urutan, b.batas_bawah, b.predikat
    FROM jsonb_to_recordset(CAST(:bands AS jsonb)) AS b(urutan smallint, batas_bawah numeric, predikat text)
    """
)

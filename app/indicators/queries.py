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
    satuan: str  # unit | rupiah | orang
    sql: str  # aggregate over alias `s` (records) or `e` (entities); parameters are binds
    parameter: tuple[str, ...] = ()
    sumber: str = "rekaman"  # rekaman: records of the periode; entitas: entities across t-1 and t
    rekap: str = ""  # entitas: the same term summed over alias `r`, rows of kumkm_rekap (rekap_statement)

    @property
    def jenis(self) -> str | None:
        """The record kind the term reads, when only one (lets a query use the koperasi index)."""
        a = "e" if self.sumber == "entitas" else "s"
        return "koperasi" if f"{a}.jenis = 'koperasi'" in self.sql else "umkm" if f"{a}.jenis = 'umkm'" in self.sql else None

    @property
    def hitungan(self) -> bool:
        """Counts are 0 over no records; sums over no records are unknown (NULL)."""
        return self.sql.startswith("count(")


_KOP = "s.jenis = 'koperasi'"
_UMKM = "s.jenis = 'umkm' AND s.skala_usaha = ANY({skala})"
_E_UMKM = "e.jenis = 'umkm'"
_E_KOP = "e.jenis = 'koperasi'"
_E_KOP_MODAL = f"{_E_KOP} AND e.modal IS NOT NULL AND e.modal_lalu IS NOT NULL"
# Rank within UMKM (PP 7/2021); besar and unknown have none, so a move to or from them is no naik kelas.
_RANK = "array_position(ARRAY['mikro', 'kecil', 'menengah'], {0})"
# No linked diterima record of the entity in any periode before (index kumkm_tautan_entitas).
_BELUM_PERNAH = (
    "NOT EXISTS (SELECT 1 FROM kumkm_tautan t0 JOIN submissions s0 ON s0.submission_id = t0.submission_id "
    "AND s0.status = 'diterima' WHERE t0.id_kumkm = e.id_kumkm AND t0.periode < e.periode)"
)
# The same terms over kumkm_rekap (migration 0013): sums of the counts kept per (periode, kabkota,
# jenis). A count over no row is 0; a sum over no koperasi with modal in both periode is unknown.
_R = "COALESCE(sum(r.{0}) FILTER (WHERE r.jenis = '{1}'), 0)"
_R_MODAL = "CASE WHEN sum(r.modal_n) FILTER (WHERE r.jenis = 'koperasi') > 0 THEN sum(r.{0}) FILTER (WHERE r.jenis = 'koperasi') END"
_R_MENINGKAT = (
    "COALESCE(sum(CASE {kolom} WHEN 'punya_nib' THEN r.meningkat_punya_nib WHEN 'izin_usaha' THEN r.meningkat_izin_usaha "
    "WHEN 'platform_digital' THEN r.meningkat_platform_digital END) FILTER (WHERE r.jenis = 'umkm'), 0)"
)
# The field named by a bind value, never by SQL text: a CASE over the fixed choices.
_KOLOM = (
    "CASE {k} WHEN 'punya_nib' THEN {a}punya_nib WHEN 'izin_usaha' THEN {a}izin_usaha WHEN 'platform_digital' THEN {a}platform_digital END"
)

UKURAN: dict[str, Ukuran] = {
    u.nama: u
    for u in (
        Ukuran("diterima", "records diterima (UMKM and koperasi)", "unit", "count(*)"),
        Ukuran("koperasi", "koperasi", "unit", f"count(*) FILTER (WHERE {_KOP})"),
        Ukuran("koperasi_aktif", "koperasi aktif", "unit", f"count(*) FILTER (WHERE {_KOP} AND s.aktif)"),
        Ukuran("koperasi_tidak_aktif", "koperasi tidak aktif", "unit", f"count(*) FILTER (WHERE {_KOP} AND s.aktif IS FALSE)"),
        Ukuran(
            "koperasi_rat",
            "koperasi whose last RAT was held in the periode's year (+ rat_selisih_tahun) or later",
            "unit",
            f"count(*) FILTER (WHERE {_KOP} AND s.tahun_rat_terakhir >= CAST(s.periode AS integer) + {{rat_selisih_tahun}})",
            ("rat_selisih_tahun",),
        ),
        Ukuran("koperasi_nik", "koperasi with a Nomor Induk Koperasi", "unit", f"count(*) FILTER (WHERE {_KOP} AND s.punya_nik_koperasi)"),
        Ukuran(
            "koperasi_anggota",
            "anggota koperasi (L + P)",
            "orang",
            f"sum(COALESCE(s.anggota_l, 0) + COALESCE(s.anggota_p, 0)) FILTER (WHERE {_KOP})",
        ),
        Ukuran("koperasi_modal_sendiri", "modal sendiri koperasi", "rupiah", f"sum(s.modal_sendiri) FILTER (WHERE {_KOP})"),
        Ukuran("koperasi_modal_luar", "modal luar koperasi", "rupiah", f"sum(s.modal_luar) FILTER (WHERE {_KOP})"),
        Ukuran(
            "koperasi_modal",
            "modal koperasi (sendiri + luar)",
            "rupiah",
            f"sum(COALESCE(s.modal_sendiri, 0) + COALESCE(s.modal_luar, 0)) FILTER (WHERE {_KOP})",
        ),
        Ukuran("koperasi_volume_usaha", "volume usaha koperasi", "rupiah", f"sum(s.volume_usaha) FILTER (WHERE {_KOP})"),
        Ukuran("koperasi_shu", "SHU koperasi", "rupiah", f"sum(s.shu) FILTER (WHERE {_KOP})"),
        Ukuran("umkm", "UMKM of the chosen skala", "unit", f"count(*) FILTER (WHERE {_UMKM})", ("skala",)),
        Ukuran("umkm_nib", "UMKM of the chosen skala with an NIB", "unit", f"count(*) FILTER (WHERE {_UMKM} AND s.punya_nib)", ("skala",)),
        Ukuran(
            "umkm_digital",
            "UMKM of the chosen skala using a digital platform",
            "unit",
            f"count(*) FILTER (WHERE {_UMKM} AND s.platform_digital)",
            ("skala",),
        ),
        Ukuran(
            "umkm_izin_usaha",
            "UMKM of the chosen skala with an izin usaha",
            "unit",
            f"count(*) FILTER (WHERE {_UMKM} AND s.izin_usaha)",
            ("skala",),
        ),
        Ukuran(
            "umkm_tenaga_kerja",
            "tenaga kerja UMKM (L + P)",
            "orang",
            f"sum(COALESCE(s.tenaga_kerja_l, 0) + COALESCE(s.tenaga_kerja_p, 0)) FILTER (WHERE {_UMKM})",
            ("skala",),
        ),
        Ukuran("umkm_modal", "modal usaha UMKM", "rupiah", f"sum(s.modal_usaha) FILTER (WHERE {_UMKM})", ("skala",)),
        Ukuran("umkm_omzet", "hasil penjualan tahunan UMKM", "rupiah", f"sum(s.hasil_penjualan) FILTER (WHERE {_UMKM})", ("skala",)),
        # Entity terms (docs/registry.md, "Indicators from entities"): an entity's state in a periode
        # is its latest decided linked record of that periode; `e` pairs that state in t with t-1.
        Ukuran(
            "umkm_naik_kelas",
            "UMKM entities whose skala usaha in the periode is above their skala in the "
            "periode before (mikro->kecil, kecil->menengah, mikro->menengah)",
            "unit",
            f"count(*) FILTER (WHERE {_E_UMKM} AND {_RANK.format('e.skala')} > {_RANK.format('e.skala_lalu')})",
            sumber="entitas",
            rekap=_R.format("naik_kelas", "umkm"),
        ),
        Ukuran(
            "umkm_kecil_ditemukan",
            "UMKM entities kecil in the periode before that have a record in the periode",
            "unit",
            f"count(*) FILTER (WHERE {_E_UMKM} AND e.ada AND e.skala_lalu = 'kecil')",
            sumber="entitas",
            rekap=_R.format("kecil_ditemukan", "umkm"),
        ),
        Ukuran(
            "umkm_kecil_naik_kelas",
            "UMKM entities kecil in the periode before and menengah in the periode",
            "unit",
            f"count(*) FILTER (WHERE {_E_UMKM} AND e.skala_lalu = 'kecil' AND e.skala = 'menengah')",
            sumber="entitas",
            rekap=_R.format("kecil_naik_kelas", "umkm"),
        ),
        Ukuran(
            "koperasi_modal_kenaikan",
            "koperasi entities with modal (sendiri + luar) in the periode and the one "
            "before: the sum of their modal in the periode minus the periode before",
            "rupiah",
            f"sum(e.modal - e.modal_lalu) FILTER (WHERE {_E_KOP_MODAL})",
            sumber="entitas",
            rekap=_R_MODAL.format("modal_kenaikan"),
        ),
        Ukuran(
            "koperasi_modal_tahun_lalu",
            "koperasi entities with modal (sendiri + luar) in the periode and the one before: the sum of their modal in the periode before",
            "rupiah",
            f"sum(e.modal_lalu) FILTER (WHERE {_E_KOP_MODAL})",
            sumber="entitas",
            rekap=_R_MODAL.format("modal_lalu"),
        ),
        Ukuran(
            "usaha_baru",
            "UMKM entities with a record in the periode and none in any periode before",
            "unit",
            f"count(*) FILTER (WHERE {_E_UMKM} AND e.ada AND {_BELUM_PERNAH})",
            sumber="entitas",
            rekap=_R.format("baru", "umkm"),
        ),
        Ukuran(
            "usaha_tidak_ditemukan",
            "UMKM entities with a record in the periode before and none in the periode",
            "unit",
            f"count(*) FILTER (WHERE {_E_UMKM} AND e.ada_lalu AND NOT e.ada)",
            sumber="entitas",
            rekap=_R.format("tidak_ditemukan", "umkm"),
        ),
        Ukuran(
            "koperasi_baru",
            "koperasi entities with a record in the periode and none in any periode before",
            "unit",
            f"count(*) FILTER (WHERE {_E_KOP} AND e.ada AND {_BELUM_PERNAH})",
            sumber="entitas",
            rekap=_R.format("baru", "koperasi"),
        ),
        Ukuran(
            "koperasi_tidak_ditemukan",
            "koperasi entities with a record in the periode before and none in the periode",
            "unit",
            f"count(*) FILTER (WHERE {_E_KOP} AND e.ada_lalu AND NOT e.ada)",
            sumber="entitas",
            rekap=_R.format("tidak_ditemukan", "koperasi"),
        ),
        Ukuran(
            "umkm_meningkat",
            "UMKM entities whose field `kolom` (punya_nib, izin_usaha, platform_digital) was "
            "false in the periode before and is true in the periode",
            "unit",
            f"count(*) FILTER (WHERE {_E_UMKM} AND {_KOLOM.format(a='e.', k='{kolom}')} IS TRUE "
            f"AND {_KOLOM.format(a='e.lalu_', k='{kolom}')} IS FALSE)",
            ("kolom",),
            sumber="entitas",
            rekap=_R_MENINGKAT,
        ),
    )
}

# The fields a dinas may define its own naik kelas from (`umkm_meningkat`): yes/no answers of
# the UMKM record that can change between rounds.
KOLOM_MENINGKAT = ("punya_nib", "izin_usaha", "platform_digital")

# Not an aggregate of records: the pendataan target in force (target_pendataan), per periode.
TARGET_PENDATAAN = "target_pendataan"

_PARAM_CAST = {"skala": "text[]", "rat_selisih_tahun": "integer", "kolom": "text"}

# Fixed text per record kind; chosen when every term of a statement reads the same kind.
_JENIS_FILTER = {None: "", "koperasi": "AND s.jenis = 'koperasi'", "umkm": "AND s.jenis = 'umkm'"}

_WILAYAH_FILTER = {
    "nasional": "",
    "provinsi": "AND s.kode_provinsi = :wilayah",
    "kabkota": "AND s.kode_kabkota = :wilayah",
}


def _columns(kolom: list[tuple[str, dict]], field: str = "sql") -> tuple[list[str], dict]:
    cols, binds = [], {}
    for i, (nama, params) in enumerate(kolom):
        u = UKURAN[nama]  # KeyError is a programming error: names are validated on definition
        names = {}
        for p in u.parameter:
            bind = f"k{i}_{p}"
            names[p] = f"CAST(:{bind} AS {_PARAM_CAST[p]})"
            binds[bind] = params[p]
        cols.append(f"{getattr(u, field).format(**names)} AS k{i}")
    return cols, binds


def registry_statement(level: str, kolom: list[tuple[str, dict]]) -> tuple[TextClause, dict]:
    """One statement computing every requested (ukuran, parameters) of records per periode.
    Returns the statement and the bind values for the parameters; the caller adds
    `periodes` (list of text) and `wilayah`. Result columns are `periode, k0, k1, ...`."""
    jenis = {UKURAN[nama].jenis for nama, _ in kolom}
    cols, binds = _columns(kolom)
    sql = (
        f"SELECT s.periode, {', '.join(cols) if cols else 'count(*) AS k_'} FROM submissions s "
        "WHERE s.status = 'diterima' AND s.periode = ANY(CAST(:periodes AS text[])) "
        f"{_WILAYAH_FILTER[level]} {_JENIS_FILTER[jenis.pop() if len(jenis) == 1 else None]} "
        "GROUP BY s.periode"
    )
    return text(sql), binds


# Entities: the wilayah an entity counts in for periode t is that of its record in t (of its
# record in t-1 when it has none in t: usaha tidak ditemukan).
_ENTITAS_WILAYAH = {
    "nasional": ("", ""),
    "provinsi": ("AND s.kode_provinsi = :wilayah", "AND e.kode_provinsi = :wilayah"),
    "kabkota": ("AND s.kode_kabkota = :wilayah", "AND e.kode_kabkota = :wilayah"),
}


def entitas_statement(level: str, kolom: list[tuple[str, dict]], per_kabkota: bool = False) -> tuple[TextClause, dict]:
    """One statement computing every requested entity term per periode t, from each entity's
    state in t and t-1, read from the links: the definition the kept counts (rekap_statement)
    must equal, used as the recount (`kumkm registry rekap --periksa`, the tests). The caller
    adds `periodes` (the t, text), `semua` (every t and t-1) and `wilayah`. Below the national
    level only the entities with a record in the wilayah in t or t-1 are read (found through the
    records' kabkota index), not every link of the periodes. `per_kabkota`: one row per
    (periode, kode_kabkota) instead of per periode.

    A state whose record found the usaha `tutup` or `pindah` (keadaan_usaha) is there (the
    entity has a record in t) but not `ada`: not found, and none of its measures is read."""
    jenis = {UKURAN[nama].jenis for nama, _ in kolom}
    one = jenis.pop() if len(jenis) == 1 else None
    jenis_filter = _JENIS_FILTER[one]
    cols, binds = _columns(kolom)
    record_filter, pair_filter = _ENTITAS_WILAYAH[level]
    dalam = (
        ""
        if level == "nasional"
        else f"""
          AND t.id_kumkm IN (
              SELECT t1.id_kumkm FROM submissions s JOIN kumkm_tautan t1 ON t1.submission_id = s.submission_id
              WHERE s.status = 'diterima' AND s.periode = ANY(CAST(:semua AS text[])) {record_filter} {jenis_filter})"""
    )
    kab = ", e.kode_kabkota" if per_kabkota else ""
    sql = f"""
    WITH r0 AS (
        SELECT DISTINCT ON (t.id_kumkm, t.periode)
               t.id_kumkm, t.periode, CAST(CAST(t.periode AS integer) + 1 AS text) AS periode_berikut,
               s.jenis, s.kode_provinsi, s.kode_kabkota, s.skala_usaha AS skala,
               COALESCE(s.keadaan_usaha NOT IN ('tutup', 'pindah'), true) AS ada,
               s.punya_nib, s.izin_usaha, s.platform_digital,
               CASE WHEN s.modal_sendiri IS NOT NULL OR s.modal_luar IS NOT NULL
                    THEN COALESCE(s.modal_sendiri, 0) + COALESCE(s.modal_luar, 0) END AS modal
        FROM kumkm_tautan t JOIN submissions s ON s.submission_id = t.submission_id AND s.status = 'diterima'
        WHERE t.periode = ANY(CAST(:semua AS text[])) {jenis_filter} {dalam}
        ORDER BY t.id_kumkm, t.periode, s.diperbarui_pada DESC, s.submission_id DESC
    ), r AS (
        SELECT id_kumkm, periode, periode_berikut, jenis, kode_provinsi, kode_kabkota, ada,
               CASE WHEN ada THEN skala END AS skala, CASE WHEN ada THEN punya_nib END AS punya_nib,
               CASE WHEN ada THEN izin_usaha END AS izin_usaha, CASE WHEN ada THEN platform_digital END AS platform_digital,
               CASE WHEN ada THEN modal END AS modal
        FROM r0
    ), e AS (
        SELECT COALESCE(kini.periode, lalu.periode_berikut) AS periode,
               COALESCE(kini.id_kumkm, lalu.id_kumkm) AS id_kumkm,
               COALESCE(kini.jenis, lalu.jenis) AS jenis,
               COALESCE(kini.kode_provinsi, lalu.kode_provinsi) AS kode_provinsi,
               COALESCE(kini.kode_kabkota, lalu.kode_kabkota) AS kode_kabkota,
               COALESCE(kini.ada, false) AS ada, COALESCE(lalu.ada, false) AS ada_lalu,
               kini.skala, lalu.skala AS skala_lalu, kini.modal, lalu.modal AS modal_lalu,
               kini.punya_nib, lalu.punya_nib AS lalu_punya_nib, kini.izin_usaha, lalu.izin_usaha AS lalu_izin_usaha,
               kini.platform_digital, lalu.platform_digital AS lalu_platform_digital
        FROM r kini FULL JOIN r lalu ON lalu.id_kumkm = kini.id_kumkm AND lalu.periode_berikut = kini.periode
    )
    SELECT e.periode{kab}, {", ".join(cols) if cols else "count(*) AS k_"} FROM e
    WHERE e.periode = ANY(CAST(:periodes AS text[])) {pair_filter}
    GROUP BY e.periode{kab}
    """
    return text(sql), binds


_REKAP_WILAYAH = {
    "nasional": "",
    "provinsi": "AND r.kode_provinsi = :wilayah",
    "kabkota": "AND r.kode_kabkota = :wilayah",
}

_REKAP_KOLOM = (
    "naik_kelas, kecil_ditemukan, kecil_naik_kelas, modal_n, modal_kenaikan, modal_lalu, baru, tidak_ditemukan, "
    "meningkat_punya_nib, meningkat_izin_usaha, meningkat_platform_digital"
)


def rekap_statement(level: str, kolom: list[tuple[str, dict]], per_kabkota: bool = False) -> tuple[TextClause, dict]:
    """The entity terms read from the counts the writes keep (kumkm_rekap, migration 0013): a
    few hundred rows per periode, whatever the number of records. Equal to entitas_statement at
    every moment: the entities of records whose status moved since the linker last took them
    (kumkm_rekap_tunda, a handful) are added as computed now minus as kept. The caller adds
    `periodes` and `wilayah`; rows per periode (or per periode and kode_kabkota)."""
    cols, binds = _columns(kolom, "rekap")
    kab = ", r.kode_kabkota" if per_kabkota else ""
    neg = ", ".join(f"-{c}" for c in _REKAP_KOLOM.split(", "))
    sql = f"""
    WITH tunda AS MATERIALIZED (
        SELECT COALESCE(array_agg(DISTINCT t.id_kumkm), '{{}}') AS ids
        FROM kumkm_rekap_tunda d JOIN kumkm_tautan t ON t.submission_id = d.submission_id
    ), r AS (
        SELECT periode, kode_provinsi, kode_kabkota, jenis, {_REKAP_KOLOM} FROM kumkm_rekap
        WHERE periode = ANY(CAST(:periodes AS text[]))
        UNION ALL
        SELECT periode, kode_provinsi, kode_kabkota, jenis, {_REKAP_KOLOM}
        FROM kumkm_sumbangan_segar((SELECT ids FROM tunda)) WHERE periode = ANY(CAST(:periodes AS text[]))
        UNION ALL
        SELECT periode, kode_provinsi, kode_kabkota, jenis, {neg}
        FROM kumkm_sumbangan_tersimpan((SELECT ids FROM tunda)) WHERE periode = ANY(CAST(:periodes AS text[]))
    )
    SELECT r.periode{kab}, {", ".join(cols) if cols else "count(*) AS k_"} FROM r
    WHERE true {_REKAP_WILAYAH[level]}
    GROUP BY r.periode{kab}
    """
    return text(sql), binds


# Every periode an entity has a state in, and the one after each (the recount's periodes).
ENTITAS_PERIODE = text(
    "SELECT DISTINCT periode FROM kumkm_rekap UNION SELECT DISTINCT t.periode FROM kumkm_tautan t "
    "UNION SELECT CAST(CAST(t.periode AS integer) + 1 AS text) FROM (SELECT DISTINCT periode FROM kumkm_tautan) t ORDER BY 1"
)


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
PREDIKAT_BAND = text("SELECT batas_bawah, predikat FROM predikat_skala_band WHERE skala_id = :id ORDER BY urutan")
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

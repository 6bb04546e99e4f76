"""All SQL of the aggregates. Statements are assembled only from the fixed fragments in this
module (dimensions, measures, area filters), chosen by name; request values travel as bind
parameters. Every aggregate reads only the extracted columns of `submissions`, never the
record content, so no personal data can reach a result."""

from __future__ import annotations

import functools

from sqlalchemy import text

# Area filters by the level of the requested wilayah (0: the nation). They are written so the
# (kode_kabkota, ...) and koperasi-per-provinsi indexes apply.
AREA = {
    0: "true",
    1: "kode_provinsi = :area",
    2: "kode_provinsi = :provinsi AND kode_kabkota = :area",
    3: "kode_provinsi = :provinsi AND kode_kabkota = :kabkota AND kode_kecamatan = :area",
    4: "kode_provinsi = :provinsi AND kode_kabkota = :kabkota AND kode_wilayah = :area",
}

_STATUS = "status = ANY(CAST(:status AS text[]))"

# ---------------------------------------------------------------- keragaan koperasi

# Rows of the ODS table are the child wilayah of the area, for koperasi under kabupaten/kota
# authority; koperasi under provinsi or national authority form the Binaan rows instead.
KERAGAAN_CHILD = {0: "kode_provinsi", 1: "kode_kabkota", 2: "kode_kecamatan"}

_KERAGAAN = """
    SELECT CASE WHEN kewenangan = 'kabkota' THEN {child} END AS kode, kewenangan,
           count(*) AS koperasi_jumlah,
           count(*) FILTER (WHERE aktif) AS koperasi_aktif,
           count(*) FILTER (WHERE NOT aktif) AS koperasi_tidak_aktif,
           COALESCE(sum(anggota_l), 0) AS anggota_l,
           COALESCE(sum(anggota_p), 0) AS anggota_p,
           -- RAT (unit): koperasi that held their annual meeting in the periode's year.
           count(*) FILTER (WHERE tahun_rat_terakhir >= :tahun) AS rat,
           COALESCE(sum(manajer_l), 0) AS manajer_l,
           COALESCE(sum(manajer_p), 0) AS manajer_p,
           COALESCE(sum(karyawan_l), 0) AS karyawan_l,
           COALESCE(sum(karyawan_p), 0) AS karyawan_p,
           COALESCE(sum(modal_sendiri), 0) AS modal_sendiri,
           COALESCE(sum(modal_luar), 0) AS modal_luar,
           COALESCE(sum(volume_usaha), 0) AS volume_usaha,
           COALESCE(sum(shu), 0) AS shu
    FROM submissions
    WHERE jenis = 'koperasi' AND periode = :periode AND {status} AND {area}
    GROUP BY 1, 2
"""
KERAGAAN = {lv: text(_KERAGAAN.format(child=child, status=_STATUS, area=AREA[lv])) for lv, child in KERAGAAN_CHILD.items()}

# Rows of the table: written per level because `parent_kode IS NOT DISTINCT FROM` cannot use
# the (parent_kode, kode) index and would scan every desa.
CHILDREN = {
    0: text("SELECT kode, nama FROM wilayah WHERE parent_kode IS NULL ORDER BY kode"),
    1: text("SELECT kode, nama FROM wilayah WHERE parent_kode = :area ORDER BY kode"),
    2: text("SELECT kode, nama FROM wilayah WHERE parent_kode = :area ORDER BY kode"),
}

# ---------------------------------------------------------------- UMKM by skala

_UMKM = """
    SELECT skala_usaha, count(*) AS jumlah,
           COALESCE(sum(modal_usaha), 0) AS modal_usaha,
           COALESCE(sum(hasil_penjualan), 0) AS hasil_penjualan,
           COALESCE(sum(aset), 0) AS aset,
           COALESCE(sum(tenaga_kerja_l), 0) AS tenaga_kerja_l,
           COALESCE(sum(tenaga_kerja_p), 0) AS tenaga_kerja_p,
           count(*) FILTER (WHERE punya_nib) AS punya_nib,
           count(*) FILTER (WHERE platform_digital) AS platform_digital
    FROM submissions
    WHERE jenis = 'umkm' AND periode = :periode AND {status} AND {area}
    GROUP BY 1
"""
UMKM = {lv: text(_UMKM.format(status=_STATUS, area=area)) for lv, area in AREA.items()}

# ---------------------------------------------------------------- general aggregate

# The dimensions a client may group by: name -> SQL expression over submissions.
DIMENSIONS: dict[str, str] = {
    "jenis": "jenis",
    "status": "status",
    "kode_provinsi": "kode_provinsi",
    "kode_kabkota": "kode_kabkota",
    "kode_kecamatan": "kode_kecamatan",
    "kode_desa": "CASE WHEN kode_kecamatan IS NOT NULL THEN kode_wilayah END",
    "skala_usaha": "skala_usaha",
    "sektor": "sektor",
    "kbli_golongan_pokok": "left(kbli, 2)",
    "kbli": "kbli",
    "status_tempat": "status_tempat",
    "punya_nib": "punya_nib",
    "platform_digital": "platform_digital",
    "jenis_koperasi": "jenis_koperasi",
    "kewenangan": "kewenangan",
    "aktif": "aktif",
    "kesehatan": "kesehatan",
}

# Measures: name -> (SQL, kind). "uang" sums are rupiah (PostgreSQL numeric, exact).
MEASURES_UMUM = {
    "jumlah": ("count(*)", "angka"),
    "aset": ("COALESCE(sum(aset), 0)", "uang"),
}
MEASURES_UMKM = {
    "modal_usaha": ("COALESCE(sum(modal_usaha), 0)", "uang"),
    "hasil_penjualan": ("COALESCE(sum(hasil_penjualan), 0)", "uang"),
    "tenaga_kerja_l": ("COALESCE(sum(tenaga_kerja_l), 0)", "angka"),
    "tenaga_kerja_p": ("COALESCE(sum(tenaga_kerja_p), 0)", "angka"),
    # named apart from the dimensions of the same columns, which a row may carry too
    "usaha_punya_nib": ("count(*) FILTER (WHERE punya_nib)", "angka"),
    "usaha_platform_digital": ("count(*) FILTER (WHERE platform_digital)", "angka"),
}
MEASURES_KOPERASI = {
    "koperasi_aktif": ("count(*) FILTER (WHERE aktif)", "angka"),
    "anggota_l": ("COALESCE(sum(anggota_l), 0)", "angka"),
    "anggota_p": ("COALESCE(sum(anggota_p), 0)", "angka"),
    "manajer_l": ("COALESCE(sum(manajer_l), 0)", "angka"),
    "manajer_p": ("COALESCE(sum(manajer_p), 0)", "angka"),
    "karyawan_l": ("COALESCE(sum(karyawan_l), 0)", "angka"),
    "karyawan_p": ("COALESCE(sum(karyawan_p), 0)", "angka"),
    "modal_sendiri": ("COALESCE(sum(modal_sendiri), 0)", "uang"),
    "modal_luar": ("COALESCE(sum(modal_luar), 0)", "uang"),
    "volume_usaha": ("COALESCE(sum(volume_usaha), 0)", "uang"),
    "shu": ("COALESCE(sum(shu), 0)", "uang"),
}


def measures_for(jenis: str | None) -> dict[str, tuple[str, str]]:
    if jenis == "umkm":
        return {**MEASURES_UMUM, **MEASURES_UMKM}
    if jenis == "koperasi":
        return {**MEASURES_UMUM, **MEASURES_KOPERASI}
    return {**MEASURES_UMUM, **MEASURES_UMKM, **MEASURES_KOPERASI}


@functools.lru_cache(maxsize=512)
def agregat(by: tuple[str, ...], jenis: str | None, area_level: int, limit: int):
    """GROUP BY the named dimensions (keys of DIMENSIONS only: a KeyError on anything else).
    GROUPING SETS add the total row in the same scan."""
    dims = [f"{DIMENSIONS[d]} AS d{i}" for i, d in enumerate(by)]
    meas = [f"{sql} AS {name}" for name, (sql, _) in measures_for(jenis).items()]
    cols = ", ".join(DIMENSIONS[d] for d in by)
    jenis_filter = "jenis = :jenis" if jenis else "true"
    return text(f"""
        SELECT {", ".join(dims)}, grouping({cols}) <> 0 AS is_total, {", ".join(meas)}
        FROM submissions
        WHERE periode = :periode AND {_STATUS} AND {jenis_filter} AND {AREA[area_level]}
        GROUP BY GROUPING SETS (({cols}), ())
        ORDER BY is_total, {", ".join(f"{i + 1} NULLS LAST" for i in range(len(by)))}
        LIMIT {int(limit) + 2}
    """)


# ---------------------------------------------------------------- usaha and koperasi (entities)

# Records diterima and the distinct entities (kumkm, through kumkm_tautan) they belong to, in
# the periode and over every periode, per jenis. An entity counts in an area when one of its
# records lies there. `belum_ditautkan`: diterima records the linker has not reached yet (it
# links within seconds of acceptance; a migration job may still be running).
_ENTITAS = """
    SELECT s.jenis,
           count(*) FILTER (WHERE s.periode = :periode) AS rekaman_periode,
           count(DISTINCT t.id_kumkm) FILTER (WHERE s.periode = :periode) AS entitas_periode,
           count(*) FILTER (WHERE s.periode = :periode AND t.id_kumkm IS NULL) AS belum_periode,
           count(*) AS rekaman_semua,
           count(DISTINCT t.id_kumkm) AS entitas_semua,
           count(*) FILTER (WHERE t.id_kumkm IS NULL) AS belum_semua
    FROM submissions s
    LEFT JOIN (SELECT submission_id, id_kumkm FROM kumkm_tautan) t ON t.submission_id = s.submission_id
    WHERE s.status = 'diterima' AND {area}
    GROUP BY s.jenis
"""
ENTITAS = {lv: text(_ENTITAS.format(area=area)) for lv, area in AREA.items()}

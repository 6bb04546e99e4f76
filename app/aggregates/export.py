"""The aggregate tables as downloads: the CSV layouts (`format=csv` for people, `csv-data` for
programs) and the workbook layouts (`format=xlsx`) of the documents app.aggregates.service
builds. The router picks one through app.reporting.response.report_response."""

from __future__ import annotations

import datetime as dt

from app.aggregates import queries
from app.aggregates.service import UANG_KOPERASI, WILAYAH_DIMS
from app.record.reference import WIB
from app.reporting import xlsx
from app.reporting.reports import DISPLAY, CsvCells, angka_id


def _lines(doc: dict) -> list[str]:
    """Wilayah, periode with the record states counted, and when the counts were read."""
    w = doc["wilayah"]
    return [
        f"Wilayah: {w['nama']} ({w['kode']})" if w else "Wilayah: Nasional",
        f"Periode: {doc['periode']}; data berstatus {', '.join(doc['status'])}",
        f"Keadaan data per {xlsx.waktu(dt.datetime.now(WIB))}",
    ]


def _row_label(doc: dict) -> str:
    if doc["wilayah"] is None:
        return "Provinsi"
    return "Kecamatan" if doc["wilayah"]["level"] == 2 else "Kabupaten/Kota"


# ---------------------------------------------------------------- keragaan koperasi

KERAGAAN_HEADER = [
    "No",
    "Kode",
    "Kabupaten/Kota",
    "Koperasi Jumlah",
    "Koperasi Aktif",
    "Koperasi Tidak Aktif",
    "Anggota Jumlah",
    "Anggota L",
    "Anggota P",
    "RAT (Unit)",
    "Manajer Jumlah",
    "Manajer L",
    "Manajer P",
    "Karyawan Jumlah",
    "Karyawan L",
    "Karyawan P",
    "Modal Sendiri (Rp)",
    "Modal Luar (Rp)",
    "Volume Usaha (Rp)",
    "SHU (Rp)",
    "Persentase Aktif",
]


def keragaan_csv(doc: dict, c: CsvCells = DISPLAY) -> tuple[list[str], list[list]]:
    def cells(r):
        return (
            [str(r["no"]) if r["no"] else "", r["kode"] or "", r["nama"]]
            + [
                c.angka(int(r[k]))
                for k in (
                    "koperasi_jumlah",
                    "koperasi_aktif",
                    "koperasi_tidak_aktif",
                    "anggota_jumlah",
                    "anggota_l",
                    "anggota_p",
                    "rat",
                    "manajer_jumlah",
                    "manajer_l",
                    "manajer_p",
                    "karyawan_jumlah",
                    "karyawan_l",
                    "karyawan_p",
                    "modal_sendiri",
                    "modal_luar",
                    "volume_usaha",
                    "shu",
                )
            ]
            + [c.rasio(r["persentase_aktif"], r["persen_aktif"])]
        )

    header = list(KERAGAAN_HEADER)
    if doc["wilayah"] is None:
        header[2] = "Provinsi"
    elif doc["wilayah"]["level"] == 2:
        header[2] = "Kecamatan"
    rows = [cells(r) for r in doc["rows"]]
    rows += [cells(doc["binaan_provinsi"]), cells(doc["binaan_nasional"]), cells(doc["jumlah"])]
    return header, rows


_KERAGAAN_XLSX = (
    ("koperasi_jumlah", "Jumlah", "Koperasi"),
    ("koperasi_aktif", "Aktif", "Koperasi"),
    ("koperasi_tidak_aktif", "Tidak Aktif", "Koperasi"),
    ("anggota_jumlah", "Jumlah", "Anggota"),
    ("anggota_l", "L", "Anggota"),
    ("anggota_p", "P", "Anggota"),
    ("rat", "RAT (Unit)", None),
    ("manajer_jumlah", "Jumlah", "Manajer"),
    ("manajer_l", "L", "Manajer"),
    ("manajer_p", "P", "Manajer"),
    ("karyawan_jumlah", "Jumlah", "Karyawan"),
    ("karyawan_l", "L", "Karyawan"),
    ("karyawan_p", "P", "Karyawan"),
)


def keragaan_xlsx(doc: dict) -> xlsx.Table:
    """The ODS table as printed: Koperasi / Anggota / Manajer / Karyawan headers over their
    columns, rupiah exact, persentase aktif as a percentage."""
    C = xlsx.Column
    columns = (
        [C("No", width=5), C("Kode", "text", width=10), C(_row_label(doc), "text", width=30)]
        + [C(h, group=g, width=9 if g else 11) for _, h, g in _KERAGAAN_XLSX]
        + [C(h, "rupiah", width=20) for h in ("Modal Sendiri (Rp)", "Modal Luar (Rp)", "Volume Usaha (Rp)", "SHU (Rp)")]
        + [C("Persentase Aktif", "rasio", width=11)]
    )

    def cells(r):
        return (
            [r["no"], r["kode"], r["nama"]]
            + [r[k] for k, _, _ in _KERAGAAN_XLSX]
            + [r[k] for k in UANG_KOPERASI]
            + [xlsx.fraction(r["koperasi_aktif"], r["koperasi_jumlah"])]
        )

    return xlsx.Table(
        title="Keragaan Koperasi",
        lines=_lines(doc),
        columns=columns,
        rows=[cells(r) for r in doc["rows"]] + [cells(doc["binaan_provinsi"]), cells(doc["binaan_nasional"])],
        totals=[cells(doc["jumlah"])],
        notes=[
            f"Baris per {_row_label(doc).lower()}: koperasi dengan kewenangan kabupaten/kota; Binaan "
            "Provinsi dan Binaan Nasional: koperasi dengan kewenangan provinsi dan nasional di wilayah ini. "
            "RAT: koperasi yang menyelenggarakan RAT pada tahun periode."
        ],
        sheet="Keragaan Koperasi",
    )


# ---------------------------------------------------------------- UMKM by skala

UMKM_HEADER = [
    "Skala Usaha",
    "Jumlah UMKM",
    "Modal Usaha (Rp)",
    "Hasil Penjualan/Omzet (Rp)",
    "Aset (Rp)",
    "Tenaga Kerja Jumlah",
    "Tenaga Kerja L",
    "Tenaga Kerja P",
    "Memiliki NIB",
    "Menggunakan Platform Digital",
]


def umkm_csv(doc: dict, c: CsvCells = DISPLAY) -> tuple[list[str], list[list]]:
    def cells(r):
        return [r["nama"]] + [
            c.angka(int(r[k]))
            for k in (
                "jumlah",
                "modal_usaha",
                "hasil_penjualan",
                "aset",
                "tenaga_kerja_jumlah",
                "tenaga_kerja_l",
                "tenaga_kerja_p",
                "punya_nib",
                "platform_digital",
            )
        ]

    return UMKM_HEADER, [cells(r) for r in doc["rows"]] + [cells(doc["jumlah"])]


def umkm_xlsx(doc: dict) -> xlsx.Table:
    C = xlsx.Column
    columns = [
        C("Skala Usaha", "text", width=18),
        C("Jumlah UMKM", width=12),
        C("Modal Usaha (Rp)", "rupiah", width=20),
        C("Hasil Penjualan/Omzet (Rp)", "rupiah", width=22),
        C("Aset (Rp)", "rupiah", width=20),
        C("Jumlah", group="Tenaga Kerja"),
        C("L", group="Tenaga Kerja"),
        C("P", group="Tenaga Kerja"),
        C("Memiliki NIB", width=12),
        C("Menggunakan Platform Digital", width=14),
    ]

    def cells(r):
        return [r["nama"]] + [
            r[k]
            for k in (
                "jumlah",
                "modal_usaha",
                "hasil_penjualan",
                "aset",
                "tenaga_kerja_jumlah",
                "tenaga_kerja_l",
                "tenaga_kerja_p",
                "punya_nib",
                "platform_digital",
            )
        ]

    return xlsx.Table(
        title="UMKM per Skala Usaha",
        lines=_lines(doc),
        columns=columns,
        rows=[cells(r) for r in doc["rows"]],
        totals=[cells(doc["jumlah"])],
        notes=[f"Usaha besar (di atas batas UMKM, tidak termasuk dalam tabel): {angka_id(doc['usaha_besar'])}."],
        sheet="UMKM",
    )


# ---------------------------------------------------------------- any grouping

_LABELS = {
    "jenis": "Jenis",
    "status": "Status",
    "kode_provinsi": "Kode Provinsi",
    "nama_provinsi": "Provinsi",
    "kode_kabkota": "Kode Kabupaten/Kota",
    "nama_kabkota": "Kabupaten/Kota",
    "kode_kecamatan": "Kode Kecamatan",
    "nama_kecamatan": "Kecamatan",
    "kode_desa": "Kode Desa/Kelurahan",
    "nama_desa": "Desa/Kelurahan",
    "skala_usaha": "Skala Usaha",
    "sektor": "Sektor (Kategori KBLI)",
    "kbli_golongan_pokok": "Golongan Pokok KBLI",
    "kbli": "KBLI",
    "status_tempat": "Status Tempat Usaha",
    "punya_nib": "Memiliki NIB",
    "platform_digital": "Platform Digital",
    "jenis_koperasi": "Jenis Koperasi",
    "kewenangan": "Kewenangan",
    "aktif": "Aktif",
    "kesehatan": "Kesehatan",
    "jumlah": "Jumlah",
    "aset": "Aset (Rp)",
    "modal_usaha": "Modal Usaha (Rp)",
    "hasil_penjualan": "Hasil Penjualan/Omzet (Rp)",
    "tenaga_kerja_l": "Tenaga Kerja L",
    "tenaga_kerja_p": "Tenaga Kerja P",
    "koperasi_aktif": "Koperasi Aktif",
    "anggota_l": "Anggota L",
    "anggota_p": "Anggota P",
    "manajer_l": "Manajer L",
    "manajer_p": "Manajer P",
    "karyawan_l": "Karyawan L",
    "karyawan_p": "Karyawan P",
    "modal_sendiri": "Modal Sendiri (Rp)",
    "modal_luar": "Modal Luar (Rp)",
    "volume_usaha": "Volume Usaha (Rp)",
    "shu": "SHU (Rp)",
}
_LABELS.update(usaha_punya_nib="Usaha Memiliki NIB", usaha_platform_digital="Usaha dengan Platform Digital")


def _dim_columns(doc: dict) -> list[str]:
    """The grouping columns of an agregat table: each dimension, a wilayah code followed by
    its name."""
    cols: list[str] = []
    for d in doc["by"]:
        cols.append(d)
        if d in WILAYAH_DIMS:
            cols.append(WILAYAH_DIMS[d])
    return cols


def _dim_cell(v, c: CsvCells = DISPLAY) -> str:
    if v is None:
        return c.nilai(None, "-")
    if isinstance(v, bool):
        return c.ya_tidak(v)
    return str(v)


def agregat_csv(doc: dict, c: CsvCells = DISPLAY) -> tuple[list[str], list[list]]:
    dim_cols = _dim_columns(doc)
    measure_cols = list(doc["jumlah"])
    header = [_LABELS[k] for k in dim_cols] + [_LABELS[k] for k in measure_cols]
    rows = [[_dim_cell(r[k], c) for k in dim_cols] + [c.angka(int(r[k])) for k in measure_cols] for r in doc["rows"]]
    rows.append(["Jumlah"] + [""] * (len(dim_cols) - 1) + [c.angka(int(doc["jumlah"][k])) for k in measure_cols])
    return header, rows


# Measures counted by sex: one header (the group) over L and P.
_GROUP_LP = {"tenaga_kerja": "Tenaga Kerja", "anggota": "Anggota", "manajer": "Manajer", "karyawan": "Karyawan"}


def agregat_xlsx(doc: dict) -> xlsx.Table:
    C = xlsx.Column
    kinds = queries.measures_for(doc["jenis"])
    dim_cols = _dim_columns(doc)
    measure_cols = list(doc["jumlah"])
    columns = [C(_LABELS[c], "text", width=28 if c.startswith("nama_") else 16) for c in dim_cols]
    for m in measure_cols:
        stem, _, sex = m.rpartition("_")
        if stem in _GROUP_LP and sex in ("l", "p"):
            columns.append(C(sex.upper(), group=_GROUP_LP[stem], width=10))
        else:
            columns.append(C(_LABELS[m], "rupiah" if kinds[m][1] == "uang" else "angka", width=18))

    rows = [[_dim_cell(r[c]) for c in dim_cols] + [r[m] for m in measure_cols] for r in doc["rows"]]
    total = ["Jumlah"] + [None] * (len(dim_cols) - 1) + [doc["jumlah"][m] for m in measure_cols]
    lines = _lines(doc)
    if doc["jenis"]:
        lines[1] += f"; jenis {doc['jenis']}"
    return xlsx.Table(
        title="Agregat PL-KUMKM per " + ", ".join(_LABELS[d] for d in doc["by"]),
        lines=lines,
        columns=columns,
        rows=rows,
        totals=[total],
        sheet="Agregat",
    )

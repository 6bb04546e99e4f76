"""The entity list of a wilayah as a download: the CSV layouts (`format=csv` for people,
`csv-data` for programs) and the workbook (`format=xlsx`) of the document
app.registry.router builds; served through app.reporting.response.report_response."""

from __future__ import annotations

import datetime as dt

from app.record.reference import WIB
from app.reporting import xlsx
from app.reporting.reports import DISPLAY, CsvCells

HEADER = [
    "No",
    "ID KUMKM",
    "Jenis",
    "Nama",
    "Kode Provinsi",
    "Kode Kabupaten/Kota",
    "Skala Usaha",
    "NIB",
    "NIK Koperasi",
    "Nomor Badan Hukum",
    "Periode",
    "Jumlah Rekaman",
    "Versi",
]


def _cells(i: int, e: dict) -> list:
    p = e["pengenal"]
    return [
        i,
        e["id_kumkm"],
        e["jenis"],
        e["nama"] or "",
        e["kode_provinsi"],
        e["kode_kabkota"],
        e["skala_usaha"] or "",
        "; ".join(p.get("nib", [])),
        "; ".join(p.get("nik_koperasi", [])),
        "; ".join(p.get("nomor_badan_hukum", [])),
        ", ".join(e["periode"]),
        e["jumlah_rekaman"],
        e["versi"],
    ]


def entitas_csv(doc: dict, c: CsvCells = DISPLAY) -> tuple[list[str], list[list]]:
    rows = []
    for i, e in enumerate(doc["items"], 1):
        cells = _cells(i, e)
        cells[0] = str(i)
        cells[-2], cells[-1] = c.angka(e["jumlah_rekaman"]), c.angka(e["versi"])
        rows.append(cells)
    return list(HEADER), rows


def entitas_xlsx(doc: dict) -> xlsx.Table:
    C = xlsx.Column
    columns = [
        C("No", width=6),
        C("ID KUMKM", "text", width=14),
        C("Jenis", "text", width=10),
        C("Nama", "text", width=32),
        C("Kode Provinsi", "text", width=9),
        C("Kode Kabupaten/Kota", "text", width=11),
        C("Skala Usaha", "text", width=11),
        C("NIB", "text", width=16),
        C("NIK Koperasi", "text", width=18),
        C("Nomor Badan Hukum", "text", width=22),
        C("Periode", "text", width=14),
        C("Jumlah Rekaman"),
        C("Versi"),
    ]
    wilayah = doc["wilayah"] or "Nasional"
    lines = [f"Wilayah: {wilayah}; jenis: {doc['jenis'] or 'umkm dan koperasi'}", f"Keadaan data per {xlsx.waktu(dt.datetime.now(WIB))}"]
    return xlsx.Table(
        "Entitas KUMKM (Basis Data Tunggal)", lines, columns, [_cells(i, e) for i, e in enumerate(doc["items"], 1)], sheet="Entitas"
    )

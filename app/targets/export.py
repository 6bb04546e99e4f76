"""The capaian pendataan table as downloads: its CSV layouts (`format=csv` for people,
`csv-data` for programs) and its workbook (`format=xlsx`), from the document
app.targets.service.capaian builds. The router picks one through
app.reporting.response.report_response."""

from __future__ import annotations

import datetime as dt

from app.record.reference import WIB
from app.reporting import xlsx
from app.reporting.reports import DISPLAY, CsvCells, angka_id
from app.targets.schemas import TINGKAT

ROW_LABEL = {1: "Provinsi", 2: "Kabupaten/Kota", 3: "Kecamatan", 4: "Desa/Kelurahan"}

CAPAIAN_HEADER = [
    "No",
    "Kode",
    "{wilayah}",
    "Target",
    "Data Masuk",
    "Belum Diverifikasi",
    "Diterima",
    "Ditolak",
    "Total Terverifikasi",
    "Masuk vs Target",
    "Diterima vs Target",
    "Diterima vs Masuk",
]


def capaian_csv(doc: dict, c: CsvCells = DISPLAY) -> tuple[list[str], list[list]]:
    """The capaian table for `format=csv` (as printed) or `format=csv-data` (the JSON's numbers)."""
    level = TINGKAT.index(doc["tingkat"]) + 1
    header = [h.replace("{wilayah}", ROW_LABEL[level]) for h in CAPAIAN_HEADER]

    def cells(no, r):
        p = r["persen"]
        return [
            no,
            r["kode"] or "",
            r["nama"],
            c.angka(r["target"]),
            c.angka(r["masuk"]),
            c.angka(r["belum_diverifikasi"]),
            c.angka(r["diterima"]),
            c.angka(r["ditolak"]),
            c.angka(r["total_terverifikasi"]),
            c.rasio(r["masuk_vs_target"], p["masuk_vs_target"]),
            c.rasio(r["diterima_vs_target"], p["diterima_vs_target"]),
            c.rasio(r["diterima_vs_masuk"], p["diterima_vs_masuk"]),
        ]

    body = [cells(str(i), r) for i, r in enumerate(doc["rows"], 1)]
    body.append(cells("", doc["jumlah"]))
    return header, body


def capaian_xlsx(doc: dict) -> xlsx.Table:
    """The capaian table as a workbook: the printed table's columns, ratios as percentages."""
    level = TINGKAT.index(doc["tingkat"]) + 1
    label = ROW_LABEL[level]
    C = xlsx.Column
    columns = [
        C("No", width=5),
        C("Kode", "text", width=14),
        C(label, "text", width=34),
        C("Target"),
        C("Data Masuk"),
        C("Belum Diverifikasi", width=13),
        C("Diterima", group="Hasil Verifikasi"),
        C("Ditolak", group="Hasil Verifikasi"),
        C("Total Terverifikasi", group="Hasil Verifikasi", width=13),
        C("Masuk vs Target", "rasio", group="Capaian"),
        C("Diterima vs Target", "rasio", group="Capaian"),
        C("Diterima vs Masuk", "rasio", group="Capaian"),
    ]

    def cells(no, r):
        return [
            no,
            r["kode"],
            r["nama"],
            r["target"],
            r["masuk"],
            r["belum_diverifikasi"],
            r["diterima"],
            r["ditolak"],
            r["total_terverifikasi"],
            xlsx.fraction(r["masuk"], r["target"]),
            xlsx.fraction(r["diterima"], r["target"]),
            xlsx.fraction(r["diterima"], r["masuk"]),
        ]

    wilayah = doc["wilayah"]
    nama = wilayah["nama"] if wilayah else "Nasional"
    notes = []
    own = doc["target_wilayah"]
    if doc["target_jumlah_dari"] == "wilayah":
        notes.append(
            f"Target baris Jumlah adalah target {nama} sendiri ({angka_id(own['target'])}, "
            f"{own['dasar_hukum']}): belum ada target per {label.lower()}."
        )
    elif own is not None:
        notes.append(
            f"Target {nama} sendiri: {angka_id(own['target'])} ({own['dasar_hukum']}); baris Jumlah "
            f"memakai jumlah target per {label.lower()}."
        )
    if doc["target_sebagian"]:
        n = sum(1 for r in doc["rows"] if r["target"] is None and r["masuk"])
        notes.append(
            f"{n} {label.lower()} yang sudah punya data masuk belum punya target: persentase baris "
            "Jumlah membandingkan semua data masuk dengan target sebagian."
        )
    return xlsx.Table(
        title="Capaian Pendataan PL-KUMKM",
        lines=[
            f"Wilayah: {nama}" + (f" ({wilayah['kode']})" if wilayah else ""),
            f"Periode: {doc['periode']}; baris per {label.lower()}",
            f"Target berlaku per {xlsx.tanggal(doc['as_of'])}; jumlah data per {xlsx.waktu(dt.datetime.now(WIB))}",
        ],
        columns=columns,
        rows=[cells(i, r) for i, r in enumerate(doc["rows"], 1)],
        totals=[cells(None, doc["jumlah"])],
        notes=notes,
        sheet="Capaian Pendataan",
    )

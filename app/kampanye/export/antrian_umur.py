"""The backlog's age as downloads (CSV for people and for programs, xlsx)."""

from __future__ import annotations

from typing import Any

from app.kampanye.export.kemajuan import desimal_id
from app.record.reference import WIB
from app.reporting import xlsx
from app.reporting.reports import DISPLAY, CsvCells, angka_id

HEADER = [
    "No",
    "Kode",
    "Kabupaten/Kota",
    "Zona",
    "Belum Diverifikasi",
    "Median Tunggu (hari)",
    "P90 Tunggu (hari)",
    "Terlama (hari)",
    "Menunggu Sejak",
    "Lewat Ambang",
]


def _cells(no: Any, kode: str, nama: str, zona: str, r: dict[str, Any], c: CsvCells) -> list[Any]:
    sejak = r["terlama_sejak"]
    return [
        no,
        kode,
        nama,
        zona,
        c.angka(r["belum_diverifikasi"]),
        c.nilai(r["median_hari"], desimal_id(r["median_hari"])),
        c.nilai(r["p90_hari"], desimal_id(r["p90_hari"])),
        c.nilai(r["terlama_hari"], desimal_id(r["terlama_hari"])),
        ("" if sejak is None else sejak.isoformat()) if c.data else ("-" if sejak is None else xlsx.waktu(sejak.astimezone(WIB))),
        c.angka(r["lewat_ambang"]),
    ]


def umur_csv(doc: dict[str, Any], c: CsvCells = DISPLAY) -> tuple[list[str], list[list[Any]]]:
    header = [h if h != "Lewat Ambang" else f"Lewat {doc['ambang_hari']} Hari" for h in HEADER]
    rows = [_cells(i, r["kode"], r["nama"], r["zona"], r, c) for i, r in enumerate(doc["rows"], 1)]
    rows.append(_cells("", "", "Jumlah", "", doc["jumlah"], c))
    return header, rows


def umur_xlsx(doc: dict[str, Any]) -> xlsx.Table:
    C = xlsx.Column
    columns = [
        C("No", width=5),
        C("Kode", "text", width=10),
        C("Kabupaten/Kota", "text", width=30),
        C("Zona", "text", width=7),
        C("Belum Diverifikasi", width=13),
        C("Median", "desimal", group="Lama Menunggu (hari)"),
        C("P90", "desimal", group="Lama Menunggu (hari)"),
        C("Terlama", "desimal", group="Lama Menunggu (hari)"),
        C("Menunggu Sejak", "text", width=20),
        C(f"Lewat {doc['ambang_hari']} Hari", width=12),
    ]

    def cells(no: Any, r: dict[str, Any], kode: str | None, nama: str, zona: str | None) -> list[Any]:
        sejak = r["terlama_sejak"]
        return [
            no,
            kode,
            nama,
            zona,
            r["belum_diverifikasi"],
            r["median_hari"],
            r["p90_hari"],
            r["terlama_hari"],
            None if sejak is None else xlsx.waktu(sejak.astimezone(WIB)),
            r["lewat_ambang"],
        ]

    w = doc["wilayah"]
    return xlsx.Table(
        title="Umur Antrian Verifikasi PL-KUMKM",
        lines=[
            f"Wilayah: {w['nama']} ({w['kode']})" if w else "Wilayah: Nasional",
            f"Periode {doc['periode']}; dihitung pada {xlsx.waktu(doc['pada'].astimezone(WIB))}; "
            f"ambang {angka_id(doc['ambang_hari'])} hari",
        ],
        columns=columns,
        rows=[cells(i, r, r["kode"], r["nama"], r["zona"]) for i, r in enumerate(doc["rows"], 1)],
        totals=[cells(None, doc["jumlah"], None, "Jumlah", None)],
        notes=["Lama menunggu dihitung sejak rekaman masuk antrian (tiba, atau dikoreksi sesudah ditolak)."],
        sheet="Umur Antrian",
    )

"""Progress as downloads: the daily table (`tabel=harian`) and the child wilayah behind pace
(`tabel=anak`), each as the display CSV, the CSV for programs and a workbook."""

from __future__ import annotations

from typing import Any

from app.reporting import xlsx
from app.reporting.reports import DISPLAY, CsvCells, angka_id

MENURUT = {"tangkap": "tanggal tangkap (pencacahan)", "terima": "tanggal diterima server"}
PROYEKSI = {"tercapai": "tercapai", "tepat_waktu": "tepat waktu", "terlambat": "terlambat", "tidak_diketahui": "tidak diketahui"}
ALASAN = {"tanpa_target": "tanpa target", "tanpa_batas_waktu": "tanpa batas waktu", "tanpa_laju": "belum ada laju"}


def desimal_id(s: str | None) -> str:
    """ "1234.57" -> "1.234,57" (Indonesian format); None -> "-"."""
    if s is None:
        return "-"
    whole, _, frac = s.partition(".")
    sign = "-" if whole.startswith("-") else ""
    return f"{sign}{angka_id(abs(int(whole)))},{frac}" if frac else f"{sign}{angka_id(abs(int(whole)))}"


def _tanggal(d: Any, c: CsvCells) -> str:
    if d is None:
        return "" if c.data else "-"
    return d.isoformat() if c.data else xlsx.tanggal(d)


def _proyeksi(p: dict[str, Any], c: CsvCells) -> list[str]:
    if c.data:
        return [p["status"], "" if p["tanggal"] is None else p["tanggal"].isoformat(), p["alasan"] or ""]
    status = PROYEKSI[p["status"]] + (f" ({ALASAN[p['alasan']]})" if p["alasan"] else "")
    return [status, _tanggal(p["tanggal"], c), ""]


HARIAN_HEADER = [
    "Tanggal",
    "Data Masuk",
    "Diterima",
    "Ditolak",
    "Belum Diverifikasi",
    "Kumulatif Masuk",
    "Kumulatif Diterima",
    "Kumulatif Ditolak",
    "Target",
]


def _nama(doc: dict[str, Any]) -> str:
    w = doc["wilayah"]
    return f"{w['nama']} ({w['kode']})" if w else "Nasional"


def harian_csv(doc: dict[str, Any], c: CsvCells = DISPLAY) -> tuple[list[str], list[list[Any]]]:
    rows = [
        [
            _tanggal(h["hari"], c),
            c.angka(h["masuk"]),
            c.angka(h["diterima"]),
            c.angka(h["ditolak"]),
            c.angka(h["belum_diverifikasi"]),
            c.angka(h["kumulatif_masuk"]),
            c.angka(h["kumulatif_diterima"]),
            c.angka(h["kumulatif_ditolak"]),
            c.angka(h["target"]),
        ]
        for h in doc["harian"]
    ]
    return HARIAN_HEADER, rows


ANAK_HEADER = [
    "No",
    "Kode",
    "Wilayah",
    "Zona",
    "Target",
    "Batas Waktu",
    "Data Masuk",
    "Masuk vs Target",
    "Laju 7 Hari",
    "Laju 14 Hari",
    "Laju Dibutuhkan",
    "Laju 7 Hari vs Dibutuhkan",
    "Sisa Target",
    "Proyeksi",
    "Tanggal Proyeksi",
    "Alasan",
]


def anak_csv(doc: dict[str, Any], c: CsvCells = DISPLAY) -> tuple[list[str], list[list[Any]]]:
    def d(s: str | None) -> Any:
        return c.nilai(s, desimal_id(s))

    rows = []
    for i, a in enumerate(doc["anak"], 1):
        rows.append(
            [
                i,
                a["kode"],
                a["nama"],
                a["zona"],
                c.angka(a["target"]),
                _tanggal(a["batas_waktu"], c),
                c.angka(a["masuk"]),
                c.rasio(a["masuk_vs_target"], a["persen_masuk_vs_target"]),
                d(a["laju_7_hari"]),
                d(a["laju_14_hari"]),
                d(a["laju_dibutuhkan"]),
                c.rasio(a["rasio_laju"], _persen_of(a["rasio_laju"])),
                c.angka(a["sisa_target"]),
                *_proyeksi(a["proyeksi"], c),
            ]
        )
    header = ANAK_HEADER if c.data else ANAK_HEADER[:-1]
    return header, rows if c.data else [r[:-1] for r in rows]


def _persen_of(r: str | None) -> str | None:
    """An 8-place ratio string as an Indonesian percentage with 2 decimals ("0.87654321" -> "87,65%")."""
    if r is None:
        return None
    whole, _, frac = r.partition(".")
    scaled = int(whole + frac)  # the ratio times 10^8
    hundredths = (scaled + 5_000) // 10_000  # the ratio in hundredths of a percent, half-up
    w, f = divmod(hundredths, 100)
    return f"{angka_id(w)},{f:02d}%"


def _lines(doc: dict[str, Any]) -> list[str]:
    t = doc["target"]
    return [
        f"Wilayah: {_nama(doc)}; periode {doc['periode']}; hari menurut {MENURUT[doc['menurut']]}, zona "
        + (doc["zona"] or "masing-masing provinsi"),
        f"Rentang {xlsx.tanggal(doc['dari'])} s.d. {xlsx.tanggal(doc['sampai'])}; target {angka_id(t['target'])}"
        + (f", batas waktu {xlsx.tanggal(t['batas_waktu'])}" if t["batas_waktu"] else ", tanpa batas waktu"),
    ]


def harian_xlsx(doc: dict[str, Any]) -> xlsx.Table:
    C = xlsx.Column
    columns = [
        C("Tanggal", "text", width=12),
        C("Data Masuk", group="Harian"),
        C("Diterima", group="Harian"),
        C("Ditolak", group="Harian"),
        C("Belum Diverifikasi", group="Harian", width=13),
        C("Masuk", group="Kumulatif"),
        C("Diterima", group="Kumulatif"),
        C("Ditolak", group="Kumulatif"),
        C("Target"),
    ]
    rows = [
        [
            xlsx.tanggal(h["hari"]),
            h["masuk"],
            h["diterima"],
            h["ditolak"],
            h["belum_diverifikasi"],
            h["kumulatif_masuk"],
            h["kumulatif_diterima"],
            h["kumulatif_ditolak"],
            h["target"],
        ]
        for h in doc["harian"]
    ]
    return xlsx.Table(title="Kemajuan Pendataan PL-KUMKM per Hari", lines=_lines(doc), columns=columns, rows=rows, sheet="Kemajuan Harian")


def anak_xlsx(doc: dict[str, Any]) -> xlsx.Table:
    C = xlsx.Column
    columns = [
        C("No", width=5),
        C("Kode", "text", width=10),
        C("Wilayah", "text", width=30),
        C("Zona", "text", width=7),
        C("Target"),
        C("Batas Waktu", "text", width=12),
        C("Data Masuk"),
        C("Masuk vs Target", "rasio"),
        C("7 Hari", "desimal", group="Laju per Hari"),
        C("14 Hari", "desimal", group="Laju per Hari"),
        C("Dibutuhkan", "desimal", group="Laju per Hari"),
        C("7 Hari vs Dibutuhkan", "rasio", width=14),
        C("Sisa Target"),
        C("Proyeksi", "text", width=24),
        C("Tanggal Proyeksi", "text", width=12),
    ]
    rows = []
    for i, a in enumerate(doc["anak"], 1):
        status, tanggal, _ = _proyeksi(a["proyeksi"], DISPLAY)
        rows.append(
            [
                i,
                a["kode"],
                a["nama"],
                a["zona"],
                a["target"],
                xlsx.tanggal(a["batas_waktu"]) if a["batas_waktu"] else None,
                a["masuk"],
                xlsx.fraction(a["masuk"], a["target"]),
                a["laju_7_hari"],
                a["laju_14_hari"],
                a["laju_dibutuhkan"],
                a["rasio_laju"],
                a["sisa_target"],
                status,
                None if tanggal == "-" else tanggal,
            ]
        )
    return xlsx.Table(
        title="Kemajuan Pendataan PL-KUMKM: Wilayah Paling Tertinggal",
        lines=_lines(doc),
        columns=columns,
        rows=rows,
        notes=["Urut dari yang paling tertinggal dari laju yang dibutuhkan untuk mencapai target pada batas waktu."],
        sheet="Wilayah Tertinggal",
    )

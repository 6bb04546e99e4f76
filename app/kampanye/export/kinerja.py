"""The enumerator table as downloads: `format=csv` (for people), `csv-data` (for programs) and
`xlsx`, from the document app.kampanye.service.kinerja builds (every enumerator, not a page)."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from app.core.timefmt import utc_text
from app.kampanye.service.kinerja import ALASAN_KODE, ATURAN, TANDA_LABEL, jeda_teks, tanda_teks
from app.reporting import xlsx
from app.reporting.reports import DISPLAY, CsvCells

_ALASAN_JUDUL = ALASAN_KODE

HEADER = [
    "No",
    "Enumerator",
    "Kabupaten/Kota",
    "Data Masuk",
    "Belum Diverifikasi",
    "Diterima",
    "Ditolak",
    "Tingkat Tolak",
    "Tingkat Tolak Wilayahnya",
    *(f"Ditolak: {v}" for v in _ALASAN_JUDUL.values()),
    "Median Jeda Rekam-Kirim",
    "Hari Aktif",
    "Hari Terakhir",
    "Terakhir Terlihat (UTC)",
    f"Terpadat {ATURAN['rekaman_beruntun']['menit']} Menit",
    "NIK Sama Terbanyak",
    "Tanda",
]


def _tanggal(d: dt.date | None) -> str:
    return "-" if d is None else xlsx.tanggal(d)


def _waktu(t: dt.datetime | None) -> str:
    return "-" if t is None else t.astimezone(dt.UTC).strftime("%d/%m/%Y %H:%M")


def kinerja_csv(doc: dict[str, Any], c: CsvCells = DISPLAY) -> tuple[list[str], list[list[Any]]]:
    body = []
    for no, r in enumerate(doc["items"], 1):
        body.append(
            [
                no,
                r["enumerator_id"],
                " ".join(r["kode_kabkota"]),
                c.angka(r["masuk"]),
                c.angka(r["belum_diverifikasi"]),
                c.angka(r["diterima"]),
                c.angka(r["ditolak"]),
                c.rasio(r["tingkat_tolak"], r["persen"]["tingkat_tolak"]),
                c.rasio(r["tingkat_tolak_wilayah"], r["persen"]["tingkat_tolak_wilayah"]),
                *(c.angka(r["alasan"][k]) for k in ALASAN_KODE),
                c.nilai(r["jeda_median_detik"], jeda_teks(r["jeda_median_detik"])),
                c.angka(r["hari_aktif"]),
                c.nilai(None if r["hari_terakhir"] is None else r["hari_terakhir"].isoformat(), _tanggal(r["hari_terakhir"])),
                c.nilai(None if r["terakhir_terlihat"] is None else utc_text(r["terakhir_terlihat"]), _waktu(r["terakhir_terlihat"])),
                c.angka(r["rekaman_terpadat"]),
                c.angka(r["nik_terbanyak"]),
                " ".join(r["tanda"]) if c.data else (tanda_teks(r["tanda"]) or "-"),
            ]
        )
    header = list(HEADER)
    if c.data:
        header[header.index("Median Jeda Rekam-Kirim")] = "Median Jeda Rekam-Kirim (detik)"
    return header, body


def _jam(detik: int | None) -> Decimal | None:
    """Seconds as hours with two decimals, rounded down (a workbook sums and sorts numbers)."""
    if detik is None:
        return None
    return (Decimal(detik) / 3600).quantize(Decimal("0.01"), rounding=ROUND_FLOOR)


def kinerja_xlsx(doc: dict[str, Any]) -> xlsx.Table:
    C = xlsx.Column
    columns = [
        C("No", width=5),
        C("Enumerator", "text", width=18),
        C("Kabupaten/Kota", "text", width=14),
        C("Data Masuk"),
        C("Belum Diverifikasi", width=13),
        C("Diterima", group="Hasil Verifikasi"),
        C("Ditolak", group="Hasil Verifikasi"),
        C("Tingkat Tolak", "rasio", group="Hasil Verifikasi"),
        C("Tingkat Tolak Wilayahnya", "rasio", group="Hasil Verifikasi", width=14),
        *(C(v, group="Alasan Ditolak", width=13) for v in _ALASAN_JUDUL.values()),
        C("Median Jeda Rekam-Kirim (jam)", "desimal", width=14),
        C("Hari Aktif"),
        C("Hari Terakhir", "text", width=12),
        C("Terakhir Terlihat (UTC)", "text", width=17),
        C(f"Terpadat {ATURAN['rekaman_beruntun']['menit']} Menit", width=12),
        C("NIK Sama Terbanyak", width=12),
        C("Tanda", "text", width=40),
    ]

    def fraction(text: str | None):
        if text is None:
            return None
        return Decimal(text)

    rows = [
        [
            no,
            r["enumerator_id"],
            " ".join(r["kode_kabkota"]),
            r["masuk"],
            r["belum_diverifikasi"],
            r["diterima"],
            r["ditolak"],
            xlsx.fraction(r["ditolak"], r["diterima"] + r["ditolak"]),
            fraction(r["tingkat_tolak_wilayah"]),
            *(r["alasan"][k] for k in ALASAN_KODE),
            _jam(r["jeda_median_detik"]),
            r["hari_aktif"],
            _tanggal(r["hari_terakhir"]),
            _waktu(r["terakhir_terlihat"]),
            r["rekaman_terpadat"],
            r["nik_terbanyak"],
            tanda_teks(r["tanda"]),
        ]
        for no, r in enumerate(doc["items"], 1)
    ]
    wilayah = doc["wilayah"]
    j = doc["jumlah"]
    return xlsx.Table(
        title="Kinerja Enumerator PL-KUMKM",
        lines=[
            (f"Wilayah: {wilayah['nama']} ({wilayah['kode']})" if wilayah else "Wilayah: rekaman kunci ini"),
            f"Periode: {doc['periode']}; {j['enumerator']} enumerator, {j['masuk']} data masuk",
        ],
        columns=columns,
        rows=rows,
        notes=[
            "Tingkat tolak = ditolak / (diterima + ditolak). Tingkat tolak wilayahnya: tingkat tolak kabupaten/kota "
            "tempat rekamannya, ditimbang jumlah rekamannya yang sudah diputus di tiap kabupaten/kota.",
            "Hari aktif: hari rekam yang berbeda, menurut zona waktu provinsi rekaman (WIB, WITA, WIT).",
            *(f"Tanda {TANDA_LABEL[k]} ({k})." for k in TANDA_LABEL),
        ],
    )

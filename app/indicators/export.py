"""The LKjIP table as downloads: its CSV layouts (`format=csv` for people, `csv-data` for
programs) and its workbook (`format=xlsx`), from the document app.indicators.service.lkjip
builds. The router picks one through app.reporting.response.report_response."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from app.indicators import angka
from app.indicators.service.access import NASIONAL
from app.record.reference import WIB
from app.reporting import xlsx
from app.reporting.reports import DISPLAY, CsvCells


def _fmt(v: str | None, satuan: str) -> str:
    return angka.format_id(None if v is None else Decimal(v), persen=satuan == "persen")


def _fmt_capaian(v: str | None) -> str:
    return angka.format_id(None if v is None else Decimal(v), 2, persen=True)


def lkjip_csv(doc: dict, c: CsvCells = DISPLAY) -> tuple[list[str], list[list]]:
    """The LKjIP table as a CSV with Indonesian headers: a row per sasaran (its
    capaian: the mean), then a row per indicator. Numbers in Indonesian format (`format=csv`),
    or as the JSON has them (`format=csv-data`: decimal strings, capaian in percent)."""

    def fmt(v: str | None, satuan: str) -> str:
        return c.nilai(v, _fmt(v, satuan))

    def fmt_capaian(v: str | None) -> str:
        return c.nilai(v, _fmt_capaian(v))

    def predikat(v: str | None) -> str:
        return c.nilai(v, v or "-")

    tahun = doc["tahun"]
    lalu = doc["tahun_sebelumnya"]
    header = [
        "No",
        "Tujuan",
        "Sasaran",
        "Kode indikator",
        "Indikator",
        "Satuan",
        "Polaritas",
        f"Target {tahun}",
        f"Realisasi {tahun}",
        f"Capaian {tahun}",
        f"Predikat {tahun}",
    ]
    for t in lalu:
        header += [f"Capaian {t}", f"Predikat {t}"]
    header += ["Tahun akhir Renstra", "Target akhir Renstra", "Capaian thd target akhir Renstra", "Predikat thd target akhir Renstra"]
    rows: list[list] = []
    for n, s in enumerate(doc["sasaran"], 1):
        tujuan = s["tujuan"]["nama"] if s["tujuan"] else ""
        row = [
            str(n),
            tujuan,
            s["nama"],
            "",
            "Capaian sasaran (rata-rata)",
            "",
            "",
            "",
            "",
            fmt_capaian(s["capaian_persen"]),
            predikat(s["predikat"]),
        ]
        for x in s["tahun_sebelumnya"]:
            row += [fmt_capaian(x["capaian_persen"]), predikat(x["predikat"])]
        row += ["", "", fmt_capaian(s["renstra"]["capaian_persen"]), predikat(s["renstra"]["predikat"])]
        rows.append(row)
        for m, i in enumerate(s["indikator"], 1):
            row = [
                f"{n}.{m}",
                tujuan,
                s["nama"],
                i["kode"],
                i["nama"],
                i["satuan"],
                i["polaritas"],
                fmt(i["target"], i["satuan"]),
                fmt(i["realisasi"], i["satuan"]),
                fmt_capaian(i["capaian_persen"]),
                predikat(i["predikat"]),
            ]
            for x in i["tahun_sebelumnya"]:
                row += [fmt_capaian(x["capaian_persen"]), predikat(x["predikat"])]
            r = i["renstra"]
            row += [str(r["tahun_akhir"]), fmt(r["target"], i["satuan"]), fmt_capaian(r["capaian_persen"]), predikat(r["predikat"])]
            rows.append(row)
    return header, rows


def _persen(v: str | None) -> Decimal | None:
    """A capaian in percent ("149.94...") as the fraction a percentage cell holds."""
    return None if v is None else Decimal(v) / 100


def lkjip_xlsx(doc: dict) -> xlsx.Table:
    """The LKjIP table as a workbook: the same rows as the CSV, targets and realisasi as numbers
    in the indicator's unit, capaian as percentages, each year's columns under one header."""
    C = xlsx.Column
    tahun = doc["tahun"]
    columns = [
        C("No", "text", width=6),
        C("Tujuan", "text", width=24),
        C("Sasaran", "text", width=28),
        C("Kode Indikator", "text", width=10),
        C("Indikator", "text", width=36),
        C("Satuan", "text", width=10),
        C("Polaritas", "text", width=9),
        C("Target", "desimal", group=f"Tahun {tahun}"),
        C("Realisasi", "desimal", group=f"Tahun {tahun}"),
        C("Capaian", "rasio", group=f"Tahun {tahun}"),
        C("Predikat", "text", group=f"Tahun {tahun}", width=14),
    ]
    for t in doc["tahun_sebelumnya"]:
        columns += [C("Capaian", "rasio", group=f"Tahun {t}"), C("Predikat", "text", group=f"Tahun {t}", width=14)]
    columns += [
        C("Tahun Akhir", "text", group="Target Akhir Renstra", width=8),
        C("Target", "desimal", group="Target Akhir Renstra"),
        C("Capaian", "rasio", group="Target Akhir Renstra"),
        C("Predikat", "text", group="Target Akhir Renstra", width=14),
    ]
    rows: list[list] = []
    bold: set[int] = set()
    for n, s in enumerate(doc["sasaran"], 1):
        tujuan = s["tujuan"]["nama"] if s["tujuan"] else None
        bold.add(len(rows))
        row = [
            str(n),
            tujuan,
            s["nama"],
            None,
            "Capaian sasaran (rata-rata)",
            None,
            None,
            None,
            None,
            _persen(s["capaian_persen"]),
            s["predikat"],
        ]
        for x in s["tahun_sebelumnya"]:
            row += [_persen(x["capaian_persen"]), x["predikat"]]
        row += [None, None, _persen(s["renstra"]["capaian_persen"]), s["renstra"]["predikat"]]
        rows.append(row)
        for m, i in enumerate(s["indikator"], 1):
            r = i["renstra"]
            row = [
                f"{n}.{m}",
                tujuan,
                s["nama"],
                i["kode"],
                i["nama"],
                i["satuan"],
                i["polaritas"],
                i["target"],
                i["realisasi"],
                _persen(i["capaian_persen"]),
                i["predikat"],
            ]
            for x in i["tahun_sebelumnya"]:
                row += [_persen(x["capaian_persen"]), x["predikat"]]
            row += [str(r["tahun_akhir"]), r["target"], _persen(r["capaian_persen"]), r["predikat"]]
            rows.append(row)
    w = doc["wilayah"]
    skala = doc["skala_predikat"]
    return xlsx.Table(
        title="Capaian Indikator Kinerja (LKjIP)",
        lines=[
            f"Wilayah: {w['nama']}" + ("" if w["kode"] == NASIONAL else f" ({w['kode']})"),
            f"Tahun: {tahun}",
            f"Target pendataan berlaku per {xlsx.tanggal(doc['as_of'])}; data per {xlsx.waktu(dt.datetime.now(WIB))}",
        ],
        columns=columns,
        rows=rows,
        bold_rows=bold,
        notes=[
            "Target dan realisasi dalam satuan indikator; capaian sasaran adalah rata-rata capaian "
            "indikatornya. Predikat menurut skala "
            + ("Permendagri 86/2017" if skala["berlaku_dari"] == "bawaan" else f"{skala['nama'] or 'wilayah'} ({skala['berlaku_dari']})")
            + "."
        ],
        sheet="LKjIP",
    )
